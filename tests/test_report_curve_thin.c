/* tests/test_report_curve_thin.c: a training curve thinned for its log-x plot
 * (report/curve_thin.h): bounded length, the early points kept, the late ones averaged. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "report/curve_thin.h"

Test(report_curve_thin, a_short_curve_is_kept_as_it_is_but_for_unusable_points)
{
    double x[] = {100, 200, 0, 400, 800}, y[] = {9.0, 7.5, 7.0, NAN, 6.1};
    double ox[5], oy[5];
    int k = curve_thin_log(x, y, 5, 200, ox, oy);
    cr_assert_eq(k, 3, "the point at 0 tokens and the NaN loss are skipped");
    cr_assert(ox[0] == 100 && oy[0] == 9.0 && ox[1] == 200 && oy[1] == 7.5 && ox[2] == 800 && oy[2] == 6.1);
    cr_assert_eq(curve_thin_log(x, y, 0, 200, ox, oy), 0);
}

Test(report_curve_thin, a_long_curve_has_at_most_bins_points_each_the_mean_of_its_bin)
{
    enum { N = 20000, BINS = 100 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *ox = malloc(N * sizeof *ox),
           *oy = malloc(N * sizeof *oy);
    cr_assert(x && y && ox && oy);
    for (int i = 0; i < N; i++) {
        x[i] = 1024.0 * (i + 1);
        y[i] = 2.0 + 5.0 / sqrt(i + 1.0) + (i % 2 ? 0.4 : -0.4); /* a falling curve with step noise */
    }
    int k = curve_thin_log(x, y, N, BINS, ox, oy);
    cr_assert_leq(k, BINS);
    cr_assert_geq(k, BINS / 2, "log bins over 4.3 decades are mostly non-empty: %d", k);
    /* The first steps are far apart on a log axis: each is its own point, unaveraged. */
    cr_assert(ox[0] == x[0] && oy[0] == y[0] && ox[1] == x[1] && oy[1] == y[1], "%g %g", ox[1], oy[1]);
    for (int j = 1; j < k; j++) cr_assert_gt(ox[j], ox[j - 1], "x rises");
    cr_assert_lt(fabs(ox[k - 1] - x[N - 1]) / x[N - 1], 0.05, "the last point lies at the end: %g", ox[k - 1]);
    /* Every point is the mean of a run of consecutive inputs: its x and y come from the same steps.
     * Late bins hold hundreds of steps, so the +-0.4 alternation averages out of the mean. */
    int in = 0;
    for (int j = 0; j < k; j++) {
        double sx = 0, sy = 0;
        int c = 0;
        while (in < N && (c == 0 || fabs(sx / c - ox[j]) > 1e-6 * ox[j])) {
            sx += x[in];
            sy += y[in];
            c++;
            in++;
        }
        cr_assert_lt(fabs(sx / c - ox[j]), 1e-6 * ox[j], "point %d is the mean of consecutive steps", j);
        cr_assert_lt(fabs(sy / c - oy[j]), 1e-9, "point %d: its loss is the mean over the same steps", j);
        if (c > 100) cr_assert_lt(fabs(oy[j] - (2.0 + 5.0 / sqrt(ox[j] / 1024.0))), 0.02, "point %d: noise averaged", j);
    }
    cr_assert_eq(in, N, "every input step is in exactly one point");
    free(x);
    free(y);
    free(ox);
    free(oy);
}
