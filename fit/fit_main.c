/* fit/fit_main.c: dlcm-fit, the command line of the fitter: scaling-law fits (Chinchilla and
 * compression-aware forms) from a CSV or a sweep, and the subcommands decay and mup. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit/decay.h"
#include "fit/estimator.h"
#include "fit/law.h"
#include "fit/law_plots.h"
#include "fit/mup.h"
#include "fit/output.h"
#include "fit/points.h"
#include "fit/summary.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dlcm-fit (--csv FILE | --db FILE --sweep NAME) --law chinchilla|dlcm [options]\n"
            "       dlcm-fit decay (--csv FILE | --db FILE --sweep NAME) [options]   (Eq. 23; dlcm-fit decay --help)\n"
            "       dlcm-fit mup --db FILE --sweep NAME [options]                     (muP transfer; dlcm-fit mup --help)\n"
            "\n"
            "Fits a scaling law by Huber loss (delta 1e-3) on log residuals, BFGS from a grid of starts,\n"
            "with bootstrap 95%% intervals, R^2 on log loss and the leave-largest-budget-out error.\n"
            "\n"
            "data:\n"
            "  --csv FILE            columns N, D (or C), loss [, R, P, C|budget, family]; the Chinchilla layout\n"
            "                        (\"Model Size\", \"Training FLOP\", loss) is detected: D = C / (6 N)\n"
            "  --db FILE --sweep NAME  final losses of the sweep's runs with status 'done'\n"
            "  --family dense|dlcm|all  runs used (default: dense for chinchilla, all for dlcm)\n"
            "  --loss val|train      which final loss (default val)\n"
            "  --drop-top-loss K     drop the K highest-loss points (Chinchilla reference: 5)\n"
            "  --vocab V --seq-len T shapes for the derived allocations (default: from the runs)\n"
            "estimator:\n"
            "  --law chinchilla|dlcm L = E + A/N^alpha + B/D^beta, or DLCM Eq. 22 (dense runs: no concept term)\n"
            "  --offsets             dlcm: fit t_tok, t_con, t_dat (default: fixed at 0)\n"
            "  --bootstrap B         resamples (default 1000; 0: no intervals)\n"
            "  --seed S              bootstrap seed (default 1)\n"
            "  --max-starts K        use every k-th start of the grid, at most K (quick looks and tests;\n"
            "                        default: the whole grid)\n"
            "  --no-lobo             skip the leave-largest-budget-out refit\n"
            "output:\n"
            "  --json OUT            the fit as JSON (coefficients, intervals, selection, settings, samples)\n"
            "  --store DB            store the fit in DB's fits table (default with --db: that database)\n"
            "  --no-store            do not store it\n"
            "  --plots DIR           figures (PNG and SVG) into DIR (default results/)\n"
            "  --plot-prefix NAME    file name prefix of the figures (default <law>-<source>)\n"
            "  --no-plots            no figures\n"
            "  --check-reference     exit 1 unless E, A, B, alpha, beta match the Chinchilla replication\n"
            "                        (Besiroglu et al. 2024) to three significant figures\n"
            "  --quiet               no progress on stderr\n");
}

/* Rounds to three significant figures (the reference check's precision). */
static double round3(double x)
{
    if (x == 0 || !isfinite(x)) return x;
    double scale = pow(10.0, 2 - (int)floor(log10(fabs(x))));
    return round(x * scale) / scale;
}

static int check_reference(const LawSummary *s)
{
    static const char *const names[] = {"E", "A", "B", "alpha", "beta"};
    static const double published[] = {1.817, 478, 2143, 0.3473, 0.3672};
    static const double huber_mle[] = {1.817, 482.0, 2085.4, 0.348, 0.366};
    printf("\nChinchilla reference (Besiroglu et al. 2024; 5 highest losses dropped)\n");
    printf("  %-6s %12s %12s %12s %12s %12s  %s\n", "coef", "ours", "95% lo", "95% hi", "published", "Huber-MLE", "3 s.f.");
    int ok = 1;
    for (int j = 0; j < 5; j++) {
        int match = round3(s->coef[j]) == round3(published[j]);
        ok &= match;
        printf("  %-6s %12.6g %12.6g %12.6g %12.6g %12.6g  %s\n", names[j], s->coef[j], s->lo[j], s->hi[j], published[j],
               huber_mle[j], match ? "match" : "MISMATCH");
    }
    printf("reference check: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : -1;
}

static int law_fit_main(int argc, char **argv)
{
    const char *csv = NULL, *db_path = NULL, *sweep = NULL, *law_name_arg = NULL, *json_path = NULL;
    const char *store = NULL, *plots_dir = "results", *plot_prefix = NULL, *family = NULL, *loss_kind = "val";
    int max_starts = 0;
    int drop = 0, offsets = 0, no_store = 0, no_plots = 0, check = 0, quiet = 0, no_lobo = 0, vocab = 0, seq_len = 0;
    EstimatorSettings set = estimator_defaults();
    enum { O_CSV = 256, O_DB, O_SWEEP, O_LAW, O_DROP, O_JSON, O_STORE, O_NOSTORE, O_PLOTS, O_PREFIX, O_NOPLOTS,
           O_BOOT, O_SEED, O_OFFSETS, O_FAMILY, O_LOSS, O_VOCAB, O_SEQ, O_CHECK, O_QUIET, O_NOLOBO, O_MAXSTARTS };
    static const struct option opts[] = {
        {"csv", 1, 0, O_CSV}, {"db", 1, 0, O_DB}, {"sweep", 1, 0, O_SWEEP}, {"law", 1, 0, O_LAW},
        {"drop-top-loss", 1, 0, O_DROP}, {"json", 1, 0, O_JSON}, {"store", 1, 0, O_STORE},
        {"no-store", 0, 0, O_NOSTORE}, {"plots", 1, 0, O_PLOTS}, {"plot-prefix", 1, 0, O_PREFIX},
        {"no-plots", 0, 0, O_NOPLOTS}, {"bootstrap", 1, 0, O_BOOT}, {"seed", 1, 0, O_SEED},
        {"offsets", 0, 0, O_OFFSETS}, {"family", 1, 0, O_FAMILY}, {"loss", 1, 0, O_LOSS},
        {"vocab", 1, 0, O_VOCAB}, {"seq-len", 1, 0, O_SEQ}, {"check-reference", 0, 0, O_CHECK},
        {"quiet", 0, 0, O_QUIET}, {"no-lobo", 0, 0, O_NOLOBO}, {"max-starts", 1, 0, O_MAXSTARTS}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_CSV: csv = optarg; break;
        case O_DB: db_path = optarg; break;
        case O_SWEEP: sweep = optarg; break;
        case O_LAW: law_name_arg = optarg; break;
        case O_DROP:
            drop = (int)strtol(optarg, &end, 10);
            if (*end || drop < 0) { fprintf(stderr, "dlcm-fit: --drop-top-loss needs a count >= 0\n"); return 2; }
            break;
        case O_JSON: json_path = optarg; break;
        case O_STORE: store = optarg; break;
        case O_NOSTORE: no_store = 1; break;
        case O_PLOTS: plots_dir = optarg; break;
        case O_PREFIX: plot_prefix = optarg; break;
        case O_NOPLOTS: no_plots = 1; break;
        case O_BOOT:
            set.n_boot = (int)strtol(optarg, &end, 10);
            if (*end || set.n_boot < 0) { fprintf(stderr, "dlcm-fit: --bootstrap needs a count >= 0\n"); return 2; }
            break;
        case O_SEED: set.seed = strtoul(optarg, &end, 10); if (*end) { fprintf(stderr, "dlcm-fit: bad --seed\n"); return 2; } break;
        case O_OFFSETS: offsets = 1; break;
        case O_FAMILY: family = optarg; break;
        case O_LOSS: loss_kind = optarg; break;
        case O_VOCAB: vocab = atoi(optarg); break;
        case O_SEQ: seq_len = atoi(optarg); break;
        case O_CHECK: check = 1; break;
        case O_QUIET: quiet = 1; break;
        case O_NOLOBO: no_lobo = 1; break;
        case O_MAXSTARTS:
            max_starts = (int)strtol(optarg, &end, 10);
            if (*end || max_starts < 1) { fprintf(stderr, "dlcm-fit: --max-starts needs a count >= 1\n"); return 2; }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) { fprintf(stderr, "dlcm-fit: unexpected argument %s\n", argv[optind]); return 2; }
    set.progress = !quiet;
    Law law;
    if (!law_name_arg || law_init(&law, law_name_arg, offsets)) {
        fprintf(stderr, "dlcm-fit: --law chinchilla|dlcm is required\n");
        return 2;
    }
    if (!!csv + !!db_path != 1 || (db_path && !sweep)) {
        fprintf(stderr, "dlcm-fit: give either --csv FILE or --db FILE --sweep NAME\n");
        return 2;
    }
    if (strcmp(loss_kind, "val") && strcmp(loss_kind, "train")) { fprintf(stderr, "dlcm-fit: --loss val|train\n"); return 2; }
    if (!family) family = law.kind == LAW_CHINCHILLA ? "dense" : "all";
    if (strcmp(family, "dense") && strcmp(family, "dlcm") && strcmp(family, "all")) {
        fprintf(stderr, "dlcm-fit: --family dense|dlcm|all\n");
        return 2;
    }
    if (!store && db_path && !no_store) store = db_path;
    if (no_store) store = NULL;

    char err[1024];
    FitData data;
    if (csv) {
        if (fit_data_read_csv(csv, &data, err, sizeof err)) { fprintf(stderr, "dlcm-fit: %s\n", err); return 1; }
    } else {
        sqlite3 *db = output_open_existing_db(db_path, err, sizeof err);
        if (!db) { fprintf(stderr, "dlcm-fit: %s\n", err); return 1; }
        int rc = fit_data_read_sweep(db, sweep, strcmp(family, "all") ? family : NULL, !strcmp(loss_kind, "train"), &data,
                                     err, sizeof err);
        db_close(db);
        if (rc) { fprintf(stderr, "dlcm-fit: %s: %s\n", db_path, err); return 1; }
    }
    if (vocab) data.vocab = vocab;
    if (seq_len) data.seq_len = seq_len;
    fit_data_drop_top_loss(&data, drop);
    if (fit_data_check(&data, law.k, law.kind == LAW_DLCM, err, sizeof err)) {
        fprintf(stderr, "dlcm-fit: %s\n", err);
        fit_data_free(&data);
        return 1;
    }

    law_set_centers(&law, data.pts, data.n);
    int n_starts;
    double *starts = law_start_grid(&law, &n_starts);
    if (!starts) { fprintf(stderr, "dlcm-fit: out of memory\n"); fit_data_free(&data); return 1; }
    if (max_starts && max_starts < n_starts) { /* an even thinning of the grid */
        int stride = (n_starts + max_starts - 1) / max_starts, kept = 0;
        for (int i = 0; i < n_starts; i += stride, kept++)
            memmove(starts + (size_t)kept * law.k, starts + (size_t)i * law.k, (size_t)law.k * sizeof *starts);
        n_starts = kept;
    }
    if (!quiet) fprintf(stderr, "dlcm-fit: %s law on %d points (%s), %d starts\n", law_name(&law), data.n, data.source, n_starts);
    FitResult best;
    if (estimator_fit(&law, data.pts, data.n, NULL, starts, n_starts, &set, &best, err, sizeof err)) {
        fprintf(stderr, "dlcm-fit: %s\n", err);
        free(starts);
        fit_data_free(&data);
        return 1;
    }
    LawSummary s = {0};
    s.law = law;
    memcpy(s.coef, best.coef, sizeof s.coef);
    s.objective = best.objective;
    s.r2_log = best.r2_log;
    s.n_points = data.n;
    s.vocab = data.vocab;
    s.seq_len = data.seq_len;
    snprintf(s.source, sizeof s.source, "%s", data.source);
    s.R_min = s.P_min = INFINITY;
    s.R_max = s.P_max = 0;
    for (int i = 0; i < data.n; i++) {
        const FitPoint *p = &data.pts[i];
        s.budget_max = fmax(s.budget_max, p->C);
        if (p->dense) continue;
        s.R_min = fmin(s.R_min, p->R);
        s.R_max = fmax(s.R_max, p->R);
        s.P_min = fmin(s.P_min, p->P);
        s.P_max = fmax(s.P_max, p->P);
    }
    if (!isfinite(s.R_min)) s.R_min = s.R_max = 1, s.P_min = s.P_max = 0;
    if (set.n_boot > 0) {
        if (!quiet) fprintf(stderr, "dlcm-fit: bootstrap, %d resamples (seed %lu)\n", set.n_boot, set.seed);
        s.n_samples_ok = estimator_bootstrap(&law, data.pts, data.n, &best, &set, &s.samples);
        if (s.n_samples_ok < 0) { fprintf(stderr, "dlcm-fit: out of memory\n"); return 1; }
        s.n_samples = set.n_boot; /* rows of failed refits hold NaN and are ignored by the intervals */
        if (s.n_samples_ok < set.n_boot)
            fprintf(stderr, "dlcm-fit: warning: %d of %d bootstrap refits failed\n", set.n_boot - s.n_samples_ok, set.n_boot);
    }
    if (!no_lobo) {
        if (!quiet) fprintf(stderr, "dlcm-fit: leave-largest-budget-out refit\n");
        if (estimator_lobo(&law, data.pts, data.n, starts, n_starts, &set, &s.lobo, err, sizeof err))
            fprintf(stderr, "dlcm-fit: leave-largest-budget-out refit failed: %s\n", err);
    }
    summary_compute(&s, &set);
    summary_print(stdout, &s);
    int ref_rc = check ? check_reference(&s) : 0;

    json_object *json = summary_to_json(&s, &data, &set, n_starts, best.n_converged, drop);
    const char *text = json_object_to_json_string_ext(json, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    FitRecord rec = {s.source, law_name(&law), data.n, s.objective, s.r2_log, text};
    long long id;
    int rc = 0;
    if (json_path || store) {
        if (output_commit(json_path, store, &rec, &id, err, sizeof err)) {
            fprintf(stderr, "dlcm-fit: %s\n", err);
            rc = 1;
        } else {
            if (json_path) printf("  json: %s\n", json_path);
            if (store) printf("  stored: fit %lld in %s\n", id, store);
        }
    }
    if (rc == 0 && !no_plots) {
        char prefix[300], base[512];
        if (!plot_prefix) {
            snprintf(base, sizeof base, "%s", csv ? csv : sweep);
            char *b = basename(base), *dot = strrchr(b, '.');
            if (csv && dot) *dot = '\0';
            snprintf(prefix, sizeof prefix, "%s-%s", law_name(&law), b);
            plot_prefix = prefix;
        }
        if (law_plots(plots_dir, plot_prefix, &s, &data, err, sizeof err)) {
            fprintf(stderr, "dlcm-fit: plots: %s\n", err);
            rc = 1;
        }
    }
    json_object_put(json);
    summary_free(&s);
    free(starts);
    fit_data_free(&data);
    if (rc) return rc;
    return ref_rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "decay")) return decay_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "mup")) return mup_main(argc - 1, argv + 1);
    return law_fit_main(argc, argv);
}
