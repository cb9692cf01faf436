/* tests/gpu/test_gpu_model.c: whole training steps of the dense and the DLCM model on the CUDA
 * backend against the CPU backend from the same weights and batch (loss, every gradient tensor,
 * the weights after one AdamW step, launched FLOPs at least the CPU's), bit-for-bit repeats on
 * the GPU, and the no-leak check on the GPU. */
#include "engine/model_internal.h"
#include "engine/optim.h"
#include "tests/engine_models.h"
#include "tests/gpu/gpu_test_util.h"

/* Through a whole model the per-op rounding differences compound: stated bounds per tensor.
 * fp32 (TF32 off): 1e-4 on gradients, 1e-5 on the loss, 5e-5 on the updated weights (the first
 * AdamW step is nearly lr * sign(g), so a gradient within rounding of zero can flip; seen 1.2e-5).
 * bf16 activations and weights against the fp32 CPU: 5e-2 on gradients, 1e-2 on the loss, and
 * 5e-2 on the weights after the first AdamW step, which moves each weight by about lr * sign(g):
 * wherever bf16 rounding flips the sign of a tiny gradient the step differs by 2 lr (seen 1.4e-2). */
#define MODEL_GRAD_TOL_F32 1e-4
#define MODEL_GRAD_TOL_BF16 5e-2

/* A GPU fp32 buffer of n floats against the CPU's; prints one table line. */
static double compare_f32(GpuPair *P, const char *what, const float *gpu_dev, const float *cpu, size_t n,
                          double tol)
{
    Pair b;
    memset(&b, 0, sizeof b);
    b.n = n;
    b.dev = (void *)gpu_dev;
    b.host = (float *)cpu;
    return expect_close_tol(P, what, &b, tol);
}

static void train_step_case(DType dt, ModelConfig cfg, const char *label)
{
    GpuPair P = gpu_pair_open(dt);
    int batch = 2;
    uint64_t init_seed = P.seed % 1000 + 1, boundary_seed = P.seed % 7777 + 3;
    Model *mc = make_model(P.cpu, &cfg, batch, init_seed);
    Model *mg = make_model(P.gpu, &cfg, batch, init_seed);
    int32_t *tokens = random_tokens(batch, cfg.shape.seq_len, cfg.shape.vocab, P.seed % 100003);
    char err[256];
    StepStats sc, sg;
    model_begin_step(mc);
    model_begin_step(mg);
    P.cpu->flops = P.gpu->flops = 0;
    cr_assert_eq(model_forward_backward(mc, tokens, MODEL_TRAIN, boundary_seed, 1.0f, &sc, err, sizeof err), 0, "%s", err);
    cr_assert_eq(model_forward_backward(mg, tokens, MODEL_TRAIN, boundary_seed, 1.0f, &sg, err, sizeof err), 0, "%s", err);
    double loss_tol = P.bf16 ? 1e-2 : 1e-5, grad_tol = P.bf16 ? MODEL_GRAD_TOL_BF16 : MODEL_GRAD_TOL_F32;
    double loss_rel = fabs(sg.loss_ce - sc.loss_ce) / sc.loss_ce;
    printf("ERRTAB %-28s %-5s %.3e %.0e\n", "model loss_ce", P.dtype, loss_rel, loss_tol);
    printf("MODEL %s %s loss_ce cpu %.7f gpu %.7f aux cpu %.6f gpu %.6f concepts cpu %lld gpu %lld flops cpu %.0f gpu %.0f\n",
           label, P.dtype, sc.loss_ce, sg.loss_ce, sc.loss_aux, sg.loss_aux, (long long)sc.concepts,
           (long long)sg.concepts, sc.flops, sg.flops);
    cr_expect_leq(loss_rel, loss_tol, "%s: loss %.7f (gpu) vs %.7f (cpu)", label, sg.loss_ce, sc.loss_ce);
    cr_expect_eq(sg.concepts, sc.concepts, "%s: the same boundaries (bit-exact sampling)", label);
    if (sg.concepts == sc.concepts) {
        /* the CPU counts visible query-key pairs, the GPU the whole attention tiles it computes
         * (test_gpu_ops.c checks that count exactly): never fewer */
        cr_expect_geq(sg.flops, sc.flops, "%s: launched FLOPs gpu %.0f cpu %.0f", label, sg.flops, sc.flops);
        if (cfg.shape.family == FAMILY_DLCM)
            cr_expect_leq(fabs(sg.loss_aux - sc.loss_aux), P.bf16 ? 1e-3 : 1e-6, "%s: aux loss", label);
    }

    /* every gradient tensor */
    size_t n = model_num_params(mg);
    double worst = 0;
    const char *worst_name = "";
    for (int t = 0; t < model_num_tensors(mg); t++) {
        const ParamTensor *pt = model_tensor(mg, t);
        char name[96];
        snprintf(name, sizeof name, "%s grad %s", label, pt->name);
        double rel = compare_f32(&P, name, model_grads(mg) + pt->offset, model_grads(mc) + pt->offset, pt->count, grad_tol);
        if (rel > worst) {
            worst = rel;
            worst_name = pt->name;
        }
    }
    printf("ERRTAB %-28s %-5s %.3e %.0e (worst tensor: %s)\n", "model gradients (worst)", P.dtype, worst, grad_tol, worst_name);

    /* one optimizer step on each */
    OptimConfig oc = optim_config_default();
    Optimizer *oc_cpu = optim_create(mc, &oc, err, sizeof err), *oc_gpu = optim_create(mg, &oc, err, sizeof err);
    cr_assert(oc_cpu && oc_gpu, "%s", err);
    optim_step(oc_cpu, 1.0f);
    optim_step(oc_gpu, 1.0f);
    double gn_c = optim_last_grad_norm(oc_cpu), gn_g = optim_last_grad_norm(oc_gpu);
    printf("MODEL %s %s grad_norm cpu %.7g gpu %.7g\n", label, P.dtype, gn_c, gn_g);
    char name[96];
    snprintf(name, sizeof name, "%s updated weights", label);
    compare_f32(&P, name, model_params(mg), model_params(mc), n, P.bf16 ? 5e-2 : 5e-5);
    optim_destroy(oc_cpu);
    optim_destroy(oc_gpu);
    free(tokens);
    model_destroy(mc);
    model_destroy(mg);
    gpu_pair_close(&P);
}

static ModelConfig dense_config(void)
{
    ModelShape s = tiny_dense_shape(128, 2, 96, 256);
    return model_config_default(s);
}

static ModelConfig dlcm_config(BoundaryMode boundary)
{
    ModelShape s = tiny_dlcm_shape(128, 256, 96, 256, 4);
    s.n_enc = 2;
    s.n_con = 2;
    s.n_dec = 1;
    ModelConfig c = model_config_default(s);
    c.boundary = boundary;
    c.smoothing_grad = 1;
    return c;
}

Test(gpu_model, dense_step_fp32) { train_step_case(DTYPE_F32, dense_config(), "dense"); }
Test(gpu_model, dense_step_bf16) { train_step_case(DTYPE_BF16, dense_config(), "dense"); }
Test(gpu_model, dlcm_step_fp32) { train_step_case(DTYPE_F32, dlcm_config(BOUNDARY_LEARNED), "dlcm"); }
/* bf16 moves p by ~1e-3, enough to flip a sampled boundary now and then: fixed boundaries keep
 * the two segmentations identical so the comparison measures arithmetic only. */
Test(gpu_model, dlcm_step_bf16_fixed_boundaries) { train_step_case(DTYPE_BF16, dlcm_config(BOUNDARY_FIXED), "dlcm-fixed"); }
/* Concept rows in buckets of 16 (padding rows in the packed backbone and the padded layout)
 * and the output head in chunks of 37 rows (chunks that cut sequences, a short last one). */
static ModelConfig dlcm_bucket_chunk_config(void)
{
    ModelConfig c = dlcm_config(BOUNDARY_LEARNED);
    c.concept_bucket = 16;
    c.head_chunk_rows = 37;
    return c;
}
Test(gpu_model, dlcm_step_fp32_buckets_and_head_chunks) { train_step_case(DTYPE_F32, dlcm_bucket_chunk_config(), "dlcm-bucket-chunk"); }

/* ---- reproducibility: the CUDA backend has no floating-point atomics whose order varies, so
 * two models trained from the same weights on the same batches agree bit for bit, gradients
 * and weights, at every step (larger shapes than above, so that reductions span many blocks). */
static void download_f32(Backend *be, float *host, const float *dev, size_t n)
{
    be->download(be, host, dev, n * sizeof(float));
}

static void repeat_case(DType dt, ModelConfig cfg, const char *label)
{
    GpuPair P = gpu_pair_open(dt);
    int batch = 8, steps = 3;
    char err[256];
    Model *m[2];
    Optimizer *o[2];
    OptimConfig oc = optim_config_default();
    for (int r = 0; r < 2; r++) {
        m[r] = make_model(P.gpu, &cfg, batch, 11);
        o[r] = optim_create(m[r], &oc, err, sizeof err);
        cr_assert_not_null(o[r], "%s", err);
    }
    size_t n = model_num_params(m[0]);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    cr_assert(a && b);
    for (int step = 0; step < steps; step++) {
        int32_t *tokens = random_tokens(batch, cfg.shape.seq_len, cfg.shape.vocab, 900 + step);
        for (int r = 0; r < 2; r++) {
            model_begin_step(m[r]);
            cr_assert_eq(model_forward_backward(m[r], tokens, MODEL_TRAIN, 31 + step, 1.0f, NULL, err, sizeof err), 0, "%s", err);
        }
        download_f32(P.gpu, a, model_grads(m[0]), n);
        download_f32(P.gpu, b, model_grads(m[1]), n);
        size_t diff = 0;
        for (size_t i = 0; i < n; i++) diff += memcmp(&a[i], &b[i], sizeof(float)) != 0;
        printf("REPEAT %s %s step %d: %zu of %zu gradient values differ\n", label, P.dtype, step, diff, n);
        cr_expect_eq(diff, 0, "%s %s step %d: %zu of %zu gradient values differ between two identical runs",
                     label, P.dtype, step, diff, n);
        for (int r = 0; r < 2; r++) optim_step(o[r], 1.0f);
        download_f32(P.gpu, a, model_params(m[0]), n);
        download_f32(P.gpu, b, model_params(m[1]), n);
        cr_expect_eq(memcmp(a, b, n * sizeof(float)), 0, "%s %s step %d: weights differ between two identical runs",
                     label, P.dtype, step);
        free(tokens);
    }
    free(a);
    free(b);
    for (int r = 0; r < 2; r++) {
        optim_destroy(o[r]);
        model_destroy(m[r]);
    }
    gpu_pair_close(&P);
}

static ModelConfig repeat_dlcm_config(void)
{
    ModelShape s = tiny_dlcm_shape(128, 256, 256, 512, 4);
    s.n_enc = 1;
    s.n_con = 2;
    s.n_dec = 1;
    ModelConfig c = model_config_default(s);
    c.boundary = BOUNDARY_LEARNED;
    c.smoothing_grad = 1;
    return c;
}

Test(gpu_model, dense_repeats_bit_for_bit_bf16) { repeat_case(DTYPE_BF16, model_config_default(tiny_dense_shape(128, 2, 256, 512)), "dense"); }
Test(gpu_model, dlcm_repeats_bit_for_bit_bf16) { repeat_case(DTYPE_BF16, repeat_dlcm_config(), "dlcm"); }
Test(gpu_model, dlcm_repeats_bit_for_bit_fp32) { repeat_case(DTYPE_F32, repeat_dlcm_config(), "dlcm"); }

/* ---- no leak on the GPU (spec §6), as tests/test_engine_leak.c does on the CPU ------------- */

enum { LEAK_T = 48, LEAK_V = 256, LEAK_B = 2 };

static void gpu_logits_of(Model *m, const int32_t *tokens, float *out)
{
    float logprob[LEAK_T];
    int32_t concept[LEAK_T + 1];
    char err[256];
    cr_assert_eq(model_score(m, tokens, LEAK_T + 1, logprob, concept, err, sizeof err), 0, "%s", err);
    Backend *be = model_backend(m);
    size_t n = (size_t)LEAK_T * LEAK_V;
    float *tmp = be->alloc(be, n * sizeof(float));
    be->act_to_f32(be, tmp, m->logits, n);
    be->download(be, out, tmp, n * sizeof(float));
    be->free(be, tmp);
}

static double gpu_max_leak(Model *m, const int32_t *text)
{
    size_t n = (size_t)LEAK_T * LEAK_V;
    float *base = malloc(n * sizeof(float)), *changed = malloc(n * sizeof(float));
    int32_t tokens[LEAK_T + 1];
    gpu_logits_of(m, text, base);
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(base[i]));
    for (int cut = 1; cut < LEAK_T; cut += 3) {
        for (int trial = 0; trial < 2; trial++) {
            memcpy(tokens, text, sizeof tokens);
            for (int i = cut; i <= LEAK_T; i++)
                tokens[i] = (int32_t)(rng_mix64(((uint64_t)cut << 8) + trial * 131 + i) % LEAK_V);
            gpu_logits_of(m, tokens, changed);
            for (int i = 0; i < cut * LEAK_V; i++) worst = fmax(worst, fabs(changed[i] - base[i]) / scale);
        }
    }
    free(base);
    free(changed);
    return worst;
}

static void gpu_leak_case(XattnMask mask, int train_steps)
{
    GpuPair P = gpu_pair_open(DTYPE_F32);
    ModelConfig cfg = model_config_default(tiny_dlcm_shape(64, 128, LEAK_T, LEAK_V, 4));
    cfg.xattn_mask = mask;
    Model *m = make_model(P.gpu, &cfg, LEAK_B, 21);
    char err[256];
    if (train_steps) {
        OptimConfig oc = optim_config_default();
        oc.lr_token = oc.lr_concept = oc.lr_other = 2e-3f;
        Optimizer *o = optim_create(m, &oc, err, sizeof err);
        cr_assert_not_null(o, "%s", err);
        for (int step = 0; step < train_steps; step++) {
            int32_t *tokens = random_tokens(LEAK_B, LEAK_T, LEAK_V, 500 + step);
            model_begin_step(m);
            cr_assert_eq(model_forward_backward(m, tokens, MODEL_TRAIN, 77 + step, 1.0f, NULL, err, sizeof err), 0, "%s", err);
            optim_step(o, 1.0f);
            free(tokens);
        }
        optim_destroy(o);
    }
    int32_t *text = random_tokens(1, LEAK_T, LEAK_V, 4242);
    double leak = gpu_max_leak(m, text);
    printf("LEAK mask=%s trained_steps=%d max change of earlier logits %.3g of scale\n",
           mask == XATTN_MASK_PAPER ? "paper" : "strict", train_steps, leak);
    if (mask == XATTN_MASK_STRICT)
        cr_expect_leq(leak, 1e-5, "strict mask leaks on the GPU: %g", leak);
    else
        cr_expect_gt(leak, 1e-4, "the paper mask must be flagged as leaking on the GPU (change %g)", leak);
    free(text);
    model_destroy(m);
    gpu_pair_close(&P);
}

Test(gpu_model, strict_mask_does_not_leak) { gpu_leak_case(XATTN_MASK_STRICT, 0); }
Test(gpu_model, trained_strict_mask_does_not_leak) { gpu_leak_case(XATTN_MASK_STRICT, 6); }
Test(gpu_model, paper_mask_is_flagged) { gpu_leak_case(XATTN_MASK_PAPER, 0); }
