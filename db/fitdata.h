/* db/fitdata.h: what the fitter reads from a sweep database: whether a sweep exists, its
 * finished and diverged runs with their sizes, losses and realized R, μP module statistics and
 * a run's logged training curve. Read only; every bind checked. */
#ifndef DLCM_DB_FITDATA_H
#define DLCM_DB_FITDATA_H

#include <sqlite3.h>

/* One run of a sweep as the fitter needs it. Numbers the database holds as NULL are NaN (reals)
 * or 0 (integers). */
typedef struct {
    char id[72];
    char status[16];          /* done | diverged */
    char family[8];           /* dense | dlcm */
    char parametrization[8];  /* mup | sp | "" */
    char schedule[16];        /* schedule.kind of the run's resolved config, "" when absent */
    double N, tokens, budget, train_flops;
    double R_target, R_eval;  /* target and realized evaluation compression ratio (dlcm) */
    double P;
    double val_loss, train_loss, initial_loss;
    double lr;
    long long seed;
    int vocab, seq_len, d_t, d_c, n_layers, n_enc, n_con, n_dec;
    int has_module_stats;     /* the run logged μP coordinate-check statistics */
    long long steps;          /* planned optimizer steps */
    char tags[256];           /* the run's tags, or its sweep's when it has none (comma-separated) */
} FitRunRow;

/* *exists = 1 when a sweep of that name is in the database. 0, or -1 with err. */
int fitdb_sweep_exists(sqlite3 *db, const char *sweep, int *exists, char *err, int errlen);

/* The runs of sweep with status done or diverged, ordered by budget, N, id. *rows allocated
 * (free with free()). 0, or -1 with err. */
int fitdb_read_runs(sqlite3 *db, const char *sweep, FitRunRow **rows, int *n, char *err, int errlen);

/* One μP coordinate-check statistic: mean |x| of a module at a step of a run. */
typedef struct {
    char parametrization[8];
    int d_t, d_c;
    int step;
    char module[64];
    double mean_abs;
} FitModuleStat;

/* The module statistics of the runs of sweep whose parametrization is mup or sp. *rows allocated.
 * 0, or -1 with err. */
int fitdb_read_module_stats(sqlite3 *db, const char *sweep, FitModuleStat **rows, int *n, char *err, int errlen);

/* The logged training curve of run_id in step order: train_loss and lr per logged step (rows
 * with either NULL are refused). *loss, *lr, *step allocated. 0, or -1 with err. */
int fitdb_read_curve(sqlite3 *db, const char *run_id, double **loss, double **lr, long long **step, int *n,
                     char *err, int errlen);

#endif
