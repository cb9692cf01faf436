/* tests/test_sweep_plan.c: the planner: D = C / (3 F_fwd) in whole steps with every run within
 * 1 % of its budget, counts taken from engine/shape.h, solved shapes near (N, P), the cross
 * product of axes, and run ids that are dlcm-train's own hash of the run config. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/train/config.h"
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
    "name: grid\nvocab: 256\nseq_len: 32\nbatch_tokens: 256\n"
    "budgets: [3e11, 1e12]\nlr: [0.01, 0.02]\nseed: [0, 1]\nparametrization: [mup, sp]\n"
    "families:\n"
    "  - family: dense\n    d_t: [64, 128]\n    n_layers: [2, 3]\n"
    "  - family: dlcm\n    d_t: 64\n    d_c_ratio: [2, 3]\n    n_enc: 1\n    n_con: 2\n    n_dec: 1\n    R: [2, 4]\n";

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
    int seen_ratio[4] = {0};
    for (int i = 0; i < plan.n; i++)
        if (plan.runs[i].shape.family == FAMILY_DLCM) seen_ratio[plan.runs[i].shape.d_c / plan.runs[i].shape.d_t]++;
    cr_assert_gt(seen_ratio[2], 0);
    cr_assert_gt(seen_ratio[3], 0);
    sweep_plan_free(&plan);
}

Test(sweep_plan, solved_shapes_hit_n_and_p)
{
    SweepPlan plan = plan_text("name: s\nvocab: 256\nseq_len: 128\nbatch_tokens: 1024\nbudgets: 1e15\nlr: 0.01\n"
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
    SweepPlan plan = plan_text("name: f\nvocab: 256\nseq_len: 32\nbatch_tokens: 256\ntokens: 25600\nlr: [0.01, 0.02]\n"
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

Test(sweep_plan, run_ids_are_the_trainers_hash_of_the_run_config)
{
    SweepPlan a = plan_text(grid_yaml);
    SweepPlan b = plan_text(grid_yaml);
    cr_assert_eq(a.n, b.n);
    for (int i = 0; i < a.n; i++) {
        cr_assert_str_eq(a.runs[i].id, b.runs[i].id, "planning twice gives the same ids");
        cr_assert_str_eq(a.runs[i].config, b.runs[i].config);
        /* The id is what the trainer's reader and hash make of the config text. */
        char id[17], err[512];
        cr_assert_eq(config_text_run_id(a.runs[i].config, "planned", id, err, sizeof err), 0, "%s", err);
        cr_assert_str_eq(id, a.runs[i].id);
        cr_assert(strstr(a.runs[i].config, "  sweep: \"grid\"\n") != NULL, "the sweep's name is in the config");
        for (int j = 0; j < i; j++) cr_assert_str_neq(a.runs[i].id, a.runs[j].id, "distinct runs, distinct ids");
    }
    /* The same run in another sweep is another run; any change of what is trained changes the id. */
    TrainConfig cfg = train_config_default();
    char err[512], id[17];
    cr_assert_eq(config_load_text(&cfg, a.runs[0].config, "planned", err, sizeof err), 0, "%s", err);
    snprintf(cfg.sweep, sizeof cfg.sweep, "other");
    config_run_id(&cfg, id);
    cr_assert_str_neq(id, a.runs[0].id);
    cr_assert_eq(config_load_text(&cfg, a.runs[0].config, "planned", err, sizeof err), 0, "%s", err);
    cfg.optim.lr_token *= 2;
    config_run_id(&cfg, id);
    cr_assert_str_neq(id, a.runs[0].id);
    sweep_plan_free(&a);
    sweep_plan_free(&b);
}

Test(sweep_plan, repeated_values_make_one_run)
{
    SweepPlan plan = plan_text("name: d\nvocab: 256\nseq_len: 32\nbatch_tokens: 256\nbudgets: [3e11, 3e11]\nlr: 0.01\n"
                               "families:\n  - family: dense\n    d_t: [64, 64]\n    n_layers: 2\n");
    cr_assert_eq(plan.n, 1);
    sweep_plan_free(&plan);
}

Test(sweep_plan, trainer_settings_pass_through)
{
    SweepPlan plan = plan_text("name: p\nvocab: 4096\nseq_len: 32\nbatch_tokens: 256\nbudgets: 3e11\nlr: 0.01\n"
                               "trainer:\n  schedule.kind: cosine\n  data.tokenizer: bpe4096\n"
                               "families:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n");
    cr_assert(strstr(plan.runs[0].config, "schedule:\n  kind: cosine\n") != NULL, "%s", plan.runs[0].config);
    cr_assert(strstr(plan.runs[0].config, "  tokenizer: \"bpe4096\"\n") != NULL);
    cr_assert(strstr(plan.runs[0].config, "train:\n  batch: 8\n  grad_accum: 1\n") != NULL, "256 tokens = 8 x 32");
    sweep_plan_free(&plan);
    char err[1024];
    const char *reserved = "name: p\nvocab: 256\nseq_len: 32\nbatch_tokens: 256\nbudgets: 3e11\nlr: 0.01\n"
                           "trainer:\n  optim.lr: 0.5\nfamilies:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n";
    cr_assert_eq(sweep_config_parse(reserved, strlen(reserved), "r.yaml", &spec, err, sizeof err), -1);
    cr_assert(strncmp(err, "r.yaml:8: optim.lr: ", 20) == 0, "%s", err);
    /* The trainer's key table decides what is a key and what is a value. */
    const char *unknown = "name: p\nvocab: 256\nseq_len: 32\nbatch_tokens: 256\nbudgets: 3e11\nlr: 0.01\n"
                          "trainer:\n  schedule.knd: cosine\nfamilies:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n";
    cr_assert_eq(sweep_config_parse(unknown, strlen(unknown), "u.yaml", &spec, err, sizeof err), -1);
    cr_assert(strncmp(err, "u.yaml:8: schedule.knd: ", 24) == 0, "%s", err);
    const char *bad_value = "name: p\nvocab: 256\nseq_len: 32\nbatch_tokens: 256\nbudgets: 3e11\nlr: 0.01\n"
                            "trainer:\n  schedule.kind: linear\nfamilies:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n";
    cr_assert_eq(sweep_config_parse(bad_value, strlen(bad_value), "v.yaml", &spec, err, sizeof err), -1);
    cr_assert(strncmp(err, "v.yaml:8: schedule.kind: ", 25) == 0, "%s", err);
}

Test(sweep_plan, grad_accum_splits_the_step)
{
    SweepPlan plan = plan_text("name: g\nvocab: 256\nseq_len: 32\nbatch_tokens: 256\ngrad_accum: 4\nbudgets: 3e11\nlr: 0.01\n"
                               "families:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n");
    cr_assert(strstr(plan.runs[0].config, "train:\n  batch: 2\n  grad_accum: 4\n") != NULL, "%s", plan.runs[0].config);
    sweep_plan_free(&plan);
    char err[512];
    const char *bad = "name: g\nvocab: 256\nseq_len: 32\nbatch_tokens: 256\ngrad_accum: 3\nbudgets: 3e11\nlr: 0.01\n"
                      "families:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n";
    cr_assert_eq(sweep_config_parse(bad, strlen(bad), "g.yaml", &spec, err, sizeof err), -1);
    cr_assert(strstr(err, "batch_tokens: 256 is not a multiple of seq_len x grad_accum") != NULL, "%s", err);
}

/* The plan error of a sweep text (which must fail). */
static void plan_error(const char *yaml, char *err, int errlen)
{
    cr_assert_eq(sweep_config_parse(yaml, strlen(yaml), "d.yaml", &spec, err, errlen), 0, "%s", err);
    SweepPlan plan;
    cr_assert_eq(sweep_plan(&spec, &plan, err, errlen), -1, "planned: %s", yaml);
}

Test(sweep_plan, degenerate_dlcms_are_refused_with_the_reason)
{
    char err[1024];
    const char *head = "name: d\nvocab: 256\nseq_len: 32\nbatch_tokens: 256\nbudgets: 3e11\nlr: 0.01\nfamilies:\n";
    char yaml[1024];
    snprintf(yaml, sizeof yaml, "%s  - family: dlcm\n    d_t: 64\n    d_c: 128\n    n_enc: 2\n    n_con: 2\n"
                                "    n_dec: 0\n    R: 4\n", head);
    plan_error(yaml, err, sizeof err);
    cr_assert(strstr(err, "d.yaml:8: family: refused") != NULL && strstr(err, "no decoder block") != NULL, "%s", err);
    snprintf(yaml, sizeof yaml, "%s  - family: dlcm\n    d_t: 128\n    d_c: 128\n    n_enc: 1\n    n_con: 2\n"
                                "    n_dec: 1\n    R: 4\n", head);
    plan_error(yaml, err, sizeof err);
    cr_assert(strstr(err, "not wider than the token stacks") != NULL, "%s", err);
    /* The sweep file's ratio binds: d_c = 1.5 d_t passes at ratio 1.5 and is refused at 2. */
    snprintf(yaml, sizeof yaml, "%s  - family: dlcm\n    d_t: 128\n    d_c: 192\n    n_enc: 1\n    n_con: 2\n"
                                "    n_dec: 1\n    R: 4\n", head);
    plan_error(yaml, err, sizeof err);
    cr_assert(strstr(err, "concept_width_ratio 2") != NULL, "%s", err);
    char ok[1200];
    snprintf(ok, sizeof ok, "shape_rule:\n  concept_width_ratio: 1.5\n%s", yaml);
    SweepPlan plan = plan_text(ok);
    cr_assert_eq(plan.n, 1);
    sweep_plan_free(&plan);
    /* A ratio that would allow a backbone no wider than the token stacks is bad input. */
    snprintf(ok, sizeof ok, "shape_rule:\n  concept_width_ratio: 1\n%s", yaml);
    cr_assert_eq(sweep_config_parse(ok, strlen(ok), "r.yaml", &spec, err, sizeof err), -1);
    cr_assert(strstr(err, "r.yaml:2: concept_width_ratio: must exceed 1") != NULL, "%s", err);
}

Test(sweep_plan, a_narrow_backbone_is_planned_only_where_the_sweep_allows_it)
{
    /* A μP check along d_t alone: token stacks of 64 to 512 under a fixed backbone of 128. */
    const char *grid = "  - family: dlcm\n    d_t: [64, 512]\n    d_c: 128\n    n_enc: 1\n    n_con: 1\n"
                       "    n_dec: 1\n    R: 4\n";
    const char *head = "name: n\nvocab: 256\nseq_len: 256\nbatch_tokens: 16384\ntokens: 1638400\nlr: 0.01\n";
    char yaml[1024], err[512];
    snprintf(yaml, sizeof yaml, "%sfamilies:\n%s", head, grid);
    plan_error(yaml, err, sizeof err);
    cr_assert(strstr(err, "not wider than the token stacks") != NULL, "%s", err);
    snprintf(yaml, sizeof yaml, "%sallow_narrow_backbone: true\nfamilies:\n%s", head, grid);
    SweepPlan plan = plan_text(yaml);
    cr_assert_eq(plan.n, 2);
    sweep_plan_free(&plan);
    /* The decoder rule still binds. */
    snprintf(yaml, sizeof yaml, "%sallow_narrow_backbone: true\nfamilies:\n  - family: dlcm\n    d_t: 512\n"
                                "    d_c: 128\n    n_enc: 1\n    n_con: 1\n    n_dec: 0\n    R: 4\n", head);
    plan_error(yaml, err, sizeof err);
    cr_assert(strstr(err, "no decoder block") != NULL, "%s", err);
}

Test(sweep_plan, solved_dlcms_have_a_decoder_and_a_wider_backbone)
{
    /* Small models are where the solver used to give n_dec = 0 and d_c = d_t (the byte study). */
    SweepPlan plan = plan_text("name: s\nvocab: 256\nseq_len: 256\nbatch_tokens: 16384\nbudgets: 2e14\nlr: 0.01\n"
                               "families:\n  - family: dlcm\n    N: [1e6, 1.9e6, 4e6, 2e7]\n    P: [0.3, 0.5, 0.7]\n"
                               "    R: [2, 8]\n");
    cr_assert_eq(plan.n, 4 * 3 * 2);
    for (int i = 0; i < plan.n; i++) {
        const ModelShape *s = &plan.runs[i].shape;
        cr_assert_geq(s->n_dec, 1, "run %d: n_dec %d", i, s->n_dec);
        cr_assert_geq(s->n_enc, 1);
        cr_assert_geq(s->d_c, 2 * s->d_t, "run %d: d_c %d, d_t %d", i, s->d_c, s->d_t);
    }
    sweep_plan_free(&plan);
}

Test(sweep_plan, dense_partners_at_equal_inference_flops)
{
    SweepPlan plan = plan_text("name: m\nvocab: 4096\nseq_len: 64\nbatch_tokens: 256\nbudgets: [1.2e11, 3.6e11]\n"
                               "lr: 0.004\nseed: [0, 1]\ninference_matched_dense: true\n"
                               "trainer:\n  data.tokenizer: bpe4096\n"
                               "families:\n  - family: dlcm\n    d_t: 64\n    d_c: 128\n    n_enc: 1\n    n_con: 2\n"
                               "    n_dec: 1\n    R: [2, 4]\n  - family: dlcm\n    N: 2e6\n    P: 0.5\n    R: 4\n");
    int n_dlcm = 0;
    for (int i = 0; i < plan.n; i++) n_dlcm += plan.runs[i].shape.family == FAMILY_DLCM;
    cr_assert_eq(n_dlcm, 3 * 2 * 2);
    cr_assert_eq(plan.n_pairs, n_dlcm, "one partner per DLCM run");
    for (int k = 0; k < plan.n_pairs; k++) {
        const PlannedRun *a = &plan.runs[plan.pairs[k].dlcm], *b = &plan.runs[plan.pairs[k].dense];
        cr_assert_eq(a->shape.family, FAMILY_DLCM);
        cr_assert_eq(b->shape.family, FAMILY_DENSE);
        double F = shape_fwd_flops_per_token(&b->shape, 1.0);
        cr_assert_float_eq(b->fwd_flops_per_token, F, 1e-9 * F, "the partner's FLOPs come from shape.h");
        cr_assert_leq(fabs(F / a->fwd_flops_per_token - 1), 0.02, "within 2%%: %g vs %g", F, a->fwd_flops_per_token);
        cr_assert_eq(b->tokens, a->tokens, "the same tokens");
        cr_assert_eq(b->steps, a->steps);
        cr_assert_float_eq(b->lr, a->lr, 0);
        cr_assert_eq(b->seed, a->seed);
        cr_assert_eq(b->param, a->param);
        char id[17], err[512];
        cr_assert_eq(config_text_run_id(b->config, "partner", id, err, sizeof err), 0, "%s", err);
        cr_assert_str_eq(id, b->id);
    }
    sweep_plan_free(&plan);
}

Test(sweep_plan, a_budget_beyond_any_run_is_refused_as_too_large)
{
    /* 1e30 FLOPs is more tokens than a run can count: refused as too large, never as too small. */
    static const char yaml[] = "name: huge\nvocab: 256\nseq_len: 32\nbatch_tokens: 256\nbudgets: [1e30]\nlr: 0.01\n"
                               "families:\n  - family: dense\n    d_t: 64\n    n_layers: 2\n";
    char err[1024];
    plan_error(yaml, err, sizeof err);
    cr_assert(strstr(err, "more than one run can train"), "%s", err);
    cr_assert_null(strstr(err, "too small"), "%s", err);
    cr_assert(strstr(err, "d.yaml:5: budgets"), "%s", err);
}

Test(sweep_plan, a_familys_own_trainer_settings_and_partners_reach_its_runs_only)
{
    SweepPlan plan = plan_text("name: fam\nvocab: 4096\nseq_len: 64\nbatch_tokens: 256\nbudgets: [3.6e11]\nlr: 0.004\n"
                               "trainer:\n  data.tokenizer: bpe4096\n  schedule.warmup: 5\n"
                               "families:\n"
                               "  - {family: dlcm, d_t: 64, d_c: 128, n_enc: 1, n_con: 2, n_dec: 1, R: 4,\n"
                               "     trainer: {model.parser: per_sequence, schedule.warmup: 7}, inference_matched_dense: true}\n"
                               "  - {family: dlcm, d_t: 64, d_c: 128, n_enc: 1, n_con: 2, n_dec: 1, R: 2}\n"
                               "  - {family: dense, d_t: 64, n_layers: 2}\n");
    cr_assert_eq(plan.n, 4, "two DLCMs, a dense run and the first DLCM's partner");
    cr_assert_eq(plan.n_pairs, 1, "only the family that asks gets a partner");
    const PlannedRun *dlcm = &plan.runs[plan.pairs[0].dlcm], *partner = &plan.runs[plan.pairs[0].dense];
    cr_assert_eq(dlcm->shape.R, 4);
    char err[1024];
    TrainConfig cfg = train_config_default();
    cr_assert_eq(config_load_text(&cfg, dlcm->config, "dlcm", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.model.parser, PARSER_PER_SEQUENCE);
    cr_assert_eq(cfg.schedule.warmup, 7, "the family's value wins");
    cfg = train_config_default();
    cr_assert_eq(config_load_text(&cfg, partner->config, "partner", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.schedule.warmup, 7, "the partner shares its DLCM's settings");
    for (int i = 0; i < plan.n; i++) {
        if (plan.runs[i].shape.family == FAMILY_DLCM && plan.runs[i].shape.R == 2) {
            cfg = train_config_default();
            cr_assert_eq(config_load_text(&cfg, plan.runs[i].config, "other", err, sizeof err), 0, "%s", err);
            cr_assert_eq(cfg.model.parser, PARSER_GLOBAL);
            cr_assert_eq(cfg.schedule.warmup, 5);
        }
    }
    sweep_plan_free(&plan);
    /* The same keys are refused there as at the top level, with the family's line. */
    static const char reserved[] = "name: fam\nvocab: 256\nseq_len: 16\nbatch_tokens: 64\nbudgets: [1e10]\nlr: 0.01\n"
                                   "families:\n  - family: dense\n    d_t: 64\n    n_layers: 1\n"
                                   "    trainer:\n      optim.lr: 0.1\n";
    cr_assert_eq(sweep_config_parse(reserved, strlen(reserved), "t.yaml", &spec, err, sizeof err), -1);
    cr_assert(strstr(err, "t.yaml:12: optim.lr: set by the planner") != NULL, "%s", err);
    static const char unknown[] = "name: fam\nvocab: 256\nseq_len: 16\nbatch_tokens: 64\nbudgets: [1e10]\nlr: 0.01\n"
                                  "families:\n  - family: dense\n    d_t: 64\n    n_layers: 1\n"
                                  "    trainer:\n      model.parsr: global\n";
    cr_assert_eq(sweep_config_parse(unknown, strlen(unknown), "t.yaml", &spec, err, sizeof err), -1);
    cr_assert(strstr(err, "t.yaml:12: model.parsr") != NULL, "%s", err);
    static const char dense_pairs[] = "name: fam\nvocab: 256\nseq_len: 16\nbatch_tokens: 64\nbudgets: [1e10]\nlr: 0.01\n"
                                      "families:\n  - family: dense\n    d_t: 64\n    n_layers: 1\n"
                                      "    inference_matched_dense: true\n";
    cr_assert_eq(sweep_config_parse(dense_pairs, strlen(dense_pairs), "t.yaml", &spec, err, sizeof err), -1);
    cr_assert(strstr(err, "t.yaml:11: inference_matched_dense: not a key of family dense") != NULL, "%s", err);
}
