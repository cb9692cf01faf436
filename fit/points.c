/* fit/points.c: reading fit observations from a CSV file or from a sweep's finished runs, and
 * the checks (values, design) that must pass before any fit is attempted. */
#include "fit/points.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "fit/csv.h"

void fit_data_free(FitData *d)
{
    free(d->pts);
    d->pts = NULL;
    d->n = d->cap = 0;
}

int fit_data_push(FitData *d, const FitPoint *p)
{
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 64;
        FitPoint *grown = realloc(d->pts, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        d->pts = grown;
        d->cap = cap;
    }
    d->pts[d->n++] = *p;
    return 0;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

enum { COL_N, COL_D, COL_LOSS, COL_R, COL_P, COL_C, COL_FAMILY, COL_COUNT };
static const char *const column_names[COL_COUNT] = {"N", "D", "loss", "R", "P", "C", "family"};

int fit_data_read_csv(const char *path, FitData *out, char *err, int errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(out->source, sizeof out->source, "csv:%s", path);
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    char line[8192];
    char *fields[64];
    int col[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++) col[c] = -1;
    int chinchilla_layout = 0, lineno = 1;
    if (!fgets(line, sizeof line, f)) {
        snprintf(err, errlen, "%s: empty file (expected a header line)", path);
        fclose(f);
        return -1;
    }
    int nf = csv_split(line, fields, 64);
    for (int i = 0; i < nf; i++) {
        for (int c = 0; c < COL_COUNT; c++)
            if (!strcasecmp(fields[i], column_names[c])) col[c] = i;
        if (!strcasecmp(fields[i], "budget")) col[COL_C] = i;
        if (!strcasecmp(fields[i], "Model Size")) { col[COL_N] = i; chinchilla_layout = 1; }
        if (!strcasecmp(fields[i], "Training FLOP")) { col[COL_C] = i; chinchilla_layout = 1; }
    }
    const char *missing = col[COL_N] < 0 ? "N (or \"Model Size\")" : col[COL_LOSS] < 0 ? "loss"
                          : (col[COL_D] < 0 && col[COL_C] < 0) ? "D (or C / \"Training FLOP\")" : NULL;
    if (missing) {
        snprintf(err, errlen, "%s:1: header lacks column %s", path, missing);
        fclose(f);
        return -1;
    }
    snprintf(out->c_column, sizeof out->c_column, "%s", col[COL_C] >= 0 ? fields[col[COL_C]] : "6ND");
    (void)chinchilla_layout;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line longer than %zu characters", path, lineno, sizeof line - 1);
            goto fail;
        }
        if (csv_blank(line)) continue;
        nf = csv_split(line, fields, 64);
        FitPoint p = {.R = 1.0, .P = 0.0, .line = lineno};
        snprintf(p.id, sizeof p.id, "line %d", lineno);
        double v[COL_COUNT];
        for (int c = 0; c < COL_COUNT; c++) {
            if (col[c] < 0 || c == COL_FAMILY) continue;
            if (col[c] >= nf) {
                snprintf(err, errlen, "%s:%d: missing field %s", path, lineno, column_names[c]);
                goto fail;
            }
            if (csv_number(fields[col[c]], &v[c])) {
                snprintf(err, errlen, "%s:%d: column %s: not a finite number: \"%s\"", path, lineno,
                         column_names[c], fields[col[c]]);
                goto fail;
            }
            int ok = c == COL_P ? (v[c] >= 0 && v[c] < 1) : c == COL_R ? v[c] >= 1 : v[c] > 0;
            if (!ok) {
                snprintf(err, errlen, "%s:%d: column %s: %s (got %s)", path, lineno, column_names[c],
                         c == COL_P ? "must be in [0, 1)" : c == COL_R ? "must be >= 1" : "must be positive",
                         fields[col[c]]);
                goto fail;
            }
        }
        p.N = v[COL_N];
        p.loss = v[COL_LOSS];
        if (col[COL_R] >= 0) p.R = v[COL_R];
        if (col[COL_P] >= 0) p.P = v[COL_P];
        if (col[COL_C] >= 0) p.C = v[COL_C];
        p.D = col[COL_D] >= 0 ? v[COL_D] : p.C / (6.0 * p.N);
        if (col[COL_C] < 0) p.C = 6.0 * p.N * p.D;
        p.dense = p.P == 0.0;
        if (col[COL_FAMILY] >= 0) {
            const char *fam = col[COL_FAMILY] < nf ? fields[col[COL_FAMILY]] : "";
            if (!strcmp(fam, "dense")) p.dense = 1;
            else if (!strcmp(fam, "dlcm")) p.dense = 0;
            else {
                snprintf(err, errlen, "%s:%d: column family: must be dense or dlcm (got \"%s\")", path, lineno, fam);
                goto fail;
            }
        }
        if (p.dense && (p.P != 0.0 || p.R != 1.0)) {
            snprintf(err, errlen, "%s:%d: a dense row must have P = 0 and R = 1", path, lineno);
            goto fail;
        }
        if (!p.dense && p.P <= 0.0) {
            snprintf(err, errlen, "%s:%d: column P: a dlcm row needs P > 0", path, lineno);
            goto fail;
        }
        if (fit_data_push(out, &p)) { snprintf(err, errlen, "%s: out of memory", path); goto fail; }
    }
    if (ferror(f)) { snprintf(err, errlen, "%s: read error", path); goto fail; }
    fclose(f);
    out->n_read = out->n;
    return 0;
fail:
    fclose(f);
    fit_data_free(out);
    return -1;
}

/* ---- database ----------------------------------------------------------------------------- */

/* Reads a column that must be a positive number; names the run and column otherwise. */
static int column_positive(sqlite3_stmt *st, int i, const char *run, const char *name, double *out,
                           char *err, int errlen)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        snprintf(err, errlen, "run %s: column %s is NULL", run, name);
        return -1;
    }
    double v = sqlite3_column_double(st, i);
    if (!isfinite(v) || v <= 0) {
        snprintf(err, errlen, "run %s: column %s must be positive and finite (got %g)", run, name, v);
        return -1;
    }
    *out = v;
    return 0;
}

int fit_data_read_sweep(sqlite3 *db, const char *sweep, const char *family_filter, int use_train,
                        FitData *out, char *err, int errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(out->source, sizeof out->source, "sweep:%s", sweep);
    snprintf(out->c_column, sizeof out->c_column, "budget");
    char inner[512];
    sqlite3_stmt *st = db_prepare(db, "SELECT id FROM sweeps WHERE name = ?1", inner, sizeof inner);
    if (!st) { snprintf(err, errlen, "%s", inner); return -1; }
    sqlite3_bind_text(st, 1, sweep, -1, SQLITE_TRANSIENT);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!found) { snprintf(err, errlen, "no sweep named \"%s\" in the database", sweep); return -1; }
    st = db_prepare(db,
                    "SELECT r.id, r.family, r.N, r.tokens, r.R_target, r.P, r.budget, r.final_val_loss,"
                    " r.final_train_loss, r.vocab, r.seq_len, r.train_flops"
                    " FROM runs r JOIN sweeps s ON r.sweep_id = s.id"
                    " WHERE s.name = ?1 AND r.status = 'done' AND (?2 IS NULL OR r.family = ?2)"
                    " ORDER BY r.budget, r.N, r.id",
                    inner, sizeof inner);
    if (!st) { snprintf(err, errlen, "%s", inner); return -1; }
    sqlite3_bind_text(st, 1, sweep, -1, SQLITE_TRANSIENT);
    if (family_filter) sqlite3_bind_text(st, 2, family_filter, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 2);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        FitPoint p = {0};
        snprintf(p.id, sizeof p.id, "%s", (const char *)sqlite3_column_text(st, 0));
        const char *family = (const char *)sqlite3_column_text(st, 1);
        p.dense = family && !strcmp(family, "dense");
        int loss_col = use_train ? 8 : 7;
        if (column_positive(st, 2, p.id, "N", &p.N, err, errlen) ||
            column_positive(st, 3, p.id, "tokens", &p.D, err, errlen) ||
            column_positive(st, loss_col, p.id, use_train ? "final_train_loss" : "final_val_loss", &p.loss,
                            err, errlen))
            goto fail;
        if (p.dense) {
            p.R = 1.0;
            p.P = 0.0;
        } else {
            if (column_positive(st, 4, p.id, "R_target", &p.R, err, errlen) ||
                column_positive(st, 5, p.id, "P", &p.P, err, errlen))
                goto fail;
            if (p.R < 1.0 || p.P >= 1.0) {
                snprintf(err, errlen, "run %s: needs R_target >= 1 and P < 1 (got R=%g P=%g)", p.id, p.R, p.P);
                goto fail;
            }
        }
        /* The sweep's budget groups runs; a run without one falls back to its realized compute. */
        if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
            if (column_positive(st, 6, p.id, "budget", &p.C, err, errlen)) goto fail;
        } else if (column_positive(st, 11, p.id, "train_flops (budget is NULL)", &p.C, err, errlen)) {
            goto fail;
        }
        int vocab = sqlite3_column_int(st, 9), seq_len = sqlite3_column_int(st, 10);
        if (out->n == 0) {
            out->vocab = vocab;
            out->seq_len = seq_len;
        } else if (vocab != out->vocab || seq_len != out->seq_len) {
            out->vocab = out->seq_len = -1; /* mixed: the query must be told which to use */
        }
        if (fit_data_push(out, &p)) { snprintf(err, errlen, "out of memory"); goto fail; }
    }
    if (rc != SQLITE_DONE) { snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db)); goto fail; }
    sqlite3_finalize(st);
    if (out->vocab < 0) out->vocab = out->seq_len = 0;
    out->n_read = out->n;
    if (out->n == 0) {
        snprintf(err, errlen, "sweep \"%s\" has no finished runs (status 'done')%s%s", sweep,
                 family_filter ? " of family " : "", family_filter ? family_filter : "");
        fit_data_free(out);
        return -1;
    }
    return 0;
fail:
    sqlite3_finalize(st);
    fit_data_free(out);
    return -1;
}

/* ---- selection and checks ----------------------------------------------------------------- */

static int by_loss_desc(const void *a, const void *b)
{
    double x = ((const FitPoint *)a)->loss, y = ((const FitPoint *)b)->loss;
    return (x < y) - (x > y);
}

static int by_line(const void *a, const void *b)
{
    const FitPoint *x = a, *y = b;
    return (x->line > y->line) - (x->line < y->line);
}

void fit_data_drop_top_loss(FitData *d, int k)
{
    if (k <= 0) return;
    if (k > d->n) k = d->n;
    /* Stable order afterwards: sort by loss, cut, restore the input order. */
    for (int i = 0; i < d->n; i++) if (!d->pts[i].line) d->pts[i].line = -(d->n - i);
    qsort(d->pts, d->n, sizeof *d->pts, by_loss_desc);
    memmove(d->pts, d->pts + k, (size_t)(d->n - k) * sizeof *d->pts);
    d->n -= k;
    d->dropped += k;
    qsort(d->pts, d->n, sizeof *d->pts, by_line);
    for (int i = 0; i < d->n; i++) if (d->pts[i].line < 0) d->pts[i].line = 0;
}

static int count_distinct(const FitData *d, int which, int dlcm_only)
{
    double seen[4096];
    int n = 0;
    for (int i = 0; i < d->n && n < 4096; i++) {
        const FitPoint *p = &d->pts[i];
        if (dlcm_only && p->dense) continue;
        double v = which == 0 ? p->N : which == 1 ? p->D : p->R;
        int dup = 0;
        for (int j = 0; j < n && !dup; j++) dup = fabs(seen[j] - v) <= 1e-12 * fabs(v);
        if (!dup) seen[n++] = v;
    }
    return n;
}

int fit_data_check(const FitData *d, int k_params, int needs_compression_design, char *err, int errlen)
{
    if (d->n <= k_params) {
        snprintf(err, errlen, "%s: %d points for a law with %d free parameters: need at least %d",
                 d->source, d->n, k_params, k_params + 1);
        return -1;
    }
    for (int i = 0; i < d->n; i++) {
        const FitPoint *p = &d->pts[i];
        if (!(p->N > 0 && p->D > 0 && p->loss > 0 && p->C > 0) || !isfinite(p->N) || !isfinite(p->D) ||
            !isfinite(p->loss) || !isfinite(p->C)) {
            snprintf(err, errlen, "%s: %s: N, D, C and loss must be positive and finite", d->source, p->id);
            return -1;
        }
    }
    if (count_distinct(d, 0, 0) < 2 || count_distinct(d, 1, 0) < 2) {
        snprintf(err, errlen, "%s: degenerate design: every point has the same N or the same D", d->source);
        return -1;
    }
    if (needs_compression_design) {
        int dlcm = 0;
        for (int i = 0; i < d->n; i++) dlcm += !d->pts[i].dense;
        if (dlcm == 0) {
            snprintf(err, errlen, "%s: the compression-aware law needs dlcm points (P > 0); all %d are dense",
                     d->source, d->n);
            return -1;
        }
        if (count_distinct(d, 2, 1) < 2) {
            snprintf(err, errlen,
                     "%s: degenerate design: every dlcm point has the same R, so the exponent gamma "
                     "cannot be identified (sweep at least two compression ratios)", d->source);
            return -1;
        }
    }
    return 0;
}
