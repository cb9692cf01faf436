/* tests/test_engine_ops.c: every op of the CPU backend (engine/ops.h): gradients against
 * central finite differences on seeded random inputs, forwards against direct computations,
 * the accumulate (+=) contract of backward ops, and the FLOP counts of GEMM and attention. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops.h"
#include "engine/shape.h"
#include "tests/engine_test_util.h"

/* fp32 forwards, double sums: a step of 1e-2 keeps rounding error (~1e-6 / h) and truncation
 * error (~h^2) both near 1e-4, far below these bounds. */
#define FD_H 1e-2f
#define FD_ATOL 2e-3
#define FD_RTOL 1e-2
#define HD SHAPE_HEAD_DIM

/* Backward ops accumulate: gradient buffers start at this value and the tests subtract it. */
#define PREFILL 0.25f

/* Every buffer and backend a test makes is released after it (the suite's fini), so that a
 * test that stops at a failed assertion leaks nothing either. */
enum { MAX_TRACKED = 256 };
static void *tracked[MAX_TRACKED];
static int n_tracked;
static Backend *tracked_backends[8];
static int n_backends;

static void *track(void *p)
{
    cr_assert_not_null(p, "out of memory");
    cr_assert_lt(n_tracked, MAX_TRACKED, "raise MAX_TRACKED");
    return tracked[n_tracked++] = p;
}

static float *vec(size_t n) { return track(calloc(n ? n : 1, sizeof(float))); }
static int32_t *ivec(size_t n) { return track(calloc(n ? n : 1, sizeof(int32_t))); }

static Backend *cpu_backend(void)
{
    Backend *be = backend_cpu_create();
    cr_assert_lt(n_backends, 8);
    return tracked_backends[n_backends++] = be;
}

static void release_tracked(void)
{
    for (int i = 0; i < n_tracked; i++) free(tracked[i]);
    for (int i = 0; i < n_backends; i++) tracked_backends[i]->destroy(tracked_backends[i]);
    n_tracked = n_backends = 0;
}

TestSuite(engine_ops, .fini = release_tracked);

static void prefill(float *x, size_t n) { for (size_t i = 0; i < n; i++) x[i] = PREFILL; }
static void unprefill(float *x, size_t n) { for (size_t i = 0; i < n; i++) x[i] -= PREFILL; }

/* ---- gemm ------------------------------------------------------------------------------- */

Test(engine_ops, gemm_all_transposes_and_flops)
{
    Backend *be = cpu_backend();
    int M = 5, N = 7, K = 3;
    float A[5 * 3], B[3 * 7], C[5 * 7], C0[5 * 7];
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            fill_normal(A, 15, 1, 1 + ta);
            fill_normal(B, 21, 1, 3 + tb);
            fill_normal(C0, 35, 1, 5);
            memcpy(C, C0, sizeof C);
            int lda = ta ? M : K, ldb = tb ? K : N;
            be->flops = 0;
            be->gemm(be, ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.7f, C, N, 0);
            cr_assert_eq(be->flops, 2.0 * M * N * K);
            for (int i = 0; i < M; i++) {
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++) {
                        double a = ta ? A[k * lda + i] : A[i * lda + k];
                        double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                        s += a * b;
                    }
                    double want = 0.5 * s + 0.7 * C0[i * N + j];
                    cr_assert_float_eq(C[i * N + j], want, 1e-5, "ta=%d tb=%d C[%d][%d]", ta, tb, i, j);
                }
            }
        }
    }
}

/* ---- elementwise and reductions --------------------------------------------------------- */

Test(engine_ops, elementwise_and_reductions)
{
    Backend *be = cpu_backend();
    float a[6] = {1, -2, 3, -4, 5, -6}, b[6] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, y[6];
    be->add(be, y, a, b, 6);
    for (int i = 0; i < 6; i++) cr_assert_float_eq(y[i], a[i] + 0.5f, 0);
    be->accumulate(be, y, a, 6);
    for (int i = 0; i < 6; i++) cr_assert_float_eq(y[i], 2 * a[i] + 0.5f, 0);
    be->scale_f32(be, y, 2.0f, 6);
    for (int i = 0; i < 6; i++) cr_assert_float_eq(y[i], 4 * a[i] + 1.0f, 0);
    float out = 0;
    be->sum_f32(be, &out, a, 6);
    cr_assert_float_eq(out, -3.0f, 0);
    int32_t ints[4] = {1, 0, 1, 1};
    be->sum_i32(be, &out, ints, 4);
    cr_assert_float_eq(out, 3.0f, 0);
    out = 1.0f;
    be->sum_squares_f32(be, &out, a, 6); /* accumulates */
    cr_assert_float_eq(out, 1.0f + 91.0f, 0);
    be->mean_abs(be, &out, a, 6);
    cr_assert_float_eq(out, 3.5f, 1e-6);
    float norm_sq = 16.0f, scale;
    be->clip_scale(be, &scale, &norm_sq, 2.0f);
    cr_assert_float_eq(scale, 0.5f, 1e-7);
    be->clip_scale(be, &scale, &norm_sq, 8.0f);
    cr_assert_float_eq(scale, 1.0f, 0);
    be->clip_scale(be, &scale, &norm_sq, 0.0f);
    cr_assert_float_eq(scale, 1.0f, 0);
    float dp[6] = {0}, coef[2] = {1.5f, -2.0f};
    be->add_per_row(be, dp, coef, 2, 3);
    be->add_per_row(be, dp, coef, 2, 3);
    for (int i = 0; i < 6; i++) cr_assert_float_eq(dp[i], 2 * coef[i / 3], 0);
}

/* Three groups with their own LR, ε and decay, and one element outside every group: one call
 * updates each group as AdamW by hand, with the schedule's factor, and leaves the gap alone. */
Test(engine_ops, adamw_matches_hand_computation)
{
    Backend *be = cpu_backend();
    enum { n = 7 };
    float param[n] = {1.0f, -2.0f, 0.5f, 3.0f, -1.5f, 9.0f, 0.25f}, act[n] = {0};
    float grad[n] = {0.5f, -1.0f, 2.0f, -0.25f, 0.75f, 4.0f, -3.0f}, m[n] = {0}, v[n] = {0};
    AdamwGroup groups[3] = {
        {.offset = 0, .count = 2, .lr = 0.1f, .eps = 1e-8f, .weight_decay = 0.01f},
        {.offset = 2, .count = 3, .lr = 0.02f, .eps = 1e-6f, .weight_decay = 0.0f},
        {.offset = 6, .count = 1, .lr = 0.5f, .eps = 1e-3f, .weight_decay = 0.2f},
    }; /* element 5 belongs to no group */
    int group_of[n] = {0, 0, 1, 1, 1, -1, 2};
    float gs = 0.5f, b1 = 0.9f, b2 = 0.99f, lr_factor = 0.7f;
    double pm[n], mm[n] = {0}, vv[n] = {0};
    for (int i = 0; i < n; i++) pm[i] = param[i];
    for (int t = 1; t <= 3; t++) {
        be->adamw(be, param, act, grad, m, v, n, groups, 3, lr_factor, b1, b2, t, &gs);
        for (int i = 0; i < n; i++) {
            if (group_of[i] < 0) {
                cr_assert_eq(param[i], 9.0f, "an element outside every group is left alone");
                cr_assert_eq(m[i], 0.0f);
                continue;
            }
            const AdamwGroup *g_ = &groups[group_of[i]];
            double lr = (double)g_->lr * lr_factor;
            double g = grad[i] * 0.5;
            mm[i] = b1 * mm[i] + (1 - b1) * g;
            vv[i] = b2 * vv[i] + (1 - b2) * g * g;
            double mh = mm[i] / (1 - pow(b1, t)), vh = vv[i] / (1 - pow(b2, t));
            pm[i] -= lr * (mh / (sqrt(vh) + g_->eps) + g_->weight_decay * pm[i]);
            cr_assert_float_eq(param[i], pm[i], 1e-5, "step %d param %d", t, i);
            cr_assert_eq(act[i], param[i], "the working copy follows the master weight");
        }
    }
}

/* ---- embedding -------------------------------------------------------------------------- */

typedef struct {
    Backend *be;
    float *table, *out, *w;
    int32_t tokens[6];
    int V, d, N;
} EmbCtx;

static double emb_loss(void *p)
{
    EmbCtx *c = p;
    c->be->embedding_forward(c->be, c->out, c->tokens, c->table, c->N, c->d);
    return weighted_sum(c->out, c->w, (size_t)c->N * c->d);
}

Test(engine_ops, embedding_gradient)
{
    EmbCtx c = {.be = cpu_backend(), .V = 5, .d = 8, .N = 6, .tokens = {0, 3, 3, 4, 1, 3}};
    c.table = vec(40);
    c.out = vec(48);
    c.w = vec(48);
    fill_normal(c.table, 40, 1, 11);
    fill_normal(c.w, 48, 1, 12);
    emb_loss(&c);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(memcmp(c.out + i * 8, c.table + c.tokens[i] * 8, 32), 0);
    float *dtable = vec(40);
    prefill(dtable, 40);
    c.be->embedding_backward(c.be, dtable, c.w, c.tokens, c.N, c.d);
    unprefill(dtable, 40);
    check_gradient("embedding table", emb_loss, &c, c.table, dtable, 40, 40, FD_H, FD_ATOL, FD_RTOL);
}

/* ---- RMSNorm ---------------------------------------------------------------------------- */

typedef struct {
    Backend *be;
    float *x, *gain, *y, *rstd, *w;
    int N, d;
} NormCtx;

static double norm_loss(void *p)
{
    NormCtx *c = p;
    c->be->rmsnorm_forward(c->be, c->y, c->rstd, c->x, c->gain, c->N, c->d, 1e-6f);
    return weighted_sum(c->y, c->w, (size_t)c->N * c->d);
}

Test(engine_ops, rmsnorm_forward_and_gradient)
{
    NormCtx c = {.be = cpu_backend(), .N = 4, .d = 24};
    size_t n = 96;
    c.x = vec(n); c.y = vec(n); c.w = vec(n); c.gain = vec(24); c.rstd = vec(4);
    fill_normal(c.x, n, 1.5f, 21);
    fill_normal(c.w, n, 1, 22);
    fill_uniform(c.gain, 24, 0.5f, 1.5f, 23);
    norm_loss(&c);
    for (int i = 0; i < 4; i++) {
        double ss = 0;
        for (int j = 0; j < 24; j++) ss += (double)c.x[i * 24 + j] * c.x[i * 24 + j];
        double r = 1 / sqrt(ss / 24 + 1e-6);
        for (int j = 0; j < 24; j++) cr_assert_float_eq(c.y[i * 24 + j], c.x[i * 24 + j] * r * c.gain[j], 1e-5);
    }
    float *dx = vec(n), *dgain = vec(24);
    prefill(dx, n);
    prefill(dgain, 24);
    c.be->rmsnorm_backward(c.be, dx, dgain, c.w, c.x, c.gain, c.rstd, c.N, c.d);
    unprefill(dx, n);
    unprefill(dgain, 24);
    check_gradient("rmsnorm x", norm_loss, &c, c.x, dx, n, n, FD_H, FD_ATOL, FD_RTOL);
    check_gradient("rmsnorm gain", norm_loss, &c, c.gain, dgain, 24, 24, FD_H, FD_ATOL, FD_RTOL);
}

/* ---- per-head RMSNorm + RoPE ------------------------------------------------------------- */

typedef struct {
    Backend *be;
    float *in, *gain, *out, *rstd, *w;
    int B, T, H, stride, rope;
} HeadCtx;

static double head_loss(void *p)
{
    HeadCtx *c = p;
    c->be->head_norm_rope_forward(c->be, c->out, c->rstd, c->in, c->stride, c->gain, c->B, c->T,
                                  c->H, c->rope, 1e-6f);
    return weighted_sum(c->out, c->w, (size_t)c->B * c->T * c->H * HD);
}

static void head_norm_case(int rope)
{
    HeadCtx c = {.be = cpu_backend(), .B = 2, .T = 5, .H = 2, .rope = rope};
    c.stride = 3 * c.H * HD; /* q inside a fused qkv row */
    size_t rows = (size_t)c.B * c.T, n_in = rows * c.stride, n_out = rows * c.H * HD;
    c.in = vec(n_in); c.out = vec(n_out); c.w = vec(n_out); c.gain = vec(HD);
    c.rstd = vec(rows * c.H);
    fill_normal(c.in, n_in, 1, 31 + rope);
    fill_normal(c.w, n_out, 1, 33);
    fill_uniform(c.gain, HD, 0.5f, 1.5f, 34);
    head_loss(&c);
    if (rope) {
        /* A rotation keeps each pair's norm: |out| per head equals that of the unrotated norm. */
        HeadCtx plain = c;
        plain.rope = 0;
        plain.out = vec(n_out);
        head_loss(&plain);
        for (size_t r = 0; r < rows * c.H; r++) {
            double a = 0, b = 0;
            for (int j = 0; j < HD; j++) {
                a += (double)c.out[r * HD + j] * c.out[r * HD + j];
                b += (double)plain.out[r * HD + j] * plain.out[r * HD + j];
            }
            cr_assert_float_eq(a, b, 1e-3 * b);
        }
        /* position 0 is not rotated */
        for (int j = 0; j < HD; j++) cr_assert_float_eq(c.out[j], plain.out[j], 1e-6);
    }
    float *din = vec(n_in), *dgain = vec(HD);
    prefill(din, n_in);
    prefill(dgain, HD);
    c.be->head_norm_rope_backward(c.be, din, c.stride, dgain, c.w, c.in, c.stride, c.gain, c.rstd,
                                  c.B, c.T, c.H, c.rope);
    unprefill(din, n_in);
    unprefill(dgain, HD);
    for (size_t r = 0; r < rows; r++) /* elements past the H heads of a row are not touched */
        for (int j = c.H * HD; j < c.stride; j++) cr_assert_eq(din[r * c.stride + j], 0.0f);
    check_gradient("head_norm_rope in", head_loss, &c, c.in, din, n_in, 300, FD_H, FD_ATOL, FD_RTOL);
    check_gradient("head_norm_rope gain", head_loss, &c, c.gain, dgain, HD, HD, FD_H, FD_ATOL, FD_RTOL);
}

Test(engine_ops, head_norm_gradient) { head_norm_case(0); }
Test(engine_ops, head_norm_rope_gradient) { head_norm_case(1); }

/* ---- attention --------------------------------------------------------------------------- */

typedef struct {
    Backend *be;
    AttnShape s;
    float *q, *k, *v, *k_null, *v_null, *out, *lse, *w;
} AttnCtx;

static size_t attn_out_n(const AttnCtx *c) { return (size_t)c->s.B * c->s.Tq * c->s.o_stride; }

static double attn_loss(void *p)
{
    AttnCtx *c = p;
    c->be->attention_forward(c->be, c->out, c->lse, c->q, c->k, c->v, &c->s);
    return weighted_sum(c->out, c->w, attn_out_n(c));
}

/* The attention output written out directly in double, for one query row and head. */
static void attn_reference(const AttnCtx *c, int b, int h, int i, double *ref)
{
    const AttnShape *s = &c->s;
    int n = s->key_count ? s->key_count[b * s->Tq + i] : i + 1;
    double wsum = 0, acc[HD] = {0}, sc[64 + 1];
    const float *qi = c->q + ((size_t)b * s->Tq + i) * s->q_stride + h * HD;
    double mx = -INFINITY;
    for (int j = 0; j <= n; j++) {
        const float *kj = j < n ? c->k + ((size_t)b * s->Tk + j) * s->k_stride + h * HD
                                : (c->k_null ? c->k_null + h * HD : NULL);
        if (!kj) { sc[j] = -INFINITY; continue; }
        double d = 0;
        for (int e = 0; e < HD; e++) d += (double)qi[e] * kj[e];
        sc[j] = d * s->scale;
        if (sc[j] > mx) mx = sc[j];
    }
    for (int j = 0; j <= n; j++) {
        if (sc[j] == -INFINITY) continue;
        const float *vj = j < n ? c->v + ((size_t)b * s->Tk + j) * s->v_stride + h * HD : c->v_null + h * HD;
        double w = exp(sc[j] - mx);
        wsum += w;
        for (int e = 0; e < HD; e++) acc[e] += w * vj[e];
    }
    for (int e = 0; e < HD; e++) ref[e] = acc[e] / wsum;
}

static void attention_case(int cross)
{
    AttnCtx c = {.be = cpu_backend()};
    int B = 2, H = 2, Tq = 6, Tk = cross ? 4 : 6;
    int32_t key_count[12] = {0, 0, 1, 1, 2, 4, 0, 1, 1, 3, 3, 4};
    c.s = (AttnShape){.B = B, .Tq = Tq, .Tk = Tk, .H = H, .scale = 1.0f / sqrtf(HD)};
    if (cross) { /* separate q, k, v arrays of their own strides, a null key */
        c.s.q_stride = H * HD; c.s.k_stride = H * HD; c.s.v_stride = H * HD;
        c.s.key_count = key_count;
    } else {     /* q, k, v interleaved in one fused qkv row */
        c.s.q_stride = c.s.k_stride = c.s.v_stride = 3 * H * HD;
    }
    c.s.o_stride = H * HD;
    size_t nq = (size_t)B * Tq * c.s.q_stride, nk = (size_t)B * Tk * c.s.k_stride;
    size_t nv = (size_t)B * Tk * c.s.v_stride;
    c.q = vec(nq); c.k = vec(nk); c.v = vec(nv);
    fill_normal(c.q, nq, 1.5f, 41);
    fill_normal(c.k, nk, 1.5f, 42);
    fill_normal(c.v, nv, 1, 43);
    if (cross) {
        c.k_null = vec(H * HD); c.v_null = vec(H * HD);
        fill_normal(c.k_null, H * HD, 1, 44);
        fill_normal(c.v_null, H * HD, 1, 45);
        c.s.k_null = c.k_null; c.s.v_null = c.v_null;
    } else { /* q, k, v as three slices of one row */
        c.k = c.q + H * HD;
        c.v = c.q + 2 * H * HD;
    }
    c.out = vec(attn_out_n(&c)); c.w = vec(attn_out_n(&c)); c.lse = vec((size_t)B * H * Tq);
    fill_normal(c.w, attn_out_n(&c), 1, 46);
    c.be->flops = 0;
    attn_loss(&c);
    double keys = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < Tq; i++) keys += (cross ? key_count[b * Tq + i] + 1 : i + 1);
    cr_assert_float_eq(c.be->flops, 4.0 * HD * H * keys, 1e-9, "forward FLOPs: 4*64 per key, head, query");
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Tq; i++) {
                double ref[HD];
                attn_reference(&c, b, h, i, ref);
                for (int e = 0; e < HD; e++)
                    cr_assert_float_eq(c.out[((size_t)b * Tq + i) * c.s.o_stride + h * HD + e], ref[e], 1e-5,
                                       "b=%d h=%d i=%d", b, h, i);
            }
    float *dq = vec(nq), *dk = cross ? vec(nk) : dq, *dv = cross ? vec(nv) : dq;
    float *dkn = cross ? vec(H * HD) : NULL, *dvn = cross ? vec(H * HD) : NULL;
    prefill(dq, nq);
    if (cross) { prefill(dk, nk); prefill(dv, nv); prefill(dkn, H * HD); prefill(dvn, H * HD); }
    float *dk_at = cross ? dk : dq + H * HD, *dv_at = cross ? dv : dq + 2 * H * HD;
    c.be->attention_backward(c.be, dq, dk_at, dv_at, dkn, dvn, c.w, c.out, c.lse, c.q, c.k, c.v, &c.s);
    unprefill(dq, nq);
    if (cross) {
        unprefill(dk, nk); unprefill(dv, nv); unprefill(dkn, H * HD); unprefill(dvn, H * HD);
        check_gradient("attention q", attn_loss, &c, c.q, dq, nq, 200, FD_H, FD_ATOL, FD_RTOL);
        check_gradient("attention k", attn_loss, &c, c.k, dk, nk, 200, FD_H, FD_ATOL, FD_RTOL);
        check_gradient("attention v", attn_loss, &c, c.v, dv, nv, 200, FD_H, FD_ATOL, FD_RTOL);
        check_gradient("attention k_null", attn_loss, &c, c.k_null, dkn, H * HD, 64, FD_H, FD_ATOL, FD_RTOL);
        check_gradient("attention v_null", attn_loss, &c, c.v_null, dvn, H * HD, 64, FD_H, FD_ATOL, FD_RTOL);
    } else {
        check_gradient("attention fused qkv", attn_loss, &c, c.q, dq, nq, 500, FD_H, FD_ATOL, FD_RTOL);
    }
}

Test(engine_ops, causal_self_attention_gradient) { attention_case(0); }
Test(engine_ops, cross_attention_key_count_null_gradient) { attention_case(1); }

/* ---- SwiGLU ------------------------------------------------------------------------------ */

typedef struct {
    Backend *be;
    float *gu, *h, *w;
    int N, f;
} SwigluCtx;

static double swiglu_loss(void *p)
{
    SwigluCtx *c = p;
    c->be->swiglu_forward(c->be, c->h, c->gu, c->N, c->f);
    return weighted_sum(c->h, c->w, (size_t)c->N * c->f);
}

Test(engine_ops, swiglu_gradient)
{
    SwigluCtx c = {.be = cpu_backend(), .N = 3, .f = 10};
    c.gu = vec(60); c.h = vec(30); c.w = vec(30);
    fill_normal(c.gu, 60, 2, 51);
    fill_normal(c.w, 30, 1, 52);
    swiglu_loss(&c);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 10; j++) {
            double g = c.gu[i * 20 + j], u = c.gu[i * 20 + 10 + j];
            cr_assert_float_eq(c.h[i * 10 + j], g / (1 + exp(-g)) * u, 1e-5);
        }
    float *dgu = vec(60);
    prefill(dgu, 60); /* overwritten, not accumulated */
    c.be->swiglu_backward(c.be, dgu, c.w, c.gu, c.N, c.f);
    check_gradient("swiglu gate_up", swiglu_loss, &c, c.gu, dgu, 60, 60, FD_H, FD_ATOL, FD_RTOL);
}

/* ---- cross-entropy ----------------------------------------------------------------------- */

typedef struct {
    Backend *be;
    float *logits, *losses;
    int32_t targets[4];
    int N, V;
    float scale;
} CeCtx;

static double ce_loss(void *p)
{
    CeCtx *c = p;
    c->be->cross_entropy(c->be, c->losses, NULL, c->logits, c->targets, c->N, c->V, c->scale, 0);
    double s = 0;
    for (int i = 0; i < c->N; i++) s += 0.3 * c->losses[i];
    return s;
}

Test(engine_ops, cross_entropy_loss_and_gradient)
{
    CeCtx c = {.be = cpu_backend(), .N = 4, .V = 9, .scale = 0.5f, .targets = {3, -1, 0, 8}};
    c.logits = vec(36); c.losses = vec(4);
    fill_normal(c.logits, 36, 3, 61);
    ce_loss(&c);
    for (int i = 0; i < 4; i++) {
        if (c.targets[i] < 0) { cr_assert_eq(c.losses[i], 0.0f); continue; }
        double se = 0;
        for (int j = 0; j < 9; j++) se += exp(0.5 * c.logits[i * 9 + j]);
        cr_assert_float_eq(c.losses[i], log(se) - 0.5 * c.logits[i * 9 + c.targets[i]], 1e-5);
    }
    float *dlogits = vec(36);
    prefill(dlogits, 36); /* overwritten, not accumulated */
    c.be->cross_entropy(c.be, c.losses, dlogits, c.logits, c.targets, c.N, c.V, c.scale, 0.3f);
    for (int j = 0; j < 9; j++) cr_assert_eq(dlogits[9 + j], 0.0f, "an ignored target has no gradient");
    check_gradient("cross_entropy logits", ce_loss, &c, c.logits, dlogits, 36, 36, FD_H, FD_ATOL, FD_RTOL);
    float *alias = vec(36);
    memcpy(alias, c.logits, 36 * sizeof(float));
    c.be->cross_entropy(c.be, c.losses, alias, alias, c.targets, c.N, c.V, c.scale, 0.3f);
    for (int j = 0; j < 36; j++) cr_assert_float_eq(alias[j], dlogits[j], 1e-7, "aliased dlogits");
}

/* ---- router ------------------------------------------------------------------------------ */

typedef struct {
    Backend *be;
    float *q, *k, *p, *w;
    int B, T, d;
} RouterCtx;

static double router_loss(void *ptr)
{
    RouterCtx *c = ptr;
    c->be->router_forward(c->be, c->p, c->q, c->k, c->B, c->T, c->d);
    return weighted_sum(c->p, c->w, (size_t)c->B * c->T);
}

Test(engine_ops, router_probabilities_and_gradient)
{
    RouterCtx c = {.be = cpu_backend(), .B = 2, .T = 5, .d = 16};
    size_t n = 160;
    c.q = vec(n); c.k = vec(n); c.p = vec(10); c.w = vec(10);
    fill_normal(c.q, n, 1, 71);
    fill_normal(c.k, n, 1, 72);
    fill_normal(c.w, 10, 1, 73);
    router_loss(&c);
    for (int b = 0; b < 2; b++) {
        cr_assert_eq(c.p[b * 5], 1.0f, "the first token starts a concept");
        for (int t = 1; t < 5; t++) {
            const float *qp = c.q + (b * 5 + t - 1) * 16, *kt = c.k + (b * 5 + t) * 16;
            double dot = 0, qq = 0, kk = 0;
            for (int j = 0; j < 16; j++) { dot += qp[j] * kt[j]; qq += qp[j] * qp[j]; kk += kt[j] * kt[j]; }
            cr_assert_float_eq(c.p[b * 5 + t], (1 - dot / sqrt(qq * kk)) / 2, 1e-6);
        }
    }
    /* identical q_{t-1} and k_t give p = 0 */
    memcpy(c.k + 16, c.q, 16 * sizeof(float));
    router_loss(&c);
    cr_assert_float_eq(c.p[1], 0.0f, 1e-6);
    fill_normal(c.k, n, 1, 72);
    float *dq = vec(n), *dk = vec(n);
    prefill(dq, n);
    prefill(dk, n);
    c.be->router_backward(c.be, dq, dk, c.w, c.q, c.k, c.B, c.T, c.d);
    unprefill(dq, n);
    unprefill(dk, n);
    check_gradient("router q", router_loss, &c, c.q, dq, n, n, FD_H, FD_ATOL, FD_RTOL);
    check_gradient("router k", router_loss, &c, c.k, dk, n, n, FD_H, FD_ATOL, FD_RTOL);
}

/* ---- boundaries and segments ------------------------------------------------------------- */

Test(engine_ops, boundary_sample_threshold_and_bernoulli)
{
    Backend *be = cpu_backend();
    enum { n = 20000 };
    float *p = vec(n);
    int32_t *b = ivec(n), *b2 = ivec(n);
    for (int i = 0; i < n; i++) p[i] = 0.3f;
    p[0] = 1.0f;
    p[1] = 0.5f;
    be->boundary_sample(be, b, p, n, 0.5f, 1.0f, 0, 0);
    cr_assert_eq(b[0], 1);
    cr_assert_eq(b[1], 1, "p >= threshold is a boundary");
    for (int i = 2; i < n; i++) cr_assert_eq(b[i], 0);
    /* Bernoulli(0.3): 4.4 standard deviations is 0.0143 at n = 20000 */
    be->boundary_sample(be, b, p, n, -1.0f, 1.0f, 99, 0);
    double mean = 0;
    for (int i = 2; i < n; i++) mean += b[i];
    mean /= n - 2;
    cr_assert_float_eq(mean, 0.3, 0.0143, "mean of Bernoulli(0.3) draws: %g", mean);
    cr_assert_eq(b[0], 1, "p = 1 always starts a concept");
    /* the counter stream: offset k shifts the draws by k; the same seed draws the same */
    be->boundary_sample(be, b2, p + 5, n - 5, -1.0f, 1.0f, 99, 5);
    for (int i = 5; i < n; i++) cr_assert_eq(b2[i - 5], b[i]);
    for (int i = 2; i < n; i++) cr_assert_eq(b[i], rng_uniform(99, i) < 0.3f);
    /* sharpening with tau = 0.5: sigmoid(2 logit(0.3)) = 0.09 / 0.58 */
    be->boundary_sample(be, b, p, n, -1.0f, 0.5f, 7, 0);
    mean = 0;
    for (int i = 2; i < n; i++) mean += b[i];
    mean /= n - 2;
    cr_assert_float_eq(mean, 0.09 / 0.58, 0.0115, "sharpened mean %g", mean);

}

Test(engine_ops, segment_index_by_hand)
{
    Backend *be = cpu_backend();
    int32_t b[12] = {1, 0, 0, 1, 1, 0, /* */ 1, 1, 0, 0, 0, 0};
    int32_t seg[12], starts[12], counts[2], kc[12];
    be->segment_index(be, seg, starts, counts, kc, b, 2, 6, 0);
    int32_t want_seg[12] = {0, 0, 0, 1, 2, 2, 0, 1, 1, 1, 1, 1};
    int32_t want_starts[12] = {0, 3, 4, -1, -1, -1, 0, 1, -1, -1, -1, -1};
    cr_assert_eq(counts[0], 3);
    cr_assert_eq(counts[1], 2);
    for (int i = 0; i < 12; i++) {
        cr_assert_eq(seg[i], want_seg[i], "seg[%d]", i);
        cr_assert_eq(starts[i], want_starts[i], "starts[%d]", i);
        cr_assert_eq(kc[i], want_seg[i], "leak-free key_count[%d]", i);
    }
    be->segment_index(be, seg, starts, counts, kc, b, 2, 6, 1);
    for (int i = 0; i < 12; i++) cr_assert_eq(kc[i], want_seg[i] + 1, "include_own key_count[%d]", i);
}

typedef struct {
    Backend *be;
    int32_t seg[12], starts[12], counts[2];
    float *h, *c, *w, *z, *zt, *p;
    int B, T, M, d;
} SegCtx;

static void seg_setup(SegCtx *c)
{
    int32_t b[12] = {1, 0, 0, 1, 1, 0, /* */ 1, 1, 0, 0, 0, 0}, kc[12];
    c->be = cpu_backend();
    c->B = 2; c->T = 6; c->M = 4; c->d = 8;
    c->be->segment_index(c->be, c->seg, c->starts, c->counts, kc, b, 2, 6, 0);
}

static double segmean_loss(void *ptr)
{
    SegCtx *c = ptr;
    c->be->segment_mean_forward(c->be, c->c, c->h, c->starts, c->counts, c->B, c->T, c->M, c->d);
    return weighted_sum(c->c, c->w, (size_t)c->B * c->M * c->d);
}

Test(engine_ops, segment_mean_forward_and_gradient)
{
    SegCtx c;
    seg_setup(&c);
    size_t nh = 12 * 8, nc = 2 * 4 * 8;
    c.h = vec(nh); c.c = vec(nc); c.w = vec(nc);
    fill_normal(c.h, nh, 1, 81);
    fill_normal(c.w, nc, 1, 82);
    fill_normal(c.c, nc, 1, 83); /* garbage the forward must overwrite */
    segmean_loss(&c);
    for (int j = 0; j < 8; j++) {
        cr_assert_float_eq(c.c[0 * 8 + j], (c.h[0 * 8 + j] + c.h[1 * 8 + j] + c.h[2 * 8 + j]) / 3, 1e-6);
        cr_assert_float_eq(c.c[2 * 8 + j], (c.h[4 * 8 + j] + c.h[5 * 8 + j]) / 2, 1e-6);
        cr_assert_eq(c.c[3 * 8 + j], 0.0f, "padding concept rows are zero");
        cr_assert_eq(c.c[(4 + 2) * 8 + j], 0.0f);
        cr_assert_float_eq(c.c[(4 + 1) * 8 + j],
                           (c.h[7 * 8 + j] + c.h[8 * 8 + j] + c.h[9 * 8 + j] + c.h[10 * 8 + j] + c.h[11 * 8 + j]) / 5, 1e-6);
    }
    float *dh = vec(nh);
    prefill(dh, nh);
    c.be->segment_mean_backward(c.be, dh, c.w, c.seg, c.starts, c.counts, c.B, c.T, c.M, c.d);
    unprefill(dh, nh);
    check_gradient("segment_mean h", segmean_loss, &c, c.h, dh, nh, nh, FD_H, FD_ATOL, FD_RTOL);
}

static double ema_loss(void *ptr)
{
    SegCtx *c = ptr;
    c->be->ema_forward(c->be, c->zt, c->z, c->p, c->starts, c->counts, c->B, c->T, c->M, c->d);
    return weighted_sum(c->zt, c->w, (size_t)c->B * c->M * c->d);
}

Test(engine_ops, ema_forward_and_gradient)
{
    SegCtx c;
    seg_setup(&c);
    size_t nz = 2 * 4 * 8;
    c.z = vec(nz); c.zt = vec(nz); c.w = vec(nz); c.p = vec(12);
    fill_normal(c.z, nz, 1, 91);
    fill_normal(c.w, nz, 1, 92);
    fill_uniform(c.p, 12, 0.2f, 0.8f, 93);
    c.p[0] = c.p[6] = 1.0f; /* first tokens: clamped to 1 - 1e-4, no gradient */
    ema_loss(&c);
    for (int j = 0; j < 8; j++) {
        double P0 = 1 - 1e-4, P1 = c.p[3];
        double zt0 = P0 * c.z[j];
        cr_assert_float_eq(c.zt[j], zt0, 1e-6);
        cr_assert_float_eq(c.zt[8 + j], P1 * c.z[8 + j] + (1 - P1) * zt0, 1e-6);
        cr_assert_eq(c.zt[3 * 8 + j], 0.0f, "padding rows are zero");
    }
    float *dz = vec(nz), *dp = vec(12);
    prefill(dz, nz);
    prefill(dp, 12);
    c.be->ema_backward(c.be, dz, dp, c.w, c.z, c.zt, c.p, c.starts, c.counts, c.B, c.T, c.M, c.d);
    unprefill(dz, nz);
    unprefill(dp, 12);
    check_gradient("ema z", ema_loss, &c, c.z, dz, nz, nz, FD_H, FD_ATOL, FD_RTOL);
    /* p matters only at concept starts; the first tokens (p = 1) sit in the clamp: no gradient */
    cr_assert_eq(dp[0], 0.0f);
    cr_assert_eq(dp[6], 0.0f);
    check_gradient("ema p", ema_loss, &c, c.p + 1, dp + 1, 5, 5, 1e-3f, FD_ATOL, FD_RTOL);
    check_gradient("ema p", ema_loss, &c, c.p + 7, dp + 7, 5, 5, 1e-3f, FD_ATOL, FD_RTOL);
}

/* ---- packed and padded concept rows ------------------------------------------------------ */

Test(engine_ops, concepts_pack_and_pad_by_hand)
{
    Backend *be = cpu_backend();
    enum { B = 3, M = 4, W = 2, ROWS = 8 };
    int32_t counts[B] = {2, 4, 1};
    float padded[B * M * W], packed[ROWS * W], back[B * M * W];
    for (int i = 0; i < B * M * W; i++) padded[i] = (float)(i + 1);
    for (int i = 0; i < ROWS * W; i++) packed[i] = -7.0f;
    for (int i = 0; i < B * M * W; i++) back[i] = -7.0f;
    be->concepts_pack(be, packed, padded, counts, B, M, ROWS, W);
    /* sequence 0 rows 0-1, sequence 1 rows 4-7, sequence 2 row 8 of the padded layout */
    int source_row[7] = {0, 1, 4, 5, 6, 7, 8};
    for (int r = 0; r < 7; r++)
        for (int j = 0; j < W; j++) cr_assert_eq(packed[r * W + j], padded[source_row[r] * W + j], "row %d", r);
    for (int j = 0; j < W; j++) cr_assert_eq(packed[7 * W + j], 0.0f, "packed rows past the concepts are zero");
    be->concepts_pad(be, back, packed, counts, B, M, W);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < M; k++)
            for (int j = 0; j < W; j++) {
                size_t i = ((size_t)b * M + k) * W + j;
                cr_assert_eq(back[i], k < counts[b] ? padded[i] : 0.0f, "sequence %d row %d", b, k);
            }
}
