/* tests/test_fit_isoflop_profile.c: the law-free isoFLOP profile (fit/isoflop_profile.h) on
 * synthetic losses from a known parabola in ln N per budget whose vertex follows N* = G C^0.5:
 * the vertices and the exponent come back inside their intervals, and a profile that cannot
 * locate an optimum (one-sided sizes, 3 runs, a concave profile) never says it did. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "fit/isoflop_profile.h"

static const double G = 0.1, EXPONENT = 0.5, CURVATURE = 0.05;

static double true_log_n(double C) { return log(G) + EXPONENT * log(C); }

/* Deterministic noise in [-1, 1]. */
static double jitter(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return ((*state >> 9) % 20001) / 10000.0 - 1.0;
}

/* Runs at budget C at ln N* + offsets[i], loss = A(C) + sign * CURVATURE (ln N - ln N*)^2 plus
 * noise of the given amplitude; training FLOPs per token 6 N. Returns the count added. */
static int add_budget(ProfilePoint *p, double C, const double *offsets, int n, double sign, double noise,
                      unsigned *state)
{
    double x0 = true_log_n(C), floor_loss = 10 * pow(C, -0.05);
    for (int i = 0; i < n; i++) {
        double x = x0 + offsets[i];
        p[i].C = C;
        p[i].N = exp(x);
        p[i].loss = floor_loss + sign * CURVATURE * offsets[i] * offsets[i] + noise * jitter(state);
        p[i].train_flops_per_token = 6 * p[i].N;
    }
    return n;
}

static const double seven[7] = {-1.6, -1.1, -0.6, -0.1, 0.4, 0.9, 1.4};

Test(fit_isoflop_profile, a_known_vertex_and_exponent_come_back_inside_their_intervals)
{
    ProfilePoint pts[64];
    int n = 0;
    unsigned state = 3;
    const double budgets[5] = {1e14, 1e15, 1e16, 1e17, 1e18};
    for (int b = 0; b < 5; b++) n += add_budget(pts + n, budgets[b], seven, 7, +1, 0.002, &state);
    ProfileResult r;
    char err[256];
    cr_assert_eq(isoflop_profile(pts, n, PROFILE_DRAWS, 1, NULL, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.n_budgets, 5);
    for (int b = 0; b < 5; b++) {
        const ProfileBudget *pb = &r.budgets[b];
        double truth = exp(true_log_n(budgets[b]));
        cr_assert_float_eq(pb->C, budgets[b], 1e-6 * budgets[b]);
        cr_assert_eq(pb->n_sizes, 7);
        cr_assert_eq(pb->status, PROFILE_LOCATED, "budget %g: %s", pb->C, pb->why);
        cr_assert(fabs(log(pb->N_opt / truth)) < 0.05, "N_opt %g, truth %g", pb->N_opt, truth);
        cr_assert(pb->N_lo <= truth && truth <= pb->N_hi, "truth %g outside [%g, %g]", truth, pb->N_lo, pb->N_hi);
        cr_assert(pb->N_hi / pb->N_lo < 1.5, "an interval [%g, %g] too wide to test anything", pb->N_lo, pb->N_hi);
        double d_truth = budgets[b] / (6 * truth);
        cr_assert(fabs(log(pb->D_opt / d_truth)) < 0.05, "D_opt %g, truth %g", pb->D_opt, d_truth);
        cr_assert(pb->D_lo <= d_truth && d_truth <= pb->D_hi);
        cr_assert(pb->share_inside >= PROFILE_MIN_INSIDE);
    }
    cr_assert_eq(r.n_used, 5);
    cr_assert(r.N.available && r.D.available);
    cr_assert(fabs(r.N.slope - EXPONENT) < 0.02, "alpha_N %g", r.N.slope);
    cr_assert(r.N.slope_lo <= EXPONENT && EXPONENT <= r.N.slope_hi, "0.5 outside [%g, %g]", r.N.slope_lo, r.N.slope_hi);
    cr_assert(r.N.slope_hi - r.N.slope_lo < 0.1, "[%g, %g]", r.N.slope_lo, r.N.slope_hi);
    cr_assert_float_eq(r.N.intercept, log(G), 0.3);
    cr_assert(r.D.slope_lo <= 1 - EXPONENT && 1 - EXPONENT <= r.D.slope_hi, "[%g, %g]", r.D.slope_lo, r.D.slope_hi);
    cr_assert(r.N.replicates > PROFILE_DRAWS * 0.9);

    /* Seeded: the same runs give the same numbers. */
    ProfileResult again;
    cr_assert_eq(isoflop_profile(pts, n, PROFILE_DRAWS, 1, NULL, &again, err, sizeof err), 0, "%s", err);
    cr_assert_eq(again.N.slope_lo, r.N.slope_lo);
    cr_assert_eq(again.budgets[2].N_hi, r.budgets[2].N_hi);
    isoflop_profile_free(&again);
    isoflop_profile_free(&r);
}

Test(fit_isoflop_profile, sizes_all_on_one_side_are_a_bound_never_an_optimum)
{
    const double below[6] = {-3.0, -2.6, -2.2, -1.8, -1.4, -1.0}, above[6] = {1.0, 1.4, 1.8, 2.2, 2.6, 3.0};
    for (int side = 0; side < 2; side++) {
        ProfilePoint pts[8];
        unsigned state = 5;
        int n = add_budget(pts, 1e16, side ? above : below, 6, +1, 0.002, &state);
        ProfileResult r;
        char err[256];
        cr_assert_eq(isoflop_profile(pts, n, 1000, 2, NULL, &r, err, sizeof err), 0, "%s", err);
        cr_assert_eq(r.budgets[0].status, PROFILE_AT_EDGE, "%s", r.budgets[0].why);
        cr_assert_eq(r.budgets[0].edge_side, side ? -1 : +1, "sizes %s the optimum", side ? "above" : "below");
        cr_assert(r.budgets[0].best_at_end, "%s", r.budgets[0].why);
        cr_assert_eq(r.n_used, 0);
        cr_assert_not(r.N.available);
        isoflop_profile_free(&r);
    }
}

Test(fit_isoflop_profile, three_runs_have_no_interval)
{
    const double three[3] = {-1.0, 0.1, 1.0};
    ProfilePoint pts[3];
    unsigned state = 7;
    add_budget(pts, 1e16, three, 3, +1, 0.002, &state);
    ProfileResult r;
    char err[256];
    cr_assert_eq(isoflop_profile(pts, 3, 1000, 3, NULL, &r, err, sizeof err), 0, "%s", err);
    const ProfileBudget *b = &r.budgets[0];
    cr_assert(b->has_vertex);
    cr_assert(isfinite(b->N_opt));
    cr_assert_eq(b->dof, 0);
    cr_assert_not(b->has_interval);
    cr_assert(isnan(b->N_lo) && isnan(b->N_hi));
    cr_assert_eq(b->status, PROFILE_NOT_LOCATED);
    cr_assert(strstr(b->why, "cannot be computed"), "%s", b->why);
    isoflop_profile_free(&r);
}

Test(fit_isoflop_profile, a_concave_profile_is_not_located)
{
    ProfilePoint pts[8];
    unsigned state = 9;
    int n = add_budget(pts, 1e16, seven, 7, -1, 0.002, &state);
    ProfileResult r;
    char err[256];
    cr_assert_eq(isoflop_profile(pts, n, 1000, 4, NULL, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.budgets[0].status, PROFILE_NOT_LOCATED, "%s", r.budgets[0].why);
    cr_assert_not(r.budgets[0].has_vertex);
    cr_assert(isnan(r.budgets[0].N_opt));
    cr_assert(r.budgets[0].share_vertex < 0.05, "%g of the draws open upwards", r.budgets[0].share_vertex);
    isoflop_profile_free(&r);
}

Test(fit_isoflop_profile, too_few_sizes_or_located_budgets_say_so)
{
    /* Two sizes at one budget (runs of one size repeated count once); two good budgets besides:
     * too few located budgets for an exponent. */
    ProfilePoint pts[32];
    unsigned state = 11;
    const double two[4] = {-0.5, -0.5, 0.5, 0.5};
    int n = add_budget(pts, 1e14, two, 4, +1, 0.002, &state);
    n += add_budget(pts + n, 1e15, seven, 7, +1, 0.002, &state);
    n += add_budget(pts + n, 1e16, seven, 7, +1, 0.002, &state);
    ProfileResult r;
    char err[256];
    cr_assert_eq(isoflop_profile(pts, n, 1000, 5, NULL, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.n_budgets, 3);
    cr_assert_eq(r.budgets[0].n_sizes, 2);
    cr_assert_eq(r.budgets[0].status, PROFILE_NOT_LOCATED);
    cr_assert(strstr(r.budgets[0].why, "2 sizes"), "%s", r.budgets[0].why);
    cr_assert_eq(r.n_used, 2);
    cr_assert_not(r.N.available);
    cr_assert_not(r.D.available);
    cr_assert(isnan(r.N.slope));
    isoflop_profile_free(&r);
}

Test(fit_isoflop_profile, budgets_within_two_percent_are_one_and_bad_values_are_refused)
{
    ProfilePoint pts[16];
    unsigned state = 13;
    int n = add_budget(pts, 1e16, seven, 7, +1, 0.002, &state);
    pts[2].C = 1.004e16; /* a partner run planned by its own FLOPs */
    pts[5].C = 0.997e16;
    ProfileResult r;
    char err[256];
    cr_assert_eq(isoflop_profile(pts, n, 500, 6, NULL, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.n_budgets, 1);
    cr_assert_eq(r.budgets[0].n_runs, 7);
    isoflop_profile_free(&r);
    cr_assert(isoflop_same_budget(3e13, 29909720236032.0));
    cr_assert_not(isoflop_same_budget(1e14, 1.05e14));

    pts[4].train_flops_per_token = NAN;
    cr_assert_eq(isoflop_profile(pts, n, 500, 6, NULL, &r, err, sizeof err), -1);
    cr_assert(strstr(err, "point 4") && strstr(err, "training FLOPs per token"), "%s", err);
    cr_assert_null(r.budgets);
    pts[4].train_flops_per_token = 1e7;
    pts[1].N = -1;
    cr_assert_eq(isoflop_profile(pts, n, 500, 6, NULL, &r, err, sizeof err), -1);
    cr_assert(strstr(err, "point 1: N"), "%s", err);
}

Test(fit_isoflop_profile, a_larger_seed_noise_widens_the_interval_and_gives_three_runs_one)
{
    ProfilePoint pts[8];
    unsigned state = 15;
    int n = add_budget(pts, 1e16, seven, 7, +1, 0.002, &state);
    ProfileResult plain, small, seeds;
    char err[256];
    ProfileNoise tiny = {1e-6, 6}, large = {0.02, 6};
    cr_assert_eq(isoflop_profile(pts, n, 2000, 8, NULL, &plain, err, sizeof err), 0, "%s", err);
    cr_assert_eq(isoflop_profile(pts, n, 2000, 8, &tiny, &small, err, sizeof err), 0, "%s", err);
    cr_assert_eq(isoflop_profile(pts, n, 2000, 8, &large, &seeds, err, sizeof err), 0, "%s", err);
    cr_assert_not(small.budgets[0].noise_outside, "a seed noise below the scatter changes nothing");
    cr_assert_eq(small.budgets[0].N_hi, plain.budgets[0].N_hi);
    cr_assert(seeds.budgets[0].noise_outside);
    cr_assert_float_eq(seeds.budgets[0].noise_sd, 0.02, 1e-12);
    double w_plain = log(plain.budgets[0].N_hi / plain.budgets[0].N_lo);
    double w_seeds = log(seeds.budgets[0].N_hi / seeds.budgets[0].N_lo);
    cr_assert(w_seeds > 2 * w_plain, "widths %g and %g", w_plain, w_seeds);
    isoflop_profile_free(&plain);
    isoflop_profile_free(&small);
    isoflop_profile_free(&seeds);

    /* 3 runs have no residual, but a measured seed noise gives them an interval. */
    const double three[3] = {-1.0, 0.1, 1.0};
    add_budget(pts, 1e16, three, 3, +1, 0.002, &state);
    ProfileNoise modest = {0.002, 6};
    cr_assert_eq(isoflop_profile(pts, 3, 2000, 8, &modest, &seeds, err, sizeof err), 0, "%s", err);
    const ProfileBudget *b = &seeds.budgets[0];
    cr_assert(b->noise_outside && b->has_interval, "%s", b->why);
    double truth = exp(true_log_n(1e16));
    cr_assert(b->N_lo <= truth && truth <= b->N_hi, "truth %g outside [%g, %g]", truth, b->N_lo, b->N_hi);
    isoflop_profile_free(&seeds);
}
