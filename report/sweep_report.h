/* report/sweep_report.h: the report of one sweep (report.md and its figures: runs, provenance,
 * fits with their identification, isoFLOP optima, N_opt and D_opt against C, training curves,
 * residuals), as `dlcm-report --sweep` writes it and the study report reuses. */
#ifndef DLCM_REPORT_SWEEP_REPORT_H
#define DLCM_REPORT_SWEEP_REPORT_H

#include <sqlite3.h>
#include <stdio.h>

#include "report/isoflop.h"

/* Writes out_dir/report.md (default report-NAME/ beside db_path) for the sweep stored as
 * sweep_name (NULL: the only one), from the fit JSON texts given (n_fit_texts > 0, fit_names
 * naming them in errors) or else the fits stored for the sweep. Returns a CLI exit code. */
int report_sweep(sqlite3 *db, const char *db_path, const char *sweep_name, const char *out_dir,
                 const char *const *fit_texts, const char *const *fit_names, int n_fit_texts);

/* The Markdown section of one fit: points, R^2, every coefficient with its 95 % interval and the
 * fit's own identification label, the derived quantities and the leave-largest-budget-out check.
 * created_at 0: a fit not read from the database. */
void report_fit_section(FILE *out, const char *law, double created_at, const LoadedFit *fit);

#endif
