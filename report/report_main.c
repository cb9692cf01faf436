/* report/report_main.c: dlcm-report's options: one sweep's report (report/sweep_report.h) or a
 * whole study's README with its tables and figures (report/study.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "db/db.h"
#include "report/study.h"
#include "report/sweep_report.h"

#define MAX_FIT_FILES 4

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dlcm-report [--db DB] [--sweep NAME] [--out DIR] [--fit FIT.json ...]\n"
            "       dlcm-report --db DB --study NAME --out DIR [--bootstrap N] [--max-starts K]\n"
            "\n"
            "With --sweep (or a database of one sweep): writes DIR/report.md and its figures (PNG and\n"
            "SVG) for one sweep: the sweep and the provenance of its runs, the runs table, the best run\n"
            "per budget and family, every fit stored for the sweep (dlcm-fit --db ... --sweep NAME) with\n"
            "95%% intervals and whether the data identify each coefficient, the derived recommendations\n"
            "with their intervals, and the figures: isoFLOP curves (loss against N per budget with the\n"
            "fitted curve, its optimum and the optimum's bootstrap interval), N_opt and D_opt against C,\n"
            "training curves per run grouped by budget, and residuals of the fit.\n"
            "\n"
            "With --study NAME: the study made of the sweeps NAME-isoflop, NAME-mup and NAME-parser\n"
            "(their latest versions). Writes DIR/README.md and every figure: the compression-aware law\n"
            "(Eq. 22) on realized R with each coefficient's interval and identification, R^2 and the\n"
            "leave-largest-budget-out error; the Chinchilla law of the dense runs with N_opt and D_opt\n"
            "against C; DLCM against dense at matched training and inference FLOPs (loss gap and\n"
            "compute multiplier, bootstrap intervals); the recommended allocation at 10x the largest\n"
            "budget with the query's warnings; the muP verdicts; the parser table; held-out task\n"
            "accuracies; tokens per concept per domain; the loss by position within a concept against\n"
            "the dense run of equal compute; the paper's claims beside ours with verdicts computed\n"
            "from the intervals; the device sessions. Fits stored for a sweep are used; a law that has\n"
            "none stored is fitted here (not stored: the database is only read). A part whose runs\n"
            "are missing is named as missing. The isoFLOP sweep's own report goes to DIR/report.md.\n"
            "\n"
            "options:\n"
            "  --db FILE         the database (default results/dlcm.sqlite)\n"
            "  --sweep NAME      the sweep (default: the only one in the database)\n"
            "  --study NAME      the study (see above)\n"
            "  --out DIR         where the files go (sweep default: report-NAME/ beside the database;\n"
            "                    required with --study)\n"
            "  --fit FILE        a fit JSON (dlcm-fit --json) to use instead of the stored fits\n"
            "                    (repeatable: one per law; --sweep only)\n"
            "  --bootstrap N     --study: resamples of a law fitted here (default 200)\n"
            "  --max-starts K    --study: thin the start grid of a law fitted here (default: the full grid)\n"
            "  --help, --version\n"
            "Options take their value as `--opt value` or `--opt=value`.\n"
            "\n"
            "exit status: 0 written, 1 a runtime failure (gnuplot, a write, a fit), 2 bad input\n"
            "(database, sweep, fit file).\n");
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *text = malloc(cap);
    while (text && (got = fread(text + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *grown = cap < (1u << 28) ? realloc(text, 2 * cap) : NULL;
            if (!grown) { free(text); text = NULL; break; }
            text = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (text) text[n] = '\0';
    return text;
}

int main(int argc, char **argv)
{
    const char *db_path = "results/dlcm.sqlite", *sweep_name = NULL, *out_dir = NULL, *study = NULL;
    const char *fit_files[MAX_FIT_FILES];
    int n_fit_files = 0;
    StudyReportOptions sopt = study_report_defaults();
    enum { OPT_DB = 1000, OPT_SWEEP, OPT_OUT, OPT_FIT, OPT_STUDY, OPT_BOOT, OPT_STARTS, OPT_HELP, OPT_VERSION };
    static const struct option options[] = {
        {"db", required_argument, NULL, OPT_DB},   {"sweep", required_argument, NULL, OPT_SWEEP},
        {"out", required_argument, NULL, OPT_OUT}, {"fit", required_argument, NULL, OPT_FIT},
        {"study", required_argument, NULL, OPT_STUDY}, {"bootstrap", required_argument, NULL, OPT_BOOT},
        {"max-starts", required_argument, NULL, OPT_STARTS},
        {"help", no_argument, NULL, OPT_HELP},     {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0}};
    opterr = 0;
    int option;
    long long v;
    while ((option = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (option) {
        case 'h':
        case OPT_HELP: usage(stdout); return CLI_EXIT_OK;
        case OPT_VERSION: cli_print_version(stdout, "dlcm-report"); return CLI_EXIT_OK;
        case OPT_DB: db_path = optarg; break;
        case OPT_SWEEP: sweep_name = optarg; break;
        case OPT_OUT: out_dir = optarg; break;
        case OPT_STUDY: study = optarg; break;
        case OPT_BOOT:
            if (cli_parse_int("dlcm-report", "--bootstrap", optarg, 0, 100000, &v)) return CLI_EXIT_BAD_INPUT;
            sopt.bootstrap = (int)v;
            break;
        case OPT_STARTS:
            if (cli_parse_int("dlcm-report", "--max-starts", optarg, 1, 1000000, &v)) return CLI_EXIT_BAD_INPUT;
            sopt.max_starts = (int)v;
            break;
        case OPT_FIT:
            if (n_fit_files == MAX_FIT_FILES) {
                fprintf(stderr, "dlcm-report: at most %d --fit files\n", MAX_FIT_FILES);
                return CLI_EXIT_BAD_INPUT;
            }
            fit_files[n_fit_files++] = optarg;
            break;
        case ':':
            fprintf(stderr, "dlcm-report: %s needs a value (see --help)\n", argv[optind - 1]);
            return CLI_EXIT_BAD_INPUT;
        default:
            fprintf(stderr, "dlcm-report: unknown option %s (see --help)\n", argv[optind - 1]);
            return CLI_EXIT_BAD_INPUT;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dlcm-report: unexpected argument %s\n", argv[optind]);
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    if (study && (sweep_name || n_fit_files)) {
        fprintf(stderr, "dlcm-report: --study reads its own sweeps and fits: drop --sweep and --fit\n");
        return CLI_EXIT_BAD_INPUT;
    }
    if (study && !out_dir) {
        fprintf(stderr, "dlcm-report: --study needs --out DIR\n");
        return CLI_EXIT_BAD_INPUT;
    }
    if (access(db_path, R_OK) != 0) {
        fprintf(stderr, "dlcm-report: %s: no such database\n", db_path);
        return CLI_EXIT_BAD_INPUT;
    }
    char *texts[MAX_FIT_FILES];
    for (int i = 0; i < n_fit_files; i++) {
        texts[i] = read_file(fit_files[i]);
        if (!texts[i]) {
            fprintf(stderr, "dlcm-report: %s: cannot read: %s\n", fit_files[i], strerror(errno));
            for (int j = 0; j < i; j++) free(texts[j]);
            return CLI_EXIT_BAD_INPUT;
        }
    }
    char err[1024];
    sqlite3 *db = db_open_readonly(db_path, err, sizeof err);
    int rc = CLI_EXIT_BAD_INPUT;
    if (!db) fprintf(stderr, "dlcm-report: %s\n", err);
    else if (study) {
        sopt.db_path = db_path;
        sopt.study = study;
        sopt.out_dir = out_dir;
        rc = study_report(db, &sopt);
    } else
        rc = report_sweep(db, db_path, sweep_name, out_dir, (const char *const *)texts, fit_files, n_fit_files);
    for (int i = 0; i < n_fit_files; i++) free(texts[i]);
    db_close(db);
    return rc;
}
