/* engine/block.c: the pre-norm Transformer block (spec §1) forward and backward, written top
 * to bottom over backend ops: RMSNorm, fused QKV, QK-RMSNorm + RoPE, causal attention, W_O,
 * residual, RMSNorm, fused SwiGLU, W_down, residual. Also the linear layer both stages use. */
#include <math.h>

#include "engine/model_internal.h"

#define HD SHAPE_HEAD_DIM

void linear_forward(Model *m, void *y, const void *x, int w, int rows, int in, int out,
                    int accumulate)
{
    m->be->gemm(m->be, 0, 1, rows, out, in, 1.0f, x, in, weight(m, w), in,
                accumulate ? 1.0f : 0.0f, y, out, 0);
}

void linear_backward(Model *m, void *dx, const void *dy, const void *x, int w, int rows, int in,
                     int out, int accumulate_dx)
{
    Backend *be = m->be;
    if (dx)
        be->gemm(be, 0, 0, rows, in, out, 1.0f, dy, out, weight(m, w), in,
                 accumulate_dx ? 1.0f : 0.0f, dx, in, 0);
    be->gemm(be, 1, 0, out, in, rows, 1.0f, dy, out, x, in, 1.0f, grad(m, w), in, 1);
}

static void *act_alloc(Model *m, size_t elems) { return m->be->alloc(m->be, elems * m->be->act_size); }
static float *f32_alloc(Model *m, size_t elems) { return m->be->alloc(m->be, elems * sizeof(float)); }

void ffn_acts_alloc(Model *m, FfnActs *a, int rows, int d, int f)
{
    a->ln = act_alloc(m, (size_t)rows * d);
    a->rstd = f32_alloc(m, rows);
    a->gate_up = act_alloc(m, (size_t)rows * 2 * f);
    a->hidden = act_alloc(m, (size_t)rows * f);
    a->x_out = act_alloc(m, (size_t)rows * d);
}

void block_acts_alloc(Model *m, BlockActs *a, int rows, int d, int f)
{
    a->d = d;
    a->f = f;
    a->H = d / HD;
    a->ln1 = act_alloc(m, (size_t)rows * d);
    a->rstd1 = f32_alloc(m, rows);
    a->qkv = act_alloc(m, (size_t)rows * 3 * d);
    a->q = act_alloc(m, (size_t)rows * d);
    a->k = act_alloc(m, (size_t)rows * d);
    a->rstd_q = f32_alloc(m, (size_t)rows * a->H);
    a->rstd_k = f32_alloc(m, (size_t)rows * a->H);
    a->att = act_alloc(m, (size_t)rows * d);
    a->lse = f32_alloc(m, (size_t)rows * a->H);
    a->x_mid = act_alloc(m, (size_t)rows * d);
    ffn_acts_alloc(m, &a->ffn, rows, d, f);
}

void ffn_forward(Model *m, int norm, int w_gate_up, int w_down, FfnActs *a, const void *x_in,
                 void *x_out, int rows, int d, int f)
{
    Backend *be = m->be;
    be->rmsnorm_forward(be, a->ln, a->rstd, x_in, weight(m, norm), rows, d, m->cfg.norm_eps);
    linear_forward(m, a->gate_up, a->ln, w_gate_up, rows, d, 2 * f, 0);
    be->swiglu_forward(be, a->hidden, a->gate_up, rows, f);
    be->copy(be, x_out, x_in, (size_t)rows * d * be->act_size);
    linear_forward(m, x_out, a->hidden, w_down, rows, f, d, 1);
}

void ffn_backward(Model *m, int norm, int w_gate_up, int w_down, FfnActs *a, const void *x_in,
                  void *d_x, int rows, int d, int f)
{
    Backend *be = m->be;
    linear_backward(m, m->s_dhidden, d_x, a->hidden, w_down, rows, f, d, 0);
    be->swiglu_backward(be, m->s_dgate_up, m->s_dhidden, a->gate_up, rows, f);
    linear_backward(m, m->s_dnormed, m->s_dgate_up, a->ln, w_gate_up, rows, d, 2 * f, 0);
    /* the residual passes d_x through; the norm adds its part */
    be->rmsnorm_backward(be, d_x, grad(m, norm), m->s_dnormed, x_in, weight(m, norm), a->rstd, rows, d);
}

static AttnShape self_attention_shape(int B, int T, int d)
{
    AttnShape s = {0};
    s.B = B;
    s.Tq = s.Tk = T;
    s.H = d / HD;
    s.q_stride = d;       /* normalized heads are contiguous */
    s.k_stride = d;
    s.v_stride = 3 * d;   /* v is read in place from the fused qkv rows */
    s.o_stride = d;
    s.scale = 1.0f / sqrtf((float)HD);
    return s;
}

/* packed_rows > 0: the concept backbone, whose rows are packed (engine/ops.h concepts_pack:
 * the real concepts of the B sequences one after another, then zero rows up to packed_rows).
 * Norms, projections and the SwiGLU half run on the packed rows; the QK norms, RoPE over the
 * concept index and the causal attention run on the padded [B][T = M] layout, converted to
 * and from around them. a->qkv and a->att hold the padded layout (what the attention's
 * backward reads); the packed ones pass through gradient scratch that forward leaves unused.
 * The output is a->x_packed, and padded in a->ffn.x_out. */
void block_forward(Model *m, const BlockParams *p, BlockActs *a, const void *x_in, int B, int T,
                   int use_rope, int packed_rows)
{
    Backend *be = m->be;
    int rows = packed_rows > 0 ? packed_rows : B * T, d = a->d;
    float eps = m->cfg.norm_eps;
    be->rmsnorm_forward(be, a->ln1, a->rstd1, x_in, weight(m, p->attn_norm), rows, d, eps);
    if (packed_rows > 0) {
        linear_forward(m, m->s_dqkv, a->ln1, p->w_qkv, rows, d, 3 * d, 0);
        be->concepts_pad(be, a->qkv, m->s_dqkv, m->counts, B, T, 3 * d);
    } else {
        linear_forward(m, a->qkv, a->ln1, p->w_qkv, rows, d, 3 * d, 0);
    }
    be->head_norm_rope_forward(be, a->q, a->rstd_q, a->qkv, 3 * d, weight(m, p->q_norm), B, T,
                               a->H, use_rope, eps);
    be->head_norm_rope_forward(be, a->k, a->rstd_k, act_at(m, a->qkv, d), 3 * d,
                               weight(m, p->k_norm), B, T, a->H, use_rope, eps);
    AttnShape s = self_attention_shape(B, T, d);
    be->attention_forward(be, a->att, a->lse, a->q, a->k, act_at(m, a->qkv, 2 * (size_t)d), &s);
    const void *att = a->att;
    if (packed_rows > 0) {
        be->concepts_pack(be, m->s_datt, a->att, m->counts, B, T, rows, d);
        att = m->s_datt;
    }
    be->copy(be, a->x_mid, x_in, (size_t)rows * d * be->act_size);
    linear_forward(m, a->x_mid, att, p->w_o, rows, d, d, 1);
    if (packed_rows > 0) {
        ffn_forward(m, p->ffn_norm, p->w_gate_up, p->w_down, &a->ffn, a->x_mid, a->x_packed, rows, d, a->f);
        be->concepts_pad(be, a->ffn.x_out, a->x_packed, m->counts, B, T, d);
    } else {
        ffn_forward(m, p->ffn_norm, p->w_gate_up, p->w_down, &a->ffn, a->x_mid, a->ffn.x_out, rows, d, a->f);
    }
}

void block_backward(Model *m, const BlockParams *p, BlockActs *a, const void *x_in, void *d_x,
                    int B, int T, int use_rope, int packed_rows)
{
    Backend *be = m->be;
    int rows = packed_rows > 0 ? packed_rows : B * T, d = a->d;
    size_t padded_bytes = (size_t)B * T * d * be->act_size;
    ffn_backward(m, p->ffn_norm, p->w_gate_up, p->w_down, &a->ffn, a->x_mid, d_x, rows, d, a->f);
    /* d_x is now the gradient w.r.t. x_mid */
    if (packed_rows > 0) {
        /* W_o's input in packed rows (s_dq, zeroed below), its gradient padded for the attention */
        be->concepts_pack(be, m->s_dq, a->att, m->counts, B, T, rows, d);
        linear_backward(m, m->s_dnormed, d_x, m->s_dq, p->w_o, rows, d, d, 0);
        be->concepts_pad(be, m->s_datt, m->s_dnormed, m->counts, B, T, d);
    } else {
        linear_backward(m, m->s_datt, d_x, a->att, p->w_o, rows, d, d, 0);
    }
    be->zero(be, m->s_dq, padded_bytes);
    be->zero(be, m->s_dk, padded_bytes);
    be->zero(be, m->s_dqkv, 3 * padded_bytes);
    AttnShape s = self_attention_shape(B, T, d);
    be->attention_backward(be, m->s_dq, m->s_dk, act_at(m, m->s_dqkv, 2 * (size_t)d), NULL, NULL,
                           m->s_datt, a->att, a->lse, a->q, a->k, act_at(m, a->qkv, 2 * (size_t)d),
                           &s);
    be->head_norm_rope_backward(be, m->s_dqkv, 3 * d, grad(m, p->q_norm), m->s_dq, a->qkv, 3 * d,
                                weight(m, p->q_norm), a->rstd_q, B, T, a->H, use_rope);
    be->head_norm_rope_backward(be, act_at(m, m->s_dqkv, d), 3 * d, grad(m, p->k_norm), m->s_dk,
                                act_at(m, a->qkv, d), 3 * d, weight(m, p->k_norm), a->rstd_k, B,
                                T, a->H, use_rope);
    const void *dqkv = m->s_dqkv;
    if (packed_rows > 0) {
        be->concepts_pack(be, m->s_packed, m->s_dqkv, m->counts, B, T, rows, 3 * d);
        dqkv = m->s_packed;
    }
    linear_backward(m, m->s_dnormed, dqkv, a->ln1, p->w_qkv, rows, d, 3 * d, 0);
    be->rmsnorm_backward(be, d_x, grad(m, p->attn_norm), m->s_dnormed, x_in, weight(m, p->attn_norm),
                         a->rstd1, rows, d);
}
