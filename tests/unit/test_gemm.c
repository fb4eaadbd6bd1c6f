/*
 * test_gemm.c — nnrt_sgemm/nnrt_dgemm against a naive triple loop for all
 * four transpose combinations, sizes on both sides of the small-size
 * cutoff, padded leading dimensions, beta = 0 over NaN garbage and beta ≠ 0;
 * and the strided batches (nnrt_[sd]gemm_batch) against the naive loop per
 * matrix, with an operand repeated (stride 0).  Products large enough to be
 * split into parts (runtime/gemm.c) are checked against the loop and give
 * the same bits on one thread and on three (the split depends on the shape
 * alone).  nnrt_sgemm_bias gives the bits of the product followed by the
 * bias-and-relu loop it stands for, on every kind of split.
 * With NNRT_GEMM_BENCH=1 it also prints the timings behind the cutoff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "program.h"

static double ref(int ta, int tb, const double *a, int64_t lda, const double *b, int64_t ldb,
                  int64_t i, int64_t j, int64_t k) {
  double s = 0;
  for (int64_t p = 0; p < k; p++)
    s += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
  return s;
}

static void check(int64_t m, int64_t n, int64_t k, int ta, int tb, double alpha, double beta) {
  int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
  int64_t ra = ta ? k : m, rb = tb ? n : k;
  double *a = malloc(sizeof(double) * (size_t)(ra * lda + 1));
  double *b = malloc(sizeof(double) * (size_t)(rb * ldb + 1));
  double *c = malloc(sizeof(double) * (size_t)(m * ldc + 1));
  double *c0 = malloc(sizeof(double) * (size_t)(m * ldc + 1));
  float *af = malloc(sizeof(float) * (size_t)(ra * lda + 1));
  float *bf = malloc(sizeof(float) * (size_t)(rb * ldb + 1));
  float *cf = malloc(sizeof(float) * (size_t)(m * ldc + 1));
  for (int64_t i = 0; i < ra * lda; i++) af[i] = (float)(a[i] = ((i * 7) % 13 - 6) / 8.0);
  for (int64_t i = 0; i < rb * ldb; i++) bf[i] = (float)(b[i] = ((i * 5) % 11 - 5) / 4.0);
  for (int64_t i = 0; i < m * ldc; i++) {
    c0[i] = (i % 3) - 1.0;
    c[i] = beta == 0 ? NAN : c0[i];
    cf[i] = (float)c[i];
  }
  nnrt_dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  nnrt_sgemm(ta, tb, m, n, k, (float)alpha, af, lda, bf, ldb, (float)beta, cf, ldc);
  double maxd = 0, maxf = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double want = alpha * ref(ta, tb, a, lda, b, ldb, i, j, k) + (beta == 0 ? 0 : beta * c0[i * ldc + j]);
      double dd = fabs(c[i * ldc + j] - want), df = fabs(cf[i * ldc + j] - want);
      if (!(dd <= 1e-12 * (1 + fabs(want))) || !(df <= 1e-4 * (1 + fabs(want))))
        fail_msg("m=%lld n=%lld k=%lld ta=%d tb=%d at (%lld,%lld): want %.12g, dgemm %.12g, sgemm %.9g",
                 (long long)m, (long long)n, (long long)k, ta, tb, (long long)i, (long long)j,
                 want, c[i * ldc + j], cf[i * ldc + j]);
      maxd = fmax(maxd, dd);
      maxf = fmax(maxf, df);
    }
  free(a); free(b); free(c); free(c0); free(af); free(bf); free(cf);
}

static void test_all(void **st) {
  (void)st;
  const int64_t sizes[][3] = {{1, 1, 1}, {3, 4, 5}, {7, 2, 9}, {16, 16, 16}, {33, 17, 65},
                              {64, 48, 80}, {5, 100, 3}, {4, 3, 0}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        check(sizes[s][0], sizes[s][1], sizes[s][2], ta, tb, 1.0, 0.0);
        check(sizes[s][0], sizes[s][1], sizes[s][2], ta, tb, 0.5, -2.0);
      }
}

/* count products of op(A_i) op(B_i), A repeated when sa = 0 (and B when
 * sb = 0); the result is contiguous m x n matrices, NaN before the call. */
static void check_batch(int64_t m, int64_t n, int64_t k, int64_t count, int ta, int tb, int rep_a, int rep_b) {
  int64_t lda = ta ? m : k, ldb = tb ? k : n, sa = rep_a ? 0 : m * k, sb = rep_b ? 0 : k * n;
  int64_t na = (rep_a ? 1 : count) * m * k, nb = (rep_b ? 1 : count) * k * n, nc = count * m * n;
  double *a = malloc(sizeof(double) * (size_t)(na + 1)), *b = malloc(sizeof(double) * (size_t)(nb + 1));
  double *c = malloc(sizeof(double) * (size_t)(nc + 1));
  float *af = malloc(sizeof(float) * (size_t)(na + 1)), *bf = malloc(sizeof(float) * (size_t)(nb + 1));
  float *cf = malloc(sizeof(float) * (size_t)(nc + 1));
  for (int64_t i = 0; i < na; i++) af[i] = (float)(a[i] = ((i * 7) % 13 - 6) / 8.0);
  for (int64_t i = 0; i < nb; i++) bf[i] = (float)(b[i] = ((i * 5) % 11 - 5) / 4.0);
  for (int64_t i = 0; i < nc; i++) c[i] = cf[i] = NAN;
  nnrt_dgemm_batch(ta, tb, m, n, k, count, 1, a, lda, sa, 0, b, ldb, sb, 0, c, n, m * n, 0);
  nnrt_sgemm_batch(ta, tb, m, n, k, count, 1, af, lda, sa, 0, bf, ldb, sb, 0, cf, n, m * n, 0);
  for (int64_t q = 0; q < count; q++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double want = ref(ta, tb, a + q * sa, lda, b + q * sb, ldb, i, j, k);
        double got = c[q * m * n + i * n + j], gotf = cf[q * m * n + i * n + j];
        if (!(fabs(got - want) <= 1e-12 * (1 + fabs(want))) || !(fabs(gotf - want) <= 1e-4 * (1 + fabs(want))))
          fail_msg("batch %lld of %lld, m=%lld n=%lld k=%lld ta=%d tb=%d sa=%lld sb=%lld at (%lld,%lld): want %.12g, "
                   "dgemm %.12g, sgemm %.9g", (long long)q, (long long)count, (long long)m, (long long)n, (long long)k,
                   ta, tb, (long long)sa, (long long)sb, (long long)i, (long long)j, want, got, gotf);
      }
  free(a); free(b); free(c); free(af); free(bf); free(cf);
}

static void test_batch(void **st) {
  (void)st;
  const int64_t sizes[][4] = {{2, 3, 4, 3}, {16, 16, 16, 2}, {33, 17, 9, 4}, {1, 1, 1, 1}, {3, 2, 5, 0}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (int t = 0; t < 16; t++)
      check_batch(sizes[s][0], sizes[s][1], sizes[s][2], sizes[s][3], t & 1, t >> 1 & 1, t >> 2 & 1, t >> 3 & 1);
}

/* Two-level batch strides, as attention's heads read in place: A's
 * matrices are the heads of rows [n1, m, n2·k] (head i2 of sample i1 at
 * i1·m·n2·k + i2·k, leading dimension n2·k); B's the same of [n1, k, n2·n]
 * (or transposed, [n1, n, n2·k]); C's written merged the same way, into
 * [n1, m, n2·n].  Bits equal to the 2-D call on each head copied out. */
static void test_batch_strided(void **st) {
  (void)st;
  const int64_t n1 = 3, n2 = 4, m = 5, n = 7, k = 6;
  for (int tb = 0; tb < 2; tb++) {
    int64_t ldb = tb ? n2 * k : n2 * n, brows = tb ? n : k, bcols = tb ? k : n;
    float *a = malloc(sizeof(float) * (size_t)(n1 * m * n2 * k)), *b = malloc(sizeof(float) * (size_t)(n1 * brows * ldb));
    float *c = malloc(sizeof(float) * (size_t)(n1 * n2 * m * n)), *want = malloc(sizeof(float) * (size_t)(m * n));
    float *ha = malloc(sizeof(float) * (size_t)(m * k)), *hb = malloc(sizeof(float) * (size_t)(brows * bcols));
    for (int64_t i = 0; i < n1 * m * n2 * k; i++) a[i] = (float)((i * 7) % 13 - 6) / 8.0f;
    for (int64_t i = 0; i < n1 * brows * ldb; i++) b[i] = (float)((i * 5) % 11 - 5) / 4.0f;
    /* C merged as it is written: head i2 of sample i1 at i1·m·n2·n + i2·n, ldc n2·n */
    nnrt_sgemm_batch(0, tb, m, n, k, n1, n2, a, n2 * k, m * n2 * k, k, b, ldb, brows * ldb, bcols, c, n2 * n,
                     m * n2 * n, n);
    for (int64_t i1 = 0; i1 < n1; i1++)
      for (int64_t i2 = 0; i2 < n2; i2++) {
        for (int64_t r = 0; r < m; r++)
          for (int64_t q = 0; q < k; q++) ha[r * k + q] = a[i1 * m * n2 * k + r * n2 * k + i2 * k + q];
        for (int64_t r = 0; r < brows; r++)
          for (int64_t q = 0; q < bcols; q++) hb[r * bcols + q] = b[i1 * brows * ldb + r * ldb + i2 * bcols + q];
        nnrt_sgemm(0, tb, m, n, k, 1.0f, ha, k, hb, bcols, 0.0f, want, n);
        for (int64_t r = 0; r < m; r++)
          assert_memory_equal(want + r * n, c + i1 * m * n2 * n + r * n2 * n + i2 * n, sizeof(float) * (size_t)n);
      }
    free(a), free(b), free(c), free(want), free(ha), free(hb);
  }
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Products of the models' shapes (and ones that split by rows, by columns,
 * along k — a weight's gradient over 2048 rows — and into 4 parts),
 * transposed both ways: first on one thread, then on
 * three; the bits must not change. */
static void test_split(void **st) {
  (void)st;
  static const int64_t shapes[][3] = {{128, 256, 784}, {784, 256, 128}, {128, 784, 256},
                                      {32, 1024, 256}, {40, 64, 1024},  {512, 512, 300},
                                      {512, 128, 2048}, {128, 128, 2048}, {96, 64, 4096}};
  enum { NS = sizeof shapes / sizeof shapes[0] };
  float *first[NS][4] = {{0}};
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1)
      nnrt_threads_set(3);
    for (int s = 0; s < NS; s++)
      for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        int64_t lda = ta ? m : k, ldb = tb ? k : n;
        float *a = malloc(sizeof(float) * (size_t)(m * k)), *b = malloc(sizeof(float) * (size_t)(k * n));
        float *c = malloc(sizeof(float) * (size_t)(m * n));
        for (int64_t i = 0; i < m * k; i++) a[i] = (float)((i * 7919) % 101 - 50) / 64.0f;
        for (int64_t i = 0; i < k * n; i++) b[i] = (float)((i * 104729) % 97 - 48) / 32.0f;
        nnrt_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
        if (pass == 0) {
          for (int64_t i = 0; i < m; i += 7)
            for (int64_t j = 0; j < n; j += 5) {
              double r = 0;
              for (int64_t p = 0; p < k; p++)
                r += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
              assert_true(fabs(c[i * n + j] - r) <= 1e-4 * (1 + fabs(r)));
            }
          first[s][t] = c;
        } else {
          assert_memory_equal(first[s][t], c, sizeof(float) * (size_t)(m * n));
          free(first[s][t]);
          free(c);
        }
        free(a);
        free(b);
      }
  }
}

/* nnrt_sgemm_bias gives the bits of the product and then the bias (and
 * relu) loop, on every split (tiny: the plain loop; rows, columns, along
 * k) and on 1 and 3 threads. */
static void test_bias(void **st) {
  (void)st;
  static const int64_t shapes[][3] = {{4, 3, 2}, {2048, 384, 128}, {128, 784, 256}, {512, 128, 2048}, {40, 64, 1024}};
  for (int threads = 1; threads <= 3; threads += 2) {
    nnrt_threads_set(threads);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
      for (int t = 0; t < 8; t++) {
        int ta = t & 1, tb = t >> 1 & 1, relu = t >> 2;
        int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        int64_t lda = ta ? m : k, ldb = tb ? k : n;
        float *a = malloc(sizeof(float) * (size_t)(m * k)), *b = malloc(sizeof(float) * (size_t)(k * n));
        float *want = malloc(sizeof(float) * (size_t)(m * n)), *got = malloc(sizeof(float) * (size_t)(m * n));
        float *bias = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < m * k; i++) a[i] = (float)((i * 7919) % 101 - 50) / 64.0f;
        for (int64_t i = 0; i < k * n; i++) b[i] = (float)((i * 104729) % 97 - 48) / 32.0f;
        for (int64_t j = 0; j < n; j++) bias[j] = (float)((j * 31) % 13 - 6) / 3.0f;
        nnrt_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, want, n);
        for (int64_t i = 0; i < m * n; i++) {
          float x = want[i] + bias[i % n];
          want[i] = relu ? (x > 0.0f ? x : 0.0f) : x;
        }
        nnrt_sgemm_bias(ta, tb, m, n, k, a, lda, b, ldb, got, bias, relu);
        assert_memory_equal(want, got, sizeof(float) * (size_t)(m * n));
        free(a), free(b), free(want), free(got), free(bias);
      }
  }
  nnrt_threads_set(1);
}

static void bench(void) {
  static float a[64 * 64], b[64 * 64], c[64 * 64];
  static double ad[64 * 64], bd[64 * 64], cd[64 * 64];
  for (int s = 4; s <= 32; s += 4) {
    int reps = 20000;
    double t0 = now();
    for (int r = 0; r < reps; r++) nnrt_sgemm(0, 0, s, s, s, 1, a, s, b, s, 0, c, s);
    double t1 = now();
    for (int r = 0; r < reps; r++) nnrt_dgemm(0, 0, s, s, s, 1, ad, s, bd, s, 0, cd, s);
    double t2 = now();
    printf("m=n=k=%-3d m*n*k=%-6d sgemm %.2f us  dgemm %.2f us\n", s, s * s * s,
           (t1 - t0) / reps * 1e6, (t2 - t1) / reps * 1e6);
  }
}

int main(void) {
  if (getenv("NNRT_GEMM_BENCH"))
    bench();
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_all), cmocka_unit_test(test_batch),
                                     cmocka_unit_test(test_batch_strided),
                                     cmocka_unit_test(test_split), cmocka_unit_test(test_bias)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
