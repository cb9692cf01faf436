/* engine/train/heldout.h: what the trainer measures on held-out data after its last step, for the
 * study's tables: accuracy on the held-out tasks (the first items of each task file), and
 * per-token losses (with each token's position within its concept) on fixed windows of every
 * held-out domain shard. Both are stored in the run's own database (db/heldout.h), which the
 * scheduler collects with the rest of the run's results. */
#ifndef DLCM_ENGINE_TRAIN_HELDOUT_H
#define DLCM_ENGINE_TRAIN_HELDOUT_H

#include <sqlite3.h>

#include "engine/model.h"
#include "engine/train/config.h"
#include "engine/train/valset.h"

/* Items scored per task file by default: at most a few seconds per run on a GPU for the study's
 * models (the 1800 endings of 100 items share ~120 forward passes), enough for a Wilson interval
 * about +-0.1 wide. On the CPU backend none by default: the three files at 100 items cost about
 * 15 s for a tiny model (d_t 64, T 128, bpe4096) on 2 cores, more than the training of the demo's
 * and the tests' runs (dlcm-train --task-limit N scores them anyway). */
#define HELDOUT_TASK_LIMIT 100
#define HELDOUT_TASK_LIMIT_CPU 0
/* Windows of seq_len tokens taken from each domain shard for the per-token losses. */
#define HELDOUT_WINDOWS 8
/* The task files, in data.dir/tasks/. */
#define HELDOUT_N_TASKS 3
extern const char *const heldout_task_names[HELDOUT_N_TASKS]; /* cloze, next_sentence, definition */

/* Scores the held-out tasks found in cfg->data_dir/tasks (task_limit items each; 0: none) and
 * the per-token losses on vs's domain splits (every split but "val"), storing them under run_id
 * in db. What cannot be measured (no task files, a tokenizer that cannot encode here) is skipped
 * with a line on stderr: the run's training result stands either way. -1 only when the database
 * refuses a write (err set). */
int heldout_measure(const TrainConfig *cfg, Backend *be, Model *model, const ValSet *vs, sqlite3 *db,
                    const char *run_id, int64_t step, long task_limit, int quiet, char *err, int errlen);

#endif
