/* data/corpus.c: document assembly, cross-source paragraph dedup, the train/validation split,
 * and the text files under data/out/text/ that later steps (tokenizers, tasks) read back. */
#include "data/corpus.h"

#include "data/sha256.h"
#include "util/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *domain_names[DOMAIN_COUNT] = {"literature", "dictionary", "technical"};
static const char *split_names[SPLIT_COUNT] = {"train", "val"};

const char *domain_name(Domain d) { return domain_names[d]; }
const char *split_name(Split s) { return split_names[s]; }

int domain_parse(const char *name)
{
    for (int d = 0; d < DOMAIN_COUNT; d++)
        if (strcmp(name, domain_names[d]) == 0) return d;
    return -1;
}

Split split_of(const char *doc_id, int val_permille)
{
    uint64_t h = text_hash64(doc_id, strlen(doc_id));
    return (int)(h % 1000) < val_permille ? SPLIT_VAL : SPLIT_TRAIN;
}

void corpus_init(Corpus *c, int val_permille)
{
    memset(c, 0, sizeof *c);
    c->val_permille = val_permille;
    c->unit_source = -1;
}

void corpus_free(Corpus *c)
{
    if (!c->storage_blocks)
        for (size_t i = 0; i < c->n_docs; i++)
            free(c->docs[i].text);
    for (size_t i = 0; i < c->n_docs; i++)
        free(c->docs[i].id);
    for (size_t i = 0; i < c->n_storage; i++)
        free(c->storage_blocks[i]);
    free(c->storage_blocks);
    free(c->docs);
    free(c->seen);
    free(c->doc_ids);
    buf_free(&c->unit_text);
    memset(c, 0, sizeof *c);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "dlcm-data: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return q;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fprintf(stderr, "dlcm-data: out of memory\n");
        exit(1);
    }
    return d;
}

int corpus_add_source(Corpus *c, const char *id, Domain domain)
{
    if (c->n_sources == CORPUS_MAX_SOURCES) {
        fprintf(stderr, "dlcm-data: more than %d sources\n", CORPUS_MAX_SOURCES);
        exit(1);
    }
    SourceStats *s = &c->sources[c->n_sources];
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    s->domain = domain;
    return c->n_sources++;
}

/* Inserts hash into a set of 64-bit hashes; returns 1 when it was already there. */
static int hash_set_insert(uint64_t **table_ptr, size_t *cap_ptr, size_t *count_ptr, uint64_t hash)
{
    if (hash == 0) hash = 1; /* 0 marks an empty slot */
    if ((*count_ptr + 1) * 2 > *cap_ptr) {
        size_t cap = *cap_ptr ? *cap_ptr * 2 : 1 << 16;
        uint64_t *table = calloc(cap, sizeof *table);
        if (!table) {
            fprintf(stderr, "dlcm-data: out of memory for the dedup set\n");
            exit(1);
        }
        for (size_t i = 0; i < *cap_ptr; i++) {
            uint64_t v = (*table_ptr)[i];
            if (!v) continue;
            size_t j = v & (cap - 1);
            while (table[j])
                j = (j + 1) & (cap - 1);
            table[j] = v;
        }
        free(*table_ptr);
        *table_ptr = table;
        *cap_ptr = cap;
    }
    uint64_t *table = *table_ptr;
    size_t j = hash & (*cap_ptr - 1);
    while (table[j]) {
        if (table[j] == hash) return 1;
        j = (j + 1) & (*cap_ptr - 1);
    }
    table[j] = hash;
    (*count_ptr)++;
    return 0;
}

static int seen_before(Corpus *c, uint64_t hash)
{
    return hash_set_insert(&c->seen, &c->seen_cap, &c->seen_count, hash);
}

static void flush_document(Corpus *c)
{
    if (c->unit_paragraphs == 0) return;
    if (c->n_docs == c->cap_docs) {
        c->cap_docs = c->cap_docs ? c->cap_docs * 2 : 4096;
        c->docs = xrealloc(c->docs, c->cap_docs * sizeof *c->docs);
    }
    Doc *d = &c->docs[c->n_docs++];
    char id[700];
    snprintf(id, sizeof id, "%s/%s#%d", c->sources[c->unit_source].id, c->unit_name, c->unit_chunk);
    /* a unit name fed twice (e.g. dictionary initials out of order) must not repeat an id */
    for (int again = 1; hash_set_insert(&c->doc_ids, &c->doc_ids_cap, &c->doc_ids_count,
                                        text_hash64(id, strlen(id)));
         again++)
        snprintf(id, sizeof id, "%s/%s#%d+%d", c->sources[c->unit_source].id, c->unit_name,
                 c->unit_chunk, again);
    d->id = xstrdup(id);
    d->source = c->unit_source;
    d->domain = c->sources[c->unit_source].domain;
    d->split = split_of(d->id, c->val_permille);
    d->text = xstrdup(c->unit_text.data);
    d->len = c->unit_text.len;
    d->paragraphs = c->unit_paragraphs;
    c->unit_chunk++;
    buf_clear(&c->unit_text);
    c->unit_paragraphs = 0;
}

void corpus_begin_unit(Corpus *c, int source, const char *unit_name)
{
    if (c->unit_source >= 0) corpus_end_unit(c);
    c->unit_source = source;
    /* ids are one token in docs.tsv: no tabs, newlines or spaces */
    snprintf(c->unit_name, sizeof c->unit_name, "%s", unit_name);
    for (char *p = c->unit_name; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == ' ' || *p == '#') *p = '_';
    c->unit_chunk = 0;
    buf_clear(&c->unit_text);
    c->unit_paragraphs = 0;
}

void corpus_add_paragraph(Corpus *c, const char *text, size_t len)
{
    if (c->unit_source < 0) return;
    SourceStats *s = &c->sources[c->unit_source];
    char *copy = malloc(len + 1);
    if (!copy) {
        fprintf(stderr, "dlcm-data: out of memory\n");
        exit(1);
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    size_t n = text_normalize_paragraph(copy, len);
    if (n == 0) {
        free(copy);
        return;
    }
    s->paragraphs_in++;
    if (seen_before(c, text_hash64(copy, n))) {
        s->duplicates++;
        free(copy);
        return;
    }
    if (c->unit_paragraphs > 0) buf_putc(&c->unit_text, '\n');
    buf_append(&c->unit_text, copy, n);
    c->unit_paragraphs++;
    s->paragraphs_kept++;
    s->bytes_kept += n;
    free(copy);
    if (c->unit_text.len >= CORPUS_DOC_TARGET_BYTES) flush_document(c);
}

void corpus_end_unit(Corpus *c)
{
    if (c->unit_source < 0) return;
    flush_document(c);
    c->unit_source = -1;
}

int corpus_write(const Corpus *c, const char *dir, char *err, int errlen)
{
    char path[1024];
    /* Every file is written beside and renamed into place: a crash never leaves half a corpus. */
    FsReplace files[SPLIT_COUNT][DOMAIN_COUNT];
    for (int s = 0; s < SPLIT_COUNT; s++)
        for (int d = 0; d < DOMAIN_COUNT; d++) files[s][d].f = NULL;
    for (int s = 0; s < SPLIT_COUNT; s++) {
        snprintf(path, sizeof path, "%s/text/%s", dir, split_names[s]);
        if (fs_mkdirs(path, err, errlen) != 0) goto fail;
        for (int d = 0; d < DOMAIN_COUNT; d++) {
            snprintf(path, sizeof path, "%s/text/%s/%s.txt", dir, split_names[s], domain_names[d]);
            if (fs_replace_open(&files[s][d], path, err, errlen) != 0) goto fail;
        }
    }
    FsReplace index;
    snprintf(path, sizeof path, "%s/text/docs.tsv", dir);
    if (fs_replace_open(&index, path, err, errlen) != 0) goto fail;
    fprintf(index.f, "# doc_id\tsource\tdomain\tsplit\tbytes\tparagraphs\n");
    for (size_t i = 0; i < c->n_docs; i++) {
        const Doc *d = &c->docs[i];
        fprintf(index.f, "%s\t%s\t%s\t%s\t%zu\t%u\n", d->id, c->sources[d->source].id,
                domain_names[d->domain], split_names[d->split], d->len, d->paragraphs);
        FILE *f = files[d->split][d->domain].f;
        fwrite(d->text, 1, d->len, f);
        fputs("\n\n", f);
    }
    if (fs_replace_commit(&index, err, errlen) != 0) goto fail;
    for (int s = 0; s < SPLIT_COUNT; s++)
        for (int d = 0; d < DOMAIN_COUNT; d++)
            if (fs_replace_commit(&files[s][d], err, errlen) != 0) goto fail;
    FsReplace src;
    snprintf(path, sizeof path, "%s/text/sources.tsv", dir);
    if (fs_replace_open(&src, path, err, errlen) != 0) return -1;
    fprintf(src.f, "# source\tdomain\tparagraphs_in\tparagraphs_kept\tduplicates\tbytes_kept\n");
    for (int i = 0; i < c->n_sources; i++) {
        const SourceStats *s = &c->sources[i];
        fprintf(src.f, "%s\t%s\t%llu\t%llu\t%llu\t%llu\n", s->id, domain_names[s->domain],
                (unsigned long long)s->paragraphs_in, (unsigned long long)s->paragraphs_kept,
                (unsigned long long)s->duplicates, (unsigned long long)s->bytes_kept);
    }
    return fs_replace_commit(&src, err, errlen);
fail:
    for (int s = 0; s < SPLIT_COUNT; s++)
        for (int d = 0; d < DOMAIN_COUNT; d++)
            if (files[s][d].f) fs_replace_abort(&files[s][d]);
    return -1;
}

/* A corpus file, whole; its absence means the extraction has not run. */
static char *read_whole_file(const char *path, size_t *len, char *err, int errlen)
{
    char inner[1200];
    char *data = fs_read_file(path, (size_t)1 << 40, len, inner, sizeof inner);
    if (!data) snprintf(err, errlen, "%s (run dlcm-data extract first)", inner);
    return data;
}

static int find_source(Corpus *c, const char *id, Domain domain)
{
    for (int i = 0; i < c->n_sources; i++)
        if (strcmp(c->sources[i].id, id) == 0) return i;
    return corpus_add_source(c, id, domain);
}

int corpus_read(Corpus *c, const char *dir, char *err, int errlen)
{
    char path[1024];
    size_t len;
    /* sources.tsv first, so source indices follow the manifest order */
    snprintf(path, sizeof path, "%s/text/sources.tsv", dir);
    char *sources = read_whole_file(path, &len, err, errlen);
    if (!sources) return -1;
    int line_no = 0;
    for (char *line = strtok(sources, "\n"); line; line = strtok(NULL, "\n")) {
        line_no++;
        if (line[0] == '#') continue;
        char id[32], domain[32];
        unsigned long long in, kept, dups, bytes;
        if (sscanf(line, "%31s %31s %llu %llu %llu %llu", id, domain, &in, &kept, &dups, &bytes) !=
                6 ||
            domain_parse(domain) < 0) {
            snprintf(err, errlen, "%s: line %d: malformed", path, line_no);
            free(sources);
            return -1;
        }
        int s = find_source(c, id, (Domain)domain_parse(domain));
        c->sources[s].paragraphs_in = in;
        c->sources[s].paragraphs_kept = kept;
        c->sources[s].duplicates = dups;
        c->sources[s].bytes_kept = bytes;
    }
    free(sources);

    c->storage_blocks = calloc(SPLIT_COUNT * DOMAIN_COUNT, sizeof *c->storage_blocks);
    size_t cursor[SPLIT_COUNT][DOMAIN_COUNT] = {{0}}, sizes[SPLIT_COUNT][DOMAIN_COUNT];
    char text_paths[SPLIT_COUNT][DOMAIN_COUNT][1024];
    for (int s = 0; s < SPLIT_COUNT; s++)
        for (int d = 0; d < DOMAIN_COUNT; d++) {
            snprintf(text_paths[s][d], sizeof text_paths[s][d], "%s/text/%s/%s.txt", dir,
                     split_names[s], domain_names[d]);
            char *data = read_whole_file(text_paths[s][d], &sizes[s][d], err, errlen);
            if (!data) return -1;
            c->storage_blocks[c->n_storage++] = data;
        }
    snprintf(path, sizeof path, "%s/text/docs.tsv", dir);
    char *index = read_whole_file(path, &len, err, errlen);
    if (!index) return -1;
    line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(index, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        if (line[0] == '#') continue;
        char id[700], source[32], domain[32], split[16];
        size_t bytes;
        unsigned paragraphs;
        int dom, spl = -1;
        if (sscanf(line, "%699s %31s %31s %15s %zu %u", id, source, domain, split, &bytes,
                   &paragraphs) != 6 ||
            (dom = domain_parse(domain)) < 0 ||
            (spl = strcmp(split, "train") == 0 ? 0
                   : strcmp(split, "val") == 0 ? 1
                                               : -1) < 0) {
            snprintf(err, errlen,
                     "%s: line %d: malformed (fields: id source domain split bytes "
                     "paragraphs)",
                     path, line_no);
            free(index);
            return -1;
        }
        char *block = c->storage_blocks[spl * DOMAIN_COUNT + dom];
        size_t at = cursor[spl][dom];
        if (at + bytes + 2 > sizes[spl][dom] || block[at + bytes] != '\n' ||
            block[at + bytes + 1] != '\n') {
            snprintf(err, errlen,
                     "%s: line %d: document %s (%zu bytes) does not match %s at "
                     "offset %zu",
                     path, line_no, id, bytes, text_paths[spl][dom], at);
            free(index);
            return -1;
        }
        block[at + bytes] = '\0';
        cursor[spl][dom] = at + bytes + 2;
        if (c->n_docs == c->cap_docs) {
            c->cap_docs = c->cap_docs ? c->cap_docs * 2 : 4096;
            c->docs = xrealloc(c->docs, c->cap_docs * sizeof *c->docs);
        }
        Doc *doc = &c->docs[c->n_docs++];
        doc->id = xstrdup(id);
        doc->source = find_source(c, source, (Domain)dom);
        doc->domain = (Domain)dom;
        doc->split = (Split)spl;
        doc->text = block + at;
        doc->len = bytes;
        doc->paragraphs = paragraphs;
    }
    free(index);
    return 0;
}

int corpus_text_fingerprint(const char *dir, char *out, size_t cap, char *err, int errlen)
{
    Sha256 h;
    sha256_init(&h);
    char path[1024];
    static unsigned char buffer[1 << 16];
    for (int k = 0; k < 1 + SPLIT_COUNT * DOMAIN_COUNT; k++) {
        if (k == 0)
            snprintf(path, sizeof path, "%s/text/docs.tsv", dir);
        else
            snprintf(path, sizeof path, "%s/text/%s/%s.txt", dir,
                     split_names[(k - 1) / DOMAIN_COUNT], domain_names[(k - 1) % DOMAIN_COUNT]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            return -1;
        }
        size_t n;
        while ((n = fread(buffer, 1, sizeof buffer, f)) > 0)
            sha256_update(&h, buffer, n);
        fclose(f);
    }
    char hex[65];
    sha256_final_hex(&h, hex);
    snprintf(out, cap, "text %s", hex);
    return 0;
}
