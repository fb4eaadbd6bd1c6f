/*
 * ckpt.c — checkpoints in the safetensors format.
 *
 * Layout: u64 LE header length N, N bytes of UTF-8 JSON (padded with spaces
 * to a multiple of 8), then the data section:
 *   {"__metadata__": {"k": "v"}, "w": {"dtype": "F32", "shape": [2, 4],
 *    "data_offsets": [0, 32]}, ...}
 * Offsets are relative to the data section; sorted by offset the tensors
 * tile it exactly (no gaps, no overlaps, no trailing bytes).
 *
 * Invariants: a loaded NnrtCkpt owns copies of every name, metadata string
 * and tensor (each nnrt_alloc'd, so aligned for its dtype), in header order.
 * Saving is atomic: PATH.tmp, fsync, rename, fsync of the directory.  Only
 * onto a regular file or a new path (the rename would replace a device
 * node).  SIGTERM, SIGINT, SIGHUP and SIGXFSZ during a save abandon it: the handler
 * removes PATH.tmp and the process dies of the signal as it would have
 * (status 128+sig), the previous checkpoint untouched.  JSON
 * goes through cJSON, whose allocations are routed to nnrt_alloc (global
 * hooks, set once).  Numbers are written as exact integer text.
 * Does not: memory-map, read dtypes other than F32 F64 I32 U8, accept JSON
 * that the reference implementation would reject (duplicate keys, unknown
 * entry fields, non-string metadata), or headers over 100 MB.
 */
#include "internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ckpt.c assumes a little-endian host");

#define CKPT_MAX_HEADER 100000000u     // as the reference implementation
#define CKPT_MAX_INT ((1ull << 53) - 1) // largest integer a JSON double holds exactly

struct NnrtCkpt {
  int n, nmeta;
  NnrtNamedTensor *ts; // header order; names and data owned
  NnrtKV *meta;        // keys and values owned
};

// ---- cJSON through nnrt_alloc --------------------------------------------

static _Thread_local bool json_oom; // an allocation inside cJSON failed

static void *json_alloc(size_t n) {
  void *p = nnrt_alloc(n, "checkpoint JSON");
  if (!p)
    json_oom = true;
  return p;
}

static void json_free(void *p) {
  if (p)
    nnrt_free(p);
}

static void json_hooks_once(void) {
  cJSON_Hooks h = {json_alloc, json_free};
  cJSON_InitHooks(&h);
}

static void json_hooks(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, json_hooks_once);
  json_oom = false;
}

// ---- shared helpers --------------------------------------------------------

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = nnrt_alloc(n, "checkpoint name");
  if (d)
    memcpy(d, s, n);
  return d;
}

// A name as it may appear in a one-line message: control bytes become '?'
// and long names are cut.
static const char *show(const char *s, char buf[48]) {
  size_t i = 0;
  for (; s[i] && i < 40; i++)
    buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
  strcpy(buf + i, s[i] ? "..." : "");
  return buf;
}

// Offset of the first byte that is not part of well-formed UTF-8, or n.
static size_t utf8_check(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    if (n - i < len)
      return i;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return i;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return n;
}

static bool parse_dtype(const char *s, NnrtDtype *d) {
  static const NnrtDtype all[] = {NNRT_F32, NNRT_F64, NNRT_I32, NNRT_U8};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    if (strcmp(s, nnrt_dtype_name(all[i])) == 0) {
      *d = all[i];
      return true;
    }
  }
  return false;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// The first name that occurs twice in names[0..n) (sorted in place), or NULL.
static const char *find_duplicate(const char **names, int n) {
  qsort(names, (size_t)n, sizeof *names, cmp_str);
  for (int i = 1; i < n; i++)
    if (strcmp(names[i - 1], names[i]) == 0)
      return names[i];
  return NULL;
}

// ---- save --------------------------------------------------------------------

// obj[key] = [v0, v1, ...] as exact integer text (cJSON numbers are doubles).
static bool add_ints(cJSON *obj, const char *key, const uint64_t *v, int n) {
  cJSON *a = cJSON_AddArrayToObject(obj, key);
  for (int i = 0; a && i < n; i++) {
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, v[i]);
    cJSON *x = cJSON_CreateRaw(num);
    if (!x || !cJSON_AddItemToArray(a, x)) {
      cJSON_Delete(x);
      return false;
    }
  }
  return a != NULL;
}

static bool valid_utf8(const char *s) {
  size_t n = strlen(s);
  return utf8_check((const unsigned char *)s, n) == n;
}

// Checks the arguments and builds the header JSON; sets *data_len.
static char *build_header(const char *path, const NnrtNamedTensor *ts, int n, const NnrtKV *meta,
                          int nmeta, uint64_t *data_len, char *err, size_t errlen) {
  char b1[48];
  if (n < 0 || nmeta < 0 || (n > 0 && !ts) || (nmeta > 0 && !meta))
    return nnrt_fail(err, errlen, "%s: bad tensor or metadata list", path), NULL;
  int nn = n > nmeta ? n : nmeta;
  const char **names = nnrt_alloc((nn ? (size_t)nn : 1) * sizeof *names, "checkpoint names");
  if (!names)
    return nnrt_fail(err, errlen, "%s: out of memory", path), NULL;
  int bad = 0;
  uint64_t off = 0;
  for (int i = 0; i < n && !bad; i++) {
    const NnrtNamedTensor *t = &ts[i];
    uint64_t bytes;
    if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0 || !valid_utf8(t->name))
      bad = nnrt_fail(err, errlen, "%s: tensor %d: invalid name '%s'", path, i,
                 show(t->name ? t->name : "", b1));
    else if (nnrt_shape_bytes(t->dtype, t->rank, t->dims, CKPT_MAX_INT, &bytes) < 0 ||
             __builtin_add_overflow(off, bytes, &off) || off > CKPT_MAX_INT)
      bad = nnrt_fail(err, errlen, "%s: tensor '%s': bad dtype, rank or dims", path, show(t->name, b1));
    else if (bytes > 0 && !t->data)
      bad = nnrt_fail(err, errlen, "%s: tensor '%s': no data", path, show(t->name, b1));
    names[i] = t->name;
  }
  const char *dup = bad ? NULL : find_duplicate(names, n);
  if (dup)
    bad = nnrt_fail(err, errlen, "%s: duplicate tensor name '%s'", path, show(dup, b1));
  for (int i = 0; i < nmeta && !bad; i++) {
    if (!meta[i].key || !meta[i].value || !valid_utf8(meta[i].key) || !valid_utf8(meta[i].value))
      bad = nnrt_fail(err, errlen, "%s: metadata %d: key and value must be UTF-8 strings", path, i);
    names[i] = meta[i].key;
  }
  dup = bad ? NULL : find_duplicate(names, nmeta);
  if (dup)
    bad = nnrt_fail(err, errlen, "%s: duplicate metadata key '%s'", path, show(dup, b1));
  nnrt_free(names);
  if (bad)
    return NULL;

  json_hooks();
  cJSON *root = cJSON_CreateObject(), *m = NULL;
  bool ok = root != NULL;
  if (ok && nmeta > 0)
    ok = (m = cJSON_AddObjectToObject(root, "__metadata__")) != NULL;
  for (int i = 0; ok && i < nmeta; i++)
    ok = cJSON_AddStringToObject(m, meta[i].key, meta[i].value) != NULL;
  off = 0;
  for (int i = 0; ok && i < n; i++) {
    const NnrtNamedTensor *t = &ts[i];
    uint64_t shape[NNRT_MAX_RANK], bytes;
    for (int k = 0; k < t->rank; k++)
      shape[k] = (uint64_t)t->dims[k];
    nnrt_shape_bytes(t->dtype, t->rank, t->dims, CKPT_MAX_INT, &bytes);
    uint64_t offs[2] = {off, off + bytes};
    off += bytes;
    cJSON *e = cJSON_AddObjectToObject(root, t->name);
    ok = e && cJSON_AddStringToObject(e, "dtype", nnrt_dtype_name(t->dtype)) &&
         add_ints(e, "shape", shape, t->rank) && add_ints(e, "data_offsets", offs, 2);
  }
  char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!s)
    return nnrt_fail(err, errlen, "%s: out of memory building the header", path), NULL;
  *data_len = off;
  return s;
}

static int write_all(FILE *f, const void *p, size_t n) {
  return n == 0 || fwrite(p, 1, n, f) == n ? 0 : -1;
}

// Fills dir (strlen(path) + 2 bytes) with the directory that holds path.
static void dir_of(const char *path, char *dir) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    strcpy(dir, ".");
  else if (slash == path)
    strcpy(dir, "/");
  else
    memcpy(dir, path, (size_t)(slash - path)), dir[slash - path] = 0;
}

// ---- signals during a save ---------------------------------------------------

// The temporary file of the save in flight ("" when none), for the handler.
static char save_tmp[4096];
static volatile sig_atomic_t save_busy;
// SIGXFSZ: a write past ulimit -f kills by default, mid-save.
static const int save_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGXFSZ};
#define NSIG_SAVE ((int)(sizeof save_signals / sizeof save_signals[0]))
static struct sigaction save_old[NSIG_SAVE];

static void on_signal(int sig) {
  if (save_busy)
    unlink(save_tmp); // async-signal-safe; the rename may already have moved it: harmless
  for (int i = 0; i < NSIG_SAVE; i++) // the disposition the program had, then die of the signal
    if (save_signals[i] == sig)
      sigaction(sig, &save_old[i], NULL);
  raise(sig);
}

// Install the handler for a save (only over default dispositions: an
// ignored SIGHUP under nohup stays ignored).  The path is copied first, so
// the handler never sees a half-written name.
static void guard_begin(const char *tmp) {
  size_t n = strlen(tmp);
  if (n >= sizeof save_tmp)
    return; // too long to keep: the save is only unprotected, not wrong
  memcpy(save_tmp, tmp, n + 1);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < NSIG_SAVE; i++) {
    sigaction(save_signals[i], NULL, &save_old[i]);
    if (save_old[i].sa_handler == SIG_DFL)
      sigaction(save_signals[i], &sa, NULL);
  }
  save_busy = 1;
}

static void guard_end(void) {
  if (!save_busy)
    return;
  save_busy = 0;
  for (int i = 0; i < NSIG_SAVE; i++)
    if (save_old[i].sa_handler == SIG_DFL)
      sigaction(save_signals[i], &save_old[i], NULL);
}

// fsync of a directory, so that a rename in it is durable.
static int sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int r = fsync(fd);
  if (r < 0 && (errno == EINVAL || errno == EROFS)) // the filesystem cannot sync directories
    r = 0;
  close(fd);
  return r;
}

int nnrt_ckpt_save(const char *path, const NnrtNamedTensor *ts, int n, const NnrtKV *meta,
                   int nmeta, char *err, size_t errlen) {
  uint64_t data_len;
  char *json = build_header(path, ts, n, meta, nmeta, &data_len, err, errlen);
  if (!json)
    return -1;
  size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8;
  size_t plen = strlen(path);
  char *tmp = nnrt_alloc(2 * plen + 7, "checkpoint path"); // PATH.tmp, then its directory
  if (!tmp) {
    nnrt_free(json);
    return nnrt_fail(err, errlen, "%s: out of memory", path);
  }
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  char *dir = tmp + plen + 5;
  dir_of(path, dir);
  const char *what = NULL;
  int saved_errno = 0;
  FILE *f = NULL;
  if (hlen > CKPT_MAX_HEADER) {
    nnrt_fail(err, errlen, "%s: header of %zu bytes exceeds the 100 MB limit", path, hlen);
    goto out;
  }
  if (nnrt_regular_or_new(path, err, errlen) != 0)
    goto out;
  guard_begin(tmp);
  // A fresh PATH.tmp (O_EXCL): a leftover of a killed run is removed first,
  // and a FIFO or link planted there is never opened.
  unlink(tmp);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  f = fd < 0 ? NULL : fdopen(fd, "wb");
  if (!f) {
    if (fd >= 0)
      close(fd);
    what = "cannot create";
    goto io_fail;
  }
  unsigned char len8[8];
  for (int i = 0; i < 8; i++)
    len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
  static const char spaces[8] = "        ";
  what = "write error on";
  if (write_all(f, len8, 8) < 0 || write_all(f, json, jlen) < 0 ||
      write_all(f, spaces, hlen - jlen) < 0)
    goto io_fail;
  for (int i = 0; i < n; i++) {
    uint64_t bytes;
    nnrt_shape_bytes(ts[i].dtype, ts[i].rank, ts[i].dims, CKPT_MAX_INT, &bytes);
    if (write_all(f, ts[i].data, (size_t)bytes) < 0)
      goto io_fail;
  }
  if (fflush(f) != 0)
    goto io_fail;
  what = "fsync failed on";
  if (fsync(fileno(f)) != 0)
    goto io_fail;
  what = "close failed on";
  int rc = fclose(f);
  f = NULL;
  if (rc != 0)
    goto io_fail;
  what = "cannot rename over it from";
  if (rename(tmp, path) != 0)
    goto io_fail;
  guard_end();
  int r = sync_dir(dir), e = errno;
  nnrt_free(json);
  nnrt_free(tmp);
  if (r < 0) // the new file is in place; only its durability is in doubt
    return nnrt_fail(err, errlen, "%s: saved, but fsync of its directory failed: %s", path,
                strerror(e));
  return 0;
io_fail:
  saved_errno = errno;
  nnrt_fail(err, errlen, "%s: %s %s: %s", path, what, tmp, strerror(saved_errno));
out:
  if (f)
    fclose(f);
  if (saved_errno != EEXIST) // never remove a PATH.tmp this save did not create
    unlink(tmp);
  guard_end();
  nnrt_free(json);
  nnrt_free(tmp);
  return -1;
}

// ---- load --------------------------------------------------------------------

typedef struct Src {
  const char *name;
  const unsigned char *mem; // memory input, or
  FILE *f;                  // file input
  uint64_t size;
} Src;

static int src_read(const Src *s, uint64_t off, void *dst, size_t n) {
  if (n == 0)
    return 0;
  if (s->mem) {
    memcpy(dst, s->mem + off, n);
    return 0;
  }
  if (off > INT64_MAX || fseeko(s->f, (off_t)off, SEEK_SET) != 0 || fread(dst, 1, n, s->f) != n)
    return -1;
  return 0;
}

typedef struct Entry {
  const char *name;
  NnrtDtype dtype;
  int rank;
  int64_t dims[NNRT_MAX_RANK];
  uint64_t begin, end;
} Entry;

// A JSON number that is a non-negative integer <= CKPT_MAX_INT.
static bool json_uint(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v))
    return false;
  double d = v->valuedouble;
  if (!isfinite(d) || d < 0 || d != floor(d) || d > (double)CKPT_MAX_INT)
    return false;
  *out = (uint64_t)d;
  return true;
}

static int parse_entry(const char *file, const cJSON *e, Entry *t, char *err, size_t errlen) {
  char b1[48];
  const char *nm = show(e->string, b1);
  if (!cJSON_IsObject(e))
    return nnrt_fail(err, errlen, "%s: header: entry '%s' is not an object", file, nm);
  const cJSON *dt = NULL, *sh = NULL, *of = NULL;
  for (const cJSON *k = e->child; k; k = k->next) {
    const cJSON **slot = strcmp(k->string, "dtype") == 0          ? &dt
                         : strcmp(k->string, "shape") == 0        ? &sh
                         : strcmp(k->string, "data_offsets") == 0 ? &of
                                                                  : NULL;
    char b2[48];
    if (!slot)
      return nnrt_fail(err, errlen, "%s: header: tensor '%s': unknown field '%s'", file, nm,
                  show(k->string, b2));
    if (*slot)
      return nnrt_fail(err, errlen, "%s: header: tensor '%s': duplicate field '%s'", file, nm,
                  show(k->string, b2));
    *slot = k;
  }
  if (!dt || !sh || !of)
    return nnrt_fail(err, errlen, "%s: header: tensor '%s': missing '%s'", file, nm,
                !dt ? "dtype" : !sh ? "shape" : "data_offsets");
  char b2[48];
  if (!cJSON_IsString(dt))
    return nnrt_fail(err, errlen, "%s: header: tensor '%s': dtype is not a string", file, nm);
  if (!parse_dtype(dt->valuestring, &t->dtype))
    return nnrt_fail(err, errlen, "%s: header: tensor '%s': unsupported dtype '%s' (F32 F64 I32 U8)",
                file, nm, show(dt->valuestring, b2));
  if (!cJSON_IsArray(sh))
    return nnrt_fail(err, errlen, "%s: header: tensor '%s': shape is not an array", file, nm);
  t->rank = cJSON_GetArraySize(sh);
  if (t->rank > NNRT_MAX_RANK)
    return nnrt_fail(err, errlen, "%s: header: tensor '%s': shape has %d dims (max %d)", file, nm,
                t->rank, NNRT_MAX_RANK);
  int k = 0;
  for (const cJSON *d = sh->child; d; d = d->next, k++) {
    uint64_t v;
    if (!json_uint(d, &v))
      return nnrt_fail(err, errlen, "%s: header: tensor '%s': shape[%d] is not a non-negative integer",
                  file, nm, k);
    t->dims[k] = (int64_t)v;
  }
  uint64_t bytes;
  if (nnrt_shape_bytes(t->dtype, t->rank, t->dims, UINT64_MAX, &bytes) < 0)
    return nnrt_fail(err, errlen, "%s: header: tensor '%s': shape size overflows", file, nm);
  if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || !json_uint(of->child, &t->begin) ||
      !json_uint(of->child->next, &t->end))
    return nnrt_fail(err, errlen, "%s: header: tensor '%s': data_offsets is not [begin, end]", file,
                nm);
  if (t->end < t->begin)
    return nnrt_fail(err, errlen, "%s: header: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                file, nm, t->begin, t->end);
  if (t->end - t->begin != bytes)
    return nnrt_fail(err, errlen,
                "%s: header: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] span %" PRIu64
                " bytes, but its dtype and shape need %" PRIu64,
                file, nm, t->begin, t->end, t->end - t->begin, bytes);
  t->name = e->string;
  return 0;
}

static int cmp_entry(const void *a, const void *b) {
  const Entry *x = *(const Entry *const *)a, *y = *(const Entry *const *)b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

void nnrt_ckpt_free(NnrtCkpt *c) {
  if (!c)
    return;
  for (int i = 0; c->ts && i < c->n; i++) {
    if (c->ts[i].name)
      nnrt_free((void *)c->ts[i].name);
    if (c->ts[i].data)
      nnrt_free(c->ts[i].data);
  }
  for (int i = 0; c->meta && i < c->nmeta; i++) {
    if (c->meta[i].key)
      nnrt_free((void *)c->meta[i].key);
    if (c->meta[i].value)
      nnrt_free((void *)c->meta[i].value);
  }
  if (c->ts)
    nnrt_free(c->ts);
  if (c->meta)
    nnrt_free(c->meta);
  nnrt_free(c);
}

// Validates the parsed header against the data section and copies it all out.
static int ckpt_build(const Src *s, const cJSON *root, uint64_t data_start, NnrtCkpt **out,
                      char *err, size_t errlen) {
  const char *file = s->name;
  char b1[48], b2[48];
  if (!cJSON_IsObject(root))
    return nnrt_fail(err, errlen, "%s: header: JSON is not an object", file);
  int nall = cJSON_GetArraySize(root), n = 0;
  const cJSON *meta = NULL;
  size_t cnt = nall ? (size_t)nall : 1;
  Entry *ents = nnrt_alloc(cnt * sizeof *ents, "checkpoint entries");
  Entry **order = nnrt_alloc(cnt * sizeof *order, "checkpoint entries");
  const char **names = nnrt_alloc(cnt * sizeof *names, "checkpoint entries");
  NnrtCkpt *c = NULL;
  int r = -1;
  if (!ents || !order || !names) {
    nnrt_fail(err, errlen, "%s: out of memory", file);
    goto done;
  }
  int k = 0;
  for (const cJSON *e = root->child; e; e = e->next)
    names[k++] = e->string;
  const char *dup = find_duplicate(names, nall);
  if (dup) {
    nnrt_fail(err, errlen, "%s: header: duplicate key '%s'", file, show(dup, b1));
    goto done;
  }
  for (const cJSON *e = root->child; e; e = e->next) {
    if (strcmp(e->string, "__metadata__") == 0) {
      meta = e;
      if (!cJSON_IsObject(e)) {
        nnrt_fail(err, errlen, "%s: header: __metadata__ is not an object", file);
        goto done;
      }
      for (const cJSON *m = e->child; m; m = m->next) {
        if (!cJSON_IsString(m)) {
          nnrt_fail(err, errlen, "%s: header: metadata '%s' is not a string", file, show(m->string, b1));
          goto done;
        }
      }
      continue;
    }
    if (parse_entry(file, e, &ents[n], err, errlen) < 0)
      goto done;
    order[n] = &ents[n];
    n++;
  }
  int nmeta = meta ? cJSON_GetArraySize(meta) : 0;
  nnrt_free(names);
  names = nnrt_alloc((nmeta ? (size_t)nmeta : 1) * sizeof *names, "checkpoint entries");
  if (!names)
    goto oom;
  k = 0;
  for (const cJSON *m = meta ? meta->child : NULL; m; m = m->next)
    names[k++] = m->string;
  if ((dup = find_duplicate(names, nmeta))) {
    nnrt_fail(err, errlen, "%s: header: duplicate metadata key '%s'", file, show(dup, b1));
    goto done;
  }

  // Sorted by offset, the tensors must tile [0, data_len) exactly.
  uint64_t data_len = s->size - data_start, at = 0;
  qsort(order, (size_t)n, sizeof *order, cmp_entry);
  for (int i = 0; i < n; i++) {
    const Entry *t = order[i];
    if (t->end > data_len) {
      nnrt_fail(err, errlen,
           "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] run past the end of the "
           "%" PRIu64 "-byte data section",
           file, show(t->name, b1), t->begin, t->end, data_len);
      goto done;
    }
    if (t->begin < at) {
      nnrt_fail(err, errlen,
           "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] overlap tensor '%s' "
           "[%" PRIu64 ", %" PRIu64 "]",
           file, show(t->name, b1), t->begin, t->end, show(order[i - 1]->name, b2),
           order[i - 1]->begin, order[i - 1]->end);
      goto done;
    }
    if (t->begin > at) {
      nnrt_fail(err, errlen, "%s: data bytes [%" PRIu64 ", %" PRIu64 ") belong to no tensor", file, at,
           t->begin);
      goto done;
    }
    at = t->end;
  }
  if (at != data_len) {
    nnrt_fail(err, errlen, "%s: byte %" PRIu64 ": %" PRIu64 " bytes of trailing data after the last tensor",
         file, data_start + at, data_len - at);
    goto done;
  }

  c = nnrt_alloc(sizeof *c, "checkpoint");
  if (!c)
    goto oom;
  memset(c, 0, sizeof *c);
  c->ts = nnrt_alloc((n ? (size_t)n : 1) * sizeof *c->ts, "checkpoint tensors");
  c->meta = nnrt_alloc((nmeta ? (size_t)nmeta : 1) * sizeof *c->meta, "checkpoint metadata");
  if (!c->ts || !c->meta)
    goto oom;
  memset(c->ts, 0, (n ? (size_t)n : 1) * sizeof *c->ts);
  memset(c->meta, 0, (nmeta ? (size_t)nmeta : 1) * sizeof *c->meta);
  c->n = n;
  c->nmeta = nmeta;
  k = 0;
  for (const cJSON *m = meta ? meta->child : NULL; m; m = m->next, k++) {
    c->meta[k].key = dup_str(m->string);
    c->meta[k].value = dup_str(m->valuestring);
    if (!c->meta[k].key || !c->meta[k].value)
      goto oom;
  }
  for (int i = 0; i < n; i++) {
    const Entry *t = &ents[i];
    NnrtNamedTensor *d = &c->ts[i];
    size_t bytes = (size_t)(t->end - t->begin);
    d->name = dup_str(t->name);
    d->data = nnrt_alloc(bytes ? bytes : 1, "checkpoint tensor");
    if (!d->name || !d->data)
      goto oom;
    d->dtype = t->dtype;
    d->rank = t->rank;
    memcpy(d->dims, t->dims, sizeof d->dims);
    if (src_read(s, data_start + t->begin, d->data, bytes) < 0) {
      nnrt_fail(err, errlen, "%s: byte %" PRIu64 ": read error for tensor '%s'", file,
           data_start + t->begin, show(t->name, b1));
      goto done;
    }
  }
  *out = c;
  c = NULL;
  r = 0;
  goto done;
oom:
  nnrt_fail(err, errlen, "%s: out of memory loading the checkpoint", file);
done:
  nnrt_ckpt_free(c);
  if (ents)
    nnrt_free(ents);
  if (order)
    nnrt_free(order);
  if (names)
    nnrt_free(names);
  return r;
}

static int ckpt_parse(const Src *s, NnrtCkpt **out, char *err, size_t errlen) {
  const char *file = s->name;
  *out = NULL;
  unsigned char len8[8];
  if (s->size < 8)
    return nnrt_fail(err, errlen, "%s: %" PRIu64 "-byte file is too short for a safetensors header",
                file, s->size);
  if (src_read(s, 0, len8, 8) < 0)
    return nnrt_fail(err, errlen, "%s: read error", file);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = hlen << 8 | len8[i];
  if (hlen > CKPT_MAX_HEADER)
    return nnrt_fail(err, errlen, "%s: header length %" PRIu64 " exceeds the 100 MB limit", file, hlen);
  if (hlen > s->size - 8)
    return nnrt_fail(err, errlen,
                "%s: header length %" PRIu64 " runs past the end of the %" PRIu64 "-byte file",
                file, hlen, s->size);
  char *h = nnrt_alloc((size_t)hlen + 1, "checkpoint header");
  if (!h)
    return nnrt_fail(err, errlen, "%s: out of memory for a %" PRIu64 "-byte header", file, hlen);
  int r = -1;
  cJSON *root = NULL;
  if (src_read(s, 8, h, (size_t)hlen) < 0) {
    nnrt_fail(err, errlen, "%s: read error in the header", file);
    goto done;
  }
  h[hlen] = 0;
  size_t bad = utf8_check((unsigned char *)h, (size_t)hlen);
  if (bad < hlen || memchr(h, 0, (size_t)hlen)) {
    const char *z = memchr(h, 0, (size_t)hlen);
    size_t at = z && (size_t)(z - h) < bad ? (size_t)(z - h) : bad;
    nnrt_fail(err, errlen, "%s: byte %zu: header is not valid UTF-8 text", file, 8 + at);
    goto done;
  }
  json_hooks();
  const char *end = NULL;
  root = cJSON_ParseWithLengthOpts(h, (size_t)hlen, &end, 0);
  if (!root) {
    if (json_oom)
      nnrt_fail(err, errlen, "%s: out of memory parsing the header", file);
    else
      nnrt_fail(err, errlen, "%s: byte %zu: header is not valid JSON", file,
           8 + (size_t)(end && end >= h && end <= h + hlen ? end - h : 0));
    goto done;
  }
  for (const char *p = end; p < h + hlen; p++) {
    if (!strchr(" \t\r\n", *p)) {
      nnrt_fail(err, errlen, "%s: byte %zu: text after the header JSON", file, (size_t)(8 + (p - h)));
      goto done;
    }
  }
  r = ckpt_build(s, root, 8 + hlen, out, err, errlen);
done:
  cJSON_Delete(root);
  nnrt_free(h);
  return r;
}

int nnrt_ckpt_parse_buffer(const void *buf, size_t len, const char *name, NnrtCkpt **out,
                           char *err, size_t errlen) {
  Src s = {.name = name, .mem = buf ? buf : (const void *)"", .size = buf ? len : 0};
  return ckpt_parse(&s, out, err, errlen);
}

int nnrt_ckpt_load(const char *path, NnrtCkpt **out, char *err, size_t errlen) {
  *out = NULL;
  FILE *f = nnrt_open_input(path, err, errlen);
  if (!f)
    return -1;
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    fclose(f);
    return nnrt_fail(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
  }
  Src s = {.name = path, .f = f, .size = (uint64_t)st.st_size};
  int r = ckpt_parse(&s, out, err, errlen);
  fclose(f);
  return r;
}

const NnrtNamedTensor *nnrt_ckpt_find(const NnrtCkpt *c, const char *name) {
  for (int i = 0; i < c->n; i++)
    if (strcmp(c->ts[i].name, name) == 0)
      return &c->ts[i];
  return NULL;
}

const char *nnrt_ckpt_meta(const NnrtCkpt *c, const char *key) {
  for (int i = 0; i < c->nmeta; i++)
    if (strcmp(c->meta[i].key, key) == 0)
      return c->meta[i].value;
  return NULL;
}

int nnrt_ckpt_count(const NnrtCkpt *c) { return c->n; }

const NnrtNamedTensor *nnrt_ckpt_at(const NnrtCkpt *c, int i) {
  return i >= 0 && i < c->n ? &c->ts[i] : NULL;
}
