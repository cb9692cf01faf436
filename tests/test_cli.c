/* tests/test_cli.c: the command-line convention of dlcm-sweep, dlcm-score, dlcm-data and
 * dlcm-train: --version with the commit, --help per subcommand, exit 0 / 1 / 2, a usage and exit 2
 * when the required input is missing, and `--opt=value` accepted wherever `--opt value` is. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/run_program.h"

static char out_path[64], err_path[64], out_text[16384], err_text[16384];

static void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t got = f ? fread(buf, 1, n - 1, f) : 0;
    buf[got] = '\0';
    if (f) fclose(f);
}

/* Runs bin/PROGRAM with the arguments (NULL-terminated); the exit code, output in out_text and
 * err_text. */
static int run(const char *program, ...)
{
    char *argv[32], path[128];
    snprintf(path, sizeof path, "bin/%s", program);
    argv[0] = path;
    int n = 1;
    va_list ap;
    va_start(ap, program);
    for (const char *a; n < 31 && (a = va_arg(ap, const char *)) != NULL;) argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    snprintf(out_path, sizeof out_path, "/tmp/dlcm-test-cli-%d.out", (int)getpid());
    snprintf(err_path, sizeof err_path, "/tmp/dlcm-test-cli-%d.err", (int)getpid());
    int rc = run_program(argv, out_path, err_path);
    slurp(out_path, out_text, sizeof out_text);
    slurp(err_path, err_text, sizeof err_text);
    unlink(out_path);
    unlink(err_path);
    return rc;
}

Test(cli, every_program_prints_its_version_with_the_commit)
{
    const char *programs[] = {"dlcm-sweep", "dlcm-score", "dlcm-data", "dlcm-train"};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(run(programs[i], "--version", NULL), 0, "%s", programs[i]);
        cr_assert(strstr(out_text, programs[i]) != NULL && strstr(out_text, "(dlcm) ") != NULL, "%s", out_text);
        /* A commit (hex digits) or "unknown" outside a git checkout. */
        const char *commit = strstr(out_text, "(dlcm) ") + 7;
        cr_assert(strspn(commit, "0123456789abcdef") >= 7 || strncmp(commit, "unknown", 7) == 0, "%s", out_text);
    }
}

Test(cli, missing_required_input_prints_the_usage_and_exits_2)
{
    const char *programs[] = {"dlcm-sweep", "dlcm-score", "dlcm-data", "dlcm-train"};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(run(programs[i], NULL), 2, "%s with no arguments", programs[i]);
        cr_assert(strstr(err_text, "usage:") != NULL, "%s: %s", programs[i], err_text);
    }
    cr_assert_eq(run("dlcm-sweep", "plan", NULL), 2);
    cr_assert(strstr(err_text, "usage: dlcm-sweep plan") != NULL, "%s", err_text);
    cr_assert_eq(run("dlcm-sweep", "show", NULL), 2);
    cr_assert_eq(run("dlcm-score", "only-a-checkpoint", NULL), 2);
}

Test(cli, help_is_per_subcommand_and_unknown_commands_fail_even_with_help)
{
    cr_assert_eq(run("dlcm-sweep", "plan", "--help", NULL), 0);
    cr_assert(strncmp(out_text, "usage: dlcm-sweep plan", 22) == 0, "%s", out_text);
    cr_assert(strstr(out_text, "usage: dlcm-sweep run") == NULL, "plan's help only");
    cr_assert_eq(run("dlcm-sweep", "run", "--help", NULL), 0);
    cr_assert(strstr(out_text, "--new-version") != NULL && strstr(out_text, "--cpu-workers") != NULL, "%s", out_text);
    cr_assert_eq(run("dlcm-sweep", "cancel", "--help", NULL), 0);
    cr_assert(strncmp(out_text, "usage: dlcm-sweep cancel", 24) == 0, "%s", out_text);
    cr_assert_eq(run("dlcm-sweep", "cancle", "--help", NULL), 2);
    cr_assert(strstr(err_text, "unknown command 'cancle'") != NULL, "%s", err_text);
    cr_assert_eq(run("dlcm-data", "bild", "--help", NULL), 2);
    cr_assert_eq(run("dlcm-sweep", "--help", NULL), 0);
    cr_assert_eq(run("dlcm-data", "--help", NULL), 0);
    cr_assert_eq(run("dlcm-score", "--help", NULL), 0);
    cr_assert_eq(run("dlcm-train", "--help", NULL), 0);
}

Test(cli, bad_options_exit_2_and_opt_equals_value_is_accepted)
{
    /* An option another subcommand takes is refused by this one. */
    cr_assert_eq(run("dlcm-sweep", "plan", "configs/sweep-demo.yaml", "--gpus", "0", NULL), 2);
    cr_assert(strstr(err_text, "--gpus is not an option of plan") != NULL, "%s", err_text);
    cr_assert_eq(run("dlcm-sweep", "status", "--bogus", NULL), 2);
    cr_assert_eq(run("dlcm-sweep", "status", "--db", NULL), 2);
    cr_assert(strstr(err_text, "needs a value") != NULL, "%s", err_text);
    /* --opt=value reaches the option: the database named is the one reported missing. */
    cr_assert_eq(run("dlcm-sweep", "status", "--db=/nonexistent/x.sqlite", NULL), 2);
    cr_assert(strstr(err_text, "/nonexistent/x.sqlite: no such database") != NULL, "%s", err_text);
    cr_assert_eq(run("dlcm-sweep", "run", "configs/sweep-demo.yaml", "--cpu-workers=zero", NULL), 2);
    cr_assert(strstr(err_text, "--cpu-workers") != NULL, "%s", err_text);
    cr_assert_eq(run("dlcm-sweep", "plan", "--csv", "configs/sweep-demo.yaml", "--db=/nonexistent/x.sqlite", NULL), 0);
    cr_assert(strncmp(out_text, "id,family", 9) == 0, "options before and after the file: %s", out_text);

    cr_assert_eq(run("dlcm-score", "ckpt", "text", "--limit=0", NULL), 2);
    cr_assert(strstr(err_text, "--limit") != NULL, "%s", err_text);
    cr_assert_eq(run("dlcm-score", "/nonexistent/checkpoint.bin", "--task=/nonexistent/t.jsonl", NULL), 2);
    cr_assert(strstr(err_text, "/nonexistent/checkpoint.bin") != NULL, "%s", err_text);
    cr_assert_eq(run("dlcm-score", "--bogus", NULL), 2);

    cr_assert_eq(run("dlcm-data", "report", "--jobs=99", NULL), 2);
    cr_assert(strstr(err_text, "--jobs") != NULL, "%s", err_text);
    cr_assert_eq(run("dlcm-data", "report", "--manifest=/nonexistent/sources.tsv", NULL), 2);
    cr_assert(strstr(err_text, "/nonexistent/sources.tsv") != NULL, "the --manifest=value was used: %s", err_text);
    cr_assert_eq(run("dlcm-data", "report", "--bogus", NULL), 2);

    cr_assert_eq(run("dlcm-train", "configs/tiny-dense.yaml", "--model.d_t=100", "--print-config", NULL), 2);
    cr_assert_eq(run("dlcm-train", "configs/tiny-dense.yaml", "--model.d_t=128", "--print-run-id", NULL), 0);
}
