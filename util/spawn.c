/* util/spawn.c: fork/exec without a shell (see util/spawn.h): the child sets up its input, output,
 * directory, lock, environment and parent-death signal, then execs; failures exit with a reason. */
#include "util/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: report and exit without running the parent's atexit handlers. */
static void child_fail(int code, const char *what, const char *detail)
{
    dprintf(STDERR_FILENO, "spawn: %s %s: %s\n", what, detail ? detail : "", strerror(errno));
    _exit(code);
}

static void redirect(const char *path, int target_fd, int truncate_output)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (truncate_output ? O_TRUNC : O_APPEND);
    int fd = open(path, flags, 0644);
    if (fd < 0 || dup2(fd, target_fd) < 0) child_fail(SPAWN_EXIT_EXEC, "cannot open", path);
}

pid_t spawn_process(const SpawnSpec *spec, char *err, int errlen)
{
    pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork for %s: %s", spec->argv[0], strerror(errno));
        return -1;
    }
    if (pid > 0) return pid;

    /* child */
    if (!spec->keep_process_group) setpgid(0, 0);
    if (spec->cwd && chdir(spec->cwd) != 0) child_fail(SPAWN_EXIT_EXEC, "cannot enter", spec->cwd);
    if (spec->stdin_path) {
        int fd = open(spec->stdin_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || dup2(fd, STDIN_FILENO) < 0) child_fail(SPAWN_EXIT_EXEC, "cannot open", spec->stdin_path);
    }
    if (spec->stdout_path) redirect(spec->stdout_path, STDOUT_FILENO, spec->truncate_output);
    if (spec->stderr_path) redirect(spec->stderr_path, STDERR_FILENO, spec->truncate_output);
    if (spec->parent_death_signal) {
        if (prctl(PR_SET_PDEATHSIG, spec->parent_death_signal) != 0) child_fail(SPAWN_EXIT_EXEC, "prctl", NULL);
        if (getppid() != parent) _exit(SPAWN_EXIT_EXEC); /* the parent died before prctl */
    }
    if (spec->lock_path) {
        /* Not close-on-exec: the exec'd program keeps holding it until it exits. */
        int fd = open(spec->lock_path, O_RDWR | O_CREAT, 0644);
        if (fd < 0) child_fail(SPAWN_EXIT_EXEC, "cannot open lock", spec->lock_path);
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            dprintf(STDERR_FILENO, "spawn: %s is held by another live process\n", spec->lock_path);
            _exit(SPAWN_EXIT_LOCKED);
        }
    }
    for (const char *const *e = spec->env_set; e && *e; e++) {
        char name[128];
        const char *eq = strchr(*e, '=');
        if (!eq || eq - *e >= (long)sizeof name) continue;
        memcpy(name, *e, eq - *e);
        name[eq - *e] = '\0';
        if (setenv(name, eq + 1, 1) != 0) child_fail(SPAWN_EXIT_EXEC, "setenv", name);
    }
    execvp(spec->argv[0], (char *const *)spec->argv);
    child_fail(SPAWN_EXIT_EXEC, "cannot execute", spec->argv[0]);
    return -1;
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

pid_t spawn_start(char *const argv[], const char *cwd, const char *stdout_path,
                  const char *stderr_path, char *err, int errlen)
{
    SpawnSpec spec = {.argv = (const char *const *)argv, .stdout_path = stdout_path, .stderr_path = stderr_path,
                      .cwd = cwd, .truncate_output = 1, .keep_process_group = 1};
    return spawn_process(&spec, err, errlen);
}

int spawn_run(char *const argv[], const char *cwd, const char *stdout_path, const char *stderr_path,
              char *err, int errlen)
{
    pid_t pid = spawn_start(argv, cwd, stdout_path, stderr_path, err, errlen);
    if (pid < 0) return -1;
    return spawn_wait(pid, argv[0], err, errlen);
}

int spawn_capture(const char *const *argv, char *out, size_t cap, char *err, int errlen)
{
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(pipe_fds[0]);
        if (dup2(pipe_fds[1], STDOUT_FILENO) < 0 || dup2(pipe_fds[1], STDERR_FILENO) < 0) _exit(SPAWN_EXIT_EXEC);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, STDIN_FILENO);
        execvp(argv[0], (char *const *)argv);
        dprintf(STDERR_FILENO, "cannot execute %s: %s", argv[0], strerror(errno));
        _exit(SPAWN_EXIT_EXEC);
    }
    close(pipe_fds[1]);
    size_t len = 0;
    char discard[4096];
    for (;;) {
        ssize_t got;
        if (len + 1 < cap) got = read(pipe_fds[0], out + len, cap - 1 - len);
        else got = read(pipe_fds[0], discard, sizeof discard); /* keep draining so it cannot block */
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        if (len + 1 < cap) len += (size_t)got;
    }
    close(pipe_fds[0]);
    if (cap) out[len] = '\0';
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "waitpid: %s", strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status)) {
        if (WEXITSTATUS(status) == SPAWN_EXIT_EXEC && strstr(out, "cannot execute")) {
            snprintf(err, errlen, "%s", out);
            return -1;
        }
        return WEXITSTATUS(status);
    }
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void spawn_describe_status(int status, char *buf, size_t n)
{
    if (WIFEXITED(status)) {
        snprintf(buf, n, "exit code %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(buf, n, "killed by signal %d (%s%s)", sig, strsignal(sig),
                 sig == SIGKILL ? "; out of memory?" : "");
    } else {
        snprintf(buf, n, "wait status %d", status);
    }
}
