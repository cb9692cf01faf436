/* tests/test_sweep_slurm.c: the Slurm backend against a real single-node cluster on localhost
 * (sweep/slurm/ci-setup starts one): a job array whose results are collected into the database,
 * a retried failure, a diverged run, and a scheduler killed while its tasks run that adopts them
 * on restart instead of submitting them twice. Skips, saying why, when there is no cluster. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/shape.h"
#include "sweep/proc.h"
#include "sweep/testing/test_util.h"

/* Why Slurm cannot be used here, or NULL when it can. */
static const char *slurm_unavailable(void)
{
    char out[4096], err[256];
    const char *sbatch[] = {"sbatch", "--version", NULL};
    if (proc_capture(sbatch, out, sizeof out, err, sizeof err) != 0)
        return "sbatch not found: install munge slurmctld slurmd slurm-client and run sweep/slurm/ci-setup";
    const char *sinfo[] = {"sinfo", "-h", "-o", "%T", NULL};
    if (proc_capture(sinfo, out, sizeof out, err, sizeof err) != 0 ||
        !(strstr(out, "idle") || strstr(out, "mixed") || strstr(out, "allocated")))
        return "no Slurm cluster is up (no idle node in sinfo): run sweep/slurm/ci-setup";
    return NULL;
}

typedef struct {
    char dir[256], yaml[320], db[320], log[320];
} Sweep;

static void make_sweep(Sweep *s, const char *tag, int n_seeds, int steps)
{
    tu_temp_dir(s->dir, tag);
    snprintf(s->yaml, sizeof s->yaml, "%s/sweep.yaml", s->dir);
    snprintf(s->db, sizeof s->db, "%s/db.sqlite", s->dir);
    snprintf(s->log, sizeof s->log, "%s/sweep.log", s->dir);
    ModelShape shape = {.family = FAMILY_DENSE, .vocab = 256, .seq_len = 16, .d_t = 64, .n_layers = 1};
    double budget = shape_train_flops_per_token(&shape, 1) * 64.0 * steps;
    char seeds[128] = "", text[2048];
    for (int i = 0; i < n_seeds; i++) snprintf(seeds + strlen(seeds), sizeof seeds - strlen(seeds), "%s%d", i ? ", " : "", i);
    snprintf(text, sizeof text,
             "name: %s\nvocab: 256\nseq_len: 16\nbatch_tokens: 64\nbudgets: %.17g\nlr: 0.01\nseed: [%s]\n"
             "families:\n  - family: dense\n    d_t: 64\n    n_layers: 1\n",
             tag, budget, seeds);
    tu_write(s->yaml, text);
}

static pid_t start_slurm_run(const Sweep *s, const char *const *env)
{
    const char *args[] = {"run", s->yaml, "--backend", "slurm", "--db", s->db, "--trainer", TEST_FAKE_TRAINER,
                          "--gpus", "none", "--poll", "0.2", "--max-attempts", "3", NULL};
    return tu_sweep_start(args, env, s->log);
}

static int launches_of(const Sweep *s, int seed)
{
    char sql[128], dir[1024] = "", path[1100];
    snprintf(sql, sizeof sql, "SELECT out_dir FROM runs WHERE seed = %d", seed);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) snprintf(dir, sizeof dir, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    snprintf(path, sizeof path, "%s/launches", dir);
    return tu_count_lines(path);
}

Test(sweep_slurm, job_array_results_are_collected)
{
    const char *why = slurm_unavailable();
    if (why) cr_skip_test("%s", why);
    Sweep s;
    make_sweep(&s, "slurm", 4, 6);
    const char *env[] = {"DLCM_FAKE_MODES=1=flaky,2=nan", NULL};
    cr_assert_eq(tu_wait(start_slurm_run(&s, env)), 0, "see %s", s.log);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE status = 'done'"), 3);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE seed = 2 AND status = 'diverged'"), 1);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE seed = 1 AND attempts = 2"), 1,
                 "the flaky run was resubmitted once");
    cr_assert_eq(launches_of(&s, 1), 2);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM metrics"), 3 * 6 + 2,
                 "metrics of the three finished runs and the diverged run's two steps");
    tu_remove_tree(s.dir);
}

Test(sweep_slurm, killed_scheduler_adopts_running_tasks)
{
    const char *why = slurm_unavailable();
    if (why) cr_skip_test("%s", why);
    Sweep s;
    make_sweep(&s, "slurmkill", 2, 30);
    const char *env[] = {"DLCM_FAKE_STEP_MS=100", NULL};
    pid_t pid = start_slurm_run(&s, env);
    /* Wait until both tasks have started training (progress in their own databases shows up
     * through the scheduler's heartbeats), then kill the scheduler. */
    for (int i = 0; i < 1200 && tu_query_int(s.db, "SELECT count(*) FROM runs WHERE tokens_done > 0") < 2; i++) {
        struct timespec t = {0, 50 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE tokens_done > 0"), 2, "tasks never started; see %s", s.log);
    kill(pid, SIGKILL);
    tu_wait(pid);
    cr_assert_eq(tu_wait(start_slurm_run(&s, env)), 0, "see %s", s.log);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE status = 'done'"), 2);
    cr_assert_eq(launches_of(&s, 0), 1, "adopted, not submitted again");
    cr_assert_eq(launches_of(&s, 1), 1);
    tu_remove_tree(s.dir);
}
