/*
 * gradcheck.c — the `gradcheck` command: compares the compiler's symbolic
 * gradients (GRAD slots after one train-kernel call) with central
 * differences (L(θ+ε) − L(θ−ε)) / 2ε of the train kernel's loss.
 *
 * The batch is the first min(N, batch) training samples, unshuffled, in
 * training mode.  Up to `--entries` elements per param (default 30; 0:
 * all) are probed, spread evenly over the flattened param.  An element's
 * error is |analytic − numeric| / max(1, |analytic|, |numeric|) (absolute
 * near zero, relative for large gradients); it passes when that is <= tol.
 * Defaults: eps 1e-6, tol 1e-5 when every param is f64; eps 1e-3 and
 * tol 1e-2 when any is f32 (central differences in single precision
 * cannot do better).  The first two lines say which were used and why.
 *
 * Kinks: where the loss is not differentiable at θ (a relu or abs at 0,
 * a max with a tie: common at initialisation, when zero biases meet an
 * image's zero background), the one-sided slopes (L(θ+ε) − L(θ))/ε and
 * (L(θ) − L(θ−ε))/ε differ and the central difference is their mean,
 * which the gradient the program uses (relu'(0) = 0, one argmax of a tie)
 * need not equal; when several units sit at their kinks at once, not even
 * a value between the slopes.  So a probe whose error is over the
 * tolerance is counted as a kink, not a failure, when the slopes differ
 * by more than the tolerance and still by at least half as much at ε/10
 * (curvature's gap would shrink tenfold): there the loss has no gradient
 * to compare with.  Kinks are not checked; they are counted per param and
 * in the last line (kinks=K), and a param whose every probe is a kink
 * says so.
 *
 * Invariants: before every kernel call the generator and STATE slots are
 * put back to their starting values, so dropout masks and running
 * statistics are the same for every probe; each probed element is
 * restored exactly.  Output: one line per param (entries probed of how
 * many, the worst error and the element where it occurred), then
 * `gradcheck=pass max_err=E worst=P[i,j] checked=K/N` (exit 0) or
 * `gradcheck=fail max_err=E worst=P[i,j] checked=K/N failed=F` (exit 1).
 */
#include "program.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct Probe {
  NnrtSession *s;
  NnrtRng rng0;
  char *state0; /* copy of every STATE slot */
  int64_t bs;
  int obj; /* the objective whose loss is probed (several objectives) */
} Probe;

static size_t slot_bytes(const NnrtSession *s, int i) {
  return (size_t)nnrt_slot_count(&s->p->slots[i], s->B) * nnrt_dtype_size(s->p->slots[i].dtype);
}

static void state_copy(Probe *pr, bool save) {
  NnrtSession *s = pr->s;
  char *at = pr->state0;
  for (int i = 0; i < s->p->nslots; i++)
    if (s->p->slots[i].role == NNRT_SLOT_STATE) {
      size_t n = slot_bytes(s, i);
      if (save)
        memcpy(at, s->slots[i], n);
      else
        memcpy(s->slots[i], at, n);
      at += n;
    }
}

static double loss_at(Probe *pr) {
  NnrtSession *s = pr->s;
  s->rng = pr->rng0;
  state_copy(pr, false);
  return nnrt_session_objectives(s, pr->bs, pr->obj);
}

static double get(const NnrtSlotDesc *d, const void *base, int64_t i) {
  return d->dtype == NNRT_F32 ? ((const float *)base)[i] : ((const double *)base)[i];
}

static void set(const NnrtSlotDesc *d, void *base, int64_t i, double v) {
  if (d->dtype == NNRT_F32)
    ((float *)base)[i] = (float)v;
  else
    ((double *)base)[i] = v;
}

/* "W[1,2]": the param's name and the multi-index of flat element i. */
static void element_name(const NnrtSlotDesc *w, int64_t i, char *buf, size_t len) {
  int64_t idx[NNRT_MAX_RANK];
  for (int d = w->rank - 1; d >= 0; d--) {
    int64_t n = w->dims[d] > 0 ? w->dims[d] : 1;
    idx[d] = i % n;
    i /= n;
  }
  int at = snprintf(buf, len, "%.64s", w->name ? w->name : "?");
  for (int d = 0; d < w->rank && at > 0 && (size_t)at < len; d++)
    at += snprintf(buf + at, len - (size_t)at, "%s%lld", d ? "," : "[", (long long)idx[d]);
  if (w->rank > 0 && at > 0 && (size_t)at < len)
    snprintf(buf + at, len - (size_t)at, "]");
}

/* "f32[2,3]": a param's type as the language writes it. */
static void type_name(const NnrtSlotDesc *w, char *buf, size_t len) {
  int at = snprintf(buf, len, "%s[", w->dtype == NNRT_F32 ? "f32" : "f64");
  for (int d = 0; d < w->rank && at > 0 && (size_t)at < len; d++)
    at += snprintf(buf + at, len - (size_t)at, "%s%lld", d ? "," : "", (long long)w->dims[d]);
  if (at > 0 && (size_t)at < len)
    snprintf(buf + at, len - (size_t)at, "]");
}

/* The worst error over the params checked so far, and where. */
typedef struct Worst {
  double err;
  char where[160];
  int64_t checked, total, kinks;
  int failed;
} Worst;

/* Probe up to `entries` elements of gradient g; print its line. */
static void check_param(Probe *pr, int g, const void *grad, int64_t entries, double eps, double tol,
                        Worst *wst) {
  NnrtSession *s = pr->s;
  const NnrtSlotDesc *w = &s->p->slots[s->p->grads[g].param];
  void *param = s->slots[s->p->grads[g].param];
  int64_t n = nnrt_slot_count(w, 1), k = entries > 0 && n > entries ? entries : n;
  double max_abs = 0, max_err = -1;
  int64_t worst_i = 0, kinks = 0;
  double l0 = loss_at(pr);
  for (int64_t j = 0; j < k; j++) {
    int64_t i = j * n / k;
    double orig = get(w, param, i);
    set(w, param, i, orig + eps);
    double lp = loss_at(pr);
    set(w, param, i, orig - eps);
    double lm = loss_at(pr);
    set(w, param, i, orig);
    double num = (lp - lm) / (2 * eps), ana = get(w, grad, i);
    double diff = fabs(ana - num);
    double scale = fmax(1.0, fmax(fabs(ana), fabs(num)));
    if (isnan(diff)) /* NaN fails */
      diff = INFINITY;
    if (diff / scale > tol && fabs(lp - 2 * l0 + lm) / eps > tol * scale) {
      /* the one-sided slopes differ: curvature (the gap shrinks with ε)
       * or a kink (it does not) */
      set(w, param, i, orig + eps / 10);
      double lp2 = loss_at(pr);
      set(w, param, i, orig - eps / 10);
      double lm2 = loss_at(pr);
      set(w, param, i, orig);
      if (fabs(lp2 - 2 * l0 + lm2) / (eps / 10) > 0.5 * fabs(lp - 2 * l0 + lm) / eps) {
        kinks++;
        continue;
      }
    }
    max_abs = fmax(max_abs, diff);
    if (diff / scale > max_err)
      max_err = diff / scale, worst_i = i;
  }
  max_err = fmax(max_err, 0);
  bool ok = max_err <= tol;
  char where[160], type[160];
  element_name(w, worst_i, where, sizeof where);
  type_name(w, type, sizeof type);
  char kinked[64] = "";
  if (kinks)
    snprintf(kinked, sizeof kinked, ", %lld at kinks", (long long)kinks);
  if (kinks == k)
    printf("%s %s: %lld of %lld entries, all at kinks (one-sided slopes differ: not checked)\n", w->name, type,
           (long long)k, (long long)n);
  else
    printf("%s %s: %lld of %lld entries%s, max_abs_err=%.3g max_err=%.3g at %s %s\n", w->name,
           type, (long long)k, (long long)n, kinked, max_abs, max_err, where, ok ? "ok" : "FAIL");
  wst->kinks += kinks;
  wst->failed += !ok;
  wst->checked += k - kinks;
  wst->total += n;
  if (kinks < k && (max_err > wst->err || !wst->where[0])) {
    wst->err = max_err;
    snprintf(wst->where, sizeof wst->where, "%s", where);
  }
}

int nnrt_cmd_gradcheck(NnrtProgram *p, const NnrtOptions *o) {
  if (!p->train || nnrt_program_find_output(p, NNRT_OUT_LOSS) < 0) {
    fprintf(stderr, "error: program '%s' has no train kernel with a 'loss' output\n",
            p->name ? p->name : "");
    return 1;
  }
  if (p->ngrads == 0) {
    fprintf(stderr, "error: program '%s' has no parameters to check\n", p->name ? p->name : "");
    return 1;
  }
  bool f32 = false;
  for (int g = 0; g < p->ngrads; g++)
    f32 |= p->slots[p->grads[g].param].dtype == NNRT_F32;
  double eps = o->eps > 0 ? o->eps : f32 ? 1e-3 : 1e-6;
  double tol = o->tol > 0 ? o->tol : f32 ? 1e-2 : 1e-5;
  int64_t entries = o->entries >= 0 ? o->entries : 30;
  int64_t B = o->batch > 0 ? o->batch : p->batch;
  NnrtSession s;
  if (nnrt_session_open_loaded(&s, p, o, B, SESSION_DATA) != 0)
    return 1;
  Probe pr = {.s = &s, .rng0 = s.rng, .bs = s.train.n < B ? s.train.n : B};
  size_t state_bytes = 0, grad_bytes = 0;
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_STATE)
      state_bytes += slot_bytes(&s, i);
  for (int g = 0; g < p->ngrads; g++)
    grad_bytes += slot_bytes(&s, p->grads[g].grad);
  pr.state0 = nnrt_alloc(state_bytes, "gradcheck state copy");
  char *grads = nnrt_alloc(grad_bytes, "gradcheck gradients");
  if (!pr.state0 || !grads) {
    nnrt_oom(pr.state0 ? "gradcheck gradients" : "gradcheck state copy",
             pr.state0 ? grad_bytes : state_bytes);
    nnrt_free(pr.state0);
    nnrt_free(grads);
    nnrt_session_free(&s);
    return 1;
  }
  state_copy(&pr, true);
  nnrt_session_gather(&s, &s.train, NULL, 0, pr.bs);
  /* with several objectives each param's gradient is of its own objective's
   * loss, whose kernel runs after the earlier ones' (their noise drawn first) */
  pr.obj = p->nobjs > 1 ? p->nobjs - 1 : 0;
  loss_at(&pr);
  double loss0 = p->nobjs > 1 ? s.obj_loss[0] : nnrt_session_read(&s, s.loss_slot);
  char *at = grads;
  for (int g = 0; g < p->ngrads; g++) {
    size_t n = slot_bytes(&s, p->grads[g].grad);
    memcpy(at, s.slots[p->grads[g].grad], n);
    at += n;
  }
  printf("gradcheck: the first %lld training samples (unshuffled, training mode), loss=%.9g\n",
         (long long)pr.bs, loss0);
  const char *why = f32 ? "default: a parameter is f32" : "default: all parameters f64";
  char per[64] = "all";
  if (entries > 0)
    snprintf(per, sizeof per, "up to %lld", (long long)entries);
  printf("gradcheck: eps=%g (%s) tol=%g (%s); %s entries per parameter, evenly spaced; "
         "err = |analytic - numeric| / max(1, |analytic|, |numeric|)\n",
         eps, o->eps > 0 ? "--eps" : why, tol, o->tol > 0 ? "--tol" : why, per);
  at = grads;
  Worst wst = {.err = 0};
  for (int g = 0; g < p->ngrads; g++) {
    pr.obj = p->nobjs > 1 ? p->grads[g].opt : 0;
    check_param(&pr, g, at, entries, eps, tol, &wst);
    at += slot_bytes(&s, p->grads[g].grad);
  }
  printf("gradcheck=%s max_err=%.3g worst=%s checked=%lld/%lld", wst.failed ? "fail" : "pass",
         wst.err, wst.where, (long long)wst.checked, (long long)wst.total);
  if (wst.kinks)
    printf(" kinks=%lld", (long long)wst.kinks);
  if (wst.failed)
    printf(" failed=%d", wst.failed);
  printf("\n");
  nnrt_free(pr.state0);
  nnrt_free(grads);
  nnrt_session_free(&s);
  return wst.failed ? 1 : 0;
}
