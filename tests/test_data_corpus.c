/* tests/test_data_corpus.c: the split is a function of the document id (no document in both), exact
 * duplicate paragraphs are dropped, long units are cut into documents, the text files read back. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/corpus.h"
#include "remove_tree.h"

static void build_small_corpus(Corpus *c, int val_permille)
{
    corpus_init(c, val_permille);
    int lit = corpus_add_source(c, "L1", DOMAIN_LITERATURE);
    int dict = corpus_add_source(c, "D1", DOMAIN_DICTIONARY);
    int tech = corpus_add_source(c, "T1", DOMAIN_TECHNICAL);
    char para[200];
    for (int u = 0; u < 300; u++) {
        char unit[32];
        snprintf(unit, sizeof unit, "book%d", u);
        corpus_begin_unit(c, u % 3 == 0 ? lit : u % 3 == 1 ? dict : tech, unit);
        for (int p = 0; p < 5; p++) {
            snprintf(para, sizeof para, "Paragraph %d of unit %d, with  some\ttext in it. ", p, u);
            corpus_add_paragraph(c, para, strlen(para));
        }
        corpus_end_unit(c);
    }
}

Test(data_corpus, split_is_a_function_of_the_id)
{
    Corpus c;
    build_small_corpus(&c, 200);
    size_t val = 0;
    for (size_t i = 0; i < c.n_docs; i++) {
        cr_assert_eq(c.docs[i].split, split_of(c.docs[i].id, 200));
        val += c.docs[i].split == SPLIT_VAL;
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(c.docs[i].id, c.docs[j].id, "document ids are unique");
    }
    /* 300 documents at 20 %: the binomial spread keeps this well inside 30..90 */
    cr_assert(val > 30 && val < 90, "%zu validation documents of %zu", val, c.n_docs);
    cr_assert_eq(split_of("A01/austen-emma#3", 30), split_of("A01/austen-emma#3", 30));
    /* raising the validation share only moves documents from train to validation */
    for (size_t i = 0; i < c.n_docs; i++)
        if (split_of(c.docs[i].id, 200) == SPLIT_VAL)
            cr_assert_eq(split_of(c.docs[i].id, 400), SPLIT_VAL);
    corpus_free(&c);
}

Test(data_corpus, write_read_keeps_every_document_in_one_split)
{
    char dir[] = "/tmp/dlcm-test-corpus-XXXXXX", err[512];
    cr_assert_not_null(mkdtemp(dir));
    Corpus c;
    build_small_corpus(&c, 200);
    cr_assert_eq(corpus_write(&c, dir, err, sizeof err), 0, "%s", err);
    Corpus r;
    corpus_init(&r, 200);
    cr_assert_eq(corpus_read(&r, dir, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.n_docs, c.n_docs);
    for (size_t i = 0; i < r.n_docs; i++) {
        cr_assert_str_eq(r.docs[i].id, c.docs[i].id);
        cr_assert_eq(r.docs[i].split, c.docs[i].split);
        cr_assert_eq(r.docs[i].domain, c.docs[i].domain);
        cr_assert_eq(r.docs[i].len, c.docs[i].len);
        cr_assert_eq(memcmp(r.docs[i].text, c.docs[i].text, c.docs[i].len), 0);
    }
    /* the train and validation text files share no document text */
    for (size_t i = 0; i < r.n_docs; i++)
        for (size_t j = 0; j < r.n_docs; j++)
            if (r.docs[i].split != r.docs[j].split) cr_assert_str_neq(r.docs[i].id, r.docs[j].id);
    corpus_free(&r);
    corpus_free(&c);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "%s/text/docs.tsv", dir);
    /* a damaged index is reported with its file and line */
    FILE *f = fopen(cmd, "a");
    fputs("broken line\n", f);
    fclose(f);
    corpus_init(&r, 200);
    cr_assert_eq(corpus_read(&r, dir, err, sizeof err), -1);
    cr_assert(strstr(err, "docs.tsv: line") != NULL, "%s", err);
    corpus_free(&r);
    remove_tree(dir);
}

Test(data_corpus, duplicates_dropped_and_text_normalized)
{
    Corpus c;
    corpus_init(&c, 30);
    int a = corpus_add_source(&c, "A", DOMAIN_LITERATURE);
    int b = corpus_add_source(&c, "B", DOMAIN_TECHNICAL);
    corpus_begin_unit(&c, a, "one");
    corpus_add_paragraph(&c, "  The same   words.\t", 20);
    corpus_add_paragraph(&c, "Only here.", 10);
    corpus_end_unit(&c);
    corpus_begin_unit(&c, b, "two");
    corpus_add_paragraph(&c, "The same words.", 15);
    corpus_add_paragraph(&c, "Other words.", 12);
    corpus_end_unit(&c);
    cr_assert_eq(c.n_docs, 2);
    cr_assert_str_eq(c.docs[0].text, "The same words.\nOnly here.");
    cr_assert_str_eq(c.docs[1].text, "Other words.");
    cr_assert_eq(c.sources[b].duplicates, 1);
    corpus_free(&c);
}

Test(data_corpus, long_units_become_several_documents)
{
    Corpus c;
    corpus_init(&c, 30);
    int a = corpus_add_source(&c, "A", DOMAIN_LITERATURE);
    corpus_begin_unit(&c, a, "long");
    char para[1100];
    for (int p = 0; p < 100; p++) {
        snprintf(para, sizeof para, "%04d %01000d", p, 0);
        corpus_add_paragraph(&c, para, strlen(para));
    }
    corpus_end_unit(&c);
    cr_assert_eq(c.n_docs, 4, "100 kB in documents of about 32 kB");
    cr_assert_str_eq(c.docs[1].id, "A/long#1");
    for (size_t i = 0; i < c.n_docs; i++)
        cr_assert(c.docs[i].len < CORPUS_DOC_TARGET_BYTES + 1100);
    corpus_free(&c);
}
