/*
 * shape.c — the shape rule of every primitive, and the g_* builders that
 * apply them before interning (through the simplifier's rewrite rules).
 *
 * A builder given operands that do not fit returns NULL and leaves a
 * message in shape_error(); the caller (lower.c) reports it at the source
 * expression, with both shapes.  Builders never report by themselves,
 * because only the caller knows where each operand came from.
 */
#include "nnc.h"
#include <string.h>

static char errbuf[512];
const char *shape_error(void) { return errbuf; }

#define fail shape_fail

Node *shape_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
  va_end(ap);
  return NULL;
}

static char *tstr(const Node *n) { return arena_printf("%s%s", dtype_name(n->dt), shape_str(&n->sh)); }

static Rewriter rewriter; /* passes.c installs simplify_rules (or none) */

void shape_set_rewriter(Rewriter r) { rewriter = r; }

/* Every builder ends here: try the rewrite rules, else intern. */
static Node *build(Op op, Dtype dt, Shape sh, Node **in, int nin, const int64_t *ia, double fv) {
  const char *big = shape_check(&sh);
  if (big) return fail("the result of '%s', %s%s, is too large: %s", op_info[op].name, dtype_name(dt), shape_str(&sh), big);
  if (rewriter) {
    Node *s = rewriter(op, dt, sh, in, nin, ia, fv, 0);
    if (s) return s;
  }
  return node_intern(op, dt, sh, in, nin, ia, fv, 0, -1, NULL, graph_loc());
}

static bool dims_eq(Dim a, Dim b) { return a.k == b.k && a.b == b.b; }
static bool dim_is_one(Dim a) { return a.k == 1 && a.b == 0; }

bool shape_broadcast(const Shape *a, const Shape *b, Shape *out) {
  int r = a->rank > b->rank ? a->rank : b->rank;
  Shape s = {0};
  s.rank = r;
  for (int i = 0; i < r; i++) {
    int ia = a->rank - r + i, ib = b->rank - r + i;
    Dim da = ia >= 0 ? a->d[ia] : (Dim){1, 0};
    Dim db = ib >= 0 ? b->d[ib] : (Dim){1, 0};
    if (dims_eq(da, db) || dim_is_one(db)) s.d[i] = da;
    else if (dim_is_one(da)) s.d[i] = db;
    else return false;
  }
  *out = s;
  return true;
}

static bool is_float(Dtype d) { return d == DT_F32 || d == DT_F64; }

Node *g_unary(Op op, Node *a) { return g_unary_attr(op, a, 0); }

Node *g_unary_attr(Op op, Node *a, double fv) {
  if (!a) return NULL;
  if (!is_float(a->dt) && op != OP_NEG && op != OP_ABS && op != OP_SIGN)
    return fail("'%s' needs a floating-point tensor, got %s", op_info[op].name, tstr(a));
  Node *in[1] = {a};
  return build(op, a->dt, a->sh, in, 1, NULL, fv);
}

Node *g_binary(Op op, Node *a, Node *b) {
  if (!a || !b) return NULL;
  if (a->dt != b->dt)
    return fail("operands of '%s' have different element types: %s and %s", op_info[op].name, tstr(a), tstr(b));
  Shape s;
  if (!shape_broadcast(&a->sh, &b->sh, &s))
    return fail("shapes %s and %s cannot be broadcast together for '%s'", tstr(a), tstr(b), op_info[op].name);
  if (op == OP_POW && !is_float(a->dt))
    return fail("'**' needs floating-point operands, got %s and %s (write x * x for integers)", tstr(a), tstr(b));
  Dtype dt = a->dt;
  if (op >= OP_EQ && op <= OP_GE && !is_float(dt)) dt = DT_F32; /* comparisons give 0/1 */
  Node *in[2] = {a, b};
  return build(op, dt, s, in, 2, NULL, 0);
}

Node *g_node(Op op, Dtype dt, Shape sh, Node **in, int nin, const int64_t *ia) {
  return build(op, dt, sh, in, nin, ia, 0);
}

Node *g_gen(Op op, Node **in, const int64_t *attr) {
  const OpSpec *sp = op_info[op].spec;
  for (int i = 0; i < op_info[op].arity; i++)
    if (!in[i]) return NULL;
  int64_t a[MAX_RANK] = {0};
  for (int i = 0; i < sp->nattrs; i++) {
    a[i] = attr[i];
    if (sp->attrs[i].type == AT_AXIS) {
      int rank = in[0]->sh.rank;
      if (a[i] < -rank || a[i] >= rank)
        return fail("%s = %lld is out of range for '%s' on %s", sp->attrs[i].name, (long long)a[i], op_info[op].name,
                    tstr(in[0]));
      if (a[i] < 0) a[i] += rank;
    } else if (sp->attrs[i].type == AT_BOOL && a[i] != 0 && a[i] != 1) {
      return fail("%s of '%s' must be 0 or 1, got %lld", sp->attrs[i].name, op_info[op].name, (long long)a[i]);
    }
  }
  return sp->build(op, in, a);
}

Node *g_ewise(Op op, Node **in, int n) {
  Shape s = shape_scalar(), t;
  for (int i = 0; i < n; i++) {
    if (!in[i]) return NULL;
    if (in[i]->dt != in[0]->dt)
      return fail("operands of '%s' have different element types: %s and %s", op_info[op].name, tstr(in[0]), tstr(in[i]));
    if (!shape_broadcast(&s, &in[i]->sh, &t))
      return fail("operand %d of '%s', %s, cannot be broadcast with the others to %s", i + 1, op_info[op].name,
                  tstr(in[i]), shape_str(&s));
    s = t;
  }
  if (!is_float(in[0]->dt)) return fail("'%s' needs floating-point tensors, got %s", op_info[op].name, tstr(in[0]));
  return build(op, in[0]->dt, s, in, n, NULL, 0);
}

Node *g_select(Node *c, Node *a, Node *b) {
  if (!c || !a || !b) return NULL;
  Shape s1, s;
  if (a->dt != b->dt) return fail("select branches differ in type: %s and %s", tstr(a), tstr(b));
  if (!shape_broadcast(&a->sh, &b->sh, &s1) || !shape_broadcast(&s1, &c->sh, &s))
    return fail("select operands %s, %s, %s cannot be broadcast together", tstr(c), tstr(a), tstr(b));
  Node *in[3] = {c, a, b};
  return build(OP_SELECT, a->dt, s, in, 3, NULL, 0);
}

Node *g_reduce(Op op, Node *a, uint64_t mask) {
  if (!a) return NULL;
  Shape s = a->sh;
  for (int i = 0; i < s.rank; i++)
    if (mask >> i & 1) s.d[i] = (Dim){1, 0};
  if (mask == 0) return a;
  if (!is_float(a->dt)) /* the reduction loops have float code only */
    return fail("'%s' needs a floating-point tensor, got %s", op_info[op].name, tstr(a));
  int64_t ia[MAX_RANK] = {(int64_t)mask};
  Node *in[1] = {a};
  return build(op, a->dt, s, in, 1, ia, 0);
}

Node *g_row(Op op, Node *a) {
  if (!a) return NULL;
  if (a->sh.rank < 1) return fail("'%s' needs a tensor of rank >= 1, got %s", op_info[op].name, tstr(a));
  if (!is_float(a->dt)) return fail("'%s' needs a floating-point tensor, got %s", op_info[op].name, tstr(a));
  Node *in[1] = {a};
  return build(op, a->dt, a->sh, in, 1, NULL, 0);
}

/* The dims of s before its last two (a matrix product's batch dims). */
static Shape batch_of(const Shape *s) {
  Shape b = *s;
  b.rank -= 2;
  return b;
}

/* One operand of a batched product, ready for a strided batch of GEMMs:
 * either its batch dims are all 1 (every product reads the same matrix) or
 * they are the result's; otherwise (e.g. [H, T, D] against [B, H, D, T])
 * the operand is broadcast to the result's batch dims first. */
static Node *batch_operand(Node *x, const Shape *batch) {
  Shape xb = batch_of(&x->sh);
  Dim one = {1, 0};
  if (dims_eq(shape_numel(&xb), one) || shape_eq(&xb, batch)) return x;
  Shape full = *batch;
  full.rank += 2;
  full.d[full.rank - 2] = x->sh.d[x->sh.rank - 2];
  full.d[full.rank - 1] = x->sh.d[x->sh.rank - 1];
  return g_broadcast(x, full);
}

/* [..., m, k] @ [..., k, n] -> [..., m, n], the batch dims broadcast; ta
 * and tb swap the last two dims of an operand (a transpose read in place).
 * Two matrices are one GEMM; anything of higher rank a strided batch. */
Node *g_matmul(Node *a, Node *b, int ta, int tb) {
  if (!a || !b) return NULL;
  if (a->dt != b->dt || !is_float(a->dt))
    return fail("matrix product needs two float tensors of one type, got %s and %s", tstr(a), tstr(b));
  if (a->sh.rank < 2 || b->sh.rank < 2)
    return fail("matrix product needs operands of rank 2 or more ([..., m, k] @ [..., k, n]), got %s @ %s", tstr(a),
                tstr(b));
  int ra = a->sh.rank, rb = b->sh.rank;
  Dim m = a->sh.d[ta ? ra - 1 : ra - 2], ka = a->sh.d[ta ? ra - 2 : ra - 1];
  Dim kb = b->sh.d[tb ? rb - 1 : rb - 2], n = b->sh.d[tb ? rb - 2 : rb - 1];
  if (!dims_eq(ka, kb))
    return fail("inner dimensions of the matrix product differ: %s @ %s (%s vs %s)", tstr(a), tstr(b),
                dim_str(ka), dim_str(kb));
  Shape ba = batch_of(&a->sh), bbt = batch_of(&b->sh), batch;
  if (!shape_broadcast(&ba, &bbt, &batch))
    return fail("batch dimensions of the matrix product cannot be broadcast together: %s @ %s", tstr(a), tstr(b));
  if (batch.rank + 2 > MAX_RANK)
    return fail("the matrix product %s @ %s has more than %d dimensions", tstr(a), tstr(b), MAX_RANK);
  if (batch.rank > 0) {
    a = batch_operand(a, &batch);
    b = batch_operand(b, &batch);
    if (!a || !b) return NULL;
  }
  Shape out = batch;
  out.rank += 2;
  out.d[out.rank - 2] = m;
  out.d[out.rank - 1] = n;
  int64_t ia[MAX_RANK] = {ta, tb};
  Node *in[2] = {a, b};
  return build(OP_MATMUL, a->dt, out, in, 2, ia, 0);
}

Node *g_reshape(Node *a, Shape sh) {
  if (!a) return NULL;
  const char *big = shape_check(&sh);
  if (big) return fail("cannot reshape %s to %s: %s", tstr(a), shape_str(&sh), big);
  Dim x = shape_numel(&a->sh), y = shape_numel(&sh);
  if (!dims_eq(x, y))
    return fail("cannot reshape %s (%s elements) to %s (%s elements)", tstr(a), dim_str(x), shape_str(&sh), dim_str(y));
  if (shape_eq(&a->sh, &sh)) return a;
  Node *in[1] = {a};
  return build(OP_RESHAPE, a->dt, sh, in, 1, NULL, 0);
}

Node *g_broadcast(Node *a, Shape sh) {
  if (!a) return NULL;
  Shape s;
  if (!shape_broadcast(&a->sh, &sh, &s) || !shape_eq(&s, &sh))
    return fail("cannot broadcast %s to %s", tstr(a), shape_str(&sh));
  if (shape_eq(&a->sh, &sh)) return a;
  Node *in[1] = {a};
  return build(OP_BROADCAST, a->dt, sh, in, 1, NULL, 0);
}

Node *g_transpose(Node *a, const int64_t *perm) {
  if (!a) return NULL;
  int r = a->sh.rank;
  bool used[MAX_RANK] = {0}, ident = true;
  Shape s = {0};
  s.rank = r;
  for (int i = 0; i < r; i++) {
    if (perm[i] < 0 || perm[i] >= r || used[perm[i]]) return fail("bad permutation for a tensor of rank %d", r);
    used[perm[i]] = true;
    s.d[i] = a->sh.d[perm[i]];
    ident = ident && perm[i] == i;
  }
  if (ident) return a;
  int64_t ia[MAX_RANK] = {0};
  memcpy(ia, perm, sizeof(int64_t) * r);
  Node *in[1] = {a};
  return build(OP_TRANSPOSE, a->dt, s, in, 1, ia, 0);
}

Node *g_slice(Node *a, const int64_t *start, Shape out) {
  if (!a) return NULL;
  if (out.rank != a->sh.rank) return fail("slice keeps the rank");
  for (int i = 0; i < out.rank; i++) {
    Dim in = a->sh.d[i], o = out.d[i];
    if (in.b || o.b) {
      if (!dims_eq(in, o) || start[i]) return fail("cannot slice along the batch dimension");
    } else if (start[i] < 0 || o.k < 0 || start[i] > in.k || o.k > in.k - start[i]) {
      return fail("slice %lld:%lld is out of range for a dimension of size %lld", (long long)start[i],
                  (long long)(start[i] + o.k), (long long)in.k);
    }
  }
  if (shape_eq(&a->sh, &out)) return a;
  int64_t ia[MAX_RANK] = {0};
  memcpy(ia, start, sizeof(int64_t) * out.rank);
  Node *in[1] = {a};
  return build(OP_SLICE, a->dt, out, in, 1, ia, 0);
}

Node *g_pad(Node *a, const int64_t *start, Shape out) {
  if (!a) return NULL;
  if (shape_eq(&a->sh, &out)) return a; /* nothing to pad: the start is 0 */
  int64_t ia[MAX_RANK] = {0};
  memcpy(ia, start, sizeof(int64_t) * out.rank);
  Node *in[1] = {a};
  return build(OP_PAD, a->dt, out, in, 1, ia, 0);
}

Node *g_concat(Node *a, Node *b, int axis) {
  if (!a || !b) return NULL;
  if (a->dt != b->dt || a->sh.rank != b->sh.rank)
    return fail("cannot concatenate %s and %s", tstr(a), tstr(b));
  if (axis < 0) axis += a->sh.rank;
  if (axis < 0 || axis >= a->sh.rank) return fail("concat axis out of range for %s", tstr(a));
  Shape s = a->sh;
  for (int i = 0; i < s.rank; i++) {
    if (i == axis) continue;
    if (!dims_eq(a->sh.d[i], b->sh.d[i]))
      return fail("cannot concatenate %s and %s along axis %d: dimension %d differs", tstr(a), tstr(b), axis, i);
  }
  if (a->sh.d[axis].b || b->sh.d[axis].b) return fail("cannot concatenate along the batch dimension");
  s.d[axis].k += b->sh.d[axis].k;
  int64_t ia[MAX_RANK] = {axis};
  Node *in[2] = {a, b};
  return build(OP_CONCAT, a->dt, s, in, 2, ia, 0);
}

Node *g_onehot(Node *labels, int64_t n, Dtype dt) {
  if (!labels) return NULL;
  if (labels->dt != DT_I32) return fail("onehot needs integer labels, got %s", tstr(labels));
  if (n < 1) return fail("onehot needs at least one class, got %lld", (long long)n);
  if (labels->sh.rank >= MAX_RANK) return fail("labels of too high a rank");
  Shape s = labels->sh;
  s.d[s.rank++] = (Dim){n, 0};
  Node *in[1] = {labels};
  return build(OP_ONEHOT, dt, s, in, 1, NULL, 0);
}

Node *g_argmax(Node *a) { return g_gen(OP_ARGMAX, &a, NULL); } /* ops/argmax.c */

Node *g_rand(int kind, Dtype dt, Shape sh) {
  static int64_t draws;
  int64_t ia[MAX_RANK] = {++draws, kind};
  return node_intern(OP_RAND, dt, sh, NULL, 0, ia, 0, 0, -1, NULL, graph_loc());
}

Node *g_cast(Node *a, Dtype dt) {
  if (!a) return NULL;
  if (a->dt == dt) return a;
  Node *in[1] = {a};
  return build(OP_CAST, dt, a->sh, in, 1, NULL, 0);
}

Node *g_unbroadcast(Node *a, Shape sh) {
  if (!a) return NULL;
  if (shape_eq(&a->sh, &sh)) return a;
  int r = a->sh.rank, off = r - sh.rank;
  uint64_t mask = 0;
  for (int i = 0; i < r; i++) {
    int j = i - off;
    if (j < 0 || (dim_is_one(sh.d[j]) && !dim_is_one(a->sh.d[i]))) mask |= 1ull << i;
  }
  Node *s = g_reduce(OP_SUM, a, mask);
  return g_reshape(s, sh);
}

Node *g_iota(int64_t n, Dtype dt) {
  Dim d = {n, 0};
  int64_t ia[MAX_RANK] = {n};
  return node_intern(OP_IOTA, dt, shape_of(1, &d), NULL, 0, ia, 0, 0, -1, NULL, graph_loc());
}

/* ---- convolution and pooling (NCHW) ---------------------------------------- */

/* (in + 2p - d(k - 1) - 1) / s + 1, or -1 (no output) where a term
 * overflows: the operands come from the user's program. */
static int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  int64_t pad2, span, t;
  if (__builtin_mul_overflow(p, 2, &pad2) || __builtin_mul_overflow(d, k - 1, &span) ||
      __builtin_add_overflow(in, pad2, &t) || __builtin_sub_overflow(t, span, &t) || t < 1)
    return -1;
  return (t - 1) / s + 1;
}

/* Checks x [N, C, H, W] against w [O, C/g, KH, KW] and gives y's shape. */
static bool conv_shapes(const Node *x, const Node *w, const int64_t *geo, Shape *y) {
  int64_t sh = geo[0], sw = geo[1], ph = geo[2], pw = geo[3], dh = geo[4], dw = geo[5], g = geo[6];
  if (x->sh.rank != 4 || w->sh.rank != 4) {
    fail("conv2d needs an NCHW input and OIHW weights (rank 4), got %s and %s", tstr(x), tstr(w));
    return false;
  }
  if (x->dt != w->dt || !is_float(x->dt)) {
    fail("conv2d needs float input and weights of one type, got %s and %s", tstr(x), tstr(w));
    return false;
  }
  for (int i = 1; i < 4; i++)
    if (x->sh.d[i].b || w->sh.d[i - 1].b || w->sh.d[3].b) {
      fail("only the batch dimension of a convolution's input may depend on the batch");
      return false;
    }
  if (sh < 1 || sw < 1 || dh < 1 || dw < 1 || ph < 0 || pw < 0 || g < 1) {
    fail("conv2d: stride and dilation must be >= 1, padding >= 0, groups >= 1");
    return false;
  }
  int64_t c = x->sh.d[1].k, o = w->sh.d[0].k;
  if (c % g || o % g) {
    fail("conv2d: %lld input and %lld output channels are not divisible by groups=%lld", (long long)c, (long long)o,
         (long long)g);
    return false;
  }
  if (w->sh.d[1].k != c / g) {
    fail("conv2d: weights %s need %lld input channels per group (input %s has %lld channels, groups=%lld)", tstr(w),
         (long long)(c / g), tstr(x), (long long)c, (long long)g);
    return false;
  }
  int64_t oh = conv_out(x->sh.d[2].k, w->sh.d[2].k, sh, ph, dh), ow = conv_out(x->sh.d[3].k, w->sh.d[3].k, sw, pw, dw);
  if (oh < 1 || ow < 1) {
    fail("conv2d: a %lldx%lld kernel (dilation %lld) does not fit the %lldx%lld input with padding %lld",
         (long long)w->sh.d[2].k, (long long)w->sh.d[3].k, (long long)dh, (long long)x->sh.d[2].k,
         (long long)x->sh.d[3].k, (long long)ph);
    return false;
  }
  Dim d[4] = {x->sh.d[0], {o, 0}, {oh, 0}, {ow, 0}};
  *y = shape_of(4, d);
  return true;
}

static Node *lib2(Op op, Dtype dt, Shape sh, Node *a, Node *b, const int64_t *geo, int ngeo) {
  int64_t ia[MAX_RANK] = {0};
  memcpy(ia, geo, sizeof(int64_t) * ngeo);
  Node *in[2] = {a, b};
  return build(op, dt, sh, in, b ? 2 : 1, ia, 0);
}

Node *g_conv2d(Node *x, Node *w, const int64_t *geo) {
  if (!x || !w) return NULL;
  Shape y;
  if (!conv_shapes(x, w, geo, &y)) return NULL;
  return lib2(OP_CONV2D, x->dt, y, x, w, geo, 7);
}

Node *g_conv2d_bwd_data(Node *dy, Node *w, const int64_t *geo, Shape xsh) {
  if (!dy || !w) return NULL;
  Node probe = {.dt = w->dt, .sh = xsh};
  Shape y;
  if (!conv_shapes(&probe, w, geo, &y)) return NULL;
  if (!shape_eq(&y, &dy->sh))
    return fail("transposed convolution: input %s does not fit the output %s%s (a forward convolution of that "
                "output gives %s)", tstr(dy), dtype_name(w->dt), shape_str(&xsh), shape_str(&y));
  return lib2(OP_CONV2D_BWD_DATA, w->dt, xsh, dy, w, geo, 7);
}

Node *g_conv2d_bwd_weights(Node *x, Node *dy, const int64_t *geo, Shape wsh) {
  if (!x || !dy) return NULL;
  Node probe = {.dt = x->dt, .sh = wsh};
  Shape y;
  if (!conv_shapes(x, &probe, geo, &y) || !shape_eq(&y, &dy->sh))
    return fail("conv2d weight gradient: shapes do not fit");
  return lib2(OP_CONV2D_BWD_WEIGHTS, x->dt, wsh, x, dy, geo, 7);
}

static bool pool_shape(const Node *x, const int64_t *geo, Shape *y) {
  int64_t kh = geo[0], kw = geo[1], sh = geo[2], sw = geo[3], ph = geo[4], pw = geo[5];
  if (x->sh.rank != 4 || x->sh.d[2].b || x->sh.d[3].b || x->sh.d[1].b) {
    fail("2-D pooling needs an NCHW input, got %s", tstr(x));
    return false;
  }
  if (!is_float(x->dt)) { fail("pooling needs a float tensor, got %s", tstr(x)); return false; }
  if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || ph > kh / 2 || pw > kw / 2) {
    fail("pooling: kernel and stride must be >= 1 and padding at most half the kernel");
    return false;
  }
  /* padding is at most half the kernel, and the kernel must fit the padded input */
  int64_t oh = conv_out(x->sh.d[2].k, kh, sh, ph, 1), ow = conv_out(x->sh.d[3].k, kw, sw, pw, 1);
  if (oh < 1 || ow < 1) {
    fail("pooling: a %lldx%lld window does not fit the %lldx%lld input", (long long)kh, (long long)kw,
         (long long)x->sh.d[2].k, (long long)x->sh.d[3].k);
    return false;
  }
  Dim d[4] = {x->sh.d[0], x->sh.d[1], {oh, 0}, {ow, 0}};
  *y = shape_of(4, d);
  return true;
}

Node *g_pool(Op op, Node *x, const int64_t *geo) {
  if (!x) return NULL;
  Shape y;
  if (!pool_shape(x, geo, &y)) return NULL;
  return lib2(op, op == OP_POOLIDX ? DT_I32 : x->dt, y, x, NULL, geo, 6);
}

Node *g_pool_adjoint(Op op, Node *v, Node *idx, const int64_t *geo, Shape out) {
  if (!v) return NULL;
  /* the geometry runs from `big` (the pooled input) to `small` (windows) */
  Node probe = {.dt = v->dt, .sh = op == OP_GATHER2D ? v->sh : out};
  Shape small;
  if (!pool_shape(&probe, geo, &small)) return NULL;
  Shape have = op == OP_GATHER2D ? idx->sh : v->sh;
  if (!shape_eq(&small, &have))
    return fail("%s: %s does not fit the pooling of %s%s", op_info[op].name, tstr(op == OP_GATHER2D ? idx : v),
                dtype_name(v->dt), shape_str(&probe.sh));
  if (idx && (idx->dt != DT_I32 || !shape_eq(&idx->sh, &small)))
    return fail("%s: indices %s do not match the pooled values %s", op_info[op].name, tstr(idx), shape_str(&small));
  return lib2(op, v->dt, out, v, idx, geo, 6);
}
