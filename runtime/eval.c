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
#include "program.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nnrt_eval_split(NnrtSession *s, const NnrtSplit *sp, double *loss, double *accuracy) {
  NnrtKernel k = s->p->eval ? s->p->eval : s->p->train;
  double sum = 0, correct = 0, osum[NNRT_MAX_OBJECTIVES] = {0}, msum[NNRT_MAX_METRICS] = {0};
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
      msum[i] += nnrt_session_read(s, s->metric_slot[i]) * (double)bs;
  }
  for (int i = 0; i < s->nmetrics; i++)
    s->metric_mean[i] = sp->n ? msum[i] / (double)sp->n : 0;
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
    m->met_name[i] = s->p->slots[s->metric_slot[i]].name;
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
  nnrt_session_free(&s);
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
