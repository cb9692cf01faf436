/* sweep/plan.c: the planner: grids and solved shapes crossed with budgets, parametrizations, LRs
 * and seeds; token counts rounded to whole steps and checked against the budget. All counting
 * goes through engine/shape.h (never re-derived here). */
#include "sweep/plan.h"

#include "data/fnv.h"
#include "engine/train/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sweep_family_name(ModelFamily f) { return f == FAMILY_DLCM ? "dlcm" : "dense"; }

void sweep_run_id(const char *config, char id[17])
{
    uint64_t h = fnv1a64(config, strlen(config), FNV1A64_INIT);
    snprintf(id, 17, "%016llx", (unsigned long long)h);
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

/* The resolved run config, in dlcm-train's dotted keys: everything the trainer needs, in a fixed
 * order, so equal runs hash equal. The comment lines (sweep, engine version) are part of the
 * hashed text. Numbers are printed with %.17g so the text round-trips exactly. */
static char *resolved_config(const SweepSpec *spec, const PlannedRun *run)
{
    size_t cap = 4096 + (size_t)spec->n_trainer * 340;
    char *text = malloc(cap);
    if (!text) return NULL;
    const ModelShape *s = &run->shape;
    int64_t sequences = run->tokens / run->steps / s->seq_len;
    int n = snprintf(text, cap,
                     "# dlcm run config, resolved by dlcm-sweep\n"
                     "# sweep: %s\n"
                     "# engine: %s\n"
                     "model.family: %s\n"
                     "model.parametrization: %s\n"
                     "model.vocab: %d\n"
                     "model.seq_len: %d\n"
                     "model.d_t: %d\n",
                     spec->name, DLCM_ENGINE_VERSION, sweep_family_name(s->family), sweep_param_name(run->param),
                     s->vocab, s->seq_len, s->d_t);
    if (s->family == FAMILY_DENSE)
        n += snprintf(text + n, cap - n, "model.n_layers: %d\nmodel.ffn_t: %d\n", s->n_layers, shape_ffn_t(s));
    else
        n += snprintf(text + n, cap - n,
                      "model.d_c: %d\nmodel.n_enc: %d\nmodel.n_con: %d\nmodel.n_dec: %d\nmodel.ffn_t: %d\n"
                      "model.ffn_c: %d\nmodel.R: %.17g\n",
                      s->d_c, s->n_enc, s->n_con, s->n_dec, shape_ffn_t(s), shape_ffn_c(s), s->R);
    n += snprintf(text + n, cap - n,
                  "run.seed: %lld\noptim.lr: %.17g\ntrain.batch: %lld\ntrain.grad_accum: %d\ntrain.steps: %lld\n",
                  (long long)run->seed, run->lr, (long long)(sequences / spec->grad_accum), spec->grad_accum,
                  (long long)run->steps);
    for (int i = 0; i < spec->n_trainer; i++)
        n += snprintf(text + n, cap - n, "%s: \"%s\"\n", spec->trainer[i].key, spec->trainer[i].value);
    return text;
}

/* The trainer setting with this dotted key, or NULL. */
static const SweepTrainerSetting *trainer_setting(const SweepSpec *spec, const char *key)
{
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

static int add_run(SweepPlan *plan, int *cap, const PlannedRun *run)
{
    for (int i = 0; i < plan->n; i++)
        if (strcmp(plan->runs[i].id, run->id) == 0) return 0; /* a repeated list value: one run */
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
        const SweepTrainerSetting *warmup = trainer_setting(spec, "schedule.warmup");
        if (warmup && atoll(warmup->value) > steps) {
            snprintf(err, errlen,
                     "%s:%d: schedule.warmup: %s warm-up steps, but %s at %s %g has only %lld optimizer steps; lower the warm-up or raise the %s",
                     spec->file, warmup->line, warmup->value, desc, use_budget ? "budget" : "tokens", amounts->v[a],
                     (long long)steps, use_budget ? "budget" : "tokens");
            return -1;
        }
        run.est_memory_bytes = sweep_estimate_memory(shape, spec->batch_tokens);
        for (int p = 0; p < n_param; p++)
            for (int l = 0; l < lrs->n; l++)
                for (int s = 0; s < seeds->n; s++) {
                    PlannedRun r = run;
                    r.param = params_list[p];
                    r.lr = lrs->v[l];
                    r.seed = (int64_t)seeds->v[s];
                    r.config = resolved_config(spec, &r);
                    if (!r.config) { snprintf(err, errlen, "out of memory"); return -1; }
                    sweep_run_id(r.config, r.id);
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
    return 0;
}

void sweep_plan_free(SweepPlan *plan)
{
    for (int i = 0; i < plan->n; i++) free(plan->runs[i].config);
    free(plan->runs);
    memset(plan, 0, sizeof *plan);
}
