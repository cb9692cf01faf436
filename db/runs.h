/* db/runs.h: what the trainer writes to the store: its run row (created or taken over at start,
 * progress and heartbeat while it trains, final results and status at the end), per-step
 * metrics, evaluations, μP module statistics and where its wall time went. Every statement is
 * parameterized. */
#ifndef DLCM_DB_RUNS_H
#define DLCM_DB_RUNS_H

#include <sqlite3.h>
#include <stdint.h>

/* The run's description, known before training. Strings may be NULL (stored as NULL). */
typedef struct {
    const char *id;
    const char *config;          /* resolved config (canonical YAML) */
    const char *family;          /* dense | dlcm */
    const char *parametrization; /* mup | sp */
    int d_t, d_c, n_layers, n_enc, n_con, n_dec, vocab, seq_len;
    double R_target;             /* 0 for dense: stored as NULL */
    int64_t N, embedding_params, unembedding_params;
    double P;
    double fwd_flops_per_token, train_flops_per_token;
    int64_t tokens, steps;       /* planned */
    double train_flops;          /* planned: train_flops_per_token * tokens */
    double lr;                   /* η_token */
    int64_t seed;
    const char *device;
    const char *out_dir;
} RunInfo;

/* Progress and results; fields < 0 (or NaN) are left unchanged. */
typedef struct {
    int64_t tokens_done, steps_done;
    double flops_launched;
    double realized_R_train, realized_R_eval;
    double final_train_loss, final_val_loss, initial_loss;
    double tokens_per_s;
    int64_t peak_mem_bytes;
} RunProgress;

typedef struct {
    int64_t step, tokens;
    double train_loss, aux_loss, realized_R, lr, grad_norm, tokens_per_s;
} RunMetric;

/* A RunProgress with every field "unchanged". */
RunProgress run_progress_none(void);

/* Inserts the run row, or takes over an existing one with that id (a resume, or a row a sweep
 * queued): the description is refreshed, sweep fields are kept, status becomes 'running' and
 * started_at is set if empty. 0 or -1 with err. */
int runs_begin(sqlite3 *db, const RunInfo *info, char *err, int errlen);

/* Updates progress fields and the heartbeat. */
int runs_update(sqlite3 *db, const char *id, const RunProgress *p, char *err, int errlen);

/* Final status ('done', 'failed', 'diverged', or 'queued' for an interrupted, resumable run),
 * with an error text (NULL clears it), finished_at set unless queued. */
int runs_finish(sqlite3 *db, const char *id, const char *status, const char *error,
                const RunProgress *p, char *err, int errlen);

/* Stores metrics rows in one transaction (replacing rows of the same step: a resume may redo
 * steps after its checkpoint, and a bit-identical resume writes the same values). */
int runs_add_metrics(sqlite3 *db, const char *id, const RunMetric *rows, int n, char *err,
                     int errlen);
int runs_add_eval(sqlite3 *db, const char *id, int64_t step, const char *split, double loss,
                  double realized_R, char *err, int errlen);
int runs_add_module_stats(sqlite3 *db, const char *id, int64_t step, const char *const *modules,
                          const double *mean_abs, int n, char *err, int errlen);

/* The trainer's phases (table run_phases in db/schema.sql says what each holds). */
typedef enum {
    RUN_PHASE_SETUP,
    RUN_PHASE_EVAL,
    RUN_PHASE_TRAIN,
    RUN_PHASE_CHECKPOINT,
    RUN_PHASE_HELDOUT,
    RUN_N_PHASES
} RunPhase;
extern const char *const run_phase_names[RUN_N_PHASES];  /* as stored: "setup", "eval", ... */
extern const char *const run_phase_labels[RUN_N_PHASES]; /* in words: "set-up", "evaluation", ... */

/* Adds this trainer process's seconds per phase (indexed by RunPhase) to what earlier processes
 * of the run stored (a resume), counting the processes, in one transaction. */
int runs_add_phases(sqlite3 *db, const char *id, const double seconds[RUN_N_PHASES], char *err, int errlen);

#endif
