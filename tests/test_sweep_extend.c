/* tests/test_sweep_extend.c: `dlcm-sweep run --extend` with the test double of the trainer: a file
 * that only adds runs extends the recorded version (old settings kept), one that drops or changes a run is refused. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/study.h"
#include "util/fs.h"
#include "tests/sweep_test_util.h"

static long q(const TuSweep *s, const char *sql) { return tu_query_int(s->db, sql); }

/* The text of a one-row, one-column query (malloc'd; NULL when there is no row). */
static char *query_text(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *text = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) text = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return text;
}

/* Runs dlcm-sweep with the fake trainer on the CPU backend, its output in s->dir/out.txt (read into
 * text); the exit code. extra: up to two more arguments (NULL for none). */
static int sweep_run(const TuSweep *s, const char *command, const char *extra1, const char *extra2, char *text, size_t n)
{
    char out[400];
    snprintf(out, sizeof out, "%s/out.txt", s->dir);
    unlink(out);
    const char *args[] = {command, s->yaml, "--db", s->db, "--trainer", TEST_FAKE_TRAINER, "--gpus=none",
                          "--cpu-workers=2", "--heartbeat", "0.1", "--stale-after", "5", "--quiet", extra1, extra2, NULL};
    const char *plan_args[] = {command, s->yaml, "--db", s->db, "--no-check", extra1, extra2, NULL};
    int rc = tu_sweep(strcmp(command, "plan") == 0 ? plan_args : args, NULL, out);
    tu_read(out, text, n);
    return rc;
}

/* The whole database file (malloc'd), to check that a refusal leaves it byte for byte. */
static char *file_bytes(const char *path, size_t *len)
{
    char err[512];
    char *bytes = fs_read_file(path, 1 << 26, len, err, sizeof err);
    cr_assert_not_null(bytes, "%s", err);
    return bytes;
}

typedef struct {
    int calls, extension;
    char file[400], text[4096];
} Replaced;

static void on_replaced(void *ctx, int extension, const char *file, const char *text)
{
    Replaced *r = ctx;
    r->calls++;
    r->extension = extension;
    snprintf(r->file, sizeof r->file, "%s", file);
    snprintf(r->text, sizeof r->text, "%s", text);
}

Test(sweep_extend, a_file_that_adds_runs_extends_the_version_and_keeps_every_finished_run)
{
    TuSweep s;
    char text[16384], old_text[4096], new_text[4096], err[512];
    tu_make_sweep(&s, "extadd", 2, 4);
    /* Seed 1 diverges: a finished run of another status than done, kept as well. */
    char out[400];
    snprintf(out, sizeof out, "%s/first.txt", s.dir);
    const char *env[] = {"DLCM_FAKE_MODES=1=nan", NULL};
    const char *first[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus=none", "--quiet", NULL};
    cr_assert_eq(tu_sweep(first, env, out), 0);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 0 AND status = 'done'"), 1);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 1 AND status = 'diverged'"), 1);
    long metrics_before = q(&s, "SELECT count(*) FROM metrics");
    long loss_before = q(&s, "SELECT CAST(final_train_loss * 1e9 AS INTEGER) FROM runs WHERE seed = 0");
    long finished_before = q(&s, "SELECT CAST(finished_at * 1e3 AS INTEGER) FROM runs WHERE seed = 0");
    char *id_before = query_text(s.db, "SELECT id FROM runs WHERE seed = 0");
    cr_assert(metrics_before > 0 && loss_before > 0);
    tu_read(s.yaml, old_text, sizeof old_text);

    tu_edit_sweep(&s, "seed: [0, 1]", "seed: [0, 1, 2]");
    tu_read(s.yaml, new_text, sizeof new_text);
    /* Without --extend a changed file is refused as before, now pointing to --extend too. */
    cr_assert_eq(sweep_run(&s, "run", NULL, NULL, text, sizeof text), 2, "%s", text);
    cr_assert(strstr(text, "--extend") != NULL && strstr(text, "--new-version") != NULL, "%s", text);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs"), 2);

    /* plan --extend says what it would add and writes nothing. */
    cr_assert_eq(sweep_run(&s, "plan", "--extend", NULL, text, sizeof text), 0, "%s", text);
    cr_assert(strstr(text, "--extend would extend sweep extadd (version 1): 1 new run(s)") != NULL, "%s", text);
    cr_assert(strstr(text, "seed 2") != NULL, "%s", text);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs"), 2);

    cr_assert_eq(sweep_run(&s, "run", "--extend", NULL, text, sizeof text), 0, "%s", text);
    cr_assert(strstr(text, "dlcm-sweep: extending sweep extadd (version 1): 1 new run(s); 2 recorded run(s) kept") != NULL,
              "%s", text);
    cr_assert(strstr(text, "changed seed: [0, 1] -> [0, 1, 2]") != NULL, "%s", text);
    cr_assert_eq(q(&s, "SELECT count(*) FROM sweeps"), 1, "the same version, no new one");
    cr_assert_eq(q(&s, "SELECT count(*) FROM sweeps WHERE name = 'extadd' AND version = 1"), 1);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs"), 3);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 2 AND status = 'done'"), 1, "the new run trained");
    /* The finished runs are the same rows with the same data, and were not launched again. */
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 0 AND status = 'done'"), 1);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs WHERE seed = 1 AND status = 'diverged'"), 1);
    cr_assert_eq(tu_launches_of(&s, 0), 1);
    cr_assert_eq(tu_launches_of(&s, 1), 1);
    cr_assert_eq(q(&s, "SELECT CAST(final_train_loss * 1e9 AS INTEGER) FROM runs WHERE seed = 0"), loss_before);
    cr_assert_eq(q(&s, "SELECT CAST(finished_at * 1e3 AS INTEGER) FROM runs WHERE seed = 0"), finished_before);
    char *id_after = query_text(s.db, "SELECT id FROM runs WHERE seed = 0");
    cr_assert_str_eq(id_after, id_before);
    cr_assert_eq(q(&s, "SELECT count(*) FROM metrics r JOIN runs u ON u.id = r.run_id WHERE u.seed IN (0, 1)"),
                 metrics_before);

    /* The version's settings are the new file's; the replaced ones are kept. */
    char *stored = query_text(s.db, "SELECT config FROM sweeps");
    cr_assert_str_eq(stored, new_text);
    sqlite3 *db = db_open_readonly(s.db, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    Replaced replaced = {0};
    cr_assert_eq(study_replaced_settings(db, 1, on_replaced, &replaced, err, sizeof err), 0, "%s", err);
    db_close(db);
    cr_assert_eq(replaced.calls, 1);
    cr_assert_eq(replaced.extension, 1);
    cr_assert_str_eq(replaced.text, old_text);
    cr_assert_str_eq(replaced.file, s.yaml);

    /* The extended file again, without --extend or with it: the recorded version, nothing new. */
    cr_assert_eq(sweep_run(&s, "run", NULL, NULL, text, sizeof text), 0, "%s", text);
    cr_assert_eq(sweep_run(&s, "run", "--extend", NULL, text, sizeof text), 0, "%s", text);
    cr_assert(strstr(text, "extending") == NULL, "%s", text);
    cr_assert_eq(q(&s, "SELECT count(*) FROM sweeps"), 1);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs"), 3);
    cr_assert_eq(q(&s, "SELECT count(*) FROM meta WHERE key LIKE 'sweep_settings:%'"), 1, "no second extension");
    cr_assert_eq(tu_launches_of(&s, 0), 1);
    cr_assert_eq(tu_launches_of(&s, 2), 1);
    free(id_before);
    free(id_after);
    free(stored);
    tu_remove_tree(s.dir);
}

Test(sweep_extend, a_file_that_drops_or_changes_a_run_is_refused_and_the_database_left_as_it_was)
{
    TuSweep s;
    char text[16384];
    tu_make_sweep(&s, "extdrop", 2, 4);
    cr_assert_eq(sweep_run(&s, "run", NULL, NULL, text, sizeof text), 0, "%s", text);
    char *dropped_id = query_text(s.db, "SELECT id FROM runs WHERE seed = 1");
    size_t len_before, len_after;
    char *before = file_bytes(s.db, &len_before);

    /* Seed 1 dropped (and seed 2 added). */
    tu_edit_sweep(&s, "seed: [0, 1]", "seed: [0, 2]");
    cr_assert_eq(sweep_run(&s, "run", "--extend", NULL, text, sizeof text), 2, "%s", text);
    cr_assert(strstr(text, "cannot extend sweep extdrop (version 1)") != NULL, "%s", text);
    cr_assert(strstr(text, dropped_id) != NULL, "names the dropped run: %s", text);
    cr_assert(strstr(text, "seed 1") != NULL, "%s", text);
    cr_assert(strstr(text, "--new-version") != NULL, "%s", text);
    /* plan --extend tells the same, exit 2. */
    cr_assert_eq(sweep_run(&s, "plan", "--extend", NULL, text, sizeof text), 2, "%s", text);
    cr_assert(strstr(text, dropped_id) != NULL, "%s", text);

    /* Every run changed (another lr makes other runs), one added. */
    tu_edit_sweep(&s, "seed: [0, 2]", "seed: [0, 1, 2]");
    tu_edit_sweep(&s, "lr: 0.01", "lr: 0.02");
    cr_assert_eq(sweep_run(&s, "run", "--extend", NULL, text, sizeof text), 2, "%s", text);
    cr_assert(strstr(text, dropped_id) != NULL, "%s", text);
    cr_assert(strstr(text, "changed lr: 0.01 -> 0.02") != NULL, "%s", text);

    /* --extend and --new-version together: bad input. */
    cr_assert_eq(sweep_run(&s, "run", "--extend", "--new-version", text, sizeof text), 2, "%s", text);
    cr_assert(strstr(text, "exclude each other") != NULL, "%s", text);

    char *after = file_bytes(s.db, &len_after);
    cr_assert_eq(len_after, len_before);
    cr_assert(memcmp(before, after, len_before) == 0, "the database file changed");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs"), 2);
    cr_assert_eq(q(&s, "SELECT count(*) FROM meta"), 1, "only the schema version");
    free(before);
    free(after);
    free(dropped_id);
    tu_remove_tree(s.dir);
}

Test(sweep_extend, a_later_version_is_extended_under_its_own_name)
{
    TuSweep s;
    char text[16384];
    tu_make_sweep(&s, "extver", 1, 4);
    cr_assert_eq(sweep_run(&s, "run", NULL, NULL, text, sizeof text), 0, "%s", text);
    tu_edit_sweep(&s, "lr: 0.01", "lr: 0.02");
    cr_assert_eq(sweep_run(&s, "run", "--new-version", NULL, text, sizeof text), 0, "%s", text);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE s.name = 'extver.v2'"), 1);

    tu_edit_sweep(&s, "seed: [0]", "seed: [0, 1]");
    cr_assert_eq(sweep_run(&s, "run", "--extend", NULL, text, sizeof text), 0, "%s", text);
    cr_assert(strstr(text, "extending sweep extver (version 2): 1 new run(s); 1 recorded run(s) kept") != NULL, "%s", text);
    cr_assert_eq(q(&s, "SELECT count(*) FROM sweeps"), 2, "no third version");
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs r JOIN sweeps s ON s.id = r.sweep_id "
                       "WHERE s.name = 'extver.v2' AND r.status = 'done' AND r.lr = 0.02"), 2);
    cr_assert_eq(q(&s, "SELECT count(*) FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE s.name = 'extver'"), 1,
                 "version 1 untouched");
    cr_assert_eq(tu_launches_of(&s, 0), 1, "v1's run: launched once");
    cr_assert_eq(q(&s, "SELECT count(*) FROM meta WHERE key = 'sweep_settings:2:1'"), 1);
    tu_remove_tree(s.dir);
}
