/* tests/test_run_identity.c: one run, one id: every run the planner makes of
 * configs/sweep-demo.yaml gets the id from the planner that bin/dlcm-train --print-run-id derives
 * from the same config file, and the trainer reads the planner's config back to the same text. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_program.h"
#include "sweep/config.h"
#include "sweep/plan.h"
#include "train_test_util.h"

static SweepSpec spec;

Test(run_identity, planner_and_trainer_give_every_demo_run_the_same_id)
{
    char err[1024];
    cr_assert_eq(sweep_config_load("configs/sweep-demo.yaml", &spec, err, sizeof err), 0, "%s", err);
    SweepPlan plan;
    cr_assert_eq(sweep_plan(&spec, &plan, err, sizeof err), 0, "%s", err);
    cr_assert_eq(plan.n, 10);
    char dir[] = "/tmp/dlcm-test-identity-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char config[300], out[300], errp[300];
    snprintf(config, sizeof config, "%s/config.yaml", dir);
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(errp, sizeof errp, "%s/stderr", dir);
    for (int i = 0; i < plan.n; i++) {
        write_text(config, plan.runs[i].config);
        char *argv[] = {"./bin/dlcm-train", config, "--print-run-id", NULL};
        int code = run_program(argv, out, errp);
        char *printed = slurp(out), *message = slurp(errp);
        cr_assert_eq(code, 0, "exit %d: %s", code, message);
        cr_assert_eq(strlen(printed), 17, "%s", printed);
        printed[16] = '\0';
        cr_assert_str_eq(printed, plan.runs[i].id, "run %d: planner %s, dlcm-train %s", i, plan.runs[i].id, printed);
        free(printed);
        free(message);
        /* Overriding where it runs does not change what it is. */
        char *moved[] = {"./bin/dlcm-train", config, "--print-run-id", "--device", "cuda", "--out", "/elsewhere",
                         "--data.dir", "/other/data", NULL};
        cr_assert_eq(run_program(moved, out, errp), 0);
        printed = slurp(out);
        cr_assert_eq(strncmp(printed, plan.runs[i].id, 16), 0, "device and locations are not part of the id");
        free(printed);
    }
    sweep_plan_free(&plan);
    unlink(config);
    unlink(out);
    unlink(errp);
    rmdir(dir);
}
