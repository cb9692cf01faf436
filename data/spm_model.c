/* data/spm_model.c: a minimal protobuf reader for sentencepiece ModelProto: field 1 (repeated
 * SentencePiece{1: piece, 2: score, 3: type}); every other field is skipped by wire type. */
#include "data/spm_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *p, *end;
} Reader;

static int read_varint(Reader *r, uint64_t *value)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return -1;
        unsigned char byte = *r->p++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *value = v;
            return 0;
        }
    }
    return -1;
}

/* Skips one field's payload of the given wire type. */
static int skip_field(Reader *r, int wire_type)
{
    uint64_t n;
    switch (wire_type) {
    case 0: return read_varint(r, &n);
    case 1:
        if (r->end - r->p < 8) return -1;
        r->p += 8;
        return 0;
    case 2:
        if (read_varint(r, &n) != 0 || (uint64_t)(r->end - r->p) < n) return -1;
        r->p += n;
        return 0;
    case 5:
        if (r->end - r->p < 4) return -1;
        r->p += 4;
        return 0;
    default: return -1;
    }
}

static int parse_piece(Reader r, char **text, int *type)
{
    *text = NULL;
    *type = SPM_NORMAL;
    while (r.p < r.end) {
        uint64_t key;
        if (read_varint(&r, &key) != 0) return -1;
        int field = (int)(key >> 3), wire = (int)(key & 7);
        if (field == 1 && wire == 2) {
            uint64_t n;
            if (read_varint(&r, &n) != 0 || (uint64_t)(r.end - r.p) < n) return -1;
            free(*text);
            *text = malloc(n + 1);
            if (!*text) return -1;
            memcpy(*text, r.p, n);
            (*text)[n] = '\0';
            r.p += n;
        } else if (field == 3 && wire == 0) {
            uint64_t v;
            if (read_varint(&r, &v) != 0) return -1;
            *type = (int)v;
        } else if (skip_field(&r, wire) != 0) {
            return -1;
        }
    }
    return *text ? 0 : -1;
}

/* parse_piece, releasing the partial piece text when the record is malformed. */
static int parse_piece_or_free(Reader r, char **text, int *type)
{
    if (parse_piece(r, text, type) == 0) return 0;
    free(*text);
    *text = NULL;
    return -1;
}

int spm_model_load(const char *path, SpmModel *model, char *err, int errlen)
{
    memset(model, 0, sizeof *model);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    unsigned char *data = NULL;
    size_t size = 0, cap = 0, n;
    unsigned char chunk[65536];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (size + n > cap) {
            cap = (size + n) * 2;
            unsigned char *grown = realloc(data, cap);
            if (!grown) {
                free(data);
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", path);
                return -1;
            }
            data = grown;
        }
        memcpy(data + size, chunk, n);
        size += n;
    }
    fclose(f);
    Reader r = {data, data + size};
    uint32_t cap_pieces = 0;
    int ok = size > 0;
    while (ok && r.p < r.end) {
        uint64_t key;
        if (read_varint(&r, &key) != 0) {
            ok = 0;
            break;
        }
        int field = (int)(key >> 3), wire = (int)(key & 7);
        if (field != 1 || wire != 2) {
            if (skip_field(&r, wire) != 0) ok = 0;
            continue;
        }
        uint64_t len;
        if (read_varint(&r, &len) != 0 || (uint64_t)(r.end - r.p) < len) {
            ok = 0;
            break;
        }
        Reader sub = {r.p, r.p + len};
        r.p += len;
        if (model->count == cap_pieces) {
            cap_pieces = cap_pieces ? cap_pieces * 2 : 1024;
            char **pieces = realloc(model->pieces, cap_pieces * sizeof *pieces);
            if (pieces) model->pieces = pieces;
            int *types = realloc(model->types, cap_pieces * sizeof *types);
            if (types) model->types = types;
            if (!pieces || !types) {
                ok = 0;
                break;
            }
        }
        if (parse_piece_or_free(sub, &model->pieces[model->count], &model->types[model->count]) !=
            0) {
            ok = 0;
            break;
        }
        model->count++;
    }
    free(data);
    if (!ok || model->count == 0) {
        snprintf(err, errlen, "%s: not a sentencepiece model (malformed piece %u)", path,
                 model->count);
        spm_model_free(model);
        return -1;
    }
    return 0;
}

void spm_model_free(SpmModel *model)
{
    for (uint32_t i = 0; i < model->count; i++)
        free(model->pieces[i]);
    free(model->pieces);
    free(model->types);
    memset(model, 0, sizeof *model);
}

int32_t spm_model_find(const SpmModel *model, const char *piece)
{
    for (uint32_t i = 0; i < model->count; i++)
        if (strcmp(model->pieces[i], piece) == 0) return (int32_t)i;
    return -1;
}
