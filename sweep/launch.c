/* sweep/launch.c: preparing a run directory for the trainer and recording how the trainer
 * ended: shared by the local scheduler and the Slurm collector. */
#include "sweep/launch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sweep/proc.h"

void run_paths(const char *out_dir, RunPaths *p)
{
    snprintf(p->config, sizeof p->config, "%s/config.yaml", out_dir);
    snprintf(p->run_db, sizeof p->run_db, "%s/run.sqlite", out_dir);
    snprintf(p->stdout_log, sizeof p->stdout_log, "%s/stdout.log", out_dir);
    snprintf(p->stderr_log, sizeof p->stderr_log, "%s/stderr.log", out_dir);
    snprintf(p->lock, sizeof p->lock, "%s/.lock", out_dir);
    snprintf(p->slurm_job, sizeof p->slurm_job, "%s/slurm-job", out_dir);
    snprintf(p->slurm_result, sizeof p->slurm_result, "%s/slurm-result", out_dir);
}

int launch_prepare(sqlite3 *db, const char *run_id, const char *out_dir, char *err, int errlen)
{
    if (strlen(out_dir) > LAUNCH_RUN_DIR_MAX) {
        snprintf(err, errlen, "run directory of %zu characters (at most %d): %.80s...", strlen(out_dir),
                 LAUNCH_RUN_DIR_MAX, out_dir);
        return -1;
    }
    RunPaths paths;
    run_paths(out_dir, &paths);
    if (proc_mkdirs(out_dir, err, errlen)) return -1;
    struct stat st;
    if (stat(paths.config, &st) != 0) {
        char *config = NULL;
        if (sweeps_run_config(db, run_id, &config, err, errlen)) return -1;
        int rc = proc_write_file(paths.config, config, err, errlen);
        free(config);
        if (rc) return -1;
    }
    return sweeps_prepare_run_db(db, run_id, paths.run_db, err, errlen);
}

void launch_argv(const char *trainer, const char *run_id, const char *out_dir, const RunPaths *paths,
                 const char *device, const char *argv[12])
{
    int n = 0;
    argv[n++] = trainer;
    argv[n++] = paths->config;
    argv[n++] = "--out";
    argv[n++] = out_dir;
    argv[n++] = "--db";
    argv[n++] = paths->run_db;
    argv[n++] = "--run-id";
    argv[n++] = run_id;
    argv[n++] = "--device";
    argv[n++] = device;
    argv[n] = NULL;
}

int launch_finish(sqlite3 *db, const char *run_id, const char *out_dir, int status, int is_exit_code,
                  int max_attempts, char *final_status, int statuslen, char *err, int errlen)
{
    RunPaths paths;
    run_paths(out_dir, &paths);
    char how[160], tail[2048], error[1400];
    int exit_code = -1;
    if (is_exit_code) {
        exit_code = status;
        snprintf(how, sizeof how, "exit code %d", status);
    } else {
        proc_describe_status(status, how, sizeof how);
        if (WIFEXITED(status)) exit_code = WEXITSTATUS(status);
    }
    proc_file_tail(paths.stderr_log, tail, sizeof tail);

    if (exit_code == PROC_EXIT_LOCKED) {
        snprintf(final_status, statuslen, "locked");
        return sweeps_finish(db, run_id, "queued", "run directory locked by a live trainer; requeued", NULL,
                             max_attempts, err, errlen);
    }
    char trainer_status[32] = "", collect_err[512] = "";
    struct stat st;
    int have_db = stat(paths.run_db, &st) == 0;
    int collected = have_db && sweeps_collect(db, run_id, paths.run_db, trainer_status, sizeof trainer_status,
                                              collect_err, sizeof collect_err) == 0;
    const char *outcome;
    error[0] = '\0';
    int stopped_by_signal = exit_code == 128 + SIGINT || exit_code == 128 + SIGTERM || exit_code == 128 + SIGHUP ||
                            (!is_exit_code && WIFSIGNALED(status) &&
                             (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGHUP));
    if (strcmp(trainer_status, "diverged") == 0 || exit_code == TRAINER_EXIT_DIVERGED) {
        outcome = "diverged";
        snprintf(error, sizeof error, "diverged (trainer: %s)", how);
    } else if (stopped_by_signal && strcmp(trainer_status, "done") != 0) {
        /* Stopped from outside (a signal): it checkpointed; not the run's fault. */
        snprintf(final_status, statuslen, "interrupted");
        return sweeps_finish(db, run_id, "queued", NULL, tail, max_attempts, err, errlen);
    } else if (exit_code == 0) {
        double final_loss, initial_loss;
        if (!collected) {
            outcome = "failed";
            snprintf(error, sizeof error, "trainer exited 0 but its results could not be collected: %s",
                     have_db ? collect_err : "no run.sqlite");
        } else if (sweeps_run_losses(db, run_id, &final_loss, &initial_loss, err, errlen)) {
            return -1;
        } else if (isnan(final_loss)) {
            outcome = "failed";
            snprintf(error, sizeof error, "trainer exited 0 without recording a final loss");
        } else if (!isnan(initial_loss) && final_loss > initial_loss) {
            outcome = "diverged";
            snprintf(error, sizeof error, "final loss %.4g above initial %.4g", final_loss, initial_loss);
        } else {
            outcome = "done";
        }
    } else {
        outcome = "failed";
        snprintf(error, sizeof error, "trainer %s%s%s%s", how,
                 exit_code == TRAINER_EXIT_BAD_INPUT ? " (bad input: see the stderr tail)" : "",
                 collected || !have_db ? "" : "; collect: ", collected || !have_db ? "" : collect_err);
    }
    /* A config the trainer rejects fails the same way on every launch: no retry. */
    int attempts_allowed = exit_code == TRAINER_EXIT_BAD_INPUT ? 1 : max_attempts;
    if (sweeps_finish(db, run_id, outcome, error[0] ? error : NULL, strcmp(outcome, "done") ? tail : NULL,
                      attempts_allowed, err, errlen))
        return -1;
    /* A failure with attempts left went back to the queue. */
    char stored[32];
    if (sweeps_run_status(db, run_id, stored, sizeof stored, err, errlen)) return -1;
    snprintf(final_status, statuslen, "%s", strcmp(outcome, "failed") == 0 && strcmp(stored, "queued") == 0
                                                ? "failed (will retry)" : outcome);
    return 0;
}
