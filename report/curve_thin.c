/* report/curve_thin.c: thinning a training curve for a log-x plot (curve_thin.h): the means of the
 * points in equal-width bins of log(x). */
#include "report/curve_thin.h"

#include <math.h>

static int usable(double x, double y)
{
    return x > 0 && isfinite(x) && isfinite(y);
}

int curve_thin_log(const double *x, const double *y, int n, int bins, double *out_x, double *out_y)
{
    int m = 0, first = -1, last = -1;
    for (int i = 0; i < n; i++) {
        if (!usable(x[i], y[i])) continue;
        m++;
        if (first < 0) first = i;
        last = i;
    }
    if (m == 0) return 0;
    if (m <= bins || bins < 1) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (usable(x[i], y[i])) {
                out_x[k] = x[i];
                out_y[k] = y[i];
                k++;
            }
        return k;
    }
    double lo = log(x[first]), hi = log(x[last]);
    double width = hi > lo ? (hi - lo) / bins : 1.0;
    int k = 0, current = -1, count = 0;
    double sum_x = 0, sum_y = 0;
    for (int i = 0; i < n; i++) {
        if (!usable(x[i], y[i])) continue;
        int b = (int)((log(x[i]) - lo) / width);
        if (b < 0) b = 0;
        if (b >= bins) b = bins - 1;
        if (b != current && count > 0) {
            out_x[k] = sum_x / count;
            out_y[k] = sum_y / count;
            k++;
            sum_x = sum_y = 0;
            count = 0;
        }
        current = b;
        sum_x += x[i];
        sum_y += y[i];
        count++;
    }
    if (count > 0) {
        out_x[k] = sum_x / count;
        out_y[k] = sum_y / count;
        k++;
    }
    return k;
}
