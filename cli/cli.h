/* cli/cli.h: the command-line convention every dlcm program follows: exit codes, --version with
 * the commit the binary was built from, and checked number parsing for option values. */
#ifndef DLCM_CLI_CLI_H
#define DLCM_CLI_CLI_H

#include <stdint.h>
#include <stdio.h>

/* Exit codes shared by every program. A program may document further verdict codes above 2. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1   /* the work ran and failed (a run failed, a write failed) */
#define CLI_EXIT_BAD_INPUT 2 /* bad arguments, files or configs: nothing was changed */

/* The source commit the binary was built from ("unknown" outside a git checkout), with
 * "-dirty" when the tree had uncommitted changes. */
const char *cli_commit(void);

/* Prints "PROGRAM (dlcm) COMMIT" to f. */
void cli_print_version(FILE *f, const char *program);

/* Option values: a number >= lo (a finite double), or an integer in [lo, hi]. On failure they print
 * "PROGRAM: FLAG needs ..." to stderr and return -1. */
int cli_parse_double(const char *program, const char *flag, const char *text, double lo, double *out);
int cli_parse_int(const char *program, const char *flag, const char *text, long long lo, long long hi,
                  long long *out);


#endif
