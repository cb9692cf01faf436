/* tests/test_query_json.c: dlcm-query --json says what the text says: every recommended quantity
 * with its interval, every warning and refusal with its quantity and factor, the R source, and
 * the same exit code (0 answered, 4 refused), on an identified Chinchilla fit and on byte-h100's
 * unidentified dlcm fit. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remove_tree.h"
#include "run_program.h"

static char dir[128];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/dlcm-test-query-json-%d", (int)getpid());
    mkdir(dir, 0777);
}

static void remove_dir(void)
{
    if (dir[0]) remove_tree(dir);
}

TestSuite(query_json, .fini = remove_dir);

/* Runs argv (NULL-terminated) with stdout into dir/out_name; returns the exit status. */
static int run_query(char *const argv[], const char *out_name)
{
    char out[256], err[256];
    snprintf(out, sizeof out, "%s/%s", dir, out_name);
    snprintf(err, sizeof err, "%s/%s.err", dir, out_name);
    int rc = run_program(argv, out, err);
    cr_assert(rc != -1 && rc != 126 && rc != 127, "cannot start %s (%d)", argv[0], rc);
    return rc;
}

static char *slurp(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char buf[1 << 18];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

static json_object *parse(const char *name)
{
    char *text = slurp(name);
    json_object *o = json_tokener_parse(text);
    cr_assert_not_null(o, "not JSON: %.500s", text);
    free(text);
    return o;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    cr_assert(o && json_object_object_get_ex(o, key, &v), "no key %s in %s", key,
              o ? json_object_to_json_string(o) : "(null)");
    return v;
}

static double number(json_object *o, const char *key) { return json_object_get_double(get(o, key)); }

/* The warning of this kind, family (NULL: the query as a whole) and quantity; NULL when none. */
static json_object *find_warning(json_object *answer, const char *kind, const char *family, const char *quantity)
{
    json_object *warnings = get(answer, "warnings");
    for (size_t i = 0; i < json_object_array_length(warnings); i++) {
        json_object *w = json_object_array_get_idx(warnings, i), *f = get(w, "family"), *q = get(w, "quantity");
        if (strcmp(json_object_get_string(get(w, "kind")), kind)) continue;
        if (family ? !f || strcmp(json_object_get_string(f), family) : f != NULL) continue;
        if (quantity ? !q || strcmp(json_object_get_string(q), quantity) : q != NULL) continue;
        return w;
    }
    return NULL;
}

/* An interval object {value, lo, hi} with lo <= value <= hi. */
static void assert_interval(json_object *o, const char *what)
{
    double v = number(o, "value"), lo = number(o, "lo"), hi = number(o, "hi");
    cr_assert(isfinite(v) && isfinite(lo) && isfinite(hi), "%s: %s", what, json_object_to_json_string(o));
    cr_assert(lo <= v * (1 + 1e-9) && v <= hi * (1 + 1e-9), "%s: %g not in [%g, %g]", what, v, lo, hi);
}

/* The first number printed after a text line's label ("  N          1.23e+06   [...]"). */
static double text_value(const char *text, const char *label)
{
    const char *at = strstr(text, label);
    cr_assert_not_null(at, "no '%s' in %s", label, text);
    return strtod(at + strlen(label), NULL);
}

Test(query_json, an_identified_chinchilla_fit_answers_with_intervals_and_the_budget_warning, .timeout = 90)
{
    make_dir();
    char csv[256], fit_json[256];
    snprintf(csv, sizeof csv, "%s/points.csv", dir);
    snprintf(fit_json, sizeof fit_json, "%s/fit.json", dir);
    FILE *f = fopen(csv, "w");
    cr_assert_not_null(f);
    fprintf(f, "N,D,loss\n");
    for (int i = 0; i < 42; i++) {
        double N = 1e7 * pow(10.0, (i % 7) / 3.0), D = 1e9 * pow(10.0, (i / 7) / 3.0);
        fprintf(f, "%.6g,%.6g,%.9g\n", N, D, 1.8 + 400 / pow(N, 0.34) + 1500 / pow(D, 0.28));
    }
    fclose(f);
    char *fit[] = {"./bin/dlcm-fit", "--csv", csv, "--law", "chinchilla", "--json", fit_json, "--bootstrap", "20",
                   "--max-starts", "40", "--no-plots", "--no-lobo", "--vocab", "32000", "--seq-len", "1024", "--quiet", NULL};
    cr_assert_eq(run_query(fit, "fit.txt"), 0);

    /* 5x beyond the largest budget of the data (2.785e20): answered, with the warning. */
    char *text_argv[] = {"./bin/dlcm-query", "--fit-json", fit_json, "--budget", "1.4e21", NULL};
    char *json_argv[] = {"./bin/dlcm-query", "--fit-json", fit_json, "--budget", "1.4e21", "--json", NULL};
    cr_assert_eq(run_query(text_argv, "near.txt"), 0);
    cr_assert_eq(run_query(json_argv, "near.json"), 0);
    char *text = slurp("near.txt");
    json_object *answer = parse("near.json");
    cr_assert_eq(json_object_get_int(get(answer, "exit_code")), 0);
    cr_assert_str_eq(json_object_get_string(get(answer, "status")), "answered");
    cr_assert_str_eq(json_object_get_string(get(answer, "law")), "chinchilla");
    cr_assert(json_object_get_boolean(get(get(answer, "identification"), "identified")));
    cr_assert_null(get(answer, "R_source"), "a Chinchilla fit has no R");
    json_object *w = find_warning(answer, "extrapolated", NULL, "budget");
    cr_assert_not_null(w, "%s", json_object_to_json_string(get(answer, "warnings")));
    cr_assert_float_eq(number(w, "factor"), 1.4e21 / 2.785e20, 0.01);
    cr_assert_str_eq(json_object_get_string(get(w, "side")), "above");
    cr_assert(!json_object_get_boolean(get(w, "refused")));
    json_object *dense = get(get(answer, "recommendations"), "dense");
    cr_assert_str_eq(json_object_get_string(get(dense, "status")), "recommended");
    const char *quantities[] = {"N", "P", "R", "D", "loss"};
    for (int q = 0; q < 5; q++) assert_interval(get(dense, quantities[q]), quantities[q]);
    cr_assert_gt(json_object_get_int(get(get(dense, "shape"), "d_t")), 0);
    cr_assert_gt(json_object_get_int(get(get(dense, "shape"), "n_layers")), 0);
    /* The same numbers as the text. */
    double N = number(get(dense, "N"), "value"), D = number(get(dense, "D"), "value");
    cr_assert_float_eq(N, text_value(text, "\n  N          "), 1e-3 * N);
    cr_assert_float_eq(D, text_value(text, "\n  D          "), 1e-3 * D);
    cr_assert_float_eq(number(get(dense, "closed_form"), "N"), text_value(text, "N* = "), 1e-3 * N);
    cr_assert_float_eq(number(dense, "train_flops"), 1.4e21, 1e-6 * 1.4e21, "3 F_fwd D = C");
    json_object_put(answer);
    free(text);

    /* 1e30: refused (exit 4 in both forms), the refusal names the budget and its factor. */
    char *far_text[] = {"./bin/dlcm-query", "--fit-json", fit_json, "--budget=1e30", NULL};
    char *far_json[] = {"./bin/dlcm-query", "--fit-json", fit_json, "--budget=1e30", "--json", NULL};
    cr_assert_eq(run_query(far_text, "far.txt"), 4);
    cr_assert_eq(run_query(far_json, "far.json"), 4);
    answer = parse("far.json");
    cr_assert_eq(json_object_get_int(get(answer, "exit_code")), 4);
    cr_assert_str_eq(json_object_get_string(get(answer, "status")), "refused");
    w = find_warning(answer, "extrapolated", NULL, "budget");
    cr_assert_not_null(w);
    cr_assert(json_object_get_boolean(get(w, "refused")));
    cr_assert_float_eq(number(w, "factor"), 1e30 / 2.785e20, 0.01 * 1e30 / 2.785e20);
    cr_assert_float_eq(number(w, "limit"), 10, 1e-12);
    json_object *recs = NULL;
    cr_assert(!json_object_object_get_ex(answer, "recommendations", &recs), "a refused query recommends nothing");
    json_object_put(answer);

    /* Bad input keeps its exit code and prints no JSON. */
    char *bad[] = {"./bin/dlcm-query", "--fit-json", fit_json, "--budget", "-1", "--json", NULL};
    cr_assert_eq(run_query(bad, "bad.json"), 2);
    text = slurp("bad.json");
    cr_assert_str_eq(text, "");
    free(text);
}

/* byte-h100's dlcm fit is not identified: refused (4) without --force, answered (0) with it, and
 * the JSON carries the R source, the identification, each family's recommendation marked forced,
 * every extrapolation with its factor and the saving with its interval. */
Test(query_json, the_unidentified_byte_h100_fit_is_refused_then_forced, .timeout = 120)
{
    make_dir();
    const char *fit_json = "results/byte-h100/fit-dlcm.json";
    char *refused[] = {"./bin/dlcm-query", "--fit-json", (char *)fit_json, "--budget", "1e14", "--json", NULL};
    cr_assert_eq(run_query(refused, "refused.json"), 4);
    json_object *answer = parse("refused.json");
    cr_assert_eq(json_object_get_int(get(answer, "exit_code")), 4);
    cr_assert_str_eq(json_object_get_string(get(answer, "R_source")), "realized evaluation R (runs.realized_R_eval)");
    json_object *w = find_warning(answer, "not_identified", NULL, NULL);
    cr_assert_not_null(w);
    cr_assert(json_object_get_boolean(get(w, "refused")));
    cr_assert(strstr(json_object_get_string(get(w, "coefficients")), "E0") != NULL);
    cr_assert(strstr(json_object_get_string(get(w, "missing_variation")), "P (") != NULL);
    cr_assert(!json_object_get_boolean(get(get(answer, "identification"), "identified")));
    json_object_put(answer);

    char *forced_text[] = {"./bin/dlcm-query", "--fit-json", (char *)fit_json, "--budget", "1e14", "--force",
                           "--samples", "60", NULL};
    char *forced_json[] = {"./bin/dlcm-query", "--fit-json", (char *)fit_json, "--budget", "1e14", "--force",
                           "--samples", "60", "--json", NULL};
    cr_assert_eq(run_query(forced_text, "forced.txt"), 0);
    cr_assert_eq(run_query(forced_json, "forced.json"), 0);
    char *text = slurp("forced.txt");
    answer = parse("forced.json");
    cr_assert(json_object_get_boolean(get(answer, "forced")));
    json_object *dlcm = get(get(answer, "recommendations"), "dlcm");
    cr_assert_str_eq(json_object_get_string(get(dlcm, "status")), "forced");
    const char *quantities[] = {"N", "P", "R", "D", "loss"};
    for (int q = 0; q < 5; q++) assert_interval(get(dlcm, quantities[q]), quantities[q]);
    const char *widths[] = {"d_t", "d_c", "n_enc", "n_con", "n_dec"};
    for (int q = 0; q < 5; q++) get(get(dlcm, "shape"), widths[q]);
    cr_assert_float_eq(number(get(dlcm, "N"), "value"), text_value(text, "\n  N          "),
                       1e-3 * number(get(dlcm, "N"), "value"));
    /* Every "warning: extrapolated" line of the text is one JSON warning with its factor. */
    int text_lines = 0, json_warnings = 0;
    for (const char *p = strstr(text, "warning: extrapolated: "); p; p = strstr(p + 1, "warning: extrapolated: ")) text_lines++;
    json_object *warnings = get(answer, "warnings");
    for (size_t i = 0; i < json_object_array_length(warnings); i++) {
        json_object *x = json_object_array_get_idx(warnings, i);
        if (strcmp(json_object_get_string(get(x, "kind")), "extrapolated")) continue;
        json_warnings++;
        /* A quantity every trained run has at 0 (n_dec of the byte study's DLCMs, which the shape
         * rule no longer allows) has no factor: the warning says so instead. */
        json_object *factor = NULL;
        json_object_object_get_ex(x, "factor", &factor);
        if (factor) cr_assert_gt(number(x, "factor"), 1.0, "%s", json_object_to_json_string(x));
        else cr_assert(strstr(json_object_get_string(get(x, "message")), "every trained run has") != NULL, "%s",
                       json_object_to_json_string(x));
        cr_assert_not_null(get(x, "quantity"));
        cr_assert(strstr(text, json_object_get_string(get(x, "message"))) != NULL ||
                      strchr(json_object_get_string(get(x, "message")), ';') != NULL,
                  "the text says %s", json_object_get_string(get(x, "message")));
    }
    cr_assert_gt(json_warnings, 0);
    cr_assert_eq(json_warnings, text_lines, "%d JSON extrapolation warnings, %d text lines", json_warnings, text_lines);
    w = find_warning(answer, "extrapolated", "dlcm", "N");
    cr_assert_not_null(w, "the recommended dlcm N lies below the fitted runs' N");
    cr_assert_str_eq(json_object_get_string(get(w, "side")), "below");
    /* The saving carries its interval. */
    json_object *saving = get(answer, "saving");
    double gap = number(get(saving, "loss_gap"), "value"), lo = number(get(saving, "loss_gap"), "lo"),
           hi = number(get(saving, "loss_gap"), "hi");
    cr_assert(isfinite(gap) && lo <= hi, "%s", json_object_to_json_string(saving));
    json_object_put(answer);
    free(text);
}
