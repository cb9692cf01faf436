/* engine/train/tasks.h: scoring the corpus's held-out tasks (JSONL, one item a line) with a
 * trained model: the chosen answer is the ending with the highest length-normalized
 * log-likelihood after the context; accuracy comes with a Wilson 95% interval.
 *
 * Item formats (one JSON object a line; blank lines skipped):
 *   multiple choice: {"context": "...", "choices": ["...", ...], "answer": k}
 *   cloze:           {"context": "...", "target": " word"}
 * (data/tasks.h writes these; other fields are ignored). A cloze item is scored as a ranking of
 * its target among CLOZE_DISTRACTORS other targets of the same file (distinct, taken in file
 * order after the item): correct when the target ranks first. The mean log-likelihood of the
 * right ending is reported too (for cloze: the target's). (data/README.md also suggests greedy
 * exact match; that needs the argmax of the next-token distribution, which model.h's
 * model_score does not return.)
 * Length normalization divides an ending's log-likelihood by its length in bytes, so endings of
 * different lengths and different tokenizers are compared on equal terms. */
#ifndef DLCM_ENGINE_TRAIN_TASKS_H
#define DLCM_ENGINE_TRAIN_TASKS_H

#include "engine/train/scorer.h"

#define CLOZE_DISTRACTORS 9

typedef struct {
    long items, correct;
    long items_available;  /* items in the file (the first `items` were scored) */
    double accuracy, ci_low, ci_high;
    double chance;  /* mean of 1 / candidates: the accuracy of guessing */
    double answer_logprob; /* mean log-likelihood of the right ending (nats per item) */
    long answer_bytes;     /* total bytes of the right endings */
} TaskResult;

/* Wilson score interval of k successes in n trials at normal quantile z (1.96 for 95%). */
void wilson_interval(long k, long n, double z, double *low, double *high);

/* The items of a task file, those to score parsed and checked, cloze candidates filled in. */
typedef struct TaskSet TaskSet;
/* Reads path and prepares its first `limit` items (0: all) for scoring. Every non-blank line is
 * an item and counted; only the items needed are parsed (those to score, and the items their
 * cloze candidates come from), so a malformed line among the others is not seen. NULL with
 * *code 1 (runtime failure) or 2 (bad file, with the line number in err). */
TaskSet *tasks_read_file(const char *path, long limit, int *code, char *err, int errlen);
long tasks_count(const TaskSet *t);
void tasks_free(TaskSet *t);

/* Scores the first `limit` items (0: all). Returns 0, 1 (runtime failure) or 2 (bad file, with
 * the line number in err). */
int tasks_score_file(Scorer *s, const char *path, long limit, int quiet, TaskResult *out,
                     char *err, int errlen);

#endif
