/* report/seed_noise.h: how much a run's final loss moves with its seed alone: the pooled
 * within-group standard deviation of runs identical but for the seed, with its interval. */
#ifndef REPORT_SEED_NOISE_H
#define REPORT_SEED_NOISE_H

typedef struct {
    int groups;            /* groups with at least two runs */
    int df;                /* degrees of freedom: sum over those groups of (runs - 1) */
    double sd, sd_lo, sd_hi; /* pooled standard deviation and its 95 % chi-square interval; NaN when df = 0 */
} SeedNoise;

/* values[i] is run i's loss and group[i] its group (runs of one group differ only in the seed;
 * any integer labels). Non-finite values are skipped. */
SeedNoise seed_noise_pooled(const double *values, const int *group, int n);

#endif
