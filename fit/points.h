/* fit/points.h: the observations a scaling law is fitted to (one per finished run or CSV row),
 * where they come from (CSV files or a sweep in the database), and the checks they must pass. */
#ifndef DLCM_FIT_POINTS_H
#define DLCM_FIT_POINTS_H

#include <sqlite3.h>

typedef struct {
    double N;      /* non-embedding parameters */
    double D;      /* training tokens */
    double R;      /* target compression ratio; 1 for dense */
    double P;      /* concept-backbone share of N; 0 for dense */
    double C;      /* training FLOPs budget the point belongs to */
    double loss;   /* final loss (nats per token) */
    int dense;     /* 1: a dense model (the law's concept term is absent) */
    int line;      /* CSV line (1-based) or 0 */
    char id[72];   /* run id, or "line N" for a CSV row */
} FitPoint;

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
} FitData;

void fit_data_free(FitData *d);
int fit_data_push(FitData *d, const FitPoint *p);

/* Reads a CSV with a header naming the columns. Recognized: N, D, loss, and optionally R, P,
 * C (or budget), family (dense|dlcm). The Chinchilla reference layout (columns "Model Size",
 * "Training FLOP", "loss") is detected and read as N = Model Size, C = Training FLOP,
 * D = C / (6 N). Every value is checked (finite, positive; P in [0, 1), R >= 1); errors
 * name the file, line and column. 0, or -1 with err. */
int fit_data_read_csv(const char *path, FitData *out, char *err, int errlen);

/* Final losses of the runs of a sweep with status 'done': N, tokens as D, R_target as R, P,
 * budget as C, family; the loss is final_val_loss (or final_train_loss when use_train).
 * family_filter is "dense", "dlcm" or NULL for all. 0, or -1 with err. */
int fit_data_read_sweep(sqlite3 *db, const char *sweep, const char *family_filter, int use_train,
                        FitData *out, char *err, int errlen);

/* Removes the k points with the highest loss (the Chinchilla reference drops 5). */
void fit_data_drop_top_loss(FitData *d, int k);

/* Checks that the data can identify the law (k_params free parameters): more points than
 * parameters, at least two distinct N and D, and for the compression-aware law at least two
 * distinct R among the dlcm points and some dlcm points at all. 0, or -1 with err. */
int fit_data_check(const FitData *d, int k_params, int needs_compression_design, char *err, int errlen);

#endif
