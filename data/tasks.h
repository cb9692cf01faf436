/* data/tasks.h: held-out evaluation tasks built from validation documents only: last-word
 * cloze, 4-way next sentence and 4-way word -> definition, as JSONL (data/README.md). */
#ifndef DLCM_DATA_TASKS_H
#define DLCM_DATA_TASKS_H

#include "data/corpus.h"
#include "data/manifest.h"

typedef struct {
    long cloze, next_sentence, definition;
} TaskCounts;

/* Writes out_dir/tasks/{cloze,next_sentence,definition}.jsonl. Narrative sources (methods
 * gutenberg, sotu, brown, sword) feed cloze and next sentence; webster and wordnet feed
 * definitions. */
int build_tasks(const Corpus *c, const Source *sources, int n_sources, const char *out_dir,
                TaskCounts *counts, char *err, int errlen);

/* Splits a paragraph into sentences: offsets of sentence starts written to starts (at most
 * max); returns the count. Exposed for tests. */
int split_sentences(const char *s, size_t len, size_t *starts, int max);

#endif
