/* fit/plot.c: gnuplot figures: a scratch directory with data blocks and a script, rendered to
 * PNG (pngcairo) and SVG by gnuplot, run through util/spawn.h (fork/exec, no shell). No name
 * the user chose reaches the script: gnuplot writes into the scratch directory and the files
 * are copied into place here; titles and labels are reduced to characters gnuplot cannot
 * execute or expand. */
#include "fit/plot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/spawn.h"

static void remove_scratch(Plot *p)
{
    DIR *d = opendir(p->tmpdir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(path, sizeof path, "%s/%s", p->tmpdir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(p->tmpdir);
}

void plot_safe_text(const char *in, char *out, size_t len)
{
    size_t n = 0;
    for (; *in && n + 1 < len; in++) {
        unsigned char c = (unsigned char)*in;
        /* Quotes end the string, backquotes run commands, @ expands macros, \\ and control
         * characters escape: none of them passes. */
        int unsafe = c < 0x20 || c == 0x7f || strchr("'\"`@\\$", c) != NULL;
        out[n++] = unsafe ? '?' : (char)c;
    }
    out[n] = '\0';
}

int plot_begin(Plot *p, const char *dir, const char *name, const char *title, const char *xlabel,
               const char *ylabel, int logx, int logy, char *err, int errlen)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    snprintf(p->name, sizeof p->name, "%s", name);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create the plot directory: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(p->tmpdir, sizeof p->tmpdir, "/tmp/dlcm-plot-XXXXXX");
    if (!mkdtemp(p->tmpdir)) {
        snprintf(err, errlen, "cannot create a scratch directory: %s", strerror(errno));
        return -1;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/plot.gp", p->tmpdir);
    p->script = fopen(path, "w");
    if (!p->script) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        remove_scratch(p);
        return -1;
    }
    char t[2][512], x[256], y[256];
    /* A title of two lines, "first\nsecond": each part is passed as its own quoted string. */
    const char *newline = strchr(title, '\n');
    snprintf(t[0], sizeof t[0], "%.*s", newline ? (int)(newline - title) : (int)strlen(title), title);
    plot_safe_text(t[0], t[0], sizeof t[0]);
    plot_safe_text(newline ? newline + 1 : "", t[1], sizeof t[1]);
    plot_safe_text(xlabel, x, sizeof x);
    plot_safe_text(ylabel, y, sizeof y);
    if (newline) fprintf(p->script, "set title '%s'.\"\\n\".'%s' noenhanced\n", t[0], t[1]);
    else fprintf(p->script, "set title '%s' noenhanced\n", t[0]);
    fprintf(p->script, "set xlabel '%s' noenhanced\nset ylabel '%s' noenhanced\n", x, y);
    fprintf(p->script, "set grid\nset key below noenhanced\nset datafile missing 'nan'\n");
    if (logx) fprintf(p->script, "set logscale x\nset format x '10^{%%T}'\n");
    if (logy) fprintf(p->script, "set logscale y\n");
    return 0;
}

void plot_block_path(const Plot *p, int index, char *buf, int buflen)
{
    snprintf(buf, buflen, "%s/block%d.dat", p->tmpdir, index);
}

FILE *plot_block(Plot *p, int *index)
{
    char path[600];
    *index = p->n_blocks++;
    plot_block_path(p, *index, path, sizeof path);
    return fopen(path, "w");
}

void plot_script(Plot *p, const char *text)
{
    fputs(text, p->script);
}

/* gnuplot (found in PATH) on the script; 0, or -1 with err naming gnuplot and its exit status. */
static int run_gnuplot(const char *script, char *err, int errlen)
{
    char *argv[] = {"gnuplot", (char *)script, NULL};
    return spawn_run(argv, NULL, NULL, NULL, err, errlen);
}

int plot_command(Plot *p, const char *command)
{
    free(p->command);
    p->command = strdup(command);
    return p->command ? 0 : -1;
}

/* Copies src to dst through a temporary file beside dst and a rename. 0, or -1 with err. */
static int copy_into_place(const char *src, const char *dst, char *err, int errlen)
{
    char tmp[1400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", dst, (int)getpid());
    FILE *in = fopen(src, "rb");
    if (!in) { snprintf(err, errlen, "gnuplot wrote no %s: %s", src, strerror(errno)); return -1; }
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        fclose(in);
        return -1;
    }
    char buf[65536];
    size_t got;
    int ok = 1;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0) ok &= fwrite(buf, 1, got, out) == got;
    ok &= !ferror(in);
    fclose(in);
    ok &= fclose(out) == 0;
    if (!ok || rename(tmp, dst) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", dst, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int plot_finish(Plot *p, char *err, int errlen)
{
    if (!p->command) {
        snprintf(err, errlen, "%s: no plot command", p->name);
        fclose(p->script);
        remove_scratch(p);
        return -1;
    }
    /* The same plot command, rendered once per format, into the scratch directory (whose name
     * the program chose). */
    fprintf(p->script, "\nset terminal pngcairo size 1000,700 font ',11'\nset output '%s/out.png'\n%s\n"
                       "set terminal svg size 1000,700 dynamic\nset output '%s/out.svg'\n%s\nset output\n",
            p->tmpdir, p->command, p->tmpdir, p->command);
    free(p->command);
    p->command = NULL;
    int ok = fclose(p->script) == 0;
    p->script = NULL;
    char script[600];
    snprintf(script, sizeof script, "%s/plot.gp", p->tmpdir);
    int rc = ok ? run_gnuplot(script, err, errlen) : -1;
    if (!ok) snprintf(err, errlen, "cannot write the gnuplot script");
    static const char *const formats[] = {"png", "svg"};
    for (int f = 0; f < 2 && rc == 0; f++) {
        char src[600], dst[1400];
        snprintf(src, sizeof src, "%s/out.%s", p->tmpdir, formats[f]);
        snprintf(dst, sizeof dst, "%s/%s.%s", p->dir, p->name, formats[f]);
        rc = copy_into_place(src, dst, err, errlen);
    }
    remove_scratch(p);
    if (rc == 0) printf("  plot: %s/%s.png, %s/%s.svg\n", p->dir, p->name, p->dir, p->name);
    return rc;
}
