/* engine/cuda/concepts.cu: the DLCM ops on the GPU: cosine boundary router, boundary sampling
 * with the shared counter RNG, segment indexing (a block scan per sequence), segment-mean
 * pooling and its backward, EMA smoothing forward/backward, the packed and padded concept
 * layouts, and the Global Parser's row add. */
#include <math.h>

#include <cub/block/block_scan.cuh>

#include "engine/cuda/cuda_internal.h"
#include "engine/rng.h"

#define ROUTER_THREADS 256
#define ROUTER_WARPS (ROUTER_THREADS / 32)
#define ROUTER_NORM_FLOOR 1e-12 /* as the CPU reference: zero vectors give cos = 0 */
#define EMA_P_MIN 1e-4f
#define EMA_P_MAX (1.0f - 1e-4f)

/* ---- router: p[t] = (1 - cos(q[t-1], k[t])) / 2, one warp per token ------------------------ */

template <typename T>
static __device__ void cos_parts(const T *q, const T *k, int d, double *dot, double *nq, double *nk)
{
    int lane = threadIdx.x % 32;
    float sd = 0.0f, sq = 0.0f, sk = 0.0f;
    for (int j = lane; j < d; j += 32) {
        float a = to_f32(q[j]), b = to_f32(k[j]);
        sd += a * b;
        sq += a * a;
        sk += b * b;
    }
    *dot = warp_sum(sd);
    *nq = sqrt((double)warp_sum(sq) + ROUTER_NORM_FLOOR);
    *nk = sqrt((double)warp_sum(sk) + ROUTER_NORM_FLOOR);
}

template <typename T>
__global__ void router_forward_kernel(float *p, const T *q, const T *k, int B, int T_len, int d)
{
    size_t item = (size_t)blockIdx.x * ROUTER_WARPS + threadIdx.x / 32;
    if (item >= (size_t)B * T_len) return;
    int t = (int)(item % T_len);
    if (t == 0) {
        if (threadIdx.x % 32 == 0) p[item] = 1.0f;
        return;
    }
    double dot, nq, nk;
    cos_parts(q + (item - 1) * d, k + item * d, d, &dot, &nq, &nk);
    if (threadIdx.x % 32 == 0) p[item] = (float)((1.0 - dot / (nq * nk)) / 2.0);
}

template <typename T>
__global__ void router_backward_kernel(T *dq, T *dk, const float *dp, const T *q, const T *k, int B,
                                       int T_len, int d)
{
    size_t item = (size_t)blockIdx.x * ROUTER_WARPS + threadIdx.x / 32;
    if (item >= (size_t)B * T_len) return;
    int t = (int)(item % T_len);
    if (t == 0) return;
    const T *qp = q + (item - 1) * d, *kt = k + item * d;
    T *dqp = dq + (item - 1) * d, *dkt = dk + item * d;
    double dot, nq, nk;
    cos_parts(qp, kt, d, &dot, &nq, &nk);
    double cosv = dot / (nq * nk);
    float dcos = (float)(-0.5 * dp[item]);
    float inv_qk = (float)(1.0 / (nq * nk));
    float q_self = (float)(cosv / (nq * nq)), k_self = (float)(cosv / (nk * nk));
    for (int j = threadIdx.x % 32; j < d; j += 32) {
        float a = to_f32(qp[j]), b = to_f32(kt[j]);
        dqp[j] = from_f32<T>(to_f32(dqp[j]) + dcos * (b * inv_qk - a * q_self));
        dkt[j] = from_f32<T>(to_f32(dkt[j]) + dcos * (a * inv_qk - b * k_self));
    }
}

void cuda_router_forward(Backend *be, float *p, const void *q, const void *k, int B, int T, int d)
{
    size_t items = (size_t)B * T;
    if (!items) return;
    cudaStream_t s = cuda_state(be)->stream;
    unsigned g = (unsigned)((items + ROUTER_WARPS - 1) / ROUTER_WARPS);
    if (is_bf16(be))
        router_forward_kernel<bf16><<<g, ROUTER_THREADS, 0, s>>>(p, (const bf16 *)q, (const bf16 *)k, B, T, d);
    else
        router_forward_kernel<float><<<g, ROUTER_THREADS, 0, s>>>(p, (const float *)q, (const float *)k, B, T, d);
    CUDA_CHECK_LAUNCH();
}

/* q[t-1] is read by token t and written by token t's warp only, and each k[t] likewise: no
 * two warps touch the same gradient row, so no atomics are needed. */
void cuda_router_backward(Backend *be, void *dq, void *dk, const float *dp, const void *q,
                          const void *k, int B, int T, int d)
{
    size_t items = (size_t)B * T;
    if (!items) return;
    cudaStream_t s = cuda_state(be)->stream;
    unsigned g = (unsigned)((items + ROUTER_WARPS - 1) / ROUTER_WARPS);
    if (is_bf16(be))
        router_backward_kernel<bf16><<<g, ROUTER_THREADS, 0, s>>>((bf16 *)dq, (bf16 *)dk, dp, (const bf16 *)q, (const bf16 *)k, B, T, d);
    else
        router_backward_kernel<float><<<g, ROUTER_THREADS, 0, s>>>((float *)dq, (float *)dk, dp, (const float *)q, (const float *)k, B, T, d);
    CUDA_CHECK_LAUNCH();
}

/* ---- boundary sampling --------------------------------------------------------------------------
 * Same arithmetic as the CPU reference (double for the sharpening), same uniforms. */

static __device__ float sharpen(float p, float tau)
{
    if (p >= 1.0f) return 1.0f;
    if (p <= 0.0f) return 0.0f;
    if (tau == 1.0f) return p;
    double z = log((double)p / (1.0 - p)) / tau;
    return (float)(1.0 / (1.0 + exp(-z)));
}

__global__ void boundary_sample_kernel(int32_t *b, const float *p, int n, float threshold, float tau,
                                       uint64_t seed, uint64_t offset)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        if (threshold >= 0.0f) {
            b[i] = p[i] >= threshold;
        } else {
            float prob = sharpen(p[i], tau);
            b[i] = prob >= 1.0f || rng_uniform(seed, offset + (uint64_t)i) < prob;
        }
    }
}

void cuda_boundary_sample(Backend *be, int32_t *b, const float *p, int n, float threshold,
                          float tau, uint64_t seed, uint64_t offset)
{
    if (n <= 0) return;
    boundary_sample_kernel<<<grid_for((size_t)n, 256), 256, 0, cuda_state(be)->stream>>>(
        b, p, n, threshold, tau, seed, offset);
    CUDA_CHECK_LAUNCH();
}

/* ---- segment index: one block per sequence, an inclusive scan of the start flags -------------- */

#define SEG_THREADS 256
#define SEG_ITEMS 8 /* tokens per thread per pass: 2048 tokens a pass */

__global__ void __launch_bounds__(SEG_THREADS)
segment_index_kernel(int32_t *seg, int32_t *starts, int32_t *counts, int32_t *key_count,
                     const int32_t *b, int T, int include_own)
{
    typedef cub::BlockScan<int, SEG_THREADS> Scan;
    __shared__ typename Scan::TempStorage scan_storage;
    __shared__ int carried; /* concepts begun before this pass */
    size_t base = (size_t)blockIdx.x * T;
    for (int t = threadIdx.x; t < T; t += SEG_THREADS) starts[base + t] = -1;
    if (threadIdx.x == 0) carried = 0;
    __syncthreads();
    for (int pass = 0; pass < T; pass += SEG_THREADS * SEG_ITEMS) {
        int flags[SEG_ITEMS], seen[SEG_ITEMS];
        for (int e = 0; e < SEG_ITEMS; e++) {
            int t = pass + threadIdx.x * SEG_ITEMS + e;
            flags[e] = t < T ? ((b[base + t] != 0) || t == 0) : 0;
        }
        int pass_total;
        Scan(scan_storage).InclusiveSum(flags, seen, pass_total);
        int before = carried;
        for (int e = 0; e < SEG_ITEMS; e++) {
            int t = pass + threadIdx.x * SEG_ITEMS + e;
            if (t >= T) break;
            int concept = before + seen[e] - 1;
            seg[base + t] = concept;
            key_count[base + t] = concept + (include_own ? 1 : 0);
            if (flags[e]) starts[base + concept] = t;
        }
        __syncthreads(); /* everyone has read `carried` and the scan storage */
        if (threadIdx.x == 0) carried = before + pass_total;
        __syncthreads();
    }
    if (threadIdx.x == 0) counts[blockIdx.x] = carried;
}

void cuda_segment_index(Backend *be, int32_t *seg, int32_t *starts, int32_t *counts,
                        int32_t *key_count, const int32_t *b, int B, int T, int include_own)
{
    if (B <= 0 || T <= 0) return;
    segment_index_kernel<<<B, SEG_THREADS, 0, cuda_state(be)->stream>>>(seg, starts, counts,
                                                                        key_count, b, T, include_own);
    CUDA_CHECK_LAUNCH();
}

/* ---- segment mean ------------------------------------------------------------------------------ */

static __device__ __forceinline__ int concept_length(const int32_t *starts, int count, int T, int k)
{
    int end = k + 1 < count ? starts[k + 1] : T;
    return end - starts[k];
}

/* One block per (sequence, concept row); rows k >= counts[b] are zero. */
template <typename T>
__global__ void segment_mean_forward_kernel(T *c, const T *h, const int32_t *starts,
                                            const int32_t *counts, int T_len, int M, int d)
{
    int b = blockIdx.y, k = blockIdx.x;
    T *ck = c + ((size_t)b * M + k) * d;
    int count = counts[b];
    if (k >= count) {
        for (int j = threadIdx.x; j < d; j += blockDim.x) ck[j] = from_f32<T>(0.0f);
        return;
    }
    const int32_t *st = starts + (size_t)b * T_len;
    int start = st[k], len = concept_length(st, count, T_len, k);
    float inv = 1.0f / (float)len;
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        float sum = 0.0f;
        for (int t = start; t < start + len; t++) sum += to_f32(h[((size_t)b * T_len + t) * d + j]);
        ck[j] = from_f32<T>(sum * inv);
    }
}

template <typename T>
__global__ void segment_mean_backward_kernel(T *dh, const T *dc, const int32_t *seg,
                                             const int32_t *starts, const int32_t *counts, int B,
                                             int T_len, int M, int d)
{
    size_t total = (size_t)B * T_len * d;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / d;
        int j = (int)(i % d);
        int b = (int)(row / T_len);
        int k = seg[row];
        float inv = 1.0f / (float)concept_length(starts + (size_t)b * T_len, counts[b], T_len, k);
        dh[i] = from_f32<T>(to_f32(dh[i]) + to_f32(dc[((size_t)b * M + k) * d + j]) * inv);
    }
}

void cuda_segment_mean_forward(Backend *be, void *c, const void *h, const int32_t *starts,
                               const int32_t *counts, int B, int T, int M, int d)
{
    if (B <= 0 || M <= 0) return;
    dim3 grid((unsigned)M, (unsigned)B);
    int threads = d < 256 ? 128 : 256;
    cudaStream_t s = cuda_state(be)->stream;
    if (is_bf16(be))
        segment_mean_forward_kernel<bf16><<<grid, threads, 0, s>>>((bf16 *)c, (const bf16 *)h, starts, counts, T, M, d);
    else
        segment_mean_forward_kernel<float><<<grid, threads, 0, s>>>((float *)c, (const float *)h, starts, counts, T, M, d);
    CUDA_CHECK_LAUNCH();
}

void cuda_segment_mean_backward(Backend *be, void *dh, const void *dc, const int32_t *seg,
                                const int32_t *starts, const int32_t *counts, int B, int T, int M,
                                int d)
{
    size_t total = (size_t)B * T * d;
    if (!total) return;
    cudaStream_t s = cuda_state(be)->stream;
    unsigned g = grid_for(total, 256);
    if (is_bf16(be))
        segment_mean_backward_kernel<bf16><<<g, 256, 0, s>>>((bf16 *)dh, (const bf16 *)dc, seg, starts, counts, B, T, M, d);
    else
        segment_mean_backward_kernel<float><<<g, 256, 0, s>>>((float *)dh, (const float *)dc, seg, starts, counts, B, T, M, d);
    CUDA_CHECK_LAUNCH();
}

/* ---- EMA smoothing: a sequential scan over concepts, parallel over sequences and columns ------- */

static __device__ __forceinline__ float ema_gate(float p) { return fminf(fmaxf(p, EMA_P_MIN), EMA_P_MAX); }

template <typename T>
__global__ void ema_forward_kernel(T *zt, const T *z, const float *p, const int32_t *starts,
                                   const int32_t *counts, int T_len, int M, int d)
{
    int b = blockIdx.y, j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= d) return;
    int count = counts[b];
    float prev = 0.0f;
    for (int k = 0; k < M; k++) {
        size_t idx = ((size_t)b * M + k) * d + j;
        if (k >= count) {
            zt[idx] = from_f32<T>(0.0f);
            continue;
        }
        float P = ema_gate(p[(size_t)b * T_len + starts[(size_t)b * T_len + k]]);
        /* the stored (rounded) value feeds the next step, as the CPU reads it back */
        T out = from_f32<T>(P * to_f32(z[idx]) + (k > 0 ? (1.0f - P) * prev : 0.0f));
        zt[idx] = out;
        prev = to_f32(out);
    }
}

/* g_k = dzt_k + (1 - P_{k+1}) g_{k+1}; dz_k += P_k g_k; <g_k, z_k - zt_{k-1}> summed by each
 * warp into partials[b][k][warp]; ema_dp_kernel adds the warps in order to dp[start_k] where
 * the clamp is inactive (no atomics: the same bits on every run). */
template <typename T>
__global__ void ema_backward_kernel(T *dz, float *partials, const T *dzt, const T *z, const T *zt,
                                    const float *p, const int32_t *starts, const int32_t *counts,
                                    int T_len, int M, int d)
{
    int warps = gridDim.x * (blockDim.x / 32), warp = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int b = blockIdx.y, j = blockIdx.x * blockDim.x + threadIdx.x;
    bool active = j < d;
    int count = counts[b];
    float g_next = 0.0f, next_keep = 0.0f;
    for (int k = count - 1; k >= 0; k--) {
        size_t start = (size_t)b * T_len + starts[(size_t)b * T_len + k];
        float raw = p[start];
        float P = ema_gate(raw);
        float contribution = 0.0f;
        if (active) {
            size_t idx = ((size_t)b * M + k) * d + j;
            float g = to_f32(dzt[idx]) + next_keep * g_next;
            dz[idx] = from_f32<T>(to_f32(dz[idx]) + P * g);
            float prev = k > 0 ? to_f32(zt[idx - d]) : 0.0f;
            contribution = g * (to_f32(z[idx]) - prev);
            g_next = g;
        }
        next_keep = 1.0f - P;
        if (partials) {
            float s = warp_sum(contribution);
            if (threadIdx.x % 32 == 0) partials[((size_t)b * M + k) * warps + warp] = s;
        }
    }
}

/* dp[start_k] += the warps' partials of concept k, in warp order, where the clamp is inactive. */
__global__ void ema_dp_kernel(float *dp, const float *partials, const float *p,
                              const int32_t *starts, const int32_t *counts, int B, int T_len,
                              int M, int warps)
{
    size_t total = (size_t)B * M;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        int b = (int)(i / M), k = (int)(i % M);
        if (k >= counts[b]) continue;
        size_t start = (size_t)b * T_len + starts[(size_t)b * T_len + k];
        float raw = p[start];
        if (!(raw > EMA_P_MIN && raw < EMA_P_MAX)) continue;
        float s = 0.0f;
        for (int w = 0; w < warps; w++) s += partials[i * warps + w];
        dp[start] += s;
    }
}

#define EMA_THREADS 128

void cuda_ema_forward(Backend *be, void *zt, const void *z, const float *p, const int32_t *starts,
                      const int32_t *counts, int B, int T, int M, int d)
{
    if (B <= 0 || M <= 0 || d <= 0) return;
    dim3 grid((unsigned)((d + EMA_THREADS - 1) / EMA_THREADS), (unsigned)B);
    cudaStream_t s = cuda_state(be)->stream;
    if (is_bf16(be))
        ema_forward_kernel<bf16><<<grid, EMA_THREADS, 0, s>>>((bf16 *)zt, (const bf16 *)z, p, starts, counts, T, M, d);
    else
        ema_forward_kernel<float><<<grid, EMA_THREADS, 0, s>>>((float *)zt, (const float *)z, p, starts, counts, T, M, d);
    CUDA_CHECK_LAUNCH();
}

void cuda_ema_backward(Backend *be, void *dz, float *dp, const void *dzt, const void *z,
                       const void *zt, const float *p, const int32_t *starts,
                       const int32_t *counts, int B, int T, int M, int d)
{
    if (B <= 0 || M <= 0 || d <= 0) return;
    dim3 grid((unsigned)((d + EMA_THREADS - 1) / EMA_THREADS), (unsigned)B);
    int warps = (int)grid.x * (EMA_THREADS / 32);
    float *partials = dp ? (float *)cuda_work(be, (size_t)B * M * warps * sizeof(float)) : NULL;
    cudaStream_t s = cuda_state(be)->stream;
    if (is_bf16(be))
        ema_backward_kernel<bf16><<<grid, EMA_THREADS, 0, s>>>((bf16 *)dz, partials, (const bf16 *)dzt, (const bf16 *)z, (const bf16 *)zt, p, starts, counts, T, M, d);
    else
        ema_backward_kernel<float><<<grid, EMA_THREADS, 0, s>>>((float *)dz, partials, (const float *)dzt, (const float *)z, (const float *)zt, p, starts, counts, T, M, d);
    CUDA_CHECK_LAUNCH();
    if (!dp) return;
    ema_dp_kernel<<<grid_for((size_t)B * M, 256), 256, 0, s>>>(dp, partials, p, starts, counts, B, T, M, warps);
    CUDA_CHECK_LAUNCH();
}

/* ---- Global Parser: dp[b][t] += coef[b], coefficients passed by value in chunks --------------- */

#define ROW_COEF_CHUNK 256
typedef struct { float v[ROW_COEF_CHUNK]; } RowCoefs;

__global__ void add_per_row_kernel(float *dp, RowCoefs coef, int rows, int T)
{
    size_t total = (size_t)rows * T;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        dp[i] += coef.v[i / T];
}

void cuda_add_per_row(Backend *be, float *dp, const float *coef_host, int B, int T)
{
    for (int b0 = 0; b0 < B; b0 += ROW_COEF_CHUNK) {
        int rows = B - b0 < ROW_COEF_CHUNK ? B - b0 : ROW_COEF_CHUNK;
        RowCoefs c;
        for (int r = 0; r < rows; r++) c.v[r] = coef_host[b0 + r];
        size_t total = (size_t)rows * T;
        if (!total) continue;
        add_per_row_kernel<<<grid_for(total, 256), 256, 0, cuda_state(be)->stream>>>(
            dp + (size_t)b0 * T, c, rows, T);
        CUDA_CHECK_LAUNCH();
    }
}

/* ---- packed and padded concept rows ----------------------------------------------------------
 * One block per row; sequence b's offset in the packed layout is the sum of the counts before
 * it, added up by each block (B is small). */
#define CONCEPT_ROW_THREADS 128

static __device__ int concepts_before(const int32_t *counts, int b)
{
    int offset = 0;
    for (int i = 0; i < b; i++) offset += counts[i];
    return offset;
}

/* Blocks [0, B*M): the padded rows with a concept copy it; blocks [B*M, B*M + packed_rows):
 * packed rows past the last concept are zeroed. */
template <typename T>
__global__ void __launch_bounds__(CONCEPT_ROW_THREADS)
concepts_pack_kernel(T *packed, const T *padded, const int32_t *counts, int B, int M,
                     int width)
{
    size_t r = blockIdx.x;
    if (r < (size_t)B * M) {
        int b = (int)(r / M), k = (int)(r % M);
        if (k >= counts[b]) return;
        size_t dst = (size_t)concepts_before(counts, b) + k;
        for (int j = threadIdx.x; j < width; j += CONCEPT_ROW_THREADS)
            packed[dst * width + j] = padded[r * width + j];
        return;
    }
    size_t p = r - (size_t)B * M;
    if (p < (size_t)concepts_before(counts, B)) return;
    for (int j = threadIdx.x; j < width; j += CONCEPT_ROW_THREADS) packed[p * width + j] = from_f32<T>(0.0f);
}

template <typename T>
__global__ void __launch_bounds__(CONCEPT_ROW_THREADS)
concepts_pad_kernel(T *padded, const T *packed, const int32_t *counts, int M, int width)
{
    size_t r = blockIdx.x;
    int b = (int)(r / M), k = (int)(r % M);
    T *dst = padded + r * width;
    if (k >= counts[b]) {
        for (int j = threadIdx.x; j < width; j += CONCEPT_ROW_THREADS) dst[j] = from_f32<T>(0.0f);
        return;
    }
    const T *src = packed + ((size_t)concepts_before(counts, b) + k) * width;
    for (int j = threadIdx.x; j < width; j += CONCEPT_ROW_THREADS) dst[j] = src[j];
}

void cuda_concepts_pack(Backend *be, void *packed, const void *padded, const int32_t *counts,
                        int B, int M, int packed_rows, int width)
{
    size_t blocks = (size_t)B * M + (size_t)packed_rows;
    if (!blocks || width <= 0) return;
    cudaStream_t s = cuda_state(be)->stream;
    if (is_bf16(be))
        concepts_pack_kernel<bf16><<<(unsigned)blocks, CONCEPT_ROW_THREADS, 0, s>>>((bf16 *)packed, (const bf16 *)padded, counts, B, M, width);
    else
        concepts_pack_kernel<float><<<(unsigned)blocks, CONCEPT_ROW_THREADS, 0, s>>>((float *)packed, (const float *)padded, counts, B, M, width);
    CUDA_CHECK_LAUNCH();
}

void cuda_concepts_pad(Backend *be, void *padded, const void *packed, const int32_t *counts, int B,
                       int M, int width)
{
    size_t blocks = (size_t)B * M;
    if (!blocks || width <= 0) return;
    cudaStream_t s = cuda_state(be)->stream;
    if (is_bf16(be))
        concepts_pad_kernel<bf16><<<(unsigned)blocks, CONCEPT_ROW_THREADS, 0, s>>>((bf16 *)padded, (const bf16 *)packed, counts, M, width);
    else
        concepts_pad_kernel<float><<<(unsigned)blocks, CONCEPT_ROW_THREADS, 0, s>>>((float *)padded, (const float *)packed, counts, M, width);
    CUDA_CHECK_LAUNCH();
}
