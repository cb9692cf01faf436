/* sweep/local.c: the local scheduler loop: claim queued runs into free slots, start trainers
 * (fork/exec, one GPU each via CUDA_VISIBLE_DEVICES, or the CPU), heartbeat them, record how
 * they ended, requeue runs whose scheduler died, and keep a status line. */
#include "sweep/local.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "db/db.h"
#include "db/study.h"
#include "db/sweeps.h"
#include "sweep/launch.h"
#include "sweep/mps.h"
#include "sweep/packing.h"
#include "sweep/plan.h"
#include "util/spawn.h"
#include "util/duration.h"

#define MAX_SLOTS 256

typedef struct {
    pid_t pid; /* 0: free */
    char id[64];
    char out_dir[1024];
    int device;   /* index into the GPU list; -1 on the CPU */
    double memory;
    int per_gpu;  /* how many runs may share its GPU (its limit, automatic or --max-per-gpu) */
    double flops_per_token; /* planned training FLOPs per token: its throughput in FLOP/s */
    int64_t tokens_done;
    double tokens_per_s;
    int64_t rate_tokens;  /* tokens done at rate_time: throughput when the trainer reports none */
    double rate_time;
    int cancelled;        /* cancelled from outside (dlcm-sweep cancel): its trainer was stopped */
} Slot;

static volatile sig_atomic_t stop_requested = 0;
static void on_stop_signal(int sig) { stop_requested = sig; }

void local_options_default(LocalOptions *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->trainer = "bin/dlcm-train";
    opt->max_per_gpu = 0;
    opt->mps = 1;
    opt->cpu_workers = 1;
    opt->heartbeat_s = 5;
    opt->stale_after_s = 60;
    opt->max_attempts = 3;
    opt->status_out = stderr;
    opt->status_every_s = 30;
    opt->stop_grace_s = 30;
}

int local_detect_gpus(int *ids, double *mem_bytes, int max)
{
    const char *argv[] = {"nvidia-smi", "--query-gpu=index,memory.total", "--format=csv,noheader,nounits", NULL};
    char out[8192], err[256];
    if (spawn_capture(argv, out, sizeof out, err, sizeof err) != 0) return 0;
    int n = 0;
    for (char *line = strtok(out, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        int index;
        double mib;
        if (sscanf(line, "%d, %lf", &index, &mib) == 2) {
            ids[n] = index;
            mem_bytes[n] = mib * 1024.0 * 1024.0;
            n++;
        }
    }
    return n;
}

void local_format_status(const char *sweep_name, int done, int running, int failed, int diverged, int queued,
                         double tokens_per_s, double tokens_left, char *buf, int buflen)
{
    char eta[32];
    format_duration(tokens_per_s > 0 ? tokens_left / tokens_per_s : NAN, eta, sizeof eta);
    if (running == 0 && queued == 0) /* nothing left to run: no rate, no ETA */
        snprintf(buf, buflen, "%s: done %d  running 0  failed %d  diverged %d  queued 0 | finished", sweep_name, done,
                 failed, diverged);
    else
        snprintf(buf, buflen, "%s: done %d  running %d  failed %d  diverged %d  queued %d | %.3gk tok/s | ETA %s",
                 sweep_name, done, running, failed, diverged, queued, tokens_per_s / 1000.0, eta);
}

/* What the deadline's claims go by: the aggregate training FLOP/s of the runs sharing a device,
 * the most seen at a heartbeat of this scheduler; before one is seen, what finished runs in the
 * database suggest (their mean FLOP/s per run times the runs a device holds at most). */
typedef struct {
    double aggregate;     /* measured here; 0: not yet */
    double per_run_mean;  /* finished runs (sweeps_measured_flops_per_s); 0: none */
} Throughput;

typedef struct {
    const LocalOptions *opt;
    Slot *slots;
    int device;              /* the GPU being filled; -1: CPU */
    double deadline_at;      /* monotonic time of the deadline; 0: none */
    const Throughput *throughput;
    int deferred;            /* runs passed over because they could not end before the deadline */
} FitContext;

/* Seconds a run would take sharing its device with per_device runs (it gets that share of the
 * aggregate); 0 when nothing has been measured. */
static double run_seconds(const LocalOptions *opt, const Throughput *t, double run_flops, int per_device, int device)
{
    int most = device < 0 ? opt->cpu_workers : (opt->max_per_gpu > 0 ? opt->max_per_gpu : PACK_MAX_PER_GPU);
    double aggregate = t->aggregate > 0 ? t->aggregate : t->per_run_mean * most;
    if (!(aggregate > 0)) return 0;
    return run_flops * (device < 0 ? opt->cpu_workers : per_device) / aggregate;
}

/* How many runs may share a GPU with this one: --max-per-gpu, or the automatic choice. */
static int run_per_gpu(const LocalOptions *opt, const ClaimedRun *run, int device, PackChoice *choice)
{
    int64_t batch = run->steps > 0 ? run->tokens / run->steps : run->tokens;
    ModelShape shape = sweep_model_shape(&run->shape);
    *choice = pack_choice(&shape, batch, run->tokens, run->train_flops, device >= 0 ? opt->gpu_mem_bytes[device] : 0);
    return opt->max_per_gpu > 0 ? opt->max_per_gpu : choice->per_gpu;
}

/* Whether a claimed run fits on the device next to what already runs there, and (with a
 * deadline) can end before it. */
static int run_fits(void *ctx_ptr, const ClaimedRun *run)
{
    FitContext *ctx = ctx_ptr;
    PackChoice choice;
    int per_gpu = run_per_gpu(ctx->opt, run, ctx->device, &choice);
    if (ctx->deadline_at > 0 &&
        monotonic_seconds() + run_seconds(ctx->opt, ctx->throughput, choice.run_flops, per_gpu, ctx->device) > ctx->deadline_at) {
        ctx->deferred++; /* started now, it would be stopped half done */
        return 0;
    }
    if (ctx->device < 0) return 1;
    int count = 0;
    double used = 0;
    for (int i = 0; i < MAX_SLOTS; i++)
        if (ctx->slots[i].pid && ctx->slots[i].device == ctx->device) {
            count++;
            used += ctx->slots[i].memory;
            if (ctx->slots[i].per_gpu < per_gpu) per_gpu = ctx->slots[i].per_gpu;
        }
    if (count == 0) return 1; /* an empty GPU takes anything: the estimate is only a guide */
    double capacity = ctx->opt->gpu_mem_bytes[ctx->device];
    if (capacity <= 0 || count >= per_gpu) return 0;
    return used + choice.memory <= 0.9 * capacity;
}

static int slots_for_device(const Slot *slots, int device)
{
    int n = 0;
    for (int i = 0; i < MAX_SLOTS; i++)
        if (slots[i].pid && slots[i].device == device) n++;
    return n;
}

/* One line about one event, above the live status line. */
static void print_event(const LocalOptions *opt, int tty, const char *what, const char *run_id)
{
    if (!opt->status_out) return;
    if (tty) fputs("\r\033[K", opt->status_out);
    fprintf(opt->status_out, "%s %s\n", what, run_id);
    fflush(opt->status_out);
}

/* Starts the claimed run in slot s. On failure to start, the run is recorded failed. */
static int start_run(sqlite3 *db, const LocalOptions *opt, const ClaimedRun *run, Slot *slot, int device,
                     char *err, int errlen)
{
    char inner[1024];
    RunPaths paths;
    run_paths(run->out_dir, &paths);
    if (launch_prepare(db, run->id, run->out_dir, inner, sizeof inner))
        return sweeps_finish(db, run->id, "failed", inner, NULL, opt->max_attempts, err, errlen);
    const char *argv[12];
    launch_argv(opt->trainer, run->id, run->out_dir, &paths, device >= 0 ? "cuda" : "cpu", argv);
    char visible[64];
    if (device >= 0) snprintf(visible, sizeof visible, "CUDA_VISIBLE_DEVICES=%d", opt->gpu_ids[device]);
    else snprintf(visible, sizeof visible, "CUDA_VISIBLE_DEVICES=");
    const char *env[] = {visible, NULL};
    SpawnSpec spec = {.argv = argv, .env_set = env, .stdout_path = paths.stdout_log, .stderr_path = paths.stderr_log,
                      .lock_path = paths.lock, .parent_death_signal = LAUNCH_PARENT_DEATH_SIGNAL};
    pid_t pid = spawn_process(&spec, inner, sizeof inner);
    if (pid < 0) return sweeps_finish(db, run->id, "failed", inner, NULL, opt->max_attempts, err, errlen);
    memset(slot, 0, sizeof *slot);
    slot->pid = pid;
    snprintf(slot->id, sizeof slot->id, "%s", run->id);
    snprintf(slot->out_dir, sizeof slot->out_dir, "%s", run->out_dir);
    slot->device = device;
    PackChoice choice;
    slot->per_gpu = run_per_gpu(opt, run, device, &choice);
    slot->memory = choice.memory;
    slot->flops_per_token = run->tokens > 0 ? choice.run_flops / (double)run->tokens : 0;
    slot->tokens_per_s = -1;
    return 0;
}

/* Fills free slots with queued runs. *deferred counts the queued runs passed over because they
 * could not end before the deadline. 0, or -1 with err. */
static int fill_slots(sqlite3 *db, int64_t sweep_id, const LocalOptions *opt, Slot *slots, int tty,
                      double deadline_at, const Throughput *throughput, int *deferred, char *err, int errlen)
{
    int n_devices = opt->n_gpus > 0 ? opt->n_gpus : 1;
    *deferred = 0;
    for (int d = 0; d < n_devices; d++) {
        int device = opt->n_gpus > 0 ? d : -1;
        int limit = opt->n_gpus > 0 ? (opt->max_per_gpu > 0 ? opt->max_per_gpu : PACK_MAX_PER_GPU) : opt->cpu_workers;
        while (slots_for_device(slots, device) < limit) {
            int free_slot = -1;
            for (int i = 0; i < MAX_SLOTS && free_slot < 0; i++)
                if (!slots[i].pid) free_slot = i;
            if (free_slot < 0) return 0;
            FitContext ctx = {opt, slots, device, deadline_at, throughput, 0};
            ClaimedRun run;
            int claimed = sweeps_claim(db, sweep_id, run_fits, &ctx, &run, err, errlen);
            if (ctx.deferred > *deferred) *deferred = ctx.deferred;
            if (claimed < 0) return -1;
            if (claimed == 0) break;
            if (start_run(db, opt, &run, &slots[free_slot], device, err, errlen)) return -1;
            if (slots[free_slot].pid && strcmp(slots[free_slot].id, run.id) == 0) {
                char what[64];
                if (device >= 0 && opt->max_per_gpu == 0)
                    snprintf(what, sizeof what, "%s (up to %d per GPU)", run.attempts > 1 ? "restarted" : "started",
                             slots[free_slot].per_gpu);
                else
                    snprintf(what, sizeof what, "%s", run.attempts > 1 ? "restarted" : "started");
                print_event(opt, tty, what, run.id);
            }
        }
    }
    return 0;
}

static int running_slots(const Slot *slots)
{
    int n = 0;
    for (int i = 0; i < MAX_SLOTS; i++)
        if (slots[i].pid) n++;
    return n;
}

/* Each running run: copy its new metrics and progress into the main database (so curves are
 * visible while it trains), stop its trainer if the run was cancelled, and heartbeat it. */
static int heartbeat(sqlite3 *db, Slot *slots, char *err, int errlen)
{
    RunHeartbeat progress[MAX_SLOTS];
    int n = 0;
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (!slots[i].pid) continue;
        RunPaths paths;
        run_paths(slots[i].out_dir, &paths);
        char status[32];
        if (!slots[i].cancelled && sweeps_run_status(db, slots[i].id, status, sizeof status, err, errlen) == 0 &&
            strcmp(status, "cancelled") == 0) {
            kill(slots[i].pid, SIGTERM);
            slots[i].cancelled = 1;
        }
        if (study_copy_progress(db, slots[i].id, paths.run_db, err, errlen)) return -1;
        int64_t tokens;
        double rate, now = monotonic_seconds();
        if (sweeps_run_progress(paths.run_db, slots[i].id, &tokens, &rate) == 0) {
            /* A trainer that reports no throughput: measured here from its progress. */
            if (rate < 0 && slots[i].rate_time > 0 && tokens > slots[i].rate_tokens && now > slots[i].rate_time)
                rate = (double)(tokens - slots[i].rate_tokens) / (now - slots[i].rate_time);
            if (tokens != slots[i].rate_tokens || slots[i].rate_time <= 0) {
                slots[i].rate_tokens = tokens;
                slots[i].rate_time = now;
            }
            slots[i].tokens_done = tokens;
            if (rate >= 0) slots[i].tokens_per_s = rate;
        }
        snprintf(progress[n].id, sizeof progress[n].id, "%s", slots[i].id);
        progress[n].tokens_done = slots[i].tokens_done > 0 ? slots[i].tokens_done : -1;
        progress[n].tokens_per_s = slots[i].tokens_per_s;
        n++;
    }
    return sweeps_heartbeat(db, progress, n, err, errlen);
}

/* The training FLOP/s of the busiest device now: the sum over its runs of their last reported
 * tokens/s times their FLOPs per token. */
static double aggregate_flops_per_s(const Slot *slots, const LocalOptions *opt)
{
    double best = 0;
    int n_devices = opt->n_gpus > 0 ? opt->n_gpus : 1;
    for (int d = 0; d < n_devices; d++) {
        int device = opt->n_gpus > 0 ? d : -1;
        double sum = 0;
        for (int i = 0; i < MAX_SLOTS; i++)
            if (slots[i].pid && slots[i].device == device && slots[i].tokens_per_s > 0)
                sum += slots[i].tokens_per_s * slots[i].flops_per_token;
        if (sum > best) best = sum;
    }
    return best;
}

static void show_status(sqlite3 *db, int64_t sweep_id, const char *name, const LocalOptions *opt, int tty,
                        int final_line)
{
    if (!opt->status_out) return;
    static double started = -1;
    if (started < 0) started = monotonic_seconds();
    SweepCounts c;
    char err[256], line[256], elapsed[24];
    if (sweeps_counts(db, sweep_id, &c, err, sizeof err)) return;
    local_format_status(name, c.done, c.running, c.failed, c.diverged, c.queued, c.tokens_per_s,
                        (double)(c.tokens_planned - c.tokens_done), line, sizeof line);
    format_duration(monotonic_seconds() - started, elapsed, sizeof elapsed);
    size_t used = strlen(line);
    snprintf(line + used, sizeof line - used, " | %.0f%% of tokens | elapsed %s",
             c.tokens_planned > 0 ? 100.0 * c.tokens_done / c.tokens_planned : 0.0, elapsed);
    if (tty && !final_line) fprintf(opt->status_out, "\r\033[K%s", line);
    else fprintf(opt->status_out, "%s%s\n", tty ? "\r\033[K" : "", line);
    fflush(opt->status_out);
}

/* The automatic packing of the queued runs, grouped by limit and reason, for the summary. */
typedef struct {
    const LocalOptions *opt;
    int count[PACK_MAX_PER_GPU + 1][4];
    double lo_run[PACK_MAX_PER_GPU + 1][4], hi_run[PACK_MAX_PER_GPU + 1][4];
    double lo_step[PACK_MAX_PER_GPU + 1][4], hi_step[PACK_MAX_PER_GPU + 1][4];
    double hi_mem[PACK_MAX_PER_GPU + 1][4];
} PackSummary;

static void add_to_summary(void *ctx, const ClaimedRun *run)
{
    PackSummary *p = ctx;
    PackChoice c;
    run_per_gpu(p->opt, run, 0, &c);
    int k = c.per_gpu, b = (int)c.bound;
    if (p->count[k][b]++ == 0) {
        p->lo_run[k][b] = p->hi_run[k][b] = c.run_flops;
        p->lo_step[k][b] = p->hi_step[k][b] = c.step_flops;
        p->hi_mem[k][b] = c.memory;
    }
    if (c.run_flops < p->lo_run[k][b]) p->lo_run[k][b] = c.run_flops;
    if (c.run_flops > p->hi_run[k][b]) p->hi_run[k][b] = c.run_flops;
    if (c.step_flops < p->lo_step[k][b]) p->lo_step[k][b] = c.step_flops;
    if (c.step_flops > p->hi_step[k][b]) p->hi_step[k][b] = c.step_flops;
    if (c.memory > p->hi_mem[k][b]) p->hi_mem[k][b] = c.memory;
}

/* Prints how the queued runs will be packed (automatic packing) and why. */
static void print_packing(sqlite3 *db, int64_t sweep_id, const LocalOptions *opt)
{
    if (!opt->status_out || opt->n_gpus == 0) return;
    if (opt->max_per_gpu > 0) {
        fprintf(opt->status_out, "packing: up to %d run(s) per GPU (--max-per-gpu), while their estimated memory fits\n",
                opt->max_per_gpu);
        return;
    }
    static PackSummary p;
    memset(&p, 0, sizeof p);
    p.opt = opt;
    char err[256];
    if (sweeps_each_queued(db, sweep_id, add_to_summary, &p, err, sizeof err)) return;
    fprintf(opt->status_out, "packing: automatic (at most %d per GPU; a GPU holds no more runs than the smallest "
                             "limit among them), GPU memory %.0f GiB:\n",
            PACK_MAX_PER_GPU, opt->gpu_mem_bytes[0] / (1024.0 * 1024.0 * 1024.0));
    for (int k = PACK_MAX_PER_GPU; k >= 1; k--)
        for (int b = 0; b < 4; b++) {
            if (!p.count[k][b]) continue;
            PackChoice c = {k, (PackLimit)b, 0, 0, 0};
            fprintf(opt->status_out,
                    "  %4d queued run(s): up to %d per GPU, bound by %s (%.2g-%.2g FLOPs a step, %.2g-%.2g a run, "
                    "<= %.2g GiB)\n",
                    p.count[k][b], k, pack_reason(&c), p.lo_step[k][b], p.hi_step[k][b], p.lo_run[k][b],
                    p.hi_run[k][b], p.hi_mem[k][b] / (1024.0 * 1024.0 * 1024.0));
        }
    fflush(opt->status_out);
}

int local_run(sqlite3 *db, int64_t sweep_id, const char *sweep_name, const LocalOptions *opt, char *err, int errlen)
{
    static Slot slots[MAX_SLOTS];
    memset(slots, 0, sizeof slots);
    stop_requested = 0;
    struct sigaction sa, old_int, old_term, old_hup;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup); /* a closed terminal stops the sweep like SIGTERM */
    int tty = opt->status_out && isatty(fileno(opt->status_out));
    /* the scheduler's own time around its trainers: small runs make it matter */
    double began = monotonic_seconds(), first_start = -1, last_end = -1;
    MpsDaemon mps = {0}; /* packed runs on a GPU run concurrently only under MPS */
    if (opt->mps && opt->n_gpus > 0 && opt->max_per_gpu != 1) mps_start(&mps, stderr); /* also when quiet */
    print_packing(db, sweep_id, opt);
    double deadline_at = opt->deadline_s > 0 ? monotonic_seconds() + opt->deadline_s : 0;
    Throughput throughput = {0, deadline_at > 0 ? sweeps_measured_flops_per_s(db) : 0};
    if (deadline_at > 0 && opt->status_out) {
        if (throughput.per_run_mean > 0)
            fprintf(opt->status_out, "deadline in %.0f s: a run starts only if it can end before it, at its share of "
                    "the aggregate FLOP/s (until measured here: %.3g FLOP/s per run, from finished runs)\n",
                    opt->deadline_s, throughput.per_run_mean);
        else
            fprintf(opt->status_out, "deadline in %.0f s: a run starts only if it can end before it, at its share of "
                    "the aggregate FLOP/s (not measured yet: the first runs start)\n", opt->deadline_s);
    }

    int rc = 0, any_failed = 0, deadline_hit = 0, deferred = 0;
    double last_beat = -1e9, last_status = -1e9;
    double claims_paused_until = 0; /* after a run found its directory locked by a trainer still exiting */
    int requeued;
    if (sweeps_requeue_stale(db, sweep_id, opt->stale_after_s, &requeued, err, errlen)) {
        rc = -1;
        goto out;
    }
    if (requeued && opt->status_out)
        fprintf(opt->status_out, "requeued %d stale run(s) left running by an earlier scheduler\n", requeued);
    for (;;) {
        if (stop_requested) break;
        if (deadline_at > 0 && monotonic_seconds() >= deadline_at) {
            deadline_hit = 1;
            break;
        }
        if (monotonic_seconds() >= claims_paused_until &&
            fill_slots(db, sweep_id, opt, slots, tty, deadline_at, &throughput, &deferred, err, errlen)) {
            rc = -1;
            break;
        }
        if (first_start < 0 && running_slots(slots) > 0) first_start = monotonic_seconds();

        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < MAX_SLOTS; i++) {
                if (slots[i].pid != pid) continue;
                char outcome[32];
                if (launch_finish(db, slots[i].id, slots[i].out_dir, status, 0, opt->max_attempts, outcome,
                                  sizeof outcome, err, errlen)) {
                    rc = -1;
                    goto out;
                }
                print_event(opt, tty, slots[i].cancelled ? "cancelled" : outcome, slots[i].id);
                last_end = monotonic_seconds();
                if (strcmp(outcome, "locked") == 0) claims_paused_until = monotonic_seconds() + 1.0;
                slots[i].pid = 0;
                if (deadline_at > 0 && strcmp(outcome, "done") == 0)
                    throughput.per_run_mean = sweeps_measured_flops_per_s(db);
            }
        }

        double now = monotonic_seconds();
        if (now - last_beat >= opt->heartbeat_s) {
            if (heartbeat(db, slots, err, errlen)) { rc = -1; break; }
            double busiest = aggregate_flops_per_s(slots, opt);
            if (busiest > throughput.aggregate) throughput.aggregate = busiest;
            if (sweeps_requeue_stale(db, sweep_id, opt->stale_after_s, &requeued, err, errlen)) {
                rc = -1;
                break;
            }
            last_beat = now;
        }
        if (tty ? now - last_status >= 1.0 : now - last_status >= opt->status_every_s) {
            show_status(db, sweep_id, sweep_name, opt, tty, 0);
            last_status = now;
        }
        if (running_slots(slots) == 0) {
            SweepCounts c;
            if (sweeps_counts(db, sweep_id, &c, err, errlen)) { rc = -1; break; }
            /* Runs still marked running belong to another scheduler: wait until they finish or go stale. */
            if (c.queued == 0 && c.running == 0) {
                any_failed = c.failed > 0;
                break;
            }
            /* Nothing runs and what is queued cannot end before the deadline: stop now. */
            if (deferred > 0 && c.running == 0) {
                if (opt->status_out)
                    fprintf(opt->status_out, "deadline: %d queued run(s) cannot end in the %.0f s left; stopping now\n",
                            c.queued, deadline_at - monotonic_seconds());
                deadline_hit = 1;
                break;
            }
        }
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
out:
    /* Stopped (signal, deadline or error): stop our trainers and give their runs back to the queue.
     * SIGTERM makes a trainer checkpoint and exit; at a deadline one that takes longer than the
     * grace is killed (its run resumes from its last checkpoint). */
    for (int i = 0; i < MAX_SLOTS; i++)
        if (slots[i].pid) kill(slots[i].pid, SIGTERM);
    if (deadline_hit && opt->status_out && running_slots(slots))
        fprintf(opt->status_out, "deadline: stopping %d trainer(s); their runs go back to the queue\n",
                running_slots(slots));
    double grace_until = monotonic_seconds() + opt->stop_grace_s;
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (!slots[i].pid) continue;
        int status;
        if (deadline_hit) {
            while (waitpid(slots[i].pid, &status, WNOHANG) == 0) {
                if (monotonic_seconds() >= grace_until) {
                    kill(slots[i].pid, SIGKILL);
                    while (waitpid(slots[i].pid, &status, 0) < 0 && errno == EINTR) {}
                    break;
                }
                struct timespec pause = {0, 20 * 1000 * 1000};
                nanosleep(&pause, NULL);
            }
        } else {
            while (waitpid(slots[i].pid, &status, 0) < 0 && errno == EINTR) {}
        }
        last_end = monotonic_seconds();
        char inner[256], outcome[32];
        /* A trainer that ended its run as it was asked to stop: recorded as it ended. */
        int finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (finished ? launch_finish(db, slots[i].id, slots[i].out_dir, status, 0, opt->max_attempts, outcome,
                                     sizeof outcome, inner, sizeof inner)
                     : sweeps_finish(db, slots[i].id, "queued", NULL, NULL, opt->max_attempts, inner, sizeof inner)) {
            if (rc == 0) {
                snprintf(err, errlen, "%s", inner);
                rc = -1;
            }
        }
        slots[i].pid = 0;
    }
    show_status(db, sweep_id, sweep_name, opt, tty, 1);
    mps_stop(&mps, stderr);
    if (first_start >= 0 && last_end >= first_start) { /* also when quiet, like the MPS lines */
        double ended = monotonic_seconds();
        fprintf(stderr, "schedule: %.2f s in all; the first trainer started after %.2f s, the last ended %.2f s "
                "before the end\n", ended - began, first_start - began, ended - last_end);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    if (rc == 0 && stop_requested) return 2;
    if (rc == 0 && deadline_hit) {
        if (opt->status_out)
            fprintf(opt->status_out, "deadline: stopped (deadline %.0f s); the queued runs resume on the next run\n",
                    opt->deadline_s);
        return 3;
    }
    if (rc == 0 && any_failed) return 1;
    return rc;
}
