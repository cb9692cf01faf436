/* engine/train/heldout.c: the trainer's held-out measurements after its last step (see
 * heldout.h): task accuracies through the scorer, per-token losses on fixed shard windows. */
#include "engine/train/heldout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/shard.h"
#include "data/tokenizer.h"
#include "db/heldout.h"
#include "engine/train/scorer.h"
#include "engine/train/tasks.h"
#include "util/fnv.h"

const char *const heldout_task_names[HELDOUT_N_TASKS] = {"cloze", "next_sentence", "definition"};

static int measure_tasks(const TrainConfig *cfg, Backend *be, Model *model, sqlite3 *db, const char *run_id,
                         int64_t step, long task_limit, int quiet, char *err, int errlen)
{
    char dir[CONFIG_PATH_MAX + 16], path[CONFIG_PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/tasks", cfg->data_dir);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "dlcm-train: no held-out tasks in %s: task accuracies not measured\n", dir);
        return 0;
    }
    char msg[1024];
    Tokenizer *tok = tokenizer_open(cfg->tokenizer, cfg->data_dir, msg, sizeof msg);
    if (!tok) {
        fprintf(stderr, "dlcm-train: held-out tasks not scored: %s\n", msg);
        return 0;
    }
    Scorer s;
    if (scorer_attach(&s, cfg, be, model, tok, step, msg, sizeof msg)) {
        fprintf(stderr, "dlcm-train: held-out tasks not scored: %s\n", msg);
        tokenizer_close(tok);
        return 0;
    }
    int rc = 0;
    for (int k = 0; k < HELDOUT_N_TASKS && rc == 0; k++) {
        snprintf(path, sizeof path, "%s/%s.jsonl", dir, heldout_task_names[k]);
        if (stat(path, &st) != 0) continue;
        TaskResult res;
        if (tasks_score_file(&s, path, task_limit, 1, &res, msg, sizeof msg)) {
            fprintf(stderr, "dlcm-train: held-out task %s not scored: %s\n", heldout_task_names[k], msg);
            continue;
        }
        HeldoutTask t = {heldout_task_names[k], res.items, res.items_available, res.correct, res.accuracy,
                         res.ci_low, res.ci_high, res.chance, res.answer_logprob};
        rc = heldout_store_task(db, run_id, &t, err, errlen);
        if (!quiet && rc == 0)
            printf("held-out %-14s accuracy %.3f [%.3f, %.3f] over %ld items (chance %.3f)\n", heldout_task_names[k],
                   res.accuracy, res.ci_low, res.ci_high, res.items, res.chance);
    }
    scorer_detach(&s);
    tokenizer_close(tok);
    return rc;
}

/* The windows of one domain split: HELDOUT_WINDOWS windows of seq_len tokens at evenly spaced
 * offsets of the shard (the same tokens for every run of this tokenizer and seq_len), and what
 * the model gave them. */
typedef struct {
    const ValSplit *split;
    uint64_t hash;     /* of the windows' tokens */
    int32_t *tokens;   /* [HELDOUT_WINDOWS][seq_len] */
    float *logprob;    /* [HELDOUT_WINDOWS][seq_len] */
    int32_t *concept;  /* [HELDOUT_WINDOWS][seq_len] */
} SplitWindows;

/* Reads the windows of split w->split; 1 when the split cannot be measured (said on stderr), -1
 * out of memory (err set). */
static int read_windows(const TrainConfig *cfg, SplitWindows *w, char *err, int errlen)
{
    char msg[1024];
    Shard *shard = shard_open(w->split->path, (uint32_t)cfg->model.shape.vocab, msg, sizeof msg);
    if (!shard) {
        fprintf(stderr, "dlcm-train: per-token losses of %s not measured: %s\n", w->split->split, msg);
        return 1;
    }
    long T = cfg->model.shape.seq_len, W = HELDOUT_WINDOWS;
    uint64_t count = shard_header(shard)->token_count;
    if (count < (uint64_t)T) {
        fprintf(stderr, "dlcm-train: per-token losses of %s not measured: %llu tokens, fewer than one window\n",
                w->split->split, (unsigned long long)count);
        shard_close(shard);
        return 1;
    }
    size_t elems = (size_t)W * (size_t)T;
    w->tokens = malloc(elems * sizeof *w->tokens);
    w->logprob = malloc(elems * sizeof *w->logprob);
    w->concept = malloc(elems * sizeof *w->concept);
    if (!w->tokens || !w->logprob || !w->concept) {
        snprintf(err, errlen, "out of memory");
        shard_close(shard);
        return -1;
    }
    const uint16_t *tokens = shard_tokens(shard);
    w->hash = FNV1A64_INIT;
    for (long i = 0; i < W; i++) {
        uint64_t offset = W > 1 ? (uint64_t)i * (count - (uint64_t)T) / (uint64_t)(W - 1) : 0;
        int32_t *window = w->tokens + (size_t)i * T;
        for (long j = 0; j < T; j++) window[j] = tokens[offset + (uint64_t)j];
        w->hash = fnv1a64(window, (size_t)T * sizeof *window, w->hash);
    }
    shard_close(shard);
    return 0;
}

/* Scores every window of the splits, model_batch windows a forward pass. 0, or -1 with err. */
static int score_windows(const TrainConfig *cfg, Model *model, SplitWindows *splits, int n_splits, char *err,
                         int errlen)
{
    int T = cfg->model.shape.seq_len, B = model_batch(model), total = n_splits * HELDOUT_WINDOWS, rc = 0;
    const int32_t **tokens = malloc((size_t)B * sizeof *tokens);
    int *n = malloc((size_t)B * sizeof *n);
    float **logprob = malloc((size_t)B * sizeof *logprob);
    int32_t **concept = malloc((size_t)B * sizeof *concept);
    if (!tokens || !n || !logprob || !concept) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    for (int first = 0; rc == 0 && first < total; first += B) {
        int count = total - first < B ? total - first : B;
        for (int b = 0; b < count; b++) {
            const SplitWindows *w = &splits[(first + b) / HELDOUT_WINDOWS];
            size_t at = (size_t)((first + b) % HELDOUT_WINDOWS) * T;
            tokens[b] = w->tokens + at;
            n[b] = T;
            logprob[b] = w->logprob + at;
            concept[b] = w->concept + at;
        }
        rc = model_score_batch(model, tokens, n, count, logprob, concept, err, errlen);
    }
    free(tokens);
    free(n);
    free(logprob);
    free(concept);
    return rc;
}

/* Stores the per-token losses of a scored split: target j (1 .. T-1) of a window is predicted by
 * logprob[j-1]; its position counts the tokens before it in its own concept. */
static int store_split(const TrainConfig *cfg, const SplitWindows *w, sqlite3 *db, const char *run_id, char *err,
                       int errlen)
{
    long T = cfg->model.shape.seq_len, W = HELDOUT_WINDOWS, per_window = T - 1, n = W * per_window;
    int dlcm = cfg->model.shape.family == FAMILY_DLCM;
    float *loss = malloc((size_t)n * sizeof *loss);
    uint8_t *pos = dlcm ? malloc((size_t)n) : NULL;
    if (!loss || (dlcm && !pos)) {
        free(loss);
        free(pos);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (long i = 0; i < W; i++) {
        const float *logprob = w->logprob + (size_t)i * T;
        const int32_t *concept = w->concept + (size_t)i * T;
        long start = 0;
        for (long j = 1; j < T; j++) {
            loss[i * per_window + j - 1] = -logprob[j - 1];
            if (!dlcm) continue;
            if (concept[j] != concept[j - 1]) start = j;
            long p = j - start;
            pos[i * per_window + j - 1] = (uint8_t)(p > 255 ? 255 : p);
        }
    }
    HeldoutTokens t = {w->split->split, (int)T, (int)W, w->hash, n, loss, pos};
    int rc = heldout_store_tokens(db, run_id, &t, err, errlen);
    free(loss);
    free(pos);
    return rc;
}

static void free_windows(SplitWindows *w)
{
    free(w->tokens);
    free(w->logprob);
    free(w->concept);
    w->tokens = NULL;
    w->logprob = NULL;
    w->concept = NULL;
}

/* The per-token losses of every domain split (every split of vs but "val"), the windows of all of
 * them scored together. A split that cannot be read, or windows that cannot be scored, are skipped
 * with a line on stderr; -1 only when the database refuses a write or memory runs out (err set). */
static int measure_splits(const TrainConfig *cfg, Model *model, const ValSet *vs, sqlite3 *db, const char *run_id,
                          char *err, int errlen)
{
    SplitWindows *splits = calloc((size_t)vs->n + 1, sizeof *splits);
    if (!splits) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int n_splits = 0, rc = 0;
    for (int i = 0; i < vs->n && rc == 0; i++) {
        if (strcmp(vs->splits[i].split, "val") == 0) continue;
        SplitWindows *w = &splits[n_splits];
        w->split = &vs->splits[i];
        int read = read_windows(cfg, w, err, errlen);
        if (read == 0) n_splits++;
        else free_windows(w);
        if (read < 0) rc = -1;
    }
    char msg[1024];
    if (rc == 0 && n_splits > 0 && score_windows(cfg, model, splits, n_splits, msg, sizeof msg)) {
        fprintf(stderr, "dlcm-train: per-token losses not measured: %s\n", msg);
        n_splits = 0;
    }
    for (int k = 0; rc == 0 && k < n_splits; k++) rc = store_split(cfg, &splits[k], db, run_id, err, errlen);
    for (int k = 0; k < vs->n; k++) free_windows(&splits[k]);
    free(splits);
    return rc;
}

/* Windows a forward pass of the held-out measurements at least. On a GPU a batch-1 forward of a
 * small model is bound by its launches and synchronization (~1-2 ms), so 16 windows a pass cut
 * the ~1800 passes of a run's task endings and loss windows about 15-fold (to ~120) for little
 * more time a pass; a pass computes only the windows it holds (model_score_batch), so a larger
 * batch costs nothing when fewer are left. The trained model is used as it is when its batch is
 * at least this (the study's are 16 and 32), otherwise a copy of this batch (activations for 16
 * windows, small beside the trainer's optimizer state). */
#define HELDOUT_SCORING_BATCH 16

/* A copy of the trained model (parameters and the boundary rule's state) of batch
 * HELDOUT_SCORING_BATCH. NULL (message in err) when it cannot be made. */
static Model *scoring_model(const TrainConfig *cfg, Backend *be, Model *trained, char *err, int errlen)
{
    Model *m = model_create(be, &cfg->model, HELDOUT_SCORING_BATCH, err, errlen);
    if (!m) return NULL;
    size_t n = model_num_params(trained);
    float *host = n == model_num_params(m) ? malloc(n * sizeof *host) : NULL;
    if (!host) {
        snprintf(err, errlen, "cannot copy %zu parameters", n);
        model_destroy(m);
        return NULL;
    }
    be->download(be, host, model_params(trained), n * sizeof *host);
    be->upload(be, model_params(m), host, n * sizeof *host);
    free(host);
    model_params_changed(m);
    model_set_rule_threshold(m, model_rule_threshold(trained));
    return m;
}

int heldout_measure(const TrainConfig *cfg, Backend *be, Model *model, const ValSet *vs, sqlite3 *db,
                    const char *run_id, int64_t step, long task_limit, int quiet, char *err, int errlen)
{
    char msg[512];
    int small = model_batch(model) < HELDOUT_SCORING_BATCH;
    Model *copy = small ? scoring_model(cfg, be, model, msg, sizeof msg) : NULL;
    if (small && !copy && !quiet)
        fprintf(stderr, "dlcm-train: held-out measurements on the training model (batch %d): %s\n", model_batch(model),
                msg);
    Model *scorer = copy ? copy : model;
    int rc = measure_splits(cfg, scorer, vs, db, run_id, err, errlen);
    if (rc == 0 && task_limit > 0) rc = measure_tasks(cfg, be, scorer, db, run_id, step, task_limit, quiet, err, errlen);
    if (copy) model_destroy(copy);
    return rc;
}
