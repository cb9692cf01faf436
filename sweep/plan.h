/* sweep/plan.h: expanding a SweepSpec into concrete runs: shapes (explicit or solved from N and
 * P), compute-matched token counts D = C / (3 F_fwd) in whole optimizer steps, the resolved run
 * config each run's trainer reads, and the run id (a hash of that config and the engine version). */
#ifndef DLCM_SWEEP_PLAN_H
#define DLCM_SWEEP_PLAN_H

#include <stdint.h>

#include "engine/shape.h"
#include "sweep/config.h"

#include "engine/train/config.h" /* DLCM_ENGINE_VERSION: part of every run id */

typedef struct {
    char id[17];                 /* 16 hex digits */
    int family_index;            /* into SweepSpec.families */
    ModelShape shape;
    ShapeParams params;
    SweepParametrization param;
    double lr;
    int64_t seed;
    int has_budget;              /* 1: compute-matched to budget; 0: fixed tokens */
    double budget;               /* C (training FLOPs); the realized compute when has_budget = 0 */
    double target_N, target_P;   /* what the shape was solved for (NAN in grid mode) */
    double fwd_flops_per_token;  /* analytic, at the target R */
    double train_flops_per_token;
    int64_t tokens, steps;       /* D and D / batch_tokens */
    double train_flops;          /* realized 3 F D */
    double deviation;            /* (train_flops - budget) / budget */
    double est_memory_bytes;     /* rough training memory: weights, grads, Adam, activations */
    char *config;                /* resolved run config (YAML), owned */
} PlannedRun;

typedef struct {
    int n;
    PlannedRun *runs;
    int64_t batch_tokens;
} SweepPlan;

/* Expands the spec. Returns 0, or -1 with "FILE:LINE: KEY: problem" in err (a shape that
 * cannot be built, a budget too small for one step or not matchable within max_deviation). */
int sweep_plan(const SweepSpec *spec, SweepPlan *plan, char *err, int errlen);
void sweep_plan_free(SweepPlan *plan);

/* The run id of a resolved config: FNV-1a 64 of the text, which includes the engine version. */
void sweep_run_id(const char *config, char id[17]);

/* Rough bytes to train a shape with steps of batch_tokens tokens (weights, grads, Adam moments,
 * activations, logits): decides how many runs share one GPU. */
double sweep_estimate_memory(const ModelShape *shape, int64_t batch_tokens);

/* "dense" or "dlcm". */
const char *sweep_family_name(ModelFamily f);

#endif
