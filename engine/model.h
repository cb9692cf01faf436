/* engine/model.h: a dense or DLCM model on a backend: one parameter buffer and one gradient
 * buffer with named tensor views, μP classes and multipliers, forward and backward of a
 * micro-batch, and scoring. The trainer, the tests and dlcm-score use only this header. */
#ifndef DLCM_ENGINE_MODEL_H
#define DLCM_ENGINE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/ops.h"
#include "engine/shape.h"

typedef enum { BOUNDARY_LEARNED = 0, BOUNDARY_COSINE_RULE = 1, BOUNDARY_FIXED = 2 } BoundaryMode;
typedef enum { PARSER_GLOBAL = 0, PARSER_PER_SEQUENCE = 1 } ParserMode;
typedef enum { XATTN_MASK_STRICT = 0, XATTN_MASK_PAPER = 1 } XattnMask;   /* paper = leaks */
typedef enum { SMOOTHING_EMA = 0, SMOOTHING_NONE = 1 } SmoothingMode;
typedef enum { PARAMETRIZATION_MUP = 0, PARAMETRIZATION_SP = 1 } Parametrization;

/* μP tensor classes (spec §4 table). */
typedef enum {
    PCLASS_TOKEN_HIDDEN = 0,   /* hidden matrices at token width (and W_up, router, W_Q/W_O) */
    PCLASS_CONCEPT_HIDDEN = 1, /* backbone matrices (and cross-attention W_K, W_V) */
    PCLASS_EMBEDDING = 2,
    PCLASS_UNEMBEDDING = 3,
    PCLASS_VECTOR = 4          /* RMSNorm gains, the null concept */
} ParamClass;

typedef struct {
    ModelShape shape;
    BoundaryMode boundary;
    float boundary_tau;         /* τ_b of the Bernoulli sharpening (1 = plain Bernoulli) */
    ParserMode parser;
    float aux_weight;           /* λ of the Global Parser loss (default 0.03) */
    XattnMask xattn_mask;
    SmoothingMode smoothing;
    int smoothing_grad;         /* 0: P_k detached (default); 1: gradient flows into p */
    Parametrization parametrization;
    int d_base;                 /* μP base width (default 256) */
    float sigma_base;           /* base init std (default 0.02) */
    float norm_eps;             /* RMSNorm epsilon (default 1e-6) */
    int concept_bucket;         /* dlcm: M (concepts per sequence in the concept stage's
                                 * tensors) is rounded up to a multiple of this, at most T, so
                                 * that GEMM shapes repeat across steps; the extra rows are
                                 * masked padding and change no result. 1 (default): M is the
                                 * largest count of the micro-batch */
    int head_chunk_rows;        /* rows of the output head and cross-entropy per chunk (the
                                 * logits of one chunk exist at a time); 0 (default): as many
                                 * rows as keep a chunk's logits near HEAD_CHUNK_ELEMENTS */
} ModelConfig;

/* Defaults of the spec for everything but the shape. */
ModelConfig model_config_default(ModelShape shape);

/* One named tensor of the parameter buffer. */
typedef struct {
    char name[64];       /* e.g. "enc.0.attn.w_qkv", "backbone.3.ffn.w_down", "xattn.null_k" */
    size_t offset;       /* in elements, into the parameter, gradient and optimizer buffers */
    size_t count;
    int rows, cols;      /* a vector has rows = 1 */
    ParamClass cls;      /* by fan-in: sets the LR and ε multipliers */
    ParamClass out_cls;  /* the class of the fan-out width (== cls but for W_up, W_K, W_V) */
    int is_matrix;       /* weight decay applies to matrices only */
    float init_std;      /* resolved for the config's parametrization; gains use init_value */
    float init_value;    /* constant init when init_std == 0 (gains: 1) */
    int init_identity;   /* init_value times the identity (the router's W_q, W_k, spec §2.2) */
    float lr_mult;       /* μP multiplier of the class's base LR (1 under sp) */
    float eps_mult;      /* μP multiplier of AdamW ε (1 under sp) */
} ParamTensor;

typedef enum { MODEL_TRAIN = 0, MODEL_EVAL = 1 } ModelMode;

typedef struct {
    double loss_ce;        /* mean next-token cross-entropy over the micro-batch (nats) */
    double loss_aux;       /* Global Parser loss of the micro-batch (dlcm; 0 for dense) */
    double boundary_frac;  /* F: mean b */
    double boundary_prob;  /* G: mean p */
    int64_t tokens;        /* B*T */
    int64_t concepts;      /* sum of concepts over the micro-batch (dlcm) */
    double flops;          /* matrix-product FLOPs the backend launched for this call */
} StepStats;

typedef struct Model Model;

/* Builds the model for micro-batches of `batch` sequences of shape.seq_len tokens, and
 * allocates every buffer (parameters, gradients, activations for the worst case M = T) once.
 * Checks that every tensor has a μP class. NULL with a message in err on a bad config. */
Model *model_create(Backend *be, const ModelConfig *cfg, int batch, char *err, int errlen);
void model_destroy(Model *m);

const ModelConfig *model_config(const Model *m);
Backend *model_backend(const Model *m);
int model_batch(const Model *m);

int model_num_tensors(const Model *m);
const ParamTensor *model_tensor(const Model *m, int i);
const ParamTensor *model_find_tensor(const Model *m, const char *name);
size_t model_num_params(const Model *m);

/* Backend buffers, each model_num_params() fp32 elements, tensor views at ParamTensor.offset. */
float *model_params(Model *m);
float *model_grads(Model *m);
/* After writing params directly (upload, checkpoint load), refresh the working copy. */
void model_params_changed(Model *m);

/* Initializes every tensor by its class (counter-based normal draws from seed). */
void model_init(Model *m, uint64_t seed);

/* Starts an optimizer step: zeroes gradients and the step-level Global Parser counters. */
void model_begin_step(Model *m);

/* With gradient accumulation, the Global Parser's F covers the whole step (spec §3): call
 * this for every micro-batch of the step (after model_begin_step, with the tokens and seed
 * model_forward_backward will get) before the first model_forward_backward. It runs the
 * encoder and the router and counts the sampled boundaries (one synchronization); the
 * forward-backward then draws the same boundaries. A no-op unless the boundaries are learned
 * and the parser is global. Without it, micro-batch i would use the F of micro-batches 1..i.
 * Returns 0, -1 on error (message in err). */
int model_parser_prepass(Model *m, const int32_t *tokens, uint64_t seed, char *err, int errlen);

/* The Global Parser loss of the step so far (every training micro-batch since
 * model_begin_step): L_aux of the step's F and G (global), or the mean over its sequences
 * (per_sequence). 0 for a dense model. */
double model_step_aux_loss(const Model *m);

/* cosine_rule's threshold: state carried between steps (a resumed run restores it). NAN
 * before the first training micro-batch. */
double model_rule_threshold(const Model *m);
void model_set_rule_threshold(Model *m, double threshold);

/* One micro-batch. tokens: host array [batch][seq_len + 1] (inputs and shifted targets).
 * MODEL_TRAIN samples boundaries (Bernoulli, counter stream `seed`), runs backward and
 * accumulates gradients scaled by grad_scale (1 / micro-batches for a mean over the step).
 * MODEL_EVAL thresholds boundaries and runs forward only. Returns 0, -1 on error (message
 * in err). This is where the host learns the number of concepts: one synchronization. */
int model_forward_backward(Model *m, const int32_t *tokens, ModelMode mode, uint64_t seed,
                           float grad_scale, StepStats *stats, char *err, int errlen);

/* Evaluation of `count` sequences (1 <= count <= model_batch) in one forward pass (threshold
 * boundaries): sequence b has n[b] tokens (1 <= n[b] <= seq_len + 1) in tokens[b];
 * logprob[b][i] = log p(tokens[b][i+1] | tokens[b][0..i]) for i < n[b]-1, and concept[b][i] =
 * index of token i's concept within sequence b, from 0 (0 for a dense model; -1 for token
 * seq_len when n[b] = seq_len + 1: it is only a target, never an input). Each sequence gets what
 * scoring it alone gives (up to the summation order of GEMMs of another row count). Host
 * arrays. Returns 0, or -1 with a message naming the sequence (bad count, length, array or
 * token). Only the sequences given are computed. */
int model_score_batch(Model *m, const int32_t *const *tokens, const int *n, int count,
                      float *const *logprob, int32_t *const *concept, char *err, int errlen);

/* model_score_batch of one sequence of n tokens. */
int model_score(Model *m, const int32_t *tokens, int n, float *logprob, int32_t *concept,
                char *err, int errlen);

/* μP coordinate check: after a forward (over the last pass's sequences), mean |x| of each
 * module's output (embedding, each block, backbone, cross-attention, logits). Returns the number of modules (<= max) and fills
 * names (pointers valid while the model lives) and values. */
int model_module_stats(Model *m, const char **names, double *mean_abs, int max);

#endif
