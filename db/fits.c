/* db/fits.c: the fits table: store a fit with its JSON (replacing the one of the same source,
 * law and label), read one back by id, find the latest fit of a source. All SQL is
 * parameterized and every bind checked. */
#include "db/fits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

int fits_store(sqlite3 *db, const FitRecord *rec, long long *id_out, int *replaced, char *err, int errlen)
{
    *replaced = 0;
    sqlite3_stmt *del = db_prepare(db,
                                   "DELETE FROM fits WHERE source = ?1 AND law = ?2 AND"
                                   " (json_extract(json, '$.label') = ?3 OR (?4 AND json_extract(json, '$.label') IS NULL))",
                                   err, errlen);
    if (!del) return -1;
    int bind_failed = db_bind_text(del, 1, rec->source);
    bind_failed |= db_bind_text(del, 2, rec->law);
    bind_failed |= db_bind_text(del, 3, rec->label ? rec->label : "");
    bind_failed |= db_bind_int64(del, 4, rec->label_is_default);
    int rc = db_step(db, del, bind_failed, "replacing the earlier fit", err, errlen);
    sqlite3_finalize(del);
    if (rc) return -1;
    *replaced = sqlite3_changes(db);
    sqlite3_stmt *st = db_prepare(db,
                                  "INSERT INTO fits(source, law, created_at, n_points, objective, r2, json)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                  err, errlen);
    if (!st) return -1;
    bind_failed = db_bind_text(st, 1, rec->source);
    bind_failed |= db_bind_text(st, 2, rec->law);
    bind_failed |= db_bind_double(st, 3, db_now());
    bind_failed |= db_bind_int64(st, 4, rec->n_points);
    bind_failed |= db_bind_real_or_null(st, 5, rec->objective);
    bind_failed |= db_bind_real_or_null(st, 6, rec->r2);
    bind_failed |= db_bind_text(st, 7, rec->json);
    rc = db_step(db, st, bind_failed, "storing the fit", err, errlen);
    sqlite3_finalize(st);
    if (rc) return -1;
    *id_out = sqlite3_last_insert_rowid(db);
    return 0;
}

int fits_read(sqlite3 *db, long long id, char **json, char *law, int lawlen, char *err, int errlen)
{
    sqlite3_stmt *st = db_prepare(db, "SELECT json, law FROM fits WHERE id = ?1", err, errlen);
    if (!st) return -1;
    if (db_bind_int64(st, 1, id)) return db_bind_failed(st, "reading a fit", err, errlen);
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

int fits_latest(sqlite3 *db, const char *source, const char *law, const char *label, long long *id_out, char *err,
                int errlen)
{
    sqlite3_stmt *st = db_prepare(db,
                                  "SELECT id FROM fits WHERE source = ?1 AND (?2 IS NULL OR law = ?2)"
                                  " AND (?3 IS NULL OR json_extract(json, '$.label') = ?3)"
                                  " ORDER BY created_at DESC, id DESC LIMIT 1",
                                  err, errlen);
    if (!st) return -1;
    int bind_failed = db_bind_text(st, 1, source);
    bind_failed |= db_bind_text(st, 2, law);
    bind_failed |= db_bind_text(st, 3, label);
    if (bind_failed) return db_bind_failed(st, "finding the latest fit", err, errlen);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id_out = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        snprintf(err, errlen, "no %s fit of %s%s%s in the database", law ? law : "", source, label ? " labelled " : "",
                 label ? label : "");
    else snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}
