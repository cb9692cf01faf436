/* sweep/mps.c: starting and stopping the CUDA MPS control daemon for a packed local sweep, with
 * fork/exec (no shell): `nvidia-cuda-mps-control -d` to start, "quit" on its stdin to stop. */
#include "sweep/mps.h"

#include "util/duration.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MPS_CONTROL "nvidia-cuda-mps-control"

/* Runs MPS_CONTROL with argument arg (may be NULL) and `input` on its stdin (may be NULL), its
 * output discarded; the exit status, or -1 when it could not be run. */
static int run_control(const char *arg, const char *input)
{
    int fds[2] = {-1, -1};
    if (input && pipe(fds)) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        if (input) {
            close(fds[0]);
            close(fds[1]);
        }
        return -1;
    }
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDWR);
        if (input) {
            dup2(fds[0], STDIN_FILENO);
            close(fds[0]);
            close(fds[1]);
        } else if (null_fd >= 0) {
            dup2(null_fd, STDIN_FILENO);
        }
        if (null_fd >= 0) {
            dup2(null_fd, STDOUT_FILENO);
            dup2(null_fd, STDERR_FILENO);
        }
        char *argv[3] = {(char *)MPS_CONTROL, (char *)arg, NULL};
        execvp(MPS_CONTROL, argv);
        _exit(127);
    }
    if (input) {
        close(fds[0]);
        size_t n = strlen(input);
        if (write(fds[1], input, n) != (ssize_t)n) { /* the daemon's reply decides below */ }
        close(fds[1]);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int mps_start(MpsDaemon *d, FILE *log)
{
    memset(d, 0, sizeof *d);
    snprintf(d->pipe_dir, sizeof d->pipe_dir, "/tmp/dlcm-mps-pipe-XXXXXX");
    snprintf(d->log_dir, sizeof d->log_dir, "/tmp/dlcm-mps-log-XXXXXX");
    if (!mkdtemp(d->pipe_dir) || !mkdtemp(d->log_dir)) {
        if (log) fprintf(log, "mps: cannot create its directories under /tmp (%s): packed runs are time-sliced\n",
                         strerror(errno));
        rmdir(d->pipe_dir);
        return 0;
    }
    char *old_pipe = getenv("CUDA_MPS_PIPE_DIRECTORY"), *old_log = getenv("CUDA_MPS_LOG_DIRECTORY");
    char *saved_pipe = old_pipe ? strdup(old_pipe) : NULL, *saved_log = old_log ? strdup(old_log) : NULL;
    setenv("CUDA_MPS_PIPE_DIRECTORY", d->pipe_dir, 1);
    setenv("CUDA_MPS_LOG_DIRECTORY", d->log_dir, 1);
    double t0 = monotonic_seconds();
    int rc = run_control("-d", NULL);
    if (rc == 0) {
        d->started = 1;
        if (log)
            fprintf(log, "mps: started the MPS control daemon in %.2f s (pipes in %s): packed runs share the GPU concurrently\n",
                    monotonic_seconds() - t0, d->pipe_dir);
    } else {
        if (saved_pipe) setenv("CUDA_MPS_PIPE_DIRECTORY", saved_pipe, 1); else unsetenv("CUDA_MPS_PIPE_DIRECTORY");
        if (saved_log) setenv("CUDA_MPS_LOG_DIRECTORY", saved_log, 1); else unsetenv("CUDA_MPS_LOG_DIRECTORY");
        rmdir(d->pipe_dir);
        rmdir(d->log_dir);
        if (log) {
            if (rc == 127 || rc < 0)
                fprintf(log, "mps: %s not found: packed runs on a GPU are time-sliced, not concurrent\n", MPS_CONTROL);
            else
                fprintf(log, "mps: %s -d exited %d: packed runs on a GPU are time-sliced, not concurrent\n", MPS_CONTROL, rc);
        }
    }
    free(saved_pipe);
    free(saved_log);
    return d->started;
}

/* Removes a directory's files (the daemon's pipes and logs), then the directory. */
static void remove_flat_dir(const char *dir)
{
    char path[256];
    static const char *names[] = {"control", "control.pid", "control.log", "server.log", "log", NULL};
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

void mps_stop(MpsDaemon *d, FILE *log)
{
    if (!d->started) return;
    double t0 = monotonic_seconds();
    int rc = run_control(NULL, "quit\n");
    if (rc != 0 && log) fprintf(log, "mps: asking the MPS control daemon to quit failed (%d)\n", rc);
    /* the daemon removes its pipes as it exits; give it a moment before the directories go */
    int pipe_gone = 0;
    for (int i = 0; i < 50 && !pipe_gone; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/control", d->pipe_dir);
        struct stat st;
        pipe_gone = stat(path, &st) != 0;
        if (!pipe_gone) usleep(100000);
    }
    /* said with its duration: a sweep of small runs pays it once, and it belongs in the wall time
     * that bench/sweep-bench.sh reports */
    if (log)
        fprintf(log, "mps: stopped the control daemon in %.2f s%s\n", monotonic_seconds() - t0,
                pipe_gone ? "" : " (its pipe was still there after 5 s; removed)");
    remove_flat_dir(d->pipe_dir);
    remove_flat_dir(d->log_dir);
    unsetenv("CUDA_MPS_PIPE_DIRECTORY");
    unsetenv("CUDA_MPS_LOG_DIRECTORY");
    d->started = 0;
}
