/* tests/test_sweep_plan.c: the planner: D = C / (3 F_fwd) in whole steps with every run within
 * 1 % of its budget, counts taken from engine/shape.h, solved shapes near (N, P), the cross
 * product of axes, and run ids that depend on exactly the resolved config. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sweep/config.h"
#include "sweep/plan.h"

static SweepSpec spec;

static SweepPlan plan_text(const char *yaml)
{
    char err[1024];
    cr_assert_eq(sweep_config_parse(yaml, strlen(yaml), "t.yaml", &spec, err, sizeof err), 0, "%s", err);
    SweepPlan plan;
    cr_assert_eq(sweep_plan(&spec, &plan, err, sizeof err), 0, "%s", err);
    return plan;
}

static const char grid_yaml[] =
    "name: grid\nvocab: 512\nseq_len: 32\nbatch_tokens: 256\n"
    "budgets: [3e11, 1e12]\nlr: [0.01, 0.02]\nseed: [0, 1]\nparametrization: [mup, sp]\n"
    "families:\n"
    "  - family: dense\n    d_t: [64, 128]\n    n_layers: [2, 3]\n"
    "  - family: dlcm\n    d_t: 64\n    d_c_ratio: [1, 2]\n    n_enc: 1\n    n_con: 2\n    n_dec: 1\n    R: [2, 4]\n";

Test(sweep_plan, tokens_are_whole_steps_within_one_percent)
{
    SweepPlan plan = plan_text(grid_yaml);
    /* dense 2 widths x 2 depths + dlcm 2 ratios x 2 R = 8 shapes; x 2 budgets x 2 LR x 2 seeds x 2 param */
    cr_assert_eq(plan.n, 8 * 2 * 2 * 2 * 2);
    for (int i = 0; i < plan.n; i++) {
        const PlannedRun *r = &plan.runs[i];
        double F = shape_fwd_flops_per_token(&r->shape, r->shape.R);
        cr_assert_float_eq(r->fwd_flops_per_token, F, 1e-6 * F, "forward FLOPs come from shape.h");
        cr_assert_float_eq(r->train_flops_per_token, 3 * F, 1e-6 * F);
        cr_assert_eq(r->tokens % 256, 0, "whole steps");
        cr_assert_eq(r->tokens, r->steps * 256);
        double D_exact = r->budget / (3 * F);
        cr_assert_leq(fabs((double)r->tokens - D_exact), 128.0 + 1e-6, "rounded to the nearest step");
        cr_assert_float_eq(r->train_flops, 3 * F * (double)r->tokens, 1e-9 * r->train_flops);
        cr_assert_leq(fabs(r->train_flops - r->budget) / r->budget, 0.01);
        cr_assert_float_eq(r->deviation, (r->train_flops - r->budget) / r->budget, 1e-12);
        ShapeParams p;
        char err[256];
        cr_assert_eq(shape_params(&r->shape, &p, err, sizeof err), 0);
        cr_assert_eq(p.N, r->params.N, "N comes from shape.h");
        cr_assert_gt(r->est_memory_bytes, 0);
    }
    sweep_plan_free(&plan);
}

Test(sweep_plan, d_c_ratio_ties_concept_width_to_token_width)
{
    SweepPlan plan = plan_text(grid_yaml);
    int seen_ratio[3] = {0};
    for (int i = 0; i < plan.n; i++)
        if (plan.runs[i].shape.family == FAMILY_DLCM) seen_ratio[plan.runs[i].shape.d_c / plan.runs[i].shape.d_t]++;
    cr_assert_gt(seen_ratio[1], 0);
    cr_assert_gt(seen_ratio[2], 0);
    sweep_plan_free(&plan);
}

Test(sweep_plan, solved_shapes_hit_n_and_p)
{
    SweepPlan plan = plan_text("name: s\nvocab: 1024\nseq_len: 128\nbatch_tokens: 1024\nbudgets: 1e15\nlr: 0.01\n"
                               "families:\n  - family: dlcm\n    N: [2e6, 8e6]\n    P: [0.3, 0.7]\n    R: 4\n"
                               "  - family: dense\n    N: 4e6\n");
    cr_assert_eq(plan.n, 5);
    for (int i = 0; i < plan.n; i++) {
        const PlannedRun *r = &plan.runs[i];
        cr_assert(fabs(log(r->params.N / r->target_N)) < 0.15, "N %lld for target %g", (long long)r->params.N, r->target_N);
        if (r->shape.family == FAMILY_DLCM) cr_assert(fabs(r->params.P - r->target_P) < 0.08, "P %g for %g", r->params.P, r->target_P);
        cr_assert_eq(r->shape.d_t % 64, 0);
    }
    sweep_plan_free(&plan);
}

Test(sweep_plan, fixed_tokens_mode)
{
    SweepPlan plan = plan_text("name: f\nvocab: 512\nseq_len: 32\nbatch_tokens: 256\ntokens: 25600\nlr: [0.01, 0.02]\n"
                               "families:\n  - family: dense\n    d_t: [64, 256]\n    n_layers: 2\n");
    cr_assert_eq(plan.n, 4);
    for (int i = 0; i < plan.n; i++) {
        cr_assert_eq(plan.runs[i].tokens, 25600);
        cr_assert_eq(plan.runs[i].steps, 100);
        cr_assert_eq(plan.runs[i].has_budget, 0);
        cr_assert_float_eq(plan.runs[i].budget, plan.runs[i].train_flops, 1e-6);
    }
    sweep_plan_free(&plan);
}

Test(sweep_plan, run_ids_depend_on_the_resolved_config_only)
{
    SweepPlan a = plan_text(grid_yaml);
    SweepPlan b = plan_text(grid_yaml);
    cr_assert_eq(a.n, b.n);
    for (int i = 0; i < a.n; i++) {
        cr_assert_str_eq(a.runs[i].id, b.runs[i].id, "planning twice gives the same ids");
        cr_assert_str_eq(a.runs[i].config, b.runs[i].config);
        cr_assert(strstr(a.runs[i].config, "# engine: " DLCM_ENGINE_VERSION "\n") != NULL,
                  "the engine version is part of the hashed config");
        char id[17];
        sweep_run_id(a.runs[i].config, id);
        cr_assert_str_eq(id, a.runs[i].id);
        for (int j = 0; j < i; j++) cr_assert_str_neq(a.runs[i].id, a.runs[j].id, "distinct runs, distinct ids");
    }
    /* Any change of the config, the engine version included, changes the id. */
    char changed[8192], id[17];
    snprintf(changed, sizeof changed, "%s", a.runs[0].config);
    char *version = strstr(changed, DLCM_ENGINE_VERSION);
    cr_assert_not_null(version);
    version[strlen(DLCM_ENGINE_VERSION) - 1] ^= 1;
    sweep_run_id(changed, id);
    cr_assert_str_neq(id, a.runs[0].id);
    sweep_plan_free(&a);
    sweep_plan_free(&b);
}

Test(sweep_plan, repeated_values_make_one_run)
{
    SweepPlan plan = plan_text("name: d\nvocab: 512\nseq_len: 32\nbatch_tokens: 256\nbudgets: [3e11, 3e11]\nlr: 0.01\n"
                               "families:\n  - family: dense\n    d_t: [64, 64]\n    n_layers: 2\n");
    cr_assert_eq(plan.n, 1);
    sweep_plan_free(&plan);
}

Test(sweep_plan, trainer_settings_pass_through)
{
    SweepPlan plan = plan_text("name: p\nvocab: 512\nseq_len: 32\nbatch_tokens: 256\nbudgets: 3e11\nlr: 0.01\n"
                               "trainer:\n  schedule.kind: cosine\n  data.tokenizer: bpe4096\n"
                               "families:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n");
    cr_assert(strstr(plan.runs[0].config, "schedule.kind: \"cosine\"\n") != NULL, "%s", plan.runs[0].config);
    cr_assert(strstr(plan.runs[0].config, "data.tokenizer: \"bpe4096\"\n") != NULL);
    cr_assert(strstr(plan.runs[0].config, "train.batch: 8\ntrain.grad_accum: 1\n") != NULL, "256 tokens = 8 x 32");
    sweep_plan_free(&plan);
    char err[1024];
    const char *reserved = "name: p\nvocab: 512\nseq_len: 32\nbatch_tokens: 256\nbudgets: 3e11\nlr: 0.01\n"
                           "trainer:\n  optim.lr: 0.5\nfamilies:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n";
    cr_assert_eq(sweep_config_parse(reserved, strlen(reserved), "r.yaml", &spec, err, sizeof err), -1);
    cr_assert(strncmp(err, "r.yaml:8: optim.lr: ", 20) == 0, "%s", err);
    /* The trainer's key table decides what is a key and what is a value. */
    const char *unknown = "name: p\nvocab: 512\nseq_len: 32\nbatch_tokens: 256\nbudgets: 3e11\nlr: 0.01\n"
                          "trainer:\n  schedule.knd: cosine\nfamilies:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n";
    cr_assert_eq(sweep_config_parse(unknown, strlen(unknown), "u.yaml", &spec, err, sizeof err), -1);
    cr_assert(strncmp(err, "u.yaml:8: schedule.knd: ", 24) == 0, "%s", err);
    const char *bad_value = "name: p\nvocab: 512\nseq_len: 32\nbatch_tokens: 256\nbudgets: 3e11\nlr: 0.01\n"
                            "trainer:\n  schedule.kind: linear\nfamilies:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n";
    cr_assert_eq(sweep_config_parse(bad_value, strlen(bad_value), "v.yaml", &spec, err, sizeof err), -1);
    cr_assert(strncmp(err, "v.yaml:8: schedule.kind: ", 25) == 0, "%s", err);
}

Test(sweep_plan, grad_accum_splits_the_step)
{
    SweepPlan plan = plan_text("name: g\nvocab: 512\nseq_len: 32\nbatch_tokens: 256\ngrad_accum: 4\nbudgets: 3e11\nlr: 0.01\n"
                               "families:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n");
    cr_assert(strstr(plan.runs[0].config, "train.batch: 2\ntrain.grad_accum: 4\n") != NULL, "%s", plan.runs[0].config);
    sweep_plan_free(&plan);
    char err[512];
    const char *bad = "name: g\nvocab: 512\nseq_len: 32\nbatch_tokens: 256\ngrad_accum: 3\nbudgets: 3e11\nlr: 0.01\n"
                      "families:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n";
    cr_assert_eq(sweep_config_parse(bad, strlen(bad), "g.yaml", &spec, err, sizeof err), -1);
    cr_assert(strstr(err, "batch_tokens: 256 is not a multiple of seq_len x grad_accum") != NULL, "%s", err);
}
