/* tests/test_report_seed_noise.c: seed replicates (report/seed_noise.h) against values worked out
 * by hand: which runs are one shape, the shapes' means over their finished seeds, the pooled
 * seed-to-seed standard deviation and the band of a difference of means. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>

#include "report/seed_noise.h"

Test(report_seed_noise, pooled_over_groups_with_their_degrees_of_freedom)
{
    /* Group 7: 1, 3 (ss 2, df 1); group 2: 4, 6, 8 (ss 8, df 2); group 9: one run (no df). */
    double loss[6] = {1, 4, 3, 6, 8, 100};
    int group[6] = {7, 2, 7, 2, 2, 9};
    SeedNoise s = seed_noise_pooled(loss, group, 6);
    cr_assert_eq(s.groups, 2);
    cr_assert_eq(s.df, 3);
    cr_assert_float_eq(s.sd, sqrt(10.0 / 3), 1e-12);
    /* chi-square quantiles with 3 df: 0.2158 (2.5 %) and 9.348 (97.5 %) */
    cr_assert_float_eq(s.sd_lo, s.sd * sqrt(3 / 9.348404), 1e-5);
    cr_assert_float_eq(s.sd_hi, s.sd * sqrt(3 / 0.2157953), 1e-5);
}

Test(report_seed_noise, no_repeated_seed_gives_no_estimate_and_bad_values_are_skipped)
{
    double loss[3] = {1, NAN, 2};
    int group[3] = {0, 0, 1};
    SeedNoise s = seed_noise_pooled(loss, group, 3);
    cr_assert_eq(s.df, 0);
    cr_assert_eq(s.groups, 0);
    cr_assert(isnan(s.sd) && isnan(s.sd_lo) && isnan(s.sd_hi));
}

/* Six runs: shape A with seeds 0, 1, 2 (the third not finished), shape B (another parser) with
 * one seed, shape C (another P) with seeds 0 and 1, and a dense run without P. */
static void six_runs(ShapeKey *k, double *loss)
{
    ShapeKey a = {"sw", "dlcm", "mup", "global", 64, 128, 4e5, 0.5, 4, 0.002, 1e14, 1e7};
    for (int i = 0; i < 6; i++) k[i] = a;
    k[3].parser = "per_sequence";
    k[2].P = k[4].P = 0.3;
    k[5] = (ShapeKey){"sw", "dense", "mup", NULL, 64, -1, 4e5, NAN, 1, 0.002, 1e14, 1e7};
    double v[6] = {3.0, 3.2, 2.9, 3.5, 3.1, 4.0};
    for (int i = 0; i < 6; i++) loss[i] = v[i];
    /* run order: A0 A1 C0 B0 C1 dense; A's third seed is queued (no loss) */
}

Test(report_seed_noise, seeds_of_one_shape_are_grouped_and_averaged_over_the_finished_ones)
{
    ShapeKey k[7];
    double loss[7];
    six_runs(k, loss);
    k[6] = k[0];
    loss[6] = NAN; /* A's third seed: queued */
    int group[7];
    seed_shape_groups(k, 7, group);
    int want[7] = {0, 0, 2, 3, 2, 5, 0};
    for (int i = 0; i < 7; i++) cr_assert_eq(group[i], want[i], "run %d in group %d, not %d", i, group[i], want[i]);

    ShapeMean m[7];
    int n = seed_shape_means(k, loss, 7, m);
    cr_assert_eq(n, 4);
    /* A: 3 runs, 2 finished: mean 3.1, sd sqrt(0.02) */
    cr_assert_eq(m[0].first, 0);
    cr_assert_eq(m[0].runs, 3);
    cr_assert_eq(m[0].k, 2);
    cr_assert_float_eq(m[0].mean, 3.1, 1e-12);
    cr_assert_float_eq(m[0].sd, sqrt(0.02), 1e-12);
    cr_assert_float_eq(m[0].min, 3.0, 1e-12);
    cr_assert_float_eq(m[0].max, 3.2, 1e-12);
    /* C: 2.9 and 3.1 */
    cr_assert_eq(m[1].first, 2);
    cr_assert_eq(m[1].k, 2);
    cr_assert_float_eq(m[1].mean, 3.0, 1e-12);
    /* B: one seed, no sd */
    cr_assert_eq(m[2].first, 3);
    cr_assert_eq(m[2].k, 1);
    cr_assert(isnan(m[2].sd));
    /* The dense run (P NaN) is its own shape, and NaN equals NaN in a key. */
    cr_assert_eq(m[3].first, 5);
    cr_assert(seed_same_shape(&k[5], &k[5]));

    /* A shape none of whose seeds finished has no mean and no finished run. */
    double none[2] = {NAN, NAN};
    ShapeKey two[2] = {k[0], k[0]};
    cr_assert_eq(seed_shape_means(two, none, 2, m), 1);
    cr_assert_eq(m[0].k, 0);
    cr_assert_eq(m[0].runs, 2);
    cr_assert_eq(m[0].first_done, -1);
    cr_assert(isnan(m[0].mean));

    /* The pooled sd over the groups: A (3.0, 3.2) and C (2.9, 3.1): ss 0.04, df 2. */
    SeedNoise s = seed_noise_pooled(loss, group, 7);
    cr_assert_eq(s.groups, 2);
    cr_assert_eq(s.df, 2);
    cr_assert_float_eq(s.sd, sqrt(0.02), 1e-12);
}

Test(report_seed_noise, keys_differ_in_any_field_but_the_seed)
{
    ShapeKey a = {"sw", "dlcm", "mup", "global", 64, 128, 4e5, 0.5, 4, 0.002, 1e14, 1e7}, b;
    b = a; b.sweep = "other"; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.family = "dense"; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.parametrization = "sp"; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.parser = NULL; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.d_t = 128; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.d_c = 256; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.N = 4.01e5; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.P = NAN; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.R = 8; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.lr = 0.004; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.budget = 3e14; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.D = 2e7; cr_assert_not(seed_same_shape(&a, &b));
    b = a; b.N = 4e5 * (1 + 1e-12); cr_assert(seed_same_shape(&a, &b), "rounding is no other shape");
    /* NULL and "" are one text: a config without a parser line. */
    a.parser = NULL;
    b = a; b.parser = ""; cr_assert(seed_same_shape(&a, &b));
}

Test(report_seed_noise, the_parser_comes_from_the_config_and_the_band_from_the_seed_counts)
{
    char buf[32];
    seed_config_parser("model:\n  family: dlcm\n  parser: per_sequence   # thresholded\n", buf, sizeof buf);
    cr_assert_str_eq(buf, "per_sequence");
    seed_config_parser("model:\n  family: dlcm\n", buf, sizeof buf);
    cr_assert_str_eq(buf, "");
    seed_config_parser(NULL, buf, sizeof buf);
    cr_assert_str_eq(buf, "");
    /* Student's t quantiles (97.5 %): 12.706 at 1 df, 2.447 at 6, 1.990 at 80. */
    cr_assert_float_eq(seed_difference_band(0.02, 6, 1, 1), 2.446912 * sqrt(2.0) * 0.02, 1e-7);
    cr_assert_float_eq(seed_difference_band(0.02, 80, 2, 3), 1.990063 * 0.02 * sqrt(1 / 2.0 + 1 / 3.0), 1e-7);
    cr_assert_float_eq(seed_difference_band(1, 1, 1, 1), 12.7062 * sqrt(2.0), 1e-3);
    cr_assert(isnan(seed_difference_band(0.02, 6, 0, 1)));
    cr_assert(isnan(seed_difference_band(0.02, 0, 1, 1)), "no degrees of freedom, no band");
}

/* The interval of a difference of two shapes' means (2 and 3 seeds), with the sd pooled over the
 * study's shapes (12 shapes of 2 seeds besides: 13 degrees of freedom), covers the true difference
 * in 95 % of 4000 simulated studies; 1.96 in place of t would cover visibly less. */
Test(report_seed_noise, the_interval_of_a_difference_of_means_covers_the_truth_95_percent)
{
    enum { STUDIES = 4000, OTHERS = 12, RUNS = 5 + 2 * OTHERS };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    cr_assert(rng);
    gsl_rng_set(rng, 7);
    const double sd = 0.02, truth_a = 3.00, truth_b = 3.03;
    ShapeKey keys[RUNS];
    double loss[RUNS];
    int group[RUNS];
    ShapeMean m[RUNS];
    for (int i = 0; i < RUNS; i++) {
        /* runs 0-1: shape A; 2-4: shape B; then OTHERS shapes of 2 seeds */
        int shape = i < 2 ? 0 : i < 5 ? 1 : 2 + (i - 5) / 2;
        keys[i] = (ShapeKey){"sw", "dlcm", "mup", "", 64, 128, 1e5 * (shape + 1), 0.5, 4, 0.002, 1e14, 1e7};
    }
    seed_shape_groups(keys, RUNS, group);
    int covered = 0, covered_normal = 0;
    for (int s = 0; s < STUDIES; s++) {
        for (int i = 0; i < RUNS; i++) loss[i] = (i < 2 ? truth_a : i < 5 ? truth_b : 2.5) + gsl_ran_gaussian(rng, sd);
        cr_assert_eq(seed_shape_means(keys, loss, RUNS, m), 2 + OTHERS);
        cr_assert(m[0].k == 2 && m[1].k == 3);
        SeedNoise noise = seed_noise_pooled(loss, group, RUNS);
        cr_assert_eq(noise.df, 1 + 2 + OTHERS);
        double diff = m[0].mean - m[1].mean, band = seed_difference_band(noise.sd, noise.df, 2, 3);
        covered += fabs(diff - (truth_a - truth_b)) <= band;
        covered_normal += fabs(diff - (truth_a - truth_b)) <= 1.96 * noise.sd * sqrt(1 / 2.0 + 1 / 3.0);
    }
    gsl_rng_free(rng);
    double share = (double)covered / STUDIES, share_normal = (double)covered_normal / STUDIES;
    /* binomial sd of the share: 0.34 % */
    cr_assert(share > 0.94 && share < 0.96, "coverage %.3f", share);
    cr_assert(share_normal < share - 0.01, "1.96 covers %.3f, t %.3f", share_normal, share);
}
