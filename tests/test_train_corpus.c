/* tests/test_train_corpus.c: a small dense and a small DLCM model trained by bin/dlcm-train on
 * the real corpus (byte tokenizer) reach a validation loss well below the corpus's unigram
 * entropy (the best loss of a model that ignores context) within a bounded number of steps.
 * Skipped, saying so, when data/out has not been built (make data). */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>

#include "data/shard.h"
#include "train_test_util.h"

#define TRAIN_SHARD "data/out/byte/train.bin"
/* How far below the unigram entropy the validation loss must end (nats per byte): a model that
 * learned only token frequencies cannot get below the entropy; 0.4 nats needs real context. */
#define MARGIN_NATS 0.4
#define STEPS "200"

/* Entropy (nats) of the token frequencies of a shard. */
static double unigram_entropy(const char *path)
{
    char err[512];
    Shard *s = shard_open(path, 0, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    const ShardHeader *h = shard_header(s);
    double *counts = calloc(h->vocab_size, sizeof *counts);
    const uint16_t *t = shard_tokens(s);
    for (uint64_t i = 0; i < h->token_count; i++) counts[t[i]] += 1;
    double H = 0;
    for (uint32_t v = 0; v < h->vocab_size; v++) {
        if (counts[v] == 0) continue;
        double p = counts[v] / (double)h->token_count;
        H -= p * log(p);
    }
    free(counts);
    shard_close(s);
    return H;
}

static double final_val_loss(const char *db_path, double *realized_R_eval)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT final_val_loss, realized_R_eval, status FROM runs", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    double loss = sqlite3_column_double(st, 0);
    *realized_R_eval = sqlite3_column_double(st, 1);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 2), "done");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return loss;
}

static void train_and_check(const char *family, char *const extra[])
{
    if (access(TRAIN_SHARD, R_OK) != 0)
        cr_skip_test("%s is absent: build the corpus with `make data` to run this test", TRAIN_SHARD);
    double H = unigram_entropy(TRAIN_SHARD);
    char dir[256], out[300], err[300], db[300];
    snprintf(dir, sizeof dir, "/tmp/dlcm-test-corpus-%s-%d", family, (int)getpid());
    remove_tree(dir);
    mkdir(dir, 0755);
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    char *argv[40] = {"./bin/dlcm-train", "--out", dir, "--model.family", (char *)family,
                      "--model.seq_len", "64", "--model.d_t", "64", "--train.batch", "8",
                      "--steps", STEPS, "--lr", "0.01", "--schedule.warmup", "10",
                      "--eval.batches", "8", "--log.interval", "50", NULL};
    int n = 0;
    while (argv[n]) n++;
    for (int i = 0; extra[i]; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    int code = run_program(argv, out, err);
    cr_assert_eq(code, 0, "exit %d: %s", code, slurp(err));
    snprintf(db, sizeof db, "%s/run.sqlite", dir);
    double R_eval;
    double loss = final_val_loss(db, &R_eval);
    cr_log_info("%s: validation loss %.4f after %s steps, unigram entropy %.4f nats (R eval %.2f)",
                family, loss, STEPS, H, R_eval);
    cr_assert_lt(loss, H - MARGIN_NATS, "%s: validation loss %.4f is not %.1f nats below the unigram entropy %.4f",
                 family, loss, MARGIN_NATS, H);
    remove_tree(dir);
}

Test(train_corpus, dense_beats_unigram_entropy, .timeout = 300)
{
    char *extra[] = {"--model.n_layers", "2", NULL};
    train_and_check("dense", extra);
}

Test(train_corpus, dlcm_beats_unigram_entropy, .timeout = 300)
{
    char *extra[] = {"--model.d_c", "128", "--model.n_enc", "1", "--model.n_con", "1",
                     "--model.n_dec", "1", "--model.R", "4", NULL};
    train_and_check("dlcm", extra);
}
