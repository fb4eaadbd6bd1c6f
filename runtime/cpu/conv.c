/*
 * conv.c — 2-D convolution (NCHW activations, OIHW weights, groups, stride,
 * zero padding, dilation) and its two adjoints, for generated kernels:
 * f32 through oneDNN's convolution primitives, f64 through direct loops
 * (oneDNN has no f64; those serve the f64 gradient checks).
 *
 * Primitives are cached: creating one costs far more than running a small
 * one, and a program calls the same few geometries every batch.  The cache
 * is a small table keyed by (kind, the whole NnrtConv), evicting the least
 * recently used entry; each entry owns its primitive and three memory
 * objects created without buffers, whose handles are pointed at the
 * caller's arrays on each call.  The memory descriptors are plain nchw /
 * oihw (goihw for groups > 1, the same bytes), so nothing is reordered.
 * Primitives run in user-managed scratchpad mode out of one buffer shared
 * by all entries, grown through nnrt_alloc when an entry is created; a call
 * on a cached geometry allocates nothing of ours.  A mutex guards the
 * cache, the shared scratchpad and the memory objects, so calls from
 * several threads are safe (and serialised).
 *
 * Determinism: oneDNN documents bit-identical run-to-run results for a
 * fixed environment (machine/ISA, library version, thread count), except
 * for implementations built on atomics; 3.4 added a "deterministic"
 * attribute to exclude those, 2.6 has none.  On plain layouts 2.6 picks
 * x64:gemm:jit for all three directions (DNNL_VERBOSE=1), which splits work
 * statically over threads and sums per-thread weight gradients in a fixed
 * order, so equal inputs and thread counts give equal bits; test_conv
 * checks a repeated backward-weights call bit for bit.  A different thread
 * count or CPU may change the last bits.
 *
 * If oneDNN cannot create a primitive (no implementation, out of memory),
 * the f32 call falls back to the direct loops after one warning on stderr
 * rather than failing: kernels have no error channel.
 */
#include "internal.h"
#include <dnnl.h>
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

/* Memory objects by role: FWD (src, weights, dst), BWD_DATA (diff_dst,
 * weights, diff_src), BWD_WEIGHTS (src, diff_dst, diff_weights) — the last
 * is always the output, matching the public argument order reversed. */
typedef struct ConvEntry {
  ConvKind kind;
  NnrtConv g;
  dnnl_primitive_t prim; /* NULL: empty slot */
  dnnl_memory_t mem[3];
  int arg[3];            /* DNNL_ARG_* of mem[i] */
  uint64_t last_use;
} ConvEntry;

/* Per geometry a program uses up to 3 kinds × 2 batch sizes (the last
 * partial batch); 64 covers ten conv layers. */
#define CONV_CACHE 64

static pthread_mutex_t conv_lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static bool dnnl_broken; /* engine creation failed: always use the loops */
static ConvEntry cache[CONV_CACHE];
static uint64_t use_clock;
static void *scratch;    /* shared user-managed scratchpad */
static size_t scratch_bytes;
static dnnl_memory_t scratch_mem; /* NULL when no primitive needs scratchpad */
static bool warned;

static void warn_fallback(const char *why) {
  if (!warned)
    fprintf(stderr, "warning: oneDNN convolution unavailable (%s); using direct loops\n", why);
  warned = true;
}

static bool ensure_engine(void) {
  if (engine || dnnl_broken)
    return !dnnl_broken;
  if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success ||
      dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) {
    dnnl_broken = true;
    warn_fallback("engine");
  }
  return !dnnl_broken;
}

static void entry_free(ConvEntry *e) {
  for (int i = 0; i < 3; i++)
    if (e->mem[i])
      dnnl_memory_destroy(e->mem[i]);
  if (e->prim)
    dnnl_primitive_destroy(e->prim);
  memset(e, 0, sizeof *e);
}

/* The operation descriptor of one kind.  oneDNN counts dilation from 0
 * (d - 1) and wants an explicit right padding; the tight one below may be
 * negative (down to 1 - stride) when the last window stops short of the
 * edge, which oneDNN accepts. */
static dnnl_status_t conv_desc(dnnl_convolution_desc_t *d, ConvKind kind, const NnrtConv *g) {
  dnnl_memory_desc_t src, wei, dst;
  dnnl_dims_t sd = {g->n, g->c, g->h, g->w}, dd = {g->n, g->o, g->oh, g->ow};
  dnnl_dims_t gwd = {g->groups, g->o / g->groups, g->c / g->groups, g->kh, g->kw};
  dnnl_dims_t wd = {g->o, g->c, g->kh, g->kw};
  dnnl_dims_t strides = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1}, pl = {g->ph, g->pw};
  dnnl_dims_t pr = {(g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1 - g->h - g->ph,
                    (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1 - g->w - g->pw};
  dnnl_status_t s;
  if ((s = dnnl_memory_desc_init_by_tag(&src, 4, sd, dnnl_f32, dnnl_nchw)) ||
      (s = dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_f32, dnnl_nchw)))
    return s;
  if (g->groups > 1)
    s = dnnl_memory_desc_init_by_tag(&wei, 5, gwd, dnnl_f32, dnnl_goihw);
  else
    s = dnnl_memory_desc_init_by_tag(&wei, 4, wd, dnnl_f32, dnnl_oihw);
  if (s)
    return s;
  switch (kind) {
  case CONV_FWD:
    return dnnl_dilated_convolution_forward_desc_init(d, dnnl_forward_training,
                                                      dnnl_convolution_direct, &src, &wei, NULL,
                                                      &dst, strides, dil, pl, pr);
  case CONV_BWD_DATA:
    return dnnl_dilated_convolution_backward_data_desc_init(d, dnnl_convolution_direct, &src,
                                                            &wei, &dst, strides, dil, pl, pr);
  case CONV_BWD_WEIGHTS:
    return dnnl_dilated_convolution_backward_weights_desc_init(
        d, dnnl_convolution_direct, &src, &wei, NULL, &dst, strides, dil, pl, pr);
  }
  return dnnl_invalid_arguments;
}

/* The primitive descriptor of one kind; backward ones need a forward one as
 * a hint, made here and dropped. */
static dnnl_status_t conv_pd(dnnl_primitive_desc_t *pd, ConvKind kind, const NnrtConv *g,
                             const_dnnl_primitive_attr_t attr) {
  dnnl_convolution_desc_t d, fd;
  dnnl_primitive_desc_t hint = NULL;
  dnnl_status_t s;
  if ((s = conv_desc(&d, kind, g)))
    return s;
  if (kind != CONV_FWD) {
    if ((s = conv_desc(&fd, CONV_FWD, g)) ||
        (s = dnnl_primitive_desc_create(&hint, &fd, attr, engine, NULL)))
      return s;
  }
  s = dnnl_primitive_desc_create(pd, &d, attr, engine, hint);
  if (hint)
    dnnl_primitive_desc_destroy(hint);
  return s;
}

/* Grow the shared scratchpad to `bytes`; the old block is no longer in use
 * (calls are serialised). */
static bool scratch_reserve(size_t bytes) {
  if (bytes <= scratch_bytes)
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
  if (scratch_mem)
    dnnl_memory_destroy(scratch_mem);
  nnrt_free(scratch);
  scratch = p;
  scratch_bytes = bytes;
  scratch_mem = m;
  return true;
}

static bool entry_create(ConvEntry *e, ConvKind kind, const NnrtConv *g) {
  static const int args[3][3] = {
      {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
      {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
      {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS},
  };
  dnnl_primitive_attr_t attr;
  dnnl_primitive_desc_t pd = NULL;
  if (dnnl_primitive_attr_create(&attr))
    return false;
  bool ok = !dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) &&
            !conv_pd(&pd, kind, g, attr);
  dnnl_primitive_attr_destroy(attr);
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->g = *g;
  if (ok) {
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    ok = scratch_reserve(sp ? dnnl_memory_desc_get_size(sp) : 0);
  }
  for (int i = 0; ok && i < 3; i++) {
    int a = args[kind][i];
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, a);
    e->arg[i] = a;
    ok = md && !dnnl_memory_create(&e->mem[i], md, engine, DNNL_MEMORY_NONE);
  }
  ok = ok && !dnnl_primitive_create(&e->prim, pd);
  if (pd)
    dnnl_primitive_desc_destroy(pd);
  if (!ok)
    entry_free(e);
  return ok;
}

/* The cached entry for (kind, g), made on a miss; NULL if oneDNN cannot. */
static ConvEntry *entry_get(ConvKind kind, const NnrtConv *g) {
  ConvEntry *victim = &cache[0];
  for (int i = 0; i < CONV_CACHE; i++) {
    ConvEntry *e = &cache[i];
    if (e->prim && e->kind == kind && !memcmp(&e->g, g, sizeof *g)) {
      e->last_use = ++use_clock;
      return e;
    }
    if (!e->prim || (victim->prim && e->last_use < victim->last_use))
      victim = e;
  }
  if (victim->prim)
    entry_free(victim);
  if (!entry_create(victim, kind, g)) {
    warn_fallback("primitive creation");
    return NULL;
  }
  victim->last_use = ++use_clock;
  return victim;
}

/* Run (kind, g) on a = input, b = input, out = output (the mem[] order). */
static bool run_dnnl(ConvKind kind, const NnrtConv *g, const void *a, const void *b, void *out) {
  bool ok = false;
  pthread_mutex_lock(&conv_lock);
  ConvEntry *e = ensure_engine() ? entry_get(kind, g) : NULL;
  if (e) {
    void *ptr[3] = {(void *)a, (void *)b, out};
    dnnl_exec_arg_t args[4];
    int nargs = 0;
    for (int i = 0; i < 3; i++) {
      dnnl_memory_set_data_handle(e->mem[i], ptr[i]);
      args[nargs++] = (dnnl_exec_arg_t){e->arg[i], e->mem[i]};
    }
    if (scratch_mem)
      args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scratch_mem};
    ok = !dnnl_primitive_execute(e->prim, stream, nargs, args) && !dnnl_stream_wait(stream);
    if (!ok)
      warn_fallback("execution");
  }
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
