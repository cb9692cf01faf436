/* util/spawn.h: the one way the project starts another program: fork/exec, never a shell, with
 * output to files, an optional working directory, environment, run-directory lock and death with
 * the parent, stdin from a file; running a command for its output; describing how a child ended. */
#ifndef DLCM_UTIL_SPAWN_H
#define DLCM_UTIL_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/* Exit status of a child that found its lock held by another live process. */
#define SPAWN_EXIT_LOCKED 75
/* Exit status of a child that could not be set up or exec'd (the reason goes to its stderr). */
#define SPAWN_EXIT_EXEC 127

typedef struct {
    const char *const *argv;      /* argv[0]: a path, or a name searched in PATH; NULL-terminated */
    const char *const *env_set;   /* "NAME=value" set in the child; NULL-terminated or NULL */
    const char *stdout_path;      /* NULL keeps the parent's */
    const char *stderr_path;
    const char *lock_path;        /* held (flock) by the child and the program it execs; NULL: none */
    int parent_death_signal;      /* sent to the child when the parent dies (0: none) */
    const char *cwd;              /* the child's working directory; NULL: the parent's */
    int truncate_output;          /* 1: output files start empty; 0: appended to */
    int keep_process_group;       /* 1: stays in the parent's group (a terminal's Ctrl-C reaches it);
                                   * 0: its own group, so the parent alone decides on Ctrl-C */
    const char *stdin_path;       /* read as the child's stdin; NULL keeps the parent's */
} SpawnSpec;

/* Starts the child; its pid, or -1 with err. */
pid_t spawn_process(const SpawnSpec *spec, char *err, int errlen);

/* Waits for pid; 0 when it exited with status 0, else -1 with a message naming argv0. */
int spawn_wait(pid_t pid, const char *argv0, char *err, int errlen);

/* Helpers run for their effect (apt-get, spm_train, gnuplot): argv[0] searched in PATH, run in
 * cwd (NULL: here), stdout and stderr to files (NULL: inherited, emptied first otherwise), in the
 * parent's process group. spawn_start returns the pid (or -1 with err); spawn_run also waits. */
pid_t spawn_start(char *const argv[], const char *cwd, const char *stdout_path,
                  const char *stderr_path, char *err, int errlen);
int spawn_run(char *const argv[], const char *cwd, const char *stdout_path, const char *stderr_path,
              char *err, int errlen);

/* Runs argv to completion with stdout captured into out (NUL-terminated, truncated to cap) and
 * stderr with it. Returns the exit status (128 + signal when killed), or -1 with err when it
 * could not be started. */
int spawn_capture(const char *const *argv, char *out, size_t cap, char *err, int errlen);

/* Describes a wait status: "exit code 3", "killed by signal 9 (Killed; out of memory?)". */
void spawn_describe_status(int status, char *buf, size_t n);

#endif
