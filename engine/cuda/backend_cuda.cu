/* engine/cuda/backend_cuda.cu: the CUDA backend's table, its one stream and cuBLAS handle,
 * device memory (allocated once by the model, tracked for peak use) and host transfers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_profiler_api.h>

#include "engine/cuda/cuda_internal.h"

extern "C" {
#include "engine/cuda/backend_cuda.h"
}

void cuda_fail(cudaError_t err, const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: CUDA error %s (%s) in %s\n", file, line, cudaGetErrorName(err),
            cudaGetErrorString(err), what);
    exit(1);
}

void cublas_fail(cublasStatus_t st, const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: cuBLAS error %s (%d) in %s\n", file, line, cublasGetStatusName(st),
            (int)st, what);
    exit(1);
}

/* Each allocation's size, kept on the host so free() can subtract it from bytes_in_use. */
struct AllocRecord {
    void *ptr;
    size_t bytes;
    AllocRecord *next;
};

static void *cuda_alloc(Backend *be, size_t bytes)
{
    CudaState *st = cuda_state(be);
    void *p = NULL;
    size_t want = bytes ? bytes : 1;
    cudaError_t err = cudaMalloc(&p, want);
    if (err != cudaSuccess) {
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        fprintf(stderr,
                "dlcm cuda backend: out of device memory allocating %zu bytes (%s); %zu of %zu "
                "bytes free, %zu in use by this backend\n",
                want, cudaGetErrorString(err), free_b, total_b, st->bytes_in_use);
        exit(1);
    }
    CUDA_CHECK(cudaMemsetAsync(p, 0, want, st->stream));
    AllocRecord *r = (AllocRecord *)malloc(sizeof *r);
    if (!r) {
        fprintf(stderr, "dlcm cuda backend: out of host memory\n");
        exit(1);
    }
    r->ptr = p;
    r->bytes = want;
    r->next = st->alloc_records;
    st->alloc_records = r;
    st->bytes_in_use += want;
    if (st->bytes_in_use > st->bytes_peak) st->bytes_peak = st->bytes_in_use;
    return p;
}

static void cuda_free(Backend *be, void *p)
{
    if (!p) return;
    CudaState *st = cuda_state(be);
    CUDA_CHECK(cudaStreamSynchronize(st->stream));
    for (AllocRecord **r = &st->alloc_records; *r; r = &(*r)->next) {
        if ((*r)->ptr == p) {
            AllocRecord *dead = *r;
            st->bytes_in_use -= dead->bytes;
            *r = dead->next;
            free(dead);
            break;
        }
    }
    CUDA_CHECK(cudaFree(p));
}

static void cuda_upload(Backend *be, void *dst, const void *host_src, size_t bytes)
{
    if (!bytes) return;
    /* From pageable host memory the copy is staged before the call returns, so the caller may
     * reuse its buffer at once; the stream keeps the order with the kernels around it. */
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, cuda_state(be)->stream));
}

static void cuda_download(Backend *be, void *host_dst, const void *src, size_t bytes)
{
    CudaState *st = cuda_state(be);
    if (bytes)
        CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, st->stream));
    cuda_fold_device_flops(be); /* synchronizes */
}

static void cuda_copy(Backend *be, void *dst, const void *src, size_t bytes)
{
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_state(be)->stream));
}

static void cuda_zero(Backend *be, void *p, size_t bytes)
{
    if (!bytes) return;
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda_state(be)->stream));
}

static void cuda_synchronize(Backend *be) { cuda_fold_device_flops(be); }

void cuda_fold_device_flops(Backend *be)
{
    CudaState *st = cuda_state(be);
    unsigned long long pairs = 0;
    CUDA_CHECK(cudaMemcpyAsync(&pairs, st->attn_pairs_device, sizeof pairs,
                               cudaMemcpyDeviceToHost, st->stream));
    CUDA_CHECK(cudaStreamSynchronize(st->stream));
    if (pairs) {
        /* each pair and product is a 64-long dot product: 2 * 64 FLOPs */
        be->flops += 2.0 * 64.0 * (double)pairs;
        CUDA_CHECK(cudaMemsetAsync(st->attn_pairs_device, 0, sizeof pairs, st->stream));
    }
}

static void cuda_destroy(Backend *be)
{
    if (!be) return;
    CudaState *st = cuda_state(be);
    CUDA_CHECK(cudaStreamSynchronize(st->stream));
    CUBLAS_CHECK(cublasDestroy(st->cublas));
    cuda_gemm_destroy(st);
    CUDA_CHECK(cudaFree(st->cublas_workspace));
    CUDA_CHECK(cudaFree(st->attn_pairs_device));
    if (st->scratch) CUDA_CHECK(cudaFree(st->scratch));
    if (st->work) CUDA_CHECK(cudaFree(st->work));
    if (st->rope_table) CUDA_CHECK(cudaFree(st->rope_table));
    CUDA_CHECK(cudaStreamDestroy(st->stream));
    while (st->alloc_records) {
        AllocRecord *r = st->alloc_records;
        st->alloc_records = r->next;
        free(r);
    }
    free(st);
    free(be);
}

extern "C" int backend_cuda_available(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky "no device" state for later calls */
        return 0;
    }
    return n > 0;
}

extern "C" Backend *backend_cuda_create(int device, DType act_dtype, char *err, int errlen)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        snprintf(err, errlen, "no usable CUDA device (%s)",
                 e != cudaSuccess ? cudaGetErrorString(e) : "device count is 0");
        cudaGetLastError();
        return NULL;
    }
    if (device < 0 || device >= n) {
        snprintf(err, errlen, "CUDA device %d does not exist (%d present)", device, n);
        return NULL;
    }
    if (act_dtype != DTYPE_F32 && act_dtype != DTYPE_BF16) {
        snprintf(err, errlen, "unknown activation dtype %d", (int)act_dtype);
        return NULL;
    }
    cudaDeviceProp prop;
    CUDA_CHECK(cudaSetDevice(device));
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    if (prop.major < 9) {
        snprintf(err, errlen, "CUDA device %d (%s) has compute capability %d.%d; this build "
                 "targets sm_90 (Hopper)", device, prop.name, prop.major, prop.minor);
        return NULL;
    }

    Backend *be = (Backend *)calloc(1, sizeof *be);
    CudaState *st = (CudaState *)calloc(1, sizeof *st);
    if (!be || !st) {
        free(be);
        free(st);
        snprintf(err, errlen, "out of host memory");
        return NULL;
    }
    st->device = device;
    st->allow_tf32 = 1;
    st->multiprocessors = prop.multiProcessorCount;
    CUDA_CHECK(cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&st->cublas));
    CUBLAS_CHECK(cublasSetStream(st->cublas, st->stream));
    st->cublas_workspace_bytes = 32u << 20;
    CUDA_CHECK(cudaMalloc(&st->cublas_workspace, st->cublas_workspace_bytes));
    CUBLAS_CHECK(cublasSetWorkspace(st->cublas, st->cublas_workspace, st->cublas_workspace_bytes));
    /* Reproducible runs: no atomics inside cuBLAS (split-K sums in a fixed order), one stream
     * and one fixed workspace, so the same shapes give the same bits on the same GPU. */
    CUBLAS_CHECK(cublasSetAtomicsMode(st->cublas, CUBLAS_ATOMICS_NOT_ALLOWED));
    /* the GEMM wrapper's cuBLASLt: the same stream and workspace (stream order keeps them
     * apart); its split-K reductions run in a fixed order by design */
    cuda_gemm_init(st);
    CUDA_CHECK(cudaMalloc(&st->attn_pairs_device, sizeof(unsigned long long)));
    CUDA_CHECK(cudaMemset(st->attn_pairs_device, 0, sizeof(unsigned long long)));
    st->bytes_peak = st->bytes_in_use = st->cublas_workspace_bytes;

    be->name = "cuda";
    be->act_dtype = act_dtype;
    be->act_size = act_dtype == DTYPE_BF16 ? 2 : 4;
    be->impl = st;
    be->alloc = cuda_alloc;
    be->free = cuda_free;
    be->upload = cuda_upload;
    be->download = cuda_download;
    be->copy = cuda_copy;
    be->zero = cuda_zero;
    be->synchronize = cuda_synchronize;
    be->f32_to_act = cuda_f32_to_act;
    be->act_to_f32 = cuda_act_to_f32;
    be->destroy = cuda_destroy;
    be->gemm = cuda_gemm;
    be->add = cuda_add;
    be->accumulate = cuda_accumulate;
    be->scale_f32 = cuda_scale_f32;
    be->embedding_forward = cuda_embedding_forward;
    be->embedding_backward = cuda_embedding_backward;
    be->rmsnorm_forward = cuda_rmsnorm_forward;
    be->rmsnorm_backward = cuda_rmsnorm_backward;
    be->head_norm_rope_forward = cuda_head_norm_rope_forward;
    be->head_norm_rope_backward = cuda_head_norm_rope_backward;
    be->attention_forward = cuda_attention_forward;
    be->attention_backward = cuda_attention_backward;
    be->swiglu_forward = cuda_swiglu_forward;
    be->swiglu_backward = cuda_swiglu_backward;
    be->cross_entropy = cuda_cross_entropy;
    be->router_forward = cuda_router_forward;
    be->router_backward = cuda_router_backward;
    be->boundary_sample = cuda_boundary_sample;
    be->segment_index = cuda_segment_index;
    be->segment_mean_forward = cuda_segment_mean_forward;
    be->segment_mean_backward = cuda_segment_mean_backward;
    be->ema_forward = cuda_ema_forward;
    be->ema_backward = cuda_ema_backward;
    be->concepts_pack = cuda_concepts_pack;
    be->concepts_pad = cuda_concepts_pad;
    be->add_per_row = cuda_add_per_row;
    be->sum_f32 = cuda_sum_f32;
    be->sum_i32 = cuda_sum_i32;
    be->sum_squares_f32 = cuda_sum_squares_f32;
    be->mean_abs = cuda_mean_abs;
    be->clip_scale = cuda_clip_scale;
    be->adamw = cuda_adamw;
    return be;
}

extern "C" void backend_cuda_set_tf32(Backend *be, int allow)
{
    if (be && be->name && strcmp(be->name, "cuda") == 0) cuda_state(be)->allow_tf32 = allow != 0;
}

extern "C" size_t backend_cuda_peak_bytes(Backend *be)
{
    if (!be || !be->name || strcmp(be->name, "cuda") != 0) return 0;
    return cuda_state(be)->bytes_peak;
}

extern "C" size_t backend_cuda_device_bytes_used(Backend *be)
{
    if (!be || !be->name || strcmp(be->name, "cuda") != 0) return 0;
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    return total_b - free_b;
}

extern "C" void backend_cuda_device_name(Backend *be, char *buf, int buflen)
{
    if (!be || !be->name || strcmp(be->name, "cuda") != 0) {
        snprintf(buf, buflen, "none");
        return;
    }
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, cuda_state(be)->device));
    snprintf(buf, buflen, "%s", prop.name);
}

extern "C" void backend_cuda_profile_range(Backend *be, int on)
{
    if (!be || !be->name || strcmp(be->name, "cuda") != 0) return;
    CUDA_CHECK(cudaStreamSynchronize(cuda_state(be)->stream));
    if (on) CUDA_CHECK(cudaProfilerStart());
    else CUDA_CHECK(cudaProfilerStop());
}

/* Grows *buf to at least `bytes` (with headroom: DLCM shapes change with the concept count every
 * step); `what` names the buffer in the out-of-memory message. */
static void *grow_buffer(Backend *be, void **buf, size_t *buf_bytes, size_t bytes, const char *what)
{
    CudaState *st = cuda_state(be);
    if (bytes <= *buf_bytes) return *buf;
    if (*buf) {
        CUDA_CHECK(cudaStreamSynchronize(st->stream));
        CUDA_CHECK(cudaFree(*buf));
        st->bytes_in_use -= *buf_bytes;
        *buf = NULL;
        *buf_bytes = 0;
    }
    bytes += bytes / 2;
    cudaError_t err = cudaMalloc(buf, bytes);
    if (err != cudaSuccess) {
        fprintf(stderr, "dlcm cuda backend: out of device memory allocating %zu bytes of %s (%s)\n",
                bytes, what, cudaGetErrorString(err));
        exit(1);
    }
    *buf_bytes = bytes;
    st->bytes_in_use += bytes;
    if (st->bytes_in_use > st->bytes_peak) st->bytes_peak = st->bytes_in_use;
    return *buf;
}

void *cuda_scratch(Backend *be, size_t bytes)
{
    CudaState *st = cuda_state(be);
    return grow_buffer(be, &st->scratch, &st->scratch_bytes, bytes, "attention scratch");
}

void *cuda_work(Backend *be, size_t bytes)
{
    CudaState *st = cuda_state(be);
    return grow_buffer(be, &st->work, &st->work_bytes, bytes, "work memory");
}
