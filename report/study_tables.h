/* report/study_tables.h: the study report's own computations, apart from its SQL and its text:
 * a claim's verdict from an interval, device sessions from the runs' start and end times, and
 * the loss by position within a concept of a DLCM against a dense run on the same tokens, with
 * a bootstrap over the scored windows. */
#ifndef DLCM_REPORT_STUDY_TABLES_H
#define DLCM_REPORT_STUDY_TABLES_H

#include <stdint.h>

/* A claim is decided only by an interval that lies wholly on one side of its threshold. */
typedef enum { CLAIM_HOLDS = 0, CLAIM_FAILS = 1, CLAIM_UNDECIDED = 2, CLAIM_MISSING = 3 } ClaimVerdict;

/* The claim "value > threshold" (direction +1) or "value < threshold" (direction -1) against the
 * 95 % interval [lo, hi]: holds when the whole interval is on the claim's side, fails when it is
 * wholly on the other, undecided when it straddles the threshold, missing when an end is NaN. An
 * infinite end is an end (a share that was never reached is +inf). */
ClaimVerdict claim_from_interval(double lo, double hi, double threshold, int direction);
/* "holds", "does not hold", "cannot decide at this scale", "missing". */
const char *claim_verdict_text(ClaimVerdict v);

/* Device sessions: runs on one GPU model whose [start, end] spans chain with gaps shorter than
 * gap_s make one session. */
typedef struct {
    double start, end, flops;
    char gpu[128], host[128];
} SessionRun;

typedef struct {
    double start, end;  /* the first start and the last end */
    double flops;       /* FLOPs the runs launched */
    int runs;
    char gpu[128], host[128];
} Session;

/* Sorts runs by start (in place) and groups them; at most max sessions. The count. */
int sessions_group(SessionRun *runs, int n, double gap_s, Session *out, int max);

/* The loss by position within a concept. Positions 0 .. PROFILE_POSITIONS-2 each, and the last
 * bin for every later position. Tokens come in windows (blocks) that are resampled whole. */
#define PROFILE_POSITIONS 17
#define PROFILE_BOOTSTRAP 400

typedef struct {
    int n_windows, cap;
    long per_window;                 /* targets per window */
    float *dlcm, *dense;             /* n_windows * per_window */
    uint8_t *pos;
} ProfileData;

int profile_add(ProfileData *p, const float *dlcm_loss, const uint8_t *pos, const float *dense_loss, long n,
                long per_window);
void profile_free(ProfileData *p);

typedef struct {
    long tokens[PROFILE_POSITIONS];
    double dlcm[PROFILE_POSITIONS], dense[PROFILE_POSITIONS];  /* mean losses */
    double gap[PROFILE_POSITIONS], gap_lo[PROFILE_POSITIONS], gap_hi[PROFILE_POSITIONS]; /* dlcm - dense */
    int last;           /* the last position such that every one up to it has PROFILE_MIN_TOKENS tokens
                           (the U's right end; -1 when position 0 has fewer) */
    int min_at;         /* the interior position of the smallest gap */
    double u_share;     /* share of resamples in which positions 0 and `last` both exceed the interior minimum */
    int windows;
} Profile;

#define PROFILE_MIN_TOKENS 100

/* Means, block-bootstrap intervals of the gap (seeded: the same data give the same numbers) and
 * the U-shape share. 0, or -1 with no tokens. */
int profile_compute(const ProfileData *p, Profile *out);
/* The U-shape claim from the share of resamples: holds at >= 0.975, fails at <= 0.025. */
ClaimVerdict profile_u_verdict(const Profile *p);

#endif
