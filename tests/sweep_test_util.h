/* tests/sweep_test_util.h: helpers the sweep tests share: temporary directories and files,
 * a small sweep of fake-trainer runs, running bin/dlcm-sweep (to completion or in the background)
 * with a chosen environment, and one-number SQL queries. Linked into the unit-test binary only. */
#ifndef DLCM_TESTS_SWEEP_TEST_UTIL_H
#define DLCM_TESTS_SWEEP_TEST_UTIL_H

#include <sqlite3.h>
#include <stddef.h>
#include <sys/types.h>

#define TEST_FAKE_TRAINER "build/tests/dlcm-fake-train"
#define TEST_SWEEP_BIN "bin/dlcm-sweep"

/* mkdtemp under /tmp with the tag in its name; the path is written into dir (>= 256 bytes). */
void tu_temp_dir(char *dir, const char *tag);
void tu_write(const char *path, const char *text);
/* rm -r of a test directory (through fork/exec of rm, no shell). */
void tu_remove_tree(const char *dir);

/* A test sweep's directory and the files in it. */
typedef struct {
    char dir[256], yaml[320], db[320], log[320];
} TuSweep;

/* A fresh directory holding sweep.yaml: n_seeds dense runs (one per seed) of `steps` steps each
 * (64 tokens a step; its own byte shards hold at least one pass of that),
 * the sweep named after tag; db.sqlite and sweep.log are where the scheduler is to write. */
void tu_make_sweep(TuSweep *s, const char *tag, int n_seeds, int steps);
/* The run directory of the run with this seed ("" when there is none yet). */
void tu_run_dir(const TuSweep *s, int seed, char *out, size_t n);
/* How many times the fake trainer was launched for the run with this seed. */
int tu_launches_of(const TuSweep *s, int seed);

/* Starts bin/dlcm-sweep with args (NULL-terminated, without argv[0]) and env ("K=V", NULL-
 * terminated or NULL), output to log_path. Returns the pid. */
pid_t tu_sweep_start(const char *const *args, const char *const *env, const char *log_path);
/* Waits for it; the exit code (128 + signal when killed; -2 when it was still running after
 * 180 s and was killed). */
int tu_wait(pid_t pid);
/* Both: runs to completion. */
int tu_sweep(const char *const *args, const char *const *env, const char *log_path);

/* The integer result of a one-row SQL query on a database file (-1 on error). */
long tu_query_int(const char *db_path, const char *sql);
/* Lines in a file (0 when absent). */
int tu_count_lines(const char *path);
/* Whole file into buf (NUL-terminated; "" when absent). */
void tu_read(const char *path, char *buf, size_t n);
/* A database at an older schema, for the migration tests: the snapshot schema_file
 * (tests/data/schema_vN.sql, whose first lines name version N) run on a new file at path, then sql
 * (its meta row and whatever rows the test needs). */
void tu_old_schema_db(const char *path, const char *schema_file, int version, const char *sql);
/* Replaces the first occurrence of `from` in the sweep file with `to` (fails the test if absent). */
void tu_edit_sweep(const TuSweep *s, const char *from, const char *to);
/* The most runs of the sweep that overlapped in time on one device (from each run's times file,
 * which the fake trainer writes). */
int tu_max_overlap(const TuSweep *s, const char *device);

#endif
