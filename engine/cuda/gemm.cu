/* engine/cuda/gemm.cu: the CUDA backend's one matrix-product wrapper over cuBLASLt, with the
 * algorithm of each shape chosen once and cached (TF32 tensor cores or exact fp32 in fp32 mode,
 * bf16 inputs with fp32 accumulation in bf16 mode). */
#include <cublasLt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_internal.h"

/* What makes two calls the same problem for the algorithm choice: the transposes, the sizes,
 * the leading dimensions, the types and the alignment of the pointers (cuBLASLt's heuristic
 * assumes the alignment it is told). The pointers, alpha and beta may change from call to
 * call. A row count of the activations (the DLCM's concept rows change every step) enters the
 * key rounded up to ROW_BAND: one heuristic query, and one set of kernels, per band of 64
 * rows, not per count. It is always a dimension free of the leading dimensions (the
 * column count of a column-major operand), so the rounded problem is a valid one to ask
 * about, and an algorithm for it runs the smaller one (cuBLASLt checks it at launch). */
#define ROW_BAND 64

typedef struct {
    int trans_a, trans_b, M, N, K, lda, ldb, ldc;
    int ab_type, c_type, compute;
    int align_a, align_b, align_c;
} GemmKey;

/* A cached choice: the algorithm the heuristic found for the key's problem, or use_gemm_ex
 * when it found none or cuBLASLt refused it at launch (the calls then go through
 * cublasGemmEx). */
typedef struct {
    GemmKey key;
    int used;
    int use_gemm_ex;
    cublasLtMatmulAlgo_t algo;
} GemmPlan;

/* The descriptors of one problem (exact sizes), built per call on the stack: a few field
 * writes, no allocation. */
typedef struct {
    cublasLtMatmulDescOpaque_t desc;
    cublasLtMatrixLayoutOpaque_t layout_a, layout_b, layout_c;
} GemmDescs;

/* Open addressing on a table of a power-of-two size, at most half full. */
struct GemmPlanCache {
    GemmPlan *slots;
    size_t capacity, count;
};

static uint64_t key_hash(const GemmKey *k)
{
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof *k; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static GemmPlan *find_slot(GemmPlan *slots, size_t capacity, const GemmKey *k)
{
    size_t i = key_hash(k) & (capacity - 1);
    while (slots[i].used && memcmp(&slots[i].key, k, sizeof *k) != 0) i = (i + 1) & (capacity - 1);
    return &slots[i];
}

static void *cache_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "dlcm cuda backend: out of host memory for the GEMM plan cache\n");
        exit(1);
    }
    return p;
}

void cuda_gemm_init(CudaState *st)
{
    CUBLAS_CHECK(cublasLtCreate(&st->cublas_lt));
    st->gemm_plans = (GemmPlanCache *)cache_calloc(1, sizeof(GemmPlanCache));
    st->gemm_plans->capacity = 256;
    st->gemm_plans->slots = (GemmPlan *)cache_calloc(st->gemm_plans->capacity, sizeof(GemmPlan));
}

void cuda_gemm_destroy(CudaState *st)
{
    if (st->gemm_plans) {
        free(st->gemm_plans->slots);
        free(st->gemm_plans);
        st->gemm_plans = NULL;
    }
    if (st->cublas_lt) CUBLAS_CHECK(cublasLtDestroy(st->cublas_lt));
    st->cublas_lt = NULL;
}

/* The largest power of two, at most 256, that divides the address. */
static int alignment_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    int align = 256;
    while (align > 1 && (a & (uintptr_t)(align - 1))) align >>= 1;
    return align;
}

static void grow(GemmPlanCache *c)
{
    size_t capacity = c->capacity * 2;
    GemmPlan *slots = (GemmPlan *)cache_calloc(capacity, sizeof(GemmPlan));
    for (size_t i = 0; i < c->capacity; i++)
        if (c->slots[i].used) *find_slot(slots, capacity, &c->slots[i].key) = c->slots[i];
    free(c->slots);
    c->slots = slots;
    c->capacity = capacity;
}

/* Row-major C[M][N] = alpha op(A) op(B) + beta C is column-major C^T = op(B)^T op(A)^T, so
 * cuBLAS(Lt) gets the operands swapped and M, N exchanged; the leading dimensions stay. */
static void build_descs(GemmDescs *g, const GemmKey *k)
{
    cublasOperation_t op_b = k->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_a = k->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescInit(&g->desc, (cublasComputeType_t)k->compute, CUDA_R_32F));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(&g->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_b, sizeof op_b));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(&g->desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_a, sizeof op_a));
    /* cuBLASLt's A is our B: N x K (or K x N transposed); its B is our A: K x M (or M x K) */
    cudaDataType_t ab = (cudaDataType_t)k->ab_type, ct = (cudaDataType_t)k->c_type;
    CUBLAS_CHECK(cublasLtMatrixLayoutInit(&g->layout_a, ab, k->trans_b ? k->K : k->N,
                                          k->trans_b ? k->N : k->K, k->ldb));
    CUBLAS_CHECK(cublasLtMatrixLayoutInit(&g->layout_b, ab, k->trans_a ? k->M : k->K,
                                          k->trans_a ? k->K : k->M, k->lda));
    CUBLAS_CHECK(cublasLtMatrixLayoutInit(&g->layout_c, ct, k->N, k->M, k->ldc));
}

/* The heuristic's choice for the key's (rounded) problem. */
static void choose_algorithm(CudaState *st, GemmPlan *p)
{
    const GemmKey *k = &p->key;
    GemmDescs g;
    build_descs(&g, k);
    cublasLtMatmulPreferenceOpaque_t pref;
    CUBLAS_CHECK(cublasLtMatmulPreferenceInit(&pref));
    uint64_t workspace = st->cublas_workspace_bytes;
    uint32_t align_a = (uint32_t)k->align_b, align_b = (uint32_t)k->align_a, align_c = (uint32_t)k->align_c;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(&pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof workspace));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(&pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof align_a));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(&pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof align_b));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(&pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c, sizeof align_c));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(&pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c, sizeof align_c));
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(st->cublas_lt, &g.desc, &g.layout_a,
                                                           &g.layout_b, &g.layout_c, &g.layout_c,
                                                           &pref, 1, &result, &found);
    if (status == CUBLAS_STATUS_SUCCESS && found > 0 && result.state == CUBLAS_STATUS_SUCCESS) {
        p->algo = result.algo;
        p->use_gemm_ex = 0;
    } else {
        p->use_gemm_ex = 1; /* no cuBLASLt algorithm for this problem: cublasGemmEx chooses */
    }
}

static int round_up_band(int rows) { return (rows + ROW_BAND - 1) / ROW_BAND * ROW_BAND; }

static GemmPlan *plan_for(CudaState *st, const GemmKey *k)
{
    GemmPlanCache *c = st->gemm_plans;
    GemmPlan *p = find_slot(c->slots, c->capacity, k);
    if (p->used) return p;
    if (2 * (c->count + 1) > c->capacity) {
        grow(c);
        p = find_slot(c->slots, c->capacity, k);
    }
    memset(p, 0, sizeof *p);
    p->key = *k;
    p->used = 1;
    c->count++;
    choose_algorithm(st, p);
    return p;
}

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
    GemmKey key;
    memset(&key, 0, sizeof key); /* the key is hashed and compared as bytes */
    key.trans_a = trans_a != 0;
    key.trans_b = trans_b != 0;
    key.M = M;
    key.N = N;
    key.K = K;
    key.lda = lda;
    key.ldb = ldb;
    key.ldc = ldc;
    key.ab_type = (int)ab_type;
    key.c_type = (int)c_type;
    key.compute = (int)compute;
    key.align_a = alignment_of(A);
    key.align_b = alignment_of(B);
    key.align_c = alignment_of(C);
    /* the row count of the activations: M unless A is transposed (then K, the dW products) */
    GemmKey band = key;
    if (!key.trans_a) band.M = round_up_band(M);
    else if (!key.trans_b) band.K = round_up_band(K);
    GemmPlan *p = K > 0 ? plan_for(st, &band) : NULL;
    if (p && !p->use_gemm_ex) {
        GemmDescs g;
        build_descs(&g, &key);
        cublasStatus_t status = cublasLtMatmul(st->cublas_lt, &g.desc, &alpha, B, &g.layout_a, A,
                                               &g.layout_b, &beta, C, &g.layout_c, C, &g.layout_c,
                                               &p->algo, st->cublas_workspace,
                                               st->cublas_workspace_bytes, st->stream);
        if (status == CUBLAS_STATUS_SUCCESS) return;
        if (status != CUBLAS_STATUS_NOT_SUPPORTED) CUBLAS_CHECK(status);
        /* refused at launch (it checks more than the heuristic): this call goes through
         * cublasGemmEx; the exact problem gets a plan of its own for the next ones */
        if (memcmp(&band, &key, sizeof key) != 0) {
            GemmPlan *exact = plan_for(st, &key);
            if (!exact->use_gemm_ex) {
                status = cublasLtMatmul(st->cublas_lt, &g.desc, &alpha, B, &g.layout_a, A,
                                        &g.layout_b, &beta, C, &g.layout_c, C, &g.layout_c,
                                        &exact->algo, st->cublas_workspace,
                                        st->cublas_workspace_bytes, st->stream);
                if (status == CUBLAS_STATUS_SUCCESS) return;
                if (status != CUBLAS_STATUS_NOT_SUPPORTED) CUBLAS_CHECK(status);
                exact->use_gemm_ex = 1;
            }
        } else {
            p->use_gemm_ex = 1;
        }
    }
    cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasGemmEx(st->cublas, op_b, op_a, N, M, K, &alpha, B, ab_type, ldb, A, ab_type,
                              lda, &beta, C, c_type, ldc, compute, CUBLAS_GEMM_DEFAULT));
}
