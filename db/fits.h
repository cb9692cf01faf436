/* db/fits.h: storing fitted laws in the fits table (schema.sql) and reading them back by id or
 * as the latest fit of a source and law. The JSON holds everything; the columns index it. */
#ifndef DLCM_DB_FITS_H
#define DLCM_DB_FITS_H

#include <sqlite3.h>

typedef struct {
    const char *source;  /* 'sweep:<name>' or 'csv:<path>' */
    const char *law;     /* chinchilla | dlcm | decay | mup */
    const char *label;   /* names the fit among fits of one source and law (the JSON's "label") */
    int label_is_default; /* the label was derived, not given: it also replaces unlabelled rows */
    int n_points;
    double objective;    /* NaN: stored as NULL */
    double r2;           /* NaN: stored as NULL */
    const char *json;    /* must carry "label": label */
} FitRecord;

/* Stores one fit, replacing the fits of the same source, law and label (a re-fit supersedes
 * the earlier one instead of adding a duplicate); *id_out gets its id, *replaced how many rows
 * it replaced. Runs inside the caller's transaction when there is one. 0, or -1 with err. */
int fits_store(sqlite3 *db, const FitRecord *rec, long long *id_out, int *replaced, char *err, int errlen);

/* The JSON of fit id (malloc'd into *json), its law into law (size lawlen). 0, or -1 with err
 * (also when no such fit). */
int fits_read(sqlite3 *db, long long id, char **json, char *law, int lawlen, char *err, int errlen);

/* The id of the newest fit of source (and law and label, when not NULL). 0, or -1 with err. */
int fits_latest(sqlite3 *db, const char *source, const char *law, const char *label, long long *id_out, char *err,
                int errlen);

#endif
