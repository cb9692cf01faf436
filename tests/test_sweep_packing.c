/* tests/test_sweep_packing.c: the automatic packing of `dlcm-sweep run`: each rule of
 * pack_choice (memory, step size, run length, the cap of 8), and with the test double of the
 * trainer on stand-in GPUs: small runs packed 8 to a GPU, memory-bound runs fewer, the choice
 * and its reason printed, and --max-per-gpu still obeyed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sweep/packing.h"
#include "sweep/plan.h"
#include "tests/sweep_test_util.h"

static ModelShape tiny_dense(void)
{
    return (ModelShape){.family = FAMILY_DENSE, .vocab = 256, .seq_len = 16, .d_t = 64, .n_layers = 1};
}

Test(sweep_packing, each_rule_bounds_the_runs_per_gpu)
{
    ModelShape s = tiny_dense();
    double per_token = shape_train_flops_per_token(&s, 1.0);
    /* Small steps, a short run, plenty of memory: the cap. */
    PackChoice c = pack_choice(&s, 64, 6400, 0, 80.0 * (1 << 30));
    cr_assert_eq(c.per_gpu, PACK_MAX_PER_GPU);
    cr_assert_eq(c.bound, PACK_BY_NONE);
    cr_assert_float_eq(c.step_flops, per_token * 64, 1e-6 * per_token);
    cr_assert(strstr(pack_reason(&c), "cap") != NULL);
    /* Memory for three. */
    double mem = sweep_estimate_memory(&s, 64);
    c = pack_choice(&s, 64, 6400, 0, 3.5 * mem / 0.9);
    cr_assert_eq(c.per_gpu, 3);
    cr_assert_eq(c.bound, PACK_BY_MEMORY);
    /* Unknown memory: that rule is skipped. */
    c = pack_choice(&s, 64, 6400, 0, 0);
    cr_assert_eq(c.per_gpu, PACK_MAX_PER_GPU);
    /* Steps of 1/1.9 of the saturating work: alone; of 1/2.5: two share a GPU. */
    int64_t batch = (int64_t)(PACK_SATURATING_STEP_FLOPS / 1.9 / per_token);
    c = pack_choice(&s, batch, batch, 0, 0);
    cr_assert_eq(c.per_gpu, 1, "a step well above half the saturating work: alone");
    batch = (int64_t)(PACK_SATURATING_STEP_FLOPS / 2.5 / per_token);
    c = pack_choice(&s, batch, batch, 0, 0);
    cr_assert_eq(c.per_gpu, 2);
    cr_assert_eq(c.bound, PACK_BY_STEP);
    /* A long run: 8 x 240 s at 25 TFLOP/s is 4.8e16 FLOPs; a run of a third of that packs 3. */
    int64_t tokens = (int64_t)(PACK_RUN_SECONDS * PACK_REFERENCE_FLOPS_PER_S / 3.0 / per_token);
    c = pack_choice(&s, 64, tokens, 0, 0);
    cr_assert_eq(c.per_gpu, 3);
    cr_assert_eq(c.bound, PACK_BY_LENGTH);
    cr_assert(strstr(pack_reason(&c), "long run") != NULL);
    /* Its planned FLOPs decide when given (a partner's custom FFN is not in the stored shape), and
     * a run 2% over a whole number of runs still packs as that number. */
    c = pack_choice(&s, 64, tokens, PACK_RUN_SECONDS * PACK_REFERENCE_FLOPS_PER_S / 2.0 * 1.02, 0);
    cr_assert_eq(c.per_gpu, 2);
    cr_assert_float_eq(c.run_flops, PACK_RUN_SECONDS * PACK_REFERENCE_FLOPS_PER_S / 2.0 * 1.02, 1e3);
    /* A run too long for even one: alone, never zero. */
    c = pack_choice(&s, 64, tokens * 100, 0, 0);
    cr_assert_eq(c.per_gpu, 1);
}

Test(sweep_packing, without_max_per_gpu_small_runs_pack_eight_and_the_choice_is_printed, .timeout = 120)
{
    TuSweep s;
    char text[16384];
    tu_make_sweep(&s, "autopack", 10, 20);
    const char *env[] = {"DLCM_FAKE_STEP_MS=100", NULL};
    const char *args[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "0", "--gpu-mem", "80",
                          "--status-every", "1000", NULL};
    cr_assert_eq(tu_sweep(args, env, s.log), 0);
    tu_read(s.log, text, sizeof text);
    cr_assert(strstr(text, "packing: automatic") != NULL, "%s", text);
    cr_assert(strstr(text, "  10 queued run(s): up to 8 per GPU, bound by small runs (the cap)") != NULL, "%s", text);
    cr_assert(strstr(text, "started (up to 8 per GPU)") != NULL, "%s", text);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE status = 'done'"), 10);
    cr_assert_eq(tu_max_overlap(&s, "cuda:0"), 8, "eight small runs at once, never more");
    tu_remove_tree(s.dir);

    /* Memory for three of them (each is estimated at 256 MiB and a little): three at once. */
    tu_make_sweep(&s, "autopackmem", 6, 20);
    const char *mem_args[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "0",
                              "--gpu-mem", "0.95", "--status-every", "1000", NULL};
    cr_assert_eq(tu_sweep(mem_args, env, s.log), 0);
    tu_read(s.log, text, sizeof text);
    cr_assert(strstr(text, "up to 3 per GPU, bound by estimated memory") != NULL, "%s", text);
    cr_assert_eq(tu_max_overlap(&s, "cuda:0"), 3);
    tu_remove_tree(s.dir);

    /* --max-per-gpu still decides when given. */
    tu_make_sweep(&s, "fixedpack", 4, 20);
    const char *fixed[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "0", "--gpu-mem", "80",
                           "--max-per-gpu", "2", "--status-every", "1000", NULL};
    cr_assert_eq(tu_sweep(fixed, env, s.log), 0);
    tu_read(s.log, text, sizeof text);
    cr_assert(strstr(text, "packing: up to 2 run(s) per GPU (--max-per-gpu)") != NULL, "%s", text);
    cr_assert_eq(tu_max_overlap(&s, "cuda:0"), 2);
    tu_remove_tree(s.dir);
}

Test(sweep_packing, runs_are_recorded_and_claimed_smallest_first)
{
    TuSweep s;
    tu_make_sweep(&s, "smallfirst", 1, 40);
    /* Three token counts given largest first; equal ones keep the file's order. */
    char text[2048];
    tu_read(s.yaml, text, sizeof text);
    char *budget = strstr(text, "budgets: ");
    cr_assert_not_null(budget);
    char *end = strchr(budget, '\n');
    char edited[2048];
    snprintf(edited, sizeof edited, "%.*stokens: [2560, 640, 1280]\nlr: 0.01\nseed: [0, 1]\n%s", (int)(budget - text), text,
             strstr(end + 1, "families:"));
    tu_write(s.yaml, edited);
    const char *args[] = {"run", s.yaml, "--db", s.db, "--trainer", TEST_FAKE_TRAINER, "--gpus", "none", "--quiet", NULL};
    cr_assert_eq(tu_sweep(args, NULL, s.log), 0);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs"), 6);
    /* rowid order is the claim order, and the runs started in it. */
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs a JOIN runs b ON a.rowid < b.rowid "
                                    "WHERE a.train_flops > b.train_flops"), 0, "smallest first");
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs a JOIN runs b ON a.rowid < b.rowid "
                                    "WHERE a.started_at > b.started_at"), 0, "started in that order");
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs a JOIN runs b ON a.rowid < b.rowid "
                                    "WHERE a.tokens = b.tokens AND a.seed > b.seed"), 0, "ties in the file's order");
    tu_remove_tree(s.dir);
}
