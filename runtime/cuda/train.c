/*
 * cuda/train.c — `train --device cuda`: the loop of train.c with the model
 * resident on the GPU.
 *
 * Params, STATE, gradients, optimizer state and every activation live in
 * device memory for the whole run.  Each batch is gathered on the host
 * (same shuffle, same generator as the CPU path) into the page-locked
 * INPUT slots and copied up asynchronously; while the GPU runs step i the
 * host gathers step i+1, waiting only until the copy of step i has left
 * the INPUT slots.  The optimizer runs on the device; the loss and correct
 * counts are summed on the device and read once per epoch.
 *
 * Differences from the CPU loop, by design: a non-finite loss is noticed
 * at the end of its epoch (not its batch); gradients are not zeroed (the
 * train kernel writes every element of every GRAD slot); --log and --plot
 * are not offered yet.  Checkpoints copy the device state into the host
 * slots and are written by the same code as on the CPU, so they load on
 * either device.
 */
#include "cuda.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Host slots, STATE and optimizer state <- device (before saving or
 * evaluating); the reverse after opening or resuming. */
static void sync_params(NnrtSession *s, bool to_device) {
  NnrtProgram *p = s->p;
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_PARAM || p->slots[i].role == NNRT_SLOT_STATE) {
      if (to_device) nnrt_cuda_upload(i, s->slots[i], s->B, true);
      else nnrt_cuda_download(i, s->slots[i], s->B);
    }
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtSlotDesc *w = &p->slots[p->grads[g].param];
    size_t n = (size_t)nnrt_slot_count(w, 1) * nnrt_dtype_size(w->dtype);
    for (int k = 0; k < nnrt_opt_nstate(s->cfg[p->grads[g].opt].kind); k++)
      nnrt_cuda_copy(nnrt_cuda_opt_state(g, k), s->opt_state[g][k], n, to_device);
  }
  nnrt_cuda_sync();
}

static void opt_step(NnrtSession *s, int64_t epoch) {
  NnrtProgram *p = s->p;
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtGradDesc *gd = &p->grads[g];
    const NnrtOptConfig *c = &s->cfg[gd->opt];
    NnrtSched constant = {.kind = SCHED_CONSTANT};
    const NnrtSched *sc = gd->opt < p->nopts ? &p->opts[gd->opt].sched : &constant;
    double lr = nnrt_sched_lr(sc, c->lr, epoch, s->epochs);
    int ns = nnrt_opt_nstate(c->kind);
    nnrt_cuda_opt_step(c, lr, s->step, p->slots[gd->param].dtype, nnrt_cuda_slot(gd->param),
                       nnrt_cuda_slot(gd->grad), ns > 0 ? nnrt_cuda_opt_state(g, 0) : 0,
                       ns > 1 ? nnrt_cuda_opt_state(g, 1) : 0, nnrt_slot_count(&p->slots[gd->param], 1));
  }
}

static int run_epochs(NnrtSession *s, const char *save) {
  NnrtProgram *p = s->p;
  const NnrtSplit *tr = &s->train;
  NnrtProgress g;
  nnrt_progress_start(&g, s->o->quiet, s->epochs, tr->n);
  bool has_acc = s->correct_slot >= 0;
  double acc[2];
  nnrt_cuda_read_acc(acc); /* zero the sums */
  for (int64_t epoch = s->epoch; epoch < s->epochs; epoch++) {
    double t0 = nnrt_now();
    for (int64_t i = 0; i < tr->n; i++)
      s->perm[i] = i;
    nnrt_rng_shuffle(&s->rng, s->perm, tr->n);
    for (int64_t start = 0; start < tr->n; start += s->B) {
      int64_t bs = tr->n - start < s->B ? tr->n - start : s->B;
      nnrt_cuda_wait_copies(); /* the previous batch has left the INPUT slots */
      nnrt_session_gather(s, tr, s->perm + start, 0, bs);
      for (int i = 0; i < p->nslots; i++)
        if (p->slots[i].role == NNRT_SLOT_INPUT)
          nnrt_cuda_upload(i, s->slots[i], bs, true);
      nnrt_cuda_mark_copies();
      nnrt_cuda_run(0, bs, &s->ctx);
      nnrt_cuda_accumulate(s->loss_slot, s->correct_slot, bs);
      s->step++;
      opt_step(s, epoch);
    }
    nnrt_cuda_read_acc(acc);
    s->epoch = epoch + 1;
    double seconds = nnrt_now() - t0;
    if (!isfinite(acc[0])) {
      nnrt_progress_abort(&g);
      fprintf(stderr, "error: loss became %s in epoch %lld\n", isnan(acc[0]) ? "nan" : "inf", (long long)epoch + 1);
      return 3;
    }
    NnrtMetrics m = {.loss = acc[0] / (double)tr->n, .accuracy = acc[1] / (double)tr->n, .has_accuracy = has_acc};
    bool shows = nnrt_progress_shows(&g, s->epoch);
    if (save || shows)
      sync_params(s, false);
    if (save && nnrt_session_save(s, save) != 0)
      return 1;
    if ((s->test.present || s->valid.present) && shows)
      nnrt_evaluate(s, true, &m);
    nnrt_progress_epoch(&g, s->epoch, &m, seconds);
  }
  return 0;
}

int nnrt_cuda_cmd_train(NnrtProgram *p, const NnrtOptions *o) {
  if (o->log || o->plot) {
    fprintf(stderr, "error: --device cuda: --log and --plot are not supported on the GPU yet\n");
    return 1;
  }
  if (!p->train || nnrt_program_find_output(p, NNRT_OUT_LOSS) < 0) {
    fprintf(stderr, "error: program '%s' has no train kernel with a 'loss' output\n", p->name ? p->name : "");
    return 1;
  }
  for (int g = 0; g < p->ngrads; g++)
    if (p->slots[p->grads[g].param].dtype != NNRT_F32 && p->slots[p->grads[g].param].dtype != NNRT_F64) {
      fprintf(stderr, "error: param '%s' must be f32 or f64 to be trained\n", p->slots[p->grads[g].param].name);
      return 1;
    }
  int64_t B = o->batch > 0 ? o->batch : p->batch;
  NnrtCkpt *c = NULL;
  NnrtOptions ro;
  if (o->resume) {
    if (!(c = nnrt_ckpt_open(o->resume)))
      return 1;
    ro = *o;
    nnrt_options_from_ckpt(&ro, c);
    o = &ro;
  }
  NnrtSession s;
  if (nnrt_session_open(&s, p, o, B, SESSION_DATA | SESSION_TEST | SESSION_OPT) != 0) {
    nnrt_ckpt_free(c);
    return 1;
  }
  int rc = 1;
  char *lo = NULL, *hi = NULL; /* the INPUT slots, page-locked as one range */
  if (c) {
    int r = nnrt_session_restore(&s, c, o->resume, true);
    nnrt_ckpt_free(c);
    if (r != 0)
      goto out;
  }
  if (nnrt_cuda_reserve(p, s.B, &s) != 0)
    goto out;
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_INPUT) {
      char *a = s.slots[i], *b = a + (size_t)nnrt_slot_count(&p->slots[i], s.B) * nnrt_dtype_size(p->slots[i].dtype);
      lo = !lo || a < lo ? a : lo;
      hi = !hi || b > hi ? b : hi;
    }
  if (lo && hi > lo)
    nnrt_cuda_pin(lo, (size_t)(hi - lo));
  sync_params(&s, true);
  nnrt_cuda_mark_copies();
  if (!o->quiet)
    fprintf(stderr, "device: %s\n", nnrt_cuda_device_name());
  rc = run_epochs(&s, o->save ? o->save : o->resume);
  if (rc == 0) {
    sync_params(&s, false);
    NnrtMetrics m;
    nnrt_evaluate(&s, false, &m);
    nnrt_print_result(&m, s.epoch);
  }
  if (lo && hi > lo)
    nnrt_cuda_unpin(lo);
out:
  nnrt_session_free(&s);
  return rc;
}
