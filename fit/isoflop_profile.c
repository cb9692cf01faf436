/* fit/isoflop_profile.c: per-budget quadratic profiles in ln N, their vertices with intervals and
 * the power law of the located vertices on C (see isoflop_profile.h). */
#include "fit/isoflop_profile.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit/estimator.h"

int isoflop_same_budget(double a, double b)
{
    return fabs(a - b) <= 0.02 * fmax(fabs(a), fabs(b));
}

const char *isoflop_profile_status_text(ProfileStatus s)
{
    static const char *const text[] = {"located", "at an edge", "not located"};
    return s >= PROFILE_LOCATED && s <= PROFILE_NOT_LOCATED ? text[s] : "not located";
}

typedef struct {
    double x, loss, log_f; /* x = ln N */
    int seeds;             /* >= 1: the loss is the mean of this many runs */
} Obs;

static int by_x(const void *a, const void *b)
{
    double x = ((const Obs *)a)->x, y = ((const Obs *)b)->x;
    return (x > y) - (x < y);
}

/* Runs whose N agree within 1 % are one size: shapes solved for one target N at another P or R
 * land a fraction of a percent apart. */
#define SAME_SIZE_LOG 0.01

/* Training FLOPs per token against N: the sizes' ln F (averaged over the runs of one size) joined
 * linearly in ln N. Beyond the sizes run, the end point is extended with the slope of the least-
 * squares line of ln F on ln N through every run of the budget: an end segment between two shapes
 * of nearly one N (another P or R) can be arbitrarily steep and must not be extrapolated. One
 * size: F proportional to N. */
#define FLOPS_LINE_MAX 64
typedef struct {
    double x[FLOPS_LINE_MAX], log_f[FLOPS_LINE_MAX];
    double outer_slope;
    int n;
} FlopsLine;

static void flops_line_build(const Obs *obs, int n, FlopsLine *line)
{
    line->n = 0;
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (int i = 0; i < n; i++) mx += obs[i].x / n, my += obs[i].log_f / n;
    for (int i = 0; i < n; i++) sxy += (obs[i].x - mx) * (obs[i].log_f - my), sxx += (obs[i].x - mx) * (obs[i].x - mx);
    line->outer_slope = sxx > 0 ? sxy / sxx : 1;
    for (int i = 0; i < n;) {
        int j = i;
        double sum = 0, xs = 0;
        while (j < n && obs[j].x - obs[i].x < SAME_SIZE_LOG) xs += obs[j].x, sum += obs[j++].log_f;
        if (line->n < FLOPS_LINE_MAX) {
            line->x[line->n] = xs / (j - i);
            line->log_f[line->n++] = sum / (j - i);
        }
        i = j;
    }
}

static double flops_line_log_at(const FlopsLine *line, double x)
{
    if (line->n == 0) return NAN;
    if (line->n == 1) return line->log_f[0] + (x - line->x[0]);
    if (x <= line->x[0]) return line->log_f[0] + line->outer_slope * (x - line->x[0]);
    if (x >= line->x[line->n - 1]) return line->log_f[line->n - 1] + line->outer_slope * (x - line->x[line->n - 1]);
    int seg = 0;
    while (seg < line->n - 2 && x > line->x[seg + 1]) seg++;
    double slope = (line->log_f[seg + 1] - line->log_f[seg]) / (line->x[seg + 1] - line->x[seg]);
    return line->log_f[seg] + slope * (x - line->x[seg]);
}

/* Least squares of loss on (1, x - center, (x - center)^2), each point weighted by its seeds (a
 * mean of k runs has variance sigma^2 / k): coef, the weighted residual sum of squares and
 * (X'WX)^-1 (the covariance of coef is sigma^2 times it, sigma the noise of one run). The weights
 * enter as rows scaled by sqrt(k), which leaves one-seed points bit for bit as unweighted. 0, or -1. */
static int quadratic_fit(const Obs *obs, int n, double center, double coef[3], double xtx_inv[9], double *chisq)
{
    gsl_matrix *X = gsl_matrix_alloc((size_t)n, 3), *C = gsl_matrix_alloc(3, 3);
    gsl_vector *y = gsl_vector_alloc((size_t)n), *c = gsl_vector_alloc(3);
    gsl_multifit_linear_workspace *w = gsl_multifit_linear_alloc((size_t)n, 3);
    int rc = -1;
    if (X && C && y && c && w) {
        for (int i = 0; i < n; i++) {
            double x = obs[i].x - center, w = sqrt((double)obs[i].seeds);
            gsl_matrix_set(X, (size_t)i, 0, w * 1);
            gsl_matrix_set(X, (size_t)i, 1, w * x);
            gsl_matrix_set(X, (size_t)i, 2, w * (x * x));
            gsl_vector_set(y, (size_t)i, w * obs[i].loss);
        }
        gsl_error_handler_t *old = gsl_set_error_handler_off();
        if (gsl_multifit_linear(X, y, c, C, chisq, w) == GSL_SUCCESS) {
            for (int k = 0; k < 3; k++) coef[k] = gsl_vector_get(c, (size_t)k);
            /* (X'X)^-1 directly: GSL's covariance is scaled by chisq / (n - 3), which 3 runs lack. */
            gsl_matrix_view xtx = gsl_matrix_view_array(xtx_inv, 3, 3);
            gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, X, X, 0.0, &xtx.matrix);
            if (gsl_linalg_cholesky_decomp1(&xtx.matrix) == GSL_SUCCESS &&
                gsl_linalg_cholesky_invert(&xtx.matrix) == GSL_SUCCESS)
                rc = 0;
        }
        gsl_set_error_handler(old);
    }
    if (w) gsl_multifit_linear_free(w);
    if (X) gsl_matrix_free(X);
    if (C) gsl_matrix_free(C);
    if (y) gsl_vector_free(y);
    if (c) gsl_vector_free(c);
    return rc;
}

/* Draws (a, b, c) from the fit's sampling distribution: multivariate t with dof degrees of
 * freedom about coef with scale sd^2 (X'X)^-1 (the noise variance is itself estimated from dof
 * residuals or seed pairs, so a Gaussian would be too narrow); each draw's vertex in ln N and
 * ln D, NAN where c <= 0. -1 when the scale has no Cholesky factor. */
static int draw_vertices(ProfileBudget *b, const double coef[3], const double xtx_inv[9], double sd, int dof,
                         double x_min, double x_max, const FlopsLine *line, gsl_rng *rng, int n_draws)
{
    double chol[9];
    for (int k = 0; k < 9; k++) chol[k] = sd * sd * xtx_inv[k];
    gsl_matrix_view m = gsl_matrix_view_array(chol, 3, 3);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int bad = gsl_linalg_cholesky_decomp1(&m.matrix);
    gsl_set_error_handler(old);
    if (bad) return -1;
    double L[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) L[3 * i + j] = j <= i ? gsl_matrix_get(&m.matrix, (size_t)i, (size_t)j) : 0;
    int inside = 0, vertex = 0;
    double lnC = log(b->C);
    for (int r = 0; r < n_draws; r++) {
        double z[3], scale = sqrt(dof / gsl_ran_chisq(rng, dof)), d[3];
        for (int k = 0; k < 3; k++) z[k] = gsl_ran_gaussian(rng, 1.0);
        for (int i = 0; i < 3; i++) {
            d[i] = coef[i];
            for (int j = 0; j <= i; j++) d[i] += scale * L[3 * i + j] * z[j];
        }
        b->draw_ln_N[r] = b->draw_ln_D[r] = NAN;
        if (!(d[2] > 0)) continue;
        double x = b->x_center - d[1] / (2 * d[2]);
        vertex++;
        b->draw_ln_N[r] = x;
        b->draw_ln_D[r] = lnC - flops_line_log_at(line, x);
        inside += x >= x_min && x <= x_max;
    }
    b->share_vertex = (double)vertex / n_draws;
    b->share_inside = (double)inside / n_draws;
    return 0;
}

/* One budget's profile from its points (obs sorted by x). 0, or -1 out of memory. */
static int profile_budget(ProfileBudget *b, Obs *obs, int n, int n_draws, const ProfileNoise *noise, gsl_rng *rng)
{
    qsort(obs, (size_t)n, sizeof *obs, by_x);
    b->n_points = n;
    b->n_runs = 0;
    b->seeds_min = b->seeds_max = obs[0].seeds;
    for (int i = 0; i < n; i++) {
        b->n_runs += obs[i].seeds;
        if (obs[i].seeds < b->seeds_min) b->seeds_min = obs[i].seeds;
        if (obs[i].seeds > b->seeds_max) b->seeds_max = obs[i].seeds;
    }
    b->n_sizes = 0;
    for (int i = 0; i < n; b->n_sizes++) {
        int j = i;
        while (j < n && obs[j].x - obs[i].x < SAME_SIZE_LOG) j++;
        i = j;
    }
    b->N_min = exp(obs[0].x);
    b->N_max = exp(obs[n - 1].x);
    int best = 0;
    for (int i = 1; i < n; i++)
        if (obs[i].loss < obs[best].loss) best = i;
    b->best_N = exp(obs[best].x);
    b->best_loss = obs[best].loss;
    b->best_seeds = obs[best].seeds;
    b->a = b->b = b->c = b->resid_sd = b->noise_sd = b->N_opt = b->D_opt = NAN;
    b->N_lo = b->N_hi = b->D_lo = b->D_hi = b->share_vertex = b->share_inside = NAN;
    b->status = PROFILE_NOT_LOCATED;
    b->dof = n - 3;
    if (b->n_sizes < 3) {
        snprintf(b->why, sizeof b->why, "%d size%s run (a quadratic needs 3)", b->n_sizes, b->n_sizes == 1 ? "" : "s");
        return 0;
    }
    double center = 0;
    for (int i = 0; i < n; i++) center += obs[i].x / n;
    double coef[3], xtx_inv[9], chisq;
    if (quadratic_fit(obs, n, center, coef, xtx_inv, &chisq)) {
        snprintf(b->why, sizeof b->why, "the least-squares fit failed");
        return 0;
    }
    b->a = coef[0];
    b->b = coef[1];
    b->c = coef[2];
    b->x_center = center;
    b->resid_sd = b->dof > 0 ? sqrt(chisq / b->dof) : NAN;
    FlopsLine line;
    flops_line_build(obs, n, &line);
    b->has_vertex = coef[2] > 0;
    double x_min = obs[0].x, x_max = obs[n - 1].x, x_star = NAN;
    if (b->has_vertex) {
        x_star = center - coef[1] / (2 * coef[2]);
        b->N_opt = exp(x_star);
        b->D_opt = b->C / exp(flops_line_log_at(&line, x_star));
    }
    /* The noise the draws assume: the scatter about the quadratic, or the outside (seed-to-seed)
     * estimate where that is larger or the scatter has no degrees of freedom. */
    b->noise_sd = b->resid_sd;
    b->noise_dof = b->dof;
    double outside_sd = noise ? noise->sd : 0;
    int outside_dof = noise ? noise->dof : 0;
    for (int k = 0; noise && noise->at && k < noise->n_at; k++)
        if (isoflop_same_budget(noise->at[k].C, b->C)) { /* this budget's own measurement */
            outside_sd = noise->at[k].sd;
            outside_dof = noise->at[k].dof;
        }
    if (outside_sd > 0 && outside_dof > 0 && !(b->resid_sd >= outside_sd)) {
        b->noise_sd = outside_sd;
        b->noise_dof = outside_dof;
        b->noise_outside = 1;
    }
    if (b->noise_dof > 0 && n_draws > 0) {
        b->draw_ln_N = malloc((size_t)n_draws * sizeof *b->draw_ln_N);
        b->draw_ln_D = malloc((size_t)n_draws * sizeof *b->draw_ln_D);
        if (!b->draw_ln_N || !b->draw_ln_D) return -1;
        if (draw_vertices(b, coef, xtx_inv, b->noise_sd, b->noise_dof, x_min, x_max, &line, rng, n_draws)) {
            free(b->draw_ln_N);
            free(b->draw_ln_D);
            b->draw_ln_N = b->draw_ln_D = NULL;
        } else if (b->share_vertex > 0) {
            double lo, hi;
            estimator_percentile_interval(b->draw_ln_N, n_draws, 0.95, &lo, &hi);
            b->N_lo = exp(lo);
            b->N_hi = exp(hi);
            estimator_percentile_interval(b->draw_ln_D, n_draws, 0.95, &lo, &hi);
            b->D_lo = exp(lo);
            b->D_hi = exp(hi);
            b->has_interval = 1;
        }
    }
    /* The order matters: a concave profile has its best run at an end too, but it has no minimum
     * at all, so it is not a bound on one. */
    if (!b->has_vertex) {
        snprintf(b->why, sizeof b->why, "the quadratic opens downwards or is flat (c = %.3g <= 0): no minimum", coef[2]);
    } else if (obs[best].x - x_min < SAME_SIZE_LOG || x_max - obs[best].x < SAME_SIZE_LOG) {
        b->status = PROFILE_AT_EDGE;
        b->best_at_end = 1;
        b->edge_side = obs[best].x - x_min < SAME_SIZE_LOG ? -1 : +1;
        snprintf(b->why, sizeof b->why, "the best %s is the %s size: the optimum is at or %s it",
                 b->seeds_max > 1 ? "shape" : "run", b->edge_side < 0 ? "smallest" : "largest",
                 b->edge_side < 0 ? "below" : "above");
    } else if (x_star < x_min || x_star > x_max) {
        b->status = PROFILE_AT_EDGE;
        b->edge_side = x_star < x_min ? -1 : +1;
        snprintf(b->why, sizeof b->why, "the vertex lies %s the sizes run", b->edge_side < 0 ? "below" : "above");
    } else if (b->noise_dof == 0) {
        snprintf(b->why, sizeof b->why, "3 %s fit exactly: no residual, so the interval cannot be computed",
                 b->seeds_max > 1 ? "shapes" : "runs");
    } else if (!b->has_interval) {
        snprintf(b->why, sizeof b->why, "the fit's covariance is degenerate: no interval");
    } else if (b->share_inside < PROFILE_MIN_INSIDE) {
        snprintf(b->why, sizeof b->why, "only %.1f %% of the draws have a minimum inside the sizes (< %.0f %%)",
                 100 * b->share_inside, 100 * PROFILE_MIN_INSIDE);
    } else {
        b->status = PROFILE_LOCATED;
        snprintf(b->why, sizeof b->why, "%.1f %% of the draws have a minimum inside the sizes", 100 * b->share_inside);
    }
    return 0;
}

/* Slope and intercept of y on x by least squares; the largest |residual|. */
static void line_fit(const double *x, const double *y, int n, double *slope, double *intercept, double *max_resid)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (int i = 0; i < n; i++) mx += x[i] / n, my += y[i] / n;
    for (int i = 0; i < n; i++) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
    *slope = sxy / sxx;
    *intercept = my - *slope * mx;
    if (max_resid) {
        *max_resid = 0;
        for (int i = 0; i < n; i++) *max_resid = fmax(*max_resid, fabs(y[i] - *intercept - *slope * x[i]));
    }
}

/* The exponent of Y on C over the located budgets: point from their vertices, interval from the
 * joint draws (draws: one array of n_draws per budget). */
static int exponent_fit(const ProfileResult *r, const int *used, int n_used, int which, ProfileExponent *e)
{
    memset(e, 0, sizeof *e);
    e->slope = e->slope_lo = e->slope_hi = e->intercept = e->max_resid = NAN;
    if (n_used < 3) return 0;
    double x[64], y[64];
    for (int k = 0; k < n_used; k++) {
        const ProfileBudget *b = &r->budgets[used[k]];
        x[k] = log(b->C);
        y[k] = log(which == 0 ? b->N_opt : b->D_opt);
    }
    line_fit(x, y, n_used, &e->slope, &e->intercept, &e->max_resid);
    e->available = 1;
    double *slopes = malloc((size_t)(r->n_draws > 0 ? r->n_draws : 1) * sizeof *slopes);
    if (!slopes) return -1;
    int m = 0;
    for (int d = 0; d < r->n_draws; d++) {
        int ok = 1;
        for (int k = 0; k < n_used && ok; k++) {
            const ProfileBudget *b = &r->budgets[used[k]];
            y[k] = which == 0 ? b->draw_ln_N[d] : b->draw_ln_D[d];
            ok = isfinite(y[k]);
        }
        if (!ok) continue;
        double intercept;
        line_fit(x, y, n_used, &slopes[m++], &intercept, NULL);
    }
    e->replicates = m;
    if (m > 0) estimator_percentile_interval(slopes, m, 0.95, &e->slope_lo, &e->slope_hi);
    free(slopes);
    return 0;
}

#define PROFILE_MAX_BUDGETS 64

int isoflop_profile(const ProfilePoint *pts, int n, int n_draws, unsigned long seed, const ProfileNoise *noise,
                    ProfileResult *out, char *err, int errlen)
{
    return isoflop_profile_seeds(pts, NULL, n, n_draws, seed, noise, out, err, errlen);
}

/* A point of a budget, with its seeds, sorted together by budget. */
typedef struct {
    ProfilePoint p;
    int seeds;
} SeededPoint;

static int by_budget(const void *a, const void *b)
{
    double x = ((const SeededPoint *)a)->p.C, y = ((const SeededPoint *)b)->p.C;
    return (x > y) - (x < y);
}

int isoflop_profile_seeds(const ProfilePoint *pts, const int *seeds, int n, int n_draws, unsigned long seed,
                          const ProfileNoise *noise, ProfileResult *out, char *err, int errlen)
{
    memset(out, 0, sizeof *out);
    out->n_draws = n_draws > 0 ? n_draws : 0;
    for (int i = 0; i < n; i++) {
        const ProfilePoint *p = &pts[i];
        const char *bad = !(isfinite(p->C) && p->C > 0)       ? "budget C"
                          : !(isfinite(p->N) && p->N > 0)     ? "N"
                          : !isfinite(p->loss)                ? "loss"
                          : !(isfinite(p->train_flops_per_token) && p->train_flops_per_token > 0)
                              ? "training FLOPs per token"
                              : NULL;
        if (!bad && seeds && seeds[i] < 1) {
            snprintf(err, errlen, "point %d: %d seeds (a point is the mean of at least one run)", i, seeds[i]);
            return -1;
        }
        if (bad) {
            snprintf(err, errlen, "point %d: %s is not a finite positive number", i, bad);
            return -1;
        }
    }
    if (n == 0) return 0;
    SeededPoint *sorted = malloc((size_t)n * sizeof *sorted);
    Obs *obs = malloc((size_t)n * sizeof *obs);
    out->budgets = calloc(PROFILE_MAX_BUDGETS, sizeof *out->budgets);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = 0;
    if (!sorted || !obs || !out->budgets || !rng) {
        snprintf(err, errlen, "out of memory profiling %d points", n);
        rc = -1;
        goto done;
    }
    gsl_rng_set(rng, seed);
    for (int i = 0; i < n; i++) sorted[i] = (SeededPoint){pts[i], seeds ? seeds[i] : 1};
    qsort(sorted, (size_t)n, sizeof *sorted, by_budget);
    for (int i = 0; i < n && rc == 0;) {
        int j = i;
        double sum = 0;
        while (j < n && isoflop_same_budget(sorted[i].p.C, sorted[j].p.C)) {
            const ProfilePoint *q = &sorted[j].p;
            obs[j - i] = (Obs){log(q->N), q->loss, log(q->train_flops_per_token), sorted[j].seeds};
            sum += q->C;
            j++;
        }
        if (out->n_budgets == PROFILE_MAX_BUDGETS) {
            snprintf(err, errlen, "more than %d budgets", PROFILE_MAX_BUDGETS);
            rc = -1;
            break;
        }
        ProfileBudget *b = &out->budgets[out->n_budgets++];
        b->C = sum / (j - i);
        if (profile_budget(b, obs, j - i, out->n_draws, noise, rng)) {
            snprintf(err, errlen, "out of memory drawing the vertices");
            rc = -1;
        }
        i = j;
    }
    if (rc == 0) {
        int used[PROFILE_MAX_BUDGETS];
        for (int k = 0; k < out->n_budgets; k++)
            if (out->budgets[k].status == PROFILE_LOCATED) used[out->n_used++] = k;
        if (exponent_fit(out, used, out->n_used, 0, &out->N) || exponent_fit(out, used, out->n_used, 1, &out->D)) {
            snprintf(err, errlen, "out of memory fitting the exponents");
            rc = -1;
        }
    }
done:
    if (rng) gsl_rng_free(rng);
    free(sorted);
    free(obs);
    if (rc) isoflop_profile_free(out);
    return rc;
}

void isoflop_profile_free(ProfileResult *r)
{
    for (int k = 0; r->budgets && k < r->n_budgets; k++) {
        free(r->budgets[k].draw_ln_N);
        free(r->budgets[k].draw_ln_D);
    }
    free(r->budgets);
    memset(r, 0, sizeof *r);
}
