/* fit/points.c: reading fit observations from a CSV file or from a sweep's finished runs, the
 * selection of runs, and the checks (values, design) that must pass before any fit. */
#include "fit/points.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/fitdata.h"
#include "fit/csv.h"

FitSelection fit_selection_default(void)
{
    FitSelection s = {.family = NULL, .lr = 0, .seed = -1, .tag = NULL, .R_source = R_SOURCE_EVAL};
    return s;
}

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

static FitPoint point_unknown(void)
{
    FitPoint p = {.R = 1.0, .R_target = NAN, .R_eval = NAN, .lr = NAN, .seed = -1};
    return p;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

enum { COL_N, COL_D, COL_LOSS, COL_R, COL_P, COL_C, COL_FAMILY, COL_COUNT };
static const char *const column_names[COL_COUNT] = {"N", "D", "loss", "R", "P", "C", "family"};

#define CSV_MAX_FIELDS 64

/* The column a header name stands for, or -1 for a column the fitter does not read. */
static int column_of(const char *name)
{
    for (int c = 0; c < COL_COUNT; c++)
        if (!strcmp(name, column_names[c])) return c;
    if (!strcmp(name, "budget") || !strcmp(name, "Training FLOP")) return COL_C;
    if (!strcmp(name, "Model Size")) return COL_N;
    return -1;
}

/* One line of the file; -1 at the end, -2 (with err) on a read error, a NUL byte or a file cut
 * mid-row (a last line without its newline). */
static ssize_t read_line(FILE *f, char **line, size_t *cap, const char *path, int lineno, char *err, int errlen)
{
    errno = 0;
    ssize_t len = getline(line, cap, f);
    if (len < 0) {
        if (ferror(f)) { snprintf(err, errlen, "%s:%d: read error: %s", path, lineno, strerror(errno)); return -2; }
        return -1;
    }
    if ((ssize_t)strlen(*line) != len) {
        snprintf(err, errlen, "%s:%d: the line holds a NUL byte", path, lineno);
        return -2;
    }
    if ((*line)[len - 1] != '\n') {
        snprintf(err, errlen, "%s:%d: the file ends mid-row (no newline after the last line): truncated?", path, lineno);
        return -2;
    }
    return len;
}

int fit_data_read_csv(const char *path, int compression_law, FitData *out, char *err, int errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(out->source, sizeof out->source, "csv:%s", path);
    snprintf(out->R_source, sizeof out->R_source, "CSV column R");
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    char *line = NULL, *fields[CSV_MAX_FIELDS + 1];
    size_t cap = 0;
    int col[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++) col[c] = -1;
    int lineno = 1;
    ssize_t len = read_line(f, &line, &cap, path, lineno, err, errlen);
    if (len == -1) snprintf(err, errlen, "%s: empty file (expected a header line)", path);
    if (len < 0) goto fail;
    int n_header = csv_split(line, fields, CSV_MAX_FIELDS + 1);
    if (n_header > CSV_MAX_FIELDS) {
        snprintf(err, errlen, "%s:1: more than %d columns", path, CSV_MAX_FIELDS);
        goto fail;
    }
    for (int i = 0; i < n_header; i++) {
        for (int j = 0; j < i; j++)
            if (!strcmp(fields[i], fields[j])) {
                snprintf(err, errlen, "%s:1: column \"%s\" appears twice (columns %d and %d)", path, fields[i], j + 1, i + 1);
                goto fail;
            }
        int c = column_of(fields[i]);
        if (c < 0) continue;
        if (col[c] >= 0) {
            snprintf(err, errlen, "%s:1: columns %d (\"%s\") and %d (\"%s\") both give %s", path, col[c] + 1,
                     fields[col[c]], i + 1, fields[i], column_names[c]);
            goto fail;
        }
        col[c] = i;
    }
    const char *missing = col[COL_N] < 0 ? "N (or \"Model Size\")" : col[COL_LOSS] < 0 ? "loss"
                          : (col[COL_D] < 0 && col[COL_C] < 0) ? "D (or C / \"Training FLOP\")"
                          : compression_law && col[COL_R] < 0 ? "R (the compression-aware law needs each row's R)"
                          : compression_law && col[COL_P] < 0 ? "P (the compression-aware law needs each row's P)"
                                                             : NULL;
    if (missing) {
        snprintf(err, errlen, "%s:1: header lacks column %s (names are matched exactly)", path, missing);
        goto fail;
    }
    snprintf(out->c_column, sizeof out->c_column, "%s", col[COL_C] >= 0 ? fields[col[COL_C]] : "6ND");
    while ((len = read_line(f, &line, &cap, path, lineno + 1, err, errlen)) >= 0) {
        lineno++;
        if (csv_blank(line)) continue;
        int nf = csv_split(line, fields, CSV_MAX_FIELDS + 1);
        if (nf != n_header) {
            snprintf(err, errlen, "%s:%d: %d fields where the header has %d", path, lineno, nf, n_header);
            goto fail;
        }
        FitPoint p = point_unknown();
        p.line = lineno;
        snprintf(p.id, sizeof p.id, "line %d", lineno);
        double v[COL_COUNT];
        for (int c = 0; c < COL_COUNT; c++) {
            if (col[c] < 0 || c == COL_FAMILY) continue;
            if (csv_number(fields[col[c]], &v[c])) {
                snprintf(err, errlen, "%s:%d: column %s: not a finite decimal number: \"%s\"", path, lineno,
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
            const char *fam = fields[col[COL_FAMILY]];
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
    if (len == -2) goto fail;
    free(line);
    fclose(f);
    out->n_read = out->n;
    return 0;
fail:
    free(line);
    fclose(f);
    fit_data_free(out);
    return -1;
}

/* ---- database ----------------------------------------------------------------------------- */

static int has_tag(const char *tags, const char *tag);

/* A value that must be positive and finite; names the run and column otherwise. */
static int positive(double v, const char *run, const char *name, double *out, char *err, int errlen)
{
    if (isnan(v)) { snprintf(err, errlen, "run %s: column %s is NULL", run, name); return -1; }
    if (!isfinite(v) || v <= 0) {
        snprintf(err, errlen, "run %s: column %s must be positive and finite (got %g)", run, name, v);
        return -1;
    }
    *out = v;
    return 0;
}

int fit_data_read_sweep(sqlite3 *db, const char *sweep, const FitSelection *sel, int use_train, FitData *out,
                        char *err, int errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(out->source, sizeof out->source, "sweep:%s", sweep);
    snprintf(out->c_column, sizeof out->c_column, "budget");
    snprintf(out->R_source, sizeof out->R_source, "%s",
             sel->R_source == R_SOURCE_EVAL ? "realized evaluation R (runs.realized_R_eval)" : "target R (runs.R_target)");
    char inner[512];
    int exists;
    if (fitdb_sweep_exists(db, sweep, &exists, inner, sizeof inner)) { snprintf(err, errlen, "%s", inner); return -1; }
    if (!exists) { snprintf(err, errlen, "no sweep named \"%s\" in the database", sweep); return -1; }
    FitRunRow *rows;
    int n_rows;
    if (fitdb_read_runs(db, sweep, &rows, &n_rows, inner, sizeof inner)) { snprintf(err, errlen, "%s", inner); return -1; }
    int n_done = 0;
    for (int i = 0; i < n_rows; i++) {
        const FitRunRow *r = &rows[i];
        if (strcmp(r->status, "done") || r->has_module_stats) continue;
        n_done++;
        if (sel->lr > 0 && !(fabs(r->lr - sel->lr) <= 1e-6 * sel->lr)) continue;
        if (sel->seed >= 0 && r->seed != sel->seed) continue;
        if (sel->tag && !has_tag(r->tags, sel->tag)) continue;
        FitPoint p = point_unknown();
        snprintf(p.id, sizeof p.id, "%s", r->id);
        p.dense = !strcmp(r->family, "dense");
        if (positive(r->N, p.id, "N", &p.N, err, errlen) || positive(r->tokens, p.id, "tokens", &p.D, err, errlen) ||
            positive(use_train ? r->train_loss : r->val_loss, p.id, use_train ? "final_train_loss" : "final_val_loss",
                     &p.loss, err, errlen))
            goto fail;
        p.R_target = r->R_target;
        p.R_eval = r->R_eval;
        if (p.dense) {
            p.R = 1.0;
            p.P = 0.0;
        } else {
            double R = sel->R_source == R_SOURCE_EVAL ? r->R_eval : r->R_target;
            if (isnan(R) && sel->R_source == R_SOURCE_EVAL) {
                snprintf(err, errlen, "run %s: no realized evaluation R stored (runs.realized_R_eval is NULL); "
                                      "fit with --R target to use the target R", p.id);
                goto fail;
            }
            if (positive(R, p.id, sel->R_source == R_SOURCE_EVAL ? "realized_R_eval" : "R_target", &p.R, err, errlen) ||
                positive(r->P, p.id, "P", &p.P, err, errlen))
                goto fail;
            if (p.R < 1.0 || p.P >= 1.0) {
                snprintf(err, errlen, "run %s: needs R >= 1 and P < 1 (got R=%g P=%g)", p.id, p.R, p.P);
                goto fail;
            }
        }
        /* The sweep's budget groups runs; a run without one falls back to its realized compute. */
        if (!isnan(r->budget)) {
            if (positive(r->budget, p.id, "budget", &p.C, err, errlen)) goto fail;
        } else if (positive(r->train_flops, p.id, "train_flops (budget is NULL)", &p.C, err, errlen)) {
            goto fail;
        }
        p.lr = r->lr;
        p.seed = r->seed;
        p.d_t = r->d_t;
        p.d_c = r->d_c;
        p.n_layers = r->n_layers;
        p.n_enc = r->n_enc;
        p.n_con = r->n_con;
        p.n_dec = r->n_dec;
        if (out->n == 0) {
            out->vocab = r->vocab;
            out->seq_len = r->seq_len;
        } else if (r->vocab != out->vocab || r->seq_len != out->seq_len) {
            out->vocab = out->seq_len = -1; /* mixed: the query must be told which to use */
        }
        if (fit_data_push(out, &p)) { snprintf(err, errlen, "out of memory"); goto fail; }
    }
    free(rows);
    if (out->vocab < 0) out->vocab = out->seq_len = 0;
    out->n_read = out->n;
    if (out->n == 0) {
        if (n_done == 0) snprintf(err, errlen, "sweep \"%s\" has no finished runs (status 'done')", sweep);
        else snprintf(err, errlen, "sweep \"%s\": none of its %d finished runs matches the selection (--lr, --run-seed, --tag)", sweep, n_done);
        fit_data_free(out);
        return -1;
    }
    return 0;
fail:
    free(rows);
    fit_data_free(out);
    return -1;
}

/* ---- selection and checks ----------------------------------------------------------------- */

/* 1 when tag is one of the comma-separated tags (blanks around each ignored). */
static int has_tag(const char *tags, const char *tag)
{
    size_t want = strlen(tag);
    for (const char *p = tags; *p;) {
        while (*p == ' ' || *p == ',') p++;
        const char *end = p;
        while (*end && *end != ',') end++;
        const char *last = end;
        while (last > p && last[-1] == ' ') last--;
        if ((size_t)(last - p) == want && !strncmp(p, tag, want)) return 1;
        p = end;
    }
    return 0;
}

int fit_data_select(FitData *d, const FitSelection *sel, char *err, int errlen)
{
    char lr[48] = "", seed[48] = "", tag[80] = "";
    if (sel->lr > 0) snprintf(lr, sizeof lr, " lr=%g", sel->lr);
    if (sel->seed >= 0) snprintf(seed, sizeof seed, " seed=%lld", sel->seed);
    if (sel->tag) snprintf(tag, sizeof tag, " tag=%.70s", sel->tag);
    snprintf(d->selection, sizeof d->selection, "family=%s%s%s%s", sel->family ? sel->family : "all", lr, seed, tag);
    if (!sel->family) return 0;
    int want_dense = !strcmp(sel->family, "dense"), kept = 0, before = d->n;
    for (int i = 0; i < d->n; i++)
        if (d->pts[i].dense == want_dense) d->pts[kept++] = d->pts[i];
    d->n = kept;
    if (kept == 0) {
        snprintf(err, errlen, "%s: none of its %d points is of family %s", d->source, before, sel->family);
        return -1;
    }
    return 0;
}

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
