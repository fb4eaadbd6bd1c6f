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
 * This file is the GPU backend (nnrt_cuda_backend) of the one training
 * loop in train.c, which does everything else (epochs, shuffling and
 * gathering on the host, progress, --log, --plot, validation, early
 * stopping, checkpoints).  Differences, by design: a non-finite loss is
 * noticed at the end of its epoch (the sums stay on the device); gradients
 * are not zeroed (the train kernel writes every element of every GRAD
 * slot).  After each epoch the weights and optimizer state are copied to
 * the host slots (to_host), where the loop checks, saves and evaluates
 * them, so checkpoints are written by the CPU's code and load on either
 * device.
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
    for (int k = 0; k < nnrt_opt_nstate(&s->cfg[p->grads[g].opt]); k++)
      nnrt_cuda_copy(nnrt_cuda_opt_state(g, k), s->opt_state[g][k], n, to_device);
  }
  nnrt_cuda_sync();
}

/* The optimizer's launches; with stage >= 0 they read lr and the bias
 * corrections from that stage's device copy (a graph step). */
static void opt_step(NnrtSession *s, int64_t epoch, int stage) {
  NnrtProgram *p = s->p;
  if (p->clip_norm > 0)
    nnrt_cuda_clip(p);
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtGradDesc *gd = &p->grads[g];
    const NnrtOptConfig *c = &s->cfg[gd->opt];
    int ns = nnrt_opt_nstate(c);
    nnrt_cuda_opt_step(c, nnrt_session_lr(s, g, epoch), s->step, p->slots[gd->param].dtype, nnrt_cuda_slot(gd->param),
                       nnrt_cuda_slot(gd->grad), ns > 0 ? nnrt_cuda_opt_state(g, 0) : 0,
                       ns > 1 ? nnrt_cuda_opt_state(g, 1) : 0, ns > 2 ? nnrt_cuda_opt_state(g, 2) : 0,
                       nnrt_slot_count(&p->slots[gd->param], 1),
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
    nnrt_cuda_opt_hyper(&s->cfg[p->grads[g].opt], nnrt_session_lr(s, g, epoch), s->step, hyper + 3 * g);
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

/* ---- the backend the training loop of train.c drives ------------------- */

typedef struct CudaTrain {
  Stages st;
  int64_t nstep, launches0;
  double tstart;
  char *lo, *hi; /* the INPUT slots, page-locked as one range */
} CudaTrain;

static int cuda_open(NnrtSession *s, void **state) {
  NnrtProgram *p = s->p;
  for (int i = 0; i < p->nopts; i++)
    if (s->cfg[i].lookahead) {
      fprintf(stderr, "error: nesterov with lookahead = 1 trains on the CPU only (PyTorch's form, "
              "without lookahead, runs on the GPU)\n");
      return -1;
    }
  if (nnrt_cuda_reserve(p, s->B, s) != 0)
    return -1;
  CudaTrain *t = calloc(1, sizeof *t);
  if (!t) {
    nnrt_oom("the GPU loop's state", sizeof *t);
    return -1;
  }
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_INPUT) {
      char *a = s->slots[i], *b = a + (size_t)nnrt_slot_count(&p->slots[i], s->B) * nnrt_dtype_size(p->slots[i].dtype);
      t->lo = !t->lo || a < t->lo ? a : t->lo;
      t->hi = !t->hi || b > t->hi ? b : t->hi;
    }
  if (t->lo && t->hi > t->lo)
    nnrt_cuda_pin(t->lo, (size_t)(t->hi - t->lo));
  sync_params(s, true);
  nnrt_cuda_mark_copies();
  if (!s->o->quiet)
    fprintf(stderr, "device: %s\n", nnrt_cuda_device_name());
  stages_open(&t->st, s);
  t->launches0 = nnrt_cuda_launches();
  t->tstart = nnrt_now();
  double acc[2];
  nnrt_cuda_read_acc(acc); /* zero the sums */
  *state = t;
  return 0;
}

static void cuda_close(NnrtSession *s, void *state) {
  (void)s;
  CudaTrain *t = state;
  stages_close(&t->st);
  if (getenv("NNRT_CUDA_STATS") && t->nstep)
    fprintf(stderr, "cuda: %lld steps, %.1f launches/step from the host (%s), %.1f us/step\n", (long long)t->nstep,
            (double)(nnrt_cuda_launches() - t->launches0) / (double)t->nstep,
            t->st.used[0] || t->st.used[1] || t->st.used[2] ? "CUDA graphs" : "no graphs",
            1e6 * (nnrt_now() - t->tstart) / (double)t->nstep);
  if (t->lo && t->hi > t->lo)
    nnrt_cuda_unpin(t->lo);
  free(t);
}

/* The batch is in the host INPUT slots: the first step runs uncaptured
 * (cuBLAS sets itself up), then full batches replay CUDA graphs. */
static void cuda_step(NnrtSession *s, void *state, int64_t bs, int64_t epoch) {
  NnrtProgram *p = s->p;
  CudaTrain *t = state;
  t->nstep++;
  if (t->st.on && bs == s->B && t->nstep > 1) {
    graph_step(s, &t->st, (int)(t->nstep % NNRT_CUDA_STAGES), epoch);
    if (t->st.on)
      return;
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

/* The epoch's sums, summed on the device (and zeroed for the next). */
static void cuda_metrics(NnrtSession *s, void *state, double *loss, double *correct) {
  (void)s, (void)state;
  double acc[2];
  nnrt_cuda_read_acc(acc);
  *loss = acc[0];
  *correct = acc[1];
}

static void cuda_to_host(NnrtSession *s, void *state) { (void)state, sync_params(s, false); }
static void cuda_to_device(NnrtSession *s, void *state) { (void)state, sync_params(s, true); }

/* The host gathers the next batch into the INPUT slots only once the last
 * uncaptured batch's copies have left them. */
static void cuda_before_gather(NnrtSession *s, void *state) { (void)s, (void)state, nnrt_cuda_wait_copies(); }

const NnrtBackend nnrt_cuda_backend = {"cuda",       false,        cuda_open,      cuda_close,        cuda_step,
                                       cuda_metrics, cuda_to_host, cuda_to_device, cuda_before_gather};
