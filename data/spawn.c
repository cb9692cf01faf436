/* data/spawn.c: fork/exec of helper programs with optional working directory and output
 * redirection; the parent reports exec failures and non-zero exits with the program name. */
#include "data/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void redirect_or_die(const char *path, int target_fd)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dup2(fd, target_fd) < 0) {
        fprintf(stderr, "spawn: cannot open %s: %s\n", path, strerror(errno));
        _exit(126);
    }
    close(fd);
}

pid_t spawn_start(char *const argv[], const char *cwd, const char *stdout_path,
                  const char *stderr_path, char *err, int errlen)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork for %s failed: %s", argv[0], strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (cwd && chdir(cwd) != 0) {
            fprintf(stderr, "spawn: cannot enter %s: %s\n", cwd, strerror(errno));
            _exit(126);
        }
        if (stdout_path) redirect_or_die(stdout_path, STDOUT_FILENO);
        if (stderr_path) redirect_or_die(stderr_path, STDERR_FILENO);
        execvp(argv[0], argv);
        fprintf(stderr, "spawn: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

int spawn_wait(pid_t pid, const char *argv0, char *err, int errlen)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "waiting for %s failed: %s", argv0, strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status))
        snprintf(err, errlen, "%s exited with status %d%s", argv0, WEXITSTATUS(status),
                 WEXITSTATUS(status) == 127 ? " (program not found?)" : "");
    else
        snprintf(err, errlen, "%s was killed by signal %d", argv0,
                 WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    return -1;
}

int spawn_run(char *const argv[], const char *cwd, const char *stdout_path, const char *stderr_path,
              char *err, int errlen)
{
    pid_t pid = spawn_start(argv, cwd, stdout_path, stderr_path, err, errlen);
    if (pid < 0) return -1;
    return spawn_wait(pid, argv[0], err, errlen);
}
