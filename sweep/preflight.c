/* sweep/preflight.c: checking the corpus a sweep needs before launching it (see
 * sweep/preflight.h). Only shard headers and sizes are read, so it is quick on large corpora; the
 * trainer still validates every token and the checksum when it opens a shard. */
#include "sweep/preflight.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/shard.h"
#include "engine/train/config.h"

static uint32_t read_u32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t read_u64(const unsigned char *p) { return read_u32(p) | (uint64_t)read_u32(p + 4) << 32; }

/* The command that builds a tokenizer's shards. */
static void build_hint(const char *tokenizer, char *buf, size_t n)
{
    if (strncmp(tokenizer, "bpe", 3) == 0)
        snprintf(buf, n, "build it with `bin/dlcm-data build --bpe %.16s` (or `make data DATA_BPE=%.16s`)", tokenizer + 3,
                 tokenizer + 3);
    else
        snprintf(buf, n, "build it with `bin/dlcm-data build` (or `make data`)");
}

/* One shard's header against what the run expects. 0 fine, else one problem line written. */
static int check_shard(const char *path, const char *run_id, const char *key, const char *tokenizer, int vocab,
                       FILE *out)
{
    char hint[256];
    build_hint(tokenizer, hint, sizeof hint);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(out, "run %s: %s: %s: cannot open (%s): %s\n", run_id, key, path, strerror(errno), hint);
        return 1;
    }
    unsigned char h[SHARD_HEADER_BYTES];
    size_t got = fread(h, 1, sizeof h, f);
    struct stat st;
    int have_size = fstat(fileno(f), &st) == 0;
    fclose(f);
    if (got >= 12 && read_u32(h) == LLMC_MAGIC) {
        /* llm.c's GPT-2 shard: the vocabulary and tokenizer are implied by its version. */
        uint64_t llmc_count = read_u32(h + 8);
        if (read_u32(h + 4) != LLMC_VERSION_GPT2 || (have_size && (uint64_t)st.st_size != LLMC_HEADER_BYTES + 2 * llmc_count)) {
            fprintf(out, "run %s: %s: %s: an llm.c shard of another version or cut short\n", run_id, key, path);
            return 1;
        }
        if (vocab != (int)LLMC_GPT2_VOCAB || strcmp(tokenizer, LLMC_TOKENIZER) != 0) {
            fprintf(out, "run %s: %s: %s: an llm.c GPT-2 shard (vocabulary %u): set data.tokenizer: %s and "
                         "model.vocab: %u (the run has '%s', %d)\n",
                    run_id, key, path, LLMC_GPT2_VOCAB, LLMC_TOKENIZER, LLMC_GPT2_VOCAB, tokenizer, vocab);
            return 1;
        }
        return 0;
    }
    if (got != sizeof h || memcmp(h, SHARD_MAGIC, sizeof SHARD_MAGIC) != 0) {
        fprintf(out, "run %s: %s: %s: not a dlcm token shard (no DLCMTOK header): %s\n", run_id, key, path, hint);
        return 1;
    }
    uint32_t version = read_u32(h + 8), shard_vocab = read_u32(h + 12);
    uint64_t count = read_u64(h + 16);
    char shard_tokenizer[SHARD_TOKENIZER_ID_LEN + 1];
    memcpy(shard_tokenizer, h + 24, SHARD_TOKENIZER_ID_LEN);
    shard_tokenizer[SHARD_TOKENIZER_ID_LEN] = '\0';
    if (version != SHARD_VERSION) {
        fprintf(out, "run %s: %s: %s: shard version %u, this program reads %u: %s\n", run_id, key, path, version,
                SHARD_VERSION, hint);
        return 1;
    }
    if ((int)shard_vocab != vocab) {
        fprintf(out, "run %s: %s: %s: vocabulary %u, the run's model.vocab is %d\n", run_id, key, path, shard_vocab,
                vocab);
        return 1;
    }
    if (strcmp(shard_tokenizer, tokenizer) != 0) {
        fprintf(out, "run %s: %s: %s: tokenized with '%s', the run's data.tokenizer is '%s'\n", run_id, key, path,
                shard_tokenizer, tokenizer);
        return 1;
    }
    if (have_size && (uint64_t)st.st_size != SHARD_HEADER_BYTES + 2 * count) {
        fprintf(out, "run %s: %s: %s: %lld bytes where the header promises %llu tokens (cut short?): %s\n", run_id,
                key, path, (long long)st.st_size, (unsigned long long)count, hint);
        return 1;
    }
    return 0;
}

int sweep_shard_token_count(const char *path, uint64_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char h[SHARD_HEADER_BYTES];
    size_t got = fread(h, 1, sizeof h, f);
    struct stat st;
    int have_size = fstat(fileno(f), &st) == 0;
    fclose(f);
    if (!have_size) return -1;
    if (got >= 12 && read_u32(h) == LLMC_MAGIC) {
        uint64_t n = read_u32(h + 8);
        if ((uint64_t)st.st_size != LLMC_HEADER_BYTES + 2 * n) return -1;
        *count = n;
        return 0;
    }
    if (got != sizeof h || memcmp(h, SHARD_MAGIC, sizeof SHARD_MAGIC) != 0) return -1;
    uint64_t n = read_u64(h + 16);
    if ((uint64_t)st.st_size != SHARD_HEADER_BYTES + 2 * n) return -1;
    *count = n;
    return 0;
}

/* Whether the path was checked already (list of up to 64 distinct paths). */
static int seen_before(char (*seen)[CONFIG_PATH_MAX], int *n_seen, const char *path)
{
    for (int i = 0; i < *n_seen; i++)
        if (strcmp(seen[i], path) == 0) return 1;
    if (*n_seen < 64) snprintf(seen[(*n_seen)++], CONFIG_PATH_MAX, "%.511s", path);
    return 0;
}

int sweep_preflight(const SweepPlan *plan, FILE *out)
{
    static char seen[64][CONFIG_PATH_MAX];
    int n_seen = 0, problems = 0;
    for (int i = 0; i < plan->n; i++) {
        const PlannedRun *r = &plan->runs[i];
        TrainConfig cfg = train_config_default();
        ConfigSources *src = config_sources_create();
        char err[1024];
        if (!src || config_load_text(&cfg, r->config, r->id, err, sizeof err) ||
            config_resolve(&cfg, src, err, sizeof err)) {
            fprintf(out, "run %s: %s\n", r->id, src ? err : "out of memory");
            config_sources_destroy(src);
            problems++;
            continue;
        }
        config_sources_destroy(src);
        const char *paths[2] = {cfg.train_path, cfg.val_path};
        const char *keys[2] = {"data.train", "data.val"};
        for (int k = 0; k < 2; k++) {
            char key[CONFIG_PATH_MAX + 64];
            snprintf(key, sizeof key, "%s|%s|%d", paths[k], cfg.tokenizer, cfg.model.shape.vocab);
            if (seen_before(seen, &n_seen, key)) continue;
            problems += check_shard(paths[k], r->id, keys[k], cfg.tokenizer, cfg.model.shape.vocab, out);
        }
    }
    return problems;
}
