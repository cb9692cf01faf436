/* tests/test_data_built.c: the built corpus in data/out (skipped unless up to date): shards
 * validate, splits are disjoint, shards decode to the documents, tasks use validation only. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/corpus.h"
#include "data/shard.h"
#include "data/tokenizer.h"

/* Whether a stamp file records the current text fingerprint (the step is up to date). */
static int stamp_current(const char *path, const char *fingerprint)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096] = "";
    int current = fgets(line, sizeof line, f) && strstr(line, fingerprint) != NULL;
    fclose(f);
    return current;
}

/* The built corpus is checked only when its shards and tasks were built from its current text
 * (after `dlcm-data extract` alone they are stale until the next `make data`). */
static int corpus_built(void)
{
    char fingerprint[80], err[512];
    if (corpus_text_fingerprint("data/out", fingerprint, sizeof fingerprint, err, sizeof err) != 0)
        return 0;
    return stamp_current("data/out/byte/SHARDS_STAMP", fingerprint) &&
           stamp_current("data/out/tasks/STAMP", fingerprint);
}

Test(data_built, shards_validate_and_splits_are_disjoint, .timeout = 120)
{
    if (!corpus_built()) cr_skip_test("data/out not built from the current text (make data)");
    Corpus c;
    char err[512];
    corpus_init(&c, 0);
    cr_assert_eq(corpus_read(&c, "data/out", err, sizeof err), 0, "%s", err);
    uint64_t bytes[SPLIT_COUNT] = {0}, eots[SPLIT_COUNT] = {0};
    int domains_in_val[DOMAIN_COUNT] = {0};
    for (size_t i = 0; i < c.n_docs; i++) {
        bytes[c.docs[i].split] += c.docs[i].len;
        if (c.docs[i].split == SPLIT_VAL) domains_in_val[c.docs[i].domain] = 1;
    }
    cr_assert(bytes[SPLIT_VAL] >= 1000000, "validation has %llu bytes",
              (unsigned long long)bytes[1]);
    for (int d = 0; d < DOMAIN_COUNT; d++)
        cr_assert(domains_in_val[d], "domain %d missing in val", d);
    /* the byte shards hold exactly the documents of each split, each followed by end-of-text */
    const char *names[SPLIT_COUNT] = {"data/out/byte/train.bin", "data/out/byte/val.bin"};
    for (int sp = 0; sp < SPLIT_COUNT; sp++) {
        Shard *s = shard_open(names[sp], 256, err, sizeof err);
        cr_assert_not_null(s, "%s", err);
        const ShardHeader *h = shard_header(s);
        for (uint64_t i = 0; i < h->token_count; i++)
            eots[sp] += shard_tokens(s)[i] == 0;
        uint64_t docs = 0;
        for (size_t i = 0; i < c.n_docs; i++)
            docs += c.docs[i].split == (Split)sp;
        cr_assert_eq(eots[sp], docs, "%s: one end-of-text per document", names[sp]);
        cr_assert_eq(h->token_count, bytes[sp] + docs);
        shard_close(s);
    }
    /* val.bin is the validation documents in order: its first document decodes to the first */
    Shard *val = shard_open("data/out/byte/val.bin", 256, err, sizeof err);
    cr_assert_not_null(val, "%s", err);
    const Doc *first = NULL;
    for (size_t i = 0; i < c.n_docs && !first; i++)
        if (c.docs[i].split == SPLIT_VAL) first = &c.docs[i];
    for (size_t k = 0; k < first->len; k++)
        cr_assert_eq(shard_tokens(val)[k], (unsigned char)first->text[k]);
    shard_close(val);
    corpus_free(&c);
}

Test(data_built, bpe_shards_validate_and_decode, .timeout = 120)
{
    char fingerprint[80], err[512];
    if (!corpus_built() ||
        corpus_text_fingerprint("data/out", fingerprint, sizeof fingerprint, err, sizeof err) !=
            0 ||
        !stamp_current("data/out/bpe4096/SHARDS_STAMP", fingerprint))
        cr_skip_test("data/out/bpe4096 not built from the current text (make data)");
    const char *files[] = {"train.bin", "val.bin", "val-literature.bin", "val-dictionary.bin",
                           "val-technical.bin"};
    for (int i = 0; i < 5; i++) {
        char path[256];
        snprintf(path, sizeof path, "data/out/bpe4096/%s", files[i]);
        Shard *s = shard_open(path, 4096, err, sizeof err);
        cr_assert_not_null(s, "%s", err);
        cr_assert_str_eq(shard_header(s)->tokenizer, "bpe4096");
        shard_close(s);
    }
    Tokenizer *t = tokenizer_open("bpe4096", "data/out", err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    Shard *val = shard_open("data/out/bpe4096/val.bin", 4096, err, sizeof err);
    cr_assert_not_null(val);
    /* the first validation document, decoded from the shard, is the first validation text */
    const uint16_t *tok = shard_tokens(val);
    size_t n = 0;
    while (tok[n] != tokenizer_eot(t))
        n++;
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = tok[i];
    char *text = tokenizer_decode(t, ids, n, err, sizeof err);
    cr_assert_not_null(text, "%s", err);
    Corpus c;
    corpus_init(&c, 0);
    cr_assert_eq(corpus_read(&c, "data/out", err, sizeof err), 0, "%s", err);
    for (size_t i = 0; i < c.n_docs; i++) {
        if (c.docs[i].split != SPLIT_VAL) continue;
        cr_assert_str_eq(text, c.docs[i].text);
        break;
    }
    corpus_free(&c);
    free(text);
    free(ids);
    shard_close(val);
    tokenizer_close(t);
}

Test(data_built, tasks_come_from_validation_documents, .timeout = 120)
{
    if (!corpus_built()) cr_skip_test("data/out not built from the current text (make data)");
    Corpus c;
    char err[512];
    corpus_init(&c, 0);
    cr_assert_eq(corpus_read(&c, "data/out", err, sizeof err), 0, "%s", err);
    const char *files[] = {"data/out/tasks/cloze.jsonl", "data/out/tasks/next_sentence.jsonl",
                           "data/out/tasks/definition.jsonl"};
    for (int f = 0; f < 3; f++) {
        FILE *in = fopen(files[f], "r");
        cr_assert_not_null(in, "%s", files[f]);
        char *line = NULL;
        size_t cap = 0;
        long items = 0;
        while (getline(&line, &cap, in) > 0 && items < 300) {
            json_object *item = json_tokener_parse(line);
            cr_assert_not_null(item, "%s: line %ld is not JSON", files[f], items + 1);
            json_object *id, *context, *field;
            cr_assert(json_object_object_get_ex(item, "id", &id));
            cr_assert(json_object_object_get_ex(item, "context", &context));
            if (f == 0) {
                cr_assert(json_object_object_get_ex(item, "target", &field));
            } else {
                cr_assert(json_object_object_get_ex(item, "choices", &field));
                cr_assert_eq(json_object_array_length(field), 4);
                json_object *answer;
                cr_assert(json_object_object_get_ex(item, "answer", &answer));
                int k = json_object_get_int(answer);
                cr_assert(k >= 0 && k < 4);
            }
            /* the document part of the item id ("<doc id>@n" or "<doc id>:n") is validation */
            char doc_id[800];
            snprintf(doc_id, sizeof doc_id, "%s", json_object_get_string(id));
            char *cut = strrchr(doc_id, f == 2 ? ':' : '@');
            cr_assert_not_null(cut);
            *cut = '\0';
            int found = 0;
            for (size_t i = 0; i < c.n_docs && !found; i++)
                if (strcmp(c.docs[i].id, doc_id) == 0) {
                    found = 1;
                    cr_assert_eq(c.docs[i].split, SPLIT_VAL, "%s is a train document", doc_id);
                }
            cr_assert(found, "%s: unknown document %s", files[f], doc_id);
            json_object_put(item);
            items++;
        }
        cr_assert(items > 50, "%s has %ld items", files[f], items);
        free(line);
        fclose(in);
    }
    corpus_free(&c);
}
