/* sweep/args.h: dlcm-sweep's command line: the options of every subcommand (getopt_long, so
 * `--opt value` and `--opt=value`), each subcommand's help text, and the exit codes. */
#ifndef DLCM_SWEEP_ARGS_H
#define DLCM_SWEEP_ARGS_H

#include "cli/cli.h"

/* Exit codes: 0 success, 1 some runs failed (or a runtime error), 2 bad input; a sweep stopped by
 * a signal exits 130 (its runs resume on the next `run`). */
#define SWEEP_EXIT_FAILED CLI_EXIT_FAILURE
#define SWEEP_EXIT_BAD CLI_EXIT_BAD_INPUT
#define SWEEP_EXIT_INTERRUPTED 130
#define SWEEP_EXIT_DEADLINE 3 /* stopped at --deadline with runs left; they run on the next `run` */

typedef struct {
    const char *command, *file, *db_path, *runs_dir, *trainer, *sweep_name, *gpus, *backend, *output;
    const char *partition, *time_limit, *tags, *note;
    const char *positional[64]; /* arguments after the command (file, run ids) */
    int n_positional;
    int csv, json, quiet, list_runs, no_run, new_version, extend, no_check;
    double gpu_mem_gib, heartbeat_s, stale_after_s, poll_s, status_every_s, deadline_s, stop_grace_s;
    int max_per_gpu; /* 0: automatic */
    int cpu_workers, max_attempts, gpus_per_task, cpus_per_task, max_parallel;
    int no_mps; /* --mps off */
} Args;

/* Parses argv (argv[1] is the command). Returns -1 when the process should exit with *exit_code
 * (help printed: 0; bad input: 2, with a message), else 0. */
int sweep_parse_args(int argc, char **argv, Args *a, int *exit_code);

/* The global usage (every command, one line each). */
void sweep_print_usage(FILE *f);

#endif
