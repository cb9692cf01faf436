/* engine/train/trainer.c: the training run of dlcm-train, top to bottom: setup (data, backend,
 * model, optimizer, checkpoint or init, database), the step loop, evaluation, checkpoints and
 * the stop paths (done, diverged, signal, error). See trainer.h. */
#include "engine/train/trainer.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/loader.h"
#include "util/fs.h"
#include "util/duration.h"
#include "db/db.h"
#include "db/runs.h"
#include "engine/model.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "engine/train/checkpoint.h"
#include "engine/train/heldout.h"
#include "engine/train/schedule.h"
#include "engine/train/valset.h"
#include "engine/cuda/backend_cuda.h"

#define ERRLEN 1024
#define HEARTBEAT_SECONDS 30.0

/* The signal that asked us to stop (0: none). Checked between steps. */
static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig) { stop_signal = sig; }

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* a closed terminal: stop as for SIGTERM */
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void train_checkpoint_path(const char *out_dir, char *buf, int buflen)
{
    snprintf(buf, buflen, "%s/checkpoint.bin", out_dir);
}

/* Everything a run holds while it trains. */
typedef struct {
    const TrainConfig *cfg;
    const TrainOptions *opt;
    char ckpt_path[CONFIG_PATH_MAX + 32];
    char *config_text;
    Backend *be;
    Model *model;
    Optimizer *optim;
    Loader *train;
    ValSet val;
    sqlite3 *db;
    int32_t *batch_tokens;  /* [grad_accum][batch][seq_len + 1]: the step's micro-batches */
    TrainState state;
    RunMetric *pending;    /* metrics rows not yet stored */
    int n_pending, cap_pending;
    double last_val_loss, last_val_R;
    int64_t last_eval_step;
    double window_start;   /* wall clock of the window's first step in this process */
    double last_heartbeat; /* wall clock of the last progress row update */
    int64_t window_first_step;
    int lock_fd;           /* OUT/trainer.lock, held while the run trains (-1: not taken) */
    RunPhase phase;        /* the phase now running: it accrues the time until the next switch */
    double phase_since;
    double phase_seconds[RUN_N_PHASES];
    int row_begun;         /* the run's row is in the database (its phase times can be stored) */
    char err[ERRLEN];
} Run;

/* Where the run's wall time goes. Host time: the GPU work a phase queued without waiting for it
 * counts where it is next waited for (each step downloads its loss, so little is left queued). */
static void switch_phase(Run *r, RunPhase next)
{
    double now = now_seconds();
    r->phase_seconds[r->phase] += now - r->phase_since;
    r->phase = next;
    r->phase_since = now;
}

static size_t param_count(Run *r) { return model_num_params(r->model); }

static int write_checkpoint_file(Run *r)
{
    size_t n = param_count(r);
    size_t bytes = n * sizeof(float);
    float *p = malloc(bytes ? bytes : 1), *m = malloc(bytes ? bytes : 1), *v = malloc(bytes ? bytes : 1);
    if (!p || !m || !v) {
        free(p); free(m); free(v);
        snprintf(r->err, ERRLEN, "out of memory writing the checkpoint");
        return -1;
    }
    r->be->download(r->be, p, model_params(r->model), bytes);
    r->be->download(r->be, m, optim_m(r->optim), bytes);
    r->be->download(r->be, v, optim_v(r->optim), bytes);
    r->state.loader_position = (int64_t)loader_position(r->train);
    r->state.rule_threshold = model_rule_threshold(r->model);
    int rc = checkpoint_write(r->ckpt_path, &r->state, r->config_text, p, m, v, n, r->err, ERRLEN);
    free(p); free(m); free(v);
    return rc;
}

static int write_checkpoint(Run *r)
{
    RunPhase was = r->phase;
    switch_phase(r, RUN_PHASE_CHECKPOINT);
    int rc = write_checkpoint_file(r);
    switch_phase(r, was);
    return rc;
}

/* Loads the checkpoint into the model, optimizer, loader and counters. */
static int restore_checkpoint(Run *r, Checkpoint *ck)
{
    size_t n = param_count(r);
    if (ck->n_params != n) {
        snprintf(r->err, ERRLEN, "%s: holds %zu parameters, the model has %zu", r->ckpt_path,
                 ck->n_params, n);
        return -1;
    }
    size_t bytes = n * sizeof(float);
    r->be->upload(r->be, model_params(r->model), ck->params, bytes);
    model_params_changed(r->model);
    r->be->upload(r->be, optim_m(r->optim), ck->m, bytes);
    r->be->upload(r->be, optim_v(r->optim), ck->v, bytes);
    optim_set_steps_done(r->optim, (int)ck->state.step);
    loader_set_position(r->train, (uint64_t)ck->state.loader_position);
    model_set_rule_threshold(r->model, ck->state.rule_threshold);
    r->state = ck->state;
    return 0;
}

static int flush_metrics(Run *r)
{
    if (runs_add_metrics(r->db, r->cfg->id, r->pending, r->n_pending, r->err, ERRLEN)) return -1;
    r->n_pending = 0;
    return 0;
}

static int push_metric(Run *r, const RunMetric *row)
{
    if (r->n_pending == r->cap_pending) {
        int cap = r->cap_pending ? 2 * r->cap_pending : 64;
        RunMetric *grown = realloc(r->pending, (size_t)cap * sizeof *grown);
        if (!grown) {
            snprintf(r->err, ERRLEN, "out of memory");
            return -1;
        }
        r->pending = grown;
        r->cap_pending = cap;
    }
    r->pending[r->n_pending++] = *row;
    return 0;
}

static double realized_R_train(const Run *r)
{
    return r->state.concepts_done ? (double)r->state.tokens_done / (double)r->state.concepts_done : NAN;
}

static RunProgress progress_now(Run *r)
{
    RunProgress p = run_progress_none();
    p.tokens_done = r->state.tokens_done;
    p.steps_done = r->state.step;
    p.flops_launched = r->state.flops_launched;
    if (r->cfg->model.shape.family == FAMILY_DLCM) p.realized_R_train = realized_R_train(r);
    if (r->state.train_seconds > 0) p.tokens_per_s = (double)r->state.tokens_done / r->state.train_seconds;
    if (r->last_eval_step >= 0) {
        p.final_val_loss = r->last_val_loss;
        if (r->cfg->model.shape.family == FAMILY_DLCM) p.realized_R_eval = r->last_val_R;
    }
    if (isfinite(r->state.last_train_loss)) p.final_train_loss = r->state.last_train_loss;
    p.initial_loss = r->state.initial_loss;
    if (strcmp(r->be->name, "cuda") == 0) {
        p.peak_mem_bytes = (int64_t)backend_cuda_peak_bytes(r->be);
    } else {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0) p.peak_mem_bytes = (int64_t)ru.ru_maxrss * 1024;
    }
    return p;
}

/* Validation on the first `splits` splits (the overall one first), stored as evals rows of this
 * step. */
static int evaluate_splits(Run *r, int64_t step, int splits)
{
    for (int i = 0; i < r->val.n && i < splits; i++) {
        ValResult res;
        if (valset_evaluate(&r->val, i, r->model, &res, r->err, ERRLEN)) return -1;
        int dlcm = r->cfg->model.shape.family == FAMILY_DLCM;
        if (runs_add_eval(r->db, r->cfg->id, step, r->val.splits[i].split, res.loss,
                          dlcm ? res.realized_R : NAN, r->err, ERRLEN))
            return -1;
        if (i == 0) {
            r->last_val_loss = res.loss;
            r->last_val_R = res.realized_R;
        }
        if (!r->opt->quiet) {
            if (dlcm) printf("eval step %lld | %-16s loss %.4f | R %.2f\n", (long long)step,
                             r->val.splits[i].split, res.loss, res.realized_R);
            else printf("eval step %lld | %-16s loss %.4f\n", (long long)step, r->val.splits[i].split, res.loss);
        }
    }
    fflush(stdout);
    r->last_eval_step = step;
    return 0;
}

/* Validation in the evaluation phase: every split, or before the first step only the overall one
 * (splits 1): its loss is the initial loss that the divergence guard compares with, while nothing
 * reads an untrained model's per-domain losses, and each domain split costs as much as the overall
 * one (three quarters of a small run's first evaluation). */
static int evaluate(Run *r, int64_t step, int splits)
{
    RunPhase was = r->phase;
    switch_phase(r, RUN_PHASE_EVAL);
    int rc = evaluate_splits(r, step, splits);
    switch_phase(r, was);
    return rc;
}

/* The uniform stream of a micro-batch's boundary draws: a function of (seed, step, micro) only,
 * so a resumed run samples the same boundaries. */
static uint64_t boundary_seed(uint64_t seed, int64_t step, int micro, int accum)
{
    return rng_mix64(seed ^ rng_mix64(0x626f756e64617279ull + (uint64_t)step * (uint64_t)accum + (uint64_t)micro));
}

/* One optimizer step: every micro-batch forward and backward, then AdamW. */
static int train_step(Run *r, RunMetric *row)
{
    const TrainConfig *cfg = r->cfg;
    int64_t step = r->state.step;
    double t0 = now_seconds();
    model_begin_step(r->model);
    double loss = 0, aux = 0, flops = 0;
    int64_t tokens = 0, concepts = 0;
    /* every micro-batch's boundaries are counted first, so that the Global Parser's F covers
     * the whole step (model_parser_prepass); its encoder FLOPs are launched FLOPs too */
    size_t micro_tokens = (size_t)cfg->batch * (size_t)(cfg->model.shape.seq_len + 1);
    for (int micro = 0; micro < cfg->grad_accum; micro++) {
        int32_t *tokens_of_micro = r->batch_tokens + (size_t)micro * micro_tokens;
        loader_next(r->train, tokens_of_micro);
        double flops_before = r->be->flops;
        if (cfg->grad_accum > 1 &&
            model_parser_prepass(r->model, tokens_of_micro,
                                 boundary_seed((uint64_t)cfg->seed, step, micro, cfg->grad_accum),
                                 r->err, ERRLEN))
            return -1;
        flops += r->be->flops - flops_before;
    }
    for (int micro = 0; micro < cfg->grad_accum; micro++) {
        StepStats st;
        if (model_forward_backward(r->model, r->batch_tokens + (size_t)micro * micro_tokens, MODEL_TRAIN,
                                   boundary_seed((uint64_t)cfg->seed, step, micro, cfg->grad_accum),
                                   1.0f / (float)cfg->grad_accum, &st, r->err, ERRLEN))
            return -1;
        loss += st.loss_ce / cfg->grad_accum;
        flops += st.flops;
        tokens += st.tokens;
        concepts += st.concepts;
    }
    aux = model_step_aux_loss(r->model); /* the step's L_aux, not a mean over micro-batches */
    double lr_factor = schedule_factor(&cfg->schedule, step, cfg->steps);
    optim_step(r->optim, (float)lr_factor);
    double grad_norm = optim_last_grad_norm(r->optim);
    double seconds = now_seconds() - t0;

    r->state.step++;
    r->state.tokens_done += tokens;
    r->state.concepts_done += concepts;
    r->state.flops_launched += flops;
    r->state.train_seconds += seconds;
    r->state.window_loss += loss;
    r->state.window_aux += aux;
    r->state.window_steps++;
    r->state.window_tokens += tokens;
    r->state.window_concepts += concepts;

    row->step = r->state.step;
    row->tokens = r->state.tokens_done;
    row->train_loss = loss;
    row->aux_loss = cfg->model.shape.family == FAMILY_DLCM ? aux : NAN;
    row->realized_R = concepts ? (double)tokens / (double)concepts : NAN;
    row->lr = cfg->optim.lr_token * lr_factor;
    row->grad_norm = grad_norm;
    row->tokens_per_s = seconds > 0 ? (double)tokens / seconds : NAN;
    return 0;
}

/* The progress line closing a window; returns the window's mean loss. */
static double log_window(Run *r, const RunMetric *row)
{
    const TrainConfig *cfg = r->cfg;
    double mean_loss = r->state.window_loss / (double)r->state.window_steps;
    double elapsed = now_seconds() - r->window_start;
    int64_t steps_here = r->state.step - r->window_first_step;
    double tok_s = elapsed > 0 ? (double)(steps_here * cfg->batch * cfg->grad_accum * cfg->model.shape.seq_len) / elapsed : 0;
    double eta = steps_here > 0 ? elapsed / (double)steps_here * (double)(cfg->steps - r->state.step) : NAN;
    char eta_text[32];
    format_duration(eta, eta_text, sizeof eta_text);
    if (!r->opt->quiet) {
        printf("step %lld/%lld | tokens %lld | loss %.4f", (long long)r->state.step,
               (long long)cfg->steps, (long long)r->state.tokens_done, mean_loss);
        if (cfg->model.shape.family == FAMILY_DLCM)
            printf(" | aux %.4f | R %.2f", r->state.window_aux / (double)r->state.window_steps,
                   r->state.window_concepts ? (double)r->state.window_tokens / (double)r->state.window_concepts : 0.0);
        printf(" | lr %.3g | %.0f tok/s | ETA %s\n", row->lr, tok_s, eta_text);
        fflush(stdout);
    }
    r->state.window_loss = r->state.window_aux = 0;
    r->state.window_steps = r->state.window_tokens = r->state.window_concepts = 0;
    r->window_start = now_seconds();
    r->window_first_step = r->state.step;
    return mean_loss;
}

static int store_module_stats(Run *r)
{
    const char *names[256];
    double values[256];
    int n = model_module_stats(r->model, names, values, 256);
    return runs_add_module_stats(r->db, r->cfg->id, r->state.step, names, values, n, r->err, ERRLEN);
}

static void describe_run(Run *r, RunInfo *info, ShapeParams *sp, char *device, int devlen)
{
    const TrainConfig *cfg = r->cfg;
    const ModelShape *s = &cfg->model.shape;
    memset(info, 0, sizeof *info);
    snprintf(device, devlen, "%s%s", cfg->device == DEVICE_CUDA ? "cuda" : "cpu",
             cfg->precision == PRECISION_BF16 ? " bf16" : " fp32");
    if (cfg->device == DEVICE_CUDA) {
        size_t len = strlen(device);
        snprintf(device + len, devlen - len, " (gpu %d)", cfg->cuda_device);
    }
    info->id = cfg->id;
    info->config = r->config_text;
    info->family = s->family == FAMILY_DLCM ? "dlcm" : "dense";
    info->parametrization = cfg->model.parametrization == PARAMETRIZATION_SP ? "sp" : "mup";
    info->d_t = s->d_t;
    info->d_c = s->family == FAMILY_DLCM ? s->d_c : 0;
    info->n_layers = s->family == FAMILY_DENSE ? s->n_layers : 0;
    info->n_enc = s->family == FAMILY_DLCM ? s->n_enc : 0;
    info->n_con = s->family == FAMILY_DLCM ? s->n_con : 0;
    info->n_dec = s->family == FAMILY_DLCM ? s->n_dec : 0;
    info->vocab = s->vocab;
    info->seq_len = s->seq_len;
    info->R_target = s->family == FAMILY_DLCM ? s->R : 0;
    info->N = sp->N;
    info->embedding_params = sp->embedding;
    info->unembedding_params = sp->unembedding;
    info->P = sp->P;
    info->fwd_flops_per_token = shape_fwd_flops_per_token(s, s->R);
    info->train_flops_per_token = shape_train_flops_per_token(s, s->R);
    info->steps = cfg->steps;
    info->tokens = cfg->steps * cfg->batch * cfg->grad_accum * (int64_t)s->seq_len;
    info->train_flops = info->train_flops_per_token * (double)info->tokens;
    info->lr = cfg->optim.lr_token;
    info->seed = cfg->seed;
    info->device = device;
    info->out_dir = cfg->out;
}

/* A checkpoint's counters against the config it was written for. Its checksums catch damage,
 * not forgery: a step beyond the run or counts no run could reach are refused, not resumed. */
static int check_checkpoint_state(Run *r, const TrainState *s)
{
    const TrainConfig *cfg = r->cfg;
    int64_t per_step = (int64_t)cfg->batch * cfg->grad_accum * cfg->model.shape.seq_len;
    const char *bad = NULL;
    if (s->step < 0 || s->step > cfg->steps)
        bad = "step outside [0, train.steps]";
    else if (s->loader_position != s->step * cfg->grad_accum)
        bad = "training batches drawn is not step x train.grad_accum";
    else if (s->tokens_done < 0 || s->tokens_done > s->step * per_step)
        bad = "tokens done outside [0, step x tokens per step]";
    else if (s->concepts_done < 0 || s->concepts_done > s->tokens_done)
        bad = "concepts done outside [0, tokens done]";
    else if (s->window_steps < 0 || s->window_steps > s->step || s->window_tokens < 0 ||
             s->window_tokens > s->tokens_done || s->window_concepts < 0 || s->window_concepts > s->window_tokens)
        bad = "progress window outside the run so far";
    else if (s->seed != (uint64_t)cfg->seed)
        bad = "seed differs from run.seed";
    else if (!(s->flops_launched >= 0 && isfinite(s->flops_launched)) ||
             !(s->train_seconds >= 0 && isfinite(s->train_seconds)))
        bad = "FLOPs or training seconds negative or not finite";
    if (!bad) return 0;
    snprintf(r->err, ERRLEN, "%s: corrupt checkpoint: %s (step %lld of %lld)", r->ckpt_path, bad,
             (long long)s->step, (long long)cfg->steps);
    return -1;
}

/* Opens everything. Returns TRAIN_EXIT_DONE or the exit code of the failure. */
static int setup(Run *r, Checkpoint *ck, int *resumed)
{
    const TrainConfig *cfg = r->cfg;
    *resumed = 0;
    /* Checked here, where the device is known, not in the run config's resolve (a planner
     * resolves GPU runs on a machine without one); before anything is created. */
    if (cfg->precision == PRECISION_BF16 && cfg->device != DEVICE_CUDA) {
        snprintf(r->err, ERRLEN, "run.precision: bf16 needs a GPU (run.device cuda)%s",
                 backend_cuda_available() ? "" : "; this machine has none");
        return TRAIN_EXIT_BAD_INPUT;
    }
    if (fs_mkdirs(cfg->out, r->err, ERRLEN)) return TRAIN_EXIT_ERROR;
    /* One trainer per run directory: a second one would interleave checkpoint.bin.tmp writes and
     * rows in the run's database. The lock goes with the process, however it ends. (Not the
     * scheduler's OUT/.lock, which the launched trainer inherits already held.) */
    char lock_path[CONFIG_PATH_MAX + 32];
    snprintf(lock_path, sizeof lock_path, "%s/trainer.lock", cfg->out);
    r->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (r->lock_fd < 0) {
        snprintf(r->err, ERRLEN, "%s: cannot open: %s", lock_path, strerror(errno));
        return TRAIN_EXIT_ERROR;
    }
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(r->err, ERRLEN, "%s: locked: another dlcm-train is running in this run directory; nothing was done",
                 lock_path);
        return TRAIN_EXIT_BUSY;
    }
    train_checkpoint_path(cfg->out, r->ckpt_path, sizeof r->ckpt_path);
    r->config_text = config_canonical(cfg);

    /* A checkpoint in the run directory means: continue it. */
    if (access(r->ckpt_path, F_OK) == 0) {
        if (checkpoint_read(r->ckpt_path, ck, r->err, ERRLEN)) return TRAIN_EXIT_BAD_INPUT;
        if (ck->state.config_hash != config_hash(cfg)) {
            snprintf(r->err, ERRLEN, "%s: written by a different config (hash %016llx, this run %016llx); "
                     "use another --out", r->ckpt_path, (unsigned long long)ck->state.config_hash,
                     (unsigned long long)config_hash(cfg));
            return TRAIN_EXIT_BAD_INPUT;
        }
        if (check_checkpoint_state(r, &ck->state)) return TRAIN_EXIT_BAD_INPUT;
        *resumed = 1;
    } else if (r->opt->require_resume) {
        snprintf(r->err, ERRLEN, "%s: no checkpoint to resume from", r->ckpt_path);
        return TRAIN_EXIT_BAD_INPUT;
    }

    const char *paths[1] = {cfg->train_path};
    r->train = loader_open(paths, 1, cfg->batch, cfg->model.shape.seq_len, LOADER_RANDOM,
                           (uint64_t)cfg->data_seed, r->err, ERRLEN);
    if (!r->train) return TRAIN_EXIT_BAD_INPUT;
    if ((int)loader_vocab(r->train) != cfg->model.shape.vocab) {
        snprintf(r->err, ERRLEN, "%s: vocabulary %u, but the config says %d (data.tokenizer %s)",
                 cfg->train_path, loader_vocab(r->train), cfg->model.shape.vocab, cfg->tokenizer);
        return TRAIN_EXIT_BAD_INPUT;
    }
    if (strcmp(loader_tokenizer(r->train), cfg->tokenizer) != 0) {
        snprintf(r->err, ERRLEN, "%s: tokenized with '%s', but data.tokenizer is '%s'",
                 cfg->train_path, loader_tokenizer(r->train), cfg->tokenizer);
        return TRAIN_EXIT_BAD_INPUT;
    }
    if (valset_open(&r->val, cfg, r->err, ERRLEN)) return TRAIN_EXIT_BAD_INPUT;

    if (cfg->device == DEVICE_CUDA) {
        r->be = backend_cuda_create(cfg->cuda_device,
                                    cfg->precision == PRECISION_BF16 ? DTYPE_BF16 : DTYPE_F32,
                                    r->err, ERRLEN);
        if (!r->be) return TRAIN_EXIT_ERROR;
    } else {
        r->be = backend_cpu_create();
    }
    r->model = model_create(r->be, &cfg->model, cfg->batch, r->err, ERRLEN);
    if (!r->model) return TRAIN_EXIT_BAD_INPUT;
    r->optim = optim_create(r->model, &cfg->optim, r->err, ERRLEN);
    if (!r->optim) return TRAIN_EXIT_BAD_INPUT;
    r->batch_tokens = malloc((size_t)cfg->grad_accum * (size_t)cfg->batch *
                             (size_t)(cfg->model.shape.seq_len + 1) * sizeof(int32_t));
    if (!r->batch_tokens) {
        snprintf(r->err, ERRLEN, "out of memory");
        return TRAIN_EXIT_ERROR;
    }
    if (*resumed) {
        if (restore_checkpoint(r, ck)) return TRAIN_EXIT_BAD_INPUT;
    } else {
        model_init(r->model, (uint64_t)cfg->seed);
        memset(&r->state, 0, sizeof r->state);
        r->state.config_hash = config_hash(cfg);
        r->state.seed = (uint64_t)cfg->seed;
        r->state.initial_loss = NAN;
        r->state.last_train_loss = NAN;
    }

    char db_path[CONFIG_PATH_MAX + 16];
    if (r->opt->db_path) snprintf(db_path, sizeof db_path, "%s", r->opt->db_path);
    else snprintf(db_path, sizeof db_path, "%s/" TRAIN_RUN_DB_NAME, cfg->out);
    r->db = db_open(db_path, r->err, ERRLEN);
    if (!r->db) return TRAIN_EXIT_ERROR;
    ShapeParams sp;
    if (shape_params(&cfg->model.shape, &sp, r->err, ERRLEN)) return TRAIN_EXIT_BAD_INPUT;
    RunInfo info;
    char device[64];
    describe_run(r, &info, &sp, device, sizeof device);
    if (runs_begin(r->db, &info, r->err, ERRLEN)) return TRAIN_EXIT_ERROR;
    r->row_begun = 1;
    /* The resolved config beside the checkpoint, so `dlcm-train OUT/config.yaml` reruns it; written
     * only once the run is accepted, atomically, and never over an existing file: that may be the
     * very config this run was started from (a sweep's), and is left as its planner wrote it. */
    char config_path[CONFIG_PATH_MAX + 32];
    snprintf(config_path, sizeof config_path, "%s/" TRAIN_RUN_CONFIG_NAME, cfg->out);
    if (access(config_path, F_OK) != 0 && fs_write_text_atomic(config_path, r->config_text, r->err, ERRLEN))
        return TRAIN_EXIT_ERROR;
    if (!r->opt->quiet) {
        char shape[256];
        shape_describe(&cfg->model.shape, shape, sizeof shape);
        printf("run %s | %s | N %lld | embedding %lld | P %.3f | %.4g train FLOPs/token | %lld steps x %d x %d x %d tokens | %s\n",
               cfg->id, shape, (long long)sp.N, (long long)sp.embedding, sp.P,
               info.train_flops_per_token, (long long)cfg->steps, cfg->grad_accum, cfg->batch,
               cfg->model.shape.seq_len, device);
        if (*resumed) printf("resuming from %s at step %lld\n", r->ckpt_path, (long long)r->state.step);
        fflush(stdout);
    }
    return TRAIN_EXIT_DONE;
}

static void teardown(Run *r)
{
    if (r->db) db_close(r->db);
    if (r->optim) optim_destroy(r->optim);
    if (r->model) model_destroy(r->model);
    if (r->be) r->be->destroy(r->be);
    if (r->train) loader_close(r->train);
    valset_close(&r->val);
    free(r->batch_tokens);
    free(r->pending);
    free(r->config_text);
    if (r->lock_fd >= 0) close(r->lock_fd);
}

/* Records the end of the run in the database; a failure here is reported but does not change
 * the exit code's meaning beyond turning success into an error. */
static int finish(Run *r, const char *status, const char *error, int code)
{
    if (!r->db) return code;
    char err[ERRLEN];
    switch_phase(r, r->phase);
    RunProgress p = progress_now(r);
    if ((r->n_pending && runs_add_metrics(r->db, r->cfg->id, r->pending, r->n_pending, err, ERRLEN)) ||
        (r->row_begun && runs_add_phases(r->db, r->cfg->id, r->phase_seconds, err, ERRLEN)) ||
        runs_finish(r->db, r->cfg->id, status, error, &p, err, ERRLEN)) {
        fprintf(stderr, "dlcm-train: %s\n", err);
        return code == TRAIN_EXIT_DONE ? TRAIN_EXIT_ERROR : code;
    }
    r->n_pending = 0;
    memset(r->phase_seconds, 0, sizeof r->phase_seconds); /* stored: a second call adds none twice */
    return code;
}

int train_run(const TrainConfig *cfg, const TrainOptions *opt)
{
    Run run;
    memset(&run, 0, sizeof run);
    Run *r = &run;
    r->cfg = cfg;
    r->opt = opt;
    r->last_eval_step = -1;
    r->last_val_loss = NAN;
    r->lock_fd = -1;
    r->phase = RUN_PHASE_SETUP;
    r->phase_since = now_seconds();
    stop_signal = 0;
    install_signal_handlers();

    Checkpoint ck;
    memset(&ck, 0, sizeof ck);
    int resumed = 0;
    int code = setup(r, &ck, &resumed);
    checkpoint_free(&ck);
    if (code != TRAIN_EXIT_DONE) {
        fprintf(stderr, "dlcm-train: %s\n", r->err);
        if (r->db) finish(r, "failed", r->err, code);
        teardown(r);
        return code;
    }

    const char *fail_status = "failed";
    if (!resumed) {
        if (evaluate(r, 0, 1)) goto runtime_error;
        r->state.initial_loss = r->last_val_loss;
        RunProgress p = progress_now(r);
        if (runs_update(r->db, cfg->id, &p, r->err, ERRLEN)) goto runtime_error;
        if (!isfinite(r->state.initial_loss)) {
            snprintf(r->err, ERRLEN, "the initial validation loss is not finite");
            fail_status = "diverged";
            code = TRAIN_EXIT_DIVERGED;
            goto stop;
        }
    }
    switch_phase(r, RUN_PHASE_TRAIN);
    r->window_start = r->last_heartbeat = now_seconds();
    r->window_first_step = r->state.step;

    while (r->state.step < cfg->steps && !stop_signal) {
        RunMetric row;
        if (train_step(r, &row)) goto runtime_error;
        if (push_metric(r, &row)) goto runtime_error;
        int64_t step = r->state.step;
        if (!isfinite(row.train_loss)) {
            snprintf(r->err, ERRLEN, "step %lld: the training loss is %g", (long long)step, row.train_loss);
            fail_status = "diverged";
            code = TRAIN_EXIT_DIVERGED;
            goto stop;
        }
        int last = step == cfg->steps;
        if (step % cfg->log_interval == 0 || last) {
            double mean_loss = log_window(r, &row);
            r->state.last_train_loss = mean_loss;
            if (flush_metrics(r)) goto runtime_error;
            RunProgress p = progress_now(r);
            if (runs_update(r->db, cfg->id, &p, r->err, ERRLEN)) goto runtime_error;
            r->last_heartbeat = now_seconds();
            /* The first window may still sit near the initial loss; later ones must be below. */
            if (step > cfg->log_interval && mean_loss > r->state.initial_loss) {
                snprintf(r->err, ERRLEN, "step %lld: training loss %.4f is above the initial loss %.4f",
                         (long long)step, mean_loss, r->state.initial_loss);
                fail_status = "diverged";
                code = TRAIN_EXIT_DIVERGED;
                goto stop;
            }
        }
        /* A scheduler watches the heartbeat: keep it fresh even when log lines are rare. */
        if (now_seconds() - r->last_heartbeat > HEARTBEAT_SECONDS) {
            RunProgress p = progress_now(r);
            if (flush_metrics(r) || runs_update(r->db, cfg->id, &p, r->err, ERRLEN)) goto runtime_error;
            r->last_heartbeat = now_seconds();
        }
        if (cfg->module_stats_interval && step % cfg->module_stats_interval == 0 && store_module_stats(r))
            goto runtime_error;
        if (!last && cfg->eval_interval && step % cfg->eval_interval == 0 && evaluate(r, step, r->val.n))
            goto runtime_error;
        if (!last && cfg->checkpoint_interval && step % cfg->checkpoint_interval == 0) {
            if (flush_metrics(r) || write_checkpoint(r)) goto runtime_error;
        }
        if (opt->stop_at_step > 0 && step == opt->stop_at_step && !last) {
            if (flush_metrics(r) || write_checkpoint(r)) goto runtime_error;
            char why[128];
            snprintf(why, sizeof why, "stopped at step %lld by --stop-at-step; resumable", (long long)step);
            if (!opt->quiet) printf("%s\n", why);
            code = finish(r, "queued", why, TRAIN_EXIT_DONE);
            teardown(r);
            return code;
        }
    }

    if (stop_signal) {
        int sig = stop_signal;
        if (flush_metrics(r) || write_checkpoint(r)) goto runtime_error;
        char why[160];
        snprintf(why, sizeof why, "interrupted by %s at step %lld; checkpoint written, resumable",
                 sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM", (long long)r->state.step);
        fprintf(stderr, "dlcm-train: %s\n", why);
        code = finish(r, "queued", why, sig == SIGINT ? TRAIN_EXIT_SIGINT : TRAIN_EXIT_SIGTERM);
        teardown(r);
        return code;
    }

    /* The end: final validation, final checkpoint, results. */
    if (r->last_eval_step != r->state.step && evaluate(r, r->state.step, r->val.n)) goto runtime_error;
    if (flush_metrics(r) || write_checkpoint(r)) goto runtime_error;
    /* Held-out tasks and per-token losses, for the study's tables: after the checkpoint, so a
     * failure here never costs the training. */
    switch_phase(r, RUN_PHASE_HELDOUT);
    long task_limit = opt->task_limit > 0 ? opt->task_limit
                      : opt->task_limit < 0 ? 0
                      : cfg->device == DEVICE_CUDA ? HELDOUT_TASK_LIMIT
                                                   : HELDOUT_TASK_LIMIT_CPU;
    if (heldout_measure(cfg, r->be, r->model, &r->val, r->db, cfg->id, r->state.step, task_limit, opt->quiet, r->err,
                        ERRLEN))
        goto runtime_error;
    if (!opt->quiet) {
        RunProgress p = progress_now(r);
        printf("done: %lld steps | val loss %.4f (initial %.4f) | train loss %.4f", (long long)r->state.step,
               r->last_val_loss, r->state.initial_loss, r->state.last_train_loss);
        if (cfg->model.shape.family == FAMILY_DLCM)
            printf(" | realized R train %.3f eval %.3f", realized_R_train(r), r->last_val_R);
        printf(" | %.0f tok/s | %.4g FLOPs launched\n", p.tokens_per_s, r->state.flops_launched);
    }
    code = finish(r, "done", NULL, TRAIN_EXIT_DONE);
    teardown(r);
    return code;

runtime_error:
    code = TRAIN_EXIT_ERROR;
stop:
    fprintf(stderr, "dlcm-train: %s\n", r->err);
    {
        char err_copy[ERRLEN];
        memcpy(err_copy, r->err, sizeof err_copy);
        code = finish(r, fail_status, err_copy, code);
    }
    teardown(r);
    return code;
}
