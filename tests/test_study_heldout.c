/* tests/test_study_heldout.c: the held-out measurements in the store (schema version 3): a version
 * 2 database migrates without losing anything, task scores and per-token losses round-trip
 * exactly (a blob that disagrees with itself is refused), and the scheduler collects them from a
 * run's own database and discards them with the rest of a run's results. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "db/heldout.h"
#include "db/sweeps.h"
#include "tests/sweep_test_util.h"

static void exec_ok(sqlite3 *db, const char *sql)
{
    char err[512];
    cr_assert_eq(db_exec(db, sql, err, sizeof err), 0, "%s", err);
}

static void add_run(sqlite3 *db, const char *id)
{
    char sql[512];
    exec_ok(db, "INSERT OR IGNORE INTO sweeps(id, name, created_at) VALUES (1, 's', 1)");
    snprintf(sql, sizeof sql,
             "INSERT INTO runs(id, sweep_id, status, config, family, created_at) VALUES ('%s', 1, 'running', 'x', "
             "'dlcm', 1)",
             id);
    exec_ok(db, sql);
}

Test(study_heldout, a_version_2_database_migrates_to_3_keeping_everything)
{
    char dir[256], path[320], err[512];
    tu_temp_dir(dir, "heldoutmigrate");
    snprintf(path, sizeof path, "%s/v2.sqlite", dir);
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    add_run(db, "r1");
    exec_ok(db, "INSERT INTO evals(run_id, step, split, loss, realized_R) VALUES ('r1', 5, 'val-literature', 3.5, 3.9)");
    /* What version 2 was: no held-out tables. */
    exec_ok(db, "DROP TABLE task_scores; DROP TABLE token_losses; "
                "UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    db_close(db);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'task_scores'"), 0);
    db = db_open_readonly(path, err, sizeof err);
    cr_assert_null(db, "a reader does not migrate");
    db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_eq(db_schema_version(db), DB_SCHEMA_VERSION);
    HeldoutTask t = {"cloze", 100, 625, 13, 0.13, 0.078, 0.21, 0.1, -16.4};
    cr_assert_eq(heldout_store_task(db, "r1", &t, err, sizeof err), 0, "%s", err);
    db_close(db);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM evals WHERE run_id = 'r1' AND realized_R = 3.9"), 1);
    cr_assert_eq(tu_query_int(path, "SELECT correct FROM task_scores WHERE run_id = 'r1' AND task = 'cloze'"), 13);
    tu_remove_tree(dir);
}

static void count_task(void *ctx, const HeldoutTask *t)
{
    int *n = ctx;
    cr_assert(!strcmp(t->task, "cloze") || !strcmp(t->task, "definition"));
    if (!strcmp(t->task, "definition")) {
        cr_assert_eq(t->correct, 33);
        cr_assert_eq(t->items_available, 4495);
        cr_assert_float_eq(t->ci_high, 0.427, 1e-12);
    }
    (*n)++;
}

Test(study_heldout, scores_and_token_losses_round_trip_exactly)
{
    char dir[256], path[320], err[512];
    tu_temp_dir(dir, "heldoutroundtrip");
    snprintf(path, sizeof path, "%s/db.sqlite", dir);
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    add_run(db, "r1");
    HeldoutTask a = {"cloze", 100, 625, 13, 0.13, 0.078, 0.21, 0.1, -16.4};
    HeldoutTask b = {"definition", 100, 4495, 33, 0.33, 0.246, 0.427, 0.25, NAN};
    cr_assert_eq(heldout_store_task(db, "r1", &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(heldout_store_task(db, "r1", &b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(heldout_store_task(db, "r1", &b, err, sizeof err), 0, "storing again replaces: %s", err);
    int n = 0;
    cr_assert_eq(heldout_read_tasks(db, "r1", count_task, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 2);

    float loss[5] = {0.5f, 1e-30f, 3.25f, INFINITY, 7.125f};
    uint8_t pos[5] = {0, 1, 2, 255, 0};
    HeldoutTokens tok = {"val-technical", 6, 1, 0x0123456789abcdefull, 5, loss, pos};
    cr_assert_eq(heldout_store_tokens(db, "r1", &tok, err, sizeof err), 0, "%s", err);
    HeldoutTokensRead back;
    cr_assert_eq(heldout_read_tokens(db, "r1", "val-technical", &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(back.n, 5);
    cr_assert_eq(back.seq_len, 6);
    cr_assert_str_eq(back.tokens_hash, "0123456789abcdef");
    cr_assert_eq(memcmp(back.loss, loss, sizeof loss), 0, "bit for bit");
    cr_assert_eq(memcmp(back.concept_pos, pos, sizeof pos), 0);
    heldout_tokens_free(&back);
    cr_assert_eq(heldout_read_tokens(db, "r1", "val-other", &back, err, sizeof err), 1, "no such split");
    /* A dense run stores no positions. */
    HeldoutTokens dense = {"val-dictionary", 6, 1, 1, 5, loss, NULL};
    cr_assert_eq(heldout_store_tokens(db, "r1", &dense, err, sizeof err), 0, "%s", err);
    cr_assert_eq(heldout_read_tokens(db, "r1", "val-dictionary", &back, err, sizeof err), 0, "%s", err);
    cr_assert_null(back.concept_pos);
    heldout_tokens_free(&back);
    /* Positions that do not match the losses are refused, not read past. */
    exec_ok(db, "UPDATE token_losses SET concept_pos = x'0001' WHERE split = 'val-technical'");
    cr_assert_eq(heldout_read_tokens(db, "r1", "val-technical", &back, err, sizeof err), -1);
    cr_assert(strstr(err, "do not describe the same tokens"), "%s", err);
    HeldoutTokens empty = {"val-x", 6, 1, 1, 0, loss, NULL};
    cr_assert_eq(heldout_store_tokens(db, "r1", &empty, err, sizeof err), -1);
    db_close(db);
    tu_remove_tree(dir);
}

Test(study_heldout, the_scheduler_collects_and_discards_them)
{
    char dir[256], path[320], run_path[320], err[512], status[32];
    tu_temp_dir(dir, "heldoutcollect");
    snprintf(path, sizeof path, "%s/main.sqlite", dir);
    snprintf(run_path, sizeof run_path, "%s/run.sqlite", dir);
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    add_run(db, "r1");
    cr_assert_eq(sweeps_prepare_run_db(db, "r1", run_path, err, sizeof err), 0, "%s", err);
    sqlite3 *run_db = db_open(run_path, err, sizeof err);
    cr_assert_not_null(run_db, "%s", err);
    HeldoutTask t = {"next_sentence", 100, 3718, 25, 0.25, 0.17, 0.34, 0.25, -500};
    float loss[3] = {1, 2, 3};
    uint8_t pos[3] = {0, 1, 0};
    HeldoutTokens tok = {"val-literature", 4, 1, 9, 3, loss, pos};
    cr_assert_eq(heldout_store_task(run_db, "r1", &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(heldout_store_tokens(run_db, "r1", &tok, err, sizeof err), 0, "%s", err);
    exec_ok(run_db, "UPDATE runs SET status = 'done' WHERE id = 'r1'");
    db_close(run_db);
    cr_assert_eq(sweeps_collect(db, "r1", run_path, status, sizeof status, err, sizeof err), 0, "%s", err);
    cr_assert_eq(tu_query_int(path, "SELECT correct FROM task_scores WHERE run_id = 'r1'"), 25);
    cr_assert_eq(tu_query_int(path, "SELECT length(loss) FROM token_losses WHERE run_id = 'r1'"), 12);
    cr_assert_eq(sweeps_collect(db, "r1", run_path, status, sizeof status, err, sizeof err), 0, "twice: %s", err);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM task_scores"), 1);
    cr_assert_eq(sweeps_discard_results(db, "r1", err, sizeof err), 0, "%s", err);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM task_scores"), 0);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM token_losses"), 0);
    db_close(db);
    tu_remove_tree(dir);
}
