/* tests/test_sweep_deadline.c: `dlcm-sweep run --deadline S` with the test double of the trainer:
 * the sweep stops cleanly at the deadline (exit 3), its trainers stopped, their runs queued again
 * without spending an attempt, a trainer that ignores SIGTERM killed after the grace, and the next
 * run finishes every run exactly once; a run that the measured throughput says cannot end before
 * the deadline is not started. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tests/sweep_test_util.h"

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

Test(sweep_deadline, stops_cleanly_at_the_deadline_and_the_next_run_finishes, .timeout = 120)
{
    TuSweep s;
    char text[16384];
    tu_make_sweep(&s, "deadline", 4, 60);
    /* 60 steps of 100 ms: no run can end within the 2 s deadline. Seed 3 ignores SIGTERM. */
    const char *env[] = {"DLCM_FAKE_STEP_MS=100", "DLCM_FAKE_MODES=3=stubborn", NULL};
    const char *args[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none",
                          "--cpu-workers", "4", "--heartbeat", "0.1", "--deadline", "2", "--stop-grace", "1",
                          "--status-every", "1000", NULL};
    double t0 = wall_now();
    cr_assert_eq(tu_sweep(args, env, s.log), 3, "exit 3: stopped at the deadline with runs left");
    double took = wall_now() - t0;
    cr_assert(took >= 2.0 && took < 8.0, "stopped after %.1f s (deadline 2 s, grace 1 s)", took);
    tu_read(s.log, text, sizeof text);
    cr_assert(strstr(text, "deadline in 2 s") != NULL, "%s", text);
    cr_assert(strstr(text, "deadline: stopping 4 trainer(s)") != NULL, "%s", text);
    cr_assert(strstr(text, "deadline: stopped (deadline 2 s)") != NULL, "%s", text);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE status = 'queued' AND attempts = 0"), 4,
                 "every run queued again, no attempt spent");
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE steps_done > 0"), 4, "progress was made");

    /* The next run resumes them from their checkpoints and finishes each once. */
    const char *env_ok[] = {"DLCM_FAKE_STEP_MS=1", NULL};
    const char *rest[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none",
                          "--cpu-workers", "4", "--quiet", NULL};
    cr_assert_eq(tu_sweep(rest, env_ok, s.log), 0);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE status = 'done' AND attempts = 1"), 4);
    for (int seed = 0; seed < 4; seed++) {
        cr_assert_eq(tu_launches_of(&s, seed), 2, "seed %d: launched once per scheduler", seed);
    }
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM metrics"), 4 * 60, "each step logged once");
    tu_remove_tree(s.dir);
}

Test(sweep_deadline, runs_that_cannot_end_before_the_deadline_are_not_started, .timeout = 120)
{
    TuSweep s;
    char text[16384];
    tu_make_sweep(&s, "deadlinefit", 1, 10);
    /* No measurement yet: the run starts; it ends well before the deadline and measures the
     * throughput (the fake trainer reports 1000 tokens/s). */
    const char *env[] = {"DLCM_FAKE_STEP_MS=1", NULL};
    const char *args[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none",
                          "--cpu-workers", "1", "--deadline", "30", "--status-every", "1000", NULL};
    cr_assert_eq(tu_sweep(args, env, s.log), 0);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
    tu_read(s.log, text, sizeof text);
    cr_assert(strstr(text, "not measured yet: the first runs start") != NULL, "%s", text);
    /* A second sweep in the same database, of runs of 400 steps of 64 tokens: 25.6 s each at the
     * measured rate, longer than its 3 s deadline; none is started. */
    TuSweep t;
    tu_make_sweep(&t, "deadlinefit2", 2, 400);
    const char *args2[] = {"run", t.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none",
                           "--cpu-workers", "1", "--deadline", "3", "--status-every", "1000", NULL};
    double t0 = wall_now();
    cr_assert_eq(tu_sweep(args2, env, t.log), 3);
    cr_assert(wall_now() - t0 < 2.5, "stopped at once, not at the deadline");
    tu_read(t.log, text, sizeof text);
    cr_assert(strstr(text, "per run, from finished runs") != NULL, "%s", text);
    cr_assert(strstr(text, "deadline: 2 queued run(s) cannot end in the") != NULL, "%s", text);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE status = 'queued' AND attempts = 0"), 2);
    tu_remove_tree(t.dir);
    tu_remove_tree(s.dir);
}

Test(sweep_deadline, deadline_is_refused_for_slurm_and_must_be_positive)
{
    TuSweep s;
    tu_make_sweep(&s, "deadlineargs", 1, 2);
    const char *slurm[] = {"run", s.yaml, "--db", s.db, "--backend", "slurm", "--deadline", "60", NULL};
    cr_assert_eq(tu_sweep(slurm, NULL, s.log), 2);
    const char *zero[] = {"run", s.yaml, "--db", s.db, "--deadline", "0", NULL};
    cr_assert_eq(tu_sweep(zero, NULL, s.log), 2);
    tu_remove_tree(s.dir);
}
