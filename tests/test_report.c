/* tests/test_report.c: bin/dlcm-report on a small sweep run by the test double of the trainer:
 * the report and every figure it names exist, name the sweep, and show a fit when one is given;
 * bad input exits 2; its identification is the fit's own. The law evaluation along isoFLOP lines is checked against a hand-made fit. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/isoflop.h"
#include "tests/sweep_test_util.h"

static int run_report(const char *const *args, const char *log)
{
    char *argv[16];
    int n = 0;
    argv[n++] = "bin/dlcm-report";
    for (; args[n - 1] && n < 15; n++) argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    unlink(log);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (!f || dup2(fileno(stdout), 2) < 0) _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    return tu_wait(pid);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

Test(report, writes_the_report_and_every_figure_it_names)
{
    TuSweep s;
    tu_make_sweep(&s, "flowreport", 2, 6);
    const char *run[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", "--quiet", NULL};
    cr_assert_eq(tu_sweep(run, NULL, s.log), 0);
    char out_dir[400], md_path[420], log[420], text[65536];
    snprintf(out_dir, sizeof out_dir, "%s/report", s.dir);
    snprintf(md_path, sizeof md_path, "%s/report.md", out_dir);
    snprintf(log, sizeof log, "%s/report.log", s.dir);
    const char *args[] = {"--db", s.db, "--out", out_dir, "--fit=results/byte-h100/fit-dlcm.json", NULL};
    cr_assert_eq(run_report(args, log), 0);
    tu_read(md_path, text, sizeof text);
    cr_assert(strncmp(text, "# Sweep report: flowreport\n", 27) == 0, "%.300s", text);
    cr_assert(strstr(text, "## Runs") && strstr(text, "## Fits") && strstr(text, "## Recommendations"), "%s", text);
    cr_assert(strstr(text, "not identified") != NULL, "the loose coefficients are flagged");
    /* Every figure the report shows exists, and its SVG twin names the sweep in its title. */
    int figures = 0;
    for (const char *p = strstr(text, "]("); p; p = strstr(p + 2, "](")) {
        char name[128], png[560], svg[560], svg_text[65536];
        cr_assert_eq(sscanf(p + 2, "%127[^)]", name), 1);
        snprintf(png, sizeof png, "%s/%s", out_dir, name);
        cr_assert_gt(file_size(png), 1000, "%s", png);
        snprintf(svg, sizeof svg, "%.*s.svg", (int)(strlen(png) - 4), png);
        tu_read(svg, svg_text, sizeof svg_text);
        cr_assert(strstr(svg_text, "flowreport") != NULL, "%s names the sweep", svg);
        figures++;
    }
    cr_assert_geq(figures, 5, "isoFLOP, N_opt, D_opt, curves and residuals");
    cr_assert(strstr(text, "isoflop-dense.png") && strstr(text, "curves-C1.png") && strstr(text, "residuals.png") &&
              strstr(text, "N_opt-vs-C.png") && strstr(text, "D_opt-vs-C.png"), "%s", text);
    /* The stored law is not identified: the isoFLOP figure draws its curves as the law's, says so
     * in its title, and the optima figure too. */
    char svg_path[560], svg_text[65536];
    snprintf(svg_path, sizeof svg_path, "%s/isoflop-dense.svg", out_dir);
    tu_read(svg_path, svg_text, sizeof svg_text);
    cr_assert(strstr(svg_text, "law not identified") != NULL, "%s: the title says the law is not identified", svg_path);
    cr_assert(strstr(svg_text, " law minimum") != NULL, "%s: the minima are the law's", svg_path);
    snprintf(svg_path, sizeof svg_path, "%s/N_opt-vs-C.svg", out_dir);
    tu_read(svg_path, svg_text, sizeof svg_text);
    cr_assert(strstr(svg_text, "a law not identified") != NULL, "%s", svg_path);

    /* Without a fit: runs and curves, and the report says how to make one. */
    char plain_dir[400];
    snprintf(plain_dir, sizeof plain_dir, "%s/plain", s.dir);
    const char *plain[] = {"--db", s.db, "--out", plain_dir, NULL};
    cr_assert_eq(run_report(plain, log), 0);
    snprintf(md_path, sizeof md_path, "%s/report.md", plain_dir);
    tu_read(md_path, text, sizeof text);
    cr_assert(strstr(text, "No fit is stored for this sweep") != NULL, "%s", text);

    const char *no_sweep[] = {"--db", s.db, "--sweep", "flowreprt", NULL};
    cr_assert_eq(run_report(no_sweep, log), 2);
    tu_read(log, text, sizeof text);
    cr_assert(strstr(text, "did you mean flowreport") != NULL, "%s", text);
    const char *no_fit[] = {"--db", s.db, "--fit", "/nonexistent/fit.json", NULL};
    cr_assert_eq(run_report(no_fit, log), 2);
    const char *no_db[] = {"--db", "/nonexistent/db.sqlite", NULL};
    cr_assert_eq(run_report(no_db, log), 2);
    tu_remove_tree(s.dir);
}

/* Every free coefficient's row in report.md says "yes" exactly where the fit JSON labels it
 * identified, and the report names the fit's unidentified coefficients. */
static void assert_labels_match(const char *report_text, json_object *fit)
{
    json_object *coefs, *ident, *names;
    cr_assert(json_object_object_get_ex(fit, "coefficients", &coefs));
    int checked = 0, unidentified = 0;
    json_object_object_foreach(coefs, key, c)
    {
        json_object *fixed, *label;
        if (json_object_object_get_ex(c, "fixed", &fixed) && json_object_get_boolean(fixed)) continue;
        cr_assert(json_object_object_get_ex(c, "identified", &label), "%s has the fit's label", key);
        char row[64];
        snprintf(row, sizeof row, "\n| %s | ", key);
        const char *at = strstr(report_text, row);
        cr_assert(at != NULL, "the report has a row for %s", key);
        const char *end = strchr(at + 1, '\n');
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(end - at - 1), at + 1);
        int says_yes = strstr(line, "| yes |") != NULL, says_no = strstr(line, "| no: ") != NULL;
        cr_assert(says_yes != says_no, "%s", line);
        cr_assert_eq(says_yes, json_object_get_boolean(label), "report row '%s' against the fit's label", line);
        unidentified += !says_yes;
        checked++;
    }
    cr_assert_geq(checked, 6);
    cr_assert_gt(unidentified, 0, "the design is one with an unidentified coefficient");
    cr_assert(json_object_object_get_ex(fit, "identification", &ident) &&
              json_object_object_get_ex(ident, "not_identified", &names));
    cr_assert(strstr(report_text, json_object_get_string(names)) != NULL, "the report names %s",
              json_object_get_string(names));
}

/* The byte-h100 dlcm fit: E0's interval spans a factor 14.6 (unidentified under the fitter's
 * factor-10 rule, identified under a looser one) and gamma's 0.28 wide (identified). The report
 * says what the fit says, also for an older fit JSON without the stored labels, which the report
 * labels by the fitter's rule (fit/scope.h). */
Test(report, identification_is_the_fits_own)
{
    const char *fit_path = "results/byte-h100/fit-dlcm.json";
    json_object *fit = json_object_from_file(fit_path);
    cr_assert(fit != NULL, "%s", fit_path);
    json_object *coefs, *e0, *label;
    cr_assert(json_object_object_get_ex(fit, "coefficients", &coefs) && json_object_object_get_ex(coefs, "E0", &e0) &&
              json_object_object_get_ex(e0, "identified", &label));
    cr_assert(!json_object_get_boolean(label), "the fit labels E0 not identified");

    TuSweep s;
    tu_make_sweep(&s, "flowident", 1, 6);
    const char *run[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", "--quiet", NULL};
    cr_assert_eq(tu_sweep(run, NULL, s.log), 0);
    char out_dir[400], md_path[420], log[420], fit_arg[600], old_path[420];
    static char text[131072];
    snprintf(out_dir, sizeof out_dir, "%s/report", s.dir);
    snprintf(md_path, sizeof md_path, "%s/report.md", out_dir);
    snprintf(log, sizeof log, "%s/report.log", s.dir);
    snprintf(fit_arg, sizeof fit_arg, "--fit=%s", fit_path);
    const char *args[] = {"--db", s.db, "--out", out_dir, fit_arg, NULL};
    cr_assert_eq(run_report(args, log), 0);
    tu_read(md_path, text, sizeof text);
    assert_labels_match(text, fit);
    cr_assert(strstr(text, "| E0 | 0.4697 | [0.08151, 1.193] | no: the interval spans more than a factor of 10 |"),
              "%.2000s", strstr(text, "## Fits"));
    cr_assert(strstr(text, "| gamma |") && strstr(strstr(text, "| gamma |"), "| yes |"));

    /* The same fit without its stored labels: the report labels it by the fitter's rule. */
    json_object *old = json_object_from_file(fit_path);
    json_object *old_coefs;
    json_object_object_get_ex(old, "coefficients", &old_coefs);
    json_object_object_foreach(old_coefs, key, c)
    {
        (void)key;
        json_object_object_del(c, "identified");
    }
    json_object_object_del(old, "identification");
    /* A bound the bootstrap did not find is null in a fit JSON: shown as such, not as 0. */
    json_object *derived, *n_opt;
    cr_assert(json_object_object_get_ex(old, "derived", &derived) && json_object_object_get_ex(derived, "N_opt", &n_opt));
    json_object_object_add(n_opt, "hi", NULL);
    snprintf(old_path, sizeof old_path, "%s/old-fit.json", s.dir);
    cr_assert_eq(json_object_to_file(old_path, old), 0);
    snprintf(fit_arg, sizeof fit_arg, "--fit=%s", old_path);
    cr_assert_eq(run_report(args, log), 0);
    tu_read(md_path, text, sizeof text);
    assert_labels_match(text, fit);
    cr_assert(strstr(text, "this fit predates the stored identification") != NULL);
    cr_assert(strstr(text, "| N_opt | 1.883e+06 | [2.266e+05, none] |") != NULL, "%.3000s", strstr(text, "Derived"));
    json_object_put(old);
    json_object_put(fit);
    tu_remove_tree(s.dir);
}

Test(report, isoflop_minimum_of_a_known_law)
{
    /* Chinchilla law L = E + A/N^a + B/D^b with F = 6N: along C the optimum is
     * N* = G (C/6)^(b/(a+b)), G = (aA / bB)^(1/(a+b)). */
    const char *json = "{\"law\": \"chinchilla\", \"coefficients\": {\"E\": {\"value\": 1.7}, \"A\": {\"value\": 400},"
                       " \"B\": {\"value\": 410}, \"alpha\": {\"value\": 0.34}, \"beta\": {\"value\": 0.28}}}";
    LoadedFit fit;
    char err[256];
    cr_assert_eq(isoflop_fit_load(json, &fit, err, sizeof err), 0, "%s", err);
    FlopsCurve flops = {0};
    flops_curve_add(&flops, 1e6, 6e6);
    flops_curve_add(&flops, 1e8, 6e8);
    cr_assert_float_eq(flops_curve_at(&flops, 1e7), 6e7, 1e-3);
    cr_assert_float_eq(flops_curve_at(&flops, 1e10), 6e10, 1e1, "extended by the end segment");
    FamilyLine line = {1, 1, 0, &flops};
    double C = 1e19, a = 0.34, b = 0.28;
    double G = pow(a * 400 / (b * 410), 1 / (a + b));
    double expected = G * pow(C / 6, b / (a + b));
    int edge;
    double N = isoflop_argmin(&fit, fit.coef, &line, C, 1e6, 1e12, 2000, &edge);
    cr_assert_eq(edge, 0);
    cr_assert_lt(fabs(log(N / expected)), 0.01, "N* %g, expected %g", N, expected);
    N = isoflop_argmin(&fit, fit.coef, &line, C, 1e6, expected / 10, 200, &edge);
    cr_assert_eq(edge, 1, "a range below the optimum gives a bound, flagged");
    double lo, hi, share;
    isoflop_argmin_interval(&fit, &line, C, 1e6, 1e12, 200, &lo, &hi, &share);
    cr_assert(isnan(lo) && isnan(hi), "no resamples, no interval");
    isoflop_fit_free(&fit);
    cr_assert_neq(isoflop_fit_load("{\"law\": \"chinchilla\"}", &fit, err, sizeof err), 0);
}

/* A dense partner planned at a DLCM's tokens stores its own training FLOPs as its budget (a
 * fraction of a percent off the sweep's); the reports count it with that budget, and keep
 * budgets a factor apart apart. */
Test(report, realized_budgets_group_with_the_sweeps_budget)
{
    cr_assert(isoflop_same_budget(3e13, 29909720236032.0), "0.3 % below");
    cr_assert(isoflop_same_budget(1.00207985845862e+15, 1e15), "0.2 % above");
    cr_assert_not(isoflop_same_budget(3e13, 1e14), "a budget 3.3x larger");
    cr_assert_not(isoflop_same_budget(1e14, 1.05e14), "5 % apart is another budget");
}
