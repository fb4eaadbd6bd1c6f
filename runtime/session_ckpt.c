/*
 * session_ckpt.c — a session's checkpoints: the table of named tensors over
 * the slot block (params, STATE, then __opt__/<param>/<i>, pointing into
 * the slots, so saving copies nothing), saving it atomically with the run's
 * metadata, and opening, validating and restoring a checkpoint before any
 * of it is used.
 *
 * Invariants: a checkpoint is saved only when every tensor is finite (the
 * last good one stays on disk otherwise); every metadata field and every
 * tensor's name, dtype and shape is checked against the program before the
 * first byte is copied into the session.
 */
#include "program.h"
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 512
#define salloc nnrt_alloc_or_say

int nnrt_session_ckpt_table(NnrtSession *s, bool with_opt) {
  NnrtProgram *p = s->p;
  int n = 0, nopt = 0;
  for (int i = 0; i < p->nslots; i++)
    if ((p->slots[i].role == NNRT_SLOT_PARAM || p->slots[i].role == NNRT_SLOT_STATE) &&
        !nnrt_slot_carried(&p->slots[i]))
      n++;
  if (with_opt)
    for (int g = 0; g < p->ngrads; g++)
      nopt += nnrt_opt_nstate(&s->cfg[p->grads[g].opt]);
  s->names = salloc((size_t)(nopt + 1) * sizeof(char *), "checkpoint names");
  if (!s->names)
    return -1;
  memset(s->names, 0, (size_t)(nopt + 1) * sizeof(char *));
  s->tensors = salloc((size_t)(n + nopt + 1) * sizeof *s->tensors, "checkpoint table");
  if (!s->tensors)
    return -1;
  int t = 0;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *slot = &p->slots[i];
    if ((slot->role != NNRT_SLOT_PARAM && slot->role != NNRT_SLOT_STATE) || nnrt_slot_carried(slot))
      continue; /* a carried state is a run's, per batch row: not saved */
    NnrtNamedTensor *nt = &s->tensors[t++];
    nt->name = slot->name;
    nt->dtype = slot->dtype;
    nt->rank = slot->rank;
    for (int d = 0; d < slot->rank; d++)
      nt->dims[d] = slot->dims[d] == NNRT_BATCH ? s->B : slot->dims[d];
    nt->data = s->slots[i];
  }
  s->nsaved = t;
  int k = 0;
  if (with_opt)
    for (int g = 0; g < p->ngrads; g++) {
      const NnrtSlotDesc *w = &p->slots[p->grads[g].param];
      int ns = nnrt_opt_nstate(&s->cfg[p->grads[g].opt]);
      for (int j = 0; j < ns; j++) {
        size_t len = strlen(w->name) + 32;
        char *name = salloc(len, "checkpoint names");
        if (!name)
          return -1;
        snprintf(name, len, "__opt__/%s/%d", w->name, j);
        s->names[k++] = name;
        NnrtNamedTensor *nt = &s->tensors[t++];
        nt->name = name;
        nt->dtype = w->dtype;
        nt->rank = w->rank;
        for (int d = 0; d < w->rank; d++)
          nt->dims[d] = w->dims[d];
        nt->data = s->opt_state[g][j];
      }
    }
  s->ntensors = t;
  return 0;
}

#define OPT_KINDS_LEN 256
static const char *opt_kinds(const NnrtSession *s, char *buf) {
  int nopt = 0;
  for (int g = 0; g < s->p->ngrads; g++)
    if (s->p->grads[g].opt + 1 > nopt)
      nopt = s->p->grads[g].opt + 1;
  size_t at = 0;
  buf[0] = 0;
  for (int i = 0; i < nopt && at < OPT_KINDS_LEN; i++)
    at += (size_t)snprintf(buf + at, OPT_KINDS_LEN - at, "%s%s", i ? "," : "",
                           nnrt_opt_name(s->cfg[i].kind));
  return buf;
}

static bool slot_is_state(const NnrtProgram *p, const char *name) {
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_STATE && strcmp(p->slots[i].name, name) == 0)
      return true;
  return false;
}

int nnrt_session_nonfinite(const NnrtSession *s, int64_t *elem, double *value) {
  for (int i = 0; i < s->ntensors; i++) {
    const NnrtNamedTensor *t = &s->tensors[i];
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++)
      n *= t->dims[d];
    if (t->dtype == NNRT_F32) {
      const float *x = t->data;
      for (int64_t k = 0; k < n; k++)
        if (!isfinite(x[k]))
          return *elem = k, *value = x[k], i;
    } else if (t->dtype == NNRT_F64) {
      const double *x = t->data;
      for (int64_t k = 0; k < n; k++)
        if (!isfinite(x[k]))
          return *elem = k, *value = x[k], i;
    }
  }
  return -1;
}

void nnrt_report_nonfinite(const NnrtSession *s, int t, int64_t elem, double value,
                           const char *when) {
  const NnrtNamedTensor *nt = &s->tensors[t];
  char shape[128];
  nnrt_format_shape(shape, sizeof shape, nt->rank, nt->dims);
  const char *v = isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
  if (strncmp(nt->name, "__opt__/", 8) == 0)
    fprintf(stderr, "error: optimizer state '%s' became %s %s (element %lld of %s %s)",
            nt->name, v, when, (long long)elem, nnrt_dtype_name(nt->dtype), shape);
  else
    fprintf(stderr, "error: %s '%s' became %s %s (element %lld of %s %s)",
            slot_is_state(s->p, nt->name) ? "state" : "parameter", nt->name, v, when,
            (long long)elem, nnrt_dtype_name(nt->dtype), shape);
}

int nnrt_session_check_steps(const NnrtSession *s, const char *resumed) {
  if (s->epochs <= s->epoch || s->train.n <= 0)
    return 0;
  int64_t per = s->train.n / s->B + (s->train.n % s->B != 0), steps, last;
  if (__builtin_mul_overflow(s->epochs - s->epoch, per, &steps) ||
      __builtin_add_overflow(s->step, steps, &last)) {
    if (resumed)
      fprintf(stderr, "error: %s: step %lld: %lld more epochs of %lld steps would overflow the "
              "64-bit step counter\n", resumed, (long long)s->step,
              (long long)(s->epochs - s->epoch), (long long)per);
    else
      fprintf(stderr, "error: --epochs %lld: %lld steps each would overflow the 64-bit step "
              "counter\n", (long long)s->epochs, (long long)per);
    return -1;
  }
  return 0;
}

int nnrt_session_save(NnrtSession *s, const char *path) {
  /* Never a checkpoint of non-finite weights: the last good one stays. */
  int64_t elem;
  double value;
  int bad = nnrt_session_nonfinite(s, &elem, &value);
  if (bad >= 0) {
    nnrt_report_nonfinite(s, bad, elem, value, "before a save");
    fprintf(stderr, "; not saved, %s keeps the previous checkpoint\n", path);
    return -2;
  }
  char epoch[32], step[32], seed[32], batch[32], rng[80];
  snprintf(epoch, sizeof epoch, "%lld", (long long)s->epoch);
  snprintf(step, sizeof step, "%lld", (long long)s->step);
  snprintf(seed, sizeof seed, "%" PRIu64, s->seed);
  snprintf(batch, sizeof batch, "%lld", (long long)s->B);
  snprintf(rng, sizeof rng, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64,
           s->rng.s[0], s->rng.s[1], s->rng.s[2], s->rng.s[3]);
  char valid[32], kinds[OPT_KINDS_LEN];
  snprintf(valid, sizeof valid, "%.17g", s->valid_fraction);
  NnrtKV meta[] = {
    {"format", "nnc-1"}, {"program", s->p->name ? s->p->name : ""}, {"epoch", epoch},
    {"step", step}, {"seed", seed}, {"batch", batch}, {"rng", rng},
    {"optimizers", opt_kinds(s, kinds)}, {"valid", valid},
  };
  NnrtKV all[sizeof meta / sizeof meta[0] + 2];
  int nmeta = 0;
  for (size_t k = 0; k < sizeof meta / sizeof meta[0]; k++)
    if (strcmp(meta[k].key, "valid") != 0 || s->valid_fraction > 0)
      all[nmeta++] = meta[k];
  char *vocab = NULL;
  if (s->vocab) { /* the ids' meaning, for --load, --resume and generation */
    if (!(vocab = nnrt_vocab_string(s->vocab))) {
      fprintf(stderr, "error: %s: out of memory writing the vocabulary\n", path);
      return -1;
    }
    all[nmeta++] = (NnrtKV){"vocab_kind", s->vocab->words ? "words" : "chars"};
    all[nmeta++] = (NnrtKV){"vocab", vocab};
  }
  char err[ERRLEN] = "";
  int rc = nnrt_ckpt_save(path, s->tensors, s->ntensors, all, nmeta, err, sizeof err);
  nnrt_free(vocab);
  if (rc != 0) {
    fprintf(stderr, "error: %s\n", err[0] ? err : path);
    return -1;
  }
  return 0;
}

/* Strict decimal integers: digits only (no sign, space or trailing text),
 * no overflow, within [lo, hi]. */
static int parse_i64(const char *v, int64_t lo, int64_t hi, int64_t *out) {
  if (!v || *v < '0' || *v > '9')
    return -1;
  errno = 0;
  char *end;
  long long x = strtoll(v, &end, 10);
  if (errno || *end || x < lo || x > hi)
    return -1;
  *out = x;
  return 0;
}

static int parse_u64(const char *v, uint64_t *out) {
  if (!v || *v < '0' || *v > '9')
    return -1;
  errno = 0;
  char *end;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno || *end)
    return -1;
  *out = x;
  return 0;
}

/* The generator's state: 64 hex digits, not all zero (xoshiro's one
 * fixed point, which would draw zeros forever). */
static int parse_rng(const char *r, NnrtRng *rng) {
  if (!r || strlen(r) != 64 || strspn(r, "0123456789abcdefABCDEF") != 64)
    return -1;
  uint64_t any = 0;
  for (int w = 0; w < 4; w++) {
    char word[17];
    memcpy(word, r + 16 * w, 16);
    word[16] = 0;
    rng->s[w] = strtoull(word, NULL, 16);
    any |= rng->s[w];
  }
  return any ? 0 : -1;
}

/* The metadata the runtime reads, checked before any of it is used: each
 * key that is present must be well-formed (the ones a resume needs are
 * required by nnrt_session_restore). */
static int check_meta(const NnrtCkpt *c, const char *path) {
  const char *v, *why = NULL;
  int64_t i, epoch = -1, step = -1;
  uint64_t u;
  NnrtRng rng;
  if ((v = nnrt_ckpt_meta(c, "format")) && strcmp(v, "nnc-1") != 0)
    why = "'format' is not nnc-1";
  else if ((v = nnrt_ckpt_meta(c, "seed")) && parse_u64(v, &u) != 0)
    why = "'seed' is not an unsigned 64-bit integer";
  else if ((v = nnrt_ckpt_meta(c, "batch")) && parse_i64(v, 1, INT64_MAX, &i) != 0)
    why = "'batch' is not a positive integer";
  else if ((v = nnrt_ckpt_meta(c, "epoch")) && parse_i64(v, 0, INT64_MAX, &epoch) != 0)
    why = "'epoch' is not a non-negative 64-bit integer";
  else if ((v = nnrt_ckpt_meta(c, "step")) && parse_i64(v, 0, INT64_MAX, &step) != 0)
    why = "'step' is not a non-negative 64-bit integer";
  else if (epoch >= 0 && step >= 0 && step < epoch)
    why = "'step' is smaller than 'epoch' (every epoch takes at least one step)";
  else if ((v = nnrt_ckpt_meta(c, "rng")) && parse_rng(v, &rng) != 0)
    why = "'rng' is not 64 hex digits of a valid generator state";
  if (!why && (v = nnrt_ckpt_meta(c, "valid"))) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !(x >= 0 && x < 1))
      why = "'valid' is not a fraction in [0, 1)";
  }
  const char *kind = nnrt_ckpt_meta(c, "vocab_kind"), *vocab = nnrt_ckpt_meta(c, "vocab");
  if (!why && (kind || vocab)) {
    NnrtVocab *vv = NULL;
    char err[ERRLEN];
    if (!kind || (strcmp(kind, "chars") != 0 && strcmp(kind, "words") != 0))
      v = kind ? kind : "", why = "'vocab_kind' is not chars or words (or 'vocab' is without it)";
    else if (!vocab)
      v = kind, why = "'vocab_kind' is without 'vocab'";
    else if (nnrt_vocab_parse(vocab, kind[0] == 'w', "vocab", &vv, err, sizeof err) != 0) {
      fprintf(stderr, "error: %s: bad checkpoint metadata: %s\n", path, err);
      return -1;
    }
    nnrt_vocab_free(vv);
  }
  if (why) {
    char b[48];
    size_t n = strlen(v) < 40 ? strlen(v) : 40;
    for (size_t k = 0; k < n; k++)
      b[k] = (unsigned char)v[k] < 0x20 || v[k] == 0x7f ? '?' : v[k];
    b[n] = 0;
    fprintf(stderr, "error: %s: bad checkpoint metadata: %s (\"%s%s\")\n", path, why, b,
            strlen(v) > n ? "..." : "");
    return -1;
  }
  return 0;
}

NnrtCkpt *nnrt_ckpt_open(const char *path) {
  NnrtCkpt *c = NULL;
  char err[ERRLEN] = "";
  if (nnrt_ckpt_load(path, &c, err, sizeof err) != 0) {
    fprintf(stderr, "error: %s\n", err[0] ? err : path);
    return NULL;
  }
  if (check_meta(c, path) != 0) {
    nnrt_ckpt_free(c);
    return NULL;
  }
  return c;
}

void nnrt_options_from_ckpt(NnrtOptions *o, const NnrtCkpt *c) {
  const char *seed = nnrt_ckpt_meta(c, "seed"), *valid = nnrt_ckpt_meta(c, "valid");
  if (seed) {
    o->seed = strtoull(seed, NULL, 10);
    o->has_seed = true;
  }
  if (!o->has_valid) {
    double v = valid ? strtod(valid, NULL) : 0;
    o->valid = v >= 0 && v < 1 ? v : 0;
    o->has_valid = true;
  }
}

static bool same_shape(const NnrtNamedTensor *a, const NnrtNamedTensor *b) {
  if (a->dtype != b->dtype || a->rank != b->rank)
    return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i])
      return false;
  return true;
}

/* An f32 checkpoint loads exactly into the f64 build of its program
 * (nnc build --f64, nnc gradcheck); not for --resume, whose optimizer
 * state and generator continue a run of the f32 program. */
static bool widens(const NnrtNamedTensor *prog, const NnrtNamedTensor *file, bool resume) {
  NnrtNamedTensor f = *file;
  f.dtype = NNRT_F64;
  return !resume && prog->dtype == NNRT_F64 && file->dtype == NNRT_F32 && same_shape(prog, &f);
}

static void describe(char *buf, size_t len, const NnrtNamedTensor *t) {
  char shape[128];
  nnrt_format_shape(shape, sizeof shape, t->rank, t->dims);
  snprintf(buf, len, "%s %s", nnrt_dtype_name(t->dtype), shape);
}

/* The checkpoint's vocabulary must be the one the corpus gave (ids mean
 * the same tokens); a session without text data takes it over. */
static int restore_vocab(NnrtSession *s, const NnrtCkpt *c, const char *path) {
  const char *kind = nnrt_ckpt_meta(c, "vocab_kind"), *str = nnrt_ckpt_meta(c, "vocab");
  if (!str) {
    if (s->vocab) {
      fprintf(stderr, "error: %s: the checkpoint has no vocabulary, but the program reads text (its ids "
              "would mean nothing)\n", path);
      return -1;
    }
    return 0;
  }
  NnrtVocab *v = NULL;
  char err[ERRLEN];
  if (nnrt_vocab_parse(str, kind && kind[0] == 'w', path, &v, err, sizeof err) != 0) { /* checked at open */
    fprintf(stderr, "error: %s\n", err);
    return -1;
  }
  if (!s->vocab) {
    s->vocab = v;
    return 0;
  }
  bool same = nnrt_vocab_equal(v, s->vocab);
  if (!same) {
    const char *unit = s->vocab->words ? "words" : "characters";
    int64_t k = 0;
    while (k < v->n && k < s->vocab->n && strcmp(nnrt_vocab_token(v, k), nnrt_vocab_token(s->vocab, k)) == 0)
      k++;
    fprintf(stderr, "error: %s: the checkpoint's vocabulary (%lld %s%s) differs from the corpus's (%lld "
            "%s) from token %lld on: its ids would mean other tokens\n", path, (long long)v->n,
            v->words ? "words" : "characters", v->words != s->vocab->words ? ", another kind" : "",
            (long long)s->vocab->n, unit, (long long)k);
  }
  nnrt_vocab_free(v);
  return same ? 0 : -1;
}

int nnrt_session_restore(NnrtSession *s, const NnrtCkpt *c, const char *path, bool resume) {
  int want = resume ? s->ntensors : s->nsaved;
  for (int i = 0; i < want; i++) {
    const NnrtNamedTensor *t = &s->tensors[i];
    const NnrtNamedTensor *f = nnrt_ckpt_find(c, t->name);
    if (!f) {
      fprintf(stderr, "error: %s: no tensor '%s' (the program '%s' needs it)\n", path, t->name,
              s->p->name ? s->p->name : "");
      return -1;
    }
    if (!same_shape(t, f) && !widens(t, f, resume)) {
      char a[160], b[160];
      describe(a, sizeof a, f);
      describe(b, sizeof b, t);
      fprintf(stderr, "error: %s: tensor '%s' is %s, but the program expects %s\n", path,
              t->name, a, b);
      return -1;
    }
  }
  for (int i = 0; i < nnrt_ckpt_count(c); i++) {
    const char *name = nnrt_ckpt_at(c, i)->name;
    bool opt = strncmp(name, "__opt__/", 8) == 0, known = false;
    for (int j = 0; j < s->ntensors && !known; j++)
      known = strcmp(s->tensors[j].name, name) == 0;
    if (!known && (!opt || resume)) {
      fprintf(stderr, "error: %s: tensor '%s' is not part of program '%s'\n", path, name,
              s->p->name ? s->p->name : "");
      return -1;
    }
  }
  if (restore_vocab(s, c, path) != 0)
    return -1;
  NnrtRng rng = s->rng;
  int64_t epoch = 0, step = 0;
  if (resume) {
    if (parse_rng(nnrt_ckpt_meta(c, "rng"), &rng) != 0 ||
        parse_i64(nnrt_ckpt_meta(c, "epoch"), 0, INT64_MAX, &epoch) != 0 ||
        parse_i64(nnrt_ckpt_meta(c, "step"), epoch, INT64_MAX, &step) != 0) {
      fprintf(stderr, "error: %s: not a resumable checkpoint (missing or bad 'rng', 'epoch' "
              "or 'step' metadata)\n", path);
      return -1;
    }
    /* Optimizer state of one kind read as another's (momentum's velocity
     * as nesterov's, adam's moments as rmsprop's) would pass the shape
     * checks above; checkpoints name their optimizers (older ones do not). */
    char kinds[OPT_KINDS_LEN];
    const char *was = nnrt_ckpt_meta(c, "optimizers");
    if (was && strcmp(was, opt_kinds(s, kinds)) != 0) {
      fprintf(stderr, "error: %s: trained with optimizers '%.64s', but the program uses '%.64s'\n",
              path, was, kinds);
      return -1;
    }
  }
  for (int i = 0; i < want; i++) {
    const NnrtNamedTensor *t = &s->tensors[i];
    const NnrtNamedTensor *f = nnrt_ckpt_find(c, t->name);
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++)
      n *= t->dims[d];
    if (t->dtype == f->dtype)
      memcpy(t->data, f->data, (size_t)n * nnrt_dtype_size(t->dtype));
    else /* widens() */
      for (int64_t k = 0; k < n; k++)
        ((double *)t->data)[k] = ((const float *)f->data)[k];
  }
  int64_t elem;
  double value;
  int bad = nnrt_session_nonfinite(s, &elem, &value);
  if (bad >= 0 && bad < want) {
    const NnrtNamedTensor *t = &s->tensors[bad];
    fprintf(stderr, "error: %s: tensor '%s' holds %s (element %lld): not a usable checkpoint\n",
            path, t->name, isnan(value) ? "nan" : value > 0 ? "inf" : "-inf", (long long)elem);
    return -1;
  }
  if (resume) {
    s->rng = rng;
    s->epoch = epoch;
    s->step = step;
  }
  const char *seed = nnrt_ckpt_meta(c, "seed"); /* eval's generator derives from it */
  if (seed)
    s->seed = strtoull(seed, NULL, 10);
  return 0;
}

int nnrt_session_open_loaded(NnrtSession *s, NnrtProgram *p, const NnrtOptions *o, int64_t B, int flags) {
  NnrtCkpt *c = NULL;
  NnrtOptions lo = *o;
  if (o->load) {
    if (!(c = nnrt_ckpt_open(o->load)))
      return -1;
    nnrt_options_from_ckpt(&lo, c);
  }
  if (nnrt_session_open(s, p, &lo, B, flags) != 0) {
    nnrt_ckpt_free(c);
    return -1;
  }
  int rc = c && nnrt_session_restore(s, c, o->load, false) != 0 ? -1 : 0;
  nnrt_ckpt_free(c);
  if (rc)
    nnrt_session_free(s);
  return rc;
}
