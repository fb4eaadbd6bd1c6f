/*
 * session.c — turns a program description into something that runs: loads
 * and checks the data of each split, plans and allocates every slot and the
 * optimizer state in one block, initialises parameters from the seeded
 * generator, gathers batches, and saves/restores checkpoints.
 *
 * Invariants:
 *  - every field of a split has the same sample count, and its per-sample
 *    element count equals its INPUT slot's non-batch element count;
 *  - values bound for I32 slots are checked to be integers once, at load;
 *  - the validation split is drawn from the seed alone, before anything
 *    else uses the generator, and normalised fields take their statistics
 *    from the training split only (after the hold-out);
 *  - slots with NNRT_BATCH dims are sized for s->B rows; a call with a
 *    smaller batch uses the leading rows;
 *  - params are initialised in slot order, so the seed fixes them;
 *  - the checkpoint table (params, STATE, then __opt__/<param>/<i>) points
 *    into the slot block, so saving copies nothing.
 * It does not train or print progress (train.c, eval.c do).
 *
 * Start-up is mostly waiting for data (inflating Fashion-MNIST's 26 MB of
 * gzipped training images takes a quarter of a second) and for oneDNN to
 * build its kernels on its first call, so they overlap: the data files are
 * read on a few threads at once, and oneDNN is warmed up (gemm.c) by one of
 * them when it runs out of files.  The results, and every message and its
 * order, are those of reading the files one after the other.
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

static void *salloc(size_t bytes, const char *what) {
  void *q = nnrt_alloc(bytes, what);
  if (!q)
    nnrt_oom(what, bytes);
  return q;
}

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
    if (d->kind == DATA_TABLE)
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
    } else if (load_one(d, a, NULL) != 0) { /* a table (or a file not read yet) */
      return -1;
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

void nnrt_session_gather(NnrtSession *s, const NnrtSplit *sp, const int64_t *idx,
                         int64_t start, int64_t bs) {
  const NnrtProgram *p = s->p;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *slot = &p->slots[i];
    if (slot->role != NNRT_SLOT_INPUT)
      continue;
    const NnrtArray *a = &sp->fields[i];
    int64_t per = nnrt_slot_sample_count(slot);
    size_t dsz = nnrt_dtype_size(slot->dtype), ssz = nnrt_dtype_size(a->dtype);
    char *dst = s->slots[i];
    const char *src = a->data;
    for (int64_t r = 0; r < bs; r++)
      convert(slot->dtype, dst + (size_t)(r * per) * dsz, a->dtype,
              src + (size_t)((idx ? idx[r] : start + r) * per) * ssz, per, sp->scale[i]);
  }
}

double nnrt_session_read(const NnrtSession *s, int slot) {
  const void *q = s->slots[slot];
  switch (s->p->slots[slot].dtype) {
  case NNRT_F32: return *(const float *)q;
  case NNRT_F64: return *(const double *)q;
  case NNRT_I32: return *(const int32_t *)q;
  case NNRT_U8: return *(const uint8_t *)q;
  }
  return 0;
}

void nnrt_session_zero_grads(NnrtSession *s) {
  for (int i = 0; i < s->p->nslots; i++) {
    const NnrtSlotDesc *slot = &s->p->slots[i];
    if (slot->role == NNRT_SLOT_GRAD)
      memset(s->slots[i], 0, (size_t)nnrt_slot_count(slot, s->B) * nnrt_dtype_size(slot->dtype));
  }
}

/* ---- opening ----------------------------------------------------------- */

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Bytes of a slot at batch B, rounded to 64; false when that overflows. */
static bool slot_bytes(const NnrtSlotDesc *d, int64_t B, uint64_t *out) {
  uint64_t n = nnrt_dtype_size(d->dtype);
  for (int i = 0; i < d->rank; i++)
    if (__builtin_mul_overflow(n, (uint64_t)(d->dims[i] == NNRT_BATCH ? B : d->dims[i]), &n))
      return false;
  if (n > UINT64_MAX - 63)
    return false;
  *out = (n + 63) & ~(uint64_t)63;
  return true;
}

/* Physical memory: a plan above it would only end in swapping or the OOM
 * killer some minutes into training (overcommit lets the allocation pass). */
static uint64_t machine_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  uint64_t m;
  if (pages <= 0 || size <= 0 || __builtin_mul_overflow((uint64_t)pages, (uint64_t)size, &m))
    return UINT64_MAX;
  return m;
}

/* The plan's total (slots, optimizer state, kernel scratch) checked for
 * overflow and against the machine's memory before anything is allocated;
 * the message names the size and its largest part. */
static int check_plan(NnrtSession *s, bool with_opt, int64_t scratch) {
  NnrtProgram *p = s->p;
  uint64_t total = 0, big = 0, b;
  const char *big_name = "?", *big_what = "slot";
  bool over = scratch < 0;
  if (!over) {
    total = (uint64_t)scratch;
    big = total, big_name = "kernel scratch", big_what = "";
  }
  for (int i = 0; i < p->nslots && !over; i++) {
    over = !slot_bytes(&p->slots[i], s->B, &b) || __builtin_add_overflow(total, b, &total);
    if (!over && b > big)
      big = b, big_name = p->slots[i].name, big_what = "slot ";
    if (over)
      big_name = p->slots[i].name, big_what = "slot ";
  }
  for (int g = 0; with_opt && g < p->ngrads && !over; g++) {
    const NnrtSlotDesc *w = &p->slots[p->grads[g].param];
    uint64_t k = (uint64_t)nnrt_opt_nstate(s->cfg[p->grads[g].opt].kind);
    over = !slot_bytes(w, 1, &b) || __builtin_mul_overflow(b, k, &b) ||
           __builtin_add_overflow(total, b, &total);
    if (!over && b > big)
      big = b, big_name = w->name, big_what = "optimizer state of ";
  }
  if (over) {
    fprintf(stderr, "error: the memory plan overflows 64 bits at batch %lld (%s%s%s%s)\n",
            (long long)s->B, big_what, *big_what ? "'" : "", big_name, *big_what ? "'" : "");
    return -1;
  }
  uint64_t mem = machine_memory();
  if (total > mem) {
    fprintf(stderr, "error: the memory plan needs %" PRIu64 " bytes at batch %lld (the largest "
            "part, %s%s%s%s, %" PRIu64 " bytes), more than this machine's %" PRIu64 " bytes "
            "of memory\n", total, (long long)s->B, big_what, *big_what ? "'" : "", big_name,
            *big_what ? "'" : "", big, mem);
    return -1;
  }
  return 0;
}

static int plan_and_allocate(NnrtSession *s, bool with_opt) {
  NnrtProgram *p = s->p;
  size_t total = 0;
  for (int i = 0; i < p->nslots; i++)
    total += align64((size_t)nnrt_slot_count(&p->slots[i], s->B) * nnrt_dtype_size(p->slots[i].dtype));
  if (with_opt)
    for (int g = 0; g < p->ngrads; g++) {
      const NnrtSlotDesc *w = &p->slots[p->grads[g].param];
      size_t one = align64((size_t)nnrt_slot_count(w, 1) * nnrt_dtype_size(w->dtype));
      total += one * (size_t)nnrt_opt_nstate(s->cfg[p->grads[g].opt].kind);
    }
  s->opt_state = salloc((size_t)p->ngrads * sizeof(void **), "optimizer table");
  if (!s->opt_state)
    return -1;
  memset(s->opt_state, 0, (size_t)p->ngrads * sizeof(void **));
  s->slots = salloc((size_t)p->nslots * sizeof(void *), "slot table");
  if (!s->slots)
    return -1;
  s->block = salloc(total, "slots and optimizer state");
  if (!s->block)
    return -1;
  memset(s->block, 0, total);
  char *at = s->block;
  for (int i = 0; i < p->nslots; i++) {
    s->slots[i] = at;
    at += align64((size_t)nnrt_slot_count(&p->slots[i], s->B) * nnrt_dtype_size(p->slots[i].dtype));
  }
  if (with_opt)
    for (int g = 0; g < p->ngrads; g++) {
      const NnrtSlotDesc *w = &p->slots[p->grads[g].param];
      int ns = nnrt_opt_nstate(s->cfg[p->grads[g].opt].kind);
      s->opt_state[g] = salloc((size_t)(ns + 1) * sizeof(void *), "optimizer table");
      if (!s->opt_state[g])
        return -1;
      for (int k = 0; k < ns; k++) {
        s->opt_state[g][k] = at;
        at += align64((size_t)nnrt_slot_count(w, 1) * nnrt_dtype_size(w->dtype));
      }
    }
  return 0;
}

static int build_ckpt_table(NnrtSession *s, bool with_opt) {
  NnrtProgram *p = s->p;
  int n = 0, nopt = 0;
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_PARAM || p->slots[i].role == NNRT_SLOT_STATE)
      n++;
  if (with_opt)
    for (int g = 0; g < p->ngrads; g++)
      nopt += nnrt_opt_nstate(s->cfg[p->grads[g].opt].kind);
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
    if (slot->role != NNRT_SLOT_PARAM && slot->role != NNRT_SLOT_STATE)
      continue;
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
      int ns = nnrt_opt_nstate(s->cfg[p->grads[g].opt].kind);
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

/* Whether the CPU kernels will call oneDNN, guessed from the f32 weights:
 * a convolution's (4-d), or a matrix (k, n) whose B x k x n products go to
 * dnnl_sgemm rather than the small-product loop.  A wrong guess costs
 * little: a needless warm-up runs beside the data loading, a missed one
 * leaves oneDNN's start-up in the first step, as it always was. */
static bool uses_onednn(const NnrtProgram *p, const NnrtOptions *o, int64_t B) {
  if (o->device && strcmp(o->device, "cuda") == 0)
    return false;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *w = &p->slots[i];
    if (w->role != NNRT_SLOT_PARAM || w->dtype != NNRT_F32 || w->rank < 2 || w->dims[0] <= 0)
      continue;
    if (w->rank == 4 || nnrt_sgemm_uses_dnnl(B, w->dims[0], nnrt_slot_count(w, 1) / w->dims[0]))
      return true;
  }
  return false;
}

static void *warm_thread(void *arg) {
  (void)arg;
  nnrt_gemm_warm();
  return NULL;
}

int nnrt_session_open(NnrtSession *s, NnrtProgram *p, const NnrtOptions *o, int64_t B, int flags) {
  memset(s, 0, sizeof *s);
  Loads loads = {0};
  pthread_t warmer;
  bool warming = false;
  s->p = p;
  s->o = o;
  s->B = B;
  s->loss_slot = nnrt_program_find_output(p, NNRT_OUT_LOSS);
  s->correct_slot = nnrt_program_find_output(p, NNRT_OUT_CORRECT);
  s->seed = o->has_seed ? o->seed : p->seed;
  s->epochs = o->epochs >= 0 ? o->epochs : p->epochs;
  s->valid_fraction = o->has_valid ? o->valid : p->valid;
  nnrt_rng_seed(&s->rng, s->seed);
  s->ctx.rng = &s->rng;
  s->eval_ctx.rng = &s->eval_rng;
  s->ctx.p = s->eval_ctx.p = p;
  s->ctx.check_numerics = s->eval_ctx.check_numerics = o->check_numerics;

  int nopt = p->nopts > 0 ? p->nopts : 1;
  for (int g = 0; g < p->ngrads; g++)
    if (p->grads[g].opt >= nopt)
      nopt = p->grads[g].opt + 1;
  s->cfg = salloc((size_t)nopt * sizeof *s->cfg, "optimizer table");
  if (!s->cfg)
    goto fail;
  for (int i = 0; i < nopt; i++) {
    char err[64];
    if (i < p->nopts && p->opts[i].declared)
      s->cfg[i] = p->opts[i].cfg;
    else
      nnrt_opt_config(&s->cfg[i], "sgd", 0, NULL, NULL, err, sizeof err);
    if (o->lr > 0)
      s->cfg[i].lr = o->lr;
  }

  bool test = (flags & SESSION_TEST) && has_split(p, "test");
  /* Cutting a validation split out of the training data, and standardising
   * fields, hold a copy of the data for a moment: the peak memory.  The
   * test files are then read after the cut, not beside it, and oneDNN's
   * warm-up (about 7 MB of its own) starts after both. */
  bool cut = (flags & SESSION_DATA) && s->valid_fraction > 0;
  bool twice = cut || ((flags & SESSION_DATA) && any_normalized(p));
  bool warm = uses_onednn(p, o, B);
  if (loads_run(&loads, s, (flags & SESSION_DATA) != 0, test && !cut, warm && !twice) != 0)
    goto fail;
  if ((flags & SESSION_DATA) && load_split(s, &s->train, "train", &loads) != 0)
    goto fail;
  if (cut && split_validation(s, s->valid_fraction) != 0)
    goto fail;
  if (test && cut && loads_run(&loads, s, false, true, false) != 0)
    goto fail;
  if (test && load_split(s, &s->test, "test", &loads) != 0)
    goto fail;
  loads_free(&loads);
  if ((flags & SESSION_DATA) && normalize_fields(s) != 0)
    goto fail;
  if (warm && twice) /* if no thread starts, the first product pays as it used to */
    warming = pthread_create(&warmer, NULL, warm_thread, NULL) == 0;
  /* A batch beyond the data is full-batch: size the slots for the data. */
  int64_t most = s->train.n > s->test.n ? s->train.n : s->test.n;
  if ((flags & SESSION_DATA) && most > 0 && s->B > most)
    s->B = B = most;
  int64_t ts = p->train_scratch ? p->train_scratch(B) : 0;
  int64_t es = p->eval_scratch ? p->eval_scratch(B) : 0;
  int64_t sb = ts < 0 || es < 0 ? -1 : ts > es ? ts : es; /* negative: the sizes overflowed */
  if (check_plan(s, flags & SESSION_OPT, sb) != 0 || plan_and_allocate(s, flags & SESSION_OPT) != 0)
    goto fail;
  s->scratch = salloc((size_t)sb, "kernel scratch");
  if (!s->scratch)
    goto fail;
  if (s->train.present) {
    s->perm = salloc((size_t)s->train.n * sizeof(int64_t), "sample permutation");
    if (!s->perm)
      goto fail;
  }
  if ((flags & SESSION_OPT) && nnrt_augment_open(s) != 0) /* training only */
    goto fail;
  if (build_ckpt_table(s, flags & SESSION_OPT) != 0)
    goto fail;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *slot = &p->slots[i];
    if ((slot->role != NNRT_SLOT_PARAM && slot->role != NNRT_SLOT_STATE) || !slot->init)
      continue;
    char err[ERRLEN];
    if (nnrt_init_fill(&s->rng, slot->init, slot->ninit, slot->init_args, slot->fan_in,
                       slot->fan_out, slot->dtype, s->slots[i], nnrt_slot_count(slot, s->B),
                       err, sizeof err) != 0) {
      fprintf(stderr, "error: slot '%s': %s\n", slot->name, err);
      goto fail;
    }
  }
  if (warming)
    pthread_join(warmer, NULL);
  return 0;
fail:
  if (warming) /* oneDNN must not be mid-call when the program exits */
    pthread_join(warmer, NULL);
  loads_free(&loads);
  nnrt_session_free(s);
  return -1;
}

static void split_free(NnrtSplit *sp, int nslots) {
  if (sp->fields)
    for (int i = 0; i < nslots; i++)
      if (sp->fields[i].data)
        nnrt_array_free(&sp->fields[i]);
  nnrt_free(sp->fields);
  nnrt_free(sp->scale);
  memset(sp, 0, sizeof *sp);
}

void nnrt_session_free(NnrtSession *s) {
  if (!s->p)
    return;
  split_free(&s->train, s->p->nslots);
  split_free(&s->test, s->p->nslots);
  split_free(&s->valid, s->p->nslots);
  if (s->opt_state)
    for (int g = 0; g < s->p->ngrads; g++)
      nnrt_free(s->opt_state[g]);
  if (s->names)
    for (int i = 0; s->names[i]; i++)
      nnrt_free(s->names[i]);
  nnrt_free(s->names);
  nnrt_free(s->tensors);
  nnrt_free(s->opt_state);
  nnrt_free(s->slots);
  nnrt_free(s->block);
  nnrt_free(s->scratch);
  nnrt_free(s->perm);
  nnrt_free(s->aug_tmp);
  nnrt_free(s->cfg);
  memset(s, 0, sizeof *s);
}

/* ---- checkpoints ------------------------------------------------------- */

/* "adam,sgd": the kind of each optimizer the grads use, in index order (a
 * checkpoint's "optimizers").  Cut at OPT_KINDS_LEN - 1 bytes. */
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
  int nmeta = (int)(sizeof meta / sizeof meta[0]) - (s->valid_fraction > 0 ? 0 : 1);
  char err[ERRLEN] = "";
  if (nnrt_ckpt_save(path, s->tensors, s->ntensors, meta, nmeta, err, sizeof err) != 0) {
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

static void describe(char *buf, size_t len, const NnrtNamedTensor *t) {
  char shape[128];
  nnrt_format_shape(shape, sizeof shape, t->rank, t->dims);
  snprintf(buf, len, "%s %s", nnrt_dtype_name(t->dtype), shape);
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
    if (!same_shape(t, f)) {
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
    memcpy(t->data, f->data, (size_t)n * nnrt_dtype_size(t->dtype));
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
