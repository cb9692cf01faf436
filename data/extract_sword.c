/* data/extract_sword.c: SWORD zText/zCom Bible and commentary modules read directly (block index,
 * entry index, zlib blocks), each linked entry once, OSIS markup reduced to paragraphs. */
#include "data/extract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* Layout: *.?zs holds (offset, compressed size, size) per zlib block; *.?zv holds (block, offset,
 * size) per entry, 10 bytes (2-byte size) or 12 in the "4" drivers. Entries that several verses
 * link to are read once (rendering verse by verse repeats them thousands of times). */

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Builds paragraphs from OSIS fragments: text accumulates until a structural tag. */
typedef struct {
    Corpus *corpus;
    int source;
    Buf paragraph;
    int note_depth;
} OsisReader;

static void osis_break(OsisReader *r)
{
    if (r->paragraph.len) corpus_add_paragraph(r->corpus, r->paragraph.data, r->paragraph.len);
    buf_clear(&r->paragraph);
}

static int tag_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

static void osis_feed(OsisReader *r, const char *s, size_t len)
{
    size_t i = 0;
    if (r->paragraph.len) buf_putc(&r->paragraph, ' '); /* consecutive verses run on */
    while (i < len) {
        if (s[i] != '<') {
            size_t end = i;
            while (end < len && s[end] != '<')
                end++;
            if (r->note_depth == 0) text_decode_entities(s + i, end - i, &r->paragraph);
            i = end;
            continue;
        }
        size_t end = i + 1;
        while (end < len && s[end] != '>')
            end++;
        const char *tag = s + i + 1;
        size_t tag_len = end - i - 1;
        int closing = tag_len > 0 && tag[0] == '/';
        int self_closing = tag_len > 0 && tag[tag_len - 1] == '/';
        const char *name = closing ? tag + 1 : tag;
        size_t name_len = 0;
        while (name + name_len < tag + tag_len && name[name_len] != ' ' && name[name_len] != '/')
            name_len++;
        if (tag_is(name, name_len, "note")) {
            if (closing && r->note_depth > 0)
                r->note_depth--;
            else if (!closing && !self_closing)
                r->note_depth++;
        } else if (r->note_depth == 0 &&
                   (tag_is(name, name_len, "p") || tag_is(name, name_len, "div") ||
                    tag_is(name, name_len, "title") || tag_is(name, name_len, "lb") ||
                    tag_is(name, name_len, "l") || tag_is(name, name_len, "lg") ||
                    tag_is(name, name_len, "br") || tag_is(name, name_len, "chapter") ||
                    tag_is(name, name_len, "item") || tag_is(name, name_len, "list") ||
                    tag_is(name, name_len, "head"))) {
            osis_break(r);
        }
        i = end < len ? end + 1 : len;
    }
}

/* The conf value of key (e.g. DataPath) into out. */
static int conf_value(const MemberFile *conf, const char *key, char *out, size_t cap)
{
    const char *p = (const char *)conf->data;
    size_t k = strlen(key);
    while (p && *p) {
        if (strncmp(p, key, k) == 0 && p[k] == '=') {
            const char *v = p + k + 1;
            size_t n = strcspn(v, "\r\n");
            if (n >= cap) return -1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

static const MemberFile *find_index_file(const MemberList *files, const char *dir,
                                         const char *testament, char kind)
{
    size_t dir_len = strlen(dir);
    for (size_t i = 0; i < files->count; i++) {
        const char *path = files->files[i].path;
        if (strncmp(path, dir, dir_len) != 0) continue;
        const char *base = path + dir_len;
        /* "<testament>.<b|c|v>z<kind>" */
        if (strncmp(base, testament, 2) == 0 && base[2] == '.' && strlen(base) == 6 &&
            base[4] == 'z' && base[5] == kind)
            return &files->files[i];
    }
    return NULL;
}

static int read_testament(OsisReader *r, const char *module, const char *dir, int four_byte_size,
                          const char *testament, const MemberList *files, char *err, int errlen)
{
    const MemberFile *blocks = find_index_file(files, dir, testament, 's');
    const MemberFile *entries = find_index_file(files, dir, testament, 'v');
    const MemberFile *data = find_index_file(files, dir, testament, 'z');
    if (!blocks || !entries || !data || entries->len == 0) return 0; /* testament absent */
    size_t entry_size = four_byte_size && entries->len % 12 == 0 ? 12 : 10;
    if (entries->len % entry_size != 0 || blocks->len % 12 != 0) {
        snprintf(err, errlen, "%s: entry index of %zu bytes is not a multiple of %zu",
                 entries->path, entries->len, entry_size);
        return -1;
    }
    size_t n_blocks = blocks->len / 12, n_entries = entries->len / entry_size;
    char unit[128];
    snprintf(unit, sizeof unit, "%s-%s", module, testament);
    corpus_begin_unit(r->corpus, r->source, unit);
    unsigned char *block = NULL;
    size_t block_len = 0;
    long current_block = -1;
    /* entries are read once each: remember (block, offset) pairs already seen */
    uint64_t *seen = calloc(n_entries + 1, sizeof *seen);
    size_t n_seen = 0;
    int rc = 0;
    for (size_t e = 0; e < n_entries && rc == 0; e++) {
        const unsigned char *ent = entries->data + e * entry_size;
        uint32_t b = le32(ent), offset = le32(ent + 4);
        uint32_t size = entry_size == 12 ? le32(ent + 8) : (uint32_t)(ent[8] | ent[9] << 8);
        if (size == 0) continue;
        uint64_t key = (uint64_t)b << 32 | offset;
        int repeated = 0;
        for (size_t k = n_seen; k > 0 && k + 64 > n_seen; k--) /* links point near each other */
            if (seen[k - 1] == key) {
                repeated = 1;
                break;
            }
        if (repeated) continue;
        seen[n_seen++] = key;
        if (b >= n_blocks) {
            snprintf(err, errlen, "%s: entry %zu names block %u of %zu", entries->path, e, b,
                     n_blocks);
            rc = -1;
            break;
        }
        if ((long)b != current_block) {
            const unsigned char *bi = blocks->data + (size_t)b * 12;
            uint32_t start = le32(bi), compressed = le32(bi + 4), uncompressed = le32(bi + 8);
            free(block);
            block = malloc((size_t)uncompressed + 1);
            uLongf out_len = uncompressed;
            if (!block || (uint64_t)start + compressed > data->len ||
                uncompress(block, &out_len, data->data + start, compressed) != Z_OK) {
                snprintf(err, errlen, "%s: block %u (offset %u, %u bytes) is corrupt", data->path,
                         b, start, compressed);
                rc = -1;
                break;
            }
            block_len = out_len;
            current_block = b;
        }
        if ((uint64_t)offset + size > block_len) {
            snprintf(err, errlen, "%s: entry %zu runs past its block", entries->path, e);
            rc = -1;
            break;
        }
        osis_feed(r, (const char *)block + offset, size);
    }
    osis_break(r);
    free(seen);
    free(block);
    return rc;
}

int extract_sword(Corpus *c, int src, const MemberList *files, char *err, int errlen)
{
    int modules = 0;
    for (size_t i = 0; i < files->count; i++) {
        const MemberFile *conf = &files->files[i];
        size_t n = strlen(conf->path);
        if (n < 5 || strcmp(conf->path + n - 5, ".conf") != 0) continue;
        char data_path[256], driver[64], dir[512];
        if (conf_value(conf, "DataPath", data_path, sizeof data_path) != 0 ||
            conf_value(conf, "ModDrv", driver, sizeof driver) != 0) {
            snprintf(err, errlen, "%s: no DataPath or ModDrv", conf->path);
            return -1;
        }
        const char *rel = strncmp(data_path, "./", 2) == 0 ? data_path + 2 : data_path;
        snprintf(dir, sizeof dir, "usr/share/sword/%s%s", rel,
                 rel[strlen(rel) - 1] == '/' ? "" : "/");
        int four_byte_size = driver[strlen(driver) - 1] == '4';
        const char *module = member_unit_name(conf->path, "usr/share/sword/mods.d/", ".conf");
        char module_name[128];
        snprintf(module_name, sizeof module_name, "%s", module);
        OsisReader reader = {c, src, {0}, 0};
        if (read_testament(&reader, module_name, dir, four_byte_size, "ot", files, err, errlen) ||
            read_testament(&reader, module_name, dir, four_byte_size, "nt", files, err, errlen)) {
            buf_free(&reader.paragraph);
            return -1;
        }
        corpus_end_unit(c);
        buf_free(&reader.paragraph);
        modules++;
    }
    if (modules == 0) {
        snprintf(err, errlen, "no SWORD module .conf among the package's files");
        return -1;
    }
    return 0;
}
