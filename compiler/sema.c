/*
 * sema.c — loading a program with its imports, and checking declarations.
 *
 * sema_load parses the main file, then each import depth first, each file
 * once however often it is imported.  An import cycle (a file importing,
 * through others, one still being loaded) is a warning naming it.  Module.items holds the top-level
 * items of every file, each file's imports before its own items; the import
 * statements themselves are not kept.
 *
 * The checks look at declarations only: names defined twice, what a train
 * block refers to, the types a declaration allows, statements in the wrong
 * place.  Names inside expressions are left alone: resolving them needs the
 * scopes that lower.c builds.  If any file has a syntax error the checks are
 * skipped, since a half-read program would only produce false alarms.
 */
#include "nnc.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *sema_stdlib_dir(void) {
  const char *env = getenv("NNC_STDLIB");
  if (env && *env)
    return env;
#ifdef NNC_STDLIB_DIR
  return NNC_STDLIB_DIR;
#else
  return "stdlib";
#endif
}

/* ---- loading ----------------------------------------------------------- */

typedef struct Loader {
  Module *m;
  const char **seen; int nseen, capseen; /* canonical paths already loaded */
  const SrcFile **open; int nopen, capopen; /* the files being loaded, outermost first */
} Loader;

/* The name a file is known by for "load once": its real path if it has one. */
static const char *canonical(const char *path) {
  char buf[PATH_MAX];
  return realpath(path, buf) ? arena_strdup(buf) : arena_strdup(path);
}

static bool seen_before(Loader *ld, const char *path) {
  const char *c = canonical(path);
  for (int i = 0; i < ld->nseen; i++)
    if (!strcmp(ld->seen[i], c))
      return true;
  PUSH(ld->seen, ld->nseen, ld->capseen, c);
  return false;
}

/* `import "nn"` is the standard library's nn.nn; anything with a '/' or
 * ending in ".nn" is a path relative to the importing file's directory. */
static const char *import_path(const char *importer, const char *name) {
  size_t len = strlen(name);
  bool is_path = strchr(name, '/') || (len >= 3 && !strcmp(name + len - 3, ".nn"));
  if (!is_path)
    return arena_printf("%s/%s.nn", sema_stdlib_dir(), name);
  if (name[0] == '/')
    return name;
  const char *slash = strrchr(importer, '/');
  if (!slash)
    return name;
  return arena_printf("%.*s/%s", (int)(slash - importer), importer, name);
}

/* An import of a file still being loaded closes a cycle: "a.nn -> b.nn ->
 * a.nn".  It is legal (each file is loaded once, so the import that
 * closes the cycle does nothing) but worth a warning naming it, since the
 * importing file's items then come after, not before, the imported one's.
 * A file reached twice along different paths is no cycle. */
static bool import_cycle(Loader *ld, Ast *imp, const char *path) {
  const char *c = canonical(path);
  for (int i = 0; i < ld->nopen; i++) {
    if (strcmp(canonical(ld->open[i]->path), c))
      continue;
    const char *chain = "";
    for (int j = i; j < ld->nopen; j++) chain = arena_printf("%s%s -> ", chain, ld->open[j]->path);
    diag_warning(imp->loc, "import cycle: %s%s (each file is loaded once; this import does nothing)", chain,
                 ld->open[i]->path);
    return true;
  }
  return false;
}

/* sema_keep_parsed's files, by canonical path. */
static struct Kept { const char *canon; SrcFile *f; Ast *prog; } *kept;
static int nkept;

static const struct Kept *find_kept(const char *path) {
  if (!nkept)
    return NULL;
  const char *c = canonical(path);
  for (int i = 0; i < nkept; i++)
    if (!strcmp(kept[i].canon, c))
      return &kept[i];
  return NULL;
}

bool sema_keep_parsed(const char *path) {
  const char *why;
  SrcFile *f = src_load(path, &why);
  if (!f)
    return false;
  int errors_before = diag_error_count();
  Ast *prog = parse_file(f);
  if (diag_error_count() != errors_before)
    return false;
  struct Kept *grown = realloc(kept, sizeof *kept * (size_t)(nkept + 1));
  if (!grown)
    return false;
  kept = grown;
  kept[nkept++] = (struct Kept){canonical(path), f, prog};
  return true;
}

/* prog: f's syntax tree if already parsed (sema_keep_parsed), else NULL. */
static void load_file(Loader *ld, const SrcFile *f, Ast *prog) {
  PUSH(ld->m->files, ld->m->nfiles, ld->m->capfiles, f);
  PUSH(ld->open, ld->nopen, ld->capopen, f);
  if (!prog)
    prog = parse_file(f);
  for (int i = 0; i < prog->nlist; i++) {
    Ast *imp = prog->list[i];
    if (imp->kind != AST_IMPORT)
      continue;
    const char *path = import_path(f->path, imp->name), *why;
    if (import_cycle(ld, imp, path) || seen_before(ld, path))
      continue;
    const struct Kept *k = find_kept(path);
    SrcFile *g = k ? k->f : src_load(path, &why);
    if (!g && access(path, F_OK) != 0) {
      diag_error(imp->loc, "cannot find import \"%s\" (looked in %s)", imp->name, path);
      continue;
    }
    if (!g) {
      diag_error(imp->loc, "import \"%s\": '%s' %s", imp->name, path, why);
      continue;
    }
    load_file(ld, g, k ? k->prog : NULL);
  }
  ld->nopen--;
  for (int i = 0; i < prog->nlist; i++)
    if (prog->list[i]->kind != AST_IMPORT)
      PUSH(ld->m->items, ld->m->nitems, ld->m->capitems, prog->list[i]);
}

/* ---- checks ------------------------------------------------------------ */

static const char *describe_kind(AstKind k) {
  switch (k) {
  case AST_MODEL: return "a model";
  case AST_FN: return "a function";
  case AST_DATA: return "a data block";
  case AST_CONST: return "a constant";
  default: return "something else";
  }
}

/* Report `what 'name'` if an earlier node in items[0..n) has the name. */
static void check_unique(Ast *const *items, int n, Ast *x, const char *what) {
  for (int i = 0; i < n; i++) {
    if (items[i]->name && !strcmp(items[i]->name, x->name)) {
      diag_error(x->loc, "%s '%s'", what, x->name);
      diag_note(items[i]->loc, "previous definition is here");
      return;
    }
  }
}

static bool has_name(const Ast *n) {
  switch (n->kind) {
  case AST_MODEL: case AST_FN: case AST_DATA: case AST_CONST: return true;
  default: return false;
  }
}

/* Statements: `return` only in functions, `minimize` only in training. */
static void check_stmts(Ast *const *stmts, int n, bool in_fn, bool in_train) {
  for (int i = 0; i < n; i++) {
    const Ast *s = stmts[i];
    if (s->kind == AST_RETURN && !in_fn)
      diag_error(s->loc, "'return' outside a function");
    if (s->kind == AST_MINIMIZE && !in_train)
      diag_error(s->loc, "'minimize' outside a train block");
    if (s->kind == AST_FOR || s->kind == AST_STEP || s->kind == AST_IF)
      check_stmts(s->list, s->nlist, in_fn, in_train);
    if (s->kind == AST_IF)
      check_stmts(s->args, s->nargs, in_fn, in_train);
  }
}

static void check_fn(const Ast *fn) {
  for (int i = 0; i < fn->nargs; i++)
    check_unique(fn->args, i, fn->args[i], "duplicate parameter");
  check_stmts(fn->list, fn->nlist, true, false);
}

/* param and state hold trainable or running values: real tensors only. */
static void check_tensor_decl(const Ast *d) {
  const char *what = ast_kind_name(d->kind);
  const Ast *t = d->a;
  if (!t)
    return;
  if (t->op2)
    diag_error(t->loc, "%s '%s' needs a tensor type such as f32[...], not '%s'", what, d->name,
               t->op == DT_I32 ? "int" : "float");
  else if (t->op != DT_F32 && t->op != DT_F64 && t->op != DT_FLOAT)
    diag_error(t->loc, "%s '%s' must be f32, f64 or float (the model's), not %s", what, d->name, dtype_name((Dtype)t->op));
}

static void check_model(const Ast *model) {
  /* Constructor params and members share one namespace. */
  Ast **names = NULL;
  int n = 0, cap = 0;
  if (model->b && model->b->op != DT_F32 && model->b->op != DT_F64)
    diag_error(model->b->loc, "a model's element type is f32 or f64, not %s", dtype_name((Dtype)model->b->op));
  for (int i = 0; i < model->nargs; i++) {
    Ast *arg = model->args[i];
    check_unique(names, n, arg, "duplicate parameter");
    PUSH(names, n, cap, arg);
    if (!arg->a)
      diag_error(arg->loc, "model parameter '%s' needs a type: 'int' or 'float'", arg->name);
    else if (!arg->a->op2)
      diag_error(arg->a->loc, "model parameter '%s' must be 'int' or 'float'", arg->name);
  }
  for (int i = 0; i < model->nlist; i++) {
    Ast *mem = model->list[i];
    check_unique(names, n, mem, "redefinition of");
    PUSH(names, n, cap, mem);
    if (mem->kind == AST_PARAM || mem->kind == AST_STATE)
      check_tensor_decl(mem);
    if (mem->kind == AST_FN)
      check_fn(mem);
  }
}

static void check_data(const Ast *data) {
  for (int i = 0; i < data->nlist; i++) {
    Ast *f = data->list[i];
    if (f->a && f->a->op == DT_FLOAT && !f->a->op2)
      diag_error(f->a->loc, "a data field's element type is written out (f32, f64, i32): 'float' is a model's");
    for (int j = 0; j < i; j++) {
      const Ast *g = data->list[j];
      if (g->op == f->op && !strcmp(g->name, f->name)) {
        diag_error(f->loc, "duplicate %sfield '%s'", f->op ? "test " : "", f->name);
        diag_note(g->loc, "previous definition is here");
        break;
      }
    }
  }
}

/* The item named `name`, whatever its kind. */
static Ast *find_any(const Module *m, const char *name) {
  for (int i = 0; i < m->nitems; i++)
    if (has_name(m->items[i]) && !strcmp(m->items[i]->name, name))
      return m->items[i];
  return NULL;
}

/* `train X on D`: X is a model, D a data block. */
static void check_ref(const Module *m, const Ast *train, const char *name, AstKind want,
                      const char *what) {
  Ast *x = find_any(m, name);
  if (!x) {
    Suggest s;
    suggest_init(&s, name);
    for (int i = 0; i < m->nitems; i++)
      if (m->items[i]->kind == want) suggest_offer(&s, m->items[i]->name);
    if (suggest_pick(&s))
      diag_error(train->loc, "unknown %s '%s'; did you mean '%s'?", what, name, suggest_pick(&s));
    else
      diag_error(train->loc, "unknown %s '%s'", what, name);
  } else if (x->kind != want) {
    diag_error(train->loc, "'%s' is %s, not a %s", name, describe_kind(x->kind), what);
    diag_note(x->loc, "'%s' is defined here", name);
  }
}

/* Whether statements hold a minimize, in fors and ifs too. */
static bool has_minimize(Ast *const *list, int n) {
  for (int i = 0; i < n; i++)
    if (list[i]->kind == AST_MINIMIZE ||
        ((list[i]->kind == AST_FOR || list[i]->kind == AST_IF) && has_minimize(list[i]->list, list[i]->nlist)) ||
        (list[i]->kind == AST_IF && has_minimize(list[i]->args, list[i]->nargs)))
      return true;
  return false;
}

static void check_train(const Module *m, const Ast *train) {
  check_ref(m, train, train->name, AST_MODEL, "model");
  check_ref(m, train, train->name2, AST_DATA, "data block");
  bool has_loss = false;
  const Ast *step = NULL;
  for (int i = 0; i < train->nlist; i++) {
    const Ast *s = train->list[i];
    if ((s->kind == AST_ASSIGN && !strcmp(s->name, "loss")) || s->kind == AST_MINIMIZE ||
        (s->kind == AST_FOR && has_minimize(s->list, s->nlist)))
      has_loss = true;
    if (s->kind == AST_STEP) {
      if (step) {
        diag_error(s->loc, "more than one 'step' block in a train block");
        diag_note(step->loc, "the first one is here");
      }
      step = s;
    }
  }
  if (!has_loss && !step)
    diag_error(train->loc, "train block needs a 'loss = ...;' assignment, a 'minimize' statement or a 'step' block");
  check_stmts(train->list, train->nlist, false, true);
}

static void check_module(const Module *m) {
  for (int i = 0; i < m->nitems; i++) {
    Ast *item = m->items[i];
    if (has_name(item)) {
      for (int j = 0; j < i; j++) {
        if (has_name(m->items[j]) && !strcmp(m->items[j]->name, item->name)) {
          diag_error(item->loc, "redefinition of '%s'", item->name);
          diag_note(m->items[j]->loc, "previous definition is here");
          break;
        }
      }
    }
    switch (item->kind) {
    case AST_MODEL: check_model(item); break;
    case AST_FN: check_fn(item); break;
    case AST_DATA: check_data(item); break;
    case AST_TRAIN: check_train(m, item); break;
    default: break;
    }
  }
}

Module *sema_load(const char *path, const char **why) {
  SrcFile *f = src_load(path, why);
  return f ? sema_load_src(f) : NULL;
}

Module *sema_load_src(SrcFile *f) {
  Loader ld = {.m = arena_alloc(sizeof(Module))};
  ld.m->main_path = f->path;
  int errors_before = diag_error_count();
  seen_before(&ld, f->path);
  load_file(&ld, f, NULL);
  if (diag_error_count() == errors_before)
    check_module(ld.m);
  return ld.m;
}

Ast *sema_find(const Module *m, AstKind kind, const char *name) {
  for (int i = 0; i < m->nitems; i++)
    if (m->items[i]->kind == kind && m->items[i]->name && !strcmp(m->items[i]->name, name))
      return m->items[i];
  return NULL;
}

Ast *sema_find_member(const Ast *model, AstKind kind, const char *name) {
  Ast *const *items = kind == AST_ARG ? model->args : model->list;
  int n = kind == AST_ARG ? model->nargs : model->nlist;
  for (int i = 0; i < n; i++)
    if (items[i]->kind == kind && items[i]->name && !strcmp(items[i]->name, name))
      return items[i];
  return NULL;
}
