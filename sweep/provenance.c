/* sweep/provenance.c: collecting each run's provenance (see sweep/provenance.h). The corpus and
 * tokenizer hashes come from the SHARDS_STAMP that dlcm-data writes beside the shards:
 * "text <sha256 of the text> | shards v1 <tokenizer> [model <sha256 of the tokenizer model>]". */
#include "sweep/provenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "db/sweeps.h"
#include "db/study.h"
#include "engine/train/config.h"
#include "util/fs.h"
#include "util/spawn.h"

/* The directory part of a path ("." when none). */
static void dir_of(const char *path, char *dir, size_t n)
{
    snprintf(dir, n, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, n, ".");
}

/* Reads the text and tokenizer-model hashes from the stamp beside a shard ("" when absent). */
static void stamp_hashes(const char *shard_path, const char *tokenizer, char *corpus, char *model, size_t n)
{
    char dir[CONFIG_PATH_MAX], stamp_path[CONFIG_PATH_MAX + 32], line[512] = "";
    corpus[0] = model[0] = '\0';
    dir_of(shard_path, dir, sizeof dir);
    snprintf(stamp_path, sizeof stamp_path, "%s/SHARDS_STAMP", dir);
    FILE *f = fopen(stamp_path, "r");
    if (!f) return;
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    fclose(f);
    char word[80];
    const char *p = strstr(line, "text ");
    if (p && sscanf(p + 5, "%79s", word) == 1) snprintf(corpus, n, "%s", word);
    p = strstr(line, " model ");
    if (p && sscanf(p + 7, "%79s", word) == 1 && strcmp(word, "none") != 0) snprintf(model, n, "%s", word);
    else if (strcmp(tokenizer, "byte") == 0) snprintf(model, n, "byte"); /* bytes need no model */
}

typedef struct {
    char (*ids)[64];
    int n, cap;
} QueuedRuns;

static void add_queued(void *ctx, const char *id, const char *out_dir)
{
    QueuedRuns *q = ctx;
    if (q->n == q->cap) {
        int cap = q->cap ? 2 * q->cap : 64;
        char (*grown)[64] = realloc(q->ids, (size_t)cap * sizeof *grown);
        if (!grown) return;
        q->ids = grown;
        q->cap = cap;
    }
    snprintf(q->ids[q->n++], 64, "%s", id);
}

int sweep_record_provenance(sqlite3 *db, int64_t sweep_id, int with_gpu, char *err, int errlen)
{
    char host[256] = "", gpu_model[256] = "", gpu_driver[64] = "", commit[64];
    if (gethostname(host, sizeof host - 1)) host[0] = '\0';
    if (with_gpu) {
        const char *argv[] = {"nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader", "-i", "0",
                              NULL};
        char out[1024], inner[256];
        if (spawn_capture(argv, out, sizeof out, inner, sizeof inner) == 0) {
            char *comma = strchr(out, ',');
            if (comma) {
                *comma = '\0';
                snprintf(gpu_model, sizeof gpu_model, "%.255s", out);
                sscanf(comma + 1, " %63[^\n]", gpu_driver);
            }
        }
    }
    snprintf(commit, sizeof commit, "%s", cli_commit());
    char *dirty = strstr(commit, "-dirty");
    if (dirty) *dirty = '\0';
    QueuedRuns queued = {NULL, 0, 0};
    if (sweeps_list(db, sweep_id, "queued", add_queued, &queued, err, errlen)) return -1;
    int rc = 0;
    for (int i = 0; i < queued.n && rc == 0; i++) {
        char *config = NULL, inner[512], corpus[80] = "", model[80] = "";
        if (sweeps_run_config(db, queued.ids[i], &config, err, errlen)) { rc = -1; break; }
        TrainConfig cfg = train_config_default();
        ConfigSources *src = config_sources_create();
        if (src && config_load_text(&cfg, config, queued.ids[i], inner, sizeof inner) == 0 &&
            config_resolve(&cfg, src, inner, sizeof inner) == 0)
            stamp_hashes(cfg.train_path, cfg.tokenizer, corpus, model, sizeof corpus);
        if (src) config_sources_destroy(src);
        free(config);
        RunProvenance p = {commit, dirty != NULL, host[0] ? host : NULL, gpu_model[0] ? gpu_model : NULL,
                           gpu_driver[0] ? gpu_driver : NULL, corpus[0] ? corpus : NULL, model[0] ? model : NULL};
        rc = study_record_provenance(db, queued.ids[i], &p, err, errlen);
    }
    free(queued.ids);
    return rc;
}
