/* engine/train/config.h: the run configuration of dlcm-train: every model, optimizer, schedule,
 * data and training setting, read from YAML (libyaml) with flag overrides, validated with errors
 * that name the file, line and key, serialized canonically, and hashed into a run id. */
#ifndef DLCM_ENGINE_TRAIN_CONFIG_H
#define DLCM_ENGINE_TRAIN_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "engine/model.h" /* ModelConfig: types only; reading a config never links the model */
#include "engine/optim.h"

/* Part of every run id: a change of the engine that changes numerics bumps it. */
#define DLCM_ENGINE_VERSION "dlcm-engine 1"

#define CONFIG_PATH_MAX 512
#define CONFIG_NAME_MAX 64
#define CONFIG_FILE_MAX (1 << 20) /* a run config file larger than this is refused */

/* The run's own database inside its directory (the trainer's default --db; the sweep's too). */
#define TRAIN_RUN_DB_NAME "run.sqlite"
/* The resolved config inside a run directory. */
#define TRAIN_RUN_CONFIG_NAME "config.yaml"

typedef enum { SCHEDULE_WSD = 0, SCHEDULE_COSINE = 1 } ScheduleKind;
typedef enum { DEVICE_CPU = 0, DEVICE_CUDA = 1 } DeviceKind;
typedef enum { PRECISION_FP32 = 0, PRECISION_BF16 = 1 } Precision;

typedef struct {
    ScheduleKind kind;
    int64_t warmup;      /* steps of linear warmup from 0 */
    double decay_frac;   /* WSD: share of the steps in the final linear decay */
    double min_lr_frac;  /* the factor reached at the last step */
} ScheduleConfig;

typedef struct {
    /* run */
    char id[CONFIG_NAME_MAX];      /* "" until resolved: the hash of the config */
    char out[CONFIG_PATH_MAX];     /* "" until resolved: runs/<id> */
    char sweep[CONFIG_NAME_MAX];   /* the sweep that planned the run ("" for none): part of its id */
    int64_t seed;                  /* parameter init and boundary sampling */
    int64_t data_seed;             /* order of training windows */
    DeviceKind device;
    int cuda_device;
    Precision precision;
    /* data */
    char data_dir[CONFIG_PATH_MAX];
    char tokenizer[CONFIG_NAME_MAX];
    char train_path[CONFIG_PATH_MAX];  /* "" until resolved: data_dir/tokenizer/train.bin */
    char val_path[CONFIG_PATH_MAX];    /* "" until resolved: data_dir/tokenizer/val.bin */
    char val_domains[CONFIG_PATH_MAX]; /* "auto" (every val-*.bin), "none", or "a,b,c" */
    /* model and optimizer, as the engine takes them */
    ModelConfig model;
    OptimConfig optim;
    ScheduleConfig schedule;
    /* training */
    int batch;            /* B: sequences per micro-batch */
    int grad_accum;       /* micro-batches per optimizer step */
    int64_t steps;        /* optimizer steps */
    int64_t tokens;       /* alternative to steps: 0, or training tokens (resolved into steps) */
    /* logging, evaluation, checkpoints */
    int log_interval;
    int eval_interval;    /* 0: only at the start and the end */
    int eval_batches;     /* fixed validation batches of `batch` sequences per split */
    int checkpoint_interval; /* 0: only at the end and on a signal */
    int module_stats_interval; /* μP coordinate statistics to the database; 0: off */
} TrainConfig;

/* Every key has a default; this is the configuration with no file and no flags. */
TrainConfig train_config_default(void);

/* Where each key got its value, for messages after parsing ("configs/a.yaml:12", "--set"). */
typedef struct ConfigSources ConfigSources;
ConfigSources *config_sources_create(void);
void config_sources_destroy(ConfigSources *s);

/* Reads a YAML file (nested mappings or dotted keys, scalar values) into cfg on top of what it
 * holds. Unknown keys, bad values, duplicates and YAML errors are reported as
 * "FILE:LINE: KEY: what is wrong". A file with no keys, a NUL byte, or a canonical form cut short
 * (no closing line) is refused rather than trained with defaults. Returns 0 or -1 with err. */
int config_load_yaml(TrainConfig *cfg, ConfigSources *src, const char *path, char *err,
                     int errlen);

/* The line of the first NUL byte in text[0, len), 0 when there is none. A NUL would cut the text
 * short for every reader taking it as a C string, so the config readers refuse it. */
int config_nul_byte_line(const char *text, size_t len);

/* Applies one "key=value" override (origin names it in messages, e.g. "--set"). 0 or -1. */
int config_set(TrainConfig *cfg, ConfigSources *src, const char *key_eq_value,
               const char *origin, char *err, int errlen);
/* Applies key and value given separately. */
int config_set_kv(TrainConfig *cfg, ConfigSources *src, const char *key, const char *value,
                  const char *origin, char *err, int errlen);

/* Fills the derived values (vocab from the tokenizer, steps from tokens, paths, run id, out)
 * and checks everything across keys. Errors name the key and where it was set. 0 or -1. */
int config_resolve(TrainConfig *cfg, const ConfigSources *src, char *err, int errlen);

/* The canonical YAML of a config: every key, fixed order, exact number formats, between an
 * opening and a closing comment line. Reading it back gives the same config. This is the one
 * serializer of run configs: the trainer and the sweep planner both write it. Malloc'ed. */
char *config_canonical(const TrainConfig *cfg);
/* 64-bit hash of the canonical text of the keys that define the run (not the locations id, out,
 * data paths, device, cuda_device) and DLCM_ENGINE_VERSION. The run id is its 16 hex digits,
 * whoever computes it (dlcm-train, the sweep planner, the scheduler checking a trainer). */
uint64_t config_hash(const TrainConfig *cfg);

/* Parses a canonical text (from a checkpoint). 0 or -1 with err. */
int config_load_text(TrainConfig *cfg, const char *text, const char *name, char *err,
                     int errlen);

/* The run id of a config: 16 hex digits of config_hash (id must hold 17 bytes). */
void config_run_id(const TrainConfig *cfg, char id[17]);

/* The text a planner writes for a run: the canonical form of the resolved config with the
 * locations (id, out, data paths) left empty, so the trainer resolves them where it runs and
 * derives the same id, which goes to id. src (may be NULL) says where keys were set, as for
 * config_resolve. Malloc'ed, or NULL with err (the config does not resolve). */
char *config_planned_text(const TrainConfig *cfg, const ConfigSources *src, char id[17], char *err, int errlen);

/* The id of the run a config text describes (read, resolved as dlcm-train resolves it, hashed):
 * what a scheduler compares with the plan. 0, or -1 with err. */
int config_text_run_id(const char *text, const char *name, char id[17], char *err, int errlen);

/* One line per key: name, type or choices, default, meaning (for --help). */
void config_print_keys(FILE *f);


#endif
