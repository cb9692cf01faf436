/* report/seed_noise.c: seed replicates grouped into shapes, their means, and the pooled
 * seed-to-seed standard deviation of final losses with its chi-square interval (see seed_noise.h). */
#include "report/seed_noise.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <string.h>

static int same_text(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

static int same_number(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

int seed_same_shape(const ShapeKey *a, const ShapeKey *b)
{
    return same_text(a->sweep, b->sweep) && same_text(a->family, b->family) &&
           same_text(a->parametrization, b->parametrization) && same_text(a->parser, b->parser) && a->d_t == b->d_t &&
           a->d_c == b->d_c && same_number(a->N, b->N) && same_number(a->P, b->P) && same_number(a->R, b->R) &&
           same_number(a->lr, b->lr) && same_number(a->budget, b->budget) && same_number(a->D, b->D);
}

void seed_config_parser(const char *config, char *buf, size_t n)
{
    static const char key[] = "parser";
    size_t klen = sizeof key - 1;
    if (n == 0) return;
    buf[0] = '\0';
    if (!config) return;
    for (const char *line = config; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *p = line;
        while (*p == ' ') p++;
        if (strncmp(p, key, klen) || p[klen] != ':') continue;
        p += klen + 1;
        while (*p == ' ') p++;
        size_t i = 0;
        while (p[i] && p[i] != '\n' && p[i] != ' ' && p[i] != '#' && i + 1 < n) {
            buf[i] = p[i];
            i++;
        }
        buf[i] = '\0';
        return;
    }
}

void seed_shape_groups(const ShapeKey *keys, int n, int *group)
{
    for (int i = 0; i < n; i++) {
        group[i] = i;
        for (int j = 0; j < i; j++)
            if (group[j] == j && seed_same_shape(&keys[i], &keys[j])) {
                group[i] = j;
                break;
            }
    }
}

int seed_shape_means(const ShapeKey *keys, const double *values, int n, ShapeMean *out)
{
    int shapes = 0;
    for (int i = 0; i < n; i++) {
        int first = 1;
        for (int j = 0; j < i && first; j++) first = !seed_same_shape(&keys[i], &keys[j]);
        if (!first) continue;
        ShapeMean *m = &out[shapes++];
        m->first = i;
        m->first_done = -1;
        m->runs = m->k = 0;
        m->mean = m->sd = m->min = m->max = NAN;
        double sum = 0;
        for (int j = i; j < n; j++) {
            if (!seed_same_shape(&keys[i], &keys[j])) continue;
            m->runs++;
            if (!isfinite(values[j])) continue;
            if (m->first_done < 0) m->first_done = j;
            sum += values[j];
            m->min = m->k ? fmin(m->min, values[j]) : values[j];
            m->max = m->k ? fmax(m->max, values[j]) : values[j];
            m->k++;
        }
        if (m->k == 0) continue;
        m->mean = sum / m->k;
        if (m->k < 2) continue;
        double ss = 0;
        for (int j = i; j < n; j++)
            if (seed_same_shape(&keys[i], &keys[j]) && isfinite(values[j]))
                ss += (values[j] - m->mean) * (values[j] - m->mean);
        m->sd = sqrt(ss / (m->k - 1));
    }
    return shapes;
}

SeedNoise seed_noise_pooled(const double *values, const int *group, int n)
{
    SeedNoise s = {0, 0, NAN, NAN, NAN};
    double ss = 0;
    /* Quadratic in n, and n is a study's run count (hundreds): no sorting needed. */
    for (int i = 0; i < n; i++) {
        if (!isfinite(values[i])) continue;
        int first = 1;
        for (int j = 0; j < i && first; j++)
            if (group[j] == group[i] && isfinite(values[j])) first = 0;
        if (!first) continue;
        double sum = 0;
        int k = 0;
        for (int j = i; j < n; j++)
            if (group[j] == group[i] && isfinite(values[j])) sum += values[j], k++;
        if (k < 2) continue;
        double mean = sum / k;
        for (int j = i; j < n; j++)
            if (group[j] == group[i] && isfinite(values[j])) ss += (values[j] - mean) * (values[j] - mean);
        s.groups++;
        s.df += k - 1;
    }
    if (s.df == 0) return s;
    s.sd = sqrt(ss / s.df);
    s.sd_lo = s.sd * sqrt(s.df / gsl_cdf_chisq_Pinv(0.975, s.df));
    s.sd_hi = s.sd * sqrt(s.df / gsl_cdf_chisq_Pinv(0.025, s.df));
    return s;
}

double seed_difference_band(double sd, int df, int k_a, int k_b)
{
    if (df < 1 || k_a < 1 || k_b < 1) return NAN;
    return gsl_cdf_tdist_Pinv(0.975, df) * sd * sqrt(1.0 / k_a + 1.0 / k_b);
}
