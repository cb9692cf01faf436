/* tests/test_sweep_db.c: the scheduler's SQL (db/sweeps.c): planned runs inserted once and kept,
 * atomic claims, heartbeats and stale requeueing, retry limits, diverged runs left alone,
 * collecting a run's own database, the CSV export, and hostile text stored verbatim. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/sweeps.h"
#include "sweep/plan.h"
#include "tests/sweep_test_util.h"

typedef struct {
    char dir[256], path[320];
    sqlite3 *db;
    int64_t sweep_id;
} Fixture;

static SweepRunRow row(const char *id, int d_t)
{
    SweepRunRow r;
    memset(&r, 0, sizeof r);
    r.id = id;
    r.config = "family: dense\n";
    r.parametrization = "mup";
    r.out_dir = "/tmp/nowhere";
    ModelShape shape = {.family = FAMILY_DENSE, .vocab = 256, .seq_len = 16, .d_t = d_t, .n_layers = 2};
    ShapeParams params;
    char err[256];
    cr_assert_eq(shape_params(&shape, &params, err, sizeof err), 0);
    r.shape = sweep_stored_shape(&shape);
    r.N = params.N;
    r.embedding_params = params.embedding;
    r.unembedding_params = params.unembedding;
    r.P = params.P;
    r.tokens = 6400;
    r.steps = 100;
    r.budget = 1e10;
    r.train_flops = 1e10;
    r.lr = 0.01;
    return r;
}

static void setup(Fixture *f, int n_runs)
{
    char err[512];
    tu_temp_dir(f->dir, "db");
    snprintf(f->path, sizeof f->path, "%s/main.sqlite", f->dir);
    f->db = db_open(f->path, err, sizeof err);
    cr_assert_not_null(f->db, "%s", err);
    cr_assert_eq(sweeps_record(f->db, "s", "s.yaml", "name: s\n", &f->sweep_id, err, sizeof err), 0, "%s", err);
    static const char *ids[] = {"run-a", "run-b", "run-c", "run-d"};
    SweepRunRow rows[4];
    for (int i = 0; i < n_runs; i++) rows[i] = row(ids[i], 64 * (i + 1));
    int inserted;
    cr_assert_eq(sweeps_insert_runs(f->db, f->sweep_id, rows, n_runs, &inserted, err, sizeof err), 0, "%s", err);
    cr_assert_eq(inserted, n_runs);
}

static void teardown(Fixture *f)
{
    db_close(f->db);
    tu_remove_tree(f->dir);
}

static long q(Fixture *f, const char *sql) { return tu_query_int(f->path, sql); }

Test(sweep_db, insert_or_ignore_keeps_state)
{
    Fixture f;
    setup(&f, 2);
    char err[512];
    cr_assert_eq(db_exec(f.db, "UPDATE runs SET status = 'done', final_val_loss = 2.5 WHERE id = 'run-a'", err, sizeof err), 0);
    SweepRunRow rows[3] = {row("run-a", 64), row("run-b", 128), row("run-c", 192)};
    int inserted;
    int64_t again;
    cr_assert_eq(sweeps_record(f.db, "s", "s.yaml", "name: s # edited\n", &again, err, sizeof err), 0);
    cr_assert_eq(again, f.sweep_id, "recording a sweep again keeps its id");
    cr_assert_eq(sweeps_insert_runs(f.db, f.sweep_id, rows, 3, &inserted, err, sizeof err), 0, "%s", err);
    cr_assert_eq(inserted, 1, "only the new run is inserted");
    cr_assert_eq(q(&f, "SELECT count(*) FROM runs"), 3);
    cr_assert_eq(q(&f, "SELECT count(*) FROM runs WHERE id = 'run-a' AND status = 'done' AND final_val_loss = 2.5"), 1);
    teardown(&f);
}

static int refuse_wide(void *ctx, const ClaimedRun *run)
{
    (void)ctx;
    return run->shape.d_t <= 64;
}

Test(sweep_db, claims_are_exclusive_and_filtered)
{
    Fixture f;
    setup(&f, 2);
    char err[512];
    ClaimedRun run;
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, refuse_wide, NULL, &run, err, sizeof err), 1, "%s", err);
    cr_assert_str_eq(run.id, "run-a");
    cr_assert_eq(run.attempts, 1);
    cr_assert_eq(run.steps, 100);
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, refuse_wide, NULL, &run, err, sizeof err), 0, "run-b is too wide");
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &run, err, sizeof err), 1);
    cr_assert_str_eq(run.id, "run-b");
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &run, err, sizeof err), 0, "nothing left to claim");
    cr_assert_eq(q(&f, "SELECT count(*) FROM runs WHERE status = 'running' AND heartbeat_at IS NOT NULL"), 2);
    teardown(&f);
}

Test(sweep_db, stale_runs_are_requeued_fresh_ones_kept)
{
    Fixture f;
    setup(&f, 2);
    char err[512];
    ClaimedRun a, b;
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &a, err, sizeof err), 1);
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &b, err, sizeof err), 1);
    /* run-a's scheduler went silent an hour ago; run-b is alive. */
    cr_assert_eq(db_exec(f.db, "UPDATE runs SET heartbeat_at = heartbeat_at - 3600 WHERE id = 'run-a'", err, sizeof err), 0);
    RunHeartbeat beat = {"run-b", 640, 1234.5};
    cr_assert_eq(sweeps_heartbeat(f.db, &beat, 1, err, sizeof err), 0, "%s", err);
    int requeued;
    cr_assert_eq(sweeps_requeue_stale(f.db, f.sweep_id, 60, &requeued, err, sizeof err), 0, "%s", err);
    cr_assert_eq(requeued, 1);
    cr_assert_eq(q(&f, "SELECT count(*) FROM runs WHERE id = 'run-a' AND status = 'queued'"), 1);
    cr_assert_eq(q(&f, "SELECT count(*) FROM runs WHERE id = 'run-b' AND status = 'running' AND tokens_done = 640"), 1);
    SweepCounts c;
    cr_assert_eq(sweeps_counts(f.db, f.sweep_id, &c, err, sizeof err), 0);
    cr_assert_eq(c.queued, 1);
    cr_assert_eq(c.running, 1);
    cr_assert_float_eq(c.tokens_per_s, 1234.5, 1e-9);
    /* Losing its scheduler costs a run no attempt, however often it happens. */
    for (int lost = 0; lost < 5; lost++) {
        cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &a, err, sizeof err), 1);
        cr_assert_eq(a.attempts, 1, "loss %d", lost);
        cr_assert_eq(db_exec(f.db, "UPDATE runs SET heartbeat_at = 0 WHERE id = 'run-a'", err, sizeof err), 0);
        cr_assert_eq(sweeps_requeue_stale(f.db, f.sweep_id, 60, &requeued, err, sizeof err), 0);
        cr_assert_eq(requeued, 1);
    }
    cr_assert_eq(q(&f, "SELECT count(*) FROM runs WHERE id = 'run-a' AND status = 'queued' AND attempts = 0"), 1);
    teardown(&f);
}

Test(sweep_db, failures_retry_up_to_the_limit_then_retry_command)
{
    Fixture f;
    setup(&f, 1);
    char err[512];
    ClaimedRun run;
    for (int attempt = 1; attempt <= 3; attempt++) {
        cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &run, err, sizeof err), 1, "attempt %d", attempt);
        cr_assert_eq(run.attempts, attempt);
        cr_assert_eq(sweeps_finish(f.db, run.id, "failed", "trainer exit code 3", "boom\n", 3, err, sizeof err), 0, "%s", err);
    }
    cr_assert_eq(q(&f, "SELECT count(*) FROM runs WHERE status = 'failed' AND attempts = 3 AND stderr_tail = 'boom\n'"), 1);
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &run, err, sizeof err), 0, "a failed run is not claimed");
    int n;
    cr_assert_eq(sweeps_retry_failed(f.db, f.sweep_id, &n, err, sizeof err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(q(&f, "SELECT count(*) FROM runs WHERE status = 'queued' AND attempts = 0"), 1);
    teardown(&f);
}

Test(sweep_db, diverged_and_interrupted)
{
    Fixture f;
    setup(&f, 2);
    char err[512];
    ClaimedRun run;
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &run, err, sizeof err), 1);
    cr_assert_eq(sweeps_finish(f.db, run.id, "diverged", "NaN", NULL, 3, err, sizeof err), 0);
    int n;
    cr_assert_eq(sweeps_retry_failed(f.db, f.sweep_id, &n, err, sizeof err), 0);
    cr_assert_eq(n, 0, "retry leaves diverged runs alone");
    cr_assert_eq(q(&f, "SELECT count(*) FROM runs WHERE id = 'run-a' AND status = 'diverged'"), 1);
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &run, err, sizeof err), 1);
    cr_assert_eq(sweeps_finish(f.db, run.id, "queued", NULL, NULL, 3, err, sizeof err), 0);
    cr_assert_eq(q(&f, "SELECT attempts FROM runs WHERE id = 'run-b' AND status = 'queued'"), 0,
                 "an interruption is not an attempt");
    cr_assert_eq(sweeps_finish(f.db, run.id, "bogus", NULL, NULL, 3, err, sizeof err), -1);
    teardown(&f);
}

Test(sweep_db, hostile_text_is_stored_verbatim)
{
    Fixture f;
    setup(&f, 1);
    char err[512];
    const char *evil = "x'); DROP TABLE runs; --\"\n";
    ClaimedRun run;
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &run, err, sizeof err), 1);
    cr_assert_eq(sweeps_finish(f.db, run.id, "failed", evil, evil, 1, err, sizeof err), 0);
    sqlite3_stmt *st = db_prepare(f.db, "SELECT error, stderr_tail FROM runs", err, sizeof err);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), evil);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 1), evil);
    sqlite3_finalize(st);
    int64_t id;
    cr_assert_eq(sweeps_find(f.db, "s' OR '1'='1", &id, err, sizeof err), 1, "a quoted name matches nothing");
    teardown(&f);
}

/* run-a's own database, seeded by the scheduler as for a launch, opened as its trainer opens it. */
static sqlite3 *open_run_db(const Fixture *f, char *path, size_t n)
{
    char err[512];
    snprintf(path, n, "%s/run.sqlite", f->dir);
    cr_assert_eq(sweeps_prepare_run_db(f->db, "run-a", path, err, sizeof err), 0, "%s", err);
    sqlite3 *run_db = db_open(path, err, sizeof err);
    cr_assert_not_null(run_db, "%s", err);
    return run_db;
}

Test(sweep_db, collect_copies_a_runs_own_database)
{
    Fixture f;
    setup(&f, 1);
    char err[512], run_db_path[400], status[32];
    /* What a trainer writes into its own database. */
    sqlite3 *run_db = open_run_db(&f, run_db_path, sizeof run_db_path);
    cr_assert_eq(tu_query_int(run_db_path, "SELECT count(*) FROM runs WHERE id = 'run-a' AND tokens = 6400"), 1,
                 "the run's database is seeded with its planned row");
    cr_assert_eq(db_exec(run_db,
                         "UPDATE runs SET status = 'done', final_val_loss = 3.25, initial_loss = 9, tokens_done = 6400, "
                         "realized_R_train = 3.9, device = 'cpu' WHERE id = 'run-a';"
                         "INSERT INTO metrics(run_id, step, tokens, train_loss) VALUES ('run-a', 0, 64, 9), ('run-a', 99, 6400, 3.3);"
                         "INSERT INTO evals(run_id, step, split, loss) VALUES ('run-a', 99, 'val', 3.25);",
                         err, sizeof err), 0, "%s", err);
    int64_t tokens;
    double rate;
    cr_assert_eq(sweeps_run_progress(run_db_path, "run-a", &tokens, &rate), 0);
    cr_assert_eq(tokens, 6400);
    db_close(run_db);
    ClaimedRun run;
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &run, err, sizeof err), 1);
    cr_assert_eq(sweeps_collect(f.db, "run-a", run_db_path, status, sizeof status, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(status, "done");
    cr_assert_eq(q(&f, "SELECT count(*) FROM metrics WHERE run_id = 'run-a'"), 2);
    cr_assert_eq(q(&f, "SELECT count(*) FROM evals WHERE run_id = 'run-a'"), 1);
    cr_assert_eq(q(&f, "SELECT count(*) FROM runs WHERE final_val_loss = 3.25 AND realized_R_train = 3.9 AND device = 'cpu' "
                       "AND status = 'running'"), 1, "the trainer's columns are copied; the status is the scheduler's");
    /* Collecting twice (a scheduler killed after collecting, before finishing) changes nothing. */
    cr_assert_eq(sweeps_collect(f.db, "run-a", run_db_path, status, sizeof status, err, sizeof err), 0, "%s", err);
    cr_assert_eq(q(&f, "SELECT count(*) FROM metrics WHERE run_id = 'run-a'"), 2);
    /* A missing file is an error, and is not created. */
    char missing[400];
    snprintf(missing, sizeof missing, "%s/none.sqlite", f.dir);
    cr_assert_eq(sweeps_collect(f.db, "run-a", missing, status, sizeof status, err, sizeof err), -1);
    cr_assert_neq(access(missing, F_OK), 0);
    cr_assert_eq(sweeps_finish(f.db, "run-a", "done", NULL, NULL, 3, err, sizeof err), 0);

    char csv_path[400], csv[4096];
    snprintf(csv_path, sizeof csv_path, "%s/export.csv", f.dir);
    FILE *out = fopen(csv_path, "w");
    cr_assert_eq(sweeps_export_csv(f.db, f.sweep_id, out, err, sizeof err), 0, "%s", err);
    fclose(out);
    tu_read(csv_path, csv, sizeof csv);
    cr_assert(strncmp(csv, "id,sweep,family,parametrization,N,D,loss,status,R,P,budget,", 59) == 0, "%s", csv);
    cr_assert(strstr(csv, "\nrun-a,s,dense,mup,") != NULL, "%s", csv);
    cr_assert(strstr(csv, ",6400,3.25,done,1,0,1e+10,") != NULL, "N, D, loss, status, R, P, budget: %s", csv);
    teardown(&f);
}

Test(sweep_db, phase_times_are_collected_and_summed_per_sweep)
{
    Fixture f;
    setup(&f, 2);
    char err[512], run_db_path[400], status[32];
    sqlite3 *run_db = open_run_db(&f, run_db_path, sizeof run_db_path);
    /* Two trainer processes (a resume): the second adds to the first. */
    double first[RUN_N_PHASES] = {1.0, 0.5, 4.0, 0.25, 2.0}, second[RUN_N_PHASES] = {1.0, 0.0, 2.0, 0.25, 0.0};
    cr_assert_eq(runs_add_phases(run_db, "run-a", first, err, sizeof err), 0, "%s", err);
    cr_assert_eq(runs_add_phases(run_db, "run-a", second, err, sizeof err), 0, "%s", err);
    cr_assert_eq(db_exec(run_db, "UPDATE runs SET status = 'done' WHERE id = 'run-a'", err, sizeof err), 0, "%s", err);
    db_close(run_db);
    cr_assert_eq(tu_query_int(run_db_path, "SELECT round(seconds * 100) FROM run_phases WHERE phase = 'train'"), 600);

    ClaimedRun run;
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &run, err, sizeof err), 1);
    cr_assert_str_eq(run.id, "run-a");
    cr_assert_eq(sweeps_collect(f.db, "run-a", run_db_path, status, sizeof status, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sweeps_collect(f.db, "run-a", run_db_path, status, sizeof status, err, sizeof err), 0, "%s", err);
    cr_assert_eq(q(&f, "SELECT count(*) FROM run_phases WHERE run_id = 'run-a'"), RUN_N_PHASES, "collected once");
    cr_assert_eq(q(&f, "SELECT round(sum(seconds) * 100) FROM run_phases"), 1100, "the run database's totals");
    cr_assert_eq(q(&f, "SELECT min(processes) FROM run_phases WHERE run_id = 'run-a'"), 2);
    cr_assert_eq(sweeps_finish(f.db, "run-a", "done", NULL, NULL, 3, err, sizeof err), 0, "%s", err);
    cr_assert_eq(db_exec(f.db, "UPDATE runs SET started_at = 100, finished_at = 112 WHERE id = 'run-a'", err, sizeof err),
                 0, "%s", err);
    SweepPhaseTotals t;
    cr_assert_eq(sweeps_phase_totals(f.db, f.sweep_id, &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.runs, 0, "a resumed run's wall time is its last part's: its phases are left out");

    /* A run of one trainer process. */
    double only[RUN_N_PHASES] = {0.5, 0.5, 7.0, 0.5, 2.0};
    cr_assert_eq(runs_add_phases(f.db, "run-b", only, err, sizeof err), 0, "%s", err);
    cr_assert_eq(db_exec(f.db, "UPDATE runs SET status = 'done', attempts = 1, started_at = 200, finished_at = 212 "
                               "WHERE id = 'run-b'", err, sizeof err), 0, "%s", err);
    cr_assert_eq(sweeps_phase_totals(f.db, f.sweep_id, &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.runs, 1);
    cr_assert_float_eq(t.wall_seconds, 12.0, 1e-9, "the wall counted once, not once per phase");
    cr_assert_float_eq(t.phase_seconds[RUN_PHASE_TRAIN], 7.0, 1e-9);
    cr_assert_float_eq(t.phase_seconds[RUN_PHASE_HELDOUT], 2.0, 1e-9);
    /* Discarding a run's results discards its phase times too. */
    cr_assert_eq(sweeps_discard_results(f.db, "run-a", err, sizeof err), 0, "%s", err);
    cr_assert_eq(q(&f, "SELECT count(*) FROM run_phases WHERE run_id = 'run-a'"), 0);
    cr_assert_eq(q(&f, "SELECT count(*) FROM run_phases WHERE run_id = 'run-b'"), RUN_N_PHASES, "the other run's kept");
    teardown(&f);
}

Test(sweep_db, a_run_database_without_phase_times_is_still_collected)
{
    Fixture f;
    setup(&f, 1);
    char err[512], run_db_path[400], status[32];
    /* What a trainer older than schema version 5 leaves: no run_phases table. */
    sqlite3 *run_db = open_run_db(&f, run_db_path, sizeof run_db_path);
    cr_assert_eq(db_exec(run_db,
                         "DROP TABLE run_phases; UPDATE runs SET status = 'done', final_val_loss = 3.5 WHERE id = 'run-a';",
                         err, sizeof err), 0, "%s", err);
    db_close(run_db);
    ClaimedRun run;
    cr_assert_eq(sweeps_claim(f.db, f.sweep_id, NULL, NULL, &run, err, sizeof err), 1);
    cr_assert_eq(sweeps_collect(f.db, "run-a", run_db_path, status, sizeof status, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(status, "done");
    cr_assert_eq(q(&f, "SELECT count(*) FROM runs WHERE final_val_loss = 3.5"), 1);
    cr_assert_eq(q(&f, "SELECT count(*) FROM run_phases"), 0);
    teardown(&f);
}
