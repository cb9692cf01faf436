/* engine/train/valset.c: discovering and opening the validation splits, and evaluating a model
 * on their fixed batches. See valset.h. */
#include "engine/train/valset.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The validation windows are drawn at random positions of each shard by this fixed stream, and
 * the stream is rewound before every evaluation: the same batches each time, spread over the
 * whole shard (a shard lists its sources in order, so its first windows are one source only). */
#define VALSET_SEED 0x76616c6964ull

static int add_split(ValSet *vs, const char *split, const char *path, const TrainConfig *cfg,
                     char *err, int errlen)
{
    ValSplit *grown = realloc(vs->splits, (size_t)(vs->n + 1) * sizeof *grown);
    if (!grown) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    vs->splits = grown;
    ValSplit *s = &vs->splits[vs->n];
    memset(s, 0, sizeof *s);
    snprintf(s->split, sizeof s->split, "%s", split);
    snprintf(s->path, sizeof s->path, "%s", path);
    const char *paths[1] = {path};
    s->loader = loader_open(paths, 1, cfg->batch, cfg->model.shape.seq_len, LOADER_RANDOM, VALSET_SEED,
                            err, errlen);
    if (!s->loader) return -1;
    vs->n++;
    if ((int)loader_vocab(s->loader) != cfg->model.shape.vocab) {
        snprintf(err, errlen, "%s: vocabulary %u, the model has %d (data.tokenizer %s)", path,
                 loader_vocab(s->loader), cfg->model.shape.vocab, cfg->tokenizer);
        return -1;
    }
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Domain names of every val-<domain>.bin in dir, sorted. */
static int discover_domains(const char *dir, char ***names, int *n, char *err, int errlen)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot list the validation directory", dir);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 8 || strncmp(e->d_name, "val-", 4) != 0 || strcmp(e->d_name + len - 4, ".bin") != 0)
            continue;
        char **grown = realloc(*names, (size_t)(*n + 1) * sizeof *grown);
        if (!grown) break;
        *names = grown;
        (*names)[*n] = strndup(e->d_name + 4, len - 8);
        (*n)++;
    }
    closedir(d);
    qsort(*names, (size_t)*n, sizeof **names, compare_names);
    return 0;
}

int valset_open(ValSet *vs, const TrainConfig *cfg, char *err, int errlen)
{
    memset(vs, 0, sizeof *vs);
    vs->batches = cfg->eval_batches;
    vs->batch = cfg->batch;
    vs->seq_len = cfg->model.shape.seq_len;
    vs->tokens = malloc((size_t)vs->batch * (size_t)(vs->seq_len + 1) * sizeof(int32_t));
    if (!vs->tokens) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (add_split(vs, "val", cfg->val_path, cfg, err, errlen)) return -1;
    if (strcmp(cfg->val_domains, "none") == 0) return 0;

    char dir[CONFIG_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", cfg->val_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");

    char **names = NULL;
    int n = 0;
    if (strcmp(cfg->val_domains, "auto") == 0) {
        if (discover_domains(dir, &names, &n, err, errlen)) return -1;
    } else {
        char list[CONFIG_PATH_MAX];
        snprintf(list, sizeof list, "%s", cfg->val_domains);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char **grown = realloc(names, (size_t)(n + 1) * sizeof *grown);
            if (!grown) break;
            names = grown;
            names[n++] = strdup(tok);
        }
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char split[CONFIG_NAME_MAX + 8], path[CONFIG_PATH_MAX + 80];
        snprintf(split, sizeof split, "val-%s", names[i]);
        snprintf(path, sizeof path, "%s/val-%s.bin", dir, names[i]);
        if (rc == 0 && add_split(vs, split, path, cfg, err, errlen)) rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

void valset_close(ValSet *vs)
{
    for (int i = 0; i < vs->n; i++)
        if (vs->splits[i].loader) loader_close(vs->splits[i].loader);
    free(vs->splits);
    free(vs->tokens);
    memset(vs, 0, sizeof *vs);
}

int valset_evaluate(ValSet *vs, int i, Model *m, ValResult *out, char *err, int errlen)
{
    ValSplit *s = &vs->splits[i];
    loader_set_position(s->loader, 0);
    double loss_sum = 0;
    int64_t tokens = 0, concepts = 0;
    for (int b = 0; b < vs->batches; b++) {
        loader_next(s->loader, vs->tokens);
        StepStats st;
        if (model_forward_backward(m, vs->tokens, MODEL_EVAL, 0, 0.0f, &st, err, errlen)) return -1;
        loss_sum += st.loss_ce * (double)st.tokens;
        tokens += st.tokens;
        concepts += st.concepts;
    }
    out->tokens = tokens;
    out->loss = tokens ? loss_sum / (double)tokens : 0.0;
    out->realized_R = concepts ? (double)tokens / (double)concepts : 0.0;
    return 0;
}
