/* fit/law.c: the Chinchilla and compression-aware (DLCM Eq. 22) laws in the log-sum-exp
 * parameterization of spec scaling-laws.md §3, and their starting grids. */
#include "fit/law.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { CH_E, CH_A, CH_B, CH_ALPHA, CH_BETA };
enum { DL_E0, DL_ATOK, DL_ACON, DL_ADAT, DL_DELTA1, DL_DELTA2, DL_GAMMA, DL_ALPHA, DL_TTOK, DL_TCON, DL_TDAT };
/* Natural coefficient order of the dlcm law (the spec's listing). */
enum { DC_E0, DC_ATOK, DC_ACON, DC_ADAT, DC_TTOK, DC_TCON, DC_TDAT, DC_DELTA1, DC_DELTA2, DC_GAMMA, DC_ALPHA };

static const char *const chinchilla_coef[] = {"E", "A", "B", "alpha", "beta"};
static const char *const chinchilla_param[] = {"log E", "log A", "log B", "log alpha", "log beta"};
static const char *const dlcm_coef[] = {"E0", "A_tok", "A_con", "A_dat", "t_tok", "t_con",
                                        "t_dat", "delta1", "delta2", "gamma", "alpha"};
static const char *const dlcm_param[] = {"log E0", "log A_tok", "log A_con", "log A_dat", "log delta1", "log delta2",
                                         "log gamma", "log alpha", "log t_tok", "log t_con", "log t_dat"};

/* Exponents are exp of their parameter, so every exponent is positive by construction (never by
 * rejecting a step or a sample); E is exp of its parameter for the same reason. */
static int param_is_exponent(const Law *law, int i)
{
    return law->kind == LAW_CHINCHILLA ? (i == CH_ALPHA || i == CH_BETA) : (i >= DL_DELTA1 && i <= DL_ALPHA);
}

int law_init(Law *law, const char *name, int fit_offsets)
{
    memset(law, 0, sizeof *law);
    if (!strcmp(name, "chinchilla")) {
        law->kind = LAW_CHINCHILLA;
        law->k = law->n_coef = 5;
        return 0;
    }
    if (!strcmp(name, "dlcm")) {
        law->kind = LAW_DLCM;
        law->fit_offsets = fit_offsets;
        law->k = fit_offsets ? 11 : 8;
        law->n_coef = 11;
        return 0;
    }
    return -1;
}

const char *law_name(const Law *law) { return law->kind == LAW_CHINCHILLA ? "chinchilla" : "dlcm"; }

const char *law_coef_name(const Law *law, int i)
{
    return law->kind == LAW_CHINCHILLA ? chinchilla_coef[i] : dlcm_coef[i];
}

int law_coef_is_exponent(const Law *law, int i)
{
    return law->kind == LAW_CHINCHILLA ? (i == 3 || i == 4) : (i >= DC_DELTA1 && i <= DC_ALPHA);
}

int law_coef_is_fixed(const Law *law, int i)
{
    return law->kind == LAW_DLCM && !law->fit_offsets && i >= DC_TTOK && i <= DC_TDAT;
}

const char *law_param_name(const Law *law, int i)
{
    return law->kind == LAW_CHINCHILLA ? chinchilla_param[i] : dlcm_param[i];
}

enum { CEN_TOK, CEN_DAT, CEN_CON, CEN_R };

void law_set_centers(Law *law, const FitPoint *pts, int n)
{
    double sum[4] = {0}, count[4] = {0};
    for (int i = 0; i < n; i++) {
        const FitPoint *p = &pts[i];
        double tok = law->kind == LAW_CHINCHILLA ? p->N : p->N * (1.0 - p->P);
        sum[CEN_TOK] += log(tok);
        sum[CEN_DAT] += log(p->D);
        count[CEN_TOK] += 1;
        count[CEN_DAT] += 1;
        if (law->kind == LAW_DLCM && !p->dense) {
            sum[CEN_CON] += log(p->N * p->P);
            sum[CEN_R] += log(p->R);
            count[CEN_CON] += 1;
            count[CEN_R] += 1;
        }
    }
    for (int j = 0; j < 4; j++) law->center[j] = count[j] > 0 ? sum[j] / count[j] : 0.0;
}

/* Uncentered log-scale values (a = log A etc.) from theta, in theta's order. */
static void theta_uncenter(const Law *law, const double *theta, double *u)
{
    const double *m = law->center;
    double t[LAW_MAX_PARAMS];
    for (int i = 0; i < law->k; i++) t[i] = param_is_exponent(law, i) ? exp(theta[i]) : theta[i];
    memcpy(u, t, (size_t)law->k * sizeof *u);
    if (law->kind == LAW_CHINCHILLA) {
        u[CH_A] = t[CH_A] + t[CH_ALPHA] * m[CEN_TOK];
        u[CH_B] = t[CH_B] + t[CH_BETA] * m[CEN_DAT];
        return;
    }
    u[DL_ATOK] = t[DL_ATOK] + t[DL_DELTA1] * m[CEN_TOK];
    u[DL_ADAT] = t[DL_ADAT] + t[DL_ALPHA] * m[CEN_DAT];
    u[DL_ACON] = t[DL_ACON] - t[DL_GAMMA] * m[CEN_R] + t[DL_DELTA2] * m[CEN_CON];
}

void law_theta_from_natural(const Law *law, const double *u, double *t)
{
    const double *m = law->center;
    memcpy(t, u, (size_t)law->k * sizeof *t);
    for (int i = 0; i < law->k; i++)
        if (param_is_exponent(law, i)) t[i] = log(fmax(u[i], LAW_MIN_START_EXPONENT));
    if (law->kind == LAW_CHINCHILLA) {
        t[CH_A] = u[CH_A] - u[CH_ALPHA] * m[CEN_TOK];
        t[CH_B] = u[CH_B] - u[CH_BETA] * m[CEN_DAT];
        return;
    }
    t[DL_ATOK] = u[DL_ATOK] - u[DL_DELTA1] * m[CEN_TOK];
    t[DL_ADAT] = u[DL_ADAT] - u[DL_ALPHA] * m[CEN_DAT];
    t[DL_ACON] = u[DL_ACON] + u[DL_GAMMA] * m[CEN_R] - u[DL_DELTA2] * m[CEN_CON];
}

void law_theta_to_coef(const Law *law, const double *theta, double *c)
{
    double t[LAW_MAX_PARAMS];
    theta_uncenter(law, theta, t);
    if (law->kind == LAW_CHINCHILLA) {
        c[0] = exp(t[CH_E]);
        c[1] = exp(t[CH_A]);
        c[2] = exp(t[CH_B]);
        c[3] = t[CH_ALPHA];
        c[4] = t[CH_BETA];
        return;
    }
    c[DC_E0] = exp(t[DL_E0]);
    c[DC_ATOK] = exp(t[DL_ATOK]);
    c[DC_ACON] = exp(t[DL_ACON]);
    c[DC_ADAT] = exp(t[DL_ADAT]);
    c[DC_TTOK] = law->fit_offsets ? exp(t[DL_TTOK]) : 0.0;
    c[DC_TCON] = law->fit_offsets ? exp(t[DL_TCON]) : 0.0;
    c[DC_TDAT] = law->fit_offsets ? exp(t[DL_TDAT]) : 0.0;
    c[DC_DELTA1] = t[DL_DELTA1];
    c[DC_DELTA2] = t[DL_DELTA2];
    c[DC_GAMMA] = t[DL_GAMMA];
    c[DC_ALPHA] = t[DL_ALPHA];
}

/* log(x + exp(tau)) and its derivative in tau, or log x when offsets are fixed at 0. */
static double log_offset(double x, const double *t, int tau_index, int free_offset, double *dtau)
{
    if (!free_offset) { *dtau = 0.0; return log(x); }
    double off = exp(t[tau_index]);
    *dtau = off / (x + off);
    return log(x + off);
}

double law_log_predict(const Law *law, const double *theta, const FitPoint *p, double *grad)
{
    const double *m = law->center;
    double t[LAW_MAX_PARAMS];
    for (int i = 0; i < law->k; i++) t[i] = param_is_exponent(law, i) ? exp(theta[i]) : theta[i];
    double term[4], x[4] = {0}, dtau[4] = {0};
    int n_terms = 3;
    if (law->kind == LAW_CHINCHILLA) {
        x[1] = log(p->N) - m[CEN_TOK];
        x[2] = log(p->D) - m[CEN_DAT];
        term[0] = t[CH_E];
        term[1] = t[CH_A] - t[CH_ALPHA] * x[1];
        term[2] = t[CH_B] - t[CH_BETA] * x[2];
    } else {
        x[1] = log_offset(p->N * (1.0 - p->P), t, DL_TTOK, law->fit_offsets, &dtau[1]) - m[CEN_TOK];
        x[2] = log_offset(p->D, t, DL_TDAT, law->fit_offsets, &dtau[2]) - m[CEN_DAT];
        term[0] = t[DL_E0];
        term[1] = t[DL_ATOK] - t[DL_DELTA1] * x[1];
        term[2] = t[DL_ADAT] - t[DL_ALPHA] * x[2];
        if (!p->dense) {
            x[3] = log_offset(p->N * p->P, t, DL_TCON, law->fit_offsets, &dtau[3]) - m[CEN_CON];
            term[3] = t[DL_ACON] + t[DL_GAMMA] * (log(p->R) - m[CEN_R]) - t[DL_DELTA2] * x[3];
            n_terms = 4;
        }
    }
    double top = term[0];
    for (int i = 1; i < n_terms; i++) if (term[i] > top) top = term[i];
    double sum = 0.0, w[4];
    for (int i = 0; i < n_terms; i++) sum += (w[i] = exp(term[i] - top));
    double lse = top + log(sum);
    if (!grad) return lse;
    for (int i = 0; i < n_terms; i++) w[i] /= sum; /* softmax weights: d lse / d term_i */
    memset(grad, 0, (size_t)law->k * sizeof *grad);
    if (law->kind == LAW_CHINCHILLA) {
        grad[CH_E] = w[0];
        grad[CH_A] = w[1];
        grad[CH_ALPHA] = -w[1] * x[1];
        grad[CH_B] = w[2];
        grad[CH_BETA] = -w[2] * x[2];
        for (int i = 0; i < law->k; i++) if (param_is_exponent(law, i)) grad[i] *= t[i]; /* d exp(u) / du */
        return lse;
    }
    grad[DL_E0] = w[0];
    grad[DL_ATOK] = w[1];
    grad[DL_DELTA1] = -w[1] * x[1];
    grad[DL_ADAT] = w[2];
    grad[DL_ALPHA] = -w[2] * x[2];
    if (law->fit_offsets) {
        grad[DL_TTOK] = -w[1] * t[DL_DELTA1] * dtau[1];
        grad[DL_TDAT] = -w[2] * t[DL_ALPHA] * dtau[2];
    }
    if (n_terms == 4) {
        grad[DL_ACON] = w[3];
        grad[DL_GAMMA] = w[3] * (log(p->R) - m[CEN_R]);
        grad[DL_DELTA2] = -w[3] * x[3];
        if (law->fit_offsets) grad[DL_TCON] = -w[3] * t[DL_DELTA2] * dtau[3];
    }
    for (int i = 0; i < law->k; i++) if (param_is_exponent(law, i)) grad[i] *= t[i]; /* d exp(u) / du */
    return lse;
}

double law_loss(const Law *law, const double *c, double N, double D, double R, double P, int dense)
{
    if (law->kind == LAW_CHINCHILLA) return c[0] + c[1] / pow(N, c[3]) + c[2] / pow(D, c[4]);
    double loss = c[DC_E0] + c[DC_ATOK] / pow(N * (1.0 - P) + c[DC_TTOK], c[DC_DELTA1]) +
                  c[DC_ADAT] / pow(D + c[DC_TDAT], c[DC_ALPHA]);
    if (!dense) loss += c[DC_ACON] * pow(R, c[DC_GAMMA]) / pow(N * P + c[DC_TCON], c[DC_DELTA2]);
    return loss;
}

/* Values tried per parameter; the grid is their Cartesian product. The Chinchilla grid is the
 * one of Besiroglu et al. (2024): 5 x 6 x 6 x 5 x 5 = 4500 starts. */
static const double ch_e[] = {-1, -0.5, 0, 0.5, 1};
static const double ch_ab[] = {0, 5, 10, 15, 20, 25};
static const double ch_exp[] = {0, 0.5, 1, 1.5, 2};
static const double dl_e[] = {-0.5, 0.5};
static const double dl_scale[] = {2, 8, 14};
static const double dl_exp[] = {0.2, 0.5, 1.0};
static const double dl_gamma[] = {0.05, 0.5};
static const double dl_tau[] = {8.0}; /* t ~ 3000: then refined by the minimizer */

double *law_start_grid(const Law *law, int *n_starts)
{
    const double *values[LAW_MAX_PARAMS];
    int counts[LAW_MAX_PARAMS];
    if (law->kind == LAW_CHINCHILLA) {
        const double *v[] = {ch_e, ch_ab, ch_ab, ch_exp, ch_exp};
        int c[] = {5, 6, 6, 5, 5};
        for (int i = 0; i < 5; i++) { values[i] = v[i]; counts[i] = c[i]; }
    } else {
        const double *v[] = {dl_e, dl_scale, dl_scale, dl_scale, dl_exp, dl_exp, dl_gamma, dl_exp,
                             dl_tau, dl_tau, dl_tau};
        int c[] = {2, 3, 3, 3, 3, 3, 2, 3, 1, 1, 1};
        for (int i = 0; i < law->k; i++) { values[i] = v[i]; counts[i] = c[i]; }
    }
    int total = 1;
    for (int i = 0; i < law->k; i++) total *= counts[i];
    double *grid = malloc((size_t)total * law->k * sizeof *grid);
    if (!grid) return NULL;
    for (int s = 0; s < total; s++) {
        double natural[LAW_MAX_PARAMS];
        int rest = s;
        for (int i = law->k - 1; i >= 0; i--) {
            natural[i] = values[i][rest % counts[i]];
            rest /= counts[i];
        }
        law_theta_from_natural(law, natural, grid + (size_t)s * law->k);
    }
    *n_starts = total;
    return grid;
}
