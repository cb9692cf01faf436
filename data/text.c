/* data/text.c: buffer, paragraph normalization, entity decoding, the prose test and hashing
 * used across the corpus extractors. */
#include "data/text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fnv.h"

void buf_append(Buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            fprintf(stderr, "dlcm-data: out of memory growing a text buffer to %zu bytes\n", cap);
            exit(1);
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_puts(Buf *b, const char *s) { buf_append(b, s, strlen(s)); }
void buf_putc(Buf *b, char c) { buf_append(b, &c, 1); }

void buf_clear(Buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void buf_free(Buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_put_codepoint(Buf *b, uint32_t cp)
{
    char u[4];
    if (cp < 0x80) {
        u[0] = (char)cp;
        buf_append(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3f));
        buf_append(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        buf_append(b, u, 3);
    } else if (cp < 0x110000) {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        buf_append(b, u, 4);
    }
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is invalid; *cp gets the code
 * point. Overlong forms, surrogates and values above U+10FFFF are invalid. */
static int utf8_sequence(const unsigned char *s, size_t avail, uint32_t *cp)
{
    unsigned char c = s[0];
    int n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        v = c & 0x1f;
        min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        v = c & 0x0f;
        min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else
        return 0;
    if ((size_t)n > avail) return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return n;
}

size_t text_normalize_paragraph(char *s, size_t len)
{
    const unsigned char *in = (const unsigned char *)s;
    size_t out = 0, i = 0;
    int pending_space = 0;
    while (i < len) {
        uint32_t cp;
        int n = utf8_sequence(in + i, len - i, &cp);
        int is_space = n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) ||
                       cp == 0xa0 || cp == 0x2581 || cp == 0xfeff || cp == 0x2028 || cp == 0x2029 ||
                       cp == 0x200b || cp == ' ';
        if (is_space) {
            pending_space = out > 0;
            i += n ? (size_t)n : 1;
            continue;
        }
        if (pending_space) s[out++] = ' ';
        pending_space = 0;
        memmove(s + out, s + i, (size_t)n);
        out += (size_t)n;
        i += (size_t)n;
    }
    s[out] = '\0';
    return out;
}

static const struct {
    const char *name;
    uint32_t cp;
} named_entities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},      {"apos", '\''},
    {"nbsp", 0xa0},    {"mdash", 0x2014}, {"ndash", 0x2013}, {"hellip", 0x2026}, {"lsquo", 0x2018},
    {"rsquo", 0x2019}, {"ldquo", 0x201c}, {"rdquo", 0x201d}, {"copy", 0xa9},     {"reg", 0xae},
    {"trade", 0x2122}, {"para", 0xb6},    {"sect", 0xa7},    {"deg", 0xb0},      {"times", 0xd7},
};

void text_decode_entities(const char *s, size_t len, Buf *out)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] != '&') {
            size_t run = i;
            while (run < len && s[run] != '&')
                run++;
            buf_append(out, s + i, run - i);
            i = run;
            continue;
        }
        size_t end = i + 1;
        while (end < len && end - i < 12 && s[end] != ';' && s[end] != '&' && s[end] != ' ')
            end++;
        if (end >= len || s[end] != ';') {
            buf_putc(out, '&');
            i++;
            continue;
        }
        const char *name = s + i + 1;
        size_t name_len = end - i - 1;
        uint32_t cp = 0;
        int known = 0;
        if (name_len > 1 && name[0] == '#') {
            char digits[16] = {0};
            memcpy(digits, name + 1, name_len - 1 < 15 ? name_len - 1 : 15);
            char *stop;
            if (digits[0] == 'x' || digits[0] == 'X')
                cp = (uint32_t)strtoul(digits + 1, &stop, 16);
            else
                cp = (uint32_t)strtoul(digits, &stop, 10);
            known = *stop == '\0' && cp > 0 && cp < 0x110000;
        } else {
            for (size_t k = 0; k < sizeof named_entities / sizeof named_entities[0]; k++) {
                if (strlen(named_entities[k].name) == name_len &&
                    memcmp(named_entities[k].name, name, name_len) == 0) {
                    cp = named_entities[k].cp;
                    known = 1;
                    break;
                }
            }
        }
        if (known) {
            buf_put_codepoint(out, cp);
            i = end + 1;
        } else {
            buf_append(out, s + i, end + 1 - i);
            i = end + 1;
        }
    }
    if (!out->data) buf_append(out, "", 0);
}

size_t text_count_words(const char *s, size_t len)
{
    size_t words = 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        int space = s[i] == ' ' || s[i] == '\n' || s[i] == '\t';
        if (!space && !in_word) words++;
        in_word = !space;
    }
    return words;
}

/* A word looks like code when it carries programming punctuation, a dotted or underscored
 * identifier, or an inner capital (camelCase). */
static int looks_like_code(const char *w, size_t n)
{
    int inner_upper = 0, has_lower = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (strchr("{}[]<>=;_$\\|#@`~^*", c)) return 1;
        if (c == '(' && i > 0) return 1; /* call syntax f(x) */
        if (c == '/' && n > 1) return 1;
        if (c == ':' && i + 1 < n && w[i + 1] == ':') return 1;
        if (c == '-' && i + 1 < n && w[i + 1] == '>') return 1;
        if (c == '.' && i + 1 < n && isalpha((unsigned char)w[i + 1]) && i > 0) return 1;
        if (islower(c)) has_lower = 1;
        if (isupper(c) && i > 0 && has_lower) inner_upper = 1;
    }
    return inner_upper;
}

int text_is_prose(const char *s, size_t len)
{
    if (len < 50 || len > TEXT_PROSE_MAX_BYTES) return 0;
    size_t letters_or_spaces = 0, chars = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xc0) == 0x80) continue; /* count code points, not bytes */
        chars++;
        if (isalpha(c) || c == ' ' || c >= 0x80) letters_or_spaces++;
    }
    if (letters_or_spaces * 100 < chars * 80) return 0;
    size_t words = 0, code_words = 0, lowercase_initial = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && s[i] != ' ')
            i++;
        if (i == start) break;
        words++;
        const char *w = s + start;
        size_t n = i - start;
        if (looks_like_code(w, n)) code_words++;
        size_t k = 0;
        while (k < n && strchr("\"'(", w[k]))
            k++;
        if (k < n && islower((unsigned char)w[k])) lowercase_initial++;
    }
    if (words < 8) return 0;
    if (code_words * 10 > words) return 0;
    if (lowercase_initial * 2 < words) return 0;
    size_t end = len;
    while (end > 0 && strchr("\"')]", s[end - 1]))
        end--;
    if (end == 0) return 0;
    char last = s[end - 1];
    return last == '.' || last == '!' || last == '?';
}

uint64_t text_hash64(const char *s, size_t len)
{
    uint64_t h = fnv1a64(s, len, FNV1A64_INIT);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}
