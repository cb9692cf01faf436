/* db/migrate.c: the schema's migration steps (see db/migrate.h). Version 2 adds sweep versions,
 * tags and notes, the 'cancelled' run status (a CHECK constraint, so `runs` is rebuilt), each
 * run's provenance columns, and the views run_summary, run_curve and sweep_summary. Version 3 adds
 * the held-out measurements of each run (task_scores, token_losses): new tables only. Version 4
 * adds each run's planned epochs (runs.epochs, shown by run_summary). Version 5 adds where each
 * run's wall time went (run_phases): a new table only. */
#include "db/migrate.h"

#include <stdio.h>

#include "db/db.h"

/* The columns of `runs` in schema version 1, in order: what the rebuild copies. */
static const char runs_v1_columns[] =
    "id, sweep_id, status, config, family, parametrization, d_t, d_c, n_layers, n_enc, n_con, n_dec, vocab, "
    "seq_len, R_target, N, embedding_params, unembedding_params, P, fwd_flops_per_token, train_flops_per_token, "
    "tokens, steps, budget, train_flops, lr, seed, flops_launched, realized_R_train, realized_R_eval, "
    "final_train_loss, final_val_loss, initial_loss, tokens_done, steps_done, tokens_per_s, peak_mem_bytes, device, "
    "attempts, error, stderr_tail, out_dir, heartbeat_at, created_at, started_at, finished_at";

static int migrate_1_to_2(sqlite3 *db, const char *schema_sql, char *err, int errlen)
{
    /* legacy_alter_table keeps the rename from rewriting the foreign keys of metrics, evals and
     * module_stats, which must go on naming `runs` (the rebuilt table). */
    if (db_exec(db, "PRAGMA legacy_alter_table=ON", err, errlen) ||
        db_exec(db, "DROP INDEX IF EXISTS runs_by_sweep", err, errlen) ||
        db_exec(db, "ALTER TABLE runs RENAME TO runs_v1", err, errlen) ||
        db_exec(db,
                "ALTER TABLE sweeps ADD COLUMN base_name TEXT; "
                "ALTER TABLE sweeps ADD COLUMN version INTEGER NOT NULL DEFAULT 1; "
                "ALTER TABLE sweeps ADD COLUMN tags TEXT; "
                "ALTER TABLE sweeps ADD COLUMN notes TEXT",
                err, errlen) ||
        db_exec(db, schema_sql, err, errlen))
        return -1;
    char copy[2048];
    snprintf(copy, sizeof copy, "INSERT INTO runs(%s) SELECT %s FROM runs_v1", runs_v1_columns, runs_v1_columns);
    if (db_exec(db, copy, err, errlen) || db_exec(db, "DROP TABLE runs_v1", err, errlen) ||
        db_exec(db, "PRAGMA legacy_alter_table=OFF", err, errlen))
        return -1;
    return 0;
}

/* A step that only adds tables (versions 3 and 5): the schema's CREATE ... IF NOT EXISTS makes
 * them and leaves the existing ones alone. */
static int add_new_tables(sqlite3 *db, const char *schema_sql, char *err, int errlen)
{
    return db_exec(db, schema_sql, err, errlen);
}

/* Whether runs has the column: 1 yes, 0 no, -1 error. */
static int runs_has_column(sqlite3 *db, const char *column, char *err, int errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = ?1", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_text(st, 1, column, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        snprintf(err, errlen, "reading the columns of runs: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    int found = sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    return found;
}

/* The column (unless a table made from a later schema has it already), and run_summary recreated
 * with it (the schema recreates the dropped view). Runs planned before have no epochs (NULL) until
 * their sweep is run again. */
static int migrate_3_to_4(sqlite3 *db, const char *schema_sql, char *err, int errlen)
{
    int has = runs_has_column(db, "epochs", err, errlen);
    if (has < 0) return -1;
    if (!has && db_exec(db, "ALTER TABLE runs ADD COLUMN epochs REAL", err, errlen)) return -1;
    return db_exec(db, "DROP VIEW IF EXISTS run_summary", err, errlen) || db_exec(db, schema_sql, err, errlen) ? -1 : 0;
}

int db_migrate(sqlite3 *db, int from_version, const char *schema_sql, char *err, int errlen)
{
    /* The rebuild of version 1 creates every table from the current schema: `runs` has every later
     * column, and the later tables are made. */
    if (from_version < 2) return migrate_1_to_2(db, schema_sql, err, errlen);
    if (from_version < 3 && add_new_tables(db, schema_sql, err, errlen)) return -1;
    if (from_version < 4 && migrate_3_to_4(db, schema_sql, err, errlen)) return -1;
    if (from_version < 5 && add_new_tables(db, schema_sql, err, errlen)) return -1;
    return 0;
}
