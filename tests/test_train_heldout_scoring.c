/* tests/test_train_heldout_scoring.c: the scorer's batched passes against one window a pass
 * (texts over several windows with their concept numbering, task endings over one and several
 * windows), a trained run's stored held-out measurements (task accuracies, per-token losses
 * and concept positions) against the same model scoring one window a pass, and task files parsed
 * only as far as the items scored need. */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "db/db.h"
#include "db/heldout.h"
#include "engine/train/heldout.h"
#include "engine/train/scorer.h"
#include "engine/train/tasks.h"
#include "engine/train/trainer.h"
#include "tests/engine_models.h"
#include "train_test_util.h"

/* Tolerance of a batched log-prob against one window a pass: see test_engine_score_batch.c (GEMMs
 * of other row counts, ~1e-7 relative an operation); a sum over an ending's tokens keeps it. */
static double tolerance(double want) { return 1e-5 * fabs(want) + 1e-5; }

enum { T = 16, CAPACITY = 6, TEXTS = 6 };

Test(heldout_scoring, scorer_batches_equal_one_window_a_pass)
{
    char err[256];
    Backend *be = backend_cpu_create();
    TrainConfig tc = train_config_default();
    ModelShape shape = tiny_dlcm_shape(64, 64, T, 256, 3);
    tc.model = model_config_default(shape);
    Model *m = make_model(be, &tc.model, CAPACITY, 7);
    Tokenizer *tok = tokenizer_open("byte", ".", err, sizeof err);
    cr_assert_not_null(tok, "%s", err);
    Scorer s;
    cr_assert_eq(scorer_attach(&s, &tc, be, m, tok, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.batch, CAPACITY);

    /* texts of 1, 5, T+1, 2T+1 (a last window of one token), 40 and 3T+1 tokens: 13 windows */
    long n[TEXTS] = {1, 5, T + 1, 2 * T + 1, 40, 3 * T + 1};
    int32_t *ids[TEXTS];
    float *lp[TEXTS], *want_lp = malloc(64 * sizeof(float));
    int32_t *cp[TEXTS], *want_cp = malloc(64 * sizeof(int32_t));
    for (int k = 0; k < TEXTS; k++) {
        ids[k] = random_tokens(1, (int)n[k], 256, 40 + (uint64_t)k);
        ids[k][0] = 0; /* end-of-text first */
        lp[k] = malloc((size_t)n[k] * sizeof(float));
        cp[k] = malloc((size_t)n[k] * sizeof(int32_t));
    }
    cr_assert_eq(scorer_score_many(&s, TEXTS, (const int32_t *const *)ids, n, lp, cp, err, sizeof err), 0, "%s", err);
    s.batch = 1;
    int most_concepts = 0;
    for (int k = 0; k < TEXTS; k++) {
        cr_assert_eq(scorer_score(&s, ids[k], n[k], want_lp, want_cp, err, sizeof err), 0, "%s", err);
        cr_expect_eq(lp[k][0], 0.0f);
        for (long i = 1; i < n[k]; i++)
            cr_expect_float_eq(lp[k][i], want_lp[i], tolerance(want_lp[i]), "text %d token %ld: %g vs %g", k, i,
                               lp[k][i], want_lp[i]);
        for (long i = 0; i < n[k]; i++)
            cr_expect_eq(cp[k][i], want_cp[i], "text %d token %ld: concept %d vs %d", k, i, cp[k][i], want_cp[i]);
        cr_expect_eq(cp[k][0], 0, "each text's concepts are numbered from 0");
        for (long i = 1; i < n[k]; i++) cr_expect(cp[k][i] == cp[k][i - 1] || cp[k][i] == cp[k][i - 1] + 1);
        if (cp[k][n[k] - 1] + 1 > most_concepts) most_concepts = cp[k][n[k] - 1] + 1;
    }
    cr_assert_geq(most_concepts, 4, "the model cuts concepts (%d in the longest text)", most_concepts);

    /* endings: short after a long context (one full window), after an empty context, longer than
     * half a window, longer than a window */
    enum { ENDINGS = 5 };
    long contexts[ENDINGS] = {30, 0, 3, 20, 9}, endings[ENDINGS] = {2, 4, 10, 11, 25};
    ScorerEnding e[ENDINGS];
    int32_t *text = random_tokens(1, 200, 256, 77);
    for (int k = 0; k < ENDINGS; k++) {
        text[k * 40] = 1 + k; /* not end-of-text */
        e[k] = (ScorerEnding){text + k * 40, contexts[k], text + k * 40 + contexts[k], endings[k]};
    }
    double sums[ENDINGS], want;
    s.batch = CAPACITY;
    cr_assert_eq(scorer_endings_logprob(&s, e, ENDINGS, sums, err, sizeof err), 0, "%s", err);
    s.batch = 1;
    for (int k = 0; k < ENDINGS; k++) {
        cr_assert_eq(scorer_endings_logprob(&s, &e[k], 1, &want, err, sizeof err), 0, "%s", err);
        cr_expect_float_eq(sums[k], want, tolerance(want), "ending %d: %g vs %g", k, sums[k], want);
        cr_expect_lt(want, 0.0);
    }
    e[3].n_ending = 0;
    cr_assert_eq(scorer_endings_logprob(&s, e, ENDINGS, sums, err, sizeof err), -1);
    cr_assert(strstr(err, "ending 3 is empty"), "%s", err);
    s.batch = CAPACITY + 1;
    cr_assert_eq(scorer_endings_logprob(&s, e, 1, sums, err, sizeof err), -1, "more windows a pass than the batch");

    for (int k = 0; k < TEXTS; k++) {
        free(ids[k]);
        free(lp[k]);
        free(cp[k]);
    }
    free(text);
    free(want_lp);
    free(want_cp);
    scorer_detach(&s);
    tokenizer_close(tok);
    model_destroy(m);
    be->destroy(be);
}

/* ---- what a run stores ---------------------------------------------------------------------- */

static char dir[256], out[300], err_path[300], run_dir[300];

static char *query_text(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    char *v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

typedef struct {
    const char *task;
    HeldoutTask got;
    int found;
} TaskLookup;

static void find_task(void *ctx, const HeldoutTask *t)
{
    TaskLookup *l = ctx;
    if (strcmp(t->task, l->task) == 0) {
        l->got = *t;
        l->found = 1;
    }
}

/* A DLCM trains 3 steps with batch 2 (so the held-out measurements run on a copy of batch 16)
 * and scores 4 items of two task files; then the checkpoint's model scores the same windows and
 * items one window a pass. */
Test(heldout_scoring, a_run_stores_what_one_window_a_pass_gives)
{
    char msg[512];
    snprintf(dir, sizeof dir, "/tmp/dlcm-test-heldout-scoring-%d", (int)getpid());
    remove_tree(dir);
    cr_assert_eq(make_tiny_corpus(dir, 20000), 0);
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    char tasks[300], path[340];
    snprintf(tasks, sizeof tasks, "%s/tasks", dir);
    cr_assert_eq(mkdir(tasks, 0777), 0);
    snprintf(path, sizeof path, "%s/cloze.jsonl", tasks);
    write_text(path, "{\"context\": \"the dog\", \"target\": \" ran\"}\n{\"context\": \"it was\", \"target\": \" warm.\"}\n"
                     "{\"context\": \"a cat\", \"target\": \" sat\"}\n{\"context\": \"the cat sat on the\", \"target\": \" mat.\"}\n"
                     "{\"context\": \"and\", \"target\": \" slept.\"}\n");
    snprintf(path, sizeof path, "%s/definition.jsonl", tasks);
    write_text(path, "{\"context\": \"cat:\", \"choices\": [\" an animal that sleeps\", \" a house\"], \"answer\": 0}\n"
                     "{\"context\": \"mat:\", \"choices\": [\" a rug\", \" a dog\", \" a sky\"], \"answer\": 0}\n"
                     "{\"context\": \"the sky above the house was warm and the dog slept on the mat:\", "
                     "\"choices\": [\" above\", \" below\"], \"answer\": 1}\n"
                     "{\"context\": \"dog:\", \"choices\": [\" it ran to the house and slept on a warm mat\", \" a cat\"], "
                     "\"answer\": 0}\n");
    char *argv[] = {"./bin/dlcm-train", "--out", run_dir, "--data.dir", dir, "--model.family", "dlcm",
                    "--model.seq_len", "16", "--model.d_t", "64", "--model.d_c", "64", "--model.n_con", "1",
                    "--train.batch", "2", "--steps", "3", "--schedule.warmup", "1", "--eval.batches", "1",
                    "--task-limit", "4", "--quiet", NULL};
    cr_assert_eq(run_program(argv, out, err_path), 0, "%s", slurp(err_path));
    char db_path[340], ckpt[400];
    snprintf(db_path, sizeof db_path, "%s/" TRAIN_RUN_DB_NAME, run_dir);
    train_checkpoint_path(run_dir, ckpt, sizeof ckpt);
    char *run_id = query_text(db_path, "SELECT id FROM runs");
    sqlite3 *db = db_open_readonly(db_path, msg, sizeof msg);
    cr_assert_not_null(db, "%s", msg);

    Scorer s;
    cr_assert_eq(scorer_open(&s, ckpt, dir, msg, sizeof msg), 0, "%s", msg);
    s.batch = 1;
    const char *names[2] = {"cloze", "definition"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s.jsonl", tasks, names[k]);
        TaskResult want;
        cr_assert_eq(tasks_score_file(&s, path, 4, 1, &want, msg, sizeof msg), 0, "%s", msg);
        TaskLookup l = {names[k], {0}, 0};
        cr_assert_eq(heldout_read_tasks(db, run_id, find_task, &l, msg, sizeof msg), 0, "%s", msg);
        cr_assert(l.found, "the run stored %s", names[k]);
        cr_assert_eq(l.got.items, 4);
        cr_assert_eq(l.got.items_available, want.items_available);
        cr_assert_eq(l.got.correct, want.correct, "%s: %ld right, one window a pass %ld", names[k], l.got.correct,
                     want.correct);
        cr_assert_float_eq(l.got.chance, want.chance, 1e-12);
        cr_assert_float_eq(l.got.answer_logprob, want.answer_logprob, tolerance(want.answer_logprob),
                           "%s: answer log-likelihood %.9g, one window a pass %.9g", names[k], l.got.answer_logprob,
                           want.answer_logprob);
    }

    /* the per-token losses of val-alpha: HELDOUT_WINDOWS windows of T tokens at evenly spaced
     * offsets, each scored alone */
    HeldoutTokensRead got;
    cr_assert_eq(heldout_read_tokens(db, run_id, "val-alpha", &got, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(got.n, HELDOUT_WINDOWS * (T - 1));
    cr_assert_not_null(got.concept_pos);
    snprintf(path, sizeof path, "%s/byte/val-alpha.bin", dir);
    Shard *shard = shard_open(path, 256, msg, sizeof msg);
    cr_assert_not_null(shard, "%s", msg);
    uint64_t count = shard_header(shard)->token_count;
    int32_t window[T], concept[T];
    float logprob[T];
    for (int w = 0; w < HELDOUT_WINDOWS; w++) {
        uint64_t offset = (uint64_t)w * (count - T) / (HELDOUT_WINDOWS - 1);
        for (int i = 0; i < T; i++) window[i] = shard_tokens(shard)[offset + (uint64_t)i];
        cr_assert_eq(model_score(s.model, window, T, logprob, concept, msg, sizeof msg), 0, "%s", msg);
        int start = 0;
        for (int j = 1; j < T; j++) {
            float stored = got.loss[w * (T - 1) + j - 1];
            cr_expect_float_eq(stored, -logprob[j - 1], tolerance(logprob[j - 1]), "window %d token %d: %g vs %g", w, j,
                               stored, -logprob[j - 1]);
            if (concept[j] != concept[j - 1]) start = j;
            cr_expect_eq(got.concept_pos[w * (T - 1) + j - 1], j - start, "window %d token %d: position", w, j);
        }
    }
    shard_close(shard);
    int starts = 0;
    for (long i = 0; i < got.n; i++) starts += got.concept_pos[i] == 0;
    cr_log_info("%d of %ld held-out tokens start a concept", starts, got.n);
    cr_assert_gt(starts, 0, "the windows are cut into concepts");
    heldout_tokens_free(&got);
    scorer_close(&s);
    db_close(db);
    free(run_id);
    remove_tree(dir);
}

/* With a limit, lines no item needs are counted but not parsed; a malformed line that is needed
 * (an item to score, or where a cloze item's distractors come from) is still named. */
Test(heldout_scoring, task_files_are_parsed_as_far_as_needed)
{
    char tmp[256], path[300], err[512];
    snprintf(tmp, sizeof tmp, "/tmp/dlcm-test-task-parse-%d", (int)getpid());
    remove_tree(tmp);
    cr_assert_eq(mkdir(tmp, 0777), 0);
    snprintf(path, sizeof path, "%s/mc.jsonl", tmp);
    write_text(path, "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": 0}\n\n"
                     "{\"context\": \"d\", \"choices\": [\"e\", \"f\"], \"answer\": 1}\n  \n"
                     "{\"context\": 3}\n{not json\n");
    int code;
    TaskSet *t = tasks_read_file(path, 2, &code, err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    cr_assert_eq(tasks_count(t), 4, "every non-blank line is an item");
    tasks_free(t);
    cr_assert_null(tasks_read_file(path, 3, &code, err, sizeof err));
    cr_assert_eq(code, 2);
    cr_assert(strstr(err, "mc.jsonl:5:") && strstr(err, "context"), "%s", err);
    cr_assert_null(tasks_read_file(path, 0, &code, err, sizeof err));
    cr_assert(strstr(err, "mc.jsonl:5:"), "the first bad line: %s", err);

    /* 12 cloze items of distinct targets, then a bad line: item i takes its distractors from
     * items i+1 .. i+9 */
    snprintf(path, sizeof path, "%s/cloze.jsonl", tmp);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 12; i++) fprintf(f, "{\"context\": \"c%d\", \"target\": \" t%d\"}\n", i, i);
    fprintf(f, "{oops\n");
    fclose(f);
    t = tasks_read_file(path, 3, &code, err, sizeof err);
    cr_assert_not_null(t, "items 0-2 need lines 2-12 only: %s", err);
    cr_assert_eq(tasks_count(t), 13);
    tasks_free(t);
    cr_assert_null(tasks_read_file(path, 4, &code, err, sizeof err), "item 3's distractors reach line 13");
    cr_assert(strstr(err, "cloze.jsonl:13: invalid JSON"), "%s", err);
    remove_tree(tmp);
}
