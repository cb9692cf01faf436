/* tests/run_program.h: running a program of the project from a test (fork/exec, no shell) with
 * its stdout and stderr in files, shared by the trainer and fitter tests. */
#ifndef DLCM_TESTS_RUN_PROGRAM_H
#define DLCM_TESTS_RUN_PROGRAM_H

#include <fcntl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Starts argv[0] with stdout and stderr in files; returns the child's pid (or -1). */
static inline pid_t start_program(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(126);
    dup2(out, 1);
    dup2(err, 2);
    execv(argv[0], argv);
    _exit(127);
}

/* The exit code of a finished child, or 128 + signal when a signal ended it. */
static inline int wait_program(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

static inline int run_program(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = start_program(argv, out_path, err_path);
    return pid < 0 ? -1 : wait_program(pid);
}

#endif
