/* sweep/config.c: reading a sweep file with libyaml's document loader and checking every key,
 * type and value as it goes, so any error can say "FILE:LINE: KEY: problem". */
#include "sweep/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "engine/train/config.h"
#include "util/fs.h"

/* What the walk needs besides the document: where to report. */
typedef struct {
    yaml_document_t *doc;
    const char *file;
    char *err;
    int errlen;
} Reader;

static int line_of(const yaml_node_t *node) { return (int)node->start_mark.line + 1; }

static const char *scalar_text(const yaml_node_t *node);

/* A key given twice in one mapping would silently replace the first: an error instead. */
static int repeated_key(Reader *r, const yaml_node_t *map, const yaml_node_pair_t *pair)
{
    const char *key = scalar_text(yaml_document_get_node(r->doc, pair->key));
    for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair; p++) {
        const char *earlier = scalar_text(yaml_document_get_node(r->doc, p->key));
        if (key && earlier && strcmp(key, earlier) == 0) return 1;
    }
    return 0;
}

static int fail(Reader *r, const yaml_node_t *node, const char *key, const char *fmt, const char *detail)
{
    char msg[400];
    snprintf(msg, sizeof msg, fmt, detail ? detail : "");
    snprintf(r->err, r->errlen, "%s:%d: %s: %s", r->file, node ? line_of(node) : 0, key, msg);
    return -1;
}

static const char *scalar_text(const yaml_node_t *node)
{
    return node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

/* A finite number written as a plain scalar (1e17, 0.5, 64). */
static int read_number(Reader *r, const yaml_node_t *node, const char *key, double *out)
{
    const char *text = scalar_text(node);
    if (!text) return fail(r, node, key, "expected a number, got a %s", node->type == YAML_MAPPING_NODE ? "mapping" : "list");
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v))
        return fail(r, node, key, "expected a number, got '%s'", text);
    *out = v;
    return 0;
}

static int read_integer(Reader *r, const yaml_node_t *node, const char *key, int64_t *out)
{
    double v;
    if (read_number(r, node, key, &v)) return -1;
    if (v != floor(v) || fabs(v) > 9e15)
        return fail(r, node, key, "expected an integer, got '%s'", scalar_text(node));
    *out = (int64_t)v;
    return 0;
}

static int read_string(Reader *r, const yaml_node_t *node, const char *key, char *out, size_t outlen)
{
    const char *text = scalar_text(node);
    if (!text) return fail(r, node, key, "expected a string%s", "");
    if (strlen(text) >= outlen) return fail(r, node, key, "value too long: '%.60s'", text);
    if (text[0] == '\0') return fail(r, node, key, "empty value%s", "");
    strcpy(out, text);
    return 0;
}

/* A scalar or a list of scalars, checked by kind: 'n' any number, 'i' integer. */
static int read_list(Reader *r, const yaml_node_t *node, const char *key, char kind, SweepList *out)
{
    memset(out, 0, sizeof *out);
    out->line = line_of(node);
    const yaml_node_t *items[SWEEP_MAX_LIST];
    int n = 0;
    if (node->type == YAML_SCALAR_NODE) {
        items[n++] = node;
    } else if (node->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
            if (n == SWEEP_MAX_LIST) return fail(r, node, key, "more than 64 values%s", "");
            items[n++] = yaml_document_get_node(r->doc, *it);
        }
        if (n == 0) return fail(r, node, key, "empty list%s", "");
    } else {
        return fail(r, node, key, "expected a value or a list of values, got a mapping%s", "");
    }
    for (int i = 0; i < n; i++) {
        if (kind == 'i') {
            int64_t v;
            if (read_integer(r, items[i], key, &v)) return -1;
            out->v[i] = (double)v;
        } else if (read_number(r, items[i], key, &out->v[i])) {
            return -1;
        }
        out->lines[i] = line_of(items[i]);
    }
    out->n = n;
    return 0;
}

/* Range checks on every value of a list. */
typedef enum { CHECK_POSITIVE, CHECK_WIDTH, CHECK_DEPTH, CHECK_DEPTH0, CHECK_UNIT, CHECK_RATIO, CHECK_SEED } ValueCheck;

static int check_list(Reader *r, const SweepList *list, const char *key, ValueCheck check)
{
    char text[64];
    for (int i = 0; i < list->n; i++) {
        double v = list->v[i];
        const char *problem = NULL;
        switch (check) {
        case CHECK_POSITIVE: if (!(v > 0)) problem = "must be positive, got %s"; break;
        case CHECK_WIDTH:
            if (v < SHAPE_HEAD_DIM || fmod(v, SHAPE_HEAD_DIM) != 0 || v > 65536)
                problem = "width must be a positive multiple of 64 (the head dimension), got %s";
            break;
        case CHECK_DEPTH: if (v < 1 || v > 1024) problem = "depth must be in [1, 1024], got %s"; break;
        case CHECK_DEPTH0: if (v < 0 || v > 1024) problem = "depth must be in [0, 1024], got %s"; break;
        case CHECK_UNIT: if (!(v > 0 && v < 1)) problem = "must be in (0, 1), got %s"; break;
        case CHECK_RATIO: if (!(v >= 1)) problem = "must be >= 1, got %s"; break;
        case CHECK_SEED: if (v < 0) problem = "seed must be >= 0, got %s"; break;
        }
        if (problem) {
            snprintf(text, sizeof text, "%g", v);
            snprintf(r->err, r->errlen, "%s:%d: %s: ", r->file, list->lines[i], key);
            size_t used = strlen(r->err);
            snprintf(r->err + used, r->errlen - used, problem, text);
            return -1;
        }
    }
    return 0;
}

/* true or false. */
static int read_flag(Reader *r, const yaml_node_t *node, const char *key, int *out)
{
    const char *flag = scalar_text(node);
    if (flag && strcmp(flag, "true") == 0) *out = 1;
    else if (flag && strcmp(flag, "false") == 0) *out = 0;
    else return fail(r, node, key, "expected true or false%s", "");
    return 0;
}

const char *sweep_param_name(SweepParametrization p) { return p == SWEEP_PARAM_SP ? "sp" : "mup"; }

static int read_params(Reader *r, const yaml_node_t *node, const char *key, SweepParametrization *out, int *n_out)
{
    const yaml_node_t *items[2];
    int n = 0;
    if (node->type == YAML_SCALAR_NODE) {
        items[n++] = node;
    } else if (node->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
            if (n == 2) return fail(r, node, key, "at most two values (mup, sp)%s", "");
            items[n++] = yaml_document_get_node(r->doc, *it);
        }
        if (n == 0) return fail(r, node, key, "empty list%s", "");
    } else {
        return fail(r, node, key, "expected mup, sp or a list of them%s", "");
    }
    for (int i = 0; i < n; i++) {
        const char *text = scalar_text(items[i]);
        if (!text) return fail(r, items[i], key, "expected mup or sp%s", "");
        if (strcmp(text, "mup") == 0) out[i] = SWEEP_PARAM_MUP;
        else if (strcmp(text, "sp") == 0) out[i] = SWEEP_PARAM_SP;
        else return fail(r, items[i], key, "expected mup or sp, got '%s'", text);
        if (i == 1 && out[0] == out[1]) return fail(r, items[i], key, "'%s' listed twice", text);
    }
    *n_out = n;
    return 0;
}

static int read_trainer(Reader *r, const yaml_node_t *node, SweepTrainerSetting *settings, int *n_settings, int max);

static int read_family(Reader *r, const yaml_node_t *node, SweepFamily *fam)
{
    memset(fam, 0, sizeof *fam);
    fam->line = line_of(node);
    fam->family = (ModelFamily)-1;
    fam->inference_matched = -1;
    if (node->type != YAML_MAPPING_NODE) return fail(r, node, "families", "each family must be a mapping%s", "");
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        const char *key = scalar_text(k);
        if (!key) return fail(r, k, "families", "keys must be plain strings%s", "");
        if (repeated_key(r, node, p)) return fail(r, k, key, "given twice%s", "");
        int rc = 0;
        if (strcmp(key, "family") == 0) {
            const char *text = scalar_text(v);
            if (text && strcmp(text, "dense") == 0) fam->family = FAMILY_DENSE;
            else if (text && strcmp(text, "dlcm") == 0) fam->family = FAMILY_DLCM;
            else return fail(r, v, key, "expected dense or dlcm, got '%s'", text ? text : "(not a scalar)");
        } else if (strcmp(key, "N") == 0) rc = read_list(r, v, key, 'n', &fam->N) || check_list(r, &fam->N, key, CHECK_POSITIVE);
        else if (strcmp(key, "P") == 0) rc = read_list(r, v, key, 'n', &fam->P) || check_list(r, &fam->P, key, CHECK_UNIT);
        else if (strcmp(key, "R") == 0) rc = read_list(r, v, key, 'n', &fam->R) || check_list(r, &fam->R, key, CHECK_RATIO);
        else if (strcmp(key, "d_t") == 0) rc = read_list(r, v, key, 'i', &fam->d_t) || check_list(r, &fam->d_t, key, CHECK_WIDTH);
        else if (strcmp(key, "d_c") == 0) rc = read_list(r, v, key, 'i', &fam->d_c) || check_list(r, &fam->d_c, key, CHECK_WIDTH);
        else if (strcmp(key, "d_c_ratio") == 0) rc = read_list(r, v, key, 'n', &fam->d_c_ratio) || check_list(r, &fam->d_c_ratio, key, CHECK_POSITIVE);
        else if (strcmp(key, "n_layers") == 0) rc = read_list(r, v, key, 'i', &fam->n_layers) || check_list(r, &fam->n_layers, key, CHECK_DEPTH);
        else if (strcmp(key, "n_enc") == 0) rc = read_list(r, v, key, 'i', &fam->n_enc) || check_list(r, &fam->n_enc, key, CHECK_DEPTH);
        else if (strcmp(key, "n_con") == 0) rc = read_list(r, v, key, 'i', &fam->n_con) || check_list(r, &fam->n_con, key, CHECK_DEPTH);
        else if (strcmp(key, "n_dec") == 0) rc = read_list(r, v, key, 'i', &fam->n_dec) || check_list(r, &fam->n_dec, key, CHECK_DEPTH0);
        else if (strcmp(key, "ffn_t") == 0) rc = read_list(r, v, key, 'i', &fam->ffn_t) || check_list(r, &fam->ffn_t, key, CHECK_WIDTH);
        else if (strcmp(key, "ffn_c") == 0) rc = read_list(r, v, key, 'i', &fam->ffn_c) || check_list(r, &fam->ffn_c, key, CHECK_WIDTH);
        else if (strcmp(key, "lr") == 0) rc = read_list(r, v, key, 'n', &fam->lr) || check_list(r, &fam->lr, key, CHECK_POSITIVE);
        else if (strcmp(key, "seed") == 0) rc = read_list(r, v, key, 'i', &fam->seed) || check_list(r, &fam->seed, key, CHECK_SEED);
        else if (strcmp(key, "budgets") == 0) rc = read_list(r, v, key, 'n', &fam->budgets) || check_list(r, &fam->budgets, key, CHECK_POSITIVE);
        else if (strcmp(key, "tokens") == 0) rc = read_list(r, v, key, 'i', &fam->tokens) || check_list(r, &fam->tokens, key, CHECK_POSITIVE);
        else if (strcmp(key, "parametrization") == 0) {
            rc = read_params(r, v, key, fam->param, &fam->n_param);
            fam->param_line = line_of(k);
        } else if (strcmp(key, "inference_matched_dense") == 0) {
            rc = read_flag(r, v, key, &fam->inference_matched);
            fam->inference_matched_line = line_of(k);
        } else if (strcmp(key, "trainer") == 0) {
            rc = read_trainer(r, v, fam->trainer, &fam->n_trainer, SWEEP_MAX_FAMILY_TRAINER);
        } else return fail(r, k, key, "unknown key in a family (known: family N P R d_t d_c d_c_ratio n_layers n_enc n_con n_dec ffn_t ffn_c lr seed budgets tokens parametrization inference_matched_dense trainer)%s", "");
        if (rc) return -1;
    }
    if ((int)fam->family < 0) return fail(r, node, "family", "missing (dense or dlcm)%s", "");

    /* Which keys belong to which family and mode. */
    const yaml_node_t *at = node;
    char where[32];
    snprintf(where, sizeof where, "%s", fam->family == FAMILY_DENSE ? "dense" : "dlcm");
    struct { const char *key; const SweepList *list; } dlcm_only[] = {
        {"P", &fam->P}, {"R", &fam->R}, {"d_c", &fam->d_c}, {"d_c_ratio", &fam->d_c_ratio},
        {"n_enc", &fam->n_enc}, {"n_con", &fam->n_con}, {"n_dec", &fam->n_dec}, {"ffn_c", &fam->ffn_c}};
    if (fam->family == FAMILY_DENSE) {
        if (fam->inference_matched >= 0) {
            snprintf(r->err, r->errlen, "%s:%d: inference_matched_dense: not a key of family dense (it pairs DLCM runs with dense ones)", r->file, fam->inference_matched_line);
            return -1;
        }
        for (size_t i = 0; i < sizeof dlcm_only / sizeof dlcm_only[0]; i++)
            if (dlcm_only[i].list->n) {
                snprintf(r->err, r->errlen, "%s:%d: %s: not a key of family dense", r->file, dlcm_only[i].list->line, dlcm_only[i].key);
                return -1;
            }
        if (fam->N.n) {
            const SweepList *explicit_keys[] = {&fam->d_t, &fam->n_layers, &fam->ffn_t};
            const char *names[] = {"d_t", "n_layers", "ffn_t"};
            for (int i = 0; i < 3; i++)
                if (explicit_keys[i]->n) {
                    snprintf(r->err, r->errlen, "%s:%d: %s: give either N (the shape is derived) or explicit widths and depths, not both", r->file, explicit_keys[i]->line, names[i]);
                    return -1;
                }
        } else if (!fam->d_t.n || !fam->n_layers.n) {
            return fail(r, at, "d_t", "family dense needs N, or d_t and n_layers%s", "");
        }
        return 0;
    }
    if (fam->n_layers.n) {
        snprintf(r->err, r->errlen, "%s:%d: n_layers: not a key of family dlcm (use n_enc, n_con, n_dec)", r->file, fam->n_layers.line);
        return -1;
    }
    if (!fam->R.n) return fail(r, at, "R", "family dlcm needs R (target compression ratio)%s", "");
    if (fam->N.n) {
        const SweepList *explicit_keys[] = {&fam->d_t, &fam->d_c, &fam->d_c_ratio, &fam->n_enc, &fam->n_con, &fam->n_dec, &fam->ffn_t, &fam->ffn_c};
        const char *names[] = {"d_t", "d_c", "d_c_ratio", "n_enc", "n_con", "n_dec", "ffn_t", "ffn_c"};
        for (int i = 0; i < 8; i++)
            if (explicit_keys[i]->n) {
                snprintf(r->err, r->errlen, "%s:%d: %s: give either N and P (the shape is derived) or explicit widths and depths, not both", r->file, explicit_keys[i]->line, names[i]);
                return -1;
            }
        if (!fam->P.n) return fail(r, at, "P", "family dlcm with N needs P (backbone share)%s", "");
        return 0;
    }
    if (fam->P.n) {
        snprintf(r->err, r->errlen, "%s:%d: P: P is derived from explicit shapes; give N with P to have the planner solve the shape", r->file, fam->P.line);
        return -1;
    }
    if (fam->d_c.n && fam->d_c_ratio.n) {
        snprintf(r->err, r->errlen, "%s:%d: d_c_ratio: give d_c or d_c_ratio, not both", r->file, fam->d_c_ratio.line);
        return -1;
    }
    if (!fam->d_t.n || !(fam->d_c.n || fam->d_c_ratio.n) || !fam->n_enc.n || !fam->n_con.n || !fam->n_dec.n)
        return fail(r, at, "d_t", "family dlcm needs N and P, or d_t, d_c (or d_c_ratio), n_enc, n_con and n_dec%s", "");
    return 0;
}

static int read_shape_rule(Reader *r, const yaml_node_t *node, ShapeRule *rule)
{
    if (node->type != YAML_MAPPING_NODE) return fail(r, node, "shape_rule", "expected a mapping%s", "");
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        const char *key = scalar_text(k);
        if (!key) return fail(r, k, "shape_rule", "keys must be plain strings%s", "");
        if (repeated_key(r, node, p)) return fail(r, k, key, "given twice in shape_rule%s", "");
        double x;
        if (strcmp(key, "concept_width_ratio") == 0) {
            if (read_number(r, v, key, &x)) return -1;
            if (!(x > 1)) return fail(r, v, key, "must exceed 1: a DLCM's backbone is wider than its token stacks%s", "");
            rule->concept_width_ratio = x;
        } else if (strcmp(key, "aspect") == 0) {
            if (read_number(r, v, key, &x)) return -1;
            if (!(x > 0)) return fail(r, v, key, "must be positive%s", "");
            rule->aspect = x;
        } else if (strcmp(key, "encoder_share") == 0) {
            if (read_number(r, v, key, &x)) return -1;
            if (!(x >= 0 && x <= 1)) return fail(r, v, key, "must be in [0, 1]%s", "");
            rule->enc_share_num = (int)lround(x * 100);
            rule->enc_share_den = 100;
        } else if (strcmp(key, "max_width") == 0) {
            int64_t w;
            if (read_integer(r, v, key, &w)) return -1;
            if (w < 64 || w % 64) return fail(r, v, key, "must be a positive multiple of 64%s", "");
            rule->max_width = (int)w;
        } else {
            return fail(r, k, key, "unknown key in shape_rule (known: concept_width_ratio aspect encoder_share max_width)%s", "");
        }
    }
    return 0;
}

/* A `trainer:` mapping into settings (at most max of them), each checked against dlcm-train's key
 * table; the sweep's own (at the top level) or a family's. */
static int read_trainer(Reader *r, const yaml_node_t *node, SweepTrainerSetting *settings, int *n_settings, int max)
{
    if (node->type != YAML_MAPPING_NODE) return fail(r, node, "trainer", "expected a mapping of settings%s", "");
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        const char *key = scalar_text(k);
        if (!key) return fail(r, k, "trainer", "keys must be plain strings%s", "");
        if (repeated_key(r, node, p)) return fail(r, k, key, "given twice%s", "");
        if (*n_settings == max) return fail(r, k, key, "too many trainer settings%s", "");
        /* Keys the planner writes into every run config may not be overridden here. */
        static const char *reserved[] = {"run.id", "run.out", "run.sweep", "run.seed", "run.device", "run.cuda_device",
                                         "model.family", "model.parametrization", "model.vocab", "model.seq_len",
                                         "model.d_t", "model.d_c", "model.n_layers", "model.n_enc", "model.n_con",
                                         "model.n_dec", "model.ffn_t", "model.ffn_c", "model.R", "optim.lr",
                                         "train.batch", "train.grad_accum", "train.steps", "train.tokens", NULL};
        for (int i = 0; reserved[i]; i++)
            if (strcmp(key, reserved[i]) == 0)
                return fail(r, k, key, "set by the planner from the sweep's own keys%s", "");
        const char *text = scalar_text(v);
        if (!text) return fail(r, v, key, "expected a single value%s", "");
        if (strlen(key) >= sizeof settings[0].key || strlen(text) >= sizeof settings[0].value)
            return fail(r, v, key, "too long%s", "");
        for (const char *c = text; *c; c++)
            if (*c == '\n' || *c == '"' || *c == '\\') return fail(r, v, key, "value may not hold newlines, quotes or backslashes%s", "");
        /* The trainer's own table decides what is a key and a valid value. */
        static TrainConfig scratch;
        scratch = train_config_default();
        char where[600];
        snprintf(where, sizeof where, "%s:%d", r->file, line_of(k));
        if (config_set_kv(&scratch, NULL, key, text, where, r->err, r->errlen)) return -1;
        SweepTrainerSetting *t = &settings[(*n_settings)++];
        strcpy(t->key, key);
        strcpy(t->value, text);
        t->line = line_of(k);
    }
    return 0;
}

static int read_top(Reader *r, const yaml_node_t *root, SweepSpec *spec)
{
    if (!root) return fail(r, NULL, "(file)", "empty sweep file%s", "");
    if (root->type != YAML_MAPPING_NODE) return fail(r, root, "(file)", "a sweep file is a mapping of keys%s", "");
    const yaml_node_t *families = NULL;
    int have_name = 0, have_vocab = 0, have_T = 0, have_batch = 0;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        const char *key = scalar_text(k);
        if (!key) return fail(r, k, "(file)", "keys must be plain strings%s", "");
        if (repeated_key(r, root, p)) return fail(r, k, key, "given twice%s", "");
        int64_t x;
        int rc = 0;
        if (strcmp(key, "name") == 0) {
            rc = read_string(r, v, key, spec->name, sizeof spec->name);
            for (const char *c = spec->name; !rc && *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
                    rc = fail(r, v, key, "sweep names use letters, digits, '-', '_' and '.'%s", "");
            have_name = 1;
        } else if (strcmp(key, "vocab") == 0) {
            rc = read_integer(r, v, key, &x);
            if (!rc && (x < 2 || x > 1 << 24)) rc = fail(r, v, key, "must be in [2, 2^24]%s", "");
            spec->vocab = (int)x;
            have_vocab = 1;
        } else if (strcmp(key, "seq_len") == 0) {
            rc = read_integer(r, v, key, &x);
            if (!rc && (x < 2 || x > 1 << 20)) rc = fail(r, v, key, "must be in [2, 2^20]%s", "");
            spec->seq_len = (int)x;
            have_T = 1;
        } else if (strcmp(key, "batch_tokens") == 0) {
            rc = read_integer(r, v, key, &x);
            if (!rc && x < 1) rc = fail(r, v, key, "must be positive%s", "");
            spec->batch_tokens = x;
            have_batch = 1;
        } else if (strcmp(key, "grad_accum") == 0) {
            rc = read_integer(r, v, key, &x);
            if (!rc && (x < 1 || x > 1 << 20)) rc = fail(r, v, key, "must be in [1, 2^20]%s", "");
            spec->grad_accum = (int)x;
        } else if (strcmp(key, "budgets") == 0) rc = read_list(r, v, key, 'n', &spec->budgets) || check_list(r, &spec->budgets, key, CHECK_POSITIVE);
        else if (strcmp(key, "tokens") == 0) rc = read_list(r, v, key, 'i', &spec->tokens) || check_list(r, &spec->tokens, key, CHECK_POSITIVE);
        else if (strcmp(key, "lr") == 0) rc = read_list(r, v, key, 'n', &spec->lr) || check_list(r, &spec->lr, key, CHECK_POSITIVE);
        else if (strcmp(key, "seed") == 0) rc = read_list(r, v, key, 'i', &spec->seed) || check_list(r, &spec->seed, key, CHECK_SEED);
        else if (strcmp(key, "parametrization") == 0) rc = read_params(r, v, key, spec->param, &spec->n_param);
        else if (strcmp(key, "max_attempts") == 0) {
            rc = read_integer(r, v, key, &x);
            if (!rc && (x < 1 || x > 100)) rc = fail(r, v, key, "must be in [1, 100]%s", "");
            spec->max_attempts = (int)x;
        } else if (strcmp(key, "max_deviation") == 0) {
            double d;
            rc = read_number(r, v, key, &d);
            if (!rc && !(d > 0 && d <= 0.01)) rc = fail(r, v, key, "must be in (0, 0.01]: compute-matched means within 1%%%s", "");
            spec->max_deviation = d;
        } else if (strcmp(key, "shape_rule") == 0) rc = read_shape_rule(r, v, &spec->rule);
        else if (strcmp(key, "inference_matched_dense") == 0) {
            rc = read_flag(r, v, key, &spec->inference_matched_dense);
            spec->inference_matched_line = line_of(k);
        } else if (strcmp(key, "allow_narrow_backbone") == 0) {
            rc = read_flag(r, v, key, &spec->allow_narrow_backbone);
        } else if (strcmp(key, "max_epochs") == 0) {
            double e;
            rc = read_number(r, v, key, &e);
            if (!rc && !(e > 0 && e <= 1e6)) rc = fail(r, v, key, "must be in (0, 1e6]%s", "");
            spec->max_epochs = e;
            spec->max_epochs_line = line_of(k);
        }
        else if (strcmp(key, "trainer") == 0) rc = read_trainer(r, v, spec->trainer, &spec->n_trainer, SWEEP_MAX_TRAINER);
        else if (strcmp(key, "families") == 0) families = v;
        else return fail(r, k, key, "unknown key (known: name vocab seq_len batch_tokens grad_accum budgets tokens lr seed parametrization max_attempts max_deviation max_epochs allow_narrow_backbone shape_rule inference_matched_dense trainer families)%s", "");
        if (rc) return -1;
    }
    if (!have_name) return fail(r, root, "name", "missing: the sweep's name%s", "");
    if (!have_vocab) return fail(r, root, "vocab", "missing%s", "");
    if (!have_T) return fail(r, root, "seq_len", "missing%s", "");
    if (!have_batch) return fail(r, root, "batch_tokens", "missing%s", "");
    if (spec->batch_tokens % ((int64_t)spec->seq_len * spec->grad_accum)) {
        char text[128];
        snprintf(text, sizeof text, "%lld is not a multiple of seq_len x grad_accum = %d x %d",
                 (long long)spec->batch_tokens, spec->seq_len, spec->grad_accum);
        return fail(r, root, "batch_tokens", "%s", text);
    }
    if (spec->budgets.n && spec->tokens.n) {
        snprintf(r->err, r->errlen, "%s:%d: tokens: give budgets (compute-matched) or tokens (fixed), not both", r->file, spec->tokens.line);
        return -1;
    }
    if (!families) return fail(r, root, "families", "missing: at least one model family%s", "");
    if (families->type != YAML_SEQUENCE_NODE) return fail(r, families, "families", "expected a list of families%s", "");
    for (yaml_node_item_t *it = families->data.sequence.items.start; it < families->data.sequence.items.top; it++) {
        if (spec->n_families == SWEEP_MAX_FAMILIES) {
            char limit[96];
            snprintf(limit, sizeof limit, "more than %d families (the most one sweep holds)", SWEEP_MAX_FAMILIES);
            return fail(r, families, "families", "%s", limit);
        }
        SweepFamily *fam = &spec->families[spec->n_families++];
        if (read_family(r, yaml_document_get_node(r->doc, *it), fam)) return -1;
        const SweepList *budgets = fam->budgets.n ? &fam->budgets : &spec->budgets;
        const SweepList *tokens = fam->tokens.n ? &fam->tokens : &spec->tokens;
        if (fam->budgets.n && fam->tokens.n) {
            snprintf(r->err, r->errlen, "%s:%d: tokens: give budgets or tokens, not both", r->file, fam->tokens.line);
            return -1;
        }
        if (!budgets->n && !tokens->n)
            return fail(r, yaml_document_get_node(r->doc, *it), "budgets", "no budgets or tokens for this family (set them at the top level or in the family)%s", "");
    }
    if (spec->n_families == 0) return fail(r, families, "families", "empty list%s", "");
    return 0;
}

int sweep_config_parse(const char *text, size_t len, const char *name, SweepSpec *spec, char *err, int errlen)
{
    memset(spec, 0, sizeof *spec);
    snprintf(spec->file, sizeof spec->file, "%s", name);
    spec->max_attempts = 3;
    spec->grad_accum = 1;
    spec->max_deviation = 0.01;
    spec->max_epochs = SWEEP_DEFAULT_MAX_EPOCHS;
    spec->rule = shape_rule_default();
    spec->n_param = 1;
    spec->param[0] = SWEEP_PARAM_MUP;

    /* A NUL byte would end the text early for every reader that takes it as a C string (the
     * stored copy of the sweep file among them): the file is refused, not cut short. */
    int nul_line = config_nul_byte_line(text, len);
    if (nul_line) {
        snprintf(err, errlen, "%s:%d: (file): a NUL byte: not a text file", name, nul_line);
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: cannot initialize the YAML parser", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%d: (syntax): %s%s%s", name, (int)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "invalid YAML", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    /* One sweep per file: a second document ("---") would otherwise be ignored. */
    yaml_document_t next;
    if (!yaml_parser_load(&parser, &next)) {
        snprintf(err, errlen, "%s:%d: (syntax): %s%s%s", name, (int)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "invalid YAML", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_node_t *second = yaml_document_get_root_node(&next);
    if (second) {
        snprintf(err, errlen, "%s:%d: (file): a second YAML document: one sweep per file", name,
                 (int)next.start_mark.line + 1);
        yaml_document_delete(&next);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return -1;
    }
    yaml_document_delete(&next);
    Reader r = {&doc, name, err, errlen};
    int rc = read_top(&r, yaml_document_get_root_node(&doc), spec);
    if (!rc && spec->seed.n == 0) spec->seed.n = 1; /* default: one run per point, seed 0 */
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int sweep_config_load(const char *path, SweepSpec *spec, char *err, int errlen)
{
    size_t len;
    char *text = fs_read_file(path, (size_t)1 << 24, &len, err, errlen);
    if (!text) return -1;
    int rc = sweep_config_parse(text, len, path, spec, err, errlen);
    free(text);
    return rc;
}
