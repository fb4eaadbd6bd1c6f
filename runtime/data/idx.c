/*
 * idx.c — IDX files (the MNIST format), plain or gzipped.
 *
 * Layout: 00 00 TYPE NDIMS, then NDIMS big-endian u32 dims, then the
 * elements, big-endian, row-major.  Types 08 u8 → U8; 09 i8, 0B i16, 0C i32
 * → I32; 0D f32 → F32; 0E f64 → F64.  A gzip stream (magic 1f 8b, several
 * members allowed) is inflated incrementally; nothing is buffered beyond a
 * 64 KiB input window, and the output array is allocated only after the
 * header has been validated and its size checked against IDX_MAX_BYTES.
 * Error offsets count bytes of the decompressed stream (said so in the
 * message for gzipped input).  zlib allocates through nnrt_alloc too.
 * Does not: accept data shorter or longer than the header says, trailing
 * garbage after the gzip stream, or more than 8 dims.
 *
 * A gzipped file's array is kept in a cache file after it was inflated
 * (data/idx_cache.c), and later runs read that instead.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAX_BYTES (UINT64_C(4) << 30)

typedef struct IdxStream {
  const char *name;
  char *err;
  size_t errlen;
  FILE *f;                  // file input, or NULL for memory input
  const unsigned char *mem; // memory input
  size_t memlen, mempos;
  uint64_t raw_size; // size of the raw input, UINT64_MAX if unknown
  const unsigned char *in; // unread raw input
  size_t in_avail;
  bool in_eof;
  bool gz, zlive, zend;
  z_stream zs;
  uint64_t pos; // bytes of (decompressed) data delivered so far
  unsigned char inbuf[1 << 16];
} IdxStream;

static int fail(IdxStream *s, uint64_t off, const char *fmt, ...) {
  if (s->err && s->errlen) {
    int k = snprintf(s->err, s->errlen, "%s: byte %" PRIu64 "%s: ", s->name, off,
                     s->gz ? " (decompressed)" : "");
    if (k >= 0 && (size_t)k < s->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(s->err + k, s->errlen - k, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  size_t n;
  if (__builtin_mul_overflow((size_t)items, (size_t)size, &n))
    return Z_NULL;
  return nnrt_alloc(n, "gzip inflate state");
}

static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  nnrt_free(p);
}

// Next chunk of raw input into s->in; sets in_eof at the end.
static int refill(IdxStream *s) {
  if (s->f) {
    size_t n = fread(s->inbuf, 1, sizeof s->inbuf, s->f);
    if (n == 0 && ferror(s->f))
      return fail(s, s->pos, "read error: %s", strerror(errno));
    s->in = s->inbuf;
    s->in_avail = n;
  } else {
    size_t n = s->memlen - s->mempos;
    if (n > (1u << 30)) // z_stream.avail_in is a uInt
      n = 1u << 30;
    s->in = s->mem + s->mempos;
    s->in_avail = n;
    s->mempos += n;
  }
  if (s->in_avail == 0)
    s->in_eof = true;
  return 0;
}

// Reads up to n bytes of data; fewer only at a clean end of input. -1 on error.
static int64_t stream_read(IdxStream *s, void *dst, size_t n) {
  unsigned char *out = dst;
  size_t got = 0;
  while (got < n) {
    if (s->in_avail == 0 && !s->in_eof && refill(s) < 0)
      return -1;
    if (!s->gz) {
      if (s->in_avail == 0)
        break;
      size_t k = n - got < s->in_avail ? n - got : s->in_avail;
      memcpy(out + got, s->in, k);
      s->in += k;
      s->in_avail -= k;
      got += k;
      s->pos += k;
      continue;
    }
    if (s->zend) {
      if (s->in_avail == 0)
        break; // the last member ended exactly at the end of input
      inflateReset(&s->zs); // another gzip member follows (or garbage: caught below)
      s->zend = false;
    }
    size_t want = n - got < UINT_MAX ? n - got : UINT_MAX;
    s->zs.next_in = (Bytef *)s->in;
    s->zs.avail_in = (uInt)s->in_avail;
    s->zs.next_out = out + got;
    s->zs.avail_out = (uInt)want;
    int r = inflate(&s->zs, Z_NO_FLUSH);
    size_t made = want - s->zs.avail_out;
    s->in = s->zs.next_in;
    s->in_avail = s->zs.avail_in;
    got += made;
    s->pos += made;
    if (r == Z_STREAM_END) {
      s->zend = true;
    } else if (r == Z_BUF_ERROR) { // no progress possible: fine only if input ran dry
      if (s->in_avail > 0)
        return fail(s, s->pos, "corrupt gzip data at compressed byte %lu", s->zs.total_in);
      if (s->in_eof)
        return fail(s, s->pos, "gzip stream truncated (compressed input ends early)");
    } else if (r == Z_MEM_ERROR) {
      return fail(s, s->pos, "out of memory inflating gzip stream");
    } else if (r != Z_OK) {
      return fail(s, s->pos, "corrupt gzip data at compressed byte %lu: %s", s->zs.total_in,
                  s->zs.msg ? s->zs.msg : "inflate error");
    }
  }
  return (int64_t)got;
}

static int read_exact(IdxStream *s, void *dst, size_t n, const char *what) {
  uint64_t at = s->pos;
  int64_t got = stream_read(s, dst, n);
  if (got < 0)
    return -1;
  if ((size_t)got < n)
    return fail(s, at, "truncated: expected %zu bytes of %s, file has %" PRId64, n, what, got);
  return 0;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// Converts n big-endian elements of in_size bytes at the start of d into
// the output type in place; widening runs backwards so nothing is overwritten
// before it is read.
static void convert(unsigned char *d, int type, int64_t n) {
  switch (type) {
  case 0x08:
    break;
  case 0x09:
    for (int64_t i = n - 1; i >= 0; i--) {
      int32_t v = (int8_t)d[i];
      memcpy(d + 4 * i, &v, 4);
    }
    break;
  case 0x0B:
    for (int64_t i = n - 1; i >= 0; i--) {
      int32_t v = (int16_t)(uint16_t)(d[2 * i] << 8 | d[2 * i + 1]);
      memcpy(d + 4 * i, &v, 4);
    }
    break;
  case 0x0C:
  case 0x0D:
    for (int64_t i = 0; i < n; i++) {
      uint32_t v = be32(d + 4 * i);
      memcpy(d + 4 * i, &v, 4);
    }
    break;
  case 0x0E:
    for (int64_t i = 0; i < n; i++) {
      uint64_t v = (uint64_t)be32(d + 8 * i) << 32 | be32(d + 8 * i + 4);
      memcpy(d + 8 * i, &v, 8);
    }
    break;
  }
}

/* Page faults on a fresh array cost the reading thread 30-40 ms of kernel
 * time for Fashion-MNIST's 47 MB of training images.  A helper thread takes
 * them instead, all at once, while the data streams in: MADV_POPULATE_WRITE
 * maps the pages without writing to them, so it cannot disturb bytes
 * already inflated into them.  Only big arrays, and no further than
 * PREFAULT_RATIO times the gzip file's size: a small corrupt file that
 * claims gigabytes must not make it touch them.  Where the kernel lacks the
 * call (before Linux 5.14) the reader faults as before. */
#define PREFAULT_MIN (4u << 20)
#define PREFAULT_RATIO 16 /* IDX images and labels inflate about 2:1 */

typedef struct Prefault { pthread_t t; char *lo, *hi; bool on; } Prefault;

static void *prefault_run(void *arg) {
#ifdef MADV_POPULATE_WRITE
  Prefault *f = arg;
  madvise(f->lo, (size_t)(f->hi - f->lo), MADV_POPULATE_WRITE);
#else
  (void)arg;
#endif
  return NULL;
}

static void prefault_start(Prefault *f, const IdxStream *s, void *data, size_t bytes) {
  f->on = false;
  long page = sysconf(_SC_PAGESIZE);
  if (s->gz && s->raw_size != UINT64_MAX && bytes / PREFAULT_RATIO > s->raw_size)
    bytes = (size_t)s->raw_size * PREFAULT_RATIO;
  if (bytes < PREFAULT_MIN || page <= 0)
    return;
  f->lo = (char *)(((uintptr_t)data + (uintptr_t)page - 1) & ~((uintptr_t)page - 1));
  f->hi = (char *)(((uintptr_t)data + bytes) & ~((uintptr_t)page - 1));
  f->on = f->lo < f->hi && pthread_create(&f->t, NULL, prefault_run, f) == 0;
}

static void prefault_join(Prefault *f) {
  if (f->on)
    pthread_join(f->t, NULL);
  f->on = false;
}

static int idx_read(IdxStream *s, NnrtArray *out) {
  unsigned char h[4 + 4 * NNRT_MAX_RANK];
  if (refill(s) < 0)
    return -1;
  if (s->in_avail >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
    memset(&s->zs, 0, sizeof s->zs);
    s->zs.zalloc = z_alloc;
    s->zs.zfree = z_free;
    if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK)
      return fail(s, 0, "out of memory initialising zlib");
    s->gz = s->zlive = true;
  }
  if (read_exact(s, h, 4, "header (magic, type, ndims)") < 0)
    return -1;
  if (h[0] != 0 || h[1] != 0)
    return fail(s, 0, "bad magic %02x %02x: not an IDX file (expected 00 00)", h[0], h[1]);
  int type = h[2];
  NnrtDtype dtype;
  size_t in_size;
  switch (type) {
  case 0x08: dtype = NNRT_U8, in_size = 1; break;
  case 0x09: dtype = NNRT_I32, in_size = 1; break;
  case 0x0B: dtype = NNRT_I32, in_size = 2; break;
  case 0x0C: dtype = NNRT_I32, in_size = 4; break;
  case 0x0D: dtype = NNRT_F32, in_size = 4; break;
  case 0x0E: dtype = NNRT_F64, in_size = 8; break;
  default: return fail(s, 2, "unknown IDX element type 0x%02x", type);
  }
  int rank = h[3];
  if (rank < 1 || rank > NNRT_MAX_RANK)
    return fail(s, 3, "%d dims: must be 1 to %d", rank, NNRT_MAX_RANK);
  if (read_exact(s, h + 4, 4 * (size_t)rank, "dims") < 0)
    return -1;
  int64_t dims[NNRT_MAX_RANK];
  char shape[NNRT_MAX_RANK * 12] = "";
  for (int i = 0; i < rank; i++) {
    dims[i] = be32(h + 4 + 4 * i);
    snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%" PRId64, i ? "x" : "",
             dims[i]);
  }
  uint64_t bytes;
  if (nnrt_shape_bytes(dtype, rank, dims, IDX_MAX_BYTES, &bytes) < 0)
    return fail(s, 4, "dims %s: %s array is larger than the %" PRIu64 " GiB cap", shape,
                nnrt_dtype_name(dtype), IDX_MAX_BYTES >> 30);
  int64_t count = (int64_t)(bytes / nnrt_dtype_size(dtype));
  size_t in_bytes = (size_t)count * in_size;
  // Before allocating, a cheap bound from the input size: deflate cannot
  // expand more than 1032:1, so a tiny file cannot claim gigabytes.
  if (s->raw_size != UINT64_MAX) {
    uint64_t can = s->gz ? s->raw_size * 1032 : s->raw_size - s->pos;
    if (in_bytes > can)
      return fail(s, s->pos, "truncated: dims %s need %zu bytes of data, %s %" PRIu64, shape,
                  in_bytes, s->gz ? "more than a gzip stream this size can hold:" : "file has",
                  can);
  }

  out->data = nnrt_alloc(bytes ? bytes : 1, "IDX data");
  if (!out->data)
    return fail(s, s->pos, "out of memory for %" PRIu64 " bytes of data", bytes);
  out->dtype = dtype;
  out->rank = rank;
  memcpy(out->dims, dims, sizeof dims);
  uint64_t start = s->pos;
  Prefault pf;
  prefault_start(&pf, s, out->data, in_bytes);
  int64_t got = stream_read(s, out->data, in_bytes);
  prefault_join(&pf);
  if (got < 0)
    return -1;
  if ((size_t)got < in_bytes)
    return fail(s, start, "truncated: dims %s need %zu bytes of data, file has %" PRId64, shape,
                in_bytes, got);
  unsigned char extra;
  got = stream_read(s, &extra, 1); // also makes zlib check the gzip trailer
  if (got < 0)
    return -1;
  if (got > 0)
    return fail(s, s->pos - 1, "trailing data after the %zu bytes that dims %s declare",
                in_bytes, shape);
  convert(out->data, type, count);
  return 0;
}

static int idx_run(IdxStream *s, NnrtArray *out) {
  memset(out, 0, sizeof *out);
  int r = idx_read(s, out);
  if (s->zlive)
    inflateEnd(&s->zs);
  if (r < 0)
    nnrt_array_free(out);
  return r;
}

static IdxStream *stream_new(const char *name, char *err, size_t errlen) {
  IdxStream *s = nnrt_alloc(sizeof *s, "IDX reader");
  if (!s) {
    if (err && errlen)
      snprintf(err, errlen, "%s: out of memory", name);
    return NULL;
  }
  memset(s, 0, offsetof(IdxStream, inbuf));
  s->name = name;
  s->raw_size = UINT64_MAX;
  s->err = err;
  s->errlen = errlen;
  return s;
}

int nnrt_parse_idx_buffer(const void *buf, size_t len, const char *name, NnrtArray *out,
                          char *err, size_t errlen) {
  IdxStream *s = stream_new(name, err, errlen);
  if (!s) {
    memset(out, 0, sizeof *out);
    return -1;
  }
  s->mem = buf ? buf : (const void *)"";
  s->memlen = buf ? len : 0;
  s->raw_size = s->memlen;
  int r = idx_run(s, out);
  nnrt_free(s);
  return r;
}

int nnrt_load_idx(const char *path, NnrtArray *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  FILE *f = nnrt_open_input(path, err, errlen);
  if (!f)
    return -1;
  struct stat st;
  bool regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
  unsigned char magic[2];
  bool gz = regular && fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  rewind(f);
  if (gz && nnrt_idx_cache_get(path, &st, out)) {
    fclose(f);
    return 0;
  }
  IdxStream *s = stream_new(path, err, errlen);
  int r = -1;
  if (s) {
    s->f = f;
    if (regular)
      s->raw_size = (uint64_t)st.st_size;
    r = idx_run(s, out);
    nnrt_free(s);
  }
  fclose(f);
  if (r == 0 && gz)
    nnrt_idx_cache_put(path, &st, out);
  return r;
}
