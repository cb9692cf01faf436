/* tests/test_train_guard.c: dlcm-train refuses what would overflow, escape or collide: a run of
 * more tokens than it can count, a run id that is a path component, a forged checkpoint whose
 * checksums match but whose counters no run could reach, and a second trainer in a run directory;
 * and it stops on SIGHUP (a closed terminal) as on SIGTERM, checkpointed and resumable. */
#include <criterion/criterion.h>
#include <sys/file.h>

#include "util/fnv.h"
#include "engine/train/checkpoint.h"
#include "engine/train/trainer.h"
#include "train_test_util.h"

typedef struct {
    char dir[256], config[320], out_dir[320], ckpt[400], out[320], err[320];
} Fixture;

static void fixture_open(Fixture *f, const char *tag)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/dlcm-test-guard-%s-%d", tag, (int)getpid());
    remove_tree(f->dir);
    cr_assert_eq(make_tiny_corpus(f->dir, 20000), 0);
    snprintf(f->config, sizeof f->config, "%s/run.yaml", f->dir);
    snprintf(f->out_dir, sizeof f->out_dir, "%s/run", f->dir);
    train_checkpoint_path(f->out_dir, f->ckpt, sizeof f->ckpt);
    snprintf(f->out, sizeof f->out, "%s/stdout", f->dir);
    snprintf(f->err, sizeof f->err, "%s/stderr", f->dir);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "data:\n  dir: %s\n  tokenizer: byte\nmodel:\n  family: dense\n  seq_len: 32\n  d_t: 64\n"
             "  n_layers: 1\ntrain:\n  batch: 2\n  steps: 6\neval:\n  interval: 3\n  batches: 1\n",
             f->dir);
    write_text(f->config, yaml);
}

/* dlcm-train CONFIG --out OUT plus up to two more arguments. */
static int train(const Fixture *f, const char *a, const char *b)
{
    char *argv[] = {"./bin/dlcm-train", (char *)f->config, "--out", (char *)f->out_dir, "--quiet", (char *)a,
                    (char *)b, NULL};
    return run_program(argv, f->out, f->err);
}

static void expect_refused(const Fixture *f, int code, const char *detail)
{
    char *err = slurp(f->err);
    cr_assert_eq(code, TRAIN_EXIT_BAD_INPUT, "exit %d: %s", code, err);
    cr_assert(strstr(err, detail) != NULL, "expected '%s' in: %s", detail, err);
    free(err);
}

Test(train_guard, token_counts_that_overflow_are_refused)
{
    Fixture f;
    fixture_open(&f, "steps");
    expect_refused(&f, train(&f, "--train.steps=1000000000000000000", "--print-config"), "train.steps: more than 2^53");
    expect_refused(&f, train(&f, "--tokens=1e18", "--print-config"), "train.tokens: more than 2^53");
    cr_assert_eq(train(&f, "--train.steps=1000000", "--print-config"), 0, "a long run is fine");
    remove_tree(f.dir);
}

Test(train_guard, run_id_is_never_a_path_component)
{
    Fixture f;
    fixture_open(&f, "runid");
    expect_refused(&f, train(&f, "--run-id", ".."), "run.id: '.' and '..' are not run ids");
    expect_refused(&f, train(&f, "--run-id", "."), "run.id");
    expect_refused(&f, train(&f, "--run-id", "a/b"), "run.id");
    cr_assert_neq(access(f.out_dir, F_OK), 0, "nothing is created for a refused id");
    remove_tree(f.dir);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Rewrites one 8-byte field of the checkpoint's state (field index, in TrainState order) and, as
 * a forger would, the header's copy of the step and both checksums. */
static void forge_state_field(const char *path, int field, uint64_t value)
{
    char *bytes = NULL;
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    rewind(fp);
    bytes = malloc((size_t)size);
    cr_assert_eq(fread(bytes, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    unsigned char *header = (unsigned char *)bytes, *payload = header + CHECKPOINT_HEADER_BYTES;
    put_u64(payload + 8 * field, value);
    if (field == 0) put_u64(header + 32, value);
    put_u64(header + 48, fnv1a64(payload, (size_t)size - CHECKPOINT_HEADER_BYTES, FNV1A64_INIT));
    put_u64(header + 88, fnv1a64(header, 88, FNV1A64_INIT));
    fp = fopen(path, "wb");
    cr_assert_eq(fwrite(bytes, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    free(bytes);
}

Test(train_guard, forged_checkpoint_counters_are_refused)
{
    Fixture f;
    fixture_open(&f, "forged");
    cr_assert_eq(train(&f, "--stop-at-step", "2"), 0, "%s", slurp(f.err));
    char *good = slurp(f.ckpt);
    struct stat st;
    cr_assert_eq(stat(f.ckpt, &st), 0);
    /* step 2^62: once resumed straight to done. */
    forge_state_field(f.ckpt, 0, (uint64_t)1 << 62);
    expect_refused(&f, train(&f, NULL, NULL), "corrupt checkpoint: step outside [0, train.steps]");
    /* Within the run, but the batches drawn do not match the step. */
    forge_state_field(f.ckpt, 0, 2);
    forge_state_field(f.ckpt, 1, 7);
    expect_refused(&f, train(&f, NULL, NULL), "corrupt checkpoint: training batches drawn");
    forge_state_field(f.ckpt, 1, 2);
    forge_state_field(f.ckpt, 6, (uint64_t)1 << 40); /* tokens_done */
    expect_refused(&f, train(&f, NULL, NULL), "corrupt checkpoint: tokens done");
    /* A parameter count that times 12 bytes wraps to a small number. */
    FILE *fp = fopen(f.ckpt, "wb");
    fwrite(good, 1, (size_t)st.st_size, fp);
    fclose(fp);
    fp = fopen(f.ckpt, "r+b");
    unsigned char header[CHECKPOINT_HEADER_BYTES];
    cr_assert_eq(fread(header, 1, sizeof header, fp), sizeof header);
    put_u64(header + 16, (uint64_t)1 << 62);
    put_u64(header + 88, fnv1a64(header, 88, FNV1A64_INIT));
    rewind(fp);
    fwrite(header, 1, sizeof header, fp);
    fclose(fp);
    expect_refused(&f, train(&f, NULL, NULL), "payload smaller than its parameter count");
    /* The real one still resumes. */
    fp = fopen(f.ckpt, "wb");
    fwrite(good, 1, (size_t)st.st_size, fp);
    fclose(fp);
    cr_assert_eq(train(&f, NULL, NULL), 0, "%s", slurp(f.err));
    free(good);
    remove_tree(f.dir);
}

Test(train_guard, second_trainer_in_a_run_directory_is_refused)
{
    Fixture f;
    fixture_open(&f, "lock");
    cr_assert_eq(train(&f, "--stop-at-step", "2"), 0, "%s", slurp(f.err));
    char *before = slurp(f.ckpt);
    struct stat st;
    cr_assert_eq(stat(f.ckpt, &st), 0);
    /* This test process stands in for the first trainer, holding the lock. */
    char lock[400];
    snprintf(lock, sizeof lock, "%s/trainer.lock", f.out_dir);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    int code = train(&f, NULL, NULL);
    char *err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_BUSY, "exit %d: %s", code, err);
    cr_assert(strstr(err, lock) != NULL && strstr(err, "another dlcm-train") != NULL, "%s", err);
    free(err);
    char *after = slurp(f.ckpt);
    cr_assert(memcmp(before, after, (size_t)st.st_size) == 0, "the checkpoint is untouched");
    free(after);
    close(fd);
    cr_assert_eq(train(&f, NULL, NULL), 0, "once the lock is free the run resumes: %s", slurp(f.err));
    free(before);
    remove_tree(f.dir);
}

Test(train_guard, sighup_stops_like_sigterm)
{
    Fixture f;
    fixture_open(&f, "sighup");
    char *argv[] = {"./bin/dlcm-train", f.config, "--out", f.out_dir, "--steps", "1000000", "--set", "log.interval=1", NULL};
    pid_t pid = start_program(argv, f.out, f.err);
    cr_assert_gt(pid, 0);
    int seen = 0;
    for (int i = 0; i < 600 && !seen; i++) {
        char *log = slurp(f.out);
        seen = strstr(log, "step 2/") != NULL;
        free(log);
        if (!seen) usleep(100000);
    }
    cr_assert(seen, "the run never reached step 2");
    cr_assert_eq(kill(pid, SIGHUP), 0);
    int code = wait_program(pid);
    char *err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_SIGTERM, "exit %d: %s", code, err);
    cr_assert(strstr(err, "interrupted by SIGHUP") != NULL && strstr(err, "resumable") != NULL, "%s", err);
    free(err);
    char msg[512];
    Checkpoint c;
    cr_assert_eq(checkpoint_read(f.ckpt, &c, msg, sizeof msg), 0, "%s", msg);
    cr_assert_geq(c.state.step, 2);
    checkpoint_free(&c);
    remove_tree(f.dir);
}
