/* fit/query_main.c: dlcm-query: the compute-optimal allocation under a fitted law (from the
 * database or the fit's JSON), with bootstrap intervals, the dense optimum and the saving. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/fits.h"
#include "fit/allocate.h"
#include "fit/output.h"
#include "fit/summary.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dlcm-query --budget C (--db FILE (--fit ID | --sweep NAME) | --fit-json FILE) [options]\n"
            "\n"
            "Minimizes the fitted loss over (N, P, R, D) subject to 3 F_fwd(shape) D = C. Shapes come from\n"
            "engine/shape.h's shape_solve(N, P) with its default rule (d_c = 2 d_t, width/blocks = 64 for the\n"
            "widest stack, token blocks split evenly between encoder and decoder), F_fwd from\n"
            "shape_fwd_flops_per_token; N and P in the law are the solved shape's. The dense optimum uses the\n"
            "same law with no concept term (P = 0, R = 1), or for a Chinchilla fit its dense shapes and the\n"
            "closed form N* = G (C/6)^(beta/(alpha+beta)).\n"
            "\n"
            "  --budget C              training FLOPs (required)\n"
            "  --db FILE --fit ID      a stored fit;  --db FILE --sweep NAME [--law L]: the sweep's latest fit\n"
            "  --fit-json FILE         the fit's JSON (as written by dlcm-fit --json)\n"
            "  --R R                   fix the compression ratio\n"
            "  --R-range LO,HI         R searched (default: the fit data's range)\n"
            "  --max-N N               cap on non-embedding parameters\n"
            "  --max-inference-flops F cap on forward FLOPs per token\n"
            "  --vocab V --seq-len T   shape family's V and T (default: the fit's data)\n"
            "  --samples K             bootstrap samples used (default: all stored)\n");
}

static void print_alloc(const char *label, const Allocation *a, const double *lo, const double *hi)
{
    char shape[256];
    shape_describe(&a->shape, shape, sizeof shape);
    printf("%s\n", label);
    printf("  shape      %s\n", shape);
    printf("  N          %.4g   [%.4g, %.4g]\n", a->N, lo[0], hi[0]);
    printf("  P          %.4f   [%.4f, %.4f]\n", a->P, lo[1], hi[1]);
    printf("  R          %.3f   [%.3f, %.3f]\n", a->R, lo[2], hi[2]);
    printf("  D          %.4g   [%.4g, %.4g]   tokens; D/N = %.1f\n", a->D, lo[3], hi[3], a->D / a->N);
    printf("  F_fwd      %.4g FLOPs/token; 3 F_fwd D = %.4g\n", a->fwd_flops, 3 * a->fwd_flops * a->D);
    printf("  loss       %.5f   [%.5f, %.5f]   (bootstrap 95%% of the fitted loss at this allocation)\n", a->loss, lo[4], hi[4]);
}

int main(int argc, char **argv)
{
    const char *db_path = NULL, *sweep = NULL, *fit_json = NULL, *law_filter = NULL;
    long long fit_id = -1;
    double budget = 0, R_fixed = 0, max_N = 0, max_inf = 0, R_lo = 0, R_hi = 0;
    int vocab = 0, seq_len = 0, max_samples = -1;
    static const struct option opts[] = {
        {"budget", 1, 0, 'C'}, {"db", 1, 0, 'd'}, {"fit", 1, 0, 'f'}, {"sweep", 1, 0, 's'}, {"law", 1, 0, 'l'},
        {"fit-json", 1, 0, 'j'}, {"R", 1, 0, 'R'}, {"R-range", 1, 0, 'r'}, {"max-N", 1, 0, 'N'},
        {"max-inference-flops", 1, 0, 'I'}, {"vocab", 1, 0, 'V'}, {"seq-len", 1, 0, 'T'}, {"samples", 1, 0, 'k'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c, option_index = 0;
    char *end;
    while ((c = getopt_long(argc, argv, "h", opts, &option_index)) != -1) {
        double v = optarg ? strtod(optarg, &end) : 0;
        int bad = optarg && c != 'd' && c != 's' && c != 'l' && c != 'j' && c != 'r' && (*end || !(v > 0) || !isfinite(v));
        if (bad) { fprintf(stderr, "dlcm-query: --%s needs a positive number (got %s)\n", opts[option_index].name, optarg); return 2; }
        switch (c) {
        case 'C': budget = v; break;
        case 'd': db_path = optarg; break;
        case 'f': fit_id = (long long)v; break;
        case 's': sweep = optarg; break;
        case 'l': law_filter = optarg; break;
        case 'j': fit_json = optarg; break;
        case 'R': R_fixed = v; break;
        case 'r':
            if (sscanf(optarg, "%lf,%lf", &R_lo, &R_hi) != 2 || !(R_lo >= 1) || !(R_hi >= R_lo)) {
                fprintf(stderr, "dlcm-query: --R-range LO,HI with 1 <= LO <= HI\n");
                return 2;
            }
            break;
        case 'N': max_N = v; break;
        case 'I': max_inf = v; break;
        case 'V': vocab = (int)v; break;
        case 'T': seq_len = (int)v; break;
        case 'k': max_samples = (int)v; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!(budget > 0) || (!!fit_json + !!db_path != 1) || (db_path && fit_id < 0 && !sweep)) {
        usage(stderr);
        return 2;
    }
    char err[1024], what[600];
    char *text = NULL;
    if (fit_json) {
        snprintf(what, sizeof what, "%s", fit_json);
        FILE *f = fopen(fit_json, "r");
        if (!f) { fprintf(stderr, "dlcm-query: %s: cannot open: %s\n", fit_json, strerror(errno)); return 1; }
        size_t cap = 1 << 16, len = 0, got;
        text = malloc(cap);
        while (text && (got = fread(text + len, 1, cap - len - 1, f)) > 0) {
            len += got;
            if (len + 1 == cap) { char *g = realloc(text, cap *= 2); if (!g) { free(text); text = NULL; } else text = g; }
        }
        fclose(f);
        if (!text) { fprintf(stderr, "dlcm-query: out of memory\n"); return 1; }
        text[len] = '\0';
    } else {
        sqlite3 *db = output_open_existing_db(db_path, err, sizeof err);
        if (!db) { fprintf(stderr, "dlcm-query: %s\n", err); return 1; }
        char law[32], source[600];
        int rc = 0;
        if (fit_id < 0) {
            snprintf(source, sizeof source, "sweep:%s", sweep);
            rc = fits_latest(db, source, law_filter, &fit_id, err, sizeof err);
        }
        if (!rc) rc = fits_read(db, fit_id, &text, law, sizeof law, err, sizeof err);
        db_close(db);
        if (rc) { fprintf(stderr, "dlcm-query: %s: %s\n", db_path, err); return 1; }
        if (strcmp(law, "chinchilla") && strcmp(law, "dlcm")) {
            fprintf(stderr, "dlcm-query: fit %lld is a %s fit; the query needs a chinchilla or dlcm law\n", fit_id, law);
            free(text);
            return 1;
        }
        snprintf(what, sizeof what, "%s fit %lld", db_path, fit_id);
    }
    LawSummary s;
    int rc = summary_from_json(text, what, &s, err, sizeof err);
    free(text);
    if (rc) { fprintf(stderr, "dlcm-query: %s\n", err); return 1; }
    if (vocab) s.vocab = vocab;
    if (seq_len) s.seq_len = seq_len;
    if (max_samples >= 0 && max_samples < s.n_samples) s.n_samples = max_samples;
    const Law *law = &s.law;
    AllocSpace space = {.vocab = s.vocab, .seq_len = s.seq_len, .R_fixed = R_fixed,
                        .R_min = R_lo ? R_lo : s.R_min, .R_max = R_hi ? R_hi : s.R_max, .max_N = max_N,
                        .max_fwd_flops = max_inf};
    if (law->kind == LAW_DLCM && R_fixed == 0 && !(space.R_min >= 1 && space.R_max >= space.R_min)) {
        fprintf(stderr, "dlcm-query: %s: the fit has no R range; pass --R or --R-range\n", what);
        return 1;
    }
    CandidateSet dense, dlcm;
    if (allocate_candidates(&space, 1, &dense, err, sizeof err)) { fprintf(stderr, "dlcm-query: %s\n", err); summary_free(&s); return 1; }
    int have_dlcm = law->kind == LAW_DLCM;
    if (have_dlcm && allocate_candidates(&space, 0, &dlcm, err, sizeof err)) {
        fprintf(stderr, "dlcm-query: %s\n", err);
        allocate_candidates_free(&dense);
        summary_free(&s);
        return 1;
    }
    printf("dlcm-query: %s law from %s (%s), budget C = %.4g FLOPs, V = %d, T = %d, %d bootstrap samples\n",
           law_name(law), what, s.source, budget, s.vocab, s.seq_len, s.n_samples);
    if (R_fixed) printf("  constraint: R = %g\n", R_fixed);
    else if (have_dlcm) printf("  R searched in [%g, %g]\n", space.R_min, space.R_max);
    if (max_N) printf("  constraint: N <= %.4g\n", max_N);
    if (max_inf) printf("  constraint: F_fwd <= %.4g FLOPs/token\n", max_inf);
    /* Intervals: per sample, the fitted loss at the point allocation (loss interval) and the
     * sample's own optimum (N, P, R, D intervals). */
    int B = s.n_samples, k = law->n_coef;
    double *col = malloc((size_t)(B > 0 ? B : 1) * 5 * sizeof *col);
    int status = 0;
    for (int fam = have_dlcm ? 0 : 1; fam <= 1; fam++) {
        const CandidateSet *set = fam ? &dense : &dlcm;
        Allocation a = allocate_best(law, s.coef, set, budget);
        if (!a.valid) {
            printf("\n%s: no allocation satisfies the constraints\n", fam ? "dense" : "dlcm");
            status = 1;
            continue;
        }
        /* Per sample: its own optimum (N, P, R, D) and the loss of the point allocation. */
        for (int b = 0; b < B; b++) {
            const double *cb = s.samples + (size_t)b * k;
            Allocation ab = allocate_best(law, cb, set, budget);
            double v[4] = {ab.N, ab.P, ab.R, ab.D};
            for (int q = 0; q < 4; q++) col[(size_t)q * B + b] = ab.valid ? v[q] : NAN;
            col[(size_t)4 * B + b] = allocate_loss(law, cb, &a);
        }
        double lo[5], hi[5];
        for (int q = 0; q < 5; q++) estimator_percentile_interval(col + (size_t)q * B, B, 0.95, &lo[q], &hi[q]);
        const char *label = !fam ? "\ndlcm optimum:"
                            : have_dlcm ? "\ndense optimum (same law, no concept term; P = 0, R = 1):"
                                        : "\ndense optimum (dense shapes from shape_solve, 3 F_fwd D = C):";
        print_alloc(label, &a, lo, hi);
        if (law->kind == LAW_CHINCHILLA) {
            double N_cf, D_cf;
            allocate_chinchilla_closed_form(s.coef, budget, &N_cf, &D_cf);
            printf("  closed form (C = 6 N D): N* = %.4g, D* = %.4g, loss %.5f\n", N_cf, D_cf,
                   law_loss(law, s.coef, N_cf, D_cf, 1, 0, 1));
        }
        if (fam == 1 && have_dlcm) {
            Allocation d = a, m = allocate_best(law, s.coef, &dlcm, budget);
            if (m.valid) {
                double gap = d.loss - m.loss;
                double C_eq = allocate_budget_for_loss(law, s.coef, &dlcm, d.loss, budget / 1e4, budget * 1e4);
                printf("\npredicted saving at C = %.4g:\n", budget);
                printf("  loss gap (dense - dlcm)   %+.5f nats/token\n", gap);
                if (isfinite(C_eq) && C_eq <= budget)
                    printf("  dlcm reaches the dense loss %.5f at C = %.4g: %.1f%% of the FLOPs (saving %.1f%%)\n", d.loss, C_eq,
                           100 * C_eq / budget, 100 * (1 - C_eq / budget));
                else if (isfinite(C_eq))
                    printf("  no saving: dlcm needs C = %.4g (%.2fx the budget) to reach the dense loss %.5f\n", C_eq,
                           C_eq / budget, d.loss);
                else
                    printf("  dlcm does not reach the dense loss within C/1e4 .. 1e4 C\n");
                double *gaps = malloc((size_t)(B > 0 ? B : 1) * sizeof *gaps);
                for (int b = 0; b < B && gaps; b++) {
                    const double *cb = s.samples + (size_t)b * k;
                    Allocation mb = allocate_best(law, cb, &dlcm, budget), db = allocate_best(law, cb, &dense, budget);
                    gaps[b] = mb.valid && db.valid ? db.loss - mb.loss : NAN;
                }
                if (gaps && B > 0) {
                    double glo, ghi;
                    estimator_percentile_interval(gaps, B, 0.95, &glo, &ghi);
                    printf("  loss gap bootstrap 95%%    [%+.5f, %+.5f]\n", glo, ghi);
                }
                free(gaps);
            }
        }
    }
    free(col);
    allocate_candidates_free(&dense);
    if (have_dlcm) allocate_candidates_free(&dlcm);
    summary_free(&s);
    return status;
}
