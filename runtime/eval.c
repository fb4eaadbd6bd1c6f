/*
 * eval.c — evaluation with the eval kernel (inference mode) and the `eval`
 * command, which prints the same machine-readable line as the end of
 * `train`: `loss=X accuracy=Y [val_loss=X val_accuracy=Y] test_loss=X
 * test_accuracy=Y`.  A --load'ed checkpoint's seed and validation fraction
 * are used, so its splits (and normalisation) are those it was trained on.
 *
 * Invariants: samples are visited in file order in batches of s->B, and
 * the eval kernel draws from its own generator, reseeded from the run's
 * seed before every pass, so evaluating never disturbs the training
 * stream and the same weights always give the same numbers (this is what
 * makes `train --save f` and `eval --load f` print identical values).
 * A program without an eval kernel is evaluated with its train kernel.
 */
#include "detect_eval.h"
#include "program.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- detection mAP over a split (`metric NAME = detection_map(...)`) ---- */

typedef struct Dets {
  NnrtDetection *det; int64_t nd, capd;
  NnrtTruth *gt; int64_t ng, capg;
} Dets;

static bool grow(void **a, int64_t *cap, int64_t need, size_t esz) {
  if (need <= *cap)
    return true;
  int64_t c = *cap ? *cap * 2 : 1024;
  while (c < need)
    c *= 2;
  void *b = realloc(*a, (size_t)c * esz);
  if (!b) {
    nnrt_oom("detections", (size_t)c * esz);
    return false;
  }
  *a = b;
  *cap = c;
  return true;
}

/* Batch rows 0..bs of the detections (label < 0: padding, e.g. nms's −1
 * rows) and ground truth (label < 0: padding) of metric i, as images
 * start..start+bs of the split. */
static const char *split_name(const NnrtSession *s, const NnrtSplit *sp) {
  return sp == &s->test ? "test" : sp == &s->valid ? "validation" : "train";
}

static int det_batch(const NnrtSession *s, const NnrtSplit *sp, Dets *d, int i, int64_t start, int64_t bs) {
  const NnrtMetricDesc *m = &s->metric[i];
  const NnrtSlotDesc *bx = &s->p->slots[m->det[NNRT_DET_BOXES]], *gb = &s->p->slots[m->det[NNRT_DET_GT_BOXES]];
  int64_t K = nnrt_slot_sample_count(bx) / 4, G = nnrt_slot_sample_count(gb) / 4;
  if (!grow((void **)&d->det, &d->capd, d->nd + bs * K, sizeof *d->det) ||
      !grow((void **)&d->gt, &d->capg, d->ng + bs * G, sizeof *d->gt))
    return -1;
  for (int64_t b = 0; b < bs; b++) {
    for (int64_t k = 0; k < K; k++) {
      double label = nnrt_session_elem(s, m->det[NNRT_DET_LABELS], b * K + k);
      if (!(label >= 0)) /* padding (NaN: not a class either) */
        continue;
      NnrtDetection *e = &d->det[d->nd++];
      e->image = (int32_t)(start + b);
      e->label = (int32_t)(label + 0.5);
      e->score = (float)nnrt_session_elem(s, m->det[NNRT_DET_SCORES], b * K + k);
      for (int c = 0; c < 4; c++)
        e->box[c] = (float)nnrt_session_elem(s, m->det[NNRT_DET_BOXES], (b * K + k) * 4 + c);
    }
    for (int64_t g = 0; g < G; g++) {
      double label = nnrt_session_elem(s, m->det[NNRT_DET_GT_LABELS], b * G + g);
      if (!(label >= 0))
        continue;
      NnrtTruth *t = &d->gt[d->ng++];
      t->image = (int32_t)(start + b);
      t->label = (int32_t)(label + 0.5);
      for (int c = 0; c < 4; c++)
        t->box[c] = (float)nnrt_session_elem(s, m->det[NNRT_DET_GT_BOXES], (b * G + g) * 4 + c);
      if (!(t->box[2] >= t->box[0] && t->box[3] >= t->box[1]) || t->label >= m->classes) {
        fprintf(stderr, "error: metric '%s': the true box of sample %lld, row %lld of the %s split is (%g, %g, "
                "%g, %g) with label %d: %s\n", m->name, (long long)(start + b), (long long)g, split_name(s, sp),
                t->box[0], t->box[1], t->box[2], t->box[3], t->label,
                t->label >= m->classes ? "the label is not below classes" : "NaN, or x2 < x1 or y2 < y1");
        ((NnrtSession *)s)->metric_error = true;
        return -1;
      }
    }
  }
  return 0;
}

static double det_map(const NnrtSession *s, const Dets *d, int i) {
  const NnrtMetricDesc *m = &s->metric[i];
  double ap[256], map = NAN;
  char err[256];
  if (m->classes > 256 || nnrt_detect_map(d->det, d->nd, d->gt, d->ng, m->classes, m->iou, ap, &map, err,
                                          sizeof err) != 0) {
    fprintf(stderr, "error: metric '%s': %s\n", m->name, m->classes > 256 ? "more than 256 classes" : err);
    ((NnrtSession *)s)->metric_error = true;
    return NAN;
  }
  return map;
}

static void det_free(Dets *d) {
  free(d->det);
  free(d->gt);
}

void nnrt_eval_split(NnrtSession *s, const NnrtSplit *sp, double *loss, double *accuracy) {
  NnrtKernel k = s->p->eval ? s->p->eval : s->p->train;
  double sum = 0, correct = 0, osum[NNRT_MAX_OBJECTIVES] = {0}, msum[NNRT_MAX_METRICS] = {0};
  Dets dets[NNRT_MAX_METRICS] = {0}; /* a detection mAP's detections and truth so far */
  bool det_failed = false;
  int nobj = s->p->nobjs > 1 ? s->p->nobjs : 0;
  nnrt_rng_seed(&s->eval_rng, s->seed ^ 0x6576616c5eedull);
  bool carried = nnrt_program_carried(s->p) != NULL;
  for (int64_t start = 0; start < sp->n; start += s->B) {
    int64_t bs = sp->n - start < s->B ? sp->n - start : s->B;
    if (carried) /* inference never updates it: each window starts from its initialiser */
      nnrt_session_reset_carried(s);
    nnrt_session_gather(s, sp, NULL, start, bs);
    k(&s->eval_ctx, s->slots, s->scratch, bs);
    if (s->loss_slot >= 0)
      sum += nnrt_session_read(s, s->loss_slot) * (double)bs;
    if (s->correct_slot >= 0)
      correct += nnrt_session_read(s, s->correct_slot);
    for (int i = 0; i < nobj; i++) /* the eval kernel computes every objective's loss */
      osum[i] += nnrt_session_read(s, s->p->objs[i].loss_slot) * (double)bs;
    for (int i = 0; i < s->nmetrics; i++) /* batch means, weighted by the batch */
      if (s->metric[i].slot >= 0)
        msum[i] += nnrt_session_read(s, s->metric[i].slot) * (double)bs;
      else if (!det_failed && det_batch(s, sp, &dets[i], i, start, bs) != 0)
        det_failed = true;
  }
  for (int i = 0; i < s->nmetrics; i++)
    s->metric_mean[i] = s->metric[i].slot >= 0 ? (sp->n ? msum[i] / (double)sp->n : 0)
                        : det_failed ? NAN : det_map(s, &dets[i], i);
  for (int i = 0; i < s->nmetrics; i++)
    det_free(&dets[i]);
  for (int i = 0; i < nobj; i++)
    s->obj_loss[i] = sp->n ? osum[i] / (double)sp->n : 0;
  *loss = sp->n ? sum / (double)sp->n : 0;
  *accuracy = sp->n ? correct / (double)sp->n : 0;
}

void nnrt_evaluate(NnrtSession *s, bool test_only, NnrtMetrics *m) {
  m->has_accuracy = s->correct_slot >= 0;
  m->has_test = s->test.present;
  m->has_val = s->valid.present;
  m->stopped_early = m->best_epoch = 0;
  if (!test_only)
    m->nobj = 0; /* (test_only keeps the epoch's running means of train.c) */
  m->nmet = s->nmetrics;
  for (int i = 0; i < s->nmetrics; i++)
    m->met_name[i] = s->metric[i].name, m->met_whole[i] = s->metric[i].slot < 0;
  if (!test_only && s->train.present) {
    nnrt_eval_split(s, &s->train, &m->loss, &m->accuracy);
    memcpy(m->met[NNRT_SPLIT_TRAIN], s->metric_mean, sizeof s->metric_mean);
    for (int i = 0; i < s->p->nobjs && s->p->nobjs > 1; i++) {
      m->obj[i] = s->obj_loss[i];
      m->obj_name[i] = s->p->objs[i].name;
      m->nobj = i + 1;
    }
  }
  if (s->valid.present) {
    nnrt_eval_split(s, &s->valid, &m->val_loss, &m->val_accuracy);
    memcpy(m->met[NNRT_SPLIT_VAL], s->metric_mean, sizeof s->metric_mean);
  }
  if (s->test.present) {
    nnrt_eval_split(s, &s->test, &m->test_loss, &m->test_accuracy);
    memcpy(m->met[NNRT_SPLIT_TEST], s->metric_mean, sizeof s->metric_mean);
  }
}

void nnrt_print_result(const NnrtMetrics *m, int64_t epoch) {
  if (epoch >= 0)
    printf("epoch=%lld ", (long long)epoch);
  printf("loss=%.6g", m->loss);
  for (int i = 0; i < m->nobj; i++) /* several objectives: each by its name (loss is the first's) */
    printf(" %s=%.6g", m->obj_name[i], m->obj[i]);
  if (m->has_accuracy)
    printf(" accuracy=%.6g", m->accuracy);
  for (int i = 0; i < m->nmet; i++)
    printf(" %s=%.6g", m->met_name[i], m->met[NNRT_SPLIT_TRAIN][i]);
  if (m->has_val) {
    printf(" val_loss=%.6g", m->val_loss);
    if (m->has_accuracy)
      printf(" val_accuracy=%.6g", m->val_accuracy);
    for (int i = 0; i < m->nmet; i++)
      printf(" val_%s=%.6g", m->met_name[i], m->met[NNRT_SPLIT_VAL][i]);
  }
  if (m->has_test) {
    printf(" test_loss=%.6g", m->test_loss);
    if (m->has_accuracy)
      printf(" test_accuracy=%.6g", m->test_accuracy);
    for (int i = 0; i < m->nmet; i++)
      printf(" test_%s=%.6g", m->met_name[i], m->met[NNRT_SPLIT_TEST][i]);
  }
  if (m->stopped_early > 0)
    printf(" stopped_early=%lld", (long long)m->stopped_early);
  if (m->best_epoch > 0)
    printf(" best_epoch=%lld", (long long)m->best_epoch);
  printf("\n");
  fflush(stdout);
}

int nnrt_cmd_eval(NnrtProgram *p, const NnrtOptions *o) {
  if (!p->eval && !p->train) {
    fprintf(stderr, "error: program '%s' has no kernels to evaluate\n", p->name ? p->name : "");
    return 1;
  }
  NnrtCkpt *c = NULL;
  NnrtOptions lo;
  int64_t B = o->batch > 0 ? o->batch : p->batch;
  if (o->load) {
    if (!(c = nnrt_ckpt_open(o->load)))
      return 1;
    lo = *o;
    nnrt_options_from_ckpt(&lo, c);
    o = &lo;
    /* Default to the batch the checkpoint was trained with, so the sums
     * run in the same order as the evaluation at the end of training. */
    const char *b = nnrt_ckpt_meta(c, "batch");
    long long v = b ? atoll(b) : 0;
    if (o->batch <= 0 && v > 0)
      B = v;
  }
  NnrtSession s;
  if (nnrt_session_open(&s, p, o, B, SESSION_DATA | SESSION_TEST) != 0) {
    nnrt_ckpt_free(c);
    return 1;
  }
  if (c && nnrt_session_restore(&s, c, o->load, false) != 0) {
    nnrt_ckpt_free(c);
    nnrt_session_free(&s);
    return 1;
  }
  nnrt_ckpt_free(c);
  NnrtMetrics m;
  nnrt_evaluate(&s, false, &m);
  nnrt_print_result(&m, -1);
  bool bad = s.metric_error;
  nnrt_session_free(&s);
  if (bad)
    return 1;
  return nnrt_metrics_finite(&m, o->load ? " with the weights of " : " with freshly initialised weights",
                             o->load ? o->load : "") ? 0 : 3;
}

bool nnrt_metrics_finite(const NnrtMetrics *m, const char *with, const char *path) {
  /* The line is printed either way; a non-finite loss is not a result. */
  const char *split = !isfinite(m->loss) ? "train"
                      : m->has_val && !isfinite(m->val_loss) ? "validation"
                      : m->has_test && !isfinite(m->test_loss) ? "test" : NULL;
  if (!split)
    return true;
  double v = split[0] == 't' ? (split[1] == 'r' ? m->loss : m->test_loss) : m->val_loss;
  fprintf(stderr, "error: the %s loss is %s%s%s\n", split, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf",
          with, path);
  return false;
}
