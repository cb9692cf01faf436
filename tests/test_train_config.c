/* tests/test_train_config.c: the run config: YAML reading with file:line:key errors, overrides,
 * cross-key checks, the canonical form and run id; the LR schedules; the Wilson interval. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/train/config.h"
#include "engine/train/schedule.h"
#include "engine/train/tasks.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads text as a YAML file; returns the config_load_yaml result and leaves err filled. */
static int load(const char *text, TrainConfig *cfg, char *err, int errlen, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "/tmp/dlcm-test-config-%d.yaml", (int)getpid());
    write_file(path, text);
    *cfg = train_config_default();
    ConfigSources *src = config_sources_create();
    int rc = config_load_yaml(cfg, src, path, err, errlen);
    if (rc == 0) rc = config_resolve(cfg, src, err, errlen);
    config_sources_destroy(src);
    unlink(path);
    return rc;
}

Test(train_config, reads_sections_and_dotted_keys)
{
    TrainConfig c;
    char err[1024], path[256];
    int rc = load("model:\n  family: dlcm\n  d_t: 128\n  d_c: 256\n  R: 3\n"
                  "optim.lr: 0.004\ntrain:\n  batch: 3\n  steps: 17\n", &c, err, sizeof err, path, sizeof path);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(c.model.shape.family, FAMILY_DLCM);
    cr_assert_eq(c.model.shape.d_t, 128);
    cr_assert_float_eq(c.model.shape.R, 3.0, 1e-12);
    cr_assert_float_eq(c.optim.lr_token, 0.004f, 1e-9);
    cr_assert_float_eq(c.optim.lr_concept, 0.004f, 1e-9);
    cr_assert_float_eq(c.optim.lr_other, 0.004f, 1e-9);
    cr_assert_eq(c.batch, 3);
    cr_assert_eq(c.steps, 17);
    cr_assert_eq(c.model.shape.vocab, 256, "vocab comes from the byte tokenizer");
    cr_assert_str_eq(c.train_path, "data/out/byte/train.bin");
    cr_assert_eq(strlen(c.id), 16);
}

Test(train_config, unknown_key_names_file_line_and_key)
{
    TrainConfig c;
    char err[1024], path[256];
    int rc = load("model:\n  d_t: 128\n  n_layrs: 3\n", &c, err, sizeof err, path, sizeof path);
    cr_assert_neq(rc, 0);
    char where[300];
    snprintf(where, sizeof where, "%s:3:", path);
    cr_assert(strstr(err, where) != NULL, "message names file and line 3: %s", err);
    cr_assert(strstr(err, "model.n_layrs") != NULL, "message names the key: %s", err);
    cr_assert(strstr(err, "unknown key") != NULL, "%s", err);
}

Test(train_config, bad_values_name_line_and_key)
{
    TrainConfig c;
    char err[1024], path[256];
    cr_assert_neq(load("train:\n  batch: 8\n  steps: many\n", &c, err, sizeof err, path, sizeof path), 0);
    cr_assert(strstr(err, ":3: train.steps: expected an integer") != NULL, "%s", err);
    cr_assert_neq(load("model:\n  family: sparse\n", &c, err, sizeof err, path, sizeof path), 0);
    cr_assert(strstr(err, ":2: model.family") != NULL && strstr(err, "dense | dlcm") != NULL, "%s", err);
    cr_assert_neq(load("optim:\n  lr: -1\n", &c, err, sizeof err, path, sizeof path), 0);
    cr_assert(strstr(err, ":2: optim.lr") != NULL && strstr(err, "out of range") != NULL, "%s", err);
    cr_assert_neq(load("model:\n  smoothing_grad: maybe\n", &c, err, sizeof err, path, sizeof path), 0);
    cr_assert(strstr(err, "model.smoothing_grad: expected true or false") != NULL, "%s", err);
    cr_assert_neq(load("train:\n  batch: 2\n  batch: 3\n", &c, err, sizeof err, path, sizeof path), 0);
    cr_assert(strstr(err, ":3: train.batch: duplicate key") != NULL, "%s", err);
    cr_assert_neq(load("train:\n  batch: [1, 2]\n", &c, err, sizeof err, path, sizeof path), 0);
    cr_assert(strstr(err, ":2:") != NULL && strstr(err, "lists") != NULL, "%s", err);
    cr_assert_neq(load("model: {d_t: 128\n", &c, err, sizeof err, path, sizeof path), 0);
    cr_assert(strstr(err, "YAML error") != NULL, "%s", err);
    cr_assert_neq(load("model:\n  d_t:\n", &c, err, sizeof err, path, sizeof path), 0);
    cr_assert(strstr(err, ":2: model.d_t: missing value") != NULL, "%s", err);
}

Test(train_config, cross_key_checks_name_where_the_key_was_set)
{
    TrainConfig c;
    char err[1024], path[256];
    cr_assert_neq(load("model:\n  d_t: 100\n", &c, err, sizeof err, path, sizeof path), 0);
    cr_assert(strstr(err, "model.d_t") != NULL && strstr(err, "64") != NULL, "%s", err);
    cr_assert_neq(load("model:\n  vocab: 300\n", &c, err, sizeof err, path, sizeof path), 0);
    cr_assert(strstr(err, "model.vocab") != NULL, "%s", err);
    cr_assert_neq(load("schedule:\n  warmup: 500\ntrain:\n  steps: 100\n", &c, err, sizeof err, path, sizeof path), 0);
    cr_assert(strstr(err, ":2: schedule.warmup") != NULL, "%s", err);
}

Test(train_config, overrides_apply_after_the_file_and_tokens_become_steps)
{
    TrainConfig c = train_config_default();
    ConfigSources *src = config_sources_create();
    char err[1024];
    cr_assert_eq(config_set(&c, src, "train.batch=4", "--set", err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_set(&c, src, "model.seq_len=64", "--set", err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_set(&c, src, "train.tokens=1000", "--set", err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_set(&c, src, "schedule.warmup=0", "--set", err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_resolve(&c, src, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.steps, 4, "1000 tokens / (4 x 64) rounds up to 4 steps");
    cr_assert_neq(config_set(&c, src, "train.nope=1", "--set", err, sizeof err), 0);
    cr_assert(strstr(err, "--set: train.nope: unknown key") != NULL, "%s", err);
    cr_assert_neq(config_set(&c, src, "novalue", "--set", err, sizeof err), 0);
    config_sources_destroy(src);
}

Test(train_config, canonical_form_round_trips_and_defines_the_run_id)
{
    TrainConfig c = train_config_default();
    char err[1024];
    cr_assert_eq(config_set(&c, NULL, "model.family=dlcm", "--set", err, sizeof err), 0);
    cr_assert_eq(config_set(&c, NULL, "optim.lr_concept=0.00123456789", "--set", err, sizeof err), 0);
    cr_assert_eq(config_set(&c, NULL, "model.R=3.3333333333333335", "--set", err, sizeof err), 0);
    cr_assert_eq(config_set(&c, NULL, "data.dir=/some where/\"quoted\"", "--set", err, sizeof err), 0);
    cr_assert_eq(config_resolve(&c, NULL, err, sizeof err), 0, "%s", err);
    char *text = config_canonical(&c);
    TrainConfig back = train_config_default();
    cr_assert_eq(config_load_text(&back, text, "canonical", err, sizeof err), 0, "%s\n%s", err, text);
    char *again = config_canonical(&back);
    cr_assert_str_eq(text, again);
    cr_assert_eq(config_hash(&c), config_hash(&back));
    cr_assert_eq(memcmp(&c.model, &back.model, sizeof c.model), 0);

    /* Locations do not change the id; anything that changes training does. */
    TrainConfig moved = back;
    snprintf(moved.out, sizeof moved.out, "elsewhere");
    snprintf(moved.data_dir, sizeof moved.data_dir, "/other/data");
    cr_assert_eq(config_hash(&moved), config_hash(&c));
    TrainConfig changed = back;
    changed.optim.lr_token *= 2;
    cr_assert_neq(config_hash(&changed), config_hash(&c));
    changed = back;
    changed.seed++;
    cr_assert_neq(config_hash(&changed), config_hash(&c));
    free(text);
    free(again);
}

Test(train_schedule, warmup_wsd_and_cosine)
{
    ScheduleConfig s = {SCHEDULE_WSD, 10, 0.2, 0.0};
    cr_assert_float_eq(schedule_factor(&s, 0, 100), 0.1, 1e-12);
    cr_assert_float_eq(schedule_factor(&s, 9, 100), 1.0, 1e-12);
    cr_assert_float_eq(schedule_factor(&s, 50, 100), 1.0, 1e-12);
    cr_assert_float_eq(schedule_factor(&s, 79, 100), 1.0, 1e-12, "stable until the last 20%%");
    cr_assert_float_eq(schedule_factor(&s, 80, 100), 0.95, 1e-12);
    cr_assert_float_eq(schedule_factor(&s, 99, 100), 0.0, 1e-12, "reaches min_lr_frac at the end");
    s.kind = SCHEDULE_COSINE;
    s.min_lr_frac = 0.1;
    cr_assert_float_eq(schedule_factor(&s, 10, 100), 1.0, 1e-12);
    cr_assert_float_eq(schedule_factor(&s, 99, 100), 0.1, 1e-12);
    double prev = 2;
    for (int64_t t = 10; t < 100; t++) {
        double f = schedule_factor(&s, t, 100);
        cr_assert(f <= prev + 1e-15, "cosine decays monotonically");
        prev = f;
    }
}

Test(train_tasks, wilson_interval_matches_hand_values)
{
    double lo, hi;
    wilson_interval(50, 100, 1.959963984540054, &lo, &hi);
    cr_assert_float_eq(lo, 0.4038315, 1e-6);
    cr_assert_float_eq(hi, 0.5961685, 1e-6);
    wilson_interval(0, 10, 1.959963984540054, &lo, &hi);
    cr_assert_float_eq(lo, 0.0, 1e-12);
    cr_assert_float_eq(hi, 0.2775328, 1e-6);
}

Test(train_config, defaults_are_the_engines)
{
    /* The run config spells out the model and optimizer defaults so that reading a config never
     * links the model: they must stay equal to the engine's own. */
    TrainConfig c = train_config_default();
    ModelConfig engine_model = model_config_default(c.model.shape);
    OptimConfig engine_optim = optim_config_default();
    cr_assert_eq(memcmp(&c.model, &engine_model, sizeof engine_model), 0);
    cr_assert_eq(memcmp(&c.optim, &engine_optim, sizeof engine_optim), 0);
}
