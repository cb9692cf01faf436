/* tests/test_fit_trust.c: the rules that keep the fitter's answers within what the data
 * supports, on synthetic data with known answers: the μP verdict (edge optima, slopes 0 and -1,
 * an sp control that does not fail, too few widths, seed noise), identification (an unidentifiable design
 * names the coefficients and the variable), exponents positive by construction with the share of
 * samples on the constraint, extrapolation factors, the query's edge flags, CSV strictness, the
 * realized R and run selection from a sweep, and the decay law's WSD-only windows. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "fit/allocate.h"
#include "fit/decay.h"
#include "fit/estimator.h"
#include "fit/law.h"
#include "fit/mup.h"
#include "fit/points.h"
#include "fit/scope.h"
#include "fit/summary.h"

/* ---- μP verdict ------------------------------------------------------------------------------ */

/* Runs of one parametrization: widths 128 << k (k < n_widths), LRs 2^lo .. 2^hi, loss a parabola
 * in log2 LR around opt(width) = opt0 + slope log2(width / 128), plus a per-width jitter of the
 * optimum (jitter * (+1, -1, ...)) so that the slope's interval has a width. */
static int make_runs(MupRun *runs, int n, const char *param, int n_widths, int lo, int hi, double opt0, double slope,
                     double jitter)
{
    for (int k = 0; k < n_widths; k++) {
        int w = 128 << k;
        double opt = opt0 + slope * k + jitter * (k % 2 ? -1 : 1);
        for (int e = lo; e <= hi; e++) {
            MupRun r;
            snprintf(r.param, sizeof r.param, "%s", param);
            r.width = w;
            r.lr = ldexp(1.0, e);
            r.loss = 3.0 + 0.05 * (e - opt) * (e - opt);
            runs[n++] = r;
        }
    }
    return n;
}

static MupVerdict verdict_of(const MupRun *runs, int n, int with_sp)
{
    MupTransfer t[2];
    char err[256];
    cr_assert_eq(mup_transfer(runs, n, "mup", &t[0], err, sizeof err), 0, "%s", err);
    if (with_sp) cr_assert_eq(mup_transfer(runs, n, "sp", &t[1], err, sizeof err), 0, "%s", err);
    MupVerdict v;
    mup_verdict(&t[0], with_sp ? &t[1] : NULL, NULL, &v);
    return v;
}

static int has_reason(const MupVerdict *v, const char *needle)
{
    for (int i = 0; i < v->n_reasons; i++)
        if (strstr(v->reasons[i], needle)) return 1;
    return 0;
}

static void print_reasons(const MupVerdict *v)
{
    for (int i = 0; i < v->n_reasons; i++) fprintf(stderr, "  %s\n", v->reasons[i]);
}

Test(fit_mup_verdict, slope_0_with_an_sp_control_at_minus_1_passes)
{
    MupRun runs[512];
    int n = make_runs(runs, 0, "mup", 4, -12, -3, -8.3, 0.0, 0.02);
    n = make_runs(runs, n, "sp", 4, -14, -3, -6.3, -1.0, 0.02);
    MupVerdict v = verdict_of(runs, n, 1);
    if (v.kind != MUP_PASS) print_reasons(&v);
    cr_assert_eq(v.kind, MUP_PASS, "%s", mup_verdict_name(v.kind));
    cr_assert_eq(mup_verdict_exit(v.kind), 0);
}

Test(fit_mup_verdict, slope_minus_1_under_mup_fails)
{
    MupRun runs[512];
    int n = make_runs(runs, 0, "mup", 4, -14, -3, -6.3, -1.0, 0.02);
    n = make_runs(runs, n, "sp", 4, -14, -3, -6.3, -1.0, 0.02);
    MupVerdict v = verdict_of(runs, n, 1);
    cr_assert_eq(v.kind, MUP_FAIL, "%s", mup_verdict_name(v.kind));
    cr_assert_eq(mup_verdict_exit(v.kind), 3);
    cr_assert(has_reason(&v, "wholly outside"));
}

Test(fit_mup_verdict, every_optimum_below_the_grid_is_inconclusive_and_names_the_lrs)
{
    MupRun runs[512];
    /* The optimum is at 2^-14 for every width but the grid starts at 2^-12: each width's best
     * grid point is the lowest LR. Before, this printed PASS with slope 0.000. */
    int n = make_runs(runs, 0, "mup", 4, -12, -5, -14.0, 0.0, 0.0);
    n = make_runs(runs, n, "sp", 4, -14, -3, -6.3, -1.0, 0.02);
    MupVerdict v = verdict_of(runs, n, 1);
    cr_assert_eq(v.kind, MUP_INCONCLUSIVE, "%s", mup_verdict_name(v.kind));
    cr_assert_eq(mup_verdict_exit(v.kind), 4);
    cr_assert(has_reason(&v, "mup width 128: the best loss is at the lowest LR of the grid (0.0002441)"), "edge not named");
    cr_assert(has_reason(&v, "add LRs 0.0001221 and 6.104e-05"), "LRs to add not named");
    cr_assert(has_reason(&v, "mup width 1024"), "every width is named");
}

Test(fit_mup_verdict, an_sp_control_that_does_not_fail_means_the_sweep_cannot_discriminate)
{
    MupRun runs[512];
    int n = make_runs(runs, 0, "mup", 4, -12, -3, -8.3, 0.0, 0.02);
    n = make_runs(runs, n, "sp", 4, -12, -3, -8.3, 0.0, 0.02);
    MupVerdict v = verdict_of(runs, n, 1);
    cr_assert_eq(v.kind, MUP_INCONCLUSIVE);
    cr_assert(has_reason(&v, "cannot discriminate"));
    /* And without any sp control. */
    v = verdict_of(runs, make_runs(runs, 0, "mup", 4, -12, -3, -8.3, 0.0, 0.02), 0);
    cr_assert_eq(v.kind, MUP_INCONCLUSIVE);
    cr_assert(has_reason(&v, "no sp control"));
}

Test(fit_mup_verdict, two_widths_give_no_interval_and_an_inconclusive_verdict)
{
    MupRun runs[512];
    int n = make_runs(runs, 0, "mup", 2, -12, -3, -8.3, 0.0, 0.0);
    n = make_runs(runs, n, "sp", 4, -14, -3, -6.3, -1.0, 0.02);
    MupVerdict v = verdict_of(runs, n, 1);
    cr_assert_eq(v.kind, MUP_INCONCLUSIVE);
    cr_assert(has_reason(&v, "cannot be computed"));
}

Test(fit_mup_verdict, a_wide_interval_across_the_bound_is_inconclusive)
{
    MupRun runs[512];
    /* Slope about 0 but LR* jumping +-0.6 octaves between widths: the interval straddles +-0.1. */
    int n = make_runs(runs, 0, "mup", 4, -12, -3, -8.3, 0.0, 0.6);
    n = make_runs(runs, n, "sp", 4, -14, -3, -6.3, -1.0, 0.02);
    MupVerdict v = verdict_of(runs, n, 1);
    cr_assert_eq(v.kind, MUP_INCONCLUSIVE, "%s", mup_verdict_name(v.kind));
    cr_assert(has_reason(&v, "neither within"));
}

/* Two seeds whose optima sit 0.8 octave either side of 2^-8.3 at every width: the mean curve's
 * LR* does not move (t interval [0, 0]), but the seeds disagree, and the seed bootstrap says so. */
Test(fit_mup_verdict, seed_noise_widens_the_interval_through_the_bootstrap)
{
    MupRun runs[512];
    int n = make_runs(runs, 0, "mup", 4, -12, -3, -8.3, 0.0, 0.8);
    n = make_runs(runs, n, "mup", 4, -12, -3, -8.3, 0.0, -0.8);
    n = make_runs(runs, n, "sp", 4, -14, -3, -6.3, -1.0, 0.02);
    MupTransfer t;
    char err[256];
    cr_assert_eq(mup_transfer(runs, n, "mup", &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.min_seeds, 2);
    cr_assert(fabs(t.slope) < 1e-9 && t.t_hi - t.t_lo < 1e-6, "t interval [%g, %g]", t.t_lo, t.t_hi);
    cr_assert(t.boot_hi - t.boot_lo > 0.3, "seed bootstrap [%g, %g]", t.boot_lo, t.boot_hi);
    cr_assert(t.slope_lo <= t.boot_lo && t.slope_hi >= t.boot_hi);
    MupVerdict v = verdict_of(runs, n, 1);
    cr_assert_eq(v.kind, MUP_INCONCLUSIVE, "%s", mup_verdict_name(v.kind));
}

/* ---- identification ------------------------------------------------------------------------ */

static FitData dlcm_design(int n_P)
{
    FitData d = {0};
    for (int i = 0; i < 4; i++)
        for (int q = 0; q < n_P; q++)
            for (int r = 0; r < 3; r++) {
                FitPoint p = {.N = 2e6 * pow(3.0, i), .D = 1e8 * pow(2.0, r + i), .P = 0.3 + 0.2 * q, .R = 2 << r, .C = 1e16,
                              .loss = 2, .R_target = NAN, .R_eval = NAN, .lr = NAN, .seed = -1};
                cr_assert_eq(fit_data_push(&d, &p), 0);
            }
    return d;
}

Test(fit_identify, wide_intervals_are_not_identified_and_name_the_missing_variable)
{
    Law law;
    law_init(&law, "dlcm", 0);
    FitData one_P = dlcm_design(1);
    /* E0, A_tok, A_con, A_dat, t x3, delta1, delta2, gamma, alpha. */
    double lo[11] = {1.5, 1e-3, 10, 100, NAN, NAN, NAN, 0.0, 0.1, 0.25, 0.25};
    double hi[11] = {1.9, 1e9, 20, 200, NAN, NAN, NAN, 2.0, 0.3, 0.35, 0.30};
    Identification id;
    scope_identify(&law, lo, hi, &one_P, &id);
    cr_assert(id.known && !id.identified);
    cr_assert_str_eq(id.coefficients, "A_tok, delta1");
    cr_assert(strstr(id.missing, "P (1 distinct value"), "%s", id.missing);
    cr_assert_eq(id.coef_state[0], 1);
    cr_assert_eq(id.coef_state[1], 0);
    cr_assert_eq(id.coef_state[4], -1, "a fixed offset is neither");
    /* Factor 10 and width 0.5 are the bounds. */
    double lo2[11] = {1.0, 1, 10, 100, NAN, NAN, NAN, 0.1, 0.1, 0.25, 0.25};
    double hi2[11] = {10.0, 10, 20, 200, NAN, NAN, NAN, 0.6, 0.3, 0.35, 0.30};
    FitData three_P = dlcm_design(3);
    scope_identify(&law, lo2, hi2, &three_P, &id);
    cr_assert(id.known && id.identified, "%s", id.coefficients);
    /* No intervals: unknown, not identified by default. */
    double nan11[11];
    for (int j = 0; j < 11; j++) nan11[j] = NAN;
    scope_identify(&law, nan11, nan11, &three_P, &id);
    cr_assert(!id.known);
    fit_data_free(&one_P);
    fit_data_free(&three_P);
}

/* An unidentifiable design fitted for real: Chinchilla data whose N barely varies (1e7 to
 * 1.1e7) leaves A and alpha unidentified, and the missing variation is N. */
Test(fit_identify, narrow_N_design_fitted_and_bootstrapped_is_not_identified, .timeout = 60)
{
    Law law;
    law_init(&law, "chinchilla", 0);
    const double truth[5] = {1.8, 400, 1500, 0.34, 0.28};
    FitData d = {0};
    snprintf(d.source, sizeof d.source, "synthetic");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 8; j++) {
            FitPoint p = {.N = 1e7 * (1 + 0.05 * i), .D = 1e9 * pow(10.0, j / 3.0), .R = 1, .dense = 1, .R_target = NAN,
                          .R_eval = NAN, .lr = NAN, .seed = -1};
            p.C = 6 * p.N * p.D;
            p.loss = law_loss(&law, truth, p.N, p.D, 1, 0, 1) * exp(0.01 * gsl_ran_gaussian(rng, 1));
            cr_assert_eq(fit_data_push(&d, &p), 0);
        }
    gsl_rng_free(rng);
    law_set_centers(&law, d.pts, d.n);
    int n_starts;
    double *grid = law_start_grid(&law, &n_starts);
    int stride = n_starts / 60, kept = 0;
    for (int i = 0; i < n_starts; i += stride, kept++) memmove(grid + kept * 5, grid + i * 5, 5 * sizeof *grid);
    EstimatorSettings set = estimator_defaults();
    set.n_boot = 40;
    FitResult r;
    char err[256];
    cr_assert_eq(estimator_fit(&law, d.pts, d.n, NULL, grid, kept, &set, &r, err, sizeof err), 0, "%s", err);
    LawSummary s = {0};
    s.law = law;
    memcpy(s.coef, r.coef, sizeof s.coef);
    s.n_samples_ok = estimator_bootstrap(&law, d.pts, d.n, &r, grid, kept, &set, &s.samples);
    s.n_samples = set.n_boot;
    summary_compute(&s, &d, &set);
    cr_assert(s.ident.known && !s.ident.identified, "A and alpha cannot be identified from N in [1e7, 1.1e7]");
    cr_assert(strstr(s.ident.coefficients, "alpha"), "%s", s.ident.coefficients);
    cr_assert(strstr(s.ident.missing, "N ("), "%s", s.ident.missing);
    /* Exponents are positive in every sample, by construction. */
    for (int b = 0; b < s.n_samples; b++)
        if (!isnan(s.samples[b * 5])) cr_assert(s.samples[b * 5 + 3] > 0 && s.samples[b * 5 + 4] > 0);
    cr_assert(isfinite(s.constraint_share));
    summary_free(&s);
    free(grid);
    fit_data_free(&d);
}

/* A law whose true N exponent is 0 (loss independent of N): the fit drives alpha onto its
 * constraint instead of below 0, and the share of samples there is reported. */
Test(fit_constraint, an_exponent_the_data_wants_at_zero_ends_on_its_constraint, .timeout = 60)
{
    Law law;
    law_init(&law, "chinchilla", 0);
    const double truth[5] = {1.8, 1.0, 1500, 0.0, 0.28};
    FitData d = {0};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 9);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            FitPoint p = {.N = 1e7 * pow(10.0, i / 2.0), .D = 1e9 * pow(10.0, j / 2.0), .R = 1, .dense = 1};
            p.C = 6 * p.N * p.D;
            /* A = 1 with alpha = 0 is a constant; a slight rise with N asks for alpha < 0. */
            p.loss = (truth[0] + 1.0 + truth[2] / pow(p.D, truth[4])) * (1 + 0.002 * i) * exp(0.002 * gsl_ran_gaussian(rng, 1));
            cr_assert_eq(fit_data_push(&d, &p), 0);
        }
    gsl_rng_free(rng);
    law_set_centers(&law, d.pts, d.n);
    static const double natural[3][5] = {{0.5, 1.0, 7.0, 0.3, 0.3}, {0.7, 3.0, 8.0, 0.1, 0.2}, {0.0, 5.0, 9.0, 0.6, 0.5}};
    double starts[15];
    for (int s = 0; s < 3; s++) law_theta_from_natural(&law, natural[s], starts + 5 * s);
    EstimatorSettings set = estimator_defaults();
    set.n_boot = 30;
    FitResult r;
    char err[256];
    cr_assert_eq(estimator_fit(&law, d.pts, d.n, NULL, starts, 3, &set, &r, err, sizeof err), 0, "%s", err);
    cr_assert(r.coef[3] > 0 && r.coef[3] < 0.01, "alpha %g: at its constraint, not below 0", r.coef[3]);
    LawSummary s = {0};
    s.law = law;
    memcpy(s.coef, r.coef, sizeof s.coef);
    s.n_samples_ok = estimator_bootstrap(&law, d.pts, d.n, &r, starts, 3, &set, &s.samples);
    s.n_samples = set.n_boot;
    summary_compute(&s, &d, &set);
    cr_assert(s.constraint_share > 0.5, "share on the constraint %g", s.constraint_share);
    cr_assert(s.coef_constraint_share[3] > 0.5 && s.coef_constraint_share[4] == 0.0, "alpha %g beta %g",
              s.coef_constraint_share[3], s.coef_constraint_share[4]);
    summary_free(&s);
    fit_data_free(&d);
}

/* ---- extrapolation and edges ---------------------------------------------------------------- */

Test(fit_scope, extrapolation_factors)
{
    cr_assert_float_eq(scope_factor(5, 1, 10), 1.0, 1e-12);
    cr_assert_float_eq(scope_factor(1e19, 2e13, 2e14), 5e4, 1e-6);
    cr_assert_float_eq(scope_factor(1e5, 1e6, 4e6), 10.0, 1e-9);
    cr_assert(isinf(scope_factor(21, 0, 0)), "a depth never trained (0) is infinitely far");
    cr_assert(isnan(scope_factor(3, NAN, NAN)), "unknown range");
}

Test(fit_scope, the_query_search_flags_an_optimum_on_its_edge)
{
    Law law;
    law_init(&law, "dlcm", 0);
    /* gamma < 0 in effect is impossible, so make the largest R best: tiny gamma, strong data term. */
    double coef[11] = {1.7, 60, 12, 150, 0, 0, 0, 0.32, 0.25, 0.01, 0.27};
    AllocSpace space = {.vocab = 4096, .seq_len = 512, .R_min = 2, .R_max = 8, .P_min = 0.3, .P_max = 0.7};
    CandidateSet set;
    char err[256];
    cr_assert_eq(allocate_candidates(&space, 0, &set, err, sizeof err), 0, "%s", err);
    Allocation a = allocate_best(&law, coef, &set, 1e18);
    cr_assert(a.valid);
    cr_assert_eq(a.edge_R, 1, "R = %g: a larger R is always cheaper here, the optimum is the upper edge", a.R);
    cr_assert(a.P >= 0.3 - ALLOC_P_TOLERANCE && a.P <= 0.7 + ALLOC_P_TOLERANCE, "P %g kept in the trained range", a.P);
    allocate_candidates_free(&set);
    /* A budget so small that the smallest shape is best: the lower edge of N. */
    Law ch;
    law_init(&ch, "chinchilla", 0);
    double c2[5] = {1.8, 400, 1500, 0.34, 0.28};
    AllocSpace dense_space = {.vocab = 4096, .seq_len = 512};
    cr_assert_eq(allocate_candidates(&dense_space, 1, &set, err, sizeof err), 0, "%s", err);
    a = allocate_best(&ch, c2, &set, 1e10);
    cr_assert(a.valid);
    cr_assert_eq(a.edge_N, -1, "N %g", a.N);
    allocate_candidates_free(&set);
}

/* The law's derived optimum (the report's "Derived quantities") says when it sits on its search
 * range's edge, in the fit and in how many resamples: a value cut at R's edge with a zero-width
 * interval would otherwise read as a precise optimum. */
Test(fit_scope, the_derived_optimum_names_its_edge_and_how_many_resamples_share_it)
{
    Law law;
    law_init(&law, "dlcm", 0);
    double coef[11] = {1.7, 60, 12, 150, 0, 0, 0, 0.32, 0.25, 0.01, 0.27}; /* the largest R is best */
    FitData d = {0};
    for (int i = 0; i < 4; i++) {
        FitPoint p = {.N = 1e6 * (1 + i), .D = 1e8, .R = 2 + 2 * i, .P = 0.3 + 0.1 * i, .R_target = NAN,
                      .R_eval = NAN, .lr = NAN, .seed = -1};
        p.C = 6 * p.N * p.D;
        p.loss = law_loss(&law, coef, p.N, p.D, p.R, p.P, 0);
        cr_assert_eq(fit_data_push(&d, &p), 0);
    }
    LawSummary s = {0};
    s.law = law;
    memcpy(s.coef, coef, sizeof coef);
    s.n_samples = s.n_samples_ok = 3;
    s.samples = malloc(3 * 11 * sizeof *s.samples);
    cr_assert_not_null(s.samples);
    for (int b = 0; b < 3; b++) memcpy(s.samples + 11 * b, coef, sizeof coef);
    s.vocab = 4096;
    s.seq_len = 512;
    s.R_min = 2;
    s.R_max = 8;
    s.P_min = 0.3;
    s.P_max = 0.7;
    s.budget_max = 1e18;
    EstimatorSettings set = estimator_defaults();
    summary_compute(&s, &d, &set);
    const Derived *r_opt = NULL, *loss_opt = NULL;
    for (int q = 0; q < s.n_derived; q++) {
        if (strcmp(s.derived[q].name, "R_opt") == 0) r_opt = &s.derived[q];
        if (strcmp(s.derived[q].name, "loss_opt") == 0) loss_opt = &s.derived[q];
    }
    cr_assert(r_opt && loss_opt);
    cr_assert_float_eq(r_opt->value, 8, 0.1, "R_opt %g", r_opt->value);
    cr_assert(strstr(r_opt->note, "AT THE UPPER EDGE of the data's R range (the fit and 3 of 3 resamples)"), "%s",
              r_opt->note);
    cr_assert(strstr(loss_opt->note, "EDGE") == NULL, "%s", loss_opt->note);
    summary_free(&s);
    fit_data_free(&d);
}

/* ---- CSV strictness --------------------------------------------------------------------------- */

static char csv_path[128];

static int read_text(const char *text, int compression, char *err, int errlen)
{
    snprintf(csv_path, sizeof csv_path, "/tmp/dlcm-test-fit-trust-%d.csv", (int)getpid());
    FILE *f = fopen(csv_path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    FitData d;
    int rc = fit_data_read_csv(csv_path, compression, &d, err, errlen);
    if (rc == 0) fit_data_free(&d);
    unlink(csv_path);
    return rc;
}

static void refused(const char *text, int compression, const char *needle)
{
    char err[512] = "";
    cr_assert_eq(read_text(text, compression, err, sizeof err), -1, "accepted: %s", text);
    cr_assert(strstr(err, needle), "message \"%s\" lacks \"%s\"", err, needle);
}

Test(fit_csv, strict_headers_rows_and_numbers)
{
    char err[512];
    cr_assert_eq(read_text("N,D,loss\n1e7,1e9,3.0\n2e7,1e9,2.9\n", 0, err, sizeof err), 0, "%s", err);
    refused("N,D,loss,N\n1e7,1e9,3.0,2e7\n", 0, "appears twice");
    refused("N,D,loss,C,budget\n1e7,1e9,3.0,1,1\n", 0, "both give C");
    /* Names match exactly: "Loss" is not loss, and "n" is not N (it no longer swaps columns). */
    refused("N,D,Loss\n1e7,1e9,3.0\n", 0, "header lacks column loss");
    cr_assert_eq(read_text("N,n,D,loss\n1e7,5,1e9,3.0\n", 0, err, sizeof err), 0, "%s", err);
    refused("N,D,loss\n1e7,1e9,3.0\n2e7,1e", 0, "ends mid-row");
    refused("N,D,loss\n1e7,1e9,3.0\n2e7,1e9\n", 0, "2 fields where the header has 3");
    refused("N,D,loss\n0x10,1e9,3.0\n", 0, "not a finite decimal number: \"0x10\"");
    refused("N,D,loss\ninf,1e9,3.0\n", 0, "not a finite decimal number");
    refused("N,D,loss,P\n1e7,1e9,3.0,0.5\n", 1, "header lacks column R");
    refused("N,D,loss,R\n1e7,1e9,3.0,2\n", 1, "header lacks column P");
}

/* ---- reading a sweep: realized R, selection, the decay law ------------------------------------ */

static char db_path[128];

static sqlite3 *scratch_db(void)
{
    char err[512];
    snprintf(db_path, sizeof db_path, "/tmp/dlcm-test-fit-trust-%d.sqlite", (int)getpid());
    unlink(db_path);
    sqlite3 *db = db_open(db_path, err, sizeof err);
    cr_assert_not_null(db, "%s", err);
    cr_assert_eq(db_exec(db, "INSERT INTO sweeps(name, created_at) VALUES ('s', 0)", err, sizeof err), 0, "%s", err);
    return db;
}

static void add_run(sqlite3 *db, const char *id, const char *family, double R_target, const char *R_eval, double lr,
                    const char *schedule)
{
    char sql[1024], err[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO runs(id, sweep_id, status, config, family, N, tokens, R_target, realized_R_eval, P, budget,"
             " final_val_loss, lr, seed, vocab, seq_len, d_t, d_c, n_layers, n_enc, n_con, n_dec, created_at)"
             " VALUES ('%s', 1, 'done', 'schedule.kind: \"%s\"\n', '%s', 2e6, 1e8, %s, %s, %s, 1e15, 2.5, %g, 0, 256, 256,"
             " 128, %s, %s, %s, %s, %s, 0)",
             id, schedule, family, !strcmp(family, "dense") ? "NULL" : (R_target == 4 ? "4" : "8"), R_eval,
             !strcmp(family, "dense") ? "0" : "0.5", lr, !strcmp(family, "dense") ? "NULL" : "256",
             !strcmp(family, "dense") ? "4" : "NULL", !strcmp(family, "dense") ? "NULL" : "1",
             !strcmp(family, "dense") ? "NULL" : "2", !strcmp(family, "dense") ? "NULL" : "1");
    cr_assert_eq(db_exec(db, sql, err, sizeof err), 0, "%s", err);
}

Test(fit_sweep, realized_eval_R_by_default_target_on_request_and_selection_by_lr_and_tag)
{
    sqlite3 *db = scratch_db();
    add_run(db, "a", "dlcm", 8, "11.4", 0.01, "cosine");
    add_run(db, "b", "dlcm", 4, "4.2", 0.02, "cosine");
    add_run(db, "c", "dense", 1, "NULL", 0.01, "cosine");
    FitSelection sel = fit_selection_default();
    FitData d;
    char err[512];
    cr_assert_eq(fit_data_read_sweep(db, "s", &sel, 0, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n, 3);
    cr_assert_float_eq(d.pts[0].R, 11.4, 1e-12, "realized evaluation R by default (got %g)", d.pts[0].R);
    cr_assert_float_eq(d.pts[0].R_target, 8, 1e-12);
    cr_assert(strstr(d.R_source, "realized evaluation"), "%s", d.R_source);
    cr_assert_eq(d.pts[0].d_c, 256);
    cr_assert_eq(d.pts[2].n_layers, 4);
    fit_data_free(&d);
    sel.R_source = R_SOURCE_TARGET;
    cr_assert_eq(fit_data_read_sweep(db, "s", &sel, 0, &d, err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(d.pts[0].R, 8, 1e-12);
    fit_data_free(&d);
    sel = fit_selection_default();
    sel.lr = 0.01;
    cr_assert_eq(fit_data_read_sweep(db, "s", &sel, 0, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n, 2, "only the runs at lr 0.01");
    fit_data_free(&d);
    sel.family = "dense";
    cr_assert_eq(fit_data_read_sweep(db, "s", &sel, 0, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(fit_data_select(&d, &sel, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n, 1);
    cr_assert_str_eq(d.selection, "family=dense lr=0.01");
    fit_data_free(&d);
    /* Tags: a run's own, else its sweep's. */
    cr_assert_eq(db_exec(db, "UPDATE runs SET tags = 'pilot, v2' WHERE id = 'a'", err, sizeof err), 0, "%s", err);
    cr_assert_eq(db_exec(db, "UPDATE sweeps SET tags = 'v2'", err, sizeof err), 0, "%s", err);
    sel = fit_selection_default();
    sel.tag = "pilot";
    cr_assert_eq(fit_data_read_sweep(db, "s", &sel, 0, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n, 1);
    cr_assert_str_eq(d.pts[0].id, "a");
    fit_data_free(&d);
    sel.tag = "v2";
    cr_assert_eq(fit_data_read_sweep(db, "s", &sel, 0, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n, 3, "the sweep's tag reaches the runs without their own");
    fit_data_free(&d);
    sel.tag = "pil";
    cr_assert_eq(fit_data_read_sweep(db, "s", &sel, 0, &d, err, sizeof err), -1, "a tag matches whole");
    /* A run without its realized R: refused, pointing at --R target. */
    add_run(db, "d", "dlcm", 4, "NULL", 0.01, "cosine");
    sel = fit_selection_default();
    cr_assert_eq(fit_data_read_sweep(db, "s", &sel, 0, &d, err, sizeof err), -1);
    cr_assert(strstr(err, "run d") && strstr(err, "--R target"), "%s", err);
    cr_assert_eq(fit_data_read_sweep(db, "nope", &sel, 0, &d, err, sizeof err), -1);
    cr_assert(strstr(err, "no sweep named"), "%s", err);
    db_close(db);
    unlink(db_path);
}

static void add_curve(sqlite3 *db, const char *id, int steps, int stable_end)
{
    char err[512];
    sqlite3_stmt *st = db_prepare(db, "INSERT INTO metrics(run_id, step, tokens, train_loss, lr) VALUES (?1, ?2, 0, ?3, ?4)",
                                  err, sizeof err);
    cr_assert_not_null(st, "%s", err);
    for (int i = 0; i < steps; i++) {
        /* Stable: loss 3.0 +- 0.1 alternating (one minibatch is noisy); decay: 2.8 +- 0.1. */
        double noise = i % 2 ? 0.1 : -0.1;
        double loss = (i <= stable_end ? 3.0 : 2.8) + noise, lr = i <= stable_end ? 0.01 : 0.01 * (steps - i) / (steps - stable_end);
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 2, i);
        sqlite3_bind_double(st, 3, loss);
        sqlite3_bind_double(st, 4, lr);
        cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
    }
    sqlite3_finalize(st);
}

Test(fit_sweep, the_decay_law_reads_only_wsd_runs_and_averages_a_window)
{
    sqlite3 *db = scratch_db();
    add_run(db, "w1", "dlcm", 4, "4.1", 0.01, "wsd");
    add_curve(db, "w1", 200, 159);
    add_run(db, "c1", "dlcm", 8, "8.2", 0.01, "cosine");
    DecayWindow window = {.fraction = 0.05};
    DecayPoint *pts;
    int n;
    char err[512];
    cr_assert_eq(decay_read_sweep(db, "s", &window, &pts, &n, err, sizeof err), -1);
    cr_assert(strstr(err, "only WSD runs") && strstr(err, "c1 (cosine)"), "%s", err);
    cr_assert_eq(db_exec(db, "DELETE FROM runs WHERE id = 'c1'", err, sizeof err), 0);
    cr_assert_eq(decay_read_sweep(db, "s", &window, &pts, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 1);
    /* 5 % of 160 stable steps = 8, of 40 decay steps = 2: even counts average the +-0.1 away. */
    cr_assert_eq(pts[0].window_stable, 8);
    cr_assert_eq(pts[0].window_final, 2);
    cr_assert_float_eq(pts[0].L_stable, 3.0, 1e-9);
    cr_assert_float_eq(pts[0].L_final, 2.8, 1e-9);
    free(pts);
    db_close(db);
    unlink(db_path);
}
