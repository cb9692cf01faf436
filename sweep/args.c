/* sweep/args.c: dlcm-sweep's options (getopt_long over one table; each subcommand accepts its own
 * subset) and the help of each subcommand. */
#include "sweep/args.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char run_options_help[] =
    "run options:\n"
    "  --runs-dir DIR       run directories (default: runs/ beside the database)\n"
    "  --trainer PATH       the trainer (default: dlcm-train beside this program)\n"
    "  --backend local|slurm (default local)\n"
    "  --gpus LIST          GPU indices, e.g. 0,1,3; 'all' (default: those nvidia-smi lists) or\n"
    "                       'none' (CPU backend)\n"
    "  --gpu-mem GIB        memory per GPU for packing (default: from nvidia-smi)\n"
    "  --max-per-gpu N|auto runs packed on one GPU at most. auto (the default) chooses per run: up\n"
    "                       to 8 while their estimated memory fits, fewer for runs whose optimizer\n"
    "                       steps keep the GPU busy alone (1e13 FLOPs a step) and for long runs\n"
    "                       (each should end within 240 s at its share of 25 TFLOP/s: a 3e15-FLOP\n"
    "                       run packs 2); the choice and its reason are printed\n"
    "  --mps on|off         CUDA MPS daemon while runs are packed on a GPU (default on)\n"
    "  --cpu-workers N      concurrent runs on a CPU-only machine (default 1)\n"
    "  --heartbeat S        seconds between heartbeats and live-progress copies (default 5)\n"
    "  --stale-after S      requeue a running run not heard of for S seconds (default 60;\n"
    "                       Slurm: 120)\n"
    "  --max-attempts N     launches per run before it stays failed (default: the sweep's, 3)\n"
    "  --deadline S         stop cleanly S seconds after the start: trainers checkpoint and their\n"
    "                       runs go back to the queue (exit 3); no run is started that cannot end\n"
    "                       before it at its share of the aggregate FLOP/s measured on the GPU\n"
    "                       (before that: of what finished runs in the database reached)\n"
    "  --stop-grace S       at the deadline, seconds a trainer gets to checkpoint and exit before\n"
    "                       it is killed (default 30; it resumes from its last checkpoint)\n"
    "  --quiet              no status line\n"
    "  --status-every S     without a terminal, a status line (progress, throughput, ETA) every S\n"
    "                       seconds (default 30)\n"
    "  slurm: --partition P  --time T  --gpus-per-task N (default 1 with GPUs, else 0)\n"
    "         --cpus-per-task N  --max-parallel N  --poll S (default 5)\n";

typedef struct {
    const char *name, *synopsis, *help, *options; /* options: the long names it takes, space-separated */
    int run_options;
} Command;

static const Command commands[] = {
    {"plan", "plan FILE [--csv | --json] [--extend] [--db DB]",
     "Prints the expanded runs: id, family, shape, N, P, R, FLOPs per token (inference and training),\n"
     "tokens D, steps, realized budget and its deviation, and the estimated time of each run and of\n"
     "the sweep when the database holds measured throughput. Checks the file and what the runs need\n"
     "(corpus shards, tokenizer, vocabulary) and flags what is missing; writes nothing. --extend\n"
     "also says what `run --extend` would do: the runs it would add, or those it would refuse (exit 2).\n",
     "csv json extend db no-check", 0},
    {"preflight", "preflight FILE",
     "Checks a sweep file as `run` would before launching, and launches nothing: the plan (shapes,\n"
     "budgets, warm-up, pairs), every run's epochs against max_epochs, and the corpus shards,\n"
     "tokenizer and vocabulary each run needs. Prints the total training FLOPs and the device time\n"
     "they take at 12, 25 and 50 TFLOP/s. Exit 0 when `run` would launch the sweep, 2 otherwise.\n",
     "", 0},
    {"run", "run FILE [--new-version | --extend] [--tag T,...] [--note TEXT] [run options]",
     "Records the sweep and its runs in the database, then executes them. Completed runs are\n"
     "skipped; interrupted ones resume from their checkpoints. Before launching, every run's corpus\n"
     "shards, tokenizer and vocabulary are checked (--no-check skips it). A sweep file whose\n"
     "settings differ from the ones recorded under its name is refused with the differences; with\n"
     "--new-version it becomes the next version of the sweep (NAME.v2, ...), with runs of its own.\n"
     "With --extend a file that only adds runs (every run of the latest version planned with the\n"
     "same id) extends that version: its settings become the file's (the replaced ones are kept in\n"
     "the database), only the new runs are queued, and finished runs keep their status and data; a\n"
     "file that drops or changes a run is refused, naming the runs.\n",
     "new-version extend tag note no-check db", 1},
    {"status", "status [--sweep NAME] [--runs] [--json]",
     "Counts per status and progress; --runs lists every run with its lr, seed, steps done, loss and\n"
     "the trainer's own error message. Without --sweep on a database of several sweeps, lists them.\n",
     "sweep runs json db", 0},
    {"show", "show RUN [--db DB]",
     "Prints one run (an id or a unique prefix of one): its settings and provenance, status, curve\n"
     "summary and the tail of its stderr.\n",
     "db", 0},
    {"retry", "retry [--sweep NAME] [--no-run] [run options]",
     "Requeues the failed runs (not diverged or cancelled ones) and executes them.\n",
     "sweep no-run db", 1},
    {"cancel", "cancel [--sweep NAME] [RUN ...]",
     "Cancels the sweep's queued and running runs (or only the runs named). A scheduler running\n"
     "them stops their trainers at its next poll; Slurm jobs are cancelled with scancel.\n",
     "sweep db", 0},
    {"tag", "tag [--sweep NAME] [RUN ...] [--tag T,...] [--note TEXT]",
     "Sets tags (comma-separated) and a note on the sweep, or on the runs named.\n",
     "sweep tag note db", 0},
    {"migrate", "migrate --db DB",
     "Brings a database of an older schema version to this program's (what every writing command\n"
     "does first), and changes nothing else: for a database only read so far (status, show,\n"
     "export, dlcm-report refuse an older version).\n",
     "db", 0},
    {"export", "export [--sweep NAME] [-o FILE]",
     "CSV of finished runs for dlcm-fit (N, D, loss, R, P, family, budget, ...).\n",
     "sweep output db", 0},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static const char sweep_file_help[] =
    "sweep file (YAML; see configs/sweep-*.yaml):\n"
    "  name, vocab, seq_len, batch_tokens (tokens per step), grad_accum (default 1)\n"
    "  budgets: [C, ...] training FLOPs (D = C / (3 F_fwd) in whole steps, within 1%), or\n"
    "  tokens: [D, ...] fixed training tokens\n"
    "  lr, seed, parametrization (mup | sp): a value or a list; max_attempts (default 3)\n"
    "  shape_rule: {concept_width_ratio, aspect, encoder_share, max_width} for derived shapes; every\n"
    "    DLCM needs n_dec >= 1 and d_c >= concept_width_ratio (> 1, default 2) x d_t, or is refused\n"
    "  inference_matched_dense: true adds, for each DLCM run, a dense run whose inference FLOPs per\n"
    "    token are within 2% of the DLCM's, on the same tokens; plan prints the pairs (a DLCM family\n"
    "    may set it for its own runs only)\n"
    "  allow_narrow_backbone: true lifts the width rule (never the decoder rule), for a muP check\n"
    "    that scales d_t alone under a fixed narrow backbone; such runs are not a study's DLCMs\n"
    "  max_epochs: passes over its training shard a run may make (default 4): a run planned beyond\n"
    "    it is refused, naming it and its epochs\n"
    "  families: a list; each has family (dense | dlcm) and either N (and P for dlcm), from which\n"
    "    the shape is derived, or d_t, n_layers (dense) / d_t, d_c or d_c_ratio, n_enc, n_con,\n"
    "    n_dec (dlcm); R (dlcm); optional ffn_t, ffn_c; any of lr, seed, budgets, tokens,\n"
    "    parametrization to override the sweep's; trainer: settings of its own (after the sweep's);\n"
    "    inference_matched_dense (dlcm). Every key may be a list: the grid is their product.\n"
    "  trainer: dlcm-train settings given to every run (e.g. data.tokenizer, schedule.kind)\n";

void sweep_print_usage(FILE *f)
{
    fputs("usage: dlcm-sweep COMMAND [options]   (dlcm-sweep COMMAND --help for one command)\n\n"
          "Plans and runs compute-matched sweeps of dlcm and dense models (configs/sweep-*.yaml).\n\n"
          "commands:\n",
          f);
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %s\n", commands[i].synopsis);
    fputs("\noptions of every command: --db FILE (default results/dlcm.sqlite), --help, --version\n"
          "Options take their value as `--opt value` or `--opt=value`.\n\n",
          f);
    fputs(run_options_help, f);
    fputs("\n", f);
    fputs(sweep_file_help, f);
    fputs("\nexit status: 0 success (all runs done or diverged); 1 some runs failed, or a runtime error;\n"
          "2 bad input (arguments, sweep file, missing corpus), nothing changed; 3 stopped at --deadline\n"
          "with runs left; 130 interrupted (the runs resume on the next run).\n",
          f);
}

static void print_command_help(FILE *f, const Command *c)
{
    fprintf(f, "usage: dlcm-sweep %s\n\n%s\n--db FILE  the database (default results/dlcm.sqlite)\n", c->synopsis,
            c->help);
    if (c->run_options) fprintf(f, "\n%s", run_options_help);
    if (strcmp(c->name, "plan") == 0 || strcmp(c->name, "run") == 0 || strcmp(c->name, "preflight") == 0)
        fprintf(f, "\n%s", sweep_file_help);
}

enum {
    OPT_DB = 1000, OPT_RUNS_DIR, OPT_TRAINER, OPT_SWEEP, OPT_GPUS, OPT_BACKEND, OPT_PARTITION, OPT_TIME, OPT_GPU_MEM,
    OPT_HEARTBEAT, OPT_STALE, OPT_POLL, OPT_MAX_PER_GPU, OPT_MPS, OPT_CPU_WORKERS, OPT_MAX_ATTEMPTS, OPT_GPUS_PER_TASK,
    OPT_CPUS_PER_TASK, OPT_MAX_PARALLEL, OPT_CSV, OPT_JSON, OPT_QUIET, OPT_RUNS, OPT_NO_RUN, OPT_NEW_VERSION,
    OPT_EXTEND, OPT_NO_CHECK, OPT_TAG, OPT_NOTE, OPT_HELP, OPT_VERSION, OPT_STATUS_EVERY, OPT_DEADLINE, OPT_STOP_GRACE
};

static const struct option long_options[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"runs-dir", required_argument, NULL, OPT_RUNS_DIR},
    {"trainer", required_argument, NULL, OPT_TRAINER},
    {"sweep", required_argument, NULL, OPT_SWEEP},
    {"gpus", required_argument, NULL, OPT_GPUS},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"output", required_argument, NULL, 'o'},
    {"partition", required_argument, NULL, OPT_PARTITION},
    {"time", required_argument, NULL, OPT_TIME},
    {"gpu-mem", required_argument, NULL, OPT_GPU_MEM},
    {"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
    {"stale-after", required_argument, NULL, OPT_STALE},
    {"poll", required_argument, NULL, OPT_POLL},
    {"max-per-gpu", required_argument, NULL, OPT_MAX_PER_GPU},
    {"mps", required_argument, NULL, OPT_MPS},
    {"cpu-workers", required_argument, NULL, OPT_CPU_WORKERS},
    {"max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS},
    {"gpus-per-task", required_argument, NULL, OPT_GPUS_PER_TASK},
    {"cpus-per-task", required_argument, NULL, OPT_CPUS_PER_TASK},
    {"max-parallel", required_argument, NULL, OPT_MAX_PARALLEL},
    {"csv", no_argument, NULL, OPT_CSV},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"runs", no_argument, NULL, OPT_RUNS},
    {"no-run", no_argument, NULL, OPT_NO_RUN},
    {"new-version", no_argument, NULL, OPT_NEW_VERSION},
    {"extend", no_argument, NULL, OPT_EXTEND},
    {"no-check", no_argument, NULL, OPT_NO_CHECK},
    {"tag", required_argument, NULL, OPT_TAG},
    {"note", required_argument, NULL, OPT_NOTE},
    {"status-every", required_argument, NULL, OPT_STATUS_EVERY},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"stop-grace", required_argument, NULL, OPT_STOP_GRACE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char *const run_option_names =
    "runs-dir trainer backend gpus gpu-mem max-per-gpu mps cpu-workers heartbeat stale-after max-attempts quiet "
    "status-every deadline stop-grace "
    "partition time gpus-per-task cpus-per-task max-parallel poll";

/* Whether the word is in a space-separated list. */
static int in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

static const char *option_name(int code)
{
    for (const struct option *o = long_options; o->name; o++)
        if (o->val == code) return o->name;
    return "?";
}

static int set_int(const char *flag, const char *text, long long lo, int *out)
{
    long long v;
    if (cli_parse_int("dlcm-sweep", flag, text, lo, 1 << 30, &v)) return -1;
    *out = (int)v;
    return 0;
}

int sweep_parse_args(int argc, char **argv, Args *a, int *exit_code)
{
    memset(a, 0, sizeof *a);
    a->db_path = "results/dlcm.sqlite";
    a->backend = "local";
    a->max_per_gpu = 0; /* automatic */
    a->stop_grace_s = 30;
    a->cpu_workers = 1;
    a->heartbeat_s = 5;
    a->stale_after_s = -1;
    a->poll_s = 5;
    a->status_every_s = 30;
    a->gpus_per_task = -1;
    a->cpus_per_task = 1;
    *exit_code = SWEEP_EXIT_BAD;
    if (argc < 2) {
        sweep_print_usage(stderr);
        return -1;
    }
    const char *first = argv[1];
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0 || strcmp(first, "help") == 0) {
        sweep_print_usage(stdout);
        *exit_code = 0;
        return -1;
    }
    if (strcmp(first, "--version") == 0) {
        cli_print_version(stdout, "dlcm-sweep");
        *exit_code = 0;
        return -1;
    }
    const Command *c = NULL;
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, first) == 0) c = &commands[i];
    if (!c) {
        /* Even with --help: an unknown command is an error, never the global help and 0. */
        fprintf(stderr, "dlcm-sweep: unknown command '%s' (commands:", first);
        for (int i = 0; i < N_COMMANDS; i++) fprintf(stderr, " %s", commands[i].name);
        fprintf(stderr, "; see dlcm-sweep --help)\n");
        return -1;
    }
    a->command = c->name;
    optind = 2;
    opterr = 0;
    int code, bad = 0;
    const char *flag;
    for (;;) {
        /* Positional arguments may come before, between and after options. */
        while (optind < argc && (argv[optind][0] != '-' || argv[optind][1] == '\0')) {
            if (a->n_positional == 64) { fprintf(stderr, "dlcm-sweep: too many arguments\n"); return -1; }
            a->positional[a->n_positional++] = argv[optind++];
        }
        if (optind >= argc) break;
        if (strcmp(argv[optind], "--") == 0) {
            optind++;
            break;
        }
        code = getopt_long(argc, argv, "+:o:h", long_options, NULL);
        if (code == -1) break;
        if (code == '?' || code == ':') {
            const char *what = argv[optind - 1];
            fprintf(stderr, code == ':' ? "dlcm-sweep %s: %s needs a value (see dlcm-sweep %s --help)\n"
                                        : "dlcm-sweep %s: unknown option %s (see dlcm-sweep %s --help)\n",
                    c->name, what, c->name);
            return -1;
        }
        if (code == OPT_HELP || code == 'h') {
            print_command_help(stdout, c);
            *exit_code = 0;
            return -1;
        }
        if (code == OPT_VERSION) {
            cli_print_version(stdout, "dlcm-sweep");
            *exit_code = 0;
            return -1;
        }
        flag = code == 'o' ? "output" : option_name(code);
        if (!in_list(c->options, flag) && !(c->run_options && in_list(run_option_names, flag))) {
            fprintf(stderr, "dlcm-sweep %s: --%s is not an option of %s (see dlcm-sweep %s --help)\n", c->name, flag,
                    c->name, c->name);
            return -1;
        }
        char flagbuf[64];
        snprintf(flagbuf, sizeof flagbuf, "--%s", flag);
        switch (code) {
        case OPT_DB: a->db_path = optarg; break;
        case OPT_RUNS_DIR: a->runs_dir = optarg; break;
        case OPT_TRAINER: a->trainer = optarg; break;
        case OPT_SWEEP: a->sweep_name = optarg; break;
        case OPT_GPUS: a->gpus = optarg; break;
        case OPT_BACKEND: a->backend = optarg; break;
        case 'o': a->output = optarg; break;
        case OPT_PARTITION: a->partition = optarg; break;
        case OPT_TIME: a->time_limit = optarg; break;
        case OPT_TAG: a->tags = optarg; break;
        case OPT_NOTE: a->note = optarg; break;
        case OPT_GPU_MEM: bad = cli_parse_double("dlcm-sweep", flagbuf, optarg, 0.01, &a->gpu_mem_gib); break;
        case OPT_HEARTBEAT: bad = cli_parse_double("dlcm-sweep", flagbuf, optarg, 0.01, &a->heartbeat_s); break;
        case OPT_STALE: bad = cli_parse_double("dlcm-sweep", flagbuf, optarg, 0.05, &a->stale_after_s); break;
        case OPT_STATUS_EVERY: bad = cli_parse_double("dlcm-sweep", flagbuf, optarg, 0.05, &a->status_every_s); break;
        case OPT_POLL: bad = cli_parse_double("dlcm-sweep", flagbuf, optarg, 0.05, &a->poll_s); break;
        case OPT_MAX_PER_GPU:
            if (strcmp(optarg, "auto") == 0) a->max_per_gpu = 0;
            else bad = set_int(flagbuf, optarg, 1, &a->max_per_gpu);
            break;
        case OPT_DEADLINE: bad = cli_parse_double("dlcm-sweep", flagbuf, optarg, 1, &a->deadline_s); break;
        case OPT_STOP_GRACE: bad = cli_parse_double("dlcm-sweep", flagbuf, optarg, 0, &a->stop_grace_s); break;
        case OPT_MPS:
            bad = strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0;
            if (bad) fprintf(stderr, "dlcm-sweep: %s takes on or off (got '%s')\n", flagbuf, optarg);
            a->no_mps = strcmp(optarg, "off") == 0;
            break;
        case OPT_CPU_WORKERS: bad = set_int(flagbuf, optarg, 1, &a->cpu_workers); break;
        case OPT_MAX_ATTEMPTS: bad = set_int(flagbuf, optarg, 1, &a->max_attempts); break;
        case OPT_GPUS_PER_TASK: bad = set_int(flagbuf, optarg, 0, &a->gpus_per_task); break;
        case OPT_CPUS_PER_TASK: bad = set_int(flagbuf, optarg, 1, &a->cpus_per_task); break;
        case OPT_MAX_PARALLEL: bad = set_int(flagbuf, optarg, 0, &a->max_parallel); break;
        case OPT_CSV: a->csv = 1; break;
        case OPT_JSON: a->json = 1; break;
        case OPT_QUIET: a->quiet = 1; break;
        case OPT_RUNS: a->list_runs = 1; break;
        case OPT_NO_RUN: a->no_run = 1; break;
        case OPT_NEW_VERSION: a->new_version = 1; break;
        case OPT_EXTEND: a->extend = 1; break;
        case OPT_NO_CHECK: a->no_check = 1; break;
        }
        if (bad) return -1;
    }
    for (; optind < argc; optind++) {
        if (a->n_positional == 64) { fprintf(stderr, "dlcm-sweep: too many arguments\n"); return -1; }
        a->positional[a->n_positional++] = argv[optind];
    }
    int takes_file = strcmp(c->name, "plan") == 0 || strcmp(c->name, "run") == 0 || strcmp(c->name, "show") == 0 ||
                     strcmp(c->name, "preflight") == 0;
    int takes_runs = strcmp(c->name, "cancel") == 0 || strcmp(c->name, "tag") == 0;
    if (takes_file) {
        if (a->n_positional != 1) {
            fprintf(stderr, "dlcm-sweep %s: %s\nusage: dlcm-sweep %s\n", c->name,
                    a->n_positional ? "one argument expected" : (strcmp(c->name, "show") == 0 ? "which run?" : "which sweep file?"),
                    c->synopsis);
            return -1;
        }
        a->file = a->positional[0];
    } else if (!takes_runs && a->n_positional) {
        fprintf(stderr, "dlcm-sweep %s: unexpected argument %s\nusage: dlcm-sweep %s\n", c->name, a->positional[0],
                c->synopsis);
        return -1;
    }
    if (strcmp(a->backend, "local") && strcmp(a->backend, "slurm")) {
        fprintf(stderr, "dlcm-sweep: --backend is local or slurm (got '%s')\n", a->backend);
        return -1;
    }
    if (a->deadline_s > 0 && strcmp(a->backend, "local") != 0) {
        fprintf(stderr, "dlcm-sweep: --deadline is for the local backend (a Slurm job has its own --time)\n");
        return -1;
    }
    if (a->new_version && a->extend) {
        fprintf(stderr, "dlcm-sweep %s: --new-version (runs of its own) and --extend (runs added to the recorded "
                        "version) exclude each other\n", c->name);
        return -1;
    }
    if (a->csv && a->json) {
        fprintf(stderr, "dlcm-sweep %s: --csv and --json exclude each other\n", c->name);
        return -1;
    }
    return 0;
}
