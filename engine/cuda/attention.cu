/* engine/cuda/attention.cu: fused (flash) attention, forward and backward, for causal
 * self-attention and the concept cross-attention (per-query key counts, optional null key).
 *
 * Queries and keys go in tiles of 64; a block of four warps holds one tile, 16 rows a warp, and
 * walks the tiles of the other side that its mask leaves visible (a tile hidden entirely by the
 * causal or staircase mask is never computed), the next tile loading (cp.async) into a second
 * buffer while this one is used. Scores stay in registers, the softmax is online and only the
 * log-sum-exp of each row is saved. The products run on the tensor cores in bf16
 * (mma.sync m16n8k16, fp32 accumulation); with fp32 activations the same kernels form the same
 * register tiles with fp32 FMAs, so both types share every other line.
 *
 * Backward without atomics, so that a run repeats bit for bit: one kernel per query tile forms
 * dQ over its key tiles (and the null key's gradients, summed per block, then over blocks in
 * block order by cuda_add_partials); one kernel per key tile forms dK and dV over its query
 * tiles. Scores and dP are computed in both: 7 tile products per visible tile pair instead of 5,
 * the price of determinism. Every product launched is counted (whole tiles, padding included). */
#include <math.h>
#include <stdint.h>

#include "engine/cuda/attention_common.h"

#define TILE 64                /* queries of a query tile, keys of a key tile */
#define WARPS 4                /* each warp owns 16 rows of the block's tile */
#define THREADS (WARPS * 32)
#define WARP_ROWS 16
#define NTILES (TILE / 8)      /* 8-wide column groups of a 64-wide register tile */
#define SCRATCH_LD (TILE + 4)  /* fp32 path: a warp's 16 x 64 probabilities in shared memory */
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f
#define FULL_MASK 0xffffffffu

/* A 64 x 64 tile in shared memory, rows padded by 16 bytes so that the fragment reads of a warp
 * fall in distinct banks. */
template <typename T> struct Tile {
    static constexpr int ld = HD + 16 / (int)sizeof(T);
    static constexpr int elems = TILE * ld;
};

/* Shared memory of a kernel holding `tiles` tiles (plus the fp32 path's per-warp scratch). */
template <typename T> static size_t tile_smem_bytes(int tiles)
{
    size_t scratch = sizeof(T) == sizeof(float) ? (size_t)WARPS * WARP_ROWS * SCRATCH_LD * sizeof(float) : 0;
    return (size_t)tiles * Tile<T>::elems * sizeof(T) + scratch;
}

/* Register tile: a warp's 16 x 64 block in the mma accumulator layout. Lane (g = lane / 4,
 * t = lane % 4) holds, for each 8-wide group n, columns 8n + 2t + {0, 1} of rows g (elements
 * 0, 1) and g + 8 (elements 2, 3). */
typedef float RegTile[NTILES][4];

static __device__ __forceinline__ void zero_tile(RegTile acc)
{
#pragma unroll
    for (int n = 0; n < NTILES; n++)
#pragma unroll
        for (int e = 0; e < 4; e++) acc[n][e] = 0.0f;
}

static __device__ __forceinline__ float quad_sum(float x)
{
    x += __shfl_xor_sync(FULL_MASK, x, 1);
    return x + __shfl_xor_sync(FULL_MASK, x, 2);
}

static __device__ __forceinline__ float quad_max(float x)
{
    x = fmaxf(x, __shfl_xor_sync(FULL_MASK, x, 1));
    return fmaxf(x, __shfl_xor_sync(FULL_MASK, x, 2));
}

/* <row, vec> over 64 for a row in shared memory, split over the lane's quad (16 each). */
template <typename T>
static __device__ __forceinline__ float quad_dot(const T *row, const T *vec)
{
    int t = threadIdx.x % 4;
    float s = 0.0f;
#pragma unroll
    for (int c = 0; c < 16; c++) s += to_f32(row[t * 16 + c]) * to_f32(vec[t * 16 + c]);
    return quad_sum(s);
}

/* ---- tile products: the only code that differs between bf16 and fp32 ------------------------
 * products_abt: acc += A B^T, A the warp's 16 rows and B 64 rows of 64-wide tiles (the head
 *   dimension is reduced): scores, dP.
 * products_pb: acc += P B, P a register tile (16 x 64) and B a 64 x 64 tile: P V, dS K. */

/* Four 8 x 8 blocks of a row-major shared tile in one instruction (in place of four 32-bit loads;
 * the issue slots it frees go to the tensor cores): lanes 8m..8m+7 name the rows of block m, and
 * each lane receives, of block m, the elements (g, 2t) and (g, 2t + 1) as stored: the A operand's
 * layout, and the B operand's for a B stored n-major ([n][k], as K is in Q K^T); or, transposed,
 * (2t, g) and (2t + 1, g): the B operand's layout for a B stored k-major ([k][n], as V is). */
static __device__ __forceinline__ void load_blocks(uint32_t r[4], const bf16 *row, bool transposed)
{
    unsigned addr = (unsigned)__cvta_generic_to_shared(row);
    if (transposed)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(addr)
                     : "memory");
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(addr)
                     : "memory");
}

static __device__ __forceinline__ uint32_t pack_f32_pair(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

static __device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

static __device__ __forceinline__ void products_abt(RegTile acc, const bf16 *A, const bf16 *B, float *)
{
    const int ld = Tile<bf16>::ld, lane = threadIdx.x % 32, block = lane / 8;
    /* A: blocks (rows 0-7, cols 0-7), (8-15, 0-7), (0-7, 8-15), (8-15, 8-15) of each 16-wide k step */
    const bf16 *a_row = A + (lane % 16) * ld + (lane / 16) * 8;
    /* B: blocks (rows of group n, cols 0-7), (group n, 8-15), (group n + 1, 0-7), (group n + 1, 8-15) */
    const bf16 *b_row = B + ((block / 2) * 8 + lane % 8) * ld + (block % 2) * 8;
#pragma unroll
    for (int kk = 0; kk < HD / 16; kk++) {
        uint32_t a[4];
        load_blocks(a, a_row + kk * 16, false);
#pragma unroll
        for (int n = 0; n < NTILES; n += 2) {
            uint32_t b[4];
            load_blocks(b, b_row + n * 8 * ld + kk * 16, false);
            mma_bf16(acc[n], a, b[0], b[1]);
            mma_bf16(acc[n + 1], a, b[2], b[3]);
        }
    }
}

static __device__ __forceinline__ void products_pb(RegTile acc, const RegTile p, const bf16 *B, float *)
{
    const int ld = Tile<bf16>::ld, lane = threadIdx.x % 32;
#pragma unroll
    for (int kk = 0; kk < TILE / 16; kk++) {
        /* the accumulator layout of column groups 2kk and 2kk+1 is the A operand's layout */
        uint32_t a[4] = {pack_f32_pair(p[2 * kk][0], p[2 * kk][1]), pack_f32_pair(p[2 * kk][2], p[2 * kk][3]),
                         pack_f32_pair(p[2 * kk + 1][0], p[2 * kk + 1][1]),
                         pack_f32_pair(p[2 * kk + 1][2], p[2 * kk + 1][3])};
        /* blocks: keys kk*16 + {0-7, 8-15} by columns of groups n and n + 1 */
        int block = lane / 8;
        const bf16 *b_row = B + (kk * 16 + (block % 2) * 8 + lane % 8) * ld + (block / 2) * 8;
#pragma unroll
        for (int n = 0; n < NTILES; n += 2) {
            uint32_t b[4];
            load_blocks(b, b_row + n * 8, true);
            mma_bf16(acc[n], a, b[0], b[1]);
            mma_bf16(acc[n + 1], a, b[2], b[3]);
        }
    }
}

static __device__ __forceinline__ void products_abt(RegTile acc, const float *A, const float *B, float *)
{
    const int ld = Tile<float>::ld, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const float *a_lo = A + g * ld, *a_hi = A + (g + 8) * ld;
#pragma unroll 4
    for (int d = 0; d < HD; d++) {
        float x_lo = a_lo[d], x_hi = a_hi[d];
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) {
                float y = B[(n * 8 + 2 * t + j) * ld + d];
                acc[n][j] += x_lo * y;
                acc[n][2 + j] += x_hi * y;
            }
    }
}

/* fp32: P goes through the warp's scratch so each lane can read its rows whole. */
static __device__ __forceinline__ void products_pb(RegTile acc, const RegTile p, const float *B, float *scratch)
{
    const int ld = Tile<float>::ld, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
#pragma unroll
    for (int n = 0; n < NTILES; n++)
#pragma unroll
        for (int j = 0; j < 2; j++) {
            scratch[g * SCRATCH_LD + n * 8 + 2 * t + j] = p[n][j];
            scratch[(g + 8) * SCRATCH_LD + n * 8 + 2 * t + j] = p[n][2 + j];
        }
    __syncwarp();
#pragma unroll 4
    for (int kx = 0; kx < TILE; kx++) {
        float x_lo = scratch[g * SCRATCH_LD + kx], x_hi = scratch[(g + 8) * SCRATCH_LD + kx];
        const float *b = B + kx * ld;
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) {
                float y = b[n * 8 + 2 * t + j];
                acc[n][j] += x_lo * y;
                acc[n][2 + j] += x_hi * y;
            }
    }
    __syncwarp();
}

/* ---- tiles in and out ------------------------------------------------------------------------ */

/* 16 bytes global -> shared without passing through registers; zeros when !valid (nothing read). */
static __device__ __forceinline__ void copy16_async(void *dst, const void *src, bool valid)
{
    unsigned addr = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(addr), "l"(src), "r"(valid ? 16 : 0)
                 : "memory");
}

/* The copies issued since the last commit form a group; waits are counted in groups. */
static __device__ __forceinline__ void async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
static __device__ __forceinline__ void async_wait_all_but_newest() { asm volatile("cp.async.wait_group 1;\n" ::: "memory"); }
static __device__ __forceinline__ void async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

/* Starts loading rows [0, rows) of a 64-wide head slice with `stride` elements between rows into
 * a shared tile, the rest of its 64 rows zero (their scores are masked; zeros keep NaN out of
 * the products). Complete after the group's wait and a barrier (unaligned slices are copied at
 * once, element by element). */
template <typename T>
static __device__ __forceinline__ void load_tile(T *tile, const T *src, int stride, int rows, int vector_loads)
{
    const int per_chunk = 16 / (int)sizeof(T), chunks = HD / per_chunk, ld = Tile<T>::ld;
    for (int c = threadIdx.x; c < TILE * chunks; c += THREADS) {
        int r = c / chunks, col = (c % chunks) * per_chunk;
        T *dst = tile + r * ld + col;
        if (vector_loads) {
            copy16_async(dst, r < rows ? src + (size_t)r * stride + col : src, r < rows);
        } else if (r >= rows) {
            *reinterpret_cast<uint4 *>(dst) = make_uint4(0u, 0u, 0u, 0u);
        } else {
            for (int e = 0; e < per_chunk; e++) dst[e] = src[(size_t)r * stride + col + e];
        }
    }
}

/* dst[row] += the lane's columns of one row of a register tile (half 0: row g, 1: row g + 8). */
template <typename T>
static __device__ __forceinline__ void add_tile_row(T *dst, const RegTile acc, int half)
{
    int t = threadIdx.x % 4;
#pragma unroll
    for (int n = 0; n < NTILES; n++)
#pragma unroll
        for (int j = 0; j < 2; j++) {
            T *x = dst + n * 8 + 2 * t + j;
            *x = from_f32<T>(to_f32(*x) + acc[n][2 * half + j]);
        }
}

static __device__ __forceinline__ void count_products(const AttnArgs &a, unsigned long long pairs)
{
    if (a.pair_counter && threadIdx.x == 0 && pairs) atomicAdd(a.pair_counter, pairs);
}

/* ---- kernels ---------------------------------------------------------------------------------- */

/* limits[b][tile]: the most regular keys any query of the query tile sees (its key tiles). */
__global__ void tile_limits_kernel(AttnArgs a, int *limits)
{
    __shared__ int warp_limit[TILE / 32];
    int tile = blockIdx.x, b = blockIdx.y;
    int n = __reduce_max_sync(FULL_MASK, visible_keys(a, b, tile * TILE + (int)threadIdx.x));
    if (threadIdx.x % 32 == 0) warp_limit[threadIdx.x / 32] = n;
    __syncthreads();
    if (threadIdx.x == 0) limits[(size_t)b * gridDim.x + tile] = max(warp_limit[0], warp_limit[1]);
}

/* D[b][h][i] = <dO, O> of query i: the softmax backward's row term. One warp a row. */
template <typename T>
__global__ void row_dots_kernel(AttnArgs a, float *D, const T *dout, const T *out)
{
    int lane = threadIdx.x % 32;
    size_t rows = (size_t)a.B * a.H * a.Tq, warps = (size_t)gridDim.x * blockDim.x / 32;
    for (size_t row = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32; row < rows; row += warps) {
        int i = (int)(row % a.Tq), h = (int)(row / a.Tq % a.H), b = (int)(row / a.Tq / a.H);
        size_t at = ((size_t)b * a.Tq + i) * a.o_stride + h * HD;
        float s = to_f32(dout[at + lane]) * to_f32(out[at + lane]) +
                  to_f32(dout[at + lane + 32]) * to_f32(out[at + lane + 32]);
        s = warp_sum(s);
        if (lane == 0) D[row] = s;
    }
}

/* Forward: block (query tile, head, sequence). The null key starts the online softmax: its score
 * is the first running maximum, its weight 1 and v_null the first output. Scores are kept in base
 * 2 (times log2(e), folded into the scale) so that each weight is one exp2 of a difference. */
template <typename T>
__global__ void __launch_bounds__(THREADS)
flash_forward_kernel(AttnArgs a, const int *limits, T *out, float *lse, const T *q, const T *k,
                     const T *v, const T *k_null, const T *v_null)
{
    extern __shared__ __align__(16) unsigned char smem[];
    const int ld = Tile<T>::ld;
    /* Q, then K and V twice: the next key tile loads while this one is used */
    const int pair = 2 * Tile<T>::elems; /* one buffer: a K tile, then a V tile */
    T *sQ = reinterpret_cast<T *>(smem), *sKV = sQ + Tile<T>::elems;
    int qt = blockIdx.x, h = blockIdx.y, b = blockIdx.z, q0 = qt * TILE;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    float *scratch = reinterpret_cast<float *>(sKV + 2 * pair) + warp * WARP_ROWS * SCRATCH_LD;
    int row[2] = {q0 + warp * WARP_ROWS + g, q0 + warp * WARP_ROWS + g + 8};
    int vis[2] = {visible_keys(a, b, row[0]), visible_keys(a, b, row[1])};
    int key_tiles = (limits[(size_t)b * gridDim.x + qt] + TILE - 1) / TILE;
    const T *k_seq = k + (size_t)b * a.Tk * a.k_stride + h * HD, *v_seq = v + (size_t)b * a.Tk * a.v_stride + h * HD;

    load_tile(sQ, q + ((size_t)b * a.Tq + q0) * a.q_stride + h * HD, a.q_stride, min(TILE, a.Tq - q0), a.vector_loads);
    async_commit();
    if (key_tiles > 0) {
        load_tile(sKV, k_seq, a.k_stride, min(TILE, a.Tk), a.vector_loads);
        load_tile(sKV + Tile<T>::elems, v_seq, a.v_stride, min(TILE, a.Tk), a.vector_loads);
    }
    async_commit();
    async_wait_all_but_newest(); /* Q */
    __syncthreads();
    const T *q_warp = sQ + warp * WARP_ROWS * ld;
    const float scale2 = a.scale * LOG2E;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    RegTile o;
    zero_tile(o);
    if (a.has_null) {
        const T *kn = k_null + h * HD, *vn = v_null + h * HD;
        for (int half = 0; half < 2; half++) {
            m[half] = scale2 * quad_dot(q_warp + (g + 8 * half) * ld, kn);
            l[half] = t == 0 ? 1.0f : 0.0f; /* l is summed over the quad at the end */
        }
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) o[n][j] = o[n][2 + j] = to_f32(vn[n * 8 + 2 * t + j]);
    }

    for (int kt = 0; kt < key_tiles; kt++) {
        int k0 = kt * TILE, cur = kt % 2;
        if (kt + 1 < key_tiles) {
            int next = k0 + TILE;
            T *buf = sKV + (1 - cur) * pair;
            load_tile(buf, k_seq + (size_t)next * a.k_stride, a.k_stride, min(TILE, a.Tk - next), a.vector_loads);
            load_tile(buf + Tile<T>::elems, v_seq + (size_t)next * a.v_stride, a.v_stride, min(TILE, a.Tk - next), a.vector_loads);
        }
        async_commit();
        async_wait_all_but_newest(); /* tile kt */
        __syncthreads();
        const T *sK = sKV + cur * pair, *sV = sK + Tile<T>::elems;
        RegTile s;
        zero_tile(s);
        products_abt(s, q_warp, sK, scratch);
        float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int half = e / 2, col = k0 + n * 8 + 2 * t + e % 2;
                s[n][e] = col < vis[half] ? s[n][e] * scale2 : -INFINITY;
                tile_max[half] = fmaxf(tile_max[half], s[n][e]);
            }
        float alpha[2], base[2], sum[2] = {0.0f, 0.0f};
        for (int half = 0; half < 2; half++) {
            float m_new = fmaxf(m[half], quad_max(tile_max[half]));
            base[half] = m_new == -INFINITY ? 0.0f : m_new; /* nothing seen yet: keep zeros */
            alpha[half] = exp2f(m[half] - base[half]);
            m[half] = m_new;
        }
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int half = e / 2;
                s[n][e] = exp2f(s[n][e] - base[half]);
                sum[half] += s[n][e];
                o[n][e] *= alpha[half];
            }
        for (int half = 0; half < 2; half++) l[half] = l[half] * alpha[half] + sum[half];
        products_pb(o, s, sV, scratch);
        __syncthreads(); /* every warp is done with this buffer before it is loaded again */
    }

    for (int half = 0; half < 2; half++) {
        float total = quad_sum(l[half]);
        if (row[half] >= a.Tq) continue;
        float inv = total > 0.0f ? 1.0f / total : 0.0f;
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) o[n][2 * half + j] *= inv;
        T *dst = out + ((size_t)b * a.Tq + row[half]) * a.o_stride + h * HD;
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) dst[n * 8 + 2 * t + j] = from_f32<T>(o[n][2 * half + j]);
        if (t == 0) lse[((size_t)b * a.H + h) * a.Tq + row[half]] = total > 0.0f ? m[half] * LN2 + logf(total) : -INFINITY;
    }
    count_products(a, (unsigned long long)key_tiles * 2 * TILE * TILE + (a.has_null ? 2ull * TILE : 0ull));
}

/* Backward, dQ: block (query tile, head, sequence) over its key tiles, then the null key: its
 * share of dQ, and the block's partial dk_null, dv_null (summed over the tile's rows in order)
 * into null_partials[kind][h][b * query_tiles + tile][64]. */
template <typename T>
__global__ void __launch_bounds__(THREADS)
flash_backward_dq_kernel(AttnArgs a, const int *limits, const float *row_dots, T *dq,
                         float *null_partials, const T *dout, const float *lse, const T *q,
                         const T *k, const T *v, const T *k_null, const T *v_null)
{
    extern __shared__ __align__(16) unsigned char smem[];
    __shared__ float null_ds[TILE], null_p[TILE];
    const int ld = Tile<T>::ld;
    /* Q, dO, then K and V twice (the next key tile loads while this one is used) */
    const int pair = 2 * Tile<T>::elems; /* one buffer: a K tile, then a V tile */
    T *sQ = reinterpret_cast<T *>(smem), *sdO = sQ + Tile<T>::elems, *sKV = sdO + Tile<T>::elems;
    int qt = blockIdx.x, h = blockIdx.y, b = blockIdx.z, q0 = qt * TILE;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    float *scratch = reinterpret_cast<float *>(sKV + 2 * pair) + warp * WARP_ROWS * SCRATCH_LD;
    int rows = min(TILE, a.Tq - q0);
    const T *k_seq = k + (size_t)b * a.Tk * a.k_stride + h * HD, *v_seq = v + (size_t)b * a.Tk * a.v_stride + h * HD;
    int key_tiles = (limits[(size_t)b * gridDim.x + qt] + TILE - 1) / TILE;
    load_tile(sQ, q + ((size_t)b * a.Tq + q0) * a.q_stride + h * HD, a.q_stride, rows, a.vector_loads);
    load_tile(sdO, dout + ((size_t)b * a.Tq + q0) * a.o_stride + h * HD, a.o_stride, rows, a.vector_loads);
    if (key_tiles > 0) {
        load_tile(sKV, k_seq, a.k_stride, min(TILE, a.Tk), a.vector_loads);
        load_tile(sKV + Tile<T>::elems, v_seq, a.v_stride, min(TILE, a.Tk), a.vector_loads);
    }
    async_commit();
    int row[2], vis[2];
    float L[2], L2[2], D[2]; /* L2: lse in base 2, so p = 2^(s scale2 - L2) */
    const float scale2 = a.scale * LOG2E;
    for (int half = 0; half < 2; half++) {
        row[half] = q0 + warp * WARP_ROWS + g + 8 * half;
        size_t at = ((size_t)b * a.H + h) * a.Tq + row[half];
        L[half] = row[half] < a.Tq ? lse[at] : -INFINITY;
        D[half] = row[half] < a.Tq ? row_dots[at] : 0.0f;
        vis[half] = isfinite(L[half]) ? visible_keys(a, b, row[half]) : 0;
        L2[half] = L[half] * LOG2E;
    }
    const T *q_warp = sQ + warp * WARP_ROWS * ld, *do_warp = sdO + warp * WARP_ROWS * ld;
    RegTile dq_acc;
    zero_tile(dq_acc);

    for (int kt = 0; kt < key_tiles; kt++) {
        int k0 = kt * TILE, cur = kt % 2;
        if (kt + 1 < key_tiles) {
            int next = k0 + TILE;
            T *buf = sKV + (1 - cur) * pair;
            load_tile(buf, k_seq + (size_t)next * a.k_stride, a.k_stride, min(TILE, a.Tk - next), a.vector_loads);
            load_tile(buf + Tile<T>::elems, v_seq + (size_t)next * a.v_stride, a.v_stride, min(TILE, a.Tk - next), a.vector_loads);
        }
        async_commit();
        async_wait_all_but_newest(); /* Q, dO and tile kt */
        __syncthreads();
        const T *sK = sKV + cur * pair, *sV = sK + Tile<T>::elems;
        RegTile s, dp;
        zero_tile(s);
        zero_tile(dp);
        products_abt(s, q_warp, sK, scratch);
        products_abt(dp, do_warp, sV, scratch);
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) { /* s becomes dS = P (dP - D) scale */
                int half = e / 2, col = k0 + n * 8 + 2 * t + e % 2;
                float p = col < vis[half] ? exp2f(s[n][e] * scale2 - L2[half]) : 0.0f;
                s[n][e] = p * (dp[n][e] - D[half]) * a.scale;
            }
        products_pb(dq_acc, s, sK, scratch);
        __syncthreads(); /* every warp is done with this buffer before it is loaded again */
    }

    if (a.has_null) {
        async_wait_all(); /* Q and dO, also when no key tile was visited */
        __syncthreads();
        const T *kn = k_null + h * HD, *vn = v_null + h * HD;
        float ds_null[2];
        for (int half = 0; half < 2; half++) {
            int r = warp * WARP_ROWS + g + 8 * half;
            float s_null = quad_dot(q_warp + (g + 8 * half) * ld, kn);
            float dp_null = quad_dot(do_warp + (g + 8 * half) * ld, vn);
            float p = isfinite(L[half]) ? exp2f(scale2 * s_null - L2[half]) : 0.0f;
            ds_null[half] = p * (dp_null - D[half]) * a.scale;
            if (t == 0) {
                null_ds[r] = ds_null[half];
                null_p[r] = p;
            }
        }
#pragma unroll
        for (int n = 0; n < NTILES; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) {
                float kv = to_f32(kn[n * 8 + 2 * t + j]);
                dq_acc[n][j] += ds_null[0] * kv;
                dq_acc[n][2 + j] += ds_null[1] * kv;
            }
        __syncthreads();
        /* threads 0-63: dk_null = sum_r dS_r q_r; threads 64-127: dv_null = sum_r P_r dO_r */
        int kind = threadIdx.x / HD, c = threadIdx.x % HD;
        const float *w = kind == 0 ? null_ds : null_p;
        const T *x = kind == 0 ? sQ : sdO;
        float sum = 0.0f;
        for (int r = 0; r < TILE; r++) sum += w[r] * to_f32(x[r * ld + c]);
        size_t parts = (size_t)a.B * gridDim.x, part = (size_t)b * gridDim.x + qt;
        null_partials[(((size_t)kind * a.H + h) * parts + part) * HD + c] = sum;
    }

    for (int half = 0; half < 2; half++)
        if (row[half] < a.Tq) add_tile_row(dq + ((size_t)b * a.Tq + row[half]) * a.q_stride + h * HD, dq_acc, half);
    count_products(a, (unsigned long long)key_tiles * 3 * TILE * TILE + (a.has_null ? 5ull * TILE : 0ull));
}

/* Backward, dK and dV: block (key tile, head, sequence) over the query tiles that see any of its
 * keys. The warp's register tiles are transposed scores: its 16 keys by the tile's 64 queries.
 * Held to 168 registers so that 3 blocks fit a multiprocessor (at its natural ~185, only 2: 8
 * warps to hide the latency of every shared load; a few bytes spill in bf16). */
template <typename T>
__global__ void __launch_bounds__(THREADS, 3)
flash_backward_dkv_kernel(AttnArgs a, const int *limits, int query_tiles, const float *row_dots,
                          T *dk, T *dv, const T *dout, const float *lse, const T *q, const T *k,
                          const T *v)
{
    extern __shared__ __align__(16) unsigned char smem[];
    /* per query of the staged tile: lse in base 2 (log2(e) lse), D, visible keys; read in
     * pairs (columns 2t, 2t + 1 of a group), hence the 8-byte alignment */
    __shared__ __align__(16) float tile_lse2[2][TILE];
    __shared__ __align__(16) float tile_D[2][TILE];
    __shared__ __align__(16) int tile_vis[2][TILE];
    const float scale2 = a.scale * LOG2E; /* p = 2^(s scale2 - lse2): one FMA before the exp2 */
    const int ld = Tile<T>::ld;
    /* K, V, then Q and dO twice: the next query tile loads while this one is used */
    const int pair = 2 * Tile<T>::elems; /* one buffer: a Q tile, then a dO tile */
    T *sK = reinterpret_cast<T *>(smem), *sV = sK + Tile<T>::elems, *sQdO = sV + Tile<T>::elems;
    int kt = blockIdx.x, h = blockIdx.y, b = blockIdx.z, k0 = kt * TILE;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    float *scratch = reinterpret_cast<float *>(sQdO + 2 * pair) + warp * WARP_ROWS * SCRATCH_LD;
    const int *seq_limits = limits + (size_t)b * query_tiles;
    load_tile(sK, k + ((size_t)b * a.Tk + k0) * a.k_stride + h * HD, a.k_stride, min(TILE, a.Tk - k0), a.vector_loads);
    load_tile(sV, v + ((size_t)b * a.Tk + k0) * a.v_stride + h * HD, a.v_stride, min(TILE, a.Tk - k0), a.vector_loads);
    int key[2] = {k0 + warp * WARP_ROWS + g, k0 + warp * WARP_ROWS + g + 8};
    const T *k_warp = sK + warp * WARP_ROWS * ld, *v_warp = sV + warp * WARP_ROWS * ld;
    RegTile dk_acc, dv_acc;
    zero_tile(dk_acc);
    zero_tile(dv_acc);
    unsigned long long tiles_done = 0;

    /* walk, in order, the query tiles in which some query sees a key of this tile */
    int qt = 0;
    while (qt < query_tiles && seq_limits[qt] <= k0) qt++;
    /* Starts loading query tile `tile` into buffer `buf`: Q and dO, and its rows' lse, D and
     * visible keys (those by plain stores). */
    auto stage = [&](int tile, int buf) {
        int q0 = tile * TILE, rows = min(TILE, a.Tq - q0);
        T *dst = sQdO + buf * pair;
        load_tile(dst, q + ((size_t)b * a.Tq + q0) * a.q_stride + h * HD, a.q_stride, rows, a.vector_loads);
        load_tile(dst + Tile<T>::elems, dout + ((size_t)b * a.Tq + q0) * a.o_stride + h * HD, a.o_stride, rows, a.vector_loads);
        if (threadIdx.x < TILE) {
            int i = q0 + threadIdx.x;
            size_t at = ((size_t)b * a.H + h) * a.Tq + i;
            float L = i < a.Tq ? lse[at] : -INFINITY;
            tile_lse2[buf][threadIdx.x] = isfinite(L) ? L * LOG2E : 0.0f;
            tile_D[buf][threadIdx.x] = i < a.Tq ? row_dots[at] : 0.0f;
            tile_vis[buf][threadIdx.x] = isfinite(L) ? visible_keys(a, b, i) : 0;
        }
    };
    if (qt < query_tiles) stage(qt, 0);
    async_commit();
    for (int cur = 0; qt < query_tiles; cur = 1 - cur) {
        int next = qt + 1;
        while (next < query_tiles && seq_limits[next] <= k0) next++;
        if (next < query_tiles) stage(next, 1 - cur);
        async_commit();
        async_wait_all_but_newest(); /* K, V and this query tile */
        __syncthreads();
        tiles_done++;
        const float2 *t_lse2 = reinterpret_cast<const float2 *>(tile_lse2[cur]);
        const float2 *t_D = reinterpret_cast<const float2 *>(tile_D[cur]);
        const int2 *t_vis = reinterpret_cast<const int2 *>(tile_vis[cur]);
        const T *sQ = sQdO + cur * pair, *sdO = sQ + Tile<T>::elems;
        RegTile p, ds;
        zero_tile(p);
        zero_tile(ds);
        products_abt(p, k_warp, sQ, scratch);  /* S^T */
        products_abt(ds, v_warp, sdO, scratch); /* dP^T */
#pragma unroll
        for (int n = 0; n < NTILES; n++) {
            /* this lane's two columns of group n: queries n * 8 + 2t and n * 8 + 2t + 1 */
            float2 lse_pair = t_lse2[n * 4 + t], d_pair = t_D[n * 4 + t];
            int2 vis_pair = t_vis[n * 4 + t];
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int half = e / 2;
                float lse2 = e % 2 ? lse_pair.y : lse_pair.x, d = e % 2 ? d_pair.y : d_pair.x;
                int vis = e % 2 ? vis_pair.y : vis_pair.x;
                float pr = key[half] < vis ? exp2f(p[n][e] * scale2 - lse2) : 0.0f;
                p[n][e] = pr;
                ds[n][e] = pr * (ds[n][e] - d) * a.scale;
            }
        }
        products_pb(dv_acc, p, sdO, scratch);
        products_pb(dk_acc, ds, sQ, scratch);
        __syncthreads(); /* every warp is done with this buffer before it is loaded again */
        qt = next;
    }
    async_wait_all(); /* K and V, when no query tile sees them */

    for (int half = 0; half < 2; half++) {
        if (key[half] >= a.Tk) continue;
        add_tile_row(dk + ((size_t)b * a.Tk + key[half]) * a.k_stride + h * HD, dk_acc, half);
        add_tile_row(dv + ((size_t)b * a.Tk + key[half]) * a.v_stride + h * HD, dv_acc, half);
    }
    count_products(a, tiles_done * 4 * TILE * TILE);
}

/* ---- host side ------------------------------------------------------------------------------ */

static int tiles_of(int n) { return (n + TILE - 1) / TILE; }

/* Dynamic shared memory above the default 48 KB needs the kernel's consent (fp32 tiles). */
template <typename Kernel> static void allow_smem(Kernel kernel, size_t bytes)
{
    if (bytes > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

static void launch_tile_limits(Backend *be, const AttnArgs &a, int *limits)
{
    tile_limits_kernel<<<dim3((unsigned)tiles_of(a.Tq), (unsigned)a.B), TILE, 0, cuda_state(be)->stream>>>(a, limits);
    CUDA_CHECK_LAUNCH();
}

template <typename T>
static void forward(Backend *be, const AttnArgs &a, const int *limits, void *out, float *lse,
                    const void *q, const void *k, const void *v, const AttnShape *s)
{
    size_t smem = tile_smem_bytes<T>(5);
    allow_smem(flash_forward_kernel<T>, smem);
    dim3 grid((unsigned)tiles_of(a.Tq), (unsigned)a.H, (unsigned)a.B);
    flash_forward_kernel<T><<<grid, THREADS, smem, cuda_state(be)->stream>>>(
        a, limits, (T *)out, lse, (const T *)q, (const T *)k, (const T *)v, (const T *)s->k_null,
        (const T *)s->v_null);
    CUDA_CHECK_LAUNCH();
}

void cuda_attention_forward(Backend *be, void *out, float *lse, const void *q, const void *k,
                            const void *v, const AttnShape *s)
{
    if (s->B <= 0 || s->Tq <= 0 || s->H <= 0) return;
    AttnArgs a = attn_args(be, s, q, k, v, out, NULL);
    int *limits = (int *)cuda_scratch(be, (size_t)s->B * tiles_of(s->Tq) * sizeof(int));
    launch_tile_limits(be, a, limits);
    if (is_bf16(be))
        forward<bf16>(be, a, limits, out, lse, q, k, v, s);
    else
        forward<float>(be, a, limits, out, lse, q, k, v, s);
}

template <typename T>
static void backward(Backend *be, const AttnArgs &a, const int *limits, float *row_dots,
                     float *null_partials, void *dq, void *dk, void *dv, const void *dout,
                     const void *out, const float *lse, const void *q, const void *k, const void *v,
                     const AttnShape *s)
{
    cudaStream_t st = cuda_state(be)->stream;
    size_t rows = (size_t)a.B * a.H * a.Tq;
    row_dots_kernel<T><<<grid_for(rows * 32, 256), 256, 0, st>>>(a, row_dots, (const T *)dout, (const T *)out);
    CUDA_CHECK_LAUNCH();
    size_t smem = tile_smem_bytes<T>(6);
    int query_tiles = tiles_of(a.Tq);
    allow_smem(flash_backward_dq_kernel<T>, smem);
    flash_backward_dq_kernel<T><<<dim3((unsigned)query_tiles, (unsigned)a.H, (unsigned)a.B), THREADS, smem, st>>>(
        a, limits, row_dots, (T *)dq, null_partials, (const T *)dout, lse, (const T *)q, (const T *)k,
        (const T *)v, (const T *)s->k_null, (const T *)s->v_null);
    CUDA_CHECK_LAUNCH();
    if (a.Tk <= 0) return;
    allow_smem(flash_backward_dkv_kernel<T>, smem);
    flash_backward_dkv_kernel<T><<<dim3((unsigned)tiles_of(a.Tk), (unsigned)a.H, (unsigned)a.B), THREADS, smem, st>>>(
        a, limits, query_tiles, row_dots, (T *)dk, (T *)dv, (const T *)dout, lse, (const T *)q,
        (const T *)k, (const T *)v);
    CUDA_CHECK_LAUNCH();
}

void cuda_attention_backward(Backend *be, void *dq, void *dk, void *dv, float *dk_null,
                             float *dv_null, const void *dout, const void *out, const float *lse,
                             const void *q, const void *k, const void *v, const AttnShape *s)
{
    if (s->B <= 0 || s->Tq <= 0 || s->H <= 0) return;
    AttnArgs a = attn_args(be, s, q, k, v, out, dout);
    int query_tiles = tiles_of(s->Tq);
    size_t rows = (size_t)s->B * s->H * s->Tq, parts = (size_t)s->B * query_tiles;
    size_t null_floats = s->k_null ? 2 * (size_t)s->H * parts * HD : 0;
    /* scratch: row dots [B H Tq], null-key partials [2][H][parts][64], tile limits [B][tiles] */
    char *scratch = (char *)cuda_scratch(be, (rows + null_floats) * sizeof(float) + parts * sizeof(int));
    float *row_dots = (float *)scratch, *null_partials = row_dots + rows;
    int *limits = (int *)(null_partials + null_floats);
    launch_tile_limits(be, a, limits);
    if (is_bf16(be))
        backward<bf16>(be, a, limits, row_dots, null_partials, dq, dk, dv, dout, out, lse, q, k, v, s);
    else
        backward<float>(be, a, limits, row_dots, null_partials, dq, dk, dv, dout, out, lse, q, k, v, s);
    if (s->k_null) {
        cuda_add_partials(be, dk_null, null_partials, s->H, (int)parts, HD);
        cuda_add_partials(be, dv_null, null_partials + (size_t)s->H * parts * HD, s->H, (int)parts, HD);
    }
}
