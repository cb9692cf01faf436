/* fit/query_main.c: dlcm-query: options, finding the fit (the database or its JSON), and
 * fit/query.h's allocation, which stays inside the fitted data. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "db/db.h"
#include "db/fits.h"
#include "fit/output.h"
#include "fit/query.h"
#include "fit/summary.h"
#include "util/fs.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dlcm-query --budget C (--db FILE (--fit ID | --sweep NAME) | --fit-json FILE) [options]\n"
            "\n"
            "Minimizes the fitted loss over (N, P, R, D) subject to 3 F_fwd(shape) D = C. Shapes come from\n"
            "engine/shape.h's shape_solve(N, P) with its default rule; N and P in the law are the solved shape's.\n"
            "The dense optimum uses the same law with no concept term (P = 0, R = 1), or for a Chinchilla fit\n"
            "its dense shapes and the closed form N* = G (C/6)^(beta/(alpha+beta)).\n"
            "\n"
            "The answer stays inside the data: every recommended quantity (budget, N, P, R, D/N, each stack's\n"
            "width and depth) is compared with the range of the fitted runs and printed as\n"
            "'warning: extrapolated: ... Nx beyond the largest trained (...)' when outside; the search keeps\n"
            "P and R in the trained range; an optimum on the edge of the search is flagged; a fit that is not\n"
            "identified gives no recommendation; the saving against the dense optimum carries its interval.\n"
            "\n"
            "  --budget C              training FLOPs (required)\n"
            "  --db FILE --fit ID      a stored fit;  --db FILE --sweep NAME [--law L] [--label L]: the sweep's latest fit\n"
            "  --fit-json FILE         the fit's JSON (as written by dlcm-fit --json)\n"
            "  --R R                   fix the compression ratio\n"
            "  --R-range LO,HI         R searched (default: the fitted runs' range)\n"
            "  --max-N N               cap on non-embedding parameters\n"
            "  --max-inference-flops F cap on forward FLOPs per token\n"
            "  --vocab V --seq-len T   shape family's V and T (default: the fit's data)\n"
            "  --samples K             bootstrap samples used (default: all stored)\n"
            "  --max-extrapolation K   refuse a budget, N, D/N, width or depth more than K times outside the\n"
            "                          trained range (default 10)\n"
            "  --extrapolate           let P and R leave the trained range (P searched over 0.025..0.975)\n"
            "  --force                 answer even when refused (warnings are still printed)\n"
            "  --json                  the answer as one JSON object on stdout instead of the text: the fit, its R\n"
            "                          source and identification, every warning and refusal (kind, family,\n"
            "                          quantity, value, trained range, factor k), the search, each family's\n"
            "                          recommendation (shape, N, P, R, D, loss, each {value, lo, hi}), the saving,\n"
            "                          exit_code and status; errors still go to stderr (nothing on stdout when\n"
            "                          the fit cannot be read); numbers that are not finite are null\n"
            "  --version               the commit this binary was built from\n"
            "\n"
            "exit status: 0 answered, 1 runtime error, 2 bad input, 4 refused (the data does not carry the answer)\n");
}

typedef struct {
    QueryOptions query;
    const char *db_path, *sweep, *fit_json, *law, *label;
    long long fit_id;
    int json;
} Options;

/* 0, 1 (--help printed) or 2 (bad input, message printed). */
static int parse_options(int argc, char **argv, Options *o)
{
    memset(o, 0, sizeof *o);
    o->query = query_defaults();
    o->fit_id = -1;
    enum { O_BUDGET = 256, O_DB, O_FIT, O_SWEEP, O_LAW, O_LABEL, O_JSON, O_R, O_RRANGE, O_MAXN, O_MAXINF, O_VOCAB, O_SEQ,
           O_SAMPLES, O_MAXEXT, O_EXTRAP, O_FORCE, O_JSON_OUT };
    static const struct option opts[] = {
        {"budget", 1, 0, O_BUDGET}, {"db", 1, 0, O_DB}, {"fit", 1, 0, O_FIT}, {"sweep", 1, 0, O_SWEEP},
        {"law", 1, 0, O_LAW}, {"label", 1, 0, O_LABEL}, {"fit-json", 1, 0, O_JSON}, {"R", 1, 0, O_R},
        {"R-range", 1, 0, O_RRANGE}, {"max-N", 1, 0, O_MAXN}, {"max-inference-flops", 1, 0, O_MAXINF},
        {"vocab", 1, 0, O_VOCAB}, {"seq-len", 1, 0, O_SEQ}, {"samples", 1, 0, O_SAMPLES},
        {"max-extrapolation", 1, 0, O_MAXEXT}, {"extrapolate", 0, 0, O_EXTRAP}, {"force", 0, 0, O_FORCE},
        {"json", 0, 0, O_JSON_OUT},
        {"version", 0, 0, 'v'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c, index = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, &index)) != -1) {
        int numeric = c == O_BUDGET || c == O_FIT || c == O_R || c == O_MAXN || c == O_MAXINF || c == O_VOCAB ||
                      c == O_SEQ || c == O_SAMPLES || c == O_MAXEXT;
        double v = 0;
        if (numeric) {
            char *end;
            errno = 0;
            v = strtod(optarg, &end);
            if (*end || errno || !isfinite(v) || !(v > 0 || (c == O_SAMPLES && v == 0))) {
                fprintf(stderr, "dlcm-query: --%s needs a positive number (got %s)\n", opts[index].name, optarg);
                return 2;
            }
        }
        switch (c) {
        case O_BUDGET: o->query.budget = v; break;
        case O_DB: o->db_path = optarg; break;
        case O_FIT: o->fit_id = (long long)v; break;
        case O_SWEEP: o->sweep = optarg; break;
        case O_LAW: o->law = optarg; break;
        case O_LABEL: o->label = optarg; break;
        case O_JSON: o->fit_json = optarg; break;
        case O_R:
            if (v < 1) { fprintf(stderr, "dlcm-query: --R needs R >= 1\n"); return 2; }
            o->query.R_fixed = v;
            break;
        case O_RRANGE: {
            char tail;
            if (sscanf(optarg, "%lf,%lf%c", &o->query.R_lo, &o->query.R_hi, &tail) != 2 || !(o->query.R_lo >= 1) ||
                !(o->query.R_hi >= o->query.R_lo)) {
                fprintf(stderr, "dlcm-query: --R-range LO,HI with 1 <= LO <= HI\n");
                return 2;
            }
            break;
        }
        case O_MAXN: o->query.max_N = v; break;
        case O_MAXINF: o->query.max_fwd_flops = v; break;
        case O_VOCAB: o->query.vocab = (int)v; break;
        case O_SEQ: o->query.seq_len = (int)v; break;
        case O_SAMPLES: o->query.max_samples = (int)v; break;
        case O_MAXEXT:
            if (v < 1) { fprintf(stderr, "dlcm-query: --max-extrapolation needs a factor >= 1\n"); return 2; }
            o->query.max_extrapolation = v;
            break;
        case O_EXTRAP: o->query.extrapolate = 1; break;
        case O_FORCE: o->query.force = 1; break;
        case O_JSON_OUT: o->json = 1; break;
        case 'h': usage(stdout); return 1;
        case 'v': cli_print_version(stdout, "dlcm-query"); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) { fprintf(stderr, "dlcm-query: unexpected argument %s\n", argv[optind]); return 2; }
    if (!(o->query.budget > 0) || (!!o->fit_json + !!o->db_path != 1) || (o->db_path && o->fit_id < 0 && !o->sweep)) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The fit's JSON text (malloc'd) and a description of where it came from. 0, or 1 with a message. */
static int load_fit(const Options *o, char **text, char *what, size_t whatlen)
{
    char err[1024];
    *text = NULL;
    if (o->fit_json) {
        snprintf(what, whatlen, "%s", o->fit_json);
        size_t len;
        *text = fs_read_file(o->fit_json, (size_t)1 << 26, &len, err, sizeof err);
        if (!*text) { fprintf(stderr, "dlcm-query: %s\n", err); return 1; }
        return 0;
    }
    sqlite3 *db = output_open_existing_db(o->db_path, err, sizeof err);
    if (!db) { fprintf(stderr, "dlcm-query: %s\n", err); return 1; }
    char law[32], source[600];
    long long id = o->fit_id;
    int rc = 0;
    if (id < 0) {
        snprintf(source, sizeof source, "sweep:%s", o->sweep);
        rc = fits_latest(db, source, o->law, o->label, &id, err, sizeof err);
    }
    if (!rc) rc = fits_read(db, id, text, law, sizeof law, err, sizeof err);
    db_close(db);
    if (rc) { fprintf(stderr, "dlcm-query: %s: %s\n", o->db_path, err); return 1; }
    if (strcmp(law, "chinchilla") && strcmp(law, "dlcm")) {
        fprintf(stderr, "dlcm-query: fit %lld is a %s fit; the query needs a chinchilla or dlcm law\n", id, law);
        free(*text);
        *text = NULL;
        return 1;
    }
    snprintf(what, whatlen, "%s fit %lld", o->db_path, id);
    return 0;
}

int main(int argc, char **argv)
{
    Options o;
    int rc = parse_options(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : 2;
    char what[700], err[1024], *text;
    if (load_fit(&o, &text, what, sizeof what)) return 1;
    LawSummary s;
    rc = summary_from_json(text, what, &s, err, sizeof err);
    free(text);
    if (rc) { fprintf(stderr, "dlcm-query: %s\n", err); return 1; }
    if (!o.json) {
        rc = query_run(&o.query, &s, what, stdout, NULL);
        summary_free(&s);
        return rc;
    }
    /* --json: the text answer is written to memory and dropped; the JSON carries the same. */
    char *text_buf = NULL;
    size_t text_len = 0;
    FILE *text_out = open_memstream(&text_buf, &text_len);
    json_object *answer = json_object_new_object();
    if (!text_out || !answer) {
        fprintf(stderr, "dlcm-query: out of memory\n");
        if (text_out) fclose(text_out);
        free(text_buf);
        json_object_put(answer);
        summary_free(&s);
        return 1;
    }
    rc = query_run(&o.query, &s, what, text_out, answer);
    fclose(text_out);
    free(text_buf);
    printf("%s\n", json_object_to_json_string_ext(answer, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(answer);
    summary_free(&s);
    if (fflush(stdout) != 0) return 1;
    return rc;
}
