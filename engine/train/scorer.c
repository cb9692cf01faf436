/* engine/train/scorer.c: loading a model from a checkpoint and scoring token sequences in
 * windows of the model's sequence length. See scorer.h. */
#include "engine/train/scorer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/checkpoint.h"

/* The window buffers of a scorer whose model is set. */
static int alloc_windows(Scorer *s, char *err, int errlen)
{
    int T = s->cfg.model.shape.seq_len;
    s->window = malloc((size_t)(T + 1) * sizeof *s->window);
    s->logprob = malloc((size_t)(T + 1) * sizeof *s->logprob);
    s->concept = malloc((size_t)(T + 1) * sizeof *s->concept);
    if (!s->window || !s->logprob || !s->concept) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int scorer_attach(Scorer *s, const TrainConfig *cfg, Backend *be, Model *model, Tokenizer *tok, int64_t step,
                  char *err, int errlen)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->be = be;
    s->model = model;
    s->tok = tok;
    s->step = step;
    if ((int)tokenizer_vocab(tok) != cfg->model.shape.vocab) {
        snprintf(err, errlen, "tokenizer %s has vocabulary %u, the model %d", cfg->tokenizer, tokenizer_vocab(tok),
                 cfg->model.shape.vocab);
        return -1;
    }
    if (alloc_windows(s, err, errlen)) {
        scorer_detach(s);
        return -1;
    }
    return 0;
}

void scorer_detach(Scorer *s)
{
    free(s->window);
    free(s->logprob);
    free(s->concept);
    memset(s, 0, sizeof *s);
}

int scorer_open(Scorer *s, const char *checkpoint_path, const char *data_dir, char *err, int errlen)
{
    memset(s, 0, sizeof *s);
    Checkpoint ck;
    if (checkpoint_read(checkpoint_path, &ck, err, errlen)) return -1;
    s->cfg = train_config_default();
    char name[CONFIG_PATH_MAX + 32];
    snprintf(name, sizeof name, "%s (config)", checkpoint_path);
    if (config_load_text(&s->cfg, ck.config_text, name, err, errlen)) {
        checkpoint_free(&ck);
        return -1;
    }
    s->step = ck.state.step;
    s->be = backend_cpu_create();
    s->model = model_create(s->be, &s->cfg.model, 1, err, errlen);
    if (!s->model) {
        checkpoint_free(&ck);
        scorer_close(s);
        return -1;
    }
    if (ck.n_params != model_num_params(s->model)) {
        snprintf(err, errlen, "%s: holds %zu parameters, its config builds %zu", checkpoint_path,
                 ck.n_params, model_num_params(s->model));
        checkpoint_free(&ck);
        scorer_close(s);
        return -1;
    }
    s->be->upload(s->be, model_params(s->model), ck.params, ck.n_params * sizeof(float));
    model_params_changed(s->model);
    checkpoint_free(&ck);
    s->tok = tokenizer_open(s->cfg.tokenizer, data_dir ? data_dir : s->cfg.data_dir, err, errlen);
    if (!s->tok) {
        scorer_close(s);
        return -1;
    }
    if ((int)tokenizer_vocab(s->tok) != s->cfg.model.shape.vocab) {
        snprintf(err, errlen, "tokenizer %s has vocabulary %u, the model %d", s->cfg.tokenizer,
                 tokenizer_vocab(s->tok), s->cfg.model.shape.vocab);
        scorer_close(s);
        return -1;
    }
    if (alloc_windows(s, err, errlen)) {
        scorer_close(s);
        return -1;
    }
    return 0;
}

void scorer_close(Scorer *s)
{
    if (s->tok) tokenizer_close(s->tok);
    if (s->model) model_destroy(s->model);
    if (s->be) s->be->destroy(s->be);
    free(s->window);
    free(s->logprob);
    free(s->concept);
    memset(s, 0, sizeof *s);
}

int scorer_score(Scorer *s, const int32_t *ids, long n, float *logprob, int32_t *concept,
                 char *err, int errlen)
{
    long T = s->cfg.model.shape.seq_len;
    if (n <= 0) return 0;
    logprob[0] = 0.0f;
    int32_t next_concept = 0; /* the first concept number of the next window */
    /* Window w holds tokens [start, start + T]; its last token is only a target (concept -1 from
     * model_score) and is the next window's first token, where it gets its concept. */
    for (long start = 0; start < n; start += T) {
        long len = n - start < T + 1 ? n - start : T + 1;
        memcpy(s->window, ids + start, (size_t)len * sizeof *ids);
        if (model_score(s->model, s->window, (int)len, s->logprob, s->concept, err, errlen)) return -1;
        int32_t last = next_concept - 1;
        for (long i = 0; i + 1 < len; i++) logprob[start + i + 1] = s->logprob[i];
        for (long j = 0; j < len; j++) {
            if (s->concept[j] < 0) continue;
            concept[start + j] = s->concept[j] + next_concept;
            last = concept[start + j];
        }
        next_concept = last + 1;
        if (len < T + 1) break;
    }
    return 0;
}

int scorer_ending_logprob(Scorer *s, const int32_t *context, long n_context, const int32_t *ending,
                          long n_ending, double *logprob_sum, char *err, int errlen)
{
    long T = s->cfg.model.shape.seq_len;
    if (n_ending <= 0) {
        snprintf(err, errlen, "an empty ending");
        return -1;
    }
    /* Context tokens kept after end-of-text: all that fit in one window with the ending; an
     * ending longer than a window keeps half a window of context and is scored over windows. */
    long keep = T - n_ending;
    if (keep < T / 2) keep = T / 2;
    if (keep > n_context) keep = n_context;
    long n = 1 + keep + n_ending;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    float *logprob = malloc((size_t)n * sizeof *logprob);
    int32_t *concept = malloc((size_t)n * sizeof *concept);
    if (!ids || !logprob || !concept) {
        free(ids); free(logprob); free(concept);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ids[0] = (int32_t)tokenizer_eot(s->tok);
    memcpy(ids + 1, context + (n_context - keep), (size_t)keep * sizeof *context);
    memcpy(ids + 1 + keep, ending, (size_t)n_ending * sizeof *ending);
    int rc = scorer_score(s, ids, n, logprob, concept, err, errlen);
    double sum = 0;
    for (long i = 1 + keep; i < n; i++) sum += logprob[i];
    *logprob_sum = sum;
    free(ids);
    free(logprob);
    free(concept);
    return rc;
}
