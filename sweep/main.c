/* sweep/main.c: the dlcm-sweep program: plan (table, CSV, JSON), run (local GPUs, CPU or Slurm),
 * retry, export, and the Slurm array task's entry point; options in sweep/args.c, status, show,
 * cancel and tag in sweep/manage.c. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/study.h"
#include "db/sweeps.h"
#include "sweep/args.h"
#include "sweep/commands.h"
#include "sweep/config.h"
#include "sweep/epochs.h"
#include "sweep/launch.h"
#include "sweep/local.h"
#include "sweep/plan.h"
#include "sweep/preflight.h"
#include "sweep/provenance.h"
#include "sweep/slurm.h"
#include "sweep/version.h"
#include "util/duration.h"
#include "util/fs.h"
#include "util/spawn.h"

static int load_plan(const char *file, SweepSpec *spec, SweepPlan *plan, char **text)
{
    char err[1024];
    size_t len;
    /* The whole sweep file: its text is stored with the sweep. */
    *text = fs_read_file(file, 1 << 24, &len, err, sizeof err);
    if (!*text) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        return -1;
    }
    if (sweep_config_parse(*text, len, file, spec, err, sizeof err) || sweep_plan(spec, plan, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        free(*text);
        *text = NULL;
        return -1;
    }
    if (sweep_plan_epochs(spec, plan, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        sweep_plan_free(plan);
        free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}

/* Aggregate training FLOP/s at which the plan's device time is estimated (what packed small runs
 * reached on one H200, and what the engine aims at). */
static const double reference_flops_per_s[] = {12e12, 25e12, 50e12};

/* The plan's total training FLOPs, and the wall time it takes at each reference rate. */
static void print_plan_totals(FILE *f, const SweepPlan *plan)
{
    double total = 0, most_epochs = 0;
    int known = 0;
    for (int i = 0; i < plan->n; i++) {
        total += plan->runs[i].train_flops;
        if (isfinite(plan->runs[i].epochs)) {
            known++;
            if (plan->runs[i].epochs > most_epochs) most_epochs = plan->runs[i].epochs;
        }
    }
    fprintf(f, "total training FLOPs: %.4g in %d runs; device time at", total, plan->n);
    for (int k = 0; k < 3; k++) {
        char duration[24];
        format_duration(total / reference_flops_per_s[k], duration, sizeof duration);
        fprintf(f, "%s %g TFLOP/s %s", k ? "," : "", reference_flops_per_s[k] / 1e12, duration);
    }
    fprintf(f, " (aggregate)\n");
    if (known) fprintf(f, "epochs: at most %.3g passes over a training shard (%d of %d runs with a known shard)\n",
                       most_epochs, known, plan->n);
    else fprintf(f, "epochs: unknown (no run's training shard could be read)\n");
}

/* ---- plan ------------------------------------------------------------------------------ */

/* Training FLOP/s measured by finished runs in the database (0 when there is none, or no database
 * of ours: plan reads it only for time estimates). */
static double measured_flops_per_s(const char *db_path)
{
    if (!db_path || access(db_path, R_OK) != 0) return 0;
    char err[1024];
    sqlite3 *db = db_open_readonly(db_path, err, sizeof err);
    double rate = db ? sweeps_measured_flops_per_s(db) : 0;
    db_close(db);
    return rate;
}

static void shape_text(const ModelShape *s, char *buf, int n)
{
    if (s->family == FAMILY_DENSE && s->ffn_t) snprintf(buf, n, "d=%d L=%d ffn=%d", s->d_t, s->n_layers, s->ffn_t);
    else if (s->family == FAMILY_DENSE) snprintf(buf, n, "d=%d L=%d", s->d_t, s->n_layers);
    else snprintf(buf, n, "d_t=%d d_c=%d %d/%d/%d", s->d_t, s->d_c, s->n_enc, s->n_con, s->n_dec);
}

static void print_plan_table(const SweepSpec *spec, const SweepPlan *plan, double flops_per_s)
{
    printf("sweep %s: %d runs from %s (batch %lld tokens, T=%d, V=%d)\n", spec->name, plan->n, spec->file,
           (long long)spec->batch_tokens, spec->seq_len, spec->vocab);
    printf("%-16s %-5s %-24s %10s %5s %4s %10s %10s %12s %8s %6s %10s %10s %7s %-3s %9s %s\n", "id", "fam", "shape", "N",
           "P", "R", "F_inf/tok", "F_trn/tok", "D tokens", "steps", "epochs", "budget", "realized", "dev%", "par", "lr",
           "seed/est");
    double worst = 0, total_s = 0;
    for (int i = 0; i < plan->n; i++) {
        const PlannedRun *r = &plan->runs[i];
        char shape[64], est[32] = "";
        shape_text(&r->shape, shape, sizeof shape);
        if (flops_per_s > 0) {
            char duration[24];
            format_duration(r->train_flops / flops_per_s, duration, sizeof duration);
            snprintf(est, sizeof est, " ~%s", duration);
            total_s += r->train_flops / flops_per_s;
        }
        char epochs[16];
        if (isfinite(r->epochs)) snprintf(epochs, sizeof epochs, "%.3g", r->epochs);
        else snprintf(epochs, sizeof epochs, "?");
        printf("%-16s %-5s %-24s %10.4g %5.3f %4.3g %10.4g %10.4g %12lld %8lld %6s %10.4g %10.4g %+7.3f %-3s %9.3g %lld%s\n",
               r->id, sweep_family_name(r->shape.family), shape, (double)r->params.N, r->params.P,
               r->shape.family == FAMILY_DLCM ? r->shape.R : 1.0, r->fwd_flops_per_token, r->train_flops_per_token,
               (long long)r->tokens, (long long)r->steps, epochs, r->budget, r->train_flops, r->deviation * 100,
               sweep_param_name(r->param), r->lr, (long long)r->seed, est);
        if (fabs(r->deviation) > worst) worst = fabs(r->deviation);
    }
    printf("largest deviation from a budget: %.3f%% (limit %.3g%%)%s\n", worst * 100, spec->max_deviation * 100,
           flops_per_s > 0 ? "" : "; no measured throughput in the database yet, so no time estimates");
    if (flops_per_s > 0) {
        char total[24];
        format_duration(total_s, total, sizeof total);
        printf("estimated time: %s of training in all, one run at a time, at the %.3g FLOP/s measured by finished "
               "runs\n", total, flops_per_s);
    }
    printf("epochs: passes over the training shard (at most max_epochs %g; '?': the shard is missing)\n",
           spec->max_epochs);
    print_plan_totals(stdout, plan);
    if (plan->n_pairs) {
        printf("pairs at equal inference FLOPs per token (within %g%%, same tokens):\n", SWEEP_PAIR_TOLERANCE * 100);
        printf("%-16s %-24s %10s  %-16s %-24s %10s %7s %12s\n", "dlcm", "shape", "F_inf/tok", "dense", "shape", "F_inf/tok",
               "dev%", "D tokens");
        for (int i = 0; i < plan->n_pairs; i++) {
            const PlannedRun *a = &plan->runs[plan->pairs[i].dlcm], *b = &plan->runs[plan->pairs[i].dense];
            char shape_a[64], shape_b[64];
            shape_text(&a->shape, shape_a, sizeof shape_a);
            shape_text(&b->shape, shape_b, sizeof shape_b);
            printf("%-16s %-24s %10.4g  %-16s %-24s %10.4g %+7.3f %12lld\n", a->id, shape_a, a->fwd_flops_per_token, b->id,
                   shape_b, b->fwd_flops_per_token, (b->fwd_flops_per_token / a->fwd_flops_per_token - 1) * 100,
                   (long long)b->tokens);
        }
    }
}

static void print_plan_csv(const SweepPlan *plan)
{
    printf("id,family,parametrization,N,P,R,d_t,d_c,n_enc,n_con,n_dec,n_layers,vocab,T,embedding,unembedding,"
           "fwd_flops_per_token,train_flops_per_token,tokens,steps,budget,train_flops,deviation,lr,seed,est_memory_bytes,"
           "epochs\n");
    for (int i = 0; i < plan->n; i++) {
        const PlannedRun *r = &plan->runs[i];
        const ModelShape *s = &r->shape;
        char epochs[32] = "";
        if (isfinite(r->epochs)) snprintf(epochs, sizeof epochs, "%.6g", r->epochs);
        printf("%s,%s,%s,%lld,%.6g,%.6g,%d,%d,%d,%d,%d,%d,%d,%d,%lld,%lld,%.10g,%.10g,%lld,%lld,%.10g,%.10g,%.6g,%.6g,%lld,%.4g,%s\n",
               r->id, sweep_family_name(s->family), sweep_param_name(r->param), (long long)r->params.N, r->params.P,
               s->family == FAMILY_DLCM ? s->R : 1.0, s->d_t, s->d_c, s->n_enc, s->n_con, s->n_dec, s->n_layers, s->vocab,
               s->seq_len, (long long)r->params.embedding, (long long)r->params.unembedding, r->fwd_flops_per_token,
               r->train_flops_per_token, (long long)r->tokens, (long long)r->steps, r->budget, r->train_flops,
               r->deviation, r->lr, (long long)r->seed, r->est_memory_bytes, epochs);
    }
}

static void add_int(json_object *o, const char *key, long long v) { json_object_object_add(o, key, json_object_new_int64(v)); }
static void add_double(json_object *o, const char *key, double v) { json_object_object_add(o, key, json_object_new_double(v)); }
static void add_string(json_object *o, const char *key, const char *v) { json_object_object_add(o, key, json_object_new_string(v)); }

/* The plan as a JSON array, one run's object a line (written by json-c, so names are escaped). */
static void print_plan_json(const SweepSpec *spec, const SweepPlan *plan)
{
    printf("[\n");
    for (int i = 0; i < plan->n; i++) {
        const PlannedRun *r = &plan->runs[i];
        const ModelShape *s = &r->shape;
        json_object *o = json_object_new_object();
        add_string(o, "id", r->id);
        add_string(o, "sweep", spec->name);
        add_string(o, "family", sweep_family_name(s->family));
        add_string(o, "parametrization", sweep_param_name(r->param));
        add_int(o, "N", r->params.N);
        add_double(o, "P", r->params.P);
        add_double(o, "R", s->family == FAMILY_DLCM ? s->R : 1.0);
        add_int(o, "d_t", s->d_t);
        add_int(o, "d_c", s->d_c);
        add_int(o, "n_enc", s->n_enc);
        add_int(o, "n_con", s->n_con);
        add_int(o, "n_dec", s->n_dec);
        add_int(o, "n_layers", s->n_layers);
        add_int(o, "vocab", s->vocab);
        add_int(o, "T", s->seq_len);
        add_int(o, "embedding", r->params.embedding);
        add_int(o, "unembedding", r->params.unembedding);
        add_double(o, "fwd_flops_per_token", r->fwd_flops_per_token);
        add_double(o, "train_flops_per_token", r->train_flops_per_token);
        add_int(o, "tokens", r->tokens);
        add_int(o, "steps", r->steps);
        add_double(o, "budget", r->budget);
        add_double(o, "train_flops", r->train_flops);
        add_double(o, "deviation", r->deviation);
        add_double(o, "lr", r->lr);
        add_int(o, "seed", r->seed);
        add_double(o, "est_memory_bytes", r->est_memory_bytes);
        if (isfinite(r->epochs)) add_double(o, "epochs", r->epochs);
        else json_object_object_add(o, "epochs", NULL);
        for (int k = 0; k < plan->n_pairs; k++)
            if (plan->pairs[k].dlcm == i) add_string(o, "inference_matched_dense", plan->runs[plan->pairs[k].dense].id);
        /* The family's own trainer settings (e.g. model.parser), which the table does not show. */
        int fi = r->family_index >= 0 ? r->family_index : r->partner_of_family;
        if (spec->families[fi].n_trainer) {
            json_object *settings = json_object_new_object();
            for (int k = 0; k < spec->families[fi].n_trainer; k++)
                add_string(settings, spec->families[fi].trainer[k].key, spec->families[fi].trainer[k].value);
            json_object_object_add(o, "family_trainer", settings);
        }
        printf("  %s%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE),
               i + 1 < plan->n ? "," : "");
        json_object_put(o);
    }
    printf("]\n");
}

static int cmd_plan(const Args *a)
{
    if (!a->file) { fprintf(stderr, "dlcm-sweep plan: which sweep file?\n"); return SWEEP_EXIT_BAD; }
    static SweepSpec spec;
    SweepPlan plan;
    char *text;
    if (load_plan(a->file, &spec, &plan, &text)) return SWEEP_EXIT_BAD;
    if (a->json) print_plan_json(&spec, &plan);
    else if (a->csv) print_plan_csv(&plan);
    else print_plan_table(&spec, &plan, measured_flops_per_s(a->db_path));
    int bad = fflush(stdout) != 0 || ferror(stdout);
    /* Planning needs no corpus, but a run would fail without one: say so now. */
    int problems = a->no_check ? 0 : sweep_preflight(&plan, stderr);
    if (problems)
        fprintf(stderr, "dlcm-sweep plan: %d problem(s) with the data these runs need: `run` will refuse the sweep\n",
                problems);
    int refused = 0;
    if (a->extend) {
        /* Read-only: plan writes nothing, and a database not there yet has nothing to extend. */
        char err[1024];
        sqlite3 *db = NULL;
        if (access(a->db_path, R_OK) == 0 && !(db = db_open_readonly(a->db_path, err, sizeof err))) {
            fprintf(stderr, "dlcm-sweep: %s\n", err);
            refused = -1;
        } else {
            refused = sweep_preview_extension(db, &spec, &plan, a->file, text, stdout);
        }
        db_close(db);
    }
    sweep_plan_free(&plan);
    free(text);
    if (refused) return refused > 0 ? SWEEP_EXIT_BAD : SWEEP_EXIT_FAILED;
    return bad ? SWEEP_EXIT_FAILED : 0;
}

/* What `run` checks before it launches, and nothing launched: the plan with its epochs (load_plan
 * refuses a bad one) and the data every run needs. */
static int cmd_preflight(const Args *a)
{
    static SweepSpec spec;
    SweepPlan plan;
    char *text;
    if (load_plan(a->file, &spec, &plan, &text)) return SWEEP_EXIT_BAD;
    int problems = sweep_preflight(&plan, stderr);
    int pairs = plan.n_pairs;
    if (problems)
        fprintf(stderr, "dlcm-sweep preflight: %s: %d problem(s) with the data these runs need: `run` would refuse "
                        "the sweep\n", a->file, problems);
    else
        printf("preflight %s: sweep %s, %d runs (%d pairs at equal inference FLOPs): plan, epochs (at most %g) and "
               "data ok\n", a->file, spec.name, plan.n, pairs, spec.max_epochs);
    print_plan_totals(stdout, &plan);
    sweep_plan_free(&plan);
    free(text);
    return problems ? SWEEP_EXIT_BAD : 0;
}

/* ---- shared by run, retry, status, export ----------------------------------------------- */

/* The database of the commands that write (run, retry). */
static sqlite3 *open_db(const char *path)
{
    char err[1024], dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (fs_mkdirs(dir, err, sizeof err)) {
            fprintf(stderr, "dlcm-sweep: %s\n", err);
            return NULL;
        }
    }
    sqlite3 *db = db_open(path, err, sizeof err);
    if (!db) fprintf(stderr, "dlcm-sweep: %s\n", err);
    return db;
}

/* The absolute runs directory for a sweep: --runs-dir, else runs/ beside the database. */
static int runs_dir_for(const Args *a, const char *sweep_name, char *out, size_t n)
{
    char base[PATH_MAX], err[512];
    if (a->runs_dir) {
        snprintf(base, sizeof base, "%s", a->runs_dir);
    } else {
        snprintf(base, sizeof base, "%s", a->db_path);
        char *slash = strrchr(base, '/');
        if (slash) snprintf(slash + 1, sizeof base - (size_t)(slash + 1 - base), "runs");
        else snprintf(base, sizeof base, "runs");
    }
    if (fs_mkdirs(base, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        return -1;
    }
    char resolved[PATH_MAX];
    if (!realpath(base, resolved)) {
        fprintf(stderr, "dlcm-sweep: %s: %s\n", base, strerror(errno));
        return -1;
    }
    /* Every run directory is this, '/' and a 16-digit id; it must reach the trainer whole. */
    size_t len = strlen(resolved) + 1 + strlen(sweep_name);
    if (len + 1 + 16 > LAUNCH_RUN_DIR_MAX || len >= n) {
        fprintf(stderr, "dlcm-sweep: %s/%s: runs directory too long (%zu characters): run directories in it "
                "would exceed %d\n", resolved, sweep_name, len, LAUNCH_RUN_DIR_MAX);
        return -1;
    }
    snprintf(out, n, "%s/%s", resolved, sweep_name);
    return 0;
}

/* This program's own path, and the trainer next to it. */
static int self_path(char *out, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", out, n - 1);
    if (len <= 0) return -1;
    out[len] = '\0';
    return 0;
}

static int resolve_trainer(const Args *a, char *out, size_t n)
{
    if (a->trainer) {
        if (!realpath(a->trainer, out)) {
            fprintf(stderr, "dlcm-sweep: trainer %s: %s\n", a->trainer, strerror(errno));
            return -1;
        }
    } else {
        char self[PATH_MAX];
        if (self_path(self, sizeof self)) { fprintf(stderr, "dlcm-sweep: cannot find my own path\n"); return -1; }
        char *slash = strrchr(self, '/');
        if (slash) *slash = '\0';
        if ((size_t)snprintf(out, n, "%.4000s/dlcm-train", self) >= n) return -1;
    }
    if (access(out, X_OK) != 0) {
        fprintf(stderr, "dlcm-sweep: trainer %s is not an executable (build it with make, or pass --trainer)\n", out);
        return -1;
    }
    return 0;
}

/* Runs the sweep's queued runs on the chosen backend; the process exit code. */
static int execute(const Args *a, sqlite3 *db, int64_t sweep_id, const char *name, int max_attempts)
{
    char trainer[PATH_MAX], runs_dir[PATH_MAX], err[1024];
    if (resolve_trainer(a, trainer, sizeof trainer)) return SWEEP_EXIT_BAD;
    if (runs_dir_for(a, name, runs_dir, sizeof runs_dir)) return SWEEP_EXIT_BAD;
    int rc;
    int gpu_ids[LOCAL_MAX_DEVICES];
    double gpu_mem[LOCAL_MAX_DEVICES];
    int n_gpus = 0;
    if (!a->gpus || strcmp(a->gpus, "all") == 0) {
        n_gpus = local_detect_gpus(gpu_ids, gpu_mem, LOCAL_MAX_DEVICES);
    } else if (strcmp(a->gpus, "none") != 0) {
        int found = local_detect_gpus(gpu_ids, gpu_mem, LOCAL_MAX_DEVICES);
        char list[512];
        snprintf(list, sizeof list, "%s", a->gpus);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            char *end;
            long id = strtol(tok, &end, 10);
            if (*end || end == tok || id < 0 || n_gpus == LOCAL_MAX_DEVICES) {
                fprintf(stderr, "dlcm-sweep: --gpus: bad GPU index '%s'\n", tok);
                return SWEEP_EXIT_BAD;
            }
            double mem = 0;
            for (int j = 0; j < found; j++)
                if (gpu_ids[j] == id) mem = gpu_mem[j];
            gpu_ids[n_gpus] = (int)id;
            gpu_mem[n_gpus] = mem;
            n_gpus++;
        }
    }
    if (a->gpu_mem_gib > 0)
        for (int i = 0; i < n_gpus; i++) gpu_mem[i] = a->gpu_mem_gib * 1024.0 * 1024.0 * 1024.0;

    if (strcmp(a->backend, "slurm") == 0) {
        SlurmOptions opt;
        slurm_options_default(&opt);
        char self[PATH_MAX];
        if (self_path(self, sizeof self)) { fprintf(stderr, "dlcm-sweep: cannot find my own path\n"); return SWEEP_EXIT_BAD; }
        opt.trainer = trainer;
        opt.self = self;
        opt.runs_dir = runs_dir;
        opt.partition = a->partition;
        opt.time_limit = a->time_limit;
        opt.gpus_per_task = a->gpus_per_task >= 0 ? a->gpus_per_task : (n_gpus > 0 ? 1 : 0);
        opt.cpus_per_task = a->cpus_per_task;
        opt.max_parallel = a->max_parallel;
        opt.poll_s = a->poll_s;
        if (a->stale_after_s > 0) opt.stale_after_s = a->stale_after_s;
        opt.max_attempts = max_attempts;
        opt.status_out = a->quiet ? NULL : stderr;
        rc = slurm_run(db, sweep_id, name, &opt, err, sizeof err);
    } else {
        LocalOptions opt;
        local_options_default(&opt);
        opt.trainer = trainer;
        opt.n_gpus = n_gpus;
        memcpy(opt.gpu_ids, gpu_ids, sizeof gpu_ids);
        memcpy(opt.gpu_mem_bytes, gpu_mem, sizeof gpu_mem);
        opt.max_per_gpu = a->max_per_gpu;
        opt.mps = !a->no_mps;
        opt.cpu_workers = a->cpu_workers;
        opt.heartbeat_s = a->heartbeat_s;
        if (a->stale_after_s > 0) opt.stale_after_s = a->stale_after_s;
        if (opt.stale_after_s < 3 * opt.heartbeat_s) opt.stale_after_s = 3 * opt.heartbeat_s;
        opt.max_attempts = max_attempts;
        opt.status_out = a->quiet ? NULL : stderr;
        opt.status_every_s = a->status_every_s;
        opt.deadline_s = a->deadline_s;
        opt.stop_grace_s = a->stop_grace_s;
        if (!a->quiet)
            fprintf(stderr, "dlcm-sweep: sweep %s on %s%s, runs in %s\n", name,
                    n_gpus ? "GPUs" : "the CPU backend", n_gpus ? "" : " (no GPU found)", runs_dir);
        rc = local_run(db, sweep_id, name, &opt, err, sizeof err);
    }
    if (rc < 0) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        return SWEEP_EXIT_FAILED;
    }
    /* The backends answer 0 all done, 1 some failed, 2 stopped by a signal, 3 by the deadline. */
    return rc == 2 ? SWEEP_EXIT_INTERRUPTED : rc == 3 ? SWEEP_EXIT_DEADLINE : rc;
}

static int cmd_run(const Args *a)
{
    if (!a->file) { fprintf(stderr, "dlcm-sweep run: which sweep file?\n"); return SWEEP_EXIT_BAD; }
    static SweepSpec spec;
    SweepPlan plan;
    char *text;
    if (load_plan(a->file, &spec, &plan, &text)) return SWEEP_EXIT_BAD;
    int rc = SWEEP_EXIT_BAD;
    char err[1024], runs_dir[PATH_MAX];
    SweepRunRow *rows = NULL;
    int *order = NULL;
    char (*dirs)[PATH_MAX + 20] = NULL;
    sqlite3 *db = NULL;
    if (!a->no_check) {
        int problems = sweep_preflight(&plan, stderr);
        if (problems) {
            fprintf(stderr, "dlcm-sweep run: %d problem(s) with the data these runs need: nothing launched "
                            "(--no-check launches anyway)\n", problems);
            goto out;
        }
    }
    db = open_db(a->db_path);
    if (!db) goto out;
    int64_t sweep_id;
    SweepRecordMode mode = a->new_version ? SWEEP_RECORD_NEW_VERSION : a->extend ? SWEEP_RECORD_EXTEND : SWEEP_RECORD_SAME;
    int versioned = sweep_record_version(db, &spec, &plan, a->file, text, mode, &sweep_id);
    if (versioned) {
        rc = versioned > 0 ? SWEEP_EXIT_BAD : SWEEP_EXIT_FAILED;
        goto out;
    }
    if ((a->tags || a->note) && study_label(db, sweep_id, NULL, a->tags, a->note, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        goto out;
    }
    if (runs_dir_for(a, spec.name, runs_dir, sizeof runs_dir)) goto out;
    rows = calloc(plan.n ? plan.n : 1, sizeof *rows);
    dirs = calloc(plan.n ? plan.n : 1, sizeof *dirs);
    if (!rows || !dirs) { fprintf(stderr, "dlcm-sweep: out of memory\n"); goto out; }
    /* Recorded, and so claimed, smallest first (a stable insertion sort on training FLOPs): small
     * runs pack together, and a session that stops at a deadline has finished the most runs. */
    order = calloc(plan.n ? plan.n : 1, sizeof *order);
    if (!order) { fprintf(stderr, "dlcm-sweep: out of memory\n"); goto out; }
    for (int i = 0; i < plan.n; i++) {
        int at = i;
        while (at > 0 && plan.runs[order[at - 1]].train_flops > plan.runs[i].train_flops) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = i;
    }
    for (int i = 0; i < plan.n; i++) {
        const PlannedRun *r = &plan.runs[order[i]];
        snprintf(dirs[i], sizeof dirs[i], "%s/%s", runs_dir, r->id);
        rows[i] = (SweepRunRow){r->id, r->config, sweep_param_name(r->param), dirs[i], sweep_stored_shape(&r->shape),
                                r->params.N, r->params.embedding, r->params.unembedding, r->params.P,
                                r->fwd_flops_per_token, r->train_flops_per_token, r->tokens, r->steps, r->budget,
                                r->train_flops, r->lr, r->seed, r->epochs};
    }
    int inserted;
    if (sweeps_insert_runs(db, sweep_id, rows, plan.n, &inserted, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        goto out;
    }
    if (sweep_record_provenance(db, sweep_id, !a->gpus || strcmp(a->gpus, "none") != 0, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        goto out;
    }
    SweepCounts c;
    if (sweeps_counts(db, sweep_id, &c, err, sizeof err)) { fprintf(stderr, "dlcm-sweep: %s\n", err); goto out; }
    if (!a->quiet)
        fprintf(stderr, "dlcm-sweep: sweep %s: %d planned runs, %d new; %d done, %d diverged, %d failed, %d to run\n",
                spec.name, plan.n, inserted, c.done, c.diverged, c.failed, c.queued + c.running);
    rc = execute(a, db, sweep_id, spec.name, a->max_attempts ? a->max_attempts : spec.max_attempts);
out:
    free(rows);
    free(order);
    free(dirs);
    db_close(db);
    sweep_plan_free(&plan);
    free(text);
    return rc;
}

static int cmd_retry(const Args *a)
{
    sqlite3 *db = open_db(a->db_path);
    if (!db) return SWEEP_EXIT_BAD;
    char name[256], err[512];
    int64_t sweep_id;
    int rc = SWEEP_EXIT_FAILED, n;
    int picked = sweep_pick(db, a, name, sizeof name, &sweep_id);
    if (picked) { rc = picked; goto out; }
    if (sweeps_retry_failed(db, sweep_id, &n, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        goto out;
    }
    fprintf(stderr, "dlcm-sweep: sweep %s: %d failed run(s) requeued\n", name, n);
    if (!a->no_run && sweep_record_provenance(db, sweep_id, !a->gpus || strcmp(a->gpus, "none") != 0, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        goto out;
    }
    rc = a->no_run ? 0 : execute(a, db, sweep_id, name, a->max_attempts ? a->max_attempts : 3);
out:
    db_close(db);
    return rc;
}

/* The database of a sweep that was run before, read-only (status, export: they never create,
 * migrate or otherwise change a file). */
static sqlite3 *open_existing_db(const char *path)
{
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "dlcm-sweep: %s: no such database\n", path);
        return NULL;
    }
    char err[1024];
    sqlite3 *db = db_open_readonly(path, err, sizeof err);
    if (!db) fprintf(stderr, "dlcm-sweep: %s\n", err);
    return db;
}

static int cmd_export(const Args *a)
{
    sqlite3 *db = open_existing_db(a->db_path);
    if (!db) return SWEEP_EXIT_BAD;
    char name[256], err[512];
    int64_t sweep_id;
    int rc = SWEEP_EXIT_FAILED;
    /* Written beside and renamed: a failed export never leaves half a CSV under the name. */
    FsReplace out = {.f = stdout};
    int picked = sweep_pick(db, a, name, sizeof name, &sweep_id);
    if (picked) { rc = picked; goto done; }
    if (a->output && fs_replace_open(&out, a->output, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        goto done;
    }
    if (sweeps_export_csv(db, sweep_id, out.f, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        if (a->output) fs_replace_abort(&out);
        goto done;
    }
    if (a->output && fs_replace_commit(&out, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        goto done;
    }
    rc = 0;
done:
    db_close(db);
    return rc;
}

/* Opens an existing database for writing, which migrates it, and nothing else. */
static int cmd_migrate(const Args *a)
{
    if (access(a->db_path, R_OK) != 0) {
        fprintf(stderr, "dlcm-sweep migrate: %s: no such database\n", a->db_path);
        return SWEEP_EXIT_BAD;
    }
    char err[1024];
    sqlite3 *db = db_open(a->db_path, err, sizeof err);
    if (!db) {
        fprintf(stderr, "dlcm-sweep migrate: %s\n", err);
        return SWEEP_EXIT_BAD;
    }
    printf("migrate: %s is at schema version %d\n", a->db_path, db_schema_version(db));
    db_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "slurm-task") == 0) {
        if (argc != 3) { fprintf(stderr, "usage: dlcm-sweep slurm-task TASKS_FILE (run by sbatch)\n"); return SWEEP_EXIT_BAD; }
        return slurm_task_main(argv[2]);
    }
    Args a;
    int exit_code;
    if (sweep_parse_args(argc, argv, &a, &exit_code)) return exit_code;
    if (strcmp(a.command, "plan") == 0) return cmd_plan(&a);
    if (strcmp(a.command, "preflight") == 0) return cmd_preflight(&a);
    if (strcmp(a.command, "run") == 0) return cmd_run(&a);
    if (strcmp(a.command, "status") == 0) return sweep_cmd_status(&a);
    if (strcmp(a.command, "show") == 0) return sweep_cmd_show(&a);
    if (strcmp(a.command, "retry") == 0) return cmd_retry(&a);
    if (strcmp(a.command, "cancel") == 0) return sweep_cmd_cancel(&a);
    if (strcmp(a.command, "tag") == 0) return sweep_cmd_tag(&a);
    if (strcmp(a.command, "export") == 0) return cmd_export(&a);
    if (strcmp(a.command, "migrate") == 0) return cmd_migrate(&a);
    fprintf(stderr, "dlcm-sweep: unknown command '%s' (see --help)\n", a.command);
    return SWEEP_EXIT_BAD;
}
