/* tests/test_engine_optim.c: AdamW over the model's tensors: each tensor's LR is its class's
 * base LR times its μP multiplier times the schedule factor, ε is scaled per tensor, weight
 * decay hits matrices only (coupled or width-independent), global-norm clipping scales the
 * gradient, and a seeded run is reproducible bit for bit. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/optim.h"
#include "tests/engine_models.h"

static OptimConfig test_optim_config(WeightDecayMode mode)
{
    OptimConfig oc = optim_config_default();
    oc.lr_token = 1e-2f;
    oc.lr_concept = 3e-2f;
    oc.lr_other = 5e-3f;
    oc.eps = 1e-3f; /* comparable to the gradient, so the ε multiplier shows */
    oc.weight_decay = 0.1f;
    oc.wd_mode = mode;
    oc.clip = 0;
    return oc;
}

static void first_step_case(WeightDecayMode mode)
{
    Backend *be = backend_cpu_create();
    ModelConfig cfg = model_config_default(tiny_dlcm_shape(128, 256, 8, 50, 4));
    cfg.d_base = 64;
    Model *m = make_model(be, &cfg, 1, 1);
    OptimConfig oc = test_optim_config(mode);
    char err[256];
    Optimizer *o = optim_create(m, &oc, err, sizeof err);
    cr_assert_not_null(o, "%s", err);
    size_t n = model_num_params(m);
    float *before = malloc(n * sizeof(float));
    memcpy(before, model_params(m), n * sizeof(float));
    model_begin_step(m);
    const float g = 2e-3f;
    for (size_t i = 0; i < n; i++) model_grads(m)[i] = g;
    optim_step(o, 0.5f);
    for (int t = 0; t < model_num_tensors(m); t++) {
        const ParamTensor *pt = model_tensor(m, t);
        double base = pt->cls == PCLASS_TOKEN_HIDDEN ? oc.lr_token
                      : pt->cls == PCLASS_CONCEPT_HIDDEN ? oc.lr_concept : oc.lr_other;
        double lr = base * pt->lr_mult * 0.5;
        double wd = !pt->is_matrix ? 0 : mode == WD_COUPLED ? oc.weight_decay : oc.weight_decay / pt->lr_mult;
        double eps = oc.eps * pt->eps_mult;
        size_t i = pt->offset + pt->count / 2;
        /* first step: mhat = g, vhat = g^2 */
        double want = before[i] - lr * (g / (g + eps) + wd * before[i]);
        cr_assert_float_eq(model_params(m)[i], want, 1e-6 * fabs(want) + 1e-9, "%s: %g vs %g", pt->name,
                           model_params(m)[i], want);
    }
    cr_assert_eq(optim_steps_done(o), 1);
    free(before);
    optim_destroy(o);
    model_destroy(m);
    be->destroy(be);
}

Test(engine_optim, per_tensor_lr_eps_and_coupled_decay) { first_step_case(WD_COUPLED); }
Test(engine_optim, width_independent_decay) { first_step_case(WD_INDEPENDENT); }

Test(engine_optim, clipping_scales_by_global_norm)
{
    Backend *be = backend_cpu_create();
    ModelConfig cfg = model_config_default(tiny_dense_shape(64, 1, 8, 50));
    Model *m = make_model(be, &cfg, 1, 1);
    OptimConfig oc = test_optim_config(WD_COUPLED);
    oc.clip = 0.5f;
    char err[256];
    Optimizer *o = optim_create(m, &oc, err, sizeof err);
    size_t n = model_num_params(m);
    model_begin_step(m);
    for (size_t i = 0; i < n; i++) model_grads(m)[i] = (i % 2 ? 1e-2f : -1e-2f);
    double norm = 1e-2 * sqrt((double)n);
    optim_step(o, 1.0f);
    cr_assert_float_eq(optim_last_grad_norm(o), norm, 1e-5 * norm);
    /* m = (1 - beta1) * g * clip / norm */
    double want = (1 - oc.beta1) * 1e-2 * 0.5 / norm;
    cr_assert_float_eq(optim_m(o)[1], want, 1e-5 * want);
    cr_assert_float_eq(optim_m(o)[0], -want, 1e-5 * want);
    optim_destroy(o);
    model_destroy(m);
    be->destroy(be);
}

Test(engine_optim, rejects_bad_config)
{
    Backend *be = backend_cpu_create();
    ModelConfig cfg = model_config_default(tiny_dense_shape(64, 1, 8, 50));
    Model *m = make_model(be, &cfg, 1, 1);
    OptimConfig oc = optim_config_default();
    oc.beta2 = 1.0f;
    char err[256] = "";
    cr_assert_null(optim_create(m, &oc, err, sizeof err));
    cr_assert(strstr(err, "beta"), "%s", err);
    model_destroy(m);
    be->destroy(be);
}

/* Two runs from the same seeds end with identical parameters (the CPU backend is
 * deterministic; boundary draws come from the counter RNG). */
Test(engine_optim, seeded_training_is_reproducible)
{
    Backend *be = backend_cpu_create();
    float *result[2];
    size_t n = 0;
    for (int run = 0; run < 2; run++) {
        ModelConfig cfg = model_config_default(tiny_dlcm_shape(64, 64, 16, 256, 3));
        Model *m = make_model(be, &cfg, 2, 42);
        OptimConfig oc = optim_config_default();
        char err[256];
        Optimizer *o = optim_create(m, &oc, err, sizeof err);
        for (int step = 0; step < 3; step++) {
            model_begin_step(m);
            for (int micro = 0; micro < 2; micro++) {
                int32_t *tokens = text_tokens(LICENSE_TEXT, 2, 16, 300L * step + 40L * micro);
                cr_assert_eq(model_forward_backward(m, tokens, MODEL_TRAIN, 1000 * step + micro, 0.5f, NULL, err, sizeof err), 0);
                free(tokens);
            }
            optim_step(o, 1.0f);
        }
        n = model_num_params(m);
        result[run] = malloc(n * sizeof(float));
        memcpy(result[run], model_params(m), n * sizeof(float));
        optim_destroy(o);
        model_destroy(m);
    }
    cr_assert_eq(memcmp(result[0], result[1], n * sizeof(float)), 0);
    free(result[0]);
    free(result[1]);
    be->destroy(be);
}
