/* report/study.c: dlcm-report --study (see study.h): the study's sweeps and fits gathered, every
 * table of its README computed through the fit library (law fits, bootstrap, identification,
 * query, μP verdict) and the study's own measurements (held-out tasks, tokens per concept per
 * domain, loss by position within a concept, device sessions), and the paper's claims beside
 * ours with verdicts computed from the intervals. */
#include "report/study.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <gsl/gsl_cdf.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "db/db.h"
#include "db/heldout.h"
#include "db/study.h"
#include "db/study_report.h"
#include "fit/allocate.h"
#include "fit/estimator.h"
#include "fit/isoflop_profile.h"
#include "fit/law_fit.h"
#include "fit/law_plots.h"
#include "fit/mup.h"
#include "fit/plot.h"
#include "fit/query.h"
#include "fit/summary.h"
#include "report/domain_ratio.h"
#include "report/isoflop.h"
#include "report/paired.h"
#include "report/seed_noise.h"
#include "report/study_tables.h"
#include "report/sweep_report.h"
#include "report/wall_time.h"

StudyReportOptions study_report_defaults(void)
{
    StudyReportOptions o = {NULL, NULL, NULL, 200, 0};
    return o;
}

/* ---- the runs ------------------------------------------------------------------------------ */

typedef struct {
    char id[72], sweep[256], status[16], family[8], param[8], parser[32], host[128], gpu[128];
    double N, P, R, budget, D, lr, loss, train_loss, R_train, R_eval, fwd_fpt, train_flops, flops_launched;
    double started, finished;
    long long d_t, d_c, seed, tokens_done, seq_len;
} SRun;

typedef struct {
    SRun *r;
    int n, cap;
} SRuns;

static void collect(void *ctx, const StudyRun *s)
{
    SRuns *l = ctx;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        SRun *grown = realloc(l->r, (size_t)cap * sizeof *grown);
        if (!grown) { /* a report on some of the runs would read as one on all of them */
            fprintf(stderr, "dlcm-report: out of memory reading the runs\n");
            exit(1);
        }
        l->r = grown;
        l->cap = cap;
    }
    SRun *o = &l->r[l->n++];
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", s->id ? s->id : "");
    snprintf(o->sweep, sizeof o->sweep, "%s", s->sweep ? s->sweep : "");
    snprintf(o->status, sizeof o->status, "%s", s->status ? s->status : "");
    snprintf(o->family, sizeof o->family, "%s", s->family ? s->family : "");
    snprintf(o->param, sizeof o->param, "%s", s->parametrization ? s->parametrization : "");
    snprintf(o->host, sizeof o->host, "%s", s->host ? s->host : "");
    snprintf(o->gpu, sizeof o->gpu, "%s", s->gpu_model ? s->gpu_model : "");
    seed_config_parser(s->config, o->parser, sizeof o->parser);
    o->N = s->N; o->P = s->P; o->R = isfinite(s->R_target) ? s->R_target : 1; o->budget = s->budget; o->D = s->D;
    o->lr = s->lr; o->loss = isfinite(s->loss) ? s->loss : s->train_loss; o->train_loss = s->train_loss;
    o->R_train = s->R_train; o->R_eval = s->R_eval; o->fwd_fpt = s->fwd_flops_per_token;
    o->train_flops = s->train_flops; o->flops_launched = s->flops_launched;
    o->started = s->started_at; o->finished = s->finished_at;
    o->d_t = s->d_t; o->d_c = s->d_c; o->seed = s->seed; o->tokens_done = s->tokens_done; o->seq_len = s->seq_len;
}

static int run_done(const SRun *r) { return strcmp(r->status, "done") == 0 && isfinite(r->loss); }
static int is_dense(const SRun *r) { return strcmp(r->family, "dense") == 0; }
static int same(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)); }

/* What a run is apart from its seed (report/seed_noise.h: the one rule of seed replicates). */
static ShapeKey shape_key(const SRun *r)
{
    ShapeKey k = {r->sweep, r->family, r->param, r->parser, r->d_t, r->d_c, r->N, r->P, r->R, r->lr, r->budget, r->D};
    return k;
}

/* One shape of the isoFLOP sweep: its finished seeds averaged. */
typedef struct {
    const SRun *run;         /* its first finished run: N, R, budget, tokens, FLOPs, id */
    double loss;             /* mean loss over its k finished seeds */
    int k, runs;             /* finished seeds, and runs planned (k < runs: some not finished) */
} SShape;

typedef struct {
    SShape *s;
    int n;
    int max_k;               /* the most seeds of a shape (1: one seed per point, as a single-seed sweep) */
    int partial;             /* shapes with fewer finished seeds than runs */
} SShapes;

/* The shapes of a sweep's runs that have at least one finished seed, in the order of their first
 * runs. 0, or -1 out of memory. */
static int shapes_of(const SRuns *l, SShapes *out)
{
    memset(out, 0, sizeof *out);
    int n = l->n;
    ShapeKey *keys = malloc((size_t)(n ? n : 1) * sizeof *keys);
    double *loss = malloc((size_t)(n ? n : 1) * sizeof *loss);
    ShapeMean *means = malloc((size_t)(n ? n : 1) * sizeof *means);
    out->s = malloc((size_t)(n ? n : 1) * sizeof *out->s);
    if (!keys || !loss || !means || !out->s) {
        free(keys);
        free(loss);
        free(means);
        free(out->s);
        out->s = NULL;
        return -1;
    }
    for (int i = 0; i < n; i++) {
        keys[i] = shape_key(&l->r[i]);
        loss[i] = run_done(&l->r[i]) ? l->r[i].loss : NAN;
    }
    int shapes = seed_shape_means(keys, loss, n, means);
    for (int i = 0; i < shapes; i++) {
        const ShapeMean *m = &means[i];
        if (m->k == 0) continue;
        out->s[out->n++] = (SShape){&l->r[m->first_done], m->mean, m->k, m->runs};
        if (m->k > out->max_k) out->max_k = m->k;
        out->partial += m->k < m->runs;
    }
    free(keys);
    free(loss);
    free(means);
    return 0;
}

/* Shapes with at least two finished seeds (each a group of the seed noise). */
static int seeded_shapes(const SShapes *l)
{
    int n = 0;
    for (int i = 0; i < l->n; i++) n += l->s[i].k > 1;
    return n;
}

/* The shape of least mean loss of a family at a budget (and R for dlcm when R > 0); NULL if none. */
static const SShape *best_shape(const SShapes *l, int dense, double budget, double R)
{
    const SShape *best = NULL;
    for (int i = 0; i < l->n; i++) {
        const SShape *s = &l->s[i];
        if (is_dense(s->run) != dense || !isoflop_same_budget(s->run->budget, budget)) continue;
        if (!dense && R > 0 && !same(s->run->R, R)) continue;
        if (!best || s->loss < best->loss) best = s;
    }
    return best;
}


/* Distinct sorted values of a field over done runs (dense: 1 dense only, 0 dlcm only, -1 both). */
static int distinct_values(const SRuns *l, int dense, int which, double *out, int max)
{
    int n = 0;
    for (int i = 0; i < l->n; i++) {
        const SRun *r = &l->r[i];
        if (!run_done(r) || (dense >= 0 && is_dense(r) != dense)) continue;
        double v = which == 0 ? r->budget : r->R;
        if (!isfinite(v)) continue;
        int seen = 0;
        for (int j = 0; j < n; j++) seen |= which == 0 ? isoflop_same_budget(out[j], v) : same(out[j], v);
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

/* ---- the study ----------------------------------------------------------------------------- */

/* One μP transfer sweep with its coordinate-check sweep and width axis. */
typedef struct {
    char sweep[256], coord[256], base[256];
    const char *width;
    SRuns runs;
    json_object *json;   /* dlcm-fit mup's JSON, or NULL */
    char missing[512];
} MupPart;

#define MAX_CLAIMS 24
typedef struct {
    char paper[200], ours[400];
    ClaimVerdict verdict;
} Claim;

typedef struct {
    sqlite3 *db;
    const StudyReportOptions *o;
    char names[3][256];  /* stored names of the isoflop, mup and parser sweeps ("" when absent) */
    SRuns runs[3], all;
    LawSummary law[2];   /* 0 dlcm, 1 chinchilla */
    LoadedFit loaded[2];
    int have_law[2];
    char law_origin[2][256], law_missing[2][512];
    MupPart mups[3];     /* the μP sweeps found: NAME-mup, NAME-mup-dt, NAME-mup-dc */
    int n_mups;
    Claim claims[MAX_CLAIMS];
    int n_claims;
    char missing[4096];
    double budgets[32];
    int n_budgets;
    SShapes shapes;      /* the isoFLOP sweep's shapes, seeds averaged */
    SeedNoise noise;     /* seed noise pooled over the isoFLOP and parser runs (study_seed_noise) */
    SeedNoise budget_noise[32]; /* per budget: its own when budget_noise_own, else the pooled one */
    int budget_noise_own[32];
} Study;

enum { SW_ISOFLOP = 0, SW_MUP = 1, SW_PARSER = 2 };
static const char *const sweep_suffix[3] = {"isoflop", "mup", "parser"};

static void add_missing(Study *st, const char *fmt, const char *what)
{
    size_t used = strlen(st->missing);
    snprintf(st->missing + used, sizeof st->missing - used, "- ");
    used = strlen(st->missing);
    snprintf(st->missing + used, sizeof st->missing - used, fmt, what);
    used = strlen(st->missing);
    snprintf(st->missing + used, sizeof st->missing - used, "\n");
}

static void add_claim(Study *st, const char *paper, const char *ours, ClaimVerdict v)
{
    if (st->n_claims == MAX_CLAIMS) return;
    Claim *c = &st->claims[st->n_claims++];
    snprintf(c->paper, sizeof c->paper, "%s", paper);
    snprintf(c->ours, sizeof c->ours, "%s", ours);
    c->verdict = v;
}

static double jnum(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !v) return NAN;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) return NAN;
    return json_object_get_double(v);
}

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, key, &v)) return NULL;
    return v;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* "v [lo, hi]" with an end that is not finite written as such. */
static void fmt_ci(char *buf, size_t n, const char *fmt, double v, double lo, double hi)
{
    char a[48], b[48], c[48];
    if (isnan(v)) {
        snprintf(buf, n, "-");
        return;
    }
    snprintf(a, sizeof a, fmt, v);
    if (isnan(lo)) snprintf(b, sizeof b, "?");
    else if (isinf(lo)) snprintf(b, sizeof b, "%sinf", lo < 0 ? "-" : "");
    else snprintf(b, sizeof b, fmt, lo);
    if (isnan(hi)) snprintf(c, sizeof c, "?");
    else if (isinf(hi)) snprintf(c, sizeof c, "%sinf", hi < 0 ? "-" : "");
    else snprintf(c, sizeof c, fmt, hi);
    if (isnan(lo) && isnan(hi)) snprintf(buf, n, "%s (no interval)", a);
    else {
        size_t used = (size_t)snprintf(buf, n, "%s", a);
        if (used < n) snprintf(buf + used, n - used, " [%s, ", b);
        used = strlen(buf);
        if (used < n) snprintf(buf + used, n - used, "%s]", c);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
    }
    if (text) text[size] = '\0';
    fclose(f);
    return text;
}

static int spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int bad = fputs(text, f) < 0;
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* ---- gathering ----------------------------------------------------------------------------- */

typedef struct {
    const char *law;
    char *json;
    double created_at;
} StoredFit;

static void stored_fit(void *ctx, const char *law, double created_at, const char *json)
{
    StoredFit *f = ctx;
    if (strcmp(law, f->law) || f->json) return;
    f->json = strdup(json);
    f->created_at = created_at;
}

/* Whether a stored fit is the one the study needs: the dlcm law on realized R, the Chinchilla law
 * on dense runs only, both with bootstrap samples. */
static int stored_fit_suits(int chinchilla, const char *text, char *why, size_t n)
{
    json_object *root = json_tokener_parse(text);
    if (!root) {
        snprintf(why, n, "the stored fit's JSON does not parse");
        return 0;
    }
    json_object *data = jget(root, "data"), *samples = jget(root, "bootstrap_samples");
    int ok = 1;
    if (!samples || !json_object_is_type(samples, json_type_array) || json_object_array_length(samples) == 0) {
        snprintf(why, n, "the stored fit has no bootstrap samples");
        ok = 0;
    } else if (chinchilla && !(jnum(data, "n_dlcm") == 0)) {
        snprintf(why, n, "the stored Chinchilla fit is not of the dense runs alone");
        ok = 0;
    } else if (!chinchilla && !strstr(jstr(data, "R_source"), "realized")) {
        snprintf(why, n, "the stored dlcm fit uses %s, not the realized R", jstr(data, "R_source"));
        ok = 0;
    }
    json_object_put(root);
    return ok;
}

/* The law fit of the isoFLOP sweep: the stored one when it suits, else fitted here (not stored).
 * Writes out/fit-<law>.json and the law's figures. */
static void gather_law(Study *st, int k)
{
    const char *law = k == 0 ? "dlcm" : "chinchilla";
    const char *sweep = st->names[SW_ISOFLOP];
    char json_path[PATH_MAX], source[300], why[256] = "";
    snprintf(json_path, sizeof json_path, "%.4000s/fit-%s.json", st->o->out_dir, law);
    snprintf(source, sizeof source, "sweep:%s", sweep);
    StoredFit stored = {law, NULL, 0};
    char err[512];
    if (study_latest_fits(st->db, source, stored_fit, &stored, err, sizeof err)) stored.json = NULL;
    char *text = NULL;
    if (stored.json && stored_fit_suits(k == 1, stored.json, why, sizeof why)) {
        text = stored.json;
        time_t when = (time_t)stored.created_at;
        char date[64];
        strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&when));
        snprintf(st->law_origin[k], sizeof st->law_origin[k], "the fit stored in the database (%s)", date);
        if (spit(json_path, text)) fprintf(stderr, "dlcm-report: %s: %s\n", json_path, strerror(errno));
    } else {
        free(stored.json);
        LawFitOptions fo;
        memset(&fo, 0, sizeof fo);
        fo.db_path = st->o->db_path;
        fo.sweep = sweep;
        fo.law = law;
        fo.select = fit_selection_default();
        if (k == 1) fo.select.family = "dense";
        fo.est = estimator_defaults();
        fo.est.n_boot = st->o->bootstrap;
        fo.max_starts = st->o->max_starts;
        fo.json_path = json_path;
        fo.store = NULL;
        fo.plots_dir = st->o->out_dir;
        fo.plot_prefix = k == 0 ? "law-dlcm" : "law-chinchilla";
        fflush(stdout);
        int rc = law_fit_run(&fo);
        if (rc != 0) {
            snprintf(st->law_missing[k], sizeof st->law_missing[k],
                     "the %s law could not be fitted on `%s` (dlcm-fit exit %d%s%s; its message is above in the "
                     "program's output)",
                     law, sweep, rc, why[0] ? "; " : "", why);
            return;
        }
        text = slurp(json_path);
        snprintf(st->law_origin[k], sizeof st->law_origin[k], "fitted by this report (%d bootstrap resamples%s%s; not stored)",
                 st->o->bootstrap, why[0] ? "; " : "", why);
    }
    if (!text) {
        snprintf(st->law_missing[k], sizeof st->law_missing[k], "%.400s: cannot read the fit", json_path);
        return;
    }
    if (summary_from_json(text, json_path, &st->law[k], err, sizeof err) ||
        isoflop_fit_load(text, &st->loaded[k], err, sizeof err)) {
        snprintf(st->law_missing[k], sizeof st->law_missing[k], "%s", err);
        summary_free(&st->law[k]);
        free(text);
        return;
    }
    st->have_law[k] = 1;
    /* A stored fit's figures: drawn here from the same runs. */
    if (strstr(st->law_origin[k], "stored")) {
        FitData data;
        memset(&data, 0, sizeof data);
        FitSelection sel = fit_selection_default();
        if (k == 1) sel.family = "dense";
        if (fit_data_read_sweep(st->db, sweep, &sel, 0, &data, err, sizeof err) == 0 &&
            fit_data_select(&data, &sel, err, sizeof err) == 0) {
            char tag[300];
            snprintf(tag, sizeof tag, "%.200s %s", sweep, law);
            if (law_plots(st->o->out_dir, k == 0 ? "law-dlcm" : "law-chinchilla", tag, &st->law[k], &data, err,
                          sizeof err))
                fprintf(stderr, "dlcm-report: figures of the %s law: %s\n", law, err);
        }
        fit_data_free(&data);
    }
    free(text);
}

/* dlcm-fit mup on a μP sweep (not stored): its verdict and figures. */
static void gather_mup(Study *st, MupPart *m)
{
    char json_path[PATH_MAX];
    snprintf(json_path, sizeof json_path, "%.3800s/mup-%.200s.json", st->o->out_dir, m->sweep);
    char *argv[16] = {"mup", "--db", (char *)st->o->db_path, "--sweep", m->sweep, "--json", json_path, "--no-store",
                      "--plots", (char *)st->o->out_dir, "--width", (char *)m->width};
    int argc = 12;
    if (m->coord[0]) {
        argv[argc++] = "--coord-sweep";
        argv[argc++] = m->coord;
    }
    argv[argc] = NULL;
    fflush(stdout);
    optind = 0;
    int rc = mup_main(argc, argv);
    if (rc != 0 && rc != 3 && rc != 4) {
        snprintf(m->missing, sizeof m->missing,
                 "dlcm-fit mup could not analyse `%.200s` (exit %d; its message is above in the program's output)",
                 m->sweep, rc);
        return;
    }
    char *text = slurp(json_path);
    m->json = text ? json_tokener_parse(text) : NULL;
    free(text);
    if (!m->json) snprintf(m->missing, sizeof m->missing, "%.400s: cannot read the μP analysis", json_path);
}

/* ---- sections ------------------------------------------------------------------------------ */

static void section_law(Study *st, FILE *out)
{
    fprintf(out, "## The compression-aware law (Eq. 22) on realized R\n\n");
    if (!st->have_law[0]) {
        fprintf(out, "**Missing:** %s.\n\n", st->law_missing[0][0] ? st->law_missing[0] : "no isoFLOP sweep");
        add_claim(st, "The compression-aware law (Eq. 22) describes the runs and extrapolates to a larger budget",
                  "no fit", CLAIM_MISSING);
        return;
    }
    LawSummary *s = &st->law[0];
    fprintf(out, "Source: %s. R is each run's %s.\n\n", st->law_origin[0], s->R_source[0] ? s->R_source : "(unstated)");
    report_fit_section(out, "dlcm", 0, &st->loaded[0]);
    /* The validation as the fit recorded it (the summary read back from JSON keeps no LOBO). */
    json_object *validation = jget(st->loaded[0].root, "validation");
    json_object *lobo = jget(validation, "leave_largest_budget_out");
    json_object *available = jget(lobo, "available");
    double r2 = jnum(validation, "r2_log"), mae = jnum(lobo, "mae_log");
    char ours[400];
    ClaimVerdict v;
    const char *ident = s->ident.known ? (s->ident.identified ? "identified" : "NOT identified") : "identification unknown";
    if (!available || !json_object_get_boolean(available) || isnan(mae)) {
        fprintf(out, "Leave-largest-budget-out: not available (one budget only).\n\n");
        snprintf(ours, sizeof ours, "R^2 of log L %.4f; no held-out budget (one budget only); %s", r2, ident);
        v = CLAIM_MISSING;
    } else {
        /* A mean absolute error of m in log L is a typical relative error of exp(m) - 1. Its interval
         * (resamples of the held-out runs; older fit files lack it) decides the target: met when the
         * whole interval is within 2 %, not met when the whole of it is beyond. */
        double rel = exp(mae) - 1, rel_lo = exp(jnum(lobo, "mae_log_lo")) - 1, rel_hi = exp(jnum(lobo, "mae_log_hi")) - 1;
        int has_interval = isfinite(rel_lo) && isfinite(rel_hi);
        int met = has_interval ? rel_hi <= 0.02 : rel <= 0.02, missed = has_interval ? rel_lo > 0.02 : rel > 0.02;
        const char *target = met ? "met" : missed ? "not met" : "cannot decide (its interval holds 2 %)";
        char interval[96] = "";
        if (has_interval)
            snprintf(interval, sizeof interval, " [%.2f, %.2f] (95 %% over resamples of the held-out runs, the refit fixed)",
                     100 * rel_lo, 100 * rel_hi);
        fprintf(out, "**Leave-largest-budget-out:** the law refitted without the %.0f runs of the largest budget "
                     "predicts their loss with a mean absolute error of %.2f %%%s (exp(MAE of log L) - 1; mean signed "
                     "error %+.2f %%). Target <= 2 %%: **%s**.\n\n",
                jnum(lobo, "n_held_out"), 100 * rel, interval, 100 * jnum(lobo, "mean_relative_error"), target);
        if (has_interval)
            snprintf(ours, sizeof ours, "R^2 of log L %.4f; held-out error %.2f %% [%.2f, %.2f] (target <= 2 %%: %s); %s", r2,
                     100 * rel, 100 * rel_lo, 100 * rel_hi, target, ident);
        else
            snprintf(ours, sizeof ours, "R^2 of log L %.4f; held-out error %.2f %% (target <= 2 %%); %s", r2, 100 * rel, ident);
        v = !s->ident.known || !s->ident.identified ? CLAIM_UNDECIDED : met ? CLAIM_HOLDS : missed ? CLAIM_FAILS : CLAIM_UNDECIDED;
    }
    add_claim(st, "The compression-aware law (Eq. 22) describes the runs and extrapolates to a larger budget", ours, v);
}

static void section_chinchilla(Study *st, FILE *out)
{
    fprintf(out, "## The dense runs: the Chinchilla law\n\n");
    if (!st->have_law[1]) {
        fprintf(out, "**Missing:** %s.\n\n", st->law_missing[1][0] ? st->law_missing[1] : "no isoFLOP sweep");
        return;
    }
    LawSummary *s = &st->law[1];
    fprintf(out, "Source: %s.\n\n", st->law_origin[1]);
    report_fit_section(out, "chinchilla", 0, &st->loaded[1]);
    fprintf(out, "Compute-optimal N and D at each budget of the sweep (closed form N* = G (C/6)^(beta/(alpha+beta)), "
                 "D* = C / (6 N*); 95 %% interval over the %d bootstrap samples):\n\n"
                 "| budget C | N_opt [95%%] | D_opt [95%%] | D/N |\n|---|---|---|---|\n",
            s->n_samples);
    double *ns = malloc((size_t)(s->n_samples > 0 ? s->n_samples : 1) * sizeof *ns);
    double *ds = malloc((size_t)(s->n_samples > 0 ? s->n_samples : 1) * sizeof *ds);
    for (int b = 0; ns && ds && b < st->n_budgets; b++) {
        double C = st->budgets[b], N, D, lo[2] = {NAN, NAN}, hi[2] = {NAN, NAN};
        allocate_chinchilla_closed_form(s->coef, C, &N, &D);
        for (int i = 0; i < s->n_samples; i++)
            allocate_chinchilla_closed_form(s->samples + (size_t)i * s->law.n_coef, C, &ns[i], &ds[i]);
        if (s->n_samples > 0) {
            estimator_percentile_interval(ns, s->n_samples, 0.95, &lo[0], &hi[0]);
            estimator_percentile_interval(ds, s->n_samples, 0.95, &lo[1], &hi[1]);
        }
        char a[128], c[128];
        fmt_ci(a, sizeof a, "%.3g", N, lo[0], hi[0]);
        fmt_ci(c, sizeof c, "%.3g", D, lo[1], hi[1]);
        fprintf(out, "| %.3g | %s | %s | %.1f |\n", C, a, c, D / N);
    }
    free(ns);
    free(ds);
    fprintf(out, "\nThe figures `N_opt-vs-C` and `D_opt-vs-C` (below) draw the same optima per family from the "
                 "isoFLOP lines.\n\n");
}

/* ---- the law-free optimum: a quadratic in ln N per budget (fit/isoflop_profile.h) ---------- */

/* The family's shapes of the isoFLOP sweep as profile points, each the mean of its finished seeds
 * (dense: 1 dense, 0 the DLCMs with P in [P_lo, P_hi]; R > 0: those of that target R only);
 * shapes without training FLOPs per token are counted in *skipped. */
static int profile_points(const SShapes *l, int dense, double R, double P_lo, double P_hi, ProfilePoint *pts,
                          int *seeds, int max, int *skipped)
{
    int n = 0;
    *skipped = 0;
    for (int i = 0; i < l->n && n < max; i++) {
        const SShape *s = &l->s[i];
        const SRun *r = s->run;
        if (is_dense(r) != dense || (!dense && R > 0 && !same(r->R, R))) continue;
        if (!dense && !(r->P >= P_lo && r->P <= P_hi)) continue;
        double F = r->train_flops / r->D;
        if (!(isfinite(F) && F > 0 && isfinite(r->budget) && r->budget > 0 && isfinite(r->N) && r->N > 0)) {
            (*skipped)++;
            continue;
        }
        seeds[n] = s->k;
        pts[n++] = (ProfilePoint){r->budget, r->N, s->loss, F};
    }
    return n;
}

/* How far from an R's typical P a shape may lie and still be on that R's fixed-P profile: wide
 * enough for the drift of P with size along one layer pattern (0.52-0.59 in the bpe study), narrow
 * enough to leave out another pattern (0.30 or 0.70 there). */
#define PROFILE_P_HALF_WIDTH 0.08

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The typical P of the DLCM shapes at target R (NAN without any): the window of +-
 * PROFILE_P_HALF_WIDTH about a shape's P that holds the most shapes (ties: the one nearest the
 * median), re-centred on the median of the P inside it, so that a window opened at the edge of a
 * cluster does not take in the next one. */
static double typical_shape_P(const SShapes *l, double R)
{
    double *P = malloc((size_t)(l->n ? l->n : 1) * sizeof *P);
    if (!P) return NAN;
    int n = 0;
    for (int i = 0; i < l->n; i++) {
        const SRun *r = l->s[i].run;
        if (!is_dense(r) && same(r->R, R) && isfinite(r->P)) P[n++] = r->P;
    }
    double typical = NAN;
    if (n) {
        qsort(P, (size_t)n, sizeof *P, compare_doubles);
        double median = n % 2 ? P[n / 2] : 0.5 * (P[n / 2 - 1] + P[n / 2]);
        int best = 0, best_count = -1;
        for (int i = 0; i < n; i++) {
            int count = 0;
            for (int j = 0; j < n; j++) count += fabs(P[j] - P[i]) <= PROFILE_P_HALF_WIDTH;
            if (count > best_count || (count == best_count && fabs(P[i] - median) < fabs(P[best] - median))) {
                best = i;
                best_count = count;
            }
        }
        int first = -1, last = -1;
        for (int j = 0; j < n; j++)
            if (fabs(P[j] - P[best]) <= PROFILE_P_HALF_WIDTH) {
                if (first < 0) first = j;
                last = j;
            }
        int inside = last - first + 1;
        typical = inside % 2 ? P[first + inside / 2] : 0.5 * (P[first + inside / 2 - 1] + P[first + inside / 2]);
    }
    free(P);
    return typical;
}

static void profile_exponent_line(FILE *out, const char *quantity, const char *exponent, const ProfileExponent *e,
                                  int n_draws)
{
    char ci[128];
    fmt_ci(ci, sizeof ci, "%.3f", e->slope, e->slope_lo, e->slope_hi);
    fprintf(out, "- %s ~ C^%s: %s = **%s** (95 %% over the %d of %d joint draws in which every budget used had a "
                 "vertex; the largest residual of ln %s about the line is %.3f)\n",
            quantity, exponent, exponent, ci, e->replicates, n_draws, quantity, e->max_resid);
}

static SeedNoise noise_at_budget(const Study *st, double C, int *own);
/* The fewest degrees of freedom a budget's own seed noise needs before it replaces the pooled one
 * (t at 5 is 2.57, against 1.98 pooled: fewer would make the intervals mostly t's width). */
#define BUDGET_NOISE_MIN_DF 5

/* "k" seeds of a budget's points: "2 each", or "1-2, 9 runs". */
static void seeds_text(char *buf, size_t n, int k_min, int k_max, int runs)
{
    if (k_min == k_max) snprintf(buf, n, "%d each", k_min);
    else snprintf(buf, n, "%d-%d, %d runs", k_min, k_max, runs);
}

/* One family's table and exponents. seeded: some shape of the sweep has more than one finished seed
 * (the table then says how many each point averages); otherwise it reads as a one-seed sweep's. */
static void profile_family(FILE *out, const char *title, const ProfilePoint *pts, const int *seeds, int n,
                           int skipped, const ProfileNoise *noise, int seeded)
{
    fprintf(out, "### %s\n\n", title);
    if (skipped)
        fprintf(out, "%d finished %s without training FLOPs per token left out.\n\n", skipped,
                seeded ? (skipped == 1 ? "shape" : "shapes") : (skipped == 1 ? "run" : "runs"));
    ProfileResult r;
    char err[256];
    if (n == 0) {
        fprintf(out, "**Missing:** no finished run.\n\n");
        return;
    }
    if (isoflop_profile_seeds(pts, seeds, n, PROFILE_DRAWS, 20240611ul, noise, &r, err, sizeof err)) {
        fprintf(out, "**Missing:** the profile could not be computed (%s).\n\n", err);
        return;
    }
    if (seeded)
        fprintf(out, "| budget C | shapes (sizes; seeds) | N run | best shape (N, mean loss, seeds) | N_opt [95%%] | "
                     "D_opt [95%%] | D/N | draws inside | resid sd (one run) | status |\n"
                     "|---|---|---|---|---|---|---|---|---|---|\n");
    else
        fprintf(out, "| budget C | runs (sizes) | N run | best run (N, loss) | N_opt [95%%] | D_opt [95%%] | D/N | draws "
                     "inside | resid sd | status |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < r.n_budgets; k++) {
        const ProfileBudget *b = &r.budgets[k];
        char nc[128] = "-", dc[128] = "-", dn[32] = "-", inside[32] = "-";
        if (b->status == PROFILE_AT_EDGE && b->best_at_end) {
            snprintf(nc, sizeof nc, "%s %.3g (a bound)", b->edge_side < 0 ? "<=" : ">=", b->edge_side < 0 ? b->N_min : b->N_max);
        } else if (b->status == PROFILE_AT_EDGE) {
            /* The best run lies inside the sizes, so the sizes do not bound the optimum either. */
            snprintf(nc, sizeof nc, "(vertex %.3g, outside the sizes: no optimum)", b->N_opt);
        } else if (b->has_vertex) {
            char v[96];
            fmt_ci(v, sizeof v, "%.3g", b->N_opt, b->N_lo, b->N_hi);
            snprintf(nc, sizeof nc, "%s%s", b->status == PROFILE_LOCATED ? "" : "(vertex) ", v);
            fmt_ci(v, sizeof v, "%.3g", b->D_opt, b->D_lo, b->D_hi);
            snprintf(dc, sizeof dc, "%s%s", b->status == PROFILE_LOCATED ? "" : "(vertex) ", v);
            snprintf(dn, sizeof dn, "%.1f", b->D_opt / b->N_opt);
        }
        if (isfinite(b->share_inside)) snprintf(inside, sizeof inside, "%.1f %%", 100 * b->share_inside);
        char sd[64] = "-";
        if (isfinite(b->resid_sd)) snprintf(sd, sizeof sd, "%.4f", b->resid_sd);
        if (b->noise_outside) snprintf(sd + strlen(sd), sizeof sd - strlen(sd), " (draws: seed sd)");
        char count[96], best[96];
        if (seeded) {
            char k[48];
            seeds_text(k, sizeof k, b->seeds_min, b->seeds_max, b->n_runs);
            snprintf(count, sizeof count, "%d (%d; %s)", b->n_points, b->n_sizes, k);
            snprintf(best, sizeof best, "%.3g, %.4f, %d", b->best_N, b->best_loss, b->best_seeds);
        } else {
            snprintf(count, sizeof count, "%d (%d)", b->n_points, b->n_sizes);
            snprintf(best, sizeof best, "%.3g, %.4f", b->best_N, b->best_loss);
        }
        fprintf(out, "| %.3g | %s | %.3g .. %.3g | %s | %s | %s | %s | %s | %s | %s: %s |\n", b->C, count, b->N_min,
                b->N_max, best, nc, dc, dn, inside, sd,
                b->status == PROFILE_LOCATED ? "**located**" : isoflop_profile_status_text(b->status), b->why);
    }
    fprintf(out, "\n");
    if (!r.N.available) {
        fprintf(out, "No exponent: %d budget%s located (a power law on C needs 3).\n\n", r.n_used, r.n_used == 1 ? "" : "s");
    } else {
        fprintf(out, "Power law over the %d located budgets (C =", r.n_used);
        for (int k = 0; k < r.n_budgets; k++)
            if (r.budgets[k].status == PROFILE_LOCATED) fprintf(out, " %.3g", r.budgets[k].C);
        fprintf(out, "), least squares on the logs:\n\n");
        profile_exponent_line(out, "N_opt", "alpha_N", &r.N, r.n_draws);
        profile_exponent_line(out, "D_opt", "alpha_D", &r.D, r.n_draws);
        fprintf(out, "\n");
    }
    int left = 0;
    for (int k = 0; k < r.n_budgets; k++) left += r.budgets[k].status != PROFILE_LOCATED;
    if (left) {
        fprintf(out, "Left out of the exponents:");
        for (int k = 0, i = 0; k < r.n_budgets; k++)
            if (r.budgets[k].status != PROFILE_LOCATED)
                fprintf(out, "%s C = %.3g (%s)", i++ ? ";" : "", r.budgets[k].C, isoflop_profile_status_text(r.budgets[k].status));
        fprintf(out, ".\n\n");
    }
    isoflop_profile_free(&r);
}

static void section_isoflop_profiles(Study *st, FILE *out)
{
    fprintf(out, "## Compute-optimal N and D from the isoFLOP profiles (no law)\n\n");
    const SShapes *l = &st->shapes;
    if (st->n_budgets == 0) {
        fprintf(out, "**Missing:** no finished isoFLOP runs.\n\n");
        return;
    }
    /* With one seed per shape the section reads as it always did; with more, it says how the
     * seeds are averaged and weighted. */
    int seeded = l->max_k > 1;
    const char *unit = seeded ? "shape" : "run";
    fprintf(out,
            "Chinchilla's approach 2, without a scaling law: at each budget (runs whose budgets agree within 2 %% "
            "are one budget) the final losses of a family's %s are fitted by least squares with a quadratic in "
            "ln N, L = a + b ln N + c (ln N)^2, and **N_opt is its vertex** (only where c > 0). **D_opt = C / "
            "(training FLOPs per token at N_opt)**, those FLOPs joined linearly in ln N (log-log) between the "
            "budget's own runs (runs within 1 %% of one N are one size, their FLOPs averaged; beyond the sizes, "
            "the slope of a least-squares line through all of them). **Interval:** 2.5 and 97.5 %% of %d draws of (a, b, c) "
            "from the fit's sampling distribution (multivariate t on the residual degrees of freedom, scale = the "
            "residual variance times %s); draws whose quadratic has no minimum (c <= 0) give no vertex and "
            "are left out of the percentiles, and *draws inside* is the share of all draws whose vertex exists and "
            "lies within the sizes run.\n\n",
            seeded ? "shapes (their seeds averaged)" : "runs", PROFILE_DRAWS,
            seeded ? "(X'WX)^-1, W the points' seed counts" : "(X'X)^-1");
    if (seeded)
        fprintf(out,
                "**What these numbers rest on:** that the loss is a quadratic in ln N near the optimum (far from it, "
                "it is not); **one point per shape, the mean of its finished seeds** (up to %d; %d shape%s of the "
                "sweep with fewer finished seeds than runs planned use the finished ones, and the table gives the "
                "seeds of each budget's points): a mean of k seeds weighs k times a single run in the least squares "
                "and the draws give it one run's noise divided by sqrt(k). The draws assume the scatter of the "
                "points about the quadratic (*resid sd*, in units of one run) is their noise, unless the study "
                "measured a larger seed-to-seed noise (below): then they use that (*draws: seed sd*), with its "
                "degrees of freedom. The spread between shapes of one N (another R or P) and a profile that is not "
                "quite a quadratic do not shrink with more seeds: a *resid sd* above the seed sd is that spread. "
                "Without a seed-to-seed measurement, 3 shapes pass through their quadratic exactly and no interval "
                "can be computed.\n\n",
                l->max_k, l->partial, l->partial == 1 ? "" : "s");
    else
        fprintf(out,
                "**What these numbers rest on:** that the loss is a quadratic in ln N near the optimum (far from it, "
                "it is not); **one seed per point**: the draws assume the scatter of the runs about the quadratic "
                "(*resid sd*) is their noise, unless the study measured a larger seed-to-seed noise (below): then "
                "they use that (*draws: seed sd*), with its degrees of freedom. Without a seed-to-seed measurement, "
                "3 runs pass through their quadratic exactly and no interval can be computed.\n\n");
    fprintf(out,
            "**Status:** *located* when the vertex lies inside the sizes run, the best %s is not the smallest "
            "or largest size, and at least %.0f %% of the draws have their minimum inside the sizes; *at an "
            "edge* when the best %s is the smallest or largest size or the vertex lies outside the sizes (a "
            "bound, not an optimum); *not located* when c <= 0, fewer than 3 sizes were run, 3 %ss leave no "
            "residual and no seed-to-seed noise was measured, or too few draws fall inside. Only located budgets enter the exponents, whose interval "
            "comes from refitting the line on each joint draw of the budgets' vertices (it carries the vertices' "
            "uncertainty, not a departure from a power law: the largest residual about the line is given for "
            "that).\n\n",
            unit, 100 * PROFILE_MIN_INSIDE, unit, unit);
    SeedNoise noise = st->noise;
    char isoflop_groups[64] = "";
    if (seeded) snprintf(isoflop_groups, sizeof isoflop_groups, "%d of them isoFLOP shapes; ", seeded_shapes(l));
    /* Each budget with enough seed replicates of its own draws with its own noise (a larger budget's
     * runs differ less); the others with the pooled one. */
    ProfileBudgetNoise own_noise[32];
    int n_own = 0;
    char own_text[1024] = "";
    size_t own_used = 0;
    for (int b = 0; b < st->n_budgets && n_own < 32; b++) {
        int own;
        SeedNoise at = noise_at_budget(st, st->budgets[b], &own);
        if (!own) continue;
        own_noise[n_own++] = (ProfileBudgetNoise){st->budgets[b], at.sd, at.df};
        if (own_used < sizeof own_text)
            own_used += (size_t)snprintf(own_text + own_used, sizeof own_text - own_used, "%s%.3g: %.4f (%d)",
                                         own_used ? ", " : "", st->budgets[b], at.sd, at.df);
    }
    if (noise.df > 0) {
        fprintf(out, "The seed-to-seed noise of a run's final loss, measured on the %d groups of isoFLOP and parser runs "
                     "that differ only in the seed (%s%d degrees of freedom): sd %.4f [%.4f, %.4f]. ",
                noise.groups, isoflop_groups, noise.df, noise.sd, noise.sd_lo, noise.sd_hi);
        if (n_own)
            fprintf(out, "The runs of a larger budget see more tokens and differ less, so a budget whose own isoFLOP "
                         "shapes give at least %d degrees of freedom uses its own sd (budget: sd (degrees of freedom): "
                         "%s), the others the pooled one. ",
                    BUDGET_NOISE_MIN_DF, own_text);
        fprintf(out, "Where a budget's *resid sd* is below its seed sd, or it has no residual, its scatter has not "
                     "seen the whole noise and its draws use that sd instead.\n\n");
    } else
        fprintf(out, "No two isoFLOP or parser runs differ only in the seed: **no seed-to-seed noise was measured**, so "
                     "whether the scatter about each quadratic is the whole noise is not known.\n\n");
    ProfilePoint *pts = malloc((size_t)(l->n ? l->n : 1) * sizeof *pts);
    int *seeds_of = malloc((size_t)(l->n ? l->n : 1) * sizeof *seeds_of);
    if (!pts || !seeds_of) {
        free(pts);
        free(seeds_of);
        fprintf(out, "**Missing:** out of memory.\n\n");
        return;
    }
    ProfileNoise seeds = {noise.df > 0 ? noise.sd : 0, noise.df, own_noise, n_own};
    int skipped, n = profile_points(l, 1, 0, -INFINITY, INFINITY, pts, seeds_of, l->n, &skipped);
    profile_family(out, "dense", pts, seeds_of, n, skipped, &seeds, seeded);
    n = profile_points(l, 0, 0, -INFINITY, INFINITY, pts, seeds_of, l->n, &skipped);
    profile_family(out, "DLCM, every target R and P pooled (the spread between R at one N counts as scatter; "
                        "FLOPs per token averaged over the runs of one N)",
                   pts, seeds_of, n, skipped, &seeds, seeded);
    double Rs[16];
    int n_R = distinct_values(&st->runs[SW_ISOFLOP], 0, 1, Rs, 16);
    for (int k = 0; k < n_R; k++) {
        n = profile_points(l, 0, Rs[k], -INFINITY, INFINITY, pts, seeds_of, l->n, &skipped);
        char title[200];
        snprintf(title, sizeof title, "DLCM, target R = %g (every P pooled)", Rs[k]);
        profile_family(out, title, pts, seeds_of, n, skipped, &seeds, seeded);
        /* Shapes of another backbone share at one N and R sit off the curve of the others (a
         * deeper or wider backbone, not a larger model), so a pooled profile can open downwards
         * where each P alone has a minimum: the profile again at the R's typical P alone. */
        double P_mid = typical_shape_P(l, Rs[k]);
        int all = n;
        n = profile_points(l, 0, Rs[k], P_mid - PROFILE_P_HALF_WIDTH, P_mid + PROFILE_P_HALF_WIDTH, pts, seeds_of,
                           l->n, &skipped);
        if (n == all || n == 0) continue;
        snprintf(title, sizeof title,
                 "DLCM, target R = %g, P %.2f-%.2f only (its shapes' typical P +- %.2f; %d shape%s of other P "
                 "left out)",
                 Rs[k], P_mid - PROFILE_P_HALF_WIDTH, P_mid + PROFILE_P_HALF_WIDTH, PROFILE_P_HALF_WIDTH, all - n,
                 all - n == 1 ? "" : "s");
        profile_family(out, title, pts, seeds_of, n, skipped, &seeds, seeded);
    }
    free(pts);
    free(seeds_of);
}

typedef struct {
    int ran, forced, refused;
    char status[96];
    double gap, gap_lo, gap_hi, share, share_lo, share_hi, dense_fwd;
} Comparison;

/* The query at budget C (forward FLOPs per token capped at max_fwd when > 0), forced so that a
 * fit the query would refuse still shows its numbers, marked as forced. */
static void compare_at(Study *st, double C, double max_fwd, Comparison *c, json_object **keep)
{
    memset(c, 0, sizeof *c);
    c->gap = c->gap_lo = c->gap_hi = c->share = c->share_lo = c->share_hi = c->dense_fwd = NAN;
    QueryOptions q = query_defaults();
    q.budget = C;
    q.max_fwd_flops = max_fwd;
    q.force = 1;
    FILE *sink = fopen("/dev/null", "w");
    if (!sink) return;
    json_object *answer = json_object_new_object();
    int rc = query_run(&q, &st->law[0], "study", sink, answer);
    fclose(sink);
    c->ran = 1;
    snprintf(c->status, sizeof c->status, "%s", jstr(answer, "status"));
    json_object *forced = jget(answer, "forced");
    c->forced = forced && json_object_get_boolean(forced);
    c->refused = rc == QUERY_EXIT_REFUSED;
    json_object *saving = jget(answer, "saving");
    json_object *gap = jget(saving, "loss_gap"), *share = jget(saving, "budget_share");
    c->gap = jnum(gap, "value"); c->gap_lo = jnum(gap, "lo"); c->gap_hi = jnum(gap, "hi");
    c->share = jnum(share, "value"); c->share_lo = jnum(share, "lo"); c->share_hi = jnum(share, "hi");
    json_object *dense = jget(jget(answer, "recommendations"), "dense");
    c->dense_fwd = jnum(dense, "fwd_flops_per_token");
    const char *dlcm_status = jstr(jget(jget(answer, "recommendations"), "dlcm"), "status");
    if (strcmp(dlcm_status, "recommended") && strcmp(dlcm_status, "forced"))
        snprintf(c->status, sizeof c->status, "dlcm: %.50s", dlcm_status);
    if (keep) *keep = answer;
    else json_object_put(answer);
}

static void multiplier_text(char *buf, size_t n, const Comparison *c)
{
    /* The dense model needs 1/share the DLCM's compute for the loss the DLCM reaches at share * C. */
    fmt_ci(buf, n, "%.3g", 1 / c->share, 1 / c->share_hi, 1 / c->share_lo);
}

/* The seed-to-seed noise of the runs trained like the isoFLOP runs: groups of finished isoFLOP and
 * parser runs alike in all but the seed (seed_same_shape: sweep, family, widths, N, P, R, LR,
 * parametrization, parser, budget and tokens); with budget > 0, the isoFLOP runs of that budget
 * only (the noise shrinks as a budget's runs see more tokens). */
static SeedNoise study_seed_noise(const Study *st, double budget)
{
    SeedNoise none = {0, 0, NAN, NAN, NAN};
    int n = st->runs[SW_ISOFLOP].n + st->runs[SW_PARSER].n;
    if (n == 0) return none;
    const SRun **runs = malloc((size_t)n * sizeof *runs);
    double *loss = malloc((size_t)n * sizeof *loss);
    int *group = malloc((size_t)n * sizeof *group);
    if (!runs || !loss || !group) {
        free(runs);
        free(loss);
        free(group);
        return none;
    }
    int k = 0;
    for (int s = 0; s < 3; s += 2)
        for (int i = 0; i < st->runs[s].n; i++) {
            const SRun *r = &st->runs[s].r[i];
            if (!run_done(r)) continue;
            if (budget > 0 && (s != SW_ISOFLOP || !isoflop_same_budget(r->budget, budget))) continue;
            runs[k++] = r;
        }
    ShapeKey *keys = malloc((size_t)(k ? k : 1) * sizeof *keys);
    if (!keys) {
        free(runs);
        free(loss);
        free(group);
        return none;
    }
    for (int i = 0; i < k; i++) {
        loss[i] = runs[i]->loss;
        keys[i] = shape_key(runs[i]);
    }
    seed_shape_groups(keys, k, group);
    SeedNoise noise = seed_noise_pooled(loss, group, k);
    free(keys);
    free(runs);
    free(loss);
    free(group);
    return noise;
}

/* The study's seed noise, once: pooled, and for each budget the one measured at it when it has
 * BUDGET_NOISE_MIN_DF degrees of freedom, else the pooled one. With one seed per shape there is
 * no budget's own: the pooled one, from the parser sweep's pairs. */
static void study_noise_measure(Study *st)
{
    st->noise = study_seed_noise(st, 0);
    for (int b = 0; b < st->n_budgets; b++) {
        SeedNoise at = st->shapes.max_k > 1 ? study_seed_noise(st, st->budgets[b]) : st->noise;
        st->budget_noise_own[b] = st->shapes.max_k > 1 && at.df >= BUDGET_NOISE_MIN_DF;
        st->budget_noise[b] = st->budget_noise_own[b] ? at : st->noise;
    }
}

/* The seed noise a comparison at budget C uses (study_noise_measure); *own: whether it is C's own. */
static SeedNoise noise_at_budget(const Study *st, double C, int *own)
{
    for (int b = 0; b < st->n_budgets; b++)
        if (isoflop_same_budget(st->budgets[b], C)) {
            *own = st->budget_noise_own[b];
            return st->budget_noise[b];
        }
    *own = 0;
    return st->noise;
}

/* The text of a dense - DLCM difference of shape means over k_dense and k_dlcm seeds (with its t
 * interval from the seed noise when the study has seeds) and its verdict against that noise. One
 * seed each: the band a single-seed study always used (1.96, not t, so that its report reads as
 * before). Beyond the noise only past the band at the sd's upper bound. */
static const char *difference_against_noise(const SeedNoise *noise, int seeded, int k_dense, int k_dlcm, double diff,
                                            char *text, size_t n, double *lo, double *hi)
{
    double spread = seeded ? sqrt(1.0 / k_dense + 1.0 / k_dlcm) : sqrt(2.0);
    double band = seeded ? seed_difference_band(noise->sd, noise->df, k_dense, k_dlcm) : 1.96 * spread * noise->sd;
    double band_hi = 1.96 * spread * noise->sd_hi;
    *lo = noise->df > 0 ? diff - band : NAN;
    *hi = noise->df > 0 ? diff + band : NAN;
    if (seeded && noise->df > 0) fmt_ci(text, n, "%+.4f", diff, diff - band, diff + band);
    else snprintf(text, n, "%+.4f", diff);
    if (noise->df == 0) return "not measured";
    if (fabs(diff) > band_hi) return diff > 0 ? "beyond: DLCM better" : "beyond: dense better";
    return fabs(diff) > band ? "at the edge of the band" : "within the noise";
}

/* The observed comparison (no law): the best shape of each family per budget by its mean over its
 * finished seeds, the difference against the seed noise's band for means of those seed counts,
 * and the shapes paired at equal inference FLOPs. With one seed per shape it reads as a one-seed
 * sweep's (best run against best run). The law-free claim, from the largest budget where both
 * families ran, goes to claim and verdict. */
static void observed_comparison(Study *st, FILE *out, char *claim, size_t claim_n, ClaimVerdict *verdict_out)
{
    snprintf(claim, claim_n, "no budget where both families finished");
    *verdict_out = CLAIM_MISSING;
    const SShapes *l = &st->shapes;
    int seeded = l->max_k > 1;
    SeedNoise noise = st->noise;
    if (seeded) {
        fprintf(out, "\nObserved (no law): the best shape of each family at each budget by its mean loss over its "
                     "finished seeds (runs identical but for the seed averaged; the table gives each side's seeds). ");
        if (noise.df > 0)
            fprintf(out, "Seed-to-seed noise of a run's final loss, pooled over the %d groups of isoFLOP and parser runs "
                         "that differ only in the seed (%d of them isoFLOP shapes; %d degrees of freedom): sd %.4f "
                         "[%.4f, %.4f], so the difference of two means of k_a and k_b seeds has the 95 %% interval "
                         "+-t x sd x sqrt(1/k_a + 1/k_b) (in brackets; t = %.3f, Student's on those degrees of "
                         "freedom), and is called beyond the noise only where it exceeds 1.96 x sqrt(1/k_a + 1/k_b) "
                         "x the sd's upper bound. The noise is not the same at every budget (a larger budget trains on "
                         "more tokens, and its runs differ less), so each budget's row uses the sd measured on that "
                         "budget's own isoFLOP shapes (last column, with its degrees of freedom; t on those), and the "
                         "pooled sd only where a budget has fewer than %d. Choosing the best of several shapes on the "
                         "same seeds still biases it low (less than a single run's): a difference inside the band is "
                         "no evidence either way.\n\n",
                    noise.groups, seeded_shapes(l), noise.df, noise.sd, noise.sd_lo, noise.sd_hi,
                    gsl_cdf_tdist_Pinv(0.975, noise.df), BUDGET_NOISE_MIN_DF);
        else
            fprintf(out, "No two isoFLOP or parser runs differ only in the seed, so the seed-to-seed noise is not "
                         "measured: these differences cannot be told from it.\n\n");
        fprintf(out, "| budget C | best dense (N, mean loss, seeds) | best DLCM (N, R, mean loss, seeds) | dense - DLCM "
                     "[95%%] | against the seed noise | seed sd used [95%%] (df) |\n|---|---|---|---|---|---|\n");
    } else {
        double band = 1.96 * sqrt(2.0) * noise.sd, band_hi = 1.96 * sqrt(2.0) * noise.sd_hi;
        fprintf(out, "\nObserved (no law): the best run of each family at each budget, one seed each. ");
        if (noise.df > 0)
            fprintf(out, "Seed-to-seed noise of a run's final loss, pooled over the %d groups of isoFLOP and parser runs that "
                         "differ only in the seed (%d degrees of freedom): sd %.4f [%.4f, %.4f], so the difference of two "
                         "single-seed runs must exceed 1.96 x sqrt(2) x sd = %.4f (%.4f at the sd's upper bound) to be told "
                         "from noise at 95 %%. The best of several runs is biased low as well: a difference inside the band is "
                         "no evidence either way.\n\n",
                    noise.groups, noise.df, noise.sd, noise.sd_lo, noise.sd_hi, band, band_hi);
        else
            fprintf(out, "No two isoFLOP or parser runs differ only in the seed, so the seed-to-seed noise is not measured: "
                         "these differences cannot be told from it.\n\n");
        fprintf(out, "| budget C | best dense (N, loss) | best DLCM (N, R, loss) | dense - DLCM | against the seed noise |\n"
                     "|---|---|---|---|---|\n");
    }
    for (int b = 0; b < st->n_budgets; b++) {
        const SShape *d = best_shape(l, 1, st->budgets[b], 0);
        const SShape *m = best_shape(l, 0, st->budgets[b], 0);
        char a[96] = "-", c[96] = "-", g[96] = "-";
        const char *verdict = "-";
        if (d) {
            if (seeded) snprintf(a, sizeof a, "%.3g, %.4f, %d", d->run->N, d->loss, d->k);
            else snprintf(a, sizeof a, "%.3g, %.4f", d->run->N, d->loss);
        }
        if (m) {
            if (seeded) snprintf(c, sizeof c, "%.3g, %g, %.4f, %d", m->run->N, m->run->R, m->loss, m->k);
            else snprintf(c, sizeof c, "%.3g, %g, %.4f", m->run->N, m->run->R, m->loss);
        }
        int own;
        SeedNoise at = noise_at_budget(st, st->budgets[b], &own);
        if (d && m) {
            double lo, hi;
            verdict = difference_against_noise(&at, seeded, d->k, m->k, d->loss - m->loss, g, sizeof g, &lo, &hi);
            snprintf(claim, claim_n, "at C = %.3g, the largest budget with both: best dense %.4f (%d seed(s)), best "
                                     "DLCM %.4f (R %g, %d seed(s)); dense - DLCM %+.4f [%+.4f, %+.4f] on %s seed "
                                     "noise; the best of the shapes run",
                     st->budgets[b], d->loss, d->k, m->loss, m->run->R, m->k, d->loss - m->loss, lo, hi,
                     own ? "that budget's" : "the pooled");
            *verdict_out = claim_from_interval(lo, hi, 0, +1);
        }
        if (!seeded) {
            fprintf(out, "| %.3g | %s | %s | %s | %s |\n", st->budgets[b], a, c, g, verdict);
            continue;
        }
        char used[96] = "-";
        if (at.df > 0)
            snprintf(used, sizeof used, "%.4f [%.4f, %.4f] (%d%s)", at.sd, at.sd_lo, at.sd_hi, at.df, own ? "" : ", pooled");
        fprintf(out, "| %.3g | %s | %s | %s | %s | %s |\n", st->budgets[b], a, c, g, verdict, used);
    }
    if (seeded)
        fprintf(out, "\nObserved pairs at equal inference FLOPs (a DLCM shape and a dense shape of the same budget whose "
                     "forward FLOPs per token differ by at most 10 %%; each its mean over its finished seeds, the "
                     "first run's id shown; the difference with the same seed-noise interval and verdict as above, "
                     "on the noise of its budget; "
                     "pairs of one budget can share a dense shape, so they are not independent):\n\n| budget C | "
                     "DLCM shape (N, R, F_fwd; seeds) | dense shape (N, F_fwd; seeds) | dense - DLCM [95%%] | against "
                     "the seed noise |\n|---|---|---|---|---|\n");
    else
        fprintf(out, "\nObserved pairs at equal inference FLOPs (a DLCM run and a dense run of the same budget whose "
                     "forward FLOPs per token differ by at most 10 %%; against the seed noise as above):\n\n| budget C | "
                     "DLCM run (N, R, F_fwd) | dense run (N, F_fwd) | dense - DLCM | against the seed noise |\n"
                     "|---|---|---|---|---|\n");
    int pairs = 0, dense_better = 0, dlcm_better = 0;
    for (int i = 0; i < l->n; i++) {
        const SShape *ms = &l->s[i];
        const SRun *m = ms->run;
        if (is_dense(m) || !isfinite(m->fwd_fpt)) continue;
        const SShape *match = NULL;
        for (int j = 0; j < l->n; j++) {
            const SRun *d = l->s[j].run;
            if (!is_dense(d) || !isoflop_same_budget(d->budget, m->budget) || !isfinite(d->fwd_fpt)) continue;
            double ratio = fabs(m->fwd_fpt / d->fwd_fpt - 1);
            if (ratio <= 0.1 && (!match || ratio < fabs(m->fwd_fpt / match->run->fwd_fpt - 1))) match = &l->s[j];
        }
        if (!match) continue;
        const SRun *d = match->run;
        char g[96];
        int own;
        double lo, hi;
        SeedNoise at = noise_at_budget(st, m->budget, &own);
        const char *verdict =
            difference_against_noise(&at, seeded, match->k, ms->k, match->loss - ms->loss, g, sizeof g, &lo, &hi);
        if (seeded)
            fprintf(out, "| %.3g | `%.12s` (%.3g, %g, %.3g; %d) | `%.12s` (%.3g, %.3g; %d) | %s | %s |\n", m->budget, m->id,
                    m->N, m->R, m->fwd_fpt, ms->k, d->id, d->N, d->fwd_fpt, match->k, g, verdict);
        else
            fprintf(out, "| %.3g | `%.12s` (%.3g, %g, %.3g) | `%.12s` (%.3g, %.3g) | %s | %s |\n", m->budget, m->id, m->N,
                    m->R, m->fwd_fpt, d->id, d->N, d->fwd_fpt, g, verdict);
        pairs++;
        dense_better += !strcmp(verdict, "beyond: dense better");
        dlcm_better += !strcmp(verdict, "beyond: DLCM better");
    }
    if (!pairs) fprintf(out, "| (no such pair) | | | | |\n");
    else if (noise.df > 0)
        fprintf(out, "\n%d pair(s): %d beyond the noise with dense better, %d with the DLCM better, %d within or at the "
                     "edge of the band. These pairs are not the best shapes of either family: they say how a DLCM and a "
                     "dense model of equal inference cost compare shape for shape, not which family is better.\n",
                pairs, dense_better, dlcm_better, pairs - dense_better - dlcm_better);
    fprintf(out, "\n");
}

static void section_comparison(Study *st, FILE *out)
{
    fprintf(out, "## DLCM against dense at matched compute\n\n");
    if (!st->have_law[0]) {
        fprintf(out, "**Missing:** no compression-aware fit (above), so no comparison.\n\n");
        add_claim(st, "At equal training FLOPs a DLCM reaches a lower loss than a dense model", "no fit", CLAIM_MISSING);
        add_claim(st, "At equal inference FLOPs per token a DLCM reaches a lower loss than a dense model", "no fit",
                  CLAIM_MISSING);
        return;
    }
    fprintf(out, "From the compression-aware law through `dlcm-query` (fit/query.h): at each budget C the best DLCM "
                 "and the best dense allocation of the law (the dense one without the concept term), the **loss gap** "
                 "(dense - DLCM, positive: the DLCM is better) and the **compute multiplier**: the DLCM reaches the "
                 "dense optimum's loss at a share s of C, so the dense model needs 1/s times the DLCM's compute for "
                 "that loss. Matched inference FLOPs: both capped at the dense optimum's forward FLOPs per token. "
                 "Intervals: 95 %% over the fit's bootstrap samples. *forced*: the query would refuse (the law is "
                 "not identified, or the optimum lies beyond the data) — the numbers describe the fit, not evidence.\n\n"
                 "| budget C | training-matched gap | multiplier | inference-matched gap | multiplier | status |\n"
                 "|---|---|---|---|---|---|\n");
    Comparison last_train = {0}, last_inf = {0};
    for (int b = 0; b < st->n_budgets; b++) {
        Comparison t, i;
        compare_at(st, st->budgets[b], 0, &t, NULL);
        if (isfinite(t.dense_fwd)) compare_at(st, st->budgets[b], t.dense_fwd, &i, NULL);
        else memset(&i, 0, sizeof i), i.gap = i.gap_lo = i.gap_hi = i.share = i.share_lo = i.share_hi = NAN;
        char g1[96], m1[96], g2[96], m2[96];
        fmt_ci(g1, sizeof g1, "%+.4f", t.gap, t.gap_lo, t.gap_hi);
        multiplier_text(m1, sizeof m1, &t);
        fmt_ci(g2, sizeof g2, "%+.4f", i.gap, i.gap_lo, i.gap_hi);
        multiplier_text(m2, sizeof m2, &i);
        fprintf(out, "| %.3g | %s | %s | %s | %s | %s%s%s%s |\n", st->budgets[b], g1, m1, g2, m2, t.status,
                t.forced || i.forced ? " (forced)" : "", i.ran && strcmp(i.status, t.status) ? "; inference-matched: " : "",
                i.ran && strcmp(i.status, t.status) ? i.status : "");
        last_train = t;
        last_inf = i;
    }
    char observed[400];
    ClaimVerdict observed_verdict;
    observed_comparison(st, out, observed, sizeof observed, &observed_verdict);
    if (st->n_budgets == 0) return;
    char ours[400], g[96], m[96];
    int not_identified = st->law[0].ident.known && !st->law[0].ident.identified;
    fmt_ci(g, sizeof g, "%+.4f", last_train.gap, last_train.gap_lo, last_train.gap_hi);
    multiplier_text(m, sizeof m, &last_train);
    snprintf(ours, sizeof ours, "at C = %.3g: loss gap (dense - DLCM) %s, compute multiplier %s%s",
             st->budgets[st->n_budgets - 1], g, m, not_identified ? "; the law is not identified" : "");
    ClaimVerdict v = claim_from_interval(last_train.gap_lo, last_train.gap_hi, 0, +1);
    if (not_identified && v != CLAIM_MISSING) v = CLAIM_UNDECIDED;
    add_claim(st, "At equal training FLOPs a DLCM reaches a lower loss than a dense model (compute multiplier > 1)",
              ours, v);
    add_claim(st, "At equal training FLOPs a DLCM reaches a lower loss than a dense model (no law: the best shapes "
                  "run, seed means, at the largest budget)",
              observed, observed_verdict);
    fmt_ci(g, sizeof g, "%+.4f", last_inf.gap, last_inf.gap_lo, last_inf.gap_hi);
    multiplier_text(m, sizeof m, &last_inf);
    snprintf(ours, sizeof ours, "at C = %.3g: loss gap %s, compute multiplier %s%s", st->budgets[st->n_budgets - 1], g, m,
             not_identified ? "; the law is not identified" : "");
    v = claim_from_interval(last_inf.gap_lo, last_inf.gap_hi, 0, +1);
    if (not_identified && v != CLAIM_MISSING) v = CLAIM_UNDECIDED;
    add_claim(st, "At equal inference FLOPs per token a DLCM reaches a lower loss than a dense model", ours, v);
}

static void allocation_rows(FILE *out, const char *family, json_object *rec)
{
    if (!rec) return;
    const char *status = jstr(rec, "status");
    json_object *shape = jget(rec, "shape");
    if (!shape) {
        fprintf(out, "| %s | %s | | | | | | |\n", family, status);
        return;
    }
    char cells[5][96];
    const char *keys[5] = {"N", "P", "R", "D", "loss"};
    for (int i = 0; i < 5; i++) {
        json_object *q = jget(rec, keys[i]);
        fmt_ci(cells[i], sizeof cells[i], i == 4 ? "%.4f" : "%.3g", jnum(q, "value"), jnum(q, "lo"), jnum(q, "hi"));
    }
    fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", family, status, jstr(shape, "description"), cells[0],
            cells[1], cells[2], cells[3], cells[4]);
}

static void section_recommendation(Study *st, FILE *out)
{
    fprintf(out, "## Recommended allocation at 10x the largest budget\n\n");
    if (!st->have_law[0] || st->n_budgets == 0) {
        fprintf(out, "**Missing:** no compression-aware fit.\n\n");
        add_claim(st, "R = 4 is close to the compute-optimal compression ratio", "no fit", CLAIM_MISSING);
        return;
    }
    double C = 10 * st->budgets[st->n_budgets - 1];
    QueryOptions q = query_defaults();
    q.budget = C;
    FILE *sink = fopen("/dev/null", "w");
    if (!sink) return;
    json_object *answer = json_object_new_object();
    int rc = query_run(&q, &st->law[0], "study", sink, answer);
    int forced = 0;
    if (rc == QUERY_EXIT_REFUSED) {
        /* Refused: the reasons are the answer; the numbers are shown forced, under that banner. */
        json_object_put(answer);
        answer = json_object_new_object();
        q.force = 1;
        query_run(&q, &st->law[0], "study", sink, answer);
        forced = 1;
    }
    fclose(sink);
    fprintf(out, "`dlcm-query` at C = %.3g FLOPs (status: **%s**%s). Intervals: 95 %% over the bootstrap samples "
                 "(each sample's own optimum).\n\n",
            C, rc == QUERY_EXIT_REFUSED ? "refused" : jstr(answer, "status"),
            forced ? "; the numbers below are forced — the query would give none" : "");
    fprintf(out, "| family | status | shape | N | P | R | D | loss |\n|---|---|---|---|---|---|---|---|\n");
    json_object *recs = jget(answer, "recommendations");
    allocation_rows(out, "dlcm", jget(recs, "dlcm"));
    allocation_rows(out, "dense", jget(recs, "dense"));
    json_object *warnings = jget(answer, "warnings");
    size_t nw = warnings && json_object_is_type(warnings, json_type_array) ? json_object_array_length(warnings) : 0;
    fprintf(out, "\nThe query's warnings (%zu):\n\n", nw);
    for (size_t i = 0; i < nw; i++) fprintf(out, "- %s\n", jstr(json_object_array_get_idx(warnings, i), "message"));
    if (nw == 0) fprintf(out, "- none\n");
    fprintf(out, "\n");
    json_object *R = jget(jget(recs, "dlcm"), "R");
    double lo = jnum(R, "lo"), hi = jnum(R, "hi"), v = jnum(R, "value");
    int edge = 0;
    for (size_t i = 0; i < nw; i++) {
        json_object *w = json_object_array_get_idx(warnings, i);
        if (!strcmp(jstr(w, "kind"), "edge_of_search") && !strcmp(jstr(w, "quantity"), "R")) edge = 1;
    }
    char ours[400], r[96];
    fmt_ci(r, sizeof r, "%.3g", v, lo, hi);
    snprintf(ours, sizeof ours, "optimal R at %.3g FLOPs: %s%s%s", C, r, edge ? "; on the edge of the R searched" : "",
             forced ? "; forced (the query refuses)" : "");
    ClaimVerdict verdict = isnan(lo) || isnan(hi) ? CLAIM_MISSING
                           : edge || forced       ? CLAIM_UNDECIDED
                           : (lo <= 4 && 4 <= hi) ? (hi / lo <= 4 ? CLAIM_HOLDS : CLAIM_UNDECIDED)
                                                  : CLAIM_FAILS;
    add_claim(st, "R = 4 is close to the compute-optimal compression ratio (interval holds 4 and spans at most 4x)",
              ours, verdict);
    json_object_put(answer);
}

/* Whether two shapes are one architecture run at two target R: their shape keys (the rule of
 * seed replicates) agree but for R and D, which R moves at a fixed budget. */
static int same_but_R(const SRun *a, const SRun *b)
{
    ShapeKey ka = shape_key(a), kb = shape_key(b);
    kb.R = ka.R;
    kb.D = ka.D;
    return seed_same_shape(&ka, &kb);
}

/* Over the seeds finished for both shapes (a and b, first runs of each), the mean of loss(b, seed)
 * - loss(a, seed), and how many seeds that is (NaN and 0 when none): runs of one seed read the
 * data in the same order (and one architecture at two R shares its initialization too), so only a
 * seed run for both makes a pair; a seed run for one alone would bring its whole seed noise back. */
static double seed_matched_shape_difference(const SRuns *runs, const SRun *a, const SRun *b, int *common)
{
    ShapeKey ka = shape_key(a), kb = shape_key(b);
    double sum = 0;
    int n = 0;
    for (int i = 0; i < runs->n; i++) {
        const SRun *x = &runs->r[i];
        ShapeKey kx = shape_key(x);
        if (!run_done(x) || !seed_same_shape(&kx, &ka)) continue;
        for (int k = 0; k < runs->n; k++) {
            const SRun *y = &runs->r[k];
            ShapeKey ky = shape_key(y);
            if (!run_done(y) || y->seed != x->seed || !seed_same_shape(&ky, &kb)) continue;
            sum += y->loss - x->loss;
            n++;
            break;
        }
    }
    *common = n;
    return n ? sum / n : NAN;
}

#define MAX_RATIOS 8
/* The compression ratio without a law: every DLCM shape the study ran at R = 4 and at other target
 * R on the same budget, its loss at each (mean over its finished seeds), and per other R the mean
 * over shapes of loss(R) - loss(4), each shape's difference taken seed by seed over the seeds run
 * at both, with a t-interval on the scatter of those paired differences. The pairing removes most
 * of the seed noise; the interval rests on the shapes' differences being independent. */
static void section_ratio(Study *st, FILE *out)
{
    const SShapes *l = &st->shapes;
    double ratios[MAX_RATIOS];
    int n_ratios = distinct_values(&st->runs[SW_ISOFLOP], 0, 1, ratios, MAX_RATIOS);
    fprintf(out, "## The compression ratio at fixed shape (no law)\n\n");
    const char *claim = "R = 4 is close to the compute-optimal compression ratio (no law: no other target R tried does "
                        "better on the same shapes and budgets)";
    int *base = malloc((size_t)(l->n ? l->n : 1) * sizeof *base);
    double *loss = malloc((size_t)(l->n ? l->n : 1) * MAX_RATIOS * sizeof *loss);
    int *seeds = malloc((size_t)(l->n ? l->n : 1) * MAX_RATIOS * sizeof *seeds);
    int *shape_at = malloc((size_t)(l->n ? l->n : 1) * MAX_RATIOS * sizeof *shape_at); /* index into l->s */
    if (!base || !loss || !seeds || !shape_at) {
        free(base);
        free(loss);
        free(seeds);
        free(shape_at);
        fprintf(out, "**Missing:** out of memory.\n\n");
        add_claim(st, claim, "out of memory", CLAIM_MISSING);
        return;
    }
    int four = -1, n = 0;
    for (int j = 0; j < n_ratios; j++)
        if (same(ratios[j], 4)) four = j;
    for (int i = 0; four >= 0 && i < l->n; i++) {
        const SRun *r = l->s[i].run;
        if (is_dense(r) || !same(r->R, 4)) continue;
        int others = 0;
        for (int j = 0; j < n_ratios; j++) {
            loss[n * MAX_RATIOS + j] = NAN;
            seeds[n * MAX_RATIOS + j] = 0;
            shape_at[n * MAX_RATIOS + j] = -1;
        }
        for (int k = 0; k < l->n; k++) {
            const SRun *o = l->s[k].run;
            if (is_dense(o) || !same_but_R(r, o)) continue;
            for (int j = 0; j < n_ratios; j++)
                if (same(o->R, ratios[j])) {
                    loss[n * MAX_RATIOS + j] = l->s[k].loss;
                    seeds[n * MAX_RATIOS + j] = l->s[k].k;
                    shape_at[n * MAX_RATIOS + j] = k;
                    others += j != four;
                }
        }
        if (others) base[n++] = i;
    }
    if (n == 0) {
        fprintf(out, "**Missing:** no DLCM shape was run at R = 4 and at another target R on the same budget.\n\n");
        add_claim(st, claim, "no shape run at R = 4 and another R", CLAIM_MISSING);
        free(base);
        free(loss);
        free(seeds);
        free(shape_at);
        return;
    }
    fprintf(out, "The DLCM shapes run at R = 4 and at other target R on the same budget (the same blocks, widths, "
                 "learning rate and seeds; at a fixed budget a larger R trains on more tokens), each loss the mean "
                 "over its finished seeds (their count in brackets):\n\n| budget C | d_t | d_c | N | P |");
    for (int j = 0; j < n_ratios; j++) fprintf(out, " R = %g |", ratios[j]);
    fprintf(out, "\n|---|---|---|---|---|");
    for (int j = 0; j < n_ratios; j++) fprintf(out, "---|");
    fprintf(out, "\n");
    for (int i = 0; i < n; i++) {
        const SRun *r = l->s[base[i]].run;
        fprintf(out, "| %.3g | %lld | %lld | %.3g | %.2f |", r->budget, r->d_t, r->d_c, r->N, r->P);
        for (int j = 0; j < n_ratios; j++) {
            double v = loss[i * MAX_RATIOS + j];
            if (isfinite(v)) fprintf(out, " %.4f (%d) |", v, seeds[i * MAX_RATIOS + j]);
            else fprintf(out, " - |");
        }
        fprintf(out, "\n");
    }
    SeedNoise noise = st->noise;
    fprintf(out, "\nPaired within each shape and seed: a shape's difference loss(R) - loss(R = 4) is the mean over "
                 "the seeds finished at both R of the difference between the two runs of that seed (a seed run at "
                 "one R alone is left out of it); the table gives the mean of those differences over the shapes "
                 "(negative: R does better than 4) with its 95 %% Student-t interval from their scatter (each shape "
                 "one unit, so a difference that varies with budget or size widens it rather than being hidden), "
                 "and the seeds paired. The last column compares that scatter with what independent seed noise "
                 "alone would give a difference of two means over those seeds");
    if (noise.df > 0) fprintf(out, " (each shape's budget's seed sd, as in the comparison above; the root mean square over the shapes)");
    fprintf(out, ": a scatter far below it says the runs of one shape at two R share most of their seed noise (the "
                 "same initialization and data order), which is what makes the pairing precise.\n\n"
                 "| R | shapes | seeds paired | loss(R) - loss(4) [95%%] | sd of the differences | seed noise alone |\n"
                 "|---|---|---|---|---|---|\n");
    char ours[400] = "";
    size_t used = 0;
    int better = 0, worse = 0, compared = 0, missing = 0;
    double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    if (!a || !b) fprintf(out, "| (out of memory) | | | | | |\n");
    for (int j = 0; a && b && j < n_ratios; j++) {
        if (j == four) continue;
        double k_sum = 0;
        int k_n = 0, paired_seeds = 0;
        for (int i = 0; i < n; i++) {
            int common = 0;
            int at = shape_at[i * MAX_RATIOS + j];
            a[i] = at >= 0 ? seed_matched_shape_difference(&st->runs[SW_ISOFLOP], l->s[base[i]].run, l->s[at].run,
                                                           &common)
                           : NAN;
            b[i] = 0;
            if (common > 0) {
                int own;
                SeedNoise at = noise_at_budget(st, l->s[base[i]].run->budget, &own);
                k_sum += at.sd * at.sd * 2.0 / common;
                k_n++;
                paired_seeds += common;
            }
        }
        PairedDifference d = paired_difference(a, b, n, 0.95);
        char ci[96], alone[64] = "-", sd[32] = "-";
        fmt_ci(ci, sizeof ci, "%+.4f", d.mean, d.lo, d.hi);
        if (isfinite(d.sd)) snprintf(sd, sizeof sd, "%.4f", d.sd);
        if (noise.df > 0 && k_n) snprintf(alone, sizeof alone, "%.4f", sqrt(k_sum / k_n));
        fprintf(out, "| %g | %d | %d | %s | %s | %s |\n", ratios[j], d.n, paired_seeds, ci, sd, alone);
        if (isnan(d.lo) || isnan(d.hi)) missing++;
        else if (d.hi < 0) better++;
        else if (d.lo > 0) worse++;
        compared++;
        if (used < sizeof ours)
            used += (size_t)snprintf(ours + used, sizeof ours - used, "%sR %g - R 4: %s over %d shape(s)",
                                     used ? "; " : "", ratios[j], ci, d.n);
    }
    free(a);
    free(b);
    ClaimVerdict verdict = compared == 0 || missing == compared ? CLAIM_MISSING
                           : better                              ? CLAIM_FAILS
                           : worse == compared                   ? CLAIM_HOLDS
                                                                 : CLAIM_UNDECIDED;
    fprintf(out, "\nVerdict on the paper's R = 4: **%s** (*holds* when every other R tried is worse beyond its "
                 "interval, *does not hold* when one is better beyond it, otherwise *cannot decide*). This compares "
                 "the target ratios run, on the shapes that were run at several: it says nothing of R outside them, "
                 "and a shape's best R may move with budget.\n\n",
            claim_verdict_text(verdict));
    add_claim(st, claim, ours, verdict);
    free(base);
    free(loss);
    free(seeds);
    free(shape_at);
}

/* Whether two DLCM shapes are one setting of the isoFLOP sweep at one budget and target R (sweep,
 * parametrization, parser, learning rate), whatever their widths, depths and N. */
static int same_setting(const SRun *a, const SRun *b)
{
    return !is_dense(a) && !is_dense(b) && !strcmp(a->sweep, b->sweep) && !strcmp(a->param, b->param) &&
           !strcmp(a->parser, b->parser) && same(a->R, b->R) && same(a->lr, b->lr) &&
           isoflop_same_budget(a->budget, b->budget);
}

/* How far apart in N two shapes may be and still count as one N here: the bpe study's shapes of
 * another P come within 0-11 % of the typical shape's N, not to the parameter. */
#define SHARE_MAX_N_RATIO 1.15

/* The backbone share without a law: every DLCM shape whose P lies outside its target R's typical
 * band (typical_shape_P +- PROFILE_P_HALF_WIDTH, as in the fixed-P profiles) paired with the
 * typical shape of the same budget, R and setting nearest in N (within SHARE_MAX_N_RATIO),
 * loss(other) - loss(typical) paired by seed; then per direction (a smaller or a larger share)
 * the mean over pairs with a t-interval from their scatter. */
static void section_share(Study *st, FILE *out)
{
    const SShapes *l = &st->shapes;
    fprintf(out, "## The backbone share at fixed N and R (no law)\n\n");
    int *typical = malloc((size_t)(l->n ? l->n : 1) * sizeof *typical);
    int *other = malloc((size_t)(l->n ? l->n : 1) * sizeof *other);
    double *diff = malloc((size_t)(l->n ? l->n : 1) * sizeof *diff);
    int *seeds = malloc((size_t)(l->n ? l->n : 1) * sizeof *seeds);
    if (!typical || !other || !diff || !seeds) {
        free(typical);
        free(other);
        free(diff);
        free(seeds);
        fprintf(out, "**Missing:** out of memory.\n\n");
        return;
    }
    int n = 0;
    for (int i = 0; i < l->n; i++) {
        const SRun *o = l->s[i].run;
        if (is_dense(o)) continue;
        double mid = typical_shape_P(l, o->R);
        if (!(fabs(o->P - mid) > PROFILE_P_HALF_WIDTH)) continue;
        int best = -1;
        double best_gap = log(SHARE_MAX_N_RATIO);
        for (int k = 0; k < l->n; k++) {
            const SRun *t = l->s[k].run;
            if (!same_setting(o, t) || !(fabs(t->P - mid) <= PROFILE_P_HALF_WIDTH)) continue;
            double gap = fabs(log(o->N / t->N));
            if (gap <= best_gap) {
                best_gap = gap;
                best = k;
            }
        }
        if (best < 0) continue;
        typical[n] = best;
        other[n] = i;
        diff[n] = seed_matched_shape_difference(&st->runs[SW_ISOFLOP], l->s[best].run, o, &seeds[n]);
        n++;
    }
    if (n == 0) {
        fprintf(out, "**Missing:** no DLCM shape of another backbone share P was run beside a shape of its R's typical "
                     "P at about the same N (within %.0f %%) on the same budget.\n\n",
                100 * (SHARE_MAX_N_RATIO - 1));
        free(typical);
        free(other);
        free(diff);
        free(seeds);
        return;
    }
    fprintf(out, "How the split between the token stacks and the concept backbone matters at a fixed size: each DLCM "
                 "shape whose backbone share P lies outside its target R's typical band (the P most of that R's "
                 "shapes share, +- %.2f) beside the shape of that band on the same budget and R nearest to it in N (within "
                 "%.0f %%; N is matched, not equal, and the N ratio is shown). Losses are means over each shape's "
                 "finished seeds (count in brackets); the difference is paired by seed (the mean over the seeds "
                 "finished for both of the two runs' difference; runs of one seed read the data in the same order, "
                 "but two shapes never share their initialization). A pair changes P by changing widths or layer "
                 "counts, so P is what it varies and depth or width comes with it.\n\n"
                 "| budget C | R | typical: d_t, d_c | N | P | loss | other: d_t, d_c | N ratio | P | loss | other - "
                 "typical (seeds paired) |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
            PROFILE_P_HALF_WIDTH, 100 * (SHARE_MAX_N_RATIO - 1));
    for (int i = 0; i < n; i++) {
        const SShape *t = &l->s[typical[i]], *o = &l->s[other[i]];
        char d[48] = "-";
        if (seeds[i]) snprintf(d, sizeof d, "%+.4f (%d)", diff[i], seeds[i]);
        fprintf(out, "| %.3g | %g | %lld, %lld | %.3g | %.2f | %.4f (%d) | %lld, %lld | %.3f | %.2f | %.4f (%d) | %s |\n",
                t->run->budget, t->run->R, t->run->d_t, t->run->d_c, t->run->N, t->run->P, t->loss, t->k, o->run->d_t,
                o->run->d_c, o->run->N / t->run->N, o->run->P, o->loss, o->k, d);
    }
    fprintf(out, "\nPer direction, the mean over the pairs of that paired difference (positive: the other share does "
                 "worse than the typical one) with its 95 %% Student-t interval from the pairs' scatter (each pair one "
                 "unit, so a difference that changes with budget, size or R widens it):\n\n"
                 "| other P | pairs | seeds paired | loss(other) - loss(typical) [95%%] | sd of the differences |\n"
                 "|---|---|---|---|---|\n");
    double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    for (int side = 0; a && b && side < 2; side++) {
        int paired = 0;
        for (int i = 0; i < n; i++) {
            int lower = l->s[other[i]].run->P < l->s[typical[i]].run->P;
            a[i] = lower == (side == 0) ? diff[i] : NAN;
            b[i] = 0;
            if (isfinite(a[i])) paired += seeds[i];
        }
        PairedDifference d = paired_difference(a, b, n, 0.95);
        char ci[96], sd[32] = "-";
        fmt_ci(ci, sizeof ci, "%+.4f", d.mean, d.lo, d.hi);
        if (isfinite(d.sd)) snprintf(sd, sizeof sd, "%.4f", d.sd);
        fprintf(out, "| %s | %d | %d | %s | %s |\n", side == 0 ? "smaller than typical" : "larger than typical", d.n,
                paired, ci, sd);
    }
    if (!a || !b) fprintf(out, "| (out of memory) | | | | |\n");
    fprintf(out, "\nThis compares the shares run, near the sizes run: it says which split did better there, not where "
                 "the best split lies (the law's P term would, and the law is not identified unless its section says "
                 "so).\n\n");
    free(a);
    free(b);
    free(typical);
    free(other);
    free(diff);
    free(seeds);
}

static void section_mup(Study *st, FILE *out)
{
    fprintf(out, "## μP transfer\n\n");
    const char *claim = "Decoupled μP transfers the learning rate across widths (and SP does not)";
    if (st->n_mups == 0) {
        fprintf(out, "**Missing:** no μP sweep in the database (%s-mup, %s-mup-dt or %s-mup-dc).\n\n", st->o->study,
                st->o->study, st->o->study);
        add_claim(st, claim, "no μP sweep", CLAIM_MISSING);
        return;
    }
    int pass = 0, fail = 0, known = 0;
    char ours[400] = "";
    for (int i = 0; i < st->n_mups; i++) {
        MupPart *m = &st->mups[i];
        fprintf(out, "### `%s` (width axis %s; coordinate check: %s)\n\n", m->sweep, m->width,
                m->coord[0] ? m->coord : "the sweep's own runs with module statistics, if any");
        size_t used = strlen(ours);
        if (!m->json) {
            fprintf(out, "**Missing:** %s.\n\n", m->missing[0] ? m->missing : "no analysis");
            snprintf(ours + used, sizeof ours - used, "%s%s: missing", used ? "; " : "", m->sweep);
            continue;
        }
        const char *verdict = jstr(m->json, "verdict");
        known++;
        pass += !strcmp(verdict, "PASS");
        fail += !strcmp(verdict, "FAIL");
        snprintf(ours + used, sizeof ours - used, "%s%s: %s", used ? "; " : "", m->sweep, verdict);
        fprintf(out, "Verdict: **%s** (the rule of fit/README.md, computed by `dlcm-fit mup`).\n\n"
                     "| parametrization | slope of log2 LR* on log2 width | 95 %% interval | widths | max drift (grid steps) |\n"
                     "|---|---|---|---|---|\n",
                verdict);
        const char *params[2] = {"mup", "sp"};
        for (int k = 0; k < 2; k++) {
            json_object *t = jget(m->json, params[k]);
            if (!t) {
                fprintf(out, "| %s | missing | | | |\n", params[k]);
                continue;
            }
            json_object *ws = jget(t, "widths");
            char ci[96];
            fmt_ci(ci, sizeof ci, "%+.3f", jnum(t, "slope"), jnum(t, "slope_lo"), jnum(t, "slope_hi"));
            fprintf(out, "| %s | %+.3f | %s | %zu | %.2f |\n", params[k], jnum(t, "slope"), ci,
                    ws && json_object_is_type(ws, json_type_array) ? json_object_array_length(ws) : 0,
                    jnum(t, "max_drift_steps"));
        }
        /* dlcm-fit mup writes {"verdict": ..., "reasons": [...]}; a bare array is read too. */
        json_object *reasons = jget(m->json, "verdict_reasons");
        if (reasons && json_object_is_type(reasons, json_type_object)) reasons = jget(reasons, "reasons");
        fprintf(out, "\nReasons (`dlcm-fit mup`):\n\n");
        for (size_t r = 0; reasons && json_object_is_type(reasons, json_type_array) && r < json_object_array_length(reasons);
             r++) {
            json_object *x = json_object_array_get_idx(reasons, r);
            fprintf(out, "- %s\n", json_object_is_type(x, json_type_string) ? json_object_get_string(x) : jstr(x, "reason"));
        }
        fprintf(out, "\n");
    }
    /* Holds when every width axis passes; fails when one fails; otherwise undecided. */
    add_claim(st, claim, ours,
              known == 0 ? CLAIM_MISSING : fail ? CLAIM_FAILS : pass == st->n_mups ? CLAIM_HOLDS : CLAIM_UNDECIDED);
}

static void section_parser(Study *st, FILE *out)
{
    const SRuns *l = &st->runs[SW_PARSER];
    fprintf(out, "## The parser table (the paper's Table 4 at our scale; `%s`)\n\n",
            st->names[SW_PARSER][0] ? st->names[SW_PARSER] : "no parser sweep");
    double Rs[16];
    int n_R = distinct_values(l, 0, 1, Rs, 16);
    if (n_R == 0) {
        fprintf(out, "**Missing:** no finished DLCM run of a parser sweep.\n\n");
        add_claim(st, "The Global Parser keeps the realized R closer to the target than a per-sequence parser",
                  "no parser runs", CLAIM_MISSING);
        return;
    }
    fprintf(out, "Realized R (tokens per concept) in training (sampled boundaries) and in evaluation (thresholded), "
                 "and the final validation loss; mean over the runs of each cell, [min, max] over them.\n\n"
                 "| parser | target R | runs | realized R train | realized R eval | loss | mean abs(R_eval / R - 1) |\n"
                 "|---|---|---|---|---|---|---|\n");
    const char *parsers[2] = {"global", "per_sequence"};
    int separated = 0, reversed = 0, compared = 0;
    for (int k = 0; k < n_R; k++) {
        double dev_lo[2] = {INFINITY, INFINITY}, dev_hi[2] = {-INFINITY, -INFINITY};
        for (int p = 0; p < 2; p++) {
            double sum[4] = {0}, lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
            int n = 0;
            for (int i = 0; i < l->n; i++) {
                const SRun *r = &l->r[i];
                if (!run_done(r) || is_dense(r) || !same(r->R, Rs[k]) || strcmp(r->parser, parsers[p])) continue;
                double v[3] = {r->R_train, r->R_eval, r->loss};
                for (int j = 0; j < 3; j++) {
                    sum[j] += v[j];
                    lo[j] = fmin(lo[j], v[j]);
                    hi[j] = fmax(hi[j], v[j]);
                }
                double dev = fabs(r->R_eval / Rs[k] - 1);
                sum[3] += dev;
                dev_lo[p] = fmin(dev_lo[p], dev);
                dev_hi[p] = fmax(dev_hi[p], dev);
                n++;
            }
            if (!n) {
                fprintf(out, "| %s | %g | 0 | missing | | | |\n", parsers[p], Rs[k]);
                continue;
            }
            fprintf(out, "| %s | %g | %d | %.2f [%.2f, %.2f] | %.2f [%.2f, %.2f] | %.4f [%.4f, %.4f] | %.3f |\n", parsers[p],
                    Rs[k], n, sum[0] / n, lo[0], hi[0], sum[1] / n, lo[1], hi[1], sum[2] / n, lo[2], hi[2], sum[3] / n);
        }
        if (isfinite(dev_hi[0]) && isfinite(dev_hi[1])) {
            compared++;
            separated += dev_hi[0] < dev_lo[1];
            reversed += dev_lo[0] > dev_hi[1];
        }
    }
    char ours[400];
    snprintf(ours, sizeof ours, "at %d of %d target R the global parser's deviations all lie below the per-sequence "
             "parser's; at %d all above (ranges over runs)", separated, compared, reversed);
    add_claim(st, "The Global Parser keeps the realized R closer to the target than a per-sequence parser", ours,
              compared == 0 ? CLAIM_MISSING
              : separated == compared ? CLAIM_HOLDS
              : reversed == compared ? CLAIM_FAILS
                                     : CLAIM_UNDECIDED);
    fprintf(out, "\n");
}

typedef struct {
    HeldoutTask t[3];
    int n;
    char names[3][24];
} TaskRow;

static void collect_task(void *ctx, const HeldoutTask *t)
{
    TaskRow *row = ctx;
    if (row->n == 3) return;
    row->t[row->n] = *t;
    snprintf(row->names[row->n], sizeof row->names[row->n], "%s", t->task);
    row->t[row->n].task = row->names[row->n];
    row->n++;
}

/* The Wilson 95 % interval of a proportion p observed on n items. */
static void wilson_p(double p, long n, double *lo, double *hi)
{
    double z = 1.959963984540054;
    if (n <= 0) { *lo = NAN; *hi = NAN; return; }
    double z2 = z * z, c = (p + z2 / (2.0 * n)) / (1 + z2 / n);
    double h = z / (1 + z2 / n) * sqrt(p * (1 - p) / n + z2 / (4.0 * n * n));
    *lo = fmax(0, c - h);
    *hi = fmin(1, c + h);
}

/* A shape's accuracy on the held-out tasks: the items of the three tasks pooled per seed, the
 * accuracy averaged over its finished seeds that were scored. Every seed answers the same items,
 * so *items is one seed's count (the fewest among them): more seeds steady the accuracy, they add
 * no items. 0 when no seed of the shape has task scores. */
static int shape_task_accuracy(Study *st, const SShape *shape, double *accuracy, long *items, int *seeds)
{
    const SRuns *l = &st->runs[SW_ISOFLOP];
    ShapeKey key = shape_key(shape->run);
    double sum = 0;
    *items = 0;
    *seeds = 0;
    char err[256];
    for (int i = 0; i < l->n; i++) {
        const SRun *r = &l->r[i];
        ShapeKey other = shape_key(r);
        if (!run_done(r) || !seed_same_shape(&key, &other)) continue;
        TaskRow row = {0};
        if (heldout_read_tasks(st->db, r->id, collect_task, &row, err, sizeof err)) continue;
        long k = 0, n = 0;
        for (int j = 0; j < row.n; j++) {
            k += row.t[j].correct;
            n += row.t[j].items;
        }
        if (n == 0) continue;
        sum += (double)k / n;
        if (*seeds == 0 || n < *items) *items = n;
        (*seeds)++;
    }
    *accuracy = *seeds ? sum / *seeds : NAN;
    return *seeds > 0;
}

static void section_tasks(Study *st, FILE *out)
{
    fprintf(out, "## Held-out tasks\n\nAccuracy of every finished run of the isoFLOP sweep on the first items of each "
                 "held-out task (cloze: the target among 10 candidates; next sentence and definition: 4 choices), "
                 "scored by the trainer after its last step (engine/train/heldout.h), with Wilson 95 %% intervals.\n\n"
                 "| run | family | budget C | N | R | cloze | next_sentence | definition |\n|---|---|---|---|---|---|---|---|\n");
    const SRuns *l = &st->runs[SW_ISOFLOP];
    int rows = 0, without = 0;
    char err[256];
    for (int i = 0; i < l->n; i++) {
        const SRun *r = &l->r[i];
        if (!run_done(r)) continue;
        TaskRow row = {0};
        if (heldout_read_tasks(st->db, r->id, collect_task, &row, err, sizeof err) || row.n == 0) {
            without++;
            continue;
        }
        char cells[3][96] = {"-", "-", "-"};
        const char *order[3] = {"cloze", "next_sentence", "definition"};
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < row.n; j++)
                if (!strcmp(row.t[j].task, order[k]))
                    snprintf(cells[k], sizeof cells[k], "%.3f [%.3f, %.3f] (%ld)", row.t[j].accuracy, row.t[j].ci_low,
                             row.t[j].ci_high, row.t[j].items);
        fprintf(out, "| `%.12s` | %s | %.3g | %.3g | %g | %s | %s | %s |\n", r->id, r->family, r->budget, r->N,
                r->R, cells[0], cells[1], cells[2]);
        rows++;
    }
    if (!rows) fprintf(out, "| (none) | | | | | | | |\n");
    if (without) fprintf(out, "\n**Missing:** %d finished run%s without task scores (trained before the trainer scored "
                              "tasks, or without data.dir/tasks on the machine that trained %s).\n",
                         without, without == 1 ? "" : "s", without == 1 ? "it" : "them");
    fprintf(out, "\n");
    /* The claim: the best DLCM shape against the best dense shape at the largest budget (least
     * mean loss over their seeds), items of the three tasks pooled, accuracy averaged over seeds. */
    char ours[400] = "no task scores at the largest budget";
    ClaimVerdict v = CLAIM_MISSING;
    if (st->n_budgets) {
        double C = st->budgets[st->n_budgets - 1];
        const SShape *best[2] = {best_shape(&st->shapes, 0, C, 0), best_shape(&st->shapes, 1, C, 0)};
        double acc[2], lo[2], hi[2];
        long items[2];
        int seeds[2], scored = 1;
        for (int f = 0; f < 2; f++) {
            scored &= best[f] && shape_task_accuracy(st, best[f], &acc[f], &items[f], &seeds[f]);
            if (scored) wilson_p(acc[f], items[f], &lo[f], &hi[f]);
        }
        if (scored) {
            snprintf(ours, sizeof ours, "at C = %.3g, items of the three tasks pooled: best DLCM %.3f [%.3f, %.3f], best "
                     "dense %.3f [%.3f, %.3f]", C, acc[0], lo[0], hi[0], acc[1], lo[1], hi[1]);
            if (seeds[0] > 1 || seeds[1] > 1)
                snprintf(ours + strlen(ours), sizeof ours - strlen(ours),
                         " (accuracy averaged over %d and %d seeds; the intervals count each item once)", seeds[0],
                         seeds[1]);
            v = lo[0] > hi[1] ? CLAIM_HOLDS : hi[0] < lo[1] ? CLAIM_FAILS : CLAIM_UNDECIDED;
        }
    }
    add_claim(st, "At matched compute a DLCM is more accurate than dense on held-out zero-shot tasks", ours, v);
}

/* Realized tokens per concept of each domain split at a run's last evaluation. */
#define MAX_DOMAINS 8
typedef struct {
    char names[MAX_DOMAINS][48];
    double R[MAX_DOMAINS];
    int n;
} DomainRow;

static void collect_domain(void *ctx, const char *split, double loss, double realized_R)
{
    DomainRow *d = ctx;
    if (strncmp(split, "val-", 4) || d->n == MAX_DOMAINS || !isfinite(realized_R)) return;
    snprintf(d->names[d->n], sizeof d->names[d->n], "%s", split + 4);
    d->R[d->n++] = realized_R;
}

static void section_granularity(Study *st, FILE *out)
{
    fprintf(out, "## Tokens per concept per domain (the paper's Table 5)\n\nRealized R (tokens per concept, thresholded "
                 "boundaries) on each held-out domain at the runs' last evaluation, per target R over the finished "
                 "global-parser DLCM runs of the isoFLOP and parser sweeps (the per-sequence parser's evaluation R "
                 "drifts far from its target: the parser table above): mean [min, max] over runs.\n\n");
    char domains[MAX_DOMAINS][48];
    int n_domains = 0;
    double Rs[16];
    SRuns both = {0};
    for (int s = 0; s < 3; s += 2)
        for (int i = 0; i < st->runs[s].n; i++) {
            if (both.n == both.cap) {
                int cap = both.cap ? 2 * both.cap : 64;
                SRun *g = realloc(both.r, (size_t)cap * sizeof *g);
                if (!g) break;
                both.r = g;
                both.cap = cap;
            }
            both.r[both.n++] = st->runs[s].r[i];
        }
    int n_R = distinct_values(&both, 0, 1, Rs, 16);
    double sum[16][MAX_DOMAINS] = {{0}}, lo[16][MAX_DOMAINS], hi[16][MAX_DOMAINS];
    int cnt[16][MAX_DOMAINS] = {{0}};
    /* Per run, the domains' R side by side (NaN where a domain is missing), for the paired test. */
    double *paired = malloc((size_t)(both.n ? both.n : 1) * MAX_DOMAINS * sizeof *paired);
    int *paired_R = malloc((size_t)(both.n ? both.n : 1) * sizeof *paired_R);
    int n_paired = 0;
    char err[256];
    for (int i = 0; paired && paired_R && i < both.n; i++) {
        const SRun *r = &both.r[i];
        if (!run_done(r) || is_dense(r) || !strcmp(r->parser, "per_sequence")) continue;
        int k = 0;
        while (k < n_R && !same(Rs[k], r->R)) k++;
        if (k == n_R) continue;
        DomainRow d = {0};
        if (study_final_evals(st->db, r->id, collect_domain, &d, err, sizeof err)) continue;
        double *row = &paired[(size_t)n_paired * MAX_DOMAINS];
        for (int m = 0; m < MAX_DOMAINS; m++) row[m] = NAN;
        for (int j = 0; j < d.n; j++) {
            int m = 0;
            while (m < n_domains && strcmp(domains[m], d.names[j])) m++;
            if (m == n_domains) {
                if (n_domains == MAX_DOMAINS) continue;
                snprintf(domains[n_domains++], sizeof domains[0], "%s", d.names[j]);
            }
            if (!cnt[k][m]) lo[k][m] = hi[k][m] = d.R[j];
            sum[k][m] += d.R[j];
            lo[k][m] = fmin(lo[k][m], d.R[j]);
            hi[k][m] = fmax(hi[k][m], d.R[j]);
            cnt[k][m]++;
            row[m] = d.R[j];
        }
        paired_R[n_paired++] = k;
    }
    free(both.r);
    if (n_domains == 0 || !paired || !paired_R) {
        fprintf(out, "%s\n\n", n_domains ? "**Missing:** out of memory while reading the per-domain evaluations."
                                          : "**Missing:** no DLCM run with per-domain evaluations.");
        add_claim(st, "Concept granularity adapts to the content: tokens per concept differ between domains",
                  n_domains ? "out of memory" : "no per-domain evaluations", CLAIM_MISSING);
        free(paired);
        free(paired_R);
        return;
    }
    fprintf(out, "| target R |");
    for (int m = 0; m < n_domains; m++) fprintf(out, " %s |", domains[m]);
    fprintf(out, "\n|---|");
    for (int m = 0; m < n_domains; m++) fprintf(out, "---|");
    fprintf(out, "\n");
    for (int k = 0; k < n_R; k++) {
        fprintf(out, "| %g |", Rs[k]);
        for (int m = 0; m < n_domains; m++) {
            if (!cnt[k][m]) fprintf(out, " - |");
            else fprintf(out, " %.2f [%.2f, %.2f] (%d) |", sum[k][m] / cnt[k][m], lo[k][m], hi[k][m], cnt[k][m]);
        }
        fprintf(out, "\n");
    }
    /* The runs differ in size, target R and length far more than the domains differ, so ranges
     * over runs overlap even where every run cuts one domain finer than another: the verdict
     * compares the domains within each run (a paired ratio), Bonferroni-corrected over every
     * (target R, pair of domains) with at least 3 runs. */
    double *a = malloc((size_t)(n_paired ? n_paired : 1) * sizeof *a), *b = malloc((size_t)(n_paired ? n_paired : 1) * sizeof *b);
    int tests = 0, differ = 0;
    char largest[160] = "";
    double largest_size = -1;
    for (int pass = 0; pass < 2 && a && b; pass++) {
        double level = tests ? 1 - 0.05 / tests : 0.95;
        if (pass == 1)
            fprintf(out, "\nPaired within runs (global parser): R of one domain over another's on the same run, the "
                         "typical ratio (geometric mean over runs) with its %.4g %% t-interval (95 %% Bonferroni-corrected "
                         "over the %d comparisons with at least 3 runs). *differ*: the interval excludes 1.\n\n"
                         "| target R | domains | runs | R ratio [interval] | |\n|---|---|---|---|---|\n",
                    100 * level, tests);
        for (int k = 0; k < n_R; k++)
            for (int m1 = 0; m1 < n_domains; m1++)
                for (int m2 = m1 + 1; m2 < n_domains; m2++) {
                    int n = 0;
                    for (int i = 0; i < n_paired; i++) {
                        if (paired_R[i] != k) continue;
                        a[n] = paired[(size_t)i * MAX_DOMAINS + m1];
                        b[n] = paired[(size_t)i * MAX_DOMAINS + m2];
                        n++;
                    }
                    DomainRatio d = domain_ratio(a, b, n, level);
                    if (pass == 0) {
                        tests += d.n >= 3;
                        continue;
                    }
                    if (d.n < 3) {
                        if (d.n > 0)
                            fprintf(out, "| %g | %s / %s | %d | %.3f (fewer than 3 runs: no interval) | |\n", Rs[k],
                                    domains[m1], domains[m2], d.n, d.ratio);
                        continue;
                    }
                    int excl = d.lo > 1 || d.hi < 1;
                    differ += excl;
                    if (excl && fabs(log(d.ratio)) > largest_size) {
                        largest_size = fabs(log(d.ratio));
                        snprintf(largest, sizeof largest, "; the largest: %.24s / %.24s at R %g, %.3f [%.3f, %.3f]", domains[m1],
                                 domains[m2], Rs[k], d.ratio, d.lo, d.hi);
                    }
                    fprintf(out, "| %g | %s / %s | %d | %.3f [%.3f, %.3f] | %s |\n", Rs[k], domains[m1], domains[m2], d.n,
                            d.ratio, d.lo, d.hi, excl ? "differ" : "");
                }
    }
    fprintf(out, "\n");
    free(a);
    free(b);
    free(paired);
    free(paired_R);
    char ours[400];
    snprintf(ours, sizeof ours, "%d of %d paired comparisons (target R x pair of domains, within runs, 95 %% "
             "Bonferroni-corrected) find one domain cut into longer concepts than another%s", differ, tests, largest);
    add_claim(st, "Concept granularity adapts to the content: tokens per concept differ between domains", ours,
              tests == 0 ? CLAIM_MISSING : differ > 0 ? CLAIM_HOLDS : CLAIM_UNDECIDED);
}

typedef struct {
    char names[8][64];
    int n;
} SplitList;

static void collect_split(void *ctx, const char *split)
{
    SplitList *l = ctx;
    if (l->n < 8) snprintf(l->names[l->n++], sizeof l->names[0], "%s", split);
}

/* The profile of one DLCM run against one dense run over every split both scored on the same tokens. */
static int build_profile(Study *st, const SRun *dlcm, const SRun *dense, Profile *p, int *splits)
{
    SplitList list = {0};
    char err[512];
    *splits = 0;
    if (heldout_token_splits(st->db, dlcm->id, collect_split, &list, err, sizeof err)) return -1;
    ProfileData data;
    memset(&data, 0, sizeof data);
    for (int i = 0; i < list.n; i++) {
        HeldoutTokensRead a, b;
        if (heldout_read_tokens(st->db, dlcm->id, list.names[i], &a, err, sizeof err)) continue;
        if (heldout_read_tokens(st->db, dense->id, list.names[i], &b, err, sizeof err)) {
            heldout_tokens_free(&a);
            continue;
        }
        if (a.concept_pos && !strcmp(a.tokens_hash, b.tokens_hash) && a.n == b.n && a.windows > 0 &&
            profile_add(&data, a.loss, a.concept_pos, b.loss, a.n, a.n / a.windows) == 0)
            (*splits)++;
        heldout_tokens_free(&a);
        heldout_tokens_free(&b);
    }
    int rc = *splits ? profile_compute(&data, p) : -1;
    profile_free(&data);
    return rc;
}

static void plot_profiles(Study *st, const Profile *profiles, const double *Rs, int n)
{
    Plot p;
    char err[512];
    if (plot_begin(&p, st->o->out_dir, "loss-by-concept-position", "loss by position within a concept: DLCM - dense",
                   "position of the token within its concept (last: that position or later)",
                   "DLCM loss - dense loss (nats)", 0, 0, err, sizeof err)) {
        fprintf(stderr, "dlcm-report: %s\n", err);
        return;
    }
    char cmd[4096];
    size_t used = (size_t)snprintf(cmd, sizeof cmd, "plot 0 with lines lc rgb 'gray' notitle");
    for (int k = 0; k < n; k++) {
        int block;
        FILE *f = plot_block(&p, &block);
        if (!f) continue;
        fprintf(f, "\"R=%g\"\n", Rs[k]);
        for (int b = 0; b < PROFILE_POSITIONS; b++)
            if (profiles[k].tokens[b] >= PROFILE_MIN_TOKENS)
                fprintf(f, "%d %.6g %.6g %.6g\n", b, profiles[k].gap[b], profiles[k].gap_lo[b], profiles[k].gap_hi[b]);
        fclose(f);
        char path[700];
        plot_block_path(&p, block, path, sizeof path);
        used += (size_t)snprintf(cmd + used, sizeof cmd - used,
                                 ", '%s' using 1:2:3:4 with yerrorlines lw 1.5 pt 7 lc %d title columnheader(1)", path,
                                 k + 1);
        if (used >= sizeof cmd) break;
    }
    plot_command(&p, cmd);
    fflush(stdout);
    if (plot_finish(&p, err, sizeof err)) fprintf(stderr, "dlcm-report: %s\n", err);
}

static void section_profile(Study *st, FILE *out)
{
    fprintf(out, "## Loss by position within a concept (the paper's Figure 7)\n\n");
    const SRuns *l = &st->runs[SW_ISOFLOP];
    if (st->n_budgets == 0) {
        fprintf(out, "**Missing:** no finished isoFLOP runs.\n\n");
        add_claim(st, "The DLCM's loss relative to dense is U-shaped over the positions within a concept",
                  "no runs", CLAIM_MISSING);
        return;
    }
    double C = st->budgets[st->n_budgets - 1], Rs[16];
    int n_R = distinct_values(l, 0, 1, Rs, 16), shown = 0;
    Profile profiles[16];
    double shown_R[16];
    /* The best shapes by their mean loss over seeds (one seed each: the best runs), each profiled
     * by the run of its first finished seed: picking the single best seed would favour lucky ones. */
    const SShape *dense_shape = best_shape(&st->shapes, 1, C, 0);
    const SRun *dense = dense_shape ? dense_shape->run : NULL;
    if (st->shapes.max_k > 1)
        fprintf(out, "Each family's shape is the one of least mean loss over its seeds; its profile is that of its first "
                     "finished seed's run. ");
    fprintf(out, "At the largest budget C = %.3g: the best DLCM run of each target R against the best dense run of "
                 "the same budget (`%s`), on the same held-out tokens (%d windows of each domain shard; the per-token "
                 "losses the trainer stored). Position 0 is a concept's first token; the last row pools the later "
                 "positions. Gap = DLCM - dense, with a 95 %% bootstrap interval over the windows (resampled whole). "
                 "U-shape: the gap at position 0 and at the last position with at least %d tokens both exceed the "
                 "smallest gap between them, in the share of resamples given (>= 97.5 %%: holds; <= 2.5 %%: does not).\n\n",
            C, dense ? dense->id : "none", 8, PROFILE_MIN_TOKENS);
    for (int k = 0; k < n_R && dense; k++) {
        const SShape *shape = best_shape(&st->shapes, 0, C, Rs[k]);
        const SRun *m = shape ? shape->run : NULL;
        if (!m) continue;
        Profile p;
        int splits;
        if (build_profile(st, m, dense, &p, &splits)) {
            fprintf(out, "R = %g (`%s`): **missing** — no per-token losses on the same tokens as the dense run.\n\n", Rs[k],
                    m->id);
            continue;
        }
        fprintf(out, "### R = %g (`%.12s`, %d split%s, %d windows)\n\n| position | tokens | DLCM loss | dense loss | gap [95%%] |\n"
                     "|---|---|---|---|---|\n",
                Rs[k], m->id, splits, splits == 1 ? "" : "s", p.windows);
        for (int b = 0; b < PROFILE_POSITIONS; b++) {
            if (!p.tokens[b]) continue;
            char gap[96];
            fmt_ci(gap, sizeof gap, "%+.4f", p.gap[b], p.gap_lo[b], p.gap_hi[b]);
            fprintf(out, "| %d%s | %ld | %.4f | %.4f | %s |\n", b, b == PROFILE_POSITIONS - 1 ? "+" : "", p.tokens[b],
                    p.dlcm[b], p.dense[b], gap);
        }
        ClaimVerdict v = profile_u_verdict(&p);
        fprintf(out, "\nU-shape in %.1f %% of resamples (ends 0 and %d, smallest interior gap at %d): %s.\n\n",
                100 * p.u_share, p.last, p.min_at, claim_verdict_text(v));
        char paper[200], ours[400];
        snprintf(paper, sizeof paper, "The DLCM's loss relative to dense is U-shaped over the positions within a concept (R = %g)", Rs[k]);
        snprintf(ours, sizeof ours, "U-shape in %.1f %% of window resamples (gap at 0: %+.3f, at %d: %+.3f, interior minimum %+.3f at %d)",
                 100 * p.u_share, p.gap[0], p.last, p.last >= 0 ? p.gap[p.last] : NAN,
                 p.min_at >= 0 ? p.gap[p.min_at] : NAN, p.min_at);
        add_claim(st, paper, ours, v);
        profiles[shown] = p;
        shown_R[shown++] = Rs[k];
    }
    if (!shown) {
        fprintf(out, "**Missing:** no DLCM and dense pair at C = %.3g with per-token losses on the same tokens.\n\n", C);
        add_claim(st, "The DLCM's loss relative to dense is U-shaped over the positions within a concept",
                  "no pair of runs with per-token losses", CLAIM_MISSING);
        return;
    }
    plot_profiles(st, profiles, shown_R, shown);
}

static void section_sessions(Study *st, FILE *out)
{
    fprintf(out, "## Device sessions\n\nEvery run of the database grouped by GPU model into sessions (runs whose "
                 "start-to-finish spans chain with gaps under 10 minutes); aggregate TFLOP/s = the FLOPs the runs "
                 "launched (planned 3 F D where the trainer recorded none) over the session's wall time.\n\n"
                 "| session | GPU | host | start (UTC) | wall time | runs | aggregate TFLOP/s |\n|---|---|---|---|---|---|---|\n");
    const SRuns *l = &st->all;
    SessionRun *rs = calloc((size_t)(l->n ? l->n : 1), sizeof *rs);
    Session sessions[256];
    int n = 0, m = 0;
    for (int i = 0; rs && i < l->n; i++) {
        const SRun *r = &l->r[i];
        if (!r->gpu[0] || !isfinite(r->started) || !isfinite(r->finished)) continue;
        rs[m].start = r->started;
        rs[m].end = r->finished;
        rs[m].flops = isfinite(r->flops_launched) ? r->flops_launched : r->train_flops;
        snprintf(rs[m].gpu, sizeof rs[m].gpu, "%s", r->gpu);
        snprintf(rs[m].host, sizeof rs[m].host, "%s", r->host);
        m++;
    }
    if (rs) n = sessions_group(rs, m, 600, sessions, 256);
    free(rs);
    for (int i = 0; i < n; i++) {
        Session *s = &sessions[i];
        time_t when = (time_t)s->start;
        char date[64];
        strftime(date, sizeof date, "%Y-%m-%d %H:%M", gmtime(&when));
        double wall = s->end - s->start;
        fprintf(out, "| %d | %s | %s | %s | %.0f s | %d | %.2f |\n", i + 1, s->gpu, s->host, date, wall, s->runs,
                wall > 0 ? s->flops / wall / 1e12 : NAN);
    }
    if (!n) fprintf(out, "| (none: no run records a GPU) | | | | | | |\n");
    fprintf(out, "\n### Where the runs' wall time went\n\nPer sweep, the runs finished in one attempt: their mean wall "
                 "time (claimed to finished) and the share spent in training steps (from each run's tokens/s: every run); "
                 "then, over the runs trained by one trainer process that recorded its phases (not resumed), the share "
                 "of each phase; *launch and start-up* is "
                 "the wall time outside the trainer's phases (starting the process and the device, the last "
                 "writes). Packed runs share a GPU, so these are shares of each run's own time, not of the GPU's.\n\n");
    char err[512];
    if (wall_time_table(out, st->db, st->o->study, err, sizeof err))
        fprintf(stderr, "dlcm-report: the wall-time table is left out: %s\n", err);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void section_figures(Study *st, FILE *out)
{
    fprintf(out, "## Figures\n\nThe isoFLOP sweep's own report, with the isoFLOP curves, N_opt and D_opt against C, "
                 "training curves per budget and residuals, is [report.md](report.md). Its isoFLOP curves and minima are "
                 "the stored law's (drawn at the budgets where a line has runs), not the law-free quadratics of the "
                 "isoFLOP tables above: where the law is not identified, read the tables.\n\n");
    DIR *d = opendir(st->o->out_dir);
    if (!d) return;
    char *names[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".png")) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, compare_names);
    for (int i = 0; i < n; i++) {
        if (names[i]) fprintf(out, "### %.*s\n\n![%s](%s)\n\n", (int)strlen(names[i]) - 4, names[i], names[i], names[i]);
        free(names[i]);
    }
}

/* ---- main ---------------------------------------------------------------------------------- */

/* The stored name of the latest version of the sweep NAME-suffix; 0 found, else 1. */
static int find_sweep(Study *st, const char *suffix, char *name, size_t n)
{
    char base[300], *text = NULL, err[512];
    int64_t id;
    int version;
    snprintf(base, sizeof base, "%s-%s", st->o->study, suffix);
    int rc = study_latest_version(st->db, base, &id, name, (int)n, &version, &text, err, sizeof err);
    free(text);
    if (rc != 0) name[0] = '\0';
    return rc != 0;
}

static void find_sweeps(Study *st)
{
    static const char *const mup_axes[3][3] = {{"mup", "coord", "auto"}, {"mup-dt", "coord-dt", "d_t"},
                                                {"mup-dc", "coord-dc", "d_c"}};
    for (int a = 0; a < 3; a++) {
        MupPart *m = &st->mups[st->n_mups];
        memset(m, 0, sizeof *m);
        if (find_sweep(st, mup_axes[a][0], m->sweep, sizeof m->sweep)) continue;
        find_sweep(st, mup_axes[a][1], m->coord, sizeof m->coord);
        m->width = mup_axes[a][2];
        char err[512];
        if (study_sweep_runs(st->db, m->sweep, collect, &m->runs, err, sizeof err)) fprintf(stderr, "dlcm-report: %s\n", err);
        st->n_mups++;
    }
    if (st->n_mups == 0) {
        char base[300];
        snprintf(base, sizeof base, "%s-mup, %s-mup-dt or %s-mup-dc", st->o->study, st->o->study, st->o->study);
        add_missing(st, "no μP sweep (%s) is in the database", base);
    }
    for (int s = 0; s < 3; s += 2) {
        char base[300], *text = NULL;
        int64_t id;
        int version;
        char err[512];
        snprintf(base, sizeof base, "%s-%s", st->o->study, sweep_suffix[s]);
        int rc = study_latest_version(st->db, base, &id, st->names[s], sizeof st->names[s], &version, &text, err, sizeof err);
        free(text);
        if (rc != 0) {
            st->names[s][0] = '\0';
            add_missing(st, "the sweep `%s` is not in the database", base);
            continue;
        }
        if (study_sweep_runs(st->db, st->names[s], collect, &st->runs[s], err, sizeof err))
            fprintf(stderr, "dlcm-report: %s\n", err);
        int done = 0;
        for (int i = 0; i < st->runs[s].n; i++) done += run_done(&st->runs[s].r[i]);
        if (!done) add_missing(st, "the sweep `%s` has no finished runs", st->names[s]);
    }
}

static void write_header(Study *st, FILE *out)
{
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(out, "# Study: %s\n\nWritten by `dlcm-report --study %s` (%s) from `%s` on %s. Every number comes with "
                 "its 95 %% interval; every verdict below is computed from those intervals by the rules stated with "
                 "it, none is written by hand.\n\n| sweep | runs | done | failed | other |\n|---|---|---|---|---|\n",
            st->o->study, st->o->study, cli_commit(), st->o->db_path, date);
    for (int i = 0; i < st->n_mups; i++) {
        int done = 0, failed = 0;
        const SRuns *r = &st->mups[i].runs;
        for (int j = 0; j < r->n; j++) {
            done += run_done(&r->r[j]);
            failed += strcmp(r->r[j].status, "failed") == 0;
        }
        fprintf(out, "| %s | %d | %d | %d | %d |\n", st->mups[i].sweep, r->n, done, failed, r->n - done - failed);
    }
    for (int s = 0; s < 3; s += 2) {
        if (!st->names[s][0]) {
            fprintf(out, "| %s-%s | missing | | | |\n", st->o->study, sweep_suffix[s]);
            continue;
        }
        int done = 0, failed = 0;
        for (int i = 0; i < st->runs[s].n; i++) {
            done += run_done(&st->runs[s].r[i]);
            failed += strcmp(st->runs[s].r[i].status, "failed") == 0;
        }
        fprintf(out, "| %s | %d | %d | %d | %d |\n", st->names[s], st->runs[s].n, done, failed,
                st->runs[s].n - done - failed);
    }
    fprintf(out, "\n");
    if (st->missing[0]) fprintf(out, "**What is missing** (the sections that need it say so):\n\n%s\n", st->missing);
}

static void write_claims(Study *st, FILE *out)
{
    fprintf(out, "## The paper's claims beside ours\n\nEach verdict is computed: *holds* when the 95 %% interval lies "
                 "wholly on the claim's side, *does not hold* when it lies wholly on the other, *cannot decide at this "
                 "scale* when it straddles (or the law behind it is not identified), *missing* when the study lacks the "
                 "runs.\n\n| claim (Qu et al. 2025) | ours | verdict |\n|---|---|---|\n");
    for (int i = 0; i < st->n_claims; i++)
        fprintf(out, "| %s | %s | **%s** |\n", st->claims[i].paper, st->claims[i].ours,
                claim_verdict_text(st->claims[i].verdict));
    fprintf(out, "\n");
}

static void study_free(Study *st)
{
    for (int k = 0; k < 2; k++)
        if (st->have_law[k]) {
            summary_free(&st->law[k]);
            isoflop_fit_free(&st->loaded[k]);
        }
    for (int i = 0; i < st->n_mups; i++) {
        if (st->mups[i].json) json_object_put(st->mups[i].json);
        free(st->mups[i].runs.r);
    }
    for (int s = 0; s < 3; s++) free(st->runs[s].r);
    free(st->all.r);
    free(st->shapes.s);
    memset(st, 0, sizeof *st);
}

int study_report(sqlite3 *db, const StudyReportOptions *o)
{
    static Study st;
    memset(&st, 0, sizeof st);
    st.db = db;
    st.o = o;
    find_sweeps(&st);
    char err[512];
    if (study_sweep_runs(db, NULL, collect, &st.all, err, sizeof err)) fprintf(stderr, "dlcm-report: %s\n", err);
    if (!st.names[SW_ISOFLOP][0] && !st.names[SW_PARSER][0] && st.n_mups == 0) {
        fprintf(stderr, "dlcm-report: %s: no sweep of the study %s (%s-isoflop, %s-mup, %s-parser)\n", o->db_path,
                o->study, o->study, o->study, o->study);
        study_free(&st);
        return CLI_EXIT_BAD_INPUT;
    }
    if (mkdir(o->out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "dlcm-report: %s: %s\n", o->out_dir, strerror(errno));
        study_free(&st);
        return CLI_EXIT_FAILURE;
    }
    st.n_budgets = distinct_values(&st.runs[SW_ISOFLOP], -1, 0, st.budgets, 32);
    if (shapes_of(&st.runs[SW_ISOFLOP], &st.shapes)) {
        fprintf(stderr, "dlcm-report: out of memory averaging the isoFLOP runs' seeds\n");
        study_free(&st);
        return CLI_EXIT_FAILURE;
    }
    study_noise_measure(&st);
    int rc = CLI_EXIT_OK;
    if (st.names[SW_ISOFLOP][0] && st.n_budgets) {
        gather_law(&st, 0);
        gather_law(&st, 1);
        const char *texts[2];
        const char *names[2] = {"dlcm fit", "chinchilla fit"};
        int n = 0;
        char *owned[2] = {NULL, NULL};
        for (int k = 0; k < 2; k++) {
            if (!st.have_law[k]) continue;
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%.4000s/fit-%s.json", o->out_dir, k == 0 ? "dlcm" : "chinchilla");
            owned[n] = slurp(path);
            if (owned[n]) texts[n] = owned[n], n++;
        }
        fflush(stdout);
        if (report_sweep(db, o->db_path, st.names[SW_ISOFLOP], o->out_dir, texts, names, n) != CLI_EXIT_OK)
            rc = CLI_EXIT_FAILURE;
        free(owned[0]);
        free(owned[1]);
    } else {
        snprintf(st.law_missing[0], sizeof st.law_missing[0], "no finished run of the isoFLOP sweep");
        snprintf(st.law_missing[1], sizeof st.law_missing[1], "no finished run of the isoFLOP sweep");
    }
    for (int i = 0; i < st.n_mups; i++) gather_mup(&st, &st.mups[i]);

    char *body = NULL;
    size_t body_len = 0;
    FILE *b = open_memstream(&body, &body_len);
    if (!b) {
        study_free(&st);
        return CLI_EXIT_FAILURE;
    }
    section_law(&st, b);
    section_chinchilla(&st, b);
    section_isoflop_profiles(&st, b);
    section_comparison(&st, b);
    section_recommendation(&st, b);
    section_ratio(&st, b);
    section_share(&st, b);
    section_mup(&st, b);
    section_parser(&st, b);
    section_tasks(&st, b);
    section_granularity(&st, b);
    section_profile(&st, b);
    section_sessions(&st, b);
    section_figures(&st, b);
    fclose(b);

    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof path, "%.4000s/README.md", o->out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fprintf(stderr, "dlcm-report: %s: %s\n", tmp, strerror(errno));
        rc = CLI_EXIT_FAILURE;
    } else {
        write_header(&st, out);
        write_claims(&st, out);
        fputs(body, out);
        if (fclose(out) != 0 || rename(tmp, path) != 0) {
            fprintf(stderr, "dlcm-report: %s: %s\n", path, strerror(errno));
            unlink(tmp);
            rc = CLI_EXIT_FAILURE;
        } else {
            printf("dlcm-report: %s\n", path);
        }
    }
    free(body);
    study_free(&st);
    return rc;
}
