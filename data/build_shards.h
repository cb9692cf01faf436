/* data/build_shards.h: tokenizing the clean corpus into data/out/<tokenizer>/ shards
 * (train.bin, val.bin, val-<domain>.bin) with per-source token counts (stats.tsv). */
#ifndef DLCM_DATA_BUILD_SHARDS_H
#define DLCM_DATA_BUILD_SHARDS_H

#include "data/corpus.h"

/* tokenizer_id is "byte" or "bpe<N>" (model in out_dir/bpe<N>/tokenizer.model). */
int build_shards(const Corpus *c, const char *out_dir, const char *tokenizer_id, int jobs,
                 char *err, int errlen);

#endif
