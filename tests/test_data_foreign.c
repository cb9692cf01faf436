/* tests/test_data_foreign.c: token files from other tools: llm.c's shards (256-int32 header,
 * magic 20240520) read as they are with their header checked, and nanoGPT's headerless uint16
 * files wrapped by `dlcm-data wrap` with every token checked; files made in the test. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/loader.h"
#include "data/shard.h"
#include "tests/run_program.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/dlcm-test-foreign-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
}

static void teardown(void)
{
    char *argv[] = {"/bin/rm", "-rf", dir, NULL};
    run_program(argv, "/dev/null", "/dev/null");
}

/* An llm.c shard: header[0..2] = magic, version, count (little-endian int32), then tokens;
 * extra_bytes appended after them (0 for a whole file). */
static void write_llmc(const char *path, int32_t magic, int32_t version, int32_t count, const uint16_t *tokens,
                       int n_tokens, int extra_bytes)
{
    int32_t header[256] = {0};
    header[0] = magic;
    header[1] = version;
    header[2] = count;
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL);
    cr_assert_eq(fwrite(header, sizeof header, 1, f), 1);
    cr_assert_eq(fwrite(tokens, 2, (size_t)n_tokens, f), (size_t)n_tokens);
    for (int i = 0; i < extra_bytes; i++) fputc(0, f);
    cr_assert_eq(fclose(f), 0);
}

TestSuite(data_foreign, .init = setup, .fini = teardown);

Test(data_foreign, llmc_shards_are_read_as_they_are)
{
    uint16_t tokens[600];
    for (int i = 0; i < 600; i++) tokens[i] = (uint16_t)((i * 977) % 50257);
    tokens[599] = 50256; /* end of text */
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/train_000001.bin", dir);
    write_llmc(path, 20240520, 1, 600, tokens, 600, 0);
    Shard *s = shard_open(path, 0, err, sizeof err);
    cr_assert(s != NULL, "%s", err);
    const ShardHeader *h = shard_header(s);
    cr_assert_eq(h->token_count, 600);
    cr_assert_eq(h->vocab_size, 50257);
    cr_assert_eq(h->eot, 50256);
    cr_assert_str_eq(h->tokenizer, "gpt2");
    cr_assert_eq(memcmp(shard_tokens(s), tokens, sizeof tokens), 0);
    shard_close(s);
    const char *paths[] = {path};
    Loader *l = loader_open(paths, 1, 2, 16, LOADER_RANDOM, 1, err, sizeof err);
    cr_assert(l != NULL, "%s", err);
    cr_assert_eq(loader_vocab(l), 50257);
    cr_assert_str_eq(loader_tokenizer(l), "gpt2");
    loader_close(l);
    cr_assert_null(shard_open(path, 256, err, sizeof err), "a vocabulary other than expected is refused");
    cr_assert(strstr(err, "expected vocabulary 256") != NULL, "%s", err);
}

Test(data_foreign, llmc_headers_are_checked)
{
    uint16_t tokens[100] = {0};
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/bad.bin", dir);
    write_llmc(path, 20240520, 2, 100, tokens, 100, 0);
    cr_assert_null(shard_open(path, 0, err, sizeof err));
    cr_assert(strstr(err, "version 2") != NULL, "%s", err);
    write_llmc(path, 20240520, 1, 120, tokens, 100, 0);
    cr_assert_null(shard_open(path, 0, err, sizeof err));
    cr_assert(strstr(err, "truncated") != NULL, "%s", err);
    write_llmc(path, 20240520, 1, 100, tokens, 100, 3);
    cr_assert_null(shard_open(path, 0, err, sizeof err), "trailing bytes");
    tokens[7] = 60000;
    write_llmc(path, 20240520, 1, 100, tokens, 100, 0);
    cr_assert_null(shard_open(path, 0, err, sizeof err));
    cr_assert(strstr(err, "token 7 is 60000") != NULL, "%s", err);
    write_llmc(path, 20240521, 1, 100, tokens, 100, 0);
    cr_assert_null(shard_open(path, 0, err, sizeof err), "another magic is no llm.c shard (nor a dlcm one)");
}

Test(data_foreign, nanogpt_files_are_wrapped_with_every_token_checked)
{
    uint16_t tokens[500];
    for (int i = 0; i < 500; i++) tokens[i] = (uint16_t)(i % 65);
    char raw[128], shard[128], out[128], errf[128], err[512];
    snprintf(raw, sizeof raw, "%s/train.bin", dir);
    snprintf(shard, sizeof shard, "%s/wrapped.bin", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(errf, sizeof errf, "%s/err.txt", dir);
    FILE *f = fopen(raw, "wb");
    cr_assert_eq(fwrite(tokens, 2, 500, f), 500);
    fclose(f);
    char *wrap[] = {"bin/dlcm-data", "wrap", raw, shard, "--tokenizer=char", "--vocab=65", "--eot", "0", NULL};
    cr_assert_eq(run_program(wrap, out, errf), 0);
    Shard *s = shard_open(shard, 65, err, sizeof err);
    cr_assert(s != NULL, "%s", err);
    cr_assert_str_eq(shard_header(s)->tokenizer, "char");
    cr_assert_eq(shard_header(s)->token_count, 500);
    cr_assert_eq(memcmp(shard_tokens(s), tokens, sizeof tokens), 0);
    shard_close(s);

    char *too_small[] = {"bin/dlcm-data", "wrap", raw, shard, "--tokenizer", "char", "--vocab", "60", NULL};
    cr_assert_eq(run_program(too_small, out, errf), 2, "a token at or above the vocabulary");
    f = fopen(raw, "ab");
    fputc(1, f);
    fclose(f);
    cr_assert_eq(run_program(wrap, out, errf), 2, "an odd number of bytes");
    char llmc[128];
    snprintf(llmc, sizeof llmc, "%s/llmc.bin", dir);
    write_llmc(llmc, 20240520, 1, 500, tokens, 500, 0);
    char *wrap_llmc[] = {"bin/dlcm-data", "wrap", llmc, shard, NULL};
    cr_assert_eq(run_program(wrap_llmc, out, errf), 2, "an llm.c shard is not wrapped as raw tokens");
    char *missing[] = {"bin/dlcm-data", "wrap", raw, NULL};
    cr_assert_eq(run_program(missing, out, errf), 2);
}
