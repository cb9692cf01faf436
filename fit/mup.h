/* fit/mup.h: μP transfer validation (spec scaling-laws.md §5): per width the optimal log2 LR
 * from a quadratic through the best grid point and its neighbours, the slope of log2 LR*
 * against log2 width with its interval, the drift and the transfer regret, and the coordinate
 * check's log-log slopes of mean |x| against width. */
#ifndef DLCM_FIT_MUP_H
#define DLCM_FIT_MUP_H


#define MUP_MAX_WIDTHS 32
#define MUP_BOOTSTRAP 1000
#define MUP_MAX_LRS 64

typedef struct {
    char param[8];   /* "mup" or "sp" */
    int width;
    double lr;
    double loss;     /* +inf for a diverged run */
} MupRun;

typedef struct {
    int width;
    int n_lr;
    double log2_lr[MUP_MAX_LRS];   /* the grid, ascending */
    double loss[MUP_MAX_LRS];      /* mean over seeds; +inf if any seed diverged */
    double log2_lr_star;           /* optimum from the quadratic */
    int edge;                      /* -1 / +1: the best grid point is the lowest / highest LR; 0 inside */
    double best_loss;              /* lowest grid loss */
    double regret;                 /* loss at the base width's LR* (nearest grid point) - best_loss */
} MupWidth;

typedef struct {
    char param[8];
    int n_widths;
    MupWidth w[MUP_MAX_WIDTHS];
    double slope;                      /* log2 LR* vs log2 width (OLS) */
    double t_lo, t_hi;                 /* its 95 % t interval over widths (NaN with < 3 widths) */
    double boot_lo, boot_hi;           /* its 95 % seed-bootstrap interval (MUP_BOOTSTRAP resamples) */
    int min_seeds;                     /* the fewest seeds of any (width, LR) cell */
    double slope_lo, slope_hi;         /* the interval decided on: the wider of the two */
    double grid_step;                  /* median spacing of the LR grid, in log2 */
    double max_drift_steps;            /* max |LR*(w) - LR*(base)| in grid steps */
} MupTransfer;

/* Analyses the runs of one parametrization. 0, or -1 with err (fewer than 2 widths, a width
 * with fewer than 3 LRs or only diverged runs). */
int mup_transfer(const MupRun *runs, int n, const char *param, MupTransfer *out, char *err, int errlen);

typedef struct {
    char param[8];
    char module[64];
    int step;
    int n_widths;
    double slope;    /* d log mean|x| / d log width */
} MupCoordSlope;

typedef struct {
    char param[8];
    int width;
    int step;
    char module[64];
    double mean_abs;
} MupCoordRow;

/* Slopes for every (param, module, step >= 3) with at least two widths (rows of one width are
 * averaged over seeds first). *slopes allocated. Returns their number, or -1 on OOM. */
int mup_coord_slopes(const MupCoordRow *rows, int n, MupCoordSlope **slopes);

/* The coordinate check's worst |slope| per parametrization (0 mup, 1 sp) and whether there is
 * data for it. */
typedef struct {
    int have[2];
    double worst[2];
} MupCoordSummary;

/* The verdict (spec scaling-laws.md §5), written down in fit/README.md:
 * INCONCLUSIVE when any width's optimum is on the LR grid's edge (naming the LRs to add), when
 * a slope interval cannot be computed, or when the sp control does not fail (its slope interval
 * includes 0, or its coordinate check passes): the sweep cannot discriminate. Otherwise FAIL
 * when the mup slope's 95 % interval lies wholly outside +-0.1 (or the drift exceeds 2 grid
 * steps) or the mup coordinate check fails; PASS when the mup slope is within +-0.1, its
 * interval within +-0.15, the drift at most 1 step and the coordinate check (where there is
 * one) passes; INCONCLUSIVE in between. */
#define MUP_SLOPE_BOUND 0.1
#define MUP_SLOPE_INTERVAL_BOUND 0.15
#define MUP_COORD_BOUND 0.1
#define MUP_MAX_REASONS 24

typedef enum { MUP_PASS = 0, MUP_FAIL = 1, MUP_INCONCLUSIVE = 2 } MupVerdictKind;

typedef struct {
    MupVerdictKind kind;
    int n_reasons;
    char reasons[MUP_MAX_REASONS][256];
} MupVerdict;

/* mup, sp, coord may be NULL (no such data). */
void mup_verdict(const MupTransfer *mup, const MupTransfer *sp, const MupCoordSummary *coord, MupVerdict *v);
const char *mup_verdict_name(MupVerdictKind k);
/* 0 PASS, 3 FAIL, 4 INCONCLUSIVE. */
int mup_verdict_exit(MupVerdictKind k);

/* dlcm-fit mup ... (fit/mup_cli.c) */
int mup_main(int argc, char **argv);

#endif
