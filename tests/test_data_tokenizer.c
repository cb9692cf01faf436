/* tests/test_data_tokenizer.c: the byte tokenizer and a BPE model (the built one, else one trained
 * here on a licence text) round-trip documents; batch encoding equals one-by-one encoding. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/bpe.h"
#include "data/tokenizer.h"
#include "remove_tree.h"

Test(data_tokenizer, byte_round_trip)
{
    char err[512];
    Tokenizer *t = tokenizer_open("byte", "unused", err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    cr_assert_eq(tokenizer_vocab(t), 256);
    cr_assert_eq(tokenizer_eot(t), 0);
    char text[300];
    size_t n = 0;
    for (int c = 1; c < 256; c++)
        text[n++] = (char)c; /* every byte but NUL, invalid UTF-8 too */
    memcpy(text + n, "\nline two", 9);
    n += 9;
    int32_t *ids;
    long count = tokenizer_encode(t, text, n, &ids, err, sizeof err);
    cr_assert_eq(count, (long)n, "%s", err);
    for (long i = 0; i < count; i++)
        cr_assert(ids[i] > 0 && ids[i] < 256);
    char *back = tokenizer_decode(t, ids, (size_t)count, err, sizeof err);
    cr_assert_not_null(back, "%s", err);
    cr_assert_eq(strlen(back), n);
    cr_assert_eq(memcmp(back, text, n), 0);
    free(back);
    free(ids);
    /* NUL is the end-of-text token and never text */
    cr_assert_eq(tokenizer_encode(t, "a\0b", 3, &ids, err, sizeof err), -1);
    tokenizer_close(t);
}

Test(data_tokenizer, unknown_ids_refused)
{
    char err[512];
    cr_assert_null(tokenizer_open("bpe12", "data/out", err, sizeof err));
    cr_assert_null(tokenizer_open("bpe4096", "/tmp/dlcm-no-such-dir", err, sizeof err));
    cr_assert(strstr(err, "/tmp/dlcm-no-such-dir/bpe4096/tokenizer.model") != NULL, "%s", err);
}

/* The directory holding bpe<N>/tokenizer.model: the built corpus's, or one trained in /tmp. */
static const char *bpe_model_dir(char *id, size_t id_len, char *dir, size_t dir_len)
{
    struct stat st;
    if (stat("data/out/bpe4096/tokenizer.model", &st) == 0) {
        snprintf(id, id_len, "bpe4096");
        snprintf(dir, dir_len, "data/out");
        return dir;
    }
    snprintf(dir, dir_len, "/tmp/dlcm-test-bpe-%d", (int)getpid());
    snprintf(id, id_len, "bpe400");
    char model_dir[300], err[512];
    snprintf(model_dir, sizeof model_dir, "%s/bpe400", dir);
    mkdir(dir, 0755);
    mkdir(model_dir, 0755);
    const char *inputs[1] = {"/usr/share/common-licenses/GPL-3"};
    cr_assert_eq(bpe_train(inputs, 1, model_dir, 400, 100000, 1, err, sizeof err), 0, "%s", err);
    return dir;
}

/* Sample documents: paragraphs of the validation text when built, else the licence text. */
static char *sample_text(size_t *len)
{
    const char *candidates[] = {"data/out/text/val/literature.txt",
                                "data/out/text/val/technical.txt",
                                "/usr/share/common-licenses/GPL-3"};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(candidates[i], "rb");
        if (!f) continue;
        char *buf = calloc(1, 20001);
        *len = fread(buf, 1, 20000, f);
        fclose(f);
        /* cut at the last complete line so no UTF-8 sequence is split */
        while (*len > 0 && buf[*len - 1] != '\n')
            (*len)--;
        buf[*len] = '\0';
        return buf;
    }
    cr_assert_fail("no sample text");
    return NULL;
}

static void expect_round_trip(Tokenizer *t, const char *text)
{
    char err[512];
    int32_t *ids;
    long n = tokenizer_encode(t, text, strlen(text), &ids, err, sizeof err);
    cr_assert(n >= 0, "%s", err);
    for (long i = 0; i < n; i++) {
        cr_assert(ids[i] >= 0 && (uint32_t)ids[i] < tokenizer_vocab(t));
        cr_assert_neq((uint32_t)ids[i], tokenizer_eot(t), "no end-of-text inside text");
    }
    char *back = tokenizer_decode(t, ids, (size_t)n, err, sizeof err);
    cr_assert_not_null(back, "%s", err);
    cr_assert_str_eq(back, text);
    free(back);
    free(ids);
}

Test(data_tokenizer, bpe_round_trip_on_documents, .timeout = 120)
{
    char id[32], dir[256], err[512];
    bpe_model_dir(id, sizeof id, dir, sizeof dir);
    Tokenizer *t = tokenizer_open(id, dir, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    cr_assert_eq(tokenizer_vocab(t), (uint32_t)atoi(id + 3));
    size_t len;
    char *text = sample_text(&len);
    /* the documents as stored: paragraphs on lines, documents separated by empty lines */
    expect_round_trip(t, text);
    expect_round_trip(t, "");
    expect_round_trip(t, "two  spaces,\n  an indented line,\n\nan empty line and a tab-free end\n");
    expect_round_trip(
        t, "caf\xc3\xa9 \xe2\x80\x9cquoted\xe2\x80\x9d \xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87");
    /* fewer tokens than bytes: the model really merges */
    int32_t *ids;
    long n = tokenizer_encode(t, text, len, &ids, err, sizeof err);
    cr_assert(n > 0 && (size_t)n < len * 8 / 10, "%ld tokens for %zu bytes", n, len);
    char *piece = tokenizer_piece(t, ids[0]);
    cr_assert_not_null(piece);
    free(piece);
    free(ids);
    free(text);
    tokenizer_close(t);
    if (strcmp(dir, "data/out") != 0) remove_tree(dir);
}

Test(data_tokenizer, encode_many_matches_one_by_one, .timeout = 120)
{
    char id[32], dir[256], err[512];
    bpe_model_dir(id, sizeof id, dir, sizeof dir);
    const char *ids_to_test[2] = {"byte", id};
    for (int k = 0; k < 2; k++) {
        Tokenizer *t = tokenizer_open(ids_to_test[k], dir, err, sizeof err);
        cr_assert_not_null(t, "%s", err);
        const char *texts[4] = {"The first text.", "", "two\nlines", " leading space\n"};
        size_t lens[4];
        for (int i = 0; i < 4; i++)
            lens[i] = strlen(texts[i]);
        int32_t *many[4];
        long counts[4];
        cr_assert_eq(tokenizer_encode_many(t, texts, lens, 4, many, counts, err, sizeof err), 0,
                     "%s", err);
        for (int i = 0; i < 4; i++) {
            int32_t *one;
            long n = tokenizer_encode(t, texts[i], lens[i], &one, err, sizeof err);
            cr_assert_eq(n, counts[i], "%s text %d", ids_to_test[k], i);
            cr_assert_eq(memcmp(one, many[i], (size_t)n * sizeof *one), 0);
            free(one);
            free(many[i]);
        }
        tokenizer_close(t);
    }
    if (strcmp(dir, "data/out") != 0) remove_tree(dir);
}
