/* fit/law_fit.h: one scaling-law fit from start to end: read and select the points, fit from
 * the start grid, bootstrap, validate, summarize, and write the table, JSON, fits row and
 * figures. dlcm-fit's entry point only fills the options. */
#ifndef DLCM_FIT_LAW_FIT_H
#define DLCM_FIT_LAW_FIT_H

#include "fit/estimator.h"
#include "fit/points.h"

typedef struct {
    const char *csv, *db_path, *sweep;   /* the data: a CSV, or a sweep of a database */
    const char *law;                     /* chinchilla | dlcm */
    int offsets;                         /* dlcm: free t_* */
    FitSelection select;                 /* family, lr, seed, R source */
    int use_train_loss;
    int drop_top_loss;
    int vocab, seq_len;                  /* > 0: override the runs' V and T */
    int max_starts;                      /* > 0: thin the start grid to at most this many */
    int no_lobo;
    EstimatorSettings est;
    const char *json_path;
    const char *store;                   /* database to store the fit in, or NULL */
    const char *label;                   /* NULL: derived from the selection */
    const char *plots_dir;               /* NULL: beside the database or the CSV */
    const char *plot_prefix;             /* NULL: <law>-<source> */
    int no_plots;
    int check_reference;
} LawFitOptions;

/* Returns the exit status: 0, 1 (runtime failure or reference mismatch) or 2 (bad input). */
int law_fit_run(const LawFitOptions *o);

#endif
