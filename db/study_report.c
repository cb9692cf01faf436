/* db/study_report.c: the study report's SQL (see db/study_report.h). */
#include "db/study_report.h"

#include <math.h>
#include <stdio.h>

#include "db/db.h"

static double real_or_nan(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static const char *text_or_null(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

int study_sweep_runs(sqlite3 *db, const char *sweep, void (*each)(void *ctx, const StudyRun *run), void *ctx,
                      char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT r.id, s.name, r.status, r.family, r.parametrization, r.config, r.host, "
                                  "r.gpu_model, r.N, r.P, r.R_target, r.budget, r.tokens, r.lr, r.final_val_loss, "
                                  "r.final_train_loss, r.realized_R_train, r.realized_R_eval, r.fwd_flops_per_token, "
                                  "r.train_flops, r.flops_launched, r.started_at, r.finished_at, "
                                  "coalesce(r.d_t, -1), coalesce(r.d_c, -1), coalesce(r.seed, -1), "
                                  "coalesce(r.tokens_done, 0), coalesce(r.seq_len, 0) "
                                  "FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE ?1 IS NULL OR s.name = ?1 "
                                  "ORDER BY s.id, r.rowid",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, sweep)) return db_bind_failed(st, "reading the study's runs", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        StudyRun r = {text_or_null(st, 0), text_or_null(st, 1), text_or_null(st, 2), text_or_null(st, 3),
                      text_or_null(st, 4), text_or_null(st, 5), text_or_null(st, 6), text_or_null(st, 7),
                      real_or_nan(st, 8), real_or_nan(st, 9), real_or_nan(st, 10), real_or_nan(st, 11),
                      real_or_nan(st, 12), real_or_nan(st, 13), real_or_nan(st, 14), real_or_nan(st, 15),
                      real_or_nan(st, 16), real_or_nan(st, 17), real_or_nan(st, 18), real_or_nan(st, 19),
                      real_or_nan(st, 20), real_or_nan(st, 21), real_or_nan(st, 22),
                      sqlite3_column_int64(st, 23), sqlite3_column_int64(st, 24), sqlite3_column_int64(st, 25),
                      sqlite3_column_int64(st, 26), sqlite3_column_int64(st, 27)};
        each(ctx, &r);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "reading the study's runs", err, errlen);
    return 0;
}

int study_final_evals(sqlite3 *db, const char *run_id,
                             void (*each)(void *ctx, const char *split, double loss, double realized_R), void *ctx,
                             char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT split, loss, realized_R FROM evals WHERE run_id = ?1 AND "
                                  "step = (SELECT max(step) FROM evals WHERE run_id = ?1) ORDER BY split",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, run_id)) return db_bind_failed(st, "reading final evaluations", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *split = text_or_null(st, 0);
        each(ctx, split ? split : "", real_or_nan(st, 1), real_or_nan(st, 2));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "reading final evaluations", err, errlen);
    return 0;
}
