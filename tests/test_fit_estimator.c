/* tests/test_fit_estimator.c: the fitter's numerics on synthetic data from known coefficients:
 * analytic gradients, recovery within bootstrap intervals, interval coverage near nominal,
 * the compression-aware law, the decay OLS, and the allocation query against the Chinchilla
 * closed form. Bootstraps are kept small so that each test takes seconds. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit/allocate.h"
#include "fit/decay.h"
#include "fit/estimator.h"
#include "fit/law.h"
#include "fit/mup.h"

static const double chinchilla_truth[5] = {1.8, 400.0, 1500.0, 0.34, 0.28}; /* E, A, B, alpha, beta */

/* n points on an N x D grid (N 1e7..1e9, D 1e9..1e11), loss = law * exp(noise). */
static int chinchilla_data(FitPoint *pts, gsl_rng *rng, double sigma)
{
    Law law;
    law_init(&law, "chinchilla", 0);
    int n = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 6; j++) {
            FitPoint p = {.N = 1e7 * pow(100.0, i / 7.0), .D = 1e9 * pow(100.0, j / 5.0), .R = 1, .P = 0, .dense = 1};
            p.C = 6 * p.N * p.D;
            p.loss = law_loss(&law, chinchilla_truth, p.N, p.D, 1, 0, 1) * exp(sigma * gsl_ran_gaussian(rng, 1.0));
            pts[n++] = p;
        }
    return n;
}

/* A few starts around (but not at) the truth, and one far away: enough for these smooth
 * synthetic problems and much faster than the full 4500-start grid. */
static double *chinchilla_starts(const Law *law, int *n)
{
    static const double natural[3][5] = {{0.5, 5.0, 7.0, 0.3, 0.3}, {0.7, 6.5, 8.0, 0.4, 0.2}, {0.0, 10.0, 10.0, 0.6, 0.6}};
    double *starts = malloc(3 * 5 * sizeof *starts);
    for (int s = 0; s < 3; s++) law_theta_from_natural(law, natural[s], starts + 5 * s);
    *n = 3;
    return starts;
}

Test(fit_law, gradients_match_finite_differences)
{
    FitPoint dense = {.N = 3e7, .D = 2e9, .R = 1, .P = 0, .dense = 1, .loss = 3};
    FitPoint dlcm = {.N = 5e7, .D = 4e9, .R = 4, .P = 0.4, .dense = 0, .loss = 3};
    for (int kind = 0; kind < 3; kind++) {
        Law law;
        law_init(&law, kind == 0 ? "chinchilla" : "dlcm", kind == 2);
        law.center[0] = 17; law.center[1] = 21; law.center[2] = 16; law.center[3] = 1;
        double theta[LAW_MAX_PARAMS] = {0.3, 1.2, 0.8, 0.5, 0.35, 0.3, 0.2, 0.25, 6.0, 7.0, 8.0};
        for (int which = 0; which < 2; which++) {
            const FitPoint *p = which ? &dlcm : &dense;
            double grad[LAW_MAX_PARAMS];
            law_log_predict(&law, theta, p, grad);
            for (int j = 0; j < law.k; j++) {
                double h = 1e-6, up[LAW_MAX_PARAMS], dn[LAW_MAX_PARAMS];
                for (int q = 0; q < law.k; q++) up[q] = dn[q] = theta[q];
                up[j] += h;
                dn[j] -= h;
                double fd = (law_log_predict(&law, up, p, NULL) - law_log_predict(&law, dn, p, NULL)) / (2 * h);
                cr_assert(fabs(fd - grad[j]) < 1e-6 * (1 + fabs(fd)), "law %d point %d param %s: analytic %g vs numeric %g",
                          kind, which, law_param_name(&law, j), grad[j], fd);
            }
        }
    }
}

Test(fit_law, centering_does_not_change_the_coefficients)
{
    Law law;
    law_init(&law, "chinchilla", 0);
    law.center[0] = 18;
    law.center[1] = 22;
    double natural[5] = {log(1.8), log(400), log(1500), 0.34, 0.28}, theta[5], coef[5];
    law_theta_from_natural(&law, natural, theta);
    law_theta_to_coef(&law, theta, coef);
    for (int j = 0; j < 5; j++) cr_assert_float_eq(coef[j], chinchilla_truth[j], 1e-9 * chinchilla_truth[j]);
}

Test(fit_estimator, recovers_chinchilla_coefficients_within_intervals, .timeout = 60)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    FitPoint pts[64];
    int n = chinchilla_data(pts, rng, 0.01);
    Law law;
    law_init(&law, "chinchilla", 0);
    law_set_centers(&law, pts, n);
    int n_starts;
    double *starts = chinchilla_starts(&law, &n_starts);
    EstimatorSettings set = estimator_defaults();
    set.n_boot = 100;
    FitResult r;
    char err[256];
    cr_assert_eq(estimator_fit(&law, pts, n, NULL, starts, n_starts, &set, &r, err, sizeof err), 0, "%s", err);
    double *samples;
    cr_assert_eq(estimator_bootstrap(&law, pts, n, &r, starts, n_starts, &set, &samples), set.n_boot);
    for (int j = 0; j < 5; j++) {
        double col[100], lo, hi;
        for (int b = 0; b < 100; b++) col[b] = samples[b * 5 + j];
        estimator_percentile_interval(col, 100, 0.95, &lo, &hi);
        cr_assert(lo <= chinchilla_truth[j] && chinchilla_truth[j] <= hi, "%s: truth %g outside [%g, %g] (estimate %g)",
                  law_coef_name(&law, j), chinchilla_truth[j], lo, hi, r.coef[j]);
        cr_assert(lo <= r.coef[j] && r.coef[j] <= hi, "%s: estimate outside its own interval", law_coef_name(&law, j));
    }
    cr_assert(fabs(r.coef[3] - 0.34) < 0.03 && fabs(r.coef[4] - 0.28) < 0.03, "exponents %g %g", r.coef[3], r.coef[4]);
    cr_assert(r.r2_log > 0.99, "R^2 %g", r.r2_log);
    free(samples);
    free(starts);
    gsl_rng_free(rng);
}

/* Over 40 synthetic datasets, the 95 % bootstrap interval of alpha must cover the truth at
 * least 80 % of the time (the binomial sd of the rate at 95 % and 40 draws is 3.4 %; the
 * percentile bootstrap of a 48-point fit may under-cover a little; Huber-on-logs, close to
 * least absolute deviations here, tends to over-cover). It must also not be vacuous: its mean
 * width stays below 0.5 (observed: about 0.29 at this noise of 2 %). */
Test(fit_estimator, interval_coverage_near_nominal, .timeout = 120)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    int covered = 0, reps = 40;
    double width = 0;
    for (int rep = 0; rep < reps; rep++) {
        FitPoint pts[64];
        int n = chinchilla_data(pts, rng, 0.02);
        Law law;
        law_init(&law, "chinchilla", 0);
        law_set_centers(&law, pts, n);
        int n_starts;
        double *starts = chinchilla_starts(&law, &n_starts);
        EstimatorSettings set = estimator_defaults();
        set.n_boot = 40;
        set.seed = 100 + rep;
        FitResult r;
        char err[256];
        cr_assert_eq(estimator_fit(&law, pts, n, NULL, starts, n_starts, &set, &r, err, sizeof err), 0, "%s", err);
        double *samples, col[40], lo, hi;
        estimator_bootstrap(&law, pts, n, &r, starts, n_starts, &set, &samples);
        for (int b = 0; b < 40; b++) col[b] = samples[b * 5 + 3];
        estimator_percentile_interval(col, 40, 0.95, &lo, &hi);
        covered += lo <= 0.34 && 0.34 <= hi;
        width += (hi - lo) / reps;
        free(samples);
        free(starts);
    }
    gsl_rng_free(rng);
    cr_assert(covered >= 0.8 * reps, "alpha covered in %d of %d datasets", covered, reps);
    cr_assert(width < 0.5, "mean interval width %g: vacuous", width);
}

static const double dlcm_truth[11] = {1.7, 300.0, 40.0, 900.0, 0, 0, 0, 0.32, 0.25, 0.3, 0.27};

Test(fit_estimator, recovers_compression_aware_law, .timeout = 60)
{
    Law law;
    law_init(&law, "dlcm", 0);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    FitPoint pts[200];
    int n = 0;
    for (int i = 0; i < 4; i++)
        for (int q = 0; q < 3; q++)
            for (int r = 0; r < 3; r++)
                for (int d = 0; d < 3; d++) {
                    FitPoint p = {.N = 1e7 * pow(10.0, i / 2.0), .P = 0.25 + 0.25 * q, .R = 2 << r, .D = 1e9 * pow(10.0, d / 2.0)};
                    p.C = 6 * p.N * p.D;
                    p.loss = law_loss(&law, dlcm_truth, p.N, p.D, p.R, p.P, 0) * exp(0.005 * gsl_ran_gaussian(rng, 1));
                    pts[n++] = p;
                }
    for (int i = 0; i < 4; i++) { /* dense runs: no concept term */
        FitPoint p = {.N = 1e7 * pow(10.0, i / 2.0), .P = 0, .R = 1, .D = 3e9, .dense = 1};
        p.C = 6 * p.N * p.D;
        p.loss = law_loss(&law, dlcm_truth, p.N, p.D, 1, 0, 1) * exp(0.005 * gsl_ran_gaussian(rng, 1));
        pts[n++] = p;
    }
    law_set_centers(&law, pts, n);
    static const double natural[3][8] = {{0.3, 5, 3, 6, 0.3, 0.3, 0.2, 0.3}, {0.6, 6, 4, 7, 0.4, 0.2, 0.4, 0.25}, {0.0, 8, 8, 8, 0.5, 0.5, 0.0, 0.5}};
    double starts[3 * 8];
    for (int s = 0; s < 3; s++) law_theta_from_natural(&law, natural[s], starts + 8 * s);
    EstimatorSettings set = estimator_defaults();
    set.n_boot = 60;
    FitResult fit;
    char err[256];
    cr_assert_eq(estimator_fit(&law, pts, n, NULL, starts, 3, &set, &fit, err, sizeof err), 0, "%s", err);
    double *samples;
    cr_assert_eq(estimator_bootstrap(&law, pts, n, &fit, starts, 3, &set, &samples), set.n_boot);
    static const int checked[] = {0, 1, 2, 3, 7, 8, 9, 10};
    for (int c = 0; c < 8; c++) {
        int j = checked[c];
        double col[60], lo, hi;
        for (int b = 0; b < 60; b++) col[b] = samples[b * 11 + j];
        estimator_percentile_interval(col, 60, 0.95, &lo, &hi);
        cr_assert(lo <= dlcm_truth[j] && dlcm_truth[j] <= hi, "%s: truth %g outside [%g, %g] (estimate %g)",
                  law_coef_name(&law, j), dlcm_truth[j], lo, hi, fit.coef[j]);
    }
    free(samples);
    gsl_rng_free(rng);
}

Test(fit_estimator, leave_largest_budget_out_predicts_the_held_out_group)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    FitPoint pts[64];
    int n = chinchilla_data(pts, rng, 0.005);
    Law law;
    law_init(&law, "chinchilla", 0);
    law_set_centers(&law, pts, n);
    int n_starts;
    double *starts = chinchilla_starts(&law, &n_starts);
    EstimatorSettings set = estimator_defaults();
    LoboResult lobo;
    char err[256];
    cr_assert_eq(estimator_lobo(&law, pts, n, starts, n_starts, &set, &lobo, err, sizeof err), 0, "%s", err);
    cr_assert(lobo.available);
    cr_assert(lobo.n_held_out >= 1 && lobo.n_held_out < n);
    cr_assert(lobo.mae_log < 0.02, "held-out MAE(log L) %g", lobo.mae_log);
    /* One point held out (the grid's largest N and D alone): no interval from one point. */
    cr_assert_eq(lobo.n_held_out, 1);
    cr_assert(isnan(lobo.mae_log_lo) && isnan(lobo.mae_log_hi), "[%g, %g]", lobo.mae_log_lo, lobo.mae_log_hi);
    /* Six runs at the largest budget (other splits of the same C): the interval over resamples of
     * the held-out points brackets the error and has a width. */
    Law truth_law;
    law_init(&truth_law, "chinchilla", 0);
    FitPoint more[64 + 5];
    memcpy(more, pts, (size_t)n * sizeof *pts);
    for (int k = 1; k <= 5; k++) {
        FitPoint p = pts[n - 1];
        p.N /= pow(1.6, k);
        p.D *= pow(1.6, k);
        p.loss = law_loss(&truth_law, chinchilla_truth, p.N, p.D, 1, 0, 1) * exp(0.005 * gsl_ran_gaussian(rng, 1.0));
        more[n + k - 1] = p;
    }
    cr_assert_eq(estimator_lobo(&law, more, n + 5, starts, n_starts, &set, &lobo, err, sizeof err), 0, "%s", err);
    cr_assert_eq(lobo.n_held_out, 6);
    cr_assert(lobo.mae_log_lo <= lobo.mae_log && lobo.mae_log <= lobo.mae_log_hi && lobo.mae_log_lo < lobo.mae_log_hi,
              "MAE %g [%g, %g]", lobo.mae_log, lobo.mae_log_lo, lobo.mae_log_hi);
    free(starts);
    gsl_rng_free(rng);
}

Test(fit_decay, ols_recovers_exponents)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 9);
    DecayPoint pts[40];
    int n = 0;
    for (int i = 0; i < 40; i++) {
        DecayPoint p = {.L_stable = 2.5 + 1.5 * gsl_rng_uniform(rng), .R = 1 << (i % 4), .N = 1e7 * pow(10, (i % 5) / 2.0)};
        double delta = 0.05 * pow(p.L_stable, -0.8) * pow(p.R, 0.1) * pow(p.N, 0.05) * exp(0.01 * gsl_ran_gaussian(rng, 1));
        p.L_final = p.L_stable * (1 - delta);
        snprintf(p.id, sizeof p.id, "p%d", i);
        pts[n++] = p;
    }
    DecayFit fit;
    char err[256];
    /* A 99.9 % interval: a wrong estimator fails this, bad luck practically never. */
    cr_assert_eq(decay_fit(pts, n, 0.999, &fit, err, sizeof err), 0, "%s", err);
    const double truth[4] = {log(0.05), -0.8, 0.1, 0.05};
    for (int j = 0; j < 4; j++)
        cr_assert(fit.lo[j] <= truth[j] && truth[j] <= fit.hi[j], "coef %d: %g not in [%g, %g]", j, truth[j], fit.lo[j], fit.hi[j]);
    cr_assert(fit.r2 > 0.9);
    for (int i = 0; i < n; i++) pts[i].R = 4; /* one R: b is not identifiable */
    cr_assert_eq(decay_fit(pts, n, 0.95, &fit, err, sizeof err), -1);
    cr_assert(strstr(err, "degenerate"), "%s", err);
    gsl_rng_free(rng);
}

/* With V and T tiny, 3 F_fwd is 6 N to well under 1 %, so the query over solved shapes must
 * land on the closed-form Chinchilla optimum within its grid resolution (16 N per decade and
 * the discreteness of shapes: 20 %) and reach the closed form's loss within 0.1 %. */
Test(fit_allocate, matches_chinchilla_closed_form)
{
    Law law;
    law_init(&law, "chinchilla", 0);
    AllocSpace space = {.vocab = 2, .seq_len = 2};
    CandidateSet dense;
    char err[256];
    cr_assert_eq(allocate_candidates(&space, 1, &dense, err, sizeof err), 0, "%s", err);
    for (double C = 1e18; C <= 1e22; C *= 100) {
        Allocation a = allocate_best(&law, chinchilla_truth, &dense, C);
        double N_cf, D_cf;
        allocate_chinchilla_closed_form(chinchilla_truth, C, &N_cf, &D_cf);
        cr_assert(a.valid);
        cr_assert(fabs(log(a.N / N_cf)) < log(1.2), "C=%g: N %g vs closed form %g", C, a.N, N_cf);
        double L_cf = law_loss(&law, chinchilla_truth, N_cf, D_cf, 1, 0, 1);
        cr_assert(fabs(a.loss / L_cf - 1) < 1e-3, "C=%g: loss %g vs %g", C, a.loss, L_cf);
        cr_assert(fabs(3 * a.fwd_flops * a.D / C - 1) < 1e-9, "budget not met");
    }
    allocate_candidates_free(&dense);
}

Test(fit_allocate, constraints_are_respected)
{
    Law law;
    law_init(&law, "dlcm", 0);
    AllocSpace space = {.vocab = 4096, .seq_len = 256, .R_min = 2, .R_max = 8, .max_N = 5e7};
    CandidateSet set;
    char err[256];
    cr_assert_eq(allocate_candidates(&space, 0, &set, err, sizeof err), 0, "%s", err);
    Allocation a = allocate_best(&law, dlcm_truth, &set, 1e20);
    cr_assert(a.valid);
    cr_assert(a.N <= 5e7, "N %g over the cap", a.N);
    cr_assert(a.R >= 2 - 1e-9 && a.R <= 8 + 1e-9, "R %g outside the range", a.R);
    cr_assert(fabs(3 * a.fwd_flops * a.D / 1e20 - 1) < 1e-9);
    set.R_fixed = 4;
    set.max_fwd_flops = 0.9 * a.fwd_flops;
    Allocation b = allocate_best(&law, dlcm_truth, &set, 1e20);
    cr_assert(b.valid && b.R == 4 && b.fwd_flops <= 0.9 * a.fwd_flops);
    allocate_candidates_free(&set);
}

Test(fit_mup, optimum_slope_drift_and_edge)
{
    MupRun runs[128];
    int n = 0;
    for (int w = 128; w <= 1024; w *= 2)
        for (int e = -11; e <= -4; e++) {
            double opt = -7.3 - log2(w / 128.0); /* sp-like: one octave per doubling */
            MupRun r = {"sp", w, ldexp(1.0, e), 3.0 + 0.05 * (e - opt) * (e - opt)};
            runs[n++] = r;
        }
    MupTransfer t;
    char err[256];
    cr_assert_eq(mup_transfer(runs, n, "sp", &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.n_widths, 4);
    for (int k = 0; k < 4; k++) {
        cr_assert_float_eq(t.w[k].log2_lr_star, -7.3 - k, 1e-9, "an exact parabola's vertex: %g", t.w[k].log2_lr_star);
        cr_assert(!t.w[k].edge);
    }
    cr_assert_float_eq(t.slope, -1.0, 1e-9);
    cr_assert_float_eq(t.max_drift_steps, 3.0, 1e-9);
    cr_assert(t.w[2].regret > 0 && t.w[0].regret == 0);
    /* Width 2048's optimum (-11.3) lies beyond the grid: flagged, kept inside the grid. */
    for (int e = -11; e <= -4; e++) {
        MupRun r = {"sp", 2048, ldexp(1.0, e), 3.0 + 0.05 * (e + 11.3) * (e + 11.3)};
        runs[n++] = r;
    }
    cr_assert_eq(mup_transfer(runs, n, "sp", &t, err, sizeof err), 0, "%s", err);
    cr_assert(t.w[4].edge == -1 && t.w[4].log2_lr_star >= -11.0 - 1e-9);
}

Test(fit_points, drop_top_loss_keeps_input_order)
{
    FitData d = {0};
    const double losses[6] = {3.0, 5.0, 2.0, 4.0, 2.5, 6.0};
    for (int i = 0; i < 6; i++) {
        FitPoint p = {.N = 1e7 * (i + 1), .D = 1e9, .R = 1, .C = 6e16, .loss = losses[i], .dense = 1, .line = i + 2};
        cr_assert_eq(fit_data_push(&d, &p), 0);
    }
    fit_data_drop_top_loss(&d, 2);
    cr_assert_eq(d.n, 4);
    cr_assert_eq(d.dropped, 2);
    const double kept[4] = {3.0, 2.0, 4.0, 2.5};
    for (int i = 0; i < 4; i++) cr_assert_eq(d.pts[i].loss, kept[i], "point %d", i);
    fit_data_free(&d);
}
