/*
 * ops/argmax.c — argmax(x): the index of the first maximum along the last
 * axis, as i32, of shape x without that axis; float x only; not
 * differentiable (an index has no gradient).  argmax(softmax(z)) is
 * argmax(z) (simplify.c), which is how the accuracy metric reads logits.
 *
 * Kernel: one work item per row, scanning it front to back and keeping a
 * value only when it is strictly greater, so the first maximum wins, NaN
 * never does, and a row of NaN or -inf gives 0 — on both targets.
 */
#include "../nnc.h"
#include "../codegen/kernel.h"
#include <math.h>

static Node *build(Op op, Node **in, const int64_t *a) {
  Node *x = in[0];
  if (x->sh.rank < 1) return shape_fail("argmax needs rank >= 1, got %s%s", dtype_name(x->dt), shape_str(&x->sh));
  if (x->dt != DT_F32 && x->dt != DT_F64)
    return shape_fail("argmax needs a floating-point tensor, got %s%s", dtype_name(x->dt), shape_str(&x->sh));
  Shape s = x->sh;
  s.rank--;
  return g_node(op, DT_I32, s, in, 1, a);
}

/* the rows */
static Dim extent(const Node *n) { return shape_numel(&n->sh); }

static void emit(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  const Node *x = n->in[0];
  Dtype xd = x->dt;
  LLVMTypeRef xt = t->s.ty(xd);
  LLVMValueRef last = t->dim(x->sh.d[x->sh.rank - 1]), rows = k_extent(t, &n->sh, 0, n->sh.rank);
  LLVMValueRef xp = t->buffer(x), yp = t->buffer(n), best = t->local(xt), bi = t->local(t->i64);
  LLVMValueRef r, c;
  void *row = t->loop_begin(rows, true, &r);
  LLVMBuildStore(b, LLVMConstReal(xt, -INFINITY), best);
  LLVMBuildStore(b, k_i64(t, 0), bi);
  LLVMValueRef base = k_mul(t, r, last);
  void *col = t->loop_begin(last, false, &c);
  LLVMValueRef v = k_load(t, xd, xp, k_add(t, base, c)), cur = LLVMBuildLoad2(b, xt, best, "");
  LLVMValueRef gt = LLVMBuildFCmp(b, LLVMRealOGT, v, cur, "");
  LLVMBuildStore(b, LLVMBuildSelect(b, gt, v, cur, ""), best);
  LLVMBuildStore(b, LLVMBuildSelect(b, gt, c, LLVMBuildLoad2(b, t->i64, bi, ""), ""), bi);
  t->loop_end(col);
  k_store(t, DT_I32, LLVMBuildTrunc(b, LLVMBuildLoad2(b, t->i64, bi, ""), t->s.ty(DT_I32), ""), yp, r);
  t->loop_end(row);
}

const OpSpec argmax_spec = {NULL, 0, build, NULL, extent, emit, false};
