/* engine/train/score_main.c: dlcm-score, a trained model on a text (per-token log-probabilities
 * and where the model cuts concepts) or on a held-out task file (accuracy with a Wilson 95%
 * interval). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/train/scorer.h"
#include "engine/train/tasks.h"
#include "util/fs.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: dlcm-score CHECKPOINT FILE [options]\n"
        "       dlcm-score CHECKPOINT --task FILE.jsonl [options]\n"
        "\n"
        "With FILE (- for standard input): prints a TSV with one row per token of the text,\n"
        "  position  token  piece  logprob  concept\n"
        "(logprob = natural log of p(token | everything before it, after an end-of-text token);\n"
        "concept = index of the token's concept, 0 for a dense model), then a blank line and the\n"
        "text with the separator between consecutive concepts. Texts longer than the model's\n"
        "sequence length are scored in consecutive windows (context restarts at each window).\n"
        "\n"
        "With --task: scores every item of a task file and prints the accuracy with its Wilson\n"
        "95%% interval (see engine/train/tasks.h for the formats and the scoring rules).\n"
        "\n"
        "options:\n"
        "  --data-dir DIR      where the tokenizer lives (default: the run's data.dir)\n"
        "  --separator TEXT    between concepts in the segmented text (default ' | ')\n"
        "  --limit N           score only the first N task items\n"
        "  --quiet             task mode: no per-item progress\n"
        "  --help              this text\n"
        "  --version           the program's version (source commit)\n"
        "Options take their value as `--opt value` or `--opt=value`.\n"
        "\n"
        "exit codes: 0 success, 1 runtime failure, 2 bad input (checkpoint, file, task line).\n");
}

/* A piece inside a TSV field: tabs, newlines and backslashes escaped. */
static void print_piece(const char *p)
{
    for (; *p; p++) {
        if (*p == '\t') fputs("\\t", stdout);
        else if (*p == '\n') fputs("\\n", stdout);
        else if (*p == '\r') fputs("\\r", stdout);
        else if (*p == '\\') fputs("\\\\", stdout);
        else putchar(*p);
    }
}

static int score_text(Scorer *s, const char *path, const char *separator)
{
    char err[1024];
    size_t len;
    char *text = fs_read_file(path, (size_t)1 << 34, &len, err, sizeof err);
    if (!text) {
        fprintf(stderr, "dlcm-score: %s\n", err);
        return 2;
    }
    int32_t *body = NULL;
    long n = tokenizer_encode(s->tok, text, len, &body, err, sizeof err);
    free(text);
    if (n < 0) {
        fprintf(stderr, "dlcm-score: %s: %s\n", path, err);
        return 2;
    }
    /* ids = end-of-text, then the text: every token of the text gets a prediction. */
    int32_t *ids = malloc((size_t)(n + 1) * sizeof *ids);
    float *logprob = malloc((size_t)(n + 1) * sizeof *logprob);
    int32_t *concept = malloc((size_t)(n + 1) * sizeof *concept);
    if (!ids || !logprob || !concept) {
        fprintf(stderr, "dlcm-score: out of memory\n");
        return 1;
    }
    ids[0] = (int32_t)tokenizer_eot(s->tok);
    memcpy(ids + 1, body, (size_t)n * sizeof *ids);
    free(body);
    if (scorer_score(s, ids, n + 1, logprob, concept, err, sizeof err)) {
        fprintf(stderr, "dlcm-score: %s\n", err);
        return 1;
    }
    /* Concepts are numbered from the text's first token (the end-of-text before it may have a
     * concept of its own). */
    int32_t first_concept = n > 0 ? concept[1] : 0;
    printf("position\ttoken\tpiece\tlogprob\tconcept\n");
    double total = 0;
    for (long i = 1; i <= n; i++) {
        char *piece = tokenizer_piece(s->tok, ids[i]);
        printf("%ld\t%d\t", i - 1, ids[i]);
        print_piece(piece ? piece : "");
        printf("\t%.6f\t%d\n", logprob[i], concept[i] - first_concept);
        free(piece);
        total += logprob[i];
    }
    /* The segmented text: decode each concept's run of tokens as one piece of text, so that
     * multi-byte characters split over tokens come out whole. */
    printf("\n");
    long start = 1;
    int concepts = 0;
    for (long i = 2; i <= n + 1; i++) {
        if (i == n + 1 || concept[i] != concept[i - 1]) {
            char *chunk = tokenizer_decode(s->tok, ids + start, (size_t)(i - start), err, sizeof err);
            if (!chunk) {
                fprintf(stderr, "dlcm-score: %s\n", err);
                return 1;
            }
            printf("%s%s", concepts ? separator : "", chunk);
            free(chunk);
            concepts++;
            start = i;
        }
    }
    printf("\n");
    fprintf(stderr, "dlcm-score: %ld tokens, %d concepts (%.2f tokens per concept), %.4f nats per token\n",
            n, concepts, concepts ? (double)n / concepts : 0.0, n ? -total / (double)n : 0.0);
    free(ids);
    free(logprob);
    free(concept);
    return 0;
}

int main(int argc, char **argv)
{
    const char *checkpoint = NULL, *file = NULL, *task = NULL, *data_dir = NULL;
    const char *separator = " | ";
    long limit = 0;
    int quiet = 0;
    enum { OPT_TASK = 1000, OPT_DATA_DIR, OPT_SEPARATOR, OPT_LIMIT, OPT_QUIET, OPT_HELP, OPT_VERSION };
    static const struct option options[] = {
        {"task", required_argument, NULL, OPT_TASK},       {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"separator", required_argument, NULL, OPT_SEPARATOR}, {"limit", required_argument, NULL, OPT_LIMIT},
        {"quiet", no_argument, NULL, OPT_QUIET},           {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},       {NULL, 0, NULL, 0}};
    opterr = 0;
    int option;
    long long n;
    while ((option = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (option) {
        case 'h':
        case OPT_HELP: usage(stdout); return CLI_EXIT_OK;
        case OPT_VERSION: cli_print_version(stdout, "dlcm-score"); return CLI_EXIT_OK;
        case OPT_QUIET: quiet = 1; break;
        case OPT_TASK: task = optarg; break;
        case OPT_DATA_DIR: data_dir = optarg; break;
        case OPT_SEPARATOR: separator = optarg; break;
        case OPT_LIMIT:
            if (cli_parse_int("dlcm-score", "--limit", optarg, 1, 1LL << 40, &n)) return CLI_EXIT_BAD_INPUT;
            limit = (long)n;
            break;
        case ':':
            fprintf(stderr, "dlcm-score: %s needs a value (see --help)\n", argv[optind - 1]);
            return CLI_EXIT_BAD_INPUT;
        default:
            fprintf(stderr, "dlcm-score: unknown option %s (see --help)\n", argv[optind - 1]);
            return CLI_EXIT_BAD_INPUT;
        }
    }
    for (; optind < argc; optind++) {
        if (!checkpoint) checkpoint = argv[optind];
        else if (!file) file = argv[optind];
        else {
            fprintf(stderr, "dlcm-score: unexpected argument %s (see --help)\n", argv[optind]);
            return CLI_EXIT_BAD_INPUT;
        }
    }
    if (!checkpoint || (!file && !task) || (file && task)) {
        usage(stderr);
        return 2;
    }
    char err[1024];
    Scorer s;
    if (scorer_open(&s, checkpoint, data_dir, err, sizeof err)) {
        fprintf(stderr, "dlcm-score: %s\n", err);
        return 2;
    }
    int code;
    if (file) {
        code = score_text(&s, file, separator);
    } else {
        TaskResult res;
        code = tasks_score_file(&s, task, limit, quiet, &res, err, sizeof err);
        if (code) {
            fprintf(stderr, "dlcm-score: %s\n", err);
        } else {
            printf("%s: accuracy %.4f (%ld/%ld), Wilson 95%% interval [%.4f, %.4f], chance %.4f\n",
                   task, res.accuracy, res.correct, res.items, res.ci_low, res.ci_high, res.chance);
            printf("%s: right ending log-likelihood %.4f nats per item, %.4f nats per byte\n", task,
                   res.answer_logprob, res.answer_bytes ? res.answer_logprob * (double)res.items / (double)res.answer_bytes : 0.0);
        }
    }
    scorer_close(&s);
    return code;
}
