/* tests/test_sweep_mps.c: the MPS control daemon around a packed sweep (sweep/mps.c), with a
 * stand-in nvidia-cuda-mps-control on PATH that records how it was called: started as our child
 * with -f (-d where -f fails) and private directories that the trainers inherit, stopped with
 * "quit" and waited for; absent or failing, the sweep goes on time-sliced with a message and the
 * environment as it was. */
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
 * what it returns when started; with foreground 0 it is an old driver's program that knows only
 * -d. Started in the foreground it creates its control pipe and runs until "quit" arrives on a
 * second invocation's stdin; like the real daemon, it leaves its pipes behind. */
static void fake_control(FakeControl *f, int exit_code, int install, int foreground)
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
                   "case \"$1\" in\n"
                   "-f)\n"
                   "  echo \"start-f $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY\" >> %s\n"
                   "  [ %d -eq 1 ] || { echo 'usage: nvidia-cuda-mps-control [-d]' >&2; exit 2; }\n"
                   "  [ %d -eq 0 ] || exit %d\n"
                   "  touch \"$CUDA_MPS_PIPE_DIRECTORY/control\" \"$CUDA_MPS_PIPE_DIRECTORY/control_privileged\"\n"
                   "  echo started > \"$CUDA_MPS_LOG_DIRECTORY/control.log\"\n"
                   "  while [ ! -e %s/quit-asked ]; do sleep 0.01; done\n"
                   "  echo exited >> %s; exit 0 ;;\n"
                   "-d)\n"
                   "  echo \"start-d $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY\" >> %s\n"
                   "  [ %d -eq 0 ] && touch \"$CUDA_MPS_PIPE_DIRECTORY/control\"\n"
                   "  exit %d ;;\n"
                   "esac\n"
                   "read line; echo \"stdin $line\" >> %s; touch %s/quit-asked\n",
                f->record, foreground, exit_code, exit_code, f->dir, f->record, f->record, exit_code,
                exit_code, f->record, f->dir);
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
    fake_control(&f, 0, 1, 1);
    char *log_text = NULL;
    size_t log_len = 0;
    FILE *log = open_memstream(&log_text, &log_len);
    MpsDaemon d;
    cr_assert_eq(mps_start(&d, log), 1);
    cr_expect_gt(d.pid, 0, "the foreground daemon is our child");
    const char *pipe_dir = getenv("CUDA_MPS_PIPE_DIRECTORY");
    cr_assert_not_null(pipe_dir, "the trainers started next must find the daemon");
    cr_expect_str_eq(pipe_dir, d.pipe_dir);
    cr_expect_str_eq(getenv("CUDA_MPS_LOG_DIRECTORY"), d.log_dir);
    char record[512], expected[256];
    read_text(f.record, record, sizeof record);
    snprintf(expected, sizeof expected, "start-f %s %s\n", d.pipe_dir, d.log_dir);
    cr_expect_str_eq(record, expected);
    char saved_pipe[64];
    snprintf(saved_pipe, sizeof saved_pipe, "%s", d.pipe_dir);
    mps_stop(&d, log);
    fclose(log);
    read_text(f.record, record, sizeof record);
    cr_expect(strstr(record, "stdin quit\nexited\n") != NULL,
              "the stop must ask the daemon to quit and wait until it has exited: %s", record);
    struct stat st;
    cr_expect_neq(stat(saved_pipe, &st), 0, "the pipe directory %s is left behind (with the pipe the daemon leaves)",
                  saved_pipe);
    cr_expect_null(getenv("CUDA_MPS_PIPE_DIRECTORY"));
    cr_expect(strstr(log_text, "mps: started the MPS control daemon in the foreground") != NULL, "log: %s", log_text);
    cr_expect(strstr(log_text, "mps: stopped the control daemon in ") != NULL, "log: %s", log_text);
    cr_expect(strstr(log_text, "terminated") == NULL && strstr(log_text, "not waited") == NULL, "log: %s", log_text);
    free(log_text);
    remove_tree(f.dir);
}

Test(sweep_mps, old_driver_without_foreground_mode_gets_the_classic_daemon)
{
    FakeControl f;
    fake_control(&f, 0, 1, 0);
    char *log_text = NULL;
    size_t log_len = 0;
    FILE *log = open_memstream(&log_text, &log_len);
    MpsDaemon d;
    cr_assert_eq(mps_start(&d, log), 1);
    cr_expect_eq(d.pid, 0, "a -d daemon forks away: there is no child to wait for");
    cr_expect_str_eq(getenv("CUDA_MPS_PIPE_DIRECTORY"), d.pipe_dir);
    char record[512], expected[512];
    read_text(f.record, record, sizeof record);
    snprintf(expected, sizeof expected, "start-f %s %s\nstart-d %s %s\n", d.pipe_dir, d.log_dir, d.pipe_dir,
             d.log_dir);
    cr_expect_str_eq(record, expected);
    char saved_pipe[64];
    snprintf(saved_pipe, sizeof saved_pipe, "%s", d.pipe_dir);
    mps_stop(&d, log);
    fclose(log);
    read_text(f.record, record, sizeof record);
    cr_expect(strstr(record, "stdin quit\n") != NULL, "the daemon was not asked to quit: %s", record);
    struct stat st;
    cr_expect_neq(stat(saved_pipe, &st), 0, "the pipe directory %s is left behind", saved_pipe);
    cr_expect(strstr(log_text, "as a daemon (-f did not start)") != NULL, "log: %s", log_text);
    cr_expect(strstr(log_text, "not waited for") != NULL, "log: %s", log_text);
    free(log_text);
    remove_tree(f.dir);
}

Test(sweep_mps, absent_program_leaves_runs_time_sliced)
{
    FakeControl f;
    fake_control(&f, 0, 0, 1);
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
    fake_control(&f, 1, 1, 1);
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
    struct stat st;
    cr_expect_neq(stat(d.pipe_dir, &st), 0, "the pipe directory is left behind");
    cr_expect_neq(stat(d.log_dir, &st), 0, "the log directory (with the foreground output) is left behind");
    free(log_text);
    remove_tree(f.dir);
}
