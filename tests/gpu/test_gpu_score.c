/* tests/gpu/test_gpu_score.c: held-out scoring in batches on the CUDA backend: texts of different
 * lengths scored in one pass on the GPU against each scored alone on the CPU from the same
 * weights (log-probs and concept ids), and a training pass that is the same before and after. */
#include "engine/model_internal.h"
#include "tests/engine_models.h"
#include "tests/gpu/gpu_test_util.h"

/* The loss of one training forward and backward of the GPU model on `tokens` (no optimizer step:
 * the weights stay as they are). */
static double train_pass_loss(Model *m, const int32_t *tokens)
{
    char err[256];
    StepStats st;
    model_begin_step(m);
    cr_assert_eq(model_forward_backward(m, tokens, MODEL_TRAIN, 77, 1.0f, &st, err, sizeof err), 0, "%s", err);
    return st.loss_ce;
}

static void score_case(DType dt, ModelConfig cfg, const char *label)
{
    GpuPair P = gpu_pair_open(dt);
    enum { BATCH = 4, COUNT = 3 };
    int T = cfg.shape.seq_len, V = cfg.shape.vocab;
    Model *mc = make_model(P.cpu, &cfg, 1, 5), *mg = make_model(P.gpu, &cfg, BATCH, 5);
    int32_t *train = random_tokens(BATCH, T, V, P.seed % 1009 + 1);
    double loss_before = train_pass_loss(mg, train);

    /* Fewer texts than the batch, of lengths T + 1 (a target past the window), 1 (nothing to
     * predict) and in between. */
    int n[COUNT] = {T + 1, 1, T / 2 + 3};
    int32_t *text[COUNT];
    float *lp_gpu[COUNT], *lp_cpu[COUNT];
    int32_t *c_gpu[COUNT], *c_cpu[COUNT];
    for (int b = 0; b < COUNT; b++) {
        text[b] = random_tokens(1, T + 1, V, P.seed % 7919 + 11 * (uint64_t)b);
        lp_gpu[b] = calloc((size_t)T + 1, sizeof(float));
        lp_cpu[b] = calloc((size_t)T + 1, sizeof(float));
        c_gpu[b] = calloc((size_t)T + 1, sizeof(int32_t));
        c_cpu[b] = calloc((size_t)T + 1, sizeof(int32_t));
        cr_assert(lp_gpu[b] && lp_cpu[b] && c_gpu[b] && c_cpu[b]);
    }
    char err[256];
    cr_assert_eq(model_score_batch(mg, (const int32_t *const *)text, n, COUNT, lp_gpu, c_gpu, err, sizeof err), 0, "%s",
                 err);
    for (int b = 0; b < COUNT; b++)
        cr_assert_eq(model_score(mc, text[b], n[b], lp_cpu[b], c_cpu[b], err, sizeof err), 0, "%s", err);

    double tol = P.bf16 ? 2e-2 : 1e-4, num = 0, den = 0;
    for (int b = 0; b < COUNT; b++) {
        int inputs = n[b] < T ? n[b] : T, same = 1;
        for (int i = 0; i < inputs; i++) same &= c_gpu[b][i] == c_cpu[b][i];
        cr_expect(same, "%s %s: text %d (%d tokens): the GPU's concepts differ from the CPU's", label, P.dtype, b, n[b]);
        for (int i = 0; i + 1 < n[b]; i++) {
            num += (lp_gpu[b][i] - lp_cpu[b][i]) * (lp_gpu[b][i] - lp_cpu[b][i]);
            den += lp_cpu[b][i] * lp_cpu[b][i];
        }
    }
    double rel = den > 0 ? sqrt(num / den) : 0;
    printf("ERRTAB %-28s %-5s %.3e %.0e\n", "scoring in batches", P.dtype, rel, tol);
    cr_expect_leq(rel, tol, "%s %s: log-probs of a batched GPU pass vs one text at a time on the CPU: %.3e", label,
                  P.dtype, rel);

    /* The scoring pass ran fewer sequences than the batch: the next training pass is unchanged. */
    double loss_after = train_pass_loss(mg, train);
    cr_expect_eq(memcmp(&loss_before, &loss_after, sizeof loss_before), 0,
                 "%s %s: a training pass after scoring gives %.9g, before %.9g", label, P.dtype, loss_after, loss_before);
    for (int b = 0; b < COUNT; b++) {
        free(text[b]);
        free(lp_gpu[b]);
        free(lp_cpu[b]);
        free(c_gpu[b]);
        free(c_cpu[b]);
    }
    free(train);
    model_destroy(mc);
    model_destroy(mg);
    gpu_pair_close(&P);
}

static ModelConfig score_dlcm_config(BoundaryMode boundary)
{
    ModelShape s = tiny_dlcm_shape(128, 256, 96, 256, 4);
    s.n_enc = 1;
    s.n_con = 2;
    s.n_dec = 1;
    ModelConfig c = model_config_default(s);
    c.boundary = boundary;
    c.concept_bucket = 16;
    return c;
}

Test(gpu_score, dense_fp32) { score_case(DTYPE_F32, model_config_default(tiny_dense_shape(128, 2, 96, 256)), "dense"); }
Test(gpu_score, dense_bf16) { score_case(DTYPE_BF16, model_config_default(tiny_dense_shape(128, 2, 96, 256)), "dense"); }
Test(gpu_score, dlcm_fp32) { score_case(DTYPE_F32, score_dlcm_config(BOUNDARY_LEARNED), "dlcm"); }
/* bf16 moves p enough to flip a thresholded boundary now and then: fixed boundaries keep the two
 * segmentations identical, so the comparison measures arithmetic only. */
Test(gpu_score, dlcm_bf16_fixed_boundaries) { score_case(DTYPE_BF16, score_dlcm_config(BOUNDARY_FIXED), "dlcm-fixed"); }
