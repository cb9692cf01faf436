/* engine/cuda/attention.cu: attention with its products on tensor cores. For a chunk
 * of sequences, S = Q K^T goes to fp32 scratch through cuBLAS, a row kernel masks it (causal or
 * key counts), adds the null key and writes P = softmax(S) in the activation type (and lse),
 * then O = P V is a second strided GEMM. Backward recomputes S and P, forms dP = dO V^T, the
 * row kernel makes dS = P (dP - dO.O) scale and the null key's gradients, and three GEMMs add
 * dQ += dS K, dK += dS^T Q, dV += P^T dO. Masked scores cost GEMM work but no accuracy. The
 * null key's gradients are summed per block in warp order, then over blocks in block order: no
 * floating-point atomics, so a run repeats bit for bit. */
#include <math.h>

#include "engine/cuda/attention_common.h"

#define ROW_WARPS 8 /* query rows per block, one warp each */
#define ROW_THREADS (ROW_WARPS * 32)
#define SCRATCH_TARGET_BYTES ((size_t)512 << 20) /* chunk sequences up to this much scratch */

/* Adds the block's (visible keys + null) count, times the pass's products, to the counter. */
static __device__ void count_block_pairs(const AttnArgs &a, unsigned long long warp_pairs, int weight)
{
    __shared__ unsigned long long block_pairs;
    if (threadIdx.x == 0) block_pairs = 0;
    __syncthreads();
    if (threadIdx.x % 32 == 0 && warp_pairs) atomicAdd(&block_pairs, warp_pairs);
    __syncthreads();
    if (threadIdx.x == 0 && block_pairs) atomicAdd(a.pair_counter, (unsigned long long)weight * block_pairs);
}

/* Row (sequence b = b0 + chunk index, head h, query i) of the chunk's score matrices. */
static __device__ __forceinline__ size_t score_row(const AttnArgs &a, int chunk_b, int h, int i)
{
    return (((size_t)chunk_b * a.H + h) * a.Tq + i) * a.Tk;
}

template <typename T>
static __device__ __forceinline__ float dot64(const T *x, const T *y)
{
    int lane = threadIdx.x % 32;
    return warp_sum(to_f32(x[lane]) * to_f32(y[lane]) + to_f32(x[lane + 32]) * to_f32(y[lane + 32]));
}

/* Softmax of one row with its mask and null key: P (act type), lse, and the output row
 * initialised to p_null v_null for the P V product to add onto. */
template <typename T>
__global__ void __launch_bounds__(ROW_THREADS)
softmax_forward_kernel(const float *S, T *P, T *out, float *lse, const T *q, const T *k_null,
                       const T *v_null, AttnArgs a, int b0)
{
    int chunk_b = blockIdx.z, b = b0 + chunk_b, h = blockIdx.y;
    int i = blockIdx.x * ROW_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    unsigned long long pairs = 0;
    if (i < a.Tq) {
        const float *s = S + score_row(a, chunk_b, h, i);
        T *p = P + score_row(a, chunk_b, h, i);
        int n = visible_keys(a, b, i);
        pairs = (unsigned long long)(n + a.has_null);
        const T *qi = q + ((size_t)b * a.Tq + i) * a.q_stride + h * HD;
        float s_null = a.has_null ? a.scale * dot64(qi, k_null + h * HD) : -INFINITY;
        float m = s_null;
        for (int j = lane; j < n; j += 32) m = fmaxf(m, a.scale * s[j]);
        m = warp_max(m);
        float sum = 0.0f;
        if (m != -INFINITY) {
            for (int j = lane; j < n; j += 32) sum += expf(a.scale * s[j] - m);
            sum = warp_sum(sum) + (a.has_null ? expf(s_null - m) : 0.0f);
        }
        float L = sum > 0.0f ? m + logf(sum) : -INFINITY;
        for (int j = lane; j < a.Tk; j += 32)
            p[j] = from_f32<T>(j < n && sum > 0.0f ? expf(a.scale * s[j] - L) : 0.0f);
        T *o = out + ((size_t)b * a.Tq + i) * a.o_stride + h * HD;
        float p_null = a.has_null && sum > 0.0f ? expf(s_null - L) : 0.0f;
        o[lane] = from_f32<T>(a.has_null ? p_null * to_f32(v_null[h * HD + lane]) : 0.0f);
        o[lane + 32] = from_f32<T>(a.has_null ? p_null * to_f32(v_null[h * HD + lane + 32]) : 0.0f);
        if (lane == 0) lse[((size_t)b * a.H + h) * a.Tq + i] = L;
    }
    if (a.pair_counter) count_block_pairs(a, pairs, 2);
}

/* Backward, first half: P again from S and the saved lse. */
template <typename T>
__global__ void __launch_bounds__(ROW_THREADS)
probs_kernel(const float *S, T *P, const float *lse, AttnArgs a, int b0)
{
    int chunk_b = blockIdx.z, b = b0 + chunk_b, h = blockIdx.y;
    int i = blockIdx.x * ROW_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (i >= a.Tq) return;
    const float *s = S + score_row(a, chunk_b, h, i);
    T *p = P + score_row(a, chunk_b, h, i);
    float L = lse[((size_t)b * a.H + h) * a.Tq + i];
    int n = isfinite(L) ? visible_keys(a, b, i) : 0;
    for (int j = lane; j < a.Tk; j += 32) p[j] = from_f32<T>(j < n ? expf(a.scale * s[j] - L) : 0.0f);
}

/* Backward, second half: dS = P (dP - D) scale with D = dO.O, written over nothing else (own
 * buffer); the null key's part goes straight into dq, dk_null and dv_null. */
template <typename T>
__global__ void __launch_bounds__(ROW_THREADS)
dscores_kernel(const float *dP, const T *P, T *dS, T *dq, float *null_partials,
               const T *dout, const T *out, const float *lse, const T *q, const T *k_null,
               const T *v_null, AttnArgs a, int b0)
{
    __shared__ float null_grad[ROW_WARPS][2][HD];
    int chunk_b = blockIdx.z, b = b0 + chunk_b, h = blockIdx.y;
    int warp = threadIdx.x / 32;
    int i = blockIdx.x * ROW_WARPS + warp, lane = threadIdx.x % 32;
    unsigned long long pairs = 0;
    float dkn0 = 0.0f, dkn1 = 0.0f, dvn0 = 0.0f, dvn1 = 0.0f;
    if (i < a.Tq) {
        size_t row = (size_t)b * a.Tq + i;
        const float *dp = dP + score_row(a, chunk_b, h, i);
        const T *p = P + score_row(a, chunk_b, h, i);
        T *ds = dS + score_row(a, chunk_b, h, i);
        float L = lse[((size_t)b * a.H + h) * a.Tq + i];
        const T *doi = dout + row * a.o_stride + h * HD;
        float D = dot64(doi, out + row * a.o_stride + h * HD);
        bool live = isfinite(L);
        int n = live ? visible_keys(a, b, i) : 0;
        if (live) pairs = (unsigned long long)(n + a.has_null);
        for (int j = lane; j < a.Tk; j += 32) /* P is zero past the visible keys */
            ds[j] = from_f32<T>(j < n ? to_f32(p[j]) * (dp[j] - D) * a.scale : 0.0f);
        if (live && a.has_null) {
            const T *qi = q + row * a.q_stride + h * HD;
            const T *kn = k_null + h * HD, *vn = v_null + h * HD;
            float Pn = expf(a.scale * dot64(qi, kn) - L);
            float dSn = Pn * (dot64(doi, vn) - D) * a.scale;
            T *dqi = dq + row * a.q_stride + h * HD;
            dqi[lane] = from_f32<T>(to_f32(dqi[lane]) + dSn * to_f32(kn[lane]));
            dqi[lane + 32] = from_f32<T>(to_f32(dqi[lane + 32]) + dSn * to_f32(kn[lane + 32]));
            dkn0 = dSn * to_f32(qi[lane]);
            dkn1 = dSn * to_f32(qi[lane + 32]);
            dvn0 = Pn * to_f32(doi[lane]);
            dvn1 = Pn * to_f32(doi[lane + 32]);
        }
    }
    if (a.has_null) { /* the block's sum in warp order, to its slot of the head's partials */
        null_grad[warp][0][lane] = dkn0;
        null_grad[warp][0][lane + 32] = dkn1;
        null_grad[warp][1][lane] = dvn0;
        null_grad[warp][1][lane + 32] = dvn1;
        __syncthreads();
        if (threadIdx.x < 2 * HD) {
            int which = threadIdx.x / HD, c = threadIdx.x % HD;
            float s = 0.0f;
            for (int w = 0; w < ROW_WARPS; w++) s += null_grad[w][which][c];
            size_t slot = ((size_t)h * gridDim.z + chunk_b) * gridDim.x + blockIdx.x;
            null_partials[((size_t)which * a.H * gridDim.z * gridDim.x * HD) + slot * HD + c] = s;
        }
    }
    if (a.pair_counter) count_block_pairs(a, pairs, 5);
}

/* ---- host side ------------------------------------------------------------------------------ */

/* Sequences per chunk, so the chunk's scores fit the scratch target (at least one). */
static int chunk_sequences(const AttnShape *s, size_t bytes_per_score)
{
    size_t per_seq = (size_t)s->H * s->Tq * s->Tk * bytes_per_score;
    size_t n = per_seq ? SCRATCH_TARGET_BYTES / per_seq : (size_t)s->B;
    if (n < 1) n = 1;
    if (n > (size_t)s->B) n = (size_t)s->B;
    return (int)n;
}

static const char *offset(const void *p, size_t elements, size_t elem_size)
{
    return (const char *)p + elements * elem_size;
}

/* S[h] = Q_h K_h^T for the heads of sequence b, into fp32 scores of the chunk slot. */
static void scores_gemm(Backend *be, float *S_slot, const void *q, const void *k, const AttnShape *s, int b)
{
    size_t es = be->act_size;
    cuda_gemm_strided(be, 0, 1, s->Tq, s->Tk, HD, 1.0f,
                      offset(q, (size_t)b * s->Tq * s->q_stride, es), s->q_stride, HD,
                      offset(k, (size_t)b * s->Tk * s->k_stride, es), s->k_stride, HD, 0.0f,
                      S_slot, s->Tk, (long long)s->Tq * s->Tk, s->H, 1);
}

void cuda_attention_forward(Backend *be, void *out, float *lse, const void *q, const void *k,
                                 const void *v, const AttnShape *s)
{
    if (s->B <= 0 || s->Tq <= 0 || s->H <= 0) return;
    AttnArgs a = attn_args(be, s);
    if (!s->key_count) be->flops += 4.0 * HD * causal_pairs(s);
    size_t es = be->act_size, per_head = (size_t)s->Tq * s->Tk;
    int nb = chunk_sequences(s, sizeof(float) + es);
    size_t chunk_scores = (size_t)nb * s->H * per_head;
    char *scratch = (char *)cuda_scratch(be, chunk_scores * (sizeof(float) + es) + 256);
    float *S = (float *)scratch;
    void *P = scratch + chunk_scores * sizeof(float);
    cudaStream_t st = cuda_state(be)->stream;
    for (int b0 = 0; b0 < s->B; b0 += nb) {
        int n = s->B - b0 < nb ? s->B - b0 : nb;
        if (s->Tk > 0)
            for (int c = 0; c < n; c++) scores_gemm(be, S + (size_t)c * s->H * per_head, q, k, s, b0 + c);
        dim3 grid((unsigned)((s->Tq + ROW_WARPS - 1) / ROW_WARPS), (unsigned)s->H, (unsigned)n);
        if (is_bf16(be))
            softmax_forward_kernel<bf16><<<grid, ROW_THREADS, 0, st>>>(S, (bf16 *)P, (bf16 *)out, lse, (const bf16 *)q,
                                                                      (const bf16 *)s->k_null, (const bf16 *)s->v_null, a, b0);
        else
            softmax_forward_kernel<float><<<grid, ROW_THREADS, 0, st>>>(S, (float *)P, (float *)out, lse, (const float *)q,
                                                                       (const float *)s->k_null, (const float *)s->v_null, a, b0);
        CUDA_CHECK_LAUNCH();
        if (s->Tk == 0) continue;
        for (int c = 0; c < n; c++) { /* O_h += P_h V_h */
            int b = b0 + c;
            cuda_gemm_strided(be, 0, 0, s->Tq, HD, s->Tk, 1.0f, offset(P, (size_t)c * s->H * per_head, es), s->Tk,
                              (long long)per_head, offset(v, (size_t)b * s->Tk * s->v_stride, es), s->v_stride, HD,
                              1.0f, (void *)offset(out, (size_t)b * s->Tq * s->o_stride, es), s->o_stride, HD,
                              s->H, 0);
        }
    }
}

void cuda_attention_backward(Backend *be, void *dq, void *dk, void *dv, float *dk_null,
                                  float *dv_null, const void *dout, const void *out,
                                  const float *lse, const void *q, const void *k, const void *v,
                                  const AttnShape *s)
{
    if (s->B <= 0 || s->Tq <= 0 || s->H <= 0) return;
    AttnArgs a = attn_args(be, s);
    if (!s->key_count) be->flops += 10.0 * HD * causal_pairs(s);
    size_t es = be->act_size, per_head = (size_t)s->Tq * s->Tk;
    int nb = chunk_sequences(s, sizeof(float) + 2 * es);
    size_t chunk_scores = (size_t)nb * s->H * per_head;
    char *scratch = (char *)cuda_scratch(be, chunk_scores * (sizeof(float) + 2 * es) + 256);
    float *S = (float *)scratch; /* scores, then dP */
    void *P = scratch + chunk_scores * sizeof(float);
    void *dS = scratch + chunk_scores * (sizeof(float) + es);
    /* null key: per-block partial gradients [dk|dv][head][block], summed in block order */
    int row_blocks = (s->Tq + ROW_WARPS - 1) / ROW_WARPS;
    size_t blocks_per_head = (size_t)nb * row_blocks;
    float *null_partials = s->k_null ? (float *)cuda_work(be, 2 * (size_t)s->H * blocks_per_head * HD * sizeof(float)) : NULL;
    cudaStream_t st = cuda_state(be)->stream;
    for (int b0 = 0; b0 < s->B; b0 += nb) {
        int n = s->B - b0 < nb ? s->B - b0 : nb;
        dim3 grid((unsigned)row_blocks, (unsigned)s->H, (unsigned)n);
        if (s->Tk > 0) {
            for (int c = 0; c < n; c++) scores_gemm(be, S + (size_t)c * s->H * per_head, q, k, s, b0 + c);
            if (is_bf16(be))
                probs_kernel<bf16><<<grid, ROW_THREADS, 0, st>>>(S, (bf16 *)P, lse, a, b0);
            else
                probs_kernel<float><<<grid, ROW_THREADS, 0, st>>>(S, (float *)P, lse, a, b0);
            CUDA_CHECK_LAUNCH();
            AttnShape dov = *s; /* dP_h = dO_h V_h^T: the same product with dO and V */
            dov.q_stride = s->o_stride;
            dov.k_stride = s->v_stride;
            for (int c = 0; c < n; c++) scores_gemm(be, S + (size_t)c * s->H * per_head, dout, v, &dov, b0 + c);
        }
        if (is_bf16(be))
            dscores_kernel<bf16><<<grid, ROW_THREADS, 0, st>>>(
                S, (const bf16 *)P, (bf16 *)dS, (bf16 *)dq, null_partials, (const bf16 *)dout,
                (const bf16 *)out, lse, (const bf16 *)q, (const bf16 *)s->k_null, (const bf16 *)s->v_null, a, b0);
        else
            dscores_kernel<float><<<grid, ROW_THREADS, 0, st>>>(
                S, (const float *)P, (float *)dS, (float *)dq, null_partials, (const float *)dout,
                (const float *)out, lse, (const float *)q, (const float *)s->k_null, (const float *)s->v_null, a, b0);
        CUDA_CHECK_LAUNCH();
        if (s->k_null) {
            size_t parts = (size_t)n * row_blocks, per_kind = (size_t)s->H * parts * HD;
            cuda_add_partials(be, dk_null, null_partials, s->H, (int)parts, HD);
            cuda_add_partials(be, dv_null, null_partials + per_kind, s->H, (int)parts, HD);
        }
        if (s->Tk == 0) continue;
        for (int c = 0; c < n; c++) {
            int b = b0 + c;
            const char *dS_c = offset(dS, (size_t)c * s->H * per_head, es);
            const char *P_c = offset(P, (size_t)c * s->H * per_head, es);
            /* dQ_h += dS_h K_h */
            cuda_gemm_strided(be, 0, 0, s->Tq, HD, s->Tk, 1.0f, dS_c, s->Tk, (long long)per_head,
                              offset(k, (size_t)b * s->Tk * s->k_stride, es), s->k_stride, HD, 1.0f,
                              (void *)offset(dq, (size_t)b * s->Tq * s->q_stride, es), s->q_stride, HD, s->H, 0);
            /* dK_h += dS_h^T Q_h */
            cuda_gemm_strided(be, 1, 0, s->Tk, HD, s->Tq, 1.0f, dS_c, s->Tk, (long long)per_head,
                              offset(q, (size_t)b * s->Tq * s->q_stride, es), s->q_stride, HD, 1.0f,
                              (void *)offset(dk, (size_t)b * s->Tk * s->k_stride, es), s->k_stride, HD, s->H, 0);
            /* dV_h += P_h^T dO_h */
            cuda_gemm_strided(be, 1, 0, s->Tk, HD, s->Tq, 1.0f, P_c, s->Tk, (long long)per_head,
                              offset(dout, (size_t)b * s->Tq * s->o_stride, es), s->o_stride, HD, 1.0f,
                              (void *)offset(dv, (size_t)b * s->Tk * s->v_stride, es), s->v_stride, HD, s->H, 0);
        }
    }
}
