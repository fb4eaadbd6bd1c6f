/*
 * plot.h — line charts written as SVG by the project itself (runtime/plot.c),
 * used by `OUT train --plot FILE.svg` and by `nnc plot`.
 *
 * A document is one or more charts side by side; a chart is several named
 * series of (x, y) points drawn as lines, with axes, tick labels, a grid, a
 * legend and a title, optionally with a logarithmic y axis.  A trajectory
 * chart draws x-y paths and marks where each starts (hollow dot) and ends
 * (filled dot).
 *
 * Invariants: the writer allocates nothing (it is linked into both libnnrt
 * and the nnc executable, which has no nnrt_alloc); a non-finite value, or
 * a value <= 0 on a log axis, is a gap in its line, never an error; each
 * series is exactly one <path> element, and nothing else is a <path>.
 */
#ifndef NNRT_PLOT_H
#define NNRT_PLOT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "include/nnrt.h" /* NNRT_MAX_METRICS */

typedef struct NnrtSeries {
  const char *name;     /* legend text */
  const double *x, *y;  /* n points each */
  int64_t n;
} NnrtSeries;

typedef struct NnrtChart {
  const char *title, *xlabel, *ylabel;
  bool log_y;
  bool trajectory;      /* x-y paths: start and end markers, y axis not forced to 0 */
  bool has_mark;        /* a labelled cross at (mark_x, mark_y), e.g. the optimum */
  double mark_x, mark_y;
  const char *mark_label;
  const NnrtSeries *series;
  int nseries;
} NnrtChart;

/* Write the charts side by side as one SVG document, with an optional
 * overall title (NULL: none). */
void nnrt_plot_write(FILE *f, const char *title, const NnrtChart *charts, int ncharts);
/* The same into a file; returns 0, or -1 with a one-line message in err. */
int nnrt_plot_save(const char *path, const char *title, const NnrtChart *charts,
                   int ncharts, char *err, size_t errlen);

/* ---- runtime only (plot_train.c): what `train --plot/--log` records ----
 * A model with at most NNRT_TRAJ_MAX parameter elements in all gets one
 * extra --log column per element, named "p[0]", "p[1]", ... after its
 * parameter (a scalar parameter: just its name), and an epoch-0 row with
 * the initial parameters, so the trajectory starts where training did. */
#define NNRT_TRAJ_MAX 4
struct NnrtSession;
struct NnrtMetrics;
typedef struct NnrtTrainPlot {
  int64_t n, cap;                     /* rows recorded, rows allocated */
  double *epoch, *loss, *acc, *test_loss, *test_acc, *val_loss, *val_acc;
  double *traj[NNRT_TRAJ_MAX];        /* parameter elements, when tracked */
  int ntraj;
  double *met[3][NNRT_MAX_METRICS];   /* the train block's metrics per split (NNRT_SPLIT_*) */
  int nmet;
  char names[NNRT_TRAJ_MAX][64];
} NnrtTrainPlot;
/* Number of parameter elements tracked (0 if the model has more than
 * NNRT_TRAJ_MAX), their names filled into names. */
int nnrt_traj_names(const struct NnrtSession *s, char names[NNRT_TRAJ_MAX][64]);
void nnrt_traj_log_header(FILE *log, const struct NnrtSession *s);
void nnrt_traj_log_values(FILE *log, const struct NnrtSession *s);
/* The train block's metric columns of --log: their names (m NULL), or an
 * epoch's values (empty where m has no such split): NAME, val_NAME, test_NAME. */
void nnrt_log_metrics(FILE *log, const struct NnrtSession *s, const struct NnrtMetrics *m);
/* Room for every epoch still to run (+1 for epoch 0); -1 on out of memory. */
int nnrt_trainplot_open(NnrtTrainPlot *tp, const struct NnrtSession *s);
void nnrt_trainplot_add(NnrtTrainPlot *tp, const struct NnrtSession *s, int64_t epoch,
                        const struct NnrtMetrics *m);
/* Write the charts: loss (train, validation and test), accuracy when the model has one,
 * and the 2-D path when exactly two parameter elements are tracked. */
int nnrt_trainplot_save(const NnrtTrainPlot *tp, const struct NnrtSession *s, const char *path);
void nnrt_trainplot_free(NnrtTrainPlot *tp);
/* Epoch 0 of a tracked model: the loss at the initial parameters into the
 * log and the plot (either may be NULL).  Nothing is done for others. */
void nnrt_traj_start(struct NnrtSession *s, FILE *log, NnrtTrainPlot *tp);

#endif
