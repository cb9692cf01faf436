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

void cli_format_duration(double seconds, char *buf, int buflen)
{
    if (!isfinite(seconds) || seconds < 0 || seconds > 1e12) {
        snprintf(buf, buflen, "?");
        return;
    }
    long long s = (long long)(seconds + 0.5);
    if (s >= 86400) snprintf(buf, buflen, "%lldd %02lldh", s / 86400, (s / 3600) % 24);
    else if (s >= 3600) snprintf(buf, buflen, "%lldh %02lldm", s / 3600, (s / 60) % 60);
    else if (s >= 60) snprintf(buf, buflen, "%lldm %02llds", s / 60, s % 60);
    else snprintf(buf, buflen, "%llds", s);
}
