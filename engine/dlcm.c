/* engine/dlcm.c: the DLCM stack (spec §2-§3), forward and backward in stage order: encoder
 * (H), router and boundaries, segment-mean pooling and W_up (C), concept backbone (Z), EMA
 * smoothing (Z~), the causal cross-attention block with the null concept, decoder; and the
 * Global Parser: the step's F and G over every micro-batch, its loss and its gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model_internal.h"

#define HD SHAPE_HEAD_DIM

/* ---- stage tensors ------------------------------------------------------------------------ */

/* H: the last encoder block's output [B*T][d_t]. */
static const void *stage_H(const Model *m) { return m->acts[m->first_con - 1].ffn.x_out; }
/* Z: the last backbone block's output, padded [B*M][d_c]. */
static const void *stage_Z(const Model *m) { return m->acts[m->first_dec - 1].ffn.x_out; }

const void *dlcm_output(const Model *m)
{
    return m->first_dec == m->n_blocks ? m->xa.ffn.x_out : m->acts[m->n_blocks - 1].ffn.x_out;
}

static int padded_concept_rows(const Model *m) { return m->B * m->M; }

/* The backbone's input: the first block's x_in, or the block before's packed output. */
static const void *backbone_input(const Model *m, int i)
{
    return i == m->first_con ? m->C : m->acts[i - 1].x_packed;
}

/* ---- buffers ------------------------------------------------------------------------------ */

static void *act_buffer(Model *m, size_t elems) { return m->be->alloc(m->be, elems * m->be->act_size); }
static float *f32_buffer(Model *m, size_t elems) { return m->be->alloc(m->be, elems * sizeof(float)); }
static int32_t *i32_buffer(Model *m, size_t elems) { return m->be->alloc(m->be, elems * sizeof(int32_t)); }

static void *host_buffer(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "dlcm model: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

void dlcm_alloc(Model *m)
{
    int N = m->B * m->T, dt = m->dt, dc = m->dc;
    m->rq = act_buffer(m, (size_t)N * dt);
    m->rk = act_buffer(m, (size_t)N * dt);
    m->p_router = f32_buffer(m, N);
    m->p_rule = f32_buffer(m, N);
    m->p_fixed = f32_buffer(m, N);
    m->dp = f32_buffer(m, N);
    m->bounds = i32_buffer(m, N);
    m->bounds_fixed = i32_buffer(m, N);
    m->seg = i32_buffer(m, N);
    m->starts = i32_buffer(m, N);
    m->counts = i32_buffer(m, m->B);
    m->key_count = i32_buffer(m, N);
    m->counts_host = host_buffer((size_t)m->B * sizeof(int32_t));
    m->p_host = host_buffer((size_t)N * sizeof(float));
    m->cmean = act_buffer(m, (size_t)N * dt);
    m->cmean_packed = act_buffer(m, (size_t)N * dt);
    m->s_packed = act_buffer(m, (size_t)N * 3 * dc);
    for (int i = m->first_con; i < m->first_dec; i++) m->acts[i].x_packed = act_buffer(m, (size_t)N * dc);
    m->C = act_buffer(m, (size_t)N * dc);
    m->Z_tilde = act_buffer(m, (size_t)N * dc);
    XattnActs *a = &m->xa;
    a->hn = act_buffer(m, (size_t)N * dt);
    a->rstd_h = f32_buffer(m, N);
    a->zn = act_buffer(m, (size_t)N * dc);
    a->rstd_z = f32_buffer(m, N);
    a->qx = act_buffer(m, (size_t)N * dt);
    a->kx = act_buffer(m, (size_t)N * dt);
    a->vx = act_buffer(m, (size_t)N * dt);
    a->qn = act_buffer(m, (size_t)N * dt);
    a->kn = act_buffer(m, (size_t)N * dt);
    a->rstd_qn = f32_buffer(m, (size_t)N * (dt / HD));
    a->rstd_kn = f32_buffer(m, (size_t)N * (dt / HD));
    a->att = act_buffer(m, (size_t)N * dt);
    a->lse = f32_buffer(m, (size_t)N * (dt / HD));
    a->x_mid = act_buffer(m, (size_t)N * dt);
    ffn_acts_alloc(m, &a->ffn, N, dt, m->ft);
    DlcmGrads *g = &m->dg;
    g->d_H = act_buffer(m, (size_t)N * dt);
    g->d_qx = act_buffer(m, (size_t)N * dt);
    g->d_kx = act_buffer(m, (size_t)N * dt);
    g->d_vx = act_buffer(m, (size_t)N * dt);
    g->d_Z_tilde = act_buffer(m, (size_t)N * dc);
    g->d_concepts = act_buffer(m, (size_t)N * dc);
    g->d_cmean = act_buffer(m, (size_t)N * dt);
    g->d_rq = act_buffer(m, (size_t)N * dt);
    g->d_rk = act_buffer(m, (size_t)N * dt);

    /* fixed mode: a boundary every R tokens, p = b (no smoothing across certain boundaries) */
    int32_t *b = host_buffer((size_t)N * sizeof(int32_t));
    float *p = host_buffer((size_t)N * sizeof(float));
    double R = m->cfg.shape.R;
    for (int s = 0; s < m->B; s++)
        for (int t = 0; t < m->T; t++) {
            int start = t == 0 || floor(t / R) != floor((t - 1) / R);
            b[(size_t)s * m->T + t] = start;
            p[(size_t)s * m->T + t] = (float)start;
        }
    m->be->upload(m->be, m->bounds_fixed, b, (size_t)N * sizeof(int32_t));
    m->be->upload(m->be, m->p_fixed, p, (size_t)N * sizeof(float));
    free(b);
    free(p);
}

void dlcm_free(Model *m)
{
    Backend *be = m->be;
    const XattnActs *a = &m->xa;
    const DlcmGrads *g = &m->dg;
    void *device[] = {
        m->rq, m->rk, m->p_router, m->p_rule, m->p_fixed, m->dp, m->bounds, m->bounds_fixed,
        m->seg, m->starts, m->counts, m->key_count, m->cmean, m->cmean_packed, m->s_packed, m->C,
        m->Z_tilde,
        a->hn, a->rstd_h, a->zn, a->rstd_z, a->qx, a->kx, a->vx, a->qn, a->kn, a->rstd_qn,
        a->rstd_kn, a->att, a->lse, a->x_mid, a->ffn.ln, a->ffn.rstd, a->ffn.gate_up,
        a->ffn.hidden, a->ffn.x_out,
        g->d_H, g->d_qx, g->d_kx, g->d_vx, g->d_Z_tilde, g->d_concepts, g->d_cmean, g->d_rq,
        g->d_rk,
    };
    for (size_t i = 0; i < sizeof device / sizeof device[0]; i++)
        if (device[i]) be->free(be, device[i]);
    for (int i = m->first_con; m->acts && i < m->first_dec; i++)
        if (m->acts[i].x_packed) be->free(be, m->acts[i].x_packed);
    free(m->counts_host);
    free(m->p_host);
}

/* ---- boundaries --------------------------------------------------------------------------- */

static int compare_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* cosine_rule: the k-th largest p of this micro-batch (about N/R boundaries, spec §2.2), over
 * the tokens after the first of each sequence. Needs p on the host: this mode synchronizes
 * twice per training micro-batch (here and for the counts). */
static float micro_batch_quantile(Model *m)
{
    Backend *be = m->be;
    int B = m->B, T = m->T, n = 0;
    be->download(be, m->p_host, m->p_rule, (size_t)B * T * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int t = 1; t < T; t++) m->p_host[n++] = m->p_host[(size_t)b * T + t];
    qsort(m->p_host, (size_t)n, sizeof(float), compare_desc);
    long k = lround((double)B * T / m->cfg.shape.R) - B; /* the first tokens are boundaries */
    if (k <= 0) return 1.0f;
    if (k > n) k = n;
    return m->p_host[k - 1];
}

/* The threshold that makes about N/R boundaries must not come from the current micro-batch:
 * its k-th largest p depends on every token of the batch, so a boundary (and the logits
 * before it) would depend on later tokens. The threshold is a running mean of earlier
 * training micro-batches' quantiles, updated after the boundaries of the current one are
 * drawn, and frozen in evaluation. Until one micro-batch has been seen it is 0.5, the
 * learned mode's evaluation threshold. */
#define RULE_THRESHOLD_RATE 0.1
#define RULE_THRESHOLD_START 0.5f

static float rule_threshold(const Model *m)
{
    return isnan(m->rule_threshold) ? RULE_THRESHOLD_START : (float)m->rule_threshold;
}

static void update_rule_threshold(Model *m)
{
    double q = micro_batch_quantile(m);
    m->rule_threshold = isnan(m->rule_threshold)
                            ? q
                            : (1.0 - RULE_THRESHOLD_RATE) * m->rule_threshold + RULE_THRESHOLD_RATE * q;
}

/* Boundaries of the micro-batch into m->bounds, and m->p_used. */
static void choose_boundaries(Model *m, ModelMode mode, uint64_t seed)
{
    Backend *be = m->be;
    int N = m->B * m->T;
    switch (m->cfg.boundary) {
    case BOUNDARY_LEARNED:
        m->p_used = m->p_router;
        if (mode == MODEL_TRAIN)
            be->boundary_sample(be, m->bounds, m->p_router, N, -1.0f, m->cfg.boundary_tau, seed, 0);
        else
            be->boundary_sample(be, m->bounds, m->p_router, N, 0.5f, 1.0f, 0, 0);
        break;
    case BOUNDARY_COSINE_RULE: {
        const void *H = stage_H(m);
        be->router_forward(be, m->p_rule, H, H, m->B, m->T, m->dt);
        m->p_used = m->p_rule;
        be->boundary_sample(be, m->bounds, m->p_rule, N, rule_threshold(m), 1.0f, 0, 0);
        if (mode == MODEL_TRAIN) update_rule_threshold(m);
        break;
    }
    case BOUNDARY_FIXED:
        m->p_used = m->p_fixed;
        be->copy(be, m->bounds, m->bounds_fixed, (size_t)N * sizeof(int32_t));
        break;
    }
}

/* Router, boundaries and segments of the micro-batch whose H is in place; the host learns the
 * concept counts and M (the one synchronization of a step). 0, or -1 with err. */
static int boundaries_forward(Model *m, ModelMode mode, uint64_t seed, char *err, int errlen)
{
    Backend *be = m->be;
    int B = m->B, T = m->T, N = B * T, dt = m->dt;
    const void *H = stage_H(m);

    /* router: runs in every mode (its FLOPs are in the analytic count) */
    linear_forward(m, m->rq, H, m->router_wq, N, dt, dt, 0);
    linear_forward(m, m->rk, H, m->router_wk, N, dt, dt, 0);
    be->router_forward(be, m->p_router, m->rq, m->rk, B, T, dt);
    choose_boundaries(m, mode, seed);
    be->segment_index(be, m->seg, m->starts, m->counts, m->key_count, m->bounds, B, T,
                      m->cfg.xattn_mask == XATTN_MASK_PAPER);

    be->download(be, m->counts_host, m->counts, (size_t)B * sizeof(int32_t));
    m->M = 0;
    m->concept_rows = 0;
    for (int b = 0; b < B; b++) {
        if (m->counts_host[b] < 1 || m->counts_host[b] > T) {
            snprintf(err, errlen, "segment_index returned %d concepts for sequence %d", m->counts_host[b], b);
            return -1;
        }
        if (m->counts_host[b] > m->M) m->M = m->counts_host[b];
        m->concept_rows += m->counts_host[b];
    }
    /* The backbone runs on packed rows (each sequence's real concepts, no padding to the
     * longest sequence: the counts of a batch differ by up to 2x early in training). Padding
     * rows past a sequence's count in the padded layout [B][M] (segment means, the backbone's
     * attention, the EMA, the cross-attention's keys) are zero, never read by the
     * cross-attention (key_count) nor by the EMA, and come after the real concepts in the
     * backbone's causal attention; the bucket's padding rows after the packed concepts are
     * zero too: they change no real row and receive zero gradient. */
    int bucket = m->cfg.concept_bucket;
    if (bucket > 1) {
        m->M = (m->M + bucket - 1) / bucket * bucket;
        if (m->M > T) m->M = T;
        m->concept_rows = (m->concept_rows + bucket - 1) / bucket * bucket;
        if (m->concept_rows > N) m->concept_rows = N;
    }
    return 0;
}

/* ---- forward ------------------------------------------------------------------------------- */

static void encoder_forward(Model *m)
{
    for (int i = m->first_enc; i < m->first_con; i++) {
        const void *x = i == m->first_enc ? m->x_embed : m->acts[i - 1].ffn.x_out;
        block_forward(m, &m->blocks[i], &m->acts[i], x, m->B, m->T, 1, 0);
    }
}

/* C = W_up · (segment means of H), packed rows. */
static void pooling_forward(Model *m)
{
    Backend *be = m->be;
    be->segment_mean_forward(be, m->cmean, stage_H(m), m->starts, m->counts, m->B, m->T, m->M, m->dt);
    be->concepts_pack(be, m->cmean_packed, m->cmean, m->counts, m->B, m->M, m->concept_rows, m->dt);
    linear_forward(m, m->C, m->cmean_packed, m->w_up, m->concept_rows, m->dt, m->dc, 0);
}

/* Z: causal over each sequence's concepts, RoPE over the concept index. */
static void backbone_forward(Model *m)
{
    for (int i = m->first_con; i < m->first_dec; i++)
        block_forward(m, &m->blocks[i], &m->acts[i], backbone_input(m, i), m->B, m->M, 1,
                      m->concept_rows);
}

/* Z~ = EMA of Z gated by p at each concept's first token (or Z itself). */
static void smoothing_forward(Model *m)
{
    Backend *be = m->be;
    if (m->cfg.smoothing == SMOOTHING_EMA)
        be->ema_forward(be, m->Z_tilde, stage_Z(m), m->p_used, m->starts, m->counts, m->B, m->T,
                        m->M, m->dc);
    else
        be->copy(be, m->Z_tilde, stage_Z(m), (size_t)padded_concept_rows(m) * m->dc * be->act_size);
}

static AttnShape cross_attention_shape(const Model *m)
{
    AttnShape s = {0};
    s.B = m->B;
    s.Tq = m->T;
    s.Tk = m->M;
    s.H = m->dt / HD;
    s.q_stride = s.k_stride = s.v_stride = s.o_stride = m->dt;
    s.key_count = m->key_count;
    s.k_null = weight(m, m->xattn.null_k);
    s.v_null = weight(m, m->xattn.null_v);
    s.scale = 1.0f / sqrtf((float)HD);
    return s;
}

/* Ψ: tokens (queries from H) read the concepts complete before them (keys and values from
 * Z~) and the null concept; residual around H; then the block's SwiGLU half. */
static void xattn_forward(Model *m)
{
    Backend *be = m->be;
    const XattnParams *p = &m->xattn;
    XattnActs *a = &m->xa;
    int N = m->B * m->T, BM = padded_concept_rows(m), dt = m->dt, dc = m->dc, H = dt / HD;
    float eps = m->cfg.norm_eps;
    const void *h = stage_H(m);
    be->rmsnorm_forward(be, a->hn, a->rstd_h, h, weight(m, p->h_norm), N, dt, eps);
    be->rmsnorm_forward(be, a->zn, a->rstd_z, m->Z_tilde, weight(m, p->z_norm), BM, dc, eps);
    linear_forward(m, a->qx, a->hn, p->w_q, N, dt, dt, 0);
    linear_forward(m, a->kx, a->zn, p->w_k, BM, dc, dt, 0);
    linear_forward(m, a->vx, a->zn, p->w_v, BM, dc, dt, 0);
    be->head_norm_rope_forward(be, a->qn, a->rstd_qn, a->qx, dt, weight(m, p->q_norm), m->B, m->T,
                               H, 0, eps);
    be->head_norm_rope_forward(be, a->kn, a->rstd_kn, a->kx, dt, weight(m, p->k_norm), m->B, m->M,
                               H, 0, eps);
    AttnShape s = cross_attention_shape(m);
    be->attention_forward(be, a->att, a->lse, a->qn, a->kn, a->vx, &s);
    be->copy(be, a->x_mid, h, (size_t)N * dt * be->act_size);
    linear_forward(m, a->x_mid, a->att, p->w_o, N, dt, dt, 1);
    ffn_forward(m, p->ffn_norm, p->w_gate_up, p->w_down, &a->ffn, a->x_mid, a->ffn.x_out, N, dt, m->ft);
}

static void decoder_forward(Model *m)
{
    for (int i = m->first_dec; i < m->n_blocks; i++) {
        const void *x = i == m->first_dec ? m->xa.ffn.x_out : m->acts[i - 1].ffn.x_out;
        block_forward(m, &m->blocks[i], &m->acts[i], x, m->B, m->T, 1, 0);
    }
}

int dlcm_forward(Model *m, ModelMode mode, uint64_t seed, char *err, int errlen)
{
    Backend *be = m->be;
    int B = m->B, T = m->T, N = B * T;
    encoder_forward(m);
    if (boundaries_forward(m, mode, seed, err, errlen)) return -1;
    if (mode == MODEL_TRAIN && !m->step_prepassed) {
        for (int b = 0; b < B; b++) m->step_boundaries += m->counts_host[b];
        m->step_tokens += N;
    }
    pooling_forward(m);
    backbone_forward(m);
    smoothing_forward(m);
    xattn_forward(m);
    decoder_forward(m);
    be->sum_f32(be, &m->scalars[SCALAR_P_SUM], m->p_used, (size_t)N);
    for (int b = 0; b < B; b++)
        be->sum_f32(be, &m->scalars[SCALAR_P_SUM_SEQUENCE + b], m->p_used + (size_t)b * T, (size_t)T);
    return 0;
}

/* ---- backward (stage order reversed) ------------------------------------------------------- */

static void decoder_backward(Model *m, void *d_stream)
{
    for (int i = m->n_blocks - 1; i >= m->first_dec; i--) {
        const void *x = i == m->first_dec ? m->xa.ffn.x_out : m->acts[i - 1].ffn.x_out;
        block_backward(m, &m->blocks[i], &m->acts[i], x, d_stream, m->B, m->T, 1, 0);
    }
}

/* d_stream: gradient w.r.t. Ψ's output (consumed). Writes d_H (the residual and the query
 * path; = not +=) and d_Z_tilde. */
static void xattn_backward(Model *m, void *d_stream)
{
    Backend *be = m->be;
    const XattnParams *p = &m->xattn;
    XattnActs *a = &m->xa;
    DlcmGrads *g = &m->dg;
    int N = m->B * m->T, BM = padded_concept_rows(m), dt = m->dt, dc = m->dc, H = dt / HD;
    size_t tok_bytes = (size_t)N * dt * be->act_size, con_bytes = (size_t)BM * dt * be->act_size;
    const void *h = stage_H(m);

    ffn_backward(m, p->ffn_norm, p->w_gate_up, p->w_down, &a->ffn, a->x_mid, d_stream, N, dt, m->ft);
    be->copy(be, g->d_H, d_stream, tok_bytes); /* the residual around the attention */
    linear_backward(m, m->s_datt, d_stream, a->att, p->w_o, N, dt, dt, 0);
    be->zero(be, m->s_dq, tok_bytes);
    be->zero(be, m->s_dk, con_bytes);
    be->zero(be, g->d_vx, con_bytes);
    AttnShape s = cross_attention_shape(m);
    be->attention_backward(be, m->s_dq, m->s_dk, g->d_vx, grad(m, p->null_k), grad(m, p->null_v),
                           m->s_datt, a->att, a->lse, a->qn, a->kn, a->vx, &s);
    be->zero(be, g->d_qx, tok_bytes);
    be->zero(be, g->d_kx, con_bytes);
    be->head_norm_rope_backward(be, g->d_qx, dt, grad(m, p->q_norm), m->s_dq, a->qx, dt,
                                weight(m, p->q_norm), a->rstd_qn, m->B, m->T, H, 0);
    be->head_norm_rope_backward(be, g->d_kx, dt, grad(m, p->k_norm), m->s_dk, a->kx, dt,
                                weight(m, p->k_norm), a->rstd_kn, m->B, m->M, H, 0);
    linear_backward(m, m->s_dnormed, g->d_qx, a->hn, p->w_q, N, dt, dt, 0);
    be->rmsnorm_backward(be, g->d_H, grad(m, p->h_norm), m->s_dnormed, h, weight(m, p->h_norm),
                         a->rstd_h, N, dt);
    linear_backward(m, m->s_dnormed, g->d_kx, a->zn, p->w_k, BM, dc, dt, 0);
    linear_backward(m, m->s_dnormed, g->d_vx, a->zn, p->w_v, BM, dc, dt, 1);
    be->zero(be, g->d_Z_tilde, (size_t)BM * dc * be->act_size);
    be->rmsnorm_backward(be, g->d_Z_tilde, grad(m, p->z_norm), m->s_dnormed, m->Z_tilde,
                         weight(m, p->z_norm), a->rstd_z, BM, dc);
}

/* d_Z_tilde -> d_concepts = dZ in packed rows (and the EMA gate's part of dp when
 * smoothing_grad); the padded dZ passes through s_packed. */
static void smoothing_backward(Model *m)
{
    Backend *be = m->be;
    DlcmGrads *g = &m->dg;
    size_t bytes = (size_t)padded_concept_rows(m) * m->dc * be->act_size;
    int gate_grad = m->cfg.boundary == BOUNDARY_LEARNED && m->cfg.smoothing_grad;
    const void *dZ = g->d_Z_tilde;
    if (m->cfg.smoothing == SMOOTHING_EMA) {
        be->zero(be, m->s_packed, bytes);
        be->ema_backward(be, m->s_packed, gate_grad ? m->dp : NULL, g->d_Z_tilde, stage_Z(m),
                         m->Z_tilde, m->p_used, m->starts, m->counts, m->B, m->T, m->M, m->dc);
        dZ = m->s_packed;
    }
    be->concepts_pack(be, g->d_concepts, dZ, m->counts, m->B, m->M, m->concept_rows, m->dc);
}

/* d_concepts: dZ in, dC out (in place). */
static void backbone_backward(Model *m)
{
    for (int i = m->first_dec - 1; i >= m->first_con; i--)
        block_backward(m, &m->blocks[i], &m->acts[i], backbone_input(m, i), m->dg.d_concepts,
                       m->B, m->M, 1, m->concept_rows);
}

/* dC (packed) -> W_up's gradient and d_H += the segment means' gradient; the packed gradient
 * of the means passes through s_dnormed (free after the backbone). */
static void pooling_backward(Model *m)
{
    Backend *be = m->be;
    DlcmGrads *g = &m->dg;
    linear_backward(m, m->s_dnormed, g->d_concepts, m->cmean_packed, m->w_up, m->concept_rows,
                    m->dt, m->dc, 0);
    be->concepts_pad(be, g->d_cmean, m->s_dnormed, m->counts, m->B, m->M, m->dt);
    be->segment_mean_backward(be, g->d_H, g->d_cmean, m->seg, m->starts, m->counts, m->B, m->T,
                              m->M, m->dt);
}

/* The Global Parser's gradient (spec §3): dL_aux/dp_t = R (R F - 1) / ((R - 1) |T|), with F
 * the boundary fraction of the whole optimizer step: with one micro-batch its own, with
 * several the F that model_parser_prepass counted over all of them before the first
 * backward (the spec's first option; the previous step's F would lag the router by a step).
 * per_sequence: each sequence's own F, averaged over sequences. */
static void parser_gradient(Model *m, float grad_scale)
{
    double R = m->cfg.shape.R;
    if (m->cfg.aux_weight == 0.0f || R <= 1.0) return;
    int B = m->B, T = m->T;
    float *coef = host_buffer((size_t)B * sizeof(float));
    double scale = (double)m->cfg.aux_weight * grad_scale * R / ((R - 1.0) * B * T);
    double F_step = m->step_boundaries / m->step_tokens;
    for (int b = 0; b < B; b++) {
        double F = m->cfg.parser == PARSER_GLOBAL ? F_step : (double)m->counts_host[b] / T;
        coef[b] = (float)(scale * (R * F - 1.0));
    }
    m->be->add_per_row(m->be, m->dp, coef, B, T);
    free(coef);
}

/* The router learns through L_aux (and the EMA gate when smoothing_grad) only: dp -> d_H. */
static void router_backward(Model *m, float grad_scale)
{
    Backend *be = m->be;
    DlcmGrads *g = &m->dg;
    int B = m->B, T = m->T, N = B * T, dt = m->dt;
    size_t tok_bytes = (size_t)N * dt * be->act_size;
    parser_gradient(m, grad_scale);
    be->zero(be, g->d_rq, tok_bytes);
    be->zero(be, g->d_rk, tok_bytes);
    be->router_backward(be, g->d_rq, g->d_rk, m->dp, m->rq, m->rk, B, T, dt);
    linear_backward(m, g->d_H, g->d_rq, stage_H(m), m->router_wq, N, dt, dt, 1);
    linear_backward(m, g->d_H, g->d_rk, stage_H(m), m->router_wk, N, dt, dt, 1);
}

/* d_H: dH in, the gradient w.r.t. the embedding output out (in place). */
static void encoder_backward(Model *m)
{
    for (int i = m->first_con - 1; i >= m->first_enc; i--) {
        const void *x = i == m->first_enc ? m->x_embed : m->acts[i - 1].ffn.x_out;
        block_backward(m, &m->blocks[i], &m->acts[i], x, m->dg.d_H, m->B, m->T, 1, 0);
    }
}

void *dlcm_backward(Model *m, void *d_stream, float grad_scale)
{
    decoder_backward(m, d_stream);
    xattn_backward(m, d_stream);
    m->be->zero(m->be, m->dp, (size_t)m->B * m->T * sizeof(float));
    smoothing_backward(m);
    backbone_backward(m);
    pooling_backward(m);
    if (m->cfg.boundary == BOUNDARY_LEARNED) router_backward(m, grad_scale);
    encoder_backward(m);
    return m->dg.d_H;
}

/* ---- the Global Parser over the optimizer step ----------------------------------------------- */

void dlcm_begin_step(Model *m)
{
    m->step_boundaries = 0;
    m->step_tokens = 0;
    m->step_p_sum = 0;
    m->step_prepassed = 0;
    m->step_sequence_aux_sum = 0;
    m->step_sequences = 0;
}

int dlcm_prepass(Model *m, uint64_t seed, char *err, int errlen)
{
    Backend *be = m->be;
    int N = m->B * m->T;
    encoder_forward(m);
    if (boundaries_forward(m, MODEL_TRAIN, seed, err, errlen)) return -1;
    float p_sum;
    be->sum_f32(be, &m->scalars[SCALAR_P_SUM], m->p_used, (size_t)N);
    be->download(be, &p_sum, &m->scalars[SCALAR_P_SUM], sizeof p_sum);
    for (int b = 0; b < m->B; b++) m->step_boundaries += m->counts_host[b];
    m->step_tokens += N;
    m->step_p_sum += p_sum;
    m->step_prepassed = 1;
    return 0;
}

/* L_aux = R/(R-1) [(R-1) F G + (1-F)(1-G)] - 1 (Eq. 10). */
static double parser_loss(double R, double F, double G)
{
    return R / (R - 1.0) * ((R - 1.0) * F * G + (1.0 - F) * (1.0 - G)) - 1.0;
}

void dlcm_step_counts(Model *m, const float *scalars_host)
{
    int B = m->B, T = m->T;
    double R = m->cfg.shape.R;
    if (!m->step_prepassed) m->step_p_sum += scalars_host[SCALAR_P_SUM];
    for (int b = 0; b < B; b++)
        if (R > 1.0)
            m->step_sequence_aux_sum += parser_loss(R, (double)m->counts_host[b] / T,
                                                    scalars_host[SCALAR_P_SUM_SEQUENCE + b] / T);
    m->step_sequences += B;
}

double model_step_aux_loss(const Model *m)
{
    double R = m->cfg.shape.R;
    if (m->cfg.shape.family != FAMILY_DLCM || R <= 1.0) return 0.0;
    if (m->cfg.parser == PARSER_PER_SEQUENCE)
        return m->step_sequences ? m->step_sequence_aux_sum / (double)m->step_sequences : 0.0;
    if (m->step_tokens == 0) return 0.0;
    return parser_loss(R, m->step_boundaries / m->step_tokens, m->step_p_sum / m->step_tokens);
}

void dlcm_parser_stats(const Model *m, const float *scalars_host, double *loss_aux, double *F,
                       double *G)
{
    int B = m->B, T = m->T;
    double R = m->cfg.shape.R, concepts = 0;
    for (int b = 0; b < B; b++) concepts += m->counts_host[b];
    *F = concepts / ((double)B * T);
    *G = scalars_host[SCALAR_P_SUM] / ((double)B * T);
    if (R <= 1.0) { *loss_aux = 0; return; }
    if (m->cfg.parser == PARSER_GLOBAL) {
        *loss_aux = parser_loss(R, *F, *G);
        return;
    }
    double sum = 0;
    for (int b = 0; b < B; b++)
        sum += parser_loss(R, (double)m->counts_host[b] / T, scalars_host[SCALAR_P_SUM_SEQUENCE + b] / T);
    *loss_aux = sum / B;
}

double model_rule_threshold(const Model *m) { return m->rule_threshold; }
void model_set_rule_threshold(Model *m, double threshold) { m->rule_threshold = threshold; }
