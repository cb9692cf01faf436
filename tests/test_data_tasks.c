/* tests/test_data_tasks.c: tasks from a small corpus use only validation documents, mark the true
 * continuation as the answer, and come out identical from two builds. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tasks.h"
#include "util/fs.h"
#include "remove_tree.h"

static const char *words[] = {"river",   "garden", "letter", "morning", "window",  "silver",
                              "harbour", "candle", "meadow", "journey", "village", "thunder"};

/* A narrative source (every document in validation at 1000/1000) and a dictionary source. */
static void build(Corpus *c, Source sources[2])
{
    memset(sources, 0, 2 * sizeof *sources);
    snprintf(sources[0].id, sizeof sources[0].id, "N");
    snprintf(sources[0].method, sizeof sources[0].method, "gutenberg");
    snprintf(sources[1].id, sizeof sources[1].id, "W");
    snprintf(sources[1].method, sizeof sources[1].method, "wordnet");
    corpus_init(c, 1000);
    int n = corpus_add_source(c, "N", DOMAIN_LITERATURE);
    int w = corpus_add_source(c, "W", DOMAIN_DICTIONARY);
    char para[2048];
    for (int book = 0; book < 3; book++) {
        char unit[16];
        snprintf(unit, sizeof unit, "book%d", book);
        corpus_begin_unit(c, n, unit);
        for (int p = 0; p < 40; p++) {
            size_t at = 0;
            for (int s = 0; s < 6; s++) {
                const char *a = words[(book * 7 + p * 3 + s) % 12], *b = words[(p + s * 5) % 12];
                at += (size_t)snprintf(para + at, sizeof para - at,
                                       "%sThe %s near the %s was quiet in paragraph %d sentence %d "
                                       "of book %d, and the %s stayed.",
                                       s ? " " : "", a, b, p, s, book, a);
            }
            corpus_add_paragraph(c, para, at);
        }
        corpus_end_unit(c);
    }
    corpus_begin_unit(c, w, "entries");
    for (int e = 0; e < 40; e++) {
        snprintf(para, sizeof para, "%s%d: a definition of entry number %d, long enough to use",
                 words[e % 12], e, e);
        corpus_add_paragraph(c, para, strlen(para));
    }
    corpus_end_unit(c);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = calloc(1, (size_t)n + 1);
    cr_assert_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return data;
}

Test(data_tasks, answers_are_true_continuations_and_builds_repeat)
{
    char dir1[] = "/tmp/dlcm-test-tasks-XXXXXX", dir2[] = "/tmp/dlcm-test-tasks-XXXXXX";
    cr_assert_not_null(mkdtemp(dir1));
    cr_assert_not_null(mkdtemp(dir2));
    Corpus c;
    Source sources[2];
    build(&c, sources);
    char err[512], path[300];
    TaskCounts counts, again;
    for (int run = 0; run < 2; run++) {
        const char *dir = run ? dir2 : dir1;
        snprintf(path, sizeof path, "%s/tasks", dir);
        cr_assert_eq(fs_mkdirs(path, err, sizeof err), 0, "%s", err);
        cr_assert_eq(build_tasks(&c, sources, 2, dir, run ? &again : &counts, err, sizeof err), 0,
                     "%s", err);
    }
    cr_assert(counts.cloze > 10 && counts.next_sentence > 10 && counts.definition > 10,
              "%ld %ld %ld", counts.cloze, counts.next_sentence, counts.definition);
    cr_assert_eq(counts.next_sentence, again.next_sentence);
    const char *names[3] = {"cloze", "next_sentence", "definition"};
    for (int i = 0; i < 3; i++) {
        char p1[300], p2[300];
        snprintf(p1, sizeof p1, "%s/tasks/%s.jsonl", dir1, names[i]);
        snprintf(p2, sizeof p2, "%s/tasks/%s.jsonl", dir2, names[i]);
        char *a = slurp(p1), *b = slurp(p2);
        cr_assert_str_eq(a, b, "%s differs between two builds", names[i]);
        free(b);
        /* every answer, appended to its context, is text of the corpus */
        char *save = NULL;
        for (char *line = strtok_r(a, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            json_object *item = json_tokener_parse(line);
            cr_assert_not_null(item);
            json_object *context, *choices, *answer, *target;
            cr_assert(json_object_object_get_ex(item, "context", &context));
            char joined[4096];
            if (i == 0) {
                cr_assert(json_object_object_get_ex(item, "target", &target));
                snprintf(joined, sizeof joined, "%s%s", json_object_get_string(context),
                         json_object_get_string(target));
                cr_assert_eq(json_object_get_string(target)[0], ' ');
            } else {
                cr_assert(json_object_object_get_ex(item, "choices", &choices));
                cr_assert(json_object_object_get_ex(item, "answer", &answer));
                int k = json_object_get_int(answer);
                const char *right =
                    json_object_get_string(json_object_array_get_idx(choices, (size_t)k));
                snprintf(joined, sizeof joined, "%s%s", json_object_get_string(context), right);
                for (int m = 0; m < 4; m++)
                    if (m != k)
                        cr_assert_str_neq(
                            json_object_get_string(json_object_array_get_idx(choices, (size_t)m)),
                            right);
            }
            if (i == 2) { /* "word:" + " definition" is the stored entry "word: definition" */
                int found = 0;
                for (size_t d = 0; d < c.n_docs && !found; d++)
                    found = strstr(c.docs[d].text, joined) != NULL;
                cr_assert(found, "not in the corpus: %s", joined);
            } else { /* the window's text, with its separators, is in one document */
                int found = 0;
                for (size_t d = 0; d < c.n_docs && !found; d++)
                    found = strstr(c.docs[d].text, joined) != NULL;
                cr_assert(found, "not in the corpus: %s", joined);
            }
            json_object_put(item);
        }
        free(a);
    }
    corpus_free(&c);
    remove_tree(dir1);
    remove_tree(dir2);
}

Test(data_tasks, train_documents_give_no_items)
{
    char dir[] = "/tmp/dlcm-test-tasks-XXXXXX", err[512], path[300];
    cr_assert_not_null(mkdtemp(dir));
    Corpus c;
    Source sources[2];
    build(&c, sources);
    for (size_t d = 0; d < c.n_docs; d++)
        c.docs[d].split = SPLIT_TRAIN;
    snprintf(path, sizeof path, "%s/tasks", dir);
    cr_assert_eq(fs_mkdirs(path, err, sizeof err), 0, "%s", err);
    TaskCounts counts;
    cr_assert_eq(build_tasks(&c, sources, 2, dir, &counts, err, sizeof err), 0, "%s", err);
    cr_assert_eq(counts.cloze + counts.next_sentence + counts.definition, 0);
    corpus_free(&c);
    remove_tree(dir);
}
