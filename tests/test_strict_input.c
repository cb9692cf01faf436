/* tests/test_strict_input.c: input the readers once cut short or took in part is refused with
 * FILE:LINE: KEY: a NUL byte, a second YAML document, a key given twice, in sweep files and run
 * configs, through the readers and through the programs (exit code, nothing written). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/train/config.h"
#include "sweep/config.h"
#include "tests/remove_tree.h"
#include "tests/run_program.h"

static SweepSpec spec; /* large: kept off the stack */

static const char sweep_yaml[] =
    "name: t\n"              /* 1 */
    "vocab: 256\n"           /* 2 */
    "seq_len: 16\n"          /* 3 */
    "batch_tokens: 64\n"     /* 4 */
    "budgets: [1e10]\n"      /* 5 */
    "lr: 0.01\n"             /* 6 */
    "families:\n"            /* 7 */
    "  - family: dense\n"    /* 8 */
    "    d_t: [64, 128]\n"   /* 9 */
    "    n_layers: 2\n";     /* 10 */

static void expect_sweep_error(const char *text, size_t len, const char *prefix, const char *detail)
{
    char err[1024];
    cr_assert_eq(sweep_config_parse(text, len, "s.yaml", &spec, err, sizeof err), -1, "accepted:\n%s", text);
    cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "expected '%s...', got '%s'", prefix, err);
    cr_assert(strstr(err, detail) != NULL, "expected '%s' in '%s'", detail, err);
}

Test(strict_input, sweep_nul_byte_second_document_and_repeated_keys)
{
    char err[1024], text[1024];
    cr_assert_eq(sweep_config_parse(sweep_yaml, strlen(sweep_yaml), "s.yaml", &spec, err, sizeof err), 0, "%s", err);
    /* A NUL byte once ended the file there; whatever followed was dropped. */
    memcpy(text, sweep_yaml, sizeof sweep_yaml);
    memcpy(text + sizeof sweep_yaml, "trainer:\n  optim.lr: 0.5\n", 26);
    expect_sweep_error(text, sizeof sweep_yaml + 25, "s.yaml:11: (file): ", "NUL byte");

    snprintf(text, sizeof text, "%s---\nname: other\n", sweep_yaml);
    expect_sweep_error(text, strlen(text), "s.yaml:11: (file): ", "second YAML document");
    /* An empty document after a marker is harmless; a comment-only tail too. */
    snprintf(text, sizeof text, "%s...\n# end\n", sweep_yaml);
    cr_assert_eq(sweep_config_parse(text, strlen(text), "s.yaml", &spec, err, sizeof err), 0, "%s", err);

    snprintf(text, sizeof text, "%sshape_rule:\n  aspect: 64\nshape_rule:\n  aspect: 32\n", sweep_yaml);
    expect_sweep_error(text, strlen(text), "s.yaml:13: shape_rule: ", "given twice");
    snprintf(text, sizeof text, "%sshape_rule:\n  aspect: 64\n  aspect: 32\n", sweep_yaml);
    expect_sweep_error(text, strlen(text), "s.yaml:13: aspect: ", "given twice");
}

/* Writes len bytes of text to a fresh file under dir; the path goes to path. */
static void write_bytes(const char *dir, const char *name, const char *text, size_t len, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static int load_run_config(const char *path, char *err, int errlen)
{
    TrainConfig cfg = train_config_default();
    ConfigSources *src = config_sources_create();
    int rc = config_load_yaml(&cfg, src, path, err, errlen);
    config_sources_destroy(src);
    return rc;
}

Test(strict_input, run_config_nul_byte_and_second_document)
{
    char dir[] = "/tmp/dlcm-strict-XXXXXX", path[256], err[1024], want[300];
    cr_assert_not_null(mkdtemp(dir));
    static const char nul_text[] = "model:\n  d_t: 128\n\0  n_layers: 3\n";
    write_bytes(dir, "nul.yaml", nul_text, sizeof nul_text - 1, path, sizeof path);
    cr_assert_eq(load_run_config(path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:3: (file): ", path);
    cr_assert(strncmp(err, want, strlen(want)) == 0 && strstr(err, "NUL byte"), "got '%s'", err);

    static const char two_docs[] = "model:\n  d_t: 128\n---\noptim:\n  lr: 0.5\n";
    write_bytes(dir, "two.yaml", two_docs, sizeof two_docs - 1, path, sizeof path);
    cr_assert_eq(load_run_config(path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:3: (file): ", path);
    cr_assert(strncmp(err, want, strlen(want)) == 0 && strstr(err, "second YAML document"), "got '%s'", err);

    static const char twice[] = "model:\n  d_t: 128\nmodel:\n  d_t: 256\n";
    write_bytes(dir, "twice.yaml", twice, sizeof twice - 1, path, sizeof path);
    cr_assert_eq(load_run_config(path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:4: model.d_t: duplicate key", path);
    cr_assert_str_eq(err, want);
    remove_tree(dir);
}

Test(strict_input, programs_refuse_a_nul_byte_and_write_nothing)
{
    char dir[] = "/tmp/dlcm-strict-XXXXXX", path[256], out[300], err_log[300], out_log[300];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(out_log, sizeof out_log, "%s/stdout", dir);
    snprintf(err_log, sizeof err_log, "%s/stderr", dir);
    /* The text before the NUL is a whole sweep: cut there, it planned and exited 0. */
    char text[1024];
    memcpy(text, sweep_yaml, sizeof sweep_yaml);
    memcpy(text + sizeof sweep_yaml, "trainer:\n  optim.lr: 0.5\n", 26);
    write_bytes(dir, "sweep.yaml", text, sizeof sweep_yaml + 25, path, sizeof path);
    char *plan[] = {"./bin/dlcm-sweep", "plan", path, NULL};
    int rc = run_program(plan, out_log, err_log);
    cr_assert(rc != 0 && rc < 128, "dlcm-sweep plan accepted a NUL byte (exit %d)", rc);

    static const char nul_config[] = "model:\n  family: dense\n\0  d_t: 128\n";
    write_bytes(dir, "config.yaml", nul_config, sizeof nul_config - 1, path, sizeof path);
    snprintf(out, sizeof out, "%s/run", dir);
    char *train[] = {"./bin/dlcm-train", path, "--out", out, NULL};
    cr_assert_eq(run_program(train, out_log, err_log), 2, "dlcm-train: bad input exits 2");
    cr_assert_neq(access(out, F_OK), 0, "a refused config created the run directory");
    remove_tree(dir);
}
