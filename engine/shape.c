/* engine/shape.c: parameter counts and analytic FLOPs per token of a model shape, and the
 * rule that derives a shape from (N, P). See shape.h; formulas are spec dlcm-model.md §5. */
#include "engine/shape.h"

#include <math.h>
#include <stdio.h>

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

int shape_default_ffn(int d) { return round_up((8 * d + 2) / 3, 64); }
int shape_ffn_t(const ModelShape *s) { return s->ffn_t > 0 ? s->ffn_t : shape_default_ffn(s->d_t); }
int shape_ffn_c(const ModelShape *s) { return s->ffn_c > 0 ? s->ffn_c : shape_default_ffn(s->d_c); }

int64_t shape_block_params(int d, int f)
{
    int64_t D = d, F = f;
    return 4 * D * D + 3 * D * F + 2 * D + 2 * SHAPE_HEAD_DIM;
}

int shape_validate(const ModelShape *s, char *err, int errlen)
{
    if (s->vocab < 2) { snprintf(err, errlen, "vocab must be >= 2 (got %d)", s->vocab); return -1; }
    if (s->seq_len < 2) { snprintf(err, errlen, "seq_len must be >= 2 (got %d)", s->seq_len); return -1; }
    if (s->d_t <= 0 || s->d_t % SHAPE_HEAD_DIM) {
        snprintf(err, errlen, "d_t must be a positive multiple of %d (got %d)", SHAPE_HEAD_DIM, s->d_t);
        return -1;
    }
    if (s->ffn_t < 0 || s->ffn_c < 0) { snprintf(err, errlen, "ffn sizes must be >= 0"); return -1; }
    if (s->family == FAMILY_DENSE) {
        if (s->n_layers < 1) { snprintf(err, errlen, "n_layers must be >= 1 (got %d)", s->n_layers); return -1; }
        return 0;
    }
    if (s->family != FAMILY_DLCM) { snprintf(err, errlen, "unknown family %d", (int)s->family); return -1; }
    if (s->d_c <= 0 || s->d_c % SHAPE_HEAD_DIM) {
        snprintf(err, errlen, "d_c must be a positive multiple of %d (got %d)", SHAPE_HEAD_DIM, s->d_c);
        return -1;
    }
    if (s->n_enc < 1) { snprintf(err, errlen, "n_enc must be >= 1 (got %d)", s->n_enc); return -1; }
    if (s->n_con < 1) { snprintf(err, errlen, "n_con must be >= 1 (got %d)", s->n_con); return -1; }
    if (s->n_dec < 0) { snprintf(err, errlen, "n_dec must be >= 0 (got %d)", s->n_dec); return -1; }
    if (!(s->R >= 1.0) || s->R > s->seq_len) {
        snprintf(err, errlen, "R must be in [1, seq_len] (got %g)", s->R);
        return -1;
    }
    return 0;
}

int shape_params(const ModelShape *s, ShapeParams *out, char *err, int errlen)
{
    if (shape_validate(s, err, errlen)) return -1;
    int64_t V = s->vocab, dt = s->d_t, dc = s->d_c;
    int ft = shape_ffn_t(s);
    out->embedding = V * dt;
    out->unembedding = V * dt;
    if (s->family == FAMILY_DENSE) {
        out->backbone = 0;
        out->N = s->n_layers * shape_block_params(s->d_t, ft) + dt; /* + final norm */
        out->P = 0.0;
        return 0;
    }
    int fc = shape_ffn_c(s);
    int64_t token_blocks = (int64_t)(s->n_enc + s->n_dec) * shape_block_params(s->d_t, ft);
    int64_t router = 2 * dt * dt;
    int64_t w_up = dc * dt;
    int64_t backbone = s->n_con * shape_block_params(s->d_c, fc);
    int64_t cross = dt + dc                /* pre-norms on H and on the smoothed concepts */
                    + 2 * dt * dt          /* W_Q, W_O */
                    + 2 * dc * dt          /* W_K, W_V */
                    + 2 * SHAPE_HEAD_DIM   /* QK-RMSNorm gains */
                    + 2 * dt               /* null concept key and value */
                    + dt + 3 * dt * ft;    /* FFN pre-norm and SwiGLU */
    int64_t final_norm = dt;
    out->backbone = backbone;
    out->N = token_blocks + router + w_up + backbone + cross + final_norm;
    out->P = (double)backbone / (double)out->N;
    return 0;
}

double shape_block_flops(int d, int f, double n)
{
    double D = d, F = f;
    return 2.0 * (4.0 * D * D + 3.0 * D * F) + 4.0 * D * (n + 1.0) / 2.0;
}

double shape_fwd_flops_per_token(const ModelShape *s, double R)
{
    double T = s->seq_len, V = s->vocab, dt = s->d_t, dc = s->d_c;
    int ft = shape_ffn_t(s);
    if (s->family == FAMILY_DENSE)
        return s->n_layers * shape_block_flops(s->d_t, ft, T) + 2.0 * dt * V;
    int fc = shape_ffn_c(s);
    double token_blocks = (s->n_enc + s->n_dec) * shape_block_flops(s->d_t, ft, T);
    double router = 2.0 * 2.0 * dt * dt;
    double per_concept = s->n_con * shape_block_flops(s->d_c, fc, T / R)
                         + 2.0 * dt * dc           /* W_up */
                         + 2.0 * 2.0 * dc * dt;    /* cross-attention K and V */
    double cross = 2.0 * (2.0 * dt * dt + 3.0 * dt * ft) + 4.0 * dt * (T / R + 2.0) / 2.0;
    return token_blocks + router + per_concept / R + cross + 2.0 * dt * V;
}

double shape_train_flops_per_token(const ModelShape *s, double R)
{
    return 3.0 * shape_fwd_flops_per_token(s, R);
}

ShapeRule shape_rule_default(void)
{
    ShapeRule r = {2.0, 64.0, 1, 2, 8192};
    return r;
}

/* How far a candidate misses N (log ratio) and P. Misses within the tolerances cost little, so
 * that among shapes near the target the aspect preferences decide; beyond them they dominate.
 * N is loose (10 %) because at small N whole blocks are coarse steps, and the planner and the
 * query use the shape's realized N anyway; a poor aspect ratio would be a worse model. */
static double shape_fit_error(double n_log_err, double p_err)
{
    const double n_tolerance = 0.10, p_tolerance = 0.03;
    double n_excess = n_log_err > n_tolerance ? n_log_err - n_tolerance : 0.0;
    double p_excess = p_err > p_tolerance ? p_err - p_tolerance : 0.0;
    return 20.0 * (n_excess + p_excess) + 1.0 * (n_log_err + p_err);
}

int shape_solve(const ModelShape *base, double N, double P, const ShapeRule *rule_in,
                ModelShape *out, char *err, int errlen)
{
    ShapeRule rule = rule_in ? *rule_in : shape_rule_default();
    if (!(N > 0) || !isfinite(N)) { snprintf(err, errlen, "N must be positive (got %g)", N); return -1; }
    if (base->family == FAMILY_DLCM && !(P > 0 && P < 1)) {
        snprintf(err, errlen, "P must be in (0, 1) (got %g)", P);
        return -1;
    }
    if (rule.enc_share_den <= 0 || rule.enc_share_num < 0 || rule.enc_share_num > rule.enc_share_den ||
        !(rule.aspect > 0) || !(rule.concept_width_ratio > 1) || rule.max_width < 64) {
        snprintf(err, errlen, "invalid shape rule%s",
                 rule.concept_width_ratio > 1 ? "" : " (concept_width_ratio must exceed 1: the backbone is the wider stack)");
        return -1;
    }
    double best_score = INFINITY;
    ModelShape best = *base;
    if (base->family == FAMILY_DENSE) {
        for (int d = 64; d <= rule.max_width; d += 64) {
            ModelShape s = *base;
            s.ffn_t = s.ffn_c = 0;
            s.d_t = d;
            int64_t per_block = shape_block_params(d, shape_default_ffn(d));
            int layers = (int)lround((N - d) / (double)per_block);
            s.n_layers = layers < 1 ? 1 : layers;
            ShapeParams sp;
            if (shape_params(&s, &sp, err, errlen)) continue;
            double score = shape_fit_error(fabs(log((double)sp.N / N)), 0.0) + 0.1 * fabs(log(d / (rule.aspect * s.n_layers)));
            if (score < best_score) { best_score = score; best = s; }
        }
    } else {
        /* Both stacks keep the aspect ratio: the backbone's width d_c and depth follow from N*P,
         * the token width d_t and the token depth from the rest. A DLCM's backbone is the wider
         * stack: d_t is at most d_c / ratio (and not below d_c/4 where the ratio allows); among
         * shapes that fit equally well, d_c / d_t near the ratio is preferred. Every shape keeps
         * at least one encoder and one decoder block (shape_check_dlcm_proportions). */
        for (int dc = 64; dc <= rule.max_width; dc += 64) {
            int dt_hi = (int)floor(dc / rule.concept_width_ratio / 64.0) * 64;
            int dt_lo = dc / 4 < 64 ? 64 : (dc / 4 + 63) / 64 * 64;
            if (dt_lo > dt_hi) dt_lo = 64;
            for (int dt = dt_lo; dt <= dt_hi; dt += 64) {
                ModelShape s = *base;
                s.ffn_t = s.ffn_c = 0;
                s.d_t = dt;
                s.d_c = dc;
                int64_t con_block = shape_block_params(dc, shape_default_ffn(dc));
                int n_con = (int)lround(N * P / (double)con_block);
                s.n_con = n_con < 1 ? 1 : n_con;
                s.n_enc = 1;
                s.n_dec = 0;
                ShapeParams fixed;
                if (shape_params(&s, &fixed, err, errlen)) continue;
                int64_t tok_block = shape_block_params(dt, shape_default_ffn(dt));
                double rest = N - (double)(fixed.N - tok_block); /* budget for all encoder+decoder blocks */
                int n_tok = (int)lround(rest / (double)tok_block);
                if (n_tok < 2) n_tok = 2;
                int n_enc = (int)lround((double)n_tok * rule.enc_share_num / rule.enc_share_den);
                s.n_enc = n_enc < 1 ? 1 : n_enc > n_tok - 1 ? n_tok - 1 : n_enc;
                s.n_dec = n_tok - s.n_enc;
                ShapeParams sp;
                if (shape_params(&s, &sp, err, errlen)) continue;
                double n_err = fabs(log((double)sp.N / N));
                double p_err = fabs(sp.P - P);
                double aspect_con = fabs(log(dc / (rule.aspect * s.n_con)));
                double aspect_tok = fabs(log(dt / (rule.aspect * (s.n_enc + s.n_dec + 1))));
                double ratio_err = fabs(log((double)dc / dt / rule.concept_width_ratio));
                double score = shape_fit_error(n_err, p_err) + 0.1 * (aspect_con + aspect_tok) + 0.05 * ratio_err;
                if (score < best_score) { best_score = score; best = s; }
            }
        }
    }
    if (!isfinite(best_score)) { snprintf(err, errlen, "no shape fits N=%g P=%g", N, P); return -1; }
    *out = best;
    return 0;
}

int shape_check_dlcm_proportions(const ModelShape *s, double min_ratio, char *err, int errlen)
{
    if (s->family != FAMILY_DLCM) return 0;
    if (s->n_dec < 1) {
        snprintf(err, errlen, "no decoder block (n_dec = 0): a DLCM decodes its concepts back through at least one token block");
        return -1;
    }
    if (min_ratio > 0 && (!(s->d_c > s->d_t) || (double)s->d_c < min_ratio * s->d_t - 1e-9)) {
        snprintf(err, errlen, "the backbone (d_c = %d) is not wider than the token stacks (d_t = %d) by concept_width_ratio %g",
                 s->d_c, s->d_t, min_ratio);
        return -1;
    }
    return 0;
}

/* Dense forward FLOPs per token of d, n_layers and FFN f, as shape_fwd_flops_per_token counts. */
static double dense_flops(const ModelShape *base, int d, int n_layers, int f)
{
    ModelShape s = *base;
    s.family = FAMILY_DENSE;
    s.d_t = d;
    s.n_layers = n_layers;
    s.ffn_t = f;
    return shape_fwd_flops_per_token(&s, 1.0);
}

int shape_solve_dense_flops(const ModelShape *base, double target, double rel_tol, const ShapeRule *rule_in,
                            ModelShape *out, char *err, int errlen)
{
    ShapeRule rule = rule_in ? *rule_in : shape_rule_default();
    if (!(target > 0) || !isfinite(target)) {
        snprintf(err, errlen, "the FLOPs to match must be positive (got %g)", target);
        return -1;
    }
    double best_score = INFINITY;
    ModelShape best = *base;
    for (int d = 64; d <= rule.max_width; d += 64) {
        int f_default = shape_default_ffn(d);
        double per_layer = dense_flops(base, d, 1, f_default) - dense_flops(base, d, 0, f_default);
        double head = dense_flops(base, d, 0, f_default); /* the unembedding */
        if (head >= target * (1 + rel_tol)) break;        /* wider only costs more */
        int guess = (int)lround((target - head) / per_layer);
        for (int layers = guess - 1; layers <= guess + 1; layers++) {
            if (layers < 1) continue;
            /* The default FFN, or the FFNs (multiples of 8, as tensor cores want, within [2d, 4d])
             * on either side of the exact match: at small widths a step of 64 is several percent. */
            double per_ffn_unit = 6.0 * d * layers;
            double f_exact = f_default + (target - dense_flops(base, d, layers, f_default)) / per_ffn_unit;
            int options[3] = {f_default, (int)floor(f_exact / 8.0) * 8, (int)ceil(f_exact / 8.0) * 8};
            for (int o = 0; o < 3; o++) {
                if (options[o] < 2 * d || options[o] > 4 * d) continue;
                double got = dense_flops(base, d, layers, options[o]);
                double miss = fabs(got - target) / target;
                if (miss > rel_tol) continue;
                double score = fabs(log(d / (rule.aspect * layers))) +
                               0.5 * fabs(log((double)options[o] / f_default)) + 10.0 * miss;
                if (score < best_score) {
                    best_score = score;
                    best = *base;
                    best.family = FAMILY_DENSE;
                    best.d_t = d;
                    best.n_layers = layers;
                    best.ffn_t = options[o] == f_default ? 0 : options[o];
                    best.d_c = best.n_enc = best.n_con = best.n_dec = best.ffn_c = 0;
                    best.R = 0;
                }
            }
        }
    }
    if (!isfinite(best_score)) {
        snprintf(err, errlen, "no dense shape has %.4g forward FLOPs per token within %g%%", target, rel_tol * 100);
        return -1;
    }
    *out = best;
    return 0;
}

void shape_describe(const ModelShape *s, char *buf, int buflen)
{
    if (s->family == FAMILY_DENSE)
        snprintf(buf, buflen, "dense d=%d layers=%d ffn=%d V=%d T=%d", s->d_t, s->n_layers,
                 shape_ffn_t(s), s->vocab, s->seq_len);
    else
        snprintf(buf, buflen, "dlcm d_t=%d d_c=%d enc=%d con=%d dec=%d R=%g V=%d T=%d", s->d_t, s->d_c,
                 s->n_enc, s->n_con, s->n_dec, s->R, s->vocab, s->seq_len);
}
