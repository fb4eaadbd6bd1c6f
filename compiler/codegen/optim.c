/*
 * codegen/optim.c — the optimizer step, one textbook rule per kind (the
 * table in runtime/optim.c's comment), emitted once for both targets over
 * a KernelTarget: `nnc_opt_f32` and `nnc_opt_f64` in the host module (the
 * CPU's training loop calls them) and in the PTX module (one GPU thread per
 * element).
 *
 *   void nnc_opt_T(T *p, const T *g, T *s0, T *s1, T *s2, i64 n, i32 kind,
 *                  double lr, l2, wd, mu, eps, rho, b1, b2, ic1, ic2,
 *                  const double *dyn)
 *
 * kind is the rule, nnrt_opt_rule: NnrtOptKind (0 sgd .. 6 adam, 7 adamw),
 * 8 adam/adamw with amsgrad (s2: the maximum of v), 9 centered rmsprop (s1:
 * the mean gradient), 10 nesterov's look-ahead form and 11 its look-ahead
 * point θ − μ·s0 written to s1 (g unused); for momentum and nesterov ic1 is the gradient's weight
 * (1 − dampening, 1 at the first step); the scalars come from
 * nnrt_opt_args (runtime/optim.c) and are rounded to T once (1 - rho,
 * 1 - b1, 1 - b2 and lr·wd are formed in double first), so the
 * arithmetic is T's, in the order of the formulas, with no reassociation
 * and no FMA contraction: the same bits on both targets and as the C
 * reference in runtime/optim.c.  dyn, when not null, holds {lr, ic1, ic2}
 * read from memory instead (a CUDA graph replays with this step's values).
 * The rule is chosen once, outside the loop, so each loop vectorises.
 *
 * Gradient-norm clipping (`clip_norm = X;`) runs before the step, over every
 * gradient the step updates, as three kernels on both targets:
 *
 *   void nnc_sqsum_T(const T *g, i64 n, double *part)   part[j] += Σ g[i]²,
 *        i ≡ j mod NNRT_CLIP_PARTS, i ascending, in double (one item per j)
 *   void nnc_clip(double *part, double max, double *scale)   one item: the
 *        norm sqrt(Σ_j part[j]), j ascending; scale = max / (norm + 1e-6)
 *        when norm > max, else 1; part is zeroed again for the next step
 *   void nnc_scale_T(T *g, i64 n, const double *scale)   g[i] *= (T)scale
 *
 * The number of partial sums is fixed (not the GPU's thread count), so the
 * sum is formed in one order everywhere: the same bits on the CPU, the GPU
 * and the C reference (nnrt_clip_reference, runtime/optim.c).
 */
#include "kernel.h"
#include "../../runtime/include/nnrt.h"

void optim_params(const LlvmTypes *ty, LLVMTypeRef ps[OPTIM_NPARAMS]) {
  ps[0] = ps[1] = ps[2] = ps[3] = ps[4] = ty->ptr;
  ps[5] = ty->i64;
  ps[6] = ty->i32;
  for (int i = 7; i < 17; i++) ps[i] = ty->f64;
  ps[17] = ty->ptr;
}

/* Build the body of fn (already created with the signature above). */
void optim_emit(const KernelTarget *t, Dtype d, LLVMValueRef fn) {
  LLVMBuilderRef b = t->s.b;
  LLVMContextRef ctx = LLVMGetTypeContext(t->i64);
  LLVMTypeRef T = t->s.ty(d), f64 = t->s.ty(DT_F64);
  LLVMValueRef P = LLVMGetParam(fn, 0), G = LLVMGetParam(fn, 1), S0 = LLVMGetParam(fn, 2), S1 = LLVMGetParam(fn, 3);
  LLVMValueRef S2 = LLVMGetParam(fn, 4), n = LLVMGetParam(fn, 5), kind = LLVMGetParam(fn, 6), h[10];
  for (int i = 0; i < 10; i++) h[i] = LLVMGetParam(fn, (unsigned)(7 + i));
  { /* dyn: lr, ic1, ic2 from memory when the pointer is not null */
    LLVMValueRef dyn = LLVMGetParam(fn, 17);
    LLVMBasicBlockRef entry = LLVMGetInsertBlock(b);
    LLVMBasicBlockRef rd = LLVMAppendBasicBlockInContext(ctx, fn, "dyn"), go = LLVMAppendBasicBlockInContext(ctx, fn, "go");
    LLVMBuildCondBr(b, LLVMBuildIsNull(b, dyn, ""), go, rd);
    LLVMPositionBuilderAtEnd(b, rd);
    int at[3] = {0, 8, 9};
    LLVMValueRef got[3];
    for (int q = 0; q < 3; q++) got[q] = k_load(t, DT_F64, dyn, k_i64(t, q));
    LLVMBuildBr(b, go);
    LLVMPositionBuilderAtEnd(b, go);
    for (int q = 0; q < 3; q++) {
      LLVMValueRef ph = LLVMBuildPhi(b, f64, "");
      LLVMAddIncoming(ph, (LLVMValueRef[]){h[at[q]], got[q]}, (LLVMBasicBlockRef[]){entry, rd}, 2);
      h[at[q]] = ph;
    }
  }
  /* 1 - rho, 1 - b1, 1 - b2 and lr * wd in double, rounded to T once (as
   * runtime/optim.c and PyTorch, whose scalars are doubles) */
  LLVMValueRef one64 = LLVMConstReal(f64, 1);
  LLVMValueRef hc[4] = {LLVMBuildFSub(b, one64, h[5], ""), LLVMBuildFSub(b, one64, h[6], ""),
                        LLVMBuildFSub(b, one64, h[7], ""), LLVMBuildFMul(b, h[0], h[2], "")};
  if (d == DT_F32) {
    for (int i = 0; i < 10; i++) h[i] = LLVMBuildFPTrunc(b, h[i], T, "");
    for (int i = 0; i < 4; i++) hc[i] = LLVMBuildFPTrunc(b, hc[i], T, "");
  }
#define ADD(x, y) LLVMBuildFAdd(b, x, y, "")
#define SUB(x, y) LLVMBuildFSub(b, x, y, "")
#define MUL(x, y) LLVMBuildFMul(b, x, y, "")
#define DIV(x, y) LLVMBuildFDiv(b, x, y, "")
#define SQRT(x) t->s.intrinsic("llvm.sqrt", d, (LLVMValueRef[]){x}, 1)
#define LD(base) k_load(t, d, base, i)
#define ST(v, base) k_store(t, d, v, base, i)
  LLVMValueRef lr = h[0], l2 = h[1], mu = h[3], eps = h[4], rho = h[5], b1 = h[6], b2 = h[7], ic1 = h[8], ic2 = h[9];
  LLVMValueRef rho_c = hc[0], b1_c = hc[1], b2_c = hc[2], decay = hc[3]; /* decay: lr * adamw's wd */
  /* the loops: 0-6 as NnrtOptKind (adamw (7) runs adam's loop with l2 = 0
   * and its decay), 7 amsgrad (rules 8), 8 centered rmsprop (rule 9),
   * 9 nesterov's look-ahead form (rule 10), 10 its look-ahead point (rule
   * 11: S1 = θ − μ·S0, no gradient read) */
  enum { NLOOPS = 11, NRULES = 12 };
  static const int loop_of_rule[NRULES] = {0, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10};
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(ctx, fn, "done"), bb[NLOOPS];
  LLVMValueRef sw = LLVMBuildSwitch(b, kind, done, NRULES);
  for (int rule = 0; rule < NLOOPS; rule++) bb[rule] = LLVMAppendBasicBlockInContext(ctx, fn, "rule");
  for (int k = 0; k < NRULES; k++)
    LLVMAddCase(sw, LLVMConstInt(LLVMInt32TypeInContext(ctx), (unsigned long long)k, 0), bb[loop_of_rule[k]]);
  for (int rule = 0; rule < NLOOPS; rule++) {
    LLVMPositionBuilderAtEnd(b, bb[rule]);
    LLVMValueRef i;
    void *loop = t->loop_begin(n, true, &i);
    LLVMValueRef p = LD(P);
    if (rule >= 9) { /* look-ahead nesterov: φ = θ − μv, v holding the rate */
      LLVMValueRef v = LD(S0), ahead = SUB(p, MUL(mu, v));
      if (rule == 10) {
        ST(ahead, S1);
      } else {
        LLVMValueRef nv = ADD(MUL(mu, v), MUL(lr, ADD(LD(G), MUL(l2, ahead)))); /* g' = g(φ) + wd·φ */
        ST(nv, S0);
        ST(SUB(p, nv), P);
      }
      t->loop_end(loop);
      LLVMBuildBr(b, done);
      continue;
    }
    LLVMValueRef g = ADD(LD(G), MUL(l2, p)); /* g' = g + wd·θ */
    switch (rule) {
    case 0: ST(SUB(p, MUL(lr, g)), P); break; /* sgd */
    case 1: case 2: { /* momentum, nesterov; ic1: the gradient's weight */
      LLVMValueRef v = ADD(MUL(mu, LD(S0)), MUL(ic1, g));
      ST(v, S0);
      ST(SUB(p, MUL(lr, rule == 1 ? v : ADD(g, MUL(mu, v)))), P);
      break;
    }
    case 3: { /* adagrad */
      LLVMValueRef s = ADD(LD(S0), MUL(g, g));
      ST(s, S0);
      ST(SUB(p, DIV(MUL(lr, g), ADD(SQRT(s), eps))), P);
      break;
    }
    case 4: { /* adadelta */
      LLVMValueRef s = ADD(MUL(rho, LD(S0)), MUL(MUL(rho_c, g), g));
      ST(s, S0);
      LLVMValueRef dd = MUL(DIV(LLVMBuildFNeg(b, SQRT(ADD(LD(S1), eps)), ""), SQRT(ADD(s, eps))), g);
      ST(ADD(MUL(rho, LD(S1)), MUL(MUL(rho_c, dd), dd)), S1);
      ST(ADD(p, MUL(lr, dd)), P);
      break;
    }
    case 5: case 8: { /* rmsprop, centered rmsprop (S1: the mean gradient) */
      LLVMValueRef s = ADD(MUL(rho, LD(S0)), MUL(MUL(rho_c, g), g));
      ST(s, S0);
      if (rule == 8) {
        LLVMValueRef m = ADD(MUL(rho, LD(S1)), MUL(rho_c, g));
        ST(m, S1);
        s = SUB(s, MUL(m, m));
      }
      ST(SUB(p, DIV(MUL(lr, g), ADD(SQRT(s), eps))), P);
      break;
    }
    default: { /* adam, adamw (l2 = 0, decay = lr·wd); amsgrad: S2 the maximum of v */
      LLVMValueRef q = SUB(p, MUL(decay, p));
      LLVMValueRef m = ADD(MUL(b1, LD(S0)), MUL(b1_c, g));
      LLVMValueRef v = ADD(MUL(b2, LD(S1)), MUL(MUL(b2_c, g), g));
      ST(m, S0);
      ST(v, S1);
      if (rule == 7) {
        LLVMValueRef old = LD(S2);
        v = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, old, v, ""), old, v, "");
        ST(v, S2);
      }
      ST(SUB(q, DIV(MUL(lr, MUL(m, ic1)), ADD(SQRT(MUL(v, ic2)), eps))), P);
      break;
    }
    }
    t->loop_end(loop);
    LLVMBuildBr(b, done);
  }
#undef ADD
#undef SUB
#undef MUL
#undef DIV
#undef SQRT
#undef LD
#undef ST
  LLVMPositionBuilderAtEnd(b, done);
  LLVMBuildRetVoid(b);
}

/* ---- gradient-norm clipping -------------------------------------------- */

void clip_params(const LlvmTypes *ty, LLVMTypeRef ps[3], bool norm) {
  ps[0] = ps[2] = ty->ptr;
  ps[1] = norm ? ty->f64 : ty->i64;
}

void clip_emit_sqsum(const KernelTarget *t, Dtype d, LLVMValueRef fn) {
  LLVMBuilderRef b = t->s.b;
  LLVMTypeRef f64 = t->s.ty(DT_F64);
  LLVMValueRef g = LLVMGetParam(fn, 0), n = LLVMGetParam(fn, 1), part = LLVMGetParam(fn, 2);
  LLVMValueRef parts = k_i64(t, NNRT_CLIP_PARTS), acc = t->local(f64), j, k;
  void *items = t->loop_begin(parts, true, &j);
  LLVMBuildStore(b, k_load(t, DT_F64, part, j), acc);
  /* the elements j, j + P, j + 2P, ... below n: (n + P - 1 - j) / P of them */
  LLVMValueRef cnt = k_div(t, k_sub(t, k_add(t, n, k_i64(t, NNRT_CLIP_PARTS - 1)), j), parts);
  void *along = t->loop_begin(cnt, false, &k);
  LLVMValueRef x = k_load(t, d, g, k_add(t, j, k_mul(t, k, parts)));
  if (d != DT_F64) x = LLVMBuildFPExt(b, x, f64, "");
  LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, f64, acc, ""), LLVMBuildFMul(b, x, x, ""), ""), acc);
  t->loop_end(along);
  k_store(t, DT_F64, LLVMBuildLoad2(b, f64, acc, ""), part, j);
  t->loop_end(items);
  LLVMBuildRetVoid(b);
}

void clip_emit_norm(const KernelTarget *t, LLVMValueRef fn) {
  LLVMBuilderRef b = t->s.b;
  LLVMTypeRef f64 = t->s.ty(DT_F64);
  LLVMValueRef part = LLVMGetParam(fn, 0), max = LLVMGetParam(fn, 1), scale = LLVMGetParam(fn, 2);
  LLVMValueRef acc = t->local(f64), one, j;
  void *item = t->loop_begin(k_i64(t, 1), true, &one);
  LLVMBuildStore(b, LLVMConstReal(f64, 0), acc);
  void *sum = t->loop_begin(k_i64(t, NNRT_CLIP_PARTS), false, &j);
  LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, f64, acc, ""), k_load(t, DT_F64, part, j), ""), acc);
  k_store(t, DT_F64, LLVMConstReal(f64, 0), part, j);
  t->loop_end(sum);
  LLVMValueRef norm = t->s.intrinsic("llvm.sqrt", DT_F64, (LLVMValueRef[]){LLVMBuildLoad2(b, f64, acc, "")}, 1);
  LLVMValueRef s = LLVMBuildFDiv(b, max, LLVMBuildFAdd(b, norm, LLVMConstReal(f64, 1e-6), ""), "");
  LLVMValueRef over = LLVMBuildFCmp(b, LLVMRealOGT, norm, max, "");
  k_store(t, DT_F64, LLVMBuildSelect(b, over, s, LLVMConstReal(f64, 1), ""), scale, one);
  t->loop_end(item);
  LLVMBuildRetVoid(b);
}

void clip_emit_scale(const KernelTarget *t, Dtype d, LLVMValueRef fn) {
  LLVMBuilderRef b = t->s.b;
  LLVMValueRef g = LLVMGetParam(fn, 0), n = LLVMGetParam(fn, 1), i;
  LLVMValueRef s = k_load(t, DT_F64, LLVMGetParam(fn, 2), k_i64(t, 0));
  if (d != DT_F64) s = LLVMBuildFPTrunc(b, s, t->s.ty(d), "");
  void *items = t->loop_begin(n, true, &i);
  k_store(t, d, LLVMBuildFMul(b, k_load(t, d, g, i), s, ""), g, i);
  t->loop_end(items);
  LLVMBuildRetVoid(b);
}
