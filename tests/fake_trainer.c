/* tests/fake_trainer.c: a test double of dlcm-train for the sweep tests. Same command
 * line and outputs (run row, metrics, evals in --db; a checkpoint in --out that it resumes from),
 * but no model: it succeeds, crashes, hangs, fails or diverges as the test asks.
 *
 * Behaviour per run, chosen by the run's seed: DLCM_FAKE_MODES="SEED=MODE,..." (default
 * DLCM_FAKE_DEFAULT or ok). Modes: ok, crash (abort mid-run), fail (exit 1 at once), hang (stops
 * after step 1 forever), nan (records diverged, exits 3), flaky (fails its first launch only),
 * rising (ends with a loss above its initial one), impostor (reports another config than it was
 * given), stubborn (ignores SIGTERM: only SIGKILL stops it). DLCM_FAKE_STEP_MS sleeps per step. Every
 * launch appends "PID START_STEP" to OUT/launches, and each finished one "START END" (wall-clock
 * seconds) to OUT/times. The device recorded is --device, with CUDA_VISIBLE_DEVICES for cuda. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "engine/train/config.h"
#include "engine/train/exit_codes.h"

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fake-train: %s %s\n", what, detail ? detail : "");
    exit(TRAIN_EXIT_BAD_INPUT);
}

static const char *mode_for_seed(long seed)
{
    static char mode[32];
    const char *modes = getenv("DLCM_FAKE_MODES");
    const char *fallback = getenv("DLCM_FAKE_DEFAULT");
    snprintf(mode, sizeof mode, "%s", fallback ? fallback : "ok");
    if (!modes) return mode;
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", modes);
    for (char *item = strtok(copy, ","); item; item = strtok(NULL, ",")) {
        char *eq = strchr(item, '=');
        if (eq && strtol(item, NULL, 10) == seed) snprintf(mode, sizeof mode, "%s", eq + 1);
    }
    return mode;
}

static void exec_sql(sqlite3 *db, const char *sql, const char *id, double a, double b)
{
    char err[512];
    sqlite3_stmt *st = db_prepare(db, sql, err, sizeof err);
    if (!st) die("sql", err);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, a);
    sqlite3_bind_double(st, 3, b);
    if (sqlite3_step(st) != SQLITE_DONE) die("sql step", sqlite3_errmsg(db));
    sqlite3_finalize(st);
}

static double wall_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
}

int main(int argc, char **argv)
{
    const char *config = NULL, *out = NULL, *db_path = NULL, *run_id = NULL, *device = "unset";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) db_path = argv[++i];
        else if (strcmp(argv[i], "--run-id") == 0 && i + 1 < argc) run_id = argv[++i];
        else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) device = argv[++i];
        else if (argv[i][0] != '-' && !config) config = argv[i];
        else die("bad argument", argv[i]);
    }
    if (!config || !out || !db_path || !run_id) die("usage: CONFIG --out DIR --db FILE --run-id ID", NULL);
    /* The config is read as dlcm-train reads it (the same reader, the same refusals: exit 2). */
    char err[512];
    TrainConfig cfg = train_config_default();
    ConfigSources *src = config_sources_create();
    if (!src) die("out of memory", NULL);
    int bad = config_load_yaml(&cfg, src, config, err, sizeof err);
    if (!bad) snprintf(cfg.id, sizeof cfg.id, "%s", run_id); /* as --run-id, after the file */
    if (bad || config_resolve(&cfg, src, err, sizeof err)) {
        fprintf(stderr, "fake-train: %s\n", err);
        config_sources_destroy(src);
        return TRAIN_EXIT_BAD_INPUT;
    }
    config_sources_destroy(src);
    long steps = (long)cfg.steps, seed = (long)cfg.seed;
    const char *mode = mode_for_seed(seed);
    /* An impostor trains and reports another model (here: twice the learning rate) under the id. */
    if (strcmp(mode, "impostor") == 0) cfg.optim.lr_token *= 2;
    long batch = (long)cfg.batch * cfg.grad_accum * cfg.model.shape.seq_len;
    const char *step_ms_text = getenv("DLCM_FAKE_STEP_MS");
    long step_ms = step_ms_text ? strtol(step_ms_text, NULL, 10) : 0;

    char path[2048];
    /* A second witness besides the scheduler's lock: two of us in one directory is a bug. */
    snprintf(path, sizeof path, "%s/.fake-exclusive", out);
    int excl = open(path, O_RDWR | O_CREAT, 0644);
    if (excl < 0 || flock(excl, LOCK_EX | LOCK_NB) != 0) {
        snprintf(path, sizeof path, "%s/CONCURRENT", out);
        FILE *mark = fopen(path, "w");
        if (mark) fclose(mark);
        die("another trainer runs in", out);
    }
    double started = wall_seconds();
    long start = 0;
    snprintf(path, sizeof path, "%s/checkpoint", out);
    FILE *ck = fopen(path, "r");
    if (ck) {
        if (fscanf(ck, "%ld", &start) != 1) start = 0;
        fclose(ck);
    }
    snprintf(path, sizeof path, "%s/launches", out);
    FILE *launches = fopen(path, "a+");
    if (!launches) die("cannot write", path);
    fprintf(launches, "%d %ld\n", (int)getpid(), start);
    fflush(launches);
    rewind(launches);
    int n_launches = 0, c;
    while ((c = fgetc(launches)) != EOF) n_launches += c == '\n';
    fclose(launches);

    if (strcmp(mode, "stubborn") == 0) signal(SIGTERM, SIG_IGN);
    if (strcmp(mode, "fail") == 0) {
        fprintf(stderr, "fake-train: simulated failure before the first step\n");
        return TRAIN_EXIT_ERROR;
    }
    if (strcmp(mode, "badinput") == 0) {
        fprintf(stderr, "fake-train: simulated config rejection (exit 2, as dlcm-train on bad input)\n");
        return TRAIN_EXIT_BAD_INPUT;
    }
    if (strcmp(mode, "flaky") == 0 && n_launches == 1) {
        fprintf(stderr, "fake-train: simulated failure of the first launch\n");
        return 4;
    }
    sqlite3 *db = db_open(db_path, err, sizeof err);
    if (!db) die("db", err);
    /* The run row is there when the scheduler seeded it; a bare database gets a minimal one. */
    exec_sql(db, "INSERT INTO runs(id, config, family, created_at, status) VALUES (?1, 'fake', 'dense', ?2, 'running') "
                 "ON CONFLICT(id) DO UPDATE SET status = 'running' WHERE ?3 = ?3",
             run_id, db_now(), 0);
    /* What it trains, as dlcm-train reports it: the scheduler checks this against its plan. */
    char *config_text = config_canonical(&cfg);
    sqlite3_stmt *cst = db_prepare(db, "UPDATE runs SET config = ?2 WHERE id = ?1", err, sizeof err);
    if (!cst || sqlite3_bind_text(cst, 1, run_id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(cst, 2, config_text, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(cst) != SQLITE_DONE)
        die("sql", sqlite3_errmsg(db));
    sqlite3_finalize(cst);
    free(config_text);
    double initial = 6.0;
    exec_sql(db, "UPDATE runs SET initial_loss = ?2 WHERE id = ?1 AND ?3 = ?3", run_id, initial, 0);
    for (long step = start; step < steps; step++) {
        double loss = strcmp(mode, "rising") == 0 ? initial + 0.1 * (double)step
                                                  : 1.0 + (initial - 1.0) * exp(-3.0 * (double)(step + 1) / (double)steps);
        exec_sql(db, "INSERT OR REPLACE INTO metrics(run_id, step, tokens, train_loss, tokens_per_s) "
                     "VALUES (?1, ?2, ?2 * ?3 + ?3, 0, 1000.0)",
                 run_id, (double)step, (double)batch);
        exec_sql(db, "UPDATE metrics SET train_loss = ?3 WHERE run_id = ?1 AND step = ?2", run_id, (double)step, loss);
        exec_sql(db, "UPDATE runs SET steps_done = ?2 + 1, tokens_done = (?2 + 1) * ?3 WHERE id = ?1", run_id,
                 (double)step, (double)batch);
        /* The checkpoint goes in atomically, after the step's rows: a resume repeats at most one step. */
        char tmp[2100], final_path[2100];
        snprintf(tmp, sizeof tmp, "%s/checkpoint.tmp", out);
        snprintf(final_path, sizeof final_path, "%s/checkpoint", out);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%ld\n", step + 1) < 0 || fclose(f) != 0 || rename(tmp, final_path) != 0)
            die("cannot write checkpoint in", out);
        if (strcmp(mode, "hang") == 0 && step >= 1) for (;;) pause();
        if (strcmp(mode, "crash") == 0 && step >= steps / 2) {
            fprintf(stderr, "fake-train: simulated crash at step %ld\n", step);
            abort();
        }
        if (strcmp(mode, "nan") == 0 && step >= 1) {
            exec_sql(db, "UPDATE runs SET status = 'diverged', final_train_loss = NULL WHERE id = ?1 AND ?2 = ?2 AND ?3 = ?3",
                     run_id, 0, 0);
            fprintf(stderr, "fake-train: loss is NaN at step %ld\n", step);
            db_close(db);
            return TRAIN_EXIT_DIVERGED;
        }
        if (step_ms > 0) sleep_ms(step_ms);
    }
    double final_loss = strcmp(mode, "rising") == 0 ? initial + 0.1 * (double)steps
                                                    : 1.0 + (initial - 1.0) * exp(-3.0);
    exec_sql(db, "UPDATE runs SET final_train_loss = ?2, final_val_loss = ?3 + 0.05, tokens_per_s = 1000.0, "
                 "status = 'done' WHERE id = ?1",
             run_id, final_loss, final_loss);
    exec_sql(db, "INSERT OR REPLACE INTO evals(run_id, step, split, loss) VALUES (?1, ?2, 'val', ?3)", run_id,
             (double)steps, final_loss + 0.05);
    char device_text[128];
    const char *visible = getenv("CUDA_VISIBLE_DEVICES");
    snprintf(device_text, sizeof device_text, "%s%s%s", device, strcmp(device, "cuda") == 0 ? ":" : "",
             strcmp(device, "cuda") == 0 && visible ? visible : "");
    sqlite3_stmt *st = db_prepare(db, "UPDATE runs SET device = ?2 WHERE id = ?1", err, sizeof err);
    if (!st) die("sql", err);
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device_text, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) die("sql", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    db_close(db);
    snprintf(path, sizeof path, "%s/times", out);
    FILE *times = fopen(path, "a");
    if (!times) die("cannot write", path);
    fprintf(times, "%.6f %.6f\n", started, wall_seconds());
    fclose(times);
    printf("fake-train: %s done, %ld steps (resumed from %ld)\n", run_id, steps, start);
    return 0;
}
