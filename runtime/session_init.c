/*
 * session_init.c — `train --init-from FILE [--only GLOB]... [--rename
 * FROM=TO]...`: start a run from some of another checkpoint's tensors (a
 * fine-tune from a pretrained encoder), by name.
 *
 * Selection: the program's parameters and states (the checkpoint table's
 * first nsaved entries, never optimizer state) whose names match one of
 * the --only globs (fnmatch(3): `*` also crosses dots, so `encoder.*` is
 * every tensor under layer encoder), or, without --only, every one the
 * checkpoint has.  A program name that starts with a --rename's TO is
 * looked up in the checkpoint with that prefix replaced by FROM (the first
 * rename that applies wins): `--rename bert.=encoder.` reads
 * `encoder.l1.W` from the checkpoint's `bert.l1.W`.
 *
 * Invariants: every check (each --only glob matches a program tensor,
 * each selected tensor is in the file with the program's dtype and shape,
 * finite values, the same vocabulary) runs before the first byte is
 * copied, and each failure is one line on stderr listing every offending
 * name; the checkpoint's optimizer state, epoch, step, seed and generator
 * are never taken: the tensors not copied keep the session's seeded
 * initialisation, as in a run without --init-from.
 */
#include "program.h"
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG 4096     /* one error line */
#define LISTED 8     /* names listed before "and N more" */
#define NAMELEN 512  /* a checkpoint name after --rename */

/* printf onto the end of buf (truncated, never overflowing). */
static void add(char *buf, const char *fmt, ...) {
  size_t at = strlen(buf);
  if (at + 1 >= MSG)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + at, MSG - at, fmt, ap);
  va_end(ap);
}

/* ", 'name'" for the k-th listed name (only the first LISTED). */
static void add_listed(char *buf, int k, const char *name) {
  if (k < LISTED)
    add(buf, "%s'%.120s'", k ? ", " : "", name);
}

/* " and N more" after a list of n names. */
static void add_more(char *buf, int n) {
  if (n > LISTED)
    add(buf, " and %d more", n - LISTED);
}

static const char *prog_name(const NnrtSession *s) {
  return s->p->name ? s->p->name : "";
}

/* The checkpoint's name for program tensor name (--rename applied). */
static const char *file_name(const NnrtOptions *o, const char *name, char *buf) {
  for (int r = 0; r < o->nrename; r++) {
    const char *eq = strchr(o->rename[r], '='), *to = eq + 1;
    size_t tl = strlen(to);
    if (strncmp(name, to, tl) == 0) {
      snprintf(buf, NAMELEN, "%.*s%s", (int)(eq - o->rename[r]), o->rename[r], name + tl);
      return buf;
    }
  }
  return name;
}

static bool selected(const NnrtOptions *o, const char *name) {
  if (o->nonly == 0)
    return true;
  for (int k = 0; k < o->nonly; k++)
    if (fnmatch(o->only[k], name, 0) == 0)
      return true;
  return false;
}

/* The program's parameter and state names, for messages. */
static void add_program_names(char *buf, const NnrtSession *s) {
  for (int i = 0; i < s->nsaved; i++)
    add_listed(buf, i, s->tensors[i].name);
  add_more(buf, s->nsaved);
}

/* Each --only glob must match a parameter or state of the program. */
static int check_globs(const NnrtSession *s, const NnrtOptions *o) {
  char msg[MSG] = "";
  int bad = 0;
  for (int k = 0; k < o->nonly; k++) {
    bool hit = false;
    for (int i = 0; i < s->nsaved && !hit; i++)
      hit = fnmatch(o->only[k], s->tensors[i].name, 0) == 0;
    if (!hit)
      add(msg, "%s'%.120s'", bad++ ? ", " : "", o->only[k]);
  }
  if (!bad)
    return 0;
  fprintf(stderr, "error: --only %s match%s no parameter or state of program '%s' (it has ", msg,
          bad == 1 ? "es" : "", prog_name(s));
  char names[MSG] = "";
  add_program_names(names, s);
  fprintf(stderr, "%s)\n", names);
  return -1;
}

/* Edit distance of a and b, or a large number for very long names. */
static int distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 255 || m > 255)
    return 1 << 20;
  int row[256], prev;
  for (size_t j = 0; j <= m; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= n; i++) {
    prev = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= m; j++) {
      int diag = prev + (a[i - 1] != b[j - 1]);
      prev = row[j];
      int best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
      row[j] = best < diag ? best : diag;
    }
  }
  return row[m];
}

static bool is_opt(const char *name) {
  return strncmp(name, "__opt__/", 8) == 0;
}

/* The checkpoint name nearest to want: a small edit distance, else one
 * with the same name after its first dot (another layer prefix: a
 * --rename would do).  NULL when none is near. */
static const char *near_name(const NnrtCkpt *c, const char *want, bool *prefix) {
  const char *best = NULL, *dot = strchr(want, '.');
  int bd = (int)strlen(want) / 3 + 1;
  *prefix = false;
  for (int i = 0; i < nnrt_ckpt_count(c); i++) {
    const char *n = nnrt_ckpt_at(c, i)->name;
    int d = is_opt(n) ? bd + 1 : distance(want, n);
    if (d <= bd && (!best || d < bd))
      best = n, bd = d;
  }
  for (int i = 0; i < nnrt_ckpt_count(c) && !best && dot; i++) {
    const char *n = nnrt_ckpt_at(c, i)->name, *nd = strchr(n, '.');
    if (!is_opt(n) && nd && strcmp(nd, dot) == 0)
      best = n, *prefix = true;
  }
  return best;
}

/* With --only, every selected tensor must be in the file; without it, at
 * least one program tensor must be.  *count: the tensors to copy. */
static int check_present(const NnrtSession *s, const NnrtCkpt *c, const NnrtOptions *o, int *count) {
  char msg[MSG] = "", hint[MSG] = "", buf[NAMELEN];
  int missing = 0, hints = 0, nsel = 0, found = 0;
  for (int i = 0; i < s->nsaved; i++) {
    const char *name = s->tensors[i].name, *fname = file_name(o, name, buf);
    if (!selected(o, name))
      continue;
    nsel++;
    if (nnrt_ckpt_find(c, fname)) {
      found++;
      continue;
    }
    add_listed(msg, missing++, fname);
    bool prefix;
    const char *near = near_name(c, fname, &prefix);
    if (near && hints++ < 2) {
      add(hint, "; for '%.120s' it has '%.120s'", fname, near);
      if (prefix)
        add(hint, " (--rename %.*s=%.*s ?)", (int)(strchr(near, '.') - near + 1), near,
            (int)(strchr(fname, '.') - fname + 1), fname);
    }
  }
  *count = found;
  add_more(msg, missing);
  if (o->nonly > 0 && missing) {
    fprintf(stderr, "error: %s: no tensor%s %s (%d of the %d that --only selects in program '%s')%s\n",
            o->init_from, missing == 1 ? "" : "s", msg, missing, nsel, prog_name(s), hint);
    return -1;
  }
  if (found == 0) {
    char names[MSG] = "";
    int k = 0;
    for (int i = 0; i < nnrt_ckpt_count(c); i++)
      if (!is_opt(nnrt_ckpt_at(c, i)->name))
        k++;
    for (int i = 0, j = 0; i < nnrt_ckpt_count(c); i++)
      if (!is_opt(nnrt_ckpt_at(c, i)->name))
        add_listed(names, j++, nnrt_ckpt_at(c, i)->name);
    add_more(names, k);
    fprintf(stderr, "error: %s: none of its tensors (%s) is a parameter or state of program '%s'%s\n",
            o->init_from, names, prog_name(s), hint);
    return -1;
  }
  return 0;
}

static bool same_shape(const NnrtNamedTensor *a, const NnrtNamedTensor *b) {
  if (a->dtype != b->dtype || a->rank != b->rank)
    return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d])
      return false;
  return true;
}

static void add_type(char *msg, const NnrtNamedTensor *t) {
  char shape[128];
  nnrt_format_shape(shape, sizeof shape, t->rank, t->dims);
  add(msg, "%s %s", nnrt_dtype_name(t->dtype), shape);
}

/* The index of t's first NaN/Inf element, or -1. */
static int64_t first_nonfinite(const NnrtNamedTensor *t) {
  int64_t n = 1;
  for (int d = 0; d < t->rank; d++)
    n *= t->dims[d];
  for (int64_t k = 0; k < n; k++)
    if ((t->dtype == NNRT_F32 && !isfinite(((const float *)t->data)[k])) ||
        (t->dtype == NNRT_F64 && !isfinite(((const double *)t->data)[k])))
      return k;
  return -1;
}

/* Every selected tensor the file has: the program's dtype and shape, and
 * finite values. */
static int check_types(const NnrtSession *s, const NnrtCkpt *c, const NnrtOptions *o) {
  char msg[MSG] = "", buf[NAMELEN];
  int bad = 0;
  for (int i = 0; i < s->nsaved; i++) {
    const NnrtNamedTensor *t = &s->tensors[i];
    const NnrtNamedTensor *f = selected(o, t->name) ? nnrt_ckpt_find(c, file_name(o, t->name, buf)) : NULL;
    if (!f || same_shape(t, f))
      continue;
    if (bad++ < LISTED) {
      add(msg, "%s'%.120s' is ", bad > 1 ? "; " : "", f->name);
      add_type(msg, f);
      add(msg, " in the file, ");
      if (strcmp(f->name, t->name) != 0)
        add(msg, "'%.120s' ", t->name);
      add_type(msg, t);
      add(msg, " in the program");
    }
  }
  if (bad) {
    fprintf(stderr, "error: %s: %d tensor%s of another dtype or shape: %s%s%s\n", o->init_from, bad,
            bad == 1 ? "" : "s", msg, bad > LISTED ? "; and more" : "",
            o->nonly ? "" : " (without --only every tensor the file has is read: --only GLOB selects)");
    return -1;
  }
  for (int i = 0; i < s->nsaved; i++) {
    const NnrtNamedTensor *t = &s->tensors[i];
    const NnrtNamedTensor *f = selected(o, t->name) ? nnrt_ckpt_find(c, file_name(o, t->name, buf)) : NULL;
    int64_t k = f ? first_nonfinite(f) : -1;
    if (k >= 0) {
      fprintf(stderr, "error: %s: tensor '%s' holds nan or inf (element %lld): not a usable checkpoint\n",
              o->init_from, f->name, (long long)k);
      return -1;
    }
  }
  return 0;
}

/* A program that reads text and a checkpoint that was trained on text
 * must number their tokens alike (the embeddings' rows are tokens). */
static int check_vocab(const NnrtSession *s, const NnrtCkpt *c, const char *path) {
  const char *kind = nnrt_ckpt_meta(c, "vocab_kind"), *str = nnrt_ckpt_meta(c, "vocab");
  if (!str || !s->vocab)
    return 0;
  NnrtVocab *v = NULL;
  char err[512];
  if (nnrt_vocab_parse(str, kind && kind[0] == 'w', path, &v, err, sizeof err) != 0) {
    fprintf(stderr, "error: %s\n", err);
    return -1;
  }
  bool same = nnrt_vocab_equal(v, s->vocab);
  if (!same)
    fprintf(stderr, "error: %s: the checkpoint's vocabulary (%lld tokens) differs from the corpus's (%lld): "
            "its embedding rows would mean other tokens\n", path, (long long)v->n, (long long)s->vocab->n);
  nnrt_vocab_free(v);
  return same ? 0 : -1;
}

static void copy_selected(NnrtSession *s, const NnrtCkpt *c, const NnrtOptions *o, int count) {
  char names[MSG] = "", buf[NAMELEN];
  int k = 0;
  for (int i = 0; i < s->nsaved; i++) {
    const NnrtNamedTensor *t = &s->tensors[i];
    const NnrtNamedTensor *f = selected(o, t->name) ? nnrt_ckpt_find(c, file_name(o, t->name, buf)) : NULL;
    if (!f)
      continue;
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++)
      n *= t->dims[d];
    memcpy(t->data, f->data, (size_t)n * nnrt_dtype_size(t->dtype));
    add_listed(names, k++, t->name);
  }
  add_more(names, count);
  if (!o->quiet)
    printf("init from %s: %d tensor%s (%s); %d kept their initialisation\n", o->init_from, count,
           count == 1 ? "" : "s", names, s->nsaved - count);
}

int nnrt_session_init_from(NnrtSession *s, const NnrtOptions *o) {
  if (check_globs(s, o) != 0)
    return -1;
  NnrtCkpt *c = nnrt_ckpt_open(o->init_from);
  if (!c)
    return -1;
  int count = 0;
  int rc = check_present(s, c, o, &count) != 0 || check_types(s, c, o) != 0 ||
           check_vocab(s, c, o->init_from) != 0 ? -1 : 0;
  if (rc == 0)
    copy_selected(s, c, o, count);
  nnrt_ckpt_free(c);
  return rc;
}
