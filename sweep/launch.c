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

#include "engine/train/config.h"
#include "util/spawn.h"
#include "util/fs.h"

void run_paths(const char *out_dir, RunPaths *p)
{
    snprintf(p->config, sizeof p->config, "%s/" TRAIN_RUN_CONFIG_NAME, out_dir);
    snprintf(p->run_db, sizeof p->run_db, "%s/" TRAIN_RUN_DB_NAME, out_dir);
    snprintf(p->stdout_log, sizeof p->stdout_log, "%s/stdout.log", out_dir);
    snprintf(p->stderr_log, sizeof p->stderr_log, "%s/stderr.log", out_dir);
    snprintf(p->lock, sizeof p->lock, "%s/.lock", out_dir);
    snprintf(p->slurm_job, sizeof p->slurm_job, "%s/slurm-job", out_dir);
    snprintf(p->slurm_result, sizeof p->slurm_result, "%s/slurm-result", out_dir);
}

/* The id the planned config of a run hashes to. It is the run id for runs planned now; comparing
 * hashes rather than the stored id also checks runs a database kept from before the ids were the
 * trainer's. 0, or -1 with err. */
static int planned_hash(sqlite3 *db, const char *run_id, char id[17], char *err, int errlen)
{
    char *planned = NULL;
    if (sweeps_run_config(db, run_id, &planned, err, errlen)) return -1;
    int rc = config_text_run_id(planned, "the planned config", id, err, errlen);
    free(planned);
    return rc;
}

/* Whether the config file at path describes the planned run (it reads and hashes to planned). */
static int config_file_is_run(const char *path, const char *planned)
{
    char inner[512], id[17];
    size_t len;
    char *text = fs_read_file(path, CONFIG_FILE_MAX, &len, inner, sizeof inner);
    int same = text && strlen(text) == len && config_text_run_id(text, path, id, inner, sizeof inner) == 0 &&
               strcmp(id, planned) == 0;
    free(text);
    return same;
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
    if (fs_mkdirs(out_dir, err, errlen)) return -1;
    /* The planned config is written once; one that no longer describes this run (cut short by a
     * crash of an older version, or edited) is replaced, so the trainer never trains another run
     * under this id. */
    char planned[17];
    if (planned_hash(db, run_id, planned, err, errlen)) return -1;
    struct stat st;
    if (stat(paths.config, &st) != 0 || !config_file_is_run(paths.config, planned)) {
        char *config = NULL;
        if (sweeps_run_config(db, run_id, &config, err, errlen)) return -1;
        int rc = fs_write_text_atomic(paths.config, config, err, errlen);
        free(config);
        if (rc) return -1;
    }
    return sweeps_prepare_run_db(db, run_id, paths.run_db, err, errlen);
}

/* Whether the trainer trained the planned run: the config it recorded in its database hashes as
 * the planned one does. 1 yes, 0 no (why in why), -1 nothing to compare (err says why). */
static int trainer_trained_planned_run(sqlite3 *db, const char *run_db_path, const char *run_id, char *why,
                                       int whylen)
{
    char *reported = NULL, inner[512], id[17], planned[17];
    if (planned_hash(db, run_id, planned, why, whylen)) return -1;
    if (sweeps_trainer_config(run_db_path, run_id, &reported, inner, sizeof inner)) return -1;
    int rc = config_text_run_id(reported, "the trainer's recorded config", id, inner, sizeof inner);
    free(reported);
    if (rc) {
        snprintf(why, whylen, "the trainer's recorded config cannot be read (%.300s)", inner);
        return 0;
    }
    if (strcmp(id, planned) != 0) {
        snprintf(why, whylen, "the trainer trained run %s, not the planned %s (its config differs from the plan)",
                 id, planned);
        return 0;
    }
    return 1;
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
        spawn_describe_status(status, how, sizeof how);
        if (WIFEXITED(status)) exit_code = WEXITSTATUS(status);
    }
    fs_read_tail(paths.stderr_log, tail, sizeof tail);

    if (exit_code == SPAWN_EXIT_LOCKED) {
        snprintf(final_status, statuslen, "locked");
        return sweeps_finish(db, run_id, "queued", "run directory locked by a live trainer; requeued", NULL,
                             max_attempts, err, errlen);
    }
    char trainer_status[32] = "", collect_err[512] = "", mismatch[400];
    struct stat st;
    int have_db = stat(paths.run_db, &st) == 0;
    /* Results of a model other than the planned one are never recorded under its id. */
    if (have_db && trainer_trained_planned_run(db, paths.run_db, run_id, mismatch, sizeof mismatch) == 0) {
        snprintf(final_status, statuslen, "failed");
        /* The live view may have copied its curve while it ran. */
        if (sweeps_discard_results(db, run_id, err, errlen)) return -1;
        return sweeps_finish(db, run_id, "failed", mismatch, tail, 1, err, errlen);
    }
    int collected = have_db && sweeps_collect(db, run_id, paths.run_db, trainer_status, sizeof trainer_status,
                                              collect_err, sizeof collect_err) == 0;
    const char *outcome;
    error[0] = '\0';
    int stopped_by_signal = exit_code == 128 + SIGINT || exit_code == 128 + SIGTERM || exit_code == 128 + SIGHUP ||
                            (!is_exit_code && WIFSIGNALED(status) &&
                             (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGHUP));
    if (strcmp(trainer_status, "diverged") == 0 || exit_code == TRAIN_EXIT_DIVERGED) {
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
                     have_db ? collect_err : "no " TRAIN_RUN_DB_NAME);
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
                 exit_code == TRAIN_EXIT_BAD_INPUT ? " (bad input: see the stderr tail)" : "",
                 collected || !have_db ? "" : "; collect: ", collected || !have_db ? "" : collect_err);
    }
    /* A config the trainer rejects fails the same way on every launch: no retry. */
    int attempts_allowed = exit_code == TRAIN_EXIT_BAD_INPUT ? 1 : max_attempts;
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
