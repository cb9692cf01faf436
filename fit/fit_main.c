/* fit/fit_main.c: dlcm-fit, the command line of the fitter: options for a scaling-law fit
 * (fit/law_fit.h) from a CSV or a sweep, and the subcommands decay and mup. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fit/decay.h"
#include "fit/law_fit.h"
#include "fit/mup.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dlcm-fit (--csv FILE | --db FILE --sweep NAME) --law chinchilla|dlcm [options]\n"
            "       dlcm-fit decay (--csv FILE | --db FILE --sweep NAME) [options]   (Eq. 23; dlcm-fit decay --help)\n"
            "       dlcm-fit mup --db FILE --sweep NAME [options]                     (muP transfer; dlcm-fit mup --help)\n"
            "\n"
            "Fits a scaling law by Huber loss (delta 1e-3) on log residuals, BFGS from a grid of starts,\n"
            "with bootstrap 95%% intervals, R^2 on log loss and the leave-largest-budget-out error. E and\n"
            "every exponent are positive by construction. A coefficient whose 95%% interval spans more than\n"
            "a factor 10 (an exponent's more than 0.5) is reported 'not identified', with the variable\n"
            "(N, P, R, D) whose variation is missing.\n"
            "\n"
            "data:\n"
            "  --csv FILE            columns N, D (or C), loss [, R, P, C|budget, family], names matched exactly;\n"
            "                        the Chinchilla layout (\"Model Size\", \"Training FLOP\", loss) is detected\n"
            "  --db FILE --sweep NAME  final losses of the sweep's runs with status 'done'\n"
            "  --family dense|dlcm|all  points used (default: dense for chinchilla, all for dlcm)\n"
            "  --lr LR               only runs with this peak learning rate\n"
            "  --run-seed S          only runs of this seed\n"
            "  --tag T               only runs tagged T (their own tags, or their sweep's: dlcm-sweep tag)\n"
            "  --R eval|target       dlcm from a sweep: the realized evaluation R of each run (default) or its target\n"
            "  --loss val|train      which final loss (default val)\n"
            "  --drop-top-loss K     drop the K highest-loss points (Chinchilla reference: 5)\n"
            "  --vocab V --seq-len T shapes for the derived allocations (default: from the runs)\n"
            "estimator:\n"
            "  --law chinchilla|dlcm L = E + A/N^alpha + B/D^beta, or DLCM Eq. 22 (dense runs: no concept term)\n"
            "  --offsets             dlcm: fit t_tok, t_con, t_dat (default: fixed at 0)\n"
            "  --bootstrap B         resamples (default 1000; 0: no intervals)\n"
            "  --seed S              bootstrap seed (default 1)\n"
            "  --max-starts K        use every k-th start of the grid, at most K (quick looks and tests)\n"
            "  --no-lobo             skip the leave-largest-budget-out refit\n"
            "output:\n"
            "  --json OUT            the fit as JSON (coefficients, intervals, identification, ranges, samples)\n"
            "  --store DB            store the fit in DB's fits table (default with --db: that database); a fit\n"
            "                        replaces the earlier one of the same source, law and label\n"
            "  --label NAME          the fit's label (default: its selection, e.g. \"family=all R=eval\")\n"
            "  --no-store            do not store it\n"
            "  --plots DIR           figures (PNG and SVG) into DIR (default: beside the database or the CSV)\n"
            "  --plot-prefix NAME    file name prefix of the figures (default <law>-<sweep or CSV name>)\n"
            "  --no-plots            no figures\n"
            "  --check-reference     exit 1 unless E, A, B, alpha, beta match the Chinchilla replication\n"
            "                        (Besiroglu et al. 2024) to three significant figures\n"
            "  --quiet               no progress on stderr\n"
            "  --version             the commit this binary was built from\n"
            "\n"
            "exit status: 0 done, 1 runtime failure (or a reference mismatch), 2 bad input\n");
}

static int parse_count(const char *flag, const char *text, int min, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*end || errno || v < min || v > 1000000000) {
        fprintf(stderr, "dlcm-fit: %s needs a whole number >= %d (got %s)\n", flag, min, text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* 0, 1 (--help printed) or 2 (bad input, message printed). */
static int parse_options(int argc, char **argv, LawFitOptions *o)
{
    memset(o, 0, sizeof *o);
    o->est = estimator_defaults();
    o->select = fit_selection_default();
    const char *family = NULL, *loss = "val", *R = "eval";
    int no_store = 0, quiet = 0;
    enum { O_CSV = 256, O_DB, O_SWEEP, O_LAW, O_DROP, O_JSON, O_STORE, O_NOSTORE, O_PLOTS, O_PREFIX, O_NOPLOTS,
           O_BOOT, O_SEED, O_OFFSETS, O_FAMILY, O_LOSS, O_VOCAB, O_SEQ, O_CHECK, O_QUIET, O_NOLOBO, O_MAXSTARTS,
           O_LR, O_RUNSEED, O_R, O_LABEL, O_TAG };
    static const struct option opts[] = {
        {"csv", 1, 0, O_CSV}, {"db", 1, 0, O_DB}, {"sweep", 1, 0, O_SWEEP}, {"law", 1, 0, O_LAW},
        {"drop-top-loss", 1, 0, O_DROP}, {"json", 1, 0, O_JSON}, {"store", 1, 0, O_STORE},
        {"no-store", 0, 0, O_NOSTORE}, {"plots", 1, 0, O_PLOTS}, {"plot-prefix", 1, 0, O_PREFIX},
        {"no-plots", 0, 0, O_NOPLOTS}, {"bootstrap", 1, 0, O_BOOT}, {"seed", 1, 0, O_SEED},
        {"offsets", 0, 0, O_OFFSETS}, {"family", 1, 0, O_FAMILY}, {"loss", 1, 0, O_LOSS},
        {"vocab", 1, 0, O_VOCAB}, {"seq-len", 1, 0, O_SEQ}, {"check-reference", 0, 0, O_CHECK},
        {"quiet", 0, 0, O_QUIET}, {"no-lobo", 0, 0, O_NOLOBO}, {"max-starts", 1, 0, O_MAXSTARTS},
        {"lr", 1, 0, O_LR}, {"run-seed", 1, 0, O_RUNSEED}, {"R", 1, 0, O_R}, {"label", 1, 0, O_LABEL}, {"tag", 1, 0, O_TAG}, {"version", 0, 0, 'v'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c, seed;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_CSV: o->csv = optarg; break;
        case O_DB: o->db_path = optarg; break;
        case O_SWEEP: o->sweep = optarg; break;
        case O_LAW: o->law = optarg; break;
        case O_DROP: if (parse_count("--drop-top-loss", optarg, 0, &o->drop_top_loss)) return 2; break;
        case O_JSON: o->json_path = optarg; break;
        case O_STORE: o->store = optarg; break;
        case O_NOSTORE: no_store = 1; break;
        case O_PLOTS: o->plots_dir = optarg; break;
        case O_PREFIX: o->plot_prefix = optarg; break;
        case O_NOPLOTS: o->no_plots = 1; break;
        case O_BOOT: if (parse_count("--bootstrap", optarg, 0, &o->est.n_boot)) return 2; break;
        case O_SEED: if (parse_count("--seed", optarg, 0, &seed)) return 2; o->est.seed = (unsigned long)seed; break;
        case O_OFFSETS: o->offsets = 1; break;
        case O_FAMILY: family = optarg; break;
        case O_LOSS: loss = optarg; break;
        case O_VOCAB: if (parse_count("--vocab", optarg, 2, &o->vocab)) return 2; break;
        case O_SEQ: if (parse_count("--seq-len", optarg, 2, &o->seq_len)) return 2; break;
        case O_CHECK: o->check_reference = 1; break;
        case O_QUIET: quiet = 1; break;
        case O_NOLOBO: o->no_lobo = 1; break;
        case O_MAXSTARTS: if (parse_count("--max-starts", optarg, 1, &o->max_starts)) return 2; break;
        case O_LR:
            errno = 0;
            o->select.lr = strtod(optarg, &end);
            if (*end || errno || !(o->select.lr > 0) || !isfinite(o->select.lr)) {
                fprintf(stderr, "dlcm-fit: --lr needs a positive number (got %s)\n", optarg);
                return 2;
            }
            break;
        case O_RUNSEED: if (parse_count("--run-seed", optarg, 0, &seed)) return 2; o->select.seed = seed; break;
        case O_R: R = optarg; break;
        case O_LABEL: o->label = optarg; break;
        case O_TAG: o->select.tag = optarg; break;
        case 'h': usage(stdout); return 1;
        case 'v': cli_print_version(stdout, "dlcm-fit"); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) { fprintf(stderr, "dlcm-fit: unexpected argument %s\n", argv[optind]); return 2; }
    o->est.progress = !quiet;
    if (!o->law || (strcmp(o->law, "chinchilla") && strcmp(o->law, "dlcm"))) {
        fprintf(stderr, "dlcm-fit: --law chinchilla|dlcm is required\n");
        return 2;
    }
    if (!!o->csv + !!o->db_path != 1 || (o->db_path && !o->sweep)) {
        fprintf(stderr, "dlcm-fit: give either --csv FILE or --db FILE --sweep NAME\n");
        return 2;
    }
    if (strcmp(loss, "val") && strcmp(loss, "train")) { fprintf(stderr, "dlcm-fit: --loss val|train\n"); return 2; }
    o->use_train_loss = !strcmp(loss, "train");
    if (strcmp(R, "eval") && strcmp(R, "target")) { fprintf(stderr, "dlcm-fit: --R eval|target\n"); return 2; }
    o->select.R_source = !strcmp(R, "eval") ? R_SOURCE_EVAL : R_SOURCE_TARGET;
    if (o->csv && (o->select.lr > 0 || o->select.seed >= 0 || o->select.tag)) {
        fprintf(stderr, "dlcm-fit: --lr, --run-seed and --tag select runs of a sweep (a CSV has no such columns)\n");
        return 2;
    }
    if (!family) family = !strcmp(o->law, "chinchilla") ? "dense" : "all";
    if (strcmp(family, "dense") && strcmp(family, "dlcm") && strcmp(family, "all")) {
        fprintf(stderr, "dlcm-fit: --family dense|dlcm|all\n");
        return 2;
    }
    o->select.family = strcmp(family, "all") ? family : NULL;
    if (!o->store && o->db_path && !no_store) o->store = o->db_path;
    if (no_store) o->store = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "decay")) return decay_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "mup")) return mup_main(argc - 1, argv + 1);
    LawFitOptions o;
    int rc = parse_options(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : 2;
    return law_fit_run(&o);
}
