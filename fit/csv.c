/* fit/csv.c: splitting CSV lines, finding header columns, parsing finite numbers. */
#include "fit/csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Splits one CSV line in place into at most max fields; handles double-quoted fields.
 * Returns the number of fields. */
int csv_split(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '"') {
            char *start = ++p, *w = p;
            while (*p && !(*p == '"' && p[1] != '"')) {
                if (*p == '"') p++; /* "" is an escaped quote */
                *w++ = *p++;
            }
            if (*p == '"') p++;
            while (*p && *p != ',') p++; /* anything after the closing quote is ignored */
            *w = '\0';
            fields[n++] = start;
        } else {
            fields[n++] = p;
            while (*p && *p != ',') p++;
        }
        if (*p != ',') { *p = '\0'; break; }
        *p++ = '\0';
    }
    for (int i = 0; i < n; i++) { /* trim trailing blanks and CR */
        char *e = fields[i] + strlen(fields[i]);
        while (e > fields[i] && isspace((unsigned char)e[-1])) *--e = '\0';
    }
    return n;
}

/* Parses a finite decimal number filling the whole field: digits, sign, point and exponent
 * only, so hexadecimal ("0x10"), "inf" and "nan", which strtod would take, are refused. */
int csv_number(const char *s, double *out)
{
    if (!*s) return -1;
    for (const char *c = s; *c; c++)
        if (!isdigit((unsigned char)*c) && !strchr("+-.eE", *c)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int csv_column(char **header, int n, const char *name)
{
    int found = -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(header[i], name)) {
            if (found >= 0) return -2;
            found = i;
        }
    return found;
}

int csv_blank(const char *line)
{
    for (; *line; line++)
        if (!isspace((unsigned char)*line)) return 0;
    return 1;
}
