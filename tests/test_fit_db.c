/* tests/test_fit_db.c: fits are stored with their JSON and read back by id and as the latest
 * fit of a source; a re-fit of the same source, law and label replaces the earlier row; a
 * missing fit is an error, not a crash. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/fits.h"

Test(fit_db, store_and_read_back)
{
    char path[128], err[512], law[32];
    snprintf(path, sizeof path, "/tmp/dlcm-test-fits-%d.sqlite", (int)getpid());
    unlink(path);
    sqlite3 *db = db_open(path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    FitRecord a = {"sweep:s1", "chinchilla", "all", 1, 10, 0.01, 0.99, "{\"law\": \"chinchilla\", \"label\": \"all\"}"};
    FitRecord b = {"sweep:s1", "dlcm", "all", 1, 12, NAN, NAN, "{\"law\": \"dlcm\", \"label\": \"all\"}"};
    long long id_a, id_b, latest;
    int replaced;
    cr_assert_eq(fits_store(db, &a, &id_a, &replaced, err, sizeof err), 0, "%s", err);
    cr_assert_eq(replaced, 0);
    cr_assert_eq(fits_store(db, &b, &id_b, &replaced, err, sizeof err), 0, "%s", err);
    cr_assert_neq(id_a, id_b);
    char *json;
    cr_assert_eq(fits_read(db, id_a, &json, law, sizeof law, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(json, a.json);
    cr_assert_str_eq(law, "chinchilla");
    free(json);
    cr_assert_eq(fits_latest(db, "sweep:s1", "chinchilla", NULL, &latest, err, sizeof err), 0);
    cr_assert_eq(latest, id_a);
    cr_assert_eq(fits_latest(db, "sweep:s1", NULL, NULL, &latest, err, sizeof err), 0);
    cr_assert_eq(latest, id_b);
    cr_assert_eq(fits_latest(db, "sweep:nope", NULL, NULL, &latest, err, sizeof err), -1);
    /* A re-fit with the same label replaces; another label adds a row beside it. */
    long long id_a2, id_c;
    cr_assert_eq(fits_store(db, &a, &id_a2, &replaced, err, sizeof err), 0, "%s", err);
    cr_assert_eq(replaced, 1);
    FitRecord c = {"sweep:s1", "chinchilla", "lr=0.01", 0, 10, 0.01, 0.99, "{\"law\": \"chinchilla\", \"label\": \"lr=0.01\"}"};
    cr_assert_eq(fits_store(db, &c, &id_c, &replaced, err, sizeof err), 0, "%s", err);
    cr_assert_eq(replaced, 0);
    sqlite3_stmt *st = db_prepare(db, "SELECT count(*) FROM fits WHERE law = 'chinchilla'", err, sizeof err);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 2, "one row per label");
    sqlite3_finalize(st);
    cr_assert_eq(fits_latest(db, "sweep:s1", "chinchilla", "all", &latest, err, sizeof err), 0);
    cr_assert_eq(latest, id_a2);
    cr_assert_eq(fits_latest(db, "sweep:s1", "chinchilla", "lr=0.01", &latest, err, sizeof err), 0);
    cr_assert_eq(latest, id_c);
    cr_assert_eq(fits_read(db, 999, &json, law, sizeof law, err, sizeof err), -1);
    cr_assert(strstr(err, "999"), "%s", err);
    db_close(db);
    unlink(path);
}
