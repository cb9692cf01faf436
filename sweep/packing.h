/* sweep/packing.h: how many runs share one GPU when no --max-per-gpu is given: as many as their
 * estimated memory allows, as their optimizer steps leave the GPU idle, and as still finish in a
 * few minutes at the rate a packed GPU reaches; at most 8. */
#ifndef DLCM_SWEEP_PACKING_H
#define DLCM_SWEEP_PACKING_H

#include <stdint.h>

#include "engine/shape.h"

#define PACK_MAX_PER_GPU 8
/* Training FLOPs of one optimizer step at which a single run keeps an H200 busy by itself: the
 * dense d_t=1024 model at 8 x 1024 tokens a step (1.1e13 FLOPs) reached 20% MFU alone, while
 * steps 10-100x smaller leave it waiting on launches and host syncs. */
#define PACK_SATURATING_STEP_FLOPS 1e13
/* A packed run should end within PACK_RUN_SECONDS at PACK_REFERENCE_FLOPS_PER_S shared by the
 * runs on the GPU (what packed small runs reach on one H200), so that a device session of minutes
 * finishes the runs it starts instead of leaving them half done. */
#define PACK_RUN_SECONDS 240.0
#define PACK_REFERENCE_FLOPS_PER_S 25e12

typedef enum { PACK_BY_NONE, PACK_BY_MEMORY, PACK_BY_STEP, PACK_BY_LENGTH } PackLimit;

typedef struct {
    int per_gpu;        /* runs that may share a GPU with this one, itself included (1..8) */
    PackLimit bound;    /* which rule set it (PACK_BY_NONE: the cap of 8) */
    double step_flops;  /* training FLOPs of one optimizer step */
    double run_flops;   /* training FLOPs of the whole run */
    double memory;      /* estimated bytes (sweep_estimate_memory) */
} PackChoice;

/* The automatic packing of one run of this shape trained on `tokens` tokens in steps of
 * batch_tokens, on a GPU of gpu_mem_bytes (0: unknown, the memory rule is skipped). run_flops: its
 * planned training FLOPs (0: counted from the shape, whose stored form lacks custom FFN sizes). A
 * limit within 5% of the next whole run rounds up (a run planned at 1.01 x a budget packs as one at
 * the budget). */
PackChoice pack_choice(const ModelShape *shape, int64_t batch_tokens, int64_t tokens, double run_flops,
                       double gpu_mem_bytes);

/* Why, in words: "memory", "small steps"... for the scheduler's messages. */
const char *pack_reason(const PackChoice *c);

#endif
