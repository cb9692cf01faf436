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

int runs_begin(sqlite3 *db, const RunInfo *r, char *err, int errlen)
{
    int bind_failed = 0;
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
    bind_failed |= db_bind_text(st, 1, r->id);
    bind_failed |= db_bind_text(st, 2, r->config);
    bind_failed |= db_bind_text(st, 3, r->family);
    bind_failed |= db_bind_text(st, 4, r->parametrization);
    bind_failed |= db_bind_int64(st, 5, r->d_t);
    bind_failed |= db_bind_int64(st, 6, r->d_c);
    bind_failed |= db_bind_int64(st, 7, r->n_layers);
    bind_failed |= db_bind_int64(st, 8, r->n_enc);
    bind_failed |= db_bind_int64(st, 9, r->n_con);
    bind_failed |= db_bind_int64(st, 10, r->n_dec);
    bind_failed |= db_bind_int64(st, 11, r->vocab);
    bind_failed |= db_bind_int64(st, 12, r->seq_len);
    bind_failed |= db_bind_real_or_null(st, 13, r->R_target > 0 ? r->R_target : NAN);
    bind_failed |= db_bind_int64(st, 14, r->N);
    bind_failed |= db_bind_int64(st, 15, r->embedding_params);
    bind_failed |= db_bind_int64(st, 16, r->unembedding_params);
    bind_failed |= db_bind_double(st, 17, r->P);
    bind_failed |= db_bind_double(st, 18, r->fwd_flops_per_token);
    bind_failed |= db_bind_double(st, 19, r->train_flops_per_token);
    bind_failed |= db_bind_int64(st, 20, r->tokens);
    bind_failed |= db_bind_int64(st, 21, r->steps);
    bind_failed |= db_bind_double(st, 22, r->train_flops);
    bind_failed |= db_bind_double(st, 23, r->lr);
    bind_failed |= db_bind_int64(st, 24, r->seed);
    bind_failed |= db_bind_text(st, 25, r->device);
    bind_failed |= db_bind_text(st, 26, r->out_dir);
    bind_failed |= db_bind_double(st, 27, db_now());
    int rc = db_step(db, st, bind_failed, "recording the run", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

/* Binds the RunProgress fields to ?2..?11 of a statement. 0, or -1 when a bind failed. */
static int bind_progress(sqlite3_stmt *st, const RunProgress *p)
{
    int bind_failed = 0;
    bind_failed |= db_bind_count_or_null(st, 2, p->tokens_done);
    bind_failed |= db_bind_count_or_null(st, 3, p->steps_done);
    bind_failed |= db_bind_real_or_null(st, 4, p->flops_launched);
    bind_failed |= db_bind_real_or_null(st, 5, p->realized_R_train);
    bind_failed |= db_bind_real_or_null(st, 6, p->realized_R_eval);
    bind_failed |= db_bind_real_or_null(st, 7, p->final_train_loss);
    bind_failed |= db_bind_real_or_null(st, 8, p->final_val_loss);
    bind_failed |= db_bind_real_or_null(st, 9, p->initial_loss);
    bind_failed |= db_bind_real_or_null(st, 10, p->tokens_per_s);
    bind_failed |= db_bind_count_or_null(st, 11, p->peak_mem_bytes);
    return bind_failed;
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
    int bind_failed = 0;
    sqlite3_stmt *st = db_prepare(db, "UPDATE runs SET" PROGRESS_SET " WHERE id = ?1", err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_text(st, 1, id);
    bind_failed |= bind_progress(st, p);
    bind_failed |= db_bind_double(st, 12, db_now());
    int rc = db_step(db, st, bind_failed, "updating the run", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int runs_finish(sqlite3 *db, const char *id, const char *status, const char *error,
                const RunProgress *p, char *err, int errlen)
{
    int bind_failed = 0;
    sqlite3_stmt *st = db_prepare(db,
        "UPDATE runs SET" PROGRESS_SET ", status = ?13, error = ?14,"
        " finished_at = CASE WHEN ?13 = 'queued' THEN NULL ELSE ?12 END WHERE id = ?1",
        err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_text(st, 1, id);
    bind_failed |= bind_progress(st, p);
    bind_failed |= db_bind_double(st, 12, db_now());
    bind_failed |= db_bind_text(st, 13, status);
    bind_failed |= db_bind_text(st, 14, error);
    int rc = db_step(db, st, bind_failed, "finishing the run", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int runs_add_metrics(sqlite3 *db, const char *id, const RunMetric *rows, int n, char *err,
                     int errlen)
{
    int bind_failed = 0;
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
        bind_failed |= db_bind_text(st, 1, id);
        bind_failed |= db_bind_int64(st, 2, r->step);
        bind_failed |= db_bind_int64(st, 3, r->tokens);
        bind_failed |= db_bind_real_or_null(st, 4, r->train_loss);
        bind_failed |= db_bind_real_or_null(st, 5, r->aux_loss);
        bind_failed |= db_bind_real_or_null(st, 6, r->realized_R);
        bind_failed |= db_bind_real_or_null(st, 7, r->lr);
        bind_failed |= db_bind_real_or_null(st, 8, r->grad_norm);
        bind_failed |= db_bind_real_or_null(st, 9, r->tokens_per_s);
        if (bind_failed) { db_bind_failed(st, "storing metrics", err, errlen); db_rollback(db); return -1; }
        if (sqlite3_step(st) != SQLITE_DONE) {
            db_fail(db, "storing metrics", err, errlen);
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
    int bind_failed = 0;
    sqlite3_stmt *st = db_prepare(db,
        "INSERT OR REPLACE INTO evals (run_id, step, split, loss, realized_R)"
        " VALUES (?1, ?2, ?3, ?4, ?5)", err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_text(st, 1, id);
    bind_failed |= db_bind_int64(st, 2, step);
    bind_failed |= db_bind_text(st, 3, split);
    /* loss is NOT NULL in the schema: a diverged evaluation is stored as a large value. */
    bind_failed |= db_bind_double(st, 4, isfinite(loss) ? loss : 1e30);
    bind_failed |= db_bind_real_or_null(st, 5, realized_R);
    int rc = db_step(db, st, bind_failed, "storing an evaluation", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int runs_add_module_stats(sqlite3 *db, const char *id, int64_t step, const char *const *modules,
                          const double *mean_abs, int n, char *err, int errlen)
{
    int bind_failed = 0;
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
        bind_failed |= db_bind_text(st, 1, id);
        bind_failed |= db_bind_int64(st, 2, step);
        bind_failed |= db_bind_text(st, 3, modules[i]);
        bind_failed |= db_bind_double(st, 4, isfinite(mean_abs[i]) ? mean_abs[i] : 1e30);
        if (bind_failed) { db_bind_failed(st, "storing module statistics", err, errlen); db_rollback(db); return -1; }
        if (sqlite3_step(st) != SQLITE_DONE) {
            db_fail(db, "storing module statistics", err, errlen);
            sqlite3_finalize(st);
            db_rollback(db);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return db_commit(db, err, errlen);
}

const char *const run_phase_names[RUN_N_PHASES] = {"setup", "eval", "train", "checkpoint", "heldout"};
const char *const run_phase_labels[RUN_N_PHASES] = {"set-up", "evaluation", "training steps", "checkpoints",
                                                    "held-out measurements"};

int runs_add_phases(sqlite3 *db, const char *id, const double seconds[RUN_N_PHASES], char *err, int errlen)
{
    if (db_begin(db, err, errlen)) return -1;
    sqlite3_stmt *st = db_prepare(db,
        "INSERT INTO run_phases (run_id, phase, seconds, processes) VALUES (?1, ?2, ?3, 1)"
        " ON CONFLICT (run_id, phase) DO UPDATE SET seconds = seconds + excluded.seconds,"
        " processes = processes + 1", err, errlen);
    if (!st) {
        db_rollback(db);
        return -1;
    }
    for (int i = 0; i < RUN_N_PHASES; i++) {
        int bind_failed = 0;
        sqlite3_reset(st);
        bind_failed |= db_bind_text(st, 1, id);
        bind_failed |= db_bind_text(st, 2, run_phase_names[i]);
        bind_failed |= db_bind_double(st, 3, isfinite(seconds[i]) && seconds[i] > 0 ? seconds[i] : 0.0);
        if (bind_failed) { db_bind_failed(st, "storing the run's phase times", err, errlen); db_rollback(db); return -1; }
        if (sqlite3_step(st) != SQLITE_DONE) {
            db_fail(db, "storing the run's phase times", err, errlen);
            sqlite3_finalize(st);
            db_rollback(db);
            return -1;
        }
    }
    sqlite3_finalize(st);
    return db_commit(db, err, errlen);
}
