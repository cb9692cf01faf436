/* tests/test_shape.c: parameter counts, P and analytic FLOPs of engine/shape.c against sums
 * written out by hand for small shapes, and the (N, P) -> shape solver. */
#include <criterion/criterion.h>
#include <math.h>

#include "engine/shape.h"

static ModelShape dense_shape(void)
{
    ModelShape s = {0};
    s.family = FAMILY_DENSE;
    s.vocab = 256;
    s.seq_len = 128;
    s.d_t = 128;
    s.n_layers = 2;
    return s;
}

static ModelShape dlcm_shape(void)
{
    ModelShape s = {0};
    s.family = FAMILY_DLCM;
    s.vocab = 256;
    s.seq_len = 128;
    s.d_t = 128;
    s.d_c = 256;
    s.n_enc = 2;
    s.n_con = 3;
    s.n_dec = 1;
    s.R = 4;
    return s;
}

Test(shape, default_ffn_rounds_up_to_64)
{
    cr_assert_eq(shape_default_ffn(128), 384);  /* 8/3*128 = 341.3 -> 384 */
    cr_assert_eq(shape_default_ffn(192), 512);  /* 512 exactly */
    cr_assert_eq(shape_default_ffn(256), 704);  /* 682.7 -> 704 */
}

Test(shape, dense_counts_by_hand)
{
    ModelShape s = dense_shape();
    ShapeParams p;
    char err[128];
    cr_assert_eq(shape_params(&s, &p, err, sizeof err), 0, "%s", err);
    int64_t block = 4 * 128 * 128 + 3 * 128 * 384 + 2 * 128 + 2 * 64;
    cr_assert_eq(p.N, 2 * block + 128);
    cr_assert_eq(p.embedding, 256 * 128);
    cr_assert_eq(p.unembedding, 256 * 128);
    cr_assert_eq(p.P, 0.0);
    double flops = 2 * (2.0 * (4.0 * 128 * 128 + 3.0 * 128 * 384) + 4.0 * 128 * 129 / 2.0) + 2.0 * 128 * 256;
    cr_assert_float_eq(shape_fwd_flops_per_token(&s, 1.0), flops, 1e-6 * flops);
    cr_assert_float_eq(shape_train_flops_per_token(&s, 1.0), 3 * flops, 1e-6 * flops);
}

Test(shape, dlcm_counts_by_hand)
{
    ModelShape s = dlcm_shape();
    ShapeParams p;
    char err[128];
    cr_assert_eq(shape_params(&s, &p, err, sizeof err), 0, "%s", err);
    int64_t tok_block = 4 * 128 * 128 + 3 * 128 * 384 + 2 * 128 + 128;
    int64_t con_block = 4 * 256 * 256 + 3 * 256 * 704 + 2 * 256 + 128;
    int64_t cross = 128 + 256 + 2 * 128 * 128 + 2 * 256 * 128 + 128 + 2 * 128 + 128 + 3 * 128 * 384;
    int64_t N = 3 * tok_block + 2 * 128 * 128 + 256 * 128 + 3 * con_block + cross + 128;
    cr_assert_eq(p.backbone, 3 * con_block);
    cr_assert_eq(p.N, N);
    cr_assert_float_eq(p.P, (double)(3 * con_block) / (double)N, 1e-12);

    double T = 128, R = 4;
    double f = 3 * (2.0 * (4.0 * 128 * 128 + 3.0 * 128 * 384) + 4.0 * 128 * (T + 1) / 2)
               + 4.0 * 128 * 128
               + (3 * (2.0 * (4.0 * 256 * 256 + 3.0 * 256 * 704) + 4.0 * 256 * (T / R + 1) / 2)
                  + 2.0 * 128 * 256 + 4.0 * 256 * 128) / R
               + 2.0 * (2.0 * 128 * 128 + 3.0 * 128 * 384) + 4.0 * 128 * (T / R + 2) / 2
               + 2.0 * 128 * 256;
    cr_assert_float_eq(shape_fwd_flops_per_token(&s, 4.0), f, 1e-9 * f);
    /* A larger compression ratio moves less compute into the backbone. */
    cr_assert_lt(shape_fwd_flops_per_token(&s, 8.0), shape_fwd_flops_per_token(&s, 4.0));
}

Test(shape, validation_names_the_field)
{
    ModelShape s = dlcm_shape();
    char err[128];
    ShapeParams p;
    s.d_c = 200;
    cr_assert_eq(shape_params(&s, &p, err, sizeof err), -1);
    cr_assert(strstr(err, "d_c") != NULL, "%s", err);
    s = dlcm_shape();
    s.R = 0.5;
    cr_assert_eq(shape_validate(&s, err, sizeof err), -1);
    cr_assert(strstr(err, "R") != NULL, "%s", err);
    s = dense_shape();
    s.n_layers = 0;
    cr_assert_eq(shape_validate(&s, err, sizeof err), -1);
    cr_assert(strstr(err, "n_layers") != NULL, "%s", err);
}

Test(shape, solver_hits_N_and_P)
{
    char err[128];
    ShapeRule rule = shape_rule_default();
    ModelShape base = dlcm_shape();
    double targets[][2] = {{2e6, 0.3}, {2e7, 0.5}, {1e8, 0.7}};
    for (int i = 0; i < 3; i++) {
        ModelShape out;
        cr_assert_eq(shape_solve(&base, targets[i][0], targets[i][1], &rule, &out, err, sizeof err), 0, "%s", err);
        ShapeParams p;
        cr_assert_eq(shape_params(&out, &p, err, sizeof err), 0, "%s", err);
        cr_assert_lt(fabs(log(p.N / targets[i][0])), 0.15, "N %lld for target %g", (long long)p.N, targets[i][0]);
        cr_assert_lt(fabs(p.P - targets[i][1]), 0.08, "P %g for target %g", p.P, targets[i][1]);
        cr_assert_eq(out.d_c % 64, 0);
        cr_assert_eq(out.d_t % 64, 0);
    }
    ModelShape dense = dense_shape(), out;
    cr_assert_eq(shape_solve(&dense, 1e7, 0, &rule, &out, err, sizeof err), 0, "%s", err);
    ShapeParams p;
    shape_params(&out, &p, err, sizeof err);
    cr_assert_lt(fabs(log(p.N / 1e7)), 0.1);
    cr_assert_eq(shape_solve(&base, -1, 0.5, &rule, &out, err, sizeof err), -1);
    cr_assert_eq(shape_solve(&base, 1e7, 1.5, &rule, &out, err, sizeof err), -1);
}
