/* tests/gpu/gpu_test_util.h: helpers of the GPU tests: a CPU and a CUDA backend side by side,
 * paired buffers holding the same random values on both, and the relative-error comparison
 * that prints one line of the GPU-vs-CPU error table ("ERRTAB op dtype rel_err tolerance"). */
#ifndef DLCM_TESTS_GPU_TEST_UTIL_H
#define DLCM_TESTS_GPU_TEST_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/cuda/backend_cuda.h"
#include "engine/ops.h"
#include "engine/rng.h"

/* Relative-error bounds: fp32 with TF32 off; bf16 activations against the fp32 CPU. */
#define TOL_F32 1e-5
#define TOL_BF16 1e-2

typedef struct {
    Backend *cpu, *gpu;
    int bf16;
    double tol;
    const char *dtype;
    uint64_t seed; /* fresh per test run (time and pid) unless DLCM_TEST_SEED is set */
    uint64_t draws;
} GpuPair;

static inline uint64_t gpu_test_seed(void)
{
    const char *env = getenv("DLCM_TEST_SEED");
    if (env && *env) return strtoull(env, NULL, 0);
    return rng_mix64((uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid());
}

/* Both backends, or the test is skipped (with the reason) when no GPU is usable. */
static inline GpuPair gpu_pair_open(DType dt)
{
    GpuPair p;
    memset(&p, 0, sizeof p);
    char err[256];
    if (!backend_cuda_available()) cr_skip_test("no CUDA GPU on this machine (or no CUDA in this build): GPU test skipped");
    p.gpu = backend_cuda_create(0, dt, err, sizeof err);
    if (!p.gpu) cr_skip_test("CUDA backend unavailable: %s", err);
    backend_cuda_set_tf32(p.gpu, 0);
    p.cpu = backend_cpu_create();
    cr_assert(p.cpu);
    p.bf16 = dt == DTYPE_BF16;
    p.tol = p.bf16 ? TOL_BF16 : TOL_F32;
    p.dtype = p.bf16 ? "bf16" : "fp32";
    p.seed = gpu_test_seed();
    return p;
}

static inline void gpu_pair_close(GpuPair *p)
{
    p->gpu->destroy(p->gpu);
    p->cpu->destroy(p->cpu);
}

/* Nearest bf16 value (ties to even), so the CPU sees exactly what the GPU stores. */
static inline float round_to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return x;
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

/* A tensor on both sides: host (also the CPU backend's memory) and device. act: stored in the
 * activation type on the GPU; otherwise fp32 (or int32 when is_int). */
typedef struct {
    float *host;
    int32_t *ihost;
    void *dev;
    size_t n;
    int act, is_int;
} Pair;

static inline void pair_upload(GpuPair *p, Pair *b)
{
    Backend *g = p->gpu;
    if (b->is_int) {
        g->upload(g, b->dev, b->ihost, b->n * sizeof(int32_t));
    } else if (b->act) {
        float *tmp = g->alloc(g, b->n * sizeof(float));
        g->upload(g, tmp, b->host, b->n * sizeof(float));
        g->f32_to_act(g, b->dev, tmp, b->n);
        g->free(g, tmp);
    } else {
        g->upload(g, b->dev, b->host, b->n * sizeof(float));
    }
}

/* Random normal values with standard deviation std (never zeros); act values are rounded to
 * bf16 in bf16 mode so both sides start from identical inputs. */
static inline Pair pair_random(GpuPair *p, size_t n, int act, float std)
{
    Pair b;
    memset(&b, 0, sizeof b);
    b.n = n;
    b.act = act;
    b.host = calloc(n ? n : 1, sizeof(float));
    cr_assert(b.host);
    uint64_t s = rng_mix64(p->seed + 0x1000 * ++p->draws);
    for (size_t i = 0; i < n; i++) {
        float v = std * rng_normal(s, i);
        if (v == 0.0f) v = std * 1e-3f;
        b.host[i] = act && p->bf16 ? round_to_bf16(v) : v;
    }
    b.dev = p->gpu->alloc(p->gpu, n * (act ? p->gpu->act_size : sizeof(float)));
    pair_upload(p, &b);
    return b;
}

/* Uniform values in [lo, hi). */
static inline Pair pair_uniform(GpuPair *p, size_t n, int act, float lo, float hi)
{
    Pair b = pair_random(p, n, act, 1.0f);
    uint64_t s = rng_mix64(p->seed + 0x1000 * ++p->draws);
    for (size_t i = 0; i < n; i++) {
        float v = lo + (hi - lo) * rng_uniform(s, i);
        b.host[i] = act && p->bf16 ? round_to_bf16(v) : v;
    }
    pair_upload(p, &b);
    return b;
}

static inline Pair pair_ints(GpuPair *p, const int32_t *values, size_t n)
{
    Pair b;
    memset(&b, 0, sizeof b);
    b.n = n;
    b.is_int = 1;
    b.ihost = calloc(n ? n : 1, sizeof(int32_t));
    cr_assert(b.ihost);
    if (values) memcpy(b.ihost, values, n * sizeof(int32_t));
    b.dev = p->gpu->alloc(p->gpu, n * sizeof(int32_t) + 4);
    pair_upload(p, &b);
    return b;
}

static inline void pair_free(GpuPair *p, Pair *b)
{
    p->gpu->free(p->gpu, b->dev);
    free(b->host);
    free(b->ihost);
    memset(b, 0, sizeof *b);
}

/* The GPU's values as fp32 on the host (caller frees). */
static inline float *pair_download(GpuPair *p, const Pair *b)
{
    Backend *g = p->gpu;
    float *out = calloc(b->n ? b->n : 1, sizeof(float));
    cr_assert(out);
    if (b->act) {
        float *tmp = g->alloc(g, b->n * sizeof(float));
        g->act_to_f32(g, tmp, b->dev, b->n);
        g->download(g, out, tmp, b->n * sizeof(float));
        g->free(g, tmp);
    } else {
        g->download(g, out, b->dev, b->n * sizeof(float));
    }
    return out;
}

/* ||gpu - cpu|| / ||cpu|| over the finite entries; infinities must sit at the same places.
 * Prints the table line and fails the test above the tolerance (or on any NaN). */
static inline double expect_close_tol(GpuPair *p, const char *op, const Pair *b, double tol)
{
    float *g = pair_download(p, b);
    double diff = 0, ref = 0;
    int bad = 0;
    size_t first_bad = 0;
    for (size_t i = 0; i < b->n; i++) {
        float c = b->host[i], v = g[i];
        if (!isfinite(c) || !isfinite(v)) {
            if (isinf(c) && c == v) continue; /* e.g. the lse of a query with no key */
            if (!bad) first_bad = i;
            bad++;
            continue;
        }
        diff += ((double)v - c) * ((double)v - c);
        ref += (double)c * c;
    }
    double rel = ref > 0 ? sqrt(diff / ref) : sqrt(diff);
    printf("ERRTAB %-28s %-5s %.3e %.0e\n", op, p->dtype, rel, tol);
    fflush(stdout);
    cr_expect_eq(bad, 0, "%s (%s): %d non-finite mismatches, first at %zu: gpu %g cpu %g (seed %llu)",
                 op, p->dtype, bad, first_bad, g[first_bad], b->host[first_bad],
                 (unsigned long long)p->seed);
    cr_expect_leq(rel, tol, "%s (%s): relative error %.3e above %.0e (seed %llu)", op, p->dtype,
                  rel, tol, (unsigned long long)p->seed);
    free(g);
    return rel;
}

static inline double expect_close(GpuPair *p, const char *op, const Pair *b)
{
    return expect_close_tol(p, op, b, p->tol);
}

/* Integer outputs must match exactly. */
static inline void expect_ints_equal(GpuPair *p, const char *op, const Pair *b)
{
    int32_t *g = calloc(b->n ? b->n : 1, sizeof(int32_t));
    cr_assert(g);
    p->gpu->download(p->gpu, g, b->dev, b->n * sizeof(int32_t));
    size_t mismatches = 0, first = 0;
    for (size_t i = 0; i < b->n; i++)
        if (g[i] != b->ihost[i]) {
            if (!mismatches) first = i;
            mismatches++;
        }
    printf("ERRTAB %-28s %-5s %zu/%zu mismatches (exact)\n", op, p->dtype, mismatches, b->n);
    fflush(stdout);
    cr_expect_eq(mismatches, 0, "%s: %zu of %zu differ, first at %zu: gpu %d cpu %d (seed %llu)",
                 op, mismatches, b->n, first, g[first], b->ihost[first], (unsigned long long)p->seed);
    free(g);
}

#endif
