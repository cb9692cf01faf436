/* sweep/version.h: sweep versions: a sweep file run under a name already in the database is
 * compared with the one recorded there, key by key; a changed one is refused with the
 * differences, or recorded as the next version (NAME.v2, ...) when asked. */
#ifndef DLCM_SWEEP_VERSION_H
#define DLCM_SWEEP_VERSION_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#include "sweep/plan.h"

/* The differences between two sweep files' settings (comments and layout ignored), one line each
 * ("  changed lr: 0.004 -> 0.008", "  added ...", "  removed ..."), written to out when given.
 * The number of differences, or -1 when a text cannot be read as YAML. */
int sweep_settings_diff(const char *old_text, const char *new_text, FILE *out);

/* Records the sweep for `run`. The same settings as the latest recorded version (or a new name):
 * that version. Different settings: with new_version the next version (spec->name becomes NAME.vK
 * and the plan is redone, so runs and their directory are the version's own), else the
 * differences are printed to stderr and 1 is returned. 0 recorded (*sweep_id), 1 refused,
 * -1 error (printed). */
int sweep_record_version(sqlite3 *db, SweepSpec *spec, SweepPlan *plan, const char *file, const char *text,
                         int new_version, int64_t *sweep_id);

#endif
