/* tests/gpu/test_gpu_ops.c: every op of the CUDA backend against the CPU reference backend on
 * fresh random inputs, forward and backward, in fp32 (TF32 off) and bf16, by relative error.
 * Backward ops are checked on prefilled gradients, so the += contract is part of the check. */
#include "tests/gpu/gpu_test_util.h"

#define HD 64

/* ---- GEMM ------------------------------------------------------------------------------------ */

static void check_gemm(DType dt)
{
    GpuPair P = gpu_pair_open(dt);
    int M = 67, N = 45, K = 129, pad = 3;
    for (int c_f32 = 0; c_f32 < 2; c_f32++) {
        if (c_f32 && !P.bf16) continue; /* fp32 mode: c_f32 changes nothing */
        for (int ta = 0; ta < 2; ta++) {
            for (int tb = 0; tb < 2; tb++) {
                int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
                Pair A = pair_random(&P, (size_t)(ta ? K : M) * lda, 1, 1.0f);
                Pair B = pair_random(&P, (size_t)(tb ? N : K) * ldb, 1, 1.0f);
                Pair C = pair_random(&P, (size_t)M * ldc, !c_f32, 1.0f);
                P.cpu->flops = P.gpu->flops = 0;
                P.cpu->gemm(P.cpu, ta, tb, M, N, K, 0.75f, A.host, lda, B.host, ldb, 0.5f, C.host, ldc, c_f32);
                P.gpu->gemm(P.gpu, ta, tb, M, N, K, 0.75f, A.dev, lda, B.dev, ldb, 0.5f, C.dev, ldc, c_f32);
                char name[64];
                snprintf(name, sizeof name, "gemm ta=%d tb=%d%s", ta, tb, c_f32 ? " c_f32" : "");
                expect_close(&P, name, &C);
                cr_expect_eq(P.gpu->flops, P.cpu->flops, "gemm FLOP count");
                pair_free(&P, &A);
                pair_free(&P, &B);
                pair_free(&P, &C);
            }
        }
    }
    gpu_pair_close(&P);
}
Test(gpu_ops, gemm_fp32) { check_gemm(DTYPE_F32); }
Test(gpu_ops, gemm_bf16) { check_gemm(DTYPE_BF16); }

/* TF32 on (the fp32 training default): a looser, stated bound. */
Test(gpu_ops, gemm_fp32_tf32)
{
    GpuPair P = gpu_pair_open(DTYPE_F32);
    backend_cuda_set_tf32(P.gpu, 1);
    int M = 128, N = 96, K = 256;
    Pair A = pair_random(&P, (size_t)M * K, 1, 1.0f);
    Pair B = pair_random(&P, (size_t)N * K, 1, 1.0f);
    Pair C = pair_random(&P, (size_t)M * N, 1, 1.0f);
    P.cpu->gemm(P.cpu, 0, 1, M, N, K, 1.0f, A.host, K, B.host, K, 1.0f, C.host, N, 0);
    P.gpu->gemm(P.gpu, 0, 1, M, N, K, 1.0f, A.dev, K, B.dev, K, 1.0f, C.dev, N, 0);
    expect_close_tol(&P, "gemm tf32", &C, 2e-3);
    gpu_pair_close(&P);
}

/* ---- elementwise ----------------------------------------------------------------------------- */

static void check_elementwise(DType dt)
{
    GpuPair P = gpu_pair_open(dt);
    size_t n = 100003;
    Pair a = pair_random(&P, n, 1, 1.0f), b = pair_random(&P, n, 1, 1.0f), y = pair_random(&P, n, 1, 1.0f);
    P.cpu->add(P.cpu, y.host, a.host, b.host, n);
    P.gpu->add(P.gpu, y.dev, a.dev, b.dev, n);
    expect_close(&P, "add", &y);
    P.cpu->accumulate(P.cpu, a.host, b.host, n);
    P.gpu->accumulate(P.gpu, a.dev, b.dev, n);
    expect_close(&P, "accumulate", &a);
    Pair f = pair_random(&P, n, 0, 1.0f);
    P.cpu->scale_f32(P.cpu, f.host, -0.3f, n);
    P.gpu->scale_f32(P.gpu, f.dev, -0.3f, n);
    expect_close(&P, "scale_f32", &f);
    /* conversion: fp32 -> act -> fp32 is the identity up to the activation's rounding */
    Pair back = pair_random(&P, n, 0, 1.0f);
    void *act = P.gpu->alloc(P.gpu, n * P.gpu->act_size);
    P.gpu->f32_to_act(P.gpu, act, f.dev, n);
    P.gpu->act_to_f32(P.gpu, back.dev, act, n);
    memcpy(back.host, f.host, n * sizeof(float));
    expect_close_tol(&P, "f32_to_act/act_to_f32", &back, P.bf16 ? 4e-3 : 0.0);
    P.gpu->free(P.gpu, act);
    pair_free(&P, &a); pair_free(&P, &b); pair_free(&P, &y); pair_free(&P, &f); pair_free(&P, &back);
    gpu_pair_close(&P);
}
Test(gpu_ops, elementwise_fp32) { check_elementwise(DTYPE_F32); }
Test(gpu_ops, elementwise_bf16) { check_elementwise(DTYPE_BF16); }

/* ---- embedding ------------------------------------------------------------------------------- */

static void check_embedding(DType dt)
{
    GpuPair P = gpu_pair_open(dt);
    int V = 97, d = 192, N = 300;
    int32_t tok[300];
    for (int i = 0; i < N; i++) tok[i] = (int32_t)(rng_mix64(P.seed + i) % 13) * 7 % V; /* repeats */
    Pair tokens = pair_ints(&P, tok, N);
    Pair table = pair_random(&P, (size_t)V * d, 1, 1.0f);
    Pair out = pair_random(&P, (size_t)N * d, 1, 1.0f);
    P.cpu->embedding_forward(P.cpu, out.host, tokens.ihost, table.host, N, d);
    P.gpu->embedding_forward(P.gpu, out.dev, tokens.dev, table.dev, N, d);
    expect_close_tol(&P, "embedding_forward", &out, 0.0);
    Pair dout = pair_random(&P, (size_t)N * d, 1, 1.0f);
    Pair dtable = pair_random(&P, (size_t)V * d, 0, 1.0f);
    P.cpu->embedding_backward(P.cpu, dtable.host, dout.host, tokens.ihost, N, d);
    P.gpu->embedding_backward(P.gpu, dtable.dev, dout.dev, tokens.dev, N, d);
    expect_close(&P, "embedding_backward", &dtable);
    pair_free(&P, &tokens); pair_free(&P, &table); pair_free(&P, &out); pair_free(&P, &dout); pair_free(&P, &dtable);
    gpu_pair_close(&P);
}
Test(gpu_ops, embedding_fp32) { check_embedding(DTYPE_F32); }
Test(gpu_ops, embedding_bf16) { check_embedding(DTYPE_BF16); }

/* ---- RMSNorm ------------------------------------------------------------------------------- */

/* d = 320 takes the 16-byte-pack kernels; 90 the element-at-a-time ones */
static void check_rmsnorm(DType dt, int d)
{
    GpuPair P = gpu_pair_open(dt);
    int N = 203;
    Pair x = pair_random(&P, (size_t)N * d, 1, 1.5f);
    Pair gain = pair_uniform(&P, d, 1, 0.5f, 1.5f);
    Pair y = pair_random(&P, (size_t)N * d, 1, 1.0f), rstd = pair_random(&P, N, 0, 1.0f);
    P.cpu->rmsnorm_forward(P.cpu, y.host, rstd.host, x.host, gain.host, N, d, 1e-6f);
    P.gpu->rmsnorm_forward(P.gpu, y.dev, rstd.dev, x.dev, gain.dev, N, d, 1e-6f);
    expect_close(&P, "rmsnorm_forward y", &y);
    expect_close(&P, "rmsnorm_forward rstd", &rstd);
    Pair dy = pair_random(&P, (size_t)N * d, 1, 1.0f);
    Pair dx = pair_random(&P, (size_t)N * d, 1, 1.0f), dgain = pair_random(&P, d, 0, 1.0f);
    P.cpu->rmsnorm_backward(P.cpu, dx.host, dgain.host, dy.host, x.host, gain.host, rstd.host, N, d);
    P.gpu->rmsnorm_backward(P.gpu, dx.dev, dgain.dev, dy.dev, x.dev, gain.dev, rstd.dev, N, d);
    expect_close(&P, "rmsnorm_backward dx", &dx);
    expect_close(&P, "rmsnorm_backward dgain", &dgain);
    pair_free(&P, &x); pair_free(&P, &gain); pair_free(&P, &y); pair_free(&P, &rstd);
    pair_free(&P, &dy); pair_free(&P, &dx); pair_free(&P, &dgain);
    gpu_pair_close(&P);
}
Test(gpu_ops, rmsnorm_fp32) { check_rmsnorm(DTYPE_F32, 320); }
Test(gpu_ops, rmsnorm_bf16) { check_rmsnorm(DTYPE_BF16, 320); }
Test(gpu_ops, rmsnorm_odd_width_fp32) { check_rmsnorm(DTYPE_F32, 90); }
Test(gpu_ops, rmsnorm_odd_width_bf16) { check_rmsnorm(DTYPE_BF16, 90); }

/* ---- per-head RMSNorm + RoPE, reading heads out of a packed qkv-like buffer -------------------- */

static void check_head_norm_rope(DType dt, int use_rope)
{
    GpuPair P = gpu_pair_open(dt);
    int B = 2, T = 301, H = 3, stride = 3 * H * HD;
    size_t rows = (size_t)B * T;
    Pair in = pair_random(&P, rows * stride, 1, 1.0f);
    Pair gain = pair_uniform(&P, HD, 1, 0.5f, 1.5f);
    Pair out = pair_random(&P, rows * H * HD, 1, 1.0f), rstd = pair_random(&P, rows * H, 0, 1.0f);
    P.cpu->head_norm_rope_forward(P.cpu, out.host, rstd.host, in.host, stride, gain.host, B, T, H, use_rope, 1e-6f);
    P.gpu->head_norm_rope_forward(P.gpu, out.dev, rstd.dev, in.dev, stride, gain.dev, B, T, H, use_rope, 1e-6f);
    expect_close(&P, use_rope ? "head_norm_rope_forward" : "head_norm_forward (no rope)", &out);
    expect_close(&P, "head_norm_rope_forward rstd", &rstd);
    Pair dout = pair_random(&P, rows * H * HD, 1, 1.0f);
    Pair din = pair_random(&P, rows * stride, 1, 1.0f), dgain = pair_random(&P, HD, 0, 1.0f);
    P.cpu->head_norm_rope_backward(P.cpu, din.host, stride, dgain.host, dout.host, in.host, stride, gain.host, rstd.host, B, T, H, use_rope);
    P.gpu->head_norm_rope_backward(P.gpu, din.dev, stride, dgain.dev, dout.dev, in.dev, stride, gain.dev, rstd.dev, B, T, H, use_rope);
    expect_close(&P, use_rope ? "head_norm_rope_backward din" : "head_norm_backward din", &din);
    expect_close(&P, use_rope ? "head_norm_rope_backward dgain" : "head_norm_backward dgain", &dgain);
    pair_free(&P, &in); pair_free(&P, &gain); pair_free(&P, &out); pair_free(&P, &rstd);
    pair_free(&P, &dout); pair_free(&P, &din); pair_free(&P, &dgain);
    gpu_pair_close(&P);
}
Test(gpu_ops, head_norm_rope_fp32) { check_head_norm_rope(DTYPE_F32, 1); }
Test(gpu_ops, head_norm_rope_bf16) { check_head_norm_rope(DTYPE_BF16, 1); }
Test(gpu_ops, head_norm_no_rope_fp32) { check_head_norm_rope(DTYPE_F32, 0); }

/* ---- attention ------------------------------------------------------------------------------- */

/* Regular keys query i of sequence b sees, as the backends read AttnShape. */
static int attention_visible(const AttnShape *s, const int32_t *key_count, int b, int i)
{
    int n = key_count ? key_count[(size_t)b * s->Tq + i] : i + 1;
    if (n < 0) n = 0;
    return n < s->Tk ? n : s->Tk;
}

/* The FLOPs the CUDA kernels launch for one forward and one backward, counted independently of
 * them: whole 64 x 64 tiles (engine/cuda/attention.cu), a query tile reaching the key tiles its
 * most-seeing query needs. Per visible tile pair: 2 products forward, 3 in the dQ kernel and 4 in
 * the dK/dV kernel; per query tile, 2 (forward) and 5 (backward) null-key products of 64 rows. */
static double cuda_attention_flops(const AttnShape *s, const int32_t *key_count)
{
    const int tile = 64;
    int q_tiles = (s->Tq + tile - 1) / tile, k_tiles = (s->Tk + tile - 1) / tile;
    double units = 0; /* query-key pairs times products */
    for (int b = 0; b < s->B; b++) {
        for (int qt = 0; qt < q_tiles; qt++) {
            int limit = 0;
            for (int i = qt * tile; i < s->Tq && i < (qt + 1) * tile; i++) {
                int n = attention_visible(s, key_count, b, i);
                if (n > limit) limit = n;
            }
            int key_tiles = (limit + tile - 1) / tile;
            units += (2.0 + 3.0) * key_tiles * tile * tile + (s->k_null ? (2.0 + 5.0) * tile : 0.0);
            for (int kt = 0; kt < k_tiles; kt++)
                if (limit > kt * tile) units += 4.0 * tile * tile;
        }
    }
    return 2.0 * HD * s->H * units;
}

/* Device buffer of `bytes` equal to src (for a second run from the same starting values). */
static void *device_copy(GpuPair *P, const void *src, size_t bytes)
{
    void *d = P->gpu->alloc(P->gpu, bytes);
    P->gpu->copy(P->gpu, d, src, bytes);
    return d;
}

/* Two device buffers must hold the same bytes (a repeat of the same call, bit for bit). */
static void expect_same_bytes(GpuPair *P, const char *what, const void *a, const void *b, size_t bytes)
{
    unsigned char *ha = malloc(bytes ? bytes : 1), *hb = malloc(bytes ? bytes : 1);
    cr_assert(ha && hb);
    P->gpu->download(P->gpu, ha, a, bytes);
    P->gpu->download(P->gpu, hb, b, bytes);
    size_t differ = 0;
    for (size_t i = 0; i < bytes; i++) differ += ha[i] != hb[i];
    printf("REPEAT %-36s %-5s %zu of %zu bytes differ\n", what, P->dtype, differ, bytes);
    cr_expect_eq(differ, 0, "%s (%s): a repeated call differs in %zu of %zu bytes", what, P->dtype, differ, bytes);
    free(ha);
    free(hb);
}

typedef struct {
    int mode; /* 0: causal on a packed qkv buffer; 1: key counts with a null key (the
               * cross-attention); 2: key counts, no null key (queries seeing no key at all) */
    int B, H, Tq, Tk;
} AttnCase;

/* Key counts of a staircase like the concept mask: non-decreasing in t, 0 at the start; the
 * second sequence lags over its first 20 queries and the third sees no regular key over its
 * first 70 (a whole query tile that only the null key, or nothing, serves). */
static int32_t *staircase_counts(const AttnCase *c)
{
    int32_t *kc = malloc(sizeof(int32_t) * c->B * c->Tq);
    cr_assert(kc);
    for (int b = 0; b < c->B; b++)
        for (int t = 0; t < c->Tq; t++) {
            int64_t n = (int64_t)t * (c->Tk + 1) / c->Tq;
            if (b == 1 && t < 20) n -= t / 4;
            if (b == 2 && t < 70) n = 0;
            kc[b * c->Tq + t] = (int32_t)(n < 0 ? 0 : n);
        }
    return kc;
}

static void check_attention(DType dt, AttnCase c)
{
    GpuPair P = gpu_pair_open(dt);
    Backend *g = P.gpu;
    int mode = c.mode, B = c.B, H = c.H, Tq = c.Tq, Tk = mode == 0 ? c.Tq : c.Tk;
    int width = H * HD;
    AttnShape s;
    memset(&s, 0, sizeof s);
    s.B = B; s.Tq = Tq; s.Tk = Tk; s.H = H; s.scale = 0.125f;
    Pair q, k, v, dq, dk, dv, counts = {0}, kn = {0}, vn = {0}, dkn = {0}, dvn = {0};
    size_t q_off = 0, k_off = 0, v_off = 0;
    if (mode == 0) { /* q, k, v interleaved in one [B*T][3 width] buffer, as the model keeps them */
        q = pair_random(&P, (size_t)B * Tq * 3 * width, 1, 1.0f);
        k = q; v = q;
        dq = pair_random(&P, (size_t)B * Tq * 3 * width, 1, 1.0f);
        dk = dq; dv = dq;
        s.q_stride = s.k_stride = s.v_stride = 3 * width;
        k_off = width;
        v_off = 2 * width;
    } else {
        q = pair_random(&P, (size_t)B * Tq * width, 1, 1.0f);
        k = pair_random(&P, (size_t)B * Tk * 2 * width, 1, 1.0f); /* K and V side by side */
        v = k;
        v_off = width;
        dq = pair_random(&P, (size_t)B * Tq * width, 1, 1.0f);
        dk = pair_random(&P, (size_t)B * Tk * 2 * width, 1, 1.0f);
        dv = dk;
        s.q_stride = width;
        s.k_stride = s.v_stride = 2 * width;
        int32_t *kc = staircase_counts(&c);
        counts = pair_ints(&P, kc, (size_t)B * Tq);
        free(kc);
        if (mode == 1) {
            kn = pair_random(&P, width, 1, 1.0f);
            vn = pair_random(&P, width, 1, 1.0f);
            dkn = pair_random(&P, width, 0, 1.0f);
            dvn = pair_random(&P, width, 0, 1.0f);
        }
    }
    s.o_stride = width;
    Pair out = pair_random(&P, (size_t)B * Tq * width, 1, 1.0f);
    Pair lse = pair_random(&P, (size_t)B * H * Tq, 0, 1.0f);
    AttnShape sc = s, sg = s;
    sc.key_count = counts.ihost; sg.key_count = counts.dev;
    sc.k_null = kn.host; sg.k_null = kn.dev;
    sc.v_null = vn.host; sg.v_null = vn.dev;
    size_t esz = g->act_size;
    const void *qg = (char *)q.dev + q_off * esz, *kg = (char *)k.dev + k_off * esz, *vg = (char *)v.dev + v_off * esz;
    const char *kind = mode == 0 ? "causal" : mode == 1 ? "xattn+null" : "xattn";
    char label[128];
    P.cpu->flops = g->flops = 0;
    P.cpu->attention_forward(P.cpu, out.host, lse.host, q.host + q_off, k.host + k_off, v.host + v_off, &sc);
    g->attention_forward(g, out.dev, lse.dev, qg, kg, vg, &sg);
    snprintf(label, sizeof label, "attention %s T%d/%d fwd", kind, Tq, Tk);
    expect_close(&P, label, &out);
    snprintf(label, sizeof label, "attention %s T%d/%d lse", kind, Tq, Tk);
    expect_close(&P, label, &lse);
    Pair dout = pair_random(&P, (size_t)B * Tq * width, 1, 1.0f);
    P.cpu->attention_backward(P.cpu, dq.host + q_off, dk.host + k_off, dv.host + v_off,
                              mode == 1 ? dkn.host : NULL, mode == 1 ? dvn.host : NULL, dout.host,
                              out.host, lse.host, q.host + q_off, k.host + k_off, v.host + v_off, &sc);
    /* the GPU's backward reads the CPU's forward outputs, so it checks backward alone */
    Pair out_ref = pair_random(&P, out.n, 1, 1.0f), lse_ref = pair_random(&P, lse.n, 0, 1.0f);
    memcpy(out_ref.host, out.host, out.n * sizeof(float));
    memcpy(lse_ref.host, lse.host, lse.n * sizeof(float));
    pair_upload(&P, &out_ref);
    pair_upload(&P, &lse_ref);
    /* the gradients' starting values, for the repeat below */
    void *dq_again = device_copy(&P, dq.dev, dq.n * esz);
    void *dk_again = mode != 0 ? device_copy(&P, dk.dev, dk.n * esz) : NULL;
    void *dkn_again = mode == 1 ? device_copy(&P, dkn.dev, dkn.n * sizeof(float)) : NULL;
    void *dvn_again = mode == 1 ? device_copy(&P, dvn.dev, dvn.n * sizeof(float)) : NULL;
    g->attention_backward(g, (char *)dq.dev + q_off * esz, (char *)dk.dev + k_off * esz,
                          (char *)dv.dev + v_off * esz, mode == 1 ? dkn.dev : NULL,
                          mode == 1 ? dvn.dev : NULL, dout.dev, out_ref.dev, lse_ref.dev, qg, kg, vg, &sg);
    g->synchronize(g);
    snprintf(label, sizeof label, "attention %s T%d/%d dq%s", kind, Tq, Tk, mode == 0 ? ",dk,dv" : "");
    expect_close(&P, label, &dq);
    if (mode != 0) {
        snprintf(label, sizeof label, "attention %s T%d/%d dk,dv", kind, Tq, Tk);
        expect_close(&P, label, &dk);
    }
    if (mode == 1) {
        expect_close(&P, "attention dk_null", &dkn);
        expect_close(&P, "attention dv_null", &dvn);
    }
    /* launched FLOPs: every tile the kernels computed, never less than the visible pairs */
    double expected = cuda_attention_flops(&sc, counts.ihost);
    cr_expect_eq(g->flops, expected, "attention FLOP count: gpu %.0f, whole tiles %.0f", g->flops, expected);
    cr_expect_geq(g->flops, P.cpu->flops, "attention FLOPs: gpu %.0f below the visible pairs' %.0f", g->flops, P.cpu->flops);
    printf("ATTNFLOPS %s %s T%d/%d gpu %.0f cpu %.0f\n", kind, P.dtype, Tq, Tk, g->flops, P.cpu->flops);

    /* bit for bit: the forward again, and the backward again from the same starting gradients */
    void *out_again = g->alloc(g, out.n * esz), *lse_again = g->alloc(g, lse.n * sizeof(float));
    g->attention_forward(g, out_again, lse_again, qg, kg, vg, &sg);
    expect_same_bytes(&P, "attention forward repeat (out)", out.dev, out_again, out.n * esz);
    expect_same_bytes(&P, "attention forward repeat (lse)", lse.dev, lse_again, lse.n * sizeof(float));
    g->attention_backward(g, (char *)dq_again + q_off * esz, mode != 0 ? (char *)dk_again + k_off * esz : (char *)dq_again + k_off * esz,
                          mode != 0 ? (char *)dk_again + v_off * esz : (char *)dq_again + v_off * esz,
                          dkn_again, dvn_again, dout.dev, out_ref.dev, lse_ref.dev, qg, kg, vg, &sg);
    expect_same_bytes(&P, "attention backward repeat (dq)", dq.dev, dq_again, dq.n * esz);
    if (mode != 0) expect_same_bytes(&P, "attention backward repeat (dk,dv)", dk.dev, dk_again, dk.n * esz);
    if (mode == 1) {
        expect_same_bytes(&P, "attention backward repeat (dk_null)", dkn.dev, dkn_again, dkn.n * sizeof(float));
        expect_same_bytes(&P, "attention backward repeat (dv_null)", dvn.dev, dvn_again, dvn.n * sizeof(float));
    }
    g->free(g, out_again);
    g->free(g, lse_again);
    g->free(g, dq_again);
    if (dk_again) g->free(g, dk_again);
    if (dkn_again) g->free(g, dkn_again);
    if (dvn_again) g->free(g, dvn_again);
    pair_free(&P, &q); pair_free(&P, &dq); pair_free(&P, &out); pair_free(&P, &lse); pair_free(&P, &dout);
    pair_free(&P, &out_ref); pair_free(&P, &lse_ref);
    if (mode != 0) {
        pair_free(&P, &k); pair_free(&P, &dk); pair_free(&P, &counts);
    }
    if (mode == 1) {
        pair_free(&P, &kn); pair_free(&P, &vn); pair_free(&P, &dkn); pair_free(&P, &dvn);
    }
    gpu_pair_close(&P);
}
/* causal: a partial last tile, a whole number of tiles, less than one tile */
static const AttnCase CAUSAL_133 = {0, 2, 3, 133, 0}, CAUSAL_128 = {0, 1, 2, 128, 0}, CAUSAL_37 = {0, 3, 1, 37, 0};
/* key counts: one key tile; several, with query tiles that skip some (and one that sees none) */
static const AttnCase NULL_SMALL = {1, 3, 3, 133, 37}, NULL_WIDE = {1, 3, 2, 200, 150};
static const AttnCase EMPTY_SMALL = {2, 3, 3, 133, 37}, EMPTY_WIDE = {2, 3, 2, 200, 150};
Test(gpu_ops, attention_causal_fp32) { check_attention(DTYPE_F32, CAUSAL_133); }
Test(gpu_ops, attention_causal_bf16) { check_attention(DTYPE_BF16, CAUSAL_133); }
Test(gpu_ops, attention_causal_whole_tiles_fp32) { check_attention(DTYPE_F32, CAUSAL_128); }
Test(gpu_ops, attention_causal_whole_tiles_bf16) { check_attention(DTYPE_BF16, CAUSAL_128); }
Test(gpu_ops, attention_causal_short_fp32) { check_attention(DTYPE_F32, CAUSAL_37); }
Test(gpu_ops, attention_causal_short_bf16) { check_attention(DTYPE_BF16, CAUSAL_37); }
Test(gpu_ops, attention_keycount_null_fp32) { check_attention(DTYPE_F32, NULL_SMALL); }
Test(gpu_ops, attention_keycount_null_bf16) { check_attention(DTYPE_BF16, NULL_SMALL); }
Test(gpu_ops, attention_keycount_null_wide_fp32) { check_attention(DTYPE_F32, NULL_WIDE); }
Test(gpu_ops, attention_keycount_null_wide_bf16) { check_attention(DTYPE_BF16, NULL_WIDE); }
Test(gpu_ops, attention_keycount_empty_fp32) { check_attention(DTYPE_F32, EMPTY_SMALL); }
Test(gpu_ops, attention_keycount_empty_bf16) { check_attention(DTYPE_BF16, EMPTY_SMALL); }
Test(gpu_ops, attention_keycount_empty_wide_fp32) { check_attention(DTYPE_F32, EMPTY_WIDE); }
Test(gpu_ops, attention_keycount_empty_wide_bf16) { check_attention(DTYPE_BF16, EMPTY_WIDE); }

/* ---- SwiGLU ---------------------------------------------------------------------------------- */

/* f = 384: the 16-byte-pack kernels; f = 383: the element kernels. The backward overwrites
 * its random prefill on both backends. */
static void check_swiglu(DType dt)
{
    GpuPair P = gpu_pair_open(dt);
    int widths[2] = {384, 383};
    for (int w = 0; w < 2; w++) {
        int N = 157, f = widths[w];
        Pair gu = pair_random(&P, (size_t)N * 2 * f, 1, 1.5f);
        Pair h = pair_random(&P, (size_t)N * f, 1, 1.0f);
        P.cpu->swiglu_forward(P.cpu, h.host, gu.host, N, f);
        P.gpu->swiglu_forward(P.gpu, h.dev, gu.dev, N, f);
        expect_close(&P, w ? "swiglu_forward (odd f)" : "swiglu_forward", &h);
        Pair dh = pair_random(&P, (size_t)N * f, 1, 1.0f), dgu = pair_random(&P, (size_t)N * 2 * f, 1, 1.0f);
        P.cpu->swiglu_backward(P.cpu, dgu.host, dh.host, gu.host, N, f);
        P.gpu->swiglu_backward(P.gpu, dgu.dev, dh.dev, gu.dev, N, f);
        expect_close(&P, w ? "swiglu_backward (odd f)" : "swiglu_backward", &dgu);
        pair_free(&P, &gu); pair_free(&P, &h); pair_free(&P, &dh); pair_free(&P, &dgu);
    }
    gpu_pair_close(&P);
}
Test(gpu_ops, swiglu_fp32) { check_swiglu(DTYPE_F32); }
Test(gpu_ops, swiglu_bf16) { check_swiglu(DTYPE_BF16); }

/* ---- cross-entropy ---------------------------------------------------------------------------- */

static void check_cross_entropy(DType dt)
{
    GpuPair P = gpu_pair_open(dt);
    int N = 61, V = 3001;
    int32_t tg[61];
    for (int i = 0; i < N; i++) tg[i] = i % 9 == 4 ? -1 : (int32_t)(rng_mix64(P.seed ^ (uint64_t)i) % V);
    Pair targets = pair_ints(&P, tg, N);
    Pair logits = pair_random(&P, (size_t)N * V, 1, 3.0f);
    Pair losses = pair_random(&P, N, 0, 1.0f), dlogits = pair_random(&P, (size_t)N * V, 1, 1.0f);
    /* forward only, then with the gradient in a separate buffer, then in place */
    P.cpu->cross_entropy(P.cpu, losses.host, NULL, logits.host, targets.ihost, N, V, 0.5f, 0.01f);
    P.gpu->cross_entropy(P.gpu, losses.dev, NULL, logits.dev, targets.dev, N, V, 0.5f, 0.01f);
    expect_close(&P, "cross_entropy losses", &losses);
    P.cpu->cross_entropy(P.cpu, losses.host, dlogits.host, logits.host, targets.ihost, N, V, 0.5f, 0.01f);
    P.gpu->cross_entropy(P.gpu, losses.dev, dlogits.dev, logits.dev, targets.dev, N, V, 0.5f, 0.01f);
    expect_close(&P, "cross_entropy dlogits", &dlogits);
    P.cpu->cross_entropy(P.cpu, losses.host, logits.host, logits.host, targets.ihost, N, V, 0.5f, 0.01f);
    P.gpu->cross_entropy(P.gpu, losses.dev, logits.dev, logits.dev, targets.dev, N, V, 0.5f, 0.01f);
    expect_close(&P, "cross_entropy in place", &logits);
    expect_close(&P, "cross_entropy losses (in place)", &losses);
    pair_free(&P, &targets); pair_free(&P, &logits); pair_free(&P, &losses); pair_free(&P, &dlogits);
    gpu_pair_close(&P);
}
Test(gpu_ops, cross_entropy_fp32) { check_cross_entropy(DTYPE_F32); }
Test(gpu_ops, cross_entropy_bf16) { check_cross_entropy(DTYPE_BF16); }

/* ---- router ----------------------------------------------------------------------------------- */

static void check_router(DType dt)
{
    GpuPair P = gpu_pair_open(dt);
    int B = 3, T = 111, d = 256;
    Pair q = pair_random(&P, (size_t)B * T * d, 1, 1.0f), k = pair_random(&P, (size_t)B * T * d, 1, 1.0f);
    Pair p = pair_random(&P, (size_t)B * T, 0, 1.0f);
    P.cpu->router_forward(P.cpu, p.host, q.host, k.host, B, T, d);
    P.gpu->router_forward(P.gpu, p.dev, q.dev, k.dev, B, T, d);
    expect_close(&P, "router_forward", &p);
    Pair dp = pair_random(&P, (size_t)B * T, 0, 1.0f);
    Pair dq = pair_random(&P, (size_t)B * T * d, 1, 0.01f), dk = pair_random(&P, (size_t)B * T * d, 1, 0.01f);
    P.cpu->router_backward(P.cpu, dq.host, dk.host, dp.host, q.host, k.host, B, T, d);
    P.gpu->router_backward(P.gpu, dq.dev, dk.dev, dp.dev, q.dev, k.dev, B, T, d);
    expect_close(&P, "router_backward dq", &dq);
    expect_close(&P, "router_backward dk", &dk);
    pair_free(&P, &q); pair_free(&P, &k); pair_free(&P, &p); pair_free(&P, &dp); pair_free(&P, &dq); pair_free(&P, &dk);
    gpu_pair_close(&P);
}
Test(gpu_ops, router_fp32) { check_router(DTYPE_F32); }
Test(gpu_ops, router_bf16) { check_router(DTYPE_BF16); }

/* ---- boundaries: sampling must match the CPU bit for bit -------------------------------------- */

Test(gpu_ops, boundary_sample_bit_exact)
{
    GpuPair P = gpu_pair_open(DTYPE_F32);
    int n = 200003;
    Pair p = pair_uniform(&P, n, 0, 0.0f, 1.0f);
    for (int i = 0; i < n; i += 97) p.host[i] = 1.0f; /* sequence starts */
    for (int i = 5; i < n; i += 101) p.host[i] = 0.0f;
    pair_upload(&P, &p);
    Pair b = pair_ints(&P, NULL, n);
    float taus[3] = {1.0f, 0.5f, 2.0f};
    for (int i = 0; i < 3; i++) {
        uint64_t seed = P.seed + (uint64_t)i, offset = 12345u * (uint64_t)i;
        P.cpu->boundary_sample(P.cpu, b.ihost, p.host, n, -1.0f, taus[i], seed, offset);
        P.gpu->boundary_sample(P.gpu, b.dev, p.dev, n, -1.0f, taus[i], seed, offset);
        char name[64];
        snprintf(name, sizeof name, "boundary_sample tau=%.1f", taus[i]);
        expect_ints_equal(&P, name, &b);
    }
    P.cpu->boundary_sample(P.cpu, b.ihost, p.host, n, 0.5f, 1.0f, 0, 0);
    P.gpu->boundary_sample(P.gpu, b.dev, p.dev, n, 0.5f, 1.0f, 0, 0);
    expect_ints_equal(&P, "boundary_sample threshold", &b);
    pair_free(&P, &p); pair_free(&P, &b);
    gpu_pair_close(&P);
}

/* Random boundaries with b[0] = 1 per sequence, about one in `R`. */
static int32_t *random_boundaries(GpuPair *P, int B, int T, int R)
{
    int32_t *b = malloc(sizeof(int32_t) * B * T);
    for (int s = 0; s < B; s++)
        for (int t = 0; t < T; t++)
            b[s * T + t] = t == 0 || rng_uniform(P->seed ^ 0xb0b, (uint64_t)s * T + t) < 1.0f / R;
    return b;
}

Test(gpu_ops, segment_index_exact)
{
    GpuPair P = gpu_pair_open(DTYPE_F32);
    int B = 5, T = 2500; /* more than one scan pass per sequence */
    int32_t *bh = random_boundaries(&P, B, T, 4);
    Pair b = pair_ints(&P, bh, (size_t)B * T);
    for (int own = 0; own < 2; own++) {
        Pair seg = pair_ints(&P, NULL, (size_t)B * T), starts = pair_ints(&P, NULL, (size_t)B * T);
        Pair counts = pair_ints(&P, NULL, B), kc = pair_ints(&P, NULL, (size_t)B * T);
        P.cpu->segment_index(P.cpu, seg.ihost, starts.ihost, counts.ihost, kc.ihost, b.ihost, B, T, own);
        P.gpu->segment_index(P.gpu, seg.dev, starts.dev, counts.dev, kc.dev, b.dev, B, T, own);
        expect_ints_equal(&P, "segment_index seg", &seg);
        expect_ints_equal(&P, "segment_index starts", &starts);
        expect_ints_equal(&P, "segment_index counts", &counts);
        expect_ints_equal(&P, own ? "segment_index key_count (own)" : "segment_index key_count", &kc);
        pair_free(&P, &seg); pair_free(&P, &starts); pair_free(&P, &counts); pair_free(&P, &kc);
    }
    free(bh);
    pair_free(&P, &b);
    gpu_pair_close(&P);
}

/* segment mean, the packed and padded layouts and EMA on one segmentation */
static void check_concept_ops(DType dt)
{
    GpuPair P = gpu_pair_open(dt);
    int B = 3, T = 203, d = 192;
    int32_t *bh = random_boundaries(&P, B, T, 4);
    Pair b = pair_ints(&P, bh, (size_t)B * T);
    Pair seg = pair_ints(&P, NULL, (size_t)B * T), starts = pair_ints(&P, NULL, (size_t)B * T);
    Pair counts = pair_ints(&P, NULL, B), kc = pair_ints(&P, NULL, (size_t)B * T);
    P.cpu->segment_index(P.cpu, seg.ihost, starts.ihost, counts.ihost, kc.ihost, b.ihost, B, T, 0);
    P.gpu->segment_index(P.gpu, seg.dev, starts.dev, counts.dev, kc.dev, b.dev, B, T, 0);
    int M = 0;
    for (int s = 0; s < B; s++) M = counts.ihost[s] > M ? counts.ihost[s] : M;
    M += 3; /* rows past every count must come out zero */

    Pair h = pair_random(&P, (size_t)B * T * d, 1, 1.0f), c = pair_random(&P, (size_t)B * M * d, 1, 1.0f);
    P.cpu->segment_mean_forward(P.cpu, c.host, h.host, starts.ihost, counts.ihost, B, T, M, d);
    P.gpu->segment_mean_forward(P.gpu, c.dev, h.dev, starts.dev, counts.dev, B, T, M, d);
    expect_close(&P, "segment_mean_forward", &c);
    Pair dc = pair_random(&P, (size_t)B * M * d, 1, 1.0f), dh = pair_random(&P, (size_t)B * T * d, 1, 1.0f);
    P.cpu->segment_mean_backward(P.cpu, dh.host, dc.host, seg.ihost, starts.ihost, counts.ihost, B, T, M, d);
    P.gpu->segment_mean_backward(P.gpu, dh.dev, dc.dev, seg.dev, starts.dev, counts.dev, B, T, M, d);
    expect_close(&P, "segment_mean_backward", &dh);

    /* packed and padded concept rows, over random prefills: packed rows past the concepts and
     * padded rows past each count come out zero */
    int total = 0;
    for (int s = 0; s < B; s++) total += counts.ihost[s];
    Pair packed = pair_random(&P, (size_t)(total + 5) * d, 1, 1.0f), padded = pair_random(&P, (size_t)B * M * d, 1, 1.0f);
    P.cpu->concepts_pack(P.cpu, packed.host, c.host, counts.ihost, B, M, total + 5, d);
    P.gpu->concepts_pack(P.gpu, packed.dev, c.dev, counts.dev, B, M, total + 5, d);
    expect_close(&P, "concepts_pack", &packed);
    P.cpu->concepts_pad(P.cpu, padded.host, packed.host, counts.ihost, B, M, d);
    P.gpu->concepts_pad(P.gpu, padded.dev, packed.dev, counts.dev, B, M, d);
    expect_close(&P, "concepts_pad", &padded);
    pair_free(&P, &packed);
    pair_free(&P, &padded);

    /* EMA: p in (0,1) with some clamped values at concept starts */
    Pair p = pair_uniform(&P, (size_t)B * T, 0, 0.0f, 1.0f);
    for (int i = 0; i < B * T; i += 7) p.host[i] = i % 2 ? 1.0f : 5e-5f;
    pair_upload(&P, &p);
    Pair z = pair_random(&P, (size_t)B * M * d, 1, 1.0f), zt = pair_random(&P, (size_t)B * M * d, 1, 1.0f);
    P.cpu->ema_forward(P.cpu, zt.host, z.host, p.host, starts.ihost, counts.ihost, B, T, M, d);
    P.gpu->ema_forward(P.gpu, zt.dev, z.dev, p.dev, starts.dev, counts.dev, B, T, M, d);
    expect_close(&P, "ema_forward", &zt);
    Pair dzt = pair_random(&P, (size_t)B * M * d, 1, 1.0f), dz = pair_random(&P, (size_t)B * M * d, 1, 1.0f);
    Pair dp = pair_random(&P, (size_t)B * T, 0, 1.0f);
    P.cpu->ema_backward(P.cpu, dz.host, dp.host, dzt.host, z.host, zt.host, p.host, starts.ihost, counts.ihost, B, T, M, d);
    P.gpu->ema_backward(P.gpu, dz.dev, dp.dev, dzt.dev, z.dev, zt.dev, p.dev, starts.dev, counts.dev, B, T, M, d);
    expect_close(&P, "ema_backward dz", &dz);
    expect_close(&P, "ema_backward dp", &dp);
    P.cpu->ema_backward(P.cpu, dz.host, NULL, dzt.host, z.host, zt.host, p.host, starts.ihost, counts.ihost, B, T, M, d);
    P.gpu->ema_backward(P.gpu, dz.dev, NULL, dzt.dev, z.dev, zt.dev, p.dev, starts.dev, counts.dev, B, T, M, d);
    expect_close(&P, "ema_backward dz (p detached)", &dz);

    float coef[3] = {0.25f, -1.5f, 3.0f};
    P.cpu->add_per_row(P.cpu, dp.host, coef, B, T);
    P.gpu->add_per_row(P.gpu, dp.dev, coef, B, T);
    expect_close(&P, "add_per_row", &dp);

    free(bh);
    Pair *all[] = {&b, &seg, &starts, &counts, &kc, &h, &c, &dc, &dh, &p, &z, &zt, &dzt, &dz, &dp};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(&P, all[i]);
    gpu_pair_close(&P);
}
Test(gpu_ops, concept_ops_fp32) { check_concept_ops(DTYPE_F32); }
Test(gpu_ops, concept_ops_bf16) { check_concept_ops(DTYPE_BF16); }

/* ---- reductions, clipping, AdamW --------------------------------------------------------------- */

static float gpu_scalar(GpuPair *P, const float *dev)
{
    float v;
    P->gpu->download(P->gpu, &v, dev, sizeof v);
    return v;
}

static void expect_scalar(GpuPair *P, const char *op, float gpu, float cpu, double tol)
{
    double rel = fabs((double)gpu - cpu) / fmax(fabs((double)cpu), 1e-30);
    printf("ERRTAB %-28s %-5s %.3e %.0e\n", op, P->dtype, rel, tol);
    fflush(stdout);
    cr_expect_leq(rel, tol, "%s: gpu %.9g cpu %.9g (seed %llu)", op, gpu, cpu, (unsigned long long)P->seed);
}

static void check_reductions(DType dt)
{
    GpuPair P = gpu_pair_open(dt);
    size_t sizes[2] = {4099, 3000017}; /* one-block and many-block paths */
    for (int si = 0; si < 2; si++) {
        size_t n = sizes[si];
        Pair x = pair_random(&P, n, 0, 1.0f), xa = pair_random(&P, n, 1, 1.0f);
        Pair out = pair_random(&P, 1, 0, 1.0f);
        float cpu_out = out.host[0];
        P.cpu->sum_squares_f32(P.cpu, &cpu_out, x.host, n);
        P.gpu->sum_squares_f32(P.gpu, out.dev, x.dev, n);
        expect_scalar(&P, si ? "sum_squares_f32 (large)" : "sum_squares_f32", gpu_scalar(&P, out.dev), cpu_out, 1e-5);
        P.cpu->sum_f32(P.cpu, &cpu_out, x.host, n);
        P.gpu->sum_f32(P.gpu, out.dev, x.dev, n);
        expect_scalar(&P, si ? "sum_f32 (large)" : "sum_f32", gpu_scalar(&P, out.dev), cpu_out, 1e-4);
        P.cpu->mean_abs(P.cpu, &cpu_out, xa.host, n);
        P.gpu->mean_abs(P.gpu, out.dev, xa.dev, n);
        expect_scalar(&P, si ? "mean_abs (large)" : "mean_abs", gpu_scalar(&P, out.dev), cpu_out, 1e-5);
        int32_t *ints = malloc(n * sizeof(int32_t));
        for (size_t i = 0; i < n; i++) ints[i] = (int32_t)(rng_mix64(P.seed + i) % 3);
        Pair xi = pair_ints(&P, ints, n);
        P.cpu->sum_i32(P.cpu, &cpu_out, xi.ihost, n);
        P.gpu->sum_i32(P.gpu, out.dev, xi.dev, n);
        expect_scalar(&P, "sum_i32", gpu_scalar(&P, out.dev), cpu_out, 0.0);
        free(ints);
        pair_free(&P, &x); pair_free(&P, &xa); pair_free(&P, &out); pair_free(&P, &xi);
    }
    gpu_pair_close(&P);
}
Test(gpu_ops, reductions_fp32) { check_reductions(DTYPE_F32); }
Test(gpu_ops, reductions_bf16) { check_reductions(DTYPE_BF16); }

static void check_optimizer(DType dt)
{
    GpuPair P = gpu_pair_open(dt);
    size_t n = 50021;
    Pair norm_sq = pair_uniform(&P, 1, 0, 2.0f, 50.0f), scale = pair_random(&P, 1, 0, 1.0f);
    float cpu_scale;
    float max_norms[3] = {1.0f, 100.0f, 0.0f};
    for (int i = 0; i < 3; i++) {
        P.cpu->clip_scale(P.cpu, &cpu_scale, norm_sq.host, max_norms[i]);
        P.gpu->clip_scale(P.gpu, scale.dev, norm_sq.dev, max_norms[i]);
        expect_scalar(&P, "clip_scale", gpu_scalar(&P, scale.dev), cpu_scale, 1e-7);
    }
    P.cpu->clip_scale(P.cpu, scale.host, norm_sq.host, 1.0f);
    P.gpu->clip_scale(P.gpu, scale.dev, norm_sq.dev, 1.0f);
    Pair param = pair_random(&P, n, 0, 1.0f), grad = pair_random(&P, n, 0, 1.0f);
    Pair m = pair_random(&P, n, 0, 0.1f), v = pair_uniform(&P, n, 0, 0.0f, 0.1f);
    Pair act = pair_random(&P, n, 1, 1.0f);
    /* groups of odd sizes, so that tiles of the one-launch kernel straddle group boundaries,
     * and a gap of elements in no group */
    AdamwGroup groups[4] = {
        {.offset = 0, .count = 1, .lr = 1e-2f, .eps = 1e-8f, .weight_decay = 0.1f},
        {.offset = 1, .count = 1500, .lr = 3e-3f, .eps = 1e-6f, .weight_decay = 0.0f},
        {.offset = 1501, .count = 30000, .lr = 2e-2f, .eps = 1e-8f, .weight_decay = 0.05f},
        {.offset = 31511, .count = n - 31511, .lr = 5e-3f, .eps = 1e-7f, .weight_decay = 0.1f},
    };
    AdamwGroup *groups_dev = P.gpu->alloc(P.gpu, sizeof groups);
    P.gpu->upload(P.gpu, groups_dev, groups, sizeof groups);
    for (int t = 1; t <= 3; t++) {
        P.cpu->adamw(P.cpu, param.host, act.host, grad.host, m.host, v.host, n, groups, 4, 0.8f, 0.9f, 0.95f, t, scale.host);
        P.gpu->adamw(P.gpu, param.dev, act.dev, grad.dev, m.dev, v.dev, n, groups_dev, 4, 0.8f, 0.9f, 0.95f, t, scale.dev);
    }
    P.gpu->free(P.gpu, groups_dev);
    expect_close(&P, "adamw param", &param);
    expect_close(&P, "adamw m", &m);
    expect_close(&P, "adamw v", &v);
    expect_close(&P, "adamw working copy", &act);
    Pair *all[] = {&norm_sq, &scale, &param, &grad, &m, &v, &act};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(&P, all[i]);
    gpu_pair_close(&P);
}
Test(gpu_ops, optimizer_fp32) { check_optimizer(DTYPE_F32); }
Test(gpu_ops, optimizer_bf16) { check_optimizer(DTYPE_BF16); }
