/*
 * ops/roi_align.c — roi_align(features, boxes, size, scale, samples,
 * aligned): Mask R-CNN's RoIAlign, as torchvision.ops.roi_align.
 * features f[B, C, H, W], boxes f[B, R, 4] (x1, y1, x2, y2 in the image's
 * coordinates, R boxes per sample); the result f[B, R, C, size, size].
 *
 * A box is scaled by `scale` (the feature map's stride inverted) and, when
 * aligned = 1, shifted by -0.5 (pixel centres); when aligned = 0 its width
 * and height are at least 1.  Each of the size x size bins averages
 * samples x samples bilinear samples at the centres of a regular grid over
 * the bin.  A sample more than one pixel outside the map (y < -1, y > H,
 * x < -1, x > W) counts as zero; one within is clamped to the map: y <= 0
 * reads row 0, y >= H - 1 reads row H - 1 (torchvision's rule).
 * samples >= 1 (torchvision's adaptive 0 is not offered).
 *
 * Derivative: w.r.t. the features roi_align_grad(g, boxes, height = H,
 * width = W, ...) (this file, not callable by name), the scatter of each
 * bin's adjoint over the samples' bilinear weights; the boxes get none (as
 * torchvision).  roi_align_grad is linear in g and its adjoint is
 * roi_align(g', boxes) with the same attributes.
 *
 * Kernels: roi_align has one work item per element of the result;
 * roi_align_grad one per feature plane (b, c), which zeroes its plane and
 * then walks the boxes, bins and samples in order, adding into it — the
 * same order on both targets, without atomics.  Both are branch-free: an
 * out-of-map sample has weights zero and reads/writes position 0.
 */
#include "../nnc.h"
#include "../codegen/kernel.h"

static const AttrSpec attrs[] = {
    {"size", AT_INT, 7, 0}, {"scale", AT_FLOAT, 0, 0.0625}, {"samples", AT_INT, 2, 0}, {"aligned", AT_BOOL, 0, 0}};
enum { A_SIZE, A_SCALE, A_SAMPLES, A_ALIGNED, A_HEIGHT, A_WIDTH };

static bool is_f(Dtype d) { return d == DT_F32 || d == DT_F64; }

static bool same_dim(Dim a, Dim b) { return a.k == b.k && a.b == b.b; }

/* the checks shared by roi_align and roi_pool (ops/roi_pool.c calls this
 * through roi_check): features f[B, C, H, W], boxes f[B, R, 4] */
Node *roi_check(const char *name, Node *x, Node *boxes, int64_t size, double scale) {
  if (!is_f(x->dt) || x->sh.rank != 4)
    return shape_fail("'%s' needs features f[B, C, H, W], got %s%s", name, dtype_name(x->dt), shape_str(&x->sh));
  if (boxes->dt != x->dt || boxes->sh.rank != 3 || boxes->sh.d[2].k != 4 || boxes->sh.d[2].b || boxes->sh.d[1].b ||
      !same_dim(boxes->sh.d[0], x->sh.d[0]))
    return shape_fail("'%s' needs boxes %s[%s, R, 4] (x1, y1, x2, y2 per box) for features %s%s, got %s%s", name,
                      dtype_name(x->dt), x->sh.d[0].b ? "B" : "N", dtype_name(x->dt), shape_str(&x->sh),
                      dtype_name(boxes->dt), shape_str(&boxes->sh));
  if (size < 1) return shape_fail("'%s' needs size >= 1, got %lld", name, (long long)size);
  if (!(scale > 0) || scale > 1e30) return shape_fail("'%s' needs a scale > 0, got %g", name, scale);
  return x;
}

static Node *build(Op op, Node **in, const int64_t *a) {
  if (!roi_check("roi_align", in[0], in[1], a[A_SIZE], attr_float(a[A_SCALE]))) return NULL;
  if (a[A_SAMPLES] < 1 || a[A_SAMPLES] > 64)
    return shape_fail("'roi_align' needs samples in [1, 64] per bin side, got %lld", (long long)a[A_SAMPLES]);
  Shape s = {0};
  s.rank = 5;
  s.d[0] = in[0]->sh.d[0];
  s.d[1] = in[1]->sh.d[1];
  s.d[2] = in[0]->sh.d[1];
  s.d[3] = s.d[4] = (Dim){a[A_SIZE], 0};
  return g_node(op, in[0]->dt, s, in, 2, a);
}

static void grad(Node *n, Node *g, Node **d) {
  Node *in[2] = {g, n->in[1]};
  int64_t a[6] = {n->ia[0], n->ia[1], n->ia[2], n->ia[3], n->in[0]->sh.d[2].k, n->in[0]->sh.d[3].k};
  d[0] = g_gen(OP_ROI_ALIGN_GRAD, in, a);
}

/* ---- the geometry, shared by both kernels --------------------------------- */

typedef struct Roi {
  LLVMValueRef y0, x0, bh, bw; /* the box's start and its bin sizes, in map pixels */
  LLVMValueRef cnt;            /* samples², the divisor of each bin's sum */
} Roi;

static LLVMValueRef fc(const KernelTarget *t, Dtype d, double v) { return LLVMConstReal(t->s.ty(d), v); }

static LLVMValueRef fmax_(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(t->s.b, LLVMBuildFCmp(t->s.b, LLVMRealOGT, a, b, ""), a, b, "");
}

/* box (b, r) of boxes, scaled, shifted and with its bins' sizes */
static Roi roi_of(const KernelTarget *t, const Node *n, const Node *boxes, LLVMValueRef br) {
  LLVMBuilderRef b = t->s.b;
  Dtype d = n->dt;
  double sc = attr_float(n->ia[A_SCALE]), off = n->ia[A_ALIGNED] ? 0.5 : 0.0;
  LLVMValueRef c[4], base = k_mul(t, br, k_i64(t, 4)), p = t->buffer(boxes);
  for (int i = 0; i < 4; i++)
    c[i] = LLVMBuildFSub(b, LLVMBuildFMul(b, k_load(t, d, p, k_add(t, base, k_i64(t, i))), fc(t, d, sc), ""),
                         fc(t, d, off), "");
  LLVMValueRef w = LLVMBuildFSub(b, c[2], c[0], ""), h = LLVMBuildFSub(b, c[3], c[1], "");
  if (!n->ia[A_ALIGNED]) w = fmax_(t, w, fc(t, d, 1)), h = fmax_(t, h, fc(t, d, 1));
  double size = (double)n->ia[A_SIZE], sm = (double)n->ia[A_SAMPLES];
  return (Roi){c[1], c[0], LLVMBuildFDiv(b, h, fc(t, d, size), ""), LLVMBuildFDiv(b, w, fc(t, d, size), ""),
               fc(t, d, sm * sm)};
}

/* the coordinate of sample i of bin p along one axis: start + p * bin +
 * (i + 0.5) * bin / samples */
static LLVMValueRef coord(const KernelTarget *t, Dtype d, LLVMValueRef start, LLVMValueRef bin, LLVMValueRef p,
                          LLVMValueRef i, int64_t samples) {
  LLVMBuilderRef b = t->s.b;
  LLVMTypeRef ty = t->s.ty(d);
  LLVMValueRef pf = LLVMBuildSIToFP(b, p, ty, ""), fi = LLVMBuildSIToFP(b, i, ty, "");
  LLVMValueRef frac = LLVMBuildFDiv(b, LLVMBuildFAdd(b, fi, fc(t, d, 0.5), ""), fc(t, d, (double)samples), "");
  return LLVMBuildFAdd(b, start, LLVMBuildFMul(b, LLVMBuildFAdd(b, pf, frac, ""), bin, ""), "");
}

/* one axis of a bilinear sample at v on an axis of n pixels: the two
 * positions, the weight of the high one, and whether v is on the map */
typedef struct Axis { LLVMValueRef lo, hi, l, ok; } Axis;

static Axis axis(const KernelTarget *t, Dtype d, LLVMValueRef v, int64_t n) {
  LLVMBuilderRef b = t->s.b;
  LLVMValueRef ok = LLVMBuildAnd(b, LLVMBuildFCmp(b, LLVMRealOGE, v, fc(t, d, -1), ""),
                                 LLVMBuildFCmp(b, LLVMRealOLE, v, fc(t, d, (double)n), ""), "");
  v = LLVMBuildSelect(b, ok, v, fc(t, d, 0), ""); /* off the map (or NaN): any value on it, weight 0 */
  v = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLE, v, fc(t, d, 0), ""), fc(t, d, 0), v, "");
  LLVMValueRef lo = LLVMBuildFPToSI(b, v, t->i64, ""), last = k_i64(t, n - 1);
  LLVMValueRef edge = LLVMBuildICmp(b, LLVMIntSGE, lo, last, "");
  lo = LLVMBuildSelect(b, edge, last, lo, "");
  LLVMValueRef hi = LLVMBuildSelect(b, edge, last, k_add(t, lo, k_i64(t, 1)), "");
  v = LLVMBuildSelect(b, edge, LLVMBuildSIToFP(b, lo, t->s.ty(d), ""), v, "");
  return (Axis){lo, hi, LLVMBuildFSub(b, v, LLVMBuildSIToFP(b, lo, t->s.ty(d), ""), ""), ok};
}

/* the four offsets in a plane of width w and their weights times `scale`
 * (zero off the map), for the sample at (y, x) */
static void bilinear(const KernelTarget *t, Dtype d, LLVMValueRef y, LLVMValueRef x, int64_t h, int64_t w,
                     LLVMValueRef scale, LLVMValueRef off[4], LLVMValueRef wt[4]) {
  LLVMBuilderRef b = t->s.b;
  Axis ay = axis(t, d, y, h), ax = axis(t, d, x, w);
  LLVMValueRef ok = LLVMBuildAnd(b, ay.ok, ax.ok, "");
  LLVMValueRef s = LLVMBuildSelect(b, ok, scale, fc(t, d, 0), "");
  LLVMValueRef hy = LLVMBuildFSub(b, fc(t, d, 1), ay.l, ""), hx = LLVMBuildFSub(b, fc(t, d, 1), ax.l, "");
  LLVMValueRef ys[2] = {ay.lo, ay.hi}, xs[2] = {ax.lo, ax.hi}, wy[2] = {hy, ay.l}, wx[2] = {hx, ax.l};
  for (int i = 0; i < 4; i++) {
    off[i] = k_add(t, k_mul(t, ys[i / 2], k_i64(t, w)), xs[i % 2]);
    wt[i] = LLVMBuildFMul(b, LLVMBuildFMul(b, wy[i / 2], wx[i % 2], ""), s, "");
  }
}

/* ---- roi_align: one work item per element of the result ------------------ */

static Dim extent(const Node *n) { return shape_numel(&n->sh); }

static void emit(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  const Node *x = n->in[0];
  Dtype d = n->dt;
  int64_t size = n->ia[A_SIZE], sm = n->ia[A_SAMPLES], R = n->sh.d[1].k, C = n->sh.d[2].k;
  int64_t H = x->sh.d[2].k, W = x->sh.d[3].k;
  LLVMValueRef k, iy, ix, acc = t->local(t->s.ty(d)), xp = t->buffer(x);
  void *items = t->loop_begin(t->dim(shape_numel(&n->sh)), true, &k);
  LLVMValueRef pw = k_rem(t, k, k_i64(t, size)), ph = k_rem(t, k_div(t, k, k_i64(t, size)), k_i64(t, size));
  LLVMValueRef bc = k_div(t, k, k_i64(t, size * size)); /* (b, r, c) */
  LLVMValueRef c = k_rem(t, bc, k_i64(t, C)), br = k_div(t, bc, k_i64(t, C)), bi = k_div(t, br, k_i64(t, R));
  Roi roi = roi_of(t, n, n->in[1], br);
  LLVMValueRef plane = k_mul(t, k_add(t, k_mul(t, bi, k_i64(t, C)), c), k_i64(t, H * W));
  LLVMBuildStore(b, fc(t, d, 0), acc);
  void *ly = t->loop_begin(k_i64(t, sm), false, &iy);
  LLVMValueRef y = coord(t, d, roi.y0, roi.bh, ph, iy, sm);
  void *lx = t->loop_begin(k_i64(t, sm), false, &ix);
  LLVMValueRef xv = coord(t, d, roi.x0, roi.bw, pw, ix, sm), off[4], wt[4];
  bilinear(t, d, y, xv, H, W, fc(t, d, 1), off, wt);
  LLVMValueRef s = LLVMBuildLoad2(b, t->s.ty(d), acc, "");
  for (int i = 0; i < 4; i++)
    s = LLVMBuildFAdd(b, s, LLVMBuildFMul(b, wt[i], k_load(t, d, xp, k_add(t, plane, off[i])), ""), "");
  LLVMBuildStore(b, s, acc);
  t->loop_end(lx);
  t->loop_end(ly);
  k_store(t, d, LLVMBuildFDiv(b, LLVMBuildLoad2(b, t->s.ty(d), acc, ""), roi.cnt, ""), t->buffer(n), k);
  t->loop_end(items);
}

const OpSpec roi_align_spec = {attrs, 4, build, grad, extent, emit, false};

/* ---- roi_align_grad(g, boxes, ..., height, width): the scatter ------------ */

static const AttrSpec grad_attrs[] = {{"size", AT_INT, 7, 0},    {"scale", AT_FLOAT, 0, 0.0625},
                                      {"samples", AT_INT, 2, 0}, {"aligned", AT_BOOL, 0, 0},
                                      {"height", AT_INT, 1, 0},  {"width", AT_INT, 1, 0}};

static Node *build_grad(Op op, Node **in, const int64_t *a) {
  Node *g = in[0], *boxes = in[1];
  if (!is_f(g->dt) || g->sh.rank != 5 || boxes->dt != g->dt || boxes->sh.rank != 3 ||
      !same_dim(g->sh.d[0], boxes->sh.d[0]) || g->sh.d[1].k != boxes->sh.d[1].k || g->sh.d[3].k != a[A_SIZE] ||
      g->sh.d[4].k != a[A_SIZE] || boxes->sh.d[2].k != 4)
    return shape_fail("'roi_align_grad' needs g f[B, R, C, size, size] and boxes f[B, R, 4], got %s%s and %s%s",
                      dtype_name(g->dt), shape_str(&g->sh), dtype_name(boxes->dt), shape_str(&boxes->sh));
  if (a[A_HEIGHT] < 1 || a[A_WIDTH] < 1) return shape_fail("'roi_align_grad' needs height, width >= 1");
  Shape s = {0};
  s.rank = 4;
  s.d[0] = g->sh.d[0];
  s.d[1] = g->sh.d[2];
  s.d[2] = (Dim){a[A_HEIGHT], 0};
  s.d[3] = (Dim){a[A_WIDTH], 0};
  return g_node(op, g->dt, s, in, 2, a);
}

static void grad_grad(Node *n, Node *g, Node **d) {
  Node *in[2] = {g, n->in[1]};
  d[0] = g_gen(OP_ROI_ALIGN, in, n->ia);
}

/* the feature planes (b, c) */
static Dim grad_extent(const Node *n) { return (Dim){n->sh.d[0].k * n->sh.d[1].k, n->sh.d[0].b}; }

static void emit_grad(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  Dtype d = n->dt;
  const Node *g = n->in[0];
  int64_t size = n->ia[A_SIZE], sm = n->ia[A_SAMPLES], R = g->sh.d[1].k, C = n->sh.d[1].k;
  int64_t H = n->ia[A_HEIGHT], W = n->ia[A_WIDTH];
  LLVMValueRef out = t->buffer(n), gp = t->buffer(g), bc, i, r, p, iy, ix;
  void *planes = t->loop_begin(t->dim(grad_extent(n)), true, &bc);
  LLVMValueRef plane = k_mul(t, bc, k_i64(t, H * W)), c = k_rem(t, bc, k_i64(t, C)), bi = k_div(t, bc, k_i64(t, C));
  void *clear = t->loop_begin(k_i64(t, H * W), false, &i);
  k_store(t, d, fc(t, d, 0), out, k_add(t, plane, i));
  t->loop_end(clear);
  void *boxes = t->loop_begin(k_i64(t, R), false, &r);
  LLVMValueRef br = k_add(t, k_mul(t, bi, k_i64(t, R)), r);
  Roi roi = roi_of(t, n, n->in[1], br);
  LLVMValueRef gbase = k_mul(t, k_add(t, k_mul(t, br, k_i64(t, C)), c), k_i64(t, size * size));
  void *bins = t->loop_begin(k_i64(t, size * size), false, &p);
  LLVMValueRef ph = k_div(t, p, k_i64(t, size)), pw = k_rem(t, p, k_i64(t, size));
  LLVMValueRef gv = LLVMBuildFDiv(b, k_load(t, d, gp, k_add(t, gbase, p)), roi.cnt, "");
  void *ly = t->loop_begin(k_i64(t, sm), false, &iy);
  LLVMValueRef y = coord(t, d, roi.y0, roi.bh, ph, iy, sm);
  void *lx = t->loop_begin(k_i64(t, sm), false, &ix);
  LLVMValueRef xv = coord(t, d, roi.x0, roi.bw, pw, ix, sm), off[4], wt[4];
  bilinear(t, d, y, xv, H, W, gv, off, wt);
  for (int q = 0; q < 4; q++) {
    LLVMValueRef at = k_add(t, plane, off[q]);
    k_store(t, d, k_fadd(t, k_load(t, d, out, at), wt[q]), out, at);
  }
  t->loop_end(lx);
  t->loop_end(ly);
  t->loop_end(bins);
  t->loop_end(boxes);
  t->loop_end(planes);
}

const OpSpec roi_align_grad_spec = {grad_attrs, 6, build_grad, grad_grad, grad_extent, emit_grad, true};
