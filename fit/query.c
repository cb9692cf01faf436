/* fit/query.c: the allocation search under a fitted law with its intervals, and the checks that
 * keep the answer inside the data: identification, the trained ranges, the search's edges. */
#include "fit/query.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fit/allocate.h"

QueryOptions query_defaults(void)
{
    QueryOptions o = {.max_samples = -1, .max_extrapolation = 10.0};
    return o;
}

/* A number for the JSON answer: null where it is not finite (JSON has no NaN or infinity). */
static json_object *json_number(double v) { return isfinite(v) ? json_object_new_double(v) : NULL; }

static json_object *json_interval(double value, double lo, double hi)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "value", json_number(value));
    json_object_object_add(o, "lo", json_number(lo));
    json_object_object_add(o, "hi", json_number(hi));
    return o;
}

/* Adds one warning to the JSON answer's list (none when the answer is text only): its kind, the
 * family ("dense", "dlcm", or null for the query as a whole), the quantity, and whether it refuses. */
static json_object *add_warning(json_object *warnings, const char *kind, const char *family, const char *quantity,
                                int refused, const char *fmt, ...)
{
    if (!warnings) return NULL;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_object *w = json_object_new_object();
    json_object_object_add(w, "kind", json_object_new_string(kind));
    json_object_object_add(w, "family", family ? json_object_new_string(family) : NULL);
    json_object_object_add(w, "quantity", quantity ? json_object_new_string(quantity) : NULL);
    json_object_object_add(w, "refused", json_object_new_boolean(refused));
    json_object_object_add(w, "factor", NULL); /* how far outside the data, where that is a number */
    json_object_object_add(w, "message", json_object_new_string(text));
    json_object_array_add(warnings, w);
    return w;
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

/* Prints the warning for quantity q at value v against [lo, hi] (and adds it to warnings when
 * the answer is JSON); family is "dense", "dlcm" or NULL (the query as a whole). Returns 1 when
 * it is beyond limit (refused), 0 otherwise. */
static int check_quantity(FILE *out, json_object *warnings, const char *family, const char *name, double v, double lo,
                          double hi, double limit, const char *limit_text)
{
    double k = scope_factor(v, lo, hi);
    if (isnan(k)) return 0;
    if (k <= 1.0) return 0;
    char who[16] = "";
    if (family) snprintf(who, sizeof who, "%s ", family);
    const char *side = v > hi ? "beyond the largest" : "below the smallest";
    double edge = v > hi ? hi : lo;
    char text[256];
    if (isinf(k))
        snprintf(text, sizeof text, "%s%s = %.4g where every trained run has %s = %.4g", who, name, v, name, edge);
    else
        snprintf(text, sizeof text, "%s%s = %.4g is %.3gx %s trained (%.4g)", who, name, v, k, side, edge);
    fprintf(out, "warning: extrapolated: %s\n", text);
    int refused = k > limit;
    if (refused) fprintf(out, "  refused: beyond %s\n", limit_text);
    json_object *w = add_warning(warnings, "extrapolated", family, name, refused, "%s%s%s", text,
                                 refused ? "; refused: beyond " : "", refused ? limit_text : "");
    if (w) {
        json_object_object_add(w, "value", json_number(v));
        json_object *trained = json_object_new_array();
        json_object_array_add(trained, json_number(lo));
        json_object_array_add(trained, json_number(hi));
        json_object_object_add(w, "trained", trained);
        json_object_object_add(w, "side", json_object_new_string(v > hi ? "above" : "below"));
        /* k times beyond the trained edge; null when that edge is 0 (no finite factor). */
        json_object_object_add(w, "factor", json_number(k));
        json_object_object_add(w, "limit", json_number(limit));
    }
    return refused;
}

/* An optimum on the edge of the search, in the JSON answer: which end, no factor (the search
 * does not say how far beyond the optimum lies). */
static void edge_warning(json_object *warnings, const char *family, const char *quantity, double v, int edge,
                         const char *text)
{
    json_object *w = add_warning(warnings, "edge_of_search", family, quantity, 0, "%s", text);
    if (!w) return;
    json_object_object_add(w, "value", json_number(v));
    json_object_object_add(w, "side", json_object_new_string(edge < 0 ? "below" : "above"));
}

/* Checks an allocation's quantities against its family's trained range; prints the warnings and
 * edge flags; returns the number of refusals. */
static int check_allocation(FILE *out, json_object *warnings, const QueryOptions *opt, const LawSummary *s,
                            const Allocation *a, int dense)
{
    const FamilyRange *r = &s->ranges.fam[dense ? FAM_DENSE : FAM_DLCM];
    const char *who = dense ? "dense " : "dlcm ", *family = dense ? "dense" : "dlcm";
    char limit[96];
    snprintf(limit, sizeof limit, "--max-extrapolation %g", opt->max_extrapolation);
    int refused = 0;
    if (r->n == 0) {
        fprintf(out, "warning: extrapolated: the fit has no %s runs; the %s optimum rests on the law's form alone\n",
                family, family);
        add_warning(warnings, "no_runs_of_family", family, NULL, !dense,
                    "the fit has no %s runs; the %s optimum rests on the law's form alone", family, family);
        if (!dense) refused++;
    }
    if (isnan(r->lo[Q_D_T]) && r->n > 0) {
        fprintf(out, "note: the fitted runs' shapes are unknown (a CSV): widths and depths not compared\n");
        add_warning(warnings, "shapes_unknown", family, NULL, 0,
                    "the fitted runs' shapes are unknown (a CSV): widths and depths not compared");
    }
    refused += check_quantity(out, warnings, family, "N", a->N, r->lo[Q_N], r->hi[Q_N], opt->max_extrapolation, limit);
    refused += check_quantity(out, warnings, family, "D/N", a->D / a->N, r->lo[Q_D_OVER_N], r->hi[Q_D_OVER_N], opt->max_extrapolation, limit);
    refused += check_quantity(out, warnings, family, "d_t", a->shape.d_t, r->lo[Q_D_T], r->hi[Q_D_T], opt->max_extrapolation, limit);
    if (dense) {
        refused += check_quantity(out, warnings, family, "n_layers", a->shape.n_layers, r->lo[Q_N_LAYERS], r->hi[Q_N_LAYERS],
                                  opt->max_extrapolation, limit);
    } else {
        refused += check_quantity(out, warnings, family, "d_c", a->shape.d_c, r->lo[Q_D_C], r->hi[Q_D_C], opt->max_extrapolation, limit);
        refused += check_quantity(out, warnings, family, "n_enc", a->shape.n_enc, r->lo[Q_N_ENC], r->hi[Q_N_ENC], opt->max_extrapolation, limit);
        refused += check_quantity(out, warnings, family, "n_con", a->shape.n_con, r->lo[Q_N_CON], r->hi[Q_N_CON], opt->max_extrapolation, limit);
        refused += check_quantity(out, warnings, family, "n_dec", a->shape.n_dec, r->lo[Q_N_DEC], r->hi[Q_N_DEC], opt->max_extrapolation, limit);
        /* P and R: never beyond the trained range unless --extrapolate (P within the shapes' tolerance). */
        double p_limit = opt->extrapolate ? INFINITY : 1.0;
        const char *pr_text = "the trained range (--extrapolate to allow)";
        refused += check_quantity(out, warnings, family, "P", a->P, r->lo[Q_P] - ALLOC_P_TOLERANCE, r->hi[Q_P] + ALLOC_P_TOLERANCE,
                                  p_limit, pr_text);
        refused += check_quantity(out, warnings, family, "R", a->R, r->lo[Q_R] / 1.001, r->hi[Q_R] * 1.001, p_limit, pr_text);
    }
    static const char *const ends[] = {"smallest", "", "largest"};
    char text[256];
    if (a->edge_N) {
        snprintf(text, sizeof text, "%sN = %.4g is the %s N searched; the optimum may lie %s", who, a->N,
                 ends[a->edge_N + 1], a->edge_N < 0 ? "below" : "above");
        fprintf(out, "warning: on the edge of the search: %s\n", text);
        edge_warning(warnings, family, "N", a->N, a->edge_N, text);
    }
    if (a->edge_P) {
        snprintf(text, sizeof text, "%sP = %.3f is at the %s P searched; the optimum may lie %s%s", who, a->P,
                 ends[a->edge_P + 1], a->edge_P < 0 ? "below" : "above",
                 opt->extrapolate ? "" : " (the search keeps to the trained P range)");
        fprintf(out, "warning: on the edge of the search: %s\n", text);
        edge_warning(warnings, family, "P", a->P, a->edge_P, text);
    }
    if (a->edge_R) {
        snprintf(text, sizeof text, "%sR = %.3f is the %s R searched; the optimum may lie %s%s", who, a->R,
                 ends[a->edge_R + 1], a->edge_R < 0 ? "below" : "above",
                 opt->R_hi > 0 ? "" : " (the search keeps to the trained R range)");
        fprintf(out, "warning: on the edge of the search: %s\n", text);
        edge_warning(warnings, family, "R", a->R, a->edge_R, text);
    }
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

/* An allocation in the JSON answer: its shape, each quantity with its bootstrap 95 % interval
 * (lo, hi as print_alloc gets them: N, P, R, D, loss). */
static json_object *alloc_json(const Allocation *a, const double *lo, const double *hi)
{
    json_object *o = json_object_new_object(), *shape = json_object_new_object();
    char text[256];
    shape_describe(&a->shape, text, sizeof text);
    json_object_object_add(shape, "description", json_object_new_string(text));
    json_object_object_add(shape, "d_t", json_object_new_int(a->shape.d_t));
    if (a->shape.family == FAMILY_DENSE) {
        json_object_object_add(shape, "n_layers", json_object_new_int(a->shape.n_layers));
    } else {
        json_object_object_add(shape, "d_c", json_object_new_int(a->shape.d_c));
        json_object_object_add(shape, "n_enc", json_object_new_int(a->shape.n_enc));
        json_object_object_add(shape, "n_con", json_object_new_int(a->shape.n_con));
        json_object_object_add(shape, "n_dec", json_object_new_int(a->shape.n_dec));
    }
    json_object_object_add(o, "shape", shape);
    json_object_object_add(o, "N", json_interval(a->N, lo[0], hi[0]));
    json_object_object_add(o, "P", json_interval(a->P, lo[1], hi[1]));
    json_object_object_add(o, "R", json_interval(a->R, lo[2], hi[2]));
    json_object_object_add(o, "D", json_interval(a->D, lo[3], hi[3]));
    json_object_object_add(o, "D_over_N", json_number(a->D / a->N));
    json_object_object_add(o, "fwd_flops_per_token", json_number(a->fwd_flops));
    json_object_object_add(o, "train_flops", json_number(3 * a->fwd_flops * a->D));
    json_object_object_add(o, "loss", json_interval(a->loss, lo[4], hi[4]));
    return o;
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
static void print_saving(FILE *out, json_object *answer, const LawSummary *s, const CandidateSet *dlcm,
                         const CandidateSet *dense, const Allocation *m, const Allocation *d, double budget)
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
    json_object *saving = json_object_new_object();
    json_object_object_add(saving, "budget", json_number(budget));
    json_object_object_add(saving, "bootstrap_samples", json_object_new_int(B));
    json_object_object_add(saving, "loss_gap", json_interval(gap, lo, hi));
    lo = hi = NAN;
    if (B > 0 && shares) estimator_percentile_interval(shares, B, 0.95, &lo, &hi);
    /* The budget at which the dlcm reaches the dense loss, as a share of C (null: not reached
     * within C/1e4 .. 1e4 C); below 1 is a saving. */
    json_object_object_add(saving, "dense_loss", json_number(d->loss));
    json_object_object_add(saving, "budget_for_dense_loss", json_number(C_eq));
    json_object_object_add(saving, "budget_share", json_interval(isfinite(C_eq) ? C_eq / budget : NAN, lo, hi));
    json_object_object_add(saving, "saves", json_object_new_boolean(isfinite(C_eq) && C_eq <= budget));
    if (answer) json_object_object_add(answer, "saving", saving);
    else json_object_put(saving);
    if (isfinite(C_eq))
        fprintf(out, "  dlcm reaches the dense loss %.5f at C = %.4g: %.3gx the budget   [%.3gx, %.3gx]%s\n", d->loss, C_eq,
                C_eq / budget, lo, hi, C_eq <= budget ? "" : " (no saving)");
    else
        fprintf(out, "  dlcm does not reach the dense loss within C/1e4 .. 1e4 C   (share of C, 95%%: [%.3gx, %.3gx])\n", lo, hi);
    free(gaps);
    free(shares);
}

/* A runtime error or bad input: the message on stderr and, in the JSON answer, as its error. */
static void query_error(json_object *answer, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "dlcm-query: %s\n", text);
    if (answer) json_object_object_add(answer, "error", json_object_new_string(text));
}

/* query_run's work; answer and warnings are NULL when the answer is text only. */
static int answer_query(const QueryOptions *opt, LawSummary *s, const char *what, FILE *out, json_object *answer,
                        json_object *warnings)
{
    const Law *law = &s->law;
    int have_dlcm = law->kind == LAW_DLCM;
    if (opt->vocab) s->vocab = opt->vocab;
    if (opt->seq_len) s->seq_len = opt->seq_len;
    if (opt->max_samples >= 0 && opt->max_samples < s->n_samples) s->n_samples = opt->max_samples;
    fprintf(out, "dlcm-query: %s law from %s (%s%s%s), budget C = %.4g FLOPs, V = %d, T = %d, %d bootstrap samples\n",
            law_name(law), what, s->source, s->label[0] ? ", label " : "", s->label, opt->budget, s->vocab, s->seq_len,
            s->n_samples);
    const char *R_source = s->R_source[0] ? s->R_source : "not recorded (an older fit: the target R)";
    if (have_dlcm) fprintf(out, "  R in the fit: %s\n", R_source);
    if (answer) {
        json_object_object_add(answer, "law", json_object_new_string(law_name(law)));
        json_object_object_add(answer, "fit", json_object_new_string(what));
        json_object_object_add(answer, "source", json_object_new_string(s->source));
        json_object_object_add(answer, "label", json_object_new_string(s->label));
        json_object_object_add(answer, "budget", json_number(opt->budget));
        json_object_object_add(answer, "vocab", json_object_new_int(s->vocab));
        json_object_object_add(answer, "seq_len", json_object_new_int(s->seq_len));
        json_object_object_add(answer, "bootstrap_samples", json_object_new_int(s->n_samples));
        json_object_object_add(answer, "R_source", have_dlcm ? json_object_new_string(R_source) : NULL);
        json_object_object_add(answer, "identification", scope_identification_json(&s->ident));
    }
    int refused = 0;
    /* 1. Identification. */
    if (!s->ident.known) {
        fprintf(out, "warning: identification unknown (the fit has no bootstrap intervals, or predates the check)\n");
        add_warning(warnings, "identification_unknown", NULL, NULL, 0,
                    "identification unknown (the fit has no bootstrap intervals, or predates the check)");
    } else if (!s->ident.identified) {
        fprintf(out, "warning: the fit is not identified: %s\n  missing variation: %s\n", s->ident.coefficients, s->ident.missing);
        fprintf(out, "  refused: no recommendation from a fit that is not identified (--force to see it anyway)\n");
        json_object *w = add_warning(warnings, "not_identified", NULL, NULL, 1,
                                     "the fit is not identified: %s; missing variation: %s", s->ident.coefficients,
                                     s->ident.missing);
        if (w) {
            json_object_object_add(w, "coefficients", json_object_new_string(s->ident.coefficients));
            json_object_object_add(w, "missing_variation", json_object_new_string(s->ident.missing));
        }
        refused++;
    }
    /* 2. The budget against the trained budgets. */
    double C_lo, C_hi;
    overall_range(&s->ranges, Q_BUDGET, &C_lo, &C_hi);
    if (isnan(C_lo)) {
        fprintf(out, "warning: the fit does not record its data's ranges (an older fit): nothing is compared\n");
        add_warning(warnings, "ranges_unknown", NULL, NULL, 0,
                    "the fit does not record its data's ranges (an older fit): nothing is compared");
    }
    char limit[96];
    snprintf(limit, sizeof limit, "--max-extrapolation %g in budget", opt->max_extrapolation);
    refused += check_quantity(out, warnings, NULL, "budget", opt->budget, C_lo, C_hi, opt->max_extrapolation, limit);
    /* 3. R and P asked for beyond the trained range. */
    const FamilyRange *dl = &s->ranges.fam[FAM_DLCM];
    if (have_dlcm && !opt->extrapolate && !isnan(dl->lo[Q_R])) {
        double asked_lo = opt->R_fixed > 0 ? opt->R_fixed : opt->R_lo, asked_hi = opt->R_fixed > 0 ? opt->R_fixed : opt->R_hi;
        if (asked_hi > 0 && (asked_lo < dl->lo[Q_R] / 1.001 || asked_hi > dl->hi[Q_R] * 1.001)) {
            fprintf(out, "warning: extrapolated: R asked in [%g, %g], trained [%.4g, %.4g]\n"
                         "  refused: R beyond the trained range (--extrapolate to allow)\n",
                    asked_lo, asked_hi, dl->lo[Q_R], dl->hi[Q_R]);
            double k = fmax(scope_factor(asked_lo, dl->lo[Q_R] / 1.001, dl->hi[Q_R] * 1.001),
                            scope_factor(asked_hi, dl->lo[Q_R] / 1.001, dl->hi[Q_R] * 1.001));
            json_object *w = add_warning(warnings, "extrapolated", "dlcm", "R", 1,
                                         "R asked in [%g, %g], trained [%.4g, %.4g]; refused: R beyond the trained range "
                                         "(--extrapolate to allow)",
                                         asked_lo, asked_hi, dl->lo[Q_R], dl->hi[Q_R]);
            if (w) {
                json_object *asked = json_object_new_array(), *trained = json_object_new_array();
                json_object_array_add(asked, json_number(asked_lo));
                json_object_array_add(asked, json_number(asked_hi));
                json_object_array_add(trained, json_number(dl->lo[Q_R]));
                json_object_array_add(trained, json_number(dl->hi[Q_R]));
                json_object_object_add(w, "asked", asked);
                json_object_object_add(w, "trained", trained);
                json_object_object_add(w, "factor", json_number(k));
            }
            refused++;
        }
    }
    if (refused && !opt->force) {
        fprintf(out, "\nno recommendation: the data does not carry this query (see the refusals above)\n");
        return QUERY_EXIT_REFUSED;
    }
    if (refused) fprintf(out, "--force: answering anyway; every number below lies outside what the data supports\n");
    if (answer) json_object_object_add(answer, "forced", json_object_new_boolean(refused > 0));

    AllocSpace space = {.vocab = s->vocab, .seq_len = s->seq_len, .R_fixed = opt->R_fixed,
                        .R_min = opt->R_lo > 0 ? opt->R_lo : s->R_min, .R_max = opt->R_hi > 0 ? opt->R_hi : s->R_max,
                        .max_N = opt->max_N, .max_fwd_flops = opt->max_fwd_flops};
    if (have_dlcm && !opt->extrapolate && !isnan(dl->lo[Q_P])) {
        space.P_min = dl->lo[Q_P];
        space.P_max = dl->hi[Q_P];
    }
    if (have_dlcm && opt->R_fixed == 0 && !(space.R_min >= 1 && space.R_max >= space.R_min)) {
        query_error(answer, "%s: the fit has no R range; pass --R or --R-range", what);
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
    if (answer) {
        json_object *search = json_object_new_object(), *range;
        if (have_dlcm && opt->R_fixed) {
            json_object_object_add(search, "R_fixed", json_number(opt->R_fixed));
        } else if (have_dlcm) {
            range = json_object_new_array();
            json_object_array_add(range, json_number(space.R_min));
            json_object_array_add(range, json_number(space.R_max));
            json_object_object_add(search, "R", range);
            json_object_object_add(search, "R_is_trained_range", json_object_new_boolean(!(opt->R_hi > 0)));
        }
        if (have_dlcm && space.P_min > 0) {
            range = json_object_new_array();
            json_object_array_add(range, json_number(space.P_min));
            json_object_array_add(range, json_number(space.P_max));
            json_object_object_add(search, "P", range);
        }
        json_object_object_add(search, "max_N", opt->max_N ? json_number(opt->max_N) : NULL);
        json_object_object_add(search, "max_fwd_flops", opt->max_fwd_flops ? json_number(opt->max_fwd_flops) : NULL);
        json_object_object_add(search, "max_extrapolation", json_number(opt->max_extrapolation));
        json_object_object_add(search, "extrapolate", json_object_new_boolean(opt->extrapolate));
        json_object_object_add(answer, "search", search);
    }
    char err[512];
    CandidateSet dense, dlcm;
    if (allocate_candidates(&space, 1, &dense, err, sizeof err)) { query_error(answer, "%s", err); return 2; }
    if (have_dlcm && allocate_candidates(&space, 0, &dlcm, err, sizeof err)) {
        query_error(answer, "%s", err);
        allocate_candidates_free(&dense);
        return 2;
    }
    int status = 0, shown[2] = {0, 0};
    Allocation best[2];
    json_object *recommendations = answer ? json_object_new_object() : NULL;
    if (answer) json_object_object_add(answer, "recommendations", recommendations);
    for (int fam = have_dlcm ? 0 : 1; fam <= 1; fam++) {
        const char *family = fam ? "dense" : "dlcm";
        const CandidateSet *set = fam ? &dense : &dlcm;
        const char *label = !fam ? "dlcm optimum:"
                            : have_dlcm ? "dense optimum (same law, no concept term; P = 0, R = 1):"
                                        : "dense optimum (dense shapes from shape_solve, 3 F_fwd D = C):";
        fprintf(out, "\n%s\n", label);
        best[fam] = allocate_best(law, s->coef, set, opt->budget);
        if (!best[fam].valid) {
            fprintf(out, "  no allocation satisfies the constraints\n");
            if (recommendations) {
                json_object *none = json_object_new_object();
                json_object_object_add(none, "status", json_object_new_string("no allocation satisfies the constraints"));
                json_object_object_add(recommendations, family, none);
            }
            status = 1;
            continue;
        }
        int r = check_allocation(out, warnings, opt, s, &best[fam], fam);
        if (r && !opt->force) {
            fprintf(out, "  no recommendation: %d quantit%s beyond the limits (--force to see it anyway)\n", r, r == 1 ? "y" : "ies");
            if (recommendations) {
                json_object *none = json_object_new_object();
                json_object_object_add(none, "status", json_object_new_string("refused"));
                json_object_object_add(none, "refusals", json_object_new_int(r));
                json_object_object_add(recommendations, family, none);
            }
            status = QUERY_EXIT_REFUSED;
            continue;
        }
        double lo[5], hi[5];
        alloc_intervals(s, set, &best[fam], opt->budget, lo, hi);
        print_alloc(out, "", &best[fam], lo, hi);
        json_object *rec = recommendations ? alloc_json(&best[fam], lo, hi) : NULL;
        if (rec) {
            json_object_object_add(rec, "status", json_object_new_string(r || refused ? "forced" : "recommended"));
            json_object_object_add(recommendations, family, rec);
        }
        shown[fam] = 1;
        if (law->kind == LAW_CHINCHILLA) {
            double N_cf, D_cf;
            allocate_chinchilla_closed_form(s->coef, opt->budget, &N_cf, &D_cf);
            double loss_cf = law_loss(law, s->coef, N_cf, D_cf, 1, 0, 1);
            fprintf(out, "  closed form (C = 6 N D): N* = %.4g, D* = %.4g, loss %.5f\n", N_cf, D_cf, loss_cf);
            if (rec) {
                json_object *cf = json_object_new_object();
                json_object_object_add(cf, "N", json_number(N_cf));
                json_object_object_add(cf, "D", json_number(D_cf));
                json_object_object_add(cf, "loss", json_number(loss_cf));
                json_object_object_add(rec, "closed_form", cf);
            }
        }
    }
    if (have_dlcm && shown[0] && shown[1]) print_saving(out, answer, s, &dlcm, &dense, &best[0], &best[1], opt->budget);
    else if (have_dlcm) fprintf(out, "\nno saving reported: an optimum was refused or not found\n");
    allocate_candidates_free(&dense);
    if (have_dlcm) allocate_candidates_free(&dlcm);
    return status;
}

int query_run(const QueryOptions *opt, LawSummary *s, const char *what, FILE *out, json_object *answer)
{
    json_object *warnings = answer ? json_object_new_array() : NULL;
    int rc = answer_query(opt, s, what, out, answer, warnings);
    if (answer) {
        json_object_object_add(answer, "warnings", warnings);
        static const char *const meaning[] = {"answered", "runtime error", "bad input", "", "refused"};
        json_object_object_add(answer, "exit_code", json_object_new_int(rc));
        json_object_object_add(answer, "status", json_object_new_string(rc >= 0 && rc <= 4 ? meaning[rc] : "error"));
    }
    return rc;
}
