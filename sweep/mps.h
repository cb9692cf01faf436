/* sweep/mps.h: the CUDA MPS control daemon around a packed local sweep: runs that share a GPU
 * execute concurrently under MPS instead of being time-sliced. Started and stopped here only. */
#ifndef DLCM_SWEEP_MPS_H
#define DLCM_SWEEP_MPS_H

#include <stdio.h>

typedef struct {
    int started;                 /* 1: we started the daemon and stop it again */
    char pipe_dir[64];           /* private CUDA_MPS_PIPE_DIRECTORY (set in our environment) */
    char log_dir[64];
} MpsDaemon;

/* Starts `nvidia-cuda-mps-control -d` with private pipe and log directories and exports them,
 * so the trainers started afterwards connect to it. Where the program is absent or does not
 * start, says so on `log` and leaves the environment as it was (runs are then time-sliced).
 * Returns 1 when the daemon runs, 0 when not. */
int mps_start(MpsDaemon *d, FILE *log);

/* Asks a daemon that mps_start started to quit, and removes its directories. */
void mps_stop(MpsDaemon *d, FILE *log);

#endif
