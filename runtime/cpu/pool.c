/*
 * pool.c — 2-D max and average pooling over NCHW and their adjoints: one
 * (n, c) plane at a time, output rows outer.
 *
 * Forward pooling vectorises across the output columns of a row: the
 * "interior" columns (windows wholly inside the row) are updated by one
 * pass per window element (ky, kx) in row-major order, a branch-free
 * select over the columns, so every window still sees its elements in the
 * order of the plain loop and gives the same bits (the same first maximum,
 * the same sum order).  2x2 stride-2 max pooling fuses the four passes into
 * one (NaN-free rows; a row holding a NaN is redone by passes).  Edge
 * columns and the adjoints are plain loops.
 *
 * Window (oy, ox) covers input rows oy*sh - ph .. + kh-1 and columns
 * ox*sw - pw .. + kw-1; positions outside the plane are padding.
 *   - Max pooling ignores padding (it never wins) and records the first
 *     maximum in row-major window order as a flat index iy*w + ix within
 *     the plane.  A NaN wins over everything (the first NaN), so a
 *     diverged input shows in the output.  A window lying wholly in padding
 *     would give -inf and index -1; that cannot happen when ph < kh and
 *     pw < kw (the first window reaches row kh-1-ph >= 0, the last starts at
 *     row <= h + ph - kh < h), which the compiler guarantees.
 *   - unpool2d / gather2d skip index -1 (gather gives 0 there).  unpool
 *     adds: overlapping windows (stride < kernel) may share an index.
 *   - Average pooling counts padding as zeros: the divisor is always kh*kw.
 *
 * The idx array is laid out like y: (n, c, oh, ow).  Large 2x2/2 max
 * pooling, unpool and gather split their planes (rows) among the OpenMP
 * threads; what a plane gets never depends on the thread, so results are
 * the same for any thread count.  Nothing here allocates.
 */
#include "internal.h"
#include <math.h>

/* Below this many outputs the work stays on the calling thread: at ~1 ns
 * an output, half of it must beat the team's hand-over (team.c, ~1 µs
 * while a worker spins, tens of µs when it sleeps).  Rows and planes are
 * independent, so how many parts a call is split into never changes a
 * result.  (With OpenMP's 40-80 µs wake-up this was 262144 outputs.) */
#define POOL_SPLIT_MIN 16384

/* Parts for `work` outputs over `items` independent rows or planes. */
static int64_t pool_parts(int64_t work, int64_t items) {
  int64_t parts = work < POOL_SPLIT_MIN ? 1 : nnrt_team_size();
  return parts < items ? parts : items < 1 ? 1 : items;
}

/* The runtime is built for any x86-64.  The 2x2 stride-2 f32 row below
 * also comes as an AVX-512 kernel, picked at run time by CPU: rows of
 * LeNet's pooling layers are 14 and 5 columns, shorter than the vector the
 * compiler's own loop waits for, so it would run them scalar.  The kernel
 * does the plain loop's compares and selects in the same order, lanes
 * masked past the row's end: the same bits as the portable loop. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define POOL_AVX512 1
static inline __attribute__((always_inline, target("avx512f"))) bool max_win22_avx512(float *y, int32_t *idx,
                                                                const float *r0,
                                                                const float *r1, int32_t base,
                                                                int32_t w, int64_t n) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
  __mmask16 nan = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t left = n - i < 16 ? n - i : 16;
    const __mmask16 m = (__mmask16)((1u << left) - 1);
    const __mmask16 mlo = (__mmask16)(left >= 8 ? 0xFFFF : (1u << (2 * left)) - 1);
    const __mmask16 mhi = (__mmask16)(left <= 8 ? 0 : (1u << (2 * (left - 8))) - 1);
    const __m512 t0 = _mm512_maskz_loadu_ps(mlo, r0 + 2 * i), t1 = _mm512_maskz_loadu_ps(mhi, r0 + 2 * i + 16);
    const __m512 b0 = _mm512_maskz_loadu_ps(mlo, r1 + 2 * i), b1 = _mm512_maskz_loadu_ps(mhi, r1 + 2 * i + 16);
    const __m512 v[4] = {_mm512_permutex2var_ps(t0, even, t1), _mm512_permutex2var_ps(t0, odd, t1),
                         _mm512_permutex2var_ps(b0, even, b1), _mm512_permutex2var_ps(b0, odd, b1)};
    const __m512i at = _mm512_add_epi32(_mm512_set1_epi32(base + 2 * (int32_t)i), lane2);
    const __m512i off[4] = {at, _mm512_add_epi32(at, _mm512_set1_epi32(1)),
                            _mm512_add_epi32(at, _mm512_set1_epi32(w)),
                            _mm512_add_epi32(at, _mm512_set1_epi32(w + 1))};
    __m512 b = _mm512_set1_ps(-INFINITY);
    __m512i a = _mm512_set1_epi32(-1);
    for (int k = 0; k < 4; k++) {
      const __mmask16 take = _mm512_cmp_ps_mask(v[k], b, _CMP_GT_OQ);
      b = _mm512_mask_mov_ps(b, take, v[k]);
      a = _mm512_mask_mov_epi32(a, take, off[k]);
      nan |= _mm512_cmp_ps_mask(v[k], v[k], _CMP_UNORD_Q);
    }
    _mm512_mask_storeu_ps(y + i, m, b);
    _mm512_mask_storeu_epi32(idx + i, m, a);
  }
  return !(nan & 0xFFFF);
}
static bool have_avx512(void) {
  static int have = -1;
  if (have < 0)
    have = __builtin_cpu_supports("avx512f");
  return have;
}

static void max_window_f32(const NnrtPool *g, const float *xp, int64_t oy, int64_t ox, float *y,
                           int32_t *idx); /* below, from POOL */

/* Output rows r0..r1 of the whole tensor (see max22_all), the row's plane
 * and window row followed incrementally: LeNet's second pooling has rows
 * of 5 columns, where a division and a call per row cost as much as the
 * row itself. */
__attribute__((target("avx512f"))) static void max22_rows_avx512(const NnrtPool *g, float *y,
                                                                 int32_t *idx, const float *x,
                                                                 int64_t r0, int64_t r1) {
  const int64_t w = g->w, ow = g->ow, oh = g->oh;
  int64_t oy = r0 % oh;
  for (int64_t r = r0; r < r1; r++) {
    const float *in = x + 2 * r * w;
    if (!max_win22_avx512(y + r * ow, idx + r * ow, in, in + w, (int32_t)(2 * oy * w),
                          (int32_t)w, ow))
      for (int64_t ox = 0; ox < ow; ox++) /* a NaN: the plain way */
        max_window_f32(g, x + r / oh * g->h * w, oy, ox, y + r * ow + ox, idx + r * ow + ox);
    oy = oy + 1 == oh ? 0 : oy + 1;
  }
}
#endif
#include <stdbool.h>
#include <string.h>

/* The columns whose windows lie wholly inside a row of width w: ox in
 * [*lo, *hi), 0 <= lo <= hi <= ow; the rest are edge columns. */
static void interior(int64_t w, int64_t ow, int64_t k, int64_t s, int64_t p, int64_t *lo,
                     int64_t *hi) {
  int64_t l = (p + s - 1) / s, h = w - k + p >= 0 ? (w - k + p) / s + 1 : 0;
  l = l < ow ? l : ow;
  h = h < ow ? h : ow;
  *lo = l;
  *hi = h > l ? h : l;
}

/* One pass of window element (ky, kx) over n interior columns: their
 * running maximum (with the plain loop's test, written branch-free:
 * greater, or the first NaN) or sum. */
#define POOL_ROWS(SUFFIX, T)                                                          \
  static inline __attribute__((always_inline)) void max_pass_##SUFFIX(                \
      T *restrict best, int32_t *restrict at, const T *restrict row, int32_t base,     \
      int64_t n, int64_t sw) {                                                        \
    for (int64_t i = 0; i < n; i++) {                                                 \
      const T v = row[i * sw], b = best[i];                                           \
      const int take = (v > b) | ((v != v) & (b == b));                               \
      best[i] = take ? v : b;                                                         \
      at[i] = take ? base + (int32_t)(i * sw) : at[i];                                \
    }                                                                                 \
  }                                                                                   \
  static inline __attribute__((always_inline)) void sum_pass_##SUFFIX(                \
      T *restrict sum, const T *restrict row, int64_t n, int64_t sw) {                \
    for (int64_t i = 0; i < n; i++)                                                   \
      sum[i] += row[i * sw];                                                          \
  }                                                                                   \
  /* The 2x2 stride-2 window (the usual one) in one pass over columns, rows r0  \
   * and r1 = r0 + w inside the plane: the four steps of the plain loop in      \
   * row-major order, vectorised across columns.  Without NaNs the NaN rule     \
   * never fires, so the pass only compares and notes whether any NaN was      \
   * seen; false: there was one, redo the row the plain way. */                \
  static inline __attribute__((always_inline)) bool max_win22_##SUFFIX(T *restrict y, int32_t *restrict idx,                \
                                 const T *restrict r0, const T *restrict r1,           \
                                 int32_t base, int32_t w, int64_t n) {                 \
    int32_t nan = 0;                                                                  \
    for (int64_t i = 0; i < n; i++) {                                                 \
      const int32_t at = base + 2 * (int32_t)i;                                       \
      const T v0 = r0[2 * i], v1 = r0[2 * i + 1], v2 = r1[2 * i], v3 = r1[2 * i + 1];  \
      T b = -INFINITY;                                                                \
      int32_t a = -1;                                                                 \
      a = v0 > b ? at : a;                                                            \
      b = v0 > b ? v0 : b;                                                            \
      a = v1 > b ? at + 1 : a;                                                        \
      b = v1 > b ? v1 : b;                                                            \
      a = v2 > b ? at + w : a;                                                        \
      b = v2 > b ? v2 : b;                                                            \
      a = v3 > b ? at + w + 1 : a;                                                    \
      b = v3 > b ? v3 : b;                                                            \
      nan |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3);                       \
      y[i] = b;                                                                       \
      idx[i] = a;                                                                     \
    }                                                                                 \
    return !nan;                                                                      \
  }                                                                                   \
  /* The fused windows; false: use max_row per window element instead. */            \
  static bool max_fused_##SUFFIX(T *y, int32_t *idx, const T *row, int32_t base,       \
                                 int64_t w, int64_t n, int64_t kh, int64_t kw,         \
                                 int64_t sw) {                                         \
    return kh == 2 && kw == 2 && sw == 2 &&                                           \
           max_win22_##SUFFIX(y, idx, row, row + w, base, (int32_t)w, n);             \
  }                                                                                   \
  /* Constant strides 1 and 2 let the compiler vectorise the strided loads. */       \
  static void max_row_##SUFFIX(T *best, int32_t *at, const T *row, int32_t base,      \
                               int64_t n, int64_t sw) {                               \
    if (sw == 1)                                                                      \
      max_pass_##SUFFIX(best, at, row, base, n, 1);                                   \
    else if (sw == 2)                                                                 \
      max_pass_##SUFFIX(best, at, row, base, n, 2);                                   \
    else                                                                              \
      max_pass_##SUFFIX(best, at, row, base, n, sw);                                  \
  }                                                                                   \
  static void sum_row_##SUFFIX(T *sum, const T *row, int64_t n, int64_t sw) {         \
    if (sw == 1)                                                                      \
      sum_pass_##SUFFIX(sum, row, n, 1);                                              \
    else if (sw == 2)                                                                 \
      sum_pass_##SUFFIX(sum, row, n, 2);                                              \
    else                                                                              \
      sum_pass_##SUFFIX(sum, row, n, sw);                                             \
  }

POOL_ROWS(f32, float)
POOL_ROWS(f64, double)

/* 2x2 stride-2 rows r0..r1 through a vector kernel; false: none here. */
static bool max22_vec_f32(const NnrtPool *g, float *y, int32_t *idx, const float *x, int64_t r0,
                          int64_t r1) {
#ifdef POOL_AVX512
  if (have_avx512()) {
    max22_rows_avx512(g, y, idx, x, r0, r1);
    return true;
  }
#endif
  return false;
}
static bool max22_vec_f64(const NnrtPool *g, double *y, int32_t *idx, const double *x,
                          int64_t r0, int64_t r1) {
  return false;
}

#define POOL(SUFFIX, T)                                                               \
  /* One window the plain way (edge columns). */                                     \
  static void max_window_##SUFFIX(const NnrtPool *g, const T *xp, int64_t oy,         \
                                  int64_t ox, T *y, int32_t *idx) {                   \
    T best = -INFINITY;                                                               \
    int32_t at = -1;                                                                  \
    for (int64_t ky = 0; ky < g->kh; ky++) {                                          \
      const int64_t iy = oy * g->sh - g->ph + ky;                                     \
      if (iy < 0 || iy >= g->h)                                                       \
        continue;                                                                     \
      for (int64_t kx = 0; kx < g->kw; kx++) {                                        \
        const int64_t ix = ox * g->sw - g->pw + kx;                                   \
        if (ix < 0 || ix >= g->w)                                                     \
          continue;                                                                   \
        const T v = xp[iy * g->w + ix];                                               \
        if (v > best || (isnan(v) && !isnan(best))) {                                 \
          best = v;                                                                   \
          at = (int32_t)(iy * g->w + ix);                                             \
        }                                                                             \
      }                                                                               \
    }                                                                                 \
    *y = best;                                                                        \
    *idx = at;                                                                        \
  }                                                                                   \
                                                                                      \
  /* 2x2 windows, stride 2, no padding, even sizes (LeNet's, VGG's): output     \
   * row r of the whole tensor reads input rows 2r and 2r+1, so one loop over   \
   * all rows, each vectorised across its columns; rows in parallel (each      \
   * row's result does not depend on which thread computes it). */             \
  /* 2x2 windows, stride 2, no padding, even sizes (LeNet's, VGG's): output     \
   * row r of the whole tensor reads input rows 2r and 2r+1, so one loop over   \
   * rows, each vectorised across its columns. */                              \
  static void max22_rows_##SUFFIX(const NnrtPool *g, T *y, int32_t *idx,   \
                                              const T *x, int64_t r0, int64_t r1) {   \
    if (max22_vec_##SUFFIX(g, y, idx, x, r0, r1))                                     \
      return;                                                                         \
    const int64_t w = g->w, ow = g->ow;                                               \
    for (int64_t r = r0; r < r1; r++) {                                               \
      const int64_t oy = r % g->oh;                                                   \
      const T *in = x + 2 * r * w;                                                    \
      if (!max_win22_##SUFFIX(y + r * ow, idx + r * ow, in, in + w,                    \
                              (int32_t)(2 * oy * w), (int32_t)w, ow))                 \
        for (int64_t ox = 0; ox < ow; ox++) /* a NaN: the plain way */              \
          max_window_##SUFFIX(g, x + r / g->oh * g->h * w, oy, ox, y + r * ow + ox,    \
                              idx + r * ow + ox);                                     \
    }                                                                                 \
  }                                                                                   \
  /* Rows in parallel: a row's result does not depend on its thread. */             \
  typedef struct {                                                                    \
    const NnrtPool *g;                                                                \
    T *y;                                                                             \
    int32_t *idx;                                                                     \
    const T *x;                                                                       \
    int64_t rows, parts;                                                              \
  } Max22Job_##SUFFIX;                                                                \
  static void max22_part_##SUFFIX(void *ctx, int64_t i) {                             \
    const Max22Job_##SUFFIX *j = ctx;                                                 \
    max22_rows_##SUFFIX(j->g, j->y, j->idx, j->x, j->rows * i / j->parts,             \
                        j->rows * (i + 1) / j->parts);                                \
  }                                                                                   \
  static void max22_all_##SUFFIX(const NnrtPool *g, T *y, int32_t *idx, const T *x) { \
    const int64_t rows = g->n * g->c * g->oh;                                         \
    Max22Job_##SUFFIX j = {g, y, idx, x, rows, pool_parts(rows * g->ow, rows)};       \
    nnrt_team_run(max22_part_##SUFFIX, &j, j.parts);                                  \
  }                                                                                   \
                                                                                      \
  void nnrt_maxpool2d_##SUFFIX(const NnrtPool *g, T *y, int32_t *idx, const T *x) {   \
    if (g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 &&          \
        g->pw == 0 && g->h == 2 * g->oh && g->w == 2 * g->ow) {                       \
      max22_all_##SUFFIX(g, y, idx, x);                                               \
      return;                                                                         \
    }                                                                                 \
    int64_t lo, hi;                                                                   \
    interior(g->w, g->ow, g->kw, g->sw, g->pw, &lo, &hi);                             \
    for (int64_t p = 0; p < g->n * g->c; p++) {                                       \
      const T *xp = x + p * g->h * g->w; /* (h, w) */                                 \
      for (int64_t oy = 0; oy < g->oh; oy++) {                                        \
        T *yr = y + (p * g->oh + oy) * g->ow;                                         \
        int32_t *ir = idx + (p * g->oh + oy) * g->ow;                                 \
        for (int64_t ox = 0; ox < lo; ox++)                                           \
          max_window_##SUFFIX(g, xp, oy, ox, yr + ox, ir + ox);                       \
        for (int64_t ox = hi; ox < g->ow; ox++)                                       \
          max_window_##SUFFIX(g, xp, oy, ox, yr + ox, ir + ox);                       \
        const int64_t iy0 = oy * g->sh - g->ph, ix0 = lo * g->sw - g->pw;           \
        if (iy0 >= 0 && iy0 + g->kh <= g->h &&                                        \
            max_fused_##SUFFIX(yr + lo, ir + lo, xp + iy0 * g->w + ix0,                \
                               (int32_t)(iy0 * g->w + ix0), g->w, hi - lo, g->kh,      \
                               g->kw, g->sw))                                         \
          continue;                                                                   \
        for (int64_t ox = lo; ox < hi; ox++) {                                        \
          yr[ox] = -INFINITY;                                                         \
          ir[ox] = -1;                                                                \
        }                                                                             \
        for (int64_t ky = 0; ky < g->kh; ky++) {                                      \
          const int64_t iy = oy * g->sh - g->ph + ky;                                 \
          if (iy < 0 || iy >= g->h)                                                   \
            continue;                                                                 \
          for (int64_t kx = 0; kx < g->kw; kx++) {                                    \
            const int64_t ix = lo * g->sw - g->pw + kx; /* column of window lo */     \
            max_row_##SUFFIX(yr + lo, ir + lo, xp + iy * g->w + ix,                   \
                             (int32_t)(iy * g->w + ix), hi - lo, g->sw);              \
          }                                                                           \
        }                                                                             \
      }                                                                               \
    }                                                                                 \
  }                                                                                   \
                                                                                      \
  /* Planes in parallel: each is cleared and filled by one thread. */                \
  typedef struct {                                                                    \
    const NnrtPool *g;                                                                \
    T *out;                                                                           \
    const T *in;                                                                      \
    const int32_t *idx;                                                               \
    int64_t planes, parts;                                                            \
  } PlaneJob_##SUFFIX;                                                                \
  static void unpool_part_##SUFFIX(void *ctx, int64_t i) {                            \
    const PlaneJob_##SUFFIX *j = ctx;                                                 \
    const NnrtPool *g = j->g;                                                         \
    const int64_t per = g->oh * g->ow;                                                \
    for (int64_t p = j->planes * i / j->parts; p < j->planes * (i + 1) / j->parts; p++) { \
      T *op = j->out + p * g->h * g->w; /* (h, w) */                                  \
      memset(op, 0, sizeof(T) * (size_t)(g->h * g->w));                               \
      for (int64_t e = 0; e < per; e++)                                               \
        if (j->idx[p * per + e] >= 0)                                                 \
          op[j->idx[p * per + e]] += j->in[p * per + e];                              \
    }                                                                                 \
  }                                                                                   \
  void nnrt_unpool2d_##SUFFIX(const NnrtPool *g, T *out, const T *v, const int32_t *idx) { \
    const int64_t planes = g->n * g->c;                                               \
    PlaneJob_##SUFFIX j = {g, out, v, idx, planes, pool_parts(planes * g->h * g->w, planes)}; \
    nnrt_team_run(unpool_part_##SUFFIX, &j, j.parts);                                 \
  }                                                                                   \
                                                                                      \
  static void gather_part_##SUFFIX(void *ctx, int64_t i) {                            \
    const PlaneJob_##SUFFIX *j = ctx;                                                 \
    const NnrtPool *g = j->g;                                                         \
    const int64_t per = g->oh * g->ow;                                                \
    for (int64_t p = j->planes * i / j->parts; p < j->planes * (i + 1) / j->parts; p++) { \
      const T *xp = j->in + p * g->h * g->w; /* (h, w) */                             \
      for (int64_t e = 0; e < per; e++)                                               \
        j->out[p * per + e] = j->idx[p * per + e] >= 0 ? xp[j->idx[p * per + e]] : 0; \
    }                                                                                 \
  }                                                                                   \
  void nnrt_gather2d_##SUFFIX(const NnrtPool *g, T *y, const T *x, const int32_t *idx) { \
    const int64_t planes = g->n * g->c;                                               \
    PlaneJob_##SUFFIX j = {g, y, x, idx, planes, pool_parts(planes * g->oh * g->ow, planes)}; \
    nnrt_team_run(gather_part_##SUFFIX, &j, j.parts);                                 \
  }                                                                                   \
                                                                                      \
  /* Interior columns as in max pooling: the same sum, in the same order. */          \
  void nnrt_avgpool2d_##SUFFIX(const NnrtPool *g, T *y, const T *x) {                 \
    const T scale = (T)1 / (T)(g->kh * g->kw);                                        \
    int64_t lo, hi;                                                                   \
    interior(g->w, g->ow, g->kw, g->sw, g->pw, &lo, &hi);                             \
    for (int64_t p = 0; p < g->n * g->c; p++) {                                       \
      const T *xp = x + p * g->h * g->w;                                              \
      for (int64_t oy = 0; oy < g->oh; oy++) {                                        \
        T *yr = y + (p * g->oh + oy) * g->ow;                                         \
        for (int64_t ox = 0; ox < g->ow; ox++) {                                      \
          if (ox == lo && hi > lo) {                                                  \
            ox = hi - 1; /* interior below */                                         \
            continue;                                                                 \
          }                                                                           \
          T sum = 0;                                                                  \
          for (int64_t ky = 0; ky < g->kh; ky++) {                                    \
            const int64_t iy = oy * g->sh - g->ph + ky;                               \
            if (iy < 0 || iy >= g->h)                                                 \
              continue;                                                               \
            for (int64_t kx = 0; kx < g->kw; kx++) {                                  \
              const int64_t ix = ox * g->sw - g->pw + kx;                             \
              if (ix >= 0 && ix < g->w)                                               \
                sum += xp[iy * g->w + ix];                                            \
            }                                                                         \
          }                                                                           \
          yr[ox] = sum * scale;                                                       \
        }                                                                             \
        for (int64_t ox = lo; ox < hi; ox++)                                          \
          yr[ox] = 0;                                                                 \
        for (int64_t ky = 0; ky < g->kh; ky++) {                                      \
          const int64_t iy = oy * g->sh - g->ph + ky;                                 \
          if (iy < 0 || iy >= g->h)                                                   \
            continue;                                                                 \
          for (int64_t kx = 0; kx < g->kw; kx++)                                      \
            sum_row_##SUFFIX(yr + lo, xp + iy * g->w + lo * g->sw - g->pw + kx,       \
                             hi - lo, g->sw);                                         \
        }                                                                             \
        for (int64_t ox = lo; ox < hi; ox++)                                          \
          yr[ox] *= scale;                                                            \
      }                                                                               \
    }                                                                                 \
  }                                                                                   \
                                                                                      \
  void nnrt_avgpool2d_bwd_##SUFFIX(const NnrtPool *g, T *dx, const T *dy) {           \
    const T scale = (T)1 / (T)(g->kh * g->kw);                                        \
    memset(dx, 0, sizeof(T) * (size_t)(g->n * g->c * g->h * g->w));                   \
    for (int64_t p = 0; p < g->n * g->c; p++) {                                       \
      T *dxp = dx + p * g->h * g->w;                                                  \
      for (int64_t oy = 0; oy < g->oh; oy++)                                          \
        for (int64_t ox = 0; ox < g->ow; ox++) {                                      \
          const T d = dy[(p * g->oh + oy) * g->ow + ox] * scale;                      \
          for (int64_t ky = 0; ky < g->kh; ky++) {                                    \
            const int64_t iy = oy * g->sh - g->ph + ky;                               \
            if (iy < 0 || iy >= g->h)                                                 \
              continue;                                                               \
            for (int64_t kx = 0; kx < g->kw; kx++) {                                  \
              const int64_t ix = ox * g->sw - g->pw + kx;                             \
              if (ix >= 0 && ix < g->w)                                               \
                dxp[iy * g->w + ix] += d;                                             \
            }                                                                         \
          }                                                                           \
        }                                                                             \
    }                                                                                 \
  }

POOL(f32, float)
POOL(f64, double)
