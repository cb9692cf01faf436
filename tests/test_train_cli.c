/* tests/test_train_cli.c: bin/dlcm-train as a program on tiny synthetic shards: bad YAML, a
 * missing shard and corrupt checkpoints fail clearly with exit 2; a run stopped halfway and
 * resumed ends bit-identical to an uninterrupted one, its phase times summed over both attempts;
 * SIGTERM mid-run checkpoints and exits 143. */
#include <criterion/criterion.h>
#include <sqlite3.h>

#include "engine/train/checkpoint.h"
#include "engine/train/trainer.h"
#include "train_test_util.h"

typedef struct {
    char dir[256];
    char config[320];
    char out[320], err[320];
} Fixture;

/* A tiny DLCM run on synthetic shards under /tmp (tag keeps tests apart); model_yaml adds keys
 * to the model section, extra_yaml whole sections. */
static void fixture_open_model(Fixture *f, const char *tag, const char *model_yaml, const char *extra_yaml)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/dlcm-test-train-%s-%d", tag, (int)getpid());
    remove_tree(f->dir);
    cr_assert_eq(make_tiny_corpus(f->dir, 20000), 0);
    snprintf(f->config, sizeof f->config, "%s/run.yaml", f->dir);
    snprintf(f->out, sizeof f->out, "%s/stdout", f->dir);
    snprintf(f->err, sizeof f->err, "%s/stderr", f->dir);
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "data:\n  dir: %s\n  tokenizer: byte\nmodel:\n  family: dlcm\n  seq_len: 32\n"
             "  d_t: 64\n  d_c: 64\n  n_enc: 1\n  n_con: 1\n  n_dec: 1\n  R: 4\n%s"
             "optim:\n  lr: 0.003\nschedule:\n  warmup: 2\ntrain:\n  batch: 2\n  grad_accum: 2\n"
             "  steps: 8\nlog:\n  interval: 2\neval:\n  interval: 4\n  batches: 2\n%s",
             f->dir, model_yaml ? model_yaml : "", extra_yaml ? extra_yaml : "");
    write_text(f->config, yaml);
}

static void fixture_open(Fixture *f, const char *tag, const char *extra_yaml)
{
    fixture_open_model(f, tag, NULL, extra_yaml);
}

static int train(Fixture *f, const char *out_dir, const char *flag, const char *flag_value)
{
    char *argv[] = {"./bin/dlcm-train", f->config, "--out", (char *)out_dir, (char *)flag,
                    (char *)flag_value, NULL};
    return run_program(argv, f->out, f->err);
}

Test(train_cli, bad_yaml_fails_with_file_line_and_key)
{
    Fixture f;
    fixture_open(&f, "badyaml", "train.batchsize: 4\n");
    char out_dir[300];
    snprintf(out_dir, sizeof out_dir, "%s/run", f.dir);
    int code = train(&f, out_dir, NULL, NULL);
    char *err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_BAD_INPUT, "exit %d: %s", code, err);
    char where[400];
    snprintf(where, sizeof where, "%s:26: train.batchsize: unknown key", f.config);
    cr_assert(strstr(err, where) != NULL, "expected '%s' in: %s", where, err);
    free(err);

    write_text(f.config, "model:\n  d_t: wide\n");
    code = train(&f, out_dir, NULL, NULL);
    err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_BAD_INPUT);
    cr_assert(strstr(err, ":2: model.d_t: expected an integer") != NULL, "%s", err);
    free(err);
    cr_assert_neq(access(out_dir, F_OK), 0, "nothing is created for a bad config");
    remove_tree(f.dir);
}

/* bf16 is a GPU precision: the run config resolves anywhere (a planner resolves GPU runs on a
 * machine without one, and the precision is part of the run's id), and the trainer refuses it
 * on the CPU before it creates anything. */
Test(train_cli, bf16_resolves_anywhere_and_is_refused_on_the_cpu)
{
    TrainConfig cfg = train_config_default();
    ConfigSources *src = config_sources_create();
    char err[512];
    cr_assert_not_null(src);
    cr_assert_eq(config_set_kv(&cfg, src, "run.precision", "bf16", "test", err, sizeof err), 0, "%s", err);
    cfg.device = DEVICE_CPU;
    cr_assert_eq(config_resolve(&cfg, src, err, sizeof err), 0, "a bf16 config resolves on a CPU machine: %s", err);
    config_sources_destroy(src);
    if (backend_cuda_available()) cr_skip_test("this machine has a GPU: the trainer would run bf16 there");
    Fixture f;
    fixture_open(&f, "bf16cpu", NULL);
    char out_dir[300];
    snprintf(out_dir, sizeof out_dir, "%s/run", f.dir);
    int code = train(&f, out_dir, "--precision", "bf16");
    char *msg = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_BAD_INPUT, "exit %d: %s", code, msg);
    cr_assert(strstr(msg, "run.precision: bf16 needs a GPU") != NULL, "%s", msg);
    free(msg);
    cr_assert_neq(access(out_dir, F_OK), 0, "nothing is created for a refused run");
    remove_tree(f.dir);
}

Test(train_cli, missing_shard_fails_naming_the_file)
{
    Fixture f;
    fixture_open(&f, "noshard", NULL);
    char out_dir[300], shard[300];
    snprintf(out_dir, sizeof out_dir, "%s/run", f.dir);
    snprintf(shard, sizeof shard, "%s/byte/train.bin", f.dir);
    unlink(shard);
    int code = train(&f, out_dir, NULL, NULL);
    char *err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_BAD_INPUT, "exit %d: %s", code, err);
    cr_assert(strstr(err, shard) != NULL, "names the shard: %s", err);
    free(err);
    remove_tree(f.dir);
}

Test(train_cli, empty_or_truncated_config_is_refused)
{
    Fixture f;
    fixture_open(&f, "emptycfg", NULL);
    char out_dir[300];
    snprintf(out_dir, sizeof out_dir, "%s/run", f.dir);
    /* An interrupted write leaves an empty file: training the defaults would record a wrong model. */
    write_text(f.config, "");
    int code = train(&f, out_dir, NULL, NULL);
    char *err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_BAD_INPUT, "exit %d: %s", code, err);
    cr_assert(strstr(err, "empty config") != NULL, "%s", err);
    free(err);
    write_text(f.config, "# only a comment\n");
    cr_assert_eq(train(&f, out_dir, NULL, NULL), TRAIN_EXIT_BAD_INPUT);
    cr_assert_neq(access(out_dir, F_OK), 0, "nothing is created for an empty config");

    /* A canonical config cut short (its closing line missing) is refused, even where what is left
     * parses. */
    char *argv[] = {"./bin/dlcm-train", "--print-config", NULL};
    char canonical_path[320];
    snprintf(canonical_path, sizeof canonical_path, "%s/canonical.yaml", f.dir);
    cr_assert_eq(run_program(argv, canonical_path, f.err), 0);
    char *text = slurp(canonical_path);
    char *cut = strstr(text, "optim:\n");
    cr_assert_not_null(cut);
    *cut = '\0';
    write_text(f.config, text);
    free(text);
    code = train(&f, out_dir, NULL, NULL);
    err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_BAD_INPUT, "exit %d: %s", code, err);
    cr_assert(strstr(err, "truncated") != NULL, "%s", err);
    free(err);
    remove_tree(f.dir);
}

Test(train_cli, the_input_config_in_the_run_directory_is_never_rewritten)
{
    Fixture f;
    fixture_open(&f, "keepcfg", NULL);
    char out_dir[300], in_dir[400];
    snprintf(out_dir, sizeof out_dir, "%s/run", f.dir);
    cr_assert_eq(mkdir(out_dir, 0755), 0);
    /* The config the run is started from lies in its own directory (as a sweep writes it). */
    snprintf(in_dir, sizeof in_dir, "%s/config.yaml", out_dir);
    char *original = slurp(f.config);
    write_text(in_dir, original);
    char *argv[] = {"./bin/dlcm-train", in_dir, "--out", out_dir, "--stop-at-step", "2", NULL};
    cr_assert_eq(run_program(argv, f.out, f.err), 0, "%s", slurp(f.err));
    char *after = slurp(in_dir);
    cr_assert_str_eq(after, original, "the input config is left as it was");
    free(after);

    /* A run rejected as bad input (another config over this checkpoint) changes nothing there. */
    char *other[] = {"./bin/dlcm-train", in_dir, "--out", out_dir, "--optim.lr", "0.01", NULL};
    int code = run_program(other, f.out, f.err);
    char *err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_BAD_INPUT, "exit %d: %s", code, err);
    cr_assert(strstr(err, "written by a different config") != NULL, "%s", err);
    free(err);
    after = slurp(in_dir);
    cr_assert_str_eq(after, original, "a rejected run leaves the config as it was");
    free(after);

    /* A directory without a config gets the resolved one, which reruns the same run. */
    char fresh[300], written[400];
    snprintf(fresh, sizeof fresh, "%s/fresh", f.dir);
    snprintf(written, sizeof written, "%s/config.yaml", fresh);
    cr_assert_eq(train(&f, fresh, "--stop-at-step", "2"), 0, "%s", slurp(f.err));
    char *again[] = {"./bin/dlcm-train", written, "--print-run-id", NULL};
    char id_a[320], id_b[320];
    snprintf(id_a, sizeof id_a, "%s/id-a", f.dir);
    snprintf(id_b, sizeof id_b, "%s/id-b", f.dir);
    cr_assert_eq(run_program(again, id_a, f.err), 0, "%s", slurp(f.err));
    char *first[] = {"./bin/dlcm-train", f.config, "--print-run-id", NULL};
    cr_assert_eq(run_program(first, id_b, f.err), 0);
    char *a = slurp(id_a), *b = slurp(id_b);
    cr_assert_str_eq(a, b, "the written config is the same run");
    free(a);
    free(b);
    free(original);
    remove_tree(f.dir);
}

/* Flips one byte of a file at offset (from the end when negative). */
static void flip_byte(const char *path, long offset)
{
    FILE *fp = fopen(path, "r+b");
    cr_assert_not_null(fp);
    fseek(fp, offset, offset < 0 ? SEEK_END : SEEK_SET);
    long at = ftell(fp);
    int c = fgetc(fp);
    fseek(fp, at, SEEK_SET);
    fputc(c ^ 0x01, fp);
    fclose(fp);
}

Test(train_cli, corrupt_checkpoint_is_refused_and_kept)
{
    Fixture f;
    fixture_open(&f, "corrupt", NULL);
    char out_dir[300], ckpt[400];
    snprintf(out_dir, sizeof out_dir, "%s/run", f.dir);
    train_checkpoint_path(out_dir, ckpt, sizeof ckpt);
    cr_assert_eq(train(&f, out_dir, "--stop-at-step", "2"), 0, "%s", slurp(f.err));
    cr_assert_eq(access(ckpt, F_OK), 0);

    flip_byte(ckpt, -5);
    char *before = slurp(ckpt);
    struct stat st;
    stat(ckpt, &st);
    int code = train(&f, out_dir, NULL, NULL);
    char *err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_BAD_INPUT, "exit %d: %s", code, err);
    cr_assert(strstr(err, ckpt) != NULL && strstr(err, "corrupt checkpoint") != NULL, "%s", err);
    free(err);
    struct stat after;
    stat(ckpt, &after);
    cr_assert_eq(after.st_size, st.st_size, "the corrupt checkpoint is left as it was");
    free(before);

    cr_assert_eq(truncate(ckpt, st.st_size - 100), 0);
    code = train(&f, out_dir, NULL, NULL);
    err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_BAD_INPUT, "exit %d: %s", code, err);
    cr_assert(strstr(err, "truncated") != NULL, "%s", err);
    free(err);
    remove_tree(f.dir);
}

/* Rows of a query over the run database, as one text (for exact comparison). */
static char *query_text(const char *db_path, const char *sql)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    size_t cap = 1 << 16, len = 0;
    char *text = calloc(cap, 1);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            /* %.17g of doubles: exact */
            char cell[64];
            if (sqlite3_column_type(st, c) == SQLITE_FLOAT) snprintf(cell, sizeof cell, "%.17g", sqlite3_column_double(st, c));
            else snprintf(cell, sizeof cell, "%s", v ? v : "NULL");
            if (len + strlen(cell) + 2 >= cap) text = realloc(text, cap *= 2);
            len += (size_t)sprintf(text + len, "%s%c", cell, c + 1 == sqlite3_column_count(st) ? '\n' : '\t');
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return text;
}

/* Runs 8 steps straight and 5 + 3 with a checkpoint and resume in between; both end with the
 * same parameters, optimizer state, counters, metrics, evaluations and run row. */
static void check_resume_is_bit_identical(const char *tag, const char *model_yaml)
{
    Fixture f;
    fixture_open_model(&f, tag, model_yaml, "checkpoint:\n  interval: 3\n");
    char straight[300], resumed[300];
    snprintf(straight, sizeof straight, "%s/straight", f.dir);
    snprintf(resumed, sizeof resumed, "%s/resumed", f.dir);
    cr_assert_eq(train(&f, straight, NULL, NULL), 0, "%s", slurp(f.err));
    cr_assert_eq(train(&f, resumed, "--stop-at-step", "5"), 0, "%s", slurp(f.err));
    char ck_a[400], ck_b[400], err[512];
    train_checkpoint_path(resumed, ck_b, sizeof ck_b);
    Checkpoint half;
    cr_assert_eq(checkpoint_read(ck_b, &half, err, sizeof err), 0, "%s", err);
    cr_assert_eq(half.state.step, 5, "stopped after step 5");
    checkpoint_free(&half);
    cr_assert_eq(train(&f, resumed, "--resume", NULL), 0, "%s", slurp(f.err));
    char *log = slurp(f.out);
    cr_assert(strstr(log, "resuming from") != NULL, "%s", log);
    free(log);

    train_checkpoint_path(straight, ck_a, sizeof ck_a);
    Checkpoint a, b;
    cr_assert_eq(checkpoint_read(ck_a, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(checkpoint_read(ck_b, &b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(a.state.step, 8);
    cr_assert_eq(b.state.step, 8);
    cr_assert_eq(a.n_params, b.n_params);
    cr_assert_eq(memcmp(a.params, b.params, a.n_params * sizeof(float)), 0, "parameters differ");
    cr_assert_eq(memcmp(a.m, b.m, a.n_params * sizeof(float)), 0, "AdamW m differs");
    cr_assert_eq(memcmp(a.v, b.v, a.n_params * sizeof(float)), 0, "AdamW v differs");
    cr_assert_eq(a.state.loader_position, b.state.loader_position);
    cr_assert_eq(a.state.tokens_done, b.state.tokens_done);
    cr_assert_eq(a.state.concepts_done, b.state.concepts_done, "same sampled boundaries");
    cr_assert_eq(memcmp(&a.state.flops_launched, &b.state.flops_launched, sizeof(double)), 0);
    cr_assert_eq(memcmp(&a.state.last_train_loss, &b.state.last_train_loss, sizeof(double)), 0);
    cr_assert_eq(a.state.config_hash, b.state.config_hash, "the same run (out differs)");
    checkpoint_free(&a);
    checkpoint_free(&b);

    char db_a[400], db_b[400];
    snprintf(db_a, sizeof db_a, "%s/run.sqlite", straight);
    snprintf(db_b, sizeof db_b, "%s/run.sqlite", resumed);
    const char *queries[] = {
        "SELECT step, tokens, train_loss, aux_loss, realized_R, lr, grad_norm FROM metrics ORDER BY step",
        "SELECT step, split, loss, realized_R FROM evals ORDER BY step, split",
        "SELECT status, steps_done, tokens_done, final_train_loss, final_val_loss, initial_loss,"
        " realized_R_train, realized_R_eval, flops_launched FROM runs"};
    for (int q = 0; q < 3; q++) {
        char *ta = query_text(db_a, queries[q]), *tb = query_text(db_b, queries[q]);
        cr_assert(strlen(ta) > 0, "query %d has rows", q);
        cr_assert_str_eq(ta, tb, "query %d differs:\n%s\nvs\n%s", q, ta, tb);
        free(ta);
        free(tb);
    }
    char *metrics = query_text(db_a, "SELECT count(*) FROM metrics");
    cr_assert_str_eq(metrics, "8\n", "one metrics row per step");
    free(metrics);
    char *evals = query_text(db_a, "SELECT group_concat(split) FROM evals WHERE step = 8");
    cr_assert_str_eq(evals, "val,val-alpha\n", "overall and per-domain validation");
    free(evals);
    evals = query_text(db_a, "SELECT group_concat(split) FROM evals WHERE step = 0");
    cr_assert_str_eq(evals, "val\n", "before the first step only the overall split (the initial loss)");
    free(evals);
    remove_tree(f.dir);
}

/* The seconds the run database holds for one phase. */
static double phase_seconds(const char *db_path, const char *phase)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT seconds FROM run_phases WHERE phase = ?1", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_bind_text(st, 1, phase, -1, SQLITE_STATIC), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "a row for %s", phase);
    double seconds = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return seconds;
}

Test(train_cli, the_wall_time_is_split_into_phases_summed_over_attempts)
{
    Fixture f;
    fixture_open(&f, "phases", "checkpoint:\n  interval: 3\n");
    char out_dir[300], db_path[400];
    snprintf(out_dir, sizeof out_dir, "%s/run", f.dir);
    snprintf(db_path, sizeof db_path, "%s/run.sqlite", out_dir);
    cr_assert_eq(train(&f, out_dir, "--stop-at-step", "5"), 0, "%s", slurp(f.err));
    char *rows = query_text(db_path, "SELECT group_concat(phase) FROM (SELECT phase FROM run_phases ORDER BY phase)");
    cr_assert_str_eq(rows, "checkpoint,eval,heldout,setup,train\n", "one row per phase");
    free(rows);
    double setup1 = phase_seconds(db_path, "setup"), train1 = phase_seconds(db_path, "train");
    cr_assert_gt(setup1, 0);
    cr_assert_gt(train1, 0);
    cr_assert_gt(phase_seconds(db_path, "eval"), 0, "the initial evaluation");
    cr_assert_gt(phase_seconds(db_path, "checkpoint"), 0, "step 3's and the stop's");
    cr_assert_eq(phase_seconds(db_path, "heldout"), 0, "stopped before the end: nothing measured");

    cr_assert_eq(train(&f, out_dir, "--resume", NULL), 0, "%s", slurp(f.err));
    cr_assert_gt(phase_seconds(db_path, "setup"), setup1, "the second attempt's set-up is added");
    cr_assert_gt(phase_seconds(db_path, "train"), train1, "and its steps");
    cr_assert_gt(phase_seconds(db_path, "heldout"), 0, "the per-token losses of the domain split");
    char *count = query_text(db_path, "SELECT count(*), min(processes), max(processes) FROM run_phases");
    cr_assert_str_eq(count, "5\t2\t2\n", "two trainer processes in each phase's row");
    free(count);
    remove_tree(f.dir);
}

Test(train_cli, resume_is_bit_identical) { check_resume_is_bit_identical("resume", NULL); }

/* cosine_rule's threshold is a running quantile of earlier steps' p: the checkpoint carries it,
 * or the resumed run's boundaries (and all that follows) differ from the straight run's. */
Test(train_cli, resume_is_bit_identical_with_cosine_rule_boundaries)
{
    check_resume_is_bit_identical("resume-cosine", "  boundary: cosine_rule\n");
}

Test(train_cli, sigterm_checkpoints_and_exits_143)
{
    Fixture f;
    fixture_open(&f, "sigterm", NULL);
    char out_dir[300];
    snprintf(out_dir, sizeof out_dir, "%s/run", f.dir);
    char *argv[] = {"./bin/dlcm-train", f.config, "--out", out_dir, "--steps", "1000000",
                    "--set", "log.interval=1", NULL};
    pid_t pid = start_program(argv, f.out, f.err);
    cr_assert_gt(pid, 0);
    /* Wait (up to a minute) until two steps are done, then ask it to stop. */
    int seen = 0;
    for (int i = 0; i < 600 && !seen; i++) {
        char *log = slurp(f.out);
        seen = strstr(log, "step 2/") != NULL;
        free(log);
        if (!seen) usleep(100000);
    }
    cr_assert(seen, "the run never reached step 2: %s", slurp(f.err));
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int code = wait_program(pid);
    char *err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_SIGTERM, "exit %d: %s", code, err);
    cr_assert(strstr(err, "SIGTERM") != NULL && strstr(err, "resumable") != NULL, "%s", err);
    free(err);
    char ckpt[400], msg[512], db[400];
    train_checkpoint_path(out_dir, ckpt, sizeof ckpt);
    Checkpoint c;
    cr_assert_eq(checkpoint_read(ckpt, &c, msg, sizeof msg), 0, "%s", msg);
    cr_assert_geq(c.state.step, 2);
    cr_assert_lt(c.state.step, 1000000);
    snprintf(db, sizeof db, "%s/run.sqlite", out_dir);
    char *status = query_text(db, "SELECT status, steps_done FROM runs");
    char expected[64];
    snprintf(expected, sizeof expected, "queued\t%lld\n", (long long)c.state.step);
    cr_assert_str_eq(status, expected, "the run stays resumable with its progress recorded");
    free(status);
    checkpoint_free(&c);
    remove_tree(f.dir);
}

Test(train_cli, divergence_is_recorded_and_exits_3)
{
    Fixture f;
    fixture_open(&f, "diverge", NULL);
    char out_dir[300], db[400];
    snprintf(out_dir, sizeof out_dir, "%s/run", f.dir);
    /* An absurd LR without clipping: the loss explodes within a few steps. */
    char *argv[] = {"./bin/dlcm-train", f.config, "--out", out_dir, "--lr", "5", "--optim.clip", "0",
                    "--steps", "40", NULL};
    int code = run_program(argv, f.out, f.err);
    char *err = slurp(f.err);
    cr_assert_eq(code, TRAIN_EXIT_DIVERGED, "exit %d: %s", code, err);
    free(err);
    snprintf(db, sizeof db, "%s/run.sqlite", out_dir);
    char *status = query_text(db, "SELECT status FROM runs");
    cr_assert_str_eq(status, "diverged\n");
    free(status);
    remove_tree(f.dir);
}
