/* data/extract_literature.c: extractors for literature: Gutenberg books, State of the Union JSON,
 * the tagged Brown corpus, SpamAssassin ham mail bodies and fortune files. */
#include "data/extract.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int extract_gutenberg(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *m = &files->files[i];
        corpus_begin_unit(c, src, member_unit_name(m->path, "package/gutenberg/", ".txt"));
        /* _word_ marks italics in these texts: drop the markers */
        Buf text = {0};
        for (size_t k = 0; k < m->len; k++)
            if (m->data[k] != '_') buf_putc(&text, (char)m->data[k]);
        if (text.data) emit_wrapped_text(c, text.data, text.len);
        buf_free(&text);
        corpus_end_unit(c);
    }
    return 0;
}

int extract_sotu(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *m = &files->files[i];
        json_tokener *tok = json_tokener_new();
        json_object *root = json_tokener_parse_ex(tok, (const char *)m->data, (int)m->len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        json_tokener_free(tok);
        json_object *text;
        if (!root || jerr != json_tokener_success ||
            !json_object_object_get_ex(root, "text", &text) ||
            !json_object_is_type(text, json_type_string)) {
            snprintf(err, errlen, "%s: not a JSON object with a \"text\" string (%s)", m->path,
                     json_tokener_error_desc(jerr));
            json_object_put(root);
            return -1;
        }
        corpus_begin_unit(c, src, member_unit_name(m->path, "package/data/", ".json"));
        /* each address is one unbroken string: the packaged data has no paragraph breaks */
        corpus_add_paragraph(c, json_object_get_string(text),
                             (size_t)json_object_get_string_len(text));
        corpus_end_unit(c);
        json_object_put(root);
    }
    return 0;
}

/* Appends one Brown token (tag already removed) with English spacing rules. */
static void brown_append_word(Buf *out, const char *w, size_t n, int *no_space_next)
{
    int is_open_quote = n == 2 && memcmp(w, "``", 2) == 0;
    int is_close_quote = n == 2 && memcmp(w, "''", 2) == 0;
    int attaches_left = is_close_quote || (n == 1 && strchr(",.;:!?)]", w[0])) ||
                        (n >= 2 && w[0] == '\'' && isalpha((unsigned char)w[1])) ||
                        (n == 3 && strncasecmp(w, "n't", 3) == 0);
    if (out->len > 0 && !attaches_left && !*no_space_next) buf_putc(out, ' ');
    if (is_open_quote || is_close_quote)
        buf_putc(out, '"');
    else
        buf_append(out, w, n);
    *no_space_next = is_open_quote || (n == 1 && (w[0] == '(' || w[0] == '['));
}

int extract_brown(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *m = &files->files[i];
        corpus_begin_unit(c, src, member_unit_name(m->path, "package/", NULL));
        const char *p = (const char *)m->data, *end = p + m->len;
        Buf paragraph = {0};
        int no_space_next = 0;
        while (p < end) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            if (!eol) eol = end;
            const char *q = p;
            while (q < eol && isspace((unsigned char)*q))
                q++;
            if (q == eol) { /* blank line: paragraph break */
                if (paragraph.len) corpus_add_paragraph(c, paragraph.data, paragraph.len);
                buf_clear(&paragraph);
                no_space_next = 0;
            }
            while (q < eol) {
                const char *w = q;
                while (q < eol && !isspace((unsigned char)*q))
                    q++;
                const char *slash = q;
                while (slash > w && *(slash - 1) != '/')
                    slash--;
                size_t n = slash > w ? (size_t)(slash - 1 - w) : (size_t)(q - w);
                if (n > 0) brown_append_word(&paragraph, w, n, &no_space_next);
                while (q < eol && isspace((unsigned char)*q))
                    q++;
            }
            p = eol + 1;
        }
        if (paragraph.len) corpus_add_paragraph(c, paragraph.data, paragraph.len);
        buf_free(&paragraph);
        corpus_end_unit(c);
    }
    return 0;
}

/* A light prose test for mail: enough words and mostly letters (mail is informal, so no
 * punctuation or case rules). */
static int mail_block_is_prose(const char *s, size_t len)
{
    if (len < 30 || text_count_words(s, len) < 5) return 0;
    size_t good = 0;
    for (size_t i = 0; i < len; i++)
        if (isalpha((unsigned char)s[i]) || s[i] == ' ' || (unsigned char)s[i] >= 0x80) good++;
    return good * 100 >= len * 75;
}

static int starts_with_ci(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && strncasecmp(s, prefix, k) == 0;
}

/* Whether the header block declares a body this extractor does not decode (MIME parts, HTML,
 * base64 or quoted-printable). */
static int mail_body_is_plain(const char *headers, size_t len)
{
    const char *p = headers, *end = headers + len;
    int in_type = 0, in_encoding = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        size_t n = (size_t)(eol - p);
        int continuation = n > 0 && (p[0] == ' ' || p[0] == '\t');
        if (!continuation) {
            in_type = starts_with_ci(p, n, "content-type:");
            in_encoding = starts_with_ci(p, n, "content-transfer-encoding:");
        }
        for (size_t k = 0; k + 4 <= n; k++) {
            if (in_type &&
                (strncasecmp(p + k, "multipart", 9) == 0 || strncasecmp(p + k, "html", 4) == 0))
                return 0;
            if (in_encoding &&
                (strncasecmp(p + k, "base64", 6) == 0 || strncasecmp(p + k, "quoted", 6) == 0))
                return 0;
        }
        p = eol + 1;
    }
    return 1;
}

int extract_mail(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    Buf block = {0};
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *m = &files->files[i];
        const char *text = (const char *)m->data, *end = text + m->len;
        const char *body = strstr(text, "\n\n");
        if (!body || !mail_body_is_plain(text, (size_t)(body - text))) continue;
        corpus_begin_unit(c, src, member_unit_name(m->path, "package/data/", ".txt"));
        const char *p = body + 2;
        buf_clear(&block);
        while (p < end) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            if (!eol) eol = end;
            size_t n = (size_t)(eol - p);
            while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
                n--;
            /* signature, list footer or forwarded copy: nothing after it is the writer's */
            if ((n == 2 && memcmp(p, "--", 2) == 0) || (n == 3 && memcmp(p, "-- ", 3) == 0) ||
                starts_with_ci(p, n, "_____") || starts_with_ci(p, n, "-----original") ||
                starts_with_ci(p, n, "----- original") || starts_with_ci(p, n, "-----begin pgp"))
                break;
            int quoted = n > 0 && (p[0] == '>' || p[0] == '|');
            int attribution = n >= 6 && (memcmp(p + n - 6, "wrote:", 6) == 0 ||
                                         (n >= 7 && memcmp(p + n - 7, "writes:", 7) == 0));
            if (n == 0 || quoted || attribution) {
                if (block.len && mail_block_is_prose(block.data, block.len))
                    corpus_add_paragraph(c, block.data, block.len);
                buf_clear(&block);
            } else {
                if (block.len) buf_putc(&block, ' ');
                buf_append(&block, p, n);
            }
            p = eol + 1;
        }
        if (block.len && mail_block_is_prose(block.data, block.len))
            corpus_add_paragraph(c, block.data, block.len);
        buf_clear(&block);
        corpus_end_unit(c);
    }
    buf_free(&block);
    return 0;
}

int extract_fortune(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *m = &files->files[i];
        corpus_begin_unit(c, src, member_unit_name(m->path, "usr/share/games/fortunes/", NULL));
        const char *text = (const char *)m->data, *end = text + m->len, *start = text;
        const char *p = text;
        while (p <= end) {
            const char *eol = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
            if (!eol) eol = end;
            int separator = eol - p == 1 && p[0] == '%';
            if (separator || eol == end) {
                emit_wrapped_text(c, start, (size_t)((separator ? p : eol) - start));
                start = eol + 1;
            }
            p = eol + 1;
        }
        corpus_end_unit(c);
    }
    return 0;
}
