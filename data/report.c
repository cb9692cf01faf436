/* data/report.c: the corpus report (data/out/report.txt): per source and split documents and
 * bytes, extraction statistics, tokens per tokenizer, tokens per byte and task item counts. */
#include "data/report.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long lines = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF)
        lines += ch == '\n';
    fclose(f);
    return lines;
}

/* Tokens per source and split from one tokenizer's stats.tsv; 0 when the file is there. */
static int read_token_stats(const char *path, const Corpus *c, uint64_t tokens[][SPLIT_COUNT])
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char source[64], split[16];
        unsigned long long docs, bytes, count;
        if (sscanf(line, "%63s %15s %llu %llu %llu", source, split, &docs, &bytes, &count) != 5)
            continue;
        int sp = strcmp(split, "val") == 0 ? SPLIT_VAL : SPLIT_TRAIN;
        for (int s = 0; s < c->n_sources; s++)
            if (strcmp(c->sources[s].id, source) == 0) tokens[s][sp] = count;
    }
    fclose(f);
    return 0;
}

/* Whether the first line of a stamp file contains text. */
static int stamp_mentions(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096] = "";
    int found = fgets(line, sizeof line, f) && strstr(line, text) != NULL;
    fclose(f);
    return found;
}

static int compare_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    /* "byte" first, then BPE sizes in increasing order */
    if (!strcmp(x, "byte")) return -1;
    if (!strcmp(y, "byte")) return 1;
    return atoi(x + 3) - atoi(y + 3);
}

int write_report(const Corpus *c, const Source *sources, int n_sources, const char *out_dir,
                 char *err, int errlen)
{
    char path[1024], report_path[1024];
    snprintf(report_path, sizeof report_path, "%s/report.txt", out_dir);
    FsReplace out;
    if (fs_replace_open(&out, report_path, err, errlen) != 0) return -1;
    FILE *f = out.f;
    uint64_t docs[CORPUS_MAX_SOURCES][SPLIT_COUNT] = {{0}},
             bytes[CORPUS_MAX_SOURCES][SPLIT_COUNT] = {{0}};
    uint64_t domain_docs[DOMAIN_COUNT][SPLIT_COUNT] = {{0}},
             domain_bytes[DOMAIN_COUNT][SPLIT_COUNT] = {{0}};
    for (size_t d = 0; d < c->n_docs; d++) {
        const Doc *doc = &c->docs[d];
        docs[doc->source][doc->split]++;
        bytes[doc->source][doc->split] += doc->len;
        domain_docs[doc->domain][doc->split]++;
        domain_bytes[doc->domain][doc->split] += doc->len;
    }
    fprintf(f, "dlcm corpus report\n\n");
    fprintf(f,
            "Documents are split by a hash of their id (validation = %d/1000). Bytes are clean "
            "UTF-8 text\n(paragraphs joined by newlines), after exact-paragraph dedup "
            "across sources.\n\n",
            c->val_permille);
    fprintf(f, "%-5s %-10s %-31s %-20s %9s %7s %9s %12s %7s %11s\n", "id", "domain", "package",
            "version", "paragr.", "dupl.", "train_doc", "train_bytes", "val_doc", "val_bytes");
    uint64_t total_docs[SPLIT_COUNT] = {0}, total_bytes[SPLIT_COUNT] = {0};
    for (int s = 0; s < c->n_sources; s++) {
        const SourceStats *st = &c->sources[s];
        const char *package = "?", *version = "?";
        for (int k = 0; k < n_sources; k++)
            if (!strcmp(sources[k].id, st->id)) {
                package = sources[k].package;
                version = sources[k].version;
            }
        fprintf(f, "%-5s %-10s %-31.31s %-20.20s %9llu %7llu %9llu %12llu %7llu %11llu\n", st->id,
                domain_name(st->domain), package, version, (unsigned long long)st->paragraphs_kept,
                (unsigned long long)st->duplicates, (unsigned long long)docs[s][0],
                (unsigned long long)bytes[s][0], (unsigned long long)docs[s][1],
                (unsigned long long)bytes[s][1]);
        for (int sp = 0; sp < SPLIT_COUNT; sp++) {
            total_docs[sp] += docs[s][sp];
            total_bytes[sp] += bytes[s][sp];
        }
    }
    fprintf(f, "\n%-12s %9s %14s %7s %12s\n", "domain", "train_doc", "train_bytes", "val_doc",
            "val_bytes");
    for (int d = 0; d < DOMAIN_COUNT; d++)
        fprintf(f, "%-12s %9llu %14llu %7llu %12llu\n", domain_name((Domain)d),
                (unsigned long long)domain_docs[d][0], (unsigned long long)domain_bytes[d][0],
                (unsigned long long)domain_docs[d][1], (unsigned long long)domain_bytes[d][1]);
    fprintf(f, "%-12s %9llu %14llu %7llu %12llu   (total %.2f MB)\n", "all",
            (unsigned long long)total_docs[0], (unsigned long long)total_bytes[0],
            (unsigned long long)total_docs[1], (unsigned long long)total_bytes[1],
            (total_bytes[0] + total_bytes[1]) / 1e6);

    /* tokenizers: every out_dir/<id>/stats.tsv whose shards were built from the current text */
    char fingerprint[80];
    if (corpus_text_fingerprint(out_dir, fingerprint, sizeof fingerprint, err, errlen) != 0) {
        fs_replace_abort(&out);
        return -1;
    }
    char *names[32];
    int n_names = 0;
    DIR *dir = opendir(out_dir);
    struct dirent *entry;
    while (dir && (entry = readdir(dir)) && n_names < 32) {
        if (strcmp(entry->d_name, "byte") && strncmp(entry->d_name, "bpe", 3)) continue;
        snprintf(path, sizeof path, "%s/%s/stats.tsv", out_dir, entry->d_name);
        FILE *probe = fopen(path, "r");
        if (!probe) continue;
        fclose(probe);
        snprintf(path, sizeof path, "%s/%s/SHARDS_STAMP", out_dir, entry->d_name);
        if (!stamp_mentions(path, fingerprint)) {
            fprintf(f, "\n(%s: shards were built from another text; rebuild with --bpe to report "
                       "them)\n", entry->d_name);
            continue;
        }
        names[n_names++] = strdup(entry->d_name);
    }
    if (dir) closedir(dir);
    qsort(names, (size_t)n_names, sizeof *names, compare_names);
    static uint64_t tokens[CORPUS_MAX_SOURCES][SPLIT_COUNT];
    for (int t = 0; t < n_names; t++) {
        memset(tokens, 0, sizeof tokens);
        snprintf(path, sizeof path, "%s/%s/stats.tsv", out_dir, names[t]);
        read_token_stats(path, c, tokens);
        fprintf(f, "\ntokens, tokenizer %s (newline and end-of-text tokens included)\n", names[t]);
        fprintf(f, "%-5s %-10s %12s %10s %9s\n", "id", "domain", "train_tokens", "val_tokens",
                "tok/byte");
        uint64_t sum[SPLIT_COUNT] = {0}, dom_tokens[DOMAIN_COUNT] = {0},
                 dom_bytes[DOMAIN_COUNT] = {0};
        for (int s = 0; s < c->n_sources; s++) {
            uint64_t b = bytes[s][0] + bytes[s][1], k = tokens[s][0] + tokens[s][1];
            fprintf(f, "%-5s %-10s %12llu %10llu %9.4f\n", c->sources[s].id,
                    domain_name(c->sources[s].domain), (unsigned long long)tokens[s][0],
                    (unsigned long long)tokens[s][1], b ? (double)k / (double)b : 0.0);
            sum[0] += tokens[s][0];
            sum[1] += tokens[s][1];
            dom_tokens[c->sources[s].domain] += k;
            dom_bytes[c->sources[s].domain] += b;
        }
        for (int d = 0; d < DOMAIN_COUNT; d++)
            fprintf(f, "%-16s %12s %10s %9.4f\n", domain_name((Domain)d), "", "",
                    dom_bytes[d] ? (double)dom_tokens[d] / (double)dom_bytes[d] : 0.0);
        uint64_t all_bytes = total_bytes[0] + total_bytes[1];
        fprintf(f, "%-16s %12llu %10llu %9.4f   <- tokens per byte, %s\n", "all",
                (unsigned long long)sum[0], (unsigned long long)sum[1],
                all_bytes ? (double)(sum[0] + sum[1]) / (double)all_bytes : 0.0, names[t]);
        free(names[t]);
    }

    fprintf(f, "\nheld-out tasks (validation documents only)\n");
    const char *task_names[3] = {"cloze", "next_sentence", "definition"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/tasks/%s.jsonl", out_dir, task_names[i]);
        fprintf(f, "  %-14s %6ld items\n", task_names[i], count_lines(path));
    }
    if (fs_replace_commit(&out, err, errlen) != 0) return -1;
    FILE *in = fopen(report_path, "r");
    if (in) {
        char line[512];
        printf("\n");
        while (fgets(line, sizeof line, in))
            fputs(line, stdout);
        fclose(in);
    }
    return 0;
}
