/* fuzz/fuzz_input.h: the fuzzers' way to hand an input to a reader that takes a path: the bytes
 * go into an in-memory file (memfd), named by /proc/self/fd/N, rewritten for every input.
 * Built with -D_GNU_SOURCE (memfd_create). */
#ifndef DLCM_FUZZ_INPUT_H
#define DLCM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The path of a file holding exactly data[0, size). Aborts when the memfd cannot be made. */
static inline const char *fuzz_input_path(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("dlcm-fuzz-input", 0);
        if (fd < 0) { perror("memfd_create"); abort(); }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz input");
        abort();
    }
    return path;
}

/* data[0, size) as a NUL-terminated string (for readers of C strings). Malloc'ed. */
static inline char *fuzz_input_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) abort();
    for (size_t i = 0; i < size; i++) text[i] = (char)data[i];
    text[size] = '\0';
    return text;
}

#endif
