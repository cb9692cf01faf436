/* fit/decay.h: the decay-phase law (DLCM Eq. 23): Delta = k L_stable^a R^b N^c, fitted by
 * ordinary least squares on logs, from loss trajectories of WSD runs or from a CSV. */
#ifndef DLCM_FIT_DECAY_H
#define DLCM_FIT_DECAY_H

#include <sqlite3.h>

typedef struct {
    char id[72];
    double L_stable;  /* loss at the end of the stable phase */
    double L_final;   /* loss at the end of the decay */
    double R, N;
    int window_stable, window_final;  /* logged steps averaged for L_stable and L_final (0: a CSV) */
} DecayPoint;

/* L_stable and L_final average the last `fraction` of the logged steps of the stable phase and
 * of the decay (at least one step), or the last `steps` steps when steps > 0. */
typedef struct {
    double fraction;
    int steps;
} DecayWindow;

typedef struct {
    double coef[4];        /* log k, a, b, c */
    double lo[4], hi[4];   /* 95 % t intervals */
    double k, k_lo, k_hi;  /* k = exp(log k) */
    double r2;
    int n;
} DecayFit;

/* Fits log Delta = log k + a log L_stable + b log R + c log N. Needs at least 5 points with
 * Delta > 0, two distinct R and two distinct N. 0, or -1 with err. */
int decay_fit(const DecayPoint *pts, int n, double level, DecayFit *out, char *err, int errlen);

/* Reads the decay points of a sweep's finished runs from the metrics table; every finished run
 * must have a WSD schedule (the others are refused by name). The stable phase ends at the last
 * logged step whose LR is the run's peak LR; L_stable and L_final are means of train_loss over
 * the window ending there and at the end. *pts allocated. 0, or -1 with err. */
int decay_read_sweep(sqlite3 *db, const char *sweep, const DecayWindow *window, DecayPoint **pts, int *n, char *err,
                     int errlen);

/* CSV with columns L_stable, L_final (or delta), R, N. 0, or -1 with err naming line and column. */
int decay_read_csv(const char *path, DecayPoint **pts, int *n, char *err, int errlen);

/* dlcm-fit decay ... */
int decay_main(int argc, char **argv);

#endif
