/* db/runs.c: the trainer's writes to the runs, metrics, evals and module_stats tables.
 * See runs.h. Unchanged progress fields are bound as NULL and kept with COALESCE. */
#include "db/runs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"

RunProgress run_progress_none(void)
{
    RunProgress p = {-1, -1, NAN, NAN, NAN, NAN, NAN, NAN, NAN, -1};
    return p;
}

static int sql_error(sqlite3 *db, const char *what, char *err, int errlen)
{
    snprintf(err, errlen, "database: %s: %s", what, sqlite3_errmsg(db));
    return -1;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

/* Doubles that are NaN, and counts below zero, mean "no value". */
static void bind_real_or_null(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}
static void bind_int_or_null(sqlite3_stmt *st, int i, int64_t v)
{
    if (v >= 0) sqlite3_bind_int64(st, i, v);
    else sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no rows, finalizes it. */
static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *what, char *err, int errlen)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        sql_error(db, what, err, errlen);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

int runs_begin(sqlite3 *db, const RunInfo *r, char *err, int errlen)
{
    const char *sql =
        "INSERT INTO runs (id, status, config, family, parametrization, d_t, d_c, n_layers, n_enc,"
        " n_con, n_dec, vocab, seq_len, R_target, N, embedding_params, unembedding_params, P,"
        " fwd_flops_per_token, train_flops_per_token, tokens, steps, train_flops, lr, seed, device,"
        " out_dir, created_at, started_at, heartbeat_at)"
        " VALUES (?1, 'running', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
        " ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?27, ?27)"
        " ON CONFLICT(id) DO UPDATE SET status = 'running', config = excluded.config,"
        " family = excluded.family, parametrization = excluded.parametrization,"
        " d_t = excluded.d_t, d_c = excluded.d_c, n_layers = excluded.n_layers,"
        " n_enc = excluded.n_enc, n_con = excluded.n_con, n_dec = excluded.n_dec,"
        " vocab = excluded.vocab, seq_len = excluded.seq_len, R_target = excluded.R_target,"
        " N = excluded.N, embedding_params = excluded.embedding_params,"
        " unembedding_params = excluded.unembedding_params, P = excluded.P,"
        " fwd_flops_per_token = excluded.fwd_flops_per_token,"
        " train_flops_per_token = excluded.train_flops_per_token, tokens = excluded.tokens,"
        " steps = excluded.steps, train_flops = excluded.train_flops, lr = excluded.lr,"
        " seed = excluded.seed, device = excluded.device,"
        " out_dir = COALESCE(excluded.out_dir, runs.out_dir), error = NULL, finished_at = NULL,"
        " started_at = COALESCE(runs.started_at, excluded.started_at),"
        " heartbeat_at = excluded.heartbeat_at";
    sqlite3_stmt *st = db_prepare(db, sql, err, errlen);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->config, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->family, -1, SQLITE_TRANSIENT);
    bind_text_or_null(st, 4, r->parametrization);
    sqlite3_bind_int(st, 5, r->d_t);
    sqlite3_bind_int(st, 6, r->d_c);
    sqlite3_bind_int(st, 7, r->n_layers);
    sqlite3_bind_int(st, 8, r->n_enc);
    sqlite3_bind_int(st, 9, r->n_con);
    sqlite3_bind_int(st, 10, r->n_dec);
    sqlite3_bind_int(st, 11, r->vocab);
    sqlite3_bind_int(st, 12, r->seq_len);
    bind_real_or_null(st, 13, r->R_target > 0 ? r->R_target : NAN);
    sqlite3_bind_int64(st, 14, r->N);
    sqlite3_bind_int64(st, 15, r->embedding_params);
    sqlite3_bind_int64(st, 16, r->unembedding_params);
    sqlite3_bind_double(st, 17, r->P);
    sqlite3_bind_double(st, 18, r->fwd_flops_per_token);
    sqlite3_bind_double(st, 19, r->train_flops_per_token);
    sqlite3_bind_int64(st, 20, r->tokens);
    sqlite3_bind_int64(st, 21, r->steps);
    sqlite3_bind_double(st, 22, r->train_flops);
    sqlite3_bind_double(st, 23, r->lr);
    sqlite3_bind_int64(st, 24, r->seed);
    bind_text_or_null(st, 25, r->device);
    bind_text_or_null(st, 26, r->out_dir);
    sqlite3_bind_double(st, 27, db_now());
    return step_done(db, st, "recording the run", err, errlen);
}

/* Binds the RunProgress fields to ?2..?11 of a statement. */
static void bind_progress(sqlite3_stmt *st, const RunProgress *p)
{
    bind_int_or_null(st, 2, p->tokens_done);
    bind_int_or_null(st, 3, p->steps_done);
    bind_real_or_null(st, 4, p->flops_launched);
    bind_real_or_null(st, 5, p->realized_R_train);
    bind_real_or_null(st, 6, p->realized_R_eval);
    bind_real_or_null(st, 7, p->final_train_loss);
    bind_real_or_null(st, 8, p->final_val_loss);
    bind_real_or_null(st, 9, p->initial_loss);
    bind_real_or_null(st, 10, p->tokens_per_s);
    bind_int_or_null(st, 11, p->peak_mem_bytes);
}

#define PROGRESS_SET                                                                           \
    " tokens_done = COALESCE(?2, tokens_done), steps_done = COALESCE(?3, steps_done),"         \
    " flops_launched = COALESCE(?4, flops_launched),"                                          \
    " realized_R_train = COALESCE(?5, realized_R_train),"                                      \
    " realized_R_eval = COALESCE(?6, realized_R_eval),"                                        \
    " final_train_loss = COALESCE(?7, final_train_loss),"                                      \
    " final_val_loss = COALESCE(?8, final_val_loss), initial_loss = COALESCE(?9, initial_loss),"\
    " tokens_per_s = COALESCE(?10, tokens_per_s), peak_mem_bytes = COALESCE(?11, peak_mem_bytes),"\
    " heartbeat_at = ?12"

int runs_update(sqlite3 *db, const char *id, const RunProgress *p, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db, "UPDATE runs SET" PROGRESS_SET " WHERE id = ?1", err, errlen);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    bind_progress(st, p);
    sqlite3_bind_double(st, 12, db_now());
    return step_done(db, st, "updating the run", err, errlen);
}

int runs_finish(sqlite3 *db, const char *id, const char *status, const char *error,
                const RunProgress *p, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
        "UPDATE runs SET" PROGRESS_SET ", status = ?13, error = ?14,"
        " finished_at = CASE WHEN ?13 = 'queued' THEN NULL ELSE ?12 END WHERE id = ?1",
        err, errlen);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    bind_progress(st, p);
    sqlite3_bind_double(st, 12, db_now());
    sqlite3_bind_text(st, 13, status, -1, SQLITE_TRANSIENT);
    bind_text_or_null(st, 14, error);
    return step_done(db, st, "finishing the run", err, errlen);
}

int runs_add_metrics(sqlite3 *db, const char *id, const RunMetric *rows, int n, char *err,
                     int errlen)
{
    if (n <= 0) return 0;
    if (db_begin(db, err, errlen)) return -1;
    sqlite3_stmt *st = db_prepare(db,
        "INSERT OR REPLACE INTO metrics (run_id, step, tokens, train_loss, aux_loss, realized_R,"
        " lr, grad_norm, tokens_per_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", err, errlen);
    if (!st) {
        db_rollback(db);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const RunMetric *r = &rows[i];
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, r->step);
        sqlite3_bind_int64(st, 3, r->tokens);
        bind_real_or_null(st, 4, r->train_loss);
        bind_real_or_null(st, 5, r->aux_loss);
        bind_real_or_null(st, 6, r->realized_R);
        bind_real_or_null(st, 7, r->lr);
        bind_real_or_null(st, 8, r->grad_norm);
        bind_real_or_null(st, 9, r->tokens_per_s);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sql_error(db, "storing metrics", err, errlen);
            sqlite3_finalize(st);
            db_rollback(db);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return db_commit(db, err, errlen);
}

int runs_add_eval(sqlite3 *db, const char *id, int64_t step, const char *split, double loss,
                  double realized_R, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
        "INSERT OR REPLACE INTO evals (run_id, step, split, loss, realized_R)"
        " VALUES (?1, ?2, ?3, ?4, ?5)", err, errlen);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, step);
    sqlite3_bind_text(st, 3, split, -1, SQLITE_TRANSIENT);
    /* loss is NOT NULL in the schema: a diverged evaluation is stored as a large value. */
    sqlite3_bind_double(st, 4, isfinite(loss) ? loss : 1e30);
    bind_real_or_null(st, 5, realized_R);
    return step_done(db, st, "storing an evaluation", err, errlen);
}

int runs_add_module_stats(sqlite3 *db, const char *id, int64_t step, const char *const *modules,
                          const double *mean_abs, int n, char *err, int errlen)
{
    if (n <= 0) return 0;
    if (db_begin(db, err, errlen)) return -1;
    sqlite3_stmt *st = db_prepare(db,
        "INSERT OR REPLACE INTO module_stats (run_id, step, module, mean_abs)"
        " VALUES (?1, ?2, ?3, ?4)", err, errlen);
    if (!st) {
        db_rollback(db);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, step);
        sqlite3_bind_text(st, 3, modules[i], -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 4, isfinite(mean_abs[i]) ? mean_abs[i] : 1e30);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sql_error(db, "storing module statistics", err, errlen);
            sqlite3_finalize(st);
            db_rollback(db);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return db_commit(db, err, errlen);
}

int runs_status(sqlite3 *db, const char *id, char *buf, int buflen, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT status FROM runs WHERE id = ?1", err, errlen);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    buf[0] = '\0';
    if (rc == SQLITE_ROW) {
        snprintf(buf, buflen, "%s", (const char *)sqlite3_column_text(st, 0));
    } else if (rc != SQLITE_DONE) {
        sql_error(db, "reading the run status", err, errlen);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}
