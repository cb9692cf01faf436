/* report/wall_time.c: the study report's table of where its runs' wall time went, per sweep (see
 * wall_time.h). The numbers come from db/sweeps.h; this file only words them. */
#include "report/wall_time.h"

#include <stdlib.h>
#include <string.h>

#include "db/study.h"
#include "db/sweeps.h"

static void share(FILE *out, double part, double whole)
{
    if (whole > 0) fprintf(out, " %.0f %% |", 100.0 * part / whole);
    else fprintf(out, " - |");
}

int wall_time_table(FILE *out, sqlite3 *db, const char *study, char *err, int errlen)
{
    SweepListing *all = NULL;
    int n = 0;
    if (study_list_sweeps(db, &all, &n, err, errlen)) return -1;
    size_t prefix = strlen(study);
    int rows = 0, rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *name = all[i].name;
        if (strncmp(name, study, prefix) != 0 || name[prefix] != '-') continue;
        int64_t id;
        SweepPhaseTotals t;
        if (sweeps_find(db, name, &id, err, errlen) != 0 || sweeps_phase_totals(db, id, &t, err, errlen)) {
            rc = -1;
            break;
        }
        if (t.runs_all == 0 && t.runs == 0) continue;
        if (rows++ == 0) {
            fprintf(out, "| sweep | runs | wall a run | in training steps (from tokens/s) | runs with phase times |");
            for (int k = 0; k < RUN_N_PHASES; k++) fprintf(out, " %s |", run_phase_labels[k]);
            fprintf(out, " launch and start-up |\n|---|---|---|---|---|");
            for (int k = 0; k < RUN_N_PHASES; k++) fprintf(out, "---|");
            fprintf(out, "---|\n");
        }
        fprintf(out, "| %s | %d | %.1f s |", name, t.runs_all, t.runs_all ? t.wall_all / t.runs_all : 0.0);
        share(out, t.step_seconds_all, t.wall_all);
        fprintf(out, " %d |", t.runs);
        for (int k = 0; k < RUN_N_PHASES; k++) share(out, t.phase_seconds[k], t.wall_seconds);
        share(out, t.outside_seconds, t.wall_seconds);
        fprintf(out, "\n");
    }
    free(all);
    if (rc) return -1;
    if (rows == 0) fprintf(out, "No finished run of the study measured its wall time in one attempt.\n");
    fprintf(out, "\n");
    return 0;
}
