/*
 * spmm.c — a sparse (CSR) matrix times dense ones: y = A h or Aᵀ h for
 * each (n, f) matrix h of a batch, the kernel of the compiler's spmm op
 * (compiler/ops/spmm.c); Aᵀ is the CSR the loader built beside A
 * (data/graph.c), the same arrays for a symmetric matrix.
 *
 * y's row i is Σ_k val[k] · h[col[k], :] over row i's entries in column
 * order, accumulated in a row of y (no atomics, no reordering): rows are
 * split into parts by a rule of n, f and nnz alone and each part runs on
 * one thread of the team (team.c), so any thread count gives the bits of
 * one.  Each entry's update is one pass over f contiguous values, which the
 * compiler vectorises (a row of h is 16 floats in the GCN examples).
 */
#include "internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this many multiply-adds a call stays on the calling thread (as
 * pool.c's: the team's hand-over costs about a microsecond). */
#define SPMM_SPLIT_MIN 32768
#define SPMM_MAX_PARTS 64

typedef struct SpmmJob {
  void *y;
  const void *h, *val;
  const int64_t *rowptr;
  const int32_t *col;
  int64_t batches, n, f, parts;
  bool f64;
} SpmmJob;

#define SPMM_ROWS(T)                                                                              \
  static void rows_##T(const SpmmJob *j, int64_t r0, int64_t r1) {                                \
    const T *val = j->val;                                                                        \
    for (int64_t b = 0; b < j->batches; b++) {                                                    \
      const T *h = (const T *)j->h + b * j->n * j->f;                                             \
      T *y = (T *)j->y + b * j->n * j->f;                                                         \
      for (int64_t r = r0; r < r1; r++) {                                                         \
        T *yr = y + r * j->f;                                                                     \
        memset(yr, 0, (size_t)j->f * sizeof(T));                                                  \
        for (int64_t k = j->rowptr[r]; k < j->rowptr[r + 1]; k++) {                               \
          const T a = val[k], *hr = h + (int64_t)j->col[k] * j->f;                                \
          for (int64_t c = 0; c < j->f; c++) yr[c] += a * hr[c];                                  \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
  }
SPMM_ROWS(float)
SPMM_ROWS(double)

static void part(void *ctx, int64_t i) {
  const SpmmJob *j = ctx;
  int64_t r0 = j->n * i / j->parts, r1 = j->n * (i + 1) / j->parts;
  if (j->f64)
    rows_double(j, r0, r1);
  else
    rows_float(j, r0, r1);
}

static void spmm(void *y, const NnrtCsr *a, const void *h, int64_t batches, int64_t n, int64_t f, int64_t transpose,
                 bool f64) {
  if (a->n != n) { /* the loader makes it of the field's size: a compiler or runtime bug */
    fprintf(stderr, "error: spmm: the sparse matrix has %lld rows, the program expects %lld\n", (long long)a->n,
            (long long)n);
    exit(1);
  }
  SpmmJob j = {y, h, transpose ? a->t_val : a->val, transpose ? a->t_rowptr : a->rowptr, transpose ? a->t_col : a->col,
               batches, n, f, 1, f64};
  int64_t work = (a->nnz + n) * f * batches;
  if (work >= SPMM_SPLIT_MIN) { /* by shape alone: about 32k multiply-adds a part */
    j.parts = work / SPMM_SPLIT_MIN;
    if (j.parts > SPMM_MAX_PARTS) j.parts = SPMM_MAX_PARTS;
    if (j.parts > n) j.parts = n;
  }
  nnrt_team_run(part, &j, j.parts);
}

void nnrt_spmm_f32(float *y, const NnrtCsr *a, const float *h, int64_t batches, int64_t n, int64_t f,
                   int64_t transpose) {
  spmm(y, a, h, batches, n, f, transpose, false);
}

void nnrt_spmm_f64(double *y, const NnrtCsr *a, const double *h, int64_t batches, int64_t n, int64_t f,
                   int64_t transpose) {
  spmm(y, a, h, batches, n, f, transpose, true);
}
