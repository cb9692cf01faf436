/* sweep/slurm.h: the Slurm backend: queued runs go out as one job array through sbatch; each
 * array task runs one trainer with its results in its run directory; the scheduler, the only
 * writer of the main database, collects finished tasks into it. */
#ifndef DLCM_SWEEP_SLURM_H
#define DLCM_SWEEP_SLURM_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *trainer;      /* absolute path of dlcm-train (as seen from the compute nodes) */
    const char *self;         /* absolute path of dlcm-sweep (runs the array tasks) */
    const char *runs_dir;     /* absolute; holds run directories and slurm/ (scripts, task lists, logs) */
    const char *partition;    /* NULL: the cluster's default */
    const char *time_limit;   /* NULL: the partition's default */
    int gpus_per_task;        /* 0: CPU tasks */
    int cpus_per_task;
    int max_parallel;         /* the array's %limit; 0: none */
    double poll_s;
    double stale_after_s;
    int max_attempts;
    FILE *status_out;
} SlurmOptions;

void slurm_options_default(SlurmOptions *opt);

/* Submits the sweep's queued runs (and resubmits retried ones) until no run is queued or
 * running; adopts tasks of an earlier scheduler that are still in Slurm's queue. Returns 0 when
 * every run ended done or diverged, 1 when some failed, 2 when interrupted, -1 with err. */
int slurm_run(sqlite3 *db, int64_t sweep_id, const char *sweep_name, const SlurmOptions *opt, char *err, int errlen);

/* The body of one array task: `dlcm-sweep slurm-task TASKS_FILE` with SLURM_ARRAY_TASK_ID set.
 * Runs the trainer for that line's run and writes slurm-result in its run directory. Returns the
 * process exit code. */
int slurm_task_main(const char *tasks_file);

#endif
