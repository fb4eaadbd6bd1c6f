/*
 * test_rand.c — the generator: same seed same stream, different seeds
 * different streams, the published xoshiro256** output for a known state,
 * uniform and normal moments, shuffles that are permutations and unbiased
 * enough, and state copies that reproduce the stream (what resume relies on).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnrt.h"

static void test_reference(void **st) {
  (void)st;
  /* xoshiro256** with state {1, 2, 3, 4}: the reference implementation
   * (prng.di.unimi.it) gives 11520, 0, 1509978240, 1215971899390074240. */
  NnrtRng r = {{1, 2, 3, 4}};
  assert_true(nnrt_rng_next(&r) == 11520ull);
  assert_true(nnrt_rng_next(&r) == 0ull);
  assert_true(nnrt_rng_next(&r) == 1509978240ull);
  assert_true(nnrt_rng_next(&r) == 1215971899390074240ull);
}

static void test_determinism(void **st) {
  (void)st;
  NnrtRng a, b, c;
  nnrt_rng_seed(&a, 42);
  nnrt_rng_seed(&b, 42);
  nnrt_rng_seed(&c, 43);
  int differ = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = nnrt_rng_next(&a);
    assert_true(x == nnrt_rng_next(&b));
    differ += x != nnrt_rng_next(&c);
  }
  assert_true(differ > 990);
  NnrtRng saved = a; /* a copy of the state continues the same stream */
  double u = nnrt_rng_normal(&a);
  assert_true(u == nnrt_rng_normal(&saved));
}

static void test_uniform_moments(void **st) {
  (void)st;
  NnrtRng r;
  nnrt_rng_seed(&r, 7);
  int n = 200000;
  double sum = 0, sq = 0, lo = 1, hi = 0;
  for (int i = 0; i < n; i++) {
    double u = nnrt_rng_uniform(&r);
    assert_true(u >= 0 && u < 1);
    sum += u;
    sq += u * u;
    lo = fmin(lo, u);
    hi = fmax(hi, u);
  }
  double mean = sum / n, var = sq / n - mean * mean;
  assert_true(fabs(mean - 0.5) < 0.005);
  assert_true(fabs(var - 1.0 / 12) < 0.002);
  assert_true(lo < 1e-4 && hi > 1 - 1e-4);
}

static void test_normal_moments(void **st) {
  (void)st;
  NnrtRng r;
  nnrt_rng_seed(&r, 11);
  int n = 200000, within1 = 0;
  double sum = 0, sq = 0;
  for (int i = 0; i < n; i++) {
    double z = nnrt_rng_normal(&r);
    assert_true(isfinite(z));
    sum += z;
    sq += z * z;
    within1 += fabs(z) < 1;
  }
  double mean = sum / n, var = sq / n - mean * mean;
  assert_true(fabs(mean) < 0.01);
  assert_true(fabs(var - 1) < 0.02);
  assert_true(fabs((double)within1 / n - 0.6827) < 0.005);
}

static void test_shuffle(void **st) {
  (void)st;
  NnrtRng r;
  nnrt_rng_seed(&r, 3);
  /* every element of 4 lands in every position about equally often */
  int count[4][4] = {{0}};
  for (int trial = 0; trial < 40000; trial++) {
    int64_t idx[4] = {0, 1, 2, 3};
    nnrt_rng_shuffle(&r, idx, 4);
    int seen = 0;
    for (int i = 0; i < 4; i++) {
      seen |= 1 << idx[i];
      count[idx[i]][i]++;
    }
    assert_int_equal(seen, 15);
  }
  for (int e = 0; e < 4; e++)
    for (int i = 0; i < 4; i++)
      assert_true(abs(count[e][i] - 10000) < 400);
  int64_t one = 5;
  nnrt_rng_shuffle(&r, &one, 1);
  nnrt_rng_shuffle(&r, NULL, 0);
  assert_true(one == 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reference), cmocka_unit_test(test_determinism),
    cmocka_unit_test(test_uniform_moments), cmocka_unit_test(test_normal_moments),
    cmocka_unit_test(test_shuffle),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
