/*
 * codegen/scalar.c — one element of an element-wise primitive, for either
 * backend: the SCALAR column of compiler/ops.h expanded over the helpers
 * below, which build LLVM instructions through the target's builder.
 *
 * Floating-point and integer element types take the matching instruction
 * (fadd or add, fcmp or icmp); comparisons and select test their first
 * input in its own type.  The helpers are small on purpose: a row of the
 * table reads as the formula it computes.
 */
#include "scalar.h"
#include <math.h>

typedef struct Ctx { const ScalarTarget *t; const Node *n; Dtype d, in; } Ctx;

static bool isf(Dtype d) { return d == DT_F32 || d == DT_F64; }
static LLVMValueRef cst(const Ctx *c, double v, Dtype d) {
  LLVMTypeRef t = c->t->ty(d);
  return isf(d) ? LLVMConstReal(t, v) : LLVMConstInt(t, (unsigned long long)(int64_t)v, 1);
}

#define B (c->t->b)
#define ZERO cst(c, 0, c->d)
#define ONE cst(c, 1, c->d)
#define K(v) cst(c, (v), c->d)
static LLVMValueRef s_neg_(const Ctx *c, LLVMValueRef x) { return isf(c->d) ? LLVMBuildFNeg(B, x, "") : LLVMBuildNeg(B, x, ""); }
static LLVMValueRef s_add_(const Ctx *c, LLVMValueRef x, LLVMValueRef y) { return isf(c->d) ? LLVMBuildFAdd(B, x, y, "") : LLVMBuildAdd(B, x, y, ""); }
static LLVMValueRef s_sub_(const Ctx *c, LLVMValueRef x, LLVMValueRef y) { return isf(c->d) ? LLVMBuildFSub(B, x, y, "") : LLVMBuildSub(B, x, y, ""); }
static LLVMValueRef s_mul_(const Ctx *c, LLVMValueRef x, LLVMValueRef y) { return isf(c->d) ? LLVMBuildFMul(B, x, y, "") : LLVMBuildMul(B, x, y, ""); }
static LLVMValueRef s_div_(const Ctx *c, LLVMValueRef x, LLVMValueRef y) { return isf(c->d) ? LLVMBuildFDiv(B, x, y, "") : LLVMBuildSDiv(B, x, y, ""); }
static LLVMValueRef s_sel_(const Ctx *c, LLVMValueRef k, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildSelect(B, k, x, y, ""); }
/* x > y, x < y, x >= y in the op's type (ordered for floats, signed for i32) */
static LLVMValueRef s_order_(const Ctx *c, LLVMRealPredicate fp, LLVMIntPredicate ip, LLVMValueRef x, LLVMValueRef y) {
  return isf(c->d) ? LLVMBuildFCmp(B, fp, x, y, "") : LLVMBuildICmp(B, ip, x, y, "");
}
static LLVMValueRef s_abs_(const Ctx *c, LLVMValueRef x) {
  if (isf(c->d)) return c->t->intrinsic("llvm.fabs", c->d, &x, 1);
  return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSLT, x, cst(c, 0, c->d), ""), LLVMBuildNeg(B, x, ""), x, "");
}
/* EQ NE LT LE GT GE, in the first input's type */
static LLVMValueRef s_cmp_(const Ctx *c, int i, LLVMValueRef x, LLVMValueRef y) {
  static const LLVMRealPredicate fp[] = {LLVMRealOEQ, LLVMRealUNE, LLVMRealOLT, LLVMRealOLE, LLVMRealOGT, LLVMRealOGE};
  static const LLVMIntPredicate ip[] = {LLVMIntEQ, LLVMIntNE, LLVMIntSLT, LLVMIntSLE, LLVMIntSGT, LLVMIntSGE};
  return isf(c->in) ? LLVMBuildFCmp(B, fp[i], x, y, "") : LLVMBuildICmp(B, ip[i], x, y, "");
}
static LLVMValueRef s_nonzero_(const Ctx *c, LLVMValueRef x) {
  return isf(c->in) ? LLVMBuildFCmp(B, LLVMRealUNE, x, cst(c, 0, c->in), "") : LLVMBuildICmp(B, LLVMIntNE, x, cst(c, 0, c->in), "");
}
static LLVMValueRef s_cast_(const Ctx *c, LLVMValueRef x) {
  Dtype s = c->in, d = c->d;
  LLVMTypeRef t = c->t->ty(d);
  if (isf(s) && isf(d)) return s == DT_F32 ? LLVMBuildFPExt(B, x, t, "") : LLVMBuildFPTrunc(B, x, t, "");
  if (isf(d)) return LLVMBuildSIToFP(B, x, t, "");
  if (isf(s)) return LLVMBuildFPToSI(B, x, t, "");
  return LLVMBuildIntCast2(B, x, t, 1, "");
}
static LLVMValueRef s_intr_(const Ctx *c, const char *name, LLVMValueRef x) { return c->t->intrinsic(name, c->d, &x, 1); }
static LLVMValueRef s_math_(const Ctx *c, MathFn f, LLVMValueRef x) { return c->t->math(f, c->d, &x, 1); }
static LLVMValueRef s_math2_(const Ctx *c, MathFn f, LLVMValueRef x, LLVMValueRef y) {
  LLVMValueRef v[2] = {x, y};
  return c->t->math(f, c->d, v, 2);
}
#define s_neg(x) s_neg_(c, x)
#define s_add(x, y) s_add_(c, x, y)
#define s_sub(x, y) s_sub_(c, x, y)
#define s_mul(x, y) s_mul_(c, x, y)
#define s_div(x, y) s_div_(c, x, y)
#define s_sel(k, x, y) s_sel_(c, k, x, y)
#define s_gt(x, y) s_order_(c, LLVMRealOGT, LLVMIntSGT, x, y)
#define s_lt(x, y) s_order_(c, LLVMRealOLT, LLVMIntSLT, x, y)
#define s_ge(x, y) s_order_(c, LLVMRealOGE, LLVMIntSGE, x, y)
#define s_abs(x) s_abs_(c, x)
#define s_cmp(i, x, y) s_cmp_(c, i, x, y)
#define s_nonzero(x) s_nonzero_(c, x)
#define s_cast(x) s_cast_(c, x)
#define s_intr(name, x) s_intr_(c, name, x)
#define s_math(f, x) s_math_(c, f, x)
#define s_math2(f, x, y) s_math2_(c, f, x, y)

/* one function per element-wise op, from its SCALAR column; `a` is the
 * op's attribute */
#define a (c->n->fv)
#define SCALAR(...) __VA_ARGS__
#define E(NAME, str, arity, surface, attr, flops, fold, deriv, scalar)                                            \
  static LLVMValueRef emit_##NAME(const Ctx *c, LLVMValueRef x, LLVMValueRef y, LLVMValueRef z) {               \
    (void)x, (void)y, (void)z;                                                                                   \
    return scalar;                                                                                               \
  }
NNC_EWISE_OPS(E)
#undef E
#undef a

typedef LLVMValueRef (*EmitFn)(const Ctx *, LLVMValueRef, LLVMValueRef, LLVMValueRef);
static const EmitFn emit_fn[OP__COUNT] = {
#define E(NAME, str, arity, surface, attr, flops, fold, deriv, scalar) [OP_##NAME] = emit_##NAME,
  NNC_EWISE_OPS(E)
#undef E
};

LLVMValueRef scalar_emit(const ScalarTarget *t, const Node *n, LLVMValueRef *v) {
  if (!emit_fn[n->op]) nnc_unreachable("no scalar code for '%s'", op_info[n->op].name);
  Ctx c = {t, n, n->dt, n->in[0]->dt};
  return emit_fn[n->op](&c, v[0], n->nin > 1 ? v[1] : NULL, n->nin > 2 ? v[2] : NULL);
}

void scalar_group(const ScalarTarget *t, const Group *g, int nm, LLVMValueRef *val, const char *stored,
                  const GroupEmit *e) {
  for (int i = 0; i < nm; i++) {
    const Node *n = g->nodes[i];
    LLVMValueRef v[3];
    for (int j = 0; j < n->nin; j++)
      v[j] = n->in[j]->op == OP_CONST ? e->konst(n->in[j], ewise_input_dtype(n, j)) : val[n->in[j]->id];
    val[n->id] = scalar_emit(t, n, v);
    if (stored[n->id]) e->store(n, val[n->id], e->ctx);
  }
}
