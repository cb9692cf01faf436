/* db/sweeps.h: the scheduler's side of the store: recording a sweep and its planned runs,
 * claiming queued runs, heartbeats, requeueing stale runs, finishing and retrying, collecting a
 * finished run's own database into the main one, status counts and the CSV export. */
#ifndef DLCM_DB_SWEEPS_H
#define DLCM_DB_SWEEPS_H

#include <sqlite3.h>
#include <stdint.h>

#include "db/runs.h"
#include <stdio.h>

/* A run's shape as the runs table holds it: the engine's shape spelled out, so that the store
 * depends on nothing above it (the sweep converts). */
typedef struct {
    char family[8];              /* dense | dlcm */
    int d_t, d_c, n_layers, n_enc, n_con, n_dec, vocab, seq_len;
    double R;                    /* target compression ratio (dlcm); 0 for dense */
} StoredShape;

/* A planned run as stored in `runs` (the scheduler's columns). */
typedef struct {
    const char *id;
    const char *config;          /* the run config dlcm-train reads (YAML) */
    const char *parametrization; /* mup | sp */
    const char *out_dir;
    StoredShape shape;
    int64_t N, embedding_params, unembedding_params;
    double P;
    double fwd_flops_per_token, train_flops_per_token;
    int64_t tokens, steps;
    double budget, train_flops, lr;
    int64_t seed;
    double epochs;               /* tokens / tokens of the training shard; <= 0 or NAN: not known (NULL) */
} SweepRunRow;

/* A run handed to a worker. */
typedef struct {
    char id[64];
    char out_dir[1024];
    int attempts;                 /* after this claim */
    int64_t tokens, steps;
    StoredShape shape;
    double train_flops;           /* planned training FLOPs (0: not recorded) */
} ClaimedRun;

typedef struct {
    int queued, running, done, failed, diverged, total;
    int64_t tokens_planned, tokens_done;   /* over all runs; done runs count their planned tokens */
    double tokens_per_s;                   /* summed over running runs (from their last report) */
} SweepCounts;

/* Inserts the sweep (or updates its file and text) and returns its id. */
int sweeps_record(sqlite3 *db, const char *name, const char *file, const char *text, int64_t *sweep_id,
                  char *err, int errlen);

/* The id of a sweep by name: 0 found, 1 absent, -1 error. */
int sweeps_find(sqlite3 *db, const char *name, int64_t *sweep_id, char *err, int errlen);

/* The only sweep in the database (for commands given no name): 0, or -1 with err when there are
 * none or several. */
int sweeps_only(sqlite3 *db, char *name, int namelen, int64_t *sweep_id, char *err, int errlen);

/* Inserts planned runs with INSERT OR IGNORE (a run already there keeps its state), in one
 * transaction. *inserted counts the new ones. */
int sweeps_insert_runs(sqlite3 *db, int64_t sweep_id, const SweepRunRow *rows, int n, int *inserted,
                       char *err, int errlen);

/* Claims the first queued run of the sweep that accept(ctx, run) takes (NULL: any), marking it
 * running with a fresh heartbeat and one more attempt. 1 claimed, 0 none, -1 error. */
int sweeps_claim(sqlite3 *db, int64_t sweep_id, int (*accept)(void *ctx, const ClaimedRun *run), void *ctx,
                 ClaimedRun *out, char *err, int errlen);

/* Each queued run of the sweep, in claiming order (nothing is claimed). 0, or -1 with err. */
int sweeps_each_queued(sqlite3 *db, int64_t sweep_id, void (*each)(void *ctx, const ClaimedRun *run), void *ctx,
                       char *err, int errlen);

/* A running run's heartbeat, with the progress its trainer last reported (-1: unknown). */
typedef struct {
    char id[64];
    int64_t tokens_done;
    double tokens_per_s;
} RunHeartbeat;

/* Marks these running runs alive now and stores their progress, in one transaction. */
int sweeps_heartbeat(sqlite3 *db, const RunHeartbeat *runs, int n, char *err, int errlen);

/* Running runs whose heartbeat is older than stale_after seconds go back to queued with their
 * attempt given back (their scheduler died; the trainer did not fail). *requeued counts them. */
int sweeps_requeue_stale(sqlite3 *db, int64_t sweep_id, double stale_after, int *requeued, char *err, int errlen);

/* Ends an attempt. status: done | diverged | failed | queued (interrupted; the attempt is not
 * counted). A failed run with attempts < max_attempts goes back to queued, keeping its error. */
int sweeps_finish(sqlite3 *db, const char *run_id, const char *status, const char *error,
                  const char *stderr_tail, int max_attempts, char *err, int errlen);

/* Forgets what was copied from a run's own database while it ran (its metrics, evaluations, module
 * statistics and progress): for a trainer that turned out to train another model than planned. */
int sweeps_discard_results(sqlite3 *db, const char *run_id, char *err, int errlen);

/* Creates the run's own database at run_db_path (the schema, its sweep row and its run row as
 * planned), so the trainer finds its row there whether it inserts or updates. An existing file
 * (a resumed run) is kept as it is. */
int sweeps_prepare_run_db(sqlite3 *db, const char *run_id, const char *run_db_path, char *err, int errlen);

/* Copies what the trainer wrote into the run's own database (its runs row's trainer columns,
 * metrics, evals, module_stats, task_scores, token_losses) into the main database, in one
 * transaction, via ATTACH.
 * *trainer_status receives the status the trainer recorded ("" when none). */
int sweeps_collect(sqlite3 *db, const char *run_id, const char *run_db_path, char *trainer_status,
                   int statuslen, char *err, int errlen);

/* Reads a run's progress from its own database, read-only: tokens done and tokens/s. 0, or -1
 * when it is not there yet. */
int sweeps_run_progress(const char *run_db_path, const char *run_id, int64_t *tokens_done, double *tokens_per_s);

int sweeps_counts(sqlite3 *db, int64_t sweep_id, SweepCounts *out, char *err, int errlen);

/* Where the wall time of a sweep's finished runs went: the runs trained by one trainer process
 * (not resumed) that stored its phase times (runs trained before schema version 5 have none). */
typedef struct {
    int runs;                           /* the runs counted */
    double wall_seconds;                /* their finished_at - started_at, summed */
    double phase_seconds[RUN_N_PHASES]; /* summed */
    double outside_seconds;             /* wall minus the phases (not below 0): launch, start-up, the end */
    /* Every run done in one attempt with a measured tokens/s, phase times or not (older runs; one
     * interrupted and resumed counts when its steps fit in its last part's wall time): */
    int runs_all;
    double wall_all;                    /* their wall time, summed */
    double step_seconds_all;            /* the time of their training steps (tokens / tokens/s), summed */
} SweepPhaseTotals;

int sweeps_phase_totals(sqlite3 *db, int64_t sweep_id, SweepPhaseTotals *out, char *err, int errlen);

/* Failed runs go back to queued with their attempts reset. *n counts them. */
int sweeps_retry_failed(sqlite3 *db, int64_t sweep_id, int *n, char *err, int errlen);

/* CSV of finished runs (done and diverged) for the fitter: header
 * id,sweep,family,parametrization,N,D,loss,status,R,P,budget,train_flops,fwd_flops_per_token,
 * d_t,d_c,n_layers,n_enc,n_con,n_dec,lr,seed,final_train_loss,realized_R_train,realized_R_eval.
 * loss is the final validation loss (train loss when there is none). */
int sweeps_export_csv(sqlite3 *db, int64_t sweep_id, FILE *out, char *err, int errlen);

/* Runs of a sweep in one status, one id per call of each(ctx, id, out_dir). */
int sweeps_list(sqlite3 *db, int64_t sweep_id, const char *status,
                void (*each)(void *ctx, const char *id, const char *out_dir), void *ctx, char *err, int errlen);

/* The resolved config of a run, malloc'd into *text. 0, or -1 with err. */
int sweeps_run_config(sqlite3 *db, const char *run_id, char **text, char *err, int errlen);

/* Training FLOP/s measured by finished runs (their mean), 0 when there are none. */
double sweeps_measured_flops_per_s(sqlite3 *db);

/* The config a trainer recorded for the run in the run's own database (opened read-only), what
 * it says it trained; malloc'd into *text. 0, or -1 with err. */
int sweeps_trainer_config(const char *run_db_path, const char *run_id, char **text, char *err, int errlen);

/* A finished run's final loss (validation, else training) and initial loss; NAN when absent. */
int sweeps_run_losses(sqlite3 *db, const char *run_id, double *final_loss, double *initial_loss, char *err,
                      int errlen);

/* The stored status of a run. 0, or -1 with err (also when there is no such run). */
int sweeps_run_status(sqlite3 *db, const char *run_id, char *status, int statuslen, char *err, int errlen);

/* Marks a queued run running (for a backend that launches it elsewhere), without a claim loop. */
int sweeps_mark_running(sqlite3 *db, const char *run_id, char *err, int errlen);

#endif
