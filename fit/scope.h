/* fit/scope.h: how far the data carries a fit: the ranges of the fitted runs (per family: budget,
 * N, D, D/N, P, R, each stack's width and depth), whether every coefficient is identified by
 * them, and how far a quantity lies outside its range. */
#ifndef DLCM_FIT_SCOPE_H
#define DLCM_FIT_SCOPE_H

#include <json-c/json.h>

#include "fit/law.h"
#include "fit/points.h"

enum { Q_BUDGET, Q_N, Q_D, Q_D_OVER_N, Q_P, Q_R, Q_D_T, Q_D_C, Q_N_LAYERS, Q_N_ENC, Q_N_CON, Q_N_DEC, Q_COUNT };
enum { FAM_DENSE = 0, FAM_DLCM = 1 };

/* Smallest and largest value of each quantity over one family's points; NaN when unknown (a
 * CSV has no shapes) or not applicable (a dense run's d_c). */
typedef struct {
    int n;
    double lo[Q_COUNT], hi[Q_COUNT];
} FamilyRange;

typedef struct {
    FamilyRange fam[2];
} DataRanges;

const char *scope_quantity_name(int q);
void scope_ranges(const FitData *d, DataRanges *out);
json_object *scope_ranges_json(const DataRanges *r);
/* Reads what scope_ranges_json wrote; quantities it lacks stay unknown. */
void scope_ranges_from_json(json_object *o, DataRanges *r);

/* Identification (spec scaling-laws.md §4): a coefficient is identified when its 95 % interval
 * spans at most a factor of 10 (an exponent's: at most 0.5 wide). */
#define SCOPE_MAX_SCALE_RATIO 10.0
#define SCOPE_MAX_EXPONENT_WIDTH 0.5

typedef struct {
    int known;                       /* intervals exist (a bootstrap was run) */
    int identified;                  /* every free coefficient identified (meaningful when known) */
    int coef_state[LAW_MAX_PARAMS];  /* 1 identified, 0 not, -1 fixed or no interval */
    char coefficients[256];          /* the coefficients not identified, comma separated */
    char missing[512];               /* the variables whose variation is missing, with the evidence */
} Identification;

/* One coefficient's label under that rule from its 95 % interval: 1 identified, 0 not, -1 fixed
 * or without an interval. Everything that labels a coefficient (the fitter, the report) asks here. */
int scope_coefficient_identified(const Law *law, int j, double lo, double hi);

/* Labels each coefficient from its interval and names the variables (N, P, R, D) of the
 * unidentified ones that vary least in d. */
void scope_identify(const Law *law, const double *lo, const double *hi, const FitData *d, Identification *out);
json_object *scope_identification_json(const Identification *id);
void scope_identification_from_json(json_object *o, Identification *id);

/* How far v lies outside [lo, hi]: 1 inside, hi > 0 and v > hi: v / hi, v < lo: lo / v;
 * +inf when the range is 0 at that end (e.g. no decoder block trained); NaN when unknown. */
double scope_factor(double v, double lo, double hi);

#endif
