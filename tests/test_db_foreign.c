/* tests/test_db_foreign.c: databases that are not ours, or from a newer version, are never
 * changed: the read-only commands (dlcm-sweep status, export) open read-only, never create or
 * migrate; writers refuse a foreign file and a newer schema before switching the journal mode. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "db/db.h"
#include "tests/sweep_test_util.h"
#include "train_test_util.h"

/* The whole file, for byte comparison; *len gets its size. */
static char *file_bytes(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)*len + 1);
    cr_assert_eq(fread(buf, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return buf;
}

static void assert_unchanged(const char *path, const char *before, long before_len, const char *what)
{
    long len;
    char *after = file_bytes(path, &len);
    cr_assert(len == before_len && memcmp(after, before, (size_t)len) == 0, "%s changed %s", path, what);
    free(after);
    char side[600];
    snprintf(side, sizeof side, "%s-wal", path);
    cr_assert_neq(access(side, F_OK), 0, "%s: a -wal file appeared (%s)", path, what);
}

/* Somebody else's SQLite file: one table, rollback journal. */
static void make_foreign(const char *path)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT);"
                                  "INSERT INTO notes(text) VALUES ('mine, not dlcm''s')", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

Test(db_foreign, sweep_commands_leave_a_foreign_database_byte_identical)
{
    char dir[256], path[320], out[320], text[4096];
    tu_temp_dir(dir, "foreign");
    snprintf(path, sizeof path, "%s/other.sqlite", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    make_foreign(path);
    long len;
    char *before = file_bytes(path, &len);
    const char *status[] = {"status", "--db", path, NULL};
    cr_assert_eq(tu_sweep(status, NULL, out), CLI_EXIT_BAD_INPUT);
    tu_read(out, text, sizeof text);
    cr_assert(strstr(text, "not a dlcm database") != NULL, "%s", text);
    assert_unchanged(path, before, len, "by status");
    const char *export[] = {"export", "--db", path, NULL};
    cr_assert_eq(tu_sweep(export, NULL, out), CLI_EXIT_BAD_INPUT);
    assert_unchanged(path, before, len, "by export");
    /* A command that writes refuses it too, before touching it. */
    TuSweep s;
    tu_make_sweep(&s, "foreignrun", 1, 2);
    const char *run[] = {"run", s.yaml, "--db", path, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", "--quiet", NULL};
    cr_assert_eq(tu_sweep(run, NULL, out), CLI_EXIT_BAD_INPUT);
    assert_unchanged(path, before, len, "by run");
    char err[512];
    cr_assert_null(db_open(path, err, sizeof err));
    cr_assert(strstr(err, path) != NULL && strstr(err, "not a dlcm database") != NULL, "%s", err);
    assert_unchanged(path, before, len, "by db_open");
    free(before);
    tu_remove_tree(s.dir);
    tu_remove_tree(dir);
}

Test(db_foreign, a_newer_schema_is_refused_and_left_unchanged)
{
    char dir[256], path[320], out[320], text[4096], err[512];
    tu_temp_dir(dir, "newer");
    snprintf(path, sizeof path, "%s/newer.sqlite", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_eq(db_exec(db, "UPDATE meta SET value = '999' WHERE key = 'schema_version'; "
                             "PRAGMA journal_mode=DELETE", err, sizeof err), 0, "%s", err);
    db_close(db);
    long len;
    char *before = file_bytes(path, &len);
    const char *status[] = {"status", "--db", path, NULL};
    cr_assert_eq(tu_sweep(status, NULL, out), CLI_EXIT_BAD_INPUT);
    tu_read(out, text, sizeof text);
    cr_assert(strstr(text, "newer than this program") != NULL, "%s", text);
    assert_unchanged(path, before, len, "by status");
    TuSweep s;
    tu_make_sweep(&s, "newerrun", 1, 2);
    const char *run[] = {"run", s.yaml, "--db", path, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", "--quiet", NULL};
    cr_assert_eq(tu_sweep(run, NULL, out), CLI_EXIT_BAD_INPUT);
    assert_unchanged(path, before, len, "by run (the journal mode stays)");
    free(before);
    tu_remove_tree(s.dir);
    tu_remove_tree(dir);
}

Test(db_foreign, reading_never_creates_a_database)
{
    char dir[256], path[320], err[512];
    tu_temp_dir(dir, "nocreate");
    snprintf(path, sizeof path, "%s/absent.sqlite", dir);
    cr_assert_null(db_open_readonly(path, err, sizeof err));
    cr_assert_neq(access(path, F_OK), 0, "no file was created");
    /* An empty file is not ours to read either, and stays empty. */
    write_text(path, "");
    cr_assert_null(db_open_readonly(path, err, sizeof err));
    long len;
    free(file_bytes(path, &len));
    cr_assert_eq(len, 0);
    /* A database of ours reads fine, read-only. */
    unlink(path);
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    db_close(db);
    db = db_open_readonly(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_neq(db_exec(db, "INSERT INTO sweeps(name, created_at) VALUES ('x', 1)", err, sizeof err), 0,
                  "a read-only handle cannot write");
    db_close(db);
    tu_remove_tree(dir);
}
