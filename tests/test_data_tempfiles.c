/* tests/test_data_tempfiles.c: the BPE tokenizer's round trip through spm_encode keeps both of
 * its files in a private directory of its own under TMPDIR and leaves nothing behind. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/tokenizer.h"
#include "tests/remove_tree.h"

static int entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

Test(data_tempfiles, spm_encode_files_stay_private_and_are_removed)
{
    struct stat st;
    if (stat("data/out/bpe4096/tokenizer.model", &st) != 0) cr_skip_test("no data/out/bpe4096 (run make data)");
    char tmp[] = "/tmp/dlcm-test-tempfiles-XXXXXX";
    cr_assert_not_null(mkdtemp(tmp));
    cr_assert_eq(setenv("TMPDIR", tmp, 1), 0);
    char err[512];
    Tokenizer *t = tokenizer_open("bpe4096", "data/out", err, sizeof err);
    cr_assert_not_null(t, "%s", err);
    const char *texts[2] = {"private files", "two\nlines"};
    size_t lens[2] = {strlen(texts[0]), strlen(texts[1])};
    int32_t *ids[2];
    long counts[2];
    cr_assert_eq(tokenizer_encode_many(t, texts, lens, 2, ids, counts, err, sizeof err), 0, "%s", err);
    cr_assert(counts[0] > 0 && counts[1] > 0);
    free(ids[0]);
    free(ids[1]);
    tokenizer_close(t);
    cr_assert_eq(entries_in(tmp), 0, "the encoder left files in TMPDIR");
    remove_tree(tmp);
}
