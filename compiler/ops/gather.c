/*
 * ops/gather.c — gather(x, idx, axis = -1): values of x picked by index
 * along one axis, as torch.gather: idx (i32) has x's rank and x's size on
 * every other axis, the result has idx's shape, and
 * y[.., j, ..] = x[.., idx[.., j, ..], ..] along the axis.  A diffusion
 * model's per-sample ᾱ_t is gather(alpha_bar, t, axis = 0) with t i32[B].
 *
 * An index outside [0, n) (n: x's size along the axis) reads nothing: its
 * result is 0 and it gives x no gradient — nothing is clamped, nothing is
 * read or written out of bounds (LANGUAGE.md §6.2).
 *
 * Derivative: w.r.t. x the scatter-add of the adjoint into zeros of x's
 * shape, gather_grad(idx, g, size = n) (this file, not callable by name),
 * whose own adjoint is gather again; idx is integer and gets none.
 *
 * Kernels: gather, one work item per element of the result (an index, a
 * bounds check, a load); gather_grad, one work item per line along the axis,
 * which zeroes its line of the result and then adds the adjoint's values in
 * the order of the indices — no atomics, so both targets form every sum in
 * one order and agree bit for bit.  Both are branch-free (a select).
 */
#include "../nnc.h"
#include "../codegen/kernel.h"

static const AttrSpec attrs[] = {{"axis", AT_AXIS, -1, 0}};

static bool same_dim(Dim a, Dim b) { return a.k == b.k && a.b == b.b; }

static Node *build(Op op, Node **in, const int64_t *a) {
  Node *x = in[0], *idx = in[1];
  int ax = (int)a[0];
  if (x->dt != DT_F32 && x->dt != DT_F64 && x->dt != DT_I32)
    return shape_fail("'gather' picks from a float or i32 tensor, got %s%s", dtype_name(x->dt), shape_str(&x->sh));
  if (idx->dt != DT_I32)
    return shape_fail("'gather' needs integer indices (i32), got %s%s", dtype_name(idx->dt), shape_str(&idx->sh));
  if (idx->sh.rank != x->sh.rank)
    return shape_fail("'gather': the indices %s need the rank of x %s", shape_str(&idx->sh), shape_str(&x->sh));
  for (int i = 0; i < x->sh.rank; i++)
    if (i != ax && !same_dim(x->sh.d[i], idx->sh.d[i]))
      return shape_fail("'gather' along axis %d: the indices %s and x %s differ on axis %d", ax,
                        shape_str(&idx->sh), shape_str(&x->sh), i);
  return g_node(op, x->dt, idx->sh, in, 2, a);
}

static void grad(Node *n, Node *g, Node **d) {
  Node *in[2] = {n->in[1], g};
  int64_t a[] = {n->ia[0], n->in[0]->sh.d[n->ia[0]].k};
  d[0] = g_gen(OP_GATHER_GRAD, in, a);
}

/* every element of the result */
static Dim extent(const Node *n) { return shape_numel(&n->sh); }

/* idx[i] as i64, whether it lies in [0, size) (unsigned <), and 0 if not */
static LLVMValueRef load_index(const KernelTarget *t, const Node *idx, LLVMValueRef i, LLVMValueRef size,
                               LLVMValueRef *ok) {
  LLVMValueRef v = LLVMBuildSExt(t->s.b, k_load(t, DT_I32, t->buffer(idx), i), t->i64, "");
  *ok = LLVMBuildICmp(t->s.b, LLVMIntULT, v, size, "");
  return LLVMBuildSelect(t->s.b, *ok, v, k_i64(t, 0), "");
}

static LLVMValueRef zero_of(const KernelTarget *t, Dtype d) {
  return d == DT_I32 ? LLVMConstInt(t->s.ty(d), 0, 0) : LLVMConstReal(t->s.ty(d), 0);
}

static void emit(const KernelTarget *t, const Node *n) {
  const Node *x = n->in[0];
  int ax = (int)n->ia[0];
  Dtype d = n->dt;
  LLVMValueRef m = t->dim(n->sh.d[ax]), size = t->dim(x->sh.d[ax]);
  LLVMValueRef inner = k_extent(t, &n->sh, ax + 1, n->sh.rank), k, ok;
  void *items = t->loop_begin(t->dim(shape_numel(&n->sh)), true, &k);
  /* k = (outer·m + j)·inner + in; x's element is (outer·size + idx)·inner + in */
  LLVMValueRef in = k_rem(t, k, inner), outer = k_div(t, k, k_mul(t, m, inner));
  LLVMValueRef id = load_index(t, n->in[1], k, size, &ok);
  LLVMValueRef v = k_load(t, d, t->buffer(x), k_add(t, k_mul(t, k_add(t, k_mul(t, outer, size), id), inner), in));
  k_store(t, d, LLVMBuildSelect(t->s.b, ok, v, zero_of(t, d), ""), t->buffer(n), k);
  t->loop_end(items);
}

const OpSpec gather_spec = {attrs, 1, build, grad, extent, emit, false};

/* ---- gather_grad(idx, g, axis, size = n): the scatter-add ---------------- */

static const AttrSpec grad_attrs[] = {{"axis", AT_AXIS, -1, 0}, {"size", AT_INT, 1, 0}};

static Node *build_grad(Op op, Node **in, const int64_t *a) {
  Node *idx = in[0], *g = in[1];
  int ax = (int)a[0];
  if (idx->dt != DT_I32 || (g->dt != DT_F32 && g->dt != DT_F64) || !shape_eq(&idx->sh, &g->sh))
    return shape_fail("'gather_grad' needs indices i32 and an adjoint of their shape, got %s%s and %s%s",
                      dtype_name(idx->dt), shape_str(&idx->sh), dtype_name(g->dt), shape_str(&g->sh));
  if (a[1] < 1) return shape_fail("'gather_grad' needs size >= 1, got %lld", (long long)a[1]);
  Shape s = g->sh;
  s.d[ax] = (Dim){a[1], 0};
  return g_node(op, g->dt, s, in, 2, a);
}

static void grad_grad(Node *n, Node *g, Node **d) {
  Node *in[2] = {g, n->in[0]};
  int64_t a[] = {n->ia[0]};
  d[1] = g_gen(OP_GATHER, in, a);
}

/* the lines along the axis */
static Dim grad_extent(const Node *n) {
  Dim e = {1, 0};
  for (int i = 0; i < n->sh.rank; i++)
    if (i != n->ia[0]) e.k *= n->sh.d[i].k, e.b += n->sh.d[i].b;
  return e;
}

static void emit_grad(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  int ax = (int)n->ia[0];
  Dtype d = n->dt;
  LLVMValueRef zero = zero_of(t, d), out = t->buffer(n), g = t->buffer(n->in[1]);
  LLVMValueRef size = t->dim(n->sh.d[ax]), m = t->dim(n->in[0]->sh.d[ax]);
  LLVMValueRef inner = k_extent(t, &n->sh, ax + 1, n->sh.rank);
  LLVMValueRef lines = k_mul(t, k_extent(t, &n->sh, 0, ax), inner), line, r, j, ok;
  void *items = t->loop_begin(lines, true, &line);
  LLVMValueRef outer = k_div(t, line, inner), in = k_rem(t, line, inner);
  LLVMValueRef obase = k_add(t, k_mul(t, k_mul(t, outer, size), inner), in);
  LLVMValueRef gbase = k_add(t, k_mul(t, k_mul(t, outer, m), inner), in);
  void *clear = t->loop_begin(size, false, &r);
  k_store(t, d, zero, out, k_add(t, obase, k_mul(t, r, inner)));
  t->loop_end(clear);
  void *scan = t->loop_begin(m, false, &j);
  LLVMValueRef at = k_add(t, gbase, k_mul(t, j, inner));
  LLVMValueRef id = load_index(t, n->in[0], at, size, &ok);
  LLVMValueRef to = k_add(t, obase, k_mul(t, id, inner));
  LLVMValueRef add = LLVMBuildSelect(b, ok, k_load(t, d, g, at), zero, "");
  k_store(t, d, k_fadd(t, k_load(t, d, out, to), add), out, to);
  t->loop_end(scan);
  t->loop_end(items);
}

const OpSpec gather_grad_spec = {grad_attrs, 2, build_grad, grad_grad, grad_extent, emit_grad, true};
