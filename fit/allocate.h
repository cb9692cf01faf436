/* fit/allocate.h: compute-optimal allocations under a fitted law (spec scaling-laws.md §4):
 * minimize L(N, P, R, D) subject to 3 F_fwd(shape) D = C, where the shape comes from
 * engine/shape.h's shape_solve(N, P) and F_fwd from shape_fwd_flops_per_token. */
#ifndef DLCM_FIT_ALLOCATE_H
#define DLCM_FIT_ALLOCATE_H

#include "engine/shape.h"
#include "fit/law.h"

/* The search space. Shapes follow shape_rule_default() (d_c = 2 d_t, 64 width per block of the
 * widest stack, token blocks split evenly between encoder and decoder); N and P in the law are
 * the realized values of the solved shape, not the targets. */
typedef struct {
    int vocab, seq_len;       /* V and T of the shapes (from the fit's data or flags) */
    double R_fixed;           /* > 0: only this R */
    double R_min, R_max;      /* range searched for R (default: the fit data's range) */
    double max_N;             /* > 0: N <= max_N */
    double max_fwd_flops;     /* > 0: forward FLOPs per token <= this (inference cap) */
    double N_lo, N_hi;        /* range of N searched (default 1e5 .. 2e11) */
    double P_min, P_max;      /* > 0: backbone shares searched (dlcm; default 0.025 .. 0.975); a solved
                                 shape's P may differ from its target by up to ALLOC_P_TOLERANCE */
} AllocSpace;

/* Shapes come in steps of 64 width and whole blocks, so a shape solved for a target P lands
 * near it, not on it; a realized P this close to the searched range counts as inside it. */
#define ALLOC_P_TOLERANCE 0.03

typedef struct {
    int valid;
    ModelShape shape;
    double N, P, R, D;
    double fwd_flops;  /* forward FLOPs per token at R */
    double loss;       /* fitted loss */
    /* The optimum sits on the edge of the search: -1 at the lower end, +1 at the upper, 0 inside. */
    int edge_N, edge_P, edge_R;
} Allocation;

/* Candidate shapes with their FLOPs, built once per space and reused for every budget and
 * every coefficient vector (the bootstrap). */
typedef struct {
    int n;
    ModelShape *shapes;
    double *N, *P;
    int dense;       /* 1: dense candidates (P = 0, R = 1) */
    double R_lo, R_hi, R_fixed;
    double max_fwd_flops;
    double N_lo, N_hi, P_lo, P_hi; /* the targets searched (for the edge flags) */
    double N_step, P_step;         /* their grid spacing (N: factor) */
} CandidateSet;

/* Builds the dense (dense = 1) or dlcm candidates. 0, or -1 with err. */
int allocate_candidates(const AllocSpace *space, int dense, CandidateSet *out, char *err, int errlen);
void allocate_candidates_free(CandidateSet *set);

/* The best allocation at budget C for coefficient vector coef; .valid = 0 when nothing meets
 * the constraints. R is searched on a grid of 8 values per octave, then refined by golden
 * section for the best shape. */
Allocation allocate_best(const Law *law, const double *coef, const CandidateSet *set, double C);

/* The loss of allocation a under coefficients coef (same N, P, R, D). */
double allocate_loss(const Law *law, const double *coef, const Allocation *a);

/* The smallest budget at which the best allocation of set reaches target_loss (bisection in
 * log C over [C_lo, C_hi]); NaN when it is not reached within the range. */
double allocate_budget_for_loss(const Law *law, const double *coef, const CandidateSet *set, double target_loss,
                                double C_lo, double C_hi);

/* Chinchilla closed form (spec §4): N* = G (C/6)^(beta/(alpha+beta)), G = (alpha A/(beta B))^(1/(alpha+beta)),
 * D* = C / (6 N*). coef in the chinchilla order. */
void allocate_chinchilla_closed_form(const double *coef, double C, double *N_opt, double *D_opt);

#endif
