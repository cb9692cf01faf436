/* data/extract.c: dispatch from a manifest method to its extractor, and the helpers several
 * extractors share (block unwrapping, unit names). */
#include "data/extract.h"

#include <stdio.h>
#include <string.h>

int extract_source(Corpus *c, int source_index, const Source *s, const MemberList *files, char *err,
                   int errlen)
{
    static const struct {
        const char *method;
        int (*run)(Corpus *, int, const MemberList *, char *, int);
    } methods[] = {
        {"gutenberg", extract_gutenberg},
        {"sotu", extract_sotu},
        {"brown", extract_brown},
        {"mail", extract_mail},
        {"fortune", extract_fortune},
        {"sword", extract_sword},
        {"dictd", extract_dictd},
        {"webster", extract_webster},
        {"wordnet", extract_wordnet},
        {"rst", extract_rst},
        {"pod", extract_pod},
        {"html", extract_html},
        {"man", extract_man},
    };
    if (files->count == 0) {
        snprintf(err, errlen, "%s (%s): no archive member matches the include globs '%s'", s->id,
                 s->file, s->include);
        return -1;
    }
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(methods[i].method, s->method) != 0) continue;
        int rc = methods[i].run(c, source_index, files, err, errlen);
        corpus_end_unit(c);
        return rc;
    }
    snprintf(err, errlen, "%s: unknown extraction method %s", s->id, s->method);
    return -1;
}

const char *member_unit_name(const char *path, const char *strip_prefix, const char *strip_ext)
{
    static char name[512];
    const char *p = path;
    size_t prefix = strip_prefix ? strlen(strip_prefix) : 0;
    if (prefix && strncmp(p, strip_prefix, prefix) == 0) p += prefix;
    snprintf(name, sizeof name, "%s", p);
    size_t n = strlen(name), e = strip_ext ? strlen(strip_ext) : 0;
    if (e && n > e && strcmp(name + n - e, strip_ext) == 0) name[n - e] = '\0';
    return name;
}

/* Trimmed length of a line (without trailing spaces). */
static size_t trimmed_length(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    size_t lead = 0;
    while (lead < n && (s[lead] == ' ' || s[lead] == '\t'))
        lead++;
    return n - lead;
}

static void emit_block(Corpus *c, const char **lines, const size_t *lens, size_t n)
{
    if (n == 0) return;
    size_t long_lines = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (trimmed_length(lines[i], lens[i]) >= 50) long_lines++;
    int is_prose = n == 1 || long_lines * 2 >= n - 1;
    if (!is_prose) {
        for (size_t i = 0; i < n; i++)
            corpus_add_paragraph(c, lines[i], lens[i]);
        return;
    }
    Buf joined = {0};
    for (size_t i = 0; i < n; i++) {
        if (i) buf_putc(&joined, ' ');
        buf_append(&joined, lines[i], lens[i]);
    }
    corpus_add_paragraph(c, joined.data, joined.len);
    buf_free(&joined);
}

void emit_wrapped_text(Corpus *c, const char *text, size_t len)
{
    enum { MAX_BLOCK_LINES = 4096 };
    static const char *lines[MAX_BLOCK_LINES];
    static size_t lens[MAX_BLOCK_LINES];
    size_t n = 0, i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '\n')
            end++;
        if (trimmed_length(text + i, end - i) == 0) {
            emit_block(c, lines, lens, n);
            n = 0;
        } else {
            if (n == MAX_BLOCK_LINES) {
                emit_block(c, lines, lens, n);
                n = 0;
            }
            lines[n] = text + i;
            lens[n] = end - i;
            n++;
        }
        i = end + 1;
    }
    emit_block(c, lines, lens, n);
}
