/* fit/estimator.c: Huber-on-log-residual objective minimized by GSL's BFGS2 from many starts,
 * the seeded non-parametric bootstrap, R^2 and the leave-largest-budget-out check. */
#include "fit/estimator.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

EstimatorSettings estimator_defaults(void)
{
    EstimatorSettings s = {.huber_delta = 1e-3, .grad_tol = 1e-9, .max_iter = 2000, .n_boot = 1000,
                           .seed = 1, .level = 0.95, .progress = 0};
    return s;
}

typedef struct {
    const Law *law;
    const FitPoint *pts;
    int n;
    const double *weights;
    double delta;
} Objective;

/* The objective is divided by delta so that its scale is O(n |r|) rather than O(1e-3 n |r|);
 * the minimizer is the same and the gradient tolerance means the same for every delta. */
static void objective_eval(const gsl_vector *x, void *params, double *f, gsl_vector *g)
{
    const Objective *o = params;
    double theta[LAW_MAX_PARAMS], grad_i[LAW_MAX_PARAMS], total = 0.0;
    int k = o->law->k;
    for (int j = 0; j < k; j++) theta[j] = gsl_vector_get(x, j);
    if (g) gsl_vector_set_zero(g);
    for (int i = 0; i < o->n; i++) {
        double w = o->weights ? o->weights[i] : 1.0;
        if (w == 0.0) continue;
        double r = law_log_predict(o->law, theta, &o->pts[i], g ? grad_i : NULL) - log(o->pts[i].loss);
        double a = fabs(r), d = o->delta;
        total += w * (a <= d ? 0.5 * r * r : d * (a - 0.5 * d)) / d;
        if (g) {
            double slope = (a <= d ? r : (r > 0 ? d : -d)) / d;
            for (int j = 0; j < k; j++) *gsl_vector_ptr(g, j) += w * slope * grad_i[j];
        }
    }
    if (f) *f = isfinite(total) ? total : GSL_POSINF;
}

static double objective_f(const gsl_vector *x, void *params)
{
    double f;
    objective_eval(x, params, &f, NULL);
    return f;
}

static void objective_df(const gsl_vector *x, void *params, gsl_vector *g)
{
    objective_eval(x, params, NULL, g);
}

static void objective_fdf(const gsl_vector *x, void *params, double *f, gsl_vector *g)
{
    objective_eval(x, params, f, g);
}

/* One BFGS2 descent from theta (updated in place). BFGS2 stops with "no progress" at the kinks
 * of the Huber loss before the gradient test can pass, so the descent is restarted (fresh
 * Hessian estimate) until a restart no longer lowers the objective. Returns the scaled
 * objective; *converged says whether the gradient test passed. */
static double descend(gsl_multimin_fdfminimizer *m, gsl_multimin_function_fdf *fdf, double *theta,
                      int max_iter, int max_restarts, const EstimatorSettings *set, int *converged)
{
    int k = (int)fdf->n;
    gsl_vector_view x0 = gsl_vector_view_array(theta, k);
    double best = GSL_POSINF;
    *converged = 0;
    for (int restart = 0; restart < max_restarts; restart++) {
        if (gsl_multimin_fdfminimizer_set(m, fdf, &x0.vector, 0.1, 0.1) != GSL_SUCCESS) break;
        if (!isfinite(m->f)) break;
        for (int it = 0; it < max_iter; it++) {
            int status = gsl_multimin_fdfminimizer_iterate(m);
            if (status != GSL_SUCCESS) break; /* GSL_ENOPROG: the line search found no decrease */
            if (gsl_multimin_test_gradient(m->gradient, set->grad_tol) == GSL_SUCCESS) {
                *converged = 1;
                break;
            }
        }
        double f = m->f;
        int improved = f < best - 1e-12 * fabs(best) - 1e-15;
        if (f < best) {
            best = f;
            for (int j = 0; j < k; j++) theta[j] = gsl_vector_get(m->x, j);
        }
        if (*converged || !improved) break;
    }
    return best;
}

static double theta_distance(const double *a, const double *b, int k)
{
    double d = 0.0;
    for (int j = 0; j < k; j++) d = fmax(d, fabs(a[j] - b[j]));
    return d;
}

/* Keeps the best few distinct minima, sorted by objective. */
static void keep_warm(FitResult *out, double *warm_f, const double *theta, double f, int k)
{
    int dup = -1;
    for (int w = 0; w < out->n_warm; w++)
        if (theta_distance(out->warm[w], theta, k) < 1e-2) dup = w;
    if (dup >= 0) {
        if (f < warm_f[dup]) { warm_f[dup] = f; memcpy(out->warm[dup], theta, (size_t)k * sizeof *theta); }
    } else if (out->n_warm < ESTIMATOR_MAX_WARM || f < warm_f[out->n_warm - 1]) {
        int at = out->n_warm < ESTIMATOR_MAX_WARM ? out->n_warm++ : ESTIMATOR_MAX_WARM - 1;
        warm_f[at] = f;
        memcpy(out->warm[at], theta, (size_t)k * sizeof *theta);
    }
    for (int a = out->n_warm - 1; a > 0 && warm_f[a] < warm_f[a - 1]; a--) {
        double tf = warm_f[a]; warm_f[a] = warm_f[a - 1]; warm_f[a - 1] = tf;
        double tmp[LAW_MAX_PARAMS];
        memcpy(tmp, out->warm[a], sizeof tmp);
        memcpy(out->warm[a], out->warm[a - 1], sizeof tmp);
        memcpy(out->warm[a - 1], tmp, sizeof tmp);
    }
}

typedef struct {
    double f;
    int index;
} Screened;

static int by_objective(const void *a, const void *b)
{
    double x = ((const Screened *)a)->f, y = ((const Screened *)b)->f;
    return (x > y) - (x < y);
}

/* Minimizes from every start; when there are more than 2 * n_best starts (or always, with
 * always_screen), each is first descended ESTIMATOR_SCREEN_ITER iterations and only the best
 * n_best are descended to convergence. */
static int fit_from_starts(const Law *law, const FitPoint *pts, int n, const double *weights, const double *starts,
                           int n_starts, int n_best, int always_screen, const EstimatorSettings *set, FitResult *out,
                           char *err, int errlen)
{
    int k = law->k;
    Objective obj = {law, pts, n, weights, set->huber_delta};
    gsl_multimin_function_fdf fdf = {objective_f, objective_df, objective_fdf, (size_t)k, &obj};
    gsl_multimin_fdfminimizer *m = gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, k);
    double *screened_theta = malloc((size_t)(n_starts > 0 ? n_starts : 1) * k * sizeof *screened_theta);
    Screened *order = malloc((size_t)(n_starts > 0 ? n_starts : 1) * sizeof *order);
    if (!m || !screened_theta || !order) {
        if (m) gsl_multimin_fdfminimizer_free(m);
        free(screened_theta);
        free(order);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memset(out, 0, sizeof *out);
    /* Phase 1 (large grids only): every start descends for a short while; phase 2: the best
     * ESTIMATOR_POLISH of them descend to convergence. Every start is tried; only the hopeless
     * ones are not polished, which is where nearly all the time of a full grid went. */
    int screening = n_starts > 2 * n_best || (always_screen && n_starts > n_best);
    for (int s = 0; s < n_starts; s++) {
        double *theta = screened_theta + (size_t)s * k;
        memcpy(theta, starts + (size_t)s * k, (size_t)k * sizeof *theta);
        int converged = 0;
        order[s].index = s;
        order[s].f = screening ? descend(m, &fdf, theta, ESTIMATOR_SCREEN_ITER, 1, set, &converged) : 0.0;
        if (!isfinite(order[s].f)) order[s].f = GSL_POSINF;
        if (set->progress && screening && (s + 1) % 1000 == 0)
            fprintf(stderr, "  fit: screened %d/%d starts\n", s + 1, n_starts);
    }
    int n_polish = n_starts;
    if (screening) {
        qsort(order, n_starts, sizeof *order, by_objective);
        n_polish = n_best;
    }
    double warm_f[ESTIMATOR_MAX_WARM];
    double best_f = GSL_POSINF;
    for (int q = 0; q < n_polish; q++) {
        if (!isfinite(order[q].f)) continue;
        double theta[LAW_MAX_PARAMS];
        memcpy(theta, screened_theta + (size_t)order[q].index * k, (size_t)k * sizeof *theta);
        int converged;
        double f = descend(m, &fdf, theta, set->max_iter, 20, set, &converged);
        if (!isfinite(f)) continue;
        out->n_converged += converged;
        if (f < best_f) {
            best_f = f;
            memcpy(out->theta, theta, (size_t)k * sizeof *theta);
        }
        keep_warm(out, warm_f, theta, f, k);
    }
    gsl_multimin_fdfminimizer_free(m);
    free(screened_theta);
    free(order);
    out->n_starts = n_starts;
    out->n_polished = n_polish;
    if (!isfinite(best_f)) {
        snprintf(err, errlen, "no starting point gave a finite objective");
        return -1;
    }
    out->objective = best_f * set->huber_delta;
    law_theta_to_coef(law, out->theta, out->coef);
    out->r2_log = estimator_r2_log(law, out->theta, pts, n);
    return 0;
}

int estimator_fit(const Law *law, const FitPoint *pts, int n, const double *weights, const double *starts,
                  int n_starts, const EstimatorSettings *set, FitResult *out, char *err, int errlen)
{
    return fit_from_starts(law, pts, n, weights, starts, n_starts, ESTIMATOR_POLISH, 0, set, out, err, errlen);
}

double estimator_r2_log(const Law *law, const double *theta, const FitPoint *pts, int n)
{
    double mean = 0.0;
    for (int i = 0; i < n; i++) mean += log(pts[i].loss) / n;
    double ss_res = 0.0, ss_tot = 0.0;
    for (int i = 0; i < n; i++) {
        double y = log(pts[i].loss), r = law_log_predict(law, theta, &pts[i], NULL) - y;
        ss_res += r * r;
        ss_tot += (y - mean) * (y - mean);
    }
    return ss_tot > 0 ? 1.0 - ss_res / ss_tot : NAN;
}

int estimator_bootstrap(const Law *law, const FitPoint *pts, int n, const FitResult *full, const double *grid,
                        int n_grid, const EstimatorSettings *set, double **samples)
{
    int B = set->n_boot, k = law->k;
    double *rows = malloc((size_t)(B > 0 ? B : 1) * law->n_coef * sizeof *rows);
    double *weights = malloc((size_t)n * sizeof *weights);
    /* Starts: the full fit's best minima, then an even spread of the start grid, so that a
     * resample whose minimum lies elsewhere can still reach it. */
    int spread = n_grid < ESTIMATOR_BOOT_SPREAD ? n_grid : ESTIMATOR_BOOT_SPREAD;
    double *starts = malloc((size_t)(full->n_warm + spread + 1) * k * sizeof *starts);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rows || !weights || !starts || !rng) {
        free(rows); free(weights); free(starts);
        if (rng) gsl_rng_free(rng);
        return -1;
    }
    int n_starts = 0;
    for (int w = 0; w < full->n_warm; w++) memcpy(starts + (size_t)k * n_starts++, full->warm[w], (size_t)k * sizeof *starts);
    for (int q = 0; q < spread; q++) {
        long at = (long)((double)n_grid * (q + 0.5) / spread);
        memcpy(starts + (size_t)k * n_starts++, grid + (size_t)at * k, (size_t)k * sizeof *starts);
    }
    gsl_rng_set(rng, set->seed);
    int ok = 0;
    char err[256];
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < n; i++) weights[i] = 0.0;
        for (int i = 0; i < n; i++) weights[gsl_rng_uniform_int(rng, n)] += 1.0;
        FitResult r;
        double *row = rows + (size_t)b * law->n_coef;
        if (fit_from_starts(law, pts, n, weights, starts, n_starts, ESTIMATOR_BOOT_POLISH, 1, set, &r, err, sizeof err) == 0) {
            memcpy(row, r.coef, (size_t)law->n_coef * sizeof *row);
            ok++;
        } else {
            for (int j = 0; j < law->n_coef; j++) row[j] = NAN;
        }
        if (set->progress && (b + 1) % 100 == 0) fprintf(stderr, "  bootstrap: %d/%d\n", b + 1, B);
    }
    gsl_rng_free(rng);
    free(weights);
    free(starts);
    *samples = rows;
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void estimator_percentile_interval(const double *values, int n, double level, double *lo, double *hi)
{
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    int m = 0;
    if (v)
        for (int i = 0; i < n; i++) if (!isnan(values[i])) v[m++] = values[i];
    if (m == 0) { *lo = *hi = NAN; free(v); return; }
    qsort(v, m, sizeof *v, cmp_double);
    double tail = (1.0 - level) / 2.0;
    *lo = gsl_stats_quantile_from_sorted_data(v, 1, m, tail);
    *hi = gsl_stats_quantile_from_sorted_data(v, 1, m, 1.0 - tail);
    free(v);
}

/* The interval of the held-out mean absolute error over resamples of the held-out points (with
 * replacement, LOBO_RESAMPLES times, the estimator's seed): the refit stays fixed, so this says how
 * much the error depends on which runs were held out, not how much the refit could move. */
enum { LOBO_RESAMPLES = 2000 };

static void lobo_interval(const double *abs_err, int n, const EstimatorSettings *set, LoboResult *out)
{
    out->mae_log_lo = out->mae_log_hi = NAN;
    if (n < 2) return;
    double *means = malloc(LOBO_RESAMPLES * sizeof *means);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (means && rng) {
        gsl_rng_set(rng, set->seed);
        for (int b = 0; b < LOBO_RESAMPLES; b++) {
            double sum = 0.0;
            for (int i = 0; i < n; i++) sum += abs_err[gsl_rng_uniform_int(rng, (unsigned long)n)];
            means[b] = sum / n;
        }
        estimator_percentile_interval(means, LOBO_RESAMPLES, set->level, &out->mae_log_lo, &out->mae_log_hi);
    }
    if (rng) gsl_rng_free(rng);
    free(means);
}

int estimator_lobo(const Law *law, const FitPoint *pts, int n, const double *starts, int n_starts,
                   const EstimatorSettings *set, LoboResult *out, char *err, int errlen)
{
    memset(out, 0, sizeof *out);
    out->mae_log_lo = out->mae_log_hi = NAN;
    double top = 0.0;
    for (int i = 0; i < n; i++) top = fmax(top, pts[i].C);
    /* The held-out group: every budget within a factor 1.25 of the largest. */
    double cut = top / 1.25;
    FitPoint *train = malloc((size_t)n * sizeof *train);
    if (!train) { snprintf(err, errlen, "out of memory"); return -1; }
    int n_train = 0;
    out->budget_lo = top;
    out->budget_hi = top;
    for (int i = 0; i < n; i++) {
        if (pts[i].C > cut) out->budget_lo = fmin(out->budget_lo, pts[i].C);
        else train[n_train++] = pts[i];
    }
    out->n_held_out = n - n_train;
    if (n_train <= law->k || out->n_held_out == 0) { free(train); return 0; }
    FitResult r;
    EstimatorSettings quiet = *set;
    quiet.progress = 0;
    if (estimator_fit(law, train, n_train, NULL, starts, n_starts, &quiet, &r, err, errlen)) {
        free(train);
        return -1;
    }
    free(train);
    double abs_sum = 0.0, sq_sum = 0.0, rel_sum = 0.0;
    double *abs_err = malloc((size_t)out->n_held_out * sizeof *abs_err);
    if (!abs_err) { snprintf(err, errlen, "out of memory"); return -1; }
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (pts[i].C <= cut) continue;
        double log_hat = law_log_predict(law, r.theta, &pts[i], NULL), d = log_hat - log(pts[i].loss);
        abs_err[k++] = fabs(d);
        abs_sum += fabs(d);
        sq_sum += d * d;
        rel_sum += exp(log_hat) / pts[i].loss - 1.0;
    }
    lobo_interval(abs_err, k, set, out);
    free(abs_err);
    out->available = 1;
    out->mae_log = abs_sum / out->n_held_out;
    out->rmse_log = sqrt(sq_sum / out->n_held_out);
    out->mean_rel = rel_sum / out->n_held_out;
    return 0;
}
