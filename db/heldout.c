/* db/heldout.c: the SQL of a run's held-out measurements (see db/heldout.h): task scores and
 * per-token losses as little-endian float32 / uint8 blobs. */
#include "db/heldout.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

int heldout_store_task(sqlite3 *db, const char *run_id, const HeldoutTask *t, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "INSERT OR REPLACE INTO task_scores(run_id, task, items, items_available, correct, "
                                  "accuracy, ci_low, ci_high, chance, answer_logprob) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                                  err, errlen);
    if (!st) return -1;
    int bind_failed = db_bind_text(st, 1, run_id) | db_bind_text(st, 2, t->task) | db_bind_int64(st, 3, t->items) |
                      db_bind_count_or_null(st, 4, t->items_available) | db_bind_int64(st, 5, t->correct) |
                      db_bind_double(st, 6, t->accuracy) | db_bind_double(st, 7, t->ci_low) |
                      db_bind_double(st, 8, t->ci_high) | db_bind_real_or_null(st, 9, t->chance) |
                      db_bind_real_or_null(st, 10, t->answer_logprob);
    int rc = db_step(db, st, bind_failed, "storing a task score", err, errlen);
    sqlite3_finalize(st);
    return rc;
}

int heldout_store_tokens(sqlite3 *db, const char *run_id, const HeldoutTokens *t, char *err, int errlen)
{
    if (t->n <= 0) {
        snprintf(err, errlen, "database: storing token losses of %s: no tokens", t->split);
        return -1;
    }
    /* float32 little-endian whatever the host: the bytes are copied one by one. */
    unsigned char *loss = malloc((size_t)t->n * 4);
    if (!loss) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (long i = 0; i < t->n; i++) {
        uint32_t bits;
        memcpy(&bits, &t->loss[i], 4);
        for (int b = 0; b < 4; b++) loss[4 * i + b] = (unsigned char)(bits >> (8 * b));
    }
    char hash[32];
    snprintf(hash, sizeof hash, "%016" PRIx64, t->tokens_hash);
    sqlite3_stmt *st = db_prepare(db,
                                  "INSERT OR REPLACE INTO token_losses(run_id, split, seq_len, windows, tokens_hash, "
                                  "loss, concept_pos) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                  err, errlen);
    if (!st) {
        free(loss);
        return -1;
    }
    int bind_failed = db_bind_text(st, 1, run_id) | db_bind_text(st, 2, t->split) | db_bind_int64(st, 3, t->seq_len) |
                      db_bind_int64(st, 4, t->windows) | db_bind_text(st, 5, hash);
    bind_failed |= sqlite3_bind_blob(st, 6, loss, (int)(t->n * 4), SQLITE_TRANSIENT) != SQLITE_OK;
    bind_failed |= (t->concept_pos ? sqlite3_bind_blob(st, 7, t->concept_pos, (int)t->n, SQLITE_TRANSIENT)
                                   : sqlite3_bind_null(st, 7)) != SQLITE_OK;
    int rc = db_step(db, st, bind_failed, "storing token losses", err, errlen);
    sqlite3_finalize(st);
    free(loss);
    return rc;
}

static double column_or_nan(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int heldout_read_tasks(sqlite3 *db, const char *run_id, void (*each)(void *ctx, const HeldoutTask *t), void *ctx,
                       char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT task, items, coalesce(items_available, -1), correct, accuracy, ci_low, "
                                  "ci_high, chance, answer_logprob FROM task_scores WHERE run_id = ?1 ORDER BY task",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, run_id)) return db_bind_failed(st, "reading task scores", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *task = sqlite3_column_text(st, 0);
        HeldoutTask t = {task ? (const char *)task : "", sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                         sqlite3_column_int64(st, 3), column_or_nan(st, 4), column_or_nan(st, 5),
                         column_or_nan(st, 6), column_or_nan(st, 7), column_or_nan(st, 8)};
        each(ctx, &t);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "reading task scores", err, errlen);
    return 0;
}

void heldout_tokens_free(HeldoutTokensRead *t)
{
    free(t->loss);
    free(t->concept_pos);
    t->loss = NULL;
    t->concept_pos = NULL;
}

int heldout_read_tokens(sqlite3 *db, const char *run_id, const char *split, HeldoutTokensRead *out, char *err,
                        int errlen)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT seq_len, windows, tokens_hash, loss, concept_pos FROM token_losses "
                                  "WHERE run_id = ?1 AND split = ?2",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, run_id) || db_bind_text(st, 2, split))
        return db_bind_failed(st, "reading token losses", err, errlen);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return 1;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return db_fail(db, "reading token losses", err, errlen);
    }
    snprintf(out->split, sizeof out->split, "%s", split);
    out->seq_len = sqlite3_column_int(st, 0);
    out->windows = sqlite3_column_int(st, 1);
    const unsigned char *hash = sqlite3_column_text(st, 2);
    snprintf(out->tokens_hash, sizeof out->tokens_hash, "%s", hash ? (const char *)hash : "");
    const unsigned char *loss = sqlite3_column_blob(st, 3);
    int loss_bytes = sqlite3_column_bytes(st, 3);
    const unsigned char *pos = sqlite3_column_blob(st, 4);
    int pos_bytes = sqlite3_column_bytes(st, 4);
    int result = 0;
    if (loss_bytes <= 0 || loss_bytes % 4 || (pos && pos_bytes != loss_bytes / 4)) {
        snprintf(err, errlen, "database: token losses of run %s, split %s: %d loss bytes and %d position bytes do not "
                 "describe the same tokens", run_id, split, loss_bytes, pos_bytes);
        result = -1;
    } else {
        out->n = loss_bytes / 4;
        out->loss = malloc((size_t)out->n * sizeof *out->loss);
        out->concept_pos = pos ? malloc((size_t)out->n) : NULL;
        if (!out->loss || (pos && !out->concept_pos)) {
            snprintf(err, errlen, "out of memory");
            result = -1;
        } else {
            for (long i = 0; i < out->n; i++) {
                uint32_t bits = 0;
                for (int b = 0; b < 4; b++) bits |= (uint32_t)loss[4 * i + b] << (8 * b);
                memcpy(&out->loss[i], &bits, 4);
            }
            if (pos) memcpy(out->concept_pos, pos, (size_t)out->n);
        }
    }
    sqlite3_finalize(st);
    if (result) heldout_tokens_free(out);
    return result;
}

int heldout_token_splits(sqlite3 *db, const char *run_id, void (*each)(void *ctx, const char *split), void *ctx,
                         char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT split FROM token_losses WHERE run_id = ?1 ORDER BY split", err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, run_id)) return db_bind_failed(st, "listing token-loss splits", err, errlen);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *s = sqlite3_column_text(st, 0);
        each(ctx, s ? (const char *)s : "");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(db, "listing token-loss splits", err, errlen);
    return 0;
}
