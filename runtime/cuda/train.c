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
 * Full batches after the first replay a CUDA graph of the whole step
 * (graph_step below); NNRT_CUDA_GRAPHS=0 turns that off and
 * NNRT_CUDA_STATS=1 prints host launches per step at the end.
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
#include <stdlib.h>
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

static double step_lr(NnrtSession *s, int g, int64_t epoch) {
  NnrtProgram *p = s->p;
  const NnrtGradDesc *gd = &p->grads[g];
  NnrtSched constant = {.kind = SCHED_CONSTANT};
  const NnrtSched *sc = gd->opt < p->nopts ? &p->opts[gd->opt].sched : &constant;
  return nnrt_sched_lr(sc, s->cfg[gd->opt].lr, epoch, s->epochs);
}

/* The optimizer's launches; with stage >= 0 they read lr and the bias
 * corrections from that stage's device copy (a graph step). */
static void opt_step(NnrtSession *s, int64_t epoch, int stage) {
  NnrtProgram *p = s->p;
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtGradDesc *gd = &p->grads[g];
    const NnrtOptConfig *c = &s->cfg[gd->opt];
    int ns = nnrt_opt_nstate(c->kind);
    nnrt_cuda_opt_step(c, step_lr(s, g, epoch), s->step, p->slots[gd->param].dtype, nnrt_cuda_slot(gd->param),
                       nnrt_cuda_slot(gd->grad), ns > 0 ? nnrt_cuda_opt_state(g, 0) : 0,
                       ns > 1 ? nnrt_cuda_opt_state(g, 1) : 0, nnrt_slot_count(&p->slots[gd->param], 1),
                       stage >= 0 ? nnrt_cuda_hyper(stage, g) : 0);
  }
}

/* CUDA graphs: every full batch after the first replays one captured step
 * (input copies, the train kernel's launches and GEMMs, the loss sums, the
 * optimizer), so a step costs one launch instead of dozens.  The graph's
 * copies read a page-locked staging area that the host fills first; with
 * NNRT_CUDA_STAGES areas (one graph each) the host gathers ahead while
 * earlier steps run, waiting only for the step that last used the area it
 * is about to overwrite.  Per-step scalars (learning rate, Adam's bias
 * corrections) travel in the staging area too.  The partial last batch,
 * and everything where graphs are off (NNRT_CUDA_GRAPHS=0, host random
 * numbers, a failed capture), runs uncaptured. */
typedef struct Stages {
  bool on;
  char *host[NNRT_CUDA_STAGES]; /* inputs for B rows, then the hyper doubles */
  size_t in_bytes, bytes;
  bool used[NNRT_CUDA_STAGES];
} Stages;

static void stages_open(Stages *st, NnrtSession *s) {
  NnrtProgram *p = s->p;
  memset(st, 0, sizeof *st);
  if (!nnrt_cuda_graphs_usable(0))
    return;
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_INPUT)
      st->in_bytes += ((size_t)nnrt_slot_count(&p->slots[i], s->B) * nnrt_dtype_size(p->slots[i].dtype) + 63) & ~(size_t)63;
  st->bytes = st->in_bytes + 3 * sizeof(double) * (size_t)(p->ngrads + 1);
  size_t whole = (st->bytes + 4095) & ~(size_t)4095;
  for (int k = 0; k < NNRT_CUDA_STAGES; k++) {
    st->host[k] = aligned_alloc(4096, whole);
    if (!st->host[k] || nnrt_cuda_pin(st->host[k], whole) != 0) {
      free(st->host[k]);
      st->host[k] = NULL;
      for (int j = 0; j < k; j++) {
        nnrt_cuda_unpin(st->host[j]);
        free(st->host[j]);
        st->host[j] = NULL;
      }
      return;
    }
    memset(st->host[k], 0, whole);
  }
  st->on = true;
}

static void stages_close(Stages *st) {
  if (!st->host[0])
    return;
  nnrt_cuda_sync();
  for (int k = 0; k < NNRT_CUDA_STAGES; k++) {
    nnrt_cuda_unpin(st->host[k]);
    free(st->host[k]);
    st->host[k] = NULL;
  }
  st->on = false;
}

/* One full batch through graph `stage` (captured now if it is not yet). */
static void graph_step(NnrtSession *s, Stages *st, int stage, int64_t epoch) {
  NnrtProgram *p = s->p;
  if (st->used[stage])
    nnrt_cuda_record(stage, true); /* the last step that read this area is done */
  char *h = st->host[stage];
  size_t at = 0;
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_INPUT) {
      size_t n = (size_t)nnrt_slot_count(&p->slots[i], s->B) * nnrt_dtype_size(p->slots[i].dtype);
      memcpy(h + at, s->slots[i], n);
      at += (n + 63) & ~(size_t)63;
    }
  double *hyper = (double *)(h + st->in_bytes);
  s->step++;
  for (int g = 0; g < p->ngrads; g++) /* this step's scalars, copied up by the graph */
    nnrt_cuda_opt_hyper(&s->cfg[p->grads[g].opt], step_lr(s, g, epoch), s->step, hyper + 3 * g);
  if (!nnrt_cuda_graph_ready(stage)) {
    nnrt_cuda_capture_begin();
    at = 0;
    for (int i = 0; i < p->nslots; i++)
      if (p->slots[i].role == NNRT_SLOT_INPUT) {
        size_t n = (size_t)nnrt_slot_count(&p->slots[i], s->B) * nnrt_dtype_size(p->slots[i].dtype);
        nnrt_cuda_copy(nnrt_cuda_slot(i), h + at, n, true);
        at += (n + 63) & ~(size_t)63;
      }
    if (p->ngrads)
      nnrt_cuda_copy(nnrt_cuda_hyper(stage, 0), hyper, 3 * sizeof(double) * (size_t)p->ngrads, true);
    nnrt_cuda_run(0, s->B, &s->ctx);
    nnrt_cuda_accumulate(s->loss_slot, s->correct_slot, s->B);
    opt_step(s, epoch, stage);
    if (nnrt_cuda_capture_end(stage) != 0) {
      st->on = false; /* nothing ran: this step and the rest go uncaptured */
      s->step--;
      return;
    }
  }
  nnrt_cuda_graph_launch(stage);
  nnrt_cuda_record(stage, false);
  st->used[stage] = true;
}

static int run_epochs(NnrtSession *s, const char *save) {
  NnrtProgram *p = s->p;
  const NnrtSplit *tr = &s->train;
  NnrtProgress g;
  nnrt_progress_start(&g, s->o->quiet, s->epochs, tr->n);
  bool has_acc = s->correct_slot >= 0;
  double acc[2];
  Stages st;
  stages_open(&st, s);
  int64_t nstep = 0, launches0 = nnrt_cuda_launches();
  double tstart = nnrt_now();
  nnrt_cuda_read_acc(acc); /* zero the sums */
  for (int64_t epoch = s->epoch; epoch < s->epochs; epoch++) {
    double t0 = nnrt_now();
    for (int64_t i = 0; i < tr->n; i++)
      s->perm[i] = i;
    nnrt_rng_shuffle(&s->rng, s->perm, tr->n);
    for (int64_t start = 0; start < tr->n; start += s->B) {
      int64_t bs = tr->n - start < s->B ? tr->n - start : s->B;
      nstep++;
      /* the first step runs uncaptured (cuBLAS sets itself up), then graphs */
      nnrt_cuda_wait_copies(); /* the last uncaptured batch has left the INPUT slots */
      nnrt_session_gather(s, tr, s->perm + start, 0, bs);
      nnrt_augment_batch(s, bs); /* on the host, as the CPU path does */
      if (st.on && bs == s->B && nstep > 1) {
        graph_step(s, &st, (int)(nstep % NNRT_CUDA_STAGES), epoch);
        if (st.on)
          continue;
      }
      for (int i = 0; i < p->nslots; i++)
        if (p->slots[i].role == NNRT_SLOT_INPUT)
          nnrt_cuda_upload(i, s->slots[i], bs, true);
      nnrt_cuda_mark_copies();
      nnrt_cuda_run(0, bs, &s->ctx);
      nnrt_cuda_accumulate(s->loss_slot, s->correct_slot, bs);
      s->step++;
      opt_step(s, epoch, -1);
    }
    nnrt_cuda_read_acc(acc);
    s->epoch = epoch + 1;
    double seconds = nnrt_now() - t0;
    if (!isfinite(acc[0])) {
      nnrt_progress_abort(&g);
      stages_close(&st);
      fprintf(stderr, "error: loss became %s in epoch %lld\n", isnan(acc[0]) ? "nan" : "inf", (long long)epoch + 1);
      return 3;
    }
    NnrtMetrics m = {.loss = acc[0] / (double)tr->n, .accuracy = acc[1] / (double)tr->n, .has_accuracy = has_acc};
    bool shows = nnrt_progress_shows(&g, s->epoch);
    if (save || shows)
      sync_params(s, false);
    int r = save ? nnrt_session_save(s, save) : 0;
    if (r != 0) { /* -2: non-finite weights, the last good checkpoint kept */
      stages_close(&st);
      return r == -2 ? 3 : 1;
    }
    if ((s->test.present || s->valid.present) && shows)
      nnrt_evaluate(s, true, &m);
    nnrt_progress_epoch(&g, s->epoch, &m, seconds);
  }
  stages_close(&st);
  if (getenv("NNRT_CUDA_STATS") && nstep)
    fprintf(stderr, "cuda: %lld steps, %.1f launches/step from the host (%s), %.1f us/step\n", (long long)nstep,
            (double)(nnrt_cuda_launches() - launches0) / (double)nstep, st.used[0] || st.used[1] || st.used[2] ? "CUDA graphs" : "no graphs",
            1e6 * (nnrt_now() - tstart) / (double)nstep);
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
  if (o->limit > 0 && s.train.n > o->limit) /* --limit, as on the CPU */
    s.train.n = o->limit;
  int rc = 1;
  char *lo = NULL, *hi = NULL; /* the INPUT slots, page-locked as one range */
  if (c) {
    int r = nnrt_session_restore(&s, c, o->resume, true);
    nnrt_ckpt_free(c);
    if (r != 0)
      goto out;
  }
  if (nnrt_session_check_steps(&s, o->resume) != 0)
    goto out;
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
