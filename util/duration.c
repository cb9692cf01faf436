/* util/duration.c: the monotonic clock and durations for progress and status lines (see
 * util/duration.h). */
#include "util/duration.h"

#include <stdio.h>
#include <time.h>

double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void format_duration(double seconds, char *buf, int buflen)
{
    if (!(seconds >= 0) || seconds > 1e12) {
        snprintf(buf, buflen, "?");
        return;
    }
    long long s = (long long)(seconds + 0.5);
    if (s >= 86400) snprintf(buf, buflen, "%lldd %02lldh", s / 86400, (s / 3600) % 24);
    else if (s >= 3600) snprintf(buf, buflen, "%lldh %02lldm", s / 3600, (s / 60) % 60);
    else if (s >= 60) snprintf(buf, buflen, "%lldm %02llds", s / 60, s % 60);
    else snprintf(buf, buflen, "%llds", s);
}
