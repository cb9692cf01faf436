/* cli/cli.c: the shared command-line helpers (see cli/cli.h). The commit comes from the build
 * (DLCM_COMMIT, set by cli/cli.mk from git). */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#ifndef DLCM_COMMIT
#define DLCM_COMMIT "unknown"
#endif

const char *cli_commit(void) { return DLCM_COMMIT; }

void cli_print_version(FILE *f, const char *program)
{
    fprintf(f, "%s (dlcm) %s\n", program, DLCM_COMMIT);
}

int cli_parse_double(const char *program, const char *flag, const char *text, double lo, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = text ? strtod(text, &end) : 0;
    if (!text || end == text || *end || errno || !isfinite(v) || !(v >= lo)) {
        fprintf(stderr, "%s: %s needs a number >= %g (got '%s')\n", program, flag, lo, text ? text : "");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_int(const char *program, const char *flag, const char *text, long long lo, long long hi,
                  long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || end == text || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "%s: %s needs an integer from %lld to %lld (got '%s')\n", program, flag, lo, hi,
                text ? text : "");
        return -1;
    }
    *out = v;
    return 0;
}

