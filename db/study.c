/* db/study.c: the researcher's SQL (see db/study.h): versions, listings, cancel, labels,
 * provenance and live progress. Every statement is parameterized and every bind checked. */
#include "db/study.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

static const char *column_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

int study_latest_version(sqlite3 *db, const char *base_name, int64_t *sweep_id, char *name, int namelen,
                         int *version, char **text, char *err, int errlen)
{
    *text = NULL;
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT id, name, version, config FROM sweeps WHERE coalesce(base_name, name) = ?1 "
                                  "ORDER BY version DESC LIMIT 1",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, base_name)) return db_bind_failed(st, "binding a parameter", err, errlen);
    int rc = sqlite3_step(st), result = 1;
    if (rc == SQLITE_ROW) {
        *sweep_id = sqlite3_column_int64(st, 0);
        snprintf(name, namelen, "%s", column_text(st, 1));
        *version = sqlite3_column_int(st, 2);
        *text = strdup(column_text(st, 3));
        result = *text ? 0 : -1;
        if (!*text) snprintf(err, errlen, "out of memory");
    } else if (rc != SQLITE_DONE) {
        result = db_fail(db, "finding the sweep's versions", err, errlen);
    }
    sqlite3_finalize(st);
    return result;
}

int study_versions(sqlite3 *db, const char *base_name,
                   void (*each)(void *ctx, int64_t sweep_id, const char *name, int version, const char *text),
                   void *ctx, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT id, name, version, coalesce(config, '') FROM sweeps "
                                  "WHERE coalesce(base_name, name) = ?1 ORDER BY version DESC",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, base_name)) return db_bind_failed(st, "binding a parameter", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        each(ctx, sqlite3_column_int64(st, 0), column_text(st, 1), sqlite3_column_int(st, 2), column_text(st, 3));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "listing the sweep's versions", err, errlen);
    return 0;
}

int study_record_version(sqlite3 *db, const char *base_name, int version, const char *name, const char *file,
                         const char *text, int64_t *sweep_id, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "INSERT INTO sweeps(name, file, config, created_at, base_name, version) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                                  "ON CONFLICT(name) DO UPDATE SET file = excluded.file, config = excluded.config, "
                                  "base_name = excluded.base_name, version = excluded.version RETURNING id",
                                  err, errlen);
    if (!st) return -1;
    int rc = -1;
    if (db_bind_text(st, 1, name) || db_bind_text(st, 2, file) || db_bind_text(st, 3, text) ||
        db_bind_double(st, 4, db_now()) || db_bind_text(st, 5, base_name) ||
        db_bind_int64(st, 6, version))
        db_fail(db, "binding", err, errlen);
    else if (sqlite3_step(st) != SQLITE_ROW)
        db_fail(db, "recording the sweep", err, errlen);
    else {
        *sweep_id = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The settings an extension replaces stay in meta, one pair of rows per extension: the key
 * "sweep_settings:ID:K" holds the text, "sweep_file:ID:K" the file (K = 1, 2, ... per sweep). A
 * key/value table already there, so no schema change; nothing else reads these keys. */
int study_extend_version(sqlite3 *db, int64_t sweep_id, const char *file, const char *text, int *extension,
                         char *err, int errlen)
{
    if (db_begin(db, err, errlen)) return -1;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "sweep_settings:%lld:", (long long)sweep_id);
    sqlite3_stmt *count = db_prepare(db, "SELECT count(*) FROM meta WHERE substr(key, 1, length(?1)) = ?1", err,
                                     errlen);
    if (!count) { db_rollback(db); return -1; }
    int bind_failed = db_bind_text(count, 1, prefix);
    int rc = db_step(db, count, bind_failed, "counting the sweep's extensions", err, errlen);
    int k = rc == 0 ? sqlite3_column_int(count, 0) + 1 : 0;
    sqlite3_finalize(count);
    if (rc) { db_rollback(db); return -1; }
    char settings_key[64], file_key[64];
    snprintf(settings_key, sizeof settings_key, "sweep_settings:%lld:%d", (long long)sweep_id, k);
    snprintf(file_key, sizeof file_key, "sweep_file:%lld:%d", (long long)sweep_id, k);
    /* The replaced values are copied from the row itself, so what is kept is exactly what was stored. */
    sqlite3_stmt *keep = db_prepare(db,
                                    "INSERT INTO meta(key, value) SELECT ?2, coalesce(config, '') FROM sweeps WHERE id = ?1 "
                                    "UNION ALL SELECT ?3, coalesce(file, '') FROM sweeps WHERE id = ?1",
                                    err, errlen);
    if (!keep) { db_rollback(db); return -1; }
    bind_failed = db_bind_int64(keep, 1, sweep_id) | db_bind_text(keep, 2, settings_key) |
                  db_bind_text(keep, 3, file_key);
    rc = db_step(db, keep, bind_failed, "keeping the sweep's replaced settings", err, errlen);
    int kept = sqlite3_changes(db);
    sqlite3_finalize(keep);
    if (rc == 0 && kept != 2) rc = -1, snprintf(err, errlen, "database: no sweep with id %lld", (long long)sweep_id);
    if (rc) { db_rollback(db); return -1; }
    sqlite3_stmt *update = db_prepare(db, "UPDATE sweeps SET file = ?2, config = ?3 WHERE id = ?1", err, errlen);
    if (!update) { db_rollback(db); return -1; }
    bind_failed = db_bind_int64(update, 1, sweep_id) | db_bind_text(update, 2, file) | db_bind_text(update, 3, text);
    rc = db_step(db, update, bind_failed, "recording the extended settings", err, errlen);
    sqlite3_finalize(update);
    if (rc || db_commit(db, err, errlen)) { db_rollback(db); return -1; }
    *extension = k;
    return 0;
}

int study_replaced_settings(sqlite3 *db, int64_t sweep_id,
                            void (*each)(void *ctx, int extension, const char *file, const char *text), void *ctx,
                            char *err, int errlen)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "sweep_settings:%lld:", (long long)sweep_id);
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT CAST(substr(t.key, length(?1) + 1) AS INTEGER) AS k, coalesce(f.value, ''), "
                                  "t.value FROM meta t LEFT JOIN meta f "
                                  "ON f.key = 'sweep_file:' || substr(t.key, length('sweep_settings:') + 1) "
                                  "WHERE substr(t.key, 1, length(?1)) = ?1 ORDER BY k",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, prefix)) return db_bind_failed(st, "binding a parameter", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        each(ctx, sqlite3_column_int(st, 0), column_text(st, 1), column_text(st, 2));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "reading the sweep's replaced settings", err, errlen);
    return 0;
}

int study_list_sweeps(sqlite3 *db, SweepListing **out, int *n, char *err, int errlen)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT sweep, version, runs, coalesce(done, 0), coalesce(running, 0), "
                                  "coalesce(queued, 0), coalesce(failed, 0), coalesce(diverged, 0), "
                                  "coalesce(cancelled, 0), coalesce(tags, '') FROM sweep_summary ORDER BY created_at",
                                  err, errlen);
    if (!st) return -1;
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            SweepListing *grown = realloc(*out, (size_t)cap * sizeof **out);
            if (!grown) { sqlite3_finalize(st); snprintf(err, errlen, "out of memory"); return -1; }
            *out = grown;
        }
        SweepListing *s = &(*out)[(*n)++];
        snprintf(s->name, sizeof s->name, "%s", column_text(st, 0));
        s->version = sqlite3_column_int(st, 1);
        s->runs = sqlite3_column_int(st, 2);
        s->done = sqlite3_column_int(st, 3);
        s->running = sqlite3_column_int(st, 4);
        s->queued = sqlite3_column_int(st, 5);
        s->failed = sqlite3_column_int(st, 6);
        s->diverged = sqlite3_column_int(st, 7);
        s->cancelled = sqlite3_column_int(st, 8);
        snprintf(s->tags, sizeof s->tags, "%s", column_text(st, 9));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "listing sweeps", err, errlen);
    return 0;
}

/* Levenshtein distance of two short strings (names are under 256 bytes). */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 255 || lb > 255) return 1 << 20;
    int row[256];
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

int study_suggest_sweeps(sqlite3 *db, const char *name, char (*names)[256], int max)
{
    char err[256];
    SweepListing *all;
    int n, found = 0;
    if (study_list_sweeps(db, &all, &n, err, sizeof err)) return 0;
    int *dist = calloc(n ? (size_t)n : 1, sizeof *dist);
    if (!dist) { free(all); return 0; }
    size_t len = strlen(name);
    for (int i = 0; i < n; i++) {
        dist[i] = edit_distance(name, all[i].name);
        int prefix = len >= 3 && (strncmp(all[i].name, name, len) == 0 || strncmp(name, all[i].name, strlen(all[i].name)) == 0);
        if (dist[i] > (int)(len + 1) / 2 && !prefix) dist[i] = -1;
    }
    while (found < max) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (dist[i] >= 0 && (best < 0 || dist[i] < dist[best])) best = i;
        if (best < 0) break;
        snprintf(names[found++], 256, "%s", all[best].name);
        dist[best] = -1;
    }
    free(dist);
    free(all);
    return found;
}

int study_cancel(sqlite3 *db, int64_t sweep_id, const char *run_id, int *n, char *err, int errlen)
{
    *n = 0;
    sqlite3_stmt *st = db_prepare(db,
                                  "UPDATE runs SET status = 'cancelled', finished_at = ?3, heartbeat_at = NULL, "
                                  "error = 'cancelled' WHERE sweep_id = ?1 AND (?2 IS NULL OR id = ?2) AND "
                                  "status IN ('queued', 'running')",
                                  err, errlen);
    if (!st) return -1;
    int rc = -1;
    if (db_bind_int64(st, 1, sweep_id) || db_bind_text(st, 2, run_id) ||
        db_bind_double(st, 3, db_now()))
        db_fail(db, "binding", err, errlen);
    else if (sqlite3_step(st) != SQLITE_DONE)
        db_fail(db, "cancelling runs", err, errlen);
    else {
        *n = sqlite3_changes(db);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int study_label(sqlite3 *db, int64_t sweep_id, const char *run_id, const char *tags, const char *note, char *err,
                int errlen)
{
    const char *sql = run_id ? "UPDATE runs SET tags = coalesce(?2, tags), notes = coalesce(?3, notes) "
                               "WHERE sweep_id = ?1 AND id = ?4"
                             : "UPDATE sweeps SET tags = coalesce(?2, tags), notes = coalesce(?3, notes) "
                               "WHERE id = ?1 AND ?4 IS NULL";
    sqlite3_stmt *st = db_prepare(db, sql, err, errlen);
    if (!st) return -1;
    int rc = -1;
    if (db_bind_int64(st, 1, sweep_id) || db_bind_text(st, 2, tags) || db_bind_text(st, 3, note) ||
        db_bind_text(st, 4, run_id))
        db_fail(db, "binding", err, errlen);
    else if (sqlite3_step(st) != SQLITE_DONE)
        db_fail(db, "labelling", err, errlen);
    else
        rc = sqlite3_changes(db) > 0 ? 0 : 1;
    sqlite3_finalize(st);
    if (rc == 1) snprintf(err, errlen, "no run %s in this sweep", run_id ? run_id : "");
    return rc;
}

int study_record_provenance(sqlite3 *db, const char *run_id, const RunProvenance *p, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "UPDATE runs SET git_commit = ?2, git_dirty = ?3, host = ?4, gpu_model = ?5, "
                                  "gpu_driver = ?6, corpus_hash = ?7, tokenizer_hash = ?8 WHERE id = ?1",
                                  err, errlen);
    if (!st) return -1;
    int rc = -1;
    if (db_bind_text(st, 1, run_id) || db_bind_text(st, 2, p->git_commit) || db_bind_int64(st, 3, p->git_dirty) ||
        db_bind_text(st, 4, p->host) || db_bind_text(st, 5, p->gpu_model) || db_bind_text(st, 6, p->gpu_driver) ||
        db_bind_text(st, 7, p->corpus_hash) || db_bind_text(st, 8, p->tokenizer_hash))
        db_fail(db, "binding", err, errlen);
    else if (sqlite3_step(st) != SQLITE_DONE)
        db_fail(db, "recording provenance", err, errlen);
    else
        rc = 0;
    sqlite3_finalize(st);
    return rc;
}

/* The largest step already copied for the run from `table` (-1 when none). */
static int64_t copied_step(sqlite3 *db, const char *table, const char *run_id)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT coalesce(max(step), -1) FROM %s WHERE run_id = ?1", table);
    sqlite3_stmt *st = NULL;
    int64_t step = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && !db_bind_text(st, 1, run_id) &&
        sqlite3_step(st) == SQLITE_ROW)
        step = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return step;
}

/* Copies rows of one query on the run's database into the main one; the queries' columns line
 * up with the insert's parameters. 0, -1 on a main-database failure, 1 when the run's database
 * could not be read (skipped). */
static int copy_rows(sqlite3 *run_db, sqlite3 *db, const char *select_sql, const char *insert_sql, int n_cols,
                     const char *run_id, int64_t after_step, char *err, int errlen)
{
    sqlite3_stmt *from = NULL, *to = NULL;
    if (sqlite3_prepare_v2(run_db, select_sql, -1, &from, NULL) != SQLITE_OK) { sqlite3_finalize(from); return 1; }
    if (db_bind_text(from, 1, run_id) || db_bind_int64(from, 2, after_step)) {
        sqlite3_finalize(from);
        return 1;
    }
    to = db_prepare(db, insert_sql, err, errlen);
    if (!to) { sqlite3_finalize(from); return -1; }
    int rc, result = 0;
    while ((rc = sqlite3_step(from)) == SQLITE_ROW) {
        sqlite3_reset(to);
        if (db_bind_text(to, 1, run_id)) { result = db_fail(db, "binding", err, errlen); break; }
        for (int c = 0; c < n_cols && !result; c++)
            if (sqlite3_bind_value(to, c + 2, sqlite3_column_value(from, c)) != SQLITE_OK)
                result = db_fail(db, "binding", err, errlen);
        if (result) break;
        if (sqlite3_step(to) != SQLITE_DONE) { result = db_fail(db, "copying live rows", err, errlen); break; }
    }
    if (!result && rc != SQLITE_DONE) result = 1; /* the trainer holds a lock: next poll */
    sqlite3_finalize(from);
    sqlite3_finalize(to);
    return result;
}

int study_copy_progress(sqlite3 *db, const char *run_id, const char *run_db_path, char *err, int errlen)
{
    sqlite3 *run_db = NULL;
    if (sqlite3_open_v2(run_db_path, &run_db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(run_db);
        return 0;
    }
    sqlite3_busy_timeout(run_db, 200);
    int64_t last_metric = copied_step(db, "metrics", run_id), last_eval = copied_step(db, "evals", run_id);
    int rc = db_begin(db, err, errlen);
    if (rc) { sqlite3_close(run_db); return -1; }
    /* The read transaction on the run's database gives one consistent snapshot of its rows. The
     * newest step already copied is copied again (INSERT OR REPLACE: the same values), so rows of
     * that step written after the last poll (another validation split) are not skipped. */
    sqlite3_exec(run_db, "BEGIN", NULL, NULL, NULL);
    int r1 = copy_rows(run_db, db,
                       "SELECT step, tokens, train_loss, aux_loss, realized_R, lr, grad_norm, tokens_per_s FROM metrics "
                       "WHERE run_id = ?1 AND step >= ?2 ORDER BY step",
                       "INSERT OR REPLACE INTO metrics(run_id, step, tokens, train_loss, aux_loss, realized_R, lr, "
                       "grad_norm, tokens_per_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                       8, run_id, last_metric, err, errlen);
    int r2 = r1 < 0 ? 0
                    : copy_rows(run_db, db,
                                "SELECT step, split, loss, realized_R FROM evals WHERE run_id = ?1 AND step >= ?2",
                                "INSERT OR REPLACE INTO evals(run_id, step, split, loss, realized_R) "
                                "VALUES (?1, ?2, ?3, ?4, ?5)",
                                4, run_id, last_eval, err, errlen);
    int r3 = 0;
    if (r1 >= 0 && r2 >= 0) {
        /* Steps done: the trainer's run row, else the newest metrics row copied. */
        sqlite3_stmt *from = NULL;
        int64_t steps = -1, tokens = -1;
        if (sqlite3_prepare_v2(run_db, "SELECT steps_done, tokens_done FROM runs WHERE id = ?1", -1, &from, NULL) ==
                SQLITE_OK &&
            !db_bind_text(from, 1, run_id) && sqlite3_step(from) == SQLITE_ROW) {
            steps = sqlite3_column_int64(from, 0);
            tokens = sqlite3_column_int64(from, 1);
        }
        sqlite3_finalize(from);
        sqlite3_stmt *to = db_prepare(db,
                                      "UPDATE runs SET "
                                      "steps_done = max(coalesce(steps_done, 0), ?2, "
                                      "  coalesce((SELECT max(step) + 1 FROM metrics WHERE run_id = ?1), 0)), "
                                      "tokens_done = max(coalesce(tokens_done, 0), ?3, "
                                      "  coalesce((SELECT max(tokens) FROM metrics WHERE run_id = ?1), 0)) "
                                      "WHERE id = ?1 AND status = 'running'",
                                      err, errlen);
        if (!to) r3 = -1;
        else {
            if (db_bind_text(to, 1, run_id) || db_bind_int64(to, 2, steps) ||
                db_bind_int64(to, 3, tokens))
                r3 = db_fail(db, "binding", err, errlen);
            else if (sqlite3_step(to) != SQLITE_DONE)
                r3 = db_fail(db, "updating progress", err, errlen);
            sqlite3_finalize(to);
        }
    }
    sqlite3_exec(run_db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(run_db);
    if (r1 < 0 || r2 < 0 || r3 < 0) {
        db_rollback(db);
        return -1;
    }
    if (db_commit(db, err, errlen)) { db_rollback(db); return -1; }
    return 0;
}

static double column_or_nan(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int study_list_runs(sqlite3 *db, int64_t sweep_id, void (*each)(void *ctx, const RunListing *run), void *ctx,
                    char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT id, status, family, coalesce(error, ''), coalesce(stderr_tail, ''), "
                                  "coalesce(tags, ''), N, coalesce(R_target, 1), P, budget, lr, "
                                  "coalesce(final_val_loss, final_train_loss), seed, steps, steps_done, attempts "
                                  "FROM runs WHERE sweep_id = ?1 ORDER BY rowid",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_int64(st, 1, sweep_id)) return db_bind_failed(st, "binding a parameter", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        RunListing r = {column_text(st, 0), column_text(st, 1), column_text(st, 2), column_text(st, 3),
                        column_text(st, 4), column_text(st, 5), sqlite3_column_double(st, 6),
                        sqlite3_column_double(st, 7), sqlite3_column_double(st, 8), sqlite3_column_double(st, 9),
                        sqlite3_column_double(st, 10),
                        column_or_nan(st, 11),
                        sqlite3_column_int64(st, 12), sqlite3_column_int64(st, 13), sqlite3_column_int64(st, 14),
                        sqlite3_column_int(st, 15)};
        each(ctx, &r);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "listing runs", err, errlen);
    return 0;
}

int study_find_run(sqlite3 *db, const char *prefix, char *id, int idlen, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 LIMIT 2", err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, prefix)) return db_bind_failed(st, "binding a parameter", err, errlen);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == 0) snprintf(id, idlen, "%s", column_text(st, 0));
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "finding the run", err, errlen);
    if (n == 0) { snprintf(err, errlen, "no run whose id starts with '%s'", prefix); return 1; }
    if (n > 1) { snprintf(err, errlen, "several runs' ids start with '%s': give more of it", prefix); return 2; }
    return 0;
}

int study_run_fields(sqlite3 *db, const char *run_id, void (*each)(void *ctx, const char *name, const char *value),
                     void *ctx, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT s.*, r.config, r.out_dir, r.stderr_tail FROM run_summary s "
                                  "JOIN runs r ON r.id = s.run WHERE s.run = ?1",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, run_id)) return db_bind_failed(st, "binding a parameter", err, errlen);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++)
            if (sqlite3_column_type(st, c) != SQLITE_NULL) each(ctx, sqlite3_column_name(st, c), column_text(st, c));
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) { snprintf(err, errlen, "no run %s", run_id); return 1; }
    if (rc != SQLITE_ROW) return db_fail(db, "reading the run", err, errlen);
    return 0;
}

int study_run_curve(sqlite3 *db, const char *run_id,
                    void (*each)(void *ctx, int64_t step, int64_t tokens, double train_loss, double val_loss),
                    void *ctx, char *err, int errlen)
{
    /* Evaluation steps without a metrics row (the first and last evaluations) are included. */
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT step, max(tokens), max(train_loss), max(val_loss) FROM ("
                                  " SELECT step, tokens, train_loss, NULL AS val_loss FROM metrics WHERE run_id = ?1"
                                  " UNION ALL SELECT step, NULL, NULL, loss FROM evals WHERE run_id = ?1 AND split = 'val')"
                                  " GROUP BY step ORDER BY step",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, run_id)) return db_bind_failed(st, "binding a parameter", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        each(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
             sqlite3_column_type(st, 2) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 2),
             sqlite3_column_type(st, 3) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 3));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "reading the curve", err, errlen);
    return 0;
}

int study_report_runs(sqlite3 *db, int64_t sweep_id, void (*each)(void *ctx, const ReportRun *run), void *ctx,
                      char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT id, status, family, N, P, coalesce(R_target, 1), budget, tokens, lr, "
                                  "coalesce(final_val_loss, final_train_loss), finished_at - started_at, "
                                  "train_flops_per_token, realized_R_train, realized_R_eval, seed, steps, steps_done, "
                                  "parametrization, config, coalesce(d_t, -1), coalesce(d_c, -1) "
                                  "FROM runs WHERE sweep_id = ?1 ORDER BY rowid",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_int64(st, 1, sweep_id)) return db_bind_failed(st, "binding a parameter", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ReportRun r = {column_text(st, 0), column_text(st, 1), column_text(st, 2), column_or_nan(st, 3),
                       column_or_nan(st, 4), column_or_nan(st, 5), column_or_nan(st, 6), column_or_nan(st, 7),
                       column_or_nan(st, 8), column_or_nan(st, 9), column_or_nan(st, 10), column_or_nan(st, 11),
                       column_or_nan(st, 12), column_or_nan(st, 13), sqlite3_column_int64(st, 14),
                       sqlite3_column_int64(st, 15), sqlite3_column_int64(st, 16), column_text(st, 17),
                       column_text(st, 18), sqlite3_column_int64(st, 19), sqlite3_column_int64(st, 20)};
        each(ctx, &r);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "reading the runs", err, errlen);
    return 0;
}

int study_latest_fits(sqlite3 *db, const char *source,
                      void (*each)(void *ctx, const char *law, double created_at, const char *json), void *ctx,
                      char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT law, created_at, json FROM fits f WHERE source = ?1 AND id = "
                                  "(SELECT max(id) FROM fits g WHERE g.source = f.source AND g.law = f.law) ORDER BY law",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, source)) return db_bind_failed(st, "binding a parameter", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        each(ctx, column_text(st, 0), sqlite3_column_double(st, 1), column_text(st, 2));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "reading the fits", err, errlen);
    return 0;
}

int study_provenance(sqlite3 *db, int64_t sweep_id,
                     void (*each)(void *ctx, const char *column, const char *value, int runs), void *ctx,
                     char *err, int errlen)
{
    static const char *const columns[] = {"git_commit", "git_dirty", "host", "gpu_model", "gpu_driver",
                                          "corpus_hash", "tokenizer_hash"};
    for (size_t c = 0; c < sizeof columns / sizeof columns[0]; c++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT coalesce(%s, ''), count(*) FROM runs WHERE sweep_id = ?1 GROUP BY 1 ORDER BY 2 DESC",
                 columns[c]);
        sqlite3_stmt *st = db_prepare(db, sql, err, errlen);
        if (!st) return -1;
        if (db_bind_int64(st, 1, sweep_id)) {
            sqlite3_finalize(st);
            return db_fail(db, "binding", err, errlen);
        }
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) each(ctx, columns[c], column_text(st, 0), sqlite3_column_int(st, 1));
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return db_fail(db, "reading provenance", err, errlen);
    }
    return 0;
}
