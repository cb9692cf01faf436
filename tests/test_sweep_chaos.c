/* tests/test_sweep_chaos.c: the kill test. A small CPU sweep of the real dlcm-train (tiny dense
 * models on synthetic byte shards) is SIGKILLed at random moments, the scheduler or one of its
 * trainers, at least 20 times; a rerun then finishes it. Every run must end done exactly once,
 * with every logged loss and the final losses bit-identical to the same sweep run without
 * interruption, and `dlcm-sweep status` must agree with each run's own database. The real
 * trainer, not the test double: bit-identical resume is a property of dlcm-train's checkpoints,
 * and a tiny model trains 240 steps in a few seconds on 2 cores. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/sweep_test_util.h"
#include "tests/train_test_util.h"

#define N_RUNS 4
#define MIN_KILLS 20

/* The sweep: four seeds of a one-layer dense model, 80 steps each, checkpoints every 4 steps. */
static void write_sweep(const char *dir, const char *corpus, const char *name, char *yaml, size_t n)
{
    snprintf(yaml, n, "%s/%s.yaml", dir, name);
    char text[2048];
    snprintf(text, sizeof text,
             "name: %s\nvocab: 256\nseq_len: 16\nbatch_tokens: 32\ntokens: 2560\nlr: 0.01\nseed: [0, 1, 2, 3]\n"
             "families:\n  - family: dense\n    d_t: 64\n    n_layers: 1\n"
             "trainer:\n  data.dir: %s\n  data.tokenizer: byte\n  schedule.warmup: 4\n  eval.interval: 20\n"
             "  eval.batches: 2\n  checkpoint.interval: 4\n  log.interval: 1\n",
             name, corpus);
    write_text(yaml, text);
}

static pid_t start_sweep(const char *yaml, const char *db, const char *log)
{
    const char *args[] = {"run", yaml, "--db", db, "--gpus", "none", "--cpu-workers", "2", "--heartbeat", "0.1",
                          "--stale-after", "0.3", "--max-attempts", "1000", "--quiet", NULL};
    return tu_sweep_start(args, NULL, log);
}

/* A child of pid (a running trainer), or 0. */
static pid_t some_child(pid_t pid, uint64_t *rng)
{
    char path[64], text[512] = "";
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t got = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[got] = '\0';
    pid_t kids[16];
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(text, " \n", &save); tok && n < 16; tok = strtok_r(NULL, " \n", &save)) kids[n++] = (pid_t)atoi(tok);
    if (n == 0) return 0;
    *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
    return kids[(*rng >> 33) % (uint64_t)n];
}

static long q(const char *db, const char *sql) { return tu_query_int(db, sql); }

/* Lines starting with prefix in the stdout.log of every run (all launches append to it):
 * "step " counts the training steps printed so far, "resuming from" the resumed launches. */
static long log_lines(const char *runs_dir, const char *prefix)
{
    long steps = 0;
    DIR *d = opendir(runs_dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s/stdout.log", runs_dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        char line[512];
        while (fgets(line, sizeof line, f)) steps += strncmp(line, prefix, strlen(prefix)) == 0;
        fclose(f);
    }
    closedir(d);
    return steps;
}

/* Every (run, step, loss) and each run's final losses, as text with exact (%a) numbers. */
static char *losses_of(const char *db_path)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    const char *sql[] = {"SELECT run_id, step, train_loss, NULL FROM metrics ORDER BY run_id, step",
                         "SELECT id, -1, final_train_loss, final_val_loss FROM runs ORDER BY id"};
    size_t cap = 1 << 20, used = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *st;
        cr_assert_eq(sqlite3_prepare_v2(db, sql[k], -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
        while (sqlite3_step(st) == SQLITE_ROW) {
            cr_assert_lt(used + 200, cap);
            used += (size_t)snprintf(out + used, cap - used, "%s %lld %a %a\n", (const char *)sqlite3_column_text(st, 0),
                                     (long long)sqlite3_column_int64(st, 1), sqlite3_column_double(st, 2),
                                     sqlite3_column_double(st, 3));
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

Test(sweep_chaos, random_sigkills_lose_nothing_and_resume_bit_identically, .timeout = 300)
{
    char dir[256], corpus[300], calm_yaml[400], chaos_yaml[400], calm_db[400], chaos_db[400], log[300];
    tu_temp_dir(dir, "chaos");
    snprintf(corpus, sizeof corpus, "%s/corpus", dir);
    cr_assert_eq(make_tiny_corpus(corpus, 20000), 0);
    /* One sweep name for both: the run ids (hashes of the configs) then match one to one. */
    char calm_dir[300], chaos_dir[300];
    snprintf(calm_dir, sizeof calm_dir, "%s/calm", dir);
    snprintf(chaos_dir, sizeof chaos_dir, "%s/chaos", dir);
    mkdir(calm_dir, 0755);
    mkdir(chaos_dir, 0755);
    write_sweep(calm_dir, corpus, "chaos", calm_yaml, sizeof calm_yaml);
    write_sweep(chaos_dir, corpus, "chaos", chaos_yaml, sizeof chaos_yaml);
    snprintf(calm_db, sizeof calm_db, "%s/db.sqlite", calm_dir);
    snprintf(chaos_db, sizeof chaos_db, "%s/db.sqlite", chaos_dir);
    snprintf(log, sizeof log, "%s/sweep.log", dir);
    char runs_dir[400];
    snprintf(runs_dir, sizeof runs_dir, "%s/runs/chaos", chaos_dir);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(tu_wait(start_sweep(calm_yaml, calm_db, log)), 0, "the uninterrupted sweep (see %s)", log);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_log_info("kill test: the uninterrupted sweep took %.1f s", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));

    uint64_t rng = 20261201;
    int kills = 0, scheduler_kills = 0, trainer_kills = 0;
    pid_t scheduler = 0;
    while (kills < MIN_KILLS + 4 && q(chaos_db, "SELECT count(*) FROM runs WHERE status = 'done'") < N_RUNS) {
        if (!scheduler) scheduler = start_sweep(chaos_yaml, chaos_db, log);
        /* Each kill waits for 1-6 more training steps, as the trainers print them (the sweep
         * database learns of progress only at heartbeats): kills land mid-run, before and after
         * checkpoints, however fast the machine. */
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        long target = log_lines(runs_dir, "step ") + 1 + (long)((rng >> 33) % 6);
        for (int waited = 0; waited < 1000 && log_lines(runs_dir, "step ") < target; waited++) {
            struct timespec pause = {0, 5 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        pid_t trainer = (rng >> 40) % 2 ? some_child(scheduler, &rng) : 0;
        if (trainer && kill(trainer, SIGKILL) == 0) {
            trainer_kills++;
            kills++;
        } else if (kill(scheduler, SIGKILL) == 0) {
            int code = tu_wait(scheduler);
            scheduler = 0;
            if (code == 128 + SIGKILL) {
                scheduler_kills++;
                kills++;
            }
        }
    }
    if (scheduler) {
        kill(scheduler, SIGKILL);
        tu_wait(scheduler);
    }
    cr_assert_geq(kills, MIN_KILLS, "only %d kills landed before the sweep finished", kills);
    long steps_before = q(chaos_db, "SELECT sum(steps_done) FROM runs");
    cr_assert_gt(steps_before, 0, "the trainers made progress between the kills");
    cr_log_info("kill test: %d SIGKILLs (%d of the scheduler, %d of trainers); %ld of %d steps done before the rerun",
                kills, scheduler_kills, trainer_kills, steps_before, N_RUNS * 80);
    cr_assert_gt(trainer_kills, 0);
    cr_assert_gt(log_lines(runs_dir, "resuming from"), 0, "a killed run resumed from its checkpoint");
    cr_assert_gt(scheduler_kills, 0);
    cr_assert_eq(tu_wait(start_sweep(chaos_yaml, chaos_db, log)), 0, "the rerun finishes the sweep (see %s)", log);

    cr_assert_eq(q(chaos_db, "SELECT count(*) FROM runs"), N_RUNS, "no run lost or duplicated");
    cr_assert_eq(q(chaos_db, "SELECT count(*) FROM runs WHERE status = 'done'"), N_RUNS);
    cr_assert_eq(q(chaos_db, "SELECT count(DISTINCT run_id || '/' || step) - count(*) FROM metrics"), 0,
                 "no step logged twice");
    char *calm = losses_of(calm_db), *chaos = losses_of(chaos_db);
    cr_assert_str_eq(chaos, calm, "losses after the kills differ from the uninterrupted sweep");
    free(calm);
    free(chaos);

    /* status agrees with each run's own database. */
    const char *status_args[] = {"status", "--db", chaos_db, "--sweep", "chaos", NULL};
    char status_log[320], status_text[4096];
    snprintf(status_log, sizeof status_log, "%s/status.log", dir);
    cr_assert_eq(tu_sweep(status_args, NULL, status_log), 0);
    tu_read(status_log, status_text, sizeof status_text);
    char want[64];
    snprintf(want, sizeof want, "done %d  running 0  failed 0  diverged 0  queued 0", N_RUNS);
    cr_assert(strstr(status_text, want) != NULL, "status: %s", status_text);
    for (int seed = 0; seed < N_RUNS; seed++) {
        char sql[200], run_dir[1024], run_db[1100];
        snprintf(sql, sizeof sql, "SELECT out_dir FROM runs WHERE seed = %d", seed);
        sqlite3 *db;
        cr_assert_eq(sqlite3_open_v2(chaos_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        sqlite3_stmt *st;
        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        snprintf(run_dir, sizeof run_dir, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(db);
        snprintf(run_db, sizeof run_db, "%s/run.sqlite", run_dir);
        cr_assert_eq(q(run_db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1, "%s", run_db);
        char *own = losses_of(run_db);
        char *main_rows = losses_of(chaos_db);
        /* The run's own rows are a part of the sweep database's. */
        char *save = NULL;
        for (char *line = strtok_r(own, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            cr_assert(strstr(main_rows, line) != NULL, "%s: '%s' is not in the sweep database", run_db, line);
        free(own);
        free(main_rows);
    }
    tu_remove_tree(dir);
}
