/* util/fs.c: mkdir -p, whole-file reads and atomic replacement of files (see util/fs.h). */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_mkdirs(const char *path, char *err, int errlen)
{
    char partial[PATH_MAX];
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

char *fs_read_file(const char *path, size_t max_bytes, size_t *len, char *err, int errlen)
{
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 14, used = 0, got;
    char *text = malloc(cap + 1);
    while (text && (got = fread(text + used, 1, cap - used, f)) > 0) {
        used += got;
        if (used > max_bytes) {
            snprintf(err, errlen, "%s: larger than %zu bytes", path, max_bytes);
            free(text);
            if (!from_stdin) fclose(f);
            return NULL;
        }
        if (used == cap) {
            char *grown = realloc(text, 2 * cap + 1);
            if (!grown) { free(text); text = NULL; break; }
            text = grown;
            cap *= 2;
        }
    }
    int failed = ferror(f);
    if (!from_stdin) fclose(f);
    if (!text || failed) {
        snprintf(err, errlen, "%s: cannot read%s", path, text ? "" : ": out of memory");
        free(text);
        return NULL;
    }
    text[used] = '\0';
    if (len) *len = used;
    return text;
}

int fs_write_atomic(const char *path, const void *data, size_t n, char *err, int errlen)
{
    char tmp[PATH_MAX + 32];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        return -1;
    }
    const char *p = data;
    size_t left = n;
    int bad = 0;
    while (left > 0 && !bad) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) bad = 1;
        else { p += w; left -= (size_t)w; }
    }
    int saved = errno;
    if (!bad && fsync(fd) != 0) { bad = 1; saved = errno; }
    if (close(fd) != 0 && !bad) { bad = 1; saved = errno; }
    if (!bad && rename(tmp, path) != 0) { bad = 1; saved = errno; }
    if (bad) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(saved));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int fs_write_text_atomic(const char *path, const char *text, char *err, int errlen)
{
    return fs_write_atomic(path, text, strlen(text), err, errlen);
}

int fs_replace_open(FsReplace *r, const char *path, char *err, int errlen)
{
    r->f = NULL;
    if ((size_t)snprintf(r->path, sizeof r->path, "%s", path) >= sizeof r->path) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    snprintf(r->tmp, sizeof r->tmp, "%s.tmp.%d", path, (int)getpid());
    r->f = fopen(r->tmp, "wb");
    if (!r->f) {
        snprintf(err, errlen, "%s: cannot create: %s", r->tmp, strerror(errno));
        return -1;
    }
    return 0;
}

int fs_replace_commit(FsReplace *r, char *err, int errlen)
{
    int failed = ferror(r->f) || fflush(r->f) != 0 || fsync(fileno(r->f)) != 0;
    int saved = errno;
    if (fclose(r->f) != 0 && !failed) { failed = 1; saved = errno; }
    r->f = NULL;
    if (!failed && rename(r->tmp, r->path) != 0) { failed = 1; saved = errno; }
    if (failed) {
        snprintf(err, errlen, "%s: write failed: %s", r->path, strerror(saved));
        unlink(r->tmp);
        return -1;
    }
    return 0;
}

void fs_replace_abort(FsReplace *r)
{
    if (r->f) fclose(r->f);
    r->f = NULL;
    unlink(r->tmp);
}

void fs_read_tail(const char *path, char *buf, size_t n)
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
