/* tests/test_sweep_paths.c: long paths in the scheduler: a runs directory whose run directories
 * the trainer could not take is refused before anything is written, and the Slurm task list
 * holds every line whole however long the trainer's path. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/spawn.h"
#include "tests/sweep_test_util.h"

/* dir/aaaa.../aaaa... made of components of 200 characters until the path has about `length`. */
static void make_deep_dir(const char *dir, size_t length, char *out, size_t n)
{
    char component[201];
    memset(component, 'a', 200);
    component[200] = '\0';
    snprintf(out, n, "%s", dir);
    while (strlen(out) + 201 < length) {
        size_t used = strlen(out);
        snprintf(out + used, n - used, "/%s", component);
        cr_assert_eq(mkdir(out, 0755), 0, "mkdir %s", out);
    }
}

Test(sweep_paths, runs_directory_too_long_for_the_trainer_is_refused)
{
    TuSweep s;
    tu_make_sweep(&s, "longdir", 2, 4);
    char runs[2048];
    make_deep_dir(s.dir, 700, runs, sizeof runs);
    const char *args[] = {"run", s.yaml, "--db", s.db, "--runs-dir", runs, "--trainer", TEST_FAKE_TRAINER,
                          "--gpus", "none", "--quiet", NULL};
    int rc = tu_sweep(args, NULL, s.log);
    cr_assert(rc > 0 && rc < 128, "exit %d", rc);
    char log[4096];
    tu_read(s.log, log, sizeof log);
    cr_assert(strstr(log, "runs directory too long") != NULL, "%s", log);
    cr_assert_eq(tu_query_int(s.db, "SELECT count(*) FROM runs WHERE status != 'queued'"), 0, "nothing ran");
    tu_remove_tree(s.dir);
}

Test(sweep_paths, slurm_task_list_holds_long_trainer_paths_whole)
{
    TuSweep s;
    tu_make_sweep(&s, "longtrainer", 8, 4);
    /* The trainer at a path of about 3,000 characters: eight lines outgrow a fixed guess per line. */
    char deep[4096], trainer[4200];
    make_deep_dir(s.dir, 3000, deep, sizeof deep);
    snprintf(trainer, sizeof trainer, "%s/dlcm-fake-train", deep);
    const char *copy[] = {"cp", TEST_FAKE_TRAINER, trainer, NULL};
    char out[256], err[256];
    cr_assert_eq(spawn_capture(copy, out, sizeof out, err, sizeof err), 0, "%s", err);
    char runs[400];
    snprintf(runs, sizeof runs, "%s/runs", s.dir);
    /* No sbatch on PATH: the scheduler writes the task list, then fails to submit it. */
    const char *args[] = {"run", s.yaml, "--backend", "slurm", "--db", s.db, "--runs-dir", runs, "--trainer", trainer,
                          "--gpus", "none", NULL};
    const char *env[] = {"PATH=/nonexistent", NULL};
    int rc = tu_sweep(args, env, s.log);
    cr_assert(rc > 0 && rc < 128, "fails to submit, without crashing (exit %d)", rc);
    char slurm_dir[500];
    snprintf(slurm_dir, sizeof slurm_dir, "%s/longtrainer/slurm", runs);
    DIR *d = opendir(slurm_dir);
    cr_assert_not_null(d);
    struct dirent *e;
    int lists = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 6, ".tasks") != 0) continue;
        lists++;
        char path[800];
        snprintf(path, sizeof path, "%s/%s", slurm_dir, e->d_name);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        static char line[8192];
        int lines = 0;
        while (fgets(line, sizeof line, f)) {
            size_t n = strlen(line);
            cr_assert(n > strlen(trainer) + 1 && line[n - 1] == '\n', "line %d cut short", lines);
            line[n - 1] = '\0';
            cr_assert_str_eq(line + n - 1 - strlen(trainer), trainer, "line %d ends with the trainer", lines);
            lines++;
        }
        fclose(f);
        cr_assert_eq(lines, 8, "one line per queued run");
    }
    closedir(d);
    cr_assert_eq(lists, 1);
    tu_remove_tree(s.dir);
}
