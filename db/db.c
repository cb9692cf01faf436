/* db/db.c: opening the SQLite store, creating and migrating its schema (db/schema.sql, built
 * in as a string), transactions that wait out a busy database, and small helpers. */
#include "db/db.h"
#include "db/migrate.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static const char schema_sql[] =
#include "db/schema.inc" /* generated from db/schema.sql into build/ */
    ;

double db_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec * 1e-6;
}

int db_exec(sqlite3 *db, const char *sql, char *err, int errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

sqlite3_stmt *db_prepare(sqlite3 *db, const char *sql, char *err, int errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s (in: %.80s)", sqlite3_errmsg(db), sql);
        return NULL;
    }
    return st;
}

int db_begin(sqlite3 *db, char *err, int errlen)
{
    /* busy_timeout covers most waits; BEGIN IMMEDIATE can still report BUSY under contention. */
    for (int attempt = 0; attempt < 100; attempt++) {
        int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK) return 0;
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
        usleep(50000);
    }
    snprintf(err, errlen, "sqlite: cannot begin a transaction: %s", sqlite3_errmsg(db));
    return -1;
}

int db_commit(sqlite3 *db, char *err, int errlen)
{
    return db_exec(db, "COMMIT", err, errlen);
}

void db_rollback(sqlite3 *db)
{
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int db_schema_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
                           NULL) != SQLITE_OK)
        return 0; /* no meta table: an empty database */
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return version;
}

sqlite3 *db_open(const char *path, char *err, int errlen)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open database: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    char inner[512];
    /* Reading the header first tells a non-database file apart from a fresh one. */
    if (db_exec(db, "PRAGMA journal_mode=WAL", inner, sizeof inner) ||
        db_exec(db, "PRAGMA foreign_keys=ON", inner, sizeof inner) ||
        db_exec(db, "PRAGMA synchronous=NORMAL", inner, sizeof inner)) {
        snprintf(err, errlen, "%s: not a usable SQLite database (%s)", path, inner);
        sqlite3_close(db);
        return NULL;
    }
    int version = db_schema_version(db);
    if (version > DB_SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: schema version %d is newer than this program's (%d)", path, version,
                 DB_SCHEMA_VERSION);
        sqlite3_close(db);
        return NULL;
    }
    if (version < DB_SCHEMA_VERSION) {
        /* A migration may rebuild a table: foreign keys stay off until it is committed. */
        if (version > 0 && db_exec(db, "PRAGMA foreign_keys=OFF", inner, sizeof inner)) goto fail;
        if (db_begin(db, inner, sizeof inner)) goto fail;
        /* Version 0 creates everything; older versions migrate step by step (db/migrate.c). */
        if (version == 0 ? db_exec(db, schema_sql, inner, sizeof inner)
                         : db_migrate(db, version, schema_sql, inner, sizeof inner)) {
            db_rollback(db);
            goto fail;
        }
        char sql[128];
        snprintf(sql, sizeof sql,
                 "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '%d')",
                 DB_SCHEMA_VERSION);
        if (db_exec(db, sql, inner, sizeof inner)) { db_rollback(db); goto fail; }
        if (db_commit(db, inner, sizeof inner)) { db_rollback(db); goto fail; }
        if (db_exec(db, "PRAGMA foreign_keys=ON", inner, sizeof inner)) goto fail;
    }
    return db;
fail:
    snprintf(err, errlen, "%s: cannot create the schema: %s", path, inner);
    sqlite3_close(db);
    return NULL;
}

void db_close(sqlite3 *db)
{
    if (db) sqlite3_close(db);
}
