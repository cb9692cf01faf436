/* engine/optim.h: AdamW with decoupled μP per-tensor LR and ε multipliers, decoupled weight
 * decay on matrices (coupled or width-independent), and global gradient-norm clipping. */
#ifndef DLCM_ENGINE_OPTIM_H
#define DLCM_ENGINE_OPTIM_H

#include "engine/model.h"

typedef enum { WD_COUPLED = 0, WD_INDEPENDENT = 1 } WeightDecayMode;

typedef struct {
    float lr_token;    /* η_token: base LR of token-width hidden matrices */
    float lr_concept;  /* η_concept */
    float lr_other;    /* η_other: embedding, unembedding, vectors */
    float beta1, beta2, eps;
    float weight_decay;
    WeightDecayMode wd_mode; /* independent: the decay applied is wd / lr_mult (lr*wd constant) */
    float clip;        /* max global gradient norm; <= 0 disables */
} OptimConfig;

OptimConfig optim_config_default(void);

typedef struct Optimizer Optimizer;

Optimizer *optim_create(Model *m, const OptimConfig *cfg, char *err, int errlen);
void optim_destroy(Optimizer *o);

/* One update of every tensor with LR = base(class) * lr_mult * lr_factor (the schedule's
 * factor), clipping by the global norm first. Increments the step count. */
void optim_step(Optimizer *o, float lr_factor);

/* State for checkpoints: m and v buffers (backend memory, model_num_params floats each). */
float *optim_m(Optimizer *o);
float *optim_v(Optimizer *o);
int optim_steps_done(const Optimizer *o);
void optim_set_steps_done(Optimizer *o, int t);
/* Global gradient norm before clipping of the last step (downloads: call at log time). */
double optim_last_grad_norm(Optimizer *o);

#endif
