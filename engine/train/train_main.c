/* engine/train/train_main.c: dlcm-train, the command line of a training run: reads the YAML
 * config, applies flag overrides, resolves it and hands it to train_run (trainer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
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
        "  --db FILE           database to write (default OUT/run.db)\n"
        "  --resume            require a checkpoint in OUT (otherwise one is used when present)\n"
        "  --stop-at-step N    checkpoint and stop after step N (resumable; for tests)\n"
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

typedef struct {
    const char *key;
    const char *value;
    const char *origin;
    char *owned; /* the copy key and origin point into, freed at exit */
} Override;

static int train_main(int argc, char **argv, Override *overrides);

int main(int argc, char **argv)
{
    Override *overrides = calloc((size_t)argc, sizeof *overrides);
    if (!overrides) return TRAIN_EXIT_ERROR;
    int code = train_main(argc, argv, overrides);
    for (int i = 0; i < argc; i++) free(overrides[i].owned);
    free(overrides);
    return code;
}

/* main without the cleanup: every return leaves only overrides[] to free. */
static int train_main(int argc, char **argv, Override *overrides)
{
    const char *config_path = NULL;
    TrainOptions opt = {0};
    int print_config = 0, print_id = 0;
    int n_over = 0;

    if (argc < 2) {
        /* Training a default model by accident costs time: say what to give instead. */
        usage(stderr);
        return TRAIN_EXIT_BAD_INPUT;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *key = NULL;
        char *inline_value = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            cli_print_version(stdout, "dlcm-train");
            return 0;
        } else if (strcmp(a, "--resume") == 0) {
            opt.require_resume = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            opt.quiet = 1;
        } else if (strcmp(a, "--print-config") == 0) {
            print_config = 1;
        } else if (strcmp(a, "--print-run-id") == 0) {
            print_id = 1;
        } else if (strcmp(a, "--db") == 0 || strcmp(a, "--stop-at-step") == 0 || strcmp(a, "--set") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "dlcm-train: %s needs a value (see --help)\n", a);
                return TRAIN_EXIT_BAD_INPUT;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--db") == 0) {
                opt.db_path = v;
            } else if (strcmp(a, "--stop-at-step") == 0) {
                char *end;
                opt.stop_at_step = strtoll(v, &end, 10);
                if (*end || opt.stop_at_step <= 0) {
                    fprintf(stderr, "dlcm-train: --stop-at-step: expected a positive integer, got '%s'\n", v);
                    return TRAIN_EXIT_BAD_INPUT;
                }
            } else {
                const char *eq = strchr(v, '=');
                if (!eq || eq == v) {
                    fprintf(stderr, "dlcm-train: --set %s: expected KEY=VALUE\n", v);
                    return TRAIN_EXIT_BAD_INPUT;
                }
                char *k = strndup(v, (size_t)(eq - v));
                if (!k) return TRAIN_EXIT_ERROR;
                overrides[n_over++] = (Override){k, eq + 1, "--set", k};
            }
        } else if (strncmp(a, "--", 2) == 0) {
            /* --KEY VALUE, --KEY=VALUE, or a shortcut */
            char *name = strdup(a);
            if (!name) return TRAIN_EXIT_ERROR;
            overrides[n_over].owned = name; /* freed at exit, whether or not the flag is kept */
            char *eq = strchr(name, '=');
            if (eq) {
                *eq = '\0';
                inline_value = eq + 1;
            }
            key = shortcut_key(name);
            if (!key && strchr(name + 2, '.')) key = name + 2;
            if (!key) {
                fprintf(stderr, "dlcm-train: unknown option %s (see --help)\n", a);
                return TRAIN_EXIT_BAD_INPUT;
            }
            const char *value = inline_value;
            if (!value) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "dlcm-train: %s needs a value (see --help)\n", a);
                    return TRAIN_EXIT_BAD_INPUT;
                }
                value = argv[++i];
            }
            overrides[n_over++] = (Override){key, value, name, name};
        } else if (!config_path) {
            config_path = a;
        } else {
            fprintf(stderr, "dlcm-train: more than one config file (%s, %s)\n", config_path, a);
            return TRAIN_EXIT_BAD_INPUT;
        }
    }

    char err[1024];
    TrainConfig cfg = train_config_default();
    ConfigSources *src = config_sources_create();
    if (!src) return TRAIN_EXIT_ERROR;
    int bad = config_path && config_load_yaml(&cfg, src, config_path, err, sizeof err);
    for (int i = 0; i < n_over && !bad; i++)
        bad = config_set_kv(&cfg, src, overrides[i].key, overrides[i].value, overrides[i].origin, err, sizeof err);
    if (!bad) bad = config_resolve(&cfg, src, err, sizeof err);
    config_sources_destroy(src);
    if (bad) {
        fprintf(stderr, "dlcm-train: %s\n", err);
        return TRAIN_EXIT_BAD_INPUT;
    }
    if (print_config || print_id) {
        if (print_id) printf("%s\n", cfg.id);
        if (print_config) {
            char *text = config_canonical(&cfg);
            fputs(text, stdout);
            free(text);
        }
        return 0;
    }
    /* Progress lines are read live by people and by schedulers that tail the output. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    return train_run(&cfg, &opt);
}
