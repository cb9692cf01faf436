/* engine/cpu/attention.c: multi-head softmax attention on the CPU, causal self-attention or
 * per-query key counts (the cross-attention's concept mask) with an optional null key/value.
 * Counts 4*64 FLOPs per visible key per head and query in forward (QK^T and PV), and
 * 10*64 in backward (scores recomputed, dP, dQ, dK, dV). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/cpu_internal.h"
#include "engine/shape.h"

#define HD SHAPE_HEAD_DIM

static float dot64(const float *a, const float *b)
{
    float s = 0;
    for (int j = 0; j < HD; j++) s += a[j] * b[j];
    return s;
}

/* Regular keys query i of sequence b sees. */
static int keys_visible(const AttnShape *s, int b, int i)
{
    return s->key_count ? s->key_count[(size_t)b * s->Tq + i] : i + 1;
}

static float *scratch_scores(const AttnShape *s)
{
    float *p = malloc(((size_t)s->Tk + 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "dlcm cpu backend: out of memory in attention\n");
        exit(1);
    }
    return p;
}

void cpu_attention_forward(Backend *be, void *out, float *lse, const void *q, const void *k,
                           const void *v, const AttnShape *s)
{
    const float *Q = q, *K = k, *Vv = v;
    const float *k_null = s->k_null, *v_null = s->v_null;
    float *score = scratch_scores(s);
    double keys_seen = 0;
    for (int b = 0; b < s->B; b++) {
        for (int h = 0; h < s->H; h++) {
            for (int i = 0; i < s->Tq; i++) {
                const float *qi = Q + ((size_t)b * s->Tq + i) * s->q_stride + h * HD;
                float *oi = (float *)out + ((size_t)b * s->Tq + i) * s->o_stride + h * HD;
                int n = keys_visible(s, b, i);
                float mx = -INFINITY, null_score = 0;
                for (int j = 0; j < n; j++) {
                    const float *kj = K + ((size_t)b * s->Tk + j) * s->k_stride + h * HD;
                    score[j] = s->scale * dot64(qi, kj);
                    mx = fmaxf(mx, score[j]);
                }
                if (k_null) {
                    null_score = s->scale * dot64(qi, k_null + h * HD);
                    mx = fmaxf(mx, null_score);
                }
                keys_seen += n + (k_null ? 1 : 0);
                float acc[HD] = {0};
                double sum = 0;
                for (int j = 0; j < n; j++) {
                    float w = expf(score[j] - mx);
                    sum += w;
                    const float *vj = Vv + ((size_t)b * s->Tk + j) * s->v_stride + h * HD;
                    for (int c = 0; c < HD; c++) acc[c] += w * vj[c];
                }
                if (k_null) {
                    float w = expf(null_score - mx);
                    sum += w;
                    for (int c = 0; c < HD; c++) acc[c] += w * v_null[h * HD + c];
                }
                float *lse_i = &lse[((size_t)b * s->H + h) * s->Tq + i];
                if (sum == 0) { /* no key at all: output zero (cannot happen with a null key) */
                    memset(oi, 0, HD * sizeof(float));
                    *lse_i = -INFINITY;
                    continue;
                }
                float inv = (float)(1.0 / sum);
                for (int c = 0; c < HD; c++) oi[c] = acc[c] * inv;
                *lse_i = mx + (float)log(sum);
            }
        }
    }
    be->flops += 4.0 * HD * keys_seen;
    free(score);
}

void cpu_attention_backward(Backend *be, void *dq, void *dk, void *dv, float *dk_null,
                            float *dv_null, const void *dout, const void *out, const float *lse,
                            const void *q, const void *k, const void *v, const AttnShape *s)
{
    const float *Q = q, *K = k, *Vv = v;
    const float *k_null = s->k_null, *v_null = s->v_null;
    double keys_seen = 0;
    for (int b = 0; b < s->B; b++) {
        for (int h = 0; h < s->H; h++) {
            for (int i = 0; i < s->Tq; i++) {
                size_t qrow = (size_t)b * s->Tq + i;
                const float *qi = Q + qrow * s->q_stride + h * HD;
                const float *oi = (const float *)out + qrow * s->o_stride + h * HD;
                const float *doi = (const float *)dout + qrow * s->o_stride + h * HD;
                float *dqi = (float *)dq + qrow * s->q_stride + h * HD;
                float L = lse[((size_t)b * s->H + h) * s->Tq + i];
                if (!isfinite(L)) continue;
                int n = keys_visible(s, b, i);
                keys_seen += n + (k_null ? 1 : 0);
                /* D = sum_j P_j <dout, v_j> = <dout, out>. */
                float D = dot64(doi, oi);
                float dq_acc[HD] = {0};
                for (int j = 0; j < n; j++) {
                    size_t krow = (size_t)b * s->Tk + j;
                    const float *kj = K + krow * s->k_stride + h * HD;
                    const float *vj = Vv + krow * s->v_stride + h * HD;
                    float P = expf(s->scale * dot64(qi, kj) - L);
                    float dP = dot64(doi, vj);
                    float dS = P * (dP - D) * s->scale;
                    float *dkj = (float *)dk + krow * s->k_stride + h * HD;
                    float *dvj = (float *)dv + krow * s->v_stride + h * HD;
                    for (int c = 0; c < HD; c++) {
                        dq_acc[c] += dS * kj[c];
                        dkj[c] += dS * qi[c];
                        dvj[c] += P * doi[c];
                    }
                }
                if (k_null) {
                    const float *kn = k_null + h * HD, *vn = v_null + h * HD;
                    float P = expf(s->scale * dot64(qi, kn) - L);
                    float dP = dot64(doi, vn);
                    float dS = P * (dP - D) * s->scale;
                    for (int c = 0; c < HD; c++) {
                        dq_acc[c] += dS * kn[c];
                        if (dk_null) dk_null[h * HD + c] += dS * qi[c];
                        if (dv_null) dv_null[h * HD + c] += P * doi[c];
                    }
                }
                for (int c = 0; c < HD; c++) dqi[c] += dq_acc[c];
            }
        }
    }
    be->flops += 10.0 * HD * keys_seen;
}
