/* engine/cuda/attention_common.h: the attention kernels' launch arguments, built once per call
 * from the AttnShape, and the visible-key rule (causal or per-query counts). */
#ifndef DLCM_ENGINE_CUDA_ATTENTION_COMMON_H
#define DLCM_ENGINE_CUDA_ATTENTION_COMMON_H

#include <stdint.h>

#include "engine/cuda/cuda_internal.h"

extern "C" {
#include "engine/cuda/backend_cuda.h"
}

#define HD 64 /* head dimension */

typedef struct {
    int B, Tq, Tk, H;
    int q_stride, k_stride, v_stride, o_stride;
    const int32_t *key_count;
    float scale;
    int has_null;
    /* every 64-wide head row of q, k, v, out and dout starts on 16 bytes: tiles load in
     * 16-byte vectors (otherwise element by element) */
    int vector_loads;
    /* query-key pairs times products the kernels computed, whole tiles included; counted on
     * the device, since the tiles a key-count call visits depend on counts that live there */
    unsigned long long *pair_counter;
} AttnArgs;

/* Regular keys query i of sequence b sees (0 for rows past Tq). */
static __device__ __forceinline__ int visible_keys(const AttnArgs &a, int b, int i)
{
    if (i >= a.Tq) return 0;
    int n = a.key_count ? a.key_count[(size_t)b * a.Tq + i] : i + 1;
    if (n < 0) return 0;
    return n < a.Tk ? n : a.Tk;
}

static inline int aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

/* dout and out may be NULL (forward). */
static inline AttnArgs attn_args(Backend *be, const AttnShape *s, const void *q, const void *k,
                                 const void *v, const void *out, const void *dout)
{
    AttnArgs a;
    a.B = s->B;
    a.Tq = s->Tq;
    a.Tk = s->Tk;
    a.H = s->H;
    a.q_stride = s->q_stride;
    a.k_stride = s->k_stride;
    a.v_stride = s->v_stride;
    a.o_stride = s->o_stride;
    a.key_count = s->key_count;
    a.scale = s->scale;
    a.has_null = s->k_null != NULL;
    size_t es = be->act_size;
    a.vector_loads = aligned16(q) && aligned16(k) && aligned16(v) && aligned16(out) &&
                     (!dout || aligned16(dout)) && (s->q_stride * es) % 16 == 0 &&
                     (s->k_stride * es) % 16 == 0 && (s->v_stride * es) % 16 == 0 &&
                     (s->o_stride * es) % 16 == 0;
    a.pair_counter = cuda_state(be)->attn_pairs_device;
    return a;
}

#endif
