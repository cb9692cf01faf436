/* engine/train/valset.h: the fixed validation batches of a run (eval.batches batches of windows
 * at fixed random positions of val.bin and of each val-<domain>.bin), and a model's loss on them. */
#ifndef DLCM_ENGINE_TRAIN_VALSET_H
#define DLCM_ENGINE_TRAIN_VALSET_H

#include "data/loader.h"
#include "engine/model.h"
#include "engine/train/config.h"

typedef struct {
    char split[CONFIG_NAME_MAX + 8]; /* "val" or "val-<domain>" */
    char path[CONFIG_PATH_MAX];
    Loader *loader;
} ValSplit;

typedef struct {
    ValSplit *splits; /* splits[0] is "val" */
    int n;
    int batches, batch, seq_len;
    int32_t *tokens;  /* one batch */
} ValSet;

/* Opens val.bin and the domains of cfg->val_domains ("auto": every val-*.bin beside val.bin,
 * sorted by name). Checks each shard's vocabulary. 0 or -1 with a message naming the file. */
int valset_open(ValSet *vs, const TrainConfig *cfg, char *err, int errlen);
void valset_close(ValSet *vs);

typedef struct {
    double loss;        /* mean next-token cross-entropy (nats) */
    double realized_R;  /* tokens per concept with thresholded boundaries (0 for dense) */
    int64_t tokens;
} ValResult;

/* Forward-only evaluation of split i on its fixed batches. 0 or -1 with err. */
int valset_evaluate(ValSet *vs, int i, Model *m, ValResult *out, char *err, int errlen);

#endif
