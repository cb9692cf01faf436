/* data/archive_files.c: libarchive for .deb (ar, then the inner data.tar.xz/gz/zst) and npm
 * tarballs, and zlib for gzip members and dictzip files. No dpkg -x, no temporary files. */
#include "data/archive_files.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int read_entry_data(struct archive *a, struct archive_entry *entry, unsigned char **data,
                           size_t *len)
{
    la_int64_t size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : 0;
    size_t cap = size > 0 ? (size_t)size + 1 : 65536;
    unsigned char *buf = malloc(cap);
    size_t used = 0;
    if (!buf) return -1;
    for (;;) {
        if (used + 65536 > cap) {
            cap = (used + 65536) * 2;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                return -1;
            }
            buf = grown;
        }
        la_ssize_t n = archive_read_data(a, buf + used, cap - used - 1);
        if (n < 0) {
            free(buf);
            return -1;
        }
        if (n == 0) break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    *data = buf;
    *len = used;
    return 0;
}

static int compare_members(const void *a, const void *b)
{
    return strcmp(((const MemberFile *)a)->path, ((const MemberFile *)b)->path);
}

/* Reads the tar stream from an open archive handle, keeping wanted regular files. */
static int collect_tar(struct archive *a, const char *archive_path, const Source *source,
                       MemberList *out, char *err, int errlen)
{
    size_t cap = 0;
    struct archive_entry *entry;
    int rc;
    while ((rc = archive_read_next_header(a, &entry)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
        if (archive_entry_filetype(entry) != AE_IFREG) continue;
        const char *name = archive_entry_pathname(entry);
        if (!name) continue;
        while (name[0] == '.' && name[1] == '/')
            name += 2;
        if (!source_wants(source, name)) continue;
        if (out->count == cap) {
            cap = cap ? cap * 2 : 256;
            MemberFile *grown = realloc(out->files, cap * sizeof *grown);
            if (!grown) {
                snprintf(err, errlen, "%s: out of memory", archive_path);
                return -1;
            }
            out->files = grown;
        }
        MemberFile *m = &out->files[out->count];
        m->path = strdup(name);
        if (!m->path || read_entry_data(a, entry, &m->data, &m->len) != 0) {
            snprintf(err, errlen, "%s: member %s: cannot read: %s", archive_path, name,
                     archive_error_string(a) ? archive_error_string(a) : "out of memory");
            free(m->path);
            return -1;
        }
        out->count++;
    }
    if (rc != ARCHIVE_EOF) {
        snprintf(err, errlen, "%s: corrupt archive: %s", archive_path,
                 archive_error_string(a) ? archive_error_string(a) : "unknown error");
        return -1;
    }
    return 0;
}

static int read_deb(const char *path, const Source *source, MemberList *out, char *err, int errlen)
{
    struct archive *outer = archive_read_new();
    archive_read_support_format_ar(outer);
    if (archive_read_open_filename(outer, path, 1 << 16) != ARCHIVE_OK) {
        snprintf(err, errlen, "%s: not a readable .deb: %s", path, archive_error_string(outer));
        archive_read_free(outer);
        return -1;
    }
    struct archive_entry *entry;
    int rc, found = 0, result = -1;
    while ((rc = archive_read_next_header(outer, &entry)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(entry);
        if (!name || strncmp(name, "data.tar", 8) != 0) continue;
        found = 1;
        unsigned char *payload;
        size_t payload_len;
        if (read_entry_data(outer, entry, &payload, &payload_len) != 0) {
            snprintf(err, errlen, "%s: cannot read %s: %s", path, name,
                     archive_error_string(outer) ? archive_error_string(outer) : "no memory");
            break;
        }
        struct archive *inner = archive_read_new();
        archive_read_support_filter_all(inner);
        archive_read_support_format_tar(inner);
        if (archive_read_open_memory(inner, payload, payload_len) != ARCHIVE_OK) {
            snprintf(err, errlen, "%s: %s is not a readable tar: %s", path, name,
                     archive_error_string(inner));
        } else {
            result = collect_tar(inner, path, source, out, err, errlen);
        }
        archive_read_free(inner);
        free(payload);
        break;
    }
    if (!found && result != 0 && rc == ARCHIVE_EOF)
        snprintf(err, errlen, "%s: no data.tar member: not a Debian package", path);
    else if (!found && rc != ARCHIVE_EOF)
        snprintf(err, errlen, "%s: corrupt .deb: %s", path, archive_error_string(outer));
    archive_read_free(outer);
    return result;
}

static int read_tgz(const char *path, const Source *source, MemberList *out, char *err, int errlen)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    int result = -1;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK)
        snprintf(err, errlen, "%s: not a readable npm tarball: %s", path, archive_error_string(a));
    else
        result = collect_tar(a, path, source, out, err, errlen);
    archive_read_free(a);
    return result;
}

int archive_read_members(const char *archive_path, const Source *source, MemberList *out, char *err,
                         int errlen)
{
    memset(out, 0, sizeof *out);
    int rc = source->registry == REGISTRY_DEB ? read_deb(archive_path, source, out, err, errlen)
                                              : read_tgz(archive_path, source, out, err, errlen);
    if (rc != 0) {
        member_list_free(out);
        return -1;
    }
    if (out->count) qsort(out->files, out->count, sizeof *out->files, compare_members);
    return 0;
}

void member_list_free(MemberList *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->files[i].path);
        free(list->files[i].data);
    }
    free(list->files);
    memset(list, 0, sizeof *list);
}

unsigned char *gunzip_buffer(const unsigned char *data, size_t len, size_t *out_len,
                             const char *what, char *err, int errlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        snprintf(err, errlen, "%s: zlib init failed", what);
        return NULL;
    }
    size_t cap = len * 4 + 1024, used = 0;
    unsigned char *out = malloc(cap + 1);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    int rc = Z_OK;
    while (out && rc != Z_STREAM_END) {
        if (used == cap) {
            cap *= 2;
            unsigned char *grown = realloc(out, cap + 1);
            if (!grown) {
                free(out);
                out = NULL;
                break;
            }
            out = grown;
        }
        z.next_out = out + used;
        z.avail_out = (uInt)(cap - used);
        rc = inflate(&z, Z_NO_FLUSH);
        used = cap - z.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END) break;
    }
    inflateEnd(&z);
    if (!out || rc != Z_STREAM_END) {
        snprintf(err, errlen, "%s: corrupt gzip data (zlib %d)", what, rc);
        free(out);
        return NULL;
    }
    out[used] = '\0';
    *out_len = used;
    return out;
}
