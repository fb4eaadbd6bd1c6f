/*
 * test_augment.c — the image transforms of `augment = images(...)`
 * (runtime/augment.c): crop offsets and the documented draw order, crops as
 * shifts with zero fill, flips, rotation by 0 (identity) and by +-90 and
 * 180 degrees (exact transposes and flips of square images), zeros outside
 * a rotated image, and the description errors of nnrt_augment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "program.h"

/* An n x m image with distinct values: a[y][x] = 1 + y * m + x. */
static void fill(float *a, int64_t h, int64_t w) {
  for (int64_t i = 0; i < h * w; i++)
    a[i] = (float)(1 + i);
}

static void test_crop_draws(void **st) {
  (void)st;
  NnrtAugment a = {.on = true, .crop = 2};
  NnrtRng r;
  nnrt_rng_seed(&r, 7);
  int count[5] = {0};
  for (int i = 0; i < 50000; i++) {
    NnrtAugDraw d;
    nnrt_augment_draw(&a, &r, &d);
    assert_true(d.dy >= 0 && d.dy <= 4 && d.dx >= 0 && d.dx <= 4);
    assert_false(d.flip);
    assert_true(d.angle == 0);
    count[d.dy]++;
  }
  for (int k = 0; k < 5; k++)
    assert_true(abs(count[k] - 10000) < 500);
  /* nothing enabled: the centred crop, and no draws at all */
  NnrtAugment none = {.on = true};
  NnrtRng before = r;
  NnrtAugDraw d;
  nnrt_augment_draw(&none, &r, &d);
  assert_true(d.dy == 0 && d.dx == 0 && !d.flip && d.angle == 0);
  assert_memory_equal(&before, &r, sizeof r);
}

/* The documented order: dy, dx, flip, angle, one uniform each. */
static void test_draw_order(void **st) {
  (void)st;
  NnrtAugment a = {.on = true, .crop = 3, .flip = true, .rotate = 10};
  NnrtRng r, q;
  nnrt_rng_seed(&r, 11);
  nnrt_rng_seed(&q, 11);
  for (int i = 0; i < 100; i++) {
    NnrtAugDraw d;
    nnrt_augment_draw(&a, &r, &d);
    double u0 = nnrt_rng_uniform(&q), u1 = nnrt_rng_uniform(&q);
    double u2 = nnrt_rng_uniform(&q), u3 = nnrt_rng_uniform(&q);
    assert_true(d.dy == (int64_t)(u0 * 7) && d.dx == (int64_t)(u1 * 7));
    assert_true(d.flip == (u2 < 0.5));
    assert_true(d.angle == (2 * u3 - 1) * 10);
    assert_true(fabs(d.angle) <= 10);
  }
  assert_memory_equal(&r, &q, sizeof r);
}

static void test_crop_shift(void **st) {
  (void)st;
  enum { H = 4, W = 5 };
  float a[H * W], b[H * W];
  fill(a, H, W);
  NnrtAugDraw centred = {.dy = 2, .dx = 2};
  nnrt_augment_image_f32(b, a, H, W, 2, &centred);
  assert_memory_equal(a, b, sizeof a);
  /* offset (0, 4) of the 2-padded image: down 2 rows, left 2 columns */
  NnrtAugDraw d = {.dy = 0, .dx = 4};
  nnrt_augment_image_f32(b, a, H, W, 2, &d);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int sy = y - 2, sx = x + 2;
      float want = sy >= 0 && sx < W ? a[sy * W + sx] : 0;
      assert_true(b[y * W + x] == want);
    }
}

static void test_flip(void **st) {
  (void)st;
  enum { H = 3, W = 4 };
  float a[H * W], b[H * W], c[H * W];
  fill(a, H, W);
  NnrtAugDraw d = {.flip = true};
  nnrt_augment_image_f32(b, a, H, W, 0, &d);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      assert_true(b[y * W + x] == a[y * W + (W - 1 - x)]);
  nnrt_augment_image_f32(c, b, H, W, 0, &d);
  assert_memory_equal(a, c, sizeof a);
}

static void test_rotate_identity(void **st) {
  (void)st;
  enum { H = 5, W = 7 };
  float a[H * W], b[H * W];
  fill(a, H, W);
  NnrtAugDraw d = {.dy = 1, .dx = 1, .angle = 0};
  nnrt_augment_image_f32(b, a, H, W, 1, &d);
  assert_memory_equal(a, b, sizeof a);
  double a64[H * W], b64[H * W];
  for (int i = 0; i < H * W; i++)
    a64[i] = a[i] / 3.0;
  nnrt_augment_image_f64(b64, a64, H, W, 1, &d);
  assert_memory_equal(a64, b64, sizeof a64);
}

/* Rotating a square image by 90 degrees (counter-clockwise as displayed)
 * is a transpose then a vertical flip, b[y][x] = a[x][n-1-y], exactly;
 * -90 is b[y][x] = a[n-1-x][y] and 180 is b[y][x] = a[n-1-y][n-1-x]. */
static void test_rotate_90(void **st) {
  (void)st;
  for (int n = 4; n <= 5; n++) { /* centre on a pixel corner and on a pixel */
    float a[25], b[25];
    fill(a, n, n);
    NnrtAugDraw d = {.angle = 90};
    nnrt_augment_image_f32(b, a, n, n, 0, &d);
    for (int y = 0; y < n; y++)
      for (int x = 0; x < n; x++)
        assert_true(b[y * n + x] == a[x * n + (n - 1 - y)]);
    d.angle = -90;
    nnrt_augment_image_f32(b, a, n, n, 0, &d);
    for (int y = 0; y < n; y++)
      for (int x = 0; x < n; x++)
        assert_true(b[y * n + x] == a[(n - 1 - x) * n + y]);
    d.angle = 180;
    nnrt_augment_image_f32(b, a, n, n, 0, &d);
    for (int y = 0; y < n; y++)
      for (int x = 0; x < n; x++)
        assert_true(b[y * n + x] == a[(n - 1 - y) * n + (n - 1 - x)]);
  }
}

/* A rotated all-ones image: zeros in the corners (outside the source),
 * ones at the centre, everything in [0, 1]; a pure crop pads with zeros. */
static void test_zeros_outside(void **st) {
  (void)st;
  enum { N = 9 };
  float a[N * N], b[N * N];
  for (int i = 0; i < N * N; i++)
    a[i] = 1;
  NnrtAugDraw d = {.angle = 45};
  nnrt_augment_image_f32(b, a, N, N, 0, &d);
  assert_true(b[0] == 0 && b[N - 1] == 0 && b[(N - 1) * N] == 0 && b[N * N - 1] == 0);
  assert_true(fabsf(b[(N / 2) * N + N / 2] - 1) < 1e-6f);
  for (int i = 0; i < N * N; i++)
    assert_true(b[i] >= 0 && b[i] <= 1 + 1e-6f);
  /* a small angle moves little: the centre row stays near 1 */
  d.angle = 3;
  nnrt_augment_image_f32(b, a, N, N, 0, &d);
  assert_true(fabsf(b[(N / 2) * N + N / 2] - 1) < 1e-6f);
  /* a corner crop: two zero rows at the top, two zero columns on the left */
  NnrtAugDraw c = {.dy = 0, .dx = 0};
  nnrt_augment_image_f32(b, a, N, N, 2, &c);
  for (int y = 0; y < N; y++)
    for (int x = 0; x < N; x++)
      assert_true(b[y * N + x] == (y < 2 || x < 2 ? 0 : 1));
}

static NnrtProgram *program(int rank, const int64_t *dims) {
  NnrtProgram *p = nnrt_alloc(sizeof *p, "test program");
  memset(p, 0, sizeof *p);
  nnrt_program(p, "m", "m.nn");
  nnrt_slot(p, 0, NNRT_SLOT_INPUT, "x", NNRT_F32, rank, dims);
  nnrt_input(p, 0, "x");
  int64_t ydims[] = {NNRT_BATCH};
  nnrt_slot(p, 1, NNRT_SLOT_INPUT, "y", NNRT_I32, 1, ydims);
  nnrt_input(p, 1, "y");
  return p;
}

static void test_describe(void **st) {
  (void)st;
  const char *keys[] = {"crop", "flip", "rotate"};
  double vals[] = {2, 1, 10};
  int64_t img[] = {NNRT_BATCH, 1, 28, 28}, flat[] = {NNRT_BATCH, 784};
  NnrtProgram *p = program(4, img);
  assert_true(nnrt_slot_is_image(&p->slots[0]));
  assert_false(nnrt_slot_is_image(&p->slots[1]));
  nnrt_augment(p, 0, "images", 3, keys, vals);
  assert_false(p->failed);
  assert_true(p->augment.on && p->augment.crop == 2 && p->augment.flip && p->augment.rotate == 10);
  nnrt_program_free(p);

  p = program(2, flat); /* no image input: one clear error */
  nnrt_augment(p, 0, "images", 3, keys, vals);
  assert_true(p->failed);
  assert_non_null(strstr(p->err, "needs an image input"));
  nnrt_program_free(p);

  p = program(4, img);
  const char *bad[] = {"crop", "zoom"};
  nnrt_augment(p, 0, "images", 2, bad, vals);
  assert_true(p->failed && strstr(p->err, "unknown key 'zoom'"));
  nnrt_program_free(p);

  p = program(4, img);
  double half[] = {1.5};
  nnrt_augment(p, 0, "images", 1, keys, half);
  assert_true(p->failed && strstr(p->err, "bad crop"));
  nnrt_program_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_crop_draws), cmocka_unit_test(test_draw_order),
    cmocka_unit_test(test_crop_shift), cmocka_unit_test(test_flip),
    cmocka_unit_test(test_rotate_identity), cmocka_unit_test(test_rotate_90),
    cmocka_unit_test(test_zeros_outside), cmocka_unit_test(test_describe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
