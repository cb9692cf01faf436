/* db/migrate.h: bringing a database of an older schema version to the current one, step by step,
 * inside the caller's transaction (db_open calls it with foreign keys off). */
#ifndef DLCM_DB_MIGRATE_H
#define DLCM_DB_MIGRATE_H

#include <sqlite3.h>

/* Migrates from `from_version` (>= 1) to DB_SCHEMA_VERSION; schema_sql is the current schema
 * (db/schema.sql), which creates whatever a step leaves missing. 0, or -1 with err. */
int db_migrate(sqlite3 *db, int from_version, const char *schema_sql, char *err, int errlen);

#endif
