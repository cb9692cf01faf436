/* data/report.h: data/out/report.txt: bytes and documents per source and split, tokens per
 * source, split and tokenizer, tokens per byte, and task item counts. */
#ifndef DLCM_DATA_REPORT_H
#define DLCM_DATA_REPORT_H

#include "data/corpus.h"
#include "data/manifest.h"

/* Writes out_dir/report.txt from the corpus, each out_dir/<tokenizer>/stats.tsv present and
 * the task files; also prints it to stdout. */
int write_report(const Corpus *c, const Source *sources, int n_sources, const char *out_dir,
                 char *err, int errlen);

#endif
