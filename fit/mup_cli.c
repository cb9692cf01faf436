/* fit/mup_cli.c: dlcm-fit mup: options, reading the sweep through db/fitdata.h, and the table,
 * JSON, stored record and figures of fit/mup.h's analysis and verdict. */
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/fitdata.h"
#include "fit/mup.h"
#include "fit/output.h"
#include "fit/plot.h"

static int cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* ---- reading the sweep ------------------------------------------------------------------- */

/* The transfer runs (done or diverged, without module statistics) and the coordinate-check
 * rows. width_kind: "d_t", "d_c", or "auto" (d_t when it varies among the runs, else d_c). */
static int read_sweep(sqlite3 *db, const char *sweep, const char *coord_sweep, const char *width_kind, int use_train,
                      MupRun **runs, int *n_runs, MupCoordRow **rows, int *n_rows, char *err, int errlen)
{
    FitRunRow *all = NULL;
    FitModuleStat *stats = NULL;
    int n_all, n_stats;
    *runs = NULL;
    *rows = NULL;
    *n_runs = *n_rows = 0;
    if (fitdb_read_runs(db, sweep, &all, &n_all, err, errlen)) return -1;
    if (fitdb_read_module_stats(db, coord_sweep, &stats, &n_stats, err, errlen)) { free(all); return -1; }
    *runs = malloc((size_t)(n_all ? n_all : 1) * sizeof **runs);
    *rows = malloc((size_t)(n_stats ? n_stats : 1) * sizeof **rows);
    if (!*runs || !*rows) { snprintf(err, errlen, "out of memory"); goto fail; }
    int dt_first = -1, dt_varies = 0;
    for (int i = 0; i < n_all; i++) {
        const FitRunRow *r = &all[i];
        if (r->has_module_stats) continue;
        if (strcmp(r->parametrization, "mup") && strcmp(r->parametrization, "sp")) {
            snprintf(err, errlen, "run %s: parametrization must be mup or sp (got \"%s\")", r->id, r->parametrization);
            goto fail;
        }
        if (!(r->lr > 0)) { snprintf(err, errlen, "run %s: lr must be positive", r->id); goto fail; }
        if (dt_first < 0) dt_first = r->d_t;
        else if (r->d_t != dt_first) dt_varies = 1;
    }
    int use_dc = !strcmp(width_kind, "d_c") || (!strcmp(width_kind, "auto") && !dt_varies);
    for (int i = 0; i < n_all; i++) {
        const FitRunRow *r = &all[i];
        if (r->has_module_stats) continue;
        MupRun *m = &(*runs)[(*n_runs)++];
        snprintf(m->param, sizeof m->param, "%s", r->parametrization);
        m->width = use_dc ? r->d_c : r->d_t;
        m->lr = r->lr;
        double loss = use_train ? r->train_loss : r->val_loss;
        double initial = isnan(r->initial_loss) ? INFINITY : r->initial_loss;
        /* Spec §5: diverged runs (status, NaN, or above the initial loss) are +inf, not errors. */
        m->loss = !strcmp(r->status, "diverged") || !isfinite(loss) || loss > initial ? INFINITY : loss;
    }
    /* The coordinate check's width axis, decided by its own runs. */
    int cdt_first = -1, cdt_varies = 0;
    for (int i = 0; i < n_stats; i++) {
        if (cdt_first < 0) cdt_first = stats[i].d_t;
        else if (stats[i].d_t != cdt_first) cdt_varies = 1;
    }
    int coord_dc = !strcmp(width_kind, "d_c") || (!strcmp(width_kind, "auto") && !cdt_varies);
    for (int i = 0; i < n_stats; i++) {
        MupCoordRow *c = &(*rows)[(*n_rows)++];
        snprintf(c->param, sizeof c->param, "%s", stats[i].parametrization);
        c->width = coord_dc ? stats[i].d_c : stats[i].d_t;
        c->step = stats[i].step;
        snprintf(c->module, sizeof c->module, "%s", stats[i].module);
        c->mean_abs = stats[i].mean_abs;
    }
    free(all);
    free(stats);
    return 0;
fail:
    free(all);
    free(stats);
    free(*runs);
    free(*rows);
    *runs = NULL;
    *rows = NULL;
    *n_runs = *n_rows = 0;
    return -1;
}

/* ---- output -------------------------------------------------------------------------------- */

static void print_transfer(const MupTransfer *t, int have)
{
    if (!have) return;
    printf("\n%s: optimal log2 LR per width (quadratic through the best grid point and its neighbours)\n", t->param);
    printf("  %8s %12s %8s %12s %12s\n", "width", "log2 LR*", "edge", "best loss", "regret");
    for (int k = 0; k < t->n_widths; k++) {
        const MupWidth *w = &t->w[k];
        printf("  %8d %12.3f %8s %12.5g %12.5g\n", w->width, w->log2_lr_star, w->edge < 0 ? "LOW EDGE" : w->edge > 0 ? "HIGH EDGE" : "",
               w->best_loss, w->regret);
    }
}

static json_object *transfer_json(const MupTransfer *t)
{
    json_object *o = json_object_new_object(), *ws = json_object_new_array();
    json_object_object_add(o, "slope", json_object_new_double(t->slope));
    json_object_object_add(o, "slope_lo", isfinite(t->slope_lo) ? json_object_new_double(t->slope_lo) : NULL);
    json_object_object_add(o, "slope_hi", isfinite(t->slope_hi) ? json_object_new_double(t->slope_hi) : NULL);
    json_object *ti = json_object_new_array(), *bi = json_object_new_array();
    json_object_array_add(ti, isfinite(t->t_lo) ? json_object_new_double(t->t_lo) : NULL);
    json_object_array_add(ti, isfinite(t->t_hi) ? json_object_new_double(t->t_hi) : NULL);
    json_object_array_add(bi, isfinite(t->boot_lo) ? json_object_new_double(t->boot_lo) : NULL);
    json_object_array_add(bi, isfinite(t->boot_hi) ? json_object_new_double(t->boot_hi) : NULL);
    json_object_object_add(o, "slope_t_interval", ti);
    json_object_object_add(o, "slope_seed_bootstrap_interval", bi);
    json_object_object_add(o, "min_seeds_per_cell", json_object_new_int(t->min_seeds));
    json_object_object_add(o, "grid_step_log2", json_object_new_double(t->grid_step));
    json_object_object_add(o, "max_drift_steps", json_object_new_double(t->max_drift_steps));
    for (int k = 0; k < t->n_widths; k++) {
        const MupWidth *w = &t->w[k];
        json_object *x = json_object_new_object();
        json_object_object_add(x, "width", json_object_new_int(w->width));
        json_object_object_add(x, "log2_lr_star", json_object_new_double(w->log2_lr_star));
        json_object_object_add(x, "edge", json_object_new_string(w->edge < 0 ? "low" : w->edge > 0 ? "high" : "none"));
        json_object_object_add(x, "best_loss", json_object_new_double(w->best_loss));
        json_object_object_add(x, "regret", isfinite(w->regret) ? json_object_new_double(w->regret) : NULL);
        json_object_array_add(ws, x);
    }
    json_object_object_add(o, "widths", ws);
    return o;
}

static int plot_transfer(const char *dir, const char *prefix, const char *sweep, const MupTransfer *t, char *err, int errlen)
{
    Plot p;
    char name[300], title[600];
    snprintf(name, sizeof name, "%.200s-%.7s-loss-vs-lr", prefix, t->param);
    snprintf(title, sizeof title, "sweep %.300s, %.7s: loss vs learning rate per width (open circles: LR* from the quadratic)",
             sweep, t->param);
    if (plot_begin(&p, dir, name, title, "log2 LR", "loss (diverged runs not drawn)", 0, 0, err, errlen)) return -1;
    char cmd[16384] = "";
    size_t used = 0;
    for (int k = 0; k < t->n_widths; k++) {
        const MupWidth *w = &t->w[k];
        int b, m;
        FILE *f = plot_block(&p, &b);
        for (int j = 0; j < w->n_lr; j++) {
            if (isfinite(w->loss[j])) fprintf(f, "%.6f %.9g\n", w->log2_lr[j], w->loss[j]);
            else fprintf(f, "%.6f nan\n", w->log2_lr[j]); /* diverged: a gap in the line */
        }
        fclose(f);
        FILE *g = plot_block(&p, &m);
        fprintf(g, "%.6f %.9g\n", w->log2_lr_star, w->best_loss);
        fclose(g);
        char path_b[600], path_m[600];
        plot_block_path(&p, b, path_b, sizeof path_b);
        plot_block_path(&p, m, path_m, sizeof path_m);
        used += snprintf(cmd + used, sizeof cmd - used,
                         "%s'%s' using 1:2 with linespoints lc %d pt 7 title 'width %d', '%s' using 1:2 with points lc %d pt 6 ps 2.5 notitle",
                         k ? ", " : "plot ", path_b, k + 1, w->width, path_m, k + 1);
        if (used >= sizeof cmd) break;
    }
    plot_command(&p, cmd);
    return plot_finish(&p, err, errlen);
}

/* mean |x| vs width, one line per step (geometric mean over modules), per parametrization. */
static int plot_coord(const char *dir, const char *prefix, const char *sweep, const char *param, const MupCoordRow *rows,
                      int n, char *err, int errlen)
{
    int steps[256], n_steps = 0, widths[MUP_MAX_WIDTHS], n_w = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].param, param)) continue;
        int seen = 0;
        for (int j = 0; j < n_steps; j++) seen |= steps[j] == rows[i].step;
        if (!seen && n_steps < 256) steps[n_steps++] = rows[i].step;
        seen = 0;
        for (int j = 0; j < n_w; j++) seen |= widths[j] == rows[i].width;
        if (!seen && n_w < MUP_MAX_WIDTHS) widths[n_w++] = rows[i].width;
    }
    if (n_steps == 0 || n_w < 2) return 0;
    qsort(steps, n_steps, sizeof *steps, cmp_int);
    qsort(widths, n_w, sizeof *widths, cmp_int);
    Plot p;
    char name[300], title[600];
    snprintf(name, sizeof name, "%.200s-%.7s-coord-check", prefix, param);
    snprintf(title, sizeof title, "sweep %.300s, %.7s coordinate check: mean |x| vs width per step (geometric mean over modules)",
             sweep, param);
    if (plot_begin(&p, dir, name, title, "width", "mean |x|", 1, 1, err, errlen)) return -1;
    plot_script(&p, "set format x '%g'\n");
    char cmd[16384] = "";
    size_t used = 0;
    for (int s = 0; s < n_steps; s++) {
        int b;
        FILE *f = plot_block(&p, &b);
        for (int k = 0; k < n_w; k++) {
            double sum = 0;
            int count = 0;
            for (int i = 0; i < n; i++)
                if (!strcmp(rows[i].param, param) && rows[i].step == steps[s] && rows[i].width == widths[k] && rows[i].mean_abs > 0) {
                    sum += log(rows[i].mean_abs);
                    count++;
                }
            if (count) fprintf(f, "%d %.9g\n", widths[k], exp(sum / count));
        }
        fclose(f);
        char path[600];
        plot_block_path(&p, b, path, sizeof path);
        used += snprintf(cmd + used, sizeof cmd - used, "%s'%s' using 1:2 with linespoints title 'step %d'", s ? ", " : "plot ", path, steps[s]);
        if (used >= sizeof cmd) break;
    }
    plot_command(&p, cmd);
    return plot_finish(&p, err, errlen);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dlcm-fit mup --db FILE --sweep NAME [options]\n"
               "muP transfer validation (spec scaling-laws.md §5): per width the optimal log2 LR, the slope of\n"
               "log2 LR* against log2 width with its 95%% interval, max drift, transfer regret, mup and sp side by\n"
               "side, and the coordinate check's slopes of mean |x| against width (module_stats).\n"
               "\n"
               "Verdict, three-valued, with its reasons (the rule is in fit/README.md):\n"
               "  INCONCLUSIVE  a width's optimum on the LR grid's edge (the LRs to add are named), a slope\n"
               "                interval that cannot be computed, or an sp control that does not fail (its\n"
               "                slope interval includes 0): the sweep cannot discriminate\n"
               "  FAIL          the mup slope's 95%% interval wholly outside +-0.1 (or drift > 2 grid steps),\n"
               "                or the mup coordinate check outside +-0.1\n"
               "  PASS          mup slope within +-0.1, its interval within +-0.15, drift <= 1 grid step, and the\n"
               "                mup coordinate check (where there is one) within +-0.1\n"
               "exit status: 0 PASS, 3 FAIL, 4 INCONCLUSIVE, 1 runtime error, 2 bad input\n"
               "\n"
               "  --coord-sweep NAME  sweep of the coordinate-check runs (default: the runs of --sweep with module_stats)\n"
               "  --width d_t|d_c|auto  the width axis (auto: d_t when it varies, else d_c)\n"
               "  --loss val|train    final loss used (default val)\n"
               "  --json OUT          write the result as JSON;  --store DB | --no-store (default: store in --db)\n"
               "  --plots DIR         figures (default: beside the database);  --plot-prefix NAME (default mup-<sweep>);\n"
               "                      --no-plots\n");
}

typedef struct {
    const char *db_path, *sweep, *coord_sweep, *width_kind, *json_path, *store, *plots_dir, *prefix;
    int use_train, no_plots;
} MupOptions;

/* 0, 1 (--help printed) or 2 (bad input). */
static int parse_options(int argc, char **argv, MupOptions *o)
{
    memset(o, 0, sizeof *o);
    o->width_kind = "auto";
    const char *loss = "val";
    int no_store = 0;
    static const struct option opts[] = {
        {"db", 1, 0, 'd'}, {"sweep", 1, 0, 's'}, {"coord-sweep", 1, 0, 'c'}, {"width", 1, 0, 'w'}, {"loss", 1, 0, 'l'},
        {"json", 1, 0, 'j'}, {"store", 1, 0, 't'}, {"no-store", 0, 0, 'n'}, {"plots", 1, 0, 'p'},
        {"plot-prefix", 1, 0, 'x'}, {"no-plots", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->db_path = optarg; break;
        case 's': o->sweep = optarg; break;
        case 'c': o->coord_sweep = optarg; break;
        case 'w': o->width_kind = optarg; break;
        case 'l': loss = optarg; break;
        case 'j': o->json_path = optarg; break;
        case 't': o->store = optarg; break;
        case 'n': no_store = 1; break;
        case 'p': o->plots_dir = optarg; break;
        case 'x': o->prefix = optarg; break;
        case 'q': o->no_plots = 1; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || !o->db_path || !o->sweep ||
        (strcmp(o->width_kind, "d_t") && strcmp(o->width_kind, "d_c") && strcmp(o->width_kind, "auto")) ||
        (strcmp(loss, "val") && strcmp(loss, "train"))) {
        usage(stderr);
        return 2;
    }
    o->use_train = !strcmp(loss, "train");
    if (!o->store) o->store = o->db_path;
    if (no_store) o->store = NULL;
    if (!o->coord_sweep) o->coord_sweep = o->sweep;
    return 0;
}

static json_object *verdict_json(const MupVerdict *v)
{
    json_object *o = json_object_new_object(), *reasons = json_object_new_array();
    json_object_object_add(o, "verdict", json_object_new_string(mup_verdict_name(v->kind)));
    for (int i = 0; i < v->n_reasons; i++) json_object_array_add(reasons, json_object_new_string(v->reasons[i]));
    json_object_object_add(o, "reasons", reasons);
    return o;
}

static int mup_run(const MupOptions *o)
{
    char err[1024], source[600], default_prefix[300], dir[1024];
    snprintf(source, sizeof source, "sweep:%s", o->sweep);
    snprintf(default_prefix, sizeof default_prefix, "mup-%s", o->sweep);
    const char *prefix = o->prefix ? o->prefix : default_prefix;
    if (o->plots_dir) snprintf(dir, sizeof dir, "%s", o->plots_dir);
    else output_dir_of(o->db_path, dir, sizeof dir);
    sqlite3 *db = output_open_existing_db(o->db_path, err, sizeof err);
    if (!db) { fprintf(stderr, "dlcm-fit mup: %s\n", err); return 1; }
    int exists;
    if (fitdb_sweep_exists(db, o->sweep, &exists, err, sizeof err)) {
        fprintf(stderr, "dlcm-fit mup: %s: %s\n", o->db_path, err);
        db_close(db);
        return 1;
    }
    if (!exists) { fprintf(stderr, "dlcm-fit mup: %s: no sweep named \"%s\"\n", o->db_path, o->sweep); db_close(db); return 2; }
    MupRun *runs = NULL;
    MupCoordRow *rows = NULL;
    int n_runs = 0, n_rows = 0;
    int rc = read_sweep(db, o->sweep, o->coord_sweep, o->width_kind, o->use_train, &runs, &n_runs, &rows, &n_rows, err, sizeof err);
    db_close(db);
    if (rc) { fprintf(stderr, "dlcm-fit mup: %s: %s\n", o->db_path, err); return 2; }
    if (n_runs == 0 && n_rows == 0) {
        fprintf(stderr, "dlcm-fit mup: sweep \"%s\" has no finished or diverged runs and no coordinate-check data\n", o->sweep);
        free(runs); free(rows);
        return 2;
    }
    MupTransfer t[2];
    int have[2] = {0, 0};
    const char *params[2] = {"mup", "sp"};
    for (int k = 0; k < 2; k++) {
        int any = 0;
        for (int i = 0; i < n_runs; i++) any |= !strcmp(runs[i].param, params[k]);
        if (!any) continue;
        if (mup_transfer(runs, n_runs, params[k], &t[k], err, sizeof err)) {
            fprintf(stderr, "dlcm-fit mup: %s\n", err);
            free(runs); free(rows);
            return 2;
        }
        have[k] = 1;
    }
    MupCoordSlope *slopes = NULL;
    int n_slopes = mup_coord_slopes(rows, n_rows, &slopes);
    if (n_slopes < 0) { fprintf(stderr, "dlcm-fit mup: out of memory\n"); free(runs); free(rows); return 1; }

    printf("\nmuP transfer of %s: %d runs (diverged count as +inf)\n", source, n_runs);
    print_transfer(&t[0], have[0]);
    print_transfer(&t[1], have[1]);
    printf("\n  %-28s %18s %18s\n", "", "mup", "sp");
    const char *labels[] = {"slope log2 LR* / log2 width", "  95% lo (wider of t, boot)", "  95% hi",
                            "  t interval over widths", "  seed bootstrap interval", "max drift (grid steps)",
                            "grid step (log2)"};
    for (int q = 0; q < 7; q++) {
        char cell[2][64];
        for (int k = 0; k < 2; k++) {
            const MupTransfer *x = &t[k];
            if (!have[k]) snprintf(cell[k], sizeof cell[k], "-");
            else if (q == 3) snprintf(cell[k], sizeof cell[k], "[%.3f, %.3f]", x->t_lo, x->t_hi);
            else if (q == 4) snprintf(cell[k], sizeof cell[k], "[%.3f, %.3f]", x->boot_lo, x->boot_hi);
            else {
                double v = q == 0 ? x->slope : q == 1 ? x->slope_lo : q == 2 ? x->slope_hi : q == 5 ? x->max_drift_steps : x->grid_step;
                snprintf(cell[k], sizeof cell[k], q >= 5 ? "%.2f" : "%.3f", v);
            }
        }
        printf("  %-28s %18s %18s\n", labels[q], cell[0], cell[1]);
    }
    MupCoordSummary coord = {{0, 0}, {0, 0}};
    for (int i = 0; i < n_slopes; i++) {
        int k = strcmp(slopes[i].param, "mup") ? 1 : 0;
        coord.have[k] = 1;
        coord.worst[k] = fmax(coord.worst[k], fabs(slopes[i].slope));
    }
    if (n_slopes) {
        printf("\ncoordinate check (%s): slopes of log mean|x| vs log width, steps >= 3\n", o->coord_sweep);
        char a[64] = "-", b[64] = "-";
        if (coord.have[0]) snprintf(a, sizeof a, "%.3f", coord.worst[0]);
        if (coord.have[1]) snprintf(b, sizeof b, "%.3f", coord.worst[1]);
        printf("  %-28s %18s %18s\n", "worst |slope|", a, b);
    }
    MupVerdict verdict;
    mup_verdict(have[0] ? &t[0] : NULL, have[1] ? &t[1] : NULL, &coord, &verdict);
    printf("\nverdict: %s\n", mup_verdict_name(verdict.kind));
    for (int i = 0; i < verdict.n_reasons; i++) printf("  - %s\n", verdict.reasons[i]);

    json_object *root = json_object_new_object();
    json_object_object_add(root, "law", json_object_new_string("mup"));
    json_object_object_add(root, "source", json_object_new_string(source));
    json_object_object_add(root, "label", json_object_new_string(o->coord_sweep == o->sweep ? "mup" : o->coord_sweep));
    json_object_object_add(root, "width_axis", json_object_new_string(o->width_kind));
    for (int k = 0; k < 2; k++)
        if (have[k]) json_object_object_add(root, params[k], transfer_json(&t[k]));
    json_object *cj = json_object_new_array();
    for (int i = 0; i < n_slopes; i++) {
        json_object *x = json_object_new_object();
        json_object_object_add(x, "param", json_object_new_string(slopes[i].param));
        json_object_object_add(x, "module", json_object_new_string(slopes[i].module));
        json_object_object_add(x, "step", json_object_new_int(slopes[i].step));
        json_object_object_add(x, "slope", json_object_new_double(slopes[i].slope));
        json_object_array_add(cj, x);
    }
    json_object_object_add(root, "coordinate_check", cj);
    json_object_object_add(root, "verdict", json_object_new_string(mup_verdict_name(verdict.kind)));
    json_object_object_add(root, "verdict_reasons", verdict_json(&verdict));
    json_object_object_add(root, "rule", json_object_new_string(
        "INCONCLUSIVE: an optimum on the LR grid's edge, a slope interval that cannot be computed, or an sp control "
        "that does not fail (slope interval includes 0, or its coordinate check within +-0.1). Else FAIL: mup slope "
        "interval wholly outside +-0.1, drift > 2 grid steps, or mup coordinate check outside +-0.1. Else PASS: mup "
        "|slope| <= 0.1, interval within +-0.15, drift <= 1 step, coordinate check within +-0.1. Else INCONCLUSIVE."));
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    FitRecord rec = {source, "mup", json_object_get_string(json_object_object_get(root, "label")), 1, n_runs, NAN, NAN, text};
    long long id;
    int replaced;
    rc = mup_verdict_exit(verdict.kind);
    if (o->json_path || o->store) {
        if (output_commit(o->json_path, o->store, &rec, &id, &replaced, err, sizeof err)) {
            fprintf(stderr, "dlcm-fit mup: %s\n", err);
            rc = 1;
        } else {
            if (o->json_path) printf("  json: %s\n", o->json_path);
            if (o->store) printf("  stored: fit %lld in %s%s\n", id, o->store, replaced ? " (replacing the earlier one)" : "");
        }
    }
    if (rc != 1 && !o->no_plots) {
        for (int k = 0; k < 2 && rc != 1; k++) {
            if (have[k] && plot_transfer(dir, prefix, o->sweep, &t[k], err, sizeof err)) {
                fprintf(stderr, "dlcm-fit mup: plots: %s\n", err);
                rc = 1;
            }
            if (rc != 1 && coord.have[k] && plot_coord(dir, prefix, o->coord_sweep, params[k], rows, n_rows, err, sizeof err)) {
                fprintf(stderr, "dlcm-fit mup: plots: %s\n", err);
                rc = 1;
            }
        }
    }
    json_object_put(root);
    free(slopes);
    free(runs);
    free(rows);
    return rc;
}

int mup_main(int argc, char **argv)
{
    MupOptions o;
    int rc = parse_options(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : 2;
    return mup_run(&o);
}
