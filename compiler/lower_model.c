/*
 * lower_model.c — models: instantiating one makes its parameters and state
 * slots (with their initialisers checked) and its layers instances of their
 * own, and records the info rows `OUT info` prints.  Each instance has an
 * element type (its site's dtype = "f64", else its model's declared one,
 * else its parent's) that its float[...] declarations resolve to.
 */
#include "lower.h"
#include <math.h>
#include <string.h>

/* ---- models and parameters ----------------------------------------------- */

SlotDesc *new_slot(int role, const char *name, Dtype dt, Shape sh) {
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
bool no_empty_dim(Ast *type, const Shape *sh, const char *name) {
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

static Inst *instantiate_body(Ast *model, Ast *site, Value **args, int nargs, const char *prefix);

/* An error while building a layer (its params' shapes, its sub-layers)
 * in another file is followed by "in expansion of `Model`" at the layer
 * declaration (diag.c).  elem is the instance's element type, which its
 * `float[...]` declarations and its layers (unless told otherwise) take. */
Inst *instantiate(Ast *model, Ast *site, Value **args, int nargs, const char *prefix, Dtype elem) {
  diag_push_expansion(site->loc, model->name);
  Dtype saved = elem_type;
  elem_type = elem;
  Inst *in = instantiate_body(model, site, args, nargs, prefix);
  elem_type = saved;
  diag_pop_expansion();
  return in;
}

/* The element type of an instance of model: dt when the layer's site
 * names one (dtype = "f64"), else the model's declared one (`model M:
 * f64`), else the enclosing instance's (outer). */
Dtype model_elem(Ast *model, int dt, Dtype outer) {
  if (dt >= 0) return dt == DT_F32 ? dtype_f32() : (Dtype)dt;
  if (model->b) return (Dtype)model->b->op; /* the parser promoted f32 under --f64 */
  return outer;
}

/* The `dtype = "f64"` of a layer's site: its element type, or -1. */
static bool layer_dtype(Env *env, Ast *kw, Ast *model, int *dt) {
  if (strcmp(kw->name, "dtype")) {
    diag_error(kw->loc, "model '%s' takes its arguments by position; its one keyword is dtype = \"f32\" or \"f64\"",
               model->name);
    return false;
  }
  Value *v = eval(env, kw->a);
  if (!v) return false;
  if (v->k == V_STR && (!strcmp(v->s, "f32") || !strcmp(v->s, "f64"))) {
    *dt = !strcmp(v->s, "f64") ? DT_F64 : DT_F32;
    return true;
  }
  if (v->k == V_STR) diag_error(kw->a->loc, "a layer's dtype is \"f32\" or \"f64\", not \"%s\"", v->s);
  else diag_error(kw->a->loc, "a layer's dtype is a string, \"f32\" or \"f64\"");
  return false;
}

static Inst *instantiate_body(Ast *model, Ast *site, Value **args, int nargs, const char *prefix) {
  Inst *in = arena_alloc(sizeof *in);
  in->model = model;
  in->elem = elem_type;
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
      /* a state may lead with the batch dimension B: one row per batch
       * position, carried from one training step to the next (§8.5) */
      bool carried = m->kind == AST_STATE && m->a->nargs > 0 && m->a->args[0]->kind == AST_NAME &&
                     !strcmp(m->a->args[0]->name, "B") && !lookup(env, "B");
      if (!eval_type(env, m->a, carried ? env_new(NULL, NULL) : NULL, NULL, &sh) ||
          !no_empty_dim(m->a, &sh, m->name))
        continue;
      for (int d = 0; d < sh.rank; d++)
        if (sh.d[d].b && (d > 0 || !carried)) {
          if (carried)
            diag_error(m->a->args[d]->loc, "unknown dimension '%s': only a state's first dimension may be free "
                       "(the batch B)", m->a->args[d]->kind == AST_NAME ? m->a->args[d]->name : "?");
          else
            diag_error(m->a->loc, "parameter '%s' cannot have a batch dimension", m->name);
          sh.rank = 0;
        }
      if (!check_init(m->b)) continue;
      HyperCall ic = {0};
      if (m->b && (!hyper_eval(env, m->b, &ic) || !check_init_args(m->b, &ic))) continue;
      if (!m->b) ic.name = sh.rank >= 2 ? "xavier_uniform" : "zeros";
      const char *full = arena_printf("%s%s", prefix, m->name);
      bool is_param = m->kind == AST_PARAM;
      SlotDesc *s = new_slot(is_param ? NNRT_SLOT_PARAM : NNRT_SLOT_STATE, full, type_elem(m->a), sh);
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
      int na = 0, dt = -1;
      bool ok = true;
      for (int j = 0; j < c->nargs && na < 8; j++) {
        Env *ae = in->ctor ? env_new(in->ctor, NULL) : env;
        if (c->args[j]->kind == AST_KWARG) {
          ok = layer_dtype(ae, c->args[j], mm, &dt) && ok;
          continue;
        }
        av[na] = eval(ae, c->args[j]);
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
      Inst *sub = instantiate(mm, c, av, na, arena_printf("%s%s.", prefix, m->name), model_elem(mm, dt, in->elem));
      nexpanding--;
      depth--;
      if (!sub) continue;
      sub->elem_given = dt >= 0;
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

