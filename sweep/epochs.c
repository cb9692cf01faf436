/* sweep/epochs.c: each planned run's epochs, D over the tokens of the training shard its resolved
 * config reads, and the guard that refuses runs beyond the sweep's max_epochs (see epochs.h). */
#include "sweep/epochs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/config.h"
#include "sweep/preflight.h"

/* Shards already read: path and token count (0: unreadable). */
typedef struct {
    char path[CONFIG_PATH_MAX];
    uint64_t tokens;
} KnownShard;

#define MAX_KNOWN_SHARDS 32

/* The training shard a run's config reads, resolved as the trainer resolves it. 0 or -1. */
static int train_shard_of(const PlannedRun *run, char *path, size_t n)
{
    TrainConfig cfg = train_config_default();
    ConfigSources *src = config_sources_create();
    char err[1024];
    int rc = -1;
    if (src && config_load_text(&cfg, run->config, run->id, err, sizeof err) == 0 &&
        config_resolve(&cfg, src, err, sizeof err) == 0) {
        snprintf(path, n, "%s", cfg.train_path);
        rc = 0;
    }
    config_sources_destroy(src);
    return rc;
}

int sweep_plan_epochs(const SweepSpec *spec, SweepPlan *plan, char *err, int errlen)
{
    static KnownShard known[MAX_KNOWN_SHARDS];
    int n_known = 0, over = 0, first = -1;
    char first_path[CONFIG_PATH_MAX] = "";
    uint64_t first_tokens = 0;
    for (int i = 0; i < plan->n; i++) {
        PlannedRun *r = &plan->runs[i];
        r->epochs = NAN;
        char path[CONFIG_PATH_MAX];
        if (train_shard_of(r, path, sizeof path)) continue; /* the data check names the problem */
        int k = 0;
        while (k < n_known && strcmp(known[k].path, path) != 0) k++;
        if (k == n_known) {
            if (n_known == MAX_KNOWN_SHARDS) continue;
            snprintf(known[k].path, sizeof known[k].path, "%s", path);
            if (sweep_shard_token_count(path, &known[k].tokens)) known[k].tokens = 0;
            n_known++;
        }
        if (known[k].tokens == 0) continue;
        r->epochs = (double)r->tokens / (double)known[k].tokens;
        if (r->epochs > spec->max_epochs * (1 + 1e-12)) {
            if (first < 0) {
                first = i;
                snprintf(first_path, sizeof first_path, "%s", path);
                first_tokens = known[k].tokens;
            }
            over++;
        }
    }
    if (first < 0) return 0;
    const PlannedRun *r = &plan->runs[first];
    char desc[160], more[64] = "";
    shape_describe(&r->shape, desc, sizeof desc);
    if (over > 1) snprintf(more, sizeof more, " (and %d more run%s over the limit)", over - 1, over > 2 ? "s" : "");
    int line = spec->max_epochs_line;
    if (!line) line = spec->families[r->family_index >= 0 ? r->family_index : r->partner_of_family].line;
    snprintf(err, errlen,
             "%s:%d: max_epochs: run %s (%s, %s %.4g) would read its training shard %s (%.4g tokens) %.3g times: "
             "%lld tokens, more than max_epochs %g%s; give it a larger model or a smaller budget, or raise "
             "max_epochs in the sweep file",
             spec->file, line, r->id, desc, r->has_budget ? "budget" : "tokens",
             r->has_budget ? r->budget : (double)r->tokens, first_path, (double)first_tokens, r->epochs,
             (long long)r->tokens, spec->max_epochs, more);
    return -1;
}
