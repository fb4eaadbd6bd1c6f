/*
 * test_ckpt.c — safetensors checkpoints (runtime/ckpt.c).
 *
 * Round trips of several tensors plus metadata, the exact byte layout of a
 * saved file, atomic replacement (a failed save leaves the old file and no
 * PATH.tmp), every truncation of a good file, a battery of malicious headers,
 * allocation-failure sweeps and a seeded mutation smoke run.
 *
 * Two extra modes serve tests/unit/safetensors_check.py:
 *   test_ckpt --write PATH   save the reference checkpoint (sample_tensors)
 *   test_ckpt --dump PATH    load PATH and print each tensor and metadata
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static char tmpdir[] = "/tmp/nnrt_test_ckpt_XXXXXX";
static char err[512];

static int group_setup(void **state) {
  (void)state;
  (void)state;
  return mkdtemp(tmpdir) ? 0 : -1;
}

static void rm_tree(const char *dir) {
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
      rm_tree(p);
    else
      unlink(p);
  }
  if (d)
    closedir(d);
  rmdir(dir);
}

static int group_teardown(void **state) {
  (void)state;
  rm_tree(tmpdir);
  return 0;
}

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

static bool exists(const char *path) { return access(path, F_OK) == 0; }

static void expect_fail_(int rc, const char *name, const char *what, int line) {
  if (rc != -1 || !strstr(err, name) || (what && !strstr(err, what)))
    fail_msg("line %d: expected failure naming '%s' (%s), got rc %d: %s", line, name,
             what ? what : "", rc, err);
  if (strchr(err, '\n'))
    fail_msg("line %d: message is not one line: %s", line, err);
}
#define expect_fail(rc, name, what) expect_fail_((rc), (name), (what), __LINE__)

// ---- the reference checkpoint --------------------------------------------------

static float w[8];
static double b[3];
static int32_t step = 42;
static unsigned char mask[5];
static NnrtNamedTensor sample[5];
static const NnrtKV sample_meta[2] = {{"epoch", "7"}, {"nnc", "0.1.0"}};

// w F32 (2,4): i*0.5-1; b F64 (3): i/3; step I32 scalar 42; mask U8 (5): i*50;
// empty F32 (0,3).  safetensors_check.py knows the same values.
static const NnrtNamedTensor *sample_tensors(void) {
  for (int i = 0; i < 8; i++)
    w[i] = (float)(i * 0.5 - 1);
  for (int i = 0; i < 3; i++)
    b[i] = i / 3.0;
  for (int i = 0; i < 5; i++)
    mask[i] = (unsigned char)(i * 50);
  sample[0] = (NnrtNamedTensor){"w", NNRT_F32, 2, {2, 4}, w};
  sample[1] = (NnrtNamedTensor){"b", NNRT_F64, 1, {3}, b};
  sample[2] = (NnrtNamedTensor){"step", NNRT_I32, 0, {0}, &step};
  sample[3] = (NnrtNamedTensor){"mask", NNRT_U8, 1, {5}, mask};
  sample[4] = (NnrtNamedTensor){"empty", NNRT_F32, 2, {0, 3}, NULL};
  return sample;
}

static const char sample_json[] =
    "{\"__metadata__\":{\"epoch\":\"7\",\"nnc\":\"0.1.0\"},"
    "\"w\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
    "\"b\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[32,56]},"
    "\"step\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[56,60]},"
    "\"mask\":{\"dtype\":\"U8\",\"shape\":[5],\"data_offsets\":[60,65]},"
    "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[65,65]}}";

static void check_same(const NnrtNamedTensor *got, const NnrtNamedTensor *want) {
  assert_non_null(got);
  assert_string_equal(got->name, want->name);
  assert_int_equal(got->dtype, want->dtype);
  assert_int_equal(got->rank, want->rank);
  int64_t n = 1;
  for (int i = 0; i < want->rank; i++) {
    assert_int_equal(got->dims[i], want->dims[i]);
    n *= want->dims[i];
  }
  if (n)
    assert_memory_equal(got->data, want->data, (size_t)n * nnrt_dtype_size(want->dtype));
  assert_non_null(got->data);
}

static void check_sample(const NnrtCkpt *c) {
  assert_int_equal(nnrt_ckpt_count(c), 5);
  for (int i = 0; i < 5; i++) {
    check_same(nnrt_ckpt_at(c, i), &sample[i]);
    check_same(nnrt_ckpt_find(c, sample[i].name), &sample[i]);
  }
  assert_null(nnrt_ckpt_at(c, 5));
  assert_null(nnrt_ckpt_at(c, -1));
  assert_null(nnrt_ckpt_find(c, "nope"));
  assert_string_equal(nnrt_ckpt_meta(c, "epoch"), "7");
  assert_string_equal(nnrt_ckpt_meta(c, "nnc"), "0.1.0");
  assert_null(nnrt_ckpt_meta(c, "w"));
}

static const char *save_sample(const char *name) {
  const char *p = tpath(name);
  if (nnrt_ckpt_save(p, sample_tensors(), 5, sample_meta, 2, err, sizeof err) != 0)
    fail_msg("save failed: %s", err);
  return p;
}

// ---- tests ----------------------------------------------------------------------

static void test_round_trip(void **state) {
  (void)state;
  const char *p = save_sample("rt.safetensors");
  NnrtCkpt *c;
  assert_int_equal(nnrt_ckpt_load(p, &c, err, sizeof err), 0);
  check_sample(c);
  nnrt_ckpt_free(c);
  nnrt_ckpt_free(NULL);
  assert_false(exists(tpath("rt.safetensors.tmp")));

  // Names with characters JSON must escape, and non-ASCII, survive.
  float one = 1, two = 2, three = 3;
  NnrtNamedTensor odd[3] = {{"a\"b\\c", NNRT_F32, 1, {1}, &one},
                            {"new\nline", NNRT_F32, 1, {1}, &two},
                            {"caf\xc3\xa9.w", NNRT_F32, 1, {1}, &three}};
  NnrtKV m[1] = {{"k\"ey", "v\tal\xe2\x82\xac"}};
  p = tpath("odd.safetensors");
  assert_int_equal(nnrt_ckpt_save(p, odd, 3, m, 1, err, sizeof err), 0);
  assert_int_equal(nnrt_ckpt_load(p, &c, err, sizeof err), 0);
  for (int i = 0; i < 3; i++)
    check_same(nnrt_ckpt_find(c, odd[i].name), &odd[i]);
  assert_string_equal(nnrt_ckpt_meta(c, "k\"ey"), "v\tal\xe2\x82\xac");
  nnrt_ckpt_free(c);

  // No tensors, no metadata: "{}" padded to 8 bytes.
  p = tpath("none.safetensors");
  assert_int_equal(nnrt_ckpt_save(p, NULL, 0, NULL, 0, err, sizeof err), 0);
  size_t len;
  unsigned char *raw = read_all(p, &len);
  assert_int_equal(len, 16);
  assert_memory_equal(raw, "\x08\0\0\0\0\0\0\0{}      ", 16);
  free(raw);
  assert_int_equal(nnrt_ckpt_load(p, &c, err, sizeof err), 0);
  assert_int_equal(nnrt_ckpt_count(c), 0);
  nnrt_ckpt_free(c);
}

static void test_byte_layout(void **state) {
  (void)state;
  const char *p = save_sample("layout.safetensors");
  size_t len;
  unsigned char *raw = read_all(p, &len);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--)
    n = n << 8 | raw[i];
  size_t jl = strlen(sample_json);
  assert_int_equal(n % 8, 0);
  assert_true(n >= jl && n < jl + 8);
  assert_memory_equal(raw + 8, sample_json, jl);
  for (size_t i = jl; i < n; i++)
    assert_int_equal(raw[8 + i], ' ');
  assert_int_equal(len, 8 + n + 65);
  const unsigned char *d = raw + 8 + n;
  assert_memory_equal(d, w, 32);
  assert_memory_equal(d + 32, b, 24);
  assert_memory_equal(d + 56, &step, 4);
  assert_memory_equal(d + 60, mask, 5);
  free(raw);
}

static void test_atomic_save(void **state) {
  (void)state;
  char p[512];
  snprintf(p, sizeof p, "%s", save_sample("atomic.safetensors"));
  size_t len0, len;
  unsigned char *before = read_all(p, &len0), *after;
  float x = 1;
  NnrtNamedTensor dup[2] = {{"a", NNRT_F32, 1, {1}, &x}, {"a", NNRT_F32, 1, {1}, &x}};
  expect_fail(nnrt_ckpt_save(p, dup, 2, NULL, 0, err, sizeof err), "atomic.safetensors",
              "duplicate tensor name 'a'");
  NnrtNamedTensor bad[] = {
      {"r9", NNRT_F32, 9, {1}, &x},      {"neg", NNRT_F32, 1, {-1}, &x},
      {"nodata", NNRT_F32, 1, {2}, NULL}, {"__metadata__", NNRT_F32, 1, {1}, &x},
      {"", NNRT_F32, 1, {1}, &x},         {"bad\xff", NNRT_F32, 1, {1}, &x},
      {"dt", (NnrtDtype)7, 1, {1}, &x},   {NULL, NNRT_F32, 1, {1}, &x},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_fail(nnrt_ckpt_save(p, &bad[i], 1, NULL, 0, err, sizeof err), "atomic.safetensors",
                NULL);
  NnrtKV dm[2] = {{"k", "1"}, {"k", "2"}}, nm[1] = {{"k", NULL}};
  expect_fail(nnrt_ckpt_save(p, &dup[0], 1, dm, 2, err, sizeof err), "atomic.safetensors",
              "duplicate metadata key 'k'");
  expect_fail(nnrt_ckpt_save(p, &dup[0], 1, nm, 1, err, sizeof err), "atomic.safetensors",
              "metadata");
  after = read_all(p, &len);
  assert_int_equal(len, len0);
  assert_memory_equal(after, before, len);
  free(after);
  assert_false(exists(tpath("atomic.safetensors.tmp")));

  // Allocation failures at every point leave the old file and no tmp file.
  int k;
  for (k = 0; k < 200; k++) {
    nnrt_alloc_fail_after(k);
    int rc = nnrt_ckpt_save(p, &dup[0], 1, NULL, 0, err, sizeof err);
    nnrt_alloc_fail_after(-1);
    assert_false(exists(tpath("atomic.safetensors.tmp")));
    if (rc == 0)
      break;
    expect_fail(rc, "atomic.safetensors", "memory");
    after = read_all(p, &len);
    assert_int_equal(len, len0);
    assert_memory_equal(after, before, len);
    free(after);
  }
  assert_true(k < 200);
  NnrtCkpt *c;
  assert_int_equal(nnrt_ckpt_load(p, &c, err, sizeof err), 0);
  assert_int_equal(nnrt_ckpt_count(c), 1);
  nnrt_ckpt_free(c);
  free(before);

  // I/O failures: a missing directory, and a directory in the way of rename.
  expect_fail(nnrt_ckpt_save(tpath("no/such/dir.st"), &dup[0], 1, NULL, 0, err, sizeof err),
              "dir.st", "cannot create");
  const char *dp = tpath("isdir.st");
  assert_int_equal(mkdir(dp, 0700), 0);
  expect_fail(nnrt_ckpt_save(dp, &dup[0], 1, NULL, 0, err, sizeof err), "isdir.st",
              "is a directory, not a regular file");
  assert_false(exists(tpath("isdir.st.tmp")));
  struct stat st;
  assert_int_equal(stat(dp, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  // Only regular files or new paths: a FIFO (or a device node) is refused and
  // stays what it was, where the rename would have replaced it.
  const char *fp = tpath("fifo.st");
  assert_int_equal(mkfifo(fp, 0600), 0);
  expect_fail(nnrt_ckpt_save(fp, &dup[0], 1, NULL, 0, err, sizeof err), "fifo.st",
              "is a FIFO (named pipe), not a regular file");
  assert_int_equal(stat(fp, &st), 0);
  assert_true(S_ISFIFO(st.st_mode));
  // A FIFO planted at PATH.tmp is never opened (that would block): a fresh
  // temporary file replaces it.
  const char *tp = tpath("planted.st.tmp");
  assert_int_equal(mkfifo(tp, 0600), 0);
  assert_int_equal(nnrt_ckpt_save(tpath("planted.st"), &dup[0], 1, NULL, 0, err, sizeof err), 0);
  assert_false(exists(tp));
  // A directory at PATH.tmp is not removed: the save fails, naming it.
  assert_int_equal(mkdir(tpath("blocked.st.tmp"), 0700), 0);
  expect_fail(nnrt_ckpt_save(tpath("blocked.st"), &dup[0], 1, NULL, 0, err, sizeof err),
              "blocked.st.tmp", "cannot create");
  assert_int_equal(stat(tpath("blocked.st.tmp"), &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  // A relative path (directory ".") works too.
  char cwd[512];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(tmpdir), 0);
  assert_int_equal(nnrt_ckpt_save("rel.st", &dup[0], 1, NULL, 0, err, sizeof err), 0);
  assert_int_equal(chdir(cwd), 0);
  assert_true(exists(tpath("rel.st")));
}

static void test_truncated(void **state) {
  (void)state;
  const char *p = save_sample("full.safetensors");
  size_t len;
  unsigned char *raw = read_all(p, &len);
  NnrtCkpt *c = (NnrtCkpt *)1;
  for (size_t k = 0; k < len; k++) {
    expect_fail(nnrt_ckpt_parse_buffer(raw, k, "cut.st", &c, err, sizeof err), "cut.st", NULL);
    assert_null(c);
    expect_fail(nnrt_ckpt_load(write_file("cut.st", raw, k), &c, err, sizeof err), "cut.st", NULL);
  }
  unsigned char *longer = malloc(len + 1);
  memcpy(longer, raw, len);
  longer[len] = 0;
  expect_fail(nnrt_ckpt_load(write_file("long.st", longer, len + 1), &c, err, sizeof err),
              "long.st", "trailing data");
  assert_int_equal(nnrt_ckpt_parse_buffer(raw, len, "mem.st", &c, err, sizeof err), 0);
  check_sample(c);
  nnrt_ckpt_free(c);
  expect_fail(nnrt_ckpt_parse_buffer(NULL, 0, "null.st", &c, err, sizeof err), "null.st",
              "too short");
  expect_fail(nnrt_ckpt_load(tpath("missing.st"), &c, err, sizeof err), "missing.st", "open");
  expect_fail(nnrt_ckpt_load(tmpdir, &c, err, sizeof err), tmpdir, "regular file");
  free(longer);
  free(raw);
}

// A safetensors image: 8-byte length, the header as given (unpadded), then
// dlen data bytes.
static int load_st(const char *name, const char *header, size_t dlen) {
  size_t hl = strlen(header);
  unsigned char *b = calloc(1, 8 + hl + dlen + 1);
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(b + 8, header, hl);
  NnrtCkpt *c = NULL;
  int rc = nnrt_ckpt_load(write_file(name, b, 8 + hl + dlen), &c, err, sizeof err);
  free(b);
  if (rc == 0)
    nnrt_ckpt_free(c);
  else
    assert_null(c);
  return rc;
}

#define T(shape, offs) "{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":" offs "}"

static void test_malicious(void **state) {
  (void)state;
  static const struct {
    const char *header;
    size_t dlen;
    const char *what;
  } bad[] = {
      {"{\"a\":", 0, "not valid JSON"},
      {"", 0, "not valid JSON"},
      {"[]", 0, "not an object"},
      {"{\"a\":5}", 0, "entry 'a' is not an object"},
      {"{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "unsupported dtype 'BF16'"},
      {"{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype is not a string"},
      {"{\"a\":" T("[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, "9 dims"},
      {"{\"a\":" T("[-1]", "[0,4]") "}", 4, "shape[0]"},
      {"{\"a\":" T("[1.5]", "[0,4]") "}", 4, "shape[0]"},
      {"{\"a\":" T("[\"2\"]", "[0,8]") "}", 8, "shape[0]"},
      {"{\"a\":" T("[1e300]", "[0,8]") "}", 8, "shape[0]"},
      {"{\"a\":" T("4", "[0,16]") "}", 16, "shape is not an array"},
      {"{\"a\":" T("[4294967296,4294967296,4294967296]", "[0,4]") "}", 4, "overflows"},
      {"{\"a\":" T("[1]", "[0]") "}", 4, "not [begin, end]"},
      {"{\"a\":" T("[1]", "[0,4,8]") "}", 8, "not [begin, end]"},
      {"{\"a\":" T("[1]", "[\"0\",\"4\"]") "}", 4, "not [begin, end]"},
      {"{\"a\":" T("[1]", "[-4,0]") "}", 4, "not [begin, end]"},
      {"{\"a\":" T("[1]", "[8,4]") "}", 8, "end before they begin"},
      {"{\"a\":" T("[2]", "[0,4]") "}", 4, "span 4 bytes, but its dtype and shape need 8"},
      {"{\"a\":" T("[1000]", "[0,4000]") "}", 40, "run past the end"},
      {"{\"a\":" T("[4]", "[0,16]") ",\"b\":" T("[4]", "[8,24]") "}", 24, "overlap tensor 'a'"},
      {"{\"a\":" T("[2]", "[0,8]") ",\"b\":" T("[2]", "[16,24]") "}", 24, "[8, 16) belong to no tensor"},
      {"{\"b\":" T("[2]", "[8,16]") "}", 16, "[0, 8) belong to no tensor"},
      {"{\"a\":" T("[1]", "[0,4]") ",\"a\":" T("[1]", "[4,8]") "}", 8, "duplicate key 'a'"},
      {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate key '__metadata__'"},
      {"{\"a\":" T("[1]", "[0,4]") "}", 5, "1 bytes of trailing data"},
      {"{\"__metadata__\":{\"k\":1}}", 0, "metadata 'k' is not a string"},
      {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate metadata key 'k'"},
      {"{\"__metadata__\":[\"k\"]}", 0, "__metadata__ is not an object"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing 'data_offsets'"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "unknown field 'x'"},
      {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "duplicate field"},
      {"{} x", 0, "text after the header JSON"},
      {"{\"\xff\":1}", 0, "byte 10: header is not valid UTF-8"},
      {"{\"\xc0\x80\":1}", 0, "not valid UTF-8"},
      {"{\"\xed\xa0\x80\":1}", 0, "not valid UTF-8"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "bad%zu.st", i);
    err[0] = 0;
    int rc = load_st(name, bad[i].header, bad[i].dlen);
    if (rc != -1 || !strstr(err, name) || !strstr(err, bad[i].what))
      fail_msg("case %zu (%s): expected '%s', got rc %d: %s", i, bad[i].header, bad[i].what, rc,
               err);
  }
  // Good edge cases: unpadded header, whitespace, an empty tensor anywhere.
  assert_int_equal(load_st("ok1.st", " { } \n", 0), 0);
  assert_int_equal(load_st("ok2.st", "{\"z\":" T("[0]", "[0,0]") ",\"a\":" T("[1]", "[0,4]") "}", 4), 0);

  // Header length fields that lie.
  unsigned char h[64] = {0};
  memcpy(h + 8, "{}", 2);
  uint64_t lens[3] = {100000001, 1000, UINT64_MAX};
  const char *whats[3] = {"100 MB", "runs past the end", "100 MB"};
  for (int i = 0; i < 3; i++) {
    for (int k = 0; k < 8; k++)
      h[k] = (unsigned char)(lens[i] >> (8 * k));
    NnrtCkpt *c;
    expect_fail(nnrt_ckpt_load(write_file("len.st", h, 10), &c, err, sizeof err), "len.st",
                whats[i]);
  }
  // A NUL inside the header.
  unsigned char z[16] = {6, 0, 0, 0, 0, 0, 0, 0, '{', '"', 0, '"', ':', '1'};
  NnrtCkpt *c;
  expect_fail(nnrt_ckpt_parse_buffer(z, 14, "nul.st", &c, err, sizeof err), "nul.st: byte 10",
              "UTF-8");
}

static void test_load_oom(void **state) {
  (void)state;
  const char *p = save_sample("oom.st");
  NnrtCkpt *c;
  int k;
  for (k = 0; k < 500; k++) {
    nnrt_alloc_fail_after(k);
    int rc = nnrt_ckpt_load(p, &c, err, sizeof err);
    nnrt_alloc_fail_after(-1);
    if (rc == 0)
      break;
    expect_fail(rc, "oom.st", "memory");
    assert_null(c);
  }
  assert_true(k < 500);
  check_sample(c);
  nnrt_ckpt_free(c);
}

static void test_fuzz_smoke(void **state) {
  (void)state;
  const char *p = save_sample("fz.st");
  size_t len;
  unsigned char *raw = read_all(p, &len), *m = malloc(len);
  uint64_t r = 0x2545F4914F6CDD1Dull;
  const char alphabet[] = "{}[]\",:0123456789-.eE FUI832_a\\";
  for (int it = 0; it < 20000; it++) {
    memcpy(m, raw, len);
    for (int j = 0; j < 3; j++) {
      r ^= r << 13, r ^= r >> 7, r ^= r << 17;
      size_t at = r % len;
      m[at] = it & 1 ? (unsigned char)(r >> 32) : (unsigned char)alphabet[(r >> 32) % (sizeof alphabet - 1)];
    }
    NnrtCkpt *c;
    if (nnrt_ckpt_parse_buffer(m, (r >> 20) % 4 ? len : (r >> 40) % len, "fz", &c, err,
                               sizeof err) == 0)
      nnrt_ckpt_free(c);
  }
  free(m);
  free(raw);
}

// ---- modes for safetensors_check.py ---------------------------------------------

static int dump(const char *path) {
  NnrtCkpt *c;
  if (nnrt_ckpt_load(path, &c, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  for (int i = 0; i < nnrt_ckpt_count(c); i++) {
    const NnrtNamedTensor *t = nnrt_ckpt_at(c, i);
    printf("tensor %s %s [", t->name, nnrt_dtype_name(t->dtype));
    int64_t n = 1;
    for (int k = 0; k < t->rank; k++) {
      printf("%s%lld", k ? "," : "", (long long)t->dims[k]);
      n *= t->dims[k];
    }
    printf("]");
    for (int64_t k = 0; k < n; k++) {
      switch (t->dtype) {
      case NNRT_F32: printf(" %.9g", ((float *)t->data)[k]); break;
      case NNRT_F64: printf(" %.17g", ((double *)t->data)[k]); break;
      case NNRT_I32: printf(" %d", ((int32_t *)t->data)[k]); break;
      case NNRT_U8: printf(" %d", ((unsigned char *)t->data)[k]); break;
      }
    }
    printf("\n");
  }
  const char *keys[] = {"epoch", "nnc", "format"};
  for (int i = 0; i < 3; i++)
    if (nnrt_ckpt_meta(c, keys[i]))
      printf("meta %s %s\n", keys[i], nnrt_ckpt_meta(c, keys[i]));
  nnrt_ckpt_free(c);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write") == 0) {
    if (nnrt_ckpt_save(argv[2], sample_tensors(), 5, sample_meta, 2, err, sizeof err) != 0) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "--dump") == 0)
    return dump(argv[2]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip), cmocka_unit_test(test_byte_layout),
      cmocka_unit_test(test_atomic_save), cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_malicious),  cmocka_unit_test(test_load_oom),
      cmocka_unit_test(test_fuzz_smoke),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
