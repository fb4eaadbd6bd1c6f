/*
 * pool.c — 2-D max and average pooling over NCHW and their adjoints, as
 * plain loops in memory order: one (n, c) plane at a time, output rows
 * outer, the window inner.
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
 * The idx array is laid out like y: (n, c, oh, ow).  Nothing here threads
 * or allocates.
 */
#include "internal.h"
#include <math.h>
#include <string.h>

#define POOL(SUFFIX, T)                                                               \
  void nnrt_maxpool2d_##SUFFIX(const NnrtPool *g, T *y, int32_t *idx, const T *x) {   \
    for (int64_t p = 0; p < g->n * g->c; p++) {                                       \
      const T *xp = x + p * g->h * g->w; /* (h, w) */                                 \
      for (int64_t oy = 0; oy < g->oh; oy++)                                          \
        for (int64_t ox = 0; ox < g->ow; ox++) {                                      \
          T best = -INFINITY;                                                         \
          int32_t at = -1;                                                            \
          for (int64_t ky = 0; ky < g->kh; ky++) {                                    \
            const int64_t iy = oy * g->sh - g->ph + ky;                               \
            if (iy < 0 || iy >= g->h)                                                 \
              continue;                                                               \
            for (int64_t kx = 0; kx < g->kw; kx++) {                                  \
              const int64_t ix = ox * g->sw - g->pw + kx;                             \
              if (ix < 0 || ix >= g->w)                                               \
                continue;                                                             \
              const T v = xp[iy * g->w + ix];                                         \
              if (v > best || (isnan(v) && !isnan(best))) {                           \
                best = v;                                                             \
                at = (int32_t)(iy * g->w + ix);                                       \
              }                                                                       \
            }                                                                         \
          }                                                                           \
          const int64_t o = (p * g->oh + oy) * g->ow + ox;                            \
          y[o] = best;                                                                \
          idx[o] = at;                                                                \
        }                                                                             \
    }                                                                                 \
  }                                                                                   \
                                                                                      \
  void nnrt_unpool2d_##SUFFIX(const NnrtPool *g, T *out, const T *v, const int32_t *idx) { \
    memset(out, 0, sizeof(T) * (size_t)(g->n * g->c * g->h * g->w));                  \
    const int64_t per = g->oh * g->ow;                                                \
    for (int64_t p = 0; p < g->n * g->c; p++) {                                       \
      T *op = out + p * g->h * g->w; /* (h, w) */                                     \
      for (int64_t i = 0; i < per; i++)                                               \
        if (idx[p * per + i] >= 0)                                                    \
          op[idx[p * per + i]] += v[p * per + i];                                     \
    }                                                                                 \
  }                                                                                   \
                                                                                      \
  void nnrt_gather2d_##SUFFIX(const NnrtPool *g, T *y, const T *x, const int32_t *idx) { \
    const int64_t per = g->oh * g->ow;                                                \
    for (int64_t p = 0; p < g->n * g->c; p++) {                                       \
      const T *xp = x + p * g->h * g->w; /* (h, w) */                                 \
      for (int64_t i = 0; i < per; i++)                                               \
        y[p * per + i] = idx[p * per + i] >= 0 ? xp[idx[p * per + i]] : 0;            \
    }                                                                                 \
  }                                                                                   \
                                                                                      \
  void nnrt_avgpool2d_##SUFFIX(const NnrtPool *g, T *y, const T *x) {                 \
    const T scale = (T)1 / (T)(g->kh * g->kw);                                        \
    for (int64_t p = 0; p < g->n * g->c; p++) {                                       \
      const T *xp = x + p * g->h * g->w;                                              \
      for (int64_t oy = 0; oy < g->oh; oy++)                                          \
        for (int64_t ox = 0; ox < g->ow; ox++) {                                      \
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
          y[(p * g->oh + oy) * g->ow + ox] = sum * scale;                             \
        }                                                                             \
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
