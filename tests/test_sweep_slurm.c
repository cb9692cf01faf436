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

#include "util/spawn.h"
#include "tests/sweep_test_util.h"

/* Why Slurm cannot be used here, or NULL when it can. */
static const char *slurm_unavailable(void)
{
    char out[4096], err[256];
    const char *sbatch[] = {"sbatch", "--version", NULL};
    if (spawn_capture(sbatch, out, sizeof out, err, sizeof err) != 0)
        return "sbatch not found: install munge slurmctld slurmd slurm-client and run sweep/slurm/ci-setup";
    const char *sinfo[] = {"sinfo", "-h", "-o", "%T", NULL};
    if (spawn_capture(sinfo, out, sizeof out, err, sizeof err) != 0 ||
        !(strstr(out, "idle") || strstr(out, "mixed") || strstr(out, "allocated")))
        return "no Slurm cluster is up (no idle node in sinfo): run sweep/slurm/ci-setup";
    return NULL;
}

static pid_t start_slurm_run(const TuSweep *s, const char *const *env)
{
    const char *args[] = {"run", s->yaml, "--backend", "slurm", "--db", s->db, "--trainer", TEST_FAKE_TRAINER,
                          "--gpus", "none", "--poll", "0.2", "--max-attempts", "3", NULL};
    return tu_sweep_start(args, env, s->log);
}

Test(sweep_slurm, job_array_results_are_collected)
{
    const char *why = slurm_unavailable();
    if (why) cr_skip_test("%s", why);
    TuSweep s;
    tu_make_sweep(&s, "slurm", 4, 6);
    const char *env[] = {"DLCM_FAKE_MODES=1=flaky,2=nan", NULL};
    cr_assert_eq(tu_wait(start_slurm_run(&s, env)), 0, "see %s", s.log);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE status = 'done'"), 3);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE seed = 2 AND status = 'diverged'"), 1);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE seed = 1 AND attempts = 2"), 1,
                 "the flaky run was resubmitted once");
    cr_assert_eq(tu_launches_of(&s, 1), 2);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM metrics"), 3 * 6 + 2,
                 "metrics of the three finished runs and the diverged run's two steps");
    tu_remove_tree(s.dir);
}

Test(sweep_slurm, killed_scheduler_adopts_running_tasks)
{
    const char *why = slurm_unavailable();
    if (why) cr_skip_test("%s", why);
    TuSweep s;
    tu_make_sweep(&s, "slurmkill", 2, 30);
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
    cr_assert_eq(tu_launches_of(&s, 0), 1, "adopted, not submitted again");
    cr_assert_eq(tu_launches_of(&s, 1), 1);
    tu_remove_tree(s.dir);
}
