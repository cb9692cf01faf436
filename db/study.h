/* db/study.h: the researcher's side of the store: sweep versions, listing sweeps (with the
 * closest names to a misspelled one), cancelling, tags and notes, each run's provenance, live
 * progress copied from a running run's own database, and one run's details for `show`. */
#ifndef DLCM_DB_STUDY_H
#define DLCM_DB_STUDY_H

#include <sqlite3.h>
#include <stdint.h>

/* The latest version of the sweep whose sweep-file name is base_name: its row id, stored name
 * (NAME, or NAME.vK from version 2 on), version and stored sweep-file text (malloc'd).
 * 0 found, 1 none, -1 error. */
int study_latest_version(sqlite3 *db, const char *base_name, int64_t *sweep_id, char *name, int namelen,
                         int *version, char **text, char *err, int errlen);

/* Every recorded version of the sweep whose sweep-file name is base_name, newest first: one call
 * of each(ctx, sweep_id, name, version, text) per version. */
int study_versions(sqlite3 *db, const char *base_name,
                   void (*each)(void *ctx, int64_t sweep_id, const char *name, int version, const char *text),
                   void *ctx, char *err, int errlen);

/* Records version `version` of base_name (stored as NAME for 1, NAME.vK after) from file and text,
 * or updates the file and text of that version when it exists. */
int study_record_version(sqlite3 *db, const char *base_name, int version, const char *name, const char *file,
                         const char *text, int64_t *sweep_id, char *err, int errlen);

/* Extends a recorded version: its settings become file and text, and the ones they replace are
 * kept (see study_replaced_settings), in one transaction. *extension: how many times this
 * version has been extended now (1 the first time). */
int study_extend_version(sqlite3 *db, int64_t sweep_id, const char *file, const char *text, int *extension,
                         char *err, int errlen);

/* The settings a version had before each of its extensions, oldest first: one call of
 * each(ctx, extension, file, text) per extension (extension 1 replaced the settings first recorded). */
int study_replaced_settings(sqlite3 *db, int64_t sweep_id,
                            void (*each)(void *ctx, int extension, const char *file, const char *text), void *ctx,
                            char *err, int errlen);

typedef struct {
    char name[256];
    int version, runs, done, running, queued, failed, diverged, cancelled;
    char tags[256];
} SweepListing;

/* Every sweep in the database, oldest first, into a malloc'd array. */
int study_list_sweeps(sqlite3 *db, SweepListing **out, int *n, char *err, int errlen);

/* Up to max names of sweeps closest to `name` (edit distance at most half its length, or sharing
 * a prefix), best first, written into names[i] (each 256 bytes). The count. */
int study_suggest_sweeps(sqlite3 *db, const char *name, char (*names)[256], int max);

/* Cancels queued and running runs: those of the sweep, or only run_id when given. A running
 * run's scheduler sees the status at its next poll and stops the trainer. Finishing a cancelled
 * run never overwrites the status. *n counts the runs changed. */
int study_cancel(sqlite3 *db, int64_t sweep_id, const char *run_id, int *n, char *err, int errlen);

/* Sets tags (comma-separated; NULL keeps them) and a note (NULL keeps it) on the sweep, or on one
 * of its runs when run_id is given. 0, 1 when there is no such run, -1 error. */
int study_label(sqlite3 *db, int64_t sweep_id, const char *run_id, const char *tags, const char *note, char *err,
                int errlen);

/* Where and from what a run is made. */
typedef struct {
    const char *git_commit; /* without the -dirty suffix */
    int git_dirty;
    const char *host, *gpu_model, *gpu_driver, *corpus_hash, *tokenizer_hash;
} RunProvenance;

int study_record_provenance(sqlite3 *db, const char *run_id, const RunProvenance *p, char *err, int errlen);

/* Copies what a running trainer has written so far into the main database: metrics and evaluation
 * rows from the newest step already there on, and its steps and tokens done. A run database that is
 * absent or busy is skipped (0): the next poll gets it. -1 only when the main database fails. */
int study_copy_progress(sqlite3 *db, const char *run_id, const char *run_db_path, char *err, int errlen);

/* The sweep's runs with the columns `status --runs` shows, one call of each() per run. */
typedef struct {
    const char *id, *status, *family, *error, *stderr_tail, *tags;
    double N, R, P, budget, lr, loss; /* loss NAN when none */
    int64_t seed, steps, steps_done;
    int attempts;
} RunListing;

int study_list_runs(sqlite3 *db, int64_t sweep_id, void (*each)(void *ctx, const RunListing *run), void *ctx,
                    char *err, int errlen);

/* The full id of the run whose id starts with prefix: 0, 1 none, 2 ambiguous, -1 error. */
int study_find_run(sqlite3 *db, const char *prefix, char *id, int idlen, char *err, int errlen);

/* A run's row as name/value text pairs (run_summary's columns, then config, out_dir and
 * stderr_tail; NULL values are skipped), one call of each() per column. */
int study_run_fields(sqlite3 *db, const char *run_id, void (*each)(void *ctx, const char *name, const char *value),
                     void *ctx, char *err, int errlen);

/* A run's curve in step order: training loss, and validation loss where one was measured (NAN
 * otherwise). */
int study_run_curve(sqlite3 *db, const char *run_id,
                    void (*each)(void *ctx, int64_t step, int64_t tokens, double train_loss, double val_loss),
                    void *ctx, char *err, int errlen);

/* What a report shows of each run of a sweep (NAN where absent), in planning order; the widths,
 * parametrization and config (its parser) tell runs that differ only in the seed (-1, "" where
 * absent). */
typedef struct {
    const char *id, *status, *family;
    double N, P, R, budget, D, lr, loss, seconds, train_flops_per_token, realized_R_train, realized_R_eval;
    int64_t seed, steps, steps_done;
    const char *parametrization, *config;
    int64_t d_t, d_c;
} ReportRun;

int study_report_runs(sqlite3 *db, int64_t sweep_id, void (*each)(void *ctx, const ReportRun *run), void *ctx,
                      char *err, int errlen);

/* The newest stored fit of each law for a source ("sweep:NAME"). */
int study_latest_fits(sqlite3 *db, const char *source,
                      void (*each)(void *ctx, const char *law, double created_at, const char *json), void *ctx,
                      char *err, int errlen);

/* The distinct values of the sweep's provenance columns (git_commit, git_dirty, host, gpu_model,
 * gpu_driver, corpus_hash, tokenizer_hash) with how many runs have each; NULL values as "". */
int study_provenance(sqlite3 *db, int64_t sweep_id,
                     void (*each)(void *ctx, const char *column, const char *value, int runs), void *ctx,
                     char *err, int errlen);

#endif
