/* report/curve_thin.h: a training curve of thousands of steps thinned to a bounded number of
 * points for a log-x plot, each point the mean of the steps in one equal-width bin of log(tokens). */
#ifndef REPORT_CURVE_THIN_H
#define REPORT_CURVE_THIN_H

/* x[i] > 0 (tokens trained, non-decreasing), y[i] the loss at x[i]. Writes the thinned curve into
 * out_x, out_y (room for n) and returns its length: n unchanged when n <= bins, else one point per
 * non-empty bin of log(x) (at most bins), at the means of that bin's x and y. The early steps,
 * sparse on a log axis, stay single points; the late ones, thousands to a bin, are averaged, which
 * also shows the trend through the step-to-step noise. Points with x <= 0 or a non-finite value are
 * skipped. */
int curve_thin_log(const double *x, const double *y, int n, int bins, double *out_x, double *out_y);

#endif
