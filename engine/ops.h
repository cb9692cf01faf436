/* engine/ops.h: the backend interface. The model is written once against these operations;
 * engine/cpu/ implements them in plain C (the reference), engine/cuda/ on NVIDIA GPUs.
 *
 * Conventions (every backend, every op):
 * - Row-major. A "matrix of N rows of width d" is N*d contiguous elements unless a stride is given.
 * - A linear layer's weight W is stored [out][in]; forward is y = x W^T.
 * - Activations, and the weights' working copy used in forward, have the backend's activation
 *   type (`act_dtype`: fp32 on the CPU; fp32 or bf16 on the GPU), passed as void pointers.
 *   Master weights, gradients of weights, optimizer state, norm statistics, probabilities, losses
 *   and every reduction are fp32 (float pointers).
 * - Backward ops ACCUMULATE (+=) into every gradient they write; the caller zeroes buffers.
 *   Exceptions are named (swiglu_backward writes; the in-place RoPE is inside head_norm_rope,
 *   which accumulates too).
 * - "Device scalars" are single floats in backend memory, so that a step needs no host round
 *   trip (clipping, loss sums); download them at log time.
 * - All pointers are backend memory except where a parameter says "host".
 * - Counter-based randomness (engine/rng.h) makes the CPU and GPU draw identical samples.
 * - Backends count the multiply-add FLOPs they launch (GEMMs and attention products) in `flops`
 *   so a test can compare them with the analytic count of engine/shape.h. */
#ifndef DLCM_ENGINE_OPS_H
#define DLCM_ENGINE_OPS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DTYPE_F32 = 0, DTYPE_BF16 = 1 } DType;

typedef struct Backend Backend;

/* One AdamW parameter group (a tensor): a contiguous range of the flat parameter, gradient
 * and moment buffers with its own learning rate (before the schedule's factor), epsilon and
 * weight decay. */
typedef struct {
    size_t offset, count; /* elements */
    float lr, eps, weight_decay;
} AdamwGroup;

/* Shape of one attention call. Heads of 64; head h of a position occupies elements
 * [h*64, h*64+64) of that position's row. Queries [B][Tq] rows, keys/values [B][Tk] rows. */
typedef struct {
    int B, Tq, Tk, H;
    int q_stride, k_stride, v_stride, o_stride; /* elements between consecutive positions */
    /* NULL: causal self-attention (requires Tq == Tk; query i sees keys 0..i).
     * Otherwise per query [B*Tq]: it sees regular keys 0..key_count-1 (0 allowed when a null
     * key exists). This is how the cross-attention's leak-free concept mask is expressed. */
    const int32_t *key_count;
    /* NULL, or H*64 vectors (act type): an extra key/value that every query sees in addition
     * (the null concept). Their gradients go to fp32 dk_null/dv_null in attention_backward. */
    const void *k_null;
    const void *v_null;
    float scale; /* softmax scale, 1/sqrt(64) */
} AttnShape;

struct Backend {
    const char *name; /* "cpu" or "cuda" */
    DType act_dtype;
    size_t act_size;  /* bytes per activation element */
    double flops;     /* matrix-product FLOPs launched since the last reset (2 per multiply-add) */
    void *impl;       /* backend private state */

    /* ---- memory ------------------------------------------------------------------------ */
    void *(*alloc)(Backend *be, size_t bytes); /* zeroed; exits with a message on failure */
    void (*free)(Backend *be, void *p);
    void (*upload)(Backend *be, void *dst, const void *host_src, size_t bytes);
    void (*download)(Backend *be, void *host_dst, const void *src, size_t bytes); /* synchronizes */
    void (*copy)(Backend *be, void *dst, const void *src, size_t bytes);
    void (*zero)(Backend *be, void *p, size_t bytes);
    void (*synchronize)(Backend *be);
    /* fp32 -> activation type (the weights' working copy); a copy when act_dtype is fp32. */
    void (*f32_to_act)(Backend *be, void *dst, const float *src, size_t n);
    /* activation type -> fp32 (tests, probes) */
    void (*act_to_f32)(Backend *be, float *dst, const void *src, size_t n);
    void (*destroy)(Backend *be);

    /* ---- the one matrix-product wrapper ---------------------------------------------------
     * C[M][N] = alpha * op(A)[M][K] * op(B)[K][N] + beta * C, row-major, op = transpose when
     * trans_* is set. A and B are act type; C is act type, or fp32 when c_f32 (weight grads). */
    void (*gemm)(Backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                 const void *A, int lda, const void *B, int ldb, float beta, void *C, int ldc,
                 int c_f32);

    /* ---- elementwise ---------------------------------------------------------------------- */
    void (*add)(Backend *be, void *y, const void *a, const void *b, size_t n);  /* y = a + b */
    void (*accumulate)(Backend *be, void *y, const void *x, size_t n);          /* y += x */
    void (*scale_f32)(Backend *be, float *x, float s, size_t n);                /* x *= s */

    /* ---- embedding: out[i] = table[tokens[i]] (d wide); backward dtable[tokens[i]] += dout[i] */
    void (*embedding_forward)(Backend *be, void *out, const int32_t *tokens, const void *table,
                              int N, int d);
    void (*embedding_backward)(Backend *be, float *dtable, const void *dout,
                               const int32_t *tokens, int N, int d);

    /* ---- RMSNorm over rows of width d: y = x / rms(x) * gain; rstd[N] saved for backward -- */
    void (*rmsnorm_forward)(Backend *be, void *y, float *rstd, const void *x, const void *gain,
                            int N, int d, float eps);
    void (*rmsnorm_backward)(Backend *be, void *dx, float *dgain, const void *dy, const void *x,
                             const void *gain, const float *rstd, int N, int d);

    /* ---- per-head RMSNorm (QK-norm, gain of 64 shared by heads) then optional RoPE ----------
     * in: [B*T] rows of stride in_stride holding H heads; out: contiguous [B*T][H*64].
     * RoPE (theta 10000, rotate-half pairs (i, i+32)) at position t = row index within its
     * sequence of T rows, when use_rope. rstd: [B*T*H]. */
    void (*head_norm_rope_forward)(Backend *be, void *out, float *rstd, const void *in,
                                   int in_stride, const void *gain, int B, int T, int H,
                                   int use_rope, float eps);
    void (*head_norm_rope_backward)(Backend *be, void *din, int din_stride, float *dgain,
                                    const void *dout, const void *in, int in_stride,
                                    const void *gain, const float *rstd, int B, int T, int H,
                                    int use_rope);

    /* ---- attention: out = softmax(q k^T * scale + mask) v per head; lse [B*H*Tq] saved ------ */
    void (*attention_forward)(Backend *be, void *out, float *lse, const void *q, const void *k,
                              const void *v, const AttnShape *s);
    /* dq/dk/dv use the strides of q/k/v; dk_null/dv_null may be NULL when s->k_null is NULL. */
    void (*attention_backward)(Backend *be, void *dq, void *dk, void *dv, float *dk_null,
                               float *dv_null, const void *dout, const void *out,
                               const float *lse, const void *q, const void *k, const void *v,
                               const AttnShape *s);

    /* ---- SwiGLU: gate_up rows [N][2f] = [gate | up]; h[N][f] = silu(gate) * up --------------
     * The backward WRITES dgate_up (=, not +=: the FFN's only use, and no zeroing pass). */
    void (*swiglu_forward)(Backend *be, void *h, const void *gate_up, int N, int f);
    void (*swiglu_backward)(Backend *be, void *dgate_up, const void *dh, const void *gate_up,
                            int N, int f);

    /* ---- cross-entropy of softmax(logit_scale * logits) against targets, fused with its
     * gradient. losses[N] = -log p(target) (fp32). When dlogits is not NULL it receives
     * dloss * logit_scale * (softmax - onehot) and may alias logits (overwritten, not +=).
     * A target < 0 is ignored: loss 0, gradient 0. */
    void (*cross_entropy)(Backend *be, float *losses, void *dlogits, const void *logits,
                          const int32_t *targets, int N, int V, float logit_scale, float dloss);

    /* ---- boundary predictor (dlcm) -----------------------------------------------------------
     * p[b][0] = 1; p[b][t] = (1 - cos(q[b][t-1], k[b][t])) / 2 for t >= 1. q, k: [B*T][d]. */
    void (*router_forward)(Backend *be, float *p, const void *q, const void *k, int B, int T, int d);
    void (*router_backward)(Backend *be, void *dq, void *dk, const float *dp, const void *q,
                            const void *k, int B, int T, int d);
    /* b[i] = 1 when a concept starts at token i. threshold >= 0: b = p >= threshold (evaluation,
     * cosine_rule). threshold < 0: b ~ Bernoulli(sigmoid(logit(p) / tau)) with uniforms
     * rng_uniform(seed, offset + i) (engine/rng.h). p = 1 always gives 1. */
    void (*boundary_sample)(Backend *be, int32_t *b, const float *p, int n, float threshold,
                            float tau, uint64_t seed, uint64_t offset);
    /* From b [B][T] (b[b][0] must be 1): seg[b][t] = index of t's concept; starts[b][k] = first
     * token of concept k (k < counts[b]; unused entries -1); counts[b] = concepts in sequence b;
     * key_count[b][t] = concepts t may read: seg (leak-free) or seg + 1 (include_own, the
     * paper's leaking ablation). */
    void (*segment_index)(Backend *be, int32_t *seg, int32_t *starts, int32_t *counts,
                          int32_t *key_count, const int32_t *b, int B, int T, int include_own);
    /* c[b][k] = mean of h[b][t] over t in concept k, for k < counts[b]; rows k >= counts[b] of
     * the [B][M][d] output are zero. M >= max counts. */
    void (*segment_mean_forward)(Backend *be, void *c, const void *h, const int32_t *starts,
                                 const int32_t *counts, int B, int T, int M, int d);
    void (*segment_mean_backward)(Backend *be, void *dh, const void *dc, const int32_t *seg,
                                  const int32_t *starts, const int32_t *counts, int B, int T,
                                  int M, int d);
    /* EMA smoothing (spec §2.5): P_k = clamp(p[b][starts[b][k]], 1e-4, 1-1e-4),
     * zt_k = P_k z_k + (1 - P_k) zt_{k-1}, zt_{-1} = 0, over k < counts[b]; other rows zero.
     * z, zt: [B][M][d]. Backward: dz +=; dp (may be NULL: P detached) += at the start tokens. */
    void (*ema_forward)(Backend *be, void *zt, const void *z, const float *p,
                        const int32_t *starts, const int32_t *counts, int B, int T, int M, int d);
    void (*ema_backward)(Backend *be, void *dz, float *dp, const void *dzt, const void *z,
                         const void *zt, const float *p, const int32_t *starts,
                         const int32_t *counts, int B, int T, int M, int d);
    /* Concept rows between the padded layout [B][M][width] (sequence b's concepts in rows
     * b*M .. b*M + counts[b] - 1) and the packed one (sequence b's concepts from row
     * offset_b = counts[0] + ... + counts[b-1], then zero rows up to packed_rows >= the sum of
     * counts), so that row-wise work runs on the real concepts only. pad: the padded rows past
     * counts[b] are zeroed. Both overwrite their output. */
    void (*concepts_pack)(Backend *be, void *packed, const void *padded, const int32_t *counts,
                          int B, int M, int packed_rows, int width);
    void (*concepts_pad)(Backend *be, void *padded, const void *packed, const int32_t *counts,
                         int B, int M, int width);
    /* dp[b][t] += coef[b] for all t; coef is a host array of B values (Global Parser gradient). */
    void (*add_per_row)(Backend *be, float *dp, const float *coef_host, int B, int T);

    /* ---- reductions into device scalars ----------------------------------------------------- */
    void (*sum_f32)(Backend *be, float *out, const float *x, size_t n);        /* out = sum x */
    void (*sum_i32)(Backend *be, float *out, const int32_t *x, size_t n);      /* out = sum x */
    void (*sum_squares_f32)(Backend *be, float *out, const float *x, size_t n);/* out += sum x^2 */
    void (*mean_abs)(Backend *be, float *out, const void *x, size_t n);        /* out = mean |x| */

    /* ---- optimizer ----------------------------------------------------------------------------
     * clip: scale_out = min(1, max_norm / sqrt(norm_sq)) (max_norm <= 0: 1). */
    void (*clip_scale)(Backend *be, float *scale_out, const float *norm_sq, float max_norm);
    /* AdamW over every group of the flat buffers in one call, g = grad * (*grad_scale):
     * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; param -= lr * (mhat / (sqrt(vhat) + eps) +
     * weight_decay * param) with lr = group.lr * lr_factor, bias-corrected with step t >= 1.
     * The buffers hold n elements; groups: n_groups entries in backend memory (the optimizer
     * uploads its table once), in increasing offset order, not overlapping, inside [0, n);
     * elements outside every group are left alone. Writes the working copy param_act too when it
     * is not NULL (at the same offsets). */
    void (*adamw)(Backend *be, float *param, void *param_act, const float *grad, float *m,
                  float *v, size_t n, const AdamwGroup *groups, int n_groups, float lr_factor, float beta1,
                  float beta2, int t, const float *grad_scale);
};

/* Backend constructors. backend_cpu always works; backend_cuda returns NULL with a message
 * in err when there is no usable GPU or the program was built without CUDA. */
Backend *backend_cpu_create(void);
Backend *backend_cuda_create(int device, DType act_dtype, char *err, int errlen);
/* Is a CUDA device usable from this build? */
int backend_cuda_available(void);

#endif
