/*
 * test_png.c — the PNG writer (runtime/png.c): the signature, an IHDR with
 * the right size and colour type, a CRC on every chunk that matches its
 * type and data, one IDAT that inflates back to the filtered rows, IEND
 * last; grey and RGB; bad sizes, a failed allocation and an unwritable
 * path are clean errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "internal.h"
#include "png.h"

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walk the chunks of a PNG, checking CRCs; returns the inflated IDAT. */
static uint8_t *check_png(const uint8_t *png, size_t len, int64_t w, int64_t h, int channels) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  assert_true(len > 8);
  assert_memory_equal(png, sig, 8);
  size_t at = 8;
  int nchunks = 0, nidat = 0;
  bool end = false;
  size_t raw_len = (size_t)(w * channels + 1) * (size_t)h;
  uint8_t *raw = malloc(raw_len);
  while (at < len) {
    assert_false(end); /* nothing after IEND */
    assert_true(at + 12 <= len);
    uint32_t n = get32(png + at);
    assert_true(at + 12 + n <= len);
    const uint8_t *type = png + at + 4, *data = png + at + 8;
    uLong crc = crc32(crc32(0L, Z_NULL, 0), type, n + 4);
    assert_int_equal(get32(data + n), (uint32_t)crc);
    if (nchunks == 0) {
      assert_memory_equal(type, "IHDR", 4);
      assert_int_equal(n, 13);
      assert_int_equal(get32(data), (uint32_t)w);
      assert_int_equal(get32(data + 4), (uint32_t)h);
      assert_int_equal(data[8], 8);
      assert_int_equal(data[9], channels == 3 ? 2 : 0);
      assert_int_equal(data[10] | data[11] | data[12], 0);
    } else if (!memcmp(type, "IDAT", 4)) {
      uLongf got = (uLongf)raw_len;
      assert_int_equal(uncompress(raw, &got, data, n), Z_OK);
      assert_int_equal(got, raw_len);
      nidat++;
    } else {
      assert_memory_equal(type, "IEND", 4);
      assert_int_equal(n, 0);
      end = true;
    }
    nchunks++;
    at += 12 + n;
  }
  assert_true(end);
  assert_int_equal(nidat, 1);
  return raw;
}

static void roundtrip(int64_t w, int64_t h, int channels) {
  size_t row = (size_t)(w * channels);
  uint8_t *pix = malloc(row * (size_t)h);
  for (size_t i = 0; i < row * (size_t)h; i++)
    pix[i] = (uint8_t)(i * 37 + i / 7);
  uint8_t *png;
  size_t len;
  char err[128];
  assert_int_equal(nnrt_png_encode(pix, w, h, channels, &png, &len, err, sizeof err), 0);
  uint8_t *raw = check_png(png, len, w, h, channels);
  for (int64_t y = 0; y < h; y++) {
    assert_int_equal(raw[(size_t)y * (row + 1)], 0); /* filter: none */
    assert_memory_equal(raw + (size_t)y * (row + 1) + 1, pix + (size_t)y * row, row);
  }
  free(raw);
  nnrt_free(png);
  free(pix);
}

static void test_grey(void **state) { (void)state; roundtrip(28, 28, 1); }
static void test_rgb(void **state) { (void)state; roundtrip(13, 7, 3); }
static void test_one_pixel(void **state) { (void)state; roundtrip(1, 1, 1); }

static void test_file(void **state) {
  (void)state;
  uint8_t pix[2 * 3 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9, 80, 80, 80, 200, 200, 200};
  char path[] = "/tmp/nnc_test_png_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  char err[256];
  assert_int_equal(nnrt_png_write(path, pix, 3, 2, 3, err, sizeof err), 0);
  FILE *f = fopen(path, "rb");
  uint8_t buf[4096];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  remove(path);
  free(check_png(buf, len, 3, 2, 3));
}

static void test_errors(void **state) {
  (void)state;
  uint8_t pix[4] = {0};
  uint8_t *png;
  size_t len;
  char err[256];
  assert_int_equal(nnrt_png_encode(pix, 2, 2, 2, &png, &len, err, sizeof err), -1);
  assert_non_null(strstr(err, "channels"));
  assert_int_equal(nnrt_png_encode(pix, 0, 2, 1, &png, &len, err, sizeof err), -1);
  nnrt_alloc_fail_after(0);
  assert_int_equal(nnrt_png_encode(pix, 2, 2, 1, &png, &len, err, sizeof err), -1);
  nnrt_alloc_fail_after(-1);
  assert_non_null(strstr(err, "out of memory"));
  assert_int_equal(nnrt_png_write("/nonexistent-dir/x.png", pix, 2, 2, 1, err, sizeof err), -1);
  assert_non_null(strstr(err, "/nonexistent-dir/x.png"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_grey),   cmocka_unit_test(test_rgb),    cmocka_unit_test(test_one_pixel),
    cmocka_unit_test(test_file),   cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
