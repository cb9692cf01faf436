/* data/tasks.c: LAMBADA-style cloze and 4-way next sentence from narrative validation windows,
 * 4-way word -> definition from validation dictionary entries; deterministic. */
#include "data/tasks.h"
#include "util/fs.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Everything is a pure function of the corpus (no clock, no global random state), so the files
 * are identical on every build. */

#define WINDOW_MIN_WORDS 60
#define WINDOW_MAX_WORDS 220
#define MAX_SENTENCES 65536

static const char *const abbreviations[] = {
    "Mr",  "Mrs",  "Ms",  "Dr",  "St",   "Jr", "Sr",  "Mt", "vs",  "etc", "No", "Gen",
    "Col", "Capt", "Rev", "Hon", "Prof", "Lt", "Sgt", "cf", "viz", "Co",  NULL};

static int is_abbreviation(const char *s, size_t dot)
{
    size_t start = dot;
    while (start > 0 && isalpha((unsigned char)s[start - 1]))
        start--;
    size_t n = dot - start;
    if (n == 1 && isupper((unsigned char)s[start])) return 1; /* an initial: "J. Smith" */
    for (int i = 0; abbreviations[i]; i++)
        if (strlen(abbreviations[i]) == n && strncmp(s + start, abbreviations[i], n) == 0) return 1;
    return 0;
}

int split_sentences(const char *s, size_t len, size_t *starts, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len && s[i] == ' ')
        i++;
    if (i < len && n < max) starts[n++] = i;
    for (; i < len; i++) {
        if (s[i] != '.' && s[i] != '!' && s[i] != '?') continue;
        size_t k = i + 1;
        while (k < len && strchr("\"')]\xe2\x80\x9d\x99", s[k]))
            k++; /* closing quotes */
        if (k >= len || s[k] != ' ') continue;
        size_t next = k + 1;
        unsigned char c = next < len ? (unsigned char)s[next] : 0;
        int opens = isupper(c) || c == '"' || c == '\'' || c == 0xe2;
        if (!opens || (s[i] == '.' && is_abbreviation(s, i))) continue;
        if (n < max) starts[n++] = next;
        i = k;
    }
    return n;
}

/* A sentence of a document: where it is, and whether a paragraph break precedes it. */
typedef struct {
    const char *text;
    size_t len;
    int new_paragraph;
    size_t words;
} Sentence;

typedef struct {
    char *context;       /* window without its last sentence */
    char *last_sentence; /* with its leading separator (" " or "\n") */
    size_t last_len;
    char *full; /* the whole window */
    int source;
    uint64_t unit; /* hash of the document id's unit part ("A01/austen-emma") */
    char id[700];
} Window;

static char *join_sentences(const Sentence *s, int from, int to)
{
    size_t total = 1;
    for (int i = from; i < to; i++)
        total += s[i].len + 1;
    char *out = malloc(total);
    if (!out) return NULL;
    size_t at = 0;
    for (int i = from; i < to; i++) {
        if (i > from) out[at++] = s[i].new_paragraph ? '\n' : ' ';
        memcpy(out + at, s[i].text, s[i].len);
        at += s[i].len;
    }
    out[at] = '\0';
    return out;
}

/* Cuts a document into consecutive non-overlapping windows of whole sentences. */
static void document_windows(const char *doc_id, int source, const char *text, size_t len,
                             Window **windows, size_t *n, size_t *cap)
{
    static Sentence sentences[MAX_SENTENCES];
    static size_t starts[4096];
    int n_sentences = 0;
    const char *p = text, *end = text + len;
    while (p < end && n_sentences < MAX_SENTENCES) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        int k = split_sentences(p, (size_t)(eol - p), starts, 4096);
        for (int i = 0; i < k && n_sentences < MAX_SENTENCES; i++) {
            size_t stop = i + 1 < k ? starts[i + 1] : (size_t)(eol - p);
            while (stop > starts[i] && p[stop - 1] == ' ')
                stop--;
            Sentence *s = &sentences[n_sentences++];
            s->text = p + starts[i];
            s->len = stop - starts[i];
            s->new_paragraph = i == 0;
            s->words = text_count_words(s->text, s->len);
        }
        p = eol + 1;
    }
    int first = 0, index = 0;
    while (first < n_sentences) {
        size_t words = 0;
        int last = first;
        while (last < n_sentences && words < WINDOW_MIN_WORDS)
            words += sentences[last++].words;
        if (words < WINDOW_MIN_WORDS) break;
        if (words > WINDOW_MAX_WORDS || last - first < 2) {
            first++;
            continue;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 1024;
            Window *grown = realloc(*windows, *cap * sizeof *grown);
            if (!grown) return;
            *windows = grown;
        }
        Window *w = &(*windows)[(*n)++];
        w->context = join_sentences(sentences, first, last - 1);
        w->full = join_sentences(sentences, first, last);
        const Sentence *tail = &sentences[last - 1];
        w->last_sentence = malloc(tail->len + 2);
        if (w->last_sentence) {
            w->last_sentence[0] = tail->new_paragraph ? '\n' : ' ';
            memcpy(w->last_sentence + 1, tail->text, tail->len);
            w->last_sentence[tail->len + 1] = '\0';
        }
        w->last_len = tail->len;
        w->source = source;
        w->unit = text_hash64(doc_id, strcspn(doc_id, "#"));
        snprintf(w->id, sizeof w->id, "%s@%d", doc_id, index++);
        first = last;
    }
}

/* Deterministic pseudo-random number from an item id and a salt. */
static uint64_t item_hash(const char *id, uint64_t salt)
{
    return text_hash64(id, strlen(id)) ^ (salt * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull);
}

static int write_json_line(FILE *f, json_object *item)
{
    const char *s = json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = fprintf(f, "%s\n", s) < 0 ? -1 : 0;
    json_object_put(item);
    return rc;
}

/* The window's final word when it is a cloze target: letters only, >= 3 of them, and also
 * present earlier in the window (so the context can in principle predict it). */
static int cloze_target(const char *full, size_t *word_start, size_t *word_len)
{
    size_t end = strlen(full);
    while (end > 0 && !isalpha((unsigned char)full[end - 1])) {
        if (!strchr(".!?\"')]", full[end - 1])) return 0;
        end--;
    }
    size_t start = end;
    while (start > 0 && isalpha((unsigned char)full[start - 1]))
        start--;
    if (end - start < 3 || start == 0 || full[start - 1] != ' ') return 0;
    for (size_t i = 0; i + (end - start) < start; i++) {
        if ((i == 0 || !isalpha((unsigned char)full[i - 1])) &&
            strncasecmp(full + i, full + start, end - start) == 0 &&
            !isalpha((unsigned char)full[i + end - start])) {
            *word_start = start;
            *word_len = end - start;
            return 1;
        }
    }
    return 0;
}

static json_object *choices_array(char *const *choices, int n)
{
    json_object *a = json_object_new_array();
    for (int i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(choices[i]));
    return a;
}

/* Places the true choice at a position drawn from the item id; distractors fill the rest. */
static int arrange(const char *id, char *truth, char **distractors, char **out)
{
    int answer = (int)(item_hash(id, 7) % 4);
    for (int i = 0, d = 0; i < 4; i++)
        out[i] = i == answer ? truth : distractors[d++];
    return answer;
}

/* Finds the three windows (other than i, same unit or same source) whose last sentences are
 * closest in length to window i's, ties broken by a hash; returns how many were found. */
static int closest_endings(const Window *windows, size_t n, size_t i, int same_unit, size_t best[3])
{
    const Window *w = &windows[i];
    uint64_t best_score[3] = {UINT64_MAX, UINT64_MAX, UINT64_MAX};
    int found = 0;
    for (size_t j = 0; j < n; j++) {
        const Window *o = &windows[j];
        if (j == i || o->source != w->source || (same_unit && o->unit != w->unit) ||
            !o->last_sentence || strcmp(o->last_sentence + 1, w->last_sentence + 1) == 0)
            continue;
        uint64_t diff =
            o->last_len > w->last_len ? o->last_len - w->last_len : w->last_len - o->last_len;
        uint64_t score = diff << 20 | (item_hash(o->id, i) & 0xfffff);
        for (int b = 0; b < 3; b++) {
            if (score < best_score[b]) {
                for (int m = 2; m > b; m--) {
                    best_score[m] = best_score[m - 1];
                    best[m] = best[m - 1];
                }
                best_score[b] = score;
                best[b] = j;
                if (found < 3) found++;
                break;
            }
        }
    }
    return found;
}

static int narrative_tasks(const Corpus *c, const Source *sources, int n_sources, FILE *cloze,
                           FILE *next, TaskCounts *counts)
{
    Window *windows = NULL;
    size_t n = 0, cap = 0;
    for (size_t d = 0; d < c->n_docs; d++) {
        const Doc *doc = &c->docs[d];
        if (doc->split != SPLIT_VAL || doc->source >= n_sources) continue;
        const char *method = sources[doc->source].method;
        if (strcmp(method, "gutenberg") && strcmp(method, "sotu") && strcmp(method, "brown") &&
            strcmp(method, "sword") && strcmp(method, "own")) /* own: a researcher's text */
            continue;
        document_windows(doc->id, doc->source, doc->text, doc->len, &windows, &n, &cap);
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        Window *w = &windows[i];
        if (!w->context || !w->full || !w->last_sentence) continue;
        size_t ws, wl;
        if (cloze_target(w->full, &ws, &wl)) {
            json_object *item = json_object_new_object();
            char target[256];
            snprintf(target, sizeof target, " %.*s", (int)(wl < 250 ? wl : 250), w->full + ws);
            json_object_object_add(item, "id", json_object_new_string(w->id));
            json_object_object_add(item, "source",
                                   json_object_new_string(c->sources[w->source].id));
            json_object_object_add(item, "domain", json_object_new_string("literature"));
            json_object_object_add(item, "context",
                                   json_object_new_string_len(w->full, (int)ws - 1));
            json_object_object_add(item, "target", json_object_new_string(target));
            rc = write_json_line(cloze, item);
            counts->cloze++;
        }
        /* distractors: the last sentences of three other windows closest in length, from the
         * same unit (book, address, module) when it has enough windows, else the same source */
        size_t best[3];
        int found = 0;
        for (int scope = 0; scope < 2 && found < 3; scope++)
            found = closest_endings(windows, n, i, scope == 0, best);
        if (found < 3) continue;
        char *distractors[3];
        for (int b = 0; b < 3; b++) {
            /* every ending carries the true separator, so it gives nothing away */
            const char *s = windows[best[b]].last_sentence;
            distractors[b] = malloc(strlen(s) + 1);
            if (!distractors[b]) return -1;
            strcpy(distractors[b], s);
            distractors[b][0] = w->last_sentence[0];
        }
        char *choices[4];
        int answer = arrange(w->id, w->last_sentence, distractors, choices);
        json_object *item = json_object_new_object();
        json_object_object_add(item, "id", json_object_new_string(w->id));
        json_object_object_add(item, "source", json_object_new_string(c->sources[w->source].id));
        json_object_object_add(item, "domain", json_object_new_string("literature"));
        json_object_object_add(item, "context", json_object_new_string(w->context));
        json_object_object_add(item, "choices", choices_array(choices, 4));
        json_object_object_add(item, "answer", json_object_new_int(answer));
        rc = write_json_line(next, item);
        counts->next_sentence++;
        for (int b = 0; b < 3; b++)
            free(distractors[b]);
    }
    for (size_t i = 0; i < n; i++) {
        free(windows[i].context);
        free(windows[i].full);
        free(windows[i].last_sentence);
    }
    free(windows);
    return rc;
}

typedef struct {
    const char *head;
    size_t head_len;
    const char *definition;
    size_t definition_len;
    int source;
    char id[720];
} Entry;

static int definition_tasks(const Corpus *c, const Source *sources, int n_sources, FILE *out,
                            TaskCounts *counts)
{
    Entry *entries = NULL;
    size_t n = 0, cap = 0;
    for (size_t d = 0; d < c->n_docs; d++) {
        const Doc *doc = &c->docs[d];
        if (doc->split != SPLIT_VAL || doc->source >= n_sources) continue;
        const char *method = sources[doc->source].method;
        if (strcmp(method, "webster") && strcmp(method, "wordnet")) continue;
        const char *p = doc->text, *end = doc->text + doc->len;
        int paragraph = 0;
        while (p < end) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            if (!eol) eol = end;
            const char *colon = memchr(p, ':', (size_t)(eol - p));
            if (colon && colon[1] == ' ') {
                size_t head_len = (size_t)(colon - p);
                size_t def_len = (size_t)(eol - colon - 2);
                if (head_len >= 2 && head_len <= 40 && def_len >= 20 && def_len <= 300) {
                    if (n == cap) {
                        cap = cap ? cap * 2 : 4096;
                        Entry *grown = realloc(entries, cap * sizeof *grown);
                        if (!grown) {
                            free(entries);
                            return -1;
                        }
                        entries = grown;
                    }
                    Entry *e = &entries[n++];
                    e->head = p;
                    e->head_len = head_len;
                    e->definition = colon + 2;
                    e->definition_len = def_len;
                    e->source = doc->source;
                    snprintf(e->id, sizeof e->id, "%s:%d", doc->id, paragraph);
                }
            }
            paragraph++;
            p = eol + 1;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const Entry *e = &entries[i];
        char *distractors[3] = {NULL, NULL, NULL};
        int found = 0;
        for (uint64_t attempt = 0; found < 3 && attempt < 64; attempt++) {
            const Entry *o = &entries[item_hash(e->id, attempt + 1) % n];
            if (o == e || o->source != e->source ||
                (o->head_len == e->head_len && !strncasecmp(o->head, e->head, e->head_len)) ||
                (o->definition_len == e->definition_len &&
                 !memcmp(o->definition, e->definition, e->definition_len)))
                continue;
            int repeat = 0;
            for (int k = 0; k < found; k++)
                repeat |= strncmp(distractors[k] + 1, o->definition, o->definition_len) == 0;
            if (repeat) continue;
            distractors[found] = malloc(o->definition_len + 2);
            if (!distractors[found]) break;
            distractors[found][0] = ' ';
            memcpy(distractors[found] + 1, o->definition, o->definition_len);
            distractors[found][o->definition_len + 1] = '\0';
            found++;
        }
        if (found == 3) {
            char *truth = malloc(e->definition_len + 2);
            char context[64];
            if (!truth) break;
            truth[0] = ' ';
            memcpy(truth + 1, e->definition, e->definition_len);
            truth[e->definition_len + 1] = '\0';
            snprintf(context, sizeof context, "%.*s:", (int)e->head_len, e->head);
            char *choices[4];
            int answer = arrange(e->id, truth, distractors, choices);
            json_object *item = json_object_new_object();
            json_object_object_add(item, "id", json_object_new_string(e->id));
            json_object_object_add(item, "source",
                                   json_object_new_string(c->sources[e->source].id));
            json_object_object_add(item, "domain", json_object_new_string("dictionary"));
            json_object_object_add(item, "context", json_object_new_string(context));
            json_object_object_add(item, "choices", choices_array(choices, 4));
            json_object_object_add(item, "answer", json_object_new_int(answer));
            rc = write_json_line(out, item);
            counts->definition++;
            free(truth);
        }
        for (int k = 0; k < found; k++)
            free(distractors[k]);
    }
    free(entries);
    return rc;
}

int build_tasks(const Corpus *c, const Source *sources, int n_sources, const char *out_dir,
                TaskCounts *counts, char *err, int errlen)
{
    memset(counts, 0, sizeof *counts);
    const char *names[3] = {"cloze", "next_sentence", "definition"};
    FsReplace files[3];
    for (int i = 0; i < 3; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tasks/%s.jsonl", out_dir, names[i]);
        if (fs_replace_open(&files[i], path, err, errlen) != 0) {
            for (int k = 0; k < i; k++) fs_replace_abort(&files[k]);
            return -1;
        }
    }
    int rc = narrative_tasks(c, sources, n_sources, files[0].f, files[1].f, counts);
    if (rc == 0) rc = definition_tasks(c, sources, n_sources, files[2].f, counts);
    if (rc != 0) snprintf(err, errlen, "%s/tasks: writing the task files failed", out_dir);
    for (int i = 0; i < 3; i++) {
        if (rc == 0) rc = fs_replace_commit(&files[i], err, errlen);
        else fs_replace_abort(&files[i]);
    }
    return rc;
}
