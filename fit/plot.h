/* fit/plot.h: figures through gnuplot (run by fork/exec, no shell): a plot is a set of data
 * blocks and a gnuplot plot command, rendered to <dir>/<name>.png and <dir>/<name>.svg. */
#ifndef DLCM_FIT_PLOT_H
#define DLCM_FIT_PLOT_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    char dir[1024];      /* where the PNG and SVG go */
    char name[256];      /* file name without extension */
    char tmpdir[64];     /* scratch directory for data and script */
    FILE *script;        /* the gnuplot script being written (settings, then plot) */
    int n_blocks;
    char *command;       /* the plot command, set by plot_command */
} Plot;

/* Copies text for a gnuplot single-quoted string, with every character that could end the
 * string, run a command or expand a macro (quotes, backquote, @, $, backslash, control
 * characters) replaced by '?'. */
void plot_safe_text(const char *in, char *out, size_t len);

/* Starts a plot: creates the scratch directory and the script with the title and axes.
 * 0, or -1 with err. */
int plot_begin(Plot *p, const char *dir, const char *name, const char *title, const char *xlabel,
               const char *ylabel, int logx, int logy, char *err, int errlen);

/* Opens data block number plot->n_blocks for writing (rows "x y" or more columns); the caller
 * writes rows and closes the file. Its path is for use in plot_command via plot_block_path. */
FILE *plot_block(Plot *p, int *index);
void plot_block_path(const Plot *p, int index, char *buf, int buflen);

/* Appends raw gnuplot text to the script (e.g. "set key left\n" or the plot command). */
void plot_script(Plot *p, const char *text);

/* Sets the plot command (e.g. "plot 'file' using 1:2 ..."); it is rendered once per format. */
int plot_command(Plot *p, const char *command);

/* Renders PNG and SVG with gnuplot, removes the scratch files. On success, the two output
 * paths are printed to stdout. 0, or -1 with err (gnuplot missing or failing). */
int plot_finish(Plot *p, char *err, int errlen);

#endif
