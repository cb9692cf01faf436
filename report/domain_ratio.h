/* report/domain_ratio.h: whether two held-out domains are cut into concepts of different sizes:
 * the paired ratio of their realized R (tokens per concept) over runs, with a t-interval. */
#ifndef REPORT_DOMAIN_RATIO_H
#define REPORT_DOMAIN_RATIO_H

typedef struct {
    int n;         /* runs with a finite, positive R on both domains */
    double ratio;  /* exp(mean over runs of ln(R_a / R_b)): the typical R_a / R_b */
    double lo, hi; /* its two-sided interval at the level asked; NaN when n < 3 */
} DomainRatio;

/* The paired ratio of R_a over R_b over n runs (element i of both arrays is one run; pairs where
 * either is not finite and positive are skipped), with a Student-t interval of the mean log
 * ratio at the two-sided level given (0.95, or 1 - 0.05 / m for m comparisons). Pairing removes
 * what the runs share (size, R target, training length): only the domains' difference is left. */
DomainRatio domain_ratio(const double *R_a, const double *R_b, int n, double level);

#endif
