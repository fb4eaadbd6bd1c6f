/*
 * sched.c — learning-rate schedules, evaluated once per epoch (0-based e,
 * E total epochs, lr the optimizer's base rate):
 *
 *   constant       lr
 *   step           lr·gamma^floor(e/step_size)        (step_size 10, gamma 0.1)
 *   exponential    lr·gamma^e                         (gamma 0.95)
 *   cosine         min_lr + (lr−min_lr)·(1+cos(π·e/T))/2, T = t_max or E (min_lr 0)
 *   warmup         lr·(e+1)/W for e < W, then lr      (W = warmup_epochs, 5)
 *   warmup_cosine  warmup, then cosine over the remaining E−W epochs
 *
 * Invariants: a pure function of (schedule, lr, e, E), so a resumed run
 * gets the same rates as an uninterrupted one.  It does not change the
 * rate within an epoch.
 */
#include "program.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

int nnrt_sched_config(NnrtSched *s, const char *name, int nkw,
                      const char *const *keys, const double *vals,
                      char *err, size_t errlen) {
  static const struct { const char *name; NnrtSchedKind kind; } kinds[] = {
    {"constant", SCHED_CONSTANT}, {"none", SCHED_CONSTANT}, {"step", SCHED_STEP},
    {"exponential", SCHED_EXPONENTIAL}, {"exp", SCHED_EXPONENTIAL},
    {"cosine", SCHED_COSINE}, {"warmup", SCHED_WARMUP},
    {"warmup_cosine", SCHED_WARMUP_COSINE},
  };
  int found = -1;
  for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kinds[i].name, name) == 0)
      found = (int)i;
  if (found < 0) {
    snprintf(err, errlen, "unknown schedule '%s' (expected constant, step, exponential, "
             "cosine, warmup or warmup_cosine)", name ? name : "(null)");
    return -1;
  }
  *s = (NnrtSched){.kind = kinds[found].kind, .step_size = 10, .gamma = 0.1,
                   .warmup_epochs = 5, .min_lr = 0, .t_max = 0};
  if (s->kind == SCHED_EXPONENTIAL) s->gamma = 0.95;
  for (int i = 0; i < nkw; i++) {
    double v = vals[i];
    if (strcmp(keys[i], "step_size") == 0) s->step_size = v;
    else if (strcmp(keys[i], "gamma") == 0) s->gamma = v;
    else if (strcmp(keys[i], "warmup_epochs") == 0 || strcmp(keys[i], "warmup") == 0) s->warmup_epochs = v;
    else if (strcmp(keys[i], "min_lr") == 0) s->min_lr = v;
    else if (strcmp(keys[i], "t_max") == 0 || strcmp(keys[i], "epochs") == 0) s->t_max = v;
    else {
      snprintf(err, errlen, "schedule '%s': unknown option '%s' (expected step_size, gamma, "
               "warmup_epochs, min_lr or t_max)", name, keys[i]);
      return -1;
    }
    if (!isfinite(v) || v < 0) {
      snprintf(err, errlen, "schedule '%s': %s must be a finite number >= 0", name, keys[i]);
      return -1;
    }
  }
  if (s->step_size < 1) s->step_size = 1;
  return 0;
}

static double cosine(double lr, double min_lr, double e, double T) {
  if (T <= 0 || e >= T) return min_lr;
  return min_lr + (lr - min_lr) * 0.5 * (1.0 + cos(M_PI * e / T));
}

double nnrt_sched_lr(const NnrtSched *s, double lr, int64_t epoch, int64_t epochs) {
  double e = (double)epoch, W = floor(s->warmup_epochs);
  double T = s->t_max > 0 ? s->t_max : (double)epochs;
  switch (s->kind) {
  case SCHED_CONSTANT: return lr;
  case SCHED_STEP: return lr * pow(s->gamma, floor(e / floor(s->step_size)));
  case SCHED_EXPONENTIAL: return lr * pow(s->gamma, e);
  case SCHED_COSINE: return cosine(lr, s->min_lr, e, T);
  case SCHED_WARMUP:
  case SCHED_WARMUP_COSINE:
    if (e < W) return lr * (e + 1) / W;
    return s->kind == SCHED_WARMUP ? lr : cosine(lr, s->min_lr, e - W, T - W);
  }
  return lr;
}
