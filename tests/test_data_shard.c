/* tests/test_data_shard.c: shards round-trip; truncated, foreign, wrong version or vocabulary,
 * out-of-range and corrupt shards fail with a message naming the file and the problem. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/shard.h"

static void temp_path(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "/tmp/dlcm-test-shard-%s-%d.bin", tag, (int)getpid());
    unlink(buf);
}

/* Writes a valid shard of `count` tokens 0..vocab-1 and returns its path in buf. */
static void write_valid(char *buf, size_t n, const char *tag, uint64_t count, uint32_t vocab)
{
    temp_path(buf, n, tag);
    uint16_t *tokens = malloc(count * sizeof *tokens);
    for (uint64_t i = 0; i < count; i++)
        tokens[i] = (uint16_t)((i * 7919u) % vocab);
    char err[512];
    cr_assert_eq(shard_write(buf, tokens, count, vocab, "bpe4096", 1, err, sizeof err), 0, "%s",
                 err);
    free(tokens);
}

static void patch_bytes(const char *path, long offset, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, offset, SEEK_SET);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

static void expect_failure(const char *path, uint32_t vocab, const char *needle)
{
    char err[512] = "";
    Shard *s = shard_open(path, vocab, err, sizeof err);
    cr_assert_null(s, "opening %s should fail (%s)", path, needle);
    cr_assert(strstr(err, needle) != NULL, "message should mention '%s': %s", needle, err);
    cr_assert(strstr(err, path) != NULL, "message should name the file: %s", err);
}

Test(data_shard, round_trip)
{
    char path[256], err[512];
    temp_path(path, sizeof path, "roundtrip");
    uint16_t tokens[1000];
    for (int i = 0; i < 1000; i++)
        tokens[i] = (uint16_t)(i * 31 % 4096);
    cr_assert_eq(shard_write(path, tokens, 1000, 4096, "bpe4096", 1, err, sizeof err), 0, "%s",
                 err);
    Shard *s = shard_open(path, 4096, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    const ShardHeader *h = shard_header(s);
    cr_assert_eq(h->version, SHARD_VERSION);
    cr_assert_eq(h->vocab_size, 4096);
    cr_assert_eq(h->token_count, 1000);
    cr_assert_str_eq(h->tokenizer, "bpe4096");
    cr_assert_eq(h->eot, 1);
    cr_assert_eq(h->checksum, shard_checksum(tokens, 1000));
    cr_assert_eq(memcmp(shard_tokens(s), tokens, sizeof tokens), 0);
    shard_close(s);
    /* the atomic write leaves no temporary file behind */
    char tmp_glob[300];
    snprintf(tmp_glob, sizeof tmp_glob, "%s.tmp", path);
    cr_assert_neq(access(tmp_glob, F_OK), 0);
    unlink(path);
}

Test(data_shard, empty_shard_round_trip)
{
    char path[256], err[512];
    temp_path(path, sizeof path, "empty");
    cr_assert_eq(shard_write(path, NULL, 0, 256, "byte", 0, err, sizeof err), 0, "%s", err);
    Shard *s = shard_open(path, 256, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(shard_header(s)->token_count, 0);
    shard_close(s);
    unlink(path);
}

Test(data_shard, checksum_is_fnv1a_of_token_bytes)
{
    /* FNV-1a 64 of the bytes 01 00 (one token of value 1, little-endian) */
    uint64_t h = 0xcbf29ce484222325ull;
    h ^= 0x01;
    h *= 0x100000001b3ull;
    h ^= 0x00;
    h *= 0x100000001b3ull;
    uint16_t one = 1;
    cr_assert_eq(shard_checksum(&one, 1), h);
}

Test(data_shard, truncated_file)
{
    char path[256];
    write_valid(path, sizeof path, "trunc", 500, 4096);
    cr_assert_eq(truncate(path, SHARD_HEADER_BYTES + 2 * 500 - 3), 0);
    expect_failure(path, 0, "truncated");
    cr_assert_eq(truncate(path, 10), 0);
    expect_failure(path, 0, "truncated");
    unlink(path);
}

Test(data_shard, wrong_magic)
{
    char path[256];
    write_valid(path, sizeof path, "magic", 100, 4096);
    patch_bytes(path, 0, "GPT2TOK", 7);
    expect_failure(path, 0, "magic");
    unlink(path);
}

Test(data_shard, wrong_version)
{
    char path[256];
    write_valid(path, sizeof path, "version", 100, 4096);
    uint32_t v = SHARD_VERSION + 1;
    patch_bytes(path, 8, &v, 4);
    expect_failure(path, 0, "version");
    unlink(path);
}

Test(data_shard, wrong_vocabulary)
{
    char path[256];
    write_valid(path, sizeof path, "vocab", 100, 4096);
    expect_failure(path, 8192, "vocabulary size 4096, expected 8192");
    unlink(path);
}

Test(data_shard, token_outside_vocabulary)
{
    char path[256], err[512];
    write_valid(path, sizeof path, "range", 100, 4096);
    /* put 5000 at token 10 and fix the checksum so only the range check can catch it */
    Shard *s = shard_open(path, 0, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    uint16_t tokens[100];
    memcpy(tokens, shard_tokens(s), sizeof tokens);
    shard_close(s);
    tokens[10] = 5000;
    uint64_t sum = shard_checksum(tokens, 100);
    patch_bytes(path, SHARD_HEADER_BYTES, tokens, sizeof tokens);
    patch_bytes(path, 48, &sum, 8);
    expect_failure(path, 0, "token 10 is 5000");
    /* and the writer refuses such tokens in the first place */
    cr_assert_eq(shard_write(path, tokens, 100, 4096, "bpe4096", 1, err, sizeof err), -1);
    unlink(path);
}

Test(data_shard, corrupt_checksum)
{
    char path[256];
    write_valid(path, sizeof path, "checksum", 100, 4096);
    uint16_t changed = 7;
    patch_bytes(path, SHARD_HEADER_BYTES + 2 * 50, &changed, 2);
    expect_failure(path, 0, "checksum");
    unlink(path);
}

Test(data_shard, missing_file)
{
    char err[512];
    cr_assert_null(shard_open("/tmp/dlcm-no-such-shard.bin", 0, err, sizeof err));
    cr_assert(strstr(err, "/tmp/dlcm-no-such-shard.bin") != NULL, "%s", err);
}
