/* engine/cuda/attention_common.h: the attention kernels' launch arguments, the visible-key rule
 * (causal or per-query counts) and the host-side pair count. */
#ifndef DLCM_ENGINE_CUDA_ATTENTION_COMMON_H
#define DLCM_ENGINE_CUDA_ATTENTION_COMMON_H

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
    /* key-count mode: query-key pairs are counted on the device (weighted by the products of
     * the pass: 2 forward, 5 backward), since the counts never reach the host */
    unsigned long long *pair_counter;
} AttnArgs;

/* Regular keys query i of sequence b sees (0 for rows past Tq). */
static __device__ __forceinline__ int visible_keys(const AttnArgs &a, int b, int i)
{
    if (i >= a.Tq) return 0;
    int n = a.key_count ? a.key_count[(size_t)b * a.Tq + i] : i + 1;
    return n < a.Tk ? n : a.Tk;
}

static inline AttnArgs attn_args(Backend *be, const AttnShape *s)
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
    a.pair_counter = s->key_count ? cuda_state(be)->attn_pairs_device : NULL;
    return a;
}

/* Causal pairs are known on the host: B H (Tq (Tq + 1) / 2 + null per query). */
static inline double causal_pairs(const AttnShape *s)
{
    double per_head = (double)s->Tq * (s->Tq + 1) / 2.0 + (s->k_null ? (double)s->Tq : 0.0);
    return (double)s->B * s->H * per_head;
}

#endif
