/*
 * codegen/kernel.h — what the kernel emitter of an op of kind GEN
 * (OpSpec.emit, one per op file in compiler/ops/) builds with: the same
 * calls on the x86-64 and NVPTX targets, each backend filling the table.
 *
 * The emitter sees its op's node, the base pointers of its inputs' and its
 * own values (dense, row-major), the run's batch size through dim(), and
 * two loops: the parallel one over OpSpec.extent work items (on the GPU a
 * grid-stride loop, one thread per item; on the CPU a plain loop) and
 * sequential loops inside an item.  The CPU and GPU therefore run the same
 * arithmetic in the same order per element: same bits, as the backends
 * promise for every op.
 */
#ifndef NNC_CODEGEN_KERNEL_H
#define NNC_CODEGEN_KERNEL_H

#include "scalar.h"

typedef struct KernelTarget {
  ScalarTarget s;                       /* builder, types, math library */
  LLVMTypeRef i64;
  LLVMValueRef (*dim)(Dim d);           /* a dimension's value (B at run time) */
  LLVMValueRef (*buffer)(const Node *n); /* n's values: an input of the op, or the op itself */
  /* for *i in [0, n): par = over the op's work items (at most one such loop,
   * outermost); the loop handle goes back to loop_end */
  void *(*loop_begin)(LLVMValueRef n, bool par, LLVMValueRef *i);
  void (*loop_end)(void *loop);
  /* a mutable local of type t (a stack slot at the function's entry) */
  LLVMValueRef (*local)(LLVMTypeRef t);
  /* a call of runtime function fn (void, its parameters the args' types),
   * for ops whose kernel is the runtime's; NULL where the target has none
   * (NVPTX) */
  void (*call)(const char *fn, LLVMValueRef *args, int n);
  /* The CPU's other form of the work items: this run's share [*lo, *hi) of
   * n items (its chunk on the team, or all n), for an emitter that runs a
   * sequential loop outside its items so that they become the inner loop,
   * which LLVM vectorises (an embedding's columns).  Each item still gets
   * the same operations in the same order, so the bits are those of the
   * one-item-per-thread form.  NULL on NVPTX, where every item is a thread
   * and the items' loop (loop_begin with par) is the outermost. */
  void (*item_range)(LLVMValueRef n, LLVMValueRef *lo, LLVMValueRef *hi);
} KernelTarget;

/* The LLVM types both backends build with, made in one context. */
typedef struct LlvmTypes { LLVMTypeRef i1, i8, i32, i64, f32, f64, ptr, vd; } LlvmTypes;
LlvmTypes k_types(LLVMContextRef ctx);
/* A stack slot of type t at the entry of fn (mem2reg makes it a register);
 * the builder goes back to where it was. */
LLVMValueRef k_entry_alloca(LLVMBuilderRef b, LLVMValueRef fn, LLVMTypeRef t, const char *name);

/* Small builders over a KernelTarget, for the op files. */
LLVMValueRef k_i64(const KernelTarget *t, int64_t v);
LLVMValueRef k_load(const KernelTarget *t, Dtype d, LLVMValueRef base, LLVMValueRef off);
void k_store(const KernelTarget *t, Dtype d, LLVMValueRef v, LLVMValueRef base, LLVMValueRef off);
LLVMValueRef k_add(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b); /* i64 */
LLVMValueRef k_mul(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b); /* i64 */
LLVMValueRef k_sub(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b); /* i64 */
LLVMValueRef k_div(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b); /* i64, signed */
LLVMValueRef k_rem(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b); /* i64, signed */
LLVMValueRef k_fadd(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b); /* float */
LLVMValueRef k_fmul(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b); /* float */
/* The optimizer step's body, for either target (codegen/optim.c): fn has
 * the signature of NnrtOptKernel (runtime/include/nnrt.h). */
void optim_emit(const KernelTarget *t, Dtype d, LLVMValueRef fn);
/* NnrtOptKernel's parameter types */
enum { OPTIM_NPARAMS = 18 }; /* nnc_opt_T's parameters (codegen/optim.c) */
void optim_params(const LlvmTypes *ty, LLVMTypeRef ps[OPTIM_NPARAMS]);

/* Gradient-norm clipping (codegen/optim.c): nnc_sqsum_T and nnc_scale_T
 * take (ptr, i64, ptr), nnc_clip (ptr, double, ptr); each body is built
 * into fn, already created with that signature. */
void clip_params(const LlvmTypes *ty, LLVMTypeRef ps[3], bool norm);
void clip_emit_sqsum(const KernelTarget *t, Dtype d, LLVMValueRef fn);
void clip_emit_norm(const KernelTarget *t, LLVMValueRef fn);
void clip_emit_scale(const KernelTarget *t, Dtype d, LLVMValueRef fn);

/* the product of dims [from, to) of s, as a value */
LLVMValueRef k_extent(const KernelTarget *t, const Shape *s, int from, int to);

#endif
