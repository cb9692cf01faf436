/* fit/scope.c: ranges of the fitted runs, identification of a law's coefficients from their
 * intervals and the design's variation, and extrapolation factors. */
#include "fit/scope.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const quantity_names[Q_COUNT] = {"budget", "N", "D", "D/N", "P", "R",
                                                    "d_t", "d_c", "n_layers", "n_enc", "n_con", "n_dec"};

const char *scope_quantity_name(int q) { return quantity_names[q]; }

static void widen(FamilyRange *r, int q, double v)
{
    if (!isfinite(v)) return;
    if (isnan(r->lo[q]) || v < r->lo[q]) r->lo[q] = v;
    if (isnan(r->hi[q]) || v > r->hi[q]) r->hi[q] = v;
}

void scope_ranges(const FitData *d, DataRanges *out)
{
    for (int f = 0; f < 2; f++) {
        out->fam[f].n = 0;
        for (int q = 0; q < Q_COUNT; q++) out->fam[f].lo[q] = out->fam[f].hi[q] = NAN;
    }
    for (int i = 0; i < d->n; i++) {
        const FitPoint *p = &d->pts[i];
        FamilyRange *r = &out->fam[p->dense ? FAM_DENSE : FAM_DLCM];
        r->n++;
        widen(r, Q_BUDGET, p->C);
        widen(r, Q_N, p->N);
        widen(r, Q_D, p->D);
        widen(r, Q_D_OVER_N, p->D / p->N);
        widen(r, Q_P, p->P);
        widen(r, Q_R, p->R);
        if (p->d_t <= 0) continue; /* shape unknown (CSV) */
        widen(r, Q_D_T, p->d_t);
        if (p->dense) {
            widen(r, Q_N_LAYERS, p->n_layers);
        } else {
            widen(r, Q_D_C, p->d_c);
            widen(r, Q_N_ENC, p->n_enc);
            widen(r, Q_N_CON, p->n_con);
            widen(r, Q_N_DEC, p->n_dec);
        }
    }
}

json_object *scope_ranges_json(const DataRanges *r)
{
    json_object *root = json_object_new_object();
    for (int f = 0; f < 2; f++) {
        json_object *fam = json_object_new_object();
        json_object_object_add(fam, "points", json_object_new_int(r->fam[f].n));
        for (int q = 0; q < Q_COUNT; q++) {
            if (isnan(r->fam[f].lo[q])) continue;
            json_object *pair = json_object_new_array();
            json_object_array_add(pair, json_object_new_double(r->fam[f].lo[q]));
            json_object_array_add(pair, json_object_new_double(r->fam[f].hi[q]));
            json_object_object_add(fam, quantity_names[q], pair);
        }
        json_object_object_add(root, f == FAM_DENSE ? "dense" : "dlcm", fam);
    }
    return root;
}

void scope_ranges_from_json(json_object *o, DataRanges *r)
{
    for (int f = 0; f < 2; f++) {
        r->fam[f].n = 0;
        for (int q = 0; q < Q_COUNT; q++) r->fam[f].lo[q] = r->fam[f].hi[q] = NAN;
        json_object *fam, *v;
        if (!o || !json_object_object_get_ex(o, f == FAM_DENSE ? "dense" : "dlcm", &fam)) continue;
        if (json_object_object_get_ex(fam, "points", &v)) r->fam[f].n = json_object_get_int(v);
        for (int q = 0; q < Q_COUNT; q++) {
            if (!json_object_object_get_ex(fam, quantity_names[q], &v) || !json_object_is_type(v, json_type_array) ||
                json_object_array_length(v) != 2)
                continue;
            r->fam[f].lo[q] = json_object_get_double(json_object_array_get_idx(v, 0));
            r->fam[f].hi[q] = json_object_get_double(json_object_array_get_idx(v, 1));
        }
    }
}

double scope_factor(double v, double lo, double hi)
{
    if (isnan(lo) || isnan(hi) || isnan(v)) return NAN;
    if (v > hi * (1 + 1e-9)) return hi > 0 ? v / hi : INFINITY;
    if (v < lo * (1 - 1e-9)) return v > 0 ? lo / v : INFINITY;
    return 1.0;
}

/* ---- identification ------------------------------------------------------------------------ */

enum { VAR_N, VAR_P, VAR_R, VAR_D, VAR_COUNT };
static const char *const var_names[VAR_COUNT] = {"N", "P", "R", "D"};

/* The variables a coefficient is identified by, as a bit set, and whether only the dlcm points
 * inform it (the concept term). */
static int coef_variables(const Law *law, int j, int *dlcm_only)
{
    *dlcm_only = 0;
    if (law->kind == LAW_CHINCHILLA) {
        static const int vars[5] = {1 << VAR_N | 1 << VAR_D, 1 << VAR_N, 1 << VAR_D, 1 << VAR_N, 1 << VAR_D};
        return vars[j];
    }
    const char *name = law_coef_name(law, j);
    if (!strcmp(name, "E0")) return 1 << VAR_N | 1 << VAR_D;
    if (!strcmp(name, "A_tok") || !strcmp(name, "delta1") || !strcmp(name, "t_tok")) return 1 << VAR_N | 1 << VAR_P;
    if (!strcmp(name, "A_con") || !strcmp(name, "delta2") || !strcmp(name, "t_con")) {
        *dlcm_only = 1;
        return 1 << VAR_N | 1 << VAR_P;
    }
    if (!strcmp(name, "gamma")) { *dlcm_only = 1; return 1 << VAR_R; }
    return 1 << VAR_D; /* A_dat, alpha, t_dat */
}

/* Distinct values of a variable (values within 5 % of each other count once) and max/min. */
static void variation(const FitData *d, int var, int dlcm_only, int *distinct, double *lo, double *hi)
{
    double seen[512];
    int n = 0;
    *lo = INFINITY;
    *hi = 0;
    for (int i = 0; i < d->n; i++) {
        const FitPoint *p = &d->pts[i];
        if ((dlcm_only || var == VAR_P || var == VAR_R) && p->dense) continue;
        double v = var == VAR_N ? p->N : var == VAR_P ? p->P : var == VAR_R ? p->R : p->D;
        *lo = fmin(*lo, v);
        *hi = fmax(*hi, v);
        int dup = 0;
        for (int k = 0; k < n && !dup; k++) dup = fabs(seen[k] - v) <= 0.05 * fmax(fabs(seen[k]), fabs(v));
        if (!dup && n < 512) seen[n++] = v;
    }
    *distinct = n;
}

static void append(char *buf, size_t len, const char *text)
{
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", used ? "; " : "", text);
}

int scope_coefficient_identified(const Law *law, int j, double lo, double hi)
{
    if (law_coef_is_fixed(law, j) || !isfinite(lo) || !isfinite(hi)) return -1;
    return law_coef_is_exponent(law, j) ? hi - lo <= SCOPE_MAX_EXPONENT_WIDTH
                                        : lo > 0 && hi / lo <= SCOPE_MAX_SCALE_RATIO;
}

void scope_identify(const Law *law, const double *lo, const double *hi, const FitData *d, Identification *out)
{
    memset(out, 0, sizeof *out);
    out->identified = 1;
    int wanted[VAR_COUNT][2] = {{0}};
    for (int j = 0; j < law->n_coef; j++) {
        int ok = scope_coefficient_identified(law, j, lo[j], hi[j]);
        out->coef_state[j] = ok;
        if (ok < 0) continue;
        out->known = 1;
        if (ok) continue;
        out->identified = 0;
        size_t used = strlen(out->coefficients);
        snprintf(out->coefficients + used, sizeof out->coefficients - used, "%s%s", used ? ", " : "", law_coef_name(law, j));
        int dlcm_only, vars = coef_variables(law, j, &dlcm_only);
        for (int v = 0; v < VAR_COUNT; v++)
            if (vars & (1 << v)) wanted[v][dlcm_only] = 1;
    }
    if (!out->known || out->identified) return;
    /* Among the variables of the unidentified coefficients, name those that barely vary (fewer
     * than 3 distinct values, or less than a factor 1.5 between the extremes); when none does,
     * the one that varies least. */
    int weakest_var = -1, weakest_scope = 0;
    double weakest_ratio = INFINITY;
    for (int v = 0; v < VAR_COUNT; v++)
        for (int scope = 0; scope < 2; scope++) {
            if (!wanted[v][scope]) continue;
            int distinct;
            double a, b;
            variation(d, v, scope, &distinct, &a, &b);
            if (distinct == 0) continue;
            double ratio = v == VAR_P ? fmax(b / a, (1 - a) / (1 - b)) : b / a;
            if (distinct < 3 || ratio < 1.5) {
                char text[160];
                snprintf(text, sizeof text, "%s (%d distinct value%s%s, %.4g to %.4g)", var_names[v], distinct,
                         distinct == 1 ? "" : "s", scope || v == VAR_P || v == VAR_R ? " among the dlcm runs" : "", a, b);
                if (!strstr(out->missing, text)) append(out->missing, sizeof out->missing, text);
            } else if (ratio < weakest_ratio) {
                weakest_ratio = ratio;
                weakest_var = v;
                weakest_scope = scope;
            }
        }
    if (!out->missing[0] && weakest_var >= 0) {
        int distinct;
        double a, b;
        variation(d, weakest_var, weakest_scope, &distinct, &a, &b);
        char text[160];
        snprintf(text, sizeof text, "%s (varies least: %d distinct values, %.4g to %.4g)", var_names[weakest_var], distinct,
                 a, b);
        append(out->missing, sizeof out->missing, text);
    }
}

json_object *scope_identification_json(const Identification *id)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(!id->known ? "unknown (no intervals: no bootstrap)"
                                                               : id->identified ? "identified" : "not identified"));
    json_object_object_add(o, "identified", id->known ? json_object_new_boolean(id->identified) : NULL);
    json_object_object_add(o, "rule", json_object_new_string("a coefficient is identified when its 95% interval spans at most "
                                                             "a factor of 10 (an exponent's: at most 0.5 wide)"));
    if (id->known && !id->identified) {
        json_object_object_add(o, "not_identified", json_object_new_string(id->coefficients));
        json_object_object_add(o, "missing_variation", json_object_new_string(id->missing));
    }
    return o;
}

void scope_identification_from_json(json_object *o, Identification *id)
{
    memset(id, 0, sizeof *id);
    json_object *v;
    if (!o || !json_object_object_get_ex(o, "identified", &v) || !json_object_is_type(v, json_type_boolean)) return;
    id->known = 1;
    id->identified = json_object_get_boolean(v);
    if (json_object_object_get_ex(o, "not_identified", &v))
        snprintf(id->coefficients, sizeof id->coefficients, "%s", json_object_get_string(v));
    if (json_object_object_get_ex(o, "missing_variation", &v))
        snprintf(id->missing, sizeof id->missing, "%s", json_object_get_string(v));
}
