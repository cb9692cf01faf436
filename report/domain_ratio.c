/* report/domain_ratio.c: the paired ratio of two domains' realized R over runs and its
 * t-interval (see domain_ratio.h): the paired difference of their logarithms. */
#include "report/domain_ratio.h"

#include <math.h>
#include <stdlib.h>

#include "report/paired.h"

DomainRatio domain_ratio(const double *R_a, const double *R_b, int n, double level)
{
    DomainRatio d = {0, NAN, NAN, NAN};
    double *log_a = malloc((size_t)(n > 0 ? n : 1) * sizeof *log_a);
    double *log_b = malloc((size_t)(n > 0 ? n : 1) * sizeof *log_b);
    if (!log_a || !log_b) {
        free(log_a);
        free(log_b);
        return d; /* no runs counted: the caller prints no ratio rather than a wrong one */
    }
    for (int i = 0; i < n; i++) {
        int ok = isfinite(R_a[i]) && isfinite(R_b[i]) && R_a[i] > 0 && R_b[i] > 0;
        log_a[i] = ok ? log(R_a[i]) : NAN;
        log_b[i] = ok ? log(R_b[i]) : NAN;
    }
    PairedDifference p = paired_difference(log_a, log_b, n, level);
    free(log_a);
    free(log_b);
    d.n = p.n;
    d.ratio = exp(p.mean);
    d.lo = exp(p.lo);
    d.hi = exp(p.hi);
    return d;
}
