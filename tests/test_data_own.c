/* tests/test_data_own.c: `dlcm-data build --text` on a folder made in the test (text files in
 * nested folders and a JSONL file): shards, tasks and report come out of the same pipeline,
 * duplicate paragraphs are dropped, a rebuild gives the same shards, and bad input (a JSONL line
 * without text, no --out) exits 2 naming the file and line. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/shard.h"
#include "tests/run_program.h"

static char dir[64], text_dir[128], out_dir[128], log_out[128], log_err[128];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL, "%s", path);
    cr_assert_geq(fputs(text, f), 0);
    cr_assert_eq(fclose(f), 0);
}

/* A paragraph of pseudo-random words, the same for the same seed. */
static void paragraph(char *buf, size_t n, unsigned seed)
{
    static const char *words[] = {"the", "river", "stone", "quiet", "light", "concept", "budget", "green",
                                  "runs", "over", "small", "large", "token", "scale", "under", "a"};
    size_t used = 0;
    unsigned x = seed * 2654435761u + 1;
    int count = 25 + (int)(seed % 20);
    for (int i = 0; i < count && used + 16 < n; i++) {
        x = x * 1103515245u + 12345u;
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? " " : "The ", words[(x >> 16) % 16]);
    }
    snprintf(buf + used, n - used, ".");
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/dlcm-test-own-XXXXXX");
    cr_assert(mkdtemp(dir) != NULL);
    snprintf(text_dir, sizeof text_dir, "%s/text", dir);
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);
    snprintf(log_out, sizeof log_out, "%s/log.out", dir);
    snprintf(log_err, sizeof log_err, "%s/log.err", dir);
    char sub[160], path[200], para[512];
    snprintf(sub, sizeof sub, "%s/nested", text_dir);
    cr_assert_eq(mkdir(text_dir, 0755), 0);
    cr_assert_eq(mkdir(sub, 0755), 0);
    static char text[65536];
    for (int f = 0; f < 12; f++) {
        size_t used = 0;
        for (int p = 0; p < 40; p++) {
            paragraph(para, sizeof para, (unsigned)(f * 100 + p));
            used += (size_t)snprintf(text + used, sizeof text - used, "%s%s", p ? "\n\n" : "", para);
        }
        snprintf(path, sizeof path, "%s/doc%02d.txt", f % 2 ? sub : text_dir, f);
        write_file(path, text);
    }
    /* A JSONL file whose texts repeat one paragraph: it is kept once. */
    paragraph(para, sizeof para, 99999);
    snprintf(path, sizeof path, "%s/extra.jsonl", text_dir);
    snprintf(text, sizeof text, "{\"text\": \"%s\", \"id\": 1}\n\n{\"text\": \"%s\"}\n", para, para);
    write_file(path, text);
    snprintf(path, sizeof path, "%s/notes.bin", text_dir);
    write_file(path, "ignored: not a text suffix\n");
}

static void teardown(void)
{
    char *argv[] = {"/bin/rm", "-rf", dir, NULL};
    run_program(argv, "/dev/null", "/dev/null");
}

TestSuite(data_own, .init = setup, .fini = teardown);

static uint64_t checksum_of(const char *path, uint32_t vocab)
{
    char err[512];
    Shard *s = shard_open(path, vocab, err, sizeof err);
    cr_assert(s != NULL, "%s", err);
    uint64_t sum = shard_header(s)->checksum;
    cr_assert_str_eq(shard_header(s)->tokenizer, "byte");
    cr_assert_gt(shard_header(s)->token_count, 1000);
    shard_close(s);
    return sum;
}

Test(data_own, a_folder_goes_through_the_whole_pipeline)
{
    char *build[] = {"bin/dlcm-data", "build", "--text", text_dir, "--out", out_dir, "--bpe=none",
                     "--val-permille=300", NULL};
    cr_assert_eq(run_program(build, log_out, log_err), 0);
    char path[256], report[16384] = "";
    snprintf(path, sizeof path, "%s/byte/train.bin", out_dir);
    uint64_t train = checksum_of(path, 256);
    snprintf(path, sizeof path, "%s/byte/val.bin", out_dir);
    checksum_of(path, 256);
    snprintf(path, sizeof path, "%s/byte/val-literature.bin", out_dir);
    checksum_of(path, 256);
    snprintf(path, sizeof path, "%s/byte/val-technical.bin", out_dir);
    cr_assert_neq(access(path, F_OK), 0, "no shard for a domain without text");
    snprintf(path, sizeof path, "%s/tasks/cloze.jsonl", out_dir);
    struct stat st;
    cr_assert(stat(path, &st) == 0 && st.st_size > 0, "cloze items from the own text");
    snprintf(path, sizeof path, "%s/report.txt", out_dir);
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL);
    size_t got = fread(report, 1, sizeof report - 1, f);
    report[got] = '\0';
    fclose(f);
    cr_assert(strstr(report, "own ") != NULL && strstr(report, text_dir) != NULL, "%s", report);
    FILE *log = fopen(log_out, "r");
    char line[1024], all[8192] = "";
    while (log && fgets(line, sizeof line, log)) strncat(all, line, sizeof all - strlen(all) - 1);
    if (log) fclose(log);
    cr_assert(strstr(all, "13 files") != NULL, "12 text files and the JSONL: %s", all);
    cr_assert(strstr(all, "1 duplicates dropped") != NULL, "the repeated paragraph: %s", all);

    /* Built again: the same shards. */
    cr_assert_eq(run_program(build, log_out, log_err), 0);
    snprintf(path, sizeof path, "%s/byte/train.bin", out_dir);
    cr_assert_eq(checksum_of(path, 256), train);
}

Test(data_own, bad_input_exits_2_naming_file_and_line)
{
    char path[200], err_text[4096] = "";
    snprintf(path, sizeof path, "%s/extra.jsonl", text_dir);
    write_file(path, "{\"text\": \"fine\"}\n{\"body\": \"no text field\"}\n");
    char *build[] = {"bin/dlcm-data", "build", "--text", text_dir, "--out", out_dir, "--bpe", "none", NULL};
    cr_assert_eq(run_program(build, log_out, log_err), 2);
    FILE *f = fopen(log_err, "r");
    size_t got = f ? fread(err_text, 1, sizeof err_text - 1, f) : 0;
    err_text[got] = '\0';
    if (f) fclose(f);
    cr_assert(strstr(err_text, "extra.jsonl:2: text: missing or not a string") != NULL, "%s", err_text);
    char *no_out[] = {"bin/dlcm-data", "build", "--text", text_dir, NULL};
    cr_assert_eq(run_program(no_out, log_out, log_err), 2, "never into data/out by default");
    char *missing[] = {"bin/dlcm-data", "build", "--text", "/nonexistent/folder", "--out", out_dir, NULL};
    cr_assert_eq(run_program(missing, log_out, log_err), 2);
    char *domain[] = {"bin/dlcm-data", "build", "--text", text_dir, "--out", out_dir, "--domain", "poetry", NULL};
    cr_assert_eq(run_program(domain, log_out, log_err), 2);
}
