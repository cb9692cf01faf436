/* tests/test_train_checkpoint.c: checkpoints round-trip exactly, and a truncated file, a flipped
 * byte anywhere, or a wrong magic are refused with a message naming the file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/train/checkpoint.h"

#define N_PARAMS 1000

static void make_state(TrainState *s)
{
    memset(s, 0, sizeof *s);
    s->step = 7;
    s->loader_position = 9;
    s->config_hash = 0x1234567890abcdefull;
    s->seed = 3;
    s->initial_loss = 5.5;
    s->flops_launched = 1e9;
    s->tokens_done = 4096;
}

static void write_sample(const char *path, float *p, float *m, float *v)
{
    for (int i = 0; i < N_PARAMS; i++) {
        p[i] = (float)i * 0.5f;
        m[i] = -(float)i;
        v[i] = (float)i * (float)i;
    }
    TrainState s;
    make_state(&s);
    char err[512];
    cr_assert_eq(checkpoint_write(path, &s, "model:\n  d_t: 64\n", p, m, v, N_PARAMS, err, sizeof err), 0, "%s", err);
}

static void temp_path(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "/tmp/dlcm-test-ckpt-%s-%d.bin", tag, (int)getpid());
}

Test(train_checkpoint, round_trips_bytewise)
{
    char path[256], err[512];
    temp_path(path, sizeof path, "rt");
    static float p[N_PARAMS], m[N_PARAMS], v[N_PARAMS];
    write_sample(path, p, m, v);
    Checkpoint ck;
    cr_assert_eq(checkpoint_read(path, &ck, err, sizeof err), 0, "%s", err);
    TrainState s;
    make_state(&s);
    cr_assert_eq(memcmp(&ck.state, &s, sizeof s), 0);
    cr_assert_str_eq(ck.config_text, "model:\n  d_t: 64\n");
    cr_assert_eq(ck.n_params, N_PARAMS);
    cr_assert_eq(memcmp(ck.params, p, sizeof p), 0);
    cr_assert_eq(memcmp(ck.m, m, sizeof m), 0);
    cr_assert_eq(memcmp(ck.v, v, sizeof v), 0);
    checkpoint_free(&ck);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "no temporary file is left behind");
    unlink(path);
}

Test(train_checkpoint, truncated_file_is_refused)
{
    char path[256], err[512];
    temp_path(path, sizeof path, "trunc");
    static float p[N_PARAMS], m[N_PARAMS], v[N_PARAMS];
    write_sample(path, p, m, v);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    Checkpoint ck;
    off_t sizes[] = {st.st_size - 1, st.st_size / 2, 50, 0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        cr_assert_eq(truncate(path, sizes[i]), 0);
        cr_assert_neq(checkpoint_read(path, &ck, err, sizeof err), 0, "size %lld accepted", (long long)sizes[i]);
        cr_assert(strstr(err, path) != NULL, "names the file: %s", err);
        cr_assert(strstr(err, "corrupt") != NULL || strstr(err, "truncated") != NULL, "%s", err);
    }
    unlink(path);
}

Test(train_checkpoint, every_flipped_byte_region_is_detected)
{
    char path[256], err[512];
    temp_path(path, sizeof path, "flip");
    static float p[N_PARAMS], m[N_PARAMS], v[N_PARAMS];
    write_sample(path, p, m, v);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    /* header fields, state, config text, params, m, v, last byte */
    long offsets[] = {0, 9, 20, 33, 50, 90, 100, 230, 300, 4000, 8500, (long)st.st_size - 1};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        write_sample(path, p, m, v);
        FILE *f = fopen(path, "r+b");
        cr_assert_not_null(f);
        fseek(f, offsets[i], SEEK_SET);
        int c = fgetc(f);
        fseek(f, offsets[i], SEEK_SET);
        fputc(c ^ 0x10, f);
        fclose(f);
        Checkpoint ck;
        cr_assert_neq(checkpoint_read(path, &ck, err, sizeof err), 0, "flip at %ld accepted", offsets[i]);
        cr_assert(strstr(err, path) != NULL, "%s", err);
    }
    unlink(path);
}

Test(train_checkpoint, failed_write_keeps_the_previous_file)
{
    char path[256], err[512];
    temp_path(path, sizeof path, "keep");
    static float p[N_PARAMS], m[N_PARAMS], v[N_PARAMS];
    write_sample(path, p, m, v);
    TrainState s;
    make_state(&s);
    cr_assert_neq(checkpoint_write("/nonexistent-dir/x.bin", &s, "", p, m, v, N_PARAMS, err, sizeof err), 0);
    cr_assert(strstr(err, "/nonexistent-dir/x.bin") != NULL, "%s", err);
    Checkpoint ck;
    cr_assert_eq(checkpoint_read(path, &ck, err, sizeof err), 0, "%s", err);
    checkpoint_free(&ck);
    unlink(path);
}
