/*
 * gradcheck.c — the `gradcheck` command: compares the compiler's symbolic
 * gradients (GRAD slots after one train-kernel call) with central
 * differences (L(θ+ε) − L(θ−ε)) / 2ε of the train kernel's loss.
 *
 * The batch is the first min(N, batch) training samples, unshuffled.  Up
 * to 30 elements per param are probed, spread evenly.  An element passes
 * when |analytic − numeric| <= tol·max(1, |analytic|, |numeric|).
 * Defaults: eps 1e-6, tol 1e-5 for f64 programs; f32 programs get eps 1e-3
 * and tol 1e-2 (central differences in single precision cannot do better).
 *
 * Invariants: before every kernel call the generator and STATE slots are
 * put back to their starting values, so dropout masks and running
 * statistics are the same for every probe; each probed element is
 * restored exactly.  Output: one line per param, then
 * `gradcheck=pass max_err=E` (exit 0) or `gradcheck=fail ...` (exit 1).
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
  nnrt_session_zero_grads(s);
  s->p->train(&s->ctx, s->slots, s->scratch, pr->bs);
  return nnrt_session_read(s, s->loss_slot);
}

static double get(const NnrtSlotDesc *d, void *base, int64_t i) {
  return d->dtype == NNRT_F32 ? ((float *)base)[i] : ((double *)base)[i];
}

static void set(const NnrtSlotDesc *d, void *base, int64_t i, double v) {
  if (d->dtype == NNRT_F32)
    ((float *)base)[i] = (float)v;
  else
    ((double *)base)[i] = v;
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
  int64_t B = o->batch > 0 ? o->batch : p->batch;
  NnrtSession s;
  if (nnrt_session_open(&s, p, o, B, SESSION_DATA) != 0)
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
  double loss0 = loss_at(&pr);
  char *at = grads;
  for (int g = 0; g < p->ngrads; g++) {
    size_t n = slot_bytes(&s, p->grads[g].grad);
    memcpy(at, s.slots[p->grads[g].grad], n);
    at += n;
  }
  printf("gradcheck: %lld samples, loss=%.9g, eps=%g, tol=%g\n", (long long)pr.bs, loss0, eps, tol);
  double worst = 0;
  int failed = 0;
  at = grads;
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtSlotDesc *w = &p->slots[p->grads[g].param];
    void *param = s.slots[p->grads[g].param], *grad = at;
    int64_t n = nnrt_slot_count(w, 1), k = n < 30 ? n : 30;
    double max_abs = 0, max_err = 0;
    for (int64_t j = 0; j < k; j++) {
      int64_t i = j * n / k;
      double orig = get(w, param, i);
      set(w, param, i, orig + eps);
      double lp = loss_at(&pr);
      set(w, param, i, orig - eps);
      double lm = loss_at(&pr);
      set(w, param, i, orig);
      double num = (lp - lm) / (2 * eps), ana = get(w, grad, i);
      double diff = fabs(ana - num);
      double scale = fmax(1.0, fmax(fabs(ana), fabs(num)));
      if (!(diff <= tol * scale)) /* NaN fails too */
        diff = isnan(diff) ? INFINITY : diff;
      max_abs = fmax(max_abs, diff);
      max_err = fmax(max_err, diff / scale);
    }
    bool ok = max_err <= tol;
    failed += !ok;
    worst = fmax(worst, max_err);
    printf("%s max_abs_err=%.3g max_rel_err=%.3g (%lld of %lld checked) %s\n", w->name, max_abs,
           max_err, (long long)k, (long long)n, ok ? "ok" : "FAIL");
    at += slot_bytes(&s, p->grads[g].grad);
  }
  if (failed)
    printf("gradcheck=fail max_err=%.3g failed=%d\n", worst, failed);
  else
    printf("gradcheck=pass max_err=%.3g\n", worst);
  nnrt_free(pr.state0);
  nnrt_free(grads);
  nnrt_session_free(&s);
  return failed ? 1 : 0;
}
