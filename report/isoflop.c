/* report/isoflop.c: fits read back and evaluated along isoFLOP lines (see report/isoflop.h). */
#include "report/isoflop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int isoflop_fit_load(const char *json_text, LoadedFit *fit, char *err, int errlen)
{
    memset(fit, 0, sizeof *fit);
    fit->root = json_tokener_parse(json_text);
    json_object *law_name, *coefs, *boot, *columns, *rows;
    if (!fit->root || !json_object_object_get_ex(fit->root, "law", &law_name) ||
        !json_object_object_get_ex(fit->root, "coefficients", &coefs)) {
        snprintf(err, errlen, "not a dlcm-fit JSON (no law or coefficients)");
        isoflop_fit_free(fit);
        return -1;
    }
    if (law_init(&fit->law, json_object_get_string(law_name), 0)) {
        snprintf(err, errlen, "unknown law '%s'", json_object_get_string(law_name));
        isoflop_fit_free(fit);
        return -1;
    }
    for (int i = 0; i < fit->law.n_coef; i++) {
        json_object *c, *v;
        if (!json_object_object_get_ex(coefs, law_coef_name(&fit->law, i), &c) ||
            !json_object_object_get_ex(c, "value", &v)) {
            snprintf(err, errlen, "fit JSON lacks coefficient %s", law_coef_name(&fit->law, i));
            isoflop_fit_free(fit);
            return -1;
        }
        fit->coef[i] = json_object_get_double(v);
    }
    if (json_object_object_get_ex(fit->root, "bootstrap_samples", &boot) &&
        json_object_object_get_ex(boot, "columns", &columns) && json_object_object_get_ex(boot, "rows", &rows)) {
        int n_cols = (int)json_object_array_length(columns), n_rows = (int)json_object_array_length(rows);
        int index[LAW_MAX_PARAMS];
        int usable = n_rows > 0;
        for (int i = 0; i < fit->law.n_coef && usable; i++) {
            index[i] = -1;
            for (int j = 0; j < n_cols; j++)
                if (strcmp(json_object_get_string(json_object_array_get_idx(columns, j)), law_coef_name(&fit->law, i)) == 0)
                    index[i] = j;
            usable = index[i] >= 0;
        }
        if (usable) fit->boot = malloc((size_t)n_rows * fit->law.n_coef * sizeof *fit->boot);
        for (int r = 0; fit->boot && r < n_rows; r++) {
            json_object *row = json_object_array_get_idx(rows, r);
            if ((int)json_object_array_length(row) != n_cols) continue;
            for (int i = 0; i < fit->law.n_coef; i++)
                fit->boot[fit->n_boot * fit->law.n_coef + i] = json_object_get_double(json_object_array_get_idx(row, index[i]));
            fit->n_boot++;
        }
    }
    return 0;
}

void isoflop_fit_free(LoadedFit *fit)
{
    if (fit->root) json_object_put(fit->root);
    free(fit->boot);
    memset(fit, 0, sizeof *fit);
}

void flops_curve_add(FlopsCurve *c, double N, double flops_per_token)
{
    if (!(N > 0) || !(flops_per_token > 0) || c->n == FLOPS_CURVE_MAX) return;
    double x = log(N), y = log(flops_per_token);
    int at = 0;
    while (at < c->n && c->log_n[at] < x) at++;
    if (at < c->n && fabs(c->log_n[at] - x) < 1e-12) return; /* same N: same shape, same cost */
    memmove(c->log_n + at + 1, c->log_n + at, (size_t)(c->n - at) * sizeof *c->log_n);
    memmove(c->log_f + at + 1, c->log_f + at, (size_t)(c->n - at) * sizeof *c->log_f);
    c->log_n[at] = x;
    c->log_f[at] = y;
    c->n++;
}

double flops_curve_at(const FlopsCurve *c, double N)
{
    if (c->n == 0 || !(N > 0)) return NAN;
    double x = log(N);
    if (c->n == 1) return exp(c->log_f[0] + (x - c->log_n[0]));
    int seg = 0;
    while (seg < c->n - 2 && x > c->log_n[seg + 1]) seg++;
    double slope = (c->log_f[seg + 1] - c->log_f[seg]) / (c->log_n[seg + 1] - c->log_n[seg]);
    return exp(c->log_f[seg] + slope * (x - c->log_n[seg]));
}

double isoflop_loss(const LoadedFit *fit, const double *coef, const FamilyLine *line, double C, double N)
{
    double F = flops_curve_at(line->flops, N);
    if (!(F > 0)) return NAN;
    return law_loss(&fit->law, coef, N, C / F, line->R, line->P, line->dense);
}

double isoflop_argmin(const LoadedFit *fit, const double *coef, const FamilyLine *line, double C, double lo,
                      double hi, int n, int *at_edge)
{
    double best = NAN, best_loss = INFINITY;
    int best_i = -1;
    for (int i = 0; i < n; i++) {
        double N = exp(log(lo) + (log(hi) - log(lo)) * i / (n - 1));
        double L = isoflop_loss(fit, coef, line, C, N);
        if (isfinite(L) && L < best_loss) {
            best_loss = L;
            best = N;
            best_i = i;
        }
    }
    *at_edge = best_i == 0 || best_i == n - 1;
    return best;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void isoflop_argmin_interval(const LoadedFit *fit, const FamilyLine *line, double C, double lo, double hi, int n,
                             double *q_lo, double *q_hi, double *edge_share)
{
    *q_lo = *q_hi = NAN;
    *edge_share = NAN;
    if (fit->n_boot == 0) return;
    double *values = malloc((size_t)fit->n_boot * sizeof *values);
    if (!values) return;
    int m = 0, edges = 0;
    for (int r = 0; r < fit->n_boot; r++) {
        int edge;
        double N = isoflop_argmin(fit, fit->boot + (size_t)r * fit->law.n_coef, line, C, lo, hi, n, &edge);
        if (isfinite(N)) {
            values[m++] = N;
            edges += edge;
        }
    }
    if (m > 0) {
        qsort(values, (size_t)m, sizeof *values, compare_doubles);
        *q_lo = values[(int)floor(0.025 * (m - 1))];
        *q_hi = values[(int)ceil(0.975 * (m - 1))];
        *edge_share = (double)edges / m;
    }
    free(values);
}
