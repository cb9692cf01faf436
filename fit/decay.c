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
    if (c_stable < 0 || (c_final < 0 && c_delta < 0) || c_R < 0 || c_N < 0) {
        snprintf(err, errlen, "%s:1: header needs L_stable, L_final (or delta), R, N", path);
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

int decay_read_sweep(sqlite3 *db, const char *sweep, int window, DecayPoint **pts, int *n, char *err, int errlen)
{
    *pts = NULL;
    *n = 0;
    int cap = 0;
    sqlite3_stmt *runs = db_prepare(db,
                                    "SELECT r.id, r.family, r.R_target, r.N FROM runs r JOIN sweeps s ON r.sweep_id = s.id"
                                    " WHERE s.name = ?1 AND r.status = 'done' ORDER BY r.id",
                                    err, errlen);
    sqlite3_stmt *traj = db_prepare(db, "SELECT train_loss, lr FROM metrics WHERE run_id = ?1 ORDER BY step", err, errlen);
    double *loss = NULL, *lr = NULL;
    int rc = -1, cap_t = 0;
    if (!runs || !traj) goto done;
    sqlite3_bind_text(runs, 1, sweep, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(runs) == SQLITE_ROW) {
        DecayPoint p = {0};
        snprintf(p.id, sizeof p.id, "run %s", (const char *)sqlite3_column_text(runs, 0));
        const char *family = (const char *)sqlite3_column_text(runs, 1);
        p.R = family && !strcmp(family, "dense") ? 1.0 : sqlite3_column_double(runs, 2);
        p.N = sqlite3_column_double(runs, 3);
        sqlite3_reset(traj);
        sqlite3_bind_text(traj, 1, (const char *)sqlite3_column_text(runs, 0), -1, SQLITE_TRANSIENT);
        int m = 0;
        while (sqlite3_step(traj) == SQLITE_ROW) {
            if (sqlite3_column_type(traj, 0) == SQLITE_NULL || sqlite3_column_type(traj, 1) == SQLITE_NULL) {
                snprintf(err, errlen, "%s: metrics row %d has a NULL train_loss or lr", p.id, m);
                goto done;
            }
            if (m == cap_t) {
                cap_t = cap_t ? 2 * cap_t : 256;
                double *a = realloc(loss, cap_t * sizeof *a), *b = a ? realloc(lr, cap_t * sizeof *b) : NULL;
                if (a) loss = a;
                if (!a || !b) { snprintf(err, errlen, "out of memory"); goto done; }
                lr = b;
            }
            loss[m] = sqlite3_column_double(traj, 0);
            lr[m] = sqlite3_column_double(traj, 1);
            m++;
        }
        double peak = 0;
        int stable_end = -1;
        for (int i = 0; i < m; i++) peak = fmax(peak, lr[i]);
        for (int i = 0; i < m; i++) if (lr[i] >= peak * (1 - 1e-6)) stable_end = i;
        if (m < 2 || stable_end < 0 || stable_end >= m - 1) {
            snprintf(err, errlen, "%s: no decay phase in its trajectory (%d logged steps; the LR never falls after its peak)", p.id, m);
            goto done;
        }
        int ws = stable_end + 1 < window ? stable_end + 1 : window, wf = m - stable_end - 1 < window ? m - stable_end - 1 : window;
        for (int i = 0; i < ws; i++) p.L_stable += loss[stable_end - i] / ws;
        for (int i = 0; i < wf; i++) p.L_final += loss[m - 1 - i] / wf;
        if (push(pts, n, &cap, &p)) { snprintf(err, errlen, "out of memory"); goto done; }
    }
    if (*n == 0) { snprintf(err, errlen, "sweep \"%s\" has no finished runs (status 'done')", sweep); goto done; }
    rc = 0;
done:
    sqlite3_finalize(runs);
    sqlite3_finalize(traj);
    free(loss);
    free(lr);
    if (rc) { free(*pts); *pts = NULL; *n = 0; }
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dlcm-fit decay (--csv FILE | --db FILE --sweep NAME) [--window K] [--json OUT] [--store DB | --no-store]\n"
               "Fits Delta = k L_stable^a R^b N^c (DLCM Eq. 23) by OLS on logs, Delta = (L_stable - L_final) / L_stable.\n"
               "  --csv FILE     columns L_stable, L_final (or delta), R, N\n"
               "  --db, --sweep  WSD runs with status 'done': the stable phase ends at the last step at peak LR\n"
               "  --window K     average train_loss over the last K logged steps of each phase (default 1)\n"
               "  --json OUT     write the fit as JSON;  --store DB  store it (default with --db: that database)\n");
}

int decay_main(int argc, char **argv)
{
    const char *csv = NULL, *db_path = NULL, *sweep = NULL, *json_path = NULL, *store = NULL;
    int window = 1, no_store = 0;
    static const struct option opts[] = {{"csv", 1, 0, 'c'}, {"db", 1, 0, 'd'}, {"sweep", 1, 0, 's'},
                                         {"window", 1, 0, 'w'}, {"json", 1, 0, 'j'}, {"store", 1, 0, 't'},
                                         {"no-store", 0, 0, 'n'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': csv = optarg; break;
        case 'd': db_path = optarg; break;
        case 's': sweep = optarg; break;
        case 'w': window = atoi(optarg); break;
        case 'j': json_path = optarg; break;
        case 't': store = optarg; break;
        case 'n': no_store = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!!csv + !!db_path != 1 || (db_path && !sweep) || window < 1) { usage(stderr); return 2; }
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
        int rc = decay_read_sweep(db, sweep, window, &pts, &n, err, sizeof err);
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
    json_object_object_add(est, "window", json_object_new_int(window));
    json_object_object_add(root, "estimator", est);
    json_object *rows = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *r = json_object_new_object();
        json_object_object_add(r, "id", json_object_new_string(pts[i].id));
        json_object_object_add(r, "L_stable", json_object_new_double(pts[i].L_stable));
        json_object_object_add(r, "L_final", json_object_new_double(pts[i].L_final));
        json_object_object_add(r, "R", json_object_new_double(pts[i].R));
        json_object_object_add(r, "N", json_object_new_double(pts[i].N));
        json_object_array_add(rows, r);
    }
    json_object_object_add(root, "data", rows);
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    FitRecord rec = {source, "decay", n, NAN, fit.r2, text};
    long long id;
    int rc = 0;
    if (json_path || store) {
        if (output_commit(json_path, store, &rec, &id, err, sizeof err)) { fprintf(stderr, "dlcm-fit decay: %s\n", err); rc = 1; }
        else {
            if (json_path) printf("  json: %s\n", json_path);
            if (store) printf("  stored: fit %lld in %s\n", id, store);
        }
    }
    json_object_put(root);
    free(pts);
    return rc;
}
