/* tests/test_data_loader.c: batches depend only on seed and position (repeat, differ, replay);
 * sequential order walks and wraps; windows stay inside shards; mixed shards are refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/loader.h"
#include "data/shard.h"

static void make_shard(char *path, size_t n, const char *tag, uint64_t count, uint32_t vocab,
                       const char *tokenizer)
{
    snprintf(path, n, "/tmp/dlcm-test-loader-%s-%d.bin", tag, (int)getpid());
    uint16_t *tokens = malloc(count * sizeof *tokens);
    for (uint64_t i = 0; i < count; i++)
        tokens[i] = (uint16_t)(i % vocab);
    char err[512];
    cr_assert_eq(shard_write(path, tokens, count, vocab, tokenizer, 0, err, sizeof err), 0, "%s",
                 err);
    free(tokens);
}

enum { B = 4, T = 16 };

static Loader *open_one(const char *path, LoaderOrder order, uint64_t seed)
{
    char err[512];
    const char *paths[1] = {path};
    Loader *l = loader_open(paths, 1, B, T, order, seed, err, sizeof err);
    cr_assert_not_null(l, "%s", err);
    return l;
}

Test(data_loader, same_seed_same_batches_other_seed_differs)
{
    char path[256];
    make_shard(path, sizeof path, "seed", 50000, 60000, "byte16");
    Loader *a = open_one(path, LOADER_RANDOM, 42), *b = open_one(path, LOADER_RANDOM, 42);
    Loader *c = open_one(path, LOADER_RANDOM, 43);
    int32_t x[B * (T + 1)], y[B * (T + 1)], z[B * (T + 1)];
    int differs = 0;
    for (int step = 0; step < 20; step++) {
        loader_next(a, x);
        loader_next(b, y);
        loader_next(c, z);
        cr_assert_eq(memcmp(x, y, sizeof x), 0, "same seed, step %d", step);
        differs |= memcmp(x, z, sizeof x) != 0;
        /* every row is a real window: consecutive tokens of the shard */
        for (int r = 0; r < B; r++)
            for (int t = 1; t <= T; t++)
                cr_assert_eq(x[r * (T + 1) + t], (x[r * (T + 1) + t - 1] + 1) % 60000);
    }
    cr_assert(differs, "seeds 42 and 43 gave identical batches");
    cr_assert_eq(loader_position(a), 20);
    loader_close(a);
    loader_close(b);
    loader_close(c);
    unlink(path);
}

Test(data_loader, restored_position_replays)
{
    char path[256];
    make_shard(path, sizeof path, "resume", 20000, 30000, "byte16");
    Loader *a = open_one(path, LOADER_RANDOM, 7);
    int32_t batch[B * (T + 1)], expected[5][B * (T + 1)];
    for (int i = 0; i < 10; i++)
        loader_next(a, batch);
    uint64_t saved = loader_position(a);
    for (int i = 0; i < 5; i++)
        loader_next(a, expected[i]);
    loader_close(a);

    Loader *b = open_one(path, LOADER_RANDOM, 7);
    loader_set_position(b, saved);
    for (int i = 0; i < 5; i++) {
        loader_next(b, batch);
        cr_assert_eq(memcmp(batch, expected[i], sizeof batch), 0, "batch %d after restore", i);
    }
    loader_close(b);
    unlink(path);
}

Test(data_loader, sequential_walks_in_order_and_wraps)
{
    char path[256];
    /* 16 * 8 + 1 tokens: exactly 8 windows of T + 1 sharing boundary tokens */
    make_shard(path, sizeof path, "seq", T * 8 + 1, 1000, "byte16");
    Loader *l = open_one(path, LOADER_SEQUENTIAL, 0);
    int32_t batch[B * (T + 1)];
    for (int b = 0; b < 2; b++) {
        loader_next(l, batch);
        for (int r = 0; r < B; r++)
            cr_assert_eq(batch[r * (T + 1)], (b * B + r) * T, "batch %d row %d", b, r);
    }
    loader_next(l, batch); /* wraps to the first window */
    cr_assert_eq(batch[0], 0);
    cr_assert_eq(loader_total_tokens(l), T * 8 + 1);
    loader_close(l);
    unlink(path);
}

Test(data_loader, refuses_mixed_tokenizers_and_short_shards)
{
    char a[256], b[256], err[512];
    make_shard(a, sizeof a, "mix-a", 1000, 256, "byte");
    make_shard(b, sizeof b, "mix-b", 1000, 4096, "bpe4096");
    const char *paths[2] = {a, b};
    cr_assert_null(loader_open(paths, 2, B, T, LOADER_RANDOM, 1, err, sizeof err));
    cr_assert(strstr(err, b) != NULL, "message names the odd shard: %s", err);
    const char *one[1] = {a};
    cr_assert_null(loader_open(one, 1, B, 5000, LOADER_RANDOM, 1, err, sizeof err));
    Loader *l = loader_open(one, 1, B, T, LOADER_RANDOM, 1, err, sizeof err);
    cr_assert_not_null(l, "%s", err);
    cr_assert_eq(loader_vocab(l), 256);
    cr_assert_eq(loader_eot(l), 0);
    cr_assert_str_eq(loader_tokenizer(l), "byte");
    loader_close(l);
    unlink(a);
    unlink(b);
}

Test(data_loader, random_windows_stay_inside_one_shard)
{
    char a[256], b[256], err[512];
    /* both shards count 0, 1, 2, ... from their start: a window crossing from the end of one into
     * the next would break the +1 progression */
    make_shard(a, sizeof a, "cross-a", 100, 1000, "byte16");
    make_shard(b, sizeof b, "cross-b", 300, 1000, "byte16");
    const char *paths[2] = {a, b};
    Loader *l = loader_open(paths, 2, B, T, LOADER_RANDOM, 99, err, sizeof err);
    cr_assert_not_null(l, "%s", err);
    cr_assert_eq(loader_total_tokens(l), 400);
    int32_t batch[B * (T + 1)];
    int saw_late_start = 0;
    for (int step = 0; step < 200; step++) {
        loader_next(l, batch);
        for (int r = 0; r < B; r++) {
            for (int t = 1; t <= T; t++)
                cr_assert_eq(batch[r * (T + 1) + t], batch[r * (T + 1) + t - 1] + 1);
            saw_late_start |= batch[r * (T + 1)] > 100 - T; /* only the longer shard has these */
        }
    }
    cr_assert(saw_late_start, "the second shard was never drawn");
    loader_close(l);
    unlink(a);
    unlink(b);
}
