/* tests/train_test_util.h: helpers of the trainer's tests: running a program (fork/exec) with its
 * output in files, tiny byte-level shards in a temporary directory, and removing it afterwards. */
#ifndef DLCM_TESTS_TRAIN_TEST_UTIL_H
#define DLCM_TESTS_TRAIN_TEST_UTIL_H

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/shard.h"
#include "remove_tree.h"
#include "run_program.h"

/* The whole of a (small) file as a string; "" when missing. Malloc'ed. */
static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static inline void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Text-like byte tokens: words drawn by a fixed LCG, end-of-text (0) between documents. */
static inline void synthetic_tokens(uint16_t *t, uint64_t n, uint64_t seed)
{
    static const char *const words[] = {"the ", "cat ", "sat ", "on ", "a ", "mat. ", "dog ", "ran ",
                                        "to ", "house ", "and ", "slept. ", "it ", "was ", "warm. "};
    uint64_t x = seed * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t i = 0;
    while (i < n) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        if ((x >> 60) == 0) {
            t[i++] = 0;
            continue;
        }
        const char *w = words[(x >> 33) % (sizeof words / sizeof words[0])];
        for (; *w && i < n; w++) t[i++] = (uint16_t)(unsigned char)*w;
    }
}

/* dir/byte/{train,val,val-alpha}.bin of n tokens each; 0 or -1. */
static inline int make_tiny_corpus(const char *dir, uint64_t n)
{
    char path[512], err[512];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/byte", dir);
    mkdir(path, 0755);
    uint16_t *t = malloc(n * sizeof *t);
    const char *names[] = {"train", "val", "val-alpha"};
    for (int i = 0; i < 3; i++) {
        synthetic_tokens(t, n, (uint64_t)i + 1);
        snprintf(path, sizeof path, "%s/byte/%s.bin", dir, names[i]);
        if (shard_write(path, t, n, 256, "byte", 0, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            free(t);
            return -1;
        }
    }
    free(t);
    return 0;
}

#endif
