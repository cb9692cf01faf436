/* data/shard.c: reading (mapped, fully validated) and atomic writing of token shards in the
 * layout of data/shard.h. */
#include "data/shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fnv.h"
#include "util/fs.h"

struct Shard {
    ShardHeader header;
    void *map;
    size_t map_bytes;
    size_t data_offset; /* where the tokens start: SHARD_HEADER_BYTES, or LLMC_HEADER_BYTES */
};

uint64_t shard_checksum(const uint16_t *tokens, uint64_t count)
{
    /* FNV-1a 64 over the little-endian token bytes (the on-disk bytes). */
    return fnv1a64(tokens, (size_t)count * 2, FNV1A64_INIT);
}

static uint32_t read_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t read_u64(const unsigned char *p)
{
    return (uint64_t)read_u32(p) | (uint64_t)read_u32(p + 4) << 32;
}

static void write_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void write_u64(unsigned char *p, uint64_t v)
{
    write_u32(p, (uint32_t)v);
    write_u32(p + 4, (uint32_t)(v >> 32));
}

/* Checks the header fields that do not need the token bytes. */
static int parse_header(const char *path, const unsigned char *h, uint64_t file_bytes,
                        uint32_t expected_vocab, ShardHeader *out, char *err, int errlen)
{
    if (memcmp(h, SHARD_MAGIC, sizeof SHARD_MAGIC) != 0) {
        snprintf(err, errlen, "%s: not a dlcm token shard (wrong magic)", path);
        return -1;
    }
    out->version = read_u32(h + 8);
    if (out->version != SHARD_VERSION) {
        snprintf(err, errlen, "%s: shard version %u, this program reads version %u", path,
                 out->version, SHARD_VERSION);
        return -1;
    }
    out->vocab_size = read_u32(h + 12);
    if (out->vocab_size < 2 || out->vocab_size > 65536) {
        snprintf(err, errlen, "%s: vocabulary size %u outside 2..65536", path, out->vocab_size);
        return -1;
    }
    if (expected_vocab > 0 && out->vocab_size != expected_vocab) {
        snprintf(err, errlen, "%s: vocabulary size %u, expected %u", path, out->vocab_size,
                 expected_vocab);
        return -1;
    }
    out->token_count = read_u64(h + 16);
    if (out->token_count > (file_bytes - SHARD_HEADER_BYTES) / 2 ||
        file_bytes != SHARD_HEADER_BYTES + 2 * out->token_count) {
        snprintf(err, errlen,
                 "%s: header says %llu tokens (%llu bytes) but the file has %llu bytes "
                 "(truncated or trailing data)",
                 path, (unsigned long long)out->token_count,
                 (unsigned long long)(SHARD_HEADER_BYTES + 2 * out->token_count),
                 (unsigned long long)file_bytes);
        return -1;
    }
    memcpy(out->tokenizer, h + 24, SHARD_TOKENIZER_ID_LEN);
    out->tokenizer[SHARD_TOKENIZER_ID_LEN] = '\0';
    if (out->tokenizer[0] == '\0') {
        snprintf(err, errlen, "%s: empty tokenizer id in header", path);
        return -1;
    }
    out->checksum = read_u64(h + 48);
    out->eot = read_u32(h + 56);
    if (out->eot >= out->vocab_size) {
        snprintf(err, errlen, "%s: end-of-text id %u >= vocabulary %u", path, out->eot,
                 out->vocab_size);
        return -1;
    }
    if (read_u32(h + 60) != 0) {
        snprintf(err, errlen, "%s: reserved header field is not zero", path);
        return -1;
    }
    return 0;
}

/* llm.c's header: 256 little-endian int32, [0] magic, [1] version (1: uint16 GPT-2 tokens),
 * [2] token count, the rest zero in the files its scripts write. */
static int parse_llmc_header(const char *path, const unsigned char *h, uint64_t file_bytes,
                             uint32_t expected_vocab, ShardHeader *out, char *err, int errlen)
{
    if (file_bytes < LLMC_HEADER_BYTES) {
        snprintf(err, errlen, "%s: llm.c shard shorter than its %d-byte header", path, LLMC_HEADER_BYTES);
        return -1;
    }
    out->version = read_u32(h + 4);
    if (out->version != LLMC_VERSION_GPT2) {
        snprintf(err, errlen, "%s: llm.c shard version %u; only version %d (uint16 GPT-2 tokens) is read",
                 path, out->version, LLMC_VERSION_GPT2);
        return -1;
    }
    out->token_count = read_u32(h + 8);
    if (file_bytes != LLMC_HEADER_BYTES + 2 * out->token_count) {
        snprintf(err, errlen,
                 "%s: llm.c header says %llu tokens (%llu bytes) but the file has %llu bytes "
                 "(truncated or trailing data)",
                 path, (unsigned long long)out->token_count,
                 (unsigned long long)(LLMC_HEADER_BYTES + 2 * out->token_count),
                 (unsigned long long)file_bytes);
        return -1;
    }
    out->vocab_size = LLMC_GPT2_VOCAB;
    if (expected_vocab > 0 && out->vocab_size != expected_vocab) {
        snprintf(err, errlen, "%s: llm.c GPT-2 shard (vocabulary %u), expected vocabulary %u", path,
                 out->vocab_size, expected_vocab);
        return -1;
    }
    snprintf(out->tokenizer, sizeof out->tokenizer, "%s", LLMC_TOKENIZER);
    out->eot = LLMC_GPT2_EOT;
    return 0;
}

Shard *shard_open(const char *path, uint32_t expected_vocab, char *err, int errlen)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    uint64_t file_bytes = (uint64_t)st.st_size;
    if (file_bytes < SHARD_HEADER_BYTES) {
        snprintf(err, errlen, "%s: truncated: %llu bytes, shorter than the %d-byte header", path,
                 (unsigned long long)file_bytes, SHARD_HEADER_BYTES);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)file_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
        return NULL;
    }
    Shard *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "%s: out of memory", path);
        munmap(map, (size_t)file_bytes);
        return NULL;
    }
    s->map = map;
    s->map_bytes = (size_t)file_bytes;
    s->data_offset = SHARD_HEADER_BYTES;
    int llmc = read_u32(map) == LLMC_MAGIC;
    if (llmc) {
        s->data_offset = LLMC_HEADER_BYTES;
        if (parse_llmc_header(path, map, file_bytes, expected_vocab, &s->header, err, errlen) != 0) {
            shard_close(s);
            return NULL;
        }
    } else if (parse_header(path, map, file_bytes, expected_vocab, &s->header, err, errlen) != 0) {
        shard_close(s);
        return NULL;
    }
    const uint16_t *tokens = shard_tokens(s);
    uint64_t actual = shard_checksum(tokens, s->header.token_count);
    if (llmc) s->header.checksum = actual; /* llm.c's header has none: the tokens are checked below */
    if (actual != s->header.checksum) {
        snprintf(err, errlen, "%s: checksum mismatch (header %016llx, tokens %016llx): corrupt",
                 path, (unsigned long long)s->header.checksum, (unsigned long long)actual);
        shard_close(s);
        return NULL;
    }
    for (uint64_t i = 0; i < s->header.token_count; i++) {
        if (tokens[i] >= s->header.vocab_size) {
            snprintf(err, errlen, "%s: token %llu is %u, not below the vocabulary size %u", path,
                     (unsigned long long)i, tokens[i], s->header.vocab_size);
            shard_close(s);
            return NULL;
        }
    }
    return s;
}

void shard_close(Shard *s)
{
    if (!s) return;
    if (s->map) munmap(s->map, s->map_bytes);
    free(s);
}

const ShardHeader *shard_header(const Shard *s) { return &s->header; }

const uint16_t *shard_tokens(const Shard *s)
{
    return (const uint16_t *)((const unsigned char *)s->map + s->data_offset);
}

int shard_write(const char *path, const uint16_t *tokens, uint64_t count, uint32_t vocab,
                const char *tokenizer, uint32_t eot, char *err, int errlen)
{
    if (vocab < 2 || vocab > 65536 || eot >= vocab) {
        snprintf(err, errlen, "%s: invalid vocabulary %u or end-of-text id %u", path, vocab, eot);
        return -1;
    }
    if (!tokenizer || !tokenizer[0] || strlen(tokenizer) > SHARD_TOKENIZER_ID_LEN) {
        snprintf(err, errlen, "%s: tokenizer id must have 1..%d characters", path,
                 SHARD_TOKENIZER_ID_LEN);
        return -1;
    }
    for (uint64_t i = 0; i < count; i++) {
        if (tokens[i] >= vocab) {
            snprintf(err, errlen, "%s: token %llu is %u, not below the vocabulary size %u", path,
                     (unsigned long long)i, tokens[i], vocab);
            return -1;
        }
    }
    unsigned char header[SHARD_HEADER_BYTES] = {0};
    memcpy(header, SHARD_MAGIC, sizeof SHARD_MAGIC);
    write_u32(header + 8, SHARD_VERSION);
    write_u32(header + 12, vocab);
    write_u64(header + 16, count);
    memcpy(header + 24, tokenizer, strlen(tokenizer));
    write_u64(header + 48, shard_checksum(tokens, count));
    write_u32(header + 56, eot);

    /* Written beside and renamed: a reader never sees half a shard. */
    FsReplace out;
    if (fs_replace_open(&out, path, err, errlen) != 0) return -1;
    if (fwrite(header, 1, sizeof header, out.f) != sizeof header ||
        (count > 0 && fwrite(tokens, 2, (size_t)count, out.f) != (size_t)count)) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        fs_replace_abort(&out);
        return -1;
    }
    return fs_replace_commit(&out, err, errlen);
}
