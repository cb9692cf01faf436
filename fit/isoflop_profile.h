/* fit/isoflop_profile.h: the compute-optimal N and D of one family without a law (Chinchilla's
 * approach 2): per budget a quadratic in ln N through the isoFLOP losses (one point per shape: the
 * mean of its seeds, weighted by their count), its vertex with a parametric-bootstrap interval and
 * a status, and the power law of the located vertices on C. */
#ifndef DLCM_FIT_ISOFLOP_PROFILE_H
#define DLCM_FIT_ISOFLOP_PROFILE_H

/* Whether two runs' budgets are the same budget: the planner stores the sweep's budget for an
 * isoFLOP run but its own training FLOPs for a run without one (a dense partner at a DLCM's
 * tokens, equal inference FLOPs), within a fraction of a percent of the budget; within 2 %
 * counts as the same (a sweep's budgets are far further apart). */
int isoflop_same_budget(double a, double b);

/* One point: its budget C, N, final loss and training FLOPs per token (a run, or a shape whose
 * loss is the mean of its seeds: isoflop_profile_seeds). */
typedef struct {
    double C, N, loss, train_flops_per_token;
} ProfilePoint;

/* The seed noise measured at one budget C (isoflop_same_budget) on that budget's runs alone. */
typedef struct {
    double C, sd;
    int dof;
} ProfileBudgetNoise;

/* The noise of one run's final loss measured apart from the profile (runs differing only in the
 * seed): its standard deviation (per run, not per mean) and degrees of freedom, pooled over the
 * study; and, where a budget has its own measurement (its runs see more or fewer tokens than
 * others, so their noise differs), that one for that budget (at: n_at entries; NULL: none). */
typedef struct {
    double sd;
    int dof;
    const ProfileBudgetNoise *at;
    int n_at;
} ProfileNoise;

typedef enum { PROFILE_LOCATED = 0, PROFILE_AT_EDGE = 1, PROFILE_NOT_LOCATED = 2 } ProfileStatus;

/* "located", "at an edge", "not located". */
const char *isoflop_profile_status_text(ProfileStatus s);

/* Draws of the parametric bootstrap per budget (seeded: the same runs give the same numbers). */
#define PROFILE_DRAWS 4000
/* A vertex is located when at least this share of the draws has its minimum inside the sizes run. */
#define PROFILE_MIN_INSIDE 0.95

typedef struct {
    double C;                 /* mean of the budgets grouped (isoflop_same_budget with the smallest) */
    int n_points, n_sizes;    /* points (shapes), and sizes among them (N within 1 % are one size) */
    int n_runs;               /* runs behind the points (the sum of their seeds) */
    int seeds_min, seeds_max; /* the fewest and most seeds of a point (1 and 1: one run each) */
    double N_min, N_max;      /* the sizes run */
    double best_N, best_loss; /* the point of least (mean) loss */
    int best_seeds;           /* its seeds */
    /* L = a + b x + c x^2 with x = ln N - x_center, least squares weighted by the points' seeds;
     * dof = n_points - 3 (no interval at 0); resid_sd: the scatter about it in units of one run
     * (sqrt of the weighted residual sum of squares over dof), comparable to a seed sd. */
    double a, b, c, x_center, resid_sd;
    int dof;
    /* The noise the draws assume (per run; a point of k seeds gets noise_sd / sqrt(k)): resid_sd
     * with dof, or the outside estimate (noise_outside = 1) when that is larger or dof = 0; no
     * draws when noise_dof = 0. */
    double noise_sd;
    int noise_dof, noise_outside;
    int has_vertex;           /* c > 0 */
    double N_opt, D_opt;      /* the vertex and C / F_train(N_opt); NAN without a vertex */
    int has_interval;         /* noise_dof > 0 and some draw has a vertex */
    double N_lo, N_hi, D_lo, D_hi;      /* 2.5 / 97.5 % of the draws that have a vertex */
    double share_vertex, share_inside;  /* draws with c > 0; and with the vertex inside [N_min, N_max] */
    ProfileStatus status;
    int edge_side;            /* at an edge: -1 the optimum is at or below N_min, +1 at or above N_max */
    int best_at_end;          /* the best point is the smallest or largest size (else, at an edge, only the
                                 vertex lies outside: the best point inside contradicts a bound) */
    char why[200];            /* the reason for the status, in words */
    double *draw_ln_N, *draw_ln_D; /* n_draws each; NAN where the draw has no vertex (NULL: no draws) */
} ProfileBudget;

/* ln Y = slope ln C + intercept over the located budgets (Y = N_opt or D_opt); the interval by
 * refitting on every joint draw of the budgets' vertices (one draw of each budget per refit). */
typedef struct {
    int available;            /* at least 3 located budgets */
    double slope, slope_lo, slope_hi, intercept;
    double max_resid;         /* the largest |residual| of ln Y about the line (departure from a power law) */
    int replicates;           /* joint draws in which every budget had a vertex */
} ProfileExponent;

typedef struct {
    ProfileBudget *budgets;   /* by increasing C */
    int n_budgets, n_draws, n_used;  /* n_used: located budgets in the exponents */
    ProfileExponent N, D;
} ProfileResult;

/* Groups the points by budget and profiles each (n_draws per budget, seeded), every point one run
 * (ordinary least squares). noise (NULL: none): an outside estimate of one run's loss noise (seed
 * to seed); a budget whose scatter about its quadratic is smaller, or has no residual (3 points),
 * draws with it instead. 0, or -1 with err (a non-finite or non-positive value, named by its
 * index; out of memory). */
int isoflop_profile(const ProfilePoint *pts, int n, int n_draws, unsigned long seed, const ProfileNoise *noise,
                    ProfileResult *out, char *err, int errlen);

/* The same with point i the mean loss of seeds[i] runs that differ only in the seed (seeds NULL:
 * one each, exactly isoflop_profile). A mean of k seeds has 1/k the variance of one run, so it
 * weighs k times as much in the least squares and its noise in the draws is the per-run sd /
 * sqrt(k). A seed count below 1 is refused (-1 with err naming the point). */
int isoflop_profile_seeds(const ProfilePoint *pts, const int *seeds, int n, int n_draws, unsigned long seed,
                          const ProfileNoise *noise, ProfileResult *out, char *err, int errlen);
void isoflop_profile_free(ProfileResult *r);

#endif
