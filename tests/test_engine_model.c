/* tests/test_engine_model.c: the whole dense and DLCM models: parameter counts against
 * engine/shape.c, gradients against finite differences in every tensor, launched FLOPs
 * against the analytic count, scoring against the training loss, bad input, initialization
 * (filled by several threads) equal to the counter stream element by element. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model_internal.h"
#include "engine/shape.h"
#include "tests/engine_models.h"
#include "tests/engine_test_util.h"

Test(engine_model, parameter_count_equals_shape)
{
    Backend *be = backend_cpu_create();
    char err[256];
    ModelShape shapes[4] = {tiny_dense_shape(64, 2, 16, 50), tiny_dense_shape(128, 3, 8, 300),
                            tiny_dlcm_shape(64, 128, 16, 50, 4), tiny_dlcm_shape(128, 64, 8, 77, 2)};
    shapes[3].n_enc = 2;
    shapes[3].n_con = 3;
    shapes[3].n_dec = 0;
    for (int i = 0; i < 4; i++) {
        ModelConfig cfg = model_config_default(shapes[i]);
        Model *m = model_create(be, &cfg, 2, err, sizeof err);
        cr_assert_not_null(m, "%s", err);
        ShapeParams sp;
        cr_assert_eq(shape_params(&shapes[i], &sp, err, sizeof err), 0);
        size_t non_embedding = 0, offset = 0;
        for (int t = 0; t < model_num_tensors(m); t++) {
            const ParamTensor *pt = model_tensor(m, t);
            cr_assert_eq(pt->offset, offset, "tensors tile the buffer (%s)", pt->name);
            offset += pt->count;
            if (strcmp(pt->name, "embed") && strcmp(pt->name, "unembed")) non_embedding += pt->count;
        }
        cr_assert_eq(offset, model_num_params(m));
        cr_assert_eq((int64_t)non_embedding, sp.N, "shape %d: N %zu vs %lld", i, non_embedding, (long long)sp.N);
        cr_assert_eq((int64_t)model_find_tensor(m, "embed")->count, sp.embedding);
        cr_assert_eq((int64_t)model_find_tensor(m, "unembed")->count, sp.unembedding);
        if (shapes[i].family == FAMILY_DLCM) {
            size_t backbone = 0;
            for (int t = 0; t < model_num_tensors(m); t++)
                if (!strncmp(model_tensor(m, t)->name, "backbone.", 9)) backbone += model_tensor(m, t)->count;
            cr_assert_eq((int64_t)backbone, sp.backbone);
        }
        model_destroy(m);
    }
    be->destroy(be);
}

/* Large enough for model_init to split the buffer across threads (ranges of 2^18 elements), with
 * tensors of every init kind (normal, constant gains, the router's identity) cut by range ends. */
Test(engine_model, init_equals_the_counter_stream_element_by_element)
{
    Backend *be = backend_cpu_create();
    ModelShape shapes[2] = {tiny_dense_shape(128, 4, 16, 4000), tiny_dlcm_shape(128, 256, 16, 3000, 4)};
    for (int i = 0; i < 2; i++) {
        ModelConfig cfg = model_config_default(shapes[i]);
        Model *m = make_model(be, &cfg, 1, 77);
        size_t n = model_num_params(m);
        cr_assert_gt(n, (size_t)3 << 18, "shape %d: %zu parameters, too few to be split", i, n);
        float *x = malloc(n * sizeof *x);
        be->download(be, x, model_params(m), n * sizeof *x);
        int identity_tensors = 0;
        for (int t = 0; t < model_num_tensors(m); t++) {
            const ParamTensor *pt = model_tensor(m, t);
            identity_tensors += pt->init_identity;
            for (size_t j = 0; j < pt->count; j++) {
                size_t at = pt->offset + j;
                float want = pt->init_identity ? (j / pt->cols == j % pt->cols ? pt->init_value : 0.0f)
                             : pt->init_std == 0.0f ? pt->init_value
                                                    : pt->init_std * rng_normal(77, at);
                cr_assert(x[at] == want, "shape %d, %s[%zu]: %g, the stream gives %g", i, pt->name, j, x[at], want);
            }
        }
        if (shapes[i].family == FAMILY_DLCM) cr_assert_gt(identity_tensors, 0, "the router's identity is covered");
        free(x);
        model_destroy(m);
    }
    be->destroy(be);
}

Test(engine_model, rejects_bad_config_and_tokens)
{
    Backend *be = backend_cpu_create();
    char err[256] = "";
    ModelShape s = tiny_dense_shape(100, 1, 8, 20); /* width not a multiple of 64 */
    ModelConfig cfg = model_config_default(s);
    cr_assert_null(model_create(be, &cfg, 1, err, sizeof err));
    cr_assert(strstr(err, "d_t"), "message names the field: %s", err);
    cfg = model_config_default(tiny_dense_shape(64, 1, 8, 20));
    cr_assert_null(model_create(be, &cfg, 0, err, sizeof err));
    Model *m = make_model(be, &cfg, 1, 1);
    int32_t tokens[9] = {1, 2, 3, 4, 5, 6, 7, 8, 20};
    cr_assert_eq(model_forward_backward(m, tokens, MODEL_EVAL, 0, 1, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "vocabulary"), "%s", err);
    model_destroy(m);
    be->destroy(be);
}

/* ---- finite differences over the whole model -------------------------------------------- */

typedef struct {
    Model *m;
    const int32_t *tokens;
    uint64_t seed;
    float aux_weight;
    double rule_threshold;
} ModelCtx;

/* L = CE + λ L_aux of one training micro-batch with boundaries drawn from a fixed seed.
 * cosine_rule's threshold is state that each training forward moves: pinned here, so that
 * every evaluation of the loss draws the same boundaries. */
static double model_loss(void *p)
{
    ModelCtx *c = p;
    StepStats st;
    char err[256];
    model_set_rule_threshold(c->m, c->rule_threshold);
    model_begin_step(c->m);
    cr_assert_eq(model_forward_backward(c->m, c->tokens, MODEL_TRAIN, c->seed, 1.0f, &st, err, sizeof err), 0, "%s", err);
    return st.loss_ce + c->aux_weight * st.loss_aux;
}

static int compare_floats_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* Samples of every tensor. The model runs in fp32: a step of 3e-3 (weights of std ~0.05-0.2
 * here) keeps the loss's rounding error (~4e-7 / 6e-3 < 1e-4) and the truncation error of the
 * central difference (1e-2 was too coarse for some embedding rows) below the tolerance of
 * 5e-4 + 3e-2 relative. */
static void check_model_gradients(Model *m, const int32_t *tokens, uint64_t seed, float aux_weight,
                                  int samples_per_tensor)
{
    ModelCtx c = {m, tokens, seed, aux_weight, NAN};
    if (model_config(m)->boundary == BOUNDARY_COSINE_RULE) {
        /* halfway between the two rule probabilities around the target count (N/R), so that
         * the finite-difference steps move no p across it */
        int N = model_batch(m) * m->T;
        float *p = malloc((size_t)N * sizeof(float));
        model_loss(&c);
        memcpy(p, m->p_rule, (size_t)N * sizeof(float));
        qsort(p, (size_t)N, sizeof(float), compare_floats_desc);
        int k = (int)(N / model_config(m)->shape.R);
        c.rule_threshold = 0.5 * ((double)p[k - 1] + p[k]);
        cr_assert_gt(p[k - 1] - p[k], 1e-3, "a gap between the probabilities around the threshold");
        free(p);
    }
    model_loss(&c);
    size_t n = model_num_params(m);
    float *g = malloc(n * sizeof(float));
    memcpy(g, model_grads(m), n * sizeof(float));
    double worst = 0;
    for (int t = 0; t < model_num_tensors(m); t++) {
        const ParamTensor *pt = model_tensor(m, t);
        double w = check_gradient(pt->name, model_loss, &c, model_params(m) + pt->offset, g + pt->offset,
                                  pt->count, samples_per_tensor, 3e-3f, 5e-4, 3e-2);
        if (w > worst) worst = w;
    }
    cr_log_info("worst |fd - grad| / bound over the model: %.3f", worst);
    free(g);
}

Test(engine_model, dense_gradient_matches_finite_differences)
{
    Backend *be = backend_cpu_create();
    ModelConfig cfg = model_config_default(tiny_dense_shape(64, 2, 8, 23));
    cfg.sigma_base = 0.1f; /* larger weights: gradients well above fp32 noise */
    Model *m = make_model(be, &cfg, 2, 7);
    int32_t *tokens = random_tokens(2, 8, 23, 3);
    check_model_gradients(m, tokens, 0, 0.0f, 6);
    free(tokens);
    model_destroy(m);
    be->destroy(be);
}

static void dlcm_gradient_case(BoundaryMode mode, ParserMode parser, SmoothingMode smoothing,
                               int n_enc, int n_con, int n_dec)
{
    Backend *be = backend_cpu_create();
    ModelShape shape = tiny_dlcm_shape(64, 128, 12, 23, 3);
    shape.n_enc = n_enc;
    shape.n_con = n_con;
    shape.n_dec = n_dec;
    ModelConfig cfg = model_config_default(shape);
    cfg.sigma_base = 0.1f;
    cfg.boundary = mode;
    cfg.parser = parser;
    cfg.smoothing = smoothing;
    cfg.smoothing_grad = 1; /* FD sees the EMA gate's dependence on p: let the gradient see it too */
    cfg.aux_weight = 0.5f;  /* large, so the router's gradient is checked at a visible size */
    Model *m = make_model(be, &cfg, 2, 11);
    int32_t *tokens = random_tokens(2, 12, 23, 5);
    check_model_gradients(m, tokens, 1234, cfg.aux_weight, 5);
    free(tokens);
    model_destroy(m);
    be->destroy(be);
}

Test(engine_model, dlcm_gradient_matches_finite_differences)
{
    dlcm_gradient_case(BOUNDARY_LEARNED, PARSER_GLOBAL, SMOOTHING_EMA, 1, 1, 1);
}
Test(engine_model, dlcm_per_sequence_parser_gradient) { dlcm_gradient_case(BOUNDARY_LEARNED, PARSER_PER_SEQUENCE, SMOOTHING_EMA, 1, 1, 1); }
/* also: no decoder blocks (the cross-attention feeds the final norm), deeper stacks */
Test(engine_model, dlcm_fixed_no_smoothing_no_decoder_gradient) { dlcm_gradient_case(BOUNDARY_FIXED, PARSER_GLOBAL, SMOOTHING_NONE, 2, 2, 0); }
/* cosine_rule's EMA gate is the rule's p on raw H, always detached: check it without smoothing */
Test(engine_model, dlcm_cosine_rule_gradient) { dlcm_gradient_case(BOUNDARY_COSINE_RULE, PARSER_GLOBAL, SMOOTHING_NONE, 1, 1, 1); }

/* ---- FLOPs ------------------------------------------------------------------------------ */

static double forward_flops_per_token(Model *m, const int32_t *tokens, StepStats *st)
{
    char err[256];
    cr_assert_eq(model_forward_backward(m, tokens, MODEL_EVAL, 0, 1, st, err, sizeof err), 0, "%s", err);
    return st->flops / (double)st->tokens;
}

Test(engine_model, launched_flops_equal_analytic)
{
    Backend *be = backend_cpu_create();
    StepStats st;
    ModelShape dense = tiny_dense_shape(128, 2, 32, 100);
    ModelConfig cfg = model_config_default(dense);
    Model *m = make_model(be, &cfg, 3, 1);
    int32_t *tokens = random_tokens(3, 32, 100, 1);
    double launched = forward_flops_per_token(m, tokens, &st);
    double analytic = shape_fwd_flops_per_token(&dense, 1.0);
    cr_assert_float_eq(launched, analytic, 1e-9 * analytic, "dense: launched %.0f analytic %.0f", launched, analytic);
    model_destroy(m);

    ModelShape dlcm = tiny_dlcm_shape(128, 192, 32, 100, 4);
    dlcm.n_enc = 2;
    dlcm.n_con = 2;
    cfg = model_config_default(dlcm);
    cfg.boundary = BOUNDARY_FIXED; /* realized R is exactly 4 */
    m = make_model(be, &cfg, 3, 1);
    launched = forward_flops_per_token(m, tokens, &st);
    cr_assert_eq(st.concepts, 3 * 8);
    analytic = shape_fwd_flops_per_token(&dlcm, 4.0);
    cr_log_info("dlcm fixed R=4: launched %.0f analytic %.0f FLOPs/token (%.3f%%)", launched, analytic,
                100 * (launched / analytic - 1));
    cr_assert_float_eq(launched, analytic, 0.02 * analytic, "dlcm: launched %.0f analytic %.0f", launched, analytic);
    model_destroy(m);
    free(tokens);
    be->destroy(be);
}

/* ---- scoring ---------------------------------------------------------------------------- */

Test(engine_model, score_matches_training_loss)
{
    Backend *be = backend_cpu_create();
    char err[256];
    for (int family = 0; family < 2; family++) {
        ModelShape s = family ? tiny_dlcm_shape(64, 64, 16, 40, 3) : tiny_dense_shape(64, 2, 16, 40);
        ModelConfig cfg = model_config_default(s);
        Model *m = make_model(be, &cfg, 2, 3);
        int32_t *tokens = random_tokens(2, 16, 40, 9);
        StepStats st;
        cr_assert_eq(model_forward_backward(m, tokens, MODEL_EVAL, 0, 1, &st, err, sizeof err), 0);
        float logprob[16];
        int32_t concept[17];
        double sum = 0;
        for (int b = 0; b < 2; b++) {
            cr_assert_eq(model_score(m, tokens + b * 17, 17, logprob, concept, err, sizeof err), 0, "%s", err);
            for (int i = 0; i < 16; i++) sum -= logprob[i];
            cr_assert_eq(concept[0], 0);
            for (int i = 1; i < 16; i++) cr_assert(concept[i] == concept[i - 1] || concept[i] == concept[i - 1] + 1);
        }
        cr_assert_float_eq(sum / 32, st.loss_ce, 1e-5, "family %d: score %g vs loss %g", family, sum / 32, st.loss_ce);
        /* a shorter text scores the same prefix */
        float short_lp[8];
        cr_assert_eq(model_score(m, tokens, 9, short_lp, concept, err, sizeof err), 0);
        cr_assert_eq(model_score(m, tokens, 17, logprob, concept, err, sizeof err), 0);
        for (int i = 0; i < 8; i++) cr_assert_float_eq(short_lp[i], logprob[i], 1e-5);
        cr_assert_eq(model_score(m, tokens, 18, logprob, concept, err, sizeof err), -1);
        free(tokens);
        model_destroy(m);
    }
    be->destroy(be);
}

/* Gradient accumulation: two micro-batches at grad_scale 1/2 give the mean of their gradients
 * (up to fp32 rounding of the differently scaled chain, ~1e-6 relative; a wrong scale is 2x). */
Test(engine_model, accumulation_averages_micro_batches)
{
    Backend *be = backend_cpu_create();
    char err[256];
    ModelConfig cfg = model_config_default(tiny_dense_shape(64, 2, 8, 30));
    Model *m = make_model(be, &cfg, 2, 4);
    size_t n = model_num_params(m);
    int32_t *a = random_tokens(2, 8, 30, 1), *b = random_tokens(2, 8, 30, 2);
    float *ga = malloc(n * sizeof(float)), *gb = malloc(n * sizeof(float));
    model_begin_step(m);
    cr_assert_eq(model_forward_backward(m, a, MODEL_TRAIN, 0, 1.0f, NULL, err, sizeof err), 0);
    memcpy(ga, model_grads(m), n * sizeof(float));
    model_begin_step(m);
    cr_assert_eq(model_forward_backward(m, b, MODEL_TRAIN, 0, 1.0f, NULL, err, sizeof err), 0);
    memcpy(gb, model_grads(m), n * sizeof(float));
    model_begin_step(m);
    cr_assert_eq(model_forward_backward(m, a, MODEL_TRAIN, 0, 0.5f, NULL, err, sizeof err), 0);
    cr_assert_eq(model_forward_backward(m, b, MODEL_TRAIN, 0, 0.5f, NULL, err, sizeof err), 0);
    for (size_t i = 0; i < n; i++) {
        float want = 0.5f * (ga[i] + gb[i]);
        cr_assert_float_eq(model_grads(m)[i], want, 1e-4f * fabsf(want) + 1e-8f, "grad %zu: %g vs %g", i, model_grads(m)[i], want);
    }
    free(a); free(b); free(ga); free(gb);
    model_destroy(m);
    be->destroy(be);
}

/* ---- concept buckets -------------------------------------------------------------------- */

/* M rounded up to a multiple of concept_bucket adds masked padding rows to the concept stage:
 * the loss, L_aux, every gradient and the scores are those of the unpadded model (up to the
 * summation order of GEMMs of another row count, seen 8e-7 of the largest gradient). */
Test(engine_model, concept_buckets_change_no_result)
{
    Backend *be = backend_cpu_create();
    char err[256];
    enum { B = 3, T = 40 };
    ModelShape shape = tiny_dlcm_shape(64, 128, T, 50, 4);
    shape.n_con = 2;
    ModelConfig cfg = model_config_default(shape);
    Model *plain = make_model(be, &cfg, B, 13);
    cfg.concept_bucket = 16;
    Model *bucketed = make_model(be, &cfg, B, 13);
    size_t n = model_num_params(plain);
    int32_t *tokens = random_tokens(B, T, 50, 21);
    StepStats sp, sb;
    model_begin_step(plain);
    model_begin_step(bucketed);
    cr_assert_eq(model_forward_backward(plain, tokens, MODEL_TRAIN, 4, 1.0f, &sp, err, sizeof err), 0, "%s", err);
    cr_assert_eq(model_forward_backward(bucketed, tokens, MODEL_TRAIN, 4, 1.0f, &sb, err, sizeof err), 0, "%s", err);
    cr_log_info("M %d unpadded, %d in buckets of 16; counts %d %d %d", plain->M, bucketed->M,
                plain->counts_host[0], plain->counts_host[1], plain->counts_host[2]);
    cr_assert_eq(bucketed->M % 16, 0);
    cr_assert_gt(bucketed->M, plain->M, "the bucket adds padding rows");
    cr_assert_eq(sp.concepts, sb.concepts);
    cr_assert_float_eq(sb.loss_ce, sp.loss_ce, 1e-5 * sp.loss_ce);
    cr_assert_float_eq(sb.loss_aux, sp.loss_aux, 1e-7);
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(model_grads(plain)[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(model_grads(plain)[i] - model_grads(bucketed)[i]));
    cr_log_info("largest gradient difference %.2g of the largest gradient", worst / scale);
    cr_assert_leq(worst, 1e-5 * scale, "gradients differ by %g of their scale", worst / scale);
    float lp[T], lb[T];
    int32_t cp[T + 1], cb[T + 1];
    cr_assert_eq(model_score(plain, tokens, T + 1, lp, cp, err, sizeof err), 0, "%s", err);
    cr_assert_eq(model_score(bucketed, tokens, T + 1, lb, cb, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < T; i++) {
        cr_assert_float_eq(lb[i], lp[i], 1e-5 * fabs(lp[i]) + 1e-6, "score at %d", i);
        cr_assert_eq(cb[i], cp[i]);
    }
    cfg.concept_bucket = 0;
    cr_assert_null(model_create(be, &cfg, B, err, sizeof err));
    free(tokens);
    model_destroy(plain);
    model_destroy(bucketed);
    be->destroy(be);
}

/* ---- the output head in chunks ---------------------------------------------------------- */

/* The head and cross-entropy run over chunks of rows (37 rows: chunks that cut sequences, a
 * short last one): loss, every gradient, the scores and the logits statistic equal those of
 * one chunk over all rows, up to the summation order of the unembedding's gradient. */
static void head_chunks_case(ModelConfig cfg, const char *what)
{
    Backend *be = backend_cpu_create();
    char err[256];
    enum { B = 3 };
    int T = cfg.shape.seq_len, V = cfg.shape.vocab;
    Model *whole = make_model(be, &cfg, B, 17);
    cfg.head_chunk_rows = 37;
    Model *chunked = make_model(be, &cfg, B, 17);
    cr_assert_eq(whole->head_chunks, 1);
    cr_assert_eq(chunked->head_chunks, (B * T + 36) / 37);
    size_t n = model_num_params(whole);
    int32_t *tokens = random_tokens(B, T, V, 23);
    StepStats sw, sc;
    model_begin_step(whole);
    model_begin_step(chunked);
    cr_assert_eq(model_forward_backward(whole, tokens, MODEL_TRAIN, 4, 1.0f, &sw, err, sizeof err), 0, "%s", err);
    cr_assert_eq(model_forward_backward(chunked, tokens, MODEL_TRAIN, 4, 1.0f, &sc, err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(sc.loss_ce, sw.loss_ce, 1e-6 * sw.loss_ce, "%s loss", what);
    cr_assert_eq(sc.flops, sw.flops, "%s: the chunks launch the same FLOPs", what);
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(model_grads(whole)[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(model_grads(whole)[i] - model_grads(chunked)[i]));
    cr_log_info("%s: %d chunks, largest gradient difference %.2g of the largest gradient", what,
                chunked->head_chunks, worst / scale);
    cr_assert_gt(scale, 0);
    cr_assert_leq(worst, 1e-5 * scale, "%s: gradients differ by %g of their scale", what, worst / scale);
    const char *names_w[64], *names_c[64];
    double stats_w[64], stats_c[64];
    int k = model_module_stats(whole, names_w, stats_w, 64);
    cr_assert_eq(model_module_stats(chunked, names_c, stats_c, 64), k);
    cr_assert_str_eq(names_c[k - 1], "logits");
    cr_assert_float_eq(stats_c[k - 1], stats_w[k - 1], 1e-6 * stats_w[k - 1], "%s: mean |logits|", what);
    float *lw = malloc((size_t)T * sizeof *lw), *lc = malloc((size_t)T * sizeof *lc);
    int32_t *cw = malloc((size_t)(T + 1) * sizeof *cw), *cc = malloc((size_t)(T + 1) * sizeof *cc);
    cr_assert_eq(model_score(whole, tokens, T + 1, lw, cw, err, sizeof err), 0, "%s", err);
    cr_assert_eq(model_score(chunked, tokens, T + 1, lc, cc, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < T; i++) cr_assert_float_eq(lc[i], lw[i], 1e-5 * fabs(lw[i]) + 1e-6, "%s: score at %d", what, i);
    free(lw); free(lc); free(cw); free(cc);
    free(tokens);
    model_destroy(whole);
    model_destroy(chunked);
    be->destroy(be);
}

Test(engine_model, head_in_chunks_changes_no_result)
{
    head_chunks_case(model_config_default(tiny_dense_shape(64, 2, 40, 70)), "dense");
    head_chunks_case(model_config_default(tiny_dlcm_shape(64, 128, 40, 70, 4)), "dlcm");
}

/* ---- no padding FLOPs in the concept stage ---------------------------------------------- */

/* A training step of a DLCM whose sequences have very different concept counts (half of them
 * repeat one token, which the untrained router cuts rarely; half are random tokens): the
 * backbone runs on the real concepts only, so the launched matrix FLOPs stay within 10 % of
 * the analytic count at the realized R (1.07 seen). Padding every sequence to the longest one,
 * as before, launched 1.95 times the analytic count on this batch. */
Test(engine_model, dlcm_launched_flops_follow_the_real_concepts)
{
    Backend *be = backend_cpu_create();
    char err[256];
    enum { B = 8, T = 256, V = 256 };
    ModelShape shape = tiny_dlcm_shape(64, 256, T, V, 4);
    shape.n_con = 4;
    ModelConfig cfg = model_config_default(shape);
    Model *m = make_model(be, &cfg, B, 3);
    int32_t *tokens = random_tokens(B, T, V, 5);
    for (int b = 0; b < B; b += 2)
        for (int t = 0; t <= T; t++) tokens[(size_t)b * (T + 1) + t] = 40;
    StepStats st;
    model_begin_step(m);
    cr_assert_eq(model_forward_backward(m, tokens, MODEL_TRAIN, 9, 1.0f, &st, err, sizeof err), 0, "%s", err);
    double R = (double)st.tokens / (double)st.concepts;
    double analytic = shape_train_flops_per_token(&shape, R) * (double)st.tokens;
    double mean_count = (double)st.concepts / B;
    cr_log_info("counts: longest %d, mean %.1f; realized R %.2f; launched/analytic %.3f", m->M,
                mean_count, R, st.flops / analytic);
    cr_assert_geq(m->M, 1.5 * mean_count, "the batch's counts differ (else the test shows nothing)");
    cr_assert_leq(st.flops / analytic, 1.10, "launched %.4g analytic %.4g", st.flops, analytic);
    free(tokens);
    model_destroy(m);
    be->destroy(be);
}
