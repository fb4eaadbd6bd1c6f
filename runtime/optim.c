/*
 * optim.c — the optimizer step, one textbook rule per kind, applied
 * elementwise to a parameter, its gradient and the optimizer's state.
 *
 *   g' = g + wd·θ                      (L2 weight decay, all but AdamW)
 *   sgd       θ -= lr·g'
 *   momentum  v = μv + (1−d)g';  θ -= lr·v          (PyTorch convention: the
 *             velocity accumulates raw gradients and lr scales the step,
 *             equivalent to the lecture's v = μv − lr·g; θ += v for fixed lr)
 *             dampening d (0 by default) weighs the gradient from the second
 *             step on; the first step's velocity is g', as PyTorch's
 *   nesterov  v = μv + (1−d)g';  θ -= lr·(g' + μv)  (NAG rewritten for the
 *             stored parameter: the look-ahead point θ − lr·μv is the one
 *             kept, as in PyTorch and Sutskever et al. 2013)
 *             lookahead = 1, the lecture's form: θ is kept and the gradient
 *             is taken at φ = θ − μv (train.c evaluates the train kernel
 *             there, nnrt_opt_ahead); g' = g(φ) + wd·φ;  v = μv + lr·g';
 *             θ -= v  (v holds the rate; no dampening)
 *   adagrad   G += g'²;  θ -= lr'·g'/(sqrt(G) + eps),  lr' = lr/(1 + (t−1)·lr_decay),
 *             G starts at initial_accumulator_value (0)
 *   adadelta  E[g²] = ρE[g²] + (1−ρ)g'²;  Δ = −sqrt(E[Δ²]+eps)/sqrt(E[g²]+eps)·g';
 *             E[Δ²] = ρE[Δ²] + (1−ρ)Δ²;  θ += lr·Δ      (Zeiler 2012; lr 1.0)
 *   rmsprop   E = ρE + (1−ρ)g'²;  θ -= lr·g'/(sqrt(E) + eps)   (ρ = 0.9 as in
 *             Hinton's lecture and Keras; PyTorch's alpha is 0.99 — pass rho)
 *             centered: also M = ρM + (1−ρ)g';  θ -= lr·g'/(sqrt(E − M²) + eps)
 *   adam      m = β1m + (1−β1)g';  v = β2v + (1−β2)g'²;
 *             θ -= lr·(m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps)
 *             amsgrad: V = max(V, v), and sqrt(V/(1−β2^t)) in place of v's
 *   adamw     θ -= lr·wd·θ, then adam with the raw gradient (Loshchilov & Hutter)
 *
 * Defaults: lr 0.01 (adadelta 1.0, adam/adamw 0.001); momentum 0.9 for
 * "momentum"/"nesterov" ("sgd" with momentum > 0 is momentum, and with
 * nesterov = 1 is nesterov); beta1 0.9, beta2 0.999; eps 1e-8 (adagrad
 * 1e-10, adadelta 1e-6); rho 0.9; weight_decay 0 (adamw 0.01).
 *
 * Training runs the step nnc generates from the same rules
 * (compiler/codegen/optim.c, for the CPU and the GPU alike), called through
 * nnrt_opt_run with the scalars of nnrt_opt_args; the C loops below are its
 * reference, which the unit tests and e2e_optim_reference compare it with
 * bit for bit (NNRT_OPT_REFERENCE=1 trains with them).
 *
 * Invariants: arithmetic happens in the parameter's precision; only the
 * bias corrections (powers of β), adagrad's decayed rate and the dampened
 * gradient's weight are computed in double.  State arrays start at zero
 * (adagrad's sum at initial_accumulator_value) and are the whole optimizer
 * state (so checkpoints carry it: amsgrad's maximum and centered rmsprop's
 * mean gradient too).  It does not schedule the rate (sched.c does).
 *
 * Gradient-norm clipping (nnrt_clip_*_ref below, the reference of the
 * generated nnc_sqsum/nnc_clip/nnc_scale) runs before the step: the norm's
 * square is NNRT_CLIP_PARTS partial sums in double, element i of each
 * gradient (gradients in order, i ascending) adding its square to partial
 * i mod NNRT_CLIP_PARTS, then the partials added in order; above max_norm
 * every gradient is multiplied by max_norm / (norm + 1e-6) rounded to its
 * own type.  The order is fixed, not the machine's, so the CPU and the GPU
 * agree bit for bit.
 */
#include "program.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct { const char *name; NnrtOptKind kind; } kinds[] = {
  {"sgd", NNRT_OPT_SGD}, {"momentum", NNRT_OPT_MOMENTUM},
  {"nesterov", NNRT_OPT_NESTEROV}, {"nag", NNRT_OPT_NESTEROV},
  {"adagrad", NNRT_OPT_ADAGRAD}, {"adadelta", NNRT_OPT_ADADELTA},
  {"rmsprop", NNRT_OPT_RMSPROP}, {"adam", NNRT_OPT_ADAM}, {"adamw", NNRT_OPT_ADAMW},
};

const char *nnrt_opt_name(NnrtOptKind k) {
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (kinds[i].kind == k)
      return kinds[i].name;
  return "?";
}

int nnrt_opt_config(NnrtOptConfig *c, const char *name, int nkw,
                    const char *const *keys, const double *vals,
                    char *err, size_t errlen) {
  int found = -1;
  for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kinds[i].name, name) == 0)
      found = (int)i;
  if (found < 0) {
    snprintf(err, errlen, "unknown optimizer '%s' (expected sgd, momentum, nesterov, "
             "adagrad, adadelta, rmsprop, adam or adamw)", name ? name : "(null)");
    return -1;
  }
  NnrtOptKind k = kinds[found].kind;
  *c = (NnrtOptConfig){.kind = k, .lr = 0.01, .momentum = 0, .beta1 = 0.9,
                       .beta2 = 0.999, .eps = 1e-8, .rho = 0.9, .weight_decay = 0};
  double amsgrad = 0, centered = 0, lookahead = 0;
  if (k == NNRT_OPT_MOMENTUM || k == NNRT_OPT_NESTEROV) c->momentum = 0.9;
  if (k == NNRT_OPT_ADADELTA) { c->lr = 1.0; c->eps = 1e-6; }
  if (k == NNRT_OPT_ADAGRAD) c->eps = 1e-10;
  if (k == NNRT_OPT_ADAM || k == NNRT_OPT_ADAMW) c->lr = 0.001;
  if (k == NNRT_OPT_ADAMW) c->weight_decay = 0.01;
  bool nesterov = false;
  for (int i = 0; i < nkw; i++) {
    const char *key = keys[i];
    double v = vals[i];
    if (!isfinite(v)) {
      snprintf(err, errlen, "optimizer '%s': %s must be finite", name, key);
      return -1;
    }
    if (strcmp(key, "lr") == 0 || strcmp(key, "learning_rate") == 0) c->lr = v;
    else if (strcmp(key, "momentum") == 0) c->momentum = v;
    else if (strcmp(key, "beta1") == 0) c->beta1 = v;
    else if (strcmp(key, "beta2") == 0) c->beta2 = v;
    else if (strcmp(key, "eps") == 0 || strcmp(key, "epsilon") == 0) c->eps = v;
    else if (strcmp(key, "rho") == 0 || strcmp(key, "alpha") == 0 || strcmp(key, "decay") == 0) c->rho = v;
    else if (strcmp(key, "weight_decay") == 0 || strcmp(key, "wd") == 0) c->weight_decay = v;
    else if (strcmp(key, "nesterov") == 0) nesterov = v != 0;
    else if (strcmp(key, "dampening") == 0) c->dampening = v;
    else if (strcmp(key, "lr_decay") == 0) c->lr_decay = v;
    else if (strcmp(key, "initial_accumulator_value") == 0) c->initial_accumulator = v;
    else if (strcmp(key, "amsgrad") == 0) amsgrad = v;
    else if (strcmp(key, "centered") == 0) centered = v;
    else if (strcmp(key, "lookahead") == 0) lookahead = v;
    else {
      snprintf(err, errlen, "optimizer '%s': unknown option '%s' (expected lr, momentum, "
               "beta1, beta2, eps, rho, weight_decay, nesterov, dampening, lr_decay, "
               "initial_accumulator_value, amsgrad, centered or lookahead)", name, key);
      return -1;
    }
  }
  if ((c->kind == NNRT_OPT_SGD || c->kind == NNRT_OPT_MOMENTUM) && nesterov) {
    c->kind = NNRT_OPT_NESTEROV;
    if (c->momentum == 0) c->momentum = 0.9;
  } else if (c->kind == NNRT_OPT_SGD && c->momentum > 0) {
    c->kind = NNRT_OPT_MOMENTUM;
  }
  c->amsgrad = amsgrad != 0 && (k == NNRT_OPT_ADAM || k == NNRT_OPT_ADAMW);
  c->centered = centered != 0 && k == NNRT_OPT_RMSPROP;
  if (lookahead != 0) {
    if (c->kind != NNRT_OPT_NESTEROV) {
      snprintf(err, errlen, "optimizer '%s': lookahead = 1 is the look-ahead form of nesterov "
               "(use nesterov(...) or sgd(nesterov = 1, ...))", name);
      return -1;
    }
    if (c->dampening != 0) {
      snprintf(err, errlen, "optimizer '%s': lookahead = 1 takes no dampening", name);
      return -1;
    }
    c->lookahead = true;
  }
  if (c->kind != NNRT_OPT_MOMENTUM && c->kind != NNRT_OPT_NESTEROV) c->dampening = 0;
  if (k != NNRT_OPT_ADAGRAD) c->lr_decay = c->initial_accumulator = 0;
  if (c->dampening < 0 || c->dampening > 1 || c->lr_decay < 0 || c->initial_accumulator < 0) {
    snprintf(err, errlen, "optimizer '%s': dampening must be in [0, 1], lr_decay and "
             "initial_accumulator_value >= 0", name);
    return -1;
  }
  if (c->lr < 0 || c->eps < 0 || c->momentum < 0 || c->momentum >= 1 + 1e-12) {
    snprintf(err, errlen, "optimizer '%s': lr and eps must be >= 0 and momentum in [0, 1)", name);
    return -1;
  }
  return 0;
}

int nnrt_opt_nstate(const NnrtOptConfig *c) {
  switch (c->kind) {
  case NNRT_OPT_SGD: return 0;
  case NNRT_OPT_MOMENTUM: case NNRT_OPT_NESTEROV: case NNRT_OPT_ADAGRAD: return 1;
  case NNRT_OPT_RMSPROP: return c->centered ? 2 : 1;
  case NNRT_OPT_ADADELTA: return 2;
  case NNRT_OPT_ADAM: case NNRT_OPT_ADAMW: return c->amsgrad ? 3 : 2;
  }
  return 0;
}

int nnrt_opt_rule(const NnrtOptConfig *c) {
  if (c->amsgrad) return NNRT_RULE_AMSGRAD;
  if (c->centered) return NNRT_RULE_CENTERED;
  if (c->lookahead) return NNRT_RULE_LOOKAHEAD;
  return (int)c->kind;
}

void nnrt_opt_state_init(const NnrtOptConfig *c, bool f64, void **st, int64_t n) {
  if (c->kind != NNRT_OPT_ADAGRAD || c->initial_accumulator == 0)
    return;
  for (int64_t i = 0; i < n; i++)
    if (f64) ((double *)st[0])[i] = c->initial_accumulator;
    else ((float *)st[0])[i] = (float)c->initial_accumulator;
}

/* The rate of step t: adagrad's lr / (1 + (t - 1)·lr_decay), in double. */
static double step_lr(const NnrtOptConfig *c, double lr, int64_t t) {
  return c->kind == NNRT_OPT_ADAGRAD ? lr / (1.0 + (double)(t - 1) * c->lr_decay) : lr;
}

/* The velocity's weight of the gradient: 1 at the first step (the velocity
 * is the gradient, as PyTorch's), 1 − dampening after, in double. */
static double grad_weight(const NnrtOptConfig *c, int64_t t) {
  return t <= 1 ? 1.0 : 1.0 - c->dampening;
}

/* The loops vectorise once the state arrays are restrict locals (st[k] is
 * not reloaded after every store; the compiler checks p and grad for
 * overlap at run time) and sqrt leaves errno alone (-fno-math-errno for
 * this file, runtime/CMakeLists.txt).  Same operations in the same order
 * per element: the results are the scalar loop's, bit for bit.  Scalar
 * Adam was 28% of the MLP's training time (bench/RESULTS.md). */

/* One body for both precisions: T is float or double, SQRT its sqrt. */
#define OPT_STEP(NAME, T, SQRT)                                                     \
  void NAME(const NnrtOptConfig *c, double lr_d, int64_t t, T *p, const T *grad,     \
            T **st, int64_t n) {                                                    \
    const T lr = (T)step_lr(c, lr_d, t), wd = (T)c->weight_decay;                    \
    const T mu = (T)c->momentum, dw = (T)grad_weight(c, t);                         \
    const T eps = (T)c->eps, rho = (T)c->rho, b1 = (T)c->beta1, b2 = (T)c->beta2;   \
    /* 1 - rho, 1 - beta and lr * wd are formed in double, then rounded once */     \
    const T rho_c = (T)(1.0 - c->rho), b1_c = (T)(1.0 - c->beta1);                  \
    const T b2_c = (T)(1.0 - c->beta2);                                             \
    const T l2 = c->kind == NNRT_OPT_ADAMW ? (T)0 : wd;                             \
    switch (c->kind) {                                                              \
    case NNRT_OPT_SGD:                                                              \
      for (int64_t i = 0; i < n; i++) p[i] -= lr * (grad[i] + l2 * p[i]);           \
      break;                                                                        \
    case NNRT_OPT_MOMENTUM: {                                                       \
      T *restrict vel = st[0];                                                      \
      for (int64_t i = 0; i < n; i++) {                                             \
        T g = grad[i] + l2 * p[i];                                                  \
        vel[i] = mu * vel[i] + dw * g;                                              \
        p[i] -= lr * vel[i];                                                        \
      }                                                                             \
      break;                                                                        \
    }                                                                               \
    case NNRT_OPT_NESTEROV:                                                         \
      if (c->lookahead) { /* θ in p; v holds the rate; the gradient is at φ */      \
        for (int64_t i = 0; i < n; i++) {                                           \
          T ahead = p[i] - mu * st[0][i];                                           \
          T g = grad[i] + l2 * ahead;                                               \
          st[0][i] = mu * st[0][i] + lr * g;                                        \
          p[i] -= st[0][i];                                                         \
        }                                                                           \
        break;                                                                      \
      }                                                                             \
      for (int64_t i = 0; i < n; i++) {                                             \
        T g = grad[i] + l2 * p[i];                                                  \
        st[0][i] = mu * st[0][i] + dw * g;                                          \
        p[i] -= lr * (g + mu * st[0][i]);                                           \
      }                                                                             \
      break;                                                                        \
    case NNRT_OPT_ADAGRAD:                                                          \
      for (int64_t i = 0; i < n; i++) {                                             \
        T g = grad[i] + l2 * p[i];                                                  \
        st[0][i] += g * g;                                                          \
        p[i] -= lr * g / (SQRT(st[0][i]) + eps);                                    \
      }                                                                             \
      break;                                                                        \
    case NNRT_OPT_ADADELTA:                                                         \
      for (int64_t i = 0; i < n; i++) {                                             \
        T g = grad[i] + l2 * p[i];                                                  \
        st[0][i] = rho * st[0][i] + rho_c * g * g;                                  \
        T d = -SQRT(st[1][i] + eps) / SQRT(st[0][i] + eps) * g;                     \
        st[1][i] = rho * st[1][i] + rho_c * d * d;                                  \
        p[i] += lr * d;                                                             \
      }                                                                             \
      break;                                                                        \
    case NNRT_OPT_RMSPROP:                                                          \
      for (int64_t i = 0; i < n; i++) {                                             \
        T g = grad[i] + l2 * p[i];                                                  \
        st[0][i] = rho * st[0][i] + rho_c * g * g;                                  \
        T e = st[0][i];                                                             \
        if (c->centered) {                                                          \
          st[1][i] = rho * st[1][i] + rho_c * g;                                    \
          e = e - st[1][i] * st[1][i];                                              \
        }                                                                           \
        p[i] -= lr * g / (SQRT(e) + eps);                                           \
      }                                                                             \
      break;                                                                        \
    case NNRT_OPT_ADAM:                                                             \
    case NNRT_OPT_ADAMW: {                                                          \
      const T ic1 = (T)(1.0 / (1.0 - pow(c->beta1, (double)t)));                    \
      const T ic2 = (T)(1.0 / (1.0 - pow(c->beta2, (double)t)));                    \
      const T decay = c->kind == NNRT_OPT_ADAMW ? (T)(lr_d * c->weight_decay) : (T)0; \
      T *restrict m = st[0], *restrict v = st[1];                                   \
      for (int64_t i = 0; i < n; i++) {                                             \
        T g = grad[i] + l2 * p[i];                                                  \
        p[i] -= decay * p[i];                                                       \
        m[i] = b1 * m[i] + b1_c * g;                                                \
        v[i] = b2 * v[i] + b2_c * g * g;                                            \
        T vh = v[i];                                                                \
        if (c->amsgrad) {                                                           \
          st[2][i] = st[2][i] > vh ? st[2][i] : vh;                                 \
          vh = st[2][i];                                                            \
        }                                                                           \
        p[i] -= lr * (m[i] * ic1) / (SQRT(vh * ic2) + eps);                         \
      }                                                                             \
      break;                                                                        \
    }                                                                               \
    }                                                                               \
  }

OPT_STEP(nnrt_opt_step_f32, float, sqrtf)
OPT_STEP(nnrt_opt_step_f64, double, sqrt)

void nnrt_opt_args(const NnrtOptConfig *c, double lr, int64_t t, double h[10]) {
  bool adam = c->kind == NNRT_OPT_ADAM || c->kind == NNRT_OPT_ADAMW;
  h[0] = step_lr(c, lr, t);
  h[1] = c->kind == NNRT_OPT_ADAMW ? 0 : c->weight_decay; /* l2: added to the gradient */
  h[2] = c->kind == NNRT_OPT_ADAMW ? c->weight_decay : 0; /* adamw's decoupled decay */
  h[3] = c->momentum, h[4] = c->eps, h[5] = c->rho, h[6] = c->beta1, h[7] = c->beta2;
  /* the bias corrections, in double; momentum's h[8]: the gradient's weight */
  h[8] = adam ? 1.0 / (1.0 - pow(c->beta1, (double)t)) : grad_weight(c, t);
  h[9] = adam ? 1.0 / (1.0 - pow(c->beta2, (double)t)) : 0;
}

void nnrt_opt_run(NnrtOptKernel k, const NnrtOptConfig *c, double lr, int64_t t, void *p, const void *g,
                  void **st, int64_t n) {
  double h[10];
  nnrt_opt_args(c, lr, t, h);
  int ns = nnrt_opt_nstate(c); /* 0 to 3 state arrays */
  k(p, g, ns > 0 ? st[0] : NULL, ns > 1 ? st[1] : NULL, ns > 2 ? st[2] : NULL, n, (int32_t)nnrt_opt_rule(c), h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], NULL);
}

void nnrt_opt_ahead(NnrtOptKernel k, const NnrtOptConfig *c, bool f64, void *p, void **st, void *ahead,
                    int64_t n) {
  if (k) {
    double h[10];
    nnrt_opt_args(c, 0, 1, h);
    k(p, NULL, st[0], ahead, NULL, n, NNRT_RULE_AHEAD, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], NULL);
  } else if (f64) {
    const double *t = p, *v = st[0], mu = c->momentum;
    for (int64_t i = 0; i < n; i++) ((double *)ahead)[i] = t[i] - mu * v[i];
  } else {
    const float *t = p, *v = st[0], mu = (float)c->momentum;
    for (int64_t i = 0; i < n; i++) ((float *)ahead)[i] = t[i] - mu * v[i];
  }
}

void nnrt_clip_sqsum_ref(const void *grad, int64_t n, bool f64, double *part) {
  for (int64_t j = 0; j < NNRT_CLIP_PARTS; j++)
    for (int64_t i = j; i < n; i += NNRT_CLIP_PARTS) {
      double x = f64 ? ((const double *)grad)[i] : (double)((const float *)grad)[i];
      part[j] = part[j] + x * x;
    }
}

double nnrt_clip_factor_ref(double *part, double max_norm) {
  double total = 0;
  for (int j = 0; j < NNRT_CLIP_PARTS; j++) {
    total = total + part[j];
    part[j] = 0;
  }
  double norm = sqrt(total);
  return norm > max_norm ? max_norm / (norm + 1e-6) : 1;
}

void nnrt_clip_scale_ref(void *grad, int64_t n, bool f64, double scale) {
  if (f64) {
    double *g = grad;
    for (int64_t i = 0; i < n; i++)
      g[i] = g[i] * scale;
  } else {
    float *g = grad, sf = (float)scale;
    for (int64_t i = 0; i < n; i++)
      g[i] = g[i] * sf;
  }
}
