/* tests/test_sweep_config.c: the sweep file reader: the shipped sweeps load and plan, and every
 * kind of bad input (unknown key, bad type, impossible shape, budget too small or not matchable)
 * is an error naming the file, the line and the key. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sweep/config.h"
#include "sweep/plan.h"

static SweepSpec spec; /* large: kept off the stack */

/* A valid sweep; tests change one line of it. Line numbers matter to the checks below. */
static const char base_yaml[] =
    "name: t\n"                 /* 1 */
    "vocab: 256\n"              /* 2 */
    "seq_len: 16\n"             /* 3 */
    "batch_tokens: 64\n"        /* 4 */
    "budgets: [1e10]\n"         /* 5 */
    "lr: 0.01\n"                /* 6 */
    "families:\n"               /* 7 */
    "  - family: dense\n"       /* 8 */
    "    d_t: [64, 128]\n"      /* 9 */
    "    n_layers: 2\n"         /* 10 */
    "  - family: dlcm\n"        /* 11 */
    "    d_t: 64\n"             /* 12 */
    "    d_c: 128\n"            /* 13 */
    "    n_enc: 1\n"            /* 14 */
    "    n_con: 2\n"            /* 15 */
    "    n_dec: 1\n"            /* 16 */
    "    R: [2, 4]\n";          /* 17 */

/* base_yaml with line `line` (1-based) replaced by `text` (which ends in a newline). */
static void with_line(char *out, size_t n, int line, const char *text)
{
    const char *p = base_yaml;
    size_t used = 0;
    for (int l = 1; *p; l++) {
        const char *end = strchr(p, '\n') + 1;
        const char *piece = l == line ? text : p;
        size_t len = l == line ? strlen(text) : (size_t)(end - p);
        cr_assert(used + len < n);
        memcpy(out + used, piece, len);
        used += len;
        p = end;
    }
    out[used] = '\0';
}

/* Expects the text to be rejected with "file:LINE: KEY: ..." holding `detail`. */
static void expect_error(const char *yaml, int line, const char *key, const char *detail)
{
    char err[1024], prefix[128];
    int rc = sweep_config_parse(yaml, strlen(yaml), "bad.yaml", &spec, err, sizeof err);
    if (rc == 0) {
        SweepPlan plan;
        rc = sweep_plan(&spec, &plan, err, sizeof err);
        if (rc == 0) sweep_plan_free(&plan);
    }
    cr_assert_eq(rc, -1, "accepted bad input:\n%s", yaml);
    snprintf(prefix, sizeof prefix, "bad.yaml:%d: %s: ", line, key);
    cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "expected '%s...', got '%s'", prefix, err);
    cr_assert(strstr(err, detail) != NULL, "expected '%s' in '%s'", detail, err);
}

Test(sweep_config, base_is_valid_and_plans)
{
    char err[1024];
    cr_assert_eq(sweep_config_parse(base_yaml, strlen(base_yaml), "ok.yaml", &spec, err, sizeof err), 0, "%s", err);
    cr_assert_eq(spec.n_families, 2);
    cr_assert_eq(spec.seed.n, 1, "one seed by default");
    SweepPlan plan;
    cr_assert_eq(sweep_plan(&spec, &plan, err, sizeof err), 0, "%s", err);
    cr_assert_eq(plan.n, 4, "2 dense widths + 2 dlcm ratios at one budget");
    sweep_plan_free(&plan);
}

Test(sweep_config, unknown_keys_name_file_line_key)
{
    char yaml[4096];
    with_line(yaml, sizeof yaml, 6, "learning_rate: 0.01\n");
    expect_error(yaml, 6, "learning_rate", "unknown key");
    with_line(yaml, sizeof yaml, 10, "    n_layer: 2\n");
    expect_error(yaml, 10, "n_layer", "unknown key");
    with_line(yaml, sizeof yaml, 6, "lr: 0.01\nlr: 0.02\n");
    expect_error(yaml, 7, "lr", "given twice");
    with_line(yaml, sizeof yaml, 10, "    n_layers: 2\n    d_t: 64\n");
    expect_error(yaml, 11, "d_t", "given twice");
}

Test(sweep_config, bad_types)
{
    char yaml[4096];
    with_line(yaml, sizeof yaml, 2, "vocab: lots\n");
    expect_error(yaml, 2, "vocab", "expected a number");
    with_line(yaml, sizeof yaml, 10, "    n_layers: 2.5\n");
    expect_error(yaml, 10, "n_layers", "expected an integer");
    with_line(yaml, sizeof yaml, 5, "budgets: {a: 1}\n");
    expect_error(yaml, 5, "budgets", "got a mapping");
    with_line(yaml, sizeof yaml, 8, "  - family: moe\n");
    expect_error(yaml, 8, "family", "expected dense or dlcm");
}

Test(sweep_config, impossible_shapes)
{
    char yaml[4096];
    with_line(yaml, sizeof yaml, 9, "    d_t: [64, 100]\n");
    expect_error(yaml, 9, "d_t", "multiple of 64");
    with_line(yaml, sizeof yaml, 13, "    d_c: 96\n");
    expect_error(yaml, 13, "d_c", "multiple of 64");
    with_line(yaml, sizeof yaml, 17, "    R: [0.5]\n");
    expect_error(yaml, 17, "R", "must be >= 1");
    with_line(yaml, sizeof yaml, 15, "    n_con: 0\n");
    expect_error(yaml, 15, "n_con", "depth");
    with_line(yaml, sizeof yaml, 4, "batch_tokens: 70\n");
    expect_error(yaml, 1, "batch_tokens", "not a multiple of seq_len");
    /* A key of the other family. */
    with_line(yaml, sizeof yaml, 10, "    R: 2\n");
    expect_error(yaml, 10, "R", "not a key of family dense");
}

Test(sweep_config, budget_too_small_for_one_step)
{
    char yaml[4096];
    with_line(yaml, sizeof yaml, 5, "budgets: [1e10, 1e3]\n");
    expect_error(yaml, 5, "budgets", "too small for one optimizer step");
}

Test(sweep_config, budget_not_matchable_within_one_percent)
{
    /* The dense d=64 L=2 model costs ~3.9e5 FLOPs per token; 64-token steps cost ~2.5e7, so a
     * budget of 1.5 steps cannot land within 1 %. */
    char yaml[4096], err[1024];
    cr_assert_eq(sweep_config_parse(base_yaml, strlen(base_yaml), "x.yaml", &spec, err, sizeof err), 0);
    ModelShape s = {.family = FAMILY_DENSE, .vocab = 256, .seq_len = 16, .d_t = 64, .n_layers = 2};
    double step_cost = shape_train_flops_per_token(&s, 1) * 64;
    snprintf(yaml, sizeof yaml, "budgets: [%.6g]\n", 1.5 * step_cost);
    char full[4096];
    with_line(full, sizeof full, 5, yaml);
    expect_error(full, 5, "budgets", "cannot be matched within 1%");
}

Test(sweep_config, missing_and_conflicting_keys)
{
    char yaml[4096];
    with_line(yaml, sizeof yaml, 6, "seed: [0, 1]\n"); /* no lr anywhere */
    expect_error(yaml, 8, "lr", "missing");
    with_line(yaml, sizeof yaml, 5, "tokens: 0\n");
    expect_error(yaml, 5, "tokens", "must be positive");
    with_line(yaml, sizeof yaml, 12, "    N: 1e6\n"); /* N with explicit widths */
    expect_error(yaml, 13, "d_c", "not both");
    const char *syntax = "name: t\nvocab: [1, 2\n";
    expect_error(syntax, 3, "(syntax)", "");
}

/* One family past the most a sweep holds is refused with that number (a study's files come
 * near it: each shape of a size ladder is its own family). */
Test(sweep_config, too_many_families_are_refused_with_the_limit)
{
    static char yaml[64 * 1024];
    size_t used = (size_t)snprintf(yaml, sizeof yaml, "name: t\nvocab: 256\nseq_len: 16\nbatch_tokens: 64\n"
                                                      "budgets: [1e10]\nlr: 0.01\nfamilies:\n");
    for (int i = 0; i <= SWEEP_MAX_FAMILIES; i++)
        used += (size_t)snprintf(yaml + used, sizeof yaml - used, "  - {family: dense, d_t: 64, n_layers: %d}\n", 1 + i % 4);
    cr_assert_lt(used, sizeof yaml - 1);
    char detail[64];
    snprintf(detail, sizeof detail, "more than %d families", SWEEP_MAX_FAMILIES);
    expect_error(yaml, 8, "families", detail);
}

Test(sweep_config, unreadable_file_is_named)
{
    char err[512];
    cr_assert_eq(sweep_config_load("/nonexistent/sweep.yaml", &spec, err, sizeof err), -1);
    cr_assert(strstr(err, "/nonexistent/sweep.yaml") != NULL, "%s", err);
}

/* Loads and plans a shipped sweep file. */
static SweepPlan load_shipped(const char *path)
{
    char err[1024];
    cr_assert_eq(sweep_config_load(path, &spec, err, sizeof err), 0, "%s", err);
    SweepPlan plan;
    cr_assert_eq(sweep_plan(&spec, &plan, err, sizeof err), 0, "%s", err);
    return plan;
}

Test(sweep_config, shipped_dlcm_grid_covers_p_by_r_with_dense_baselines)
{
    SweepPlan plan = load_shipped("configs/sweep-dlcm-grid.yaml");
    const double Ps[] = {0.3, 0.5, 0.7}, Rs[] = {2, 4, 8};
    for (int b = 0; b < spec.budgets.n; b++) {
        double budget = spec.budgets.v[b];
        int dense = 0;
        for (int i = 0; i < plan.n; i++)
            if (plan.runs[i].budget == budget && plan.runs[i].shape.family == FAMILY_DENSE) dense++;
        cr_assert_geq(dense, 3, "dense baselines at budget %g", budget);
        for (int p = 0; p < 3; p++)
            for (int r = 0; r < 3; r++) {
                int found = 0;
                for (int i = 0; i < plan.n; i++) {
                    const PlannedRun *run = &plan.runs[i];
                    if (run->budget == budget && run->shape.family == FAMILY_DLCM && run->shape.R == Rs[r] &&
                        run->target_P == Ps[p]) {
                        found++;
                        cr_assert(fabs(run->params.P - Ps[p]) < 0.05, "P %g realized as %g", Ps[p], run->params.P);
                    }
                }
                cr_assert_geq(found, 1, "P=%g R=%g at budget %g", Ps[p], Rs[r], budget);
            }
    }
    sweep_plan_free(&plan);
}

Test(sweep_config, shipped_mup_transfer_meets_the_spec)
{
    SweepPlan plan = load_shipped("configs/sweep-mup-transfer.yaml");
    cr_assert_geq(spec.lr.n, 8);
    for (int i = 0; i < spec.lr.n; i++) {
        double l2 = log2(spec.lr.v[i]);
        cr_assert(fabs(l2 - round(l2)) < 1e-12, "LR %g is not a power of 2", spec.lr.v[i]);
    }
    double lo = 1e9, hi = 0;
    for (int i = 0; i < plan.n; i++) {
        lo = fmin(lo, plan.runs[i].shape.d_t);
        hi = fmax(hi, plan.runs[i].shape.d_t);
        cr_assert_eq(plan.runs[i].tokens, plan.runs[0].tokens, "same tokens for every run");
    }
    cr_assert_geq(hi / lo, 8.0);
    cr_assert_geq(spec.families[0].d_t.n, 4);
    cr_assert_geq(spec.seed.n, 2);
    cr_assert_eq(spec.n_param, 2);
    cr_assert_eq(plan.n, spec.lr.n * spec.families[0].d_t.n * spec.seed.n * 2);
    sweep_plan_free(&plan);
}

Test(sweep_config, shipped_demo_is_small)
{
    SweepPlan plan = load_shipped("configs/sweep-demo.yaml");
    double total = 0;
    for (int i = 0; i < plan.n; i++) total += plan.runs[i].train_flops;
    cr_assert_lt(total, 1e13, "the CPU demo must stay small: %g FLOPs", total);
    sweep_plan_free(&plan);
}
