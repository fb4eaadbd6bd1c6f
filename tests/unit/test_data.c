/*
 * test_data.c — the IDX, CSV and .npy loaders (runtime/data/).
 *
 * Good files are written into a fresh mkdtemp directory and loaded back;
 * each format then gets a battery of truncated (cut at every byte), corrupt
 * and malicious inputs that must fail with -1 and a message naming the file,
 * an allocation-failure sweep, and a short seeded mutation run on the buffer
 * entry points (a smoke test for the libFuzzer targets, not a substitute).
 * Fashion-MNIST is loaded when the Debian dataset package is installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"

static char tmpdir[] = "/tmp/nnrt_test_data_XXXXXX";
static char err[512];

static int group_setup(void **state) {
  (void)state;
  setenv("NNRT_CACHE", "0", 1); // test_idx_cache turns it on, in a folder of its own
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state) { // the directory is flat
  (void)state;
  DIR *d = opendir(tmpdir);
  for (struct dirent *e; d && (e = readdir(d));) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      unlink(p);
  }
  if (d)
    closedir(d);
  return rmdir(tmpdir);
}

// The path of tmpdir/name (a static buffer per call site is enough here).
static const char *tpath(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

static const char *write_file(const char *name, const void *data, size_t len) {
  const char *p = tpath(name);
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  return p;
}

static const char *write_gz(const char *name, const void *data, size_t len) {
  const char *p = tpath(name);
  gzFile g = gzopen(p, "wb9");
  assert_non_null(g);
  assert_int_equal(gzwrite(g, data, (unsigned)len), (int)len);
  assert_int_equal(gzclose(g), Z_OK);
  return p;
}

static unsigned char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*len + 1);
  assert_int_equal(fread(b, 1, *len, f), *len);
  fclose(f);
  return b;
}

// rc must be -1, with a message that names the file (and, if given, says what).
static void expect_fail_(int rc, const char *name, const char *what, int line) {
  if (rc != -1 || !strstr(err, name) || (what && !strstr(err, what)))
    fail_msg("line %d: expected failure naming '%s' (%s), got rc %d: %s", line, name,
             what ? what : "", rc, err);
}
#define expect_fail(rc, name, what) expect_fail_((rc), (name), (what), __LINE__)

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

// ---- IDX --------------------------------------------------------------------

static size_t idx_header(unsigned char *b, int type, int rank, const uint32_t *dims) {
  b[0] = b[1] = 0;
  b[2] = (unsigned char)type;
  b[3] = (unsigned char)rank;
  for (int i = 0; i < rank; i++)
    for (int k = 0; k < 4; k++)
      b[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
  return 4 + 4 * (size_t)rank;
}

// A 2x3x4 u8 file: 16 header bytes + 24 data bytes 0..23.
static size_t idx_small(unsigned char *b) {
  uint32_t dims[3] = {2, 3, 4};
  size_t n = idx_header(b, 0x08, 3, dims);
  for (int i = 0; i < 24; i++)
    b[n + i] = (unsigned char)i;
  return n + 24;
}

static void check_small(const NnrtArray *a) {
  assert_int_equal(a->dtype, NNRT_U8);
  assert_int_equal(a->rank, 3);
  assert_int_equal(a->dims[0], 2);
  assert_int_equal(a->dims[1], 3);
  assert_int_equal(a->dims[2], 4);
  assert_int_equal(nnrt_array_count(a), 24);
  for (int i = 0; i < 24; i++)
    assert_int_equal(((unsigned char *)a->data)[i], i);
}

static void test_dtype_helpers(void **state) {
  (void)state;
  assert_int_equal(nnrt_dtype_size(NNRT_F32), 4);
  assert_int_equal(nnrt_dtype_size(NNRT_F64), 8);
  assert_int_equal(nnrt_dtype_size(NNRT_I32), 4);
  assert_int_equal(nnrt_dtype_size(NNRT_U8), 1);
  assert_string_equal(nnrt_dtype_name(NNRT_F32), "F32");
  assert_string_equal(nnrt_dtype_name(NNRT_U8), "U8");
  uint64_t bytes;
  int64_t ok[2] = {3, 5}, neg[2] = {3, -1}, big[3] = {INT64_MAX, 2, 2};
  assert_int_equal(nnrt_shape_bytes(NNRT_F64, 2, ok, UINT64_MAX, &bytes), 0);
  assert_int_equal(bytes, 120);
  assert_int_equal(nnrt_shape_bytes(NNRT_F64, 0, ok, UINT64_MAX, &bytes), 0);
  assert_int_equal(bytes, 8);
  assert_int_equal(nnrt_shape_bytes(NNRT_F64, 2, ok, 119, &bytes), -1);
  assert_int_equal(nnrt_shape_bytes(NNRT_F64, 2, neg, UINT64_MAX, &bytes), -1);
  assert_int_equal(nnrt_shape_bytes(NNRT_U8, 3, big, UINT64_MAX, &bytes), -1);
  assert_int_equal(nnrt_shape_bytes(NNRT_U8, 9, ok, UINT64_MAX, &bytes), -1);
  NnrtArray a = {0};
  nnrt_array_free(&a);
  nnrt_array_free(NULL);
}

static void test_idx_plain_and_gz(void **state) {
  (void)state;
  unsigned char b[64];
  size_t n = idx_small(b);
  NnrtArray a;
  assert_int_equal(nnrt_load_idx(write_file("s.idx", b, n), &a, err, sizeof err), 0);
  check_small(&a);
  nnrt_array_free(&a);
  nnrt_array_free(&a); // twice is harmless
  assert_int_equal(nnrt_load_idx(write_gz("s.idx.gz", b, n), &a, err, sizeof err), 0);
  check_small(&a);
  nnrt_array_free(&a);
  size_t gl;
  unsigned char *g = read_all(tpath("s.idx.gz"), &gl);
  assert_int_equal(nnrt_parse_idx_buffer(g, gl, "mem.gz", &a, err, sizeof err), 0);
  check_small(&a);
  nnrt_array_free(&a);

  // Two gzip members (as `cat a.gz b.gz` makes) form one stream.
  unsigned char *two = malloc(2 * gl + 64);
  size_t h1 = 0;
  {
    const char *p1 = write_gz("m1.gz", b, 16), *p2 = write_gz("m2.gz", b + 16, n - 16);
    size_t l1, l2;
    unsigned char *x1 = read_all(p1, &l1), *x2 = read_all(p2, &l2);
    memcpy(two, x1, l1);
    memcpy(two + l1, x2, l2);
    h1 = l1 + l2;
    free(x1);
    free(x2);
  }
  assert_int_equal(nnrt_parse_idx_buffer(two, h1, "two.gz", &a, err, sizeof err), 0);
  check_small(&a);
  nnrt_array_free(&a);
  free(two);
  free(g);
}

static void test_idx_types(void **state) {
  (void)state;
  unsigned char b[128];
  uint32_t d3[1] = {3};
  NnrtArray a;
  // i8
  size_t n = idx_header(b, 0x09, 1, d3);
  b[n] = 0x80, b[n + 1] = 0x7f, b[n + 2] = 0xff;
  assert_int_equal(nnrt_parse_idx_buffer(b, n + 3, "i8", &a, err, sizeof err), 0);
  assert_int_equal(a.dtype, NNRT_I32);
  assert_int_equal(((int32_t *)a.data)[0], -128);
  assert_int_equal(((int32_t *)a.data)[1], 127);
  assert_int_equal(((int32_t *)a.data)[2], -1);
  nnrt_array_free(&a);
  // i16, big-endian
  n = idx_header(b, 0x0B, 1, d3);
  unsigned char i16[6] = {0xfe, 0xd4, 0x03, 0xe8, 0x80, 0x00}; // -300 1000 -32768
  memcpy(b + n, i16, 6);
  assert_int_equal(nnrt_parse_idx_buffer(b, n + 6, "i16", &a, err, sizeof err), 0);
  assert_int_equal(((int32_t *)a.data)[0], -300);
  assert_int_equal(((int32_t *)a.data)[1], 1000);
  assert_int_equal(((int32_t *)a.data)[2], -32768);
  nnrt_array_free(&a);
  // i32
  n = idx_header(b, 0x0C, 1, d3);
  unsigned char i32[12] = {0xff, 0xff, 0xff, 0xfe, 0x00, 0x01, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff};
  memcpy(b + n, i32, 12);
  assert_int_equal(nnrt_parse_idx_buffer(b, n + 12, "i32", &a, err, sizeof err), 0);
  assert_int_equal(((int32_t *)a.data)[0], -2);
  assert_int_equal(((int32_t *)a.data)[1], 65536);
  assert_int_equal(((int32_t *)a.data)[2], INT32_MAX);
  nnrt_array_free(&a);
  // f32: 1.5 -2.25 0
  n = idx_header(b, 0x0D, 1, d3);
  unsigned char f32[12] = {0x3f, 0xc0, 0, 0, 0xc0, 0x10, 0, 0, 0, 0, 0, 0};
  memcpy(b + n, f32, 12);
  assert_int_equal(nnrt_parse_idx_buffer(b, n + 12, "f32", &a, err, sizeof err), 0);
  assert_int_equal(a.dtype, NNRT_F32);
  assert_true(((float *)a.data)[0] == 1.5f && ((float *)a.data)[1] == -2.25f);
  nnrt_array_free(&a);
  // f64: 1.5 -2.25 0, as a gzipped file
  n = idx_header(b, 0x0E, 1, d3);
  unsigned char f64[24] = {0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0x02, 0, 0, 0, 0, 0, 0};
  memcpy(b + n, f64, 24);
  assert_int_equal(nnrt_load_idx(write_gz("f64.gz", b, n + 24), &a, err, sizeof err), 0);
  assert_int_equal(a.dtype, NNRT_F64);
  assert_true(((double *)a.data)[0] == 1.5 && ((double *)a.data)[1] == -2.25 &&
              ((double *)a.data)[2] == 0);
  nnrt_array_free(&a);
  // A zero dim is an empty array, not an error.
  uint32_t d0[2] = {0, 5};
  n = idx_header(b, 0x08, 2, d0);
  assert_int_equal(nnrt_parse_idx_buffer(b, n, "empty", &a, err, sizeof err), 0);
  assert_int_equal(nnrt_array_count(&a), 0);
  nnrt_array_free(&a);
}

static void test_idx_truncated(void **state) {
  (void)state;
  unsigned char b[64], cut[64];
  size_t n = idx_small(b);
  NnrtArray a;
  for (size_t k = 0; k < n; k++) {
    memcpy(cut, b, k);
    expect_fail(nnrt_parse_idx_buffer(cut, k, "cut.idx", &a, err, sizeof err), "cut.idx", NULL);
    assert_null(a.data);
    expect_fail(nnrt_load_idx(write_file("cut.idx", cut, k), &a, err, sizeof err), "cut.idx", NULL);
  }
  expect_fail(nnrt_parse_idx_buffer(NULL, 0, "null.idx", &a, err, sizeof err), "null.idx",
              "truncated");
  expect_fail(nnrt_parse_idx_buffer(b, 20, "t.idx", &a, err, sizeof err), "t.idx: byte 16",
              "truncated");
  b[n] = 0;
  expect_fail(nnrt_parse_idx_buffer(b, n + 1, "long.idx", &a, err, sizeof err), "long.idx: byte 40",
              "trailing");
  expect_fail(nnrt_load_idx(tpath("missing.idx"), &a, err, sizeof err), "missing.idx",
              "cannot open");

  // Every cut of the gzipped file fails too (the gzip trailer guards the end).
  size_t gl;
  unsigned char *g = read_all(write_gz("cut.gz", b, n), &gl);
  for (size_t k = 0; k < gl; k++)
    expect_fail(nnrt_load_idx(write_file("cut.idx.gz", g, k), &a, err, sizeof err), "cut.idx.gz",
                NULL);
  // Longer than the header says, inside the gzip stream.
  free(g);
  g = read_all(write_gz("long.gz", b, n + 1), &gl);
  expect_fail(nnrt_parse_idx_buffer(g, gl, "long.gz", &a, err, sizeof err),
              "long.gz: byte 40 (decompressed)", "trailing");
  free(g);
}

static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    n += e->d_name[0] != '.';
  if (d)
    closedir(d);
  return n;
}

static void remove_files(const char *dir) {
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (e->d_name[0] != '.')
      unlink(p);
  }
  if (d)
    closedir(d);
}

static const char *only_file(const char *dir) {
  static char p[1200];
  DIR *d = opendir(dir);
  p[0] = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (e->d_name[0] != '.')
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
  if (d)
    closedir(d);
  return p;
}

// data/idx_cache.c: a gzipped file's array is kept and read back the same;
// a damaged or stale cache file is a miss, never other data.
static void test_idx_cache(void **state) {
  (void)state;
  char dir[600];
  snprintf(dir, sizeof dir, "%s/cache.d", tmpdir);
  assert_int_equal(mkdir(dir, 0700), 0);
  setenv("NNRT_CACHE", dir, 1);
  unsigned char b[64];
  size_t n = idx_small(b);
  const char *src = write_gz("c1.idx.gz", b, n);
  char path[600];
  snprintf(path, sizeof path, "%s", src);
  NnrtArray a;
  assert_int_equal(nnrt_load_idx(path, &a, err, sizeof err), 0); // inflated, then kept
  check_small(&a);
  nnrt_array_free(&a);
  assert_int_equal(count_files(dir), 1);
  assert_int_equal(nnrt_load_idx(path, &a, err, sizeof err), 0); // read back
  check_small(&a);
  nnrt_array_free(&a);
  // a truncated cache file is a miss, and is written again
  char cfile[1200];
  snprintf(cfile, sizeof cfile, "%s", only_file(dir));
  struct stat full;
  assert_int_equal(stat(cfile, &full), 0);
  assert_int_equal(truncate(cfile, full.st_size - 1), 0);
  assert_int_equal(nnrt_load_idx(path, &a, err, sizeof err), 0);
  check_small(&a);
  nnrt_array_free(&a);
  struct stat again;
  assert_int_equal(stat(cfile, &again), 0);
  assert_int_equal(again.st_size, full.st_size);
  // a cache file whose header names another shape is a miss too
  FILE *f = fopen(cfile, "r+b");
  assert_non_null(f);
  fseek(f, 24, SEEK_SET); // dims[0]
  fputc(0x7f, f);
  fclose(f);
  assert_int_equal(nnrt_load_idx(path, &a, err, sizeof err), 0);
  check_small(&a);
  nnrt_array_free(&a);
  // the source rewritten at once with other data of the same size (the same
  // timestamp, possibly): its gzip trailer differs, so a new cache file
  unsigned char c[64];
  memcpy(c, b, n);
  c[n - 1] ^= 1; // the last element
  write_gz("c1.idx.gz", c, n);
  assert_int_equal(nnrt_load_idx(path, &a, err, sizeof err), 0);
  assert_int_equal(((unsigned char *)a.data)[23], 22);
  nnrt_array_free(&a);
  assert_int_equal(count_files(dir), 2);
  // off: nothing written
  remove_files(dir);
  setenv("NNRT_CACHE", "0", 1);
  assert_int_equal(nnrt_load_idx(path, &a, err, sizeof err), 0);
  nnrt_array_free(&a);
  assert_int_equal(count_files(dir), 0);
  assert_int_equal(rmdir(dir), 0);
}

static void test_idx_gzip_corrupt(void **state) {
  (void)state;
  unsigned char b[64];
  size_t n = idx_small(b), gl;
  unsigned char *g = read_all(write_gz("c.gz", b, n), &gl);
  unsigned char *m = malloc(gl + 8);
  NnrtArray a;
  // Any flipped byte either fails cleanly or (in unchecked gzip header fields
  // or unused padding bits) leaves the data intact.
  for (size_t k = 0; k < gl; k++) {
    memcpy(m, g, gl);
    m[k] ^= 0x5a;
    if (nnrt_parse_idx_buffer(m, gl, "flip.gz", &a, err, sizeof err) == 0) {
      check_small(&a);
      nnrt_array_free(&a);
    } else {
      assert_non_null(strstr(err, "flip.gz"));
    }
  }
  memcpy(m, g, gl);
  m[gl - 8] ^= 1; // CRC32 of the data
  expect_fail(nnrt_parse_idx_buffer(m, gl, "crc.gz", &a, err, sizeof err), "crc.gz", "gzip");
  memcpy(m, g, gl);
  m[gl - 4] ^= 1; // ISIZE
  expect_fail(nnrt_parse_idx_buffer(m, gl, "isize.gz", &a, err, sizeof err), "isize.gz", "gzip");
  memcpy(m, g, gl);
  memset(m + 10, 0xff, gl - 18); // garbage deflate data
  expect_fail(nnrt_parse_idx_buffer(m, gl, "junk.gz", &a, err, sizeof err), "junk.gz", NULL);
  memcpy(m, g, gl);
  memcpy(m + gl, "garbage!", 8); // trailing garbage after the stream
  expect_fail(nnrt_load_idx(write_file("tail.gz", m, gl + 8), &a, err, sizeof err), "tail.gz",
              "gzip");
  free(m);
  free(g);
}

static void test_idx_malicious(void **state) {
  (void)state;
  unsigned char b[64];
  NnrtArray a;
  uint32_t d1[1] = {4};
  size_t n = idx_header(b, 0x08, 1, d1);
  b[0] = 1;
  expect_fail(nnrt_parse_idx_buffer(b, n + 4, "m.idx", &a, err, sizeof err), "m.idx: byte 0",
              "magic");
  n = idx_header(b, 0x0A, 1, d1);
  expect_fail(nnrt_parse_idx_buffer(b, n + 4, "t.idx", &a, err, sizeof err), "t.idx: byte 2",
              "type 0x0a");
  n = idx_header(b, 0x08, 0, d1);
  expect_fail(nnrt_parse_idx_buffer(b, n + 4, "r0.idx", &a, err, sizeof err), "r0.idx: byte 3",
              "0 dims");
  uint32_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  n = idx_header(b, 0x08, 9, d9);
  expect_fail(nnrt_parse_idx_buffer(b, n + 1, "r9.idx", &a, err, sizeof err), "r9.idx: byte 3",
              "9 dims");
  // Sizes that overflow or pass the 4 GiB cap fail before anything is allocated.
  uint32_t huge[8] = {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
                      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff};
  n = idx_header(b, 0x0E, 8, huge);
  expect_fail(nnrt_parse_idx_buffer(b, n, "huge.idx", &a, err, sizeof err), "huge.idx: byte 4",
              "cap");
  uint32_t over[2] = {65536, 65537};
  n = idx_header(b, 0x08, 2, over);
  expect_fail(nnrt_load_idx(write_gz("over.gz", b, n), &a, err, sizeof err), "over.gz", "cap");
  uint32_t f64[2] = {1u << 16, 1u << 14};
  n = idx_header(b, 0x0E, 2, f64);
  expect_fail(nnrt_parse_idx_buffer(b, n, "f64.idx", &a, err, sizeof err), "f64.idx", "cap");
  // A header that promises a lot and a stream that delivers little.
  uint32_t lie[3] = {1000, 28, 28};
  n = idx_header(b, 0x08, 3, lie);
  expect_fail(nnrt_load_idx(write_gz("lie.gz", b, n + 10), &a, err, sizeof err),
              "lie.gz: byte 16 (decompressed)", "truncated");
}

static void test_idx_oom(void **state) {
  (void)state;
  unsigned char b[64];
  size_t n = idx_small(b);
  const char *p = write_gz("oom.gz", b, n);
  NnrtArray a;
  int k;
  for (k = 0; k < 100; k++) {
    nnrt_alloc_fail_after(k);
    int rc = nnrt_load_idx(p, &a, err, sizeof err);
    nnrt_alloc_fail_after(-1);
    if (rc == 0)
      break;
    expect_fail(rc, "oom.gz", "memory");
    assert_null(a.data);
  }
  assert_true(k < 100);
  check_small(&a);
  nnrt_array_free(&a);
}

static void test_idx_fuzz_smoke(void **state) {
  (void)state;
  unsigned char b[64], m[64];
  size_t n = idx_small(b), gl;
  unsigned char *g = read_all(write_gz("fz.gz", b, n), &gl);
  unsigned char *gm = malloc(gl);
  NnrtArray a;
  for (int it = 0; it < 3000; it++) {
    memcpy(m, b, n);
    memcpy(gm, g, gl);
    for (int j = 0; j < 3; j++) {
      m[next_rand() % n] = (unsigned char)next_rand();
      gm[next_rand() % gl] = (unsigned char)next_rand();
    }
    size_t len = next_rand() % (n + 1);
    if (nnrt_parse_idx_buffer(m, len, "fz", &a, err, sizeof err) == 0)
      nnrt_array_free(&a);
    if (nnrt_parse_idx_buffer(gm, gl, "fz", &a, err, sizeof err) == 0)
      nnrt_array_free(&a);
  }
  free(gm);
  free(g);
}

static void test_fashion_mnist(void **state) {
  (void)state;
  const char *dir = "/usr/share/datasets/fashion-mnist";
  char p[256];
  snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
  if (access(p, R_OK) != 0)
    skip();
  NnrtArray img, lab;
  assert_int_equal(nnrt_load_idx(p, &img, err, sizeof err), 0);
  assert_int_equal(img.dtype, NNRT_U8);
  assert_int_equal(img.rank, 3);
  assert_int_equal(img.dims[0], 60000);
  assert_int_equal(img.dims[1], 28);
  assert_int_equal(img.dims[2], 28);
  long sum = 0;
  for (int i = 0; i < 784; i++)
    sum += ((unsigned char *)img.data)[i];
  assert_int_equal(sum, 76247); // the first image's pixel sum
  nnrt_array_free(&img);
  snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
  assert_int_equal(nnrt_load_idx(p, &lab, err, sizeof err), 0);
  assert_int_equal(lab.rank, 1);
  assert_int_equal(lab.dims[0], 60000);
  unsigned char *l = lab.data;
  assert_int_equal(l[0], 9);
  assert_int_equal(l[1], 0);
  for (int i = 0; i < 60000; i++)
    assert_true(l[i] < 10);
  nnrt_array_free(&lab);
  snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
  assert_int_equal(nnrt_load_idx(p, &img, err, sizeof err), 0);
  assert_int_equal(img.dims[0], 10000);
  nnrt_array_free(&img);
  snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dir);
  assert_int_equal(nnrt_load_idx(p, &lab, err, sizeof err), 0);
  assert_int_equal(lab.dims[0], 10000);
  assert_int_equal(((unsigned char *)lab.data)[0], 9);
  nnrt_array_free(&lab);
}

// ---- CSV ----------------------------------------------------------------------

static int csv(const char *text, bool header, int label_col, NnrtArray *x, NnrtArray *y) {
  return nnrt_load_csv(write_file("t.csv", text, strlen(text)), header, label_col, x, y, err,
                       sizeof err);
}

static void test_csv_good(void **state) {
  (void)state;
  NnrtArray x, y;
  assert_int_equal(csv("a,b,label\r\n1,2.5,3\r\n-4e1, 5 ,\"6\"\r\n", true, 2, &x, &y), 0);
  assert_int_equal(x.dtype, NNRT_F64);
  assert_int_equal(x.rank, 2);
  assert_int_equal(x.dims[0], 2);
  assert_int_equal(x.dims[1], 2);
  double *v = x.data;
  assert_true(v[0] == 1 && v[1] == 2.5 && v[2] == -40 && v[3] == 5);
  assert_int_equal(y.dtype, NNRT_I32);
  assert_int_equal(y.dims[0], 2);
  assert_int_equal(((int32_t *)y.data)[0], 3);
  assert_int_equal(((int32_t *)y.data)[1], 6);
  nnrt_array_free(&x);
  nnrt_array_free(&y);

  // Label in the first column, BOM, blank lines, no final newline.
  assert_int_equal(csv("\xEF\xBB\xBF" "7,0.5,1\n\n-2,.25,-1e-3\n  \n", false, 0, &x, &y), 0);
  assert_int_equal(x.dims[0], 2);
  assert_int_equal(x.dims[1], 2);
  v = x.data;
  assert_true(v[0] == 0.5 && v[1] == 1 && v[2] == .25 && v[3] == -1e-3);
  assert_int_equal(((int32_t *)y.data)[0], 7);
  assert_int_equal(((int32_t *)y.data)[1], -2);
  nnrt_array_free(&x);
  nnrt_array_free(&y);

  // All columns kept; a quoted header cell may hold commas and "" escapes.
  assert_int_equal(csv("\"x,\"\"y\"\"\",z\n1,2\n3,4", true, -1, &x, NULL), 0);
  assert_int_equal(x.dims[0], 2);
  assert_int_equal(x.dims[1], 2);
  assert_true(((double *)x.data)[3] == 4);
  nnrt_array_free(&x);
}

static void test_csv_errors(void **state) {
  (void)state;
  NnrtArray x, y;
  expect_fail(csv("1,2\n3\n", false, -1, &x, NULL), "t.csv:2:2:", "1 fields, expected 2");
  assert_null(x.data);
  expect_fail(csv("1,2\r\n3,4,5\r\n", false, -1, &x, NULL), "t.csv:2:5:", "more than 2");
  expect_fail(csv("a,b\n1,2\n3,abc\n", true, -1, &x, NULL), "t.csv:3:3:", "not a number: 'abc'");
  expect_fail(csv("1,,2\n", false, -1, &x, NULL), "t.csv:1:3:", "empty field");
  expect_fail(csv("1,2,\n", false, -1, &x, NULL), "t.csv:1:5:", "empty field");
  expect_fail(csv("", false, -1, &x, NULL), "t.csv", "empty file");
  expect_fail(csv("\n \r\n", true, -1, &x, NULL), "t.csv", "empty file");
  expect_fail(csv("a,b\n", true, -1, &x, NULL), "t.csv", "no data rows");
  expect_fail(csv("1,2.5\n", false, 1, &x, &y), "t.csv:1:3:", "not an integer");
  assert_null(y.data);
  expect_fail(csv("1,3e10\n", false, 1, &x, &y), "t.csv:1:3:", "not an integer");
  expect_fail(csv("1,2\n", false, 2, &x, &y), "t.csv:1:1:", "label column 2 out of range");
  expect_fail(csv("1\n", false, 0, &x, &y), "t.csv", "no feature columns");
  expect_fail(csv("1,2\n", false, 0, &x, NULL), "t.csv", "label column");
  expect_fail(csv("1,2\n", false, -2, &x, &y), "t.csv", "label column");
  expect_fail(csv("1,\"2\n", false, -1, &x, NULL), "t.csv:1:3:", "unterminated");
  expect_fail(csv("1,\"2\"x\n", false, -1, &x, NULL), "t.csv:1:6:", "after closing quote");
  expect_fail(csv("nan,1\n", false, -1, &x, NULL), "t.csv:1:1:", "not a number");
  expect_fail(csv("1,inf\n", false, -1, &x, NULL), "t.csv:1:3:", "not a number");
  expect_fail(csv("0x10,1\n", false, -1, &x, NULL), "t.csv:1:1:", "not a number");
  expect_fail(csv("1e999,1\n", false, -1, &x, NULL), "t.csv:1:1:", "out of range");
  expect_fail(csv("1,2\n3;4\n", false, -1, &x, NULL), "t.csv:2:1:", NULL);
  expect_fail(nnrt_load_csv(tpath("missing.csv"), false, -1, &x, NULL, err, sizeof err),
              "missing.csv", "cannot open");
  char nul[] = "1,2\n3,\0\n";
  expect_fail(nnrt_parse_csv_buffer(nul, sizeof nul - 1, "nul.csv", false, -1, &x, NULL, err,
                                    sizeof err),
              "nul.csv:2:3:", "not a number");
}

static void test_csv_truncated(void **state) {
  (void)state;
  const char *text = "f1,f2,y\r\n1.5,-2,0\r\n3,\"4e2\",1\r\n5,6,2\r\n";
  size_t n = strlen(text);
  NnrtArray x, y;
  for (size_t k = 0; k <= n; k++) {
    // A cut at a line end is a shorter valid file; anything else fails cleanly.
    int rc = nnrt_load_csv(write_file("cut.csv", text, k), true, 2, &x, &y, err, sizeof err);
    if (rc == 0) {
      assert_true(x.dims[0] >= 1 && x.dims[1] == 2 && y.dims[0] == x.dims[0]);
      nnrt_array_free(&x);
      nnrt_array_free(&y);
    } else {
      expect_fail(rc, "cut.csv", NULL);
      assert_null(x.data);
      assert_null(y.data);
    }
  }
}

static void test_csv_oom_and_fuzz(void **state) {
  (void)state;
  const char *text = "a,b,c\n1,2,3\n4,5,6\n";
  const char *p = write_file("oom.csv", text, strlen(text));
  NnrtArray x, y;
  int k;
  for (k = 0; k < 50; k++) {
    nnrt_alloc_fail_after(k);
    int rc = nnrt_load_csv(p, true, 1, &x, &y, err, sizeof err);
    nnrt_alloc_fail_after(-1);
    if (rc == 0)
      break;
    expect_fail(rc, "oom.csv", "memory");
  }
  assert_true(k < 50);
  assert_int_equal(((int32_t *)y.data)[1], 5);
  nnrt_array_free(&x);
  nnrt_array_free(&y);

  char m[64];
  const char alphabet[] = "0123456789,,,\n\r\"e.- x";
  size_t n = strlen(text);
  for (int it = 0; it < 5000; it++) {
    memcpy(m, text, n);
    for (int j = 0; j < 3; j++)
      m[next_rand() % n] = alphabet[next_rand() % (sizeof alphabet - 1)];
    if (nnrt_parse_csv_buffer(m, next_rand() % (n + 1), "fz", it & 1, (int)(it % 4) - 1, &x, &y,
                              err, sizeof err) == 0) {
      nnrt_array_free(&x);
      nnrt_array_free(&y);
    }
  }
}

// ---- NPY ----------------------------------------------------------------------

// A .npy image as numpy writes it: header padded with spaces to a multiple of
// 64 bytes and ended by '\n'.
static size_t make_npy(unsigned char *b, int version, const char *dict, const void *data,
                       size_t dlen) {
  size_t pre = version == 1 ? 10 : 12, dl = strlen(dict);
  size_t total = (pre + dl + 1 + 63) / 64 * 64, hlen = total - pre;
  memcpy(b, "\x93NUMPY", 6);
  b[6] = (unsigned char)version;
  b[7] = 0;
  for (size_t i = 0; i < pre - 8; i++)
    b[8 + i] = (unsigned char)(hlen >> (8 * i));
  memcpy(b + pre, dict, dl);
  memset(b + pre + dl, ' ', hlen - dl - 1);
  b[total - 1] = '\n';
  if (dlen)
    memcpy(b + total, data, dlen);
  return total + dlen;
}

static int npy(const char *name, int version, const char *dict, const void *data, size_t dlen,
               NnrtArray *a) {
  static unsigned char b[4096];
  size_t n = make_npy(b, version, dict, data, dlen);
  return nnrt_load_npy(write_file(name, b, n), a, err, sizeof err);
}

static void test_npy_good(void **state) {
  (void)state;
  NnrtArray a;
  float f[6] = {1, 2, 3, 4, 5, -6.5f};
  assert_int_equal(
      npy("f4.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f, 24, &a),
      0);
  assert_int_equal(a.dtype, NNRT_F32);
  assert_int_equal(a.rank, 2);
  assert_int_equal(a.dims[0], 2);
  assert_int_equal(a.dims[1], 3);
  assert_true(memcmp(a.data, f, 24) == 0);
  nnrt_array_free(&a);

  double d[4] = {0.1, 0.2, -1e300, 4};
  assert_int_equal(
      npy("f8.npy", 2, "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (4,)}", d, 32, &a),
      0);
  assert_int_equal(a.dtype, NNRT_F64);
  assert_int_equal(a.rank, 1);
  assert_true(memcmp(a.data, d, 32) == 0);
  nnrt_array_free(&a);

  unsigned char u[8] = {0, 1, 2, 3, 255, 254, 253, 252};
  assert_int_equal(
      npy("u1.npy", 3, "{'descr':'|u1','fortran_order':False,'shape':(2,2,2)}", u, 8, &a), 0);
  assert_int_equal(a.dtype, NNRT_U8);
  assert_int_equal(a.rank, 3);
  assert_true(memcmp(a.data, u, 8) == 0);
  nnrt_array_free(&a);

  int32_t s = -7;
  assert_int_equal(npy("i4.npy", 1, "{'shape': (), 'descr': '<i4', 'fortran_order': False}", &s,
                       4, &a),
                   0);
  assert_int_equal(a.dtype, NNRT_I32);
  assert_int_equal(a.rank, 0);
  assert_int_equal(nnrt_array_count(&a), 1);
  assert_int_equal(*(int32_t *)a.data, -7);
  nnrt_array_free(&a);

  int64_t l[3] = {INT32_MIN, 0, INT32_MAX};
  assert_int_equal(
      npy("i8.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3L,), }", l, 24, &a), 0);
  assert_int_equal(a.dtype, NNRT_I32);
  assert_int_equal(((int32_t *)a.data)[0], INT32_MIN);
  assert_int_equal(((int32_t *)a.data)[2], INT32_MAX);
  nnrt_array_free(&a);

  assert_int_equal(npy("e.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }",
                       NULL, 0, &a),
                   0);
  assert_int_equal(nnrt_array_count(&a), 0);
  nnrt_array_free(&a);
}

static void test_npy_truncated(void **state) {
  (void)state;
  unsigned char b[256], cut[256];
  int64_t l[3] = {1, 2, 3};
  size_t n = make_npy(b, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", l, 24);
  NnrtArray a;
  for (size_t k = 0; k < n; k++) {
    memcpy(cut, b, k);
    expect_fail(nnrt_parse_npy_buffer(cut, k, "cut.npy", &a, err, sizeof err), "cut.npy", NULL);
    assert_null(a.data);
    expect_fail(nnrt_load_npy(write_file("cut.npy", cut, k), &a, err, sizeof err), "cut.npy",
                NULL);
  }
  expect_fail(nnrt_parse_npy_buffer(b, n - 1, "t.npy", &a, err, sizeof err), "t.npy: byte 128",
              "truncated");
  b[n] = 0;
  expect_fail(nnrt_parse_npy_buffer(b, n + 1, "long.npy", &a, err, sizeof err),
              "long.npy: byte 152", "trailing");
  expect_fail(nnrt_load_npy(write_file("long.npy", b, n + 1), &a, err, sizeof err),
              "long.npy: byte 152", "trailing");
  expect_fail(nnrt_load_npy(tpath("missing.npy"), &a, err, sizeof err), "missing.npy", "open");
}

static void test_npy_malicious(void **state) {
  (void)state;
  NnrtArray a;
  char data[64] = {0};
  static const struct {
    const char *dict, *what;
  } bad[] = {
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", "fortran_order True"},
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "big-endian"},
      {"{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", "unsupported dtype '<f2'"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", "unknown key 'x'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "duplicate key"},
      {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", "not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", "negative"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", "more than 8"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4)}", "cap"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000)}", "cap"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "overflow"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", "fortran_order must be"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", "unsupported dtype '<f4, '"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", "after the dict"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "expected ',' or '}'"},
      {"{'descr': '\xc3\xa9', 'fortran_order': False, 'shape': (2,)}", "character"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", "expected ',' or '}'"},
      {"['descr', '<f4']", "expected '{'"},
      {"{'descr': 'unterminated", "unterminated"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "bad%zu.npy", i);
    expect_fail(npy(name, 1, bad[i].dict, data, 8, &a), name, bad[i].what);
    assert_null(a.data);
  }
  int64_t l[2] = {(int64_t)INT32_MAX + 1, 0};
  expect_fail(npy("big.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", l, 16,
                  &a),
              "big.npy: byte 128", "does not fit in int32");
  unsigned char b[256];
  size_t n = make_npy(b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data, 8);
  b[6] = 4;
  expect_fail(nnrt_parse_npy_buffer(b, n, "v4.npy", &a, err, sizeof err), "v4.npy: byte 6",
              "version 4.0");
  b[6] = 1, b[0] = 'x';
  expect_fail(nnrt_parse_npy_buffer(b, n, "mg.npy", &a, err, sizeof err), "mg.npy: byte 0",
              "magic");
  b[0] = 0x93, b[8] = 0xff, b[9] = 0x00; // header length 255 > file
  expect_fail(nnrt_parse_npy_buffer(b, n, "hl.npy", &a, err, sizeof err), "hl.npy", "truncated");
  n = make_npy(b, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data, 8);
  b[8] = b[9] = b[10] = b[11] = 0xff; // 4 GiB header
  expect_fail(nnrt_parse_npy_buffer(b, n, "hc.npy", &a, err, sizeof err), "hc.npy: byte 8",
              "cap");
  expect_fail(nnrt_load_npy(write_file("hc.npy", b, n), &a, err, sizeof err), "hc.npy: byte 8",
              "cap");
}

static void test_npy_oom_and_fuzz(void **state) {
  (void)state;
  unsigned char b[256], m[256];
  int64_t l[3] = {1, 2, 3};
  size_t n = make_npy(b, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", l, 24);
  const char *p = write_file("oom.npy", b, n);
  NnrtArray a;
  int k;
  for (k = 0; k < 20; k++) {
    nnrt_alloc_fail_after(k);
    int rc = nnrt_load_npy(p, &a, err, sizeof err);
    nnrt_alloc_fail_after(-1);
    if (rc == 0)
      break;
    expect_fail(rc, "oom.npy", "memory");
  }
  assert_true(k < 20);
  assert_int_equal(((int32_t *)a.data)[2], 3);
  nnrt_array_free(&a);
  const char alphabet[] = "0123456789(),:' {}<>fiu|TrueFalse\n";
  for (int it = 0; it < 5000; it++) {
    memcpy(m, b, n);
    for (int j = 0; j < 3; j++) {
      size_t at = next_rand() % n;
      m[at] = it & 1 ? (unsigned char)next_rand() : (unsigned char)alphabet[next_rand() % (sizeof alphabet - 1)];
    }
    if (nnrt_parse_npy_buffer(m, next_rand() % 8 ? n : next_rand() % n, "fz", &a, err,
                              sizeof err) == 0)
      nnrt_array_free(&a);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dtype_helpers),    cmocka_unit_test(test_idx_plain_and_gz),
      cmocka_unit_test(test_idx_types),        cmocka_unit_test(test_idx_truncated),
      cmocka_unit_test(test_idx_gzip_corrupt), cmocka_unit_test(test_idx_cache), cmocka_unit_test(test_idx_malicious),
      cmocka_unit_test(test_idx_oom),          cmocka_unit_test(test_idx_fuzz_smoke),
      cmocka_unit_test(test_fashion_mnist),    cmocka_unit_test(test_csv_good),
      cmocka_unit_test(test_csv_errors),       cmocka_unit_test(test_csv_truncated),
      cmocka_unit_test(test_csv_oom_and_fuzz), cmocka_unit_test(test_npy_good),
      cmocka_unit_test(test_npy_truncated),    cmocka_unit_test(test_npy_malicious),
      cmocka_unit_test(test_npy_oom_and_fuzz),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
