/* engine/dlcm.c: the DLCM stages between encoder and decoder (spec §2-§3), forward and
 * backward: router, boundaries, segment-mean pooling and W_up, the concept backbone, EMA
 * smoothing, the causal cross-attention block with the null concept, and the Global Parser
 * gradient. The encoder and decoder stacks are ordinary blocks run by model.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model_internal.h"

#define HD SHAPE_HEAD_DIM

static const void *hidden_states(const Model *m)
{
    return m->acts[m->first_con - 1].ffn.x_out; /* the last encoder block's output, H */
}

static int concept_rows(const Model *m) { return m->B * m->M; }

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
        const void *H = hidden_states(m);
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

static void xattn_forward(Model *m)
{
    Backend *be = m->be;
    const XattnParams *p = &m->xattn;
    XattnActs *a = &m->xa;
    int N = m->B * m->T, BM = concept_rows(m), dt = m->dt, dc = m->dc, H = dt / HD;
    float eps = m->cfg.norm_eps;
    const void *h = hidden_states(m);
    be->rmsnorm_forward(be, a->hn, a->rstd_h, h, weight(m, p->h_norm), N, dt, eps);
    be->rmsnorm_forward(be, a->zn, a->rstd_z, m->zt, weight(m, p->z_norm), BM, dc, eps);
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
    ffn_forward(m, p->ffn_norm, p->w_gate_up, p->w_down, &a->ffn, a->x_mid, N, dt, m->ft);
}

int dlcm_boundaries(Model *m, ModelMode mode, uint64_t seed, char *err, int errlen)
{
    Backend *be = m->be;
    int B = m->B, T = m->T, N = B * T, dt = m->dt;
    const void *h = hidden_states(m);

    /* router: runs in every mode (its FLOPs are in the analytic count) */
    linear_forward(m, m->rq, h, m->router_wq, N, dt, dt, 0);
    linear_forward(m, m->rk, h, m->router_wk, N, dt, dt, 0);
    be->router_forward(be, m->p_router, m->rq, m->rk, B, T, dt);
    choose_boundaries(m, mode, seed);
    be->segment_index(be, m->seg, m->starts, m->counts, m->key_count, m->bounds, B, T,
                      m->cfg.xattn_mask == XATTN_MASK_PAPER);

    /* The one synchronization: the host learns how many concepts each sequence has. */
    be->download(be, m->counts_host, m->counts, (size_t)B * sizeof(int32_t));
    m->M = 0;
    for (int b = 0; b < B; b++) {
        if (m->counts_host[b] < 1 || m->counts_host[b] > T) {
            snprintf(err, errlen, "segment_index returned %d concepts for sequence %d", m->counts_host[b], b);
            return -1;
        }
        if (m->counts_host[b] > m->M) m->M = m->counts_host[b];
    }
    return 0;
}

int dlcm_forward(Model *m, ModelMode mode, uint64_t seed, char *err, int errlen)
{
    Backend *be = m->be;
    int B = m->B, T = m->T, dt = m->dt, dc = m->dc;
    const void *h = hidden_states(m);
    if (dlcm_boundaries(m, mode, seed, err, errlen)) return -1;
    int BM = concept_rows(m);

    be->segment_mean_forward(be, m->cmean, h, m->seg, m->starts, m->counts, B, T, m->M, dt);
    linear_forward(m, m->concepts, m->cmean, m->w_up, BM, dt, dc, 0);
    const void *x = m->concepts;
    for (int i = m->first_con; i < m->first_dec; i++) {
        block_forward(m, &m->blocks[i], &m->acts[i], x, B, m->M, 1); /* RoPE over concept index */
        x = m->acts[i].ffn.x_out;
    }
    if (m->cfg.smoothing == SMOOTHING_EMA)
        be->ema_forward(be, m->zt, x, m->p_used, m->starts, m->counts, B, T, m->M, dc);
    else
        be->copy(be, m->zt, x, (size_t)BM * dc * be->act_size);
    xattn_forward(m);
    return 0;
}

static void xattn_backward(Model *m, void *d_x)
{
    Backend *be = m->be;
    const XattnParams *p = &m->xattn;
    XattnActs *a = &m->xa;
    int N = m->B * m->T, BM = concept_rows(m), dt = m->dt, dc = m->dc, H = dt / HD;
    size_t tok_bytes = (size_t)N * dt * be->act_size, con_bytes = (size_t)BM * dt * be->act_size;
    const void *h = hidden_states(m);
    void *dvx = m->s_pool;
    void *dqx = act_at(m, m->s_pool, (size_t)N * dt);
    void *dkx = act_at(m, m->s_pool, 2 * (size_t)N * dt);

    ffn_backward(m, p->ffn_norm, p->w_gate_up, p->w_down, &a->ffn, a->x_mid, d_x, N, dt, m->ft);
    be->copy(be, m->d_hidden_states, d_x, tok_bytes); /* the residual around the attention */
    linear_backward(m, m->s_att, d_x, a->att, p->w_o, N, dt, dt, 0);
    be->zero(be, m->s_q, tok_bytes);
    be->zero(be, m->s_k, con_bytes);
    be->zero(be, dvx, con_bytes);
    AttnShape s = cross_attention_shape(m);
    be->attention_backward(be, m->s_q, m->s_k, dvx, grad(m, p->null_k), grad(m, p->null_v),
                           m->s_att, a->att, a->lse, a->qn, a->kn, a->vx, &s);
    be->zero(be, dqx, tok_bytes);
    be->zero(be, dkx, con_bytes);
    be->head_norm_rope_backward(be, dqx, dt, grad(m, p->q_norm), m->s_q, a->qx, dt,
                                weight(m, p->q_norm), a->rstd_qn, m->B, m->T, H, 0);
    be->head_norm_rope_backward(be, dkx, dt, grad(m, p->k_norm), m->s_k, a->kx, dt,
                                weight(m, p->k_norm), a->rstd_kn, m->B, m->M, H, 0);
    linear_backward(m, m->s_ln, dqx, a->hn, p->w_q, N, dt, dt, 0);
    be->rmsnorm_backward(be, m->d_hidden_states, grad(m, p->h_norm), m->s_ln, h,
                         weight(m, p->h_norm), a->rstd_h, N, dt);
    linear_backward(m, m->s_ln, dkx, a->zn, p->w_k, BM, dc, dt, 0);
    linear_backward(m, m->s_ln, dvx, a->zn, p->w_v, BM, dc, dt, 1);
    /* gradient w.r.t. the smoothed concepts into s_att (free again) */
    be->zero(be, m->s_att, (size_t)BM * dc * be->act_size);
    be->rmsnorm_backward(be, m->s_att, grad(m, p->z_norm), m->s_ln, m->zt, weight(m, p->z_norm),
                         a->rstd_z, BM, dc);
}

/* The Global Parser's gradient (spec §3): dL_aux/dp_t = R (R F - 1) / ((R - 1) |T|), with F
 * the boundary fraction of the whole optimizer step: with one micro-batch its own, with
 * several the F that model_parser_prepass counted over all of them before the first
 * backward (the spec's first option; the previous step's F would lag the router by a step).
 * per_sequence: each sequence's own F, averaged over sequences. */
static void parser_gradient(Model *m, float grad_scale)
{
    double R = m->cfg.shape.R;
    if (m->cfg.boundary != BOUNDARY_LEARNED || m->cfg.aux_weight == 0.0f || R <= 1.0) return;
    int B = m->B, T = m->T;
    float *coef = malloc((size_t)B * sizeof(float));
    if (!coef) {
        fprintf(stderr, "dlcm model: out of memory\n");
        exit(1);
    }
    double scale = (double)m->cfg.aux_weight * grad_scale * R / ((R - 1.0) * B * T);
    double F_step = m->step_boundaries / m->step_tokens;
    for (int b = 0; b < B; b++) {
        double F = m->cfg.parser == PARSER_GLOBAL ? F_step : (double)m->counts_host[b] / T;
        coef[b] = (float)(scale * (R * F - 1.0));
    }
    m->be->add_per_row(m->be, m->dp, coef, B, T);
    free(coef);
}

void dlcm_backward(Model *m, void *d_x, float grad_scale)
{
    Backend *be = m->be;
    int B = m->B, T = m->T, N = B * T, BM = concept_rows(m), dt = m->dt, dc = m->dc;
    const void *h = hidden_states(m);
    int learned = m->cfg.boundary == BOUNDARY_LEARNED;

    xattn_backward(m, d_x);
    /* smoothing: d zt is in s_att; d z goes to d_resid (d_x is free now) */
    be->zero(be, m->dp, (size_t)N * sizeof(float));
    const void *z = m->acts[m->first_dec - 1].ffn.x_out;
    if (m->cfg.smoothing == SMOOTHING_EMA) {
        be->zero(be, d_x, (size_t)BM * dc * be->act_size);
        be->ema_backward(be, d_x, learned && m->cfg.smoothing_grad ? m->dp : NULL, m->s_att, z,
                         m->zt, m->p_used, m->starts, m->counts, B, T, m->M, dc);
    } else {
        be->copy(be, d_x, m->s_att, (size_t)BM * dc * be->act_size);
    }
    for (int i = m->first_dec - 1; i >= m->first_con; i--) {
        const void *x_in = i == m->first_con ? m->concepts : m->acts[i - 1].ffn.x_out;
        block_backward(m, &m->blocks[i], &m->acts[i], x_in, d_x, B, m->M, 1);
    }
    /* W_up and pooling: H receives the mean's gradient */
    linear_backward(m, m->s_ln, d_x, m->cmean, m->w_up, BM, dt, dc, 0);
    be->segment_mean_backward(be, m->d_hidden_states, m->s_ln, m->seg, m->starts, m->counts, B, T,
                              m->M, dt);
    /* router: learns through L_aux (and the EMA gate when smoothing_grad) only */
    if (!learned) return;
    parser_gradient(m, grad_scale);
    size_t tok_bytes = (size_t)N * dt * be->act_size;
    be->zero(be, m->s_q, tok_bytes);
    be->zero(be, m->s_k, tok_bytes);
    be->router_backward(be, m->s_q, m->s_k, m->dp, m->rq, m->rk, B, T, dt);
    linear_backward(m, m->d_hidden_states, m->s_q, h, m->router_wq, N, dt, dt, 1);
    linear_backward(m, m->d_hidden_states, m->s_k, h, m->router_wk, N, dt, dt, 1);
}

/* L_aux = R/(R-1) [(R-1) F G + (1-F)(1-G)] - 1 (Eq. 10). */
double dlcm_parser_loss(double R, double F, double G)
{
    return R / (R - 1.0) * ((R - 1.0) * F * G + (1.0 - F) * (1.0 - G)) - 1.0;
}

void dlcm_parser_stats(const Model *m, const float *scalars_host, double *loss_aux, double *F,
                       double *G)
{
    int B = m->B, T = m->T;
    double R = m->cfg.shape.R, concepts = 0;
    for (int b = 0; b < B; b++) concepts += m->counts_host[b];
    *F = concepts / ((double)B * T);
    *G = scalars_host[1] / ((double)B * T);
    if (R <= 1.0) { *loss_aux = 0; return; }
    if (m->cfg.parser == PARSER_GLOBAL) {
        *loss_aux = dlcm_parser_loss(R, *F, *G);
        return;
    }
    double sum = 0;
    for (int b = 0; b < B; b++)
        sum += dlcm_parser_loss(R, (double)m->counts_host[b] / T, scalars_host[3 + b] / T);
    *loss_aux = sum / B;
}
