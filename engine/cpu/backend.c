/* engine/cpu/backend.c: the CPU reference backend's table, memory, the one GEMM wrapper (over
 * OpenBLAS cblas_sgemm, counting 2*M*N*K FLOPs per call), elementwise ops, reductions, AdamW. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/cpu_internal.h"

static void *cpu_alloc(Backend *be, size_t bytes)
{
    (void)be;
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "dlcm cpu backend: out of memory allocating %zu bytes\n", bytes);
        exit(1);
    }
    return p;
}

static void cpu_free(Backend *be, void *p) { (void)be; free(p); }

static void cpu_memcpy(Backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes) memmove(dst, src, bytes);
}

static void cpu_zero(Backend *be, void *p, size_t bytes) { (void)be; memset(p, 0, bytes); }
static void cpu_synchronize(Backend *be) { (void)be; }

static void cpu_f32_copy(Backend *be, void *dst, const float *src, size_t n)
{
    cpu_memcpy(be, dst, src, n * sizeof(float));
}

static void cpu_act_to_f32(Backend *be, float *dst, const void *src, size_t n)
{
    cpu_memcpy(be, dst, src, n * sizeof(float));
}

static void cpu_destroy(Backend *be) { free(be); }

/* The one call into OpenBLAS: every matrix product of the CPU backend goes through here
 * (the backend's gemm op, which counts FLOPs, and the attention, which counts its own). */
void cpu_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void cpu_gemm(Backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                     const void *A, int lda, const void *B, int ldb, float beta, void *C, int ldc,
                     int c_f32)
{
    (void)c_f32; /* activations are fp32 on the CPU, so C has the same type either way */
    if (M <= 0 || N <= 0) return;
    be->flops += 2.0 * (double)M * (double)N * (double)K;
    cpu_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void cpu_add(Backend *be, void *y, const void *a, const void *b, size_t n)
{
    (void)be;
    float *yy = y;
    const float *aa = a, *bb = b;
    for (size_t i = 0; i < n; i++) yy[i] = aa[i] + bb[i];
}

static void cpu_accumulate(Backend *be, void *y, const void *x, size_t n)
{
    (void)be;
    float *yy = y;
    const float *xx = x;
    for (size_t i = 0; i < n; i++) yy[i] += xx[i];
}

static void cpu_scale_f32(Backend *be, float *x, float s, size_t n)
{
    (void)be;
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

/* Reductions accumulate in double so their result does not depend on n's size much. */
static void cpu_sum_f32(Backend *be, float *out, const float *x, size_t n)
{
    (void)be;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *out = (float)s;
}

static void cpu_sum_i32(Backend *be, float *out, const int32_t *x, size_t n)
{
    (void)be;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *out = (float)s;
}

static void cpu_sum_squares_f32(Backend *be, float *out, const float *x, size_t n)
{
    (void)be;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    *out += (float)s;
}

static void cpu_mean_abs(Backend *be, float *out, const void *x, size_t n)
{
    (void)be;
    const float *xx = x;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += fabsf(xx[i]);
    *out = n ? (float)(s / (double)n) : 0.0f;
}

static void cpu_clip_scale(Backend *be, float *scale_out, const float *norm_sq, float max_norm)
{
    (void)be;
    float norm = sqrtf(*norm_sq);
    *scale_out = (max_norm > 0 && norm > max_norm) ? max_norm / norm : 1.0f;
}

static void cpu_adamw(Backend *be, float *param, void *param_act, const float *grad, float *m,
                      float *v, size_t n, const AdamwGroup *groups, int n_groups, float lr_factor,
                      float beta1, float beta2, int t, const float *grad_scale)
{
    (void)be;
    float gs = grad_scale ? *grad_scale : 1.0f;
    float bc1 = 1.0f - powf(beta1, (float)t);
    float bc2 = 1.0f - powf(beta2, (float)t);
    float *act = param_act;
    for (int k = 0; k < n_groups; k++) {
        const AdamwGroup *grp = &groups[k];
        float lr = grp->lr * lr_factor, eps = grp->eps, weight_decay = grp->weight_decay;
        for (size_t i = grp->offset; i < grp->offset + grp->count && i < n; i++) {
            float g = grad[i] * gs;
            m[i] = beta1 * m[i] + (1.0f - beta1) * g;
            v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
            float mhat = m[i] / bc1;
            float vhat = v[i] / bc2;
            param[i] -= lr * (mhat / (sqrtf(vhat) + eps) + weight_decay * param[i]);
            if (act) act[i] = param[i];
        }
    }
}

Backend *backend_cpu_create(void)
{
    Backend *be = calloc(1, sizeof *be);
    if (!be) return NULL;
    /* The engine's CPU matrices are small: OpenBLAS threads cost more than they give (and the
     * tests run two at a time), so one thread unless the user asked for more. */
    if (!getenv("OPENBLAS_NUM_THREADS")) openblas_set_num_threads(1);
    be->name = "cpu";
    be->act_dtype = DTYPE_F32;
    be->act_size = sizeof(float);
    be->flops = 0;
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->upload = cpu_memcpy;
    be->download = cpu_memcpy;
    be->copy = cpu_memcpy;
    be->zero = cpu_zero;
    be->synchronize = cpu_synchronize;
    be->f32_to_act = cpu_f32_copy;
    be->act_to_f32 = cpu_act_to_f32;
    be->destroy = cpu_destroy;
    be->gemm = cpu_gemm;
    be->add = cpu_add;
    be->accumulate = cpu_accumulate;
    be->scale_f32 = cpu_scale_f32;
    be->embedding_forward = cpu_embedding_forward;
    be->embedding_backward = cpu_embedding_backward;
    be->rmsnorm_forward = cpu_rmsnorm_forward;
    be->rmsnorm_backward = cpu_rmsnorm_backward;
    be->head_norm_rope_forward = cpu_head_norm_rope_forward;
    be->head_norm_rope_backward = cpu_head_norm_rope_backward;
    be->attention_forward = cpu_attention_forward;
    be->attention_backward = cpu_attention_backward;
    be->swiglu_forward = cpu_swiglu_forward;
    be->swiglu_backward = cpu_swiglu_backward;
    be->cross_entropy = cpu_cross_entropy;
    be->router_forward = cpu_router_forward;
    be->router_backward = cpu_router_backward;
    be->boundary_sample = cpu_boundary_sample;
    be->segment_index = cpu_segment_index;
    be->segment_mean_forward = cpu_segment_mean_forward;
    be->segment_mean_backward = cpu_segment_mean_backward;
    be->ema_forward = cpu_ema_forward;
    be->ema_backward = cpu_ema_backward;
    be->concepts_pack = cpu_concepts_pack;
    be->concepts_pad = cpu_concepts_pad;
    be->add_per_row = cpu_add_per_row;
    be->sum_f32 = cpu_sum_f32;
    be->sum_i32 = cpu_sum_i32;
    be->sum_squares_f32 = cpu_sum_squares_f32;
    be->mean_abs = cpu_mean_abs;
    be->clip_scale = cpu_clip_scale;
    be->adamw = cpu_adamw;
    return be;
}
