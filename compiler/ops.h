/*
 * ops.h — the one table of graph primitives.
 *
 * Each row: X(NAME, "print name", arity, kind, has_grad)
 *   arity   number of tensor inputs
 *   kind    how codegen and (later) fusion treat it:
 *           LEAF     no computation (params, inputs, constants)
 *           EWISE    element-wise with broadcasting (strided map)
 *           REDUCE   reduction over a mask of axes, kept as size-1 dims
 *           ROW      a row-wise op over the last axis (softmax family)
 *           MATMUL   GEMM through the runtime
 *           MOVE     data movement (reshape, transpose, slice, concat, ...)
 *           INDEX    integer-index ops (onehot, argmax), random draws, iota
 *           LIB      a runtime kernel: convolution (oneDNN), pooling
 *   has_grad whether grad.c has a derivative rule (false: the op is not
 *           differentiable, e.g. comparisons, or its inputs are integers).
 * Adding a primitive is one row here plus its shape rule (shape.c), its
 * derivative (grad.c) and its scalar code (codegen/llvm.c).
 */
#ifndef NNC_OPS_H
#define NNC_OPS_H

#define NNC_OPS(X)                                        \
  X(PARAM, "param", 0, LEAF, false)                       \
  X(STATE, "state", 0, LEAF, false)                       \
  X(INPUT, "input", 0, LEAF, false)                       \
  X(CONST, "const", 0, LEAF, false)                       \
  X(NEG, "neg", 1, EWISE, true)                           \
  X(EXP, "exp", 1, EWISE, true)                           \
  X(LOG, "log", 1, EWISE, true)                           \
  X(SQRT, "sqrt", 1, EWISE, true)                         \
  X(ABS, "abs", 1, EWISE, true)                           \
  X(TANH, "tanh", 1, EWISE, true)                         \
  X(SIGMOID, "sigmoid", 1, EWISE, true)                   \
  X(RELU, "relu", 1, EWISE, true)                         \
  X(LEAKY_RELU, "leaky_relu", 1, EWISE, true)             \
  X(ELU, "elu", 1, EWISE, true)                           \
  X(SOFTPLUS, "softplus", 1, EWISE, true)                 \
  X(GELU, "gelu", 1, EWISE, true)                         \
  X(ERF, "erf", 1, EWISE, true)                           \
  X(STEP, "step", 1, EWISE, false)                        \
  X(SIGN, "sign", 1, EWISE, false)                        \
  X(CAST, "cast", 1, EWISE, true)                         \
  X(ADD, "add", 2, EWISE, true)                           \
  X(SUB, "sub", 2, EWISE, true)                           \
  X(MUL, "mul", 2, EWISE, true)                           \
  X(DIV, "div", 2, EWISE, true)                           \
  X(POW, "pow", 2, EWISE, true)                           \
  X(MAXIMUM, "maximum", 2, EWISE, true)                   \
  X(EQ, "eq", 2, EWISE, false)                            \
  X(NE, "ne", 2, EWISE, false)                            \
  X(LT, "lt", 2, EWISE, false)                            \
  X(LE, "le", 2, EWISE, false)                            \
  X(GT, "gt", 2, EWISE, false)                            \
  X(GE, "ge", 2, EWISE, false)                            \
  X(SELECT, "select", 3, EWISE, true)                     \
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
  X(ARGMAX, "argmax", 1, INDEX, false)                    \
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
  X(COS, "cos", 1, EWISE, true)                           \
  X(SIN, "sin", 1, EWISE, true)                           \
  X(IOTA, "iota", 0, INDEX, false)

typedef enum {
#define X(name, str, arity, kind, grad) OP_##name,
  NNC_OPS(X)
#undef X
  OP__COUNT
} Op;

typedef enum { OK_LEAF, OK_EWISE, OK_REDUCE, OK_ROW, OK_MATMUL, OK_MOVE, OK_INDEX, OK_LIB } OpKind;

typedef struct OpInfo {
  const char *name;
  int arity;
  OpKind kind;
  bool has_grad;
} OpInfo;

extern const OpInfo op_info[OP__COUNT];

#endif
