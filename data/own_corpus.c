/* data/own_corpus.c: reading a folder of text or JSONL files into the corpus (see
 * data/own_corpus.h). Files are visited in sorted order, so the corpus does not depend on the
 * order the file system lists them in. */
#include "data/own_corpus.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void own_corpus_source(const char *path, Domain domain, Source *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "own");
    out->domain = domain;
    snprintf(out->package, sizeof out->package, "%.127s", path);
    snprintf(out->version, sizeof out->version, "-");
    snprintf(out->licence, sizeof out->licence, "the researcher's");
    snprintf(out->method, sizeof out->method, "own");
}

static int has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    return n > k && strcmp(name + n - k, suffix) == 0;
}

/* Feeds text as paragraphs separated by blank lines (single newlines inside a paragraph become
 * spaces, as in the extractors). */
static void feed_paragraphs(Corpus *c, const char *text, size_t len)
{
    Buf paragraph = {0};
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '\n') end++;
        size_t line_len = end - i;
        int blank = 1;
        for (size_t k = i; k < end; k++)
            if (text[k] != ' ' && text[k] != '\t' && text[k] != '\r') blank = 0;
        if (blank) {
            if (paragraph.len) corpus_add_paragraph(c, paragraph.data, paragraph.len);
            paragraph.len = 0;
        } else {
            if (paragraph.len) buf_append(&paragraph, " ", 1);
            buf_append(&paragraph, text + i, line_len);
        }
        i = end + 1;
    }
    if (paragraph.len) corpus_add_paragraph(c, paragraph.data, paragraph.len);
    buf_free(&paragraph);
}

static char *read_whole(const char *path, size_t *len, char *err, int errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, got;
    char *data = malloc(cap + 1);
    while (data && (got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *grown = realloc(data, 2 * cap + 1);
            if (!grown) { free(data); data = NULL; break; }
            data = grown;
            cap *= 2;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (!data || failed) {
        free(data);
        snprintf(err, errlen, "%s: cannot read", path);
        return NULL;
    }
    data[n] = '\0';
    *len = n;
    return data;
}

static int read_text_file(Corpus *c, int source, const char *path, const char *unit, char *err, int errlen)
{
    size_t len;
    char *data = read_whole(path, &len, err, errlen);
    if (!data) return -1;
    if (memchr(data, '\0', len)) {
        snprintf(err, errlen, "%s: holds NUL bytes: not a text file", path);
        free(data);
        return -1;
    }
    corpus_begin_unit(c, source, unit);
    feed_paragraphs(c, data, len);
    corpus_end_unit(c);
    free(data);
    return 0;
}

static int read_jsonl_file(Corpus *c, int source, const char *path, const char *unit, char *err, int errlen)
{
    size_t len;
    char *data = read_whole(path, &len, err, errlen);
    if (!data) return -1;
    long line_no = 0;
    int rc = 0;
    for (char *line = data; rc == 0 && line < data + len;) {
        char *end = memchr(line, '\n', (size_t)(data + len - line));
        if (!end) end = data + len;
        *end = '\0';
        line_no++;
        char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r') p++;
        if (*p) {
            json_tokener *tok = json_tokener_new();
            json_object *o = tok ? json_tokener_parse_ex(tok, line, (int)(end - line)) : NULL;
            int ok = tok && json_tokener_get_error(tok) == json_tokener_success && o &&
                     json_object_is_type(o, json_type_object);
            if (tok) json_tokener_free(tok);
            json_object *text = NULL;
            if (!ok) {
                snprintf(err, errlen, "%s:%ld: not a JSON object", path, line_no);
                rc = -1;
            } else if (!json_object_object_get_ex(o, "text", &text) || !json_object_is_type(text, json_type_string)) {
                snprintf(err, errlen, "%s:%ld: text: missing or not a string", path, line_no);
                rc = -1;
            } else {
                char name[600];
                snprintf(name, sizeof name, "%.500s:%ld", unit, line_no);
                corpus_begin_unit(c, source, name);
                feed_paragraphs(c, json_object_get_string(text), (size_t)json_object_get_string_len(text));
                corpus_end_unit(c);
            }
            json_object_put(o);
        }
        line = end + 1;
    }
    free(data);
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* unit: the path relative to the root given (names the documents). */
static int walk(Corpus *c, int source, const char *path, const char *unit, int depth, int *n_files, char *err,
                int errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode)) {
        if (has_suffix(path, ".jsonl")) {
            (*n_files)++;
            return read_jsonl_file(c, source, path, unit, err, errlen);
        }
        if (has_suffix(path, ".txt") || has_suffix(path, ".md") || has_suffix(path, ".text")) {
            (*n_files)++;
            return read_text_file(c, source, path, unit, err, errlen);
        }
        return depth == 0 ? (snprintf(err, errlen, "%s: neither .txt, .md, .text nor .jsonl", path), -1) : 0;
    }
    if (!S_ISDIR(st.st_mode) || depth > 16) return 0;
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "%s: cannot list: %s", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ., .., hidden files */
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) break;
            names = grown;
        }
        names[n] = strdup(e->d_name);
        if (names[n]) n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char child[2048], child_unit[1024];
        snprintf(child, sizeof child, "%.1000s/%.1000s", path, names[i]);
        snprintf(child_unit, sizeof child_unit, "%s%s%.500s", unit, unit[0] ? "/" : "", names[i]);
        if (rc == 0) rc = walk(c, source, child, child_unit, depth + 1, n_files, err, errlen);
        free(names[i]);
    }
    free(names);
    return rc;
}

int own_corpus_read(Corpus *c, int source, const char *path, int *n_files, char *err, int errlen)
{
    *n_files = 0;
    const char *base = strrchr(path, '/');
    char unit[512];
    snprintf(unit, sizeof unit, "%s", base && base[1] ? base + 1 : path);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) unit[0] = '\0';
    if (walk(c, source, path, unit, 0, n_files, err, errlen)) return -1;
    if (*n_files == 0) {
        snprintf(err, errlen, "%s: no .txt, .md, .text or .jsonl file", path);
        return -1;
    }
    return 0;
}
