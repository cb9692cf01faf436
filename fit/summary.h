/* fit/summary.h: a fitted law with everything that goes with it (intervals, derived
 * quantities, validation, data selection, estimator settings, bootstrap samples): built from
 * the estimator's results, written as JSON and as a terminal table, and read back from JSON
 * by the query. */
#ifndef DLCM_FIT_SUMMARY_H
#define DLCM_FIT_SUMMARY_H

#include <json-c/json.h>
#include <stdio.h>

#include "fit/allocate.h"
#include "fit/estimator.h"
#include "fit/law.h"
#include "fit/points.h"
#include "fit/scope.h"

#define SUMMARY_MAX_DERIVED 16
#define SUMMARY_NOTE_LEN 240

typedef struct {
    char name[32];
    double value, lo, hi;
    char note[SUMMARY_NOTE_LEN]; /* what it is, and where it sits on its search range */
} Derived;

typedef struct {
    Law law;
    double coef[LAW_MAX_PARAMS];
    double lo[LAW_MAX_PARAMS], hi[LAW_MAX_PARAMS];
    double *samples;       /* n_samples rows of law.n_coef (bootstrap), may be NULL */
    int n_samples;         /* rows of samples (failed refits are rows of NaN) */
    int n_samples_ok;      /* resamples whose refit succeeded */
    double objective, r2_log;
    int n_points;
    LoboResult lobo;
    Derived derived[SUMMARY_MAX_DERIVED];
    int n_derived;
    double budget_max;     /* the largest budget in the data: where derived allocations are taken */
    double R_min, R_max, P_min, P_max; /* the dlcm points' ranges */
    int vocab, seq_len;    /* of the runs, or from flags; 0 when unknown */
    char source[512];
    char label[128];       /* names the fit among the fits of its source and law */
    char R_source[64];     /* what R in the data means (realized evaluation R, target R, a CSV column) */
    char selection[256];   /* which runs were fitted */
    DataRanges ranges;     /* the fitted runs' ranges, per family */
    Identification ident;  /* which coefficients the data identifies */
    /* Share of bootstrap samples with an exponent on its constraint (below LAW_EXPONENT_FLOOR),
     * over all exponents and per coefficient. NaN without samples. */
    double constraint_share;
    double coef_constraint_share[LAW_MAX_PARAMS];
} LawSummary;

/* Fills intervals of every coefficient, the share of samples on a constraint, the ranges of the
 * data and the identification, and the derived quantities (Chinchilla: exponents a, b, G,
 * N_opt, D_opt at budget_max; dlcm: the optimal N, P, R, D and loss at budget_max and the dense
 * optimum, within the data's P and R, when vocab and seq_len are known). */
void summary_compute(LawSummary *s, const FitData *data, const EstimatorSettings *set);

/* The JSON of a law fit: see fit/README.md for the layout. data: the points used. */
json_object *summary_to_json(const LawSummary *s, const FitData *data, const EstimatorSettings *set,
                             int n_starts, int n_converged, int drop_top_loss);

/* Terminal table of coefficients with intervals, derived quantities and validation. */
void summary_print(FILE *f, const LawSummary *s);

/* Reads a law fit back from its JSON text (the query): law, coefficients, samples, V, T, ranges.
 * 0, or -1 with err naming what is missing. */
int summary_from_json(const char *text, const char *what, LawSummary *s, char *err, int errlen);
void summary_free(LawSummary *s);

#endif
