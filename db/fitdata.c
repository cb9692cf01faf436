/* db/fitdata.c: the fitter's read-only queries (sweep existence, runs, module statistics,
 * training curves), each parameter bound and checked. */
#include "db/fitdata.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

int fitdb_sweep_exists(sqlite3 *db, const char *sweep, int *exists, char *err, int errlen)
{
    *exists = 0;
    sqlite3_stmt *st = db_prepare(db, "SELECT 1 FROM sweeps WHERE name = ?1", err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, sweep)) return db_bind_failed(st, "binding", err, errlen);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
        return -1;
    }
    *exists = rc == SQLITE_ROW;
    return 0;
}

static double real_or_nan(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static void text_into(sqlite3_stmt *st, int i, char *buf, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(buf, len, "%s", t ? (const char *)t : "");
}

/* The value of "schedule.kind:" in a resolved run config (YAML, one key per line), unquoted. */
static void schedule_kind(const char *config, char *out, size_t len)
{
    out[0] = '\0';
    const char *p = config ? strstr(config, "schedule.kind:") : NULL;
    if (!p) return;
    p += strlen("schedule.kind:");
    while (*p == ' ' || *p == '"' || *p == '\'') p++;
    size_t n = 0;
    while (p[n] && p[n] != '"' && p[n] != '\'' && p[n] != '\n' && p[n] != ' ' && n + 1 < len) n++;
    memcpy(out, p, n);
    out[n] = '\0';
}

int fitdb_read_runs(sqlite3 *db, const char *sweep, FitRunRow **rows, int *n, char *err, int errlen)
{
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT r.id, r.status, r.family, r.parametrization, r.config, r.N, r.tokens,"
                                  " r.budget, r.train_flops, r.R_target, r.realized_R_eval, r.P, r.final_val_loss,"
                                  " r.final_train_loss, r.initial_loss, r.lr, r.seed, r.vocab, r.seq_len, r.d_t,"
                                  " r.d_c, r.n_layers, r.n_enc, r.n_con, r.n_dec,"
                                  " EXISTS (SELECT 1 FROM module_stats m WHERE m.run_id = r.id), r.steps,"
                                  " coalesce(r.tags, s.tags)"
                                  " FROM runs r JOIN sweeps s ON r.sweep_id = s.id"
                                  " WHERE s.name = ?1 AND r.status IN ('done', 'diverged')"
                                  " ORDER BY r.budget, r.N, r.id",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, sweep)) return db_bind_failed(st, "binding", err, errlen);
    int cap = 0, rc;
    FitRunRow *out = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            FitRunRow *grown = realloc(out, (size_t)cap * sizeof *grown);
            if (!grown) { snprintf(err, errlen, "out of memory"); goto fail; }
            out = grown;
        }
        FitRunRow *r = &out[(*n)++];
        memset(r, 0, sizeof *r);
        text_into(st, 0, r->id, sizeof r->id);
        text_into(st, 1, r->status, sizeof r->status);
        text_into(st, 2, r->family, sizeof r->family);
        text_into(st, 3, r->parametrization, sizeof r->parametrization);
        schedule_kind((const char *)sqlite3_column_text(st, 4), r->schedule, sizeof r->schedule);
        r->N = real_or_nan(st, 5);
        r->tokens = real_or_nan(st, 6);
        r->budget = real_or_nan(st, 7);
        r->train_flops = real_or_nan(st, 8);
        r->R_target = real_or_nan(st, 9);
        r->R_eval = real_or_nan(st, 10);
        r->P = real_or_nan(st, 11);
        r->val_loss = real_or_nan(st, 12);
        r->train_loss = real_or_nan(st, 13);
        r->initial_loss = real_or_nan(st, 14);
        r->lr = real_or_nan(st, 15);
        r->seed = sqlite3_column_int64(st, 16);
        int *ints[] = {&r->vocab, &r->seq_len, &r->d_t, &r->d_c, &r->n_layers, &r->n_enc, &r->n_con, &r->n_dec};
        for (int i = 0; i < 8; i++) *ints[i] = sqlite3_column_int(st, 17 + i);
        r->has_module_stats = sqlite3_column_int(st, 25);
        r->steps = sqlite3_column_int64(st, 26);
        text_into(st, 27, r->tags, sizeof r->tags);
    }
    if (rc != SQLITE_DONE) { snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db)); goto fail; }
    sqlite3_finalize(st);
    *rows = out;
    return 0;
fail:
    sqlite3_finalize(st);
    free(out);
    *n = 0;
    return -1;
}

int fitdb_read_module_stats(sqlite3 *db, const char *sweep, FitModuleStat **rows, int *n, char *err, int errlen)
{
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT r.parametrization, r.d_t, r.d_c, m.step, m.module, m.mean_abs"
                                  " FROM module_stats m JOIN runs r ON m.run_id = r.id JOIN sweeps s ON r.sweep_id = s.id"
                                  " WHERE s.name = ?1 AND r.parametrization IN ('mup', 'sp')"
                                  " ORDER BY r.parametrization, m.module, m.step",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, sweep)) return db_bind_failed(st, "binding", err, errlen);
    int cap = 0, rc;
    FitModuleStat *out = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            FitModuleStat *grown = realloc(out, (size_t)cap * sizeof *grown);
            if (!grown) { snprintf(err, errlen, "out of memory"); goto fail; }
            out = grown;
        }
        FitModuleStat *m = &out[(*n)++];
        text_into(st, 0, m->parametrization, sizeof m->parametrization);
        m->d_t = sqlite3_column_int(st, 1);
        m->d_c = sqlite3_column_int(st, 2);
        m->step = sqlite3_column_int(st, 3);
        text_into(st, 4, m->module, sizeof m->module);
        m->mean_abs = sqlite3_column_double(st, 5);
    }
    if (rc != SQLITE_DONE) { snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db)); goto fail; }
    sqlite3_finalize(st);
    *rows = out;
    return 0;
fail:
    sqlite3_finalize(st);
    free(out);
    *n = 0;
    return -1;
}

int fitdb_read_curve(sqlite3 *db, const char *run_id, double **loss, double **lr, long long **step, int *n,
                     char *err, int errlen)
{
    *loss = *lr = NULL;
    *step = NULL;
    *n = 0;
    sqlite3_stmt *st = db_prepare(db, "SELECT step, train_loss, lr FROM metrics WHERE run_id = ?1 ORDER BY step",
                                  err, errlen);
    if (!st) return -1;
    if (db_bind_text(st, 1, run_id)) return db_bind_failed(st, "binding", err, errlen);
    int cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 1) == SQLITE_NULL || sqlite3_column_type(st, 2) == SQLITE_NULL) {
            snprintf(err, errlen, "run %s: metrics row at step %lld has a NULL train_loss or lr", run_id,
                     (long long)sqlite3_column_int64(st, 0));
            goto fail;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            double *a = realloc(*loss, (size_t)cap * sizeof *a);
            if (a) *loss = a;
            double *b = a ? realloc(*lr, (size_t)cap * sizeof *b) : NULL;
            if (b) *lr = b;
            long long *c = b ? realloc(*step, (size_t)cap * sizeof *c) : NULL;
            if (!c) { snprintf(err, errlen, "out of memory"); goto fail; }
            *step = c;
        }
        (*step)[*n] = sqlite3_column_int64(st, 0);
        (*loss)[*n] = sqlite3_column_double(st, 1);
        (*lr)[*n] = sqlite3_column_double(st, 2);
        (*n)++;
    }
    if (rc != SQLITE_DONE) { snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db)); goto fail; }
    sqlite3_finalize(st);
    return 0;
fail:
    sqlite3_finalize(st);
    free(*loss);
    free(*lr);
    free(*step);
    *loss = *lr = NULL;
    *step = NULL;
    *n = 0;
    return -1;
}
