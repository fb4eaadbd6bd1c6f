/*
 * plot_train.c — what `train --plot FILE.svg` records and draws, and the
 * parameter columns `train --log` adds for tiny models (see plot.h).
 *
 * One row per epoch: epoch, train loss, accuracy, test and validation loss
 * and accuracy (NaN where the model or data has none: the writer leaves a
 * gap), and the tracked parameter elements after that epoch.  The SVG is written once,
 * after the last epoch (also after a run stopped by a NaN loss, which is
 * when a picture helps most).
 *
 * Invariants: reading parameters and evaluating epoch 0 use the eval
 * generator only, so recording never changes what training computes.
 * Lives apart from plot.c because plot.c is also linked into nnc, which
 * has no session and no nnrt_alloc.
 */
#include "plot.h"
#include "program.h"
#include <math.h>
#include <string.h>

int nnrt_traj_names(const NnrtSession *s, char names[NNRT_TRAJ_MAX][64]) {
  const NnrtProgram *p = s->p;
  int64_t total = 0;
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_PARAM)
      total += nnrt_slot_count(&p->slots[i], 1);
  if (total == 0 || total > NNRT_TRAJ_MAX)
    return 0;
  int k = 0;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *d = &p->slots[i];
    if (d->role != NNRT_SLOT_PARAM)
      continue;
    int64_t n = nnrt_slot_count(d, 1);
    for (int64_t j = 0; j < n; j++, k++)
      if (d->rank == 0)
        snprintf(names[k], 64, "%s", d->name);
      else
        snprintf(names[k], 64, "%s[%lld]", d->name, (long long)j);
  }
  return k;
}

/* The tracked elements' current values, in nnrt_traj_names order. */
static int traj_values(const NnrtSession *s, double *v) {
  const NnrtProgram *p = s->p;
  char names[NNRT_TRAJ_MAX][64];
  int n = nnrt_traj_names(s, names), k = 0;
  for (int i = 0; n && i < p->nslots; i++) {
    const NnrtSlotDesc *d = &p->slots[i];
    if (d->role != NNRT_SLOT_PARAM)
      continue;
    int64_t c = nnrt_slot_count(d, 1);
    for (int64_t j = 0; j < c; j++, k++)
      v[k] = d->dtype == NNRT_F64 ? ((const double *)s->slots[i])[j]
                                  : (double)((const float *)s->slots[i])[j];
  }
  return n;
}

void nnrt_traj_log_header(FILE *log, const NnrtSession *s) {
  char names[NNRT_TRAJ_MAX][64];
  int n = nnrt_traj_names(s, names);
  for (int k = 0; k < n; k++)
    fprintf(log, ",%s", names[k]);
}

void nnrt_traj_log_values(FILE *log, const NnrtSession *s) {
  double v[NNRT_TRAJ_MAX];
  int n = traj_values(s, v);
  for (int k = 0; k < n; k++)
    fprintf(log, ",%.9g", v[k]);
}

void nnrt_log_metrics(FILE *log, const NnrtSession *s, const NnrtMetrics *m) {
  static const char *const prefix[3] = {"", "val_", "test_"};
  bool present[3] = {true, s->valid.present, s->test.present};
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < s->nmetrics && present[k]; i++) {
      bool known = m && (k == NNRT_SPLIT_TRAIN ? !(m->met_whole[i] && isnan(m->met[k][i]))
                                               : k == NNRT_SPLIT_VAL ? m->has_val : m->has_test);
      if (!m)
        fprintf(log, ",%s%s", prefix[k], s->metric[i].name);
      else if (known)
        fprintf(log, ",%.9g", m->met[k][i]);
      else
        fprintf(log, ",");
    }
}

int nnrt_trainplot_open(NnrtTrainPlot *tp, const NnrtSession *s) {
  memset(tp, 0, sizeof *tp);
  tp->ntraj = nnrt_traj_names(s, tp->names);
  tp->cap = (s->epochs > s->epoch ? s->epochs - s->epoch : 0) + 1;
  double **cols[7 + NNRT_TRAJ_MAX] = {&tp->epoch, &tp->loss, &tp->acc, &tp->test_loss,
                                      &tp->test_acc, &tp->val_loss, &tp->val_acc};
  for (int k = 0; k < tp->ntraj; k++)
    cols[7 + k] = &tp->traj[k];
  for (int c = 0; c < 7 + tp->ntraj; c++)
    if (!(*cols[c] = nnrt_alloc((size_t)tp->cap * sizeof(double), "plot history"))) {
      nnrt_oom("plot history", (size_t)tp->cap * sizeof(double));
      nnrt_trainplot_free(tp);
      return -1;
    }
  tp->nmet = s->nmetrics;
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < tp->nmet; i++)
      if (!(tp->met[k][i] = nnrt_alloc((size_t)tp->cap * sizeof(double), "plot history"))) {
        nnrt_oom("plot history", (size_t)tp->cap * sizeof(double));
        nnrt_trainplot_free(tp);
        return -1;
      }
  return 0;
}

void nnrt_trainplot_add(NnrtTrainPlot *tp, const NnrtSession *s, int64_t epoch,
                        const NnrtMetrics *m) {
  if (tp->n >= tp->cap)
    return;
  int64_t i = tp->n++;
  tp->epoch[i] = (double)epoch;
  tp->loss[i] = m->loss;
  tp->acc[i] = m->has_accuracy ? m->accuracy : NAN;
  tp->test_loss[i] = m->has_test ? m->test_loss : NAN;
  tp->test_acc[i] = m->has_test && m->has_accuracy ? m->test_accuracy : NAN;
  tp->val_loss[i] = m->has_val ? m->val_loss : NAN;
  tp->val_acc[i] = m->has_val && m->has_accuracy ? m->val_accuracy : NAN;
  for (int k = 0; k < tp->nmet; k++) {
    tp->met[NNRT_SPLIT_TRAIN][k][i] = k < m->nmet ? m->met[NNRT_SPLIT_TRAIN][k] : NAN;
    tp->met[NNRT_SPLIT_VAL][k][i] = k < m->nmet && m->has_val ? m->met[NNRT_SPLIT_VAL][k] : NAN;
    tp->met[NNRT_SPLIT_TEST][k][i] = k < m->nmet && m->has_test ? m->met[NNRT_SPLIT_TEST][k] : NAN;
  }
  double v[NNRT_TRAJ_MAX];
  traj_values(s, v);
  for (int k = 0; k < tp->ntraj; k++)
    tp->traj[k][i] = v[k];
}

void nnrt_traj_start(NnrtSession *s, FILE *log, NnrtTrainPlot *tp) {
  char names[NNRT_TRAJ_MAX][64];
  if (s->epoch != 0 || nnrt_traj_names(s, names) == 0)
    return;
  NnrtMetrics m = {.has_accuracy = s->correct_slot >= 0, .nmet = s->nmetrics};
  nnrt_eval_split(s, &s->train, &m.loss, &m.accuracy);
  memcpy(m.met[NNRT_SPLIT_TRAIN], s->metric_mean, sizeof s->metric_mean);
  if (log) {
    fprintf(log, "0,%.9g,", m.loss);
    if (m.has_accuracy)
      fprintf(log, "%.9g", m.accuracy);
    NnrtSched constant = {.kind = SCHED_CONSTANT};
    const NnrtSched *sc = s->p->nopts > 0 ? &s->p->opts[0].sched : &constant;
    fprintf(log, ",%.9g,0", nnrt_sched_lr(sc, s->cfg[0].lr, 0, s->epochs));
    if (s->test.present)
      fprintf(log, ",,");
    if (s->valid.present)
      fprintf(log, ",,");
    nnrt_traj_log_values(log, s);
    nnrt_log_metrics(log, s, &m);
    fprintf(log, "\n");
  }
  if (tp)
    nnrt_trainplot_add(tp, s, 0, &m);
}

int nnrt_trainplot_save(const NnrtTrainPlot *tp, const NnrtSession *s, const char *path) {
  const char *name = s->p->name ? s->p->name : "model";
  bool has_acc = s->correct_slot >= 0;
  NnrtSeries loss[3] = {{"train loss", tp->epoch, tp->loss, tp->n}};
  NnrtSeries acc[3] = {{"train accuracy", tp->epoch, tp->acc, tp->n}};
  int nser = 1;
  if (s->valid.present) {
    loss[nser] = (NnrtSeries){"validation loss", tp->epoch, tp->val_loss, tp->n};
    acc[nser++] = (NnrtSeries){"validation accuracy", tp->epoch, tp->val_acc, tp->n};
  }
  if (s->test.present) {
    loss[nser] = (NnrtSeries){"test loss", tp->epoch, tp->test_loss, tp->n};
    acc[nser++] = (NnrtSeries){"test accuracy", tp->epoch, tp->test_acc, tp->n};
  }
  char traj_name[136];
  snprintf(traj_name, sizeof traj_name, "(%s, %s)", tp->names[0], tp->names[1]);
  NnrtSeries path2 = {traj_name, tp->traj[0], tp->traj[1], tp->n};
  /* A loss that falls by more than two decades reads better on a log axis. */
  double lo = INFINITY, hi = 0;
  for (int64_t i = 0; i < tp->n; i++)
    if (isfinite(tp->loss[i]) && tp->loss[i] > 0) {
      lo = tp->loss[i] < lo ? tp->loss[i] : lo;
      hi = tp->loss[i] > hi ? tp->loss[i] : hi;
    }
  /* the train block's metrics, each split a line, on one chart */
  NnrtSeries met[3 * NNRT_MAX_METRICS];
  char met_names[3 * NNRT_MAX_METRICS][96];
  int nmet = 0;
  static const char *const split_name[3] = {"train", "validation", "test"};
  bool present[3] = {true, s->valid.present, s->test.present};
  for (int i = 0; i < tp->nmet; i++)
    for (int k = 0; k < 3; k++)
      if (present[k]) {
        snprintf(met_names[nmet], sizeof met_names[nmet], "%s %s", split_name[k],
                 s->metric[i].name);
        met[nmet] = (NnrtSeries){met_names[nmet], tp->epoch, tp->met[k][i], tp->n};
        nmet++;
      }
  NnrtChart charts[4];
  int n = 0;
  charts[n++] = (NnrtChart){.title = "loss", .xlabel = "epoch", .ylabel = "loss",
                            .log_y = hi > 100 * lo, .series = loss,
                            .nseries = nser};
  if (has_acc)
    charts[n++] = (NnrtChart){.title = "accuracy", .xlabel = "epoch", .ylabel = "accuracy",
                              .series = acc, .nseries = nser};
  if (nmet > 0)
    charts[n++] = (NnrtChart){.title = "metrics", .xlabel = "epoch", .ylabel = "metric",
                              .series = met, .nseries = nmet};
  if (tp->ntraj == 2)
    charts[n++] = (NnrtChart){.title = "parameter trajectory", .xlabel = tp->names[0],
                              .ylabel = tp->names[1], .trajectory = true,
                              .series = &path2, .nseries = 1};
  char err[512];
  if (nnrt_plot_save(path, name, charts, n, err, sizeof err) != 0) {
    fprintf(stderr, "error: %s\n", err);
    return -1;
  }
  return 0;
}

void nnrt_trainplot_free(NnrtTrainPlot *tp) {
  double **cols[7 + NNRT_TRAJ_MAX] = {&tp->epoch, &tp->loss, &tp->acc, &tp->test_loss,
                                      &tp->test_acc, &tp->val_loss, &tp->val_acc};
  for (int k = 0; k < NNRT_TRAJ_MAX; k++)
    cols[7 + k] = &tp->traj[k];
  for (int c = 0; c < 7 + NNRT_TRAJ_MAX; c++) {
    nnrt_free(*cols[c]);
    *cols[c] = NULL;
  }
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < NNRT_MAX_METRICS; i++) {
      nnrt_free(tp->met[k][i]);
      tp->met[k][i] = NULL;
    }
}
