/* data/build_shards.c: encodes every document (paragraphs joined by the newline token, then
 * end-of-text) and writes train.bin (fixed shuffled order), val.bin and val-<domain>.bin. */
#include "data/build_shards.h"

#include "data/bpe.h"
#include "data/shard.h"
#include "util/fs.h"
#include "util/spawn.h"
#include "data/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* BPE encoding runs `jobs` spm_encode processes side by side on slices of the corpus. */

typedef struct {
    uint16_t *tokens;
    size_t count, cap;
    size_t *doc_start; /* n_docs + 1 offsets into tokens */
} Encoded;

static void push_token(Encoded *e, uint32_t id)
{
    if (e->count == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 1 << 20;
        uint16_t *grown = realloc(e->tokens, e->cap * sizeof *grown);
        if (!grown) {
            fprintf(stderr, "dlcm-data: out of memory for %zu tokens\n", e->cap);
            exit(1);
        }
        e->tokens = grown;
    }
    e->tokens[e->count++] = (uint16_t)id;
}

static void encode_bytes(const Corpus *c, Encoded *e)
{
    for (size_t d = 0; d < c->n_docs; d++) {
        e->doc_start[d] = e->count;
        const unsigned char *t = (const unsigned char *)c->docs[d].text;
        for (size_t i = 0; i < c->docs[d].len; i++)
            push_token(e, t[i]);
        push_token(e, 0);
    }
    e->doc_start[c->n_docs] = e->count;
}

static int encode_bpe(const Corpus *c, const char *out_dir, Tokenizer *tok, int jobs, Encoded *e,
                      char *err, int errlen)
{
    char model[1024];
    snprintf(model, sizeof model, "%s/%s/tokenizer.model", out_dir, tokenizer_id(tok));
    if (jobs < 1) jobs = 1;
    if (jobs > 8) jobs = 8;
    size_t slice_start[9];
    char in_paths[8][1100], out_paths[8][1100];
    int pids[8];
    /* slices of about equal bytes, cut at document boundaries */
    uint64_t total = 0, acc = 0;
    for (size_t d = 0; d < c->n_docs; d++)
        total += c->docs[d].len;
    slice_start[0] = 0;
    int slice = 1;
    for (size_t d = 0; d < c->n_docs && slice < jobs; d++) {
        acc += c->docs[d].len;
        if (acc * (uint64_t)jobs >= total * (uint64_t)slice) slice_start[slice++] = d + 1;
    }
    while (slice <= jobs)
        slice_start[slice++] = c->n_docs;
    for (int j = 0; j < jobs; j++) {
        snprintf(in_paths[j], sizeof in_paths[j], "%s/%s/encode-%d.txt", out_dir, tokenizer_id(tok),
                 j);
        snprintf(out_paths[j], sizeof out_paths[j], "%s/%s/encode-%d.ids", out_dir,
                 tokenizer_id(tok), j);
        FILE *f = fopen(in_paths[j], "wb");
        if (!f) {
            snprintf(err, errlen, "%s: cannot create: %s", in_paths[j], strerror(errno));
            return -1;
        }
        for (size_t d = slice_start[j]; d < slice_start[j + 1]; d++) {
            fwrite(c->docs[d].text, 1, c->docs[d].len, f);
            fputc('\n', f);
        }
        if (fclose(f) != 0) {
            snprintf(err, errlen, "%s: write failed", in_paths[j]);
            return -1;
        }
    }
    int rc = 0;
    for (int j = 0; j < jobs; j++) {
        pids[j] = bpe_encode_start(model, in_paths[j], out_paths[j], err, errlen);
        if (pids[j] < 0) rc = -1;
    }
    for (int j = 0; j < jobs; j++)
        if (pids[j] > 0 && spawn_wait(pids[j], "spm_encode", err, errlen) != 0) rc = -1;
    if (rc != 0) return -1;

    uint32_t newline_id = tokenizer_vocab(tok);
    for (uint32_t i = 0; i < tokenizer_vocab(tok) && newline_id == tokenizer_vocab(tok); i++) {
        char *piece = tokenizer_piece(tok, (int32_t)i);
        if (piece && strcmp(piece, BPE_NEWLINE_PIECE) == 0) newline_id = i;
        free(piece);
    }
    int32_t *ids = NULL;
    size_t n_ids = 0, cap_ids = 0;
    char *line = NULL;
    size_t line_cap = 0;
    for (int j = 0; j < jobs && rc == 0; j++) {
        FILE *f = fopen(out_paths[j], "r");
        if (!f) {
            snprintf(err, errlen, "%s: spm_encode wrote nothing: %s", out_paths[j],
                     strerror(errno));
            rc = -1;
            break;
        }
        long line_no = 0;
        for (size_t d = slice_start[j]; d < slice_start[j + 1] && rc == 0; d++) {
            e->doc_start[d] = e->count;
            for (uint32_t p = 0; p < c->docs[d].paragraphs; p++) {
                line_no++;
                n_ids = 0;
                if (getline(&line, &line_cap, f) < 0 ||
                    bpe_parse_id_line(line, tokenizer_vocab(tok), &ids, &n_ids, &cap_ids) < 0) {
                    snprintf(err, errlen, "%s: line %ld: missing or malformed ids", out_paths[j],
                             line_no);
                    rc = -1;
                    break;
                }
                if (p > 0) push_token(e, newline_id);
                for (size_t k = 0; k < n_ids; k++)
                    push_token(e, (uint32_t)ids[k]);
            }
            push_token(e, tokenizer_eot(tok));
        }
        fclose(f);
        unlink(in_paths[j]);
        unlink(out_paths[j]);
    }
    free(ids);
    free(line);
    e->doc_start[c->n_docs] = e->count;
    return rc;
}

/* Train documents go into train.bin in the order of a hash of their id: a fixed shuffle, so
 * sequential reading does not walk one source after another. */
typedef struct {
    uint64_t key;
    size_t doc;
} OrderKey;

static int compare_order(const void *a, const void *b)
{
    const OrderKey *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

static int write_selection(const Corpus *c, const Encoded *e, const size_t *docs, size_t n,
                           const char *path, Tokenizer *tok, char *err, int errlen)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += e->doc_start[docs[i] + 1] - e->doc_start[docs[i]];
    uint16_t *tokens = malloc((total ? total : 1) * sizeof *tokens);
    if (!tokens) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = e->doc_start[docs[i] + 1] - e->doc_start[docs[i]];
        memcpy(tokens + at, e->tokens + e->doc_start[docs[i]], len * sizeof *tokens);
        at += len;
    }
    int rc = shard_write(path, tokens, total, tokenizer_vocab(tok), tokenizer_id(tok),
                         tokenizer_eot(tok), err, errlen);
    free(tokens);
    if (rc == 0) printf("  wrote %s (%zu tokens)\n", path, total);
    return rc;
}

int build_shards(const Corpus *c, const char *out_dir, const char *tokenizer_id_str, int jobs,
                 char *err, int errlen)
{
    Tokenizer *tok = tokenizer_open(tokenizer_id_str, out_dir, err, errlen);
    if (!tok) return -1;
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/%s", out_dir, tokenizer_id_str);
    if (fs_mkdirs(dir, err, errlen) != 0) {
        tokenizer_close(tok);
        return -1;
    }
    Encoded e = {0};
    e.doc_start = calloc(c->n_docs + 1, sizeof *e.doc_start);
    size_t *selection = malloc((c->n_docs + 1) * sizeof *selection);
    OrderKey *order = malloc((c->n_docs + 1) * sizeof *order);
    int rc = 0;
    if (!e.doc_start || !selection || !order) {
        snprintf(err, errlen, "out of memory for %zu documents", c->n_docs);
        rc = -1;
    }
    if (rc == 0) {
        if (strcmp(tokenizer_id_str, "byte") == 0)
            encode_bytes(c, &e);
        else
            rc = encode_bpe(c, out_dir, tok, jobs, &e, err, errlen);
    }
    if (rc == 0) { /* train.bin */
        size_t n = 0;
        for (size_t d = 0; d < c->n_docs; d++)
            if (c->docs[d].split == SPLIT_TRAIN)
                order[n++] = (OrderKey){
                    text_hash64(c->docs[d].id, strlen(c->docs[d].id)) ^ 0x5bd1e9955bd1e995ull, d};
        qsort(order, n, sizeof *order, compare_order);
        for (size_t i = 0; i < n; i++)
            selection[i] = order[i].doc;
        snprintf(path, sizeof path, "%s/train.bin", dir);
        rc = write_selection(c, &e, selection, n, path, tok, err, errlen);
    }
    if (rc == 0) { /* val.bin */
        size_t n = 0;
        for (size_t d = 0; d < c->n_docs; d++)
            if (c->docs[d].split == SPLIT_VAL) selection[n++] = d;
        snprintf(path, sizeof path, "%s/val.bin", dir);
        rc = write_selection(c, &e, selection, n, path, tok, err, errlen);
    }
    for (int dom = 0; rc == 0 && dom < DOMAIN_COUNT; dom++) {
        size_t n = 0;
        for (size_t d = 0; d < c->n_docs; d++)
            if (c->docs[d].split == SPLIT_VAL && c->docs[d].domain == (Domain)dom)
                selection[n++] = d;
        snprintf(path, sizeof path, "%s/val-%s.bin", dir, domain_name((Domain)dom));
        /* A domain the corpus lacks (an own text filed under one domain) gets no file: an empty
         * shard would stop every trainer that evaluates all val-*.bin. */
        if (n == 0) {
            remove(path);
            continue;
        }
        rc = write_selection(c, &e, selection, n, path, tok, err, errlen);
    }
    if (rc == 0) { /* stats.tsv: documents, bytes and tokens per source and split */
        snprintf(path, sizeof path, "%s/stats.tsv", dir);
        FILE *f = fopen(path, "w");
        if (!f) {
            snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
            rc = -1;
        } else {
            fprintf(f,
                    "# source\tsplit\tdocs\tbytes\ttokens (tokenizer %s, vocabulary %u, "
                    "end-of-text %u)\n",
                    tokenizer_id_str, tokenizer_vocab(tok), tokenizer_eot(tok));
            for (int s = 0; s < c->n_sources; s++)
                for (int sp = 0; sp < SPLIT_COUNT; sp++) {
                    uint64_t docs = 0, bytes = 0, tokens = 0;
                    for (size_t d = 0; d < c->n_docs; d++) {
                        if (c->docs[d].source != s || c->docs[d].split != (Split)sp) continue;
                        docs++;
                        bytes += c->docs[d].len;
                        tokens += e.doc_start[d + 1] - e.doc_start[d];
                    }
                    fprintf(f, "%s\t%s\t%llu\t%llu\t%llu\n", c->sources[s].id,
                            split_name((Split)sp), (unsigned long long)docs,
                            (unsigned long long)bytes, (unsigned long long)tokens);
                }
            if (fclose(f) != 0) {
                snprintf(err, errlen, "%s: write failed", path);
                rc = -1;
            }
        }
    }
    free(e.tokens);
    free(e.doc_start);
    free(selection);
    free(order);
    tokenizer_close(tok);
    return rc;
}
