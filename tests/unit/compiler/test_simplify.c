/*
 * test_simplify.c — every rewrite rule of simplify.c, one test each: the
 * pattern, the exact node it becomes (as a prefix expression, see util.h),
 * and a near miss that must stay as built.  Rules run inside the g_*
 * builders, so building the pattern is applying the rule.
 *
 * When a rule is added to simplify.c, add its test here; when one changes
 * on purpose, the expected expression changes with it in the same commit.
 */
#include "util.h"
#include <math.h>
#include <string.h>

#define assert_expr(n, want) assert_string_equal(E(n), want)

static Node *un(Op op, Node *a) { return g_unary(op, a); }
static Node *bin(Op op, Node *a, Node *b) { return g_binary(op, a, b); }
static Node *K(double v, int bpow, const char *shape) { return g_const(v, bpow, DT_F32, S(shape)); }

/* ---- unary -------------------------------------------------------------- */

static void test_fold_neg(void **st) {
  (void)st;
  assert_expr(un(OP_NEG, C(2)), "-2");
  assert_expr(un(OP_NEG, K(2, -1, "")), "-2/B"); /* keeps the batch power */
  assert_expr(un(OP_NEG, K(3, 0, "2")), "-3[2]");
  assert_expr(un(OP_NEG, P("x", "4")), "(neg x)");
}

static void test_fold_unary(void **st) {
  (void)st;
  struct { Op op; double in, attr, want; } t[] = {
      {OP_EXP, 0, 0, 1},      {OP_LOG, 1, 0, 0},           {OP_SQRT, 4, 0, 2},         {OP_ABS, -3, 0, 3},
      {OP_TANH, 0, 0, 0},     {OP_SIGMOID, 0, 0, 0.5},     {OP_RELU, -3, 0, 0},        {OP_RELU, 2, 0, 2},
      {OP_STEP, 2, 0, 1},     {OP_STEP, 0, 0, 0},          {OP_SIGN, -5, 0, -1},       {OP_SIGN, 0, 0, 0},
      {OP_LEAKY_RELU, -2, 0.1, -0.2}, {OP_SOFTPLUS, 0, 0, M_LN2}, {OP_ERF, 0, 0, 0},   {OP_COS, 0, 0, 1},
      {OP_SIN, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    Node *n = g_unary_attr(t[i].op, C(t[i].in), t[i].attr);
    if (n->op != OP_CONST || fabs(n->fv - t[i].want) > 1e-12)
      fail_msg("%s(%g) folded to %s, want %g", op_info[t[i].op].name, t[i].in, E(n), t[i].want);
    assert_int_equal(n->sh.rank, 0);
  }
  /* near misses: a batch power is not a number; elu, gelu and cast are not folded */
  assert_expr(un(OP_EXP, K(1, -1, "")), "(exp 1/B)");
  assert_expr(g_unary_attr(OP_ELU, C(-1), 1), "(elu -1 alpha=1)");
  assert_expr(un(OP_GELU, C(1)), "(gelu 1)");
  assert_expr(g_cast(C(1), DT_F64), "(cast:f64 1)");
}

static void test_neg_neg(void **st) {
  (void)st;
  Node *x = P("x", "4");
  assert_ptr_equal(un(OP_NEG, un(OP_NEG, x)), x);
  assert_expr(un(OP_NEG, un(OP_ABS, x)), "(neg (abs x))");
}

static void test_neg_sub(void **st) {
  (void)st;
  Node *x = P("x", "4"), *y = P("y", "4");
  assert_expr(un(OP_NEG, bin(OP_SUB, x, y)), "(sub y x)");
  assert_expr(un(OP_NEG, bin(OP_ADD, x, y)), "(neg (add x y))");
}

static void test_neg_mul_const(void **st) {
  (void)st;
  Node *x = P("x", "4"), *y = P("y", "4");
  assert_expr(un(OP_NEG, bin(OP_MUL, x, C(3))), "(mul x -3)");
  assert_expr(un(OP_NEG, bin(OP_MUL, x, K(3, -1, ""))), "(mul x -3/B)");
  assert_expr(un(OP_NEG, bin(OP_MUL, x, y)), "(neg (mul x y))");
}

static void test_log_softmax(void **st) {
  (void)st;
  Node *z = P("z", "B,10");
  assert_expr(un(OP_LOG, g_row(OP_SOFTMAX, z)), "(log_softmax z)");
  assert_ptr_equal(un(OP_LOG, g_row(OP_SOFTMAX, z)), g_row(OP_LOG_SOFTMAX, z));
  assert_expr(un(OP_LOG, un(OP_TANH, z)), "(log (tanh z))");
}

static void test_log_exp(void **st) {
  (void)st;
  Node *x = P("x", "4");
  assert_ptr_equal(un(OP_LOG, un(OP_EXP, x)), x);
  assert_expr(un(OP_LOG, bin(OP_ADD, un(OP_EXP, x), C(1))), "(log (add (exp x) 1))");
}

static void test_log_sigmoid(void **st) {
  (void)st;
  Node *z = P("z", "4");
  assert_expr(un(OP_LOG, un(OP_SIGMOID, z)), "(neg (softplus (neg z)))");
  assert_expr(un(OP_LOG, un(OP_SOFTPLUS, z)), "(log (softplus z))");
}

static void test_log_one_minus_sigmoid(void **st) {
  (void)st;
  Node *z = P("z", "4");
  assert_expr(un(OP_LOG, bin(OP_SUB, C(1), un(OP_SIGMOID, z))), "(neg (softplus z))");
  assert_expr(un(OP_LOG, bin(OP_SUB, C(2), un(OP_SIGMOID, z))), "(log (sub 2 (sigmoid z)))");
  /* a constant that broadcasts the sigmoid up is not 1 - sigmoid(z) elementwise */
  Node *wide = bin(OP_SUB, K(1, 0, "3,4"), un(OP_SIGMOID, z));
  assert_expr(un(OP_LOG, wide), "(log (sub 1[3, 4] (sigmoid z)))");
}

static void test_exp_log_softmax(void **st) {
  (void)st;
  Node *z = P("z", "B,10");
  assert_ptr_equal(un(OP_EXP, g_row(OP_LOG_SOFTMAX, z)), g_row(OP_SOFTMAX, z));
  assert_expr(un(OP_EXP, g_row(OP_SOFTMAX, z)), "(exp (softmax z))");
}

static void test_exp_log(void **st) {
  (void)st;
  Node *x = P("x", "4");
  assert_ptr_equal(un(OP_EXP, un(OP_LOG, x)), x);
  assert_expr(un(OP_EXP, un(OP_NEG, un(OP_LOG, x))), "(exp (neg (log x)))");
}

/* ---- binary: folding ---------------------------------------------------- */

static void test_fold_add_sub(void **st) {
  (void)st;
  assert_expr(bin(OP_ADD, C(2), C(3)), "5");
  assert_expr(bin(OP_ADD, K(2, -1, ""), K(3, -1, "")), "5/B");
  assert_expr(bin(OP_ADD, C(0), K(1, -1, "")), "1/B"); /* zero has no batch power */
  assert_expr(bin(OP_SUB, C(5), C(3)), "2");
  assert_expr(bin(OP_SUB, K(1, -1, ""), K(1, -1, "")), "0");
  assert_expr(bin(OP_SUB, K(1, -1, ""), C(0)), "1/B");
  /* different batch powers do not add */
  assert_expr(bin(OP_ADD, C(1), K(1, -1, "")), "(add 1 1/B)");
  assert_expr(bin(OP_SUB, C(1), K(1, -1, "")), "(sub 1 1/B)");
}

static void test_fold_mul_div(void **st) {
  (void)st;
  assert_expr(bin(OP_MUL, C(2), C(3)), "6");
  assert_expr(bin(OP_MUL, C(2), K(1, -1, "")), "2/B");
  assert_expr(bin(OP_MUL, K(2, -1, ""), K(3, 1, "")), "6");
  assert_expr(bin(OP_DIV, C(1), K(2, 1, "")), "0.5/B");
  assert_expr(bin(OP_DIV, K(3, 0, "2"), C(2)), "1.5[2]");
  /* integers fold as the program would compute them: 7 / 2 is 3, -7 / 2 is -3 */
  assert_expr(bin(OP_DIV, g_scalar(7, DT_I32), g_scalar(2, DT_I32)), "3");
  assert_expr(bin(OP_DIV, g_scalar(-7, DT_I32), g_scalar(2, DT_I32)), "-3");
  assert_int_equal(bin(OP_DIV, g_scalar(7, DT_I32), g_scalar(0, DT_I32))->op, OP_DIV); /* not folded to inf */
}

static void test_fold_other_binary(void **st) {
  (void)st;
  struct { Op op; double a, b, want; } t[] = {
      {OP_POW, 2, 3, 8}, {OP_MAXIMUM, 2, 5, 5}, {OP_MAXIMUM, 5, 2, 5}, {OP_EQ, 2, 2, 1}, {OP_EQ, 2, 3, 0},
      {OP_NE, 2, 3, 1},  {OP_LT, 1, 2, 1},      {OP_LT, 2, 2, 0},      {OP_LE, 2, 2, 1}, {OP_GT, 1, 2, 0},
      {OP_GT, 3, 2, 1},  {OP_GE, 1, 2, 0},      {OP_GE, 2, 2, 1},
  };
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    Node *n = bin(t[i].op, C(t[i].a), C(t[i].b));
    if (n->op != OP_CONST || n->fv != t[i].want)
      fail_msg("%s(%g, %g) folded to %s, want %g", op_info[t[i].op].name, t[i].a, t[i].b, E(n), t[i].want);
  }
  assert_expr(bin(OP_POW, C(2), K(1, -1, "")), "(pow 2 1/B)");
  assert_expr(bin(OP_LT, C(1), K(2, -1, "")), "(lt 1 2/B)");
}

/* ---- binary: a uniform constant operand ---------------------------------- */

static void test_uniform_const_right(void **st) {
  (void)st;
  Node *x = P("x", "2,3");
  assert_expr(bin(OP_ADD, x, K(2, 0, "2,3")), "(add x 2)");
  assert_ptr_equal(bin(OP_ADD, x, K(2, 0, "2,3"))->in[1], C(2));
  Node *v = P("v", "3"); /* the constant's shape makes the result's: keep it */
  assert_expr(bin(OP_ADD, v, K(2, 0, "2,3")), "(add v 2[2, 3])");
}

static void test_uniform_const_left(void **st) {
  (void)st;
  Node *x = P("x", "2,3"), *v = P("v", "3");
  assert_expr(bin(OP_SUB, K(2, 0, "2,3"), x), "(sub 2 x)");
  assert_expr(bin(OP_SUB, K(2, 0, "2,3"), v), "(sub 2[2, 3] v)");
}

/* ---- binary: identities ------------------------------------------------- */

static void test_add_zero(void **st) {
  (void)st;
  Node *x = P("x", "3");
  assert_ptr_equal(bin(OP_ADD, x, C(0)), x);
  assert_ptr_equal(bin(OP_ADD, C(0), x), x);
  assert_expr(bin(OP_ADD, x, K(0, 0, "2,3")), "(broadcast x [2, 3])"); /* keeps the result shape */
  assert_expr(bin(OP_ADD, x, C(1)), "(add x 1)");
}

static void test_add_const_right(void **st) {
  (void)st;
  Node *x = P("x", "3");
  assert_expr(bin(OP_ADD, C(2), x), "(add x 2)");
  assert_expr(bin(OP_ADD, x, C(2)), "(add x 2)");
}

static void test_add_neg(void **st) {
  (void)st;
  Node *a = P("a", "3"), *b = P("b", "3");
  assert_expr(bin(OP_ADD, a, un(OP_NEG, b)), "(sub a b)");
  assert_expr(bin(OP_ADD, un(OP_NEG, a), b), "(sub b a)");
  assert_expr(bin(OP_ADD, a, un(OP_ABS, b)), "(add a (abs b))");
}

static void test_add_common_factor(void **st) {
  (void)st;
  Node *a = P("a", "3"), *b = P("b", "3"), *y = P("y", "3");
  assert_expr(bin(OP_ADD, bin(OP_MUL, a, C(3)), bin(OP_MUL, b, C(3))), "(mul (add a b) 3)");
  assert_expr(bin(OP_ADD, bin(OP_MUL, a, C(3)), bin(OP_MUL, b, C(4))), "(add (mul a 3) (mul b 4))");
  assert_expr(bin(OP_ADD, bin(OP_MUL, a, y), bin(OP_MUL, b, y)), "(add (mul a y) (mul b y))");
}

/* the adjoint of slicing into consecutive parts: neighbouring pads join
 * into the pad of a concatenation, in any order of the sum, and a pad that
 * covers everything is no pad */
static void test_add_pads(void **st) {
  (void)st;
  Node *a = P("pa", "2,3"), *b = P("pb", "2,2"), *c = P("pc", "2,3"), *d = P("pd", "2,3");
  int64_t s0[] = {0, 0}, s3[] = {0, 3}, s5[] = {0, 5}, s1[] = {1, 0};
  Shape full = S("2,8");
  Node *pa = g_pad(a, s0, full), *pb = g_pad(b, s3, full), *pc = g_pad(c, s5, full);
  assert_expr(bin(OP_ADD, pa, pb), "(pad (concat pa pb axis=1) start=0,0 [2, 8])");
  assert_expr(bin(OP_ADD, pb, pa), "(pad (concat pa pb axis=1) start=0,0 [2, 8])");
  assert_expr(bin(OP_ADD, pb, pc), "(pad (concat pb pc axis=1) start=0,3 [2, 8])");
  /* pa + pc first (not neighbours), then pb joins both */
  Node *ac = bin(OP_ADD, pa, pc);
  assert_expr(ac, "(add (pad pa start=0,0 [2, 8]) (pad pc start=0,5 [2, 8]))");
  assert_expr(bin(OP_ADD, ac, pb), "(concat pa (concat pb pc axis=1) axis=1)");
  /* near misses: a gap, an overlap, neighbours along two axes at once */
  int64_t s4[] = {0, 4}, s2[] = {0, 2};
  assert_expr(bin(OP_ADD, pa, g_pad(b, s4, full)), "(add (pad pa start=0,0 [2, 8]) (pad pb start=0,4 [2, 8]))");
  assert_expr(bin(OP_ADD, pa, g_pad(d, s2, full)), "(add (pad pa start=0,0 [2, 8]) (pad pd start=0,2 [2, 8]))");
  Node *e = P("pe", "1,3");
  assert_expr(bin(OP_ADD, g_pad(e, s0, S("2,6")), g_pad(e, (int64_t[]){1, 3}, S("2,6"))),
              "(add (pad pe start=0,0 [2, 6]) (pad pe start=1,3 [2, 6]))");
  /* along the first axis */
  assert_expr(bin(OP_ADD, g_pad(e, s0, S("2,3")), g_pad(e, s1, S("2,3"))), "(concat pe pe axis=0)");
}

static void test_sub_zero(void **st) {
  (void)st;
  Node *x = P("x", "3");
  assert_ptr_equal(bin(OP_SUB, x, C(0)), x);
  assert_expr(bin(OP_SUB, C(0), x), "(neg x)");
  assert_expr(bin(OP_SUB, x, C(1)), "(sub x 1)");
}

static void test_sub_self(void **st) {
  (void)st;
  Node *x = P("x", "2,3"), *y = P("y", "2,3");
  assert_expr(bin(OP_SUB, x, x), "0[2, 3]");
  assert_expr(bin(OP_SUB, x, y), "(sub x y)");
}

static void test_sub_neg(void **st) {
  (void)st;
  Node *a = P("a", "3"), *b = P("b", "3");
  assert_expr(bin(OP_SUB, a, un(OP_NEG, b)), "(add a b)");
  assert_expr(bin(OP_SUB, un(OP_NEG, a), b), "(sub (neg a) b)");
}

static void test_sub_common_factor(void **st) {
  (void)st;
  Node *a = P("a", "3"), *b = P("b", "3");
  assert_expr(bin(OP_SUB, bin(OP_MUL, a, C(3)), bin(OP_MUL, b, C(3))), "(mul (sub a b) 3)");
  assert_expr(bin(OP_SUB, bin(OP_MUL, a, C(3)), bin(OP_MUL, b, C(2))), "(sub (mul a 3) (mul b 2))");
}

static void test_mul_const_right(void **st) {
  (void)st;
  Node *x = P("x", "3");
  assert_expr(bin(OP_MUL, C(3), x), "(mul x 3)");
}

static void test_mul_one_zero_minus_one(void **st) {
  (void)st;
  Node *x = P("x", "4");
  assert_ptr_equal(bin(OP_MUL, x, C(1)), x);
  assert_expr(bin(OP_MUL, x, C(0)), "0[4]");
  assert_expr(bin(OP_MUL, x, C(-1)), "(neg x)");
  assert_expr(bin(OP_MUL, x, K(1, -1, "")), "(mul x 1/B)"); /* 1/B is not 1 */
}

static void test_mul_const_const(void **st) {
  (void)st;
  Node *x = P("x", "4");
  assert_expr(bin(OP_MUL, bin(OP_MUL, x, C(2)), C(3)), "(mul x 6)");
  assert_expr(bin(OP_MUL, bin(OP_MUL, x, K(1, -1, "")), C(2)), "(mul x 2/B)");
  Node *y = P("y", "4");
  assert_expr(bin(OP_MUL, bin(OP_MUL, x, y), C(2)), "(mul (mul x y) 2)");
}

static void test_mul_neg_const(void **st) {
  (void)st;
  Node *x = P("x", "4"), *y = P("y", "4");
  assert_expr(bin(OP_MUL, un(OP_NEG, x), C(3)), "(mul x -3)");
  assert_expr(bin(OP_MUL, un(OP_NEG, x), y), "(mul (neg x) y)");
}

static void test_mul_sub_negative(void **st) {
  (void)st;
  Node *a = P("a", "4"), *b = P("b", "4");
  assert_expr(bin(OP_MUL, bin(OP_SUB, a, b), C(-2)), "(mul (sub b a) 2)");
  assert_expr(bin(OP_MUL, bin(OP_SUB, a, b), C(2)), "(mul (sub a b) 2)");
}

static void test_mul_neg_neg(void **st) {
  (void)st;
  Node *a = P("a", "4"), *b = P("b", "4");
  assert_expr(bin(OP_MUL, un(OP_NEG, a), un(OP_NEG, b)), "(mul a b)");
  assert_expr(bin(OP_MUL, a, un(OP_NEG, b)), "(mul a (neg b))");
}

static void test_div(void **st) {
  (void)st;
  Node *x = P("x", "4"), *y = P("y", "4");
  assert_ptr_equal(bin(OP_DIV, x, C(1)), x);
  assert_expr(bin(OP_DIV, x, C(4)), "(mul x 0.25)");
  assert_expr(bin(OP_DIV, x, K(2, 1, "")), "(mul x 0.5/B)");
  assert_expr(bin(OP_DIV, x, C(0)), "(div x 0)"); /* no 1/0 */
  assert_expr(bin(OP_DIV, x, y), "(div x y)");
  /* integer division truncates: y / 2 is not y * 0.5 (an i32 0.5 is 0) */
  Node *labels = I("labels", DT_I32, "B"), *two = g_scalar(2, DT_I32);
  assert_expr(bin(OP_DIV, labels, two), "(div labels 2)");
  assert_ptr_equal(bin(OP_DIV, labels, g_scalar(1, DT_I32)), labels);
}

static void test_pow(void **st) {
  (void)st;
  Node *x = P("x", "4");
  assert_ptr_equal(bin(OP_POW, x, C(1)), x);
  assert_expr(bin(OP_POW, x, C(2)), "(mul x x)");
  assert_expr(bin(OP_POW, x, C(3)), "(mul (mul x x) x)");
  Node *sq = bin(OP_MUL, x, x);
  assert_ptr_equal(bin(OP_POW, x, C(4)), bin(OP_MUL, sq, sq)); /* x² computed once */
  assert_expr(bin(OP_POW, x, C(5)), "(pow x 5)");               /* near misses stay pow */
  assert_expr(bin(OP_POW, x, C(2.5)), "(pow x 2.5)");
}

/* ---- reductions ----------------------------------------------------------- */

static void test_reduce_size_one_axes(void **st) {
  (void)st;
  Node *x = P("x", "2,1"), *w = P("w", "2,3"), *b = P("b", "B,1");
  assert_ptr_equal(g_reduce(OP_SUM, x, 2), x);
  assert_ptr_equal(g_reduce(OP_MAX, x, 2), x);
  assert_expr(g_reduce(OP_SUM, w, 2), "(sum w axes=1)");
  assert_expr(g_reduce(OP_SUM, b, 1), "(sum b axes=0)"); /* B is not one */
}

static void test_sum_const(void **st) {
  (void)st;
  assert_expr(g_reduce(OP_SUM, K(2, 0, "4,3"), 1), "8[1, 3]");
  assert_expr(g_reduce(OP_SUM, K(2, 0, "B,3"), 3), "6*B^1[1, 1]");
  assert_expr(g_reduce(OP_SUM, K(2, -1, "B,3"), 1), "2[1, 3]"); /* 2/B summed over B */
}

static void test_sum_mul_const(void **st) {
  (void)st;
  Node *x = P("x", "2,3"), *v = P("v", "1,3");
  assert_expr(g_reduce(OP_SUM, bin(OP_MUL, x, C(3)), 1), "(mul (sum x axes=0) 3)");
  /* the factor broadcasts v up: the sum counts it twice, so it stays */
  assert_expr(g_reduce(OP_SUM, bin(OP_MUL, v, K(3, 0, "2,3")), 1), "(sum (mul v 3[2, 3]) axes=0)");
  assert_expr(g_reduce(OP_SUM, bin(OP_MUL, x, P("y", "2,3")), 1), "(sum (mul x y) axes=0)");
}

static void test_sum_neg(void **st) {
  (void)st;
  Node *x = P("x", "2,3");
  assert_expr(g_reduce(OP_SUM, un(OP_NEG, x), 2), "(neg (sum x axes=1))");
  assert_expr(g_reduce(OP_MAX, un(OP_NEG, x), 2), "(max (neg x) axes=1)"); /* max(-x) is not -max(x) */
}

static void test_sum_onehot(void **st) {
  (void)st;
  Node *h = g_onehot(I("labels", DT_I32, "B"), 10, DT_F32);
  assert_expr(g_reduce(OP_SUM, h, 2), "1[B, 1]");
  assert_expr(g_reduce(OP_SUM, h, 1), "(sum (onehot labels 10) axes=0)");
}

static void test_max_const(void **st) {
  (void)st;
  assert_expr(g_reduce(OP_MAX, K(2, 0, "2,3"), 1), "2[1, 3]");
  assert_expr(g_reduce(OP_MAX, P("x", "2,3"), 1), "(max x axes=0)");
}

/* ---- data movement, index ops, matmul --------------------------------- */

static void test_move_const(void **st) {
  (void)st;
  int64_t perm[] = {1, 0}, start[] = {1};
  assert_expr(g_reshape(K(1, 0, "2,3"), S("6")), "1[6]");
  assert_expr(g_broadcast(C(1), S("2,3")), "1[2, 3]");
  assert_expr(g_transpose(K(1, 0, "2,3"), perm), "1[3, 2]");
  assert_expr(g_slice(K(1, -1, "5"), start, S("3")), "1/B[3]");
  /* padding adds zeros around it: not uniform */
  assert_expr(g_pad(K(1, 0, "3"), start, S("5")), "(pad 1[3] start=1 [5])");
  assert_expr(g_concat(K(1, 0, "3"), K(2, 0, "3"), 0), "(concat 1[3] 2[3] axis=0)");
}

static void test_reshape_reshape(void **st) {
  (void)st;
  Node *x = P("x", "2,3");
  assert_expr(g_reshape(g_reshape(x, S("3,2")), S("6")), "(reshape x [6])");
  assert_ptr_equal(g_reshape(g_reshape(x, S("6")), S("2,3")), x);
  assert_expr(g_reshape(g_transpose(x, (int64_t[]){1, 0}), S("6")), "(reshape (transpose x perm=1,0) [6])");
}

static void test_broadcast_broadcast(void **st) {
  (void)st;
  Node *x = P("x", "3");
  assert_expr(g_broadcast(g_broadcast(x, S("2,3")), S("4,2,3")), "(broadcast x [4, 2, 3])");
  assert_expr(g_broadcast(g_reshape(x, S("1,3")), S("2,3")), "(broadcast (reshape x [1, 3]) [2, 3])");
}

static void test_argmax_softmax(void **st) {
  (void)st;
  Node *z = P("z", "B,10");
  assert_ptr_equal(g_argmax(g_row(OP_SOFTMAX, z)), g_argmax(z));
  assert_ptr_equal(g_argmax(g_row(OP_LOG_SOFTMAX, z)), g_argmax(z));
  assert_expr(g_argmax(un(OP_EXP, z)), "(argmax (exp z))");
}

static void test_matmul_transpose(void **st) {
  (void)st;
  Node *a = P("a", "3,2"), *b = P("b", "3,4"), *c = P("c", "4,2");
  int64_t t[] = {1, 0};
  assert_expr(g_matmul(g_transpose(a, t), b, 0, 0), "(matmul a b trans=a)");
  assert_expr(g_matmul(g_transpose(b, t), c, 1, 0), "(matmul b c)"); /* the flag toggles back */
  assert_expr(g_matmul(a, g_transpose(c, t), 0, 0), "(matmul a c trans=b)");
  assert_expr(g_matmul(g_transpose(a, t), g_transpose(b, t), 0, 1), "(matmul a b trans=a)");
  assert_expr(g_matmul(g_transpose(a, t), a, 0, 0), "(matmul a a trans=a)");
  assert_expr(g_matmul(c, a, 0, 1), "(matmul c a trans=b)");
  assert_expr(g_matmul(g_reshape(a, S("2,3")), b, 0, 0), "(matmul (reshape a [2, 3]) b)");
}

/* ---- the switch ------------------------------------------------------------ */

static void test_simplify_off(void **st) {
  (void)st;
  Node *x = P("x", "4");
  set_simplify(false);
  Node *m = bin(OP_MUL, x, C(1)), *l = un(OP_LOG, un(OP_EXP, x)), *f = bin(OP_ADD, C(2), C(3));
  set_simplify(true);
  assert_expr(m, "(mul x 1)");
  assert_expr(l, "(log (exp x))");
  assert_expr(f, "(add 2 3)");
  assert_ptr_equal(bin(OP_MUL, x, C(1)), x); /* on again */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fold_neg),
      cmocka_unit_test(test_fold_unary),
      cmocka_unit_test(test_neg_neg),
      cmocka_unit_test(test_neg_sub),
      cmocka_unit_test(test_neg_mul_const),
      cmocka_unit_test(test_log_softmax),
      cmocka_unit_test(test_log_exp),
      cmocka_unit_test(test_log_sigmoid),
      cmocka_unit_test(test_log_one_minus_sigmoid),
      cmocka_unit_test(test_exp_log_softmax),
      cmocka_unit_test(test_exp_log),
      cmocka_unit_test(test_fold_add_sub),
      cmocka_unit_test(test_fold_mul_div),
      cmocka_unit_test(test_fold_other_binary),
      cmocka_unit_test(test_uniform_const_right),
      cmocka_unit_test(test_uniform_const_left),
      cmocka_unit_test(test_add_zero),
      cmocka_unit_test(test_add_const_right),
      cmocka_unit_test(test_add_neg),
      cmocka_unit_test(test_add_common_factor),
      cmocka_unit_test(test_add_pads),
      cmocka_unit_test(test_sub_zero),
      cmocka_unit_test(test_sub_self),
      cmocka_unit_test(test_sub_neg),
      cmocka_unit_test(test_sub_common_factor),
      cmocka_unit_test(test_mul_const_right),
      cmocka_unit_test(test_mul_one_zero_minus_one),
      cmocka_unit_test(test_mul_const_const),
      cmocka_unit_test(test_mul_neg_const),
      cmocka_unit_test(test_mul_sub_negative),
      cmocka_unit_test(test_mul_neg_neg),
      cmocka_unit_test(test_div),
      cmocka_unit_test(test_pow),
      cmocka_unit_test(test_reduce_size_one_axes),
      cmocka_unit_test(test_sum_const),
      cmocka_unit_test(test_sum_mul_const),
      cmocka_unit_test(test_sum_neg),
      cmocka_unit_test(test_sum_onehot),
      cmocka_unit_test(test_max_const),
      cmocka_unit_test(test_move_const),
      cmocka_unit_test(test_reshape_reshape),
      cmocka_unit_test(test_broadcast_broadcast),
      cmocka_unit_test(test_argmax_softmax),
      cmocka_unit_test(test_matmul_transpose),
      cmocka_unit_test(test_simplify_off),
  };
  return cmocka_run_group_tests(tests, setup_compiler, NULL);
}
