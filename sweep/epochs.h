/* sweep/epochs.h: how many passes over its training shard each planned run makes (its tokens over
 * the tokens the shard really holds), and the refusal of a plan whose runs exceed max_epochs. */
#ifndef DLCM_SWEEP_EPOCHS_H
#define DLCM_SWEEP_EPOCHS_H

#include "sweep/config.h"
#include "sweep/plan.h"

/* Fills each run's epochs from the training shard its config names (data.dir or data.train; each
 * distinct shard read once; NAN where the shard is missing or unreadable, which the data check
 * reports). Returns 0, or -1 with "FILE:LINE: max_epochs: ..." in err naming the first run over
 * spec->max_epochs, its epochs, its shard, and how many runs are over. */
int sweep_plan_epochs(const SweepSpec *spec, SweepPlan *plan, char *err, int errlen);

#endif
