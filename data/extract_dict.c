/* data/extract_dict.c: dictionary extractors: dictd databases (.index + dictzip), Webster 1913
 * JSON and WordNet 3.0 data files, each entry a paragraph "headword: definition". */
#include "data/extract.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Long dictd entries (FOLDOC) keep their later paragraphs after the first. */

/* dictd writes offsets and lengths as big-endian base-64 numbers in this alphabet. */
static int dictd_number(const char *s, size_t n, uint64_t *value)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint64_t v = 0;
    if (n == 0 || n > 10) return -1;
    for (size_t i = 0; i < n; i++) {
        const char *at = memchr(alphabet, s[i], 64);
        if (!at || !s[i]) return -1;
        v = v * 64 + (uint64_t)(at - alphabet);
    }
    *value = v;
    return 0;
}

/* Unit names group entries by initial so documents are runs of neighbouring entries. */
static void initial_unit(char *out, size_t cap, const char *dict, const char *headword)
{
    char initial = (char)tolower((unsigned char)headword[0]);
    if (!isalpha((unsigned char)initial)) initial = '0';
    snprintf(out, cap, "%s-%c", dict, initial);
}

static int is_date_line(const char *s, size_t n)
{
    return n == 12 && s[0] == '(' && s[11] == ')' && s[5] == '-' && s[8] == '-';
}

static void emit_dictd_entry(Corpus *c, const char *headword, const char *text, size_t len)
{
    /* the first line repeats the headword: alone ("jello"), or followed by the start of the
     * definition ("EVANGELIST, n.  A bearer of ..."), where the rest of the line is kept */
    const char *p = text, *end = text + len;
    const char *eol = memchr(p, '\n', len);
    size_t hw = strlen(headword);
    Buf block = {0};
    if (eol && (size_t)(eol - p) >= hw && strncasecmp(p, headword, hw) == 0) {
        const char *rest = p + hw;
        while (rest < eol &&
               (*rest == ',' || *rest == ';' || *rest == ':' || isspace((unsigned char)*rest)))
            rest++;
        if (rest < eol) buf_append(&block, rest, (size_t)(eol - rest));
        p = eol + 1;
    }
    int first = 1;
    while (p <= end) {
        eol = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        if (!eol) eol = end;
        const char *s = p;
        size_t n = (size_t)(eol - p);
        while (n > 0 && isspace((unsigned char)*s)) {
            s++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)s[n - 1]))
            n--;
        if (n == 0 || eol == end) {
            if (n > 0 && !is_date_line(s, n)) {
                if (block.len) buf_putc(&block, ' ');
                buf_append(&block, s, n);
            }
            if (block.len && first && block.len < 30 && eol != end) {
                /* a lone part of speech or pronunciation ("n.", "/zip'r-hed/"): keep it with
                 * the definition that follows */
                buf_putc(&block, ' ');
            } else if (block.len) {
                Buf para = {0};
                if (first) {
                    buf_puts(&para, headword);
                    buf_puts(&para, ": ");
                }
                for (size_t k = 0; k < block.len; k++)
                    if (block.data[k] != '{' && block.data[k] != '}')
                        buf_putc(&para, block.data[k]);
                corpus_add_paragraph(c, para.data, para.len);
                buf_free(&para);
                first = 0;
                buf_clear(&block);
            }
        } else if (!is_date_line(s, n)) {
            if (block.len) buf_putc(&block, ' ');
            buf_append(&block, s, n);
        }
        if (eol == end) break;
        p = eol + 1;
    }
    buf_free(&block);
}

int extract_dictd(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    int dictionaries = 0;
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *index = &files->files[i];
        size_t n = strlen(index->path);
        if (n < 6 || strcmp(index->path + n - 6, ".index") != 0) continue;
        char dict_path[600];
        snprintf(dict_path, sizeof dict_path, "%.*s.dict.dz", (int)(n - 6), index->path);
        const MemberFile *dz = NULL;
        for (size_t k = 0; k < files->count; k++)
            if (strcmp(files->files[k].path, dict_path) == 0) dz = &files->files[k];
        if (!dz) {
            snprintf(err, errlen, "%s: no matching %s", index->path, dict_path);
            return -1;
        }
        size_t dict_len;
        unsigned char *dict = gunzip_buffer(dz->data, dz->len, &dict_len, dz->path, err, errlen);
        if (!dict) return -1;
        char name[128];
        snprintf(name, sizeof name, "%s",
                 member_unit_name(index->path, "usr/share/dictd/", ".index"));
        char unit[160] = "", previous_unit[160] = "";
        const char *p = (const char *)index->data, *end = p + index->len;
        int line_no = 0;
        while (p < end) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            if (!eol) eol = end;
            line_no++;
            const char *tab1 = memchr(p, '\t', (size_t)(eol - p));
            const char *tab2 = tab1 ? memchr(tab1 + 1, '\t', (size_t)(eol - tab1 - 1)) : NULL;
            uint64_t offset, length;
            if (!tab1 || !tab2 || dictd_number(tab1 + 1, (size_t)(tab2 - tab1 - 1), &offset) ||
                dictd_number(tab2 + 1, (size_t)(eol - tab2 - 1), &length) ||
                offset + length > dict_len) {
                snprintf(err, errlen, "%s: line %d: malformed entry (headword, offset, length)",
                         index->path, line_no);
                free(dict);
                return -1;
            }
            char headword[256];
            snprintf(headword, sizeof headword, "%.*s", (int)(tab1 - p), p);
            if (strncmp(headword, "00-database", 11) != 0 &&
                strncmp(headword, "00database", 9) != 0 && headword[0]) {
                initial_unit(unit, sizeof unit, name, headword);
                if (strcmp(unit, previous_unit) != 0) {
                    corpus_begin_unit(c, src, unit);
                    snprintf(previous_unit, sizeof previous_unit, "%s", unit);
                }
                emit_dictd_entry(c, headword, (const char *)dict + offset, (size_t)length);
            }
            p = eol + 1;
        }
        corpus_end_unit(c);
        free(dict);
        dictionaries++;
    }
    if (dictionaries == 0) {
        snprintf(err, errlen, "no dictd .index among the package's files");
        return -1;
    }
    return 0;
}

typedef struct {
    const char *word;
    json_object *definition;
} WebsterEntry;

static int compare_webster(const void *a, const void *b)
{
    return strcmp(((const WebsterEntry *)a)->word, ((const WebsterEntry *)b)->word);
}

int extract_webster(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    const MemberFile *m = &files->files[0];
    json_tokener *tok = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tok, (const char *)m->data, (int)m->len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success || !json_object_is_type(root, json_type_object)) {
        snprintf(err, errlen, "%s: not a JSON object of word -> definition (%s)", m->path,
                 json_tokener_error_desc(jerr));
        json_object_put(root);
        return -1;
    }
    /* the JSON object's key order is arbitrary: sort the entries so documents are runs of
     * alphabetically neighbouring words */
    size_t n = (size_t)json_object_object_length(root), count = 0;
    WebsterEntry *entries = malloc((n ? n : 1) * sizeof *entries);
    if (!entries) {
        snprintf(err, errlen, "%s: out of memory", m->path);
        json_object_put(root);
        return -1;
    }
    json_object_object_foreach(root, word, definition)
    {
        if (!json_object_is_type(definition, json_type_string) || !word[0]) continue;
        entries[count].word = word;
        entries[count].definition = definition;
        count++;
    }
    qsort(entries, count, sizeof *entries, compare_webster);
    char unit[64] = "", previous_unit[64] = "";
    Buf para = {0};
    for (size_t i = 0; i < count; i++) {
        initial_unit(unit, sizeof unit, "webster", entries[i].word);
        if (strcmp(unit, previous_unit) != 0) {
            corpus_begin_unit(c, src, unit);
            snprintf(previous_unit, sizeof previous_unit, "%s", unit);
        }
        buf_clear(&para);
        buf_puts(&para, entries[i].word);
        buf_puts(&para, ": ");
        buf_append(&para, json_object_get_string(entries[i].definition),
                   (size_t)json_object_get_string_len(entries[i].definition));
        corpus_add_paragraph(c, para.data, para.len);
    }
    free(entries);
    corpus_end_unit(c);
    buf_free(&para);
    json_object_put(root);
    return 0;
}

/* One synset line of a WordNet data file: "offset lex ss_type w_cnt word lex_id ... | gloss". */
static int wordnet_synset(const char *line, size_t len, Buf *para)
{
    const char *bar = memchr(line, '|', len);
    if (!bar) return -1;
    char fields[4096];
    size_t head_len = (size_t)(bar - line);
    if (head_len >= sizeof fields) head_len = sizeof fields - 1;
    memcpy(fields, line, head_len);
    fields[head_len] = '\0';
    char *save = NULL;
    char *tok[4];
    for (int i = 0; i < 4; i++) {
        tok[i] = strtok_r(i ? NULL : fields, " ", &save);
        if (!tok[i]) return -1;
    }
    long words = strtol(tok[3], NULL, 16);
    if (words <= 0) return -1;
    buf_clear(para);
    for (long w = 0; w < words; w++) {
        char *word = strtok_r(NULL, " ", &save);
        char *lex_id = strtok_r(NULL, " ", &save);
        if (!word || !lex_id) return -1;
        char *marker = strchr(word, '('); /* adjective position markers: (a) (p) (ip) */
        if (marker) *marker = '\0';
        for (char *p = word; *p; p++)
            if (*p == '_') *p = ' ';
        if (w) buf_puts(para, ", ");
        buf_puts(para, word);
    }
    buf_puts(para, ": ");
    const char *gloss = bar + 1;
    buf_append(para, gloss, len - (size_t)(gloss - line));
    return 0;
}

int extract_wordnet(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    Buf para = {0};
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *m = &files->files[i];
        corpus_begin_unit(c, src, member_unit_name(m->path, "usr/share/wordnet/", NULL));
        const char *p = (const char *)m->data, *end = p + m->len;
        int line_no = 0;
        while (p < end) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            if (!eol) eol = end;
            line_no++;
            if (eol > p && p[0] != ' ') { /* lines starting with spaces are the licence */
                if (wordnet_synset(p, (size_t)(eol - p), &para) != 0) {
                    snprintf(err, errlen, "%s: line %d: malformed synset", m->path, line_no);
                    buf_free(&para);
                    return -1;
                }
                corpus_add_paragraph(c, para.data, para.len);
            }
            p = eol + 1;
        }
        corpus_end_unit(c);
    }
    buf_free(&para);
    return 0;
}
