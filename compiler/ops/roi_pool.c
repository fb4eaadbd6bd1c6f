/*
 * ops/roi_pool.c — roi_pool(features, boxes, size, scale): Fast R-CNN's
 * RoIPool, as torchvision.ops.roi_pool: the max over quantised bins.
 * features f[B, C, H, W], boxes f[B, R, 4] (x1, y1, x2, y2); the result
 * f[B, R, C, size, size].
 *
 * A box's corners are scaled and rounded to pixels (half away from zero),
 * its width and height are x2 - x1 + 1 and y2 - y1 + 1 pixels (at least 1);
 * bin (i, j) covers rows floor(i h / size) .. ceil((i + 1) h / size) - 1
 * from the box's first row, clipped to the map, and likewise for columns.
 * A bin that is empty after clipping is 0; otherwise the first maximum
 * (row-major) wins and NaN never does (a bin of NaN only is -FLT_MAX, as
 * torchvision).  A box with a NaN coordinate pools nothing: its bins are 0.
 *
 * Derivative: w.r.t. the features roi_pool_grad(g, features, boxes) (this
 * file, internal), which adds each bin's adjoint at the position of its
 * maximum; the boxes get none.  roi_pool_grad is linear in g, and its
 * adjoint is roi_pool_pick(g', features, boxes) (internal): the value of
 * g' at each bin's maximum of the features, whose own adjoint w.r.t. g' is
 * roi_pool_grad again; the positions of the maxima are piecewise constant,
 * so the features get no second-order term.
 *
 * Kernels: roi_pool and roi_pool_pick have one work item per element of
 * the result, scanning the bin; roi_pool_grad one per feature plane (b, c),
 * which zeroes it and walks the boxes and bins in order, adding into it —
 * the same order on both targets, without atomics.
 */
#include "../nnc.h"
#include "../codegen/kernel.h"
#include <float.h>

static const AttrSpec attrs[] = {{"size", AT_INT, 7, 0}, {"scale", AT_FLOAT, 0, 0.0625}};

/* the node whose shape is the features' ([B, C, H, W]) and the boxes */
static const Node *feat(const Node *n) { return n->op == OP_ROI_POOL ? n->in[0] : n->in[1]; }
static const Node *boxes_of(const Node *n) { return n->op == OP_ROI_POOL ? n->in[1] : n->in[2]; }

static Shape pooled(const Node *x, const Node *boxes, int64_t size) {
  Shape s = {0};
  s.rank = 5;
  s.d[0] = x->sh.d[0];
  s.d[1] = boxes->sh.d[1];
  s.d[2] = x->sh.d[1];
  s.d[3] = s.d[4] = (Dim){size, 0};
  return s;
}

static Node *build(Op op, Node **in, const int64_t *a) {
  if (!roi_check("roi_pool", in[0], in[1], a[0], attr_float(a[1]))) return NULL;
  return g_node(op, in[0]->dt, pooled(in[0], in[1], a[0]), in, 2, a);
}

static void grad(Node *n, Node *g, Node **d) {
  Node *in[3] = {g, n->in[0], n->in[1]};
  d[0] = g_gen(OP_ROI_POOL_GRAD, in, n->ia);
}

static Dim extent(const Node *n) { return shape_numel(&n->sh); }

/* ---- the bins, shared by the three kernels -------------------------------- */

static LLVMValueRef fc(const KernelTarget *t, Dtype d, double v) { return LLVMConstReal(t->s.ty(d), v); }

static LLVMValueRef imax(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(t->s.b, LLVMBuildICmp(t->s.b, LLVMIntSGT, a, b, ""), a, b, "");
}
static LLVMValueRef imin(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(t->s.b, LLVMBuildICmp(t->s.b, LLVMIntSLT, a, b, ""), a, b, "");
}

/* round half away from zero, of v already within +-2^50 */
static LLVMValueRef iround(const KernelTarget *t, Dtype d, LLVMValueRef v) {
  LLVMBuilderRef b = t->s.b;
  LLVMValueRef h = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGE, v, fc(t, d, 0), ""), fc(t, d, 0.5), fc(t, d, -0.5), "");
  return LLVMBuildFPToSI(b, LLVMBuildFAdd(b, v, h, ""), t->i64, "");
}

/* floor and ceil of v >= 0 (below 2^50) */
static LLVMValueRef ifloor(const KernelTarget *t, LLVMValueRef v) { return LLVMBuildFPToSI(t->s.b, v, t->i64, ""); }
static LLVMValueRef iceil(const KernelTarget *t, Dtype d, LLVMValueRef v) {
  LLVMBuilderRef b = t->s.b;
  LLVMValueRef f = ifloor(t, v), up = LLVMBuildFCmp(b, LLVMRealOLT, LLVMBuildSIToFP(b, f, t->s.ty(d), ""), v, "");
  return LLVMBuildSelect(b, up, k_add(t, f, k_i64(t, 1)), f, "");
}

/* bin p (of size) along one axis of n pixels of the box from scaled corner
 * a to b: [*lo, *hi) */
static void bin(const KernelTarget *t, Dtype d, LLVMValueRef a, LLVMValueRef e, LLVMValueRef p, int64_t size,
                int64_t n, LLVMValueRef *lo, LLVMValueRef *hi) {
  LLVMBuilderRef b = t->s.b;
  LLVMValueRef s = iround(t, d, a), len = imax(t, k_add(t, k_sub(t, iround(t, d, e), s), k_i64(t, 1)), k_i64(t, 1));
  LLVMValueRef sz = LLVMBuildFDiv(b, LLVMBuildSIToFP(b, len, t->s.ty(d), ""), fc(t, d, (double)size), "");
  LLVMValueRef pf = LLVMBuildSIToFP(b, p, t->s.ty(d), "");
  LLVMValueRef l = ifloor(t, LLVMBuildFMul(b, pf, sz, ""));
  LLVMValueRef h = iceil(t, d, LLVMBuildFMul(b, LLVMBuildFAdd(b, pf, fc(t, d, 1), ""), sz, ""));
  *lo = imin(t, imax(t, k_add(t, l, s), k_i64(t, 0)), k_i64(t, n));
  *hi = imin(t, imax(t, k_add(t, h, s), k_i64(t, 0)), k_i64(t, n));
}

/* the position (in its plane) of the maximum of bin (ph, pw) of box br over
 * the plane at `plane` of the features, or -1 when it has none (*empty:
 * because the bin is empty, not because it holds NaN only) */
static LLVMValueRef argmax_bin(const KernelTarget *t, const Node *n, LLVMValueRef br, LLVMValueRef plane,
                               LLVMValueRef ph, LLVMValueRef pw, LLVMValueRef *empty) {
  LLVMBuilderRef b = t->s.b;
  const Node *x = feat(n);
  Dtype d = x->dt;
  int64_t size = n->ia[0], H = x->sh.d[2].k, W = x->sh.d[3].k;
  double sc = attr_float(n->ia[1]);
  LLVMValueRef c[4], base = k_mul(t, br, k_i64(t, 4)), bp = t->buffer(boxes_of(n));
  LLVMValueRef nan = LLVMBuildICmp(b, LLVMIntNE, k_i64(t, 0), k_i64(t, 0), ""); /* false */
  for (int i = 0; i < 4; i++) {
    LLVMValueRef v = LLVMBuildFMul(b, k_load(t, d, bp, k_add(t, base, k_i64(t, i))), fc(t, d, sc), "");
    nan = LLVMBuildOr(b, nan, LLVMBuildFCmp(b, LLVMRealUNO, v, v, ""), "");
    v = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, v, fc(t, d, 1e15), ""), fc(t, d, 1e15), v, "");
    c[i] = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealULT, v, fc(t, d, -1e15), ""), fc(t, d, -1e15), v, "");
  }
  LLVMValueRef h0, h1, w0, w1, y, xx;
  bin(t, d, c[1], c[3], ph, size, H, &h0, &h1);
  bin(t, d, c[0], c[2], pw, size, W, &w0, &w1);
  h1 = LLVMBuildSelect(b, nan, h0, h1, ""); /* a NaN box: every bin empty */
  LLVMValueRef best = t->local(t->s.ty(d)), at = t->local(t->i64), xp = t->buffer(x);
  *empty = LLVMBuildOr(b, LLVMBuildICmp(b, LLVMIntSLE, h1, h0, ""), LLVMBuildICmp(b, LLVMIntSLE, w1, w0, ""), "");
  LLVMBuildStore(b, fc(t, d, -FLT_MAX), best);
  LLVMBuildStore(b, k_i64(t, -1), at);
  void *ly = t->loop_begin(imax(t, k_sub(t, h1, h0), k_i64(t, 0)), false, &y);
  void *lx = t->loop_begin(imax(t, k_sub(t, w1, w0), k_i64(t, 0)), false, &xx);
  LLVMValueRef pos = k_add(t, k_mul(t, k_add(t, y, h0), k_i64(t, W)), k_add(t, xx, w0));
  LLVMValueRef v = k_load(t, d, xp, k_add(t, plane, pos)), cur = LLVMBuildLoad2(b, t->s.ty(d), best, "");
  LLVMValueRef gt = LLVMBuildFCmp(b, LLVMRealOGT, v, cur, "");
  LLVMBuildStore(b, LLVMBuildSelect(b, gt, v, cur, ""), best);
  LLVMBuildStore(b, LLVMBuildSelect(b, gt, pos, LLVMBuildLoad2(b, t->i64, at, ""), ""), at);
  t->loop_end(lx);
  t->loop_end(ly);
  return LLVMBuildLoad2(b, t->i64, at, "");
}

/* roi_pool (src = the features) and roi_pool_pick (src = in[0]): each
 * element of the result is src at its bin's maximum of the features, 0 for
 * an empty bin; roi_pool keeps -FLT_MAX for a bin of NaN only */
static void emit(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  const Node *x = feat(n);
  Dtype d = n->dt;
  int64_t size = n->ia[0], R = n->sh.d[1].k, C = n->sh.d[2].k, HW = x->sh.d[2].k * x->sh.d[3].k;
  LLVMValueRef k;
  void *items = t->loop_begin(t->dim(shape_numel(&n->sh)), true, &k);
  LLVMValueRef pw = k_rem(t, k, k_i64(t, size)), ph = k_rem(t, k_div(t, k, k_i64(t, size)), k_i64(t, size));
  LLVMValueRef bc = k_div(t, k, k_i64(t, size * size));
  LLVMValueRef c = k_rem(t, bc, k_i64(t, C)), br = k_div(t, bc, k_i64(t, C)), bi = k_div(t, br, k_i64(t, R));
  LLVMValueRef plane = k_mul(t, k_add(t, k_mul(t, bi, k_i64(t, C)), c), k_i64(t, HW));
  LLVMValueRef empty, at = argmax_bin(t, n, br, plane, ph, pw, &empty);
  LLVMValueRef none = LLVMBuildICmp(b, LLVMIntSLT, at, k_i64(t, 0), "");
  LLVMValueRef v = k_load(t, d, t->buffer(n->in[0]), k_add(t, plane, LLVMBuildSelect(b, none, k_i64(t, 0), at, "")));
  LLVMValueRef z = fc(t, d, 0);
  if (n->op == OP_ROI_POOL) /* no maximum: an empty bin (0) or NaN only (-FLT_MAX), as torchvision */
    z = LLVMBuildSelect(b, empty, z, fc(t, d, -FLT_MAX), "");
  k_store(t, d, LLVMBuildSelect(b, none, z, v, ""), t->buffer(n), k);
  t->loop_end(items);
}

const OpSpec roi_pool_spec = {attrs, 2, build, grad, extent, emit, false};

/* ---- roi_pool_grad(g, features, boxes): the scatter to the maxima --------- */

static Node *build_grad(Op op, Node **in, const int64_t *a) {
  Node *g = in[0], *x = in[1];
  if (!roi_check("roi_pool_grad", x, in[2], a[0], attr_float(a[1]))) return NULL;
  Shape s = pooled(x, in[2], a[0]);
  if (g->dt != x->dt || !shape_eq(&g->sh, &s))
    return shape_fail("'roi_pool_grad' needs g %s%s, got %s%s", dtype_name(x->dt), shape_str(&s), dtype_name(g->dt),
                      shape_str(&g->sh));
  return g_node(op, x->dt, x->sh, in, 3, a);
}

static void grad_grad(Node *n, Node *g, Node **d) {
  Node *in[3] = {g, n->in[1], n->in[2]};
  d[0] = g_gen(OP_ROI_POOL_PICK, in, n->ia);
}

/* the feature planes (b, c) */
static Dim grad_extent(const Node *n) { return (Dim){n->sh.d[0].k * n->sh.d[1].k, n->sh.d[0].b}; }

static void emit_grad(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  Dtype d = n->dt;
  const Node *g = n->in[0];
  int64_t size = n->ia[0], R = g->sh.d[1].k, C = n->sh.d[1].k, HW = n->sh.d[2].k * n->sh.d[3].k;
  LLVMValueRef out = t->buffer(n), gp = t->buffer(g), bc, i, r, p, empty;
  void *planes = t->loop_begin(t->dim(grad_extent(n)), true, &bc);
  LLVMValueRef plane = k_mul(t, bc, k_i64(t, HW)), c = k_rem(t, bc, k_i64(t, C)), bi = k_div(t, bc, k_i64(t, C));
  void *clear = t->loop_begin(k_i64(t, HW), false, &i);
  k_store(t, d, fc(t, d, 0), out, k_add(t, plane, i));
  t->loop_end(clear);
  void *boxes = t->loop_begin(k_i64(t, R), false, &r);
  LLVMValueRef br = k_add(t, k_mul(t, bi, k_i64(t, R)), r);
  LLVMValueRef gbase = k_mul(t, k_add(t, k_mul(t, br, k_i64(t, C)), c), k_i64(t, size * size));
  void *bins = t->loop_begin(k_i64(t, size * size), false, &p);
  LLVMValueRef at = argmax_bin(t, n, br, plane, k_div(t, p, k_i64(t, size)), k_rem(t, p, k_i64(t, size)), &empty);
  LLVMValueRef none = LLVMBuildICmp(b, LLVMIntSLT, at, k_i64(t, 0), "");
  LLVMValueRef pos = k_add(t, plane, LLVMBuildSelect(b, none, k_i64(t, 0), at, ""));
  LLVMValueRef add = LLVMBuildSelect(b, none, fc(t, d, 0), k_load(t, d, gp, k_add(t, gbase, p)), "");
  k_store(t, d, k_fadd(t, k_load(t, d, out, pos), add), out, pos);
  t->loop_end(bins);
  t->loop_end(boxes);
  t->loop_end(planes);
}

const OpSpec roi_pool_grad_spec = {attrs, 2, build_grad, grad_grad, grad_extent, emit_grad, true};

/* ---- roi_pool_pick(g, features, boxes): g at the maxima ------------------- */

static Node *build_pick(Op op, Node **in, const int64_t *a) {
  Node *g = in[0], *x = in[1];
  if (!roi_check("roi_pool_pick", x, in[2], a[0], attr_float(a[1]))) return NULL;
  if (g->dt != x->dt || !shape_eq(&g->sh, &x->sh))
    return shape_fail("'roi_pool_pick' needs g of the features' type %s%s, got %s%s", dtype_name(x->dt),
                      shape_str(&x->sh), dtype_name(g->dt), shape_str(&g->sh));
  return g_node(op, x->dt, pooled(x, in[2], a[0]), in, 3, a);
}

static void grad_pick(Node *n, Node *g, Node **d) {
  Node *in[3] = {g, n->in[1], n->in[2]};
  d[0] = g_gen(OP_ROI_POOL_GRAD, in, n->ia);
}

const OpSpec roi_pool_pick_spec = {attrs, 2, build_pick, grad_pick, extent, emit, true};
