/*
 * test_init.c — initialisers: constants exact, uniform bounds, and the
 * standard deviations of xavier/he/lecun within sampling tolerance of
 * their formulas (Var U(−a, a) = a²/3), with fans that differ so that
 * swapping fan_in and fan_out would be caught.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>
#include "program.h"

enum { N = 100000 };
static double buf[N];
static float fbuf[N];

static void stats(const char *name, int nargs, const double *args, int64_t fi, int64_t fo,
                  double *mean, double *sd, double *lo, double *hi) {
  NnrtRng r;
  nnrt_rng_seed(&r, 1234);
  char err[256];
  assert_int_equal(nnrt_init_fill(&r, name, nargs, args, fi, fo, NNRT_F64, buf, N, err, sizeof err), 0);
  double s = 0, q = 0;
  *lo = INFINITY;
  *hi = -INFINITY;
  for (int i = 0; i < N; i++) {
    s += buf[i];
    q += buf[i] * buf[i];
    *lo = fmin(*lo, buf[i]);
    *hi = fmax(*hi, buf[i]);
  }
  *mean = s / N;
  *sd = sqrt(q / N - *mean * *mean);
}

static void expect(const char *name, int64_t fi, int64_t fo, double want_sd, double bound) {
  double mean, sd, lo, hi;
  stats(name, 0, NULL, fi, fo, &mean, &sd, &lo, &hi);
  if (fabs(mean) > 0.02 * want_sd * 3 || fabs(sd / want_sd - 1) > 0.01)
    fail_msg("%s(fan_in=%lld, fan_out=%lld): mean %g sd %g, expected 0 and %g", name,
             (long long)fi, (long long)fo, mean, sd, want_sd);
  if (bound > 0)
    assert_true(lo >= -bound && hi < bound && hi > 0.99 * bound);
}

static void test_fan_based(void **st) {
  (void)st;
  int64_t fi = 300, fo = 100;
  double xu = sqrt(6.0 / (fi + fo)), hu = sqrt(6.0 / fi);
  expect("xavier_uniform", fi, fo, xu / sqrt(3), xu);
  expect("glorot_uniform", fi, fo, xu / sqrt(3), xu);
  expect("xavier", fi, fo, xu / sqrt(3), xu);
  expect("xavier_normal", fi, fo, sqrt(2.0 / (fi + fo)), 0);
  expect("glorot_normal", fi, fo, sqrt(2.0 / (fi + fo)), 0);
  expect("he_uniform", fi, fo, hu / sqrt(3), hu);
  expect("kaiming_uniform", fi, fo, hu / sqrt(3), hu);
  expect("he_normal", fi, fo, sqrt(2.0 / fi), 0);
  expect("kaiming_normal", fi, fo, sqrt(2.0 / fi), 0);
  expect("lecun_normal", fi, fo, sqrt(1.0 / fi), 0);
  expect("lecun_uniform", fi, fo, 1 / sqrt((double)fi), sqrt(3.0 / fi));
}

static void test_plain(void **st) {
  (void)st;
  double mean, sd, lo, hi;
  double a[2] = {2.0, 0.5};
  stats("normal", 2, a, 0, 0, &mean, &sd, &lo, &hi);
  assert_true(fabs(mean - 2.0) < 0.01 && fabs(sd - 0.5) < 0.01);
  stats("normal", 0, NULL, 0, 0, &mean, &sd, &lo, &hi);
  assert_true(fabs(mean) < 0.02 && fabs(sd - 1) < 0.02);
  double b[2] = {-3, 5};
  stats("uniform", 2, b, 0, 0, &mean, &sd, &lo, &hi);
  assert_true(lo >= -3 && hi < 5 && fabs(mean - 1) < 0.05);
  double c[1] = {0.25};
  stats("uniform", 1, c, 0, 0, &mean, &sd, &lo, &hi);
  assert_true(lo >= -0.25 && hi < 0.25 && fabs(mean) < 0.01);
  stats("constant", 1, (double[]){0.75}, 0, 0, &mean, &sd, &lo, &hi);
  assert_true(lo == 0.75 && hi == 0.75);
  stats("zeros", 0, NULL, 0, 0, &mean, &sd, &lo, &hi);
  assert_true(lo == 0 && hi == 0);
  stats("ones", 0, NULL, 0, 0, &mean, &sd, &lo, &hi);
  assert_true(lo == 1 && hi == 1);
}

static void test_f32_and_determinism(void **st) {
  (void)st;
  NnrtRng r1, r2;
  nnrt_rng_seed(&r1, 9);
  nnrt_rng_seed(&r2, 9);
  char err[256];
  assert_int_equal(nnrt_init_fill(&r1, "he_normal", 0, NULL, 10, 5, NNRT_F32, fbuf, 100, err, sizeof err), 0);
  assert_int_equal(nnrt_init_fill(&r2, "he_normal", 0, NULL, 10, 5, NNRT_F64, buf, 100, err, sizeof err), 0);
  for (int i = 0; i < 100; i++)
    assert_true(fbuf[i] == (float)buf[i]);
}

static void test_errors(void **st) {
  (void)st;
  NnrtRng r;
  nnrt_rng_seed(&r, 1);
  char err[256];
  assert_int_equal(nnrt_init_fill(&r, "glorious", 0, NULL, 1, 1, NNRT_F64, buf, 4, err, sizeof err), -1);
  assert_non_null(strstr(err, "unknown initialiser 'glorious'"));
  assert_int_equal(nnrt_init_fill(&r, "he_normal", 0, NULL, 0, 1, NNRT_F64, buf, 4, err, sizeof err), -1);
  assert_non_null(strstr(err, "fan_in"));
  assert_int_equal(nnrt_init_fill(&r, "zeros", 0, NULL, 0, 0, NNRT_I32, buf, 4, err, sizeof err), -1);
  assert_true(nnrt_init_known("kaiming_normal"));
  assert_false(nnrt_init_known("kaiming_normall"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fan_based), cmocka_unit_test(test_plain),
    cmocka_unit_test(test_f32_and_determinism), cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
