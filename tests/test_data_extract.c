/* tests/test_data_extract.c: the extractors on small in-memory members: books, Brown, reST, POD,
 * HTML and man pages keep their prose and drop code, markup and tables. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "data/extract.h"

static MemberList one_member(const char *path, const char *text)
{
    MemberList list;
    list.count = 1;
    list.files = calloc(1, sizeof *list.files);
    list.files[0].path = strdup(path);
    list.files[0].data = (unsigned char *)strdup(text);
    list.files[0].len = strlen(text);
    return list;
}

/* Runs one extractor over one member and returns the corpus text of all documents. */
static char *run(int (*extractor)(Corpus *, int, const MemberList *, char *, int), Domain domain,
                 const char *path, const char *text)
{
    Corpus c;
    corpus_init(&c, 30);
    int src = corpus_add_source(&c, "T", domain);
    MemberList list = one_member(path, text);
    char err[512] = "";
    cr_assert_eq(extractor(&c, src, &list, err, sizeof err), 0, "%s", err);
    corpus_end_unit(&c);
    Buf all = {0};
    buf_append(&all, "", 0);
    for (size_t i = 0; i < c.n_docs; i++) {
        if (i) buf_putc(&all, '\n');
        buf_append(&all, c.docs[i].text, c.docs[i].len);
    }
    member_list_free(&list);
    corpus_free(&c);
    return all.data;
}

Test(data_extract, book_prose_unwrapped_verse_kept)
{
    const char *book =
        "[A Book 1900]\n\n"
        "It was a truth universally acknowledged by all the people of the town that\n"
        "a single man in possession of a good fortune must be in want of a wife, and\n"
        "that _nothing_ could be done about it.\n\n"
        "  Tyger Tyger, burning bright,\n"
        "  In the forests of the night;\n"
        "  What immortal hand or eye,\n";
    char *text = run(extract_gutenberg, DOMAIN_LITERATURE, "package/gutenberg/book.txt", book);
    cr_assert_str_eq(
        text,
        "[A Book 1900]\n"
        "It was a truth universally acknowledged by all the people of the town that a "
        "single man in possession of a good fortune must be in want of a wife, and that "
        "nothing could be done about it.\n"
        "Tyger Tyger, burning bright,\nIn the forests of the night;\nWhat immortal hand or eye,");
    free(text);
}

Test(data_extract, brown_tags_stripped)
{
    const char *brown = "\n\n\tThe/at jury/nn said/vbd ``/`` it/pps did/dod n't/* ''/'' ,/, "
                        "(/( really/rb )/) ./.\n\n\tNext/ap paragraph/nn ./.\n";
    char *text = run(extract_brown, DOMAIN_LITERATURE, "package/ca01", brown);
    cr_assert_str_eq(text, "The jury said \"it didn't\", (really).\nNext paragraph.");
    free(text);
}

Test(data_extract, rst_keeps_prose_drops_code_and_directives)
{
    const char *rst =
        "Title of the page\n=================\n\n"
        "The :func:`open` call returns a ``file`` object that the caller must close when it is "
        "done with reading, see `the manual <http://x>`_ for details.\n\n"
        "For example::\n\n    f = open(path)\n    data = f.read()\n\n"
        ".. note::\n\n   This note is a directive body and it is long enough to pass the prose "
        "test.\n\n"
        "+------+------+\n| a    | b    |\n+------+------+\n\n"
        "- A list item that is written as a full sentence and is long enough for the test.\n";
    char *text = run(extract_rst, DOMAIN_TECHNICAL, "usr/share/doc/x/_sources/page.rst.txt", rst);
    cr_assert_str_eq(
        text, "The open call returns a file object that the caller must close when it is "
              "done with reading, see the manual for details.\n"
              "A list item that is written as a full sentence and is long enough for the test.");
    free(text);
}

Test(data_extract, pod_renders_codes_and_skips_verbatim)
{
    const char *pod =
        "=head1 DESCRIPTION\n\n"
        "The B<open> function opens the file named by C<< $path >> and returns a handle that "
        "you can read from, see L<perlfunc/open> and E<lt>STDINE<gt> for more.\n\n"
        "    my $fh = open($path);\n\n"
        "=begin html\n\n<p>raw html that must not appear in the output at all, ever.</p>\n\n=end "
        "html\n\n"
        "=cut\n";
    char *text = run(extract_pod, DOMAIN_TECHNICAL, "usr/share/perl/5/pod/perlx.pod", pod);
    cr_assert_str_eq(text, "The open function opens the file named by $path and returns a handle "
                           "that you can read from, see open and <STDIN> for more.");
    free(text);
}

Test(data_extract, html_paragraphs_without_pre_nav_or_tables)
{
    const char *html =
        "<html><head><title>T</title><script>var x = 'a sentence in a script tag that is "
        "long.';</script></head>"
        "<body><nav><p>Home page navigation text is here and it is long enough to be "
        "prose.</p></nav>"
        "<p>The <code>git log</code> command shows the commit history of the current branch, "
        "newest first, one commit after another.</p>"
        "<pre>$ git log --oneline</pre>"
        "<table><tr><td><p>A table cell with enough words to look like prose to the "
        "filter.</p></td></tr></table>"
        "<div class=\"para\">A DocBook paragraph that is written as a div and holds only inline "
        "text.</div>"
        "</body></html>";
    char *text = run(extract_html, DOMAIN_TECHNICAL, "usr/share/doc/git-doc/git-log.html", html);
    cr_assert_str_eq(text,
                     "The git log command shows the commit history of the current branch, "
                     "newest first, one commit after another.\n"
                     "A DocBook paragraph that is written as a div and holds only inline text.");
    free(text);
}

Test(data_extract, man_page_prose_without_synopsis_or_examples)
{
    const char *roff =
        ".\\\" a comment line\n"
        ".TH open 2 2023-02-05 \"Linux man-pages 6.03\"\n"
        ".SH NAME\nopen \\- open a file\n"
        ".SH SYNOPSIS\n.nf\n.BI \"int open(const char *\" pathname );\n.fi\n"
        ".SH DESCRIPTION\nThe\n.BR open ()\nsystem call opens the file specified by\n.IR pathname "
        ".\n"
        "If the file does not exist, it may be created \\(em see \\fBO_CREAT\\fP below.\n"
        ".TP\n.B O_CREAT\nIf the file does not exist, it is created with the mode given by the "
        "caller.\n"
        ".EX\nfd = open(\"x\", O_RDONLY); /* an example that is code and must not appear. "
        "*/\n.EE\n";
    /* the member is gzip-compressed, as in the package */
    unsigned char packed[4096];
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)roff;
    z.avail_in = (uInt)strlen(roff);
    z.next_out = packed;
    z.avail_out = sizeof packed;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t packed_len = sizeof packed - z.avail_out;
    deflateEnd(&z);
    Corpus c;
    corpus_init(&c, 30);
    int src = corpus_add_source(&c, "M", DOMAIN_TECHNICAL);
    MemberList list;
    list.count = 1;
    list.files = calloc(1, sizeof *list.files);
    list.files[0].path = strdup("usr/share/man/man2/open.2.gz");
    list.files[0].data = malloc(packed_len);
    memcpy(list.files[0].data, packed, packed_len);
    list.files[0].len = packed_len;
    char err[512];
    cr_assert_eq(extract_man(&c, src, &list, err, sizeof err), 0, "%s", err);
    corpus_end_unit(&c);
    cr_assert_eq(c.n_docs, 1);
    cr_assert_str_eq(
        c.docs[0].text,
        "The open() system call opens the file specified by pathname. If the file "
        "does not exist, it may be created \xe2\x80\x94 see O_CREAT below.\n"
        "If the file does not exist, it is created with the mode given by the caller.");
    cr_assert_str_eq(c.docs[0].id, "M/man2/open.2#0");
    member_list_free(&list);
    corpus_free(&c);
}
