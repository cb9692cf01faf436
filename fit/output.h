/* fit/output.h: committing a result: the JSON file (written to a temporary name and renamed)
 * and the row in the fits table, together or not at all; and opening a database that must
 * already exist. */
#ifndef DLCM_FIT_OUTPUT_H
#define DLCM_FIT_OUTPUT_H

#include <sqlite3.h>

#include "db/db.h"
#include "db/fits.h"

/* Opens an existing database for reading (never creates one). NULL with err. */
sqlite3 *output_open_existing_db(const char *path, char *err, int errlen);

/* Writes json to json_path (when not NULL) and stores rec in the database at db_path (when
 * not NULL; rec->json is the same text), replacing the fit of the same source, law and label.
 * Either both happen or neither: on any failure the JSON file is removed and the transaction
 * rolled back. *id_out gets the fit's id (0 without a database), *replaced the number of
 * earlier fits it replaced. 0, or -1 with err. */
int output_commit(const char *json_path, const char *db_path, const FitRecord *rec, long long *id_out,
                  int *replaced, char *err, int errlen);

/* The directory part of path ("." when it has none), into buf. */
void output_dir_of(const char *path, char *buf, int buflen);

#endif
