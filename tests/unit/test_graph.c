/*
 * test_graph.c — the graph edge-list loader and the label / mask checks
 * (runtime/data/graph.c): CSR and dense forms of a good file, the karate
 * club file of examples/lecture10, and every documented error with its
 * PATH:LINE:COL, plus every truncation of a good buffer (no crash, no leak).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static char err[512];

static int parse(const char *text, int64_t n, NnrtGraph *g) {
  err[0] = 0;
  return nnrt_parse_graph_buffer(text, strlen(text), "g.csv", n, g, err, sizeof err);
}

static void test_csr_and_dense(void **state) {
  (void)state;
  NnrtGraph g;
  // header, CRLF, spaces, a blank line, edges in both directions
  assert_int_equal(parse("src,dst\r\n2, 0\r\n 0 ,1\n\n3,1\n1,2\n", 4, &g), 0);
  assert_int_equal(g.n, 4);
  assert_int_equal(g.nedges, 4);
  static const int64_t rowptr[] = {0, 2, 5, 7, 8};
  static const int32_t col[] = {1, 2, 0, 2, 3, 0, 1, 1};
  for (int i = 0; i < 5; i++) assert_int_equal(g.rowptr[i], rowptr[i]);
  for (int i = 0; i < 8; i++) assert_int_equal(g.col[i], col[i]);
  NnrtArray a;
  assert_int_equal(nnrt_graph_dense(&g, &a, err, sizeof err), 0);
  assert_int_equal(a.dtype, NNRT_F32);
  assert_int_equal(a.dims[0], 4);
  assert_int_equal(a.dims[1], 4);
  const float *x = a.data;
  float sum = 0;
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++) {
      assert_true(x[r * 4 + c] == x[c * 4 + r]); // symmetric
      sum += x[r * 4 + c];
    }
  assert_true(sum == 8.0f);
  assert_true(x[0 * 4 + 0] == 0.0f); // no self-loops: A, not A + I
  assert_true(x[1 * 4 + 3] == 1.0f);
  nnrt_array_free(&a);
  nnrt_graph_free(&g);
  // an isolated node and an empty edge list are fine
  assert_int_equal(parse("", 3, &g), 0);
  assert_int_equal(g.nedges, 0);
  assert_int_equal(g.rowptr[3], 0);
  nnrt_graph_free(&g);
}

static void expect_error(const char *text, int64_t n, const char *msg) {
  NnrtGraph g;
  assert_int_equal(parse(text, n, &g), -1);
  if (!strstr(err, msg)) fail_msg("expected \"%s\" in \"%s\"", msg, err);
  assert_null(g.rowptr);
  assert_null(g.col);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("0,1\n1,7\n", 4, "g.csv:2:3: edge to missing node 7 (the graph has nodes 0 to 3)");
  expect_error("0,1\n2,2\n", 4, "g.csv:2: self-loop on node 2");
  expect_error("0,1\n1,2\n1,0\n", 4, "g.csv:3: duplicate edge 0-1 (already on line 1");
  expect_error("0,1\n0,1\n", 4, "g.csv:2: duplicate edge 0-1 (already on line 1");
  expect_error("0,1\n0;1\n", 4, "g.csv:2:2: expected ',' between the two node ids");
  expect_error("0,1\n0,1,2\n", 4, "g.csv:2:4: an edge is two node ids, found more");
  expect_error("0,1\n-1,2\n", 4, "g.csv:2:1: expected a node id (0 to 3)");
  expect_error("0,1\n1,\n", 4, "g.csv:2:3: expected a node id");
  expect_error("0,99999999999999999999\n", 4, "g.csv:1:3: edge to missing node");
  expect_error("0,1\n", 0, "g.csv: a graph needs 1 to");
}

// Every prefix of a good file either parses or fails with a message.
static void test_truncations(void **state) {
  (void)state;
  const char *text = "u,v\n0,1\n1,2\n2,3\n3,0\n";
  char buf[64];
  for (size_t k = 0; k <= strlen(text); k++) {
    memcpy(buf, text, k);
    NnrtGraph g;
    err[0] = 0;
    int r = nnrt_parse_graph_buffer(buf, k, "t.csv", 4, &g, err, sizeof err);
    if (r == 0)
      nnrt_graph_free(&g);
    else
      assert_non_null(strstr(err, "t.csv:"));
  }
}

static NnrtArray ints(int32_t *v, int64_t n) {
  NnrtArray a = {.dtype = NNRT_I32, .rank = 1, .dims = {n}, .data = v};
  return a;
}

static void test_labels(void **state) {
  (void)state;
  int32_t y[4] = {0, 1, 1, 0};
  NnrtArray a = ints(y, 4);
  assert_int_equal(nnrt_graph_check_labels(&a, 4, 2, "y.csv", err, sizeof err), 0);
  y[2] = 2;
  assert_int_equal(nnrt_graph_check_labels(&a, 4, 2, "y.csv", err, sizeof err), -1);
  assert_string_equal(err, "y.csv: row 3 (node 2): label is not a class 0 to 1");
  y[2] = -1;
  assert_int_equal(nnrt_graph_check_labels(&a, 4, 2, "y.csv", err, sizeof err), -1);
  assert_int_equal(nnrt_graph_check_labels(&a, 5, 2, "y.csv", err, sizeof err), -1);
  assert_string_equal(err, "y.csv: 4 labels for a graph of 5 nodes");
  double yd[2] = {0, 0.5};
  NnrtArray d = {.dtype = NNRT_F64, .rank = 1, .dims = {2}, .data = yd};
  assert_int_equal(nnrt_graph_check_labels(&d, 2, 2, "y.csv", err, sizeof err), -1);
  assert_string_equal(err, "y.csv: row 2 (node 1): label is not a class 0 to 1");
}

static void test_masks(void **state) {
  (void)state;
  int32_t tr[4] = {1, 0, 0, 0}, va[4] = {0, 1, 0, 0}, te[4] = {0, 0, 1, 1};
  NnrtArray a = ints(tr, 4), b = ints(va, 4), c = ints(te, 4);
  const NnrtArray *m[3] = {&a, &b, &c};
  const char *const names[3] = {"train.csv", "val.csv", "test.csv"};
  assert_int_equal(nnrt_graph_check_masks(m, names, 4, err, sizeof err), 0);
  const NnrtArray *two[3] = {&a, NULL, &c};
  assert_int_equal(nnrt_graph_check_masks(two, names, 4, err, sizeof err), 0);
  te[0] = 1;
  assert_int_equal(nnrt_graph_check_masks(m, names, 4, err, sizeof err), -1);
  assert_string_equal(err, "train.csv: row 1: node 0 is in both the train and the test mask (test.csv)");
  te[0] = 2;
  assert_int_equal(nnrt_graph_check_masks(m, names, 4, err, sizeof err), -1);
  assert_string_equal(err, "test.csv: row 1 (node 0): a mask entry is 0 or 1");
  te[0] = 0;
  assert_int_equal(nnrt_graph_check_masks(m, names, 3, err, sizeof err), -1);
  assert_string_equal(err, "train.csv: train mask has 4 entries for a graph of 3 nodes");
}

// Zachary's karate club as examples/lecture10/karate writes it: 34 nodes,
// 78 edges, Mr. Hi (node 0) has 16 neighbours and the officer (33) 17.
static void test_karate(void **state) {
  (void)state;
  NnrtGraph g;
  int r = nnrt_load_graph(NNC_SOURCE_DIR "/examples/lecture10/karate/edges.csv", 34, &g, err, sizeof err);
  if (r != 0) fail_msg("%s", err);
  assert_int_equal(g.nedges, 78);
  assert_int_equal(g.rowptr[1] - g.rowptr[0], 16);
  assert_int_equal(g.rowptr[34] - g.rowptr[33], 17);
  nnrt_graph_free(&g);
  assert_int_equal(nnrt_load_graph("/nonexistent/edges.csv", 34, &g, err, sizeof err), -1);
  assert_non_null(strstr(err, "/nonexistent/edges.csv"));
}

// The normalised Laplacian's spectrum: the complete graph K4 has 0 once and
// 4/3 three times; for the karate club, 0 first and the sign of the second
// eigenvector (the spectral split) agrees with the factions on most members.
static void test_spectral(void **state) {
  (void)state;
  NnrtGraph g;
  assert_int_equal(parse("0,1\n0,2\n0,3\n1,2\n1,3\n2,3\n", 4, &g), 0);
  double vals[34], vecs[34 * 34];
  assert_int_equal(nnrt_graph_spectral(&g, vals, vecs, err, sizeof err), 0);
  assert_true(fabs((vals[0]) - (0.0)) < 1e-12);
  for (int k = 1; k < 4; k++) assert_true(fabs((vals[k]) - (4.0 / 3.0)) < 1e-12);
  for (int i = 0; i < 4; i++) assert_true(fabs((vecs[i * 4 + 0]) - (0.5)) < 1e-12); // D^1/2 1, normalised
  nnrt_graph_free(&g);
  int r = nnrt_load_graph(NNC_SOURCE_DIR "/examples/lecture10/karate/edges.csv", 34, &g, err, sizeof err);
  if (r != 0) fail_msg("%s", err);
  assert_int_equal(nnrt_graph_spectral(&g, vals, vecs, err, sizeof err), 0);
  assert_true(fabs((vals[0]) - (0.0)) < 1e-12);
  assert_true(vals[1] > 1e-6); // one connected component
  for (int k = 1; k < 34; k++) assert_true(vals[k] >= vals[k - 1] && vals[k] <= 2.0 + 1e-12);
  static const int faction[34] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0,
                                  0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  int agree = 0;
  for (int i = 0; i < 34; i++) agree += (vecs[i * 34 + 1] > 0) == (faction[i] == faction[33]);
  if (agree < 17) agree = 34 - agree; // the eigenvector's sign is arbitrary
  printf("spectral split agrees with the factions on %d of 34 members\n", agree);
  assert_true(agree >= 30);
  nnrt_graph_free(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_csr_and_dense), cmocka_unit_test(test_errors), cmocka_unit_test(test_truncations),
      cmocka_unit_test(test_labels),        cmocka_unit_test(test_masks),  cmocka_unit_test(test_karate),
      cmocka_unit_test(test_spectral),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
