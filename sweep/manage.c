/* sweep/manage.c: dlcm-sweep status (one sweep's progress and runs, or the list of sweeps, as a
 * table or JSON), show (one run in full), cancel and tag. */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"
#include "db/study.h"
#include "db/sweeps.h"
#include "sweep/commands.h"
#include "sweep/launch.h"
#include "sweep/local.h"
#include "util/fs.h"
#include "util/spawn.h"

/* The database of a sweep that was run before (these commands never create one): read-only for
 * status and show, which never change or migrate a file; writable for cancel and tag. */
static sqlite3 *open_existing(const char *path, int writable)
{
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "dlcm-sweep: %s: no such database\n", path);
        return NULL;
    }
    char err[1024];
    sqlite3 *db = writable ? db_open(path, err, sizeof err) : db_open_readonly(path, err, sizeof err);
    if (!db) fprintf(stderr, "dlcm-sweep: %s\n", err);
    return db;
}

static void print_sweep_list(FILE *f, const SweepListing *s, int n)
{
    fprintf(f, "%-28s %4s %5s %5s %7s %6s %6s %8s %9s  %s\n", "sweep", "ver", "runs", "done", "running", "queued",
            "failed", "diverged", "cancelled", "tags");
    for (int i = 0; i < n; i++)
        fprintf(f, "%-28s %4d %5d %5d %7d %6d %6d %8d %9d  %s\n", s[i].name, s[i].version, s[i].runs, s[i].done,
                s[i].running, s[i].queued, s[i].failed, s[i].diverged, s[i].cancelled, s[i].tags);
}

int sweep_pick(sqlite3 *db, const Args *a, char *name, int namelen, int64_t *sweep_id)
{
    char err[512];
    if (a->sweep_name) {
        int rc = sweeps_find(db, a->sweep_name, sweep_id, err, sizeof err);
        if (rc < 0) { fprintf(stderr, "dlcm-sweep: %s: %s\n", a->db_path, err); return SWEEP_EXIT_FAILED; }
        if (rc == 1) {
            char close[5][256];
            int n = study_suggest_sweeps(db, a->sweep_name, close, 5);
            fprintf(stderr, "dlcm-sweep: %s: no sweep named '%s'", a->db_path, a->sweep_name);
            for (int i = 0; i < n; i++) fprintf(stderr, "%s%s", i ? ", " : "; did you mean: ", close[i]);
            fprintf(stderr, "%s\n", n ? "?" : " (dlcm-sweep status --db DB lists them)");
            return SWEEP_EXIT_BAD;
        }
        snprintf(name, namelen, "%s", a->sweep_name);
        return 0;
    }
    SweepListing *all;
    int n;
    if (study_list_sweeps(db, &all, &n, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s: %s\n", a->db_path, err);
        return SWEEP_EXIT_FAILED;
    }
    if (n == 1) {
        snprintf(name, namelen, "%s", all[0].name);
        free(all);
        return sweeps_find(db, name, sweep_id, err, sizeof err) == 0 ? 0 : SWEEP_EXIT_FAILED;
    }
    if (n == 0) fprintf(stderr, "dlcm-sweep: %s: the database holds no sweep\n", a->db_path);
    else {
        fprintf(stderr, "dlcm-sweep: %s holds %d sweeps: name one with --sweep NAME\n", a->db_path, n);
        print_sweep_list(stderr, all, n);
    }
    free(all);
    return SWEEP_EXIT_BAD;
}

void sweep_stderr_message(const char *tail, char *buf, size_t n)
{
    buf[0] = '\0';
    if (!tail) return;
    const char *end = tail + strlen(tail);
    while (end > tail) {
        const char *start = end;
        while (start > tail && start[-1] != '\n') start--;
        const char *p = start;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        size_t len = (size_t)(end - p);
        while (len && (p[len - 1] == '\r' || p[len - 1] == ' ')) len--;
        if (len && strncmp(p, "dlcm-sweep:", 11) != 0) {
            snprintf(buf, n, "%.*s", (int)(len < n ? len : n - 1), p);
            return;
        }
        end = start > tail ? start - 1 : tail;
    }
}

/* ---- status ------------------------------------------------------------------------------ */

typedef struct {
    json_object *array; /* --json */
} RunPrinter;

static void print_run_row(void *ctx, const RunListing *r)
{
    RunPrinter *p = ctx;
    char message[400] = "";
    if (strcmp(r->status, "done")) {
        char from_stderr[300];
        sweep_stderr_message(r->stderr_tail, from_stderr, sizeof from_stderr);
        /* The trainer's own words first; the scheduler's summary of how it ended after them. */
        if (from_stderr[0] && r->error[0]) snprintf(message, sizeof message, "%s [%s]", from_stderr, r->error);
        else snprintf(message, sizeof message, "%s", from_stderr[0] ? from_stderr : r->error);
    }
    if (p->array) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(r->id));
        json_object_object_add(o, "status", json_object_new_string(r->status));
        json_object_object_add(o, "family", json_object_new_string(r->family));
        json_object_object_add(o, "N", json_object_new_double(r->N));
        json_object_object_add(o, "R", json_object_new_double(r->R));
        json_object_object_add(o, "P", json_object_new_double(r->P));
        json_object_object_add(o, "budget", json_object_new_double(r->budget));
        json_object_object_add(o, "lr", json_object_new_double(r->lr));
        json_object_object_add(o, "seed", json_object_new_int64(r->seed));
        json_object_object_add(o, "steps", json_object_new_int64(r->steps));
        json_object_object_add(o, "steps_done", json_object_new_int64(r->steps_done));
        json_object_object_add(o, "attempts", json_object_new_int(r->attempts));
        json_object_object_add(o, "loss", isnan(r->loss) ? NULL : json_object_new_double(r->loss));
        json_object_object_add(o, "tags", json_object_new_string(r->tags));
        json_object_object_add(o, "error", json_object_new_string(message));
        json_object_array_add(p->array, o);
        return;
    }
    char loss[32] = "-", steps[48];
    if (!isnan(r->loss)) snprintf(loss, sizeof loss, "%.4f", r->loss);
    snprintf(steps, sizeof steps, "%lld/%lld", (long long)r->steps_done, (long long)r->steps);
    printf("%-16s %-9s %-5s %10.4g %4.3g %5.3f %10.4g %9.3g %4lld %13s %3d %8s %s\n", r->id, r->status, r->family, r->N,
           r->R, r->P, r->budget, r->lr, (long long)r->seed, steps, r->attempts, loss, message);
}

static json_object *listing_json(const SweepListing *s)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "sweep", json_object_new_string(s->name));
    json_object_object_add(o, "version", json_object_new_int(s->version));
    json_object_object_add(o, "runs", json_object_new_int(s->runs));
    json_object_object_add(o, "done", json_object_new_int(s->done));
    json_object_object_add(o, "running", json_object_new_int(s->running));
    json_object_object_add(o, "queued", json_object_new_int(s->queued));
    json_object_object_add(o, "failed", json_object_new_int(s->failed));
    json_object_object_add(o, "diverged", json_object_new_int(s->diverged));
    json_object_object_add(o, "cancelled", json_object_new_int(s->cancelled));
    json_object_object_add(o, "tags", json_object_new_string(s->tags));
    return o;
}

/* The wall time of the runs counted in t, per phase: the share of each, and what lies outside the
 * trainer's phases (launch, process and device start-up, the last writes). */
static void print_phase_line(const SweepPhaseTotals *t)
{
    if ((t->runs == 0 || !(t->wall_seconds > 0)) && t->runs_all > 0 && t->wall_all > 0) {
        printf("wall time of %d finished run(s) (one attempt each): %.2f s a run, %.0f%% of it in training steps "
               "(from their tokens/s; no phase times: trained before the trainer recorded them)\n",
               t->runs_all, t->wall_all / t->runs_all, 100.0 * t->step_seconds_all / t->wall_all);
        return;
    }
    if (t->runs == 0 || !(t->wall_seconds > 0)) return;
    printf("wall time of %d finished run(s) (one trainer process each): %.2f s a run; ", t->runs, t->wall_seconds / t->runs);
    for (int i = 0; i < RUN_N_PHASES; i++)
        printf("%s %.0f%%, ", run_phase_labels[i], 100.0 * t->phase_seconds[i] / t->wall_seconds);
    printf("launch and start-up %.0f%%\n", 100.0 * t->outside_seconds / t->wall_seconds);
}

static json_object *phase_json(const SweepPhaseTotals *t)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "runs", json_object_new_int(t->runs));
    json_object_object_add(o, "wall_seconds", json_object_new_double(t->wall_seconds));
    for (int i = 0; i < RUN_N_PHASES; i++)
        json_object_object_add(o, run_phase_names[i], json_object_new_double(t->phase_seconds[i]));
    json_object_object_add(o, "outside", json_object_new_double(t->outside_seconds));
    json_object_object_add(o, "runs_all", json_object_new_int(t->runs_all));
    json_object_object_add(o, "wall_seconds_all", json_object_new_double(t->wall_all));
    json_object_object_add(o, "step_seconds_all", json_object_new_double(t->step_seconds_all));
    return o;
}

static int print_json(json_object *o)
{
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return fflush(stdout) != 0 ? SWEEP_EXIT_FAILED : 0;
}

int sweep_cmd_status(const Args *a)
{
    sqlite3 *db = open_existing(a->db_path, 0);
    if (!db) return SWEEP_EXIT_BAD;
    char name[256], err[512], line[320];
    int64_t sweep_id;
    int rc = SWEEP_EXIT_FAILED;
    if (!a->sweep_name) {
        /* Several sweeps and no name: the list is the answer. */
        SweepListing *all;
        int n;
        if (study_list_sweeps(db, &all, &n, err, sizeof err)) {
            fprintf(stderr, "dlcm-sweep: %s\n", err);
            goto out;
        }
        if (n != 1) {
            if (a->json) {
                json_object *list = json_object_new_array();
                for (int i = 0; i < n; i++) json_object_array_add(list, listing_json(&all[i]));
                json_object *o = json_object_new_object();
                json_object_object_add(o, "sweeps", list);
                rc = print_json(o);
            } else if (n == 0) {
                printf("%s: no sweeps\n", a->db_path);
                rc = 0;
            } else {
                printf("%s: %d sweeps (dlcm-sweep status --sweep NAME for one)\n", a->db_path, n);
                print_sweep_list(stdout, all, n);
                rc = 0;
            }
            free(all);
            goto out;
        }
        free(all);
    }
    int picked = sweep_pick(db, a, name, sizeof name, &sweep_id);
    if (picked) { rc = picked; goto out; }
    SweepCounts c;
    if (sweeps_counts(db, sweep_id, &c, err, sizeof err)) { fprintf(stderr, "dlcm-sweep: %s\n", err); goto out; }
    SweepPhaseTotals phases;
    if (sweeps_phase_totals(db, sweep_id, &phases, err, sizeof err)) { fprintf(stderr, "dlcm-sweep: %s\n", err); goto out; }
    if (a->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "sweep", json_object_new_string(name));
        json_object_object_add(o, "runs", json_object_new_int(c.total));
        json_object_object_add(o, "done", json_object_new_int(c.done));
        json_object_object_add(o, "running", json_object_new_int(c.running));
        json_object_object_add(o, "queued", json_object_new_int(c.queued));
        json_object_object_add(o, "failed", json_object_new_int(c.failed));
        json_object_object_add(o, "diverged", json_object_new_int(c.diverged));
        json_object_object_add(o, "cancelled", json_object_new_int(c.total - c.done - c.running - c.queued - c.failed - c.diverged));
        json_object_object_add(o, "tokens_planned", json_object_new_int64(c.tokens_planned));
        json_object_object_add(o, "tokens_done", json_object_new_int64(c.tokens_done));
        json_object_object_add(o, "tokens_per_s", json_object_new_double(c.tokens_per_s));
        json_object_object_add(o, "wall_time", phase_json(&phases));
        if (a->list_runs) {
            RunPrinter p = {json_object_new_array()};
            json_object_object_add(o, "run_list", p.array);
            if (study_list_runs(db, sweep_id, print_run_row, &p, err, sizeof err)) {
                fprintf(stderr, "dlcm-sweep: %s\n", err);
                json_object_put(o);
                goto out;
            }
        }
        rc = print_json(o);
        goto out;
    }
    local_format_status(name, c.done, c.running, c.failed, c.diverged, c.queued, c.tokens_per_s,
                        (double)(c.tokens_planned - c.tokens_done), line, sizeof line);
    int cancelled = c.total - c.done - c.running - c.queued - c.failed - c.diverged;
    printf("%s\n%d runs%s%.0d%s, %lld of %lld planned tokens trained (%.1f%%)\n", line, c.total,
           cancelled ? " (" : "", cancelled, cancelled ? " cancelled)" : "", (long long)c.tokens_done,
           (long long)c.tokens_planned, c.tokens_planned > 0 ? 100.0 * c.tokens_done / c.tokens_planned : 0.0);
    print_phase_line(&phases);
    if (a->list_runs) {
        printf("%-16s %-9s %-5s %10s %4s %5s %10s %9s %4s %13s %3s %8s %s\n", "id", "status", "fam", "N", "R", "P",
               "budget", "lr", "seed", "steps", "try", "loss", "error (the trainer's last stderr line)");
        RunPrinter p = {NULL};
        if (study_list_runs(db, sweep_id, print_run_row, &p, err, sizeof err)) {
            fprintf(stderr, "dlcm-sweep: %s\n", err);
            goto out;
        }
    }
    rc = fflush(stdout) != 0 ? SWEEP_EXIT_FAILED : 0;
out:
    db_close(db);
    return rc;
}

/* ---- show -------------------------------------------------------------------------------- */

typedef struct {
    char *config, *stderr_tail;
} ShowState;

static void print_field(void *ctx, const char *name, const char *value)
{
    ShowState *s = ctx;
    if (strcmp(name, "config") == 0) { s->config = strdup(value); return; }
    if (strcmp(name, "stderr_tail") == 0) { s->stderr_tail = strdup(value); return; }
    printf("  %-16s %s\n", name, value);
}

typedef struct {
    int n, n_val;
    int64_t first_step, last_step;
    double first_loss, last_loss, min_loss, last_val, min_val;
    double loss[4096];
} CurveSummary;

static void add_point(void *ctx, int64_t step, int64_t tokens, double train_loss, double val_loss)
{
    CurveSummary *c = ctx;
    if (!isnan(train_loss)) {
        if (c->n == 0) { c->first_step = step; c->first_loss = train_loss; c->min_loss = train_loss; }
        if (train_loss < c->min_loss) c->min_loss = train_loss;
        c->last_step = step;
        c->last_loss = train_loss;
        if (c->n < 4096) c->loss[c->n] = train_loss;
        c->n++;
    }
    if (!isnan(val_loss)) {
        if (c->n_val == 0 || val_loss < c->min_val) c->min_val = val_loss;
        c->last_val = val_loss;
        c->n_val++;
    }
}

/* The training loss as a line of block characters, low to high (at most 48 columns). */
static void sparkline(const CurveSummary *c, char *buf, size_t n)
{
    static const char *const blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
    int points = c->n < 4096 ? c->n : 4096, width = points < 48 ? points : 48;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < points; i++) {
        if (c->loss[i] < lo) lo = c->loss[i];
        if (c->loss[i] > hi) hi = c->loss[i];
    }
    buf[0] = '\0';
    size_t used = 0;
    for (int col = 0; col < width && used + 4 < n; col++) {
        double v = c->loss[(int)((double)col * points / width)];
        int level = hi > lo ? (int)((v - lo) / (hi - lo) * 7.999) : 0;
        used += (size_t)snprintf(buf + used, n - used, "%s", blocks[level]);
    }
}

int sweep_cmd_show(const Args *a)
{
    sqlite3 *db = open_existing(a->db_path, 0);
    if (!db) return SWEEP_EXIT_BAD;
    char id[64], err[512];
    int rc = SWEEP_EXIT_FAILED;
    ShowState s = {NULL, NULL};
    static CurveSummary curve;
    memset(&curve, 0, sizeof curve);
    int found = study_find_run(db, a->file, id, sizeof id, err, sizeof err);
    if (found) {
        fprintf(stderr, "dlcm-sweep show: %s: %s\n", a->db_path, err);
        rc = found > 0 ? SWEEP_EXIT_BAD : SWEEP_EXIT_FAILED;
        goto out;
    }
    printf("run %s\n", id);
    if (study_run_fields(db, id, print_field, &s, err, sizeof err) ||
        study_run_curve(db, id, add_point, &curve, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep show: %s\n", err);
        goto out;
    }
    printf("curve:\n");
    if (curve.n == 0 && curve.n_val == 0) printf("  no metrics recorded yet\n");
    if (curve.n) {
        char spark[256];
        sparkline(&curve, spark, sizeof spark);
        printf("  train loss     %.4f at step %lld -> %.4f at step %lld (min %.4f, %d points)\n  %s\n",
               curve.first_loss, (long long)curve.first_step, curve.last_loss, (long long)curve.last_step,
               curve.min_loss, curve.n, spark);
    }
    if (curve.n_val) printf("  val loss       last %.4f, min %.4f (%d evaluations)\n", curve.last_val, curve.min_val,
                            curve.n_val);
    printf("config:\n");
    for (char *line = s.config ? strtok(s.config, "\n") : NULL; line; line = strtok(NULL, "\n"))
        if (line[0] != '#') printf("  %s\n", line);
    if (s.stderr_tail && s.stderr_tail[0]) {
        char message[300];
        sweep_stderr_message(s.stderr_tail, message, sizeof message);
        printf("trainer's message: %s\nstderr tail:\n", message);
        const char *p = s.stderr_tail;
        int lines = 0;
        for (const char *q = p; *q; q++) lines += *q == '\n';
        for (; *p && lines > 20; p++)
            if (*p == '\n') lines--;
        printf("%s%s", p, p[0] && p[strlen(p) - 1] != '\n' ? "\n" : "");
    }
    rc = fflush(stdout) != 0 ? SWEEP_EXIT_FAILED : 0;
out:
    free(s.config);
    free(s.stderr_tail);
    db_close(db);
    return rc;
}

/* ---- cancel and tag ------------------------------------------------------------------------ */

typedef struct {
    char (*dirs)[1024];
    char (*ids)[64];
    int n, cap;
} RunningList;

static void add_running(void *ctx, const char *id, const char *out_dir)
{
    RunningList *l = ctx;
    if (l->n < l->cap) {
        snprintf(l->ids[l->n], 64, "%s", id);
        snprintf(l->dirs[l->n], 1024, "%s", out_dir ? out_dir : "");
        l->n++;
    }
}

/* Cancels the Slurm job of a run that has one (its run directory holds slurm-job). */
static void scancel_run(const char *out_dir)
{
    RunPaths paths;
    run_paths(out_dir, &paths);
    char job[128] = "";
    FILE *f = fopen(paths.slurm_job, "r");
    if (!f) return;
    if (!fgets(job, sizeof job, f)) job[0] = '\0';
    fclose(f);
    job[strcspn(job, " \r\n")] = '\0';
    if (!job[0]) return;
    const char *argv[] = {"scancel", job, NULL};
    char out[512], err[256];
    int rc = spawn_capture(argv, out, sizeof out, err, sizeof err);
    if (rc) fprintf(stderr, "dlcm-sweep: scancel %s: %s\n", job, rc < 0 ? err : out);
    else fprintf(stderr, "dlcm-sweep: scancel %s\n", job);
}

int sweep_cmd_cancel(const Args *a)
{
    sqlite3 *db = open_existing(a->db_path, 1);
    if (!db) return SWEEP_EXIT_BAD;
    char name[256], err[512];
    int64_t sweep_id;
    int rc = sweep_pick(db, a, name, sizeof name, &sweep_id);
    if (rc) goto out;
    rc = SWEEP_EXIT_FAILED;
    static char dirs[1024][1024], ids[1024][64];
    RunningList running = {dirs, ids, 0, 1024};
    if (sweeps_list(db, sweep_id, "running", add_running, &running, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        goto out;
    }
    int total = 0, n;
    for (int i = 0; i < (a->n_positional ? a->n_positional : 1); i++) {
        const char *run = a->n_positional ? a->positional[i] : NULL;
        char full[64];
        if (run) {
            int found = study_find_run(db, run, full, sizeof full, err, sizeof err);
            if (found) {
                fprintf(stderr, "dlcm-sweep cancel: %s\n", err);
                rc = found > 0 ? SWEEP_EXIT_BAD : SWEEP_EXIT_FAILED;
                goto out;
            }
            run = full;
        }
        if (study_cancel(db, sweep_id, run, &n, err, sizeof err)) {
            fprintf(stderr, "dlcm-sweep: %s\n", err);
            goto out;
        }
        total += n;
        for (int j = 0; j < running.n; j++)
            if (!run || strcmp(running.ids[j], run) == 0) scancel_run(running.dirs[j]);
    }
    printf("sweep %s: %d run(s) cancelled; a scheduler running them stops their trainers at its next poll\n", name,
           total);
    rc = 0;
out:
    db_close(db);
    return rc;
}

int sweep_cmd_tag(const Args *a)
{
    if (!a->tags && !a->note) {
        fprintf(stderr, "dlcm-sweep tag: give --tag T,... and/or --note TEXT\nusage: dlcm-sweep tag [--sweep NAME] [RUN ...] "
                        "[--tag T,...] [--note TEXT]\n");
        return SWEEP_EXIT_BAD;
    }
    sqlite3 *db = open_existing(a->db_path, 1);
    if (!db) return SWEEP_EXIT_BAD;
    char name[256], err[512];
    int64_t sweep_id;
    int rc = sweep_pick(db, a, name, sizeof name, &sweep_id);
    if (rc) goto out;
    for (int i = 0; i < (a->n_positional ? a->n_positional : 1); i++) {
        char full[64];
        const char *run = NULL;
        if (a->n_positional) {
            int found = study_find_run(db, a->positional[i], full, sizeof full, err, sizeof err);
            if (found) {
                fprintf(stderr, "dlcm-sweep tag: %s\n", err);
                rc = found > 0 ? SWEEP_EXIT_BAD : SWEEP_EXIT_FAILED;
                goto out;
            }
            run = full;
        }
        int labelled = study_label(db, sweep_id, run, a->tags, a->note, err, sizeof err);
        if (labelled) {
            fprintf(stderr, "dlcm-sweep tag: %s\n", err);
            rc = labelled > 0 ? SWEEP_EXIT_BAD : SWEEP_EXIT_FAILED;
            goto out;
        }
    }
    rc = 0;
out:
    db_close(db);
    return rc;
}
