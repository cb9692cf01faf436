/* engine/train/checkpoint.h: the checkpoint file of a run: parameters, AdamW m and v, the
 * trainer's counters (step, data position, seeds' config hash, loss and FLOP totals) and the
 * resolved config, behind a checksummed header; written atomically (temp, fsync, rename).
 *
 * Layout (little-endian), 96-byte header then payload:
 *   0  char[8] magic "DLCMCKPT"     8  uint32 version       12 uint32 header bytes (96)
 *   16 uint64 parameter count       24 uint64 config hash   32 uint64 steps done
 *   40 uint64 payload bytes         48 uint64 payload checksum (FNV-1a 64)
 *   56 reserved (0)                 88 uint64 header checksum (FNV-1a 64 of bytes 0..87)
 *   payload: TrainState fields (8 bytes each, in struct order), uint64 config length, config
 *   text, then params, m, v (fp32, parameter count each). */
#ifndef DLCM_ENGINE_TRAIN_CHECKPOINT_H
#define DLCM_ENGINE_TRAIN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#define CHECKPOINT_MAGIC "DLCMCKPT"
#define CHECKPOINT_VERSION 1u
#define CHECKPOINT_HEADER_BYTES 96

/* Everything besides tensors that a resumed run needs to continue exactly as if never stopped.
 * Every field is 8 bytes (the file stores them in this order). */
typedef struct {
    int64_t step;              /* optimizer steps done */
    int64_t loader_position;   /* training batches drawn */
    uint64_t config_hash;      /* config_hash() of the run */
    uint64_t seed;             /* parameter and boundary seed (part of the config; kept to check) */
    double initial_loss;       /* validation loss at step 0 (divergence reference) */
    double flops_launched;     /* training matrix-product FLOPs so far */
    int64_t tokens_done;       /* training tokens so far */
    int64_t concepts_done;     /* concepts of the sampled training boundaries so far */
    /* the current progress window (between two log lines) */
    double window_loss;        /* sum of step losses */
    double window_aux;
    int64_t window_steps;
    int64_t window_tokens;
    int64_t window_concepts;
    double train_seconds;      /* wall time spent in training steps (tokens/s) */
    double last_train_loss;    /* loss of the last step */
    double rule_threshold;     /* cosine_rule's running threshold (model state; NAN before any) */
} TrainState;

typedef struct {
    TrainState state;
    char *config_text;
    size_t n_params;
    float *params, *m, *v;
} Checkpoint;

/* Writes path atomically: path.tmp, fsync, rename, fsync of the directory. 0 or -1 with err;
 * on error the previous file at path is untouched. */
int checkpoint_write(const char *path, const TrainState *state, const char *config_text,
                     const float *params, const float *m, const float *v, size_t n_params,
                     char *err, int errlen);

/* Reads and validates a whole checkpoint (magic, version, sizes, both checksums). 0 or -1 with
 * a message naming the file and what is wrong. Free with checkpoint_free. */
int checkpoint_read(const char *path, Checkpoint *out, char *err, int errlen);
void checkpoint_free(Checkpoint *c);

#endif
