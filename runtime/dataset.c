/*
 * dataset.c — the data of a session's splits: each INPUT slot's field read
 * from its file (IDX, CSV, NPY), inline table or text corpus (windows of
 * token ids of the session's vocabulary, data/text.c), checked against the slot,
 * the validation split cut from the training data, fields normalised, and
 * batches gathered into the INPUT slots.
 *
 * Invariants:
 *  - every field of a split has the same sample count, and its per-sample
 *    element count equals its INPUT slot's non-batch element count;
 *  - values bound for I32 slots are checked to be integers once, at load
 *    (and class labels to lie in their range);
 *  - the validation split is drawn from the seed alone, before anything
 *    else uses the generator, and normalised fields take their statistics
 *    from the training split only (after the hold-out).
 *
 * Start-up is mostly waiting for data (inflating Fashion-MNIST's 26 MB of
 * gzipped training images takes a quarter of a second), so the files are
 * read on a few threads at once, largest first, and oneDNN is warmed up
 * (gemm.c) by one of them when it runs out of files.  The results, and
 * every message and its order, are those of reading the files one after
 * the other.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include "program.h"
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERRLEN 512
#define MSGLEN (ERRLEN + 4096 + 256) /* one message of load_one: a path and a loader's error */
#define salloc nnrt_alloc_or_say

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static const char *source_name(const NnrtDataDesc *d) {
  return d->kind == DATA_TABLE ? "inline table" : d->path;
}

/* An error of load_one: printed at once when msg is NULL, else kept in msg
 * (MSGLEN bytes) for the main thread to print in its turn. */
static void say(char *msg, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (msg)
    vsnprintf(msg, MSGLEN, fmt, ap);
  else
    vfprintf(stderr, fmt, ap);
  va_end(ap);
}

static void *load_alloc(size_t bytes, const char *what, char *msg) {
  void *q = nnrt_alloc(bytes, what);
  if (!q)
    say(msg, NNRT_OOM_FORMAT, what, bytes);
  return q;
}

/* Copy columns [c0, c1) of a rank-2 F64 array into a new array. */
static int slice_columns(NnrtArray *a, int64_t c0, int64_t c1, const char *path, char *msg) {
  int64_t rows = a->dims[0], cols = a->rank > 1 ? a->dims[1] : 1;
  if (c1 < 0)
    c1 = cols;
  if (c0 < 0 || c0 >= c1 || c1 > cols) {
    say(msg, "error: %s: columns %lld..%lld are out of range (the file has %lld)\n",
        path, (long long)c0, (long long)c1, (long long)cols);
    return -1;
  }
  if (c0 == 0 && c1 == cols)
    return 0;
  int64_t w = c1 - c0;
  double *out = load_alloc((size_t)(rows * w) * sizeof(double), "CSV columns", msg);
  if (!out)
    return -1;
  const double *in = a->data;
  for (int64_t r = 0; r < rows; r++)
    memcpy(out + r * w, in + r * cols + c0, (size_t)w * sizeof(double));
  nnrt_free(a->data);
  a->data = out;
  a->dims[1] = w;
  a->rank = 2;
  return 0;
}

/* Load one field's data into a; on failure print its error (or keep it in
 * msg, see say) and leave a empty.  Safe on several threads at once. */
static int load_one(const NnrtDataDesc *d, NnrtArray *a, char *msg) {
  char err[ERRLEN] = "";
  memset(a, 0, sizeof *a);
  if (d->kind == DATA_TABLE) {
    size_t bytes = (size_t)(d->n * d->per) * sizeof(double);
    a->data = load_alloc(bytes, "inline data table", msg);
    if (!a->data)
      return -1;
    if (bytes)
      memcpy(a->data, d->values, bytes);
    a->dtype = NNRT_F64;
    a->rank = 2;
    a->dims[0] = d->n;
    a->dims[1] = d->per;
    return 0;
  }
  int rc;
  if (d->kind == DATA_CSV) {
    rc = nnrt_load_csv(d->path, d->header, -1, a, NULL, err, sizeof err);
    if (rc == 0 && slice_columns(a, d->col_begin, d->col_end, d->path, msg) != 0) {
      nnrt_array_free(a);
      return -1;
    }
  } else if (d->kind == DATA_GRAPH) {
    NnrtGraph g;
    rc = nnrt_load_graph(d->path, d->len, &g, err, sizeof err);
    if (rc == 0) { /* one graph = one sample */
      rc = nnrt_graph_matrix(&g, d->graph_form, a, err, sizeof err);
      nnrt_graph_free(&g);
    }
  } else if (ends_with(d->path, ".npy")) {
    rc = nnrt_load_npy(d->path, a, err, sizeof err);
  } else if (ends_with(d->path, ".csv")) {
    rc = nnrt_load_csv(d->path, false, -1, a, NULL, err, sizeof err);
    if (rc != 0) { /* perhaps a header line: try once more skipping it */
      char err2[ERRLEN];
      memset(a, 0, sizeof *a);
      rc = nnrt_load_csv(d->path, true, -1, a, NULL, err2, sizeof err2);
      /* when the first line was the problem, the header reading got further:
       * its error is the one that names the real culprit */
      char line1[ERRLEN + 8];
      snprintf(line1, sizeof line1, "%s:1:", d->path);
      if (rc != 0 && strncmp(err, line1, strlen(line1)) == 0) memcpy(err, err2, sizeof err);
    }
  } else {
    rc = nnrt_load_idx(d->path, a, err, sizeof err);
  }
  if (rc != 0) {
    say(msg, "error: %s\n", err[0] ? err : d->path);
    return -1;
  }
  if (a->rank < 1) {
    say(msg, "error: %s: data must have a sample dimension (got a scalar)\n", d->path);
    nnrt_array_free(a);
    return -1;
  }
  return 0;
}

/* ---- text corpora ------------------------------------------------------ */

/* A text file read once per session, as ids of the session's vocabulary. */
typedef struct NnrtCorpus {
  const char *path; /* the program's */
  int32_t *ids;
  int64_t n;
} NnrtCorpus;

/* The samples of one split's mlm(...) file, made once for all its fields. */
typedef struct NnrtMlmData {
  const char *split, *path; /* the program's */
  NnrtMlmSet set;
} NnrtMlmData;

const NnrtVocab *nnrt_session_vocab(const NnrtSession *s) { return s->vocab; }

void nnrt_session_text_free(NnrtSession *s) {
  for (int i = 0; i < s->ncorpora; i++)
    nnrt_free(s->corpora[i].ids);
  nnrt_free(s->corpora);
  s->corpora = NULL;
  s->ncorpora = 0;
  nnrt_vocab_free(s->vocab);
  s->vocab = NULL;
  for (int i = 0; i < s->nmlm; i++)
    nnrt_mlm_free(&s->mlm[i].set);
  nnrt_free(s->mlm);
  s->mlm = NULL;
  s->nmlm = 0;
  nnrt_vocab_free(s->mlm_vocab);
  s->mlm_vocab = NULL;
}

/* The train split's text file: the one the vocabulary comes from. */
static const NnrtDataDesc *vocab_source(const NnrtProgram *p) {
  for (int j = 0; j < p->ndata; j++)
    if (p->data[j].kind == DATA_TEXT && strcmp(p->data[j].split, "train") == 0)
      return &p->data[j];
  return NULL;
}

/* The ids of text file path (read and encoded on first use; the first one
 * read is the vocabulary's source), or NULL after printing why. */
static const NnrtCorpus *corpus(NnrtSession *s, const NnrtDataDesc *d) {
  for (int i = 0; i < s->ncorpora; i++)
    if (strcmp(s->corpora[i].path, d->path) == 0)
      return &s->corpora[i];
  const NnrtDataDesc *vs = vocab_source(s->p);
  if (!vs) {
    fprintf(stderr, "error: field '%s' (%s): a test text source needs a train text source for its "
            "vocabulary\n", d->field, d->path);
    return NULL;
  }
  if (!s->vocab && strcmp(vs->path, d->path) != 0 && !corpus(s, vs))
    return NULL;
  if (!s->corpora && !(s->corpora = nnrt_alloc((size_t)s->p->ndata * sizeof *s->corpora, "text corpora"))) {
    fprintf(stderr, "error: %s: out of memory for the corpus table\n", d->path);
    return NULL;
  }
  char err[ERRLEN] = "", *buf = NULL;
  size_t len = 0;
  NnrtCorpus *c = &s->corpora[s->ncorpora];
  memset(c, 0, sizeof *c);
  int rc = nnrt_read_text(d->path, &buf, &len, err, sizeof err);
  if (rc == 0 && !s->vocab)
    rc = nnrt_vocab_build(buf, len, d->path, d->words, d->vocab_cap, &s->vocab, err, sizeof err);
  if (rc == 0)
    rc = nnrt_text_ids(s->vocab, buf, len, d->path, vs->path, &c->ids, &c->n, err, sizeof err);
  nnrt_free(buf);
  if (rc != 0) {
    fprintf(stderr, "error: %s\n", err[0] ? err : d->path);
    return NULL;
  }
  c->path = d->path;
  s->ncorpora++;
  return c;
}

/* A text field of a split: its windows into a. */
static int load_text(NnrtSession *s, const NnrtDataDesc *d, NnrtArray *a) {
  const NnrtCorpus *c = corpus(s, d);
  if (!c)
    return -1;
  char err[ERRLEN] = "";
  if (nnrt_text_windows(c->ids, c->n, d->len, d->shift, d->stride, d->reach, d->path, d->words, a, err,
                        sizeof err) != 0) {
    fprintf(stderr, "error: %s\n", err);
    return -1;
  }
  return 0;
}

/* ---- BERT pretraining samples ------------------------------------------ */


/* The train split's mlm file: the one the vocabulary comes from. */
static const NnrtDataDesc *mlm_vocab_source(const NnrtProgram *p) {
  for (int j = 0; j < p->ndata; j++)
    if (p->data[j].kind == DATA_MLM && strcmp(p->data[j].split, "train") == 0)
      return &p->data[j];
  return NULL;
}

/* The vocabulary of the train split's mlm file (built on first use). */
static const NnrtVocab *mlm_vocab(NnrtSession *s, const NnrtDataDesc *d) {
  if (s->mlm_vocab)
    return s->mlm_vocab;
  const NnrtDataDesc *vs = mlm_vocab_source(s->p);
  if (!vs) {
    fprintf(stderr, "error: field '%s' (%s): a test mlm source needs a train mlm source for its vocabulary\n",
            d->field, d->path);
    return NULL;
  }
  char err[ERRLEN] = "", *buf = NULL;
  size_t len = 0;
  int rc = nnrt_read_text(vs->path, &buf, &len, err, sizeof err);
  if (rc == 0)
    rc = nnrt_mlm_vocab(buf, len, vs->path, vs->words, vs->vocab_cap, &s->mlm_vocab, err, sizeof err);
  nnrt_free(buf);
  if (rc != 0)
    fprintf(stderr, "error: %s\n", err[0] ? err : vs->path);
  return s->mlm_vocab;
}

/* The samples of d's split and file, made on first use from the session's
 * seed (a stream of its own per split). */
static const NnrtMlmSet *mlm_samples(NnrtSession *s, const NnrtDataDesc *d) {
  for (int i = 0; i < s->nmlm; i++)
    if (strcmp(s->mlm[i].split, d->split) == 0 && strcmp(s->mlm[i].path, d->path) == 0)
      return &s->mlm[i].set;
  const NnrtVocab *v = mlm_vocab(s, d);
  if (!v)
    return NULL;
  if (!s->mlm && !(s->mlm = nnrt_alloc((size_t)s->p->ndata * sizeof *s->mlm, "mlm samples"))) {
    fprintf(stderr, "error: %s: out of memory for the mlm table\n", d->path);
    return NULL;
  }
  NnrtMlmData *m = &s->mlm[s->nmlm];
  memset(m, 0, sizeof *m);
  NnrtMlmConfig cfg = {d->len, d->mask, d->pairs, d->copies,
                       s->seed ^ (strcmp(d->split, "train") == 0 ? 0x6d6c6d747261696eull : 0x6d6c6d74657374ull)};
  char err[ERRLEN] = "", *buf = NULL;
  size_t len = 0;
  int rc = nnrt_read_text(d->path, &buf, &len, err, sizeof err);
  if (rc == 0)
    rc = nnrt_mlm_build(buf, len, d->path, v, &cfg, &m->set, err, sizeof err);
  nnrt_free(buf);
  if (rc != 0) {
    fprintf(stderr, "error: %s\n", err[0] ? err : d->path);
    return NULL;
  }
  m->split = d->split;
  m->path = d->path;
  s->nmlm++;
  return &m->set;
}

/* An mlm field of a split: its part of the samples, copied into a. */
static int load_mlm(NnrtSession *s, const NnrtDataDesc *d, NnrtArray *a) {
  const NnrtMlmSet *m = mlm_samples(s, d);
  if (!m)
    return -1;
  const void *src[] = {m->ids, m->segments, m->keep, m->target, m->weight, m->next};
  bool per_token = d->part != MLM_PART_NEXT;
  size_t count = (size_t)(per_token ? m->n * m->len : m->n), bytes = count * 4;
  memset(a, 0, sizeof *a);
  a->data = nnrt_alloc(bytes + 1, "mlm field");
  if (!a->data) {
    fprintf(stderr, NNRT_OOM_FORMAT, "mlm field", bytes);
    return -1;
  }
  memcpy(a->data, src[d->part], bytes);
  a->dtype = d->part == MLM_PART_KEEP || d->part == MLM_PART_WEIGHT ? NNRT_F32 : NNRT_I32;
  a->rank = per_token ? 2 : 1;
  a->dims[0] = m->n;
  a->dims[1] = m->len;
  return 0;
}

/* The data an INPUT slot reads in a split (the last one declared), or NULL. */
static const NnrtDataDesc *field_data(const NnrtProgram *p, const NnrtSlotDesc *slot,
                                      const char *split) {
  const NnrtDataDesc *d = NULL;
  for (int j = 0; j < p->ndata; j++)
    if (strcmp(p->data[j].split, split) == 0 && slot->field &&
        strcmp(p->data[j].field, slot->field) == 0)
      d = &p->data[j];
  return d;
}

/* ---- reading the files of the splits at once --------------------------- */

/* The files are read by up to LOADERS threads (the calling one among them),
 * each taking the largest file left, so the biggest inflate starts first
 * and the small ones fill in beside it; the oneDNN warm-up is the last job,
 * so it adds no thread of its own to compete for the cores.  Only files:
 * an inline table is a copy, made by load_split.  A file that comes after
 * a failed one in load order is skipped: load_split stops at the failure
 * and never asks for it.  A message is kept with its file, and load_split
 * prints it when it reaches that file, so the first failure in load order
 * is the one reported, as if the files had been read one after the other. */
#define LOADERS 4

typedef struct LoadJob {
  const NnrtSplit *sp;   /* the split and INPUT slot it is for */
  int slot;
  const NnrtDataDesc *d; /* NULL: the oneDNN warm-up */
  uint64_t bytes;        /* the file's size: the largest start first */
  int rc;                /* 0 loaded, -1 failed (msg says why), 1 not run */
  NnrtArray a;           /* moved into the split by load_split */
  char msg[MSGLEN];
} LoadJob;

typedef struct Loads {
  LoadJob *jobs; /* in load order: the order load_split asks for them */
  int *order;    /* job numbers, largest file first */
  int n, next;   /* next: the next entry of order to take */
  int failed;    /* the first failed job in load order; n if none */
  pthread_mutex_t lock;
} Loads;

/* The files load_split(split) will read, in its order, into jobs (NULL:
 * only count them).  Stops where load_split would: at a field without data. */
static int plan_split(NnrtSession *s, NnrtSplit *sp, const char *split, LoadJob *jobs) {
  const NnrtProgram *p = s->p;
  int n = 0;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *slot = &p->slots[i];
    if (slot->role != NNRT_SLOT_INPUT)
      continue;
    const NnrtDataDesc *d = field_data(p, slot, split);
    if (!d)
      break;
    if (d->kind == DATA_TABLE || d->kind == DATA_TEXT || d->kind == DATA_MLM)
      continue;
    if (jobs) {
      LoadJob *j = &jobs[n];
      struct stat st;
      memset(j, 0, offsetof(LoadJob, msg));
      j->msg[0] = 0;
      j->sp = sp;
      j->slot = i;
      j->d = d;
      j->bytes = stat(d->path, &st) == 0 ? (uint64_t)st.st_size : 0;
      j->rc = 1;
    }
    n++;
  }
  return n;
}

static void *load_worker(void *arg) {
  Loads *l = arg;
  for (;;) {
    int k = -1;
    pthread_mutex_lock(&l->lock);
    while (k < 0 && l->next < l->n) {
      k = l->order[l->next++];
      if (k > l->failed)
        k = -1;
    }
    pthread_mutex_unlock(&l->lock);
    if (k < 0)
      return NULL;
    LoadJob *j = &l->jobs[k];
    int rc = 0;
    if (j->d)
      rc = load_one(j->d, &j->a, j->msg);
    else
      nnrt_gemm_warm();
    pthread_mutex_lock(&l->lock);
    j->rc = rc;
    if (rc != 0 && k < l->failed)
      l->failed = k;
    pthread_mutex_unlock(&l->lock);
  }
}

static void loads_free(Loads *l) {
  for (int k = 0; k < l->n; k++)
    nnrt_array_free(&l->jobs[k].a);
  nnrt_free(l->jobs);
  nnrt_free(l->order);
  memset(l, 0, sizeof *l);
}

/* Read the files of the train split (train) and of the test split (test),
 * and warm oneDNN up (warm), replacing what l held.  Returns -1 only when
 * out of memory for its own tables (said on stderr); a file's failure is
 * kept for load_split. */
static int loads_run(Loads *l, NnrtSession *s, bool train, bool test, bool warm) {
  loads_free(l);
  int nt = train ? plan_split(s, &s->train, "train", NULL) : 0;
  int nf = nt + (test ? plan_split(s, &s->test, "test", NULL) : 0);
  int n = nf + warm;
  if (n == 0)
    return 0;
  l->jobs = salloc((size_t)n * sizeof *l->jobs, "data file loads");
  l->order = salloc((size_t)n * sizeof *l->order, "data file loads");
  if (!l->jobs || !l->order) {
    loads_free(l);
    return -1;
  }
  if (train)
    plan_split(s, &s->train, "train", l->jobs);
  if (test)
    plan_split(s, &s->test, "test", l->jobs + nt);
  if (warm) { /* size 0: after every file */
    memset(&l->jobs[nf], 0, offsetof(LoadJob, msg));
    l->jobs[nf].msg[0] = 0;
  }
  l->n = l->failed = n;
  for (int k = 0; k < n; k++) { /* insertion sort, largest first; ties in load order */
    int at = k;
    for (; at > 0 && l->jobs[l->order[at - 1]].bytes < l->jobs[k].bytes; at--)
      l->order[at] = l->order[at - 1];
    l->order[at] = k;
  }
  /* More threads than the cores this process may run on would only take
   * turns on them. */
  cpu_set_t cpus;
  int cores = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : LOADERS;
  int want = n < LOADERS ? n : LOADERS;
  if (cores > 0 && cores < want)
    want = cores;
  pthread_t t[LOADERS - 1];
  int started = 0;
  pthread_mutex_init(&l->lock, NULL);
  while (started < want - 1 && pthread_create(&t[started], NULL, load_worker, l) == 0)
    started++;
  load_worker(l); /* if no thread started, this one reads every file */
  for (int i = 0; i < started; i++)
    pthread_join(t[i], NULL);
  pthread_mutex_destroy(&l->lock);
  return 0;
}

/* The job that read slot's file for split sp, if any. */
static LoadJob *loaded(Loads *l, const NnrtSplit *sp, int slot) {
  for (int k = 0; k < l->n; k++)
    if (l->jobs[k].sp == sp && l->jobs[k].slot == slot)
      return &l->jobs[k];
  return NULL;
}

static double get_value(const NnrtArray *a, int64_t i) {
  switch (a->dtype) {
  case NNRT_F32: return ((const float *)a->data)[i];
  case NNRT_F64: return ((const double *)a->data)[i];
  case NNRT_I32: return ((const int32_t *)a->data)[i];
  case NNRT_U8: return ((const uint8_t *)a->data)[i];
  }
  return 0;
}

/* Class labels (nnrt_input_classes): every value, as the kernel will see
 * it (an I32 slot takes the raw value, a float one times the field's
 * scale), an integer in [0, classes). */
static int check_labels(const NnrtDataDesc *d, const NnrtArray *a, int64_t per, double scale,
                        const NnrtSlotDesc *slot) {
  int64_t count = nnrt_array_count(a);
  for (int64_t k = 0; k < count; k++) {
    double v = get_value(a, k) * (slot->dtype == NNRT_I32 ? 1.0 : scale);
    if (v >= 0 && v < (double)slot->classes && v == floor(v))
      continue;
    char at[48] = "";
    if (per > 1)
      snprintf(at, sizeof at, " (value %lld of the sample)", (long long)(k % per));
    fprintf(stderr, "error: %s: sample %lld%s: label %.17g is outside 0..%lld (field '%s' "
            "feeds input '%s', %lld classes)\n", source_name(d), (long long)(k / per), at, v,
            (long long)slot->classes - 1, d->field, slot->name, (long long)slot->classes);
    return -1;
  }
  return 0;
}

/* Load every INPUT slot's field of one split and check the invariants.
 * Files already read by loads_run are taken from l. */
static int load_split(NnrtSession *s, NnrtSplit *sp, const char *split, Loads *l) {
  NnrtProgram *p = s->p;
  sp->fields = salloc((size_t)p->nslots * sizeof *sp->fields, "data field table");
  if (!sp->fields)
    return -1;
  memset(sp->fields, 0, (size_t)p->nslots * sizeof *sp->fields);
  sp->scale = salloc((size_t)p->nslots * sizeof *sp->scale, "data scale table");
  if (!sp->scale)
    return -1;
  sp->present = true;
  const NnrtDataDesc *first = NULL;
  sp->n = 1; /* a program without inputs (e.g. minimising a function) runs once per epoch */
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *slot = &p->slots[i];
    if (slot->role != NNRT_SLOT_INPUT)
      continue;
    const NnrtDataDesc *d = field_data(p, slot, split);
    if (!d) {
      fprintf(stderr, "error: no %s data for field '%s' (input '%s')\n", split,
              slot->field ? slot->field : "?", slot->name);
      return -1;
    }
    NnrtArray *a = &sp->fields[i];
    LoadJob *j = loaded(l, sp, i);
    if (j && j->rc == 0) {
      *a = j->a;
      memset(&j->a, 0, sizeof j->a);
    } else if (j && j->rc < 0) {
      fputs(j->msg, stderr);
      return -1;
    } else if (d->kind == DATA_TEXT   ? load_text(s, d, a) != 0
               : d->kind == DATA_MLM  ? load_mlm(s, d, a) != 0
                                      : load_one(d, a, NULL) != 0) {
      return -1; /* a table, text or mlm samples (or a file not read yet) */
    }
    sp->scale[i] = d->scale == 0 ? 1.0 : d->scale;
    int64_t n = a->dims[0], count = nnrt_array_count(a);
    int64_t per = n ? count / n : 0, want = nnrt_slot_sample_count(slot);
    char shape[128], dshape[128];
    nnrt_format_shape(shape, sizeof shape, slot->rank, slot->dims);
    nnrt_format_shape(dshape, sizeof dshape, a->rank, a->dims);
    if (n == 0) {
      fprintf(stderr, "error: field '%s' (%s) has no samples\n", d->field, source_name(d));
      return -1;
    }
    if (per != want) {
      fprintf(stderr, "error: field '%s' (%s) has %lld values per sample (data shape %s), "
              "but input '%s' %s expects %lld\n", d->field, source_name(d), (long long)per,
              dshape, slot->name, shape, (long long)want);
      return -1;
    }
    if (!first) {
      first = d;
      sp->n = n;
    } else if (n != sp->n) {
      fprintf(stderr, "error: field '%s' (%s) has %lld samples, but field '%s' (%s) has %lld\n",
              d->field, source_name(d), (long long)n, first->field, source_name(first),
              (long long)sp->n);
      return -1;
    }
    if (slot->dtype == NNRT_I32 && (a->dtype == NNRT_F32 || a->dtype == NNRT_F64)) {
      for (int64_t k = 0; k < count; k++) {
        double v = get_value(a, k);
        if (v != floor(v) || fabs(v) > 2147483647.0) {
          fprintf(stderr, "error: field '%s' (%s): sample %lld has value %g, but input '%s' "
                  "takes integers\n", d->field, source_name(d), (long long)(k / per), v,
                  slot->name);
          return -1;
        }
      }
    }
    if (slot->classes > 0 && check_labels(d, a, per, sp->scale[i], slot) != 0)
      return -1;
  }
  return 0;
}

static bool has_split(const NnrtProgram *p, const char *split) {
  for (int j = 0; j < p->ndata; j++)
    if (strcmp(p->data[j].split, split) == 0)
      return true;
  return false;
}

/* ---- validation split and normalisation -------------------------------- */

/* Move about `fraction` of the train samples into s->valid.  The samples
 * are drawn by a generator seeded from the seed alone, never the training
 * stream, so the split is the same in every run (and resumed run) with that
 * seed, and adding a split does not change initialisation or shuffling.
 * Both splits keep file order. */
static int split_validation(NnrtSession *s, double fraction) {
  NnrtProgram *p = s->p;
  NnrtSplit *tr = &s->train, *va = &s->valid;
  int64_t n = tr->n, nv = (int64_t)floor(fraction * (double)n + 0.5);
  if (nv < 1)
    nv = 1;
  if (nv >= n) {
    fprintf(stderr, "error: valid = %g would hold out %lld of the %lld training samples, "
            "leaving none to train on\n", fraction, (long long)nv, (long long)n);
    return -1;
  }
  int64_t *perm = salloc((size_t)n * sizeof *perm, "validation split");
  char *held = salloc((size_t)n, "validation split");
  va->fields = salloc((size_t)p->nslots * sizeof *va->fields, "data field table");
  va->scale = salloc((size_t)p->nslots * sizeof *va->scale, "data scale table");
  int rc = -1;
  if (!perm || !held || !va->fields || !va->scale)
    goto out;
  memset(va->fields, 0, (size_t)p->nslots * sizeof *va->fields);
  memcpy(va->scale, tr->scale, (size_t)p->nslots * sizeof *va->scale);
  va->present = true;
  va->n = nv;
  for (int64_t i = 0; i < n; i++)
    perm[i] = i;
  NnrtRng r;
  nnrt_rng_seed(&r, s->seed ^ 0x76616c6964ull);
  nnrt_rng_shuffle(&r, perm, n);
  memset(held, 0, (size_t)n);
  for (int64_t i = 0; i < nv; i++)
    held[perm[i]] = 1;
  for (int i = 0; i < p->nslots; i++) {
    NnrtArray *a = &tr->fields[i];
    if (!a->data)
      continue;
    size_t row = (size_t)(nnrt_array_count(a) / n) * nnrt_dtype_size(a->dtype);
    NnrtArray t = *a, v = *a;
    t.dims[0] = n - nv;
    v.dims[0] = nv;
    t.data = salloc(row * (size_t)(n - nv) + 1, "training split");
    v.data = salloc(row * (size_t)nv + 1, "validation split");
    if (!t.data || !v.data) {
      nnrt_free(t.data);
      nnrt_free(v.data);
      goto out;
    }
    char *to_t = t.data, *to_v = v.data;
    const char *from = a->data;
    for (int64_t k = 0; k < n; k++) {
      char **to = held[k] ? &to_v : &to_t;
      memcpy(*to, from + (size_t)k * row, row);
      *to += row;
    }
    nnrt_array_free(a);
    *a = t;
    va->fields[i] = v;
  }
  tr->n = n - nv;
  rc = 0;
out:
  nnrt_free(perm);
  nnrt_free(held);
  return rc;
}

static bool any_normalized(const NnrtProgram *p) {
  for (int j = 0; j < p->ndata; j++)
    if (p->data[j].normalize)
      return true;
  return false;
}

static bool field_normalized(const NnrtProgram *p, const char *field) {
  for (int j = 0; field && j < p->ndata; j++)
    if (p->data[j].normalize && strcmp(p->data[j].field, field) == 0)
      return true;
  return false;
}

/* Replace a split's field by (x * scale - mean) / sd per feature, in the
 * INPUT slot's dtype (computed in double), so gathering is a plain copy. */
static int standardize(NnrtSplit *sp, int i, NnrtDtype dt, const double *mean,
                       const double *sd, int64_t per) {
  NnrtArray *a = &sp->fields[i], z = *a;
  int64_t n = a->dims[0];
  z.dtype = dt;
  z.data = salloc((size_t)(n * per) * nnrt_dtype_size(dt) + 1, "normalised data");
  if (!z.data)
    return -1;
  for (int64_t r = 0; r < n; r++)
    for (int64_t k = 0; k < per; k++) {
      double x = (get_value(a, r * per + k) * sp->scale[i] - mean[k]) / sd[k];
      if (dt == NNRT_F64)
        ((double *)z.data)[r * per + k] = x;
      else
        ((float *)z.data)[r * per + k] = (float)x;
    }
  nnrt_array_free(a);
  *a = z;
  sp->scale[i] = 1.0;
  return 0;
}

/* Standardise every field marked by nnrt_data_normalize: per feature, mean
 * and (population) standard deviation of the training split, in double and
 * in sample order; a constant feature (sd 0) is only centred. */
static int normalize_fields(NnrtSession *s) {
  NnrtProgram *p = s->p;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *slot = &p->slots[i];
    if (slot->role != NNRT_SLOT_INPUT || !field_normalized(p, slot->field) ||
        !s->train.fields[i].data)
      continue;
    if (slot->dtype != NNRT_F32 && slot->dtype != NNRT_F64) {
      fprintf(stderr, "error: field '%s': normalize needs a float field, but input '%s' is %s\n",
              slot->field, slot->name, nnrt_dtype_name(slot->dtype));
      return -1;
    }
    const NnrtArray *a = &s->train.fields[i];
    int64_t n = s->train.n, per = nnrt_slot_sample_count(slot);
    double sc = s->train.scale[i];
    double *mean = salloc((size_t)(2 * per) * sizeof(double) + 1, "normalisation statistics");
    if (!mean)
      return -1;
    double *sd = mean + per;
    memset(mean, 0, (size_t)(2 * per) * sizeof(double));
    for (int64_t r = 0; r < n; r++)
      for (int64_t k = 0; k < per; k++)
        mean[k] += get_value(a, r * per + k) * sc;
    for (int64_t k = 0; k < per; k++)
      mean[k] /= (double)n;
    for (int64_t r = 0; r < n; r++)
      for (int64_t k = 0; k < per; k++) {
        double d = get_value(a, r * per + k) * sc - mean[k];
        sd[k] += d * d;
      }
    for (int64_t k = 0; k < per; k++) {
      sd[k] = sqrt(sd[k] / (double)n);
      if (!(sd[k] > 0))
        sd[k] = 1.0;
    }
    NnrtSplit *splits[] = {&s->train, &s->valid, &s->test};
    int rc = 0;
    for (int k = 0; k < 3 && rc == 0; k++)
      if (splits[k]->present && splits[k]->fields[i].data)
        rc = standardize(splits[k], i, slot->dtype, mean, sd, per);
    nnrt_free(mean);
    if (rc != 0)
      return -1;
  }
  return 0;
}

/* ---- gathering --------------------------------------------------------- */

#define CONVERT(DT, ST, EXPR)                         \
  do {                                                \
    DT *o = (DT *)dst;                                \
    const ST *in = (const ST *)src;                   \
    for (int64_t k = 0; k < per; k++) o[k] = EXPR;    \
  } while (0)

/* Convert `per` values of one sample from src (dtype st) into dst (dt). */
static void convert(NnrtDtype dt, void *dst, NnrtDtype st, const void *src, int64_t per,
                    double scale) {
  if (dt == st && (scale == 1.0 || dt == NNRT_I32 || dt == NNRT_U8)) {
    memcpy(dst, src, (size_t)per * nnrt_dtype_size(dt));
    return;
  }
  float fs = (float)scale;
  switch (dt) {
  case NNRT_F32:
    switch (st) {
    case NNRT_U8: CONVERT(float, uint8_t, (float)in[k] * fs); break;
    case NNRT_I32: CONVERT(float, int32_t, (float)((double)in[k] * scale)); break;
    case NNRT_F32: CONVERT(float, float, in[k] * fs); break;
    case NNRT_F64: CONVERT(float, double, (float)(in[k] * scale)); break;
    }
    break;
  case NNRT_F64:
    switch (st) {
    case NNRT_U8: CONVERT(double, uint8_t, in[k] * scale); break;
    case NNRT_I32: CONVERT(double, int32_t, in[k] * scale); break;
    case NNRT_F32: CONVERT(double, float, (double)in[k] * scale); break;
    case NNRT_F64: CONVERT(double, double, in[k] * scale); break;
    }
    break;
  case NNRT_I32: /* integrality was checked at load */
    switch (st) {
    case NNRT_U8: CONVERT(int32_t, uint8_t, (int32_t)in[k]); break;
    case NNRT_I32: CONVERT(int32_t, int32_t, in[k]); break;
    case NNRT_F32: CONVERT(int32_t, float, (int32_t)in[k]); break;
    case NNRT_F64: CONVERT(int32_t, double, (int32_t)in[k]); break;
    }
    break;
  case NNRT_U8:
    switch (st) {
    case NNRT_U8: CONVERT(uint8_t, uint8_t, in[k]); break;
    case NNRT_I32: CONVERT(uint8_t, int32_t, (uint8_t)in[k]); break;
    case NNRT_F32: CONVERT(uint8_t, float, (uint8_t)in[k]); break;
    case NNRT_F64: CONVERT(uint8_t, double, (uint8_t)in[k]); break;
    }
    break;
  }
}

/* One field's rows [r0, r1) of a batch; a batch of many values is cut
 * into pieces of about GATHER_CHUNK values run on the worker team (each
 * row is converted alone, so the pieces are independent). */
#define GATHER_CHUNK 16384
struct Gather {
  const NnrtSlotDesc *slot;
  const NnrtArray *a;
  char *dst;
  const int64_t *idx;
  int64_t start, bs, per, rows; /* rows per piece */
  double scale;
};

static void gather_rows(const struct Gather *g, int64_t r0, int64_t r1) {
  size_t dsz = nnrt_dtype_size(g->slot->dtype), ssz = nnrt_dtype_size(g->a->dtype);
  const char *src = g->a->data;
  for (int64_t r = r0; r < r1; r++)
    convert(g->slot->dtype, g->dst + (size_t)(r * g->per) * dsz, g->a->dtype,
            src + (size_t)((g->idx ? g->idx[r] : g->start + r) * g->per) * ssz, g->per, g->scale);
}

static void gather_piece(void *ctx, int64_t i) {
  const struct Gather *g = ctx;
  int64_t r0 = i * g->rows, r1 = r0 + g->rows < g->bs ? r0 + g->rows : g->bs;
  gather_rows(g, r0, r1);
}

void nnrt_session_gather(NnrtSession *s, const NnrtSplit *sp, const int64_t *idx,
                         int64_t start, int64_t bs) {
  const NnrtProgram *p = s->p;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *slot = &p->slots[i];
    if (slot->role != NNRT_SLOT_INPUT)
      continue;
    int64_t per = nnrt_slot_sample_count(slot);
    struct Gather g = {slot, &sp->fields[i], s->slots[i], idx, start, bs, per, 0, sp->scale[i]};
    g.rows = per > 0 && per < GATHER_CHUNK ? GATHER_CHUNK / per : 1;
    if (bs * per <= GATHER_CHUNK || bs <= g.rows)
      gather_rows(&g, 0, bs);
    else
      nnrt_team_run(gather_piece, &g, (bs + g.rows - 1) / g.rows);
  }
}


/* Node masks (mask = 1): each split's entries 0 or 1, one per node, and no
 * node in the masks of two splits — a labelled training node counted in
 * the test score would flatter it.  A field marked in one split only is
 * checked alone. */
static int check_masks(NnrtSession *s) {
  const NnrtProgram *p = s->p;
  const NnrtSplit *sp[3] = {&s->train, &s->valid, &s->test};
  static const char *const split[3] = {"train", "valid", "test"};
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *slot = &p->slots[i];
    if (slot->role != NNRT_SLOT_INPUT)
      continue;
    const NnrtArray *m[3] = {NULL, NULL, NULL};
    const char *names[3] = {"", "", ""};
    bool any = false;
    for (int k = 0; k < 3; k++) {
      const NnrtDataDesc *d = field_data(p, slot, k == 1 ? "train" : split[k]);
      if (d && d->node_mask && sp[k]->present && sp[k]->fields && sp[k]->fields[i].data) {
        m[k] = &sp[k]->fields[i];
        names[k] = source_name(d);
        any = true;
      }
    }
    char err[ERRLEN];
    if (any && nnrt_graph_check_masks(m, names, nnrt_slot_sample_count(slot) * (m[0] ? m[0]->dims[0] : 1), err,
                                      sizeof err) != 0) {
      fprintf(stderr, "error: %s\n", err);
      return -1;
    }
  }
  return 0;
}

int nnrt_session_load_data(NnrtSession *s, int flags, bool warm, bool *warm_after) {
  NnrtProgram *p = s->p;
  Loads loads = {0};
  bool test = (flags & SESSION_TEST) && has_split(p, "test");
  /* Cutting a validation split out of the training data, and standardising
   * fields, hold a copy of the data for a moment: the peak memory.  The
   * test files are then read after the cut, not beside it, and oneDNN's
   * warm-up (about 7 MB of its own) starts after both (*warm_after). */
  bool cut = (flags & SESSION_DATA) && s->valid_fraction > 0;
  bool twice = cut || ((flags & SESSION_DATA) && any_normalized(p));
  *warm_after = false;
  if (loads_run(&loads, s, (flags & SESSION_DATA) != 0, test && !cut, warm && !twice) != 0 ||
      ((flags & SESSION_DATA) && load_split(s, &s->train, "train", &loads) != 0) ||
      (cut && split_validation(s, s->valid_fraction) != 0) ||
      (test && cut && loads_run(&loads, s, false, true, false) != 0) ||
      (test && load_split(s, &s->test, "test", &loads) != 0)) {
    loads_free(&loads);
    return -1;
  }
  loads_free(&loads);
  if (check_masks(s) != 0)
    return -1;
  nnrt_bench_mark("data_loaded"); /* read, inflated, converted */
  if ((flags & SESSION_DATA) && normalize_fields(s) != 0)
    return -1;
  nnrt_bench_mark("normalised");
  *warm_after = warm && twice;
  return 0;
}
