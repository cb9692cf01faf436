/* fuzz/fuzz_shard.c: libFuzzer target for opening a token shard (data/shard.c): its header,
 * size and checksum checks, and a read of every token it then exposes. */
#include "data/shard.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    Shard *s = shard_open(fuzz_input_path(data, size), 0, err, sizeof err);
    if (s) {
        const ShardHeader *h = shard_header(s);
        const uint16_t *tokens = shard_tokens(s);
        volatile uint64_t sum = 0; /* volatile: the reads are kept */
        for (uint64_t i = 0; i < h->token_count; i++) sum += tokens[i];
        shard_close(s);
    }
    return 0;
}
