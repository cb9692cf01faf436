/* data/archive_files.h: the members of a downloaded package, read in memory with libarchive:
 * a .deb (ar archive whose data.tar.* holds the files) or an npm .tgz. */
#ifndef DLCM_DATA_ARCHIVE_FILES_H
#define DLCM_DATA_ARCHIVE_FILES_H

#include <stddef.h>

#include "data/manifest.h"

typedef struct {
    char *path;          /* member path without a leading "./" */
    unsigned char *data; /* contents, NUL-terminated for convenience */
    size_t len;
} MemberFile;

typedef struct {
    MemberFile *files; /* sorted by path */
    size_t count;
} MemberList;

/* Reads every regular member of archive_path that source_wants() accepts. 0, or -1 with err
 * naming the archive and the member. */
int archive_read_members(const char *archive_path, const Source *source, MemberList *out, char *err,
                         int errlen);
void member_list_free(MemberList *list);

/* Decompresses a gzip (or dictzip) buffer; NULL with err on corrupt input. */
unsigned char *gunzip_buffer(const unsigned char *data, size_t len, size_t *out_len,
                             const char *what, char *err, int errlen);

#endif
