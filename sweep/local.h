/* sweep/local.h: the local backend: one worker slot group per GPU (CUDA_VISIBLE_DEVICES), several
 * small runs packed on a GPU while their estimated memory fits, or CPU workers when there is no
 * GPU; heartbeats, stale-run requeueing and a live status line. */
#ifndef DLCM_SWEEP_LOCAL_H
#define DLCM_SWEEP_LOCAL_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#define LOCAL_MAX_DEVICES 64

typedef struct {
    const char *trainer;            /* path of dlcm-train */
    int n_gpus;                     /* 0: CPU backend */
    int gpu_ids[LOCAL_MAX_DEVICES];
    double gpu_mem_bytes[LOCAL_MAX_DEVICES]; /* 0: unknown (one run per GPU) */
    int max_per_gpu;                /* packing limit per GPU; 0: automatic, per run (sweep/packing.h) */
    int mps;                        /* 1 (default): CUDA MPS daemon while runs are packed (sweep/mps.h) */
    int cpu_workers;                /* concurrent runs on a CPU-only machine */
    double heartbeat_s;             /* how often running runs are marked alive */
    double stale_after_s;           /* a run not marked alive this long is requeued */
    int max_attempts;
    FILE *status_out;               /* live status line; NULL: none */
    double status_every_s;          /* status line period when status_out is not a terminal */
    double deadline_s;              /* > 0: stop cleanly this many seconds after the start */
    double stop_grace_s;            /* at the deadline, seconds a trainer gets to checkpoint before SIGKILL */
} LocalOptions;

void local_options_default(LocalOptions *opt);

/* Runs the sweep's queued runs until none is queued or running. Runs that fail are recorded
 * and never stop the sweep. SIGINT/SIGTERM stop it cleanly: trainers are stopped and their runs
 * requeued (they resume from their checkpoints next time). With a deadline, no run is started
 * that the throughput measured by finished runs says cannot end before it, and at the deadline
 * the trainers are stopped the same way (SIGKILL after stop_grace_s) and their runs requeued.
 * Returns 0 when every run ended done or diverged, 1 when some failed, 2 when interrupted, 3 when
 * stopped by the deadline with runs left, -1 with err on a database error. */
int local_run(sqlite3 *db, int64_t sweep_id, const char *sweep_name, const LocalOptions *opt, char *err, int errlen);

/* Finds GPUs with nvidia-smi (index and total memory); 0 when there is none or no nvidia-smi. */
int local_detect_gpus(int *ids, double *mem_bytes, int max);

/* Prints the status line of a sweep: "done 3 running 1 failed 0 diverged 0 queued 4 | 12.3k tok/s | ETA 2m10s". */
void local_format_status(const char *sweep_name, int done, int running, int failed, int diverged, int queued,
                         double tokens_per_s, double tokens_left, char *buf, int buflen);

#endif
