/*
 * lower_call.c — calls: a `fn` is inlined as a template over shapes (its
 * dimension names bound by unifying declared and actual types), statements
 * run in order, model methods see their instance; builtins go to
 * lower_builtin.c and models are instantiated by lower_model.c.
 */
#include "lower.h"
#include <math.h>
#include <string.h>
#include <stdlib.h>

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

static void exec_stmts(Env *fenv, Inst *self, Ast **list, int n, Value **ret, bool *returned, bool *bad);

/* ---- a `for` kept as a loop (scan.c) ---------------------------------------
 *
 * The body is run at every step with the names it assigns that hold
 * tensors bound to placeholders (scan vars), and each step's graph is
 * compared with the first's (then dropped: nothing reads it).  If they are
 * the same but for slices of values from before the loop whose start
 * moves by a fixed step along one axis (x[:, t, :]) or scalar constants
 * that do ((t + 1) * h),
 * the loop is a scan: those slices become per-step sequence inputs, a name
 * that held a tensor (or a list of them) is a carry, and a list the body
 * only appends to (out = out + [h]) collects a per-step value.  Anything
 * else (a `return` inside, a new tensor name, a state update, shapes or
 * code that depend on t) is unrolled as before. */

/* append x to a growing array of structs */
#define SPUSH(arr, n, cap, x) do { \
    if ((n) == (cap)) { \
      (cap) = (cap) ? 2 * (cap) : 8; \
      void *na_ = arena_alloc(sizeof *(arr) * (size_t)(cap)); \
      if (n) memcpy(na_, (arr), sizeof *(arr) * (size_t)(n)); \
      (arr) = na_; \
    } \
    (arr)[(n)++] = (x); \
  } while (0)

typedef struct LoopNames { const char **v; int n, cap; bool ret; } LoopNames;

static void loop_names(Ast **list, int n, LoopNames *ln) {
  for (int i = 0; i < n; i++) {
    Ast *s = list[i];
    const char *nm = s->kind == AST_ASSIGN || s->kind == AST_FOR ? s->name : NULL;
    if (nm) {
      bool have = false;
      for (int j = 0; j < ln->n && !have; j++) have = !strcmp(ln->v[j], nm);
      if (!have) PUSH(ln->v, ln->n, ln->cap, nm);
    }
    if (s->kind == AST_RETURN) ln->ret = true;
    if (s->kind == AST_IF || s->kind == AST_FOR) loop_names(s->list, s->nlist, ln);
    if (s->kind == AST_IF) loop_names(s->args, s->nargs, ln);
  }
}

static bool same_value(const Value *a, const Value *b) {
  if (a == b) return true;
  if (!a || !b || a->k != b->k) return false;
  switch (a->k) {
  case V_TENSOR: return a->n == b->n;
  case V_NUM: return a->num == b->num && a->is_int == b->is_int && a->i == b->i;
  case V_DIM: return a->dim.k == b->dim.k && a->dim.b == b->dim.b;
  case V_LIST:
    if (a->nitems != b->nitems) return false;
    for (int i = 0; i < a->nitems; i++)
      if (!same_value(a->items[i], b->items[i])) return false;
    return true;
  default: return false;
  }
}

/* Structural equality of the graphs of two steps, steps apart: slices
 * whose start differs along one axis are recorded (diffs). */
/* axis -1: a scalar constant whose value moves by fdelta a step ((t + 1) * h) */
typedef struct Diff { Node *a; int axis; int64_t delta; double fdelta; } Diff;
typedef struct Match {
  Node **pair; int first; Diff *d; int nd, capd; const char *isvar; char *dep;
  int *touched; int nt, capt; /* the pairs set, to forget them for the next step */
} Match;

static bool var_dep(Match *m, Node *n) {
  if (n->id < m->first) return false;
  if (m->dep[n->id]) return m->dep[n->id] == 1;
  bool r = m->isvar[n->id];
  for (int j = 0; j < n->nin && !r; j++) r = var_dep(m, n->in[j]);
  m->dep[n->id] = r ? 1 : 2;
  return r;
}

static bool match(Match *m, Node *a, Node *b, int64_t steps) {
  /* a constant is shared: one that moves with t must move at every use */
  if (a == b && a->op != OP_CONST) return true;
  if (m->pair[a->id]) return m->pair[a->id] == b;
  m->pair[a->id] = b;
  SPUSH(m->touched, m->nt, m->capt, a->id);
  if (a == b) return true;
  if (a->op == OP_CONST && b->op == OP_CONST && a->dt == b->dt && !a->sh.rank && !b->sh.rank && !a->bpow && !b->bpow) {
    SPUSH(m->d, m->nd, m->capd, ((Diff){a, -1, 0, (b->fv - a->fv) / (double)steps}));
    return true;
  }
  if (a->op != b->op || a->dt != b->dt || !shape_eq(&a->sh, &b->sh) || a->nin != b->nin || a->bpow != b->bpow ||
      a->slot != b->slot || memcmp(&a->fv, &b->fv, sizeof a->fv)) {
    return false;
  }
  if (memcmp(a->ia, b->ia, sizeof a->ia)) {
    if (a->op != OP_SLICE || a->in[0] != b->in[0] || var_dep(m, a->in[0]) || a->in[0]->op == OP_CONST) return false;
    int axis = -1;
    for (int d = 0; d < a->sh.rank; d++)
      if (a->ia[d] != b->ia[d]) {
        if (axis >= 0) return false;
        axis = d;
      }
    if (a->sh.d[axis].k != 1 || a->sh.d[axis].b || a->in[0]->sh.d[axis].b || (b->ia[axis] - a->ia[axis]) % steps) return false;
    SPUSH(m->d, m->nd, m->capd, ((Diff){a, axis, (b->ia[axis] - a->ia[axis]) / steps, 0}));
    return true;
  }
  for (int j = 0; j < a->nin; j++)
    if (!match(m, a->in[j], b->in[j], steps)) return false;
  return true;
}

static bool match_values(Match *m, Value *a, Value *b, int64_t steps) {
  if (!a || !b || a->k != b->k) return false;
  if (a->k == V_TENSOR) return match(m, a->n, b->n, steps);
  if (a->k == V_LIST) {
    if (a->nitems != b->nitems) return false;
    for (int i = 0; i < a->nitems; i++)
      if (!match_values(m, a->items[i], b->items[i], steps)) return false;
    return true;
  }
  return same_value(a, b);
}

/* n with the recorded slices replaced by their vars (sub, by id) */
static Node *rebuild(Node *n, Node **sub, Node **memo, int first) {
  if (n->id < first) return n;
  if (sub[n->id]) return sub[n->id];
  if (memo[n->id]) return memo[n->id];
  Node **in = arena_alloc(sizeof(Node *) * (size_t)(n->nin + 1));
  bool changed = false;
  for (int j = 0; j < n->nin; j++) {
    in[j] = rebuild(n->in[j], sub, memo, first);
    changed = changed || in[j] != n->in[j];
  }
  Node *r = changed ? node_intern(n->op, n->dt, n->sh, in, n->nin, n->ia, n->fv, n->bpow, n->slot, n->name, n->loc) : n;
  memo[n->id] = r;
  return r;
}

/* The value of a name before the loop, with its tensors (also those of a
 * list) replaced by fresh vars; NULL if it cannot be carried. */
static Value *with_vars(Value *v, Loc loc) {
  if (v->k == V_TENSOR) return mk_tensor(g_scanvar(v->n->dt, v->n->sh), loc);
  if (v->k != V_LIST) return v;
  Value *l = mk(V_LIST, loc);
  for (int i = 0; i < v->nitems; i++) {
    Value *it = v->items[i];
    if (!it || it->k == V_LIST) return NULL;
    PUSH(l->items, l->nitems, l->capitems, it->k == V_TENSOR ? mk_tensor(g_scanvar(it->n->dt, it->n->sh), loc) : it);
  }
  return l;
}

static Value *lookup_local(Env *e, const char *name) { return lookup_b(e->b, &e->ix, name); }

/* NNC_SCAN_DEBUG=1: why a loop of 3 steps or more is unrolled */
static bool unrolled(Ast *s, const char *why) {
  const char *e = getenv("NNC_SCAN_DEBUG");
  if (e && !strcmp(e, "1"))
    fprintf(stderr, "%s:%d: the loop is unrolled, not a scan: %s\n", s->loc.file ? s->loc.file->path : "?", s->loc.line, why);
  return false;
}

/* Try to lower the loop as a scan: true if done (or if the body's errors
 * were reported), false to unroll it. */
static bool try_scan(Env *fenv, Inst *self, Ast *s, int64_t lo, int64_t hi, bool *bad) {
  int64_t T = hi - lo;
  if (!scan_enabled || T < SCAN_MIN_STEPS || stuck) return false;
  static int scanning;
  if (scanning) return unrolled(s, "a loop inside a scanned loop"); /* an inner loop of a scanned body is unrolled */
  LoopNames ln = {0};
  loop_names(s->list, s->nlist, &ln);
  if (ln.ret) return unrolled(s, "a 'return' inside");
  int first = graph_node_count();
  Binding *head = fenv->b;
  int errors = diag_error_count(), nupd0 = nupd;
  Node **upd0 = arena_alloc(sizeof(Node *) * (size_t)(nupd + 1));
  for (int i = 0; i < nupd; i++) upd0[i] = upd[i].node;
  Value **init = arena_alloc(sizeof(Value *) * (size_t)(ln.n + 1)), **bound = arena_alloc(sizeof(Value *) * (size_t)(ln.n + 1));
  Value **res[3];
  bool ok = true;
  for (int i = 0; i < ln.n && ok; i++) {
    init[i] = lookup_local(fenv, ln.v[i]);
    if (init[i] == &poison) ok = false;
    if (init[i] && !(bound[i] = with_vars(init[i], s->loc))) ok = false;
  }
  if (!ok) return unrolled(s, "a name it assigns cannot be carried");
  for (int i = 0; i < ln.n; i++)
    if (init[i]) bind(fenv, ln.v[i], bound[i]);
  Binding *vars_head = fenv->b;
  int cap0 = graph_node_count() + 1;
  char *isvar = arena_alloc(cap0);
  for (int i = 0; i < ln.n; i++) {
    if (!init[i]) continue;
    Value *b = bound[i];
    if (b->k == V_TENSOR) isvar[b->n->id] = 1;
    if (b->k == V_LIST)
      for (int j = 0; j < b->nitems; j++)
        if (b->items[j]->k == V_TENSOR) isvar[b->items[j]->n->id] = 1;
  }
  /* every step must build the graph of the first, but for the slices that
   * move by a fixed step (found between the first two) */
  int64_t scale0 = flops_scale;
  flops_scale = 0; /* counted once the loop is known to be a scan, or when unrolled */
  scanning++;
  Match m1 = {0}, m2 = {0};
  int cap = 0;
  const char *why = NULL;
  for (int64_t t = lo; t < hi && ok && !why; t++) {
    fenv->b = vars_head;
    fenv->ix = (NameIndex){0};
    bind(fenv, s->name, for_value(s, t));
    Value *ret = NULL;
    bool returned = false, b2 = false;
    exec_stmts(fenv, self, s->list, s->nlist, &ret, &returned, &b2);
    int r = t - lo < 2 ? (int)(t - lo) : 2;
    res[r] = arena_alloc(sizeof(Value *) * (size_t)(ln.n + 1));
    for (int i = 0; i < ln.n; i++) res[r][i] = lookup_local(fenv, ln.v[i]);
    if (b2 || returned || stuck || diag_error_count() != errors) { ok = false; break; }
    for (int i = 0; i < ln.n && !why; i++) {
      if (!res[r][i]) why = "the body failed or assigned a tensor name it did not have before";
      else if (!init[i] && (res[r][i]->k == V_TENSOR || res[r][i]->k == V_LIST)) why = "a tensor name first assigned inside";
    }
    if (why || r == 0) continue;
    if (r == 1) {
      cap = graph_node_count() + 1; /* the first step's nodes are older */
      m1 = (Match){.pair = arena_alloc(sizeof(Node *) * cap), .first = first, .isvar = isvar, .dep = arena_alloc(cap)};
      m2 = (Match){.pair = arena_alloc(sizeof(Node *) * cap), .first = first, .isvar = isvar, .dep = m1.dep};
      for (int i = 0; i < ln.n && !why; i++)
        if (!match_values(&m1, res[0][i], res[1][i], 1)) why = "the steps build different graphs";
      continue;
    }
    for (int i = 0; i < m2.nt; i++) m2.pair[m2.touched[i]] = NULL;
    m2.nt = m2.nd = 0;
    for (int i = 0; i < ln.n && !why; i++)
      if (!match_values(&m2, res[0][i], res[2][i], t - lo)) why = "the steps build different graphs";
    if (!why && m1.nd != m2.nd) why = "the steps build different graphs";
    for (int i = 0; i < m1.nd && !why; i++) {
      bool found = false;
      for (int j = 0; j < m2.nd && !found; j++)
        found = m2.d[j].a == m1.d[i].a && m2.d[j].axis == m1.d[i].axis && m2.d[j].delta == m1.d[i].delta &&
                m2.d[j].fdelta == m1.d[i].fdelta;
      if (!found) why = "a slice does not move by a fixed step";
    }
  }
  scanning--;
  flops_scale = scale0;
  bool state_changed = nupd != nupd0;
  for (int i = 0; i < nupd0 && !state_changed; i++) state_changed = upd[i].node != upd0[i];
  fenv->b = head;
  fenv->ix = (NameIndex){0};
  if (state_changed) {
    nupd = nupd0;
    for (int i = 0; i < nupd0; i++) upd[i].node = upd0[i];
    if (diag_error_count() == errors) return unrolled(s, "a state update inside");
  }
  if (diag_error_count() != errors || stuck) { *bad = true; return true; }
  if (!ok) return unrolled(s, "the body failed");
  if (why) return unrolled(s, why);
  /* the sequences */
  Node **sub = arena_alloc(sizeof(Node *) * cap), **memo = arena_alloc(sizeof(Node *) * cap);
  int first_diff = cap; /* no node older than the first slice replaced needs rebuilding */
  for (int i = 0; i < m1.nd; i++)
    if (m1.d[i].a->id < first_diff) first_diff = m1.d[i].a->id;
  ScanSeq *sq = arena_alloc(sizeof *sq * (size_t)(m1.nd + 1));
  for (int i = 0; i < m1.nd; i++) {
    Node *a = m1.d[i].a;
    if (m1.d[i].axis < 0) { /* the constant's values, a vector over the steps */
      Node *x = g_binary(OP_ADD, g_binary(OP_MUL, g_iota(T, a->dt), g_scalar(m1.d[i].fdelta, a->dt)), g_scalar(a->fv, a->dt));
      ScanSeq q = {.x = x, .var = g_scanvar(a->dt, a->sh), .axis = 0, .delta = 1, .slice = {1, {{1, 0}}}};
      sq[i] = q;
      sub[a->id] = q.var;
      continue;
    }
    ScanSeq q = {.x = a->in[0], .var = g_scanvar(a->dt, a->sh), .axis = m1.d[i].axis, .delta = m1.d[i].delta, .slice = a->sh};
    memcpy(q.start, a->ia, sizeof q.start);
    sq[i] = q;
    sub[a->id] = q.var;
  }
  /* carries and collected lists */
  ScanCarry *cy = NULL;
  int nc = 0, capc = 0;
  ScanStep *st = NULL;
  int ny = 0, capy = 0;
  int *kind = arena_alloc(sizeof(int) * (size_t)(ln.n + 1)); /* 0 number, 1 carry, 2 append, 3 prepend */
  int *step0 = arena_alloc(sizeof(int) * (size_t)(ln.n + 1)), *carry0 = arena_alloc(sizeof(int) * (size_t)(ln.n + 1));
  char *collected = arena_alloc(cap); /* vars of collected lists: the body must not read them */
  for (int i = 0; i < ln.n; i++) {
    Value *b = bound[i], *r = res[0][i];
    carry0[i] = nc;
    step0[i] = ny;
    if (!init[i] || (b->k != V_TENSOR && b->k != V_LIST)) {
      if (init[i] && !same_value(r, init[i])) return unrolled(s, "a number changes from step to step");
      kind[i] = 0;
      continue;
    }
    if (b->k == V_TENSOR) {
      if (r->k != V_TENSOR) return unrolled(s, "a tensor name gets another kind of value");
      Node *nx = rebuild(r->n, sub, memo, first_diff);
      if (nx->dt != b->n->dt || !shape_eq(&nx->sh, &b->n->sh)) return unrolled(s, "a carried tensor changes its type or shape");
      SPUSH(cy, nc, capc, ((ScanCarry){.init = init[i]->n, .var = b->n, .next = nx}));
      kind[i] = 1;
      continue;
    }
    if (r->k != V_LIST) return unrolled(s, "a list name gets another kind of value");
    int n0 = b->nitems;
    bool append = r->nitems > n0, prepend = r->nitems > n0;
    for (int j = 0; j < n0 && append; j++) append = r->items[j] == b->items[j];
    for (int j = 0; j < n0 && prepend; j++) prepend = r->items[r->nitems - n0 + j] == b->items[j];
    if (append || prepend) {
      kind[i] = append ? 2 : 3;
      for (int j = 0; j < n0; j++)
        if (b->items[j]->k == V_TENSOR) collected[b->items[j]->n->id] = 1;
      for (int j = 0; j < r->nitems - n0; j++) {
        Value *it = r->items[append ? n0 + j : j];
        if (it->k != V_TENSOR) return unrolled(s, "a collected list gets a non-tensor");
        SPUSH(st, ny, capy, ((ScanStep){.val = rebuild(it->n, sub, memo, first_diff), .n = T, .base = 0, .delta = 1}));
      }
      continue;
    }
    if (r->nitems != n0) return unrolled(s, "a carried list changes its length");
    kind[i] = 1;
    for (int j = 0; j < n0; j++) {
      Value *bi = b->items[j], *ri = r->items[j];
      if (bi->k != V_TENSOR) {
        if (!same_value(bi, ri)) return unrolled(s, "a carried list's number changes");
        continue;
      }
      if (ri->k != V_TENSOR) return unrolled(s, "a carried list's tensor gets another kind of value");
      Node *nx = rebuild(ri->n, sub, memo, first_diff);
      if (nx->dt != bi->n->dt || !shape_eq(&nx->sh, &bi->n->sh)) return unrolled(s, "a carried tensor changes its type or shape");
      SPUSH(cy, nc, capc, ((ScanCarry){.init = init[i]->items[j]->n, .var = bi->n, .next = nx}));
    }
  }
  /* a collected list's own items are not read by the body; a carry's next
   * is no other carry's var (the copies at the end of a step would clash) */
  int cap2 = graph_node_count() + 1;
  char *coll2 = arena_alloc(cap2);
  memcpy(coll2, collected, cap);
  collected = coll2;
  for (int i = 0; i < nc; i++) {
    if (collected[cy[i].next->id]) return unrolled(s, "a collected list's items are read by the body");
    for (int j = 0; j < nc; j++)
      if (j != i && cy[i].next == cy[j].var) return unrolled(s, "carried values swap");
  }
  for (int i = 0; i < nc; i++) {
    Match dm = {.first = first, .isvar = collected, .dep = arena_alloc(cap2)};
    if (var_dep(&dm, cy[i].next)) return unrolled(s, "a collected list's items are read by the body");
  }
  for (int i = 0; i < ny; i++) {
    Match dm = {.first = first, .isvar = collected, .dep = arena_alloc(cap2)};
    if (var_dep(&dm, st[i].val)) return unrolled(s, "a collected list's items are read by the body");
  }
  /* the FLOPs of T steps: the first step again (the same nodes), counted T times */
  fenv->b = vars_head;
  fenv->ix = (NameIndex){0};
  bind(fenv, s->name, for_value(s, lo));
  flops_scale = scale0 * T;
  scanning++;
  {
    Value *ret = NULL;
    bool returned = false, b2 = false;
    exec_stmts(fenv, self, s->list, s->nlist, &ret, &returned, &b2);
  }
  scanning--;
  flops_scale = scale0;
  fenv->b = head;
  fenv->ix = (NameIndex){0};
  Scan *sc = scan_new(T, false, cy, nc, sq, m1.nd, st, ny, training_mode);
  /* the names after the loop */
  for (int i = 0; i < ln.n; i++) {
    if (!init[i]) {
      if (res[0][i] && same_value(res[0][i], res[2][i])) bind(fenv, ln.v[i], res[2][i]);
      continue;
    }
    Value *b = bound[i], *v = init[i];
    if (kind[i] == 1 && b->k == V_TENSOR) v = mk_tensor(sc->c[carry0[i]].out, s->loc);
    else if (kind[i] == 1) {
      v = mk(V_LIST, s->loc);
      for (int j = 0, c = carry0[i]; j < b->nitems; j++)
        PUSH(v->items, v->nitems, v->capitems, b->items[j]->k == V_TENSOR ? mk_tensor(sc->c[c++].out, s->loc) : init[i]->items[j]);
    } else if (kind[i] >= 2) {
      int per = res[0][i]->nitems - b->nitems;
      Value **items = arena_alloc(sizeof(Value *) * (size_t)(per * T + 1));
      for (int64_t t = 0; t < T; t++)
        for (int j = 0; j < per; j++) {
          Node *y = sc->y[step0[i] + j].out;
          int64_t start[MAX_RANK] = {t};
          Shape one = y->sh;
          one.d[0] = (Dim){1, 0};
          Node *row = g_reshape(g_slice(y, start, one), sc->y[step0[i] + j].val->sh);
          items[kind[i] == 2 ? t * per + j : (T - 1 - t) * per + j] = mk_tensor(row, s->loc);
        }
      v = mk(V_LIST, s->loc);
      if (kind[i] == 3)
        for (int64_t j = 0; j < per * T; j++) PUSH(v->items, v->nitems, v->capitems, items[j]);
      for (int j = 0; j < init[i]->nitems; j++) PUSH(v->items, v->nitems, v->capitems, init[i]->items[j]);
      if (kind[i] == 2)
        for (int64_t j = 0; j < per * T; j++) PUSH(v->items, v->nitems, v->capitems, items[j]);
    }
    bind(fenv, ln.v[i], v);
  }
  bind(fenv, s->name, for_value(s, hi - 1));
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
      if (try_scan(fenv, self, s, lo, hi, bad)) break;
      int64_t from = lo;
      if (scan_enabled && !*bad && hi - lo - 1 >= SCAN_MIN_STEPS) {
        /* the first step may build another graph ((t + 1) * h folds to h
         * at t = 0): run it on its own, then try the rest as a scan */
        bind(fenv, s->name, for_value(s, lo));
        exec_stmts(fenv, self, s->list, s->nlist, ret, returned, bad);
        from = lo + 1;
        if (!*returned && !*bad && try_scan(fenv, self, s, lo + 1, hi, bad)) break;
      }
      for (int64_t t = from; t < hi && !*returned && !*bad; t++) {
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

