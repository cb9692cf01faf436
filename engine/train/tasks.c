/* engine/train/tasks.c: reading task items from JSONL (json-c) and scoring them by
 * length-normalized log-likelihood; the Wilson interval of the accuracy. See tasks.h. */
#include "engine/train/tasks.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

void wilson_interval(long k, long n, double z, double *low, double *high)
{
    if (n <= 0) {
        *low = 0.0;
        *high = 1.0;
        return;
    }
    double p = (double)k / (double)n, nn = (double)n, z2 = z * z;
    double center = (p + z2 / (2 * nn)) / (1 + z2 / nn);
    double half = z / (1 + z2 / nn) * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    *low = center - half < 0 ? 0 : center - half;
    *high = center + half > 1 ? 1 : center + half;
}

/* The first of several accepted field names present in obj. */
static json_object *field(json_object *obj, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        json_object *v;
        if (json_object_object_get_ex(obj, names[i], &v)) return v;
    }
    return NULL;
}

static const char *const CONTEXT_NAMES[] = {"context", "prompt", "ctx", NULL};
static const char *const CHOICE_NAMES[] = {"choices", "endings", "options", "candidates", NULL};
static const char *const ANSWER_NAMES[] = {"answer", "label", "gold", NULL};
static const char *const TARGET_NAMES[] = {"target", NULL};

/* One parsed item: the context and the candidate endings, and which one is right. A cloze item
 * has only a target; its candidates are filled in later from other items' targets. */
typedef struct {
    const char *context;
    const char **choices;
    int n_choices;
    int answer;
    const char *target; /* cloze */
} TaskItem;

/* Fills item from a JSON object; -1 with a message (no location) on a malformed item. */
static int parse_item(json_object *obj, TaskItem *item, char *err, int errlen)
{
    memset(item, 0, sizeof *item);
    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }
    json_object *ctx = field(obj, CONTEXT_NAMES), *choices = field(obj, CHOICE_NAMES);
    json_object *answer = field(obj, ANSWER_NAMES), *target = field(obj, TARGET_NAMES);
    if (!ctx || !json_object_is_type(ctx, json_type_string)) {
        snprintf(err, errlen, "missing string field \"context\"");
        return -1;
    }
    if (!choices && target) {
        if (!json_object_is_type(target, json_type_string) || json_object_get_string_len(target) == 0) {
            snprintf(err, errlen, "\"target\" is not a non-empty string");
            return -1;
        }
        item->context = json_object_get_string(ctx);
        item->target = json_object_get_string(target);
        return 0;
    }
    if (!choices || !json_object_is_type(choices, json_type_array) || json_object_array_length(choices) < 2) {
        snprintf(err, errlen, "missing array field \"choices\" of at least two strings");
        return -1;
    }
    if (!answer) {
        snprintf(err, errlen, "missing field \"answer\" (index or the right string)");
        return -1;
    }
    item->context = json_object_get_string(ctx);
    item->n_choices = (int)json_object_array_length(choices);
    item->choices = calloc((size_t)item->n_choices, sizeof *item->choices);
    if (!item->choices) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < item->n_choices; i++) {
        json_object *c = json_object_array_get_idx(choices, (size_t)i);
        if (!json_object_is_type(c, json_type_string) || json_object_get_string_len(c) == 0) {
            snprintf(err, errlen, "choice %d is not a non-empty string", i);
            return -1;
        }
        item->choices[i] = json_object_get_string(c);
    }
    item->answer = -1;
    if (json_object_is_type(answer, json_type_int)) {
        item->answer = json_object_get_int(answer);
    } else if (json_object_is_type(answer, json_type_string)) {
        for (int i = 0; i < item->n_choices; i++)
            if (strcmp(item->choices[i], json_object_get_string(answer)) == 0) item->answer = i;
    }
    if (item->answer < 0 || item->answer >= item->n_choices) {
        snprintf(err, errlen, "\"answer\" is neither an index into \"choices\" nor one of them");
        return -1;
    }
    return 0;
}

/* The items of a file. Every item's line is found, but an item is parsed only when it is needed
 * (the first `limit`, and the items cloze candidates come from): the trainer scores 100 items of
 * files of thousands, and parsing all of them cost it about 60-90 ms a run. */
struct TaskSet {
    char *text;         /* the whole file; each item's line NUL-terminated in place */
    char **line;        /* [n]: each item's line (blank lines are no items) */
    long *line_of;      /* [n]: its line number */
    json_object **objs; /* [n]: the parsed items (NULL until parsed); items point into them */
    TaskItem *items;    /* [n]: valid where objs[i] is set */
    long n;
    const char *path;
};

/* Parses item i when it is not yet; -1 with "path:line: why" in err. */
static int parse_at(TaskSet *t, long i, char *err, int errlen)
{
    if (t->objs[i]) return 0;
    enum json_tokener_error jerr;
    json_object *obj = json_tokener_parse_verbose(t->line[i], &jerr);
    if (!obj) {
        snprintf(err, errlen, "%s:%ld: invalid JSON: %s", t->path, t->line_of[i], json_tokener_error_desc(jerr));
        return -1;
    }
    t->objs[i] = obj;
    char msg[512];
    if (parse_item(obj, &t->items[i], msg, sizeof msg)) {
        snprintf(err, errlen, "%s:%ld: %s", t->path, t->line_of[i], msg);
        return -1;
    }
    return 0;
}

/* Cloze candidates: the item's target and the next CLOZE_DISTRACTORS distinct targets of the
 * file (cyclically), at a position fixed by the item's index: the same file always gives the
 * same candidates. The target is candidate 0. */
static int cloze_candidates(TaskSet *t, long i, char *err, int errlen)
{
    TaskItem *it = &t->items[i];
    it->choices = calloc(CLOZE_DISTRACTORS + 1, sizeof *it->choices);
    if (!it->choices) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    it->choices[0] = it->target;
    it->n_choices = 1;
    it->answer = 0;
    for (long k = 1; k < t->n && it->n_choices <= CLOZE_DISTRACTORS; k++) {
        long j = (i + k) % t->n;
        if (parse_at(t, j, err, errlen)) return -1;
        const char *cand = t->items[j].target;
        if (!cand) continue;
        int dup = 0;
        for (int c = 0; c < it->n_choices; c++) dup |= strcmp(it->choices[c], cand) == 0;
        if (!dup) it->choices[it->n_choices++] = cand;
    }
    if (it->n_choices < 2) {
        snprintf(err, errlen, "%s:%ld: a cloze item needs other items' targets as distractors", t->path,
                 t->line_of[i]);
        return -1;
    }
    return 0;
}

void tasks_free(TaskSet *t)
{
    if (!t) return;
    for (long i = 0; i < t->n; i++) {
        if (!t->objs[i]) continue;
        free(t->items[i].choices); /* parse_item clears it first */
        json_object_put(t->objs[i]);
    }
    free(t->text);
    free(t->line);
    free(t->line_of);
    free(t->objs);
    free(t->items);
    free(t);
}

long tasks_count(const TaskSet *t) { return t->n; }

/* Finds the items' lines in t->text (len bytes) and NUL-terminates them; 0 or -1 (out of memory). */
static int find_lines(TaskSet *t, size_t len)
{
    long cap = 0, line_no = 0;
    for (char *p = t->text, *end = t->text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *next = nl ? nl + 1 : end;
        if (nl) *nl = '\0';
        line_no++;
        const char *q = p;
        while (q < next && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q < next && *q) {
            if (t->n == cap) {
                cap = cap ? 2 * cap : 256;
                char **line = realloc(t->line, (size_t)cap * sizeof *line);
                if (line) t->line = line;
                long *line_of = realloc(t->line_of, (size_t)cap * sizeof *line_of);
                if (line_of) t->line_of = line_of;
                if (!line || !line_of) return -1;
            }
            t->line[t->n] = p;
            t->line_of[t->n] = line_no;
            t->n++;
        }
        p = next;
    }
    return 0;
}

TaskSet *tasks_read_file(const char *path, long limit, int *code, char *err, int errlen)
{
    *code = 2;
    TaskSet *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        *code = 1;
        return NULL;
    }
    t->path = path;
    size_t len;
    t->text = fs_read_file(path, (size_t)1 << 34, &len, err, errlen);
    if (!t->text) {
        free(t);
        return NULL;
    }
    int failed = 0;
    if (find_lines(t, len) ||
        (t->n > 0 && (!(t->objs = calloc((size_t)t->n, sizeof *t->objs)) ||
                      !(t->items = calloc((size_t)t->n, sizeof *t->items))))) {
        snprintf(err, errlen, "out of memory");
        *code = 1;
        failed = 1;
    }
    if (!failed && t->n == 0) {
        snprintf(err, errlen, "%s: no task items", path);
        failed = 1;
    }
    long m = limit > 0 && limit < t->n ? limit : t->n;
    for (long i = 0; !failed && i < m; i++)
        failed = parse_at(t, i, err, errlen) || (t->items[i].target && cloze_candidates(t, i, err, errlen));
    if (failed) {
        tasks_free(t);
        return NULL;
    }
    *code = 0;
    return t;
}

/* Every text of the first m items (each item's context, then its choices) encoded in one call
 * (one spm_encode run for a BPE tokenizer instead of one per text). ids and counts allocated,
 * *n_texts set. 0, or -1 with err. */
static int encode_items(Scorer *s, const TaskSet *t, long m, int32_t ***ids, long **counts, size_t *n_texts,
                        char *err, int errlen)
{
    size_t n = 0;
    for (long i = 0; i < m; i++) n += 1 + (size_t)t->items[i].n_choices;
    const char **texts = malloc(n * sizeof *texts);
    size_t *lens = malloc(n * sizeof *lens);
    *ids = calloc(n, sizeof **ids);
    *counts = calloc(n, sizeof **counts);
    *n_texts = n;
    if (!texts || !lens || !*ids || !*counts) {
        free(texts);
        free(lens);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (long i = 0; i < m; i++) {
        texts[k] = t->items[i].context;
        lens[k] = strlen(texts[k]);
        k++;
        for (int c = 0; c < t->items[i].n_choices; c++, k++) {
            texts[k] = t->items[i].choices[c];
            lens[k] = strlen(texts[k]);
        }
    }
    int rc = tokenizer_encode_many(s->tok, texts, lens, n, *ids, *counts, err, errlen);
    free(texts);
    free(lens);
    if (rc) *n_texts = 0; /* nothing of it was allocated */
    return rc;
}

/* Items are scored in groups whose endings fill about this many forward passes: the endings of a
 * group share passes (only the group's last pass may be partly empty), and a group's encoded
 * windows stay small whatever the file's size. */
#define TASK_GROUP_PASSES 8

/* The choice of each item of [first, last) with the highest log-likelihood per byte, and the
 * right answer's log-likelihood; texts: the encoded texts of item `first` on (each item's
 * context, then its choices). The endings of all the items are scored together. 0, or -1 with
 * err (naming the item's line). */
static int score_group(Scorer *s, const TaskSet *t, long first, long last, int32_t *const *ids, const long *counts,
                       int *chosen, double *answer_logprob, char *err, int errlen)
{
    long n_endings = 0;
    for (long i = first; i < last; i++) n_endings += t->items[i].n_choices;
    ScorerEnding *endings = malloc((size_t)n_endings * sizeof *endings);
    double *lp = malloc((size_t)n_endings * sizeof *lp);
    if (!endings || !lp) {
        free(endings);
        free(lp);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    long e = 0;
    size_t k = 0;
    int rc = 0;
    for (long i = first; rc == 0 && i < last; i++) {
        const TaskItem *item = &t->items[i];
        size_t context = k++;
        for (int c = 0; c < item->n_choices; c++, k++) {
            if (counts[k] <= 0) {
                snprintf(err, errlen, "%s:%ld: choice %d encodes to no tokens", t->path, t->line_of[i], c);
                rc = -1;
                break;
            }
            endings[e++] = (ScorerEnding){ids[context], counts[context], ids[k], counts[k]};
        }
    }
    char msg[512];
    if (rc == 0 && scorer_endings_logprob(s, endings, n_endings, lp, msg, sizeof msg)) {
        snprintf(err, errlen, "%s:%ld-%ld: %s", t->path, t->line_of[first], t->line_of[last - 1], msg);
        rc = -1;
    }
    e = 0;
    for (long i = first; rc == 0 && i < last; i++) {
        const TaskItem *item = &t->items[i];
        double best_score = -INFINITY;
        chosen[i - first] = -1;
        for (int c = 0; c < item->n_choices; c++, e++) {
            if (c == item->answer) answer_logprob[i - first] = lp[e];
            double score = lp[e] / (double)strlen(item->choices[c]);
            if (score > best_score) {
                best_score = score;
                chosen[i - first] = c;
            }
        }
    }
    free(endings);
    free(lp);
    return rc;
}

int tasks_score_file(Scorer *s, const char *path, long limit, int quiet, TaskResult *out,
                     char *err, int errlen)
{
    memset(out, 0, sizeof *out);
    int code;
    TaskSet *t = tasks_read_file(path, limit, &code, err, errlen);
    if (!t) return code;
    out->items_available = t->n;
    long m = limit > 0 && limit < t->n ? limit : t->n;
    int32_t **ids = NULL;
    long *counts = NULL;
    size_t n_texts = 0;
    char msg[512];
    if (encode_items(s, t, m, &ids, &counts, &n_texts, msg, sizeof msg)) {
        snprintf(err, errlen, "%s: encoding the items: %s", path, msg);
        code = 1;
    }
    long group_endings = (long)TASK_GROUP_PASSES * s->batch;
    int *chosen = malloc((size_t)m * sizeof *chosen);
    double *answer_logprob = malloc((size_t)m * sizeof *answer_logprob);
    if (!code && (!chosen || !answer_logprob)) {
        snprintf(err, errlen, "out of memory");
        code = 1;
    }
    size_t k = 0; /* the first encoded text of item i */
    for (long i = 0; !code && i < m;) {
        /* items [i, last): at least one, then as many as keep the group's endings within bounds */
        long first = i, last = i + 1, endings = t->items[i].n_choices;
        while (last < m && endings + t->items[last].n_choices <= group_endings) endings += t->items[last++].n_choices;
        if (score_group(s, t, first, last, ids + k, counts + k, chosen, answer_logprob, err, errlen)) {
            code = 1;
            break;
        }
        for (; i < last; i++) {
            const TaskItem *item = &t->items[i];
            k += 1 + (size_t)item->n_choices;
            out->items++;
            if (chosen[i - first] == item->answer) out->correct++;
            out->chance += 1.0 / item->n_choices;
            out->answer_logprob += answer_logprob[i - first];
            out->answer_bytes += (long)strlen(item->choices[item->answer]);
            if (!quiet && out->items % 100 == 0)
                fprintf(stderr, "dlcm-score: %ld items, accuracy %.4f\n", out->items,
                        (double)out->correct / (double)out->items);
        }
    }
    for (size_t j = 0; ids && j < n_texts; j++) free(ids[j]);
    free(ids);
    free(counts);
    free(chosen);
    free(answer_logprob);
    tasks_free(t);
    if (code) return code;
    out->accuracy = (double)out->correct / (double)out->items;
    out->chance /= (double)out->items;
    out->answer_logprob /= (double)out->items;
    wilson_interval(out->correct, out->items, 1.959963984540054, &out->ci_low, &out->ci_high);
    return 0;
}
