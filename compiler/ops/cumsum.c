/*
 * ops/cumsum.c — cumsum(x, axis = -1, reverse = 0): running sums along one
 * axis, y[.., i, ..] = Σ_{j ≤ i} x[.., j, ..] (Σ_{j ≥ i} reversed), the
 * shape of x, float only.
 *
 * Derivative: each x[j] feeds every y[i] with i ≥ j, so the adjoint of x is
 * the running sum of the adjoint in the other direction.
 * Kernel: one work item per line along the axis (every other index), which
 * adds its line front to back (back to front reversed) — on the GPU one
 * thread per line — so both targets add in one order and agree bit for bit.
 */
#include "../nnc.h"
#include "../codegen/kernel.h"

static const AttrSpec attrs[] = {{"axis", AT_AXIS, -1, 0}, {"reverse", AT_BOOL, 0, 0}};

static Node *build(Op op, Node **in, const int64_t *a) {
  Node *x = in[0];
  if (x->dt != DT_F32 && x->dt != DT_F64)
    return shape_fail("'cumsum' needs a floating-point tensor, got %s%s", dtype_name(x->dt), shape_str(&x->sh));
  return g_node(op, x->dt, x->sh, in, 1, a);
}

static void grad(Node *n, Node *g, Node **d) {
  int64_t a[] = {n->ia[0], !n->ia[1]};
  d[0] = g_gen(OP_CUMSUM, &g, a);
}

/* the lines along the axis */
static Dim extent(const Node *n) {
  Dim e = {1, 0};
  for (int i = 0; i < n->sh.rank; i++)
    if (i != n->ia[0]) e.k *= n->sh.d[i].k, e.b += n->sh.d[i].b;
  return e;
}

static void emit(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  int ax = (int)n->ia[0];
  Dtype d = n->dt;
  LLVMTypeRef ty = t->s.ty(d);
  LLVMValueRef len = t->dim(n->sh.d[ax]), inner = k_extent(t, &n->sh, ax + 1, n->sh.rank);
  LLVMValueRef lines = k_mul(t, k_extent(t, &n->sh, 0, ax), inner);
  LLVMValueRef x = t->buffer(n->in[0]), y = t->buffer(n), acc = t->local(ty);
  LLVMValueRef line, j;
  void *items = t->loop_begin(lines, true, &line);
  /* line = outer·inner + k: its first element is at outer·len·inner + k */
  LLVMValueRef base = k_add(t, k_mul(t, k_mul(t, k_div(t, line, inner), len), inner), k_rem(t, line, inner));
  LLVMBuildStore(b, LLVMConstReal(ty, 0), acc);
  void *along = t->loop_begin(len, false, &j);
  LLVMValueRef pos = n->ia[1] ? k_sub(t, k_sub(t, len, k_i64(t, 1)), j) : j;
  LLVMValueRef off = k_add(t, base, k_mul(t, pos, inner));
  LLVMValueRef s = k_fadd(t, LLVMBuildLoad2(b, ty, acc, ""), k_load(t, d, x, off));
  LLVMBuildStore(b, s, acc);
  k_store(t, d, s, y, off);
  t->loop_end(along);
  t->loop_end(items);
}

const OpSpec cumsum_spec = {attrs, 2, build, grad, extent, emit, false};
