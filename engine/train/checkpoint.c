/* engine/train/checkpoint.c: writing checkpoints atomically and reading them back with every
 * size and checksum verified. See checkpoint.h for the layout. */
#include "engine/train/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fnv.h"
#include "engine/train/config.h"

#define STATE_FIELDS 16
_Static_assert(sizeof(TrainState) == STATE_FIELDS * 8, "TrainState fields are 8 bytes each, no padding");

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int write_all(FILE *f, const void *p, size_t n)
{
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

/* The directory entry of a rename is durable only after the directory is synced. */
static void fsync_parent_dir(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int checkpoint_write(const char *path, const TrainState *state, const char *config_text,
                     const float *params, const float *m, const float *v, size_t n_params,
                     char *err, int errlen)
{
    uint64_t text_len = strlen(config_text);
    unsigned char text_len_bytes[8];
    put_u64(text_len_bytes, text_len);
    size_t tensor_bytes = n_params * sizeof(float);
    uint64_t payload_bytes = sizeof(TrainState) + 8 + text_len + 3 * (uint64_t)tensor_bytes;

    uint64_t sum = FNV1A64_INIT;
    sum = fnv1a64(state, sizeof *state, sum);
    sum = fnv1a64(text_len_bytes, 8, sum);
    sum = fnv1a64(config_text, text_len, sum);
    sum = fnv1a64(params, tensor_bytes, sum);
    sum = fnv1a64(m, tensor_bytes, sum);
    sum = fnv1a64(v, tensor_bytes, sum);

    unsigned char header[CHECKPOINT_HEADER_BYTES];
    memset(header, 0, sizeof header);
    memcpy(header, CHECKPOINT_MAGIC, 8);
    put_u32(header + 8, CHECKPOINT_VERSION);
    put_u32(header + 12, CHECKPOINT_HEADER_BYTES);
    put_u64(header + 16, n_params);
    put_u64(header + 24, state->config_hash);
    put_u64(header + 32, (uint64_t)state->step);
    put_u64(header + 40, payload_bytes);
    put_u64(header + 48, sum);
    put_u64(header + 88, fnv1a64(header, 88, FNV1A64_INIT));

    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    int bad = write_all(f, header, sizeof header) || write_all(f, state, sizeof *state) ||
              write_all(f, text_len_bytes, 8) || write_all(f, config_text, text_len) ||
              write_all(f, params, tensor_bytes) || write_all(f, m, tensor_bytes) ||
              write_all(f, v, tensor_bytes);
    if (!bad) bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved_errno = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved_errno = errno;
    }
    if (bad) {
        unlink(tmp);
        snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(saved_errno));
        return -1;
    }
    if (rename(tmp, path) != 0) {
        saved_errno = errno;
        unlink(tmp);
        snprintf(err, errlen, "%s: cannot rename into place: %s", path, strerror(saved_errno));
        return -1;
    }
    fsync_parent_dir(path);
    return 0;
}

void checkpoint_free(Checkpoint *c)
{
    free(c->config_text);
    free(c->params);
    free(c->m);
    free(c->v);
    memset(c, 0, sizeof *c);
}

static int corrupt(const char *path, char *err, int errlen, const char *what)
{
    snprintf(err, errlen, "%s: corrupt checkpoint: %s", path, what);
    return -1;
}

int checkpoint_read(const char *path, Checkpoint *out, char *err, int errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    unsigned char header[CHECKPOINT_HEADER_BYTES];
    int rc = -1;
    unsigned char *payload = NULL;
    if ((uint64_t)st.st_size < CHECKPOINT_HEADER_BYTES || fread(header, 1, sizeof header, f) != sizeof header) {
        corrupt(path, err, errlen, "shorter than its header (truncated?)");
        goto done;
    }
    if (memcmp(header, CHECKPOINT_MAGIC, 8) != 0) {
        corrupt(path, err, errlen, "bad magic (not a dlcm checkpoint)");
        goto done;
    }
    if (get_u64(header + 88) != fnv1a64(header, 88, FNV1A64_INIT)) {
        corrupt(path, err, errlen, "header checksum mismatch");
        goto done;
    }
    if (get_u32(header + 8) != CHECKPOINT_VERSION) {
        snprintf(err, errlen, "%s: checkpoint version %u, this program reads version %u", path,
                 get_u32(header + 8), CHECKPOINT_VERSION);
        goto done;
    }
    uint64_t n_params = get_u64(header + 16);
    uint64_t payload_bytes = get_u64(header + 40);
    if ((uint64_t)st.st_size != CHECKPOINT_HEADER_BYTES + payload_bytes) {
        char msg[160];
        snprintf(msg, sizeof msg, "file has %lld bytes, its header says %llu (truncated?)",
                 (long long)st.st_size, (unsigned long long)(CHECKPOINT_HEADER_BYTES + payload_bytes));
        corrupt(path, err, errlen, msg);
        goto done;
    }
    /* Divided, not multiplied: a forged count times 12 could wrap around to a small number. */
    if (payload_bytes < sizeof(TrainState) + 8 ||
        n_params > (payload_bytes - sizeof(TrainState) - 8) / (3 * sizeof(float))) {
        corrupt(path, err, errlen, "payload smaller than its parameter count");
        goto done;
    }
    payload = malloc(payload_bytes);
    if (!payload) {
        snprintf(err, errlen, "%s: out of memory reading %llu bytes", path, (unsigned long long)payload_bytes);
        goto done;
    }
    if (fread(payload, 1, payload_bytes, f) != payload_bytes) {
        corrupt(path, err, errlen, "short read");
        goto done;
    }
    if (fnv1a64(payload, payload_bytes, FNV1A64_INIT) != get_u64(header + 48)) {
        corrupt(path, err, errlen, "payload checksum mismatch");
        goto done;
    }
    const unsigned char *p = payload;
    memcpy(&out->state, p, sizeof out->state);
    p += sizeof out->state;
    uint64_t text_len = get_u64(p);
    p += 8;
    size_t tensor_bytes = n_params * sizeof(float);
    if (text_len != payload_bytes - sizeof(TrainState) - 8 - 3 * tensor_bytes) {
        corrupt(path, err, errlen, "inconsistent config length");
        goto done;
    }
    out->config_text = malloc(text_len + 1);
    out->params = malloc(tensor_bytes ? tensor_bytes : 1);
    out->m = malloc(tensor_bytes ? tensor_bytes : 1);
    out->v = malloc(tensor_bytes ? tensor_bytes : 1);
    if (!out->config_text || !out->params || !out->m || !out->v) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto done;
    }
    memcpy(out->config_text, p, text_len);
    out->config_text[text_len] = '\0';
    p += text_len;
    memcpy(out->params, p, tensor_bytes);
    memcpy(out->m, p + tensor_bytes, tensor_bytes);
    memcpy(out->v, p + 2 * tensor_bytes, tensor_bytes);
    out->n_params = n_params;
    if (out->state.config_hash != get_u64(header + 24) || (uint64_t)out->state.step != get_u64(header + 32)) {
        corrupt(path, err, errlen, "header and state disagree");
        goto done;
    }
    rc = 0;
done:
    free(payload);
    fclose(f);
    if (rc) checkpoint_free(out);
    return rc;
}
