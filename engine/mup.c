/* engine/mup.c: decoupled μP (spec §4): each tensor class's init std, AdamW LR and ε
 * multipliers and the logit scale, from the widths of the config; `sp` sets them all to 1.
 * LR and ε follow a matrix's fan-in class; the init also looks at its fan-out (readouts). */
#include <math.h>
#include <stdio.h>

#include "engine/model_internal.h"

/* The width ratio s of a class: s_token = d_t / d_base, s_concept = d_c / d_base (a dense
 * model's one width is d_t); 1 for the classes whose scale does not depend on width, and for
 * every class under sp. */
static double class_width_scale(const ModelConfig *cfg, ParamClass cls)
{
    if (cfg->parametrization == PARAMETRIZATION_SP) return 1.0;
    if (cls == PCLASS_TOKEN_HIDDEN) return (double)cfg->shape.d_t / cfg->d_base;
    if (cls == PCLASS_CONCEPT_HIDDEN) return (double)cfg->shape.d_c / cfg->d_base;
    return 1.0;
}

/* A matrix's init std is σ_base/√s_in · min(1, √(s_out/s_in)) for the width ratios of its
 * fan-in and fan-out. Hidden matrices (s_out = s_in) and matrices that widen (s_out > s_in)
 * get σ_base/√s_in. A matrix that narrows - the cross-attention's W_K, W_V reading a backbone
 * wider than the tokens, or W_up when the tokens are wider than the concepts - is a readout
 * of the wider stream: μP initializes it with std ∝ 1/fan_in. At 1/√fan_in its random
 * initial part dominates both its output's updates and the gradient it sends back: with d_t
 * = 128 and d_c alone from 128 to 512 the cross-attention output grew like d_c^0.09-0.19
 * (fixed and learned boundaries, two seed sets), and like d_c^-0.06-0.03 with this init;
 * with d_t = 64 (the decoupled test) d_c^0.13 before, d_c^0.05 with this init.
 * W_up differs from the spec's table in its base constant only (the exponent is the table's):
 * it reads the raw residual stream H, whose coordinates are the embedding's size (σ_base),
 * not an RMS-normalized input like every other hidden matrix. At σ_base/√s_token its gain on
 * the segment means is σ_base·√d_base (0.16-0.32), and the backbone's input C comes out 17
 * times smaller than its blocks' output, so C is made of W_up's updates, whose unaligned part
 * shrinks like 1/√d_t: with d_c fixed the backbone's output then grew like d_t^0.16 at widths
 * 128-512. W_up's base std is instead 1/√d_base, so under μP it starts at 1/√(d_base·s_token)
 * = 1/√d_t (a unit gain: C has the size of H's segment means; times the readout factor
 * above when the tokens are wider than the concepts) and under sp at 1/√d_base; that halves
 * the finite-width drift (the coordinate check in tests/test_engine_mup.c has
 * the numbers). */
static double init_width_factor(const ModelConfig *cfg, const ParamTensor *t)
{
    double s_in = class_width_scale(cfg, t->cls), s_out = class_width_scale(cfg, t->out_cls);
    return s_out < s_in ? sqrt(s_out / s_in) : 1.0;
}

void mup_resolve(const ModelConfig *cfg, ParamTensor *t, InitKind init)
{
    double s = class_width_scale(cfg, t->cls);
    t->lr_mult = (float)(1.0 / s);
    t->eps_mult = (float)(1.0 / s);
    t->init_std = 0.0f;
    t->init_value = 0.0f;
    t->init_identity = 0;
    if (init == INIT_ONES) {
        t->init_value = 1.0f;
    } else if (init == INIT_IDENTITY) {
        t->init_value = 1.0f;
        t->init_identity = 1;
    } else if (t->cls == PCLASS_TOKEN_HIDDEN || t->cls == PCLASS_CONCEPT_HIDDEN) {
        double base_std = init == INIT_UNIT_GAIN ? 1.0 / sqrt((double)cfg->d_base) : cfg->sigma_base;
        t->init_std = (float)(base_std / sqrt(s) * init_width_factor(cfg, t));
    } else { /* embedding, unembedding, the null concept */
        t->init_std = cfg->sigma_base;
    }
}

float mup_logit_scale(const ModelConfig *cfg)
{
    if (cfg->parametrization == PARAMETRIZATION_SP) return 1.0f;
    return (float)((double)cfg->d_base / cfg->shape.d_t);
}

int mup_check(const Model *m, char *err, int errlen)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const ParamTensor *t = &m->tensors[i];
        if ((int)t->cls < PCLASS_TOKEN_HIDDEN || (int)t->cls > PCLASS_VECTOR) {
            snprintf(err, errlen, "tensor %s has no μP class", t->name);
            return -1;
        }
        if (!(t->lr_mult > 0) || !(t->eps_mult > 0) || !isfinite(t->lr_mult)) {
            snprintf(err, errlen, "tensor %s has no μP multipliers", t->name);
            return -1;
        }
        if (t->init_std == 0.0f && t->init_value == 0.0f) {
            snprintf(err, errlen, "tensor %s has no initialization", t->name);
            return -1;
        }
    }
    return 0;
}
