/* data/spawn.h: running a helper program (apt-get, npm, spm_train, spm_encode) with fork/exec,
 * never through a shell, optionally in another directory and with stdout sent to a file. */
#ifndef DLCM_DATA_SPAWN_H
#define DLCM_DATA_SPAWN_H

#include <sys/types.h>

/* Starts argv[0] (searched in PATH) in directory cwd (NULL: current) with stdout redirected
 * to stdout_path (NULL: inherited) and stderr to stderr_path (NULL: inherited). Returns the
 * child's pid, or -1 with err. */
pid_t spawn_start(char *const argv[], const char *cwd, const char *stdout_path,
                  const char *stderr_path, char *err, int errlen);
/* Waits for pid; 0 when it exited with status 0, else -1 with a message naming argv0. */
int spawn_wait(pid_t pid, const char *argv0, char *err, int errlen);
/* spawn_start followed by spawn_wait. */
int spawn_run(char *const argv[], const char *cwd, const char *stdout_path, const char *stderr_path,
              char *err, int errlen);

#endif
