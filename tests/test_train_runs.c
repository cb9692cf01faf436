/* tests/test_train_runs.c: db/runs.c: a run row is created or taken over (keeping what a sweep
 * stored), progress keeps unchanged fields, metrics of a redone step are replaced, and the
 * final status is recorded. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/runs.h"
#include "db/sweeps.h"

static RunInfo sample_info(void)
{
    RunInfo r = {0};
    r.id = "run-a";
    r.config = "model:\n  d_t: 64\n";
    r.family = "dlcm";
    r.parametrization = "mup";
    r.d_t = 64;
    r.d_c = 128;
    r.vocab = 256;
    r.seq_len = 32;
    r.R_target = 4;
    r.N = 1000;
    r.P = 0.5;
    r.steps = 10;
    r.tokens = 640;
    r.device = "cpu fp32";
    return r;
}

static double scalar(sqlite3 *db, const char *sql)
{
    char err[256];
    sqlite3_stmt *st = db_prepare(db, sql, err, sizeof err);
    cr_assert_not_null(st, "%s", err);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

Test(train_runs, begin_update_metrics_finish)
{
    char path[256], err[512], status[32];
    snprintf(path, sizeof path, "/tmp/dlcm-test-runs-%d.sqlite", (int)getpid());
    unlink(path);
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    /* A sweep queued the row first. */
    cr_assert_eq(db_exec(db, "INSERT INTO sweeps (id, name, created_at) VALUES (7, 's', 0);"
                             "INSERT INTO runs (id, sweep_id, status, config, family, budget, attempts, created_at)"
                             " VALUES ('run-a', 7, 'queued', 'x', 'dlcm', 1e15, 1, 0)", err, sizeof err), 0, "%s", err);
    RunInfo info = sample_info();
    cr_assert_eq(runs_begin(db, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sweeps_run_status(db, "run-a", status, sizeof status, err, sizeof err), 0);
    cr_assert_str_eq(status, "running");
    cr_assert_float_eq(scalar(db, "SELECT sweep_id FROM runs"), 7, 0, "sweep fields are kept");
    cr_assert_float_eq(scalar(db, "SELECT budget FROM runs"), 1e15, 0);
    cr_assert_float_eq(scalar(db, "SELECT attempts FROM runs"), 1, 0);
    cr_assert_float_eq(scalar(db, "SELECT N FROM runs"), 1000, 0, "the description is refreshed");

    RunProgress p = run_progress_none();
    p.initial_loss = 5.5;
    cr_assert_eq(runs_update(db, "run-a", &p, err, sizeof err), 0, "%s", err);
    p = run_progress_none();
    p.steps_done = 3;
    cr_assert_eq(runs_update(db, "run-a", &p, err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(scalar(db, "SELECT initial_loss FROM runs"), 5.5, 0, "unchanged fields are kept");
    cr_assert_float_eq(scalar(db, "SELECT steps_done FROM runs"), 3, 0);

    RunMetric rows[2] = {{1, 64, 5.0, 0.1, 4.0, 1e-3, 2.0, 100}, {2, 128, 4.0, NAN, NAN, 1e-3, 1.0, 100}};
    cr_assert_eq(runs_add_metrics(db, "run-a", rows, 2, err, sizeof err), 0, "%s", err);
    rows[1].train_loss = 3.5; /* a resume redoes step 2 */
    cr_assert_eq(runs_add_metrics(db, "run-a", rows + 1, 1, err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(scalar(db, "SELECT count(*) FROM metrics"), 2, 0);
    cr_assert_float_eq(scalar(db, "SELECT train_loss FROM metrics WHERE step = 2"), 3.5, 0);
    cr_assert(isnan(scalar(db, "SELECT aux_loss FROM metrics WHERE step = 2")), "NaN is stored as NULL");
    cr_assert_eq(runs_add_eval(db, "run-a", 2, "val", 3.9, 4.1, err, sizeof err), 0, "%s", err);
    const char *modules[] = {"embedding", "logits"};
    double values[] = {0.5, 1.5};
    cr_assert_eq(runs_add_module_stats(db, "run-a", 2, modules, values, 2, err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(scalar(db, "SELECT sum(mean_abs) FROM module_stats"), 2.0, 1e-12);

    p = run_progress_none();
    p.final_val_loss = 3.9;
    cr_assert_eq(runs_finish(db, "run-a", "done", NULL, &p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sweeps_run_status(db, "run-a", status, sizeof status, err, sizeof err), 0);
    cr_assert_str_eq(status, "done");
    cr_assert(!isnan(scalar(db, "SELECT finished_at FROM runs")));
    cr_assert_neq(runs_finish(db, "run-a", "bogus", NULL, &p, err, sizeof err), 0, "the schema refuses unknown statuses");
    cr_assert(strstr(err, "database") != NULL, "%s", err);
    db_close(db);
    unlink(path);
}
