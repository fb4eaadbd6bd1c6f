/*
 * csv.c — numeric CSV into an F64 (rows, cols) array, optionally with one
 * column split off as I32 labels.
 *
 * Grammar (one record per line; LF or CRLF; a UTF-8 BOM is skipped):
 *   file   := line*            blank lines (only spaces/tabs) are skipped
 *   line   := field (',' field)*
 *   field  := ws* (number | '"' number '"') ws*     header fields: any text,
 *                                                   quoted with "" escapes
 * Invariants: every row has as many fields as the first (header or data)
 * row; numbers are finite decimals ([0-9+-.eE] only, so no inf/nan/hex);
 * labels are integral and fit in int32.  Errors are PATH:LINE:COL (1-based,
 * COL counts bytes).  Two passes over the buffer: the first validates and
 * counts, the second fills the arrays, so nothing is allocated for a bad file.
 * Does not: handle newlines inside quoted fields, other separators, or
 * missing values.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CSV_MAX_FILE (UINT64_C(1) << 30)

typedef struct Csv {
  const char *name;
  const char *buf;
  size_t len, pos;
  int64_t line;      // 1-based line of pos
  size_t line_start; // offset of that line's first byte
  char *err;
  size_t errlen;
} Csv;

typedef struct Field {
  size_t b, e; // text, quotes stripped ("" escapes left as they are)
  int64_t col; // 1-based column of the field's first byte
  bool quoted;
  char end; // ',' or '\n' (end of line or of file)
} Field;

static int fail_at(Csv *c, int64_t col, const char *fmt, ...) {
  if (c->err && c->errlen) {
    int k = snprintf(c->err, c->errlen, "%s:%" PRId64 ":%" PRId64 ": ", c->name, c->line, col);
    if (k >= 0 && (size_t)k < c->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(c->err + k, c->errlen - k, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

static bool is_ws(char ch) { return ch == ' ' || ch == '\t'; }

static int64_t col_of(const Csv *c, size_t at) { return (int64_t)(at - c->line_start) + 1; }

// At the start of a line: skips blank lines; false at end of input.
static bool next_line(Csv *c) {
  while (c->pos < c->len) {
    size_t p = c->pos;
    while (p < c->len && (is_ws(c->buf[p]) || c->buf[p] == '\r'))
      p++;
    if (p < c->len && c->buf[p] != '\n')
      return true;
    c->pos = p < c->len ? p + 1 : p;
    c->line++;
    c->line_start = c->pos;
  }
  return false;
}

static void end_line(Csv *c) {
  c->line++;
  c->line_start = c->pos;
}

// field := ws* ( '"' ( [^"\n] | '""' )* '"' | [^,\n]* ) ws*  then ',' or EOL
static int next_field(Csv *c, Field *f) {
  const char *s = c->buf;
  size_t p = c->pos;
  while (p < c->len && is_ws(s[p]))
    p++;
  f->quoted = p < c->len && s[p] == '"';
  if (f->quoted) {
    size_t open = p++;
    f->b = p;
    for (;;) {
      if (p >= c->len || s[p] == '\n')
        return fail_at(c, col_of(c, open), "unterminated quoted field");
      if (s[p] == '"') {
        if (p + 1 < c->len && s[p + 1] == '"') {
          p += 2;
          continue;
        }
        break;
      }
      p++;
    }
    f->e = p++;
    while (p < c->len && (is_ws(s[p]) || (s[p] == '\r' && (p + 1 == c->len || s[p + 1] == '\n'))))
      p++;
    if (p < c->len && s[p] != ',' && s[p] != '\n')
      return fail_at(c, col_of(c, p), "unexpected '%c' after closing quote", s[p]);
  } else {
    f->b = p;
    while (p < c->len && s[p] != ',' && s[p] != '\n')
      p++;
    f->e = p;
    if (f->e > f->b && s[f->e - 1] == '\r') // CRLF
      f->e--;
    while (f->e > f->b && is_ws(s[f->e - 1]))
      f->e--;
  }
  f->col = col_of(c, f->b);
  f->end = p < c->len && s[p] == ',' ? ',' : '\n';
  c->pos = p < c->len ? p + 1 : p;
  return 0;
}

static int parse_number(Csv *c, const Field *f, double *v) {
  char tmp[72];
  size_t n = f->e - f->b;
  if (n == 0)
    return fail_at(c, f->col, "empty field, expected a number");
  bool ok = n < sizeof tmp;
  for (size_t i = 0; ok && i < n; i++) {
    char ch = c->buf[f->b + i];
    ok = (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.' || ch == 'e' || ch == 'E';
  }
  if (ok) {
    memcpy(tmp, c->buf + f->b, n);
    tmp[n] = 0;
    char *end;
    errno = 0;
    *v = strtod(tmp, &end);
    ok = end == tmp + n && n > 0;
    if (ok && !isfinite(*v))
      return fail_at(c, f->col, "number '%s' is out of range", tmp);
  }
  if (!ok) {
    int shown = n > 24 ? 24 : (int)n;
    return fail_at(c, f->col, "not a number: '%.*s%s'", shown, c->buf + f->b,
                   n > 24 ? "..." : "");
  }
  return 0;
}

// One pass.  With vals == NULL it only validates and counts rows and cols;
// the second pass fills vals (rows, stride) and labels.
static int scan(Csv *c, bool header, int label_col, int64_t *rows, int64_t *cols, double *vals,
                int64_t stride, int32_t *labels) {
  c->pos = c->len >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
  c->line = 1;
  c->line_start = 0;
  int64_t ncols = -1, nrows = 0, nfeat = 0;
  bool first = true;
  while (next_line(c)) {
    bool is_header = first && header;
    int64_t k = 0;
    Field f = {0};
    do {
      if (next_field(c, &f) < 0)
        return -1;
      if (ncols >= 0 && k >= ncols)
        return fail_at(c, f.col, "row has more than %" PRId64 " fields (the first row has %" PRId64 ")",
                       ncols, ncols);
      if (!is_header) {
        double v = 0;
        if (parse_number(c, &f, &v) < 0)
          return -1;
        if (k == label_col) {
          if (v != floor(v) || v < INT32_MIN || v > INT32_MAX)
            return fail_at(c, f.col, "label %.17g is not an integer in int32 range", v);
          if (labels)
            labels[nrows] = (int32_t)v;
        } else if (vals) {
          vals[nrows * stride + (k > label_col && label_col >= 0 ? k - 1 : k)] = v;
        }
      }
      k++;
    } while (f.end == ',');
    if (ncols < 0) {
      ncols = k;
      if (label_col >= ncols)
        return fail_at(c, 1, "label column %d out of range: rows have %" PRId64 " fields",
                       label_col, ncols);
      if (label_col >= 0 && ncols == 1)
        return fail_at(c, 1, "only the label column: no feature columns left");
      nfeat = label_col >= 0 ? ncols - 1 : ncols;
    } else if (k < ncols) {
      return fail_at(c, col_of(c, f.e), "row has %" PRId64 " fields, expected %" PRId64, k,
                     ncols);
    }
    if (!is_header)
      nrows++;
    first = false;
    end_line(c);
  }
  if (nrows == 0)
    return nnrt_fail(c->err, c->errlen, "%s: %s", c->name,
                first ? "empty file: no rows" : "no data rows after the header");
  *rows = nrows;
  *cols = nfeat;
  return 0;
}

int nnrt_parse_csv_buffer(const char *buf, size_t len, const char *name, bool header,
                          int label_col, NnrtArray *out, NnrtArray *labels, char *err,
                          size_t errlen) {
  memset(out, 0, sizeof *out);
  if (labels)
    memset(labels, 0, sizeof *labels);
  if (label_col < -1 || (label_col >= 0 && !labels))
    return nnrt_fail(err, errlen, "%s: bad label column %d", name, label_col);
  Csv c = {.name = name, .buf = buf ? buf : "", .len = buf ? len : 0, .err = err, .errlen = errlen};
  int64_t rows, cols;
  if (scan(&c, header, label_col, &rows, &cols, NULL, 0, NULL) < 0)
    return -1;
  out->dtype = NNRT_F64;
  out->rank = 2;
  out->dims[0] = rows;
  out->dims[1] = cols;
  uint64_t bytes;
  if (nnrt_shape_bytes(NNRT_F64, 2, out->dims, UINT64_MAX, &bytes) < 0 || bytes > SIZE_MAX)
    return nnrt_fail(err, errlen, "%s: %" PRId64 "x%" PRId64 " is too large", name, rows, cols);
  out->data = nnrt_alloc(bytes ? bytes : 1, "CSV values");
  if (label_col >= 0) {
    labels->dtype = NNRT_I32;
    labels->rank = 1;
    labels->dims[0] = rows;
    labels->data = nnrt_alloc((size_t)rows * 4, "CSV labels");
  }
  if (!out->data || (label_col >= 0 && !labels->data)) {
    nnrt_array_free(out);
    if (labels)
      nnrt_array_free(labels);
    return nnrt_fail(err, errlen, "%s: out of memory for %" PRId64 "x%" PRId64 " values", name, rows,
                cols);
  }
  int64_t r2, c2;
  scan(&c, header, label_col, &r2, &c2, out->data, cols, label_col >= 0 ? labels->data : NULL);
  return 0;
}

int nnrt_load_csv(const char *path, bool header, int label_col, NnrtArray *out,
                  NnrtArray *labels, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (labels)
    memset(labels, 0, sizeof *labels);
  char *buf;
  size_t got;
  if (nnrt_read_file(path, CSV_MAX_FILE, "CSV", &buf, &got, err, errlen) != 0)
    return -1;
  int r = nnrt_parse_csv_buffer(buf, got, path, header, label_col, out, labels, err, errlen);
  nnrt_free(buf);
  return r;
}
