/*
 * codegen/scalar.h — the scalar code of element-wise primitives, shared by
 * the CPU (codegen/llvm.c) and GPU (codegen/nvptx.c) backends.
 *
 * Each backend describes its target's scalar facilities in a ScalarTarget
 * (its builder and types, how it calls an LLVM intrinsic and its math
 * library: libm and LLVM intrinsics on x86-64, double-precision routines of
 * its own on NVPTX) and asks scalar_emit for the value of one element; the
 * code per op is the SCALAR column of compiler/ops.h.
 */
#ifndef NNC_CODEGEN_SCALAR_H
#define NNC_CODEGEN_SCALAR_H

#include "../nnc.h"
#include <llvm-c/Core.h>

/* The math library functions an op may call, by meaning. */
typedef enum { M_EXP, M_LOG, M_LOG1P, M_TANH, M_ERF, M_SIN, M_COS, M_POW } MathFn;

typedef struct ScalarTarget {
  LLVMBuilderRef b;
  LLVMTypeRef (*ty)(Dtype d);
  /* an LLVM intrinsic overloaded on d ("llvm.sqrt", "llvm.fabs", ...) */
  LLVMValueRef (*intrinsic)(const char *name, Dtype d, LLVMValueRef *args, int n);
  /* f(args) in d's precision */
  LLVMValueRef (*math)(MathFn f, Dtype d, LLVMValueRef *args, int n);
} ScalarTarget;

/* The value of element-wise node n from its inputs' values v (each already
 * of the type ewise_input_dtype gives it). */
LLVMValueRef scalar_emit(const ScalarTarget *t, const Node *n, LLVMValueRef *v);

/* The first nm members of a fused group (fuse.c: all but a closing
 * reduction), in order, each computed from its
 * inputs' values: val (by node id) already holds the group's external
 * inputs; constants come from konst; every member marked in stored goes to
 * store (the backend's buffer at the loop's index). */
typedef struct GroupEmit {
  LLVMValueRef (*konst)(const Node *c, Dtype d);
  void (*store)(const Node *n, LLVMValueRef v, void *ctx);
  void *ctx;
} GroupEmit;
void scalar_group(const ScalarTarget *t, const Group *g, int nm, LLVMValueRef *val, const char *stored,
                  const GroupEmit *e);

#endif
