/*
 * npy.c — NumPy .npy files, format versions 1.0, 2.0 and 3.0.
 *
 * Layout: "\x93NUMPY" MAJOR MINOR, header length (u16 LE for v1, u32 LE for
 * v2/v3), then a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }
 * padded with spaces and ended by '\n', then the raw C-order data.
 * The dict is read by a small strict parser (below) that knows exactly the
 * three keys; every read is bounds-checked against the header length, which
 * is capped at NPY_MAX_HEADER.  dtypes: <f4 → F32, <f8 → F64, |u1 → U8,
 * <i4 → I32, <i8 → I32 (each value range-checked).  The data must be exactly
 * count × itemsize bytes.  Error offsets are bytes from the start of the file.
 * Does not: read Fortran-order, big-endian, structured or object arrays,
 * or pickles; assumes a little-endian host.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy.c assumes a little-endian host");

#define NPY_MAX_HEADER 65536
#define NPY_MAX_BYTES (UINT64_C(4) << 30)

typedef enum { NPY_F4, NPY_F8, NPY_U1, NPY_I4, NPY_I8 } NpyKind;

typedef struct NpyHeader {
  NpyKind kind;
  size_t item; // bytes per element in the file
  NnrtDtype dtype;
  int rank;
  int64_t dims[NNRT_MAX_RANK];
  uint64_t data_off, count, in_bytes, out_bytes;
} NpyHeader;

typedef struct NpyParse {
  const char *name;
  const unsigned char *s;
  size_t pos, end, base; // s[pos..end) is the dict; base is its file offset
  char *err;
  size_t errlen;
} NpyParse;

static int fail_at(const char *name, uint64_t off, char *err, size_t errlen, const char *fmt,
                   ...) {
  if (err && errlen) {
    int k = snprintf(err, errlen, "%s: byte %" PRIu64 ": ", name, off);
    if (k >= 0 && (size_t)k < errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err + k, errlen - k, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

#define PFAIL(p, ...) fail_at((p)->name, (p)->pos, (p)->err, (p)->errlen, __VA_ARGS__)

static void skip_ws(NpyParse *p) {
  while (p->pos < p->end && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos])
    p->pos++;
}

static int peek(const NpyParse *p) { return p->pos < p->end ? p->s[p->pos] : -1; }

static int expect(NpyParse *p, char ch, const char *where) {
  skip_ws(p);
  if (peek(p) != ch)
    return PFAIL(p, "header: expected '%c' %s", ch, where);
  p->pos++;
  return 0;
}

// str := "'" [^'\\\n]* "'" | '"' [^"\\\n]* '"'     (no escapes: none are needed)
static int parse_str(NpyParse *p, char *out, size_t cap) {
  skip_ws(p);
  int q = peek(p);
  if (q != '\'' && q != '"')
    return PFAIL(p, "header: expected a quoted string");
  size_t start = ++p->pos, n = 0;
  while (p->pos < p->end && p->s[p->pos] != q && p->s[p->pos] != '\n') {
    unsigned char ch = p->s[p->pos];
    if (ch == '\\' || ch < 0x20 || ch >= 0x7f)
      return PFAIL(p, "header: unsupported character 0x%02x in string", ch);
    if (n + 1 < cap)
      out[n++] = (char)ch;
    p->pos++;
  }
  if (p->pos >= p->end || p->s[p->pos] == '\n') {
    p->pos = start - 1;
    return PFAIL(p, "header: unterminated string");
  }
  if (p->pos - start >= cap) {
    p->pos = start;
    return PFAIL(p, "header: string too long");
  }
  out[n] = 0;
  p->pos++;
  return 0;
}

// int := [0-9]+ 'L'?      (Python 2 wrote longs with an L)
static int parse_dim(NpyParse *p, int64_t *v) {
  skip_ws(p);
  if (peek(p) == '-')
    return PFAIL(p, "header: negative dimension in shape");
  if (peek(p) < '0' || peek(p) > '9')
    return PFAIL(p, "header: expected a dimension (non-negative integer) in shape");
  int64_t x = 0;
  while (peek(p) >= '0' && peek(p) <= '9') {
    if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, peek(p) - '0', &x))
      return PFAIL(p, "header: dimension overflows int64");
    p->pos++;
  }
  if (peek(p) == 'L')
    p->pos++;
  *v = x;
  return 0;
}

// shape := '(' ')' | '(' int ',' ')' | '(' int (',' int)+ ','? ')'
static int parse_shape(NpyParse *p, NpyHeader *h) {
  if (expect(p, '(', "to open the shape tuple") < 0)
    return -1;
  h->rank = 0;
  skip_ws(p);
  if (peek(p) == ')') {
    p->pos++;
    return 0;
  }
  for (;;) {
    if (h->rank == NNRT_MAX_RANK)
      return PFAIL(p, "header: shape has more than %d dimensions", NNRT_MAX_RANK);
    if (parse_dim(p, &h->dims[h->rank++]) < 0)
      return -1;
    skip_ws(p);
    if (peek(p) == ',') {
      p->pos++;
      skip_ws(p);
      if (peek(p) == ')')
        break;
      continue;
    }
    if (peek(p) == ')' && h->rank > 1)
      break;
    return PFAIL(p, h->rank == 1 ? "header: shape is not a tuple: expected ',' after the "
                                   "first dimension"
                                 : "header: expected ',' or ')' in shape");
  }
  p->pos++;
  return 0;
}

static int parse_descr(NpyParse *p, NpyHeader *h) {
  skip_ws(p);
  if (peek(p) == '[' || peek(p) == '{')
    return PFAIL(p, "header: structured dtypes are not supported");
  size_t at = p->pos;
  char d[16];
  if (parse_str(p, d, sizeof d) < 0)
    return -1;
  static const struct {
    const char *descr;
    NpyKind kind;
    size_t item;
    NnrtDtype dtype;
  } known[] = {
      {"<f4", NPY_F4, 4, NNRT_F32}, {"<f8", NPY_F8, 8, NNRT_F64}, {"|u1", NPY_U1, 1, NNRT_U8},
      {"<i4", NPY_I4, 4, NNRT_I32}, {"<i8", NPY_I8, 8, NNRT_I32},
  };
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
    if (strcmp(d, known[i].descr) == 0) {
      h->kind = known[i].kind;
      h->item = known[i].item;
      h->dtype = known[i].dtype;
      return 0;
    }
  }
  p->pos = at;
  if (d[0] == '>')
    return PFAIL(p, "header: big-endian dtype '%s' is not supported", d);
  return PFAIL(p, "header: unsupported dtype '%s' (supported: <f4 <f8 |u1 <i4 <i8)", d);
}

// dict := '{' ( str ':' value ',' )* ( str ':' value )? '}'   keys: the three below
static int parse_dict(NpyParse *p, NpyHeader *h) {
  bool have[3] = {false, false, false};
  static const char *const keys[3] = {"descr", "fortran_order", "shape"};
  if (expect(p, '{', "at the start of the header dict") < 0)
    return -1;
  for (;;) {
    skip_ws(p);
    if (peek(p) == '}')
      break;
    size_t at = p->pos;
    char key[32];
    if (parse_str(p, key, sizeof key) < 0)
      return -1;
    int k = 0;
    while (k < 3 && strcmp(key, keys[k]) != 0)
      k++;
    p->pos = at;
    if (k == 3)
      return PFAIL(p, "header: unknown key '%s'", key);
    if (have[k])
      return PFAIL(p, "header: duplicate key '%s'", key);
    have[k] = true;
    if (parse_str(p, key, sizeof key) < 0 || expect(p, ':', "after a key") < 0)
      return -1;
    skip_ws(p);
    if (k == 0 && parse_descr(p, h) < 0)
      return -1;
    if (k == 1) {
      if (p->end - p->pos >= 5 && memcmp(p->s + p->pos, "False", 5) == 0) {
        p->pos += 5;
      } else if (p->end - p->pos >= 4 && memcmp(p->s + p->pos, "True", 4) == 0) {
        return PFAIL(p, "header: fortran_order True is not supported (save C-order arrays)");
      } else {
        return PFAIL(p, "header: fortran_order must be True or False");
      }
    }
    if (k == 2 && parse_shape(p, h) < 0)
      return -1;
    skip_ws(p);
    if (peek(p) == ',') {
      p->pos++;
      continue;
    }
    if (peek(p) != '}')
      return PFAIL(p, "header: expected ',' or '}' in dict");
  }
  p->pos++;
  for (int k = 0; k < 3; k++)
    if (!have[k])
      return PFAIL(p, "header: missing key '%s'", keys[k]);
  skip_ws(p);
  if (p->pos != p->end)
    return PFAIL(p, "header: unexpected text after the dict");
  return 0;
}

// magic (6) + version (2) + header length (2 or 4): the preamble's size, or
// 0 with a message if the bytes seen are not a valid preamble.
static size_t preamble(const unsigned char *b, size_t len, const char *name, uint64_t *hlen,
                       char *err, size_t errlen) {
  if (memcmp(b, "\x93NUMPY", len < 6 ? len : 6) != 0)
    return fail_at(name, 0, err, errlen, "bad magic: not a .npy file"), 0;
  if (len < 8)
    return fail_at(name, len, err, errlen, "truncated: file ends inside the magic/version"), 0;
  if (b[6] < 1 || b[6] > 3 || b[7] != 0)
    return fail_at(name, 6, err, errlen, "unsupported .npy version %d.%d", b[6], b[7]), 0;
  size_t n = b[6] == 1 ? 10 : 12;
  if (len < n)
    return fail_at(name, len, err, errlen, "truncated: file ends inside the header length"), 0;
  *hlen = b[6] == 1 ? (uint64_t)b[8] | (uint64_t)b[9] << 8
                    : (uint64_t)b[8] | (uint64_t)b[9] << 8 | (uint64_t)b[10] << 16 |
                          (uint64_t)b[11] << 24;
  if (*hlen > NPY_MAX_HEADER)
    return fail_at(name, 8, err, errlen, "header length %" PRIu64 " exceeds the %d-byte cap",
                   *hlen, NPY_MAX_HEADER),
           0;
  return n;
}

// Parses the whole header in b[0..len) (len may run past it).
static int parse_header(const unsigned char *b, size_t len, const char *name, NpyHeader *h,
                        char *err, size_t errlen) {
  uint64_t hlen;
  size_t n = preamble(b, len, name, &hlen, err, errlen);
  if (n == 0)
    return -1;
  if (len - n < hlen)
    return fail_at(name, len, err, errlen,
                   "truncated: header says %" PRIu64 " bytes, file has %zu after the preamble",
                   hlen, len - n);
  NpyParse p = {.name = name, .s = b, .pos = n, .end = n + hlen, .err = err, .errlen = errlen};
  if (parse_dict(&p, h) < 0)
    return -1;
  h->data_off = n + hlen;
  uint64_t count;
  if (nnrt_shape_bytes(NNRT_U8, h->rank, h->dims, NPY_MAX_BYTES, &count) < 0 ||
      count * nnrt_dtype_size(h->dtype) > NPY_MAX_BYTES)
    return fail_at(name, n, err, errlen, "header: shape overflows or exceeds the %d GiB cap",
                   (int)(NPY_MAX_BYTES >> 30));
  h->count = count;
  h->in_bytes = count * h->item;
  h->out_bytes = count * nnrt_dtype_size(h->dtype);
  return 0;
}

// Converts n elements from the file's layout; the i8 narrowing may fail.
static int convert(const NpyHeader *h, const unsigned char *src, uint64_t first, uint64_t n,
                   void *out, const char *name, char *err, size_t errlen) {
  if (h->kind != NPY_I8) {
    memcpy((char *)out + first * h->item, src, n * h->item);
    return 0;
  }
  int32_t *o = (int32_t *)out + first;
  for (uint64_t i = 0; i < n; i++) {
    int64_t v;
    memcpy(&v, src + 8 * i, 8);
    if (v < INT32_MIN || v > INT32_MAX)
      return fail_at(name, h->data_off + 8 * (first + i), err, errlen,
                     "element %" PRIu64 " = %" PRId64 " does not fit in int32", first + i, v);
    o[i] = (int32_t)v;
  }
  return 0;
}

static int alloc_out(const NpyHeader *h, NnrtArray *out, const char *name, char *err,
                     size_t errlen) {
  out->data = nnrt_alloc(h->out_bytes ? h->out_bytes : 1, "npy data");
  if (!out->data)
    return fail_at(name, h->data_off, err, errlen, "out of memory for %" PRIu64 " bytes",
                   h->out_bytes);
  out->dtype = h->dtype;
  out->rank = h->rank;
  memcpy(out->dims, h->dims, sizeof h->dims);
  return 0;
}

int nnrt_parse_npy_buffer(const void *buf, size_t len, const char *name, NnrtArray *out,
                          char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const unsigned char *b = buf ? buf : (const void *)"";
  len = buf ? len : 0;
  NpyHeader h;
  if (parse_header(b, len, name, &h, err, errlen) < 0)
    return -1;
  size_t have = len - h.data_off;
  if (have < h.in_bytes)
    return fail_at(name, h.data_off, err, errlen,
                   "truncated: shape needs %" PRIu64 " bytes of data, file has %zu", h.in_bytes,
                   have);
  if (have > h.in_bytes)
    return fail_at(name, h.data_off + h.in_bytes, err, errlen,
                   "%zu bytes of trailing data after the %" PRIu64 " the shape declares",
                   have - (size_t)h.in_bytes, h.in_bytes);
  if (alloc_out(&h, out, name, err, errlen) < 0 ||
      convert(&h, b + h.data_off, 0, h.count, out->data, name, err, errlen) < 0) {
    nnrt_array_free(out);
    return -1;
  }
  return 0;
}

static int load_file(FILE *f, const char *path, unsigned char *chunk, size_t chunk_len,
                     NnrtArray *out, char *err, size_t errlen) {
  struct stat st;
  uint64_t size = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size
                                                                    : UINT64_MAX;
  size_t got = fread(chunk, 1, 12, f);
  uint64_t hlen;
  size_t n = preamble(chunk, got, path, &hlen, err, errlen);
  if (n == 0)
    return -1;
  size_t total = n + hlen; // <= 12 + NPY_MAX_HEADER <= chunk_len
  got += fread(chunk + got, 1, total - got, f);
  NpyHeader h;
  if (parse_header(chunk, got, path, &h, err, errlen) < 0)
    return -1;
  if (size != UINT64_MAX && size - h.data_off < h.in_bytes) // before allocating
    return fail_at(path, h.data_off, err, errlen,
                   "truncated: shape needs %" PRIu64 " bytes of data, file has %" PRIu64,
                   h.in_bytes, size - h.data_off);
  if (alloc_out(&h, out, path, err, errlen) < 0)
    return -1;
  size_t per = chunk_len / h.item;
  for (uint64_t done = 0; done < h.count;) {
    size_t want = h.count - done < per ? (size_t)(h.count - done) : per;
    size_t k = fread(chunk, h.item, want, f);
    if (k < want) {
      if (ferror(f))
        return fail_at(path, h.data_off + done * h.item, err, errlen, "read error: %s",
                       strerror(errno));
      return fail_at(path, h.data_off, err, errlen,
                     "truncated: shape needs %" PRIu64 " bytes of data, file has about %" PRIu64,
                     h.in_bytes, (done + k) * h.item);
    }
    if (convert(&h, chunk, done, k, out->data, path, err, errlen) < 0)
      return -1;
    done += k;
  }
  if (fgetc(f) != EOF)
    return fail_at(path, h.data_off + h.in_bytes, err, errlen,
                   "trailing data after the %" PRIu64 " bytes the shape declares", h.in_bytes);
  return 0;
}

int nnrt_load_npy(const char *path, NnrtArray *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  FILE *f = nnrt_open_input(path, err, errlen);
  if (!f)
    return -1;
  size_t chunk_len = 12 + NPY_MAX_HEADER + 8; // header, then data in chunks
  unsigned char *chunk = nnrt_alloc(chunk_len, "npy read buffer");
  int r = -1;
  if (!chunk) {
    if (err && errlen)
      snprintf(err, errlen, "%s: out of memory", path);
  } else {
    r = load_file(f, path, chunk, chunk_len, out, err, errlen);
    nnrt_free(chunk);
  }
  fclose(f);
  if (r < 0)
    nnrt_array_free(out);
  return r;
}
