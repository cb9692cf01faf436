/* tests/test_bench_cli.c: dlcm-bench's options on a machine without a GPU: the default shapes
 * are used unless --d-t etc. are given, and --meta-only writes the tensor table from the CPU. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/run_program.h"

#define BENCH "build/bench/dlcm-bench"

static char dir[64], out_path[96], err_path[96];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/dlcm-test-bench-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
    snprintf(err_path, sizeof err_path, "%s/err.txt", dir);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t got = f ? fread(buf, 1, n - 1, f) : 0;
    buf[got] = '\0';
    if (f) fclose(f);
}

TestSuite(bench_cli, .init = make_dir, .fini = remove_dir);

/* Options not given must be off: an unset shape field once made the named size a garbage
 * "custom" shape, and an unset --meta-only stopped runs that never asked for it. */
Test(bench_cli, a_named_size_writes_its_own_shape_with_meta_only)
{
    char *argv[] = {BENCH, "--family", "dlcm", "--size", "tiny", "--meta-only", "1", "--meta-dir", dir, NULL};
    int rc = wait_program(start_program(argv, out_path, err_path));
    char err[4096], meta[1 << 16], path[128];
    slurp(err_path, err, sizeof err);
    cr_assert_eq(rc, 0, "dlcm-bench exited %d: %s", rc, err);
    snprintf(path, sizeof path, "%s/dlcm-tiny.json", dir);
    slurp(path, meta, sizeof meta);
    cr_assert_not_null(strstr(meta, "\"d_t\": 128"), "the tiny size's d_t is not in %s: %.300s", path, meta);
    cr_assert_not_null(strstr(meta, "\"family\": \"dlcm\""));
}

Test(bench_cli, without_a_gpu_a_timed_run_says_so_rather_than_misreading_its_options)
{
    if (access("/dev/nvidia0", F_OK) == 0) cr_skip_test("a GPU is present: this checks the no-GPU message");
    char *argv[] = {BENCH, "--family", "dlcm", "--size", "tiny", "--concept-bucket", "64", "--warmup", "1",
                    "--steps", "1", NULL};
    int rc = wait_program(start_program(argv, out_path, err_path));
    char err[4096];
    slurp(err_path, err, sizeof err);
    cr_assert_neq(rc, 0);
    cr_assert_not_null(strstr(err, "no CUDA GPU"), "unexpected message: %s", err);
}

Test(bench_cli, meta_only_without_a_folder_is_refused)
{
    char *argv[] = {BENCH, "--size", "tiny", "--meta-only", "1", NULL};
    int rc = wait_program(start_program(argv, out_path, err_path));
    char err[4096];
    slurp(err_path, err, sizeof err);
    cr_assert_neq(rc, 0);
    cr_assert_not_null(strstr(err, "--meta-only needs --meta-dir"), "unexpected message: %s", err);
}
