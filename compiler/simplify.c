/*
 * simplify.c — algebraic rewrite rules, applied as nodes are built.
 *
 * Because nodes are interned, CSE is free and DCE is the scheduler's walk
 * from the outputs; what is left here is constant folding and identities.
 * Every g_* builder asks simplify_rules first; a rule returns an equivalent
 * node of exactly the requested dtype and shape, or NULL.  Rules only ever
 * make graphs smaller or more canonical (constants to the right, negations
 * outward), so rebuilding through them terminates.
 *
 * The rules that matter most for teaching: log(softmax(z)) becomes
 * log_softmax(z), and the gradient of cross-entropy over softmax collapses
 * to (p - y) * 1/B — the form the lecture derives by hand.
 *
 * Deliberately not done: reassociation of floating-point sums (it would
 * change results between runs with and without simplification by more than
 * rounding), and x*0 -> 0 when x may be inf or nan is accepted as in most
 * compilers' fast paths for training graphs.
 */
#include "nnc.h"
#include <math.h>
#include <string.h>

bool node_is_const(const Node *n, double *v, int *bpow) {
  if (!n || n->op != OP_CONST) return false;
  if (v) *v = n->fv;
  if (bpow) *bpow = n->bpow;
  return true;
}

static bool is_float(Dtype d) { return d == DT_F32 || d == DT_F64; }
static bool is_c(const Node *n, double v) { return n && n->op == OP_CONST && n->bpow == 0 && n->fv == v; }

/* x given the output shape sh: x itself or broadcast to sh. */
static Node *fit(Node *x, Shape sh) {
  if (!x) return NULL;
  if (shape_eq(&x->sh, &sh)) return x;
  return g_broadcast(x, sh);
}

/* pad(x) + pad(y) of one shape, where x and y are neighbouring blocks
 * along one axis (equal elsewhere, y starting where x ends): the pad of
 * their concatenation — the adjoint of slicing a tensor into consecutive
 * parts (the gates of an LSTM) is then one copy per part, not a zero-padded
 * full-size tensor per part plus the additions.  Else NULL. */
static Node *join_pads(Node *a, Node *b, Shape sh) {
  if (a->op != OP_PAD || b->op != OP_PAD || !shape_eq(&a->sh, &sh) || !shape_eq(&b->sh, &sh)) return NULL;
  Node *x = a->in[0], *y = b->in[0];
  int axis = -1;
  for (int i = 0; i < sh.rank; i++) {
    if (a->ia[i] == b->ia[i]) {
      if (x->sh.d[i].k != y->sh.d[i].k || x->sh.d[i].b != y->sh.d[i].b) return NULL;
      continue;
    }
    if (axis >= 0 || x->sh.d[i].b || y->sh.d[i].b) return NULL;
    axis = i;
  }
  if (axis < 0) return NULL;
  if (b->ia[axis] + y->sh.d[axis].k == a->ia[axis]) { /* y comes first */
    Node *t = a; a = b; b = t;
    t = x; x = y; y = t;
  }
  if (a->ia[axis] + x->sh.d[axis].k != b->ia[axis]) return NULL;
  return g_pad(g_concat(x, y, axis), a->ia, sh);
}

/* The FOLD column of ops.h: an element-wise op's value for constant
 * inputs; NAN where the op is not folded (can_fold says which are). */
#define FOLD(...) return (__VA_ARGS__);
#define NOFOLD return NAN;
#define E(NAME, str, arity, surface, attr, flops, fold, deriv, scalar) \
  static double f_##NAME(double x, double y, double z, double a) {     \
    (void)x, (void)y, (void)z, (void)a;                                \
    fold                                                               \
  }
NNC_EWISE_OPS(E)
#undef E
#undef FOLD
#undef NOFOLD
typedef double (*FoldFn)(double x, double y, double z, double a);
static const FoldFn fold_fn[OP__COUNT] = {
#define E(NAME, str, arity, surface, attr, flops, fold, deriv, scalar) [OP_##NAME] = f_##NAME,
  NNC_EWISE_OPS(E)
#undef E
};
#define FOLD(...) true
#define NOFOLD false
static const bool can_fold[OP__COUNT] = {
#define E(NAME, str, arity, surface, attr, flops, fold, deriv, scalar) [OP_##NAME] = fold,
  NNC_EWISE_OPS(E)
#undef E
};
#undef FOLD
#undef NOFOLD

/* A transpose that swaps the last two dims and keeps the others: a matrix
 * product reads it in place through its ta/tb flag. */
static bool swaps_last_two(const Node *t) {
  int r = t->sh.rank;
  if (t->op != OP_TRANSPOSE || r < 2 || t->ia[r - 2] != r - 1 || t->ia[r - 1] != r - 2) return false;
  for (int i = 0; i < r - 2; i++)
    if (t->ia[i] != i) return false;
  return true;
}

static double fold1(Op op, double x, double attr) { return fold_fn[op](x, 0, 0, attr); }

bool simplify_fold_node(const Node *n, double *out) {
  if (!n || op_info[n->op].kind != OK_EWISE || !can_fold[n->op] || n->sh.rank) return false;
  double x[3] = {0, 0, 0};
  int bp;
  for (int i = 0; i < op_info[n->op].arity; i++)
    if (!node_is_const(n->in[i], &x[i], &bp) || bp || n->in[i]->sh.rank) return false;
  *out = fold_fn[n->op](x[0], x[1], x[2], n->fv);
  return true;
}

static Node *rules_unary(Op op, Dtype dt, Shape sh, Node *a, double fv) {
  double v;
  int bp;
  if (node_is_const(a, &v, &bp)) {
    if (op == OP_NEG) return g_const(-v, bp, dt, sh);
    if (bp == 0 && can_fold[op]) return g_const(fold1(op, v, fv), 0, dt, sh);
  }
  if (op == OP_NEG) {
    if (a->op == OP_NEG) return a->in[0];
    if (a->op == OP_SUB) return g_binary(OP_SUB, a->in[1], a->in[0]);
    if (a->op == OP_MUL && node_is_const(a->in[1], &v, &bp)) return g_binary(OP_MUL, a->in[0], g_const(-v, bp, dt, a->in[1]->sh));
  }
  if (op == OP_LOG) {
    if (a->op == OP_SOFTMAX) return g_row(OP_LOG_SOFTMAX, a->in[0]);
    if (a->op == OP_EXP) return a->in[0];
    /* log(sigmoid(z)) = -softplus(-z); log(1 - sigmoid(z)) = -softplus(z) */
    if (a->op == OP_SIGMOID) return g_unary(OP_NEG, g_unary(OP_SOFTPLUS, g_unary(OP_NEG, a->in[0])));
    if (a->op == OP_SUB && is_c(a->in[0], 1) && a->in[1]->op == OP_SIGMOID && shape_eq(&a->in[1]->sh, &sh))
      return g_unary(OP_NEG, g_unary(OP_SOFTPLUS, a->in[1]->in[0]));
  }
  if (op == OP_EXP && a->op == OP_LOG_SOFTMAX) return g_row(OP_SOFTMAX, a->in[0]);
  if (op == OP_EXP && a->op == OP_LOG) return a->in[0];
  return NULL;
}

static Node *rules_binary(Op op, Dtype dt, Shape sh, Node *a, Node *b) {
  double va = 0, vb = 0;
  int ba = 0, bb = 0;
  bool ca = node_is_const(a, &va, &ba), cb = node_is_const(b, &vb, &bb);
  if (ca && cb) {
    switch (op) {
    case OP_ADD: if (ba == bb || va == 0 || vb == 0) return g_const(va + vb, va ? ba : bb, dt, sh); break;
    case OP_SUB: if (ba == bb || va == 0 || vb == 0) return g_const(va - vb, va ? ba : bb, dt, sh); break;
    case OP_MUL: return g_const(va * vb, ba + bb, dt, sh);
    case OP_DIV: /* integers divide as the program would: truncated, never by zero */
      if (is_float(dt)) return g_const(va / vb, ba - bb, dt, sh);
      if (vb != 0 && ba == 0 && bb == 0) return g_const(trunc(va / vb), 0, dt, sh);
      break;
    default:
      if (ba == 0 && bb == 0) {
        double r = can_fold[op] ? fold_fn[op](va, vb, 0, 0) : NAN;
        return g_const(r, 0, dt, sh);
      }
    }
  }
  /* a uniform constant operand needs no shape of its own */
  if (cb && b->sh.rank && shape_eq(&a->sh, &sh)) return g_binary(op, a, g_const(vb, bb, b->dt, shape_scalar()));
  if (ca && a->sh.rank && shape_eq(&b->sh, &sh)) return g_binary(op, g_const(va, ba, a->dt, shape_scalar()), b);
  switch (op) {
  case OP_ADD:
    if (is_c(b, 0)) return fit(a, sh);
    if (is_c(a, 0)) return fit(b, sh);
    if (ca && !cb) return g_binary(OP_ADD, b, a);
    if (b->op == OP_NEG) return g_binary(OP_SUB, a, b->in[0]);
    if (a->op == OP_NEG) return g_binary(OP_SUB, b, a->in[0]);
    { /* neighbouring pads join, also across a sum of them in any order
       * (their supports are disjoint, so the order adds nothing up) */
      Node *j = join_pads(a, b, sh);
      if (j) return j;
      for (int s = 0; s < 2; s++) {
        Node *u = s ? b : a, *p = s ? a : b;
        if (u->op != OP_ADD || p->op != OP_PAD) continue;
        if ((j = join_pads(u->in[1], p, sh))) return g_binary(OP_ADD, u->in[0], j);
        if ((j = join_pads(u->in[0], p, sh))) return g_binary(OP_ADD, j, u->in[1]);
      }
    }
    /* a*c + b*c = (a + b)*c */
    if (a->op == OP_MUL && b->op == OP_MUL && a->in[1] == b->in[1] && node_is_const(a->in[1], NULL, NULL))
      return g_binary(OP_MUL, g_binary(OP_ADD, a->in[0], b->in[0]), a->in[1]);
    break;
  case OP_SUB:
    if (is_c(b, 0)) return fit(a, sh);
    if (is_c(a, 0)) return fit(g_unary(OP_NEG, b), sh);
    if (a == b) return g_const(0, 0, dt, sh);
    if (b->op == OP_NEG) return g_binary(OP_ADD, a, b->in[0]);
    if (a->op == OP_MUL && b->op == OP_MUL && a->in[1] == b->in[1] && node_is_const(a->in[1], NULL, NULL))
      return g_binary(OP_MUL, g_binary(OP_SUB, a->in[0], b->in[0]), a->in[1]);
    break;
  case OP_MUL:
    if (ca && !cb) return g_binary(OP_MUL, b, a); /* constants go right */
    if (is_c(b, 1)) return fit(a, sh);
    if (is_c(b, 0)) return g_const(0, 0, dt, sh);
    if (is_c(b, -1)) return fit(g_unary(OP_NEG, a), sh);
    if (cb && a->op == OP_MUL && node_is_const(a->in[1], &va, &ba))
      return g_binary(OP_MUL, a->in[0], g_const(va * vb, ba + bb, dt, shape_scalar()));
    if (cb && a->op == OP_NEG) return g_binary(OP_MUL, a->in[0], g_const(-vb, bb, dt, b->sh));
    /* (a - b) * -c = (b - a) * c: keeps p - y the right way round */
    if (cb && vb < 0 && a->op == OP_SUB)
      return g_binary(OP_MUL, g_binary(OP_SUB, a->in[1], a->in[0]), g_const(-vb, bb, dt, b->sh));
    if (a->op == OP_NEG && b->op == OP_NEG) return g_binary(OP_MUL, a->in[0], b->in[0]);
    break;
  case OP_DIV:
    if (is_c(b, 1)) return fit(a, sh);
    if (cb && vb != 0 && is_float(dt)) return g_binary(OP_MUL, a, g_const(1 / vb, -bb, dt, b->sh));
    break;
  case OP_POW: /* small integer exponents are products: x**3 rounds as x*x*x, not as pow */
    if (is_c(b, 1)) return fit(a, sh);
    if (is_c(b, 2)) return g_binary(OP_MUL, a, a);
    if (is_c(b, 3)) return g_binary(OP_MUL, g_binary(OP_MUL, a, a), a);
    if (is_c(b, 4)) return g_binary(OP_MUL, g_binary(OP_MUL, a, a), g_binary(OP_MUL, a, a));
    break;
  default: break;
  }
  return NULL;
}

static Node *rules_reduce(Op op, Dtype dt, Shape sh, Node *a, uint64_t mask) {
  double v;
  int bp;
  /* reducing only size-1 axes changes nothing */
  bool trivial = true;
  for (int i = 0; i < a->sh.rank; i++)
    if ((mask >> i & 1) && !(a->sh.d[i].k == 1 && a->sh.d[i].b == 0)) trivial = false;
  if (trivial) return a;
  if (op == OP_SUM) {
    if (node_is_const(a, &v, &bp)) {
      int64_t k = 1;
      int b = 0;
      for (int i = 0; i < a->sh.rank; i++)
        if (mask >> i & 1) { k *= a->sh.d[i].k; b += a->sh.d[i].b; }
      return g_const(v * (double)k, bp + b, dt, sh);
    }
    /* sum(x * c) = sum(x) * c for a uniform c */
    if (a->op == OP_MUL && node_is_const(a->in[1], &v, &bp) && shape_eq(&a->in[0]->sh, &a->sh))
      return g_binary(OP_MUL, g_reduce(OP_SUM, a->in[0], mask), a->in[1]);
    if (a->op == OP_NEG) return g_unary(OP_NEG, g_reduce(OP_SUM, a->in[0], mask));
    /* each row of a one-hot matrix sums to one */
    if (a->op == OP_ONEHOT && mask == 1ull << (a->sh.rank - 1)) return g_const(1, 0, dt, sh);
  }
  if (op == OP_MAX && node_is_const(a, &v, &bp)) return g_const(v, bp, dt, sh);
  return NULL;
}

Node *simplify_rules(Op op, Dtype dt, Shape sh, Node **in, int nin, const int64_t *ia, double fv, int bpow) {
  double v;
  int bp;
  switch (op_info[op].kind) {
  case OK_EWISE:
    if (nin == 1) return rules_unary(op, dt, sh, in[0], fv);
    if (nin == 2) return rules_binary(op, dt, sh, in[0], in[1]);
    if (can_fold[op]) { /* three constants (select is not folded) */
      double c[3];
      int bc[3];
      for (int i = 0; i < 3; i++)
        if (!node_is_const(in[i], &c[i], &bc[i]) || bc[i]) return NULL;
      return g_const(fold_fn[op](c[0], c[1], c[2], fv), 0, dt, sh);
    }
    return NULL;
  case OK_REDUCE: return rules_reduce(op, dt, sh, in[0], (uint64_t)ia[0]);
  case OK_MOVE:
    if (op != OP_CONCAT && op != OP_PAD && node_is_const(in[0], &v, &bp)) return g_const(v, bp, dt, sh);
    if ((op == OP_RESHAPE || op == OP_BROADCAST) && in[0]->op == op) {
      if (op == OP_RESHAPE) return g_reshape(in[0]->in[0], sh);
      return g_broadcast(in[0]->in[0], sh);
    }
    return NULL;
  case OK_GEN: /* the winner does not move when a row is softmaxed */
    if (op == OP_ARGMAX && (in[0]->op == OP_SOFTMAX || in[0]->op == OP_LOG_SOFTMAX)) return g_argmax(in[0]->in[0]);
    return NULL;
  case OK_MATMUL:
    if (swaps_last_two(in[0])) return g_matmul(in[0]->in[0], in[1], !ia[0], (int)ia[1]);
    if (swaps_last_two(in[1])) return g_matmul(in[0], in[1]->in[0], (int)ia[0], !ia[1]);
    return NULL;
  default: return NULL;
  }
}
