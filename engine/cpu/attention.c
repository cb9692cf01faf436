/* engine/cpu/attention.c: multi-head softmax attention on the CPU, causal self-attention or
 * per-query key counts (the cross-attention's concept mask) with an optional null key/value.
 * Per sequence and head the score and value products are GEMMs over the keys any query of the
 * sequence sees, masked after. FLOPs are counted as the products of visible keys only:
 * 4*64 per key, head and query in forward (QK^T, PV), 10*64 in backward (scores again, dP,
 * dQ, dK, dV), so they match the analytic count whatever the implementation computes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/cpu_internal.h"
#include "engine/shape.h"

#define HD SHAPE_HEAD_DIM

/* Eight partial sums, so the compiler can vectorize the reduction without -ffast-math. */
static float dot64(const float *a, const float *b)
{
    float part[8] = {0};
    for (int j = 0; j < HD; j += 8)
        for (int u = 0; u < 8; u++) part[u] += a[j + u] * b[j + u];
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

/* Regular keys query i of sequence b sees. */
static int keys_visible(const AttnShape *s, int b, int i)
{
    return s->key_count ? s->key_count[(size_t)b * s->Tq + i] : i + 1;
}

/* Keys any query of sequence b sees: the width of the score block. */
static int keys_of_sequence(const AttnShape *s, int b)
{
    int n = 0;
    for (int i = 0; i < s->Tq; i++) {
        int k = keys_visible(s, b, i);
        if (k > n) n = k;
    }
    return n < s->Tk ? n : s->Tk;
}

static float *scratch(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) {
        fprintf(stderr, "dlcm cpu backend: out of memory in attention\n");
        exit(1);
    }
    return p;
}

/* Pointers to head h of sequence b. */
typedef struct {
    const float *q, *k, *v;
    int nk; /* width of the score block */
} HeadView;

static HeadView head_view(const AttnShape *s, const void *q, const void *k, const void *v, int b,
                          int h)
{
    HeadView hv;
    hv.q = (const float *)q + (size_t)b * s->Tq * s->q_stride + h * HD;
    hv.k = (const float *)k + (size_t)b * s->Tk * s->k_stride + h * HD;
    hv.v = (const float *)v + (size_t)b * s->Tk * s->v_stride + h * HD;
    hv.nk = keys_of_sequence(s, b);
    return hv;
}

void cpu_attention_forward(Backend *be, void *out, float *lse, const void *q, const void *k,
                           const void *v, const AttnShape *s)
{
    const float *k_null = s->k_null, *v_null = s->v_null;
    float *score = scratch((size_t)s->Tq * s->Tk);
    float *p_null = scratch((size_t)s->Tq);
    double keys_seen = 0;
    for (int b = 0; b < s->B; b++) {
        for (int h = 0; h < s->H; h++) {
            HeadView hv = head_view(s, q, k, v, b, h);
            float *o = (float *)out + (size_t)b * s->Tq * s->o_stride + h * HD;
            cpu_sgemm(0, 1, s->Tq, hv.nk, HD, s->scale, hv.q, s->q_stride, hv.k, s->k_stride, 0.0f,
                      score, hv.nk);
            for (int i = 0; i < s->Tq; i++) {
                float *row = score + (size_t)i * hv.nk;
                int n = keys_visible(s, b, i);
                float null_score = k_null ? s->scale * dot64(hv.q + (size_t)i * s->q_stride, k_null + h * HD) : 0;
                float mx = k_null ? null_score : -INFINITY;
                for (int j = 0; j < n; j++) mx = fmaxf(mx, row[j]);
                keys_seen += n + (k_null ? 1 : 0);
                double sum = 0;
                for (int j = 0; j < hv.nk; j++) {
                    row[j] = j < n ? expf(row[j] - mx) : 0.0f;
                    sum += row[j];
                }
                p_null[i] = k_null ? expf(null_score - mx) : 0.0f;
                sum += p_null[i];
                float *lse_i = &lse[((size_t)b * s->H + h) * s->Tq + i];
                if (sum == 0) { /* no key at all (impossible with a null key): output zero */
                    *lse_i = -INFINITY;
                    continue;
                }
                *lse_i = mx + (float)log(sum);
                float inv = (float)(1.0 / sum);
                for (int j = 0; j < n; j++) row[j] *= inv;
                p_null[i] *= inv;
            }
            if (hv.nk > 0)
                cpu_sgemm(0, 0, s->Tq, HD, hv.nk, 1.0f, score, hv.nk, hv.v, s->v_stride, 0.0f, o,
                          s->o_stride);
            for (int i = 0; i < s->Tq; i++) {
                float *oi = o + (size_t)i * s->o_stride;
                if (hv.nk == 0) memset(oi, 0, HD * sizeof(float));
                if (k_null)
                    for (int c = 0; c < HD; c++) oi[c] += p_null[i] * v_null[h * HD + c];
            }
        }
    }
    be->flops += 4.0 * HD * keys_seen;
    free(score);
    free(p_null);
}

void cpu_attention_backward(Backend *be, void *dq, void *dk, void *dv, float *dk_null,
                            float *dv_null, const void *dout, const void *out, const float *lse,
                            const void *q, const void *k, const void *v, const AttnShape *s)
{
    const float *k_null = s->k_null, *v_null = s->v_null;
    float *prob = scratch((size_t)s->Tq * s->Tk);
    float *dscore = scratch((size_t)s->Tq * s->Tk);
    double keys_seen = 0;
    for (int b = 0; b < s->B; b++) {
        for (int h = 0; h < s->H; h++) {
            HeadView hv = head_view(s, q, k, v, b, h);
            size_t q_off = (size_t)b * s->Tq * s->q_stride + h * HD;
            size_t k_off = (size_t)b * s->Tk * s->k_stride + h * HD;
            size_t v_off = (size_t)b * s->Tk * s->v_stride + h * HD;
            const float *o = (const float *)out + (size_t)b * s->Tq * s->o_stride + h * HD;
            const float *dO = (const float *)dout + (size_t)b * s->Tq * s->o_stride + h * HD;
            int nk = hv.nk;
            /* P recomputed from the saved log-sum-exp; dP = dO V^T */
            cpu_sgemm(0, 1, s->Tq, nk, HD, s->scale, hv.q, s->q_stride, hv.k, s->k_stride, 0.0f,
                      prob, nk);
            cpu_sgemm(0, 1, s->Tq, nk, HD, 1.0f, dO, s->o_stride, hv.v, s->v_stride, 0.0f, dscore,
                      nk);
            for (int i = 0; i < s->Tq; i++) {
                const float *qi = hv.q + (size_t)i * s->q_stride;
                const float *doi = dO + (size_t)i * s->o_stride;
                float *dqi = (float *)dq + q_off + (size_t)i * s->q_stride;
                float *p_row = prob + (size_t)i * nk, *ds_row = dscore + (size_t)i * nk;
                float L = lse[((size_t)b * s->H + h) * s->Tq + i];
                int n = keys_visible(s, b, i);
                if (!isfinite(L)) n = 0;
                keys_seen += isfinite(L) ? n + (k_null ? 1 : 0) : 0;
                float D = dot64(doi, o + (size_t)i * s->o_stride); /* sum_j P_j <dO, v_j> */
                for (int j = 0; j < nk; j++) {
                    float P = j < n ? expf(p_row[j] - L) : 0.0f;
                    p_row[j] = P;
                    ds_row[j] = P * (ds_row[j] - D) * s->scale;
                }
                if (k_null && isfinite(L)) {
                    const float *kn = k_null + h * HD, *vn = v_null + h * HD;
                    float P = expf(s->scale * dot64(qi, kn) - L);
                    float dS = P * (dot64(doi, vn) - D) * s->scale;
                    for (int c = 0; c < HD; c++) {
                        dqi[c] += dS * kn[c];
                        if (dk_null) dk_null[h * HD + c] += dS * qi[c];
                        if (dv_null) dv_null[h * HD + c] += P * doi[c];
                    }
                }
            }
            if (nk == 0) continue;
            /* dQ += dS K, dK += dS^T Q, dV += P^T dO */
            cpu_sgemm(0, 0, s->Tq, HD, nk, 1.0f, dscore, nk, hv.k, s->k_stride, 1.0f,
                      (float *)dq + q_off, s->q_stride);
            cpu_sgemm(1, 0, nk, HD, s->Tq, 1.0f, dscore, nk, hv.q, s->q_stride, 1.0f,
                      (float *)dk + k_off, s->k_stride);
            cpu_sgemm(1, 0, nk, HD, s->Tq, 1.0f, prob, nk, dO, s->o_stride, 1.0f,
                      (float *)dv + v_off, s->v_stride);
        }
    }
    be->flops += 10.0 * HD * keys_seen;
    free(prob);
    free(dscore);
}
