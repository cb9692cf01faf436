/* data/bpe.c: runs spm_train and spm_encode (fork/exec, no shell) with the flags that make
 * encoding lossless on dlcm's clean text: identity normalization, spaces kept, byte fallback. */
#include "data/bpe.h"

#include "util/spawn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bpe_train(const char *const *inputs, int n_inputs, const char *model_dir, int vocab_size,
              long sentence_sample, int threads, char *err, int errlen)
{
    size_t input_len = 1;
    for (int i = 0; i < n_inputs; i++)
        input_len += strlen(inputs[i]) + 1;
    char *input_list = malloc(input_len + 16);
    if (!input_list) {
        snprintf(err, errlen, "bpe_train: out of memory");
        return -1;
    }
    strcpy(input_list, "--input=");
    for (int i = 0; i < n_inputs; i++) {
        if (i) strcat(input_list, ",");
        strcat(input_list, inputs[i]);
    }
    char prefix[1024], vocab[64], sample[64], nthreads[64], log_path[1100];
    snprintf(prefix, sizeof prefix, "--model_prefix=%s/tokenizer", model_dir);
    snprintf(vocab, sizeof vocab, "--vocab_size=%d", vocab_size);
    snprintf(sample, sizeof sample, "--input_sentence_size=%ld", sentence_sample);
    snprintf(nthreads, sizeof nthreads, "--num_threads=%d", threads);
    snprintf(log_path, sizeof log_path, "%s/train.log", model_dir);
    char *argv[] = {"spm_train",
                    input_list,
                    prefix,
                    vocab,
                    "--model_type=bpe",
                    sample,
                    "--shuffle_input_sentence=true",
                    "--seed_sentencepiece_size=1000000",
                    "--max_sentence_length=16384",
                    "--character_coverage=0.9995",
                    "--byte_fallback=true",
                    "--normalization_rule_name=identity",
                    "--remove_extra_whitespaces=false",
                    "--split_digits=true",
                    "--unk_id=0",
                    "--eos_id=1",
                    "--eos_piece=" BPE_EOT_PIECE,
                    "--bos_id=-1",
                    "--pad_id=-1",
                    "--user_defined_symbols=" BPE_NEWLINE_PIECE,
                    nthreads,
                    "--random_seed=1", /* the sentence sample is then the same on every build */
                    "--minloglevel=1",
                    NULL};
    int rc = spawn_run(argv, NULL, log_path, log_path, err, errlen);
    if (rc != 0) {
        size_t used = strlen(err);
        snprintf(err + used, errlen - (int)used, " (see %s)", log_path);
    }
    free(input_list);
    return rc;
}

int bpe_encode_start(const char *model_path, const char *input_path, const char *output_path,
                     char *err, int errlen)
{
    char model[1100], output[1100];
    snprintf(model, sizeof model, "--model=%s", model_path);
    snprintf(output, sizeof output, "--output=%s", output_path);
    char *argv[] = {"spm_encode", model, "--output_format=id", output, (char *)input_path, NULL};
    return spawn_start(argv, NULL, NULL, NULL, err, errlen);
}

long bpe_parse_id_line(const char *line, uint32_t vocab, int32_t **ids, size_t *count,
                       size_t *capacity)
{
    long appended = 0;
    const char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\n' || *p == '\r')
            p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno != 0 || v < 0 || (uint64_t)v >= vocab) return -1;
        if (*count == *capacity) {
            size_t cap = *capacity ? *capacity * 2 : 256;
            int32_t *grown = realloc(*ids, cap * sizeof *grown);
            if (!grown) return -1;
            *ids = grown;
            *capacity = cap;
        }
        (*ids)[(*count)++] = (int32_t)v;
        appended++;
        p = end;
    }
    return appended;
}
