/* engine/model_internal.h: the Model structure shared by the files that implement model.h
 * (model.c, params.c, mup.c, block.c, dlcm.c): parameter views, activations, scratch, the
 * device scalar slots. */
#ifndef DLCM_ENGINE_MODEL_INTERNAL_H
#define DLCM_ENGINE_MODEL_INTERNAL_H

#include "engine/model.h"

/* Indices into the tensor table of one pre-norm Transformer block. */
typedef struct {
    int attn_norm, w_qkv, q_norm, k_norm, w_o; /* attention half */
    int ffn_norm, w_gate_up, w_down;           /* SwiGLU half */
} BlockParams;

/* The cross-attention block Ψ (spec §2.6) and its SwiGLU half. */
typedef struct {
    int h_norm, z_norm, w_q, w_k, w_v, q_norm, k_norm, null_k, null_v, w_o;
    int ffn_norm, w_gate_up, w_down;
} XattnParams;

/* Activations a SwiGLU half keeps for backward. x_out = x_mid + SwiGLU(RMSNorm(x_mid)). */
typedef struct {
    void *ln;       /* [rows][d] */
    float *rstd;    /* [rows] */
    void *gate_up;  /* [rows][2f] */
    void *hidden;   /* [rows][f] */
    void *x_out;    /* [rows][d] */
} FfnActs;

/* Activations of a block, allocated for rows = batch * seq_len (the worst case M = T). */
typedef struct {
    int d, f, H;
    void *ln1;       /* [rows][d] */
    float *rstd1;    /* [rows] */
    void *qkv;       /* [rows][3d] */
    void *q, *k;     /* [rows][d]: normalized (and rotated) heads */
    float *rstd_q, *rstd_k; /* [rows * H] */
    void *att;       /* [rows][d] attention output before W_O */
    float *lse;      /* [B * H * T] */
    void *x_mid;     /* [rows][d] after the attention residual */
    FfnActs ffn;
    void *x_packed;  /* backbone blocks: the output in packed rows, the next block's input;
                      * ffn.x_out holds it padded [B][M] (smoothing, statistics) */
} BlockActs;

typedef struct {
    void *hn;            /* RMSNorm(H) [N][d_t] */
    float *rstd_h;
    void *zn;            /* RMSNorm(Z~) [B*M][d_c] */
    float *rstd_z;
    void *qx, *kx, *vx;  /* projections before the head norms: [N][d_t], [B*M][d_t] x 2 */
    void *qn, *kn;       /* normalized heads */
    float *rstd_qn, *rstd_kn;
    void *att;           /* [N][d_t] */
    float *lse;          /* [B * H * T] */
    void *x_mid;
    FfnActs ffn;
} XattnActs;

/* Gradients of the DLCM stages (act type), each holding one thing. */
typedef struct {
    void *d_H;          /* w.r.t. H, the encoder's output [N][d_t]; the encoder's backward
                         * then runs on it in place */
    void *d_qx, *d_kx, *d_vx; /* w.r.t. the cross-attention projections before the head norms */
    void *d_Z_tilde;    /* w.r.t. the smoothed concepts Z~ [B*M][d_c] */
    void *d_concepts;   /* the backbone's residual stream: dZ in, dC out, packed rows
                         * [concept_rows][d_c] */
    void *d_cmean;      /* w.r.t. the segment means [B*M][d_t] */
    void *d_rq, *d_rk;  /* w.r.t. the router's projections [N][d_t] */
} DlcmGrads;

/* Slots of the device scalars (fp32). */
enum {
    SCALAR_LOSS_SUM = 0,        /* sum of the token losses of the micro-batch */
    SCALAR_P_SUM = 1,           /* dlcm: sum of p over the micro-batch */
    SCALAR_MODULE_MEAN_ABS = 2, /* model_module_stats' reduction */
    SCALAR_P_SUM_SEQUENCE = 3   /* dlcm: + b, sum of p over sequence b */
};

/* One module whose mean |output| the coordinate check reads. */
typedef struct {
    char name[48];
    const void *x;      /* act type */
    size_t count;       /* elements in the last forward */
    int rows_are_concepts; /* count follows M */
    int width;
} ModuleOut;

#define MODEL_MAX_MODULES 160

struct Model {
    Backend *be;
    ModelConfig cfg;
    int B, T, V, dt, dc, ft, fc; /* B: sequences of the current pass (training and evaluation
                                  * micro-batches: capacity; scoring: the sequences scored) */
    int capacity;        /* sequences the buffers hold (model_batch) */
    float logit_scale;   /* 1/s_token under mup, 1 under sp */

    /* parameters */
    ParamTensor *tensors;
    int n_tensors, cap_tensors;
    size_t n_params;
    float *params, *grads;  /* fp32 master weights and gradients */
    void *weights;          /* the working copy in act type; == params when act type is fp32 */
    int weights_alias;

    int embed, final_norm, unembed;
    int n_blocks;           /* dense: layers; dlcm: enc + backbone + dec */
    BlockParams *blocks;
    int first_enc, first_con, first_dec; /* dlcm: where each stack starts in blocks[] */
    int router_wq, router_wk, w_up;
    XattnParams xattn;

    /* activations (act type unless float) */
    int32_t *inputs, *targets;  /* [N] */
    void *x_embed;              /* [N][d_t] */
    BlockActs *acts;            /* one per block */
    void *xn_final;
    float *rstd_final;
    int head_rows;              /* rows of the output head per chunk */
    int head_chunks;            /* ceil(N / head_rows) at capacity (the last pass: N = B * T) */
    void *logits;               /* [head_rows][V]: the last chunk's logits, overwritten by
                                 * their gradient in training */
    float *logits_mean_abs;     /* [head_chunks]: mean |logits| of each chunk */
    float *losses;              /* [N] */

    /* dlcm (dlcm.c); the stage tensors H and Z are the last encoder and backbone blocks'
     * outputs */
    void *rq, *rk;              /* router projections [N][d_t] */
    float *p_router, *p_rule, *p_fixed; /* learned, cosine-rule and fixed-mode probabilities */
    const float *p_used;        /* the p that made this micro-batch's boundaries */
    float *dp;                  /* gradient w.r.t. p_router [N] */
    int32_t *bounds, *bounds_fixed, *seg, *starts, *counts, *key_count;
    int32_t *counts_host;
    int32_t *inputs_host, *targets_host; /* [N] staging for upload */
    float *p_host;              /* cosine_rule: p downloaded to choose the threshold */
    void *cmean;                /* [B][T][d_t] segment means (first M rows per sequence used) */
    void *cmean_packed;         /* the same in packed rows [concept_rows][d_t] */
    void *C;                    /* concepts, W_up · cmean: the backbone's input, packed rows
                                 * [concept_rows][d_c] */
    void *Z_tilde;              /* smoothed concepts Z~ [B*M][d_c] */
    XattnActs xa;
    DlcmGrads dg;
    int M;                      /* concepts of the longest sequence in the last forward (rounded
                                 * up to concept_bucket): the padded layout [B][M] */
    int concept_rows;           /* the backbone's packed rows: the concepts of the last forward
                                 * (rounded up to concept_bucket, at most B*T) */

    /* gradient scratch of a block (act type, [N] rows of the widest width), each the
     * gradient w.r.t. one thing; the cross-attention uses them in the same meaning */
    void *d_stream;             /* the token residual stream (head, dense layers, decoder) */
    void *s_dnormed;            /* a linear layer's input, the output of an RMSNorm */
    void *s_dqkv;               /* the fused QKV projection [N][3 d] */
    void *s_dq, *s_dk;          /* the normalized (and rotated) query and key heads */
    void *s_datt;               /* the attention output, before W_O */
    void *s_dgate_up, *s_dhidden; /* SwiGLU's input [N][2f] and output [N][f] */
    void *s_packed;             /* dlcm: the backbone's fused QKV gradient in packed rows [N][3 d_c] */

    /* device scalars, SCALAR_* slots, SCALAR_P_SUM_SEQUENCE + B of them */
    float *scalars;
    float *scalars_host;

    /* Global Parser counters over the optimizer step (host; known after the sync): F and G
     * over every micro-batch, filled by model_parser_prepass before the step's first backward
     * when the step has several micro-batches, else by each training forward */
    double step_boundaries, step_tokens, step_p_sum;
    int step_prepassed;
    double step_sequence_aux_sum; /* per_sequence: sum of the sequences' L_aux, and their count */
    int64_t step_sequences;

    /* cosine_rule: the boundary threshold, a running quantile of earlier training
     * micro-batches' p (NAN until the first one); frozen in evaluation */
    double rule_threshold;

    ModuleOut modules[MODEL_MAX_MODULES];
    int n_modules;
};

/* Pointer to element `index` of an act-type buffer. */
static inline void *act_at(const Model *m, const void *base, size_t index)
{
    return (char *)base + index * m->be->act_size;
}
/* Working-copy (act type) view of tensor i, and its fp32 gradient. */
static inline const void *weight(const Model *m, int i)
{
    return act_at(m, m->weights, m->tensors[i].offset);
}
static inline float *grad(const Model *m, int i) { return m->grads + m->tensors[i].offset; }

/* params.c: the tensor table of the config's family, in buffer order. 0 or -1 with err. */
int params_build(Model *m, char *err, int errlen);

/* How a tensor is initialized: random normal with its class's std, constant 1 (gains), the
 * identity (the router, spec §2.2), or random normal with std 1/√fan-in at base width, scaled
 * by its class like a hidden matrix (W_up, which reads the unnormalized stream H: mup.c). */
typedef enum { INIT_NORMAL = 0, INIT_ONES = 1, INIT_IDENTITY = 2, INIT_UNIT_GAIN = 3 } InitKind;

/* mup.c: resolves a tensor's init, LR and ε multipliers from its class; the logit scale;
 * checks that every tensor has a class. */
void mup_resolve(const ModelConfig *cfg, ParamTensor *t, InitKind init);
float mup_logit_scale(const ModelConfig *cfg);
int mup_check(const Model *m, char *err, int errlen);

/* block.c: a pre-norm block over B sequences of T rows (packed_rows > 0: the backbone's
 * packed concept rows, B sequences of at most T = M concepts), and its SwiGLU half alone.
 * Backward: d_x holds the gradient w.r.t. the block's output and leaves holding the gradient
 * w.r.t. its input (in place). */
void block_acts_alloc(Model *m, BlockActs *a, int rows, int d, int f);
void ffn_acts_alloc(Model *m, FfnActs *a, int rows, int d, int f);
void block_forward(Model *m, const BlockParams *p, BlockActs *a, const void *x_in, int B, int T,
                   int use_rope, int packed_rows);
void block_backward(Model *m, const BlockParams *p, BlockActs *a, const void *x_in, void *d_x,
                    int B, int T, int use_rope, int packed_rows);
/* x_out: where the output goes (a->x_out but in the packed backbone). */
void ffn_forward(Model *m, int norm, int w_gate_up, int w_down, FfnActs *a, const void *x_in,
                 void *x_out, int rows, int d, int f);
void ffn_backward(Model *m, int norm, int w_gate_up, int w_down, FfnActs *a, const void *x_in,
                  void *d_x, int rows, int d, int f);
/* y[rows][out] (=, or += when accumulate) x[rows][in] W^T for the [out][in] tensor w. */
void linear_forward(Model *m, void *y, const void *x, int w, int rows, int in, int out,
                    int accumulate);
/* dx[rows][in] (= or +=) dy W; dW += dy^T x. */
void linear_backward(Model *m, void *dx, const void *dy, const void *x, int w, int rows, int in,
                     int out, int accumulate_dx);

/* dlcm.c: the DLCM stack from the embedding's output to the decoder's. */
void dlcm_alloc(Model *m);
void dlcm_free(Model *m);
/* Encoder to decoder, and the p sums. 0, or -1 with err. */
int dlcm_forward(Model *m, ModelMode mode, uint64_t seed, char *err, int errlen);
/* The decoder's output (or Ψ's when there is no decoder block). */
const void *dlcm_output(const Model *m);
/* d_stream: gradient w.r.t. dlcm_output (consumed). Returns the buffer holding the gradient
 * w.r.t. the embedding output. */
void *dlcm_backward(Model *m, void *d_stream, float grad_scale);
/* Global Parser step counters: reset; the prepass of one uploaded micro-batch (embedding
 * output in place); after a training forward, the step's G and per-sequence L_aux from the
 * downloaded scalars. */
void dlcm_begin_step(Model *m);
int dlcm_prepass(Model *m, uint64_t seed, char *err, int errlen);
void dlcm_step_counts(Model *m, const float *scalars_host);
/* Global Parser loss of the last forward, and its parts. */
void dlcm_parser_stats(const Model *m, const float *scalars_host, double *loss_aux, double *F,
                       double *G);

#endif
