/* data/loader.c: batches of B x (T+1) token windows over one or more shards. Every row of every
 * batch is a pure function of (seed, row number), so a saved position replays exactly. */
#include "data/loader.h"
#include "util/mix64.h"

#include "data/shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct Loader {
    Shard **shards;
    int n_shards;
    uint64_t *windows_before; /* prefix sums of windows per shard (n_shards + 1 entries) */
    int B, T;
    LoaderOrder order;
    uint64_t seed;
    uint64_t batches_drawn;
    uint64_t total_tokens;
    uint32_t vocab, eot;
    char tokenizer[SHARD_TOKENIZER_ID_LEN + 1];
};

/* Windows a shard of n tokens offers: random order may start anywhere a full window fits;
 * sequential order steps by T, so consecutive windows share only their boundary token and every
 * token after the first is a prediction target exactly once per pass. */
static uint64_t windows_in(uint64_t n, int T, LoaderOrder order)
{
    if (n < (uint64_t)T + 1) return 0;
    if (order == LOADER_RANDOM) return n - (uint64_t)T;
    return (n - 1) / (uint64_t)T;
}

Loader *loader_open(const char *const *paths, int n_paths, int B, int T, LoaderOrder order,
                    uint64_t seed, char *err, int errlen)
{
    if (n_paths < 1 || B < 1 || T < 1) {
        snprintf(err, errlen, "loader: need at least one shard and B, T >= 1 (got %d, %d, %d)",
                 n_paths, B, T);
        return NULL;
    }
    if (order != LOADER_RANDOM && order != LOADER_SEQUENTIAL) {
        snprintf(err, errlen, "loader: unknown order %d", (int)order);
        return NULL;
    }
    Loader *l = calloc(1, sizeof *l);
    if (l) {
        l->shards = calloc((size_t)n_paths, sizeof *l->shards);
        l->windows_before = calloc((size_t)n_paths + 1, sizeof *l->windows_before);
    }
    if (!l || !l->shards || !l->windows_before) {
        snprintf(err, errlen, "loader: out of memory");
        loader_close(l);
        return NULL;
    }
    l->B = B;
    l->T = T;
    l->order = order;
    l->seed = seed;
    for (int i = 0; i < n_paths; i++) {
        Shard *s = shard_open(paths[i], 0, err, errlen);
        if (!s) {
            loader_close(l);
            return NULL;
        }
        l->shards[l->n_shards++] = s;
        const ShardHeader *h = shard_header(s);
        if (i == 0) {
            l->vocab = h->vocab_size;
            l->eot = h->eot;
            memcpy(l->tokenizer, h->tokenizer, sizeof l->tokenizer);
        } else if (h->vocab_size != l->vocab || h->eot != l->eot ||
                   strcmp(h->tokenizer, l->tokenizer) != 0) {
            snprintf(err, errlen,
                     "%s: tokenizer %s (vocabulary %u, end-of-text %u) differs from %s's %s "
                     "(vocabulary %u, end-of-text %u)",
                     paths[i], h->tokenizer, h->vocab_size, h->eot, paths[0], l->tokenizer,
                     l->vocab, l->eot);
            loader_close(l);
            return NULL;
        }
        l->total_tokens += h->token_count;
        l->windows_before[i + 1] = l->windows_before[i] + windows_in(h->token_count, T, order);
    }
    if (l->windows_before[l->n_shards] == 0) {
        snprintf(err, errlen, "loader: no shard holds a window of T+1 = %d tokens (%s...)", T + 1,
                 paths[0]);
        loader_close(l);
        return NULL;
    }
    return l;
}

void loader_close(Loader *l)
{
    if (!l) return;
    for (int i = 0; i < l->n_shards; i++)
        shard_close(l->shards[i]);
    free(l->shards);
    free(l->windows_before);
    free(l);
}

/* Maps a global window number to (shard, first token) by binary search of the prefix sums. */
static void locate_window(const Loader *l, uint64_t window, int *shard, uint64_t *start)
{
    int lo = 0, hi = l->n_shards - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (l->windows_before[mid] <= window)
            lo = mid;
        else
            hi = mid - 1;
    }
    uint64_t local = window - l->windows_before[lo];
    *shard = lo;
    *start = l->order == LOADER_RANDOM ? local : local * (uint64_t)l->T;
}

void loader_next(Loader *l, int32_t *out)
{
    uint64_t total_windows = l->windows_before[l->n_shards];
    for (int row = 0; row < l->B; row++) {
        uint64_t row_number = l->batches_drawn * (uint64_t)l->B + (uint64_t)row;
        uint64_t window;
        if (l->order == LOADER_RANDOM)
            /* Counter-based: row r's draw needs no state from the rows before it. */
            window = rng_mix64(l->seed ^ rng_mix64(row_number)) % total_windows;
        else
            window = row_number % total_windows;
        int shard;
        uint64_t start;
        locate_window(l, window, &shard, &start);
        const uint16_t *tokens = shard_tokens(l->shards[shard]) + start;
        int32_t *dst = out + (size_t)row * (size_t)(l->T + 1);
        for (int t = 0; t <= l->T; t++)
            dst[t] = tokens[t];
    }
    l->batches_drawn++;
}

uint32_t loader_vocab(const Loader *l) { return l->vocab; }
uint32_t loader_eot(const Loader *l) { return l->eot; }
const char *loader_tokenizer(const Loader *l) { return l->tokenizer; }
uint64_t loader_total_tokens(const Loader *l) { return l->total_tokens; }
uint64_t loader_position(const Loader *l) { return l->batches_drawn; }
void loader_set_position(Loader *l, uint64_t batches_drawn) { l->batches_drawn = batches_drawn; }
