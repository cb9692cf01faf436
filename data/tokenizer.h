/* data/tokenizer.h: text <-> token ids for the two tokenizers: "byte" (vocabulary 256, byte 0
 * is the end-of-text token, never in text) and sentencepiece BPE ("bpeN", model file). */
#ifndef DLCM_DATA_TOKENIZER_H
#define DLCM_DATA_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct Tokenizer Tokenizer;

/* id: "byte", or "bpe4096"/"bpe8192"/"bpe16384" whose model is found in data_dir
 * (data_dir/<id>/tokenizer.model). NULL with a message in err. */
Tokenizer *tokenizer_open(const char *id, const char *data_dir, char *err, int errlen);
void tokenizer_close(Tokenizer *t);
const char *tokenizer_id(const Tokenizer *t);
uint32_t tokenizer_vocab(const Tokenizer *t);
uint32_t tokenizer_eot(const Tokenizer *t);

/* Encodes text (no end-of-text added). *ids is malloc'ed; returns count or -1 with err. */
long tokenizer_encode(Tokenizer *t, const char *text, size_t len, int32_t **ids, char *err,
                      int errlen);
/* Encodes n texts at once (addition to the original interface: one spm_encode run for all of
 * them instead of one per text). ids[i] is malloc'ed, counts[i] its length. 0, or -1 with err
 * and nothing allocated. */
int tokenizer_encode_many(Tokenizer *t, const char *const *texts, const size_t *lens, size_t n,
                          int32_t **ids, long *counts, char *err, int errlen);
/* Decodes ids to a malloc'ed NUL-terminated string; NULL with err. */
char *tokenizer_decode(Tokenizer *t, const int32_t *ids, size_t n, char *err, int errlen);
/* The text of a single token (for per-token output); malloc'ed. */
char *tokenizer_piece(Tokenizer *t, int32_t id);

#endif
