/* sweep/proc.c: fork/exec of trainers and helper commands (no shell anywhere), with output to
 * files, a run-directory lock that lives as long as the trainer, and death with the parent. */
#include "sweep/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: report and exit without running the parent's atexit handlers. */
static void child_fail(int code, const char *what, const char *detail)
{
    dprintf(STDERR_FILENO, "dlcm-sweep: %s %s: %s\n", what, detail ? detail : "", strerror(errno));
    _exit(code);
}

pid_t proc_spawn(const ProcSpec *spec, char *err, int errlen)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) return pid;

    /* child */
    setpgid(0, 0); /* its own group: a terminal's Ctrl-C goes to the scheduler, which decides */
    if (spec->stdout_path) {
        int fd = open(spec->stdout_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) child_fail(PROC_EXIT_EXEC, "cannot open", spec->stdout_path);
    }
    if (spec->stderr_path) {
        int fd = open(spec->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) child_fail(PROC_EXIT_EXEC, "cannot open", spec->stderr_path);
    }
    if (spec->parent_death_signal) {
        if (prctl(PR_SET_PDEATHSIG, spec->parent_death_signal) != 0) child_fail(PROC_EXIT_EXEC, "prctl", NULL);
        if (getppid() != parent) _exit(PROC_EXIT_EXEC); /* the parent died before prctl */
    }
    if (spec->lock_path) {
        /* Not close-on-exec: the exec'd trainer keeps holding it until it exits. */
        int fd = open(spec->lock_path, O_RDWR | O_CREAT, 0644);
        if (fd < 0) child_fail(PROC_EXIT_EXEC, "cannot open lock", spec->lock_path);
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            dprintf(STDERR_FILENO, "dlcm-sweep: %s is held by another live trainer\n", spec->lock_path);
            _exit(PROC_EXIT_LOCKED);
        }
    }
    for (const char *const *e = spec->env_set; e && *e; e++) {
        char name[128];
        const char *eq = strchr(*e, '=');
        if (!eq || eq - *e >= (long)sizeof name) continue;
        memcpy(name, *e, eq - *e);
        name[eq - *e] = '\0';
        if (setenv(name, eq + 1, 1) != 0) child_fail(PROC_EXIT_EXEC, "setenv", name);
    }
    execv(spec->argv[0], (char *const *)spec->argv);
    child_fail(PROC_EXIT_EXEC, "cannot execute", spec->argv[0]);
    return -1;
}

int proc_capture(const char *const *argv, char *out, size_t cap, char *err, int errlen)
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
        if (dup2(pipe_fds[1], STDOUT_FILENO) < 0 || dup2(pipe_fds[1], STDERR_FILENO) < 0) _exit(PROC_EXIT_EXEC);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, STDIN_FILENO);
        execvp(argv[0], (char *const *)argv);
        dprintf(STDERR_FILENO, "cannot execute %s: %s", argv[0], strerror(errno));
        _exit(PROC_EXIT_EXEC);
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
        if (WEXITSTATUS(status) == PROC_EXIT_EXEC && strstr(out, "cannot execute")) {
            snprintf(err, errlen, "%s", out);
            return -1;
        }
        return WEXITSTATUS(status);
    }
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void proc_file_tail(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t start = size > (off_t)(n - 1) ? size - (off_t)(n - 1) : 0;
    ssize_t got = pread(fd, buf, n - 1, start);
    close(fd);
    if (got < 0) got = 0;
    buf[got] = '\0';
    /* NUL bytes in the log would cut the text short: show them as '?'. */
    for (ssize_t i = 0; i < got; i++)
        if (buf[i] == '\0') buf[i] = '?';
}

int proc_mkdirs(const char *path, char *err, int errlen)
{
    char partial[1024];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof partial) {
        snprintf(err, errlen, "%s: bad directory path", path);
        return -1;
    }
    memcpy(partial, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (partial[i] != '/' && partial[i] != '\0') continue;
        char saved = partial[i];
        partial[i] = '\0';
        if (mkdir(partial, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create directory: %s", partial, strerror(errno));
            return -1;
        }
        partial[i] = saved;
    }
    return 0;
}

int proc_write_file(const char *path, const char *text, char *err, int errlen)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        return -1;
    }
    int bad = fputs(text, f) < 0;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void proc_describe_status(int status, char *buf, size_t n)
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
