/* db/db.h: the project's SQLite store: opening it (WAL, busy timeout, foreign keys), creating
 * and migrating the versioned schema, and small helpers. Tables are documented in db/schema.sql.
 * Part-specific access lives beside it: db/runs.h (runs, metrics, evaluations), db/fits.h. */
#ifndef DLCM_DB_DB_H
#define DLCM_DB_DB_H

#include <sqlite3.h>

#define DB_SCHEMA_VERSION 2

/* Opens (creating if needed) the database at path and brings its schema to
 * DB_SCHEMA_VERSION inside one transaction. A database from a newer version is refused.
 * NULL with a message naming the file in err. */
sqlite3 *db_open(const char *path, char *err, int errlen);
void db_close(sqlite3 *db);

/* Runs SQL with no parameters and no results (DDL, BEGIN/COMMIT). 0 or -1 with err. */
int db_exec(sqlite3 *db, const char *sql, char *err, int errlen);

/* Transactions that retry while the database is busy. 0 or -1 with err. */
int db_begin(sqlite3 *db, char *err, int errlen);     /* BEGIN IMMEDIATE */
int db_commit(sqlite3 *db, char *err, int errlen);
void db_rollback(sqlite3 *db);

/* Prepares a statement; NULL with the SQL error in err. */
sqlite3_stmt *db_prepare(sqlite3 *db, const char *sql, char *err, int errlen);

/* The schema version stored in the database (0 when empty). */
int db_schema_version(sqlite3 *db);

/* Seconds since the epoch, with fractions (heartbeats, timestamps). */
double db_now(void);

#endif
