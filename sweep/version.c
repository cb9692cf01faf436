/* sweep/version.c: comparing sweep files key by key (libyaml, flattened into path = value
 * lines) and recording versions of a sweep and extensions of one (see sweep/version.h). */
#include "sweep/version.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "db/study.h"
#include "sweep/epochs.h"

typedef struct {
    char **keys, **values;
    int n, cap;
} Flat;

static int flat_add(Flat *f, const char *key, const char *value)
{
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 64;
        char **k = realloc(f->keys, (size_t)cap * sizeof *k);
        if (!k) return -1;
        f->keys = k;
        char **v = realloc(f->values, (size_t)cap * sizeof *v);
        if (!v) return -1;
        f->values = v;
        f->cap = cap;
    }
    f->keys[f->n] = strdup(key);
    f->values[f->n] = strdup(value);
    if (!f->keys[f->n] || !f->values[f->n]) return -1;
    f->n++;
    return 0;
}

static void flat_free(Flat *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->keys[i]);
        free(f->values[i]);
    }
    free(f->keys);
    free(f->values);
}

/* Walks a node: scalars become "path: value"; mappings extend the path with ".key" (top level:
 * "key"); sequences of scalars are one value "[a, b]", other sequences extend it with "[i]". */
static int flatten(yaml_document_t *doc, yaml_node_t *node, const char *path, Flat *out, int depth)
{
    if (!node || depth > 32) return -1;
    char sub[1024];
    if (node->type == YAML_SCALAR_NODE) return flat_add(out, path, (const char *)node->data.scalar.value);
    if (node->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) return -1;
            snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", (const char *)k->data.scalar.value);
            if (flatten(doc, yaml_document_get_node(doc, p->value), sub, out, depth + 1)) return -1;
        }
        return 0;
    }
    int all_scalars = 1;
    for (yaml_node_item_t *i = node->data.sequence.items.start; i < node->data.sequence.items.top; i++) {
        yaml_node_t *item = yaml_document_get_node(doc, *i);
        if (!item || item->type != YAML_SCALAR_NODE) all_scalars = 0;
    }
    if (all_scalars) {
        char value[1024] = "[";
        size_t used = 1;
        for (yaml_node_item_t *i = node->data.sequence.items.start; i < node->data.sequence.items.top; i++) {
            yaml_node_t *item = yaml_document_get_node(doc, *i);
            int w = snprintf(value + used, sizeof value - used, "%s%s", i == node->data.sequence.items.start ? "" : ", ",
                             (const char *)item->data.scalar.value);
            if (w < 0 || (size_t)w >= sizeof value - used) break;
            used += (size_t)w;
        }
        snprintf(value + used, sizeof value - used, "]");
        return flat_add(out, path, value);
    }
    int index = 0;
    for (yaml_node_item_t *i = node->data.sequence.items.start; i < node->data.sequence.items.top; i++, index++) {
        snprintf(sub, sizeof sub, "%s[%d]", path, index);
        if (flatten(doc, yaml_document_get_node(doc, *i), sub, out, depth + 1)) return -1;
    }
    return 0;
}

static int flatten_text(const char *text, Flat *out)
{
    memset(out, 0, sizeof *out);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return -1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    int rc = -1;
    if (yaml_parser_load(&parser, &doc)) {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        rc = root ? flatten(&doc, root, "", out, 0) : 0;
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

static int find_key(const Flat *f, const char *key)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->keys[i], key) == 0) return i;
    return -1;
}

int sweep_settings_diff(const char *old_text, const char *new_text, FILE *out)
{
    Flat a, b;
    if (flatten_text(old_text, &a)) { flat_free(&a); return -1; }
    if (flatten_text(new_text, &b)) { flat_free(&a); flat_free(&b); return -1; }
    int n = 0;
    for (int i = 0; i < b.n; i++) {
        int j = find_key(&a, b.keys[i]);
        if (j < 0) {
            if (out) fprintf(out, "  added   %s: %s\n", b.keys[i], b.values[i]);
            n++;
        } else if (strcmp(a.values[j], b.values[i]) != 0) {
            if (out) fprintf(out, "  changed %s: %s -> %s\n", b.keys[i], a.values[j], b.values[i]);
            n++;
        }
    }
    for (int j = 0; j < a.n; j++)
        if (find_key(&b, a.keys[j]) < 0) {
            if (out) fprintf(out, "  removed %s: %s\n", a.keys[j], a.values[j]);
            n++;
        }
    flat_free(&a);
    flat_free(&b);
    return n;
}

/* The newest recorded version whose settings equal the new text's (0: none). */
typedef struct {
    const char *text;
    int version;
    char name[256];
} VersionMatch;

static void match_version(void *ctx, int64_t sweep_id, const char *name, int version, const char *text)
{
    VersionMatch *m = ctx;
    if (m->version == 0 && sweep_settings_diff(text, m->text, NULL) == 0) {
        m->version = version;
        snprintf(m->name, sizeof m->name, "%s", name);
    }
}

/* Names the spec as the recorded version is named (NAME.vK from version 2 on) and plans it again:
 * the name goes into every run config, so a version's runs are its own. 0, or -1 (printed). */
static int plan_as(SweepSpec *spec, SweepPlan *plan, const char *name)
{
    if (strcmp(spec->name, name) == 0) return 0;
    char err[1024];
    snprintf(spec->name, sizeof spec->name, "%s", name);
    sweep_plan_free(plan);
    if (sweep_plan(spec, plan, err, sizeof err) || sweep_plan_epochs(spec, plan, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        return -1;
    }
    return 0;
}

static int plan_has(const SweepPlan *plan, const char *id)
{
    for (int i = 0; i < plan->n; i++)
        if (strcmp(plan->runs[i].id, id) == 0) return 1;
    return 0;
}

static void describe_planned(const PlannedRun *r, char *buf, size_t n)
{
    const ModelShape *s = &r->shape;
    int used;
    if (s->family == FAMILY_DENSE) used = snprintf(buf, n, "dense d=%d L=%d", s->d_t, s->n_layers);
    else used = snprintf(buf, n, "dlcm d_t=%d d_c=%d %d/%d/%d R=%g", s->d_t, s->d_c, s->n_enc, s->n_con, s->n_dec, s->R);
    if (used < 0 || (size_t)used >= n) return;
    snprintf(buf + used, n - (size_t)used, ", %s %.4g, lr %g, seed %lld", r->has_budget ? "budget" : "tokens",
             r->has_budget ? r->budget : (double)r->tokens, r->lr, (long long)r->seed);
}

/* The runs recorded under the version, with what `status --runs` says of each. */
typedef struct {
    struct {
        char id[17], desc[160];
    } *runs;
    int n, cap, out_of_memory;
} RecordedRuns;

static void collect_recorded(void *ctx, const RunListing *run)
{
    RecordedRuns *r = ctx;
    if (r->out_of_memory) return;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        void *grown = realloc(r->runs, (size_t)cap * sizeof *r->runs);
        if (!grown) { r->out_of_memory = 1; return; }
        r->runs = grown;
        r->cap = cap;
    }
    snprintf(r->runs[r->n].id, sizeof r->runs[r->n].id, "%s", run->id);
    snprintf(r->runs[r->n].desc, sizeof r->runs[r->n].desc, "%s N=%.4g, budget %.4g, lr %g, seed %lld", run->family,
             run->N, run->budget, run->lr, (long long)run->seed);
    r->n++;
}

/* How many runs a refusal names before it says "and K more". */
#define EXTEND_RUNS_NAMED 5

/* Compares the new plan (named as the version is) with version `version` of the sweep: the plan of
 * its stored settings (the same parser and planner) and the runs recorded under it. Every one of
 * those must be planned identically (the same id) by the new file. 1 when they are (*n_new: planned
 * runs not recorded yet, *n_kept: recorded runs), 0 when not (the first few named on stderr), -1
 * error (printed). */
static int compare_extension(sqlite3 *db, int64_t sweep_id, const char *base, const char *stored_name, int version,
                             const char *stored, const char *file, const char *text, const SweepPlan *plan,
                             int *n_new, int *n_kept, FILE *list_new)
{
    char err[1024], label[320];
    snprintf(label, sizeof label, "%s (version %d, as recorded)", base, version);
    SweepSpec *old = malloc(sizeof *old);
    SweepPlan old_plan = {0};
    RecordedRuns recorded = {0};
    int result = -1;
    if (!old) { fprintf(stderr, "dlcm-sweep: out of memory\n"); return -1; }
    if (sweep_config_parse(stored, strlen(stored), label, old, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s: cannot extend: the recorded settings cannot be read by this program, so the "
                        "runs this file would keep cannot be checked: %s\n", file, err);
        result = 0;
        goto out;
    }
    if (strlen(stored_name) >= sizeof old->name) {
        fprintf(stderr, "dlcm-sweep: recorded sweep name %s too long\n", stored_name);
        goto out;
    }
    memcpy(old->name, stored_name, strlen(stored_name) + 1);
    if (sweep_plan(old, &old_plan, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s: cannot extend: the recorded settings cannot be planned by this program, so "
                        "the runs this file would keep cannot be checked: %s\n", file, err);
        result = 0;
        goto out;
    }
    if (study_list_runs(db, sweep_id, collect_recorded, &recorded, err, sizeof err) || recorded.out_of_memory) {
        fprintf(stderr, "dlcm-sweep: %s\n", recorded.out_of_memory ? "out of memory" : err);
        goto out;
    }
    int missing = 0;
    for (int i = 0; i < old_plan.n; i++) {
        if (plan_has(plan, old_plan.runs[i].id)) continue;
        if (missing == 0)
            fprintf(stderr, "dlcm-sweep: %s: cannot extend sweep %s (version %d): runs of it are not planned "
                            "identically by this file (dropped, or changed, which makes them other runs):\n",
                    file, base, version);
        if (missing < EXTEND_RUNS_NAMED) {
            char desc[160];
            describe_planned(&old_plan.runs[i], desc, sizeof desc);
            fprintf(stderr, "  %s %s\n", old_plan.runs[i].id, desc);
        }
        missing++;
    }
    /* A recorded run its settings no longer plan (recorded by another engine version, whose
     * number is part of every run id) would be trained again under a new id: refused as well. */
    for (int i = 0; i < recorded.n; i++) {
        if (plan_has(plan, recorded.runs[i].id) || plan_has(&old_plan, recorded.runs[i].id)) continue;
        if (missing == 0)
            fprintf(stderr, "dlcm-sweep: %s: cannot extend sweep %s (version %d): runs recorded under it are not "
                            "planned identically by this file:\n", file, base, version);
        if (missing < EXTEND_RUNS_NAMED)
            fprintf(stderr, "  %s %s (recorded; its settings no longer plan it: another engine version?)\n",
                    recorded.runs[i].id, recorded.runs[i].desc);
        missing++;
    }
    if (missing) {
        if (missing > EXTEND_RUNS_NAMED) fprintf(stderr, "  ... and %d more\n", missing - EXTEND_RUNS_NAMED);
        fprintf(stderr, "changes:\n");
        sweep_settings_diff(stored, text, stderr);
        fprintf(stderr,
                "--extend only adds runs and keeps every run of the version as it is. To run changed settings,\n"
                "record this file as version %d (%s.v%d, runs of its own) with --new-version.\n",
                version + 1, base, version + 1);
        result = 0;
        goto out;
    }
    *n_new = 0;
    for (int i = 0; i < plan->n; i++) {
        int known = 0;
        for (int j = 0; j < recorded.n && !known; j++) known = strcmp(recorded.runs[j].id, plan->runs[i].id) == 0;
        if (!known && list_new) {
            char desc[160];
            describe_planned(&plan->runs[i], desc, sizeof desc);
            fprintf(list_new, "  new %s %s\n", plan->runs[i].id, desc);
        }
        *n_new += !known;
    }
    *n_kept = recorded.n;
    result = 1;
out:
    free(recorded.runs);
    sweep_plan_free(&old_plan);
    free(old);
    return result;
}

/* Records the new file as an extension of the version, when it keeps every run of it. */
static int extend_version(sqlite3 *db, SweepSpec *spec, SweepPlan *plan, const char *file, const char *text,
                          const char *base, const char *stored_name, int version, const char *stored,
                          int64_t sweep_id)
{
    if (plan_as(spec, plan, stored_name)) return -1;
    int n_new, n_kept;
    int keeps =
        compare_extension(db, sweep_id, base, stored_name, version, stored, file, text, plan, &n_new, &n_kept, NULL);
    if (keeps <= 0) return keeps < 0 ? -1 : 1;
    char err[1024];
    int extension;
    if (study_extend_version(db, sweep_id, file, text, &extension, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        return -1;
    }
    fprintf(stderr, "dlcm-sweep: extending sweep %s (version %d): %d new run(s); %d recorded run(s) kept\n", base, version,
            n_new, n_kept);
    fprintf(stderr, "changes (the settings they replace are kept in the database, as extension %d of %s):\n",
            extension, stored_name);
    sweep_settings_diff(stored, text, stderr);
    return 0;
}

int sweep_record_version(sqlite3 *db, SweepSpec *spec, SweepPlan *plan, const char *file, const char *text,
                         SweepRecordMode mode, int64_t *sweep_id)
{
    char err[1024], stored_name[256], base[128];
    snprintf(base, sizeof base, "%s", spec->name);
    int version = 1;
    char *stored = NULL;
    int found = study_latest_version(db, base, sweep_id, stored_name, sizeof stored_name, &version, &stored, err,
                                     sizeof err);
    if (found < 0) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        return -1;
    }
    if (found == 1 && mode == SWEEP_RECORD_EXTEND)
        fprintf(stderr, "dlcm-sweep: sweep %s is not recorded yet, so there is nothing to extend: recording it\n", base);
    if (found == 0) {
        int n = sweep_settings_diff(stored, text, NULL);
        if (n < 0) n = strcmp(stored, text) != 0; /* an unreadable stored text: compare it as text */
        if (n > 0) {
            /* The file of an earlier version, run again: that version, not a change. */
            VersionMatch match = {text, 0, ""};
            if (study_versions(db, base, match_version, &match, err, sizeof err)) {
                fprintf(stderr, "dlcm-sweep: %s\n", err);
                free(stored);
                return -1;
            }
            if (match.version > 0) {
                version = match.version;
                n = 0;
                fprintf(stderr, "dlcm-sweep: %s has the settings of version %d of sweep %s (%s)\n", file, version,
                        base, match.name);
            }
        }
        if (n > 0 && mode == SWEEP_RECORD_EXTEND) {
            int rc = extend_version(db, spec, plan, file, text, base, stored_name, version, stored, *sweep_id);
            free(stored);
            return rc;
        }
        if (n > 0 && mode != SWEEP_RECORD_NEW_VERSION) {
            fprintf(stderr,
                    "dlcm-sweep: %s: sweep '%s' (version %d) is already recorded with other settings:\n", file,
                    stored_name, version);
            sweep_settings_diff(stored, text, stderr);
            fprintf(stderr,
                    "Runs of different settings under one name would be fitted together. Give the sweep a new\n"
                    "name, or record this file as version %d (%s.v%d, runs of its own) with --new-version, or,\n"
                    "when it only adds runs, add them to version %d with --extend.\n",
                    version + 1, base, version + 1, version);
            free(stored);
            return 1;
        }
        if (n > 0) {
            version++;
            fprintf(stderr, "dlcm-sweep: recording %s as version %d of sweep %s (%s.v%d); changes:\n", file, version,
                    base, base, version);
            sweep_settings_diff(stored, text, stderr);
        }
    }
    free(stored);
    char name[128];
    if (version > 1) {
        if ((size_t)snprintf(name, sizeof name, "%s.v%d", base, version) >= sizeof name) {
            fprintf(stderr, "dlcm-sweep: sweep name %s too long for a version suffix\n", base);
            return -1;
        }
        if (plan_as(spec, plan, name)) return -1;
    } else {
        snprintf(name, sizeof name, "%s", base);
    }
    if (study_record_version(db, base, version, name, file, text, sweep_id, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        return -1;
    }
    return 0;
}

int sweep_preview_extension(sqlite3 *db, SweepSpec *spec, SweepPlan *plan, const char *file, const char *text,
                            FILE *out)
{
    char err[1024], stored_name[256], base[128];
    snprintf(base, sizeof base, "%s", spec->name);
    int version = 1;
    int64_t sweep_id = 0;
    char *stored = NULL;
    int found = db ? study_latest_version(db, base, &sweep_id, stored_name, sizeof stored_name, &version, &stored, err,
                                          sizeof err)
                   : 1;
    if (found < 0) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        return -1;
    }
    if (found == 1) {
        fprintf(out, "--extend: sweep %s is not recorded in this database: `run` would record it with its %d runs\n",
                base, plan->n);
        return 0;
    }
    int rc = 0;
    int n = sweep_settings_diff(stored, text, NULL);
    VersionMatch match = {text, 0, ""};
    if (n != 0 && study_versions(db, base, match_version, &match, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        free(stored);
        return -1;
    }
    if (n == 0 || match.version > 0) {
        fprintf(out, "--extend: the settings of sweep %s (version %d) as recorded: nothing to add\n", base,
                n == 0 ? version : match.version);
    } else {
        int n_new = 0, n_kept = 0;
        int keeps = plan_as(spec, plan, stored_name)
                        ? -1
                        : compare_extension(db, sweep_id, base, stored_name, version, stored, file, text, plan,
                                            &n_new, &n_kept, out);
        if (keeps == 1) {
            fprintf(out, "--extend would extend sweep %s (version %d): %d new run(s) (above); %d recorded run(s) kept\n",
                    base, version, n_new, n_kept);
            fprintf(out, "changes:\n");
            sweep_settings_diff(stored, text, out);
        }
        rc = keeps < 0 ? -1 : keeps == 0;
    }
    free(stored);
    return rc;
}
