/* tests/test_fit_cli.c: the programs end to end: bad input (too few points, non-positive
 * values, NaN, an empty sweep, one R only, a missing database) is refused with a clear message,
 * a non-zero exit and nothing written; a small fit writes its JSON and its fits row; the query
 * agrees with the Chinchilla closed form; the muP verdict passes on transfer data and fails on
 * sp-like data. */
#include <criterion/criterion.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "fit/allocate.h"
#include "fit/law.h"
#include "remove_tree.h"
#include "run_program.h"

static char dir[128];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/dlcm-test-fit-cli-%d", (int)getpid());
    mkdir(dir, 0777);
}

/* Each test runs in its own process with its own scratch directory; remove it afterwards. */
static void remove_dir(void)
{
    if (dir[0]) remove_tree(dir);
}

TestSuite(fit_cli, .fini = remove_dir);

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* Runs argv with stdout and stderr into files in dir; returns the exit status. */
static int run(char *const argv[], const char *out_name, const char *err_name)
{
    char out[256], err[256];
    path_in(out, sizeof out, out_name);
    path_in(err, sizeof err, err_name);
    int rc = run_program(argv, out, err);
    /* -1: fork failed; 126: the output files could not be opened; 127: exec failed */
    cr_assert(rc != -1 && rc != 126 && rc != 127, "cannot start %s (%d)", argv[0], rc);
    return rc;
}

static char *slurp(const char *name)
{
    char path[256];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "r");
    if (!f) return strdup("");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

static void write_text(const char *name, const char *text)
{
    char path[256];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static int exists(const char *name)
{
    char path[256];
    path_in(path, sizeof path, name);
    return access(path, F_OK) == 0;
}

/* A Chinchilla CSV of n points from known coefficients (no noise). */
static void write_chinchilla_csv(const char *name, int n)
{
    char path[256];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    fprintf(f, "N,D,loss\n");
    for (int i = 0; i < n; i++) {
        double N = 1e7 * pow(10.0, (i % 7) / 3.0), D = 1e9 * pow(10.0, (i / 7) / 3.0);
        fprintf(f, "%.6g,%.6g,%.9g\n", N, D, 1.8 + 400 / pow(N, 0.34) + 1500 / pow(D, 0.28));
    }
    fclose(f);
}

/* Runs dlcm-fit on csv expecting a refusal whose message contains needle; checks that neither
 * the JSON nor the database appeared. */
static void expect_refusal(const char *csv_name, const char *law, const char *needle)
{
    char csv[256], json[256], db[256];
    path_in(csv, sizeof csv, csv_name);
    path_in(json, sizeof json, "out.json");
    path_in(db, sizeof db, "store.sqlite");
    char *argv[] = {"./bin/dlcm-fit", "--csv", csv, "--law", (char *)law, "--json", json, "--store", db,
                    "--plots", dir, "--bootstrap", "5", "--quiet", NULL};
    int rc = run(argv, "out.txt", "err.txt");
    char *err = slurp("err.txt");
    cr_assert_neq(rc, 0, "%s: must fail", csv_name);
    cr_assert(strstr(err, needle), "%s: message \"%s\" lacks \"%s\"", csv_name, err, needle);
    cr_assert(!exists("out.json"), "%s: a JSON was written", csv_name);
    cr_assert(!exists("store.sqlite"), "%s: a database was written", csv_name);
    free(err);
}

Test(fit_cli, too_few_points)
{
    make_dir();
    write_chinchilla_csv("few.csv", 4);
    expect_refusal("few.csv", "chinchilla", "need at least 6");
}

Test(fit_cli, non_positive_value_names_line_and_column)
{
    make_dir();
    write_text("neg.csv", "N,D,loss\n1e7,1e9,3.1\n-2e7,1e9,3.0\n");
    expect_refusal("neg.csv", "chinchilla", "neg.csv:3: column N: must be positive");
}

Test(fit_cli, nan_is_refused)
{
    make_dir();
    write_text("nan.csv", "N,D,loss\n1e7,1e9,3.1\n2e7,1e9,nan\n");
    expect_refusal("nan.csv", "chinchilla", "nan.csv:3: column loss: not a finite decimal number");
}

Test(fit_cli, one_compression_ratio_is_degenerate)
{
    make_dir();
    char path[256];
    path_in(path, sizeof path, "oneR.csv");
    FILE *f = fopen(path, "w");
    fprintf(f, "N,D,loss,R,P\n");
    for (int i = 0; i < 30; i++) fprintf(f, "%g,%g,%g,4,%g\n", 1e7 * (1 + i % 5), 1e9 * (1 + i / 5), 3.0 - 0.01 * i, 0.2 + 0.1 * (i % 3));
    fclose(f);
    expect_refusal("oneR.csv", "dlcm", "degenerate design");
}

Test(fit_cli, empty_sweep_and_missing_database)
{
    make_dir();
    char db_path[256], json[256], err[512];
    path_in(db_path, sizeof db_path, "runs.sqlite");
    path_in(json, sizeof json, "out.json");
    unlink(db_path);
    sqlite3 *db = db_open(db_path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_eq(db_exec(db, "INSERT INTO sweeps(id, name, created_at) VALUES (1, 'empty', 0);"
                             "INSERT INTO runs(id, sweep_id, status, config, family, created_at) VALUES ('r1', 1, 'queued', '', 'dense', 0)",
                         err, sizeof err), 0, "%s", err);
    db_close(db);
    char *argv[] = {"./bin/dlcm-fit", "--db", db_path, "--sweep", "empty", "--law", "chinchilla", "--json", json, "--quiet", NULL};
    cr_assert_neq(run(argv, "out.txt", "err.txt"), 0);
    char *msg = slurp("err.txt");
    cr_assert(strstr(msg, "no finished runs"), "%s", msg);
    free(msg);
    cr_assert(!exists("out.json"));
    db = db_open(db_path, err, sizeof err);
    sqlite3_stmt *st = db_prepare(db, "SELECT count(*) FROM fits", err, sizeof err);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 0, "a fit was stored");
    sqlite3_finalize(st);
    db_close(db);
    char missing[256];
    path_in(missing, sizeof missing, "missing.sqlite");
    char *argv2[] = {"./bin/dlcm-fit", "--db", missing, "--sweep", "x", "--law", "chinchilla", "--quiet", NULL};
    cr_assert_neq(run(argv2, "out.txt", "err.txt"), 0);
    cr_assert(!exists("missing.sqlite"), "reading a missing database must not create it");
}

Test(fit_cli, small_fit_writes_json_and_row_then_query_matches_closed_form, .timeout = 60)
{
    make_dir();
    write_chinchilla_csv("good.csv", 42);
    char csv[256], json[256], db_path[256], err[512];
    path_in(csv, sizeof csv, "good.csv");
    path_in(json, sizeof json, "fit.json");
    path_in(db_path, sizeof db_path, "fits.sqlite");
    unlink(db_path);
    char *argv[] = {"./bin/dlcm-fit", "--csv", csv, "--law", "chinchilla", "--json", json, "--store", db_path,
                    "--bootstrap", "20", "--max-starts", "40", "--no-plots", "--no-lobo", "--vocab", "2",
                    "--seq-len", "2", "--quiet", NULL};
    int rc = run(argv, "out.txt", "err.txt");
    char *msg = slurp("err.txt");
    cr_assert_eq(rc, 0, "dlcm-fit failed: %s", msg);
    free(msg);
    char *text = slurp("fit.json");
    cr_assert(strstr(text, "\"alpha\"") && strstr(text, "\"bootstrap_samples\""), "JSON lacks fields");
    free(text);
    sqlite3 *db = db_open(db_path, err, sizeof err);
    sqlite3_stmt *st = db_prepare(db, "SELECT count(*), max(law) FROM fits", err, sizeof err);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), 1);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 1), "chinchilla");
    sqlite3_finalize(st);
    db_close(db);

    char *q[] = {"./bin/dlcm-query", "--db", db_path, "--fit", "1", "--budget", "1e21", NULL};
    rc = run(q, "query.txt", "qerr.txt");
    char *out = slurp("query.txt");
    cr_assert_eq(rc, 0, "dlcm-query failed: %s", out);
    double N_query = 0, N_cf = 0, D_cf;
    const char *at = strstr(out, "  N          ");
    cr_assert_not_null(at, "%s", out);
    sscanf(at + 13, "%lg", &N_query);
    at = strstr(out, "N* = ");
    cr_assert_not_null(at, "%s", out);
    sscanf(at + 5, "%lg", &N_cf);
    const double truth[5] = {1.8, 400, 1500, 0.34, 0.28};
    double N_true;
    allocate_chinchilla_closed_form(truth, 1e21, &N_true, &D_cf);
    cr_assert(fabs(log(N_query / N_cf)) < log(1.2), "query N %g vs closed form %g", N_query, N_cf);
    cr_assert(fabs(log(N_cf / N_true)) < log(1.05), "fitted closed form %g vs true %g", N_cf, N_true);
    free(out);
}

/* A muP sweep: widths 128..1024, LRs 2^-12..2^-5, 2 seeds. mup's optimum stays at 2^-9; sp's
 * moves down one octave per doubling of width and diverges at the largest LRs. */
static void write_mup_sweep(const char *db_path, const char *sweep, int mup_like)
{
    char err[512];
    sqlite3 *db = db_open(db_path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    sqlite3_stmt *ins_sweep = db_prepare(db, "INSERT INTO sweeps(name, created_at) VALUES (?1, 0)", err, sizeof err);
    sqlite3_bind_text(ins_sweep, 1, sweep, -1, SQLITE_TRANSIENT);
    cr_assert_eq(sqlite3_step(ins_sweep), SQLITE_DONE);
    sqlite3_finalize(ins_sweep);
    long long sweep_id = sqlite3_last_insert_rowid(db);
    sqlite3_stmt *st = db_prepare(db,
                                  "INSERT INTO runs(id, sweep_id, status, config, family, parametrization, d_t, d_c, lr,"
                                  " final_val_loss, initial_loss, created_at) VALUES (?1, ?2, ?3, '', 'dense', ?4, ?5, 0, ?6, ?7, 10, 0)",
                                  err, sizeof err);
    cr_assert_not_null(st, "%s", err);
    const char *params[2] = {"mup", "sp"};
    for (int p = 0; p < 2; p++)
        for (int w = 128; w <= 1024; w *= 2)
            for (int e = -12; e <= -5; e++)
                for (int seed = 0; seed < 2; seed++) {
                    int transfers = p == 0 && mup_like;
                    double opt = transfers ? -9.0 : -7.0 - log2(w / 128.0);
                    double loss = 3.0 + 64.0 / w + 0.04 * (e - opt) * (e - opt) + 0.002 * seed;
                    int diverged = !transfers && e - opt >= 3;
                    char id[64];
                    snprintf(id, sizeof id, "%s-%s-%d-%d-%d", sweep, params[p], w, e, seed);
                    sqlite3_reset(st);
                    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
                    sqlite3_bind_int64(st, 2, sweep_id);
                    sqlite3_bind_text(st, 3, diverged ? "diverged" : "done", -1, SQLITE_STATIC);
                    sqlite3_bind_text(st, 4, params[p], -1, SQLITE_STATIC);
                    sqlite3_bind_int(st, 5, w);
                    sqlite3_bind_double(st, 6, ldexp(1.0, e));
                    if (diverged) sqlite3_bind_null(st, 7);
                    else sqlite3_bind_double(st, 7, loss);
                    cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "%s", sqlite3_errmsg(db));
                }
    sqlite3_finalize(st);
    /* Coordinate-check runs (they have module_stats, so the transfer analysis leaves them out):
     * mean |x| = c width^s, s = 0 under a working mup and 0.5 under sp. */
    st = db_prepare(db,
                    "INSERT INTO runs(id, sweep_id, status, config, family, parametrization, d_t, d_c, lr,"
                    " final_val_loss, created_at) VALUES (?1, ?2, 'done', '', 'dense', ?3, ?4, 0, 0.1, 5, 0)",
                    err, sizeof err);
    sqlite3_stmt *ms = db_prepare(db, "INSERT INTO module_stats(run_id, step, module, mean_abs) VALUES (?1, ?2, ?3, ?4)", err, sizeof err);
    cr_assert(st && ms, "%s", err);
    for (int p = 0; p < 2; p++)
        for (int w = 128; w <= 1024; w *= 2) {
            char id[64];
            snprintf(id, sizeof id, "%s-coord-%s-%d", sweep, params[p], w);
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, sweep_id);
            sqlite3_bind_text(st, 3, params[p], -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 4, w);
            cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "%s", sqlite3_errmsg(db));
            double s = p == 0 && mup_like ? 0.0 : 0.5;
            for (int step = 1; step <= 6; step++)
                for (int m = 0; m < 2; m++) {
                    sqlite3_reset(ms);
                    sqlite3_bind_text(ms, 1, id, -1, SQLITE_TRANSIENT);
                    sqlite3_bind_int(ms, 2, step);
                    sqlite3_bind_text(ms, 3, m ? "block0.ffn" : "block0.attn", -1, SQLITE_STATIC);
                    sqlite3_bind_double(ms, 4, (1 + 0.1 * step) * pow(w, s));
                    cr_assert_eq(sqlite3_step(ms), SQLITE_DONE, "%s", sqlite3_errmsg(db));
                }
        }
    sqlite3_finalize(st);
    sqlite3_finalize(ms);
    db_close(db);
}

Test(fit_cli, mup_verdict_passes_on_transfer_and_fails_on_sp_like_data)
{
    make_dir();
    char db_path[256], json[256];
    path_in(db_path, sizeof db_path, "mup.sqlite");
    path_in(json, sizeof json, "mup.json");
    unlink(db_path);
    write_mup_sweep(db_path, "good", 1);
    write_mup_sweep(db_path, "bad", 0);
    char *argv[] = {"./bin/dlcm-fit", "mup", "--db", db_path, "--sweep", "good", "--json", json, "--no-plots", NULL};
    int rc = run(argv, "mup.txt", "muperr.txt");
    char *out = slurp("mup.txt");
    cr_assert_eq(rc, 0, "transfer data must pass: %s", out);
    cr_assert(strstr(out, "verdict: PASS"), "%s", out);
    cr_assert(strstr(out, "worst |slope|"), "the coordinate check must be reported: %s", out);
    free(out);
    char *text = slurp("mup.json");
    cr_assert(strstr(text, "\"verdict\":\"PASS\"") || strstr(text, "\"verdict\": \"PASS\""), "%s", text);
    free(text);
    char *argv2[] = {"./bin/dlcm-fit", "mup", "--db", db_path, "--sweep", "bad", "--no-plots", NULL};
    rc = run(argv2, "mup2.txt", "mup2err.txt");
    out = slurp("mup2.txt");
    cr_assert_eq(rc, 3, "sp-like data labelled mup must fail (exit 3): %s", out);
    cr_assert(strstr(out, "verdict: FAIL"), "%s", out);
    free(out);
}

Test(fit_cli, decay_from_csv_writes_json)
{
    make_dir();
    char path[256], json[256];
    path_in(path, sizeof path, "decay.csv");
    path_in(json, sizeof json, "decay.json");
    FILE *f = fopen(path, "w");
    fprintf(f, "L_stable,L_final,R,N\n");
    for (int i = 0; i < 12; i++) {
        double Ls = 3.0 + 0.1 * i, R = 1 << (i % 3), N = 1e7 * (1 + i % 4);
        double delta = 0.04 * pow(Ls, -0.5) * pow(R, 0.1) * pow(N, 0.02) * (1 + 0.01 * ((i * 7) % 5 - 2));
        fprintf(f, "%.6f,%.6f,%g,%g\n", Ls, Ls * (1 - delta), R, N);
    }
    fclose(f);
    char *argv[] = {"./bin/dlcm-fit", "decay", "--csv", path, "--json", json, NULL};
    int rc = run(argv, "decay.txt", "decayerr.txt");
    char *out = slurp("decay.txt");
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "R^2"), "%s", out);
    free(out);
    cr_assert(exists("decay.json"));
}

Test(fit_cli, mup_on_a_sweep_without_runs_is_refused)
{
    make_dir();
    char db_path[256], json[256], err[512];
    path_in(db_path, sizeof db_path, "empty-mup.sqlite");
    path_in(json, sizeof json, "mup.json");
    sqlite3 *db = db_open(db_path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_eq(db_exec(db, "INSERT INTO sweeps(name, created_at) VALUES ('none', 0)", err, sizeof err), 0, "%s", err);
    db_close(db);
    char *argv[] = {"./bin/dlcm-fit", "mup", "--db", db_path, "--sweep", "none", "--json", json, "--no-plots", NULL};
    cr_assert_eq(run(argv, "out.txt", "err.txt"), 2);
    char *msg = slurp("err.txt");
    cr_assert(strstr(msg, "no finished or diverged runs"), "%s", msg);
    free(msg);
    cr_assert(!exists("mup.json"));
}

/* A CSV whose name is a gnuplot command: with default options (plots beside the CSV, prefix
 * from its name) no command runs, and the figures carry the name as it is. */
Test(fit_cli, a_hostile_csv_name_runs_nothing_in_gnuplot, .timeout = 60)
{
    make_dir();
    const char *name = "x'; system 'touch PWNED'; print '.csv";
    write_chinchilla_csv(name, 30);
    char csv[256];
    path_in(csv, sizeof csv, name);
    unlink("PWNED");
    char *argv[] = {"./bin/dlcm-fit", "--csv", csv, "--law", "chinchilla", "--bootstrap", "5", "--max-starts", "40",
                    "--no-lobo", "--quiet", NULL};
    int rc = run(argv, "out.txt", "err.txt");
    char *msg = slurp("err.txt");
    cr_assert_eq(rc, 0, "%s", msg);
    free(msg);
    cr_assert(!exists("PWNED") && access("PWNED", F_OK) != 0, "gnuplot ran the command in the file name");
    cr_assert(exists("chinchilla-x'; system 'touch PWNED'; print '-loss-vs-compute.png"), "the figure keeps the name");
    cr_assert(exists("chinchilla-x'; system 'touch PWNED'; print '-pred-vs-obs.svg"));
}

/* The query on a fit of budgets 6e16..2.8e20 (write_chinchilla_csv): a budget 5x beyond warns and
 * answers, 1e30 is refused (exit 4), and --max-extrapolation lifts the limit. */
Test(fit_cli, the_query_warns_beyond_the_data_and_refuses_far_beyond, .timeout = 60)
{
    make_dir();
    write_chinchilla_csv("good.csv", 42);
    char csv[256], json[256];
    path_in(csv, sizeof csv, "good.csv");
    path_in(json, sizeof json, "fit.json");
    char *fit[] = {"./bin/dlcm-fit", "--csv", csv, "--law", "chinchilla", "--json", json, "--bootstrap", "20",
                   "--max-starts", "40", "--no-plots", "--no-lobo", "--vocab", "32000", "--seq-len", "1024", "--quiet", NULL};
    cr_assert_eq(run(fit, "out.txt", "err.txt"), 0);
    char *text = slurp("fit.json");
    cr_assert(strstr(text, "\"identification\"") && strstr(text, "\"ranges\""), "the JSON records identification and ranges");
    free(text);
    /* The data's largest budget is 6 N D = 6 * 1e9 * 10^(2/3) * 1e9 * 10^(5/3) = 2.785e20. */
    char *near[] = {"./bin/dlcm-query", "--fit-json", json, "--budget", "1.4e21", NULL};
    int rc = run(near, "q1.txt", "q1err.txt");
    char *out = slurp("q1.txt");
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "warning: extrapolated: budget = 1.4e+21 is 5.03x beyond the largest trained (2.785e+20)"), "%s", out);
    cr_assert(strstr(out, "dense optimum"), "%s", out);
    free(out);
    char *far[] = {"./bin/dlcm-query", "--fit-json", json, "--budget=1e30", NULL}; /* --opt=value works too */
    rc = run(far, "q2.txt", "q2err.txt");
    out = slurp("q2.txt");
    cr_assert_eq(rc, 4, "%s", out);
    cr_assert(strstr(out, "refused: beyond --max-extrapolation 10 in budget"), "%s", out);
    cr_assert(!strstr(out, "  N          "), "no allocation is printed: %s", out);
    free(out);
    char *lifted[] = {"./bin/dlcm-query", "--fit-json", json, "--budget", "1e30", "--max-extrapolation", "1e12", NULL};
    rc = run(lifted, "q3.txt", "q3err.txt");
    out = slurp("q3.txt");
    cr_assert(strstr(out, "is 3.59e+09x beyond the largest trained"), "%s", out);
    free(out);
}

/* An unidentified fit (N varies by 10 % only) gives no recommendation unless forced. */
Test(fit_cli, an_unidentified_fit_gives_no_recommendation_without_force, .timeout = 60)
{
    make_dir();
    char path[256], json[256];
    path_in(path, sizeof path, "narrow.csv");
    path_in(json, sizeof json, "narrow.json");
    FILE *f = fopen(path, "w");
    fprintf(f, "N,D,loss\n");
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 8; j++) {
            double N = 1e7 * (1 + 0.05 * i), D = 1e9 * pow(10.0, j / 3.0), noise = 1 + 0.01 * sin(7.0 * (i * 8 + j));
            fprintf(f, "%.6g,%.6g,%.9g\n", N, D, (1.8 + 400 / pow(N, 0.34) + 1500 / pow(D, 0.28)) * noise);
        }
    fclose(f);
    char *fit[] = {"./bin/dlcm-fit", "--csv", path, "--law", "chinchilla", "--json", json, "--bootstrap", "40",
                   "--max-starts", "60", "--no-plots", "--no-lobo", "--vocab", "32000", "--seq-len", "1024", "--quiet", NULL};
    int rc = run(fit, "out.txt", "err.txt");
    char *out = slurp("out.txt");
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "NOT IDENTIFIED") && strstr(out, "missing variation: N ("), "%s", out);
    free(out);
    char *q[] = {"./bin/dlcm-query", "--fit-json", json, "--budget", "1e19", NULL};
    rc = run(q, "q.txt", "qerr.txt");
    out = slurp("q.txt");
    cr_assert_eq(rc, 4, "%s", out);
    cr_assert(strstr(out, "the fit is not identified") && strstr(out, "no recommendation"), "%s", out);
    free(out);
    char *forced[] = {"./bin/dlcm-query", "--fit-json", json, "--budget", "1e19", "--force", NULL};
    rc = run(forced, "qf.txt", "qferr.txt");
    out = slurp("qf.txt");
    cr_assert(strstr(out, "--force: answering anyway") && strstr(out, "  N          "), "%s", out);
    free(out);
}

/* --family is honoured for a CSV as for a database. */
Test(fit_cli, family_selects_rows_of_a_csv, .timeout = 60)
{
    make_dir();
    char path[256], json[256];
    path_in(path, sizeof path, "mixed.csv");
    path_in(json, sizeof json, "mixed.json");
    FILE *f = fopen(path, "w");
    fprintf(f, "N,D,R,P,family,loss\n");
    for (int i = 0; i < 30; i++) {
        double N = 1e7 * pow(10.0, (i % 6) / 3.0), D = 1e9 * pow(10.0, (i / 6) / 3.0);
        fprintf(f, "%.6g,%.6g,1,0,dense,%.9g\n", N, D, 1.8 + 400 / pow(N, 0.34) + 1500 / pow(D, 0.28));
    }
    for (int i = 0; i < 9; i++) fprintf(f, "%.6g,%.6g,4,0.5,dlcm,%.9g\n", 2e7 * (1 + i), 1e10, 2.5 + 0.01 * i);
    fclose(f);
    char *fit[] = {"./bin/dlcm-fit", "--csv", path, "--law", "chinchilla", "--family", "dense", "--json", json, "--bootstrap",
                   "0", "--max-starts", "30", "--no-plots", "--no-lobo", "--quiet", NULL};
    cr_assert_eq(run(fit, "out.txt", "err.txt"), 0);
    char *text = slurp("mixed.json");
    cr_assert(strstr(text, "\"n_used\":30") || strstr(text, "\"n_used\": 30"), "%s", text);
    free(text);
}

/* A sweep whose every LR optimum lies below the grid: exit 4, INCONCLUSIVE, the LRs to add. */
Test(fit_cli, mup_edge_optima_are_inconclusive_with_exit_4)
{
    make_dir();
    char db_path[256], err[512];
    path_in(db_path, sizeof db_path, "edge.sqlite");
    sqlite3 *db = db_open(db_path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_eq(db_exec(db, "INSERT INTO sweeps(name, created_at) VALUES ('edge', 0)", err, sizeof err), 0, "%s", err);
    sqlite3_stmt *st = db_prepare(db,
                                  "INSERT INTO runs(id, sweep_id, status, config, family, parametrization, d_t, d_c, lr,"
                                  " final_val_loss, initial_loss, created_at) VALUES (?1, 1, 'done', '', 'dense', ?2, ?3, 0, ?4, ?5, 10, 0)",
                                  err, sizeof err);
    cr_assert_not_null(st, "%s", err);
    const char *params[2] = {"mup", "sp"};
    for (int p = 0; p < 2; p++)
        for (int w = 128; w <= 1024; w *= 2)
            for (int e = -10; e <= -4; e++) {
                double opt = p == 0 ? -12.0 : -5.0 - log2(w / 128.0); /* mup: below the grid */
                char id[64];
                snprintf(id, sizeof id, "%s-%d-%d", params[p], w, e);
                sqlite3_reset(st);
                sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, params[p], -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 3, w);
                sqlite3_bind_double(st, 4, ldexp(1.0, e));
                sqlite3_bind_double(st, 5, 3.0 + 0.04 * (e - opt) * (e - opt) + 0.001 * (w % 3));
                cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "%s", sqlite3_errmsg(db));
            }
    sqlite3_finalize(st);
    db_close(db);
    char *argv[] = {"./bin/dlcm-fit", "mup", "--db", db_path, "--sweep", "edge", "--no-plots", "--no-store", NULL};
    int rc = run(argv, "out.txt", "err.txt");
    char *out = slurp("out.txt");
    cr_assert_eq(rc, 4, "%s", out);
    cr_assert(strstr(out, "verdict: INCONCLUSIVE"), "%s", out);
    cr_assert(strstr(out, "mup width 128: the best loss is at the lowest LR of the grid (0.0009766); add LRs 0.0004883 and 0.0002441"),
              "%s", out);
    free(out);
    char *version[] = {"./bin/dlcm-query", "--version", NULL};
    cr_assert_eq(run(version, "version.txt", "versionerr.txt"), 0);
    out = slurp("version.txt");
    cr_assert(!strncmp(out, "dlcm-query (dlcm) ", 18), "%s", out);
    free(out);
    char *help[] = {"./bin/dlcm-fit", "mup", "--help", NULL};
    cr_assert_eq(run(help, "help.txt", "helperr.txt"), 0);
    out = slurp("help.txt");
    cr_assert(strstr(out, "0 PASS, 3 FAIL, 4 INCONCLUSIVE, 1 runtime error, 2 bad input"), "%s", out);
    free(out);
}
