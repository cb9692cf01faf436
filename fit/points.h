/* fit/points.h: the observations a scaling law is fitted to (one per finished run or CSV row),
 * where they come from (CSV files or a sweep in the database), which of them are selected, and
 * the checks they must pass. */
#ifndef DLCM_FIT_POINTS_H
#define DLCM_FIT_POINTS_H

#include <sqlite3.h>

typedef struct {
    double N;         /* non-embedding parameters */
    double D;         /* training tokens */
    double R;         /* the compression ratio the law uses (realized or target); 1 for dense */
    double R_target;  /* the run's target R (NaN when unknown) */
    double R_eval;    /* the run's realized evaluation R (NaN when unknown) */
    double P;         /* concept-backbone share of N; 0 for dense */
    double C;         /* training FLOPs budget the point belongs to */
    double loss;      /* final loss (nats per token) */
    double lr;        /* peak learning rate (NaN when unknown) */
    long long seed;   /* -1 when unknown */
    int dense;        /* 1: a dense model (the law's concept term is absent) */
    /* The run's shape (0 when unknown, e.g. a CSV row). */
    int d_t, d_c, n_layers, n_enc, n_con, n_dec;
    int line;         /* CSV line (1-based) or 0 */
    char id[72];      /* run id, or "line N" for a CSV row */
} FitPoint;

typedef enum { R_SOURCE_EVAL = 0, R_SOURCE_TARGET = 1 } RSource;

typedef struct {
    FitPoint *pts;
    int n;
    int cap;
    int n_read;        /* rows read before any selection */
    int dropped;       /* rows removed by --drop-top-loss */
    int vocab;         /* V and T of the runs (0 when unknown, e.g. a CSV) */
    int seq_len;
    char source[512];  /* "csv:<path>" or "sweep:<name>" */
    char c_column[64]; /* how C was obtained: a column name, "budget", or "6ND" */
    char R_source[64]; /* what R means: "realized evaluation R", "target R", or "CSV column R" */
    char selection[256]; /* the selection applied, for the record ("family=dense lr=0.01", or "all") */
} FitData;

/* Which runs or rows are fitted. */
typedef struct {
    const char *family;   /* "dense", "dlcm" or NULL for both */
    double lr;            /* > 0: only runs with this peak LR (relative tolerance 1e-6) */
    long long seed;       /* >= 0: only runs of this seed */
    const char *tag;      /* not NULL: only runs carrying this tag (their own, or their sweep's) */
    RSource R_source;     /* sweep: realized evaluation R (default) or the target */
} FitSelection;

FitSelection fit_selection_default(void);

void fit_data_free(FitData *d);
int fit_data_push(FitData *d, const FitPoint *p);

/* Reads a CSV with a header naming the columns exactly (case matters; a repeated name is
 * refused). Recognized: N, D, loss, and optionally R, P, C (or budget), family (dense|dlcm).
 * The Chinchilla reference layout (columns "Model Size", "Training FLOP", "loss") is read as
 * N = Model Size, C = Training FLOP, D = C / (6 N). compression_law: the columns R and P are
 * required. Every row must have the header's number of fields and end with a newline (a file
 * cut mid-row is refused); every value is a decimal number (no hex, inf or nan), finite, positive
 * (P in [0, 1), R >= 1). Errors name the file, line and column. 0, or -1 with err. */
int fit_data_read_csv(const char *path, int compression_law, FitData *out, char *err, int errlen);

/* Final losses of the runs of a sweep with status 'done': N, tokens as D, R (realized evaluation
 * R or the target, per sel->R_source), P, budget as C, family, LR, seed, shape; the loss is
 * final_val_loss (or final_train_loss when use_train). The selection's lr, seed and tag filters
 * apply here; the family filter is fit_data_select's. 0, or -1 with err. */
int fit_data_read_sweep(sqlite3 *db, const char *sweep, const FitSelection *sel, int use_train, FitData *out,
                        char *err, int errlen);

/* Keeps the points of sel->family (a CSV's dense rows are those with P = 0 or family dense) and
 * records the selection. 0, or -1 with err when nothing is left. */
int fit_data_select(FitData *d, const FitSelection *sel, char *err, int errlen);

/* Removes the k points with the highest loss (the Chinchilla reference drops 5). */
void fit_data_drop_top_loss(FitData *d, int k);

/* Checks that the data can identify the law (k_params free parameters): more points than
 * parameters, at least two distinct N and D, and for the compression-aware law at least two
 * distinct R among the dlcm points and some dlcm points at all. 0, or -1 with err. */
int fit_data_check(const FitData *d, int k_params, int needs_compression_design, char *err, int errlen);

#endif
