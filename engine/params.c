/* engine/params.c: the tensor table of a dense or DLCM model: every parameter's name, shape,
 * place in the one parameter buffer, μP class and initialization (spec §1, §2, §4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model_internal.h"

/* Appends a tensor and returns its index. Like the backends' alloc, exits when out of memory. */
static int add_mixed_tensor(Model *m, const char *name, int rows, int cols, ParamClass cls,
                            ParamClass out_cls, InitKind init)
{
    if (m->n_tensors == m->cap_tensors) {
        int cap = m->cap_tensors ? 2 * m->cap_tensors : 64;
        ParamTensor *t = realloc(m->tensors, (size_t)cap * sizeof *t);
        if (!t) {
            fprintf(stderr, "dlcm model: out of memory building the tensor table\n");
            exit(1);
        }
        m->tensors = t;
        m->cap_tensors = cap;
    }
    ParamTensor *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = m->n_params;
    t->rows = rows;
    t->cols = cols;
    t->count = (size_t)rows * cols;
    t->cls = cls;
    t->out_cls = out_cls;
    t->is_matrix = rows > 1;
    mup_resolve(&m->cfg, t, init);
    m->n_params += t->count;
    return m->n_tensors++;
}

static int add_tensor(Model *m, const char *name, int rows, int cols, ParamClass cls, InitKind init)
{
    return add_mixed_tensor(m, name, rows, cols, cls, cls, init);
}

static int add_named(Model *m, const char *prefix, const char *suffix, int rows, int cols,
                     ParamClass cls, InitKind init)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    return add_tensor(m, name, rows, cols, cls, init);
}

/* A pre-norm block at width d with FFN f; its matrices are of class `cls`. */
static BlockParams add_block(Model *m, const char *prefix, int d, int f, ParamClass cls)
{
    BlockParams p;
    p.attn_norm = add_named(m, prefix, "attn_norm", 1, d, PCLASS_VECTOR, INIT_ONES);
    p.w_qkv = add_named(m, prefix, "attn.w_qkv", 3 * d, d, cls, INIT_NORMAL);
    p.q_norm = add_named(m, prefix, "attn.q_norm", 1, SHAPE_HEAD_DIM, PCLASS_VECTOR, INIT_ONES);
    p.k_norm = add_named(m, prefix, "attn.k_norm", 1, SHAPE_HEAD_DIM, PCLASS_VECTOR, INIT_ONES);
    p.w_o = add_named(m, prefix, "attn.w_o", d, d, cls, INIT_NORMAL);
    p.ffn_norm = add_named(m, prefix, "ffn_norm", 1, d, PCLASS_VECTOR, INIT_ONES);
    p.w_gate_up = add_named(m, prefix, "ffn.w_gate_up", 2 * f, d, cls, INIT_NORMAL);
    p.w_down = add_named(m, prefix, "ffn.w_down", d, f, cls, INIT_NORMAL);
    return p;
}

static void add_stack(Model *m, const char *stack, int count, int d, int f, ParamClass cls)
{
    for (int i = 0; i < count; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%s.%d", stack, i);
        m->blocks[m->n_blocks++] = add_block(m, prefix, d, f, cls);
    }
}

int params_build(Model *m, char *err, int errlen)
{
    const ModelShape *s = &m->cfg.shape;
    int dt = m->dt, dc = m->dc;
    int total_blocks = s->family == FAMILY_DENSE ? s->n_layers : s->n_enc + s->n_con + s->n_dec;
    m->blocks = calloc((size_t)total_blocks, sizeof *m->blocks);
    if (!m->blocks) { snprintf(err, errlen, "out of memory"); return -1; }
    m->embed = add_tensor(m, "embed", m->V, dt, PCLASS_EMBEDDING, INIT_NORMAL);
    if (s->family == FAMILY_DENSE) {
        add_stack(m, "layer", s->n_layers, dt, m->ft, PCLASS_TOKEN_HIDDEN);
    } else {
        m->first_enc = m->n_blocks;
        add_stack(m, "enc", s->n_enc, dt, m->ft, PCLASS_TOKEN_HIDDEN);
        m->router_wq = add_tensor(m, "router.w_q", dt, dt, PCLASS_TOKEN_HIDDEN, INIT_IDENTITY);
        m->router_wk = add_tensor(m, "router.w_k", dt, dt, PCLASS_TOKEN_HIDDEN, INIT_IDENTITY);
        /* mixed-width matrices take the class of their fan-in (spec §4); their fan-out class
         * sets the init of a readout (mup.c) */
        m->w_up = add_mixed_tensor(m, "w_up", dc, dt, PCLASS_TOKEN_HIDDEN, PCLASS_CONCEPT_HIDDEN, INIT_UNIT_GAIN);
        m->first_con = m->n_blocks;
        add_stack(m, "backbone", s->n_con, dc, m->fc, PCLASS_CONCEPT_HIDDEN);
        XattnParams *x = &m->xattn;
        x->h_norm = add_tensor(m, "xattn.h_norm", 1, dt, PCLASS_VECTOR, INIT_ONES);
        x->z_norm = add_tensor(m, "xattn.z_norm", 1, dc, PCLASS_VECTOR, INIT_ONES);
        x->w_q = add_tensor(m, "xattn.w_q", dt, dt, PCLASS_TOKEN_HIDDEN, INIT_NORMAL);
        x->w_k = add_mixed_tensor(m, "xattn.w_k", dt, dc, PCLASS_CONCEPT_HIDDEN, PCLASS_TOKEN_HIDDEN, INIT_NORMAL);
        x->w_v = add_mixed_tensor(m, "xattn.w_v", dt, dc, PCLASS_CONCEPT_HIDDEN, PCLASS_TOKEN_HIDDEN, INIT_NORMAL);
        x->q_norm = add_tensor(m, "xattn.q_norm", 1, SHAPE_HEAD_DIM, PCLASS_VECTOR, INIT_ONES);
        x->k_norm = add_tensor(m, "xattn.k_norm", 1, SHAPE_HEAD_DIM, PCLASS_VECTOR, INIT_ONES);
        x->null_k = add_tensor(m, "xattn.null_k", 1, dt, PCLASS_VECTOR, INIT_NORMAL);
        x->null_v = add_tensor(m, "xattn.null_v", 1, dt, PCLASS_VECTOR, INIT_NORMAL);
        x->w_o = add_tensor(m, "xattn.w_o", dt, dt, PCLASS_TOKEN_HIDDEN, INIT_NORMAL);
        x->ffn_norm = add_tensor(m, "xattn.ffn_norm", 1, dt, PCLASS_VECTOR, INIT_ONES);
        x->w_gate_up = add_tensor(m, "xattn.ffn.w_gate_up", 2 * m->ft, dt, PCLASS_TOKEN_HIDDEN, INIT_NORMAL);
        x->w_down = add_tensor(m, "xattn.ffn.w_down", dt, m->ft, PCLASS_TOKEN_HIDDEN, INIT_NORMAL);
        m->first_dec = m->n_blocks;
        add_stack(m, "dec", s->n_dec, dt, m->ft, PCLASS_TOKEN_HIDDEN);
    }
    m->final_norm = add_tensor(m, "final_norm", 1, dt, PCLASS_VECTOR, INIT_ONES);
    m->unembed = add_tensor(m, "unembed", m->V, dt, PCLASS_UNEMBEDDING, INIT_NORMAL);
    return 0;
}
