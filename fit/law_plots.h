/* fit/law_plots.h: the figures of a law fit: loss vs compute per family with the fitted
 * compute-optimal curves, predicted vs observed, and (dlcm) loss vs P and vs R at a budget. */
#ifndef DLCM_FIT_LAW_PLOTS_H
#define DLCM_FIT_LAW_PLOTS_H

#include "fit/points.h"
#include "fit/summary.h"

/* Writes <dir>/<prefix>-loss-vs-compute, -pred-vs-obs and, for dlcm, -loss-vs-P and
 * -loss-vs-R (.png and .svg); every title starts with tag (the sweep or CSV and the fit).
 * Curves that need shapes are drawn when V and T are known. 0, or -1 with err. */
int law_plots(const char *dir, const char *prefix, const char *tag, const LawSummary *s, const FitData *data, char *err,
              int errlen);

#endif
