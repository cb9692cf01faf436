/* tests/engine_test_util.h: helpers shared by the engine tests: seeded random fills and a
 * central finite-difference gradient check of a scalar function of a float array. */
#ifndef DLCM_TESTS_ENGINE_TEST_UTIL_H
#define DLCM_TESTS_ENGINE_TEST_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>

#include "engine/rng.h"

static inline void fill_normal(float *x, size_t n, float std, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) x[i] = std * rng_normal(seed, i);
}

static inline void fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(seed, i);
}

typedef double (*ScalarFn)(void *ctx);

/* Compares grad[i] with (f(x + h e_i) - f(x - h e_i)) / 2h at up to `samples` indices of x
 * (all of them when n <= samples, otherwise a seeded sample). Passes when
 * |fd - grad| <= atol + rtol * max(|fd|, |grad|) everywhere. Returns the largest
 * |fd - grad| / (atol + rtol * max(|fd|, |grad|)) seen (<= 1 is a pass). */
static inline double check_gradient(const char *what, ScalarFn f, void *ctx, float *x,
                                    const float *grad, size_t n, size_t samples, float h,
                                    double atol, double rtol)
{
    double worst = 0;
    size_t count = n <= samples ? n : samples;
    for (size_t s = 0; s < count; s++) {
        size_t i = n <= samples ? s : (size_t)(rng_mix64(0x5eed + s) % n);
        float saved = x[i];
        x[i] = saved + h;
        double fp = f(ctx);
        x[i] = saved - h;
        double fm = f(ctx);
        x[i] = saved;
        double fd = (fp - fm) / (2.0 * h);
        double bound = atol + rtol * fmax(fabs(fd), fabs((double)grad[i]));
        double ratio = fabs(fd - grad[i]) / bound;
        if (ratio > worst) worst = ratio;
        cr_expect_leq(fabs(fd - grad[i]), bound, "%s: d/dx[%zu]: finite difference %.6g, analytic %.6g",
                      what, i, fd, (double)grad[i]);
    }
    return worst;
}

/* sum_i w[i] * y[i] in double: the scalar whose gradient w.r.t. y is w. */
static inline double weighted_sum(const float *y, const float *w, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)w[i] * y[i];
    return s;
}

#endif
