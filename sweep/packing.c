/* sweep/packing.c: the automatic number of runs per GPU (see packing.h): the least of the memory,
 * step-size and run-length limits, between 1 and PACK_MAX_PER_GPU. */
#include "sweep/packing.h"

#include <math.h>

#include "sweep/plan.h"

/* floor(x), rounded up within 5%, kept in [1, PACK_MAX_PER_GPU + 1] to compare cleanly with the cap. */
static int whole_runs(double x)
{
    if (!(x < PACK_MAX_PER_GPU + 1)) return PACK_MAX_PER_GPU + 1;
    return x < 1 ? 1 : (int)floor(x * 1.05);
}

PackChoice pack_choice(const ModelShape *shape, int64_t batch_tokens, int64_t tokens, double run_flops,
                       double gpu_mem_bytes)
{
    PackChoice c = {PACK_MAX_PER_GPU, PACK_BY_NONE, 0, 0, 0};
    double per_token = run_flops > 0 && tokens > 0
                           ? run_flops / (double)tokens
                           : shape_train_flops_per_token(shape, shape->family == FAMILY_DLCM ? shape->R : 1.0);
    c.step_flops = per_token * (double)batch_tokens;
    c.run_flops = per_token * (double)tokens;
    c.memory = sweep_estimate_memory(shape, batch_tokens);
    int by_memory = gpu_mem_bytes > 0 && c.memory > 0 ? whole_runs(0.9 * gpu_mem_bytes / c.memory) : PACK_MAX_PER_GPU + 1;
    int by_step = c.step_flops > 0 ? whole_runs(PACK_SATURATING_STEP_FLOPS / c.step_flops) : PACK_MAX_PER_GPU + 1;
    int by_length = c.run_flops > 0 ? whole_runs(PACK_RUN_SECONDS * PACK_REFERENCE_FLOPS_PER_S / c.run_flops)
                                    : PACK_MAX_PER_GPU + 1;
    if (by_memory < c.per_gpu) { c.per_gpu = by_memory; c.bound = PACK_BY_MEMORY; }
    if (by_step < c.per_gpu) { c.per_gpu = by_step; c.bound = PACK_BY_STEP; }
    if (by_length < c.per_gpu) { c.per_gpu = by_length; c.bound = PACK_BY_LENGTH; }
    return c;
}

const char *pack_reason(const PackChoice *c)
{
    switch (c->bound) {
    case PACK_BY_MEMORY: return "estimated memory";
    case PACK_BY_STEP: return "steps large enough to keep the GPU busy";
    case PACK_BY_LENGTH: return "a long run (it should end within minutes)";
    default: return "small runs (the cap)";
    }
}
