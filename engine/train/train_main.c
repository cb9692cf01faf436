/* engine/train/train_main.c: dlcm-train, the command line of a training run: reads the YAML
 * config, applies flag overrides, resolves it and hands it to train_run (trainer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/ops.h"
#include "engine/train/config.h"
#include "engine/train/trainer.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: dlcm-train [CONFIG.yaml] [options]\n"
        "\n"
        "Trains a dense or DLCM model from a run config (YAML: sections run, data, model, optim,\n"
        "schedule, train, log, eval, checkpoint). The checkpoint, the database and the resolved\n"
        "config go to the run directory (run.out). A run directory that holds a checkpoint is\n"
        "resumed, bit-identically to an uninterrupted run.\n"
        "\n"
        "options:\n"
        "  --set KEY=VALUE     override a config key (repeatable; applied after the file, in order)\n"
        "  --KEY VALUE         the same for any KEY below, e.g. --model.d_t 256 or --optim.lr=3e-3\n"
        "  --out DIR           run directory (run.out)\n"
        "  --run-id ID         run id (run.id); default: hash of the resolved config and engine\n"
        "  --steps N           train.steps      --tokens N   train.tokens\n"
        "  --seed N            run.seed         --lr X       optim.lr (every group)\n"
        "  --device cpu|cuda   run.device       --precision fp32|bf16\n"
        "  --db FILE           database to write (default OUT/" TRAIN_RUN_DB_NAME ")\n"
        "  --resume            require a checkpoint in OUT (otherwise one is used when present)\n"
        "  --stop-at-step N    checkpoint and stop after step N (resumable; for tests)\n"
        "  --task-limit N      held-out task items scored per task after training (default: 100 on a\n"
        "                      GPU, none on the CPU; 0: none)\n"
        "  --print-config      print the resolved config and exit\n"
        "  --print-run-id      print the run id and exit\n"
        "  --quiet             no progress lines\n"
        "  --help              this text\n"
        "  --version           the program's version (source commit)\n"
        "\n"
        "exit codes:\n"
        "  0    done (or stopped by --stop-at-step, resumable)\n"
        "  1    runtime failure (I/O, database, backend); status 'failed'\n"
        "  2    bad input: config, flags, data shards or checkpoint (message names file, line, key)\n"
        "  3    diverged: loss not finite or above the initial loss; status 'diverged'\n"
        "  75   another dlcm-train is running in the run directory: nothing was done\n"
        "  130  SIGINT, 143 SIGTERM: the current step finished, checkpoint written, status\n"
        "       'queued' (resumable: run the same command again)\n"
        "\n"
        "config keys (section.key, type, default, meaning):\n");
    config_print_keys(f);
}

/* Flags that are short names of config keys. */
static const char *shortcut_key(const char *flag)
{
    static const char *const map[][2] = {
        {"--out", "run.out"},       {"--run-id", "run.id"},   {"--steps", "train.steps"},
        {"--tokens", "train.tokens"}, {"--seed", "run.seed"}, {"--lr", "optim.lr"},
        {"--device", "run.device"}, {"--precision", "run.precision"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(flag, map[i][0]) == 0) return map[i][1];
    return NULL;
}

/* A config override from the command line; owned is what it allocated (freed at exit). */
typedef struct {
    const char *key;
    const char *value;
    const char *origin;
    char *owned;
} Override;

typedef struct {
    const char *config_path;
    TrainOptions opt;
    int print_config, print_id, help, version;
    Override *overrides;
    int n_over;
} Args;

static void args_free(Args *a)
{
    for (int i = 0; a->overrides && i < a->n_over; i++) free(a->overrides[i].owned);
    free(a->overrides);
    a->overrides = NULL;
}

/* Reads the command line into a; 0, or an exit code (the message printed). */
static int parse_args(int argc, char **argv, Args *a)
{
    memset(a, 0, sizeof *a);
    a->overrides = calloc((size_t)argc, sizeof *a->overrides);
    if (!a->overrides) return TRAIN_EXIT_ERROR;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = 1;
            return 0;
        } else if (strcmp(arg, "--version") == 0) {
            a->version = 1;
            return 0;
        } else if (strcmp(arg, "--resume") == 0) {
            a->opt.require_resume = 1;
        } else if (strcmp(arg, "--quiet") == 0) {
            a->opt.quiet = 1;
        } else if (strcmp(arg, "--print-config") == 0) {
            a->print_config = 1;
        } else if (strcmp(arg, "--print-run-id") == 0) {
            a->print_id = 1;
        } else if (strcmp(arg, "--db") == 0 || strcmp(arg, "--stop-at-step") == 0 || strcmp(arg, "--set") == 0 ||
                   strcmp(arg, "--task-limit") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "dlcm-train: %s needs a value (see --help)\n", arg);
                return TRAIN_EXIT_BAD_INPUT;
            }
            const char *v = argv[++i];
            if (strcmp(arg, "--db") == 0) {
                a->opt.db_path = v;
            } else if (strcmp(arg, "--stop-at-step") == 0) {
                char *end;
                a->opt.stop_at_step = strtoll(v, &end, 10);
                if (*end || a->opt.stop_at_step <= 0) {
                    fprintf(stderr, "dlcm-train: --stop-at-step: expected a positive integer, got '%s'\n", v);
                    return TRAIN_EXIT_BAD_INPUT;
                }
            } else if (strcmp(arg, "--task-limit") == 0) {
                char *end;
                long long limit = strtoll(v, &end, 10);
                if (*end || end == v || limit < 0 || limit > (1LL << 30)) {
                    fprintf(stderr, "dlcm-train: --task-limit: expected an integer >= 0, got '%s'\n", v);
                    return TRAIN_EXIT_BAD_INPUT;
                }
                a->opt.task_limit = limit == 0 ? -1 : (long)limit;
            } else {
                const char *eq = strchr(v, '=');
                if (!eq || eq == v) {
                    fprintf(stderr, "dlcm-train: --set %s: expected KEY=VALUE\n", v);
                    return TRAIN_EXIT_BAD_INPUT;
                }
                char *k = strndup(v, (size_t)(eq - v));
                if (!k) return TRAIN_EXIT_ERROR;
                a->overrides[a->n_over++] = (Override){k, eq + 1, "--set", k};
            }
        } else if (strncmp(arg, "--", 2) == 0) {
            /* --KEY VALUE, --KEY=VALUE, or a shortcut */
            char *name = strdup(arg);
            if (!name) return TRAIN_EXIT_ERROR;
            a->overrides[a->n_over].owned = name; /* freed with the others, even on an error below */
            a->n_over++;
            char *eq = strchr(name, '=');
            const char *value = NULL;
            if (eq) {
                *eq = '\0';
                value = eq + 1;
            }
            const char *key = shortcut_key(name);
            if (!key && strchr(name + 2, '.')) key = name + 2;
            if (!key) {
                fprintf(stderr, "dlcm-train: unknown option %s (see --help)\n", arg);
                return TRAIN_EXIT_BAD_INPUT;
            }
            if (!value) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "dlcm-train: %s needs a value (see --help)\n", arg);
                    return TRAIN_EXIT_BAD_INPUT;
                }
                value = argv[++i];
            }
            a->overrides[a->n_over - 1] = (Override){key, value, name, name};
        } else if (!a->config_path) {
            a->config_path = arg;
        } else {
            fprintf(stderr, "dlcm-train: more than one config file (%s, %s)\n", a->config_path, arg);
            return TRAIN_EXIT_BAD_INPUT;
        }
    }
    return 0;
}

/* The resolved config: defaults, the file, the overrides in order, then the derived values.
 * 0, or an exit code (the message printed). */
static int build_config(const Args *a, TrainConfig *cfg)
{
    char err[1024];
    *cfg = train_config_default();
    /* The GPU when this build has CUDA and a device is present, else the CPU (run.device is where
     * a run trains, not part of its id). */
    cfg->device = backend_cuda_available() ? DEVICE_CUDA : DEVICE_CPU;
    ConfigSources *src = config_sources_create();
    if (!src) return TRAIN_EXIT_ERROR;
    int rc = 0;
    if (a->config_path && config_load_yaml(cfg, src, a->config_path, err, sizeof err)) rc = TRAIN_EXIT_BAD_INPUT;
    for (int i = 0; !rc && i < a->n_over; i++)
        if (config_set_kv(cfg, src, a->overrides[i].key, a->overrides[i].value, a->overrides[i].origin, err, sizeof err))
            rc = TRAIN_EXIT_BAD_INPUT;
    if (!rc && config_resolve(cfg, src, err, sizeof err)) rc = TRAIN_EXIT_BAD_INPUT;
    if (rc) fprintf(stderr, "dlcm-train: %s\n", err);
    config_sources_destroy(src);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        /* Training a default model by accident costs time: say what to give instead. */
        usage(stderr);
        return TRAIN_EXIT_BAD_INPUT;
    }
    Args a;
    int rc = parse_args(argc, argv, &a);
    if (rc || a.help || a.version) {
        if (!rc && a.help) usage(stdout);
        if (!rc && a.version) cli_print_version(stdout, "dlcm-train");
        args_free(&a);
        return rc;
    }
    TrainConfig cfg;
    rc = build_config(&a, &cfg);
    if (!rc && (a.print_config || a.print_id)) {
        if (a.print_id) printf("%s\n", cfg.id);
        if (a.print_config) {
            char *text = config_canonical(&cfg);
            fputs(text, stdout);
            free(text);
        }
    } else if (!rc) {
        /* Progress lines are read live by people and by schedulers that tail the output. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        rc = train_run(&cfg, &a.opt);
    }
    args_free(&a);
    return rc;
}
