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
    char path[600];
    plot_block_path(p, block, path, sizeof path);
    size_t used = strlen(cmd);
    snprintf(cmd + used, len - used, "%s'%s' using 1:2 %s title '%s'", *first ? "plot " : ", ", path, style, title);
    *first = 0;
}

static int loss_vs_compute(const char *dir, const char *prefix, const LawSummary *s, const FitData *data,
                           char *err, int errlen)
{
    Plot p;
    char name[300];
    snprintf(name, sizeof name, "%s-loss-vs-compute", prefix);
    if (plot_begin(&p, dir, name, "Loss vs training compute (points: runs; lines: fitted compute-optimal loss)",
                   "training FLOPs C", "loss", 1, 1, err, errlen))
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
        AllocSpace space = {.vocab = s->vocab, .seq_len = s->seq_len, .R_min = s->R_min, .R_max = s->R_max};
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

static int pred_vs_obs(const char *dir, const char *prefix, const LawSummary *s, const FitData *data, char *err,
                       int errlen)
{
    Plot p;
    char name[300];
    snprintf(name, sizeof name, "%s-pred-vs-obs", prefix);
    if (plot_begin(&p, dir, name, "Fitted vs observed loss", "observed loss", "fitted loss", 0, 0, err, errlen)) return -1;
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

/* Fitted optimum loss at budget C as a function of P (which = 1) or R (which = 2): the best
 * candidate in each P bin, or the best candidate at each R. */
static int loss_vs_share(const char *dir, const char *prefix, const LawSummary *s, const FitData *data, int which,
                         char *err, int errlen)
{
    Plot p;
    char name[300], title[200];
    double C = s->budget_max;
    snprintf(name, sizeof name, "%s-loss-vs-%s", prefix, which == 1 ? "P" : "R");
    snprintf(title, sizeof title, "Loss vs %s at C = %.3g FLOPs (points: runs of this budget; line: fitted optimum)",
             which == 1 ? "P" : "R", C);
    if (plot_begin(&p, dir, name, title, which == 1 ? "backbone share P" : "compression ratio R", "loss", which == 2, 0,
                   err, errlen))
        return -1;
    char cmd[4096] = "";
    int first = 1;
    add_plot_item(cmd, sizeof cmd, &first, &p, points_block(&p, data, 0, which, C / 1.25), "with points pt 5 ps 0.8 lc rgb '#d62728'", "dlcm runs");
    if (s->vocab >= 2 && s->seq_len >= 2) {
        AllocSpace space = {.vocab = s->vocab, .seq_len = s->seq_len, .R_min = s->R_min, .R_max = s->R_max};
        CandidateSet set;
        if (allocate_candidates(&space, 0, &set, err, errlen) == 0) {
            int b;
            FILE *f = plot_block(&p, &b);
            if (which == 1) {
                double best[40];
                for (int k = 0; k < 40; k++) best[k] = INFINITY;
                for (int c = 0; c < set.n; c++) {
                    CandidateSet one = set;
                    one.n = 1;
                    one.shapes = &set.shapes[c];
                    one.N = &set.N[c];
                    one.P = &set.P[c];
                    Allocation a = allocate_best(&s->law, s->coef, &one, C);
                    int k = (int)(set.P[c] * 40);
                    if (a.valid && k >= 0 && k < 40 && a.loss < best[k]) best[k] = a.loss;
                }
                for (int k = 0; k < 40; k++)
                    if (isfinite(best[k])) fprintf(f, "%.4f %.9g\n", (k + 0.5) / 40, best[k]);
            } else {
                for (int i = 0; i <= 30; i++) {
                    CandidateSet fixed = set;
                    fixed.R_fixed = s->R_min * pow(s->R_max / s->R_min, i / 30.0);
                    Allocation a = allocate_best(&s->law, s->coef, &fixed, C);
                    if (a.valid) fprintf(f, "%.6g %.9g\n", fixed.R_fixed, a.loss);
                }
            }
            fclose(f);
            allocate_candidates_free(&set);
            add_plot_item(cmd, sizeof cmd, &first, &p, b, "with linespoints pt 6 ps 0.5 lw 2 lc rgb '#d62728'",
                          "fit: best shape");
        }
    }
    strncat(cmd, "\n", sizeof cmd - strlen(cmd) - 1);
    plot_command(&p, cmd);
    return plot_finish(&p, err, errlen);
}

int law_plots(const char *dir, const char *prefix, const LawSummary *s, const FitData *data, char *err, int errlen)
{
    if (loss_vs_compute(dir, prefix, s, data, err, errlen) || pred_vs_obs(dir, prefix, s, data, err, errlen))
        return -1;
    if (s->law.kind == LAW_DLCM &&
        (loss_vs_share(dir, prefix, s, data, 1, err, errlen) || loss_vs_share(dir, prefix, s, data, 2, err, errlen)))
        return -1;
    return 0;
}
