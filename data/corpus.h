/* data/corpus.h: the corpus as documents: paragraphs fed per unit, normalized, deduplicated, cut
 * into ~32 KB documents, split by a hash of the document id, written to and read from out/text. */
#ifndef DLCM_DATA_CORPUS_H
#define DLCM_DATA_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "data/text.h"

typedef enum { DOMAIN_LITERATURE, DOMAIN_DICTIONARY, DOMAIN_TECHNICAL, DOMAIN_COUNT } Domain;
typedef enum { SPLIT_TRAIN, SPLIT_VAL, SPLIT_COUNT } Split;

#define CORPUS_DOC_TARGET_BYTES 32768
#define CORPUS_MAX_SOURCES 64

const char *domain_name(Domain d);
int domain_parse(const char *name); /* -1 when unknown */
const char *split_name(Split s);

/* The split of a document: validation when hash(id) mod 1000 < val_permille. Depends on
 * nothing but the id, so a document can never be in both splits. */
Split split_of(const char *doc_id, int val_permille);

typedef struct {
    char *id;   /* "<source>/<unit>#<chunk>" */
    int source; /* index into the corpus's source names */
    Domain domain;
    Split split;
    char *text; /* paragraphs joined by '\n', no trailing newline */
    size_t len;
    uint32_t paragraphs;
} Doc;

typedef struct {
    char id[32];
    Domain domain;
    uint64_t paragraphs_in, paragraphs_kept, duplicates, bytes_kept;
} SourceStats;

typedef struct {
    Doc *docs;
    size_t n_docs, cap_docs;
    SourceStats sources[CORPUS_MAX_SOURCES];
    int n_sources;
    int val_permille;
    /* exact-paragraph dedup: open-addressing set of 64-bit paragraph hashes */
    uint64_t *seen;
    size_t seen_cap, seen_count;
    uint64_t *doc_ids; /* hashes of document ids given out, to keep them unique */
    size_t doc_ids_cap, doc_ids_count;
    /* the unit being fed */
    int unit_source;
    char unit_name[512];
    int unit_chunk;
    Buf unit_text;
    uint32_t unit_paragraphs;
    char *storage; /* when read back: the file contents the docs point into */
    size_t n_storage;
    char **storage_blocks;
} Corpus;

void corpus_init(Corpus *c, int val_permille);
void corpus_free(Corpus *c);

/* Registers a source; returns its index. */
int corpus_add_source(Corpus *c, const char *id, Domain domain);

void corpus_begin_unit(Corpus *c, int source, const char *unit_name);
/* Adds one paragraph (copied, normalized, dropped when empty or seen before). */
void corpus_add_paragraph(Corpus *c, const char *text, size_t len);
void corpus_end_unit(Corpus *c);

/* Writes dir/text/{train,val}/<domain>.txt (documents separated by an empty line),
 * dir/text/docs.tsv (one row per document, in file order) and dir/text/sources.tsv. */
int corpus_write(const Corpus *c, const char *dir, char *err, int errlen);
/* Reads back what corpus_write wrote (sources.tsv stats, docs and their text). */
int corpus_read(Corpus *c, const char *dir, char *err, int errlen);

/* "text <sha256>" over dir/text/docs.tsv and the six text files: what later build steps
 * record in their stamps, so a changed text rebuilds them. */
int corpus_text_fingerprint(const char *dir, char *out, size_t cap, char *err, int errlen);

#endif
