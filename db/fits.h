/* db/fits.h: storing fitted laws in the fits table (schema.sql) and reading them back by id or
 * as the latest fit of a source and law. The JSON holds everything; the columns index it. */
#ifndef DLCM_DB_FITS_H
#define DLCM_DB_FITS_H

#include <sqlite3.h>

typedef struct {
    const char *source;  /* 'sweep:<name>' or 'csv:<path>' */
    const char *law;     /* chinchilla | dlcm | decay | mup */
    int n_points;
    double objective;    /* NaN: stored as NULL */
    double r2;           /* NaN: stored as NULL */
    const char *json;
} FitRecord;

/* Inserts one fit; *id_out gets its id. Runs inside the caller's transaction when there is
 * one. 0, or -1 with err. */
int fits_insert(sqlite3 *db, const FitRecord *rec, long long *id_out, char *err, int errlen);

/* The JSON of fit id (malloc'd into *json), its law into law (size lawlen). 0, or -1 with err
 * (also when no such fit). */
int fits_read(sqlite3 *db, long long id, char **json, char *law, int lawlen, char *err, int errlen);

/* The id of the newest fit of source (and law, when not NULL). 0, or -1 with err. */
int fits_latest(sqlite3 *db, const char *source, const char *law, long long *id_out, char *err, int errlen);

#endif
