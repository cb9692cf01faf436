/* fit/decay.c: the decay-phase law (DLCM Eq. 23) by OLS on logs: reading WSD trajectories or a
 * CSV, the fit with t intervals and R^2, and the dlcm-fit decay command. */
#include "fit/decay.h"

#include <errno.h>
#include <getopt.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_multifit.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/fitdata.h"
#include "fit/csv.h"
#include "fit/output.h"

static int distinct(const DecayPoint *pts, int n, int use_R)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        double v = use_R ? pts[i].R : pts[i].N;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = (use_R ? pts[j].R : pts[j].N) == v;
        count += !seen;
    }
    return count;
}

int decay_fit(const DecayPoint *pts, int n, double level, DecayFit *out, char *err, int errlen)
{
    memset(out, 0, sizeof *out);
    if (n < 5) { snprintf(err, errlen, "%d points for the decay law (4 coefficients): need at least 5", n); return -1; }
    for (int i = 0; i < n; i++) {
        const DecayPoint *p = &pts[i];
        if (!(p->L_stable > 0 && p->L_final > 0 && p->R >= 1 && p->N > 0) || !isfinite(p->L_stable) ||
            !isfinite(p->L_final) || !isfinite(p->R) || !isfinite(p->N)) {
            snprintf(err, errlen, "%s: L_stable, L_final, N must be positive and finite and R >= 1", p->id);
            return -1;
        }
        if (!(p->L_final < p->L_stable)) {
            snprintf(err, errlen, "%s: the decay did not lower the loss (L_stable %g, L_final %g): Delta must be > 0",
                     p->id, p->L_stable, p->L_final);
            return -1;
        }
    }
    if (distinct(pts, n, 1) < 2) { snprintf(err, errlen, "degenerate design: every run has the same R, b cannot be identified"); return -1; }
    if (distinct(pts, n, 0) < 2) { snprintf(err, errlen, "degenerate design: every run has the same N, c cannot be identified"); return -1; }
    gsl_matrix *X = gsl_matrix_alloc(n, 4), *cov = gsl_matrix_alloc(4, 4);
    gsl_vector *y = gsl_vector_alloc(n), *beta = gsl_vector_alloc(4);
    gsl_multifit_linear_workspace *w = gsl_multifit_linear_alloc(n, 4);
    int rc = -1;
    if (!X || !cov || !y || !beta || !w) { snprintf(err, errlen, "out of memory"); goto done; }
    for (int i = 0; i < n; i++) {
        const DecayPoint *p = &pts[i];
        gsl_matrix_set(X, i, 0, 1.0);
        gsl_matrix_set(X, i, 1, log(p->L_stable));
        gsl_matrix_set(X, i, 2, log(p->R));
        gsl_matrix_set(X, i, 3, log(p->N));
        gsl_vector_set(y, i, log((p->L_stable - p->L_final) / p->L_stable));
    }
    double chisq;
    if (gsl_multifit_linear(X, y, beta, cov, &chisq, w) != GSL_SUCCESS) {
        snprintf(err, errlen, "least squares failed (collinear design?)");
        goto done;
    }
    double mean = 0, ss_tot = 0;
    for (int i = 0; i < n; i++) mean += gsl_vector_get(y, i) / n;
    for (int i = 0; i < n; i++) ss_tot += pow(gsl_vector_get(y, i) - mean, 2);
    out->r2 = ss_tot > 0 ? 1.0 - chisq / ss_tot : NAN;
    out->n = n;
    /* gsl_multifit_linear's covariance is (X'X)^-1 scaled by the residual variance. */
    double t = n > 4 ? gsl_cdf_tdist_Pinv(0.5 + level / 2, n - 4) : NAN;
    for (int j = 0; j < 4; j++) {
        out->coef[j] = gsl_vector_get(beta, j);
        double se = sqrt(gsl_matrix_get(cov, j, j));
        out->lo[j] = out->coef[j] - t * se;
        out->hi[j] = out->coef[j] + t * se;
    }
    out->k = exp(out->coef[0]);
    out->k_lo = exp(out->lo[0]);
    out->k_hi = exp(out->hi[0]);
    rc = 0;
done:
    if (X) gsl_matrix_free(X);
    if (cov) gsl_matrix_free(cov);
    if (y) gsl_vector_free(y);
    if (beta) gsl_vector_free(beta);
    if (w) gsl_multifit_linear_free(w);
    return rc;
}

static int push(DecayPoint **pts, int *n, int *cap, const DecayPoint *p)
{
    if (*n == *cap) {
        int grown = *cap ? 2 * *cap : 32;
        DecayPoint *q = realloc(*pts, (size_t)grown * sizeof *q);
        if (!q) return -1;
        *pts = q;
        *cap = grown;
    }
    (*pts)[(*n)++] = *p;
    return 0;
}

int decay_read_csv(const char *path, DecayPoint **pts, int *n, char *err, int errlen)
{
    *pts = NULL;
    *n = 0;
    int cap = 0;
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    char line[4096], *fields[64];
    if (!fgets(line, sizeof line, f)) { snprintf(err, errlen, "%s: empty file", path); fclose(f); return -1; }
    int nf = csv_split(line, fields, 64);
    int c_stable = csv_column(fields, nf, "L_stable"), c_final = csv_column(fields, nf, "L_final");
    int c_delta = csv_column(fields, nf, "delta"), c_R = csv_column(fields, nf, "R"), c_N = csv_column(fields, nf, "N");
    if (c_stable == -2 || c_final == -2 || c_delta == -2 || c_R == -2 || c_N == -2) {
        snprintf(err, errlen, "%s:1: a column name appears twice in the header", path);
        fclose(f);
        return -1;
    }
    if (c_stable < 0 || (c_final < 0 && c_delta < 0) || c_R < 0 || c_N < 0) {
        snprintf(err, errlen, "%s:1: header needs L_stable, L_final (or delta), R, N (names matched exactly)", path);
        fclose(f);
        return -1;
    }
    int lineno = 1;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (csv_blank(line)) continue;
        nf = csv_split(line, fields, 64);
        DecayPoint p = {0};
        snprintf(p.id, sizeof p.id, "%s:%d", path, lineno);
        const char *names[] = {"L_stable", c_final >= 0 ? "L_final" : "delta", "R", "N"};
        int cols[] = {c_stable, c_final >= 0 ? c_final : c_delta, c_R, c_N};
        double v[4];
        for (int j = 0; j < 4; j++) {
            if (cols[j] >= nf || csv_number(fields[cols[j]], &v[j])) {
                snprintf(err, errlen, "%s:%d: column %s: not a finite number", path, lineno, names[j]);
                goto fail;
            }
        }
        p.L_stable = v[0];
        p.L_final = c_final >= 0 ? v[1] : v[0] * (1.0 - v[1]);
        p.R = v[2];
        p.N = v[3];
        if (push(pts, n, &cap, &p)) { snprintf(err, errlen, "out of memory"); goto fail; }
    }
    fclose(f);
    return 0;
fail:
    fclose(f);
    free(*pts);
    *pts = NULL;
    *n = 0;
    return -1;
}

/* Mean of loss[from .. to] (inclusive). */
static double window_mean(const double *loss, int from, int to)
{
    double sum = 0;
    for (int i = from; i <= to; i++) sum += loss[i];
    return sum / (to - from + 1);
}

int decay_read_sweep(sqlite3 *db, const char *sweep, const DecayWindow *window, DecayPoint **pts, int *n, char *err,
                     int errlen)
{
    *pts = NULL;
    *n = 0;
    int cap = 0, exists, n_rows;
    FitRunRow *rows = NULL;
    if (fitdb_sweep_exists(db, sweep, &exists, err, errlen)) return -1;
    if (!exists) { snprintf(err, errlen, "no sweep named \"%s\" in the database", sweep); return -1; }
    if (fitdb_read_runs(db, sweep, &rows, &n_rows, err, errlen)) return -1;
    /* Only WSD runs have a stable phase and a decay: every other finished run is refused by name. */
    char others[1024] = "";
    int n_others = 0, n_done = 0;
    for (int i = 0; i < n_rows; i++) {
        if (strcmp(rows[i].status, "done")) continue;
        n_done++;
        if (!strcmp(rows[i].schedule, "wsd")) continue;
        if (n_others++ < 6) {
            size_t used = strlen(others);
            snprintf(others + used, sizeof others - used, "%s%s (%s)", used ? ", " : "", rows[i].id,
                     rows[i].schedule[0] ? rows[i].schedule : "schedule not recorded");
        }
    }
    if (n_done == 0) { snprintf(err, errlen, "sweep \"%s\" has no finished runs (status 'done')", sweep); free(rows); return -1; }
    if (n_others) {
        snprintf(err, errlen, "the decay law reads only WSD runs; %d finished run%s of sweep \"%s\" %s another schedule: %s%s",
                 n_others, n_others == 1 ? "" : "s", sweep, n_others == 1 ? "has" : "have", others, n_others > 6 ? ", ..." : "");
        free(rows);
        return -1;
    }
    double *loss = NULL, *lr = NULL;
    long long *step = NULL;
    int rc = -1;
    for (int r = 0; r < n_rows; r++) {
        const FitRunRow *row = &rows[r];
        if (strcmp(row->status, "done")) continue;
        DecayPoint p = {0};
        snprintf(p.id, sizeof p.id, "run %.64s", row->id);
        p.R = !strcmp(row->family, "dense") ? 1.0 : row->R_target;
        p.N = row->N;
        int m;
        free(loss); free(lr); free(step);
        if (fitdb_read_curve(db, row->id, &loss, &lr, &step, &m, err, errlen)) { loss = lr = NULL; step = NULL; goto done; }
        double peak = 0;
        int stable_end = -1;
        for (int i = 0; i < m; i++) peak = fmax(peak, lr[i]);
        for (int i = 0; i < m; i++) if (lr[i] >= peak * (1 - 1e-6)) stable_end = i;
        if (m < 2 || stable_end < 0 || stable_end >= m - 1) {
            snprintf(err, errlen, "%s: no decay phase in its trajectory (%d logged steps; the LR never falls after its peak)", p.id, m);
            goto done;
        }
        /* The windows: the last share of each phase's logged steps (at least one), or a fixed count. */
        int stable_first = 0;
        while (stable_first < stable_end && lr[stable_first] < peak * (1 - 1e-6)) stable_first++; /* after warm-up */
        int n_stable = stable_end - stable_first + 1, n_decay = m - 1 - stable_end;
        int ws = window->steps > 0 ? window->steps : (int)ceil(window->fraction * n_stable);
        int wf = window->steps > 0 ? window->steps : (int)ceil(window->fraction * n_decay);
        ws = ws < 1 ? 1 : ws > n_stable ? n_stable : ws;
        wf = wf < 1 ? 1 : wf > n_decay ? n_decay : wf;
        p.L_stable = window_mean(loss, stable_end - ws + 1, stable_end);
        p.L_final = window_mean(loss, m - wf, m - 1);
        p.window_stable = ws;
        p.window_final = wf;
        if (push(pts, n, &cap, &p)) { snprintf(err, errlen, "out of memory"); goto done; }
    }
    rc = 0;
done:
    free(rows);
    free(loss);
    free(lr);
    free(step);
    if (rc) { free(*pts); *pts = NULL; *n = 0; }
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dlcm-fit decay (--csv FILE | --db FILE --sweep NAME) [--window K] [--json OUT] [--store DB | --no-store]\n"
               "Fits Delta = k L_stable^a R^b N^c (DLCM Eq. 23) by OLS on logs, Delta = (L_stable - L_final) / L_stable.\n"
               "  --csv FILE     columns L_stable, L_final (or delta), R, N\n"
               "  --db, --sweep  WSD runs with status 'done' (a run of another schedule is refused by name): the\n"
               "                 stable phase ends at the last logged step at peak LR\n"
               "  --window-fraction F  L_stable and L_final average the last share F of the logged steps of the\n"
               "                 stable phase and of the decay (default 0.05, at least one step)\n"
               "  --window K     average the last K logged steps of each phase instead\n"
               "  --json OUT     write the fit as JSON;  --store DB  store it (default with --db: that database)\n");
}

int decay_main(int argc, char **argv)
{
    const char *csv = NULL, *db_path = NULL, *sweep = NULL, *json_path = NULL, *store = NULL;
    int no_store = 0;
    DecayWindow window = {.fraction = 0.05, .steps = 0};
    char *end;
    static const struct option opts[] = {{"csv", 1, 0, 'c'}, {"db", 1, 0, 'd'}, {"sweep", 1, 0, 's'},
                                         {"window", 1, 0, 'w'}, {"window-fraction", 1, 0, 'f'}, {"json", 1, 0, 'j'},
                                         {"store", 1, 0, 't'}, {"no-store", 0, 0, 'n'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': csv = optarg; break;
        case 'd': db_path = optarg; break;
        case 's': sweep = optarg; break;
        case 'w':
            window.steps = (int)strtol(optarg, &end, 10);
            if (*end || window.steps < 1) { fprintf(stderr, "dlcm-fit decay: --window needs a count >= 1\n"); return 2; }
            break;
        case 'f':
            window.fraction = strtod(optarg, &end);
            if (*end || !(window.fraction > 0 && window.fraction <= 1)) {
                fprintf(stderr, "dlcm-fit decay: --window-fraction needs a share in (0, 1]\n");
                return 2;
            }
            break;
        case 'j': json_path = optarg; break;
        case 't': store = optarg; break;
        case 'n': no_store = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!!csv + !!db_path != 1 || (db_path && !sweep)) { usage(stderr); return 2; }
    if (!store && db_path) store = db_path;
    if (no_store) store = NULL;
    char err[1024], source[600];
    DecayPoint *pts = NULL;
    int n = 0;
    if (csv) {
        snprintf(source, sizeof source, "csv:%s", csv);
        if (decay_read_csv(csv, &pts, &n, err, sizeof err)) { fprintf(stderr, "dlcm-fit decay: %s\n", err); return 1; }
    } else {
        snprintf(source, sizeof source, "sweep:%s", sweep);
        sqlite3 *db = output_open_existing_db(db_path, err, sizeof err);
        if (!db) { fprintf(stderr, "dlcm-fit decay: %s\n", err); return 1; }
        int rc = decay_read_sweep(db, sweep, &window, &pts, &n, err, sizeof err);
        db_close(db);
        if (rc) { fprintf(stderr, "dlcm-fit decay: %s: %s\n", db_path, err); return 1; }
    }
    DecayFit fit;
    if (decay_fit(pts, n, 0.95, &fit, err, sizeof err)) {
        fprintf(stderr, "dlcm-fit decay: %s: %s\n", source, err);
        free(pts);
        return 1;
    }
    static const char *const names[] = {"log_k", "a", "b", "c"};
    printf("\ndecay law Delta = k L_stable^a R^b N^c (OLS on logs) of %s: %d runs\n", source, n);
    printf("  %-6s %12s %12s %12s\n", "coef", "value", "95% lo", "95% hi");
    printf("  %-6s %12.6g %12.6g %12.6g\n", "k", fit.k, fit.k_lo, fit.k_hi);
    for (int j = 1; j < 4; j++) printf("  %-6s %12.6g %12.6g %12.6g\n", names[j], fit.coef[j], fit.lo[j], fit.hi[j]);
    printf("  R^2 (log Delta) %.5f\n", fit.r2);
    json_object *root = json_object_new_object(), *coefs = json_object_new_object();
    json_object_object_add(root, "law", json_object_new_string("decay"));
    json_object_object_add(root, "source", json_object_new_string(source));
    for (int j = 0; j < 4; j++) {
        json_object *o = json_object_new_object();
        double v = j ? fit.coef[j] : fit.k, lo = j ? fit.lo[j] : fit.k_lo, hi = j ? fit.hi[j] : fit.k_hi;
        json_object_object_add(o, "value", json_object_new_double(v));
        json_object_object_add(o, "lo", isfinite(lo) ? json_object_new_double(lo) : NULL);
        json_object_object_add(o, "hi", isfinite(hi) ? json_object_new_double(hi) : NULL);
        json_object_object_add(coefs, j ? names[j] : "k", o);
    }
    json_object_object_add(root, "coefficients", coefs);
    json_object_object_add(root, "r2_log", json_object_new_double(fit.r2));
    json_object *est = json_object_new_object();
    json_object_object_add(est, "method", json_object_new_string("OLS of log Delta on 1, log L_stable, log R, log N; 95% t intervals"));
    if (window.steps > 0) json_object_object_add(est, "window_steps", json_object_new_int(window.steps));
    else json_object_object_add(est, "window_fraction", json_object_new_double(window.fraction));
    json_object_object_add(root, "label", json_object_new_string("decay"));
    json_object_object_add(root, "estimator", est);
    json_object *rows = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *r = json_object_new_object();
        json_object_object_add(r, "id", json_object_new_string(pts[i].id));
        json_object_object_add(r, "L_stable", json_object_new_double(pts[i].L_stable));
        json_object_object_add(r, "L_final", json_object_new_double(pts[i].L_final));
        json_object_object_add(r, "R", json_object_new_double(pts[i].R));
        json_object_object_add(r, "N", json_object_new_double(pts[i].N));
        if (pts[i].window_stable > 0) {
            json_object_object_add(r, "window_stable_steps", json_object_new_int(pts[i].window_stable));
            json_object_object_add(r, "window_final_steps", json_object_new_int(pts[i].window_final));
        }
        json_object_array_add(rows, r);
    }
    json_object_object_add(root, "data", rows);
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    FitRecord rec = {source, "decay", "decay", 1, n, NAN, fit.r2, text};
    int replaced;
    long long id;
    int rc = 0;
    if (json_path || store) {
        if (output_commit(json_path, store, &rec, &id, &replaced, err, sizeof err)) { fprintf(stderr, "dlcm-fit decay: %s\n", err); rc = 1; }
        else {
            if (json_path) printf("  json: %s\n", json_path);
            if (store) printf("  stored: fit %lld in %s\n", id, store);
        }
    }
    json_object_put(root);
    free(pts);
    return rc;
}
