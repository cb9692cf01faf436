/* tests/test_train_warmup.c: the default warm-up shrinks to fit a run shorter than it, while a
 * warm-up that was asked for and exceeds the run is an error naming the key and where it was set;
 * the sweep planner refuses the same mistake at plan time, naming the sweep file's line. */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/train/config.h"
#include "sweep/config.h"
#include "sweep/plan.h"

static int resolve_with(TrainConfig *c, const char *const *settings, char *err, int errlen)
{
    *c = train_config_default();
    ConfigSources *src = config_sources_create();
    cr_assert_not_null(src);
    int rc = 0;
    for (int i = 0; settings[i] && rc == 0; i++) rc = config_set(c, src, settings[i], "--set", err, errlen);
    if (rc == 0) rc = config_resolve(c, src, err, errlen);
    config_sources_destroy(src);
    return rc;
}

Test(train_warmup, default_shrinks_to_a_short_run)
{
    TrainConfig c;
    char err[512];
    const char *short_run[] = {"train.steps=3", NULL};
    cr_assert_eq(resolve_with(&c, short_run, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.schedule.warmup, 3, "the default warm-up (10) shrinks to the 3 steps of the run");
    const char *long_run[] = {"train.steps=50", NULL};
    cr_assert_eq(resolve_with(&c, long_run, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.schedule.warmup, 10, "the default is kept when the run is long enough");
}

Test(train_warmup, explicit_warmup_beyond_the_run_is_an_error)
{
    TrainConfig c;
    char err[512];
    const char *settings[] = {"train.steps=3", "schedule.warmup=5", NULL};
    cr_assert_eq(resolve_with(&c, settings, err, sizeof err), -1, "accepted warm-up 5 for a 3-step run");
    cr_assert(strstr(err, "schedule.warmup") && strstr(err, "exceeds train.steps") && strstr(err, "--set"), "%s", err);
}

static SweepSpec spec; /* large: kept off the stack */

Test(train_warmup, planner_refuses_a_warmup_longer_than_a_run)
{
    static const char yaml[] =
        "name: w\n"
        "vocab: 256\n"
        "seq_len: 16\n"
        "batch_tokens: 64\n"
        "budgets: [1e10]\n"
        "lr: 0.01\n"
        "families:\n"
        "  - family: dense\n"
        "    d_t: 64\n"
        "    n_layers: 2\n"
        "trainer:\n"
        "  schedule.warmup: 100000\n"; /* line 12 */
    char err[1024];
    cr_assert_eq(sweep_config_parse(yaml, strlen(yaml), "w.yaml", &spec, err, sizeof err), 0, "%s", err);
    SweepPlan plan;
    cr_assert_eq(sweep_plan(&spec, &plan, err, sizeof err), -1, "planned runs shorter than their warm-up");
    cr_assert(strncmp(err, "w.yaml:12: schedule.warmup: ", 28) == 0, "%s", err);
    cr_assert(strstr(err, "optimizer steps") != NULL, "%s", err);
}
