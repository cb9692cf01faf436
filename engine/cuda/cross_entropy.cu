/* engine/cuda/cross_entropy.cu: softmax cross-entropy of scaled logits against targets, fused
 * with its gradient (written over the logits when they alias). One block per row. */
#include <math.h>

#include "engine/cuda/cuda_internal.h"

#define CE_THREADS 512

/* Combines (max, sum of exp(x - max)) pairs of the block's threads; every thread gets the
 * row's log-sum-exp. */
static __device__ float block_logsumexp(float m, float s)
{
    __shared__ float shared_m[CE_THREADS / 32], shared_s[CE_THREADS / 32];
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o);
        float s2 = __shfl_xor_sync(0xffffffffu, s, o);
        float mn = fmaxf(m, m2);
        s = (mn == -INFINITY) ? 0.0f : s * expf(m - mn) + s2 * expf(m2 - mn);
        m = mn;
    }
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
        shared_m[warp] = m;
        shared_s[warp] = s;
    }
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < CE_THREADS / 32; w++) M = fmaxf(M, shared_m[w]);
    float S = 0.0f;
    for (int w = 0; w < CE_THREADS / 32; w++)
        if (shared_m[w] != -INFINITY) S += shared_s[w] * expf(shared_m[w] - M);
    return M + logf(S);
}

template <typename T>
__global__ void __launch_bounds__(CE_THREADS)
cross_entropy_kernel(float *losses, T *dlogits, const T *logits, const int32_t *targets, int V,
                     float logit_scale, float dloss)
{
    size_t row = blockIdx.x;
    const T *z = logits + row * V;
    int target = targets[row];
    if (target < 0) { /* ignored position: loss 0, gradient 0 */
        if (threadIdx.x == 0) losses[row] = 0.0f;
        if (dlogits)
            for (int j = threadIdx.x; j < V; j += CE_THREADS) dlogits[row * V + j] = from_f32<T>(0.0f);
        return;
    }
    float m = -INFINITY, s = 0.0f;
    for (int j = threadIdx.x; j < V; j += CE_THREADS) {
        float x = logit_scale * to_f32(z[j]);
        if (x > m) {
            s = s * expf(m - x) + 1.0f;
            m = x;
        } else {
            s += expf(x - m);
        }
    }
    float lse = block_logsumexp(m, s);
    float target_logit = logit_scale * to_f32(z[target]);
    __syncthreads(); /* every thread has read z[target] before any gradient overwrites it */
    if (threadIdx.x == 0) losses[row] = lse - target_logit;
    if (!dlogits) return;
    T *dz = dlogits + row * V;
    float g = dloss * logit_scale;
    for (int j = threadIdx.x; j < V; j += CE_THREADS) {
        float prob = expf(logit_scale * to_f32(z[j]) - lse);
        dz[j] = from_f32<T>(g * (prob - (j == target ? 1.0f : 0.0f)));
    }
}

void cuda_cross_entropy(Backend *be, float *losses, void *dlogits, const void *logits,
                        const int32_t *targets, int N, int V, float logit_scale, float dloss)
{
    if (N <= 0) return;
    cudaStream_t s = cuda_state(be)->stream;
    if (is_bf16(be))
        cross_entropy_kernel<bf16><<<N, CE_THREADS, 0, s>>>(losses, (bf16 *)dlogits, (const bf16 *)logits, targets, V, logit_scale, dloss);
    else
        cross_entropy_kernel<float><<<N, CE_THREADS, 0, s>>>(losses, (float *)dlogits, (const float *)logits, targets, V, logit_scale, dloss);
    CUDA_CHECK_LAUNCH();
}
