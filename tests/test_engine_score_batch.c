/* tests/test_engine_score_batch.c: model_score_batch against scoring one sequence at a time on
 * a batch-1 model (dense and DLCM under each boundary mode, concept buckets, the paper's mask):
 * sequences of different lengths (1, T, T+1), a batch not full, any order; bad input refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"
#include "tests/engine_models.h"

enum { CAPACITY = 6, COUNT = 5 };

/* The same arithmetic as scoring alone but for GEMMs of another row count, whose summation order
 * OpenBLAS may choose by shape (~1e-7 relative an operation, seen 2e-7 on a whole model): 1e-5
 * of a log-prob leaves room for its growth through the layers, while any mixing of sequences or
 * padding moves a log-prob by far more (a random model's log-probs differ from token to token by
 * ~1e-1). Concept ids must be equal. */
static void expect_same_scores(const float *got, const float *want, int n, const char *what, int b)
{
    for (int i = 0; i < n; i++)
        cr_expect_float_eq(got[i], want[i], 1e-5 * fabs(want[i]) + 1e-6, "%s: sequence %d log-prob %d: %g vs %g alone",
                           what, b, i, got[i], want[i]);
}

/* Scores COUNT sequences of lengths 1, T+1, 7, T, 2 in one pass of a batch-CAPACITY model (in
 * two orders) and each alone on a batch-1 model of the same parameters. */
static void batch_case(ModelConfig cfg, const char *what)
{
    Backend *be = backend_cpu_create();
    char err[256];
    int T = cfg.shape.seq_len, V = cfg.shape.vocab;
    Model *batched = make_model(be, &cfg, CAPACITY, 31);
    Model *single = make_model(be, &cfg, 1, 31);
    int32_t *tokens = random_tokens(COUNT, T, V, 5);
    int n[COUNT] = {1, T + 1, 7, T, 2};
    const int32_t *rows[COUNT];
    float *logprob[COUNT], *want_logprob = malloc((size_t)(T + 1) * sizeof(float));
    int32_t *concept[COUNT], *want_concept = malloc((size_t)(T + 1) * sizeof(int32_t));
    for (int b = 0; b < COUNT; b++) {
        rows[b] = tokens + (size_t)b * (T + 1);
        logprob[b] = malloc((size_t)(T + 1) * sizeof(float));
        concept[b] = malloc((size_t)(T + 1) * sizeof(int32_t));
    }
    int most_concepts = 0;
    for (int order = 0; order < 2; order++) {
        /* order 1: the sequences reversed, so each sits in another row beside other neighbours */
        const int32_t *in[COUNT];
        int len[COUNT];
        float *lp[COUNT];
        int32_t *cp[COUNT];
        for (int b = 0; b < COUNT; b++) {
            int k = order ? COUNT - 1 - b : b;
            in[b] = rows[k];
            len[b] = n[k];
            lp[b] = logprob[k];
            cp[b] = concept[k];
        }
        cr_assert_eq(model_score_batch(batched, in, len, COUNT, lp, cp, err, sizeof err), 0, "%s: %s", what, err);
        for (int b = 0; b < COUNT; b++) {
            cr_assert_eq(model_score(single, rows[b], n[b], want_logprob, want_concept, err, sizeof err), 0, "%s", err);
            expect_same_scores(logprob[b], want_logprob, n[b] - 1, what, b);
            for (int i = 0; i < n[b]; i++)
                cr_expect_eq(concept[b][i], want_concept[i], "%s: sequence %d concept of token %d: %d vs %d alone", what,
                             b, i, concept[b][i], want_concept[i]);
            cr_expect_eq(concept[b][0], 0, "%s: a sequence's concepts are numbered from 0", what);
            int last = n[b] <= T ? n[b] - 1 : T - 1;
            if (concept[b][last] + 1 > most_concepts) most_concepts = concept[b][last] + 1;
        }
        cr_expect_eq(concept[1][T], cfg.shape.family == FAMILY_DLCM ? -1 : 0, "%s: token T is only a target", what);
    }
    if (cfg.shape.family == FAMILY_DLCM)
        cr_assert_geq(most_concepts, 3, "%s: the case cuts concepts (%d in the longest sequence)", what, most_concepts);
    /* one sequence on the large model: the count-1 case */
    cr_assert_eq(model_score(batched, rows[1], n[1], logprob[0], concept[0], err, sizeof err), 0, "%s", err);
    cr_assert_eq(model_score(single, rows[1], n[1], want_logprob, want_concept, err, sizeof err), 0, "%s", err);
    expect_same_scores(logprob[0], want_logprob, n[1] - 1, what, 1);
    for (int b = 0; b < COUNT; b++) {
        free(logprob[b]);
        free(concept[b]);
    }
    free(want_logprob);
    free(want_concept);
    free(tokens);
    model_destroy(batched);
    model_destroy(single);
    be->destroy(be);
}

Test(engine_score_batch, dense_equals_one_at_a_time)
{
    batch_case(model_config_default(tiny_dense_shape(64, 2, 24, 50)), "dense");
}

Test(engine_score_batch, dlcm_equals_one_at_a_time)
{
    ModelShape shape = tiny_dlcm_shape(64, 128, 24, 50, 4);
    shape.n_con = 2;
    ModelConfig cfg = model_config_default(shape);
    batch_case(cfg, "dlcm learned");
    cfg.concept_bucket = 8;
    batch_case(cfg, "dlcm learned, concept buckets of 8");
    cfg = model_config_default(shape);
    cfg.boundary = BOUNDARY_FIXED;
    cfg.xattn_mask = XATTN_MASK_PAPER;
    batch_case(cfg, "dlcm fixed, paper mask");
    cfg = model_config_default(shape);
    cfg.boundary = BOUNDARY_COSINE_RULE;
    cfg.smoothing = SMOOTHING_NONE;
    batch_case(cfg, "dlcm cosine rule, no smoothing");
}

Test(engine_score_batch, bad_input_is_refused)
{
    Backend *be = backend_cpu_create();
    char err[256];
    enum { T = 8 };
    ModelConfig cfg = model_config_default(tiny_dlcm_shape(64, 64, T, 20, 2));
    Model *m = make_model(be, &cfg, 3, 2);
    int32_t a[T + 1] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, bad[T + 1] = {1, 2, 20, 4, 5, 6, 7, 8, 9};
    float la[T + 1], lb[T + 1], lc[T + 1], ld[T + 1];
    int32_t ca[T + 1], cb[T + 1], cc[T + 1], cd[T + 1];
    const int32_t *tokens[4] = {a, a, a, a};
    float *lp[4] = {la, lb, lc, ld};
    int32_t *cp[4] = {ca, cb, cc, cd};
    int n[4] = {T + 1, 3, 1, 5};

    cr_assert_eq(model_score_batch(m, tokens, n, 4, lp, cp, err, sizeof err), -1, "more sequences than the batch");
    cr_assert(strstr(err, "4 sequences") && strstr(err, "1 to 3"), "%s", err);
    cr_assert_eq(model_score_batch(m, tokens, n, 0, lp, cp, err, sizeof err), -1, "no sequence");
    n[1] = 0;
    cr_assert_eq(model_score_batch(m, tokens, n, 3, lp, cp, err, sizeof err), -1, "an empty sequence");
    cr_assert(strstr(err, "sequence 1 has 0 tokens"), "%s", err);
    n[1] = T + 2;
    cr_assert_eq(model_score_batch(m, tokens, n, 3, lp, cp, err, sizeof err), -1, "a sequence too long");
    cr_assert(strstr(err, "sequence 1 has 10 tokens") && strstr(err, "1 to 9"), "%s", err);
    n[1] = 3;
    tokens[2] = NULL;
    cr_assert_eq(model_score_batch(m, tokens, n, 3, lp, cp, err, sizeof err), -1, "no tokens");
    cr_assert(strstr(err, "sequence 2"), "%s", err);
    tokens[2] = a;
    cr_assert_eq(model_score_batch(m, NULL, n, 3, lp, cp, err, sizeof err), -1, "no arrays");
    cr_assert_eq(model_score_batch(m, tokens, n, 3, lp, NULL, err, sizeof err), -1, "no arrays");
    tokens[2] = bad;
    n[2] = 5;
    cr_assert_eq(model_score_batch(m, tokens, n, 3, lp, cp, err, sizeof err), -1, "a token outside the vocabulary");
    cr_assert(strstr(err, "vocabulary") && strstr(err, "sequence 2"), "%s", err);
    /* the model still scores after the refusals */
    tokens[2] = a;
    cr_assert_eq(model_score_batch(m, tokens, n, 3, lp, cp, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 2; i++) cr_assert_float_eq(lb[i], la[i], 1e-5 * fabsf(la[i]) + 1e-6, "a prefix scores alike");
    cr_assert_eq(model_score(m, a, T + 2, la, ca, err, sizeof err), -1);
    model_destroy(m);
    be->destroy(be);
}
