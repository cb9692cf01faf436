/* fit/plot.c: gnuplot figures: a scratch directory with data blocks and a script, rendered to
 * PNG (pngcairo) and SVG by gnuplot, run through data/spawn.h (fork/exec, no shell). */
#include "fit/plot.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/spawn.h"

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
    fprintf(p->script, "set title \"%s\" noenhanced\nset xlabel \"%s\" noenhanced\nset ylabel \"%s\" noenhanced\n",
            title, xlabel, ylabel);
    fprintf(p->script, "set grid\nset key outside right noenhanced\nset datafile missing 'nan'\n");
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

int plot_finish(Plot *p, char *err, int errlen)
{
    if (!p->command) {
        snprintf(err, errlen, "%s: no plot command", p->name);
        fclose(p->script);
        remove_scratch(p);
        return -1;
    }
    /* The same plot command, rendered once per format. */
    fprintf(p->script, "\nset terminal pngcairo size 1000,700 font ',11'\nset output '%s/%s.png'\n%s\n"
                       "set terminal svg size 1000,700 dynamic\nset output '%s/%s.svg'\n%s\nset output\n",
            p->dir, p->name, p->command, p->dir, p->name, p->command);
    free(p->command);
    p->command = NULL;
    int ok = fclose(p->script) == 0;
    p->script = NULL;
    char script[600];
    snprintf(script, sizeof script, "%s/plot.gp", p->tmpdir);
    int rc = ok ? run_gnuplot(script, err, errlen) : -1;
    if (!ok) snprintf(err, errlen, "cannot write the gnuplot script");
    remove_scratch(p);
    if (rc == 0) printf("  plot: %s/%s.png, %s/%s.svg\n", p->dir, p->name, p->dir, p->name);
    return rc;
}
