/*
 * shard.c — data-parallel training: each step's batch split into S shards,
 * their gradients summed in one fixed order, over however many processes
 * (ranks, comm.c) share them.
 *
 * `train --shards S` on one process, or `mpirun -np N ./model train` (S
 * defaults to N): every rank draws the same shuffled batch and gathers all
 * of it (augmentation draws from the shared generator, so the generators
 * stay equal), then runs the train kernel on its S/N shards — contiguous
 * row ranges c·bs/S .. (c+1)·bs/S — and the shards' gradients are summed,
 * each weighted by its share of the batch (rows_c / bs, exactly 1/S when S
 * divides the batch), since a kernel's gradient is that of its shard's
 * mean loss.  The sum is a balanced binary tree over the S shards in
 * order: a rank sums its S/N shards' subtree (a binary counter: push a
 * shard, merge equal levels, left + right), and the ranks' subtrees are
 * joined by the tree's top levels.  The top levels run where the data is:
 * the packed gradient is cut into N parts, part j of every rank goes to
 * rank j (all-to-all), rank j adds its N pieces as the tree says, and the
 * summed parts are gathered back to every rank (all-gather) — the bytes of
 * a ring all-reduce, 2(N−1)/N of the gradient per rank, with no sum left
 * to MPI.  So the same S gives the same bits on any N that divides it: one
 * process with --shards 2 writes the checkpoint `mpirun -np 2` writes.
 * Without shards (S = 1) the kernel sees the whole batch, which rounds
 * differently in the last bits.
 *
 * Random numbers drawn inside the kernel (dropout, noise) come from a
 * generator per shard, seeded from one draw of the run's generator per
 * step and the shard's index, so each shard draws the same numbers on any
 * rank.  The loss, accuracy and metrics printed are the shards' weighted
 * sums, in shard order.  The packed layout: the f32 gradients' elements in order,
 * then the f64 ones; each kind cut into N equal parts (zero-padded), part
 * j being [its f32 elements][its f64 elements], so rank j's part is one
 * contiguous block.
 *
 * Not sharded (nnrt_shard_check says so): several objectives, state that
 * training updates (batch norm's running statistics would differ per
 * shard), carried states, the GPU.
 */
#include "comm.h"
#include "program.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEVELS 40

struct NnrtShards {
  int count, per_rank;      /* S, S / N */
  int64_t n32, n64;         /* gradient elements of each kind */
  int64_t p32, p64;         /* of each kind per part (N parts) */
  size_t part_bytes, bytes; /* one part, all N */
  char *stack[MAX_LEVELS];  /* the binary counter's partial sums */
  int level[MAX_LEVELS], depth;
  char *pool[MAX_LEVELS + 1];
  int npool;
  char *recv;               /* N parts from the ranks, then the gathered sum */
  int stride;               /* per shard: loss, correct, each metric */
  double *stats, *all;      /* (this rank's shards, everyone's) */
};

static bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

/* Only rank 0 says why: every rank reaches the same verdict. */
#define SAY(...) (nnrt_comm.rank == 0 ? fprintf(stderr, __VA_ARGS__) : 0)

int nnrt_shard_check(const NnrtSession *s, int shards) {
  const NnrtProgram *p = s->p;
  int n = nnrt_comm.size;
  if (!s->o->shards && !is_pow2(n)) {
    SAY("error: %d processes: data-parallel training needs a power-of-two process count "
        "(mpirun -np 2, 4, 8, ...)\n", n);
    return -1;
  }
  if (!is_pow2(shards) || shards > 4096) {
    SAY("error: --shards %d: the shard count must be a power of two up to 4096 (the sum "
        "of the shards' gradients is a balanced binary tree over them)\n", shards);
    return -1;
  }
  if (!is_pow2(n) || shards % n != 0) {
    SAY("error: %d processes cannot share %d shards: use a power-of-two process count "
        "that divides the shard count (mpirun -np 2, 4, ...; --shards N)\n", n, shards);
    return -1;
  }
  if (s->B < shards) {
    SAY("error: a batch of %lld cannot be split into %d shards (raise --batch)\n",
            (long long)s->B, shards);
    return -1;
  }
  if (p->nobjs > 1) {
    SAY("error: data-parallel training (%d shards) runs programs of one objective; this "
        "one's step has %d 'minimize' statements\n", shards, p->nobjs);
    return -1;
  }
  const char *carried = nnrt_program_carried(p);
  if (carried) {
    SAY("error: data-parallel training (%d shards): the state '%s' is carried from step to "
        "step, which shards cannot split\n", shards, carried);
    return -1;
  }
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_STATE) {
      SAY("error: data-parallel training (%d shards): training updates the state '%s' "
          "(running statistics), which would differ from shard to shard\n", shards, p->slots[i].name);
      return -1;
    }
  return 0;
}

static struct NnrtShards *shards_open(NnrtSession *s) {
  const NnrtProgram *p = s->p;
  struct NnrtShards *h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
  int n = nnrt_comm.size;
  h->count = s->shards;
  h->per_rank = s->shards / n;
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtSlotDesc *sl = &p->slots[p->grads[g].grad];
    *(sl->dtype == NNRT_F64 ? &h->n64 : &h->n32) += nnrt_slot_count(sl, 1);
  }
  h->p32 = (h->n32 + n - 1) / n;
  h->p64 = (h->n64 + n - 1) / n;
  h->part_bytes = (size_t)h->p32 * sizeof(float) + (size_t)h->p64 * sizeof(double);
  h->bytes = h->part_bytes * (size_t)n;
  int levels = 0;
  while ((1 << levels) < h->per_rank)
    levels++;
  h->npool = levels + 2;
  for (int i = 0; i < h->npool; i++)
    if (!(h->pool[i] = nnrt_alloc(h->bytes ? h->bytes : 1, "shard gradients")))
      return h; /* shards_ok() sees the hole */
  if (n > 1 && !(h->recv = nnrt_alloc(h->bytes ? h->bytes : 1, "shard gradients")))
    return h;
  h->stride = 2 + s->nmetrics;
  h->stats = calloc((size_t)h->stride * (size_t)h->count, sizeof(double));
  h->all = calloc((size_t)h->stride * (size_t)h->count, sizeof(double));
  return h;
}

static bool shards_ok(const struct NnrtShards *h) {
  for (int i = 0; i < h->npool; i++)
    if (!h->pool[i])
      return false;
  return (nnrt_comm.size == 1 || h->recv) && h->stats && h->all;
}

void nnrt_shard_free(NnrtSession *s) {
  struct NnrtShards *h = s->sh;
  if (!h)
    return;
  for (int i = 0; i < h->npool; i++)
    nnrt_free(h->pool[i]);
  nnrt_free(h->recv);
  free(h->stats);
  free(h->all);
  free(h);
  s->sh = NULL;
}

/* Element k of a kind (f32: o32 = true) in the packed layout. */
static char *at(const struct NnrtShards *h, char *buf, bool f32, int64_t k) {
  int64_t per = f32 ? h->p32 : h->p64;
  char *part = buf + (size_t)(k / per) * h->part_bytes;
  return f32 ? part + (size_t)(k % per) * sizeof(float)
             : part + (size_t)h->p32 * sizeof(float) + (size_t)(k % per) * sizeof(double);
}

/* The GRAD slots, times w, into buf (w = 0: zeros) — or, back: buf into
 * the GRAD slots. */
static void pack(NnrtSession *s, char *buf, double w, bool back) {
  const NnrtProgram *p = s->p;
  struct NnrtShards *h = s->sh;
  if (!back)
    memset(buf, 0, h->bytes);
  int64_t k32 = 0, k64 = 0;
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtSlotDesc *sl = &p->slots[p->grads[g].grad];
    bool f32 = sl->dtype != NNRT_F64;
    int64_t n = nnrt_slot_count(sl, 1), *k = f32 ? &k32 : &k64, per = f32 ? h->p32 : h->p64;
    size_t esz = f32 ? sizeof(float) : sizeof(double);
    char *g0 = s->slots[p->grads[g].grad];
    for (int64_t i = 0; i < n;) { /* runs that stay inside one part */
      int64_t run = per - (*k + i) % per;
      if (run > n - i)
        run = n - i;
      char *dst = at(h, buf, f32, *k + i), *src = g0 + (size_t)i * esz;
      if (back)
        memcpy(src, dst, (size_t)run * esz);
      else if (w != 0 && f32) {
        float wf = (float)w;
        for (int64_t j = 0; j < run; j++)
          ((float *)dst)[j] = ((const float *)src)[j] * wf;
      } else if (w != 0)
        for (int64_t j = 0; j < run; j++)
          ((double *)dst)[j] = ((const double *)src)[j] * w;
      i += run;
    }
    *k += n;
  }
}

/* a += b over `parts` parts (each [p32 floats][p64 doubles]). */
static void add_parts(const struct NnrtShards *h, char *a, const char *b, int parts) {
  for (int q = 0; q < parts; q++) {
    float *a32 = (float *)(a + (size_t)q * h->part_bytes);
    const float *b32 = (const float *)(b + (size_t)q * h->part_bytes);
    for (int64_t i = 0; i < h->p32; i++)
      a32[i] += b32[i];
    double *a64 = (double *)(a32 + h->p32);
    const double *b64 = (const double *)(b32 + h->p32);
    for (int64_t i = 0; i < h->p64; i++)
      a64[i] += b64[i];
  }
}

static void comm_fail(void) {
  fprintf(stderr, "error: data-parallel training stopped: a collective failed on rank %d\n", nnrt_comm.rank);
  if (nnrt_comm.ops)
    nnrt_comm.ops->abort(1);
  exit(1);
}

/* Push a shard's packed gradient (from the pool) onto the binary counter. */
static void push(struct NnrtShards *h, char *buf) {
  int level = 0;
  while (h->depth > 0 && h->level[h->depth - 1] == level) {
    char *left = h->stack[--h->depth];
    add_parts(h, left, buf, nnrt_comm.size);
    h->pool[h->npool++] = buf;
    buf = left;
    level++;
  }
  h->stack[h->depth] = buf;
  h->level[h->depth++] = level;
}

/* Move every INPUT slot's pointer by `rows` samples (back with -rows). */
static void shift_inputs(NnrtSession *s, int64_t rows) {
  const NnrtProgram *p = s->p;
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_INPUT)
      s->slots[i] = (char *)s->slots[i] +
                    rows * nnrt_slot_sample_count(&p->slots[i]) * (int64_t)nnrt_dtype_size(p->slots[i].dtype);
}

void nnrt_shard_grads(NnrtSession *s, int64_t bs) {
  const NnrtProgram *p = s->p;
  if (!s->sh) {
    s->sh = shards_open(s);
    if (!s->sh || !shards_ok(s->sh)) {
      nnrt_oom("shard gradients", s->sh ? s->sh->bytes : sizeof *s->sh);
      comm_fail();
    }
  }
  struct NnrtShards *h = s->sh;
  int S = h->count, first = nnrt_comm.rank * h->per_rank;
  uint64_t seed = nnrt_rng_next(&s->rng);
  NnrtRng *run_rng = s->ctx.rng, shard_rng;
  int w = h->stride;
  memset(h->stats, 0, (size_t)w * (size_t)S * sizeof(double));
  for (int c = first; c < first + h->per_rank; c++) {
    int64_t lo = bs * c / S, hi = bs * (c + 1) / S;
    char *buf = h->pool[--h->npool];
    if (hi > lo) {
      nnrt_session_zero_grads(s);
      shift_inputs(s, lo); /* the shard's rows */
      nnrt_rng_seed(&shard_rng, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(c + 1)));
      s->ctx.rng = &shard_rng;
      p->train(&s->ctx, s->slots, s->scratch, hi - lo);
      s->ctx.rng = run_rng;
      shift_inputs(s, -lo);
      h->stats[w * c] = nnrt_session_read(s, s->loss_slot);
      h->stats[w * c + 1] = s->correct_slot >= 0 ? nnrt_session_read(s, s->correct_slot) : 0;
      for (int i = 0; i < s->nmetrics; i++) /* (a split's mAP is not a batch's) */
        h->stats[w * c + 2 + i] = s->metric[i].slot >= 0 ? nnrt_session_read(s, s->metric[i].slot) : NAN;
    }
    pack(s, buf, (double)(hi - lo) / (double)bs, false);
    push(h, buf);
  }
  char *sum = h->stack[--h->depth];
  double *stats = h->stats;
  int n = nnrt_comm.size;
  if (n > 1) {
    /* the tree's top levels, part by part: rank r adds part r of every rank */
    if (nnrt_comm.ops->alltoall(sum, h->recv, h->part_bytes) != 0)
      comm_fail();
    for (int step = 1; step < n; step *= 2)
      for (int i = 0; i + step < n; i += 2 * step)
        add_parts(h, h->recv + (size_t)i * h->part_bytes, h->recv + (size_t)(i + step) * h->part_bytes, 1);
    if (nnrt_comm.ops->allgather(h->recv, sum, h->part_bytes) != 0 ||
        nnrt_comm.ops->allgather(h->stats + (size_t)w * first, h->all,
                                 (size_t)w * (size_t)h->per_rank * sizeof(double)) != 0)
      comm_fail();
    stats = h->all;
  }
  pack(s, sum, 0, true);
  h->pool[h->npool++] = sum;
  double loss = 0, correct = 0;
  for (int i = 0; i < s->nmetrics; i++)
    s->shard_met[i] = 0;
  for (int c = 0; c < S; c++) { /* batch means: each shard by its share */
    double share = (double)(bs * (c + 1) / S - bs * c / S) / (double)bs;
    loss += stats[w * c] * share;
    correct += stats[w * c + 1];
    for (int i = 0; i < s->nmetrics; i++)
      s->shard_met[i] += stats[w * c + 2 + i] * share;
  }
  s->shard_loss = loss;
  s->shard_correct = correct;
}
