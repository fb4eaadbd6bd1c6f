/*
 * lower.c — from the checked AST to slots and kernels: name resolution in
 * scopes, model instantiation (parameters become slots), function inlining,
 * static shape checking through the g_* builders, and the train block's
 * loss, metric and gradients.
 *
 * Every function call is inlined: a `fn` is a template over shapes, and the
 * dimension names in its signature (B, in, out) are bound by unifying the
 * declared types with the actual arguments.  Values that are not tensors
 * (integers, dims, strings, lists, model instances, data sources) are
 * compile-time values and never reach the graph.
 *
 * Errors are reported where the user wrote the culprit, with both shapes;
 * evaluation then continues with a NULL value ("poison") that silences
 * follow-on errors from the same expression.
 */
#include "nnc.h"
#include "../runtime/include/nnrt.h"
#include <math.h>
#include <string.h>

typedef struct Inst Inst;
typedef struct Env Env;

typedef enum { V_TENSOR, V_NUM, V_DIM, V_STR, V_LIST, V_INST, V_DATA, V_FN } VKind;

typedef struct Value {
  VKind k;
  Node *n;            /* V_TENSOR */
  double num;         /* V_NUM (also set for an integer) */
  int64_t i;          /* V_NUM with is_int: the exact value */
  bool is_int;
  Dim dim;            /* V_DIM */
  const char *s;      /* V_STR; V_DATA: path */
  struct Value **items; int nitems, capitems; /* V_LIST */
  Inst *inst;         /* V_INST; V_FN: owner (or NULL) */
  Ast *fn;            /* V_FN */
  double scale;       /* V_DATA */
  int dkind;          /* V_DATA: 0 idx/npy, 1 csv */
  int64_t c0, c1;     /* V_DATA csv columns [c0, c1) */
  int header;         /* V_DATA csv header: -1 detect */
  bool normalize;     /* V_DATA: normalize = 1 */
  Loc loc;            /* where the value was made (for notes) */
} Value;

typedef struct Binding { const char *name; Value *v; struct Binding *next; } Binding;
struct Env { Binding *b; Env *parent; Inst *self; };

struct Inst {
  Ast *model;
  const char *prefix; /* "" for the trained model, "l1." for its layer l1 */
  Env *ctor;          /* constructor arguments */
  Binding *members;   /* params, states, layers */
  const char *out_shape;
  int64_t params, flops;
  int info_row;
  Inst *parent;       /* the model this one is a layer of */
};

/* Forward FLOPs per sample, charged to the running layer and its parents
 * (counted while lowering the training program only: once). */
static void add_flops(Inst *in, int64_t f) {
  for (; in; in = in->parent)
    if (__builtin_add_overflow(in->flops, f, &in->flops)) in->flops = INT64_MAX;
}

/* a·b·c for FLOP counts: saturates rather than wraps (shapes are checked,
 * but a product of three dimensions may still pass 2^63) */
static int64_t sat_mul3(int64_t a, int64_t b, int64_t c) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || __builtin_mul_overflow(r, c, &r)) return INT64_MAX;
  return r;
}

static Module *mod;
static Value poison; /* bound to a name whose value failed: silences follow-on errors */
static Ast *last_return;            /* the expression of the last `return` executed */
static bool training_mode;          /* which program is being lowered: train or eval kernel */
static Value *show_value;           /* `show = ...;` of the train block (inference mode) */
static Ast *show_at;
typedef struct StateUpd { int slot; Node *node; const char *name; } StateUpd;
static StateUpd *upd; static int nupd, capupd; /* state assignments made in training mode */
static Program *prog;
static int depth;
static Inst *cur_inst;              /* the instance whose fn is running (FLOP accounting) */
static Node *clf_pred, *clf_target; /* the classifier loss seen at train level */
static const char *clf_kind;

/* What is being expanded right now, outermost first: constants being
 * evaluated, functions being inlined, models being instantiated.  A
 * declaration met again inside its own expansion is a cycle, reported with
 * the path ("a -> b -> a").  After one, `stuck` makes every call and
 * instantiation give up at once: expanding both operands of `f(x) + f(x)`
 * down a runaway recursion would take 2^depth steps. */
static Ast **expanding; static int nexpanding, capexpanding;
static bool stuck;

/* "a -> b -> a": the path from the latest expansion of decl back to it. */
static const char *cycle_path(Ast *decl) {
  int from = nexpanding;
  for (int i = nexpanding - 1; i >= 0; i--)
    if (expanding[i] == decl) { from = i; break; }
  const char *path = "";
  for (int i = from; i < nexpanding; i++) path = arena_printf("%s%s -> ", path, expanding[i]->name);
  return arena_printf("%s%s", path, decl->name);
}

static bool is_expanding(Ast *decl) {
  for (int i = 0; i < nexpanding; i++)
    if (expanding[i] == decl) return true;
  return false;
}

/* Constants are evaluated once per mode (the program is lowered in
 * training and in inference mode, and `training` may appear in one). */
typedef struct ConstVal { Ast *decl; bool mode; Value *v; struct ConstVal *next; } ConstVal;
static ConstVal *const_vals;

/* ---- values and scopes -------------------------------------------------- */

static Value *mk(VKind k, Loc loc) {
  Value *v = arena_alloc(sizeof *v);
  v->k = k;
  v->loc = loc;
  return v;
}
static Value *mk_tensor(Node *n, Loc loc) {
  if (!n) return NULL;
  Value *v = mk(V_TENSOR, loc);
  v->n = n;
  return v;
}
static Value *mk_num(double x, Loc loc) {
  Value *v = mk(V_NUM, loc);
  v->num = x;
  return v;
}
/* Integers are exact 64-bit values, never rounded through a double. */
static Value *mk_int(int64_t i, Loc loc) {
  Value *v = mk(V_NUM, loc);
  v->i = i;
  v->num = (double)i;
  v->is_int = true;
  return v;
}

static void bind(Env *e, const char *name, Value *v) {
  Binding *b = arena_alloc(sizeof *b);
  b->name = name;
  b->v = v;
  b->next = e->b;
  e->b = b;
}
static Value *lookup_b(Binding *b, const char *name) {
  for (; b; b = b->next)
    if (strcmp(b->name, name) == 0) return b->v;
  return NULL;
}
static Env *env_new(Env *parent, Inst *self) {
  Env *e = arena_alloc(sizeof *e);
  e->parent = parent;
  e->self = self;
  return e;
}

static const char *vkind_name(const Value *v) {
  switch (v->k) {
  case V_TENSOR: return arena_printf("tensor %s%s", dtype_name(v->n->dt), shape_str(&v->n->sh));
  case V_NUM: return v->is_int ? "integer" : "number";
  case V_DIM: return "dimension";
  case V_STR: return "string";
  case V_LIST: return "list";
  case V_INST: return arena_printf("layer of model '%s'", v->inst->model->name);
  case V_DATA: return "data source";
  case V_FN: return "function";
  }
  return "value";
}

static char *tstr(const Node *n) { return arena_printf("%s%s", dtype_name(n->dt), shape_str(&n->sh)); }

/* ---- compile-time numbers and dims -------------------------------------- */

static Value *eval(Env *e, Ast *x);
static Value *lookup(Env *e, const char *name);
static Value *const_value(Ast *c);

static bool as_int(Value *v, Ast *at, int64_t *out) {
  if (!v) return false;
  if (v->k == V_NUM && v->is_int) { *out = v->i; return true; }
  if (v->k == V_NUM && v->num == floor(v->num) && fabs(v->num) < 9e15) { *out = (int64_t)v->num; return true; }
  if (v->k == V_DIM && v->dim.b == 0) { *out = v->dim.k; return true; }
  diag_error(at->loc, "expected an integer here, found %s", vkind_name(v));
  return false;
}

static bool as_num(Value *v, Ast *at, double *out) {
  if (!v) return false;
  if (v->k == V_NUM) { *out = v->num; return true; }
  if (v->k == V_DIM && v->dim.b == 0) { *out = (double)v->dim.k; return true; }
  diag_error(at->loc, "expected a number here, found %s", vkind_name(v));
  return false;
}

static bool as_dim(Value *v, Ast *at, Dim *out) {
  if (!v) return false;
  if (v->k == V_DIM) { *out = v->dim; return true; }
  int64_t k;
  if (v->k == V_NUM && as_int(v, at, &k)) {
    if (k < 0) { diag_error(at->loc, "a dimension cannot be negative (%lld)", (long long)k); return false; }
    *out = (Dim){k, 0};
    return true;
  }
  diag_error(at->loc, "expected a dimension here, found %s", vkind_name(v));
  return false;
}

/* Evaluate a declared type in env e.  Unknown dim names are bound in
 * `dims` (unification) when `actual` is given, else they are an error
 * unless allow_batch names the batch dim. */
static bool eval_type(Env *e, Ast *t, Env *dims, const Shape *actual, Shape *out) {
  Shape s = {0};
  if (t->nargs > MAX_RANK) { diag_error(t->loc, "rank %d exceeds the maximum of %d", t->nargs, MAX_RANK); return false; }
  s.rank = t->nargs;
  bool ok = true;
  for (int i = 0; i < t->nargs; i++) {
    Ast *d = t->args[i];
    if (d->kind == AST_NAME && dims && !lookup_b(dims->b, d->name)) {
      Value *v = NULL;
      for (Env *p = e; p && !v; p = p->parent) v = lookup_b(p->b, d->name);
      if (!v && e->self && e->self->ctor) v = lookup_b(e->self->ctor->b, d->name);
      if (!v) {
        if (!actual || i >= actual->rank) {
          s.d[i] = (Dim){1, 1}; /* a free dim name in an unchecked type is the batch */
          continue;
        }
        Value *dv = mk(V_DIM, d->loc);
        dv->dim = actual->d[i];
        bind(dims, d->name, dv);
        s.d[i] = dv->dim;
        continue;
      }
    }
    if (d->kind == AST_NAME && !dims && !lookup(e, d->name)) {
      diag_error(d->loc, "unknown dimension '%s': this shape must be static (the batch dimension exists only in "
                         "function signatures; data fields get it added)", d->name);
      ok = false;
      continue;
    }
    Env *scope = dims ? dims : e;
    Value *v;
    if (d->kind == AST_NAME && dims && lookup_b(dims->b, d->name)) v = lookup_b(dims->b, d->name);
    else v = eval(scope == dims ? e : scope, d);
    Dim dd;
    if (!as_dim(v, d, &dd)) { ok = false; continue; }
    s.d[i] = dd;
    Shape upto = s;
    upto.rank = i + 1;
    const char *big = shape_check(&upto);
    if (big && ok) {
      diag_error(d->loc, "%s%s is too large: %s", dtype_name((Dtype)t->op), shape_str(&s), big);
      ok = false;
    }
  }
  *out = s;
  return ok;
}

/* ---- reporting tensor-op errors ------------------------------------------ */

static void note_operand(Ast *x, Value *v, const char *which) {
  if (!x || !v || v->k != V_TENSOR) return;
  diag_note(x->loc, "%s has type %s", which, tstr(v->n));
  Node *n = v->n;
  if ((n->op == OP_PARAM || n->op == OP_INPUT || n->op == OP_STATE) && n->loc.file)
    diag_note(n->loc, "'%s' is declared here", n->name);
}

static Value *op_result(Node *n, Ast *at, Ast *xa, Value *va, Ast *xb, Value *vb) {
  if (n) return mk_tensor(n, at->loc);
  diag_error(at->loc, "%s", shape_error());
  note_operand(xa, va, xb ? "left operand" : "operand");
  if (xb) note_operand(xb, vb, "right operand");
  return NULL;
}

/* A number used next to a tensor becomes a scalar constant of its dtype. */
static Node *to_node(Value *v, Dtype like, Ast *at) {
  if (!v) return NULL;
  if (v->k == V_TENSOR) return v->n;
  if ((v->k == V_NUM || v->k == V_DIM) && (like == DT_I32 || like == DT_BOOL)) {
    /* next to an integer tensor the number is converted: 2.5 would quietly
     * become 2, and 1e300 has no i32 at all */
    double x = v->k == V_NUM ? v->num : (double)v->dim.k;
    if ((v->k == V_DIM && v->dim.b) || x != floor(x) || x < INT32_MIN || x > INT32_MAX) {
      diag_error(at->loc, "%s is not an integer that fits in %s, the type of the tensor it is used with",
                 v->k == V_DIM ? dim_str(v->dim) : v->is_int ? arena_printf("%lld", (long long)v->i) : arena_printf("%g", x),
                 dtype_name(like));
      return NULL;
    }
  }
  if (v->k == V_NUM) return g_scalar(v->num, like);
  if (v->k == V_DIM) return g_const((double)v->dim.k, v->dim.b, like, shape_scalar());
  diag_error(at->loc, "expected a tensor here, found %s", vkind_name(v));
  return NULL;
}

static Dtype float_of(Value *a, Value *b) {
  if (a && a->k == V_TENSOR) return a->n->dt;
  if (b && b->k == V_TENSOR) return b->n->dt;
  return DT_F32;
}

/* ---- expressions --------------------------------------------------------- */

static Value *call(Env *e, Ast *x);
static Value *call_fn(Ast *fn, Inst *self, Ast *site, Value **args, int nargs);

static Value *const_value(Ast *c) {
  for (ConstVal *cv = const_vals; cv; cv = cv->next)
    if (cv->decl == c && cv->mode == training_mode) return cv->v;
  if (is_expanding(c)) {
    diag_error(c->loc, "'%s' is defined in terms of itself: %s", c->name, cycle_path(c));
    return &poison;
  }
  PUSH(expanding, nexpanding, capexpanding, c);
  Value *v = eval(env_new(NULL, NULL), c->a);
  nexpanding--;
  ConstVal *cv = arena_alloc(sizeof *cv);
  *cv = (ConstVal){c, training_mode, v ? v : &poison, const_vals};
  const_vals = cv;
  return cv->v;
}

static Value *lookup(Env *e, const char *name) {
  for (Env *p = e; p; p = p->parent) {
    Value *v = lookup_b(p->b, name);
    if (v) return v;
  }
  for (Env *p = e; p; p = p->parent) {
    if (!p->self) continue;
    Value *v = lookup_b(p->self->members, name);
    if (v) return v;
    if (p->self->ctor && (v = lookup_b(p->self->ctor->b, name))) return v;
    Ast *fn = sema_find_member(p->self->model, AST_FN, name);
    if (fn) {
      Value *f = mk(V_FN, fn->loc);
      f->fn = fn;
      f->inst = p->self;
      return f;
    }
    break;
  }
  Ast *top = sema_find(mod, AST_FN, name);
  if (top) {
    Value *f = mk(V_FN, top->loc);
    f->fn = top;
    return f;
  }
  Ast *c = sema_find(mod, AST_CONST, name);
  if (c) return const_value(c);
  /* `training` is 1 while lowering the training program, 0 for inference */
  if (!strcmp(name, "training")) return mk_int(training_mode, (Loc){0});
  return NULL;
}

/* Integer arithmetic when compiling: exact, and an overflow is an error
 * (a wrapped dimension or count would be a silent wrong result). */
static Value *int_binop(Ast *x, int64_t p, int64_t q) {
  int64_t r = 0, q0 = q;
  bool over = false;
  switch (x->op) {
  case '+': over = __builtin_add_overflow(p, q, &r); break;
  case '-': over = __builtin_sub_overflow(p, q, &r); break;
  case '*': over = __builtin_mul_overflow(p, q, &r); break;
  case '/':
    if (q == 0) { diag_error(x->loc, "division by zero"); return NULL; }
    over = p == INT64_MIN && q == -1;
    if (!over) r = p / q;
    break;
  case '^':
    if (q < 0) return mk_num(pow((double)p, (double)q), x->loc);
    if (p == 0 || p == 1) r = q == 0 ? 1 : p;
    else if (p == -1) r = q % 2 ? -1 : 1;
    else
      for (r = 1; q > 0 && !over; q--) over = __builtin_mul_overflow(r, p, &r); /* |p| >= 2: < 64 steps */
    break;
  case '<': r = p < q; break;
  case '>': r = p > q; break;
  case OPC_EQ: r = p == q; break;
  case OPC_NE: r = p != q; break;
  case OPC_LE: r = p <= q; break;
  case OPC_GE: r = p >= q; break;
  case '@': diag_error(x->loc, "'@' needs two tensors, found integer and integer"); return NULL;
  default: nnc_unreachable("binary operator %d", x->op);
  }
  if (over) {
    diag_error(x->loc, "integer overflow: %lld %s %lld does not fit in 64 bits", (long long)p,
               x->op == '^' ? "**" : (char[]){(char)x->op, 0}, (long long)q0);
    return NULL;
  }
  return mk_int(r, x->loc);
}

static Value *binop(Env *e, Ast *x) {
  Value *a = eval(e, x->a), *b = eval(e, x->b);
  if (!a || !b) return NULL;
  bool ta = a->k == V_TENSOR, tb = b->k == V_TENSOR;
  if (!ta && !tb) { /* compile-time arithmetic */
    if (a->k == V_DATA && x->op == '/' && b->k == V_NUM) {
      Value *d = mk(V_DATA, x->loc);
      *d = *a;
      d->scale = a->scale / b->num;
      return d;
    }
    if (a->k == V_DATA && x->op == '*' && b->k == V_NUM) {
      Value *d = mk(V_DATA, x->loc);
      *d = *a;
      d->scale = a->scale * b->num;
      return d;
    }
    if ((a->k == V_DIM || b->k == V_DIM) && (x->op == '*' || x->op == '+')) {
      Dim da, db;
      if (!as_dim(a, x->a, &da) || !as_dim(b, x->b, &db)) return NULL;
      Value *v = mk(V_DIM, x->loc);
      bool over = false;
      if (x->op == '*' && da.b + db.b <= 1) { v->dim.b = da.b + db.b; over = __builtin_mul_overflow(da.k, db.k, &v->dim.k); }
      else if (x->op == '+' && da.b == 0 && db.b == 0) over = __builtin_add_overflow(da.k, db.k, &v->dim.k);
      else { diag_error(x->loc, "this dimension arithmetic is not supported"); return NULL; }
      if (over) {
        diag_error(x->loc, "dimension %s %c %s does not fit in 64 bits", dim_str(da), x->op, dim_str(db));
        return NULL;
      }
      return v;
    }
    bool ints = a->is_int && b->is_int && a->k == V_NUM && b->k == V_NUM;
    if (ints) return int_binop(x, a->i, b->i);
    double p, q, r;
    if (!as_num(a, x->a, &p) || !as_num(b, x->b, &q)) return NULL;
    switch (x->op) {
    case '+': r = p + q; break;
    case '-': r = p - q; break;
    case '*': r = p * q; break;
    case '/': r = p / q; break;
    case '^': r = pow(p, q); break;
    case '<': return mk_int(p < q, x->loc);
    case '>': return mk_int(p > q, x->loc);
    case OPC_EQ: return mk_int(p == q, x->loc);
    case OPC_NE: return mk_int(p != q, x->loc);
    case OPC_LE: return mk_int(p <= q, x->loc);
    case OPC_GE: return mk_int(p >= q, x->loc);
    case '@': diag_error(x->loc, "'@' needs two tensors, found %s and %s", vkind_name(a), vkind_name(b)); return NULL;
    default: nnc_unreachable("binary operator %d", x->op);
    }
    /* a constant that is not finite would poison the program silently */
    if (!isfinite(r) && isfinite(p) && isfinite(q)) {
      diag_error(x->loc, "%g %s %g is not a finite number", p, x->op == '^' ? "**" : (char[]){(char)x->op, 0}, q);
      return NULL;
    }
    return mk_num(r, x->loc);
  }
  Dtype dt = float_of(a, b);
  Node *na = to_node(a, dt, x->a), *nb = to_node(b, dt, x->b);
  if (!na || !nb) return NULL;
  graph_set_loc(x->loc);
  Node *r;
  switch (x->op) {
  case '+': r = g_binary(OP_ADD, na, nb); break;
  case '-': r = g_binary(OP_SUB, na, nb); break;
  case '*': r = g_binary(OP_MUL, na, nb); break;
  case '/': r = g_binary(OP_DIV, na, nb); break;
  case '^': r = g_binary(OP_POW, na, nb); break;
  case '<': r = g_binary(OP_LT, na, nb); break;
  case '>': r = g_binary(OP_GT, na, nb); break;
  case OPC_EQ: r = g_binary(OP_EQ, na, nb); break;
  case OPC_NE: r = g_binary(OP_NE, na, nb); break;
  case OPC_LE: r = g_binary(OP_LE, na, nb); break;
  case OPC_GE: r = g_binary(OP_GE, na, nb); break;
  case '@':
    if (na->sh.rank > 2 && nb->sh.rank == 2 && na->dt == nb->dt) {
      /* [..., K] @ [K, N]: the leading dimensions are rows of one GEMM */
      Shape rows = na->sh, flat = {0};
      rows.rank--;
      flat.rank = 2;
      flat.d[0] = shape_numel(&rows);
      flat.d[1] = na->sh.d[na->sh.rank - 1];
      if (flat.d[0].b <= 1) {
        Node *m = g_matmul(g_reshape(na, flat), nb, 0, 0);
        if (m) {
          Shape out = na->sh;
          out.d[out.rank - 1] = m->sh.d[1];
          r = g_reshape(m, out);
          if (cur_inst && training_mode) add_flops(cur_inst, sat_mul3(2 * flat.d[0].k, flat.d[1].k, nb->sh.d[1].k));
        } else {
          r = NULL;
        }
        break;
      }
    }
    r = g_matmul(na, nb, 0, 0);
    if (r && cur_inst && training_mode && na->sh.rank == 2) {
      int64_t m = na->sh.d[0].b ? 1 : na->sh.d[0].k;
      add_flops(cur_inst, sat_mul3(2 * m, na->sh.d[1].k, nb->sh.d[1].k));
    }
    break;
  default: nnc_unreachable("binary operator %d", x->op);
  }
  return op_result(r, x, x->a, a, x->b, b);
}

static Value *index_expr(Env *e, Ast *x) {
  Value *a = eval(e, x->a);
  if (!a) return NULL;
  if (a->k == V_LIST) {
    int64_t i;
    if (x->nargs != 1 || !as_int(eval(e, x->args[0]), x->args[0], &i)) return NULL;
    if (i < 0) i += a->nitems;
    if (i < 0 || i >= a->nitems) { diag_error(x->args[0]->loc, "index %lld out of range for a list of %d", (long long)i, a->nitems); return NULL; }
    return a->items[i];
  }
  if (a->k != V_TENSOR) { diag_error(x->loc, "cannot index a %s", vkind_name(a)); return NULL; }
  Node *n = a->n;
  if (x->nargs > n->sh.rank) {
    diag_error(x->loc, "%d indices for a tensor of rank %d (%s)", x->nargs, n->sh.rank, tstr(n));
    return NULL;
  }
  int64_t start[MAX_RANK] = {0};
  Shape out = n->sh, squeezed = {0};
  for (int i = 0; i < n->sh.rank; i++) {
    Ast *ix = i < x->nargs ? x->args[i] : NULL;
    Dim d = n->sh.d[i];
    if (!ix || (ix->kind == AST_SLICE && !ix->a && !ix->b)) { squeezed.d[squeezed.rank++] = d; continue; }
    if (d.b) { diag_error(ix->loc, "cannot index the batch dimension"); return NULL; }
    int64_t lo = 0, hi = d.k;
    if (ix->kind == AST_SLICE) {
      if (ix->a && !as_int(eval(e, ix->a), ix->a, &lo)) return NULL;
      if (ix->b && !as_int(eval(e, ix->b), ix->b, &hi)) return NULL;
    } else {
      if (!as_int(eval(e, ix), ix, &lo)) return NULL;
      hi = lo < INT64_MAX ? lo + 1 : lo; /* INT64_MAX is out of range below */
    }
    if (lo < 0) lo += d.k;
    if (hi < 0) hi += d.k;
    if (lo < 0 || hi > d.k || lo >= hi) {
      diag_error(ix->loc, "index range %lld:%lld is out of bounds for dimension %d of size %lld", (long long)lo,
                 (long long)hi, i, (long long)d.k);
      return NULL;
    }
    start[i] = lo;
    out.d[i] = (Dim){hi - lo, 0};
    if (ix->kind == AST_SLICE) squeezed.d[squeezed.rank++] = out.d[i];
  }
  graph_set_loc(x->loc);
  Node *r = g_slice(n, start, out);
  if (r) r = g_reshape(r, squeezed);
  return op_result(r, x, x->a, a, NULL, NULL);
}

/* How deep eval may recurse: an expression is at most NNC_MAX_HEIGHT tall
 * (ast.c), but inlining stacks a function's expressions on its caller's,
 * so the recursion itself is bounded too, on the stack main.c gives the
 * compiler. */
enum { MAX_EVAL_DEPTH = 2 * NNC_MAX_HEIGHT };
static int eval_depth;

static Value *eval_expr(Env *e, Ast *x);

static Value *eval(Env *e, Ast *x) {
  if (!x || stuck) return NULL;
  if (eval_depth >= MAX_EVAL_DEPTH) {
    diag_error(x->loc, "expression nested more than %d deep once functions are inlined", MAX_EVAL_DEPTH);
    stuck = true;
    return NULL;
  }
  eval_depth++;
  Value *v = eval_expr(e, x);
  eval_depth--;
  return v;
}

static Value *eval_expr(Env *e, Ast *x) {
  switch (x->kind) {
  case AST_NUM: return x->is_int ? mk_int(x->ival, x->loc) : mk_num(x->num, x->loc);
  case AST_STR: {
    Value *v = mk(V_STR, x->loc);
    v->s = x->name;
    return v;
  }
  case AST_NAME: {
    Value *v = lookup(e, x->name);
    if (v == &poison) return NULL;
    if (!v) {
      if (sema_find(mod, AST_MODEL, x->name))
        diag_error(x->loc, "model '%s' used as a value; declare it with 'layer NAME = %s(...);'", x->name, x->name);
      else
        diag_error(x->loc, "unknown name '%s'", x->name);
    }
    return v;
  }
  case AST_LIST: {
    Value *v = mk(V_LIST, x->loc);
    for (int i = 0; i < x->nargs; i++) {
      Value *it = eval(e, x->args[i]);
      if (!it) return NULL;
      PUSH(v->items, v->nitems, v->capitems, it);
    }
    return v;
  }
  case AST_UNOP: {
    Value *a = eval(e, x->a);
    if (!a) return NULL;
    if (a->k == V_NUM && a->is_int) {
      if (a->i == INT64_MIN) { diag_error(x->loc, "integer overflow: -(%lld) does not fit in 64 bits", (long long)a->i); return NULL; }
      return mk_int(-a->i, x->loc);
    }
    if (a->k == V_NUM) return mk_num(-a->num, x->loc);
    if (a->k != V_TENSOR) { diag_error(x->loc, "cannot negate a %s", vkind_name(a)); return NULL; }
    graph_set_loc(x->loc);
    return mk_tensor(g_unary(OP_NEG, a->n), x->loc);
  }
  case AST_BINOP: return binop(e, x);
  case AST_CALL: return call(e, x);
  case AST_INDEX: return index_expr(e, x);
  case AST_MEMBER: {
    Value *o = eval(e, x->a);
    if (!o) return NULL;
    if (o->k != V_INST) { diag_error(x->loc, "a %s has no member '%s'", vkind_name(o), x->name); return NULL; }
    Value *v = lookup_b(o->inst->members, x->name);
    if (v) return v;
    Ast *fn = sema_find_member(o->inst->model, AST_FN, x->name);
    if (fn) {
      Value *f = mk(V_FN, x->loc);
      f->fn = fn;
      f->inst = o->inst;
      return f;
    }
    diag_error(x->loc, "model '%s' has no member '%s'", o->inst->model->name, x->name);
    return NULL;
  }
  default:
    diag_error(x->loc, "expected an expression");
    return NULL;
  }
}

/* ---- builtins ------------------------------------------------------------ */

typedef struct Args {
  Ast *site;
  Value *pos[8]; Ast *pos_ast[8]; int npos;
  const char *kw[8]; Value *kwv[8]; Ast *kw_ast[8]; int nkw;
} Args;

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
  if (a->pos[i]->k == V_NUM) return g_scalar(a->pos[i]->num, DT_F32);
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
    if (op_info[op].spec && !strcmp(op_info[op].name, name)) return (Op)op;
  return OP__COUNT;
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
  for (int i = 0; i < sp->nattrs; i++) attr[i] = sp->attrs[i].dflt;
  if (a->npos > ar + sp->nattrs) {
    diag_error(a->pos_ast[ar + sp->nattrs]->loc, "'%s' takes %d tensor%s and %d attribute%s", name, ar, ar == 1 ? "" : "s",
               sp->nattrs, sp->nattrs == 1 ? "" : "s");
    return NULL;
  }
  for (int i = ar; i < a->npos; i++) ok = as_int(a->pos[i], a->pos_ast[i], &attr[i - ar]) && ok;
  for (int k = 0; k < a->nkw; k++) {
    int i = 0;
    while (i < sp->nattrs && strcmp(sp->attrs[i].name, a->kw[k])) i++;
    if (i == sp->nattrs) {
      const char *names = "";
      for (int j = 0; j < sp->nattrs; j++) names = arena_printf("%s%s%s", names, j ? ", " : "", sp->attrs[j].name);
      diag_error(a->kw_ast[k]->loc, "'%s' has no argument '%s' (it takes %s)", name, a->kw[k], names);
      ok = false;
      continue;
    }
    ok = as_int(a->kwv[k], a->kw_ast[k], &attr[i]) && ok;
  }
  if (!ok) return NULL;
  return op_result(g_gen(op, in, attr), a->site, a->pos_ast[0], a->pos[0], ar > 1 ? a->pos_ast[1] : NULL,
                   ar > 1 ? a->pos[1] : NULL);
}

static bool is_builtin(const char *name) {
  static const char *names[] = {"softmax", "log_softmax", "sum", "mean", "max", "reshape", "transpose", "concat",
                                "onehot", "argmax", "size", "where", "idx", "npy", "csv", "matmul", "rand_uniform",
                                "rand_normal", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
                                "max_pool2d_indices", "max_unpool2d", "arange", NULL};
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], name) == 0) return true;
  return ewise_builtin(name) != OP__COUNT || gen_builtin(name) != OP__COUNT;
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

static Value *builtin(const char *name, Args *a) {
  Ast *site = a->site;
  graph_set_loc(site->loc);
  Op eop = ewise_builtin(name);
  if (eop != OP__COUNT) return ewise_call(a, eop, name);
  Op gop = gen_builtin(name);
  if (gop != OP__COUNT) return gen_call(a, gop, name);
  if (!strcmp(name, "softmax") || !strcmp(name, "log_softmax")) {
    Node *x = tensor_arg(a, 0, name);
    if (!x) return NULL;
    uint64_t mask;
    bool given;
    if (!axis_arg(a, name, x->sh.rank, &mask, &given)) return NULL;
    if (given && mask != 1ull << (x->sh.rank - 1)) {
      diag_error(site->loc, "'%s' is supported over the last axis only", name);
      return NULL;
    }
    return op_result(g_row(name[0] == 's' ? OP_SOFTMAX : OP_LOG_SOFTMAX, x), site, a->pos_ast[0], a->pos[0], NULL, NULL);
  }
  if (!strcmp(name, "sum")) return reduce_builtin(a, OP_SUM, false, name);
  if (!strcmp(name, "mean")) return reduce_builtin(a, OP_SUM, true, name);
  if (!strcmp(name, "max")) return reduce_builtin(a, OP_MAX, false, name);
  if (!strcmp(name, "matmul")) {
    Node *x = tensor_arg(a, 0, name), *y = tensor_arg(a, 1, name);
    return x && y ? op_result(g_matmul(x, y, 0, 0), site, a->pos_ast[0], a->pos[0], a->pos_ast[1], a->pos[1]) : NULL;
  }
  if (!strcmp(name, "where")) {
    Node *c = tensor_arg(a, 0, name), *x = tensor_arg(a, 1, name), *y = tensor_arg(a, 2, name);
    if (!c || !x || !y) return NULL;
    if (x->op == OP_CONST && x->sh.rank == 0) x = g_cast(x, y->dt);
    if (y->op == OP_CONST && y->sh.rank == 0) y = g_cast(y, x->dt);
    return op_result(g_select(c, x, y), site, a->pos_ast[1], a->pos[1], a->pos_ast[2], a->pos[2]);
  }
  if (!strcmp(name, "reshape")) {
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
  if (!strcmp(name, "transpose")) {
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
  if (!strcmp(name, "concat")) {
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
    Node *r = to_node(l->items[0], DT_F32, a->pos_ast[0]);
    for (int i = 1; i < l->nitems && r; i++)
      r = g_concat(r, to_node(l->items[i], r->dt, a->pos_ast[0]), (int)axis);
    return op_result(r, site, a->pos_ast[0], NULL, NULL, NULL);
  }
  if (!strcmp(name, "onehot")) {
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
    Dtype dt = dv && dv->k == V_TENSOR ? dv->n->dt : DT_F32;
    if (y->op == OP_INPUT) prog->slots[y->slot]->classes = n;
    return op_result(g_onehot(y, n, dt), site, a->pos_ast[0], a->pos[0], NULL, NULL);
  }
  if (!strcmp(name, "argmax")) {
    Node *x = tensor_arg(a, 0, name);
    return x ? op_result(g_argmax(x), site, a->pos_ast[0], a->pos[0], NULL, NULL) : NULL;
  }
  if (!strcmp(name, "rand_uniform") || !strcmp(name, "rand_normal")) {
    /* rand_uniform(x): fresh U[0,1) numbers shaped like x; rand_normal(x): N(0,1) */
    Node *x = tensor_arg(a, 0, name);
    if (!x) return NULL;
    if (x->dt != DT_F32 && x->dt != DT_F64) {
      diag_error(site->loc, "'%s' needs a float tensor to take its shape from, got %s", name, tstr(x));
      return NULL;
    }
    return mk_tensor(g_rand(name[5] == 'n', x->dt, x->sh), site->loc);
  }
  if (!strcmp(name, "arange")) {
    int64_t n;
    if (a->npos != 1 || !as_int(a->pos[0], a->pos_ast[0], &n)) {
      if (a->npos != 1) diag_error(site->loc, "'arange' takes a count: arange(n)");
      return NULL;
    }
    if (n < 1 || n > (1 << 24)) { diag_error(a->pos_ast[0]->loc, "arange(%lld): the count must be in 1..16777216", (long long)n); return NULL; }
    Value *like = kwarg(a, "like", NULL);
    return mk_tensor(g_iota(n, like && like->k == V_TENSOR ? like->n->dt : DT_F32), site->loc);
  }
  if (!strcmp(name, "conv2d") || !strcmp(name, "conv_transpose2d")) {
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
      if (op[0] >= s[0] && op[0] >= dl[0]) { diag_error(site->loc, "output_padding must be smaller than the stride or the dilation"); return NULL; }
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
  if (!strcmp(name, "max_pool2d") || !strcmp(name, "avg_pool2d") || !strcmp(name, "max_pool2d_indices") ||
      !strcmp(name, "max_unpool2d")) {
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
  if (!strcmp(name, "size")) {
    Node *x = tensor_arg(a, 0, name);
    int64_t ax = 0;
    if (!x || a->npos < 2 || !as_int(a->pos[1], a->pos_ast[1], &ax)) return NULL;
    if (ax < 0) ax += x->sh.rank;
    if (ax < 0 || ax >= x->sh.rank) { diag_error(a->pos_ast[1]->loc, "axis out of range for %s", tstr(x)); return NULL; }
    Value *v = mk(V_DIM, site->loc);
    v->dim = x->sh.d[ax];
    return v;
  }
  if (!strcmp(name, "idx") || !strcmp(name, "npy") || !strcmp(name, "csv")) {
    if (a->npos != 1 || !a->pos[0] || a->pos[0]->k != V_STR) {
      diag_error(site->loc, "'%s' takes one file path: %s(\"file\")", name, name);
      return NULL;
    }
    Value *d = mk(V_DATA, site->loc);
    d->s = a->pos[0]->s;
    d->scale = 1;
    d->dkind = name[0] == 'c';
    d->c0 = 0;
    d->c1 = -1;
    d->header = -1;
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
    return d;
  }
  nnc_unreachable("builtin '%s' has no implementation", name);
}

/* ---- calls --------------------------------------------------------------- */

static Inst *instantiate(Ast *model, Ast *site, Value **args, int nargs, const char *prefix);
static bool hyper_eval(Ast *c, HyperCall *h);
static bool known_optimizer(const char *name);

static int edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 40 || lb > 40) return 99;
  int d[41][41];
  for (int i = 0; i <= la; i++) d[i][0] = i;
  for (int j = 0; j <= lb; j++) d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
      d[i][j] = c;
    }
  return d[la][lb];
}

/* The closest known function name within two edits, for "did you mean". */
static const char *nearest_function(const char *name) {
  static const char *builtins[] = {"exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "softplus", "gelu", "erf",
                                   "sign", "leaky_relu", "elu", "softmax", "log_softmax", "sum", "mean", "max",
                                   "reshape", "transpose", "concat", "onehot", "argmax", "size", "maximum", "where",
                                   "idx", "npy", "csv", "matmul", "rand_uniform", "rand_normal", "cos", "sin",
                                   "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "max_pool2d_indices",
                                   "max_unpool2d", "arange", NULL};
  const char *best = NULL;
  int bd = 3;
  for (int i = 0; builtins[i]; i++) {
    int d = edit_distance(name, builtins[i]);
    if (d < bd) { bd = d; best = builtins[i]; }
  }
  for (int i = 0; i < mod->nitems; i++) {
    Ast *it = mod->items[i];
    if (it->kind != AST_FN) continue;
    int d = edit_distance(name, it->name);
    if (d < bd) { bd = d; best = it->name; }
  }
  return bd <= 2 && (int)strlen(name) > bd ? best : NULL;
}

static Value *call(Env *e, Ast *x) {
  Args a = {.site = x};
  for (int i = 0; i < x->nargs; i++) {
    Ast *arg = x->args[i];
    if (arg->kind == AST_KWARG) {
      if (a.nkw == 8) { diag_error(arg->loc, "too many keyword arguments"); return NULL; }
      a.kw[a.nkw] = arg->name;
      a.kw_ast[a.nkw] = arg->a;
      a.kwv[a.nkw++] = eval(e, arg->a);
    } else {
      if (a.npos == 8) { diag_error(arg->loc, "too many arguments"); return NULL; }
      a.pos_ast[a.npos] = arg;
      a.pos[a.npos++] = eval(e, arg);
    }
  }
  Ast *callee = x->a;
  Value *f = NULL;
  if (callee->kind == AST_NAME) {
    f = NULL;
    for (Env *p = e; p && !f; p = p->parent) f = lookup_b(p->b, callee->name);
    if (!f) {
      Value *m = lookup(e, callee->name);
      if (m) f = m;
    }
    if (!f && is_builtin(callee->name)) {
      for (int i = 0; i < a.npos; i++)
        if (!a.pos[i]) return NULL;
      return builtin(callee->name, &a);
    }
    if (!f) {
      Ast *model = sema_find(mod, AST_MODEL, callee->name);
      if (model) {
        diag_error(x->loc, "model '%s' can only be instantiated in a 'layer' declaration", callee->name);
        return NULL;
      }
      const char *near = nearest_function(callee->name);
      if (near) diag_error(callee->loc, "unknown function '%s'; did you mean '%s'?", callee->name, near);
      else diag_error(callee->loc, "unknown function '%s'", callee->name);
      return NULL;
    }
  } else {
    f = eval(e, callee);
    if (!f) return NULL;
  }
  if (f == &poison) return NULL;
  for (int i = 0; i < a.npos; i++)
    if (!a.pos[i]) return NULL;
  if (a.nkw) {
    diag_error(a.kw_ast[0]->loc, "keyword arguments are only accepted by built-in functions");
    return NULL;
  }
  if (f->k == V_INST) { /* calling a layer calls its forward */
    Ast *fn = sema_find_member(f->inst->model, AST_FN, "forward");
    if (!fn) { diag_error(x->loc, "model '%s' has no 'forward' function", f->inst->model->name); return NULL; }
    return call_fn(fn, f->inst, x, a.pos, a.npos);
  }
  if (f->k != V_FN) { diag_error(x->loc, "a %s is not callable", vkind_name(f)); return NULL; }
  Value *r = call_fn(f->fn, f->inst, x, a.pos, a.npos);
  /* remember the classifier loss written at train level, for the metric */
  if (r && depth == 0 && a.npos >= 2 && a.pos[0]->k == V_TENSOR && a.pos[1]->k == V_TENSOR) {
    const char *nm = f->fn->name;
    if (!strncmp(nm, "cross_entropy", 13) || !strcmp(nm, "bce") || !strcmp(nm, "binary_cross_entropy")) {
      clf_kind = strncmp(nm, "cross_entropy", 13) ? nm : "cross_entropy";
      clf_pred = a.pos[0]->n;
      clf_target = a.pos[1]->n;
    }
  }
  return r;
}

/* `name = value` where name is a state member of the running model (and not
 * a local): the new value of that state after a training step. */
static bool state_assign(Env *fenv, Inst *self, Ast *s, Value *v) {
  if (!self || lookup_b(fenv->b, s->name)) return false;
  Value *m = lookup_b(self->members, s->name);
  if (!m || m->k != V_TENSOR || m->n->op != OP_STATE) {
    if (m) diag_error(s->loc, "'%s' is a %s of model '%s'; only 'state' members can be assigned", s->name,
                      m->k == V_TENSOR && m->n->op == OP_PARAM ? "parameter" : "member", self->model->name);
    return m != NULL;
  }
  if (!v) return true;
  if (!training_mode) {
    diag_error(s->loc, "state '%s' can only be updated in training mode (inside 'if training { ... }')", s->name);
    return true;
  }
  Node *st = m->n, *n = v->k == V_TENSOR ? v->n : to_node(v, st->dt, s->a);
  if (n && n->dt == st->dt && !shape_eq(&n->sh, &st->sh) && shape_numel(&n->sh).k == shape_numel(&st->sh).k &&
      shape_numel(&n->sh).b == 0)
    n = g_reshape(n, st->sh); /* e.g. a [1, C] mean into a [C] running mean */
  if (n && n->sh.rank == 0 && st->sh.rank) n = g_broadcast(n, st->sh);
  if (!n || n->dt != st->dt || !shape_eq(&n->sh, &st->sh)) {
    if (n) diag_error(s->loc, "state '%s' is %s%s but is assigned %s", s->name, dtype_name(st->dt), shape_str(&st->sh), tstr(n));
    return true;
  }
  for (int i = 0; i < nupd; i++)
    if (upd[i].slot == st->slot) { upd[i].node = n; return true; }
  if (nupd == capupd) {
    capupd = capupd ? capupd * 2 : 8;
    StateUpd *nu = arena_alloc(sizeof *nu * capupd);
    if (nupd) memcpy(nu, upd, sizeof *nu * nupd);
    upd = nu;
  }
  upd[nupd++] = (StateUpd){st->slot, n, st->name};
  return true;
}

/* Run a function body (or a branch of it); stops at `return`. */
static void exec_stmts(Env *fenv, Inst *self, Ast **list, int n, Value **ret, bool *returned, bool *bad) {
  for (int i = 0; i < n && !*returned; i++) {
    Ast *s = list[i];
    switch (s->kind) {
    case AST_ASSIGN: {
      Value *v = eval(fenv, s->a);
      if (!v) *bad = true;
      if (state_assign(fenv, self, s, v)) break;
      bind(fenv, s->name, v ? v : &poison);
      break;
    }
    case AST_RETURN:
      *ret = eval(fenv, s->a);
      last_return = s->a; /* after eval: nested calls set it too */
      *returned = true;
      break;
    case AST_EXPR_STMT: eval(fenv, s->a); break;
    case AST_IF: {
      Value *c = eval(fenv, s->a);
      double x;
      if (!c) { *bad = true; break; }
      if (c->k == V_TENSOR) {
        diag_error(s->a->loc, "'if' needs a condition known when compiling (like 'training'); for tensors use where(c, a, b)");
        *bad = true;
        break;
      }
      if (!as_num(c, s->a, &x)) { *bad = true; break; }
      if (x != 0) exec_stmts(fenv, self, s->list, s->nlist, ret, returned, bad);
      else exec_stmts(fenv, self, s->args, s->nargs, ret, returned, bad);
      break;
    }
    default: diag_error(s->loc, "this statement is not supported inside a function yet"); *bad = true; break;
    }
  }
}

static bool check_arg_type(Env *fenv, Env *dims, Ast *param, Value *v, Ast *site, Ast *fn) {
  if (!param->a) return true;
  Ast *t = param->a;
  if (t->op2) { /* int / float scalar argument */
    if (v->k == V_NUM || v->k == V_DIM) return true;
    diag_error(site->loc, "argument '%s' of '%s' must be a number, found %s", param->name, fn->name, vkind_name(v));
    return false;
  }
  if (v->k != V_TENSOR) {
    diag_error(site->loc, "argument '%s' of '%s' must be a tensor, found %s", param->name, fn->name, vkind_name(v));
    return false;
  }
  Shape want;
  if (!eval_type(fenv, t, dims, &v->n->sh, &want)) return false;
  if ((Dtype)t->op != v->n->dt || !shape_eq(&want, &v->n->sh)) {
    diag_error(site->loc, "argument '%s' of '%s' expects %s%s, got %s", param->name, fn->name, dtype_name((Dtype)t->op),
               shape_str(&want), tstr(v->n));
    diag_note(param->loc, "'%s' is declared here", param->name);
    return false;
  }
  return true;
}

static Value *call_fn(Ast *fn, Inst *self, Ast *site, Value **args, int nargs) {
  if (nargs != fn->nargs) {
    diag_error(site->loc, "'%s' takes %d argument%s, %d given", fn->name, fn->nargs, fn->nargs == 1 ? "" : "s", nargs);
    diag_note(fn->loc, "'%s' is defined here", fn->name);
    return NULL;
  }
  if (stuck) return NULL;
  if (depth >= 64) {
    /* every call is inlined: a function that calls itself never ends */
    if (is_expanding(fn))
      diag_error(site->loc, "'%s' is defined in terms of itself: %s (calls are inlined, so recursion is not supported)",
                 fn->name, cycle_path(fn));
    else
      diag_error(site->loc, "calls nested more than 64 deep (inlining '%s')", fn->name);
    stuck = true;
    return NULL;
  }
  Env *fenv = env_new(NULL, self);
  Env *dims = env_new(NULL, NULL);
  for (int i = 0; i < nargs; i++) {
    Ast *at = site->kind == AST_CALL && i < site->nargs ? site->args[i] : site;
    if (!check_arg_type(fenv, dims, fn->args[i], args[i], at, fn)) return NULL;
  }
  for (Binding *b = dims->b; b; b = b->next) bind(fenv, b->name, b->v);
  for (int i = 0; i < nargs; i++) bind(fenv, fn->args[i]->name, args[i]);
  Inst *saved = cur_inst;
  if (self) cur_inst = self;
  depth++;
  PUSH(expanding, nexpanding, capexpanding, fn);
  Value *ret = NULL;
  bool returned = false, bad = false;
  exec_stmts(fenv, self, fn->list, fn->nlist, &ret, &returned, &bad);
  nexpanding--;
  depth--;
  cur_inst = saved;
  if (stuck) return NULL;
  if (!returned) {
    diag_error(fn->end.file ? fn->end : fn->loc, "function '%s' ends without 'return'", fn->name);
    return NULL;
  }
  if (!ret || bad) return NULL;
  if (fn->a && ret->k == V_TENSOR) {
    Shape want;
    if (eval_type(fenv, fn->a, dims, &ret->n->sh, &want) &&
        ((Dtype)fn->a->op != ret->n->dt || !shape_eq(&want, &ret->n->sh))) {
      diag_error(last_return ? last_return->loc : ret->loc, "'%s' returns %s but is declared to return %s%s", fn->name, tstr(ret->n),
                 dtype_name((Dtype)fn->a->op), shape_str(&want));
      diag_note(fn->a->loc, "return type declared here");
      return NULL;
    }
  }
  if (self && strcmp(fn->name, "forward") == 0 && ret->k == V_TENSOR && !self->out_shape)
    self->out_shape = shape_str(&ret->n->sh);
  return ret;
}

/* ---- models and parameters ----------------------------------------------- */

static SlotDesc *new_slot(int role, const char *name, Dtype dt, Shape sh) {
  return program_add_slot(prog, role, name, dt, sh);
}

static const char *init_names[] = {"zeros", "ones", "constant", "normal", "uniform", "xavier", "xavier_uniform",
                                   "xavier_normal", "glorot", "glorot_uniform", "glorot_normal", "he", "he_uniform",
                                   "he_normal", "kaiming", "kaiming_uniform", "kaiming_normal", "lecun_uniform", "lecun_normal", NULL};

static bool check_init(Ast *init) {
  if (!init) return true;
  Ast *nm = init->kind == AST_CALL ? init->a : init;
  if (init->kind == AST_NUM || (init->kind == AST_UNOP && init->a->kind == AST_NUM)) return true;
  if (nm->kind == AST_NAME)
    for (int i = 0; init_names[i]; i++)
      if (!strcmp(nm->name, init_names[i])) return true;
  diag_error(init->loc, "unknown initialiser '%s'; expected one of zeros, ones, constant(v), normal(mean, std), "
                        "uniform(lo, hi), xavier_uniform, xavier_normal, he_uniform, he_normal, or a number",
             nm->kind == AST_NAME ? nm->name : "?");
  return false;
}

/* A parameter, state or data field with a dimension of 0 holds nothing:
 * an error at that dimension rather than a run that fails (or divides by
 * zero) later. */
static bool no_empty_dim(Ast *type, const Shape *sh, const char *name) {
  for (int d = 0; d < sh->rank; d++)
    if (sh->d[d].k == 0 && !sh->d[d].b) {
      diag_error(d < type->nargs ? type->args[d]->loc : type->loc, "dimension %d of '%s' is 0: it would hold no values", d + 1,
                 name);
      return false;
    }
  return true;
}

/* The numbers of an initialiser: finite, a normal's std >= 0, a uniform's
 * lo <= hi (runtime/init.c draws from them as given). */
static bool check_init_args(Ast *init, const HyperCall *h) {
  for (int i = 0; i < h->n; i++)
    if (!isfinite(h->vals[i])) {
      diag_error(init->loc, "the initialiser's argument %d is not a finite number", i + 1);
      return false;
    }
  bool normal = !strcmp(h->name, "normal"), uniform = !strcmp(h->name, "uniform");
  if (normal && h->n >= 1 && h->vals[h->n >= 2] < 0) {
    diag_error(init->loc, "normal(mean, std): the standard deviation must be >= 0, not %g", h->vals[h->n >= 2]);
    return false;
  }
  if (uniform && ((h->n == 1 && h->vals[0] < 0) || (h->n >= 2 && h->vals[0] > h->vals[1]))) {
    diag_error(init->loc, "uniform(lo, hi) needs lo <= hi (uniform(a) is uniform(-a, a), a >= 0)");
    return false;
  }
  return true;
}

static Inst *instantiate(Ast *model, Ast *site, Value **args, int nargs, const char *prefix) {
  Inst *in = arena_alloc(sizeof *in);
  in->model = model;
  in->prefix = prefix;
  in->ctor = env_new(NULL, NULL);
  in->info_row = -1;
  if (nargs != model->nargs) {
    diag_error(site->loc, "model '%s' takes %d argument%s, %d given", model->name, model->nargs,
               model->nargs == 1 ? "" : "s", nargs);
    diag_note(model->loc, "'%s' is defined here", model->name);
    return NULL;
  }
  for (int i = 0; i < nargs; i++) {
    if (!args[i] || (args[i]->k != V_NUM && args[i]->k != V_DIM)) {
      diag_error(site->loc, "argument '%s' of model '%s' must be a number", model->args[i]->name, model->name);
      return NULL;
    }
    bind(in->ctor, model->args[i]->name, args[i]);
  }
  int64_t before = 0;
  for (int i = 0; i < prog->nslots; i++)
    if (prog->slots[i]->role == NNRT_SLOT_PARAM) before += shape_numel(&prog->slots[i]->sh).k;
  Env *env = env_new(NULL, in);
  for (int i = 0; i < model->nlist; i++) {
    Ast *m = model->list[i];
    if (m->kind == AST_PARAM || m->kind == AST_STATE) {
      Shape sh;
      if (!eval_type(env, m->a, NULL, NULL, &sh) || !no_empty_dim(m->a, &sh, m->name)) continue;
      for (int d = 0; d < sh.rank; d++)
        if (sh.d[d].b) {
          diag_error(m->a->loc, "parameter '%s' cannot have a batch dimension", m->name);
          sh.rank = 0;
        }
      if (!check_init(m->b)) continue;
      HyperCall ic = {0};
      if (m->b && (!hyper_eval(m->b, &ic) || !check_init_args(m->b, &ic))) continue;
      if (!m->b) ic.name = sh.rank >= 2 ? "xavier_uniform" : "zeros";
      const char *full = arena_printf("%s%s", prefix, m->name);
      bool is_param = m->kind == AST_PARAM;
      SlotDesc *s = new_slot(is_param ? NNRT_SLOT_PARAM : NNRT_SLOT_STATE, full, (Dtype)m->a->op, sh);
      s->init = m->b;
      s->initc = ic;
      /* fans: dense (in, out); conv (out, in/groups, kh, kw) later */
      if (sh.rank == 2) { s->fan_in = sh.d[0].k; s->fan_out = sh.d[1].k; }
      else if (sh.rank == 1) { s->fan_in = sh.d[0].k; s->fan_out = sh.d[0].k; }
      else if (sh.rank > 2) {
        int64_t rf = 1;
        for (int d = 2; d < sh.rank; d++) rf *= sh.d[d].k;
        s->fan_in = sh.d[1].k * rf;
        s->fan_out = sh.d[0].k * rf;
      } else { s->fan_in = s->fan_out = 1; }
      graph_set_loc(m->loc);
      int slot = prog->nslots - 1;
      s->node = is_param ? g_param(full, slot, s->dt, sh) : g_state(full, slot, s->dt, sh);
      Binding *b = arena_alloc(sizeof *b);
      b->name = m->name;
      b->v = mk_tensor(s->node, m->loc);
      b->next = in->members;
      in->members = b;
    } else if (m->kind == AST_LAYER) {
      Ast *c = m->a;
      Ast *mm = c->kind == AST_CALL && c->a->kind == AST_NAME ? sema_find(mod, AST_MODEL, c->a->name) : NULL;
      if (!mm) {
        diag_error(c->loc, "a layer must be a model instance like Dense(784, 256)");
        continue;
      }
      if (stuck) return NULL;
      PUSH(expanding, nexpanding, capexpanding, model);
      bool cycle = is_expanding(mm);
      if (cycle) diag_error(c->loc, "model '%s' contains itself: %s", mm->name, cycle_path(mm));
      nexpanding--;
      if (cycle) { stuck = true; return NULL; }
      if (depth > 32) { diag_error(c->loc, "models nested more than 32 deep"); stuck = true; return NULL; }
      Value *av[8];
      int na = 0;
      bool ok = true;
      for (int j = 0; j < c->nargs && na < 8; j++) {
        av[na] = eval(in->ctor ? env_new(in->ctor, NULL) : env, c->args[j]);
        ok = ok && av[na];
        na++;
      }
      if (!ok) continue;
      int row = prog->ninfo;
      struct InfoRow r = {arena_printf("%s%s", prefix, m->name), mm->name, NULL, 0, 0};
      if (prog->ninfo == prog->capinfo) {
        int cap = prog->capinfo ? prog->capinfo * 2 : 16;
        struct InfoRow *ni = arena_alloc(sizeof *ni * cap);
        if (prog->ninfo) memcpy(ni, prog->info, sizeof *ni * prog->ninfo);
        prog->info = ni;
        prog->capinfo = cap;
      }
      prog->info[prog->ninfo++] = r;
      depth++;
      PUSH(expanding, nexpanding, capexpanding, model);
      Inst *sub = instantiate(mm, c, av, na, arena_printf("%s%s.", prefix, m->name));
      nexpanding--;
      depth--;
      if (!sub) continue;
      sub->info_row = row;
      sub->parent = in;
      Value *v = mk(V_INST, m->loc);
      v->inst = sub;
      Binding *b = arena_alloc(sizeof *b);
      b->name = m->name;
      b->v = v;
      b->next = in->members;
      in->members = b;
    }
  }
  int64_t after = 0;
  for (int i = 0; i < prog->nslots; i++)
    if (prog->slots[i]->role == NNRT_SLOT_PARAM) after += shape_numel(&prog->slots[i]->sh).k;
  in->params = after - before;
  return in;
}

/* ---- data and the train block -------------------------------------------- */

static bool lower_data(Ast *data, Env *tenv) {
  bool ok = true;
  for (int i = 0; i < data->nlist; i++) {
    Ast *f = data->list[i];
    bool test = f->op == 1;
    Ast *type = f->a;
    if (!type) {
      /* a test field takes the type of the train field of the same name */
      for (int j = 0; j < data->nlist && !type; j++)
        if (data->list[j]->op == 0 && !strcmp(data->list[j]->name, f->name)) type = data->list[j]->a;
      if (!type) { diag_error(f->loc, "field '%s' needs a per-sample type, e.g. %s: f32[784]", f->name, f->name); ok = false; continue; }
    }
    if (type->op2) { diag_error(type->loc, "a data field needs a tensor type like f32[784]"); ok = false; continue; }
    Shape ps;
    if (!eval_type(tenv, type, NULL, NULL, &ps) || !no_empty_dim(type, &ps, f->name)) { ok = false; continue; }
    if (ps.rank >= MAX_RANK) { diag_error(type->loc, "rank too high"); ok = false; continue; }
    Value *src = eval(tenv, f->b);
    if (!src) { ok = false; continue; }
    const char *split = test ? "test" : "train";
    int64_t per = shape_numel(&ps).k;
    SlotDesc *s = NULL;
    if (!test) {
      Shape sh = {0};
      sh.rank = ps.rank + 1;
      sh.d[0] = (Dim){1, 1};
      for (int d = 0; d < ps.rank; d++) sh.d[d + 1] = ps.d[d];
      s = new_slot(NNRT_SLOT_INPUT, f->name, (Dtype)type->op, sh);
      s->field = f->name;
      graph_set_loc(f->loc);
      s->node = g_input(f->name, prog->nslots - 1, s->dt, sh);
      bind(tenv, f->name, mk_tensor(s->node, f->loc));
    }
    DataSrc *ds = arena_alloc(sizeof *ds);
    ds->field = f->name;
    ds->split = split;
    if (src->k == V_DATA) {
      ds->path = src->s;
      ds->scale = src->scale;
      ds->kind = src->dkind;
      ds->col_begin = src->c0;
      ds->col_end = src->c1;
      ds->header = src->header;
      ds->normalize = src->normalize;
    } else if (src->k == V_LIST) {
      /* a table: a list of samples, each flattening to per values */
      int64_t n = src->nitems, k = 0;
      for (int64_t r = 0; r < n && ok; r++) { /* every row has per values (so n·per is bounded by the text) */
        Value *row = src->items[r];
        int nc = row->k == V_LIST ? row->nitems : 1;
        if (nc != per) {
          diag_error(f->b->loc, "row %lld of '%s' has %d values, but its type %s%s needs %lld", (long long)r, f->name, nc,
                     dtype_name((Dtype)type->op), shape_str(&ps), (long long)per);
          ok = false;
        }
      }
      if (!ok) continue;
      double *vals = arena_alloc(sizeof(double) * (size_t)(n * per + 1));
      for (int64_t r = 0; r < n && ok; r++) {
        Value *row = src->items[r];
        Value *one[1] = {row};
        Value **cells = row->k == V_LIST ? row->items : one;
        int nc = row->k == V_LIST ? row->nitems : 1;
        if (nc != per) {
          diag_error(f->b->loc, "row %lld of '%s' has %d values, but its type %s%s needs %lld", (long long)r, f->name, nc,
                     dtype_name((Dtype)type->op), shape_str(&ps), (long long)per);
          ok = false;
          break;
        }
        for (int c = 0; c < nc; c++) {
          double x;
          if (!as_num(cells[c], f->b, &x)) { ok = false; break; }
          vals[k++] = x;
        }
      }
      ds->n = n;
      ds->per = per;
      ds->table = vals;
    } else {
      diag_error(f->b->loc, "a data field is idx(\"file\") or a table literal, found %s", vkind_name(src));
      ok = false;
      continue;
    }
    (void)s;
    /* inline tables of one split must agree on the number of samples */
    for (int j = 0; ok && ds->table && j < prog->nsrcs; j++) {
      DataSrc *o = prog->srcs[j];
      if (o->table && !strcmp(o->split, ds->split) && o->n != ds->n) {
        diag_error(f->b->loc, "'%s' has %lld samples but '%s' has %lld in the %s split", f->name, (long long)ds->n,
                   o->field, (long long)o->n, split);
        ok = false;
      }
    }
    PUSH(prog->srcs, prog->nsrcs, prog->capsrcs, ds);
  }
  return ok;
}

static bool known_optimizer(const char *name) {
  static const char *names[] = {"sgd", "momentum", "nesterov", "nag", "adagrad", "adadelta", "rmsprop", "adam", "adamw", NULL};
  for (int i = 0; names[i]; i++)
    if (!strcmp(names[i], name)) return true;
  return false;
}

static bool hyper_eval(Ast *c, HyperCall *h) {
  Ast *nm = c->kind == AST_CALL ? c->a : c;
  h->name = nm->kind == AST_NAME ? nm->name : "constant";
  h->n = 0;
  if (c->kind == AST_NUM || c->kind == AST_UNOP) { /* `= 0.5`: constant(0.5) */
    double x;
    if (!as_num(eval(env_new(NULL, NULL), c), c, &x)) return false;
    h->vals[h->n++] = x;
    return true;
  }
  if (c->kind != AST_CALL) return true;
  for (int i = 0; i < c->nargs && h->n < 16; i++) {
    Ast *a = c->args[i];
    Ast *v = a->kind == AST_KWARG ? a->a : a;
    double x;
    if (!as_num(eval(env_new(NULL, NULL), v), v, &x)) return false;
    h->keys[h->n] = a->kind == AST_KWARG ? a->name : NULL;
    h->vals[h->n++] = x;
  }
  return true;
}

/* The settings an optimizer, a schedule or augment = images(...) accepts
 * and the range of each, checked here so that a bad one is an error at its
 * line, not a run that diverges or fails to start (runtime/optim.c and
 * runtime/sched.c read them). */
typedef struct Setting {
  const char *names; /* ' '-separated spellings */
  double lo, hi;     /* the range, open at an end marked below */
  bool lo_open, hi_open, integer;
  const char *range; /* as the message says it */
} Setting;

static const Setting optimizer_settings[] = {
  {"lr learning_rate", 0, INFINITY, false, true, false, ">= 0"},
  {"momentum", 0, 1, false, true, false, "in [0, 1)"},
  {"beta1", 0, 1, false, true, false, "in [0, 1)"},
  {"beta2", 0, 1, false, true, false, "in [0, 1)"},
  {"rho alpha decay", 0, 1, false, true, false, "in [0, 1)"},
  {"eps epsilon", 0, INFINITY, true, true, false, "> 0"},
  {"weight_decay wd", 0, INFINITY, false, true, false, ">= 0"},
  {"nesterov", 0, 1, false, false, true, "0 or 1"},
  {NULL, 0, 0, false, false, false, "lr, momentum, beta1, beta2, eps, rho, weight_decay or nesterov"},
};
static const Setting schedule_settings[] = {
  {"step_size", 1, INFINITY, false, true, true, "a whole number of epochs >= 1"},
  {"gamma", 0, INFINITY, true, true, false, "> 0"},
  {"warmup_epochs warmup", 0, INFINITY, false, true, false, ">= 0"},
  {"min_lr", 0, INFINITY, false, true, false, ">= 0"},
  {"t_max epochs", 0, INFINITY, false, true, false, ">= 0"},
  {NULL, 0, 0, false, false, false, "step_size, gamma, warmup_epochs, min_lr or t_max"},
};
static const Setting augment_settings[] = {
  {"crop", 0, 1024, false, false, true, "a whole number of pixels in [0, 1024]"},
  {"flip", 0, 1, false, false, true, "0 or 1"},
  {"rotate", 0, 180, false, false, false, "in [0, 180] degrees"},
  {NULL, 0, 0, false, false, false, "crop, flip or rotate"},
};

static bool is_spelling(const char *names, const char *name) {
  size_t n = strlen(name);
  for (const char *p = names; *p;) {
    size_t w = strcspn(p, " ");
    if (w == n && !strncmp(p, name, n)) return true;
    p += w;
    while (*p == ' ') p++;
  }
  return false;
}

/* kw = value, a setting of `owner` (adam, cosine, images). */
static bool check_setting(const Setting *table, const char *owner, Ast *kw, double v) {
  const Setting *s = table;
  while (s->names && !is_spelling(s->names, kw->name)) s++;
  if (!s->names) {
    diag_error(kw->loc, "'%s' has no setting '%s' (expected %s)", owner, kw->name, s->range);
    return false;
  }
  bool below = s->lo_open ? !(v > s->lo) : !(v >= s->lo), above = s->hi_open ? !(v < s->hi) : !(v <= s->hi);
  if (!isfinite(v) || below || above || (s->integer && v != floor(v))) {
    diag_error(kw->a->loc, "'%s' of '%s' must be %s, not %g", kw->name, owner, s->range, v);
    return false;
  }
  return true;
}

static bool check_hyper_call(Ast *c, const char *what, bool (*known)(const char *)) {
  if (c->kind != AST_CALL || c->a->kind != AST_NAME) {
    diag_error(c->loc, "%s must be a call like %s", what, !strcmp(what, "optimizer") ? "sgd(lr=0.1)" : "cosine()");
    return false;
  }
  if (!known(c->a->name)) {
    diag_error(c->a->loc, "unknown %s '%s' (expected %s)", what, c->a->name,
               known == known_optimizer ? "sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam or adamw"
                                        : "constant, step, exponential, cosine, warmup or warmup_cosine");
    return false;
  }
  bool ok = true;
  for (int i = 0; i < c->nargs; i++) {
    Ast *a = c->args[i];
    if (a->kind != AST_KWARG) { diag_error(a->loc, "%s settings are named, e.g. lr=0.1", what); return false; }
    Value *v = eval(env_new(NULL, NULL), a->a);
    double x;
    if (!v || !as_num(v, a->a, &x)) return false;
    ok = check_setting(known == known_optimizer ? optimizer_settings : schedule_settings, c->a->name, a, x) && ok;
  }
  return ok;
}

static bool known_schedule(const char *name) {
  return !strcmp(name, "constant") || !strcmp(name, "step") || !strcmp(name, "exponential") ||
         !strcmp(name, "cosine") || !strcmp(name, "warmup") || !strcmp(name, "warmup_cosine");
}

/* Info rows of every layer, nested ones included. */
static void fill_info(Inst *in) {
  for (Binding *b = in->members; b; b = b->next) {
    if (b->v->k != V_INST) continue;
    Inst *sub = b->v->inst;
    if (sub->info_row >= 0) {
      prog->info[sub->info_row].shape = sub->out_shape ? sub->out_shape : "-";
      prog->info[sub->info_row].params = sub->params;
      prog->info[sub->info_row].flops = sub->flops;
    }
    fill_info(sub);
  }
}

/* The statements of a train block.  Settings (optimizer, epochs, ...) are
 * read in the first pass only; expressions are lowered in both. */
static void train_stmts(Env *tenv, Ast **list, int n, bool first, Value **loss, Ast **loss_at) {
  for (int i = 0; i < n; i++) {
    Ast *s = list[i];
    if (s->kind == AST_ASSIGN) {
      const char *k = s->name;
      bool key = !strcmp(k, "optimizer") || !strcmp(k, "schedule") || !strcmp(k, "epochs") || !strcmp(k, "batch") ||
                 !strcmp(k, "seed") || !strcmp(k, "early_stop") || !strcmp(k, "augment");
      if (!strcmp(k, "show")) { /* what `OUT show` draws: evaluated in inference mode */
        if (!first) show_value = eval(tenv, s->a), show_at = s->a;
        continue;
      }
      if (key && !first) continue; /* settings are read once, in the first pass */
      if (!strcmp(k, "optimizer")) {
        if (check_hyper_call(s->a, "optimizer", known_optimizer) && hyper_eval(s->a, &prog->opt)) prog->optimizer = s->a;
      } else if (!strcmp(k, "schedule")) {
        if (check_hyper_call(s->a, "schedule", known_schedule) && hyper_eval(s->a, &prog->sched)) prog->schedule = s->a;
      } else if (!strcmp(k, "augment")) {
        /* augment = images(crop = 2, flip = 1, rotate = 10): random crops after
         * zero padding, horizontal flips and small rotations of image inputs,
         * drawn from the training stream, in training batches only */
        Ast *c = s->a;
        if (c->kind != AST_CALL || c->a->kind != AST_NAME || strcmp(c->a->name, "images")) {
          diag_error(c->loc, "augmentation is written augment = images(crop = 2, flip = 1, rotate = 10);");
          continue;
        }
        bool args_ok = true;
        for (int j = 0; j < c->nargs; j++) {
          Ast *a = c->args[j];
          double x;
          if (a->kind != AST_KWARG || (strcmp(a->name, "crop") && strcmp(a->name, "flip") && strcmp(a->name, "rotate"))) {
            diag_error(a->loc, "images() takes crop = PIXELS, flip = 0|1 and rotate = DEGREES");
            args_ok = false;
          } else if (!as_num(eval(env_new(NULL, NULL), a->a), a->a, &x) || !check_setting(augment_settings, "images", a, x)) {
            args_ok = false;
          }
        }
        if (args_ok && hyper_eval(c, &prog->augment)) prog->has_augment = true;
      } else if (!strcmp(k, "valid")) {
        double v;
        if (!as_num(eval(tenv, s->a), s->a, &v)) continue;
        if (!(v >= 0 && v < 1)) { diag_error(s->a->loc, "'valid' is the fraction of the training data held out, in [0, 1)"); continue; }
        prog->valid = v;
      } else if (!strcmp(k, "early_stop")) {
        int64_t v;
        if (!as_int(eval(tenv, s->a), s->a, &v)) continue;
        if (v < 0) { diag_error(s->a->loc, "'early_stop' is a patience in epochs, >= 0 (0: off)"); continue; }
        prog->early_stop = v;
      } else if (!strcmp(k, "epochs") || !strcmp(k, "batch") || !strcmp(k, "seed")) {
        int64_t v;
        if (!as_int(eval(tenv, s->a), s->a, &v)) continue;
        if (v < (strcmp(k, "seed") ? 1 : 0)) { diag_error(s->a->loc, "'%s' must be positive", k); continue; }
        if (!strcmp(k, "epochs")) prog->epochs = v;
        else if (!strcmp(k, "batch")) prog->batch = v;
        else prog->seed = v;
      } else {
        Value *v = eval(tenv, s->a);
        if (!strcmp(k, "loss")) { *loss = v; *loss_at = s->a; }
        bind(tenv, k, v ? v : &poison);
      }
    } else if (s->kind == AST_MINIMIZE) {
      *loss = eval(tenv, s->a);
      *loss_at = s->a;
      if (first && s->b && check_hyper_call(s->b, "optimizer", known_optimizer) && hyper_eval(s->b, &prog->opt)) prog->optimizer = s->b;
    } else if (s->kind == AST_IF) {
      Value *c = eval(tenv, s->a);
      double x;
      if (!c || c->k == V_TENSOR || !as_num(c, s->a, &x)) {
        if (c && c->k == V_TENSOR) diag_error(s->a->loc, "'if' needs a condition known when compiling");
        continue;
      }
      if (x != 0) train_stmts(tenv, s->list, s->nlist, first, loss, loss_at);
      else train_stmts(tenv, s->args, s->nargs, first, loss, loss_at);
    } else if (s->kind == AST_EXPR_STMT) {
      eval(tenv, s->a);
    } else {
      diag_error(s->loc, "this statement is not supported in a train block yet");
    }
  }
}

/* The accuracy of the classifier the loss was computed from, or NULL. */
static Node *metric_node(Node *p, Node *y, const char *kind, Dtype ldt, Loc at) {
  if (!p || !y) return NULL;
  Node *correct = NULL;
  graph_set_loc(at);
  if (!strcmp(kind, "cross_entropy") && p->sh.rank == 2) {
    Node *pred = g_argmax(p);
    Node *lab = y->dt == DT_I32 ? y : (y->sh.rank == 2 ? g_argmax(y) : NULL);
    if (lab && shape_eq(&lab->sh, &pred->sh)) correct = g_binary(OP_EQ, g_cast(pred, DT_I32), lab);
  } else if (shape_eq(&p->sh, &y->sh) && y->dt == p->dt) {
    Node *half = g_scalar(0.5, p->dt);
    correct = g_binary(OP_EQ, g_binary(OP_GT, p, half), g_binary(OP_GT, y, half));
  }
  if (!correct) return NULL;
  correct = g_cast(correct, ldt);
  return g_reshape(g_reduce(OP_SUM, correct, (1ull << correct->sh.rank) - 1), shape_scalar());
}

static bool check_loss(Value *loss, Ast *at) {
  if (loss->k == V_TENSOR && loss->n->sh.rank == 0 && (loss->n->dt == DT_F32 || loss->n->dt == DT_F64)) return true;
  diag_error(at->loc, "the loss must be a float scalar, found %s", vkind_name(loss));
  if (loss->k == V_TENSOR) diag_note(at->loc, "reduce it with mean(...) or sum(...)");
  return false;
}

/* n·B^b elements of dt at B = batch, in bytes; false past 2^62. */
static bool bytes_at(int64_t k, int b, int64_t batch, int64_t esize, int64_t *out) {
  int64_t r = k;
  for (int i = 0; i < b; i++)
    if (__builtin_mul_overflow(r, batch, &r)) return false;
  return !__builtin_mul_overflow(r, esize, out) && *out <= (int64_t)1 << 62;
}

/* The slots and the largest scratch plan at the program's batch size must
 * have a byte count (the runtime allocates them; a wrapped count would be a
 * small allocation and a crash).  Reported at the train block. */
bool program_memory_fits(Program *p) {
  int64_t total = 0, b;
  const char *what = NULL;
  for (int i = 0; i < p->nslots && !what; i++) {
    SlotDesc *sd = p->slots[i];
    Dim d = shape_numel(&sd->sh);
    if (!bytes_at(d.k, d.b, p->batch, sd->dt == DT_F64 ? 8 : 4, &b) || __builtin_add_overflow(total, b, &total))
      what = arena_printf("'%s' %s%s", sd->name, dtype_name(sd->dt), shape_str(&sd->sh));
  }
  Kernel *ks[] = {&p->train_k, &p->eval_k, &p->train_chk, &p->eval_chk};
  for (int i = 0; i < 4 && !what; i++) {
    int64_t fixed;
    if (!ks[i]->plan) continue; /* not planned yet */
    if (!bytes_at(ks[i]->plan->totalB, 1, p->batch, 1, &b) || !bytes_at(ks[i]->plan->total0, 0, 1, 1, &fixed) ||
        __builtin_add_overflow(b, fixed, &b) || __builtin_add_overflow(total, b, &b) || b > (int64_t)1 << 62)
      what = arena_printf("the scratch memory of the %s program", ks[i]->name);
  }
  if (!what) return true;
  diag_error(p->train->loc, "this program needs more than 2^62 bytes of memory at batch %lld: %s does not fit",
             (long long)p->batch, what);
  return false;
}

Program *lower_program(Module *m) {
  /* nothing is left over from an earlier program (fuzz_lower lowers many) */
  last_return = NULL;
  show_value = NULL;
  show_at = NULL;
  upd = NULL;
  nupd = capupd = 0;
  depth = eval_depth = 0;
  cur_inst = NULL;
  expanding = NULL;
  nexpanding = capexpanding = 0;
  stuck = false;
  const_vals = NULL;
  mod = m;
  prog = arena_alloc(sizeof *prog);
  prog->train_k.name = "train";
  prog->eval_k.name = "eval";
  prog->epochs = 10;
  prog->batch = 32;
  prog->seed = 1;
  Ast *train = NULL;
  for (int i = 0; i < m->nitems; i++)
    if (m->items[i]->kind == AST_TRAIN && m->items[i]->loc.file && !strcmp(m->items[i]->loc.file->path, m->main_path)) {
      if (train) { diag_error(m->items[i]->loc, "only one train block per program is supported yet"); return NULL; }
      train = m->items[i];
    }
  if (!train) {
    Loc l = {0};
    for (int i = 0; i < m->nitems; i++)
      if (m->items[i]->loc.file && !strcmp(m->items[i]->loc.file->path, m->main_path)) { l = m->items[i]->loc; break; }
    if (l.file) diag_error(l, "no 'train' block: nothing to build (write 'train MODEL on DATA { loss = ...; }')");
    else diag_error((Loc){m->nfiles ? m->files[0] : NULL, 0, 0}, "the program is empty: nothing to build");
    return NULL;
  }
  prog->train = train;
  prog->name = train->name;
  prog->source = m->main_path;
  Ast *model = sema_find(m, AST_MODEL, train->name);
  Ast *data = sema_find(m, AST_DATA, train->name2);
  if (!model || !data) return NULL; /* sema reported it */
  prog->data = data;
  /* every constant once, used or not, so that a cycle among them is found */
  for (int i = 0; i < m->nitems; i++)
    if (m->items[i]->kind == AST_CONST) const_value(m->items[i]);
  Inst *inst = instantiate(model, train, NULL, 0, "");
  if (!inst || diag_error_count()) return NULL;
  Env *base = env_new(NULL, inst);
  if (!lower_data(data, base)) return NULL;
  /* The train block is lowered twice: as the training program (dropout on,
   * batch statistics, state updates) and as the inference program.  Nodes
   * that do not depend on the mode are shared by interning. */
  Value *loss = NULL, *eloss = NULL;
  Ast *loss_at = train;
  Node *mp[2] = {0}, *my[2] = {0};
  const char *mk_[2] = {0};
  for (int pass = 0; pass < 2; pass++) {
    training_mode = pass == 0;
    clf_pred = clf_target = NULL;
    clf_kind = NULL;
    Value *l = NULL;
    train_stmts(env_new(base, inst), train->list, train->nlist, pass == 0, &l, &loss_at);
    if (diag_error_count()) return NULL;
    if (!l) { diag_error(train->loc, "train block has no 'loss'"); return NULL; }
    if (!check_loss(l, loss_at)) return NULL;
    if (pass == 0) loss = l; else eloss = l;
    mp[pass] = clf_pred;
    my[pass] = clf_target;
    mk_[pass] = clf_kind;
  }
  training_mode = true;
  if (!prog->optimizer) {
    diag_error(train->loc, "train block has no optimizer (e.g. 'optimizer = sgd(lr=0.1);')");
    return NULL;
  }
  prog->loss = loss->n;
  Dtype ldt = loss->n->dt;
  SlotDesc *ls = new_slot(NNRT_SLOT_OUTPUT, "loss", ldt, shape_scalar());
  ls->what = NNRT_OUT_LOSS;
  int loss_slot = prog->nslots - 1;
  kernel_add_out(&prog->train_k, loss->n, loss_slot, "loss");
  kernel_add_out(&prog->eval_k, eloss->n, loss_slot, "loss");
  Node *tc = metric_node(mp[0], my[0], mk_[0], ldt, loss_at->loc);
  Node *ec = metric_node(mp[1], my[1], mk_[1], ldt, loss_at->loc);
  if (tc && ec) {
    SlotDesc *cs = new_slot(NNRT_SLOT_OUTPUT, "correct", ldt, shape_scalar());
    cs->what = NNRT_OUT_CORRECT;
    kernel_add_out(&prog->train_k, tc, prog->nslots - 1, "correct");
    kernel_add_out(&prog->eval_k, ec, prog->nslots - 1, "correct");
  }
  if (show_value) {
    Node *n = show_value->k == V_TENSOR ? show_value->n : NULL;
    if (!n || n->sh.rank < 2 || n->sh.d[0].b != 1 || n->sh.d[0].k != 1 || (n->dt != DT_F32 && n->dt != DT_F64)) {
      diag_error(show_at->loc, "'show' must be a float tensor with the batch first, like forward(x), found %s",
                 vkind_name(show_value));
      return NULL;
    }
    SlotDesc *ss = new_slot(NNRT_SLOT_OUTPUT, "show", n->dt, n->sh);
    ss->what = "show";
    kernel_add_out(&prog->eval_k, n, prog->nslots - 1, "show");
  }
  /* new values of state (running statistics), written after the step */
  for (int i = 0; i < nupd; i++) {
    kernel_add_out(&prog->train_k, upd[i].node, upd[i].slot, arena_printf("state %s", upd[i].name));
    prog->train_k.outs[prog->train_k.nouts - 1].deferred = true;
  }
  /* info rows: the layers in declaration order, and the top model's own params */
  fill_info(inst);
  return diag_error_count() ? NULL : prog;
}
