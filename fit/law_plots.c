/* fit/law_plots.c: gnuplot figures of a fitted law against its data. */
#include "fit/law_plots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit/plot.h"

static int points_block(Plot *p, const FitData *data, int dense, int which_x, double budget_lo)
{
    int index;
    FILE *f = plot_block(p, &index);
    if (!f) return -1;
    for (int i = 0; i < data->n; i++) {
        const FitPoint *pt = &data->pts[i];
        if (pt->dense != dense || pt->C < budget_lo) continue;
        double x = which_x == 0 ? pt->C : which_x == 1 ? pt->P : pt->R;
        fprintf(f, "%.9g %.9g\n", x, pt->loss);
    }
    fclose(f);
    return index;
}

static void add_plot_item(char *cmd, size_t len, int *first, const Plot *p, int block, const char *style,
                          const char *title)
{
    char path[600], safe[256];
    plot_block_path(p, block, path, sizeof path);
    plot_safe_text(title, safe, sizeof safe);
    size_t used = strlen(cmd);
    snprintf(cmd + used, len - used, "%s'%s' using 1:2 %s title '%s'", *first ? "plot " : ", ", path, style, safe);
    *first = 0;
}

static int loss_vs_compute(const char *dir, const char *prefix, const char *tag, const LawSummary *s,
                           const FitData *data, char *err, int errlen)
{
    Plot p;
    char name[300], title[900];
    snprintf(name, sizeof name, "%s-loss-vs-compute", prefix);
    snprintf(title, sizeof title, "%s\nloss vs training compute (points: runs; lines: fitted compute-optimal loss)", tag);
    /* Linear loss axis, autoscaled to the data: a log axis would stretch to whole decades. */
    if (plot_begin(&p, dir, name, title, "training FLOPs C", "loss", 1, 0, err, errlen))
        return -1;
    double C_lo = INFINITY, C_hi = 0;
    int n_dense = 0;
    for (int i = 0; i < data->n; i++) {
        C_lo = fmin(C_lo, data->pts[i].C);
        C_hi = fmax(C_hi, data->pts[i].C);
        n_dense += data->pts[i].dense;
    }
    char cmd[8192] = "";
    int first = 1;
    if (n_dense) add_plot_item(cmd, sizeof cmd, &first, &p, points_block(&p, data, 1, 0, 0), "with points pt 7 ps 0.6 lc rgb '#1f77b4'", "dense runs");
    if (n_dense < data->n) add_plot_item(cmd, sizeof cmd, &first, &p, points_block(&p, data, 0, 0, 0), "with points pt 5 ps 0.6 lc rgb '#d62728'", "dlcm runs");
    const Law *law = &s->law;
    if (law->kind == LAW_CHINCHILLA) {
        int b;
        FILE *f = plot_block(&p, &b);
        for (int i = 0; i <= 100; i++) {
            double C = C_lo / 2 * pow(C_hi * 2 / (C_lo / 2), i / 100.0), N, D;
            allocate_chinchilla_closed_form(s->coef, C, &N, &D);
            fprintf(f, "%.9g %.9g\n", C, law_loss(law, s->coef, N, D, 1, 0, 1));
        }
        fclose(f);
        add_plot_item(cmd, sizeof cmd, &first, &p, b, "with lines lw 2 lc rgb '#1f77b4'", "fit: L(N*(C), D*(C)), C = 6ND");
    } else if (s->vocab >= 2 && s->seq_len >= 2) {
        AllocSpace space = {.vocab = s->vocab, .seq_len = s->seq_len, .R_min = s->R_min, .R_max = s->R_max,
                            .P_min = s->P_min, .P_max = s->P_max};
        for (int dense = 1; dense >= 0; dense--) {
            CandidateSet set;
            if (allocate_candidates(&space, dense, &set, err, errlen)) continue;
            int b;
            FILE *f = plot_block(&p, &b);
            for (int i = 0; i <= 40; i++) {
                double C = C_lo / 2 * pow(C_hi * 2 / (C_lo / 2), i / 40.0);
                Allocation a = allocate_best(law, s->coef, &set, C);
                if (a.valid) fprintf(f, "%.9g %.9g\n", C, a.loss);
            }
            fclose(f);
            allocate_candidates_free(&set);
            add_plot_item(cmd, sizeof cmd, &first, &p, b, dense ? "with lines lw 2 lc rgb '#1f77b4'" : "with lines lw 2 lc rgb '#d62728'",
                          dense ? "fit: dense optimum" : "fit: dlcm optimum");
        }
    }
    strncat(cmd, "\n", sizeof cmd - strlen(cmd) - 1);
    plot_command(&p, cmd);
    return plot_finish(&p, err, errlen);
}

static int pred_vs_obs(const char *dir, const char *prefix, const char *tag, const LawSummary *s, const FitData *data,
                       char *err, int errlen)
{
    Plot p;
    char name[300], title[900];
    snprintf(name, sizeof name, "%s-pred-vs-obs", prefix);
    snprintf(title, sizeof title, "%s\nfitted vs observed loss", tag);
    if (plot_begin(&p, dir, name, title, "observed loss", "fitted loss", 0, 0, err, errlen)) return -1;
    char cmd[4096] = "";
    int first = 1;
    for (int dense = 1; dense >= 0; dense--) {
        int b, any = 0;
        FILE *f = plot_block(&p, &b);
        for (int i = 0; i < data->n; i++) {
            const FitPoint *pt = &data->pts[i];
            if (pt->dense != dense) continue;
            fprintf(f, "%.9g %.9g\n", pt->loss, law_loss(&s->law, s->coef, pt->N, pt->D, pt->R, pt->P, pt->dense));
            any = 1;
        }
        fclose(f);
        if (any) add_plot_item(cmd, sizeof cmd, &first, &p, b, dense ? "with points pt 7 ps 0.6 lc rgb '#1f77b4'" : "with points pt 5 ps 0.6 lc rgb '#d62728'",
                               dense ? "dense" : "dlcm");
    }
    strncat(cmd, ", x with lines dt 2 lc rgb 'black' title 'y = x'\n", sizeof cmd - strlen(cmd) - 1);
    plot_command(&p, cmd);
    return plot_finish(&p, err, errlen);
}

/* The fitted loss at budget C as a function of P (which = 1) or R (which = 2), over the data's
 * range only. P: at each P on a fine grid the law is evaluated at continuous (N, P) with N
 * minimized over a fine log grid and D = C / (3 F_fwd) from the solved shape's FLOPs scaled to N,
 * so the curve is smooth rather than stepping with the shapes' whole widths. R: the best shape at
 * each fixed R. */
static int loss_vs_share(const char *dir, const char *prefix, const char *tag, const LawSummary *s, const FitData *data,
                         int which, char *err, int errlen)
{
    Plot p;
    char name[300], title[900];
    double C = s->budget_max;
    snprintf(name, sizeof name, "%s-loss-vs-%s", prefix, which == 1 ? "P" : "R");
    snprintf(title, sizeof title, "%s\nloss vs %s at C = %.3g FLOPs (points: runs of this budget; line: fitted, over the range of the runs)",
             tag, which == 1 ? "P" : "R", C);
    if (plot_begin(&p, dir, name, title, which == 1 ? "backbone share P" : "compression ratio R", "loss", which == 2, 0,
                   err, errlen))
        return -1;
    char cmd[4096] = "";
    int first = 1;
    add_plot_item(cmd, sizeof cmd, &first, &p, points_block(&p, data, 0, which, C / 1.25), "with points pt 5 ps 0.8 lc rgb '#d62728'", "dlcm runs");
    if (s->vocab >= 2 && s->seq_len >= 2) {
        int b;
        FILE *f = plot_block(&p, &b);
        if (which == 1) {
            /* A range narrower than the shapes' resolution is drawn over that resolution. */
            double P_lo = s->P_min, P_hi = s->P_max;
            if (P_hi - P_lo < 2 * ALLOC_P_TOLERANCE) {
                double mid = 0.5 * (P_lo + P_hi);
                P_lo = fmax(0.01, mid - ALLOC_P_TOLERANCE);
                P_hi = fmin(0.99, mid + ALLOC_P_TOLERANCE);
            }
            double R = sqrt(s->R_min * s->R_max);
            double N_lo = INFINITY, N_hi = 0;
            for (int i = 0; i < data->n; i++) { N_lo = fmin(N_lo, data->pts[i].N); N_hi = fmax(N_hi, data->pts[i].N); }
            /* FLOPs per token ~ kappa 2 N ((1 - P) + P / R): the token streams see every token, the
             * backbone one in R. kappa (attention, cross-attention, the shape's rounding) is taken
             * once from the shape solved at the middle of the data, so the curve has no steps. */
            ModelShape base = {.family = FAMILY_DLCM, .vocab = s->vocab, .seq_len = s->seq_len, .R = R}, mid;
            ShapeRule rule = shape_rule_default();
            ShapeParams sp;
            char inner[256];
            double P_mid = 0.5 * (s->P_min + s->P_max), kappa = 1.0;
            if (!shape_solve(&base, sqrt(N_lo * N_hi), P_mid, &rule, &mid, inner, sizeof inner) &&
                !shape_params(&mid, &sp, inner, sizeof inner))
                kappa = shape_fwd_flops_per_token(&mid, R) / (2.0 * sp.N * ((1 - sp.P) + sp.P / R));
            for (int k = 0; k <= 60; k++) {
                double P = P_lo + (P_hi - P_lo) * k / 60.0, best = INFINITY;
                for (int j = 0; j <= 200; j++) {
                    double N = N_lo / 3 * pow(9 * N_hi / N_lo, j / 200.0);
                    double F = kappa * 2.0 * N * ((1 - P) + P / R);
                    double L = law_loss(&s->law, s->coef, N, C / (3 * F), R, P, 0);
                    if (L < best) best = L;
                }
                if (isfinite(best)) fprintf(f, "%.5f %.9g\n", P, best);
            }
        } else {
            AllocSpace space = {.vocab = s->vocab, .seq_len = s->seq_len, .R_min = s->R_min, .R_max = s->R_max,
                                .P_min = s->P_min, .P_max = s->P_max};
            CandidateSet set;
            if (allocate_candidates(&space, 0, &set, err, errlen) == 0) {
                for (int i = 0; i <= 30; i++) {
                    CandidateSet fixed = set;
                    fixed.R_fixed = s->R_min * pow(s->R_max / s->R_min, i / 30.0);
                    Allocation a = allocate_best(&s->law, s->coef, &fixed, C);
                    if (a.valid) fprintf(f, "%.6g %.9g\n", fixed.R_fixed, a.loss);
                }
                allocate_candidates_free(&set);
            }
        }
        fclose(f);
        add_plot_item(cmd, sizeof cmd, &first, &p, b, "with lines lw 2 lc rgb '#d62728'",
                      which == 1 ? "fit: best N at each P (R = geometric mean of the runs)" : "fit: best shape at each R");
    }
    strncat(cmd, "\n", sizeof cmd - strlen(cmd) - 1);
    plot_command(&p, cmd);
    return plot_finish(&p, err, errlen);
}

int law_plots(const char *dir, const char *prefix, const char *tag, const LawSummary *s, const FitData *data, char *err,
              int errlen)
{
    if (loss_vs_compute(dir, prefix, tag, s, data, err, errlen) || pred_vs_obs(dir, prefix, tag, s, data, err, errlen))
        return -1;
    if (s->law.kind == LAW_DLCM && (loss_vs_share(dir, prefix, tag, s, data, 1, err, errlen) ||
                                    loss_vs_share(dir, prefix, tag, s, data, 2, err, errlen)))
        return -1;
    return 0;
}
