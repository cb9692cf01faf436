/* tests/test_sweep_kill.c: the scheduler killed from outside: a run whose scheduler dies again
 * and again keeps its attempts, and SIGHUP (a closed terminal) stops the sweep like SIGTERM. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/sweep_test_util.h"

static long q(const TuSweep *s, const char *sql) { return tu_query_int(s->db, sql); }

/* Polls a query until it returns at least `want`; fails after a generous guard time. */
static void wait_for(const TuSweep *s, const char *sql, long want)
{
    for (int i = 0; i < 1200; i++) {
        if (q(s, sql) >= want) return;
        struct timespec t = {0, 50 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    cr_assert_fail("timed out waiting for %s >= %ld", sql, want);
}

static pid_t start_run(const TuSweep *s, const char *const *env, const char *max_attempts)
{
    const char *args[] = {"run", s->yaml, "--db", s->db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none",
                          "--cpu-workers", "1", "--heartbeat", "0.1", "--stale-after", "0.5",
                          "--max-attempts", max_attempts, "--quiet", NULL};
    return tu_sweep_start(args, env, s->log);
}

Test(sweep_kill, scheduler_deaths_do_not_spend_attempts)
{
    TuSweep s;
    tu_make_sweep(&s, "deaths", 1, 40);
    const char *env[] = {"DLCM_FAKE_STEP_MS=20", NULL};
    /* One attempt allowed: the run may not fail once, yet its scheduler dies three times under it. */
    for (int kill_no = 0; kill_no < 3; kill_no++) {
        long before = q(&s, "SELECT coalesce(max(tokens_done), 0) FROM runs");
        pid_t pid = start_run(&s, env, "1");
        /* Killed once this scheduler's trainer has trained past what the last one did. */
        for (int i = 0; i < 1200 && !(q(&s, "SELECT coalesce(max(tokens_done), 0) FROM runs") > before &&
                                      tu_launches_of(&s, 0) > kill_no); i++) {
            struct timespec t = {0, 20 * 1000 * 1000};
            nanosleep(&t, NULL);
        }
        cr_assert_gt(tu_launches_of(&s, 0), kill_no, "scheduler %d launched its trainer", kill_no);
        kill(pid, SIGKILL);
        cr_assert_eq(tu_wait(pid), 128 + SIGKILL);
        cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE status = 'failed'"), 0, "kill %d failed the run", kill_no);
    }
    cr_assert_eq(tu_wait(start_run(&s, env, "1")), 0, "the healthy run finishes");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 1"), 1);
    cr_assert_geq(tu_launches_of(&s, 0), 4, "launched once per scheduler");
    tu_remove_tree(s.dir);
}

Test(sweep_kill, sighup_stops_cleanly_and_requeues)
{
    TuSweep s;
    tu_make_sweep(&s, "hup", 2, 8);
    const char *env[] = {"DLCM_FAKE_DEFAULT=hang", NULL};
    pid_t pid = start_run(&s, env, "3");
    wait_for(&s, "SELECT count(*) FROM runs WHERE status = 'running' AND tokens_done >= 64", 1);
    kill(pid, SIGHUP);
    cr_assert_eq(tu_wait(pid), 130, "exit 130: interrupted, as for SIGTERM");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE status = 'queued' AND attempts = 0"), 2);
    tu_remove_tree(s.dir);
}
