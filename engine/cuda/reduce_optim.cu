/* engine/cuda/reduce_optim.cu: reductions into device scalars (sums, sum of squares, mean |x|),
 * the ordered sum of per-block partials, the gradient-clipping scale and AdamW, all without a
 * host round trip. No floating-point atomics: every sum runs in a fixed order, run to run. */
#include <math.h>

#include "engine/cuda/cuda_internal.h"

#define REDUCE_THREADS 512

/* Sum of the block's values in double; the result is valid in thread 0. */
static __device__ double block_sum(double x)
{
    __shared__ double partial[REDUCE_THREADS / 32];
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) partial[warp] = x;
    __syncthreads();
    double s = 0.0;
    if (threadIdx.x == 0)
        for (int w = 0; w < REDUCE_THREADS / 32; w++) s += partial[w];
    return s;
}

/* What each reduction reads: the element's value, its square or its absolute value. */
enum { READ_VALUE = 0, READ_SQUARE = 1, READ_ABS = 2 };

/* One block sums everything in double (a deterministic result, used for the small arrays
 * of losses, boundary counts and probabilities). */
template <typename T>
__global__ void __launch_bounds__(REDUCE_THREADS)
sum_one_block_kernel(float *out, const T *x, size_t n, int read, double divisor, int accumulate)
{
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += REDUCE_THREADS) {
        double v = (double)to_f32(x[i]);
        s += read == READ_SQUARE ? v * v : read == READ_ABS ? fabs(v) : v;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) {
        float r = (float)(s / divisor);
        *out = accumulate ? *out + r : r;
    }
}

__global__ void __launch_bounds__(REDUCE_THREADS)
sum_i32_kernel(float *out, const int32_t *x, size_t n)
{
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += REDUCE_THREADS) s += (double)x[i];
    s = block_sum(s);
    if (threadIdx.x == 0) *out = (float)s;
}

/* Many blocks for large arrays (the whole gradient buffer): each block writes its double sum
 * to partials[blockIdx.x]; finish_sum_kernel adds them in block order. */
template <typename T>
__global__ void __launch_bounds__(REDUCE_THREADS)
sum_many_blocks_kernel(double *partials, const T *x, size_t n, int read)
{
    double s = 0.0;
    for (size_t i = blockIdx.x * (size_t)REDUCE_THREADS + threadIdx.x; i < n;
         i += (size_t)gridDim.x * REDUCE_THREADS) {
        double v = (double)to_f32(x[i]);
        s += read == READ_SQUARE ? v * v : read == READ_ABS ? fabs(v) : v;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

__global__ void finish_sum_kernel(float *out, const double *partials, int parts, double divisor,
                                  int accumulate)
{
    double s = 0.0;
    for (int p = 0; p < parts; p++) s += partials[p];
    float r = (float)(s / divisor);
    *out = accumulate ? *out + r : r;
}

#define ONE_BLOCK_MAX (1u << 20) /* arrays up to this size are summed by one block */

template <typename T>
static void reduce(Backend *be, float *out, const T *x, size_t n, int read, double divisor,
                   int accumulate)
{
    CudaState *st = cuda_state(be);
    if (n <= ONE_BLOCK_MAX) {
        sum_one_block_kernel<T><<<1, REDUCE_THREADS, 0, st->stream>>>(out, x, n, read, divisor, accumulate);
        CUDA_CHECK_LAUNCH();
        return;
    }
    int blocks = st->multiprocessors * 4;
    double *partials = (double *)cuda_work(be, (size_t)blocks * sizeof(double));
    sum_many_blocks_kernel<T><<<blocks, REDUCE_THREADS, 0, st->stream>>>(partials, x, n, read);
    CUDA_CHECK_LAUNCH();
    finish_sum_kernel<<<1, 1, 0, st->stream>>>(out, partials, blocks, divisor, accumulate);
    CUDA_CHECK_LAUNCH();
}

/* dst[g][j] += sum over p of partials[g][p][j]. Block (32, ADD_SLICES): 32 columns (coalesced
 * reads), slice s summing parts s, s + ADD_SLICES, ..., then the slices added in order: a fixed
 * order whatever the timing, and short serial chains even for hundreds of parts. */
#define ADD_SLICES 16
__global__ void __launch_bounds__(32 * ADD_SLICES)
add_partials_kernel(float *dst, const float *partials, int parts, int width)
{
    __shared__ float slice_sum[ADD_SLICES][32];
    int lane = threadIdx.x, slice = threadIdx.y;
    int g = blockIdx.y, j = blockIdx.x * 32 + lane;
    float s = 0.0f;
    if (j < width) {
        const float *p = partials + (size_t)g * parts * width + j;
        for (int q = slice; q < parts; q += ADD_SLICES) s += p[(size_t)q * width];
    }
    slice_sum[slice][lane] = s;
    __syncthreads();
    if (slice == 0 && j < width) {
        float total = 0.0f;
        for (int r = 0; r < ADD_SLICES; r++) total += slice_sum[r][lane];
        dst[(size_t)g * width + j] += total;
    }
}

void cuda_add_partials(Backend *be, float *dst, const float *partials, int groups, int parts,
                       int width)
{
    if (!dst || groups <= 0 || parts <= 0 || width <= 0) return;
    dim3 grid((unsigned)((width + 31) / 32), (unsigned)groups), block(32, ADD_SLICES);
    add_partials_kernel<<<grid, block, 0, cuda_state(be)->stream>>>(dst, partials, parts, width);
    CUDA_CHECK_LAUNCH();
}

void cuda_sum_f32(Backend *be, float *out, const float *x, size_t n)
{
    reduce<float>(be, out, x, n, READ_VALUE, 1.0, 0);
}

void cuda_sum_i32(Backend *be, float *out, const int32_t *x, size_t n)
{
    sum_i32_kernel<<<1, REDUCE_THREADS, 0, cuda_state(be)->stream>>>(out, x, n);
    CUDA_CHECK_LAUNCH();
}

void cuda_sum_squares_f32(Backend *be, float *out, const float *x, size_t n)
{
    reduce<float>(be, out, x, n, READ_SQUARE, 1.0, 1);
}

void cuda_mean_abs(Backend *be, float *out, const void *x, size_t n)
{
    if (!n) {
        CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(float), cuda_state(be)->stream));
        return;
    }
    if (is_bf16(be))
        reduce<bf16>(be, out, (const bf16 *)x, n, READ_ABS, (double)n, 0);
    else
        reduce<float>(be, out, (const float *)x, n, READ_ABS, (double)n, 0);
}

/* ---- clipping and AdamW ------------------------------------------------------------------------ */

__global__ void clip_scale_kernel(float *scale_out, const float *norm_sq, float max_norm)
{
    float norm = sqrtf(*norm_sq);
    *scale_out = (max_norm > 0.0f && norm > max_norm) ? max_norm / norm : 1.0f;
}

void cuda_clip_scale(Backend *be, float *scale_out, const float *norm_sq, float max_norm)
{
    clip_scale_kernel<<<1, 1, 0, cuda_state(be)->stream>>>(scale_out, norm_sq, max_norm);
    CUDA_CHECK_LAUNCH();
}

/* AdamW over the whole flat buffer in one launch. Each block updates a tile of ADAMW_TILE
 * consecutive elements; it finds the group of its first element by bisection over the group
 * table, and its threads walk forward from there (a tile spans a group boundary rarely).
 * Elements between groups (none in the model's table) are left alone. The bias corrections
 * come from the host (computed there with powf, as the CPU does). */
#define ADAMW_THREADS 256
#define ADAMW_PER_THREAD 4
#define ADAMW_TILE (ADAMW_THREADS * ADAMW_PER_THREAD)

template <typename T>
__global__ void __launch_bounds__(ADAMW_THREADS)
adamw_kernel(float *param, T *param_act, const float *grad, float *m, float *v,
             const AdamwGroup *groups, int n_groups, size_t n, float lr_factor, float beta1,
             float beta2, float bc1, float bc2, const float *grad_scale)
{
    __shared__ int first_group;
    size_t tile_start = (size_t)blockIdx.x * ADAMW_TILE;
    if (threadIdx.x == 0) {
        int lo = 0, hi = n_groups - 1; /* the last group whose offset <= tile_start */
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (groups[mid].offset <= tile_start) lo = mid; else hi = mid - 1;
        }
        first_group = lo;
    }
    __syncthreads();
    float gs = grad_scale ? *grad_scale : 1.0f;
    int k = first_group;
    for (int j = 0; j < ADAMW_PER_THREAD; j++) {
        size_t i = tile_start + (size_t)j * ADAMW_THREADS + threadIdx.x;
        if (i >= n) break;
        while (k + 1 < n_groups && groups[k + 1].offset <= i) k++;
        const AdamwGroup grp = groups[k];
        if (i < grp.offset || i >= grp.offset + grp.count) continue;
        float lr = grp.lr * lr_factor;
        float g = grad[i] * gs;
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / bc1, vhat = vi / bc2;
        float p = param[i];
        p -= lr * (mhat / (sqrtf(vhat) + grp.eps) + grp.weight_decay * p);
        param[i] = p;
        if (param_act) param_act[i] = from_f32<T>(p);
    }
}

void cuda_adamw(Backend *be, float *param, void *param_act, const float *grad, float *m, float *v,
                size_t n, const AdamwGroup *groups, int n_groups, float lr_factor, float beta1,
                float beta2, int t, const float *grad_scale)
{
    if (n_groups <= 0 || !n) return;
    CudaState *st = cuda_state(be);
    float bc1 = 1.0f - powf(beta1, (float)t);
    float bc2 = 1.0f - powf(beta2, (float)t);
    size_t tiles = (n + ADAMW_TILE - 1) / ADAMW_TILE;
    if (is_bf16(be))
        adamw_kernel<bf16><<<(unsigned)tiles, ADAMW_THREADS, 0, st->stream>>>(param, (bf16 *)param_act, grad, m, v, groups, n_groups, n, lr_factor, beta1, beta2, bc1, bc2, grad_scale);
    else
        adamw_kernel<float><<<(unsigned)tiles, ADAMW_THREADS, 0, st->stream>>>(param, (float *)param_act, grad, m, v, groups, n_groups, n, lr_factor, beta1, beta2, bc1, bc2, grad_scale);
    CUDA_CHECK_LAUNCH();
}
