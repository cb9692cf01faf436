/* db/db.c: opening the SQLite store, creating and migrating its schema (db/schema.sql, built
 * in as a string), transactions that wait out a busy database, and small helpers. */
#include "db/db.h"
#include "db/migrate.h"

#include <math.h>
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

int db_fail(sqlite3 *db, const char *context, char *err, int errlen)
{
    snprintf(err, errlen, "database: %s: %s", context, sqlite3_errmsg(db));
    return -1;
}

int db_step(sqlite3 *db, sqlite3_stmt *st, int bind_failed, const char *context, char *err, int errlen)
{
    if (bind_failed) {
        snprintf(err, errlen, "database: %s: binding a parameter failed: %s", context, sqlite3_errmsg(db));
        return -1;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_fail(db, context, err, errlen);
    return 0;
}

int db_bind_failed(sqlite3_stmt *st, const char *context, char *err, int errlen)
{
    snprintf(err, errlen, "database: %s: binding a parameter failed: %s", context,
             sqlite3_errmsg(sqlite3_db_handle(st)));
    sqlite3_finalize(st);
    return -1;
}

int db_bind_text(sqlite3_stmt *st, int i, const char *text)
{
    int rc = text ? sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? 0 : -1;
}

int db_bind_int64(sqlite3_stmt *st, int i, int64_t v)
{
    return sqlite3_bind_int64(st, i, v) == SQLITE_OK ? 0 : -1;
}

int db_bind_double(sqlite3_stmt *st, int i, double v)
{
    return sqlite3_bind_double(st, i, v) == SQLITE_OK ? 0 : -1;
}

int db_bind_real_or_null(sqlite3_stmt *st, int i, double v)
{
    int rc = isfinite(v) ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? 0 : -1;
}

int db_bind_count_or_null(sqlite3_stmt *st, int i, int64_t v)
{
    int rc = v >= 0 ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? 0 : -1;
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

/* What an opened file is to us: -1 not a database (or unreadable), 0 empty, 1 a database with our
 * meta table, 2 somebody else's database (objects, no meta). Reading the schema also tells a
 * non-database file apart, without writing a byte. */
static int database_kind(sqlite3 *db, char *why, int whylen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT count(*), coalesce(sum(type = 'table' AND name = 'meta'), 0) FROM sqlite_master",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(why, whylen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    int kind = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        int objects = sqlite3_column_int(st, 0), has_meta = sqlite3_column_int(st, 1);
        kind = objects == 0 ? 0 : has_meta ? 1 : 2;
    } else {
        snprintf(why, whylen, "%s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return kind;
}

/* Opens with flags and checks that the file is ours (or empty, when empty_ok) at a version this
 * program reads; NULL with err otherwise. Nothing is written. */
static sqlite3 *open_checked(const char *path, int flags, int empty_ok, int *version, char *err, int errlen)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open database: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    char why[256];
    int kind = database_kind(db, why, sizeof why);
    *version = kind == 1 ? db_schema_version(db) : 0;
    if (kind < 0) snprintf(err, errlen, "%s: not a usable SQLite database (%s)", path, why);
    else if (kind == 2)
        snprintf(err, errlen, "%s: not a dlcm database (it holds tables but no dlcm meta table); left untouched", path);
    else if (kind == 0 && !empty_ok) snprintf(err, errlen, "%s: an empty database, not a dlcm one", path);
    else if (*version > DB_SCHEMA_VERSION)
        snprintf(err, errlen, "%s: schema version %d is newer than this program's (%d); left untouched", path,
                 *version, DB_SCHEMA_VERSION);
    else if (kind == 1 && *version < 1)
        snprintf(err, errlen, "%s: its meta table has no schema version; left untouched", path);
    else {
        char inner[256];
        if (db_exec(db, "PRAGMA foreign_keys=ON", inner, sizeof inner) == 0) return db;
        snprintf(err, errlen, "%s: %s", path, inner);
    }
    sqlite3_close(db);
    return NULL;
}

sqlite3 *db_open(const char *path, char *err, int errlen)
{
    int version;
    sqlite3 *db = open_checked(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1, &version, err, errlen);
    if (!db) return NULL;
    char inner[512];
    if (version < DB_SCHEMA_VERSION) {
        /* A migration may rebuild a table: foreign keys stay off until it is committed. */
        if (version > 0 && db_exec(db, "PRAGMA foreign_keys=OFF", inner, sizeof inner)) goto fail;
        if (db_begin(db, inner, sizeof inner)) goto fail;
        /* A file that turned foreign between the check and the lock is left alone. */
        char why[256];
        int kind = database_kind(db, why, sizeof why);
        if (kind != 0 && !(kind == 1 && db_schema_version(db) == version)) {
            db_rollback(db);
            snprintf(inner, sizeof inner, "it changed while being opened");
            goto fail;
        }
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
    /* WAL only now, for a database that is ours: it rewrites the file header. */
    if (db_exec(db, "PRAGMA journal_mode=WAL", inner, sizeof inner) ||
        db_exec(db, "PRAGMA synchronous=NORMAL", inner, sizeof inner)) {
        snprintf(err, errlen, "%s: %s", path, inner);
        sqlite3_close(db);
        return NULL;
    }
    return db;
fail:
    snprintf(err, errlen, "%s: cannot create the schema: %s", path, inner);
    sqlite3_close(db);
    return NULL;
}

sqlite3 *db_open_readonly(const char *path, char *err, int errlen)
{
    int version;
    sqlite3 *db = open_checked(path, SQLITE_OPEN_READONLY, 0, &version, err, errlen);
    if (db && version != DB_SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: schema version %d is older than this program's (%d): migrate it with `dlcm-sweep migrate --db FILE`",
                 path, version, DB_SCHEMA_VERSION);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

void db_close(sqlite3 *db)
{
    if (db) sqlite3_close(db);
}
