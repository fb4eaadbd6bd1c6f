/*
 * lower_builtin.c — the builtin functions of the language, called by name from
 * a .nn program: element-wise primitives and ops of kind GEN come from the op
 * table (ops.h); reductions, softmax, shapes, data sources, convolution and
 * pooling are parsed and checked here, each building graph nodes through the
 * g_* builders and reporting its errors at the call.
 */
#include "lower.h"
#include <math.h>
#include <string.h>

/* ---- builtins ------------------------------------------------------------ */


static Value *kwarg(Args *a, const char *name, Ast **at) {
  for (int i = 0; i < a->nkw; i++)
    if (strcmp(a->kw[i], name) == 0) {
      if (at) *at = a->kw_ast[i];
      return a->kwv[i];
    }
  return NULL;
}

static Node *tensor_arg(Args *a, int i, const char *fname) {
  if (i >= a->npos) {
    diag_error(a->site->loc, "'%s' needs at least %d argument%s", fname, i + 1, i ? "s" : "");
    return NULL;
  }
  if (!a->pos[i]) return NULL;
  if (a->pos[i]->k == V_NUM) return g_scalar(a->pos[i]->num, elem_type); /* sqrt(d / nh): the model's type */
  if (a->pos[i]->k != V_TENSOR) {
    diag_error(a->pos_ast[i]->loc, "argument %d of '%s' must be a tensor, found %s", i + 1, fname, vkind_name(a->pos[i]));
    return NULL;
  }
  return a->pos[i]->n;
}

static bool axis_arg(Args *a, const char *fname, int rank, uint64_t *mask, bool *given) {
  Ast *at = NULL;
  Value *v = kwarg(a, "axis", &at);
  if (!v && a->npos > 1) { v = a->pos[1]; at = a->pos_ast[1]; }
  *given = v != NULL;
  if (!v) { *mask = rank ? (1ull << rank) - 1 : 0; return true; }
  *mask = 0;
  Value *one[1] = {v};
  Value **items = v->k == V_LIST ? v->items : one;
  int n = v->k == V_LIST ? v->nitems : 1;
  for (int i = 0; i < n; i++) {
    int64_t ax;
    if (!as_int(items[i], at, &ax)) return false;
    if (ax < 0) ax += rank;
    if (ax < 0 || ax >= rank) {
      diag_error(at->loc, "axis %lld is out of range for '%s' on a tensor of rank %d", (long long)ax, fname, rank);
      return false;
    }
    *mask |= 1ull << ax;
  }
  return true;
}

static Value *reduce_builtin(Args *a, Op op, bool mean, const char *fname) {
  Node *x = tensor_arg(a, 0, fname);
  if (!x) return NULL;
  uint64_t mask;
  bool given;
  if (!axis_arg(a, fname, x->sh.rank, &mask, &given)) return NULL;
  Value *kd = kwarg(a, "keepdim", NULL);
  bool keep = kd && kd->k == V_NUM && kd->num != 0;
  Node *r = g_reduce(op, x, mask);
  if (mean) {
    Dim cnt = {1, 0};
    for (int i = 0; i < x->sh.rank; i++)
      if (mask >> i & 1) { cnt.k *= x->sh.d[i].k; cnt.b += x->sh.d[i].b; }
    r = g_binary(OP_MUL, r, g_const(1.0 / (double)cnt.k, -cnt.b, x->dt, shape_scalar()));
  }
  if (!keep) {
    Shape s = {0};
    for (int i = 0; i < x->sh.rank; i++)
      if (!(mask >> i & 1)) s.d[s.rank++] = x->sh.d[i];
    r = g_reshape(r, s);
  }
  return op_result(r, a->site, a->pos_ast[0], a->pos[0], NULL, NULL);
}

static bool shape_list(Args *a, Value *v, Ast *at, Shape *s) {
  if (!v || v->k != V_LIST) { diag_error(at->loc, "expected a list of dimensions like [B, 784]"); return false; }
  if (v->nitems > MAX_RANK) { diag_error(at->loc, "too many dimensions"); return false; }
  s->rank = v->nitems;
  for (int i = 0; i < v->nitems; i++) {
    if (v->items[i]->k == V_NUM && v->items[i]->num == -1) { s->d[i] = (Dim){-1, 0}; continue; }
    if (!as_dim(v->items[i], at, &s->d[i])) return false;
  }
  return true;
}

/* A number or a [h, w] pair. */
static bool pair_value(Value *v, Ast *at, int64_t *out) {
  if (v && v->k == V_LIST && v->nitems == 2) return as_int(v->items[0], at, &out[0]) && as_int(v->items[1], at, &out[1]);
  if (!as_int(v, at, &out[0])) return false;
  out[1] = out[0];
  return true;
}

static bool pair_arg(Args *a, const char *key, int64_t dflt, int64_t *out) {
  Ast *at;
  Value *v = kwarg(a, key, &at);
  if (!v) { out[0] = out[1] = dflt; return true; }
  return pair_value(v, at, out);
}

/* The element-wise primitive a builtin name calls (ops.h rows marked FN),
 * or OP__COUNT. */
static Op ewise_builtin(const char *name) {
  for (int op = 0; op < OP__COUNT; op++)
    if (op_info[op].builtin && !strcmp(op_info[op].name, name)) return (Op)op;
  return OP__COUNT;
}

static Value *ewise_call(Args *a, Op op, const char *name);

/* A call of an element-wise builtin.  One of compile-time numbers is a
 * number (sqrt(16) is 4, usable as an initialiser's or a constructor's
 * argument), computed in double by the op's fold rule; the call stays a
 * tensor where it does not fold. */
static Value *ewise_number(Args *a, Op op, const char *name) {
  int ar = op_info[op].arity;
  Value *r = ewise_call(a, op, name);
  for (int i = 0; i < ar; i++)
    if (i >= a->npos || a->pos[i]->k != V_NUM) return r;
  double v;
  int bpow;
  if (!r || r->k != V_TENSOR || r->n->sh.rank) return r;
  if (!(node_is_const(r->n, &v, &bpow) && !bpow) && !simplify_fold_node(r->n, &v)) return r;
  Value *num = mk(V_NUM, a->site->loc);
  num->num = v;
  return num;
}

/* A call of an element-wise builtin: its tensors (a constant takes its
 * partner's element type) and its attribute, as a keyword or after them. */
static Value *ewise_call(Args *a, Op op, const char *name) {
  Ast *site = a->site;
  int ar = op_info[op].arity;
  Node *in[3] = {0};
  bool ok = true;
  for (int i = 0; i < ar; i++) ok = (in[i] = tensor_arg(a, i, name)) && ok; /* report each bad argument */
  if (!ok) return NULL;
  if (ar == 1) {
    double p = op_info[op].attr_default;
    if (op_info[op].attr) {
      Ast *at;
      Value *v = kwarg(a, op_info[op].attr, &at);
      if (!v && a->npos > 1) { v = a->pos[1]; at = a->pos_ast[1]; }
      if (v && !as_num(v, at, &p)) return NULL;
    }
    return op_result(g_unary_attr(op, in[0], p), site, a->pos_ast[0], a->pos[0], NULL, NULL);
  }
  if (ar == 2) { /* the second follows the first, unless the first is a constant */
    if (in[0]->dt != in[1]->dt) {
      if (in[0]->op == OP_CONST) in[0] = g_cast(in[0], in[1]->dt);
      else in[1] = g_cast(in[1], in[0]->dt);
    }
    return op_result(g_binary(op, in[0], in[1]), site, a->pos_ast[0], a->pos[0], a->pos_ast[1], a->pos[1]);
  }
  for (int i = 1; i < ar; i++) /* the others follow the first */
    if (in[i]->dt != in[0]->dt) in[i] = g_cast(in[i], in[0]->dt);
  return op_result(g_ewise(op, in, ar), site, a->pos_ast[0], a->pos[0], a->pos_ast[1], a->pos[1]);
}

/* The op of kind GEN a builtin name calls, or OP__COUNT. */
static Op gen_builtin(const char *name) {
  for (int op = 0; op < OP__COUNT; op++)
    if (op_info[op].spec && !op_info[op].spec->internal && !strcmp(op_info[op].name, name)) return (Op)op;
  return OP__COUNT;
}

/* an attribute's value: an integer, or a number stored as its bits */
static bool gen_attr(const AttrSpec *s, Value *v, Ast *at, int64_t *out) {
  if (s->type != AT_FLOAT) return as_int(v, at, out);
  double d;
  if (!as_num(v, at, &d)) return false;
  *out = attr_bits(d);
  return true;
}

/* name(x, ..., attr = value, ...): the tensors first, then the attributes of
 * the op's schema by keyword or, in schema order, by position. */
static Value *gen_call(Args *a, Op op, const char *name) {
  const OpSpec *sp = op_info[op].spec;
  int ar = op_info[op].arity;
  Node *in[3] = {0};
  bool ok = true;
  for (int i = 0; i < ar; i++) ok = (in[i] = tensor_arg(a, i, name)) && ok;
  int64_t attr[MAX_RANK] = {0};
  for (int i = 0; i < sp->nattrs; i++)
    attr[i] = sp->attrs[i].type == AT_FLOAT ? attr_bits(sp->attrs[i].fdflt) : sp->attrs[i].dflt;
  if (a->npos > ar + sp->nattrs) {
    diag_error(a->pos_ast[ar + sp->nattrs]->loc, "'%s' takes %d tensor%s and %d attribute%s", name, ar, ar == 1 ? "" : "s",
               sp->nattrs, sp->nattrs == 1 ? "" : "s");
    return NULL;
  }
  for (int i = ar; i < a->npos; i++) ok = gen_attr(&sp->attrs[i - ar], a->pos[i], a->pos_ast[i], &attr[i - ar]) && ok;
  for (int k = 0; k < a->nkw; k++) {
    int i = 0;
    while (i < sp->nattrs && strcmp(sp->attrs[i].name, a->kw[k])) i++;
    if (i == sp->nattrs && !sp->nattrs) {
      diag_error(a->kw_ast[k]->loc, "'%s' takes no argument '%s' (it has no attributes)", name, a->kw[k]);
      ok = false;
      continue;
    }
    if (i == sp->nattrs) {
      const char *names = "";
      for (int j = 0; j < sp->nattrs; j++) names = arena_printf("%s%s%s", names, j ? ", " : "", sp->attrs[j].name);
      diag_error(a->kw_ast[k]->loc, "'%s' has no argument '%s' (it takes %s)", name, a->kw[k], names);
      ok = false;
      continue;
    }
    ok = gen_attr(&sp->attrs[i], a->kwv[k], a->kw_ast[k], &attr[i]) && ok;
  }
  if (!ok) return NULL;
  return op_result(g_gen(op, in, attr), a->site, a->pos_ast[0], a->pos[0], ar > 1 ? a->pos_ast[1] : NULL,
                   ar > 1 ? a->pos[1] : NULL);
}


/* The output size of a transposed convolution (or the input size a
 * pooling came from): (N - 1)·S - 2P + D·(K - 1) + OP + 1, which is
 * (N - 1)·S + K - 2P for D = 1.  False if a term overflows 64 bits (the
 * stride and padding are the user's numbers). */
static bool transposed_size(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d, int64_t op, int64_t *out) {
  int64_t r, t;
  return !__builtin_mul_overflow(n - 1, s, &r) && !__builtin_mul_overflow(p, 2, &t) && !__builtin_sub_overflow(r, t, &r) &&
         !__builtin_mul_overflow(d, k - 1, &t) && !__builtin_add_overflow(r, t, &r) && !__builtin_add_overflow(r, op, &r) &&
         !__builtin_add_overflow(r, 1, out);
}

static Value *b_softmax(const char *name, Args *a) {
  Ast *site = a->site;
  Node *x = tensor_arg(a, 0, name);
  if (!x) return NULL;
  uint64_t mask;
  bool given;
  if (!axis_arg(a, name, x->sh.rank, &mask, &given)) return NULL;
  Op op = name[0] == 's' ? OP_SOFTMAX : OP_LOG_SOFTMAX;
  int r = x->sh.rank, ax = r - 1;
  if (given && __builtin_popcountll(mask) != 1) {
    diag_error(site->loc, "'%s' takes one axis, not a list of them", name);
    return NULL;
  }
  if (given) ax = __builtin_ctzll(mask);
  if (ax == r - 1)
    return op_result(g_row(op, x), site, a->pos_ast[0], a->pos[0], NULL, NULL);
  /* another axis: move it last, take the rows there, move it back (the
   * gradient follows through the two transposes) */
  int64_t there[MAX_RANK] = {0}, back[MAX_RANK] = {0};
  for (int i = 0, j = 0; i < r; i++)
    if (i != ax) there[j++] = i;
  there[r - 1] = ax;
  for (int i = 0; i < r; i++) back[there[i]] = i;
  Node *y = g_transpose(g_row(op, g_transpose(x, there)), back);
  return op_result(y, site, a->pos_ast[0], a->pos[0], NULL, NULL);
}

static Value *b_sum(const char *name, Args *a) {
  return reduce_builtin(a, OP_SUM, false, name);
}

static Value *b_mean(const char *name, Args *a) {
  return reduce_builtin(a, OP_SUM, true, name);
}

static Value *b_max(const char *name, Args *a) {
  return reduce_builtin(a, OP_MAX, false, name);
}

static Value *b_matmul(const char *name, Args *a) {
  Ast *site = a->site;
  Node *x = tensor_arg(a, 0, name), *y = tensor_arg(a, 1, name);
  return x && y ? op_result(lower_matmul(x, y), site, a->pos_ast[0], a->pos[0], a->pos_ast[1], a->pos[1]) : NULL;
}

static Value *b_where(const char *name, Args *a) {
  Ast *site = a->site;
  Node *c = tensor_arg(a, 0, name), *x = tensor_arg(a, 1, name), *y = tensor_arg(a, 2, name);
  if (!c || !x || !y) return NULL;
  if (x->op == OP_CONST && x->sh.rank == 0) x = g_cast(x, y->dt);
  if (y->op == OP_CONST && y->sh.rank == 0) y = g_cast(y, x->dt);
  return op_result(g_select(c, x, y), site, a->pos_ast[1], a->pos[1], a->pos_ast[2], a->pos[2]);
}

static Value *b_reshape(const char *name, Args *a) {
  Ast *site = a->site;
  Node *x = tensor_arg(a, 0, name);
  Shape s;
  if (!x || a->npos < 2 || !shape_list(a, a->pos[1], a->pos_ast[1], &s)) {
    if (x && a->npos < 2) diag_error(site->loc, "'reshape' needs a shape: reshape(x, [B, 784])");
    return NULL;
  }
  int infer = -1;
  Dim known = {1, 0}, total = shape_numel(&x->sh);
  for (int i = 0; i < s.rank; i++) {
    if (s.d[i].k == -1) {
      if (infer >= 0) { diag_error(a->pos_ast[1]->loc, "only one dimension can be -1"); return NULL; }
      infer = i;
    } else {
      if (__builtin_mul_overflow(known.k, s.d[i].k, &known.k)) known.k = INT64_MAX; /* cannot match: reported below */
      known.b += s.d[i].b;
    }
  }
  if (infer >= 0) {
    if (known.k == 0 || total.k % known.k || total.b < known.b) {
      diag_error(a->pos_ast[1]->loc, "cannot infer the -1 dimension reshaping %s", tstr(x));
      return NULL;
    }
    s.d[infer] = (Dim){total.k / known.k, total.b - known.b};
  }
  return op_result(g_reshape(x, s), site, a->pos_ast[0], a->pos[0], NULL, NULL);
}

static Value *b_transpose(const char *name, Args *a) {
  Ast *site = a->site;
  Node *x = tensor_arg(a, 0, name);
  if (!x) return NULL;
  int64_t perm[MAX_RANK] = {0};
  if (a->npos > 1) {
    Value *p = a->pos[1];
    if (!p || p->k != V_LIST || p->nitems != x->sh.rank) {
      diag_error(a->pos_ast[1]->loc, "expected a permutation of %d axes", x->sh.rank);
      return NULL;
    }
    for (int i = 0; i < p->nitems; i++)
      if (!as_int(p->items[i], a->pos_ast[1], &perm[i])) return NULL;
  } else {
    if (x->sh.rank != 2) { diag_error(site->loc, "transpose(x) without a permutation needs a matrix, got %s", tstr(x)); return NULL; }
    perm[0] = 1;
  }
  return op_result(g_transpose(x, perm), site, a->pos_ast[0], a->pos[0], NULL, NULL);
}

/* Concatenate nodes[lo, hi) along axis as a balanced tree of binary
 * concats, so that stacking T steps copies each element O(log T) times. */
static Node *concat_tree(Node **nodes, int lo, int hi, int axis) {
  if (hi - lo == 1) return nodes[lo];
  int mid = lo + (hi - lo) / 2;
  Node *l = concat_tree(nodes, lo, mid, axis), *r = l ? concat_tree(nodes, mid, hi, axis) : NULL;
  return r ? g_concat(l, r, axis) : NULL;
}

static Value *b_concat(const char *name, Args *a) {
  (void)name;
  Ast *site = a->site;
  Value *l = a->npos ? a->pos[0] : NULL;
  if (!l || l->k != V_LIST || l->nitems < 1) { diag_error(site->loc, "'concat' takes a list of tensors: concat([a, b], axis=1)"); return NULL; }
  int64_t axis = -1;
  Ast *at;
  Value *av = kwarg(a, "axis", &at);
  if (av && !as_int(av, at, &axis)) return NULL;
  if (axis < -MAX_RANK || axis >= MAX_RANK) { /* before the cast to int below */
    diag_error(at->loc, "concat axis %lld is out of range", (long long)axis);
    return NULL;
  }
  Node **nodes = arena_alloc(sizeof *nodes * (size_t)l->nitems);
  for (int i = 0; i < l->nitems; i++)
    if (!(nodes[i] = to_node(l->items[i], i ? nodes[0]->dt : elem_type, a->pos_ast[0]))) return NULL;
  return op_result(concat_tree(nodes, 0, l->nitems, (int)axis), site, a->pos_ast[0], NULL, NULL, NULL);
}

/* stack([a, b, …], axis = 0) or stack(a, b, …, axis = 0): equal shapes
 * joined along a new axis — each gets a size-1 axis (a reshape) and they
 * are concatenated along it, so the gradient is slicing, derived. */
static Value *b_stack(const char *name, Args *a) {
  Ast *site = a->site;
  bool list = a->npos == 1 && a->pos[0] && a->pos[0]->k == V_LIST;
  int n = list ? a->pos[0]->nitems : a->npos;
  if (n < 1) { diag_error(site->loc, "'stack' takes tensors: stack([a, b], axis = 1) or stack(a, b, axis = 1)"); return NULL; }
  Node **nodes = arena_alloc(sizeof *nodes * (size_t)n);
  for (int i = 0; i < n; i++) {
    Value *v = list ? a->pos[0]->items[i] : a->pos[i];
    Ast *at = list ? a->pos_ast[0] : a->pos_ast[i];
    if (!v) return NULL;
    if (v->k != V_TENSOR) { diag_error(at->loc, "'%s' stacks tensors, found %s", name, vkind_name(v)); return NULL; }
    nodes[i] = v->n;
    if (nodes[i]->dt != nodes[0]->dt || !shape_eq(&nodes[i]->sh, &nodes[0]->sh)) {
      diag_error(at->loc, "'stack' needs equal shapes: item %d is %s, item 1 is %s", i + 1, tstr(nodes[i]), tstr(nodes[0]));
      return NULL;
    }
  }
  int rank = nodes[0]->sh.rank;
  if (rank + 1 > MAX_RANK) { diag_error(site->loc, "'stack' of rank-%d tensors exceeds the maximum rank", rank); return NULL; }
  int64_t axis = 0;
  Ast *at;
  Value *av = kwarg(a, "axis", &at);
  if (av && !as_int(av, at, &axis)) return NULL;
  if (axis < 0) axis += rank + 1;
  if (axis < 0 || axis > rank) {
    diag_error(at->loc, "stack axis %lld is out of range for %d tensors of rank %d", (long long)axis, n, rank);
    return NULL;
  }
  Node *whole = scan_stack(nodes, n, (int)axis); /* the steps a scan collected: its output, transposed */
  if (whole) return op_result(whole, site, a->pos_ast[0], NULL, NULL, NULL);
  Shape s = {0};
  for (int i = 0, j = 0; i <= rank; i++) s.d[s.rank++] = i == axis ? (Dim){1, 0} : nodes[0]->sh.d[j++];
  for (int i = 0; i < n; i++) nodes[i] = g_reshape(nodes[i], s);
  return op_result(concat_tree(nodes, 0, n, (int)axis), site, a->pos_ast[0], NULL, NULL, NULL);
}

static Value *b_onehot(const char *name, Args *a) {
  Ast *site = a->site;
  Node *y = tensor_arg(a, 0, name);
  int64_t n;
  if (!y || a->npos < 2) { if (y) diag_error(site->loc, "'onehot' needs the number of classes"); return NULL; }
  if (!as_int(a->pos[1], a->pos_ast[1], &n)) return NULL;
  if (y->dt == DT_F32 || y->dt == DT_F64) { /* already a distribution over classes */
    if (y->sh.rank && y->sh.d[y->sh.rank - 1].k == n && !y->sh.d[y->sh.rank - 1].b) return a->pos[0];
    diag_error(site->loc, "float targets %s are not a distribution over %lld classes", tstr(y), (long long)n);
    return NULL;
  }
  Value *dv = kwarg(a, "like", NULL);
  Dtype dt = dv && dv->k == V_TENSOR ? dv->n->dt : elem_type;
  if (y->op == OP_INPUT) prog->slots[y->slot]->classes = n;
  return op_result(g_onehot(y, n, dt), site, a->pos_ast[0], a->pos[0], NULL, NULL);
}

/* A shape written as a list, [B, 64]: its items are dimensions (B, a
 * number, a dimension name). */
static bool shape_of_list(Value *l, Ast *at, Shape *out) {
  if (!l || l->k != V_LIST) return false;
  if (l->nitems > MAX_RANK) { diag_error(at->loc, "a shape of rank %d exceeds the maximum of %d", l->nitems, MAX_RANK); return false; }
  *out = (Shape){0};
  out->rank = l->nitems;
  for (int i = 0; i < l->nitems; i++) {
    if (!as_dim(l->items[i], at, &out->d[i])) return false;
    if (out->d[i].k == 0) { diag_error(at->loc, "dimension %d of the shape is 0", i); return false; }
  }
  return true;
}

/* The element type a constructor makes: `like = t` takes t's, `dtype =
 * "f64"` names one; otherwise the model's (elem_type: f32 unless the
 * model says otherwise). */
static bool ctor_dtype(Args *a, const char *fname, Dtype *dt) {
  Ast *at, *dat = a->site;
  Value *like = kwarg(a, "like", &at), *d = kwarg(a, "dtype", &dat);
  *dt = elem_type;
  if (like) {
    if (like->k != V_TENSOR) { diag_error(at->loc, "'like' takes a tensor whose element type %s uses", fname); return false; }
    *dt = like->n->dt;
  }
  if (d) {
    static const Dtype known[] = {DT_F32, DT_F64, DT_I32};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
      if (d->k == V_STR && !strcmp(d->s, dtype_name(known[i]))) { *dt = known[i]; return true; }
    diag_error(dat->loc, "dtype is one of \"f32\", \"f64\", \"i32\"");
    return false;
  }
  return true;
}

/* zeros(SHAPE), ones(SHAPE), full(SHAPE, v): constant tensors of a shape
 * written as a list, [B, h]; the element type from like = t or dtype. */
static Value *b_full(const char *name, Args *a) {
  Ast *site = a->site;
  bool full = !strcmp(name, "full");
  Shape sh;
  Dtype dt;
  if (a->npos != (full ? 2 : 1) || a->pos[0]->k != V_LIST) {
    diag_error(site->loc, "'%s' takes a shape as a list%s: %s([B, 64]%s)", name, full ? " and a value" : "", name, full ? ", 0.5" : "");
    return NULL;
  }
  if (!shape_of_list(a->pos[0], a->pos_ast[0], &sh) || !ctor_dtype(a, name, &dt)) return NULL;
  double v = !strcmp(name, "ones");
  if (full && !as_num(a->pos[1], a->pos_ast[1], &v)) return NULL;
  if (!isfinite(v)) { diag_error(a->pos_ast[1]->loc, "'full' needs a finite value"); return NULL; }
  if (dt == DT_I32 && (v != floor(v) || v < INT32_MIN || v > INT32_MAX)) {
    diag_error(a->pos_ast[full ? 1 : 0]->loc, "%g is not an i32 value", v);
    return NULL;
  }
  return mk_tensor(g_const(v, 0, dt, sh), site->loc);
}

static Value *b_rand_uniform(const char *name, Args *a) {
  Ast *site = a->site;
  /* rand_uniform(x): fresh U[0,1) numbers shaped like x; rand_normal(x): N(0,1);
   * or a shape as a list: rand_normal([B, 16]) (element type as zeros) */
  if (a->npos == 1 && a->pos[0]->k == V_LIST) {
    Shape sh;
    Dtype dt;
    if (!shape_of_list(a->pos[0], a->pos_ast[0], &sh) || !ctor_dtype(a, name, &dt)) return NULL;
    if (dt != DT_F32 && dt != DT_F64) { diag_error(site->loc, "'%s' makes float tensors, not %s", name, dtype_name(dt)); return NULL; }
    return mk_tensor(g_rand(name[5] == 'n', dt, sh), site->loc);
  }
  Node *x = tensor_arg(a, 0, name);
  if (!x) return NULL;
  if (x->dt != DT_F32 && x->dt != DT_F64) {
    diag_error(site->loc, "'%s' needs a float tensor to take its shape from, got %s", name, tstr(x));
    return NULL;
  }
  return mk_tensor(g_rand(name[5] == 'n', x->dt, x->sh), site->loc);
}

/* rand_int(SHAPE, lo, hi) or rand_int(t, lo, hi): i32 uniform in [lo, hi)
 * of the shape written as a list or of t's, from the same generator as
 * rand_uniform (in the program's order of draws): lo + floor(u·(hi − lo))
 * with u an f64 U[0, 1), exact for ranges up to 2^24 values. */
static Value *b_rand_int(const char *name, Args *a) {
  Ast *site = a->site;
  if (a->npos != 3 || a->nkw) {
    diag_error(site->loc, "'%s' takes a shape (or a tensor to take it from), lo and hi: rand_int([B], 0, 1000)", name);
    return NULL;
  }
  Shape sh;
  if (a->pos[0] && a->pos[0]->k == V_LIST) {
    if (!shape_of_list(a->pos[0], a->pos_ast[0], &sh)) return NULL;
  } else {
    Node *x = tensor_arg(a, 0, name);
    if (!x) return NULL;
    sh = x->sh;
  }
  int64_t lo, hi;
  if (!as_int(a->pos[1], a->pos_ast[1], &lo) || !as_int(a->pos[2], a->pos_ast[2], &hi)) return NULL;
  if (lo >= hi) {
    diag_error(a->pos_ast[2]->loc, "'%s' draws from [lo, hi): needs lo < hi, got [%lld, %lld)", name, (long long)lo,
               (long long)hi);
    return NULL;
  }
  if (hi - lo > ((int64_t)1 << 24) || lo < INT32_MIN || hi - 1 > INT32_MAX) {
    diag_error(a->pos_ast[2]->loc, "'%s' draws i32 values from at most 2^24 of them, got [%lld, %lld)", name,
               (long long)lo, (long long)hi);
    return NULL;
  }
  Node *u = g_rand(0, DT_F64, sh);
  Node *v = g_binary(OP_ADD, g_unary(OP_FLOOR, g_binary(OP_MUL, u, g_scalar((double)(hi - lo), DT_F64))),
                     g_scalar((double)lo, DT_F64));
  return mk_tensor(g_cast(v, DT_I32), site->loc);
}

static Value *b_arange(const char *name, Args *a) {
  (void)name;
  Ast *site = a->site;
  int64_t n;
  if (a->npos != 1 || !as_int(a->pos[0], a->pos_ast[0], &n)) {
    if (a->npos != 1) diag_error(site->loc, "'arange' takes a count: arange(n)");
    return NULL;
  }
  if (n < 1 || n > (1 << 24)) { diag_error(a->pos_ast[0]->loc, "arange(%lld): the count must be in 1..16777216", (long long)n); return NULL; }
  Value *like = kwarg(a, "like", NULL);
  return mk_tensor(g_iota(n, like && like->k == V_TENSOR ? like->n->dt : elem_type), site->loc);
}

/* cast(x, "f64"), cast(x, dtype = "f32"), cast(x, like = t): x's values in
 * another float type, where models of two element types meet (§4.1); the
 * gradient is cast back.  An i32 x becomes floats (labels as numbers). */
static Value *b_cast(const char *name, Args *a) {
  Ast *site = a->site;
  Node *x = tensor_arg(a, 0, name);
  if (!x) return NULL;
  Dtype dt;
  if (a->npos == 2 && a->pos[1]->k == V_STR && !a->nkw) {
    a->kw[0] = "dtype"; /* the positional form, read as dtype = */
    a->kwv[0] = a->pos[1];
    a->kw_ast[0] = a->pos_ast[1];
    a->nkw = 1;
  } else if (a->npos != 1 || a->nkw != 1 || (strcmp(a->kw[0], "dtype") && strcmp(a->kw[0], "like"))) {
    diag_error(site->loc, "'cast' takes a tensor and its new type: cast(x, \"f64\"), cast(x, like = t)");
    return NULL;
  }
  Value *d = a->kwv[0];
  if (!strcmp(a->kw[0], "dtype") && (!d || d->k != V_STR || (strcmp(d->s, "f32") && strcmp(d->s, "f64")))) {
    diag_error(a->kw_ast[0]->loc, "'cast' converts to \"f32\" or \"f64\"%s", d && d->k == V_STR ? arena_printf(", not \"%s\"", d->s) : "");
    return NULL;
  }
  if (!ctor_dtype(a, name, &dt)) return NULL;
  if ((dt != DT_F32 && dt != DT_F64) || (x->dt != DT_F32 && x->dt != DT_F64 && x->dt != DT_I32)) {
    diag_error(site->loc, "'cast' converts f32, f64 or i32 tensors to f32 or f64, not %s to %s", tstr(x), dtype_name(dt));
    return NULL;
  }
  graph_set_loc(site->loc);
  return mk_tensor(g_cast(x, dt), site->loc);
}

static Value *b_conv2d(const char *name, Args *a) {
  Ast *site = a->site;
  /* conv2d(x, w, stride=1, padding=0, dilation=1, groups=1); the transposed
   * convolution also takes output_padding and has weights [C_in, C_out/g, kh, kw] */
  Node *x = tensor_arg(a, 0, name), *w = tensor_arg(a, 1, name);
  if (!x || !w) return NULL;
  int64_t s[2], p[2], dl[2], op[2], g = 1;
  if (!pair_arg(a, "stride", 1, s) || !pair_arg(a, "padding", 0, p) || !pair_arg(a, "dilation", 1, dl) ||
      !pair_arg(a, "output_padding", 0, op))
    return NULL;
  Ast *gat = NULL;
  Value *gv = kwarg(a, "groups", &gat);
  if (gv && !as_int(gv, gat, &g)) return NULL;
  int64_t geo[7] = {s[0], s[1], p[0], p[1], dl[0], dl[1], g};
  Node *r;
  if (name[4] == '2') {
    r = g_conv2d(x, w, geo);
    if (r && cur_inst && training_mode) add_flops(cur_inst, sat_mul3(2, shape_numel(&r->sh).k, shape_numel(&w->sh).k / (w->sh.d[0].k ? w->sh.d[0].k : 1)));
  } else {
    if (x->sh.rank != 4 || w->sh.rank != 4) {
      diag_error(site->loc, "conv_transpose2d needs NCHW input and [C_in, C_out/groups, kh, kw] weights, got %s and %s", tstr(x), tstr(w));
      return NULL;
    }
    Ast *osat;
    Value *osv = kwarg(a, "output_size", &osat);
    if (osv) { /* output_size = [h, w]: the output padding that gives it, if any */
      int64_t want[2];
      if (!pair_value(osv, osat, want)) return NULL;
      for (int i = 0; i < 2; i++) {
        int64_t n = x->sh.d[2 + i].k, k = w->sh.d[2 + i].k;
        int64_t base;
        if (!transposed_size(n, k, s[i], p[i], dl[i], 0, &base)) {
          diag_error(site->loc, "conv_transpose2d: the output %s does not fit in 64 bits (stride %lld)", i ? "width" : "height",
                     (long long)s[i]);
          return NULL;
        }
        if (want[i] < base || (base >= 0 && want[i] - base >= s[i])) {
          diag_error(osat->loc,
                     "conv_transpose2d cannot make %s %lld from an input of %lld: (N-1)*S + K - 2C = (%lld-1)*%lld + %lld "
                     "- 2*%lld = %lld, and output padding adds at most %lld",
                     i ? "width" : "height", (long long)want[i], (long long)n, (long long)n, (long long)s[i],
                     (long long)(dl[i] * (k - 1) + 1), (long long)p[i], (long long)base, (long long)(s[i] - 1));
          return NULL;
        }
        op[i] = want[i] - base;
      }
    }
    for (int i = 0; i < 2; i++) /* each axis against its own stride and dilation (PyTorch's rule) */
      if (op[i] >= s[i] && op[i] >= dl[i]) {
        diag_error(site->loc, "output_padding must be smaller than the stride or the dilation (%s: %lld, stride %lld, dilation %lld)",
                   i ? "width" : "height", (long long)op[i], (long long)s[i], (long long)dl[i]);
        return NULL;
      }
    if (s[0] < 1 || s[1] < 1 || p[0] < 0 || p[1] < 0 || dl[0] < 1 || dl[1] < 1 || op[0] < 0 || op[1] < 0) {
      diag_error(site->loc, "conv_transpose2d: stride and dilation must be >= 1, padding and output_padding >= 0");
      return NULL;
    }
    int64_t oh, ow;
    bool fits_h = transposed_size(x->sh.d[2].k, w->sh.d[2].k, s[0], p[0], dl[0], op[0], &oh);
    if (!fits_h || !transposed_size(x->sh.d[3].k, w->sh.d[3].k, s[1], p[1], dl[1], op[1], &ow)) {
      diag_error(site->loc, "conv_transpose2d: the output %s (N-1)*S + D*(K-1) + OP + 1 - 2C does not fit in 64 bits (stride %lldx%lld)",
                 fits_h ? "width" : "height", (long long)s[0], (long long)s[1]);
      return NULL;
    }
    if (oh < 1 || ow < 1) {
      diag_error(site->loc, "conv_transpose2d: the output size (N-1)*S + K - 2C = %lldx%lld is empty for input %s", (long long)oh,
                 (long long)ow, tstr(x));
      return NULL;
    }
    int64_t cout;
    if (g < 1 || __builtin_mul_overflow(w->sh.d[1].k, g, &cout)) {
      diag_error(gat ? gat->loc : site->loc, "conv_transpose2d: groups must be >= 1 and groups * %lld output channels must fit in 64 bits",
                 (long long)w->sh.d[1].k);
      return NULL;
    }
    Dim d[4] = {x->sh.d[0], {cout, 0}, {oh, 0}, {ow, 0}};
    r = g_conv2d_bwd_data(x, w, geo, shape_of(4, d));
    /* each input element meets every filter tap it feeds */
    if (r && cur_inst && training_mode) add_flops(cur_inst, sat_mul3(2, shape_numel(&x->sh).k, shape_numel(&w->sh).k / (w->sh.d[0].k ? w->sh.d[0].k : 1)));
  }
  return op_result(r, site, a->pos_ast[0], a->pos[0], a->pos_ast[1], a->pos[1]);
}

static Value *b_max_pool2d(const char *name, Args *a) {
  Ast *site = a->site;
  /* max_pool2d(x, kernel, stride=kernel, padding=0); max_unpool2d(v, idx, kernel, stride=, padding=) */
  bool unpool = !strcmp(name, "max_unpool2d");
  Node *x = tensor_arg(a, 0, name), *idx = unpool ? tensor_arg(a, 1, name) : NULL;
  if (!x || (unpool && !idx)) return NULL;
  int ki = unpool ? 2 : 1;
  if (a->npos <= ki) { diag_error(site->loc, "'%s' needs a kernel size", name); return NULL; }
  int64_t k[2], s[2], p[2];
  if (!pair_value(a->pos[ki], a->pos_ast[ki], k)) return NULL;
  if (!pair_arg(a, "stride", -1, s) || !pair_arg(a, "padding", 0, p)) return NULL;
  if (s[0] < 0) { s[0] = k[0]; s[1] = k[1]; }
  int64_t geo[6] = {k[0], k[1], s[0], s[1], p[0], p[1]};
  Node *r;
  if (unpool) {
    if (x->sh.rank != 4) { diag_error(site->loc, "max_unpool2d needs NCHW values, got %s", tstr(x)); return NULL; }
    /* the size the pooling came from: (N - 1)·S + K - 2P */
    int64_t uh, uw;
    if (!transposed_size(x->sh.d[2].k, k[0], s[0], p[0], 1, 0, &uh) || !transposed_size(x->sh.d[3].k, k[1], s[1], p[1], 1, 0, &uw)) {
      diag_error(site->loc, "max_unpool2d: the output size (N-1)*S + K - 2P does not fit in 64 bits");
      return NULL;
    }
    Dim d[4] = {x->sh.d[0], x->sh.d[1], {uh, 0}, {uw, 0}};
    Value *like = kwarg(a, "like", NULL);
    Shape out = like && like->k == V_TENSOR ? like->n->sh : shape_of(4, d);
    r = g_pool_adjoint(OP_UNPOOL, x, idx, geo, out);
  } else {
    r = g_pool(name[0] == 'a' ? OP_AVGPOOL : strcmp(name, "max_pool2d_indices") ? OP_MAXPOOL : OP_POOLIDX, x, geo);
  }
  return op_result(r, site, a->pos_ast[0], a->pos[0], NULL, NULL);
}

static Value *b_size(const char *name, Args *a) {
  Ast *site = a->site;
  Node *x = tensor_arg(a, 0, name);
  int64_t ax = 0;
  if (!x || a->npos < 2 || !as_int(a->pos[1], a->pos_ast[1], &ax)) return NULL;
  if (ax < 0) ax += x->sh.rank;
  if (ax < 0 || ax >= x->sh.rank) { diag_error(a->pos_ast[1]->loc, "axis out of range for %s", tstr(x)); return NULL; }
  Value *v = mk(V_DIM, site->loc);
  v->dim = x->sh.d[ax];
  return v;
}

/* A data source of kind dkind (lower.h: 0 idx/npy, 1 csv, 2 text, 3 graph,
 * 4 mlm) reading path, before the kind's own settings. */
static Value *data_source(Ast *site, const char *path, int dkind) {
  Value *d = mk(V_DATA, site->loc);
  d->s = path;
  d->scale = 1;
  d->dkind = dkind;
  d->c1 = -1;
  d->header = -1;
  return d;
}

static Value *b_idx(const char *name, Args *a) {
  Ast *site = a->site;
  if (a->npos != 1 || !a->pos[0] || a->pos[0]->k != V_STR) {
    diag_error(site->loc, "'%s' takes one file path: %s(\"file\")", name, name);
    return NULL;
  }
  Value *d = data_source(site, a->pos[0]->s, name[0] == 'c');
  if (d->dkind) { /* csv("f.csv", cols = [0, 4], header = 1) */
    Ast *ca;
    Value *cols = kwarg(a, "cols", &ca), *hd = kwarg(a, "header", &ca);
    if (cols) {
      if (cols->k == V_NUM) {
        if (!as_int(cols, ca, &d->c0)) return NULL;
        d->c1 = d->c0 < INT64_MAX ? d->c0 + 1 : d->c0;
      } else if (cols->k == V_LIST && cols->nitems == 2) {
        if (!as_int(cols->items[0], ca, &d->c0) || !as_int(cols->items[1], ca, &d->c1)) return NULL;
      } else {
        diag_error(ca->loc, "cols is a column number or a range [first, end)");
        return NULL;
      }
      if (d->c0 < 0 || d->c1 <= d->c0 || d->c1 > (1 << 24)) {
        diag_error(ca->loc, "cols must name columns 0 to 16777215, first < end (got [%lld, %lld))", (long long)d->c0,
                   (long long)d->c1);
        return NULL;
      }
    }
    int64_t h;
    if (hd) {
      if (!as_int(hd, ca, &h)) return NULL;
      d->header = h != 0;
    }
  }
  Ast *at;
  Value *sc = kwarg(a, "scale", &at);
  if (sc && !as_num(sc, at, &d->scale)) return NULL;
  Value *nz = kwarg(a, "normalize", &at);
  int64_t z;
  if (nz) {
    if (!as_int(nz, at, &z)) return NULL;
    d->normalize = z != 0;
  }
  Value *mk = kwarg(a, "mask", &at); /* a graph's node mask: 0/1, the splits' masks disjoint */
  if (mk) {
    if (!as_int(mk, at, &z)) return NULL;
    d->node_mask = z != 0;
  }
  return d;
}

/* text("corpus.txt", vocab = V, shift = 0, stride = T, words = 0): token
 * ids of a text corpus in windows (runtime/data/text.c); the field's type
 * (i32[T]) is checked by lower_data. */
static Value *b_text(const char *name, Args *a) {
  Ast *site = a->site;
  if (a->npos != 1 || !a->pos[0] || a->pos[0]->k != V_STR) {
    diag_error(site->loc, "'%s' takes one file path and settings: %s(\"corpus.txt\", vocab = 96)", name, name);
    return NULL;
  }
  static const struct { const char *key; int64_t lo, hi; const char *range; } keys[] = {
      {"vocab", 1, INT32_MAX, "a vocabulary cap in [1, 2147483647]"},
      {"shift", 0, INT32_MAX, "a number of tokens in [0, 2147483647]"},
      {"stride", 1, INT32_MAX, "a number of tokens in [1, 2147483647]"},
      {"words", 0, 1, "0 (characters) or 1 (whitespace-separated words)"},
  };
  int64_t v[4] = {0, 0, 0, 0};
  bool ok = true, has_vocab = false;
  for (int k = 0; k < a->nkw; k++) {
    size_t i = 0;
    while (i < 4 && strcmp(keys[i].key, a->kw[k])) i++;
    if (i == 4) {
      diag_error(a->kw_ast[k]->loc, "'%s' has no argument '%s' (it takes vocab, shift, stride, words)", name, a->kw[k]);
      ok = false;
      continue;
    }
    if (!as_int(a->kwv[k], a->kw_ast[k], &v[i])) { ok = false; continue; }
    if (v[i] < keys[i].lo || v[i] > keys[i].hi) {
      diag_error(a->kw_ast[k]->loc, "'%s' of '%s' must be %s, not %lld", keys[i].key, name, keys[i].range, (long long)v[i]);
      ok = false;
    }
    has_vocab |= i == 0;
  }
  if (!ok) return NULL;
  if (!has_vocab) {
    diag_error(site->loc, "'%s' needs the vocabulary cap, known when compiling: %s(\"%s\", vocab = 96)", name, name, a->pos[0]->s);
    return NULL;
  }
  Value *d = data_source(site, a->pos[0]->s, 2);
  d->vocab = v[0];
  d->shift = v[1];
  d->stride = v[2];
  d->words = v[3] != 0;
  return d;
}

/* graph("edges.csv", norm = "none" | "gcn"): the adjacency A of an
 * undirected graph from its edge list (runtime/data/graph.c), or the GCN's
 * D^-1/2 (A + I) D^-1/2; one graph = one sample.  The field's type,
 * f32[N, N] (dense) or csr[N, N] (sparse), gives the node count and the
 * form (checked by lower_data). */
static Value *b_graph(const char *name, Args *a) {
  Ast *site = a->site;
  if (a->npos != 1 || !a->pos[0] || a->pos[0]->k != V_STR) {
    diag_error(site->loc, "'%s' takes one edge-list file: %s(\"edges.csv\")", name, name);
    return NULL;
  }
  int norm = 0;
  for (int k = 0; k < a->nkw; k++) {
    Value *v = a->kwv[k];
    if (strcmp(a->kw[k], "norm")) {
      diag_error(a->kw_ast[k]->loc, "'%s' has no argument '%s' (it takes norm = \"none\" or \"gcn\")", name, a->kw[k]);
      return NULL;
    }
    if (!v || v->k != V_STR || (strcmp(v->s, "none") && strcmp(v->s, "gcn"))) {
      diag_error(a->kw_ast[k]->loc, "norm of '%s' is \"none\" (A) or \"gcn\" (D^-1/2 (A + I) D^-1/2)", name);
      return NULL;
    }
    norm = !strcmp(v->s, "gcn");
  }
  Value *d = data_source(site, a->pos[0]->s, 3);
  d->norm = norm;
  return d;
}

/* mlm("docs.txt", vocab = V, seq = T, part = "ids", mask = 0.15, pairs = 1,
 * copies = 1, words = 0): one part of BERT's pretraining samples
 * (runtime/data/mlm.c); the part names follow NnrtMlmPart's order. */
static const char *const mlm_parts[] = {"ids", "segments", "keep", "target", "weight", "next"};

static Value *b_mlm(const char *name, Args *a) {
  Ast *site = a->site;
  if (a->npos != 1 || !a->pos[0] || a->pos[0]->k != V_STR) {
    diag_error(site->loc, "'mlm' takes one file path and settings: mlm(\"docs.txt\", vocab = 96, seq = 64, part = \"ids\")");
    return NULL;
  }
  static const struct { const char *key; int64_t lo, hi; const char *range; } keys[] = {
      {"vocab", 6, INT32_MAX, "a vocabulary cap in [6, 2147483647] (5 special tokens and the text's)"},
      {"seq", 3, 65536, "a number of tokens in [3, 65536]"},
      {"pairs", 0, 1, "0 ([CLS] a [SEP]) or 1 ([CLS] a [SEP] b [SEP])"},
      {"copies", 1, 1000, "a number of passes in [1, 1000]"},
      {"words", 0, 1, "0 (characters) or 1 (whitespace-separated words)"},
  };
  int64_t v[5] = {0, 0, 1, 1, 0};
  bool ok = true, has[5] = {false}, has_part = false;
  Value *d = data_source(site, a->pos[0]->s, 4);
  d->mask = 0.15;
  for (int k = 0; k < a->nkw; k++) {
    Ast *at = a->kw_ast[k];
    if (!strcmp(a->kw[k], "part")) {
      int p = 0;
      while (p < 6 && !(a->kwv[k]->k == V_STR && !strcmp(a->kwv[k]->s, mlm_parts[p]))) p++;
      if (p == 6) {
        diag_error(at->loc, "'part' of 'mlm' is one of \"ids\", \"segments\", \"keep\", \"target\", \"weight\", \"next\"");
        ok = false;
      }
      d->part = p, has_part = true;
      continue;
    }
    if (!strcmp(a->kw[k], "mask")) {
      if (!as_num(a->kwv[k], at, &d->mask)) { ok = false; continue; }
      if (!(d->mask >= 0 && d->mask <= 1)) {
        diag_error(at->loc, "'mask' of 'mlm' is the fraction of tokens chosen, in [0, 1], not %g", d->mask);
        ok = false;
      }
      continue;
    }
    size_t i = 0;
    while (i < 5 && strcmp(keys[i].key, a->kw[k])) i++;
    if (i == 5) {
      diag_error(at->loc, "'mlm' has no argument '%s' (it takes vocab, seq, part, mask, pairs, copies, words)", a->kw[k]);
      ok = false;
      continue;
    }
    if (!as_int(a->kwv[k], at, &v[i])) { ok = false; continue; }
    if (v[i] < keys[i].lo || v[i] > keys[i].hi) {
      diag_error(at->loc, "'%s' of 'mlm' must be %s, not %lld", keys[i].key, keys[i].range, (long long)v[i]);
      ok = false;
    }
    has[i] = true;
  }
  if (!ok) return NULL;
  if (!has[0] || !has[1] || !has_part) {
    diag_error(site->loc, "'mlm' needs %s, known when compiling: mlm(\"%s\", vocab = 96, seq = 64, part = \"ids\")",
               !has[0] ? "the vocabulary cap 'vocab'" : !has[1] ? "the sample length 'seq'" : "the 'part' it gives",
               a->pos[0]->s);
    return NULL;
  }
  if (v[2] && v[1] < 5) {
    diag_error(site->loc, "'seq' of 'mlm' with pairs = 1 must hold [CLS] a [SEP] b [SEP]: at least 5, not %lld", (long long)v[1]);
    return NULL;
  }
  (void)name;
  d->vocab = v[0];
  d->seq = v[1];
  d->pairs = (int)v[2];
  d->copies = v[3];
  d->words = v[4] != 0;
  return d;
}

/* Coordinate i of every box of x [..., N, 4], as [..., N, 1] (col) or as
 * [..., 1, N] (row). */
static Node *box_coord(Node *x, int i, bool row) {
  int r = x->sh.rank;
  int64_t start[MAX_RANK] = {0};
  start[r - 1] = i;
  Shape s = x->sh;
  s.d[r - 1] = (Dim){1, 0};
  Node *c = g_slice(x, start, s);
  if (!row) return c;
  s.d[r - 1] = s.d[r - 2];
  s.d[r - 2] = (Dim){1, 0};
  return g_reshape(c, s);
}

/* box_iou(a, b): the IoU of every box of a [..., N, 4] with every box of b
 * [..., M, 4] (x1, y1, x2, y2), [..., N, M], as torchvision's box_iou (no
 * +1): written with primitives, so the compiler derives its gradient. */
static Value *b_box_iou(const char *name, Args *a) {
  Node *p = tensor_arg(a, 0, name), *q = tensor_arg(a, 1, name);
  if (!p || !q) return NULL;
  if (a->npos > 2 || a->nkw) { diag_error(a->site->loc, "'box_iou' takes two tensors of boxes and nothing else"); return NULL; }
  bool ok = p->dt == q->dt && (p->dt == DT_F32 || p->dt == DT_F64) && p->sh.rank >= 2 && p->sh.rank == q->sh.rank &&
            p->sh.d[p->sh.rank - 1].k == 4 && !p->sh.d[p->sh.rank - 1].b && q->sh.d[q->sh.rank - 1].k == 4 &&
            !q->sh.d[q->sh.rank - 1].b;
  for (int i = 0; ok && i < p->sh.rank - 2; i++) ok = p->sh.d[i].k == q->sh.d[i].k && p->sh.d[i].b == q->sh.d[i].b;
  if (!ok) {
    diag_error(a->site->loc, "'box_iou' needs boxes f[..., N, 4] and f[..., M, 4] of one float type and the same leading dims, got %s and %s",
               tstr(p), tstr(q));
    return NULL;
  }
  Node *A[4], *B[4];
  for (int i = 0; i < 4; i++) A[i] = box_coord(p, i, false), B[i] = box_coord(q, i, true);
  Node *w = g_unary(OP_RELU, g_binary(OP_SUB, g_binary(OP_MINIMUM, A[2], B[2]), g_binary(OP_MAXIMUM, A[0], B[0])));
  Node *h = g_unary(OP_RELU, g_binary(OP_SUB, g_binary(OP_MINIMUM, A[3], B[3]), g_binary(OP_MAXIMUM, A[1], B[1])));
  Node *inter = g_binary(OP_MUL, w, h);
  Node *aa = g_binary(OP_MUL, g_binary(OP_SUB, A[2], A[0]), g_binary(OP_SUB, A[3], A[1]));
  Node *ab = g_binary(OP_MUL, g_binary(OP_SUB, B[2], B[0]), g_binary(OP_SUB, B[3], B[1]));
  Node *iou = g_binary(OP_DIV, inter, g_binary(OP_SUB, g_binary(OP_ADD, aa, ab), inter));
  return op_result(iou, a->site, a->pos_ast[0], a->pos[0], a->pos_ast[1], a->pos[1]);
}

/* The builtins that are neither element-wise primitives nor ops of kind GEN
 * (those come from ops.h): one handler each, in one table that both the
 * dispatch and is_builtin read, so the two cannot drift apart. */
typedef Value *(*BuiltinFn)(const char *name, Args *a);
static const struct Builtin { const char *name; BuiltinFn fn; } builtins[] = {
    {"softmax", b_softmax},
    {"log_softmax", b_softmax},
    {"sum", b_sum},
    {"mean", b_mean},
    {"max", b_max},
    {"matmul", b_matmul},
    {"where", b_where},
    {"reshape", b_reshape},
    {"transpose", b_transpose},
    {"concat", b_concat},
    {"stack", b_stack},
    {"box_iou", b_box_iou},
    {"onehot", b_onehot},
    {"rand_uniform", b_rand_uniform},
    {"rand_normal", b_rand_uniform},
    {"rand_int", b_rand_int},
    {"arange", b_arange},
    {"cast", b_cast},
    {"zeros", b_full},
    {"ones", b_full},
    {"full", b_full},
    {"conv2d", b_conv2d},
    {"conv_transpose2d", b_conv2d},
    {"max_pool2d", b_max_pool2d},
    {"avg_pool2d", b_max_pool2d},
    {"max_pool2d_indices", b_max_pool2d},
    {"max_unpool2d", b_max_pool2d},
    {"size", b_size},
    {"idx", b_idx},
    {"npy", b_idx},
    {"csv", b_idx},
    {"text", b_text},
    {"graph", b_graph},
    {"mlm", b_mlm},
};

static const struct Builtin *find_builtin(const char *name) {
  for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
    if (!strcmp(builtins[i].name, name)) return &builtins[i];
  return NULL;
}

bool is_builtin(const char *name) {
  return find_builtin(name) || ewise_builtin(name) != OP__COUNT || gen_builtin(name) != OP__COUNT;
}

Value *builtin(const char *name, Args *a) {
  graph_set_loc(a->site->loc);
  Op eop = ewise_builtin(name);
  if (eop != OP__COUNT) return ewise_number(a, eop, name);
  Op gop = gen_builtin(name);
  if (gop != OP__COUNT) return gen_call(a, gop, name);
  const struct Builtin *b = find_builtin(name);
  if (!b) nnc_unreachable("builtin '%s' has no implementation", name);
  return b->fn(name, a);
}


