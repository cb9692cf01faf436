/* sweep/launch.h: what every backend does around one trainer process: its run directory, its
 * config file and own database, its argument list, and turning its exit into a run status
 * (collecting its results into the main database). */
#ifndef DLCM_SWEEP_LAUNCH_H
#define DLCM_SWEEP_LAUNCH_H

#include <signal.h>
#include <sqlite3.h>

#include "db/sweeps.h"
#include "engine/train/exit_codes.h" /* what the trainer's exit means */
#include "engine/train/config.h"

/* The longest run directory path: dlcm-train takes --out up to CONFIG_PATH_MAX - 1 characters,
 * and RunPaths holds the files in it. */
#define LAUNCH_RUN_DIR_MAX (CONFIG_PATH_MAX - 1)

/* Paths inside a run directory. */
typedef struct {
    char config[1100], run_db[1100], stdout_log[1100], stderr_log[1100], lock[1100];
    char slurm_job[1100], slurm_result[1100];
} RunPaths;

void run_paths(const char *out_dir, RunPaths *paths);

/* Makes the run directory, writes config.yaml from the database when missing, and creates the
 * run's own database seeded with its rows. 0, or -1 with err. */
int launch_prepare(sqlite3 *db, const char *run_id, const char *out_dir, char *err, int errlen);

/* The trainer's argv: TRAINER CONFIG --out DIR --db RUN_DB --run-id ID --device cpu|cuda
 * (NULL-terminated; the strings point into paths and the arguments). */
void launch_argv(const char *trainer, const char *run_id, const char *out_dir, const RunPaths *paths,
                 const char *device, const char *argv[12]);

/* The signal a trainer gets when its scheduler dies: SIGTERM, so it checkpoints its step and
 * exits (dlcm-train records the run as resumable); a restarted scheduler resumes it. */
#define LAUNCH_PARENT_DEATH_SIGNAL SIGTERM


/* Records the outcome of a finished trainer with wait status `status` (or exit code when
 * is_exit_code): collects its database, then done / diverged / failed (retried while attempts
 * remain) / queued (the run directory was locked, or the trainer was stopped by a signal: not an
 * attempt). *final_status gets what happened: done, diverged, failed, "failed (will retry)",
 * "locked" or "interrupted". 0, or -1 with err when the main database could not be updated. */
int launch_finish(sqlite3 *db, const char *run_id, const char *out_dir, int status, int is_exit_code,
                  int max_attempts, char *final_status, int statuslen, char *err, int errlen);

#endif
