/* bench/bench.c: dlcm-bench, training throughput of the dense and DLCM models on the CUDA
 * backend (tokens/s, MFU against the device's bf16 and TF32 peaks, peak memory) at tiny, small
 * and medium sizes, and --dump, which writes a model's weights, batch, boundaries and loss for the
 * PyTorch reference (bench/torch_ref.py) to check that both compute the same loss. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/cuda/backend_cuda.h"
#include "engine/model.h"
#include "engine/model_internal.h" /* the sampled boundaries, for --dump */
#include "engine/optim.h"
#include "engine/rng.h"
#include "engine/shape.h"

typedef struct {
    const char *name;
    int d_t, d_c;
    int n_layers;           /* dense */
    int n_enc, n_con, n_dec; /* dlcm */
} BenchSize;

/* Depths follow width / 64 for the widest stack, capped for the medium DLCM backbone so a
 * run fits the benchmark's time; the same shapes are used by bench/torch_ref.py. */
static const BenchSize SIZES[] = {
    {"tiny", 128, 256, 2, 1, 2, 1},
    {"small", 512, 1024, 8, 2, 8, 2},
    {"medium", 1024, 2048, 16, 2, 8, 2},
};
#define N_SIZES (int)(sizeof SIZES / sizeof SIZES[0])

typedef struct {
    const char *family; /* dense, dlcm or all */
    const char *size;   /* tiny, small, medium or all */
    DType dtype;
    int batch, seq_len, vocab, steps, warmup;
    double R;
    const char *dump_dir;
    const char *meta_dir; /* write each benchmarked config's meta.json here (for torch_ref.py) */
    int breakdown;        /* synchronize between phases and report their times */
    BenchSize custom;     /* --d-t etc.: one shape of the caller's ("custom"), e.g. a sweep's run */
    int meta_only;        /* write the meta.json and stop (bench/sweep-bench.sh) */
    int concept_bucket;   /* ModelConfig.concept_bucket of the DLCM (1: off) */
    int per_step;         /* synchronize after every step and print its time and concept count */
    int profile_range;    /* the timed steps are the profiled range (ncu/nsys from the CUDA API) */
} BenchArgs;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dlcm-bench [options]\n"
            "Training throughput of the dense and DLCM models on the CUDA backend.\n"
            "  --family dense|dlcm|all   model family (default all)\n"
            "  --size tiny|small|medium|all  (default all): tiny d_t 128; small d_t 512, d_c 1024;\n"
            "                            medium d_t 1024, d_c 2048\n"
            "  --dtype bf16|fp32         activations (default bf16; fp32 uses TF32 GEMMs)\n"
            "  --batch B                 sequences per step (default 8)\n"
            "  --seq-len T               tokens per sequence (default 1024)\n"
            "  --vocab V                 vocabulary (default 8192, the bpe8192 tokenizer)\n"
            "  --ratio R                 DLCM target compression (default 4)\n"
            "  --steps N --warmup W      timed and untimed steps (default 20, 3)\n"
            "  --meta-dir DIR            also write DIR/<family>-<size>.json (shape and tensors)\n"
            "  --d-t N --d-c N --layers N --enc N --con N --dec N\n"
            "                            one shape of your own (size \"custom\") instead of --size\n"
            "  --meta-only 1             only write the config's meta.json (needs --meta-dir)\n"
            "  --concept-bucket N        DLCM concept rows rounded up to a multiple of N\n"
            "                            (model.concept_bucket; default 1: off)\n"
            "  --breakdown 1             time forward+backward and the optimizer separately\n"
            "                            (synchronizing between them)\n"
            "  --per-step 1              also one STEP line per step, warm-up included: its time\n"
            "                            (synchronized) and concept count\n"
            "  --profile-range 1         profile only the timed steps: for ncu --profile-from-start\n"
            "                            off, or nsys --capture-range=cudaProfilerApi\n"
            "  --dump DIR                instead of timing: one fp32 (TF32 off) training step of\n"
            "                            the first selected config, written to DIR for\n"
            "                            bench/torch_ref.py --check DIR\n"
            "  --help\n");
}

static int parse_args(int argc, char **argv, BenchArgs *a)
{
    memset(a, 0, sizeof *a); /* every option not given below is off (0 or NULL) */
    a->family = "all";
    a->size = "all";
    a->dtype = DTYPE_BF16;
    a->batch = 8;
    a->seq_len = 1024;
    a->vocab = 8192;
    a->steps = 20;
    a->warmup = 3;
    a->R = 4.0;
    a->dump_dir = NULL;
    a->meta_dir = NULL;
    a->breakdown = 0;
    a->concept_bucket = 1;
    a->per_step = 0;
    a->profile_range = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help")) { usage(stdout); exit(0); }
        if (i + 1 >= argc) { fprintf(stderr, "dlcm-bench: %s needs a value\n", o); return -1; }
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(o, "--family")) a->family = v;
        else if (!strcmp(o, "--size")) a->size = v;
        else if (!strcmp(o, "--dtype")) {
            if (!strcmp(v, "bf16")) a->dtype = DTYPE_BF16;
            else if (!strcmp(v, "fp32")) a->dtype = DTYPE_F32;
            else { fprintf(stderr, "dlcm-bench: --dtype must be bf16 or fp32 (got %s)\n", v); return -1; }
        } else if (!strcmp(o, "--batch")) a->batch = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--seq-len")) a->seq_len = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--vocab")) a->vocab = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--steps")) a->steps = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--warmup")) a->warmup = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--ratio")) a->R = strtod(v, &end);
        else if (!strcmp(o, "--dump")) a->dump_dir = v;
        else if (!strcmp(o, "--meta-dir")) a->meta_dir = v;
        else if (!strcmp(o, "--breakdown")) a->breakdown = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--per-step")) a->per_step = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--profile-range")) a->profile_range = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--meta-only")) a->meta_only = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--concept-bucket")) a->concept_bucket = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--d-t")) a->custom.d_t = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--d-c")) a->custom.d_c = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--layers")) a->custom.n_layers = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--enc")) a->custom.n_enc = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--con")) a->custom.n_con = (int)strtol(v, &end, 10);
        else if (!strcmp(o, "--dec")) a->custom.n_dec = (int)strtol(v, &end, 10);
        else { fprintf(stderr, "dlcm-bench: unknown option %s (see --help)\n", o); return -1; }
        if (end && *end) { fprintf(stderr, "dlcm-bench: %s: not a number: %s\n", o, v); return -1; }
    }
    a->custom.name = "custom";
    if (a->meta_only && !a->meta_dir) {
        fprintf(stderr, "dlcm-bench: --meta-only needs --meta-dir\n");
        return -1;
    }
    if (a->batch < 1 || a->seq_len < 2 || a->vocab < 2 || a->steps < 1 || a->warmup < 0 || a->R < 1) {
        fprintf(stderr, "dlcm-bench: batch, seq-len, vocab, steps must be positive and ratio >= 1\n");
        return -1;
    }
    return 0;
}

static ModelShape bench_shape(const BenchArgs *a, int dlcm, const BenchSize *s)
{
    ModelShape sh;
    memset(&sh, 0, sizeof sh);
    sh.family = dlcm ? FAMILY_DLCM : FAMILY_DENSE;
    sh.vocab = a->vocab;
    sh.seq_len = a->seq_len;
    sh.d_t = s->d_t;
    if (dlcm) {
        sh.d_c = s->d_c;
        sh.n_enc = s->n_enc;
        sh.n_con = s->n_con;
        sh.n_dec = s->n_dec;
        sh.R = a->R;
    } else {
        sh.n_layers = s->n_layers;
    }
    return sh;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Dense bf16 and TF32 tensor-core peaks of the device (datasheet, SXM), TFLOP/s; 0 unknown. */
static void device_peaks(const char *name, double *bf16, double *tf32)
{
    *bf16 = *tf32 = 0;
    if (strstr(name, "H100") || strstr(name, "H200")) {
        *bf16 = 989.4;
        *tf32 = 494.7;
    }
}

static int write_file(const char *dir, const char *name, const void *data, size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) { fprintf(stderr, "dlcm-bench: cannot write %s: %s\n", path, strerror(errno)); return -1; }
    size_t w = fwrite(data, 1, bytes, f);
    if (fclose(f) != 0 || w != bytes) {
        fprintf(stderr, "dlcm-bench: short write to %s\n", path);
        return -1;
    }
    return 0;
}

/* The shape, the μP constants and the tensor table as JSON, for bench/torch_ref.py. */
static int write_meta(const char *path, Model *m, int batch, const StepStats *st)
{
    const ModelConfig *c = model_config(m);
    const ModelShape *s = &c->shape;
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "dlcm-bench: cannot write %s: %s\n", path, strerror(errno)); return -1; }
    fprintf(f, "{\n  \"family\": \"%s\", \"vocab\": %d, \"seq_len\": %d, \"batch\": %d,\n",
            s->family == FAMILY_DLCM ? "dlcm" : "dense", s->vocab, s->seq_len, batch);
    fprintf(f, "  \"d_t\": %d, \"d_c\": %d, \"n_layers\": %d, \"n_enc\": %d, \"n_con\": %d, \"n_dec\": %d,\n",
            s->d_t, s->d_c, s->n_layers, s->n_enc, s->n_con, s->n_dec);
    fprintf(f, "  \"ffn_t\": %d, \"ffn_c\": %d, \"R\": %.17g, \"norm_eps\": %.9g, \"d_base\": %d,\n",
            shape_ffn_t(s), s->family == FAMILY_DLCM ? shape_ffn_c(s) : 0, s->R, c->norm_eps, c->d_base);
    fprintf(f, "  \"mup\": %d, \"aux_weight\": %.9g, \"boundary_tau\": %.9g,\n",
            c->parametrization == PARAMETRIZATION_MUP, c->aux_weight, c->boundary_tau);
    if (st)
        fprintf(f, "  \"ours\": {\"loss_ce\": %.9g, \"loss_aux\": %.9g, \"concepts\": %lld},\n",
                st->loss_ce, st->loss_aux, (long long)st->concepts);
    fprintf(f, "  \"tensors\": [\n");
    for (int i = 0; i < model_num_tensors(m); i++) {
        const ParamTensor *t = model_tensor(m, i);
        fprintf(f, "    {\"name\": \"%s\", \"offset\": %zu, \"rows\": %d, \"cols\": %d, \"init_std\": %.9g, "
                   "\"init_value\": %.9g, \"init_identity\": %d, \"lr_mult\": %.9g, \"eps_mult\": %.9g, \"is_matrix\": %d}%s\n",
                t->name, t->offset, t->rows, t->cols, t->init_std, t->init_value, t->init_identity, t->lr_mult,
                t->eps_mult, t->is_matrix, i + 1 < model_num_tensors(m) ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0) { fprintf(stderr, "dlcm-bench: write error on %s\n", path); return -1; }
    return 0;
}

static int32_t *bench_tokens(int B, int T, int V, uint64_t seed)
{
    int32_t *t = malloc((size_t)B * (T + 1) * sizeof *t);
    if (!t) { fprintf(stderr, "dlcm-bench: out of memory\n"); exit(1); }
    for (size_t i = 0; i < (size_t)B * (T + 1); i++) t[i] = (int32_t)(rng_mix64(seed * 7919u + i) % (uint64_t)V);
    return t;
}

/* One fp32 training step (TF32 off) written out for the PyTorch equality check. */
static int dump_step(const BenchArgs *a, ModelShape shape)
{
    char err[512];
    if (mkdir(a->dump_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "dlcm-bench: cannot create %s: %s\n", a->dump_dir, strerror(errno));
        return -1;
    }
    Backend *be = backend_cuda_create(0, DTYPE_F32, err, sizeof err);
    if (!be) { fprintf(stderr, "dlcm-bench: %s\n", err); return -1; }
    backend_cuda_set_tf32(be, 0);
    ModelConfig cfg = model_config_default(shape);
    Model *m = model_create(be, &cfg, a->batch, err, sizeof err);
    if (!m) { fprintf(stderr, "dlcm-bench: %s\n", err); return -1; }
    model_init(m, 1234);
    int32_t *tokens = bench_tokens(a->batch, a->seq_len, a->vocab, 99);
    StepStats st;
    model_begin_step(m);
    if (model_forward_backward(m, tokens, MODEL_TRAIN, 4321, 1.0f, &st, err, sizeof err)) {
        fprintf(stderr, "dlcm-bench: %s\n", err);
        return -1;
    }
    size_t n = model_num_params(m);
    float *host = malloc(n * sizeof(float));
    be->download(be, host, model_params(m), n * sizeof(float));
    int rc = write_file(a->dump_dir, "params.f32", host, n * sizeof(float));
    be->download(be, host, model_grads(m), n * sizeof(float));
    rc |= write_file(a->dump_dir, "grads.f32", host, n * sizeof(float));
    rc |= write_file(a->dump_dir, "tokens.i32", tokens, (size_t)a->batch * (a->seq_len + 1) * sizeof(int32_t));
    if (shape.family == FAMILY_DLCM) {
        /* the boundaries this step sampled, so the reference segments exactly the same way */
        size_t nb = (size_t)a->batch * a->seq_len;
        int32_t *bounds = malloc(nb * sizeof(int32_t));
        be->download(be, bounds, m->bounds, nb * sizeof(int32_t));
        rc |= write_file(a->dump_dir, "bounds.i32", bounds, nb * sizeof(int32_t));
        free(bounds);
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/meta.json", a->dump_dir);
    rc |= write_meta(path, m, a->batch, &st);
    printf("dump: %s loss_ce %.7f loss_aux %.7f concepts %lld -> %s\n",
           shape.family == FAMILY_DLCM ? "dlcm" : "dense", st.loss_ce, st.loss_aux,
           (long long)st.concepts, a->dump_dir);
    free(host);
    free(tokens);
    model_destroy(m);
    be->destroy(be);
    return rc ? -1 : 0;
}

static int bench_one(const BenchArgs *a, ModelShape shape, const char *size_name)
{
    char err[512], device[256];
    double t_setup = now_seconds(); /* backend, model, init, optimizer: what each process pays once */
    /* the meta only needs the model's tensor table: the CPU backend gives it on any machine */
    Backend *be = a->meta_only ? backend_cpu_create() : backend_cuda_create(0, a->dtype, err, sizeof err);
    if (!be) { fprintf(stderr, "dlcm-bench: %s\n", a->meta_only ? "no CPU backend" : err); return -1; }
    backend_cuda_device_name(be, device, sizeof device);
    ModelConfig cfg = model_config_default(shape);
    cfg.concept_bucket = a->concept_bucket;
    Model *m = model_create(be, &cfg, a->batch, err, sizeof err);
    if (!m) { fprintf(stderr, "dlcm-bench: %s\n", err); be->destroy(be); return -1; }
    model_init(m, 1234);
    OptimConfig oc = optim_config_default();
    Optimizer *o = optim_create(m, &oc, err, sizeof err);
    if (!o) { fprintf(stderr, "dlcm-bench: %s\n", err); return -1; }
    if (a->meta_dir) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s-%s.json", a->meta_dir,
                 shape.family == FAMILY_DLCM ? "dlcm" : "dense", size_name);
        if (write_meta(path, m, a->batch, NULL)) return -1;
        if (a->meta_only) {
            optim_destroy(o);
            model_destroy(m);
            be->destroy(be);
            return 0;
        }
    }
    int32_t *tokens = bench_tokens(a->batch, a->seq_len, a->vocab, 7);
    be->synchronize(be);
    double setup_s = now_seconds() - t_setup;
    StepStats st;
    double t0 = 0, concepts = 0, flops_launched = 0, loss = 0, t_fb = 0, t_opt = 0;
    for (int step = 0; step < a->warmup + a->steps; step++) {
        if (step == a->warmup) {
            be->synchronize(be);
            if (a->profile_range) backend_cuda_profile_range(be, 1);
            t0 = now_seconds();
        }
        double t_phase = now_seconds(), t_step = t_phase;
        model_begin_step(m);
        if (model_forward_backward(m, tokens, MODEL_TRAIN, 1000 + step, 1.0f, &st, err, sizeof err)) {
            fprintf(stderr, "dlcm-bench: %s\n", err);
            return -1;
        }
        if (a->breakdown) {
            be->synchronize(be);
            if (step >= a->warmup) t_fb += now_seconds() - t_phase;
            t_phase = now_seconds();
        }
        optim_step(o, 1.0f);
        if (a->breakdown) {
            be->synchronize(be);
            if (step >= a->warmup) t_opt += now_seconds() - t_phase;
        }
        if (step >= a->warmup) {
            concepts += st.concepts;
            flops_launched += st.flops;
            loss = st.loss_ce;
        }
        if (a->per_step) {
            be->synchronize(be);
            printf("STEP family=%s size=%s step=%d warmup=%d ms=%.3f concepts=%.0f\n",
                   shape.family == FAMILY_DLCM ? "dlcm" : "dense", size_name, step, step < a->warmup,
                   1e3 * (now_seconds() - t_step), (double)st.concepts);
        }
    }
    be->synchronize(be);
    if (a->profile_range) backend_cuda_profile_range(be, 0);
    double seconds = now_seconds() - t0;
    double tokens_per_step = (double)a->batch * a->seq_len;
    double tok_s = tokens_per_step * a->steps / seconds;
    double R_real = shape.family == FAMILY_DLCM ? tokens_per_step * a->steps / concepts : shape.R;
    double flops_per_token = shape_train_flops_per_token(&shape, R_real);
    double peak_bf16, peak_tf32;
    device_peaks(device, &peak_bf16, &peak_tf32);
    double achieved = flops_per_token * tok_s / 1e12;
    ShapeParams sp;
    shape_params(&shape, &sp, err, sizeof err);
    printf("RESULT impl=ours family=%s size=%s dtype=%s batch=%d T=%d N=%.1fM params_total=%.1fM "
           "step_ms=%.2f tokens_per_s=%.0f tflops=%.1f mfu_bf16=%.3f mfu_tf32=%.3f peak_mem_gib=%.2f "
           "realized_R=%.2f loss=%.4f launched_vs_analytic=%.3f device=\"%s\" concept_bucket=%d setup_s=%.2f\n",
           shape.family == FAMILY_DLCM ? "dlcm" : "dense", size_name,
           a->dtype == DTYPE_BF16 ? "bf16" : "fp32", a->batch, a->seq_len, sp.N / 1e6,
           (sp.N + sp.embedding + sp.unembedding) / 1e6, 1e3 * seconds / a->steps, tok_s, achieved,
           peak_bf16 > 0 ? achieved / peak_bf16 : 0, peak_tf32 > 0 ? achieved / peak_tf32 : 0,
           backend_cuda_peak_bytes(be) / (1024.0 * 1024 * 1024), R_real, loss,
           flops_launched / (flops_per_token * tokens_per_step * a->steps), device, a->concept_bucket, setup_s);
    if (a->breakdown)
        printf("BREAKDOWN family=%s size=%s forward_backward_ms=%.2f optimizer_ms=%.2f\n",
               shape.family == FAMILY_DLCM ? "dlcm" : "dense", size_name, 1e3 * t_fb / a->steps,
               1e3 * t_opt / a->steps);
    fflush(stdout);
    free(tokens);
    optim_destroy(o);
    model_destroy(m);
    be->destroy(be);
    return 0;
}

int main(int argc, char **argv)
{
    BenchArgs a;
    if (parse_args(argc, argv, &a)) { usage(stderr); return 2; }
    if (!a.meta_only && !backend_cuda_available()) {
        fprintf(stderr, "dlcm-bench: no CUDA GPU available (or this build has no CUDA backend)\n");
        return 1;
    }
    int failures = 0, ran = 0;
    int custom = a.custom.d_t > 0;
    for (int fam = 0; fam < 2; fam++) {
        const char *fname = fam ? "dlcm" : "dense";
        if (strcmp(a.family, "all") && strcmp(a.family, fname)) continue;
        for (int i = 0; i < (custom ? 1 : N_SIZES); i++) {
            const BenchSize *size = custom ? &a.custom : &SIZES[i];
            if (!custom && strcmp(a.size, "all") && strcmp(a.size, size->name)) continue;
            ModelShape sh = bench_shape(&a, fam, size);
            ran++;
            if (a.dump_dir) return dump_step(&a, sh) ? 1 : 0;
            if (bench_one(&a, sh, size->name)) failures++;
        }
    }
    if (!ran) {
        fprintf(stderr, "dlcm-bench: no configuration matches --family %s --size %s\n", a.family, a.size);
        return 2;
    }
    return failures ? 1 : 0;
}
