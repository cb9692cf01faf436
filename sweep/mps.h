/* sweep/mps.h: the CUDA MPS control daemon around a packed local sweep: runs that share a GPU
 * execute concurrently under MPS instead of being time-sliced. Started and stopped here only. */
#ifndef DLCM_SWEEP_MPS_H
#define DLCM_SWEEP_MPS_H

#include <stdio.h>
#include <sys/types.h>

typedef struct {
    int started;                 /* 1: we started the daemon and stop it again */
    pid_t pid;                   /* the daemon as our child (-f), 0 when it forked away (-d) */
    char pipe_dir[64];           /* private CUDA_MPS_PIPE_DIRECTORY (set in our environment) */
    char log_dir[64];
} MpsDaemon;

/* Starts `nvidia-cuda-mps-control -f` as a child (`-d` where -f does not start) with private
 * pipe and log directories, waits for its control pipe, and exports the directories, so the
 * trainers started afterwards connect to it. Where the program is absent or does not
 * start, says so on `log` and leaves the environment as it was (runs are then time-sliced).
 * Returns 1 when the daemon runs, 0 when not. */
int mps_start(MpsDaemon *d, FILE *log);

/* Asks a daemon that mps_start started to quit, waits for our child to exit (up to 10 s, then
 * terminates it), and removes its directories. */
void mps_stop(MpsDaemon *d, FILE *log);

#endif
