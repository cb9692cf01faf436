/* engine/rng.h: counter-based random numbers shared by the CPU and GPU backends: the uniform
 * for element i of a draw depends only on (seed, i), so both backends sample the same boundaries. */
#ifndef DLCM_ENGINE_RNG_H
#define DLCM_ENGINE_RNG_H

#include <stdint.h>

#include "util/mix64.h" /* rng_mix64 */

#ifdef __CUDACC__
#define RNG_FN static inline __host__ __device__
#else
#define RNG_FN static inline
#endif


/* Uniform in [0, 1) with 24 bits, exactly representable in float. */
RNG_FN float rng_uniform(uint64_t seed, uint64_t index)
{
    uint64_t h = rng_mix64(seed ^ rng_mix64(index));
    return (float)(h >> 40) * (1.0f / 16777216.0f);
}

/* Standard normal by Box-Muller from two uniforms of the counter stream (parameter init). */
float rng_normal(uint64_t seed, uint64_t index);

#endif
