/* sweep/preflight.h: what a sweep's runs need before any is launched: each run's training and
 * validation shards exist, are token shards of the run's tokenizer and vocabulary, and are whole. */
#ifndef DLCM_SWEEP_PREFLIGHT_H
#define DLCM_SWEEP_PREFLIGHT_H

#include <stdio.h>

#include "sweep/plan.h"

/* Checks every run of the plan (each distinct shard once), writing one line per problem to out,
 * naming the file, what is wrong, and how to build it. The number of problems. */
int sweep_preflight(const SweepPlan *plan, FILE *out);

#endif
