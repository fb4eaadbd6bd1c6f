/*
 * lower_train.c — the train block: data sources become INPUT slots, the
 * optimizer, schedule and settings are checked at their values, the block is
 * lowered in training and inference mode (the loss, the metric, `show`,
 * state updates), and lower_program returns the Program of forward graphs
 * that the passes after it differentiate, fuse and plan.
 */
#include "lower.h"
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* ---- data and the train block -------------------------------------------- */

/* A text(...) source of field f (per-sample type `type`, shape ps): token
 * ids, so i32[T]; the program's text sources agree on words and the cap,
 * and the train split reads one corpus (the vocabulary's); a test text
 * source needs a train one. */
static bool check_text(Ast *f, Ast *type, const Shape *ps, Value *src, DataSrc *ds) {
  if ((Dtype)type->op != DT_I32 || ps->rank != 1 || ps->d[0].b != 0) {
    diag_error(type->loc, "a text(...) field holds token ids: its type must be i32[T] (one window of T tokens), not %s%s",
               dtype_name((Dtype)type->op), shape_str(ps));
    return false;
  }
  if (src->scale != 1 || src->normalize) {
    diag_error(f->b->loc, "text(...) gives token ids: they cannot be scaled or normalised");
    return false;
  }
  bool test = !strcmp(ds->split, "test"), train_text = false;
  for (int j = 0; j < prog->nsrcs; j++) {
    DataSrc *o = prog->srcs[j];
    if (o->kind != 2) continue;
    if (o->words != src->words || o->vocab != src->vocab) {
      diag_error(f->b->loc, "every text(...) source of a program shares one vocabulary: '%s' has vocab = %lld, words = %d, "
                 "but '%s' has vocab = %lld, words = %d", f->name, (long long)src->vocab, src->words, o->field,
                 (long long)o->vocab, o->words);
      return false;
    }
    if (!strcmp(o->split, "train")) {
      train_text = true;
      if (!test && strcmp(o->path, src->s)) {
        diag_error(f->b->loc, "the train split reads one text corpus (its vocabulary is the run's): '%s' reads \"%s\", "
                   "but '%s' reads \"%s\"", f->name, src->s, o->field, o->path);
        return false;
      }
    }
  }
  if (test && !train_text) {
    diag_error(f->b->loc, "a test text(...) source is encoded with the train corpus's vocabulary: field '%s' needs a "
               "text(...) train source", f->name);
    return false;
  }
  ds->kind = 2;
  ds->vocab = src->vocab;
  ds->len = ps->d[0].k;
  ds->shift = src->shift;
  ds->stride = src->stride;
  ds->words = src->words;
  return true;
}

/* An mlm(...) source of field f: its part's type (i32[T] for ids,
 * segments and target, f32[T] for keep and weight, i32[] for next, T =
 * seq); the program's mlm sources share the vocabulary and the length, and
 * those of a split one file and its sampling, so their samples line up; a
 * test mlm source needs a train one (the vocabulary's). */
static bool check_mlm(Ast *f, Ast *type, const Shape *ps, Value *src, DataSrc *ds) {
  static const char *const parts[] = {"ids", "segments", "keep", "target", "weight", "next"};
  bool next = src->part == 5, real = src->part == 2 || src->part == 4;
  Dtype want = real ? DT_F32 : DT_I32;
  if ((Dtype)type->op != want || ps->rank != (next ? 0 : 1) || (!next && (ps->d[0].b || ps->d[0].k != src->seq))) {
    if (next)
      diag_error(type->loc, "mlm(..., part = \"next\") is the next-sentence label of a sample: its type must be i32[], not %s%s",
                 dtype_name((Dtype)type->op), shape_str(ps));
    else
      diag_error(type->loc, "mlm(..., part = \"%s\") gives one value per token: its type must be %s[%lld] (seq = %lld), not %s%s",
                 parts[src->part], dtype_name(want), (long long)src->seq, (long long)src->seq, dtype_name((Dtype)type->op),
                 shape_str(ps));
    return false;
  }
  if (src->scale != 1 || src->normalize) {
    diag_error(f->b->loc, "mlm(...) gives token ids, masks and labels: they cannot be scaled or normalised");
    return false;
  }
  bool test = !strcmp(ds->split, "test"), train_mlm = !test;
  for (int j = 0; j < prog->nsrcs; j++) {
    DataSrc *o = prog->srcs[j];
    if (o->kind != 4) continue;
    if (o->words != src->words || o->vocab != src->vocab || o->len != src->seq) {
      diag_error(f->b->loc, "every mlm(...) source of a program shares one vocabulary and length: '%s' has vocab = %lld, "
                 "words = %d, seq = %lld, but '%s' has vocab = %lld, words = %d, seq = %lld", f->name, (long long)src->vocab,
                 src->words, (long long)src->seq, o->field, (long long)o->vocab, o->words, (long long)o->len);
      return false;
    }
    train_mlm |= !strcmp(o->split, "train");
    if (strcmp(o->split, ds->split)) continue;
    if (strcmp(o->path, src->s) || o->mask != src->mask || o->pairs != src->pairs || o->copies != src->copies) {
      diag_error(f->b->loc, "the mlm(...) fields of a split are parts of the same samples: '%s' reads \"%s\" with mask = %g, "
                 "pairs = %d, copies = %lld, but '%s' reads \"%s\" with mask = %g, pairs = %d, copies = %lld", f->name, src->s,
                 src->mask, src->pairs, (long long)src->copies, o->field, o->path, o->mask, o->pairs, (long long)o->copies);
      return false;
    }
  }
  if (!train_mlm) {
    diag_error(f->b->loc, "a test mlm(...) source is encoded with the train file's vocabulary: field '%s' needs an mlm(...) "
               "train source", f->name);
    return false;
  }
  ds->kind = 4;
  ds->vocab = src->vocab;
  ds->len = src->seq;
  ds->words = src->words;
  ds->mask = src->mask;
  ds->pairs = src->pairs;
  ds->copies = src->copies;
  ds->part = src->part;
  return true;
}

/* dir joined with path's directory part ("" and "." for none); *base
 * points at path's last component. */
static void split_path(const char *dir, const char *path, char *out, size_t cap, const char **base) {
  const char *slash = strrchr(path, '/');
  *base = slash ? slash + 1 : path;
  int n = slash ? (int)(slash - path) + (slash == path) : 0;
  if (path[0] == '/' || !*dir) snprintf(out, cap, "%.*s", n, path);
  else snprintf(out, cap, "%s/%.*s", dir, n, path);
  if (!*out) snprintf(out, cap, ".");
}

/* The nearest name to base among the files of dir, or NULL. */
static const char *near_file(const char *dir, const char *base) {
  DIR *d = opendir(dir);
  if (!d) return NULL;
  Suggest sg;
  suggest_init(&sg, base);
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') suggest_offer(&sg, arena_strdup(e->d_name));
  closedir(d);
  return suggest_pick(&sg);
}

/* A data file named by a compile-time path that exists neither from the
 * directory nnc runs in nor beside the source file gets a warning at the
 * path (it may be made before the program runs: the run-time error
 * stays), with the nearest name in its directory, once per path.  The
 * warnings wait until the program has passed every check (passes.c calls
 * lower_data_warnings after 'checked'): a program with errors shows its
 * errors alone. */
#define MAX_DATA_WARNINGS 64
static struct { Loc at; const char *path, *near; int keep; } warned[MAX_DATA_WARNINGS];
static int nwarned;

void lower_data_warnings(void) {
  for (int i = 0; i < nwarned; i++) {
    const char *how = warned[i].path[0] == '/' ? "" : " (a relative path is opened from where the program runs)";
    if (warned[i].near)
      diag_warning(warned[i].at, "data file \"%s\" does not exist%s; did you mean \"%.*s%s\"?", warned[i].path, how,
                   warned[i].keep, warned[i].path, warned[i].near);
    else
      diag_warning(warned[i].at, "data file \"%s\" does not exist%s", warned[i].path, how);
  }
  nwarned = 0;
}

static void warn_missing_data(Loc at, const char *path) {
  struct stat st;
  char srcdir[4096], dir[4096];
  const char *base, *srcpath = at.file ? at.file->path : "";
  const char *slash = strrchr(srcpath, '/');
  snprintf(srcdir, sizeof srcdir, "%.*s", slash ? (int)(slash - srcpath) : 0, srcpath);
  split_path("", path, dir, sizeof dir, &base);
  if (stat(path, &st) == 0) return;
  char beside[8192];
  snprintf(beside, sizeof beside, "%s/%s", srcdir, path);
  if (path[0] != '/' && *srcdir && stat(beside, &st) == 0) return;
  for (int i = 0; i < nwarned; i++)
    if (!strcmp(warned[i].path, path)) return;
  if (nwarned == MAX_DATA_WARNINGS) return;
  const char *near = near_file(dir, base);
  if (!near && path[0] != '/' && *srcdir) {
    split_path(srcdir, path, dir, sizeof dir, &base);
    near = near_file(dir, base);
  }
  warned[nwarned].at = at;
  warned[nwarned].path = path;
  warned[nwarned].near = near;
  warned[nwarned++].keep = (int)(base - path);
}

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
      Ast *call = f->b;
      while (call->kind == AST_BINOP && call->a) call = call->a; /* idx(...) / 255 */
      warn_missing_data(call->kind == AST_CALL && call->nargs > 0 ? call->args[0]->loc : f->b->loc, src->s);
      ds->scale = src->scale;
      ds->kind = src->dkind;
      ds->col_begin = src->c0;
      ds->col_end = src->c1;
      ds->header = src->header;
      ds->normalize = src->normalize;
      ds->node_mask = src->node_mask;
      if (src->dkind == 2 && !check_text(f, type, &ps, src, ds)) { ok = false; continue; }
      if (src->dkind == 3) { /* graph("edges.csv"): A of one graph, f32[N, N], f64[N, N] or csr[N, N] */
        Dtype t = (Dtype)type->op;
        if ((t != DT_F32 && t != DT_F64 && t != DT_CSR) || ps.rank != 2 || ps.d[0].b || ps.d[1].b || ps.d[0].k != ps.d[1].k) {
          diag_error(type->loc, "a graph(...) field is the adjacency of one graph: its type must be f32[N, N] or "
                     "f64[N, N] (dense) or csr[N, N] (sparse), not %s%s", dtype_name(t), shape_str(&ps));
          ok = false;
          continue;
        }
        ds->len = ps.d[0].k;
        ds->norm = src->norm;
        ds->csr = t == DT_CSR;
        ds->f64 = t == DT_CSR ? dtype_program() == DT_F64 : t == DT_F64;
      } else if ((Dtype)type->op == DT_CSR) {
        diag_error(type->loc, "a csr[N, N] field is read by graph(\"edges.csv\"), not by %s",
                   src->dkind == 1 ? "csv(...)" : src->dkind == 2 ? "text(...)" : src->dkind == 4 ? "mlm(...)" : "idx(...)");
        ok = false;
        continue;
      }
      if (src->dkind == 4 && !check_mlm(f, type, &ps, src, ds)) { ok = false; continue; }
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
      diag_error(f->b->loc, "a data field is idx(\"file\"), csv(...), npy(...), text(...) or a table literal, found %s", vkind_name(src));
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

bool known_optimizer(const char *name) {
  static const char *names[] = {"sgd", "momentum", "nesterov", "nag", "adagrad", "adadelta", "rmsprop", "adam", "adamw", NULL};
  for (int i = 0; names[i]; i++)
    if (!strcmp(names[i], name)) return true;
  return false;
}

bool hyper_eval(Env *e, Ast *c, HyperCall *h) {
  if (!e) e = env_new(NULL, NULL);
  Ast *nm = c->kind == AST_CALL ? c->a : c;
  h->name = nm->kind == AST_NAME ? nm->name : "constant";
  h->n = 0;
  if (c->kind == AST_NUM || c->kind == AST_UNOP) { /* `= 0.5`: constant(0.5) */
    double x;
    if (!as_num(eval(e, c), c, &x)) return false;
    h->vals[h->n++] = x;
    return true;
  }
  if (c->kind != AST_CALL) return true;
  for (int i = 0; i < c->nargs && h->n < 16; i++) {
    Ast *a = c->args[i];
    Ast *v = a->kind == AST_KWARG ? a->a : a;
    double x;
    if (!as_num(eval(e, v), v, &x)) return false;
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
  const char *owners; /* ' '-separated optimizers that take it; NULL: every owner */
} Setting;

#define SGDS "sgd momentum nesterov nag"
#define ADAPTIVE "adagrad adadelta rmsprop adam adamw"
static const Setting optimizer_settings[] = {
  {"lr learning_rate", 0, INFINITY, false, true, false, ">= 0", NULL},
  {"weight_decay wd", 0, INFINITY, false, true, false, ">= 0", NULL},
  {"momentum", 0, 1, false, true, false, "in [0, 1)", SGDS},
  {"dampening", 0, 1, false, false, false, "in [0, 1]", SGDS},
  {"nesterov", 0, 1, false, false, true, "0 or 1", SGDS},
  {"lookahead", 0, 1, false, false, true, "0 or 1", SGDS},
  {"eps epsilon", 0, INFINITY, true, true, false, "> 0", ADAPTIVE},
  {"lr_decay", 0, INFINITY, false, true, false, ">= 0", "adagrad"},
  {"initial_accumulator_value", 0, INFINITY, false, true, false, ">= 0", "adagrad"},
  {"rho alpha decay", 0, 1, false, true, false, "in [0, 1)", "adadelta rmsprop"},
  {"centered", 0, 1, false, false, true, "0 or 1", "rmsprop"},
  {"beta1", 0, 1, false, true, false, "in [0, 1)", "adam adamw"},
  {"beta2", 0, 1, false, true, false, "in [0, 1)", "adam adamw"},
  {"amsgrad", 0, 1, false, false, true, "0 or 1", "adam adamw"},
  {NULL, 0, 0, false, false, false, NULL, NULL},
};
#undef SGDS
#undef ADAPTIVE
static const Setting schedule_settings[] = {
  {"step_size", 1, INFINITY, false, true, true, "a whole number of epochs >= 1", NULL},
  {"gamma", 0, INFINITY, true, true, false, "> 0", NULL},
  {"warmup_epochs warmup", 0, INFINITY, false, true, false, ">= 0", NULL},
  {"min_lr", 0, INFINITY, false, true, false, ">= 0", NULL},
  {"t_max epochs", 0, INFINITY, false, true, false, ">= 0", NULL},
  {NULL, 0, 0, false, false, false, "step_size, gamma, warmup_epochs, min_lr or t_max", NULL},
};
static const Setting augment_settings[] = {
  {"crop", 0, 1024, false, false, true, "a whole number of pixels in [0, 1024]", NULL},
  {"flip", 0, 1, false, false, true, "0 or 1", NULL},
  {"rotate", 0, 180, false, false, false, "in [0, 180] degrees", NULL},
  {NULL, 0, 0, false, false, false, "crop, flip or rotate", NULL},
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

/* The settings of the table that `owner` takes, by their first spelling:
 * "lr, weight_decay or momentum" (the end row's range when it has one). */
static void owner_settings(const Setting *table, const char *owner, char *buf, size_t cap) {
  const Setting *s = table;
  int n = 0, k = 0;
  for (; s->names; s++) n += !s->owners || is_spelling(s->owners, owner);
  if (s->range) { snprintf(buf, cap, "%s", s->range); return; }
  size_t at = 0;
  buf[0] = 0;
  for (s = table; s->names && at < cap; s++) {
    if (s->owners && !is_spelling(s->owners, owner)) continue;
    k++;
    at += (size_t)snprintf(buf + at, cap - at, "%s%.*s", k == 1 ? "" : k == n ? " or " : ", ",
                           (int)strcspn(s->names, " "), s->names);
  }
}

/* kw = value, a setting of `owner` (adam, cosine, images). */
static bool check_setting(const Setting *table, const char *owner, Ast *kw, double v) {
  const Setting *s = table;
  while (s->names && !is_spelling(s->names, kw->name)) s++;
  if (!s->names || (s->owners && !is_spelling(s->owners, owner))) {
    char list[256];
    owner_settings(table, owner, list, sizeof list);
    diag_error(kw->loc, "'%s' has no setting '%s' (expected %s)", owner, kw->name, list);
    return false;
  }
  bool below = s->lo_open ? !(v > s->lo) : !(v >= s->lo), above = s->hi_open ? !(v < s->hi) : !(v <= s->hi);
  if (!isfinite(v) || below || above || (s->integer && v != floor(v))) {
    diag_error(kw->a->loc, "'%s' of '%s' must be %s, not %g", kw->name, owner, s->range, v);
    return false;
  }
  return true;
}

/* lookahead = 1 is nesterov's look-ahead form: it needs nesterov (the
 * optimizer, or nesterov = 1) and takes no dampening (runtime/optim.c). */
static bool check_lookahead(Ast *c) {
  Ast *la = NULL;
  bool nesterov = !strcmp(c->a->name, "nesterov") || !strcmp(c->a->name, "nag"), damped = false;
  for (int i = 0; i < c->nargs; i++) {
    double x;
    if (!as_num(eval(env_new(NULL, NULL), c->args[i]->a), c->args[i]->a, &x)) return false;
    if (!strcmp(c->args[i]->name, "lookahead") && x != 0) la = c->args[i];
    if (!strcmp(c->args[i]->name, "nesterov") && x != 0) nesterov = true;
    if (!strcmp(c->args[i]->name, "dampening") && x != 0) damped = true;
  }
  if (!la) return true;
  if (!nesterov) {
    diag_error(la->loc, "lookahead = 1 is the look-ahead form of nesterov: use nesterov(...) or add nesterov = 1");
    return false;
  }
  if (damped) {
    diag_error(la->loc, "lookahead = 1 takes no dampening");
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
  if (ok && known == known_optimizer) ok = check_lookahead(c);
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

/* An eval-kernel output the runtime asks for by name (`show`, `sample`),
 * computed only when it does (KOut.on_demand). */
static void on_demand_output(Node *n, const char *name) {
  SlotDesc *ss = new_slot(NNRT_SLOT_OUTPUT, name, n->dt, n->sh);
  ss->what = name;
  kernel_add_out(&prog->eval_k, n, prog->nslots - 1, name);
  prog->eval_k.outs[prog->eval_k.nouts - 1].on_demand = true;
}

/* The network's output, what `OUT predict` writes and `nnc export` puts in
 * an ONNX file: the train block's `predict = ...;`, else the prediction
 * its classifier loss takes (cross_entropy(forward(x), y): forward(x)),
 * else its `show = ...;`; all in inference mode.  None of them: no
 * output (both commands then say how to add one). */
static bool predict_output(Node *clf) {
  Node *n = clf && clf->sh.rank >= 1 && clf->sh.d[0].b == 1 && clf->sh.d[0].k == 1 ? clf : NULL;
  if (predict_value) {
    n = predict_value->k == V_TENSOR ? predict_value->n : NULL;
    if (!n || n->sh.rank < 1 || n->sh.d[0].b != 1 || n->sh.d[0].k != 1) {
      diag_error(predict_at->loc, "'predict' must be a tensor with the batch first, like forward(x), found %s",
                 n ? tstr(n) : vkind_name(predict_value));
      return false;
    }
  } else if (!n && show_value) {
    n = show_value->n; /* checked above */
  }
  if (n) on_demand_output(n, "predict");
  return true;
}

/* `sample = logits;`: the next token's logits [B, V] given the window in
 * the train split's text field read with shift 0, V the vocabulary cap;
 * `OUT sample` evaluates it in inference mode, one window at a time. */
static bool sample_output(void) {
  Node *n = sample_value->k == V_TENSOR ? sample_value->n : NULL;
  const DataSrc *win = NULL;
  for (int i = 0; i < prog->nsrcs; i++)
    if (prog->srcs[i]->kind == 2 && !strcmp(prog->srcs[i]->split, "train") && prog->srcs[i]->shift == 0) win = prog->srcs[i];
  if (!win) { /* images from noise: a generator's or decoder's output, batch first */
    if (!n || n->sh.rank < 2 || n->sh.d[0].b != 1 || n->sh.d[0].k != 1 || (n->dt != DT_F32 && n->dt != DT_F64)) {
      diag_error(sample_at->loc, "'sample' without text data draws images: a float tensor with the batch first, like "
                 "G(rand_normal([size(x, 0), 64])), found %s", n ? tstr(n) : vkind_name(sample_value));
      return false;
    }
  } else if (!n || n->sh.rank != 2 || n->sh.d[0].b != 1 || n->sh.d[0].k != 1 || n->sh.d[1].b || n->sh.d[1].k != win->vocab ||
      (n->dt != DT_F32 && n->dt != DT_F64)) {
    diag_error(sample_at->loc, "'sample' must be the logits of the next token, f32[B, %lld] (vocab = %lld), found %s",
               (long long)win->vocab, (long long)win->vocab, n ? tstr(n) : vkind_name(sample_value));
    return false;
  }
  on_demand_output(n, "sample");
  return true;
}

/* The `minimize` statements met, in order: the statement and its loss in
 * training (v[0]) and inference mode (v[1]); imin counts the second pass's.
 * loss_assign / opt_assign: the first `loss =` and `optimizer =`, which
 * cannot be mixed with `minimize`. */
typedef struct MinStmt { Ast *s; Value *v[2]; int group; int64_t reps; } MinStmt;
static MinStmt **mins;
static int nmins, capmins, imin;
/* The `for` of minimize statements being lowered (§8.4): its group and
 * iterations; for_group < 0 outside one.  ngroups numbers the groups. */
static int for_group = -1, ngroups;
static int64_t for_reps = 1;
static Ast *for_at;

/* Whether statements hold a minimize (in steps, ifs and fors too). */
static bool has_minimize(Ast **list, int n) {
  for (int i = 0; i < n; i++) {
    Ast *s = list[i];
    if (s->kind == AST_MINIMIZE) return true;
    if ((s->kind == AST_STEP || s->kind == AST_FOR || s->kind == AST_IF) && has_minimize(s->list, s->nlist)) return true;
    if (s->kind == AST_IF && has_minimize(s->args, s->nargs)) return true;
  }
  return false;
}

/* The first use of name in a, or NULL. */
static Ast *find_name(Ast *a, const char *name) {
  if (!a) return NULL;
  if (a->kind == AST_NAME && a->name && !strcmp(a->name, name)) return a;
  Ast *r = find_name(a->a, name);
  if (!r) r = find_name(a->b, name);
  for (int i = 0; !r && i < a->nlist; i++) r = find_name(a->list[i], name);
  for (int i = 0; !r && i < a->nargs; i++) r = find_name(a->args[i], name);
  return r;
}
static Ast *loss_assign, *opt_assign;

/* The statements of a train block.  Settings (optimizer, epochs, ...) are
 * read in the first pass only; expressions are lowered in both. */
/* `metric NAME = EXPR;`: a scalar of the batch (a mean, like the loss)
 * that the runtime averages over each split and prints beside the loss;
 * v[0] in training mode, v[1] in inference mode. */
#define MAX_METRICS 8 /* runtime/include/nnrt.h's NNRT_MAX_METRICS */
static struct {
  Ast *s;
  Node *v[2];
  Node *det[5];        /* detection_map(...): its five tensors (inference mode) */
  int64_t classes;
  double iou;
} metrics[MAX_METRICS];
static int nmetrics;

/* `metric NAME = detection_map(boxes, scores, labels, gt_boxes, gt_labels,
 * classes = C, iou = 0.5);`: a detector's mean AP over a whole split
 * (runtime/detect_eval.c), from five tensors of the inference program:
 * detections f[B, K, 4] corners, f[B, K] scores, [B, K] labels, and truth
 * f[B, G, 4], [B, G] labels; a label < 0 is padding (nms's -1 rows). */
static void detection_metric(Env *tenv, Ast *s, int i) {
  Ast *c = s->a;
  Ast *pos[5];
  int npos = 0;
  double classes = -1, iou = 0.5;
  for (int j = 0; j < c->nargs; j++) {
    Ast *a = c->args[j];
    if (a->kind == AST_KWARG && (!strcmp(a->name, "classes") || !strcmp(a->name, "iou"))) {
      double x;
      if (!as_num(eval(env_new(NULL, NULL), a->a), a->a, &x)) return;
      *(!strcmp(a->name, "classes") ? &classes : &iou) = x;
    } else if (a->kind == AST_KWARG || npos == 5) {
      diag_error(a->loc, "detection_map(boxes, scores, labels, gt_boxes, gt_labels, classes = C, iou = 0.5) takes "
                         "five tensors, then classes and iou");
      return;
    } else {
      pos[npos++] = a;
    }
  }
  if (npos != 5 || !(classes >= 1 && classes <= 256 && classes == (int64_t)classes) || !(iou > 0 && iou <= 1)) {
    diag_error(c->loc, "detection_map(boxes, scores, labels, gt_boxes, gt_labels, classes = C, iou = 0.5): five "
                       "tensors, classes an integer in 1..256, 0 < iou <= 1");
    return;
  }
  static const char *const what[5] = {"boxes f[B, K, 4]", "scores f[B, K]", "labels [B, K]",
                                      "gt_boxes f[B, G, 4]", "gt_labels [B, G]"};
  Node *n[5];
  for (int j = 0; j < 5; j++) {
    Value *v = eval(tenv, pos[j]);
    if (!v || v == &poison) return;
    n[j] = v->k == V_TENSOR ? v->n : NULL;
    bool box = j == 0 || j == 3;
    bool ok = n[j] && n[j]->sh.rank == (box ? 3 : 2) && n[j]->sh.d[0].b == 1 && n[j]->sh.d[0].k == 1 &&
              !n[j]->sh.d[1].b && (!box || (!n[j]->sh.d[2].b && n[j]->sh.d[2].k == 4)) &&
              (n[j]->dt == DT_F32 || n[j]->dt == DT_F64 || ((j == 2 || j == 4) && n[j]->dt == DT_I32));
    if (ok && j > 0 && j != 3 && n[j]->sh.d[1].k != n[j < 3 ? 0 : 3]->sh.d[1].k) ok = false;
    if (!ok) {
      diag_error(pos[j]->loc, "detection_map: argument %d is %s, found %s", j + 1, what[j],
                 n[j] ? arena_printf("%s%s", dtype_name(n[j]->dt), shape_str(&n[j]->sh)) : vkind_name(v));
      return;
    }
  }
  memcpy(metrics[i].det, n, sizeof n);
  metrics[i].classes = (int64_t)classes;
  metrics[i].iou = iou;
}

static void train_metric(Env *tenv, Ast *s, bool first) {
  static const char *const taken[] = {"loss", "accuracy", "correct", "epoch", "lr", "seconds", NULL};
  for (int i = 0; taken[i]; i++)
    if (!strcmp(s->name, taken[i])) {
      diag_error(s->loc, "metric '%s': the name is taken by what every run prints (choose another)", s->name);
      return;
    }
  int i = 0;
  while (i < nmetrics && metrics[i].s != s) i++;
  if (i == nmetrics) { /* first pass */
    for (int j = 0; j < nmetrics; j++)
      if (!strcmp(metrics[j].s->name, s->name)) {
        diag_error(s->loc, "metric '%s' is defined twice", s->name);
        diag_note(metrics[j].s->loc, "the first one is here");
        return;
      }
    if (nmetrics == MAX_METRICS) {
      diag_error(s->loc, "more than %d metrics in a train block", MAX_METRICS);
      return;
    }
    metrics[nmetrics++].s = s;
  }
  if (s->a->kind == AST_CALL && s->a->a->kind == AST_NAME && !strcmp(s->a->a->name, "detection_map")) {
    if (!first) detection_metric(tenv, s, i); /* the inference program's detections only */
    return;
  }
  Value *v = eval(tenv, s->a);
  if (!v || v == &poison) return;
  Node *n = v->k == V_TENSOR ? v->n : NULL;
  if (!n || n->sh.rank != 0 || (n->dt != DT_F32 && n->dt != DT_F64)) {
    diag_error(s->a->loc, "metric '%s' must be a float scalar, the batch's mean (e.g. mean(...)), found %s",
               s->name, n ? arena_printf("%s%s", dtype_name(n->dt), shape_str(&n->sh)) : vkind_name(v));
    return;
  }
  metrics[i].v[first ? 0 : 1] = n;
}

static void train_stmts(Env *tenv, Ast **list, int n, bool first, Value **loss, Ast **loss_at) {
  for (int i = 0; i < n; i++) {
    Ast *s = list[i];
    if (s->kind == AST_ASSIGN) {
      const char *k = s->name;
      bool key = !strcmp(k, "optimizer") || !strcmp(k, "schedule") || !strcmp(k, "epochs") || !strcmp(k, "batch") ||
                 !strcmp(k, "seed") || !strcmp(k, "early_stop") || !strcmp(k, "augment") || !strcmp(k, "clip_norm");
      if (!strcmp(k, "show")) { /* what `OUT show` draws: evaluated in inference mode */
        if (!first) show_value = eval(tenv, s->a), show_at = s->a;
        continue;
      }
      if (!strcmp(k, "predict")) { /* what `OUT predict` writes and `nnc export` exports */
        if (!first) predict_value = eval(tenv, s->a), predict_at = s->a;
        continue;
      }
      if (!strcmp(k, "sample")) { /* what `OUT sample` draws from: logits of the token after window x */
        if (!first) sample_value = eval(tenv, s->a), sample_at = s->a;
        continue;
      }
      if (key && !first) continue; /* settings are read once, in the first pass */
      if (first && !strcmp(k, "optimizer") && !opt_assign) opt_assign = s;
      if (first && !strcmp(k, "loss") && !loss_assign) loss_assign = s;
      if (!strcmp(k, "optimizer")) {
        if (check_hyper_call(s->a, "optimizer", known_optimizer) && hyper_eval(NULL, s->a, &prog->opt)) prog->optimizer = s->a;
      } else if (!strcmp(k, "schedule")) {
        if (check_hyper_call(s->a, "schedule", known_schedule) && hyper_eval(NULL, s->a, &prog->sched)) prog->schedule = s->a;
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
        if (args_ok && hyper_eval(NULL, c, &prog->augment)) prog->has_augment = true;
      } else if (!strcmp(k, "valid")) {
        double v;
        if (!as_num(eval(tenv, s->a), s->a, &v)) continue;
        if (!(v >= 0 && v < 1)) { diag_error(s->a->loc, "'valid' is the fraction of the training data held out, in [0, 1)"); continue; }
        prog->valid = v;
      } else if (!strcmp(k, "clip_norm")) {
        /* clip_norm = X: gradients scaled to a total L2 norm of at most X
         * before each step (runtime/optim.c) */
        double v;
        if (!as_num(eval(tenv, s->a), s->a, &v)) continue;
        if (!(v > 0) || !isfinite(v)) {
          diag_error(s->a->loc, "'clip_norm' is the largest total gradient norm, a number > 0 (got %g)", v);
          continue;
        }
        prog->clip_norm = v;
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
    } else if (s->kind == AST_METRIC) {
      train_metric(tenv, s, first);
    } else if (s->kind == AST_MINIMIZE) {
      *loss = eval(tenv, s->a);
      *loss_at = s->a;
      if (first) {
        MinStmt *ms = arena_alloc(sizeof *ms);
        ms->s = s;
        ms->v[0] = *loss;
        ms->group = for_group >= 0 ? for_group : ngroups++;
        ms->reps = for_reps;
        PUSH(mins, nmins, capmins, ms);
        if (s->b && check_hyper_call(s->b, "optimizer", known_optimizer) && hyper_eval(NULL, s->b, &prog->opt)) prog->optimizer = s->b;
      } else if (imin < nmins) {
        mins[imin++]->v[1] = *loss;
      }
    } else if (s->kind == AST_STEP) { /* a step: its statements, once per batch like the block's (§8.4) */
      train_stmts(tenv, s->list, s->nlist, first, loss, loss_at);
    } else if (s->kind == AST_IF) {
      Value *c = eval(tenv, s->a);
      double x;
      if (!c || c->k == V_TENSOR || !as_num(c, s->a, &x)) {
        if (c && c->k == V_TENSOR) diag_error(s->a->loc, "'if' needs a condition known when compiling");
        continue;
      }
      if (x != 0) train_stmts(tenv, s->list, s->nlist, first, loss, loss_at);
      else train_stmts(tenv, s->args, s->nargs, first, loss, loss_at);
    } else if (s->kind == AST_FOR && has_minimize(s->list, s->nlist)) {
      /* k updates of the same objectives, each on its own batch: one kernel
       * each, run k times by the runtime (§8.4), not unrolled */
      int64_t lo, hi;
      if (!for_range(tenv, s, &lo, &hi)) continue;
      Ast *use = NULL;
      for (int i = 0; !use && i < s->nlist; i++) use = find_name(s->list[i], s->name);
      if (for_group >= 0) {
        diag_error(s->loc, "a 'for' of 'minimize' statements inside another one is not supported");
        diag_note(for_at->loc, "the outer 'for' is here");
        continue;
      }
      if (hi - lo < 1 || hi - lo > 1000000) {
        diag_error(s->loc, "a 'for' of 'minimize' statements repeats them 1 to 1000000 times, this one %lld",
                   (long long)(hi - lo));
        continue;
      }
      if (use) {
        diag_error(use->loc, "'%s' has no value here: each iteration of a 'for' of 'minimize' statements runs the "
                   "same update on the next batch (name the loop variable '_')", s->name);
        continue;
      }
      for_group = ngroups++, for_reps = hi - lo, for_at = s;
      bind(tenv, s->name, for_value(s, lo));
      train_stmts(tenv, s->list, s->nlist, first, loss, loss_at);
      for_group = -1, for_reps = 1, for_at = NULL;
    } else if (s->kind == AST_FOR) {
      int64_t lo, hi;
      if (!for_range(tenv, s, &lo, &hi)) continue;
      for (int64_t t = lo; t < hi; t++) {
        bind(tenv, s->name, for_value(s, t));
        train_stmts(tenv, s->list, s->nlist, first, loss, loss_at);
      }
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

/* ---- several objectives (§8.4) ------------------------------------------ */

/* A wrt entry as written: D, G.l1, l.w (names and members only). */
static const char *ast_str(const Ast *w) {
  if (w->kind == AST_NAME) return w->name;
  if (w->kind == AST_MEMBER) return arena_printf("%s.%s", ast_str(w->a), w->name);
  return "?";
}

/* The PARAM slots that wrt entry w names (a layer: all its params, nested
 * ones included; a param: itself), appended to o; false after an error. */
static bool wrt_params(Env *e, Ast *w, struct Objective *o, int *cap) {
  Value *v = eval(e, w);
  if (!v) return false;
  int before = o->nwrt;
  for (int i = 0; i < prog->nslots; i++) {
    SlotDesc *sd = prog->slots[i];
    if (sd->role != NNRT_SLOT_PARAM) continue;
    size_t np = v->k == V_INST ? strlen(v->inst->prefix) : 0;
    bool hit = v->k == V_INST ? !strncmp(sd->name, v->inst->prefix, np) : v->k == V_TENSOR && sd->node == v->n;
    if (!hit) continue;
    if (o->nwrt == *cap) {
      *cap = *cap ? 2 * *cap : 8;
      int *nw = arena_alloc(sizeof(int) * (size_t)*cap);
      Ast **na = arena_alloc(sizeof(Ast *) * (size_t)*cap);
      if (o->nwrt) {
        memcpy(nw, o->wrt, sizeof(int) * (size_t)o->nwrt);
        memcpy(na, o->wrt_at, sizeof(Ast *) * (size_t)o->nwrt);
      }
      o->wrt = nw, o->wrt_at = na;
    }
    o->wrt[o->nwrt] = i;
    o->wrt_at[o->nwrt++] = w;
  }
  if (o->nwrt > before) return true;
  if (v->k == V_INST) diag_error(w->loc, "'wrt' names layer '%s', which has no params", ast_str(w));
  else if (w->kind == AST_NAME || w->kind == AST_MEMBER)
    diag_error(w->loc, "'wrt' takes params and layers of the model: '%s' is %s", ast_str(w), vkind_name(v));
  else diag_error(w->loc, "'wrt' takes params and layers of the model, not %s", vkind_name(v));
  return false;
}

/* The name objective i is reported by: its loss's name when the loss is a
 * name (d_loss), else loss1, loss2, ...; a repeated one gets its number. */
static const char *objective_name(Ast *loss, int i) {
  const char *nm = loss->kind == AST_NAME ? loss->name : arena_printf("loss%d", i + 1);
  for (int j = 0; j < i; j++)
    if (!strcmp(prog->objs[j].name, nm)) return arena_printf("%s%d", nm, i + 1);
  return nm;
}

/* Several `minimize` statements, or one with `wrt`: one objective each,
 * with its own params, optimizer and train kernel; objective 0's loss is
 * the program's "loss" (loss_slot), the others get OUTPUT slots of their
 * own in every kernel that computes them (their train kernel, the eval
 * kernel).  Reports the misuses of §8.4; false after an error. */
static bool build_objectives(Env *e, int loss_slot) {
  bool any_wrt = false;
  for (int i = 0; i < nmins; i++) any_wrt |= mins[i]->s->nargs > 0;
  for (int i = 0; i < nmins; i++)
    if (mins[i]->s->nlist && nmins == 1) { /* `, schedule =` of the one objective: the program's */
      if (prog->schedule) {
        diag_error(mins[i]->s->list[0]->loc, "two schedules: this 'minimize' names one and the block another");
        diag_note(prog->schedule->loc, "the block's 'schedule' is here");
        return false;
      }
      Ast *sc = mins[i]->s->list[0];
      if (!check_hyper_call(sc, "schedule", known_schedule) || !hyper_eval(NULL, sc, &prog->sched)) return false;
      prog->schedule = sc;
    }
  if (nmins == 1 && mins[0]->reps > 1) {
    diag_error(mins[0]->s->loc, "a 'for' of 'minimize' statements repeats one objective of several (k "
               "discriminator updates per generator update); with one objective every batch is a step already");
    return false;
  }
  if (nmins == 0 || (nmins == 1 && !any_wrt)) return true; /* one loss over every param */
  if (loss_assign) {
    diag_error(loss_assign->loc, "'loss = ...' cannot be mixed with 'minimize', which states the loss itself");
    diag_note(mins[0]->s->loc, "the first 'minimize' is here");
    return false;
  }
  if (opt_assign) {
    diag_error(opt_assign->loc, "'optimizer = ...' cannot be mixed with 'minimize', which names its optimizer "
               "('minimize L wrt P using adam(lr = 0.001);')");
    diag_note(mins[0]->s->loc, "the first 'minimize' is here");
    return false;
  }
  if (nmins > 8) {
    diag_error(mins[8]->s->loc, "at most 8 'minimize' statements per step are supported, this is the ninth");
    return false;
  }
  for (int i = 0; i < nmins; i++)
    if (!mins[i]->s->nargs) {
      diag_error(mins[i]->s->loc, "with several 'minimize' statements each names the parameters it updates: add "
                 "'wrt LAYER, ...' (without it, it would update every param)");
      diag_note(mins[i ? 0 : 1]->s->loc, "another 'minimize' is here");
      return false;
    }
  if (nupd > 0 && nmins > 1) {
    diag_error(mins[1]->s->loc, "a step with several 'minimize' statements cannot update state (batch norm's "
               "running statistics) yet");
    return false;
  }
  prog->nobj = nmins;
  prog->objs = arena_alloc(sizeof *prog->objs * (size_t)nmins);
  prog->obj_k = arena_alloc(sizeof(Kernel) * (size_t)nmins);
  prog->obj_chk = arena_alloc(sizeof(Kernel) * (size_t)nmins);
  int *owner = arena_alloc(sizeof(int) * (size_t)(prog->nslots + 1));
  for (int i = 0; i < prog->nslots; i++) owner[i] = -1;
  bool ok = true;
  for (int i = 0; i < nmins; i++) {
    Ast *s = mins[i]->s;
    struct Objective *o = &prog->objs[i];
    o->at = s;
    o->name = objective_name(s->a, i);
    o->loss = mins[i]->v[0]->n;
    o->optimizer = s->b;
    o->group = mins[i]->group;
    o->reps = mins[i]->reps;
    if (!hyper_eval(NULL, s->b, &o->opt)) return false;
    if (s->nlist && nmins > 1) { /* its own schedule, in place of the block's */
      if (!check_hyper_call(s->list[0], "schedule", known_schedule) || !hyper_eval(NULL, s->list[0], &o->sched))
        return false;
      o->has_sched = true;
    }
    int cap = 0;
    for (int j = 0; j < s->nargs; j++) ok = wrt_params(e, s->args[j], o, &cap) && ok;
    for (int j = 0; j < o->nwrt; j++) {
      int w = o->wrt[j];
      if (owner[w] >= 0 && owner[w] != i) {
        diag_error(o->wrt_at[j]->loc, "parameter '%s' is updated by two objectives: '%s' already updates it",
                   prog->slots[w]->name, prog->objs[owner[w]].name);
        diag_note(prog->objs[owner[w]].at->loc, "the first 'minimize' naming it is here");
        ok = false;
      } else if (owner[w] == i) {
        diag_error(o->wrt_at[j]->loc, "parameter '%s' is named twice in this 'wrt' list", prog->slots[w]->name);
        ok = false;
      }
      owner[w] = i;
    }
    if (!ok) continue;
    if (i == 0) {
      o->slot = loss_slot;
    } else {
      SlotDesc *os = new_slot(NNRT_SLOT_OUTPUT, o->name, o->loss->dt, shape_scalar());
      os->what = "objective";
      o->slot = prog->nslots - 1;
      prog->obj_k[i].name = arena_printf("train_obj%d", i);
      kernel_add_out(&prog->obj_k[i], o->loss, o->slot, o->name);
      kernel_add_out(&prog->eval_k, mins[i]->v[1]->n, o->slot, o->name);
    }
  }
  if (!ok) return false;
  for (int i = 0; i < prog->nslots; i++)
    if (prog->slots[i]->role == NNRT_SLOT_PARAM && owner[i] < 0)
      diag_warning(prog->train->loc, "parameter '%s' is updated by no objective (no 'wrt' names it): it keeps its "
                   "initial value", prog->slots[i]->name);
  prog->optimizer = prog->objs[0].optimizer;
  prog->opt = prog->objs[0].opt;
  return true;
}

/* n·B^b elements of dt at B = batch, in bytes; false past 2^62. */
static bool bytes_at(int64_t k, int b, int64_t batch, int64_t esize, int64_t *out) {
  int64_t r = k;
  for (int i = 0; i < b; i++)
    if (__builtin_mul_overflow(r, batch, &r)) return false;
  return !__builtin_mul_overflow(r, esize, out) && *out <= (int64_t)1 << 62;
}

int program_kernels(const Program *p, const Kernel **ks) {
  int n = 0;
  ks[n++] = &p->train_k, ks[n++] = &p->eval_k, ks[n++] = &p->train_chk, ks[n++] = &p->eval_chk;
  for (int i = 1; i < p->nobj; i++) ks[n++] = &p->obj_k[i], ks[n++] = &p->obj_chk[i];
  return n;
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
  const Kernel *ks[PROGRAM_MAX_KERNELS];
  int nk = program_kernels(p, ks);
  for (int i = 0; i < nk && !what; i++) {
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
  nwarned = 0;
  /* nothing is left over from an earlier program (fuzz_lower lowers many) */
  last_return = NULL;
  show_value = NULL;
  show_at = NULL;
  nmetrics = 0;
  memset(metrics, 0, sizeof metrics);
  predict_value = NULL;
  predict_at = NULL;
  sample_value = NULL;
  sample_at = NULL;
  upd = NULL;
  nupd = capupd = 0;
  depth = eval_depth = 0;
  cur_inst = NULL;
  elem_type = program_elem = dtype_f32();
  graph_set_program_float(program_elem);
  expanding = NULL;
  nexpanding = capexpanding = 0;
  stuck = false;
  const_vals = NULL;
  mins = NULL;
  nmins = capmins = ngroups = 0;
  loss_assign = opt_assign = NULL;
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
  /* the program's constants, and the train block's, take the trained
   * model's element type */
  elem_type = program_elem = model_elem(model, -1, dtype_f32());
  graph_set_program_float(program_elem);
  /* every constant once, used or not, so that a cycle among them is found */
  for (int i = 0; i < m->nitems; i++)
    if (m->items[i]->kind == AST_CONST) const_value(m->items[i]);
  Inst *inst = instantiate(model, train, NULL, 0, "", elem_type);
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
    imin = 0;
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
  if (nmins > 0) { /* objective 0's loss is the program's "loss" */
    loss = mins[0]->v[0];
    eloss = mins[0]->v[1];
    loss_at = mins[0]->s->a;
    if (!check_loss(loss, loss_at) || !check_loss(eloss, loss_at)) return NULL;
  }
  for (int i = 1; i < nmins; i++)
    if (!check_loss(mins[i]->v[0], mins[i]->s->a) || !mins[i]->v[1] || !check_loss(mins[i]->v[1], mins[i]->s->a))
      return NULL;
  prog->loss = loss->n;
  Dtype ldt = loss->n->dt;
  SlotDesc *ls = new_slot(NNRT_SLOT_OUTPUT, "loss", ldt, shape_scalar());
  ls->what = NNRT_OUT_LOSS;
  int loss_slot = prog->nslots - 1;
  kernel_add_out(&prog->train_k, loss->n, loss_slot, "loss");
  kernel_add_out(&prog->eval_k, eloss->n, loss_slot, "loss");
  if (!build_objectives(env_new(base, inst), loss_slot)) return NULL;
  /* the accuracy of a classifier loss; a program of several objectives has none */
  Node *tc = prog->nobj > 1 ? NULL : metric_node(mp[0], my[0], mk_[0], ldt, loss_at->loc);
  Node *ec = prog->nobj > 1 ? NULL : metric_node(mp[1], my[1], mk_[1], ldt, loss_at->loc);
  if (tc && ec) {
    SlotDesc *cs = new_slot(NNRT_SLOT_OUTPUT, "correct", ldt, shape_scalar());
    cs->what = NNRT_OUT_CORRECT;
    kernel_add_out(&prog->train_k, tc, prog->nslots - 1, "correct");
    kernel_add_out(&prog->eval_k, ec, prog->nslots - 1, "correct");
  }
  if (nmetrics && prog->nobj > 1) {
    diag_error(metrics[0].s->loc, "metrics are computed in programs of one objective for now; this one has %d",
               prog->nobj);
    return NULL;
  }
  for (int i = 0; i < nmetrics; i++) {
    if (metrics[i].det[0]) { /* detection_map: five outputs of the eval kernel */
      static const char *const part[5] = {"boxes", "scores", "labels", "gt_boxes", "gt_labels"};
      for (int j = 0; j < 5; j++) {
        Node *d = metrics[i].det[j];
        SlotDesc *ms = new_slot(NNRT_SLOT_OUTPUT, arena_printf("%s.%s", metrics[i].s->name, part[j]), d->dt, d->sh);
        ms->what = arena_printf("detmap %s %d %lld %.17g", metrics[i].s->name, j, (long long)metrics[i].classes,
                                metrics[i].iou);
        kernel_add_out(&prog->eval_k, d, prog->nslots - 1, arena_printf("metric %s %s", metrics[i].s->name, part[j]));
      }
      continue;
    }
    if (!metrics[i].v[0] || !metrics[i].v[1]) return NULL; /* (reported) */
    SlotDesc *ms = new_slot(NNRT_SLOT_OUTPUT, metrics[i].s->name, metrics[i].v[0]->dt, shape_scalar());
    ms->what = NNRT_OUT_METRIC;
    const char *label = arena_printf("metric %s", metrics[i].s->name);
    kernel_add_out(&prog->train_k, metrics[i].v[0], prog->nslots - 1, label);
    kernel_add_out(&prog->eval_k, metrics[i].v[1], prog->nslots - 1, label);
  }
  if (show_value) {
    Node *n = show_value->k == V_TENSOR ? show_value->n : NULL;
    if (!n || n->sh.rank < 2 || n->sh.d[0].b != 1 || n->sh.d[0].k != 1 || (n->dt != DT_F32 && n->dt != DT_F64)) {
      diag_error(show_at->loc, "'show' must be a float tensor with the batch first, like forward(x), found %s",
                 vkind_name(show_value));
      return NULL;
    }
    on_demand_output(n, "show");
  }
  if (!predict_output(mp[1])) return NULL;
  if (sample_value && !sample_output()) return NULL;
  /* new values of state (running statistics), written after the step */
  for (int i = 0; i < nupd; i++) {
    kernel_add_out(&prog->train_k, upd[i].node, upd[i].slot, arena_printf("state %s", upd[i].name));
    prog->train_k.outs[prog->train_k.nouts - 1].deferred = true;
  }
  /* info rows: the layers in declaration order, and the top model's own params */
  fill_info(inst);
  return diag_error_count() ? NULL : prog;
}
