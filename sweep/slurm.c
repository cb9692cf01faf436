/* sweep/slurm.c: submitting queued runs as one sbatch job array, the array task's body, and the
 * collector that watches squeue and the run directories and records finished runs. */
#include "sweep/slurm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/study.h"
#include "db/sweeps.h"
#include "sweep/launch.h"
#include "sweep/local.h"
#include "util/spawn.h"
#include "util/fs.h"

static volatile sig_atomic_t stop_requested = 0;
static void on_stop_signal(int sig) { stop_requested = sig; }

void slurm_options_default(SlurmOptions *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->cpus_per_task = 1;
    opt->poll_s = 5;
    opt->stale_after_s = 120;
    opt->max_attempts = 3;
    opt->status_out = stderr;
}

/* ---- the runs this scheduler is watching ---------------------------------------------- */

typedef struct {
    int n, cap;
    char (*ids)[64];
    char (*dirs)[1024];
} RunList;

static void run_list_add(void *ctx, const char *id, const char *out_dir)
{
    RunList *list = ctx;
    if (list->n == list->cap) {
        int cap = list->cap ? list->cap * 2 : 64;
        void *ids = realloc(list->ids, (size_t)cap * sizeof *list->ids);
        if (!ids) return;
        list->ids = ids;
        void *dirs = realloc(list->dirs, (size_t)cap * sizeof *list->dirs);
        if (!dirs) return;
        list->dirs = dirs;
        list->cap = cap;
    }
    snprintf(list->ids[list->n], sizeof list->ids[0], "%s", id);
    snprintf(list->dirs[list->n], sizeof list->dirs[0], "%s", out_dir);
    list->n++;
}

static void run_list_free(RunList *list)
{
    free(list->ids);
    free(list->dirs);
    memset(list, 0, sizeof *list);
}

static int read_small_file(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t got = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[got] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl) *nl = '\0';
    return 0;
}

/* The set of "JOBID_TASK" that squeue still lists for the given jobs, newline-joined into
 * alive. 0, or -1 when squeue could not answer (then nothing may be concluded). */
static int squeue_alive(const RunList *running, char *alive, size_t alive_cap)
{
    alive[0] = '\0';
    char jobs[4096] = "";
    size_t used = 0;
    for (int i = 0; i < running->n; i++) {
        RunPaths paths;
        char job[128];
        run_paths(running->dirs[i], &paths);
        if (read_small_file(paths.slurm_job, job, sizeof job)) continue;
        char *underscore = strchr(job, '_');
        if (underscore) *underscore = '\0';
        if (strstr(jobs, job) || used + strlen(job) + 2 >= sizeof jobs) continue;
        used += snprintf(jobs + used, sizeof jobs - used, "%s%s", used ? "," : "", job);
    }
    if (!used) return 0;
    const char *argv[] = {"squeue", "-h", "-r", "-o", "%i", "-j", jobs, NULL};
    char err[256];
    int rc = spawn_capture(argv, alive, alive_cap, err, sizeof err);
    if (rc == 0) return 0;
    if (strstr(alive, "Invalid job id")) { /* every job listed has left the queue */
        alive[0] = '\0';
        return 0;
    }
    return -1;
}

static int job_listed(const char *alive, const char *job)
{
    size_t len = strlen(job);
    for (const char *p = strstr(alive, job); p; p = strstr(p + 1, job))
        if ((p == alive || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0')) return 1;
    return 0;
}

/* Records a run whose task wrote slurm-result; 1 when collected, 0 when there is no result yet. */
static int collect_if_finished(sqlite3 *db, const SlurmOptions *opt, const char *id, const char *dir, char *err,
                               int errlen)
{
    RunPaths paths;
    run_paths(dir, &paths);
    char result[128];
    if (read_small_file(paths.slurm_result, result, sizeof result)) return 0;
    int status;
    if (sscanf(result, "status=%d", &status) != 1) return 0; /* still being written */
    char outcome[32];
    if (launch_finish(db, id, dir, status, 0, opt->max_attempts, outcome, sizeof outcome, err, errlen)) return -1;
    unlink(paths.slurm_result);
    unlink(paths.slurm_job);
    if (opt->status_out) fprintf(opt->status_out, "%s %s\n", outcome, id);
    return 1;
}

/* One pass over running runs: collect finished ones, heartbeat live ones, fail lost ones. */
static int watch_running(sqlite3 *db, int64_t sweep_id, const SlurmOptions *opt, char *err, int errlen)
{
    RunList running = {0};
    if (sweeps_list(db, sweep_id, "running", run_list_add, &running, err, errlen)) return -1;
    int rc = 0;
    static char alive[1 << 16];
    int squeue_ok = squeue_alive(&running, alive, sizeof alive) == 0;
    RunHeartbeat *beats = calloc(running.n > 0 ? (size_t)running.n : 1, sizeof *beats);
    int n_beats = 0;
    for (int i = 0; i < running.n && rc == 0 && beats; i++) {
        int got = collect_if_finished(db, opt, running.ids[i], running.dirs[i], err, errlen);
        if (got < 0) { rc = -1; break; }
        if (got) continue;
        RunPaths paths;
        char job[128];
        run_paths(running.dirs[i], &paths);
        if (read_small_file(paths.slurm_job, job, sizeof job)) continue; /* not submitted yet: the heartbeat decides */
        if (!squeue_ok) continue;
        if (job_listed(alive, job)) {
            /* Its curve so far, into the sweep's database (the run directory is on a shared disk). */
            if (study_copy_progress(db, running.ids[i], paths.run_db, err, errlen)) { rc = -1; break; }
            RunHeartbeat *b = &beats[n_beats++];
            snprintf(b->id, sizeof b->id, "%s", running.ids[i]);
            b->tokens_done = -1;
            b->tokens_per_s = -1;
            if (sweeps_run_progress(paths.run_db, running.ids[i], &b->tokens_done, &b->tokens_per_s)) {
                b->tokens_done = -1;
                b->tokens_per_s = -1;
            }
            continue;
        }
        /* Gone from the queue: it may have written its result just now. */
        got = collect_if_finished(db, opt, running.ids[i], running.dirs[i], err, errlen);
        if (got < 0) { rc = -1; break; }
        if (got) continue;
        char tail[2048], error[256];
        fs_read_tail(paths.stderr_log, tail, sizeof tail);
        snprintf(error, sizeof error, "slurm task %s ended without a result (cancelled, time limit or node failure?)", job);
        if (sweeps_finish(db, running.ids[i], "failed", error, tail, opt->max_attempts, err, errlen)) { rc = -1; break; }
        unlink(paths.slurm_job);
        if (opt->status_out) fprintf(opt->status_out, "lost %s (%s)\n", running.ids[i], job);
    }
    if (!beats) { snprintf(err, errlen, "out of memory"); rc = -1; }
    if (rc == 0 && sweeps_heartbeat(db, beats, n_beats, err, errlen)) rc = -1;
    free(beats);
    run_list_free(&running);
    return rc;
}

/* Quotes a path for the one-line batch script: single quotes, refusing paths that hold one. */
static int shell_quote(const char *path, char *out, size_t n, char *err, int errlen)
{
    if (strchr(path, '\'') || strchr(path, '\n')) {
        snprintf(err, errlen, "%s: paths with quotes or newlines cannot go into a batch script", path);
        return -1;
    }
    snprintf(out, n, "'%s'", path);
    return 0;
}

/* Submits every queued run of the sweep as one job array. 0 (also when none is queued) or -1. */
static int submit_queued(sqlite3 *db, int64_t sweep_id, const char *name, const SlurmOptions *opt, char *err,
                         int errlen)
{
    RunList queued = {0};
    if (sweeps_list(db, sweep_id, "queued", run_list_add, &queued, err, errlen)) return -1;
    if (queued.n == 0) return 0;
    int rc = -1;
    char slurm_dir[1100], tasks[1200], script[1200], output[1200];
    snprintf(slurm_dir, sizeof slurm_dir, "%s/slurm", opt->runs_dir);
    if (fs_mkdirs(slurm_dir, err, errlen)) goto out;
    long stamp = (long)time(NULL);
    snprintf(tasks, sizeof tasks, "%s/%s-%ld-%d.tasks", slurm_dir, name, stamp, (int)getpid());
    snprintf(script, sizeof script, "%s/%s-%ld-%d.sh", slurm_dir, name, stamp, (int)getpid());
    snprintf(output, sizeof output, "%s/%%A_%%a.out", slurm_dir);

    size_t cap = 4096, used = 0;
    char *lines = malloc(cap);
    if (!lines) { snprintf(err, errlen, "out of memory"); goto out; }
    for (int i = 0; i < queued.n; i++) {
        /* Sized from the line itself: paths may be as long as the system allows. */
        size_t need = strlen(queued.ids[i]) + strlen(queued.dirs[i]) + strlen(opt->trainer) + 4;
        if (used + need > cap) {
            size_t grown_cap = 2 * (used + need);
            char *grown = realloc(lines, grown_cap);
            if (!grown) {
                snprintf(err, errlen, "out of memory");
                free(lines);
                goto out;
            }
            lines = grown;
            cap = grown_cap;
        }
        if (strpbrk(queued.dirs[i], "\t\n") || strpbrk(opt->trainer, "\t\n")) {
            snprintf(err, errlen, "%s: tabs or newlines in a run path", queued.dirs[i]);
            free(lines);
            goto out;
        }
        if (launch_prepare(db, queued.ids[i], queued.dirs[i], err, errlen)) { free(lines); goto out; }
        used += snprintf(lines + used, cap - used, "%s\t%s\t%s\n", queued.ids[i], queued.dirs[i], opt->trainer);
    }
    int wrote = fs_write_text_atomic(tasks, lines, err, errlen);
    free(lines);
    if (wrote) goto out;
    char self_q[1100], tasks_q[1300], body[3000];
    if (shell_quote(opt->self, self_q, sizeof self_q, err, errlen) || shell_quote(tasks, tasks_q, sizeof tasks_q, err, errlen))
        goto out;
    snprintf(body, sizeof body,
             "#!/bin/sh\n# dlcm-sweep: job array of sweep %s; task i runs line i of the tasks file.\nexec %s slurm-task %s\n",
             name, self_q, tasks_q);
    if (fs_write_text_atomic(script, body, err, errlen) || chmod(script, 0755)) goto out;

    /* Marked running before sbatch: a scheduler killed in between leaves runs that go stale and
     * are requeued, never a submitted run that looks queued. */
    for (int i = 0; i < queued.n; i++)
        if (sweeps_mark_running(db, queued.ids[i], err, errlen)) goto out;

    char job_name[200], array[64], part[200], time_limit[100], gres[64], cpus[64];
    snprintf(job_name, sizeof job_name, "--job-name=dlcm-%s", name);
    if (opt->max_parallel > 0) snprintf(array, sizeof array, "--array=0-%d%%%d", queued.n - 1, opt->max_parallel);
    else snprintf(array, sizeof array, "--array=0-%d", queued.n - 1);
    char output_arg[1300];
    snprintf(output_arg, sizeof output_arg, "--output=%s", output);
    snprintf(cpus, sizeof cpus, "--cpus-per-task=%d", opt->cpus_per_task);
    const char *argv[16];
    int n = 0;
    argv[n++] = "sbatch";
    argv[n++] = "--parsable";
    argv[n++] = job_name;
    argv[n++] = array;
    argv[n++] = output_arg;
    argv[n++] = cpus;
    if (opt->partition) { snprintf(part, sizeof part, "--partition=%s", opt->partition); argv[n++] = part; }
    if (opt->time_limit) { snprintf(time_limit, sizeof time_limit, "--time=%s", opt->time_limit); argv[n++] = time_limit; }
    if (opt->gpus_per_task > 0) { snprintf(gres, sizeof gres, "--gres=gpu:%d", opt->gpus_per_task); argv[n++] = gres; }
    argv[n++] = script;
    argv[n] = NULL;
    char out_text[4096], inner[256];
    int status = spawn_capture(argv, out_text, sizeof out_text, inner, sizeof inner);
    long job_id = status == 0 ? strtol(out_text, NULL, 10) : 0;
    if (job_id <= 0) {
        snprintf(err, errlen, "sbatch failed (%s): %.300s", status < 0 ? inner : "non-zero exit", out_text);
        for (int i = 0; i < queued.n; i++)
            sweeps_finish(db, queued.ids[i], "queued", NULL, NULL, opt->max_attempts, inner, sizeof inner);
        goto out;
    }
    for (int i = 0; i < queued.n; i++) {
        RunPaths paths;
        char job[64];
        run_paths(queued.dirs[i], &paths);
        snprintf(job, sizeof job, "%ld_%d\n", job_id, i);
        if (fs_write_text_atomic(paths.slurm_job, job, err, errlen)) goto out;
    }
    if (opt->status_out) fprintf(opt->status_out, "submitted %d run(s) as job array %ld\n", queued.n, job_id);
    rc = 0;
out:
    run_list_free(&queued);
    return rc;
}

int slurm_run(sqlite3 *db, int64_t sweep_id, const char *sweep_name, const SlurmOptions *opt, char *err, int errlen)
{
    stop_requested = 0;
    struct sigaction sa, old_int, old_term, old_hup;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup); /* a closed terminal stops the sweep like SIGTERM */
    int rc = 0;
    char last_line[256] = "";
    double last_print = 0;
    for (;;) {
        /* Adopt or collect what is running first, so a live task is never requeued. */
        if (watch_running(db, sweep_id, opt, err, errlen)) { rc = -1; break; }
        int requeued;
        if (sweeps_requeue_stale(db, sweep_id, opt->stale_after_s, &requeued, err, errlen)) {
            rc = -1;
            break;
        }
        if (stop_requested) { rc = 2; break; }
        if (submit_queued(db, sweep_id, sweep_name, opt, err, errlen)) { rc = -1; break; }
        SweepCounts c;
        if (sweeps_counts(db, sweep_id, &c, err, errlen)) { rc = -1; break; }
        if (opt->status_out) {
            /* A line when something changed, and at least once a minute. */
            char line[256];
            local_format_status(sweep_name, c.done, c.running, c.failed, c.diverged, c.queued, c.tokens_per_s,
                                (double)(c.tokens_planned - c.tokens_done), line, sizeof line);
            double now = db_now();
            if (strcmp(line, last_line) || now - last_print >= 60) {
                fprintf(opt->status_out, "%s\n", line);
                fflush(opt->status_out);
                snprintf(last_line, sizeof last_line, "%s", line);
                last_print = now;
            }
        }
        if (c.queued == 0 && c.running == 0) {
            rc = c.failed > 0 ? 1 : 0;
            break;
        }
        for (double waited = 0; waited < opt->poll_s && !stop_requested; waited += 0.1) {
            struct timespec pause = {0, 100 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    return rc;
}

/* ---- the array task ------------------------------------------------------------------- */

int slurm_task_main(const char *tasks_file)
{
    const char *index_text = getenv("SLURM_ARRAY_TASK_ID");
    const char *job_text = getenv("SLURM_ARRAY_JOB_ID");
    if (!index_text) {
        fprintf(stderr, "dlcm-sweep slurm-task: SLURM_ARRAY_TASK_ID is not set (run by sbatch --array only)\n");
        return 2;
    }
    long index = strtol(index_text, NULL, 10);
    FILE *f = fopen(tasks_file, "r");
    if (!f) {
        fprintf(stderr, "dlcm-sweep slurm-task: %s: %s\n", tasks_file, strerror(errno));
        return 2;
    }
    char line[4096];
    long at = 0;
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        if (at++ == index) { found = 1; break; }
    }
    fclose(f);
    char *id = line, *dir = found ? strchr(line, '\t') : NULL, *trainer = dir ? strchr(dir + 1, '\t') : NULL;
    if (!found || !dir || !trainer) {
        fprintf(stderr, "dlcm-sweep slurm-task: %s: no task %ld\n", tasks_file, index);
        return 2;
    }
    *dir++ = '\0';
    *trainer++ = '\0';
    trainer[strcspn(trainer, "\n")] = '\0';

    RunPaths paths;
    run_paths(dir, &paths);
    char err[512], job[128];
    snprintf(job, sizeof job, "%s_%ld\n", job_text ? job_text : "0", index);
    unlink(paths.slurm_result);
    if (fs_write_text_atomic(paths.slurm_job, job, err, sizeof err)) fprintf(stderr, "dlcm-sweep slurm-task: %s\n", err);

    const char *argv[12];
    const char *visible = getenv("CUDA_VISIBLE_DEVICES"); /* set by Slurm for --gres=gpu */
    launch_argv(trainer, id, dir, &paths, visible && visible[0] ? "cuda" : "cpu", argv);
    SpawnSpec spec = {.argv = argv, .stdout_path = paths.stdout_log, .stderr_path = paths.stderr_log,
                      .lock_path = paths.lock, .parent_death_signal = LAUNCH_PARENT_DEATH_SIGNAL};
    pid_t pid = spawn_process(&spec, err, sizeof err);
    int status;
    if (pid < 0) {
        fprintf(stderr, "dlcm-sweep slurm-task: %s\n", err);
        status = W_EXITCODE(SPAWN_EXIT_EXEC, 0);
    } else {
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) {
                status = W_EXITCODE(SPAWN_EXIT_EXEC, 0);
                break;
            }
        }
    }
    char result[64];
    snprintf(result, sizeof result, "status=%d\n", status);
    if (fs_write_text_atomic(paths.slurm_result, result, err, sizeof err)) {
        fprintf(stderr, "dlcm-sweep slurm-task: %s\n", err);
        return 1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
