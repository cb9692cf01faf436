/* fit/estimator.h: the estimator of spec scaling-laws.md §3: Huber loss on log residuals,
 * quasi-Newton (GSL BFGS2) from a grid of starts, non-parametric bootstrap, R^2 on log loss
 * and the leave-largest-budget-out extrapolation error. */
#ifndef DLCM_FIT_ESTIMATOR_H
#define DLCM_FIT_ESTIMATOR_H

#include "fit/law.h"
#include "fit/points.h"

#define ESTIMATOR_MAX_WARM 4
#define ESTIMATOR_SCREEN_ITER 40  /* BFGS iterations per start in the screening phase */
#define ESTIMATOR_POLISH 64       /* starts descended to convergence after screening */
#define ESTIMATOR_BOOT_SPREAD 8   /* grid starts of every bootstrap refit, besides the full fit's minima */
#define ESTIMATOR_BOOT_POLISH 3   /* of a refit's starts, screened like a large grid, those descended to convergence */

typedef struct {
    double huber_delta;   /* 1e-3 */
    double grad_tol;      /* stop when |grad| of the objective / delta is below this */
    int max_iter;         /* per start */
    int n_boot;           /* bootstrap resamples (0: none) */
    unsigned long seed;   /* bootstrap seed */
    double level;         /* interval coverage, 0.95 */
    int progress;         /* print progress to stderr */
} EstimatorSettings;

EstimatorSettings estimator_defaults(void);

typedef struct {
    double theta[LAW_MAX_PARAMS];
    double coef[LAW_MAX_PARAMS];
    double objective;      /* sum of Huber losses (unscaled) */
    int n_starts;
    int n_polished;        /* starts descended to convergence (all of them for small grids) */
    int n_converged;       /* of those, how many passed the gradient test (the rest stopped at
                              Huber kinks where BFGS2 can make no more progress) */
    double r2_log;         /* R^2 of log L on the data */
    /* The best distinct minima found, as starts for the bootstrap refits. */
    double warm[ESTIMATOR_MAX_WARM][LAW_MAX_PARAMS];
    int n_warm;
} FitResult;

/* Minimizes sum_i weight_i * Huber(log Lhat_i - log L_i) from every start (rows of k values),
 * keeping the best; weights NULL means 1. Grids of more than 2 ESTIMATOR_POLISH starts are
 * first screened (ESTIMATOR_SCREEN_ITER iterations each) and the best ESTIMATOR_POLISH are
 * descended to convergence. 0, or -1 with err when no start gives a finite fit. */
int estimator_fit(const Law *law, const FitPoint *pts, int n, const double *weights, const double *starts,
                  int n_starts, const EstimatorSettings *set, FitResult *out, char *err, int errlen);

/* R^2 of log L: 1 - SS_res / SS_tot. */
double estimator_r2_log(const Law *law, const double *theta, const FitPoint *pts, int n);

/* Bootstrap over points: n_boot resamples (with replacement, seeded), each refitted from the
 * full fit's best minima and ESTIMATOR_BOOT_SPREAD starts spread evenly over grid (n_grid rows):
 * all screened, the best ESTIMATOR_BOOT_POLISH descended to convergence.
 * Fills samples (n_boot rows of law->n_coef natural coefficients), allocated. Returns the
 * number of resamples whose refit succeeded, or -1 on OOM. */
int estimator_bootstrap(const Law *law, const FitPoint *pts, int n, const FitResult *full, const double *grid,
                        int n_grid, const EstimatorSettings *set, double **samples);

/* The percentile interval of values (n, any order; NaNs ignored) at coverage level. */
void estimator_percentile_interval(const double *values, int n, double level, double *lo, double *hi);

/* Leave-largest-budget-out: points are grouped by budget (within a factor 1.25 of each other);
 * the largest group is held out, the law refitted on the rest from the full start grid and
 * used to predict it. */
typedef struct {
    int available;      /* 0 when there is only one budget group */
    double budget_lo, budget_hi;  /* the held-out group's budget range */
    int n_held_out;
    double mae_log;     /* mean |log Lhat - log L| on the held-out points */
    /* Its interval (set->level) over resamples of the held-out points with the refit held fixed:
     * how much the error depends on which runs happened to be held out. NaN with fewer than 2. */
    double mae_log_lo, mae_log_hi;
    double rmse_log;
    double mean_rel;    /* mean (Lhat - L) / L: the sign says over- or under-prediction */
} LoboResult;

int estimator_lobo(const Law *law, const FitPoint *pts, int n, const double *starts, int n_starts,
                   const EstimatorSettings *set, LoboResult *out, char *err, int errlen);

#endif
