/* report/sweep_report.c: dlcm-report's report of one sweep, a self-contained Markdown report with its plots:
 * the sweep and where its runs were made, the runs table, the best run per budget, each stored
 * fit with its intervals and what they identify, the recommendations with their intervals and
 * how far the data carries them, and the figures (isoFLOP curves with the fitted curve and its
 * optimum, N_opt and D_opt against C, training curves per budget, residuals). */
#include <errno.h>
#include <getopt.h>
#include <gsl/gsl_cdf.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/duration.h"
#include "db/db.h"
#include "db/study.h"
#include "db/sweeps.h"
#include "fit/plot.h"
#include "fit/scope.h"
#include "report/curve_thin.h"
#include "report/isoflop.h"
#include "report/seed_noise.h"
#include "report/sweep_report.h"

/* ---- what the report is made of ------------------------------------------------------------ */

typedef struct {
    char id[32], status[16], family[8], param[8], parser[32];
    double N, P, R, budget, D, lr, loss, seconds, flops_per_token, R_train, R_eval;
    long long seed, steps, steps_done, d_t, d_c;
} Run;

typedef struct {
    Run *runs;
    int n, cap;
} RunList;

static void collect_run(void *ctx, const ReportRun *r)
{
    RunList *l = ctx;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        Run *grown = realloc(l->runs, (size_t)cap * sizeof *grown);
        if (!grown) { /* a report on some of the runs would read as one on all of them */
            fprintf(stderr, "dlcm-report: out of memory reading the runs\n");
            exit(1);
        }
        l->runs = grown;
        l->cap = cap;
    }
    Run *o = &l->runs[l->n++];
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", r->id);
    snprintf(o->status, sizeof o->status, "%s", r->status);
    snprintf(o->family, sizeof o->family, "%s", r->family);
    o->N = r->N; o->P = r->P; o->R = r->R; o->budget = r->budget; o->D = r->D; o->lr = r->lr; o->loss = r->loss;
    o->seconds = r->seconds; o->flops_per_token = r->train_flops_per_token;
    o->R_train = r->realized_R_train; o->R_eval = r->realized_R_eval;
    o->seed = r->seed; o->steps = r->steps; o->steps_done = r->steps_done;
    snprintf(o->param, sizeof o->param, "%s", r->parametrization ? r->parametrization : "");
    seed_config_parser(r->config, o->parser, sizeof o->parser);
    o->d_t = r->d_t;
    o->d_c = r->d_c;
}

#define MAX_FITS 4
typedef struct {
    char law[16];
    double created_at;
    LoadedFit fit;
} Fit;

typedef struct {
    Fit fits[MAX_FITS];
    int n;
    char err[512];
} FitList;

static void collect_fit(void *ctx, const char *law, double created_at, const char *json)
{
    FitList *l = ctx;
    if (l->n == MAX_FITS) return;
    Fit *f = &l->fits[l->n];
    if (isoflop_fit_load(json, &f->fit, l->err, sizeof l->err)) return;
    snprintf(f->law, sizeof f->law, "%s", law);
    f->created_at = created_at;
    l->n++;
}

static double field_budget(const Run *r);

/* Distinct sorted values of a run field over done runs matching a family (NULL: any); budgets
 * within isoflop_same_budget of each other are one. */
static int distinct(const RunList *l, const char *family, double (*field)(const Run *), double *out, int max)
{
    int n = 0;
    for (int i = 0; i < l->n; i++) {
        const Run *r = &l->runs[i];
        if (family && strcmp(r->family, family)) continue;
        double v = field(r);
        if (!isfinite(v)) continue;
        int seen = 0;
        for (int j = 0; j < n; j++)
            seen |= field == field_budget ? isoflop_same_budget(out[j], v) : fabs(out[j] - v) <= 1e-9 * fabs(v);
        if (!seen && n < max) out[n++] = v;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && out[j] < out[j - 1]; j--) {
            double t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}
static double field_budget(const Run *r) { return r->budget; }
static double field_R(const Run *r) { return r->R; }

static int is_done(const Run *r) { return strcmp(r->status, "done") == 0 && isfinite(r->loss); }

/* The sweep's shapes (report/seed_noise.h): runs identical but for the seed, their finished seeds
 * averaged; shapes[i].first_done indexes the runs. */
typedef struct {
    ShapeMean *s;
    int n, max_k;
    SeedNoise noise;  /* the pooled seed-to-seed sd over this sweep's shapes */
} Shapes;

static int shapes_build(const RunList *l, Shapes *out)
{
    memset(out, 0, sizeof *out);
    int n = l->n;
    ShapeKey *keys = malloc((size_t)(n ? n : 1) * sizeof *keys);
    double *loss = malloc((size_t)(n ? n : 1) * sizeof *loss);
    int *group = malloc((size_t)(n ? n : 1) * sizeof *group);
    out->s = malloc((size_t)(n ? n : 1) * sizeof *out->s);
    int rc = -1;
    if (keys && loss && group && out->s) {
        for (int i = 0; i < n; i++) {
            const Run *r = &l->runs[i];
            keys[i] = (ShapeKey){NULL, r->family, r->param, r->parser, r->d_t, r->d_c, r->N, r->P, r->R, r->lr,
                                 r->budget, r->D};
            loss[i] = is_done(r) ? r->loss : NAN;
        }
        out->n = seed_shape_means(keys, loss, n, out->s);
        for (int i = 0; i < out->n; i++)
            if (out->s[i].k > out->max_k) out->max_k = out->s[i].k;
        seed_shape_groups(keys, n, group);
        out->noise = seed_noise_pooled(loss, group, n);
        rc = 0;
    }
    free(keys);
    free(loss);
    free(group);
    if (rc) {
        free(out->s);
        out->s = NULL;
    }
    return rc;
}

/* Names in figures: the sweep name with anything but [A-Za-z0-9._-] replaced, so no title can
 * carry gnuplot syntax. */
static void safe_name(const char *name, char *out, size_t n)
{
    size_t i = 0;
    for (; name[i] && i + 1 < n; i++) {
        char c = name[i];
        out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                         c == '_'
                     ? c
                     : '_';
    }
    out[i] = '\0';
}

/* ---- figures ------------------------------------------------------------------------------- */

typedef struct {
    const char *dir, *sweep; /* sweep: the safe name */
    char files[32][96];      /* PNG names written, for the Markdown */
    char captions[32][200];
    int n;
    int failed;
    char err[512];
} Figures;

static void add_figure(Figures *f, const char *name, const char *caption)
{
    if (f->n == 32) return;
    snprintf(f->files[f->n], sizeof f->files[f->n], "%.80s.png", name);
    snprintf(f->captions[f->n], sizeof f->captions[f->n], "%s", caption);
    f->n++;
}

/* Renders a plot; on failure the report says which figure is missing and why. */
static void finish(Figures *f, Plot *p, const char *caption)
{
    char err[512];
    fflush(stdout);
    if (plot_finish(p, err, sizeof err)) {
        snprintf(f->err, sizeof f->err, "%s", err);
        f->failed = 1;
        return;
    }
    add_figure(f, p->name, caption);
}

/* The fit whose law draws this family (dense: a Chinchilla fit when stored, else the dlcm law
 * without its concept term; dlcm: the dlcm law). NULL when none applies. */
static double json_number(json_object *o, const char *key);

/* How many points of a family a fit used (from its data section; -1 when it does not say). */
static double fit_points_of(const LoadedFit *fit, const char *family)
{
    json_object *data;
    if (!json_object_object_get_ex(fit->root, "data", &data)) return -1;
    double n = json_number(data, strcmp(family, "dense") == 0 ? "n_dense" : "n_dlcm");
    return isnan(n) ? -1 : n;
}

static const LoadedFit *fit_for(const FitList *fits, int dense)
{
    const LoadedFit *dlcm = NULL, *chinchilla = NULL;
    for (int i = 0; i < fits->n; i++) {
        if (fits->fits[i].fit.law.kind == LAW_DLCM) dlcm = &fits->fits[i].fit;
        else chinchilla = &fits->fits[i].fit;
    }
    /* A Chinchilla fit describes the family it was fitted on, and only when it saw no other. */
    if (chinchilla) {
        double own = fit_points_of(chinchilla, dense ? "dense" : "dlcm");
        double other = fit_points_of(chinchilla, dense ? "dlcm" : "dense");
        if (own != 0 && other > 0) chinchilla = NULL;
        else if (own == 0) chinchilla = NULL;
    }
    if (dense) return chinchilla ? chinchilla : dlcm;
    return dlcm ? dlcm : chinchilla;
}

/* One isoFLOP family line: its runs (dense, or dlcm at one R) and its FLOPs-per-token curve. */
typedef struct {
    char label[48], file_tag[32];
    int dense;
    double R, P, n_lo, n_hi;
    FlopsCurve flops;
} Line;

static int make_lines(const RunList *l, Line *lines, int max)
{
    int n = 0;
    int has_dense = 0;
    for (int i = 0; i < l->n; i++) has_dense |= strcmp(l->runs[i].family, "dense") == 0;
    if (has_dense && n < max) {
        Line *d = &lines[n++];
        memset(d, 0, sizeof *d);
        d->dense = 1;
        d->R = 1;
        snprintf(d->label, sizeof d->label, "dense");
        snprintf(d->file_tag, sizeof d->file_tag, "dense");
    }
    double Rs[16];
    int n_R = distinct(l, "dlcm", field_R, Rs, 16);
    for (int k = 0; k < n_R && n < max; k++) {
        Line *d = &lines[n++];
        memset(d, 0, sizeof *d);
        d->R = Rs[k];
        snprintf(d->label, sizeof d->label, "dlcm R=%g", Rs[k]);
        snprintf(d->file_tag, sizeof d->file_tag, "dlcm-R%g", Rs[k]);
    }
    for (int k = 0; k < n; k++) {
        Line *d = &lines[k];
        double p_sum = 0;
        int p_n = 0;
        d->n_lo = INFINITY;
        d->n_hi = 0;
        for (int i = 0; i < l->n; i++) {
            const Run *r = &l->runs[i];
            int member = d->dense ? strcmp(r->family, "dense") == 0
                                  : strcmp(r->family, "dlcm") == 0 && fabs(r->R - d->R) < 1e-9;
            if (!member) continue;
            flops_curve_add(&d->flops, r->N, r->flops_per_token);
            if (r->N < d->n_lo) d->n_lo = r->N;
            if (r->N > d->n_hi) d->n_hi = r->N;
            if (isfinite(r->P)) { p_sum += r->P; p_n++; }
        }
        d->P = p_n ? p_sum / p_n : 0;
    }
    return n;
}

static int in_line(const Line *d, const Run *r)
{
    return d->dense ? strcmp(r->family, "dense") == 0 : strcmp(r->family, "dlcm") == 0 && fabs(r->R - d->R) < 1e-9;
}

/* The search range of isoFLOP minima: the family's N range widened by 2x each way, so an
 * optimum just past the grid shows, while one far outside stays marked as a bound. */
static void search_range(const Line *d, double *lo, double *hi)
{
    *lo = d->n_lo / 2;
    *hi = d->n_hi * 2;
}

typedef struct {
    double C, N_opt, N_lo, N_hi, D_opt, D_lo, D_hi, loss;
    int at_edge;
    double edge_share;
} Optimum;

static Optimum optimum_of(const LoadedFit *fit, const Line *d, double C)
{
    Optimum o = {C, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0, NAN};
    FamilyLine line = {d->dense, d->R, d->P, &d->flops};
    double lo, hi;
    search_range(d, &lo, &hi);
    o.N_opt = isoflop_argmin(fit, fit->coef, &line, C, lo, hi, 200, &o.at_edge);
    o.loss = isoflop_loss(fit, fit->coef, &line, C, o.N_opt);
    isoflop_argmin_interval(fit, &line, C, lo, hi, 200, &o.N_lo, &o.N_hi, &o.edge_share);
    double F = flops_curve_at(&d->flops, o.N_opt);
    o.D_opt = C / F;
    /* D falls as N grows along the isoFLOP line: the interval's ends swap. */
    o.D_lo = C / flops_curve_at(&d->flops, o.N_hi);
    o.D_hi = C / flops_curve_at(&d->flops, o.N_lo);
    return o;
}

/* One budget's points of a line: each run (one seed per shape), or each shape's mean over its
 * finished seeds with the seeds' range as a bar. The count. */
static int write_isoflop_points(FILE *pts, const RunList *l, const Shapes *shapes, const Line *d, double budget)
{
    int n = 0;
    for (int i = 0; pts && i < shapes->n; i++) {
        const ShapeMean *m = &shapes->s[i];
        if (m->k == 0) continue;
        const Run *r = &l->runs[m->first_done];
        if (!in_line(d, r) || !isoflop_same_budget(r->budget, budget)) continue;
        if (shapes->max_k > 1) fprintf(pts, "%.10g %.10g %.10g %.10g\n", r->N, m->mean, m->min, m->max);
        else fprintf(pts, "%.10g %.10g\n", r->N, m->mean);
        n++;
    }
    return n;
}

/* Whether a stored fit says it is identified: 1, 0, or -1 when it does not say (it predates the
 * stored identification). */
static int fit_identified(const LoadedFit *fit)
{
    json_object *ident_json;
    Identification ident;
    scope_identification_from_json(json_object_object_get_ex(fit->root, "identification", &ident_json) ? ident_json : NULL,
                                   &ident);
    return ident.known ? ident.identified : -1;
}

/* The law's curve and minimum are drawn only at the budgets where this line has runs: elsewhere
 * they would be the law's extrapolation dressed as a fit of points that do not exist. A law that
 * is not identified says so in the title, since its minima are then descriptions of the grid,
 * not located optima (the report's tables say the same beside each number). */
static void plot_isoflops(Figures *f, const RunList *l, const Shapes *shapes, const Line *d, const LoadedFit *fit,
                          const double *budgets, int n_budgets)
{
    Plot p;
    char name[96], title[300], cmd[8192];
    snprintf(name, sizeof name, "isoflop-%.31s", d->file_tag);
    snprintf(title, sizeof title, "%.100s: isoFLOP curves, %.47s%s", f->sweep, d->label,
             !fit                      ? " (no fit of this family stored)"
             : fit_identified(fit) == 0 ? " (law not identified: its minima describe the grid)"
                                        : "");
    if (plot_begin(&p, f->dir, name, title, "non-embedding parameters N", "final loss", 1, 0, f->err, sizeof f->err)) {
        f->failed = 1;
        return;
    }
    if (d->n_hi <= d->n_lo * 1.0001) {
        /* One size only: an x range around it (gnuplot cannot scale an empty one). */
        char range[96];
        snprintf(range, sizeof range, "set xrange [%.6g:%.6g]\n", d->n_lo / 3, d->n_hi * 3);
        plot_script(&p, range);
    }
    size_t used = (size_t)snprintf(cmd, sizeof cmd, "plot ");
    for (int b = 0; b < n_budgets; b++) {
        int block;
        FILE *pts = plot_block(&p, &block);
        int n_pts = write_isoflop_points(pts, l, shapes, d, budgets[b]);
        if (pts) fclose(pts);
        char path[700];
        plot_block_path(&p, block, path, sizeof path);
        if (n_pts && shapes->max_k > 1)
            used += (size_t)snprintf(cmd + used, sizeof cmd - used,
                                     "%s'%s' using 1:2:3:4 with yerrorbars pt 7 ps 1.3 lc %d title 'C=%.3g shapes: mean "
                                     "of the seeds (bar: their range)'",
                                     used > 5 ? ", " : "", path, b + 1, budgets[b]);
        else if (n_pts)
            used += (size_t)snprintf(cmd + used, sizeof cmd - used, "%s'%s' using 1:2 with points pt 7 ps 1.3 lc %d title 'C=%.3g runs'",
                                     used > 5 ? ", " : "", path, b + 1, budgets[b]);
        if (!fit || !n_pts || used >= sizeof cmd) continue;
        FamilyLine line = {d->dense, d->R, d->P, &d->flops};
        double lo, hi;
        search_range(d, &lo, &hi);
        FILE *curve = plot_block(&p, &block);
        for (int i = 0; curve && i < 120; i++) {
            double N = exp(log(lo) + (log(hi) - log(lo)) * i / 119.0);
            double L = isoflop_loss(fit, fit->coef, &line, budgets[b], N);
            if (isfinite(L)) fprintf(curve, "%.10g %.10g\n", N, L);
        }
        if (curve) fclose(curve);
        plot_block_path(&p, block, path, sizeof path);
        used += (size_t)snprintf(cmd + used, sizeof cmd - used, "%s'%s' using 1:2 with lines lw 2 lc %d title 'C=%.3g law'",
                                 used > 5 ? ", " : "", path, b + 1, budgets[b]);
        Optimum o = optimum_of(fit, d, budgets[b]);
        FILE *opt = plot_block(&p, &block);
        if (opt) {
            fprintf(opt, "%.10g %.10g %.10g %.10g\n", o.N_opt, o.loss, isfinite(o.N_lo) ? o.N_lo : o.N_opt,
                    isfinite(o.N_hi) ? o.N_hi : o.N_opt);
            fclose(opt);
        }
        plot_block_path(&p, block, path, sizeof path);
        used += (size_t)snprintf(cmd + used, sizeof cmd - used,
                                 ", '%s' using 1:2:3:4 with xerrorbars pt 5 ps 1.5 lc %d title 'C=%.3g law minimum%s'", path,
                                 b + 1, budgets[b], o.at_edge ? " (edge: a bound)" : "");
    }
    if (used >= sizeof cmd || used <= 5) {
        snprintf(f->err, sizeof f->err, "isoFLOP figure for %.47s: nothing to plot", d->label);
        f->failed = 1;
        fclose(p.script);
        return;
    }
    plot_command(&p, cmd);
    char caption[200];
    snprintf(caption, sizeof caption, "isoFLOP curves, %.47s: final loss against N at each budget C%s", d->label,
             shapes->max_k > 1 ? " (each shape's mean over its seeds)" : "");
    finish(f, &p, caption);
}

static void plot_optima(Figures *f, const Line *lines, int n_lines, const FitList *fits, const double *budgets,
                        int n_budgets, int which_D)
{
    Plot p;
    char name[64], title[300], cmd[4096];
    snprintf(name, sizeof name, "%s-vs-C", which_D ? "D_opt" : "N_opt");
    int unidentified = 0;
    for (int k = 0; k < n_lines; k++) {
        const LoadedFit *fit = fit_for(fits, lines[k].dense);
        if (fit && fit_identified(fit) == 0) unidentified = 1;
    }
    snprintf(title, sizeof title, "%s: fitted %s against C (bars: 95%% bootstrap)%s", f->sweep,
             which_D ? "D_opt (tokens)" : "N_opt (parameters)", unidentified ? "; a law not identified" : "");
    if (plot_begin(&p, f->dir, name, title, "training FLOPs C", which_D ? "D_opt" : "N_opt", 1, 1, f->err,
                   sizeof f->err)) {
        f->failed = 1;
        return;
    }
    size_t used = (size_t)snprintf(cmd, sizeof cmd, "plot ");
    for (int k = 0; k < n_lines; k++) {
        const LoadedFit *fit = fit_for(fits, lines[k].dense);
        if (!fit) continue;
        int block, edge_block, n_edge = 0;
        FILE *rows = plot_block(&p, &block), *edges = plot_block(&p, &edge_block);
        /* Families side by side at each budget (x shifted a few percent) so their bars stay apart. */
        double shift = pow(1.06, k - (n_lines - 1) / 2.0);
        for (int b = 0; rows && edges && b < n_budgets; b++) {
            Optimum o = optimum_of(fit, &lines[k], budgets[b]);
            double v = which_D ? o.D_opt : o.N_opt, lo = which_D ? o.D_lo : o.N_lo, hi = which_D ? o.D_hi : o.N_hi;
            fprintf(rows, "%.10g %.10g %.10g %.10g\n", budgets[b] * shift, v, isfinite(lo) ? lo : v,
                    isfinite(hi) ? hi : v);
            if (o.at_edge) {
                fprintf(edges, "%.10g %.10g\n", budgets[b] * shift, v);
                n_edge++;
            }
        }
        if (rows) fclose(rows);
        if (edges) fclose(edges);
        char path[700], edge_path[700];
        plot_block_path(&p, block, path, sizeof path);
        plot_block_path(&p, edge_block, edge_path, sizeof edge_path);
        used += (size_t)snprintf(cmd + used, sizeof cmd - used,
                                 "%s'%s' using 1:2:3:4 with yerrorlines pt 7 ps 1.3 lw 1.5 lc %d title '%s'",
                                 used > 5 ? ", " : "", path, k + 1, lines[k].label);
        if (n_edge && used < sizeof cmd)
            used += (size_t)snprintf(cmd + used, sizeof cmd - used,
                                     ", '%s' using 1:2 with points pt 6 ps 2.6 lw 2 lc %d title '%s: at the edge (a bound)'",
                                     edge_path, k + 1, lines[k].label);
        if (used >= sizeof cmd) break;
    }
    if (used <= 5 || used >= sizeof cmd) {
        fclose(p.script);
        return;
    }
    plot_command(&p, cmd);
    finish(f, &p, which_D ? "D_opt against C per family" : "N_opt against C per family");
}

/* One run's training curve, gathered point by point from the store. */
typedef struct {
    double *tokens, *loss;
    int n, cap, failed;
} Curve;

static void collect_curve_point(void *ctx, int64_t step, int64_t tokens, double train_loss, double val_loss)
{
    Curve *c = ctx;
    if (c->failed || !isfinite(train_loss) || tokens <= 0) return;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 1024;
        double *t = realloc(c->tokens, (size_t)cap * sizeof *t);
        if (t) c->tokens = t;
        double *l = t ? realloc(c->loss, (size_t)cap * sizeof *l) : NULL;
        if (l) c->loss = l;
        if (!t || !l) {
            c->failed = 1;
            return;
        }
        c->cap = cap;
    }
    c->tokens[c->n] = (double)tokens;
    c->loss[c->n] = train_loss;
    c->n++;
}

/* At most this many points a run: a 1e15-FLOP run logs thousands of steps, and the figure of every
 * step of that budget's 64 runs was a 5.4 MB SVG. */
enum { CURVE_POINTS = 200 };

/* Writes run_id's training curve, thinned for the log-x axis, to out. Returns its point count. */
static int write_thinned_curve(sqlite3 *db, const char *run_id, FILE *out)
{
    char err[512];
    Curve c = {0};
    int written = 0;
    if (study_run_curve(db, run_id, collect_curve_point, &c, err, sizeof err) == 0 && !c.failed && c.n > 0) {
        double *x = malloc((size_t)c.n * sizeof *x), *y = malloc((size_t)c.n * sizeof *y);
        if (x && y) {
            int k = curve_thin_log(c.tokens, c.loss, c.n, CURVE_POINTS, x, y);
            for (int i = 0; i < k; i++) fprintf(out, "%.10g %.8g\n", x[i], y[i]);
            written = k;
        }
        free(x);
        free(y);
    }
    free(c.tokens);
    free(c.loss);
    return written;
}

static void plot_training_curves(Figures *f, sqlite3 *db, const RunList *l, double budget, int index)
{
    Plot p;
    char name[64], title[300];
    snprintf(name, sizeof name, "curves-C%d", index + 1);
    snprintf(title, sizeof title, "%s: training loss of every run at C = %.3g FLOPs", f->sweep, budget);
    if (plot_begin(&p, f->dir, name, title, "tokens trained", "training loss", 1, 0, f->err, sizeof f->err)) {
        f->failed = 1;
        return;
    }
    size_t cap = 65536, used = 0;
    char *cmd = malloc(cap);
    if (!cmd) { fclose(p.script); return; }
    used = (size_t)snprintf(cmd, cap, "plot ");
    int lines = 0;
    for (int i = 0; i < l->n; i++) {
        const Run *r = &l->runs[i];
        if (!isoflop_same_budget(r->budget, budget)) continue;
        int block;
        FILE *rows = plot_block(&p, &block);
        if (!rows) continue;
        /* The legend entry is the block's first line (data, never gnuplot syntax). */
        if (strcmp(r->family, "dense") == 0) fprintf(rows, "\"dense N=%.3g\"\n", r->N);
        else fprintf(rows, "\"dlcm N=%.3g R=%g\"\n", r->N, r->R);
        int points = write_thinned_curve(db, r->id, rows);
        fclose(rows);
        if (points == 0) continue;
        char path[700];
        plot_block_path(&p, block, path, sizeof path);
        used += (size_t)snprintf(cmd + used, cap - used, "%s'%s' using 1:2 with lines lw 1.5 dt %d title columnheader(1)",
                                 lines ? ", " : "", path, strcmp(r->family, "dense") == 0 ? 1 : 2);
        lines++;
        if (used >= cap - 1024) break;
    }
    if (lines == 0) {
        free(cmd);
        fclose(p.script);
        return;
    }
    plot_command(&p, cmd);
    free(cmd);
    char caption[200];
    snprintf(caption, sizeof caption,
             "training curves at C = %.3g (solid: dense, dashed: dlcm; a run's steps averaged in %d equal bins of "
             "log tokens)", budget, CURVE_POINTS);
    finish(f, &p, caption);
}

static void plot_residuals(Figures *f, const RunList *l, const FitList *fits, const Line *lines, int n_lines)
{
    Plot p;
    char title[300], cmd[4096];
    snprintf(title, sizeof title, "%s: residuals log(observed / fitted loss) against C", f->sweep);
    if (plot_begin(&p, f->dir, "residuals", title, "training FLOPs C", "log(L_obs / L_fit)", 1, 0, f->err,
                   sizeof f->err)) {
        f->failed = 1;
        return;
    }
    plot_script(&p, "set offsets graph 0, 0, 0.08, 0.08\n");
    size_t used = (size_t)snprintf(cmd, sizeof cmd, "plot 0 with lines lc rgb 'gray' notitle");
    for (int k = 0; k < n_lines; k++) {
        const LoadedFit *fit = fit_for(fits, lines[k].dense);
        if (!fit) continue;
        int block, n = 0;
        FILE *rows = plot_block(&p, &block);
        for (int i = 0; rows && i < l->n; i++) {
            const Run *r = &l->runs[i];
            if (!in_line(&lines[k], r) || !is_done(r)) continue;
            double fitted = law_loss(&fit->law, fit->coef, r->N, r->D, r->R, r->P, lines[k].dense);
            if (fitted > 0) {
                /* Spread budgets a little by N so equal-C points do not hide each other. */
                fprintf(rows, "%.10g %.6g\n", r->budget * pow(r->N / lines[k].n_lo, 0.05), log(r->loss / fitted));
                n++;
            }
        }
        if (rows) fclose(rows);
        if (!n) continue;
        char path[700];
        plot_block_path(&p, block, path, sizeof path);
        used += (size_t)snprintf(cmd + used, sizeof cmd - used, ", '%s' using 1:2 with points pt %d ps 1.3 lc %d title '%s'",
                                 path, 5 + 2 * k, k + 1, lines[k].label);
        if (used >= sizeof cmd) break;
    }
    plot_command(&p, cmd);
    finish(f, &p, "residuals of the fit per run (x: the run's budget, shifted slightly by N)");
}

/* ---- the Markdown ---------------------------------------------------------------------------- */

static void provenance_row(void *ctx, const char *column, const char *value, int runs)
{
    FILE *out = ctx;
    fprintf(out, "| %s | %s | %d |\n", column, value[0] ? value : "(not recorded)", runs);
}

static void fmt_interval(char *buf, size_t n, double v, double lo, double hi)
{
    if (isfinite(lo) && isfinite(hi)) snprintf(buf, n, "%.4g [%.4g, %.4g]", v, lo, hi);
    else snprintf(buf, n, "%.4g (no interval)", v);
}

/* A number of the fit JSON; NaN when absent or null (the fitter writes null for a bound that is
 * not finite, which json-c would otherwise read as 0). */
static double json_number(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !v) return NAN;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) return NAN;
    return json_object_get_double(v);
}

/* "[lo, hi]", an end that is not finite written as "none" (the bootstrap did not bound it). */
static void fmt_bounds(char *buf, size_t n, double lo, double hi)
{
    char a[32] = "none", b[32] = "none";
    if (isfinite(lo)) snprintf(a, sizeof a, "%.4g", lo);
    if (isfinite(hi)) snprintf(b, sizeof b, "%.4g", hi);
    snprintf(buf, n, "[%s, %s]", a, b);
}

/* The index of a coefficient of the law by its name; -1 when the law has none. */
static int coef_index(const Law *law, const char *name)
{
    for (int j = 0; j < law->n_coef; j++)
        if (strcmp(law_coef_name(law, j), name) == 0) return j;
    return -1;
}

static void write_fit_section(FILE *out, const Fit *f)
{
    json_object *root = f->fit.root, *coefs = NULL, *derived = NULL, *validation = NULL, *data = NULL;
    json_object_object_get_ex(root, "coefficients", &coefs);
    json_object_object_get_ex(root, "derived", &derived);
    json_object_object_get_ex(root, "validation", &validation);
    json_object_object_get_ex(root, "data", &data);
    time_t when = (time_t)f->created_at;
    /* A fit made by the report itself has no stored date: its source line says so. */
    char date[64] = "";
    if (f->created_at > 0) strftime(date, sizeof date, " (fit of %Y-%m-%d %H:%M UTC)", gmtime(&when));
    fprintf(out, "### The %s law%s\n\n", f->law, date);
    fprintf(out, "%.0f points used (%.0f dense, %.0f dlcm); R^2 of log L = %.4f; %d bootstrap resamples.\n\n",
            json_number(data, "n_used"), json_number(data, "n_dense"), json_number(data, "n_dlcm"),
            json_number(validation, "r2_log"), f->fit.n_boot);
    fprintf(out, "| coefficient | value | 95%% interval | identified by the data? |\n|---|---|---|---|\n");
    /* The fit's own labels (fit/scope.h's rule, stored with each coefficient); a fit written before
     * they were stored is labelled here by the same rule, never by one of the report's own. */
    int recomputed = 0, n_unidentified = 0;
    char unidentified[256] = "";
    json_object_object_foreach(coefs, key, c)
    {
        json_object *fixed, *label;
        if (json_object_object_get_ex(c, "fixed", &fixed) && json_object_get_boolean(fixed)) {
            fprintf(out, "| %s | %.4g | fixed | - |\n", key, json_number(c, "value"));
            continue;
        }
        double v = json_number(c, "value"), lo = json_number(c, "lo"), hi = json_number(c, "hi");
        int j = coef_index(&f->fit.law, key), state = -1;
        if (json_object_object_get_ex(c, "identified", &label) && json_object_is_type(label, json_type_boolean)) {
            state = json_object_get_boolean(label);
        } else {
            if (j >= 0) state = scope_coefficient_identified(&f->fit.law, j, lo, hi);
            recomputed += state >= 0;
        }
        if (state == 0) {
            size_t used = strlen(unidentified);
            snprintf(unidentified + used, sizeof unidentified - used, "%s%s", used ? ", " : "", key);
            n_unidentified++;
        }
        int is_exponent = j >= 0 && law_coef_is_exponent(&f->fit.law, j);
        char bounds[80];
        fmt_bounds(bounds, sizeof bounds, lo, hi);
        fprintf(out, "| %s | %.4g | %s | %s |\n", key, v, bounds,
                state < 0   ? "unknown (no interval)"
                : state     ? "yes"
                : is_exponent ? "no: the interval is more than 0.5 wide"
                              : "no: the interval spans more than a factor of 10");
    }
    fprintf(out, "\n");
    json_object *ident_json = NULL;
    Identification ident;
    scope_identification_from_json(json_object_object_get_ex(root, "identification", &ident_json) ? ident_json : NULL,
                                   &ident);
    if (ident.known && !ident.identified)
        fprintf(out, "**The fit is not identified** (a coefficient's 95%% interval spans more than a factor of %g, an exponent's "
                     "is more than %g wide): %s. Missing variation: %s. Read the curves and recommendations below as "
                     "descriptions of this grid, not as laws that extrapolate.\n\n",
                SCOPE_MAX_SCALE_RATIO, SCOPE_MAX_EXPONENT_WIDTH, ident.coefficients,
                ident.missing[0] ? ident.missing : "(not named by the fit)");
    else if (ident.known)
        fprintf(out, "Identified: every coefficient's 95%% interval spans at most a factor of %g (an exponent's at "
                     "most %g).\n\n",
                SCOPE_MAX_SCALE_RATIO, SCOPE_MAX_EXPONENT_WIDTH);
    else if (n_unidentified)
        fprintf(out, "**The fit is not identified**: %s (labelled by the fitter's rule from the intervals; this fit predates the "
                     "stored identification, so the missing variable is not named: re-run dlcm-fit). Read the curves "
                     "and recommendations below as descriptions of this grid.\n\n",
                unidentified);
    else
        fprintf(out, "Identification: %s.\n\n", recomputed ? "every interval within the fitter's limits (an older "
                                                             "fit: labelled here by the fitter's rule)"
                                                           : "unknown (the fit has no bootstrap intervals)");
    if (derived) {
        fprintf(out, "Derived quantities (at the largest budget of the data, C = %.3g):\n\n"
                     "| quantity | value | 95%% interval | note |\n|---|---|---|---|\n",
                json_number(data, "budget_max"));
        json_object_object_foreach(derived, dkey, d)
        {
            if (!json_object_is_type(d, json_type_object)) continue; /* e.g. the budget itself */
            json_object *note;
            const char *note_text = json_object_object_get_ex(d, "note", &note) ? json_object_get_string(note) : "";
            char bounds[80];
            fmt_bounds(bounds, sizeof bounds, json_number(d, "lo"), json_number(d, "hi"));
            fprintf(out, "| %s | %.4g | %s | %s |\n", dkey, json_number(d, "value"), bounds, note_text);
        }
        fprintf(out, "\n");
    }
    json_object *held;
    if (validation && json_object_object_get_ex(validation, "leave_largest_budget_out", &held)) {
        json_object *avail;
        if (json_object_object_get_ex(held, "available", &avail) && json_object_get_boolean(avail)) {
            char bounds[80] = "";
            double lo = json_number(held, "mae_log_lo"), hi = json_number(held, "mae_log_hi");
            if (isfinite(lo) && isfinite(hi))
                snprintf(bounds, sizeof bounds, " [%.3f, %.3f] over resamples of the held-out points", lo, hi);
            fprintf(out, "Held-out check: refitted without the largest budget (%.0f points), the law predicts them with "
                         "a mean absolute error of %.3f%s in log L (RMSE %.3f, mean relative error %+.1f%%).\n\n",
                    json_number(held, "n_held_out"), json_number(held, "mae_log"), bounds, json_number(held, "rmse_log"),
                    100 * json_number(held, "mean_relative_error"));
        }
    }
}

void report_fit_section(FILE *out, const char *law, double created_at, const LoadedFit *fit)
{
    Fit f;
    memset(&f, 0, sizeof f);
    snprintf(f.law, sizeof f.law, "%s", law);
    f.created_at = created_at;
    f.fit = *fit; /* borrowed: not freed here */
    write_fit_section(out, &f);
}

/* Appends "; " and text to buf. */
static void add_clause(char *buf, size_t n, const char *text)
{
    size_t used = strlen(buf);
    snprintf(buf + used, n - used, "%s%s", used ? "; " : "", text);
}

/* Appends how far a recommended quantity lies outside the fit's trained range (fit/scope.h's
 * factor); nothing when inside or unknown. */
static void add_extrapolation(char *buf, size_t n, const char *name, double v, double lo, double hi)
{
    double k = scope_factor(v, lo, hi);
    if (isnan(k) || k <= 1.0) return;
    char text[160];
    if (isinf(k)) snprintf(text, sizeof text, "extrapolated: %s = %.3g where every fitted run has %.3g", name, v, v > hi ? hi : lo);
    else snprintf(text, sizeof text, "extrapolated: %s %.3gx %s fitted (%.3g)", name, k,
                  v > hi ? "beyond the largest" : "below the smallest", v > hi ? hi : lo);
    add_clause(buf, n, text);
}

/* Where an isoFLOP optimum stands: on the search's edge (a bound), how far N and D/N lie outside
 * the ranges the fit records for its runs (the fit's data.ranges; the line's own runs when the fit
 * predates them), and whether the fit itself is identified (its stored identification). */
static void describe_location(const LoadedFit *fit, const Line *line, const Optimum *o, char *buf, size_t n)
{
    buf[0] = '\0';
    if (o->at_edge) add_clause(buf, n, "no: at the edge of the range searched (a bound)");
    else if (o->edge_share > 0.05) {
        char text[96];
        snprintf(text, sizeof text, "partly: %.0f%% of resamples at an edge", 100 * o->edge_share);
        add_clause(buf, n, text);
    }
    json_object *data, *ranges_json;
    DataRanges ranges;
    scope_ranges_from_json(json_object_object_get_ex(fit->root, "data", &data) &&
                                   json_object_object_get_ex(data, "ranges", &ranges_json)
                               ? ranges_json
                               : NULL,
                           &ranges);
    const FamilyRange *r = &ranges.fam[line->dense ? FAM_DENSE : FAM_DLCM];
    size_t before = strlen(buf);
    if (isnan(r->lo[Q_N])) {
        add_extrapolation(buf, n, "N", o->N_opt, line->n_lo, line->n_hi);
    } else {
        add_extrapolation(buf, n, "N", o->N_opt, r->lo[Q_N], r->hi[Q_N]);
        add_extrapolation(buf, n, "D/N", o->D_opt / o->N_opt, r->lo[Q_D_OVER_N], r->hi[Q_D_OVER_N]);
    }
    if (!o->at_edge && o->edge_share <= 0.05 && strlen(buf) == before)
        add_clause(buf, n, isnan(r->lo[Q_N]) ? "yes, inside the runs' N range" : "yes, inside the fitted runs' N and D/N");
    if (fit_identified(fit) == 0) add_clause(buf, n, "the fit is not identified");
}

/* The best shape of each line at each budget: with one seed per shape, the best run (as a
 * single-seed sweep always read); with more, each shape's mean over its finished seeds. */
static void best_per_budget(FILE *out, const RunList *l, const Shapes *shapes, const Line *lines, int n_lines,
                            const double *budgets, int n_budgets)
{
    int seeded = shapes->max_k > 1;
    if (seeded) {
        fprintf(out, "\n## Best shape per budget\n\nRuns identical but for the seed are one shape: its loss is the mean "
                     "over its finished seeds (k, in brackets; a shape whose other seeds have not finished uses the "
                     "ones that have). ");
        if (shapes->noise.df > 0)
            fprintf(out, "Seed-to-seed sd of one run in this sweep: %.4f [%.4f, %.4f] (%d shapes, %d degrees of "
                         "freedom), so two means of k_a and k_b seeds differ beyond the noise at 95 %% only by more "
                         "than t x sd x sqrt(1/k_a + 1/k_b) (t = %.3f, Student's on those degrees of freedom; "
                         "%.4f for two means of %d seeds). It is pooled over the budgets, whose runs differ less "
                         "the more tokens they train on (`dlcm-report --study` uses each budget's own).\n\n",
                    shapes->noise.sd, shapes->noise.sd_lo, shapes->noise.sd_hi, shapes->noise.groups, shapes->noise.df,
                    gsl_cdf_tdist_Pinv(0.975, shapes->noise.df),
                    seed_difference_band(shapes->noise.sd, shapes->noise.df, shapes->max_k, shapes->max_k), shapes->max_k);
        else
            fprintf(out, "No shape has two finished seeds yet: the seed-to-seed noise is not measured.\n\n");
        fprintf(out, "| budget C | family | best shape (first run) | mean loss (seeds) | shapes | where in the N grid |\n"
                     "|---|---|---|---|---|---|\n");
    } else {
        fprintf(out, "\n## Best run per budget\n\nOne seed per configuration: differences below the seed-to-seed noise "
                     "(not measured by this sweep) are not evidence.\n\n"
                     "| budget C | family | best run | loss | runs | where in the N grid |\n|---|---|---|---|---|---|\n");
    }
    for (int b = 0; b < n_budgets; b++)
        for (int k = 0; k < n_lines; k++) {
            const ShapeMean *best = NULL;
            double n_min = INFINITY, n_max = 0;
            int count = 0;
            for (int i = 0; i < shapes->n; i++) {
                const ShapeMean *m = &shapes->s[i];
                if (m->k == 0) continue;
                const Run *r = &l->runs[m->first_done];
                if (!in_line(&lines[k], r) || !isoflop_same_budget(r->budget, budgets[b])) continue;
                count++;
                if (r->N < n_min) n_min = r->N;
                if (r->N > n_max) n_max = r->N;
                if (!best || m->mean < best->mean) best = m;
            }
            if (!best) continue;
            const Run *r = &l->runs[best->first_done];
            const char *where = count < 3 ? "too few sizes to locate a minimum"
                                : r->N == n_min ? "smallest N: the isoFLOP minimum lies below the grid"
                                : r->N == n_max ? "largest N: the isoFLOP minimum lies above the grid"
                                                : "inside the grid";
            if (seeded)
                fprintf(out, "| %.3g | %s | `%s` (N %.3g) | %.4f (%d) | %d | %s |\n", budgets[b], lines[k].label, r->id, r->N,
                        best->mean, best->k, count, where);
            else
                fprintf(out, "| %.3g | %s | `%s` (N %.3g) | %.4f | %d | %s |\n", budgets[b], lines[k].label, r->id, r->N,
                        best->mean, count, where);
        }
}

static int write_report(const char *path, const char *sweep, const char *db_path, sqlite3 *db, int64_t sweep_id,
                        const RunList *l, const Shapes *shapes, const FitList *fits, const Line *lines, int n_lines, const double *budgets,
                        int n_budgets, const Figures *figs)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%.4090s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fprintf(stderr, "dlcm-report: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    time_t now = time(NULL);
    char date[64], err[512];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    int done = 0, failed = 0, other = 0;
    for (int i = 0; i < l->n; i++) {
        if (is_done(&l->runs[i])) done++;
        else if (strcmp(l->runs[i].status, "failed") == 0) failed++;
        else other++;
    }
    fprintf(out, "# Sweep report: %s\n\n", sweep);
    fprintf(out, "Written by `dlcm-report` (%s) from `%s` on %s. %d runs: %d done, %d failed, %d other "
                 "(queued, running, diverged or cancelled).\n\n",
            cli_commit(), db_path, date, l->n, done, failed, other);

    fprintf(out, "## Where the runs come from\n\n| field | value | runs |\n|---|---|---|\n");
    if (study_provenance(db, sweep_id, provenance_row, out, err, sizeof err))
        fprintf(out, "| (error) | %s | |\n", err);
    fprintf(out, "\n");

    fprintf(out, "## Runs\n\n| id | family | N | P | R | budget C | tokens D | lr | seed | status | loss | "
                 "realized R (train/eval) | time |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < l->n; i++) {
        const Run *r = &l->runs[i];
        char loss[32] = "-", time_text[24] = "-", realized[48] = "-";
        if (isfinite(r->loss)) snprintf(loss, sizeof loss, "%.4f", r->loss);
        if (isfinite(r->seconds)) format_duration(r->seconds, time_text, sizeof time_text);
        if (isfinite(r->R_train)) snprintf(realized, sizeof realized, "%.2f / %.2f", r->R_train, r->R_eval);
        fprintf(out, "| `%s` | %s | %.3g | %.3f | %g | %.3g | %.3g | %.3g | %lld | %s | %s | %s | %s |\n", r->id,
                r->family, r->N, isfinite(r->P) ? r->P : 0.0, r->R, r->budget, r->D, r->lr, r->seed, r->status, loss,
                realized, time_text);
    }
    best_per_budget(out, l, shapes, lines, n_lines, budgets, n_budgets);
    fprintf(out, "\n## Fits\n\n");
    if (fits->n == 0)
        fprintf(out, "No fit is stored for this sweep. Run `dlcm-fit --db %s --sweep %s --law dlcm` (or "
                     "`--law chinchilla`) and write the report again.\n\n",
                db_path, sweep);
    for (int i = 0; i < fits->n; i++) write_fit_section(out, &fits->fits[i]);

    if (fits->n) {
        fprintf(out, "## Recommendations\n\nThe compute-optimal N along each budget's isoFLOP line, from the fitted law "
                     "(searched over the family's N range widened 2x each way), with the 2.5-97.5%% range of the "
                     "same optimum over the bootstrap resamples. An optimum at the end of the searched range is only "
                     "a bound: the data do not locate it. D_opt = C / (training FLOPs per token at N_opt), the "
                     "FLOPs per token interpolated between the family's runs; DLCM lines are drawn at the mean P "
                     "of their runs. The last column compares N_opt and D_opt/N_opt with the ranges the fit records for its "
                     "runs (x k beyond them) and repeats the fit's own identification.\n\n"
                     "| family | budget C | N_opt [95%%] | D_opt [95%%] | fitted loss | located? inside the data? |\n|---|---|---|---|---|---|\n");
        for (int k = 0; k < n_lines; k++) {
            const LoadedFit *fit = fit_for(fits, lines[k].dense);
            if (!fit) continue;
            for (int b = 0; b < n_budgets; b++) {
                Optimum o = optimum_of(fit, &lines[k], budgets[b]);
                char n_text[96], d_text[96], located[512];
                fmt_interval(n_text, sizeof n_text, o.N_opt, o.N_lo, o.N_hi);
                fmt_interval(d_text, sizeof d_text, o.D_opt, o.D_lo, o.D_hi);
                describe_location(fit, &lines[k], &o, located, sizeof located);
                fprintf(out, "| %s | %.3g | %s | %s | %.4f | %s |\n", lines[k].label, budgets[b], n_text, d_text, o.loss,
                        located);
            }
        }
        fprintf(out, "\n");
    }
    fprintf(out, "## Figures\n\n");
    for (int i = 0; i < figs->n; i++) fprintf(out, "### %s\n\n![%s](%s)\n\n", figs->captions[i], figs->captions[i], figs->files[i]);
    if (figs->failed) fprintf(out, "Some figures could not be drawn: %s\n", figs->err);
    int bad = fclose(out) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "dlcm-report: %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------------------------ */

int report_sweep(sqlite3 *db, const char *db_path, const char *sweep_name, const char *out_dir,
                 const char *const *fit_texts, const char *const *fit_names, int n_fit_texts)
{
    int rc = CLI_EXIT_BAD_INPUT;
    char err[1024], name[256];
    int64_t sweep_id = 0;
    RunList runs = {0};
    Shapes shapes = {0};
    static FitList fits;
    memset(&fits, 0, sizeof fits);
    if (sweep_name) {
        snprintf(name, sizeof name, "%s", sweep_name);
        if (sweeps_find(db, name, &sweep_id, err, sizeof err)) {
            char close[5][256];
            int n = study_suggest_sweeps(db, name, close, 5);
            fprintf(stderr, "dlcm-report: %s: %s%s%s\n", db_path, err, n ? "; did you mean " : "", n ? close[0] : "");
            goto out;
        }
    } else {
        SweepListing *all;
        int n;
        if (study_list_sweeps(db, &all, &n, err, sizeof err)) { fprintf(stderr, "dlcm-report: %s\n", err); goto out; }
        if (n != 1) {
            fprintf(stderr, "dlcm-report: %s holds %d sweeps: name one with --sweep (", db_path, n);
            for (int i = 0; i < n; i++) fprintf(stderr, "%s%s", i ? ", " : "", all[i].name);
            fprintf(stderr, ")\n");
            free(all);
            goto out;
        }
        snprintf(name, sizeof name, "%s", all[0].name);
        free(all);
        if (sweeps_find(db, name, &sweep_id, err, sizeof err)) { fprintf(stderr, "dlcm-report: %s\n", err); goto out; }
    }
    if (study_report_runs(db, sweep_id, collect_run, &runs, err, sizeof err)) {
        fprintf(stderr, "dlcm-report: %s\n", err);
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    for (int i = 0; i < n_fit_texts; i++) {
        int before = fits.n;
        collect_fit(&fits, "", 0, fit_texts[i]);
        if (fits.n == before) {
            fprintf(stderr, "dlcm-report: %s: %s\n", fit_names[i], fits.err);
            goto out;
        }
        snprintf(fits.fits[before].law, sizeof fits.fits[before].law, "%s", law_name(&fits.fits[before].fit.law));
    }
    if (n_fit_texts == 0) {
        char source[300];
        snprintf(source, sizeof source, "sweep:%s", name);
        if (study_latest_fits(db, source, collect_fit, &fits, err, sizeof err)) {
            fprintf(stderr, "dlcm-report: %s\n", err);
            rc = CLI_EXIT_FAILURE;
            goto out;
        }
    }
    char dir[PATH_MAX];
    if (out_dir) snprintf(dir, sizeof dir, "%s", out_dir);
    else {
        char base[PATH_MAX];
        snprintf(base, sizeof base, "%s", db_path);
        char *slash = strrchr(base, '/');
        if (slash) *slash = '\0';
        else snprintf(base, sizeof base, ".");
        char safe[256];
        safe_name(name, safe, sizeof safe);
        snprintf(dir, sizeof dir, "%.3000s/report-%s", base, safe);
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "dlcm-report: %s: %s\n", dir, strerror(errno));
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    double budgets[32];
    int n_budgets = distinct(&runs, NULL, field_budget, budgets, 32);
    if (shapes_build(&runs, &shapes)) {
        fprintf(stderr, "dlcm-report: out of memory averaging the runs' seeds\n");
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    Line lines[17];
    int n_lines = make_lines(&runs, lines, 17);
    char safe[256];
    safe_name(name, safe, sizeof safe);
    static Figures figs;
    memset(&figs, 0, sizeof figs);
    figs.dir = dir;
    figs.sweep = safe;
    for (int k = 0; k < n_lines; k++)
        plot_isoflops(&figs, &runs, &shapes, &lines[k], fit_for(&fits, lines[k].dense), budgets, n_budgets);
    if (fits.n) {
        plot_optima(&figs, lines, n_lines, &fits, budgets, n_budgets, 0);
        plot_optima(&figs, lines, n_lines, &fits, budgets, n_budgets, 1);
    }
    for (int b = 0; b < n_budgets; b++) plot_training_curves(&figs, db, &runs, budgets[b], b);
    if (fits.n) plot_residuals(&figs, &runs, &fits, lines, n_lines);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%.4000s/report.md", dir);
    if (write_report(path, name, db_path, db, sweep_id, &runs, &shapes, &fits, lines, n_lines, budgets, n_budgets, &figs)) {
        rc = CLI_EXIT_FAILURE;
        goto out;
    }
    printf("dlcm-report: %s (%d figures)\n", path, figs.n);
    if (figs.failed) fprintf(stderr, "dlcm-report: some figures failed: %s\n", figs.err);
    rc = figs.failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
out:
    for (int i = 0; i < fits.n; i++) isoflop_fit_free(&fits.fits[i].fit);
    free(runs.runs);
    free(shapes.s);
    return rc;
}
