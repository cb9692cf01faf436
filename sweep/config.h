/* sweep/config.h: a sweep file (configs/sweep-*.yaml) read with libyaml into a SweepSpec: model
 * families and their grids, budgets or fixed token counts, LRs, seeds, parametrizations, and the
 * training settings every run shares. Every error names the file, the line and the key. */
#ifndef DLCM_SWEEP_CONFIG_H
#define DLCM_SWEEP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "engine/shape.h"

#define SWEEP_MAX_LIST 64      /* values in one list (a grid axis) */
#define SWEEP_MAX_FAMILIES 64  /* a study gives each shape of a size ladder its own budgets */
#define SWEEP_MAX_TRAINER 48   /* pass-through trainer settings */
#define SWEEP_DEFAULT_MAX_EPOCHS 4.0 /* passes over the training shard: beyond ~4, repeated data is worth
                                       * markedly less than fresh data, and a law fitted on D misleads */

/* A grid axis: the values of one key, and where the key was written (0: not given). */
typedef struct {
    int n;
    double v[SWEEP_MAX_LIST];
    int lines[SWEEP_MAX_LIST]; /* line of each value */
    int line;                  /* line of the key */
} SweepList;

typedef enum { SWEEP_PARAM_MUP = 0, SWEEP_PARAM_SP = 1 } SweepParametrization;

/* A setting handed to the trainer verbatim in every run config (`trainer:` section: dlcm-train's
 * dotted keys, e.g. data.tokenizer, schedule.kind, eval.interval; checked against its key table). */
typedef struct {
    char key[64];
    char value[256];
    int line;
} SweepTrainerSetting;

#define SWEEP_MAX_FAMILY_TRAINER 8 /* a family's own trainer settings */

/* One entry of `families:`. A list with n == 0 means "not given": the family either inherits the
 * sweep-level value (lr, seed, budgets, tokens, parametrization) or the key does not apply. */
typedef struct {
    ModelFamily family;
    int line;
    /* Solve mode: the shape follows from N (and P for dlcm) through shape_solve. */
    SweepList N, P;
    /* Grid mode: explicit widths and depths. */
    SweepList d_t, d_c, d_c_ratio, n_layers, n_enc, n_con, n_dec, ffn_t, ffn_c;
    SweepList R;
    /* Overrides of the sweep-level axes. */
    SweepList lr, seed, budgets, tokens;
    int n_param;
    SweepParametrization param[2];
    int param_line;
    int inference_matched;     /* this family's DLCM runs get dense partners: 1 yes, 0 no, -1 as the sweep says */
    int inference_matched_line;
    int n_trainer;             /* trainer settings of this family's runs, applied after the sweep's */
    SweepTrainerSetting trainer[SWEEP_MAX_FAMILY_TRAINER];
} SweepFamily;

typedef struct {
    char file[512];            /* the path it was read from (for messages) */
    char name[128];
    int vocab, seq_len;
    int64_t batch_tokens;      /* tokens per optimizer step (a multiple of seq_len x grad_accum) */
    int grad_accum;            /* micro-batches per optimizer step (default 1) */
    SweepList budgets;         /* training FLOPs C; or */
    SweepList tokens;          /* fixed training tokens (e.g. μP transfer) */
    SweepList lr, seed;
    int n_param;
    SweepParametrization param[2];
    int max_attempts;          /* launches of a run before it stays failed (default 3) */
    double max_deviation;      /* realized budget vs C, relative (default 0.01) */
    ShapeRule rule;            /* how shapes follow (N, P) in solve mode; its width ratio binds every DLCM */
    int inference_matched_dense; /* add, for each DLCM run, a dense run at its inference FLOPs */
    int inference_matched_line;
    int allow_narrow_backbone; /* 1: a DLCM's backbone may be as narrow as its token stacks (a μP
                                * check scaling d_t alone under a fixed narrow d_c), not a study's DLCM */
    double max_epochs;         /* most passes over its training shard a run may make (default 4) */
    int max_epochs_line;       /* 0: the default */
    int n_families;
    SweepFamily families[SWEEP_MAX_FAMILIES];
    int n_trainer;
    SweepTrainerSetting trainer[SWEEP_MAX_TRAINER];
} SweepSpec;

/* Reads and checks a sweep file. Returns 0, or -1 with "FILE:LINE: KEY: problem" in err. */
int sweep_config_load(const char *path, SweepSpec *out, char *err, int errlen);

/* The same from text in memory; name stands for the file in messages. */
int sweep_config_parse(const char *text, size_t len, const char *name, SweepSpec *out, char *err,
                       int errlen);

const char *sweep_param_name(SweepParametrization p);

#endif
