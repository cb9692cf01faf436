/* fit/allocate.c: grid-and-refine search for compute-optimal allocations over solved shapes,
 * the budget at which a family reaches a loss, and the Chinchilla closed form. */
#include "fit/allocate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_PER_DECADE 16
#define P_STEP 0.025
#define R_PER_OCTAVE 8

void allocate_candidates_free(CandidateSet *set)
{
    free(set->shapes);
    free(set->N);
    free(set->P);
    memset(set, 0, sizeof *set);
}

static int same_shape(const ModelShape *a, const ModelShape *b)
{
    return a->d_t == b->d_t && a->d_c == b->d_c && a->n_layers == b->n_layers && a->n_enc == b->n_enc &&
           a->n_con == b->n_con && a->n_dec == b->n_dec;
}

int allocate_candidates(const AllocSpace *space, int dense, CandidateSet *out, char *err, int errlen)
{
    memset(out, 0, sizeof *out);
    out->dense = dense;
    out->R_fixed = dense ? 1.0 : space->R_fixed;
    out->R_lo = dense ? 1.0 : space->R_min;
    out->R_hi = dense ? 1.0 : space->R_max;
    out->max_fwd_flops = space->max_fwd_flops;
    if (space->vocab < 2 || space->seq_len < 2) {
        snprintf(err, errlen, "the shapes need vocab and seq_len (got V=%d T=%d): pass --vocab and --seq-len",
                 space->vocab, space->seq_len);
        return -1;
    }
    if (!dense && out->R_fixed <= 0 && !(out->R_lo >= 1.0 && out->R_hi >= out->R_lo)) {
        snprintf(err, errlen, "invalid R range [%g, %g]", out->R_lo, out->R_hi);
        return -1;
    }
    double N_lo = space->N_lo > 0 ? space->N_lo : 1e5, N_hi = space->N_hi > 0 ? space->N_hi : 2e11;
    if (space->max_N > 0 && space->max_N < N_hi) N_hi = space->max_N * 1.1; /* the cap is applied exactly below */
    int n_N = (int)ceil(log10(N_hi / N_lo) * N_PER_DECADE) + 1;
    double P_lo = space->P_min > 0 ? space->P_min : P_STEP, P_hi = space->P_max > 0 ? space->P_max : 1.0 - P_STEP;
    if (!dense && !(P_lo > 0 && P_hi < 1 && P_hi >= P_lo)) {
        snprintf(err, errlen, "invalid P range [%g, %g]", P_lo, P_hi);
        return -1;
    }
    /* P targets: the range's ends and every multiple of P_STEP between them. */
    int n_P = dense ? 1 : (int)floor((P_hi - P_lo) / P_STEP) + 2;
    out->N_lo = N_lo;
    out->N_hi = N_hi;
    out->N_step = pow(10.0, 1.0 / N_PER_DECADE);
    out->P_lo = dense ? 0 : P_lo;
    out->P_hi = dense ? 0 : P_hi;
    out->P_step = P_STEP;
    int cap = n_N * n_P;
    out->shapes = malloc((size_t)cap * sizeof *out->shapes);
    out->N = malloc((size_t)cap * sizeof *out->N);
    out->P = malloc((size_t)cap * sizeof *out->P);
    if (!out->shapes || !out->N || !out->P) {
        allocate_candidates_free(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ModelShape base = {0};
    base.family = dense ? FAMILY_DENSE : FAMILY_DLCM;
    base.vocab = space->vocab;
    base.seq_len = space->seq_len;
    base.R = dense ? 1.0 : 1.0; /* validated R; the FLOPs take R explicitly */
    ShapeRule rule = shape_rule_default();
    char inner[256];
    for (int i = 0; i < n_N; i++) {
        double N_target = N_lo * pow(10.0, (double)i / N_PER_DECADE);
        for (int j = 0; j < n_P; j++) {
            double P_target = dense ? 0.0 : j == n_P - 1 ? P_hi : fmin(P_lo + P_STEP * j, P_hi);
            ModelShape s;
            if (shape_solve(&base, N_target, P_target, &rule, &s, inner, sizeof inner)) continue;
            ShapeParams sp;
            if (shape_params(&s, &sp, inner, sizeof inner)) continue;
            if (space->max_N > 0 && sp.N > space->max_N) continue;
            if (!dense && (sp.P < P_lo - ALLOC_P_TOLERANCE || sp.P > P_hi + ALLOC_P_TOLERANCE)) continue;
            int dup = 0;
            for (int c = out->n - 1; c >= 0 && c >= out->n - 4 * n_P && !dup; c--)
                dup = same_shape(&out->shapes[c], &s);
            if (dup) continue;
            out->shapes[out->n] = s;
            out->N[out->n] = (double)sp.N;
            out->P[out->n] = sp.P;
            out->n++;
        }
    }
    if (out->n == 0) {
        snprintf(err, errlen, "no %s shape satisfies the constraints", dense ? "dense" : "dlcm");
        allocate_candidates_free(out);
        return -1;
    }
    return 0;
}

/* Loss of candidate c at ratio R and budget C; +inf when the inference cap excludes it. */
static double candidate_loss(const Law *law, const double *coef, const CandidateSet *set, int c, double R,
                             double C, double *D_out, double *fwd_out)
{
    ModelShape s = set->shapes[c];
    double fwd = shape_fwd_flops_per_token(&s, R);
    if (set->max_fwd_flops > 0 && fwd > set->max_fwd_flops) return INFINITY;
    double D = C / (3.0 * fwd);
    if (D_out) *D_out = D;
    if (fwd_out) *fwd_out = fwd;
    return law_loss(law, coef, set->N[c], D, R, set->P[c], set->dense);
}

Allocation allocate_best(const Law *law, const double *coef, const CandidateSet *set, double C)
{
    Allocation best = {0};
    best.loss = INFINITY;
    double R_values[256];
    int n_R = 0;
    if (set->dense) R_values[n_R++] = 1.0;
    else if (set->R_fixed > 0) R_values[n_R++] = set->R_fixed;
    else {
        double octaves = log2(set->R_hi / set->R_lo);
        int steps = (int)ceil(octaves * R_PER_OCTAVE);
        if (steps > 254) steps = 254;
        for (int i = 0; i <= steps; i++) R_values[n_R++] = steps ? set->R_lo * pow(set->R_hi / set->R_lo, (double)i / steps) : set->R_lo;
    }
    int best_c = -1;
    double best_R = 1.0;
    for (int c = 0; c < set->n; c++) {
        for (int r = 0; r < n_R; r++) {
            if (R_values[r] > set->shapes[c].seq_len) continue;
            double L = candidate_loss(law, coef, set, c, R_values[r], C, NULL, NULL);
            if (L < best.loss) { best.loss = L; best_c = c; best_R = R_values[r]; }
        }
    }
    if (best_c < 0) return best;
    /* R is continuous: golden-section refinement of log R between the neighbouring grid values. */
    if (!set->dense && set->R_fixed <= 0 && n_R > 1) {
        double step = log(set->R_hi / set->R_lo) / (n_R - 1);
        double a = fmax(log(best_R) - step, log(set->R_lo)), b = fmin(log(best_R) + step, log(set->R_hi));
        const double g = 0.6180339887498949;
        for (int it = 0; it < 40; it++) {
            double x1 = b - g * (b - a), x2 = a + g * (b - a);
            if (candidate_loss(law, coef, set, best_c, exp(x1), C, NULL, NULL) <
                candidate_loss(law, coef, set, best_c, exp(x2), C, NULL, NULL))
                b = x2;
            else
                a = x1;
        }
        double R = exp(0.5 * (a + b));
        double L = candidate_loss(law, coef, set, best_c, R, C, NULL, NULL);
        if (L < best.loss) { best.loss = L; best_R = R; }
    }
    best.valid = 1;
    /* Edges: the optimum's N or P at the end of the targets searched (within one grid step), or R
     * at the end of its range. */
    double N_c = set->N[best_c], P_c = set->P[best_c];
    best.edge_N = N_c < set->N_lo * set->N_step ? -1 : N_c > set->N_hi / set->N_step ? 1 : 0;
    if (!set->dense) {
        best.edge_P = P_c < set->P_lo + 0.5 * set->P_step ? -1 : P_c > set->P_hi - 0.5 * set->P_step ? 1 : 0;
        if (set->P_hi - set->P_lo < set->P_step) best.edge_P = 0; /* a range narrower than a step has no inside */
        if (set->R_fixed <= 0)
            best.edge_R = best_R < set->R_lo * 1.01 ? -1 : best_R > set->R_hi / 1.01 ? 1 : 0;
    }
    best.shape = set->shapes[best_c];
    best.shape.R = set->dense ? 0.0 : best_R;
    best.N = set->N[best_c];
    best.P = set->P[best_c];
    best.R = best_R;
    best.loss = candidate_loss(law, coef, set, best_c, best_R, C, &best.D, &best.fwd_flops);
    return best;
}

double allocate_loss(const Law *law, const double *coef, const Allocation *a)
{
    return law_loss(law, coef, a->N, a->D, a->R, a->P, a->shape.family == FAMILY_DENSE);
}

double allocate_budget_for_loss(const Law *law, const double *coef, const CandidateSet *set, double target_loss,
                                double C_lo, double C_hi)
{
    Allocation hi = allocate_best(law, coef, set, C_hi);
    if (!hi.valid || hi.loss > target_loss) return NAN;
    Allocation lo = allocate_best(law, coef, set, C_lo);
    if (lo.valid && lo.loss <= target_loss) return NAN;
    double a = log(C_lo), b = log(C_hi);
    for (int it = 0; it < 32; it++) { /* 2^-32 of a log range of ~18: far below any interval */
        double mid = 0.5 * (a + b);
        Allocation m = allocate_best(law, coef, set, exp(mid));
        if (m.valid && m.loss <= target_loss) b = mid;
        else a = mid;
    }
    return exp(b);
}

void allocate_chinchilla_closed_form(const double *coef, double C, double *N_opt, double *D_opt)
{
    double A = coef[1], B = coef[2], alpha = coef[3], beta = coef[4];
    double G = pow(alpha * A / (beta * B), 1.0 / (alpha + beta));
    *N_opt = G * pow(C / 6.0, beta / (alpha + beta));
    *D_opt = C / (6.0 * *N_opt);
}
