/* engine/train/trainer.h: one training run from a resolved config: data, model and optimizer,
 * the step loop with logging, validation, divergence detection, checkpoints, automatic resume,
 * the run's database rows, and a clean stop on SIGINT/SIGTERM. dlcm-train is a thin main. */
#ifndef DLCM_ENGINE_TRAIN_TRAINER_H
#define DLCM_ENGINE_TRAIN_TRAINER_H

#include <stdint.h>

#include "engine/train/config.h"
#include "engine/train/exit_codes.h" /* train_run returns these */

typedef struct {
    const char *db_path;    /* NULL: <out>/TRAIN_RUN_DB_NAME */
    int require_resume;     /* --resume: fail when <out> has no checkpoint */
    int64_t stop_at_step;   /* > 0: checkpoint and stop after this step, resumable */
    int quiet;              /* no progress lines */
    long task_limit;        /* held-out task items per task after training: 0 the default
                               (engine/train/heldout.h: 100 on a GPU, none on the CPU), < 0 none */
} TrainOptions;

/* The checkpoint file of a run directory. */
void train_checkpoint_path(const char *out_dir, char *buf, int buflen);

/* Runs (or resumes) the run described by cfg (resolved). Returns a TRAIN_EXIT_* code; messages
 * go to stderr, progress lines to stdout. */
int train_run(const TrainConfig *cfg, const TrainOptions *opt);

#endif
