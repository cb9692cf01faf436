/* fit/summary.c: intervals and derived quantities of a law fit, its JSON (written and read
 * back) and its terminal table. */
#include "fit/summary.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void derived_add(LawSummary *s, const char *name, double value, const double *samples, int n,
                        double level, const char *note)
{
    if (s->n_derived >= SUMMARY_MAX_DERIVED) return;
    Derived *d = &s->derived[s->n_derived++];
    snprintf(d->name, sizeof d->name, "%s", name);
    snprintf(d->note, sizeof d->note, "%s", note ? note : "");
    d->value = value;
    if (samples && n > 0) estimator_percentile_interval(samples, n, level, &d->lo, &d->hi);
    else d->lo = d->hi = NAN;
}

/* The quantities derived from one coefficient vector (in a fixed order). */
enum { CH_DER_A, CH_DER_B, CH_DER_G, CH_DER_NOPT, CH_DER_DOPT, CH_DER_RATIO, CH_DER_COUNT };
enum { DL_DER_N, DL_DER_P, DL_DER_R, DL_DER_D, DL_DER_LOSS, DL_DER_DENSE_N, DL_DER_DENSE_D, DL_DER_DENSE_LOSS,
       DL_DER_GAP, DL_DER_COUNT };

static void chinchilla_derived(const double *c, double C, double *out)
{
    double alpha = c[3], beta = c[4];
    out[CH_DER_A] = beta / (alpha + beta);
    out[CH_DER_B] = alpha / (alpha + beta);
    out[CH_DER_G] = pow(alpha * c[1] / (beta * c[2]), 1.0 / (alpha + beta));
    allocate_chinchilla_closed_form(c, C, &out[CH_DER_NOPT], &out[CH_DER_DOPT]);
    out[CH_DER_RATIO] = out[CH_DER_DOPT] / out[CH_DER_NOPT];
}

static void dlcm_derived(const Law *law, const double *c, const CandidateSet *dlcm, const CandidateSet *dense,
                         double C, double *out, int *edge)
{
    Allocation a = allocate_best(law, c, dlcm, C), d = allocate_best(law, c, dense, C);
    out[DL_DER_N] = a.valid ? a.N : NAN;
    out[DL_DER_P] = a.valid ? a.P : NAN;
    out[DL_DER_R] = a.valid ? a.R : NAN;
    out[DL_DER_D] = a.valid ? a.D : NAN;
    out[DL_DER_LOSS] = a.valid ? a.loss : NAN;
    out[DL_DER_DENSE_N] = d.valid ? d.N : NAN;
    out[DL_DER_DENSE_D] = d.valid ? d.D : NAN;
    out[DL_DER_DENSE_LOSS] = d.valid ? d.loss : NAN;
    out[DL_DER_GAP] = a.valid && d.valid ? d.loss - a.loss : NAN;
    edge[0] = a.valid ? a.edge_N : 0;
    edge[1] = a.valid ? a.edge_P : 0;
    edge[2] = a.valid ? a.edge_R : 0;
}

/* A derived optimum's note, with where it sits on its search range: at an edge (in the point fit
 * or in any resample) the optimum may lie beyond what was searched, so its value and interval are
 * cut at that edge, not located. */
static void edge_note(char *buf, size_t n, const char *base, const char *range, int point_edge, int at_lower,
                      int at_upper, int valid)
{
    if (point_edge == 0 && at_lower == 0 && at_upper == 0) {
        snprintf(buf, n, "%s", base);
        return;
    }
    int upper_side = point_edge > 0 || (point_edge == 0 && at_upper >= at_lower);
    const char *side = upper_side ? "UPPER" : "LOWER";
    int count = upper_side ? at_upper : at_lower;
    if (point_edge)
        snprintf(buf, n, "%s; AT THE %s EDGE of the %s (the fit and %d of %d resamples): cut there, not located", base,
                 side, range, count, valid);
    else
        snprintf(buf, n, "%s; at the %s edge of the %s in %d of %d resamples (not in the fit): its interval is cut there",
                 base, side, range, count, valid);
}

/* Share of samples with an exponent below LAW_EXPONENT_FLOOR: per coefficient and over all. */
static void constraint_shares(LawSummary *s)
{
    const Law *law = &s->law;
    int B = s->n_samples, valid = 0, any = 0;
    int count[LAW_MAX_PARAMS] = {0};
    for (int b = 0; b < B; b++) {
        const double *row = s->samples + (size_t)b * law->n_coef;
        if (isnan(row[0])) continue; /* a failed refit */
        valid++;
        int on = 0;
        for (int j = 0; j < law->n_coef; j++)
            if (law_coef_is_exponent(law, j) && row[j] < LAW_EXPONENT_FLOOR) { count[j]++; on = 1; }
        any += on;
    }
    s->constraint_share = valid ? (double)any / valid : NAN;
    for (int j = 0; j < law->n_coef; j++)
        s->coef_constraint_share[j] = valid && law_coef_is_exponent(law, j) ? (double)count[j] / valid : NAN;
}

void summary_compute(LawSummary *s, const FitData *data, const EstimatorSettings *set)
{
    const Law *law = &s->law;
    int B = s->n_samples;
    double *column = malloc((size_t)(B > 0 ? B : 1) * sizeof *column);
    for (int j = 0; j < law->n_coef; j++) {
        for (int b = 0; b < B; b++) column[b] = s->samples[(size_t)b * law->n_coef + j];
        if (B > 0) estimator_percentile_interval(column, B, set->level, &s->lo[j], &s->hi[j]);
        else s->lo[j] = s->hi[j] = NAN;
    }
    free(column);
    constraint_shares(s);
    scope_ranges(data, &s->ranges);
    scope_identify(law, s->lo, s->hi, data, &s->ident);
    s->n_derived = 0;
    if (law->kind == LAW_CHINCHILLA) {
        double point[CH_DER_COUNT], *per = malloc((size_t)(B > 0 ? B : 1) * CH_DER_COUNT * sizeof *per);
        chinchilla_derived(s->coef, s->budget_max, point);
        for (int b = 0; b < B; b++) chinchilla_derived(s->samples + (size_t)b * law->n_coef, s->budget_max, per + (size_t)b * CH_DER_COUNT);
        static const char *const names[CH_DER_COUNT] = {"a", "b", "G", "N_opt", "D_opt", "D_opt/N_opt"};
        static const char *const notes[CH_DER_COUNT] = {"N_opt ~ C^a", "D_opt ~ C^b", "N_opt = G (C/6)^a",
                                                         "at budget_max, C = 6 N D", "at budget_max", "tokens per parameter"};
        double *col = malloc((size_t)(B > 0 ? B : 1) * sizeof *col);
        for (int q = 0; q < CH_DER_COUNT; q++) {
            for (int b = 0; b < B; b++) col[b] = per[(size_t)b * CH_DER_COUNT + q];
            derived_add(s, names[q], point[q], col, B, set->level, notes[q]);
        }
        free(col);
        free(per);
        return;
    }
    if (s->vocab < 2 || s->seq_len < 2) return; /* shapes unknown: no allocation */
    AllocSpace space = {.vocab = s->vocab, .seq_len = s->seq_len, .R_min = s->R_min, .R_max = s->R_max,
                        .P_min = s->P_min, .P_max = s->P_max};
    CandidateSet dlcm, dense;
    char err[256];
    if (allocate_candidates(&space, 0, &dlcm, err, sizeof err)) return;
    if (allocate_candidates(&space, 1, &dense, err, sizeof err)) { allocate_candidates_free(&dlcm); return; }
    double point[DL_DER_COUNT], *per = malloc((size_t)(B > 0 ? B : 1) * DL_DER_COUNT * sizeof *per);
    int point_edge[3], lower[3] = {0}, upper[3] = {0}, valid = 0;
    dlcm_derived(law, s->coef, &dlcm, &dense, s->budget_max, point, point_edge);
    for (int b = 0; b < B; b++) {
        int e[3];
        double *row = per + (size_t)b * DL_DER_COUNT;
        dlcm_derived(law, s->samples + (size_t)b * law->n_coef, &dlcm, &dense, s->budget_max, row, e);
        if (isfinite(row[DL_DER_N])) {
            valid++;
            for (int k = 0; k < 3; k++) {
                lower[k] += e[k] < 0;
                upper[k] += e[k] > 0;
            }
        }
        if (set->progress && (b + 1) % 200 == 0) fprintf(stderr, "  derived allocations: %d/%d\n", b + 1, B);
    }
    static const char *const names[DL_DER_COUNT] = {"N_opt", "P_opt", "R_opt", "D_opt", "loss_opt", "dense_N_opt",
                                                     "dense_D_opt", "dense_loss_opt", "loss_gap"};
    /* The candidates are shapes (widths in steps of 64, whole blocks), so N, P and D move in steps:
     * an interval spans the shapes the resamples chose, not the sizes between them. */
    static const char *const notes[DL_DER_COUNT] = {
        "dlcm optimum at budget_max (a candidate shape: N moves in steps)", "backbone share (searched in the data's P range)",
        "R (searched in the data's R range)", "training tokens", "fitted loss at the optimum",
        "dense optimum (law without concept term)", "dense tokens", "dense fitted loss", "dense_loss_opt - loss_opt"};
    char note[SUMMARY_NOTE_LEN];
    double *col = malloc((size_t)(B > 0 ? B : 1) * sizeof *col);
    for (int q = 0; q < DL_DER_COUNT; q++) {
        for (int b = 0; b < B; b++) col[b] = per[(size_t)b * DL_DER_COUNT + q];
        int k = q == DL_DER_N ? 0 : q == DL_DER_P ? 1 : q == DL_DER_R ? 2 : -1;
        static const char *const ranges[3] = {"N range searched", "data's P range", "data's R range"};
        if (k >= 0) edge_note(note, sizeof note, notes[q], ranges[k], point_edge[k], lower[k], upper[k], valid);
        else snprintf(note, sizeof note, "%s", notes[q]);
        derived_add(s, names[q], point[q], col, B, set->level, note);
    }
    free(col);
    free(per);
    allocate_candidates_free(&dlcm);
    allocate_candidates_free(&dense);
}

/* JSON has no NaN or infinity: those are written as null. */
static json_object *number_or_null(double v)
{
    return isfinite(v) ? json_object_new_double(v) : NULL;
}

static json_object *interval_json(double value, double lo, double hi)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "value", number_or_null(value));
    json_object_object_add(o, "lo", isfinite(lo) ? json_object_new_double(lo) : NULL);
    json_object_object_add(o, "hi", isfinite(hi) ? json_object_new_double(hi) : NULL);
    return o;
}

json_object *summary_to_json(const LawSummary *s, const FitData *data, const EstimatorSettings *set,
                             int n_starts, int n_converged, int drop_top_loss)
{
    const Law *law = &s->law;
    json_object *root = json_object_new_object();
    json_object_object_add(root, "law", json_object_new_string(law_name(law)));
    json_object_object_add(root, "source", json_object_new_string(s->source));
    json_object_object_add(root, "label", json_object_new_string(s->label));
    json_object *coefs = json_object_new_object();
    for (int j = 0; j < law->n_coef; j++) {
        json_object *c = interval_json(s->coef[j], s->lo[j], s->hi[j]);
        const char *name = law_coef_name(law, j);
        if (law_coef_is_fixed(law, j)) json_object_object_add(c, "fixed", json_object_new_boolean(1));
        else if (s->ident.coef_state[j] >= 0)
            json_object_object_add(c, "identified", json_object_new_boolean(s->ident.coef_state[j]));
        if (law_coef_is_exponent(law, j) && isfinite(s->coef_constraint_share[j]))
            json_object_object_add(c, "bootstrap_share_on_constraint", json_object_new_double(s->coef_constraint_share[j]));
        json_object_object_add(coefs, name, c);
    }
    json_object_object_add(root, "coefficients", coefs);
    json_object_object_add(root, "identification", scope_identification_json(&s->ident));
    json_object *derived = json_object_new_object();
    for (int q = 0; q < s->n_derived; q++) {
        json_object *d = interval_json(s->derived[q].value, s->derived[q].lo, s->derived[q].hi);
        json_object_object_add(d, "note", json_object_new_string(s->derived[q].note));
        json_object_object_add(derived, s->derived[q].name, d);
    }
    json_object_object_add(derived, "budget", number_or_null(s->budget_max));
    json_object_object_add(root, "derived", derived);

    json_object *val = json_object_new_object();
    json_object_object_add(val, "objective", number_or_null(s->objective));
    json_object_object_add(val, "r2_log", number_or_null(s->r2_log));
    json_object *lobo = json_object_new_object();
    json_object_object_add(lobo, "available", json_object_new_boolean(s->lobo.available));
    if (s->lobo.available) {
        json_object_object_add(lobo, "held_out_budget_lo", json_object_new_double(s->lobo.budget_lo));
        json_object_object_add(lobo, "held_out_budget_hi", json_object_new_double(s->lobo.budget_hi));
        json_object_object_add(lobo, "n_held_out", json_object_new_int(s->lobo.n_held_out));
        json_object_object_add(lobo, "mae_log", json_object_new_double(s->lobo.mae_log));
        json_object_object_add(lobo, "mae_log_lo", number_or_null(s->lobo.mae_log_lo));
        json_object_object_add(lobo, "mae_log_hi", number_or_null(s->lobo.mae_log_hi));
        json_object_object_add(lobo, "rmse_log", json_object_new_double(s->lobo.rmse_log));
        json_object_object_add(lobo, "mean_relative_error", json_object_new_double(s->lobo.mean_rel));
    }
    json_object_object_add(val, "leave_largest_budget_out", lobo);
    json_object_object_add(root, "validation", val);

    json_object *dj = json_object_new_object();
    int n_dense = 0;
    for (int i = 0; i < data->n; i++) n_dense += data->pts[i].dense;
    json_object_object_add(dj, "n_read", json_object_new_int(data->n_read));
    json_object_object_add(dj, "n_used", json_object_new_int(data->n));
    json_object_object_add(dj, "n_dense", json_object_new_int(n_dense));
    json_object_object_add(dj, "n_dlcm", json_object_new_int(data->n - n_dense));
    json_object_object_add(dj, "drop_top_loss", json_object_new_int(drop_top_loss));
    json_object_object_add(dj, "budget_column", json_object_new_string(data->c_column));
    json_object_object_add(dj, "budget_max", number_or_null(s->budget_max));
    json_object_object_add(dj, "vocab", json_object_new_int(s->vocab));
    json_object_object_add(dj, "seq_len", json_object_new_int(s->seq_len));
    json_object *rr = json_object_new_array(), *pr = json_object_new_array();
    json_object_array_add(rr, number_or_null(s->R_min));
    json_object_array_add(rr, number_or_null(s->R_max));
    json_object_array_add(pr, number_or_null(s->P_min));
    json_object_array_add(pr, number_or_null(s->P_max));
    json_object_object_add(dj, "R_range", rr);
    json_object_object_add(dj, "P_range", pr);
    json_object_object_add(dj, "R_source", json_object_new_string(s->R_source));
    json_object_object_add(dj, "selection", json_object_new_string(s->selection));
    json_object_object_add(dj, "ranges", scope_ranges_json(&s->ranges));
    json_object_object_add(root, "data", dj);

    json_object *est = json_object_new_object();
    json_object_object_add(est, "objective", json_object_new_string("sum_i Huber_delta(log Lhat_i - log L_i)"));
    json_object_object_add(est, "huber_delta", json_object_new_double(set->huber_delta));
    json_object_object_add(est, "parameterization",
                           json_object_new_string("log Lhat = LSE of log-space terms; E and the scales by their logs "
                                                  "(centered on the data's mean log covariates), exponents by their logs "
                                                  "(positive by construction)"));
    json_object_object_add(est, "offsets", json_object_new_string(
                                               law->kind == LAW_CHINCHILLA ? "none" : law->fit_offsets ? "free (log t)" : "fixed at 0"));
    json_object_object_add(est, "minimizer", json_object_new_string("GSL multimin vector_bfgs2, restarted while it improves"));
    json_object_object_add(est, "starts", json_object_new_int(n_starts));
    char screening[160];
    snprintf(screening, sizeof screening, "%s", n_starts > 2 * ESTIMATOR_POLISH ? "" : "none: every start descended to convergence");
    if (!screening[0])
        snprintf(screening, sizeof screening, "every start %d BFGS iterations, the best %d descended to convergence",
                 ESTIMATOR_SCREEN_ITER, ESTIMATOR_POLISH);
    json_object_object_add(est, "screening", json_object_new_string(screening));
    json_object_object_add(est, "polished_starts_passing_gradient_test", json_object_new_int(n_converged));
    json_object_object_add(est, "grad_tol", json_object_new_double(set->grad_tol));
    json_object_object_add(est, "max_iter", json_object_new_int(set->max_iter));
    json_object *boot = json_object_new_object();
    json_object_object_add(boot, "resamples", json_object_new_int(set->n_boot));
    json_object_object_add(boot, "succeeded", json_object_new_int(s->n_samples_ok));
    json_object_object_add(boot, "seed", json_object_new_int64((int64_t)set->seed));
    json_object_object_add(boot, "level", json_object_new_double(set->level));
    json_object_object_add(boot, "method", json_object_new_string("non-parametric over points, percentile intervals; "
                                                                  "refits start from the full fit's best minima and an "
                                                                  "even spread of the start grid (all screened, the best 3 "
                                                                  "descended to convergence)"));
    json_object_object_add(boot, "share_on_constraint", number_or_null(s->constraint_share));
    json_object_object_add(boot, "constraint", json_object_new_string("exponents are exp of their parameter (positive by "
                                                                       "construction); a sample is on the constraint when an "
                                                                       "exponent ends below 1e-3"));
    json_object_object_add(est, "bootstrap", boot);
    json_object_object_add(root, "estimator", est);

    json_object *samples = json_object_new_object(), *cols = json_object_new_array(), *rows = json_object_new_array();
    for (int j = 0; j < law->n_coef; j++) json_object_array_add(cols, json_object_new_string(law_coef_name(law, j)));
    for (int b = 0; b < s->n_samples; b++) {
        json_object *row = json_object_new_array();
        for (int j = 0; j < law->n_coef; j++) json_object_array_add(row, number_or_null(s->samples[(size_t)b * law->n_coef + j]));
        json_object_array_add(rows, row);
    }
    json_object_object_add(samples, "columns", cols);
    json_object_object_add(samples, "rows", rows);
    json_object_object_add(root, "bootstrap_samples", samples);
    return root;
}

void summary_print(FILE *f, const LawSummary *s)
{
    const Law *law = &s->law;
    fprintf(f, "\n%s law fit of %s (label \"%s\"%s%s): %d points\n", law_name(law), s->source, s->label,
            strcmp(s->label, s->selection) ? "; selection " : "", strcmp(s->label, s->selection) ? s->selection : "", s->n_points);
    if (law->kind == LAW_DLCM) fprintf(f, "  R in the law: %s\n", s->R_source);
    fprintf(f, "  %-12s %14s %14s %14s\n", "coefficient", "value", "95% lo", "95% hi");
    for (int j = 0; j < law->n_coef; j++) {
        const char *name = law_coef_name(law, j);
        if (law_coef_is_fixed(law, j)) {
            fprintf(f, "  %-12s %14s\n", name, "0 (fixed)");
            continue;
        }
        fprintf(f, "  %-12s %14.6g %14.6g %14.6g  %s\n", name, s->coef[j], s->lo[j], s->hi[j],
                s->ident.coef_state[j] == 0 ? "not identified" : "");
    }
    if (!s->ident.known)
        fprintf(f, "  identification: unknown (no bootstrap intervals)\n");
    else if (s->ident.identified)
        fprintf(f, "  identification: identified (every 95%% interval within a factor 10, exponents within 0.5)\n");
    else
        fprintf(f, "  identification: NOT IDENTIFIED: %s (95%% interval wider than a factor 10, or than 0.5 for an "
                   "exponent)\n    missing variation: %s\n", s->ident.coefficients, s->ident.missing);
    if (isfinite(s->constraint_share))
        fprintf(f, "  bootstrap samples with an exponent on its constraint (< %g): %.1f%%\n", LAW_EXPONENT_FLOOR,
                100 * s->constraint_share);
    if (s->n_derived) {
        fprintf(f, "  derived at C = %.4g FLOPs:\n", s->budget_max);
        for (int q = 0; q < s->n_derived; q++)
            fprintf(f, "  %-14s %12.6g %14.6g %14.6g  %s\n", s->derived[q].name, s->derived[q].value, s->derived[q].lo,
                    s->derived[q].hi, s->derived[q].note);
    }
    fprintf(f, "  objective %.10g   R^2(log L) %.5f\n", s->objective, s->r2_log);
    if (s->lobo.available)
        fprintf(f, "  leave-largest-budget-out (%d points, C in [%.3g, %.3g]): MAE(log L) %.4g [%.4g, %.4g over resamples "
                   "of the held-out points], RMSE %.4g, mean rel. error %+.4f\n",
                s->lobo.n_held_out, s->lobo.budget_lo, s->lobo.budget_hi, s->lobo.mae_log, s->lobo.mae_log_lo,
                s->lobo.mae_log_hi, s->lobo.rmse_log, s->lobo.mean_rel);
    else
        fprintf(f, "  leave-largest-budget-out: not available (one budget group, or too few points without it)\n");
}

static int json_number(json_object *o, double *out)
{
    if (!o || !(json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int))) return -1;
    *out = json_object_get_double(o);
    return 0;
}

int summary_from_json(const char *text, const char *what, LawSummary *s, char *err, int errlen)
{
    memset(s, 0, sizeof *s);
    json_object *root = json_tokener_parse(text);
    if (!root) { snprintf(err, errlen, "%s: not valid JSON", what); return -1; }
    json_object *o, *coefs, *data;
    int rc = -1;
    const char *law_text = json_object_object_get_ex(root, "law", &o) ? json_object_get_string(o) : NULL;
    if (!law_text || law_init(&s->law, law_text, 0)) {
        snprintf(err, errlen, "%s: field law is missing or not chinchilla|dlcm", what);
        goto done;
    }
    if (json_object_object_get_ex(root, "estimator", &o) && json_object_object_get_ex(o, "offsets", &o) &&
        !strcmp(json_object_get_string(o), "free (log t)"))
        law_init(&s->law, law_text, 1);
    if (!json_object_object_get_ex(root, "coefficients", &coefs)) {
        snprintf(err, errlen, "%s: field coefficients is missing", what);
        goto done;
    }
    for (int j = 0; j < s->law.n_coef; j++) {
        json_object *c, *v;
        const char *name = law_coef_name(&s->law, j);
        if (!json_object_object_get_ex(coefs, name, &c) || !json_object_object_get_ex(c, "value", &v) ||
            json_number(v, &s->coef[j]) || !isfinite(s->coef[j])) {
            snprintf(err, errlen, "%s: coefficient %s is missing or not a number", what, name);
            goto done;
        }
        s->lo[j] = json_object_object_get_ex(c, "lo", &v) && !json_number(v, &s->lo[j]) ? s->lo[j] : NAN;
        s->hi[j] = json_object_object_get_ex(c, "hi", &v) && !json_number(v, &s->hi[j]) ? s->hi[j] : NAN;
    }
    if (json_object_object_get_ex(root, "source", &o)) snprintf(s->source, sizeof s->source, "%s", json_object_get_string(o));
    if (json_object_object_get_ex(root, "label", &o)) snprintf(s->label, sizeof s->label, "%s", json_object_get_string(o));
    scope_identification_from_json(json_object_object_get_ex(root, "identification", &o) ? o : NULL, &s->ident);
    scope_ranges_from_json(NULL, &s->ranges);
    if (json_object_object_get_ex(root, "data", &data)) {
        if (json_object_object_get_ex(data, "ranges", &o)) scope_ranges_from_json(o, &s->ranges);
        if (json_object_object_get_ex(data, "R_source", &o))
            snprintf(s->R_source, sizeof s->R_source, "%s", json_object_get_string(o));
        if (json_object_object_get_ex(data, "selection", &o))
            snprintf(s->selection, sizeof s->selection, "%s", json_object_get_string(o));
        double v;
        const char *count_names[2] = {"vocab", "seq_len"};
        int *counts[2] = {&s->vocab, &s->seq_len};
        for (int c = 0; c < 2; c++) {
            if (!json_object_object_get_ex(data, count_names[c], &o) || json_number(o, &v)) continue;
            if (!(v >= 0 && v <= INT_MAX && v == floor(v))) {
                snprintf(err, errlen, "%s: data.%s is not a count (got %g)", what, count_names[c], v);
                goto done;
            }
            *counts[c] = (int)v;
        }
        if (json_object_object_get_ex(data, "budget_max", &o) && !json_number(o, &v)) s->budget_max = v;
        if (json_object_object_get_ex(data, "R_range", &o) && json_object_is_type(o, json_type_array) &&
            json_object_array_length(o) == 2) {
            json_number(json_object_array_get_idx(o, 0), &s->R_min);
            json_number(json_object_array_get_idx(o, 1), &s->R_max);
        }
        if (json_object_object_get_ex(data, "P_range", &o) && json_object_is_type(o, json_type_array) &&
            json_object_array_length(o) == 2) {
            json_number(json_object_array_get_idx(o, 0), &s->P_min);
            json_number(json_object_array_get_idx(o, 1), &s->P_max);
        }
    }
    json_object *samples, *rows;
    if (json_object_object_get_ex(root, "bootstrap_samples", &samples) &&
        json_object_object_get_ex(samples, "rows", &rows) && json_object_is_type(rows, json_type_array)) {
        int B = (int)json_object_array_length(rows), k = s->law.n_coef;
        s->samples = malloc((size_t)(B > 0 ? B : 1) * k * sizeof *s->samples);
        if (!s->samples) { snprintf(err, errlen, "out of memory"); goto done; }
        for (int b = 0; b < B; b++) {
            json_object *row = json_object_array_get_idx(rows, b);
            if (!json_object_is_type(row, json_type_array) || (int)json_object_array_length(row) != k) {
                snprintf(err, errlen, "%s: bootstrap sample %d does not have %d coefficients", what, b, k);
                goto done;
            }
            int good = 1;
            for (int j = 0; j < k; j++) {
                double *dst = &s->samples[(size_t)s->n_samples * k + j];
                if (json_number(json_object_array_get_idx(row, j), dst)) good = 0;
            }
            s->n_samples += good; /* a failed refit was stored as nulls: skip it */
        }
    }
    rc = 0;
done:
    json_object_put(root);
    if (rc) summary_free(s);
    return rc;
}

void summary_free(LawSummary *s)
{
    free(s->samples);
    s->samples = NULL;
    s->n_samples = 0;
}
