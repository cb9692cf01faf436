/* engine/optim.c: AdamW over the model's tensors with μP per-tensor LR and ε multipliers,
 * decoupled weight decay on matrices (coupled to the LR multiplier, or width-independent),
 * and clipping by the global gradient norm computed on the device (no host round trip). */
#include "engine/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/model_internal.h"

struct Optimizer {
    Model *model;
    OptimConfig cfg;
    float *m, *v;         /* first and second moments, one buffer each */
    float *norm_sq;       /* device scalars: squared global gradient norm, clip factor */
    float *clip_factor;
    AdamwGroup *groups;   /* one per tensor, backend memory, uploaded at creation */
    int n_groups;
    int steps_done;
};

OptimConfig optim_config_default(void)
{
    OptimConfig c;
    c.lr_token = 3e-3f;
    c.lr_concept = 3e-3f; /* η_concept = η_token by default (spec §4) */
    c.lr_other = 3e-3f;
    c.beta1 = 0.9f;
    c.beta2 = 0.95f;
    c.eps = 1e-8f;
    c.weight_decay = 0.1f;
    c.wd_mode = WD_COUPLED;
    c.clip = 1.0f;
    return c;
}

static float class_lr(const OptimConfig *c, ParamClass cls)
{
    if (cls == PCLASS_TOKEN_HIDDEN) return c->lr_token;
    if (cls == PCLASS_CONCEPT_HIDDEN) return c->lr_concept;
    return c->lr_other;
}

Optimizer *optim_create(Model *m, const OptimConfig *cfg, char *err, int errlen)
{
    if (!(cfg->lr_token >= 0) || !(cfg->lr_concept >= 0) || !(cfg->lr_other >= 0)) {
        snprintf(err, errlen, "learning rates must be >= 0");
        return NULL;
    }
    if (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1)) {
        snprintf(err, errlen, "beta1 and beta2 must be in [0, 1) (got %g, %g)", cfg->beta1, cfg->beta2);
        return NULL;
    }
    if (!(cfg->eps > 0)) { snprintf(err, errlen, "eps must be positive (got %g)", cfg->eps); return NULL; }
    if (!(cfg->weight_decay >= 0)) {
        snprintf(err, errlen, "weight_decay must be >= 0 (got %g)", cfg->weight_decay);
        return NULL;
    }
    if ((unsigned)cfg->wd_mode > WD_INDEPENDENT) {
        snprintf(err, errlen, "unknown wd_mode %d", (int)cfg->wd_mode);
        return NULL;
    }
    Optimizer *o = calloc(1, sizeof *o);
    if (!o) { snprintf(err, errlen, "out of memory"); return NULL; }
    Backend *be = model_backend(m);
    size_t bytes = model_num_params(m) * sizeof(float);
    o->model = m;
    o->cfg = *cfg;
    o->m = be->alloc(be, bytes);
    o->v = be->alloc(be, bytes);
    o->norm_sq = be->alloc(be, 2 * sizeof(float));
    o->clip_factor = o->norm_sq + 1;
    /* the per-tensor μP learning rates, ε and decay as one table, so the update of all
     * tensors is one launch; only the schedule's factor changes from step to step */
    o->n_groups = model_num_tensors(m);
    AdamwGroup *table = calloc((size_t)o->n_groups + 1, sizeof *table);
    if (!table) { optim_destroy(o); snprintf(err, errlen, "out of memory"); return NULL; }
    for (int i = 0; i < o->n_groups; i++) {
        const ParamTensor *t = model_tensor(m, i);
        table[i].offset = t->offset;
        table[i].count = t->count;
        table[i].lr = class_lr(cfg, t->cls) * t->lr_mult;
        table[i].eps = cfg->eps * t->eps_mult;
        if (t->is_matrix)
            table[i].weight_decay = cfg->wd_mode == WD_INDEPENDENT ? cfg->weight_decay / t->lr_mult
                                                                   : cfg->weight_decay;
    }
    o->groups = be->alloc(be, ((size_t)o->n_groups + 1) * sizeof *table);
    be->upload(be, o->groups, table, (size_t)o->n_groups * sizeof *table);
    free(table);
    return o;
}

void optim_destroy(Optimizer *o)
{
    if (!o) return;
    Backend *be = model_backend(o->model);
    be->free(be, o->m);
    be->free(be, o->v);
    be->free(be, o->norm_sq);
    if (o->groups) be->free(be, o->groups);
    free(o);
}

void optim_step(Optimizer *o, float lr_factor)
{
    Model *m = o->model;
    Backend *be = m->be;
    const OptimConfig *c = &o->cfg;
    be->zero(be, o->norm_sq, sizeof(float));
    be->sum_squares_f32(be, o->norm_sq, m->grads, m->n_params);
    be->clip_scale(be, o->clip_factor, o->norm_sq, c->clip);
    o->steps_done++;
    void *act = m->weights_alias ? NULL : m->weights;
    be->adamw(be, m->params, act, m->grads, o->m, o->v, m->n_params, o->groups, o->n_groups,
              lr_factor, c->beta1, c->beta2, o->steps_done, o->clip_factor);
}

float *optim_m(Optimizer *o) { return o->m; }
float *optim_v(Optimizer *o) { return o->v; }
int optim_steps_done(const Optimizer *o) { return o->steps_done; }
void optim_set_steps_done(Optimizer *o, int t) { o->steps_done = t; }

double optim_last_grad_norm(Optimizer *o)
{
    float norm_sq;
    Backend *be = model_backend(o->model);
    be->download(be, &norm_sq, o->norm_sq, sizeof norm_sq);
    return sqrt((double)norm_sq);
}
