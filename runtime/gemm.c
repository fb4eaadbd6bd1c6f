/*
 * gemm.c — row-major C = alpha·op(A)·op(B) + beta·C for generated kernels:
 * f32 through oneDNN's dnnl_sgemm, f64 through CBLAS's cblas_dgemm.  The
 * build compiles against netlib's cblas-netlib.h from libblas-dev (see
 * CMakeLists.txt); at run time Debian's libblas.so.3 alternative picks the
 * BLAS (netlib, OpenBLAS or BLIS).  Only what every cblas.h declares is
 * used: sizes go as plain int, which each header's integer type (netlib's
 * CBLAS_INT, OpenBLAS's blasint, BLIS's f77_int) accepts, so the file also
 * builds against any of them.
 *
 * Products with m·n·k below a threshold go through a plain loop instead:
 * library dispatch costs more than the arithmetic there.  Measured here
 * (square m=n=k, -O2, 20000 calls each; oneDNN 2.6, BLIS as libblas):
 *      m·n·k    f32 loop / dnnl_sgemm     f64 loop / cblas_dgemm
 *        512      0.65 / 1.17 µs            0.66 / 2.02 µs
 *       1728      2.14 / 1.25 µs            2.18 / 2.28 µs
 *       4096      4.83 / 1.31 µs            5.02 / 2.60 µs
 * so the loop is used below 1024 (f32) and 2048 (f64).  Rerun with
 * NNRT_GEMM_BENCH=1 tests/unit/test_gemm to see the numbers on a new machine.
 *
 * oneDNN generates its sgemm kernels (about twenty, with Xbyak) on the
 * first dnnl_sgemm call of the process: 45-80 ms here, which used to land
 * in the first training step.  nnrt_gemm_warm makes that first call, and
 * session.c runs it on a helper thread while the data loads.  The kernels
 * are process-wide and do not depend on the calling thread or its thread
 * count, so every later product (and its bits) is the same as without it.
 *
 * Products of at least SPLIT_SGEMM multiply-adds are split into parts
 * (2 to 8, by a rule of m, n, k and the transposes alone) along m or n,
 * each a single-threaded dnnl_sgemm, run on the runtime's team (team.c).
 * The split changes which kernel oneDNN picks for a part, and with it the
 * bits of some shapes (a transposed B with a short m, e.g. 128x256x784
 * split in 3), so it must not depend on the thread count: one thread runs
 * the same parts in order, and --threads never changes a result
 * (tests/unit/test_gemm.c).  Measured on one thread (dnnl_sgemm,
 * 2 vCPUs, µs): 128x256x784 352 whole, 351 in 2 rows, 347 in 4 rows;
 * 128x784x256ᵀ 324 whole, 333 in 2 column blocks, 349 in 4; 64x512x784
 * 357 / 367 / 378; 1024³ 120 whole, 141 in 4, 133 in 8, 102 in 16;
 * 2048³ 148 / 141 in 4 / 137 in 8 / 130 in 16: a part loses little up to
 * 4, so the cost of one thread is small and two threads halve a product
 * from ~2M multiply-adds on, where the team's hand-over (~1 µs while a
 * worker spins) is still small.
 * oneDNN's own OpenMP threading is not used: its region would wake a
 * sleeping OpenMP thread for 40-80 µs (bench/omp_wake.c).
 *
 * Invariants: beta = 0 never reads C (it may hold garbage or NaN); every
 * size may be 0.  It does not check leading dimensions: the compiler emits
 * them from static shapes.
 */
#include "program.h"
#ifdef NNRT_CBLAS_NETLIB
#include <cblas-netlib.h>
#else
#include <cblas.h>
#endif
#include <dnnl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <omp.h>

#define SMALL_SGEMM NNRT_SMALL_SGEMM
#define SMALL_DGEMM NNRT_SMALL_DGEMM
#define SPLIT_SGEMM 2e6

/* op(A)(i,p) = a[i*ai + p*ap], op(B)(p,j) = b[p*bp + j*bj]: strides instead
 * of a transpose test in the inner loop. */
#define NAIVE_GEMM(NAME, T)                                                          \
  static void NAME(int ta, int tb, int64_t m, int64_t n, int64_t k, T alpha,         \
                   const T *a, int64_t lda, const T *b, int64_t ldb, T beta, T *c,   \
                   int64_t ldc) {                                                    \
    const int64_t ai = ta ? 1 : lda, ap = ta ? lda : 1;                              \
    const int64_t bp = tb ? 1 : ldb, bj = tb ? ldb : 1;                              \
    for (int64_t i = 0; i < m; i++)                                                  \
      for (int64_t j = 0; j < n; j++) {                                              \
        T sum = 0;                                                                   \
        for (int64_t p = 0; p < k; p++)                                              \
          sum += a[i * ai + p * ap] * b[p * bp + j * bj];                            \
        c[i * ldc + j] = beta == 0 ? alpha * sum : alpha * sum + beta * c[i * ldc + j]; \
      }                                                                              \
  }

NAIVE_GEMM(naive_sgemm, float)
NAIVE_GEMM(naive_dgemm, double)

static int small(int64_t m, int64_t n, int64_t k, double limit) {
  return k <= 0 || (double)m * (double)n * (double)k < limit;
}

bool nnrt_sgemm_uses_dnnl(int64_t m, int64_t n, int64_t k) {
  return m > 0 && n > 0 && !small(m, n, k, SMALL_SGEMM);
}

void nnrt_gemm_warm(void) {
  /* OpenMP's thread count is per thread (--threads set the main thread's):
   * a 2x2 product on one thread opens no OpenMP team on a helper thread,
   * none that could outlive or spin after it; the caller's count is put back. */
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  float a[4] = {0}, b[4] = {0}, c[4];
  dnnl_sgemm('N', 'N', 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
  omp_set_num_threads(threads);
}

/* One part of a split product: rows [lo, hi) of C when by == SPLIT_ROWS,
 * its columns [lo, hi) for SPLIT_COLS; for SPLIT_K the product over k in
 * [lo, hi), part 0 into C and part j > 0 into partial + (j - 1)·m·n. */
enum { SPLIT_ROWS, SPLIT_COLS, SPLIT_K };
typedef struct {
  int ta, tb, by, parts;
  int64_t m, n, k, lda, ldb, ldc;
  float alpha, beta;
  const float *a, *b;
  float *c, *partial;
  const float *bias; /* nnrt_sgemm_bias: added to each row of C, then relu if `relu` */
  int relu;
} SgemmSplit;

/* nnrt_sgemm_bias's epilogue on rows [r0, r1) and columns [q0, q1) of C,
 * the same operations as the generated loop it replaces: x + bias, then
 * x > 0 ? x : 0. */
static void epilogue(const SgemmSplit *s, int64_t r0, int64_t r1, int64_t q0, int64_t q1) {
  if (!s->bias)
    return;
  for (int64_t r = r0; r < r1; r++) {
    float *row = s->c + r * s->ldc;
    if (s->relu)
      for (int64_t q = q0; q < q1; q++) {
        float x = row[q] + s->bias[q];
        row[q] = x > 0.0f ? x : 0.0f;
      }
    else
      for (int64_t q = q0; q < q1; q++)
        row[q] = row[q] + s->bias[q];
  }
}

static void split_range(int64_t size, int parts, int64_t i, int64_t align, int64_t *lo,
                        int64_t *hi) {
  *lo = size * i / parts / align * align;
  *hi = i == parts - 1 ? size : size * (i + 1) / parts / align * align;
}

static void sgemm_part(void *ctx, int64_t i) {
  const SgemmSplit *s = ctx;
  int64_t lo, hi;
  if (s->by == SPLIT_K) {
    split_range(s->k, s->parts, i, 16, &lo, &hi);
    dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m, s->n, hi - lo, s->alpha,
               s->ta ? s->a + lo * s->lda : s->a + lo, s->lda, s->tb ? s->b + lo : s->b + lo * s->ldb,
               s->ldb, 0.0f, i ? s->partial + (i - 1) * s->m * s->n : s->c, i ? s->n : s->ldc);
  } else if (s->by == SPLIT_ROWS) {
    split_range(s->m, s->parts, i, 1, &lo, &hi);
    dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', hi - lo, s->n, s->k, s->alpha,
               s->ta ? s->a + lo : s->a + lo * s->lda, s->lda, s->b, s->ldb, s->beta,
               s->c + lo * s->ldc, s->ldc);
    epilogue(s, lo, hi, 0, s->n); /* while this part's rows are in this core's cache */
  } else {
    split_range(s->n, s->parts, i, 16, &lo, &hi);
    dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m, hi - lo, s->k, s->alpha, s->a,
               s->lda, s->tb ? s->b + lo * s->ldb : s->b + lo, s->ldb, s->beta, s->c + lo,
               s->ldc);
    epilogue(s, 0, s->m, lo, hi);
  }
}

/* How many parts, and along which dimension: a function of the shape only.
 * Along k when k is the long side (at least 4 times m and n, and 256 per
 * part: a weight's gradient, Xᵀ·dY over a batch of 2048 rows): each part
 * reads its own rows of both operands, and the partial products are added
 * in part order afterwards (on 2 threads, from cold caches, 512x128x2048
 * with Aᵀ ran in 856 µs against 930 in two row blocks, which both read all
 * of B; 128x512x2048 738 against 874; 128x128x2048 242 against 289).
 * Else rows for an untransposed B (whole rows of A), columns for a
 * transposed one (oneDNN's kernels for Bᵀ lose more on short row blocks)
 * unless its row blocks are long (256 rows or more: a transformer's data
 * gradients, 2048x128x512 with Bᵀ, ran at 276 GFLOP/s median on 2 threads
 * in two row blocks against 205-239 in two column blocks of 64;
 * 2048x128x128 286-313 against 154-266), else whichever leaves parts of at
 * least 32 rows or columns (fewer parts if neither). */
static int sgemm_parts(int tb, int64_t m, int64_t n, int64_t k, int *by) {
  double macs = (double)m * (double)n * (double)k;
  int parts = macs < SPLIT_SGEMM ? 1 : macs < 512e6 ? 2 : macs < 16e9 ? 4 : 8;
  if (parts > 1 && k >= 4 * (m > n ? m : n) && k / parts >= 256) {
    *by = SPLIT_K;
    return parts;
  }
  for (; parts > 1; parts /= 2) {
    bool rows = m / parts >= 32, cols = n / parts >= 32;
    if (rows || cols) {
      *by = rows && (!tb || !cols || m / parts >= 256) ? SPLIT_ROWS : SPLIT_COLS;
      return parts;
    }
  }
  *by = SPLIT_ROWS;
  return 1;
}

/* Adds the partial products of a split along k into C, in part order:
 * rows [lo, hi) of C for part i of the add (split like a row product). */
static void sgemm_add_partials(void *ctx, int64_t i) {
  const SgemmSplit *s = ctx;
  int64_t lo, hi;
  split_range(s->m, s->parts, i, 1, &lo, &hi);
  for (int64_t j = 1; j < s->parts; j++) {
    const float *p = s->partial + (j - 1) * s->m * s->n;
    for (int64_t r = lo; r < hi; r++)
      for (int64_t q = 0; q < s->n; q++)
        s->c[r * s->ldc + q] += p[r * s->n + q];
  }
  epilogue(s, lo, hi, 0, s->n);
}

/* The calling thread's buffer for partial products (grown, never shrunk):
 * a split along k writes parts 1.. there; calls on different threads (the
 * parts of a batched product) each use their own. */
static float *partial_buffer(size_t floats) {
  static _Thread_local float *buf;
  static _Thread_local size_t have;
  if (floats > have) {
    nnrt_free(buf);
    buf = nnrt_alloc(floats * sizeof(float), "matrix product partial sums");
    have = buf ? floats : 0;
  }
  return buf;
}

/* C = alpha·op(A)·op(B) + beta·C, then bias and relu (sgemm_bias) on each
 * part as it is done. */
static void sgemm_run(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                      int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
                      const float *bias, int relu) {
  if (m <= 0 || n <= 0)
    return;
  SgemmSplit s = {ta, tb, SPLIT_ROWS, 1, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c, NULL, bias, relu};
  if (small(m, n, k, SMALL_SGEMM)) {
    naive_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    epilogue(&s, 0, m, 0, n);
    return;
  }
  s.parts = sgemm_parts(tb, m, n, k, &s.by);
  if (s.by == SPLIT_K && (beta != 0 || !(s.partial = partial_buffer((size_t)((s.parts - 1) * m * n))))) {
    /* beta != 0 (no generated kernel passes it), or no memory for the
     * partial sums: whole, on this thread (other bits; said once if it is
     * the memory, as conv.c's fallback) */
    static _Atomic int warned;
    if (beta == 0 && !atomic_exchange(&warned, 1))
      fprintf(stderr, "warning: no memory for a matrix product's partial sums; computing it whole\n");
    s.by = SPLIT_ROWS;
    s.parts = 1;
  }
  nnrt_team_run(sgemm_part, &s, s.parts);
  if (s.by == SPLIT_K)
    nnrt_team_run(sgemm_add_partials, &s, s.parts);
}

void nnrt_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb,
                float beta, float *c, int64_t ldc) {
  sgemm_run(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL, 0);
}

void nnrt_sgemm_bias(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float *c, const float *bias, int relu) {
  sgemm_run(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n, bias, relu);
}

void nnrt_dgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha,
                const double *a, int64_t lda, const double *b, int64_t ldb,
                double beta, double *c, int64_t ldc) {
  if (m <= 0 || n <= 0)
    return;
  if (small(m, n, k, SMALL_DGEMM)) {
    naive_dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  /* The 32-bit CBLAS interface: f64 products are gradient checks of small
   * models, far below INT_MAX in every dimension. */
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
      ldc > INT_MAX) {
    fprintf(stderr, "error: f64 matrix product of %lldx%lldx%lld exceeds the CBLAS int range\n",
            (long long)m, (long long)n, (long long)k);
    exit(1);
  }
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* Batched products (attention's [B, H, T, D] @ [B, H, D, T]): one GEMM per
 * matrix of the result, each the 2-D call, so the bits are those of the
 * 2-D call.  An operand's matrices lie at two strides, over the batch's
 * outer count n1 and inner count n2: a head read in place in the
 * [B, T, 3·d] projection (compiler/fuse.c gemm_view) is at b·T·3d + h·D
 * with leading dimension 3d; C's likewise (ldc, sc, sc2: heads merged as
 * they are written, codegen/llvm.c plan_batch_out).  The matrices are
 * split into parts (consecutive ranges, by a rule of the count and the
 * sizes alone, never the thread count) that run
 * on the team: attention's products are 128 small GEMMs each (64x64x32),
 * every one below the size a single product is split at, and ran on one
 * thread.  A product inside a part that would split again runs its parts
 * on the part's thread, in order (team.c), so nothing changes. */
#define BATCH_PART_MACS 1e6 /* at least this much work per part */
#define BATCH_PARTS 16

#define GEMM_BATCH(NAME, ONE, T)                                                            \
  typedef struct {                                                                        \
    int ta, tb, parts;                                                                    \
    int64_t m, n, k, count, n2, lda, sa, sa2, ldb, sb, sb2, ldc, sc, sc2;                 \
    const T *a, *b;                                                                       \
    T *c;                                                                                 \
  } NAME##_job;                                                                           \
  static void NAME##_part(void *ctx, int64_t p) {                                         \
    const NAME##_job *j = ctx;                                                            \
    int64_t lo = j->count * p / j->parts, hi = j->count * (p + 1) / j->parts;             \
    for (int64_t i = lo; i < hi; i++) {                                                   \
      int64_t i1 = i / j->n2, i2 = i % j->n2;                                             \
      ONE(j->ta, j->tb, j->m, j->n, j->k, 1, j->a + i1 * j->sa + i2 * j->sa2, j->lda,      \
          j->b + i1 * j->sb + i2 * j->sb2, j->ldb, 0, j->c + i1 * j->sc + i2 * j->sc2, j->ldc); \
    }                                                                                     \
  }                                                                                       \
  void NAME(int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t n1, int64_t n2,        \
            const T *a, int64_t lda, int64_t sa, int64_t sa2, const T *b, int64_t ldb,      \
            int64_t sb, int64_t sb2, T *c, int64_t ldc, int64_t sc, int64_t sc2) {        \
    int64_t count = n1 * n2;                                                              \
    if (count <= 0)                                                                       \
      return;                                                                             \
    double macs = (double)m * (double)n * (double)k * (double)count;                      \
    int64_t parts = (int64_t)(macs / BATCH_PART_MACS);                                    \
    parts = parts > BATCH_PARTS ? BATCH_PARTS : parts > count ? count : parts < 1 ? 1 : parts; \
    NAME##_job j = {ta, tb, (int)parts, m, n, k, count, n2, lda, sa, sa2, ldb, sb, sb2, ldc, sc, sc2, a, b, c}; \
    if (parts == 1) NAME##_part(&j, 0);                                                   \
    else nnrt_team_run(NAME##_part, &j, parts);                                           \
  }

GEMM_BATCH(nnrt_sgemm_batch, nnrt_sgemm, float)
GEMM_BATCH(nnrt_dgemm_batch, nnrt_dgemm, double)
