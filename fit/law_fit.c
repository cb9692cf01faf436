/* fit/law_fit.c: the law fit pipeline behind dlcm-fit: data, fit, bootstrap, validation,
 * summary and outputs, with the Chinchilla reference check. */
#include "fit/law_fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit/law.h"
#include "fit/law_plots.h"
#include "fit/output.h"
#include "fit/summary.h"

/* Rounds to three significant figures (the reference check's precision). */
static double round3(double x)
{
    if (x == 0 || !isfinite(x)) return x;
    double scale = pow(10.0, 2 - (int)floor(log10(fabs(x))));
    return round(x * scale) / scale;
}

static int check_reference(const LawSummary *s)
{
    static const char *const names[] = {"E", "A", "B", "alpha", "beta"};
    static const double published[] = {1.817, 478, 2143, 0.3473, 0.3672};
    static const double huber_mle[] = {1.817, 482.0, 2085.4, 0.348, 0.366};
    printf("\nChinchilla reference (Besiroglu et al. 2024; 5 highest losses dropped)\n");
    printf("  %-6s %12s %12s %12s %12s %12s  %s\n", "coef", "ours", "95% lo", "95% hi", "published", "Huber-MLE", "3 s.f.");
    int ok = 1;
    for (int j = 0; j < 5; j++) {
        int match = round3(s->coef[j]) == round3(published[j]);
        ok &= match;
        printf("  %-6s %12.6g %12.6g %12.6g %12.6g %12.6g  %s\n", names[j], s->coef[j], s->lo[j], s->hi[j], published[j],
               huber_mle[j], match ? "match" : "MISMATCH");
    }
    printf("reference check: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : -1;
}

/* The points: read, selected, trimmed and checked. 0, or the exit status with a message. */
static int load_points(const LawFitOptions *o, const Law *law, FitData *data)
{
    char err[1024];
    if (o->csv) {
        if (fit_data_read_csv(o->csv, law->kind == LAW_DLCM, data, err, sizeof err)) {
            fprintf(stderr, "dlcm-fit: %s\n", err);
            return 2;
        }
    } else {
        sqlite3 *db = output_open_existing_db(o->db_path, err, sizeof err);
        if (!db) { fprintf(stderr, "dlcm-fit: %s\n", err); return 1; }
        int rc = fit_data_read_sweep(db, o->sweep, &o->select, o->use_train_loss, data, err, sizeof err);
        db_close(db);
        if (rc) { fprintf(stderr, "dlcm-fit: %s: %s\n", o->db_path, err); return 2; }
    }
    if (fit_data_select(data, &o->select, err, sizeof err)) {
        fprintf(stderr, "dlcm-fit: %s\n", err);
        fit_data_free(data);
        return 2;
    }
    if (o->vocab) data->vocab = o->vocab;
    if (o->seq_len) data->seq_len = o->seq_len;
    fit_data_drop_top_loss(data, o->drop_top_loss);
    if (fit_data_check(data, law->k, law->kind == LAW_DLCM, err, sizeof err)) {
        fprintf(stderr, "dlcm-fit: %s\n", err);
        fit_data_free(data);
        return 2;
    }
    return 0;
}

static void data_ranges(LawSummary *s, const FitData *data)
{
    s->R_min = s->P_min = INFINITY;
    s->R_max = s->P_max = 0;
    for (int i = 0; i < data->n; i++) {
        const FitPoint *p = &data->pts[i];
        s->budget_max = fmax(s->budget_max, p->C);
        if (p->dense) continue;
        s->R_min = fmin(s->R_min, p->R);
        s->R_max = fmax(s->R_max, p->R);
        s->P_min = fmin(s->P_min, p->P);
        s->P_max = fmax(s->P_max, p->P);
    }
    if (!isfinite(s->R_min)) s->R_min = s->R_max = 1, s->P_min = s->P_max = 0;
}

/* Plots go beside the data unless told otherwise: the database's or the CSV's directory. */
static void plot_place(const LawFitOptions *o, const Law *law, char *dir, size_t dirlen, char *prefix, size_t prefixlen)
{
    if (o->plots_dir) snprintf(dir, dirlen, "%s", o->plots_dir);
    else output_dir_of(o->csv ? o->csv : o->db_path, dir, (int)dirlen);
    if (o->plot_prefix) { snprintf(prefix, prefixlen, "%s", o->plot_prefix); return; }
    const char *name = o->csv ? o->csv : o->sweep;
    const char *slash = strrchr(name, '/');
    char base[512];
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : name);
    char *dot = strrchr(base, '.');
    if (o->csv && dot) *dot = '\0';
    snprintf(prefix, prefixlen, "%s-%.250s", law_name(law), base);
}

int law_fit_run(const LawFitOptions *o)
{
    Law law;
    if (law_init(&law, o->law, o->offsets)) { fprintf(stderr, "dlcm-fit: --law chinchilla|dlcm is required\n"); return 2; }
    EstimatorSettings set = o->est;
    FitData data;
    int rc = load_points(o, &law, &data);
    if (rc) return rc;
    law_set_centers(&law, data.pts, data.n);
    int n_starts;
    double *starts = law_start_grid(&law, &n_starts);
    if (!starts) { fprintf(stderr, "dlcm-fit: out of memory\n"); fit_data_free(&data); return 1; }
    if (o->max_starts && o->max_starts < n_starts) { /* an even thinning of the grid */
        int stride = (n_starts + o->max_starts - 1) / o->max_starts, kept = 0;
        for (int i = 0; i < n_starts; i += stride, kept++)
            memmove(starts + (size_t)kept * law.k, starts + (size_t)i * law.k, (size_t)law.k * sizeof *starts);
        n_starts = kept;
    }
    if (set.progress) fprintf(stderr, "dlcm-fit: %s law on %d points (%s), %d starts\n", law_name(&law), data.n, data.source, n_starts);
    char err[1024];
    FitResult best;
    if (estimator_fit(&law, data.pts, data.n, NULL, starts, n_starts, &set, &best, err, sizeof err)) {
        fprintf(stderr, "dlcm-fit: %s\n", err);
        free(starts);
        fit_data_free(&data);
        return 1;
    }
    LawSummary s = {0};
    s.law = law;
    memcpy(s.coef, best.coef, sizeof s.coef);
    s.objective = best.objective;
    s.r2_log = best.r2_log;
    s.n_points = data.n;
    s.vocab = data.vocab;
    s.seq_len = data.seq_len;
    snprintf(s.source, sizeof s.source, "%s", data.source);
    snprintf(s.R_source, sizeof s.R_source, "%s", data.R_source);
    snprintf(s.selection, sizeof s.selection, "%.200s%s%s", data.selection, o->use_train_loss ? " loss=train" : "",
             law.kind == LAW_DLCM && o->db_path ? (o->select.R_source == R_SOURCE_EVAL ? " R=eval" : " R=target") : "");
    if (o->drop_top_loss) {
        size_t used = strlen(s.selection);
        snprintf(s.selection + used, sizeof s.selection - used, " drop-top-loss=%d", o->drop_top_loss);
    }
    snprintf(s.label, sizeof s.label, "%s", o->label ? o->label : s.selection);
    data_ranges(&s, &data);
    if (set.n_boot > 0) {
        if (set.progress) fprintf(stderr, "dlcm-fit: bootstrap, %d resamples (seed %lu)\n", set.n_boot, set.seed);
        s.n_samples_ok = estimator_bootstrap(&law, data.pts, data.n, &best, starts, n_starts, &set, &s.samples);
        if (s.n_samples_ok < 0) { fprintf(stderr, "dlcm-fit: out of memory\n"); free(starts); fit_data_free(&data); return 1; }
        s.n_samples = set.n_boot; /* rows of failed refits hold NaN and are ignored by the intervals */
        if (s.n_samples_ok < set.n_boot)
            fprintf(stderr, "dlcm-fit: warning: %d of %d bootstrap refits failed\n", set.n_boot - s.n_samples_ok, set.n_boot);
    }
    if (!o->no_lobo) {
        if (set.progress) fprintf(stderr, "dlcm-fit: leave-largest-budget-out refit\n");
        if (estimator_lobo(&law, data.pts, data.n, starts, n_starts, &set, &s.lobo, err, sizeof err))
            fprintf(stderr, "dlcm-fit: leave-largest-budget-out refit failed: %s\n", err);
    }
    summary_compute(&s, &data, &set);
    summary_print(stdout, &s);
    int ref_rc = o->check_reference ? check_reference(&s) : 0;

    json_object *json = summary_to_json(&s, &data, &set, n_starts, best.n_converged, o->drop_top_loss);
    const char *text = json_object_to_json_string_ext(json, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    FitRecord rec = {s.source, law_name(&law), s.label, o->label == NULL, data.n, s.objective, s.r2_log, text};
    long long id;
    int replaced;
    rc = 0;
    if (o->json_path || o->store) {
        if (output_commit(o->json_path, o->store, &rec, &id, &replaced, err, sizeof err)) {
            fprintf(stderr, "dlcm-fit: %s\n", err);
            rc = 1;
        } else {
            if (o->json_path) printf("  json: %s\n", o->json_path);
            if (o->store)
                printf("  stored: fit %lld in %s (label \"%s\"%s)\n", id, o->store, s.label,
                       replaced ? ", replacing the earlier fit of this label" : "");
        }
    }
    if (rc == 0 && !o->no_plots) {
        char dir[1024], prefix[300], tag[700];
        plot_place(o, &law, dir, sizeof dir, prefix, sizeof prefix);
        snprintf(tag, sizeof tag, "%s, %s fit (%s)%s", s.source, law_name(&law), s.label,
                 !s.ident.known ? "" : s.ident.identified ? "" : ": NOT IDENTIFIED");
        if (law_plots(dir, prefix, tag, &s, &data, err, sizeof err)) {
            fprintf(stderr, "dlcm-fit: plots: %s\n", err);
            rc = 1;
        }
    }
    json_object_put(json);
    summary_free(&s);
    free(starts);
    fit_data_free(&data);
    if (rc) return rc;
    return ref_rc ? 1 : 0;
}
