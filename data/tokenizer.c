/* data/tokenizer.c: the byte tokenizer (ids are the UTF-8 bytes, 0 is end-of-text) and the
 * sentencepiece BPE tokenizer (encoding through spm_encode, decoding from the model's pieces). */
#include "data/tokenizer.h"

#include "data/bpe.h"
#include "util/spawn.h"
#include "data/spm_model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { TOKENIZER_BYTE, TOKENIZER_BPE } TokenizerKind;

struct Tokenizer {
    TokenizerKind kind;
    char id[32];
    char model_path[1024];
    uint32_t vocab, eot;
    int32_t newline;
    SpmModel model;
};

Tokenizer *tokenizer_open(const char *id, const char *data_dir, char *err, int errlen)
{
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "tokenizer: out of memory");
        return NULL;
    }
    if (strcmp(id, "byte") == 0) {
        t->kind = TOKENIZER_BYTE;
        strcpy(t->id, "byte");
        t->vocab = 256;
        t->eot = 0;
        t->newline = '\n';
        return t;
    }
    char *end;
    long size = strncmp(id, "bpe", 3) == 0 ? strtol(id + 3, &end, 10) : 0;
    if (size < 300 || size > 65536 || *end != '\0' || strlen(id) >= sizeof t->id) {
        snprintf(err, errlen, "tokenizer '%s': unknown (use byte or bpe<vocab>, e.g. bpe4096)", id);
        free(t);
        return NULL;
    }
    t->kind = TOKENIZER_BPE;
    strcpy(t->id, id);
    snprintf(t->model_path, sizeof t->model_path, "%s/%s/tokenizer.model", data_dir, id);
    if (spm_model_load(t->model_path, &t->model, err, errlen) != 0) {
        free(t);
        return NULL;
    }
    t->vocab = t->model.count;
    int32_t eot = spm_model_find(&t->model, BPE_EOT_PIECE);
    t->newline = spm_model_find(&t->model, BPE_NEWLINE_PIECE);
    if (t->vocab != (uint32_t)size || eot < 0 || t->newline < 0) {
        snprintf(err, errlen,
                 "%s: %u pieces (expected %ld), end-of-text piece %s, newline piece %s",
                 t->model_path, t->vocab, size, eot < 0 ? "missing" : "present",
                 t->newline < 0 ? "missing" : "present");
        tokenizer_close(t);
        return NULL;
    }
    t->eot = (uint32_t)eot;
    return t;
}

void tokenizer_close(Tokenizer *t)
{
    if (!t) return;
    if (t->kind == TOKENIZER_BPE) spm_model_free(&t->model);
    free(t);
}

const char *tokenizer_id(const Tokenizer *t) { return t->id; }
uint32_t tokenizer_vocab(const Tokenizer *t) { return t->vocab; }
uint32_t tokenizer_eot(const Tokenizer *t) { return t->eot; }

static long encode_bytes(const char *text, size_t len, int32_t **ids, char *err, int errlen)
{
    *ids = malloc((len ? len : 1) * sizeof **ids);
    if (!*ids) {
        snprintf(err, errlen, "tokenizer byte: out of memory");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0') {
            snprintf(err, errlen,
                     "tokenizer byte: text contains a NUL byte at %zu (NUL is the "
                     "end-of-text token)",
                     i);
            free(*ids);
            *ids = NULL;
            return -1;
        }
        (*ids)[i] = (unsigned char)text[i];
    }
    return (long)len;
}

static int push_id(int32_t **ids, size_t *count, size_t *capacity, int32_t id)
{
    if (*count == *capacity) {
        size_t cap = *capacity ? *capacity * 2 : 256;
        int32_t *grown = realloc(*ids, cap * sizeof *grown);
        if (!grown) return -1;
        *ids = grown;
        *capacity = cap;
    }
    (*ids)[(*count)++] = id;
    return 0;
}

/* spm_encode works on lines: write every text's lines to one temporary file, encode it in one
 * run, and join each text's lines' ids with the newline piece. */
static int encode_bpe_many(Tokenizer *t, const char *const *texts, const size_t *lens, size_t n,
                           int32_t **ids, long *counts, char *err, int errlen)
{
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir) tmpdir = "/tmp";
    /* Both files in a fresh private directory (mkdtemp, mode 0700): spm_encode creates its output
     * by name, and a predictable name beside a shared /tmp could be planted or raced. */
    char dir[1024], in_path[1100], out_path[1100];
    snprintf(dir, sizeof dir, "%s/dlcm-spm-XXXXXX", tmpdir);
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "tokenizer %s: cannot create a temporary directory in %s: %s", t->id,
                 tmpdir, strerror(errno));
        return -1;
    }
    snprintf(in_path, sizeof in_path, "%s/text", dir);
    snprintf(out_path, sizeof out_path, "%s/ids", dir);
    int fd = open(in_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "tokenizer %s: cannot create %s: %s", t->id, in_path, strerror(errno));
        rmdir(dir);
        return -1;
    }
    FILE *in = fdopen(fd, "wb");
    int write_failed = !in;
    for (size_t i = 0; i < n && !write_failed; i++) {
        if (memchr(texts[i], '\0', lens[i])) {
            snprintf(err, errlen, "tokenizer %s: text %zu contains a NUL byte", t->id, i);
            fclose(in);
            unlink(in_path);
            rmdir(dir);
            return -1;
        }
        write_failed = fwrite(texts[i], 1, lens[i], in) != lens[i] || fputc('\n', in) == EOF;
    }
    if (in) write_failed |= fclose(in) != 0;
    int rc = -1;
    for (size_t i = 0; i < n; i++)
        ids[i] = NULL;
    FILE *out = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    if (write_failed) {
        snprintf(err, errlen, "tokenizer %s: cannot write %s", t->id, in_path);
        goto done;
    }
    int pid = bpe_encode_start(t->model_path, in_path, out_path, err, errlen);
    if (pid < 0 || spawn_wait(pid, "spm_encode", err, errlen) != 0) goto done;
    out = fopen(out_path, "r");
    if (!out) {
        snprintf(err, errlen, "tokenizer %s: spm_encode wrote no %s", t->id, out_path);
        goto done;
    }
    long line_no = 0;
    for (size_t i = 0; i < n; i++) {
        size_t lines = 1, count = 0, capacity = 0;
        for (size_t k = 0; k < lens[i]; k++)
            lines += texts[i][k] == '\n';
        for (size_t l = 0; l < lines; l++) {
            line_no++;
            if (l > 0 && push_id(&ids[i], &count, &capacity, t->newline) != 0) {
                snprintf(err, errlen, "tokenizer %s: out of memory", t->id);
                goto done;
            }
            if (getline(&line, &line_cap, out) < 0 ||
                bpe_parse_id_line(line, t->vocab, &ids[i], &count, &capacity) < 0) {
                snprintf(err, errlen, "%s: line %ld: missing or malformed spm_encode output",
                         out_path, line_no);
                goto done;
            }
        }
        if (!ids[i] && push_id(&ids[i], &count, &capacity, 0) == 0) count = 0;
        if (!ids[i]) {
            snprintf(err, errlen, "tokenizer %s: out of memory", t->id);
            goto done;
        }
        counts[i] = (long)count;
    }
    rc = 0;
done:
    if (rc != 0)
        for (size_t i = 0; i < n; i++) {
            free(ids[i]);
            ids[i] = NULL;
        }
    free(line);
    if (out) fclose(out);
    unlink(in_path);
    unlink(out_path);
    rmdir(dir);
    return rc;
}

int tokenizer_encode_many(Tokenizer *t, const char *const *texts, const size_t *lens, size_t n,
                          int32_t **ids, long *counts, char *err, int errlen)
{
    if (t->kind == TOKENIZER_BPE)
        return encode_bpe_many(t, texts, lens, n, ids, counts, err, errlen);
    for (size_t i = 0; i < n; i++) {
        counts[i] = encode_bytes(texts[i], lens[i], &ids[i], err, errlen);
        if (counts[i] < 0) {
            for (size_t k = 0; k < i; k++) {
                free(ids[k]);
                ids[k] = NULL;
            }
            return -1;
        }
    }
    return 0;
}

long tokenizer_encode(Tokenizer *t, const char *text, size_t len, int32_t **ids, char *err,
                      int errlen)
{
    long count;
    *ids = NULL;
    if (tokenizer_encode_many(t, &text, &len, 1, ids, &count, err, errlen) != 0) return -1;
    return count;
}

/* Growable output string for decoding. */
typedef struct {
    char *data;
    size_t len, cap;
} Text;

static int text_append(Text *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = (s->len + n + 1) * 2;
        char *grown = realloc(s->data, cap);
        if (!grown) return -1;
        s->data = grown;
        s->cap = cap;
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
    s->data[s->len] = '\0';
    return 0;
}

/* Appends a BPE piece: U+2581 is a space, dropped when it is the dummy prefix that
 * sentencepiece adds at the start of each line; <0xNN> pieces are raw bytes. */
static int append_piece(const Tokenizer *t, int32_t id, int *at_line_start, Text *out)
{
    const char *piece = t->model.pieces[id];
    int type = t->model.types[id];
    if ((uint32_t)id == t->eot) return 0;
    if (id == t->newline) {
        *at_line_start = 1;
        return text_append(out, "\n", 1);
    }
    if (type == SPM_BYTE) {
        unsigned int byte;
        if (sscanf(piece, "<0x%2X>", &byte) != 1) return -1;
        char c = (char)byte;
        *at_line_start = 0;
        return text_append(out, &c, 1);
    }
    if (type == SPM_UNKNOWN) {
        *at_line_start = 0;
        return text_append(out, "\xe2\x81\x87", 3); /* U+2047, as spm_decode shows it */
    }
    if (type == SPM_CONTROL) return 0;
    for (const char *p = piece; *p;) {
        if (strncmp(p, "\xe2\x96\x81", 3) == 0) {
            if (!*at_line_start && text_append(out, " ", 1) != 0) return -1;
            p += 3;
        } else {
            if (text_append(out, p, 1) != 0) return -1;
            p++;
        }
        *at_line_start = 0;
    }
    return 0;
}

char *tokenizer_decode(Tokenizer *t, const int32_t *ids, size_t n, char *err, int errlen)
{
    Text out = {0};
    if (text_append(&out, "", 0) != 0) goto oom;
    int at_line_start = 1;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (uint32_t)ids[i] >= t->vocab) {
            snprintf(err, errlen, "tokenizer %s: id %d at position %zu outside 0..%u", t->id,
                     ids[i], i, t->vocab - 1);
            free(out.data);
            return NULL;
        }
        if (t->kind == TOKENIZER_BYTE) {
            if ((uint32_t)ids[i] == t->eot) continue;
            char c = (char)ids[i];
            if (text_append(&out, &c, 1) != 0) goto oom;
        } else if (append_piece(t, ids[i], &at_line_start, &out) != 0) {
            goto oom;
        }
    }
    return out.data;
oom:
    free(out.data);
    snprintf(err, errlen, "tokenizer %s: out of memory or malformed piece while decoding", t->id);
    return NULL;
}

char *tokenizer_piece(Tokenizer *t, int32_t id)
{
    if (id < 0 || (uint32_t)id >= t->vocab) return NULL;
    if (t->kind == TOKENIZER_BYTE) {
        char *s = malloc(2);
        if (s) {
            s[0] = (char)id;
            s[1] = '\0';
        }
        return s;
    }
    return strdup(t->model.pieces[id]);
}
