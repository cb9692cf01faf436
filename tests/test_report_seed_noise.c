/* tests/test_report_seed_noise.c: the pooled seed-to-seed standard deviation
 * (report/seed_noise.h) against values worked out by hand. */
#include <criterion/criterion.h>
#include <math.h>

#include "report/seed_noise.h"

Test(report_seed_noise, pooled_over_groups_with_their_degrees_of_freedom)
{
    /* Group 7: 1, 3 (ss 2, df 1); group 2: 4, 6, 8 (ss 8, df 2); group 9: one run (no df). */
    double loss[6] = {1, 4, 3, 6, 8, 100};
    int group[6] = {7, 2, 7, 2, 2, 9};
    SeedNoise s = seed_noise_pooled(loss, group, 6);
    cr_assert_eq(s.groups, 2);
    cr_assert_eq(s.df, 3);
    cr_assert_float_eq(s.sd, sqrt(10.0 / 3), 1e-12);
    /* chi-square quantiles with 3 df: 0.2158 (2.5 %) and 9.348 (97.5 %) */
    cr_assert_float_eq(s.sd_lo, s.sd * sqrt(3 / 9.348404), 1e-5);
    cr_assert_float_eq(s.sd_hi, s.sd * sqrt(3 / 0.2157953), 1e-5);
}

Test(report_seed_noise, no_repeated_seed_gives_no_estimate_and_bad_values_are_skipped)
{
    double loss[3] = {1, NAN, 2};
    int group[3] = {0, 0, 1};
    SeedNoise s = seed_noise_pooled(loss, group, 3);
    cr_assert_eq(s.df, 0);
    cr_assert_eq(s.groups, 0);
    cr_assert(isnan(s.sd) && isnan(s.sd_lo) && isnan(s.sd_hi));
}
