/* fit/mup.c: μP LR transfer and coordinate-check analysis: LR* per width, the slope of log2 LR*
 * on log2 width with its interval, drift, regret, coordinate-check slopes, and the three-valued
 * verdict with its reasons. */
#include "fit/mup.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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

/* The seed bootstrap of the slope: every (width, LR) cell's seeds resampled with replacement,
 * LR* and the slope recomputed; the 95 % percentile interval of the slopes. Cells of one seed
 * do not vary, so with one seed everywhere the interval is the point (and the t interval
 * decides). NaN bounds when fewer than 3 widths. */
static void seed_bootstrap(const MupRun *runs, int n, const char *param, const MupTransfer *t, double *lo, double *hi,
                           int *min_seeds)
{
    *lo = *hi = NAN;
    *min_seeds = 0;
    int n_w = t->n_widths;
    if (n_w < 3) return;
    /* The losses of each cell, in run order. */
    int cap = n > 0 ? n : 1;
    double *loss = malloc((size_t)cap * sizeof *loss), *slopes = malloc(MUP_BOOTSTRAP * sizeof *slopes);
    int *start = malloc((size_t)MUP_MAX_WIDTHS * MUP_MAX_LRS * sizeof *start);
    int *count = calloc((size_t)MUP_MAX_WIDTHS * MUP_MAX_LRS, sizeof *count);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!loss || !slopes || !start || !count || !rng) goto done;
    int used = 0;
    *min_seeds = 1 << 30;
    for (int k = 0; k < n_w; k++)
        for (int j = 0; j < t->w[k].n_lr; j++) {
            int c = k * MUP_MAX_LRS + j;
            start[c] = used;
            for (int i = 0; i < n; i++)
                if (!strcmp(runs[i].param, param) && runs[i].width == t->w[k].width &&
                    fabs(log2(runs[i].lr) - t->w[k].log2_lr[j]) < 1e-9)
                    loss[used++] = runs[i].loss, count[c]++;
            if (count[c] < *min_seeds) *min_seeds = count[c];
        }
    gsl_rng_set(rng, 1);
    int ok = 0;
    for (int b = 0; b < MUP_BOOTSTRAP; b++) {
        double x[MUP_MAX_WIDTHS], y[MUP_MAX_WIDTHS];
        int good = 1;
        for (int k = 0; k < n_w && good; k++) {
            MupWidth w = t->w[k];
            int best = -1;
            for (int j = 0; j < w.n_lr; j++) {
                int c = k * MUP_MAX_LRS + j;
                double sum = 0;
                for (int r = 0; r < count[c]; r++) sum += loss[start[c] + gsl_rng_uniform_int(rng, count[c])];
                w.loss[j] = sum / count[c];
                if (isfinite(w.loss[j]) && (best < 0 || w.loss[j] < w.loss[best])) best = j;
            }
            if (best < 0) { good = 0; break; }
            x[k] = log2(w.width);
            y[k] = quadratic_optimum(&w, best);
        }
        if (good) slopes[ok++] = ols_slope(x, y, n_w, NULL, NULL);
    }
    if (ok > 0) {
        gsl_sort(slopes, 1, ok);
        *lo = gsl_stats_quantile_from_sorted_data(slopes, 1, ok, 0.025);
        *hi = gsl_stats_quantile_from_sorted_data(slopes, 1, ok, 0.975);
    }
done:
    free(loss);
    free(slopes);
    free(start);
    free(count);
    if (rng) gsl_rng_free(rng);
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
        w->edge = best == 0 ? -1 : best == w->n_lr - 1 ? 1 : 0;
        w->log2_lr_star = quadratic_optimum(w, best);
    }
    double x[MUP_MAX_WIDTHS], y[MUP_MAX_WIDTHS];
    for (int k = 0; k < n_w; k++) { x[k] = log2(out->w[k].width); y[k] = out->w[k].log2_lr_star; }
    out->slope = ols_slope(x, y, n_w, &out->t_lo, &out->t_hi);
    seed_bootstrap(runs, n, param, out, &out->boot_lo, &out->boot_hi, &out->min_seeds);
    /* The interval decided on: the wider of the two (either may be too narrow alone: the t
     * interval ignores seed noise, the bootstrap of one seed has none). */
    out->slope_lo = isfinite(out->boot_lo) ? fmin(out->t_lo, out->boot_lo) : out->t_lo;
    out->slope_hi = isfinite(out->boot_hi) ? fmax(out->t_hi, out->boot_hi) : out->t_hi;
    double base = out->w[0].log2_lr_star;
    for (int k = 0; k < n_w; k++) {
        MupWidth *w = &out->w[k];
        out->max_drift_steps = fmax(out->max_drift_steps, fabs(w->log2_lr_star - base) / out->grid_step);
        int nearest = 0;
        for (int j = 1; j < w->n_lr; j++)
            if (fabs(w->log2_lr[j] - base) < fabs(w->log2_lr[nearest] - base)) nearest = j;
        w->regret = w->loss[nearest] - w->best_loss;
    }
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


static void add_reason(MupVerdict *v, const char *fmt, const char *a, double x, double y, double z)
{
    if (v->n_reasons >= MUP_MAX_REASONS) return;
    snprintf(v->reasons[v->n_reasons++], sizeof v->reasons[0], fmt, a, x, y, z);
}

/* The learning rates to add beyond an edge: two more grid steps past it. */
static void edge_reasons(const MupTransfer *t, MupVerdict *v)
{
    for (int k = 0; k < t->n_widths; k++) {
        const MupWidth *w = &t->w[k];
        if (!w->edge || v->n_reasons >= MUP_MAX_REASONS) continue;
        double at = w->edge < 0 ? w->log2_lr[0] : w->log2_lr[w->n_lr - 1], step = isfinite(t->grid_step) ? t->grid_step : 1;
        double add1 = exp2(at + w->edge * step), add2 = exp2(at + 2 * w->edge * step);
        snprintf(v->reasons[v->n_reasons++], sizeof v->reasons[0],
                 "%s width %d: the best loss is at the %s LR of the grid (%.4g); add LRs %.4g and %.4g", t->param, w->width,
                 w->edge < 0 ? "lowest" : "highest", exp2(at), add1, add2);
    }
}

void mup_verdict(const MupTransfer *mup, const MupTransfer *sp, const MupCoordSummary *coord, MupVerdict *v)
{
    memset(v, 0, sizeof *v);
    int inconclusive = 0, fail = 0, pass_parts = 0, parts = 0;
    /* 1. What makes the sweep unable to decide. */
    if (mup) edge_reasons(mup, v);
    if (sp) edge_reasons(sp, v);
    inconclusive += v->n_reasons;
    if (mup && !(isfinite(mup->slope_lo) && isfinite(mup->slope_hi))) {
        add_reason(v, "%s: the slope's 95%% interval cannot be computed (%g widths; at least 3 needed)", "mup", mup->n_widths, 0, 0);
        inconclusive++;
    }
    if (mup && !sp) {
        add_reason(v, "%s: no sp control runs, so the sweep cannot show that it discriminates", "sp", 0, 0, 0);
        inconclusive++;
    }
    if (sp && !(isfinite(sp->slope_lo) && isfinite(sp->slope_hi))) {
        add_reason(v, "%s: the control's slope interval cannot be computed (%g widths; at least 3 needed)", "sp", sp->n_widths, 0, 0);
        inconclusive++;
    } else if (sp && sp->slope_lo <= 0 && sp->slope_hi >= 0) {
        add_reason(v, "%s: the control does not fail (slope %.3f, 95%% interval [%.3f, %.3f] includes 0): the sweep cannot discriminate",
                   "sp", sp->slope, sp->slope_lo, sp->slope_hi);
        inconclusive++;
    } else if (sp && (sp->slope_hi < -1.5 || sp->slope_lo > -0.5)) {
        add_reason(v, "%s: note: the control fails, but its slope interval [%.3f, %.3f] is not near -1 (slope %.3f)", "sp",
                   sp->slope_lo, sp->slope_hi, sp->slope);
    }
    if (coord && coord->have[1] && coord->worst[1] <= MUP_COORD_BOUND) {
        add_reason(v, "%s: the coordinate check passes under the sp control too (worst |slope| %.3f): it cannot discriminate", "sp",
                   coord->worst[1], 0, 0);
        inconclusive++;
    }
    /* 2. The decision on mup, from the slope's interval. */
    if (mup && isfinite(mup->slope_lo)) {
        parts++;
        char a[160];
        snprintf(a, sizeof a, "mup slope %.3f, 95%% interval [%.3f, %.3f], max drift %.2f grid steps", mup->slope,
                 mup->slope_lo, mup->slope_hi, mup->max_drift_steps);
        if (mup->slope_hi < -MUP_SLOPE_BOUND || mup->slope_lo > MUP_SLOPE_BOUND || mup->max_drift_steps > 2.0 + 1e-9) {
            add_reason(v, "%s: FAIL (interval wholly outside +-0.1, or drift above 2 steps)", a, 0, 0, 0);
            fail++;
        } else if (fabs(mup->slope) <= MUP_SLOPE_BOUND && mup->slope_lo >= -MUP_SLOPE_INTERVAL_BOUND &&
                   mup->slope_hi <= MUP_SLOPE_INTERVAL_BOUND && mup->max_drift_steps <= 1.0 + 1e-9) {
            add_reason(v, "%s: transfers (|slope| <= 0.1, interval within +-0.15, drift <= 1 step)", a, 0, 0, 0);
            pass_parts++;
        } else {
            add_reason(v, "%s: neither within +-0.15 nor wholly outside +-0.1: add seeds or widths", a, 0, 0, 0);
            inconclusive++;
        }
    }
    if (coord && coord->have[0]) {
        parts++;
        if (coord->worst[0] > MUP_COORD_BOUND) {
            add_reason(v, "%s: the coordinate check fails under mup (worst |slope| %.3f > 0.1)", "mup", coord->worst[0], 0, 0);
            fail++;
        } else {
            add_reason(v, "%s: the coordinate check passes under mup (worst |slope| %.3f <= 0.1)", "mup", coord->worst[0], 0, 0);
            pass_parts++;
        }
    }
    if (parts == 0) {
        add_reason(v, "%s: no mup runs: nothing to decide", "mup", 0, 0, 0);
        inconclusive++;
    }
    v->kind = inconclusive ? MUP_INCONCLUSIVE : fail ? MUP_FAIL : pass_parts == parts ? MUP_PASS : MUP_INCONCLUSIVE;
}

const char *mup_verdict_name(MupVerdictKind k)
{
    return k == MUP_PASS ? "PASS" : k == MUP_FAIL ? "FAIL" : "INCONCLUSIVE";
}

int mup_verdict_exit(MupVerdictKind k)
{
    return k == MUP_PASS ? 0 : k == MUP_FAIL ? 3 : 4;
}

