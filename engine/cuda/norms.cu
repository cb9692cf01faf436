/* engine/cuda/norms.cu: RMSNorm over rows, and the per-head QK-RMSNorm with rotate-half RoPE,
 * forward and backward. One warp per row (or per row and head); gain gradients are summed per
 * chunk of rows into partials that one more kernel adds to the fp32 dgain in chunk order (no
 * atomics: the same bits on every run). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/cuda/cuda_internal.h"

#define NORM_THREADS 256
#define NORM_WARPS (NORM_THREADS / 32)
#define HEAD_DIM 64
#define ROPE_THETA 10000.0

/* ---- RMSNorm --------------------------------------------------------------------------------- */

/* 16 bytes of activations: 8 bf16 or 4 fp32, loaded and stored in one instruction. */
template <typename T> struct alignas(16) Pack16 {
    T v[16 / sizeof(T)];
};

static inline bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

/* One warp per row; each lane reads 16-byte packs (rows of a multiple of 32 packs). */
template <typename T>
__global__ void rmsnorm_forward_kernel(T *y, float *rstd, const T *x, const T *gain, int N, int d,
                                       float eps)
{
    const int P = 16 / sizeof(T);
    int warp = blockIdx.x * NORM_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (warp >= N) return;
    const Pack16<T> *xr = (const Pack16<T> *)(x + (size_t)warp * d);
    const Pack16<T> *gr = (const Pack16<T> *)gain;
    Pack16<T> *yr = (Pack16<T> *)(y + (size_t)warp * d);
    int packs = d / P;
    float ss = 0.0f;
    for (int c = lane; c < packs; c += 32) {
        Pack16<T> xv = xr[c];
#pragma unroll
        for (int e = 0; e < P; e++) ss += to_f32(xv.v[e]) * to_f32(xv.v[e]);
    }
    ss = warp_sum(ss);
    float r = 1.0f / sqrtf(ss / d + eps);
    if (lane == 0) rstd[warp] = r;
    for (int c = lane; c < packs; c += 32) {
        Pack16<T> xv = xr[c], gv = gr[c], out;
#pragma unroll
        for (int e = 0; e < P; e++) out.v[e] = from_f32<T>(to_f32(xv.v[e]) * r * to_f32(gv.v[e]));
        yr[c] = out;
    }
}

/* The same for any width and alignment, one element at a time. */
template <typename T>
__global__ void rmsnorm_forward_scalar_kernel(T *y, float *rstd, const T *x, const T *gain, int N,
                                              int d, float eps)
{
    int warp = blockIdx.x * NORM_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (warp >= N) return;
    const T *xr = x + (size_t)warp * d;
    T *yr = y + (size_t)warp * d;
    float ss = 0.0f;
    for (int j = lane; j < d; j += 32) {
        float v = to_f32(xr[j]);
        ss += v * v;
    }
    ss = warp_sum(ss);
    float r = 1.0f / sqrtf(ss / d + eps);
    if (lane == 0) rstd[warp] = r;
    for (int j = lane; j < d; j += 32) yr[j] = from_f32<T>(to_f32(xr[j]) * r * to_f32(gain[j]));
}

/* dx += r g dy - r^3 x <dy g, x> / d, one warp per row, 16-byte packs. */
template <typename T>
__global__ void rmsnorm_backward_dx_kernel(T *dx, const T *dy, const T *x, const T *gain,
                                           const float *rstd, int N, int d)
{
    const int P = 16 / sizeof(T);
    int row = blockIdx.x * NORM_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const Pack16<T> *xr = (const Pack16<T> *)(x + (size_t)row * d);
    const Pack16<T> *dyr = (const Pack16<T> *)(dy + (size_t)row * d);
    const Pack16<T> *gr = (const Pack16<T> *)gain;
    Pack16<T> *dxr = (Pack16<T> *)(dx + (size_t)row * d);
    int packs = d / P;
    float r = rstd[row];
    float dot = 0.0f;
    for (int c = lane; c < packs; c += 32) {
        Pack16<T> xv = xr[c], dyv = dyr[c], gv = gr[c];
#pragma unroll
        for (int e = 0; e < P; e++) dot += to_f32(dyv.v[e]) * to_f32(gv.v[e]) * to_f32(xv.v[e]);
    }
    dot = warp_sum(dot);
    float cf = dot / d * r * r * r;
    for (int c = lane; c < packs; c += 32) {
        Pack16<T> xv = xr[c], dyv = dyr[c], gv = gr[c], dv = dxr[c];
#pragma unroll
        for (int e = 0; e < P; e++)
            dv.v[e] = from_f32<T>(to_f32(dv.v[e]) + r * to_f32(dyv.v[e]) * to_f32(gv.v[e]) - cf * to_f32(xv.v[e]));
        dxr[c] = dv;
    }
}

template <typename T>
__global__ void rmsnorm_backward_dx_scalar_kernel(T *dx, const T *dy, const T *x, const T *gain,
                                                  const float *rstd, int N, int d)
{
    int row = blockIdx.x * NORM_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const T *xr = x + (size_t)row * d, *dyr = dy + (size_t)row * d;
    T *dxr = dx + (size_t)row * d;
    float r = rstd[row];
    float dot = 0.0f;
    for (int j = lane; j < d; j += 32) dot += to_f32(dyr[j]) * to_f32(gain[j]) * to_f32(xr[j]);
    dot = warp_sum(dot);
    float c = dot / d * r * r * r;
    for (int j = lane; j < d; j += 32) {
        float xv = to_f32(xr[j]), dyv = to_f32(dyr[j]);
        dxr[j] = from_f32<T>(to_f32(dxr[j]) + r * dyv * to_f32(gain[j]) - c * xv);
    }
}

/* partials[chunk][j] = sum over the chunk's rows of dy x r: a thread per column (coalesced
 * across the block), a chunk of rows per blockIdx.y; cuda_add_partials adds the chunks. */
template <typename T>
__global__ void rmsnorm_backward_dgain_kernel(float *partials, const T *dy, const T *x,
                                              const float *rstd, int N, int d, int rows_per_chunk)
{
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= d) return;
    int r0 = blockIdx.y * rows_per_chunk, r1 = min(N, r0 + rows_per_chunk);
    float acc = 0.0f;
    for (int r = r0; r < r1; r++) acc += to_f32(dy[(size_t)r * d + j]) * to_f32(x[(size_t)r * d + j]) * rstd[r];
    partials[(size_t)blockIdx.y * d + j] = acc;
}

void cuda_rmsnorm_forward(Backend *be, void *y, float *rstd, const void *x, const void *gain,
                          int N, int d, float eps)
{
    if (N <= 0) return;
    cudaStream_t s = cuda_state(be)->stream;
    unsigned g = (unsigned)((N + NORM_WARPS - 1) / NORM_WARPS);
    bool packed = d % (int)(16 / be->act_size) == 0 && aligned16(y) && aligned16(x) && aligned16(gain);
    if (is_bf16(be) && packed)
        rmsnorm_forward_kernel<bf16><<<g, NORM_THREADS, 0, s>>>((bf16 *)y, rstd, (const bf16 *)x, (const bf16 *)gain, N, d, eps);
    else if (is_bf16(be))
        rmsnorm_forward_scalar_kernel<bf16><<<g, NORM_THREADS, 0, s>>>((bf16 *)y, rstd, (const bf16 *)x, (const bf16 *)gain, N, d, eps);
    else if (packed)
        rmsnorm_forward_kernel<float><<<g, NORM_THREADS, 0, s>>>((float *)y, rstd, (const float *)x, (const float *)gain, N, d, eps);
    else
        rmsnorm_forward_scalar_kernel<float><<<g, NORM_THREADS, 0, s>>>((float *)y, rstd, (const float *)x, (const float *)gain, N, d, eps);
    CUDA_CHECK_LAUNCH();
}

/* Enough blocks to fill the GPU, few enough that the per-block dgain partials stay cheap. Each
 * warp's rows are a chain of dependent loads, so what bounds the kernel is how many warps are in
 * flight: 6 blocks of 256 threads a multiprocessor, as many as its registers hold at once (36
 * a thread on sm_90, ptxas -v), not 2 (at 2, dense medium's head-norm backward took ~100 us a
 * call, 10x its memory traffic; ncu, 2026-12-02). */
static unsigned reduction_blocks(Backend *be, size_t rows_per_block_min, size_t rows)
{
    size_t want = (size_t)cuda_state(be)->multiprocessors * 6;
    size_t most = (rows + rows_per_block_min - 1) / rows_per_block_min;
    if (want > most) want = most;
    return want ? (unsigned)want : 1u;
}

void cuda_rmsnorm_backward(Backend *be, void *dx, float *dgain, const void *dy, const void *x,
                           const void *gain, const float *rstd, int N, int d)
{
    if (N <= 0) return;
    cudaStream_t s = cuda_state(be)->stream;
    unsigned g = (unsigned)((N + NORM_WARPS - 1) / NORM_WARPS);
    /* column blocks x row chunks: about four blocks per multiprocessor */
    unsigned col_blocks = (unsigned)((d + 255) / 256);
    size_t chunks = (size_t)cuda_state(be)->multiprocessors * 4 / col_blocks;
    if (chunks < 1) chunks = 1;
    if (chunks > (size_t)(N + 31) / 32) chunks = (size_t)(N + 31) / 32;
    int rows_per_chunk = (int)((N + chunks - 1) / chunks);
    int n_chunks = (N + rows_per_chunk - 1) / rows_per_chunk;
    dim3 grid_gain(col_blocks, (unsigned)n_chunks);
    float *partials = (float *)cuda_work(be, (size_t)n_chunks * d * sizeof(float));
    bool packed = d % (int)(16 / be->act_size) == 0 && aligned16(dx) && aligned16(dy) && aligned16(x) && aligned16(gain);
    if (is_bf16(be)) {
        if (packed)
            rmsnorm_backward_dx_kernel<bf16><<<g, NORM_THREADS, 0, s>>>((bf16 *)dx, (const bf16 *)dy, (const bf16 *)x, (const bf16 *)gain, rstd, N, d);
        else
            rmsnorm_backward_dx_scalar_kernel<bf16><<<g, NORM_THREADS, 0, s>>>((bf16 *)dx, (const bf16 *)dy, (const bf16 *)x, (const bf16 *)gain, rstd, N, d);
        CUDA_CHECK_LAUNCH();
        rmsnorm_backward_dgain_kernel<bf16><<<grid_gain, 256, 0, s>>>(partials, (const bf16 *)dy, (const bf16 *)x, rstd, N, d, rows_per_chunk);
    } else {
        if (packed)
            rmsnorm_backward_dx_kernel<float><<<g, NORM_THREADS, 0, s>>>((float *)dx, (const float *)dy, (const float *)x, (const float *)gain, rstd, N, d);
        else
            rmsnorm_backward_dx_scalar_kernel<float><<<g, NORM_THREADS, 0, s>>>((float *)dx, (const float *)dy, (const float *)x, (const float *)gain, rstd, N, d);
        CUDA_CHECK_LAUNCH();
        rmsnorm_backward_dgain_kernel<float><<<grid_gain, 256, 0, s>>>(partials, (const float *)dy, (const float *)x, rstd, N, d, rows_per_chunk);
    }
    CUDA_CHECK_LAUNCH();
    cuda_add_partials(be, dgain, partials, 1, n_chunks, d);
}

/* ---- per-head RMSNorm + RoPE ------------------------------------------------------------------
 * One warp per (row, head): lane holds elements lane and lane + 32, exactly the pair that the
 * rotate-half RoPE mixes. cos and sin come from a table the host computes once in double,
 * with the CPU reference's formula, so both backends rotate by identical floats. */

/* The table [T][32] of cos then [T][32] of sin, grown to the longest sequence seen. */
static const float *rope_table(Backend *be, int T)
{
    CudaState *st = cuda_state(be);
    if (T <= st->rope_positions) return st->rope_table;
    int half = HEAD_DIM / 2;
    size_t n = (size_t)T * half;
    float *host = (float *)malloc(2 * n * sizeof(float));
    if (!host) {
        fprintf(stderr, "dlcm cuda backend: out of host memory for the RoPE table\n");
        exit(1);
    }
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            double inv_freq = pow(ROPE_THETA, -(double)i / half);
            double a = t * inv_freq;
            host[(size_t)t * half + i] = (float)cos(a);
            host[n + (size_t)t * half + i] = (float)sin(a);
        }
    CUDA_CHECK(cudaStreamSynchronize(st->stream));
    if (st->rope_table) {
        CUDA_CHECK(cudaFree(st->rope_table));
        st->bytes_in_use -= (size_t)st->rope_positions * half * 2 * sizeof(float);
    }
    CUDA_CHECK(cudaMalloc(&st->rope_table, 2 * n * sizeof(float)));
    CUDA_CHECK(cudaMemcpy(st->rope_table, host, 2 * n * sizeof(float), cudaMemcpyHostToDevice));
    st->bytes_in_use += 2 * n * sizeof(float);
    if (st->bytes_in_use > st->bytes_peak) st->bytes_peak = st->bytes_in_use;
    st->rope_positions = T;
    free(host);
    return st->rope_table;
}

static __device__ __forceinline__ void rope_angle(const float *table, int positions, int t, int i,
                                                  float *cs, float *sn)
{
    *cs = table[(size_t)t * (HEAD_DIM / 2) + i];
    *sn = table[(size_t)positions * (HEAD_DIM / 2) + (size_t)t * (HEAD_DIM / 2) + i];
}

template <typename T>
__global__ void head_norm_rope_forward_kernel(T *out, float *rstd, const T *in, int in_stride,
                                              const T *gain, int B, int T_len, int H, int use_rope,
                                              float eps, const float *rope, int rope_positions)
{
    size_t item = (size_t)blockIdx.x * NORM_WARPS + threadIdx.x / 32; /* row * H + head */
    int lane = threadIdx.x % 32;
    if (item >= (size_t)B * T_len * H) return;
    size_t row = item / H;
    int h = (int)(item % H);
    const T *x = in + row * in_stride + h * HEAD_DIM;
    float x0 = to_f32(x[lane]), x1 = to_f32(x[lane + 32]);
    float ss = warp_sum(x0 * x0 + x1 * x1);
    float r = 1.0f / sqrtf(ss / HEAD_DIM + eps);
    if (lane == 0) rstd[item] = r;
    float y0 = x0 * r * to_f32(gain[lane]);
    float y1 = x1 * r * to_f32(gain[lane + 32]);
    T *o = out + item * HEAD_DIM;
    if (use_rope) {
        float cs, sn;
        rope_angle(rope, rope_positions, (int)(row % T_len), lane, &cs, &sn);
        float o0 = y0 * cs - y1 * sn;
        float o1 = y1 * cs + y0 * sn;
        y0 = o0;
        y1 = o1;
    }
    o[lane] = from_f32<T>(y0);
    o[lane + 32] = from_f32<T>(y1);
}

template <typename T>
__global__ void head_norm_rope_backward_kernel(T *din, int din_stride, const T *dout,
                                               const T *in, int in_stride, const T *gain,
                                               const float *rstd, int B, int T_len, int H,
                                               int use_rope, const float *rope, int rope_positions,
                                               float *partials)
{
    __shared__ float dgain_warp[NORM_WARPS][HEAD_DIM];
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    float g0 = to_f32(gain[lane]), g1 = to_f32(gain[lane + 32]);
    float dg0 = 0.0f, dg1 = 0.0f;
    size_t items = (size_t)B * T_len * H;
    for (size_t item = (size_t)blockIdx.x * NORM_WARPS + threadIdx.x / 32; item < items;
         item += (size_t)gridDim.x * NORM_WARPS) {
        size_t row = item / H;
        int h = (int)(item % H);
        const T *x = in + row * in_stride + h * HEAD_DIM;
        const T *dout_h = dout + item * HEAD_DIM;
        T *dx = din + row * din_stride + h * HEAD_DIM;
        float r = rstd[item];
        float x0 = to_f32(x[lane]), x1 = to_f32(x[lane + 32]);
        float dy0 = to_f32(dout_h[lane]), dy1 = to_f32(dout_h[lane + 32]);
        if (use_rope) { /* the rotation's transpose */
            float cs, sn;
            rope_angle(rope, rope_positions, (int)(row % T_len), lane, &cs, &sn);
            float a = dy0 * cs + dy1 * sn;
            float b = dy1 * cs - dy0 * sn;
            dy0 = a;
            dy1 = b;
        }
        float dot = warp_sum(dy0 * g0 * x0 + dy1 * g1 * x1);
        dg0 += dy0 * x0 * r;
        dg1 += dy1 * x1 * r;
        float c = dot / HEAD_DIM * r * r * r;
        dx[lane] = from_f32<T>(to_f32(dx[lane]) + r * dy0 * g0 - c * x0);
        dx[lane + 32] = from_f32<T>(to_f32(dx[lane + 32]) + r * dy1 * g1 - c * x1);
    }
    dgain_warp[warp][lane] = dg0;
    dgain_warp[warp][lane + 32] = dg1;
    __syncthreads();
    if (threadIdx.x < HEAD_DIM) { /* the block's sum in warp order; blocks are added in order */
        float g = 0.0f;
        for (int w = 0; w < NORM_WARPS; w++) g += dgain_warp[w][threadIdx.x];
        partials[(size_t)blockIdx.x * HEAD_DIM + threadIdx.x] = g;
    }
}

void cuda_head_norm_rope_forward(Backend *be, void *out, float *rstd, const void *in,
                                 int in_stride, const void *gain, int B, int T, int H,
                                 int use_rope, float eps)
{
    size_t items = (size_t)B * T * H;
    if (!items) return;
    const float *rope = use_rope ? rope_table(be, T) : NULL;
    int positions = cuda_state(be)->rope_positions;
    cudaStream_t s = cuda_state(be)->stream;
    unsigned g = (unsigned)((items + NORM_WARPS - 1) / NORM_WARPS);
    if (is_bf16(be))
        head_norm_rope_forward_kernel<bf16><<<g, NORM_THREADS, 0, s>>>((bf16 *)out, rstd, (const bf16 *)in, in_stride, (const bf16 *)gain, B, T, H, use_rope, eps, rope, positions);
    else
        head_norm_rope_forward_kernel<float><<<g, NORM_THREADS, 0, s>>>((float *)out, rstd, (const float *)in, in_stride, (const float *)gain, B, T, H, use_rope, eps, rope, positions);
    CUDA_CHECK_LAUNCH();
}

void cuda_head_norm_rope_backward(Backend *be, void *din, int din_stride, float *dgain,
                                  const void *dout, const void *in, int in_stride,
                                  const void *gain, const float *rstd, int B, int T, int H,
                                  int use_rope)
{
    size_t items = (size_t)B * T * H;
    if (!items) return;
    const float *rope = use_rope ? rope_table(be, T) : NULL;
    int positions = cuda_state(be)->rope_positions;
    cudaStream_t s = cuda_state(be)->stream;
    unsigned g = reduction_blocks(be, NORM_WARPS * 4, items);
    float *partials = (float *)cuda_work(be, (size_t)g * HEAD_DIM * sizeof(float));
    if (is_bf16(be))
        head_norm_rope_backward_kernel<bf16><<<g, NORM_THREADS, 0, s>>>((bf16 *)din, din_stride, (const bf16 *)dout, (const bf16 *)in, in_stride, (const bf16 *)gain, rstd, B, T, H, use_rope, rope, positions, partials);
    else
        head_norm_rope_backward_kernel<float><<<g, NORM_THREADS, 0, s>>>((float *)din, din_stride, (const float *)dout, (const float *)in, in_stride, (const float *)gain, rstd, B, T, H, use_rope, rope, positions, partials);
    CUDA_CHECK_LAUNCH();
    cuda_add_partials(be, dgain, partials, 1, (int)g, HEAD_DIM);
}
