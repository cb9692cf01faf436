/* report/paired.c: the mean of paired differences and its t-interval (see paired.h). */
#include "report/paired.h"

#include <gsl/gsl_cdf.h>
#include <math.h>

PairedDifference paired_difference(const double *a, const double *b, int n, double level)
{
    PairedDifference d = {0, NAN, NAN, NAN, NAN};
    double sum = 0, sum_sq = 0;
    for (int i = 0; i < n; i++) {
        if (!(isfinite(a[i]) && isfinite(b[i]))) continue;
        double x = a[i] - b[i];
        sum += x;
        sum_sq += x * x;
        d.n++;
    }
    if (d.n == 0) return d;
    d.mean = sum / d.n;
    if (d.n < 2) return d;
    d.sd = sqrt(fmax(0, (sum_sq - d.n * d.mean * d.mean) / (d.n - 1)));
    if (d.n < 3 || !(level > 0 && level < 1)) return d;
    double half = gsl_cdf_tdist_Pinv(0.5 + level / 2, d.n - 1) * d.sd / sqrt(d.n);
    d.lo = d.mean - half;
    d.hi = d.mean + half;
    return d;
}
