/* engine/rng.c: the counter-based standard normal used to initialize parameters: element
 * `index` of stream `seed` is the same on every backend and in every order of drawing. */
#include "engine/rng.h"

#include <math.h>

float rng_normal(uint64_t seed, uint64_t index)
{
    /* Box-Muller on uniforms 2*index and 2*index+1; 1 - u1 is in (0, 1], so the log is finite. */
    double u1 = 1.0 - (double)rng_uniform(seed, 2 * index);
    double u2 = (double)rng_uniform(seed, 2 * index + 1);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}
