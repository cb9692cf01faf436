/* tests/test_sweep_study.c: the bpe-study's sweep files (configs/study-*.yaml) meet their design:
 * isoFLOP budgets spanning 30x with 3+ sizes per family at each, dense baselines everywhere, a
 * DLCM grid over 3 P and R in {2, 4, 8} with decoders and wide backbones, a subset paired with
 * dense at equal inference FLOPs; muP transfer along d_t and d_c alone with their coordinate
 * checks; the parser table; and, where the corpus is built, no run beyond 4 epochs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/train/config.h"
#include "sweep/config.h"
#include "sweep/epochs.h"
#include "sweep/plan.h"

static SweepSpec spec; /* large: kept off the stack */

/* A planned run's config as the trainer reads it. */
static TrainConfig run_config(const PlannedRun *r)
{
    TrainConfig cfg = train_config_default();
    char err[1024];
    cr_assert_eq(config_load_text(&cfg, r->config, r->id, err, sizeof err), 0, "%s", err);
    return cfg;
}

static SweepPlan load(const char *path)
{
    char err[1024];
    cr_assert_eq(sweep_config_load(path, &spec, err, sizeof err), 0, "%s", err);
    SweepPlan plan;
    cr_assert_eq(sweep_plan(&spec, &plan, err, sizeof err), 0, "%s", err);
    cr_assert(strncmp(spec.name, "bpe-study-", 10) == 0, "%s: the study's sweeps are named bpe-study-*", path);
    cr_assert_eq(spec.vocab, 4096);
    for (int i = 0; i < plan.n; i++) cr_assert_str_eq(run_config(&plan.runs[i]).tokenizer, "bpe4096", "%s", path);
    /* Where the corpus is built, the epochs guard passes (38.3 M training tokens). */
    if (access("data/out/bpe4096/train.bin", R_OK) == 0) {
        cr_assert_eq(sweep_plan_epochs(&spec, &plan, err, sizeof err), 0, "%s", err);
        for (int i = 0; i < plan.n; i++) cr_assert_leq(plan.runs[i].epochs, 4.0);
    }
    return plan;
}

/* Adds v to the set of distinct values (within a relative 1e-9; at most 64) in x[0..*n). */
static void add_distinct(double *x, int *n, double v)
{
    for (int j = 0; j < *n; j++)
        if (fabs(x[j] - v) <= 1e-9 * fabs(v)) return;
    cr_assert_lt(*n, 64);
    x[(*n)++] = v;
}

/* The budget a run belongs to: its own, or for a dense partner at equal inference FLOPs (trained
 * on its DLCM's tokens, not to a budget) the budget of that DLCM. */
static double budget_of(const SweepPlan *plan, int i)
{
    if (plan->runs[i].has_budget) return plan->runs[i].budget;
    for (int k = 0; k < plan->n_pairs; k++)
        if (plan->pairs[k].dense == i) return plan->runs[plan->pairs[k].dlcm].budget;
    cr_assert_fail("run %s has neither a budget nor a DLCM partner", plan->runs[i].id);
    return 0;
}

Test(sweep_study, isoflop_grid_brackets_every_budget_and_varies_n_p_r_d)
{
    SweepPlan plan = load("configs/study-isoflop.yaml");
    cr_assert_geq(spec.budgets.n, 4);
    double lo = 1e300, hi = 0;
    for (int b = 0; b < spec.budgets.n; b++) {
        lo = fmin(lo, spec.budgets.v[b]);
        hi = fmax(hi, spec.budgets.v[b]);
    }
    cr_assert_geq(hi / lo, 30.0, "budgets span %gx", hi / lo);
    int n_dlcm = 0, r_seen[9] = {0}, p_low = 0, p_mid = 0, p_high = 0;
    for (int i = 0; i < plan.n; i++) {
        const PlannedRun *r = &plan.runs[i];
        if (r->shape.family != FAMILY_DLCM) continue;
        n_dlcm++;
        cr_assert_geq(r->shape.n_dec, 1, "every DLCM has a decoder block");
        cr_assert_geq(r->shape.d_c, 2 * r->shape.d_t, "the backbone is at least twice as wide");
        TrainConfig cfg = run_config(r);
        cr_assert(cfg.model.boundary == BOUNDARY_LEARNED && cfg.model.parser == PARSER_GLOBAL,
                  "learned boundaries with the Global Parser");
        cr_assert_eq(cfg.model.concept_bucket, 64, "concept buckets on the GPU");
        if ((int)r->shape.R <= 8) r_seen[(int)r->shape.R] = 1;
        if (r->params.P < 0.4) p_low++;
        else if (r->params.P < 0.65) p_mid++;
        else p_high++;
    }
    cr_assert(r_seen[2] && r_seen[4] && r_seen[8], "R in {2, 4, 8}");
    cr_assert(p_low && p_mid && p_high, "P ~0.3, ~0.5 and ~0.7: %d %d %d", p_low, p_mid, p_high);
    /* At every budget: >= 3 sizes per family (dense; DLCM at R = 4 and P ~ 0.5), dense there. */
    for (int b = 0; b < spec.budgets.n; b++) {
        double dense_N[64], dlcm_N[64];
        int n_dense = 0, n_spine = 0;
        for (int i = 0; i < plan.n; i++) {
            const PlannedRun *r = &plan.runs[i];
            if (r->family_index < 0 || r->budget != spec.budgets.v[b]) continue;
            if (r->shape.family == FAMILY_DENSE) add_distinct(dense_N, &n_dense, (double)r->params.N);
            if (r->shape.family == FAMILY_DLCM && r->shape.R == 4 && r->params.P > 0.4 && r->params.P < 0.65)
                add_distinct(dlcm_N, &n_spine, (double)r->params.N);
        }
        cr_assert_geq(n_dense, 3, "dense sizes at %g", spec.budgets.v[b]);
        cr_assert_geq(n_spine, 3, "DLCM sizes at %g", spec.budgets.v[b]);
    }
    /* Every run with a second seed (the observed DLCM-vs-dense differences lie within one run's
     * seed noise): each seed of the sweep trains the same runs. And every run of the two largest
     * budgets with two more seeds (2 and 3; the whole profile, not its best shapes). */
    cr_assert_geq(spec.seed.n, 2);
    double second_largest = 0;
    for (int b = 0; b < spec.budgets.n; b++)
        if (spec.budgets.v[b] < hi) second_largest = fmax(second_largest, spec.budgets.v[b]);
    int first_seed_runs = 0, first_seed_top = 0;
    for (int i = 0; i < plan.n; i++)
        if (plan.runs[i].seed == spec.seed.v[0]) {
            first_seed_runs++;
            first_seed_top += budget_of(&plan, i) >= second_largest;
        }
    for (int s = 0; s < spec.seed.n; s++) {
        int runs = 0;
        for (int i = 0; i < plan.n; i++) runs += plan.runs[i].seed == spec.seed.v[s];
        cr_assert_eq(runs, first_seed_runs, "seed %g trains %d runs, seed %g %d", (double)spec.seed.v[s], runs,
                     (double)spec.seed.v[0], first_seed_runs);
    }
    for (int extra = 2; extra <= 3; extra++) {
        int runs = 0;
        for (int i = 0; i < plan.n; i++)
            if (plan.runs[i].seed == extra) {
                runs++;
                cr_assert_geq(budget_of(&plan, i), second_largest, "seed %d only at the two largest budgets", extra);
            }
        cr_assert_eq(runs, first_seed_top, "seed %d trains %d runs of the %d at the two largest budgets", extra, runs,
                     first_seed_top);
    }
    cr_assert_eq(plan.n, spec.seed.n * first_seed_runs + 2 * first_seed_top);
    /* A subset paired with dense at equal inference FLOPs, at every budget. */
    cr_assert_gt(plan.n_pairs, 0);
    cr_assert_lt(plan.n_pairs, n_dlcm);
    for (int b = 0; b < spec.budgets.n; b++) {
        int pairs = 0;
        for (int k = 0; k < plan.n_pairs; k++) pairs += plan.runs[plan.pairs[k].dlcm].budget == spec.budgets.v[b];
        cr_assert_geq(pairs, 1, "pairs at %g", spec.budgets.v[b]);
    }
    sweep_plan_free(&plan);
}

/* A muP transfer sweep: >= 8 LRs in powers of 2, >= 4 widths spanning >= 8x along `axis` ('t' or
 * 'c') with the other width fixed, 2 seeds, mup and sp, the same tokens for every run. */
static void check_transfer(const char *path, char axis)
{
    SweepPlan plan = load(path);
    cr_assert_geq(spec.lr.n, 8);
    for (int i = 0; i < spec.lr.n; i++) {
        double l2 = log2(spec.lr.v[i]);
        cr_assert(fabs(l2 - round(l2)) < 1e-12, "LR %g is not a power of 2", spec.lr.v[i]);
    }
    cr_assert_geq(spec.seed.n, 2);
    cr_assert_eq(spec.n_param, 2);
    double widths[64], lo = 1e9, hi = 0;
    int n = 0;
    for (int i = 0; i < plan.n; i++) {
        const ModelShape *s = &plan.runs[i].shape;
        double w = axis == 't' ? s->d_t : s->d_c, other = axis == 't' ? s->d_c : s->d_t;
        double first_other = axis == 't' ? plan.runs[0].shape.d_c : plan.runs[0].shape.d_t;
        cr_assert_eq(other, first_other, "%s: only d_%c is scaled", path, axis);
        cr_assert_eq(plan.runs[i].tokens, plan.runs[0].tokens, "same tokens for every run");
        add_distinct(widths, &n, w);
        lo = fmin(lo, w);
        hi = fmax(hi, w);
    }
    cr_assert_geq(n, 4);
    cr_assert_geq(hi / lo, 8.0);
    cr_assert_eq(plan.n, spec.lr.n * n * spec.seed.n * 2);
    sweep_plan_free(&plan);
}

/* A coordinate-check sweep: module statistics on, mup and sp, the widths of its transfer sweep. */
static void check_coord(const char *path, const char *transfer_path, char axis)
{
    SweepPlan transfer = load(transfer_path);
    double widths[64];
    int n = 0;
    for (int i = 0; i < transfer.n; i++)
        add_distinct(widths, &n, axis == 't' ? transfer.runs[i].shape.d_t : transfer.runs[i].shape.d_c);
    sweep_plan_free(&transfer);
    SweepPlan plan = load(path);
    cr_assert_eq(spec.n_param, 2);
    for (int i = 0; i < plan.n; i++) {
        cr_assert_gt(run_config(&plan.runs[i]).module_stats_interval, 0, "%s: module statistics on", path);
        double w = axis == 't' ? plan.runs[i].shape.d_t : plan.runs[i].shape.d_c;
        int found = 0;
        for (int k = 0; k < n; k++) found |= widths[k] == w;
        cr_assert(found, "%s: width %g is one of the transfer sweep's", path, w);
    }
    cr_assert_geq(plan.n, 8);
    sweep_plan_free(&plan);
}

Test(sweep_study, mup_transfer_scales_d_t_and_d_c_each_alone_with_coordinate_checks)
{
    check_transfer("configs/study-mup-dt.yaml", 't');
    check_transfer("configs/study-mup-dc.yaml", 'c');
    check_coord("configs/study-coord-dt.yaml", "configs/study-mup-dt.yaml", 't');
    check_coord("configs/study-coord-dc.yaml", "configs/study-mup-dc.yaml", 'c');
}

Test(sweep_study, parser_table_has_both_parsers_at_r_2_4_8)
{
    SweepPlan plan = load("configs/study-parser.yaml");
    const ParserMode parsers[] = {PARSER_GLOBAL, PARSER_PER_SEQUENCE};
    for (int p = 0; p < 2; p++)
        for (int R = 2; R <= 8; R *= 2) {
            int seeds = 0;
            for (int i = 0; i < plan.n; i++)
                seeds += plan.runs[i].shape.R == R && run_config(&plan.runs[i]).model.parser == parsers[p];
            cr_assert_geq(seeds, 2, "parser %d at R %d", p, R);
        }
    sweep_plan_free(&plan);
}
