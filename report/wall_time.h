/* report/wall_time.h: the study report's table of where its runs' wall time went, per sweep: the
 * share in training steps (every run, from its tokens/s) and each phase of the trainer. */
#ifndef DLCM_REPORT_WALL_TIME_H
#define DLCM_REPORT_WALL_TIME_H

#include <sqlite3.h>
#include <stdio.h>

/* Writes the Markdown table for the sweeps whose names start with "<study>-"; a line saying why
 * when there is nothing to show. 0, or -1 with err (the table is then left out). */
int wall_time_table(FILE *out, sqlite3 *db, const char *study, char *err, int errlen);

#endif
