/* engine/shape.h: the model shapes of the two families (dense, dlcm) and everything that
 * follows from a shape alone: parameter counts N, embedding, backbone share P, and analytic
 * FLOPs per token (spec dlcm-model.md §5). The trainer, the sweep planner and the query all
 * use this one module, so they can never disagree on N, P or FLOPs. */
#ifndef DLCM_ENGINE_SHAPE_H
#define DLCM_ENGINE_SHAPE_H

#include <stdint.h>

#define SHAPE_HEAD_DIM 64 /* every attention uses heads of 64 (spec §0) */

typedef enum { FAMILY_DENSE = 0, FAMILY_DLCM = 1 } ModelFamily;

typedef struct {
    ModelFamily family;
    int vocab;    /* V */
    int seq_len;  /* T: tokens per training sequence */
    int d_t;      /* token width; a dense model's only width */
    int d_c;      /* concept width (dlcm) */
    int n_layers; /* dense: number of blocks */
    int n_enc;    /* dlcm: encoder blocks */
    int n_con;    /* dlcm: concept-backbone blocks */
    int n_dec;    /* dlcm: decoder blocks (after the cross-attention block) */
    int ffn_t;    /* FFN hidden size at d_t; 0 means the default round_up(8/3 d_t, 64) */
    int ffn_c;    /* FFN hidden size at d_c; 0 means the default */
    double R;     /* target compression ratio (dlcm), tokens per concept */
} ModelShape;

/* Parameter counts, in parameters (spec §5). */
typedef struct {
    int64_t embedding;   /* input embedding V x d_t */
    int64_t unembedding; /* output unembedding V x d_t */
    int64_t backbone;    /* the concept backbone's blocks (dlcm; 0 for dense) */
    int64_t N;           /* everything except embedding and unembedding */
    double P;            /* backbone / N */
} ShapeParams;

/* Default FFN hidden size: round_up(8/3 d, 64). */
int shape_default_ffn(int d);
/* FFN sizes with defaults applied. */
int shape_ffn_t(const ModelShape *s);
int shape_ffn_c(const ModelShape *s);

/* Parameters of one Transformer block at width d with FFN f: 4d^2 + 3df + two RMSNorm gains
 * of d + the QK-RMSNorm gains (2 x 64). */
int64_t shape_block_params(int d, int f);

/* Fills *out; returns 0, or -1 with a message in err (size errlen) when the shape is invalid. */
int shape_params(const ModelShape *s, ShapeParams *out, char *err, int errlen);

/* Checks a shape: positive sizes, widths multiples of 64, R >= 1 for dlcm.
 * Returns 0, or -1 with a message naming the field in err. */
int shape_validate(const ModelShape *s, char *err, int errlen);

/* Forward FLOPs per token of one block at width d, FFN f, over n positions (spec §5). */
double shape_block_flops(int d, int f, double n);

/* Analytic forward FLOPs per token, at compression ratio R (for dlcm; pass s->R for the target,
 * or the realized ratio to count what a run did). Dense ignores R. Training = 3 x forward. */
double shape_fwd_flops_per_token(const ModelShape *s, double R);
double shape_train_flops_per_token(const ModelShape *s, double R);

/* How widths and depths follow (N, P) when the planner or the query must derive a shape. */
typedef struct {
    double concept_width_ratio; /* least d_c / d_t, > 1 (default 2): the backbone is the wider stack */
    double aspect;              /* width per block of each stack: d / blocks (default 64) */
    int enc_share_num;          /* token blocks are split enc:dec; encoder gets num/den (default 1/2) */
    int enc_share_den;
    int max_width;              /* largest width searched (default 8192) */
} ShapeRule;

/* The default rule above. */
ShapeRule shape_rule_default(void);

/* The shape of the family nearest to N non-embedding parameters and backbone share P (dlcm),
 * with vocab, T, R taken from *base. Searches widths in multiples of 64 and depths, preferring
 * the rule's aspect ratio in both the token stacks and the backbone; a DLCM gets at least one
 * encoder and one decoder block and d_c >= concept_width_ratio x d_t. Returns 0, or -1 with a
 * message when nothing fits. */
int shape_solve(const ModelShape *base, double N, double P, const ShapeRule *rule,
                ModelShape *out, char *err, int errlen);

/* One line describing the shape, e.g. "dlcm d_t=256 d_c=512 enc=2 con=4 dec=2 R=4". */
void shape_describe(const ModelShape *s, char *buf, int buflen);

/* Whether a DLCM shape is the architecture the studies measure: at least one decoder block, and a
 * backbone wider than the token stacks, d_c >= min_ratio x d_t (min_ratio 0: no width rule, the
 * decoder rule only). Dense shapes pass. 0, or -1 with the reason in err. */
int shape_check_dlcm_proportions(const ModelShape *s, double min_ratio, char *err, int errlen);

/* The dense shape (vocab and T from *base) whose forward FLOPs per token are within rel_tol of
 * target: widths in multiples of 64, a depth near the rule's aspect ratio, the default FFN or
 * one (a multiple of 8 in [2d, 4d]) that closes the gap. For comparisons at equal inference
 * FLOPs. 0, or -1 with err when none is that close. */
int shape_solve_dense_flops(const ModelShape *base, double target, double rel_tol, const ShapeRule *rule,
                            ModelShape *out, char *err, int errlen);

#endif
