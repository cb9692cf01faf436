/* data/extract.h: turning one source's archive members into corpus paragraphs, by the method
 * its manifest row names. Each extractor file handles one family of formats. */
#ifndef DLCM_DATA_EXTRACT_H
#define DLCM_DATA_EXTRACT_H

#include "data/archive_files.h"
#include "data/corpus.h"
#include "data/manifest.h"

int extract_source(Corpus *c, int source_index, const Source *s, const MemberList *files, char *err,
                   int errlen);

/* Families (extract_literature.c, extract_sword.c, extract_dict.c, extract_docs.c,
 * extract_man.c). */
int extract_gutenberg(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_sotu(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_brown(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_mail(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_fortune(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_sword(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_dictd(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_webster(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_wordnet(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_rst(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_pod(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_html(Corpus *c, int src, const MemberList *files, char *err, int errlen);
int extract_man(Corpus *c, int src, const MemberList *files, char *err, int errlen);

/* Shared by several extractors: splits text into blocks at blank lines; a block of long lines
 * is hard-wrapped prose and becomes one paragraph, a block of short ragged lines (verse, a
 * play's speech, a list) keeps each line as its own paragraph. */
void emit_wrapped_text(Corpus *c, const char *text, size_t len);

/* The base name of a member path without the given extension (static buffer). */
const char *member_unit_name(const char *path, const char *strip_prefix, const char *strip_ext);

#endif
