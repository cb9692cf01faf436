/* engine/train/trainer.h: one training run from a resolved config: data, model and optimizer,
 * the step loop with logging, validation, divergence detection, checkpoints, automatic resume,
 * the run's database rows, and a clean stop on SIGINT/SIGTERM. dlcm-train is a thin main. */
#ifndef DLCM_ENGINE_TRAIN_TRAINER_H
#define DLCM_ENGINE_TRAIN_TRAINER_H

#include <stdint.h>

#include "engine/train/config.h"

/* Exit codes of dlcm-train (and train_run's return value). */
enum {
    TRAIN_EXIT_DONE = 0,      /* trained to the last step (or stopped at --stop-at-step) */
    TRAIN_EXIT_ERROR = 1,     /* a runtime failure: I/O, database, backend; status 'failed' */
    TRAIN_EXIT_BAD_INPUT = 2, /* bad config, flags, data or checkpoint: nothing was trained */
    TRAIN_EXIT_DIVERGED = 3,  /* loss NaN/inf or above the initial loss; status 'diverged' */
    TRAIN_EXIT_BUSY = 75,     /* another trainer holds the run directory: nothing done (EX_TEMPFAIL,
                                 the code the scheduler's launcher gives a locked directory too) */
    TRAIN_EXIT_SIGINT = 130,  /* interrupted: checkpoint written, status 'queued' (resumable) */
    TRAIN_EXIT_SIGTERM = 143
};

typedef struct {
    const char *db_path;    /* NULL: <out>/run.db */
    int require_resume;     /* --resume: fail when <out> has no checkpoint */
    int64_t stop_at_step;   /* > 0: checkpoint and stop after this step, resumable */
    int quiet;              /* no progress lines */
} TrainOptions;

/* The checkpoint file of a run directory. */
void train_checkpoint_path(const char *out_dir, char *buf, int buflen);

/* Runs (or resumes) the run described by cfg (resolved). Returns a TRAIN_EXIT_* code; messages
 * go to stderr, progress lines to stdout. */
int train_run(const TrainConfig *cfg, const TrainOptions *opt);

#endif
