/* data/extract_docs.c: technical documentation reduced to prose: reST, Perl POD and HTML
 * (libxml2); code, directives, tables and navigation dropped, the rest passes the prose test. */
#include "data/extract.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_if_prose(Corpus *c, const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    if (!copy) {
        fprintf(stderr, "dlcm-data: out of memory\n");
        exit(1);
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    size_t len = text_normalize_paragraph(copy, n);
    if (text_is_prose(copy, len)) corpus_add_paragraph(c, copy, len);
    free(copy);
}

/* ---- reStructuredText ------------------------------------------------------------------ */

/* Inline markup to plain text: roles (:func:`x`), literals (``x``), references (`t <u>`_),
 * emphasis asterisks and reference underscores. */
static void rst_inline(const char *s, size_t n, Buf *out)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] == ':' && i + 1 < n && islower((unsigned char)s[i + 1])) {
            size_t k = i + 1;
            while (k < n &&
                   (isalnum((unsigned char)s[k]) || s[k] == ':' || s[k] == '-' || s[k] == '+'))
                k++;
            if (k < n && s[k] == '`' && s[k - 1] == ':') { /* a role prefix */
                i = k;
                continue;
            }
        }
        if (s[i] == '`') {
            size_t ticks = i + 1 < n && s[i + 1] == '`' ? 2 : 1;
            size_t start = i + ticks, k = start;
            while (k < n && !(s[k] == '`' && (ticks == 1 || (k + 1 < n && s[k + 1] == '`'))))
                k++;
            if (k >= n) { /* unmatched: keep literally */
                buf_putc(out, s[i]);
                i++;
                continue;
            }
            const char *inner = s + start;
            size_t len = k - start;
            const char *angle = NULL;
            for (size_t a = 0; a + 1 < len; a++)
                if (inner[a] == ' ' && inner[a + 1] == '<') angle = inner + a;
            if (angle && inner[len - 1] == '>') len = (size_t)(angle - inner);
            while (len > 0 && (*inner == '~' || *inner == '!')) {
                inner++;
                len--;
            }
            buf_append(out, inner, len);
            i = k + ticks;
            while (i < n && s[i] == '_')
                i++;
            continue;
        }
        if (s[i] == '*') {
            i++;
            continue;
        }
        if (s[i] == '_' && i > 0 && isalnum((unsigned char)s[i - 1]) &&
            (i + 1 == n || s[i + 1] == ' ' || ispunct((unsigned char)s[i + 1]))) {
            i++;
            continue;
        }
        buf_putc(out, s[i]);
        i++;
    }
}

static int is_underline(const char *s, size_t n)
{
    if (n < 3 || !ispunct((unsigned char)s[0])) return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] != s[0]) return 0;
    return 1;
}

static size_t bullet_length(const char *s, size_t n)
{
    if (n >= 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+') && s[1] == ' ') return 2;
    size_t k = 0;
    while (k < n && (isdigit((unsigned char)s[k]) || s[k] == '#'))
        k++;
    if (k > 0 && k + 1 < n && (s[k] == '.' || s[k] == ')') && s[k + 1] == ' ') return k + 2;
    return 0;
}

typedef struct {
    Corpus *corpus;
    Buf paragraph;
    int paragraph_indent;
    int skip_indent; /* >= 0: skipping lines indented deeper than this (literal or directive) */
} RstReader;

static void rst_flush(RstReader *r)
{
    Buf *p = &r->paragraph;
    if (p->len == 0) return;
    if (p->len >= 2 && p->data[p->len - 1] == ':' && p->data[p->len - 2] == ':') {
        /* "text::" introduces a literal block: keep "text:", skip the block */
        p->len -= 1;
        if (p->len >= 2 && p->data[p->len - 2] == ' ') p->len -= 2;
        p->data[p->len] = '\0';
        r->skip_indent = r->paragraph_indent;
    }
    Buf plain = {0};
    rst_inline(p->data, p->len, &plain);
    if (plain.len) add_if_prose(r->corpus, plain.data, plain.len);
    buf_free(&plain);
    buf_clear(p);
}

static void rst_document(Corpus *c, const char *text, size_t len)
{
    RstReader r = {c, {0}, 0, -1};
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        int indent = 0;
        const char *s = p;
        while (s < eol && (*s == ' ' || *s == '\t')) {
            indent += *s == '\t' ? 8 - indent % 8 : 1;
            s++;
        }
        size_t n = (size_t)(eol - s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r'))
            n--;
        p = eol + 1;
        if (r.skip_indent >= 0) {
            if (n == 0 || indent > r.skip_indent) continue;
            r.skip_indent = -1;
        }
        if (n == 0) {
            rst_flush(&r);
            continue;
        }
        if (is_underline(s, n)) { /* a title's underline (or overline): drop the title */
            buf_clear(&r.paragraph);
            continue;
        }
        if (s[0] == '+' || s[0] == '|' ||
            (n >= 2 && s[0] == '.' && s[1] == '.' && (n == 2 || s[2] == ' '))) {
            if (s[0] == '.') { /* directive or comment: skip it and its indented body */
                rst_flush(&r);
                r.skip_indent = indent;
            }
            buf_clear(&r.paragraph);
            continue;
        }
        size_t bullet = bullet_length(s, n);
        if (bullet) rst_flush(&r);
        if (r.paragraph.len == 0)
            r.paragraph_indent = indent;
        else
            buf_putc(&r.paragraph, ' ');
        buf_append(&r.paragraph, s + bullet, n - bullet);
    }
    rst_flush(&r);
    buf_free(&r.paragraph);
}

int extract_rst(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *m = &files->files[i];
        const char *at = strstr(m->path, "_sources/");
        corpus_begin_unit(c, src, member_unit_name(at ? at + 9 : m->path, NULL, ".rst.txt"));
        rst_document(c, (const char *)m->data, m->len);
        corpus_end_unit(c);
    }
    return 0;
}

/* ---- POD ------------------------------------------------------------------------------- */

/* Renders POD formatting codes (B<x>, C<< x >>, L<text|target>, E<gt>, X<index>, ...). */
static void pod_render(const char *s, size_t n, Buf *out)
{
    size_t i = 0;
    while (i < n) {
        if (i + 1 < n && isupper((unsigned char)s[i]) && s[i + 1] == '<') {
            char code = s[i];
            size_t open = 0, k = i + 1;
            while (k < n && s[k] == '<') {
                open++;
                k++;
            }
            size_t start = k, stop = n, resume = n;
            if (open == 1) {
                int depth = 1;
                for (; k < n; k++) {
                    if (s[k] == '<' && k > 0 && isupper((unsigned char)s[k - 1]))
                        depth++;
                    else if (s[k] == '>' && --depth == 0)
                        break;
                }
                stop = k < n ? k : n;
                resume = k < n ? k + 1 : n;
            } else { /* C<< x >>: closes at a run of as many '>' after a space */
                for (; k + open <= n; k++) {
                    size_t g = 0;
                    while (g < open && s[k + g] == '>')
                        g++;
                    if (g == open && k > start && s[k - 1] == ' ') break;
                }
                stop = k <= n ? k : n;
                resume = k + open <= n ? k + open : n;
                while (start < stop && s[start] == ' ')
                    start++;
                while (stop > start && s[stop - 1] == ' ')
                    stop--;
            }
            const char *inner = s + start;
            size_t len = stop - start;
            if (code == 'E') {
                char name[16];
                snprintf(name, sizeof name, "%.*s", (int)(len < 15 ? len : 15), inner);
                if (!strcmp(name, "lt"))
                    buf_putc(out, '<');
                else if (!strcmp(name, "gt"))
                    buf_putc(out, '>');
                else if (!strcmp(name, "verbar"))
                    buf_putc(out, '|');
                else if (!strcmp(name, "sol"))
                    buf_putc(out, '/');
                else if (!strcmp(name, "quot"))
                    buf_putc(out, '"');
                else if (!strcmp(name, "amp"))
                    buf_putc(out, '&');
                else if (isdigit((unsigned char)name[0]))
                    buf_put_codepoint(out, (uint32_t)strtoul(name, NULL, 0));
            } else if (code == 'L') {
                const char *bar = memchr(inner, '|', len);
                if (bar)
                    len = (size_t)(bar - inner);
                else { /* L<page/"section">: show the section or the page */
                    const char *slash = memchr(inner, '/', len);
                    if (slash && slash + 1 < inner + len) {
                        len -= (size_t)(slash + 1 - inner);
                        inner = slash + 1;
                    }
                }
                Buf part = {0};
                pod_render(inner, len, &part);
                for (size_t q = 0; q < part.len; q++)
                    if (part.data[q] != '"') buf_putc(out, part.data[q]);
                buf_free(&part);
            } else if (code != 'X' && code != 'Z') {
                pod_render(inner, len, out);
            }
            i = resume;
            continue;
        }
        buf_putc(out, s[i]);
        i++;
    }
}

int extract_pod(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    Buf paragraph = {0}, rendered = {0};
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *m = &files->files[i];
        const char *slash = strrchr(m->path, '/');
        corpus_begin_unit(c, src, member_unit_name(slash ? slash + 1 : m->path, NULL, ".pod"));
        const char *p = (const char *)m->data, *end = p + m->len;
        char begin_block[64] = ""; /* inside "=begin X" ... "=end X" */
        while (p < end) {
            /* one POD paragraph: lines up to a whitespace-only line */
            buf_clear(&paragraph);
            while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                if (!eol) eol = end;
                const char *q = p;
                while (q < eol && isspace((unsigned char)*q))
                    q++;
                int blank = q == eol;
                if (!blank) {
                    if (paragraph.len) buf_putc(&paragraph, '\n');
                    buf_append(&paragraph, p, (size_t)(eol - p));
                }
                p = eol + 1;
                if (blank && paragraph.len) break;
            }
            if (paragraph.len == 0) continue;
            const char *s = paragraph.data;
            if (begin_block[0]) {
                if (strncmp(s, "=end", 4) == 0) begin_block[0] = '\0';
                continue;
            }
            if (s[0] == '=') {
                if (strncmp(s, "=begin", 6) == 0) snprintf(begin_block, sizeof begin_block, "x");
                continue;
            }
            if (s[0] == ' ' || s[0] == '\t') continue; /* verbatim: code */
            buf_clear(&rendered);
            pod_render(s, paragraph.len, &rendered);
            for (size_t k = 0; k < rendered.len; k++)
                if (rendered.data[k] == '\n') rendered.data[k] = ' ';
            if (rendered.len) add_if_prose(c, rendered.data, rendered.len);
        }
        corpus_end_unit(c);
    }
    buf_free(&paragraph);
    buf_free(&rendered);
    return 0;
}

/* ---- HTML ------------------------------------------------------------------------------ */

static int name_in(const xmlChar *name, const char *const *names)
{
    for (; *names; names++)
        if (xmlStrcasecmp(name, (const xmlChar *)*names) == 0) return 1;
    return 0;
}

static const char *const skipped_elements[] = {
    "script", "style",    "pre", "nav",    "head",   "table",    "form", "header",
    "footer", "noscript", "svg", "button", "select", "textarea", "h1",   "h2",
    "h3",     "h4",       "h5",  "h6",     "title",  NULL};

static void gather_text(xmlNode *node, Buf *out)
{
    for (xmlNode *n = node->children; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content) buf_puts(out, (const char *)n->content);
        } else if (n->type == XML_ELEMENT_NODE) {
            if (name_in(n->name, skipped_elements)) continue;
            if (xmlStrcasecmp(n->name, (const xmlChar *)"br") == 0) buf_putc(out, ' ');
            gather_text(n, out);
        }
    }
}

/* Elements that flow inside a paragraph; anything else (including HTML5 elements the HTML4
 * parser does not know, such as rustdoc's <details>) makes its parent a container. */
static const char *const inline_elements[] = {
    "a",      "abbr", "acronym", "b",    "big",  "br", "cite", "code", "dfn",   "em",
    "font",   "i",    "img",     "kbd",  "mark", "q",  "s",    "samp", "small", "span",
    "strong", "sub",  "sup",     "time", "tt",   "u",  "var",  "wbr",  NULL};

static int only_inline_content(xmlNode *node)
{
    for (xmlNode *n = node->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE &&
            (!name_in(n->name, inline_elements) || !only_inline_content(n)))
            return 0;
    return 1;
}

static void html_walk(Corpus *c, xmlNode *node, Buf *scratch)
{
    for (xmlNode *n = node; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (name_in(n->name, skipped_elements)) continue;
        /* <p>, and list items, definitions and divs that hold only inline content (DocBook
         * output such as the Debian handbook writes paragraphs as <div class="para">) */
        int paragraph_like = xmlStrcasecmp(n->name, (const xmlChar *)"p") == 0 ||
                             ((xmlStrcasecmp(n->name, (const xmlChar *)"li") == 0 ||
                               xmlStrcasecmp(n->name, (const xmlChar *)"dd") == 0 ||
                               xmlStrcasecmp(n->name, (const xmlChar *)"div") == 0) &&
                              only_inline_content(n));
        if (paragraph_like) {
            buf_clear(scratch);
            gather_text(n, scratch);
            if (scratch->len) add_if_prose(c, scratch->data, scratch->len);
            continue;
        }
        html_walk(c, n->children, scratch);
    }
}

int extract_html(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    Buf scratch = {0};
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *m = &files->files[i];
        htmlDocPtr doc = htmlReadMemory((const char *)m->data, (int)m->len, m->path, "UTF-8",
                                        HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
                                            HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
        if (!doc) continue; /* an unparseable page contributes nothing; others go on */
        const char *at = strstr(m->path, "/html/");
        corpus_begin_unit(c, src, member_unit_name(at ? at + 6 : m->path, NULL, ".html"));
        html_walk(c, xmlDocGetRootElement(doc), &scratch);
        corpus_end_unit(c);
        xmlFreeDoc(doc);
    }
    buf_free(&scratch);
    return 0;
}
