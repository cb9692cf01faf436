/* tests/test_sweep_mps.c: the MPS control daemon around a packed sweep (sweep/mps.c), with a
 * stand-in nvidia-cuda-mps-control on PATH that records how it was called: started with -d and
 * private directories that the trainers inherit, stopped with "quit"; absent or failing, the
 * sweep goes on time-sliced with a message and the environment as it was. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sweep/mps.h"
#include "tests/remove_tree.h"

typedef struct {
    char dir[64];      /* PATH holds only this directory */
    char record[128];  /* what the stand-in was asked */
} FakeControl;

/* A stand-in for nvidia-cuda-mps-control in a fresh directory, put alone on PATH; exit_code is
 * what it returns to -d; it creates and removes the pipe as the real daemon does. */
static void fake_control(FakeControl *f, int exit_code, int install)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/dlcm-test-mps-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->record, sizeof f->record, "%s/record", f->dir);
    if (install) {
        char path[128];
        snprintf(path, sizeof path, "%s/nvidia-cuda-mps-control", f->dir);
        FILE *s = fopen(path, "w");
        cr_assert_not_null(s);
        fprintf(s, "#!/bin/sh\nPATH=/usr/bin:/bin\n"
                   "if [ \"$1\" = -d ]; then\n"
                   "  echo \"start $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY\" >> %s\n"
                   "  [ %d -eq 0 ] && touch \"$CUDA_MPS_PIPE_DIRECTORY/control\"\n"
                   "  exit %d\n"
                   "fi\n"
                   "read line; echo \"stdin $line\" >> %s; rm -f \"$CUDA_MPS_PIPE_DIRECTORY/control\"\n",
                f->record, exit_code, exit_code, f->record);
        cr_assert_eq(fclose(s), 0);
        cr_assert_eq(chmod(path, 0755), 0);
    }
    setenv("PATH", f->dir, 1);
    unsetenv("CUDA_MPS_PIPE_DIRECTORY");
    unsetenv("CUDA_MPS_LOG_DIRECTORY");
}

static void read_text(const char *path, char *buf, size_t n)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
    fclose(f);
}

Test(sweep_mps, daemon_started_for_the_trainers_and_stopped)
{
    FakeControl f;
    fake_control(&f, 0, 1);
    char *log_text = NULL;
    size_t log_len = 0;
    FILE *log = open_memstream(&log_text, &log_len);
    MpsDaemon d;
    cr_assert_eq(mps_start(&d, log), 1);
    const char *pipe_dir = getenv("CUDA_MPS_PIPE_DIRECTORY");
    cr_assert_not_null(pipe_dir, "the trainers started next must find the daemon");
    cr_expect_str_eq(pipe_dir, d.pipe_dir);
    cr_expect_str_eq(getenv("CUDA_MPS_LOG_DIRECTORY"), d.log_dir);
    char record[512], expected[256];
    read_text(f.record, record, sizeof record);
    snprintf(expected, sizeof expected, "start %s %s\n", d.pipe_dir, d.log_dir);
    cr_expect_str_eq(record, expected);
    char saved_pipe[64];
    snprintf(saved_pipe, sizeof saved_pipe, "%s", d.pipe_dir);
    mps_stop(&d, log);
    fclose(log);
    read_text(f.record, record, sizeof record);
    cr_expect(strstr(record, "stdin quit\n") != NULL, "the daemon was not asked to quit: %s", record);
    struct stat st;
    cr_expect_neq(stat(saved_pipe, &st), 0, "the pipe directory %s is left behind", saved_pipe);
    cr_expect_null(getenv("CUDA_MPS_PIPE_DIRECTORY"));
    cr_expect(strstr(log_text, "mps: started") != NULL, "log: %s", log_text);
    cr_expect(strstr(log_text, "mps: stopped the control daemon in ") != NULL, "log: %s", log_text);
    cr_expect(strstr(log_text, "still there") == NULL, "the stand-in removed its pipe: %s", log_text);
    free(log_text);
    remove_tree(f.dir);
}

Test(sweep_mps, absent_program_leaves_runs_time_sliced)
{
    FakeControl f;
    fake_control(&f, 0, 0);
    char *log_text = NULL;
    size_t log_len = 0;
    FILE *log = open_memstream(&log_text, &log_len);
    MpsDaemon d;
    cr_assert_eq(mps_start(&d, log), 0);
    mps_stop(&d, log); /* nothing to stop */
    fclose(log);
    cr_expect(strstr(log_text, "not found") && strstr(log_text, "time-sliced"), "log: %s", log_text);
    cr_expect_null(getenv("CUDA_MPS_PIPE_DIRECTORY"), "the environment must stay as it was");
    struct stat st;
    cr_expect_neq(stat(d.pipe_dir, &st), 0, "no directory is left behind");
    free(log_text);
    remove_tree(f.dir);
}

Test(sweep_mps, failing_daemon_restores_the_environment)
{
    FakeControl f;
    fake_control(&f, 1, 1);
    setenv("CUDA_MPS_PIPE_DIRECTORY", "/somewhere/else", 1);
    char *log_text = NULL;
    size_t log_len = 0;
    FILE *log = open_memstream(&log_text, &log_len);
    MpsDaemon d;
    cr_assert_eq(mps_start(&d, log), 0);
    fclose(log);
    cr_expect(strstr(log_text, "exited 1") != NULL, "log: %s", log_text);
    cr_expect_str_eq(getenv("CUDA_MPS_PIPE_DIRECTORY"), "/somewhere/else");
    cr_expect_null(getenv("CUDA_MPS_LOG_DIRECTORY"));
    free(log_text);
    remove_tree(f.dir);
}
