/*
 * conv.c — 2-D convolution (NCHW activations, OIHW weights, groups, stride,
 * zero padding, dilation) and its two adjoints, for generated kernels:
 * f32 through oneDNN's convolution primitives, f64 through direct loops
 * (oneDNN has no f64; those serve the f64 gradient checks).
 *
 * Primitives are cached: creating one costs far more than running a small
 * one, and a program calls the same few geometries every batch.  The cache
 * is a small table keyed by (kind, the whole NnrtConv), evicting the least
 * recently used entry.  Each entry's primitive is created with
 * dnnl_format_tag_any, letting oneDNN pick its blocked layouts (nChw16c /
 * nChw8c activations, OIhw16i16o-style weights) and with them its direct
 * JIT kernels: for LeNet's layers these run 2-6x faster than the gemm
 * (im2col) implementation it picks on plain nchw/oihw, reorders included.
 * Per argument the entry owns a plain memory object, pointed at the
 * caller's array on each call, and, where the primitive's layout differs,
 * a persistent buffer in that layout (nnrt_alloc'd at entry creation) and
 * a cached reorder primitive: inputs are reordered into the buffers before
 * the convolution, the output out of its buffer after it.  If oneDNN
 * cannot create the free-layout primitive, the entry uses plain layouts
 * (no buffers, no reorders).  All primitives, reorders included, run in
 * user-managed scratchpad mode; a call on a cached geometry allocates
 * nothing of ours.  A mutex guards the cache and everything it owns, so
 * calls from several threads are safe (and serialised).
 *
 * Threads and determinism: nnc promises the same bits for any --threads,
 * but oneDNN splits its work, and the backward-weights sums, by its thread
 * count.  So every primitive here is created for one thread, and a call is
 * split into up to CONV_SLOTS chunks of the batch by a rule that depends
 * on the batch size alone (conv_chunks); the chunks run in parallel on the
 * runtime's team (team.c; oneDNN single-threaded in each), each through
 * its own cached
 * primitive, buffers, scratchpad and stream (its "slot").  Forward and
 * backward-data chunks write disjoint samples; backward-weights chunk j
 * writes a partial sum (chunk 0 into the output, the others into per-slot
 * buffers) and the partials are added in chunk order afterwards.  Which
 * thread runs a chunk never changes what it computes, so any thread count
 * gives the bits of --threads 1 (tests/e2e: threads-conv; test_conv checks
 * 1 and 2 threads bit for bit).  oneDNN documents bit-identical run-to-run
 * results for a fixed machine, library and thread count except for
 * implementations built on atomics (2.6 has no attribute to exclude them);
 * for LeNet it picks jit:avx512_core / jit:avx2 convolutions and jit
 * reorders (DNNL_VERBOSE=1), whose single-thread runs are sequential.
 *
 * If oneDNN cannot create a primitive (no implementation, out of memory),
 * the f32 call falls back to the direct loops after one warning on stderr
 * rather than failing: kernels have no error channel.
 */
#include "internal.h"
#include <dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <string.h>

/* ---- direct loops (f64, and the f32 fallback) ------------------------- */

/* Input row iy = oy*sh - ph + ky*dh; the weight of output channel oc and
 * group-local input channel ic is w[((oc*cg + ic)*kh + ky)*kw + kx]. */
#define DIRECT_CONV(SUFFIX, T)                                                       \
  static void direct_fwd_##SUFFIX(const NnrtConv *g, T *y, const T *x, const T *w) { \
    const int64_t cg = g->c / g->groups, og = g->o / g->groups;                      \
    for (int64_t b = 0; b < g->n; b++)                                               \
      for (int64_t oc = 0; oc < g->o; oc++) {                                        \
        const int64_t c0 = oc / og * cg;                                             \
        T *yp = y + (b * g->o + oc) * g->oh * g->ow; /* (oh, ow) */                  \
        for (int64_t oy = 0; oy < g->oh; oy++)                                       \
          for (int64_t ox = 0; ox < g->ow; ox++) {                                   \
            T sum = 0;                                                               \
            for (int64_t ic = 0; ic < cg; ic++) {                                    \
              const T *xp = x + (b * g->c + c0 + ic) * g->h * g->w; /* (h, w) */     \
              const T *wp = w + (oc * cg + ic) * g->kh * g->kw;     /* (kh, kw) */   \
              for (int64_t ky = 0; ky < g->kh; ky++) {                               \
                const int64_t iy = oy * g->sh - g->ph + ky * g->dh;                  \
                if (iy < 0 || iy >= g->h)                                            \
                  continue;                                                          \
                for (int64_t kx = 0; kx < g->kw; kx++) {                             \
                  const int64_t ix = ox * g->sw - g->pw + kx * g->dw;                \
                  if (ix >= 0 && ix < g->w)                                          \
                    sum += xp[iy * g->w + ix] * wp[ky * g->kw + kx];                 \
                }                                                                    \
              }                                                                      \
            }                                                                        \
            yp[oy * g->ow + ox] = sum;                                               \
          }                                                                          \
      }                                                                              \
  }                                                                                  \
  /* The same index walk with the products scattered back. */                       \
  static void direct_bwd_##SUFFIX(const NnrtConv *g, T *dx, T *dw, const T *x,       \
                                  const T *dy, const T *w) {                         \
    const int64_t cg = g->c / g->groups, og = g->o / g->groups;                      \
    if (dx)                                                                          \
      memset(dx, 0, sizeof(T) * (size_t)(g->n * g->c * g->h * g->w));                \
    if (dw)                                                                          \
      memset(dw, 0, sizeof(T) * (size_t)(g->o * cg * g->kh * g->kw));                \
    for (int64_t b = 0; b < g->n; b++)                                               \
      for (int64_t oc = 0; oc < g->o; oc++) {                                        \
        const int64_t c0 = oc / og * cg;                                             \
        const T *dyp = dy + (b * g->o + oc) * g->oh * g->ow;                         \
        for (int64_t oy = 0; oy < g->oh; oy++)                                       \
          for (int64_t ox = 0; ox < g->ow; ox++) {                                   \
            const T d = dyp[oy * g->ow + ox];                                        \
            for (int64_t ic = 0; ic < cg; ic++) {                                    \
              const int64_t xo = (b * g->c + c0 + ic) * g->h * g->w;                 \
              const int64_t wo = (oc * cg + ic) * g->kh * g->kw;                     \
              for (int64_t ky = 0; ky < g->kh; ky++) {                               \
                const int64_t iy = oy * g->sh - g->ph + ky * g->dh;                  \
                if (iy < 0 || iy >= g->h)                                            \
                  continue;                                                          \
                for (int64_t kx = 0; kx < g->kw; kx++) {                             \
                  const int64_t ix = ox * g->sw - g->pw + kx * g->dw;                \
                  if (ix < 0 || ix >= g->w)                                          \
                    continue;                                                        \
                  if (dx)                                                            \
                    dx[xo + iy * g->w + ix] += d * w[wo + ky * g->kw + kx];          \
                  if (dw)                                                            \
                    dw[wo + ky * g->kw + kx] += d * x[xo + iy * g->w + ix];          \
                }                                                                    \
              }                                                                      \
            }                                                                        \
          }                                                                          \
      }                                                                              \
  }

DIRECT_CONV(f32, float)
DIRECT_CONV(f64, double)

void nnrt_conv2d_f64(const NnrtConv *g, double *y, const double *x, const double *w) {
  direct_fwd_f64(g, y, x, w);
}
void nnrt_conv2d_bwd_data_f64(const NnrtConv *g, double *dx, const double *dy, const double *w) {
  direct_bwd_f64(g, dx, NULL, NULL, dy, w);
}
void nnrt_conv2d_bwd_weights_f64(const NnrtConv *g, double *dw, const double *x, const double *dy) {
  direct_bwd_f64(g, NULL, dw, x, dy, NULL);
}

/* ---- oneDNN (f32) ------------------------------------------------------ */

typedef enum { CONV_FWD, CONV_BWD_DATA, CONV_BWD_WEIGHTS } ConvKind;

/* Arguments by role: FWD (src, weights, dst), BWD_DATA (diff_dst, weights,
 * diff_src), BWD_WEIGHTS (src, diff_dst, diff_weights) — the last is always
 * the output, matching the public argument order reversed.  user[i] is a
 * plain (nchw / oihw / goihw) memory object whose handle is pointed at the
 * caller's array on each call.  Where the primitive wants another layout,
 * mem[i] is a persistent buffer in that layout (buf[i], from nnrt_alloc)
 * and reorder[i] copies user -> mem before the convolution (inputs) or
 * mem -> user after it (the output); elsewhere mem[i] is user[i]. */
typedef struct ConvEntry {
  ConvKind kind;
  int slot; /* which chunk of a split call; owns that slot's scratchpad */
  NnrtConv g;
  dnnl_primitive_t prim; /* NULL: empty slot */
  dnnl_memory_t user[3];
  dnnl_memory_t mem[3];        /* == user[i] when no reorder */
  dnnl_primitive_t reorder[3]; /* NULL: none */
  void *buf[3];
  int arg[3];                  /* DNNL_ARG_* of mem[i] */
  uint64_t last_use;
} ConvEntry;

/* Chunks of one call: at most CONV_SLOTS, and at least 8 samples each so
 * that a chunk still fills oneDNN's kernels. */
#define CONV_SLOTS 4
#define CONV_CHUNK_MIN 8

/* Per geometry a program uses up to 3 kinds × 2 batch sizes (the last
 * partial batch) × CONV_SLOTS chunks; 256 covers ten conv layers. */
#define CONV_CACHE 256

/* What each slot owns besides its cache entries: all are used by one
 * thread at a time (the one running that chunk). */
typedef struct ConvSlot {
  dnnl_stream_t stream;
  void *scratch; /* user-managed scratchpad of the slot's primitives */
  size_t scratch_bytes;
  dnnl_memory_t scratch_mem; /* NULL when no primitive needs scratchpad */
  float *partial;            /* backward-weights partial sum (slots > 0) */
  size_t partial_bytes;
} ConvSlot;

static pthread_mutex_t conv_lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static bool dnnl_broken; /* engine creation failed: always use the loops */
static ConvEntry cache[CONV_CACHE];
static ConvSlot slots[CONV_SLOTS];
static uint64_t use_clock;
static bool warned;

/* How many chunks a batch of n is split into: a function of n only. */
static int conv_chunks(int64_t n) {
  int64_t k = n / CONV_CHUNK_MIN;
  return k < 1 ? 1 : k > CONV_SLOTS ? CONV_SLOTS : (int)k;
}

/* Chunk j of k over n samples: the first n % k chunks take one more. */
static void chunk_range(int64_t n, int k, int j, int64_t *start, int64_t *size) {
  int64_t base = n / k, extra = n % k;
  *start = j * base + (j < extra ? j : extra);
  *size = base + (j < extra);
}

static void warn_fallback(const char *why) {
  if (!warned)
    fprintf(stderr, "warning: oneDNN convolution unavailable (%s); using direct loops\n", why);
  warned = true;
}

static bool ensure_engine(void) {
  if (engine || dnnl_broken)
    return !dnnl_broken;
  bool ok = dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success;
  for (int j = 0; ok && j < CONV_SLOTS; j++)
    ok = dnnl_stream_create(&slots[j].stream, engine, dnnl_stream_default_flags) == dnnl_success;
  if (!ok) {
    dnnl_broken = true;
    warn_fallback("engine");
  }
  return !dnnl_broken;
}

static void entry_free(ConvEntry *e) {
  for (int i = 0; i < 3; i++) {
    if (e->reorder[i])
      dnnl_primitive_destroy(e->reorder[i]);
    if (e->mem[i] && e->mem[i] != e->user[i])
      dnnl_memory_destroy(e->mem[i]);
    if (e->user[i])
      dnnl_memory_destroy(e->user[i]);
    nnrt_free(e->buf[i]);
  }
  if (e->prim)
    dnnl_primitive_destroy(e->prim);
  memset(e, 0, sizeof *e);
}

/* The memory descriptors of g by role (src, weights, dst), activations in
 * layout `act`: dnnl_nchw gives the plain ones (and oihw / goihw weights);
 * anything else leaves the weights' layout to oneDNN (dnnl_format_tag_any). */
enum { ROLE_SRC, ROLE_WEI, ROLE_DST };
static dnnl_status_t conv_mds(dnnl_memory_desc_t md[3], const NnrtConv *g,
                              dnnl_format_tag_t act) {
  const bool any = act != dnnl_nchw;
  dnnl_dims_t sd = {g->n, g->c, g->h, g->w}, dd = {g->n, g->o, g->oh, g->ow};
  dnnl_dims_t gwd = {g->groups, g->o / g->groups, g->c / g->groups, g->kh, g->kw};
  dnnl_dims_t wd = {g->o, g->c, g->kh, g->kw};
  dnnl_status_t s;
  if ((s = dnnl_memory_desc_init_by_tag(&md[ROLE_SRC], 4, sd, dnnl_f32, act)) ||
      (s = dnnl_memory_desc_init_by_tag(&md[ROLE_DST], 4, dd, dnnl_f32, act)))
    return s;
  if (g->groups > 1)
    return dnnl_memory_desc_init_by_tag(&md[ROLE_WEI], 5, gwd, dnnl_f32,
                                        any ? dnnl_format_tag_any : dnnl_goihw);
  return dnnl_memory_desc_init_by_tag(&md[ROLE_WEI], 4, wd, dnnl_f32,
                                      any ? dnnl_format_tag_any : dnnl_oihw);
}

/* The operation descriptor of one kind.  oneDNN counts dilation from 0
 * (d - 1) and wants an explicit right padding; the tight one below may be
 * negative (down to 1 - stride) when the last window stops short of the
 * edge, which oneDNN accepts. */
static dnnl_status_t conv_desc(dnnl_convolution_desc_t *d, ConvKind kind, const NnrtConv *g,
                               dnnl_format_tag_t act) {
  dnnl_memory_desc_t md[3];
  dnnl_dims_t strides = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1}, pl = {g->ph, g->pw};
  dnnl_dims_t pr = {(g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1 - g->h - g->ph,
                    (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1 - g->w - g->pw};
  dnnl_status_t s;
  if ((s = conv_mds(md, g, act)))
    return s;
  const dnnl_memory_desc_t *src = &md[ROLE_SRC], *wei = &md[ROLE_WEI], *dst = &md[ROLE_DST];
  switch (kind) {
  case CONV_FWD:
    return dnnl_dilated_convolution_forward_desc_init(d, dnnl_forward_training,
                                                      dnnl_convolution_direct, src, wei, NULL,
                                                      dst, strides, dil, pl, pr);
  case CONV_BWD_DATA:
    return dnnl_dilated_convolution_backward_data_desc_init(d, dnnl_convolution_direct, src,
                                                            wei, dst, strides, dil, pl, pr);
  case CONV_BWD_WEIGHTS:
    return dnnl_dilated_convolution_backward_weights_desc_init(
        d, dnnl_convolution_direct, src, wei, NULL, dst, strides, dil, pl, pr);
  }
  return dnnl_invalid_arguments;
}

/* The primitive descriptor of one kind; backward ones need a forward one as
 * a hint, made here (with the same layout freedom) and dropped. */
static dnnl_status_t conv_pd(dnnl_primitive_desc_t *pd, ConvKind kind, const NnrtConv *g,
                             const_dnnl_primitive_attr_t attr, dnnl_format_tag_t act) {
  dnnl_convolution_desc_t d, fd;
  dnnl_primitive_desc_t hint = NULL;
  dnnl_status_t s;
  if ((s = conv_desc(&d, kind, g, act)))
    return s;
  if (kind != CONV_FWD) {
    if ((s = conv_desc(&fd, CONV_FWD, g, act)) ||
        (s = dnnl_primitive_desc_create(&hint, &fd, attr, engine, NULL)))
      return s;
  }
  s = dnnl_primitive_desc_create(pd, &d, attr, engine, hint);
  if (hint)
    dnnl_primitive_desc_destroy(hint);
  return s;
}

/* Grow a slot's scratchpad to `bytes`; the old block is no longer in use
 * (calls are serialised, and entries are made outside parallel regions). */
static bool scratch_reserve(ConvSlot *sl, size_t bytes) {
  if (bytes <= sl->scratch_bytes)
    return true;
  void *p = nnrt_alloc(bytes, "convolution scratchpad");
  if (!p)
    return false;
  dnnl_memory_desc_t md;
  dnnl_dims_t dims = {(dnnl_dim_t)bytes};
  dnnl_memory_t m;
  if (dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_u8, dnnl_a) ||
      dnnl_memory_create(&m, &md, engine, p)) {
    nnrt_free(p);
    return false;
  }
  if (sl->scratch_mem)
    dnnl_memory_destroy(sl->scratch_mem);
  nnrt_free(sl->scratch);
  sl->scratch = p;
  sl->scratch_bytes = bytes;
  sl->scratch_mem = m;
  return true;
}

/* Argument i of e: the plain view of the caller's array and, where the
 * primitive's layout `md` differs, a buffer in that layout and a reorder. */
static bool entry_arg(ConvEntry *e, int i, const dnnl_memory_desc_t *plain,
                      const dnnl_memory_desc_t *md, const_dnnl_primitive_attr_t attr) {
  if (dnnl_memory_create(&e->user[i], plain, engine, DNNL_MEMORY_NONE))
    return false;
  if (dnnl_memory_desc_equal(plain, md)) {
    e->mem[i] = e->user[i];
    return true;
  }
  size_t bytes = dnnl_memory_desc_get_size(md);
  if (!(e->buf[i] = nnrt_alloc(bytes ? bytes : 1, "convolution buffer")) ||
      dnnl_memory_create(&e->mem[i], md, engine, e->buf[i]))
    return false;
  bool out = i == 2;
  dnnl_primitive_desc_t rpd;
  if (dnnl_reorder_primitive_desc_create(&rpd, out ? md : plain, engine, out ? plain : md, engine,
                                         attr))
    return false;
  const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(rpd, dnnl_query_scratchpad_md, 0);
  bool ok = scratch_reserve(&slots[e->slot], sp ? dnnl_memory_desc_get_size(sp) : 0) &&
            !dnnl_primitive_create(&e->reorder[i], rpd);
  dnnl_primitive_desc_destroy(rpd);
  return ok;
}

static bool entry_create(ConvEntry *e, ConvKind kind, const NnrtConv *g, int slot) {
  static const int args[3][3] = {
      {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
      {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
      {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS},
  };
  static const int roles[3][3] = {
      {ROLE_SRC, ROLE_WEI, ROLE_DST},
      {ROLE_DST, ROLE_WEI, ROLE_SRC},
      {ROLE_SRC, ROLE_DST, ROLE_WEI},
  };
  dnnl_primitive_attr_t attr;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_memory_desc_t plain[3];
  if (dnnl_primitive_attr_create(&attr))
    return false;
  bool ok = !dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) &&
            !conv_mds(plain, g, dnnl_nchw);
  /* Layouts of oneDNN's choosing; the plain ones if that fails.  Except for
   * the weight gradient of a layer with 2-15 (or 17-31, ...) input channels:
   * with free layouts oneDNN 2.6 picks channel blocks of 8 and its AVX2
   * kernel there, with channels-last activations its AVX-512 one, 2-3x
   * faster for LeNet's second convolution (bench/analysis.md).  A rule of
   * the geometry alone, so the choice never varies from run to run. */
  const dnnl_format_tag_t tries[3] = {
      kind == CONV_BWD_WEIGHTS && g->c > 1 && g->c % 16 ? dnnl_nhwc : dnnl_format_tag_any,
      dnnl_format_tag_any, dnnl_nchw};
  bool made = false;
  for (int t = 0; ok && !made && t < 3; t++)
    made = (t == 0 || tries[t] != tries[t - 1]) && !conv_pd(&pd, kind, g, attr, tries[t]);
  if (!made)
    pd = NULL; /* a failed attempt may leave anything there */
  ok = ok && made;
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->slot = slot;
  e->g = *g;
  if (ok) {
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    ok = scratch_reserve(&slots[slot], sp ? dnnl_memory_desc_get_size(sp) : 0);
  }
  for (int i = 0; ok && i < 3; i++) {
    int a = args[kind][i];
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, a);
    e->arg[i] = a;
    ok = md && entry_arg(e, i, &plain[roles[kind][i]], md, attr);
  }
  ok = ok && !dnnl_primitive_create(&e->prim, pd);
  if (pd)
    dnnl_primitive_desc_destroy(pd);
  dnnl_primitive_attr_destroy(attr);
  if (!ok)
    entry_free(e);
  return ok;
}

/* The cached entry for (kind, g, slot), made on a miss; NULL if oneDNN
 * cannot.  Call with one OpenMP thread: primitives fix their thread split
 * when they are created. */
static ConvEntry *entry_get(ConvKind kind, const NnrtConv *g, int slot) {
  ConvEntry *victim = &cache[0];
  for (int i = 0; i < CONV_CACHE; i++) {
    ConvEntry *e = &cache[i];
    if (e->prim && e->kind == kind && e->slot == slot && !memcmp(&e->g, g, sizeof *g)) {
      e->last_use = ++use_clock;
      return e;
    }
    if (!e->prim || (victim->prim && e->last_use < victim->last_use))
      victim = e;
  }
  if (victim->prim)
    entry_free(victim);
  if (!entry_create(victim, kind, g, slot)) {
    warn_fallback("primitive creation");
    return NULL;
  }
  victim->last_use = ++use_clock;
  return victim;
}

/* One primitive on (arg, mem) pairs plus the slot's scratchpad. */
static bool exec(const ConvSlot *sl, dnnl_primitive_t p, int n, const int *arg,
                 dnnl_memory_t const *mem) {
  dnnl_exec_arg_t args[4];
  int k = 0;
  for (int i = 0; i < n; i++)
    args[k++] = (dnnl_exec_arg_t){arg[i], mem[i]};
  if (sl->scratch_mem)
    args[k++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, sl->scratch_mem};
  return !dnnl_primitive_execute(p, sl->stream, k, args);
}

/* Run one entry on a = input, b = input, out = output (the mem[] order). */
static bool entry_run(ConvEntry *e, const void *a, const void *b, void *out) {
  static const int reorder_args[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
  const ConvSlot *sl = &slots[e->slot];
  void *ptr[3] = {(void *)a, (void *)b, out};
  bool ok = true;
  for (int i = 0; i < 3; i++)
    ok = ok && !dnnl_memory_set_data_handle(e->user[i], ptr[i]);
  for (int i = 0; ok && i < 2; i++)
    if (e->reorder[i])
      ok = exec(sl, e->reorder[i], 2, reorder_args, (dnnl_memory_t[]){e->user[i], e->mem[i]});
  ok = ok && exec(sl, e->prim, 3, e->arg, e->mem);
  if (ok && e->reorder[2])
    ok = exec(sl, e->reorder[2], 2, reorder_args, (dnnl_memory_t[]){e->mem[2], e->user[2]});
  return ok && !dnnl_stream_wait(sl->stream);
}

/* Elements per sample of the batched arguments by kind, in the mem[]
 * order (0: not batched — the weights). */
static void per_sample(ConvKind kind, const NnrtConv *g, int64_t per[3]) {
  const int64_t in = g->c * g->h * g->w, out = g->o * g->oh * g->ow;
  switch (kind) {
  case CONV_FWD: per[0] = in, per[1] = 0, per[2] = out; break;
  case CONV_BWD_DATA: per[0] = out, per[1] = 0, per[2] = in; break;
  case CONV_BWD_WEIGHTS: per[0] = in, per[1] = out, per[2] = 0; break;
  }
}

/* One call's chunks, for the team (team.c). */
typedef struct {
  ConvEntry **e;
  ConvKind kind;
  const NnrtConv *g;
  const float *a, *b;
  float *out;
  int64_t per[3];
  int k;
  _Atomic int failed;
} ConvJob;

static void conv_chunk(void *ctx, int64_t j) {
  ConvJob *job = ctx;
  int64_t start, size;
  chunk_range(job->g->n, job->k, (int)j, &start, &size);
  float *dst = job->kind == CONV_BWD_WEIGHTS && j > 0 ? slots[j].partial : job->out + start * job->per[2];
  if (!entry_run(job->e[j], job->a + start * job->per[0], job->b + start * job->per[1], dst))
    job->failed = 1;
}

/* Run (kind, g) on a = input, b = input, out = output (the mem[] order),
 * split into chunks of the batch as the header describes, on the runtime's
 * team (team.c: a hand-over costs ~1 µs while a worker spins, so even
 * LeNet-5's 7.5M multiply-add convolutions are split). */
static bool run_dnnl(ConvKind kind, const NnrtConv *g, const float *a, const float *b,
                     float *out) {
  pthread_mutex_lock(&conv_lock);
  const int threads = omp_get_max_threads(), k = conv_chunks(g->n);
  const int64_t wbytes = (int64_t)sizeof(float) * g->o * (g->c / g->groups) * g->kh * g->kw;
  ConvEntry *e[CONV_SLOTS] = {0};
  omp_set_num_threads(1);
  bool ok = ensure_engine();
  for (int j = 0; ok && j < k; j++) {
    NnrtConv sub = *g;
    int64_t start;
    chunk_range(g->n, k, j, &start, &sub.n);
    ok = (e[j] = entry_get(kind, &sub, j)) != NULL;
    ConvSlot *sl = &slots[j];
    if (ok && kind == CONV_BWD_WEIGHTS && j > 0 && sl->partial_bytes < (size_t)wbytes) {
      nnrt_free(sl->partial);
      sl->partial_bytes = 0;
      ok = (sl->partial = nnrt_alloc((size_t)wbytes, "convolution partial sums")) != NULL;
      sl->partial_bytes = ok ? (size_t)wbytes : 0;
    }
  }
  if (ok) {
    ConvJob job = {.e = e, .kind = kind, .g = g, .a = a, .b = b, .out = out, .k = k};
    per_sample(kind, g, job.per);
    nnrt_team_run(conv_chunk, &job, k);
    ok = !job.failed;
    /* The partial weight gradients, added in chunk order. */
    const int64_t nw = wbytes / (int64_t)sizeof(float);
    for (int j = 1; ok && kind == CONV_BWD_WEIGHTS && j < k; j++) {
      const float *p = slots[j].partial;
      for (int64_t i = 0; i < nw; i++)
        out[i] += p[i];
    }
    if (!ok)
      warn_fallback("execution");
  }
  omp_set_num_threads(threads);
  pthread_mutex_unlock(&conv_lock);
  return ok;
}

/* Shapes with no elements on some side: oneDNN rejects zero dims, and the
 * answer is all zeros (or nothing) anyway.  Returns true when handled. */
static bool conv_empty(const NnrtConv *g, float *out, int64_t count) {
  if (g->n > 0 && g->c > 0 && g->h > 0 && g->w > 0 && g->o > 0 && g->oh > 0 && g->ow > 0)
    return false;
  if (count > 0)
    memset(out, 0, sizeof(float) * (size_t)count);
  return true;
}

void nnrt_conv2d_f32(const NnrtConv *g, float *y, const float *x, const float *w) {
  if (conv_empty(g, y, g->n * g->o * g->oh * g->ow) || run_dnnl(CONV_FWD, g, x, w, y))
    return;
  direct_fwd_f32(g, y, x, w);
}

void nnrt_conv2d_bwd_data_f32(const NnrtConv *g, float *dx, const float *dy, const float *w) {
  if (conv_empty(g, dx, g->n * g->c * g->h * g->w) || run_dnnl(CONV_BWD_DATA, g, dy, w, dx))
    return;
  direct_bwd_f32(g, dx, NULL, NULL, dy, w);
}

void nnrt_conv2d_bwd_weights_f32(const NnrtConv *g, float *dw, const float *x, const float *dy) {
  if (conv_empty(g, dw, g->o * (g->groups ? g->c / g->groups : 0) * g->kh * g->kw) ||
      run_dnnl(CONV_BWD_WEIGHTS, g, x, dy, dw))
    return;
  direct_bwd_f32(g, NULL, dw, x, dy, NULL);
}
