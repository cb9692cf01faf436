/* engine/train/config.c: the table of run-config keys (type, range, default, meaning), the YAML
 * reader, overrides, cross-key checks, the canonical form and the run id. See config.h. */
#include "engine/train/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/fnv.h"
#include "util/fs.h"

typedef enum { KEY_INT, KEY_INT64, KEY_FLOAT, KEY_DOUBLE, KEY_STRING, KEY_ENUM, KEY_BOOL } KeyType;

/* A key is part of the run's identity (its hash) unless it only says where things live or how
 * fast they run (model.concept_bucket: padding rows that change no result beyond rounding). */
enum { IDENTITY = 1, LOCATION = 0 };

typedef struct {
    const char *name;
    KeyType type;
    size_t offset;
    size_t size;                  /* strings: buffer size */
    const char *const *choices;   /* enums: names in enum order, NULL-terminated */
    double min, max;              /* numbers: accepted range */
    int identity;
    const char *help;
} ConfigKey;

static const char *const FAMILY_NAMES[] = {"dense", "dlcm", NULL};
static const char *const BOUNDARY_NAMES[] = {"learned", "cosine_rule", "fixed", NULL};
static const char *const PARSER_NAMES[] = {"global", "per_sequence", NULL};
static const char *const XATTN_NAMES[] = {"strict", "paper", NULL};
static const char *const SMOOTHING_NAMES[] = {"ema", "none", NULL};
static const char *const PARAM_NAMES[] = {"mup", "sp", NULL};
static const char *const WD_NAMES[] = {"coupled", "independent", NULL};
static const char *const SCHEDULE_NAMES[] = {"wsd", "cosine", NULL};
static const char *const DEVICE_NAMES[] = {"cpu", "cuda", NULL};
static const char *const PRECISION_NAMES[] = {"fp32", "bf16", NULL};

/* Enum fields are written through int pointers. */
_Static_assert(sizeof(ModelFamily) == sizeof(int) && sizeof(BoundaryMode) == sizeof(int) &&
                   sizeof(ScheduleKind) == sizeof(int) && sizeof(WeightDecayMode) == sizeof(int),
               "enums must be int-sized");

#define OFF(field) offsetof(TrainConfig, field)
#define STR(field) OFF(field), sizeof(((TrainConfig *)0)->field)
#define BIG 1e18

/* The order here is the order of the canonical form and of --help. */
static const ConfigKey KEYS[] = {
    {"run.id", KEY_STRING, STR(id), NULL, 0, 0, LOCATION, "run id; empty: 16 hex digits of the config hash"},
    {"run.out", KEY_STRING, STR(out), NULL, 0, 0, LOCATION, "output directory (checkpoint, " TRAIN_RUN_DB_NAME "); empty: runs/<id>"},
    {"run.sweep", KEY_STRING, STR(sweep), NULL, 0, 0, IDENTITY, "the sweep that planned this run (part of its id); empty: none"},
    {"run.seed", KEY_INT64, OFF(seed), 0, NULL, 0, BIG, IDENTITY, "seed of parameter init and boundary sampling"},
    {"run.data_seed", KEY_INT64, OFF(data_seed), 0, NULL, 0, BIG, IDENTITY, "seed of the training window order"},
    {"run.device", KEY_ENUM, OFF(device), 0, DEVICE_NAMES, 0, 0, LOCATION, "backend: where the run trains, not part of its id; dlcm-train picks cuda when a GPU is present"},
    {"run.cuda_device", KEY_INT, OFF(cuda_device), 0, NULL, 0, 1024, LOCATION, "GPU index for device cuda"},
    {"run.precision", KEY_ENUM, OFF(precision), 0, PRECISION_NAMES, 0, 0, IDENTITY, "activation type (bf16: cuda only)"},

    {"data.dir", KEY_STRING, STR(data_dir), NULL, 0, 0, LOCATION, "corpus directory (holds <tokenizer>/train.bin ...)"},
    {"data.tokenizer", KEY_STRING, STR(tokenizer), NULL, 0, 0, IDENTITY, "byte, bpe4096, ..."},
    {"data.train", KEY_STRING, STR(train_path), NULL, 0, 0, LOCATION, "training shard; empty: <dir>/<tokenizer>/train.bin"},
    {"data.val", KEY_STRING, STR(val_path), NULL, 0, 0, LOCATION, "validation shard; empty: <dir>/<tokenizer>/val.bin"},
    {"data.val_domains", KEY_STRING, STR(val_domains), NULL, 0, 0, IDENTITY, "auto (every val-<domain>.bin), none, or a,b,c"},

    {"model.family", KEY_ENUM, OFF(model.shape.family), 0, FAMILY_NAMES, 0, 0, IDENTITY, "dense baseline or DLCM"},
    {"model.vocab", KEY_INT, OFF(model.shape.vocab), 0, NULL, 0, 1 << 20, IDENTITY, "V; 0: from the tokenizer (byte 256, bpeN N)"},
    {"model.seq_len", KEY_INT, OFF(model.shape.seq_len), 0, NULL, 2, 1 << 20, IDENTITY, "T: tokens per sequence"},
    {"model.d_t", KEY_INT, OFF(model.shape.d_t), 0, NULL, 64, 1 << 16, IDENTITY, "token width (dense: the width), multiple of 64"},
    {"model.d_c", KEY_INT, OFF(model.shape.d_c), 0, NULL, 64, 1 << 16, IDENTITY, "concept width (dlcm), multiple of 64"},
    {"model.n_layers", KEY_INT, OFF(model.shape.n_layers), 0, NULL, 1, 1024, IDENTITY, "dense: blocks"},
    {"model.n_enc", KEY_INT, OFF(model.shape.n_enc), 0, NULL, 1, 1024, IDENTITY, "dlcm: encoder blocks"},
    {"model.n_con", KEY_INT, OFF(model.shape.n_con), 0, NULL, 1, 1024, IDENTITY, "dlcm: concept backbone blocks"},
    {"model.n_dec", KEY_INT, OFF(model.shape.n_dec), 0, NULL, 0, 1024, IDENTITY, "dlcm: decoder blocks after the cross-attention"},
    {"model.ffn_t", KEY_INT, OFF(model.shape.ffn_t), 0, NULL, 0, 1 << 20, IDENTITY, "FFN size at d_t; 0: round_up(8/3 d_t, 64)"},
    {"model.ffn_c", KEY_INT, OFF(model.shape.ffn_c), 0, NULL, 0, 1 << 20, IDENTITY, "FFN size at d_c; 0: default"},
    {"model.R", KEY_DOUBLE, OFF(model.shape.R), 0, NULL, 1, 1 << 20, IDENTITY, "target compression ratio (dlcm)"},
    {"model.boundary", KEY_ENUM, OFF(model.boundary), 0, BOUNDARY_NAMES, 0, 0, IDENTITY, "boundary predictor"},
    {"model.boundary_tau", KEY_FLOAT, OFF(model.boundary_tau), 0, NULL, 1e-3, 1e3, IDENTITY, "Bernoulli sharpening temperature"},
    {"model.parser", KEY_ENUM, OFF(model.parser), 0, PARSER_NAMES, 0, 0, IDENTITY, "Global Parser statistics scope"},
    {"model.aux_weight", KEY_FLOAT, OFF(model.aux_weight), 0, NULL, 0, 1e3, IDENTITY, "lambda of the Global Parser loss"},
    {"model.xattn_mask", KEY_ENUM, OFF(model.xattn_mask), 0, XATTN_NAMES, 0, 0, IDENTITY, "strict (leak-free) or paper (leaks; ablation)"},
    {"model.smoothing", KEY_ENUM, OFF(model.smoothing), 0, SMOOTHING_NAMES, 0, 0, IDENTITY, "concept smoothing"},
    {"model.smoothing_grad", KEY_BOOL, OFF(model.smoothing_grad), 0, NULL, 0, 1, IDENTITY, "gradient through the EMA's P_k"},
    {"model.parametrization", KEY_ENUM, OFF(model.parametrization), 0, PARAM_NAMES, 0, 0, IDENTITY, "decoupled muP or standard"},
    {"model.d_base", KEY_INT, OFF(model.d_base), 0, NULL, 1, 1 << 16, IDENTITY, "muP base width"},
    {"model.sigma_base", KEY_FLOAT, OFF(model.sigma_base), 0, NULL, 0, 10, IDENTITY, "base init std"},
    {"model.norm_eps", KEY_FLOAT, OFF(model.norm_eps), 0, NULL, 0, 1, IDENTITY, "RMSNorm epsilon"},
    {"model.concept_bucket", KEY_INT, OFF(model.concept_bucket), 0, NULL, 1, 1 << 20, LOCATION, "dlcm: concept rows of a micro-batch rounded up to a multiple of this (masked padding), so GEMM shapes repeat on the GPU; 1: off. Speed only: not part of the run id"},

    {"optim.lr", KEY_FLOAT, 0, 0, NULL, 0, 10, IDENTITY, "sets lr_token, lr_concept and lr_other at once"},
    {"optim.lr_token", KEY_FLOAT, OFF(optim.lr_token), 0, NULL, 0, 10, IDENTITY, "base LR of token-width matrices"},
    {"optim.lr_concept", KEY_FLOAT, OFF(optim.lr_concept), 0, NULL, 0, 10, IDENTITY, "base LR of backbone matrices"},
    {"optim.lr_other", KEY_FLOAT, OFF(optim.lr_other), 0, NULL, 0, 10, IDENTITY, "base LR of embeddings and vectors"},
    {"optim.beta1", KEY_FLOAT, OFF(optim.beta1), 0, NULL, 0, 0.99999, IDENTITY, "AdamW beta1"},
    {"optim.beta2", KEY_FLOAT, OFF(optim.beta2), 0, NULL, 0, 0.99999999, IDENTITY, "AdamW beta2"},
    {"optim.eps", KEY_FLOAT, OFF(optim.eps), 0, NULL, 0, 1, IDENTITY, "AdamW epsilon (scaled per class under muP)"},
    {"optim.weight_decay", KEY_FLOAT, OFF(optim.weight_decay), 0, NULL, 0, 10, IDENTITY, "decoupled weight decay (matrices)"},
    {"optim.wd_mode", KEY_ENUM, OFF(optim.wd_mode), 0, WD_NAMES, 0, 0, IDENTITY, "coupled or width-independent decay"},
    {"optim.clip", KEY_FLOAT, OFF(optim.clip), 0, NULL, 0, 1e9, IDENTITY, "max global gradient norm; 0: off"},

    {"schedule.kind", KEY_ENUM, OFF(schedule.kind), 0, SCHEDULE_NAMES, 0, 0, IDENTITY, "LR schedule after warmup"},
    {"schedule.warmup", KEY_INT64, OFF(schedule.warmup), 0, NULL, 0, BIG, IDENTITY, "warmup steps"},
    {"schedule.decay_frac", KEY_DOUBLE, OFF(schedule.decay_frac), 0, NULL, 0, 1, IDENTITY, "wsd: share of steps in the final decay"},
    {"schedule.min_lr_frac", KEY_DOUBLE, OFF(schedule.min_lr_frac), 0, NULL, 0, 1, IDENTITY, "LR factor at the last step"},

    {"train.batch", KEY_INT, OFF(batch), 0, NULL, 1, 1 << 20, IDENTITY, "B: sequences per micro-batch"},
    {"train.grad_accum", KEY_INT, OFF(grad_accum), 0, NULL, 1, 1 << 20, IDENTITY, "micro-batches per step"},
    {"train.steps", KEY_INT64, OFF(steps), 0, NULL, 1, BIG, IDENTITY, "optimizer steps"},
    {"train.tokens", KEY_INT64, OFF(tokens), 0, NULL, 0, BIG, IDENTITY, "training tokens instead of steps (rounded up to whole steps)"},

    {"log.interval", KEY_INT, OFF(log_interval), 0, NULL, 1, 1 << 30, IDENTITY, "steps per progress line"},
    {"log.module_stats_interval", KEY_INT, OFF(module_stats_interval), 0, NULL, 0, 1 << 30, IDENTITY, "steps per muP module statistics row; 0: off"},
    {"eval.interval", KEY_INT, OFF(eval_interval), 0, NULL, 0, 1 << 30, IDENTITY, "steps per validation; 0: start and end only"},
    {"eval.batches", KEY_INT, OFF(eval_batches), 0, NULL, 1, 1 << 20, IDENTITY, "fixed validation batches (of train.batch sequences) per split"},
    {"checkpoint.interval", KEY_INT, OFF(checkpoint_interval), 0, NULL, 0, 1 << 30, IDENTITY, "steps per checkpoint; 0: end and signals only"},
};
#define NUM_KEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

struct ConfigSources {
    char origin[NUM_KEYS][CONFIG_PATH_MAX + 32];
};

/* The model and optimizer defaults are spelled out here rather than taken from engine/model.c
 * and engine/optim.c, so that reading a run config never links the model; a unit test checks
 * that they equal model_config_default and optim_config_default. */
TrainConfig train_config_default(void)
{
    TrainConfig c;
    memset(&c, 0, sizeof c);
    ModelShape *shape = &c.model.shape;
    shape->family = FAMILY_DENSE;
    shape->vocab = 0;
    shape->seq_len = 128;
    shape->d_t = 128;
    shape->d_c = 256;
    shape->n_layers = 2;
    shape->n_enc = 1;
    shape->n_con = 2;
    shape->n_dec = 1;
    shape->R = 4.0;
    c.model.boundary = BOUNDARY_LEARNED;
    c.model.boundary_tau = 1.0f;
    c.model.parser = PARSER_GLOBAL;
    c.model.aux_weight = 0.03f;
    c.model.xattn_mask = XATTN_MASK_STRICT;
    c.model.smoothing = SMOOTHING_EMA;
    c.model.smoothing_grad = 0;
    c.model.parametrization = PARAMETRIZATION_MUP;
    c.model.d_base = 256;
    c.model.sigma_base = 0.02f;
    c.model.norm_eps = 1e-6f;
    c.model.concept_bucket = 1;
    c.optim.lr_token = 3e-3f;
    c.optim.lr_concept = 3e-3f;
    c.optim.lr_other = 3e-3f;
    c.optim.beta1 = 0.9f;
    c.optim.beta2 = 0.95f;
    c.optim.eps = 1e-8f;
    c.optim.weight_decay = 0.1f;
    c.optim.wd_mode = WD_COUPLED;
    c.optim.clip = 1.0f;
    c.seed = 1;
    c.data_seed = 1;
    /* The trainer switches to the GPU when one is present (train_main.c); the device is where a
     * run trains, not part of what it is, so a sweep plans the same run for either. */
    c.device = DEVICE_CPU;
    c.precision = PRECISION_FP32;
    snprintf(c.data_dir, sizeof c.data_dir, "data/out");
    snprintf(c.tokenizer, sizeof c.tokenizer, "byte");
    snprintf(c.val_domains, sizeof c.val_domains, "auto");
    c.schedule.kind = SCHEDULE_WSD;
    c.schedule.warmup = 10;
    c.schedule.decay_frac = 0.2;
    c.schedule.min_lr_frac = 0.0;
    c.batch = 8;
    c.grad_accum = 1;
    c.steps = 100;
    c.tokens = 0;
    c.log_interval = 10;
    c.eval_interval = 0;
    c.eval_batches = 4;
    c.checkpoint_interval = 0;
    c.module_stats_interval = 0;
    return c;
}

ConfigSources *config_sources_create(void)
{
    ConfigSources *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    for (int i = 0; i < NUM_KEYS; i++) snprintf(s->origin[i], sizeof s->origin[i], "default");
    return s;
}

void config_sources_destroy(ConfigSources *s) { free(s); }

static int find_key(const char *name)
{
    for (int i = 0; i < NUM_KEYS; i++)
        if (strcmp(KEYS[i].name, name) == 0) return i;
    return -1;
}

static const char *origin_of(const ConfigSources *src, const char *name)
{
    int i = find_key(name);
    return (src && i >= 0) ? src->origin[i] : "config";
}

/* Integers are written plainly; "1e6" is accepted when it is a whole number. */
static int parse_int64(const char *s, int64_t *out)
{
    if (!*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end == '\0' && errno == 0) {
        *out = v;
        return 0;
    }
    double d = strtod(s, &end);
    if (*end != '\0' || !isfinite(d) || d != floor(d) || fabs(d) > 9e18) return -1;
    *out = (int64_t)d;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    if (!*s) return -1;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(d)) return -1;
    *out = d;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) { *out = 1; return 0; }
        if (strcmp(s, no[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

static void list_choices(const char *const *choices, char *buf, int n)
{
    buf[0] = '\0';
    for (int i = 0; choices[i]; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s", i ? " | " : "", choices[i]);
    }
}

/* Stores value into the key's field. where: "FILE:LINE" or "--set" for messages. */
static int apply_key(TrainConfig *cfg, ConfigSources *src, const char *name, const char *value,
                     const char *where, char *err, int errlen)
{
    int i = find_key(name);
    if (i < 0) {
        snprintf(err, errlen, "%s: %s: unknown key (dlcm-train --help lists the keys)", where, name);
        return -1;
    }
    const ConfigKey *k = &KEYS[i];
    char *field = (char *)cfg + k->offset;
    int64_t iv = 0;
    double dv = 0;
    switch (k->type) {
    case KEY_INT:
    case KEY_INT64:
        if (parse_int64(value, &iv)) {
            snprintf(err, errlen, "%s: %s: expected an integer, got '%s'", where, name, value);
            return -1;
        }
        if ((double)iv < k->min || (double)iv > k->max) {
            snprintf(err, errlen, "%s: %s: %lld is out of range [%.0f, %.0f]", where, name,
                     (long long)iv, k->min, k->max);
            return -1;
        }
        if (k->type == KEY_INT) *(int *)field = (int)iv;
        else *(int64_t *)field = iv;
        break;
    case KEY_FLOAT:
    case KEY_DOUBLE:
        if (parse_double(value, &dv)) {
            snprintf(err, errlen, "%s: %s: expected a number, got '%s'", where, name, value);
            return -1;
        }
        if (dv < k->min || dv > k->max) {
            snprintf(err, errlen, "%s: %s: %g is out of range [%g, %g]", where, name, dv, k->min, k->max);
            return -1;
        }
        if (strcmp(name, "optim.lr") == 0) {
            cfg->optim.lr_token = cfg->optim.lr_concept = cfg->optim.lr_other = (float)dv;
            if (src) {
                for (int j = 0; j < NUM_KEYS; j++)
                    if (strncmp(KEYS[j].name, "optim.lr_", 9) == 0)
                        snprintf(src->origin[j], sizeof src->origin[j], "%s", where);
            }
        } else if (k->type == KEY_FLOAT) {
            *(float *)field = (float)dv;
        } else {
            *(double *)field = dv;
        }
        break;
    case KEY_STRING:
        if (strlen(value) >= k->size) {
            snprintf(err, errlen, "%s: %s: value longer than %zu characters", where, name, k->size - 1);
            return -1;
        }
        snprintf(field, k->size, "%s", value);
        break;
    case KEY_ENUM: {
        int found = -1;
        for (int c = 0; k->choices[c]; c++)
            if (strcmp(k->choices[c], value) == 0) found = c;
        if (found < 0) {
            char choices[256];
            list_choices(k->choices, choices, sizeof choices);
            snprintf(err, errlen, "%s: %s: '%s' is not one of %s", where, name, value, choices);
            return -1;
        }
        *(int *)field = found;
        break;
    }
    case KEY_BOOL: {
        int b;
        if (parse_bool(value, &b)) {
            snprintf(err, errlen, "%s: %s: expected true or false, got '%s'", where, name, value);
            return -1;
        }
        *(int *)field = b;
        break;
    }
    }
    /* steps and tokens are alternatives: the one set last wins. */
    if (strcmp(name, "train.steps") == 0) cfg->tokens = 0;
    if (src) snprintf(src->origin[i], sizeof src->origin[i], "%s", where);
    return 0;
}

int config_set_kv(TrainConfig *cfg, ConfigSources *src, const char *key, const char *value,
                  const char *origin, char *err, int errlen)
{
    char where[CONFIG_PATH_MAX + 32];
    snprintf(where, sizeof where, "%s", origin);
    return apply_key(cfg, src, key, value, where, err, errlen);
}

int config_set(TrainConfig *cfg, ConfigSources *src, const char *key_eq_value,
               const char *origin, char *err, int errlen)
{
    const char *eq = strchr(key_eq_value, '=');
    if (!eq || eq == key_eq_value) {
        snprintf(err, errlen, "%s %s: expected KEY=VALUE", origin, key_eq_value);
        return -1;
    }
    char key[128];
    size_t klen = (size_t)(eq - key_eq_value);
    if (klen >= sizeof key) {
        snprintf(err, errlen, "%s %s: key too long", origin, key_eq_value);
        return -1;
    }
    memcpy(key, key_eq_value, klen);
    key[klen] = '\0';
    return config_set_kv(cfg, src, key, eq + 1, origin, err, errlen);
}

/* ---- YAML ------------------------------------------------------------------------------- */

/* Walks the event stream of a parser: a top-level mapping whose values are scalars or one
 * level of nested mappings; keys join with '.'. */
static int load_parser(TrainConfig *cfg, ConfigSources *src, yaml_parser_t *parser,
                       const char *name, int *applied, char *err, int errlen)
{
    char section[128] = "";   /* the enclosing mapping's key, "" at top level */
    char pending[128] = "";   /* a key whose value comes next */
    int have_pending = 0;
    int depth = 0;            /* mapping nesting */
    int pending_line = 0;
    int documents = 0;
    unsigned char seen[NUM_KEYS];
    memset(seen, 0, sizeof seen);
    int rc = -1;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(parser, &ev)) {
            snprintf(err, errlen, "%s:%lu: YAML error: %s%s%s", name,
                     (unsigned long)parser->problem_mark.line + 1,
                     parser->problem ? parser->problem : "unknown",
                     parser->context ? " " : "", parser->context ? parser->context : "");
            return -1;
        }
        int line = (int)ev.start_mark.line + 1;
        int done = 0, bad = 0;
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            /* One config per file: a second document ("---") is not merged or ignored. */
            if (++documents > 1) {
                snprintf(err, errlen, "%s:%d: (file): a second YAML document: one config per file", name, line);
                bad = 1;
            }
            break;
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_MAPPING_START_EVENT:
            if (depth == 0) {
                depth = 1;
            } else if (depth == 1 && have_pending) {
                snprintf(section, sizeof section, "%s", pending);
                have_pending = 0;
                depth = 2;
            } else {
                snprintf(err, errlen, "%s:%d: %s%s%s: mappings nest at most two levels (section: key: value)",
                         name, line, section, *section ? "." : "", pending);
                bad = 1;
            }
            break;
        case YAML_MAPPING_END_EVENT:
            if (depth == 2) section[0] = '\0';
            depth--;
            break;
        case YAML_SEQUENCE_START_EVENT:
            snprintf(err, errlen, "%s:%d: %s%s%s: lists are not accepted, give a scalar", name, line,
                     section, *section ? "." : "", have_pending ? pending : "");
            bad = 1;
            break;
        case YAML_ALIAS_EVENT:
            snprintf(err, errlen, "%s:%d: YAML aliases are not accepted", name, line);
            bad = 1;
            break;
        case YAML_SCALAR_EVENT: {
            const char *text = (const char *)ev.data.scalar.value;
            if (depth == 0) {
                snprintf(err, errlen, "%s:%d: the file must be a mapping of keys to values", name, line);
                bad = 1;
            } else if (!have_pending) {
                if (strlen(text) >= sizeof pending) {
                    snprintf(err, errlen, "%s:%d: key too long", name, line);
                    bad = 1;
                } else {
                    snprintf(pending, sizeof pending, "%s", text);
                    have_pending = 1;
                    pending_line = line;
                }
            } else {
                char key[300];
                snprintf(key, sizeof key, "%s%s%s", section, *section ? "." : "", pending);
                char where[CONFIG_PATH_MAX + 32];
                snprintf(where, sizeof where, "%s:%d", name, pending_line);
                int ki = find_key(key);
                if (ev.data.scalar.length == 0 && ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
                    snprintf(err, errlen, "%s: %s: missing value", where, key);
                    bad = 1;
                } else if (ki >= 0 && seen[ki]) {
                    snprintf(err, errlen, "%s: %s: duplicate key", where, key);
                    bad = 1;
                } else if (apply_key(cfg, src, key, text, where, err, errlen)) {
                    bad = 1;
                } else {
                    seen[ki] = 1;
                    (*applied)++;
                }
                have_pending = 0;
            }
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (bad) return -1;
        if (done) { rc = 0; break; }
    }
    return rc;
}

int config_nul_byte_line(const char *text, size_t len)
{
    const char *nul = memchr(text, '\0', len);
    if (!nul) return 0;
    int line = 1;
    for (const char *c = text; c < nul; c++) line += *c == '\n';
    return line;
}

/* The canonical form opens and closes with these comment lines: a file that opens with the first
 * but lacks the second was cut short (an interrupted write) and is refused. */
#define CANONICAL_HEAD "# dlcm run config: every key, canonical order\n"
#define CANONICAL_TAIL "# end of dlcm run config\n"

static int load_checked(TrainConfig *cfg, ConfigSources *src, const char *text, size_t len,
                        const char *name, char *err, int errlen)
{
    /* libyaml reports a NUL byte without a line, and strlen-based readers would truncate there. */
    int nul_line = config_nul_byte_line(text, len);
    if (nul_line) {
        snprintf(err, errlen, "%s:%d: (file): a NUL byte: not a text file", name, nul_line);
        return -1;
    }
    size_t head = strlen(CANONICAL_HEAD), tail = strlen(CANONICAL_TAIL);
    if (len >= head && memcmp(text, CANONICAL_HEAD, head) == 0 &&
        (len < head + tail || memcmp(text + len - tail, CANONICAL_TAIL, tail) != 0)) {
        snprintf(err, errlen, "%s: truncated: a canonical run config must end with '%.*s'", name,
                 (int)tail - 1, CANONICAL_TAIL);
        return -1;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: cannot initialize the YAML parser", name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int applied = 0;
    int rc = load_parser(cfg, src, &parser, name, &applied, err, errlen);
    yaml_parser_delete(&parser);
    if (rc == 0 && applied == 0) {
        snprintf(err, errlen, "%s: empty config (no keys): refusing to train the defaults", name);
        return -1;
    }
    return rc;
}

int config_load_yaml(TrainConfig *cfg, ConfigSources *src, const char *path, char *err,
                     int errlen)
{
    size_t len;
    char *text = fs_read_file(path, CONFIG_FILE_MAX, &len, err, errlen);
    if (!text) return -1;
    int rc = load_checked(cfg, src, text, len, path, err, errlen);
    free(text);
    return rc;
}

int config_load_text(TrainConfig *cfg, const char *text, const char *name, char *err,
                     int errlen)
{
    return load_checked(cfg, NULL, text, strlen(text), name, err, errlen);
}

/* ---- resolution and cross-key checks ------------------------------------------------------ */

static int fail_key(const ConfigSources *src, const char *key, char *err, int errlen,
                    const char *msg)
{
    snprintf(err, errlen, "%s: %s: %s", origin_of(src, key), key, msg);
    return -1;
}

/* byte -> 256, bpeN -> N, anything else -> 0 (vocab must then be given). */
static int vocab_of_tokenizer(const char *id)
{
    if (strcmp(id, "byte") == 0) return 256;
    if (strncmp(id, "bpe", 3) == 0) {
        char *end;
        long n = strtol(id + 3, &end, 10);
        if (*end == '\0' && n > 1 && n < (1 << 20)) return (int)n;
    }
    return 0;
}

int config_resolve(TrainConfig *cfg, const ConfigSources *src, char *err, int errlen)
{
    ModelShape *s = &cfg->model.shape;
    if (!cfg->tokenizer[0]) return fail_key(src, "data.tokenizer", err, errlen, "must not be empty");
    int tok_vocab = vocab_of_tokenizer(cfg->tokenizer);
    if (s->vocab == 0) {
        if (tok_vocab == 0)
            return fail_key(src, "model.vocab", err, errlen,
                            "cannot be derived from this tokenizer: set it");
        s->vocab = tok_vocab;
    } else if (tok_vocab && s->vocab != tok_vocab) {
        char msg[160];
        snprintf(msg, sizeof msg, "%d does not match tokenizer %s (vocabulary %d)", s->vocab,
                 cfg->tokenizer, tok_vocab);
        return fail_key(src, "model.vocab", err, errlen, msg);
    }
    if (s->vocab > 65536)
        return fail_key(src, "model.vocab", err, errlen, "shards hold uint16 tokens: at most 65536");
    if (s->d_t % SHAPE_HEAD_DIM)
        return fail_key(src, "model.d_t", err, errlen, "must be a multiple of 64");
    if (s->family == FAMILY_DLCM) {
        if (s->d_c % SHAPE_HEAD_DIM)
            return fail_key(src, "model.d_c", err, errlen, "must be a multiple of 64");
        if (s->R > s->seq_len)
            return fail_key(src, "model.R", err, errlen, "must not exceed model.seq_len");
    }
    char serr[256];
    if (shape_validate(s, serr, sizeof serr)) return fail_key(src, "model", err, errlen, serr);
    /* bf16 against the device: engine/train/trainer.c */
    /* Token counts are int64 in the database and summed as doubles: a run's tokens must stay
     * exact in both (2^53), or steps x batch x grad_accum x seq_len overflows. */
    int64_t per_step = (int64_t)cfg->batch * s->seq_len * cfg->grad_accum;
    const int64_t max_run_tokens = (int64_t)1 << 53;
    if (cfg->tokens > max_run_tokens || (cfg->tokens == 0 && cfg->steps > max_run_tokens / per_step))
        return fail_key(src, cfg->tokens > 0 ? "train.tokens" : "train.steps", err, errlen,
                        "more than 2^53 (9.0e15) training tokens in one run");
    if (cfg->tokens > 0) {
        cfg->steps = (cfg->tokens + per_step - 1) / per_step;
        cfg->tokens = 0;
    }
    if (cfg->schedule.warmup > cfg->steps) {
        /* The default warm-up shrinks to fit a short run; one that was asked for is an error. */
        if (strcmp(origin_of(src, "schedule.warmup"), "default") != 0)
            return fail_key(src, "schedule.warmup", err, errlen, "exceeds train.steps");
        cfg->schedule.warmup = cfg->steps;
    }
    if (!(cfg->optim.beta2 > 0))
        return fail_key(src, "optim.beta2", err, errlen, "must be > 0");
    if (!(cfg->optim.eps > 0))
        return fail_key(src, "optim.eps", err, errlen, "must be > 0");
    if (strcmp(cfg->val_domains, "auto") && strcmp(cfg->val_domains, "none")) {
        for (const char *p = cfg->val_domains; *p; p++)
            if (!(isalnum((unsigned char)*p) || *p == ',' || *p == '-' || *p == '_'))
                return fail_key(src, "data.val_domains", err, errlen,
                                "auto, none, or comma-separated names of [A-Za-z0-9_-]");
    }
    const char *sep = "/";
    if (!cfg->train_path[0]) {
        if ((size_t)snprintf(cfg->train_path, sizeof cfg->train_path, "%s%s%s/train.bin",
                             cfg->data_dir, sep, cfg->tokenizer) >= sizeof cfg->train_path)
            return fail_key(src, "data.dir", err, errlen, "path too long");
    }
    if (!cfg->val_path[0]) {
        if ((size_t)snprintf(cfg->val_path, sizeof cfg->val_path, "%s%s%s/val.bin",
                             cfg->data_dir, sep, cfg->tokenizer) >= sizeof cfg->val_path)
            return fail_key(src, "data.dir", err, errlen, "path too long");
    }
    if (!cfg->id[0]) config_run_id(cfg, cfg->id);
    for (const char *p = cfg->id; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
            return fail_key(src, "run.id", err, errlen, "only [A-Za-z0-9._-] are allowed");
    /* The id names files and directories: '.' and '..' would name the working directory or its parent. */
    if (strcmp(cfg->id, ".") == 0 || strcmp(cfg->id, "..") == 0)
        return fail_key(src, "run.id", err, errlen, "'.' and '..' are not run ids");
    if (!cfg->out[0]) snprintf(cfg->out, sizeof cfg->out, "runs/%s", cfg->id);
    return 0;
}

/* ---- canonical form ------------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len, cap;
} Text;

static void text_add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(Text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (t->buf && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *nb = realloc(t->buf, cap);
        if (!nb) { fprintf(stderr, "out of memory\n"); exit(1); }
        t->buf = nb;
        t->cap = cap;
    }
}

/* A YAML double-quoted scalar. */
static void text_add_quoted(Text *t, const char *s)
{
    text_add(t, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') text_add(t, "\\%c", c);
        else if (c < 0x20) text_add(t, "\\x%02x", c);
        else text_add(t, "%c", c);
    }
    text_add(t, "\"");
}

static void format_value(Text *t, const TrainConfig *cfg, const ConfigKey *k)
{
    const char *field = (const char *)cfg + k->offset;
    switch (k->type) {
    case KEY_INT: text_add(t, "%d", *(const int *)field); break;
    case KEY_INT64: text_add(t, "%lld", (long long)*(const int64_t *)field); break;
    case KEY_FLOAT: text_add(t, "%.9g", (double)*(const float *)field); break;
    case KEY_DOUBLE: text_add(t, "%.17g", *(const double *)field); break;
    case KEY_STRING: text_add_quoted(t, field); break;
    case KEY_ENUM: text_add(t, "%s", k->choices[*(const int *)field]); break;
    case KEY_BOOL: text_add(t, "%s", *(const int *)field ? "true" : "false"); break;
    }
}

/* Aliases (optim.lr, train.tokens) are not written: their effect is in the keys they set. */
static int is_alias(const ConfigKey *k)
{
    return strcmp(k->name, "optim.lr") == 0 || strcmp(k->name, "train.tokens") == 0;
}

static char *canonical(const TrainConfig *cfg, int identity_only)
{
    Text t = {0};
    char section[64] = "";
    if (!identity_only) text_add(&t, "%s", CANONICAL_HEAD);
    for (int i = 0; i < NUM_KEYS; i++) {
        const ConfigKey *k = &KEYS[i];
        if (is_alias(k) || (identity_only && !k->identity)) continue;
        const char *dot = strchr(k->name, '.');
        size_t slen = (size_t)(dot - k->name);
        if (strlen(section) != slen || strncmp(section, k->name, slen) != 0) {
            memcpy(section, k->name, slen);
            section[slen] = '\0';
            text_add(&t, "%s:\n", section);
        }
        text_add(&t, "  %s: ", dot + 1);
        format_value(&t, cfg, k);
        text_add(&t, "\n");
    }
    if (!identity_only) text_add(&t, "%s", CANONICAL_TAIL);
    return t.buf;
}

char *config_canonical(const TrainConfig *cfg) { return canonical(cfg, 0); }

uint64_t config_hash(const TrainConfig *cfg)
{
    char *text = canonical(cfg, 1);
    uint64_t h = fnv1a64(text, strlen(text), FNV1A64_INIT);
    h = fnv1a64(DLCM_ENGINE_VERSION, strlen(DLCM_ENGINE_VERSION), h);
    free(text);
    return h;
}

void config_run_id(const TrainConfig *cfg, char id[17])
{
    snprintf(id, 17, "%016llx", (unsigned long long)config_hash(cfg));
}

char *config_planned_text(const TrainConfig *cfg, const ConfigSources *src, char id[17], char *err, int errlen)
{
    TrainConfig resolved = *cfg;
    resolved.id[0] = '\0';
    if (config_resolve(&resolved, src, err, errlen)) return NULL;
    config_run_id(&resolved, id);
    resolved.id[0] = '\0';
    resolved.out[0] = '\0';
    resolved.train_path[0] = '\0';
    resolved.val_path[0] = '\0';
    return canonical(&resolved, 0);
}

int config_text_run_id(const char *text, const char *name, char id[17], char *err, int errlen)
{
    /* Resolved as the trainer resolves it (a default warm-up shrinks to a short run, the vocabulary
     * follows the tokenizer), so a text that is not in resolved form hashes as its run does. */
    TrainConfig cfg = train_config_default();
    ConfigSources *src = config_sources_create();
    if (!src) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = load_checked(&cfg, src, text, strlen(text), name, err, errlen);
    if (rc == 0) rc = config_resolve(&cfg, src, err, errlen);
    config_sources_destroy(src);
    if (rc) return -1;
    config_run_id(&cfg, id);
    return 0;
}

void config_print_keys(FILE *f)
{
    TrainConfig def = train_config_default();
    for (int i = 0; i < NUM_KEYS; i++) {
        const ConfigKey *k = &KEYS[i];
        char kind[256];
        switch (k->type) {
        case KEY_INT: case KEY_INT64: snprintf(kind, sizeof kind, "int"); break;
        case KEY_FLOAT: case KEY_DOUBLE: snprintf(kind, sizeof kind, "number"); break;
        case KEY_STRING: snprintf(kind, sizeof kind, "string"); break;
        case KEY_BOOL: snprintf(kind, sizeof kind, "bool"); break;
        case KEY_ENUM: list_choices(k->choices, kind, sizeof kind); break;
        }
        Text t = {0};
        if (strcmp(k->name, "optim.lr") == 0) text_add(&t, "-");
        else format_value(&t, &def, k);
        fprintf(f, "  %-28s %-34s default %-10s %s\n", k->name, kind, t.buf, k->help);
        free(t.buf);
    }
}
