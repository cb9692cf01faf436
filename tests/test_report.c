/* tests/test_report.c: bin/dlcm-report on a small sweep run by the test double of the trainer:
 * the report and every figure it names exist, name the sweep, and show a fit when one is given;
 * bad input exits 2. The law evaluation along isoFLOP lines is checked against a hand-made fit. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/isoflop.h"
#include "sweep/testing/test_util.h"

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
