/* report/seed_noise.h: runs that differ only in their seed: the one rule of which runs are seed
 * replicates of a shape, each shape's mean over its finished seeds, and the pooled within-shape
 * standard deviation (how much a run's final loss moves with its seed alone) with its interval. */
#ifndef REPORT_SEED_NOISE_H
#define REPORT_SEED_NOISE_H

#include <stddef.h>

/* What a run is apart from its seed. Two runs whose keys agree (text equal, NULL reading as "";
 * integers equal; numbers within 1e-9 relative, NaN equal to NaN) are seeds of one shape. */
typedef struct {
    const char *sweep, *family, *parametrization, *parser;
    long long d_t, d_c;
    double N, P, R, lr, budget, D;
} ShapeKey;

int seed_same_shape(const ShapeKey *a, const ShapeKey *b);

/* The value of `parser:` in a run's resolved config (YAML, one key a line) into buf; "" when the
 * config does not say (the trainer's default). The parser is a key of the shape. */
void seed_config_parser(const char *config, char *buf, size_t n);

/* group[i]: the index of the first run of run i's shape (group[i] <= i). Quadratic in n, which is
 * a study's run count (hundreds). */
void seed_shape_groups(const ShapeKey *keys, int n, int *group);

/* One shape: its runs and the mean of its finished seeds. */
typedef struct {
    int first;         /* its first run (an index into the caller's arrays) */
    int first_done;    /* its first finished run; -1 when none */
    int runs;          /* its runs, finished or not */
    int k;             /* its finished runs: those whose value is finite */
    double mean;       /* mean value over the k; NaN when k = 0 */
    double sd;         /* their standard deviation; NaN when k < 2 */
    double min, max;   /* their range; NaN when k = 0 */
} ShapeMean;

/* The shapes of n runs (values[i]: run i's final loss, non-finite when it did not finish), in the
 * order of their first runs, into out (room for n). Returns the number of shapes. */
int seed_shape_means(const ShapeKey *keys, const double *values, int n, ShapeMean *out);

typedef struct {
    int groups;            /* groups with at least two runs */
    int df;                /* degrees of freedom: sum over those groups of (runs - 1) */
    double sd, sd_lo, sd_hi; /* pooled standard deviation and its 95 % chi-square interval; NaN when df = 0 */
} SeedNoise;

/* values[i] is run i's loss and group[i] its group (runs of one group differ only in the seed;
 * any integer labels). Non-finite values are skipped. */
SeedNoise seed_noise_pooled(const double *values, const int *group, int n);

/* The half-width of the 95 % interval of a difference between two shape means of k_a and k_b
 * seeds, with a per-run seed sd estimated on df degrees of freedom: t sd sqrt(1/k_a + 1/k_b), t the
 * 97.5 % quantile of Student's t on df (the sd is itself estimated; 1.96 would cover less than
 * 95 % at few degrees of freedom: 2.45 at df 6). NaN when df < 1 or a k < 1. */
double seed_difference_band(double sd, int df, int k_a, int k_b);

#endif
