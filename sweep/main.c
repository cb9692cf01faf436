/* sweep/main.c: the dlcm-sweep program: plan (table, CSV, JSON), run (local GPUs, CPU or Slurm),
 * status, retry, export, and the Slurm array task's entry point. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/sweeps.h"
#include "sweep/config.h"
#include "sweep/local.h"
#include "sweep/plan.h"
#include "sweep/proc.h"
#include "sweep/slurm.h"

static const char usage[] =
    "usage: dlcm-sweep COMMAND [options]\n"
    "\n"
    "Plans and runs compute-matched sweeps of dlcm and dense models (configs/sweep-*.yaml).\n"
    "\n"
    "commands:\n"
    "  plan FILE [--csv | --json] [--db DB]\n"
    "      Print the expanded runs: id, family, shape, N, P, R, FLOPs per token (inference and\n"
    "      training), tokens D, steps, realized budget and its deviation, estimated time when the\n"
    "      database holds measured throughput. Checks the file; writes nothing.\n"
    "  run FILE [--backend local|slurm] [--gpus LIST|all|none] [run options]\n"
    "      Record the sweep and its runs in the database, then execute them. Completed runs are\n"
    "      skipped; interrupted ones resume from their checkpoints.\n"
    "  status [--sweep NAME] [--runs]\n"
    "      Counts per status; --runs lists every run (failed ones with their error).\n"
    "  retry [--sweep NAME] [--no-run] [run options]\n"
    "      Requeue the failed runs (not diverged ones) and execute them.\n"
    "  export [--sweep NAME] [-o FILE]\n"
    "      CSV of finished runs for dlcm-fit (N, D, loss, R, P, family, budget, ...).\n"
    "\n"
    "options:\n"
    "  --db FILE            the database (default results/dlcm.sqlite)\n"
    "  --runs-dir DIR       run directories (default: runs/ beside the database)\n"
    "  --trainer PATH       the trainer (default: dlcm-train beside this program)\n"
    "  --gpus LIST          GPU indices, e.g. 0,1,3; 'all' (default: those nvidia-smi lists) or\n"
    "                       'none' (CPU backend)\n"
    "  --gpu-mem GIB        memory per GPU for packing (default: from nvidia-smi)\n"
    "  --max-per-gpu N      runs packed on one GPU at most (default 4)\n"
    "  --cpu-workers N      concurrent runs on a CPU-only machine (default 1)\n"
    "  --heartbeat S        seconds between heartbeats (default 5)\n"
    "  --stale-after S      requeue a running run not heard of for S seconds (default 60;\n"
    "                       Slurm: 120)\n"
    "  --max-attempts N     launches per run before it stays failed (default: the sweep's, 3)\n"
    "  --quiet              no status line\n"
    "  slurm: --partition P  --time T  --gpus-per-task N (default 1 with GPUs, else 0)\n"
    "         --cpus-per-task N  --max-parallel N  --poll S (default 5)\n"
    "\n"
    "sweep file (YAML; see configs/sweep-*.yaml):\n"
    "  name, vocab, seq_len, batch_tokens (tokens per step), grad_accum (default 1)\n"
    "  budgets: [C, ...] training FLOPs (D = C / (3 F_fwd) in whole steps, within 1%), or\n"
    "  tokens: [D, ...] fixed training tokens\n"
    "  lr, seed, parametrization (mup | sp): a value or a list; max_attempts (default 3)\n"
    "  shape_rule: {concept_width_ratio, aspect, encoder_share, max_width} for derived shapes\n"
    "  families: a list; each has family (dense | dlcm) and either N (and P for dlcm), from which\n"
    "    the shape is derived, or d_t, n_layers (dense) / d_t, d_c or d_c_ratio, n_enc, n_con,\n"
    "    n_dec (dlcm); R (dlcm); optional ffn_t, ffn_c; any of lr, seed, budgets, tokens,\n"
    "    parametrization to override the sweep's. Every key may be a list: the grid is their product.\n"
    "  trainer: dlcm-train settings given to every run (e.g. data.tokenizer, schedule.kind)\n"
    "\n"
    "exit status: 0 all runs done or diverged; 1 some failed; 2 interrupted; 3 bad input or error.\n";

#define EXIT_BAD 3

typedef struct {
    const char *command, *file, *db_path, *runs_dir, *trainer, *sweep_name, *gpus, *backend, *output;
    const char *partition, *time_limit;
    int csv, json, quiet, list_runs, no_run;
    double gpu_mem_gib, heartbeat_s, stale_after_s, poll_s;
    int max_per_gpu, cpu_workers, max_attempts, gpus_per_task, cpus_per_task, max_parallel;
} Args;

static int parse_number(const char *flag, const char *text, double lo, double *out)
{
    char *end;
    errno = 0;
    double v = text ? strtod(text, &end) : 0;
    if (!text || end == text || *end || errno || !(v >= lo) || !isfinite(v)) {
        fprintf(stderr, "dlcm-sweep: %s needs a number >= %g (got '%s')\n", flag, lo, text ? text : "");
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int(const char *flag, const char *text, int lo, int *out)
{
    double v;
    if (parse_number(flag, text, lo, &v)) return -1;
    if (v != floor(v) || v > INT_MAX) {
        fprintf(stderr, "dlcm-sweep: %s needs an integer (got '%s')\n", flag, text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, Args *a)
{
    memset(a, 0, sizeof *a);
    a->db_path = "results/dlcm.sqlite";
    a->backend = "local";
    a->max_per_gpu = 4;
    a->cpu_workers = 1;
    a->heartbeat_s = 5;
    a->stale_after_s = -1;
    a->poll_s = 5;
    a->gpus_per_task = -1;
    a->cpus_per_task = 1;
    a->command = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int used_value = 1, bad = 0;
        if (strcmp(arg, "--csv") == 0) { a->csv = 1; used_value = 0; }
        else if (strcmp(arg, "--json") == 0) { a->json = 1; used_value = 0; }
        else if (strcmp(arg, "--quiet") == 0) { a->quiet = 1; used_value = 0; }
        else if (strcmp(arg, "--runs") == 0) { a->list_runs = 1; used_value = 0; }
        else if (strcmp(arg, "--no-run") == 0) { a->no_run = 1; used_value = 0; }
        else if (arg[0] == '-' && arg[1] && !value) {
            fprintf(stderr, "dlcm-sweep: %s needs a value (see --help)\n", arg);
            return -1;
        }
        else if (strcmp(arg, "--db") == 0) a->db_path = value;
        else if (strcmp(arg, "--runs-dir") == 0) a->runs_dir = value;
        else if (strcmp(arg, "--trainer") == 0) a->trainer = value;
        else if (strcmp(arg, "--sweep") == 0) a->sweep_name = value;
        else if (strcmp(arg, "--gpus") == 0) a->gpus = value;
        else if (strcmp(arg, "--backend") == 0) a->backend = value;
        else if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0) a->output = value;
        else if (strcmp(arg, "--partition") == 0) a->partition = value;
        else if (strcmp(arg, "--time") == 0) a->time_limit = value;
        else if (strcmp(arg, "--gpu-mem") == 0) bad = parse_number(arg, value, 0.01, &a->gpu_mem_gib);
        else if (strcmp(arg, "--heartbeat") == 0) bad = parse_number(arg, value, 0.01, &a->heartbeat_s);
        else if (strcmp(arg, "--stale-after") == 0) bad = parse_number(arg, value, 0.05, &a->stale_after_s);
        else if (strcmp(arg, "--poll") == 0) bad = parse_number(arg, value, 0.05, &a->poll_s);
        else if (strcmp(arg, "--max-per-gpu") == 0) bad = parse_int(arg, value, 1, &a->max_per_gpu);
        else if (strcmp(arg, "--cpu-workers") == 0) bad = parse_int(arg, value, 1, &a->cpu_workers);
        else if (strcmp(arg, "--max-attempts") == 0) bad = parse_int(arg, value, 1, &a->max_attempts);
        else if (strcmp(arg, "--gpus-per-task") == 0) bad = parse_int(arg, value, 0, &a->gpus_per_task);
        else if (strcmp(arg, "--cpus-per-task") == 0) bad = parse_int(arg, value, 1, &a->cpus_per_task);
        else if (strcmp(arg, "--max-parallel") == 0) bad = parse_int(arg, value, 0, &a->max_parallel);
        else if (arg[0] == '-') {
            fprintf(stderr, "dlcm-sweep: unknown option %s (see --help)\n", arg);
            return -1;
        } else if (!a->file) {
            a->file = arg;
            used_value = 0;
        } else {
            fprintf(stderr, "dlcm-sweep: unexpected argument %s\n", arg);
            return -1;
        }
        if (bad) return -1;
        if (used_value) i++;
    }
    if (strcmp(a->backend, "local") && strcmp(a->backend, "slurm")) {
        fprintf(stderr, "dlcm-sweep: --backend is local or slurm (got '%s')\n", a->backend);
        return -1;
    }
    return 0;
}

/* Reads the whole sweep file (its text is stored with the sweep). */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "dlcm-sweep: %s: cannot open: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 14, len = 0, got;
    char *text = malloc(cap + 1);
    while (text && (got = fread(text + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *grown = cap < (1u << 24) ? realloc(text, 2 * cap + 1) : NULL;
            if (!grown) { free(text); text = NULL; break; }
            text = grown;
            cap *= 2;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (!text || failed) {
        free(text);
        fprintf(stderr, "dlcm-sweep: %s: cannot read\n", path);
        return NULL;
    }
    text[len] = '\0';
    return text;
}

static int load_plan(const char *file, SweepSpec *spec, SweepPlan *plan, char **text)
{
    char err[1024];
    *text = read_text(file);
    if (!*text) return -1;
    if (sweep_config_parse(*text, strlen(*text), file, spec, err, sizeof err) || sweep_plan(spec, plan, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}

/* ---- plan ------------------------------------------------------------------------------ */

/* Training FLOP/s measured by finished runs in the database (0 when none). */
static double measured_flops_per_s(const char *db_path)
{
    if (!db_path || access(db_path, R_OK) != 0) return 0;
    sqlite3 *db = NULL;
    double rate = 0;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT avg(train_flops_per_token * tokens_per_s) FROM runs "
                                   "WHERE status = 'done' AND tokens_per_s > 0", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            rate = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return rate;
}

static void shape_text(const ModelShape *s, char *buf, int n)
{
    if (s->family == FAMILY_DENSE) snprintf(buf, n, "d=%d L=%d", s->d_t, s->n_layers);
    else snprintf(buf, n, "d_t=%d d_c=%d %d/%d/%d", s->d_t, s->d_c, s->n_enc, s->n_con, s->n_dec);
}

static void print_plan_table(const SweepSpec *spec, const SweepPlan *plan, double flops_per_s)
{
    printf("sweep %s: %d runs from %s (batch %lld tokens, T=%d, V=%d)\n", spec->name, plan->n, spec->file,
           (long long)spec->batch_tokens, spec->seq_len, spec->vocab);
    printf("%-16s %-5s %-24s %10s %5s %4s %10s %10s %12s %8s %10s %10s %7s %-3s %9s %s\n", "id", "fam", "shape", "N", "P",
           "R", "F_inf/tok", "F_trn/tok", "D tokens", "steps", "budget", "realized", "dev%", "par", "lr", "seed/est");
    double worst = 0;
    for (int i = 0; i < plan->n; i++) {
        const PlannedRun *r = &plan->runs[i];
        char shape[64], est[32] = "";
        shape_text(&r->shape, shape, sizeof shape);
        if (flops_per_s > 0) {
            double s = r->train_flops / flops_per_s;
            snprintf(est, sizeof est, " ~%.0fs", s);
        }
        printf("%-16s %-5s %-24s %10.4g %5.3f %4.3g %10.4g %10.4g %12lld %8lld %10.4g %10.4g %+7.3f %-3s %9.3g %lld%s\n", r->id,
               sweep_family_name(r->shape.family), shape, (double)r->params.N, r->params.P,
               r->shape.family == FAMILY_DLCM ? r->shape.R : 1.0, r->fwd_flops_per_token, r->train_flops_per_token,
               (long long)r->tokens, (long long)r->steps, r->budget, r->train_flops, r->deviation * 100,
               sweep_param_name(r->param), r->lr, (long long)r->seed, est);
        if (fabs(r->deviation) > worst) worst = fabs(r->deviation);
    }
    printf("largest deviation from a budget: %.3f%% (limit %.3g%%)%s\n", worst * 100, spec->max_deviation * 100,
           flops_per_s > 0 ? "" : "; no measured throughput in the database yet, so no time estimates");
}

static void print_plan_csv(const SweepPlan *plan)
{
    printf("id,family,parametrization,N,P,R,d_t,d_c,n_enc,n_con,n_dec,n_layers,vocab,T,embedding,unembedding,"
           "fwd_flops_per_token,train_flops_per_token,tokens,steps,budget,train_flops,deviation,lr,seed,est_memory_bytes\n");
    for (int i = 0; i < plan->n; i++) {
        const PlannedRun *r = &plan->runs[i];
        const ModelShape *s = &r->shape;
        printf("%s,%s,%s,%lld,%.6g,%.6g,%d,%d,%d,%d,%d,%d,%d,%d,%lld,%lld,%.10g,%.10g,%lld,%lld,%.10g,%.10g,%.6g,%.6g,%lld,%.4g\n",
               r->id, sweep_family_name(s->family), sweep_param_name(r->param), (long long)r->params.N, r->params.P,
               s->family == FAMILY_DLCM ? s->R : 1.0, s->d_t, s->d_c, s->n_enc, s->n_con, s->n_dec, s->n_layers, s->vocab,
               s->seq_len, (long long)r->params.embedding, (long long)r->params.unembedding, r->fwd_flops_per_token,
               r->train_flops_per_token, (long long)r->tokens, (long long)r->steps, r->budget, r->train_flops,
               r->deviation, r->lr, (long long)r->seed, r->est_memory_bytes);
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
        printf("  %s%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE),
               i + 1 < plan->n ? "," : "");
        json_object_put(o);
    }
    printf("]\n");
}

static int cmd_plan(const Args *a)
{
    if (!a->file) { fprintf(stderr, "dlcm-sweep plan: which sweep file?\n"); return EXIT_BAD; }
    static SweepSpec spec;
    SweepPlan plan;
    char *text;
    if (load_plan(a->file, &spec, &plan, &text)) return EXIT_BAD;
    if (a->json) print_plan_json(&spec, &plan);
    else if (a->csv) print_plan_csv(&plan);
    else print_plan_table(&spec, &plan, measured_flops_per_s(a->db_path));
    int bad = fflush(stdout) != 0 || ferror(stdout);
    sweep_plan_free(&plan);
    free(text);
    return bad ? EXIT_BAD : 0;
}

/* ---- shared by run, retry, status, export ----------------------------------------------- */

static sqlite3 *open_db(const char *path)
{
    char err[1024], dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (proc_mkdirs(dir, err, sizeof err)) {
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
    if (proc_mkdirs(base, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        return -1;
    }
    char resolved[PATH_MAX];
    if (!realpath(base, resolved)) {
        fprintf(stderr, "dlcm-sweep: %s: %s\n", base, strerror(errno));
        return -1;
    }
    if ((size_t)snprintf(out, n, "%s/%s", resolved, sweep_name) >= n) {
        fprintf(stderr, "dlcm-sweep: runs directory path too long\n");
        return -1;
    }
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

static int find_sweep(sqlite3 *db, const Args *a, char *name, int namelen, int64_t *sweep_id)
{
    char err[512];
    int rc;
    if (a->sweep_name) {
        snprintf(name, namelen, "%s", a->sweep_name);
        rc = sweeps_find(db, a->sweep_name, sweep_id, err, sizeof err);
    } else {
        rc = sweeps_only(db, name, namelen, sweep_id, err, sizeof err);
    }
    if (rc) fprintf(stderr, "dlcm-sweep: %s: %s\n", a->db_path, err);
    return rc ? -1 : 0;
}

/* Runs the sweep's queued runs on the chosen backend; the process exit code. */
static int execute(const Args *a, sqlite3 *db, int64_t sweep_id, const char *name, int max_attempts)
{
    char trainer[PATH_MAX], runs_dir[PATH_MAX], err[1024];
    if (resolve_trainer(a, trainer, sizeof trainer)) return EXIT_BAD;
    if (runs_dir_for(a, name, runs_dir, sizeof runs_dir)) return EXIT_BAD;
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
                return EXIT_BAD;
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
        if (self_path(self, sizeof self)) { fprintf(stderr, "dlcm-sweep: cannot find my own path\n"); return EXIT_BAD; }
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
        opt.cpu_workers = a->cpu_workers;
        opt.heartbeat_s = a->heartbeat_s;
        if (a->stale_after_s > 0) opt.stale_after_s = a->stale_after_s;
        if (opt.stale_after_s < 3 * opt.heartbeat_s) opt.stale_after_s = 3 * opt.heartbeat_s;
        opt.max_attempts = max_attempts;
        opt.status_out = a->quiet ? NULL : stderr;
        if (!a->quiet)
            fprintf(stderr, "dlcm-sweep: sweep %s on %s%s, runs in %s\n", name,
                    n_gpus ? "GPUs" : "the CPU backend", n_gpus ? "" : " (no GPU found)", runs_dir);
        rc = local_run(db, sweep_id, name, &opt, err, sizeof err);
    }
    if (rc < 0) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        return EXIT_BAD;
    }
    return rc;
}

static int cmd_run(const Args *a)
{
    if (!a->file) { fprintf(stderr, "dlcm-sweep run: which sweep file?\n"); return EXIT_BAD; }
    static SweepSpec spec;
    SweepPlan plan;
    char *text;
    if (load_plan(a->file, &spec, &plan, &text)) return EXIT_BAD;
    int rc = EXIT_BAD;
    char err[1024], runs_dir[PATH_MAX];
    SweepRunRow *rows = NULL;
    char (*dirs)[PATH_MAX + 20] = NULL;
    sqlite3 *db = open_db(a->db_path);
    if (!db) goto out;
    if (runs_dir_for(a, spec.name, runs_dir, sizeof runs_dir)) goto out;
    int64_t sweep_id;
    if (sweeps_record(db, spec.name, a->file, text, &sweep_id, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        goto out;
    }
    rows = calloc(plan.n ? plan.n : 1, sizeof *rows);
    dirs = calloc(plan.n ? plan.n : 1, sizeof *dirs);
    if (!rows || !dirs) { fprintf(stderr, "dlcm-sweep: out of memory\n"); goto out; }
    for (int i = 0; i < plan.n; i++) {
        const PlannedRun *r = &plan.runs[i];
        snprintf(dirs[i], sizeof dirs[i], "%s/%s", runs_dir, r->id);
        rows[i] = (SweepRunRow){r->id, r->config, sweep_param_name(r->param), dirs[i], r->shape, r->params,
                                r->fwd_flops_per_token, r->train_flops_per_token, r->tokens, r->steps, r->budget,
                                r->train_flops, r->lr, r->seed};
    }
    int inserted;
    if (sweeps_insert_runs(db, sweep_id, rows, plan.n, &inserted, err, sizeof err)) {
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
    free(dirs);
    db_close(db);
    sweep_plan_free(&plan);
    free(text);
    return rc;
}

static int cmd_retry(const Args *a)
{
    sqlite3 *db = open_db(a->db_path);
    if (!db) return EXIT_BAD;
    char name[256], err[512];
    int64_t sweep_id;
    int rc = EXIT_BAD, n;
    if (find_sweep(db, a, name, sizeof name, &sweep_id)) goto out;
    if (sweeps_retry_failed(db, sweep_id, &n, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        goto out;
    }
    fprintf(stderr, "dlcm-sweep: sweep %s: %d failed run(s) requeued\n", name, n);
    rc = a->no_run ? 0 : execute(a, db, sweep_id, name, a->max_attempts ? a->max_attempts : 3);
out:
    db_close(db);
    return rc;
}

/* The database of a sweep that was run before (status, export read; they never create one). */
static sqlite3 *open_existing_db(const char *path)
{
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "dlcm-sweep: %s: no such database\n", path);
        return NULL;
    }
    return open_db(path);
}

static int cmd_status(const Args *a)
{
    sqlite3 *db = open_existing_db(a->db_path);
    if (!db) return EXIT_BAD;
    char name[256], err[512], line[256];
    int64_t sweep_id;
    int rc = EXIT_BAD;
    SweepCounts c;
    if (find_sweep(db, a, name, sizeof name, &sweep_id)) goto out;
    if (sweeps_counts(db, sweep_id, &c, err, sizeof err)) { fprintf(stderr, "dlcm-sweep: %s\n", err); goto out; }
    local_format_status(name, c.done, c.running, c.failed, c.diverged, c.queued, c.tokens_per_s,
                        (double)(c.tokens_planned - c.tokens_done), line, sizeof line);
    printf("%s\n%d runs, %lld of %lld planned tokens trained\n", line, c.total, (long long)c.tokens_done,
           (long long)c.tokens_planned);
    if (a->list_runs) {
        sqlite3_stmt *st = db_prepare(db,
                                      "SELECT id, status, family, N, coalesce(R_target, 1), P, budget, attempts, "
                                      "coalesce(final_val_loss, final_train_loss), coalesce(error, '') "
                                      "FROM runs WHERE sweep_id = ?1 ORDER BY rowid",
                                      err, sizeof err);
        if (!st) { fprintf(stderr, "dlcm-sweep: %s\n", err); goto out; }
        sqlite3_bind_int64(st, 1, sweep_id);
        printf("%-16s %-8s %-5s %10s %4s %5s %10s %3s %8s %s\n", "id", "status", "fam", "N", "R", "P", "budget", "try",
               "loss", "error");
        while (sqlite3_step(st) == SQLITE_ROW) {
            char loss[32] = "-";
            if (sqlite3_column_type(st, 8) != SQLITE_NULL) snprintf(loss, sizeof loss, "%.4f", sqlite3_column_double(st, 8));
            printf("%-16s %-8s %-5s %10.4g %4.3g %5.3f %10.4g %3d %8s %.100s\n", sqlite3_column_text(st, 0),
                   sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), sqlite3_column_double(st, 3),
                   sqlite3_column_double(st, 4), sqlite3_column_double(st, 5), sqlite3_column_double(st, 6),
                   sqlite3_column_int(st, 7), loss, sqlite3_column_text(st, 9));
        }
        sqlite3_finalize(st);
    }
    rc = 0;
out:
    db_close(db);
    return rc;
}

static int cmd_export(const Args *a)
{
    sqlite3 *db = open_existing_db(a->db_path);
    if (!db) return EXIT_BAD;
    char name[256], err[512], tmp[PATH_MAX + 16];
    int64_t sweep_id;
    int rc = EXIT_BAD;
    FILE *out = stdout;
    if (find_sweep(db, a, name, sizeof name, &sweep_id)) goto out;
    if (a->output) {
        /* Written beside and renamed: a failed export never leaves half a CSV under the name. */
        snprintf(tmp, sizeof tmp, "%s.tmp", a->output);
        out = fopen(tmp, "w");
        if (!out) {
            fprintf(stderr, "dlcm-sweep: %s: %s\n", tmp, strerror(errno));
            out = stdout;
            goto out;
        }
    }
    if (sweeps_export_csv(db, sweep_id, out, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep: %s\n", err);
        goto out;
    }
    rc = 0;
out:
    if (out != stdout) {
        if (fclose(out) != 0) rc = EXIT_BAD;
        if (rc == 0 && rename(tmp, a->output) != 0) {
            fprintf(stderr, "dlcm-sweep: %s: %s\n", a->output, strerror(errno));
            rc = EXIT_BAD;
        }
        if (rc) unlink(tmp);
    }
    db_close(db);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_BAD : 0;
    }
    if (strcmp(argv[1], "slurm-task") == 0) {
        if (argc != 3) { fprintf(stderr, "usage: dlcm-sweep slurm-task TASKS_FILE (run by sbatch)\n"); return EXIT_BAD; }
        return slurm_task_main(argv[2]);
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    Args a;
    if (parse_args(argc, argv, &a)) return EXIT_BAD;
    if (strcmp(a.command, "plan") == 0) return cmd_plan(&a);
    if (strcmp(a.command, "run") == 0) return cmd_run(&a);
    if (strcmp(a.command, "status") == 0) return cmd_status(&a);
    if (strcmp(a.command, "retry") == 0) return cmd_retry(&a);
    if (strcmp(a.command, "export") == 0) return cmd_export(&a);
    fprintf(stderr, "dlcm-sweep: unknown command '%s' (see --help)\n", a.command);
    return EXIT_BAD;
}
