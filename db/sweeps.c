/* db/sweeps.c: the scheduler's SQL (see db/sweeps.h). Every statement is parameterized; every
 * change of state is one transaction, so a scheduler killed at any instant leaves each run either
 * before or after a transition, never between. */
#include "db/sweeps.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

int sweeps_record(sqlite3 *db, const char *name, const char *file, const char *text, int64_t *sweep_id,
                  char *err, int errlen)
{
    int bind_failed = 0;
    sqlite3_stmt *st = db_prepare(db,
                                  "INSERT INTO sweeps(name, file, config, created_at) VALUES (?1, ?2, ?3, ?4) "
                                  "ON CONFLICT(name) DO UPDATE SET file = excluded.file, config = excluded.config",
                                  err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_text(st, 1, name);
    bind_failed |= db_bind_text(st, 2, file);
    bind_failed |= db_bind_text(st, 3, text);
    bind_failed |= db_bind_double(st, 4, db_now());
    int rc = db_step(db, st, bind_failed, "recording the sweep", err, errlen);
    sqlite3_finalize(st);
    if (rc) return -1;
    return sweeps_find(db, name, sweep_id, err, errlen) == 0 ? 0 : -1;
}

int sweeps_find(sqlite3 *db, const char *name, int64_t *sweep_id, char *err, int errlen)
{
    int bind_failed = 0;
    sqlite3_stmt *st = db_prepare(db, "SELECT id FROM sweeps WHERE name = ?1", err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_text(st, 1, name);
    if (bind_failed) return db_bind_failed(st, "finding a sweep", err, errlen);
    int rc = sqlite3_step(st);
    int result;
    if (rc == SQLITE_ROW) {
        *sweep_id = sqlite3_column_int64(st, 0);
        result = 0;
    } else if (rc == SQLITE_DONE) {
        snprintf(err, errlen, "no sweep named '%s' in the database", name);
        result = 1;
    } else {
        result = db_fail(db, "finding the sweep", err, errlen);
    }
    sqlite3_finalize(st);
    return result;
}

int sweeps_only(sqlite3 *db, char *name, int namelen, int64_t *sweep_id, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT id, name FROM sweeps ORDER BY id LIMIT 2", err, errlen);
    if (!st) return -1;
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == 0) {
            *sweep_id = sqlite3_column_int64(st, 0);
            snprintf(name, namelen, "%s", (const char *)sqlite3_column_text(st, 1));
        }
        n++;
    }
    sqlite3_finalize(st);
    if (n == 1) return 0;
    snprintf(err, errlen, n == 0 ? "the database holds no sweep" : "the database holds several sweeps: name one with --sweep");
    return -1;
}

int sweeps_insert_runs(sqlite3 *db, int64_t sweep_id, const SweepRunRow *rows, int n, int *inserted,
                       char *err, int errlen)
{
    int bind_failed = 0;
    *inserted = 0;
    if (db_begin(db, err, errlen)) return -1;
    sqlite3_stmt *st = db_prepare(
        db,
        "INSERT OR IGNORE INTO runs(id, sweep_id, status, config, family, parametrization, d_t, d_c, n_layers, "
        "n_enc, n_con, n_dec, vocab, seq_len, R_target, N, embedding_params, unembedding_params, P, "
        "fwd_flops_per_token, train_flops_per_token, tokens, steps, budget, train_flops, lr, seed, out_dir, "
        "created_at, epochs) VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
        "?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)",
        err, errlen);
    if (!st) { db_rollback(db); return -1; }
    /* A run recorded before its epochs were known (its shard was missing then) gets them now. */
    sqlite3_stmt *epochs = db_prepare(db, "UPDATE runs SET epochs = ?2 WHERE id = ?1 AND epochs IS NULL", err, errlen);
    if (!epochs) { sqlite3_finalize(st); db_rollback(db); return -1; }
    double now = db_now();
    for (int i = 0; i < n; i++) {
        const SweepRunRow *r = &rows[i];
        int dlcm = strcmp(r->shape.family, "dlcm") == 0;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        bind_failed |= db_bind_text(st, 1, r->id);
        bind_failed |= db_bind_int64(st, 2, sweep_id);
        bind_failed |= db_bind_text(st, 3, r->config);
        bind_failed |= db_bind_text(st, 4, r->shape.family);
        bind_failed |= db_bind_text(st, 5, r->parametrization);
        bind_failed |= db_bind_int64(st, 6, r->shape.d_t);
        if (dlcm) {
            bind_failed |= db_bind_int64(st, 7, r->shape.d_c);
            bind_failed |= db_bind_int64(st, 9, r->shape.n_enc);
            bind_failed |= db_bind_int64(st, 10, r->shape.n_con);
            bind_failed |= db_bind_int64(st, 11, r->shape.n_dec);
            bind_failed |= db_bind_double(st, 14, r->shape.R);
        } else {
            bind_failed |= db_bind_int64(st, 8, r->shape.n_layers);
        }
        bind_failed |= db_bind_int64(st, 12, r->shape.vocab);
        bind_failed |= db_bind_int64(st, 13, r->shape.seq_len);
        bind_failed |= db_bind_int64(st, 15, r->N);
        bind_failed |= db_bind_int64(st, 16, r->embedding_params);
        bind_failed |= db_bind_int64(st, 17, r->unembedding_params);
        bind_failed |= db_bind_double(st, 18, r->P);
        bind_failed |= db_bind_double(st, 19, r->fwd_flops_per_token);
        bind_failed |= db_bind_double(st, 20, r->train_flops_per_token);
        bind_failed |= db_bind_int64(st, 21, r->tokens);
        bind_failed |= db_bind_int64(st, 22, r->steps);
        bind_failed |= db_bind_double(st, 23, r->budget);
        bind_failed |= db_bind_double(st, 24, r->train_flops);
        bind_failed |= db_bind_double(st, 25, r->lr);
        bind_failed |= db_bind_int64(st, 26, r->seed);
        bind_failed |= db_bind_text(st, 27, r->out_dir);
        bind_failed |= db_bind_double(st, 28, now);
        double known_epochs = r->epochs > 0 ? r->epochs : NAN;
        bind_failed |= db_bind_real_or_null(st, 29, known_epochs);
        if (bind_failed) {
            db_bind_failed(st, "recording planned runs", err, errlen);
            sqlite3_finalize(epochs);
            db_rollback(db);
            return -1;
        }
        if (sqlite3_step(st) != SQLITE_DONE) {
            db_fail(db, "inserting a planned run", err, errlen);
            sqlite3_finalize(st);
            sqlite3_finalize(epochs);
            db_rollback(db);
            return -1;
        }
        int added = sqlite3_changes(db);
        *inserted += added;
        if (!added && isfinite(known_epochs)) {
            sqlite3_reset(epochs);
            int failed = db_bind_text(epochs, 1, r->id) | db_bind_double(epochs, 2, known_epochs);
            if (db_step(db, epochs, failed, "recording a run's epochs", err, errlen)) {
                sqlite3_finalize(st);
                sqlite3_finalize(epochs);
                db_rollback(db);
                return -1;
            }
        }
    }
    sqlite3_finalize(st);
    sqlite3_finalize(epochs);
    if (db_commit(db, err, errlen)) { db_rollback(db); return -1; }
    return 0;
}

/* The queued runs of a sweep in the order they are claimed, and one row of them as a ClaimedRun
 * (attempts counting the claim). */
static const char queued_runs_sql[] =
    "SELECT id, out_dir, attempts, tokens, family, d_t, d_c, n_layers, n_enc, n_con, n_dec, vocab, seq_len, "
    "R_target, steps, train_flops FROM runs WHERE sweep_id = ?1 AND status = 'queued' ORDER BY attempts, rowid";

static void read_queued_row(sqlite3_stmt *pick, ClaimedRun *run)
{
    memset(run, 0, sizeof *run);
    snprintf(run->id, sizeof run->id, "%s", (const char *)sqlite3_column_text(pick, 0));
    const unsigned char *dir = sqlite3_column_text(pick, 1);
    snprintf(run->out_dir, sizeof run->out_dir, "%s", dir ? (const char *)dir : "");
    run->attempts = sqlite3_column_int(pick, 2) + 1;
    run->tokens = sqlite3_column_int64(pick, 3);
    const unsigned char *family = sqlite3_column_text(pick, 4);
    snprintf(run->shape.family, sizeof run->shape.family, "%s", family ? (const char *)family : "dense");
    run->shape.d_t = sqlite3_column_int(pick, 5);
    run->shape.d_c = sqlite3_column_int(pick, 6);
    run->shape.n_layers = sqlite3_column_int(pick, 7);
    run->shape.n_enc = sqlite3_column_int(pick, 8);
    run->shape.n_con = sqlite3_column_int(pick, 9);
    run->shape.n_dec = sqlite3_column_int(pick, 10);
    run->shape.vocab = sqlite3_column_int(pick, 11);
    run->shape.seq_len = sqlite3_column_int(pick, 12);
    run->shape.R = sqlite3_column_double(pick, 13);
    run->steps = sqlite3_column_int64(pick, 14);
    run->train_flops = sqlite3_column_double(pick, 15);
}

int sweeps_each_queued(sqlite3 *db, int64_t sweep_id, void (*each)(void *ctx, const ClaimedRun *run), void *ctx,
                       char *err, int errlen)
{
    sqlite3_stmt *pick = db_prepare(db, queued_runs_sql, err, errlen);
    if (!pick) return -1;
    if (db_bind_int64(pick, 1, sweep_id)) return db_bind_failed(pick, "listing queued runs", err, errlen);
    int rc;
    while ((rc = sqlite3_step(pick)) == SQLITE_ROW) {
        ClaimedRun run;
        read_queued_row(pick, &run);
        each(ctx, &run);
    }
    sqlite3_finalize(pick);
    if (rc != SQLITE_DONE) return db_fail(db, "listing queued runs", err, errlen);
    return 0;
}

int sweeps_claim(sqlite3 *db, int64_t sweep_id, int (*accept)(void *ctx, const ClaimedRun *run), void *ctx,
                 ClaimedRun *out, char *err, int errlen)
{
    int bind_failed = 0;
    if (db_begin(db, err, errlen)) return -1;
    sqlite3_stmt *pick = db_prepare(db, queued_runs_sql, err, errlen);
    if (!pick) { db_rollback(db); return -1; }
    bind_failed |= db_bind_int64(pick, 1, sweep_id);
    if (bind_failed) { db_bind_failed(pick, "claiming a run", err, errlen); db_rollback(db); return -1; }
    int found = 0, rc;
    while ((rc = sqlite3_step(pick)) == SQLITE_ROW) {
        ClaimedRun run;
        read_queued_row(pick, &run);
        if (!accept || accept(ctx, &run)) {
            *out = run;
            found = 1;
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_fail(db, "finding a queued run", err, errlen);
        sqlite3_finalize(pick);
        db_rollback(db);
        return -1;
    }
    sqlite3_finalize(pick);
    if (!found) {
        db_rollback(db);
        return 0;
    }
    sqlite3_stmt *st = db_prepare(db,
                                  "UPDATE runs SET status = 'running', attempts = attempts + 1, started_at = ?2, "
                                  "heartbeat_at = ?2, finished_at = NULL WHERE id = ?1 AND status = 'queued'",
                                  err, errlen);
    if (!st) { db_rollback(db); return -1; }
    bind_failed |= db_bind_text(st, 1, out->id);
    bind_failed |= db_bind_double(st, 2, db_now());
    if (db_step(db, st, bind_failed, "claiming a run", err, errlen) || sqlite3_changes(db) != 1) {
        if (!err[0]) snprintf(err, errlen, "run %s changed state while being claimed", out->id);
        sqlite3_finalize(st);
        db_rollback(db);
        return -1;
    }
    sqlite3_finalize(st);
    if (db_commit(db, err, errlen)) { db_rollback(db); return -1; }
    return 1;
}

int sweeps_mark_running(sqlite3 *db, const char *run_id, char *err, int errlen)
{
    int bind_failed = 0;
    sqlite3_stmt *st = db_prepare(db,
                                  "UPDATE runs SET status = 'running', attempts = attempts + 1, started_at = ?2, "
                                  "heartbeat_at = ?2, finished_at = NULL WHERE id = ?1 AND status = 'queued'",
                                  err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_text(st, 1, run_id);
    bind_failed |= db_bind_double(st, 2, db_now());
    int rc = db_step(db, st, bind_failed, "marking a run running", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int sweeps_heartbeat(sqlite3 *db, const RunHeartbeat *runs, int n, char *err, int errlen)
{
    int bind_failed = 0;
    if (n == 0) return 0;
    if (db_begin(db, err, errlen)) return -1;
    sqlite3_stmt *st = db_prepare(db,
                                  "UPDATE runs SET heartbeat_at = ?2, "
                                  "tokens_done = CASE WHEN ?3 >= 0 THEN ?3 ELSE tokens_done END, "
                                  "tokens_per_s = CASE WHEN ?4 >= 0 THEN ?4 ELSE tokens_per_s END "
                                  "WHERE id = ?1 AND status = 'running'",
                                  err, errlen);
    if (!st) { db_rollback(db); return -1; }
    double now = db_now();
    for (int i = 0; i < n; i++) {
        sqlite3_reset(st);
        bind_failed |= db_bind_text(st, 1, runs[i].id);
        bind_failed |= db_bind_double(st, 2, now);
        bind_failed |= db_bind_int64(st, 3, runs[i].tokens_done);
        bind_failed |= db_bind_double(st, 4, runs[i].tokens_per_s);
        if (db_step(db, st, bind_failed, "heartbeat", err, errlen)) {
            sqlite3_finalize(st);
            db_rollback(db);
            return -1;
        }
    }
    sqlite3_finalize(st);
    if (db_commit(db, err, errlen)) { db_rollback(db); return -1; }
    return 0;
}

int sweeps_requeue_stale(sqlite3 *db, int64_t sweep_id, double stale_after, int *requeued, char *err, int errlen)
{
    int bind_failed = 0;
    *requeued = 0;
    if (db_begin(db, err, errlen)) return -1;
    /* Silence means the scheduler that launched the run died, not that the trainer failed (a
     * trainer's own failure is collected from its exit): the attempt is given back. */
    sqlite3_stmt *st = db_prepare(db,
                                  "UPDATE runs SET status = 'queued', attempts = max(attempts - 1, 0), "
                                  "heartbeat_at = NULL, finished_at = NULL "
                                  "WHERE sweep_id = ?1 AND status = 'running' AND "
                                  "(heartbeat_at IS NULL OR heartbeat_at < ?2 - ?3)",
                                  err, errlen);
    if (!st) { db_rollback(db); return -1; }
    bind_failed |= db_bind_int64(st, 1, sweep_id);
    bind_failed |= db_bind_double(st, 2, db_now());
    bind_failed |= db_bind_double(st, 3, stale_after);
    if (db_step(db, st, bind_failed, "requeueing stale runs", err, errlen)) {
        sqlite3_finalize(st);
        db_rollback(db);
        return -1;
    }
    *requeued = sqlite3_changes(db);
    sqlite3_finalize(st);
    if (db_commit(db, err, errlen)) { db_rollback(db); return -1; }
    return 0;
}

int sweeps_finish(sqlite3 *db, const char *run_id, const char *status, const char *error,
                  const char *stderr_tail, int max_attempts, char *err, int errlen)
{
    int bind_failed = 0;
    /* Parameters: ?1 id, ?2 now, ?3 error, ?4 stderr tail, ?5 max attempts, ?6 status; every
     * statement names ?6, so all six can be bound even where some are unused. */
    const char *sql;
    if (strcmp(status, "failed") == 0)
        sql = "UPDATE runs SET status = CASE WHEN attempts >= ?5 THEN ?6 ELSE 'queued' END, error = ?3, "
              "stderr_tail = ?4, heartbeat_at = NULL, finished_at = ?2 WHERE id = ?1 AND status <> 'cancelled'";
    else if (strcmp(status, "queued") == 0) /* interrupted: the attempt does not count */
        sql = "UPDATE runs SET status = ?6, attempts = max(attempts - 1, 0), heartbeat_at = NULL, "
              "error = coalesce(?3, error), stderr_tail = coalesce(?4, stderr_tail) WHERE id = ?1 "
              "AND status <> 'cancelled'";
    else if (strcmp(status, "done") == 0 || strcmp(status, "diverged") == 0)
        sql = "UPDATE runs SET status = ?6, error = ?3, stderr_tail = ?4, heartbeat_at = NULL, finished_at = ?2 "
              "WHERE id = ?1 AND status <> 'cancelled'";
    else {
        snprintf(err, errlen, "unknown run status '%s'", status);
        return -1;
    }
    sqlite3_stmt *st = db_prepare(db, sql, err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_text(st, 1, run_id);
    bind_failed |= db_bind_double(st, 2, db_now());
    bind_failed |= db_bind_text(st, 3, error);
    bind_failed |= db_bind_text(st, 4, stderr_tail);
    bind_failed |= db_bind_int64(st, 5, max_attempts);
    bind_failed |= db_bind_text(st, 6, status);
    int rc = db_step(db, st, bind_failed, "finishing a run", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int sweeps_discard_results(sqlite3 *db, const char *run_id, char *err, int errlen)
{
    static const char *const statements[] = {
        "DELETE FROM metrics WHERE run_id = ?1",
        "DELETE FROM evals WHERE run_id = ?1",
        "DELETE FROM module_stats WHERE run_id = ?1",
        "DELETE FROM task_scores WHERE run_id = ?1",
        "DELETE FROM token_losses WHERE run_id = ?1",
        "DELETE FROM run_phases WHERE run_id = ?1",
        "UPDATE runs SET steps_done = 0, tokens_done = 0, tokens_per_s = NULL WHERE id = ?1",
    };
    if (db_begin(db, err, errlen)) return -1;
    for (size_t i = 0; i < sizeof statements / sizeof statements[0]; i++) {
        sqlite3_stmt *st = db_prepare(db, statements[i], err, errlen);
        if (!st) { db_rollback(db); return -1; }
        int rc = db_step(db, st, db_bind_text(st, 1, run_id), "discarding a run's results", err, errlen);
        sqlite3_finalize(st);
        if (rc) { db_rollback(db); return -1; }
    }
    return db_commit(db, err, errlen);
}

/* The trainer's columns of `runs`, copied from a run's own database. */
static const char trainer_columns[] =
    "flops_launched, realized_R_train, realized_R_eval, final_train_loss, final_val_loss, initial_loss, "
    "tokens_done, steps_done, tokens_per_s, peak_mem_bytes, device";

/* A run's own database attached to db as schema `run`. 0 or -1 with err. */
static int attach_run_db(sqlite3 *db, const char *run_db_path, char *err, int errlen)
{
    int bind_failed = 0;
    sqlite3_stmt *st = db_prepare(db, "ATTACH DATABASE ?1 AS run", err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_text(st, 1, run_db_path);
    int rc = db_step(db, st, bind_failed, "attaching the run's database", err, errlen);
    sqlite3_finalize(st);
    return rc ? -1 : 0;
}

/* Detaches `run`; rc is the result of the work done while attached, kept when it is already an
 * error (a failed detach then goes unreported), else -1 with err when the detach fails. */
static int detach_run_db(sqlite3 *db, int rc, char *err, int errlen)
{
    char inner[256];
    if (db_exec(db, "DETACH DATABASE run", inner, sizeof inner) && !rc) {
        snprintf(err, errlen, "%s", inner);
        rc = -1;
    }
    return rc;
}

/* Runs each statement with ?1 bound to run_id, stopping at the first failure. 0 or -1 with err. */
static int run_copies(sqlite3 *db, const char *const *sqls, size_t n, const char *run_id, const char *context,
                      char *err, int errlen)
{
    int bind_failed = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_stmt *copy = db_prepare(db, sqls[i], err, errlen);
        if (!copy) return -1;
        bind_failed |= db_bind_text(copy, 1, run_id);
        rc = db_step(db, copy, bind_failed, context, err, errlen);
        sqlite3_finalize(copy);
    }
    return rc;
}

int sweeps_prepare_run_db(sqlite3 *db, const char *run_id, const char *run_db_path, char *err, int errlen)
{
    sqlite3 *run_db = db_open(run_db_path, err, errlen); /* creates the schema; keeps an existing file */
    if (!run_db) return -1;
    db_close(run_db);
    if (attach_run_db(db, run_db_path, err, errlen)) return -1;
    int rc = db_begin(db, err, errlen);
    if (!rc) {
        const char *copies[] = {
            "INSERT OR IGNORE INTO run.sweeps SELECT s.* FROM main.sweeps s JOIN main.runs r ON r.sweep_id = s.id WHERE r.id = ?1",
            "INSERT OR IGNORE INTO run.runs SELECT * FROM main.runs WHERE id = ?1"};
        rc = run_copies(db, copies, sizeof copies / sizeof copies[0], run_id, "seeding the run's database", err,
                        errlen);
        if (rc) db_rollback(db);
        else if (db_commit(db, err, errlen)) { db_rollback(db); rc = -1; }
    }
    return detach_run_db(db, rc, err, errlen);
}

/* Whether the attached run database has the table: 1 yes, 0 no, -1 error. */
static int run_db_has_table(sqlite3 *db, const char *table, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT count(*) FROM run.sqlite_master WHERE type = 'table' AND name = ?1",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, table)) return db_bind_failed(st, "reading the run database's tables", err, errlen);
    int found = -1;
    if (sqlite3_step(st) == SQLITE_ROW) found = sqlite3_column_int(st, 0) > 0;
    else db_fail(db, "reading the run database's tables", err, errlen);
    sqlite3_finalize(st);
    return found;
}

int sweeps_collect(sqlite3 *db, const char *run_id, const char *run_db_path, char *trainer_status,
                   int statuslen, char *err, int errlen)
{
    trainer_status[0] = '\0';
    /* Open it read-only first: a missing file must not be created by ATTACH. */
    sqlite3 *probe = NULL;
    if (sqlite3_open_v2(run_db_path, &probe, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open the run's database", run_db_path);
        sqlite3_close(probe);
        return -1;
    }
    sqlite3_close(probe);
    if (attach_run_db(db, run_db_path, err, errlen)) return -1;
    char sql_update[1024];
    snprintf(sql_update, sizeof sql_update,
             "UPDATE main.runs SET (%s) = (SELECT %s FROM run.runs WHERE id = ?1) "
             "WHERE id = ?1 AND EXISTS (SELECT 1 FROM run.runs WHERE id = ?1)",
             trainer_columns, trainer_columns);
    const char *copies[] = {
        sql_update,
        "INSERT OR REPLACE INTO main.metrics(run_id, step, tokens, train_loss, aux_loss, realized_R, lr, grad_norm, "
        "tokens_per_s) SELECT run_id, step, tokens, train_loss, aux_loss, realized_R, lr, grad_norm, tokens_per_s "
        "FROM run.metrics WHERE run_id = ?1",
        "INSERT OR REPLACE INTO main.evals(run_id, step, split, loss, realized_R) "
        "SELECT run_id, step, split, loss, realized_R FROM run.evals WHERE run_id = ?1",
        "INSERT OR REPLACE INTO main.module_stats(run_id, step, module, mean_abs) "
        "SELECT run_id, step, module, mean_abs FROM run.module_stats WHERE run_id = ?1",
        "INSERT OR REPLACE INTO main.task_scores SELECT * FROM run.task_scores WHERE run_id = ?1",
        "INSERT OR REPLACE INTO main.token_losses SELECT * FROM run.token_losses WHERE run_id = ?1",
        /* The run's database sums its attempts' phase times: its rows replace ours. */
        "INSERT OR REPLACE INTO main.run_phases(run_id, phase, seconds, processes) "
        "SELECT run_id, phase, seconds, processes FROM run.run_phases WHERE run_id = ?1"};
    /* A run database written by a trainer older than schema version 5 has no phase times. */
    int n_copies = sizeof copies / sizeof copies[0];
    int has_phases = run_db_has_table(db, "run_phases", err, errlen);
    if (has_phases < 0) return detach_run_db(db, -1, err, errlen);
    if (!has_phases) n_copies--;
    int rc = db_begin(db, err, errlen);
    if (!rc) rc = run_copies(db, copies, n_copies, run_id, "collecting the run's results", err, errlen);
    if (!rc) {
        sqlite3_stmt *status = db_prepare(db, "SELECT status FROM run.runs WHERE id = ?1", err, errlen);
        if (!status) rc = -1;
        else if (db_bind_text(status, 1, run_id)) {
            rc = db_bind_failed(status, "reading the trainer's status", err, errlen);
        } else {
            if (sqlite3_step(status) == SQLITE_ROW && sqlite3_column_text(status, 0))
                snprintf(trainer_status, statuslen, "%s", (const char *)sqlite3_column_text(status, 0));
            sqlite3_finalize(status);
        }
    }
    if (rc) db_rollback(db);
    else if (db_commit(db, err, errlen)) { db_rollback(db); rc = -1; }
    return detach_run_db(db, rc, err, errlen);
}

int sweeps_run_progress(const char *run_db_path, const char *run_id, int64_t *tokens_done, double *tokens_per_s)
{
    int bind_failed = 0;
    sqlite3 *run_db = NULL;
    if (sqlite3_open_v2(run_db_path, &run_db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(run_db);
        return -1;
    }
    sqlite3_busy_timeout(run_db, 200);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    /* The trainer's run row holds its progress; the latest metrics row is the fallback. */
    if (sqlite3_prepare_v2(run_db,
                           "SELECT tokens_done, tokens_per_s FROM runs WHERE id = ?1 AND tokens_done > 0 "
                           "UNION ALL SELECT * FROM (SELECT tokens, tokens_per_s FROM metrics WHERE run_id = ?1 "
                           "ORDER BY step DESC LIMIT 1)",
                           -1, &st, NULL) == SQLITE_OK) {
        bind_failed |= db_bind_text(st, 1, run_id);
        if (bind_failed) { sqlite3_finalize(st); sqlite3_close(run_db); return -1; }
        if (sqlite3_step(st) == SQLITE_ROW) {
            *tokens_done = sqlite3_column_int64(st, 0);
            *tokens_per_s = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 1);
            rc = 0;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(run_db);
    return rc;
}

int sweeps_counts(sqlite3 *db, int64_t sweep_id, SweepCounts *out, char *err, int errlen)
{
    int bind_failed = 0;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT status, count(*), sum(tokens), "
                                  "sum(CASE WHEN status = 'done' THEN tokens ELSE coalesce(tokens_done, 0) END), "
                                  "sum(CASE WHEN status = 'running' THEN coalesce(tokens_per_s, 0) ELSE 0 END) "
                                  "FROM runs WHERE sweep_id = ?1 GROUP BY status",
                                  err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_int64(st, 1, sweep_id);
    if (bind_failed) return db_bind_failed(st, "counting runs", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(st, 0);
        int n = sqlite3_column_int(st, 1);
        if (strcmp(status, "queued") == 0) out->queued = n;
        else if (strcmp(status, "running") == 0) out->running = n;
        else if (strcmp(status, "done") == 0) out->done = n;
        else if (strcmp(status, "failed") == 0) out->failed = n;
        else if (strcmp(status, "diverged") == 0) out->diverged = n;
        out->total += n;
        out->tokens_planned += sqlite3_column_int64(st, 2);
        if (strcmp(status, "failed") && strcmp(status, "diverged") && strcmp(status, "cancelled"))
            out->tokens_done += sqlite3_column_int64(st, 3);
        else out->tokens_planned -= sqlite3_column_int64(st, 2); /* no more work is coming from those */
        out->tokens_per_s += sqlite3_column_double(st, 4);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "counting runs", err, errlen);
    return 0;
}

int sweeps_phase_totals(sqlite3 *db, int64_t sweep_id, SweepPhaseTotals *out, char *err, int errlen)
{
    int bind_failed = 0;
    memset(out, 0, sizeof *out);
    /* One row per run (its wall time) and per phase: the wall is summed once per run. */
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT r.rowid, r.finished_at - r.started_at, p.phase, p.seconds "
                                  "FROM runs r JOIN run_phases p ON p.run_id = r.id "
                                  "WHERE r.sweep_id = ?1 AND r.status = 'done' AND p.processes = 1 "
                                  "AND r.finished_at IS NOT NULL AND r.started_at IS NOT NULL ORDER BY r.rowid",
                                  err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_int64(st, 1, sweep_id);
    if (bind_failed) return db_bind_failed(st, "reading the runs' phase times", err, errlen);
    int64_t last_run = -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t run = sqlite3_column_int64(st, 0);
        if (run != last_run) {
            last_run = run;
            out->runs++;
            out->wall_seconds += sqlite3_column_double(st, 1);
        }
        const char *phase = (const char *)sqlite3_column_text(st, 2);
        for (int i = 0; i < RUN_N_PHASES; i++)
            if (strcmp(phase, run_phase_names[i]) == 0) out->phase_seconds[i] += sqlite3_column_double(st, 3);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "reading the runs' phase times", err, errlen);
    double inside = 0;
    for (int i = 0; i < RUN_N_PHASES; i++) inside += out->phase_seconds[i];
    out->outside_seconds = out->wall_seconds > inside ? out->wall_seconds - inside : 0;
    st = db_prepare(db,
                    "SELECT count(*), coalesce(sum(finished_at - started_at), 0), "
                    "coalesce(sum(tokens_done / tokens_per_s), 0) FROM runs "
                    "WHERE sweep_id = ?1 AND status = 'done' AND attempts <= 1 AND tokens_per_s > 0 "
                    "AND finished_at IS NOT NULL AND started_at IS NOT NULL "
                    "AND tokens_done / tokens_per_s <= finished_at - started_at",
                    err, errlen);
    if (!st) return -1;
    if (db_bind_int64(st, 1, sweep_id)) return db_bind_failed(st, "reading the runs' step times", err, errlen);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_fail(db, "reading the runs' step times", err, errlen);
        sqlite3_finalize(st);
        return -1;
    }
    out->runs_all = sqlite3_column_int(st, 0);
    out->wall_all = sqlite3_column_double(st, 1);
    out->step_seconds_all = sqlite3_column_double(st, 2);
    sqlite3_finalize(st);
    return 0;
}

int sweeps_retry_failed(sqlite3 *db, int64_t sweep_id, int *n, char *err, int errlen)
{
    int bind_failed = 0;
    sqlite3_stmt *st = db_prepare(db,
                                  "UPDATE runs SET status = 'queued', attempts = 0, finished_at = NULL "
                                  "WHERE sweep_id = ?1 AND status = 'failed'",
                                  err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_int64(st, 1, sweep_id);
    int rc = db_step(db, st, bind_failed, "requeueing failed runs", err, errlen);
    *n = rc ? 0 : sqlite3_changes(db);
    sqlite3_finalize(st);
    return rc;
}

/* Writes one CSV field; text is quoted when it holds a comma, quote or newline. */
static void csv_field(FILE *out, sqlite3_stmt *st, int col, int last)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL: break;
    case SQLITE_INTEGER: fprintf(out, "%lld", (long long)sqlite3_column_int64(st, col)); break;
    case SQLITE_FLOAT: fprintf(out, "%.10g", sqlite3_column_double(st, col)); break;
    default: {
        const char *text = (const char *)sqlite3_column_text(st, col);
        if (strpbrk(text, ",\"\n")) {
            fputc('"', out);
            for (const char *c = text; *c; c++) {
                if (*c == '"') fputc('"', out);
                fputc(*c, out);
            }
            fputc('"', out);
        } else {
            fputs(text, out);
        }
    }
    }
    fputc(last ? '\n' : ',', out);
}

int sweeps_export_csv(sqlite3 *db, int64_t sweep_id, FILE *out, char *err, int errlen)
{
    int bind_failed = 0;
    sqlite3_stmt *st = db_prepare(
        db,
        "SELECT r.id, s.name, r.family, r.parametrization, r.N, r.tokens, "
        "CASE WHEN r.status = 'diverged' THEN 'inf' ELSE coalesce(r.final_val_loss, r.final_train_loss) END, "
        "r.status, coalesce(r.R_target, 1), r.P, r.budget, r.train_flops, r.fwd_flops_per_token, r.d_t, r.d_c, r.n_layers, "
        "r.n_enc, r.n_con, r.n_dec, r.lr, r.seed, r.final_train_loss, r.realized_R_train, r.realized_R_eval "
        "FROM runs r JOIN sweeps s ON s.id = r.sweep_id "
        "WHERE r.sweep_id = ?1 AND r.status IN ('done', 'diverged') ORDER BY r.family, r.budget, r.N, r.rowid",
        err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_int64(st, 1, sweep_id);
    if (bind_failed) return db_bind_failed(st, "exporting runs", err, errlen);
    fputs("id,sweep,family,parametrization,N,D,loss,status,R,P,budget,train_flops,fwd_flops_per_token,d_t,d_c,"
          "n_layers,n_enc,n_con,n_dec,lr,seed,final_train_loss,realized_R_train,realized_R_eval\n",
          out);
    int rc, ncol = sqlite3_column_count(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        for (int c = 0; c < ncol; c++) csv_field(out, st, c, c == ncol - 1);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "exporting runs", err, errlen);
    if (fflush(out) || ferror(out)) {
        snprintf(err, errlen, "cannot write the CSV");
        return -1;
    }
    return 0;
}

int sweeps_list(sqlite3 *db, int64_t sweep_id, const char *status,
                void (*each)(void *ctx, const char *id, const char *out_dir), void *ctx, char *err, int errlen)
{
    int bind_failed = 0;
    sqlite3_stmt *st = db_prepare(db, "SELECT id, coalesce(out_dir, '') FROM runs WHERE sweep_id = ?1 AND status = ?2 ORDER BY rowid",
                                  err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_int64(st, 1, sweep_id);
    bind_failed |= db_bind_text(st, 2, status);
    if (bind_failed) return db_bind_failed(st, "listing runs", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        each(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "listing runs", err, errlen);
    return 0;
}

int sweeps_run_config(sqlite3 *db, const char *run_id, char **text, char *err, int errlen)
{
    int bind_failed = 0;
    *text = NULL;
    sqlite3_stmt *st = db_prepare(db, "SELECT config FROM runs WHERE id = ?1", err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_text(st, 1, run_id);
    if (bind_failed) return db_bind_failed(st, "reading a run config", err, errlen);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        *text = strdup((const char *)sqlite3_column_text(st, 0));
        rc = *text ? 0 : -1;
        if (rc) snprintf(err, errlen, "out of memory");
    } else {
        snprintf(err, errlen, "run %s has no config in the database", run_id);
    }
    sqlite3_finalize(st);
    return rc;
}

double sweeps_measured_flops_per_s(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    double rate = 0;
    if (sqlite3_prepare_v2(db, "SELECT avg(train_flops_per_token * tokens_per_s) FROM runs "
                               "WHERE status = 'done' AND tokens_per_s > 0", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        rate = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return rate;
}

int sweeps_trainer_config(const char *run_db_path, const char *run_id, char **text, char *err, int errlen)
{
    *text = NULL;
    sqlite3 *run_db = NULL;
    if (sqlite3_open_v2(run_db_path, &run_db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open the run's database", run_db_path);
        sqlite3_close(run_db);
        return -1;
    }
    sqlite3_busy_timeout(run_db, 10000);
    int rc = sweeps_run_config(run_db, run_id, text, err, errlen);
    sqlite3_close(run_db);
    return rc;
}

int sweeps_run_losses(sqlite3 *db, const char *run_id, double *final_loss, double *initial_loss, char *err,
                      int errlen)
{
    int bind_failed = 0;
    *final_loss = *initial_loss = NAN;
    sqlite3_stmt *st = db_prepare(db, "SELECT coalesce(final_val_loss, final_train_loss), initial_loss FROM runs WHERE id = ?1",
                                  err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_text(st, 1, run_id);
    if (bind_failed) return db_bind_failed(st, "reading a run's losses", err, errlen);
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) *final_loss = sqlite3_column_double(st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) *initial_loss = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    return 0;
}

int sweeps_run_status(sqlite3 *db, const char *run_id, char *status, int statuslen, char *err, int errlen)
{
    int bind_failed = 0;
    sqlite3_stmt *st = db_prepare(db, "SELECT status FROM runs WHERE id = ?1", err, errlen);
    if (!st) return -1;
    bind_failed |= db_bind_text(st, 1, run_id);
    if (bind_failed) return db_bind_failed(st, "reading a run's status", err, errlen);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(status, statuslen, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = 0;
    } else {
        snprintf(err, errlen, "no run %s in the database", run_id);
    }
    sqlite3_finalize(st);
    return rc;
}
