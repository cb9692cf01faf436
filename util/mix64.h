/* util/mix64.h: splitmix64's finalizer, the project's one 64-bit mix: counter-based draws in the
 * engine (CPU and GPU alike, so it is host and device code under nvcc) and the loader's order. */
#ifndef DLCM_UTIL_MIX64_H
#define DLCM_UTIL_MIX64_H

#include <stdint.h>

#ifdef __CUDACC__
#define MIX64_FN static inline __host__ __device__
#else
#define MIX64_FN static inline
#endif

/* A bijective 64-bit mix: equal inputs give equal outputs, nearby inputs unrelated ones. */
MIX64_FN uint64_t rng_mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

#endif
