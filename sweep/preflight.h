/* sweep/preflight.h: what a sweep's runs need before any is launched: each run's training and
 * validation shards exist, are token shards of the run's tokenizer and vocabulary, and are whole. */
#ifndef DLCM_SWEEP_PREFLIGHT_H
#define DLCM_SWEEP_PREFLIGHT_H

#include <stdint.h>
#include <stdio.h>

#include "sweep/plan.h"

/* Checks every run of the plan (each distinct shard once), writing one line per problem to out,
 * naming the file, what is wrong, and how to build it. The number of problems. */
int sweep_preflight(const SweepPlan *plan, FILE *out);

/* The tokens a shard holds (its header's count, checked against the file's size: a shard cut
 * short has no count). 0, or -1 when it is missing, not a shard, or cut short. */
int sweep_shard_token_count(const char *path, uint64_t *count);

#endif
