/* fit/output.c: atomic JSON files and fits-table rows (both or neither), and opening a
 * database that must exist. */
#include "fit/output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"

sqlite3 *output_open_existing_db(const char *path, char *err, int errlen)
{
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s: cannot read the database: %s", path, strerror(errno));
        return NULL;
    }
    return db_open_readonly(path, err, errlen); /* reading never creates, migrates or changes it */
}

static int write_file(const char *path, const char *text, char *err, int errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) { snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno)); return -1; }
    size_t len = strlen(text);
    int ok = fwrite(text, 1, len, f) == len && fputc('\n', f) != EOF;
    ok = (fclose(f) == 0) && ok;
    if (!ok) { snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno)); unlink(path); return -1; }
    return 0;
}

void output_dir_of(const char *path, char *buf, int buflen)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, buflen, ".");
    else if (slash == path) snprintf(buf, buflen, "/");
    else snprintf(buf, buflen, "%.*s", (int)(slash - path), path);
}

int output_commit(const char *json_path, const char *db_path, const FitRecord *rec, long long *id_out,
                  int *replaced, char *err, int errlen)
{
    char tmp[4096];
    *id_out = 0;
    *replaced = 0;
    if (json_path) {
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", json_path, (int)getpid());
        if (write_file(tmp, rec->json, err, errlen)) return -1;
    }
    sqlite3 *db = NULL;
    char inner[512];
    if (db_path) {
        db = db_open(db_path, inner, sizeof inner);
        if (!db || db_begin(db, inner, sizeof inner) || fits_store(db, rec, id_out, replaced, inner, sizeof inner)) {
            snprintf(err, errlen, "%s", inner);
            goto fail;
        }
    }
    if (json_path && rename(tmp, json_path) != 0) {
        snprintf(err, errlen, "%s: cannot rename %s into place: %s", json_path, tmp, strerror(errno));
        goto fail;
    }
    if (db && db_commit(db, inner, sizeof inner)) {
        snprintf(err, errlen, "%s", inner);
        if (json_path) unlink(json_path);
        json_path = NULL;
        goto fail;
    }
    db_close(db);
    return 0;
fail:
    if (db) { db_rollback(db); db_close(db); }
    if (json_path) unlink(tmp);
    *id_out = 0;
    return -1;
}
