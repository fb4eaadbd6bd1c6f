/*
 * ops/cumprod.c — cumprod(x, axis = -1, reverse = 0): running products
 * along one axis, y[.., i, ..] = Π_{j ≤ i} x[.., j, ..] (Π_{j ≥ i}
 * reversed), the shape of x, float only.  A diffusion model's ᾱ_t =
 * Π_{s ≤ t} (1 − β_s) is one.
 *
 * Derivative, exact where x has zeros too (dividing by x would not be):
 * in the order of the running product, with P_j = Π_{k < j} x_k (1 for
 * j = 0) and S_j = Σ_{i ≥ j} g_i Π_{j < k ≤ i} x_k, the adjoint is
 * dx_j = P_j · S_j; S is a running sum from the end, S_j = g_j + x_{j+1}
 * S_{j+1}.  That is cumprod_grad(x, g), an internal op of its own (no
 * derivative of it: cumprod has no second derivative here).
 * Kernels: one work item per line along the axis (one GPU thread per
 * line), which runs its line in one order, so both targets agree bit for
 * bit; cumprod_grad makes two passes over the line (S backwards into the
 * output, then P forwards).
 */
#include "../nnc.h"
#include "../codegen/kernel.h"

static const AttrSpec attrs[] = {{"axis", AT_AXIS, -1, 0}, {"reverse", AT_BOOL, 0, 0}};

static Node *build(Op op, Node **in, const int64_t *a) {
  Node *x = in[0];
  if (x->dt != DT_F32 && x->dt != DT_F64)
    return shape_fail("'cumprod' needs a floating-point tensor, got %s%s", dtype_name(x->dt), shape_str(&x->sh));
  return g_node(op, x->dt, x->sh, in, 1, a);
}

static void grad(Node *n, Node *g, Node **d) {
  Node *in[2] = {n->in[0], g};
  d[0] = g_gen(OP_CUMPROD_GRAD, in, n->ia);
}

/* cumprod_grad(x, g): x and g of one shape */
static Node *build_grad(Op op, Node **in, const int64_t *a) {
  if (!shape_eq(&in[0]->sh, &in[1]->sh) || in[0]->dt != in[1]->dt)
    return shape_fail("cumprod_grad: %s%s and %s%s differ", dtype_name(in[0]->dt), shape_str(&in[0]->sh),
                      dtype_name(in[1]->dt), shape_str(&in[1]->sh));
  return g_node(op, in[0]->dt, in[0]->sh, in, 2, a);
}

/* the lines along the axis */
static Dim extent(const Node *n) {
  Dim e = {1, 0};
  for (int i = 0; i < n->sh.rank; i++)
    if (i != n->ia[0]) e.k *= n->sh.d[i].k, e.b += n->sh.d[i].b;
  return e;
}

/* The line of work item `line`: its first element's offset and the
 * distance between its elements. */
typedef struct Line { LLVMValueRef base, inner, len; } Line;

static Line line_of(const KernelTarget *t, const Node *n, LLVMValueRef line) {
  int ax = (int)n->ia[0];
  Line l;
  l.len = t->dim(n->sh.d[ax]);
  l.inner = k_extent(t, &n->sh, ax + 1, n->sh.rank);
  /* line = outer·inner + k: its first element is at outer·len·inner + k */
  l.base = k_add(t, k_mul(t, k_mul(t, k_div(t, line, l.inner), l.len), l.inner), k_rem(t, line, l.inner));
  return l;
}

/* the offset of the j-th element in the product's order */
static LLVMValueRef at(const KernelTarget *t, const Node *n, const Line *l, LLVMValueRef j) {
  LLVMValueRef pos = n->ia[1] ? k_sub(t, k_sub(t, l->len, k_i64(t, 1)), j) : j;
  return k_add(t, l->base, k_mul(t, pos, l->inner));
}

static LLVMValueRef lines(const KernelTarget *t, const Node *n) {
  int ax = (int)n->ia[0];
  return k_mul(t, k_extent(t, &n->sh, 0, ax), k_extent(t, &n->sh, ax + 1, n->sh.rank));
}

static void emit(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  Dtype d = n->dt;
  LLVMTypeRef ty = t->s.ty(d);
  LLVMValueRef x = t->buffer(n->in[0]), y = t->buffer(n), acc = t->local(ty);
  LLVMValueRef line, j;
  void *items = t->loop_begin(lines(t, n), true, &line);
  Line l = line_of(t, n, line);
  LLVMBuildStore(b, LLVMConstReal(ty, 1), acc);
  void *along = t->loop_begin(l.len, false, &j);
  LLVMValueRef off = at(t, n, &l, j);
  LLVMValueRef p = k_fmul(t, LLVMBuildLoad2(b, ty, acc, ""), k_load(t, d, x, off));
  LLVMBuildStore(b, p, acc);
  k_store(t, d, p, y, off);
  t->loop_end(along);
  t->loop_end(items);
}

static void emit_grad(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  Dtype d = n->dt;
  LLVMTypeRef ty = t->s.ty(d);
  LLVMValueRef x = t->buffer(n->in[0]), g = t->buffer(n->in[1]), dx = t->buffer(n), acc = t->local(ty);
  LLVMValueRef line, j;
  void *items = t->loop_begin(lines(t, n), true, &line);
  Line l = line_of(t, n, line);
  /* S_j = g_j + x_{j+1} S_{j+1}, from the last element back, into dx */
  LLVMBuildStore(b, LLVMConstReal(ty, 0), acc);
  LLVMValueRef nx = t->local(ty);
  LLVMBuildStore(b, LLVMConstReal(ty, 0), nx); /* x_{j+1}; unused for the last */
  void *back = t->loop_begin(l.len, false, &j);
  LLVMValueRef jj = k_sub(t, k_sub(t, l.len, k_i64(t, 1)), j), off = at(t, n, &l, jj);
  LLVMValueRef s = k_fadd(t, k_load(t, d, g, off),
                          k_fmul(t, LLVMBuildLoad2(b, ty, nx, ""), LLVMBuildLoad2(b, ty, acc, "")));
  LLVMBuildStore(b, s, acc);
  LLVMBuildStore(b, k_load(t, d, x, off), nx);
  k_store(t, d, s, dx, off);
  t->loop_end(back);
  /* dx_j = P_j · S_j, P_j = Π_{k < j} x_k, from the first element on */
  LLVMBuildStore(b, LLVMConstReal(ty, 1), acc);
  void *fwd = t->loop_begin(l.len, false, &j);
  off = at(t, n, &l, j);
  LLVMValueRef p = LLVMBuildLoad2(b, ty, acc, "");
  k_store(t, d, k_fmul(t, p, k_load(t, d, dx, off)), dx, off);
  LLVMBuildStore(b, k_fmul(t, p, k_load(t, d, x, off)), acc);
  t->loop_end(fwd);
  t->loop_end(items);
}

const OpSpec cumprod_spec = {attrs, 2, build, grad, extent, emit, false};
const OpSpec cumprod_grad_spec = {attrs, 2, build_grad, NULL, extent, emit_grad, true};
