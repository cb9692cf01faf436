/* tests/test_study_trainer.c: the trainer's held-out measurements after its last step: the task
 * files of data.dir/tasks scored (--task-limit items each; none with 0, none by default on the
 * CPU), per-token losses with
 * concept positions on every domain shard, all in the run's own database; without task files
 * the run still succeeds. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "engine/train/config.h"
#include "train_test_util.h"

static char dir[256], out[300], err[300], run_dir[300], db_path[340];

static int train(const char *family, const char *limit)
{
    snprintf(run_dir, sizeof run_dir, "%s/run-%s-%s", dir, family, limit ? limit : "default");
    snprintf(db_path, sizeof db_path, "%s/" TRAIN_RUN_DB_NAME, run_dir);
    char *argv[32] = {"./bin/dlcm-train", "--out", run_dir, "--data.dir", dir, "--model.family", (char *)family,
                      "--model.seq_len", "16", "--model.d_t", "64", "--model.d_c", "64", "--model.n_con", "1",
                      "--train.batch", "2", "--steps", "3", "--schedule.warmup", "1", "--eval.batches", "1",
                      "--quiet"};
    int n = 23;
    if (limit) {
        argv[n++] = "--task-limit";
        argv[n++] = (char *)limit;
    }
    argv[n] = NULL;
    return run_program(argv, out, err);
}

static long query(const char *sql)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

Test(study_trainer, held_out_tasks_and_token_losses_land_in_the_run_database)
{
    snprintf(dir, sizeof dir, "/tmp/dlcm-test-heldout-%d", (int)getpid());
    remove_tree(dir);
    cr_assert_eq(make_tiny_corpus(dir, 20000), 0);
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);

    /* No tasks directory: the run succeeds and says so. */
    cr_assert_eq(train("dlcm", "5"), 0, "%s", slurp(err));
    char *said = slurp(err);
    cr_assert(strstr(said, "no held-out tasks in"), "%s", said);
    free(said);
    cr_assert_eq(query("SELECT count(*) FROM task_scores"), 0);
    cr_assert_eq(query("SELECT count(*) FROM token_losses WHERE split = 'val-alpha' AND seq_len = 16 AND windows = 8 "
                       "AND length(loss) = 4 * 8 * 15 AND length(concept_pos) = 8 * 15"), 1);
    cr_assert_eq(query("SELECT count(*) FROM token_losses WHERE split = 'val'"), 0, "only the domain splits");

    char tasks[300], path[340];
    snprintf(tasks, sizeof tasks, "%s/tasks", dir);
    cr_assert_eq(mkdir(tasks, 0777), 0);
    snprintf(path, sizeof path, "%s/cloze.jsonl", tasks);
    write_text(path, "{\"context\": \"the dog\", \"target\": \" ran\"}\n{\"context\": \"it was\", \"target\": \" warm.\"}\n"
                     "{\"context\": \"a cat\", \"target\": \" sat\"}\n");
    snprintf(path, sizeof path, "%s/definition.jsonl", tasks);
    write_text(path, "{\"context\": \"cat:\", \"choices\": [\" an animal\", \" a house\"], \"answer\": 0}\n"
                     "{\"context\": \"mat:\", \"choices\": [\" a rug\", \" a dog\", \" a sky\"], \"answer\": 0}\n"
                     "{\"context\": \"sky:\", \"choices\": [\" above\", \" below\"], \"answer\": 1}\n");
    cr_assert_eq(train("dlcm", "2"), 0, "%s", slurp(err));
    cr_assert_eq(query("SELECT count(*) FROM task_scores"), 2, "the two files present");
    cr_assert_eq(query("SELECT count(*) FROM task_scores WHERE items = 2 AND items_available = 3 AND "
                       "ci_low <= accuracy AND accuracy <= ci_high AND correct <= items"), 2);
    cr_assert_eq(train("dense", "0"), 0, "%s", slurp(err));
    cr_assert_eq(query("SELECT count(*) FROM task_scores"), 0, "--task-limit 0: none");
    cr_assert_eq(query("SELECT count(*) FROM token_losses WHERE concept_pos IS NULL AND length(loss) = 4 * 8 * 15"), 1,
                 "a dense run stores losses without positions");
    cr_assert_eq(train("dlcm", NULL), 0, "%s", slurp(err));
    cr_assert_eq(query("SELECT count(*) FROM task_scores"), 0, "none by default on the CPU");
    remove_tree(dir);
}
