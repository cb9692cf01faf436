/* tests/test_sweep_flow.c: the researcher's workflow in bin/dlcm-sweep with the test double of
 * the trainer: an edited sweep file refused with its differences or recorded as a new version,
 * a missing corpus refused before launch, the trainer's own message in status and show, metrics
 * in the sweep database while runs train, cancel, tags and notes, several sweeps listed with
 * suggestions for a misspelled name, and the migration of a version 1 database. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data/shard.h"
#include "db/db.h"
#include "util/fs.h"
#include "util/spawn.h"
#include "tests/sweep_test_util.h"

static long q(const TuSweep *s, const char *sql) { return tu_query_int(s->db, sql); }

/* Runs dlcm-sweep to completion with its output alone in `out` (read into text); the exit code. */
static int sweep_output(const char *const *args, const char *const *env, const char *out, char *text, size_t n)
{
    unlink(out);
    int rc = tu_sweep(args, env, out);
    tu_read(out, text, n);
    return rc;
}

static pid_t start_run(const TuSweep *s, const char *const *env, const char *extra)
{
    const char *args[] = {"run", s->yaml, "--db", s->db, "--trainer", TEST_FAKE_TRAINER, "--gpus=none",
                          "--cpu-workers=2", "--heartbeat", "0.1", "--stale-after", "5", "--quiet", extra, NULL};
    return tu_sweep_start(args, env, s->log);
}

static void wait_for(const TuSweep *s, const char *sql, long want)
{
    for (int i = 0; i < 1200; i++) {
        if (q(s, sql) >= want) return;
        struct timespec t = {0, 50 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    cr_assert_fail("timed out waiting for %s >= %ld", sql, want);
}

/* Whether some status line, written while both runs trained, measured their throughput and an ETA. */
static int has_measured_status(const char *text)
{
    for (const char *line = strstr(text, "running 2"); line; line = strstr(line + 1, "running 2")) {
        const char *bar = strstr(line, "| ");
        double rate = 0;
        char eta[16] = "";
        if (bar && sscanf(bar, "| %lfk tok/s | ETA %15s", &rate, eta) == 2 && rate > 0 && strcmp(eta, "?") != 0)
            return 1;
    }
    return 0;
}

static void wait_for_measured_status(const TuSweep *s, char *text, size_t n)
{
    for (int i = 0; i < 1200; i++) {
        tu_read(s->log, text, n);
        if (has_measured_status(text)) return;
        struct timespec t = {0, 50 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    cr_assert_fail("timed out waiting for a status line with a rate: %s", text);
}

Test(sweep_flow, edited_sweep_is_refused_with_its_differences_or_becomes_a_new_version)
{
    TuSweep s;
    char out[400], text[16384];
    tu_make_sweep(&s, "flowver", 2, 4);
    snprintf(out, sizeof out, "%s/out.txt", s.dir);
    tu_edit_sweep(&s, "lr: 0.01", "lr: 0.004");
    cr_assert_eq(tu_wait(start_run(&s, NULL, NULL)), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE status = 'done' AND lr = 0.004"), 2);

    /* A comment or layout change is no change. */
    tu_edit_sweep(&s, "lr: 0.004", "lr:   0.004   # as before");
    cr_assert_eq(tu_wait(start_run(&s, NULL, NULL)), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM sweeps"), 1);

    tu_edit_sweep(&s, "lr:   0.004", "lr: 0.008");
    const char *run[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", "--quiet", NULL};
    cr_assert_eq(sweep_output(run, NULL, out, text, sizeof text), 2, "refused: bad input");
    cr_assert(strstr(text, "changed lr: 0.004 -> 0.008") != NULL, "%s", text);
    cr_assert(strstr(text, "--new-version") != NULL, "%s", text);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs"), 2, "nothing recorded");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE lr = 0.008"), 0);

    cr_assert_eq(tu_wait(start_run(&s, NULL, "--new-version")), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM sweeps"), 2);
    cr_assert_eq(q(&s, "SELECT count(*) FROM sweeps WHERE name = 'flowver.v2' AND base_name = 'flowver' AND version = 2"),
                 1);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs r JOIN sweeps s ON s.id = r.sweep_id "
                       "WHERE s.name = 'flowver.v2' AND r.lr = 0.008 AND r.status = 'done'"), 2);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs r JOIN sweeps s ON s.id = r.sweep_id "
                       "WHERE s.name = 'flowver' AND r.lr = 0.004"), 2, "version 1 untouched");
    /* The same edited file again is that version: nothing new. */
    cr_assert_eq(tu_wait(start_run(&s, NULL, NULL)), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs"), 4);
    /* The first version's file again is the first version, not a third one. */
    tu_edit_sweep(&s, "lr: 0.008", "lr: 0.004");
    cr_assert_eq(tu_wait(start_run(&s, NULL, NULL)), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM sweeps"), 2);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs"), 4);
    tu_edit_sweep(&s, "lr: 0.004", "lr: 0.008");

    /* Several sweeps: status lists them; a misspelled name gets the closest ones. */
    const char *status[] = {"status", "--db", s.db, NULL};
    cr_assert_eq(sweep_output(status, NULL, out, text, sizeof text), 0);
    cr_assert(strstr(text, "flowver ") != NULL && strstr(text, "flowver.v2") != NULL, "%s", text);
    const char *typo[] = {"status", "--db", s.db, "--sweep", "flowvr", NULL};
    cr_assert_eq(sweep_output(typo, NULL, out, text, sizeof text), 2);
    cr_assert(strstr(text, "did you mean: flowver") != NULL, "%s", text);
    tu_remove_tree(s.dir);
}

Test(sweep_flow, missing_corpus_is_flagged_at_plan_and_refused_at_run)
{
    TuSweep s;
    char out[400], text[16384];
    tu_make_sweep(&s, "flowdata", 2, 4);
    snprintf(out, sizeof out, "%s/out.txt", s.dir);
    tu_edit_sweep(&s, "data.dir: ", "data.dir: /nonexistent");
    const char *plan[] = {"plan", s.yaml, NULL};
    cr_assert_eq(sweep_output(plan, NULL, out, text, sizeof text), 0, "plan only flags it");
    cr_assert(strstr(text, "/byte/train.bin: cannot open") != NULL, "%s", text);
    const char *run[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", NULL};
    cr_assert_eq(sweep_output(run, NULL, out, text, sizeof text), 2);
    cr_assert(strstr(text, "/nonexistent") != NULL && strstr(text, "byte/train.bin: cannot open") != NULL, "%s", text);
    cr_assert(strstr(text, "nothing launched") != NULL, "%s", text);
    cr_assert_neq(access(s.db, F_OK), 0, "nothing recorded");
    tu_remove_tree(s.dir);
}

Test(sweep_flow, a_shard_of_another_vocabulary_is_refused)
{
    TuSweep s;
    char out[400], text[16384], dir[400], shard[440], err[256];
    tu_make_sweep(&s, "flowvocab", 1, 4);
    snprintf(out, sizeof out, "%s/out.txt", s.dir);
    /* Byte shards written with a vocabulary of 512 where the run's model has 256. */
    snprintf(dir, sizeof dir, "%s/other/byte", s.dir);
    cr_assert_eq(fs_mkdirs(dir, err, sizeof err), 0, "%s", err);
    uint16_t tokens[64] = {0};
    snprintf(shard, sizeof shard, "%s/train.bin", dir);
    cr_assert_eq(shard_write(shard, tokens, 64, 512, "byte", 0, err, sizeof err), 0, "%s", err);
    snprintf(shard, sizeof shard, "%s/val.bin", dir);
    cr_assert_eq(shard_write(shard, tokens, 64, 512, "byte", 0, err, sizeof err), 0, "%s", err);
    snprintf(dir, sizeof dir, "data.dir: %s/other\n#", s.dir);
    tu_edit_sweep(&s, "data.dir: ", dir);
    const char *run[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", NULL};
    cr_assert_eq(sweep_output(run, NULL, out, text, sizeof text), 2);
    cr_assert(strstr(text, "vocabulary 512, the run's model.vocab is 256") != NULL, "%s", text);
    tu_remove_tree(s.dir);
}

Test(sweep_flow, status_and_show_give_the_trainers_own_message)
{
    TuSweep s;
    char out[400], text[32768], id[64] = "";
    tu_make_sweep(&s, "flowshow", 2, 4);
    snprintf(out, sizeof out, "%s/out.txt", s.dir);
    const char *env[] = {"DLCM_FAKE_MODES=1=badinput", NULL};
    cr_assert_eq(tu_wait(start_run(&s, env, NULL)), 1, "a run failed");
    const char *status[] = {"status", "--db", s.db, "--runs", NULL};
    cr_assert_eq(sweep_output(status, NULL, out, text, sizeof text), 0);
    cr_assert(strstr(text, "fake-train: simulated config rejection (exit 2, as dlcm-train on bad input)") != NULL, "%s",
              text);
    cr_assert(strstr(text, "0.01") != NULL, "the lr column: %s", text);

    const char *json[] = {"status", "--db", s.db, "--runs", "--json", NULL};
    cr_assert_eq(sweep_output(json, NULL, out, text, sizeof text), 0);
    json_object *o = json_tokener_parse(text), *list, *runs;
    cr_assert(o != NULL, "JSON: %s", text);
    cr_assert(json_object_object_get_ex(o, "failed", &runs) && json_object_get_int(runs) == 1);
    cr_assert(json_object_object_get_ex(o, "run_list", &list) && json_object_array_length(list) == 2);
    json_object_put(o);

    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(s.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT id FROM runs WHERE seed = 1", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(id, sizeof id, "%.8s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    const char *show[] = {"show", id, "--db", s.db, NULL};
    cr_assert_eq(sweep_output(show, NULL, out, text, sizeof text), 0);
    cr_assert(strstr(text, "status           failed") != NULL, "%s", text);
    cr_assert(strstr(text, "config:") != NULL && strstr(text, "  seed: 1\n") != NULL, "%s", text);
    cr_assert(strstr(text, "stderr tail:") != NULL && strstr(text, "simulated config rejection") != NULL, "%s", text);
    cr_assert(strstr(text, "curve:") != NULL, "%s", text);
    const char *show_none[] = {"show", "ffffffffff", "--db", s.db, NULL};
    cr_assert_eq(sweep_output(show_none, NULL, out, text, sizeof text), 2);
    cr_assert(strstr(text, "no run whose id starts with 'ffffffffff'") != NULL, "%s", text);
    tu_remove_tree(s.dir);
}

Test(sweep_flow, metrics_reach_the_sweep_database_while_runs_train_and_cancel_stops_them)
{
    TuSweep s;
    char out[400], text[32768];
    tu_make_sweep(&s, "flowlive", 2, 400);
    snprintf(out, sizeof out, "%s/out.txt", s.dir);
    const char *env[] = {"DLCM_FAKE_STEP_MS=40", NULL};
    const char *args[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none",
                          "--cpu-workers", "2", "--heartbeat", "0.1", "--status-every=0.2", NULL};
    pid_t pid = tu_sweep_start(args, env, s.log);
    /* Curves and progress of runs still running, in the sweep's own database. */
    wait_for(&s, "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.status = 'running'", 10);
    wait_for(&s, "SELECT count(*) FROM runs WHERE status = 'running' AND steps_done >= 5 AND tokens_done >= 320", 1);
    cr_assert_eq(q(&s, "SELECT count(*) FROM run_curve WHERE train_loss IS NOT NULL"),
                 q(&s, "SELECT count(*) FROM metrics"));
    const char *status[] = {"status", "--db", s.db, NULL};
    cr_assert_eq(sweep_output(status, NULL, out, text, sizeof text), 0);
    cr_assert(strstr(text, "running 2") != NULL, "%s", text);
    /* Cancel only once a status line has measured a rate: a slow build (ASan) can reach the
     * step counts above before the scheduler's first rate window closes. */
    wait_for_measured_status(&s, text, sizeof text);

    const char *cancel[] = {"cancel", "--db", s.db, NULL};
    cr_assert_eq(sweep_output(cancel, NULL, out, text, sizeof text), 0);
    cr_assert(strstr(text, "2 run(s) cancelled") != NULL, "%s", text);
    cr_assert_eq(tu_wait(pid), 0, "the scheduler stops its trainers and ends");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE status = 'cancelled'"), 2, "the status stays cancelled");
    cr_assert_lt(q(&s, "SELECT max(steps_done) FROM runs"), 400, "stopped before the end");
    tu_read(s.log, text, sizeof text);
    cr_assert(strstr(text, "cancelled ") != NULL, "%s", text);
    cr_assert(strstr(text, "ETA ") != NULL && strstr(text, "elapsed ") != NULL, "a status line without a TTY: %s", text);
    cr_assert(has_measured_status(text), "a status line with a rate and an ETA: %s", text);
    tu_remove_tree(s.dir);
}

Test(sweep_flow, tags_and_notes_on_sweeps_and_runs)
{
    TuSweep s;
    char out[400], text[8192];
    tu_make_sweep(&s, "flowtag", 2, 4);
    snprintf(out, sizeof out, "%s/out.txt", s.dir);
    cr_assert_eq(tu_wait(start_run(&s, NULL, "--tag=baseline")), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM sweeps WHERE tags = 'baseline'"), 1);
    const char *note[] = {"tag", "--db", s.db, "--note", "first try", "--tag", "baseline,cpu", NULL};
    cr_assert_eq(sweep_output(note, NULL, out, text, sizeof text), 0, "%s", text);
    cr_assert_eq(q(&s, "SELECT count(*) FROM sweeps WHERE tags = 'baseline,cpu' AND notes = 'first try'"), 1);
    char id[32];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open_v2(s.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT id FROM runs WHERE seed = 0", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    const char *tag_run[] = {"tag", id, "--db", s.db, "--tag", "outlier", NULL};
    cr_assert_eq(sweep_output(tag_run, NULL, out, text, sizeof text), 0, "%s", text);
    cr_assert_eq(q(&s, "SELECT count(*) FROM run_summary WHERE tags = 'outlier'"), 1);
    cr_assert_eq(q(&s, "SELECT count(*) FROM run_summary WHERE tags = 'baseline,cpu'"), 1, "the other inherits");
    const char *nothing[] = {"tag", "--db", s.db, NULL};
    cr_assert_eq(sweep_output(nothing, NULL, out, text, sizeof text), 2);
    /* Provenance recorded at launch. */
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE git_commit IS NOT NULL AND host IS NOT NULL "
                       "AND tokenizer_hash IS NULL"), 2, "no SHARDS_STAMP in the test corpus: no hash");
    tu_remove_tree(s.dir);
}

Test(sweep_flow, a_version_1_database_is_migrated_without_losing_anything)
{
    char dir[256], path[320], err[512];
    tu_temp_dir(dir, "flowmigrate");
    snprintf(path, sizeof path, "%s/v1.sqlite", dir);
    tu_old_schema_db(path, "tests/data/schema_v1.sql", 1,
                     "INSERT INTO meta VALUES ('schema_version', '1');"
                     "INSERT INTO sweeps(id, name, config, created_at) VALUES (1, 'old', 'name: old', 1);"
                     "INSERT INTO runs(id, sweep_id, status, config, family, lr, seed, steps, steps_done, "
                     "final_val_loss, created_at) VALUES ('r1', 1, 'done', 'x', 'dense', 0.004, 7, 10, 10, 2.5, 1);"
                     "INSERT INTO metrics(run_id, step, tokens, train_loss) VALUES ('r1', 0, 64, 3.0), ('r1', 1, 128, 2.9);"
                     "INSERT INTO evals(run_id, step, split, loss) VALUES ('r1', 1, 'val', 2.95);");

    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert(db != NULL, "%s", err);
    cr_assert_eq(db_schema_version(db), DB_SCHEMA_VERSION);
    db_close(db);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM runs WHERE id = 'r1' AND lr = 0.004 AND seed = 7 AND "
                                    "steps_done = 10 AND final_val_loss = 2.5"), 1);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM metrics"), 2);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM run_curve WHERE run = 'r1' AND val_loss = 2.95"), 1);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM sweep_summary WHERE sweep = 'old' AND done = 1 AND version = 1"),
                 1);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'runs_v1'"), 0);
    /* The foreign keys still name the rebuilt table: deleting the run deletes its metrics. */
    db = db_open(path, err, sizeof err);
    cr_assert(db != NULL, "%s", err);
    cr_assert_eq(db_exec(db, "UPDATE runs SET status = 'cancelled' WHERE id = 'r1'", err, sizeof err), 0, "%s", err);
    cr_assert_eq(db_exec(db, "DELETE FROM runs WHERE id = 'r1'", err, sizeof err), 0, "%s", err);
    db_close(db);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM metrics"), 0);
    tu_remove_tree(dir);
}
