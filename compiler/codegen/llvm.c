/*
 * codegen/llvm.c — kernels and the program description to LLVM IR through
 * the LLVM C API, then to an x86-64 object file.
 *
 * Each Kernel becomes `void nnc_<name>(i8 *ctx, i8 **slots, i8 *scratch,
 * i64 batch)`: one loop nest per scheduled node (element-wise ops as
 * strided maps with broadcasting, reductions as strided accumulations,
 * softmax rows, GEMM as a call into libnnrt).  Constants are never
 * materialised: they are folded into the loops that read them.  Reshapes
 * alias their input (every buffer is dense and row-major).  Temporaries
 * live in the scratch block at offsets computed from the batch size;
 * `nnc_<name>_scratch(batch)` returns its size.
 *
 * `nnc_setup` describes the program to the runtime (slots, initialisers,
 * data, optimizer, kernels, info rows) and `main` hands over to nnrt_main.
 *
 * A fused group (fuse.c) is one loop nest; temporaries sit at the arena
 * offsets memplan.c chose.
 *
 * nnc build gives each kernel (and nnc_setup with main) a module of its
 * own, optimises and compiles them on as many threads as it has CPUs and
 * links the objects (see "units" below): LLVM is nearly all of the build
 * time, and the kernels are independent.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include "../nnc.h"
#include "../../runtime/include/nnrt.h"
#include "kernel.h"
#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Cg {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LlvmTypes t;
  LLVMValueRef fn;   /* current function */
  LLVMValueRef batch;
} Cg;

static Cg cg;

static LLVMTypeRef ty(Dtype d) {
  switch (d) {
  case DT_F32: return cg.t.f32;
  case DT_F64: return cg.t.f64;
  case DT_I32: return cg.t.i32;
  case DT_BOOL: case DT_CSR: return cg.t.i8;
  case DT_FLOAT: nnc_unreachable("'float' left unresolved by lowering");
  }
  return cg.t.f32;
}
static bool isf(Dtype d) { return d == DT_F32 || d == DT_F64; }
static LLVMValueRef ci64(int64_t v) { return LLVMConstInt(cg.t.i64, (unsigned long long)v, 1); }
static LLVMValueRef ci32(int v) { return LLVMConstInt(cg.t.i32, (unsigned long long)v, 1); }
static LLVMValueRef cfl(double v, Dtype d) { return isf(d) ? LLVMConstReal(ty(d), v) : LLVMConstInt(ty(d), (unsigned long long)(int64_t)v, 1); }

static LLVMValueRef dimval(Dim d) {
  if (d.b == 0) return ci64(d.k);
  LLVMValueRef v = cg.batch;
  for (int i = 1; i < d.b; i++) v = LLVMBuildMul(cg.b, v, cg.batch, "");
  return d.k == 1 ? v : LLVMBuildMul(cg.b, ci64(d.k), v, "dim");
}

static LLVMValueRef numel(const Shape *s) { return dimval(shape_numel(s)); }

/* Contiguous row-major strides of s (in elements). */
static void strides(const Shape *s, LLVMValueRef *st) {
  LLVMValueRef acc = ci64(1);
  for (int i = s->rank - 1; i >= 0; i--) {
    st[i] = acc;
    acc = LLVMBuildMul(cg.b, acc, dimval(s->d[i]), "");
  }
}

static LLVMValueRef intrinsic(const char *name, Dtype d, LLVMValueRef *args, int n) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMTypeRef t = ty(d);
  LLVMValueRef f = LLVMGetIntrinsicDeclaration(cg.mod, id, &t, 1);
  LLVMTypeRef ft = LLVMIntrinsicGetType(cg.ctx, id, &t, 1);
  return LLVMBuildCall2(cg.b, ft, f, args, (unsigned)n, "");
}

static LLVMValueRef libm(const char *base, Dtype d, LLVMValueRef x) {
  char name[32];
  snprintf(name, sizeof name, "%s%s", base, d == DT_F32 ? "f" : "");
  LLVMTypeRef t = ty(d);
  LLVMTypeRef ft = LLVMFunctionType(t, &t, 1, 0);
  LLVMValueRef f = LLVMGetNamedFunction(cg.mod, name);
  if (!f) {
    f = LLVMAddFunction(cg.mod, name, ft);
    LLVMSetLinkage(f, LLVMExternalLinkage);
  }
  return LLVMBuildCall2(cg.b, ft, f, &x, 1, "");
}

static LLVMValueRef fsel(LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSelect(cg.b, c, a, b, ""); }

/* Math through glibc's libmvec (part of libc6; executables link -lmvec).
 * On a host with AVX2, every element of every exp, tanh, log, ... comes
 * from one libmvec vector function: the AVX2 one (8 floats, 4 doubles),
 * or on a host with AVX-512 the AVX-512 one (16 floats, 8 doubles; see
 * wide_vectors).  The loop vectoriser calls it on whole vectors (the
 * call-site attribute "vector-function-abi-variant" maps our scalar
 * nnc_<f> to it), and nnc_<f>, which the loop's scalar remainder calls, is
 * that same function on a vector holding x, lane 0 taken.  So an
 * element's value never depends on where a loop starts, how it was fused
 * or vectorised, or the thread count (fused and unfused training give the
 * same bits), and loops of exp or tanh run 8 or 16 lanes at a time: tanhf
 * and the expm1f inside it were 22% of an LSTM's training time as scalar
 * libm calls.  Without AVX2 the scalar libm function is called. */
static bool host_has(const char *feature) {
  char *f = LLVMGetHostCPUFeatures();
  bool has = strstr(f, feature) != NULL;
  LLVMDisposeMessage(f);
  return has;
}

static bool host_avx2(void) {
  static int avx2 = -1;
  if (avx2 < 0) avx2 = host_has("+avx2");
  return avx2;
}

/* On a host with AVX-512 the loops are vectorised 512 bits wide (16
 * floats): LLVM's tuning for recent Intel cores prefers 256 bits (older
 * ones lowered their clock for 512-bit work); on the 2-vCPU Xeon VMs here
 * the 512-bit loops and libmvec's AVX-512 exp trained the transformer
 * benchmark ~5% faster (87k -> 92k tokens/s, 2 threads).  The bits of
 * transcendental functions are those of libmvec's AVX-512 variants there.
 * NNC_VEC256=1 keeps the 256-bit preference (to compare). */
static bool wide_vectors(void) {
  static int wide = -1;
  if (wide < 0) {
    const char *e = getenv("NNC_VEC256");
    wide = host_has("+avx512f") && !(e && *e && strcmp(e, "0"));
  }
  return wide;
}

static void pure_fn(LLVMValueRef fn) {
  static const char *const attrs[] = {"nounwind", "willreturn", "nosync"};
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(cg.ctx, LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i])), 0));
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, /* memory(none) */
                          LLVMCreateEnumAttribute(cg.ctx, LLVMGetEnumAttributeKindForName("memory", 6), 0));
}

static LLVMValueRef vec_libm(const char *base, Dtype d, LLVMValueRef x) {
  if (!host_avx2()) return libm(base, d, x);
  char scalar[32], vname[48], wname[48];
  snprintf(scalar, sizeof scalar, "%s%s", base, d == DT_F32 ? "f" : "");
  unsigned w = (d == DT_F32 ? 8 : 4) * (wide_vectors() ? 2 : 1);
  snprintf(vname, sizeof vname, wide_vectors() ? "_ZGVeN%uv_%s" : "_ZGVdN%uv_%s", w, scalar);
  snprintf(wname, sizeof wname, "nnc_%s", scalar);
  LLVMTypeRef t = ty(d), vt = LLVMVectorType(t, w), ft = LLVMFunctionType(t, &t, 1, 0);
  LLVMValueRef wrap = LLVMGetNamedFunction(cg.mod, wname);
  if (!wrap) {
    LLVMValueRef vf = LLVMAddFunction(cg.mod, vname, LLVMFunctionType(vt, &vt, 1, 0));
    pure_fn(vf);
    wrap = LLVMAddFunction(cg.mod, wname, ft);
    LLVMSetLinkage(wrap, LLVMInternalLinkage);
    pure_fn(wrap);
    LLVMAddAttributeAtIndex(wrap, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(cg.ctx, LLVMGetEnumAttributeKindForName("noinline", 8), 0));
    LLVMBuilderRef b = LLVMCreateBuilderInContext(cg.ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(cg.ctx, wrap, "entry"));
    LLVMValueRef lane0 = LLVMConstInt(cg.t.i32, 0, 0);
    LLVMValueRef v = LLVMBuildInsertElement(b, LLVMGetUndef(vt), LLVMGetParam(wrap, 0), lane0, "");
    LLVMTypeRef vft = LLVMFunctionType(vt, &vt, 1, 0);
    LLVMValueRef r = LLVMBuildCall2(b, vft, vf, &v, 1, "");
    LLVMBuildRet(b, LLVMBuildExtractElement(b, r, lane0, ""));
    LLVMDisposeBuilder(b);
  }
  LLVMValueRef call = LLVMBuildCall2(cg.b, ft, wrap, &x, 1, "");
  char attr[128];
  snprintf(attr, sizeof attr, "_ZGV_LLVM_N%uv_%s(%s)", w, wname, vname);
  LLVMAddCallSiteAttribute(call, LLVMAttributeFunctionIndex,
                           LLVMCreateStringAttribute(cg.ctx, "vector-function-abi-variant", 27, attr, (unsigned)strlen(attr)));
  return call;
}

/* The vector variants declared in mod (vec_libm) are listed in
 * llvm.compiler.used: nothing calls them until the loop vectoriser does,
 * and the optimiser drops unused declarations before it runs. */
static void mvec_keep(LLVMModuleRef mod) {
  LLVMValueRef fns[64];
  unsigned n = 0;
  for (LLVMValueRef f = LLVMGetFirstFunction(mod); f && n < 64; f = LLVMGetNextFunction(f))
    if (!strncmp(LLVMGetValueName(f), "_ZGV", 4)) fns[n++] = f;
  if (!n) return;
  LLVMTypeRef pt = LLVMPointerTypeInContext(LLVMGetModuleContext(mod), 0);
  LLVMValueRef used = LLVMAddGlobal(mod, LLVMArrayType2(pt, n), "llvm.compiler.used");
  LLVMSetLinkage(used, LLVMAppendingLinkage);
  LLVMSetSection(used, "llvm.metadata");
  LLVMSetInitializer(used, LLVMConstArray2(pt, fns, n));
}

/* The x86-64 math library: libm's functions, with libmvec's vector
 * variants for the loop vectoriser (vec_libm); pow as LLVM's intrinsic. */
static LLVMValueRef cpu_math(MathFn f, Dtype d, LLVMValueRef *v, int n) {
  switch (f) {
  case M_EXP: return vec_libm("exp", d, v[0]);
  case M_LOG: return vec_libm("log", d, v[0]);
  case M_SIN: return vec_libm("sin", d, v[0]);
  case M_COS: return vec_libm("cos", d, v[0]);
  case M_POW: return intrinsic("llvm.pow", d, v, 2);
  case M_LOG1P: return vec_libm("log1p", d, v[0]);
  case M_TANH: return vec_libm("tanh", d, v[0]);
  case M_ERF: return vec_libm("erf", d, v[0]);
  }
  (void)n;
  nnc_unreachable("no math function %d", (int)f);
}

/* The scalar computation of an element-wise op (codegen/scalar.c). */
static LLVMValueRef scalar(const Node *n, LLVMValueRef *v) {
  ScalarTarget t = {cg.b, ty, intrinsic, cpu_math};
  return scalar_emit(&t, n, v);
}

/* ---- loops ---------------------------------------------------------------- */

typedef struct Loop { LLVMBasicBlockRef pre, header, body, latch, exit; LLVMValueRef i; } Loop;

static Loop loop_range(LLVMValueRef lo, LLVMValueRef n, const char *name);
static Loop loop_begin(LLVMValueRef n, const char *name) { return loop_range(NULL, n, name); }

/* for i in [lo, n) (lo NULL: 0) */
static Loop loop_range(LLVMValueRef lo, LLVMValueRef n, const char *name) {
  Loop l;
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(cg.b);
  l.pre = pre;
  l.header = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, name);
  l.body = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "body");
  l.exit = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "exit");
  LLVMBuildBr(cg.b, l.header);
  LLVMPositionBuilderAtEnd(cg.b, l.header);
  l.i = LLVMBuildPhi(cg.b, cg.t.i64, "i");
  LLVMValueRef z = lo ? lo : ci64(0);
  LLVMAddIncoming(l.i, &z, &pre, 1);
  LLVMBuildCondBr(cg.b, LLVMBuildICmp(cg.b, LLVMIntSLT, l.i, n, ""), l.body, l.exit);
  LLVMPositionBuilderAtEnd(cg.b, l.body);
  return l;
}

static void loop_end(Loop *l) {
  LLVMValueRef next = LLVMBuildAdd(cg.b, l->i, ci64(1), "");
  LLVMBasicBlockRef cur = LLVMGetInsertBlock(cg.b);
  LLVMAddIncoming(l->i, &next, &cur, 1);
  LLVMBuildBr(cg.b, l->header);
  LLVMPositionBuilderAtEnd(cg.b, l->exit);
}

/* The running value of a reduction whose output does not move along the
 * innermost loop (the loop runs over reduced elements): kept in a register
 * across that loop, loaded before it and stored after it, instead of a
 * load and a store per element (LLVM cannot keep it there itself: every
 * buffer is an offset into one arena, so it must assume the member stores
 * may alias the accumulator).  The additions happen in the same order, so
 * the results are the same bits; the chain of dependent adds is what is
 * left (bias gradients of convolutions: ~4 instead of ~9 cycles an element). */
typedef struct RegAcc { LLVMValueRef phi, ptr, off; Dtype dt; } RegAcc;
static void store(Dtype d, LLVMValueRef v, LLVMValueRef p, LLVMValueRef off);

static bool const_zero(LLVMValueRef v) {
  return LLVMIsAConstantInt(v) && LLVMConstIntGetZExtValue(v) == 0;
}

/* Call right after loop_begin of the innermost loop: the phi, starting
 * from acc0 (loaded before the loop). */
static RegAcc regacc_begin(const Loop *l, LLVMValueRef acc0, LLVMValueRef ptr, LLVMValueRef off, Dtype d) {
  RegAcc a = {.ptr = ptr, .off = off, .dt = d};
  LLVMBasicBlockRef pre = LLVMIsAInstruction(acc0) ? LLVMGetInstructionParent(acc0) : l->pre;
  LLVMPositionBuilderBefore(cg.b, LLVMGetNextInstruction(l->i));
  a.phi = LLVMBuildPhi(cg.b, ty(d), "acc");
  LLVMAddIncoming(a.phi, &acc0, &pre, 1);
  LLVMPositionBuilderAtEnd(cg.b, l->body);
  return a;
}

/* The new running value r at the end of the body; ends the loop and stores. */
static void regacc_end(RegAcc *a, Loop *l, LLVMValueRef r) {
  LLVMBasicBlockRef cur = LLVMGetInsertBlock(cg.b);
  LLVMAddIncoming(a->phi, &r, &cur, 1);
  loop_end(l);
  store(a->dt, a->phi, a->ptr, a->off);
}

/* A value carried by loop l other than a register reduction's (a sum in
 * order): a phi in l's header starting from init (from l's pre block);
 * loop_carry_next gives it its value at the end of the body. */
static LLVMValueRef loop_carry(const Loop *l, LLVMValueRef init, Dtype d) {
  LLVMBasicBlockRef at = LLVMGetInsertBlock(cg.b), pre = l->pre;
  LLVMPositionBuilderBefore(cg.b, LLVMGetNextInstruction(l->i));
  LLVMValueRef phi = LLVMBuildPhi(cg.b, ty(d), "acc");
  LLVMAddIncoming(phi, &init, &pre, 1);
  LLVMPositionBuilderAtEnd(cg.b, at);
  return phi;
}
static void loop_carry_next(LLVMValueRef phi, LLVMValueRef v) {
  LLVMBasicBlockRef cur = LLVMGetInsertBlock(cg.b);
  LLVMAddIncoming(phi, &v, &cur, 1);
}

/* A loop over [0, n) in blocks of `block` (a vectorised pass into a stack
 * row, then an ordered one over it): the number of blocks, and block i's
 * first index and length. */
static LLVMValueRef block_count(LLVMValueRef n, int64_t block) {
  return LLVMBuildSDiv(cg.b, LLVMBuildAdd(cg.b, n, ci64(block - 1), ""), ci64(block), "");
}
static LLVMValueRef block_len(LLVMValueRef n, LLVMValueRef i, int64_t block, LLVMValueRef *first) {
  *first = LLVMBuildMul(cg.b, i, ci64(block), "");
  LLVMValueRef left = LLVMBuildSub(cg.b, n, *first, "");
  return LLVMBuildSelect(cg.b, LLVMBuildICmp(cg.b, LLVMIntSLT, left, ci64(block), ""), left, ci64(block), "");
}

/* An operand of a strided loop: a buffer read with strides, or a constant. */
typedef struct Operand {
  LLVMValueRef ptr, base, st[MAX_RANK], cval;
  Dtype dt;
} Operand;

static LLVMValueRef gep(Dtype d, LLVMValueRef p, LLVMValueRef off) { return LLVMBuildGEP2(cg.b, ty(d), p, &off, 1, ""); }
static LLVMValueRef load(Dtype d, LLVMValueRef p, LLVMValueRef off) { return LLVMBuildLoad2(cg.b, ty(d), gep(d, p, off), ""); }
static void store(Dtype d, LLVMValueRef v, LLVMValueRef p, LLVMValueRef off) { LLVMBuildStore(cg.b, v, gep(d, p, off)); }

/* Reductions over a reduced suffix add in lanes.  The reduced suffix of a
 * sum or max is its input's trailing axes that are all reduced (a layer
 * norm's or softmax's last axis; a convolution bias gradient's [.., H, W]),
 * walked in row-major order as one run.  The elements of a block of
 * BLOCK_ELEMS of that run (its first 256 elements, its next 256, ...) go
 * to LANES running sums, element j of the block to lane j % LANES (each
 * lane in order) up to the block's last multiple of LANES; the lanes are
 * then combined by a fixed tree (lane l with lane l + 8, those with + 4,
 * + 2, + 1), that is added to the running value, and the block's last
 * n % LANES elements follow in order.  A fixed order, the same on every run
 * and thread count, fused or not (the same bits), with a LANES times
 * shorter chain of dependent additions than one ordered sum, in vector
 * registers (the softmax and layer-norm rows of a transformer: 64 to 512
 * elements, each sum and max ~4 cycles an element in order).  A run known
 * to be shorter than LANES is the ordered sum.  The GPU's reductions
 * (nvptx.c) add in order: on long runs their last bits can differ from the
 * CPU's.  A max is the same whatever the order (the finite values' max). */
enum { LANES = 16, BLOCK_ELEMS = 256 };

static bool const_is(LLVMValueRef v, long long *k) {
  if (!LLVMIsAConstantInt(v)) return false;
  *k = LLVMConstIntGetSExtValue(v);
  return true;
}

/* A reduced suffix as one loop (see above): axes [s, rank) of the loop
 * nest, m = rank - s of them, n their extents.  An operand whose strides
 * over them are not one run (a transposed view) finds an element's offset
 * by division (flat_offset); the others step by their last stride. */
typedef struct Suffix { int m; LLVMValueRef n[MAX_RANK], total; } Suffix;

/* Where the reduced suffix of a reduction over axes `mask` of a space
 * starts (from axis lo on), and whether it adds in lanes: a float
 * element and a run not known to be shorter than LANES. */
static bool lanes_suffix(const Shape *sp, int64_t mask, int lo, Dtype d, int *start) {
  int s = sp->rank;
  while (s > lo && (mask >> (s - 1) & 1)) s--;
  *start = s;
  Dim n = {1, 0};
  for (int i = s; i < sp->rank; i++) n.k *= sp->d[i].k, n.b += sp->d[i].b;
  return isf(d) && s < sp->rank && (n.b || n.k >= LANES);
}

/* Folds axes [s, rank) of the nst stride arrays of a loop nest (sizes in
 * size[]) into one axis at index `at` (at <= s): its size the run's, each
 * array's stride its last one when its strides form one run, else NULL
 * (flat_offset then uses the strides kept in keep[k]). */
static void fold_suffix(Suffix *sf, int s, int rank, int at, LLVMValueRef *size, LLVMValueRef **sts, int nst,
                        LLVMValueRef (*keep)[MAX_RANK]) {
  sf->m = rank - s;
  sf->total = ci64(1);
  for (int i = 0; i < sf->m; i++) {
    sf->n[i] = size[s + i];
    sf->total = LLVMBuildMul(cg.b, sf->total, sf->n[i], "");
  }
  for (int k = 0; k < nst; k++) {
    bool run = true;
    for (int i = 0; i < sf->m; i++) keep[k][i] = sts[k][s + i];
    for (int i = 0; i + 1 < sf->m && run; i++) {
      long long a, b, nn;
      run = const_is(keep[k][i], &a) && const_is(keep[k][i + 1], &b) &&
            ((a == 0 && b == 0) || (const_is(sf->n[i + 1], &nn) && a == b * nn));
    }
    sts[k][at] = run ? keep[k][sf->m - 1] : NULL;
  }
  size[at] = sf->total;
}

/* The offset of element j of the suffix's run in an array with strides st. */
static LLVMValueRef flat_offset(const Suffix *sf, LLVMValueRef j, const LLVMValueRef *st) {
  LLVMValueRef off = ci64(0);
  for (int i = sf->m - 1; i >= 0; i--) {
    LLVMValueRef at = i ? LLVMBuildURem(cg.b, j, sf->n[i], "") : j;
    off = LLVMBuildAdd(cg.b, off, LLVMBuildMul(cg.b, at, st[i], ""), "");
    if (i) j = LLVMBuildUDiv(cg.b, j, sf->n[i], "");
  }
  return off;
}

/* idx times stride st, or (st NULL: the suffix axis of an array whose
 * strides are not one run) flat_offset. */
static LLVMValueRef step(LLVMValueRef idx, LLVMValueRef st, const Suffix *sf, const LLVMValueRef *keep) {
  return st ? LLVMBuildMul(cg.b, idx, st, "") : flat_offset(sf, idx, keep);
}

static LLVMValueRef reduce2(bool sum, LLVMValueRef a, LLVMValueRef x) {
  return sum ? LLVMBuildFAdd(cg.b, a, x, "") : fsel(LLVMBuildFCmp(cg.b, LLVMRealOGE, a, x, ""), a, x);
}

/* acc ⊕ p[0 .. n) (n ≤ BLOCK_ELEMS) in the lane order above. */
static LLVMValueRef lanes_reduce(LLVMValueRef p, LLVMValueRef n, Dtype d, bool sum, LLVMValueRef acc) {
  LLVMTypeRef vt = LLVMVectorType(ty(d), LANES);
  LLVMValueRef nv = LLVMBuildLShr(cg.b, n, ci64(4), "");
  LLVMValueRef e[LANES];
  for (int i = 0; i < LANES; i++) e[i] = sum ? cfl(0, d) : cfl(-INFINITY, d);
  LLVMValueRef init = LLVMConstVector(e, LANES);
  Loop lv = loop_begin(nv, "lanes");
  LLVMBasicBlockRef at = LLVMGetInsertBlock(cg.b);
  LLVMPositionBuilderBefore(cg.b, LLVMGetNextInstruction(lv.i));
  LLVMValueRef va = LLVMBuildPhi(cg.b, vt, "lanes");
  LLVMAddIncoming(va, &init, &lv.pre, 1);
  LLVMPositionBuilderAtEnd(cg.b, at);
  LLVMValueRef ld = LLVMBuildLoad2(cg.b, vt, gep(d, p, LLVMBuildShl(cg.b, lv.i, ci64(4), "")), "");
  LLVMSetAlignment(ld, d == DT_F64 ? 8 : 4);
  loop_carry_next(va, reduce2(sum, va, ld));
  loop_end(&lv);
  LLVMValueRef v = va;
  for (int w = LANES / 2; w >= 1; w /= 2) {
    LLVMValueRef lo[LANES / 2], hi[LANES / 2];
    for (int i = 0; i < w; i++) lo[i] = ci32(i), hi[i] = ci32(i + w);
    LLVMValueRef undef = LLVMGetUndef(LLVMTypeOf(v));
    v = reduce2(sum, LLVMBuildShuffleVector(cg.b, v, undef, LLVMConstVector(lo, w), ""),
                LLVMBuildShuffleVector(cg.b, v, undef, LLVMConstVector(hi, w), ""));
  }
  LLVMValueRef s = LLVMBuildExtractElement(cg.b, v, ci32(0), "");
  acc = fsel(LLVMBuildICmp(cg.b, LLVMIntSGT, nv, ci64(0), ""), reduce2(sum, acc, s), acc);
  Loop lt = loop_range(LLVMBuildShl(cg.b, nv, ci64(4), ""), n, "tail");
  LLVMValueRef a = loop_carry(&lt, acc, d);
  loop_carry_next(a, reduce2(sum, a, load(d, p, lt.i)));
  loop_end(&lt);
  return a;
}

typedef enum { LOOP_MAP, LOOP_SUM, LOOP_MAX } LoopMode;


/* Loop sizes n[0..rank) with nst stride arrays over them: merges dimension
 * d into the one before wherever every array walks the pair as one
 * dimension (st[d-1] = st[d]·n[d], known constants: the inner dimensions),
 * e.g. the 28×28 plane under a per-channel bias.  The elements are visited
 * in the same order, by fewer and longer loops: less IR for LLVM to
 * optimise, and rows long enough to vectorise well.  Returns the new rank. */
static int collapse(int rank, LLVMValueRef *n, LLVMValueRef **st, int nst) {
  int r = 0;
  for (int d = 0; d < rank; d++) {
    long long nd, a, b;
    bool merge = r > 0 && const_is(n[d], &nd);
    for (int k = 0; k < nst && merge; k++)
      merge = const_is(st[k][r - 1], &a) && const_is(st[k][d], &b) && a == b * nd;
    if (merge) {
      n[r - 1] = LLVMBuildMul(cg.b, n[r - 1], n[d], "");
      for (int k = 0; k < nst; k++) st[k][r - 1] = st[k][d];
    } else {
      n[r] = n[d];
      for (int k = 0; k < nst; k++) st[k][r] = st[k][d];
      r++;
    }
  }
  return r;
}

/* Work split over the worker team (see "Fused groups on the worker team" below). */
static struct { bool on; LLVMValueRef chunk, chunks; } par;
enum { PAR_MIN_ELEMS = 16384 };

/* The start of chunk c of [0, n): n·c/chunks rounded down to 16, and n
 * itself for c = chunks. */
static LLVMValueRef par_bound(LLVMValueRef n, LLVMValueRef c) {
  LLVMValueRef b = LLVMBuildSDiv(cg.b, LLVMBuildMul(cg.b, n, c, ""), par.chunks, "");
  b = LLVMBuildAnd(cg.b, b, ci64(~(int64_t)15), "");
  return fsel(LLVMBuildICmp(cg.b, LLVMIntSGE, c, par.chunks, ""), n, b);
}

/* This chunk's share [*lo, *hi) of [0, n). */
static void par_share(LLVMValueRef n, LLVMValueRef *lo, LLVMValueRef *hi) {
  *lo = par_bound(n, par.chunk);
  *hi = par_bound(n, LLVMBuildAdd(cg.b, par.chunk, ci64(1), ""));
}

/* A loop over this chunk's share of [0, n). */
static Loop par_loop(LLVMValueRef n, const char *name) {
  LLVMValueRef lo, hi;
  par_share(n, &lo, &hi);
  return loop_range(lo, hi, name);
}

/* for idx in shape: out[out.base + idx·out.st] (=, +=, max=) f(in_j[...]) */
static void strided(const Node *n, const Shape *sh, Operand *out, Operand *in, int nin, LoopMode mode) {
  Loop loops[MAX_RANK];
  LLVMValueRef off_o = out->base ? out->base : ci64(0), off[3];
  for (int j = 0; j < nin; j++) off[j] = in[j].base ? in[j].base : ci64(0);
  LLVMValueRef size[MAX_RANK], st[4][MAX_RANK], *sts[4] = {st[0]};
  int nst = 1;
  memcpy(st[0], out->st, sizeof st[0]);
  for (int j = 0; j < nin; j++)
    if (!in[j].cval) {
      memcpy(st[nst], in[j].st, sizeof st[0]);
      sts[nst] = st[nst];
      nst++;
    }
  for (int d = 0; d < sh->rank; d++) size[d] = dimval(sh->d[d]);
  /* a reduction adds in lanes along its reduced suffix (lanes_reduce, the
   * order emit_group_at's gives it): the suffix is one loop, in blocks
   * whose elements go to a stack row first */
  int64_t mask = 0;
  for (int d = 0; d < sh->rank; d++)
    if (mode != LOOP_MAP && const_zero(out->st[d])) mask |= (int64_t)1 << d;
  int s0;
  bool lanes = mode != LOOP_MAP && lanes_suffix(sh, mask, 0, out->dt, &s0);
  Suffix sf = {0};
  LLVMValueRef keep[4][MAX_RANK];
  int rank = collapse(lanes ? s0 : sh->rank, size, sts, nst);
  if (lanes) fold_suffix(&sf, s0, sh->rank, rank++, size, sts, nst, keep);
  bool inreg = mode != LOOP_MAP && rank > 0 && const_zero(st[0][rank - 1]);
  RegAcc ra = {0};
  Loop lj = {0};
  LLVMValueRef row = NULL, bn = NULL;
  /* a reduction on the team keeps only its last axis (column_sum): this
   * chunk's columns, set to the starting value, then all rows in order */
  bool cols = par.on && mode != LOOP_MAP && rank > 0 && !inreg && !lanes;
  LLVMValueRef clo = NULL, chi = NULL;
  if (cols) {
    par_share(size[rank - 1], &clo, &chi);
    Loop lf = loop_range(clo, chi, "init");
    store(out->dt, mode == LOOP_SUM ? cfl(0, out->dt) : cfl(-INFINITY, out->dt), out->ptr,
          LLVMBuildAdd(cg.b, off_o, LLVMBuildMul(cg.b, lf.i, st[0][rank - 1], ""), ""));
    loop_end(&lf);
  }
  for (int d = 0; d < rank; d++) {
    LLVMValueRef acc0 = inreg && d == rank - 1 ? load(out->dt, out->ptr, off_o) : NULL;
    bool lane_loop = lanes && d == rank - 1;
    if (cols && d == rank - 1)
      loops[d] = loop_range(clo, chi, "cols");
    else if (par.on && mode == LOOP_MAP && d == 0) /* a copy on the team (group_par_ok): this chunk's share */
      loops[d] = par_loop(size[0], "loop");
    else if (lane_loop)
      loops[d] = loop_begin(block_count(size[d], BLOCK_ELEMS), "block");
    else
      loops[d] = loop_begin(size[d], "loop");
    if (acc0) ra = regacc_begin(&loops[d], acc0, out->ptr, off_o, out->dt);
    LLVMValueRef idx = loops[d].i;
    if (lane_loop) {
      LLVMValueRef b0;
      row = k_entry_alloca(cg.b, cg.fn, LLVMArrayType2(ty(out->dt), BLOCK_ELEMS), "row");
      bn = block_len(size[d], loops[d].i, BLOCK_ELEMS, &b0);
      lj = loop_begin(bn, "elems");
      idx = LLVMBuildAdd(cg.b, b0, lj.i, "");
    }
    off_o = LLVMBuildAdd(cg.b, off_o, step(idx, st[0][d], &sf, keep[0]), "");
    for (int j = 0, k = 1; j < nin; j++)
      if (!in[j].cval) {
        off[j] = LLVMBuildAdd(cg.b, off[j], step(idx, st[k][d], &sf, keep[k]), "");
        k++;
      }
  }
  LLVMValueRef v[3];
  for (int j = 0; j < nin; j++) v[j] = in[j].cval ? in[j].cval : load(in[j].dt, in[j].ptr, off[j]);
  LLVMValueRef r;
  if (mode == LOOP_MAP) r = n ? scalar(n, v) : v[0];
  else if (lanes) {
    store(out->dt, v[0], row, lj.i);
    loop_end(&lj);
    r = lanes_reduce(row, bn, out->dt, mode == LOOP_SUM, ra.phi);
  } else {
    LLVMValueRef acc = inreg ? ra.phi : load(out->dt, out->ptr, off_o);
    if (mode == LOOP_SUM) r = LLVMBuildFAdd(cg.b, acc, v[0], "");
    else r = fsel(LLVMBuildFCmp(cg.b, LLVMRealOGE, acc, v[0], ""), acc, v[0]);
  }
  int d = rank - 1;
  if (inreg)
    regacc_end(&ra, &loops[d--], r);
  else
    store(out->dt, r, out->ptr, off_o);
  for (; d >= 0; d--) loop_end(&loops[d]);
}

/* ---- kernels --------------------------------------------------------------- */

/* Where a node's value lives, as plan() decides it: a slot (a parameter,
 * input or output), an offset into the scratch arena (scaled by the batch,
 * or after the batch-scaled part), or nowhere (registers, or a constant).  A
 * reshape has its root's buffer.  The pointer itself is built on first use
 * in each function (bptr), in that function's prelude block: a kernel is
 * split into several functions (emit_kernel), and each builds only the
 * pointers it uses, so the IR stays linear in the program's size. */
enum { BUF_NONE, BUF_SLOT, BUF_SCALED, BUF_FIXED };
typedef struct Buf {
  int kind, root; /* root: the node whose buffer this is (itself, or a reshape's source) */
  int64_t at;     /* the slot, or the offset (per batch row for BUF_SCALED) */
  bool in_slot;
  const char *name;
  LLVMValueRef ptr;
  unsigned gen; /* ptr belongs to the function emitted as FnState.gen */
  /* A scan's step reads a sequence's slice, or writes a stacked row, in
   * place: `at` is then dyn, an i64 of function dyn_gen that changes with
   * the step (the pointer is made where it is used). */
  LLVMValueRef dyn, dyn_ptr; /* dyn_ptr: its pointer, made at the top of the step */
  unsigned dyn_gen;
} Buf;

/* The function being emitted: its prelude (the block the pointers go to,
 * left open until the function is finished), its arguments and the start
 * of the fixed-size part of scratch, built on first use. */
typedef struct FnState {
  LLVMValueRef fn, slots, scratch, arenaB;
  LLVMBasicBlockRef prelude;
  const MemPlan *mp;
  unsigned gen;    /* a number of its own for each function begun */
  bool outlined;   /* a work item's function: see emit_outlined */
  struct Buf **roots; /* outlined: what its table holds, in order: a buffer, */
  int nroots, caproots; /* or NULL for the next of sites */
  Node **sites; int nsites, capsites;
} FnState;
static FnState fnst;
static unsigned fn_gens;

/* Scratch + offset v of a buffer of kind BUF_SCALED or BUF_FIXED, built
 * at the builder's position. */
static LLVMValueRef scratch_ptr(int kind, LLVMValueRef v) {
  if (kind == BUF_FIXED && !fnst.arenaB) {
    LLVMBasicBlockRef at = LLVMGetInsertBlock(cg.b);
    LLVMPositionBuilderAtEnd(cg.b, fnst.prelude);
    fnst.arenaB = LLVMBuildMul(cg.b, ci64(fnst.mp->totalB), cg.batch, "arenaB");
    LLVMPositionBuilderAtEnd(cg.b, at);
  }
  LLVMValueRef off = kind == BUF_SCALED ? LLVMBuildMul(cg.b, v, cg.batch, "") : LLVMBuildAdd(cg.b, fnst.arenaB, v, "");
  return LLVMBuildGEP2(cg.b, cg.t.i8, fnst.scratch, &off, 1, "t");
}

/* The slot or offset of b in the current function: a constant, or
 * (outlined) the next entry of the table, loaded in the prelude. */
static LLVMValueRef buf_at(Buf *b) {
  if (!fnst.outlined) return ci64(b->at);
  /* a buffer at another's place (memplan's in place) reads that entry: one
   * pointer, so LLVM sees an element read and then written where it is,
   * not two arrays that may overlap (a runtime check, then scalar code) */
  int e = 0;
  while (e < fnst.nroots && !(fnst.roots[e] && fnst.roots[e]->kind == b->kind && b->kind && !b->dyn && !fnst.roots[e]->dyn &&
                               fnst.roots[e]->at == b->at))
    e++;
  LLVMBasicBlockRef at = LLVMGetInsertBlock(cg.b);
  LLVMPositionBuilderAtEnd(cg.b, fnst.prelude);
  LLVMValueRef v = LLVMBuildLoad2(cg.b, cg.t.i64, LLVMBuildGEP2(cg.b, cg.t.i64, LLVMGetParam(fnst.fn, 4), (LLVMValueRef[]){ci64(e)}, 1, ""), "at");
  if (e == fnst.nroots) PUSH(fnst.roots, fnst.nroots, fnst.caproots, b);
  LLVMPositionBuilderAtEnd(cg.b, at);
  return v;
}

static LLVMValueRef bptr(Buf *bufs, int id) {
  Buf *b = &bufs[bufs[id].root];
  if (!b->kind) return NULL;
  if (b->dyn && b->dyn_gen == fnst.gen) return b->dyn_ptr;
  if (b->gen == fnst.gen) return b->ptr;
  LLVMBasicBlockRef at = LLVMGetInsertBlock(cg.b);
  LLVMValueRef v = buf_at(b);
  LLVMPositionBuilderAtEnd(cg.b, fnst.prelude);
  if (b->kind == BUF_SLOT) {
    LLVMValueRef p = LLVMBuildGEP2(cg.b, cg.t.ptr, fnst.slots, &v, 1, "");
    b->ptr = LLVMBuildLoad2(cg.b, cg.t.ptr, p, b->name && !fnst.outlined ? b->name : "out");
  } else {
    b->ptr = scratch_ptr(b->kind, v);
  }
  b->gen = fnst.gen;
  LLVMPositionBuilderAtEnd(cg.b, at);
  return b->ptr;
}

/* An i64 constant of the code that differs between alike items (a
 * slice's start): in an outlined item, the next entry of its table (a Buf
 * that is no buffer, its value in `at`), so steps of an unrolled loop that
 * read x[:, t, :] share one function; elsewhere the constant itself. */
static LLVMValueRef item_const(int64_t v) {
  if (!fnst.outlined) return ci64(v);
  LLVMBasicBlockRef at = LLVMGetInsertBlock(cg.b);
  LLVMPositionBuilderAtEnd(cg.b, fnst.prelude);
  LLVMValueRef r = LLVMBuildLoad2(cg.b, cg.t.i64, LLVMBuildGEP2(cg.b, cg.t.i64, LLVMGetParam(fnst.fn, 4), (LLVMValueRef[]){ci64(fnst.nroots)}, 1, ""), "k");
  Buf *b = arena_alloc(sizeof *b);
  memset(b, 0, sizeof *b);
  b->at = v;
  PUSH(fnst.roots, fnst.nroots, fnst.caproots, b);
  LLVMPositionBuilderAtEnd(cg.b, at);
  return r;
}

static LLVMValueRef const_value(const Node *c, Dtype d) {
  LLVMValueRef v = cfl(c->fv, isf(d) ? d : DT_F64);
  if (c->bpow == 0) return isf(d) ? v : LLVMConstInt(ty(d), (unsigned long long)(int64_t)c->fv, 1);
  LLVMValueRef bf = LLVMBuildSIToFP(cg.b, cg.batch, ty(d), "");
  for (int i = 0; i < abs(c->bpow); i++) v = c->bpow > 0 ? LLVMBuildFMul(cg.b, v, bf, "") : LLVMBuildFDiv(cg.b, v, bf, "");
  return v;
}

/* The kernel being emitted's views (Kernel.view), for operand. */
static const char *cur_view;

/* Operand reading node x broadcast into shape sh (right-aligned); a view
 * (a slice fused loops read in place) reads its input with the input's
 * strides, from the slice's first element. */
static Operand operand(Buf *bufs, const Node *x, const Shape *sh, Dtype want) {
  Operand o = {0};
  o.dt = x->dt;
  if (x->op == OP_CONST) {
    o.cval = const_value(x, want);
    o.dt = want;
    return o;
  }
  if (cur_view && cur_view[x->id] && x->op == OP_BROADCAST) /* its input, broadcast further */
    return operand(bufs, x->in[0], sh, want);
  LLVMValueRef st[MAX_RANK];
  if (cur_view && cur_view[x->id]) {
    strides(&x->in[0]->sh, st);
    LLVMValueRef first = ci64(0);
    for (int d = 0; d < x->sh.rank; d++)
      if (x->ia[d]) first = LLVMBuildAdd(cg.b, first, LLVMBuildMul(cg.b, item_const(x->ia[d]), st[d], ""), "");
    o.ptr = gep(x->dt, bptr(bufs, x->in[0]->id), first);
  } else {
    o.ptr = bptr(bufs, x->id);
    strides(&x->sh, st);
  }
  int off = sh->rank - x->sh.rank;
  for (int d = 0; d < sh->rank; d++) {
    int j = d - off;
    bool bcast = j < 0 || (x->sh.d[j].k == 1 && x->sh.d[j].b == 0 && !(sh->d[d].k == 1 && sh->d[d].b == 0));
    o.st[d] = bcast ? ci64(0) : st[j];
  }
  return o;
}

static Operand dense(LLVMValueRef ptr, const Shape *sh, Dtype d) {
  Operand o = {0};
  o.ptr = ptr;
  o.dt = d;
  strides(sh, o.st);
  return o;
}

/* The kernel being emitted, for values placed in concats (Kernel.place). */
static const Kernel *place_k;

/* Where value n is written: its own buffer, dense; or, placed in a concat
 * (fuse.c's place_in_concats), the root concat's buffer from n's first
 * column, n's leading dims at the concat's strides and the rest dense
 * within its columns. */
static Operand out_operand(Buf *bufs, const Node *n, Dtype d);

static void fill(LLVMValueRef ptr, const Shape *sh, Dtype d, LLVMValueRef v) {
  Shape flat = {1, {shape_numel(sh)}};
  Operand out = dense(ptr, &flat, d);
  Operand in = {.cval = v, .dt = d};
  strided(NULL, &flat, &out, &in, 1, LOOP_MAP);
}

/* Fused groups on the worker team.  A group over many elements is emitted
 * as an item function that takes (chunk, chunks) after its table and runs
 * only its share of the group's outermost loop, [n·chunk/chunks,
 * n·(chunk+1)/chunks) rounded to 16 elements; the kernel calls it through
 * nnrt_par_item, which picks the number of chunks from the group's size
 * and runs them on the team.  Only groups whose elements are independent
 * are split: element-wise groups, and reductions over the last axis alone
 * (each output's sum runs whole inside one chunk, in the same order, from
 * the reduction's initial value instead of a filled buffer).  So every
 * element is computed by the same instructions in the same order whatever
 * the split: any thread count gives the same bits.  NNC_NO_PAR=1 emits
 * every group inline (to compare).  A row-wise op (softmax) alone splits
 * its rows the same way, a row nest its rows, a copy (transpose, slice,
 * broadcast, concat) its outermost loop, an embedding its work items; a
 * column sum (a bias's gradient) splits its columns, one chunk per thread
 * (nnrt_par_team: every column is summed whole, over the rows in order,
 * whoever sums it). */

/* Row `row` of a softmax or log-softmax (of its rows flattened). */
static void emit_row_at(const Node *n, Buf *bufs, LLVMValueRef row) {
  Dtype d = n->dt;
  LLVMValueRef last = dimval(n->sh.d[n->sh.rank - 1]);
  LLVMValueRef in = bptr(bufs, n->in[0]->id), out = bptr(bufs, n->id);
  LLVMValueRef base = LLVMBuildMul(cg.b, row, last, "");
  LLVMValueRef pi = gep(d, in, base), po = gep(d, out, base);
  /* pass 1: max (in lanes, see lanes_reduce) */
  LLVMValueRef mx = lanes_reduce(pi, last, d, false, cfl(-INFINITY, d));
  /* pass 2: sum of exp(x - max), in blocks of BLOCK_ELEMS: the block's
   * exps into a stack row (a loop LLVM vectorises, libmvec's 8-lane exp;
   * softmax also stores them), then added in lanes */
  LLVMValueRef tmp = k_entry_alloca(cg.b, cg.fn, LLVMArrayType2(ty(d), BLOCK_ELEMS), "exps");
  Loop lb = loop_begin(block_count(last, BLOCK_ELEMS), "block");
  LLVMValueRef acc = loop_carry(&lb, cfl(0, d), d);
  LLVMValueRef b0, bn = block_len(last, lb.i, BLOCK_ELEMS, &b0);
  Loop l2 = loop_begin(bn, "exp");
  LLVMValueRef at = LLVMBuildAdd(cg.b, b0, l2.i, "");
  LLVMValueRef e = cpu_math(M_EXP, d, (LLVMValueRef[]){LLVMBuildFSub(cg.b, load(d, pi, at), mx, "")}, 1);
  store(d, e, tmp, l2.i);
  if (n->op == OP_SOFTMAX) store(d, e, po, at);
  loop_end(&l2);
  loop_carry_next(acc, lanes_reduce(tmp, bn, d, true, acc));
  loop_end(&lb);
  LLVMValueRef s = acc;
  Loop l3 = loop_begin(last, "out");
  LLVMValueRef y;
  if (n->op == OP_SOFTMAX) y = LLVMBuildFDiv(cg.b, load(d, po, l3.i), s, "");
  else y = LLVMBuildFSub(cg.b, LLVMBuildFSub(cg.b, load(d, pi, l3.i), mx, ""), intrinsic("llvm.log", d, &s, 1), "");
  store(d, y, po, l3.i);
  loop_end(&l3);
}

static void emit_row(const Node *n, Buf *bufs) {
  Shape rows_sh = n->sh;
  rows_sh.rank--;
  LLVMValueRef rows = numel(&rows_sh);
  Loop r = par.on ? par_loop(rows, "row") : loop_begin(rows, "row"); /* split over the team: this chunk's rows */
  emit_row_at(n, bufs, r.i);
  loop_end(&r);
}

static LLVMValueRef rt_fn(const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n, LLVMTypeRef *fty) {
  *fty = LLVMFunctionType(ret, params, (unsigned)n, 0);
  LLVMValueRef f = LLVMGetNamedFunction(cg.mod, name);
  if (!f) f = LLVMAddFunction(cg.mod, name, *fty);
  return f;
}

/* GEMM epilogues.  A rank-2 f32 product whose only reader is the next work
 * item, a bias added to it alone (and then relu, the add's value read by
 * nothing else), is one call of nnrt_sgemm_bias: the product is written
 * straight into the add's (or relu's) buffer and each part of it gets its
 * bias and relu on the thread that computed it, while it is in that core's
 * cache; the add's loop is not emitted.  The same operations on the same
 * values: the same bits as the product and then the loop.  By node id,
 * set per kernel by plan_epilogues: */
static struct {
  const Node **out, **bias; /* the product's: where its result goes, the bias added */
  char *relu;               /* the product's: relu after the bias */
  char *absorbed;           /* the add's: done by the product before it */
} epi;

/* Whether buffers of x and y may share bytes (same arena, overlapping). */
static bool bufs_overlap(const Kernel *k, const Buf *bufs, const Node *x, const Node *y) {
  const Buf *a = &bufs[x->id], *b = &bufs[y->id];
  if (a->kind != b->kind || a->dyn || b->dyn) return a->dyn || b->dyn;
  if (a->kind == BUF_SLOT) return a->at == b->at;
  int64_t sa = k->plan->size[a->root], sb = k->plan->size[b->root];
  return a->at < b->at + sb && b->at < a->at + sa;
}

static bool same_dim(Dim a, Dim b) { return a.k == b.k && a.b == b.b; }

/* n is x, or a reshape of x. */
static bool is_or_reshapes(const Node *n, const Node *x) { return n == x || (n->op == OP_RESHAPE && n->in[0] == x); }

/* Whether node m's value is read by anything but `user` (through a
 * reshape that only user reads), or leaves the kernel. */
static bool read_elsewhere(const Kernel *k, const Node *m, const Node *user) {
  for (int i = 0; i < k->nouts; i++)
    if (is_or_reshapes(k->outs[i].node, m)) return true;
  for (int i = 0; i < k->nsched; i++) {
    const Node *n = k->sched[i];
    if (n == user || (n->op == OP_RESHAPE && n->in[0] == m)) continue;
    for (int j = 0; j < n->nin; j++)
      if (n->in[j] && is_or_reshapes(n->in[j], m)) return true;
  }
  return false;
}

/* The buffer a batched product's operand is read from (a view's root). */
static const Node *operand_root(const Kernel *k, const Node *m, int j) {
  GemmView g;
  const Node *x = m->in[j];
  return k->view && k->view[x->id] == VIEW_GEMM && gemm_view(k->view, m, j, &g) ? g.l.root : x;
}

/* Work items i (a batched product) and i + 1 (a transpose of it that keeps
 * the last axis, the product read by nothing else: attention's heads
 * merged, [B, H, T, D] -> [B, T, H, D]): the product writes each matrix
 * straight into the transpose's buffer, with its strides, and the
 * transpose's loop is not emitted.  The same values in the same places. */
static void plan_batch_out(const Kernel *k, const Group *gm, const Group *gt, const Buf *bufs) {
  const Node *m = gm->nodes[0], *t = gt->nodes[0];
  int r = m->sh.rank;
  if (r < 3 || r > 4 || gt->fused || gt->n != 1 || t->op != OP_TRANSPOSE || t->in[0] != m || t->ia[r - 1] != r - 1) return;
  if (read_elsewhere(k, m, t) || !bufs[t->id].kind || (k->view && k->view[t->id])) return;
  for (int j = 0; j < 2; j++)
    if (bufs_overlap(k, bufs, t, operand_root(k, m, j))) return;
  epi.out[m->id] = t;
  epi.absorbed[t->id] = 1;
}

/* Work items i (a product) and i + 1 (its bias, maybe relu): fused as above? */
static void plan_epilogue(const Kernel *k, const Group *gm, const Group *ga, const Buf *bufs) {
  if (gm->n == 1 && gm->nodes[0]->op == OP_MATMUL && gm->nodes[0]->sh.rank > 2) {
    plan_batch_out(k, gm, ga, bufs);
    return;
  }
  if (gm->n != 1 || gm->nodes[0]->op != OP_MATMUL || !ga->fused || ga->closed || ga->n < 1 || ga->n > 2) return;
  const Node *m = gm->nodes[0], *add = ga->nodes[0], *out = add, *bias = NULL, *x = NULL;
  if (m->sh.rank != 2 || m->dt != DT_F32 || add->op != OP_ADD || add->dt != DT_F32) return;
  if (ga->n == 2) {
    out = ga->nodes[1];
    if (out->op != OP_RELU || out->in[0] != add || k->stored[add->id]) return;
  }
  for (int j = 0; j < 2; j++)
    if (is_or_reshapes(add->in[j], m)) x = add->in[j], bias = add->in[1 - j];
  if (!x || is_or_reshapes(bias, m)) return;
  /* the bias: one value per column, the add's last axis that of the product */
  const Dim nd = m->sh.d[1];
  const Shape *as = &add->sh, *bs = &bias->sh;
  if (!shape_eq(&x->sh, as) || as->rank < 1 || !same_dim(as->d[as->rank - 1], nd) || bs->rank < 1 || bs->rank > as->rank ||
      !same_dim(bs->d[bs->rank - 1], nd) || bias->dt != DT_F32)
    return;
  for (int d = 0; d + 1 < bs->rank; d++)
    if (!(bs->d[d].k == 1 && bs->d[d].b == 0)) return;
  /* a product the runtime computes (not emitted inline: emit_matmul) */
  const Node *a = m->in[0], *b = m->in[1];
  Dim dk = a->sh.d[m->ia[0] ? 0 : 1], dm = m->sh.d[0];
  if (dm.b + nd.b + dk.b == 0 && dm.k * nd.k * dk.k < NNRT_SMALL_SGEMM) return;
  if (read_elsewhere(k, m, add)) return;
  /* buffers: the result's must not share bytes with what the product reads */
  const Node *reads[] = {a, b, bias};
  if (!bufs[out->id].kind || !bufs[bias->id].kind) return;
  for (int i = 0; i < 3; i++)
    if (bufs_overlap(k, bufs, out, reads[i])) return;
  epi.out[m->id] = out;
  epi.bias[m->id] = bias;
  epi.relu[m->id] = ga->n == 2;
  epi.absorbed[add->id] = 1;
}

/* Elements between two matrices of x in a batched product: 0 where every
 * product reads the same matrix (g_matmul made its batch dims all 1). */
static LLVMValueRef batch_stride(const Node *x) {
  Shape b = x->sh, mat = x->sh;
  b.rank -= 2;
  if (shape_numel(&b).k == 1 && shape_numel(&b).b == 0) return ci64(0);
  mat.d[0] = x->sh.d[x->sh.rank - 2], mat.d[1] = x->sh.d[x->sh.rank - 1], mat.rank = 2;
  return numel(&mat);
}

/* Operand j of batched product n: its pointer, transposition, leading
 * dimension and strides over the batch split as n1 x n2 (n2: the last
 * batch dim when there are two, else 1) — read in place through views
 * (fuse.c gemm_view) or dense (one matrix after another, or one matrix
 * for all). */
static void batch_operand(const Node *n, int j, Buf *bufs, LLVMValueRef n2, LLVMValueRef out[5]) {
  const Node *x = n->in[j];
  int rx = x->sh.rank;
  GemmView g;
  if (cur_view && cur_view[x->id] == VIEW_GEMM && gemm_view(cur_view, n, j, &g)) {
    out[0] = gep(x->dt, bptr(bufs, g.l.root->id), dimval(g.l.off));
    out[1] = ci32(g.trans);
    out[2] = dimval(g.ld);
    out[4] = dimval(g.bs[g.nb - 1]);
    out[3] = g.nb == 2 ? dimval(g.bs[0]) : out[4]; /* one batch dim: n2 is 1 */
    return;
  }
  if (cur_view && cur_view[x->id] == VIEW_GEMM) nnc_unreachable("%%%d: a product's view without a layout", x->id);
  LLVMValueRef s = batch_stride(x);
  out[0] = bptr(bufs, x->id);
  out[1] = ci32((int)n->ia[j]);
  out[2] = dimval(x->sh.d[rx - 1]);
  out[3] = LLVMBuildMul(cg.b, s, n2, "");
  out[4] = s;
}

/* [..., m, k] @ [..., k, n]: the runtime's strided batch of GEMMs. */
static void emit_matmul_batch(const Node *n, Buf *bufs) {
  Node *a = n->in[0];
  int ta = (int)n->ia[0], r = n->sh.rank, ra = a->sh.rank;
  Dtype d = n->dt;
  Shape batch = n->sh;
  batch.rank -= 2;
  LLVMValueRef n2 = batch.rank == 2 ? dimval(batch.d[1]) : ci64(1), oa[5], ob[5];
  batch_operand(n, 0, bufs, n2, oa);
  batch_operand(n, 1, bufs, n2, ob);
  /* the result: dense, or in the buffer of the transpose after it
   * (plan_batch_out), each dim of n at the stride of its place there */
  LLVMValueRef c = bptr(bufs, n->id), cst[MAX_RANK];
  strides(&n->sh, cst);
  const Node *t = epi.out ? epi.out[n->id] : NULL;
  if (t) { /* (the transpose's layout: maybe in a concat's buffer, out_operand) */
    Operand to = out_operand(bufs, t, d);
    c = to.base ? gep(d, to.ptr, to.base) : to.ptr;
    for (int q = 0; q < r; q++) cst[t->ia[q]] = to.st[q];
  }
  LLVMValueRef sc1 = batch.rank == 2 ? cst[0] : LLVMBuildMul(cg.b, cst[0], n2, ""), sc2 = cst[batch.rank - 1];
  /* nnrt_sgemm_batch(ta, tb, m, n, k, n1, n2, a, lda, sa1, sa2, b, ldb, sb1, sb2, c, ldc, sc1, sc2) */
  LLVMTypeRef ps[] = {cg.t.i32, cg.t.i32, cg.t.i64, cg.t.i64, cg.t.i64, cg.t.i64, cg.t.i64, cg.t.ptr, cg.t.i64, cg.t.i64,
                      cg.t.i64, cg.t.ptr, cg.t.i64, cg.t.i64, cg.t.i64, cg.t.ptr, cg.t.i64, cg.t.i64, cg.t.i64};
  LLVMTypeRef fty;
  LLVMValueRef f = rt_fn(d == DT_F32 ? "nnrt_sgemm_batch" : "nnrt_dgemm_batch", cg.t.vd, ps, 19, &fty);
  LLVMValueRef n1 = LLVMBuildUDiv(cg.b, numel(&batch), n2, "");
  LLVMValueRef args[] = {oa[1], ob[1], dimval(n->sh.d[r - 2]), dimval(n->sh.d[r - 1]),
                         dimval(a->sh.d[ta ? ra - 2 : ra - 1]), n1, n2, oa[0], oa[2], oa[3], oa[4],
                         ob[0], ob[2], ob[3], ob[4], c, cst[r - 2], sc1, sc2};
  LLVMBuildCall2(cg.b, fty, f, args, 19, "");
}

static void emit_matmul(const Node *n, Buf *bufs) {
  if (n->sh.rank > 2) {
    emit_matmul_batch(n, bufs);
    return;
  }
  Node *a = n->in[0], *bb = n->in[1];
  int ta = (int)n->ia[0], tb = (int)n->ia[1];
  Dtype d = n->dt;
  LLVMValueRef M = dimval(n->sh.d[0]), N = dimval(n->sh.d[1]);
  LLVMValueRef K = dimval(a->sh.d[ta ? 0 : 1]);
  LLVMValueRef lda = dimval(a->sh.d[1]), ldb = dimval(bb->sh.d[1]);
  if (epi.out && epi.out[n->id]) { /* with its bias (and relu): see plan_epilogue */
    LLVMTypeRef ps[] = {cg.t.i32, cg.t.i32, cg.t.i64, cg.t.i64, cg.t.i64, cg.t.ptr, cg.t.i64,
                        cg.t.ptr, cg.t.i64, cg.t.ptr, cg.t.ptr, cg.t.i32}, fty;
    LLVMValueRef f = rt_fn("nnrt_sgemm_bias", cg.t.vd, ps, 12, &fty);
    LLVMValueRef args[] = {ci32(ta), ci32(tb), M, N, K, bptr(bufs, a->id), lda, bptr(bufs, bb->id), ldb,
                           bptr(bufs, epi.out[n->id]->id), bptr(bufs, epi.bias[n->id]->id), ci32(epi.relu[n->id])};
    LLVMBuildCall2(cg.b, fty, f, args, 12, "");
    return;
  }
  LLVMTypeRef fp = ty(d);
  LLVMTypeRef ps[] = {cg.t.i32, cg.t.i32, cg.t.i64, cg.t.i64, cg.t.i64, fp, cg.t.ptr, cg.t.i64, cg.t.ptr, cg.t.i64, fp, cg.t.ptr, cg.t.i64};
  LLVMTypeRef fty;
  LLVMValueRef f = rt_fn(d == DT_F32 ? "nnrt_sgemm" : "nnrt_dgemm", cg.t.vd, ps, 13, &fty);
  LLVMValueRef args[] = {ci32(ta), ci32(tb), M, N, K, cfl(1, d), bptr(bufs, a->id), lda, bptr(bufs, bb->id), ldb,
                         cfl(0, d), bptr(bufs, n->id), N};
  /* A tiny product (XOR's [4, 2] @ [2, 4]) is the runtime's plain loop
   * (gemm.c, below SMALL_SGEMM / SMALL_DGEMM multiply-adds) emitted here,
   * with the sizes it knows as constants: the same additions in the same
   * order (so the same bits), without a call and a loop over strides. */
  const Dim dn = n->sh.d[1], dk = a->sh.d[ta ? 0 : 1], dm = n->sh.d[0];
  int64_t small = d == DT_F32 ? NNRT_SMALL_SGEMM : NNRT_SMALL_DGEMM;
  Dim mnk = {dm.k * dn.k * dk.k, dm.b + dn.b + dk.b};
  if (mnk.b > 1 || mnk.k >= small) {
    LLVMBuildCall2(cg.b, fty, f, args, 13, "");
    return;
  }
  LLVMBasicBlockRef inl = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "small_gemm");
  LLVMBasicBlockRef lib = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "gemm");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "gemm_done");
  LLVMValueRef macs = LLVMBuildMul(cg.b, LLVMBuildMul(cg.b, M, N, ""), K, "");
  LLVMBuildCondBr(cg.b, LLVMBuildICmp(cg.b, LLVMIntSLT, macs, ci64(small), ""), inl, lib);
  LLVMPositionBuilderAtEnd(cg.b, lib);
  LLVMBuildCall2(cg.b, fty, f, args, 13, "");
  LLVMBuildBr(cg.b, done);
  LLVMPositionBuilderAtEnd(cg.b, inl);
  LLVMValueRef A = bptr(bufs, a->id), Bm = bptr(bufs, bb->id), C = bptr(bufs, n->id);
  /* op(A)(i,p) = A[i*ai + p*ap], op(B)(p,j) = B[p*bp + j*bj] */
  LLVMValueRef ai = ta ? ci64(1) : lda, ap = ta ? lda : ci64(1), bp = tb ? ci64(1) : ldb, bj = tb ? ldb : ci64(1);
  Loop li = loop_begin(M, "gi");
  Loop lj = loop_begin(N, "gj");
  LLVMValueRef sum = cfl(0, d);
  if (!dk.b) { /* a known K (below the threshold): unrolled */
    for (int64_t p = 0; p < dk.k; p++) {
      LLVMValueRef x = load(d, A, LLVMBuildAdd(cg.b, LLVMBuildMul(cg.b, li.i, ai, ""), LLVMBuildMul(cg.b, ci64(p), ap, ""), ""));
      LLVMValueRef y = load(d, Bm, LLVMBuildAdd(cg.b, LLVMBuildMul(cg.b, ci64(p), bp, ""), LLVMBuildMul(cg.b, lj.i, bj, ""), ""));
      sum = LLVMBuildFAdd(cg.b, sum, LLVMBuildFMul(cg.b, x, y, ""), "");
    }
  } else { /* K is the batch (a weight's gradient): a loop */
    Loop lp = loop_begin(K, "gp");
    LLVMValueRef acc = loop_carry(&lp, cfl(0, d), d);
    LLVMValueRef x = load(d, A, LLVMBuildAdd(cg.b, LLVMBuildMul(cg.b, li.i, ai, ""), LLVMBuildMul(cg.b, lp.i, ap, ""), ""));
    LLVMValueRef y = load(d, Bm, LLVMBuildAdd(cg.b, LLVMBuildMul(cg.b, lp.i, bp, ""), LLVMBuildMul(cg.b, lj.i, bj, ""), ""));
    loop_carry_next(acc, LLVMBuildFAdd(cg.b, acc, LLVMBuildFMul(cg.b, x, y, ""), ""));
    loop_end(&lp);
    sum = acc;
  }
  store(d, LLVMBuildFMul(cg.b, cfl(1, d), sum, ""), C, LLVMBuildAdd(cg.b, LLVMBuildMul(cg.b, li.i, N, ""), lj.i, ""));
  loop_end(&lj);
  loop_end(&li);
  LLVMBuildBr(cg.b, done);
  LLVMPositionBuilderAtEnd(cg.b, done);
}

/* An i64 array on the stack holding vals (a geometry struct for the runtime). */
static LLVMValueRef geo_struct(LLVMValueRef *vals, int n) {
  LLVMValueRef a = LLVMBuildArrayAlloca(cg.b, cg.t.i64, ci64(n), "geo");
  for (int i = 0; i < n; i++) LLVMBuildStore(cg.b, vals[i], LLVMBuildGEP2(cg.b, cg.t.i64, a, (LLVMValueRef[]){ci64(i)}, 1, ""));
  return a;
}

static void emit_lib(const Node *n, Buf *bufs) {
  Dtype d = n->dt == DT_I32 ? n->in[0]->dt : n->dt;
  const char *sfx = d == DT_F64 ? "_f64" : "_f32";
  LLVMValueRef out = bptr(bufs, n->id), a = bptr(bufs, n->in[0]->id), b = n->nin > 1 ? bptr(bufs, n->in[1]->id) : NULL;
  LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr};
  LLVMTypeRef fty;
  const char *fname;
  LLVMValueRef geo;
  if (n->op == OP_CONV2D || n->op == OP_CONV2D_BWD_DATA || n->op == OP_CONV2D_BWD_WEIGHTS) {
    const Shape *xs = n->op == OP_CONV2D_BWD_DATA ? &n->sh : &n->in[0]->sh;
    const Shape *ws = n->op == OP_CONV2D_BWD_WEIGHTS ? &n->sh : &n->in[1]->sh;
    const Shape *ys = n->op == OP_CONV2D ? &n->sh : n->op == OP_CONV2D_BWD_DATA ? &n->in[0]->sh : &n->in[1]->sh;
    LLVMValueRef v[16] = {dimval(xs->d[0]), dimval(xs->d[1]), dimval(xs->d[2]), dimval(xs->d[3]),
                          dimval(ws->d[0]), dimval(ws->d[2]), dimval(ws->d[3]), dimval(ys->d[2]), dimval(ys->d[3])};
    for (int i = 0; i < 7; i++) v[9 + i] = ci64(n->ia[i]);
    geo = geo_struct(v, 16);
    fname = n->op == OP_CONV2D ? "nnrt_conv2d" : n->op == OP_CONV2D_BWD_DATA ? "nnrt_conv2d_bwd_data" : "nnrt_conv2d_bwd_weights";
  } else {
    bool big_out = n->op == OP_UNPOOL || n->op == OP_AVGPOOL_BWD;
    const Shape *big = big_out ? &n->sh : &n->in[0]->sh;
    const Shape *small = big_out ? &n->in[0]->sh : &n->sh;
    LLVMValueRef v[12] = {dimval(big->d[0]), dimval(big->d[1]), dimval(big->d[2]), dimval(big->d[3]),
                          dimval(small->d[2]), dimval(small->d[3])};
    for (int i = 0; i < 6; i++) v[6 + i] = ci64(n->ia[i]);
    geo = geo_struct(v, 12);
    switch (n->op) {
    case OP_MAXPOOL: case OP_POOLIDX: {
      /* one runtime call makes both values and indices; the other half of
       * this node's buffer holds the part not asked for */
      LLVMValueRef half = LLVMBuildMul(cg.b, numel(&n->sh), ci64(8), "");
      LLVMValueRef other = LLVMBuildGEP2(cg.b, cg.t.i8, out, &half, 1, "");
      LLVMValueRef vals = n->op == OP_MAXPOOL ? out : other, idx = n->op == OP_MAXPOOL ? other : out;
      LLVMValueRef f = rt_fn(arena_printf("nnrt_maxpool2d%s", sfx), cg.t.vd, ps, 4, &fty);
      LLVMBuildCall2(cg.b, fty, f, (LLVMValueRef[]){geo, vals, idx, a}, 4, "");
      return;
    }
    case OP_UNPOOL: fname = "nnrt_unpool2d"; break;
    case OP_GATHER2D: fname = "nnrt_gather2d"; break;
    case OP_AVGPOOL: fname = "nnrt_avgpool2d"; break;
    default: fname = "nnrt_avgpool2d_bwd"; break;
    }
  }
  int na = b ? 4 : 3;
  LLVMValueRef f = rt_fn(arena_printf("%s%s", fname, sfx), cg.t.vd, ps, na, &fty);
  LLVMValueRef args[4] = {geo, out, a, b};
  LLVMBuildCall2(cg.b, fty, f, args, (unsigned)na, "");
}

/* By node id, for emit_group: allocated once per kernel, not per group. */
static LLVMValueRef *group_val;
static char *group_seen;

/* A fused group: one loop nest over the group's space; members are
 * registers, stored only where the kernel reads them later. */
typedef struct GroupCtx { Buf *bufs; LLVMValueRef lin; } GroupCtx;
static void group_store(const Node *n, LLVMValueRef v, void *ctx) {
  GroupCtx *c = ctx;
  store(n->dt, v, bptr(c->bufs, n->id), c->lin);
}

/* How much a split group's element costs, in units of a plain one (an add):
 * 1 + its members' FLOPs per element / 8, so that a group of sigmoids and
 * tanhs (an LSTM cell's) is split into more chunks than its element count
 * alone asks for (runtime/team.c: one chunk per PAR_CHUNK units). */
enum { ROW_WEIGHT = 3 }; /* a softmax's element: a max, an exp and a divide */
static int64_t group_weight(const Group *g) {
  if (!g->fused) return ROW_WEIGHT;
  int64_t f = 0;
  for (int i = 0; i < g->n; i++)
    if (op_info[g->nodes[i]->op].kind == OK_EWISE) f += op_info[g->nodes[i]->op].flops;
  return 1 + f / 8;
}

/* Data movement whose copy loops may be split over the team: each element
 * is copied once, whichever chunk copies it (a pad fills first: not split). */
static bool moves_par(const Node *n) {
  return (n->op == OP_TRANSPOSE || n->op == OP_SLICE || n->op == OP_BROADCAST || n->op == OP_CONCAT) &&
         n->in[0]->op != OP_CONST && (n->op != OP_CONCAT || n->in[1]->op != OP_CONST);
}

/* Ops of kind GEN whose kernel is one loop over independent work items
 * (kernel.h's parallel loop, a GPU thread each) with nothing outside it:
 * on the team, each chunk runs a share of the items (cpu_loop_begin). */
static bool gen_par(const Node *n) { return n->op == OP_EMBEDDING || n->op == OP_EMBEDDING_GRAD; }

/* A closed group, or a lone reduction of a stored value, that reduces
 * every axis but the last (a bias's gradient, [B, T, d] -> [1, 1, d]):
 * split over the team by columns, not rows — each column's sum still runs over the rows in order (the same bits);
 * one chunk per thread (runtime/team.c, nnrt_par_team). */
static bool lone_reduce(const Group *g) { return !g->fused && g->n == 1 && op_info[g->nodes[0]->op].kind == OK_REDUCE; }
static const Shape *reduce_space(const Group *g) { return lone_reduce(g) ? &g->nodes[0]->in[0]->sh : &g->space; }
static bool column_sum(const Group *g) {
  const Shape *sp = reduce_space(g);
  int64_t mask = g->nodes[g->n - 1]->ia[0];
  if (!(lone_reduce(g) || (g->fused && g->closed)) || sp->rank < 2 || (mask >> (sp->rank - 1) & 1)) return false;
  for (int d = 0; d + 1 < sp->rank; d++)
    if (!(mask >> d & 1) && !(sp->d[d].k == 1 && sp->d[d].b == 0)) return false;
  return true;
}

/* NNC_NO_PAR=1: nothing split over the team (to compare). */
static bool par_off(void) {
  static int off = -1;
  if (off < 0) off = getenv("NNC_NO_PAR") && *getenv("NNC_NO_PAR") == '1';
  return off;
}

/* A fused group of one element-wise op (a bias added alone): a loop of its
 * own; big enough, split over the team like a longer group (emit_work). */
static bool lone_ewise(const Group *g) {
  return g->fused && g->n == 1 && !g->closed && op_info[g->nodes[0]->op].kind == OK_EWISE;
}

/* Whether group g may be split over its outermost loop (see `par`). */
static bool group_par_ok(const Group *g) {
  if (par_off()) return false;
  if (!g->fused && g->n == 1 && op_info[g->nodes[0]->op].kind == OK_ROW) { /* its rows */
    Dim n = shape_numel(&g->space);
    return g->space.rank >= 2 && (n.b || n.k * ROW_WEIGHT >= PAR_MIN_ELEMS);
  }
  if (!g->fused && g->n == 1 && moves_par(g->nodes[0])) { /* a copy: its outermost loop */
    Dim n = shape_numel(&g->space);
    return n.b || n.k >= PAR_MIN_ELEMS;
  }
  if (lone_reduce(g)) { /* its columns (strided), when it keeps only the last axis */
    const Shape *sp = reduce_space(g);
    Dim n = shape_numel(sp), c = sp->rank ? sp->d[sp->rank - 1] : (Dim){1, 0};
    return column_sum(g) && (c.b || c.k > 1) && (n.b || n.k >= PAR_MIN_ELEMS);
  }
  if (!g->fused && g->n == 1 && gen_par(g->nodes[0])) { /* its work items (cpu_loop_begin) */
    Dim a = shape_numel(&g->nodes[0]->in[0]->sh), b = shape_numel(&g->space);
    return a.b || b.b || a.k + b.k >= PAR_MIN_ELEMS;
  }
  if (!g->fused || !(g->n > 1 || g->closed || lone_ewise(g))) return false;
  const Shape *sp = &g->space;
  Dim n = shape_numel(sp);
  if (sp->rank == 0 || (n.b == 0 && n.k * group_weight(g) < PAR_MIN_ELEMS)) return false;
  if (!g->closed) return true;
  const Node *last = g->nodes[g->n - 1];
  return (sp->rank >= 2 && last->ia[0] == (int64_t)1 << (sp->rank - 1)) || column_sum(g);
}

/* A reduction's starting value: 0 for a sum, -inf for a max. */
static LLVMValueRef init_value(const Node *r) { return r->op == OP_SUM ? cfl(0, r->dt) : cfl(-INFINITY, r->dt); }

/* Group g's loop nest; with nfix > 0 its first nfix dims are not looped
 * but fixed at fix[] (a row of a row nest: only the last dim is a loop, and
 * a reduction starts from its initial value, not a filled buffer). */

static void emit_group_at(const Kernel *k, const Group *g, Buf *bufs, const LLVMValueRef *fix, int nfix) {
  const Shape *sp = &g->space;
  Node *last = g->nodes[g->n - 1];
  bool red = g->closed;
  int nm = red ? g->n - 1 : g->n; /* element-wise members */
  if (red && !par.on && !nfix) fill(bptr(bufs, last->id), &last->sh, last->dt, init_value(last));
  /* the external inputs, each with its strides into the space */
  Node **xs = arena_alloc(sizeof(Node *) * (3 * g->n + 1));
  Operand *xo = arena_alloc(sizeof(Operand) * (3 * g->n + 1));
  int nx = group_inputs(g, xs, group_seen);
  for (int i = 0; i < nx; i++) xo[i] = operand(bufs, xs[i], sp, xs[i]->dt);
  LLVMValueRef cst[MAX_RANK], rst[MAX_RANK];
  strides(sp, cst);
  if (red) {
    strides(&last->sh, rst);
    for (int d = 0; d < sp->rank; d++)
      if (last->ia[0] >> d & 1) rst[d] = ci64(0);
  }
  LLVMValueRef size[MAX_RANK], **sts = arena_alloc(sizeof *sts * (nx + 2));
  int nst = 0;
  sts[nst++] = cst;
  if (red) sts[nst++] = rst;
  for (int i = 0; i < nx; i++) sts[nst++] = xo[i].st;
  for (int d = 0; d < sp->rank; d++) size[d] = dimval(sp->d[d]);
  LLVMValueRef lin = ci64(0), roff = ci64(0);
  LLVMValueRef *off = arena_alloc(sizeof(LLVMValueRef) * (nx + 1));
  for (int i = 0; i < nx; i++) off[i] = ci64(0);
  for (int d = 0; d < nfix; d++) { /* the fixed dims' part of every offset */
    lin = LLVMBuildAdd(cg.b, lin, LLVMBuildMul(cg.b, fix[d], cst[d], ""), "");
    if (red) roff = LLVMBuildAdd(cg.b, roff, LLVMBuildMul(cg.b, fix[d], rst[d], ""), "");
    for (int i = 0; i < nx; i++) off[i] = LLVMBuildAdd(cg.b, off[i], LLVMBuildMul(cg.b, fix[d], xo[i].st[d], ""), "");
  }
  /* a reduction adds in lanes along its reduced suffix (lanes_reduce): the
   * suffix is one loop, never merged with the axes before it */
  int s0;
  bool lanes = red && lanes_suffix(sp, last->ia[0], nfix, last->dt, &s0);
  Suffix sf = {0};
  LLVMValueRef (*keep)[MAX_RANK] = arena_alloc(sizeof *keep * (size_t)nst);
  for (int i = 0; i < nst; i++) sts[i] += nfix;
  int rank = nfix + collapse((lanes ? s0 : sp->rank) - nfix, size + nfix, sts, nst);
  for (int i = 0; i < nst; i++) sts[i] -= nfix;
  if (lanes) fold_suffix(&sf, s0, sp->rank, rank++, size, sts, nst, keep);
  Loop loops[MAX_RANK];
  bool inreg = red && rank > 0 && const_zero(rst[rank - 1]);
  /* blocked: the innermost loop of an in-register reduction runs in blocks
   * of BLOCK: the elements of a block into a stack row (a loop LLVM
   * vectorises, with libmvec's vector math), then their sum in lanes
   * (lanes_reduce), or in order when the run is known to be short (the
   * same additions in the same order as one loop; the block only keeps a
   * transcendental such as BCE's log1p(exp(..)) out of the loop carrying
   * the sum, which cannot be vectorised without reordering it). */
  bool blocked = inreg && (lanes || (group_weight(g) > 1 && !(par.on && rank == 1)));
  /* a column sum on the team: this chunk's columns, all rows (its share of
   * the output set to the initial value first) */
  bool cols = par.on && red && !inreg;
  LLVMValueRef clo = NULL, chi = NULL;
  if (cols) {
    par_share(size[rank - 1], &clo, &chi);
    Loop lf = loop_range(clo, chi, "init");
    store(last->dt, init_value(last), bptr(bufs, last->id), LLVMBuildMul(cg.b, lf.i, rst[rank - 1], ""));
    loop_end(&lf);
  }
  enum { BLOCK = BLOCK_ELEMS };
  Loop lj = {0};
  LLVMValueRef row = NULL, bn = NULL;
  RegAcc ra = {0};
  LLVMValueRef init = red ? init_value(last) : NULL;
  /* an input constant along the innermost loop (a row's mean, a column's
   * bias seen from its row) is loaded before it: LLVM could not hoist it
   * past the loop's stores without knowing they miss it, and a load it
   * must redo every element keeps the loop scalar */
  LLVMValueRef *pre = arena_alloc(sizeof(LLVMValueRef) * (nx + 1));
  for (int d = nfix; d < rank; d++) {
    if (d == rank - 1) /* (with a reduction's suffix folded into one loop: its stride 0 over the whole run) */
      for (int i = 0; i < nx; i++)
        if (xo[i].st[d] && const_zero(xo[i].st[d])) pre[i] = load(xs[i]->dt, xo[i].ptr, off[i]);
    LLVMValueRef acc0 = inreg && d == rank - 1 ? (par.on || nfix ? init : load(last->dt, bptr(bufs, last->id), roff)) : NULL;
    LLVMValueRef idx;
    if (cols && d == rank - 1) {
      loops[d] = loop_range(clo, chi, "cols");
    } else if (par.on && !cols && d == 0) { /* this chunk's share of the outermost loop */
      loops[d] = par_loop(size[0], "fused");
    } else if (blocked && d == rank - 1) {
      loops[d] = loop_begin(block_count(size[d], BLOCK), "block");
    } else
      loops[d] = loop_begin(size[d], "fused");
    if (acc0) ra = regacc_begin(&loops[d], acc0, bptr(bufs, last->id), roff, last->dt);
    idx = loops[d].i;
    if (blocked && d == rank - 1) {
      if (!row) row = k_entry_alloca(cg.b, cg.fn, LLVMArrayType2(ty(last->dt), BLOCK), "row");
      LLVMValueRef b0;
      bn = block_len(size[d], loops[d].i, BLOCK, &b0);
      lj = loop_begin(bn, "elems");
      idx = LLVMBuildAdd(cg.b, b0, lj.i, "");
    }
    lin = LLVMBuildAdd(cg.b, lin, step(idx, cst[d], &sf, keep[0]), "");
    if (red) roff = LLVMBuildAdd(cg.b, roff, step(idx, rst[d], &sf, keep[1]), "");
    for (int i = 0; i < nx; i++) off[i] = LLVMBuildAdd(cg.b, off[i], step(idx, xo[i].st[d], &sf, keep[i + 1 + red]), "");
  }
  LLVMValueRef *val = group_val;
  for (int i = 0; i < nx; i++) val[xs[i]->id] = pre[i] ? pre[i] : load(xs[i]->dt, xo[i].ptr, off[i]);
  GroupCtx gc = {bufs, lin};
  ScalarTarget st = {cg.b, ty, intrinsic, cpu_math};
  scalar_group(&st, g, nm, val, k->stored, &(GroupEmit){const_value, group_store, &gc});
  int d = rank - 1;
  if (blocked) { /* the block's elements stored; then summed in lanes, or in order */
    LLVMBuildStore(cg.b, val[last->in[0]->id], gep(last->dt, row, lj.i));
    loop_end(&lj);
    LLVMValueRef acc;
    if (lanes)
      acc = lanes_reduce(row, bn, last->dt, last->op == OP_SUM, ra.phi);
    else {
      Loop ls = loop_begin(bn, "sum");
      acc = loop_carry(&ls, ra.phi, last->dt);
      loop_carry_next(acc, reduce2(last->op == OP_SUM, acc, load(last->dt, row, ls.i)));
      loop_end(&ls);
    }
    regacc_end(&ra, &loops[d--], acc);
  } else if (red) {
    LLVMValueRef x = val[last->in[0]->id];
    LLVMValueRef acc = inreg ? ra.phi : load(last->dt, bptr(bufs, last->id), roff);
    LLVMValueRef r = last->op == OP_SUM ? LLVMBuildFAdd(cg.b, acc, x, "")
                                        : fsel(LLVMBuildFCmp(cg.b, LLVMRealOGE, acc, x, ""), acc, x);
    if (inreg)
      regacc_end(&ra, &loops[d--], r);
    else
      store(last->dt, r, bptr(bufs, last->id), roff);
  }
  for (; d >= nfix; d--) loop_end(&loops[d]);
}

static void emit_group(const Kernel *k, const Group *g, Buf *bufs) { emit_group_at(k, g, bufs, NULL, 0); }

/* A row nest (fuse.c): groups g0 .. g0 + ng - 1 over the same leading dims,
 * in one loop over the rows (this chunk's rows when split over the team);
 * inside it each group's work on the row, in order. */
static void emit_nest(const Kernel *k, int g0, int ng, Buf *bufs) {
  Shape lead = k->groups[g0].space;
  lead.rank--;
  LLVMValueRef rows = numel(&lead);
  bool split = par.on;
  Loop r = split ? par_loop(rows, "nest") : loop_begin(rows, "nest");
  LLVMValueRef idx[MAX_RANK], rest = r.i;
  for (int d = lead.rank - 1; d > 0; d--) {
    LLVMValueRef n = dimval(lead.d[d]);
    idx[d] = LLVMBuildURem(cg.b, rest, n, "");
    rest = LLVMBuildUDiv(cg.b, rest, n, "");
  }
  idx[0] = rest;
  par.on = false; /* the phases run whole rows */
  for (int g = g0; g < g0 + ng; g++) {
    const Group *gr = &k->groups[g];
    if (!gr->fused) emit_row_at(gr->nodes[0], bufs, r.i);
    else emit_group_at(k, gr, bufs, idx, lead.rank);
  }
  par.on = split;
  loop_end(&r);
}

/* ---- the optimizer step (codegen/optim.c), a function of its own -------- */

static void *cpu_loop_begin(LLVMValueRef n, bool items, LLVMValueRef *i);
static void cpu_loop_end(void *l);
static LLVMValueRef cpu_local(LLVMTypeRef t);
static void emit_optim(Dtype d) {
  LLVMTypeRef ps[OPTIM_NPARAMS];
  optim_params(&cg.t, ps);
  LLVMValueRef f = LLVMAddFunction(cg.mod, d == DT_F32 ? "nnc_opt_f32" : "nnc_opt_f64", LLVMFunctionType(cg.t.vd, ps, OPTIM_NPARAMS, 0));
  cg.fn = f;
  LLVMPositionBuilderAtEnd(cg.b, LLVMAppendBasicBlockInContext(cg.ctx, f, "entry"));
  KernelTarget t = {{cg.b, ty, intrinsic, cpu_math}, cg.t.i64, dimval, NULL, cpu_loop_begin, cpu_loop_end, cpu_local, NULL, NULL};
  optim_emit(&t, d, f);
}

/* The three kernels of gradient-norm clipping (codegen/optim.c). */
static void emit_clip(void) {
  static const char *const names[] = {"nnc_sqsum_f32", "nnc_sqsum_f64", "nnc_clip", "nnc_scale_f32", "nnc_scale_f64"};
  for (int k = 0; k < 5; k++) {
    LLVMTypeRef ps[3];
    clip_params(&cg.t, ps, k == 2);
    LLVMValueRef f = LLVMAddFunction(cg.mod, names[k], LLVMFunctionType(cg.t.vd, ps, 3, 0));
    cg.fn = f;
    LLVMPositionBuilderAtEnd(cg.b, LLVMAppendBasicBlockInContext(cg.ctx, f, "entry"));
    KernelTarget t = {{cg.b, ty, intrinsic, cpu_math}, cg.t.i64, dimval, NULL, cpu_loop_begin, cpu_loop_end, cpu_local, NULL, NULL};
    if (k < 2) clip_emit_sqsum(&t, k ? DT_F64 : DT_F32, f);
    else if (k == 2) clip_emit_norm(&t, f);
    else clip_emit_scale(&t, k == 3 ? DT_F32 : DT_F64, f);
  }
}

/* ---- ops of kind GEN: their own emitter over this target (kernel.h) ----- */

static Buf *gen_bufs;
static LLVMValueRef gen_buffer(const Node *x) {
  LLVMValueRef p = bptr(gen_bufs, x->id);
  if (!p) nnc_unreachable("%%%d (%s) has no buffer", x->id, op_info[x->op].name);
  return p;
}
/* the CPU runs the work items in order, in one loop (on the team: this
 * chunk's share of them, see gen_par) */
static void *cpu_loop_begin(LLVMValueRef n, bool items, LLVMValueRef *i) {
  Loop *l = arena_alloc(sizeof *l);
  *l = items && par.on ? par_loop(n, "item") : loop_begin(n, items ? "item" : "seq");
  *i = l->i;
  return l;
}
static void cpu_loop_end(void *l) { loop_end(l); }
static void cpu_item_range(LLVMValueRef n, LLVMValueRef *lo, LLVMValueRef *hi) {
  if (par.on) par_share(n, lo, hi);
  else *lo = ci64(0), *hi = n;
}
static LLVMValueRef cpu_local(LLVMTypeRef t) { return k_entry_alloca(cg.b, cg.fn, t, "local"); }
static void cpu_call(const char *name, LLVMValueRef *args, int n) {
  LLVMTypeRef ps[8], fty;
  nnc_assert(n <= 8);
  for (int i = 0; i < n; i++) ps[i] = LLVMTypeOf(args[i]);
  LLVMValueRef f = rt_fn(name, cg.t.vd, ps, n, &fty);
  LLVMBuildCall2(cg.b, fty, f, args, (unsigned)n, "");
}
static void emit_gen(const Node *n, Buf *bufs) {
  gen_bufs = bufs;
  KernelTarget t = {{cg.b, ty, intrinsic, cpu_math}, cg.t.i64, dimval, gen_buffer, cpu_loop_begin, cpu_loop_end, cpu_local,
                    cpu_call, cpu_item_range};
  op_info[n->op].spec->emit(&t, n);
}

/* ---- a scan: a loop over the steps around its body's groups ------------- */

static void emit_node(const Node *n, Buf *bufs);
/* W_GROUP: groups i .. i + ng - 1 (ng > 1: a row nest) */
typedef struct Work { enum { W_CONST, W_GROUP, W_COPY } kind; int i, ops, ng; } Work;
static bool work_par(const Kernel *k, Work w);
static void emit_inline(const Kernel *k, Work w, Buf *bufs, int spare);
/* While a scan's body group is outlined: the plan of the kernel around it
 * (its buffers live in that kernel's scratch, not at the body plan's offsets). */
static const MemPlan *scan_plan;

/* copy value v (a buffer or a constant) densely into dst */
static void copy_into(LLVMValueRef dst, const Node *v, Buf *bufs) {
  Operand o = dense(dst, &v->sh, v->dt);
  Operand in = v->op == OP_CONST ? (Operand){.cval = const_value(v, v->dt), .dt = v->dt} : dense(bptr(bufs, v->id), &v->sh, v->dt);
  strided(NULL, &v->sh, &o, &in, 1, LOOP_MAP);
}

static void body_buf(Buf *bufs, const Node *n, int kind, int64_t at) {
  bufs[n->id] = (Buf){.kind = kind, .root = n->id, .at = at, .name = n->name};
}

/* Where the body's values live: its own plan, shifted to the scan's
 * workspace; a carry's var is the buffer of its final value. */
static void plan_body(const Scan *s, Buf *bufs) {
  const Kernel *k = &s->body;
  const MemPlan *bp = k->plan;
  int64_t atB = fnst.mp->scan_atB[s->node->id], at0 = fnst.mp->scan_at0[s->node->id];
  for (int c = 0; c < s->nc; c++) {
    bufs[s->c[c].var->id] = bufs[bufs[s->c[c].out->id].root];
    bufs[s->c[c].var->id].root = bufs[s->c[c].out->id].root;
  }
  for (int j = 0; j < s->ns; j++) {
    const Node *v = s->s[j].var;
    body_buf(bufs, v, bp->arena[v->id] == 1 ? BUF_SCALED : BUF_FIXED, (bp->arena[v->id] == 1 ? atB : at0) + bp->off[v->id]);
  }
  for (int i = 0; i < k->nsched; i++) {
    const Node *n = k->sched[i];
    if (n->op == OP_SCANVAR) continue;
    if (n->op == OP_RESHAPE && n->in[0]->op != OP_CONST) {
      bufs[n->id] = bufs[n->in[0]->id];
      continue;
    }
    body_buf(bufs, n, BUF_NONE, 0);
    if (!bp->arena[n->id]) continue;
    bufs[n->id].kind = bp->arena[n->id] == 1 ? BUF_SCALED : BUF_FIXED;
    bufs[n->id].at = (bp->arena[n->id] == 1 ? atB : at0) + bp->off[n->id];
  }
}

/* Whether dim run d (a stride, or a size) fits buffer kind: per batch row
 * (BUF_SCALED) for B^1, fixed for B^0. */
static bool kind_fits(int kind, Dim d) {
  return (kind == BUF_SCALED && d.b == 1) || (kind == BUF_FIXED && d.b == 0);
}

/* Sequence q's slice of the step read in place rather than copied: when
 * it is a contiguous block of x (every axis before the sequence's is 1,
 * every one after is whole) and x lives in scratch.  Then the var's buffer
 * is x's at a step-dependent offset. */
static bool seq_in_place(const ScanSeq *q, Buf *bufs, LLVMValueRef tau) {
  Buf *xb = &bufs[bufs[q->x->id].root];
  const Shape *xs = &q->x->sh;
  if (xb->kind != BUF_SCALED && xb->kind != BUF_FIXED) return false;
  for (int d = 0; d < xs->rank; d++) {
    if (d < q->axis && !(xs->d[d].k == 1 && xs->d[d].b == 0)) return false;
    if (d > q->axis && (q->start[d] || q->slice.d[d].k != xs->d[d].k || q->slice.d[d].b != xs->d[d].b)) return false;
  }
  Dim st = {1, 0};
  for (int d = q->axis + 1; d < xs->rank; d++) st.k *= xs->d[d].k, st.b += xs->d[d].b;
  if (!kind_fits(xb->kind, st) || !kind_fits(xb->kind, shape_numel(xs))) return false;
  LLVMValueRef row = LLVMBuildAdd(cg.b, ci64(q->start[q->axis]), LLVMBuildMul(cg.b, tau, ci64(q->delta), ""), "");
  LLVMValueRef at = LLVMBuildAdd(cg.b, buf_at(xb), LLVMBuildMul(cg.b, row, ci64(st.k * dtype_bytes(q->x->dt)), ""), "slice");
  Buf *vb = &bufs[q->var->id];
  *vb = (Buf){.kind = xb->kind, .root = q->var->id, .name = "slice", .dyn = at, .dyn_ptr = scratch_ptr(xb->kind, at), .dyn_gen = fnst.gen};
  return true;
}

/* Stacked value y written by the step in place: the buffer of the node
 * that computes it (the body's own, not a var or a constant) is its row
 * of the output.  in_body marks the body's nodes; taken, roots already
 * moved. */
static bool row_in_place(const Kernel *k, const ScanStep *y, Buf *bufs, LLVMValueRef row, const char *in_body, char *taken) {
  int r = bufs[y->val->id].root;
  Buf *ob = &bufs[bufs[y->out->id].root], *rb = &bufs[r];
  Dim nv = shape_numel(&y->val->sh);
  if (r >= graph_node_count() || !in_body[r] || taken[r] || k->view[r] || !rb->kind) return false;
  if (ob->kind != BUF_SCALED && ob->kind != BUF_FIXED) return false;
  if (!kind_fits(ob->kind, nv) || !kind_fits(ob->kind, shape_numel(&y->out->sh))) return false;
  LLVMValueRef at = LLVMBuildAdd(cg.b, buf_at(ob), LLVMBuildMul(cg.b, row, ci64(nv.k * dtype_bytes(y->val->dt)), ""), "row");
  rb->kind = ob->kind;
  rb->dyn = at;
  rb->dyn_ptr = scratch_ptr(ob->kind, at);
  rb->dyn_gen = fnst.gen;
  taken[r] = 1;
  return true;
}

static void emit_scan(const Node *node, Buf *bufs) {
  const Scan *s = scan_of(node);
  const Kernel *k = &s->body;
  const char *outer_view = cur_view;
  plan_body(s, bufs);
  for (int c = 0; c < s->nc; c++) {
    const ScanCarry *cy = &s->c[c];
    LLVMValueRef dst = bptr(bufs, cy->out->id);
    if (!cy->init) fill(dst, &cy->var->sh, cy->var->dt, cfl(0, cy->var->dt));
    else copy_into(dst, cy->init, bufs);
  }
  for (int m = 0; m < s->ny; m++) /* rows no step writes are zero */
    if (!((s->y[m].delta == 1 || s->y[m].delta == -1) && s->y[m].n == s->T))
      fill(bptr(bufs, s->y[m].out->id), &s->y[m].out->sh, s->y[m].out->dt, cfl(0, s->y[m].out->dt));
  cur_view = k->view;
  for (int i = 0; i < k->nsched; i++)
    if (k->sched[i]->op == OP_CONST && k->needs_mem[k->sched[i]->id]) emit_node(k->sched[i], bufs);
  Loop l = loop_begin(ci64(s->T), "step");
  LLVMValueRef tau = s->reverse ? LLVMBuildSub(cg.b, ci64(s->T - 1), l.i, "tau") : l.i;
  /* NNC_SCAN_COPY=1: copy every slice and row (to compare) */
  static int copy_all = -1;
  if (copy_all < 0) copy_all = getenv("NNC_SCAN_COPY") && *getenv("NNC_SCAN_COPY") == '1';
  char *in_body = arena_alloc(graph_node_count() + 1), *taken = arena_alloc(graph_node_count() + 1);
  bool *row_done = arena_alloc(sizeof(bool) * (size_t)(s->ny + 1));
  LLVMValueRef *rows = arena_alloc(sizeof(LLVMValueRef) * (size_t)(s->ny + 1)); /* row base + tau·delta of each */
  for (int i = 0; i < k->nsched; i++)
    if (k->sched[i]->op != OP_SCANVAR && k->sched[i]->op != OP_CONST && k->sched[i]->op != OP_RESHAPE) in_body[k->sched[i]->id] = 1;
  for (int m = 0; m < s->ny; m++) {
    const ScanStep *y = &s->y[m];
    rows[m] = LLVMBuildAdd(cg.b, ci64(y->base), LLVMBuildMul(cg.b, tau, ci64(y->delta), ""), "");
    row_done[m] = !copy_all && row_in_place(k, y, bufs, rows[m], in_body, taken);
  }
  for (int j = 0; j < s->ns; j++) { /* this step's slice of each sequence */
    const ScanSeq *q = &s->s[j];
    if (!copy_all && seq_in_place(q, bufs, tau)) continue;
    Operand src = dense(bptr(bufs, q->x->id), &q->x->sh, q->x->dt);
    LLVMValueRef base = ci64(0);
    for (int d = 0; d < q->slice.rank; d++) {
      LLVMValueRef at = ci64(q->start[d]);
      if (d == q->axis) at = LLVMBuildAdd(cg.b, at, LLVMBuildMul(cg.b, tau, ci64(q->delta), ""), "");
      base = LLVMBuildAdd(cg.b, base, LLVMBuildMul(cg.b, at, src.st[d], ""), "");
    }
    src.base = base;
    Operand o = dense(bptr(bufs, q->var->id), &q->slice, q->x->dt);
    strided(NULL, &q->slice, &o, &src, 1, LOOP_MAP);
  }
  const MemPlan *outer_plan = fnst.mp;
  for (int g = 0; g < k->ngroups; g++) {
    const Group *gr = &k->groups[g];
    Work w = {W_GROUP, g, gr->n, 1};
    if (work_par(k, w)) { /* split over the team, like the kernel's own groups */
      scan_plan = outer_plan;
      emit_inline(k, w, bufs, 0);
      scan_plan = NULL;
    } else if (gr->fused && (gr->n > 1 || gr->closed)) emit_group(k, gr, bufs);
    else
      for (int j = 0; j < gr->n; j++) emit_node(gr->nodes[j], bufs);
  }
  cur_view = k->view;
  for (int m = 0; m < s->ny; m++) { /* the stacked values not written in place */
    const ScanStep *y = &s->y[m];
    if (row_done[m]) continue;
    LLVMValueRef dst = gep(y->out->dt, bptr(bufs, y->out->id), LLVMBuildMul(cg.b, rows[m], numel(&y->val->sh), ""));
    copy_into(dst, y->val, bufs);
  }
  for (int c = 0; c < s->nc; c++) /* the carries take their next values */
    if (s->c[c].next != s->c[c].var) copy_into(bptr(bufs, s->c[c].out->id), s->c[c].next, bufs);
  loop_end(&l);
  cur_view = outer_view;
}

static Operand out_operand(Buf *bufs, const Node *n, Dtype d) {
  int64_t col;
  const Node *r = place_k ? place_root(place_k, n, &col) : NULL;
  if (!r) return dense(bptr(bufs, n->id), &n->sh, d);
  Operand o = dense(bptr(bufs, r->id), &n->sh, d);
  LLVMValueRef rst[MAX_RANK];
  strides(&r->sh, rst);
  int rr = r->sh.rank;
  for (int q = 0; q < rr - 1; q++) o.st[q] = rst[q];
  o.base = ci64(col);
  return o;
}

static void emit_node(const Node *n, Buf *bufs) {
  Dtype d = n->dt;
  LLVMValueRef out = bptr(bufs, n->id);
  switch (op_info[n->op].kind) {
  case OK_LEAF:
    if (n->op == OP_CONST && out && !bufs[n->id].in_slot) fill(out, &n->sh, d, const_value(n, d));
    return;
  case OK_EWISE: {
    Operand o = dense(out, &n->sh, d), in[3];
    for (int j = 0; j < n->nin; j++)
      in[j] = operand(bufs, n->in[j], &n->sh, ewise_input_dtype(n, j));
    strided(n, &n->sh, &o, in, n->nin, LOOP_MAP);
    return;
  }
  case OK_REDUCE: {
    const Node *x = n->in[0];
    if (!par.on) /* on the team, each chunk sets its own columns (strided) */
      fill(out, &n->sh, d, n->op == OP_SUM ? cfl(0, d) : cfl(-INFINITY, d));
    Operand o = dense(out, &n->sh, d);
    for (int k = 0; k < x->sh.rank; k++)
      if (n->ia[0] >> k & 1) o.st[k] = ci64(0);
    Operand in = operand(bufs, x, &x->sh, x->dt);
    strided(NULL, &x->sh, &o, &in, 1, n->op == OP_SUM ? LOOP_SUM : LOOP_MAX);
    return;
  }
  case OK_ROW: emit_row(n, bufs); return;
  case OK_LIB: emit_lib(n, bufs); return;
  case OK_GEN: emit_gen(n, bufs); return;
  case OK_SCAN:
    if (n->op == OP_SCAN) emit_scan(n, bufs); /* its outputs are written by it */
    return;
  case OK_MATMUL: emit_matmul(n, bufs); return;
  case OK_MOVE: {
    const Node *x = n->in[0];
    Operand o = out_operand(bufs, n, d);
    switch (n->op) {
    case OP_RESHAPE: /* aliased, except a reshaped constant (built with --no-simplify) */
      if (x->op == OP_CONST) fill(out, &n->sh, d, const_value(x, d));
      return;
    case OP_BROADCAST: {
      Operand in = operand(bufs, x, &n->sh, d);
      strided(NULL, &n->sh, &o, &in, 1, LOOP_MAP);
      return;
    }
    case OP_TRANSPOSE: {
      Operand in = dense(bptr(bufs, x->id), &x->sh, d);
      LLVMValueRef st[MAX_RANK];
      for (int k = 0; k < n->sh.rank; k++) st[k] = in.st[n->ia[k]];
      memcpy(in.st, st, sizeof st);
      strided(NULL, &n->sh, &o, &in, 1, LOOP_MAP);
      return;
    }
    case OP_SLICE: case OP_PAD: {
      bool pad = n->op == OP_PAD;
      const Shape *big = pad ? &n->sh : &x->sh;
      Operand src = dense(bptr(bufs, x->id), &x->sh, d);
      LLVMValueRef bst[MAX_RANK], base = ci64(0);
      strides(big, bst);
      for (int k = 0; k < n->sh.rank; k++)
        if (n->ia[k]) base = LLVMBuildAdd(cg.b, base, LLVMBuildMul(cg.b, item_const(n->ia[k]), bst[k], ""), "");
      if (pad) {
        fill(out, &n->sh, d, cfl(0, d));
        memcpy(o.st, bst, sizeof bst);
        o.base = base;
        strided(NULL, &x->sh, &o, &src, 1, LOOP_MAP);
      } else {
        memcpy(src.st, bst, sizeof bst);
        src.base = base;
        strided(NULL, &n->sh, &o, &src, 1, LOOP_MAP);
      }
      return;
    }
    case OP_CONCAT: {
      int ax = (int)n->ia[0];
      for (int j = 0; j < 2; j++) {
        const Node *p = n->in[j], *y = p->op == OP_RESHAPE ? p->in[0] : p;
        if (place_k && place_k->place && place_k->place[y->id] == n) continue; /* written there already */
        Operand src = p->op == OP_CONST ? (Operand){.cval = const_value(p, d), .dt = d} : dense(bptr(bufs, p->id), &p->sh, d);
        Operand dst = o;
        if (j == 1) {
          LLVMValueRef at = LLVMBuildMul(cg.b, ci64(n->in[0]->sh.d[ax].k), dst.st[ax], "");
          dst.base = dst.base ? LLVMBuildAdd(cg.b, dst.base, at, "") : at;
        }
        strided(NULL, &p->sh, &dst, &src, 1, LOOP_MAP);
      }
      return;
    }
    default: break;
    }
    break;
  }
  case OK_INDEX: {
    const Node *x = n->in[0];
    if (n->op == OP_ONEHOT) {
      int64_t k = n->sh.d[n->sh.rank - 1].k;
      fill(out, &n->sh, d, cfl(0, d));
      Loop l = loop_begin(numel(&x->sh), "onehot");
      LLVMValueRef lab = LLVMBuildSExt(cg.b, load(DT_I32, bptr(bufs, x->id), l.i), cg.t.i64, "");
      LLVMValueRef ok = LLVMBuildAnd(cg.b, LLVMBuildICmp(cg.b, LLVMIntSGE, lab, ci64(0), ""),
                                     LLVMBuildICmp(cg.b, LLVMIntSLT, lab, ci64(k), ""), "");
      LLVMBasicBlockRef set = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "set");
      LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "cont");
      LLVMBuildCondBr(cg.b, ok, set, cont);
      LLVMPositionBuilderAtEnd(cg.b, set);
      store(d, cfl(1, d), out, LLVMBuildAdd(cg.b, LLVMBuildMul(cg.b, l.i, ci64(k), ""), lab, ""));
      LLVMBuildBr(cg.b, cont);
      LLVMPositionBuilderAtEnd(cg.b, cont);
      loop_end(&l);
      return;
    }
    if (n->op == OP_RAND) { /* sequential draws: the same seed gives the same numbers */
      LLVMTypeRef ps[] = {cg.t.ptr};
      LLVMTypeRef fty;
      LLVMValueRef f = rt_fn(n->ia[1] ? "nnrt_normal" : "nnrt_uniform", cg.t.f64, ps, 1, &fty);
      Loop l = loop_begin(numel(&n->sh), "rand");
      LLVMValueRef v = LLVMBuildCall2(cg.b, fty, f, (LLVMValueRef[]){LLVMGetParam(cg.fn, 0)}, 1, "");
      if (d == DT_F32) v = LLVMBuildFPTrunc(cg.b, v, cg.t.f32, "");
      store(d, v, out, l.i);
      loop_end(&l);
      return;
    }
    if (n->op == OP_IOTA) {
      Loop l = loop_begin(numel(&n->sh), "iota");
      store(d, isf(d) ? LLVMBuildSIToFP(cg.b, l.i, ty(d), "") : LLVMBuildTrunc(cg.b, l.i, ty(d), ""), out, l.i);
      loop_end(&l);
      return;
    }
    break;
  }
  }
  nnc_unreachable("no code for '%s'", op_info[n->op].name);
}

/* Lay out buffers: where each value of kernel k lives (see Buf); no IR. */
static void plan(Kernel *k, Buf *bufs) {
  int cap = graph_node_count() + 1;
  int *out_slot = kernel_out_slots(k);
  memset(bufs, 0, sizeof(Buf) * cap);
  for (int i = 0; i < cap; i++) bufs[i].root = i;
  char *need = k->needs_mem;
  const MemPlan *mp = k->plan;
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    Buf *b = &bufs[n->id];
    b->name = n->name;
    if (n->op == OP_CONST && !need[n->id]) continue;
    if (n->op == OP_PARAM || n->op == OP_STATE || n->op == OP_INPUT || out_slot[n->id] >= 0) {
      b->kind = BUF_SLOT;
      b->at = n->slot >= 0 && op_info[n->op].kind == OK_LEAF ? n->slot : out_slot[n->id];
      b->in_slot = true;
      continue;
    }
    if (n->op == OP_RESHAPE && n->in[0]->op != OP_CONST) { /* a constant has no buffer to alias */
      *b = bufs[n->in[0]->id];
      continue;
    }
    if (!mp->arena[n->id]) continue; /* lives in registers */
    b->kind = mp->arena[n->id] == 1 ? BUF_SCALED : BUF_FIXED;
    b->at = mp->off[n->id];
  }
  /* a value placed in a concat: that concat's buffer (out_operand says
   * where in it); and so a reshape of one */
  for (int i = 0; k->place && i < k->nsched; i++) {
    Node *n = k->sched[i];
    const Node *r = place_root(k, n, NULL);
    if (r) bufs[n->id] = bufs[r->id];
    else if (n->op == OP_RESHAPE && place_root(k, n->in[0], NULL)) bufs[n->id] = bufs[n->in[0]->id];
  }
}

/* Scratch bytes kernel k needs (an i64 value from cg.batch). */
static LLVMValueRef scratch_bytes(const Kernel *k) {
  const MemPlan *mp = k->plan;
  LLVMValueRef arenaB = LLVMBuildMul(cg.b, ci64(mp->totalB), cg.batch, "arenaB");
  return LLVMBuildAdd(cg.b, arenaB, ci64(mp->total0 ? mp->total0 : 64), "scratch");
}

/* --check-numerics: after a float op, `if (ctx->check_numerics)
 * nnrt_check_finite(ctx, out, numel, dtype, site)`; site numbers index
 * check_sites, which nnc_setup hands to the runtime (nnrt_site). */
static Node **check_sites; static int nchecks, capchecks;

static void emit_check(Node *n, Buf *bufs) {
  OpKind kd = op_info[n->op].kind;
  if (!isf(n->dt) || kd == OK_LEAF || n->op == OP_RESHAPE || !bufs[n->id].kind) return;
  /* no flag test here: the checked kernels run only when the flag is set */
  LLVMValueRef ctx = LLVMGetParam(cg.fn, 0);
  LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.i64, cg.t.i32, cg.t.i32}, fty;
  LLVMValueRef f = rt_fn("nnrt_check_finite", cg.t.vd, ps, 5, &fty);
  LLVMValueRef site = ci32(nchecks);
  if (fnst.outlined) { /* numbered by the caller, in its table */
    LLVMValueRef p = LLVMBuildGEP2(cg.b, cg.t.i64, LLVMGetParam(fnst.fn, 4), (LLVMValueRef[]){ci64(fnst.nroots)}, 1, "");
    site = LLVMBuildTrunc(cg.b, LLVMBuildLoad2(cg.b, cg.t.i64, p, "site"), cg.t.i32, "");
    PUSH(fnst.roots, fnst.nroots, fnst.caproots, NULL);
    PUSH(fnst.sites, fnst.nsites, fnst.capsites, n);
  } else {
    PUSH(check_sites, nchecks, capchecks, n);
  }
  LLVMValueRef args[] = {ctx, bptr(bufs, n->id), numel(&n->sh), ci32(n->dt == DT_F64 ? NNRT_F64 : NNRT_F32), site};
  LLVMBuildCall2(cg.b, fty, f, args, 5, "");
}

/* Start emitting the body of fn (a kernel or a part of one, all with the
 * kernel's arguments), whose prelude block is open at the end: the body
 * begins in a block of its own, which fn_end links the prelude to. */
static LLVMBasicBlockRef fn_begin(LLVMValueRef fn, LLVMBasicBlockRef prelude, const MemPlan *mp) {
  fnst = (FnState){0};
  fnst.gen = ++fn_gens;
  cg.fn = fnst.fn = fn;
  fnst.prelude = prelude;
  fnst.slots = LLVMGetParam(fn, 1);
  fnst.scratch = LLVMGetParam(fn, 2);
  fnst.arenaB = NULL;
  fnst.mp = mp;
  cg.batch = LLVMGetParam(fn, 3);
  LLVMBasicBlockRef start = LLVMAppendBasicBlockInContext(cg.ctx, fn, "start");
  LLVMPositionBuilderAtEnd(cg.b, start);
  return start;
}

static void fn_end(LLVMBasicBlockRef start) {
  LLVMBuildRetVoid(cg.b);
  LLVMPositionBuilderAtEnd(cg.b, fnst.prelude);
  LLVMBuildBr(cg.b, start);
}

static void add_attrs(LLVMValueRef fn, bool optnone) {
  static const char *attrs[] = {"noinline", "optnone"};
  for (int i = 0; i < 1 + optnone; i++) {
    unsigned kind = LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i]));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(cg.ctx, kind, 0));
  }
}

/* Outlined groups, by their IR: a group whose code is the same as an
 * earlier one's (the same ops on the same shapes, buffers aside) calls that
 * function instead of a copy of its own.  The IR is compared as text,
 * printed from a scratch module that holds only the group (printing a
 * function of a big module numbers the whole module: quadratic).  Reset
 * per kernel. */
typedef struct Outlined { uint64_t hash; const char *ir; LLVMValueRef fn; } Outlined;
static struct { Outlined *tab; int cap, n; LLVMModuleRef scratch; } outl;

static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static Outlined *outlined_slot(const char *ir, uint64_t h) {
  if (2 * (outl.n + 1) > outl.cap) {
    Outlined *old = outl.tab;
    int ocap = outl.cap;
    outl.cap = outl.cap ? 2 * outl.cap : 256;
    outl.tab = arena_alloc(sizeof *outl.tab * outl.cap);
    for (int i = 0; i < ocap; i++)
      if (old[i].ir) {
        int j = (int)(old[i].hash & (uint64_t)(outl.cap - 1));
        while (outl.tab[j].ir) j = (j + 1) & (outl.cap - 1);
        outl.tab[j] = old[i];
      }
  }
  int j = (int)(h & (uint64_t)(outl.cap - 1));
  while (outl.tab[j].ir && !(outl.tab[j].hash == h && !strcmp(outl.tab[j].ir, ir))) j = (j + 1) & (outl.cap - 1);
  return &outl.tab[j];
}

/* A kernel's code in order, as items: constants that live in memory, the
 * groups, then the copies of outputs into their slots (those not computed
 * in place: leaves, constants, values that are several outputs). */
static bool work_checks; /* emitting a checked kernel: every op checked */

/* Where W_COPY's destination is: a Buf past the nodes' (index spare). */
static void emit_work(const Kernel *k, Work w, Buf *bufs, int spare) {
  cur_view = k->view;
  switch (w.kind) {
  case W_CONST: emit_node(k->sched[w.i], bufs); return;
  case W_GROUP: {
    if (w.ng > 1) {
      emit_nest(k, w.i, w.ng, bufs);
      return;
    }
    const Group *gr = &k->groups[w.i];
    if (epi.absorbed && epi.absorbed[gr->nodes[0]->id]) return; /* computed with the product before it */
    if (gr->fused && (gr->n > 1 || gr->closed || (par.on && lone_ewise(gr)))) emit_group(k, gr, bufs);
    else
      for (int j = 0; j < gr->n; j++) emit_node(gr->nodes[j], bufs);
    if (work_checks)
      for (int j = 0; j < gr->n; j++) emit_check(gr->nodes[j], bufs);
    return;
  }
  case W_COPY: {
    const Node *n = k->outs[w.i].node;
    bufs[spare] = (Buf){.kind = BUF_SLOT, .root = spare, .at = k->outs[w.i].slot, .name = "dst"};
    Operand o = dense(bptr(bufs, spare), &n->sh, n->dt);
    Operand in = n->op == OP_CONST ? (Operand){.cval = const_value(n, n->dt), .dt = n->dt} : dense(bptr(bufs, n->id), &n->sh, n->dt);
    strided(NULL, &n->sh, &o, &in, 1, LOOP_MAP);
    return;
  }
  }
}

/* Emit w as the body of a new function in cg.mod; returns it, with what
 * its table holds in fnst.roots and fnst.sites. */
static LLVMValueRef outline_work(const Kernel *k, Work w, Buf *bufs, int spare, LLVMTypeRef ft, const char *name,
                                 bool parallel) {
  LLVMValueRef fn = LLVMAddFunction(cg.mod, name, ft);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  add_attrs(fn, work_checks);
  LLVMBasicBlockRef start = fn_begin(fn, LLVMAppendBasicBlockInContext(cg.ctx, fn, "entry"), scan_plan ? scan_plan : k->plan);
  fnst.outlined = true;
  par.on = parallel;
  if (parallel) par.chunk = LLVMGetParam(fn, 5), par.chunks = LLVMGetParam(fn, 6);
  emit_work(k, w, bufs, spare);
  par.on = false;
  fn_end(start);
  return fn;
}

/* Item w of a parted kernel as a function of its own,
 * nnc_<kernel>.g<i>(ctx, slots, scratch, batch, tab), and what its call
 * passes: tab is a constant table of what differs between items whose code
 * is the same (the slot or scratch offset of each buffer it uses and the
 * number of each check site).  An item's code depends only on its ops,
 * their shapes and the kinds of its buffers, so a program of many alike
 * layers (or an unrolled loop's steps) compiles a few such functions. */
typedef struct Item { LLVMValueRef fn; LLVMValueRef *vals; int n, ops; const Shape *par; int64_t weight; bool cols; } Item;

/* (ctx, slots, scratch, batch, tab), and for a split group (chunk, chunks) */
static LLVMTypeRef item_type(bool parallel) {
  LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i64, cg.t.ptr, cg.t.i64, cg.t.i64};
  return LLVMFunctionType(cg.t.vd, ps, parallel ? 7 : 5, 0);
}

/* A row nest's work, for the team's chunk count: the space of its phase
 * with the longest rows, and a weight that counts the other phases' rows
 * in units of it (each phase's element weighted as group_weight does). */
static void nest_size(const Kernel *k, Work w, Shape *sp, int64_t *weight) {
  int best = w.i;
  int64_t most = 0, sum = 0;
  for (int g = w.i; g < w.i + w.ng; g++) {
    const Dim c = k->groups[g].space.d[k->groups[g].space.rank - 1];
    int64_t len = c.b ? 1024 : c.k; /* a row as long as the batch: count it long */
    sum += len * group_weight(&k->groups[g]);
    if (len > most) most = len, best = g;
  }
  *sp = k->groups[best].space;
  *weight = sum / (most ? most : 1);
  if (*weight < 1) *weight = 1;
}

/* Whether work item w is a group split over the worker team. */
static bool work_par(const Kernel *k, Work w) {
  if (w.kind != W_GROUP || work_checks) return false;
  if (w.ng == 1 && epi.absorbed && epi.absorbed[k->groups[w.i].nodes[0]->id]) return false;
  if (w.ng == 1) return group_par_ok(&k->groups[w.i]);
  if (par_off()) return false;
  Shape sp;
  int64_t weight;
  nest_size(k, w, &sp, &weight);
  Dim n = shape_numel(&sp);
  return n.b || n.k * weight >= PAR_MIN_ELEMS;
}

static Item outline_item(const Kernel *k, Work w, Buf *bufs, int spare) {
  bool parallel = work_par(k, w);
  LLVMTypeRef ft = item_type(parallel);
  FnState outer = fnst;
  LLVMBasicBlockRef at = LLVMGetInsertBlock(cg.b);
  LLVMModuleRef mod = cg.mod;
  if (!outl.scratch) outl.scratch = LLVMModuleCreateWithNameInContext("outline", cg.ctx);
  cg.mod = outl.scratch;
  LLVMValueRef fn = outline_work(k, w, bufs, spare, ft, "g", parallel);
  char *text = LLVMPrintValueToString(fn);
  LLVMDeleteFunction(fn);
  cg.mod = mod;
  const char *body = strchr(text, '\n'); /* the first line names it */
  body = body ? body : text;
  if (parallel) body = arena_printf("par%s", body); /* the signature differs */
  uint64_t h = fnv1a(body);
  Outlined *o = outlined_slot(body, h);
  if (!o->ir) { /* new code: emitted again, into the kernel's module */
    o->fn = outline_work(k, w, bufs, spare, ft, arena_printf("nnc_%s.g%d", k->name, outl.n), parallel);
    o->ir = arena_strdup(body);
    o->hash = h;
    outl.n++;
  }
  LLVMDisposeMessage(text);
  Buf **roots = fnst.roots;
  Node **sites = fnst.sites;
  int n = fnst.nroots;
  fnst = outer;
  cg.fn = fnst.fn;
  if (cg.fn) cg.batch = LLVMGetParam(cg.fn, 3);
  if (at) LLVMPositionBuilderAtEnd(cg.b, at);
  Item it = {o->fn, arena_alloc(sizeof(LLVMValueRef) * (n + 1)), n, w.ops, parallel ? reduce_space(&k->groups[w.i]) : NULL,
             parallel ? group_weight(&k->groups[w.i]) : 1, parallel && w.ng == 1 && column_sum(&k->groups[w.i])};
  if (parallel && w.ng == 1 && k->groups[w.i].nodes[0]->op == OP_EMBEDDING_GRAD) {
    /* the scatter's work is its rows (the adjoint), not the table: split
     * over the team by columns, one share per thread (each column adds
     * the ids in order whoever runs it) */
    it.par = &k->groups[w.i].nodes[0]->in[0]->sh;
    it.cols = true;
  }
  if (parallel && w.ng > 1) {
    Shape *sp = arena_alloc(sizeof *sp);
    nest_size(k, w, sp, &it.weight);
    it.par = sp;
  }
  for (int i = 0, si = 0; i < n; i++) {
    if (roots[i]) {
      it.vals[i] = roots[i]->dyn && roots[i]->dyn_gen == fnst.gen ? roots[i]->dyn : ci64(roots[i]->at);
    } else {
      it.vals[i] = ci64(nchecks);
      PUSH(check_sites, nchecks, capchecks, sites[si++]);
    }
  }
  return it;
}

/* A private constant i64 array of vals. */
static LLVMValueRef const_table(LLVMValueRef *vals, int n) {
  LLVMValueRef zero = ci64(0);
  LLVMValueRef tab = LLVMAddGlobal(cg.mod, LLVMArrayType2(cg.t.i64, (uint64_t)(n ? n : 1)), "tab");
  LLVMSetInitializer(tab, LLVMConstArray2(cg.t.i64, n ? vals : &zero, (uint64_t)(n ? n : 1)));
  LLVMSetGlobalConstant(tab, 1);
  LLVMSetLinkage(tab, LLVMPrivateLinkage);
  return tab;
}

/* The call of item it from the current function, with table tab. */
static void call_item(const Item *it, LLVMValueRef tab) {
  LLVMValueRef args[7];
  for (int i = 0; i < 4; i++) args[i] = LLVMGetParam(cg.fn, (unsigned)i);
  args[4] = tab;
  if (!it->par) {
    LLVMBuildCall2(cg.b, item_type(false), it->fn, args, 5, "");
    return;
  }
  /* nnrt_par_item(item, ctx, slots, scratch, batch, tab, elements) */
  LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i64, cg.t.ptr, cg.t.i64}, fty;
  LLVMValueRef f = rt_fn(it->cols ? "nnrt_par_team" : "nnrt_par_item", cg.t.vd, ps, 7, &fty);
  LLVMValueRef pa[] = {it->fn, args[0], args[1], args[2], args[3], tab, LLVMBuildMul(cg.b, numel(it->par), ci64(it->weight), "")};
  LLVMBuildCall2(cg.b, fty, f, pa, 7, "");
}

/* Unrolled loops (a `for` over time steps, many alike layers) make a
 * kernel's items repeat: items[i + t·P + j] calls the same function as
 * items[i + j] for every step t < K.  The longest such run from i (at
 * least three repetitions; P up to 4096, tried at the next occurrences of
 * items[i]'s function) is emitted as a loop over t calling the P functions
 * with tables from one array of K steps: LLVM then optimises P calls
 * instead of K·P, and the same functions run on the same tables in the
 * same order, so the results are the same bits. */
enum { ROLL_MIN_REPEATS = 3, ROLL_MAX_PERIOD = 4096, ROLL_CANDIDATES = 64 };

static int roll_run(const Item *its, int n, int i, int *period) {
  static int off = -1; /* NNC_NO_ROLL=1: every item a call of its own (to compare) */
  if (off < 0) off = getenv("NNC_NO_ROLL") && *getenv("NNC_NO_ROLL") == '1';
  int best = 0;
  *period = 0;
  if (off) return 0;
  for (int p = 1, tried = 0; p <= ROLL_MAX_PERIOD && i + p < n && tried < ROLL_CANDIDATES; p++) {
    if (its[i + p].fn != its[i].fn) continue;
    tried++;
    int len = 0;
    while (i + p + len < n && its[i + len].fn == its[i + p + len].fn && its[i + len].n == its[i + p + len].n) len++;
    int reps = 1 + len / p;
    if (reps >= ROLL_MIN_REPEATS && reps * p > best) best = reps * p, *period = p;
  }
  return best / (*period ? *period : 1);
}

static void emit_rolled(const Item *its, int p, int reps) {
  int stride = 0;
  for (int j = 0; j < p; j++) stride += its[j].n;
  LLVMValueRef *vals = arena_alloc(sizeof *vals * ((size_t)stride * reps + 1));
  for (int t = 0, at = 0; t < reps; t++)
    for (int j = 0; j < p; j++)
      for (int v = 0; v < its[t * p + j].n; v++) vals[at++] = its[t * p + j].vals[v];
  LLVMValueRef tab = const_table(vals, stride * reps);
  Loop l = loop_begin(ci64(reps), "step");
  LLVMValueRef base = LLVMBuildMul(cg.b, l.i, ci64(stride), "");
  for (int j = 0, off = 0; j < p; j++) {
    LLVMValueRef at = LLVMBuildAdd(cg.b, base, ci64(off), "");
    call_item(&its[j], LLVMBuildGEP2(cg.b, cg.t.i64, tab, &at, 1, ""));
    off += its[j].n;
  }
  loop_end(&l);
}

/* On-demand outputs (KOut.on_demand: `show`, `sample`) are computed only
 * when the run sets ctx + NNRT_CTX_GEN (OUT show, OUT sample): the work
 * that feeds no other output is emitted behind that flag, so evaluation
 * does not pay for, say, a diffusion model's 50-step sampler.  By node id:
 * 1 when only on-demand outputs need it. */
static char *on_demand_nodes(const Kernel *k, int cap) {
  char *need = arena_alloc((size_t)cap), *only = arena_alloc((size_t)cap);
  Node **stack = arena_alloc(sizeof *stack * (size_t)(cap + 1));
  int top = 0;
  for (int i = 0; i < k->nouts; i++)
    if (!k->outs[i].on_demand && !need[k->outs[i].node->id]) need[k->outs[i].node->id] = 1, stack[top++] = k->outs[i].node;
  while (top) {
    Node *n = stack[--top];
    for (int j = 0; j < n->nin; j++)
      if (!need[n->in[j]->id]) need[n->in[j]->id] = 1, stack[top++] = n->in[j];
  }
  for (int i = 0; i < k->nsched; i++) only[k->sched[i]->id] = !need[k->sched[i]->id];
  return only;
}

static bool work_on_demand(const Kernel *k, Work w, const char *only) {
  if (w.kind == W_COPY) return k->outs[w.i].on_demand;
  if (w.kind != W_GROUP) return false;
  for (int gi = w.i; gi < w.i + w.ng; gi++) {
    const Group *g = &k->groups[gi];
    for (int i = 0; i < g->n; i++)
      if (!only[g->nodes[i]->id]) return false;
    if (g->n == 0) return false;
  }
  return true;
}

/* Open `if (ctx->on_demand) {` in the current function; gate_end closes it. */
static LLVMBasicBlockRef gate_begin(void) {
  LLVMValueRef ctx = LLVMGetParam(cg.fn, 0);
  LLVMValueRef flagp = LLVMBuildGEP2(cg.b, cg.t.i8, ctx, (LLVMValueRef[]){ci64(NNRT_CTX_GEN)}, 1, "");
  LLVMValueRef on = LLVMBuildICmp(cg.b, LLVMIntNE, LLVMBuildLoad2(cg.b, cg.t.i32, flagp, "gen"), ci32(0), "");
  LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "on_demand");
  LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "after_on_demand");
  LLVMBuildCondBr(cg.b, on, then, cont);
  LLVMPositionBuilderAtEnd(cg.b, then);
  return cont;
}
static void gate_end(LLVMBasicBlockRef cont) {
  LLVMBuildBr(cg.b, cont);
  LLVMPositionBuilderAtEnd(cg.b, cont);
}

/* Data-parallel training sends a gradient's bucket as soon as the
 * gradient is final (runtime/shard.c): after the item that writes a GRAD
 * slot for the last time, the kernel calls `if (ctx->grads_ready)
 * nnrt_grad_ready(ctx, slot)`.  By output: the index of that item in ws —
 * the output's copy when it has one, else the group that computes it in
 * place; nw when none was found (then the call ends the kernel); -1 for
 * outputs that are not gradients (label "grad ..."). */
static int *grad_hooks(const Kernel *k, const Work *ws, int nw) {
  int cap = graph_node_count() + 1, *group_work = arena_alloc(sizeof(int) * cap);
  int *at = arena_alloc(sizeof(int) * (k->nouts + 1));
  for (int i = 0; i < cap; i++) group_work[i] = nw;
  for (int j = 0; j < nw; j++)
    if (ws[j].kind == W_GROUP)
      for (int g = ws[j].i; g < ws[j].i + ws[j].ng; g++)
        for (int m = 0; m < k->groups[g].n; m++) group_work[k->groups[g].nodes[m]->id] = j;
  for (int i = 0; i < k->nouts; i++)
    at[i] = k->outs[i].label && !strncmp(k->outs[i].label, "grad ", 5) ? group_work[k->outs[i].node->id] : -1;
  for (int j = 0; j < nw; j++)
    if (ws[j].kind == W_COPY && at[ws[j].i] >= 0) at[ws[j].i] = j;
  return at;
}

/* The hooks of the gradients whose last write is item j. */
static void emit_grad_ready(const Kernel *k, const int *at, int j) {
  for (int i = 0; i < k->nouts; i++) {
    if (at[i] != j) continue;
    LLVMValueRef ctx = LLVMGetParam(cg.fn, 0);
    LLVMValueRef flagp = LLVMBuildGEP2(cg.b, cg.t.i8, ctx, (LLVMValueRef[]){ci64(NNRT_CTX_GRADS)}, 1, "");
    LLVMValueRef on = LLVMBuildICmp(cg.b, LLVMIntNE, LLVMBuildLoad2(cg.b, cg.t.i32, flagp, "grads"), ci32(0), "");
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "grad_ready");
    LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "after_grad_ready");
    LLVMBuildCondBr(cg.b, on, then, cont);
    LLVMPositionBuilderAtEnd(cg.b, then);
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.i32}, fty;
    LLVMValueRef f = rt_fn("nnrt_grad_ready", cg.t.vd, ps, 2, &fty);
    LLVMBuildCall2(cg.b, fty, f, (LLVMValueRef[]){ctx, ci32(k->outs[i].slot)}, 2, "");
    LLVMBuildBr(cg.b, cont);
    LLVMPositionBuilderAtEnd(cg.b, cont);
  }
}

/* LLVM's optimiser and code generator take time superlinear in a
 * function's size (dominator trees, SCEV's loop guards, live ranges across
 * hundreds of loops: 300 Dense layers took 10 s to build, 3,000 over 300 s).
 * So a kernel of more than PART_ABOVE ops is emitted as items that are
 * functions of their own (emit_outlined), called from parts of about
 * PART_OPS ops each, which the kernel calls in order.  Each loop's code is
 * the same as in one big function, apart from the buffers' addresses coming
 * from a table: nothing is optimised across loops (they communicate through
 * memory only), so the results are the same bits.  PART_ABOVE: a kernel
 * of 919 ops in one function took 1.7 s to build, parted 0.24 s; ResNet's
 * and ShuffleNet's training kernels (421, 672 ops) are parted and train as
 * fast and to the same bits; every other example is below. */
enum { PART_ABOVE = 256, PART_OPS = 256 };

/* Work item w in the current function, or a call of it on the team. */
static void emit_inline(const Kernel *k, Work w, Buf *bufs, int spare) {
  if (!work_par(k, w)) {
    emit_work(k, w, bufs, spare);
    return;
  }
  Item it = outline_item(k, w, bufs, spare);
  bool fixed = true;
  for (int i = 0; i < it.n; i++) fixed = fixed && LLVMIsConstant(it.vals[i]);
  if (fixed) {
    call_item(&it, const_table(it.vals, it.n));
    return;
  }
  /* a scan's step: some buffers move with the step, so the table is the
   * function's own (on its stack), filled before each call */
  LLVMBasicBlockRef at = LLVMGetInsertBlock(cg.b);
  LLVMPositionBuilderAtEnd(cg.b, fnst.prelude);
  LLVMTypeRef aty = LLVMArrayType2(cg.t.i64, (uint64_t)it.n);
  LLVMValueRef tab = LLVMBuildAlloca(cg.b, aty, "tab");
  LLVMPositionBuilderAtEnd(cg.b, at);
  for (int i = 0; i < it.n; i++) LLVMBuildStore(cg.b, it.vals[i], LLVMBuildGEP2(cg.b, cg.t.i64, tab, (LLVMValueRef[]){ci64(i)}, 1, ""));
  call_item(&it, tab);
}

/* nnc build --profile: before each work item, nnrt_prof("what it is"). */
static bool profile;

static const char *work_desc(const Kernel *k, Work w) {
  if (w.kind == W_CONST) return arena_printf("%s: a constant", k->name);
  if (w.kind == W_COPY) return arena_printf("%s: copy of %%%d into its slot", k->name, k->outs[w.i].node->id);
  const Group *g = &k->groups[w.i];
  char *s = w.ng > 1 ? arena_printf("%s k%d-k%d row nest %s:", k->name, w.i, w.i + w.ng - 1, shape_str(&g->space))
                     : arena_printf("%s k%d %s %s:", k->name, w.i, g->fused ? "fused" : "single", shape_str(&g->space));
  int shown = 0;
  for (int j = w.i; j < w.i + w.ng; j++)
    for (int m = 0; m < k->groups[j].n; m++) {
      const Node *n = k->groups[j].nodes[m];
      if (shown++ < 8) s = arena_printf("%s %%%d=%s", s, n->id, op_info[n->op].name);
    }
  return shown > 8 ? arena_printf("%s ... (%d ops)", s, shown) : s;
}

static void prof_call(const char *what) {
  LLVMTypeRef ps[] = {cg.t.ptr}, fty;
  LLVMValueRef f = rt_fn("nnrt_prof", cg.t.vd, ps, 1, &fty);
  LLVMValueRef arg = what ? LLVMBuildGlobalStringPtr(cg.b, what, "prof") : LLVMConstNull(cg.t.ptr);
  LLVMBuildCall2(cg.b, fty, f, &arg, 1, "");
}

/* Kernel k as nnc_<name>; with `checked`, it first tests the run's
 * --check-numerics flag and, when set, runs that unfused copy instead, whose
 * every op is checked for NaN/Inf after it runs. */
static void emit_kernel(Kernel *k, Kernel *checked) {
  LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i64};
  LLVMTypeRef ft = LLVMFunctionType(cg.t.vd, ps, 4, 0);
  int cap = graph_node_count() + 1;
  Buf *bufs = arena_alloc(sizeof(Buf) * (cap + 1)); /* and a spare, see emit_work */
  memset(&outl, 0, sizeof outl); /* functions are shared within a kernel */
  group_val = arena_alloc(sizeof *group_val * cap);
  group_seen = arena_alloc(cap);
  /* scratch size: the larger of the two variants */
  cg.fn = LLVMAddFunction(cg.mod, arena_printf("nnc_%s_scratch", k->name), LLVMFunctionType(cg.t.i64, &cg.t.i64, 1, 0));
  LLVMPositionBuilderAtEnd(cg.b, LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "entry"));
  cg.batch = LLVMGetParam(cg.fn, 0);
  LLVMValueRef total = scratch_bytes(k);
  if (checked) {
    LLVMValueRef t2 = scratch_bytes(checked);
    total = LLVMBuildSelect(cg.b, LLVMBuildICmp(cg.b, LLVMIntSGT, t2, total, ""), t2, total, "");
  }
  LLVMBuildRet(cg.b, total);
  /* the kernel */
  LLVMValueRef kfn = LLVMAddFunction(cg.mod, arena_printf("nnc_%s", k->name), ft);
  LLVMBasicBlockRef prelude = LLVMAppendBasicBlockInContext(cg.ctx, kfn, "entry");
  LLVMPositionBuilderAtEnd(cg.b, prelude);
  LLVMValueRef args[4];
  for (int i = 0; i < 4; i++) args[i] = LLVMGetParam(kfn, (unsigned)i);
  if (checked) {
    LLVMValueRef flagp = LLVMBuildGEP2(cg.b, cg.t.i8, args[0], (LLVMValueRef[]){ci64(NNRT_CTX_CHECK_NUMERICS)}, 1, "");
    LLVMValueRef on = LLVMBuildICmp(cg.b, LLVMIntNE, LLVMBuildLoad2(cg.b, cg.t.i32, flagp, "check"), ci32(0), "");
    LLVMBasicBlockRef slow = LLVMAppendBasicBlockInContext(cg.ctx, kfn, "checked");
    prelude = LLVMAppendBasicBlockInContext(cg.ctx, kfn, "fast");
    LLVMBuildCondBr(cg.b, on, slow, prelude);
    LLVMPositionBuilderAtEnd(cg.b, slow);
    LLVMTypeRef cft;
    LLVMValueRef cf = rt_fn(arena_printf("nnc_%s", checked->name), cg.t.vd, ps, 4, &cft); /* another unit's */
    LLVMBuildCall2(cg.b, cft, cf, args, 4, "");
    LLVMBuildRetVoid(cg.b);
  }
  plan(k, bufs);
  place_k = k;
  bool checks = !checked && strstr(k->name, "checked");
  work_checks = checks;
  if (checks) add_attrs(kfn, true); /* a debugging path: not worth optimisation time at build */
  LLVMBasicBlockRef kstart = fn_begin(kfn, prelude, k->plan);
  Work *ws = arena_alloc(sizeof *ws * (k->nsched + k->ngroups + k->nouts + 1));
  int nw = 0, ops = 0;
  for (int i = 0; i < k->nsched; i++)
    if (k->sched[i]->op == OP_CONST) ws[nw++] = (Work){W_CONST, i, 1, 1};
  for (int g = 0; g < k->ngroups;) {
    int ng = k->nest && !checks ? k->nest[g] : 1, members = 0;
    for (int j = g; j < g + ng; j++) members += k->groups[j].n;
    ws[nw++] = (Work){W_GROUP, g, members, ng};
    g += ng;
  }
  char *copied = arena_alloc(cap); /* by node id: an earlier output is the same value */
  for (int i = 0; i < k->nouts; i++) {
    Node *n = k->outs[i].node;
    bool first = !copied[n->id];
    copied[n->id] = 1;
    if (!k->outs[i].deferred && bufs[n->id].kind && bufs[n->id].in_slot && op_info[n->op].kind != OK_LEAF &&
        first && n->op != OP_RESHAPE)
      continue; /* computed in place */
    ws[nw++] = (Work){W_COPY, i, 1, 1};
  }
  for (int i = 0; i < nw; i++) ops += ws[i].ops;
  bool parted = ops > PART_ABOVE;
  char *only = on_demand_nodes(k, cap);
  char *gated = arena_alloc((size_t)nw + 1);
  for (int i = 0; i < nw; i++) gated[i] = !checks && work_on_demand(k, ws[i], only);
  epi.out = arena_alloc(sizeof *epi.out * cap);
  epi.bias = arena_alloc(sizeof *epi.bias * cap);
  epi.relu = arena_alloc(cap);
  epi.absorbed = arena_alloc(cap);
  for (int i = 0; !checks && i + 1 < nw; i++)
    if (ws[i].kind == W_GROUP && ws[i + 1].kind == W_GROUP && ws[i].ng == 1 && ws[i + 1].ng == 1 &&
        ws[i + 1].i == ws[i].i + 1 && gated[i] == gated[i + 1])
      plan_epilogue(k, &k->groups[ws[i].i], &k->groups[ws[i + 1].i], bufs);
  int *hook_at = grad_hooks(k, ws, nw);
  bool timed = profile && !checks;
  if (!parted) {
    for (int i = 0; i < nw;) {
      if (timed) prof_call(work_desc(k, ws[i]));
      if (!gated[i]) {
        emit_inline(k, ws[i], bufs, cap);
        emit_grad_ready(k, hook_at, i);
        i++;
        continue;
      }
      LLVMBasicBlockRef cont = gate_begin();
      int from = i;
      while (i < nw && gated[i]) {
        if (timed && i > from) prof_call(work_desc(k, ws[i]));
        emit_inline(k, ws[i++], bufs, cap);
      }
      gate_end(cont);
      for (; from < i; from++) emit_grad_ready(k, hook_at, from);
    }
  } else {
    Item *its = arena_alloc(sizeof *its * nw);
    for (int i = 0; i < nw; i++) its[i] = outline_item(k, ws[i], bufs, cap);
    FnState kst; /* the kernel's, while a part is emitted */
    LLVMBasicBlockRef pstart = NULL, kat = NULL;
    int nparts = 0, in_part = 0;
    for (int i = 0; i < nw;) {
      int p, reps = timed ? 0 : roll_run(its, nw, i, &p); /* profiled: each item a call of its own */
      if (pstart && (reps || in_part >= PART_OPS)) { /* back to the kernel */
        fn_end(pstart);
        fnst = kst;
        cg.fn = fnst.fn;
        cg.batch = LLVMGetParam(cg.fn, 3);
        LLVMPositionBuilderAtEnd(cg.b, kat);
        pstart = NULL;
        in_part = 0;
      }
      if (reps) { /* a loop in the kernel itself */
        bool all = true;
        for (int j = i; j < i + p * reps; j++) all = all && gated[j];
        LLVMBasicBlockRef cont = all ? gate_begin() : NULL;
        emit_rolled(its + i, p, reps);
        if (cont) gate_end(cont);
        for (int j = i; j < i + p * reps; j++) emit_grad_ready(k, hook_at, j); /* after the loop */
        i += p * reps;
        continue;
      }
      if (!pstart) { /* a new part, called from the kernel */
        LLVMValueRef pfn = LLVMAddFunction(cg.mod, arena_printf("nnc_%s.part%d", k->name, nparts++), ft);
        LLVMSetLinkage(pfn, LLVMInternalLinkage);
        add_attrs(pfn, checks);
        LLVMBuildCall2(cg.b, ft, pfn, args, 4, "");
        kst = fnst;
        kat = LLVMGetInsertBlock(cg.b);
        pstart = fn_begin(pfn, LLVMAppendBasicBlockInContext(cg.ctx, pfn, "entry"), k->plan);
      }
      if (timed) prof_call(work_desc(k, ws[i]));
      LLVMBasicBlockRef cont = gated[i] ? gate_begin() : NULL;
      call_item(&its[i], const_table(its[i].vals, its[i].n));
      if (cont) gate_end(cont);
      emit_grad_ready(k, hook_at, i);
      in_part += its[i].ops;
      i++;
    }
    if (pstart) {
      fn_end(pstart);
      fnst = kst;
      cg.fn = fnst.fn;
      cg.batch = LLVMGetParam(cg.fn, 3);
      LLVMPositionBuilderAtEnd(cg.b, kat);
    }
  }
  emit_grad_ready(k, hook_at, nw);
  if (timed) prof_call(NULL);
  fn_end(kstart);
  if (outl.scratch) LLVMDisposeModule(outl.scratch);
  outl.scratch = NULL;
}

/* ---- the program description --------------------------------------------- */

static LLVMValueRef str(const char *s) { return LLVMBuildGlobalStringPtr(cg.b, s ? s : "", "str"); }

static LLVMValueRef global_array(LLVMTypeRef et, LLVMValueRef *vals, int n) {
  LLVMTypeRef at = LLVMArrayType2(et, (uint64_t)(n ? n : 1));
  LLVMValueRef zero = LLVMConstNull(et);
  LLVMValueRef g = LLVMAddGlobal(cg.mod, at, "tab");
  LLVMSetInitializer(g, LLVMConstArray2(et, n ? vals : &zero, (uint64_t)(n ? n : 1)));
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  return g;
}

static LLVMValueRef f64_array(const double *v, int n) {
  LLVMValueRef *c = arena_alloc(sizeof *c * (n + 1));
  for (int i = 0; i < n; i++) c[i] = LLVMConstReal(cg.t.f64, v[i]);
  return global_array(cg.t.f64, c, n);
}

static void call_rt(const char *name, LLVMTypeRef *ps, LLVMValueRef *args, int n) {
  LLVMTypeRef fty;
  LLVMValueRef f = rt_fn(name, cg.t.vd, ps, n, &fty);
  LLVMBuildCall2(cg.b, fty, f, args, (unsigned)n, "");
}

static void emit_hyper(const char *fn, int idx, const HyperCall *h) {
  LLVMValueRef keys[16], vals = f64_array(h->vals, h->n);
  for (int i = 0; i < h->n; i++) keys[i] = LLVMConstPointerNull(cg.t.ptr);
  LLVMValueRef kg = global_array(cg.t.ptr, keys, h->n);
  /* keys are filled at run time from string globals (constant pointers to
   * globals are fine in an initializer, but building them needs a builder) */
  LLVMValueRef karr = LLVMBuildArrayAlloca(cg.b, cg.t.ptr, ci64(h->n ? h->n : 1), "keys");
  for (int i = 0; i < h->n; i++)
    LLVMBuildStore(cg.b, str(h->keys[i] ? h->keys[i] : ""), LLVMBuildGEP2(cg.b, cg.t.ptr, karr, (LLVMValueRef[]){ci64(i)}, 1, ""));
  (void)kg;
  LLVMTypeRef ps[] = {cg.t.ptr, cg.t.i32, cg.t.ptr, cg.t.i32, cg.t.ptr, cg.t.ptr};
  LLVMValueRef args[] = {LLVMGetParam(cg.fn, 0), ci32(idx), str(h->name), ci32(h->n), karr, vals};
  call_rt(fn, ps, args, 6);
}

/* nnc_setup makes a few calls per slot, data source, info row and check
 * site: thousands in a big program, and code generation even at -O0 takes
 * time superlinear in a function's size.  So after every SETUP_ITEMS items
 * it goes on in a new function, nnc_setup.part<i>, which it calls. */
enum { SETUP_ITEMS = 256 };
static struct { LLVMValueRef main; LLVMBasicBlockRef bb; int items, parts; } setup;

/* Before each item: the function to emit it into; returns its argument. */
static LLVMValueRef setup_item(void) {
  if (++setup.items % SETUP_ITEMS == 0) {
    if (cg.fn != setup.main) LLVMBuildRetVoid(cg.b);
    LLVMTypeRef fty = LLVMFunctionType(cg.t.vd, &cg.t.ptr, 1, 0);
    LLVMValueRef f = LLVMAddFunction(cg.mod, arena_printf("nnc_setup.part%d", ++setup.parts), fty);
    LLVMSetLinkage(f, LLVMInternalLinkage);
    LLVMPositionBuilderAtEnd(cg.b, setup.bb);
    LLVMBuildCall2(cg.b, fty, f, (LLVMValueRef[]){LLVMGetParam(setup.main, 0)}, 1, "");
    cg.fn = f;
    LLVMPositionBuilderAtEnd(cg.b, LLVMAppendBasicBlockInContext(cg.ctx, f, "entry"));
  }
  return LLVMGetParam(cg.fn, 0);
}

static void emit_setup(Program *p) {
  cg.fn = LLVMAddFunction(cg.mod, "nnc_setup", LLVMFunctionType(cg.t.vd, &cg.t.ptr, 1, 0));
  setup.main = cg.fn;
  setup.bb = LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "entry");
  setup.items = setup.parts = 0;
  LLVMPositionBuilderAtEnd(cg.b, setup.bb);
  LLVMValueRef P = LLVMGetParam(cg.fn, 0);
  {
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr};
    call_rt("nnrt_program", ps, (LLVMValueRef[]){P, str(p->name), str(p->source)}, 3);
  }
  for (int i = 0; i < p->nslots; i++) {
    SlotDesc *s = p->slots[i];
    P = setup_item();
    LLVMValueRef dims[MAX_RANK];
    for (int d = 0; d < s->sh.rank; d++) dims[d] = ci64(s->sh.d[d].b ? NNRT_BATCH : s->sh.d[d].k);
    int rdt = s->dt == DT_F64 ? NNRT_F64 : s->dt == DT_I32 ? NNRT_I32 : NNRT_F32, rank = s->sh.rank;
    if (s->dt == DT_CSR) { /* the runtime's NnrtCsr header (pointers to the split's arrays), not N·N values */
      rdt = dtype_program() == DT_F64 ? NNRT_F64 : NNRT_F32;
      rank = 2;
      dims[1] = ci64(NNRT_CSR_BYTES / (rdt == NNRT_F64 ? 8 : 4));
    }
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.i32, cg.t.i32, cg.t.ptr, cg.t.i32, cg.t.i32, cg.t.ptr};
    LLVMValueRef args[] = {P, ci32(i), ci32(s->role), str(s->name), ci32(rdt), ci32(rank), global_array(cg.t.i64, dims, rank)};
    call_rt("nnrt_slot", ps, args, 7);
    if (s->role == NNRT_SLOT_PARAM || s->role == NNRT_SLOT_STATE) {
      LLVMTypeRef ip[] = {cg.t.ptr, cg.t.i32, cg.t.ptr, cg.t.i32, cg.t.ptr, cg.t.i64, cg.t.i64};
      LLVMValueRef ia[] = {P, ci32(i), str(s->initc.name), ci32(s->initc.n), f64_array(s->initc.vals, s->initc.n),
                           ci64(s->fan_in), ci64(s->fan_out)};
      call_rt("nnrt_init", ip, ia, 7);
    } else if (s->role == NNRT_SLOT_GRAD) {
      LLVMTypeRef gp[] = {cg.t.ptr, cg.t.i32, cg.t.i32, cg.t.i32};
      call_rt("nnrt_grad", gp, (LLVMValueRef[]){P, ci32(i), ci32(s->grad_of), ci32(s->opt)}, 4);
    } else if (s->role == NNRT_SLOT_INPUT) {
      LLVMTypeRef gp[] = {cg.t.ptr, cg.t.i32, cg.t.ptr};
      call_rt("nnrt_input", gp, (LLVMValueRef[]){P, ci32(i), str(s->field)}, 3);
      if (s->classes > 0) call_rt("nnrt_input_classes", (LLVMTypeRef[]){cg.t.ptr, cg.t.i32, cg.t.i64}, (LLVMValueRef[]){P, ci32(i), ci64(s->classes)}, 3);
    } else if (s->role == NNRT_SLOT_OUTPUT) {
      LLVMTypeRef gp[] = {cg.t.ptr, cg.t.i32, cg.t.ptr};
      call_rt("nnrt_output", gp, (LLVMValueRef[]){P, ci32(i), str(s->what)}, 3);
    }
  }
  for (int i = 0; i < p->nsrcs; i++) {
    DataSrc *d = p->srcs[i];
    P = setup_item();
    if (d->path && d->kind == 2) {
      LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i64, cg.t.i64, cg.t.i64, cg.t.i64, cg.t.i32};
      call_rt("nnrt_data_text", ps, (LLVMValueRef[]){P, str(d->field), str(d->split), str(d->path), ci64(d->vocab),
                                                    ci64(d->len), ci64(d->shift), ci64(d->stride), ci32(d->words)}, 9);
    } else if (d->path && d->kind == 3) {
      LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i64, cg.t.i32};
      int form = (d->norm ? NNRT_GRAPH_GCN : 0) | (d->csr ? NNRT_GRAPH_CSR : 0) | (d->f64 ? NNRT_GRAPH_F64 : 0);
      call_rt("nnrt_data_graph", ps, (LLVMValueRef[]){P, str(d->field), str(d->split), str(d->path), ci64(d->len), ci32(form)}, 6);
    } else if (d->path && d->kind == 4) {
      LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i64, cg.t.i64, cg.t.f64, cg.t.i32, cg.t.i64, cg.t.i32, cg.t.i32};
      call_rt("nnrt_data_mlm", ps, (LLVMValueRef[]){P, str(d->field), str(d->split), str(d->path), ci64(d->vocab), ci64(d->len),
                                                   LLVMConstReal(cg.t.f64, d->mask), ci32(d->pairs), ci64(d->copies),
                                                   ci32(d->words), ci32(d->part)}, 11);
    } else if (d->path && d->kind == 1 && (d->header >= 0 || d->col_begin != 0 || d->col_end != -1)) {
      LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i32, cg.t.i64, cg.t.i64, cg.t.f64};
      call_rt("nnrt_data_csv", ps, (LLVMValueRef[]){P, str(d->field), str(d->split), str(d->path), ci32(d->header > 0),
                                                   ci64(d->col_begin), ci64(d->col_end), LLVMConstReal(cg.t.f64, d->scale)}, 8);
    } else if (d->path) {
      LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.f64};
      call_rt("nnrt_data_idx", ps, (LLVMValueRef[]){P, str(d->field), str(d->split), str(d->path), LLVMConstReal(cg.t.f64, d->scale)}, 5);
    } else {
      LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i64, cg.t.i64, cg.t.ptr};
      call_rt("nnrt_data_table", ps,
              (LLVMValueRef[]){P, str(d->field), str(d->split), ci64(d->n), ci64(d->per), f64_array(d->table, (int)(d->n * d->per))}, 6);
    }
    if (d->normalize) {
      LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr};
      call_rt("nnrt_data_normalize", ps, (LLVMValueRef[]){P, str(d->field)}, 2);
    }
    if (d->node_mask) {
      LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr};
      call_rt("nnrt_data_mask", ps, (LLVMValueRef[]){P, str(d->field), str(d->split)}, 3);
    }
  }
  {
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.i64, cg.t.i64, cg.t.i64};
    call_rt("nnrt_train_config", ps, (LLVMValueRef[]){P, ci64(p->epochs), ci64(p->batch), ci64(p->seed)}, 4);
  }
  if (p->valid > 0) {
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.f64};
    call_rt("nnrt_validation", ps, (LLVMValueRef[]){P, LLVMConstReal(cg.t.f64, p->valid)}, 2);
  }
  if (p->has_augment) emit_hyper("nnrt_augment", 0, &p->augment);
  if (p->clip_norm > 0) {
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.f64};
    call_rt("nnrt_clip_norm", ps, (LLVMValueRef[]){P, LLVMConstReal(cg.t.f64, p->clip_norm)}, 2);
  }
  if (p->early_stop > 0) {
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.i64};
    call_rt("nnrt_early_stopping", ps, (LLVMValueRef[]){P, ci64(p->early_stop)}, 2);
  }
  emit_hyper("nnrt_optimizer", 0, &p->opt);
  for (int i = 1; i < p->nobj; i++) /* objective i's optimizer */
    emit_hyper("nnrt_optimizer", i, &p->objs[i].opt);
  for (int i = 0; i < (p->nobj > 1 ? p->nobj : 1); i++) { /* its schedule, else the block's */
    const HyperCall *sc = p->nobj > 1 && p->objs[i].has_sched ? &p->objs[i].sched : &p->sched;
    if (sc->name) emit_hyper("nnrt_schedule", i, sc);
  }
  for (int i = 0; p->nobj > 1 && i < p->nobj; i++) { /* the objectives' train kernels, run in order */
    LLVMTypeRef kp[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i64}, fty;
    const char *kn = i ? p->obj_k[i].name : "train";
    LLVMValueRef kf = rt_fn(arena_printf("nnc_%s", kn), cg.t.vd, kp, 4, &fty);
    LLVMValueRef sf = rt_fn(arena_printf("nnc_%s_scratch", kn), cg.t.i64, &cg.t.i64, 1, &fty);
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.i32, cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i32};
    call_rt("nnrt_objective", ps, (LLVMValueRef[]){P, ci32(i), str(p->objs[i].name), kf, sf, ci32(p->objs[i].slot)}, 6);
    if (p->objs[i].reps > 1 || p->objs[i].group != i) { /* in a `for` of minimize statements (§8.4) */
      LLVMTypeRef gp[] = {cg.t.ptr, cg.t.i32, cg.t.i32, cg.t.i64};
      call_rt("nnrt_objective_repeat", gp,
              (LLVMValueRef[]){P, ci32(i), ci32(p->objs[i].group), ci64(p->objs[i].reps)}, 4);
    }
  }
  {
    /* the kernels are defined in other units (nnc build): declare them */
    LLVMTypeRef kp[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i64}, fty;
    LLVMValueRef f[4];
    for (int i = 0; i < 4; i++)
      f[i] = i % 2 ? rt_fn(i < 2 ? "nnc_train_scratch" : "nnc_eval_scratch", cg.t.i64, &cg.t.i64, 1, &fty)
                   : rt_fn(i < 2 ? "nnc_train" : "nnc_eval", cg.t.vd, kp, 4, &fty);
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr};
    call_rt("nnrt_kernels", ps, (LLVMValueRef[]){P, f[0], f[1], f[2], f[3]}, 5);
    LLVMTypeRef op[OPTIM_NPARAMS];
    optim_params(&cg.t, op);
    LLVMValueRef o32 = rt_fn("nnc_opt_f32", cg.t.vd, op, OPTIM_NPARAMS, &fty), o64 = rt_fn("nnc_opt_f64", cg.t.vd, op, OPTIM_NPARAMS, &fty);
    call_rt("nnrt_opt_kernels", ps, (LLVMValueRef[]){P, o32, o64}, 3);
    static const char *const clip[] = {"nnc_sqsum_f32", "nnc_sqsum_f64", "nnc_clip", "nnc_scale_f32", "nnc_scale_f64"};
    LLVMValueRef cf[6] = {P};
    for (int k = 0; k < 5; k++) {
      LLVMTypeRef cp[3];
      clip_params(&cg.t, cp, k == 2);
      cf[k + 1] = rt_fn(clip[k], cg.t.vd, cp, 3, &fty);
    }
    LLVMTypeRef ps6[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr};
    call_rt("nnrt_clip_kernels", ps6, cf, 6);
  }
  if (p->train_k.nsched || p->eval_k.nsched) { /* `OUT info`'s FLOP totals, per sample */
    int64_t b = p->batch > 0 ? p->batch : 1;
    double fe = kernel_flops(&p->eval_k, b) / (double)b, ft = kernel_flops(&p->train_k, b) / (double)b;
    for (int i = 1; i < p->nobj; i++) ft += kernel_flops(&p->obj_k[i], b) / (double)b; /* a step runs every objective */
    P = setup_item();
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.i64, cg.t.i64};
    call_rt("nnrt_info_flops", ps,
            (LLVMValueRef[]){P, ci64(fe < 9e18 ? (int64_t)(fe + 0.5) : INT64_MAX), ci64(ft < 9e18 ? (int64_t)(ft + 0.5) : INT64_MAX)}, 3);
  }
  for (int i = 0; i < p->ninfo; i++) {
    struct InfoRow *r = &p->info[i];
    P = setup_item();
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.ptr, cg.t.i64, cg.t.i64};
    call_rt("nnrt_info_row", ps, (LLVMValueRef[]){P, str(r->name), str(r->kind), str(r->shape), ci64(r->params), ci64(r->flops)}, 6);
  }
  for (int i = 0; i < nchecks; i++) {
    const Node *n = check_sites[i];
    P = setup_item();
    const Loc *l = &n->loc;
    const char *where = l->file ? arena_printf("%s:%d:%d", l->file->path, l->line, l->col) : "<builtin>";
    LLVMTypeRef ps[] = {cg.t.ptr, cg.t.i32, cg.t.ptr, cg.t.ptr, cg.t.ptr};
    /* a backward op is named by what it differentiates: "gradient of sqrt", not "div" */
    const char *what = n->grad_of ? arena_printf("gradient of %s", op_info[n->grad_of - 1].name) : op_info[n->op].name;
    call_rt("nnrt_site", ps, (LLVMValueRef[]){P, ci32(i), str(where), str(what),
                                             str(arena_printf("%s%s", dtype_name(n->dt), shape_str(&n->sh)))}, 5);
  }
  if (cg.fn != setup.main) {
    LLVMBuildRetVoid(cg.b);
    cg.fn = setup.main;
    LLVMPositionBuilderAtEnd(cg.b, setup.bb);
  }
  LLVMBuildRetVoid(cg.b);
  /* main */
  LLVMTypeRef mp[] = {cg.t.i32, cg.t.ptr};
  cg.fn = LLVMAddFunction(cg.mod, "main", LLVMFunctionType(cg.t.i32, mp, 2, 0));
  LLVMPositionBuilderAtEnd(cg.b, LLVMAppendBasicBlockInContext(cg.ctx, cg.fn, "entry"));
  LLVMTypeRef np[] = {cg.t.i32, cg.t.ptr, cg.t.ptr};
  LLVMTypeRef fty;
  LLVMValueRef nm = rt_fn("nnrt_main", cg.t.i32, np, 3, &fty);
  LLVMValueRef r = LLVMBuildCall2(cg.b, fty, nm, (LLVMValueRef[]){LLVMGetParam(cg.fn, 0), LLVMGetParam(cg.fn, 1), LLVMGetNamedFunction(cg.mod, "nnc_setup")}, 3, "");
  LLVMBuildRet(cg.b, r);
}

/* ---- units: modules, their optimisation and object code ------------------ */

/* The program as LLVM modules.  nnc build makes one per kernel (and one for
 * nnc_setup and main), each in its own LLVMContext, so that they can be
 * optimised and compiled on several cores at once and linked as separate
 * objects; the emit commands keep one module, so that `emit llvm` prints one
 * valid module.  The kernels' code is the same either way, as nothing is
 * inlined across kernels (the checked copies are noinline); only the cold
 * units' differs (see codegen_module). */
typedef struct Unit {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  const char *name;
  int rank;              /* compile order: the costliest units first */
  bool cold;             /* run rarely or once: not optimised, -O0 code */
  double opt_ms, obj_ms; /* thread CPU time, for NNC_TIME */
} Unit;

typedef struct Units {
  Unit u[8];
  int n;
} Units;

/* The host target, looked up once on the main thread: the worker threads
 * only create target machines from it. */
static struct { LLVMTargetRef t; char *triple, *cpu, *feat, *layout; } host;

static LLVMTargetMachineRef target_machine(int opt) {
  LLVMCodeGenOptLevel lvl = opt == 0 ? LLVMCodeGenLevelNone : opt == 1 ? LLVMCodeGenLevelLess : opt == 2 ? LLVMCodeGenLevelDefault : LLVMCodeGenLevelAggressive;
  return LLVMCreateTargetMachine(host.t, host.triple, host.cpu, host.feat, lvl, LLVMRelocPIC, LLVMCodeModelDefault);
}

static void host_init(void) {
  if (host.triple) return;
  LLVMInitializeX86TargetInfo();
  LLVMInitializeX86Target();
  LLVMInitializeX86TargetMC();
  LLVMInitializeX86AsmPrinter();
  host.triple = LLVMGetDefaultTargetTriple();
  char *err = NULL;
  if (LLVMGetTargetFromTriple(host.triple, &host.t, &err)) nnc_unreachable("no LLVM target for %s: %s", host.triple, err);
  host.cpu = LLVMGetHostCPUName();
  host.feat = LLVMGetHostCPUFeatures();
  if (wide_vectors()) { /* 512-bit vectors preferred (wide_vectors) */
    char *f = malloc(strlen(host.feat) + 32);
    if (!f) nnc_unreachable("out of memory");
    sprintf(f, "%s,-prefer-256-bit", host.feat);
    LLVMDisposeMessage(host.feat);
    host.feat = f;
  }
  LLVMTargetMachineRef tm = target_machine(2);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  host.layout = LLVMCopyStringRepOfTargetData(td);
  LLVMDisposeTargetData(td);
  LLVMDisposeTargetMachine(tm);
}

/* Start a new unit: the builder state in cg now belongs to its module. */
static void unit_begin(Units *us, const Program *p, const char *name, int rank, bool cold) {
  if (us->n == (int)(sizeof us->u / sizeof us->u[0])) nnc_unreachable("too many codegen units");
  Unit *u = &us->u[us->n++];
  u->name = name;
  u->rank = rank;
  u->cold = cold;
  if (cg.b) LLVMDisposeBuilder(cg.b);
  cg.ctx = u->ctx = LLVMContextCreate();
  cg.mod = u->mod = LLVMModuleCreateWithNameInContext(name ? arena_printf("%s:%s", p->source, name) : p->source, cg.ctx);
  cg.b = LLVMCreateBuilderInContext(cg.ctx);
  cg.t = k_types(cg.ctx);
  LLVMSetTarget(cg.mod, host.triple);
  LLVMSetDataLayout(cg.mod, host.layout);
}

void *codegen_module(Program *p, const CodegenOptions *o) {
  nchecks = 0;
  profile = o->profile;
  host_init();
  Units *us = arena_alloc(sizeof *us);
  /* The checked copies first: their check sites are numbered as they are
   * emitted, and nnc_setup lists them.  Ranks put the optimised kernels
   * first when compiling, train (the largest) leading; the cold units fill
   * in.  The checked copies run only with --check-numerics (they are optnone
   * in the one-module listing too) and nnc_setup once per run, so -O0 code
   * does for them: no optimiser, and a quarter of the instruction selection
   * time (LeNet-5: 180 ms of CPU time before, 36 after). */
  bool split = o->split;
  unit_begin(us, p, split ? "train_checked" : NULL, 2, split);
  emit_kernel(&p->train_chk, NULL);
  for (int i = 1; i < p->nobj; i++) emit_kernel(&p->obj_chk[i], NULL);
  if (split) unit_begin(us, p, "eval_checked", 3, true);
  emit_kernel(&p->eval_chk, NULL);
  if (split) unit_begin(us, p, "train", 0, false);
  emit_kernel(&p->train_k, &p->train_chk);
  for (int i = 1; i < p->nobj; i++) emit_kernel(&p->obj_k[i], &p->obj_chk[i]);
  if (split) unit_begin(us, p, "eval", 1, false);
  emit_kernel(&p->eval_k, &p->eval_chk);
  if (split) unit_begin(us, p, "optim", 2, false);
  emit_optim(DT_F32);
  emit_optim(DT_F64);
  emit_clip();
  if (split) unit_begin(us, p, "setup", 4, true);
  emit_setup(p);
  if (o->cuda_arch) { /* nnc build --cuda: the GPU kernels ride along (codegen/nvptx.c) */
    char *ptx = nvptx_emit(p, o->cuda_arch, o->opt_level);
    if (!ptx) return NULL;
    nvptx_attach(p, cg.mod, ptx);
  }
  LLVMDisposeBuilder(cg.b);
  cg.b = NULL;
  for (int i = 0; i < us->n; i++) {
    mvec_keep(us->u[i].mod);
    char *err = NULL;
    if (LLVMVerifyModule(us->u[i].mod, LLVMReturnStatusAction, &err)) {
      fprintf(stderr, "%s\n", err);
      nnc_unreachable("generated LLVM IR does not verify");
    }
    LLVMDisposeMessage(err);
  }
  return us;
}

int codegen_units(void *units) { return ((Units *)units)->n; }

static double thread_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void unit_optimize(Unit *u, const CodegenOptions *o, LLVMTargetMachineRef tm) {
  double t0 = thread_ms();
  if (o->opt_level > 0 && !u->cold) {
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(po, 1);
    LLVMPassBuilderOptionsSetSLPVectorization(po, 1);
    /* No loop unrolling below -O3.  The vectorizer still interleaves the hot
     * loops; what the unroller added was runtime unrolling of the scalar
     * remainder and alias-check fallback loops and full unrolling of short
     * outer loops (6 channels around a vectorized row of 28), which made
     * LeNet-5's IR 1.7x larger and cost over half of its optimisation and
     * instruction selection time for no measurable training speed. */
    LLVMPassBuilderOptionsSetLoopUnrolling(po, o->opt_level >= 3);
    const char *pipe = o->opt_level == 1 ? "default<O1>" : o->opt_level == 2 ? "default<O2>" : "default<O3>";
    LLVMErrorRef e = LLVMRunPasses(u->mod, pipe, tm, po);
    if (e) {
      char *m = LLVMGetErrorMessage(e);
      nnc_unreachable("LLVM passes failed: %s", m);
    }
    LLVMDisposePassBuilderOptions(po);
  }
  u->opt_ms = thread_ms() - t0;
}

int codegen_print_ir(void *units, const CodegenOptions *o, FILE *out) {
  Units *us = units;
  LLVMTargetMachineRef tm = target_machine(o->opt_level);
  for (int i = 0; i < us->n; i++) {
    unit_optimize(&us->u[i], o, tm);
    char *s = LLVMPrintModuleToString(us->u[i].mod);
    fputs(s, out);
    LLVMDisposeMessage(s);
  }
  LLVMDisposeTargetMachine(tm);
  return 0;
}

/* The work of codegen_emit, shared by its threads: each takes the next unit
 * not yet taken, optimises it and writes its object file. */
typedef struct EmitJob {
  Units *us;
  const CodegenOptions *o;
  const char **paths;
  bool assembly;
  int order[8];
  int next, failed; /* atomic */
} EmitJob;

static void *emit_worker(void *arg) {
  EmitJob *j = arg;
  LLVMTargetMachineRef tms[2] = {NULL, NULL}; /* hot, cold */
  for (;;) {
    int k = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (k >= j->us->n) break;
    int i = j->order[k];
    Unit *u = &j->us->u[i];
    LLVMTargetMachineRef *tm = &tms[u->cold];
    if (!*tm) *tm = target_machine(u->cold ? 0 : j->o->opt_level);
    unit_optimize(u, j->o, *tm);
    double t0 = thread_ms();
    char *err = NULL;
    if (LLVMTargetMachineEmitToFile(*tm, u->mod, j->paths[i], j->assembly ? LLVMAssemblyFile : LLVMObjectFile, &err)) {
      fprintf(stderr, "nnc: error: cannot write %s: %s\n", j->paths[i], err);
      LLVMDisposeMessage(err);
      __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    }
    u->obj_ms = thread_ms() - t0;
  }
  for (int i = 0; i < 2; i++)
    if (tms[i]) LLVMDisposeTargetMachine(tms[i]);
  return NULL;
}

/* Threads to use: the CPUs this process may run on, at most one per unit. */
static int emit_threads(int units) {
  cpu_set_t set;
  int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  return n < 1 ? 1 : n < units ? n : units;
}

int codegen_emit(void *units, const CodegenOptions *o, const char **paths, bool assembly) {
  EmitJob j = {.us = units, .o = o, .paths = paths, .assembly = assembly};
  for (int i = 0; i < j.us->n; i++) { /* by rank */
    int k = i;
    for (; k > 0 && j.us->u[j.order[k - 1]].rank > j.us->u[i].rank; k--) j.order[k] = j.order[k - 1];
    j.order[k] = i;
  }
  int nt = emit_threads(j.us->n);
  pthread_t th[8];
  int started = 0;
  for (; started < nt - 1; started++)
    if (pthread_create(&th[started], NULL, emit_worker, &j)) break; /* fewer threads is fine */
  emit_worker(&j);
  for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
  if (getenv("NNC_TIME")) {
    for (int i = 0; i < j.us->n; i++) {
      Unit *u = &j.us->u[i];
      fprintf(stderr, "nnc: time:   %-13s  opt %6.1f ms, obj %6.1f ms CPU%s\n", u->name ? u->name : "(one module)",
              u->opt_ms, u->obj_ms, u->cold ? " (cold: -O0)" : "");
    }
    fprintf(stderr, "nnc: time:   on %d thread%s\n", started + 1, started ? "s" : "");
  }
  return j.failed ? -1 : 0;
}
