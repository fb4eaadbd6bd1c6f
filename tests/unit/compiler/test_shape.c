/*
 * test_shape.c — the shape rules of shape.c and their errors, and how a
 * user error reaches the user (diag.c).
 *
 * A builder given operands that do not fit returns NULL and leaves the
 * reason in shape_error(); it reports nothing itself.  Lowering reports
 * that reason at the source expression through diag_error, which these
 * tests capture in a memory stream (diag_set_stream) to check the exact
 * `file:line:col: error:` line, the caret and the error count.
 */
#include "util.h"
#include <stdlib.h>
#include <string.h>

static void assert_shape(const Node *n, const char *want) {
  if (!n) fail_msg("builder failed: %s", shape_error());
  assert_string_equal(shape_str(&n->sh), want);
}

static void test_broadcast_rule(void **st) {
  (void)st;
  struct { const char *a, *b, *want; } ok[] = {
      {"B,3", "3", "[B, 3]"},   {"2,1", "1,3", "[2, 3]"}, {"", "2,3", "[2, 3]"},  {"B,1", "1,4", "[B, 4]"},
      {"1", "B", "[B]"},        {"4,1,3", "2,1", "[4, 2, 3]"}, {"2B", "1", "[2*B]"},
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    Shape a = S(ok[i].a), b = S(ok[i].b), s, t;
    assert_true(shape_broadcast(&a, &b, &s));
    assert_string_equal(shape_str(&s), ok[i].want);
    assert_true(shape_broadcast(&b, &a, &t)); /* symmetric */
    assert_true(shape_eq(&s, &t));
  }
  const char *bad[][2] = {{"B,3", "4"}, {"2,3", "3,3"}, {"B", "2"}, {"B", "2B"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    Shape a = S(bad[i][0]), b = S(bad[i][1]), s;
    assert_false(shape_broadcast(&a, &b, &s));
  }
}

static void test_binary(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,3"), *b = P("b", "3"), *c = P("c", "4");
  assert_shape(g_binary(OP_ADD, x, b), "[B, 3]");
  assert_null(g_binary(OP_ADD, x, c));
  assert_string_equal(shape_error(), "shapes f32[B, 3] and f32[4] cannot be broadcast together for 'add'");
  Node *d = Pd("d", DT_F64, "3");
  assert_null(g_binary(OP_MUL, b, d));
  assert_string_equal(shape_error(), "operands of 'mul' have different element types: f32[3] and f64[3]");
  /* comparisons of integers give 0/1 as f32; of floats, the float type */
  Node *i = I("li", DT_I32, "B"), *j = I("lj", DT_I32, "B");
  assert_int_equal(g_binary(OP_EQ, i, j)->dt, DT_F32);
  assert_int_equal(g_binary(OP_LT, d, d)->dt, DT_F64);
  assert_int_equal(g_binary(OP_ADD, i, j)->dt, DT_I32);
  /* ** has no integer code: it says so instead of an internal error in codegen */
  assert_null(g_binary(OP_POW, i, j));
  assert_string_equal(shape_error(), "'**' needs floating-point operands, got i32[B] and i32[B] (write x * x for integers)");
  /* an error propagates: a NULL operand gives NULL */
  assert_null(g_binary(OP_ADD, NULL, b));
  assert_null(g_unary(OP_EXP, NULL));
}

static void test_unary(void **st) {
  (void)st;
  Node *i = I("li", DT_I32, "B");
  assert_null(g_unary(OP_EXP, i));
  assert_string_equal(shape_error(), "'exp' needs a floating-point tensor, got i32[B]");
  assert_non_null(g_unary(OP_NEG, i)); /* sign-like ops work on integers */
  assert_non_null(g_unary(OP_ABS, i));
  assert_int_equal(g_unary(OP_SIGN, i)->dt, DT_I32);
  assert_shape(g_unary(OP_TANH, P("x", "B,7")), "[B, 7]");
}

static void test_select(void **st) {
  (void)st;
  Node *c = I("cond", DT_F32, "B,1"), *a = P("a", "3"), *b = P("b", "1");
  assert_shape(g_select(c, a, b), "[B, 3]");
  assert_null(g_select(c, a, Pd("d", DT_F64, "3")));
  assert_string_equal(shape_error(), "select branches differ in type: f32[3] and f64[3]");
  assert_null(g_select(I("cond2", DT_F32, "2"), a, b));
  assert_string_equal(shape_error(), "select operands f32[2], f32[3], f32[1] cannot be broadcast together");
}

static void test_reduce(void **st) {
  (void)st;
  Node *x = P("x", "B,3,4");
  assert_shape(g_reduce(OP_SUM, x, 1), "[1, 3, 4]"); /* keeps size-1 dims */
  assert_shape(g_reduce(OP_SUM, x, 6), "[B, 1, 1]");
  assert_shape(g_reduce(OP_MAX, x, 7), "[1, 1, 1]");
  assert_ptr_equal(g_reduce(OP_SUM, x, 0), x); /* no axes: nothing to do */
  assert_int_equal(g_reduce(OP_SUM, x, 2)->ia[0], 2);
  /* the reduction loops have float code only: integers are refused, not miscompiled */
  assert_null(g_reduce(OP_SUM, I("li", DT_I32, "B"), 1));
  assert_string_equal(shape_error(), "'sum' needs a floating-point tensor, got i32[B]");
  assert_null(g_reduce(OP_MAX, I("li", DT_I32, "B"), 1));
  assert_string_equal(shape_error(), "'max' needs a floating-point tensor, got i32[B]");
}

static void test_row(void **st) {
  (void)st;
  assert_shape(g_row(OP_SOFTMAX, P("z", "B,10")), "[B, 10]");
  assert_null(g_row(OP_SOFTMAX, C(1)));
  assert_string_equal(shape_error(), "'softmax' needs a tensor of rank >= 1, got f32[]");
  assert_null(g_row(OP_LOG_SOFTMAX, I("li", DT_I32, "B")));
  assert_string_equal(shape_error(), "'log_softmax' needs a floating-point tensor, got i32[B]");
}

static void test_matmul(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,3"), *w = P("w", "3,4"), *v = P("v", "4,3");
  assert_shape(g_matmul(x, w, 0, 0), "[B, 4]");
  assert_shape(g_matmul(x, v, 0, 1), "[B, 4]");
  assert_shape(g_matmul(x, x, 1, 0), "[3, 3]"); /* contracts over B */
  assert_shape(g_matmul(w, x, 1, 1), "[4, B]");
  assert_null(g_matmul(x, v, 0, 0));
  assert_string_equal(shape_error(), "inner dimensions of the matrix product differ: f32[B, 3] @ f32[4, 3] (3 vs 4)");
  assert_null(g_matmul(P("r1", "3"), w, 0, 0));
  assert_string_equal(shape_error(),
                      "matrix product needs operands of rank 2 or more ([..., m, k] @ [..., k, n]), got f32[3] @ f32[3, 4]");
  assert_null(g_matmul(x, Pd("w64", DT_F64, "3,4"), 0, 0));
  assert_string_equal(shape_error(), "matrix product needs two float tensors of one type, got f32[B, 3] and f64[3, 4]");
  assert_null(g_matmul(I("li2", DT_I32, "2,2"), I("lj2", DT_I32, "2,2"), 0, 0));
  assert_shape_error("two float tensors");
}

/* [..., m, k] @ [..., k, n]: batch dims broadcast; an operand whose batch
 * dims are all 1 is read as one matrix, any other is broadcast first. */
static void test_matmul_batched(void **st) {
  (void)st;
  Node *q = I("q4", DT_F32, "B,4,5,8"), *k = I("k4", DT_F32, "B,4,8,5");
  assert_shape(g_matmul(q, k, 0, 0), "[B, 4, 5, 5]");
  assert_shape(g_matmul(q, q, 0, 1), "[B, 4, 5, 5]");
  assert_shape(g_matmul(k, k, 1, 0), "[B, 4, 5, 5]");
  Node *a = P("adj", "6,6"), *h = I("h3", DT_F32, "B,6,3");
  Node *ah = g_matmul(a, h, 0, 0);
  assert_shape(ah, "[B, 6, 3]");
  assert_ptr_equal(ah->in[0], a); /* one matrix for every product: no copy */
  Node *kh = I("kh", DT_F32, "4,8,5"), *qk = g_matmul(q, kh, 0, 0);
  assert_shape(qk, "[B, 4, 5, 5]");
  assert_int_equal(qk->in[1]->op, OP_BROADCAST); /* [4] against [B, 4] */
  assert_shape(qk->in[1], "[B, 4, 8, 5]");
  assert_shape(g_matmul(I("q1", DT_F32, "B,1,5,8"), I("k1", DT_F32, "1,3,8,2"), 0, 0), "[B, 3, 5, 2]");
  assert_null(g_matmul(q, I("k3", DT_F32, "B,3,8,5"), 0, 0));
  assert_string_equal(shape_error(), "batch dimensions of the matrix product cannot be broadcast together: "
                                     "f32[B, 4, 5, 8] @ f32[B, 3, 8, 5]");
  assert_null(g_matmul(q, q, 0, 0));
  assert_string_equal(shape_error(), "inner dimensions of the matrix product differ: f32[B, 4, 5, 8] @ f32[B, 4, 5, 8] "
                                     "(8 vs 5)");
}

static void test_reshape(void **st) {
  (void)st;
  Node *x = I("img", DT_F32, "B,784");
  assert_shape(g_reshape(x, S("B,28,28")), "[B, 28, 28]");
  assert_shape(g_reshape(x, S("28,B,28")), "[28, B, 28]");
  assert_ptr_equal(g_reshape(x, S("B,784")), x);
  assert_null(g_reshape(x, S("B,28,27")));
  assert_string_equal(shape_error(), "cannot reshape f32[B, 784] (784*B elements) to [B, 28, 27] (756*B elements)");
  assert_null(g_reshape(x, S("784"))); /* the batch cannot vanish */
  assert_string_equal(shape_error(), "cannot reshape f32[B, 784] (784*B elements) to [784] (784 elements)");
}

static void test_broadcast(void **st) {
  (void)st;
  Node *v = P("v", "3");
  assert_shape(g_broadcast(v, S("B,3")), "[B, 3]");
  assert_ptr_equal(g_broadcast(v, S("3")), v);
  assert_null(g_broadcast(v, S("B,4")));
  assert_string_equal(shape_error(), "cannot broadcast f32[3] to [B, 4]");
  assert_null(g_broadcast(P("m", "2,3"), S("3"))); /* never to a smaller shape */
  assert_string_equal(shape_error(), "cannot broadcast f32[2, 3] to [3]");
}

static void test_transpose(void **st) {
  (void)st;
  Node *x = P("t", "2,3,4");
  assert_shape(g_transpose(x, (int64_t[]){2, 0, 1}), "[4, 2, 3]");
  assert_ptr_equal(g_transpose(x, (int64_t[]){0, 1, 2}), x);
  assert_null(g_transpose(x, (int64_t[]){0, 0, 1}));
  assert_string_equal(shape_error(), "bad permutation for a tensor of rank 3");
  assert_null(g_transpose(x, (int64_t[]){0, 1, 3}));
  assert_shape_error("bad permutation");
  assert_null(g_transpose(x, (int64_t[]){-1, 1, 2}));
  assert_shape_error("bad permutation");
}

static void test_slice(void **st) {
  (void)st;
  Node *x = I("seq", DT_F32, "B,10");
  assert_shape(g_slice(x, (int64_t[]){0, 2}, S("B,5")), "[B, 5]");
  assert_int_equal(g_slice(x, (int64_t[]){0, 2}, S("B,5"))->ia[1], 2);
  assert_ptr_equal(g_slice(x, (int64_t[]){0, 0}, S("B,10")), x);
  assert_null(g_slice(x, (int64_t[]){0, 6}, S("B,5")));
  assert_string_equal(shape_error(), "slice 6:11 is out of range for a dimension of size 10");
  assert_null(g_slice(x, (int64_t[]){0, -1}, S("B,5")));
  assert_string_equal(shape_error(), "slice -1:4 is out of range for a dimension of size 10");
  assert_null(g_slice(x, (int64_t[]){1, 0}, S("B,10")));
  assert_string_equal(shape_error(), "cannot slice along the batch dimension");
  assert_null(g_slice(x, (int64_t[]){0}, S("10")));
  assert_string_equal(shape_error(), "slice keeps the rank");
}

static void test_concat(void **st) {
  (void)st;
  Node *a = I("ca", DT_F32, "B,3"), *b = I("cb", DT_F32, "B,2");
  assert_shape(g_concat(a, b, 1), "[B, 5]");
  assert_ptr_equal(g_concat(a, b, -1), g_concat(a, b, 1)); /* negative axes count from the end */
  assert_null(g_concat(a, b, 0));
  assert_string_equal(shape_error(), "cannot concatenate f32[B, 3] and f32[B, 2] along axis 0: dimension 1 differs");
  assert_null(g_concat(a, a, 0));
  assert_string_equal(shape_error(), "cannot concatenate along the batch dimension");
  assert_null(g_concat(a, b, 2));
  assert_string_equal(shape_error(), "concat axis out of range for f32[B, 3]");
  assert_null(g_concat(a, P("r1", "3"), 0));
  assert_string_equal(shape_error(), "cannot concatenate f32[B, 3] and f32[3]");
}

static void test_index_ops(void **st) {
  (void)st;
  Node *labels = I("labels", DT_I32, "B");
  Node *h = g_onehot(labels, 10, DT_F32);
  assert_shape(h, "[B, 10]");
  assert_int_equal(h->dt, DT_F32);
  assert_null(g_onehot(P("fl", "B"), 10, DT_F32));
  assert_string_equal(shape_error(), "onehot needs integer labels, got f32[B]");
  /* a class count below one gave f32[B, 0] or f32[B, -3] tensors that compiled */
  assert_null(g_onehot(labels, 0, DT_F32));
  assert_string_equal(shape_error(), "onehot needs at least one class, got 0");
  assert_null(g_onehot(labels, -3, DT_F32));
  assert_string_equal(shape_error(), "onehot needs at least one class, got -3");
  assert_shape(g_onehot(labels, 1, DT_F32), "[B, 1]");
  Node *am = g_argmax(P("z", "B,10"));
  assert_shape(am, "[B]");
  assert_int_equal(am->dt, DT_I32);
  assert_null(g_argmax(C(1)));
  assert_string_equal(shape_error(), "argmax needs rank >= 1, got f32[]");
  assert_null(g_argmax(I("iz", DT_I32, "B,3")));
  assert_string_equal(shape_error(), "argmax needs a floating-point tensor, got i32[B, 3]");
  assert_shape(g_iota(5, DT_I32), "[5]");
  assert_ptr_equal(g_cast(labels, DT_I32), labels);
  assert_int_equal(g_cast(labels, DT_F32)->dt, DT_F32);
}

static void test_unbroadcast(void **st) {
  (void)st;
  Node *g = I("gr", DT_F32, "B,2,3");
  assert_shape(g_unbroadcast(g, S("3")), "[3]");
  assert_shape(g_unbroadcast(g, S("2,1")), "[2, 1]");
  assert_shape(g_unbroadcast(g, S("1,1,3")), "[1, 1, 3]");
  assert_shape(g_unbroadcast(g, S("")), "[]");
  assert_ptr_equal(g_unbroadcast(g, S("B,2,3")), g);
  Node *s = g_unbroadcast(g, S("2,1")); /* reshape(sum over the leading B and the last axis) */
  assert_int_equal(s->op, OP_RESHAPE);
  assert_int_equal(s->in[0]->op, OP_SUM);
  assert_int_equal(s->in[0]->ia[0], 1 | 4);
}

/* ---- convolution and pooling ------------------------------------------------ */

static void test_conv2d(void **st) {
  (void)st;
  Node *x = I("cimg", DT_F32, "B,4,9,9"), *w = P("cw", "6,2,3,3");
  int64_t geo[7] = {2, 2, 1, 1, 1, 1, 2}; /* stride 2, padding 1, groups 2 */
  assert_shape(g_conv2d(x, w, geo), "[B, 6, 5, 5]");
  int64_t dil[7] = {1, 1, 0, 0, 2, 2, 2}; /* dilation 2: a 5x5 footprint */
  assert_shape(g_conv2d(x, w, dil), "[B, 6, 5, 5]");
  int64_t plain[7] = {1, 1, 0, 0, 1, 1, 1};
  assert_null(g_conv2d(x, w, plain));
  assert_string_equal(shape_error(), "conv2d: weights f32[6, 2, 3, 3] need 4 input channels per group "
                                     "(input f32[B, 4, 9, 9] has 4 channels, groups=1)");
  int64_t g3[7] = {1, 1, 0, 0, 1, 1, 3};
  assert_null(g_conv2d(x, w, g3));
  assert_string_equal(shape_error(), "conv2d: 4 input and 6 output channels are not divisible by groups=3");
  int64_t s0[7] = {0, 1, 0, 0, 1, 1, 2};
  assert_null(g_conv2d(x, w, s0));
  assert_string_equal(shape_error(), "conv2d: stride and dilation must be >= 1, padding >= 0, groups >= 1");
  Node *big = P("cbig", "6,2,11,11");
  int64_t grouped[7] = {1, 1, 0, 0, 1, 1, 2};
  assert_null(g_conv2d(x, big, grouped));
  assert_string_equal(shape_error(), "conv2d: a 11x11 kernel (dilation 1) does not fit the 9x9 input with padding 0");
  /* a kernel wider than the input never fits, whatever the stride: with
   * stride 2, (4 - 5)/2 rounds toward zero in C and gave a 1x1 output */
  int64_t s2[7] = {2, 2, 0, 0, 1, 1, 1};
  assert_null(g_conv2d(I("csmall", DT_F32, "B,1,4,4"), P("c5", "2,1,5,5"), s2));
  assert_string_equal(shape_error(), "conv2d: a 5x5 kernel (dilation 1) does not fit the 4x4 input with padding 0");
  int64_t d2s3[7] = {3, 3, 0, 0, 2, 2, 1}; /* dilation 2: a 5x5 footprint on 4x4 */
  assert_null(g_conv2d(I("csmall", DT_F32, "B,1,4,4"), P("c3x3", "2,1,3,3"), d2s3));
  assert_shape_error("does not fit the 4x4 input");
  assert_shape(g_conv2d(I("csmall", DT_F32, "B,1,4,4"), P("c4", "2,1,4,4"), s2), "[B, 2, 1, 1]"); /* just fits */
  assert_null(g_conv2d(P("c3", "4,9,9"), w, geo));
  assert_shape_error("needs an NCHW input and OIHW weights (rank 4)");
  assert_null(g_conv2d(I("cb", DT_F32, "1,B,9,9"), w, geo));
  assert_string_equal(shape_error(), "only the batch dimension of a convolution's input may depend on the batch");
  /* the adjoints check that their operands fit the shape they undo */
  Node *dy = I("cdy", DT_F32, "B,6,4,4");
  assert_null(g_conv2d_bwd_data(dy, w, geo, S("B,4,9,9")));
  assert_string_equal(shape_error(), "transposed convolution: input f32[B, 6, 4, 4] does not fit the output "
                                     "f32[B, 4, 9, 9] (a forward convolution of that output gives [B, 6, 5, 5])");
  assert_shape(g_conv2d_bwd_data(g_conv2d(x, w, geo), w, geo, x->sh), "[B, 4, 9, 9]");
  assert_null(g_conv2d_bwd_weights(x, dy, geo, w->sh));
  assert_string_equal(shape_error(), "conv2d weight gradient: shapes do not fit");
}

static void test_pool(void **st) {
  (void)st;
  Node *x = I("pimg", DT_F32, "B,3,8,7");
  int64_t geo[6] = {2, 2, 2, 2, 0, 0};
  assert_shape(g_pool(OP_MAXPOOL, x, geo), "[B, 3, 4, 3]");
  assert_int_equal(g_pool(OP_POOLIDX, x, geo)->dt, DT_I32);
  int64_t pad[6] = {3, 3, 1, 1, 1, 1};
  assert_shape(g_pool(OP_AVGPOOL, x, pad), "[B, 3, 8, 7]");
  int64_t toomuch[6] = {2, 2, 1, 1, 2, 0};
  assert_null(g_pool(OP_MAXPOOL, x, toomuch));
  assert_string_equal(shape_error(), "pooling: kernel and stride must be >= 1 and padding at most half the kernel");
  int64_t wide[6] = {9, 2, 1, 1, 0, 0};
  assert_null(g_pool(OP_MAXPOOL, x, wide));
  assert_string_equal(shape_error(), "pooling: a 9x2 window does not fit the 8x7 input");
  assert_null(g_pool(OP_MAXPOOL, P("p3", "3,8,8"), geo));
  assert_string_equal(shape_error(), "2-D pooling needs an NCHW input, got f32[3, 8, 8]");
  assert_null(g_pool(OP_AVGPOOL, I("pi", DT_I32, "B,1,4,4"), geo));
  assert_string_equal(shape_error(), "pooling needs a float tensor, got i32[B, 1, 4, 4]");
  /* adjoints: values and indices must be the pooled shape of the output */
  Node *v = I("pv", DT_F32, "B,3,4,3"), *idx = g_pool(OP_POOLIDX, x, geo);
  assert_shape(g_pool_adjoint(OP_UNPOOL, v, idx, geo, x->sh), "[B, 3, 8, 7]");
  assert_null(g_pool_adjoint(OP_UNPOOL, I("pv2", DT_F32, "B,3,4,4"), idx, geo, x->sh));
  assert_string_equal(shape_error(), "max_unpool2d: f32[B, 3, 4, 4] does not fit the pooling of f32[B, 3, 8, 7]");
  assert_null(g_pool_adjoint(OP_UNPOOL, v, I("fidx", DT_F32, "B,3,4,3"), geo, x->sh));
  assert_string_equal(shape_error(), "max_unpool2d: indices f32[B, 3, 4, 3] do not match the pooled values [B, 3, 4, 3]");
}

/* ---- diagnostics ------------------------------------------------------------- */

static char *capture_buf;
static size_t capture_len;
static FILE *capture(void) {
  free(capture_buf);
  capture_buf = NULL;
  FILE *f = open_memstream(&capture_buf, &capture_len);
  assert_non_null(f);
  diag_set_stream(f);
  return f;
}
static const char *captured(FILE *f) {
  fflush(f);
  return capture_buf;
}
static void release(FILE *f) {
  diag_set_stream(NULL);
  fclose(f);
  free(capture_buf);
  capture_buf = NULL;
}

static void test_diag_format_and_count(void **st) {
  (void)st;
  diag_reset();
  FILE *f = capture();
  SrcFile *src = src_from_string("t.nn", "model M {\n\treturn x + b;\n}\n");
  diag_error((Loc){src, 2, 11}, "shapes %s and %s differ", "[2]", "[3]");
  diag_note((Loc){src, 1, 7}, "declared here");
  assert_string_equal(captured(f), "t.nn:2:11: error: shapes [2] and [3] differ\n"
                                   "\treturn x + b;\n"
                                   "\t         ^\n" /* the tab is kept so the caret lines up */
                                   "t.nn:1:7: note: declared here\n"
                                   "model M {\n"
                                   "      ^\n");
  assert_int_equal(diag_error_count(), 1);
  /* the same error at the same place is counted but shown once, notes too */
  size_t before = strlen(captured(f));
  diag_error((Loc){src, 2, 11}, "shapes %s and %s differ", "[2]", "[3]");
  diag_note((Loc){src, 1, 7}, "declared here");
  assert_int_equal(strlen(captured(f)), before);
  assert_int_equal(diag_error_count(), 2);
  diag_error((Loc){0}, "no place");
  assert_non_null(strstr(captured(f), "<builtin>: error: no place\n"));
  diag_reset();
  assert_int_equal(diag_error_count(), 0);
  release(f);
}

/* A shape error in a whole program: lowering reports shape_error() at the
 * operator, with a caret, and gives up with a non-zero error count. */
static void test_lowering_reports_shape_error(void **st) {
  (void)st;
  diag_reset();
  FILE *f = capture();
  SrcFile *src = src_from_string("bad.nn",
                                 "data table {\n"
                                 "  x: f32[4] = [[1, 2, 3, 4], [5, 6, 7, 8]];\n"
                                 "}\n"
                                 "model M {\n"
                                 "  param w: f32[4, 2] = zeros;\n"
                                 "  param b: f32[3] = zeros;\n"
                                 "  fn forward(x: f32[B, 4]) -> f32[B, 2] {\n"
                                 "    return x @ w + b;\n"
                                 "  }\n"
                                 "}\n"
                                 "train M on table {\n"
                                 "  loss = mean(forward(x));\n"
                                 "  optimizer = sgd(lr = 0.1);\n"
                                 "}\n");
  Module *m = sema_load_src(src);
  assert_non_null(m);
  assert_int_equal(diag_error_count(), 0);
  assert_null(lower_program(m));
  assert_true(diag_error_count() >= 1);
  const char *out = captured(f);
  const char *want = "bad.nn:8:18: error: shapes f32[B, 2] and f32[3] cannot be broadcast together for 'add'\n"
                     "    return x @ w + b;\n"
                     "                 ^\n";
  if (strncmp(out, want, strlen(want)) != 0) fail_msg("diagnostics were:\n%s", out);
  diag_reset();
  release(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_broadcast_rule), cmocka_unit_test(test_binary),
      cmocka_unit_test(test_unary),          cmocka_unit_test(test_select),
      cmocka_unit_test(test_reduce),         cmocka_unit_test(test_row),
      cmocka_unit_test(test_matmul),         cmocka_unit_test(test_matmul_batched), cmocka_unit_test(test_reshape),
      cmocka_unit_test(test_broadcast),      cmocka_unit_test(test_transpose),
      cmocka_unit_test(test_slice),          cmocka_unit_test(test_concat),
      cmocka_unit_test(test_index_ops),      cmocka_unit_test(test_unbroadcast),
      cmocka_unit_test(test_conv2d),         cmocka_unit_test(test_pool),
      cmocka_unit_test(test_diag_format_and_count), cmocka_unit_test(test_lowering_reports_shape_error),
  };
  return cmocka_run_group_tests(tests, setup_compiler, NULL);
}
