/* data/dlcm_data_main.c: bin/dlcm-data, the corpus command: fetch and verify the packages of
 * data/sources.tsv, extract clean text, train BPE, write token shards, tasks and the report. */
#include "cli/cli.h"
#include "data/archive_files.h"
#include "data/bpe.h"
#include "data/build_shards.h"
#include "data/corpus.h"
#include "data/extract.h"
#include "data/manifest.h"
#include "data/own_corpus.h"
#include "data/report.h"
#include "data/sha256.h"
#include "data/shard.h"
#include "util/fs.h"
#include "util/spawn.h"
#include "data/tasks.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Bump when extraction or tokenization output changes, so cached steps are redone. */
#define EXTRACT_VERSION 2
#define SHARDS_VERSION 1
#define TASKS_VERSION 2

typedef struct {
    const char *manifest, *cache, *out;
    int val_permille, jobs;
    long bpe_sample;
    int bpe_sizes[8], n_bpe_sizes;
    int force;
    const char *text_path; /* the researcher's own text instead of the manifest (--text) */
    Domain text_domain;
} Options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dlcm-data <command> [options]\n"
            "\n"
            "Builds dlcm's text corpus from the Debian and npm packages listed in the manifest.\n"
            "\n"
            "commands:\n"
            "  fetch     download missing packages into the cache and verify every sha256\n"
            "  extract   fetch, then extract clean text and split it (out/text/)\n"
            "  bpe       train the sentencepiece BPE model(s) on the train split (out/bpeN/)\n"
            "  shards    write token shards for byte and each BPE size (out/<tokenizer>/)\n"
            "  tasks     write the held-out evaluation tasks (out/tasks/)\n"
            "  report    write and print out/report.txt\n"
            "  build     all of the above; steps whose inputs did not change are skipped\n"
            "  wrap RAW.bin SHARD.bin [--tokenizer gpt2] [--vocab 50257] [--eot 50256]\n"
            "            a headerless uint16 token file (nanoGPT's prepare.py) as a dlcm shard, every\n"
            "            token checked against the vocabulary. llm.c's shards (256-int32 header, magic\n"
            "            20240520) need no wrapping: the trainer reads them as they are\n"
            "            (data.tokenizer: gpt2, model.vocab: 50257, data.train/data.val: the files).\n"
            "\n"
            "options:\n"
            "  --manifest FILE     source manifest (default data/sources.tsv)\n"
            "  --cache DIR         download cache (default data/cache)\n"
            "  --out DIR           output directory (default data/out)\n"
            "  --bpe N[,N...]      BPE vocabulary sizes: 4096 (default), 8192, 16384; none: bytes only\n"
            "  --text PATH         your own text instead of the manifest: a folder (searched\n"
            "                      recursively) of .txt/.md/.text files and .jsonl files (one object a\n"
            "                      line with a string field `text`), or one such file; needs --out.\n"
            "                      Same pipeline: paragraphs, dedup, split, BPE, shards, tasks, report\n"
            "  --domain NAME       the domain the own text is filed under: literature (default),\n"
            "                      dictionary, technical (names its val-<domain>.bin)\n"
            "  --val-permille N    validation share of documents in 1/1000 (default 30)\n"
            "  --bpe-sample N      lines sampled to train BPE (default 300000)\n"
            "  --jobs N            parallel spm processes (default 2)\n"
            "  --force             redo every step even when its stamp matches\n"
            "  -h, --help          this help\n"
            "  --version           the program's version (source commit)\n"
            "Options take their value as `--opt value` or `--opt=value`.\n"
            "\n"
            "exit status: 0 success, 1 a step failed, 2 bad input (arguments, manifest).\n");
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- stamps: a step's output is reused when its stamp file holds the same description ---- */

static int stamp_matches(const char *path, const char *expected)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096] = "";
    char *got = fgets(line, sizeof line, f);
    fclose(f);
    if (!got) return 0;
    line[strcspn(line, "\n")] = '\0';
    return strcmp(line, expected) == 0;
}

static int stamp_write(const char *path, const char *content, char *err, int errlen)
{
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", content) < 0 || fclose(f) != 0) {
        snprintf(err, errlen, "%s: cannot write stamp", path);
        return -1;
    }
    return 0;
}

/* ---- fetch ------------------------------------------------------------------------------ */

static int verify(const Source *s, const char *path, char *err, int errlen)
{
    char hex[65];
    if (sha256_file_hex(path, hex, err, errlen) != 0) return -1;
    if (strcmp(hex, s->sha256) != 0) {
        snprintf(err, errlen,
                 "%s: sha256 %s does not match the manifest's %s for %s %s (delete the file to "
                 "download it again; if it still differs, the registry changed the package)",
                 path, hex, s->sha256, s->package, s->version);
        return -1;
    }
    return 0;
}

static int fetch_all(const Options *o, const Source *sources, int n, char *err, int errlen)
{
    if (fs_mkdirs(o->cache, err, errlen) != 0) return -1;
    int downloaded = 0;
    for (int i = 0; i < n; i++) {
        const Source *s = &sources[i];
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", o->cache, s->file);
        if (!file_exists(path)) {
            char spec[300];
            printf("  fetch %s: %s %s\n", s->id, s->package, s->version);
            if (s->registry == REGISTRY_DEB) {
                snprintf(spec, sizeof spec, "%s=%s", s->package, s->version);
                char *argv[] = {"apt-get", "download", "-q", spec, NULL};
                if (spawn_run(argv, o->cache, NULL, NULL, err, errlen) != 0) {
                    size_t used = strlen(err);
                    snprintf(err + used, errlen - (int)used,
                             " fetching %s (apt lists current? run apt-get update; a version "
                             "gone from the mirror needs a new manifest row)",
                             spec);
                    return -1;
                }
            } else {
                snprintf(spec, sizeof spec, "%s@%s", s->package, s->version);
                char *argv[] = {"npm", "pack", "--silent", spec, NULL};
                if (spawn_run(argv, o->cache, "/dev/null", NULL, err, errlen) != 0) return -1;
            }
            if (!file_exists(path)) {
                snprintf(err, errlen, "%s: download of %s %s did not produce %s", s->id, s->package,
                         s->version, path);
                return -1;
            }
            downloaded++;
        }
        if (verify(s, path, err, errlen) != 0) return -1;
    }
    printf("fetch: %d sources verified (%d downloaded)\n", n, downloaded);
    return 0;
}

/* ---- extract ---------------------------------------------------------------------------- */

static void text_stamp(const Options *o, char *out, size_t cap)
{
    char hex[65] = "unreadable", err[256];
    sha256_file_hex(o->manifest, hex, err, sizeof err);
    snprintf(out, cap, "extract v%d manifest %s val_permille %d", EXTRACT_VERSION, hex,
             o->val_permille);
}

static int extract_all(const Options *o, const Source *sources, int n, Corpus *c, char *err,
                       int errlen)
{
    corpus_init(c, o->val_permille);
    for (int i = 0; i < n; i++)
        corpus_add_source(c, sources[i].id, sources[i].domain);
    for (int i = 0; i < n; i++) {
        const Source *s = &sources[i];
        double t0 = now_seconds();
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", o->cache, s->file);
        MemberList files;
        if (archive_read_members(path, s, &files, err, errlen) != 0) return -1;
        uint64_t before = c->sources[i].bytes_kept;
        int rc = extract_source(c, i, s, &files, err, errlen);
        member_list_free(&files);
        if (rc != 0) {
            size_t used = strlen(err);
            snprintf(err + used, errlen - (int)used, " (source %s, %s)", s->id, path);
            return -1;
        }
        const SourceStats *st = &c->sources[i];
        printf("  extract %-5s %-10s %-32s %10.2f MB kept, %7llu paragraphs, %6llu duplicates "
               "(%.1f s)\n",
               s->id, domain_name(s->domain), s->package, (st->bytes_kept - before) / 1e6,
               (unsigned long long)st->paragraphs_kept, (unsigned long long)st->duplicates,
               now_seconds() - t0);
        fflush(stdout);
    }
    /* every domain must be in the validation split */
    for (int d = 0; d < DOMAIN_COUNT; d++) {
        size_t val_docs = 0;
        for (size_t k = 0; k < c->n_docs; k++)
            val_docs += c->docs[k].domain == (Domain)d && c->docs[k].split == SPLIT_VAL;
        if (val_docs == 0) {
            snprintf(err, errlen,
                     "no %s document fell in the validation split (raise "
                     "--val-permille)",
                     domain_name((Domain)d));
            return -1;
        }
    }
    return corpus_write(c, o->out, err, errlen);
}

/* Loads the corpus from out/text, extracting first when the text stamp is stale. */
static int ensure_text(const Options *o, const Source *sources, int n, Corpus *c, char *err,
                       int errlen)
{
    char stamp[512], stamp_path[1024];
    text_stamp(o, stamp, sizeof stamp);
    snprintf(stamp_path, sizeof stamp_path, "%s/text/STAMP", o->out);
    if (!o->force && stamp_matches(stamp_path, stamp)) {
        corpus_init(c, o->val_permille);
        printf("extract: up to date (%s)\n", stamp_path);
        return corpus_read(c, o->out, err, errlen);
    }
    if (fetch_all(o, sources, n, err, errlen) != 0) return -1;
    printf("extract: %d sources -> %s/text\n", n, o->out);
    double t0 = now_seconds();
    remove(stamp_path);
    if (extract_all(o, sources, n, c, err, errlen) != 0) return -1;
    printf("extract: %zu documents in %.1f s\n", c->n_docs, now_seconds() - t0);
    return stamp_write(stamp_path, stamp, err, errlen);
}

/* The researcher's own text (--text): read again on every build (reading is quick; the text
 * fingerprint keeps BPE and shards from being redone when the text did not change). A problem
 * with the text itself sets *bad_input. */
static int ensure_own_text(const Options *o, const Source *own, Corpus *c, int *bad_input, char *err, int errlen)
{
    corpus_init(c, o->val_permille);
    corpus_add_source(c, own->id, own->domain);
    double t0 = now_seconds();
    int n_files;
    /* On failure the corpus is freed here: the caller keeps only a corpus that was built. */
    if (own_corpus_read(c, 0, o->text_path, &n_files, err, errlen) != 0) {
        *bad_input = 1;
        corpus_free(c);
        return -1;
    }
    size_t in_split[SPLIT_COUNT] = {0};
    for (size_t k = 0; k < c->n_docs; k++) in_split[c->docs[k].split]++;
    const SourceStats *st = &c->sources[0];
    printf("extract: %s: %d files, %.2f MB kept, %llu paragraphs, %llu duplicates dropped, %zu train and %zu "
           "validation documents (%.1f s)\n",
           o->text_path, n_files, st->bytes_kept / 1e6, (unsigned long long)st->paragraphs_kept,
           (unsigned long long)st->duplicates, in_split[SPLIT_TRAIN], in_split[SPLIT_VAL], now_seconds() - t0);
    if (in_split[SPLIT_TRAIN] == 0 || in_split[SPLIT_VAL] == 0) {
        snprintf(err, errlen,
                 "%s: %zu documents of ~%d KB: none fell in the %s split (give more text, or change "
                 "--val-permille)",
                 o->text_path, c->n_docs, CORPUS_DOC_TARGET_BYTES / 1024,
                 in_split[SPLIT_VAL] == 0 ? "validation" : "training");
        *bad_input = 1;
        corpus_free(c);
        return -1;
    }
    int rc = corpus_write(c, o->out, err, errlen);
    if (rc) corpus_free(c);
    return rc;
}

/* ---- BPE, shards, tasks ------------------------------------------------------------------ */

/* The fingerprint of the extracted text, computed once per run (the text does not change after
 * ensure_text); later steps' stamps record it so a changed text rebuilds them. */
static int text_fingerprint(const Options *o, char *out, size_t cap, char *err, int errlen)
{
    static char cached[80];
    if (!cached[0] && corpus_text_fingerprint(o->out, cached, sizeof cached, err, errlen) != 0)
        return -1;
    snprintf(out, cap, "%s", cached);
    return 0;
}

static int ensure_bpe(const Options *o, int vocab, char *err, int errlen)
{
    char dir[1024], stamp_path[1100], stamp[1024], text[512];
    if (text_fingerprint(o, text, sizeof text, err, errlen) != 0) return -1;
    snprintf(dir, sizeof dir, "%s/bpe%d", o->out, vocab);
    snprintf(stamp_path, sizeof stamp_path, "%s/MODEL_STAMP", dir);
    snprintf(stamp, sizeof stamp, "%s | bpe %d sample %ld seed 1", text, vocab, o->bpe_sample);
    if (!o->force && stamp_matches(stamp_path, stamp)) {
        printf("bpe%d: model up to date\n", vocab);
        return 0;
    }
    if (fs_mkdirs(dir, err, errlen) != 0) return -1;
    remove(stamp_path);
    char inputs[DOMAIN_COUNT][1100];
    const char *input_ptrs[DOMAIN_COUNT];
    for (int d = 0; d < DOMAIN_COUNT; d++) {
        snprintf(inputs[d], sizeof inputs[d], "%s/text/train/%s.txt", o->out,
                 domain_name((Domain)d));
        input_ptrs[d] = inputs[d];
    }
    printf("bpe%d: training sentencepiece on the train split (%ld sampled lines, %d threads)\n",
           vocab, o->bpe_sample, o->jobs);
    fflush(stdout);
    double t0 = now_seconds();
    if (bpe_train(input_ptrs, DOMAIN_COUNT, dir, vocab, o->bpe_sample, o->jobs, err, errlen) != 0)
        return -1;
    printf("bpe%d: trained in %.1f s\n", vocab, now_seconds() - t0);
    return stamp_write(stamp_path, stamp, err, errlen);
}

static int ensure_shards(const Options *o, const Corpus *c, const char *tokenizer, char *err,
                         int errlen)
{
    char dir[1024], stamp_path[1100], stamp[1200], text[512], model_hash[65] = "none";
    if (text_fingerprint(o, text, sizeof text, err, errlen) != 0) return -1;
    snprintf(dir, sizeof dir, "%s/%s", o->out, tokenizer);
    if (strcmp(tokenizer, "byte") != 0) {
        char model[1100];
        snprintf(model, sizeof model, "%s/tokenizer.model", dir);
        if (sha256_file_hex(model, model_hash, err, errlen) != 0) return -1;
    }
    snprintf(stamp_path, sizeof stamp_path, "%s/SHARDS_STAMP", dir);
    snprintf(stamp, sizeof stamp, "%s | shards v%d %s model %s", text, SHARDS_VERSION, tokenizer,
             model_hash);
    if (!o->force && stamp_matches(stamp_path, stamp)) {
        printf("%s: shards up to date\n", tokenizer);
        return 0;
    }
    if (fs_mkdirs(dir, err, errlen) != 0) return -1;
    remove(stamp_path);
    printf("%s: encoding %zu documents\n", tokenizer, c->n_docs);
    fflush(stdout);
    double t0 = now_seconds();
    if (build_shards(c, o->out, tokenizer, o->jobs, err, errlen) != 0) return -1;
    printf("%s: shards written in %.1f s\n", tokenizer, now_seconds() - t0);
    return stamp_write(stamp_path, stamp, err, errlen);
}

static int ensure_tasks(const Options *o, const Corpus *c, const Source *sources, int n, char *err,
                        int errlen)
{
    char stamp_path[1100], stamp[1024], text[512], dir[1024];
    if (text_fingerprint(o, text, sizeof text, err, errlen) != 0) return -1;
    snprintf(dir, sizeof dir, "%s/tasks", o->out);
    snprintf(stamp_path, sizeof stamp_path, "%s/STAMP", dir);
    snprintf(stamp, sizeof stamp, "%s | tasks v%d", text, TASKS_VERSION);
    if (!o->force && stamp_matches(stamp_path, stamp)) {
        printf("tasks: up to date\n");
        return 0;
    }
    if (fs_mkdirs(dir, err, errlen) != 0) return -1;
    remove(stamp_path);
    TaskCounts counts;
    if (build_tasks(c, sources, n, o->out, &counts, err, errlen) != 0) return -1;
    printf("tasks: %ld cloze, %ld next sentence, %ld definition items\n", counts.cloze,
           counts.next_sentence, counts.definition);
    return stamp_write(stamp_path, stamp, err, errlen);
}

/* ---- wrap: nanoGPT's headerless uint16 files into dlcm shards ---------------------------- */

/* Reads a raw file of little-endian uint16 tokens (nanoGPT's prepare.py output), checks that it
 * is whole tokens all below vocab, and writes it as a dlcm shard with that tokenizer id. A raw
 * file carries nothing that identifies it, so it is never read directly: this step is where
 * its tokenizer and vocabulary are stated. 0, 1 on a write failure, 2 on bad input. */
static int wrap_raw(const char *in, const char *out, const char *tokenizer, long vocab, long eot)
{
    FILE *f = fopen(in, "rb");
    if (!f) {
        fprintf(stderr, "dlcm-data wrap: %s: cannot open: %s\n", in, strerror(errno));
        return 2;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size <= 0 || st.st_size % 2 != 0) {
        fprintf(stderr, "dlcm-data wrap: %s: %lld bytes: not a whole number of uint16 tokens\n", in,
                (long long)st.st_size);
        fclose(f);
        return 2;
    }
    uint64_t count = (uint64_t)st.st_size / 2;
    uint16_t *tokens = malloc((size_t)st.st_size);
    if (!tokens || fread(tokens, 2, (size_t)count, f) != count) {
        fprintf(stderr, "dlcm-data wrap: %s: cannot read\n", in);
        free(tokens);
        fclose(f);
        return tokens ? 2 : 1;
    }
    fclose(f);
    if (count >= 256) {
        /* llm.c's header read as tokens would pass the range check: refuse it by name. */
        uint32_t magic = (uint32_t)tokens[0] | (uint32_t)tokens[1] << 16;
        if (magic == 20240520u) {
            fprintf(stderr, "dlcm-data wrap: %s is an llm.c shard (magic 20240520): the trainer reads it as it "
                            "is; no wrapping needed\n", in);
            free(tokens);
            return 2;
        }
    }
    for (uint64_t i = 0; i < count; i++)
        if (tokens[i] >= vocab) {
            fprintf(stderr, "dlcm-data wrap: %s: token %llu is %u, not below --vocab %ld: not %s tokens\n", in,
                    (unsigned long long)i, tokens[i], vocab, tokenizer);
            free(tokens);
            return 2;
        }
    char err[512];
    int rc = shard_write(out, tokens, count, (uint32_t)vocab, tokenizer, (uint32_t)eot, err, sizeof err);
    free(tokens);
    if (rc) {
        fprintf(stderr, "dlcm-data wrap: %s\n", err);
        return 1;
    }
    printf("dlcm-data wrap: %s -> %s (%llu %s tokens, vocabulary %ld)\n", in, out, (unsigned long long)count,
           tokenizer, vocab);
    return 0;
}

/* ---- command line ------------------------------------------------------------------------ */

static int parse_sizes(const char *arg, Options *o)
{
    o->n_bpe_sizes = 0;
    if (strcmp(arg, "none") == 0) return 0; /* bytes only */
    const char *p = arg;
    while (*p && o->n_bpe_sizes < 8) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (v != 4096 && v != 8192 && v != 16384)) return -1;
        o->bpe_sizes[o->n_bpe_sizes++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return o->n_bpe_sizes > 0 ? 0 : -1;
}

static int parse_int(const char *flag, const char *value, long lo, long hi, long *out)
{
    char *end;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || *end || v < lo || v > hi) {
        fprintf(stderr, "dlcm-data: %s needs an integer in %ld..%ld\n", flag, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    Options o = {"data/sources.tsv", "data/cache", "data/out", 30, 2, 300000, {4096}, 1, 0, NULL, DOMAIN_LITERATURE};
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *command = argv[1];
    if (!strcmp(command, "-h") || !strcmp(command, "--help") || !strcmp(command, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(command, "--version")) {
        cli_print_version(stdout, "dlcm-data");
        return 0;
    }
    static const char *const commands[] = {"fetch", "extract", "bpe",   "shards", "tasks",
                                           "report", "build",  "wrap", NULL};
    int known = 0;
    for (int k = 0; commands[k]; k++)
        known |= !strcmp(command, commands[k]);
    if (!known) {
        /* Even with --help after it: an unknown command is an error. */
        fprintf(stderr, "dlcm-data: unknown command %s (see --help)\n", command);
        return 2;
    }
    enum { OPT_MANIFEST = 1000, OPT_CACHE, OPT_OUT, OPT_BPE, OPT_VAL, OPT_SAMPLE, OPT_JOBS, OPT_FORCE, OPT_HELP,
           OPT_VERSION, OPT_TOKENIZER, OPT_VOCAB, OPT_EOT, OPT_TEXT, OPT_DOMAIN };
    int out_given = 0;
    const char *wrap_tokenizer = "gpt2";
    long wrap_vocab = 50257, wrap_eot = 50256;
    int wrap = !strcmp(command, "wrap");
    static const struct option options[] = {
        {"manifest", required_argument, NULL, OPT_MANIFEST}, {"cache", required_argument, NULL, OPT_CACHE},
        {"out", required_argument, NULL, OPT_OUT},           {"bpe", required_argument, NULL, OPT_BPE},
        {"val-permille", required_argument, NULL, OPT_VAL},  {"bpe-sample", required_argument, NULL, OPT_SAMPLE},
        {"jobs", required_argument, NULL, OPT_JOBS},         {"force", no_argument, NULL, OPT_FORCE},
        {"help", no_argument, NULL, OPT_HELP},               {"version", no_argument, NULL, OPT_VERSION},
        {"tokenizer", required_argument, NULL, OPT_TOKENIZER}, {"vocab", required_argument, NULL, OPT_VOCAB},
        {"eot", required_argument, NULL, OPT_EOT},            {"text", required_argument, NULL, OPT_TEXT},
        {"domain", required_argument, NULL, OPT_DOMAIN},      {NULL, 0, NULL, 0}};
    optind = 2;
    opterr = 0;
    int code;
    long n;
    while ((code = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (code) {
        case 'h':
        case OPT_HELP: usage(stdout); return 0;
        case OPT_VERSION: cli_print_version(stdout, "dlcm-data"); return 0;
        case OPT_FORCE: o.force = 1; break;
        case OPT_MANIFEST: o.manifest = optarg; break;
        case OPT_CACHE: o.cache = optarg; break;
        case OPT_OUT: o.out = optarg; out_given = 1; break;
        case OPT_TEXT: o.text_path = optarg; break;
        case OPT_DOMAIN: {
            int d = domain_parse(optarg);
            if (d < 0) {
                fprintf(stderr, "dlcm-data: --domain is literature, dictionary or technical (got '%s')\n", optarg);
                return 2;
            }
            o.text_domain = (Domain)d;
            break;
        }
        case OPT_BPE:
            if (parse_sizes(optarg, &o) != 0) {
                fprintf(stderr, "dlcm-data: --bpe takes 4096, 8192 or 16384 (comma-separated), or none\n");
                return 2;
            }
            break;
        case OPT_VAL:
            if (parse_int("--val-permille", optarg, 1, 500, &n) != 0) return 2;
            o.val_permille = (int)n;
            break;
        case OPT_SAMPLE:
            if (parse_int("--bpe-sample", optarg, 1000, 100000000, &n) != 0) return 2;
            o.bpe_sample = n;
            break;
        case OPT_JOBS:
            if (parse_int("--jobs", optarg, 1, 8, &n) != 0) return 2;
            o.jobs = (int)n;
            break;
        case OPT_TOKENIZER:
        case OPT_VOCAB:
        case OPT_EOT:
            if (!wrap) {
                fprintf(stderr, "dlcm-data %s: %s is an option of wrap only\n", command, argv[optind - 1]);
                return 2;
            }
            if (code == OPT_TOKENIZER) {
                if (!optarg[0] || strlen(optarg) > SHARD_TOKENIZER_ID_LEN) {
                    fprintf(stderr, "dlcm-data wrap: --tokenizer needs 1..%d characters\n", SHARD_TOKENIZER_ID_LEN);
                    return 2;
                }
                wrap_tokenizer = optarg;
            } else if (parse_int(code == OPT_VOCAB ? "--vocab" : "--eot", optarg, code == OPT_VOCAB ? 2 : 0, 65535 + (code == OPT_VOCAB),
                                 code == OPT_VOCAB ? &wrap_vocab : &wrap_eot) != 0)
                return 2;
            break;
        case ':':
            fprintf(stderr, "dlcm-data %s: %s needs a value (see --help)\n", command, argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "dlcm-data %s: unknown option %s (see --help)\n", command, argv[optind - 1]);
            return 2;
        }
    }
    if (wrap) {
        if (argc - optind != 2) {
            fprintf(stderr, "usage: dlcm-data wrap RAW.bin SHARD.bin [--tokenizer gpt2] [--vocab 50257] [--eot 50256]\n");
            return 2;
        }
        if (wrap_eot >= wrap_vocab) {
            fprintf(stderr, "dlcm-data wrap: --eot %ld is not below --vocab %ld\n", wrap_eot, wrap_vocab);
            return 2;
        }
        return wrap_raw(argv[optind], argv[optind + 1], wrap_tokenizer, wrap_vocab, wrap_eot);
    }
    if (optind < argc) {
        fprintf(stderr, "dlcm-data %s: unexpected argument %s (see --help)\n", command, argv[optind]);
        return 2;
    }

    char err[2048] = "";
    Source *sources = NULL;
    int n_sources = 0, bad_input = 0;
    if (o.text_path) {
        /* Own text: its own output directory, never the project's corpus by default. */
        if (!out_given || !strcmp(command, "fetch")) {
            fprintf(stderr, "dlcm-data: --text needs --out DIR (where its corpus goes) and a command other than "
                            "fetch\nusage: dlcm-data build --text FOLDER_OR_FILE --out DIR [--bpe 4096|none]\n");
            return 2;
        }
        sources = calloc(1, sizeof *sources);
        if (!sources) return 1;
        own_corpus_source(o.text_path, o.text_domain, sources);
        n_sources = 1;
    } else if (manifest_read(o.manifest, &sources, &n_sources, err, sizeof err) != 0) {
        fprintf(stderr, "dlcm-data: %s\n", err);
        return 2; /* a missing or malformed manifest is bad input */
    }
    double t0 = now_seconds();
    int rc = 0;
    Corpus corpus;
    int have_corpus = 0;
    int all = !strcmp(command, "build");
    if (!strcmp(command, "fetch")) {
        rc = fetch_all(&o, sources, n_sources, err, sizeof err);
    } else {
        if (!strcmp(command, "extract")) o.force = 1;
        rc = o.text_path ? ensure_own_text(&o, sources, &corpus, &bad_input, err, sizeof err)
                         : ensure_text(&o, sources, n_sources, &corpus, err, sizeof err);
        if (!strcmp(command, "extract")) o.force = 0;
        have_corpus = rc == 0;
        if (rc == 0 && (all || !strcmp(command, "bpe")))
            for (int k = 0; rc == 0 && k < o.n_bpe_sizes; k++)
                rc = ensure_bpe(&o, o.bpe_sizes[k], err, sizeof err);
        if (rc == 0 && (all || !strcmp(command, "shards"))) {
            rc = ensure_shards(&o, &corpus, "byte", err, sizeof err);
            for (int k = 0; rc == 0 && k < o.n_bpe_sizes; k++) {
                char id[32];
                snprintf(id, sizeof id, "bpe%d", o.bpe_sizes[k]);
                rc = ensure_shards(&o, &corpus, id, err, sizeof err);
            }
        }
        if (rc == 0 && (all || !strcmp(command, "tasks")))
            rc = ensure_tasks(&o, &corpus, sources, n_sources, err, sizeof err);
        if (rc == 0 && (all || !strcmp(command, "report")))
            rc = write_report(&corpus, sources, n_sources, o.out, err, sizeof err);
    }
    if (have_corpus) corpus_free(&corpus);
    free(sources);
    if (rc != 0) {
        fprintf(stderr, "dlcm-data %s: %s\n", command, err);
        return bad_input ? 2 : 1;
    }
    printf("dlcm-data %s: done in %.1f s\n", command, now_seconds() - t0);
    return 0;
}
