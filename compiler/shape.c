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

static Node *fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static Node *fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
  va_end(ap);
  return NULL;
}

static char *tstr(const Node *n) { return arena_printf("%s%s", dtype_name(n->dt), shape_str(&n->sh)); }

/* Every builder ends here: try the rewrite rules, else intern. */
static Node *build(Op op, Dtype dt, Shape sh, Node **in, int nin, const int64_t *ia, double fv) {
  if (simplify_enabled) {
    Node *s = simplify_rules(op, dt, sh, in, nin, ia, fv, 0);
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
  Dtype dt = a->dt;
  if (op >= OP_EQ && op <= OP_GE && !is_float(dt)) dt = DT_F32; /* comparisons give 0/1 */
  Node *in[2] = {a, b};
  return build(op, dt, s, in, 2, NULL, 0);
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

Node *g_matmul(Node *a, Node *b, int ta, int tb) {
  if (!a || !b) return NULL;
  if (a->dt != b->dt || !is_float(a->dt))
    return fail("matrix product needs two float tensors of one type, got %s and %s", tstr(a), tstr(b));
  if (a->sh.rank != 2 || b->sh.rank != 2)
    return fail("matrix product needs two matrices (rank 2), got %s @ %s", tstr(a), tstr(b));
  Dim m = a->sh.d[ta ? 1 : 0], ka = a->sh.d[ta ? 0 : 1];
  Dim kb = b->sh.d[tb ? 1 : 0], n = b->sh.d[tb ? 0 : 1];
  if (!dims_eq(ka, kb))
    return fail("inner dimensions of the matrix product differ: %s @ %s (%s vs %s)", tstr(a), tstr(b),
                dim_str(ka), dim_str(kb));
  Dim d[2] = {m, n};
  int64_t ia[MAX_RANK] = {ta, tb};
  Node *in[2] = {a, b};
  return build(OP_MATMUL, a->dt, shape_of(2, d), in, 2, ia, 0);
}

Node *g_reshape(Node *a, Shape sh) {
  if (!a) return NULL;
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
    } else if (start[i] < 0 || o.k < 0 || start[i] + o.k > in.k) {
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
  if (labels->sh.rank >= MAX_RANK) return fail("labels of too high a rank");
  Shape s = labels->sh;
  s.d[s.rank++] = (Dim){n, 0};
  Node *in[1] = {labels};
  return build(OP_ONEHOT, dt, s, in, 1, NULL, 0);
}

Node *g_argmax(Node *a) {
  if (!a) return NULL;
  if (a->sh.rank < 1) return fail("argmax needs rank >= 1, got %s", tstr(a));
  Shape s = a->sh;
  s.rank--;
  Node *in[1] = {a};
  return build(OP_ARGMAX, DT_I32, s, in, 1, NULL, 0);
}

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
