/* engine/model.c: a dense or DLCM model (engine/model.h): creation with one parameter, one
 * gradient buffer and activations for the worst case, initialization, the forward and
 * backward of a micro-batch around the stack (embedding, dense layers or the DLCM stack of
 * dlcm.c, final norm, logits, cross-entropy), scoring, and the per-module activation
 * statistics of the μP coordinate check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model_internal.h"
#include "engine/rng.h"
#include "util/parallel.h"

ModelConfig model_config_default(ModelShape shape)
{
    ModelConfig c;
    memset(&c, 0, sizeof c);
    c.shape = shape;
    c.boundary = BOUNDARY_LEARNED;
    c.boundary_tau = 1.0f;
    c.parser = PARSER_GLOBAL;
    c.aux_weight = 0.03f;
    c.xattn_mask = XATTN_MASK_STRICT;
    c.smoothing = SMOOTHING_EMA;
    c.smoothing_grad = 0;
    c.parametrization = PARAMETRIZATION_MUP;
    c.d_base = 256;
    c.sigma_base = 0.02f;
    c.norm_eps = 1e-6f;
    c.concept_bucket = 1;
    return c;
}

static int config_check(const ModelConfig *c, int batch, char *err, int errlen)
{
    if (shape_validate(&c->shape, err, errlen)) return -1;
    if (batch < 1) { snprintf(err, errlen, "batch must be >= 1 (got %d)", batch); return -1; }
    if (c->head_chunk_rows < 0) { snprintf(err, errlen, "head_chunk_rows must be >= 0 (got %d)", c->head_chunk_rows); return -1; }
    if (c->d_base <= 0) { snprintf(err, errlen, "d_base must be positive (got %d)", c->d_base); return -1; }
    if (!(c->sigma_base > 0)) { snprintf(err, errlen, "sigma_base must be positive (got %g)", c->sigma_base); return -1; }
    if (!(c->norm_eps > 0)) { snprintf(err, errlen, "norm_eps must be positive (got %g)", c->norm_eps); return -1; }
    if ((unsigned)c->parametrization > PARAMETRIZATION_SP) { snprintf(err, errlen, "unknown parametrization %d", (int)c->parametrization); return -1; }
    if (c->shape.family == FAMILY_DENSE) return 0;
    if ((unsigned)c->boundary > BOUNDARY_FIXED) { snprintf(err, errlen, "unknown boundary mode %d", (int)c->boundary); return -1; }
    if ((unsigned)c->parser > PARSER_PER_SEQUENCE) { snprintf(err, errlen, "unknown parser mode %d", (int)c->parser); return -1; }
    if ((unsigned)c->xattn_mask > XATTN_MASK_PAPER) { snprintf(err, errlen, "unknown xattn_mask %d", (int)c->xattn_mask); return -1; }
    if ((unsigned)c->smoothing > SMOOTHING_NONE) { snprintf(err, errlen, "unknown smoothing %d", (int)c->smoothing); return -1; }
    if (!(c->boundary_tau > 0)) { snprintf(err, errlen, "boundary_tau must be positive (got %g)", c->boundary_tau); return -1; }
    if (c->concept_bucket < 1) { snprintf(err, errlen, "concept_bucket must be >= 1 (got %d)", c->concept_bucket); return -1; }
    if (!(c->aux_weight >= 0)) { snprintf(err, errlen, "aux_weight must be >= 0 (got %g)", c->aux_weight); return -1; }
    return 0;
}

/* Rows of the output head per chunk: the configured number, or as many as keep a chunk's
 * logits near HEAD_CHUNK_ELEMENTS (large enough that the head's GEMMs stay efficient, small
 * enough that the logits of a large vocabulary never exist for the whole batch at once). */
#define HEAD_CHUNK_ELEMENTS (16u << 20)

static int head_chunk_rows(const ModelConfig *c, int N)
{
    int rows = c->head_chunk_rows;
    if (rows <= 0) {
        size_t fit = HEAD_CHUNK_ELEMENTS / (size_t)c->shape.vocab;
        rows = fit < 64 ? 64 : fit > (size_t)N ? N : (int)fit;
    }
    return rows < N ? rows : N;
}

static void *act_buffer(Model *m, size_t elems) { return m->be->alloc(m->be, elems * m->be->act_size); }
static float *f32_buffer(Model *m, size_t elems) { return m->be->alloc(m->be, elems * sizeof(float)); }
static int32_t *i32_buffer(Model *m, size_t elems) { return m->be->alloc(m->be, elems * sizeof(int32_t)); }

static void *host_alloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "dlcm model: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

static void add_module(Model *m, const char *name, const void *x, int width, int concepts)
{
    if (m->n_modules == MODEL_MAX_MODULES) return;
    ModuleOut *o = &m->modules[m->n_modules++];
    snprintf(o->name, sizeof o->name, "%s", name);
    o->x = x;
    o->width = width;
    o->rows_are_concepts = concepts;
}

static void register_modules(Model *m)
{
    const ModelShape *s = &m->cfg.shape;
    char name[48];
    add_module(m, "embedding", m->x_embed, m->dt, 0);
    for (int i = 0; i < m->n_blocks; i++) {
        const char *stack = "layer";
        int index = i, concepts = 0;
        if (s->family == FAMILY_DLCM) {
            if (i < m->first_con) { stack = "enc"; index = i - m->first_enc; }
            else if (i < m->first_dec) { stack = "backbone"; index = i - m->first_con; concepts = 1; }
            else { stack = "dec"; index = i - m->first_dec; }
        }
        if (s->family == FAMILY_DLCM && i == m->first_dec)
            add_module(m, "xattn", m->xa.ffn.x_out, m->dt, 0);
        snprintf(name, sizeof name, "%s.%d", stack, index);
        add_module(m, name, m->acts[i].ffn.x_out, m->acts[i].d, concepts);
    }
    if (s->family == FAMILY_DLCM && m->first_dec == m->n_blocks)
        add_module(m, "xattn", m->xa.ffn.x_out, m->dt, 0);
    add_module(m, "logits", NULL, m->V, 0); /* measured in forward, before the loss */
}

static void alloc_activations(Model *m)
{
    int N = m->B * m->T, dt = m->dt, dc = m->dc;
    int maxw = dt > dc ? dt : dc, maxf = m->ft > m->fc ? m->ft : m->fc;
    m->inputs = i32_buffer(m, N);
    m->targets = i32_buffer(m, N);
    m->x_embed = act_buffer(m, (size_t)N * dt);
    m->acts = host_alloc((size_t)m->n_blocks * sizeof *m->acts);
    for (int i = 0; i < m->n_blocks; i++) {
        int backbone = m->cfg.shape.family == FAMILY_DLCM && i >= m->first_con && i < m->first_dec;
        block_acts_alloc(m, &m->acts[i], N, backbone ? dc : dt, backbone ? m->fc : m->ft);
    }
    m->xn_final = act_buffer(m, (size_t)N * dt);
    m->rstd_final = f32_buffer(m, N);
    m->logits = act_buffer(m, (size_t)m->head_rows * m->V);
    m->logits_mean_abs = f32_buffer(m, (size_t)m->head_chunks);
    m->losses = f32_buffer(m, N);
    m->d_stream = act_buffer(m, (size_t)N * maxw);
    m->s_dnormed = act_buffer(m, (size_t)N * maxw);
    m->s_dqkv = act_buffer(m, (size_t)N * 3 * maxw);
    m->s_dq = act_buffer(m, (size_t)N * maxw);
    m->s_dk = act_buffer(m, (size_t)N * maxw);
    m->s_datt = act_buffer(m, (size_t)N * maxw);
    m->s_dgate_up = act_buffer(m, (size_t)N * 2 * maxf);
    m->s_dhidden = act_buffer(m, (size_t)N * maxf);
    m->scalars = f32_buffer(m, SCALAR_P_SUM_SEQUENCE + (size_t)m->B);
    m->scalars_host = host_alloc((SCALAR_P_SUM_SEQUENCE + (size_t)m->B) * sizeof(float));
    m->inputs_host = host_alloc((size_t)N * sizeof(int32_t));
    m->targets_host = host_alloc((size_t)N * sizeof(int32_t));
    if (m->cfg.shape.family == FAMILY_DLCM) dlcm_alloc(m);
}

Model *model_create(Backend *be, const ModelConfig *cfg, int batch, char *err, int errlen)
{
    if (config_check(cfg, batch, err, errlen)) return NULL;
    Model *m = host_alloc(sizeof *m);
    const ModelShape *s = &cfg->shape;
    m->be = be;
    m->cfg = *cfg;
    m->B = batch;
    m->capacity = batch;
    m->T = s->seq_len;
    m->V = s->vocab;
    m->dt = s->d_t;
    m->ft = shape_ffn_t(s);
    if (s->family == FAMILY_DLCM) {
        m->dc = s->d_c;
        m->fc = shape_ffn_c(s);
    }
    m->logit_scale = mup_logit_scale(cfg);
    m->head_rows = head_chunk_rows(cfg, batch * s->seq_len);
    m->head_chunks = (batch * s->seq_len + m->head_rows - 1) / m->head_rows;
    m->rule_threshold = NAN;
    if (params_build(m, err, errlen) || mup_check(m, err, errlen)) {
        model_destroy(m);
        return NULL;
    }
    ShapeParams sp;
    if (shape_params(s, &sp, err, errlen)) { model_destroy(m); return NULL; }
    if ((int64_t)m->n_params != sp.N + sp.embedding + sp.unembedding) {
        snprintf(err, errlen, "internal error: %zu parameters built, shape says %lld", m->n_params,
                 (long long)(sp.N + sp.embedding + sp.unembedding));
        model_destroy(m);
        return NULL;
    }
    m->params = f32_buffer(m, m->n_params);
    m->grads = f32_buffer(m, m->n_params);
    m->weights_alias = be->act_dtype == DTYPE_F32;
    m->weights = m->weights_alias ? (void *)m->params : act_buffer(m, m->n_params);
    alloc_activations(m);
    register_modules(m);
    return m;
}

void model_destroy(Model *m)
{
    if (!m) return;
    Backend *be = m->be;
    void *device[] = {
        m->params, m->grads, m->weights_alias ? NULL : m->weights, m->inputs, m->targets,
        m->x_embed, m->xn_final, m->rstd_final, m->logits, m->logits_mean_abs, m->losses, m->d_stream, m->s_dnormed,
        m->s_dqkv, m->s_dq, m->s_dk, m->s_datt, m->s_dgate_up, m->s_dhidden, m->scalars,
    };
    for (size_t i = 0; i < sizeof device / sizeof device[0]; i++)
        if (device[i]) be->free(be, device[i]);
    if (m->cfg.shape.family == FAMILY_DLCM && m->scalars) dlcm_free(m);
    for (int i = 0; m->acts && i < m->n_blocks; i++) {
        BlockActs *a = &m->acts[i];
        void *bufs[] = {a->ln1, a->rstd1, a->qkv, a->q, a->k, a->rstd_q, a->rstd_k, a->att,
                        a->lse, a->x_mid, a->ffn.ln, a->ffn.rstd, a->ffn.gate_up, a->ffn.hidden,
                        a->ffn.x_out};
        for (size_t j = 0; j < sizeof bufs / sizeof bufs[0]; j++)
            if (bufs[j]) be->free(be, bufs[j]);
    }
    free(m->acts);
    free(m->blocks);
    free(m->tensors);
    free(m->scalars_host);
    free(m->inputs_host);
    free(m->targets_host);
    free(m);
}

const ModelConfig *model_config(const Model *m) { return &m->cfg; }
Backend *model_backend(const Model *m) { return m->be; }
int model_batch(const Model *m) { return m->capacity; }
int model_num_tensors(const Model *m) { return m->n_tensors; }
const ParamTensor *model_tensor(const Model *m, int i) { return &m->tensors[i]; }
size_t model_num_params(const Model *m) { return m->n_params; }
float *model_params(Model *m) { return m->params; }
float *model_grads(Model *m) { return m->grads; }

const ParamTensor *model_find_tensor(const Model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

void model_params_changed(Model *m)
{
    if (!m->weights_alias) m->be->f32_to_act(m->be, m->weights, m->params, m->n_params);
}

/* The initial values of buffer positions [begin, end): each element a function of the seed and
 * its position alone, so the ranges can be filled by any number of threads in any order. */
typedef struct {
    const Model *m;
    uint64_t seed;
    float *host;
} InitJob;

static void init_range(size_t begin, size_t end, void *arg)
{
    const InitJob *job = arg;
    for (int i = 0; i < job->m->n_tensors; i++) {
        const ParamTensor *t = &job->m->tensors[i];
        size_t lo = t->offset > begin ? t->offset : begin;
        size_t hi = t->offset + t->count < end ? t->offset + t->count : end;
        if (lo >= hi) continue;
        float *x = job->host;
        if (t->init_identity) {
            for (int r = 0; r < t->rows && r < t->cols; r++) {
                size_t at = t->offset + (size_t)r * t->cols + r;
                if (at >= lo && at < hi) x[at] = t->init_value;
            }
        } else if (t->init_std == 0.0f) {
            for (size_t j = lo; j < hi; j++) x[j] = t->init_value;
        } else {
            /* draw index = buffer position: a tensor's values do not depend on the others */
            for (size_t j = lo; j < hi; j++) x[j] = t->init_std * rng_normal(job->seed, j);
        }
    }
}

void model_init(Model *m, uint64_t seed)
{
    float *host = host_alloc(m->n_params * sizeof(float));
    InitJob job = {m, seed, host};
    /* ~48 ns a normal draw: a 0.49 B-parameter model took 23 s on one core; ranges of at least
     * 2^18 elements (~13 ms each) keep small models on the calling thread */
    parallel_ranges(m->n_params, (size_t)1 << 18, parallel_cpu_count(), init_range, &job);
    m->be->upload(m->be, m->params, host, m->n_params * sizeof(float));
    free(host);
    model_params_changed(m);
    m->rule_threshold = NAN;
}

void model_begin_step(Model *m)
{
    m->be->zero(m->be, m->grads, m->n_params * sizeof(float));
    if (m->cfg.shape.family == FAMILY_DLCM) dlcm_begin_step(m);
}

/* The stack's output, the final norm's input. */
static const void *last_hidden(const Model *m)
{
    if (m->cfg.shape.family == FAMILY_DLCM) return dlcm_output(m);
    return m->acts[m->n_blocks - 1].ffn.x_out;
}

/* The output head and the cross-entropy, one chunk of rows at a time, so that only one
 * chunk's logits exist: logits (act type), losses, mean |logits| for the coordinate check, and
 * in training their gradient (scaled for a mean over n_targets tokens times grad_scale), from
 * which the chunk's rows of s_dnormed (the gradient w.r.t. the final norm's output) and its
 * part of the unembedding's gradient follow at once. */
static void head_forward_backward(Model *m, ModelMode mode, float grad_scale, int n_targets)
{
    Backend *be = m->be;
    int N = m->B * m->T, dt = m->dt, V = m->V;
    float dloss = n_targets > 0 ? grad_scale / (float)n_targets : 0.0f;
    for (int c = 0; c * m->head_rows < N; c++) { /* a scoring pass may fill fewer chunks */
        int first = c * m->head_rows;
        int rows = N - first < m->head_rows ? N - first : m->head_rows;
        const void *xn = act_at(m, m->xn_final, (size_t)first * dt);
        linear_forward(m, m->logits, xn, m->unembed, rows, dt, V, 0);
        be->mean_abs(be, &m->logits_mean_abs[c], m->logits, (size_t)rows * V);
        be->cross_entropy(be, m->losses + first, mode == MODEL_TRAIN ? m->logits : NULL, m->logits,
                          m->targets + first, rows, V, m->logit_scale, dloss);
        if (mode == MODEL_TRAIN)
            linear_backward(m, act_at(m, m->s_dnormed, (size_t)first * dt), m->logits, xn,
                            m->unembed, rows, dt, V, 0);
    }
}

/* Forward of the uploaded micro-batch; in training also the output head's backward (its
 * gradient w.r.t. the final norm's output left in s_dnormed). */
static int forward(Model *m, ModelMode mode, uint64_t seed, float grad_scale, int n_targets,
                   char *err, int errlen)
{
    Backend *be = m->be;
    int B = m->B, T = m->T, N = B * T, dt = m->dt;
    be->embedding_forward(be, m->x_embed, m->inputs, weight(m, m->embed), N, dt);
    if (m->cfg.shape.family == FAMILY_DENSE) {
        for (int i = 0; i < m->n_blocks; i++)
            block_forward(m, &m->blocks[i], &m->acts[i], i == 0 ? m->x_embed : m->acts[i - 1].ffn.x_out,
                          B, T, 1, 0);
    } else if (dlcm_forward(m, mode, seed, err, errlen)) {
        return -1;
    }
    be->rmsnorm_forward(be, m->xn_final, m->rstd_final, last_hidden(m), weight(m, m->final_norm),
                        N, dt, m->cfg.norm_eps);
    head_forward_backward(m, mode, grad_scale, n_targets);
    be->sum_f32(be, &m->scalars[SCALAR_LOSS_SUM], m->losses, (size_t)N);
    return 0;
}

/* From the gradient w.r.t. the final norm's output (s_dnormed, left by the head) down. */
static void backward(Model *m, float grad_scale)
{
    Backend *be = m->be;
    int B = m->B, T = m->T, N = B * T, dt = m->dt;
    be->zero(be, m->d_stream, (size_t)N * dt * be->act_size);
    be->rmsnorm_backward(be, m->d_stream, grad(m, m->final_norm), m->s_dnormed, last_hidden(m),
                         weight(m, m->final_norm), m->rstd_final, N, dt);
    void *d_embedded = m->d_stream;
    if (m->cfg.shape.family == FAMILY_DENSE) {
        for (int i = m->n_blocks - 1; i >= 0; i--)
            block_backward(m, &m->blocks[i], &m->acts[i], i == 0 ? m->x_embed : m->acts[i - 1].ffn.x_out,
                           m->d_stream, B, T, 1, 0);
    } else {
        d_embedded = dlcm_backward(m, m->d_stream, grad_scale);
    }
    be->embedding_backward(be, grad(m, m->embed), d_embedded, m->inputs, N, dt);
}

/* From the scalars downloaded after the micro-batch (m->scalars_host). */
static void fill_stats(Model *m, int n_targets, double flops_before, StepStats *stats)
{
    Backend *be = m->be;
    int N = m->B * m->T;
    memset(stats, 0, sizeof *stats);
    stats->loss_ce = n_targets > 0 ? m->scalars_host[SCALAR_LOSS_SUM] / n_targets : 0.0;
    stats->tokens = N;
    stats->flops = be->flops - flops_before;
    if (m->cfg.shape.family != FAMILY_DLCM) return;
    for (int b = 0; b < m->B; b++) stats->concepts += m->counts_host[b];
    dlcm_parser_stats(m, m->scalars_host, &stats->loss_aux, &stats->boundary_frac,
                      &stats->boundary_prob);
}

/* Checks and uploads one micro-batch of inputs and targets (host arrays, targets may be -1). */
static int upload_batch(Model *m, char *err, int errlen, int *n_targets)
{
    int N = m->B * m->T;
    *n_targets = 0;
    for (int i = 0; i < N; i++) {
        if (m->inputs_host[i] < 0 || m->inputs_host[i] >= m->V || m->targets_host[i] >= m->V) {
            snprintf(err, errlen, "token %d at sequence %d position %d is outside the vocabulary [0, %d)",
                     m->inputs_host[i] < 0 || m->inputs_host[i] >= m->V ? m->inputs_host[i] : m->targets_host[i],
                     i / m->T, i % m->T, m->V);
            return -1;
        }
        *n_targets += m->targets_host[i] >= 0;
    }
    m->be->upload(m->be, m->inputs, m->inputs_host, (size_t)N * sizeof(int32_t));
    m->be->upload(m->be, m->targets, m->targets_host, (size_t)N * sizeof(int32_t));
    return 0;
}

/* Copies a micro-batch [batch][seq_len + 1] into the input and target staging arrays. */
static void stage_tokens(Model *m, const int32_t *tokens)
{
    int T = m->T;
    for (int b = 0; b < m->B; b++) {
        const int32_t *row = tokens + (size_t)b * (T + 1);
        memcpy(m->inputs_host + (size_t)b * T, row, (size_t)T * sizeof(int32_t));
        memcpy(m->targets_host + (size_t)b * T, row + 1, (size_t)T * sizeof(int32_t));
    }
}

int model_parser_prepass(Model *m, const int32_t *tokens, uint64_t seed, char *err, int errlen)
{
    if (m->cfg.shape.family != FAMILY_DLCM || m->cfg.boundary != BOUNDARY_LEARNED ||
        m->cfg.parser != PARSER_GLOBAL)
        return 0;
    int n_targets;
    m->B = m->capacity;
    stage_tokens(m, tokens);
    if (upload_batch(m, err, errlen, &n_targets)) return -1;
    m->be->embedding_forward(m->be, m->x_embed, m->inputs, weight(m, m->embed), m->B * m->T, m->dt);
    return dlcm_prepass(m, seed, err, errlen);
}

int model_forward_backward(Model *m, const int32_t *tokens, ModelMode mode, uint64_t seed,
                           float grad_scale, StepStats *stats, char *err, int errlen)
{
    int n_targets;
    m->B = m->capacity;
    stage_tokens(m, tokens);
    if (upload_batch(m, err, errlen, &n_targets)) return -1;
    double flops_before = m->be->flops;
    if (forward(m, mode, seed, grad_scale, n_targets, err, errlen)) return -1;
    if (mode == MODEL_TRAIN) backward(m, grad_scale);
    /* One download once the whole micro-batch is enqueued (the backward needs none of it):
     * the loss sum for the stats, the p sums for the step's G and per-sequence L_aux. */
    int dlcm_train = mode == MODEL_TRAIN && m->cfg.shape.family == FAMILY_DLCM;
    if (!stats && !dlcm_train) return 0;
    m->be->download(m->be, m->scalars_host, m->scalars,
                    (SCALAR_P_SUM_SEQUENCE + (size_t)m->B) * sizeof(float));
    if (dlcm_train) dlcm_step_counts(m, m->scalars_host);
    if (stats) fill_stats(m, n_targets, flops_before, stats);
    return 0;
}

/* Checks the arguments of a scoring pass; the message names the sequence. */
static int check_score_batch(const Model *m, const int32_t *const *tokens, const int *n, int count,
                             float *const *logprob, int32_t *const *concept, char *err, int errlen)
{
    if (count < 1 || count > m->capacity) {
        snprintf(err, errlen, "model_score_batch: %d sequences, the model's batch takes 1 to %d", count,
                 m->capacity);
        return -1;
    }
    if (!tokens || !n || !logprob || !concept) {
        snprintf(err, errlen, "model_score_batch: no token, length or output arrays");
        return -1;
    }
    for (int b = 0; b < count; b++) {
        if (n[b] < 1 || n[b] > m->T + 1) {
            snprintf(err, errlen, "model_score_batch: sequence %d has %d tokens, the model takes 1 to %d", b, n[b],
                     m->T + 1);
            return -1;
        }
        if (!tokens[b] || !logprob[b] || !concept[b]) {
            snprintf(err, errlen, "model_score_batch: sequence %d has no token or output array", b);
            return -1;
        }
    }
    return 0;
}

/* The pass runs the first `count` rows of the buffers only (m->B = count): the rows of absent
 * sequences would only cost time (on the CPU as much as real ones). Each row holds its text
 * padded after its end exactly as when it is scored alone, and no stage mixes rows (attention,
 * boundaries, segments, the EMA and the cross-attention work per sequence; evaluation
 * thresholds p without batch statistics), so a text's log-probs and concepts do not depend on
 * the other texts of the pass; a row's concepts are numbered from 0 (segment_index works per
 * sequence). Under the strict cross-attention mask causality also keeps the padding out. */
int model_score_batch(Model *m, const int32_t *const *tokens, const int *n, int count,
                      float *const *logprob, int32_t *const *concept, char *err, int errlen)
{
    if (check_score_batch(m, tokens, n, count, logprob, concept, err, errlen)) return -1;
    int T = m->T, N = count * T, n_targets;
    m->B = count;
    memset(m->inputs_host, 0, (size_t)N * sizeof(int32_t));
    for (int i = 0; i < N; i++) m->targets_host[i] = -1;
    for (int b = 0; b < count; b++) {
        int n_inputs = n[b] < T ? n[b] : T;
        memcpy(m->inputs_host + (size_t)b * T, tokens[b], (size_t)n_inputs * sizeof(int32_t));
        memcpy(m->targets_host + (size_t)b * T, tokens[b] + 1, (size_t)(n[b] - 1) * sizeof(int32_t));
    }
    if (upload_batch(m, err, errlen, &n_targets)) return -1;
    if (forward(m, MODEL_EVAL, 0, 0.0f, n_targets, err, errlen)) return -1;
    int dlcm = m->cfg.shape.family == FAMILY_DLCM;
    float *loss = host_alloc((size_t)N * sizeof(float));
    int32_t *seg = dlcm ? host_alloc((size_t)N * sizeof(int32_t)) : NULL;
    m->be->download(m->be, loss, m->losses, (size_t)N * sizeof(float));
    if (dlcm) m->be->download(m->be, seg, m->seg, (size_t)N * sizeof(int32_t));
    for (int b = 0; b < count; b++) {
        const float *row_loss = loss + (size_t)b * T;
        for (int i = 0; i < n[b] - 1; i++) logprob[b][i] = -row_loss[i];
        int n_inputs = n[b] < T ? n[b] : T;
        for (int i = 0; i < n_inputs; i++) concept[b][i] = dlcm ? seg[(size_t)b * T + i] : 0;
        if (n[b] > T) concept[b][T] = dlcm ? -1 : 0; /* token T is only a target: no concept */
    }
    free(loss);
    free(seg);
    return 0;
}

int model_score(Model *m, const int32_t *tokens, int n, float *logprob, int32_t *concept,
                char *err, int errlen)
{
    return model_score_batch(m, &tokens, &n, 1, &logprob, &concept, err, errlen);
}

int model_module_stats(Model *m, const char **names, double *mean_abs, int max)
{
    Backend *be = m->be;
    int N = m->B * m->T, n = 0;
    float value;
    for (int i = 0; i < m->n_modules && n < max; i++, n++) {
        const ModuleOut *o = &m->modules[i];
        names[n] = o->name;
        if (!o->x) { /* the logits the softmax sees, measured per chunk before the loss
                      * overwrote them: the chunks' means weighted by their rows */
            int chunks = (N + m->head_rows - 1) / m->head_rows; /* of the last pass */
            float *chunk_means = host_alloc((size_t)chunks * sizeof(float));
            be->download(be, chunk_means, m->logits_mean_abs, (size_t)chunks * sizeof(float));
            double sum = 0;
            for (int c = 0; c < chunks; c++) {
                int rows = N - c * m->head_rows < m->head_rows ? N - c * m->head_rows : m->head_rows;
                sum += (double)chunk_means[c] * rows;
            }
            free(chunk_means);
            mean_abs[n] = (float)(sum / N) * m->logit_scale;
            continue;
        }
        if (!o->rows_are_concepts) {
            be->mean_abs(be, &m->scalars[SCALAR_MODULE_MEAN_ABS], o->x, (size_t)N * o->width);
            be->download(be, &value, &m->scalars[SCALAR_MODULE_MEAN_ABS], sizeof value);
            mean_abs[n] = value;
            continue;
        }
        /* only each sequence's real concepts: the padding rows up to M hold the backbone's
         * output for zero input, and their share changes with the boundaries */
        double sum = 0, count = 0;
        for (int b = 0; b < m->B; b++) {
            size_t elems = (size_t)m->counts_host[b] * o->width;
            be->mean_abs(be, &m->scalars[SCALAR_MODULE_MEAN_ABS], act_at(m, o->x, (size_t)b * m->M * o->width), elems);
            be->download(be, &value, &m->scalars[SCALAR_MODULE_MEAN_ABS], sizeof value);
            sum += (double)value * elems;
            count += elems;
        }
        mean_abs[n] = sum / count;
    }
    return n;
}
