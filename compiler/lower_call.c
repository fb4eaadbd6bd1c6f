/*
 * lower_call.c — calls: a `fn` is inlined as a template over shapes (its
 * dimension names bound by unifying declared and actual types), statements
 * run in order, model methods see their instance; builtins go to
 * lower_builtin.c and models are instantiated by lower_model.c.
 */
#include "lower.h"
#include <math.h>
#include <string.h>

/* ---- calls --------------------------------------------------------------- */


/* The nearest function name for "did you mean": the functions and layers
 * in scope (the model's methods, module functions, builtins) only. */
static const char *nearest_function(Env *e, const char *name) {
  static const char *builtins[] = {"exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "softplus", "gelu", "erf",
                                   "sign", "leaky_relu", "elu", "softmax", "log_softmax", "sum", "mean", "max",
                                   "reshape", "transpose", "concat", "onehot", "argmax", "size", "maximum", "where",
                                   "idx", "npy", "csv", "text", "graph", "mlm", "matmul", "rand_uniform", "rand_normal", "cos", "sin",
                                   "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "max_pool2d_indices",
                                   "max_unpool2d", "arange", NULL};
  Suggest s;
  suggest_init(&s, name);
  for (Env *p = e; p; p = p->parent) {
    for (Binding *b = p->b; b; b = b->next)
      if (b->v && (b->v->k == V_FN || b->v->k == V_INST)) suggest_offer(&s, b->name);
    if (!p->self) continue;
    for (Binding *b = p->self->members; b; b = b->next)
      if (b->v && b->v->k == V_INST) suggest_offer(&s, b->name); /* a layer is called by its name */
    for (int i = 0; i < p->self->model->nlist; i++)
      if (p->self->model->list[i]->kind == AST_FN) suggest_offer(&s, p->self->model->list[i]->name);
  }
  for (int i = 0; i < mod->nitems; i++)
    if (mod->items[i]->kind == AST_FN) suggest_offer(&s, mod->items[i]->name);
  for (int i = 0; builtins[i]; i++) suggest_offer(&s, builtins[i]);
  return suggest_pick(&s);
}

Value *call(Env *e, Ast *x) {
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
    for (Env *p = e; p && !f; p = p->parent) f = lookup_b(p->b, &p->ix, callee->name);
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
      const char *near = nearest_function(e, callee->name);
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
  if (!self || lookup_b(fenv->b, &fenv->ix, s->name)) return false;
  Value *m = lookup_b(self->members, &self->mix, s->name);
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
    case AST_FOR: {
      int64_t lo, hi;
      if (!for_range(fenv, s, &lo, &hi)) { *bad = true; break; }
      for (int64_t t = lo; t < hi && !*returned && !*bad; t++) {
        bind(fenv, s->name, for_value(s, t));
        exec_stmts(fenv, self, s->list, s->nlist, ret, returned, bad);
      }
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
  if (type_elem(t) != v->n->dt || !shape_eq(&want, &v->n->sh)) {
    diag_error(site->loc, "argument '%s' of '%s' expects %s%s, got %s", param->name, fn->name, dtype_name(type_elem(t)),
               shape_str(&want), tstr(v->n));
    diag_note(param->loc, "'%s' is declared here", param->name);
    if (type_elem(t) != v->n->dt) note_float(t, fenv->self);
    return false;
  }
  return true;
}

static Value *inline_fn(Ast *fn, Inst *self, Ast *site, Value **args, int nargs);
static Value *inline_body(Ast *fn, Inst *self, Ast *site, Value **args, int nargs, Env *fenv, Env *dims);

/* An error inside the body (in the stdlib, say) is followed by a note at
 * each call site that led there: "in expansion of `Dense`". */
Value *call_fn(Ast *fn, Inst *self, Ast *site, Value **args, int nargs) {
  /* a layer called by its name (`l1(x)`) is its model's forward: `Dense` */
  bool layer_call = self && site->kind == AST_CALL && site->a->kind == AST_NAME && strcmp(site->a->name, fn->name);
  const char *what = !self ? fn->name
                     : layer_call ? self->model->name
                     : arena_printf("%s.%s", self->model->name, fn->name);
  diag_push_expansion(site->loc, what);
  Value *r = inline_fn(fn, self, site, args, nargs);
  diag_pop_expansion();
  return r;
}

static Value *inline_fn(Ast *fn, Inst *self, Ast *site, Value **args, int nargs) {
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
  Dtype saved_elem = elem_type;
  if (self) elem_type = self->elem;
  Value *r = inline_body(fn, self, site, args, nargs, fenv, dims);
  elem_type = saved_elem;
  return r;
}

/* inline_fn's work once the element type is the callee's */
static Value *inline_body(Ast *fn, Inst *self, Ast *site, Value **args, int nargs, Env *fenv, Env *dims) {
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
        (type_elem(fn->a) != ret->n->dt || !shape_eq(&want, &ret->n->sh))) {
      diag_error(last_return ? last_return->loc : ret->loc, "'%s' returns %s but is declared to return %s%s", fn->name, tstr(ret->n),
                 dtype_name(type_elem(fn->a)), shape_str(&want));
      diag_note(fn->a->loc, "return type declared here");
      if (type_elem(fn->a) != ret->n->dt) note_float(fn->a, self);
      return NULL;
    }
  }
  if (self && strcmp(fn->name, "forward") == 0 && ret->k == V_TENSOR && !self->out_shape)
    self->out_shape = shape_str(&ret->n->sh);
  return ret;
}

