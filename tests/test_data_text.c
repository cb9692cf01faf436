/* tests/test_data_text.c: the text helpers (normalization, entities, prose test, SHA-256), the
 * sentence splitter used by the tasks, and the manifest parser's error messages. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data/manifest.h"
#include "data/sha256.h"
#include "data/tasks.h"
#include "data/text.h"

Test(data_text, normalize_collapses_whitespace_and_controls)
{
    char s[] = "  a\tb\x01\n c \xe2\x96\x81 d \xff e  ";
    size_t n = text_normalize_paragraph(s, strlen(s));
    cr_assert_str_eq(s, "a b c d e");
    cr_assert_eq(n, 9);
}

Test(data_text, entities_decode)
{
    Buf b = {0};
    const char *in = "a &amp; b &lt;c&gt; &#233; &#x2014; &bogus; &";
    text_decode_entities(in, strlen(in), &b);
    cr_assert_str_eq(b.data, "a & b <c> \xc3\xa9 \xe2\x80\x94 &bogus; &");
    buf_free(&b);
}

Test(data_text, prose_test_keeps_sentences_and_drops_code)
{
    const char *prose = "The server keeps one connection per client and closes it when the "
                        "client has been idle for longer than the configured timeout.";
    cr_assert(text_is_prose(prose, strlen(prose)));
    const char *code = "int main(int argc, char **argv) { return run(argv[1], opts->flags); }";
    cr_assert_not(text_is_prose(code, strlen(code)));
    const char *heading = "Configuration Options For The Server Module And Its Plugins Overview.";
    cr_assert_not(text_is_prose(heading, strlen(heading)), "title case is not prose");
    const char *fragment = "the server keeps one connection per client and closes it when idle";
    cr_assert_not(text_is_prose(fragment, strlen(fragment)), "no sentence punctuation");
}

Test(data_text, sha256_known_vectors)
{
    Sha256 h;
    char hex[65];
    sha256_init(&h);
    sha256_update(&h, "abc", 3);
    sha256_final_hex(&h, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_init(&h);
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_update(&h, two_blocks, strlen(two_blocks));
    sha256_final_hex(&h, hex);
    cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(data_text, sentences_split_but_not_at_abbreviations)
{
    const char *s =
        "Mr. Woodhouse was ill. He said \"No!\" Then J. Smith left? Yes, at 3 p.m. today.";
    size_t starts[16];
    int n = split_sentences(s, strlen(s), starts, 16);
    cr_assert_eq(n, 4, "got %d sentences", n);
    cr_assert_eq(strncmp(s + starts[1], "He said", 7), 0);
    cr_assert_eq(strncmp(s + starts[2], "Then J. Smith", 13), 0);
    cr_assert_eq(strncmp(s + starts[3], "Yes", 3), 0);
}

Test(data_text, manifest_errors_name_file_line_and_field)
{
    char path[128], err[512];
    snprintf(path, sizeof path, "/tmp/dlcm-test-manifest-%d.tsv", (int)getpid());
    FILE *f = fopen(path, "w");
    fprintf(f, "# comment\nX1\tpoetry\tdeb\tp\t1\tp.deb\t%064d\tPD\tgutenberg\t*\t-\n", 0);
    fclose(f);
    Source *sources;
    int n;
    cr_assert_eq(manifest_read(path, &sources, &n, err, sizeof err), -1);
    cr_assert(strstr(err, path) && strstr(err, "line 2") && strstr(err, "domain"), "%s", err);
    f = fopen(path, "w");
    fprintf(f, "X1\tliterature\tdeb\tp\t1\tp.deb\tabc\tPD\tgutenberg\t*\t-\n");
    fclose(f);
    cr_assert_eq(manifest_read(path, &sources, &n, err, sizeof err), -1);
    cr_assert(strstr(err, "sha256") != NULL, "%s", err);
    f = fopen(path, "w");
    fprintf(f, "X1\tliterature\tnpm\tp\t1\tp.tgz\t%064d\tPD\tgutenberg\tpackage/*.txt\t*/README*\n",
            0);
    fclose(f);
    cr_assert_eq(manifest_read(path, &sources, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert(source_wants(&sources[0], "package/a/b.txt"));
    cr_assert_not(source_wants(&sources[0], "package/README.txt"));
    cr_assert_not(source_wants(&sources[0], "package/a.json"));
    free(sources);
    unlink(path);
}
