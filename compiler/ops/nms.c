/*
 * ops/nms.c — nms(boxes, scores, iou, k): greedy non-maximum suppression,
 * as torchvision.ops.nms, with a result of fixed shape.  boxes f[..., N, 4]
 * (x1, y1, x2, y2), scores f[..., N] of the same type and leading dims;
 * the result i32[..., K]: the indices of the kept boxes in decreasing score
 * order (equal scores: the lower index first, as torchvision's stable
 * sort), padded with -1 after the last one.  K = k, or N for k = -1 (the
 * default); when more than K boxes survive, the first K are kept, which is
 * torchvision's result cut to K.
 *
 * A box is suppressed when its IoU with a kept box of higher rank exceeds
 * `iou` (strictly).  Boxes torchvision would keep but that are not boxes —
 * a NaN coordinate, x2 < x1 or y2 < y1 — and boxes of NaN score are never
 * kept and suppress nothing (documented in LANGUAGE.md §6); a box of zero
 * area suppresses nothing (its IoU is 0 / 0).  Not differentiable.
 *
 * Kernel: one work item per set of boxes (each leading index).  No sort
 * and no scratch memory: step s visits the box that follows the previous
 * one in (score descending, index ascending) order by a scan over all N,
 * and keeps it unless a box already in the result overlaps it — O(N² + NK)
 * per set, the same order and arithmetic on both targets.
 */
#include "../nnc.h"
#include "../codegen/kernel.h"
#include <math.h>

static const AttrSpec attrs[] = {{"iou", AT_FLOAT, 0, 0.5}, {"k", AT_INT, -1, 0}};

static Node *build(Op op, Node **in, const int64_t *a) {
  Node *bx = in[0], *sc = in[1];
  int r = bx->sh.rank;
  bool ok = (bx->dt == DT_F32 || bx->dt == DT_F64) && sc->dt == bx->dt && r >= 2 && sc->sh.rank == r - 1 &&
            bx->sh.d[r - 1].k == 4 && !bx->sh.d[r - 1].b && !bx->sh.d[r - 2].b;
  for (int i = 0; ok && i < r - 1; i++) ok = sc->sh.d[i].k == bx->sh.d[i].k && sc->sh.d[i].b == bx->sh.d[i].b;
  if (!ok)
    return shape_fail("'nms' needs boxes f[..., N, 4] and scores f[..., N] of one float type, got %s%s and %s%s",
                      dtype_name(bx->dt), shape_str(&bx->sh), dtype_name(sc->dt), shape_str(&sc->sh));
  double iou = attr_float(a[0]);
  if (!(iou >= 0 && iou <= 1)) return shape_fail("'nms' needs iou in [0, 1], got %g", iou);
  if (a[1] < 1 && a[1] != -1) return shape_fail("'nms' needs k >= 1 (or -1: all N boxes), got %lld", (long long)a[1]);
  Shape s = sc->sh;
  s.d[r - 2] = (Dim){a[1] == -1 ? bx->sh.d[r - 2].k : a[1], 0};
  return g_node(op, DT_I32, s, in, 2, a);
}

/* the sets of boxes */
static Dim extent(const Node *n) {
  Shape s = n->sh;
  s.rank--;
  return shape_numel(&s);
}

static LLVMValueRef fc(const KernelTarget *t, Dtype d, double v) { return LLVMConstReal(t->s.ty(d), v); }

/* x1, y1, x2, y2 of box i of the set starting at box `base` */
static void load_box(const KernelTarget *t, const Node *n, LLVMValueRef base, LLVMValueRef i, LLVMValueRef c[4]) {
  LLVMValueRef at = k_mul(t, k_add(t, base, i), k_i64(t, 4));
  for (int q = 0; q < 4; q++) c[q] = k_load(t, n->in[0]->dt, t->buffer(n->in[0]), k_add(t, at, k_i64(t, q)));
}

static LLVMValueRef fmin_(LLVMBuilderRef b, LLVMValueRef x, LLVMValueRef y) {
  return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, y, ""), x, y, "");
}
static LLVMValueRef fmax_(LLVMBuilderRef b, LLVMValueRef x, LLVMValueRef y) {
  return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, y, ""), x, y, "");
}

/* whether IoU(kept box a, candidate c) > thr, in torchvision's arithmetic:
 * inter / (area(a) + area(c) - inter) */
static LLVMValueRef overlaps(const KernelTarget *t, Dtype d, LLVMValueRef a[4], LLVMValueRef c[4], double thr) {
  LLVMBuilderRef b = t->s.b;
  LLVMValueRef z = fc(t, d, 0);
  LLVMValueRef w = fmax_(b, z, LLVMBuildFSub(b, fmin_(b, a[2], c[2]), fmax_(b, a[0], c[0]), ""));
  LLVMValueRef h = fmax_(b, z, LLVMBuildFSub(b, fmin_(b, a[3], c[3]), fmax_(b, a[1], c[1]), ""));
  LLVMValueRef inter = LLVMBuildFMul(b, w, h, "");
  LLVMValueRef aa = LLVMBuildFMul(b, LLVMBuildFSub(b, a[2], a[0], ""), LLVMBuildFSub(b, a[3], a[1], ""), "");
  LLVMValueRef ac = LLVMBuildFMul(b, LLVMBuildFSub(b, c[2], c[0], ""), LLVMBuildFSub(b, c[3], c[1], ""), "");
  LLVMValueRef u = LLVMBuildFSub(b, LLVMBuildFAdd(b, aa, ac, ""), inter, "");
  return LLVMBuildFCmp(b, LLVMRealOGT, LLVMBuildFDiv(b, inter, u, ""), fc(t, d, thr), "");
}

static void emit(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  const Node *bx = n->in[0];
  Dtype d = bx->dt;
  LLVMTypeRef ft = t->s.ty(d), it = t->s.ty(DT_I32);
  int64_t N = bx->sh.d[bx->sh.rank - 2].k, K = n->sh.d[n->sh.rank - 1].k;
  double thr = attr_float(n->ia[0]);
  LLVMValueRef sp = t->buffer(n->in[1]), out = t->buffer(n), set, step, j, q;
  LLVMValueRef ps = t->local(ft), pi = t->local(t->i64), bs = t->local(ft), bi = t->local(t->i64);
  LLVMValueRef count = t->local(t->i64), sup = t->local(LLVMInt1TypeInContext(LLVMGetTypeContext(t->i64)));
  void *sets = t->loop_begin(t->dim(extent(n)), true, &set);
  LLVMValueRef base = k_mul(t, set, k_i64(t, N)), obase = k_mul(t, set, k_i64(t, K));
  LLVMBuildStore(b, fc(t, d, INFINITY), ps);
  LLVMBuildStore(b, k_i64(t, -1), pi);
  LLVMBuildStore(b, k_i64(t, 0), count);
  void *steps = t->loop_begin(k_i64(t, N), false, &step);
  /* the next box in order: the best of those ranked after (ps, pi) */
  LLVMBuildStore(b, fc(t, d, -INFINITY), bs);
  LLVMBuildStore(b, k_i64(t, -1), bi);
  LLVMValueRef prs = LLVMBuildLoad2(b, ft, ps, ""), pri = LLVMBuildLoad2(b, t->i64, pi, "");
  void *scan = t->loop_begin(k_i64(t, N), false, &j);
  LLVMValueRef s = k_load(t, d, sp, k_add(t, base, j));
  LLVMValueRef after = LLVMBuildOr(b, LLVMBuildFCmp(b, LLVMRealOLT, s, prs, ""),
                                   LLVMBuildAnd(b, LLVMBuildFCmp(b, LLVMRealOEQ, s, prs, ""),
                                                LLVMBuildICmp(b, LLVMIntSGT, j, pri, ""), ""), "");
  LLVMValueRef cur = LLVMBuildLoad2(b, t->i64, bi, "");
  LLVMValueRef better = LLVMBuildOr(b, LLVMBuildICmp(b, LLVMIntSLT, cur, k_i64(t, 0), ""),
                                    LLVMBuildFCmp(b, LLVMRealOGT, s, LLVMBuildLoad2(b, ft, bs, ""), ""), "");
  LLVMValueRef take = LLVMBuildAnd(b, after, better, "");
  LLVMBuildStore(b, LLVMBuildSelect(b, take, s, LLVMBuildLoad2(b, ft, bs, ""), ""), bs);
  LLVMBuildStore(b, LLVMBuildSelect(b, take, j, cur, ""), bi);
  t->loop_end(scan);
  LLVMValueRef c = LLVMBuildLoad2(b, t->i64, bi, ""), found = LLVMBuildICmp(b, LLVMIntSGE, c, k_i64(t, 0), "");
  /* with none left, the previous position stays and nothing more is kept */
  LLVMBuildStore(b, LLVMBuildSelect(b, found, LLVMBuildLoad2(b, ft, bs, ""), prs, ""), ps);
  LLVMBuildStore(b, LLVMBuildSelect(b, found, c, pri, ""), pi);
  LLVMValueRef cb[4], kb[4];
  load_box(t, n, base, LLVMBuildSelect(b, found, c, k_i64(t, 0), ""), cb);
  LLVMValueRef valid = LLVMBuildAnd(b, LLVMBuildFCmp(b, LLVMRealOGE, cb[2], cb[0], ""),
                                    LLVMBuildFCmp(b, LLVMRealOGE, cb[3], cb[1], ""), ""); /* false for NaN */
  LLVMValueRef kept = LLVMBuildLoad2(b, t->i64, count, "");
  LLVMBuildStore(b, LLVMBuildNot(b, LLVMBuildAnd(b, LLVMBuildAnd(b, found, valid, ""),
                                                 LLVMBuildICmp(b, LLVMIntSLT, kept, k_i64(t, K), ""), ""), ""), sup);
  void *against = t->loop_begin(kept, false, &q);
  LLVMValueRef ki = LLVMBuildSExt(b, k_load(t, DT_I32, out, k_add(t, obase, q)), t->i64, "");
  load_box(t, n, base, ki, kb);
  LLVMBuildStore(b, LLVMBuildOr(b, LLVMBuildLoad2(b, LLVMTypeOf(found), sup, ""), overlaps(t, d, kb, cb, thr), ""), sup);
  t->loop_end(against);
  LLVMValueRef keep = LLVMBuildNot(b, LLVMBuildLoad2(b, LLVMTypeOf(found), sup, ""), "");
  /* a box not kept writes the slot past the result, or rewrites the last one */
  LLVMValueRef slot = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, kept, k_i64(t, K), ""), kept, k_i64(t, K - 1), "");
  LLVMValueRef old = k_load(t, DT_I32, out, k_add(t, obase, slot));
  k_store(t, DT_I32, LLVMBuildSelect(b, keep, LLVMBuildTrunc(b, c, it, ""), old, ""), out, k_add(t, obase, slot));
  LLVMBuildStore(b, k_add(t, kept, LLVMBuildZExt(b, keep, t->i64, "")), count);
  t->loop_end(steps);
  LLVMValueRef total = LLVMBuildLoad2(b, t->i64, count, "");
  void *pad = t->loop_begin(k_sub(t, k_i64(t, K), total), false, &q);
  k_store(t, DT_I32, LLVMConstInt(it, (unsigned long long)-1, 1), out, k_add(t, obase, k_add(t, total, q)));
  t->loop_end(pad);
  t->loop_end(sets);
}

const OpSpec nms_spec = {attrs, 2, build, NULL, extent, emit, false};
