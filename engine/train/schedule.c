/* engine/train/schedule.c: learning-rate factors for warmup + WSD and warmup + cosine.
 * See schedule.h; the same factor scales every parameter group (spec §4). */
#include "engine/train/schedule.h"

#include <math.h>

double schedule_factor(const ScheduleConfig *s, int64_t step, int64_t steps)
{
    if (steps <= 0) return 1.0;
    if (step < s->warmup) return (double)(step + 1) / (double)s->warmup;
    double lo = s->min_lr_frac;
    if (s->kind == SCHEDULE_COSINE) {
        int64_t span = steps - s->warmup;
        if (span <= 1) return 1.0;
        double progress = (double)(step - s->warmup) / (double)(span - 1);
        if (progress > 1.0) progress = 1.0;
        return lo + (1.0 - lo) * 0.5 * (1.0 + cos(M_PI * progress));
    }
    /* WSD: the decay covers the last decay_frac of all steps, never the warmup. */
    int64_t decay = (int64_t)llround(s->decay_frac * (double)steps);
    int64_t decay_start = steps - decay;
    if (decay_start < s->warmup) decay_start = s->warmup;
    decay = steps - decay_start;
    if (decay <= 0 || step < decay_start) return 1.0;
    /* The last step reaches lo exactly. */
    double progress = decay > 1 ? (double)(step - decay_start + 1) / (double)decay : 1.0;
    if (progress > 1.0) progress = 1.0;
    return 1.0 - (1.0 - lo) * progress;
}
