/* sweep/version.c: comparing sweep files key by key (libyaml, flattened into path = value
 * lines) and recording versions of a sweep (see sweep/version.h). */
#include "sweep/version.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "db/study.h"

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

int sweep_record_version(sqlite3 *db, SweepSpec *spec, SweepPlan *plan, const char *file, const char *text,
                         int new_version, int64_t *sweep_id)
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
        if (n > 0 && !new_version) {
            fprintf(stderr,
                    "dlcm-sweep: %s: sweep '%s' (version %d) is already recorded with other settings:\n", file,
                    stored_name, version);
            sweep_settings_diff(stored, text, stderr);
            fprintf(stderr,
                    "Runs of different settings under one name would be fitted together. Give the sweep a new\n"
                    "name, or record this file as version %d (%s.v%d, runs of its own) with --new-version.\n",
                    version + 1, base, version + 1);
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
        if (strcmp(spec->name, name) != 0) {
            /* The version's own name goes into every run config, so its runs are its own. */
            snprintf(spec->name, sizeof spec->name, "%s", name);
            sweep_plan_free(plan);
            if (sweep_plan(spec, plan, err, sizeof err)) {
                fprintf(stderr, "dlcm-sweep: %s\n", err);
                return -1;
            }
        }
    } else {
        snprintf(name, sizeof name, "%s", base);
    }
    if (study_record_version(db, base, version, name, file, text, sweep_id, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        return -1;
    }
    return 0;
}
