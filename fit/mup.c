/* fit/mup.c: μP LR transfer and coordinate-check analysis from a sweep, with verdict, table,
 * JSON, stored fit and plots (dlcm-fit mup). */
#include "fit/mup.h"

#include <getopt.h>
#include <gsl/gsl_cdf.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "fit/output.h"
#include "fit/plot.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Ordinary least squares slope of y on x with its 95 % t interval (NaN bounds with n < 3). */
static double ols_slope(const double *x, const double *y, int n, double *lo, double *hi)
{
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) { mx += x[i] / n; my += y[i] / n; }
    double sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) { sxx += (x[i] - mx) * (x[i] - mx); sxy += (x[i] - mx) * (y[i] - my); }
    double slope = sxx > 0 ? sxy / sxx : NAN;
    if (lo) *lo = *hi = NAN;
    if (lo && n >= 3 && sxx > 0) {
        double rss = 0;
        for (int i = 0; i < n; i++) {
            double r = y[i] - my - slope * (x[i] - mx);
            rss += r * r;
        }
        double se = sqrt(rss / (n - 2) / sxx), t = gsl_cdf_tdist_Pinv(0.975, n - 2);
        *lo = slope - t * se;
        *hi = slope + t * se;
    }
    return slope;
}

/* The vertex of the parabola through the best grid point and its neighbours, kept between the
 * neighbours; the grid point itself when the three do not make an upward parabola. */
static double quadratic_optimum(const MupWidth *w, int best)
{
    int i = best == 0 ? 1 : best == w->n_lr - 1 ? w->n_lr - 2 : best;
    double x0 = w->log2_lr[i - 1], x1 = w->log2_lr[i], x2 = w->log2_lr[i + 1];
    double y0 = w->loss[i - 1], y1 = w->loss[i], y2 = w->loss[i + 1];
    if (!isfinite(y0) || !isfinite(y1) || !isfinite(y2)) return w->log2_lr[best];
    /* Divided differences: y = y0 + d1 (x - x0) + d2 (x - x0)(x - x1). */
    double d01 = (y1 - y0) / (x1 - x0), d12 = (y2 - y1) / (x2 - x1), d2 = (d12 - d01) / (x2 - x0);
    if (!(d2 > 0)) return w->log2_lr[best];
    double vertex = 0.5 * (x0 + x1) - d01 / (2 * d2);
    return fmin(fmax(vertex, x0), x2);
}

int mup_transfer(const MupRun *runs, int n, const char *param, MupTransfer *out, char *err, int errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(out->param, sizeof out->param, "%s", param);
    int widths[MUP_MAX_WIDTHS], n_w = 0;
    double grid[MUP_MAX_LRS];
    int n_grid = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(runs[i].param, param)) continue;
        int seen = 0;
        for (int j = 0; j < n_w; j++) seen |= widths[j] == runs[i].width;
        if (!seen) {
            if (n_w == MUP_MAX_WIDTHS) { snprintf(err, errlen, "more than %d widths", MUP_MAX_WIDTHS); return -1; }
            widths[n_w++] = runs[i].width;
        }
        double x = log2(runs[i].lr);
        seen = 0;
        for (int j = 0; j < n_grid; j++) seen |= fabs(grid[j] - x) < 1e-9;
        if (!seen) {
            if (n_grid == MUP_MAX_LRS) { snprintf(err, errlen, "more than %d learning rates", MUP_MAX_LRS); return -1; }
            grid[n_grid++] = x;
        }
    }
    if (n_w < 2) { snprintf(err, errlen, "%s: %d width(s): the transfer check needs at least 2", param, n_w); return -1; }
    qsort(widths, n_w, sizeof *widths, cmp_int);
    qsort(grid, n_grid, sizeof *grid, cmp_double);
    double gaps[MUP_MAX_LRS];
    for (int j = 1; j < n_grid; j++) gaps[j - 1] = grid[j] - grid[j - 1];
    qsort(gaps, n_grid - 1, sizeof *gaps, cmp_double);
    out->grid_step = n_grid > 1 ? gaps[(n_grid - 1) / 2] : NAN;
    out->n_widths = n_w;
    for (int k = 0; k < n_w; k++) {
        MupWidth *w = &out->w[k];
        w->width = widths[k];
        for (int j = 0; j < n_grid; j++) {
            double sum = 0;
            int count = 0;
            for (int i = 0; i < n; i++)
                if (!strcmp(runs[i].param, param) && runs[i].width == w->width && fabs(log2(runs[i].lr) - grid[j]) < 1e-9) {
                    sum += runs[i].loss; /* +inf from a diverged seed makes the mean +inf */
                    count++;
                }
            if (!count) continue;
            w->log2_lr[w->n_lr] = grid[j];
            w->loss[w->n_lr] = sum / count;
            w->n_lr++;
        }
        if (w->n_lr < 3) { snprintf(err, errlen, "%s width %d: %d learning rates, need at least 3", param, w->width, w->n_lr); return -1; }
        int best = -1;
        for (int j = 0; j < w->n_lr; j++)
            if (isfinite(w->loss[j]) && (best < 0 || w->loss[j] < w->loss[best])) best = j;
        if (best < 0) { snprintf(err, errlen, "%s width %d: every run diverged", param, w->width); return -1; }
        w->best_loss = w->loss[best];
        w->edge = best == 0 || best == w->n_lr - 1;
        w->log2_lr_star = quadratic_optimum(w, best);
    }
    double x[MUP_MAX_WIDTHS], y[MUP_MAX_WIDTHS];
    for (int k = 0; k < n_w; k++) { x[k] = log2(out->w[k].width); y[k] = out->w[k].log2_lr_star; }
    out->slope = ols_slope(x, y, n_w, &out->slope_lo, &out->slope_hi);
    double base = out->w[0].log2_lr_star;
    for (int k = 0; k < n_w; k++) {
        MupWidth *w = &out->w[k];
        out->max_drift_steps = fmax(out->max_drift_steps, fabs(w->log2_lr_star - base) / out->grid_step);
        int nearest = 0;
        for (int j = 1; j < w->n_lr; j++)
            if (fabs(w->log2_lr[j] - base) < fabs(w->log2_lr[nearest] - base)) nearest = j;
        w->regret = w->loss[nearest] - w->best_loss;
    }
    out->pass = fabs(out->slope) <= 0.1 && out->max_drift_steps <= 1.0 + 1e-9;
    return 0;
}

int mup_coord_slopes(const MupCoordRow *rows, int n, MupCoordSlope **slopes)
{
    int cap = 64, count = 0;
    *slopes = malloc(cap * sizeof **slopes);
    char *done = calloc(n ? n : 1, 1);
    double *x = malloc((n ? n : 1) * sizeof *x), *y = malloc((n ? n : 1) * sizeof *y);
    int *widths = malloc((n ? n : 1) * sizeof *widths);
    if (!*slopes || !done || !x || !y || !widths) { free(*slopes); free(done); free(x); free(y); free(widths); return -1; }
    for (int i = 0; i < n; i++) {
        if (done[i] || rows[i].step < 3) continue;
        /* All rows of this (param, module, step): mean |x| per width averaged over seeds. */
        int n_w = 0;
        for (int j = i; j < n; j++) {
            if (strcmp(rows[j].param, rows[i].param) || strcmp(rows[j].module, rows[i].module) || rows[j].step != rows[i].step) continue;
            done[j] = 1;
            int k = 0;
            while (k < n_w && widths[k] != rows[j].width) k++;
            if (k == n_w) { widths[n_w] = rows[j].width; x[n_w] = 0; y[n_w] = 0; n_w++; }
            x[k] += 1; /* count of seeds */
            y[k] += rows[j].mean_abs;
        }
        if (n_w < 2) continue;
        for (int k = 0; k < n_w; k++) { y[k] = log(y[k] / x[k]); x[k] = log(widths[k]); }
        if (count == cap) {
            cap *= 2;
            MupCoordSlope *g = realloc(*slopes, cap * sizeof *g);
            if (!g) { free(*slopes); free(done); free(x); free(y); free(widths); return -1; }
            *slopes = g;
        }
        MupCoordSlope *s = &(*slopes)[count++];
        snprintf(s->param, sizeof s->param, "%s", rows[i].param);
        snprintf(s->module, sizeof s->module, "%s", rows[i].module);
        s->step = rows[i].step;
        s->n_widths = n_w;
        s->slope = ols_slope(x, y, n_w, NULL, NULL);
    }
    free(done); free(x); free(y); free(widths);
    return count;
}

/* ---- reading the sweep ------------------------------------------------------------------- */

/* width_kind: "d_t", "d_c", or "auto" (d_t when it varies among the runs, else d_c). */
static int read_transfer_runs(sqlite3 *db, const char *sweep, const char *width_kind, int use_train, MupRun **runs,
                              int *n, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT r.id, r.parametrization, r.d_t, r.d_c, r.lr, r.status, r.final_val_loss,"
                                  " r.final_train_loss, r.initial_loss FROM runs r JOIN sweeps s ON r.sweep_id = s.id"
                                  " WHERE s.name = ?1 AND r.status IN ('done', 'diverged')"
                                  " AND NOT EXISTS (SELECT 1 FROM module_stats m WHERE m.run_id = r.id) ORDER BY r.id",
                                  err, errlen);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, sweep, -1, SQLITE_TRANSIENT);
    int cap = 64, count = 0, dt_first = -1, dt_varies = 0;
    MupRun *out = malloc(cap * sizeof *out);
    int *dc = malloc(cap * sizeof *dc);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *param = (const char *)sqlite3_column_text(st, 1);
        if (!param || (strcmp(param, "mup") && strcmp(param, "sp"))) {
            snprintf(err, errlen, "run %s: parametrization must be mup or sp (got %s)", id, param ? param : "NULL");
            goto fail;
        }
        if (count == cap) {
            cap *= 2;
            MupRun *g = realloc(out, cap * sizeof *g);
            int *h = g ? realloc(dc, cap * sizeof *h) : NULL;
            if (g) out = g;
            if (!h) { snprintf(err, errlen, "out of memory"); goto fail; }
            dc = h;
        }
        MupRun *r = &out[count];
        snprintf(r->param, sizeof r->param, "%s", param);
        r->width = sqlite3_column_int(st, 2);
        dc[count] = sqlite3_column_int(st, 3);
        r->lr = sqlite3_column_double(st, 4);
        if (!(r->lr > 0)) { snprintf(err, errlen, "run %s: lr must be positive", id); goto fail; }
        const char *status = (const char *)sqlite3_column_text(st, 5);
        int loss_col = use_train ? 7 : 6;
        double loss = sqlite3_column_type(st, loss_col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, loss_col);
        double initial = sqlite3_column_type(st, 8) == SQLITE_NULL ? INFINITY : sqlite3_column_double(st, 8);
        /* Spec §5: diverged runs (status, NaN, or above the initial loss) are +inf, not errors. */
        if (!strcmp(status, "diverged") || !isfinite(loss) || loss > initial) r->loss = INFINITY;
        else r->loss = loss;
        if (dt_first < 0) dt_first = r->width;
        else if (r->width != dt_first) dt_varies = 1;
        count++;
    }
    if (rc != SQLITE_DONE) { snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db)); goto fail; }
    sqlite3_finalize(st);
    int use_dc = !strcmp(width_kind, "d_c") || (!strcmp(width_kind, "auto") && !dt_varies);
    for (int i = 0; i < count && use_dc; i++) out[i].width = dc[i];
    free(dc);
    *runs = out;
    *n = count;
    return 0;
fail:
    sqlite3_finalize(st);
    free(out);
    free(dc);
    return -1;
}

static int read_coord_rows(sqlite3 *db, const char *sweep, const char *width_kind, MupCoordRow **rows, int *n,
                           char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT r.parametrization, r.d_t, r.d_c, m.step, m.module, m.mean_abs,"
                                  " (SELECT count(DISTINCT r2.d_t) FROM runs r2 WHERE r2.sweep_id = r.sweep_id)"
                                  " FROM module_stats m JOIN runs r ON m.run_id = r.id JOIN sweeps s ON r.sweep_id = s.id"
                                  " WHERE s.name = ?1 AND r.parametrization IN ('mup', 'sp') ORDER BY r.parametrization, m.module, m.step",
                                  err, errlen);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, sweep, -1, SQLITE_TRANSIENT);
    int cap = 256, count = 0, rc;
    MupCoordRow *out = malloc(cap * sizeof *out);
    while (out && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap *= 2;
            MupCoordRow *g = realloc(out, cap * sizeof *g);
            if (!g) { free(out); out = NULL; break; }
            out = g;
        }
        MupCoordRow *r = &out[count++];
        snprintf(r->param, sizeof r->param, "%s", (const char *)sqlite3_column_text(st, 0));
        int dt_varies = sqlite3_column_int(st, 6) > 1;
        int use_dc = !strcmp(width_kind, "d_c") || (!strcmp(width_kind, "auto") && !dt_varies);
        r->width = sqlite3_column_int(st, use_dc ? 2 : 1);
        r->step = sqlite3_column_int(st, 3);
        snprintf(r->module, sizeof r->module, "%s", (const char *)sqlite3_column_text(st, 4));
        r->mean_abs = sqlite3_column_double(st, 5);
    }
    sqlite3_finalize(st);
    if (!out) { snprintf(err, errlen, "out of memory"); return -1; }
    *rows = out;
    *n = count;
    return 0;
}

/* ---- report -------------------------------------------------------------------------------- */

static void print_transfer(const MupTransfer *t, int have)
{
    if (!have) return;
    printf("\n%s: optimal log2 LR per width (quadratic through the best grid point and its neighbours)\n", t->param);
    printf("  %8s %12s %8s %12s %12s\n", "width", "log2 LR*", "edge", "best loss", "regret");
    for (int k = 0; k < t->n_widths; k++) {
        const MupWidth *w = &t->w[k];
        printf("  %8d %12.3f %8s %12.5g %12.5g\n", w->width, w->log2_lr_star, w->edge ? "EDGE" : "", w->best_loss, w->regret);
    }
}

static json_object *transfer_json(const MupTransfer *t)
{
    json_object *o = json_object_new_object(), *ws = json_object_new_array();
    json_object_object_add(o, "slope", json_object_new_double(t->slope));
    json_object_object_add(o, "slope_lo", isfinite(t->slope_lo) ? json_object_new_double(t->slope_lo) : NULL);
    json_object_object_add(o, "slope_hi", isfinite(t->slope_hi) ? json_object_new_double(t->slope_hi) : NULL);
    json_object_object_add(o, "grid_step_log2", json_object_new_double(t->grid_step));
    json_object_object_add(o, "max_drift_steps", json_object_new_double(t->max_drift_steps));
    json_object_object_add(o, "pass", json_object_new_boolean(t->pass));
    for (int k = 0; k < t->n_widths; k++) {
        const MupWidth *w = &t->w[k];
        json_object *x = json_object_new_object();
        json_object_object_add(x, "width", json_object_new_int(w->width));
        json_object_object_add(x, "log2_lr_star", json_object_new_double(w->log2_lr_star));
        json_object_object_add(x, "edge", json_object_new_boolean(w->edge));
        json_object_object_add(x, "best_loss", json_object_new_double(w->best_loss));
        json_object_object_add(x, "regret", isfinite(w->regret) ? json_object_new_double(w->regret) : NULL);
        json_object_array_add(ws, x);
    }
    json_object_object_add(o, "widths", ws);
    return o;
}

static int plot_transfer(const char *dir, const char *prefix, const MupTransfer *t, char *err, int errlen)
{
    Plot p;
    char name[300], title[200];
    snprintf(name, sizeof name, "%.200s-%.7s-loss-vs-lr", prefix, t->param);
    snprintf(title, sizeof title, "%.7s: loss vs learning rate per width (open circles: LR* from the quadratic)", t->param);
    if (plot_begin(&p, dir, name, title, "log2 LR", "loss (diverged runs not drawn)", 0, 0, err, errlen)) return -1;
    char cmd[16384] = "";
    size_t used = 0;
    for (int k = 0; k < t->n_widths; k++) {
        const MupWidth *w = &t->w[k];
        int b, m;
        FILE *f = plot_block(&p, &b);
        for (int j = 0; j < w->n_lr; j++) {
            if (isfinite(w->loss[j])) fprintf(f, "%.6f %.9g\n", w->log2_lr[j], w->loss[j]);
            else fprintf(f, "%.6f nan\n", w->log2_lr[j]); /* diverged: a gap in the line */
        }
        fclose(f);
        FILE *g = plot_block(&p, &m);
        fprintf(g, "%.6f %.9g\n", w->log2_lr_star, w->best_loss);
        fclose(g);
        char path_b[600], path_m[600];
        plot_block_path(&p, b, path_b, sizeof path_b);
        plot_block_path(&p, m, path_m, sizeof path_m);
        used += snprintf(cmd + used, sizeof cmd - used,
                         "%s'%s' using 1:2 with linespoints lc %d pt 7 title 'width %d', '%s' using 1:2 with points lc %d pt 6 ps 2.5 notitle",
                         k ? ", " : "plot ", path_b, k + 1, w->width, path_m, k + 1);
        if (used >= sizeof cmd) break;
    }
    plot_command(&p, cmd);
    return plot_finish(&p, err, errlen);
}

/* mean |x| vs width, one line per step (geometric mean over modules), per parametrization. */
static int plot_coord(const char *dir, const char *prefix, const char *param, const MupCoordRow *rows, int n, char *err,
                      int errlen)
{
    int steps[256], n_steps = 0, widths[MUP_MAX_WIDTHS], n_w = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].param, param)) continue;
        int seen = 0;
        for (int j = 0; j < n_steps; j++) seen |= steps[j] == rows[i].step;
        if (!seen && n_steps < 256) steps[n_steps++] = rows[i].step;
        seen = 0;
        for (int j = 0; j < n_w; j++) seen |= widths[j] == rows[i].width;
        if (!seen && n_w < MUP_MAX_WIDTHS) widths[n_w++] = rows[i].width;
    }
    if (n_steps == 0 || n_w < 2) return 0;
    qsort(steps, n_steps, sizeof *steps, cmp_int);
    qsort(widths, n_w, sizeof *widths, cmp_int);
    Plot p;
    char name[300], title[200];
    snprintf(name, sizeof name, "%.200s-%.7s-coord-check", prefix, param);
    snprintf(title, sizeof title, "%.7s coordinate check: mean |x| vs width per step (geometric mean over modules)", param);
    if (plot_begin(&p, dir, name, title, "width", "mean |x|", 1, 1, err, errlen)) return -1;
    plot_script(&p, "set format x '%g'\n");
    char cmd[16384] = "";
    size_t used = 0;
    for (int s = 0; s < n_steps; s++) {
        int b;
        FILE *f = plot_block(&p, &b);
        for (int k = 0; k < n_w; k++) {
            double sum = 0;
            int count = 0;
            for (int i = 0; i < n; i++)
                if (!strcmp(rows[i].param, param) && rows[i].step == steps[s] && rows[i].width == widths[k] && rows[i].mean_abs > 0) {
                    sum += log(rows[i].mean_abs);
                    count++;
                }
            if (count) fprintf(f, "%d %.9g\n", widths[k], exp(sum / count));
        }
        fclose(f);
        char path[600];
        plot_block_path(&p, b, path, sizeof path);
        used += snprintf(cmd + used, sizeof cmd - used, "%s'%s' using 1:2 with linespoints title 'step %d'", s ? ", " : "plot ", path, steps[s]);
        if (used >= sizeof cmd) break;
    }
    plot_command(&p, cmd);
    return plot_finish(&p, err, errlen);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dlcm-fit mup --db FILE --sweep NAME [options]\n"
               "muP transfer validation (spec scaling-laws.md §5): per width the optimal log2 LR, the slope of\n"
               "log2 LR* against log2 width with its 95%% interval, max drift, transfer regret, mup and sp side by\n"
               "side, and the coordinate check's slopes of mean |x| against width (module_stats).\n"
               "Exit status: 0 verdict PASS, 3 verdict FAIL, 1 error.\n"
               "  --coord-sweep NAME  sweep of the coordinate-check runs (default: the runs of --sweep with module_stats)\n"
               "  --width d_t|d_c|auto  the width axis (auto: d_t when it varies, else d_c)\n"
               "  --loss val|train    final loss used (default val)\n"
               "  --json OUT          write the result as JSON;  --store DB | --no-store (default: store in --db)\n"
               "  --plots DIR         figures (default results/);  --plot-prefix NAME (default mup-<sweep>);  --no-plots\n");
}

int mup_main(int argc, char **argv)
{
    const char *db_path = NULL, *sweep = NULL, *coord_sweep = NULL, *width_kind = "auto", *loss_kind = "val";
    const char *json_path = NULL, *store = NULL, *plots_dir = "results", *prefix = NULL;
    int no_store = 0, no_plots = 0;
    static const struct option opts[] = {
        {"db", 1, 0, 'd'}, {"sweep", 1, 0, 's'}, {"coord-sweep", 1, 0, 'c'}, {"width", 1, 0, 'w'}, {"loss", 1, 0, 'l'},
        {"json", 1, 0, 'j'}, {"store", 1, 0, 't'}, {"no-store", 0, 0, 'n'}, {"plots", 1, 0, 'p'},
        {"plot-prefix", 1, 0, 'x'}, {"no-plots", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db_path = optarg; break;
        case 's': sweep = optarg; break;
        case 'c': coord_sweep = optarg; break;
        case 'w': width_kind = optarg; break;
        case 'l': loss_kind = optarg; break;
        case 'j': json_path = optarg; break;
        case 't': store = optarg; break;
        case 'n': no_store = 1; break;
        case 'p': plots_dir = optarg; break;
        case 'x': prefix = optarg; break;
        case 'q': no_plots = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!db_path || !sweep || (strcmp(width_kind, "d_t") && strcmp(width_kind, "d_c") && strcmp(width_kind, "auto")) ||
        (strcmp(loss_kind, "val") && strcmp(loss_kind, "train"))) {
        usage(stderr);
        return 2;
    }
    if (!store) store = db_path;
    if (no_store) store = NULL;
    if (!coord_sweep) coord_sweep = sweep;
    char err[1024], source[600], default_prefix[300];
    snprintf(source, sizeof source, "sweep:%s", sweep);
    snprintf(default_prefix, sizeof default_prefix, "mup-%s", sweep);
    if (!prefix) prefix = default_prefix;
    sqlite3 *db = output_open_existing_db(db_path, err, sizeof err);
    if (!db) { fprintf(stderr, "dlcm-fit mup: %s\n", err); return 1; }
    sqlite3_stmt *st = db_prepare(db, "SELECT 1 FROM sweeps WHERE name = ?1", err, sizeof err);
    int exists = 0;
    if (st) { sqlite3_bind_text(st, 1, sweep, -1, SQLITE_TRANSIENT); exists = sqlite3_step(st) == SQLITE_ROW; sqlite3_finalize(st); }
    if (!exists) { fprintf(stderr, "dlcm-fit mup: %s: no sweep named \"%s\"\n", db_path, sweep); db_close(db); return 1; }
    MupRun *runs = NULL;
    MupCoordRow *rows = NULL;
    int n_runs = 0, n_rows = 0;
    if (read_transfer_runs(db, sweep, width_kind, !strcmp(loss_kind, "train"), &runs, &n_runs, err, sizeof err) ||
        read_coord_rows(db, coord_sweep, width_kind, &rows, &n_rows, err, sizeof err)) {
        fprintf(stderr, "dlcm-fit mup: %s: %s\n", db_path, err);
        db_close(db);
        free(runs);
        return 1;
    }
    db_close(db);
    if (n_runs == 0 && n_rows == 0) {
        fprintf(stderr, "dlcm-fit mup: sweep \"%s\" has no finished or diverged runs and no coordinate-check data\n", sweep);
        free(runs); free(rows);
        return 1;
    }
    MupTransfer t[2];
    int have[2] = {0, 0};
    const char *params[2] = {"mup", "sp"};
    for (int k = 0; k < 2; k++) {
        int any = 0;
        for (int i = 0; i < n_runs; i++) any |= !strcmp(runs[i].param, params[k]);
        if (!any) continue;
        if (mup_transfer(runs, n_runs, params[k], &t[k], err, sizeof err)) {
            fprintf(stderr, "dlcm-fit mup: %s\n", err);
            free(runs); free(rows);
            return 1;
        }
        have[k] = 1;
    }
    MupCoordSlope *slopes = NULL;
    int n_slopes = mup_coord_slopes(rows, n_rows, &slopes);
    if (n_slopes < 0) { fprintf(stderr, "dlcm-fit mup: out of memory\n"); free(runs); free(rows); return 1; }

    printf("\nmuP transfer of %s: %d runs (diverged count as +inf)\n", source, n_runs);
    print_transfer(&t[0], have[0]);
    print_transfer(&t[1], have[1]);
    printf("\n  %-28s %18s %18s\n", "", "mup", "sp");
    char a[64], b[64];
#define SIDE(label, fmt, field)                                                                 \
    snprintf(a, sizeof a, have[0] ? fmt : "-", t[0].field), snprintf(b, sizeof b, have[1] ? fmt : "-", t[1].field), \
        printf("  %-28s %18s %18s\n", label, a, b)
    SIDE("slope log2 LR* / log2 width", "%.3f", slope);
    SIDE("  95% lo", "%.3f", slope_lo);
    SIDE("  95% hi", "%.3f", slope_hi);
    SIDE("max drift (grid steps)", "%.2f", max_drift_steps);
    SIDE("grid step (log2)", "%.2f", grid_step);
#undef SIDE
    printf("  %-28s %18s %18s\n", "transfer pass (slope, drift)", have[0] ? (t[0].pass ? "PASS" : "FAIL") : "-",
           have[1] ? (t[1].pass ? "PASS" : "FAIL") : "-");
    double worst[2] = {0, 0};
    int have_coord[2] = {0, 0};
    for (int i = 0; i < n_slopes; i++) {
        int k = strcmp(slopes[i].param, "mup") ? 1 : 0;
        have_coord[k] = 1;
        worst[k] = fmax(worst[k], fabs(slopes[i].slope));
    }
    int coord_pass[2] = {have_coord[0] && worst[0] <= 0.1, have_coord[1] && worst[1] <= 0.1};
    if (n_slopes) {
        printf("\ncoordinate check (%s): slopes of log mean|x| vs log width, steps >= 3\n", coord_sweep);
        printf("  %-28s %18s %18s\n", "worst |slope|", have_coord[0] ? (snprintf(a, sizeof a, "%.3f", worst[0]), a) : "-",
               have_coord[1] ? (snprintf(b, sizeof b, "%.3f", worst[1]), b) : "-");
        printf("  %-28s %18s %18s\n", "within +-0.1 everywhere", have_coord[0] ? (coord_pass[0] ? "yes" : "no") : "-",
               have_coord[1] ? (coord_pass[1] ? "yes" : "no") : "-");
    }
    /* Verdict (spec §5): mup transfers (slope and drift) and, where there is coordinate-check data,
     * mup's slopes are all within 0.1 while sp's are not. */
    int verdict = have[0] ? t[0].pass : have_coord[0];
    if (have_coord[0]) verdict = verdict && coord_pass[0];
    if (have_coord[1]) verdict = verdict && !coord_pass[1];
    if (!have[0] && !have_coord[0]) verdict = 0;
    printf("\nverdict: %s\n", verdict ? "PASS" : "FAIL");

    json_object *root = json_object_new_object();
    json_object_object_add(root, "law", json_object_new_string("mup"));
    json_object_object_add(root, "source", json_object_new_string(source));
    json_object_object_add(root, "width_axis", json_object_new_string(width_kind));
    for (int k = 0; k < 2; k++)
        if (have[k]) json_object_object_add(root, params[k], transfer_json(&t[k]));
    json_object *cj = json_object_new_array();
    for (int i = 0; i < n_slopes; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "param", json_object_new_string(slopes[i].param));
        json_object_object_add(o, "module", json_object_new_string(slopes[i].module));
        json_object_object_add(o, "step", json_object_new_int(slopes[i].step));
        json_object_object_add(o, "slope", json_object_new_double(slopes[i].slope));
        json_object_array_add(cj, o);
    }
    json_object_object_add(root, "coordinate_check", cj);
    json_object_object_add(root, "verdict", json_object_new_string(verdict ? "pass" : "fail"));
    json_object_object_add(root, "rule", json_object_new_string("mup: |slope| <= 0.1 and max drift <= 1 grid step; "
                                                                 "coordinate check: mup within +-0.1 for every module and step >= 3, sp not"));
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    FitRecord rec = {source, "mup", n_runs, NAN, NAN, text};
    long long id;
    int rc = verdict ? 0 : 3;
    if (json_path || store) {
        if (output_commit(json_path, store, &rec, &id, err, sizeof err)) { fprintf(stderr, "dlcm-fit mup: %s\n", err); rc = 1; }
        else {
            if (json_path) printf("  json: %s\n", json_path);
            if (store) printf("  stored: fit %lld in %s\n", id, store);
        }
    }
    if (rc != 1 && !no_plots) {
        for (int k = 0; k < 2 && rc != 1; k++) {
            if (have[k] && plot_transfer(plots_dir, prefix, &t[k], err, sizeof err)) { fprintf(stderr, "dlcm-fit mup: plots: %s\n", err); rc = 1; }
            if (rc != 1 && have_coord[k] && plot_coord(plots_dir, prefix, params[k], rows, n_rows, err, sizeof err)) {
                fprintf(stderr, "dlcm-fit mup: plots: %s\n", err);
                rc = 1;
            }
        }
    }
    json_object_put(root);
    free(slopes);
    free(runs);
    free(rows);
    return rc;
}
