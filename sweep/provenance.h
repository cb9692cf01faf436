/* sweep/provenance.h: what each run is made from and where: the source commit (and whether the
 * tree was dirty), host, GPU model and driver, and the hashes of its corpus text and tokenizer,
 * recorded beside its config and seed when the sweep launches it. */
#ifndef DLCM_SWEEP_PROVENANCE_H
#define DLCM_SWEEP_PROVENANCE_H

#include <sqlite3.h>

#include "sweep/plan.h"

/* Records provenance for every run of the plan that is queued (about to be launched here).
 * with_gpu: ask nvidia-smi for the GPU model and driver. 0, or -1 with err. */
int sweep_record_provenance(sqlite3 *db, const SweepPlan *plan, int with_gpu, char *err, int errlen);

#endif
