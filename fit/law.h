/* fit/law.h: the scaling laws the fitter knows (Chinchilla form, compression-aware DLCM Eq. 22):
 * their coefficients under the spec's names, the log-space parameterization the estimator
 * works in, log-loss predictions with gradients, and the grid of starting points. */
#ifndef DLCM_FIT_LAW_H
#define DLCM_FIT_LAW_H

#include "fit/points.h"

typedef enum { LAW_CHINCHILLA = 0, LAW_DLCM = 1 } LawKind;

#define LAW_MAX_PARAMS 11

typedef struct {
    LawKind kind;
    int fit_offsets; /* dlcm: t_tok, t_con, t_dat are free (else fixed at 0) */
    int k;           /* free parameters of the estimator */
    int n_coef;      /* natural coefficients reported (spec names) */
    /* Means of the log covariates (log N(1-P) or log N, log D, log NP, log R) over the data.
     * The estimator's scale parameters are centered on them: a - alpha log N becomes
     * a_c - alpha (log N - m). Same minimizer, but without the near-collinearity of a and
     * alpha that makes BFGS crawl. Zero until law_set_centers. */
    double center[4];
} Law;

/* 0, or -1 when the name is unknown. name: "chinchilla" or "dlcm". */
int law_init(Law *law, const char *name, int fit_offsets);
const char *law_name(const Law *law);

/* Natural coefficients, in the order of law_coef_name: chinchilla E, A, B, alpha, beta;
 * dlcm E0, A_tok, A_con, A_dat, t_tok, t_con, t_dat, delta1, delta2, gamma, alpha. */
const char *law_coef_name(const Law *law, int i);
/* 1 when natural coefficient i is an exponent (alpha, beta; delta1, delta2, gamma, alpha). */
int law_coef_is_exponent(const Law *law, int i);
/* 1 when natural coefficient i is held fixed (the dlcm offsets without --offsets). */
int law_coef_is_fixed(const Law *law, int i);

/* An exponent below this is "on its constraint" (the parameterization keeps it positive, so a
 * fit that wants it at or below 0 drives it here). Also the smallest exponent a start uses. */
#define LAW_EXPONENT_FLOOR 1e-3
#define LAW_MIN_START_EXPONENT 0.02

/* Centers the parameterization on the data (call once, before fitting). */
void law_set_centers(Law *law, const FitPoint *pts, int n);

/* Estimator parameters theta (length k): logs of the positive scale coefficients (centered,
 * see Law.center), logs of the exponents (so E and every exponent are positive by
 * construction), and (dlcm with offsets) the logs of t_*.
 * law_param_name names the uncentered meaning. */
const char *law_param_name(const Law *law, int i);
void law_theta_to_coef(const Law *law, const double *theta, double *coef);
/* From uncentered log-space values (log E, log A, ..., exponents as values, log t) to theta;
 * an exponent below LAW_MIN_START_EXPONENT (a grid's 0) starts there. */
void law_theta_from_natural(const Law *law, const double *natural, double *theta);

/* log L predicted at point p; fills grad (d log L / d theta, length k) when not NULL. The
 * dense points of the dlcm law have no concept term and all of N in the token stream. */
double law_log_predict(const Law *law, const double *theta, const FitPoint *p, double *grad);

/* L from natural coefficients (what the query and the plots use). dense: no concept term. */
double law_loss(const Law *law, const double *coef, double N, double D, double R, double P, int dense);

/* The grid of starting points (rows of k theta values, built in uncentered log space and then
 * centered), allocated; *n_starts set. NULL on OOM. */
double *law_start_grid(const Law *law, int *n_starts);

#endif
