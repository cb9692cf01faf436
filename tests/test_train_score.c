/* tests/test_train_score.c: bin/dlcm-score on a checkpoint of a tiny DLCM trained on synthetic
 * shards: one TSV row per token whose log-probabilities are <= 0, a segmented text that is the
 * input with separators, task accuracy with its interval, and file:line errors on bad tasks. */
#include <criterion/criterion.h>

#include "engine/train/trainer.h"
#include "train_test_util.h"

static char dir[256], ckpt[400], out[300], err[300];

/* Trains 4 steps of a DLCM with T = 16 (so texts span several windows). */
static void setup_checkpoint(const char *tag)
{
    snprintf(dir, sizeof dir, "/tmp/dlcm-test-score-%s-%d", tag, (int)getpid());
    remove_tree(dir);
    cr_assert_eq(make_tiny_corpus(dir, 20000), 0);
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    char run_dir[300];
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    char *argv[] = {"./bin/dlcm-train", "--out", run_dir, "--data.dir", dir, "--model.family", "dlcm",
                    "--model.seq_len", "16", "--model.d_t", "64", "--model.d_c", "64",
                    "--model.n_con", "1", "--train.batch", "2", "--steps", "4",
                    "--schedule.warmup", "1", "--eval.batches", "1", "--quiet", NULL};
    cr_assert_eq(run_program(argv, out, err), 0, "%s", slurp(err));
    train_checkpoint_path(run_dir, ckpt, sizeof ckpt);
}

Test(train_score, text_gives_one_row_per_token_and_its_segmentation)
{
    setup_checkpoint("text");
    const char *text = "the cat sat on a mat. the dog ran to the house and slept.";
    char text_path[300];
    snprintf(text_path, sizeof text_path, "%s/text.txt", dir);
    write_text(text_path, text);
    char *argv[] = {"./bin/dlcm-score", ckpt, text_path, "--separator", "|", NULL};
    cr_assert_eq(run_program(argv, out, err), 0, "%s", slurp(err));
    char *tsv = slurp(out);
    char *save = NULL;
    char *line = strtok_r(tsv, "\n", &save);
    cr_assert_str_eq(line, "position\ttoken\tpiece\tlogprob\tconcept");
    int rows = 0, last_concept = -1;
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i++) {
        line = strtok_r(NULL, "\n", &save);
        cr_assert_not_null(line);
        /* five tab-separated fields (the piece may be a space: no scanf) */
        char *field[5];
        char *p = line;
        for (int k = 0; k < 5; k++) {
            field[k] = p;
            char *tab = strchr(p, '\t');
            cr_assert(k == 4 || tab != NULL, "row has 5 fields: %s", line);
            if (tab) {
                *tab = '\0';
                p = tab + 1;
            }
        }
        long pos = atol(field[0]);
        int token = atoi(field[1]), concept = atoi(field[4]);
        double lp = atof(field[3]);
        cr_assert_eq(strlen(field[2]), 1, "a byte piece is one character");
        cr_assert_eq(pos, (long)i);
        cr_assert_eq(token, (unsigned char)text[i], "byte tokens");
        cr_assert_leq(lp, 0.0);
        cr_assert_geq(concept, last_concept, "concepts never go back");
        cr_assert_leq(concept, last_concept + 1, "concepts are numbered without gaps");
        last_concept = concept;
        rows++;
    }
    cr_assert_eq(rows, (int)n);
    /* The segmented text: removing the separators gives the input back. */
    line = strtok_r(NULL, "\n", &save);
    cr_assert_not_null(line);
    char joined[256];
    size_t j = 0;
    int separators = 0;
    for (const char *p = line; *p && j + 1 < sizeof joined; p++) {
        if (*p == '|') separators++;
        else joined[j++] = *p;
    }
    joined[j] = '\0';
    cr_assert_str_eq(joined, text);
    cr_assert_eq(separators, last_concept, "one separator between consecutive concepts");
    cr_assert_geq(last_concept, 3, "a %zu-token text over windows of 16 has at least 4 concepts", n);
    free(tsv);
    remove_tree(dir);
}

Test(train_score, tasks_report_accuracy_and_bad_lines)
{
    setup_checkpoint("task");
    char task_path[300];
    snprintf(task_path, sizeof task_path, "%s/tasks.jsonl", dir);
    write_text(task_path,
               "{\"context\": \"the cat sat on a\", \"choices\": [\" mat.\", \" house\"], \"answer\": 0}\n"
               "\n"
               "{\"context\": \"the dog\", \"target\": \" ran\"}\n"
               "{\"context\": \"it was\", \"target\": \" warm.\"}\n"
               "{\"context\": \"the dog ran to the\", \"choices\": [\"house\", \"cat\", \"slept\"], \"answer\": \"house\"}\n");
    char *argv[] = {"./bin/dlcm-score", ckpt, "--task", task_path, NULL};
    cr_assert_eq(run_program(argv, out, err), 0, "%s", slurp(err));
    char *text = slurp(out);
    int correct, items;
    double acc, lo, hi, chance;
    char *at = strstr(text, "accuracy");
    cr_assert_not_null(at, "%s", text);
    cr_assert_eq(sscanf(at, "accuracy %lf (%d/%d), Wilson 95%% interval [%lf, %lf], chance %lf", &acc, &correct,
                        &items, &lo, &hi, &chance), 6, "%s", text);
    cr_assert_eq(items, 4);
    cr_assert(lo <= acc && acc <= hi, "%s", text);
    cr_assert_float_eq(chance, (0.5 + 0.5 + 0.5 + 1.0 / 3) / 4, 1e-4, "two cloze items rank among 2 targets");
    free(text);

    write_text(task_path, "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": 0}\n{\"context\": 3}\n");
    cr_assert_eq(run_program(argv, out, err), 2);
    char *msg = slurp(err);
    char where[400];
    snprintf(where, sizeof where, "%s:2:", task_path);
    cr_assert(strstr(msg, where) != NULL && strstr(msg, "context") != NULL, "%s", msg);
    free(msg);
    write_text(task_path, "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": 0}\n{not json\n");
    cr_assert_eq(run_program(argv, out, err), 2);
    msg = slurp(err);
    cr_assert(strstr(msg, where) != NULL && strstr(msg, "invalid JSON") != NULL, "%s", msg);
    free(msg);
    remove_tree(dir);
}
