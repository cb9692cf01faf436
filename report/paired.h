/* report/paired.h: the mean of paired differences over units (runs, shapes) with a Student-t
 * interval from their scatter: what is left when each pair shares everything else. */
#ifndef REPORT_PAIRED_H
#define REPORT_PAIRED_H

typedef struct {
    int n;         /* pairs where both values are finite */
    double mean;   /* mean over them of a[i] - b[i]; NaN when n = 0 */
    double sd;     /* standard deviation of the differences; NaN when n < 2 */
    double lo, hi; /* two-sided interval of the mean at the level asked; NaN when n < 3 */
} PairedDifference;

/* The mean of a[i] - b[i] over the pairs i < n where both are finite, with a Student-t interval
 * (n - 1 degrees of freedom) at the two-sided level given (0.95, or 1 - 0.05 / m for m
 * comparisons). Needs 3 pairs for an interval: with 2 the t quantile (12.7) says nothing. */
PairedDifference paired_difference(const double *a, const double *b, int n, double level);

#endif
