/* engine/cpu/layers.c: the CPU backend's per-row layers: embedding, RMSNorm, per-head RMSNorm
 * with RoPE, SwiGLU and the fused softmax cross-entropy, forward and backward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/cpu_internal.h"
#include "engine/shape.h"

#define HD SHAPE_HEAD_DIM
#define HALF (SHAPE_HEAD_DIM / 2)
#define ROPE_THETA 10000.0

void cpu_embedding_forward(Backend *be, void *out, const int32_t *tokens, const void *table,
                           int N, int d)
{
    (void)be;
    float *o = out;
    const float *tab = table;
    for (int i = 0; i < N; i++)
        memcpy(o + (size_t)i * d, tab + (size_t)tokens[i] * d, (size_t)d * sizeof(float));
}

void cpu_embedding_backward(Backend *be, float *dtable, const void *dout, const int32_t *tokens,
                            int N, int d)
{
    (void)be;
    const float *g = dout;
    for (int i = 0; i < N; i++) {
        float *row = dtable + (size_t)tokens[i] * d;
        const float *gi = g + (size_t)i * d;
        for (int j = 0; j < d; j++) row[j] += gi[j];
    }
}

void cpu_rmsnorm_forward(Backend *be, void *y, float *rstd, const void *x, const void *gain,
                         int N, int d, float eps)
{
    (void)be;
    const float *g = gain;
    for (int i = 0; i < N; i++) {
        const float *xi = (const float *)x + (size_t)i * d;
        float *yi = (float *)y + (size_t)i * d;
        double ss = 0;
        for (int j = 0; j < d; j++) ss += (double)xi[j] * xi[j];
        float r = (float)(1.0 / sqrt(ss / d + eps));
        rstd[i] = r;
        for (int j = 0; j < d; j++) yi[j] = xi[j] * r * g[j];
    }
}

/* y = x r g with r = (mean x^2 + eps)^-1/2: dx = r (dy g) - r^3 x <dy g, x> / d. */
void cpu_rmsnorm_backward(Backend *be, void *dx, float *dgain, const void *dy, const void *x,
                          const void *gain, const float *rstd, int N, int d)
{
    (void)be;
    const float *g = gain;
    for (int i = 0; i < N; i++) {
        const float *xi = (const float *)x + (size_t)i * d;
        const float *dyi = (const float *)dy + (size_t)i * d;
        float *dxi = (float *)dx + (size_t)i * d;
        float r = rstd[i];
        double dot = 0;
        for (int j = 0; j < d; j++) {
            dot += (double)dyi[j] * g[j] * xi[j];
            dgain[j] += dyi[j] * xi[j] * r;
        }
        float c = (float)(dot / d) * r * r * r;
        for (int j = 0; j < d; j++) dxi[j] += r * dyi[j] * g[j] - c * xi[j];
    }
}

/* cos and sin of every position t < T for the 32 rotation frequencies theta^(-i/32):
 * table[t][i] (cos) and table[T*32 + t*32 + i] (sin). NULL when use_rope is 0. */
static float *rope_table(int T, int use_rope)
{
    if (!use_rope) return NULL;
    float *table = malloc((size_t)T * HALF * 2 * sizeof(float));
    if (!table) {
        fprintf(stderr, "dlcm cpu backend: out of memory for the RoPE table\n");
        exit(1);
    }
    for (int i = 0; i < HALF; i++) {
        double inv_freq = pow(ROPE_THETA, -(double)i / HALF);
        for (int t = 0; t < T; t++) {
            double a = t * inv_freq;
            table[(size_t)t * HALF + i] = (float)cos(a);
            table[(size_t)T * HALF + (size_t)t * HALF + i] = (float)sin(a);
        }
    }
    return table;
}

void cpu_head_norm_rope_forward(Backend *be, void *out, float *rstd, const void *in,
                                int in_stride, const void *gain, int B, int T, int H,
                                int use_rope, float eps)
{
    (void)be;
    const float *g = gain;
    float y[HD];
    float *table = rope_table(T, use_rope);
    for (int row = 0; row < B * T; row++) {
        const float *cs = table ? table + (size_t)(row % T) * HALF : NULL;
        const float *sn = table ? table + (size_t)T * HALF + (size_t)(row % T) * HALF : NULL;
        for (int h = 0; h < H; h++) {
            const float *x = (const float *)in + (size_t)row * in_stride + h * HD;
            float *o = (float *)out + ((size_t)row * H + h) * HD;
            double ss = 0;
            for (int j = 0; j < HD; j++) ss += (double)x[j] * x[j];
            float r = (float)(1.0 / sqrt(ss / HD + eps));
            rstd[(size_t)row * H + h] = r;
            for (int j = 0; j < HD; j++) y[j] = x[j] * r * g[j];
            if (!use_rope) {
                memcpy(o, y, sizeof y);
                continue;
            }
            for (int i = 0; i < HALF; i++) {
                o[i] = y[i] * cs[i] - y[i + HALF] * sn[i];
                o[i + HALF] = y[i + HALF] * cs[i] + y[i] * sn[i];
            }
        }
    }
    free(table);
}

void cpu_head_norm_rope_backward(Backend *be, void *din, int din_stride, float *dgain,
                                 const void *dout, const void *in, int in_stride,
                                 const void *gain, const float *rstd, int B, int T, int H,
                                 int use_rope)
{
    (void)be;
    const float *g = gain;
    float dy[HD];
    float *table = rope_table(T, use_rope);
    for (int row = 0; row < B * T; row++) {
        const float *cs = table ? table + (size_t)(row % T) * HALF : NULL;
        const float *sn = table ? table + (size_t)T * HALF + (size_t)(row % T) * HALF : NULL;
        for (int h = 0; h < H; h++) {
            const float *x = (const float *)in + (size_t)row * in_stride + h * HD;
            const float *dout_h = (const float *)dout + ((size_t)row * H + h) * HD;
            float *dx = (float *)din + (size_t)row * din_stride + h * HD;
            float r = rstd[(size_t)row * H + h];
            if (use_rope) { /* the rotation's transpose */
                for (int i = 0; i < HALF; i++) {
                    dy[i] = dout_h[i] * cs[i] + dout_h[i + HALF] * sn[i];
                    dy[i + HALF] = dout_h[i + HALF] * cs[i] - dout_h[i] * sn[i];
                }
            } else {
                memcpy(dy, dout_h, sizeof dy);
            }
            double dot = 0;
            for (int j = 0; j < HD; j++) {
                dot += (double)dy[j] * g[j] * x[j];
                dgain[j] += dy[j] * x[j] * r;
            }
            float c = (float)(dot / HD) * r * r * r;
            for (int j = 0; j < HD; j++) dx[j] += r * dy[j] * g[j] - c * x[j];
        }
    }
    free(table);
}

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

void cpu_swiglu_forward(Backend *be, void *h, const void *gate_up, int N, int f)
{
    (void)be;
    for (int i = 0; i < N; i++) {
        const float *gate = (const float *)gate_up + (size_t)i * 2 * f;
        const float *up = gate + f;
        float *hi = (float *)h + (size_t)i * f;
        for (int j = 0; j < f; j++) hi[j] = gate[j] * sigmoidf(gate[j]) * up[j];
    }
}

void cpu_swiglu_backward(Backend *be, void *dgate_up, const void *dh, const void *gate_up, int N,
                         int f)
{
    (void)be;
    for (int i = 0; i < N; i++) {
        const float *gate = (const float *)gate_up + (size_t)i * 2 * f;
        const float *up = gate + f;
        const float *dhi = (const float *)dh + (size_t)i * f;
        float *dgate = (float *)dgate_up + (size_t)i * 2 * f;
        float *dup = dgate + f;
        for (int j = 0; j < f; j++) {
            float s = sigmoidf(gate[j]);
            float silu = gate[j] * s;
            dgate[j] = dhi[j] * up[j] * s * (1.0f + gate[j] * (1.0f - s));
            dup[j] = dhi[j] * silu;
        }
    }
}

void cpu_cross_entropy(Backend *be, float *losses, void *dlogits, const void *logits,
                       const int32_t *targets, int N, int V, float logit_scale, float dloss)
{
    (void)be;
    for (int i = 0; i < N; i++) {
        const float *z = (const float *)logits + (size_t)i * V;
        float *dz = dlogits ? (float *)dlogits + (size_t)i * V : NULL;
        int target = targets[i];
        if (target < 0) {
            losses[i] = 0.0f;
            if (dz) memset(dz, 0, (size_t)V * sizeof(float));
            continue;
        }
        float mx = -INFINITY;
        for (int j = 0; j < V; j++) mx = fmaxf(mx, logit_scale * z[j]);
        float target_logit = logit_scale * z[target];
        /* One exp per logit; when dz is given it holds exp(scaled logit - max) until the
         * normalization below (z and dz may alias: each logit is read before its overwrite). */
        double sum = 0;
        for (int j = 0; j < V; j++) {
            float e = expf(logit_scale * z[j] - mx);
            sum += e;
            if (dz) dz[j] = e;
        }
        losses[i] = (float)(mx + log(sum) - target_logit);
        if (!dz) continue;
        float coef = dloss * logit_scale, inv = (float)(1.0 / sum);
        for (int j = 0; j < V; j++) dz[j] = coef * dz[j] * inv;
        dz[target] -= coef;
    }
}
