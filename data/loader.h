/* data/loader.h: batches of B x (T+1) tokens from one or more shards, random (seeded) or
 * sequential; its position can be saved and restored so a resumed run sees the same data. */
#ifndef DLCM_DATA_LOADER_H
#define DLCM_DATA_LOADER_H

#include <stdint.h>

typedef struct Loader Loader;

typedef enum { LOADER_RANDOM = 0, LOADER_SEQUENTIAL = 1 } LoaderOrder;

/* Opens every shard in paths (all must share vocabulary and tokenizer). Random order draws
 * window starts from a counter-based stream of `seed`; sequential walks the shards in
 * non-overlapping windows and wraps. NULL with a message naming the file on error. */
Loader *loader_open(const char *const *paths, int n_paths, int B, int T, LoaderOrder order,
                    uint64_t seed, char *err, int errlen);
void loader_close(Loader *l);

/* Fills out[B * (T + 1)] with the next batch (int32 token ids). */
void loader_next(Loader *l, int32_t *out);

uint32_t loader_vocab(const Loader *l);
uint32_t loader_eot(const Loader *l);
const char *loader_tokenizer(const Loader *l);
uint64_t loader_total_tokens(const Loader *l);

/* Position (batches drawn so far); restoring it replays the same following batches. */
uint64_t loader_position(const Loader *l);
void loader_set_position(Loader *l, uint64_t batches_drawn);

#endif
