/* sweep/provenance.h: what each run is made from and where: the source commit (and whether the
 * tree was dirty), host, GPU model and driver, and the hashes of its corpus text and tokenizer,
 * recorded beside its config and seed when the sweep launches it. */
#ifndef DLCM_SWEEP_PROVENANCE_H
#define DLCM_SWEEP_PROVENANCE_H

#include <sqlite3.h>
#include <stdint.h>

/* Records provenance for every queued run of the sweep (about to be launched here, by run or
 * retry). with_gpu: ask nvidia-smi for the GPU model and driver. 0, or -1 with err. */
int sweep_record_provenance(sqlite3 *db, int64_t sweep_id, int with_gpu, char *err, int errlen);

#endif
