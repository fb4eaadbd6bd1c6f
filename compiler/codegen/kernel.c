/*
 * codegen/kernel.c — the small builders of codegen/kernel.h, the same for
 * both targets: they only use the builder and the types a KernelTarget
 * carries.
 */
#include "kernel.h"

LlvmTypes k_types(LLVMContextRef ctx) {
  return (LlvmTypes){LLVMInt1TypeInContext(ctx),   LLVMInt8TypeInContext(ctx),   LLVMInt32TypeInContext(ctx),
                     LLVMInt64TypeInContext(ctx),  LLVMFloatTypeInContext(ctx),  LLVMDoubleTypeInContext(ctx),
                     LLVMPointerTypeInContext(ctx, 0), LLVMVoidTypeInContext(ctx)};
}

LLVMValueRef k_entry_alloca(LLVMBuilderRef b, LLVMValueRef fn, LLVMTypeRef t, const char *name) {
  LLVMBasicBlockRef cur = LLVMGetInsertBlock(b);
  LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(fn);
  LLVMValueRef first = LLVMGetFirstInstruction(entry);
  if (first) LLVMPositionBuilderBefore(b, first);
  else LLVMPositionBuilderAtEnd(b, entry);
  LLVMValueRef a = LLVMBuildAlloca(b, t, name);
  LLVMPositionBuilderAtEnd(b, cur);
  return a;
}

#define B (t->s.b)
LLVMValueRef k_i64(const KernelTarget *t, int64_t v) { return LLVMConstInt(t->i64, (unsigned long long)v, 1); }
LLVMValueRef k_load(const KernelTarget *t, Dtype d, LLVMValueRef base, LLVMValueRef off) {
  LLVMTypeRef ty = t->s.ty(d);
  return LLVMBuildLoad2(B, ty, LLVMBuildGEP2(B, ty, base, &off, 1, ""), "");
}
void k_store(const KernelTarget *t, Dtype d, LLVMValueRef v, LLVMValueRef base, LLVMValueRef off) {
  LLVMTypeRef ty = t->s.ty(d);
  LLVMBuildStore(B, v, LLVMBuildGEP2(B, ty, base, &off, 1, ""));
}
LLVMValueRef k_add(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(B, a, b, ""); }
LLVMValueRef k_mul(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildMul(B, a, b, ""); }
LLVMValueRef k_sub(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSub(B, a, b, ""); }
LLVMValueRef k_div(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSDiv(B, a, b, ""); }
LLVMValueRef k_rem(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSRem(B, a, b, ""); }
LLVMValueRef k_fadd(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(B, a, b, ""); }
LLVMValueRef k_fmul(const KernelTarget *t, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(B, a, b, ""); }
LLVMValueRef k_extent(const KernelTarget *t, const Shape *s, int from, int to) {
  LLVMValueRef v = k_i64(t, 1);
  for (int i = from; i < to; i++) v = s->d[i].k == 1 && s->d[i].b == 0 ? v : k_mul(t, v, t->dim(s->d[i]));
  return v;
}
