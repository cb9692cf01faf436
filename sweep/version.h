/* sweep/version.h: sweep versions: a sweep file run under a recorded name is compared key by key;
 * a changed one is refused, or recorded as the next version (NAME.v2) or an extension, when asked. */
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

/* How `run` records a file whose settings differ from the latest recorded version's. */
typedef enum {
    SWEEP_RECORD_SAME = 0,    /* refused with the differences */
    SWEEP_RECORD_NEW_VERSION, /* --new-version: the next version, with runs of its own */
    SWEEP_RECORD_EXTEND       /* --extend: the same version, when every run it has is planned identically */
} SweepRecordMode;

/* Records the sweep for `run`. The same settings as the latest recorded version (or a new name,
 * or the settings of an earlier version): that version. Different settings: with
 * SWEEP_RECORD_NEW_VERSION the next version (spec->name becomes NAME.vK and the plan is redone, so
 * runs and their directory are the version's own); with SWEEP_RECORD_EXTEND, when the file plans
 * every run of the latest version (its stored settings planned again, and the runs recorded under
 * it) with the same id, the version's settings become the file's (the replaced ones are kept, see
 * study_replaced_settings) and the plan's other runs are its new ones; otherwise the differences
 * (or the runs the file would drop or change, or why they cannot be checked) are printed to
 * stderr and 1 is returned.
 * 0 recorded (*sweep_id), 1 refused, -1 error (printed). */
int sweep_record_version(sqlite3 *db, SweepSpec *spec, SweepPlan *plan, const char *file, const char *text,
                         SweepRecordMode mode, int64_t *sweep_id);

/* What `run --extend` would do with the file, told to out, writing nothing (db may be NULL: no
 * database yet): the runs it would add, or (on stderr) the runs of the recorded version the file
 * drops or changes. 0 it would extend or record the file, 1 it would refuse it, -1 error (printed). */
int sweep_preview_extension(sqlite3 *db, SweepSpec *spec, SweepPlan *plan, const char *file, const char *text,
                            FILE *out);

#endif
