/* report/study.h: dlcm-report --study: one study (the sweeps NAME-isoflop, NAME-mup and
 * NAME-parser of one database) as a README with every table and figure the study's question
 * needs, each number with its interval and each verdict computed from the intervals. */
#ifndef DLCM_REPORT_STUDY_H
#define DLCM_REPORT_STUDY_H

#include <sqlite3.h>

typedef struct {
    const char *db_path, *study, *out_dir;
    int bootstrap;   /* resamples of a law fitted here (no stored fit) */
    int max_starts;  /* > 0: thin the start grid of a law fitted here */
} StudyReportOptions;

StudyReportOptions study_report_defaults(void);

/* Writes out_dir/README.md, the isoFLOP sweep's report.md and the figures. A part of the study
 * that is missing (a sweep, its finished runs, a fit that cannot be made) is named in the README
 * as missing. Returns a CLI exit code (0 written, 1 a runtime failure, 2 bad input). */
int study_report(sqlite3 *db, const StudyReportOptions *o);

#endif
