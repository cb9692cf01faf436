/* sweep/proc.h: child processes without a shell: starting a trainer (fork/exec, its output to
 * files, a lock on its run directory, killed with its parent), running a short command for its
 * output (nvidia-smi, sbatch, squeue), and reading the tail of a log. */
#ifndef DLCM_SWEEP_PROC_H
#define DLCM_SWEEP_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* Exit status of a child that found its run directory locked by a live trainer. */
#define PROC_EXIT_LOCKED 75
/* Exit status of a child whose exec failed. */
#define PROC_EXIT_EXEC 127

typedef struct {
    const char *const *argv;      /* argv[0] is the program's path; NULL-terminated */
    const char *const *env_set;   /* "NAME=value" set in the child; NULL-terminated or NULL */
    const char *stdout_path;      /* appended to; NULL keeps the parent's */
    const char *stderr_path;
    const char *lock_path;        /* held (flock) by the child and the program it execs; NULL: none */
    int parent_death_signal;      /* sent to the child when the parent dies (0: none) */
} ProcSpec;

/* Starts the child; its pid, or -1 with err. A lock held by another live process makes the
 * child exit with PROC_EXIT_LOCKED; an exec failure exits PROC_EXIT_EXEC with the reason in
 * stderr_path. */
pid_t proc_spawn(const ProcSpec *spec, char *err, int errlen);

/* Runs argv to completion with stdout captured into out (NUL-terminated, truncated to cap) and
 * stderr appended to it after a newline. Returns the exit status (128 + signal when killed), or -1
 * with err when it could not be started. */
int proc_capture(const char *const *argv, char *out, size_t cap, char *err, int errlen);

/* The last n - 1 bytes of a file, NUL-terminated ("" when absent). */
void proc_file_tail(const char *path, char *buf, size_t n);

/* Creates a directory and its parents (mkdir -p). 0 or -1 with err. */
int proc_mkdirs(const char *path, char *err, int errlen);

/* Writes a whole file atomically (temp file and rename). 0 or -1 with err. */
int proc_write_file(const char *path, const char *text, char *err, int errlen);

/* Describes a wait status: "exit code 3", "killed by signal 9 (SIGKILL; out of memory?)". */
void proc_describe_status(int status, char *buf, size_t n);

#endif
