/* sweep/plan.c: the planner: grids and solved shapes crossed with budgets, parametrizations, LRs
 * and seeds; token counts rounded to whole steps and checked against the budget. All counting
 * goes through engine/shape.h (never re-derived here). */
#include "sweep/plan.h"

#include "engine/train/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sweep_family_name(ModelFamily f) { return f == FAMILY_DLCM ? "dlcm" : "dense"; }

StoredShape sweep_stored_shape(const ModelShape *s)
{
    StoredShape out;
    memset(&out, 0, sizeof out);
    snprintf(out.family, sizeof out.family, "%s", sweep_family_name(s->family));
    out.d_t = s->d_t;
    out.d_c = s->d_c;
    out.n_layers = s->n_layers;
    out.n_enc = s->n_enc;
    out.n_con = s->n_con;
    out.n_dec = s->n_dec;
    out.vocab = s->vocab;
    out.seq_len = s->seq_len;
    out.R = s->R;
    return out;
}

ModelShape sweep_model_shape(const StoredShape *stored)
{
    ModelShape s;
    memset(&s, 0, sizeof s);
    s.family = strcmp(stored->family, "dlcm") == 0 ? FAMILY_DLCM : FAMILY_DENSE;
    s.d_t = stored->d_t;
    s.d_c = stored->d_c;
    s.n_layers = stored->n_layers;
    s.n_enc = stored->n_enc;
    s.n_con = stored->n_con;
    s.n_dec = stored->n_dec;
    s.vocab = stored->vocab;
    s.seq_len = stored->seq_len;
    s.R = stored->R;
    return s;
}

/* Rough bytes to train a shape: fp32 weights, grads and two Adam moments for every parameter,
 * plus activations kept for the backward pass (per token and block ~ 16 d + 2 f floats) and the
 * logits, for one step's tokens. Used only to decide how many runs share a GPU. */
double sweep_estimate_memory(const ModelShape *s, int64_t batch_tokens)
{
    ShapeParams counts;
    char err[200];
    if (shape_params(s, &counts, err, sizeof err)) return 0;
    const ShapeParams *p = &counts;
    double params = (double)(p->N + p->embedding + p->unembedding);
    double per_token = 0;
    int ft = shape_ffn_t(s);
    if (s->family == FAMILY_DENSE) {
        per_token = s->n_layers * (16.0 * s->d_t + 2.0 * ft);
    } else {
        int fc = shape_ffn_c(s);
        per_token = (s->n_enc + s->n_dec + 1) * (16.0 * s->d_t + 2.0 * ft) +
                    s->n_con * (16.0 * s->d_c + 2.0 * fc) / s->R + 4.0 * s->d_t;
    }
    per_token += 2.0 * s->vocab; /* logits and their gradient */
    return 16.0 * params + 4.0 * per_token * (double)batch_tokens + 256.0 * 1024 * 1024;
}

/* Sets one trainer key of a planned run's config; the planner's own values cannot be bad unless
 * the sweep file is, so the message names the sweep file. */
static int set_key(TrainConfig *cfg, ConfigSources *src, const char *key, const char *value, const char *where, char *err, int errlen)
{
    char inner[512];
    if (config_set_kv(cfg, src, key, value, where, inner, sizeof inner)) {
        snprintf(err, errlen, "%s", inner);
        return -1;
    }
    return 0;
}

static int set_int(TrainConfig *cfg, ConfigSources *src, const char *key, long long v, const char *where, char *err, int errlen)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", v);
    return set_key(cfg, src, key, text, where, err, errlen);
}

static int set_double(TrainConfig *cfg, ConfigSources *src, const char *key, double v, const char *where, char *err, int errlen)
{
    char text[40];
    snprintf(text, sizeof text, "%.17g", v);
    return set_key(cfg, src, key, text, where, err, errlen);
}

/* The run's config, as dlcm-train reads it: its defaults, the planned shape, seed, LR and step
 * counts, then the sweep file's trainer settings, and the sweep's name (part of the run id, so the
 * same model in two sweeps is two runs). Written by the one serializer (config_planned_text), so
 * the run id here is the one dlcm-train --print-run-id derives from the same file. 0 or -1. */
static int planned_config(const SweepSpec *spec, PlannedRun *run, char *err, int errlen)
{
    TrainConfig cfg = train_config_default();
    /* Where each key was set, so that the trainer's checks tell a default from a setting. */
    ConfigSources *src = config_sources_create();
    if (!src) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const ModelShape *s = &run->shape;
    int64_t sequences = run->tokens / run->steps / s->seq_len;
    char where[600];
    snprintf(where, sizeof where, "%s", spec->file);
    int bad = set_key(&cfg, src, "model.family", sweep_family_name(s->family), where, err, errlen) ||
              set_key(&cfg, src, "model.parametrization", sweep_param_name(run->param), where, err, errlen) ||
              set_int(&cfg, src, "model.vocab", s->vocab, where, err, errlen) ||
              set_int(&cfg, src, "model.seq_len", s->seq_len, where, err, errlen) ||
              set_int(&cfg, src, "model.d_t", s->d_t, where, err, errlen) ||
              set_int(&cfg, src, "model.ffn_t", shape_ffn_t(s), where, err, errlen);
    if (!bad && s->family == FAMILY_DENSE)
        bad = set_int(&cfg, src, "model.n_layers", s->n_layers, where, err, errlen);
    else if (!bad)
        bad = set_int(&cfg, src, "model.d_c", s->d_c, where, err, errlen) ||
              set_int(&cfg, src, "model.n_enc", s->n_enc, where, err, errlen) ||
              set_int(&cfg, src, "model.n_con", s->n_con, where, err, errlen) ||
              set_int(&cfg, src, "model.n_dec", s->n_dec, where, err, errlen) ||
              set_int(&cfg, src, "model.ffn_c", shape_ffn_c(s), where, err, errlen) ||
              set_double(&cfg, src, "model.R", s->R, where, err, errlen);
    bad = bad || set_int(&cfg, src, "run.seed", run->seed, where, err, errlen) ||
          set_double(&cfg, src, "optim.lr", run->lr, where, err, errlen) ||
          set_int(&cfg, src, "train.batch", sequences / spec->grad_accum, where, err, errlen) ||
          set_int(&cfg, src, "train.grad_accum", spec->grad_accum, where, err, errlen) ||
          set_int(&cfg, src, "train.steps", run->steps, where, err, errlen);
    for (int i = 0; !bad && i < spec->n_trainer; i++) {
        snprintf(where, sizeof where, "%s:%d", spec->file, spec->trainer[i].line);
        bad = set_key(&cfg, src, spec->trainer[i].key, spec->trainer[i].value, where, err, errlen);
    }
    /* A family's own settings (a dense partner has its DLCM's). */
    const SweepFamily *fam = &spec->families[run->family_index >= 0 ? run->family_index : run->partner_of_family];
    for (int i = 0; !bad && i < fam->n_trainer; i++) {
        snprintf(where, sizeof where, "%s:%d", spec->file, fam->trainer[i].line);
        bad = set_key(&cfg, src, fam->trainer[i].key, fam->trainer[i].value, where, err, errlen);
    }
    bad = bad || set_key(&cfg, src, "run.sweep", spec->name, spec->file, err, errlen);
    char inner[512];
    run->config = bad ? NULL : config_planned_text(&cfg, src, run->id, inner, sizeof inner);
    config_sources_destroy(src);
    if (bad) return -1;
    if (!run->config) {
        char desc[160];
        shape_describe(s, desc, sizeof desc);
        snprintf(err, errlen, "%s: the run config of %s is refused by the trainer's checks: %s", spec->file, desc, inner);
        return -1;
    }
    return 0;
}

/* The trainer setting with this dotted key for a family's runs (the family's own first), or NULL. */
static const SweepTrainerSetting *trainer_setting(const SweepSpec *spec, const SweepFamily *fam, const char *key)
{
    for (int i = 0; i < fam->n_trainer; i++)
        if (strcmp(fam->trainer[i].key, key) == 0) return &fam->trainer[i];
    for (int i = 0; i < spec->n_trainer; i++)
        if (strcmp(spec->trainer[i].key, key) == 0) return &spec->trainer[i];
    return NULL;
}

static const SweepList *pick(const SweepList *family_list, const SweepList *sweep_list)
{
    return family_list->n ? family_list : sweep_list;
}

/* A list of one unset value, for axes that do not apply. */
static const SweepList *unset_axis(void)
{
    static SweepList one = {.n = 1, .v = {0}};
    return &one;
}

static int find_run(const SweepPlan *plan, const char *id)
{
    for (int i = 0; i < plan->n; i++)
        if (strcmp(plan->runs[i].id, id) == 0) return i;
    return -1;
}

static int add_run(SweepPlan *plan, int *cap, const PlannedRun *run)
{
    if (find_run(plan, run->id) >= 0) return 0; /* a repeated list value: one run */
    if (plan->n == *cap) {
        int grown_cap = *cap ? *cap * 2 : 64;
        PlannedRun *grown = realloc(plan->runs, (size_t)grown_cap * sizeof *grown);
        if (!grown) return -1;
        plan->runs = grown;
        *cap = grown_cap;
    }
    plan->runs[plan->n++] = *run;
    return 1;
}

/* Expands one shape over budgets (or tokens), parametrizations, LRs and seeds. */
static int expand_shape(const SweepSpec *spec, int fi, const ModelShape *shape, double target_N,
                        double target_P, SweepPlan *plan, int *cap, char *err, int errlen)
{
    const SweepFamily *fam = &spec->families[fi];
    ShapeParams params;
    char inner[256], desc[160];
    shape_describe(shape, desc, sizeof desc);
    if (shape_params(shape, &params, inner, sizeof inner)) {
        snprintf(err, errlen, "%s:%d: family: impossible shape (%s): %s", spec->file, fam->line, desc, inner);
        return -1;
    }
    /* A degenerate DLCM (no decoder, a backbone no wider than the token stacks) is not the
     * architecture the study claims to measure: the point is refused rather than trained. A μP
     * check that scales d_t alone needs a fixed backbone narrower than its widest token stack
     * (else the backbone, not d_t, sets the optimal LR): allow_narrow_backbone lifts the width
     * rule for it, never the decoder rule. */
    double width_ratio = spec->allow_narrow_backbone ? 0 : spec->rule.concept_width_ratio;
    if (shape_check_dlcm_proportions(shape, width_ratio, inner, sizeof inner)) {
        snprintf(err, errlen, "%s:%d: family: refused %s: %s", spec->file, fam->line, desc, inner);
        return -1;
    }
    double fwd = shape_fwd_flops_per_token(shape, shape->R);
    double train = shape_train_flops_per_token(shape, shape->R);
    const SweepList *budgets = pick(&fam->budgets, &spec->budgets);
    const SweepList *tokens = pick(&fam->tokens, &spec->tokens);
    int use_budget = fam->budgets.n || (!fam->tokens.n && spec->budgets.n);
    const SweepList *amounts = use_budget ? budgets : tokens;
    const SweepList *lrs = spec->lr.n || fam->lr.n ? pick(&fam->lr, &spec->lr) : NULL;
    const SweepList *seeds = pick(&fam->seed, &spec->seed);
    int n_param = fam->n_param ? fam->n_param : spec->n_param;
    const SweepParametrization *params_list = fam->n_param ? fam->param : spec->param;
    if (!lrs) {
        snprintf(err, errlen, "%s:%d: lr: missing (set lr at the top level or in the family)", spec->file, fam->line);
        return -1;
    }
    for (int a = 0; a < amounts->n; a++) {
        PlannedRun run;
        memset(&run, 0, sizeof run);
        run.family_index = fi;
        run.shape = *shape;
        run.params = params;
        run.target_N = target_N;
        run.target_P = target_P;
        run.fwd_flops_per_token = fwd;
        run.train_flops_per_token = train;
        double wanted_tokens = use_budget ? amounts->v[a] / train : amounts->v[a];
        double steps_exact = wanted_tokens / (double)spec->batch_tokens;
        /* llround of a value past int64 is undefined (it came out negative, read as "too small"). */
        if (!(steps_exact * (double)spec->batch_tokens < 9.007199254740992e15)) {
            snprintf(err, errlen,
                     "%s:%d: %s: %g needs %.3g tokens for %s, more than one run can train (2^53 tokens)",
                     spec->file, amounts->lines[a], use_budget ? "budgets" : "tokens", amounts->v[a],
                     wanted_tokens, desc);
            return -1;
        }
        int64_t steps = (int64_t)llround(steps_exact);
        if (steps < 1) {
            snprintf(err, errlen,
                     "%s:%d: %s: %g is too small for one optimizer step of %s (one step of %lld tokens costs %.3g FLOPs)",
                     spec->file, amounts->lines[a], use_budget ? "budgets" : "tokens", amounts->v[a], desc,
                     (long long)spec->batch_tokens, train * (double)spec->batch_tokens);
            return -1;
        }
        run.steps = steps;
        run.tokens = steps * spec->batch_tokens;
        run.train_flops = train * (double)run.tokens;
        run.has_budget = use_budget;
        run.budget = use_budget ? amounts->v[a] : run.train_flops;
        run.deviation = (run.train_flops - run.budget) / run.budget;
        if (use_budget && fabs(run.deviation) > spec->max_deviation) {
            snprintf(err, errlen,
                     "%s:%d: budgets: %g cannot be matched within %g%% by %s: %lld steps of %lld tokens give %.4g FLOPs (%+.2f%%); raise the budget or lower batch_tokens",
                     spec->file, amounts->lines[a], amounts->v[a], spec->max_deviation * 100, desc, (long long)steps,
                     (long long)spec->batch_tokens, run.train_flops, run.deviation * 100);
            return -1;
        }
        /* The trainer rejects a warm-up it was given that exceeds the run (its default shrinks). */
        const SweepTrainerSetting *warmup = trainer_setting(spec, fam, "schedule.warmup");
        if (warmup && atoll(warmup->value) > steps) {
            snprintf(err, errlen,
                     "%s:%d: schedule.warmup: %s warm-up steps, but %s at %s %g has only %lld optimizer steps; lower the warm-up or raise the %s",
                     spec->file, warmup->line, warmup->value, desc, use_budget ? "budget" : "tokens", amounts->v[a],
                     (long long)steps, use_budget ? "budget" : "tokens");
            return -1;
        }
        run.est_memory_bytes = sweep_estimate_memory(shape, spec->batch_tokens);
        run.epochs = NAN;
        for (int p = 0; p < n_param; p++)
            for (int l = 0; l < lrs->n; l++)
                for (int s = 0; s < seeds->n; s++) {
                    PlannedRun r = run;
                    r.param = params_list[p];
                    r.lr = lrs->v[l];
                    r.seed = (int64_t)seeds->v[s];
                    if (planned_config(spec, &r, err, errlen)) return -1;
                    int added = add_run(plan, cap, &r);
                    if (added <= 0) free(r.config);
                    if (added < 0) { snprintf(err, errlen, "out of memory"); return -1; }
                }
    }
    return 0;
}

static int expand_family(const SweepSpec *spec, int fi, SweepPlan *plan, int *cap, char *err, int errlen)
{
    const SweepFamily *fam = &spec->families[fi];
    ModelShape base;
    memset(&base, 0, sizeof base);
    base.family = fam->family;
    base.vocab = spec->vocab;
    base.seq_len = spec->seq_len;
    int dlcm = fam->family == FAMILY_DLCM;
    const SweepList *Rs = dlcm ? &fam->R : unset_axis();
    char inner[256];

    if (fam->N.n) { /* solve mode */
        const SweepList *Ps = dlcm ? &fam->P : unset_axis();
        for (int i = 0; i < fam->N.n; i++)
            for (int j = 0; j < Ps->n; j++)
                for (int k = 0; k < Rs->n; k++) {
                    ModelShape want = base, got;
                    want.R = dlcm ? Rs->v[k] : 0;
                    if (shape_solve(&want, fam->N.v[i], Ps->v[j], &spec->rule, &got, inner, sizeof inner)) {
                        snprintf(err, errlen, "%s:%d: N: %s", spec->file, fam->N.lines[i], inner);
                        return -1;
                    }
                    if (expand_shape(spec, fi, &got, fam->N.v[i], dlcm ? Ps->v[j] : 0, plan, cap, err, errlen)) return -1;
                }
        return 0;
    }
    /* grid mode: the cross product of every given axis */
    const SweepList *one = unset_axis();
    const SweepList *dts = &fam->d_t;
    const SweepList *dcs = dlcm ? (fam->d_c.n ? &fam->d_c : &fam->d_c_ratio) : one;
    const SweepList *layers = dlcm ? one : &fam->n_layers;
    const SweepList *encs = dlcm ? &fam->n_enc : one, *cons = dlcm ? &fam->n_con : one, *decs = dlcm ? &fam->n_dec : one;
    const SweepList *fts = fam->ffn_t.n ? &fam->ffn_t : one, *fcs = fam->ffn_c.n ? &fam->ffn_c : one;
    for (int a = 0; a < dts->n; a++)
        for (int b = 0; b < dcs->n; b++)
            for (int c = 0; c < layers->n; c++)
                for (int d = 0; d < encs->n; d++)
                    for (int e = 0; e < cons->n; e++)
                        for (int f = 0; f < decs->n; f++)
                            for (int g = 0; g < fts->n; g++)
                                for (int h = 0; h < fcs->n; h++)
                                    for (int k = 0; k < Rs->n; k++) {
                                        ModelShape s = base;
                                        s.d_t = (int)dts->v[a];
                                        if (dlcm) {
                                            if (fam->d_c.n) {
                                                s.d_c = (int)dcs->v[b];
                                            } else {
                                                double w = dcs->v[b] * s.d_t;
                                                if (fmod(w, SHAPE_HEAD_DIM) != 0) {
                                                    snprintf(err, errlen, "%s:%d: d_c_ratio: %g x d_t %d = %g is not a multiple of 64",
                                                             spec->file, fam->d_c_ratio.lines[b], dcs->v[b], s.d_t, w);
                                                    return -1;
                                                }
                                                s.d_c = (int)w;
                                            }
                                            s.n_enc = (int)encs->v[d];
                                            s.n_con = (int)cons->v[e];
                                            s.n_dec = (int)decs->v[f];
                                            s.ffn_c = (int)fcs->v[h];
                                            s.R = Rs->v[k];
                                        } else {
                                            s.n_layers = (int)layers->v[c];
                                        }
                                        s.ffn_t = (int)fts->v[g];
                                        if (shape_validate(&s, inner, sizeof inner)) {
                                            snprintf(err, errlen, "%s:%d: family: impossible shape: %s", spec->file, fam->line, inner);
                                            return -1;
                                        }
                                        if (expand_shape(spec, fi, &s, NAN, NAN, plan, cap, err, errlen)) return -1;
                                    }
    return 0;
}

/* Whether a family's DLCM runs get dense partners: its own inference_matched_dense, else the sweep's. */
static int wants_partners(const SweepSpec *spec, const SweepFamily *fam)
{
    return fam->inference_matched >= 0 ? fam->inference_matched : spec->inference_matched_dense;
}

/* For every DLCM run (of the families that ask), the dense run at the same inference FLOPs per token (within
 * SWEEP_PAIR_TOLERANCE) trained on the same tokens with the same LR, seed and parametrization:
 * the paper's comparison at matched inference cost. Dense runs two DLCMs share are planned once. */
static int pair_at_inference_flops(const SweepSpec *spec, SweepPlan *plan, int *cap, char *err, int errlen)
{
    int n_planned = plan->n;
    for (int i = 0; i < n_planned; i++) {
        if (plan->runs[i].shape.family != FAMILY_DLCM) continue;
        const SweepFamily *fam = &spec->families[plan->runs[i].family_index];
        if (!wants_partners(spec, fam)) continue;
        int line = fam->inference_matched >= 0 ? fam->inference_matched_line : spec->inference_matched_line;
        const PlannedRun *dlcm = &plan->runs[i];
        ModelShape dense;
        char inner[256], desc[160];
        if (shape_solve_dense_flops(&dlcm->shape, dlcm->fwd_flops_per_token, SWEEP_PAIR_TOLERANCE, &spec->rule, &dense,
                                    inner, sizeof inner)) {
            shape_describe(&dlcm->shape, desc, sizeof desc);
            snprintf(err, errlen, "%s:%d: inference_matched_dense: no dense partner for %s: %s", spec->file,
                     line, desc, inner);
            return -1;
        }
        PlannedRun run;
        memset(&run, 0, sizeof run);
        run.family_index = -1;
        run.partner_of_family = dlcm->family_index;
        run.shape = dense;
        if (shape_params(&dense, &run.params, inner, sizeof inner)) {
            snprintf(err, errlen, "%s: dense partner: %s", spec->file, inner);
            return -1;
        }
        run.target_N = run.target_P = NAN;
        run.fwd_flops_per_token = shape_fwd_flops_per_token(&dense, 1.0);
        run.train_flops_per_token = shape_train_flops_per_token(&dense, 1.0);
        run.steps = dlcm->steps;
        run.tokens = dlcm->tokens;
        run.train_flops = run.train_flops_per_token * (double)run.tokens;
        run.has_budget = 0;
        run.budget = run.train_flops;
        run.est_memory_bytes = sweep_estimate_memory(&dense, spec->batch_tokens);
        run.epochs = NAN;
        run.param = dlcm->param;
        run.lr = dlcm->lr;
        run.seed = dlcm->seed;
        if (planned_config(spec, &run, err, errlen)) return -1;
        int at = find_run(plan, run.id);
        if (at < 0) {
            if (add_run(plan, cap, &run) < 0) { free(run.config); snprintf(err, errlen, "out of memory"); return -1; }
            at = plan->n - 1;
        } else {
            free(run.config);
        }
        SweepPair *grown = realloc(plan->pairs, (size_t)(plan->n_pairs + 1) * sizeof *grown);
        if (!grown) { snprintf(err, errlen, "out of memory"); return -1; }
        plan->pairs = grown;
        plan->pairs[plan->n_pairs++] = (SweepPair){i, at};
    }
    return 0;
}

int sweep_plan(const SweepSpec *spec, SweepPlan *plan, char *err, int errlen)
{
    memset(plan, 0, sizeof *plan);
    plan->batch_tokens = spec->batch_tokens;
    int cap = 0;
    for (int fi = 0; fi < spec->n_families; fi++)
        if (expand_family(spec, fi, plan, &cap, err, errlen)) {
            sweep_plan_free(plan);
            return -1;
        }
    int any_pairs = 0;
    for (int fi = 0; fi < spec->n_families; fi++) any_pairs |= wants_partners(spec, &spec->families[fi]);
    if (any_pairs && pair_at_inference_flops(spec, plan, &cap, err, errlen)) {
        sweep_plan_free(plan);
        return -1;
    }
    return 0;
}

void sweep_plan_free(SweepPlan *plan)
{
    for (int i = 0; i < plan->n; i++) free(plan->runs[i].config);
    free(plan->runs);
    free(plan->pairs);
    memset(plan, 0, sizeof *plan);
}
