/* engine/cpu/concepts.c: the CPU backend's DLCM ops: the cosine boundary router, boundary
 * sampling with the counter RNG, segment indexing, segment-mean pooling, EMA smoothing, the
 * packed and padded concept layouts, and the per-sequence gradient add of the Global Parser. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/cpu_internal.h"
#include "engine/rng.h"

/* Norms carry a tiny floor inside the square root, so a zero vector gives cos = 0 and the
 * backward formula stays the exact derivative of what forward computed. */
#define ROUTER_NORM_FLOOR 1e-12

typedef struct { double dot, nq, nk; } CosParts;

static CosParts cos_parts(const float *q, const float *k, int d)
{
    double dot = 0, qq = 0, kk = 0;
    for (int j = 0; j < d; j++) {
        dot += (double)q[j] * k[j];
        qq += (double)q[j] * q[j];
        kk += (double)k[j] * k[j];
    }
    CosParts c = {dot, sqrt(qq + ROUTER_NORM_FLOOR), sqrt(kk + ROUTER_NORM_FLOOR)};
    return c;
}

void cpu_router_forward(Backend *be, float *p, const void *q, const void *k, int B, int T, int d)
{
    (void)be;
    for (int b = 0; b < B; b++) {
        p[(size_t)b * T] = 1.0f;
        for (int t = 1; t < T; t++) {
            const float *qp = (const float *)q + ((size_t)b * T + t - 1) * d;
            const float *kt = (const float *)k + ((size_t)b * T + t) * d;
            CosParts c = cos_parts(qp, kt, d);
            p[(size_t)b * T + t] = (float)((1.0 - c.dot / (c.nq * c.nk)) / 2.0);
        }
    }
}

/* p = (1 - cos)/2, cos = <q,k>/(|q||k|): dcos/dq = k/(|q||k|) - cos q/|q|^2 (and symmetric). */
void cpu_router_backward(Backend *be, void *dq, void *dk, const float *dp, const void *q,
                         const void *k, int B, int T, int d)
{
    (void)be;
    for (int b = 0; b < B; b++) {
        for (int t = 1; t < T; t++) {
            size_t qrow = (size_t)b * T + t - 1, krow = (size_t)b * T + t;
            const float *qp = (const float *)q + qrow * d;
            const float *kt = (const float *)k + krow * d;
            float *dqp = (float *)dq + qrow * d;
            float *dkt = (float *)dk + krow * d;
            CosParts c = cos_parts(qp, kt, d);
            double cosv = c.dot / (c.nq * c.nk);
            double dcos = -0.5 * dp[krow];
            double inv_qk = 1.0 / (c.nq * c.nk);
            double q_self = cosv / (c.nq * c.nq), k_self = cosv / (c.nk * c.nk);
            for (int j = 0; j < d; j++) {
                dqp[j] += (float)(dcos * (kt[j] * inv_qk - qp[j] * q_self));
                dkt[j] += (float)(dcos * (qp[j] * inv_qk - kt[j] * k_self));
            }
        }
    }
}

/* sigmoid(logit(p) / tau), with the end points kept exact. */
static float sharpen(float p, float tau)
{
    if (p >= 1.0f) return 1.0f;
    if (p <= 0.0f) return 0.0f;
    if (tau == 1.0f) return p;
    double z = log((double)p / (1.0 - p)) / tau;
    return (float)(1.0 / (1.0 + exp(-z)));
}

void cpu_boundary_sample(Backend *be, int32_t *b, const float *p, int n, float threshold,
                         float tau, uint64_t seed, uint64_t offset)
{
    (void)be;
    for (int i = 0; i < n; i++) {
        if (threshold >= 0) {
            b[i] = p[i] >= threshold;
        } else {
            float prob = sharpen(p[i], tau);
            b[i] = prob >= 1.0f || rng_uniform(seed, offset + (uint64_t)i) < prob;
        }
    }
}

void cpu_segment_index(Backend *be, int32_t *seg, int32_t *starts, int32_t *counts,
                       int32_t *key_count, const int32_t *b, int B, int T, int include_own)
{
    (void)be;
    for (int s = 0; s < B; s++) {
        int32_t concept = -1;
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)s * T + t;
            starts[i] = -1;
            if (b[i] || t == 0) {
                concept++;
                starts[(size_t)s * T + concept] = t;
            }
            seg[i] = concept;
            key_count[i] = concept + (include_own ? 1 : 0);
        }
        counts[s] = concept + 1;
    }
}

/* Tokens of concept k of sequence b are starts[k] .. starts[k+1]-1 (the last runs to T-1). */
static int concept_length(const int32_t *starts, int count, int T, int k)
{
    int end = k + 1 < count ? starts[k + 1] : T;
    return end - starts[k];
}

void cpu_segment_mean_forward(Backend *be, void *c, const void *h, const int32_t *starts,
                              const int32_t *counts, int B, int T, int M, int d)
{
    (void)be;
    memset(c, 0, (size_t)B * M * d * sizeof(float));
    for (int b = 0; b < B; b++) {
        const int32_t *st = starts + (size_t)b * T;
        for (int k = 0; k < counts[b]; k++) {
            int len = concept_length(st, counts[b], T, k);
            float *ck = (float *)c + ((size_t)b * M + k) * d;
            for (int t = st[k]; t < st[k] + len; t++) {
                const float *ht = (const float *)h + ((size_t)b * T + t) * d;
                for (int j = 0; j < d; j++) ck[j] += ht[j];
            }
            float inv = 1.0f / (float)len;
            for (int j = 0; j < d; j++) ck[j] *= inv;
        }
    }
}

void cpu_segment_mean_backward(Backend *be, void *dh, const void *dc, const int32_t *seg,
                               const int32_t *starts, const int32_t *counts, int B, int T, int M,
                               int d)
{
    (void)be;
    for (int b = 0; b < B; b++) {
        const int32_t *st = starts + (size_t)b * T;
        for (int t = 0; t < T; t++) {
            int k = seg[(size_t)b * T + t];
            float inv = 1.0f / (float)concept_length(st, counts[b], T, k);
            const float *dck = (const float *)dc + ((size_t)b * M + k) * d;
            float *dht = (float *)dh + ((size_t)b * T + t) * d;
            for (int j = 0; j < d; j++) dht[j] += dck[j] * inv;
        }
    }
}

#define EMA_P_MIN 1e-4f
#define EMA_P_MAX (1.0f - 1e-4f)

static float ema_gate(float p) { return fminf(fmaxf(p, EMA_P_MIN), EMA_P_MAX); }

void cpu_ema_forward(Backend *be, void *zt, const void *z, const float *p, const int32_t *starts,
                     const int32_t *counts, int B, int T, int M, int d)
{
    (void)be;
    memset(zt, 0, (size_t)B * M * d * sizeof(float));
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < counts[b]; k++) {
            float P = ema_gate(p[(size_t)b * T + starts[(size_t)b * T + k]]);
            const float *zk = (const float *)z + ((size_t)b * M + k) * d;
            float *out = (float *)zt + ((size_t)b * M + k) * d;
            const float *prev = k > 0 ? out - d : NULL;
            for (int j = 0; j < d; j++) out[j] = P * zk[j] + (prev ? (1.0f - P) * prev[j] : 0.0f);
        }
    }
}

/* Reverse recursion: g_k = dzt_k + (1 - P_{k+1}) g_{k+1}; dz_k = P_k g_k;
 * dP_k = <g_k, z_k - zt_{k-1}> (zero where the clamp is active). */
void cpu_ema_backward(Backend *be, void *dz, float *dp, const void *dzt, const void *z,
                      const void *zt, const float *p, const int32_t *starts,
                      const int32_t *counts, int B, int T, int M, int d)
{
    (void)be;
    float *g_buf = malloc(2 * (size_t)d * sizeof(float)); /* g_k and g_{k+1}, alternating */
    if (!g_buf) {
        fprintf(stderr, "dlcm cpu backend: out of memory in ema_backward\n");
        exit(1);
    }
    for (int b = 0; b < B; b++) {
        float next_keep = 0.0f; /* 1 - P_{k+1}; 0 past the last concept */
        const float *g_next = NULL;
        for (int k = counts[b] - 1; k >= 0; k--) {
            size_t start = (size_t)b * T + starts[(size_t)b * T + k];
            float raw = p[start];
            float P = ema_gate(raw);
            const float *dztk = (const float *)dzt + ((size_t)b * M + k) * d;
            const float *zk = (const float *)z + ((size_t)b * M + k) * d;
            const float *prev = k > 0 ? (const float *)zt + ((size_t)b * M + k - 1) * d : NULL;
            float *dzk = (float *)dz + ((size_t)b * M + k) * d;
            float *g = g_buf + (size_t)(k & 1) * d;
            double dP = 0;
            for (int j = 0; j < d; j++) {
                g[j] = dztk[j] + (g_next ? next_keep * g_next[j] : 0.0f);
                dzk[j] += P * g[j];
                dP += (double)g[j] * (zk[j] - (prev ? prev[j] : 0.0f));
            }
            if (dp && raw > EMA_P_MIN && raw < EMA_P_MAX) dp[start] += (float)dP;
            next_keep = 1.0f - P;
            g_next = g;
        }
    }
    free(g_buf);
}

void cpu_add_per_row(Backend *be, float *dp, const float *coef_host, int B, int T)
{
    (void)be;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) dp[(size_t)b * T + t] += coef_host[b];
}

void cpu_concepts_pack(Backend *be, void *packed, const void *padded, const int32_t *counts, int B,
                       int M, int packed_rows, int width)
{
    (void)be;
    size_t row_bytes = (size_t)width * sizeof(float);
    int next = 0;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < counts[b]; k++, next++)
            memcpy((float *)packed + (size_t)next * width,
                   (const float *)padded + ((size_t)b * M + k) * width, row_bytes);
    if (packed_rows > next)
        memset((float *)packed + (size_t)next * width, 0, (size_t)(packed_rows - next) * row_bytes);
}

void cpu_concepts_pad(Backend *be, void *padded, const void *packed, const int32_t *counts, int B,
                      int M, int width)
{
    (void)be;
    size_t row_bytes = (size_t)width * sizeof(float);
    int next = 0;
    for (int b = 0; b < B; b++) {
        float *dst = (float *)padded + (size_t)b * M * width;
        memcpy(dst, (const float *)packed + (size_t)next * width, (size_t)counts[b] * row_bytes);
        memset(dst + (size_t)counts[b] * width, 0, (size_t)(M - counts[b]) * row_bytes);
        next += counts[b];
    }
}
