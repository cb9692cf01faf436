/* fit/csv.h: the small CSV reading the fitter needs: splitting a line into fields (double
 * quotes allowed), finding columns in a header, and strict parsing of finite numbers. */
#ifndef DLCM_FIT_CSV_H
#define DLCM_FIT_CSV_H

/* Splits line in place into at most max fields (trailing blanks and CR removed). Returns the
 * number of fields. */
int csv_split(char *line, char **fields, int max);

/* The index of the header field named exactly name, -1 when absent, -2 when it appears twice. */
int csv_column(char **header, int n, const char *name);

/* A finite decimal number filling the whole field (no hex, inf, nan): 0, or -1. */
int csv_number(const char *field, double *out);

/* 1 when the line holds only blanks. */
int csv_blank(const char *line);

#endif
