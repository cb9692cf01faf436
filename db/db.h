/* db/db.h: the project's SQLite store: opening it for writing (creating and migrating the
 * versioned schema, WAL) or for reading only, transactions and small helpers. Tables are documented
 * in db/schema.sql; part-specific access lives beside it (db/runs.h, db/sweeps.h, db/fits.h). */
#ifndef DLCM_DB_DB_H
#define DLCM_DB_DB_H

#include <sqlite3.h>
#include <stdint.h>

#define DB_SCHEMA_VERSION 5

/* For commands that write: opens (creating if needed) the database at path and brings its schema
 * to DB_SCHEMA_VERSION inside one transaction, then switches it to WAL. The schema is created
 * only in a new or empty file or one that is ours (has our meta table); somebody else's
 * database, a non-database file and a newer schema are refused untouched. NULL with a message
 * naming the file in err. */
sqlite3 *db_open(const char *path, char *err, int errlen);
/* For commands that only read (status, export, fit, query): opens an existing database of ours at
 * this schema version read-only; it never creates, migrates or changes the journal mode. NULL
 * with err. */
sqlite3 *db_open_readonly(const char *path, char *err, int errlen);
void db_close(sqlite3 *db);

/* Runs SQL with no parameters and no results (DDL, BEGIN/COMMIT). 0 or -1 with err. */
int db_exec(sqlite3 *db, const char *sql, char *err, int errlen);

/* Transactions that retry while the database is busy. 0 or -1 with err. */
int db_begin(sqlite3 *db, char *err, int errlen);     /* BEGIN IMMEDIATE */
int db_commit(sqlite3 *db, char *err, int errlen);
void db_rollback(sqlite3 *db);

/* Reports the connection's last error as "database: CONTEXT: message" in err; returns -1. */
int db_fail(sqlite3 *db, const char *context, char *err, int errlen);

/* Steps a statement once (a row or the end is success) unless one of its binds failed
 * (bind_failed != 0), in which case nothing runs. 0, or -1 with err. The caller finalizes. */
int db_step(sqlite3 *db, sqlite3_stmt *st, int bind_failed, const char *context, char *err, int errlen);

/* The one set of binds: each returns 0, or -1 when SQLite refused it (callers OR the results into
 * a flag that db_step checks, so no bind goes unchecked). Text is copied; NULL text binds NULL;
 * real_or_null binds NULL for NaN and infinities, count_or_null for negative counts. */
int db_bind_text(sqlite3_stmt *st, int i, const char *text);
int db_bind_int64(sqlite3_stmt *st, int i, int64_t v);
int db_bind_double(sqlite3_stmt *st, int i, double v);
int db_bind_real_or_null(sqlite3_stmt *st, int i, double v);
int db_bind_count_or_null(sqlite3_stmt *st, int i, int64_t v);

/* For a statement whose binds failed: the message in err, the statement finalized; returns -1. */
int db_bind_failed(sqlite3_stmt *st, const char *context, char *err, int errlen);

/* Prepares a statement; NULL with the SQL error in err. */
sqlite3_stmt *db_prepare(sqlite3 *db, const char *sql, char *err, int errlen);

/* The schema version stored in the database (0 when empty). */
int db_schema_version(sqlite3 *db);

/* Seconds since the epoch, with fractions (heartbeats, timestamps). */
double db_now(void);

#endif
