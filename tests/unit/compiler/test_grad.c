/*
 * test_grad.c — every derivative rule of grad.c, symbolically, and the
 * reverse walk that combines them.
 *
 * Each test builds f(x), takes d/dx of sum(f(x) * G) with G an opaque input
 * of f's shape, and checks the derived expression.  The adjoint that reaches
 * f is then G itself (the seed 1 times G simplifies to G), so what the test
 * sees is the rule applied to G, e.g. d tanh(x) = G * (1 - tanh(x)^2) is
 *   (mul G (sub 1 (mul (tanh x) (tanh x))))
 * after the builders' simplification — the backward graph the compiler
 * really emits.  Library ops (convolution, pooling) are checked as pointers
 * against the node built by hand, so their geometry attributes count too.
 *
 * Every test marks its op as covered; the last test fails if an op with
 * has_grad in ops.h has no test here.
 */
#include "util.h"
#include <string.h>

#define assert_expr(n, want) assert_string_equal(E(n), want)

static bool covered[OP__COUNT];
static void covers(Op op) { covered[op] = true; }

static Node *G_like(const Node *f) { return g_input("G", 900, f->dt, f->sh); }

/* d sum(f * G) / d wrt[i] into out[i]. */
static void derive(Node *f, Node **wrt, int n, Node **out) {
  Node *m = g_binary(OP_MUL, f, G_like(f));
  assert_non_null(m);
  Node *loss = g_reduce(OP_SUM, m, (1ull << f->sh.rank) - 1);
  grad_build(loss, wrt, n, out);
}
static Node *d1(Node *f, Node *x) {
  Node *o = NULL;
  derive(f, &x, 1, &o);
  return o;
}
static void d2(Node *f, Node *x, Node *y, Node **dx, Node **dy) {
  Node *w[2] = {x, y}, *o[2] = {0};
  derive(f, w, 2, o);
  *dx = o[0];
  *dy = o[1];
}

/* ---- element-wise unary --------------------------------------------------- */

static void test_neg(void **st) {
  (void)st; covers(OP_NEG);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_NEG, x), x), "(neg G)");
}

static void test_exp(void **st) {
  (void)st; covers(OP_EXP);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_EXP, x), x), "(mul G (exp x))");
}

static void test_log(void **st) {
  (void)st; covers(OP_LOG);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_LOG, x), x), "(div G x)");
}

static void test_sqrt(void **st) {
  (void)st; covers(OP_SQRT);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_SQRT, x), x), "(mul (div G (sqrt x)) 0.5)");
}

static void test_abs(void **st) {
  (void)st; covers(OP_ABS);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_ABS, x), x), "(mul G (sign x))");
}

static void test_tanh(void **st) {
  (void)st; covers(OP_TANH);
  Node *x = P("x", "2,3");
  Node *t = g_unary(OP_TANH, x);
  Node *dx = d1(t, x);
  assert_expr(dx, "(mul G (sub 1 (mul (tanh x) (tanh x))))");
  /* the same expression built by hand is the same node */
  Node *G = G_like(t);
  assert_ptr_equal(dx, g_binary(OP_MUL, G, g_binary(OP_SUB, C(1), g_binary(OP_MUL, t, t))));
}

static void test_sigmoid(void **st) {
  (void)st; covers(OP_SIGMOID);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_SIGMOID, x), x), "(mul G (mul (sigmoid x) (sub 1 (sigmoid x))))");
}

static void test_relu(void **st) {
  (void)st; covers(OP_RELU); covers(OP_RELU_GRAD);
  Node *x = P("x", "2,3"), *y = P("y", "2,3");
  /* from the output, one op of the backward pass (no mask stored by the forward) */
  assert_expr(d1(g_unary(OP_RELU, x), x), "(relu_grad G (relu x))");
  /* linear in its first operand (a second derivative through relu), flat in y */
  assert_expr(d1(g_binary(OP_RELU_GRAD, x, y), x), "(relu_grad G y)");
}

static void test_leaky_relu(void **st) {
  (void)st; covers(OP_LEAKY_RELU);
  Node *x = P("x", "2,3");
  /* 1 where x > 0, else the slope: step(x)*(1 - slope) + slope */
  assert_expr(d1(g_unary_attr(OP_LEAKY_RELU, x, 0.25), x), "(mul G (add (mul (step x) 0.75) 0.25))");
}

static void test_elu(void **st) {
  (void)st; covers(OP_ELU);
  Node *x = P("x", "2,3");
  /* 1 where x > 0, else alpha*e^x = elu(x) + alpha */
  assert_expr(d1(g_unary_attr(OP_ELU, x, 2), x), "(mul G (select (step x) 1 (add (elu x alpha=2) 2)))");
}

static void test_softplus(void **st) {
  (void)st; covers(OP_SOFTPLUS);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_SOFTPLUS, x), x), "(mul G (sigmoid x))");
}

static void test_gelu(void **st) {
  (void)st; covers(OP_GELU);
  Node *x = P("x", "2,3");
  /* Phi(x) + x*phi(x): Phi(x) = (erf(x/sqrt 2) + 1)/2, phi(x) = e^(-x^2/2)/sqrt(2 pi) */
  assert_expr(d1(g_unary(OP_GELU, x), x),
              "(mul G (add (mul (add (erf (mul x 0.707106781)) 1) 0.5) "
              "(mul x (mul (exp (mul (mul x x) -0.5)) 0.39894228))))");
}

static void test_erf(void **st) {
  (void)st; covers(OP_ERF);
  Node *x = P("x", "2,3");
  /* 2/sqrt(pi) e^(-x^2) */
  assert_expr(d1(g_unary(OP_ERF, x), x), "(mul G (mul (exp (neg (mul x x))) 1.12837917))");
}

static void test_cast(void **st) {
  (void)st; covers(OP_CAST);
  Node *x = Pd("x64", DT_F64, "2,3");
  Node *dx = d1(g_cast(x, DT_F32), x);
  assert_expr(dx, "(cast:f64 G)");
  assert_int_equal(dx->dt, DT_F64);
}

static void test_cos(void **st) {
  (void)st; covers(OP_COS);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_COS, x), x), "(mul G (neg (sin x)))");
}

static void test_sin(void **st) {
  (void)st; covers(OP_SIN);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_SIN, x), x), "(mul G (cos x))");
}

static void test_floor(void **st) {
  (void)st; covers(OP_FLOOR);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_FLOOR, x), x), "0[2, 3]"); /* piecewise constant */
}

static void test_detach(void **st) {
  (void)st; covers(OP_DETACH);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_DETACH, x), x), "0[2, 3]"); /* the value passes, its gradient does not */
  assert_expr(d1(g_binary(OP_MUL, g_unary(OP_DETACH, x), x), x), "(mul G (detach x))");
}

static void test_log1p(void **st) {
  (void)st; covers(OP_LOG1P);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_unary(OP_LOG1P, x), x), "(div G (add x 1))");
}

/* a running sum's adjoint is the running sum of the adjoint the other way */
static void test_cumsum(void **st) {
  (void)st; covers(OP_CUMSUM);
  Node *x = P("x", "2,3");
  int64_t fwd[] = {1, 0};
  Node *y = g_gen(OP_CUMSUM, &x, fwd);
  Node *dx = d1(y, x);
  assert_int_equal(dx->op, OP_CUMSUM);
  assert_int_equal(dx->ia[0], 1);
  assert_int_equal(dx->ia[1], 1); /* reversed */
  assert_ptr_equal(dx->in[0], G_like(y));
  int64_t neg_axis[] = {-2, 1};
  Node *dx0 = d1(g_gen(OP_CUMSUM, &x, neg_axis), x); /* axis -2 is 0; reversed back to forward */
  assert_int_equal(dx0->ia[0], 0);
  assert_int_equal(dx0->ia[1], 0);
}

/* a running product's adjoint is cumprod_grad(x, G) with the same axis and
 * direction (exact at zeros: it never divides by x) */
static void test_cumprod(void **st) {
  (void)st; covers(OP_CUMPROD);
  Node *x = P("x", "2,3");
  int64_t a[] = {-1, 1};
  Node *y = g_gen(OP_CUMPROD, &x, a);
  Node *dx = d1(y, x);
  assert_int_equal(dx->op, OP_CUMPROD_GRAD);
  assert_ptr_equal(dx->in[0], x);
  assert_ptr_equal(dx->in[1], G_like(y));
  assert_int_equal(dx->ia[0], 1); /* axis -1 normalised */
  assert_int_equal(dx->ia[1], 1);
  assert_string_equal(shape_str(&dx->sh), "[2, 3]");
}

/* a pick's adjoint is the scatter-add of G into x's shape; the indices get
 * none */
static void test_gather(void **st) {
  (void)st; covers(OP_GATHER);
  Node *x = P("x", "B,7"), *i = I("i", DT_I32, "B,3"), *in[2] = {x, i};
  int64_t a[] = {1};
  Node *y = g_gen(OP_GATHER, in, a);
  assert_string_equal(shape_str(&y->sh), "[B, 3]");
  Node *dx, *di;
  d2(y, x, i, &dx, &di);
  assert_null(di);
  Node *back[2] = {i, G_like(y)};
  int64_t ga[] = {1, 7};
  assert_ptr_equal(dx, g_gen(OP_GATHER_GRAD, back, ga));
  assert_string_equal(shape_str(&dx->sh), "[B, 7]");
}

/* the scatter-add is linear in g; its adjoint picks again */
static void test_gather_grad(void **st) {
  (void)st; covers(OP_GATHER_GRAD);
  Node *i = I("i", DT_I32, "4,3"), *g = P("g", "4,3"), *in[2] = {i, g};
  int64_t a[] = {0, 6};
  Node *y = g_gen(OP_GATHER_GRAD, in, a);
  assert_string_equal(shape_str(&y->sh), "[6, 3]");
  Node *dg = d1(y, g), *back[2] = {G_like(y), i};
  int64_t ba[] = {0};
  assert_ptr_equal(dg, g_gen(OP_GATHER, back, ba));
}

/* a lookup's adjoint is the scatter-add of the adjoint's rows into the
 * table (rows = V); the ids get none */
static void test_embedding(void **st) {
  (void)st; covers(OP_EMBEDDING);
  Node *e = P("E", "5,3"), *ids = I("ids", DT_I32, "B,4");
  Node *in[2] = {e, ids};
  Node *y = g_gen(OP_EMBEDDING, in, NULL);
  assert_string_equal(shape_str(&y->sh), "[B, 4, 3]");
  Node *de = d1(y, e);
  assert_int_equal(de->op, OP_EMBEDDING_GRAD);
  assert_ptr_equal(de->in[0], G_like(y));
  assert_ptr_equal(de->in[1], ids);
  assert_int_equal(de->ia[0], 5);
  assert_string_equal(shape_str(&de->sh), "[5, 3]");
}

/* the scatter-add is linear in the rows; its adjoint looks them up again */
static void test_embedding_grad(void **st) {
  (void)st; covers(OP_EMBEDDING_GRAD);
  Node *r = P("r", "6,2"), *ids = I("ids", DT_I32, "6");
  Node *in[2] = {r, ids};
  int64_t rows[] = {4};
  Node *y = g_gen(OP_EMBEDDING_GRAD, in, rows);
  assert_string_equal(shape_str(&y->sh), "[4, 2]");
  Node *dr = d1(y, r), *back[2] = {G_like(y), ids};
  assert_ptr_equal(dr, g_gen(OP_EMBEDDING, back, NULL));
}

/* a sparse product's adjoint is the product by the transpose (t flips);
 * the csr matrix, data, gets none */
static void test_spmm(void **st) {
  (void)st; covers(OP_SPMM);
  Node *a = I("a", DT_CSR, "B,5,5"), *h = P("h", "B,5,3"), *in[2] = {a, h};
  int64_t t0[] = {0};
  Node *y = g_gen(OP_SPMM, in, t0);
  assert_string_equal(shape_str(&y->sh), "[B, 5, 3]");
  Node *da, *dh;
  d2(y, a, h, &da, &dh);
  assert_null(da);
  Node *back[2] = {a, G_like(y)};
  int64_t t1[] = {1};
  assert_ptr_equal(dh, g_gen(OP_SPMM, back, t1));
  Node *h2 = P("h2", "5,3"), *in2[2] = {a, h2};
  assert_string_equal(shape_str(&g_gen(OP_SPMM, in2, t0)->sh), "[5, 3]");
  Node *bad[2] = {h, h};
  assert_null(g_gen(OP_SPMM, bad, t0)); /* h is no csr matrix */
}

/* roi_align's adjoint is roi_align_grad over the same boxes and attributes
 * plus the map's height and width; the boxes get none */
static void test_roi_align(void **st) {
  (void)st; covers(OP_ROI_ALIGN);
  Node *x = I("x", DT_F32, "B,2,5,6"), *r = I("r", DT_F32, "B,3,4"), *in[2] = {x, r};
  int64_t a[] = {4, attr_bits(0.25), 2, 1};
  Node *y = g_gen(OP_ROI_ALIGN, in, a);
  assert_string_equal(shape_str(&y->sh), "[B, 3, 2, 4, 4]");
  Node *dx, *dr;
  d2(y, x, r, &dx, &dr);
  assert_null(dr);
  Node *back[2] = {G_like(y), r};
  int64_t ga[] = {4, attr_bits(0.25), 2, 1, 5, 6};
  assert_ptr_equal(dx, g_gen(OP_ROI_ALIGN_GRAD, back, ga));
  assert_string_equal(shape_str(&dx->sh), "[B, 2, 5, 6]");
}

/* the scatter is linear in g; its adjoint samples the adjoint again */
static void test_roi_align_grad(void **st) {
  (void)st; covers(OP_ROI_ALIGN_GRAD);
  Node *g = I("g", DT_F32, "B,3,2,4,4"), *r = I("r", DT_F32, "B,3,4"), *in[2] = {g, r};
  int64_t a[] = {4, attr_bits(0.5), 3, 0, 7, 8};
  Node *y = g_gen(OP_ROI_ALIGN_GRAD, in, a);
  assert_string_equal(shape_str(&y->sh), "[B, 2, 7, 8]");
  Node *back[2] = {G_like(y), r};
  assert_ptr_equal(d1(y, g), g_gen(OP_ROI_ALIGN, back, a));
}

/* roi_pool's adjoint goes to each bin's maximum: roi_pool_grad(G, x, r) */
static void test_roi_pool(void **st) {
  (void)st; covers(OP_ROI_POOL);
  Node *x = I("x", DT_F32, "B,2,5,6"), *r = I("r", DT_F32, "B,3,4"), *in[2] = {x, r};
  int64_t a[] = {2, attr_bits(0.0625)};
  Node *y = g_gen(OP_ROI_POOL, in, a);
  assert_string_equal(shape_str(&y->sh), "[B, 3, 2, 2, 2]");
  Node *dx, *dr;
  d2(y, x, r, &dx, &dr);
  assert_null(dr);
  Node *back[3] = {G_like(y), x, r};
  assert_ptr_equal(dx, g_gen(OP_ROI_POOL_GRAD, back, a));
}

/* roi_pool_grad is linear in g (its adjoint picks the adjoint at the
 * maxima); the maxima's positions are piecewise constant: nothing to x */
static void test_roi_pool_grad(void **st) {
  (void)st; covers(OP_ROI_POOL_GRAD);
  Node *g = I("g", DT_F32, "B,3,2,2,2"), *x = I("x", DT_F32, "B,2,5,6"), *r = I("r", DT_F32, "B,3,4");
  Node *in[3] = {g, x, r}, *dg, *dx;
  int64_t a[] = {2, attr_bits(0.0625)};
  Node *y = g_gen(OP_ROI_POOL_GRAD, in, a);
  assert_string_equal(shape_str(&y->sh), "[B, 2, 5, 6]");
  d2(y, g, x, &dg, &dx);
  assert_null(dx);
  Node *back[3] = {G_like(y), x, r};
  assert_ptr_equal(dg, g_gen(OP_ROI_POOL_PICK, back, a));
}

/* and the pick's adjoint is the scatter again */
static void test_roi_pool_pick(void **st) {
  (void)st; covers(OP_ROI_POOL_PICK);
  Node *g = I("g", DT_F32, "B,2,5,6"), *x = I("x", DT_F32, "B,2,5,6"), *r = I("r", DT_F32, "B,3,4");
  Node *in[3] = {g, x, r};
  int64_t a[] = {2, attr_bits(0.0625)};
  Node *y = g_gen(OP_ROI_POOL_PICK, in, a);
  assert_string_equal(shape_str(&y->sh), "[B, 3, 2, 2, 2]");
  Node *back[3] = {G_like(y), x, r};
  assert_ptr_equal(d1(y, g), g_gen(OP_ROI_POOL_GRAD, back, a));
}

/* ---- element-wise binary and select --------------------------------------- */

static void test_add(void **st) {
  (void)st; covers(OP_ADD);
  Node *x = P("x", "2,3"), *y = P("y", "2,3"), *dx, *dy;
  d2(g_binary(OP_ADD, x, y), x, y, &dx, &dy);
  assert_expr(dx, "G");
  assert_expr(dy, "G");
}

static void test_sub(void **st) {
  (void)st; covers(OP_SUB);
  Node *x = P("x", "2,3"), *y = P("y", "2,3"), *dx, *dy;
  d2(g_binary(OP_SUB, x, y), x, y, &dx, &dy);
  assert_expr(dx, "G");
  assert_expr(dy, "(neg G)");
}

static void test_mul(void **st) {
  (void)st; covers(OP_MUL);
  Node *x = P("x", "2,3"), *y = P("y", "2,3"), *dx, *dy;
  d2(g_binary(OP_MUL, x, y), x, y, &dx, &dy);
  assert_expr(dx, "(mul G y)");
  assert_expr(dy, "(mul G x)");
}

static void test_div(void **st) {
  (void)st; covers(OP_DIV);
  Node *x = P("x", "2,3"), *y = P("y", "2,3"), *dx, *dy;
  d2(g_binary(OP_DIV, x, y), x, y, &dx, &dy);
  assert_expr(dx, "(div G y)");
  assert_expr(dy, "(neg (div (mul G (div x y)) y))"); /* -x/y^2 */
}

static void test_pow(void **st) {
  (void)st; covers(OP_POW);
  Node *x = P("x", "2,3"), *y = P("y", "2,3"), *dx, *dy;
  d2(g_binary(OP_POW, x, y), x, y, &dx, &dy);
  assert_expr(dx, "(mul G (mul y (pow x (sub y 1))))");
  assert_expr(dy, "(mul G (mul (pow x y) (log x)))");
  /* a constant exponent: 5 x^4, with x^4 as (x*x)*(x*x) */
  assert_expr(d1(g_binary(OP_POW, x, C(5)), x), "(mul G (mul (mul (mul x x) (mul x x)) 5))");
  /* x^3 is built as (x*x)*x (simplify.c): the product rule's three terms */
  assert_expr(d1(g_binary(OP_POW, x, C(3)), x), "(add (add (mul G (mul x x)) (mul (mul G x) x)) (mul (mul G x) x))");
}

static void test_maximum(void **st) {
  (void)st; covers(OP_MAXIMUM);
  Node *x = P("x", "2,3"), *y = P("y", "2,3"), *dx, *dy;
  d2(g_binary(OP_MAXIMUM, x, y), x, y, &dx, &dy);
  assert_expr(dx, "(mul G (ge x y))"); /* ties go to x */
  assert_expr(dy, "(mul G (lt x y))");
}

static void test_minimum(void **st) {
  (void)st; covers(OP_MINIMUM);
  Node *x = P("x", "2,3"), *y = P("y", "2,3"), *dx, *dy;
  d2(g_binary(OP_MINIMUM, x, y), x, y, &dx, &dy);
  assert_expr(dx, "(mul G (le x y))"); /* ties go to x, as maximum's */
  assert_expr(dy, "(mul G (gt x y))");
}

/* clamp(x, lo, hi) = minimum(maximum(x, lo), hi): x inside the bounds, else
 * the bound taken; hi wins when the bounds cross */
static void test_clamp(void **st) {
  (void)st; covers(OP_CLAMP);
  Node *x = P("x", "2,3"), *lo = P("lo", "2,3"), *hi = P("hi", "2,3");
  Node *in[3] = {x, lo, hi}, *wrt[3] = {x, lo, hi}, *out[3];
  Node *loss = g_reduce(OP_SUM, g_binary(OP_MUL, g_ewise(OP_CLAMP, in, 3), G_like(x)), 3);
  grad_build(loss, wrt, 3, out);
  assert_expr(out[0], "(mul G (mul (ge x lo) (le (maximum x lo) hi)))");
  assert_expr(out[1], "(mul G (mul (lt x lo) (le (maximum x lo) hi)))");
  assert_expr(out[2], "(mul G (gt (maximum x lo) hi))");
}

static void test_select(void **st) {
  (void)st; covers(OP_SELECT);
  Node *c = I("c", DT_F32, "2,3"), *a = P("a", "2,3"), *b = P("b", "2,3"), *da, *db;
  d2(g_select(c, a, b), a, b, &da, &db);
  assert_expr(da, "(select c G 0)");
  assert_expr(db, "(select c 0 G)");
}

/* ---- reductions and rows ------------------------------------------------------ */

static void test_sum(void **st) {
  (void)st; covers(OP_SUM);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_reduce(OP_SUM, x, 2), x), "(broadcast G [2, 3])");
}

static void test_max(void **st) {
  (void)st; covers(OP_MAX);
  Node *x = P("x", "2,3");
  /* to every element equal to the maximum */
  assert_expr(d1(g_reduce(OP_MAX, x, 2), x),
              "(mul (broadcast G [2, 3]) (eq x (broadcast (max x axes=1) [2, 3])))");
}

static void test_softmax(void **st) {
  (void)st; covers(OP_SOFTMAX);
  Node *x = P("x", "2,3");
  /* p * (g - sum(g * p)) along the row */
  assert_expr(d1(g_row(OP_SOFTMAX, x), x), "(mul (softmax x) (sub G (sum (mul G (softmax x)) axes=1)))");
}

static void test_log_softmax(void **st) {
  (void)st; covers(OP_LOG_SOFTMAX);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_row(OP_LOG_SOFTMAX, x), x), "(sub G (mul (softmax x) (sum G axes=1)))");
}

/* ---- matmul: the four transpose cases ------------------------------------------ */

static void test_matmul(void **st) {
  (void)st; covers(OP_MATMUL);
  struct { const char *a, *b; int ta, tb; const char *da, *db; } t[] = {
      {"2,3", "3,4", 0, 0, "(matmul G b trans=b)", "(matmul a G trans=a)"},     /* G B^T, A^T G */
      {"2,3", "4,3", 0, 1, "(matmul G b)", "(matmul G a trans=a)"},             /* G B,  G^T A */
      {"3,2", "3,4", 1, 0, "(matmul b G trans=b)", "(matmul a G)"},             /* B G^T, A G */
      {"3,2", "4,3", 1, 1, "(matmul b G trans=ab)", "(matmul G a trans=ab)"},   /* B^T G^T, G^T A^T */
  };
  for (int i = 0; i < 4; i++) {
    Node *a = P("a", t[i].a), *b = P("b", t[i].b), *da, *db;
    Node *f = g_matmul(a, b, t[i].ta, t[i].tb);
    assert_non_null(f);
    d2(f, a, b, &da, &db);
    assert_expr(da, t[i].da);
    assert_expr(db, t[i].db);
    assert_true(shape_eq(&da->sh, &a->sh));
    assert_true(shape_eq(&db->sh, &b->sh));
  }
}

/* batched: the same rules per matrix; a matrix read by every product of the
 * batch gets the sum of their adjoints (un-broadcast over the batch dims) */
static void test_matmul_batched(void **st) {
  (void)st;
  Node *a = P("a", "2,3,4"), *b = P("b", "2,4,5"), *da, *db;
  d2(g_matmul(a, b, 0, 0), a, b, &da, &db);
  assert_expr(da, "(matmul G b trans=b)");
  assert_expr(db, "(matmul a G trans=a)");
  Node *m = P("m", "3,3"), *h = P("h", "2,3,5"), *dm, *dh;
  d2(g_matmul(m, h, 0, 0), m, h, &dm, &dh);
  assert_expr(dm, "(reshape (sum (matmul G h trans=b) axes=0) [3, 3])");
  assert_expr(dh, "(matmul m G trans=a)");
  assert_true(shape_eq(&dm->sh, &m->sh));
  Node *q = P("q", "2,3,4"), *k = P("k", "2,5,4"), *dq, *dk;
  d2(g_matmul(q, g_transpose(k, (int64_t[]){0, 2, 1}), 0, 0), q, k, &dq, &dk);
  assert_expr(dq, "(matmul G k)"); /* the transpose was read in place */
  assert_expr(dk, "(matmul G q trans=a)");
}

/* ---- data movement --------------------------------------------------------------- */

static void test_reshape(void **st) {
  (void)st; covers(OP_RESHAPE);
  Node *x = P("x", "2,3");
  assert_expr(d1(g_reshape(x, S("6")), x), "(reshape G [2, 3])");
}

static void test_broadcast(void **st) {
  (void)st; covers(OP_BROADCAST);
  Node *x = P("v", "3");
  assert_expr(d1(g_broadcast(x, S("2,3")), x), "(reshape (sum G axes=0) [3])");
}

static void test_transpose(void **st) {
  (void)st; covers(OP_TRANSPOSE);
  Node *x = P("t", "2,3,4");
  int64_t perm[] = {1, 2, 0};
  assert_expr(d1(g_transpose(x, perm), x), "(transpose G perm=2,0,1)"); /* the inverse permutation */
}

static void test_slice(void **st) {
  (void)st; covers(OP_SLICE);
  Node *x = P("x5", "5");
  assert_expr(d1(g_slice(x, (int64_t[]){1}, S("3")), x), "(pad G start=1 [5])");
}

static void test_pad(void **st) {
  (void)st; covers(OP_PAD);
  Node *x = P("x3", "3");
  assert_expr(d1(g_pad(x, (int64_t[]){1}, S("5")), x), "(slice G start=1 [3])");
}

static void test_concat(void **st) {
  (void)st; covers(OP_CONCAT);
  Node *x = P("x", "2,3"), *y = P("y", "2,2"), *dx, *dy;
  d2(g_concat(x, y, 1), x, y, &dx, &dy);
  assert_expr(dx, "(slice G start=0,0 [2, 3])");
  assert_expr(dy, "(slice G start=0,3 [2, 2])");
}

/* ---- convolution and pooling --------------------------------------------------- */

static const int64_t conv_geo[7] = {1, 1, 0, 0, 1, 1, 1};

static void test_conv2d(void **st) {
  (void)st; covers(OP_CONV2D);
  Node *x = P("cx", "1,2,5,5"), *w = P("cw", "3,2,3,3"), *dx, *dw;
  Node *f = g_conv2d(x, w, conv_geo);
  d2(f, x, w, &dx, &dw);
  Node *G = G_like(f);
  assert_expr(dx, "(conv2d_bwd_data G cw)");
  assert_expr(dw, "(conv2d_bwd_weights cx G)");
  assert_ptr_equal(dx, g_conv2d_bwd_data(G, w, conv_geo, x->sh));
  assert_ptr_equal(dw, g_conv2d_bwd_weights(x, G, conv_geo, w->sh));
}

static void test_conv2d_bwd_data(void **st) {
  (void)st; covers(OP_CONV2D_BWD_DATA);
  Node *dy = P("cdy", "1,3,3,3"), *w = P("cw", "3,2,3,3"), *ddy, *dw;
  Node *f = g_conv2d_bwd_data(dy, w, conv_geo, S("1,2,5,5"));
  d2(f, dy, w, &ddy, &dw);
  Node *G = G_like(f);
  assert_expr(ddy, "(conv2d G cw)");
  assert_expr(dw, "(conv2d_bwd_weights G cdy)");
  assert_ptr_equal(ddy, g_conv2d(G, w, conv_geo));
  assert_ptr_equal(dw, g_conv2d_bwd_weights(G, dy, conv_geo, w->sh));
}

static void test_conv2d_bwd_weights(void **st) {
  (void)st; covers(OP_CONV2D_BWD_WEIGHTS);
  Node *x = P("cx", "1,2,5,5"), *dy = P("cdy", "1,3,3,3"), *dx, *ddy;
  Node *f = g_conv2d_bwd_weights(x, dy, conv_geo, S("3,2,3,3"));
  d2(f, x, dy, &dx, &ddy);
  Node *G = G_like(f);
  assert_expr(dx, "(conv2d_bwd_data cdy G)");
  assert_expr(ddy, "(conv2d cx G)");
  assert_ptr_equal(dx, g_conv2d_bwd_data(dy, G, conv_geo, x->sh));
  assert_ptr_equal(ddy, g_conv2d(x, G, conv_geo));
}

static const int64_t pool_geo[6] = {2, 2, 2, 2, 0, 0};

static void test_maxpool(void **st) {
  (void)st; covers(OP_MAXPOOL);
  Node *x = P("px", "1,1,4,4");
  Node *f = g_pool(OP_MAXPOOL, x, pool_geo);
  Node *dx = d1(f, x);
  assert_expr(dx, "(max_unpool2d G (pool_indices px))"); /* to where the maximum was */
  assert_ptr_equal(dx, g_pool_adjoint(OP_UNPOOL, G_like(f), g_pool(OP_POOLIDX, x, pool_geo), pool_geo, x->sh));
}

static void test_unpool(void **st) {
  (void)st; covers(OP_UNPOOL);
  Node *v = P("pv", "1,1,2,2"), *idx = I("idx", DT_I32, "1,1,2,2");
  Node *f = g_pool_adjoint(OP_UNPOOL, v, idx, pool_geo, S("1,1,4,4"));
  Node *dv = d1(f, v);
  assert_expr(dv, "(gather2d G idx)");
  assert_ptr_equal(dv, g_pool_adjoint(OP_GATHER2D, G_like(f), idx, pool_geo, v->sh));
}

static void test_gather2d(void **st) {
  (void)st; covers(OP_GATHER2D);
  Node *v = P("px", "1,1,4,4"), *idx = I("idx", DT_I32, "1,1,2,2");
  Node *f = g_pool_adjoint(OP_GATHER2D, v, idx, pool_geo, S("1,1,2,2"));
  Node *dv = d1(f, v);
  assert_expr(dv, "(max_unpool2d G idx)");
  assert_ptr_equal(dv, g_pool_adjoint(OP_UNPOOL, G_like(f), idx, pool_geo, v->sh));
}

static void test_avgpool(void **st) {
  (void)st; covers(OP_AVGPOOL);
  Node *x = P("px", "1,1,4,4");
  Node *f = g_pool(OP_AVGPOOL, x, pool_geo);
  Node *dx = d1(f, x);
  assert_expr(dx, "(avg_pool2d_bwd G)");
  assert_ptr_equal(dx, g_pool_adjoint(OP_AVGPOOL_BWD, G_like(f), NULL, pool_geo, x->sh));
}

static void test_avgpool_bwd(void **st) {
  (void)st; covers(OP_AVGPOOL_BWD);
  Node *v = P("pv", "1,1,2,2");
  Node *f = g_pool_adjoint(OP_AVGPOOL_BWD, v, NULL, pool_geo, S("1,1,4,4"));
  Node *dv = d1(f, v);
  assert_expr(dv, "(avg_pool2d G)");
  assert_ptr_equal(dv, g_pool(OP_AVGPOOL, G_like(f), pool_geo));
}

/* ---- the reverse walk ---------------------------------------------------------- */

/* Un-broadcasting: a contribution is summed over the axes its input was
 * broadcast along, then reshaped to the input's shape. */
static void test_unbroadcast(void **st) {
  (void)st;
  Node *x = P("x", "2,3"), *dx;
  Node *row = P("row", "3"), *col = P("col", "2,1"), *s = P("s", ""), *d;
  d2(g_binary(OP_ADD, x, row), x, row, &dx, &d);
  assert_expr(dx, "G");
  assert_expr(d, "(reshape (sum G axes=0) [3])");
  d2(g_binary(OP_ADD, x, col), x, col, &dx, &d);
  assert_expr(d, "(sum G axes=1)");
  d2(g_binary(OP_MUL, x, s), x, s, &dx, &d);
  assert_expr(dx, "(mul G s)");
  assert_expr(d, "(reshape (sum (mul G x) axes=0,1) [])");
  Node *xb = I("xb", DT_F32, "B,3");
  assert_expr(d1(g_binary(OP_ADD, xb, row), row), "(reshape (sum G axes=0) [3])");
}

/* A value used twice gets the sum of both contributions. */
static void test_contributions_add(void **st) {
  (void)st;
  Node *x = P("x", "2,3");
  assert_expr(d1(g_binary(OP_MUL, x, x), x), "(add (mul G x) (mul G x))");
  assert_expr(d1(g_binary(OP_ADD, g_unary(OP_EXP, x), g_unary(OP_SIN, x)), x),
              "(add (mul G (cos x)) (mul G (exp x)))");
}

/* The seed is one; what the loss does not depend on (or depends on only
 * through an op without a gradient) gets no gradient at all. */
static void test_seed_and_independence(void **st) {
  (void)st;
  Node *x = P("x", "2,3"), *y = P("y", "2,3"), *out[2];
  Node *loss = g_reduce(OP_SUM, x, 3);
  grad_build(loss, &x, 1, out);
  assert_expr(out[0], "1[2, 3]");
  Node *wrt[2] = {x, y};
  grad_build(loss, wrt, 2, out);
  assert_null(out[1]);
  Node *stepped = g_reduce(OP_SUM, g_binary(OP_MUL, g_unary(OP_STEP, x), y), 3);
  grad_build(stepped, wrt, 2, out);
  assert_null(out[0]);
  assert_expr(out[1], "(step x)");
  Node *cmp = g_reduce(OP_SUM, g_binary(OP_LT, x, y), 3);
  grad_build(cmp, wrt, 2, out);
  assert_null(out[0]);
  assert_null(out[1]);
}

/* Backward nodes carry the location of the forward expression they undo. */
static void test_backward_location(void **st) {
  (void)st;
  SrcFile *f = src_from_string("grad.nn", "x\ny\nz\n");
  Node *x = P("lx", "2,3");
  graph_set_loc((Loc){f, 3, 2});
  Node *t = g_unary(OP_TANH, x);
  graph_set_loc((Loc){0});
  Node *dx = d1(t, x);
  assert_int_equal(dx->loc.line, 3);
  assert_int_equal(dx->loc.col, 2);
  assert_null(graph_loc().file); /* restored */
}

/* The rules and the rewrites together: the gradient of mean cross-entropy
 * over softmax is the lecture's (p - y)/B, because log(softmax) becomes
 * log_softmax and each one-hot row sums to one. */
static void test_cross_entropy_collapses(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,4"), *W = P("W", "4,10");
  Node *h = g_onehot(I("y", DT_I32, "B"), 10, DT_F32);
  Node *logp = g_unary(OP_LOG, g_row(OP_SOFTMAX, g_matmul(x, W, 0, 0)));
  Node *loss = g_binary(OP_MUL, g_reduce(OP_SUM, g_binary(OP_MUL, h, logp), 3), g_const(-1, -1, DT_F32, S("")));
  Node *dW = NULL;
  grad_build(loss, &W, 1, &dW);
  assert_expr(dW, "(matmul x (mul (sub (softmax (matmul x W)) (onehot y 10)) 1/B) trans=a)");
}

/* A scan (scan.c), h' = tanh(h W + x[:, t]) over 4 steps, its final h and
 * every step's h read by the loss: the gradient is a reversed scan of the
 * body's gradient, whose final carry is dh0 and whose stacked per-step
 * output, moved back to the time axis, is dx.  dW = sum_t h_t^T dz_t is
 * one product after the loop over the stacked h and dz (hoist), or with
 * scan_hoist off a running sum carried by the reverse scan; either way
 * the forward scan saves its product h W for the reverse one. */
static void scan_case(bool hoist) {
  scan_hoist = hoist;
  Node *W = P("sW", "3,3"), *h0 = P("sh0", "2,3"), *x = I("sx", DT_F32, "2,4,3");
  Node *h = g_scanvar(DT_F32, S("2,3")), *xt = g_scanvar(DT_F32, S("2,1,3"));
  Node *hW = g_matmul(h, W, 0, 0);
  Node *next = g_unary(OP_TANH, g_binary(OP_ADD, hW, g_reshape(xt, S("2,3"))));
  ScanCarry c = {.init = h0, .var = h, .next = next};
  ScanSeq q = {.x = x, .var = xt, .axis = 1, .delta = 1, .slice = S("2,1,3")};
  ScanStep y = {.val = next, .n = 4, .base = 0, .delta = 1};
  Scan *s = scan_new(4, false, &c, 1, &q, 1, &y, 1, true);
  assert_ptr_equal(scan_of(s->c[0].out), s);
  assert_int_equal(s->ny, 2); /* the per-step h, and h saved for the backward scan */
  assert_int_equal(s->nfree, 1);
  assert_ptr_equal(s->free[0], W);
  Node *loss = g_binary(OP_ADD, g_reduce(OP_SUM, s->c[0].out, 3), g_reduce(OP_SUM, s->y[0].out, 7));
  Node *wrt[3] = {W, h0, x}, *out[3] = {0};
  grad_build(loss, wrt, 3, out);
  assert_int_equal(s->ny, 3); /* and the product h W, saved (not recomputed) */
  assert_true(s->y[2].product);
  assert_ptr_equal(s->y[2].val, hW);
  assert_int_equal(out[1]->op, OP_SCANOUT);
  Scan *b = scan_of(out[1]);
  assert_true(b->reverse);
  assert_int_equal(b->T, 4);
  assert_ptr_equal(out[1], b->c[0].out); /* dh0: the adjoint carried back to the start */
  if (hoist) { /* [4*2, 3]^T [4*2, 3]: the saved h's and the dz's of every step */
    assert_int_equal(b->nc, 1);
    assert_int_equal(out[0]->op, OP_MATMUL);
    assert_int_equal(out[0]->ia[0], 1);
    assert_int_equal(out[0]->in[0]->op, OP_RESHAPE);
    assert_ptr_equal(out[0]->in[0]->in[0], s->y[1].out);
    assert_int_equal(out[0]->in[0]->sh.d[0].k, 8);
    assert_int_equal(out[0]->in[1]->op, OP_RESHAPE);
    assert_ptr_equal(scan_of(out[0]->in[1]->in[0]), b);
  } else {
    assert_int_equal(b->nc, 2); /* dh, and the running sum dW */
    assert_int_equal(out[0]->op, OP_SCANOUT);
    assert_ptr_equal(scan_of(out[0]), b);
  }
  assert_true(shape_eq(&out[2]->sh, &x->sh));
  assert_int_equal(out[2]->op, OP_TRANSPOSE); /* [4, 2, 3] -> [2, 4, 3] */
  scan_hoist = true;
}

static void test_scan(void **st) {
  (void)st;
  covers(OP_SCAN);
  covers(OP_SCANOUT);
  scan_case(true);
  scan_case(false);
}

static void test_every_rule_tested(void **st) {
  (void)st;
  for (int op = 0; op < OP__COUNT; op++)
    if (op_info[op].has_grad && !covered[op])
      fail_msg("'%s' has a derivative rule but no test in test_grad.c", op_info[op].name);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scan),
      cmocka_unit_test(test_neg),           cmocka_unit_test(test_exp),
      cmocka_unit_test(test_log),           cmocka_unit_test(test_sqrt),
      cmocka_unit_test(test_abs),           cmocka_unit_test(test_tanh),
      cmocka_unit_test(test_sigmoid),       cmocka_unit_test(test_relu),
      cmocka_unit_test(test_leaky_relu),    cmocka_unit_test(test_elu),
      cmocka_unit_test(test_softplus),      cmocka_unit_test(test_gelu),
      cmocka_unit_test(test_erf),           cmocka_unit_test(test_cast),
      cmocka_unit_test(test_cos),           cmocka_unit_test(test_sin),
      cmocka_unit_test(test_floor),         cmocka_unit_test(test_detach),         cmocka_unit_test(test_log1p),
      cmocka_unit_test(test_cumsum),        cmocka_unit_test(test_embedding),
      cmocka_unit_test(test_cumprod),       cmocka_unit_test(test_gather),
      cmocka_unit_test(test_gather_grad),   cmocka_unit_test(test_spmm),
      cmocka_unit_test(test_embedding_grad),   cmocka_unit_test(test_roi_align),
      cmocka_unit_test(test_roi_align_grad),   cmocka_unit_test(test_roi_pool),
      cmocka_unit_test(test_roi_pool_grad),    cmocka_unit_test(test_roi_pool_pick),
      cmocka_unit_test(test_minimum),       cmocka_unit_test(test_clamp),
      cmocka_unit_test(test_add),           cmocka_unit_test(test_sub),
      cmocka_unit_test(test_mul),           cmocka_unit_test(test_div),
      cmocka_unit_test(test_pow),           cmocka_unit_test(test_maximum),
      cmocka_unit_test(test_select),        cmocka_unit_test(test_sum),
      cmocka_unit_test(test_max),           cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_log_softmax),   cmocka_unit_test(test_matmul), cmocka_unit_test(test_matmul_batched),
      cmocka_unit_test(test_reshape),       cmocka_unit_test(test_broadcast),
      cmocka_unit_test(test_transpose),     cmocka_unit_test(test_slice),
      cmocka_unit_test(test_pad),           cmocka_unit_test(test_concat),
      cmocka_unit_test(test_conv2d),        cmocka_unit_test(test_conv2d_bwd_data),
      cmocka_unit_test(test_conv2d_bwd_weights), cmocka_unit_test(test_maxpool),
      cmocka_unit_test(test_unpool),        cmocka_unit_test(test_gather2d),
      cmocka_unit_test(test_avgpool),       cmocka_unit_test(test_avgpool_bwd),
      cmocka_unit_test(test_unbroadcast),   cmocka_unit_test(test_contributions_add),
      cmocka_unit_test(test_seed_and_independence), cmocka_unit_test(test_backward_location),
      cmocka_unit_test(test_cross_entropy_collapses), cmocka_unit_test(test_every_rule_tested),
  };
  return cmocka_run_group_tests(tests, setup_compiler, NULL);
}
