/*
 * program.c — stores the description that generated nnc_setup code builds
 * with the nnrt_* calls: slots, initialisers, grads, inputs, outputs, data,
 * train config, augmentation, optimizers, schedules, kernels and info rows.
 *
 * Invariants: every array and string is copied into memory from nnrt_alloc
 * (the caller's may be temporaries); the first error (a misuse by generated
 * code, an unknown name, out of memory) is recorded in p->err and makes all
 * later calls no-ops, so nnrt_main reports exactly one cause.  Nothing is
 * loaded or allocated for running here; session.c does that.
 */
#include "program.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void fail(NnrtProgram *p, const char *fmt, ...) {
  if (p->failed)
    return;
  p->failed = true;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, sizeof p->err, fmt, ap);
  va_end(ap);
}

static void *alloc(NnrtProgram *p, size_t bytes, const char *what) {
  void *q = nnrt_alloc(bytes, what);
  if (!q)
    fail(p, "out of memory allocating %s (%zu bytes)", what, bytes);
  return q;
}

static char *dup(NnrtProgram *p, const char *s, const char *what) {
  if (!s)
    s = "";
  size_t n = strlen(s) + 1;
  char *d = alloc(p, n, what);
  if (d)
    memcpy(d, s, n);
  return d;
}

/* Make room for index i in a dynamic array; new elements are zeroed. */
static bool reserve(NnrtProgram *p, void **arr, int *cap, int i, size_t elem, const char *what) {
  if (p->failed || i < 0)
    return false;
  if (i < *cap)
    return true;
  int ncap = *cap ? *cap : 8;
  while (ncap <= i)
    ncap *= 2;
  char *q = alloc(p, (size_t)ncap * elem, what);
  if (!q)
    return false;
  memset(q, 0, (size_t)ncap * elem);
  if (*arr)
    memcpy(q, *arr, (size_t)*cap * elem);
  nnrt_free(*arr);
  *arr = q;
  *cap = ncap;
  return true;
}

static NnrtSlotDesc *slot_at(NnrtProgram *p, int slot, const char *caller) {
  if (p->failed)
    return NULL;
  if (slot < 0 || slot >= p->nslots) {
    fail(p, "%s: slot %d is not declared (the program has %d slots)", caller, slot, p->nslots);
    return NULL;
  }
  return &p->slots[slot];
}

void nnrt_program(NnrtProgram *p, const char *name, const char *source) {
  if (p->failed)
    return;
  nnrt_free(p->name);
  nnrt_free(p->source);
  p->name = dup(p, name, "program name");
  p->source = dup(p, source, "program source name");
}

void nnrt_slot(NnrtProgram *p, int slot, NnrtRole role, const char *name,
               NnrtDtype dtype, int rank, const int64_t *dims) {
  if (p->failed)
    return;
  if (slot != p->nslots) {
    fail(p, "nnrt_slot: slot %d declared out of order (expected %d)", slot, p->nslots);
    return;
  }
  if (rank < 0 || rank > NNRT_MAX_RANK || (rank > 0 && !dims) || (unsigned)dtype > NNRT_U8 ||
      (unsigned)role > NNRT_SLOT_STATE) {
    fail(p, "nnrt_slot: slot %d ('%s') has a bad rank, dtype or role", slot, name ? name : "");
    return;
  }
  int64_t bytes = (int64_t)nnrt_dtype_size(dtype); /* per sample: later products are checked */
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0 && dims[i] != NNRT_BATCH) {
      fail(p, "nnrt_slot: slot %d ('%s') has negative dim %lld", slot, name ? name : "",
           (long long)dims[i]);
      return;
    }
    if (dims[i] != NNRT_BATCH && __builtin_mul_overflow(bytes, dims[i], &bytes)) {
      fail(p, "slot '%s': its size overflows 64 bits at dimension %d (%lld)", name ? name : "",
           i, (long long)dims[i]);
      return;
    }
  }
  if (!reserve(p, (void **)&p->slots, &p->cap_slots, slot, sizeof *p->slots, "slot table"))
    return;
  NnrtSlotDesc *s = &p->slots[slot];
  s->name = dup(p, name, "slot name");
  if (!s->name)
    return;
  s->role = role;
  s->dtype = dtype;
  s->rank = rank;
  for (int i = 0; i < rank; i++)
    s->dims[i] = dims[i];
  p->nslots++;
}

void nnrt_init(NnrtProgram *p, int slot, const char *init, int nargs,
               const double *args, int64_t fan_in, int64_t fan_out) {
  NnrtSlotDesc *s = slot_at(p, slot, "nnrt_init");
  if (!s)
    return;
  if (!nnrt_init_known(init)) {
    fail(p, "slot '%s': unknown initialiser '%s' (expected zeros, ones, constant, normal, "
         "uniform, xavier_uniform, xavier_normal, he_uniform, he_normal, lecun_uniform, "
         "lecun_normal)", s->name, init ? init : "(null)");
    return;
  }
  if (nargs < 0 || nargs > 4 || (nargs > 0 && !args)) {
    fail(p, "slot '%s': initialiser '%s' takes at most 4 arguments", s->name, init);
    return;
  }
  nnrt_free(s->init);
  s->init = dup(p, init, "initialiser name");
  s->ninit = nargs;
  for (int i = 0; i < nargs; i++)
    s->init_args[i] = args[i];
  s->fan_in = fan_in;
  s->fan_out = fan_out;
}

void nnrt_grad(NnrtProgram *p, int grad_slot, int param_slot, int opt) {
  NnrtSlotDesc *g = slot_at(p, grad_slot, "nnrt_grad");
  NnrtSlotDesc *w = slot_at(p, param_slot, "nnrt_grad");
  if (!g || !w)
    return;
  if (g->role != NNRT_SLOT_GRAD || w->role != NNRT_SLOT_PARAM || g->dtype != w->dtype ||
      nnrt_slot_count(g, 1) != nnrt_slot_count(w, 1) || opt < 0) {
    fail(p, "nnrt_grad: slot '%s' is not a gradient matching param '%s'", g->name, w->name);
    return;
  }
  if (!reserve(p, (void **)&p->grads, &p->cap_grads, p->ngrads, sizeof *p->grads, "grad table"))
    return;
  p->grads[p->ngrads++] = (NnrtGradDesc){grad_slot, param_slot, opt};
}

void nnrt_input(NnrtProgram *p, int slot, const char *field) {
  NnrtSlotDesc *s = slot_at(p, slot, "nnrt_input");
  if (!s)
    return;
  if (s->role != NNRT_SLOT_INPUT) {
    fail(p, "nnrt_input: slot '%s' is not an INPUT slot", s->name);
    return;
  }
  nnrt_free(s->field);
  s->field = dup(p, field, "field name");
}

void nnrt_input_classes(NnrtProgram *p, int slot, int64_t classes) {
  NnrtSlotDesc *s = slot_at(p, slot, "nnrt_input_classes");
  if (!s)
    return;
  if (s->role != NNRT_SLOT_INPUT || classes < 1) {
    fail(p, "nnrt_input_classes: slot '%s' is not an INPUT slot, or %lld classes", s->name,
         (long long)classes);
    return;
  }
  s->classes = classes;
}

void nnrt_output(NnrtProgram *p, int slot, const char *what) {
  NnrtSlotDesc *s = slot_at(p, slot, "nnrt_output");
  if (!s)
    return;
  if (s->role != NNRT_SLOT_OUTPUT) {
    fail(p, "nnrt_output: slot '%s' is not an OUTPUT slot", s->name);
    return;
  }
  nnrt_free(s->what);
  s->what = dup(p, what, "output name");
}

static NnrtDataDesc *add_data(NnrtProgram *p, const char *field, const char *split) {
  if (p->failed)
    return NULL;
  if (!split || (strcmp(split, "train") != 0 && strcmp(split, "test") != 0)) {
    fail(p, "data field '%s': split must be \"train\" or \"test\", not \"%s\"",
         field ? field : "", split ? split : "(null)");
    return NULL;
  }
  if (!reserve(p, (void **)&p->data, &p->cap_data, p->ndata, sizeof *p->data, "data table"))
    return NULL;
  NnrtDataDesc *d = &p->data[p->ndata];
  d->field = dup(p, field, "field name");
  d->split = dup(p, split, "split name");
  if (!d->field || !d->split) {
    nnrt_free(d->field);
    nnrt_free(d->split);
    memset(d, 0, sizeof *d);
    return NULL;
  }
  d->scale = 1.0;
  p->ndata++;
  return d;
}

void nnrt_data_idx(NnrtProgram *p, const char *field, const char *split,
                   const char *path, double scale) {
  NnrtDataDesc *d = add_data(p, field, split);
  if (!d)
    return;
  d->kind = DATA_FILE;
  d->path = dup(p, path, "data path");
  d->scale = scale;
}

void nnrt_data_csv(NnrtProgram *p, const char *field, const char *split, const char *path,
                   int header, int64_t col_begin, int64_t col_end, double scale) {
  NnrtDataDesc *d = add_data(p, field, split);
  if (!d)
    return;
  d->kind = DATA_CSV;
  d->path = dup(p, path, "data path");
  d->scale = scale;
  d->header = header != 0;
  d->col_begin = col_begin;
  d->col_end = col_end;
}

void nnrt_data_graph(NnrtProgram *p, const char *field, const char *split, const char *path, int64_t n, int form) {
  if (!p->failed && (!path || n < 1 || form < 0 || form > 7)) {
    fail(p, "data field '%s': bad graph source (%lld nodes)", field ? field : "", (long long)n);
    return;
  }
  NnrtDataDesc *d = add_data(p, field, split);
  if (!d)
    return;
  d->kind = DATA_GRAPH;
  d->path = dup(p, path, "data path");
  d->len = n;
  d->graph_form = form;
}

void nnrt_data_table(NnrtProgram *p, const char *field, const char *split,
                     int64_t n, int64_t per_sample, const double *values) {
  if (!p->failed && (n < 0 || per_sample < 0 || (n * per_sample > 0 && !values))) {
    fail(p, "data field '%s': bad inline table (%lld x %lld)", field ? field : "",
         (long long)n, (long long)per_sample);
    return;
  }
  NnrtDataDesc *d = add_data(p, field, split);
  if (!d)
    return;
  d->kind = DATA_TABLE;
  d->n = n;
  d->per = per_sample;
  size_t bytes = (size_t)(n * per_sample) * sizeof(double);
  d->values = alloc(p, bytes, "inline data table");
  if (d->values && bytes)
    memcpy(d->values, values, bytes);
}

void nnrt_data_text(NnrtProgram *p, const char *field, const char *split, const char *path,
                    int64_t vocab_cap, int64_t len, int64_t shift, int64_t stride, int words) {
  if (!p->failed && (!path || vocab_cap < 1 || vocab_cap > INT32_MAX || len < 1 || shift < 0 ||
                     stride < 0 || len > INT64_MAX / 2 || shift > INT64_MAX / 2)) {
    fail(p, "data field '%s': bad text source (vocab %lld, length %lld, shift %lld, stride %lld)",
         field ? field : "", (long long)vocab_cap, (long long)len, (long long)shift, (long long)stride);
    return;
  }
  NnrtDataDesc *d = add_data(p, field, split);
  if (!d)
    return;
  d->kind = DATA_TEXT;
  d->path = dup(p, path, "data path");
  d->vocab_cap = vocab_cap;
  d->len = len;
  d->shift = shift;
  d->stride = stride ? stride : len;
  d->words = words != 0;
  d->reach = len + shift;
  /* the split's fields reading this file share the longest reach */
  for (int i = 0; d->path && i < p->ndata - 1; i++) {
    NnrtDataDesc *o = &p->data[i];
    if (o->kind != DATA_TEXT || strcmp(o->split, d->split) != 0 || strcmp(o->path, d->path) != 0)
      continue;
    if (o->reach > d->reach)
      d->reach = o->reach;
    else
      o->reach = d->reach;
  }
}

void nnrt_data_mlm(NnrtProgram *p, const char *field, const char *split, const char *path,
                   int64_t vocab_cap, int64_t len, double mask, int pairs, int64_t copies, int words,
                   int part) {
  if (!p->failed && (!path || vocab_cap < 1 || vocab_cap > INT32_MAX || len < 3 || len > 65536 ||
                     !(mask >= 0 && mask <= 1) || copies < 1 || part < MLM_PART_IDS || part > MLM_PART_NEXT)) {
    fail(p, "data field '%s': bad mlm source (vocab %lld, length %lld, mask %g, copies %lld, part %d)",
         field ? field : "", (long long)vocab_cap, (long long)len, mask, (long long)copies, part);
    return;
  }
  NnrtDataDesc *d = add_data(p, field, split);
  if (!d)
    return;
  d->kind = DATA_MLM;
  d->path = dup(p, path, "data path");
  d->vocab_cap = vocab_cap;
  d->len = len;
  d->mask = mask;
  d->pairs = pairs != 0;
  d->copies = copies;
  d->words = words != 0;
  d->part = part;
}

void nnrt_data_normalize(NnrtProgram *p, const char *field) {
  if (p->failed)
    return;
  bool found = false;
  for (int i = 0; i < p->ndata; i++)
    if (field && strcmp(p->data[i].field, field) == 0)
      found = p->data[i].normalize = true;
  if (!found)
    fail(p, "nnrt_data_normalize: no data for field '%s'", field ? field : "(null)");
}

void nnrt_data_mask(NnrtProgram *p, const char *field, const char *split) {
  if (p->failed)
    return;
  for (int i = p->ndata - 1; i >= 0; i--) /* the last declared, as the loader reads */
    if (field && split && strcmp(p->data[i].field, field) == 0 && strcmp(p->data[i].split, split) == 0) {
      p->data[i].node_mask = true;
      return;
    }
  fail(p, "nnrt_data_mask: no %s data for field '%s'", split ? split : "(null)", field ? field : "(null)");
}

void nnrt_train_config(NnrtProgram *p, int64_t epochs, int64_t batch, uint64_t seed) {
  if (p->failed)
    return;
  if (epochs < 0 || batch < 1) {
    fail(p, "train config: epochs must be >= 0 and batch >= 1 (got %lld, %lld)",
         (long long)epochs, (long long)batch);
    return;
  }
  p->epochs = epochs;
  p->batch = batch;
  p->seed = seed;
}

void nnrt_validation(NnrtProgram *p, double fraction) {
  if (p->failed)
    return;
  if (!(fraction >= 0 && fraction < 1)) {
    fail(p, "train config: valid must be a fraction in [0, 1) (got %g)", fraction);
    return;
  }
  p->valid = fraction;
}

void nnrt_augment(NnrtProgram *p, int which, const char *name, int nkw,
                  const char *const *keys, const double *vals) {
  if (p->failed)
    return;
  if (which != 0 || !name || strcmp(name, "images") != 0 || nkw < 0 || (nkw > 0 && (!keys || !vals))) {
    fail(p, "train config: augment must be images(crop = ..., flip = ..., rotate = ...)");
    return;
  }
  NnrtAugment a = {.on = true};
  for (int i = 0; i < nkw; i++) {
    const char *k = keys[i] ? keys[i] : "";
    double v = vals[i];
    if (strcmp(k, "crop") == 0 && v >= 0 && v <= 1024 && v == floor(v))
      a.crop = (int64_t)v;
    else if (strcmp(k, "flip") == 0 && (v == 0 || v == 1))
      a.flip = v == 1;
    else if (strcmp(k, "rotate") == 0 && v >= 0 && v <= 180)
      a.rotate = v;
    else if (strcmp(k, "crop") && strcmp(k, "flip") && strcmp(k, "rotate")) {
      fail(p, "augment: unknown key '%s' (expected crop, flip, rotate)", k);
      return;
    } else {
      fail(p, "augment: bad %s = %g (crop: pixels >= 0, flip: 0 or 1, rotate: degrees in "
           "[0, 180])", k, v);
      return;
    }
  }
  bool images = false;
  for (int i = 0; i < p->nslots; i++)
    images |= nnrt_slot_is_image(&p->slots[i]);
  if (!images) {
    fail(p, "augment = images(...) needs an image input (f32[C, H, W] or f32[H, W] per "
         "sample), but no input of '%s' is shaped like one", p->name ? p->name : "");
    return;
  }
  p->augment = a;
}

void nnrt_early_stopping(NnrtProgram *p, int64_t patience) {
  if (p->failed)
    return;
  if (patience < 0) {
    fail(p, "train config: early_stop must be >= 0 (got %lld)", (long long)patience);
    return;
  }
  p->early_stop = patience;
}

static NnrtOptDesc *opt_at(NnrtProgram *p, int opt) {
  if (!reserve(p, (void **)&p->opts, &p->cap_opts, opt, sizeof *p->opts, "optimizer table"))
    return NULL;
  if (opt >= p->nopts)
    p->nopts = opt + 1;
  return &p->opts[opt];
}

void nnrt_optimizer(NnrtProgram *p, int opt, const char *name, int nkw,
                    const char *const *keys, const double *vals) {
  NnrtOptDesc *o = opt_at(p, opt);
  if (!o)
    return;
  char err[256];
  if (nnrt_opt_config(&o->cfg, name, nkw, keys, vals, err, sizeof err) != 0) {
    fail(p, "%s", err);
    return;
  }
  o->declared = true;
}

void nnrt_schedule(NnrtProgram *p, int opt, const char *name, int nkw,
                   const char *const *keys, const double *vals) {
  NnrtOptDesc *o = opt_at(p, opt);
  if (!o)
    return;
  char err[256];
  if (nnrt_sched_config(&o->sched, name, nkw, keys, vals, err, sizeof err) != 0)
    fail(p, "%s", err);
}

void nnrt_kernels(NnrtProgram *p, NnrtKernel train, NnrtScratchFn train_scratch,
                  NnrtKernel eval, NnrtScratchFn eval_scratch) {
  p->train = train;
  p->train_scratch = train_scratch;
  p->eval = eval;
  p->eval_scratch = eval_scratch;
}

void nnrt_objective(NnrtProgram *p, int idx, const char *name, NnrtKernel train, NnrtScratchFn scratch,
                    int loss_slot) {
  NnrtSlotDesc *l = slot_at(p, loss_slot, "nnrt_objective");
  if (!l)
    return;
  if (idx != p->nobjs || idx >= NNRT_MAX_OBJECTIVES || !train || !scratch || l->role != NNRT_SLOT_OUTPUT) {
    fail(p, "nnrt_objective: objective %d ('%s') is out of order, past %d or has no kernel or loss slot", idx,
         name ? name : "", NNRT_MAX_OBJECTIVES);
    return;
  }
  NnrtObjective *o = &p->objs[p->nobjs++];
  snprintf(o->name, sizeof o->name, "%s", name ? name : "");
  o->train = train;
  o->scratch = scratch;
  o->loss_slot = loss_slot;
  o->group = idx;
  o->reps = 1;
}

void nnrt_objective_repeat(NnrtProgram *p, int idx, int group, int64_t reps) {
  if (p->failed)
    return;
  /* groups are numbered in order and hold consecutive objectives with the
   * same reps: the previous objective's group, or the next number */
  const NnrtObjective *prev = idx > 0 && idx < p->nobjs ? &p->objs[idx - 1] : NULL;
  bool ok = idx >= 0 && idx < p->nobjs && reps >= 1 && reps <= 1000000 &&
            (prev ? (group == prev->group && reps == prev->reps) || group == prev->group + 1 : group == 0);
  if (!ok) {
    fail(p, "nnrt_objective_repeat: objective %d: group %d of %lld updates does not follow the objectives before it",
         idx, group, (long long)reps);
    return;
  }
  p->objs[idx].group = group;
  p->objs[idx].reps = reps;
}

void nnrt_clip_norm(NnrtProgram *p, double max_norm) {
  if (p->failed)
    return;
  if (!(max_norm > 0) || !isfinite(max_norm)) {
    fail(p, "train config: clip_norm must be a finite number > 0 (got %g)", max_norm);
    return;
  }
  p->clip_norm = max_norm;
}

void nnrt_clip_kernels(NnrtProgram *p, NnrtSqsumKernel sq32, NnrtSqsumKernel sq64, NnrtClipKernel clip,
                       NnrtScaleKernel sc32, NnrtScaleKernel sc64) {
  p->clip_sqsum[0] = sq32;
  p->clip_sqsum[1] = sq64;
  p->clip_kernel = clip;
  p->clip_scale[0] = sc32;
  p->clip_scale[1] = sc64;
}

void nnrt_opt_kernels(NnrtProgram *p, NnrtOptKernel f32, NnrtOptKernel f64) {
  p->opt_kernel[0] = f32;
  p->opt_kernel[1] = f64;
}

void nnrt_info_row(NnrtProgram *p, const char *name, const char *kind,
                   const char *shape, int64_t params, int64_t flops) {
  if (!reserve(p, (void **)&p->rows, &p->cap_rows, p->nrows, sizeof *p->rows, "info table"))
    return;
  NnrtInfoRow *r = &p->rows[p->nrows];
  r->name = dup(p, name, "info row");
  r->kind = dup(p, kind, "info row");
  r->shape = dup(p, shape, "info row");
  r->params = params;
  r->flops = flops;
  p->nrows++;
}

void nnrt_info_flops(NnrtProgram *p, int64_t eval_flops, int64_t train_flops) {
  p->eval_flops = eval_flops;
  p->train_flops = train_flops;
  p->has_flops = true;
}

void nnrt_program_free(NnrtProgram *p) {
  if (!p)
    return;
  for (int i = 0; i < p->nslots; i++) {
    NnrtSlotDesc *s = &p->slots[i];
    nnrt_free(s->name); nnrt_free(s->init); nnrt_free(s->field); nnrt_free(s->what);
  }
  for (int i = 0; i < p->ndata; i++) {
    NnrtDataDesc *d = &p->data[i];
    nnrt_free(d->field); nnrt_free(d->split); nnrt_free(d->path); nnrt_free(d->values);
  }
  for (int i = 0; i < p->nrows; i++) {
    nnrt_free(p->rows[i].name); nnrt_free(p->rows[i].kind); nnrt_free(p->rows[i].shape);
  }
  nnrt_free(p->slots); nnrt_free(p->grads); nnrt_free(p->data);
  nnrt_free(p->opts); nnrt_free(p->rows);
  nnrt_sites_free(p);
  nnrt_free(p->name); nnrt_free(p->source);
  nnrt_free(p);
}

int nnrt_program_find_output(const NnrtProgram *p, const char *what) {
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_OUTPUT && p->slots[i].what &&
        strcmp(p->slots[i].what, what) == 0)
      return i;
  return -1;
}

bool nnrt_slot_has_batch(const NnrtSlotDesc *s) {
  for (int i = 0; i < s->rank; i++)
    if (s->dims[i] == NNRT_BATCH)
      return true;
  return false;
}

/* An input that augmentation can treat as images: [B, C, H, W] or [B, H, W]
 * floats (here, not in augment.c, so that the description's checks do not
 * depend on the augmenter, which depends on them). */
bool nnrt_slot_is_image(const NnrtSlotDesc *s) {
  return s->role == NNRT_SLOT_INPUT && (s->dtype == NNRT_F32 || s->dtype == NNRT_F64) &&
         (s->rank == 3 || s->rank == 4) && s->dims[0] == NNRT_BATCH &&
         s->dims[s->rank - 2] > 0 && s->dims[s->rank - 1] > 0;
}

int64_t nnrt_slot_sample_count(const NnrtSlotDesc *s) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++)
    if (s->dims[i] != NNRT_BATCH)
      n *= s->dims[i];
  return n;
}

bool nnrt_slot_carried(const NnrtSlotDesc *s) {
  return s->role == NNRT_SLOT_STATE && s->rank > 0 && s->dims[0] == NNRT_BATCH;
}

const char *nnrt_program_carried(const NnrtProgram *p) {
  for (int i = 0; i < p->nslots; i++)
    if (nnrt_slot_carried(&p->slots[i]))
      return p->slots[i].name;
  return NULL;
}

int64_t nnrt_slot_count(const NnrtSlotDesc *s, int64_t batch) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++)
    n *= s->dims[i] == NNRT_BATCH ? batch : s->dims[i];
  return n;
}

void nnrt_format_shape(char *buf, size_t len, int rank, const int64_t *dims) {
  size_t used = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < rank && used < len; i++) {
    if (dims[i] == NNRT_BATCH)
      used += (size_t)snprintf(buf + used, len - used, "%sB", i ? ", " : "");
    else
      used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
  }
  if (used < len)
    snprintf(buf + used, len - used, "]");
}
