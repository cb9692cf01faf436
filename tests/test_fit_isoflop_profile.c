/* tests/test_fit_isoflop_profile.c: the law-free isoFLOP profile (fit/isoflop_profile.h) on
 * synthetic losses from a known parabola in ln N per budget whose vertex follows N* = G C^0.5:
 * the vertices and the exponent come back inside their intervals, and a profile that cannot
 * locate an optimum (one-sided sizes, 3 runs, a concave profile) never says it did. Points that
 * are means of several seeds weigh as that many runs, cover the truth with narrower intervals,
 * and one seed each is exactly the unweighted profile. */
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
    ProfileNoise tiny = {1e-6, 6, NULL, 0}, large = {0.02, 6, NULL, 0};
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

    /* A budget's own noise replaces the pooled one there and nowhere else. */
    ProfilePoint two[16];
    int m = add_budget(two, 1e16, seven, 7, +1, 0.002, &state);
    m += add_budget(two + m, 1e17, seven, 7, +1, 0.002, &state);
    ProfileBudgetNoise own = {1.01e17, 0.02, 12}; /* within 2 % of 1e17: that budget */
    ProfileNoise pooled_tiny = {1e-6, 6, &own, 1};
    ProfileResult mixed;
    cr_assert_eq(isoflop_profile(two, m, 2000, 8, &pooled_tiny, &mixed, err, sizeof err), 0, "%s", err);
    cr_assert_eq(mixed.n_budgets, 2);
    cr_assert_not(mixed.budgets[0].noise_outside, "1e16 has no noise of its own: the pooled, below its scatter");
    cr_assert(mixed.budgets[1].noise_outside, "1e17 uses its own");
    cr_assert_float_eq(mixed.budgets[1].noise_sd, 0.02, 1e-12);
    cr_assert_eq(mixed.budgets[1].noise_dof, 12);
    isoflop_profile_free(&mixed);

    /* 3 runs have no residual, but a measured seed noise gives them an interval. */
    const double three[3] = {-1.0, 0.1, 1.0};
    add_budget(pts, 1e16, three, 3, +1, 0.002, &state);
    ProfileNoise modest = {0.002, 6, NULL, 0};
    cr_assert_eq(isoflop_profile(pts, 3, 2000, 8, &modest, &seeds, err, sizeof err), 0, "%s", err);
    const ProfileBudget *b = &seeds.budgets[0];
    cr_assert(b->noise_outside && b->has_interval, "%s", b->why);
    double truth = exp(true_log_n(1e16));
    cr_assert(b->N_lo <= truth && truth <= b->N_hi, "truth %g outside [%g, %g]", truth, b->N_lo, b->N_hi);
    isoflop_profile_free(&seeds);
}

/* ---- points that are means of several seeds (isoflop_profile_seeds) ------------------------ */

/* A standard normal draw from the deterministic generator (Box-Muller). */
static double gaussian(unsigned *state)
{
    double u = (jitter(state) + 1.0001) / 2.0002, v = (jitter(state) + 1) / 2;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

Test(fit_isoflop_profile, one_seed_each_is_exactly_the_unweighted_profile)
{
    ProfilePoint pts[64];
    int ones[64], n = 0;
    unsigned state = 17;
    const double budgets[4] = {1e14, 1e15, 1e16, 1e17};
    for (int b = 0; b < 4; b++) n += add_budget(pts + n, budgets[b], seven, 7, +1, 0.003, &state);
    for (int i = 0; i < n; i++) ones[i] = 1;
    ProfileResult plain, seeded, null_seeds;
    char err[256];
    ProfileNoise noise = {0.002, 6, NULL, 0};
    cr_assert_eq(isoflop_profile(pts, n, 1000, 3, &noise, &plain, err, sizeof err), 0, "%s", err);
    cr_assert_eq(isoflop_profile_seeds(pts, ones, n, 1000, 3, &noise, &seeded, err, sizeof err), 0, "%s", err);
    cr_assert_eq(isoflop_profile_seeds(pts, NULL, n, 1000, 3, &noise, &null_seeds, err, sizeof err), 0, "%s", err);
    for (int b = 0; b < 4; b++) {
        const ProfileBudget *p = &plain.budgets[b], *s = &seeded.budgets[b];
        /* Bit for bit: the same arithmetic, not merely close. */
        cr_assert(p->a == s->a && p->b == s->b && p->c == s->c && p->resid_sd == s->resid_sd);
        cr_assert(p->N_lo == s->N_lo && p->N_hi == s->N_hi && p->share_inside == s->share_inside);
        cr_assert(null_seeds.budgets[b].N_hi == p->N_hi);
        cr_assert_eq(s->n_points, 7);
        cr_assert_eq(s->n_runs, 7);
        cr_assert(s->seeds_min == 1 && s->seeds_max == 1 && s->best_seeds == 1);
    }
    cr_assert(plain.N.slope_lo == seeded.N.slope_lo && plain.N.slope_hi == seeded.N.slope_hi);
    isoflop_profile_free(&plain);
    isoflop_profile_free(&seeded);
    isoflop_profile_free(&null_seeds);
}

Test(fit_isoflop_profile, a_mean_of_k_seeds_weighs_as_much_as_k_runs)
{
    /* Seven points with 1-3 seeds against the same points written out k times each: the same
     * quadratic and the same residual sum of squares (only the degrees of freedom differ). */
    ProfilePoint pts[8], dup[32];
    int seeds[7] = {1, 3, 2, 3, 1, 2, 3}, n_dup = 0;
    unsigned state = 19;
    add_budget(pts, 1e16, seven, 7, +1, 0.004, &state);
    for (int i = 0; i < 7; i++)
        for (int k = 0; k < seeds[i]; k++) dup[n_dup++] = pts[i];
    ProfileResult w, d;
    char err[256];
    cr_assert_eq(isoflop_profile_seeds(pts, seeds, 7, 500, 4, NULL, &w, err, sizeof err), 0, "%s", err);
    cr_assert_eq(isoflop_profile(dup, n_dup, 500, 4, NULL, &d, err, sizeof err), 0, "%s", err);
    const ProfileBudget *a = &w.budgets[0], *b = &d.budgets[0];
    /* The centre of ln N differs (points against runs), so compare the fitted curves. */
    for (double x = log(pts[0].N); x <= log(pts[6].N); x += 0.5) {
        double ya = a->a + a->b * (x - a->x_center) + a->c * (x - a->x_center) * (x - a->x_center);
        double yb = b->a + b->b * (x - b->x_center) + b->c * (x - b->x_center) * (x - b->x_center);
        cr_assert_float_eq(ya, yb, 1e-12, "at ln N %g: %g and %g", x, ya, yb);
    }
    cr_assert_float_eq(a->c, b->c, 1e-12);
    cr_assert_float_eq(a->N_opt, b->N_opt, 1e-9 * b->N_opt);
    cr_assert_eq(a->n_points, 7);
    cr_assert_eq(a->n_runs, n_dup);
    cr_assert_eq(a->dof, 4);
    cr_assert_eq(b->dof, n_dup - 3);
    cr_assert_float_eq(a->resid_sd * a->resid_sd * a->dof, b->resid_sd * b->resid_sd * b->dof, 1e-15);
    cr_assert(a->seeds_min == 1 && a->seeds_max == 3);
    isoflop_profile_free(&w);
    isoflop_profile_free(&d);

    /* A point is the mean of at least one run. */
    seeds[4] = 0;
    cr_assert_eq(isoflop_profile_seeds(pts, seeds, 7, 500, 4, NULL, &w, err, sizeof err), -1);
    cr_assert(strstr(err, "point 4") && strstr(err, "0 seeds"), "%s", err);
    cr_assert_null(w.budgets);
}

/* Three seeds of every shape at 5 budgets, run noise sd 0.01 (the study's is about 0.02): the
 * vertices from the shapes' means cover the truth with intervals about 1/sqrt(3) as wide as from
 * one seed of each; two shapes whose third seed did not finish are means of two. */
Test(fit_isoflop_profile, means_of_three_seeds_cover_the_truth_with_narrower_intervals)
{
    enum { SEEDS = 3, SIZES = 7, BUDGETS = 5 };
    const double budgets[BUDGETS] = {1e14, 1e15, 1e16, 1e17, 1e18}, sd = 0.01;
    ProfilePoint one[BUDGETS * SIZES], mean[BUDGETS * SIZES];
    int k[BUDGETS * SIZES];
    unsigned state = 23;
    int n = 0;
    for (int b = 0; b < BUDGETS; b++) {
        n += add_budget(one + n, budgets[b], seven, SIZES, +1, 0, &state);
    }
    for (int i = 0; i < n; i++) {
        double runs[SEEDS], truth = one[i].loss;
        for (int s = 0; s < SEEDS; s++) runs[s] = truth + sd * gaussian(&state);
        /* Shape 9 and 24 lost their third seed (queued, or failed). */
        k[i] = i == 9 || i == 24 ? 2 : SEEDS;
        mean[i] = one[i];
        mean[i].loss = 0;
        for (int s = 0; s < k[i]; s++) mean[i].loss += runs[s] / k[i];
        one[i].loss = runs[0];
    }
    /* The seed noise as the study measures it: known here, with many degrees of freedom. */
    ProfileNoise noise = {sd, 60, NULL, 0};
    ProfileResult r1, r3;
    char err[256];
    cr_assert_eq(isoflop_profile(one, n, PROFILE_DRAWS, 5, &noise, &r1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(isoflop_profile_seeds(mean, k, n, PROFILE_DRAWS, 5, &noise, &r3, err, sizeof err), 0, "%s", err);
    double ratio_sum = 0;
    int same_noise = 0;
    for (int b = 0; b < BUDGETS; b++) {
        const ProfileBudget *p1 = &r1.budgets[b], *p3 = &r3.budgets[b];
        double truth = exp(true_log_n(budgets[b]));
        cr_assert_eq(p3->status, PROFILE_LOCATED, "C = %g: %s", budgets[b], p3->why);
        cr_assert(p3->N_lo <= truth && truth <= p3->N_hi, "C = %g: truth %g outside [%g, %g] (3 seeds)", budgets[b],
                  truth, p3->N_lo, p3->N_hi);
        cr_assert(p1->N_lo <= truth && truth <= p1->N_hi, "C = %g: truth %g outside [%g, %g] (1 seed)", budgets[b],
                  truth, p1->N_lo, p1->N_hi);
        double w1 = log(p1->N_hi / p1->N_lo), w3 = log(p3->N_hi / p3->N_lo);
        cr_assert(w3 < w1, "C = %g: widths %g (3 seeds) and %g (1 seed)", budgets[b], w3, w1);
        ratio_sum += log(w3 / w1);
        /* Where both draw with the same (outside) noise, only the points' variance differs: a mean
         * of 3 seeds has 1/3 of one run's, so the interval is 1/sqrt(3) = 0.58 as wide. */
        if (p1->noise_outside && p3->noise_outside) {
            cr_assert(w3 / w1 > 0.5 && w3 / w1 < 0.66, "C = %g: width ratio %g with one noise", budgets[b], w3 / w1);
            same_noise++;
        }
        cr_assert_eq(p3->n_points, SIZES);
        cr_assert_eq(p3->n_runs, b == 1 || b == 3 ? SIZES * SEEDS - 1 : SIZES * SEEDS);
        cr_assert_eq(p3->seeds_min, b == 1 || b == 3 ? 2 : 3);
        cr_assert_eq(p3->seeds_max, 3);
    }
    cr_assert(same_noise >= 1, "no budget to compare at one noise");
    /* Elsewhere each draws with its own residual sd (4 degrees of freedom): narrower still, by
     * about 1/sqrt(3) in the geometric mean over the budgets. */
    double ratio = exp(ratio_sum / BUDGETS);
    cr_assert(ratio > 0.3 && ratio < 0.75, "geometric mean width ratio %g", ratio);
    cr_assert(r3.N.available);
    cr_assert(r3.N.slope_lo <= EXPONENT && EXPONENT <= r3.N.slope_hi, "[%g, %g]", r3.N.slope_lo, r3.N.slope_hi);
    isoflop_profile_free(&r1);
    isoflop_profile_free(&r3);
}
