/* engine/train/scorer.h: a trained model (loaded from a checkpoint, or the trainer's) for
 * evaluation: per-token log-probabilities and concept ids of texts of any length, and the
 * log-likelihoods of endings after contexts (the held-out tasks), many windows a forward pass.
 * Used by dlcm-score and the trainer's held-out measurements. */
#ifndef DLCM_ENGINE_TRAIN_SCORER_H
#define DLCM_ENGINE_TRAIN_SCORER_H

#include <stdint.h>

#include "data/tokenizer.h"
#include "engine/model.h"
#include "engine/train/config.h"

typedef struct {
    TrainConfig cfg;   /* the run's config, from the checkpoint */
    Backend *be;
    Model *model;
    Tokenizer *tok;
    int64_t step;      /* training steps of the checkpoint */
    int batch;         /* windows scored per forward pass, 1 .. model_batch(model) (model_batch
                        * when attached or opened; 1 scores one window a pass) */
    float *logprob;    /* [model_batch][seq_len + 1]: one pass's results */
    int32_t *concept;  /* [model_batch][seq_len + 1] */
} Scorer;

/* Windows per forward pass of a scorer opened from a checkpoint (dlcm-score, on the CPU): a pass
 * computes only the windows it holds, so a larger batch costs no work for a short text, and the
 * windows of many task endings share passes. */
#define SCORER_BATCH 16

/* Loads the checkpoint (validated) and the run's tokenizer (from data_dir, or the run's
 * data.dir when NULL) on the CPU backend, with a model of batch SCORER_BATCH. 0 or -1 with err. */
int scorer_open(Scorer *s, const char *checkpoint_path, const char *data_dir, char *err, int errlen);
void scorer_close(Scorer *s);

/* A scorer around a model that is already loaded (the trainer's, after its last step: any batch
 * size, any backend; passes of up to its batch) and an open tokenizer. The scorer borrows them:
 * scorer_detach frees only its own buffers. 0 or -1 with err. */
int scorer_attach(Scorer *s, const TrainConfig *cfg, Backend *be, Model *model, Tokenizer *tok, int64_t step,
                  char *err, int errlen);
void scorer_detach(Scorer *s);

/* Scores a token sequence that starts with the end-of-text token: logprob[i] = log p(ids[i] |
 * ids[0..i-1]) for i >= 1 (logprob[0] = 0) and concept[i] = token i's concept, numbered across the
 * whole text. Texts longer than seq_len + 1 are scored in consecutive windows that overlap by one
 * token (context restarts at each window, which also starts a concept). 0 or -1. */
int scorer_score(Scorer *s, const int32_t *ids, long n, float *logprob, int32_t *concept,
                 char *err, int errlen);

/* scorer_score of `count` texts (ids[k] of n[k] tokens), the windows of all of them scored
 * together, s->batch a pass. concept may be NULL (no concepts wanted: a text's last window of a
 * single token, which predicts nothing, is then not scored). 0 or -1 with err. */
int scorer_score_many(Scorer *s, long count, const int32_t *const *ids, const long *n, float *const *logprob,
                      int32_t *const *concept, char *err, int errlen);

/* An ending to score after a context (both without end-of-text). */
typedef struct {
    const int32_t *context;
    long n_context;
    const int32_t *ending;
    long n_ending;
} ScorerEnding;

/* logprob_sum[k] = sum of log p over ending k's tokens after its context (an end-of-text is put
 * first), the windows of all `count` endings scored together. When context and ending exceed
 * one window (seq_len + 1 tokens), the context is cut on the left, keeping at least half a
 * window; an ending longer than that is scored over consecutive windows as scorer_score does.
 * 0 or -1 (an empty ending: err names it). */
int scorer_endings_logprob(Scorer *s, const ScorerEnding *endings, long count, double *logprob_sum, char *err,
                           int errlen);

#endif
