/* data/extract_man.c: man pages (gzip'ed roff) reduced to prose: macros give breaks and fonts,
 * no-fill blocks, tables and the NAME/SYNOPSIS/SEE ALSO sections are dropped. */
#include "data/extract.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    const char *text;
} special_characters[] = {
    {"em", "\xe2\x80\x94"},
    {"en", "\xe2\x80\x93"},
    {"aq", "'"},
    {"dq", "\""},
    {"lq", "\xe2\x80\x9c"},
    {"rq", "\xe2\x80\x9d"},
    {"oq", "\xe2\x80\x98"},
    {"cq", "\xe2\x80\x99"},
    {"bu", "\xe2\x80\xa2"},
    {"co", "\xc2\xa9"},
    {"mu", "\xc3\x97"},
    {"ti", "~"},
    {"ha", "^"},
    {"rs", "\\"},
    {"at", "@"},
    {"hy", "-"},
    {"ga", "`"},
    {"aa", "\xc2\xb4"},
    {"de", "\xc2\xb0"},
    {"+-", "\xc2\xb1"},
    {"<=", "\xe2\x89\xa4"},
    {">=", "\xe2\x89\xa5"},
    {"->", "\xe2\x86\x92"},
};

static void put_special(const char *name, size_t n, Buf *out)
{
    for (size_t i = 0; i < sizeof special_characters / sizeof special_characters[0]; i++)
        if (strlen(special_characters[i].name) == n &&
            strncmp(special_characters[i].name, name, n) == 0) {
            buf_puts(out, special_characters[i].text);
            return;
        }
}

/* Length of an escape's name after the escape letter: "(xx", "[name]" or one character. */
static size_t escape_name(const char *s, size_t n, const char **name, size_t *name_len)
{
    if (n >= 3 && s[0] == '(') {
        *name = s + 1;
        *name_len = 2;
        return 3;
    }
    if (n >= 1 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close) {
            *name = s + 1;
            *name_len = (size_t)(close - s - 1);
            return (size_t)(close - s) + 1;
        }
    }
    *name = s;
    *name_len = n ? 1 : 0;
    return n ? 1 : 0;
}

/* Renders roff text (escapes) into out. */
static void roff_render(const char *s, size_t n, Buf *out)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] != '\\' || i + 1 >= n) {
            buf_putc(out, s[i++]);
            continue;
        }
        char e = s[i + 1];
        i += 2;
        const char *name;
        size_t name_len, used;
        switch (e) {
        case '"': return; /* comment to end of line */
        case 'f':
        case '*':
        case 'n':
            used = escape_name(s + i, n - i, &name, &name_len);
            if (e == '*') put_special(name, name_len, out); /* \*(lq and friends */
            i += used;
            break;
        case '(':
        case '[':
            i -= 1;
            used = escape_name(s + i, n - i, &name, &name_len);
            put_special(name, name_len, out);
            i += used;
            break;
        case 's': /* size change: \s0 \s+1 \s-1 \s[..] */
            if (i < n && (s[i] == '+' || s[i] == '-')) i++;
            if (i < n && s[i] == '[') {
                const char *close = memchr(s + i, ']', n - i);
                i = close ? (size_t)(close - s) + 1 : n;
            } else {
                while (i < n && isdigit((unsigned char)s[i]))
                    i++;
            }
            break;
        case '-': buf_putc(out, '-'); break;
        case 'e':
        case '\\': buf_putc(out, '\\'); break;
        case '~':
        case ' ':
        case '0': buf_putc(out, ' '); break;
        case '&':
        case '|':
        case '^':
        case 'c':
        case '%':
        case ':':
        case ')': break;
        default: buf_putc(out, e); break;
        }
    }
}

/* Splits macro arguments (double quotes group words, "" inside quotes is a quote). */
static int macro_arguments(const char *s, size_t n, Buf *args, size_t *starts, int max)
{
    int count = 0;
    size_t i = 0;
    buf_clear(args);
    while (i < n && count < max) {
        while (i < n && s[i] == ' ')
            i++;
        if (i >= n) break;
        starts[count++] = args->len;
        if (s[i] == '"') {
            i++;
            while (i < n) {
                if (s[i] == '"' && i + 1 < n && s[i + 1] == '"') {
                    buf_putc(args, '"');
                    i += 2;
                } else if (s[i] == '"') {
                    i++;
                    break;
                } else
                    buf_putc(args, s[i++]);
            }
        } else {
            while (i < n && s[i] != ' ')
                buf_putc(args, s[i++]);
        }
        buf_putc(args, '\0');
    }
    return count;
}

typedef struct {
    Corpus *corpus;
    Buf paragraph, rendered, args;
    int skip_section, no_fill, in_table, tag_pending;
} ManReader;

static void man_flush(ManReader *r)
{
    if (r->paragraph.len) {
        buf_clear(&r->rendered);
        roff_render(r->paragraph.data, r->paragraph.len, &r->rendered);
        char *copy = malloc(r->rendered.len + 1);
        if (!copy) exit(1);
        memcpy(copy, r->rendered.data ? r->rendered.data : "", r->rendered.len);
        size_t n = text_normalize_paragraph(copy, r->rendered.len);
        if (text_is_prose(copy, n)) corpus_add_paragraph(r->corpus, copy, n);
        free(copy);
    }
    buf_clear(&r->paragraph);
}

static void man_text(ManReader *r, const char *s, size_t n)
{
    if (r->skip_section || r->no_fill || r->in_table) return;
    if (r->paragraph.len) buf_putc(&r->paragraph, ' ');
    buf_append(&r->paragraph, s, n);
    if (r->tag_pending) { /* the tag line of .TP is a label, not part of the prose */
        buf_clear(&r->paragraph);
        r->tag_pending = 0;
    }
}

static int macro_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncmp(name, want, n) == 0;
}

static void man_macro(ManReader *r, const char *s, size_t n)
{
    size_t i = 1;
    while (i < n && s[i] == ' ')
        i++;
    const char *name = s + i;
    while (i < n && s[i] != ' ')
        i++;
    size_t name_len = (size_t)(s + i - name);
    if (name_len >= 2 && name[0] == '\\' && name[1] == '"') return; /* comment */
    const char *rest = s + i;
    size_t rest_len = n - i;
    size_t starts[16];
    if (macro_is(name, name_len, "SH") || macro_is(name, name_len, "SS")) {
        man_flush(r);
        if (macro_is(name, name_len, "SH")) {
            int k = macro_arguments(rest, rest_len, &r->args, starts, 16);
            char heading[64] = "";
            for (int a = 0; a < k; a++) {
                size_t used = strlen(heading);
                snprintf(heading + used, sizeof heading - used, "%s%s", a ? " " : "",
                         r->args.data + starts[a]);
            }
            r->skip_section = !strcmp(heading, "NAME") || !strcmp(heading, "SYNOPSIS") ||
                              !strcmp(heading, "SEE ALSO") || !strcmp(heading, "COLOPHON");
        }
    } else if (macro_is(name, name_len, "nf") || macro_is(name, name_len, "EX")) {
        man_flush(r);
        r->no_fill = 1;
    } else if (macro_is(name, name_len, "fi") || macro_is(name, name_len, "EE")) {
        r->no_fill = 0;
    } else if (macro_is(name, name_len, "TS")) {
        man_flush(r);
        r->in_table = 1;
    } else if (macro_is(name, name_len, "TE")) {
        r->in_table = 0;
    } else if (macro_is(name, name_len, "B") || macro_is(name, name_len, "I") ||
               macro_is(name, name_len, "SM") || macro_is(name, name_len, "SB")) {
        int k = macro_arguments(rest, rest_len, &r->args, starts, 16);
        Buf words = {0};
        for (int a = 0; a < k; a++) {
            if (a) buf_putc(&words, ' ');
            buf_puts(&words, r->args.data + starts[a]);
        }
        if (words.len) man_text(r, words.data, words.len);
        buf_free(&words);
    } else if (name_len == 2 && strchr("BIR", name[0]) && strchr("BIR", name[1])) {
        /* alternating fonts (.BR open ()): the arguments run together */
        int k = macro_arguments(rest, rest_len, &r->args, starts, 16);
        Buf words = {0};
        for (int a = 0; a < k; a++)
            buf_puts(&words, r->args.data + starts[a]);
        if (words.len) man_text(r, words.data, words.len);
        buf_free(&words);
    } else if (macro_is(name, name_len, "TP")) {
        man_flush(r);
        r->tag_pending = 1;
    } else if (macro_is(name, name_len, "PP") || macro_is(name, name_len, "P") ||
               macro_is(name, name_len, "LP") || macro_is(name, name_len, "IP") ||
               macro_is(name, name_len, "HP") || macro_is(name, name_len, "sp") ||
               macro_is(name, name_len, "br") || macro_is(name, name_len, "RS") ||
               macro_is(name, name_len, "RE") || macro_is(name, name_len, "in") ||
               macro_is(name, name_len, "TQ") || macro_is(name, name_len, "ti")) {
        man_flush(r);
    }
    /* everything else (.TH, .ad, .hy, .ne, .UR ...) carries no prose */
}

static void man_page(ManReader *r, const char *text, size_t len)
{
    Buf line = {0};
    const char *p = text, *end = text + len;
    while (p < end) {
        buf_clear(&line);
        /* a line ending in a single backslash continues on the next */
        for (;;) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            if (!eol) eol = end;
            size_t n = (size_t)(eol - p);
            int continued = n > 0 && p[n - 1] == '\\' && (n < 2 || p[n - 2] != '\\');
            buf_append(&line, p, continued ? n - 1 : n);
            p = eol < end ? eol + 1 : end;
            if (!continued || p >= end) break;
        }
        if (line.len == 0) {
            if (!r->no_fill) man_flush(r);
            continue;
        }
        if (line.data[0] == '.' || line.data[0] == '\'')
            man_macro(r, line.data, line.len);
        else
            man_text(r, line.data, line.len);
    }
    man_flush(r);
    buf_free(&line);
}

int extract_man(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    ManReader r = {c, {0}, {0}, {0}, 0, 0, 0, 0};
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *m = &files->files[i];
        size_t len;
        unsigned char *page = gunzip_buffer(m->data, m->len, &len, m->path, err, errlen);
        if (!page) return -1;
        if (len >= 4 && memcmp(page, ".so ", 4) == 0) { /* a link to another page */
            free(page);
            continue;
        }
        corpus_begin_unit(c, src, member_unit_name(m->path, "usr/share/man/", ".gz"));
        r.skip_section = r.no_fill = r.in_table = r.tag_pending = 0;
        man_page(&r, (const char *)page, len);
        corpus_end_unit(c);
        free(page);
    }
    buf_free(&r.paragraph);
    buf_free(&r.rendered);
    buf_free(&r.args);
    return 0;
}
