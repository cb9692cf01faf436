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

/* The per-token losses of one domain split: HELDOUT_WINDOWS windows of seq_len tokens at evenly
 * spaced offsets of the shard (the same tokens for every run of this tokenizer and seq_len). */
static int measure_split(const TrainConfig *cfg, Model *model, const ValSplit *split, sqlite3 *db,
                         const char *run_id, char *err, int errlen)
{
    char msg[1024];
    Shard *shard = shard_open(split->path, (uint32_t)cfg->model.shape.vocab, msg, sizeof msg);
    if (!shard) {
        fprintf(stderr, "dlcm-train: per-token losses of %s not measured: %s\n", split->split, msg);
        return 0;
    }
    long T = cfg->model.shape.seq_len, W = HELDOUT_WINDOWS;
    uint64_t count = shard_header(shard)->token_count;
    if (count < (uint64_t)T) {
        fprintf(stderr, "dlcm-train: per-token losses of %s not measured: %llu tokens, fewer than one window\n",
                split->split, (unsigned long long)count);
        shard_close(shard);
        return 0;
    }
    const uint16_t *tokens = shard_tokens(shard);
    long per_window = T - 1, n = W * per_window;
    int dlcm = cfg->model.shape.family == FAMILY_DLCM;
    int32_t *window = malloc((size_t)T * sizeof *window), *concept = malloc((size_t)T * sizeof *concept);
    float *logprob = malloc((size_t)T * sizeof *logprob), *loss = malloc((size_t)n * sizeof *loss);
    uint8_t *pos = dlcm ? malloc((size_t)n) : NULL;
    int rc = 0;
    if (!window || !concept || !logprob || !loss || (dlcm && !pos)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    uint64_t hash = FNV1A64_INIT;
    for (long w = 0; rc == 0 && w < W; w++) {
        uint64_t offset = W > 1 ? (uint64_t)w * (count - (uint64_t)T) / (uint64_t)(W - 1) : 0;
        for (long i = 0; i < T; i++) window[i] = tokens[offset + (uint64_t)i];
        hash = fnv1a64(window, (size_t)T * sizeof *window, hash);
        if (model_score(model, window, (int)T, logprob, concept, msg, sizeof msg)) {
            fprintf(stderr, "dlcm-train: per-token losses of %s not measured: %s\n", split->split, msg);
            rc = 1;
            break;
        }
        /* Target j (1 .. T-1) is predicted by logprob[j-1]; its position counts the tokens before
         * it in its own concept. */
        long start = 0;
        for (long j = 1; j < T; j++) {
            loss[w * per_window + j - 1] = -logprob[j - 1];
            if (!dlcm) continue;
            if (concept[j] != concept[j - 1]) start = j;
            long p = j - start;
            pos[w * per_window + j - 1] = (uint8_t)(p > 255 ? 255 : p);
        }
    }
    if (rc == 0) {
        HeldoutTokens t = {split->split, (int)T, (int)W, hash, n, loss, pos};
        rc = heldout_store_tokens(db, run_id, &t, err, errlen);
    }
    free(window);
    free(concept);
    free(logprob);
    free(loss);
    free(pos);
    shard_close(shard);
    return rc < 0 ? -1 : 0;
}

/* A batch-1 copy of the trained model (parameters and the boundary rule's state): model_score
 * runs every sequence of its model's batch, so scoring one sequence on the training model would
 * cost batch times as much. NULL (message in err) when it cannot be made. */
static Model *scoring_model(const TrainConfig *cfg, Backend *be, Model *trained, char *err, int errlen)
{
    Model *m = model_create(be, &cfg->model, 1, err, errlen);
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
    Model *single = model_batch(model) > 1 ? scoring_model(cfg, be, model, msg, sizeof msg) : NULL;
    if (model_batch(model) > 1 && !single && !quiet)
        fprintf(stderr, "dlcm-train: held-out measurements on the training model (batch %d): %s\n", model_batch(model),
                msg);
    Model *scorer = single ? single : model;
    int rc = 0;
    for (int i = 0; i < vs->n && rc == 0; i++) {
        if (strcmp(vs->splits[i].split, "val") == 0) continue;
        rc = measure_split(cfg, scorer, &vs->splits[i], db, run_id, err, errlen);
    }
    if (rc == 0 && task_limit > 0) rc = measure_tasks(cfg, be, scorer, db, run_id, step, task_limit, quiet, err, errlen);
    if (single) model_destroy(single);
    return rc;
}
