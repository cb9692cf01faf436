/* engine/cuda/gemm.cu: the CUDA backend's one matrix-product wrapper over cublasGemmEx: TF32
 * tensor cores (or exact fp32) in fp32 mode, bf16 inputs with fp32 accumulation in bf16 mode. */
#include "engine/cuda/cuda_internal.h"

/* Row-major C[M][N] = alpha op(A) op(B) + beta C is column-major C^T = op(B)^T op(A)^T, so
 * cuBLAS gets the operands swapped and M, N exchanged; the leading dimensions stay the same. */
void cuda_gemm(Backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
               const void *A, int lda, const void *B, int ldb, float beta, void *C, int ldc,
               int c_f32)
{
    if (M <= 0 || N <= 0) return;
    CudaState *st = cuda_state(be);
    be->flops += 2.0 * (double)M * (double)N * (double)K;
    cudaDataType_t ab_type = is_bf16(be) ? CUDA_R_16BF : CUDA_R_32F;
    cudaDataType_t c_type = (c_f32 || !is_bf16(be)) ? CUDA_R_32F : CUDA_R_16BF;
    cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
    if (!is_bf16(be) && st->allow_tf32) compute = CUBLAS_COMPUTE_32F_FAST_TF32;
    cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasGemmEx(st->cublas, op_b, op_a, N, M, K, &alpha, B, ab_type, ldb, A, ab_type,
                              lda, &beta, C, c_type, ldc, compute, CUBLAS_GEMM_DEFAULT));
}

/* The same product over `batch` matrices at fixed element strides (attention's heads). FLOPs
 * are not counted here: attention counts the products of the keys each query sees. */
void cuda_gemm_strided(Backend *be, int trans_a, int trans_b, int M, int N, int K, float alpha,
                       const void *A, int lda, long long stride_a, const void *B, int ldb,
                       long long stride_b, float beta, void *C, int ldc, long long stride_c,
                       int batch, int c_f32)
{
    if (M <= 0 || N <= 0 || batch <= 0) return;
    CudaState *st = cuda_state(be);
    cudaDataType_t ab_type = is_bf16(be) ? CUDA_R_16BF : CUDA_R_32F;
    cudaDataType_t c_type = (c_f32 || !is_bf16(be)) ? CUDA_R_32F : CUDA_R_16BF;
    cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
    if (!is_bf16(be) && st->allow_tf32) compute = CUBLAS_COMPUTE_32F_FAST_TF32;
    cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(st->cublas, op_b, op_a, N, M, K, &alpha, B, ab_type,
                                            ldb, stride_b, A, ab_type, lda, stride_a, &beta, C,
                                            c_type, ldc, stride_c, batch, compute,
                                            CUBLAS_GEMM_DEFAULT));
}
