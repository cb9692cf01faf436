/* engine/cuda/attention.cu: multi-head attention with heads of 64, causal or with per-query key
 * counts and an optional null key/value, forward (online softmax over key tiles, flash style)
 * and backward (one kernel for dQ and the null key's gradients, one for dK and dV). */
#include <math.h>

#include "engine/cuda/attention_common.h"
#include "engine/cuda/cuda_internal.h"

#define ATT_WARPS 4
#define ATT_THREADS (ATT_WARPS * 32)
#define ROWS_PER_WARP 4                          /* queries (or keys) a warp owns */
#define ROWS_PER_BLOCK (ATT_WARPS * ROWS_PER_WARP)
#define TILE 32                                  /* keys (or queries) streamed per step */

/* Loads TILE rows of 64 from `src` (rows row0.., stride) into a padded fp32 tile; rows past
 * `rows` are zero. */
template <typename T>
static __device__ __forceinline__ void load_tile(float (*tile)[HD + 1], const T *src, size_t base_row,
                                                 int row0, int rows, int stride, int col0)
{
    for (int e = threadIdx.x; e < TILE * HD; e += ATT_THREADS) {
        int r = e / HD, c = e % HD;
        int row = row0 + r;
        tile[r][c] = row < rows ? to_f32(src[(base_row + row) * stride + col0 + c]) : 0.0f;
    }
}

/* ---- forward ------------------------------------------------------------------------------------
 * Block: 16 queries of one (sequence, head), 4 per warp; lane j scores key kt + j of each tile,
 * then the warp folds the tile into its running max, sum and output (lanes own output dims
 * lane and lane + 32). The null key is the softmax's starting state. */
template <typename T>
__global__ void __launch_bounds__(ATT_THREADS)
attention_forward_kernel(T *out, float *lse, const T *q, const T *k, const T *v, const T *k_null,
                         const T *v_null, AttnArgs a)
{
    __shared__ float Ks[TILE][HD + 1];
    __shared__ float Vs[TILE][HD + 1];
    __shared__ float Qs[ROWS_PER_BLOCK][HD];
    __shared__ int block_keys;
    int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * ROWS_PER_BLOCK;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    for (int e = threadIdx.x; e < ROWS_PER_BLOCK * HD; e += ATT_THREADS) {
        int r = e / HD, c = e % HD, i = q0 + r;
        Qs[r][c] = i < a.Tq ? to_f32(q[((size_t)b * a.Tq + i) * a.q_stride + h * HD + c]) : 0.0f;
    }
    if (threadIdx.x == 0) block_keys = 0;
    __syncthreads();

    int n[ROWS_PER_WARP];
    float m[ROWS_PER_WARP], l[ROWS_PER_WARP], o0[ROWS_PER_WARP], o1[ROWS_PER_WARP];
    int warp_keys = 0;
    unsigned long long pairs = 0;
#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        int i = q0 + warp * ROWS_PER_WARP + r;
        const float *qr = Qs[warp * ROWS_PER_WARP + r];
        n[r] = visible_keys(a, b, i);
        warp_keys = max(warp_keys, n[r]);
        if (i < a.Tq) pairs += (unsigned long long)(n[r] + a.has_null);
        if (a.has_null) {
            float kn0 = to_f32(k_null[h * HD + lane]), kn1 = to_f32(k_null[h * HD + lane + 32]);
            m[r] = a.scale * warp_sum(qr[lane] * kn0 + qr[lane + 32] * kn1);
            l[r] = 1.0f;
            o0[r] = to_f32(v_null[h * HD + lane]);
            o1[r] = to_f32(v_null[h * HD + lane + 32]);
        } else {
            m[r] = -INFINITY;
            l[r] = 0.0f;
            o0[r] = o1[r] = 0.0f;
        }
    }
    if (lane == 0) {
        atomicMax(&block_keys, warp_keys);
        if (a.pair_counter) atomicAdd(a.pair_counter, 2ull * pairs);
    }
    __syncthreads();
    int keys = block_keys;

    for (int kt = 0; kt < keys; kt += TILE) {
        __syncthreads(); /* the previous tile is consumed */
        load_tile(Ks, k, (size_t)b * a.Tk, kt, a.Tk, a.k_stride, h * HD);
        load_tile(Vs, v, (size_t)b * a.Tk, kt, a.Tk, a.v_stride, h * HD);
        __syncthreads();
        float s[ROWS_PER_WARP] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll 8
        for (int d = 0; d < HD; d++) {
            float kd = Ks[lane][d];
#pragma unroll
            for (int r = 0; r < ROWS_PER_WARP; r++) s[r] += Qs[warp * ROWS_PER_WARP + r][d] * kd;
        }
        int j = kt + lane;
#pragma unroll
        for (int r = 0; r < ROWS_PER_WARP; r++) {
            float sr = j < n[r] ? a.scale * s[r] : -INFINITY;
            float tile_max = warp_max(sr);
            if (tile_max == -INFINITY) continue; /* warp-uniform: no visible key in this tile */
            float m_new = fmaxf(m[r], tile_max);
            float correction = expf(m[r] - m_new);
            float p = expf(sr - m_new);
            l[r] = l[r] * correction + warp_sum(p);
            float a0 = o0[r] * correction, a1 = o1[r] * correction;
#pragma unroll 8
            for (int jj = 0; jj < TILE; jj++) {
                float pj = __shfl_sync(0xffffffffu, p, jj);
                a0 += pj * Vs[jj][lane];
                a1 += pj * Vs[jj][lane + 32];
            }
            o0[r] = a0;
            o1[r] = a1;
            m[r] = m_new;
        }
    }

#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        int i = q0 + warp * ROWS_PER_WARP + r;
        if (i >= a.Tq) continue;
        T *orow = out + ((size_t)b * a.Tq + i) * a.o_stride + h * HD;
        float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        orow[lane] = from_f32<T>(o0[r] * inv);
        orow[lane + 32] = from_f32<T>(o1[r] * inv);
        if (lane == 0)
            lse[((size_t)b * a.H + h) * a.Tq + i] = l[r] > 0.0f ? m[r] + logf(l[r]) : -INFINITY;
    }
}

/* ---- backward: dQ (and the null key's dK, dV) ---------------------------------------------------
 * Same tiling as forward. P = exp(s - lse); dS = P (dO.v - D) scale with D = dO.O. */
template <typename T>
__global__ void __launch_bounds__(ATT_THREADS)
attention_backward_dq_kernel(T *dq, float *dk_null, float *dv_null, const T *dout, const T *out,
                             const float *lse, const T *q, const T *k, const T *v, const T *k_null,
                             const T *v_null, AttnArgs a)
{
    __shared__ float Ks[TILE][HD + 1];
    __shared__ float Vs[TILE][HD + 1];
    __shared__ float Qs[ROWS_PER_BLOCK][HD];
    __shared__ float DOs[ROWS_PER_BLOCK][HD];
    __shared__ float null_grad[2][HD];
    __shared__ int block_keys;
    int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * ROWS_PER_BLOCK;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    for (int e = threadIdx.x; e < ROWS_PER_BLOCK * HD; e += ATT_THREADS) {
        int r = e / HD, c = e % HD, i = q0 + r;
        size_t row = (size_t)b * a.Tq + i;
        Qs[r][c] = i < a.Tq ? to_f32(q[row * a.q_stride + h * HD + c]) : 0.0f;
        DOs[r][c] = i < a.Tq ? to_f32(dout[row * a.o_stride + h * HD + c]) : 0.0f;
    }
    if (threadIdx.x < 2 * HD) null_grad[threadIdx.x / HD][threadIdx.x % HD] = 0.0f;
    if (threadIdx.x == 0) block_keys = 0;
    __syncthreads();

    int n[ROWS_PER_WARP];
    float L[ROWS_PER_WARP], D[ROWS_PER_WARP], dq0[ROWS_PER_WARP], dq1[ROWS_PER_WARP];
    float dkn0 = 0.0f, dkn1 = 0.0f, dvn0 = 0.0f, dvn1 = 0.0f;
    int warp_keys = 0;
    unsigned long long pairs = 0;
#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        int row_in_block = warp * ROWS_PER_WARP + r;
        int i = q0 + row_in_block;
        const float *qr = Qs[row_in_block], *dor = DOs[row_in_block];
        dq0[r] = dq1[r] = 0.0f;
        L[r] = i < a.Tq ? lse[((size_t)b * a.H + h) * a.Tq + i] : -INFINITY;
        if (!isfinite(L[r])) { /* no key at all, or a padding row: no gradient */
            n[r] = 0;
            D[r] = 0.0f;
            continue;
        }
        n[r] = visible_keys(a, b, i);
        warp_keys = max(warp_keys, n[r]);
        pairs += (unsigned long long)(n[r] + a.has_null);
        const T *orow = out + ((size_t)b * a.Tq + i) * a.o_stride + h * HD;
        D[r] = warp_sum(dor[lane] * to_f32(orow[lane]) + dor[lane + 32] * to_f32(orow[lane + 32]));
        if (a.has_null) {
            float kn0 = to_f32(k_null[h * HD + lane]), kn1 = to_f32(k_null[h * HD + lane + 32]);
            float vn0 = to_f32(v_null[h * HD + lane]), vn1 = to_f32(v_null[h * HD + lane + 32]);
            float P = expf(a.scale * warp_sum(qr[lane] * kn0 + qr[lane + 32] * kn1) - L[r]);
            float dP = warp_sum(dor[lane] * vn0 + dor[lane + 32] * vn1);
            float dS = P * (dP - D[r]) * a.scale;
            dq0[r] += dS * kn0;
            dq1[r] += dS * kn1;
            dkn0 += dS * qr[lane];
            dkn1 += dS * qr[lane + 32];
            dvn0 += P * dor[lane];
            dvn1 += P * dor[lane + 32];
        }
    }
    if (lane == 0) {
        atomicMax(&block_keys, warp_keys);
        if (a.pair_counter) atomicAdd(a.pair_counter, 5ull * pairs);
    }
    __syncthreads();
    int keys = block_keys;

    for (int kt = 0; kt < keys; kt += TILE) {
        __syncthreads();
        load_tile(Ks, k, (size_t)b * a.Tk, kt, a.Tk, a.k_stride, h * HD);
        load_tile(Vs, v, (size_t)b * a.Tk, kt, a.Tk, a.v_stride, h * HD);
        __syncthreads();
        float s[ROWS_PER_WARP] = {0.0f, 0.0f, 0.0f, 0.0f};
        float dp[ROWS_PER_WARP] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll 8
        for (int d = 0; d < HD; d++) {
            float kd = Ks[lane][d], vd = Vs[lane][d];
#pragma unroll
            for (int r = 0; r < ROWS_PER_WARP; r++) {
                s[r] += Qs[warp * ROWS_PER_WARP + r][d] * kd;
                dp[r] += DOs[warp * ROWS_PER_WARP + r][d] * vd;
            }
        }
        int j = kt + lane;
#pragma unroll
        for (int r = 0; r < ROWS_PER_WARP; r++) {
            if (kt >= n[r]) continue; /* warp-uniform */
            float P = j < n[r] ? expf(a.scale * s[r] - L[r]) : 0.0f;
            float dS = P * (dp[r] - D[r]) * a.scale;
            float a0 = dq0[r], a1 = dq1[r];
#pragma unroll 8
            for (int jj = 0; jj < TILE; jj++) {
                float ds = __shfl_sync(0xffffffffu, dS, jj);
                a0 += ds * Ks[jj][lane];
                a1 += ds * Ks[jj][lane + 32];
            }
            dq0[r] = a0;
            dq1[r] = a1;
        }
    }

#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        int i = q0 + warp * ROWS_PER_WARP + r;
        if (i >= a.Tq) continue;
        T *dqr = dq + ((size_t)b * a.Tq + i) * a.q_stride + h * HD;
        dqr[lane] = from_f32<T>(to_f32(dqr[lane]) + dq0[r]);
        dqr[lane + 32] = from_f32<T>(to_f32(dqr[lane + 32]) + dq1[r]);
    }
    if (a.has_null) {
        atomicAdd(&null_grad[0][lane], dkn0);
        atomicAdd(&null_grad[0][lane + 32], dkn1);
        atomicAdd(&null_grad[1][lane], dvn0);
        atomicAdd(&null_grad[1][lane + 32], dvn1);
        __syncthreads();
        if (threadIdx.x < HD) {
            if (dk_null) atomicAdd(&dk_null[h * HD + threadIdx.x], null_grad[0][threadIdx.x]);
            if (dv_null) atomicAdd(&dv_null[h * HD + threadIdx.x], null_grad[1][threadIdx.x]);
        }
    }
}

/* ---- backward: dK, dV ----------------------------------------------------------------------------
 * Block: 16 keys of one (sequence, head), 4 per warp; queries stream through in tiles of 32,
 * lane i taking query qt + i. dK_j = sum_i dS_ij q_i, dV_j = sum_i P_ij dO_i. */
template <typename T>
__global__ void __launch_bounds__(ATT_THREADS)
attention_backward_dkv_kernel(T *dk, T *dv, const T *dout, const T *out, const float *lse,
                              const T *q, const T *k, const T *v, AttnArgs a)
{
    __shared__ float Qt[TILE][HD + 1];
    __shared__ float DOt[TILE][HD + 1];
    __shared__ float Kw[ROWS_PER_BLOCK][HD];
    __shared__ float Vw[ROWS_PER_BLOCK][HD];
    __shared__ float L_t[TILE], D_t[TILE];
    __shared__ int n_t[TILE];
    int b = blockIdx.z, h = blockIdx.y, j0 = blockIdx.x * ROWS_PER_BLOCK;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    for (int e = threadIdx.x; e < ROWS_PER_BLOCK * HD; e += ATT_THREADS) {
        int r = e / HD, c = e % HD, j = j0 + r;
        size_t row = (size_t)b * a.Tk + j;
        Kw[r][c] = j < a.Tk ? to_f32(k[row * a.k_stride + h * HD + c]) : 0.0f;
        Vw[r][c] = j < a.Tk ? to_f32(v[row * a.v_stride + h * HD + c]) : 0.0f;
    }

    float dk0[ROWS_PER_WARP], dk1[ROWS_PER_WARP], dv0[ROWS_PER_WARP], dv1[ROWS_PER_WARP];
#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; r++) dk0[r] = dk1[r] = dv0[r] = dv1[r] = 0.0f;

    /* causal: query i sees key j only when i >= j, so earlier queries are skipped */
    int first_query = a.key_count ? 0 : j0;
    for (int qt = first_query; qt < a.Tq; qt += TILE) {
        __syncthreads();
        load_tile(Qt, q, (size_t)b * a.Tq, qt, a.Tq, a.q_stride, h * HD);
        load_tile(DOt, dout, (size_t)b * a.Tq, qt, a.Tq, a.o_stride, h * HD);
        /* each warp: D and the key count of 8 of the tile's queries */
        for (int rr = warp; rr < TILE; rr += ATT_WARPS) {
            int i = qt + rr;
            float Dv = 0.0f, Lv = -INFINITY;
            int nv = 0;
            if (i < a.Tq) {
                size_t row = (size_t)b * a.Tq + i;
                const T *orow = out + row * a.o_stride + h * HD;
                const T *dorow = dout + row * a.o_stride + h * HD;
                Dv = warp_sum(to_f32(dorow[lane]) * to_f32(orow[lane]) +
                              to_f32(dorow[lane + 32]) * to_f32(orow[lane + 32]));
                Lv = lse[((size_t)b * a.H + h) * a.Tq + i];
                nv = isfinite(Lv) ? visible_keys(a, b, i) : 0;
            }
            if (lane == 0) {
                D_t[rr] = Dv;
                L_t[rr] = Lv;
                n_t[rr] = nv;
            }
        }
        __syncthreads();
        float s[ROWS_PER_WARP] = {0.0f, 0.0f, 0.0f, 0.0f};
        float dp[ROWS_PER_WARP] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll 8
        for (int d = 0; d < HD; d++) {
            float qd = Qt[lane][d], dod = DOt[lane][d];
#pragma unroll
            for (int r = 0; r < ROWS_PER_WARP; r++) {
                s[r] += qd * Kw[warp * ROWS_PER_WARP + r][d];
                dp[r] += dod * Vw[warp * ROWS_PER_WARP + r][d];
            }
        }
        int nq = n_t[lane];
        float Lq = L_t[lane], Dq = D_t[lane];
#pragma unroll
        for (int r = 0; r < ROWS_PER_WARP; r++) {
            int j = j0 + warp * ROWS_PER_WARP + r;
            bool visible = j < nq;
            if (!__any_sync(0xffffffffu, visible)) continue;
            float P = visible ? expf(a.scale * s[r] - Lq) : 0.0f;
            float dS = P * (dp[r] - Dq) * a.scale;
            float ak0 = dk0[r], ak1 = dk1[r], av0 = dv0[r], av1 = dv1[r];
#pragma unroll 8
            for (int ii = 0; ii < TILE; ii++) {
                float ds = __shfl_sync(0xffffffffu, dS, ii);
                float pi = __shfl_sync(0xffffffffu, P, ii);
                ak0 += ds * Qt[ii][lane];
                ak1 += ds * Qt[ii][lane + 32];
                av0 += pi * DOt[ii][lane];
                av1 += pi * DOt[ii][lane + 32];
            }
            dk0[r] = ak0;
            dk1[r] = ak1;
            dv0[r] = av0;
            dv1[r] = av1;
        }
    }

#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        int j = j0 + warp * ROWS_PER_WARP + r;
        if (j >= a.Tk) continue;
        size_t row = (size_t)b * a.Tk + j;
        T *dkr = dk + row * a.k_stride + h * HD;
        T *dvr = dv + row * a.v_stride + h * HD;
        dkr[lane] = from_f32<T>(to_f32(dkr[lane]) + dk0[r]);
        dkr[lane + 32] = from_f32<T>(to_f32(dkr[lane + 32]) + dk1[r]);
        dvr[lane] = from_f32<T>(to_f32(dvr[lane]) + dv0[r]);
        dvr[lane + 32] = from_f32<T>(to_f32(dvr[lane + 32]) + dv1[r]);
    }
}

/* ---- launchers ---------------------------------------------------------------------------------- */

void cuda_attention_forward(Backend *be, void *out, float *lse, const void *q, const void *k,
                            const void *v, const AttnShape *s)
{
    if (s->B <= 0 || s->Tq <= 0 || s->H <= 0) return;
    if (cuda_state(be)->attention_kind == ATTENTION_GEMM) {
        cuda_attention_gemm_forward(be, out, lse, q, k, v, s);
        return;
    }
    AttnArgs a = attn_args(be, s);
    if (!s->key_count) be->flops += 4.0 * HD * causal_pairs(s);
    dim3 grid((unsigned)((s->Tq + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK), (unsigned)s->H, (unsigned)s->B);
    cudaStream_t st = cuda_state(be)->stream;
    if (is_bf16(be))
        attention_forward_kernel<bf16><<<grid, ATT_THREADS, 0, st>>>(
            (bf16 *)out, lse, (const bf16 *)q, (const bf16 *)k, (const bf16 *)v,
            (const bf16 *)s->k_null, (const bf16 *)s->v_null, a);
    else
        attention_forward_kernel<float><<<grid, ATT_THREADS, 0, st>>>(
            (float *)out, lse, (const float *)q, (const float *)k, (const float *)v,
            (const float *)s->k_null, (const float *)s->v_null, a);
    CUDA_CHECK_LAUNCH();
}

void cuda_attention_backward(Backend *be, void *dq, void *dk, void *dv, float *dk_null,
                             float *dv_null, const void *dout, const void *out, const float *lse,
                             const void *q, const void *k, const void *v, const AttnShape *s)
{
    if (s->B <= 0 || s->Tq <= 0 || s->H <= 0) return;
    if (cuda_state(be)->attention_kind == ATTENTION_GEMM) {
        cuda_attention_gemm_backward(be, dq, dk, dv, dk_null, dv_null, dout, out, lse, q, k, v, s);
        return;
    }
    AttnArgs a = attn_args(be, s);
    if (!s->key_count) be->flops += 10.0 * HD * causal_pairs(s);
    cudaStream_t st = cuda_state(be)->stream;
    dim3 grid_q((unsigned)((s->Tq + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK), (unsigned)s->H, (unsigned)s->B);
    dim3 grid_k((unsigned)((s->Tk + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK), (unsigned)s->H, (unsigned)s->B);
    if (is_bf16(be)) {
        attention_backward_dq_kernel<bf16><<<grid_q, ATT_THREADS, 0, st>>>(
            (bf16 *)dq, dk_null, dv_null, (const bf16 *)dout, (const bf16 *)out, lse,
            (const bf16 *)q, (const bf16 *)k, (const bf16 *)v, (const bf16 *)s->k_null,
            (const bf16 *)s->v_null, a);
        CUDA_CHECK_LAUNCH();
        if (s->Tk > 0)
            attention_backward_dkv_kernel<bf16><<<grid_k, ATT_THREADS, 0, st>>>(
                (bf16 *)dk, (bf16 *)dv, (const bf16 *)dout, (const bf16 *)out, lse,
                (const bf16 *)q, (const bf16 *)k, (const bf16 *)v, a);
    } else {
        attention_backward_dq_kernel<float><<<grid_q, ATT_THREADS, 0, st>>>(
            (float *)dq, dk_null, dv_null, (const float *)dout, (const float *)out, lse,
            (const float *)q, (const float *)k, (const float *)v, (const float *)s->k_null,
            (const float *)s->v_null, a);
        CUDA_CHECK_LAUNCH();
        if (s->Tk > 0)
            attention_backward_dkv_kernel<float><<<grid_k, ATT_THREADS, 0, st>>>(
                (float *)dk, (float *)dv, (const float *)dout, (const float *)out, lse,
                (const float *)q, (const float *)k, (const float *)v, a);
    }
    CUDA_CHECK_LAUNCH();
}
