/* tests/test_sweep_run.c: bin/dlcm-sweep end to end on the local CPU backend, driving the test
 * double trainer (build/tests/dlcm-fake-train): skipping completed runs, failures recorded and
 * retried without stopping the sweep, diverged runs kept, SIGKILL of the scheduler at several
 * moments with nothing lost, duplicated or stuck, SIGTERM, and the command line's errors. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/sweeps.h"
#include "tests/sweep_test_util.h"

/* Runs `dlcm-sweep run` on the CPU backend with fast heartbeats; extra args may be NULL. */
static pid_t start_run(const TuSweep *s, const char *const *env, const char *extra)
{
    const char *args[] = {"run", s->yaml, "--db", s->db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none",
                          "--cpu-workers", "2", "--heartbeat", "0.1", "--stale-after", "0.5", "--max-attempts", "3",
                          "--quiet", extra, NULL};
    return tu_sweep_start(args, env, s->log);
}

static long q(const TuSweep *s, const char *sql) { return tu_query_int(s->db, sql); }

/* Polls a query until it returns at least `want`; fails after a generous guard time (the test
 * waits for states, never for durations). */
static void wait_for(const TuSweep *s, const char *sql, long want)
{
    for (int i = 0; i < 1200; i++) {
        if (q(s, sql) >= want) return;
        struct timespec t = {0, 50 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    cr_assert_fail("timed out waiting for %s >= %ld", sql, want);
}

Test(sweep_run, completes_then_rerun_skips_completed_runs)
{
    TuSweep s;
    tu_make_sweep(&s, "rerun", 4, 5);
    cr_assert_eq(tu_wait(start_run(&s, NULL, NULL)), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE status = 'done'"), 4);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE device = 'cpu'"), 4, "CPU-only: the CPU backend");
    cr_assert_eq(q(&s, "SELECT count(*) FROM metrics"), 4 * 5, "metrics collected into the main database");
    for (int seed = 0; seed < 4; seed++) cr_assert_eq(tu_launches_of(&s, seed), 1);
    /* even when quiet, the scheduler says how much of its time lay outside the trainers */
    char log[8192];
    tu_read(s.log, log, sizeof log);
    const char *line = strstr(log, "schedule: ");
    cr_assert_not_null(line, "no schedule line in: %s", log);
    double total, before, after;
    cr_assert_eq(sscanf(line, "schedule: %lf s in all; the first trainer started after %lf s, the last ended %lf s",
                        &total, &before, &after), 3, "%s", line);
    cr_expect(before >= 0 && after >= 0 && before + after <= total + 0.02, "%s", line); /* printed to 0.01 s */
    cr_assert_eq(tu_wait(start_run(&s, NULL, NULL)), 0);
    for (int seed = 0; seed < 4; seed++) cr_assert_eq(tu_launches_of(&s, seed), 1, "a completed run is not run again");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs"), 4);
    tu_remove_tree(s.dir);
}

/* A config the trainer rejects (exit 2) fails the same way every time: one launch, no retry. */
Test(sweep_run, bad_input_is_not_retried)
{
    TuSweep s;
    tu_make_sweep(&s, "badinput", 2, 6);
    const char *env[] = {"DLCM_FAKE_MODES=1=badinput", NULL};
    cr_assert_eq(tu_wait(start_run(&s, env, NULL)), 1, "exit 1: a run failed");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 0 AND status = 'done'"), 1);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 1 AND status = 'failed' AND attempts = 1 "
                       "AND error LIKE '%bad input%' AND stderr_tail LIKE '%config rejection%'"), 1);
    cr_assert_eq(tu_launches_of(&s, 1), 1, "launched once, not retried");
    tu_remove_tree(s.dir);
}

/* What a trainer reports it trained is checked against the plan before a result is recorded, and
 * a run directory's config that no longer describes its run is replaced before a launch. */
Test(sweep_run, results_of_another_model_are_never_recorded)
{
    TuSweep s;
    tu_make_sweep(&s, "impostor", 2, 6);
    const char *env[] = {"DLCM_FAKE_MODES=1=impostor", NULL};
    cr_assert_eq(tu_wait(start_run(&s, env, NULL)), 1, "exit 1: a run failed");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 0 AND status = 'done'"), 1);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 1 AND status = 'failed' AND attempts = 1 "
                       "AND error LIKE '%not the planned%' AND final_val_loss IS NULL"), 1);
    cr_assert_eq(q(&s, "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.seed = 1"), 0,
                 "none of its metrics are collected");

    /* An empty config.yaml (an interrupted write of an older version) is replaced by the plan. */
    char dir[512], config[600], text[8192];
    tu_run_dir(&s, 1, dir, sizeof dir);
    snprintf(config, sizeof config, "%s/config.yaml", dir);
    tu_write(config, "");
    char ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
    unlink(ckpt);
    const char *retry_args[] = {"retry", "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", "--quiet", NULL};
    cr_assert_eq(tu_sweep(retry_args, NULL, s.log), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 1 AND status = 'done'"), 1);
    tu_read(config, text, sizeof text);
    cr_assert(strstr(text, "# end of dlcm run config\n") != NULL, "the planned config is back: %s", text);
    tu_remove_tree(s.dir);
}

/* A run a database kept from before run ids were the trainer's hash (an old-format config under
 * an old id) still runs to done: the check compares what the trainer trained with the planned
 * config, not with the id's formula. */
Test(sweep_run, runs_planned_by_an_older_version_still_complete)
{
    TuSweep s;
    tu_make_sweep(&s, "legacy", 1, 4);
    char err[512], out_dir[512];
    sqlite3 *db = db_open(s.db, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    int64_t sweep_id;
    cr_assert_eq(sweeps_record(db, "legacy", s.yaml, "old", &sweep_id, err, sizeof err), 0, "%s", err);
    snprintf(out_dir, sizeof out_dir, "%s/runs/legacy/b7cedf50090980db", s.dir);
    SweepRunRow row;
    memset(&row, 0, sizeof row);
    row.id = "b7cedf50090980db";
    row.config = "# dlcm run config, resolved by dlcm-sweep\n# sweep: legacy\n# engine: dlcm-engine 1\n"
                 "model.family: dense\nmodel.parametrization: mup\nmodel.vocab: 256\nmodel.seq_len: 16\n"
                 "model.d_t: 64\nmodel.n_layers: 1\nmodel.ffn_t: 192\nrun.seed: 0\noptim.lr: 0.01\n"
                 "train.batch: 4\ntrain.grad_accum: 1\ntrain.steps: 4\n";
    row.parametrization = "mup";
    row.out_dir = out_dir;
    snprintf(row.shape.family, sizeof row.shape.family, "dense");
    row.shape.d_t = 64;
    row.shape.n_layers = 1;
    row.shape.vocab = 256;
    row.shape.seq_len = 16;
    row.tokens = 256;
    row.steps = 4;
    int inserted;
    cr_assert_eq(sweeps_insert_runs(db, sweep_id, &row, 1, &inserted, err, sizeof err), 0, "%s", err);
    db_close(db);
    const char *retry_args[] = {"retry", "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", "--quiet", NULL};
    cr_assert_eq(tu_sweep(retry_args, NULL, s.log), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE id = 'b7cedf50090980db' AND status = 'done'"), 1);
    tu_remove_tree(s.dir);
}

Test(sweep_run, failures_are_recorded_retried_and_never_stop_the_sweep)
{
    TuSweep s;
    tu_make_sweep(&s, "fail", 6, 6);
    const char *env[] = {"DLCM_FAKE_MODES=1=crash,2=fail,3=flaky,4=nan,5=rising", NULL};
    cr_assert_eq(tu_wait(start_run(&s, env, NULL)), 1, "exit 1: some runs failed");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 0 AND status = 'done'"), 1);
    /* crash: retried to the limit, recorded with the signal and the stderr tail */
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 1 AND status = 'failed' AND attempts = 3 "
                       "AND error LIKE '%signal 6%' AND stderr_tail LIKE '%simulated crash%'"), 1);
    cr_assert_eq(tu_launches_of(&s, 1), 3);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 2 AND status = 'failed' AND error LIKE '%exit code 1%' "
                       "AND stderr_tail LIKE '%simulated failure%'"), 1);
    /* flaky: the retry succeeds */
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 3 AND status = 'done' AND attempts = 2"), 1);
    /* NaN and rising loss: diverged, not retried */
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 4 AND status = 'diverged'"), 1);
    cr_assert_eq(tu_launches_of(&s, 4), 1);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 5 AND status = 'diverged' AND error LIKE '%above initial%'"), 1);
    cr_assert_eq(tu_launches_of(&s, 5), 1);

    /* status and export */
    char out_path[400], text[8192];
    snprintf(out_path, sizeof out_path, "%s/status.txt", s.dir);
    const char *status_args[] = {"status", "--db", s.db, "--runs", NULL};
    unlink(out_path);
    cr_assert_eq(tu_sweep(status_args, NULL, out_path), 0);
    tu_read(out_path, text, sizeof text);
    cr_assert(strstr(text, "done 2  running 0  failed 2  diverged 2  queued 0") != NULL, "%s", text);
    char csv[400];
    snprintf(csv, sizeof csv, "%s/export.csv", s.dir);
    const char *export_args[] = {"export", "--db", s.db, "-o", csv, NULL};
    cr_assert_eq(tu_sweep(export_args, NULL, out_path), 0);
    cr_assert_eq(tu_count_lines(csv), 1 + 4, "header + done and diverged runs");
    tu_read(csv, text, sizeof text);
    cr_assert(strstr(text, ",inf,diverged,") != NULL, "%s", text);

    /* retry: only the failed ones run again (the trainer behaves now) */
    const char *retry_args[] = {"retry", "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", "--quiet", NULL};
    cr_assert_eq(tu_sweep(retry_args, NULL, s.log), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE status = 'done'"), 4);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE status = 'diverged'"), 2, "diverged runs are not retried");
    cr_assert_eq(tu_launches_of(&s, 4), 1);
    cr_assert_eq(tu_launches_of(&s, 0), 1);
    tu_remove_tree(s.dir);
}

Test(sweep_run, sigkill_at_any_moment_loses_nothing_and_duplicates_nothing)
{
    TuSweep s;
    tu_make_sweep(&s, "kill", 6, 16);
    const char *env[] = {"DLCM_FAKE_STEP_MS=15", NULL};
    char done_before[6] = {0};
    /* Kill points: at once; once a run has made progress (mid-run, checkpoints on disk); once
     * some run is done; and again mid-run in the second half. */
    const char *conditions[] = {NULL,
                                "SELECT count(*) FROM runs WHERE status = 'running' AND tokens_done >= 192",
                                "SELECT count(*) FROM runs WHERE status = 'done'",
                                "SELECT count(*) FROM runs WHERE status = 'done'"};
    const long wants[] = {0, 1, 1, 3};
    for (int k = 0; k < 4; k++) {
        pid_t pid = start_run(&s, env, NULL);
        if (conditions[k]) wait_for(&s, conditions[k], wants[k]);
        kill(pid, SIGKILL);
        cr_assert_eq(tu_wait(pid), 128 + SIGKILL);
        /* Completed results survive, and stay completed. */
        for (int seed = 0; seed < 6; seed++) {
            char sql[160];
            snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE seed = %d AND status = 'done'", seed);
            long done = q(&s, sql);
            if (done_before[seed]) cr_assert_eq(done, 1, "seed %d was done before kill %d", seed, k);
            done_before[seed] = done == 1;
        }
    }
    int launches_when_done[6];
    for (int seed = 0; seed < 6; seed++) launches_when_done[seed] = done_before[seed] ? tu_launches_of(&s, seed) : -1;
    cr_assert_eq(tu_wait(start_run(&s, env, NULL)), 0, "the restarted scheduler finishes the sweep");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs"), 6, "no run duplicated");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE status = 'done'"), 6);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE status = 'running'"), 0, "none stuck in running");
    cr_assert_eq(q(&s, "SELECT count(*) FROM metrics"), 6 * 16, "one metrics row per step, none twice");
    int resumed = 0;
    for (int seed = 0; seed < 6; seed++) {
        char dir[1024], path[1100], launches[4096];
        tu_run_dir(&s, seed, dir, sizeof dir);
        snprintf(path, sizeof path, "%s/CONCURRENT", dir);
        cr_assert_neq(access(path, F_OK), 0, "two trainers ran at once in %s", dir);
        if (launches_when_done[seed] >= 0)
            cr_assert_eq(tu_launches_of(&s, seed), launches_when_done[seed], "seed %d was done: not run again", seed);
        snprintf(path, sizeof path, "%s/launches", dir);
        tu_read(path, launches, sizeof launches);
        for (char *line = launches; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            int pid_field;
            long start;
            if (sscanf(line, "%d %ld", &pid_field, &start) == 2 && start > 0) resumed++;
        }
    }
    cr_assert_geq(resumed, 1, "an interrupted run resumed from its checkpoint");
    tu_remove_tree(s.dir);
}

Test(sweep_run, sigterm_stops_cleanly_and_requeues)
{
    TuSweep s;
    tu_make_sweep(&s, "term", 3, 8);
    const char *env[] = {"DLCM_FAKE_DEFAULT=hang", NULL};
    pid_t pid = start_run(&s, env, NULL);
    wait_for(&s, "SELECT count(*) FROM runs WHERE status = 'running' AND tokens_done >= 64", 2);
    kill(pid, SIGTERM);
    cr_assert_eq(tu_wait(pid), 130, "exit 130: interrupted");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE status = 'queued' AND attempts = 0"), 3);
    tu_remove_tree(s.dir);
}

Test(sweep_run, command_line_errors)
{
    TuSweep s;
    tu_make_sweep(&s, "cli", 2, 5);
    char bad[400], out[400], text[8192];
    snprintf(bad, sizeof bad, "%s/bad.yaml", s.dir);
    snprintf(out, sizeof out, "%s/out.txt", s.dir);
    tu_write(bad, "name: bad\nvocab: 256\nseq_len: 16\nbatch_tokens: 64\nbudgets: 1e9\nlr: 0.01\n"
                  "families:\n  - family: dense\n    d_t: 100\n    n_layers: 1\n");
    const char *plan_bad[] = {"plan", bad, NULL};
    cr_assert_eq(tu_sweep(plan_bad, NULL, out), 2);
    tu_read(out, text, sizeof text);
    cr_assert(strstr(text, "bad.yaml:9: d_t: width must be a positive multiple of 64") != NULL, "%s", text);
    const char *run_bad[] = {"run", bad, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, NULL};
    cr_assert_eq(tu_sweep(run_bad, NULL, out), 2);
    cr_assert_neq(access(s.db, F_OK), 0, "a bad sweep file creates nothing");

    const char *json[] = {"plan", s.yaml, "--json", NULL};
    unlink(out);
    cr_assert_eq(tu_sweep(json, NULL, out), 0);
    tu_read(out, text, sizeof text);
    const char *keys[] = {"\"id\"", "\"family\"", "\"N\"", "\"P\"", "\"R\"", "\"d_t\"", "\"d_c\"", "\"n_enc\"", "\"n_con\"",
                          "\"n_dec\"", "\"n_layers\"", "\"vocab\"", "\"T\"", "\"fwd_flops_per_token\"", "\"tokens\"",
                          "\"budget\"", "\"train_flops\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) cr_assert(strstr(text, keys[i]) != NULL, "%s missing", keys[i]);
    const char *csv[] = {"plan", s.yaml, "--csv", NULL};
    unlink(out); /* the log is appended to */
    cr_assert_eq(tu_sweep(csv, NULL, out), 0);
    cr_assert_eq(tu_count_lines(out), 3);

    const char *no_trainer[] = {"run", s.yaml, "--db", s.db, "--trainer", "/nonexistent/dlcm-train", "--quiet", NULL};
    cr_assert_eq(tu_sweep(no_trainer, NULL, out), 2);
    tu_read(out, text, sizeof text);
    cr_assert(strstr(text, "/nonexistent/dlcm-train") != NULL, "%s", text);
    const char *unknown[] = {"run", s.yaml, "--gpu", "0", NULL};
    cr_assert_eq(tu_sweep(unknown, NULL, out), 2);
    const char *help[] = {"--help", NULL};
    cr_assert_eq(tu_sweep(help, NULL, out), 0);
    tu_read(out, text, sizeof text);
    cr_assert(strstr(text, "usage: dlcm-sweep") != NULL);
    tu_remove_tree(s.dir);
}

Test(sweep_run, gpus_one_run_each_unless_memory_allows_packing)
{
    TuSweep s;
    tu_make_sweep(&s, "gpus", 4, 10);
    const char *env[] = {"DLCM_FAKE_STEP_MS=100", NULL};
    /* Plenty of memory: two runs share each GPU, and both GPUs are used. */
    const char *packed[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "3,5",
                            "--gpu-mem", "80", "--max-per-gpu", "2", "--quiet", NULL};
    cr_assert_eq(tu_sweep(packed, env, s.log), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE device = 'cuda:3'"), 2, "CUDA_VISIBLE_DEVICES picks the GPU");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE device = 'cuda:5'"), 2);
    cr_assert_eq(tu_max_overlap(&s, "cuda:3"), 2, "two small runs packed on one GPU");
    cr_assert_leq(tu_max_overlap(&s, "cuda:5"), 2);
    tu_remove_tree(s.dir);

    /* Memory for one run only: never two on a GPU. */
    tu_make_sweep(&s, "gpus1", 4, 10);
    const char *single[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "0",
                            "--gpu-mem", "0.01", "--max-per-gpu", "4", "--quiet", NULL};
    cr_assert_eq(tu_sweep(single, env, s.log), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE device = 'cuda:0' AND status = 'done'"), 4);
    cr_assert_eq(tu_max_overlap(&s, "cuda:0"), 1);
    tu_remove_tree(s.dir);
}

Test(sweep_run, plan_prints_the_pairs_at_equal_inference_flops)
{
    TuSweep s;
    tu_make_sweep(&s, "pairs", 1, 5);
    char yaml[400], out[400], text[16384];
    snprintf(yaml, sizeof yaml, "%s/pairs.yaml", s.dir);
    snprintf(out, sizeof out, "%s/out.txt", s.dir);
    tu_write(yaml, "name: pairs\nvocab: 256\nseq_len: 16\nbatch_tokens: 64\nbudgets: 1e10\nlr: 0.01\n"
                   "inference_matched_dense: true\n"
                   "families:\n  - family: dlcm\n    d_t: 64\n    d_c: 128\n    n_enc: 1\n    n_con: 2\n    n_dec: 1\n"
                   "    R: [2, 4]\n");
    const char *plan[] = {"plan", yaml, NULL};
    cr_assert_eq(tu_sweep(plan, NULL, out), 0);
    tu_read(out, text, sizeof text);
    cr_assert(strstr(text, "pairs at equal inference FLOPs per token (within 2%, same tokens):") != NULL, "%s", text);
    cr_assert(strstr(text, "4 runs from") != NULL, "2 DLCMs and their 2 dense partners: %s", text);
    const char *json[] = {"plan", yaml, "--json", NULL};
    unlink(out);
    cr_assert_eq(tu_sweep(json, NULL, out), 0);
    tu_read(out, text, sizeof text);
    cr_assert(strstr(text, "\"inference_matched_dense\": \"") != NULL, "%s", text);
    tu_remove_tree(s.dir);
}
