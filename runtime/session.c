/*
 * session.c — turns a program description into something that runs: the
 * data of each split (loaded by dataset.c), every slot and the optimizer
 * state planned, checked against the machine's memory and allocated in one
 * block, parameters initialised from the seeded generator, batches read
 * back; the checkpoint table and saving/restoring are session_ckpt.c's.
 *
 * Invariants:
 *  - slots with NNRT_BATCH dims are sized for s->B rows; a call with a
 *    smaller batch uses the leading rows;
 *  - params are initialised in slot order, so the seed fixes them;
 *  - the checkpoint table (params, STATE, then __opt__/<param>/<i>) points
 *    into the slot block, so saving copies nothing.
 * It does not train or print progress (train.c, eval.c do).
 *
 * Start-up is mostly waiting for data and for oneDNN to build its kernels
 * on its first call, so they overlap: oneDNN is warmed up (gemm.c) on a
 * data loader's thread when it runs out of files, or here on a thread of
 * its own after data that is read twice (a validation cut, normalisation).
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include "comm.h"
#include "program.h"
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERRLEN 512

#define salloc nnrt_alloc_or_say

double nnrt_session_elem(const NnrtSession *s, int slot, int64_t i) {
  const void *q = s->slots[slot];
  switch (s->p->slots[slot].dtype) {
  case NNRT_F32: return ((const float *)q)[i];
  case NNRT_F64: return ((const double *)q)[i];
  case NNRT_I32: return ((const int32_t *)q)[i];
  case NNRT_U8: return ((const uint8_t *)q)[i];
  }
  return 0;
}

double nnrt_session_read(const NnrtSession *s, int slot) { return nnrt_session_elem(s, slot, 0); }

void nnrt_session_zero_grads(NnrtSession *s) {
  for (int i = 0; i < s->p->nslots; i++) {
    const NnrtSlotDesc *slot = &s->p->slots[i];
    if (slot->role == NNRT_SLOT_GRAD)
      memset(s->slots[i], 0, (size_t)nnrt_slot_count(slot, s->B) * nnrt_dtype_size(slot->dtype));
  }
}

double nnrt_session_objectives(NnrtSession *s, int64_t bs, int last) {
  const NnrtProgram *p = s->p;
  nnrt_session_zero_grads(s);
  if (p->nobjs <= 1) {
    p->train(&s->ctx, s->slots, s->scratch, bs);
    return nnrt_session_read(s, s->loss_slot);
  }
  for (int i = 0; i <= last && i < p->nobjs; i++) {
    p->objs[i].train(&s->ctx, s->slots, s->scratch, bs);
    s->obj_loss[i] = nnrt_session_read(s, p->objs[i].loss_slot);
  }
  return s->obj_loss[last < p->nobjs ? last : p->nobjs - 1];
}

/* ---- opening ----------------------------------------------------------- */

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Bytes of a slot at batch B, rounded to 64; false when that overflows. */
static bool slot_bytes(const NnrtSlotDesc *d, int64_t B, uint64_t *out) {
  uint64_t n = nnrt_dtype_size(d->dtype);
  for (int i = 0; i < d->rank; i++)
    if (__builtin_mul_overflow(n, (uint64_t)(d->dims[i] == NNRT_BATCH ? B : d->dims[i]), &n))
      return false;
  if (n > UINT64_MAX - 63)
    return false;
  *out = (n + 63) & ~(uint64_t)63;
  return true;
}

/* Physical memory: a plan above it would only end in swapping or the OOM
 * killer some minutes into training (overcommit lets the allocation pass). */
static uint64_t machine_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  uint64_t m;
  if (pages <= 0 || size <= 0 || __builtin_mul_overflow((uint64_t)pages, (uint64_t)size, &m))
    return UINT64_MAX;
  return m;
}

/* The plan's total (slots, optimizer state, kernel scratch) checked for
 * overflow and against the machine's memory before anything is allocated;
 * the message names the size and its largest part. */
static int check_plan(NnrtSession *s, bool with_opt, int64_t scratch) {
  NnrtProgram *p = s->p;
  uint64_t total = 0, big = 0, b;
  const char *big_name = "?", *big_what = "slot";
  bool over = scratch < 0;
  if (!over) {
    total = (uint64_t)scratch;
    big = total, big_name = "kernel scratch", big_what = "";
  }
  for (int i = 0; i < p->nslots && !over; i++) {
    over = !slot_bytes(&p->slots[i], s->B, &b) || __builtin_add_overflow(total, b, &total);
    if (!over && b > big)
      big = b, big_name = p->slots[i].name, big_what = "slot ";
    if (over)
      big_name = p->slots[i].name, big_what = "slot ";
  }
  for (int g = 0; with_opt && g < p->ngrads && !over; g++) {
    const NnrtSlotDesc *w = &p->slots[p->grads[g].param];
    uint64_t k = (uint64_t)nnrt_opt_nstate(&s->cfg[p->grads[g].opt]);
    over = !slot_bytes(w, 1, &b) || __builtin_mul_overflow(b, k, &b) ||
           __builtin_add_overflow(total, b, &total);
    if (!over && b > big)
      big = b, big_name = w->name, big_what = "optimizer state of ";
  }
  if (over) {
    fprintf(stderr, "error: the memory plan overflows 64 bits at batch %lld (%s%s%s%s)\n",
            (long long)s->B, big_what, *big_what ? "'" : "", big_name, *big_what ? "'" : "");
    return -1;
  }
  uint64_t mem = machine_memory();
  if (total > mem) {
    fprintf(stderr, "error: the memory plan needs %" PRIu64 " bytes at batch %lld (the largest "
            "part, %s%s%s%s, %" PRIu64 " bytes), more than this machine's %" PRIu64 " bytes "
            "of memory\n", total, (long long)s->B, big_what, *big_what ? "'" : "", big_name,
            *big_what ? "'" : "", big, mem);
    return -1;
  }
  return 0;
}

static int plan_and_allocate(NnrtSession *s, bool with_opt) {
  NnrtProgram *p = s->p;
  size_t total = 0;
  for (int i = 0; i < p->nslots; i++)
    total += align64((size_t)nnrt_slot_count(&p->slots[i], s->B) * nnrt_dtype_size(p->slots[i].dtype));
  if (with_opt)
    for (int g = 0; g < p->ngrads; g++) {
      const NnrtSlotDesc *w = &p->slots[p->grads[g].param];
      size_t one = align64((size_t)nnrt_slot_count(w, 1) * nnrt_dtype_size(w->dtype));
      total += one * (size_t)(nnrt_opt_nstate(&s->cfg[p->grads[g].opt]) + s->cfg[p->grads[g].opt].lookahead);
    }
  s->opt_state = salloc((size_t)p->ngrads * sizeof(void **), "optimizer table");
  if (!s->opt_state)
    return -1;
  memset(s->opt_state, 0, (size_t)p->ngrads * sizeof(void **));
  s->slots = salloc((size_t)p->nslots * sizeof(void *), "slot table");
  if (!s->slots)
    return -1;
  s->block = salloc(total, "slots and optimizer state");
  if (!s->block)
    return -1;
  memset(s->block, 0, total);
  char *at = s->block;
  for (int i = 0; i < p->nslots; i++) {
    s->slots[i] = at;
    at += align64((size_t)nnrt_slot_count(&p->slots[i], s->B) * nnrt_dtype_size(p->slots[i].dtype));
  }
  if (with_opt)
    for (int g = 0; g < p->ngrads; g++) {
      const NnrtSlotDesc *w = &p->slots[p->grads[g].param];
      int ns = nnrt_opt_nstate(&s->cfg[p->grads[g].opt]);
      s->opt_state[g] = salloc((size_t)(ns + 1) * sizeof(void *), "optimizer table");
      if (!s->opt_state[g])
        return -1;
      /* after the state: nesterov's look-ahead point (lookahead = 1), not
       * state (never saved), or NULL */
      for (int k = 0; k < ns + s->cfg[p->grads[g].opt].lookahead; k++) {
        s->opt_state[g][k] = at;
        at += align64((size_t)nnrt_slot_count(w, 1) * nnrt_dtype_size(w->dtype));
      }
      nnrt_opt_state_init(&s->cfg[p->grads[g].opt], w->dtype == NNRT_F64, s->opt_state[g], nnrt_slot_count(w, 1));
    }
  return 0;
}

/* Whether the CPU kernels will call oneDNN, guessed from the f32 weights:
 * a convolution's (4-d), or a matrix (k, n) whose B x k x n products go to
 * dnnl_sgemm rather than the small-product loop.  A wrong guess costs
 * little: a needless warm-up runs beside the data loading, a missed one
 * leaves oneDNN's start-up in the first step, as it always was. */
static bool uses_onednn(const NnrtProgram *p, const NnrtOptions *o, int64_t B) {
  if (o->device && strcmp(o->device, "cuda") == 0)
    return false;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *w = &p->slots[i];
    if (w->role != NNRT_SLOT_PARAM || w->dtype != NNRT_F32 || w->rank < 2 || w->dims[0] <= 0)
      continue;
    if (w->rank == 4 || nnrt_sgemm_uses_dnnl(B, w->dims[0], nnrt_slot_count(w, 1) / w->dims[0]))
      return true;
  }
  return false;
}

static void *warm_thread(void *arg) {
  (void)arg;
  nnrt_gemm_warm();
  return NULL;
}

/* The train block's metrics, in the order of their OUTPUT slots: a batch
 * mean is one slot of what "metric"; a detection mAP five, each of what
 * "detmap NAME PART CLASSES IOU" (PART 0..4: NNRT_DET_*). */
static void find_metrics(NnrtSession *s) {
  const NnrtProgram *p = s->p;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *d = &p->slots[i];
    if (d->role != NNRT_SLOT_OUTPUT || !d->what)
      continue;
    char name[64];
    int part, classes;
    double iou;
    bool mean = !strcmp(d->what, NNRT_OUT_METRIC);
    if (!mean && sscanf(d->what, "detmap %63s %d %d %lf", name, &part, &classes, &iou) != 4)
      continue;
    int k = 0;
    while (!mean && k < s->nmetrics && strcmp(s->metric[k].name, name) != 0)
      k++;
    if (mean || k == s->nmetrics) {
      if (s->nmetrics == NNRT_MAX_METRICS)
        continue;
      k = s->nmetrics++;
      NnrtMetricDesc *m = &s->metric[k];
      snprintf(m->name, sizeof m->name, "%s", mean ? d->name : name);
      m->slot = mean ? i : -1;
      for (int j = 0; j < NNRT_DET_NSLOTS; j++)
        m->det[j] = -1;
      m->classes = classes;
      m->iou = iou;
    }
    if (!mean && part >= 0 && part < NNRT_DET_NSLOTS)
      s->metric[k].det[part] = i;
  }
}

int nnrt_session_open(NnrtSession *s, NnrtProgram *p, const NnrtOptions *o, int64_t B, int flags) {
  memset(s, 0, sizeof *s);
  pthread_t warmer;
  bool warming = false;
  s->p = p;
  s->o = o;
  s->B = B;
  s->loss_slot = nnrt_program_find_output(p, NNRT_OUT_LOSS);
  s->correct_slot = nnrt_program_find_output(p, NNRT_OUT_CORRECT);
  find_metrics(s);
  s->seed = o->has_seed ? o->seed : p->seed;
  s->epochs = o->epochs >= 0 ? o->epochs : p->epochs;
  s->valid_fraction = o->has_valid ? o->valid : p->valid;
  nnrt_rng_seed(&s->rng, s->seed);
  s->ctx.rng = &s->rng;
  s->eval_ctx.rng = &s->eval_rng;
  s->ctx.p = s->eval_ctx.p = p;
  s->ctx.check_numerics = s->eval_ctx.check_numerics = o->check_numerics;
  const char *ref = getenv("NNRT_OPT_REFERENCE");
  s->opt_reference = ref && *ref && strcmp(ref, "0");

  int nopt = p->nopts > 0 ? p->nopts : 1;
  for (int g = 0; g < p->ngrads; g++)
    if (p->grads[g].opt >= nopt)
      nopt = p->grads[g].opt + 1;
  s->cfg = salloc((size_t)nopt * sizeof *s->cfg, "optimizer table");
  if (!s->cfg)
    goto fail;
  for (int i = 0; i < nopt; i++) {
    char err[64];
    if (i < p->nopts && p->opts[i].declared)
      s->cfg[i] = p->opts[i].cfg;
    else
      nnrt_opt_config(&s->cfg[i], "sgd", 0, NULL, NULL, err, sizeof err);
    if (o->lr > 0)
      s->cfg[i].lr = o->lr;
  }

  bool warm = uses_onednn(p, o, B), warm_after = false;
  if (nnrt_session_load_data(s, flags, warm, &warm_after) != 0)
    goto fail;
  if (warm_after) /* if no thread starts, the first product pays as it used to */
    warming = pthread_create(&warmer, NULL, warm_thread, NULL) == 0;
  /* A batch beyond the data is full-batch: size the slots for the data. */
  int64_t most = s->train.n > s->test.n ? s->train.n : s->test.n;
  if ((flags & SESSION_DATA) && most > 0 && s->B > most)
    s->B = B = most;
  int64_t ts = p->train_scratch ? p->train_scratch(B) : 0;
  int64_t es = p->eval_scratch ? p->eval_scratch(B) : 0;
  int64_t sb = ts < 0 || es < 0 ? -1 : ts > es ? ts : es; /* negative: the sizes overflowed */
  for (int i = 1; i < p->nobjs && sb >= 0; i++) { /* the other objectives' train kernels share it */
    int64_t os = p->objs[i].scratch(B);
    sb = os < 0 ? -1 : os > sb ? os : sb;
  }
  if (check_plan(s, flags & SESSION_OPT, sb) != 0 || plan_and_allocate(s, flags & SESSION_OPT) != 0)
    goto fail;
  s->scratch = salloc((size_t)sb, "kernel scratch");
  if (!s->scratch)
    goto fail;
  if (s->train.present) {
    s->perm = salloc((size_t)s->train.n * sizeof(int64_t), "sample permutation");
    if (!s->perm)
      goto fail;
  }
  if ((flags & SESSION_OPT) && nnrt_augment_open(s) != 0) /* training only */
    goto fail;
  if (nnrt_session_ckpt_table(s, flags & SESSION_OPT) != 0)
    goto fail;
  nnrt_bench_mark("allocated"); /* slots, scratch, permutation */
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *slot = &p->slots[i];
    if ((slot->role != NNRT_SLOT_PARAM && slot->role != NNRT_SLOT_STATE) || !slot->init)
      continue;
    char err[ERRLEN];
    if (nnrt_init_fill(&s->rng, slot->init, slot->ninit, slot->init_args, slot->fan_in,
                       slot->fan_out, slot->dtype, s->slots[i], nnrt_slot_count(slot, s->B),
                       err, sizeof err) != 0) {
      fprintf(stderr, "error: slot '%s': %s\n", slot->name, err);
      goto fail;
    }
  }
  nnrt_bench_mark("initialised"); /* parameters drawn */
  if (warming)
    pthread_join(warmer, NULL);
  nnrt_bench_mark("session_open"); /* oneDNN's warm-up thread joined */
  return 0;
fail:
  if (warming) /* oneDNN must not be mid-call when the program exits */
    pthread_join(warmer, NULL);
  nnrt_session_free(s);
  return -1;
}

void nnrt_session_reset_carried(NnrtSession *s) {
  for (int i = 0; i < s->p->nslots; i++) {
    const NnrtSlotDesc *slot = &s->p->slots[i];
    if (!nnrt_slot_carried(slot))
      continue;
    int64_t n = nnrt_slot_count(slot, s->B);
    NnrtRng r = s->rng;
    char err[ERRLEN];
    if (!slot->init || nnrt_init_fill(&r, slot->init, slot->ninit, slot->init_args, slot->fan_in, slot->fan_out,
                                      slot->dtype, s->slots[i], n, err, sizeof err) != 0)
      memset(s->slots[i], 0, (size_t)n * nnrt_dtype_size(slot->dtype)); /* (the fill worked at open) */
  }
}

void nnrt_split_free(NnrtSplit *sp, int nslots) {
  if (sp->fields)
    for (int i = 0; i < nslots; i++)
      if (sp->fields[i].data)
        nnrt_array_free(&sp->fields[i]);
  nnrt_free(sp->fields);
  nnrt_free(sp->scale);
  memset(sp, 0, sizeof *sp);
}

void nnrt_session_free(NnrtSession *s) {
  if (!s->p)
    return;
  nnrt_split_free(&s->train, s->p->nslots);
  nnrt_split_free(&s->test, s->p->nslots);
  nnrt_split_free(&s->valid, s->p->nslots);
  if (s->opt_state)
    for (int g = 0; g < s->p->ngrads; g++)
      nnrt_free(s->opt_state[g]);
  if (s->names)
    for (int i = 0; s->names[i]; i++)
      nnrt_free(s->names[i]);
  nnrt_free(s->names);
  nnrt_free(s->tensors);
  nnrt_free(s->opt_state);
  nnrt_free(s->slots);
  nnrt_free(s->block);
  nnrt_free(s->scratch);
  nnrt_free(s->perm);
  nnrt_free(s->aug_tmp);
  nnrt_free(s->cfg);
  nnrt_session_text_free(s);
  nnrt_shard_free(s);
  memset(s, 0, sizeof *s);
}

/* ---- checkpoints ------------------------------------------------------- */

/* "adam,sgd": the kind of each optimizer the grads use, in index order (a
 * checkpoint's "optimizers").  Cut at OPT_KINDS_LEN - 1 bytes. */