/* tests/engine_models.h: tiny dense and DLCM configurations and token helpers shared by the
 * model, training and μP tests. */
#ifndef DLCM_TESTS_ENGINE_MODELS_H
#define DLCM_TESTS_ENGINE_MODELS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/model.h"
#include "engine/rng.h"

static inline ModelShape tiny_dense_shape(int d, int layers, int T, int V)
{
    ModelShape s = {0};
    s.family = FAMILY_DENSE;
    s.vocab = V;
    s.seq_len = T;
    s.d_t = d;
    s.n_layers = layers;
    return s;
}

static inline ModelShape tiny_dlcm_shape(int dt, int dc, int T, int V, double R)
{
    ModelShape s = {0};
    s.family = FAMILY_DLCM;
    s.vocab = V;
    s.seq_len = T;
    s.d_t = dt;
    s.d_c = dc;
    s.n_enc = 1;
    s.n_con = 1;
    s.n_dec = 1;
    s.R = R;
    return s;
}

static inline Model *make_model(Backend *be, const ModelConfig *cfg, int batch, uint64_t seed)
{
    char err[256];
    Model *m = model_create(be, cfg, batch, err, sizeof err);
    cr_assert_not_null(m, "model_create on %s: %s", be->name, err);
    model_init(m, seed);
    return m;
}

/* [B][T+1] uniform random tokens. */
static inline int32_t *random_tokens(int B, int T, int V, uint64_t seed)
{
    int32_t *t = malloc((size_t)B * (T + 1) * sizeof *t);
    for (int i = 0; i < B * (T + 1); i++) t[i] = (int32_t)(rng_mix64(seed * 1000003u + i) % V);
    return t;
}

/* [B][T+1] bytes of a local text file (V must be 256), consecutive windows from `start`. */
static inline int32_t *text_tokens(const char *path, int B, int T, long start)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    int32_t *t = malloc((size_t)B * (T + 1) * sizeof *t);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    for (int b = 0; b < B; b++) {
        long at = (start + (long)b * (T + 1)) % (size - T - 1);
        fseek(f, at, SEEK_SET);
        for (int i = 0; i <= T; i++) {
            int c = fgetc(f);
            t[(size_t)b * (T + 1) + i] = c < 0 ? ' ' : c;
        }
    }
    fclose(f);
    return t;
}

#define LICENSE_TEXT "/usr/share/common-licenses/GPL-3"

#endif
