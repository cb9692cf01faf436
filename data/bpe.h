/* data/bpe.h: the sentencepiece BPE tokenizer's two external steps, run as child processes:
 * training a model (spm_train) and encoding a file of lines to ids (spm_encode). */
#ifndef DLCM_DATA_BPE_H
#define DLCM_DATA_BPE_H

#include <stddef.h>
#include <stdint.h>

/* The special pieces every dlcm BPE model has: id 0 unknown, id 1 end-of-text, id 2 newline
 * (a user-defined piece; spm_encode works on lines, so dlcm inserts it between lines). */
#define BPE_EOT_PIECE "<eot>"
#define BPE_NEWLINE_PIECE "\n"

/* Trains model_dir/tokenizer.model (and .vocab) with vocab_size pieces from the text files
 * (one sentence or paragraph a line), sampling at most sentence_sample lines. Log of spm_train
 * goes to model_dir/train.log. 0, or -1 with err. */
int bpe_train(const char *const *inputs, int n_inputs, const char *model_dir, int vocab_size,
              long sentence_sample, int threads, char *err, int errlen);

/* Starts spm_encode on input_path writing one line of ids per input line to output_path;
 * returns the child pid (wait with spawn_wait) or -1. */
int bpe_encode_start(const char *model_path, const char *input_path, const char *output_path,
                     char *err, int errlen);

/* Parses one line of spm_encode ids ("12 7 300") appending to *ids (grown with realloc).
 * Returns the number appended, or -1 for a malformed id or one >= vocab. */
long bpe_parse_id_line(const char *line, uint32_t vocab, int32_t **ids, size_t *count,
                       size_t *capacity);

#endif
