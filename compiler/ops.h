/*
 * ops.h — the one table of graph primitives.
 *
 * Element-wise primitives are described whole here, one row each, and every
 * pass that needs to know one of them expands this table (an X-macro, as
 * QBE's ops.h): the enum and names (graph.c), the builtins a .nn program
 * calls (lower.c), constant folding (simplify.c), the derivative (grad.c)
 * and the scalar code both backends emit (codegen/scalar.c).  Adding an
 * element-wise primitive is one row.
 *
 *   E(NAME, "name", arity, surface, attr, flops, FOLD(..), DERIV(..), SCALAR(..))
 *     surface  FN: a builtin of that name in the language (it takes the
 *              attribute as a keyword or a trailing positional argument);
 *              INTERNAL: made by the compiler, an operator or another
 *              builtin (sign is FN, relu_grad is INTERNAL: relu's derivative)
 *     attr     NOATTR, or ATTR("key", default): the op's one float
 *              attribute, read as `a` below and printed as key=value
 *     flops    floating-point operations per element (the info rows' cost)
 *     FOLD     the value for constant inputs, a C double expression of x,
 *              y, z and a; NOFOLD: never folded
 *     DERIV    statements setting d0, d1, d2 (the contributions to each
 *              input's adjoint, before un-broadcasting) from the adjoint g,
 *              the node n, its inputs x, y, z and a, with graph builders:
 *              add sub mul dv neg un(OP, .) bin(OP, ., .) sel K(v) (a
 *              constant of n's type); NODERIV: not differentiable
 *     SCALAR   the element's value, an expression of the LLVM values x, y,
 *              z (already of the op's element type) with the s_* helpers of
 *              codegen/scalar.c; s_math calls the target's math library
 *
 * Every other primitive: X(NAME, "print name", arity, kind, has_grad)
 *   kind    how codegen and fusion treat it:
 *           LEAF     no computation (params, inputs, constants)
 *           REDUCE   reduction over a mask of axes, kept as size-1 dims
 *           ROW      a row-wise op over the last axis (softmax family)
 *           MATMUL   GEMM through the runtime
 *           MOVE     data movement (reshape, transpose, slice, concat, ...)
 *           INDEX    integer-index ops (onehot, argmax), random draws, iota
 *           LIB      a runtime kernel: convolution (oneDNN), pooling
 *           GEN      a kernel of its own (the G rows below)
 *           SCAN     a loop over time steps and its outputs (scan.c)
 *   has_grad whether grad.c has a derivative rule for it.
 * Such a primitive also needs its shape rule (shape.c), its derivative
 * (grad.c) and its code (the backends).
 */
#ifndef NNC_OPS_H
#define NNC_OPS_H

#define NNC_EWISE_OPS(E)                                                                                         \
  E(NEG, "neg", 1, INTERNAL, NOATTR, 1, FOLD(-x), DERIV(d0 = neg(g)), SCALAR(s_neg(x)))                           \
  E(EXP, "exp", 1, FN, NOATTR, 8, FOLD(exp(x)), DERIV(d0 = mul(g, n)), SCALAR(s_math(M_EXP, x)))                  \
  E(LOG, "log", 1, FN, NOATTR, 8, FOLD(log(x)), DERIV(d0 = dv(g, x)), SCALAR(s_math(M_LOG, x)))                   \
  E(SQRT, "sqrt", 1, FN, NOATTR, 4, FOLD(sqrt(x)), DERIV(d0 = mul(dv(g, n), K(0.5))),                             \
    SCALAR(s_intr("llvm.sqrt", x)))                                                                              \
  E(ABS, "abs", 1, FN, NOATTR, 1, FOLD(fabs(x)), DERIV(d0 = mul(g, un(OP_SIGN, x))), SCALAR(s_abs(x)))              \
  E(TANH, "tanh", 1, FN, NOATTR, 8, FOLD(tanh(x)), DERIV(d0 = mul(g, sub(K(1), mul(n, n)))),                      \
    SCALAR(s_math(M_TANH, x)))                                                                                   \
  E(SIGMOID, "sigmoid", 1, FN, NOATTR, 10, FOLD(1 / (1 + exp(-x))), DERIV(d0 = mul(g, mul(n, sub(K(1), n)))),   \
    SCALAR(s_div(ONE, s_add(ONE, s_math(M_EXP, s_neg(x))))))                                                     \
  /* the derivative reads the output (kept for the next layer anyway), not x:    \
   * relu_grad(g, y) = g * (y > 0), one op of the backward pass, so no mask     \
   * of 0s and 1s is computed in the forward and stored for it */              \
  E(RELU, "relu", 1, FN, NOATTR, 1, FOLD(x > 0 ? x : 0), DERIV(d0 = bin(OP_RELU_GRAD, g, n)),                   \
    SCALAR(s_sel(s_gt(x, ZERO), x, ZERO)))                                                                       \
  E(LEAKY_RELU, "leaky_relu", 1, FN, ATTR("slope", 0.01), 2, FOLD(x > 0 ? x : a * x),                            \
    DERIV({                                                                                                      \
      Node *s_ = un(OP_STEP, x);                                                                                 \
      d0 = mul(g, add(mul(s_, K(1 - a)), K(a)));                                                                 \
    }),                                                                                                          \
    SCALAR(s_sel(s_gt(x, ZERO), x, s_mul(x, K(a)))))                                                             \
  /* 1 where x > 0, else alpha*e^x = elu(x) + alpha */                                                           \
  E(ELU, "elu", 1, FN, ATTR("alpha", 1.0), 10, NOFOLD, DERIV(d0 = mul(g, sel(un(OP_STEP, x), K(1), add(n, K(a))))), \
    SCALAR(({                                                                                                    \
      LLVMValueRef e_ = s_sub(s_math(M_EXP, x), ONE);                                                            \
      s_sel(s_gt(x, ZERO), x, s_mul(e_, K(a)));                                                                  \
    })))                                                                                                         \
  /* max(x, 0) + log1p(exp(-|x|)): no overflow */                                                                \
  E(SOFTPLUS, "softplus", 1, FN, NOATTR, 20, FOLD(log1p(exp(x))), DERIV(d0 = mul(g, un(OP_SIGMOID, x))),         \
    SCALAR(({                                                                                                    \
      LLVMValueRef e_ = s_math(M_EXP, s_neg(s_intr("llvm.fabs", x)));                                            \
      LLVMValueRef m_ = s_sel(s_gt(x, ZERO), x, ZERO);                                                           \
      s_add(m_, s_math(M_LOG1P, e_));                                                                            \
    })))                                                                                                         \
  /* x*Phi(x): the derivative is Phi(x) + x*phi(x) */                                                            \
  E(GELU, "gelu", 1, FN, NOATTR, 20, NOFOLD, DERIV({                                                             \
      Node *cdf_ = mul(add(un(OP_ERF, mul(x, K(M_SQRT1_2))), K(1)), K(0.5));                                     \
      Node *pdf_ = mul(un(OP_EXP, mul(mul(x, x), K(-0.5))), K(0.5 * M_2_SQRTPI * M_SQRT1_2));                    \
      d0 = mul(g, add(cdf_, mul(x, pdf_)));                                                                      \
    }),                                                                                                          \
    SCALAR(({                                                                                                    \
      LLVMValueRef e_ = s_math(M_ERF, s_mul(x, K(M_SQRT1_2)));                                                   \
      s_mul(s_mul(x, K(0.5)), s_add(ONE, e_));                                                                   \
    })))                                                                                                         \
  E(ERF, "erf", 1, FN, NOATTR, 20, FOLD(erf(x)), DERIV(d0 = mul(g, mul(un(OP_EXP, neg(mul(x, x))), K(M_2_SQRTPI)))), \
    SCALAR(s_math(M_ERF, x)))                                                                                    \
  E(STEP, "step", 1, INTERNAL, NOATTR, 1, FOLD(x > 0 ? 1 : 0), NODERIV, SCALAR(s_sel(s_gt(x, ZERO), ONE, ZERO)))  \
  /* relu's derivative: x * step(y), the same multiply (so the same bits as      \
   * g * step(pre-activation): y > 0 exactly where x > 0); linear in x, flat in y */ \
  E(RELU_GRAD, "relu_grad", 2, INTERNAL, NOATTR, 1, FOLD(x * (y > 0 ? 1 : 0)), DERIV(d0 = bin(OP_RELU_GRAD, g, y)), \
    SCALAR(s_mul(x, s_sel(s_gt(y, ZERO), ONE, ZERO))))                                                            \
  E(SIGN, "sign", 1, FN, NOATTR, 2, FOLD((x > 0) - (x < 0)), NODERIV,                                            \
    SCALAR(s_sel(s_gt(x, ZERO), ONE, s_sel(s_lt(x, ZERO), K(-1), ZERO))))                                        \
  E(CAST, "cast", 1, INTERNAL, NOATTR, 0, NOFOLD, DERIV(d0 = g_cast(g, x->dt)), SCALAR(s_cast(x)))                \
  E(ADD, "add", 2, INTERNAL, NOATTR, 1, FOLD(x + y), DERIV(d0 = g; d1 = g), SCALAR(s_add(x, y)))                  \
  E(SUB, "sub", 2, INTERNAL, NOATTR, 1, FOLD(x - y), DERIV(d0 = g; d1 = neg(g)), SCALAR(s_sub(x, y)))             \
  E(MUL, "mul", 2, INTERNAL, NOATTR, 1, FOLD(x * y), DERIV(d0 = mul(g, y); d1 = mul(g, x)), SCALAR(s_mul(x, y)))  \
  E(DIV, "div", 2, INTERNAL, NOATTR, 1, FOLD(x / y), DERIV(d0 = dv(g, y); d1 = neg(dv(mul(g, n), y))),            \
    SCALAR(s_div(x, y)))                                                                                         \
  E(POW, "pow", 2, INTERNAL, NOATTR, 20, FOLD(pow(x, y)),                                                         \
    DERIV(d0 = mul(g, mul(y, bin(OP_POW, x, sub(y, K(1))))); d1 = mul(g, mul(n, un(OP_LOG, x)))),               \
    SCALAR(s_math2(M_POW, x, y)))                                                                                \
  E(MAXIMUM, "maximum", 2, FN, NOATTR, 1, FOLD(x > y ? x : y),                                                    \
    DERIV(d0 = mul(g, bin(OP_GE, x, y)); d1 = mul(g, bin(OP_LT, x, y))), SCALAR(s_sel(s_ge(x, y), x, y)))        \
  E(EQ, "eq", 2, INTERNAL, NOATTR, 1, FOLD(x == y), NODERIV, SCALAR(s_sel(s_cmp(0, x, y), ONE, ZERO)))           \
  E(NE, "ne", 2, INTERNAL, NOATTR, 1, FOLD(x != y), NODERIV, SCALAR(s_sel(s_cmp(1, x, y), ONE, ZERO)))           \
  E(LT, "lt", 2, INTERNAL, NOATTR, 1, FOLD(x < y), NODERIV, SCALAR(s_sel(s_cmp(2, x, y), ONE, ZERO)))            \
  E(LE, "le", 2, INTERNAL, NOATTR, 1, FOLD(x <= y), NODERIV, SCALAR(s_sel(s_cmp(3, x, y), ONE, ZERO)))           \
  E(GT, "gt", 2, INTERNAL, NOATTR, 1, FOLD(x > y), NODERIV, SCALAR(s_sel(s_cmp(4, x, y), ONE, ZERO)))            \
  E(GE, "ge", 2, INTERNAL, NOATTR, 1, FOLD(x >= y), NODERIV, SCALAR(s_sel(s_cmp(5, x, y), ONE, ZERO)))           \
  E(SELECT, "select", 3, INTERNAL, NOATTR, 1, NOFOLD, DERIV(d1 = sel(x, g, K(0)); d2 = sel(x, K(0), g)),         \
    SCALAR(s_sel(s_nonzero(x), y, z)))                                                                           \
  E(COS, "cos", 1, FN, NOATTR, 8, FOLD(cos(x)), DERIV(d0 = mul(g, neg(un(OP_SIN, x)))), SCALAR(s_math(M_COS, x))) \
  E(SIN, "sin", 1, FN, NOATTR, 8, FOLD(sin(x)), DERIV(d0 = mul(g, un(OP_COS, x))), SCALAR(s_math(M_SIN, x)))   \
  /* piecewise constant: the gradient is zero, as in PyTorch */                                                  \
  E(FLOOR, "floor", 1, FN, NOATTR, 1, FOLD(floor(x)), DERIV(d0 = mul(g, K(0))), SCALAR(s_intr("llvm.floor", x))) \
  /* the value itself, through which no gradient flows (truncated BPTT) */                                   \
  E(DETACH, "detach", 1, FN, NOATTR, 0, FOLD(x), DERIV(d0 = mul(g, K(0))), SCALAR(x))                            \
  /* ties go to the first operand, as maximum's */                                                               \
  E(MINIMUM, "minimum", 2, FN, NOATTR, 1, FOLD(x <= y ? x : y),                                                   \
    DERIV(d0 = mul(g, bin(OP_LE, x, y)); d1 = mul(g, bin(OP_GT, x, y))), SCALAR(s_sel(s_ge(y, x), x, y)))        \
  /* minimum(maximum(x, lo), hi), as torch.clamp (hi wins when lo > hi) */                                       \
  E(CLAMP, "clamp", 3, FN, NOATTR, 2, FOLD(((x >= y ? x : y) <= z) ? (x >= y ? x : y) : z),                     \
    DERIV({                                                                                                      \
      Node *m_ = bin(OP_MAXIMUM, x, y), *in_ = bin(OP_LE, m_, z);                                                \
      d0 = mul(g, mul(bin(OP_GE, x, y), in_));                                                                   \
      d1 = mul(g, mul(bin(OP_LT, x, y), in_));                                                                   \
      d2 = mul(g, bin(OP_GT, m_, z));                                                                            \
    }),                                                                                                          \
    SCALAR(({                                                                                                    \
      LLVMValueRef m_ = s_sel(s_ge(x, y), x, y);                                                                 \
      s_sel(s_ge(z, m_), m_, z);                                                                                 \
    })))                                                                                                         \
  /* log(1 + x), exact for small x */                                                                            \
  E(LOG1P, "log1p", 1, FN, NOATTR, 8, FOLD(log1p(x)), DERIV(d0 = dv(g, add(x, K(1)))), SCALAR(s_math(M_LOG1P, x)))

#define NNC_OTHER_OPS(X)                                  \
  X(PARAM, "param", 0, LEAF, false)                       \
  X(STATE, "state", 0, LEAF, false)                       \
  X(INPUT, "input", 0, LEAF, false)                       \
  X(CONST, "const", 0, LEAF, false)                       \
  X(SUM, "sum", 1, REDUCE, true)                          \
  X(MAX, "max", 1, REDUCE, true)                          \
  X(SOFTMAX, "softmax", 1, ROW, true)                     \
  X(LOG_SOFTMAX, "log_softmax", 1, ROW, true)             \
  X(MATMUL, "matmul", 2, MATMUL, true)                    \
  X(RESHAPE, "reshape", 1, MOVE, true)                    \
  X(BROADCAST, "broadcast", 1, MOVE, true)                \
  X(TRANSPOSE, "transpose", 1, MOVE, true)                \
  X(SLICE, "slice", 1, MOVE, true)                        \
  X(PAD, "pad", 1, MOVE, true)                            \
  X(CONCAT, "concat", 2, MOVE, true)                      \
  X(ONEHOT, "onehot", 1, INDEX, false)                    \
  X(RAND, "rand", 0, INDEX, false)                        \
  X(CONV2D, "conv2d", 2, LIB, true)                       \
  X(CONV2D_BWD_DATA, "conv2d_bwd_data", 2, LIB, true)     \
  X(CONV2D_BWD_WEIGHTS, "conv2d_bwd_weights", 2, LIB, true) \
  X(MAXPOOL, "max_pool2d", 1, LIB, true)                  \
  X(POOLIDX, "pool_indices", 1, LIB, false)               \
  X(UNPOOL, "max_unpool2d", 2, LIB, true)                 \
  X(GATHER2D, "gather2d", 2, LIB, true)                   \
  X(AVGPOOL, "avg_pool2d", 1, LIB, true)                  \
  X(AVGPOOL_BWD, "avg_pool2d_bwd", 1, LIB, true)          \
  X(IOTA, "iota", 0, INDEX, false)                       \
  /* a loop over time steps kept as a loop (scan.c) */    \
  X(SCANVAR, "scanvar", 0, LEAF, false)                   \
  X(SCAN, "scan", -1, SCAN, true)                         \
  X(SCANOUT, "scanout", 1, SCAN, true)

/*
 * Primitives of a kind of their own, each complete in one file:
 *   G(NAME, "name", arity, has_grad, spec)
 * with `const OpSpec spec` (graph.h) in that file: the attributes (a typed
 * schema: their names, kinds and defaults, which the builtin call, the IR
 * printer and the interning key all use), the shape rule, the derivative,
 * the number of independent work items and the kernel, emitted once for
 * both targets through codegen/kernel.h.  The builtin of the same name is
 * called as name(x, ..., attr = value, ...).
 */
#define NNC_GEN_OPS(G)                                            \
  G(CUMSUM, "cumsum", 1, true, cumsum_spec)  /* ops/cumsum.c */ \
  G(ARGMAX, "argmax", 1, false, argmax_spec) /* ops/argmax.c */ \
  G(EMBEDDING, "embedding", 2, true, embedding_spec) /* ops/embedding.c */ \
  G(EMBEDDING_GRAD, "embedding_grad", 2, true, embedding_grad_spec) /* ops/embedding.c */ \
  G(ROI_ALIGN, "roi_align", 2, true, roi_align_spec) /* ops/roi_align.c */ \
  G(ROI_ALIGN_GRAD, "roi_align_grad", 2, true, roi_align_grad_spec) /* ops/roi_align.c */ \
  G(ROI_POOL, "roi_pool", 2, true, roi_pool_spec) /* ops/roi_pool.c */ \
  G(ROI_POOL_GRAD, "roi_pool_grad", 3, true, roi_pool_grad_spec) /* ops/roi_pool.c */ \
  G(ROI_POOL_PICK, "roi_pool_pick", 3, true, roi_pool_pick_spec) /* ops/roi_pool.c */ \
  G(NMS, "nms", 2, false, nms_spec) /* ops/nms.c */ \
  G(CUMPROD, "cumprod", 1, true, cumprod_spec) /* ops/cumprod.c */ \
  G(CUMPROD_GRAD, "cumprod_grad", 2, false, cumprod_grad_spec) /* ops/cumprod.c */ \
  G(GATHER, "gather", 2, true, gather_spec) /* ops/gather.c */ \
  G(GATHER_GRAD, "gather_grad", 2, true, gather_grad_spec) /* ops/gather.c */ \
  G(SPMM, "spmm", 2, true, spmm_spec) /* ops/spmm.c */

typedef enum {
#define E(name, str, arity, surface, attr, flops, fold, deriv, scalar) OP_##name,
#define X(name, str, arity, kind, grad) OP_##name,
#define G(name, str, arity, grad, spec) OP_##name,
  NNC_EWISE_OPS(E) NNC_OTHER_OPS(X) NNC_GEN_OPS(G)
#undef E
#undef X
#undef G
  OP__COUNT
} Op;

typedef enum { OK_LEAF, OK_EWISE, OK_REDUCE, OK_ROW, OK_MATMUL, OK_MOVE, OK_INDEX, OK_LIB, OK_GEN, OK_SCAN } OpKind;

struct OpSpec;
#define G(name, str, arity, grad, spec) extern const struct OpSpec spec;
NNC_GEN_OPS(G)
#undef G

typedef struct OpInfo {
  const char *name;
  int arity;
  OpKind kind;
  bool has_grad;
  bool builtin;        /* element-wise, callable from .nn by name */
  const char *attr;    /* element-wise: the float attribute's key, or NULL */
  double attr_default;
  int flops;           /* element-wise: per element */
  const struct OpSpec *spec; /* kind GEN: everything else about it */
} OpInfo;

extern const OpInfo op_info[OP__COUNT];

#endif
