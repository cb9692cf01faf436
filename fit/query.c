/* fit/query.c: the allocation search under a fitted law with its intervals, and the checks that
 * keep the answer inside the data: identification, the trained ranges, the search's edges. */
#include "fit/query.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit/allocate.h"

QueryOptions query_defaults(void)
{
    QueryOptions o = {.max_samples = -1, .max_extrapolation = 10.0};
    return o;
}

/* The range of a quantity over both families (the budget). */
static void overall_range(const DataRanges *r, int q, double *lo, double *hi)
{
    *lo = *hi = NAN;
    for (int f = 0; f < 2; f++) {
        if (isnan(r->fam[f].lo[q])) continue;
        *lo = isnan(*lo) ? r->fam[f].lo[q] : fmin(*lo, r->fam[f].lo[q]);
        *hi = isnan(*hi) ? r->fam[f].hi[q] : fmax(*hi, r->fam[f].hi[q]);
    }
}

/* Prints the warning for quantity q at value v against [lo, hi]; returns 1 when it is beyond
 * limit (refused), 0 otherwise. */
static int check_quantity(FILE *out, const char *who, const char *name, double v, double lo, double hi, double limit,
                          const char *limit_text)
{
    double k = scope_factor(v, lo, hi);
    if (isnan(k)) return 0;
    if (k <= 1.0) return 0;
    const char *side = v > hi ? "beyond the largest" : "below the smallest";
    double edge = v > hi ? hi : lo;
    if (isinf(k))
        fprintf(out, "warning: extrapolated: %s%s = %.4g where every trained run has %s = %.4g\n", who, name, v, name, edge);
    else
        fprintf(out, "warning: extrapolated: %s%s = %.4g is %.3gx %s trained (%.4g)\n", who, name, v, k, side, edge);
    if (k > limit) {
        fprintf(out, "  refused: beyond %s\n", limit_text);
        return 1;
    }
    return 0;
}

/* Checks an allocation's quantities against its family's trained range; prints the warnings and
 * edge flags; returns the number of refusals. */
static int check_allocation(FILE *out, const QueryOptions *opt, const LawSummary *s, const Allocation *a, int dense)
{
    const FamilyRange *r = &s->ranges.fam[dense ? FAM_DENSE : FAM_DLCM];
    const char *who = dense ? "dense " : "dlcm ";
    char limit[96];
    snprintf(limit, sizeof limit, "--max-extrapolation %g", opt->max_extrapolation);
    int refused = 0;
    if (r->n == 0) {
        fprintf(out, "warning: extrapolated: the fit has no %s runs; the %s optimum rests on the law's form alone\n",
                dense ? "dense" : "dlcm", dense ? "dense" : "dlcm");
        if (!dense) refused++;
    }
    if (isnan(r->lo[Q_D_T]) && r->n > 0)
        fprintf(out, "note: the fitted runs' shapes are unknown (a CSV): widths and depths not compared\n");
    refused += check_quantity(out, who, "N", a->N, r->lo[Q_N], r->hi[Q_N], opt->max_extrapolation, limit);
    refused += check_quantity(out, who, "D/N", a->D / a->N, r->lo[Q_D_OVER_N], r->hi[Q_D_OVER_N], opt->max_extrapolation, limit);
    refused += check_quantity(out, who, "d_t", a->shape.d_t, r->lo[Q_D_T], r->hi[Q_D_T], opt->max_extrapolation, limit);
    if (dense) {
        refused += check_quantity(out, who, "n_layers", a->shape.n_layers, r->lo[Q_N_LAYERS], r->hi[Q_N_LAYERS],
                                  opt->max_extrapolation, limit);
    } else {
        refused += check_quantity(out, who, "d_c", a->shape.d_c, r->lo[Q_D_C], r->hi[Q_D_C], opt->max_extrapolation, limit);
        refused += check_quantity(out, who, "n_enc", a->shape.n_enc, r->lo[Q_N_ENC], r->hi[Q_N_ENC], opt->max_extrapolation, limit);
        refused += check_quantity(out, who, "n_con", a->shape.n_con, r->lo[Q_N_CON], r->hi[Q_N_CON], opt->max_extrapolation, limit);
        refused += check_quantity(out, who, "n_dec", a->shape.n_dec, r->lo[Q_N_DEC], r->hi[Q_N_DEC], opt->max_extrapolation, limit);
        /* P and R: never beyond the trained range unless --extrapolate (P within the shapes' tolerance). */
        double p_limit = opt->extrapolate ? INFINITY : 1.0;
        const char *pr_text = "the trained range (--extrapolate to allow)";
        refused += check_quantity(out, who, "P", a->P, r->lo[Q_P] - ALLOC_P_TOLERANCE, r->hi[Q_P] + ALLOC_P_TOLERANCE,
                                  p_limit, pr_text);
        refused += check_quantity(out, who, "R", a->R, r->lo[Q_R] / 1.001, r->hi[Q_R] * 1.001, p_limit, pr_text);
    }
    static const char *const ends[] = {"smallest", "", "largest"};
    if (a->edge_N)
        fprintf(out, "warning: on the edge of the search: %sN = %.4g is the %s N searched; the optimum may lie %s\n", who,
                a->N, ends[a->edge_N + 1], a->edge_N < 0 ? "below" : "above");
    if (a->edge_P)
        fprintf(out, "warning: on the edge of the search: %sP = %.3f is at the %s P searched; the optimum may lie %s%s\n", who,
                a->P, ends[a->edge_P + 1], a->edge_P < 0 ? "below" : "above",
                opt->extrapolate ? "" : " (the search keeps to the trained P range)");
    if (a->edge_R)
        fprintf(out, "warning: on the edge of the search: %sR = %.3f is the %s R searched; the optimum may lie %s%s\n", who,
                a->R, ends[a->edge_R + 1], a->edge_R < 0 ? "below" : "above",
                opt->R_hi > 0 ? "" : " (the search keeps to the trained R range)");
    return refused;
}

static void print_alloc(FILE *out, const char *label, const Allocation *a, const double *lo, const double *hi)
{
    char shape[256];
    shape_describe(&a->shape, shape, sizeof shape);
    if (label[0]) fprintf(out, "%s\n", label);
    fprintf(out, "  shape      %s\n", shape);
    fprintf(out, "  N          %.4g   [%.4g, %.4g]\n", a->N, lo[0], hi[0]);
    fprintf(out, "  P          %.4f   [%.4f, %.4f]\n", a->P, lo[1], hi[1]);
    fprintf(out, "  R          %.3f   [%.3f, %.3f]\n", a->R, lo[2], hi[2]);
    fprintf(out, "  D          %.4g   [%.4g, %.4g]   tokens; D/N = %.3g\n", a->D, lo[3], hi[3], a->D / a->N);
    fprintf(out, "  F_fwd      %.4g FLOPs/token; 3 F_fwd D = %.4g\n", a->fwd_flops, 3 * a->fwd_flops * a->D);
    fprintf(out, "  loss       %.5f   [%.5f, %.5f]   (bootstrap 95%% of the fitted loss at this allocation)\n", a->loss,
            lo[4], hi[4]);
}

/* The bootstrap intervals of an allocation: per sample its own optimum (N, P, R, D) and the
 * fitted loss of the point allocation. */
static void alloc_intervals(const LawSummary *s, const CandidateSet *set, const Allocation *a, double budget, double *lo,
                            double *hi)
{
    int B = s->n_samples, k = s->law.n_coef;
    double *col = malloc((size_t)(B > 0 ? B : 1) * 5 * sizeof *col);
    if (!col) { for (int q = 0; q < 5; q++) lo[q] = hi[q] = NAN; return; }
    for (int b = 0; b < B; b++) {
        const double *cb = s->samples + (size_t)b * k;
        Allocation ab = allocate_best(&s->law, cb, set, budget);
        double v[4] = {ab.N, ab.P, ab.R, ab.D};
        for (int q = 0; q < 4; q++) col[(size_t)q * B + b] = ab.valid ? v[q] : NAN;
        col[(size_t)4 * B + b] = allocate_loss(&s->law, cb, a);
    }
    for (int q = 0; q < 5; q++) estimator_percentile_interval(col + (size_t)q * B, B, 0.95, &lo[q], &hi[q]);
    free(col);
}

/* The saving against the dense optimum: the loss gap and the budget at which the dlcm reaches
 * the dense loss, each with its bootstrap interval. */
static void print_saving(FILE *out, const LawSummary *s, const CandidateSet *dlcm, const CandidateSet *dense,
                         const Allocation *m, const Allocation *d, double budget)
{
    const Law *law = &s->law;
    double gap = d->loss - m->loss;
    double C_eq = allocate_budget_for_loss(law, s->coef, dlcm, d->loss, budget / 1e4, budget * 1e4);
    int B = s->n_samples, k = law->n_coef;
    double *gaps = malloc((size_t)(B > 0 ? B : 1) * sizeof *gaps), *shares = malloc((size_t)(B > 0 ? B : 1) * sizeof *shares);
    for (int b = 0; b < B && gaps && shares; b++) {
        const double *cb = s->samples + (size_t)b * k;
        Allocation mb = allocate_best(law, cb, dlcm, budget), db = allocate_best(law, cb, dense, budget);
        gaps[b] = mb.valid && db.valid ? db.loss - mb.loss : NAN;
        /* The sample's own budget for its own dense loss, as a share of C (inf: not reached). */
        double ce = db.valid ? allocate_budget_for_loss(law, cb, dlcm, db.loss, budget / 1e4, budget * 1e4) : NAN;
        shares[b] = db.valid ? (isfinite(ce) ? ce / budget : INFINITY) : NAN;
    }
    fprintf(out, "\npredicted saving at C = %.4g (bootstrap 95%% intervals over %d samples):\n", budget, B);
    double lo = NAN, hi = NAN;
    if (B > 0 && gaps) estimator_percentile_interval(gaps, B, 0.95, &lo, &hi);
    fprintf(out, "  loss gap (dense - dlcm)   %+.5f nats/token   [%+.5f, %+.5f]\n", gap, lo, hi);
    lo = hi = NAN;
    if (B > 0 && shares) estimator_percentile_interval(shares, B, 0.95, &lo, &hi);
    if (isfinite(C_eq))
        fprintf(out, "  dlcm reaches the dense loss %.5f at C = %.4g: %.3gx the budget   [%.3gx, %.3gx]%s\n", d->loss, C_eq,
                C_eq / budget, lo, hi, C_eq <= budget ? "" : " (no saving)");
    else
        fprintf(out, "  dlcm does not reach the dense loss within C/1e4 .. 1e4 C   (share of C, 95%%: [%.3gx, %.3gx])\n", lo, hi);
    free(gaps);
    free(shares);
}

int query_run(const QueryOptions *opt, LawSummary *s, const char *what, FILE *out)
{
    const Law *law = &s->law;
    int have_dlcm = law->kind == LAW_DLCM;
    if (opt->vocab) s->vocab = opt->vocab;
    if (opt->seq_len) s->seq_len = opt->seq_len;
    if (opt->max_samples >= 0 && opt->max_samples < s->n_samples) s->n_samples = opt->max_samples;
    fprintf(out, "dlcm-query: %s law from %s (%s%s%s), budget C = %.4g FLOPs, V = %d, T = %d, %d bootstrap samples\n",
            law_name(law), what, s->source, s->label[0] ? ", label " : "", s->label, opt->budget, s->vocab, s->seq_len,
            s->n_samples);
    if (have_dlcm) fprintf(out, "  R in the fit: %s\n", s->R_source[0] ? s->R_source : "not recorded (an older fit: the target R)");
    int refused = 0;
    /* 1. Identification. */
    if (!s->ident.known) {
        fprintf(out, "warning: identification unknown (the fit has no bootstrap intervals, or predates the check)\n");
    } else if (!s->ident.identified) {
        fprintf(out, "warning: the fit is not identified: %s\n  missing variation: %s\n", s->ident.coefficients, s->ident.missing);
        fprintf(out, "  refused: no recommendation from a fit that is not identified (--force to see it anyway)\n");
        refused++;
    }
    /* 2. The budget against the trained budgets. */
    double C_lo, C_hi;
    overall_range(&s->ranges, Q_BUDGET, &C_lo, &C_hi);
    if (isnan(C_lo)) fprintf(out, "warning: the fit does not record its data's ranges (an older fit): nothing is compared\n");
    char limit[96];
    snprintf(limit, sizeof limit, "--max-extrapolation %g in budget", opt->max_extrapolation);
    refused += check_quantity(out, "", "budget", opt->budget, C_lo, C_hi, opt->max_extrapolation, limit);
    /* 3. R and P asked for beyond the trained range. */
    const FamilyRange *dl = &s->ranges.fam[FAM_DLCM];
    if (have_dlcm && !opt->extrapolate && !isnan(dl->lo[Q_R])) {
        double asked_lo = opt->R_fixed > 0 ? opt->R_fixed : opt->R_lo, asked_hi = opt->R_fixed > 0 ? opt->R_fixed : opt->R_hi;
        if (asked_hi > 0 && (asked_lo < dl->lo[Q_R] / 1.001 || asked_hi > dl->hi[Q_R] * 1.001)) {
            fprintf(out, "warning: extrapolated: R asked in [%g, %g], trained [%.4g, %.4g]\n"
                         "  refused: R beyond the trained range (--extrapolate to allow)\n",
                    asked_lo, asked_hi, dl->lo[Q_R], dl->hi[Q_R]);
            refused++;
        }
    }
    if (refused && !opt->force) {
        fprintf(out, "\nno recommendation: the data does not carry this query (see the refusals above)\n");
        return QUERY_EXIT_REFUSED;
    }
    if (refused) fprintf(out, "--force: answering anyway; every number below lies outside what the data supports\n");

    AllocSpace space = {.vocab = s->vocab, .seq_len = s->seq_len, .R_fixed = opt->R_fixed,
                        .R_min = opt->R_lo > 0 ? opt->R_lo : s->R_min, .R_max = opt->R_hi > 0 ? opt->R_hi : s->R_max,
                        .max_N = opt->max_N, .max_fwd_flops = opt->max_fwd_flops};
    if (have_dlcm && !opt->extrapolate && !isnan(dl->lo[Q_P])) {
        space.P_min = dl->lo[Q_P];
        space.P_max = dl->hi[Q_P];
    }
    if (have_dlcm && opt->R_fixed == 0 && !(space.R_min >= 1 && space.R_max >= space.R_min)) {
        fprintf(stderr, "dlcm-query: %s: the fit has no R range; pass --R or --R-range\n", what);
        return 2;
    }
    if (have_dlcm) {
        if (opt->R_fixed) fprintf(out, "  constraint: R = %g\n", opt->R_fixed);
        else fprintf(out, "  R searched in [%g, %g]%s\n", space.R_min, space.R_max, opt->R_hi > 0 ? "" : " (the trained range)");
        if (space.P_min > 0) fprintf(out, "  P searched in [%.3f, %.3f] (the trained range; --extrapolate for 0.025..0.975)\n",
                                     space.P_min, space.P_max);
    }
    if (opt->max_N) fprintf(out, "  constraint: N <= %.4g\n", opt->max_N);
    if (opt->max_fwd_flops) fprintf(out, "  constraint: F_fwd <= %.4g FLOPs/token\n", opt->max_fwd_flops);
    char err[512];
    CandidateSet dense, dlcm;
    if (allocate_candidates(&space, 1, &dense, err, sizeof err)) { fprintf(stderr, "dlcm-query: %s\n", err); return 2; }
    if (have_dlcm && allocate_candidates(&space, 0, &dlcm, err, sizeof err)) {
        fprintf(stderr, "dlcm-query: %s\n", err);
        allocate_candidates_free(&dense);
        return 2;
    }
    int status = 0, shown[2] = {0, 0};
    Allocation best[2];
    for (int fam = have_dlcm ? 0 : 1; fam <= 1; fam++) {
        const CandidateSet *set = fam ? &dense : &dlcm;
        const char *label = !fam ? "dlcm optimum:"
                            : have_dlcm ? "dense optimum (same law, no concept term; P = 0, R = 1):"
                                        : "dense optimum (dense shapes from shape_solve, 3 F_fwd D = C):";
        fprintf(out, "\n%s\n", label);
        best[fam] = allocate_best(law, s->coef, set, opt->budget);
        if (!best[fam].valid) {
            fprintf(out, "  no allocation satisfies the constraints\n");
            status = 1;
            continue;
        }
        int r = check_allocation(out, opt, s, &best[fam], fam);
        if (r && !opt->force) {
            fprintf(out, "  no recommendation: %d quantit%s beyond the limits (--force to see it anyway)\n", r, r == 1 ? "y" : "ies");
            status = QUERY_EXIT_REFUSED;
            continue;
        }
        double lo[5], hi[5];
        alloc_intervals(s, set, &best[fam], opt->budget, lo, hi);
        print_alloc(out, "", &best[fam], lo, hi);
        shown[fam] = 1;
        if (law->kind == LAW_CHINCHILLA) {
            double N_cf, D_cf;
            allocate_chinchilla_closed_form(s->coef, opt->budget, &N_cf, &D_cf);
            fprintf(out, "  closed form (C = 6 N D): N* = %.4g, D* = %.4g, loss %.5f\n", N_cf, D_cf,
                    law_loss(law, s->coef, N_cf, D_cf, 1, 0, 1));
        }
    }
    if (have_dlcm && shown[0] && shown[1]) print_saving(out, s, &dlcm, &dense, &best[0], &best[1], opt->budget);
    else if (have_dlcm) fprintf(out, "\nno saving reported: an optimum was refused or not found\n");
    allocate_candidates_free(&dense);
    if (have_dlcm) allocate_candidates_free(&dlcm);
    return status;
}
