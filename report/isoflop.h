/* report/isoflop.h: what a report computes from a stored fit: the fit read back from its JSON
 * (law, coefficients, bootstrap resamples), the training FLOPs per token of a family as a
 * function of N (interpolated between the sweep's own runs), and along each budget's isoFLOP
 * line the fitted loss, its minimum and the bootstrap interval of that minimum. */
#ifndef DLCM_REPORT_ISOFLOP_H
#define DLCM_REPORT_ISOFLOP_H

#include <json-c/json.h>

#include "fit/isoflop_profile.h"
#include "fit/law.h"

typedef struct {
    Law law;
    double coef[LAW_MAX_PARAMS];
    double *boot; /* n_boot rows of law.n_coef coefficients, in law_coef_name order */
    int n_boot;
    json_object *root; /* the whole fit JSON (coefficients, derived, validation, data) */
} LoadedFit;

/* Reads a fit JSON as dlcm-fit writes it. 0, or -1 with err. */
int isoflop_fit_load(const char *json_text, LoadedFit *fit, char *err, int errlen);
void isoflop_fit_free(LoadedFit *fit);

/* isoflop_same_budget (which runs are one budget) is fit/isoflop_profile.h's: the report and the
 * law-free profile group runs the same way. */

#define FLOPS_CURVE_MAX 128

/* Training FLOPs per token against N for one family (and one R for DLCMs), from runs. */
typedef struct {
    double log_n[FLOPS_CURVE_MAX], log_f[FLOPS_CURVE_MAX];
    int n;
} FlopsCurve;

void flops_curve_add(FlopsCurve *c, double N, double flops_per_token);
/* log-log linear between the runs' points, extended linearly by the end segments (a single
 * point: F proportional to N). NAN when the curve is empty. */
double flops_curve_at(const FlopsCurve *c, double N);

/* A family's line: which law terms apply and the R and P it is drawn at. */
typedef struct {
    int dense;
    double R, P;
    const FlopsCurve *flops;
} FamilyLine;

/* The fitted loss at N on the isoFLOP line of budget C (D = C / F(N)) with coefficients coef. */
double isoflop_loss(const LoadedFit *fit, const double *coef, const FamilyLine *line, double C, double N);

/* The N of least fitted loss on a log grid of n points in [lo, hi]; *at_edge is 1 when it is an
 * end of the grid (the minimum is then outside the range searched: a bound, not an optimum). */
double isoflop_argmin(const LoadedFit *fit, const double *coef, const FamilyLine *line, double C, double lo,
                      double hi, int n, int *at_edge);

/* The 2.5% and 97.5% quantiles of the bootstrap resamples' argmin (NAN when there are none);
 * *edge_share gets the share of resamples whose minimum is at an end of the grid. */
void isoflop_argmin_interval(const LoadedFit *fit, const FamilyLine *line, double C, double lo, double hi, int n,
                             double *q_lo, double *q_hi, double *edge_share);

#endif
