/* engine/train/scorer.h: a trained model loaded from a checkpoint for evaluation: per-token
 * log-probabilities and concept ids of a text of any length, and the log-likelihood of an
 * ending after a context (the held-out tasks). Used by dlcm-score. */
#ifndef DLCM_ENGINE_TRAIN_SCORER_H
#define DLCM_ENGINE_TRAIN_SCORER_H

#include <stdint.h>

#include "data/tokenizer.h"
#include "engine/model.h"
#include "engine/train/config.h"

typedef struct {
    TrainConfig cfg;   /* the run's config, from the checkpoint */
    Backend *be;
    Model *model;      /* batch 1 */
    Tokenizer *tok;
    int64_t step;      /* training steps of the checkpoint */
    int32_t *window;   /* seq_len + 1 tokens */
    float *logprob;
    int32_t *concept;
} Scorer;

/* Loads the checkpoint (validated) and the run's tokenizer (from data_dir, or the run's
 * data.dir when NULL) on the CPU backend. 0 or -1 with err. */
int scorer_open(Scorer *s, const char *checkpoint_path, const char *data_dir, char *err, int errlen);
void scorer_close(Scorer *s);

/* A scorer around a model that is already loaded (the trainer's, after its last step: any batch
 * size, any backend; model_score uses its first sequence) and an open tokenizer. The scorer
 * borrows them: scorer_detach frees only its own buffers. 0 or -1 with err. */
int scorer_attach(Scorer *s, const TrainConfig *cfg, Backend *be, Model *model, Tokenizer *tok, int64_t step,
                  char *err, int errlen);
void scorer_detach(Scorer *s);

/* Scores a token sequence that starts with the end-of-text token: logprob[i] = log p(ids[i] |
 * ids[0..i-1]) for i >= 1 (logprob[0] = 0) and concept[i] = token i's concept, numbered across the
 * whole text. Texts longer than seq_len + 1 are scored in consecutive windows that overlap by one
 * token (context restarts at each window, which also starts a concept). 0 or -1. */
int scorer_score(Scorer *s, const int32_t *ids, long n, float *logprob, int32_t *concept,
                 char *err, int errlen);

/* Sum of log p over the ending's tokens after the context (both without end-of-text; an
 * end-of-text is put first). When the two exceed one window (seq_len + 1 tokens), the context
 * is cut on the left, keeping at least half a window; an ending longer than that is scored over
 * consecutive windows as scorer_score does. 0 or -1. */
int scorer_ending_logprob(Scorer *s, const int32_t *context, long n_context, const int32_t *ending,
                          long n_ending, double *logprob_sum, char *err, int errlen);

#endif
