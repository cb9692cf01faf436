/* data/shard.h: token shards on disk. A shard is a versioned header followed by uint16 tokens;
 * opening one validates all of it (magic, version, sizes, vocabulary, tokens < vocab, checksum).
 *
 * Layout (little-endian), 64-byte header:
 *   0  char[8]  magic "DLCMTOK\0"
 *   8  uint32   version (SHARD_VERSION)
 *   12 uint32   vocab_size
 *   16 uint64   token_count
 *   24 char[24] tokenizer id, NUL-padded ("byte", "bpe4096", ...)
 *   48 uint64   checksum: FNV-1a 64 over the token bytes
 *   56 uint32   end_of_text token id
 *   60 uint32   reserved (0)
 *   64 uint16   tokens[token_count] */
#ifndef DLCM_DATA_SHARD_H
#define DLCM_DATA_SHARD_H

#include <stddef.h>
#include <stdint.h>

/* Shards written by llm.c's data scripts (its dev/data folder: FineWeb, TinyStories, ...) are read
 * as they are: a header of 256 little-endian int32 (magic LLMC_MAGIC, version 1, token count)
 * followed by uint16 GPT-2 tokens; they open as tokenizer "gpt2", vocabulary 50257, end-of-text
 * 50256 (set data.tokenizer: gpt2 and model.vocab: 50257). nanoGPT's raw .bin files have no
 * header, so nothing in them tells them apart from any other file: they are never guessed at,
 * but wrapped once into a dlcm shard by `dlcm-data wrap` (which checks every token). */
#define LLMC_MAGIC 20240520u
#define LLMC_VERSION_GPT2 1
#define LLMC_HEADER_BYTES 1024
#define LLMC_GPT2_VOCAB 50257u
#define LLMC_GPT2_EOT 50256u
#define LLMC_TOKENIZER "gpt2"

#define SHARD_MAGIC "DLCMTOK"
#define SHARD_VERSION 1u
#define SHARD_HEADER_BYTES 64
#define SHARD_TOKENIZER_ID_LEN 24

typedef struct {
    uint32_t version;
    uint32_t vocab_size;
    uint64_t token_count;
    char tokenizer[SHARD_TOKENIZER_ID_LEN + 1];
    uint64_t checksum;
    uint32_t eot;
} ShardHeader;

typedef struct Shard Shard;

/* Opens and validates a shard, dlcm's or llm.c's (mapped). NULL with a message naming the
 * file and what is wrong in err. expected_vocab > 0 also checks the vocabulary. */
Shard *shard_open(const char *path, uint32_t expected_vocab, char *err, int errlen);
void shard_close(Shard *s);
const ShardHeader *shard_header(const Shard *s);
const uint16_t *shard_tokens(const Shard *s);

/* Writes a shard atomically (temporary file, fsync, rename). Returns 0 or -1 with err. */
int shard_write(const char *path, const uint16_t *tokens, uint64_t count, uint32_t vocab,
                const char *tokenizer, uint32_t eot, char *err, int errlen);

uint64_t shard_checksum(const uint16_t *tokens, uint64_t count);

#endif
