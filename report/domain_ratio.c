/* report/domain_ratio.c: the paired ratio of two domains' realized R over runs and its
 * t-interval (see domain_ratio.h). */
#include "report/domain_ratio.h"

#include <gsl/gsl_cdf.h>
#include <math.h>

DomainRatio domain_ratio(const double *R_a, const double *R_b, int n, double level)
{
    DomainRatio d = {0, NAN, NAN, NAN};
    double sum = 0, sum_sq = 0;
    for (int i = 0; i < n; i++) {
        if (!(isfinite(R_a[i]) && isfinite(R_b[i]) && R_a[i] > 0 && R_b[i] > 0)) continue;
        double x = log(R_a[i] / R_b[i]);
        sum += x;
        sum_sq += x * x;
        d.n++;
    }
    if (d.n == 0) return d;
    double mean = sum / d.n;
    d.ratio = exp(mean);
    if (d.n < 3 || !(level > 0 && level < 1)) return d;
    double var = fmax(0, (sum_sq - d.n * mean * mean) / (d.n - 1));
    double half = gsl_cdf_tdist_Pinv(0.5 + level / 2, d.n - 1) * sqrt(var / d.n);
    d.lo = exp(mean - half);
    d.hi = exp(mean + half);
    return d;
}
