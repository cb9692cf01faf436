/* tests/test_fit_db.c: fits are stored with their JSON and read back by id and as the latest
 * fit of a source; a missing fit is an error, not a crash. */
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
    FitRecord a = {"sweep:s1", "chinchilla", 10, 0.01, 0.99, "{\"law\": \"chinchilla\"}"};
    FitRecord b = {"sweep:s1", "dlcm", 12, NAN, NAN, "{\"law\": \"dlcm\"}"};
    long long id_a, id_b, latest;
    cr_assert_eq(fits_insert(db, &a, &id_a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(fits_insert(db, &b, &id_b, err, sizeof err), 0, "%s", err);
    cr_assert_neq(id_a, id_b);
    char *json;
    cr_assert_eq(fits_read(db, id_a, &json, law, sizeof law, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(json, a.json);
    cr_assert_str_eq(law, "chinchilla");
    free(json);
    cr_assert_eq(fits_latest(db, "sweep:s1", "chinchilla", &latest, err, sizeof err), 0);
    cr_assert_eq(latest, id_a);
    cr_assert_eq(fits_latest(db, "sweep:s1", NULL, &latest, err, sizeof err), 0);
    cr_assert_eq(latest, id_b);
    cr_assert_eq(fits_latest(db, "sweep:nope", NULL, &latest, err, sizeof err), -1);
    cr_assert_eq(fits_read(db, 999, &json, law, sizeof law, err, sizeof err), -1);
    cr_assert(strstr(err, "999"), "%s", err);
    db_close(db);
    unlink(path);
}
