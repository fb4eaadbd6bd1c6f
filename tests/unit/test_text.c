/*
 * test_text.c — text corpora (runtime/data/text.c): the UTF-8 and binary
 * checks, character and word vocabularies (order, cap), encoding with a
 * vocabulary (unknown tokens), windows (shift, stride, reach, too short),
 * the checkpoint string form and its parser, and reading files (missing,
 * empty, binary), each error naming the file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static char err[512];

static NnrtVocab *build(const char *s, bool words, int64_t cap) {
  NnrtVocab *v = NULL;
  int rc = nnrt_vocab_build(s, strlen(s), "c.txt", words, cap, &v, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_non_null(v);
  return v;
}

static void test_char_vocab(void **state) {
  (void)state;
  /* "héllo, wörld\n": ids by code point: \n space , d h l o r w é ö */
  NnrtVocab *v = build("h\xc3\xa9llo, w\xc3\xb6rld\n", false, 96);
  assert_int_equal(nnrt_vocab_size(v), 11);
  assert_int_equal(nnrt_vocab_is_words(v), 0);
  const char *want[] = {"\n", " ", ",", "d", "h", "l", "o", "r", "w", "\xc3\xa9", "\xc3\xb6"};
  for (int i = 0; i < 11; i++)
    assert_string_equal(nnrt_vocab_token(v, i), want[i]);
  assert_null(nnrt_vocab_token(v, 11));
  assert_null(nnrt_vocab_token(v, -1));
  int32_t ids[16];
  int64_t n = nnrt_text_encode(v, "h\xc3\xa9llo", 6, "prompt", NULL, ids, 16, err, sizeof err);
  assert_int_equal(n, 5);
  int32_t want_ids[] = {4, 9, 5, 5, 6};
  assert_memory_equal(ids, want_ids, sizeof want_ids);
  /* cap 0 counts only */
  assert_int_equal(nnrt_text_encode(v, "hollow", 6, "prompt", NULL, ids, 0, err, sizeof err), 6);
  /* an unknown character names the text, the byte and the vocabulary's file */
  assert_int_equal(nnrt_text_encode(v, "hox", 3, "prompt", "train.txt", ids, 16, err, sizeof err), -1);
  assert_string_equal(err, "prompt: byte 2: character 'x' is not in the vocabulary of train.txt");
  nnrt_vocab_free(v);
}

static void test_vocab_cap(void **state) {
  (void)state;
  NnrtVocab *v = NULL;
  assert_int_equal(nnrt_vocab_build("abcab", 5, "c.txt", false, 2, &v, err, sizeof err), -1);
  assert_null(v);
  assert_string_equal(err, "c.txt: 3 distinct characters, more than the vocabulary cap vocab = 2");
  v = build("abcab", false, 3);
  assert_int_equal(nnrt_vocab_size(v), 3);
  nnrt_vocab_free(v);
  assert_int_equal(nnrt_vocab_build("to be or not to be", 18, "w.txt", true, 3, &v, err, sizeof err), -1);
  assert_string_equal(err, "w.txt: 4 distinct words, more than the vocabulary cap vocab = 3");
  assert_int_equal(nnrt_vocab_build(" \n\t ", 4, "w.txt", true, 3, &v, err, sizeof err), -1);
  assert_non_null(strstr(err, "w.txt: no words"));
}

static void test_word_vocab(void **state) {
  (void)state;
  NnrtVocab *v = build("to be\tor  not\nto be.\n", true, 100);
  assert_int_equal(nnrt_vocab_size(v), 5);
  assert_int_equal(nnrt_vocab_is_words(v), 1);
  const char *want[] = {"be", "be.", "not", "or", "to"}; /* bytewise */
  for (int i = 0; i < 5; i++)
    assert_string_equal(nnrt_vocab_token(v, i), want[i]);
  int32_t *ids;
  int64_t n;
  const char *t = "to be or not to be.";
  assert_int_equal(nnrt_text_ids(v, t, strlen(t), "c.txt", NULL, &ids, &n, err, sizeof err), 0);
  int32_t want_ids[] = {4, 0, 3, 2, 4, 1};
  assert_int_equal(n, 6);
  assert_memory_equal(ids, want_ids, sizeof want_ids);
  nnrt_free(ids);
  assert_int_equal(nnrt_text_ids(v, "to bee", 6, "test.txt", "train.txt", &ids, &n, err, sizeof err), -1);
  assert_string_equal(err, "test.txt: byte 3: word 'bee' is not in the vocabulary of train.txt");
  nnrt_vocab_free(v);
}

static void test_check(void **state) {
  (void)state;
  assert_int_equal(nnrt_text_check("ok \xe2\x82\xac\n", 7, "a.txt", err, sizeof err), 0);
  assert_int_equal(nnrt_text_check("", 0, "a.txt", err, sizeof err), -1);
  assert_non_null(strstr(err, "a.txt: the file is empty"));
  assert_int_equal(nnrt_text_check("ab\0c", 4, "b.bin", err, sizeof err), -1);
  assert_string_equal(err, "b.bin: byte 2: a NUL byte: this is a binary file, not UTF-8 text");
  const char *bad[] = {"x\xff", "x\xc0\xaf", /* overlong */ "x\xed\xa0\x80", /* surrogate */
                       "x\xf4\x90\x80\x80", /* > U+10FFFF */ "x\xe2\x82", /* truncated */ "x\x80"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(nnrt_text_check(bad[i], strlen(bad[i]), "c.txt", err, sizeof err), -1);
    assert_non_null(strstr(err, "c.txt: byte 1: invalid UTF-8"));
  }
}

static void test_windows(void **state) {
  (void)state;
  int32_t ids[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  NnrtArray x, y;
  /* T = 3, shift 0 and 1 reading one file: reach 4, (10 - 4) / 3 + 1 = 3 */
  assert_int_equal(nnrt_text_windows(ids, 10, 3, 0, 3, 4, "c.txt", false, &x, err, sizeof err), 0);
  assert_int_equal(nnrt_text_windows(ids, 10, 3, 1, 3, 4, "c.txt", false, &y, err, sizeof err), 0);
  assert_int_equal(x.dims[0], 3);
  assert_int_equal(y.dims[0], 3);
  assert_int_equal(x.dims[1], 3);
  assert_int_equal(x.dtype, NNRT_I32);
  const int32_t *xv = x.data, *yv = y.data;
  for (int i = 0; i < 3; i++)
    for (int t = 0; t < 3; t++) {
      assert_int_equal(xv[i * 3 + t], i * 3 + t);
      assert_int_equal(yv[i * 3 + t], xv[i * 3 + t] + 1); /* y is x one token later */
    }
  nnrt_array_free(&x);
  nnrt_array_free(&y);
  /* stride 1: overlapping windows, (10 - 4) / 1 + 1 = 7 */
  assert_int_equal(nnrt_text_windows(ids, 10, 3, 1, 1, 4, "c.txt", false, &y, err, sizeof err), 0);
  assert_int_equal(y.dims[0], 7);
  assert_int_equal(((int32_t *)y.data)[6 * 3], 7);
  nnrt_array_free(&y);
  /* exactly one window, then one token too many */
  assert_int_equal(nnrt_text_windows(ids, 10, 9, 1, 9, 10, "c.txt", false, &y, err, sizeof err), 0);
  assert_int_equal(y.dims[0], 1);
  nnrt_array_free(&y);
  assert_int_equal(nnrt_text_windows(ids, 10, 10, 1, 10, 11, "c.txt", false, &y, err, sizeof err), -1);
  assert_null(y.data);
  assert_string_equal(err, "c.txt: a window of 11 tokens (length and shift) is longer than the corpus (10 characters)");
}

static void test_string_form(void **state) {
  (void)state;
  NnrtVocab *v = build("b\xc3\xa9" "a\n", false, 10), *w = NULL, *u = build("z y x y", true, 10);
  char *s = nnrt_vocab_string(v);
  assert_string_equal(s, "\nab\xc3\xa9");
  assert_int_equal(nnrt_vocab_parse(s, false, "ck", &w, err, sizeof err), 0);
  assert_true(nnrt_vocab_equal(v, w));
  assert_false(nnrt_vocab_equal(v, u));
  nnrt_free(s);
  nnrt_vocab_free(w);
  s = nnrt_vocab_string(u);
  assert_string_equal(s, "x y z");
  assert_int_equal(nnrt_vocab_parse(s, true, "ck", &w, err, sizeof err), 0);
  assert_true(nnrt_vocab_equal(u, w));
  assert_string_equal(nnrt_vocab_token(w, 2), "z");
  nnrt_vocab_free(w);
  nnrt_free(s);
  /* unsorted, repeated, empty words, bad UTF-8: refused */
  const char *bad_chars[] = {"ba", "aa", "", "a\xff"};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(nnrt_vocab_parse(bad_chars[i], false, "ck", &w, err, sizeof err), -1);
    assert_null(w);
  }
  const char *bad_words[] = {"b a", "a a", "a  b", " a", "a ", "a\nb"};
  for (size_t i = 0; i < 6; i++)
    assert_int_equal(nnrt_vocab_parse(bad_words[i], true, "ck", &w, err, sizeof err), -1);
  nnrt_vocab_free(v);
  nnrt_vocab_free(u);
}

static void test_files(void **state) {
  (void)state;
  char dir[] = "/tmp/nnrt_test_text_XXXXXX", path[64];
  assert_non_null(mkdtemp(dir));
  char *buf;
  size_t len;
  snprintf(path, sizeof path, "%s/missing.txt", dir);
  assert_int_equal(nnrt_read_text(path, &buf, &len, err, sizeof err), -1);
  assert_non_null(strstr(err, path));
  const struct { const char *name, *bytes; size_t n; const char *msg; } cases[] = {
      {"empty.txt", "", 0, "the file is empty"},
      {"nul.bin", "abc\0def", 7, "byte 3: a NUL byte"},
      {"latin1.txt", "caf\xe9!", 5, "byte 3: invalid UTF-8"},
      {"good.txt", "fine\n", 5, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(cases[i].bytes, 1, cases[i].n, f);
    fclose(f);
    int rc = nnrt_read_text(path, &buf, &len, err, sizeof err);
    if (cases[i].msg) {
      assert_int_equal(rc, -1);
      assert_non_null(strstr(err, path));
      assert_non_null(strstr(err, cases[i].msg));
    } else {
      assert_int_equal(rc, 0);
      assert_int_equal(len, 5);
      assert_string_equal(buf, "fine\n");
      nnrt_free(buf);
    }
    unlink(path);
  }
  rmdir(dir);
}

/* Every allocation of a build + encode + parse failing in turn: -1 and a
 * message, never a crash or a leak (under ASan). */
static void test_out_of_memory(void **state) {
  (void)state;
  for (long k = 0; k < 12; k++) {
    NnrtVocab *v = NULL, *w = NULL;
    int32_t *ids = NULL;
    int64_t n;
    nnrt_alloc_fail_after(k);
    int rc = nnrt_vocab_build("one two one", 11, "c.txt", true, 10, &v, err, sizeof err);
    if (rc == 0)
      rc = nnrt_text_ids(v, "two one", 7, "c.txt", NULL, &ids, &n, err, sizeof err);
    char *s = rc == 0 ? nnrt_vocab_string(v) : NULL;
    if (s)
      rc = nnrt_vocab_parse(s, true, "ck", &w, err, sizeof err);
    nnrt_alloc_fail_after(-1);
    nnrt_vocab_free(v);
    nnrt_vocab_free(w);
    nnrt_free(ids);
    nnrt_free(s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_char_vocab), cmocka_unit_test(test_vocab_cap), cmocka_unit_test(test_word_vocab),
      cmocka_unit_test(test_check),      cmocka_unit_test(test_windows),   cmocka_unit_test(test_string_form),
      cmocka_unit_test(test_files),      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
