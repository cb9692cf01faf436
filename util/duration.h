/* util/duration.h: durations: a monotonic clock to measure them, and the one format of every
 * progress and status line: "45s", "3m 05s", "2h 14m", "3d 04h" ("?" when unknown). */
#ifndef DLCM_UTIL_DURATION_H
#define DLCM_UTIL_DURATION_H

/* Seconds on the monotonic clock: differences of two readings are elapsed time, whatever the
 * wall clock does meanwhile. */
double monotonic_seconds(void);

/* Writes seconds as above into buf; negative, NaN or absurd (> 10^12 s) values give "?". */
void format_duration(double seconds, char *buf, int buflen);

#endif
