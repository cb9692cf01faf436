/* report/seed_noise.c: the pooled seed-to-seed standard deviation of final losses and its
 * chi-square interval (see seed_noise.h). */
#include "report/seed_noise.h"

#include <gsl/gsl_cdf.h>
#include <math.h>

SeedNoise seed_noise_pooled(const double *values, const int *group, int n)
{
    SeedNoise s = {0, 0, NAN, NAN, NAN};
    double ss = 0;
    /* Quadratic in n, and n is a study's run count (hundreds): no sorting needed. */
    for (int i = 0; i < n; i++) {
        if (!isfinite(values[i])) continue;
        int first = 1;
        for (int j = 0; j < i && first; j++)
            if (group[j] == group[i] && isfinite(values[j])) first = 0;
        if (!first) continue;
        double sum = 0;
        int k = 0;
        for (int j = i; j < n; j++)
            if (group[j] == group[i] && isfinite(values[j])) sum += values[j], k++;
        if (k < 2) continue;
        double mean = sum / k;
        for (int j = i; j < n; j++)
            if (group[j] == group[i] && isfinite(values[j])) ss += (values[j] - mean) * (values[j] - mean);
        s.groups++;
        s.df += k - 1;
    }
    if (s.df == 0) return s;
    s.sd = sqrt(ss / s.df);
    s.sd_lo = s.sd * sqrt(s.df / gsl_cdf_chisq_Pinv(0.975, s.df));
    s.sd_hi = s.sd * sqrt(s.df / gsl_cdf_chisq_Pinv(0.025, s.df));
    return s;
}
