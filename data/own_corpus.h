/* data/own_corpus.h: a researcher's own text as a corpus source: a folder (searched recursively)
 * of text files (.txt, .md, .text) and JSONL files (one object a line with a string `text`), or
 * one such file, fed through the same paragraphs, dedup, split, shards and tasks as the
 * manifest's sources. */
#ifndef DLCM_DATA_OWN_CORPUS_H
#define DLCM_DATA_OWN_CORPUS_H

#include "data/corpus.h"
#include "data/manifest.h"

/* The source record that stands for the own text in the corpus, its report and its tasks (id
 * "own", method "own": narrative tasks are built from it). */
void own_corpus_source(const char *path, Domain domain, Source *out);

/* Reads every file under path into c (initialized by the caller, the source registered as index
 * `source`). Paragraphs are separated by blank lines; a text file or a JSONL line is one unit.
 * 0, or -1 with err naming the file (and line for JSONL) and what is wrong. *n_files counts the
 * files read. */
int own_corpus_read(Corpus *c, int source, const char *path, int *n_files, char *err, int errlen);

#endif
