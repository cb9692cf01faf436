/* tests/test_report_domain_ratio.c: the paired ratio of two domains' realized R over runs
 * (report/domain_ratio.h) against values worked out by hand. */
#include <criterion/criterion.h>
#include <math.h>

#include "report/domain_ratio.h"

Test(report_domain_ratio, a_constant_ratio_is_found_exactly_with_a_zero_width_interval)
{
    double a[4] = {2, 4, 8, 16}, b[4] = {2.5, 5, 10, 20};
    DomainRatio d = domain_ratio(a, b, 4, 0.95);
    cr_assert_eq(d.n, 4);
    cr_assert_float_eq(d.ratio, 0.8, 1e-12);
    cr_assert_float_eq(d.lo, 0.8, 1e-12);
    cr_assert_float_eq(d.hi, 0.8, 1e-12);
}

Test(report_domain_ratio, the_interval_is_the_t_interval_of_the_mean_log_ratio)
{
    /* log ratios 0.1, -0.1, 0.3: mean 0.1, sd 0.2, n 3, t(0.975, 2) = 4.302653 */
    double a[3] = {exp(0.1), exp(-0.1), exp(0.3)}, b[3] = {1, 1, 1};
    DomainRatio d = domain_ratio(a, b, 3, 0.95);
    double half = 4.302653 * 0.2 / sqrt(3);
    cr_assert_float_eq(d.ratio, exp(0.1), 1e-9);
    cr_assert_float_eq(log(d.lo), 0.1 - half, 1e-5);
    cr_assert_float_eq(log(d.hi), 0.1 + half, 1e-5);
    cr_assert(d.lo < 1 && d.hi > 1, "domains that do not differ consistently: the interval holds 1");
    /* A stricter level (Bonferroni over 9 comparisons) widens it. */
    DomainRatio strict = domain_ratio(a, b, 3, 1 - 0.05 / 9);
    cr_assert(strict.lo < d.lo && strict.hi > d.hi);
}

Test(report_domain_ratio, missing_or_bad_values_are_skipped_and_few_runs_give_no_interval)
{
    double a[4] = {2, NAN, 0, 3}, b[4] = {1, 1, 1, 1.5};
    DomainRatio d = domain_ratio(a, b, 4, 0.95);
    cr_assert_eq(d.n, 2);
    cr_assert_float_eq(d.ratio, 2, 1e-12);
    cr_assert(isnan(d.lo) && isnan(d.hi), "two runs: no interval");
    DomainRatio none = domain_ratio(a, b, 0, 0.95);
    cr_assert_eq(none.n, 0);
    cr_assert(isnan(none.ratio));
}
