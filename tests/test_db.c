/* tests/test_db.c: the store opens, creates its schema once, reopens idempotently, refuses a
 * newer schema and a file that is not a database, and keeps what was stored. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include "db/db.h"

static void temp_path(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "/tmp/dlcm-test-db-%s-%d.sqlite", tag, (int)getpid());
    unlink(buf);
}

Test(db, creates_schema_and_reopens)
{
    char path[256], err[512];
    temp_path(path, sizeof path, "create");
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_eq(db_schema_version(db), DB_SCHEMA_VERSION);
    cr_assert_eq(db_exec(db, "INSERT INTO sweeps(name, created_at) VALUES ('s', 1)", err, sizeof err), 0, "%s", err);
    db_close(db);
    db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    sqlite3_stmt *st = db_prepare(db, "SELECT count(*) FROM sweeps", err, sizeof err);
    cr_assert_not_null(st);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 1, "reopening must keep stored rows");
    sqlite3_finalize(st);
    db_close(db);
    unlink(path);
}

Test(db, refuses_newer_schema)
{
    char path[256], err[512];
    temp_path(path, sizeof path, "newer");
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db);
    cr_assert_eq(db_exec(db, "UPDATE meta SET value = '999' WHERE key = 'schema_version'", err, sizeof err), 0);
    db_close(db);
    cr_assert_null(db_open(path, err, sizeof err));
    cr_assert(strstr(err, "newer") != NULL, "%s", err);
    cr_assert(strstr(err, path) != NULL, "the message names the file: %s", err);
    unlink(path);
}

Test(db, refuses_non_database_file)
{
    char path[256], err[512];
    temp_path(path, sizeof path, "garbage");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 200; i++) fputs("this is not a database file at all\n", f);
    fclose(f);
    cr_assert_null(db_open(path, err, sizeof err));
    cr_assert(strstr(err, path) != NULL, "%s", err);
    unlink(path);
}

Test(db, status_check_constraint)
{
    char path[256], err[512];
    temp_path(path, sizeof path, "check");
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db);
    cr_assert_eq(db_exec(db, "INSERT INTO runs(id, config, family, created_at) VALUES ('a', '', 'dense', 1)", err, sizeof err), 0, "%s", err);
    cr_assert_eq(db_exec(db, "UPDATE runs SET status = 'bogus' WHERE id = 'a'", err, sizeof err), -1);
    db_close(db);
    unlink(path);
}
