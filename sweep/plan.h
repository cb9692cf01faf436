/* sweep/plan.h: expanding a SweepSpec into concrete runs: shapes (explicit or solved from N and
 * P), compute-matched token counts D = C / (3 F_fwd) in whole optimizer steps, the resolved run
 * config each run's trainer reads, and the run id (config_hash: the id dlcm-train derives too). */
#ifndef DLCM_SWEEP_PLAN_H
#define DLCM_SWEEP_PLAN_H

#include <stdint.h>

#include "db/sweeps.h"
#include "engine/shape.h"
#include "sweep/config.h"

#include "engine/train/config.h" /* the run config: its one serializer and run id */

typedef struct {
    char id[17];                 /* 16 hex digits */
    int family_index;            /* into SweepSpec.families; -1 for a dense partner at equal inference FLOPs */
    int partner_of_family;       /* a dense partner: its DLCM's family (whose trainer settings it shares) */
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
    double epochs;               /* tokens / tokens of its training shard (sweep_plan_epochs); NAN: not known */
    char *config;                /* the run config dlcm-train reads (config_planned_text), owned */
} PlannedRun;

/* A DLCM run and the dense run at its inference FLOPs per token (indices into SweepPlan.runs). */
typedef struct {
    int dlcm, dense;
} SweepPair;

/* How close a dense partner's inference FLOPs per token must be to its DLCM's (relative). */
#define SWEEP_PAIR_TOLERANCE 0.02

typedef struct {
    int n;
    PlannedRun *runs;
    int64_t batch_tokens;
    int n_pairs;                 /* with inference_matched_dense: one per DLCM run */
    SweepPair *pairs;
} SweepPlan;

/* Expands the spec. Returns 0, or -1 with "FILE:LINE: KEY: problem" in err (a shape that
 * cannot be built, a degenerate DLCM, a budget too small for one step or not matchable within
 * max_deviation, a DLCM with no dense shape at its inference FLOPs when those pairs are asked). */
int sweep_plan(const SweepSpec *spec, SweepPlan *plan, char *err, int errlen);
void sweep_plan_free(SweepPlan *plan);

/* Rough bytes to train a shape with steps of batch_tokens tokens (weights, grads, Adam moments,
 * activations, logits): decides how many runs share one GPU. */
double sweep_estimate_memory(const ModelShape *shape, int64_t batch_tokens);

/* A shape as the store holds it, and back (ffn sizes are not stored: defaults come back). */
StoredShape sweep_stored_shape(const ModelShape *shape);
ModelShape sweep_model_shape(const StoredShape *stored);

/* "dense" or "dlcm". */
const char *sweep_family_name(ModelFamily f);

#endif
