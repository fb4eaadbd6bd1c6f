/*
 * lower.c — the lowering pass (lower*.c; lower.h says which file does what):
 * from the checked AST to the Program's slots and forward graphs.  This
 * file holds its core: compile-time values and scopes (names resolved in
 * nested environments), compile-time numbers and dimensions (exact 64-bit
 * integers, overflow-checked), cycles through constants, functions and
 * models, and expressions, whose tensor operations build graph nodes
 * through the g_* builders (shape.c), which check shapes statically.
 *
 * Every function call is inlined (lower_call.c): a `fn` is a template over
 * shapes, and the dimension names in its signature (B, in, out) are bound
 * by unifying the declared types with the actual arguments.  Values that
 * are not tensors (integers, dims, strings, lists, model instances, data
 * sources) are compile-time values and never reach the graph.
 *
 * Errors are reported where the user wrote the culprit, with both shapes;
 * evaluation then continues with a NULL value ("poison") that silences
 * follow-on errors from the same expression.
 */
#include "lower.h"
#include <math.h>
#include <string.h>

Module *mod;
Value poison; /* bound to a name whose value failed: silences follow-on errors */
Ast *last_return;            /* the expression of the last `return` executed */
bool training_mode;          /* which program is being lowered: train or eval kernel */
Value *show_value;           /* `show = ...;` of the train block (inference mode) */
Ast *show_at;
Value *predict_value;        /* `predict = ...;`: what OUT predict and nnc export give (inference mode) */
Ast *predict_at;
Value *sample_value;         /* `sample = ...;`: next-token logits (inference mode) */
Ast *sample_at;
StateUpd *upd; int nupd, capupd; /* state assignments made in training mode */
Program *prog;
int depth;
Inst *cur_inst;              /* the instance whose fn is running (FLOP accounting) */
Dtype elem_type;             /* the element type of the instance being lowered (lower.h) */
Dtype program_elem;          /* the trained model's: what constants take */
Node *clf_pred, *clf_target; /* the classifier loss seen at train level */
const char *clf_kind;

/* Forward FLOPs per sample, charged to the running layer and its parents
 * (counted while lowering the training program only: once). */
int64_t flops_scale = 1;
void add_flops(Inst *in, int64_t f) {
  if (__builtin_mul_overflow(f, flops_scale, &f)) f = INT64_MAX;
  for (; in; in = in->parent)
    if (__builtin_add_overflow(in->flops, f, &in->flops)) in->flops = INT64_MAX;
}

/* a·b·c for FLOP counts: saturates rather than wraps (shapes are checked,
 * but a product of three dimensions may still pass 2^63) */
int64_t sat_mul3(int64_t a, int64_t b, int64_t c) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || __builtin_mul_overflow(r, c, &r)) return INT64_MAX;
  return r;
}

/* What is being expanded right now, outermost first: constants being
 * evaluated, functions being inlined, models being instantiated.  A
 * declaration met again inside its own expansion is a cycle, reported with
 * the path ("a -> b -> a").  After one, `stuck` makes every call and
 * instantiation give up at once: expanding both operands of `f(x) + f(x)`
 * down a runaway recursion would take 2^depth steps. */
Ast **expanding; int nexpanding, capexpanding;
bool stuck;

/* "a -> b -> a": the path from the latest expansion of decl back to it. */
const char *cycle_path(Ast *decl) {
  int from = nexpanding;
  for (int i = nexpanding - 1; i >= 0; i--)
    if (expanding[i] == decl) { from = i; break; }
  const char *path = "";
  for (int i = from; i < nexpanding; i++) path = arena_printf("%s%s -> ", path, expanding[i]->name);
  return arena_printf("%s%s", path, decl->name);
}

bool is_expanding(Ast *decl) {
  for (int i = 0; i < nexpanding; i++)
    if (expanding[i] == decl) return true;
  return false;
}

/* Constants are evaluated once per mode (the program is lowered in
 * training and in inference mode, and `training` may appear in one). */
ConstVal *const_vals;

/* ---- values and scopes -------------------------------------------------- */

Value *mk(VKind k, Loc loc) {
  Value *v = arena_alloc(sizeof *v);
  v->k = k;
  v->loc = loc;
  return v;
}
Value *mk_tensor(Node *n, Loc loc) {
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

/* `for NAME in LO..HI`: the bounds as integers known when compiling, and
 * the loop variable's value for step t.  The loop is unrolled (each step's
 * statements are lowered again with NAME = LO + t), so the reverse pass
 * through time is ordinary autodiff over the unrolled graph; the step
 * count is capped so a typo cannot unroll billions of steps. */
bool for_range(Env *e, Ast *s, int64_t *lo, int64_t *hi) {
  if (!as_int(eval(e, s->a), s->a, lo) || !as_int(eval(e, s->b), s->b, hi)) return false;
  if (*hi < *lo) {
    diag_error(s->b->loc, "the range %lld..%lld runs backwards: the end must be at least the start", (long long)*lo,
               (long long)*hi);
    return false;
  }
  if (*hi - *lo > FOR_MAX_STEPS) {
    diag_error(s->loc, "'for' over %lld steps: loops are unrolled when compiling, at most %d steps", (long long)(*hi - *lo),
               FOR_MAX_STEPS);
    return false;
  }
  return true;
}
Value *for_value(Ast *s, int64_t t) { return mk_int(t, s->loc); }

void bind(Env *e, const char *name, Value *v) {
  Binding *b = arena_alloc(sizeof *b);
  b->name = name;
  b->v = v;
  b->next = e->b;
  e->b = b;
}
static unsigned name_hash(const char *s) {
  unsigned h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* b is newer than every binding of its name in the index: it replaces it. */
static void index_add(NameIndex *ix, Binding *b) {
  if (2 * (ix->n + 1) > ix->cap) {
    NameIndex old = *ix;
    ix->cap = ix->cap ? 2 * ix->cap : 64;
    ix->tab = arena_alloc(sizeof *ix->tab * ix->cap);
    ix->n = 0;
    for (int i = 0; i < old.cap; i++)
      if (old.tab[i]) index_add(ix, old.tab[i]);
  }
  int j = (int)(name_hash(b->name) & (unsigned)(ix->cap - 1));
  for (; ix->tab[j]; j = (j + 1) & (ix->cap - 1))
    if (!strcmp(ix->tab[j]->name, b->name)) {
      ix->tab[j] = b;
      return;
    }
  ix->tab[j] = b;
  ix->n++;
}

/* A short list is walked; a long one is indexed in ix (brought up to date
 * here: what came since the last update is added, oldest first). */
Value *lookup_b(Binding *head, NameIndex *ix, const char *name) {
  enum { WALK = 32 };
  int walked = 0;
  Binding *b = head;
  for (; b && b != ix->upto && walked < WALK; b = b->next, walked++)
    if (strcmp(b->name, name) == 0) return b->v;
  if (!b) return NULL;
  if (b != ix->upto) {
    int n = 0;
    for (Binding *c = head; c != ix->upto; c = c->next) n++;
    Binding **fresh = arena_alloc(sizeof *fresh * n);
    n = 0;
    for (Binding *c = head; c != ix->upto; c = c->next) fresh[n++] = c;
    while (n > 0) index_add(ix, fresh[--n]);
    ix->upto = head;
  }
  if (!ix->cap) return NULL;
  for (int j = (int)(name_hash(name) & (unsigned)(ix->cap - 1)); ix->tab[j]; j = (j + 1) & (ix->cap - 1))
    if (!strcmp(ix->tab[j]->name, name)) return ix->tab[j]->v;
  return NULL;
}
Env *env_new(Env *parent, Inst *self) {
  Env *e = arena_alloc(sizeof *e);
  e->parent = parent;
  e->self = self;
  return e;
}

const char *vkind_name(const Value *v) {
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

char *tstr(const Node *n) { return arena_printf("%s%s", dtype_name(n->dt), shape_str(&n->sh)); }

/* ---- compile-time numbers and dims -------------------------------------- */


bool as_int(Value *v, Ast *at, int64_t *out) {
  if (!v) return false;
  if (v->k == V_NUM && v->is_int) { *out = v->i; return true; }
  if (v->k == V_NUM && v->num == floor(v->num) && fabs(v->num) < 9e15) { *out = (int64_t)v->num; return true; }
  if (v->k == V_DIM && v->dim.b == 0) { *out = v->dim.k; return true; }
  if (v->k == V_NUM && isfinite(v->num))
    diag_error(at->loc, "expected an integer here, found %g ('/' divides exactly; floor(a / b) rounds down)", v->num);
  else
    diag_error(at->loc, "expected an integer here, found %s", vkind_name(v));
  return false;
}

bool as_num(Value *v, Ast *at, double *out) {
  if (!v) return false;
  if (v->k == V_NUM) { *out = v->num; return true; }
  if (v->k == V_DIM && v->dim.b == 0) { *out = (double)v->dim.k; return true; }
  diag_error(at->loc, "expected a number here, found %s", vkind_name(v));
  return false;
}

bool as_dim(Value *v, Ast *at, Dim *out) {
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
/* The leading dims `...` stands for in a signature's type f32[..., d]: the
 * first argument (or result) written with it binds them, as "..." in dims,
 * and every later `...` of the signature means the same dims. */
static int lead_dims(Ast *t, Env *dims, const Shape *actual, Shape *s) {
  if (!t->ival) return 0;
  if (!dims || !actual) {
    diag_error(t->loc, "'...' (any leading dimensions) is allowed only in the types of function arguments and results");
    return -1;
  }
  Value *v = lookup_b(dims->b, &dims->ix, "...");
  if (!v) {
    v = mk(V_LIST, t->loc);
    for (int i = 0; i < actual->rank - t->nargs; i++) {
      Value *dv = mk(V_DIM, t->loc);
      dv->dim = actual->d[i];
      PUSH(v->items, v->nitems, v->capitems, dv);
    }
    bind(dims, "...", v);
  }
  if (v->nitems + t->nargs > MAX_RANK) {
    diag_error(t->loc, "rank %d exceeds the maximum of %d", v->nitems + t->nargs, MAX_RANK);
    return -1;
  }
  for (int i = 0; i < v->nitems; i++) s->d[i] = v->items[i]->dim;
  return v->nitems;
}

bool eval_type(Env *e, Ast *t, Env *dims, const Shape *actual, Shape *out) {
  Shape s = {0};
  if (t->nargs > MAX_RANK) { diag_error(t->loc, "rank %d exceeds the maximum of %d", t->nargs, MAX_RANK); return false; }
  int lead = lead_dims(t, dims, actual, &s);
  if (lead < 0) return false;
  s.rank = lead + t->nargs;
  bool ok = true;
  for (int i = lead; i < s.rank; i++) {
    Ast *d = t->args[i - lead];
    if (d->kind == AST_NAME && dims && !lookup_b(dims->b, &dims->ix, d->name)) {
      Value *v = NULL;
      for (Env *p = e; p && !v; p = p->parent) v = lookup_b(p->b, &p->ix, d->name);
      if (!v && e->self && e->self->ctor) v = lookup_b(e->self->ctor->b, &e->self->ctor->ix, d->name);
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
    if (d->kind == AST_NAME && dims && lookup_b(dims->b, &dims->ix, d->name)) v = lookup_b(dims->b, &dims->ix, d->name);
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

Value *op_result(Node *n, Ast *at, Ast *xa, Value *va, Ast *xb, Value *vb) {
  if (n) return mk_tensor(n, at->loc);
  diag_error(at->loc, "%s", shape_error());
  note_operand(xa, va, xb ? "left operand" : "operand");
  if (xb) note_operand(xb, vb, "right operand");
  return NULL;
}

/* A number used next to a tensor becomes a scalar constant of its dtype. */
Node *to_node(Value *v, Dtype like, Ast *at) {
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
  return elem_type;
}

Dtype type_elem(const Ast *type) { return type->op == DT_FLOAT ? elem_type : (Dtype)type->op; }

/* After a mismatch against a float[...] type: which instance decided it,
 * and how to change it. */
void note_float(const Ast *type, Inst *self) {
  if (type->op != DT_FLOAT) return;
  const char *now = dtype_name(elem_type), *other = elem_type == DT_F64 ? "f32" : "f64";
  if (!self) {
    diag_note(type->loc, "'float' is %s here, the element type of the model that calls it", now);
    return;
  }
  Inst *top = self;
  while (top->parent) top = top->parent;
  if (!*self->prefix)
    diag_note(type->loc, "'float' is %s here, the element type of the trained model: declare 'model %s: %s { ... }'", now,
              self->model->name, other);
  else if (self->elem_given)
    diag_note(type->loc, "'float' is %s here, the element type of layer '%.*s' (given dtype = \"%s\")", now,
              (int)strlen(self->prefix) - 1, self->prefix, now);
  else
    diag_note(type->loc, "'float' is %s here, the element type of layer '%.*s': write %s(..., dtype = \"%s\"), or "
              "'model %s: %s { ... }' for the whole model", now, (int)strlen(self->prefix) - 1, self->prefix,
              self->model->name, other, top->model->name, other);
}

/* ---- expressions --------------------------------------------------------- */


Value *const_value(Ast *c) {
  for (ConstVal *cv = const_vals; cv; cv = cv->next)
    if (cv->decl == c && cv->mode == training_mode) return cv->v;
  if (is_expanding(c)) {
    diag_error(c->loc, "'%s' is defined in terms of itself: %s", c->name, cycle_path(c));
    return &poison;
  }
  PUSH(expanding, nexpanding, capexpanding, c);
  Dtype saved = elem_type; /* a constant is the program's, wherever it is first used */
  elem_type = program_elem;
  Value *v = eval(env_new(NULL, NULL), c->a);
  elem_type = saved;
  nexpanding--;
  ConstVal *cv = arena_alloc(sizeof *cv);
  *cv = (ConstVal){c, training_mode, v ? v : &poison, const_vals};
  const_vals = cv;
  return cv->v;
}

Value *lookup(Env *e, const char *name) {
  for (Env *p = e; p; p = p->parent) {
    Value *v = lookup_b(p->b, &p->ix, name);
    if (v) return v;
  }
  for (Env *p = e; p; p = p->parent) {
    if (!p->self) continue;
    Value *v = lookup_b(p->self->members, &p->self->mix, name);
    if (v) return v;
    if (p->self->ctor && (v = lookup_b(p->self->ctor->b, &p->self->ctor->ix, name))) return v;
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
  case '/': /* true division: exact quotients stay integers, 1 / 16 is 0.0625 */
    if (q == 0) { diag_error(x->loc, "division by zero"); return NULL; }
    over = p == INT64_MIN && q == -1;
    if (!over && p % q != 0) return mk_num((double)p / (double)q, x->loc);
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

/* a @ b (and matmul(a, b)): [..., k] @ [k, n] is one GEMM over the rows of
 * all leading dims; anything else g_matmul's 2-D or batched product.  Counts
 * the training FLOPs of the instance being lowered. */
Node *lower_matmul(Node *na, Node *nb) {
  Node *r;
  if (na->sh.rank > 2 && nb->sh.rank == 2 && na->dt == nb->dt) {
    /* [..., K] @ [K, N]: the leading dimensions are rows of one GEMM */
    Shape rows = na->sh, flat = {0};
    rows.rank--;
    flat.rank = 2;
    flat.d[0] = shape_numel(&rows);
    flat.d[1] = na->sh.d[na->sh.rank - 1];
    if (flat.d[0].b <= 1) {
      Node *m = g_matmul(g_reshape(na, flat), nb, 0, 0);
      if (!m) return NULL;
      Shape out = na->sh;
      out.d[out.rank - 1] = m->sh.d[1];
      if (cur_inst && training_mode) add_flops(cur_inst, sat_mul3(2 * flat.d[0].k, flat.d[1].k, nb->sh.d[1].k));
      return g_reshape(m, out);
    }
  }
  r = g_matmul(na, nb, 0, 0);
  if (r && cur_inst && training_mode && na->sh.rank == 2 && nb->sh.rank == 2) {
    int64_t m = na->sh.d[0].b ? 1 : na->sh.d[0].k;
    add_flops(cur_inst, sat_mul3(2 * m, na->sh.d[1].k, nb->sh.d[1].k));
  } else if (r && cur_inst && training_mode) { /* a batch of products: per sample, B counted once */
    add_flops(cur_inst, sat_mul3(2, shape_numel(&r->sh).k, na->sh.d[na->sh.rank - 1].k));
  }
  return r;
}

static Value *binop(Env *e, Ast *x) {
  Value *a = eval(e, x->a), *b = eval(e, x->b);
  if (!a || !b) return NULL;
  bool ta = a->k == V_TENSOR, tb = b->k == V_TENSOR;
  if (a->k == V_LIST || b->k == V_LIST) { /* [a, b] + [c]: a longer list, as a loop collects its steps */
    if (a->k != V_LIST || b->k != V_LIST || x->op != '+') {
      diag_error(x->loc, "a list can only be joined to another list, with '+' (here: %s and %s)", vkind_name(a),
                 vkind_name(b));
      return NULL;
    }
    Value *v = mk(V_LIST, x->loc);
    for (int i = 0; i < a->nitems; i++) PUSH(v->items, v->nitems, v->capitems, a->items[i]);
    for (int i = 0; i < b->nitems; i++) PUSH(v->items, v->nitems, v->capitems, b->items[i]);
    return v;
  }
  if (!ta && !tb) { /* compile-time arithmetic */
    if (a->k == V_DATA && a->dkind >= 2) {
      diag_error(x->loc, "%s: they cannot be scaled or combined",
                 a->dkind == 2 ? "text(...) gives token ids" : "mlm(...) gives token ids and labels");
      return NULL;
    }
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
  case '@': r = lower_matmul(na, nb); break;
  default: nnc_unreachable("binary operator %d", x->op);
  }
  /* integers compared give 0/1 in the model's element type */
  if (r && na->dt != DT_F32 && na->dt != DT_F64 && r->dt != na->dt && r->dt != elem_type) r = g_cast(r, elem_type);
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
int eval_depth;

static Value *eval_expr(Env *e, Ast *x);

Value *eval(Env *e, Ast *x) {
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

static void offer_values(Suggest *s, Binding *b) {
  for (; b; b = b->next)
    if (b->v && b->v->k != V_FN) suggest_offer(s, b->name);
}

/* The nearest value name for "did you mean": variables, params, layers and
 * model arguments in scope, then constants; never a function. */
static const char *nearest_value(Env *e, const char *name) {
  Suggest s;
  suggest_init(&s, name);
  for (Env *p = e; p; p = p->parent) {
    offer_values(&s, p->b);
    if (p->self) {
      offer_values(&s, p->self->members);
      if (p->self->ctor) offer_values(&s, p->self->ctor->b);
    }
  }
  for (int i = 0; i < mod->nitems; i++)
    if (mod->items[i]->kind == AST_CONST) suggest_offer(&s, mod->items[i]->name);
  return suggest_pick(&s);
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
      else if (nearest_value(e, x->name))
        diag_error(x->loc, "unknown name '%s'; did you mean '%s'?", x->name, nearest_value(e, x->name));
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
    Value *v = lookup_b(o->inst->members, &o->inst->mix, x->name);
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

