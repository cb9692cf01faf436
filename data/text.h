/* data/text.h: small text helpers shared by the extractors: a growable byte buffer, paragraph
 * normalization, unwrapping hard-wrapped lines, entity decoding and the technical-prose test. */
#ifndef DLCM_DATA_TEXT_H
#define DLCM_DATA_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data; /* always NUL-terminated once anything was appended */
    size_t len, cap;
} Buf;

void buf_append(Buf *b, const char *s, size_t n); /* aborts the program on out of memory */
void buf_puts(Buf *b, const char *s);
void buf_putc(Buf *b, char c);
void buf_clear(Buf *b);
void buf_free(Buf *b);

/* Appends the UTF-8 encoding of code point cp. */
void buf_put_codepoint(Buf *b, uint32_t cp);

/* Normalizes one paragraph in place and returns its new length: invalid UTF-8 and control
 * characters become spaces, U+00A0 and U+2581 become spaces, runs of whitespace collapse to
 * one space, and the ends are trimmed. The result never contains '\n' or NUL. */
size_t text_normalize_paragraph(char *s, size_t len);

/* Decodes XML/HTML character references (&amp; &lt; &gt; &quot; &apos; &nbsp; &#N; &#xN;)
 * from s[0..len) into out; unknown named entities are kept verbatim. */
void text_decode_entities(const char *s, size_t len, Buf *out);

/* Longer "paragraphs" are page fragments glued together, not prose. */
#define TEXT_PROSE_MAX_BYTES 4000

/* The prose test for technical documentation: 50..4000 bytes and >= 8 words, >= 80 % letters and
 * spaces, at most 10 % code-looking words, at least half the words starting lowercase, and
 * ending in sentence punctuation. */
int text_is_prose(const char *s, size_t len);

/* 64-bit FNV-1a followed by a final avalanche mix (used for dedup and the split). */
uint64_t text_hash64(const char *s, size_t len);

/* Counts whitespace-separated words. */
size_t text_count_words(const char *s, size_t len);

#endif
