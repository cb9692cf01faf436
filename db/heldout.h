/* db/heldout.h: a run's held-out measurements (schema version 3): its accuracy on the held-out
 * tasks, and its per-token losses on fixed windows of the held-out domain shards, written by the
 * trainer after its last step and read back by the report. */
#ifndef DLCM_DB_HELDOUT_H
#define DLCM_DB_HELDOUT_H

#include <sqlite3.h>
#include <stdint.h>

typedef struct {
    const char *task;        /* cloze | next_sentence | definition */
    long items, items_available, correct;
    double accuracy, ci_low, ci_high, chance, answer_logprob;
} HeldoutTask;

/* Stores (replaces) one task's score for the run. 0, or -1 with err. */
int heldout_store_task(sqlite3 *db, const char *run_id, const HeldoutTask *t, char *err, int errlen);

/* One split's per-token losses: n target tokens, loss[i] in nats; concept_pos NULL for a dense
 * run. */
typedef struct {
    const char *split;
    int seq_len, windows;
    uint64_t tokens_hash;
    long n;
    const float *loss;
    const uint8_t *concept_pos;
} HeldoutTokens;

int heldout_store_tokens(sqlite3 *db, const char *run_id, const HeldoutTokens *t, char *err, int errlen);

/* The task scores of a run, one call of each() per task (in task order). */
int heldout_read_tasks(sqlite3 *db, const char *run_id, void (*each)(void *ctx, const HeldoutTask *t), void *ctx,
                       char *err, int errlen);

/* One split's per-token losses of a run, read back (loss and concept_pos malloc'd, concept_pos
 * NULL when the run stored none; the caller frees both and split). 0, 1 when the run has none
 * for the split, -1 with err (also for a blob whose size disagrees with its token count). */
typedef struct {
    char split[64];
    int seq_len, windows;
    char tokens_hash[32];
    long n;
    float *loss;
    uint8_t *concept_pos;
} HeldoutTokensRead;

int heldout_read_tokens(sqlite3 *db, const char *run_id, const char *split, HeldoutTokensRead *out, char *err,
                        int errlen);
void heldout_tokens_free(HeldoutTokensRead *t);

/* The splits for which a run stored per-token losses, one call of each() per split, by name. */
int heldout_token_splits(sqlite3 *db, const char *run_id, void (*each)(void *ctx, const char *split), void *ctx,
                         char *err, int errlen);

#endif
