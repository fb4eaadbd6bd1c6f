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
 * joined by the tree's top levels.  The top levels run where the data is,
 * one bucket of the packed gradient at a time: a bucket is cut into N
 * parts, part j of every rank goes to rank j (all-to-all), rank j adds its
 * N pieces as the tree says, and the summed parts are gathered back to
 * every rank (all-gather) — the bytes of a ring all-reduce, 2(N−1)/N of
 * the gradient per rank, with no sum left to MPI.
 *
 * Overlapped: the collectives are started ones (comm.h).  Under several
 * ranks the rank's last shard runs its train kernel with ctx's
 * NNRT_CTX_GRADS flag set, so the kernel calls nnrt_grad_ready after the
 * last write of each gradient (codegen/llvm.c): the gradient is packed
 * into its buckets at once, and each bucket whose elements are all in is
 * merged into the rank's subtree and its all-to-all started — buckets in
 * their order, one order on every rank — while the backward pass goes on
 * (MPI_Test in each call keeps them moving).  After the kernel, while
 * bucket k is summed, later buckets travel and the all-gathers of earlier
 * ones run on.  Buckets change where an element travels and when, never
 * which sums make it, so the same S gives the same bits on any N that
 * divides it, any bucket size, with the overlap or without
 * (NNRT_OVERLAP=0): one process with --shards 2 writes the checkpoint
 * `mpirun -np 2` writes.  Without shards (S = 1) the kernel sees the
 * whole batch, which rounds differently in the last bits.
 *
 * Random numbers drawn inside the kernel (dropout, noise) come from a
 * generator per shard, seeded from one draw of the run's generator per
 * step and the shard's index, so each shard draws the same numbers on any
 * rank.  The loss, accuracy and metrics printed are the shards' weighted
 * sums, in shard order.
 *
 * The packed layout: the f32 gradients' elements in order, then the f64
 * ones, each kind in buckets of NNRT_BUCKET_BYTES (default: a quarter of
 * the gradient, at least 64 KiB per rank's part, at most 1 GiB); a bucket
 * of e elements is N parts of ceil(e/N) (zero-padded), one after the other,
 * so a bucket and each of its parts is one contiguous block.  A bucket
 * boundary may fall inside a parameter and the last bucket of a kind is
 * shorter.  Every rank must use one bucket size (checked at the start).
 *
 * Not overlapped: the kernels of a rank's other shards (their sums are
 * local), and the optimizer step, which waits for the whole gradient.
 *
 * Not sharded (nnrt_shard_check says so): several objectives, state that
 * training updates (batch norm's running statistics would differ per
 * shard), carried states, the GPU.
 */
#include "comm.h"
#include "program.h"
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LEVELS 40

/* One bucket: a run of consecutive elements of one kind (f32 or f64) of
 * the packed gradient, cut into N equal parts (the last zero-padded). */
typedef struct Bucket {
  size_t off, part;       /* its first byte in a packed buffer; one part's bytes */
  int64_t first, n, per;  /* its elements of its kind: the first, how many, per part */
  bool f64;
  int64_t left;           /* the last shard's elements not yet packed into it */
  void *a2a, *gather;     /* its collectives while they run (comm.h) */
} Bucket;

struct NnrtShards {
  int count, per_rank;      /* S, S / N */
  int64_t e32, e64;         /* elements of each kind per bucket */
  Bucket *b;                /* the f32 buckets, then the f64 ones */
  int nb, nb32;
  size_t bytes32, bytes;    /* the f32 buckets' bytes; all of a packed buffer */
  char *stack[MAX_LEVELS];  /* the binary counter's partial sums */
  int level[MAX_LEVELS], depth;
  char *pool[MAX_LEVELS + 1];
  int npool;
  char *recv;               /* each bucket's N parts from the ranks */
  int nstarted;             /* buckets 0 .. nstarted-1 have started */
  int *grad_of;             /* by slot: its index in p->grads, or -1 */
  int64_t *first;           /* by grad: its first element of its kind */
  int64_t *got;             /* by bucket: elements one grad put in it (last_grad) */
  bool *packed;             /* by grad: the last shard's is packed */
  char *last;               /* the last shard's buffer while its kernel runs */
  double w;                 /* ... and its weight */
  bool overlap;             /* started from nnrt_grad_ready (NNRT_OVERLAP=0: not) */
  bool times;               /* NNRT_SHARD_TIMES: the seconds below, printed at the end */
  double t_kernel, t_after; /* the last shard's kernel; from its return to the summed gradient */
  int64_t steps;
  int stride;               /* per shard: loss, correct, each metric */
  double *stats, *all;      /* (this rank's shards, everyone's) */
};

static bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

/* Only rank 0 says why: every rank reaches the same verdict. */
#define SAY(...) (nnrt_comm.rank == 0 ? fprintf(stderr, __VA_ARGS__) : 0)

static int64_t bucket_env(void);

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
  int64_t bb = bucket_env(), all[4096]; /* n divides shards <= 4096 */
  if (bb < 0)
    return -1;
  if (n > 1) { /* one bucket size on every rank, or their collectives would not pair up */
    if (nnrt_comm.ops->allgather(&bb, all, sizeof bb) != 0)
      return -1;
    for (int r = 1; r < n; r++)
      if (all[r] != all[0]) {
        SAY("error: NNRT_BUCKET_BYTES differs from rank to rank (mpirun -x NNRT_BUCKET_BYTES "
            "gives every rank the launcher's)\n");
        return -1;
      }
  }
  return 0;
}

/* Each part of a default bucket is at least this, so that N ranks' messages
 * stay large beside their latency; the default cuts the gradient in four. */
#define PART_MIN (64 << 10)
#define BUCKET_MAX ((int64_t)1 << 30) /* a part must fit MPI's int count */

/* NNRT_BUCKET_BYTES: the bucket size asked for (a count of bytes, with an
 * optional k, M or G suffix), 0 when unset, -1 (after saying why) when bad. */
static int64_t bucket_env(void) {
  const char *v = getenv("NNRT_BUCKET_BYTES");
  if (!v || !*v)
    return 0;
  char *end;
  long long b = strtoll(v, &end, 10);
  if (*end == 'k' || *end == 'K')
    b *= 1024, end++;
  else if (*end == 'M')
    b *= 1024 * 1024, end++;
  else if (*end == 'G')
    b *= 1024 * 1024 * 1024, end++;
  if (*end || b < 1 || b > BUCKET_MAX) {
    SAY("error: NNRT_BUCKET_BYTES=%s: give the gradient bucket's size in bytes, 1 to 1G "
        "(a k, M or G suffix multiplies by 1024, 1024^2 or 1024^3)\n", v);
    return -1;
  }
  return b;
}

static struct NnrtShards *shards_open(NnrtSession *s) {
  const NnrtProgram *p = s->p;
  struct NnrtShards *h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
  int n = nnrt_comm.size;
  h->count = s->shards;
  h->per_rank = s->shards / n;
  int64_t n32 = 0, n64 = 0;
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtSlotDesc *sl = &p->slots[p->grads[g].grad];
    *(sl->dtype == NNRT_F64 ? &n64 : &n32) += nnrt_slot_count(sl, 1);
  }
  int64_t bb = bucket_env(), grad_bytes = n32 * (int64_t)sizeof(float) + n64 * (int64_t)sizeof(double);
  if (bb <= 0) { /* four buckets, parts of PART_MIN at least */
    bb = (grad_bytes / 4 + 7) / 8 * 8; /* (whole elements of either kind) */
    if (bb < (int64_t)n * PART_MIN)
      bb = (int64_t)n * PART_MIN;
    if (bb > BUCKET_MAX)
      bb = BUCKET_MAX;
  }
  h->e32 = bb / (int64_t)sizeof(float) > 0 ? bb / (int64_t)sizeof(float) : 1;
  h->e64 = bb / (int64_t)sizeof(double) > 0 ? bb / (int64_t)sizeof(double) : 1;
  h->nb32 = (int)((n32 + h->e32 - 1) / h->e32);
  h->nb = h->nb32 + (int)((n64 + h->e64 - 1) / h->e64);
  h->b = calloc(h->nb ? (size_t)h->nb : 1, sizeof *h->b);
  h->grad_of = malloc((size_t)p->nslots * sizeof *h->grad_of);
  h->first = calloc(p->ngrads ? (size_t)p->ngrads : 1, sizeof *h->first);
  h->packed = calloc(p->ngrads ? (size_t)p->ngrads : 1, sizeof *h->packed);
  h->got = calloc(h->nb ? (size_t)h->nb : 1, sizeof *h->got);
  if (!h->b || !h->grad_of || !h->first || !h->packed || !h->got)
    return h;
  for (int i = 0; i < p->nslots; i++)
    h->grad_of[i] = -1;
  int64_t k32 = 0, k64 = 0;
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtSlotDesc *sl = &p->slots[p->grads[g].grad];
    int64_t *k = sl->dtype == NNRT_F64 ? &k64 : &k32;
    h->grad_of[p->grads[g].grad] = g;
    h->first[g] = *k;
    *k += nnrt_slot_count(sl, 1);
  }
  const char *ov = getenv("NNRT_OVERLAP");
  h->overlap = n > 1 && !(ov && !strcmp(ov, "0"));
  h->times = getenv("NNRT_SHARD_TIMES") != NULL;
  size_t off = 0;
  for (int k = 0; k < h->nb; k++) {
    bool f64 = k >= h->nb32;
    int64_t e = f64 ? h->e64 : h->e32, first = (f64 ? k - h->nb32 : k) * e, all = f64 ? n64 : n32;
    int64_t cnt = all - first < e ? all - first : e, per = (cnt + n - 1) / n;
    size_t part = (size_t)per * (f64 ? sizeof(double) : sizeof(float));
    h->b[k] = (Bucket){.off = off, .part = part, .first = first, .n = cnt, .per = per, .f64 = f64};
    off += part * (size_t)n;
    if (!f64)
      h->bytes32 = off;
  }
  h->bytes = off;
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
  return h->b && h->grad_of && h->first && h->packed && h->got && (nnrt_comm.size == 1 || h->recv) &&
         h->stats && h->all;
}

void nnrt_shard_free(NnrtSession *s) {
  struct NnrtShards *h = s->sh;
  if (!h)
    return;
  if (h->times && h->steps)
    fprintf(stderr, "shard times: rank %d, %lld steps, %d buckets, overlap %s: last shard's kernel %.3f ms, "
            "then %.3f ms to the summed gradient (per step)\n", nnrt_comm.rank, (long long)h->steps, h->nb,
            h->overlap ? "on" : "off", h->t_kernel / (double)h->steps * 1e3, h->t_after / (double)h->steps * 1e3);
  for (int i = 0; i < h->npool; i++)
    nnrt_free(h->pool[i]);
  nnrt_free(h->recv);
  free(h->b);
  free(h->grad_of);
  free(h->first);
  free(h->packed);
  free(h->got);
  free(h->stats);
  free(h->all);
  free(h);
  s->sh = NULL;
}

/* Element k of a kind in the packed layout; *room: how many elements from
 * k on are next to it there (the rest of its part that its bucket holds). */
static char *at(const struct NnrtShards *h, char *buf, bool f64, int64_t k, int64_t *room) {
  const Bucket *b = &h->b[f64 ? h->nb32 + k / h->e64 : k / h->e32];
  int64_t i = k - b->first;
  *room = b->per - i % b->per < b->n - i ? b->per - i % b->per : b->n - i;
  return buf + b->off + (size_t)(i / b->per) * b->part +
         (size_t)(i % b->per) * (f64 ? sizeof(double) : sizeof(float));
}

/* GRAD slot g, times w, into buf — or, back: buf into the slot.  got (by
 * bucket; NULL: not counted) += how many of g's elements it got. */
static void pack_one(NnrtSession *s, char *buf, int g, double w, bool back, int64_t *got) {
  const NnrtProgram *p = s->p;
  struct NnrtShards *h = s->sh;
  const NnrtSlotDesc *sl = &p->slots[p->grads[g].grad];
  bool f64 = sl->dtype == NNRT_F64;
  int64_t n = nnrt_slot_count(sl, 1), k = h->first[g];
  size_t esz = f64 ? sizeof(double) : sizeof(float);
  char *g0 = s->slots[p->grads[g].grad];
  for (int64_t i = 0, run; i < n; i += run) { /* runs that stay inside one part */
    char *dst = at(h, buf, f64, k + i, &run), *src = g0 + (size_t)i * esz;
    if (run > n - i)
      run = n - i;
    if (got)
      got[f64 ? h->nb32 + (k + i) / h->e64 : (k + i) / h->e32] += run;
    if (back)
      memcpy(src, dst, (size_t)run * esz);
    else if (w != 0 && !f64) {
      float wf = (float)w;
      for (int64_t j = 0; j < run; j++)
        ((float *)dst)[j] = ((const float *)src)[j] * wf;
    } else if (w != 0)
      for (int64_t j = 0; j < run; j++)
        ((double *)dst)[j] = ((const double *)src)[j] * w;
  }
}

/* Every GRAD slot, times w, into buf (zeroed first) — or, back: buf into
 * the slots. */
static void pack(NnrtSession *s, char *buf, double w, bool back) {
  if (!back)
    memset(buf, 0, s->sh->bytes);
  for (int g = 0; g < s->p->ngrads; g++)
    pack_one(s, buf, g, w, back, NULL);
}

/* a += b over `bytes` bytes of one kind. */
static void add(char *a, const char *b, size_t bytes, bool f64) {
  if (f64)
    for (size_t i = 0; i < bytes / sizeof(double); i++)
      ((double *)a)[i] += ((const double *)b)[i];
  else
    for (size_t i = 0; i < bytes / sizeof(float); i++)
      ((float *)a)[i] += ((const float *)b)[i];
}

static void comm_fail(void) {
  fprintf(stderr, "error: data-parallel training stopped: a collective failed on rank %d\n", nnrt_comm.rank);
  if (nnrt_comm.ops)
    nnrt_comm.ops->abort(1);
  exit(1);
}

static void check(int rc) {
  if (rc != 0)
    comm_fail();
}

/* Push a shard's packed gradient (from the pool) onto the binary counter. */
static void push(struct NnrtShards *h, char *buf) {
  int level = 0;
  while (h->depth > 0 && h->level[h->depth - 1] == level) {
    char *left = h->stack[--h->depth];
    add(left, buf, h->bytes32, false);
    add(left + h->bytes32, buf + h->bytes32, h->bytes - h->bytes32, true);
    h->pool[h->npool++] = buf;
    buf = left;
    level++;
  }
  h->stack[h->depth] = buf;
  h->level[h->depth++] = level;
}

/* Bucket b of the rank's sum, into stack[0] (last itself when the rank has
 * one shard): the merges that pushing the rank's last shard, last, would
 * make — the whole stack, as S/N is a power of two — on b's bytes alone. */
static void finish(struct NnrtShards *h, char *last, const Bucket *b) {
  size_t len = b->part * (size_t)nnrt_comm.size;
  for (int d = h->depth - 1; d >= 0; d--) {
    add(h->stack[d] + b->off, last + b->off, len, b->f64);
    last = h->stack[d];
  }
}

/* Bucket k of the last shard is packed: its sum over the rank's shards is
 * made (finish) and, over several ranks, its all-to-all starts. */
static void bucket_ready(struct NnrtShards *h, int k) {
  Bucket *b = &h->b[k];
  finish(h, h->last, b);
  if (nnrt_comm.size > 1)
    check(nnrt_comm.ops->ialltoall(h->stack[0] + b->off, h->recv + b->off, b->part, &b->a2a));
  h->nstarted++;
}

/* Grad g of the last shard into its buckets; those complete start. */
static void last_grad(NnrtSession *s, int g) {
  struct NnrtShards *h = s->sh;
  const NnrtSlotDesc *sl = &s->p->slots[s->p->grads[g].grad];
  int64_t n = nnrt_slot_count(sl, 1);
  h->packed[g] = true;
  if (n == 0)
    return;
  pack_one(s, h->last, g, h->w, false, h->got);
  bool f64 = sl->dtype == NNRT_F64;
  int64_t e = f64 ? h->e64 : h->e32, base = f64 ? h->nb32 : 0;
  for (int64_t k = base + h->first[g] / e; k <= base + (h->first[g] + n - 1) / e; k++) {
    h->b[k].left -= h->got[k];
    h->got[k] = 0;
  }
  /* buckets start in their order, one order on every rank whatever the
   * kernel called: the kernel's schedule (compiler/graph.c, a depth-first
   * walk from the outputs in order) finishes the gradients roughly in the
   * parameters' order: the MLP's l1.W first (its walk makes every layer's
   * delta), then l2.W, l3.W, then the biases */
  for (int k = h->nstarted; k < h->nb && h->b[k].left == 0; k++)
    bucket_ready(h, k);
}

/* One MPI_Test each of the oldest running all-to-all (from bucket *a on)
 * and all-gather (from *g on, below upto): MPI moves a started
 * collective's bytes only inside its calls. */
static void progress(struct NnrtShards *h, int *a, int *g, int upto) {
  const NnrtCommOps *ops = nnrt_comm.ops;
  int done;
  while (*a < h->nstarted && !h->b[*a].a2a)
    (*a)++;
  if (*a < h->nstarted) {
    check(ops->test(h->b[*a].a2a, &done));
    if (done)
      h->b[(*a)++].a2a = NULL;
  }
  while (*g < upto && !h->b[*g].gather)
    (*g)++;
  if (*g < upto) {
    check(ops->test(h->b[*g].gather, &done));
    if (done)
      h->b[(*g)++].gather = NULL;
  }
}

/* The train kernel's hook (NNRT_CTX_GRADS): a gradient of the last shard
 * is final, while the backward pass goes on.  It starts all-to-alls only,
 * in bucket order: the plugin tags a collective with its number, so every
 * rank must start the same ones in one order, and an all-gather started
 * here would depend on when its all-to-all arrived on each rank. */
void nnrt_grad_ready(void *ctx, int32_t slot) {
  NnrtSession *s = (NnrtSession *)((char *)ctx - offsetof(NnrtSession, ctx));
  struct NnrtShards *h = s->sh;
  int g = h && slot >= 0 && slot < s->p->nslots ? h->grad_of[slot] : -1;
  if (g < 0 || h->packed[g])
    return;
  last_grad(s, g);
  int a = 0, none = 0;
  progress(h, &a, &none, 0);
}

/* The tree's top levels, bucket by bucket (all started): each bucket's
 * parts went to their ranks (all-to-all), rank r adds part r of every
 * rank in the tree's order and the sums go back to every rank
 * (all-gather).  A bucket is summed while later ones travel and the
 * all-gathers of earlier ones run on; every rank starts the collectives
 * in one order (the buckets'). */
static void exchange(struct NnrtShards *h, char *sum, int first) {
  const NnrtCommOps *ops = nnrt_comm.ops;
  int n = nnrt_comm.size, a = 0, g = 0;
  void *stats;
  check(ops->iallgather(h->stats + (size_t)h->stride * first, h->all,
                        (size_t)h->stride * (size_t)h->per_rank * sizeof(double), &stats));
  for (int q = 0; q < h->nb; q++) {
    Bucket *b = &h->b[q];
    if (b->a2a)
      check(ops->wait(b->a2a));
    b->a2a = NULL;
    char *r = h->recv + b->off;
    for (int step = 1; step < n; step *= 2)
      for (int i = 0; i + step < n; i += 2 * step) {
        add(r + (size_t)i * b->part, r + (size_t)(i + step) * b->part, b->part, b->f64);
        progress(h, &a, &g, q);
      }
    check(ops->iallgather(r, sum + b->off, b->part, &b->gather));
    progress(h, &a, &g, q + 1);
  }
  for (int q = g; q < h->nb; q++) {
    Bucket *b = &h->b[q];
    if (b->gather)
      check(ops->wait(b->gather));
    b->gather = NULL;
  }
  check(ops->wait(stats));
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
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
  int S = h->count, first = nnrt_comm.rank * h->per_rank, last = first + h->per_rank - 1;
  uint64_t seed = nnrt_rng_next(&s->rng);
  NnrtRng *run_rng = s->ctx.rng, shard_rng;
  int w = h->stride;
  memset(h->stats, 0, (size_t)w * (size_t)S * sizeof(double));
  for (int c = first; c <= last; c++) {
    int64_t lo = bs * c / S, hi = bs * (c + 1) / S;
    char *buf = h->pool[--h->npool];
    double share = (double)(hi - lo) / (double)bs;
    if (c == last) { /* its gradients go to the buckets as they are final */
      h->last = buf;
      h->w = share;
      h->nstarted = 0;
      memset(buf, 0, h->bytes);
      memset(h->packed, 0, (size_t)p->ngrads * sizeof *h->packed);
      for (int k = 0; k < h->nb; k++)
        h->b[k].left = h->b[k].n;
      if (!h->depth) /* the rank's only shard: its buffer is the sum */
        h->stack[0] = buf;
    }
    if (hi > lo) {
      nnrt_session_zero_grads(s);
      shift_inputs(s, lo); /* the shard's rows */
      nnrt_rng_seed(&shard_rng, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(c + 1)));
      s->ctx.rng = &shard_rng;
      s->ctx.grads_ready = c == last && h->overlap;
      double t0 = h->times && c == last ? now() : 0;
      p->train(&s->ctx, s->slots, s->scratch, hi - lo);
      if (h->times && c == last)
        h->t_kernel += now() - t0;
      s->ctx.grads_ready = 0;
      s->ctx.rng = run_rng;
      shift_inputs(s, -lo);
      h->stats[w * c] = nnrt_session_read(s, s->loss_slot);
      h->stats[w * c + 1] = s->correct_slot >= 0 ? nnrt_session_read(s, s->correct_slot) : 0;
      for (int i = 0; i < s->nmetrics; i++) /* (a split's mAP is not a batch's) */
        h->stats[w * c + 2 + i] = s->metric[i].slot >= 0 ? nnrt_session_read(s, s->metric[i].slot) : NAN;
    }
    if (c < last) {
      pack(s, buf, share, false);
      push(h, buf);
    }
  }
  double t1 = h->times ? now() : 0;
  /* the last shard's gradients the kernel did not hand over (all of them
   * without the hook, or on one process) */
  for (int g = 0; g < p->ngrads; g++)
    if (!h->packed[g])
      last_grad(s, g);
  if (h->nstarted != h->nb) { /* every bucket holds elements, all packed now */
    fprintf(stderr, "nnrt: internal error: %d of %d gradient buckets complete (shard.c)\n", h->nstarted, h->nb);
    abort();
  }
  char *sum = h->stack[0];
  double *stats = h->stats;
  if (nnrt_comm.size > 1) {
    exchange(h, sum, first);
    stats = h->all;
  }
  if (h->times)
    h->t_after += now() - t1, h->steps++;
  pack(s, sum, 0, true);
  h->pool[h->npool++] = h->last;
  while (h->depth > 0)
    h->pool[h->npool++] = h->stack[--h->depth];
  h->last = NULL;
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
