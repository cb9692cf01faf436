/* db/study_report.h: what the study report (dlcm-report --study) reads beyond one sweep's runs
 * table: every column of a sweep's runs it tabulates (the parser and granularity tables, held-out
 * accuracies, sessions), each run's final evaluation per split, and the device sessions. */
#ifndef DLCM_DB_STUDY_REPORT_H
#define DLCM_DB_STUDY_REPORT_H

#include <sqlite3.h>
#include <stdint.h>

/* One run as the study report sees it; NAN / NULL where the database has nothing. */
typedef struct {
    const char *id, *sweep, *status, *family, *parametrization, *config, *host, *gpu_model;
    double N, P, R_target, budget, D, lr, loss, train_loss, R_train, R_eval;
    double fwd_flops_per_token, train_flops, flops_launched, started_at, finished_at;
    int64_t d_t, d_c, seed, tokens_done, seq_len;
} StudyRun;

/* The runs of the sweep stored as `sweep` (every sweep when NULL), in planning order. */
int study_sweep_runs(sqlite3 *db, const char *sweep, void (*each)(void *ctx, const StudyRun *run), void *ctx,
                      char *err, int errlen);

/* A run's evaluation at its last evaluated step: one call per split (loss, realized R or NAN). */
int study_final_evals(sqlite3 *db, const char *run_id,
                             void (*each)(void *ctx, const char *split, double loss, double realized_R), void *ctx,
                             char *err, int errlen);

#endif
