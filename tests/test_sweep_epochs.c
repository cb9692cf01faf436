/* tests/test_sweep_epochs.c: the epochs guard: each planned run's passes over its training shard,
 * counted from the shard's real token count, shown by plan and show and stored with the run; a run
 * beyond max_epochs refused by name with its epochs and the key; databases of versions 2 to 4 migrated. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/shard.h"
#include "db/db.h"
#include "db/runs.h"
#include "sweep/config.h"
#include "sweep/epochs.h"
#include "sweep/plan.h"
#include "tests/sweep_test_util.h"
#include "util/fs.h"

static SweepSpec spec; /* large: kept off the stack */

/* DIR/data/byte/{train,val}.bin with train_tokens and 256 tokens. */
static void write_corpus(const char *dir, int train_tokens)
{
    char byte_dir[400], path[420], err[256];
    snprintf(byte_dir, sizeof byte_dir, "%s/data/byte", dir);
    cr_assert_eq(fs_mkdirs(byte_dir, err, sizeof err), 0, "%s", err);
    uint16_t *tokens = calloc((size_t)train_tokens, sizeof *tokens);
    cr_assert_not_null(tokens);
    for (int i = 0; i < train_tokens; i++) tokens[i] = (uint16_t)(i % 251);
    snprintf(path, sizeof path, "%s/train.bin", byte_dir);
    cr_assert_eq(shard_write(path, tokens, (uint64_t)train_tokens, 256, "byte", 0, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/val.bin", byte_dir);
    cr_assert_eq(shard_write(path, tokens, 256, 256, "byte", 0, err, sizeof err), 0, "%s", err);
    free(tokens);
}

/* A sweep of dense runs of fixed token counts (64 tokens a step) reading DIR/data; extra is
 * appended at the top level (e.g. "max_epochs: 8\n"). */
static void sweep_text(char *out, size_t n, const char *dir, const char *tokens, const char *extra)
{
    snprintf(out, n,
             "name: ep\nvocab: 256\nseq_len: 16\nbatch_tokens: 64\ntokens: %s\nlr: 0.01\n%s"
             "families:\n  - family: dense\n    d_t: 64\n    n_layers: 1\n"
             "trainer:\n  data.tokenizer: byte\n  data.dir: %s/data\n",
             tokens, extra, dir);
}

static int plan_text(const char *yaml, SweepPlan *plan, char *err, int errlen)
{
    if (sweep_config_parse(yaml, strlen(yaml), "ep.yaml", &spec, err, errlen)) return -1;
    if (sweep_plan(&spec, plan, err, errlen)) return -1;
    if (sweep_plan_epochs(&spec, plan, err, errlen)) {
        sweep_plan_free(plan);
        return -1;
    }
    return 0;
}

Test(sweep_epochs, epochs_are_tokens_over_the_shards_real_token_count)
{
    char dir[256], yaml[1024], err[1024];
    tu_temp_dir(dir, "epochs");
    write_corpus(dir, 1024);
    sweep_text(yaml, sizeof yaml, dir, "[640, 3200, 4096]", "");
    SweepPlan plan;
    cr_assert_eq(plan_text(yaml, &plan, err, sizeof err), 0, "%s", err);
    cr_assert_eq(plan.n, 3);
    cr_assert_float_eq(plan.runs[0].epochs, 0.625, 1e-12);
    cr_assert_float_eq(plan.runs[1].epochs, 3.125, 1e-12);
    cr_assert_float_eq(plan.runs[2].epochs, 4.0, 1e-12, "exactly max_epochs is allowed");
    sweep_plan_free(&plan);
    tu_remove_tree(dir);
}

Test(sweep_epochs, a_run_beyond_max_epochs_is_refused_by_name_and_the_key_raises_the_limit)
{
    char dir[256], yaml[1024], err[1024];
    tu_temp_dir(dir, "epochsover");
    write_corpus(dir, 1000);
    sweep_text(yaml, sizeof yaml, dir, "[640, 4160, 6400]", "");
    SweepPlan plan;
    cr_assert_eq(plan_text(yaml, &plan, err, sizeof err), -1, "4.16 and 6.4 epochs planned");
    /* The first run over the limit, its epochs, its shard and the key. */
    SweepPlan bare;
    char inner[1024];
    cr_assert_eq(sweep_config_parse(yaml, strlen(yaml), "ep.yaml", &spec, inner, sizeof inner), 0, "%s", inner);
    cr_assert_eq(sweep_plan(&spec, &bare, inner, sizeof inner), 0, "%s", inner);
    cr_assert(strstr(err, bare.runs[1].id) != NULL, "names the run: %s", err);
    sweep_plan_free(&bare);
    cr_assert(strncmp(err, "ep.yaml:", 8) == 0 && strstr(err, ": max_epochs: ") != NULL, "%s", err);
    cr_assert(strstr(err, "4.16 times") != NULL, "%s", err);
    cr_assert(strstr(err, "more than max_epochs 4") != NULL, "%s", err);
    cr_assert(strstr(err, "and 1 more run over the limit") != NULL, "%s", err);
    cr_assert(strstr(err, "data/byte/train.bin") != NULL, "%s", err);

    sweep_text(yaml, sizeof yaml, dir, "[640, 4160, 6400]", "max_epochs: 6.5\n");
    cr_assert_eq(plan_text(yaml, &plan, err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(plan.runs[2].epochs, 6.4, 1e-12);
    sweep_plan_free(&plan);
    sweep_text(yaml, sizeof yaml, dir, "[640, 4160, 6400]", "max_epochs: 6\n");
    cr_assert_eq(plan_text(yaml, &plan, err, sizeof err), -1);
    cr_assert(strncmp(err, "ep.yaml:7: max_epochs: ", 23) == 0, "the key's own line: %s", err);
    cr_assert(strstr(err, "6.4 times") != NULL, "%s", err);
    sweep_text(yaml, sizeof yaml, dir, "640", "max_epochs: 0\n");
    cr_assert_eq(sweep_config_parse(yaml, strlen(yaml), "ep.yaml", &spec, err, sizeof err), -1);
    cr_assert(strstr(err, "ep.yaml:7: max_epochs: must be in (0, 1e6]") != NULL, "%s", err);
    tu_remove_tree(dir);
}

Test(sweep_epochs, a_missing_or_cut_shard_leaves_epochs_unknown_for_the_data_check_to_report)
{
    char dir[256], yaml[1024], err[1024], path[400];
    tu_temp_dir(dir, "epochsmissing");
    sweep_text(yaml, sizeof yaml, dir, "100000", "");
    SweepPlan plan;
    cr_assert_eq(plan_text(yaml, &plan, err, sizeof err), 0, "%s", err);
    cr_assert(isnan(plan.runs[0].epochs));
    sweep_plan_free(&plan);
    /* A shard cut short: its header's count is not its real size. */
    write_corpus(dir, 1000);
    snprintf(path, sizeof path, "%s/data/byte/train.bin", dir);
    cr_assert_eq(truncate(path, SHARD_HEADER_BYTES + 2 * 500), 0);
    cr_assert_eq(plan_text(yaml, &plan, err, sizeof err), 0, "%s", err);
    cr_assert(isnan(plan.runs[0].epochs));
    sweep_plan_free(&plan);
    tu_remove_tree(dir);
}

Test(sweep_epochs, plan_shows_run_stores_and_show_prints_the_epochs)
{
    char dir[256], yaml_text[1024], yaml[320], db[320], out[320], text[16384];
    tu_temp_dir(dir, "epochscli");
    write_corpus(dir, 1000);
    snprintf(yaml, sizeof yaml, "%s/sweep.yaml", dir);
    snprintf(db, sizeof db, "%s/db.sqlite", dir);
    snprintf(out, sizeof out, "%s/out.log", dir);
    sweep_text(yaml_text, sizeof yaml_text, dir, "[640, 2560]", "");
    tu_write(yaml, yaml_text);
    const char *plan_args[] = {"plan", yaml, NULL};
    cr_assert_eq(tu_sweep(plan_args, NULL, out), 0);
    tu_read(out, text, sizeof text);
    cr_assert(strstr(text, " epochs ") != NULL, "a column: %s", text);
    cr_assert(strstr(text, " 0.64 ") != NULL && strstr(text, " 2.56 ") != NULL, "%s", text);
    cr_assert(strstr(text, "total training FLOPs: ") != NULL && strstr(text, "25 TFLOP/s") != NULL, "%s", text);
    const char *csv_args[] = {"plan", yaml, "--csv", NULL};
    cr_assert_eq(tu_sweep(csv_args, NULL, out), 0);
    tu_read(out, text, sizeof text);
    cr_assert(strstr(text, ",est_memory_bytes,epochs\n") != NULL && strstr(text, ",2.56\n") != NULL, "%s", text);

    const char *run_args[] = {"run", yaml, "--db", db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", "--quiet", NULL};
    cr_assert_eq(tu_sweep(run_args, NULL, out), 0);
    cr_assert_eq(tu_query_int(db, "SELECT count(*) FROM runs WHERE abs(epochs - 0.64) < 1e-12"), 1);
    cr_assert_eq(tu_query_int(db, "SELECT count(*) FROM run_summary WHERE abs(epochs - 2.56) < 1e-12"), 1);
    char id[32] = "";
    sqlite3 *raw = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(raw, "SELECT id FROM runs WHERE tokens = 2560", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(raw);
    const char *show_args[] = {"show", id, "--db", db, NULL};
    cr_assert_eq(tu_sweep(show_args, NULL, out), 0);
    tu_read(out, text, sizeof text);
    cr_assert(strstr(text, "epochs") != NULL && strstr(text, "2.56") != NULL, "%s", text);

    /* Beyond the limit: plan and run refuse with exit 2, nothing recorded. */
    sweep_text(yaml_text, sizeof yaml_text, dir, "[640, 2560, 4480]", "");
    tu_write(yaml, yaml_text);
    cr_assert_eq(tu_sweep(plan_args, NULL, out), 2);
    tu_read(out, text, sizeof text);
    cr_assert(strstr(text, "4.48 times") != NULL && strstr(text, "max_epochs") != NULL, "%s", text);
    cr_assert_eq(tu_sweep(run_args, NULL, out), 2);
    cr_assert_eq(tu_query_int(db, "SELECT count(*) FROM runs"), 2);
    tu_remove_tree(dir);
}

Test(sweep_epochs, a_version_2_database_is_migrated_with_its_runs_kept)
{
    char dir[256], path[320], err[512];
    tu_temp_dir(dir, "epochsmigrate");
    snprintf(path, sizeof path, "%s/v2.sqlite", dir);
    tu_old_schema_db(path, "tests/data/schema_v2.sql", 2,
                     "INSERT INTO meta VALUES ('schema_version', '2');"
                     "INSERT INTO sweeps(id, name, config, created_at, base_name, version) "
                     "VALUES (1, 'old', 'name: old', 1, 'old', 1);"
                     "INSERT INTO runs(id, sweep_id, status, config, family, lr, seed, steps, steps_done, tokens, "
                     "final_val_loss, created_at, git_commit) VALUES ('r2', 1, 'done', 'x', 'dense', 0.004, 3, 10, 10, "
                     "640, 2.5, 1, 'abc');"
                     "INSERT INTO metrics(run_id, step, tokens, train_loss) VALUES ('r2', 0, 64, 3.0);");

    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_eq(db_schema_version(db), DB_SCHEMA_VERSION);
    db_close(db);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM runs WHERE id = 'r2' AND seed = 3 AND final_val_loss = 2.5 "
                                    "AND git_commit = 'abc' AND epochs IS NULL"), 1);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM run_summary WHERE run = 'r2' AND epochs IS NULL AND loss = 2.5"), 1);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM metrics"), 1);
    /* A read-only open now finds the current version. */
    db = db_open_readonly(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    db_close(db);

    /* `dlcm-sweep migrate` does the same for a database only read so far, and nothing else. */
    char v2[320], out[320], text[2048];
    snprintf(v2, sizeof v2, "%s/v2b.sqlite", dir);
    snprintf(out, sizeof out, "%s/out.log", dir);
    tu_old_schema_db(v2, "tests/data/schema_v2.sql", 2, "INSERT INTO meta VALUES ('schema_version', '2')");
    const char *status[] = {"status", "--db", v2, NULL};
    cr_assert_eq(tu_sweep(status, NULL, out), 2, "a read-only command refuses the older version");
    const char *migrate[] = {"migrate", "--db", v2, NULL};
    cr_assert_eq(tu_sweep(migrate, NULL, out), 0);
    tu_read(out, text, sizeof text);
    char migrated[64];
    snprintf(migrated, sizeof migrated, "is at schema version %d", DB_SCHEMA_VERSION);
    cr_assert(strstr(text, migrated) != NULL, "%s", text);
    cr_assert_eq(tu_sweep(status, NULL, out), 0);
    snprintf(v2, sizeof v2, "%s/absent.sqlite", dir);
    cr_assert_eq(tu_sweep(migrate, NULL, out), 2, "no database is created");
    cr_assert_neq(access(v2, F_OK), 0);
    tu_remove_tree(dir);
}

Test(sweep_epochs, a_version_3_database_gets_the_epochs_column_and_keeps_its_held_out_rows)
{
    char dir[256], path[320], err[512];
    tu_temp_dir(dir, "epochsmigrate3");
    snprintf(path, sizeof path, "%s/v3.sqlite", dir);
    tu_old_schema_db(path, "tests/data/schema_v3.sql", 3,
                     "INSERT INTO meta VALUES ('schema_version', '3');"
                     "INSERT INTO sweeps(id, name, config, created_at) VALUES (1, 'old', 'name: old', 1);"
                     "INSERT INTO runs(id, sweep_id, status, config, family, created_at) "
                     "VALUES ('r3', 1, 'done', 'x', 'dlcm', 1);"
                     "INSERT INTO task_scores(run_id, task, items, correct, accuracy, ci_low, ci_high) "
                     "VALUES ('r3', 'cloze', 100, 13, 0.13, 0.08, 0.21);");
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_eq(db_schema_version(db), DB_SCHEMA_VERSION);
    db_close(db);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM run_summary WHERE run = 'r3' AND epochs IS NULL"), 1);
    cr_assert_eq(tu_query_int(path, "SELECT correct FROM task_scores WHERE run_id = 'r3'"), 13);
    tu_remove_tree(dir);
}

Test(sweep_epochs, a_version_4_database_gets_the_phase_table_and_keeps_its_runs)
{
    char dir[256], path[320], err[512];
    tu_temp_dir(dir, "epochsmigrate4");
    snprintf(path, sizeof path, "%s/v4.sqlite", dir);
    tu_old_schema_db(path, "tests/data/schema_v4.sql", 4,
                     "INSERT INTO meta VALUES ('schema_version', '4');"
                     "INSERT INTO sweeps(id, name, config, created_at) VALUES (1, 'old', 'name: old', 1);"
                     "INSERT INTO runs(id, sweep_id, status, config, family, epochs, created_at) "
                     "VALUES ('r4', 1, 'done', 'x', 'dense', 0.5, 1);"
                     "INSERT INTO metrics(run_id, step, tokens, train_loss) VALUES ('r4', 1, 64, 3.0);");
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_eq(db_schema_version(db), DB_SCHEMA_VERSION);
    double seconds[RUN_N_PHASES] = {0.5, 0.25, 3.0, 0.125, 1.0};
    cr_assert_eq(runs_add_phases(db, "r4", seconds, err, sizeof err), 0, "%s", err);
    db_close(db);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM run_summary WHERE run = 'r4' AND epochs = 0.5"), 1);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM metrics WHERE run_id = 'r4'"), 1);
    cr_assert_eq(tu_query_int(path, "SELECT count(*) FROM run_phases WHERE run_id = 'r4'"), RUN_N_PHASES);
    tu_remove_tree(dir);
}
