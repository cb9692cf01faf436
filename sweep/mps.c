/* sweep/mps.c: starting and stopping the CUDA MPS control daemon for a packed local sweep, with
 * util/spawn: `nvidia-cuda-mps-control -f` as our child (or -d), "quit" to stop it. */
#include "sweep/mps.h"

#include "util/duration.h"
#include "util/fs.h"
#include "util/spawn.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MPS_CONTROL "nvidia-cuda-mps-control"
#define MPS_READY_WAIT_S 10.0  /* for the foreground daemon's control pipe to appear */
#define MPS_QUIT_WAIT_S 10.0   /* for the foreground daemon to exit after "quit" */
#define MPS_POLL_US 5000

/* Starts MPS_CONTROL with argument arg (may be NULL), its stdin read from stdin_path and its
 * output appended to output_path: the child's pid, or -1. In the sweep's process group, as the
 * trainers are. */
static pid_t start_control(const char *arg, const char *stdin_path, const char *output_path)
{
    const char *argv[3] = {MPS_CONTROL, arg, NULL};
    SpawnSpec spec = {.argv = argv, .stdin_path = stdin_path, .stdout_path = output_path,
                      .stderr_path = output_path, .keep_process_group = 1};
    char err[256];
    return spawn_process(&spec, err, sizeof err);
}

/* The exit status of a finished child (128 + signal when killed). */
static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs MPS_CONTROL to the end, its output discarded: its exit status (SPAWN_EXIT_EXEC when it
 * could not be executed), or -1 when it could not be started. */
static int run_control(const char *arg, const char *stdin_path)
{
    pid_t pid = start_control(arg, stdin_path, "/dev/null");
    if (pid < 0) return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return exit_code(status);
}

/* Waits up to `seconds` for child pid to exit: 1 and its exit status in *code when it did (or
 * when it was already reaped elsewhere: *code -1), 0 when it still runs. */
static int wait_child(pid_t pid, double seconds, int *code)
{
    double until = monotonic_seconds() + seconds;
    for (;;) {
        int status;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            *code = exit_code(status);
            return 1;
        }
        if (got < 0 && errno != EINTR) { /* ECHILD: reaped by a wait for any child */
            *code = -1;
            return 1;
        }
        if (monotonic_seconds() >= until) return 0;
        usleep(MPS_POLL_US);
    }
}

/* The daemon as our own child in the foreground: its pid is what tells, at the stop, when it has
 * gone. Returns 1 when its control pipe appeared; else 0 with the child's exit status in *code
 * (SPAWN_EXIT_EXEC: the program is not there), having stopped a child that never got ready. */
static int start_foreground(MpsDaemon *d, int *code)
{
    char output[128], control[128];
    snprintf(output, sizeof output, "%s/foreground.log", d->log_dir);
    snprintf(control, sizeof control, "%s/control", d->pipe_dir);
    pid_t pid = start_control("-f", "/dev/null", output);
    if (pid < 0) {
        *code = -1;
        return 0;
    }
    double until = monotonic_seconds() + MPS_READY_WAIT_S;
    for (;;) {
        struct stat st;
        if (stat(control, &st) == 0) {
            d->pid = pid;
            return 1;
        }
        if (wait_child(pid, 0, code)) return 0;
        if (monotonic_seconds() >= until) {
            kill(pid, SIGKILL);
            wait_child(pid, MPS_QUIT_WAIT_S, code);
            *code = -2;
            return 0;
        }
        usleep(MPS_POLL_US);
    }
}

/* Removes a directory's entries (the daemon's pipes, sockets and logs: it leaves some behind, and
 * their names vary by driver), then the directory; a subdirectory, never made by the daemon, would
 * keep it. The directory is our own mkdtemp one, so nothing else lives there. */
static void remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
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
    int rc = 0;
    const char *how = "in the foreground";
    if (start_foreground(d, &rc)) {
        d->started = 1;
    } else if (rc != SPAWN_EXIT_EXEC && rc != -1) {
        /* a driver whose control program lacks -f (or whose foreground start failed): the
         * classic daemon, which forks away; its stop cannot be waited for */
        rc = run_control("-d", "/dev/null");
        d->started = rc == 0;
        how = "as a daemon (-f did not start)";
    }
    if (d->started) {
        if (log)
            fprintf(log, "mps: started the MPS control daemon %s in %.2f s (pipes in %s): packed runs share the GPU concurrently\n",
                    how, monotonic_seconds() - t0, d->pipe_dir);
    } else {
        if (saved_pipe) setenv("CUDA_MPS_PIPE_DIRECTORY", saved_pipe, 1); else unsetenv("CUDA_MPS_PIPE_DIRECTORY");
        if (saved_log) setenv("CUDA_MPS_LOG_DIRECTORY", saved_log, 1); else unsetenv("CUDA_MPS_LOG_DIRECTORY");
        remove_flat_dir(d->pipe_dir);
        remove_flat_dir(d->log_dir);
        if (log) {
            if (rc == SPAWN_EXIT_EXEC || rc < 0)
                fprintf(log, "mps: %s not found: packed runs on a GPU are time-sliced, not concurrent\n", MPS_CONTROL);
            else
                fprintf(log, "mps: %s -d exited %d: packed runs on a GPU are time-sliced, not concurrent\n", MPS_CONTROL, rc);
        }
    }
    free(saved_pipe);
    free(saved_log);
    return d->started;
}

void mps_stop(MpsDaemon *d, FILE *log)
{
    if (!d->started) return;
    double t0 = monotonic_seconds();
    /* "quit" on the control program's stdin, from a file beside the daemon's logs */
    char quit_path[128], err[256];
    snprintf(quit_path, sizeof quit_path, "%s/quit-command", d->log_dir);
    int rc = fs_write_text_atomic(quit_path, "quit\n", err, sizeof err) ? -1 : run_control(NULL, quit_path);
    if (rc != 0 && log) fprintf(log, "mps: asking the MPS control daemon to quit failed (%d)\n", rc);
    /* The foreground daemon is our child: its exit is the end of the stop. (The control pipe is no
     * sign: the daemon leaves it behind, and waiting for it to go cost 5 s a sweep.) */
    const char *note = " (a -d daemon: not waited for)";
    if (d->pid > 0) {
        int code;
        note = "";
        if (!wait_child(d->pid, MPS_QUIT_WAIT_S, &code)) {
            kill(d->pid, SIGTERM);
            if (!wait_child(d->pid, 1.0, &code)) {
                kill(d->pid, SIGKILL);
                wait_child(d->pid, 1.0, &code);
            }
            note = " (it had not exited 10 s after quit: terminated)";
        }
        d->pid = 0;
    }
    /* said with its duration: a sweep of small runs pays it once, and it belongs in the wall time
     * that bench/sweep-bench.sh reports */
    if (log) fprintf(log, "mps: stopped the control daemon in %.2f s%s\n", monotonic_seconds() - t0, note);
    remove_flat_dir(d->pipe_dir);
    remove_flat_dir(d->log_dir);
    unsetenv("CUDA_MPS_PIPE_DIRECTORY");
    unsetenv("CUDA_MPS_LOG_DIRECTORY");
    d->started = 0;
}
