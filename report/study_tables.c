/* report/study_tables.c: claim verdicts, device sessions and the position profile (see
 * study_tables.h). */
#include "report/study_tables.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit/estimator.h"
#include "util/mix64.h"

ClaimVerdict claim_from_interval(double lo, double hi, double threshold, int direction)
{
    if (isnan(lo) || isnan(hi)) return CLAIM_MISSING;
    if (direction > 0) {
        if (lo > threshold) return CLAIM_HOLDS;
        if (hi < threshold) return CLAIM_FAILS;
    } else {
        if (hi < threshold) return CLAIM_HOLDS;
        if (lo > threshold) return CLAIM_FAILS;
    }
    return CLAIM_UNDECIDED;
}

const char *claim_verdict_text(ClaimVerdict v)
{
    static const char *const text[] = {"holds", "does not hold", "cannot decide at this scale", "missing"};
    return v >= CLAIM_HOLDS && v <= CLAIM_MISSING ? text[v] : "missing";
}

static int by_start(const void *a, const void *b)
{
    const SessionRun *x = a, *y = b;
    int g = strcmp(x->gpu, y->gpu);
    if (g) return g;
    return (x->start > y->start) - (x->start < y->start);
}

int sessions_group(SessionRun *runs, int n, double gap_s, Session *out, int max)
{
    qsort(runs, (size_t)n, sizeof *runs, by_start);
    int k = 0;
    for (int i = 0; i < n; i++) {
        SessionRun *r = &runs[i];
        if (!isfinite(r->start) || !isfinite(r->end)) continue;
        Session *s = k ? &out[k - 1] : NULL;
        if (!s || strcmp(s->gpu, r->gpu) || r->start > s->end + gap_s) {
            if (k == max) break;
            s = &out[k++];
            memset(s, 0, sizeof *s);
            s->start = r->start;
            s->end = r->end;
            memcpy(s->gpu, r->gpu, sizeof s->gpu);
            memcpy(s->host, r->host, sizeof s->host);
        }
        if (r->end > s->end) s->end = r->end;
        if (isfinite(r->flops)) s->flops += r->flops;
        s->runs++;
    }
    return k;
}

int profile_add(ProfileData *p, const float *dlcm_loss, const uint8_t *pos, const float *dense_loss, long n,
                long per_window)
{
    if (per_window <= 0 || n % per_window || (p->n_windows && per_window != p->per_window)) return -1;
    int add = (int)(n / per_window);
    if (p->n_windows + add > p->cap) {
        int cap = (p->n_windows + add) * 2;
        size_t tokens = (size_t)cap * (size_t)per_window;
        float *a = realloc(p->dlcm, tokens * sizeof *a);
        if (a) p->dlcm = a;
        float *b = realloc(p->dense, tokens * sizeof *b);
        if (b) p->dense = b;
        uint8_t *c = realloc(p->pos, tokens);
        if (c) p->pos = c;
        if (!a || !b || !c) return -1;
        p->cap = cap;
    }
    size_t at = (size_t)p->n_windows * (size_t)per_window;
    memcpy(p->dlcm + at, dlcm_loss, (size_t)n * sizeof *dlcm_loss);
    memcpy(p->dense + at, dense_loss, (size_t)n * sizeof *dense_loss);
    memcpy(p->pos + at, pos, (size_t)n);
    p->per_window = per_window;
    p->n_windows += add;
    return 0;
}

void profile_free(ProfileData *p)
{
    free(p->dlcm);
    free(p->dense);
    free(p->pos);
    memset(p, 0, sizeof *p);
}

static int bin_of(uint8_t pos)
{
    return pos < PROFILE_POSITIONS - 1 ? pos : PROFILE_POSITIONS - 1;
}

/* Sums per bin over the windows listed (counts of each window's use). */
static void sums(const ProfileData *p, const int *uses, double *dlcm, double *dense, double *count)
{
    for (int b = 0; b < PROFILE_POSITIONS; b++) dlcm[b] = dense[b] = count[b] = 0;
    for (int w = 0; w < p->n_windows; w++) {
        if (!uses[w]) continue;
        size_t at = (size_t)w * (size_t)p->per_window;
        for (long i = 0; i < p->per_window; i++) {
            int b = bin_of(p->pos[at + i]);
            dlcm[b] += uses[w] * (double)p->dlcm[at + i];
            dense[b] += uses[w] * (double)p->dense[at + i];
            count[b] += uses[w];
        }
    }
}

/* The interior position of the smallest gap and whether both ends exceed it. */
static int u_shape(const double *gap, int last, int *min_at)
{
    int m = -1;
    for (int b = 1; b < last; b++)
        if (isfinite(gap[b]) && (m < 0 || gap[b] < gap[m])) m = b;
    *min_at = m;
    return m > 0 && gap[0] > gap[m] && gap[last] > gap[m];
}

int profile_compute(const ProfileData *p, Profile *out)
{
    memset(out, 0, sizeof *out);
    out->windows = p->n_windows;
    if (p->n_windows == 0) return -1;
    int *uses = malloc((size_t)p->n_windows * sizeof *uses);
    double *boot = malloc((size_t)PROFILE_BOOTSTRAP * PROFILE_POSITIONS * sizeof *boot);
    if (!uses || !boot) {
        free(uses);
        free(boot);
        return -1;
    }
    double dl[PROFILE_POSITIONS], de[PROFILE_POSITIONS], cnt[PROFILE_POSITIONS];
    for (int w = 0; w < p->n_windows; w++) uses[w] = 1;
    sums(p, uses, dl, de, cnt);
    out->last = 0;
    for (int b = 0; b < PROFILE_POSITIONS; b++) {
        out->tokens[b] = (long)cnt[b];
        out->dlcm[b] = cnt[b] > 0 ? dl[b] / cnt[b] : NAN;
        out->dense[b] = cnt[b] > 0 ? de[b] / cnt[b] : NAN;
        out->gap[b] = out->dlcm[b] - out->dense[b];
    }
    /* The U's right end: the last single position (not the pooled bin) such that every position
     * up to it has enough tokens. */
    out->last = -1;
    for (int b = 0; b < PROFILE_POSITIONS - 1 && cnt[b] >= PROFILE_MIN_TOKENS; b++) out->last = b;
    out->min_at = -1;
    if (out->last >= 2) u_shape(out->gap, out->last, &out->min_at);
    uint64_t state = 0x70726f66696c65ull;
    int u_count = 0, valid = 0;
    for (int r = 0; r < PROFILE_BOOTSTRAP; r++) {
        memset(uses, 0, (size_t)p->n_windows * sizeof *uses);
        for (int w = 0; w < p->n_windows; w++) {
            state = rng_mix64(state + 0x9E3779B97F4A7C15ull);
            uses[state % (uint64_t)p->n_windows]++;
        }
        sums(p, uses, dl, de, cnt);
        double gap[PROFILE_POSITIONS];
        for (int b = 0; b < PROFILE_POSITIONS; b++) {
            gap[b] = cnt[b] > 0 ? (dl[b] - de[b]) / cnt[b] : NAN;
            boot[(size_t)b * PROFILE_BOOTSTRAP + r] = gap[b];
        }
        int m;
        if (out->last >= 2) {
            valid++;
            u_count += u_shape(gap, out->last, &m);
        }
    }
    for (int b = 0; b < PROFILE_POSITIONS; b++)
        estimator_percentile_interval(boot + (size_t)b * PROFILE_BOOTSTRAP, PROFILE_BOOTSTRAP, 0.95, &out->gap_lo[b],
                                      &out->gap_hi[b]);
    out->u_share = valid ? (double)u_count / valid : NAN;
    free(uses);
    free(boot);
    return 0;
}

ClaimVerdict profile_u_verdict(const Profile *p)
{
    if (isnan(p->u_share) || p->last < 2) return CLAIM_MISSING;
    if (p->u_share >= 0.975) return CLAIM_HOLDS;
    if (p->u_share <= 0.025) return CLAIM_FAILS;
    return CLAIM_UNDECIDED;
}
