/* engine/cuda/cuda_internal.h: what the files of the CUDA backend share: the backend's private
 * state, error checks with file:line, activation-type conversions and the op entry points. */
#ifndef DLCM_ENGINE_CUDA_INTERNAL_H
#define DLCM_ENGINE_CUDA_INTERNAL_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

extern "C" {
#include "engine/ops.h"
}

struct AllocRecord;
typedef struct GemmPlanCache GemmPlanCache;

/* Private state behind Backend.impl. */
typedef struct {
    int device;
    cudaStream_t stream;
    cublasHandle_t cublas;
    cublasLtHandle_t cublas_lt;  /* the GEMM wrapper's (gemm.cu) */
    GemmPlanCache *gemm_plans;   /* its algorithm per problem, chosen once */
    void *cublas_workspace;
    size_t cublas_workspace_bytes;
    int allow_tf32;              /* fp32 mode: TF32 tensor cores in GEMMs (default on) */
    size_t bytes_in_use;         /* backend allocations, for peak memory */
    size_t bytes_peak;
    AllocRecord *alloc_records;  /* sizes of live allocations */
    int multiprocessors;
    /* Query-key pairs the attention kernels computed (whole tiles), weighted by the products
     * launched, counted on the device because key_count lives there; folded into
     * Backend.flops at each synchronizing call. */
    unsigned long long *attn_pairs_device;
    void *scratch;               /* attention's row terms and tile limits, grown to the largest call */
    size_t scratch_bytes;
    void *work;                  /* other ops' temporaries (cuda_work) */
    size_t work_bytes;
    float *rope_table;           /* RoPE cos and sin per position (norms.cu) */
    int rope_positions;
} CudaState;

static inline CudaState *cuda_state(Backend *be) { return (CudaState *)be->impl; }

/* Exits with the CUDA error, the call site and the failing expression. */
void cuda_fail(cudaError_t err, const char *what, const char *file, int line);
void cublas_fail(cublasStatus_t st, const char *what, const char *file, int line);

#define CUDA_CHECK(call)                                                        \
    do {                                                                        \
        cudaError_t cuda_check_err_ = (call);                                   \
        if (cuda_check_err_ != cudaSuccess)                                     \
            cuda_fail(cuda_check_err_, #call, __FILE__, __LINE__);              \
    } while (0)

#define CUBLAS_CHECK(call)                                                      \
    do {                                                                        \
        cublasStatus_t cublas_check_st_ = (call);                               \
        if (cublas_check_st_ != CUBLAS_STATUS_SUCCESS)                          \
            cublas_fail(cublas_check_st_, #call, __FILE__, __LINE__);           \
    } while (0)

/* After every kernel launch: reports a bad launch configuration at its call site. */
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

/* Folds the device-side attention pair counter into be->flops (synchronizes the stream). */
void cuda_fold_device_flops(Backend *be);

/* ---- activation types: kernels are templates over float and __nv_bfloat16 ------------------ */
typedef __nv_bfloat16 bf16;

static __device__ __forceinline__ float to_f32(float x) { return x; }
static __device__ __forceinline__ float to_f32(bf16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 from_f32<bf16>(float x) { return __float2bfloat16_rn(x); }

static __device__ __forceinline__ float warp_sum(float x)
{
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

static __device__ __forceinline__ float warp_max(float x)
{
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

static inline int is_bf16(const Backend *be) { return be->act_dtype == DTYPE_BF16; }

/* Blocks for a grid-stride loop over n items with `threads` per block. */
static inline unsigned grid_for(size_t n, int threads)
{
    size_t blocks = (n + threads - 1) / threads;
    if (blocks > 65535u * 8u) blocks = 65535u * 8u;
    return blocks ? (unsigned)blocks : 1u;
}

/* ---- ops (one file each group) --------------------------------------------------------------- */
/* gemm.cu */
void cuda_gemm_init(CudaState *st);
void cuda_gemm_destroy(CudaState *st);
void cuda_gemm(Backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
               const void *A, int lda, const void *B, int ldb, float beta, void *C, int ldc,
               int c_f32);

/* elementwise.cu */
void cuda_f32_to_act(Backend *be, void *dst, const float *src, size_t n);
void cuda_act_to_f32(Backend *be, float *dst, const void *src, size_t n);
void cuda_add(Backend *be, void *y, const void *a, const void *b, size_t n);
void cuda_accumulate(Backend *be, void *y, const void *x, size_t n);
void cuda_scale_f32(Backend *be, float *x, float s, size_t n);
void cuda_embedding_forward(Backend *be, void *out, const int32_t *tokens, const void *table,
                            int N, int d);
void cuda_embedding_backward(Backend *be, float *dtable, const void *dout, const int32_t *tokens,
                             int N, int d);
void cuda_swiglu_forward(Backend *be, void *h, const void *gate_up, int N, int f);
void cuda_swiglu_backward(Backend *be, void *dgate_up, const void *dh, const void *gate_up,
                          int N, int f);

/* norms.cu */
void cuda_rmsnorm_forward(Backend *be, void *y, float *rstd, const void *x, const void *gain,
                          int N, int d, float eps);
void cuda_rmsnorm_backward(Backend *be, void *dx, float *dgain, const void *dy, const void *x,
                           const void *gain, const float *rstd, int N, int d);
void cuda_head_norm_rope_forward(Backend *be, void *out, float *rstd, const void *in,
                                 int in_stride, const void *gain, int B, int T, int H,
                                 int use_rope, float eps);
void cuda_head_norm_rope_backward(Backend *be, void *din, int din_stride, float *dgain,
                                  const void *dout, const void *in, int in_stride,
                                  const void *gain, const float *rstd, int B, int T, int H,
                                  int use_rope);

/* attention.cu: fused (flash) attention on the tensor cores, no score matrix in memory */
void cuda_attention_forward(Backend *be, void *out, float *lse, const void *q, const void *k,
                            const void *v, const AttnShape *s);
void cuda_attention_backward(Backend *be, void *dq, void *dk, void *dv, float *dk_null,
                             float *dv_null, const void *dout, const void *out, const float *lse,
                             const void *q, const void *k, const void *v, const AttnShape *s);

/* Scratch memory of at least `bytes` (grown, never shrunk; synchronizes when it grows). */
void *cuda_scratch(Backend *be, size_t bytes);

/* Work memory for one op's temporaries (ordered partial sums, sort buffers): at least `bytes`,
 * grown and never shrunk (synchronizes when it grows); valid until the next cuda_work call. */
void *cuda_work(Backend *be, size_t bytes);

/* cross_entropy.cu */
void cuda_cross_entropy(Backend *be, float *losses, void *dlogits, const void *logits,
                        const int32_t *targets, int N, int V, float logit_scale, float dloss);

/* concepts.cu */
void cuda_router_forward(Backend *be, float *p, const void *q, const void *k, int B, int T, int d);
void cuda_router_backward(Backend *be, void *dq, void *dk, const float *dp, const void *q,
                          const void *k, int B, int T, int d);
void cuda_boundary_sample(Backend *be, int32_t *b, const float *p, int n, float threshold,
                          float tau, uint64_t seed, uint64_t offset);
void cuda_segment_index(Backend *be, int32_t *seg, int32_t *starts, int32_t *counts,
                        int32_t *key_count, const int32_t *b, int B, int T, int include_own);
void cuda_segment_mean_forward(Backend *be, void *c, const void *h, const int32_t *starts,
                               const int32_t *counts, int B, int T, int M, int d);
void cuda_segment_mean_backward(Backend *be, void *dh, const void *dc, const int32_t *seg,
                                const int32_t *starts, const int32_t *counts, int B, int T, int M,
                                int d);
void cuda_ema_forward(Backend *be, void *zt, const void *z, const float *p, const int32_t *starts,
                      const int32_t *counts, int B, int T, int M, int d);
void cuda_ema_backward(Backend *be, void *dz, float *dp, const void *dzt, const void *z,
                       const void *zt, const float *p, const int32_t *starts,
                       const int32_t *counts, int B, int T, int M, int d);
void cuda_concepts_pack(Backend *be, void *packed, const void *padded, const int32_t *counts,
                        int B, int M, int packed_rows, int width);
void cuda_concepts_pad(Backend *be, void *padded, const void *packed, const int32_t *counts, int B,
                       int M, int width);
void cuda_add_per_row(Backend *be, float *dp, const float *coef_host, int B, int T);

/* reduce_optim.cu */
void cuda_sum_f32(Backend *be, float *out, const float *x, size_t n);
void cuda_sum_i32(Backend *be, float *out, const int32_t *x, size_t n);
void cuda_sum_squares_f32(Backend *be, float *out, const float *x, size_t n);
void cuda_mean_abs(Backend *be, float *out, const void *x, size_t n);
void cuda_clip_scale(Backend *be, float *scale_out, const float *norm_sq, float max_norm);
/* dst[g*width + j] += sum_p partials[(g*parts + p)*width + j], summed in p order, so that
 * gradients built from per-block partials are the same bits on every run. */
void cuda_add_partials(Backend *be, float *dst, const float *partials, int groups, int parts,
                       int width);
void cuda_adamw(Backend *be, float *param, void *param_act, const float *grad, float *m, float *v,
                size_t n, const AdamwGroup *groups, int n_groups, float lr_factor, float beta1,
                float beta2, int t, const float *grad_scale);

#endif
