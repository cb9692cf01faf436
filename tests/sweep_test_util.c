/* tests/sweep_test_util.c: helpers of the sweep tests (see test_util.h). */
#include "tests/sweep_test_util.h"
#include "db/db.h"
#include "util/fs.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/shard.h"
#include "engine/shape.h"
#include "util/spawn.h"

void tu_temp_dir(char *dir, const char *tag)
{
    snprintf(dir, 256, "/tmp/dlcm-test-sweep-%s-XXXXXX", tag);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
}

void tu_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

void tu_make_sweep(TuSweep *s, const char *tag, int n_seeds, int steps)
{
    tu_temp_dir(s->dir, tag);
    snprintf(s->yaml, sizeof s->yaml, "%s/sweep.yaml", s->dir);
    snprintf(s->db, sizeof s->db, "%s/db.sqlite", s->dir);
    snprintf(s->log, sizeof s->log, "%s/sweep.log", s->dir);
    ModelShape shape = {.family = FAMILY_DENSE, .vocab = 256, .seq_len = 16, .d_t = 64, .n_layers = 1};
    double budget = shape_train_flops_per_token(&shape, 1) * 64.0 * steps;
    char seeds[256] = "", text[2048];
    for (int i = 0; i < n_seeds; i++) snprintf(seeds + strlen(seeds), sizeof seeds - strlen(seeds), "%s%d", i ? ", " : "", i);
    /* A corpus of its own (tiny byte shards), so the scheduler's data check passes on any machine. */
    char data_dir[320], byte_dir[340], shard[360], err[256];
    snprintf(data_dir, sizeof data_dir, "%s/data", s->dir);
    snprintf(byte_dir, sizeof byte_dir, "%s/byte", data_dir);
    cr_assert_eq(fs_mkdirs(byte_dir, err, sizeof err), 0, "%s", err);
    /* At least one pass of training data per run: the planner refuses runs beyond max_epochs. */
    int n_tokens = 64 * steps > 512 ? 64 * steps : 512;
    uint16_t *tokens = malloc((size_t)n_tokens * sizeof *tokens);
    cr_assert_not_null(tokens);
    for (int i = 0; i < n_tokens; i++) tokens[i] = (uint16_t)(i * 7 % 256);
    const char *names[] = {"train.bin", "val.bin"};
    for (int i = 0; i < 2; i++) {
        snprintf(shard, sizeof shard, "%s/%s", byte_dir, names[i]);
        cr_assert_eq(shard_write(shard, tokens, (uint64_t)n_tokens, 256, "byte", 0, err, sizeof err), 0, "%s", err);
    }
    free(tokens);
    snprintf(text, sizeof text,
             "name: %s\nvocab: 256\nseq_len: 16\nbatch_tokens: 64\nbudgets: %.17g\nlr: 0.01\nseed: [%s]\n"
             "families:\n  - family: dense\n    d_t: 64\n    n_layers: 1\ntrainer:\n  data.dir: %s\n",
             tag, budget, seeds, data_dir);
    tu_write(s->yaml, text);
}

void tu_run_dir(const TuSweep *s, int seed, char *out, size_t n)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT out_dir FROM runs WHERE seed = %d", seed);
    sqlite3 *db = NULL;
    out[0] = '\0';
    cr_assert_eq(sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int tu_launches_of(const TuSweep *s, int seed)
{
    char dir[1024], path[1100];
    tu_run_dir(s, seed, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/launches", dir);
    return tu_count_lines(path);
}

void tu_remove_tree(const char *dir)
{
    if (strncmp(dir, "/tmp/dlcm-test-sweep-", 21) != 0) return; /* never anything else */
    const char *argv[] = {"rm", "-rf", dir, NULL};
    char out[256], err[256];
    spawn_capture(argv, out, sizeof out, err, sizeof err);
}

pid_t tu_sweep_start(const char *const *args, const char *const *env, const char *log_path)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = TEST_SWEEP_BIN;
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    SpawnSpec spec = {.argv = argv, .env_set = env, .stdout_path = log_path, .stderr_path = log_path,
                      .parent_death_signal = SIGKILL};
    char err[256];
    pid_t pid = spawn_process(&spec, err, sizeof err);
    if (pid < 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    return pid;
}

int tu_wait(pid_t pid)
{
    int status;
    /* A guard against a hung scheduler in CI, far above any expected duration. */
    for (int polls = 0;; polls++) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) break;
        if (got < 0 && errno != EINTR) return -1;
        if (polls == 180 * 50) {
            fprintf(stderr, "tu_wait: dlcm-sweep (pid %d) still running after 180 s: killing it\n", (int)pid);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -2;
        }
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

int tu_sweep(const char *const *args, const char *const *env, const char *log_path)
{
    return tu_wait(tu_sweep_start(args, env, log_path));
}

long tu_query_int(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    long value = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            value = (long)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return value;
}

int tu_count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

void tu_read(const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = '\0';
    fclose(f);
}

void tu_old_schema_db(const char *path, const char *schema_file, int version, const char *sql)
{
    static char schema[65536];
    char err[512], named[64];
    tu_read(schema_file, schema, sizeof schema);
    cr_assert(strlen(schema) > 1000, "%s: not a schema snapshot", schema_file);
    snprintf(named, sizeof named, "version %d", version);
    char *header_end = strstr(schema, "\n\n");
    cr_assert(header_end && strstr(schema, named) && strstr(schema, named) < header_end, "%s does not name %s",
              schema_file, named);
    sqlite3 *raw = NULL;
    cr_assert_eq(sqlite3_open(path, &raw), SQLITE_OK);
    cr_assert_eq(db_exec(raw, schema, err, sizeof err), 0, "%s: %s", schema_file, err);
    cr_assert_eq(db_exec(raw, sql, err, sizeof err), 0, "%s", err);
    sqlite3_close(raw);
}

void tu_edit_sweep(const TuSweep *s, const char *from, const char *to)
{
    char text[4096], edited[4096];
    tu_read(s->yaml, text, sizeof text);
    char *at = strstr(text, from);
    cr_assert(at != NULL, "%s not in %s", from, text);
    snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    tu_write(s->yaml, edited);
}

int tu_max_overlap(const TuSweep *s, const char *device)
{
    double starts[64], ends[64];
    int n = 0;
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT out_dir FROM runs WHERE device = ?1", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW && n < 64) {
        char path[1100], text[256];
        snprintf(path, sizeof path, "%s/times", (const char *)sqlite3_column_text(st, 0));
        tu_read(path, text, sizeof text);
        if (sscanf(text, "%lf %lf", &starts[n], &ends[n]) == 2) n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    int most = 0;
    for (int i = 0; i < n; i++) {
        int at_once = 0;
        for (int j = 0; j < n; j++) at_once += starts[j] <= starts[i] && starts[i] < ends[j];
        if (at_once > most) most = at_once;
    }
    return most;
}
