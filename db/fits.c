/* db/fits.c: the fits table: insert a fit with its JSON, read one back by id, find the latest
 * fit of a source. All SQL is parameterized. */
#include "db/fits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

int fits_insert(sqlite3 *db, const FitRecord *rec, long long *id_out, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "INSERT INTO fits(source, law, created_at, n_points, objective, r2, json)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                  err, errlen);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, rec->source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, rec->law, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, db_now());
    sqlite3_bind_int(st, 4, rec->n_points);
    if (isfinite(rec->objective)) sqlite3_bind_double(st, 5, rec->objective);
    else sqlite3_bind_null(st, 5);
    if (isfinite(rec->r2)) sqlite3_bind_double(st, 6, rec->r2);
    else sqlite3_bind_null(st, 6);
    sqlite3_bind_text(st, 7, rec->json, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "sqlite: cannot store the fit: %s", sqlite3_errmsg(db));
        return -1;
    }
    *id_out = sqlite3_last_insert_rowid(db);
    return 0;
}

int fits_read(sqlite3 *db, long long id, char **json, char *law, int lawlen, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT json, law FROM fits WHERE id = ?1", err, errlen);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE) snprintf(err, errlen, "no fit with id %lld in the database", id);
        else snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    const char *text = (const char *)sqlite3_column_text(st, 0);
    *json = strdup(text ? text : "");
    snprintf(law, lawlen, "%s", sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
    sqlite3_finalize(st);
    if (!*json) { snprintf(err, errlen, "out of memory"); return -1; }
    return 0;
}

int fits_latest(sqlite3 *db, const char *source, const char *law, long long *id_out, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT id FROM fits WHERE source = ?1 AND (?2 IS NULL OR law = ?2)"
                                  " ORDER BY created_at DESC, id DESC LIMIT 1",
                                  err, errlen);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
    if (law) sqlite3_bind_text(st, 2, law, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, 2);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id_out = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE) snprintf(err, errlen, "no %s fit of %s in the database", law ? law : "", source);
    else snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}
