/* util/fs.h: the file helpers every part uses: mkdir -p, reading a whole file, and replacing a
 * file atomically (a temporary beside it, fsync, rename), so a crash never leaves half a file. */
#ifndef DLCM_UTIL_FS_H
#define DLCM_UTIL_FS_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

/* mkdir -p with mode 0755. 0, or -1 with "DIR: cannot create directory: why" in err. */
int fs_mkdirs(const char *path, char *err, int errlen);

/* Reads the whole file (path "-": standard input) into a malloc'ed, NUL-terminated buffer; *len
 * (may be NULL) gets its size (a NUL byte inside stays: callers that parse text compare strlen
 * with *len). Files larger than max_bytes are refused. NULL with "PATH: why" in err. */
char *fs_read_file(const char *path, size_t max_bytes, size_t *len, char *err, int errlen);

/* Writes n bytes to path through PATH.tmp.PID, fsync and rename: the file is either the old one
 * or the new one, never a part. 0, or -1 with err (the temporary is removed). */
int fs_write_atomic(const char *path, const void *data, size_t n, char *err, int errlen);
/* The same for a NUL-terminated text. */
int fs_write_text_atomic(const char *path, const char *text, char *err, int errlen);

/* A file written as a stream and put in place atomically: fs_replace_open opens PATH.tmp.PID,
 * the caller writes to f, fs_replace_commit flushes, fsyncs, closes and renames it over path (or
 * removes it and reports), fs_replace_abort removes it. */
typedef struct {
    FILE *f;
    char path[PATH_MAX];
    char tmp[PATH_MAX + 32];
} FsReplace;
int fs_replace_open(FsReplace *r, const char *path, char *err, int errlen);
int fs_replace_commit(FsReplace *r, char *err, int errlen);
void fs_replace_abort(FsReplace *r);

/* The last n - 1 bytes of a file, NUL-terminated ("" when absent); NUL bytes in it show as '?'. */
void fs_read_tail(const char *path, char *buf, size_t n);

#endif
