/*
 * test_mlm.c — BERT pretraining samples (runtime/data/mlm.c): documents and
 * sentences of a fortune-style file, the [CLS] a [SEP] b [SEP] layout with
 * segments and padding, true and random next sentences, the masked-LM
 * proportions (15% chosen; 80% [MASK], 10% random, 10% kept) over many
 * samples with a fixed seed, reproducibility, [UNK] and the errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static char err[512];

/* Three documents: "A b." "C d!" | "E f?" | "G h. I j. K l." (words). */
static const char *small = "A b. C d!\n%\nE f?\n%\n  G h.\n I  j. K l.\n";

static NnrtVocab *vocab(const char *s, bool words) {
  NnrtVocab *v = NULL;
  assert_int_equal(nnrt_mlm_vocab(s, strlen(s), "d.txt", words, 1000, &v, err, sizeof err), 0);
  return v;
}

static NnrtMlmSet build(const char *s, const NnrtVocab *v, NnrtMlmConfig cfg) {
  NnrtMlmSet m;
  int rc = nnrt_mlm_build(s, strlen(s), "d.txt", v, &cfg, &m, err, sizeof err);
  if (rc != 0)
    fail_msg("%s", err);
  return m;
}

static int32_t id_of(const NnrtVocab *v, const char *w) {
  int64_t id = nnrt_vocab_find(v, w, strlen(w));
  assert_true(id >= 0);
  return (int32_t)(id + MLM_SPECIALS);
}

static void test_pairs(void **state) {
  (void)state;
  NnrtVocab *v = vocab(small, true);
  assert_int_equal(nnrt_vocab_size(v), 12); /* A b. C d! E f? G h. I j. K l. */
  NnrtMlmSet m = build(small, v, (NnrtMlmConfig){12, 0, true, 50, 7});
  assert_int_equal(m.n, 3 * 50); /* pairs (A,C), (G,I), (I,K) per copy */
  int trues = 0;
  for (int64_t k = 0; k < m.n; k++) {
    const int32_t *ids = m.ids + k * 12, *seg = m.segments + k * 12;
    int64_t first = (k % 3) == 0 ? id_of(v, "A") : (k % 3) == 1 ? id_of(v, "G") : id_of(v, "I");
    int32_t want_a[] = {MLM_CLS, (int32_t)first, ids[2], MLM_SEP};
    assert_memory_equal(ids, want_a, sizeof want_a);
    assert_int_equal(ids[6], MLM_SEP);
    for (int i = 0; i < 12; i++) {
      assert_int_equal(seg[i], i >= 4 && i <= 6 ? 1 : 0);
      assert_true(m.keep[k * 12 + i] == (i < 7 ? 1.0f : 0.0f));
      assert_int_equal(ids[i] == MLM_PAD, i >= 7);
      assert_true(m.weight[k * 12 + i] == 0.0f); /* mask = 0 */
      assert_int_equal(m.target[k * 12 + i], ids[i]);
    }
    /* b: the next sentence of the same document, or one of another */
    int32_t next_b = (k % 3) == 0 ? id_of(v, "C") : (k % 3) == 1 ? id_of(v, "I") : id_of(v, "K");
    if (m.next[k]) {
      trues++;
      assert_int_equal(ids[4], next_b);
    } else {
      const char *other[2][3] = {{"E", "G", "I"}, {"A", "C", "E"}};
      const char *const *o = other[(k % 3) != 0];
      bool found = false;
      for (int j = 0; j < 3 + ((k % 3) == 0); j++)
        found |= ids[4] == id_of(v, j < 3 ? o[j] : "K");
      assert_true(found);
    }
  }
  assert_in_range(trues, 50, 100); /* about half of 150 */
  nnrt_mlm_free(&m);
  nnrt_vocab_free(v);
}

static void test_truncation_and_single(void **state) {
  (void)state;
  const char *s = "abcdefgh. xy.\n%\nqq. rr.\n";
  NnrtVocab *v = vocab(s, false);
  NnrtMlmSet m = build(s, v, (NnrtMlmConfig){8, 0, true, 1, 3});
  /* 9 + 3 characters into 8 - 3 = 5: the longer sentence loses its end */
  for (int64_t k = 0; k < m.n; k++)
    assert_true(m.keep[k * 8 + 7] == 1.0f);
  nnrt_mlm_free(&m);
  m = build(s, v, (NnrtMlmConfig){6, 0, false, 1, 3});
  assert_int_equal(m.n, 4); /* every sentence alone */
  int32_t want[] = {MLM_CLS, id_of(v, "x"), id_of(v, "y"), id_of(v, "."), MLM_SEP, MLM_PAD};
  assert_memory_equal(m.ids + 6, want, sizeof want);
  assert_int_equal(m.next[1], 0);
  nnrt_mlm_free(&m);
  nnrt_vocab_free(v);
}

/* Many documents of random words: the masking proportions. */
static char *big_corpus(void) {
  size_t cap = 1 << 20, at = 0;
  char *s = malloc(cap);
  NnrtRng r;
  nnrt_rng_seed(&r, 11);
  for (int d = 0; d < 400; d++) {
    for (int t = 0; t < 3; t++) {
      for (int w = 0; w < 12; w++)
        at += (size_t)snprintf(s + at, cap - at, "w%d ", (int)(nnrt_rng_next(&r) % 50));
      at += (size_t)snprintf(s + at, cap - at, "end.\n");
    }
    at += (size_t)snprintf(s + at, cap - at, "%%\n");
  }
  return s;
}

static void test_masking(void **state) {
  (void)state;
  char *s = big_corpus();
  NnrtVocab *v = vocab(s, true);
  NnrtMlmSet m = build(s, v, (NnrtMlmConfig){40, 0.15, true, 2, 5});
  assert_int_equal(m.n, 400 * 2 * 2);
  int64_t real = 0, chosen = 0, masked = 0, random = 0, kept = 0, nexts = 0;
  for (int64_t k = 0; k < m.n; k++) {
    int64_t sample_real = 0, sample_chosen = 0;
    for (int i = 0; i < 40; i++) {
      int64_t c = k * 40 + i;
      int32_t t = m.target[c];
      bool sentence = t >= MLM_SPECIALS;
      sample_real += sentence;
      if (m.weight[c] == 0.0f) {
        assert_int_equal(m.ids[c], t); /* untouched where not chosen */
        continue;
      }
      assert_true(sentence); /* never [CLS], [SEP] or padding */
      sample_chosen++;
      if (m.ids[c] == MLM_MASK)
        masked++;
      else if (m.ids[c] != t)
        random++, assert_true(m.ids[c] >= MLM_SPECIALS && m.ids[c] < MLM_SPECIALS + nnrt_vocab_size(v));
      else
        kept++;
    }
    /* round(0.15 · n) per sample, at least one */
    int64_t want = (int64_t)(0.15 * (double)sample_real + 0.5);
    assert_int_equal(sample_chosen, want < 1 ? 1 : want);
    real += sample_real, chosen += sample_chosen, nexts += m.next[k];
  }
  double f = (double)chosen / (double)real;
  assert_true(f > 0.14 && f < 0.16);
  double pm = (double)masked / (double)chosen, pr = (double)random / (double)chosen, pk = (double)kept / (double)chosen;
  assert_true(pm > 0.78 && pm < 0.82);
  assert_true(pr > 0.085 && pr < 0.115); /* a random token equal to the original counts as kept */
  assert_true(pk > 0.085 && pk < 0.115);
  assert_true(nexts > 700 && nexts < 900); /* half of 1600 */
  /* the same seed gives the same samples; another, others */
  NnrtMlmSet again = build(s, v, (NnrtMlmConfig){40, 0.15, true, 2, 5});
  assert_memory_equal(again.ids, m.ids, (size_t)(m.n * 40) * sizeof(int32_t));
  assert_memory_equal(again.next, m.next, (size_t)m.n * sizeof(int32_t));
  nnrt_mlm_free(&again);
  again = build(s, v, (NnrtMlmConfig){40, 0.15, true, 2, 6});
  assert_true(memcmp(again.ids, m.ids, (size_t)(m.n * 40) * sizeof(int32_t)) != 0);
  nnrt_mlm_free(&again);
  nnrt_mlm_free(&m);
  nnrt_vocab_free(v);
  free(s);
}

static void test_unknown_and_errors(void **state) {
  (void)state;
  NnrtVocab *v = vocab(small, true);
  const char *test = "A zz. C d!\n%\nE f?\n";
  NnrtMlmSet m = build(test, v, (NnrtMlmConfig){12, 0, true, 1, 1});
  assert_int_equal(m.ids[2], MLM_UNK);
  nnrt_mlm_free(&m);
  NnrtMlmConfig cfg = {12, 0.15, true, 1, 1};
  assert_int_equal(nnrt_mlm_build("One. Two.\n", 10, "one.txt", v, &cfg, &m, err, sizeof err), -1);
  assert_string_equal(err, "one.txt: pairs need a document of two sentences and a second document, but the file "
                           "has 1 documents (separated by lines holding a lone %) of 2 sentences");
  assert_int_equal(nnrt_mlm_build("\n%\n  \n", 6, "empty.txt", v, &cfg, &m, err, sizeof err), -1);
  assert_string_equal(err, "empty.txt: no sentence in the file");
  NnrtVocab *w = NULL;
  assert_int_equal(nnrt_mlm_vocab(small, strlen(small), "d.txt", true, 10, &w, err, sizeof err), -1);
  assert_null(w);
  assert_string_equal(err, "d.txt: 12 distinct words, more than the vocabulary cap vocab = 5 (mlm counts its 5 "
                           "special tokens in vocab: 10)");
  nnrt_vocab_free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pairs), cmocka_unit_test(test_truncation_and_single), cmocka_unit_test(test_masking),
      cmocka_unit_test(test_unknown_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
