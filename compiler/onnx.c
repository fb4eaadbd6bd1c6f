/*
 * onnx.c — `nnc export FILE.nn --load CKPT -o OUT.onnx`: the program's
 * prediction (the eval kernel's `predict` output, lower_train.c) as an ONNX
 * model, opset 13, its parameters and states initializers holding the
 * checkpoint's values.  Messages are encoded by protobuf-c from C that
 * protoc-c generated at build time from Debian's onnx.proto (libonnx-dev).
 *
 * Why the compiler and not a command of the executable: the graph exists
 * only here.  An executable holds machine code and a slot table; exporting
 * from it would mean embedding a second description of every kernel in
 * every program.  So the compiler lowers the program (the passes up to
 * 'lower': the interned graph is final there — fusion and memory planning
 * change how nodes run, not what they compute) and reads the checkpoint
 * itself, with the runtime's own safetensors reader (runtime/ckpt.c, linked
 * into nnc), by the same names the executable saves (the slot names).
 *
 * The walk: the nodes the predict output depends on, in id order (a
 * topological order), each becoming one ONNX node or a few.  Value names
 * are the data fields for inputs ("x"), the slot names for weights
 * ("l1.W"), "n<id>" for node <id> of `nnc emit ir` (steps of a
 * decomposition "n<id>_<k>"), and "predict" for the output.  The batch is
 * the symbolic dimension "B"; where a shape or a constant needs its value
 * (a broadcast to [B, n], a mean's 1/B) it is read from an input's shape
 * at run time.
 *
 * Invariants: every op with no mapping here is an error at its source
 * line, "ONNX export: 'op' has no ONNX form", all of them reported before
 * stopping; nothing is written then.  Every allocation is the arena's
 * except the checkpoint, freed before returning.
 * Does not: export training (the train kernel, gradients, optimizers),
 * random draws (dropout is gone from the inference graph already; a draw
 * that remains has no reproducible ONNX form), ops of the GEN kind other
 * than argmax, or --f64 builds.
 */
#include "nnc.h"
#ifdef NNC_ONNX
#include "../runtime/internal.h"
#include "onnx/onnx.pb-c.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OPSET = 13, IR_VERSION = 7 };

typedef struct Export {
  Onnx__GraphProto *g;
  size_t cap_node, cap_init;
  const char **val;      /* by node id: its value's name, or NULL */
  const char **konst[4]; /* by node id: a constant's value read as each Dtype */
  const Node *batch_in;  /* an input with a batch dimension, and which one */
  int batch_dim;
  const char *batch;     /* int64[1]: B, once computed */
  bool batch_missing;    /* B was needed but no input has it */
  const Node **weights;  /* params and states, in slot order */
  size_t nweights, cap_weights;
  int ntmp;
} Export;

/* Append x to the array *items of *n entries and room for *cap. */
static void push(void ***items, size_t *n, size_t *cap, void *x) {
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 16;
    void **a = arena_alloc(sizeof *a * c);
    if (*n) memcpy(a, *items, sizeof *a * *n);
    *items = a;
    *cap = c;
  }
  (*items)[(*n)++] = x;
}

static int onnx_type(Dtype dt) {
  switch (dt) {
  case DT_F32: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  case DT_F64: return ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
  case DT_I32: return ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
  case DT_BOOL: return ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
  case DT_CSR: break; /* only spmm reads one, and spmm has no ONNX form */
  case DT_FLOAT: break; /* resolved by lowering */
  }
  nnc_unreachable("dtype %d", (int)dt);
}


static const char *tmp_name(Export *e) { return arena_printf("t%d", e->ntmp++); }

/* ---- building messages ---------------------------------------------------- */

static Onnx__NodeProto *add_node(Export *e, const char *op, const char **in, int nin, const char *out) {
  Onnx__NodeProto *n = arena_alloc(sizeof *n);
  onnx__node_proto__init(n);
  n->op_type = (char *)op;
  n->name = (char *)out;
  n->n_input = (size_t)nin;
  n->input = arena_alloc(sizeof(char *) * (size_t)(nin ? nin : 1));
  for (int i = 0; i < nin; i++) n->input[i] = (char *)in[i];
  n->n_output = 1;
  n->output = arena_alloc(sizeof(char *));
  n->output[0] = (char *)out;
  push((void ***)&e->g->node, &e->g->n_node, &e->cap_node, n);
  return n;
}

static Onnx__AttributeProto *add_attr(Onnx__NodeProto *n, const char *name, Onnx__AttributeProto__AttributeType t) {
  Onnx__AttributeProto *a = arena_alloc(sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = (char *)name;
  a->has_type = 1;
  a->type = t;
  Onnx__AttributeProto **as = arena_alloc(sizeof *as * (n->n_attribute + 1));
  if (n->n_attribute) memcpy(as, n->attribute, sizeof *as * n->n_attribute);
  as[n->n_attribute++] = a;
  n->attribute = as;
  return a;
}

static void set_int(Onnx__NodeProto *n, const char *name, int64_t v) {
  Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  a->has_i = 1;
  a->i = v;
}

static void set_float(Onnx__NodeProto *n, const char *name, double v) {
  Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  a->has_f = 1;
  a->f = (float)v;
}

static void set_ints(Onnx__NodeProto *n, const char *name, const int64_t *v, int k) {
  Onnx__AttributeProto *a = add_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  a->n_ints = (size_t)k;
  a->ints = arena_alloc(sizeof(int64_t) * (size_t)(k ? k : 1));
  if (k) memcpy(a->ints, v, sizeof(int64_t) * (size_t)k);
}

/* An initializer named name: dims[0..rank) of type t, bytes at data (not copied). */
static const char *add_init(Export *e, const char *name, int t, const int64_t *dims, int rank, const void *data,
                            size_t bytes) {
  Onnx__TensorProto *x = arena_alloc(sizeof *x);
  onnx__tensor_proto__init(x);
  x->name = (char *)name;
  x->has_data_type = 1;
  x->data_type = t;
  x->n_dims = (size_t)rank;
  x->dims = arena_alloc(sizeof(int64_t) * (size_t)(rank ? rank : 1));
  if (rank) memcpy(x->dims, dims, sizeof(int64_t) * (size_t)rank);
  x->has_raw_data = 1;
  x->raw_data.len = bytes;
  x->raw_data.data = (uint8_t *)data;
  push((void ***)&e->g->initializer, &e->g->n_initializer, &e->cap_init, x);
  return name;
}

/* int64 constants: a vector of k values (rank 1), or a scalar (k < 0: v[0]). */
static const char *const_i64(Export *e, const int64_t *v, int k) {
  int n = k < 0 ? 1 : k;
  int64_t *d = arena_alloc(sizeof(int64_t) * (size_t)(n ? n : 1));
  if (n) memcpy(d, v, sizeof(int64_t) * (size_t)n);
  int64_t dim = n;
  return add_init(e, tmp_name(e), ONNX__TENSOR_PROTO__DATA_TYPE__INT64, &dim, k < 0 ? 0 : 1, d, sizeof(int64_t) * (size_t)n);
}

/* A tensor of dims[0..rank) filled with v, of type dt. */
static const char *const_fill(Export *e, double v, Dtype dt, const int64_t *dims, int rank) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= dims[i];
  void *d = arena_alloc(dtype_bytes(dt) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) switch (dt) {
    case DT_F32: ((float *)d)[i] = (float)v; break;
    case DT_F64: ((double *)d)[i] = v; break;
    case DT_I32: ((int32_t *)d)[i] = (int32_t)v; break;
    case DT_BOOL: ((uint8_t *)d)[i] = v != 0; break;
    case DT_CSR: nnc_unreachable("a constant sparse matrix");
    case DT_FLOAT: nnc_unreachable("'float' left unresolved by lowering");
    }
  return add_init(e, tmp_name(e), onnx_type(dt), dims, rank, d, dtype_bytes(dt) * (size_t)n);
}

static const char *const_scalar(Export *e, double v, Dtype dt) { return const_fill(e, v, dt, NULL, 0); }

static const char *op1(Export *e, const char *op, const char *a, const char *out) {
  add_node(e, op, (const char *[]){a}, 1, out ? out : tmp_name(e));
  return e->g->node[e->g->n_node - 1]->output[0];
}

static const char *op2(Export *e, const char *op, const char *a, const char *b, const char *out) {
  add_node(e, op, (const char *[]){a, b}, 2, out ? out : tmp_name(e));
  return e->g->node[e->g->n_node - 1]->output[0];
}

static const char *cast(Export *e, const char *a, int to, const char *out) {
  Onnx__NodeProto *n = add_node(e, "Cast", (const char *[]){a}, 1, out ? out : tmp_name(e));
  set_int(n, "to", to);
  return n->output[0];
}

/* ---- the batch size at run time ------------------------------------------- */

/* int64[1] holding B, read from the shape of an input that has it. */
static const char *batch_value(Export *e) {
  if (e->batch) return e->batch;
  const Node *x = e->batch_in;
  if (!x) { /* reported once the walk is done */
    e->batch_missing = true;
    return "B";
  }
  int64_t j = e->batch_dim;
  const char *sh = op1(e, "Shape", e->val[x->id], NULL);
  const char *d = op2(e, "Gather", sh, const_i64(e, &j, 1), NULL);
  if (x->sh.d[j].k != 1) d = op2(e, "Div", d, const_i64(e, &x->sh.d[j].k, 1), NULL);
  return e->batch = d;
}

static bool has_batch(const Shape *s) {
  for (int i = 0; i < s->rank; i++)
    if (s->d[i].b) return true;
  return false;
}

/* int64[rank] holding shape s.  infer: a Reshape target, where one batch
 * dimension may be written -1 (inferred from the element count). */
static const char *shape_value(Export *e, const Shape *s, bool infer) {
  int64_t v[MAX_RANK];
  int nb = 0;
  for (int i = 0; i < s->rank; i++) nb += s->d[i].b != 0;
  if (nb == 0 || (infer && nb == 1)) {
    for (int i = 0; i < s->rank; i++) v[i] = s->d[i].b ? -1 : s->d[i].k;
    return const_i64(e, v, s->rank);
  }
  const char *parts[MAX_RANK];
  for (int i = 0; i < s->rank; i++) {
    if (!s->d[i].b) parts[i] = const_i64(e, &s->d[i].k, 1);
    else if (s->d[i].k == 1) parts[i] = batch_value(e);
    else parts[i] = op2(e, "Mul", batch_value(e), const_i64(e, &s->d[i].k, 1), NULL);
  }
  Onnx__NodeProto *n = add_node(e, "Concat", parts, s->rank, tmp_name(e));
  set_int(n, "axis", 0);
  return n->output[0];
}

/* ---- constants ------------------------------------------------------------ */

/* Constant node c read as dt: value fv * B^bpow of c's shape. */
static const char *constant(Export *e, const Node *c, Dtype dt) {
  if (e->konst[dt][c->id]) return e->konst[dt][c->id];
  const Shape *s = &c->sh;
  int64_t dims[MAX_RANK], n = 1;
  for (int i = 0; i < s->rank; i++) dims[i] = s->d[i].k, n *= s->d[i].k;
  const char *v;
  if (c->bpow == 0 && !has_batch(s) && n <= 4096) {
    v = const_fill(e, c->fv, dt, dims, s->rank);
  } else {
    if (c->bpow == 0) {
      v = const_fill(e, c->fv, dt, (int64_t[]){1}, 1);
    } else { /* fv * B^bpow, as a [1] */
      const char *b = cast(e, batch_value(e), onnx_type(dt), NULL);
      if (c->bpow != 1) b = op2(e, "Pow", b, const_scalar(e, c->bpow, dt), NULL);
      v = op2(e, "Mul", const_fill(e, c->fv, dt, (int64_t[]){1}, 1), b, NULL);
    }
    v = s->rank == 0 ? op2(e, "Reshape", v, const_i64(e, NULL, 0), NULL) : op2(e, "Expand", v, shape_value(e, s, false), NULL);
  }
  return e->konst[dt][c->id] = v;
}

/* Input j of n as n's kernel reads it (ewise_input_dtype): a constant in
 * that type, anything else cast to it when it differs. */
static const char *operand(Export *e, const Node *n, int j) {
  const Node *x = n->in[j];
  Dtype dt = op_info[n->op].kind == OK_EWISE ? ewise_input_dtype(n, j) : x->dt;
  if (x->op == OP_CONST) return constant(e, x, dt);
  return x->dt == dt ? e->val[x->id] : cast(e, e->val[x->id], onnx_type(dt), NULL);
}

/* ---- the ops -------------------------------------------------------------- */

/* Element-wise ops that are one ONNX op of the same inputs. */
static const char *ewise_name(Op op) {
  switch (op) {
  case OP_NEG: return "Neg";
  case OP_EXP: return "Exp";
  case OP_LOG: return "Log";
  case OP_SQRT: return "Sqrt";
  case OP_ABS: return "Abs";
  case OP_TANH: return "Tanh";
  case OP_SIGMOID: return "Sigmoid";
  case OP_RELU: return "Relu";
  case OP_SOFTPLUS: return "Softplus";
  case OP_ERF: return "Erf";
  case OP_SIGN: return "Sign";
  case OP_ADD: return "Add";
  case OP_SUB: return "Sub";
  case OP_MUL: return "Mul";
  case OP_DIV: return "Div";
  case OP_POW: return "Pow";
  case OP_MAXIMUM: return "Max";
  case OP_MINIMUM: return "Min";
  case OP_COS: return "Cos";
  case OP_SIN: return "Sin";
  case OP_FLOOR: return "Floor";
  case OP_DETACH: return "Identity";
  default: return NULL;
  }
}

static const char *compare_name(Op op) {
  switch (op) {
  case OP_EQ: case OP_NE: return "Equal";
  case OP_LT: return "Less";
  case OP_LE: return "LessOrEqual";
  case OP_GT: return "Greater";
  case OP_GE: return "GreaterOrEqual";
  default: return NULL;
  }
}

/* The value of element-wise node n (named out), or NULL: no mapping. */
static const char *emit_ewise(Export *e, const Node *n, const char *out) {
  const char *x[3];
  for (int j = 0; j < n->nin; j++) x[j] = operand(e, n, j);
  Dtype dt = n->dt;
  const char *name = ewise_name(n->op);
  if (name) {
    add_node(e, name, x, n->nin, out);
    return out;
  }
  if ((name = compare_name(n->op))) { /* a bool, as 0/1 of n's type */
    const char *b = op2(e, name, x[0], x[1], NULL);
    if (n->op == OP_NE) b = op1(e, "Not", b, NULL);
    return cast(e, b, onnx_type(dt), out);
  }
  switch (n->op) {
  case OP_LEAKY_RELU:
  case OP_ELU: {
    Onnx__NodeProto *m = add_node(e, n->op == OP_ELU ? "Elu" : "LeakyRelu", x, 1, out);
    set_float(m, "alpha", n->fv);
    return out;
  }
  case OP_GELU: /* x/2 (1 + erf(x/√2)) */
    return op2(e, "Mul", op2(e, "Mul", x[0], const_scalar(e, 0.5, dt), NULL),
               op2(e, "Add", const_scalar(e, 1, dt),
                   op1(e, "Erf", op2(e, "Mul", x[0], const_scalar(e, M_SQRT1_2, dt), NULL), NULL), NULL),
               out);
  case OP_LOG1P: return op1(e, "Log", op2(e, "Add", x[0], const_scalar(e, 1, dt), NULL), out);
  case OP_STEP: return cast(e, op2(e, "Greater", x[0], const_scalar(e, 0, dt), NULL), onnx_type(dt), out);
  case OP_CAST: return cast(e, x[0], onnx_type(dt), out);
  case OP_CLAMP: return op2(e, "Min", op2(e, "Max", x[0], x[1], NULL), x[2], out);
  case OP_SELECT:
    add_node(e, "Where", (const char *[]){cast(e, x[0], ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, NULL), x[1], x[2]}, 3,
             out);
    return out;
  default: return NULL;
  }
}

/* ONNX's Transpose of the last two dims of a value of rank r. */
static const char *swap_last(Export *e, const char *x, int r) {
  int64_t perm[MAX_RANK];
  for (int i = 0; i < r; i++) perm[i] = i;
  perm[r - 2] = r - 1, perm[r - 1] = r - 2;
  Onnx__NodeProto *n = add_node(e, "Transpose", (const char *[]){x}, 1, tmp_name(e));
  set_ints(n, "perm", perm, r);
  return n->output[0];
}

/* The value of node n (named out), or NULL: it has no ONNX form. */
static const char *emit_node(Export *e, const Node *n, const char *out) {
  for (int i = 0; i < n->nin; i++) /* ONNX's pool indices are not nnc's: for MaxUnpool only */
    if (n->in[i]->op == OP_POOLIDX && !(n->op == OP_UNPOOL && i == 1)) return NULL;
  if (op_info[n->op].kind == OK_EWISE) return emit_ewise(e, n, out);
  const char *x = n->nin > 0 ? operand(e, n, 0) : NULL, *y = n->nin > 1 ? operand(e, n, 1) : NULL;
  const Shape *s = &n->sh;
  const Node *a = n->nin > 0 ? n->in[0] : NULL;
  int64_t v[2 * MAX_RANK];
  Onnx__NodeProto *m;
  switch (n->op) {
  case OP_SUM: {
    int k = 0;
    for (int i = 0; i < a->sh.rank; i++)
      if (n->ia[0] >> i & 1) v[k++] = i;
    m = add_node(e, "ReduceSum", (const char *[]){x, const_i64(e, v, k)}, 2, out);
    set_int(m, "keepdims", 1);
    return out;
  }
  case OP_MAX: {
    int k = 0;
    for (int i = 0; i < a->sh.rank; i++)
      if (n->ia[0] >> i & 1) v[k++] = i;
    m = add_node(e, "ReduceMax", &x, 1, out);
    set_ints(m, "axes", v, k);
    set_int(m, "keepdims", 1);
    return out;
  }
  case OP_SOFTMAX:
  case OP_LOG_SOFTMAX:
    m = add_node(e, n->op == OP_SOFTMAX ? "Softmax" : "LogSoftmax", &x, 1, out);
    set_int(m, "axis", -1);
    return out;
  case OP_MATMUL:
    if (n->ia[0]) x = swap_last(e, x, a->sh.rank);
    if (n->ia[1]) y = swap_last(e, y, n->in[1]->sh.rank);
    return op2(e, "MatMul", x, y, out);
  case OP_RESHAPE: return op2(e, "Reshape", x, shape_value(e, s, true), out);
  case OP_BROADCAST: return op2(e, "Expand", x, shape_value(e, s, false), out);
  case OP_TRANSPOSE:
    m = add_node(e, "Transpose", &x, 1, out);
    set_ints(m, "perm", n->ia, s->rank);
    return out;
  case OP_SLICE: {
    int64_t end[MAX_RANK];
    for (int i = 0; i < s->rank; i++) end[i] = s->d[i].b ? INT64_MAX : n->ia[i] + s->d[i].k;
    add_node(e, "Slice", (const char *[]){x, const_i64(e, n->ia, s->rank), const_i64(e, end, s->rank)}, 3, out);
    return out;
  }
  case OP_PAD: /* zeros before (ia) and after each dim */
    for (int i = 0; i < s->rank; i++) {
      v[i] = s->d[i].b ? 0 : n->ia[i];
      v[s->rank + i] = s->d[i].b ? 0 : s->d[i].k - a->sh.d[i].k - n->ia[i];
    }
    add_node(e, "Pad", (const char *[]){x, const_i64(e, v, 2 * s->rank), const_scalar(e, 0, n->dt)}, 3, out);
    return out;
  case OP_CONCAT:
    m = add_node(e, "Concat", (const char *[]){x, y}, 2, out);
    set_int(m, "axis", n->ia[0]);
    return out;
  case OP_ONEHOT: {
    int64_t depth = s->d[s->rank - 1].k;
    const char *vals = const_fill(e, 0, n->dt, (int64_t[]){2}, 1);
    Onnx__TensorProto *t = e->g->initializer[e->g->n_initializer - 1];
    if (n->dt == DT_F64) ((double *)t->raw_data.data)[1] = 1;
    else ((float *)t->raw_data.data)[1] = 1;
    m = add_node(e, "OneHot", (const char *[]){x, const_i64(e, &depth, -1), vals}, 3, out);
    set_int(m, "axis", -1);
    return out;
  }
  case OP_IOTA: {
    int64_t len = n->ia[0];
    const char *r = const_fill(e, 0, n->dt, &len, 1);
    void *d = e->g->initializer[e->g->n_initializer - 1]->raw_data.data;
    for (int64_t i = 0; i < len; i++) switch (n->dt) {
      case DT_F32: ((float *)d)[i] = (float)i; break;
      case DT_F64: ((double *)d)[i] = (double)i; break;
      default: ((int32_t *)d)[i] = (int32_t)i; break;
      }
    return op1(e, "Identity", r, out);
  }
  case OP_CONV2D: { /* geo = {sh, sw, ph, pw, dh, dw, groups} */
    const int64_t *g = n->ia;
    m = add_node(e, "Conv", (const char *[]){x, y}, 2, out);
    set_ints(m, "kernel_shape", (int64_t[]){n->in[1]->sh.d[2].k, n->in[1]->sh.d[3].k}, 2);
    set_ints(m, "strides", (int64_t[]){g[0], g[1]}, 2);
    set_ints(m, "pads", (int64_t[]){g[2], g[3], g[2], g[3]}, 4);
    set_ints(m, "dilations", (int64_t[]){g[4], g[5]}, 2);
    set_int(m, "group", g[6]);
    return out;
  }
  case OP_MAXPOOL:
  case OP_AVGPOOL: { /* geo = {kh, kw, sh, sw, ph, pw}; the average counts padding (pool.c) */
    const int64_t *g = n->ia;
    m = add_node(e, n->op == OP_MAXPOOL ? "MaxPool" : "AveragePool", &x, 1, out);
    set_ints(m, "kernel_shape", (int64_t[]){g[0], g[1]}, 2);
    set_ints(m, "strides", (int64_t[]){g[2], g[3]}, 2);
    set_ints(m, "pads", (int64_t[]){g[4], g[5], g[4], g[5]}, 4);
    if (n->op == OP_AVGPOOL) set_int(m, "count_include_pad", 1);
    return out;
  }
  case OP_CONV2D_BWD_DATA: { /* conv_transpose2d: W [O, C/g, kh, kw] is ConvTranspose's [C_in, C_out/g, kh, kw] */
    const int64_t *g = n->ia;
    int64_t kh = n->in[1]->sh.d[2].k, kw = n->in[1]->sh.d[3].k;
    int64_t oh = g[0] * (a->sh.d[2].k - 1) + g[4] * (kh - 1) + 1 - 2 * g[2];
    int64_t ow = g[1] * (a->sh.d[3].k - 1) + g[5] * (kw - 1) + 1 - 2 * g[3];
    m = add_node(e, "ConvTranspose", (const char *[]){x, y}, 2, out);
    set_ints(m, "kernel_shape", (int64_t[]){kh, kw}, 2);
    set_ints(m, "strides", (int64_t[]){g[0], g[1]}, 2);
    set_ints(m, "pads", (int64_t[]){g[2], g[3], g[2], g[3]}, 4);
    set_ints(m, "dilations", (int64_t[]){g[4], g[5]}, 2);
    set_ints(m, "output_padding", (int64_t[]){s->d[2].k - oh, s->d[3].k - ow}, 2);
    set_int(m, "group", g[6]);
    return out;
  }
  case OP_POOLIDX: { /* MaxPool's second output: ONNX's own int64 indices, read by MaxUnpool only (below) */
    const int64_t *g = n->ia;
    m = add_node(e, "MaxPool", &x, 1, tmp_name(e));
    m->n_output = 2;
    m->output = arena_alloc(2 * sizeof(char *));
    m->output[0] = (char *)tmp_name(e);
    m->output[1] = (char *)out;
    set_ints(m, "kernel_shape", (int64_t[]){g[0], g[1]}, 2);
    set_ints(m, "strides", (int64_t[]){g[2], g[3]}, 2);
    set_ints(m, "pads", (int64_t[]){g[4], g[5], g[4], g[5]}, 4);
    return out;
  }
  case OP_UNPOOL: { /* max_unpool2d(v, pool_indices(x)): each value back where its window's maximum was */
    const int64_t *g = n->ia;
    m = add_node(e, "MaxUnpool", (const char *[]){x, e->val[n->in[1]->id], shape_value(e, s, false)}, 3, out);
    set_ints(m, "kernel_shape", (int64_t[]){g[0], g[1]}, 2);
    set_ints(m, "strides", (int64_t[]){g[2], g[3]}, 2);
    set_ints(m, "pads", (int64_t[]){g[4], g[5], g[4], g[5]}, 4);
    return out;
  }
  case OP_ARGMAX: /* the first maximum of the last axis (ops/argmax.c) */
    m = add_node(e, "ArgMax", &x, 1, tmp_name(e));
    set_int(m, "axis", -1);
    set_int(m, "keepdims", 0);
    return cast(e, m->output[0], onnx_type(n->dt), out);
  default: return NULL;
  }
}

/* ---- leaves --------------------------------------------------------------- */

static Onnx__ValueInfoProto *value_info(const char *name, Dtype dt, const Shape *s) {
  Onnx__TensorShapeProto *sh = arena_alloc(sizeof *sh);
  onnx__tensor_shape_proto__init(sh);
  sh->n_dim = (size_t)s->rank;
  sh->dim = arena_alloc(sizeof *sh->dim * (size_t)(s->rank ? s->rank : 1));
  for (int i = 0; i < s->rank; i++) {
    Onnx__TensorShapeProto__Dimension *d = arena_alloc(sizeof *d);
    onnx__tensor_shape_proto__dimension__init(d);
    if (s->d[i].b) {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      d->dim_param = s->d[i].k == 1 ? "B" : arena_printf("%lld*B", (long long)s->d[i].k);
    } else {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      d->dim_value = s->d[i].k;
    }
    sh->dim[i] = d;
  }
  Onnx__TypeProto__Tensor *tt = arena_alloc(sizeof *tt);
  onnx__type_proto__tensor__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = onnx_type(dt);
  tt->shape = sh;
  Onnx__TypeProto *t = arena_alloc(sizeof *t);
  onnx__type_proto__init(t);
  t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  t->tensor_type = tt;
  Onnx__ValueInfoProto *v = arena_alloc(sizeof *v);
  onnx__value_info_proto__init(v);
  v->name = (char *)name;
  v->type = t;
  return v;
}

static void add_io(Onnx__ValueInfoProto ***list, size_t *n, Onnx__ValueInfoProto *v) {
  Onnx__ValueInfoProto **l = arena_alloc(sizeof *l * (*n + 1));
  if (*n) memcpy(l, *list, sizeof *l * *n);
  l[(*n)++] = v;
  *list = l;
}

/* A parameter or state: an initializer whose data fill_weights reads from
 * the checkpoint once the graph is known to export. */
static bool weight(Export *e, const Node *w) {
  if (has_batch(&w->sh)) {
    diag_error(w->loc, "ONNX export: state '%s' %s is carried from batch to batch, which has no ONNX form", w->name,
               shape_str(&w->sh));
    return false;
  }
  int64_t dims[MAX_RANK];
  for (int i = 0; i < w->sh.rank; i++) dims[i] = w->sh.d[i].k;
  add_init(e, w->name, onnx_type(w->dt), dims, w->sh.rank, NULL, 0);
  push((void ***)&e->weights, &e->nweights, &e->cap_weights, (void *)w);
  e->val[w->id] = w->name;
  return true;
}

static const NnrtDtype nnrt_of[] = {[DT_F32] = NNRT_F32, [DT_F64] = NNRT_F64, [DT_I32] = NNRT_I32};

/* Each weight's initializer takes its checkpoint tensor (by the slot's
 * name, as the executable saves it; not copied: ck outlives the packing).
 * False after saying which one is missing or of another type or shape. */
static bool fill_weights(Export *e, const NnrtCkpt *ck, const char *ckpath) {
  bool ok = true;
  for (size_t k = 0; k < e->nweights; k++) {
    const Node *w = e->weights[k];
    const NnrtNamedTensor *t = nnrt_ckpt_find(ck, w->name);
    const char *kind = w->op == OP_PARAM ? "parameter" : "state";
    if (!t) {
      fprintf(stderr, "nnc: error: export: the checkpoint '%s' has no tensor '%s' (the program's %s %s%s): is it "
              "this program's?\n", ckpath, w->name, kind, dtype_name(w->dt), shape_str(&w->sh));
      ok = false;
      continue;
    }
    bool same = w->dt != DT_BOOL && t->dtype == nnrt_of[w->dt] && t->rank == w->sh.rank;
    for (int i = 0; same && i < t->rank; i++) same = t->dims[i] == w->sh.d[i].k;
    if (!same) {
      char *have = "[";
      for (int i = 0; i < t->rank; i++) have = arena_printf("%s%s%lld", have, i ? ", " : "", (long long)t->dims[i]);
      fprintf(stderr, "nnc: error: export: tensor '%s' of checkpoint '%s' is %s %s], but the program's %s is %s%s\n",
              w->name, ckpath, nnrt_dtype_name(t->dtype), have, kind, dtype_name(w->dt), shape_str(&w->sh));
      ok = false;
      continue;
    }
    size_t bytes = dtype_bytes(w->dt);
    for (int i = 0; i < t->rank; i++) bytes *= (size_t)t->dims[i];
    for (size_t i = 0; i < e->g->n_initializer; i++)
      if (e->g->initializer[i]->name == w->name) {
        e->g->initializer[i]->raw_data.data = t->data;
        e->g->initializer[i]->raw_data.len = bytes;
      }
  }
  return ok;
}

/* ---- the model ------------------------------------------------------------ */

static void mark(Node *n, char *live, Node **byid) {
  if (live[n->id]) return;
  live[n->id] = 1;
  byid[n->id] = n;
  for (int i = 0; i < n->nin; i++) mark(n->in[i], live, byid);
}

static bool write_file(const char *path, const uint8_t *buf, size_t len) {
  char *tmp = arena_printf("%s.tmp%d", path, (int)getpid());
  FILE *f = fopen(tmp, "wb");
  bool ok = f && fwrite(buf, 1, len, f) == len;
  ok = f && fclose(f) == 0 && ok;
  if (ok && rename(tmp, path) == 0) return true;
  fprintf(stderr, "nnc: error: cannot write '%s': %s\n", path, strerror(errno));
  unlink(tmp);
  return false;
}

/* The graph of the prediction into e; false after reporting what has no
 * ONNX form (every such op) or a checkpoint that does not fit. */
static bool build_graph(Export *e, const Program *p, const Node *pred) {
  int cap = graph_node_count() + 1;
  char *live = arena_alloc((size_t)cap);
  Node **byid = arena_alloc(sizeof(Node *) * (size_t)cap);
  mark((Node *)pred, live, byid);
  bool ok = true;
  for (int i = 0; i < p->nslots; i++) { /* leaves in slot order: inputs, initializers */
    Node *l = p->slots[i]->node;
    if (!l || !live[l->id]) continue;
    if (l->op == OP_INPUT) {
      e->val[l->id] = l->name;
      add_io(&e->g->input, &e->g->n_input, value_info(l->name, l->dt, &l->sh));
      for (int j = 0; j < l->sh.rank && !e->batch_in; j++)
        if (l->sh.d[j].b) e->batch_in = l, e->batch_dim = j;
    } else if (l->op == OP_PARAM || l->op == OP_STATE) {
      ok = weight(e, l) && ok;
    }
  }
  for (int id = 0; id < cap; id++) { /* inputs before users: ids grow with creation */
    const Node *n = byid[id];
    if (!n || e->val[id] || op_info[n->op].kind == OK_LEAF) continue;
    const char *v = emit_node(e, n, arena_printf("n%d", n->id));
    if (!v) {
      diag_error(n->loc, "ONNX export: '%s' has no ONNX form", op_info[n->op].name);
      ok = false;
      v = "unsupported"; /* keep walking: report every such op */
    }
    e->val[id] = v;
  }
  if (e->batch_missing) {
    diag_error(pred->loc, "ONNX export: the prediction depends on the batch size but reads no input that has it");
    ok = false;
  }
  if (pred->op == OP_CONST) e->val[pred->id] = constant(e, pred, pred->dt);
  op1(e, "Identity", e->val[pred->id], "predict");
  add_io(&e->g->output, &e->g->n_output, value_info("predict", pred->dt, &pred->sh));
  return ok;
}

int onnx_export(const Program *p, const char *ckpath, const char *out) {
  struct stat so, sc;
  if (stat(out, &so) == 0 && stat(ckpath, &sc) == 0 && so.st_dev == sc.st_dev && so.st_ino == sc.st_ino) {
    fprintf(stderr, "nnc: error: export: the output '%s' is the checkpoint it reads; refusing to overwrite it\n", out);
    return 1;
  }
  const Node *pred = NULL;
  for (int i = 0; i < p->eval_k.nouts; i++)
    if (!strcmp(p->eval_k.outs[i].label, "predict")) pred = p->eval_k.outs[i].node;
  if (!pred) {
    diag_error(p->train->loc, "ONNX export: program '%s' has nothing to export: add `predict = forward(x);` to its "
               "train block", p->name);
    return 1;
  }
  int cap = graph_node_count() + 1;
  Export e = {.val = arena_alloc(sizeof(char *) * (size_t)cap), .batch_dim = -1};
  for (int d = 0; d < 4; d++) e.konst[d] = arena_alloc(sizeof(char *) * (size_t)cap);
  e.g = arena_alloc(sizeof *e.g);
  onnx__graph_proto__init(e.g);
  e.g->name = (char *)p->name;
  e.g->doc_string = arena_printf("the prediction of %s (nnc export --load %s)", p->source, ckpath);
  if (!build_graph(&e, p, pred)) return 1;
  char err[512];
  NnrtCkpt *ck = NULL;
  if (nnrt_ckpt_load(ckpath, &ck, err, sizeof err) != 0) {
    fprintf(stderr, "nnc: error: export: %s\n", err);
    return 1;
  }
  int rc = 1;
  if (fill_weights(&e, ck, ckpath)) {
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    opset.domain = "";
    opset.has_version = 1;
    opset.version = OPSET;
    Onnx__OperatorSetIdProto *opsets[] = {&opset};
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    m.has_ir_version = 1;
    m.ir_version = IR_VERSION;
    m.n_opset_import = 1;
    m.opset_import = opsets;
    m.producer_name = "nnc";
    m.producer_version = NNC_VERSION;
    m.graph = e.g;
    size_t len = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
      fprintf(stderr, "nnc: error: export: out of memory for a model of %zu bytes\n", len);
    } else {
      onnx__model_proto__pack(&m, buf);
      rc = write_file(out, buf, len) ? 0 : 1;
      free(buf);
    }
  }
  nnrt_ckpt_free(ck);
  return rc;
}
#else /* configured without protobuf-c or onnx.proto */
int onnx_export(const Program *p, const char *ckpath, const char *out) {
  (void)p, (void)ckpath, (void)out;
  fprintf(stderr, "nnc: error: export: this nnc was built without ONNX support (install libprotobuf-c-dev, "
          "protobuf-c-compiler and libonnx-dev, scripts/deps.sh, and configure again)\n");
  return 1;
}
#endif
