/*
 * train.c — the `train` command: epochs of shuffled mini-batches through
 * the train kernel, an optimizer step per batch, checkpoints, a CSV log,
 * and a final evaluation whose line is the last thing printed to stdout.
 *
 * Each epoch: the permutation 0..N-1 is shuffled from the run's generator
 * (batch >= N is full-batch GD, batch 1 is SGD, and the last partial batch
 * runs with batch = remainder); each batch's INPUT slots are gathered (and
 * image inputs augmented, augment.c), GRAD slots zeroed, the train kernel
 * called, OUTPUT "loss" (mean over the batch) and "correct" (a count) read,
 * and every (grad, param, optimizer) stepped with t = global step count and
 * the epoch's scheduled rate.
 * After an epoch that is logged, plotted or shown, the validation split
 * (held out by session.c) and the test split are evaluated with the eval
 * kernel.
 *
 * Early stopping (`early_stop = P;`, --early-stop P) evaluates the
 * validation split after every epoch and keeps a copy of the PARAM and
 * STATE slots of the epoch with the lowest validation loss; after P epochs
 * without a lower one training stops.  Either way the best epoch's weights
 * are restored at the end (and saved again with --save), so the final line
 * and the saved file describe the best epoch.  The copy is not saved in
 * checkpoints: a resumed run starts its patience count afresh.
 *
 * One loop for every device: what differs is a table of operations
 * (NnrtBackend, program.h) — run a step, read the loss, copy the weights
 * between the device and the host slots.  The CPU's (below) runs the
 * kernels on the host slots; the GPU's is cuda/train.c.  Batches are
 * shuffled, gathered and augmented on the host for both, from the same
 * generator, so a run draws the same batches on either.
 *
 * `--init-from FILE` (session_init.c) overwrites the fresh initialisation
 * with some of a checkpoint's tensors before the first epoch; with
 * `--epochs 0 --save FILE` the initial weights are saved as epoch 0.
 *
 * Invariants: everything random comes from one generator whose state is
 * saved after every epoch, with params, STATE and optimizer state, so a run
 * resumed from epoch k is bit-identical to one that never stopped.  A
 * non-finite loss, or a parameter, state or optimizer-state element that
 * is NaN/Inf at the end of an epoch, stops the run (exit 3) before
 * anything is saved: the checkpoint on disk stays that of the last good
 * epoch.
 */
#include "comm.h"
#include "plot.h"
#include "program.h"
#ifdef NNRT_CUDA
#include "cuda/cuda.h"
#endif
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

double nnrt_session_lr(const NnrtSession *s, int g, int64_t epoch) {
  const NnrtProgram *p = s->p;
  const NnrtGradDesc *gd = &p->grads[g];
  NnrtSched constant = {.kind = SCHED_CONSTANT};
  const NnrtSched *sc = gd->opt < p->nopts ? &p->opts[gd->opt].sched : &constant;
  return nnrt_sched_lr(sc, s->cfg[gd->opt].lr, epoch, s->epochs);
}

/* The generated step of one param, cut into OPT_CHUNK-element pieces run
 * on the worker team: every optimizer is element-wise, so the pieces are
 * independent and any thread count gives the same bits.  A param of one
 * piece is stepped on the calling thread. */
#define OPT_CHUNK 16384
struct OptSplit {
  NnrtOptKernel k;
  const NnrtOptConfig *c;
  double lr;
  int64_t t, n;
  char *p;
  const char *g;
  void **st;
  int esize;
};

static void opt_piece(void *ctx, int64_t i) {
  const struct OptSplit *o = ctx;
  int64_t off = i * OPT_CHUNK, n = o->n - off < OPT_CHUNK ? o->n - off : OPT_CHUNK;
  size_t b = (size_t)off * (size_t)o->esize;
  int ns = nnrt_opt_nstate(o->c);
  void *st[3] = {NULL, NULL, NULL};
  for (int j = 0; j < ns && j < 3; j++) st[j] = (char *)o->st[j] + b;
  nnrt_opt_run(o->k, o->c, o->lr, o->t, o->p + b, o->g + b, st, n);
}

static void opt_run_split(NnrtOptKernel k, const NnrtOptConfig *c, double lr, int64_t t, void *p, const void *g,
                          void **st, int64_t n, int esize) {
  if (n <= OPT_CHUNK) {
    nnrt_opt_run(k, c, lr, t, p, g, st, n);
    return;
  }
  struct OptSplit o = {k, c, lr, t, n, p, g, st, esize};
  nnrt_team_run(opt_piece, &o, (n + OPT_CHUNK - 1) / OPT_CHUNK);
}

/* Step the params of optimizer opt (-1: of every optimizer); t counts the
 * optimizer's steps, this one included (Adam's bias correction). */
static void opt_step(NnrtSession *s, int64_t epoch, int opt, int64_t t) {
  NnrtProgram *p = s->p;
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtGradDesc *gd = &p->grads[g];
    if (opt >= 0 && gd->opt != opt)
      continue;
    const NnrtOptConfig *c = &s->cfg[gd->opt];
    double lr = nnrt_session_lr(s, g, epoch);
    int64_t n = nnrt_slot_count(&p->slots[gd->param], 1);
    NnrtOptKernel k = p->opt_kernel[p->slots[gd->param].dtype == NNRT_F64];
    if (k && !s->opt_reference) /* the step nnc generated (codegen/optim.c) */
      opt_run_split(k, c, lr, t, s->slots[gd->param], s->slots[gd->grad], s->opt_state[g], n,
                    p->slots[gd->param].dtype == NNRT_F64 ? 8 : 4);
    else if (p->slots[gd->param].dtype == NNRT_F32)
      nnrt_opt_step_f32(c, lr, t, s->slots[gd->param], s->slots[gd->grad],
                        (float **)s->opt_state[g], n);
    else
      nnrt_opt_step_f64(c, lr, t, s->slots[gd->param], s->slots[gd->grad],
                        (double **)s->opt_state[g], n);
  }
}

/* Nesterov's look-ahead form (lookahead = 1): the train kernel runs at
 * φ = θ − μv.  on: φ is written to the buffer after the optimizer state and
 * that buffer becomes the param's slot (the kernels read params through
 * s->slots); off: θ's buffer is put back before the step.  opt >= 0: only
 * optimizer opt's params (the objective it steps), else every optimizer's. */
static void look_ahead(NnrtSession *s, int opt, bool on) {
  NnrtProgram *p = s->p;
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtGradDesc *gd = &p->grads[g];
    const NnrtOptConfig *c = &s->cfg[gd->opt];
    if (!c->lookahead || (opt >= 0 && gd->opt != opt))
      continue;
    void **ahead = &s->opt_state[g][nnrt_opt_nstate(c)];
    if (on) {
      bool f64 = p->slots[gd->param].dtype == NNRT_F64;
      nnrt_opt_ahead(s->opt_reference ? NULL : p->opt_kernel[f64], c, f64, s->slots[gd->param], s->opt_state[g],
                     *ahead, nnrt_slot_count(&p->slots[gd->param], 1));
    }
    void *t = s->slots[gd->param];
    s->slots[gd->param] = *ahead;
    *ahead = t;
  }
}

/* Gradient-norm clipping before the step (clip_norm; optim.c says how):
 * the generated kernels, or their C reference under NNRT_OPT_REFERENCE=1.
 * opt >= 0: only optimizer opt's gradients (one objective of several, whose
 * norm is its own), else all of them. */
static void clip_grads(NnrtSession *s, int opt) {
  NnrtProgram *p = s->p;
  if (!(p->clip_norm > 0))
    return;
  bool gen = p->clip_kernel && !s->opt_reference;
  double part[NNRT_CLIP_PARTS] = {0}, scale = 1;
  for (int g = 0; g < p->ngrads; g++) {
    if (opt >= 0 && p->grads[g].opt != opt)
      continue;
    bool f64 = p->slots[p->grads[g].param].dtype == NNRT_F64;
    int64_t n = nnrt_slot_count(&p->slots[p->grads[g].param], 1);
    if (gen)
      p->clip_sqsum[f64](s->slots[p->grads[g].grad], n, part);
    else
      nnrt_clip_sqsum_ref(s->slots[p->grads[g].grad], n, f64, part);
  }
  if (gen)
    p->clip_kernel(part, p->clip_norm, &scale);
  else
    scale = nnrt_clip_factor_ref(part, p->clip_norm);
  for (int g = 0; g < p->ngrads; g++) {
    if (opt >= 0 && p->grads[g].opt != opt)
      continue;
    bool f64 = p->slots[p->grads[g].param].dtype == NNRT_F64;
    int64_t n = nnrt_slot_count(&p->slots[p->grads[g].param], 1);
    if (gen)
      p->clip_scale[f64](s->slots[p->grads[g].grad], n, &scale);
    else
      nnrt_clip_scale_ref(s->slots[p->grads[g].grad], n, f64, scale);
  }
}

static double current_lr(const NnrtSession *s, int64_t epoch) {
  const NnrtProgram *p = s->p;
  NnrtSched constant = {.kind = SCHED_CONSTANT};
  const NnrtSched *sc = p->nopts > 0 ? &p->opts[0].sched : &constant;
  return nnrt_sched_lr(sc, s->cfg[0].lr, epoch, s->epochs);
}

/* ---- the CPU backend: the kernels run on the host slots themselves ------- */

/* A step of several objectives, with `for` groups (LANGUAGE.md §8.4), is a
 * cycle of segments, one per batch: a group of reps r covers r consecutive
 * segments, the first shared with the group before it, so
 * `for _ in 0..5 { minimize d_loss ... } minimize g_loss ...` is the cycle
 * [d] [d] [d] [d] [d g].  The cycle restarts with every epoch; the last
 * step of an epoch may be cut short.  Objective i runs in segments
 * [start, start + reps) of a cycle of `length` (group_span). */
static void group_span(const NnrtProgram *p, int obj, int64_t *start, int64_t *length) {
  int64_t pos = 0, end = 1;
  *start = 0;
  for (int i = 0; i < p->nobjs; i++) {
    if (i > 0 && p->objs[i].group != p->objs[i - 1].group)
      pos += p->objs[i - 1].reps - 1;
    if (i == obj)
      *start = pos;
    end = pos + p->objs[i].reps;
  }
  *length = end;
}

/* Objective obj's updates in the first n batches of an epoch. */
static int64_t runs_before(const NnrtProgram *p, int obj, int64_t n) {
  int64_t start, len, reps = p->objs[obj].reps;
  group_span(p, obj, &start, &len);
  int64_t rem = n % len - start;
  return n / len * reps + (rem < 0 ? 0 : rem > reps ? reps : rem);
}

/* One batch.  Several objectives: the kernels of this batch's segment in
 * order, each followed by its optimizer's step, so that a later loss sees
 * the params an earlier objective just updated; each kernel draws its
 * random numbers (fresh noise) from the run's generator when it runs.
 * Each optimizer counts its own steps: without `for` groups that is the
 * run's step counter, with them its updates in the epochs before and this
 * one's batches so far. */
static void cpu_step(NnrtSession *s, void *state, int64_t bs, int64_t epoch) {
  (void)state;
  NnrtProgram *p = s->p;
  if (p->nobjs > 1) {
    s->step++;
    for (int i = 0; i < p->nobjs; i++) {
      int64_t start, len;
      group_span(p, i, &start, &len);
      int64_t seg = s->batch_no % len;
      s->obj_ran[i] = seg >= start && seg < start + p->objs[i].reps;
      if (!s->obj_ran[i])
        continue;
      int64_t t = len == 1 ? s->step
                           : epoch * runs_before(p, i, s->epoch_batches) + runs_before(p, i, s->batch_no + 1);
      nnrt_session_zero_grads(s);
      look_ahead(s, i, true);
      p->objs[i].train(&s->ctx, s->slots, s->scratch, bs);
      look_ahead(s, i, false);
      s->obj_loss[i] = nnrt_session_read(s, p->objs[i].loss_slot);
      clip_grads(s, i);
      opt_step(s, epoch, i, t);
    }
    return;
  }
  look_ahead(s, -1, true);
  if (s->shards > 1) { /* data-parallel (shard.c) */
    nnrt_shard_grads(s, bs);
  } else {
    nnrt_session_zero_grads(s);
    p->train(&s->ctx, s->slots, s->scratch, bs);
  }
  look_ahead(s, -1, false);
  s->step++;
  clip_grads(s, -1);
  opt_step(s, epoch, -1, s->step);
}

static void cpu_metrics(NnrtSession *s, void *state, double *loss, double *correct) {
  (void)state;
  if (s->shards > 1) {
    *loss = s->shard_loss;
    *correct = s->shard_correct;
    return;
  }
  *loss = nnrt_session_read(s, s->loss_slot);
  *correct = s->correct_slot >= 0 ? nnrt_session_read(s, s->correct_slot) : 0;
}

const NnrtBackend nnrt_cpu_backend = {"cpu", true, NULL, NULL, cpu_step, cpu_metrics, NULL, NULL, NULL};

static int check_trainable(const NnrtProgram *p) {
  const char *name = p->name ? p->name : "";
  if (!p->train) {
    fprintf(stderr, "error: program '%s' has no train kernel\n", name);
    return -1;
  }
  if (nnrt_program_find_output(p, NNRT_OUT_LOSS) < 0) {
    fprintf(stderr, "error: program '%s' has no 'loss' output\n", name);
    return -1;
  }
  for (int g = 0; g < p->ngrads; g++)
    if (p->slots[p->grads[g].param].dtype != NNRT_F32 &&
        p->slots[p->grads[g].param].dtype != NNRT_F64) {
      fprintf(stderr, "error: param '%s' must be f32 or f64 to be trained\n",
              p->slots[p->grads[g].param].name);
      return -1;
    }
  return 0;
}

/* The best epoch so far, for early stopping: a copy of the checkpoint
 * table's PARAM and STATE tensors (the first s->nsaved), back to back. */
typedef struct EarlyStop {
  int64_t patience;     /* 0: off */
  int64_t best_epoch;   /* 1-based; 0 before the first epoch */
  int64_t stopped;      /* the epoch training stopped after, 0 if it ran out */
  double best_loss;
  char *best;
  size_t bytes;
} EarlyStop;

static size_t tensor_bytes(const NnrtNamedTensor *t) {
  size_t n = nnrt_dtype_size(t->dtype);
  for (int d = 0; d < t->rank; d++)
    n *= (size_t)t->dims[d];
  return n;
}

static int early_open(EarlyStop *e, const NnrtSession *s, int64_t patience) {
  memset(e, 0, sizeof *e);
  e->patience = patience;
  e->best_loss = INFINITY;
  if (patience <= 0)
    return 0;
  for (int i = 0; i < s->nsaved; i++)
    e->bytes += tensor_bytes(&s->tensors[i]);
  if (!(e->best = nnrt_alloc(e->bytes + 1, "early-stopping weights"))) {
    nnrt_oom("early-stopping weights", e->bytes + 1);
    return -1;
  }
  return 0;
}

/* Copy the weights into the best copy (keep) or back from it. */
static void early_copy(EarlyStop *e, NnrtSession *s, bool keep) {
  char *at = e->best;
  for (int i = 0; i < s->nsaved; i++) {
    size_t n = tensor_bytes(&s->tensors[i]);
    if (keep)
      memcpy(at, s->tensors[i].data, n);
    else
      memcpy(s->tensors[i].data, at, n);
    at += n;
  }
}

/* After epoch s->epoch with validation loss val: true when it is time to stop. */
static bool early_update(EarlyStop *e, NnrtSession *s, double val) {
  if (val < e->best_loss) { /* NaN never improves */
    e->best_loss = val;
    e->best_epoch = s->epoch;
    early_copy(e, s, true);
  }
  return s->epoch - e->best_epoch >= e->patience;
}

/* This epoch's order of the n training samples in s->perm; returns how
 * many of them it visits.  Shuffled by the run's generator, or, when the
 * program carries a state from step to step, B streams: the samples split
 * into B contiguous runs of n/B (n mod B left out), batch j taking sample j
 * of each, so row r of every batch continues row r of the one before (a
 * text split in windows of stride T: the next T characters).  The carried
 * states start from their initialisers. */
static int64_t stream_order(NnrtSession *s, int64_t n) {
  if (!nnrt_program_carried(s->p)) {
    for (int64_t i = 0; i < n; i++)
      s->perm[i] = i;
    nnrt_rng_shuffle(&s->rng, s->perm, n);
    return n;
  }
  nnrt_session_reset_carried(s);
  int64_t len = n / s->B;
  for (int64_t j = 0; j < len; j++)
    for (int64_t r = 0; r < s->B; r++)
      s->perm[j * s->B + r] = r * len + j;
  return len * s->B;
}

/* Run the remaining epochs on backend be.  Returns the exit code. */
static int run_epochs(NnrtSession *s, const NnrtBackend *be, void *bst, const char *save, FILE *log,
                      NnrtTrainPlot *plot, EarlyStop *es) {
  const NnrtSplit *tr = &s->train;
  NnrtProgress g;
  nnrt_progress_start(&g, s->o->quiet, s->epochs, tr->n);
  bool has_acc = s->correct_slot >= 0;
  int64_t step0 = s->step; /* (step0 + 1 may not exist: a resumed step can be INT64_MAX) */
  nnrt_bench_mark("train_start");
  double run_t0 = nnrt_now();
  for (int64_t epoch = s->epoch; epoch < s->epochs; epoch++) {
    double t0 = nnrt_now(), loss_sum = 0, correct = 0, obj_sum[NNRT_MAX_OBJECTIVES] = {0};
    int64_t n = stream_order(s, tr->n);
    int64_t batch_no = 0;
    /* samples each objective's running mean is over (a `for` of minimize
     * statements runs some objectives in some batches only) */
    int64_t loss_n = 0, obj_n[NNRT_MAX_OBJECTIVES] = {0};
    double met_sum[NNRT_MAX_METRICS] = {0}; /* the train block's metrics, times the batch */
    s->epoch_batches = n / s->B + (n % s->B != 0);
    for (int64_t start = 0; start < n; start += s->B, batch_no++) {
      int64_t bs = n - start < s->B ? n - start : s->B;
      s->batch_no = batch_no;
      if (be->before_gather)
        be->before_gather(s, bst);
      nnrt_session_gather(s, tr, s->perm + start, 0, bs);
      nnrt_augment_batch(s, bs); /* training batches only; draws from s->rng */
      be->step(s, bst, bs, epoch);
      if (s->step - 1 == step0)
        nnrt_bench_mark("first_step");
      else if (s->step - 3 == step0) /* the warm-up the benchmarks' PyTorch twins leave out */
        nnrt_bench_mark("warm_end");
      if (!be->batch_loss)
        continue;
      double loss, c;
      be->metrics(s, bst, &loss, &c);
      if (!isfinite(loss)) {
        nnrt_progress_abort(&g);
        fprintf(stderr, "error: loss became %s at epoch %lld batch %lld\n",
                isnan(loss) ? "nan" : "inf", (long long)epoch + 1, (long long)batch_no + 1);
        return 3;
      }
      if (s->p->nobjs <= 1 || s->obj_ran[0]) {
        loss_sum += loss * (double)bs;
        loss_n += bs;
      }
      for (int i = 0; i < s->p->nobjs && s->p->nobjs > 1; i++)
        if (s->obj_ran[i]) {
          obj_sum[i] += s->obj_loss[i] * (double)bs;
          obj_n[i] += bs;
        }
      if (has_acc)
        correct += c;
      for (int i = 0; i < s->nmetrics; i++)
        met_sum[i] += (s->shards > 1         ? s->shard_met[i]
                       : s->metric[i].slot >= 0 ? nnrt_session_read(s, s->metric[i].slot)
                                                : NAN) * (double)bs; /* a split's mAP: no running mean */
      int64_t done = start + bs;
      nnrt_progress_batch(&g, epoch + 1, done, loss_n ? loss_sum / (double)loss_n : 0,
                          correct / (double)done, has_acc);
    }
    if (!be->batch_loss) { /* the device summed the epoch */
      be->metrics(s, bst, &loss_sum, &correct);
      if (!isfinite(loss_sum)) {
        nnrt_progress_abort(&g);
        fprintf(stderr, "error: loss became %s in epoch %lld\n", isnan(loss_sum) ? "nan" : "inf",
                (long long)epoch + 1);
        return 3;
      }
      if (!has_acc)
        correct = 0;
    }
    s->epoch = epoch + 1;
    double seconds = nnrt_now() - t0;
    if (be->to_host) /* the checks, saves, evaluations and copies below read the host slots */
      be->to_host(s, bst);
    /* A weight can overflow in an epoch's last step while its loss was
     * still finite: checked once per epoch (one pass over the weights,
     * small beside an epoch), before anything is saved. */
    int64_t elem;
    double value;
    int bad = nnrt_session_nonfinite(s, &elem, &value);
    if (bad >= 0) {
      char when[64];
      snprintf(when, sizeof when, "in epoch %lld", (long long)s->epoch);
      nnrt_progress_abort(&g);
      nnrt_report_nonfinite(s, bad, elem, value, when);
      if (save)
        fprintf(stderr, "; %s keeps the checkpoint of epoch %lld\n", save, (long long)epoch);
      else
        fprintf(stderr, "\n");
      return 3;
    }
    if (be->batch_loss) /* over the batches objective 0 ran in (all, without `for` groups) */
      n = loss_n ? loss_n : n;
    NnrtMetrics m = {.loss = loss_sum / (double)n, .accuracy = correct / (double)n,
                     .has_accuracy = has_acc};
    for (int i = 0; i < s->p->nobjs && s->p->nobjs > 1; i++) { /* the epoch's running mean of each */
      m.obj[i] = obj_n[i] ? obj_sum[i] / (double)obj_n[i] : 0;
      m.obj_name[i] = s->p->objs[i].name;
      m.nobj = i + 1;
    }
    m.nmet = s->nmetrics; /* running means; the GPU's step does not read them back */
    for (int i = 0; i < s->nmetrics; i++) {
      m.met_name[i] = s->metric[i].name, m.met_whole[i] = s->metric[i].slot < 0;
      m.met[NNRT_SPLIT_TRAIN][i] = be->batch_loss ? met_sum[i] / (double)n : NAN;
    }
    if (save && (bad = nnrt_session_save(s, save)) != 0)
      return bad == -2 ? 3 : 1;
    if ((s->test.present || s->valid.present) && (log || plot || nnrt_progress_shows(&g, s->epoch)))
      nnrt_evaluate(s, true, &m);
    else if (es->patience > 0)
      nnrt_eval_split(s, &s->valid, &m.val_loss, &m.val_accuracy);
    if (log) {
      errno = 0;
      fprintf(log, "%lld,%.9g,", (long long)s->epoch, m.loss);
      if (has_acc)
        fprintf(log, "%.9g", m.accuracy);
      fprintf(log, ",%.9g,%.6f", current_lr(s, epoch), seconds);
      if (s->test.present) {
        fprintf(log, ",%.9g,", m.test_loss);
        if (has_acc)
          fprintf(log, "%.9g", m.test_accuracy);
      }
      if (s->valid.present) {
        fprintf(log, ",%.9g,", m.val_loss);
        if (has_acc)
          fprintf(log, "%.9g", m.val_accuracy);
      }
      nnrt_traj_log_values(log, s);
      for (int i = 0; i < m.nobj; i++) /* several objectives: each one's running mean */
        fprintf(log, ",%.9g", m.obj[i]);
      nnrt_log_metrics(log, s, &m);
      fprintf(log, "\n");
      if (fflush(log) != 0 || ferror(log)) { /* a full disk stops the run: the log is its record */
        nnrt_progress_abort(&g);
        fprintf(stderr, "error: %s: cannot write log file: %s\n", s->o->log,
                errno ? strerror(errno) : "write error");
        return 1;
      }
    }
    if (plot)
      nnrt_trainplot_add(plot, s, s->epoch, &m);
    nnrt_progress_epoch(&g, s->epoch, &m, seconds);
    if (s->o->samples_dir && nnrt_sample_epoch(s, s->o->samples_dir) != 0) {
      nnrt_progress_abort(&g);
      return 1;
    }
    if (es->patience > 0 && early_update(es, s, m.val_loss) && s->epoch < s->epochs) {
      es->stopped = s->epoch;
      if (!s->o->quiet)
        printf("early stopping after epoch %lld: no better validation loss for %lld epochs\n",
               (long long)s->epoch, (long long)es->patience);
      break;
    }
  }
  nnrt_bench_mark("train_end");
  nnrt_prof_report(nnrt_now() - run_t0);
  if (es->best_epoch > 0 && es->best_epoch != s->epoch) {
    early_copy(es, s, false);
    if (be->to_device)
      be->to_device(s, bst);
    if (!s->o->quiet)
      printf("restored the weights of epoch %lld (val_loss=%.6g)\n", (long long)es->best_epoch,
             es->best_loss);
    if (save && nnrt_session_save(s, save) != 0)
      return 1;
  }
  return 0;
}

/* The line before the result (not with --quiet): the result is a fresh
 * evaluation in inference mode, not the epoch's running training loss,
 * and early stopping may have put back an earlier epoch's weights. */
static void print_eval_label(const NnrtSession *s, const EarlyStop *es) {
  printf("eval on train (%lld samples)", (long long)s->train.n);
  if (s->valid.present)
    printf(", validation (%lld)", (long long)s->valid.n);
  if (s->test.present)
    printf(", test (%lld)", (long long)s->test.n);
  int64_t kept = es->best_epoch > 0 ? es->best_epoch : s->epoch;
  printf(" in inference mode, with the weights of epoch %lld", (long long)kept);
  if (es->stopped > 0)
    printf(" (the best validation loss; stopped early after epoch %lld)", (long long)es->stopped);
  else if (es->best_epoch > 0 && es->best_epoch != s->epoch)
    printf(" (the best validation loss of %lld epochs)", (long long)s->epoch);
  else if (es->best_epoch > 0)
    printf(" (the last, also the best validation loss)");
  printf(":\n");
}

int nnrt_cmd_train(NnrtProgram *p, const NnrtOptions *o) {
  if (check_trainable(p) != 0)
    return 1;
  const NnrtBackend *be = &nnrt_cpu_backend;
#ifdef NNRT_CUDA
  if (o->device && !strcmp(o->device, "cuda"))
    be = &nnrt_cuda_backend;
#endif
  if (o->device && !strcmp(o->device, "cuda") && p->nobjs > 1) {
    fprintf(stderr, "error: --device cuda trains a step of one objective; this program's step has %d "
            "'minimize' statements (train it on the CPU)\n", p->nobjs);
    return 1;
  }
  if (o->samples_dir && !nnrt_samples_images(p)) {
    fprintf(stderr, "error: --samples: program '%s' draws no images (it needs a train block's `sample = G(noise);` "
            "and no text data)\n", p->name ? p->name : "");
    return 1;
  }
  const char *carried = nnrt_program_carried(p);
  if (o->device && !strcmp(o->device, "cuda") && carried) {
    fprintf(stderr, "error: --device cuda: the state '%s' is carried from step to step (streams of "
            "batches); such a program trains on the CPU only for now\n", carried);
    return 1;
  }
  void *bst = NULL;
  bool be_open = false;
  int64_t B = o->batch > 0 ? o->batch : p->batch;
  NnrtCkpt *c = NULL;
  NnrtOptions ro; /* o with the resumed run's seed and validation split */
  if (o->resume) {
    if (!(c = nnrt_ckpt_open(o->resume)))
      return 1;
    ro = *o;
    nnrt_options_from_ckpt(&ro, c);
    o = &ro;
  }
  int64_t patience = o->has_early_stop ? o->early_stop : p->early_stop;
  if (patience > 0 && !((o->has_valid ? o->valid : p->valid) > 0)) {
    fprintf(stderr, "error: early stopping watches the validation loss, but there is no validation "
            "split (add `valid = 0.2;` to the train block or pass --valid 0.2)\n");
    nnrt_ckpt_free(c);
    return 1;
  }
  NnrtSession s;
  if (nnrt_session_open(&s, p, o, B, SESSION_DATA | SESSION_TEST | SESSION_OPT) != 0) {
    nnrt_ckpt_free(c);
    return 1;
  }
  EarlyStop es = {0};
  if (o->limit > 0 && s.train.n > o->limit) /* --limit: a quick run on the first N samples */
    s.train.n = o->limit;
  if (carried && s.train.n < B) {
    fprintf(stderr, "error: the state '%s' is carried from step to step, so every batch is %lld streams, "
            "but there are only %lld training samples (lower --batch)\n", carried, (long long)B,
            (long long)s.train.n);
    nnrt_session_free(&s);
    return 1;
  }
  int rc = 1;
  char err[512];
  FILE *log = NULL;
  NnrtTrainPlot plot, *plotp = NULL;
  if (c) {
    int r = nnrt_session_restore(&s, c, o->resume, true);
    nnrt_ckpt_free(c);
    if (r != 0)
      goto out;
  }
  if (o->init_from && nnrt_session_init_from(&s, o) != 0) /* session_init.c */
    goto out;
  if (nnrt_session_check_steps(&s, o->resume) != 0)
    goto out;
  s.shards = o->shards > 0 ? o->shards : nnrt_comm.size; /* data-parallel: shard.c */
  if (s.shards > 1 && be != &nnrt_cpu_backend) {
    fprintf(stderr, "error: data-parallel training (%d shards) runs on the CPU only for now (drop --device "
            "cuda)\n", s.shards);
    goto out;
  }
  if (s.shards > 1 && nnrt_shard_check(&s, s.shards) != 0)
    goto out;
  /* --resume without --save keeps saving to the file it resumed from; of
   * several ranks, rank 0 alone saves (they all hold the same weights). */
  const char *save = nnrt_comm.rank != 0 ? NULL : o->save ? o->save : o->resume;
  /* Every output path is checked before the first epoch, not after the last. */
  if ((save && nnrt_regular_or_new(save, err, sizeof err) != 0) ||
      (o->plot && nnrt_regular_or_new(o->plot, err, sizeof err) != 0)) {
    fprintf(stderr, "error: %s\n", err);
    goto out;
  }
  if (o->log) {
    if (!(log = nnrt_open_output(o->log, "log file", err, sizeof err))) {
      fprintf(stderr, "error: %s\n", err);
      goto out;
    }
    fprintf(log, "epoch,loss,accuracy,lr,seconds%s%s",
            s.test.present ? ",test_loss,test_accuracy" : "",
            s.valid.present ? ",val_loss,val_accuracy" : "");
    nnrt_traj_log_header(log, &s);
    for (int i = 0; i < p->nobjs && p->nobjs > 1; i++)
      fprintf(log, ",%s", p->objs[i].name);
    nnrt_log_metrics(log, &s, NULL);
    fprintf(log, "\n");
  }
  if (o->plot) {
    if (nnrt_trainplot_open(&plot, &s) != 0)
      goto out;
    plotp = &plot;
  }
  nnrt_traj_start(&s, log, plotp);
  if (early_open(&es, &s, patience) != 0)
    goto out;
  if (be->open) {
    if (be->open(&s, &bst) != 0)
      goto out;
    be_open = true;
  }
  rc = run_epochs(&s, be, bst, save, log, plotp, &es);
  /* --epochs 0 --save: the initial weights (--init-from's included), e.g.
   * to inspect or share them; a resumed run has saved them already. */
  if (rc == 0 && save && !o->resume && s.epoch == 0) {
    int r = nnrt_session_save(&s, save);
    rc = r == -2 ? 3 : r != 0 ? 1 : 0;
  }
  if (plotp && (rc == 0 || rc == 3) && nnrt_trainplot_save(plotp, &s, o->plot) != 0)
    rc = 1;
  if (rc == 0) {
    NnrtMetrics m;
    nnrt_evaluate(&s, false, &m);
    m.stopped_early = es.stopped;
    m.best_epoch = es.best_epoch;
    if (!o->quiet)
      print_eval_label(&s, &es);
    nnrt_print_result(&m, s.epoch);
    if (!nnrt_metrics_finite(&m, " after training", ""))
      rc = 3;
    if (s.metric_error) /* (said on stderr when it happened) */
      rc = 1;
  }
out:
  if (be_open && be->close)
    be->close(&s, bst);
  if (log && nnrt_close_output(log, o->log, "log file", err, sizeof err) != 0 && rc != 1) {
    fprintf(stderr, "error: %s\n", err);
    rc = 1;
  }
  if (plotp)
    nnrt_trainplot_free(plotp);
  nnrt_free(es.best);
  nnrt_session_free(&s);
  return rc;
}
