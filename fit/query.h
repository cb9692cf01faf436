/* fit/query.h: the compute-optimal allocation under a fitted law (spec scaling-laws.md §4), kept
 * inside the data: every recommended quantity compared with the fitted runs' range, refusals
 * past the extrapolation limits, edges of the search flagged, intervals from the bootstrap. */
#ifndef DLCM_FIT_QUERY_H
#define DLCM_FIT_QUERY_H

#include <json-c/json.h>
#include <stdio.h>

#include "fit/summary.h"

#define QUERY_EXIT_REFUSED 4  /* the data does not carry an answer (outside it, or not identified) */

typedef struct {
    double budget;            /* training FLOPs C */
    double R_fixed;           /* > 0: only this R */
    double R_lo, R_hi;        /* > 0: R range searched (default: the fitted runs') */
    double max_N;             /* > 0: cap on N */
    double max_fwd_flops;     /* > 0: cap on forward FLOPs per token */
    int vocab, seq_len;       /* > 0: override the fit's V and T */
    int max_samples;          /* >= 0: use at most this many bootstrap samples */
    double max_extrapolation; /* refuse a quantity (budget, N, D/N, widths, depths) beyond this factor */
    int extrapolate;          /* P and R may leave the trained range (searched over the full range) */
    int force;                /* answer even when refused (not identified, beyond the limits); warnings stay */
} QueryOptions;

QueryOptions query_defaults(void);

/* Runs the query on the fit s (what: how the fit was found, for the header), printing to out.
 * Returns 0, 1 (runtime error, message printed to stderr), 2 (bad input) or QUERY_EXIT_REFUSED.
 * When answer is not NULL the same answer goes into it as JSON: the fit, its R source and
 * identification, every warning and refusal (kind, family, quantity, factor), the search, each
 * family's recommendation with its intervals, the saving, and exit_code with its meaning. */
int query_run(const QueryOptions *opt, LawSummary *s, const char *what, FILE *out, json_object *answer);

#endif
