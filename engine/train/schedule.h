/* engine/train/schedule.h: the learning-rate factor of a step: linear warmup, then WSD (stable,
 * then a linear decay over the last share of the steps) or cosine decay, to a minimum factor. */
#ifndef DLCM_ENGINE_TRAIN_SCHEDULE_H
#define DLCM_ENGINE_TRAIN_SCHEDULE_H

#include <stdint.h>

#include "engine/train/config.h"

/* Factor in [min_lr_frac, 1] applied to every group's base LR at step (0-based) of steps.
 * Warmup ramps (step + 1) / warmup, so the first update is never zero. */
double schedule_factor(const ScheduleConfig *s, int64_t step, int64_t steps);

#endif
