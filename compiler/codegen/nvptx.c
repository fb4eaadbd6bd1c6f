/*
 * codegen/nvptx.c — the program's kernels as PTX for NVIDIA GPUs, through
 * LLVM's NVPTX target (nvptx64-nvidia-cuda, sm_80 unless $NNC_CUDA_ARCH
 * says e.g. sm_90), plus the launch schedule the runtime walks.
 *
 * One PTX module holds every GPU kernel of the program:
 *   nnc_train_<id>, nnc_eval_<id>   one per fused group of fuse.c with
 *       more than one member or a closing reduction (emit_group: the
 *       element-wise chain in registers, members stored where
 *       Kernel.stored says; closed: one thread per output element of the
 *       reduction looping over the reduced elements in row-major order), and
 *       one per other scheduled node that computes something (element-wise,
 *       broadcast and move ops: one thread per output element in a
 *       grid-stride loop, input offsets from the flat index; reductions:
 *       one thread per output element; softmax/log_softmax/argmax: one
 *       thread per row; onehot, iota: one thread per output element;
 *       conv2d and its adjoints, pooling, unpool, gather (emit_lib): one
 *       thread per output element gathering what the CPU loops scatter, no
 *       atomics, sums in the CPU direct loops' order), and the
 *       copies into output slots the CPU kernel also makes.  Scratch
 *       buffers sit where Kernel.plan (memplan.c) puts them;
 *   nnc_opt_f32/_f64   the optimizer step, one GPU thread per element, from
 *       codegen/optim.c (the host module's copy comes from the same code),
 *       nnc_acc   the per-epoch loss/correct sums.
 * GEMMs are not generated: the schedule says "cuBLAS" and the runtime
 * calls it.  Each kernel takes (ptr bufs, i64 batch): bufs is the device
 * table of buffer addresses (runtime/cuda/schedule.h), so every launch has
 * the same two arguments.
 *
 * Transcendentals: NVPTX has no libm and libdevice is not assumed, so exp,
 * log, expm1, erf, pow are expanded here in double precision (range
 * reduction plus polynomials/series, a few ulp) and rounded to f32 where
 * the op is f32.  Memory-bound kernels do not notice the f64 arithmetic.
 *
 * With `nnc build --cuda` the PTX text and the schedule tables are added to
 * the host module and nnc_setup hands them to nnrt_cuda_program; the CPU
 * kernels stay, and `OUT train --device cuda` picks the GPU at run time.
 *
 * Not done here (yet): block-level reductions with shared memory (a
 * reduction is one thread per output element), tiled or implicit-GEMM
 * convolution (emit_lib's loops are direct and simple).
 */
#include "../nnc.h"
#include "../../runtime/include/nnrt.h"
#include "../../runtime/cuda/schedule.h"
#include "kernel.h"
#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Px {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LlvmTypes t;
  LLVMValueRef fn, batch, bufs;
} Px;

static Px px;

/* ---- small builders ------------------------------------------------------ */

static LLVMTypeRef ty(Dtype d) {
  switch (d) {
  case DT_F32: return px.t.f32;
  case DT_F64: return px.t.f64;
  case DT_I32: return px.t.i32;
  case DT_BOOL: case DT_CSR: return px.t.i8;
  case DT_FLOAT: nnc_unreachable("'float' left unresolved by lowering");
  }
  return px.t.f32;
}
static bool isf(Dtype d) { return d == DT_F32 || d == DT_F64; }
static LLVMValueRef ci64(int64_t v) { return LLVMConstInt(px.t.i64, (unsigned long long)v, 1); }
static LLVMValueRef ci32(int v) { return LLVMConstInt(px.t.i32, (unsigned long long)v, 1); }
static LLVMValueRef cd(double v) { return LLVMConstReal(px.t.f64, v); }
static LLVMValueRef cfl(double v, Dtype d) {
  return isf(d) ? LLVMConstReal(ty(d), v) : LLVMConstInt(ty(d), (unsigned long long)(int64_t)v, 1);
}
#define B px.b
static LLVMValueRef fadd(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(B, a, b, ""); }
static LLVMValueRef fsub(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(B, a, b, ""); }
static LLVMValueRef fmul(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(B, a, b, ""); }
static LLVMValueRef fdiv(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(B, a, b, ""); }
static LLVMValueRef fcmp(LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFCmp(B, p, a, b, ""); }
static LLVMValueRef sel(LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSelect(B, c, a, b, ""); }
static LLVMValueRef iadd(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(B, a, b, ""); }
static LLVMValueRef imul(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildMul(B, a, b, ""); }

static LLVMValueRef intrinsic(const char *name, LLVMTypeRef t, LLVMValueRef *args, int n) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  if (!id) nnc_unreachable("no intrinsic %s", name);
  LLVMValueRef f = LLVMGetIntrinsicDeclaration(px.mod, id, t ? &t : NULL, t ? 1 : 0);
  LLVMTypeRef ft = LLVMIntrinsicGetType(px.ctx, id, t ? &t : NULL, t ? 1 : 0);
  return LLVMBuildCall2(B, ft, f, args, (unsigned)n, "");
}
static LLVMValueRef un(const char *name, LLVMValueRef x) { return intrinsic(name, LLVMTypeOf(x), &x, 1); }
static LLVMValueRef sreg(const char *name) { return LLVMBuildZExt(B, intrinsic(name, NULL, NULL, 0), px.t.i64, ""); }

static LLVMValueRef dimval(Dim d) {
  if (d.b == 0) return ci64(d.k);
  LLVMValueRef v = px.batch;
  for (int i = 1; i < d.b; i++) v = imul(v, px.batch);
  return d.k == 1 ? v : imul(ci64(d.k), v);
}
static LLVMValueRef numel(const Shape *s) { return dimval(shape_numel(s)); }
static bool is_one(Dim d) { return d.k == 1 && d.b == 0; }

static void strides(const Shape *s, LLVMValueRef *st) {
  LLVMValueRef acc = ci64(1);
  for (int i = s->rank - 1; i >= 0; i--) {
    st[i] = acc;
    acc = imul(acc, dimval(s->d[i]));
  }
}

static LLVMValueRef gep(LLVMTypeRef t, LLVMValueRef p, LLVMValueRef off) { return LLVMBuildGEP2(B, t, p, &off, 1, ""); }
static LLVMValueRef load(Dtype d, LLVMValueRef p, LLVMValueRef off) { return LLVMBuildLoad2(B, ty(d), gep(ty(d), p, off), ""); }
static void store(Dtype d, LLVMValueRef v, LLVMValueRef p, LLVMValueRef off) { LLVMBuildStore(B, v, gep(ty(d), p, off)); }

/* A counted loop `for (i = 0; i < n; i++)` with the body at the insert point. */
typedef struct Loop { LLVMBasicBlockRef header, exit; LLVMValueRef i, step; } Loop;

static Loop loop_from(LLVMValueRef start, LLVMValueRef n, LLVMValueRef step) {
  Loop l = {.step = step};
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(B);
  l.header = LLVMAppendBasicBlockInContext(px.ctx, px.fn, "loop");
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(px.ctx, px.fn, "body");
  l.exit = LLVMAppendBasicBlockInContext(px.ctx, px.fn, "exit");
  LLVMBuildBr(B, l.header);
  LLVMPositionBuilderAtEnd(B, l.header);
  l.i = LLVMBuildPhi(B, LLVMTypeOf(start), "i");
  LLVMAddIncoming(l.i, &start, &pre, 1);
  LLVMBuildCondBr(B, LLVMBuildICmp(B, LLVMIntSLT, l.i, n, ""), body, l.exit);
  LLVMPositionBuilderAtEnd(B, body);
  return l;
}
static Loop loop_begin(LLVMValueRef n) { return loop_from(LLVMConstNull(LLVMTypeOf(n)), n, LLVMConstInt(LLVMTypeOf(n), 1, 0)); }
static void loop_end(Loop *l) {
  LLVMValueRef next = iadd(l->i, l->step);
  LLVMBasicBlockRef cur = LLVMGetInsertBlock(B);
  LLVMAddIncoming(l->i, &next, &cur, 1);
  LLVMBuildBr(B, l->header);
  LLVMPositionBuilderAtEnd(B, l->exit);
}

/* A scalar accumulator kept in a stack slot (mem2reg makes it a register). */
static LLVMValueRef var(LLVMTypeRef t, LLVMValueRef init) {
  LLVMValueRef a = k_entry_alloca(B, px.fn, t, "v");
  LLVMBuildStore(B, init, a);
  return a;
}
static LLVMValueRef get(LLVMValueRef v) { return LLVMBuildLoad2(B, LLVMGetAllocatedType(v), v, ""); }
static void set(LLVMValueRef v, LLVMValueRef x) { LLVMBuildStore(B, x, v); }

/* ---- double-precision math, one internal function each ------------------- */

static LLVMValueRef math_fn(const char *name, int nargs, LLVMValueRef *arg) {
  LLVMTypeRef ps[2] = {px.t.f64, px.t.f64};
  LLVMValueRef f = LLVMAddFunction(px.mod, name, LLVMFunctionType(px.t.f64, ps, (unsigned)nargs, 0));
  LLVMSetLinkage(f, LLVMInternalLinkage);
  px.fn = f;
  LLVMPositionBuilderAtEnd(B, LLVMAppendBasicBlockInContext(px.ctx, f, "entry"));
  for (int i = 0; i < nargs; i++) arg[i] = LLVMGetParam(f, (unsigned)i);
  return f;
}

static LLVMValueRef call_math(const char *name, LLVMValueRef *args, int n) {
  LLVMValueRef f = LLVMGetNamedFunction(px.mod, name);
  LLVMTypeRef ps[2] = {px.t.f64, px.t.f64};
  return LLVMBuildCall2(B, LLVMFunctionType(px.t.f64, ps, (unsigned)n, 0), f, args, (unsigned)n, "");
}
static LLVMValueRef m1(const char *name, LLVMValueRef x) { return call_math(name, &x, 1); }

static LLVMValueRef horner(LLVMValueRef x, const double *c, int n) { /* c[0] + c[1]x + ... */
  LLVMValueRef r = cd(c[n - 1]);
  for (int i = n - 2; i >= 0; i--) r = fadd(fmul(r, x), cd(c[i]));
  return r;
}

static LLVMValueRef pow2i(LLVMValueRef k) { /* 2^k for k in [-1022, 1023], i64 */
  return LLVMBuildBitCast(B, LLVMBuildShl(B, iadd(k, ci64(1023)), ci64(52), ""), px.t.f64, "");
}

static void emit_math(void) {
  LLVMValueRef a[2];
  double fact[20];
  fact[0] = 1;
  for (int i = 1; i < 20; i++) fact[i] = fact[i - 1] * i;
  double taylor[15];
  for (int i = 0; i < 15; i++) taylor[i] = 1 / fact[i];
  const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;

  /* exp: x = n ln2 + r, |r| <= ln2/2, e^r by Taylor to r^14, times 2^n */
  math_fn("nnc_exp", 1, a);
  {
    LLVMValueRef x = a[0], xs = sel(fcmp(LLVMRealORD, x, x), x, cd(0));
    xs = sel(fcmp(LLVMRealOGT, xs, cd(710)), cd(710), sel(fcmp(LLVMRealOLT, xs, cd(-746)), cd(-746), xs));
    LLVMValueRef n = un("llvm.rint", fmul(xs, cd(M_LOG2E)));
    LLVMValueRef r = fsub(fsub(xs, fmul(n, cd(ln2hi))), fmul(n, cd(ln2lo)));
    LLVMValueRef p = horner(r, taylor, 15);
    LLVMValueRef ni = LLVMBuildFPToSI(B, n, px.t.i64, ""), h = LLVMBuildSDiv(B, ni, ci64(2), "");
    LLVMValueRef y = fmul(fmul(p, pow2i(h)), pow2i(LLVMBuildSub(B, ni, h, "")));
    y = sel(fcmp(LLVMRealOGT, x, cd(709.782712893384)), cd(INFINITY), y);
    y = sel(fcmp(LLVMRealOLT, x, cd(-745.2)), cd(0), y);
    LLVMBuildRet(B, sel(fcmp(LLVMRealUNO, x, x), x, y));
  }
  /* expm1: Taylor for |x| < 0.5 (no cancellation), exp(x) - 1 beyond */
  math_fn("nnc_expm1", 1, a);
  {
    LLVMValueRef x = a[0];
    LLVMValueRef small = fmul(x, horner(x, taylor + 1, 14));
    LLVMValueRef big = fsub(m1("nnc_exp", x), cd(1));
    LLVMBuildRet(B, sel(fcmp(LLVMRealOLT, un("llvm.fabs", x), cd(0.5)), small, big));
  }
  /* log: x = m 2^e, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1) */
  math_fn("nnc_log", 1, a);
  {
    LLVMValueRef x = a[0];
    LLVMValueRef sub = fcmp(LLVMRealOLT, x, cd(2.2250738585072014e-308));
    LLVMValueRef xn = sel(sub, fmul(x, cd(18014398509481984.0)), x); /* 2^54 */
    LLVMValueRef bits = LLVMBuildBitCast(B, xn, px.t.i64, "");
    LLVMValueRef e = LLVMBuildSub(B, LLVMBuildAnd(B, LLVMBuildLShr(B, bits, ci64(52), ""), ci64(0x7ff), ""), ci64(1023), "");
    e = sel(sub, LLVMBuildSub(B, e, ci64(54), ""), e);
    LLVMValueRef m = LLVMBuildBitCast(B, LLVMBuildOr(B, LLVMBuildAnd(B, bits, ci64(0x000fffffffffffffLL), ""), ci64(0x3ff0000000000000LL), ""), px.t.f64, "");
    LLVMValueRef big = fcmp(LLVMRealOGT, m, cd(M_SQRT2));
    m = sel(big, fmul(m, cd(0.5)), m);
    e = sel(big, iadd(e, ci64(1)), e);
    LLVMValueRef s = fdiv(fsub(m, cd(1)), fadd(m, cd(1))), s2 = fmul(s, s);
    double c[12];
    for (int i = 0; i < 12; i++) c[i] = 1.0 / (2 * i + 1);
    LLVMValueRef lm = fmul(fmul(cd(2), s), horner(s2, c, 12));
    LLVMValueRef ef = LLVMBuildSIToFP(B, e, px.t.f64, "");
    LLVMValueRef y = fadd(fmul(ef, cd(ln2hi)), fadd(fmul(ef, cd(ln2lo)), lm));
    y = sel(fcmp(LLVMRealOEQ, x, cd(INFINITY)), x, y);
    y = sel(fcmp(LLVMRealOEQ, x, cd(0)), cd(-INFINITY), y);
    y = sel(fcmp(LLVMRealOLT, x, cd(0)), cd(NAN), y);
    LLVMBuildRet(B, sel(fcmp(LLVMRealUNO, x, x), x, y));
  }
  /* log1p(z) = log(u) * z / (u - 1), u = 1 + z (exact where u != 1) */
  math_fn("nnc_log1p", 1, a);
  {
    LLVMValueRef z = a[0], u = fadd(cd(1), z), d = fsub(u, cd(1));
    LLVMValueRef y = fdiv(fmul(m1("nnc_log", u), z), d);
    y = sel(fcmp(LLVMRealOEQ, d, cd(0)), z, y);
    LLVMBuildRet(B, sel(fcmp(LLVMRealOEQ, u, cd(INFINITY)), u, y));
  }
  /* tanh(x) = sign(x) t / (t + 2), t = expm1(2|x|) */
  math_fn("nnc_tanh", 1, a);
  {
    LLVMValueRef x = a[0], ax = un("llvm.fabs", x);
    LLVMValueRef t = m1("nnc_expm1", fmul(cd(2), ax));
    LLVMValueRef y = sel(fcmp(LLVMRealOGT, ax, cd(22)), cd(1), fdiv(t, fadd(t, cd(2))));
    LLVMBuildRet(B, intrinsic("llvm.copysign", px.t.f64, (LLVMValueRef[]){y, x}, 2));
  }
  /* erf: Maclaurin series for |x| < 2 (60 terms), 1 - erfc by its continued
   * fraction (depth 60, evaluated backwards) beyond */
  math_fn("nnc_erf", 1, a);
  {
    LLVMValueRef x = a[0], ax = un("llvm.fabs", x), x2 = fmul(x, x);
    LLVMValueRef sum = var(px.t.f64, cd(0)), term = var(px.t.f64, x);
    Loop l = loop_begin(ci64(60));
    LLVMValueRef nf = LLVMBuildSIToFP(B, l.i, px.t.f64, "");
    set(sum, fadd(get(sum), fdiv(get(term), fadd(fmul(cd(2), nf), cd(1)))));
    set(term, fdiv(fmul(LLVMBuildFNeg(B, get(term), ""), x2), fadd(nf, cd(1))));
    loop_end(&l);
    LLVMValueRef series = fmul(get(sum), cd(M_2_SQRTPI));
    LLVMValueRef k = var(px.t.f64, ax);
    Loop c = loop_begin(ci64(60));
    LLVMValueRef n = LLVMBuildSIToFP(B, LLVMBuildSub(B, ci64(60), c.i, ""), px.t.f64, "");
    set(k, fadd(ax, fdiv(fmul(n, cd(0.5)), get(k))));
    loop_end(&c);
    LLVMValueRef erfc = fdiv(fmul(m1("nnc_exp", LLVMBuildFNeg(B, x2, "")), cd(0.5 * M_2_SQRTPI)), get(k));
    LLVMValueRef tail = fsub(cd(1), erfc);
    tail = sel(fcmp(LLVMRealOLT, x, cd(0)), LLVMBuildFNeg(B, tail, ""), tail);
    LLVMValueRef y = sel(fcmp(LLVMRealOLT, ax, cd(2)), series, tail);
    LLVMBuildRet(B, sel(fcmp(LLVMRealUNO, x, x), x, y));
  }
  /* sin, cos: x = k pi/2 + r (three-part Cody-Waite), |r| <= pi/4, Taylor
   * polynomials to r^19 / r^18, the quadrant k mod 4 picking +-sin r or
   * +-cos r; cos(x) is sin with the quadrant shifted by one */
  for (int c = 0; c < 2; c++) {
    math_fn(c ? "nnc_cos" : "nnc_sin", 1, a);
    LLVMValueRef x = a[0], fin = fcmp(LLVMRealOLT, un("llvm.fabs", x), cd(1e18));
    LLVMValueRef xs = sel(fin, x, cd(0));
    LLVMValueRef kf = un("llvm.rint", fmul(xs, cd(M_2_PI)));
    LLVMValueRef r = fsub(xs, fmul(kf, cd(1.57079632673412561417e+00)));
    r = fsub(r, fmul(kf, cd(6.07710050630396597660e-11)));
    r = fsub(r, fmul(kf, cd(2.02226624871116645580e-21)));
    LLVMValueRef r2 = fmul(r, r);
    double sc[10], cc[10];
    for (int j = 0; j < 10; j++) {
      sc[j] = (j & 1 ? -1.0 : 1.0) / fact[2 * j + 1];
      cc[j] = (j & 1 ? -1.0 : 1.0) / fact[2 * j];
    }
    LLVMValueRef sv = fmul(r, horner(r2, sc, 10)), cv = horner(r2, cc, 10);
    LLVMValueRef q = LLVMBuildAnd(B, iadd(LLVMBuildFPToSI(B, kf, px.t.i64, ""), ci64(c)), ci64(3), "");
    LLVMValueRef odd = LLVMBuildICmp(B, LLVMIntEQ, LLVMBuildAnd(B, q, ci64(1), ""), ci64(1), "");
    LLVMValueRef neg = LLVMBuildICmp(B, LLVMIntUGE, q, ci64(2), "");
    LLVMValueRef y = sel(odd, cv, sv);
    y = sel(neg, LLVMBuildFNeg(B, y, ""), y);
    LLVMBuildRet(B, sel(fin, y, cd(NAN)));
  }
  /* pow(a, b) = exp(b log|a|), with the sign of an odd integer power and
   * pow(a, 0) = 1 */
  math_fn("nnc_pow", 2, a);
  {
    LLVMValueRef x = a[0], y = a[1];
    LLVMValueRef r = m1("nnc_exp", fmul(y, m1("nnc_log", un("llvm.fabs", x))));
    LLVMValueRef integer = fcmp(LLVMRealOEQ, un("llvm.floor", y), y);
    LLVMValueRef half = fmul(y, cd(0.5));
    LLVMValueRef odd = LLVMBuildAnd(B, integer, fcmp(LLVMRealONE, un("llvm.floor", half), half), "");
    LLVMValueRef neg = sel(odd, LLVMBuildFNeg(B, r, ""), r);
    r = sel(fcmp(LLVMRealOLT, x, cd(0)), sel(integer, neg, cd(NAN)), r);
    LLVMBuildRet(B, sel(fcmp(LLVMRealOEQ, y, cd(0)), cd(1), r));
  }
}

/* f(x) in double, returned in x's type */
static LLVMValueRef via_f64(const char *fn, LLVMValueRef *v, int n, Dtype d) {
  LLVMValueRef w[2];
  for (int i = 0; i < n; i++) w[i] = d == DT_F32 ? LLVMBuildFPExt(B, v[i], px.t.f64, "") : v[i];
  LLVMValueRef r = call_math(fn, w, n);
  return d == DT_F32 ? LLVMBuildFPTrunc(B, r, px.t.f32, "") : r;
}
static LLVMValueRef m_unary(const char *fn, LLVMValueRef x, Dtype d) { return via_f64(fn, &x, 1, d); }

/* NVPTX has no libm: every math function is one of emit_math's, in double
 * precision (see the file comment). */
static LLVMValueRef gpu_math(MathFn f, Dtype d, LLVMValueRef *v, int n) {
  static const char *names[] = {[M_EXP] = "nnc_exp", [M_LOG] = "nnc_log", [M_LOG1P] = "nnc_log1p",
                                [M_TANH] = "nnc_tanh", [M_ERF] = "nnc_erf", [M_SIN] = "nnc_sin",
                                [M_COS] = "nnc_cos", [M_POW] = "nnc_pow"};
  return via_f64(names[f], v, n, d);
}
static LLVMValueRef gpu_intrinsic(const char *name, Dtype d, LLVMValueRef *args, int n) {
  return intrinsic(name, ty(d), args, n);
}

/* The scalar computation of an element-wise op (codegen/scalar.c). */
static LLVMValueRef scalar(const Node *n, LLVMValueRef *v) {
  ScalarTarget t = {B, ty, gpu_intrinsic, gpu_math};
  return scalar_emit(&t, n, v);
}

/* ---- buffer plan (mirrors plan() in codegen/llvm.c) ---------------------- */

typedef struct Plan {
  int *buf;            /* node id -> buffer index, -1: none (folded constant, a view) */
  const char *view;    /* Kernel.view: slices fused loops read in place */
  int64_t *bufs;       /* NNRT_CUDA_BUF_WORDS per buffer */
  int nbufs, capbufs;
  int64_t *steps;      /* NNRT_CUDA_STEP_WORDS per step */
  int nsteps, capsteps;
  int64_t totalB, total0; /* Kernel.plan's scratch block: totalB*B + total0 bytes */
  LLVMValueRef *val, *optr; /* by node id, for emit_group: one per kernel, not per group */
  char *seen;
} Plan;

static int add_buf(Plan *pl, int64_t slot, Dim n, int ds) {
  if (pl->nbufs == pl->capbufs) {
    pl->capbufs = pl->capbufs ? 2 * pl->capbufs : 32;
    int64_t *nb = arena_alloc(sizeof(int64_t) * NNRT_CUDA_BUF_WORDS * pl->capbufs);
    if (pl->nbufs) memcpy(nb, pl->bufs, sizeof(int64_t) * NNRT_CUDA_BUF_WORDS * pl->nbufs);
    pl->bufs = nb;
  }
  int64_t *w = pl->bufs + NNRT_CUDA_BUF_WORDS * pl->nbufs;
  w[NNRT_CUDA_BUF_SLOT] = slot;
  w[NNRT_CUDA_BUF_K] = n.k;
  w[NNRT_CUDA_BUF_B] = n.b;
  w[NNRT_CUDA_BUF_DSIZE] = ds;
  return pl->nbufs++;
}

static int64_t *add_step(Plan *pl, int kind) {
  if (pl->nsteps == pl->capsteps) {
    pl->capsteps = pl->capsteps ? 2 * pl->capsteps : 64;
    int64_t *ns = arena_alloc(sizeof(int64_t) * NNRT_CUDA_STEP_WORDS * pl->capsteps);
    if (pl->nsteps) memcpy(ns, pl->steps, sizeof(int64_t) * NNRT_CUDA_STEP_WORDS * pl->nsteps);
    pl->steps = ns;
  }
  int64_t *w = pl->steps + NNRT_CUDA_STEP_WORDS * pl->nsteps++;
  w[NNRT_CUDA_STEP_KIND] = kind;
  w[NNRT_CUDA_STEP_ID] = pl->nsteps - 1;
  return w;
}

static int slot_buf(Plan *pl, int slot) {
  for (int i = 0; i < pl->nbufs; i++)
    if (pl->bufs[NNRT_CUDA_BUF_WORDS * i + NNRT_CUDA_BUF_SLOT] == slot) return i;
  return add_buf(pl, slot, (Dim){0, 0}, 0);
}


/* Buffers: slots for leaves and outputs computed in place, aliases for
 * reshapes, Kernel.plan's offsets (memplan.c) for the scratch values fusion
 * leaves in memory, nothing for members of a fused group that stay in
 * registers, and an own buffer for anything else the GPU needs. */
static void plan_kernel(Kernel *k, Plan *pl) {
  int cap = graph_node_count() + 1;
  pl->buf = arena_alloc(sizeof(int) * cap);
  pl->val = arena_alloc(sizeof(LLVMValueRef) * cap);
  pl->optr = arena_alloc(sizeof(LLVMValueRef) * cap);
  pl->seen = arena_alloc(cap);
  int *out_slot = kernel_out_slots(k);
  for (int i = 0; i < cap; i++) pl->buf[i] = -1;
  pl->view = k->view;
  char *need = k->needs_mem;
  char *in_reg = arena_alloc(cap); /* members of a fused loop that stay in registers */
  for (int g = 0; g < k->ngroups; g++) {
    const Group *gr = &k->groups[g];
    if (gr->fused && (gr->n > 1 || gr->closed))
      for (int j = 0; j < gr->n; j++) in_reg[gr->nodes[j]->id] = !k->stored[gr->nodes[j]->id];
  }
  const MemPlan *mp = k->plan;
  pl->totalB = mp ? mp->totalB : 0;
  pl->total0 = mp ? mp->total0 : 0;
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    if (n->op == OP_CONST && !need[n->id]) continue;
    if (n->op == OP_PARAM || n->op == OP_STATE || n->op == OP_INPUT || out_slot[n->id] >= 0) {
      int s = n->slot >= 0 && op_info[n->op].kind == OK_LEAF ? n->slot : out_slot[n->id];
      pl->buf[n->id] = slot_buf(pl, s);
      continue;
    }
    if (n->op == OP_RESHAPE && n->in[0]->op != OP_CONST) {
      pl->buf[n->id] = pl->buf[n->in[0]->id];
      continue;
    }
    if (in_reg[n->id] || (k->view && k->view[n->id])) continue;
    if (mp && mp->arena[n->id]) { /* K: offset, B: arena (1 batch, 2 fixed) */
      pl->buf[n->id] = add_buf(pl, NNRT_CUDA_BUF_PLANNED, (Dim){mp->off[n->id], mp->arena[n->id]}, 0);
      continue;
    }
    int es = n->op == OP_MAXPOOL || n->op == OP_POOLIDX ? 16 : dtype_bytes(n->dt); /* values and indices */
    pl->buf[n->id] = add_buf(pl, NNRT_CUDA_BUF_OWN, shape_numel(&n->sh), es);
  }
}

/* ---- kernels ------------------------------------------------------------- */

static LLVMValueRef begin_fn(const char *name, LLVMTypeRef *ps, int n) {
  LLVMValueRef f = LLVMAddFunction(px.mod, name, LLVMFunctionType(px.t.vd, ps, (unsigned)n, 0));
  LLVMMetadataRef md[] = {LLVMValueAsMetadata(f), LLVMMDStringInContext2(px.ctx, "kernel", 6),
                          LLVMValueAsMetadata(ci32(1))};
  LLVMAddNamedMetadataOperand(px.mod, "nvvm.annotations", LLVMMetadataAsValue(px.ctx, LLVMMDNodeInContext2(px.ctx, md, 3)));
  px.fn = f;
  LLVMPositionBuilderAtEnd(B, LLVMAppendBasicBlockInContext(px.ctx, f, "entry"));
  return f;
}

static void begin_kernel(const char *name) {
  LLVMTypeRef ps[] = {px.t.ptr, px.t.i64};
  LLVMValueRef f = begin_fn(name, ps, 2);
  px.bufs = LLVMGetParam(f, 0);
  px.batch = LLVMGetParam(f, 1);
}

static LLVMValueRef bufptr(Plan *pl, const Node *x) {
  int b = pl->buf[x->id];
  if (b < 0) nnc_unreachable("node %%%d has no GPU buffer", x->id);
  return LLVMBuildLoad2(B, px.t.ptr, gep(px.t.ptr, px.bufs, ci64(b)), "buf");
}

/* Grid-stride loop over [0, n): the body goes at the insert point. */
static Loop grid_loop(LLVMValueRef n) {
  LLVMValueRef tid = sreg("llvm.nvvm.read.ptx.sreg.tid.x"), ctaid = sreg("llvm.nvvm.read.ptx.sreg.ctaid.x");
  LLVMValueRef ntid = sreg("llvm.nvvm.read.ptx.sreg.ntid.x"), nctaid = sreg("llvm.nvvm.read.ptx.sreg.nctaid.x");
  return loop_from(iadd(imul(ctaid, ntid), tid), n, imul(ntid, nctaid));
}

/* Multi-index of flat index i in shape sh (row-major). */
static void unflatten(LLVMValueRef i, const Shape *sh, LLVMValueRef *idx) {
  LLVMValueRef rem = i;
  for (int d = sh->rank - 1; d >= 0; d--) {
    if (is_one(sh->d[d])) { idx[d] = ci64(0); continue; }
    if (d == 0) { idx[d] = rem; break; }
    LLVMValueRef dim = dimval(sh->d[d]);
    idx[d] = LLVMBuildURem(B, rem, dim, "");
    rem = LLVMBuildUDiv(B, rem, dim, "");
  }
}

static LLVMValueRef dot(LLVMValueRef *idx, LLVMValueRef *st, int rank, LLVMValueRef base) {
  LLVMValueRef off = base ? base : ci64(0);
  for (int d = 0; d < rank; d++)
    if (st[d]) off = iadd(off, imul(idx[d], st[d]));
  return off;
}

typedef struct Operand { LLVMValueRef ptr, st[MAX_RANK], cval; Dtype dt; } Operand;

static LLVMValueRef const_value(const Node *c, Dtype d) {
  LLVMValueRef v = cfl(c->fv, isf(d) ? d : DT_F64);
  if (c->bpow == 0) return isf(d) ? v : LLVMConstInt(ty(d), (unsigned long long)(int64_t)c->fv, 1);
  LLVMValueRef bf = LLVMBuildSIToFP(B, px.batch, ty(d), "");
  for (int i = 0; i < abs(c->bpow); i++) v = c->bpow > 0 ? fmul(v, bf) : fdiv(v, bf);
  return v;
}

/* Operand reading x broadcast (right-aligned) into shape sh; NULL strides
 * are broadcast dims. */
static Operand operand(Plan *pl, const Node *x, const Shape *sh, Dtype want) {
  Operand o = {.dt = x->dt};
  if (x->op == OP_CONST) {
    o.cval = const_value(x, want);
    o.dt = want;
    return o;
  }
  if (pl->view && pl->view[x->id] && x->op == OP_BROADCAST) /* its input, broadcast further */
    return operand(pl, x->in[0], sh, want);
  LLVMValueRef st[MAX_RANK];
  if (pl->view && pl->view[x->id]) { /* a slice read in place: its input's strides, from its first element */
    strides(&x->in[0]->sh, st);
    LLVMValueRef first = ci64(0);
    for (int d = 0; d < x->sh.rank; d++)
      if (x->ia[d]) first = LLVMBuildAdd(B, first, LLVMBuildMul(B, ci64(x->ia[d]), st[d], ""), "");
    o.ptr = gep(ty(x->dt), bufptr(pl, x->in[0]), first);
  } else {
    o.ptr = bufptr(pl, x);
    strides(&x->sh, st);
  }
  int off = sh->rank - x->sh.rank;
  for (int d = 0; d < sh->rank; d++) {
    int j = d - off;
    bool bcast = j < 0 || (is_one(x->sh.d[j]) && !is_one(sh->d[d]));
    o.st[d] = bcast ? NULL : st[j];
  }
  return o;
}

static LLVMValueRef read(Operand *o, LLVMValueRef *idx, int rank) {
  return o->cval ? o->cval : load(o->dt, o->ptr, dot(idx, o->st, rank, NULL));
}

static void set_threads(int64_t *w, Dim n) {
  w[NNRT_CUDA_STEP_NK] = n.k;
  w[NNRT_CUDA_STEP_NB] = n.b;
}

static const char *step_name(Kernel *k, int64_t *w) { return arena_printf("nnc_%s_%lld", k->name, (long long)w[NNRT_CUDA_STEP_ID]); }

/* out[i] = v for i < numel(sh) */
static void emit_fill(Kernel *k, Plan *pl, int buf, const Shape *sh, Dtype d, const Node *c) {
  int64_t *w = add_step(pl, NNRT_CUDA_KERNEL);
  set_threads(w, shape_numel(sh));
  begin_kernel(step_name(k, w));
  LLVMValueRef out = LLVMBuildLoad2(B, px.t.ptr, gep(px.t.ptr, px.bufs, ci64(buf)), "buf");
  LLVMValueRef v = c ? const_value(c, d) : cfl(0, d);
  Loop l = grid_loop(numel(sh));
  store(d, v, out, l.i);
  loop_end(&l);
  LLVMBuildRetVoid(B);
}

/* Elements between two matrices of x in a batched product (0: the same
 * matrix for every product, as g_matmul arranged). */
static Dim gemm_stride(const Node *x) {
  Shape b = x->sh, mat = x->sh;
  b.rank -= 2;
  Dim nb = shape_numel(&b);
  if (nb.k == 1 && nb.b == 0) return (Dim){0, 0};
  mat.d[0] = x->sh.d[x->sh.rank - 2], mat.d[1] = x->sh.d[x->sh.rank - 1], mat.rank = 2;
  return shape_numel(&mat);
}

/* C = op(A) op(B) through cuBLAS; a result of rank > 2 is a strided batch
 * ([..., m, k] @ [..., k, n]), one GEMM of the batch per matrix of C. */
static void emit_gemm(Plan *pl, const Node *n) {
  Node *a = n->in[0], *bb = n->in[1];
  int ta = (int)n->ia[0], tb = (int)n->ia[1], r = n->sh.rank, ra = a->sh.rank, rb = bb->sh.rank;
  int64_t *w = add_step(pl, NNRT_CUDA_GEMM);
  Dim K = a->sh.d[ta ? ra - 2 : ra - 1];
  Shape batch = n->sh;
  batch.rank -= 2;
  Dim cnt = shape_numel(&batch), sa = gemm_stride(a), sb = gemm_stride(bb);
  w[NNRT_CUDA_STEP_DT] = n->dt == DT_F64 ? NNRT_F64 : NNRT_F32;
  w[NNRT_CUDA_STEP_TA] = ta;
  w[NNRT_CUDA_STEP_TB] = tb;
  w[NNRT_CUDA_STEP_MK] = n->sh.d[r - 2].k, w[NNRT_CUDA_STEP_MB] = n->sh.d[r - 2].b;
  w[NNRT_CUDA_STEP_GNK] = n->sh.d[r - 1].k, w[NNRT_CUDA_STEP_GNB] = n->sh.d[r - 1].b;
  w[NNRT_CUDA_STEP_KK] = K.k, w[NNRT_CUDA_STEP_KB] = K.b;
  w[NNRT_CUDA_STEP_LDAK] = a->sh.d[ra - 1].k, w[NNRT_CUDA_STEP_LDAB] = a->sh.d[ra - 1].b;
  w[NNRT_CUDA_STEP_LDBK] = bb->sh.d[rb - 1].k, w[NNRT_CUDA_STEP_LDBB] = bb->sh.d[rb - 1].b;
  w[NNRT_CUDA_STEP_A] = pl->buf[a->id];
  w[NNRT_CUDA_STEP_B] = pl->buf[bb->id];
  w[NNRT_CUDA_STEP_C] = pl->buf[n->id];
  w[NNRT_CUDA_STEP_CNTK] = cnt.k, w[NNRT_CUDA_STEP_CNTB] = cnt.b;
  w[NNRT_CUDA_STEP_SAK] = sa.k, w[NNRT_CUDA_STEP_SAB] = sa.b;
  w[NNRT_CUDA_STEP_SBK] = sb.k, w[NNRT_CUDA_STEP_SBB] = sb.b;
}

static void emit_row(const Node *n, LLVMValueRef in, LLVMValueRef out, LLVMValueRef r) {
  Dtype d = n->dt;
  LLVMValueRef last = dimval(n->sh.d[n->sh.rank - 1]);
  LLVMValueRef base = imul(r, last);
  LLVMValueRef pi = gep(ty(d), in, base), po = gep(ty(d), out, base);
  LLVMValueRef acc = var(ty(d), cfl(-INFINITY, d));
  Loop l1 = loop_begin(last);
  LLVMValueRef x = load(d, pi, l1.i), m = get(acc);
  set(acc, sel(fcmp(LLVMRealOGT, x, m), x, m));
  loop_end(&l1);
  LLVMValueRef mx = get(acc);
  set(acc, cfl(0, d));
  Loop l2 = loop_begin(last);
  LLVMValueRef e = m_unary("nnc_exp", fsub(load(d, pi, l2.i), mx), d);
  if (n->op == OP_SOFTMAX) store(d, e, po, l2.i);
  set(acc, fadd(get(acc), e));
  loop_end(&l2);
  LLVMValueRef s = get(acc), ls = n->op == OP_SOFTMAX ? NULL : m_unary("nnc_log", s, d);
  Loop l3 = loop_begin(last);
  LLVMValueRef y = n->op == OP_SOFTMAX ? fdiv(load(d, po, l3.i), s) : fsub(fsub(load(d, pi, l3.i), mx), ls);
  store(d, y, po, l3.i);
  loop_end(&l3);
}

/* ---- convolution and pooling (the runtime's LIB ops of runtime/cpu/conv.c
 * and pool.c): one thread per output element, gathering what the CPU loops
 * scatter, so there are no atomics and every sum runs in a fixed order
 * (for the adjoints, the order in which the CPU's direct loops add). ---- */

static LLVMValueRef ult(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(B, LLVMIntULT, a, b, ""); }
static LLVMValueRef band(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAnd(B, a, b, ""); }
static LLVMValueRef isub(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSub(B, a, b, ""); }
static LLVMValueRef idiv(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSDiv(B, a, b, ""); }
static LLVMValueRef irem(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSRem(B, a, b, ""); }
static LLVMValueRef ieq(LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(B, LLVMIntEQ, a, b, ""); }

/* The output position o with o*s - p + k*dil == i, and whether there is one
 * inside [0, n). */
static LLVMValueRef back_pos(LLVMValueRef i, LLVMValueRef k, int64_t s, int64_t p, int64_t dil, LLVMValueRef n, LLVMValueRef *ok) {
  LLVMValueRef t = isub(iadd(i, ci64(p)), imul(k, ci64(dil)));
  LLVMValueRef o = idiv(t, ci64(s));
  *ok = band(ieq(irem(t, ci64(s)), ci64(0)), ult(o, n));
  return o;
}

static void emit_lib(Kernel *k, Plan *pl, const Node *n) {
  int64_t *w = add_step(pl, NNRT_CUDA_KERNEL);
  set_threads(w, shape_numel(&n->sh));
  begin_kernel(step_name(k, w));
  Op op = n->op;
  Dtype d = op == OP_POOLIDX ? n->in[0]->dt : n->dt;
  LLVMValueRef out = bufptr(pl, n), a = bufptr(pl, n->in[0]), b = n->nin > 1 ? bufptr(pl, n->in[1]) : NULL;
  LLVMValueRef zero = cfl(0, d);
  const int64_t *ia = n->ia;
  Loop l = grid_loop(numel(&n->sh));
  LLVMValueRef i = l.i;
  if (op == OP_CONV2D || op == OP_CONV2D_BWD_DATA || op == OP_CONV2D_BWD_WEIGHTS) {
    const Shape *xs = op == OP_CONV2D_BWD_DATA ? &n->sh : &n->in[0]->sh;
    const Shape *ws = op == OP_CONV2D_BWD_WEIGHTS ? &n->sh : &n->in[1]->sh;
    const Shape *ys = op == OP_CONV2D ? &n->sh : op == OP_CONV2D_BWD_DATA ? &n->in[0]->sh : &n->in[1]->sh;
    LLVMValueRef N = dimval(xs->d[0]), C = dimval(xs->d[1]), H = dimval(xs->d[2]), W = dimval(xs->d[3]);
    LLVMValueRef O = dimval(ws->d[0]), KH = dimval(ws->d[2]), KW = dimval(ws->d[3]), OH = dimval(ys->d[2]), OW = dimval(ys->d[3]);
    int64_t sh = ia[0], sw = ia[1], ph = ia[2], pw = ia[3], dh = ia[4], dw = ia[5], G = ia[6];
    LLVMValueRef cg = idiv(C, ci64(G)), og = idiv(O, ci64(G));
    LLVMValueRef acc = var(ty(d), zero);
    if (op == OP_CONV2D) { /* y[b, oc, oy, ox] */
      LLVMValueRef ox = irem(i, OW), t = idiv(i, OW), oy = irem(t, OH);
      t = idiv(t, OH);
      LLVMValueRef oc = irem(t, O), bb = idiv(t, O), c0 = imul(idiv(oc, og), cg);
      Loop lc = loop_begin(cg);
      Loop ly = loop_begin(KH);
      LLVMValueRef iy = iadd(isub(imul(oy, ci64(sh)), ci64(ph)), imul(ly.i, ci64(dh)));
      Loop lx = loop_begin(KW);
      LLVMValueRef ix = iadd(isub(imul(ox, ci64(sw)), ci64(pw)), imul(lx.i, ci64(dw)));
      LLVMValueRef ok = band(ult(iy, H), ult(ix, W));
      LLVMValueRef xo = iadd(imul(iadd(imul(iadd(imul(bb, C), iadd(c0, lc.i)), H), iy), W), ix);
      LLVMValueRef wo = iadd(imul(iadd(imul(iadd(imul(oc, cg), lc.i), KH), ly.i), KW), lx.i);
      LLVMValueRef pr = fmul(load(d, a, sel(ok, xo, ci64(0))), load(d, b, wo));
      set(acc, fadd(get(acc), sel(ok, pr, zero)));
      loop_end(&lx);
      loop_end(&ly);
      loop_end(&lc);
    } else if (op == OP_CONV2D_BWD_DATA) { /* dx[b, c, iy, ix]: filters of c's group, (oy, ox) ascending */
      LLVMValueRef ix = irem(i, W), t = idiv(i, W), iy = irem(t, H);
      t = idiv(t, H);
      LLVMValueRef c = irem(t, C), bb = idiv(t, C), gi = idiv(c, cg), cl = isub(c, imul(gi, cg));
      Loop lq = loop_begin(og);
      LLVMValueRef oc = iadd(imul(gi, og), lq.i);
      Loop ly = loop_begin(KH);
      LLVMValueRef ky = isub(isub(KH, ci64(1)), ly.i), oky, okx;
      LLVMValueRef oy = back_pos(iy, ky, sh, ph, dh, OH, &oky);
      Loop lx = loop_begin(KW);
      LLVMValueRef kx = isub(isub(KW, ci64(1)), lx.i);
      LLVMValueRef ox = back_pos(ix, kx, sw, pw, dw, OW, &okx);
      LLVMValueRef ok = band(oky, okx);
      LLVMValueRef yo = iadd(imul(iadd(imul(iadd(imul(bb, O), oc), OH), oy), OW), ox);
      LLVMValueRef wo = iadd(imul(iadd(imul(iadd(imul(oc, cg), cl), KH), ky), KW), kx);
      LLVMValueRef pr = fmul(load(d, a, sel(ok, yo, ci64(0))), load(d, b, wo));
      set(acc, fadd(get(acc), sel(ok, pr, zero)));
      loop_end(&lx);
      loop_end(&ly);
      loop_end(&lq);
    } else { /* dw[oc, ic, ky, kx]: over b, oy, ox */
      LLVMValueRef kx = irem(i, KW), t = idiv(i, KW), ky = irem(t, KH);
      t = idiv(t, KH);
      LLVMValueRef ic = irem(t, cg), oc = idiv(t, cg), c = iadd(imul(idiv(oc, og), cg), ic);
      Loop lb = loop_begin(N);
      Loop ly = loop_begin(OH);
      LLVMValueRef iy = iadd(isub(imul(ly.i, ci64(sh)), ci64(ph)), imul(ky, ci64(dh)));
      Loop lx = loop_begin(OW);
      LLVMValueRef ix = iadd(isub(imul(lx.i, ci64(sw)), ci64(pw)), imul(kx, ci64(dw)));
      LLVMValueRef ok = band(ult(iy, H), ult(ix, W));
      LLVMValueRef yo = iadd(imul(iadd(imul(iadd(imul(lb.i, O), oc), OH), ly.i), OW), lx.i);
      LLVMValueRef xo = iadd(imul(iadd(imul(iadd(imul(lb.i, C), c), H), iy), W), ix);
      LLVMValueRef pr = fmul(load(d, b, yo), load(d, a, sel(ok, xo, ci64(0))));
      set(acc, fadd(get(acc), sel(ok, pr, zero)));
      loop_end(&lx);
      loop_end(&ly);
      loop_end(&lb);
    }
    store(d, get(acc), out, i);
  } else {
    bool big_out = op == OP_UNPOOL || op == OP_AVGPOOL_BWD;
    const Shape *big = big_out ? &n->sh : &n->in[0]->sh, *small = big_out ? &n->in[0]->sh : &n->sh;
    LLVMValueRef H = dimval(big->d[2]), W = dimval(big->d[3]), OH = dimval(small->d[2]), OW = dimval(small->d[3]);
    int64_t kh = ia[0], kw = ia[1], sh = ia[2], sw = ia[3], ph = ia[4], pw = ia[5];
    LLVMValueRef scale = fdiv(cfl(1, d), cfl((double)(kh * kw), d));
    if (!big_out) { /* one thread per window (p, oy, ox) */
      LLVMValueRef ox = irem(i, OW), t = idiv(i, OW), oy = irem(t, OH), p = idiv(t, OH);
      LLVMValueRef xp = imul(p, imul(H, W));
      if (op == OP_GATHER2D) {
        LLVMValueRef id = LLVMBuildSExt(B, load(DT_I32, b, i), px.t.i64, "");
        LLVMValueRef has = LLVMBuildICmp(B, LLVMIntSGE, id, ci64(0), "");
        LLVMValueRef v = load(d, a, iadd(xp, sel(has, id, ci64(0))));
        store(d, sel(has, v, zero), out, i);
      } else {
        bool mx = op != OP_AVGPOOL;
        LLVMValueRef best = var(ty(d), mx ? cfl(-INFINITY, d) : zero), at = var(px.t.i64, ci64(-1));
        Loop ly = loop_begin(ci64(kh));
        LLVMValueRef iy = iadd(isub(imul(oy, ci64(sh)), ci64(ph)), ly.i);
        Loop lx = loop_begin(ci64(kw));
        LLVMValueRef ix = iadd(isub(imul(ox, ci64(sw)), ci64(pw)), lx.i);
        LLVMValueRef ok = band(ult(iy, H), ult(ix, W)), pos = iadd(imul(iy, W), ix);
        LLVMValueRef v = load(d, a, iadd(xp, sel(ok, pos, ci64(0)))), bv = get(best);
        if (mx) { /* first maximum; the first NaN wins */
          LLVMValueRef take = LLVMBuildOr(B, fcmp(LLVMRealOGT, v, bv), band(fcmp(LLVMRealUNO, v, v), fcmp(LLVMRealORD, bv, bv)), "");
          take = band(ok, take);
          set(best, sel(take, v, bv));
          set(at, sel(take, pos, get(at)));
        } else {
          set(best, fadd(bv, sel(ok, v, zero)));
        }
        loop_end(&lx);
        loop_end(&ly);
        if (mx) {
          LLVMValueRef half = imul(numel(&n->sh), ci64(8));
          LLVMValueRef other = LLVMBuildGEP2(B, px.t.i8, out, &half, 1, "");
          store(d, get(best), op == OP_MAXPOOL ? out : other, i);
          store(DT_I32, LLVMBuildTrunc(B, get(at), px.t.i32, ""), op == OP_MAXPOOL ? other : out, i);
        } else {
          store(d, fmul(get(best), scale), out, i);
        }
      }
    } else { /* one thread per input element (p, iy, ix): the windows covering it, (oy, ox) ascending */
      LLVMValueRef ix = irem(i, W), t = idiv(i, W), iy = irem(t, H), p = idiv(t, H);
      LLVMValueRef pos = iadd(imul(iy, W), ix), acc = var(ty(d), zero);
      Loop ly = loop_begin(ci64(kh));
      LLVMValueRef oky, okx, oy = back_pos(iy, isub(ci64(kh - 1), ly.i), sh, ph, 1, OH, &oky);
      Loop lx = loop_begin(ci64(kw));
      LLVMValueRef ox = back_pos(ix, isub(ci64(kw - 1), lx.i), sw, pw, 1, OW, &okx);
      LLVMValueRef ok = band(oky, okx);
      LLVMValueRef so = sel(ok, iadd(imul(iadd(imul(p, OH), oy), OW), ox), ci64(0));
      LLVMValueRef v = load(d, a, so);
      if (op == OP_UNPOOL) {
        LLVMValueRef id = LLVMBuildSExt(B, load(DT_I32, b, so), px.t.i64, "");
        ok = band(ok, ieq(id, pos));
      } else {
        v = fmul(v, scale);
      }
      set(acc, fadd(get(acc), sel(ok, v, zero)));
      loop_end(&lx);
      loop_end(&ly);
      store(d, get(acc), out, i);
    }
  }
  loop_end(&l);
  LLVMBuildRetVoid(B);
}

/* ---- ops of kind GEN: their own emitter over this target (kernel.h) ----- */

static Plan *gen_plan;
static LLVMValueRef gen_buffer(const Node *x) { return bufptr(gen_plan, x); }
/* the work items are the launch's threads, a grid-stride loop */
static void *gen_loop_begin(LLVMValueRef n, bool par, LLVMValueRef *i) {
  Loop *l = arena_alloc(sizeof *l);
  *l = par ? grid_loop(n) : loop_begin(n);
  *i = l->i;
  return l;
}
static void gen_loop_end(void *l) { loop_end(l); }
static LLVMValueRef gen_local(LLVMTypeRef t) { return k_entry_alloca(B, px.fn, t, "local"); }
static void emit_gen(Kernel *k, Plan *pl, const Node *n) {
  const OpSpec *sp = op_info[n->op].spec;
  int64_t *w = add_step(pl, NNRT_CUDA_KERNEL);
  set_threads(w, sp->extent(n));
  begin_kernel(step_name(k, w));
  gen_plan = pl;
  KernelTarget t = {{B, ty, gpu_intrinsic, gpu_math}, px.t.i64, dimval, gen_buffer, gen_loop_begin, gen_loop_end, gen_local, NULL, NULL};
  sp->emit(&t, n);
  LLVMBuildRetVoid(B);
}

static void emit_node(Kernel *k, Plan *pl, const Node *n) {
  Dtype d = n->dt;
  OpKind kd = op_info[n->op].kind;
  if (kd == OK_LEAF) {
    if (n->op == OP_CONST && pl->buf[n->id] >= 0) emit_fill(k, pl, pl->buf[n->id], &n->sh, d, n);
    return;
  }
  if (n->op == OP_RESHAPE) {
    if (n->in[0]->op == OP_CONST) emit_fill(k, pl, pl->buf[n->id], &n->sh, d, n->in[0]);
    return;
  }
  if (kd == OK_MATMUL) { emit_gemm(pl, n); return; }
  if (n->op == OP_RAND) { /* drawn on the host from the run's generator, as on the CPU */
    int64_t *w = add_step(pl, NNRT_CUDA_RAND);
    set_threads(w, shape_numel(&n->sh));
    w[NNRT_CUDA_STEP_DT] = d == DT_F64 ? NNRT_F64 : NNRT_F32;
    w[NNRT_CUDA_STEP_TA] = n->ia[1];
    w[NNRT_CUDA_STEP_C] = pl->buf[n->id];
    return;
  }
  if (kd == OK_LIB) { emit_lib(k, pl, n); return; }
  if (kd == OK_GEN) { emit_gen(k, pl, n); return; }
  if (n->op == OP_IOTA) {
    int64_t *w = add_step(pl, NNRT_CUDA_KERNEL);
    set_threads(w, shape_numel(&n->sh));
    begin_kernel(step_name(k, w));
    LLVMValueRef out = bufptr(pl, n);
    Loop l = grid_loop(numel(&n->sh));
    store(d, isf(d) ? LLVMBuildSIToFP(B, l.i, ty(d), "") : LLVMBuildTrunc(B, l.i, ty(d), ""), out, l.i);
    loop_end(&l);
    LLVMBuildRetVoid(B);
    return;
  }
  const Node *x = n->in[0];
  int64_t *w = add_step(pl, NNRT_CUDA_KERNEL);
  bool per_row = kd == OK_ROW;
  Shape rows = per_row ? x->sh : n->sh;
  if (per_row) rows.rank--;
  set_threads(w, shape_numel(&rows));
  begin_kernel(step_name(k, w));
  LLVMValueRef out = bufptr(pl, n);
  Operand in[3];
  switch (kd) {
  case OK_EWISE:
    for (int j = 0; j < n->nin; j++)
      in[j] = operand(pl, n->in[j], &n->sh, ewise_input_dtype(n, j));
    break;
  case OK_REDUCE: in[0] = operand(pl, x, &x->sh, x->dt); break;
  case OK_MOVE:
    if (n->op == OP_BROADCAST) in[0] = operand(pl, x, &n->sh, d);
    else if (n->op == OP_CONCAT)
      for (int j = 0; j < 2; j++) in[j] = operand(pl, n->in[j], &n->in[j]->sh, d);
    else in[0] = operand(pl, x, &x->sh, d);
    break;
  default: in[0] = (Operand){.ptr = bufptr(pl, x), .dt = x->dt}; break;
  }
  Loop l = grid_loop(numel(&rows));
  LLVMValueRef idx[MAX_RANK], v[3];
  switch (kd) {
  case OK_EWISE:
    unflatten(l.i, &n->sh, idx);
    for (int j = 0; j < n->nin; j++) v[j] = read(&in[j], idx, n->sh.rank);
    store(d, scalar(n, v), out, l.i);
    break;
  case OK_REDUCE: { /* one thread per output; reduced dims in row-major order */
    unflatten(l.i, &n->sh, idx);
    Shape red = {0};
    int axes[MAX_RANK];
    for (int q = 0; q < x->sh.rank; q++)
      if (n->ia[0] >> q & 1) { axes[red.rank] = q; red.d[red.rank++] = x->sh.d[q]; }
    LLVMValueRef kept[MAX_RANK];
    for (int q = 0; q < x->sh.rank; q++) kept[q] = n->ia[0] >> q & 1 ? NULL : in[0].st[q];
    LLVMValueRef base = dot(idx, kept, x->sh.rank, NULL);
    LLVMValueRef acc = var(ty(d), n->op == OP_SUM ? cfl(0, d) : cfl(-INFINITY, d));
    Loop r = loop_begin(numel(&red));
    LLVMValueRef ridx[MAX_RANK], rst[MAX_RANK];
    unflatten(r.i, &red, ridx);
    for (int q = 0; q < red.rank; q++) rst[q] = in[0].st[axes[q]];
    LLVMValueRef xv = load(x->dt, in[0].ptr, dot(ridx, rst, red.rank, base)), a = get(acc);
    set(acc, n->op == OP_SUM ? fadd(a, xv) : sel(fcmp(LLVMRealOGE, a, xv), a, xv));
    loop_end(&r);
    store(d, get(acc), out, l.i);
    break;
  }
  case OK_ROW: emit_row(n, in[0].ptr, out, l.i); break;
  case OK_MOVE:
    unflatten(l.i, &n->sh, idx);
    switch (n->op) {
    case OP_BROADCAST: store(d, read(&in[0], idx, n->sh.rank), out, l.i); break;
    case OP_TRANSPOSE: {
      LLVMValueRef st[MAX_RANK];
      for (int q = 0; q < n->sh.rank; q++) st[q] = in[0].st[n->ia[q]];
      store(d, load(d, in[0].ptr, dot(idx, st, n->sh.rank, NULL)), out, l.i);
      break;
    }
    case OP_SLICE: {
      LLVMValueRef base = ci64(0);
      for (int q = 0; q < n->sh.rank; q++) base = iadd(base, imul(ci64(n->ia[q]), in[0].st[q] ? in[0].st[q] : ci64(0)));
      store(d, load(d, in[0].ptr, dot(idx, in[0].st, n->sh.rank, base)), out, l.i);
      break;
    }
    case OP_PAD: { /* inside the copied region: x[idx - start], else 0 */
      LLVMValueRef inside = LLVMConstInt(px.t.i1, 1, 0), off = ci64(0);
      LLVMValueRef st[MAX_RANK];
      strides(&x->sh, st);
      for (int q = 0; q < n->sh.rank; q++) {
        LLVMValueRef j = LLVMBuildSub(B, idx[q], ci64(n->ia[q]), "");
        inside = LLVMBuildAnd(B, inside, LLVMBuildICmp(B, LLVMIntSGE, j, ci64(0), ""), "");
        inside = LLVMBuildAnd(B, inside, LLVMBuildICmp(B, LLVMIntSLT, j, dimval(x->sh.d[q]), ""), "");
        off = iadd(off, imul(j, st[q]));
      }
      LLVMValueRef safe = sel(inside, off, ci64(0));
      store(d, sel(inside, load(d, in[0].ptr, safe), cfl(0, d)), out, l.i);
      break;
    }
    case OP_CONCAT: {
      int ax = (int)n->ia[0];
      LLVMValueRef n0 = dimval(n->in[0]->sh.d[ax]), first = LLVMBuildICmp(B, LLVMIntSLT, idx[ax], n0, "");
      LLVMValueRef v0 = in[0].cval, v1 = in[1].cval;
      LLVMValueRef i0 = sel(first, idx[ax], ci64(0)), i1 = sel(first, ci64(0), LLVMBuildSub(B, idx[ax], n0, ""));
      LLVMValueRef save = idx[ax];
      idx[ax] = i0;
      if (!v0) v0 = load(d, in[0].ptr, dot(idx, in[0].st, n->sh.rank, NULL));
      idx[ax] = i1;
      if (!v1) v1 = load(d, in[1].ptr, dot(idx, in[1].st, n->sh.rank, NULL));
      idx[ax] = save;
      store(d, sel(first, v0, v1), out, l.i);
      break;
    }
    default: nnc_unreachable("no GPU code for '%s'", op_info[n->op].name);
    }
    break;
  case OK_INDEX:
    if (n->op == OP_ONEHOT) {
      LLVMValueRef kk = ci64(n->sh.d[n->sh.rank - 1].k);
      LLVMValueRef lab = LLVMBuildSExt(B, load(DT_I32, in[0].ptr, LLVMBuildUDiv(B, l.i, kk, "")), px.t.i64, "");
      LLVMValueRef hit = LLVMBuildICmp(B, LLVMIntEQ, lab, LLVMBuildURem(B, l.i, kk, ""), "");
      store(d, sel(hit, cfl(1, d), cfl(0, d)), out, l.i);
    }
    break;
  default: nnc_unreachable("no GPU code for '%s'", op_info[n->op].name);
  }
  loop_end(&l);
  LLVMBuildRetVoid(B);
}

/* A copy of node n's buffer into slot buffer dst. */
static void emit_copy(Kernel *k, Plan *pl, const Node *n, int dst) {
  int64_t *w = add_step(pl, NNRT_CUDA_KERNEL);
  set_threads(w, shape_numel(&n->sh));
  begin_kernel(step_name(k, w));
  LLVMValueRef out = LLVMBuildLoad2(B, px.t.ptr, gep(px.t.ptr, px.bufs, ci64(dst)), "dst");
  LLVMValueRef src = bufptr(pl, n);
  Loop l = grid_loop(numel(&n->sh));
  store(n->dt, load(n->dt, src, l.i), out, l.i);
  loop_end(&l);
  LLVMBuildRetVoid(B);
}

/* A fused group (fuse.c) as one kernel.  Open: one thread per element of
 * the space, every member a register, stored only where Kernel.stored
 * says.  Closed by a reduction: one thread per output element of the
 * reduction, looping over the reduced elements in row-major order (a
 * fixed order, deterministic; the CPU's for runs shorter than 16, while
 * the CPU adds longer ones in lanes, llvm.c's lanes_reduce) and computing
 * the element-wise chain at each; every element of the space is visited by
 * exactly one thread, so stored members are written once. */
typedef struct GroupCtx { LLVMValueRef *optr, lin; } GroupCtx;
static void group_store(const Node *n, LLVMValueRef v, void *ctx) {
  GroupCtx *c = ctx;
  store(n->dt, v, c->optr[n->id], c->lin);
}

static void emit_group(Kernel *k, Plan *pl, const Group *g) {
  const Shape *sp = &g->space;
  Node *last = g->nodes[g->n - 1];
  bool red = g->closed;
  int nm = red ? g->n - 1 : g->n;
  int64_t *w = add_step(pl, NNRT_CUDA_KERNEL);
  set_threads(w, shape_numel(red ? &last->sh : sp));
  begin_kernel(step_name(k, w));
  Node **xs = arena_alloc(sizeof(Node *) * (3 * g->n + 1));
  Operand *xo = arena_alloc(sizeof(Operand) * (3 * g->n + 1));
  int nx = group_inputs(g, xs, pl->seen);
  for (int i = 0; i < nx; i++) xo[i] = operand(pl, xs[i], sp, xs[i]->dt);
  LLVMValueRef *optr = pl->optr;
  for (int i = 0; i < g->n; i++)
    if (k->stored[g->nodes[i]->id] || (red && i == g->n - 1)) optr[g->nodes[i]->id] = bufptr(pl, g->nodes[i]);
  LLVMValueRef cst[MAX_RANK], idx[MAX_RANK];
  strides(sp, cst);
  Loop l = grid_loop(numel(red ? &last->sh : sp));
  Loop r = {0};
  LLVMValueRef acc = NULL;
  if (red) {
    LLVMValueRef oidx[MAX_RANK], ridx[MAX_RANK];
    unflatten(l.i, &last->sh, oidx);
    Shape rs = {0};
    for (int q = 0; q < sp->rank; q++)
      if (last->ia[0] >> q & 1) rs.d[rs.rank++] = sp->d[q];
    acc = var(ty(last->dt), last->op == OP_SUM ? cfl(0, last->dt) : cfl(-INFINITY, last->dt));
    r = loop_begin(numel(&rs));
    unflatten(r.i, &rs, ridx);
    for (int q = 0, m = 0; q < sp->rank; q++) idx[q] = last->ia[0] >> q & 1 ? ridx[m++] : oidx[q];
  } else {
    unflatten(l.i, sp, idx);
  }
  LLVMValueRef lin = red ? dot(idx, cst, sp->rank, NULL) : l.i;
  LLVMValueRef *val = pl->val;
  for (int i = 0; i < nx; i++) val[xs[i]->id] = read(&xo[i], idx, sp->rank);
  GroupCtx gc = {optr, lin};
  ScalarTarget st = {B, ty, gpu_intrinsic, gpu_math};
  scalar_group(&st, g, nm, val, k->stored, &(GroupEmit){const_value, group_store, &gc});
  if (red) {
    LLVMValueRef x = val[last->in[0]->id], a = get(acc);
    set(acc, last->op == OP_SUM ? fadd(a, x) : sel(fcmp(LLVMRealOGE, a, x), a, x));
    loop_end(&r);
    store(last->dt, get(acc), optr[last->id], l.i);
  }
  loop_end(&l);
  LLVMBuildRetVoid(B);
}

static void emit_kernel(Kernel *k, Plan *pl) {
  plan_kernel(k, pl);
  for (int i = 0; i < k->nsched; i++) /* constants that live in memory */
    if (k->sched[i]->op == OP_CONST) emit_node(k, pl, k->sched[i]);
  for (int g = 0; g < k->ngroups; g++) {
    const Group *gr = &k->groups[g];
    if (gr->fused && (gr->n > 1 || gr->closed)) emit_group(k, pl, gr);
    else
      for (int j = 0; j < gr->n; j++) emit_node(k, pl, gr->nodes[j]);
  }
  /* outputs that are leaves, constants or shared need a copy (as on the CPU) */
  for (int i = 0; i < k->nouts; i++) {
    Node *n = k->outs[i].node;
    int b = pl->buf[n->id];
    bool in_slot = b >= 0 && pl->bufs[NNRT_CUDA_BUF_WORDS * b + NNRT_CUDA_BUF_SLOT] >= 0;
    if (!k->outs[i].deferred && in_slot && op_info[n->op].kind != OK_LEAF) {
      bool first = true;
      for (int j = 0; j < i; j++)
        if (k->outs[j].node == n) first = false;
      if (first && n->op != OP_RESHAPE) continue; /* computed in place */
    }
    int dst = slot_buf(pl, k->outs[i].slot);
    if (n->op == OP_CONST) emit_fill(k, pl, dst, &n->sh, n->dt, n);
    else emit_copy(k, pl, n, dst);
  }
}

/* The optimizer step of runtime/optim.c, one thread per element; `kind` is
 * NnrtOptKind (sgd 0, momentum 1, nesterov 2, adagrad 3, adadelta 4,
 * rmsprop 5, adam 6, adamw 7).  Arguments after kind: lr, l2 (weight decay
 * added to the gradient), wd (AdamW's decoupled decay), momentum, eps, rho,
 * beta1, beta2 and Adam's bias corrections 1/(1-beta^t), all double and
 * rounded to the parameter's type here, as the CPU step does; then dyn: a
 * device pointer to {lr, ic1, ic2} that replaces those three when not
 * null (CUDA graphs replay one captured step with new values). */
static void emit_optimizer(Dtype d) {
  LLVMTypeRef ps[OPTIM_NPARAMS];
  optim_params(&px.t, ps);
  LLVMValueRef f = begin_fn(d == DT_F32 ? "nnc_opt_f32" : "nnc_opt_f64", ps, OPTIM_NPARAMS);
  KernelTarget t = {{B, ty, gpu_intrinsic, gpu_math}, px.t.i64, dimval, NULL, gen_loop_begin, gen_loop_end, gen_local, NULL, NULL};
  optim_emit(&t, d, f);
}

/* Gradient-norm clipping (codegen/optim.c): nnc_sqsum_T one thread per
 * partial sum, nnc_clip one thread, nnc_scale_T one thread per element. */
static void emit_clip(void) {
  static const char *const names[] = {"nnc_sqsum_f32", "nnc_sqsum_f64", "nnc_clip", "nnc_scale_f32", "nnc_scale_f64"};
  for (int k = 0; k < 5; k++) {
    LLVMTypeRef ps[3];
    clip_params(&px.t, ps, k == 2);
    LLVMValueRef f = begin_fn(names[k], ps, 3);
    KernelTarget t = {{B, ty, gpu_intrinsic, gpu_math}, px.t.i64, dimval, NULL, gen_loop_begin, gen_loop_end, gen_local, NULL, NULL};
    if (k < 2) clip_emit_sqsum(&t, k ? DT_F64 : DT_F32, f);
    else if (k == 2) clip_emit_norm(&t, f);
    else clip_emit_scale(&t, k == 3 ? DT_F32 : DT_F64, f);
  }
}

static void emit_acc(void) {
  LLVMTypeRef ps[] = {px.t.ptr, px.t.i32, px.t.ptr, px.t.i32, px.t.ptr, px.t.i64};
  LLVMValueRef f = begin_fn("nnc_acc", ps, 6);
  LLVMValueRef acc = LLVMGetParam(f, 4);
  for (int k = 0; k < 2; k++) {
    LLVMValueRef q = LLVMGetParam(f, (unsigned)(2 * k)), t = LLVMGetParam(f, (unsigned)(2 * k + 1));
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(px.ctx, f, "add"), next = LLVMAppendBasicBlockInContext(px.ctx, f, "next");
    LLVMBuildCondBr(B, LLVMBuildIsNotNull(B, q, ""), yes, next);
    LLVMPositionBuilderAtEnd(B, yes);
    LLVMValueRef vf = LLVMBuildFPExt(B, LLVMBuildLoad2(B, px.t.f32, q, ""), px.t.f64, "");
    LLVMValueRef vd = LLVMBuildLoad2(B, px.t.f64, q, "");
    LLVMValueRef vi = LLVMBuildSIToFP(B, LLVMBuildLoad2(B, px.t.i32, q, ""), px.t.f64, "");
    LLVMValueRef v = sel(LLVMBuildICmp(B, LLVMIntEQ, t, ci32(0), ""), vf, sel(LLVMBuildICmp(B, LLVMIntEQ, t, ci32(1), ""), vd, vi));
    if (k == 0) v = fmul(v, LLVMBuildSIToFP(B, LLVMGetParam(f, 5), px.t.f64, ""));
    LLVMValueRef a = gep(px.t.f64, acc, ci64(k));
    LLVMBuildStore(B, fadd(LLVMBuildLoad2(B, px.t.f64, a, ""), v), a);
    LLVMBuildBr(B, next);
    LLVMPositionBuilderAtEnd(B, next);
  }
  LLVMBuildRetVoid(B);
}

/* ---- the module ------------------------------------------------------------ */

static Plan plans[2];

static LLVMTargetMachineRef nvptx_machine(const char *arch, int opt) {
  LLVMInitializeNVPTXTargetInfo();
  LLVMInitializeNVPTXTarget();
  LLVMInitializeNVPTXTargetMC();
  LLVMInitializeNVPTXAsmPrinter();
  LLVMTargetRef t;
  char *err = NULL;
  if (LLVMGetTargetFromTriple("nvptx64-nvidia-cuda", &t, &err)) nnc_unreachable("no NVPTX target in this LLVM: %s", err);
  LLVMCodeGenOptLevel lvl = opt == 0 ? LLVMCodeGenLevelNone : opt == 1 ? LLVMCodeGenLevelLess : LLVMCodeGenLevelDefault;
  return LLVMCreateTargetMachine(t, "nvptx64-nvidia-cuda", arch, "", lvl, LLVMRelocDefault, LLVMCodeModelDefault);
}

const char *nvptx_arch(void) {
  const char *a = getenv("NNC_CUDA_ARCH");
  return a && *a ? a : "sm_80";
}

/* Every op has GPU code (conv and pooling included, emit_lib); this stays
 * the place to refuse an op, with a clear error, before its code exists. */
/* Ops whose kernel is the runtime's on the CPU have none here: spmm. */
static bool supported(Program *p) {
  Kernel *ks[] = {&p->train_k, &p->eval_k};
  bool ok = true;
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < ks[k]->nsched; i++)
      if (ks[k]->sched[i]->op == OP_SPMM) {
        diag_error(ks[k]->sched[i]->loc, "spmm has no GPU kernel yet: build this program without --cuda");
        ok = false;
        break;
      }
  return ok;
}

char *nvptx_emit(Program *p, const char *arch, int opt_level) {
  if (!supported(p)) return NULL;
  px.ctx = LLVMContextCreate();
  px.mod = LLVMModuleCreateWithNameInContext("nnc_cuda", px.ctx);
  px.b = LLVMCreateBuilderInContext(px.ctx);
  px.t = k_types(px.ctx);
  LLVMTargetMachineRef tm = nvptx_machine(arch, opt_level);
  LLVMSetTarget(px.mod, "nvptx64-nvidia-cuda");
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  char *layout = LLVMCopyStringRepOfTargetData(td);
  LLVMSetDataLayout(px.mod, layout);
  LLVMDisposeMessage(layout);
  LLVMDisposeTargetData(td);
  emit_math();
  memset(plans, 0, sizeof plans);
  emit_kernel(&p->train_k, &plans[0]);
  emit_kernel(&p->eval_k, &plans[1]);
  emit_optimizer(DT_F32);
  emit_optimizer(DT_F64);
  emit_clip();
  emit_acc();
  char *err = NULL;
  if (LLVMVerifyModule(px.mod, LLVMReturnStatusAction, &err)) {
    fprintf(stderr, "%s\n", err);
    nnc_unreachable("generated NVPTX IR does not verify");
  }
  LLVMDisposeMessage(err);
  if (opt_level > 0) {
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMErrorRef e = LLVMRunPasses(px.mod, "default<O2>", tm, po);
    if (e) nnc_unreachable("LLVM passes failed: %s", LLVMGetErrorMessage(e));
    LLVMDisposePassBuilderOptions(po);
  }
  LLVMMemoryBufferRef mb;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, px.mod, LLVMAssemblyFile, &err, &mb))
    nnc_unreachable("PTX emission failed: %s", err);
  size_t n = LLVMGetBufferSize(mb);
  char *ptx = arena_alloc(n + 1);
  memcpy(ptx, LLVMGetBufferStart(mb), n);
  ptx[n] = 0;
  LLVMDisposeMemoryBuffer(mb);
  LLVMDisposeTargetMachine(tm);
  LLVMDisposeBuilder(px.b);
  LLVMDisposeModule(px.mod);
  LLVMContextDispose(px.ctx);
  return ptx;
}

/* ---- host side: the PTX and schedule as globals, handed over in nnc_setup - */

static LLVMValueRef table(LLVMModuleRef m, Plan *pl) {
  LLVMContextRef c = LLVMGetModuleContext(m);
  LLVMTypeRef i64 = LLVMInt64TypeInContext(c);
  int n = NNRT_CUDA_HEAD_WORDS + NNRT_CUDA_BUF_WORDS * pl->nbufs + NNRT_CUDA_STEP_WORDS * pl->nsteps;
  LLVMValueRef *v = arena_alloc(sizeof *v * n);
  int at = 0;
  v[at++] = LLVMConstInt(i64, (unsigned long long)pl->nbufs, 0);
  v[at++] = LLVMConstInt(i64, (unsigned long long)pl->nsteps, 0);
  v[at++] = LLVMConstInt(i64, (unsigned long long)pl->totalB, 0);
  v[at++] = LLVMConstInt(i64, (unsigned long long)pl->total0, 0);
  for (int i = 0; i < NNRT_CUDA_BUF_WORDS * pl->nbufs; i++) v[at++] = LLVMConstInt(i64, (unsigned long long)pl->bufs[i], 1);
  for (int i = 0; i < NNRT_CUDA_STEP_WORDS * pl->nsteps; i++) v[at++] = LLVMConstInt(i64, (unsigned long long)pl->steps[i], 1);
  LLVMValueRef g = LLVMAddGlobal(m, LLVMArrayType2(i64, (uint64_t)n), "nnc_cuda_table");
  LLVMSetInitializer(g, LLVMConstArray2(i64, v, (uint64_t)n));
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  return g;
}

void nvptx_attach(Program *p, void *host_module, const char *ptx) {
  LLVMModuleRef m = host_module;
  LLVMContextRef c = LLVMGetModuleContext(m);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(c, 0), vd = LLVMVoidTypeInContext(c);
  size_t len = strlen(ptx);
  LLVMValueRef s = LLVMAddGlobal(m, LLVMArrayType2(LLVMInt8TypeInContext(c), len + 1), "nnc_cuda_ptx");
  LLVMSetInitializer(s, LLVMConstStringInContext(c, ptx, (unsigned)len, 0));
  LLVMSetGlobalConstant(s, 1);
  LLVMSetLinkage(s, LLVMPrivateLinkage);
  LLVMValueRef tt = table(m, &plans[0]), te = table(m, &plans[1]);
  LLVMTypeRef ps[] = {ptr, ptr, ptr, ptr};
  LLVMTypeRef ft = LLVMFunctionType(vd, ps, 4, 0);
  LLVMValueRef f = LLVMGetNamedFunction(m, "nnrt_cuda_program");
  if (!f) f = LLVMAddFunction(m, "nnrt_cuda_program", ft);
  LLVMValueRef setup = LLVMGetNamedFunction(m, "nnc_setup");
  if (!setup) nnc_unreachable("nvptx_attach before nnc_setup exists");
  LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
  LLVMPositionBuilderBefore(b, LLVMGetBasicBlockTerminator(LLVMGetLastBasicBlock(setup)));
  LLVMValueRef args[] = {LLVMGetParam(setup, 0), s, tt, te};
  LLVMBuildCall2(b, ft, f, args, 4, "");
  LLVMDisposeBuilder(b);
  (void)p;
}
