/* engine/cuda/elementwise.cu: the CUDA backend's elementwise ops: type conversion, add and
 * accumulate, scaling, embedding lookup and its scatter-add backward, SwiGLU forward/backward. */
#include <cub/device/device_radix_sort.cuh>

#include "engine/cuda/cuda_internal.h"

#define ELEMENTWISE_THREADS 256

template <typename T>
__global__ void f32_to_act_kernel(T *dst, const float *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = from_f32<T>(src[i]);
}

template <typename T>
__global__ void act_to_f32_kernel(float *dst, const T *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = to_f32(src[i]);
}

void cuda_f32_to_act(Backend *be, void *dst, const float *src, size_t n)
{
    if (!n) return;
    if (!is_bf16(be)) {
        CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice,
                                   cuda_state(be)->stream));
        return;
    }
    f32_to_act_kernel<bf16><<<grid_for(n, ELEMENTWISE_THREADS), ELEMENTWISE_THREADS, 0,
                              cuda_state(be)->stream>>>((bf16 *)dst, src, n);
    CUDA_CHECK_LAUNCH();
}

void cuda_act_to_f32(Backend *be, float *dst, const void *src, size_t n)
{
    if (!n) return;
    if (!is_bf16(be)) {
        CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice,
                                   cuda_state(be)->stream));
        return;
    }
    act_to_f32_kernel<bf16><<<grid_for(n, ELEMENTWISE_THREADS), ELEMENTWISE_THREADS, 0,
                              cuda_state(be)->stream>>>(dst, (const bf16 *)src, n);
    CUDA_CHECK_LAUNCH();
}

template <typename T>
__global__ void add_kernel(T *y, const T *a, const T *b, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = from_f32<T>(to_f32(a[i]) + to_f32(b[i]));
}

template <typename T>
__global__ void accumulate_kernel(T *y, const T *x, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = from_f32<T>(to_f32(y[i]) + to_f32(x[i]));
}

__global__ void scale_f32_kernel(float *x, float s, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] *= s;
}

void cuda_add(Backend *be, void *y, const void *a, const void *b, size_t n)
{
    if (!n) return;
    cudaStream_t s = cuda_state(be)->stream;
    unsigned g = grid_for(n, ELEMENTWISE_THREADS);
    if (is_bf16(be))
        add_kernel<bf16><<<g, ELEMENTWISE_THREADS, 0, s>>>((bf16 *)y, (const bf16 *)a, (const bf16 *)b, n);
    else
        add_kernel<float><<<g, ELEMENTWISE_THREADS, 0, s>>>((float *)y, (const float *)a, (const float *)b, n);
    CUDA_CHECK_LAUNCH();
}

void cuda_accumulate(Backend *be, void *y, const void *x, size_t n)
{
    if (!n) return;
    cudaStream_t s = cuda_state(be)->stream;
    unsigned g = grid_for(n, ELEMENTWISE_THREADS);
    if (is_bf16(be))
        accumulate_kernel<bf16><<<g, ELEMENTWISE_THREADS, 0, s>>>((bf16 *)y, (const bf16 *)x, n);
    else
        accumulate_kernel<float><<<g, ELEMENTWISE_THREADS, 0, s>>>((float *)y, (const float *)x, n);
    CUDA_CHECK_LAUNCH();
}

void cuda_scale_f32(Backend *be, float *x, float s, size_t n)
{
    if (!n) return;
    scale_f32_kernel<<<grid_for(n, ELEMENTWISE_THREADS), ELEMENTWISE_THREADS, 0,
                       cuda_state(be)->stream>>>(x, s, n);
    CUDA_CHECK_LAUNCH();
}

/* ---- embedding ------------------------------------------------------------------------------ */

template <typename T>
__global__ void embedding_forward_kernel(T *out, const int32_t *tokens, const T *table, int N, int d)
{
    size_t total = (size_t)N * d;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / d, col = i % d;
        out[i] = table[(size_t)tokens[row] * d + col];
    }
}

/* Tokens repeat within a batch, so a row of dtable gathers several rows of dout. The positions
 * are sorted by token (a stable radix sort), and each token's run of sorted rows is summed by a
 * block: 16 slices of 32 columns, slice r taking the run's rows r, r + 16, ..., then the slices
 * added in order. The assignment never depends on timing: the same bits on every run, no
 * atomics, and a frequent token (a space in a byte-level batch) is still spread over 16 warps. */
#define EMB_SLICES 16
#define EMB_ENTRIES_PER_BLOCK 32

__global__ void iota_kernel(int32_t *x, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) x[i] = i;
}

/* Block (x, y): the token runs that start among sorted entries x*32.., columns y*32... */
template <typename T>
__global__ void __launch_bounds__(32 * EMB_SLICES)
embedding_backward_kernel(float *dtable, const T *dout, const int32_t *sorted_tokens,
                          const int32_t *sorted_rows, int N, int d)
{
    __shared__ float slice_sum[EMB_SLICES][32];
    int lane = threadIdx.x, slice = threadIdx.y;
    int col = blockIdx.y * 32 + lane;
    int e_end = min(N, (int)(blockIdx.x + 1) * EMB_ENTRIES_PER_BLOCK);
    for (int e0 = blockIdx.x * EMB_ENTRIES_PER_BLOCK; e0 < e_end; e0++) {
        int token = sorted_tokens[e0];
        if (e0 > 0 && sorted_tokens[e0 - 1] == token) continue; /* block-uniform */
        float acc = 0.0f; /* the run is contiguous: a slice stops at its first other token */
        if (col < d)
            for (int e = e0 + slice; e < N && sorted_tokens[e] == token; e += EMB_SLICES)
                acc += to_f32(dout[(size_t)sorted_rows[e] * d + col]);
        slice_sum[slice][lane] = acc;
        __syncthreads();
        if (slice == 0 && col < d) {
            float total = 0.0f;
            for (int r = 0; r < EMB_SLICES; r++) total += slice_sum[r][lane];
            dtable[(size_t)token * d + col] += total;
        }
        __syncthreads();
    }
}

void cuda_embedding_forward(Backend *be, void *out, const int32_t *tokens, const void *table, int N, int d)
{
    if (N <= 0) return;
    cudaStream_t s = cuda_state(be)->stream;
    unsigned g = grid_for((size_t)N * d, ELEMENTWISE_THREADS);
    if (is_bf16(be))
        embedding_forward_kernel<bf16><<<g, ELEMENTWISE_THREADS, 0, s>>>((bf16 *)out, tokens, (const bf16 *)table, N, d);
    else
        embedding_forward_kernel<float><<<g, ELEMENTWISE_THREADS, 0, s>>>((float *)out, tokens, (const float *)table, N, d);
    CUDA_CHECK_LAUNCH();
}

void cuda_embedding_backward(Backend *be, float *dtable, const void *dout, const int32_t *tokens, int N, int d)
{
    if (N <= 0) return;
    cudaStream_t s = cuda_state(be)->stream;
    size_t sort_bytes = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(NULL, sort_bytes, tokens, (int32_t *)NULL,
                                               (const int32_t *)NULL, (int32_t *)NULL, N, 0, 32, s));
    size_t list_bytes = ((size_t)N * sizeof(int32_t) + 255) / 256 * 256;
    char *work = (char *)cuda_work(be, 3 * list_bytes + sort_bytes);
    int32_t *rows = (int32_t *)work;
    int32_t *sorted_tokens = (int32_t *)(work + list_bytes);
    int32_t *sorted_rows = (int32_t *)(work + 2 * list_bytes);
    iota_kernel<<<grid_for((size_t)N, 256), 256, 0, s>>>(rows, N);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(work + 3 * list_bytes, sort_bytes, tokens, sorted_tokens,
                                               rows, sorted_rows, N, 0, 32, s));
    dim3 grid((unsigned)((N + EMB_ENTRIES_PER_BLOCK - 1) / EMB_ENTRIES_PER_BLOCK), (unsigned)((d + 31) / 32));
    dim3 block(32, EMB_SLICES);
    if (is_bf16(be))
        embedding_backward_kernel<bf16><<<grid, block, 0, s>>>(dtable, (const bf16 *)dout, sorted_tokens, sorted_rows, N, d);
    else
        embedding_backward_kernel<float><<<grid, block, 0, s>>>(dtable, (const float *)dout, sorted_tokens, sorted_rows, N, d);
    CUDA_CHECK_LAUNCH();
}

/* ---- SwiGLU ----------------------------------------------------------------------------------
 * A thread per 16 bytes of h (8 bf16 or 4 fp32 columns) when the widths and pointers allow it,
 * else per element; the backward writes dgate_up (no zeroing pass, no read of it). */

static __device__ __forceinline__ float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

template <typename T> struct alignas(16) SwigluPack {
    T v[16 / sizeof(T)];
};

template <typename T>
__global__ void swiglu_forward_kernel(T *h, const T *gate_up, int N, int f)
{
    const int P = 16 / sizeof(T);
    size_t packs_per_row = (size_t)(f / P), total = (size_t)N * packs_per_row;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / packs_per_row, col = (i % packs_per_row) * P;
        SwigluPack<T> g = *(const SwigluPack<T> *)(gate_up + row * 2 * f + col);
        SwigluPack<T> u = *(const SwigluPack<T> *)(gate_up + row * 2 * f + f + col);
        SwigluPack<T> out;
#pragma unroll
        for (int e = 0; e < P; e++) {
            float gv = to_f32(g.v[e]);
            out.v[e] = from_f32<T>(gv * sigmoidf_(gv) * to_f32(u.v[e]));
        }
        *(SwigluPack<T> *)(h + row * f + col) = out;
    }
}

template <typename T>
__global__ void swiglu_forward_scalar_kernel(T *h, const T *gate_up, int N, int f)
{
    size_t total = (size_t)N * f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / f, col = i % f;
        float g = to_f32(gate_up[row * 2 * f + col]);
        float u = to_f32(gate_up[row * 2 * f + f + col]);
        h[i] = from_f32<T>(g * sigmoidf_(g) * u);
    }
}

/* d silu(g)/dg = sig(g) (1 + g (1 - sig(g))). */
template <typename T>
__global__ void swiglu_backward_kernel(T *dgate_up, const T *dh, const T *gate_up, int N, int f)
{
    const int P = 16 / sizeof(T);
    size_t packs_per_row = (size_t)(f / P), total = (size_t)N * packs_per_row;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / packs_per_row, col = (i % packs_per_row) * P;
        size_t gi = row * 2 * f + col, ui = gi + f;
        SwigluPack<T> g = *(const SwigluPack<T> *)(gate_up + gi);
        SwigluPack<T> u = *(const SwigluPack<T> *)(gate_up + ui);
        SwigluPack<T> d = *(const SwigluPack<T> *)(dh + row * f + col);
        SwigluPack<T> dg, du;
#pragma unroll
        for (int e = 0; e < P; e++) {
            float gv = to_f32(g.v[e]), uv = to_f32(u.v[e]), dv = to_f32(d.v[e]);
            float sg = sigmoidf_(gv);
            dg.v[e] = from_f32<T>(dv * uv * sg * (1.0f + gv * (1.0f - sg)));
            du.v[e] = from_f32<T>(dv * (gv * sg));
        }
        *(SwigluPack<T> *)(dgate_up + gi) = dg;
        *(SwigluPack<T> *)(dgate_up + ui) = du;
    }
}

template <typename T>
__global__ void swiglu_backward_scalar_kernel(T *dgate_up, const T *dh, const T *gate_up, int N, int f)
{
    size_t total = (size_t)N * f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / f, col = i % f;
        size_t gi = row * 2 * f + col, ui = gi + f;
        float g = to_f32(gate_up[gi]);
        float u = to_f32(gate_up[ui]);
        float d = to_f32(dh[i]);
        float sg = sigmoidf_(g);
        dgate_up[gi] = from_f32<T>(d * u * sg * (1.0f + g * (1.0f - sg)));
        dgate_up[ui] = from_f32<T>(d * (g * sg));
    }
}

static inline bool swiglu_packed(const Backend *be, int f, const void *a, const void *b, const void *c)
{
    uintptr_t bits = (uintptr_t)a | (uintptr_t)b | (uintptr_t)c;
    return f % (int)(16 / be->act_size) == 0 && (bits & 15u) == 0;
}

void cuda_swiglu_forward(Backend *be, void *h, const void *gate_up, int N, int f)
{
    if (N <= 0) return;
    cudaStream_t s = cuda_state(be)->stream;
    if (swiglu_packed(be, f, h, gate_up, gate_up)) {
        unsigned g = grid_for((size_t)N * f / (16 / be->act_size), ELEMENTWISE_THREADS);
        if (is_bf16(be))
            swiglu_forward_kernel<bf16><<<g, ELEMENTWISE_THREADS, 0, s>>>((bf16 *)h, (const bf16 *)gate_up, N, f);
        else
            swiglu_forward_kernel<float><<<g, ELEMENTWISE_THREADS, 0, s>>>((float *)h, (const float *)gate_up, N, f);
    } else {
        unsigned g = grid_for((size_t)N * f, ELEMENTWISE_THREADS);
        if (is_bf16(be))
            swiglu_forward_scalar_kernel<bf16><<<g, ELEMENTWISE_THREADS, 0, s>>>((bf16 *)h, (const bf16 *)gate_up, N, f);
        else
            swiglu_forward_scalar_kernel<float><<<g, ELEMENTWISE_THREADS, 0, s>>>((float *)h, (const float *)gate_up, N, f);
    }
    CUDA_CHECK_LAUNCH();
}

void cuda_swiglu_backward(Backend *be, void *dgate_up, const void *dh, const void *gate_up, int N, int f)
{
    if (N <= 0) return;
    cudaStream_t s = cuda_state(be)->stream;
    if (swiglu_packed(be, f, dgate_up, dh, gate_up)) {
        unsigned g = grid_for((size_t)N * f / (16 / be->act_size), ELEMENTWISE_THREADS);
        if (is_bf16(be))
            swiglu_backward_kernel<bf16><<<g, ELEMENTWISE_THREADS, 0, s>>>((bf16 *)dgate_up, (const bf16 *)dh, (const bf16 *)gate_up, N, f);
        else
            swiglu_backward_kernel<float><<<g, ELEMENTWISE_THREADS, 0, s>>>((float *)dgate_up, (const float *)dh, (const float *)gate_up, N, f);
    } else {
        unsigned g = grid_for((size_t)N * f, ELEMENTWISE_THREADS);
        if (is_bf16(be))
            swiglu_backward_scalar_kernel<bf16><<<g, ELEMENTWISE_THREADS, 0, s>>>((bf16 *)dgate_up, (const bf16 *)dh, (const bf16 *)gate_up, N, f);
        else
            swiglu_backward_scalar_kernel<float><<<g, ELEMENTWISE_THREADS, 0, s>>>((float *)dgate_up, (const float *)dh, (const float *)gate_up, N, f);
    }
    CUDA_CHECK_LAUNCH();
}
