/* engine/train/scorer.c: loading a model from a checkpoint and scoring token sequences in
 * windows of the model's sequence length, the windows of many sequences a forward pass. See
 * scorer.h. */
#include "engine/train/scorer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/checkpoint.h"

/* The result buffers of one pass, for a scorer whose model and batch are set. */
static int alloc_windows(Scorer *s, char *err, int errlen)
{
    size_t slots = (size_t)model_batch(s->model) * (size_t)(s->cfg.model.shape.seq_len + 1);
    s->logprob = malloc(slots * sizeof *s->logprob);
    s->concept = malloc(slots * sizeof *s->concept);
    if (!s->logprob || !s->concept) {
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
    s->batch = model_batch(model);
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
    s->model = model_create(s->be, &s->cfg.model, SCORER_BATCH, err, errlen);
    s->batch = SCORER_BATCH;
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
    free(s->logprob);
    free(s->concept);
    memset(s, 0, sizeof *s);
}

/* One window of a text, in a pass: tokens [start, start + len) of text k. */
typedef struct {
    long text, start;
    int len;
} Window;

/* Where the windows of scorer_score_many stand: the pass being filled (and the model's
 * argument arrays for it), and the concept numbering of the text whose windows were written
 * out last. */
typedef struct {
    Scorer *s;
    const int32_t *const *ids;
    float *const *logprob;
    int32_t *const *concept;
    Window *pass;           /* [s->batch] */
    const int32_t **tokens; /* [s->batch] */
    int *n;
    float **pass_logprob;
    int32_t **pass_concept;
    int used;
    long text;              /* the text of the last window written out (-1: none yet) */
    int32_t next_concept;   /* the first concept number of that text's next window */
} WindowQueue;

/* Scores the windows of the pass and writes them out in order: window w holds tokens [start,
 * start + T]; its last token is only a target (concept -1 from the model) and is the next
 * window's first token, where it gets its concept. */
static int flush_pass(WindowQueue *q, char *err, int errlen)
{
    Scorer *s = q->s;
    int stride = s->cfg.model.shape.seq_len + 1, count = q->used;
    if (count == 0) return 0;
    for (int b = 0; b < count; b++) {
        q->tokens[b] = q->ids[q->pass[b].text] + q->pass[b].start;
        q->n[b] = q->pass[b].len;
        q->pass_logprob[b] = s->logprob + (size_t)b * stride;
        q->pass_concept[b] = s->concept + (size_t)b * stride;
    }
    q->used = 0;
    if (model_score_batch(s->model, q->tokens, q->n, count, q->pass_logprob, q->pass_concept, err, errlen))
        return -1;
    for (int b = 0; b < count; b++) {
        const Window *w = &q->pass[b];
        const float *lp = q->pass_logprob[b];
        const int32_t *cp = q->pass_concept[b];
        float *text_logprob = q->logprob[w->text];
        for (int i = 0; i + 1 < w->len; i++) text_logprob[w->start + i + 1] = lp[i];
        if (!q->concept) continue;
        if (w->text != q->text) {
            q->text = w->text;
            q->next_concept = 0;
        }
        int32_t *text_concept = q->concept[w->text], last = q->next_concept - 1;
        for (int j = 0; j < w->len; j++) {
            if (cp[j] < 0) continue;
            text_concept[w->start + j] = cp[j] + q->next_concept;
            last = text_concept[w->start + j];
        }
        q->next_concept = last + 1;
    }
    return 0;
}

int scorer_score_many(Scorer *s, long count, const int32_t *const *ids, const long *n, float *const *logprob,
                      int32_t *const *concept, char *err, int errlen)
{
    long T = s->cfg.model.shape.seq_len;
    if (s->batch < 1 || s->batch > model_batch(s->model)) {
        snprintf(err, errlen, "scorer: %d windows a pass, the model's batch takes 1 to %d", s->batch,
                 model_batch(s->model));
        return -1;
    }
    size_t slots = (size_t)s->batch;
    WindowQueue q = {s, ids, logprob, concept, malloc(slots * sizeof(Window)), malloc(slots * sizeof(int32_t *)),
                     malloc(slots * sizeof(int)), malloc(slots * sizeof(float *)), malloc(slots * sizeof(int32_t *)),
                     0, -1, 0};
    int rc = q.pass && q.tokens && q.n && q.pass_logprob && q.pass_concept ? 0 : -1;
    if (rc) snprintf(err, errlen, "out of memory");
    for (long k = 0; rc == 0 && k < count; k++) {
        if (n[k] <= 0) continue;
        logprob[k][0] = 0.0f;
        for (long start = 0; rc == 0 && start < n[k]; start += T) {
            long len = n[k] - start < T + 1 ? n[k] - start : T + 1;
            if (len == 1 && start > 0 && !concept) break; /* a last window that predicts nothing */
            q.pass[q.used++] = (Window){k, start, (int)len};
            if (q.used == s->batch) rc = flush_pass(&q, err, errlen);
            if (len < T + 1) break;
        }
    }
    if (rc == 0) rc = flush_pass(&q, err, errlen);
    free(q.pass);
    free(q.tokens);
    free(q.n);
    free(q.pass_logprob);
    free(q.pass_concept);
    return rc;
}

int scorer_score(Scorer *s, const int32_t *ids, long n, float *logprob, int32_t *concept,
                 char *err, int errlen)
{
    return scorer_score_many(s, 1, &ids, &n, &logprob, &concept, err, errlen);
}

int scorer_endings_logprob(Scorer *s, const ScorerEnding *endings, long count, double *logprob_sum, char *err,
                           int errlen)
{
    long T = s->cfg.model.shape.seq_len;
    if (count <= 0) return 0;
    for (long k = 0; k < count; k++)
        if (endings[k].n_ending <= 0) {
            snprintf(err, errlen, "ending %ld is empty", k);
            return -1;
        }
    const int32_t **ids = calloc((size_t)count, sizeof *ids);
    float **logprob = calloc((size_t)count, sizeof *logprob);
    long *n = calloc((size_t)count, sizeof *n), *kept = calloc((size_t)count, sizeof *kept);
    int rc = ids && logprob && n && kept ? 0 : -1;
    for (long k = 0; rc == 0 && k < count; k++) {
        const ScorerEnding *e = &endings[k];
        /* Context tokens kept after end-of-text: all that fit in one window with the ending; an
         * ending longer than a window keeps half a window of context and is scored over windows. */
        long keep = T - e->n_ending;
        if (keep < T / 2) keep = T / 2;
        if (keep > e->n_context) keep = e->n_context;
        kept[k] = keep;
        n[k] = 1 + keep + e->n_ending;
        int32_t *text = malloc((size_t)n[k] * sizeof *text);
        logprob[k] = malloc((size_t)n[k] * sizeof **logprob);
        ids[k] = text;
        if (!text || !logprob[k]) {
            rc = -1;
            break;
        }
        text[0] = (int32_t)tokenizer_eot(s->tok);
        memcpy(text + 1, e->context + (e->n_context - keep), (size_t)keep * sizeof *text);
        memcpy(text + 1 + keep, e->ending, (size_t)e->n_ending * sizeof *text);
    }
    if (rc) snprintf(err, errlen, "out of memory");
    if (rc == 0) rc = scorer_score_many(s, count, ids, n, logprob, NULL, err, errlen);
    for (long k = 0; rc == 0 && k < count; k++) {
        double sum = 0;
        for (long i = 1 + kept[k]; i < n[k]; i++) sum += logprob[k][i];
        logprob_sum[k] = sum;
    }
    for (long k = 0; ids && logprob && k < count; k++) {
        free((void *)ids[k]);
        free(logprob[k]);
    }
    free(ids);
    free(logprob);
    free(n);
    free(kept);
    return rc;
}
