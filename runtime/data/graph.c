/*
 * graph.c — an undirected graph's edge list (CSV) into CSR and dense
 * adjacency, and the checks a node classifier's labels and masks need.
 *
 * Edge list grammar (one edge per line; LF or CRLF):
 *   line := ws* id ws* ',' ws* id ws*       id: decimal node number, 0-based
 * blank lines are skipped; a first line that does not start with a digit is
 * a header and skipped.  Handling, so the adjacency is A (the GCN adds I):
 *   - an id outside 0..n-1 (an edge to a missing node): error;
 *   - a self-loop (u, u): error;
 *   - an edge listed twice, in either direction: error naming both lines.
 * Errors are PATH:LINE:COL (1-based).  The CSR holds both directions, each
 * row's columns sorted, so the same file gives the same arrays.
 */
#include "internal.h"

#include <inttypes.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_MAX_FILE (UINT64_C(1) << 31)
#define GRAPH_MAX_NODES (INT64_C(1) << 24)

typedef struct Edge {
  int64_t u, v; // u < v
  int64_t line;
} Edge;

static int by_edge(const void *a, const void *b) {
  const Edge *x = a, *y = b;
  if (x->u != y->u) return x->u < y->u ? -1 : 1;
  if (x->v != y->v) return x->v < y->v ? -1 : 1;
  return (x->line > y->line) - (x->line < y->line);
}

static bool is_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

// A node id at buf[*pos] (spaces around it skipped); its column in *col.
static int read_id(const char *buf, size_t end, size_t *pos, size_t line_start, int64_t n,
                   const char *name, int64_t line, int64_t *id, char *err, size_t errlen) {
  while (*pos < end && is_ws(buf[*pos])) (*pos)++;
  int64_t col = (int64_t)(*pos - line_start) + 1;
  if (*pos >= end || !is_digit(buf[*pos]))
    return nnrt_fail(err, errlen, "%s:%" PRId64 ":%" PRId64 ": expected a node id (0 to %" PRId64 ")", name,
                line, col, n - 1);
  int64_t x = 0;
  while (*pos < end && is_digit(buf[*pos])) {
    if (x <= GRAPH_MAX_NODES) x = x * 10 + (buf[*pos] - '0');
    (*pos)++;
  }
  if (x >= n)
    return nnrt_fail(err, errlen, "%s:%" PRId64 ":%" PRId64 ": edge to missing node %" PRId64
                " (the graph has nodes 0 to %" PRId64 ")", name, line, col, x, n - 1);
  while (*pos < end && is_ws(buf[*pos])) (*pos)++;
  *id = x;
  return 0;
}

void nnrt_graph_free(NnrtGraph *g) {
  nnrt_free(g->rowptr);
  nnrt_free(g->col);
  memset(g, 0, sizeof *g);
}

int nnrt_parse_graph_buffer(const char *buf, size_t len, const char *name, int64_t n, NnrtGraph *g,
                            char *err, size_t errlen) {
  memset(g, 0, sizeof *g);
  if (n < 1 || n > GRAPH_MAX_NODES)
    return nnrt_fail(err, errlen, "%s: a graph needs 1 to %" PRId64 " nodes (got %" PRId64 ")", name,
                GRAPH_MAX_NODES, n);
  int64_t cap = 0;
  for (size_t i = 0; i < len; i++) cap += buf[i] == '\n';
  cap++;
  Edge *e = nnrt_alloc((size_t)cap * sizeof *e, "graph edges");
  if (!e) return nnrt_fail(err, errlen, "%s: out of memory for %" PRId64 " edges", name, cap);
  int64_t m = 0, line = 0;
  for (size_t pos = 0; pos < len;) {
    size_t start = pos, end = pos;
    while (end < len && buf[end] != '\n') end++;
    pos = end < len ? end + 1 : end;
    line++;
    size_t p = start;
    while (p < end && is_ws(buf[p])) p++;
    if (p == end) continue;                          // blank
    if (m == 0 && line == 1 && !is_digit(buf[p])) continue; // header
    Edge *x = &e[m];
    int64_t a, b;
    if (read_id(buf, end, &p, start, n, name, line, &a, err, errlen) != 0) goto bad;
    if (p >= end || buf[p] != ',') {
      nnrt_fail(err, errlen, "%s:%" PRId64 ":%" PRId64 ": expected ',' between the two node ids", name, line,
           (int64_t)(p - start) + 1);
      goto bad;
    }
    p++;
    if (read_id(buf, end, &p, start, n, name, line, &b, err, errlen) != 0) goto bad;
    if (p != end) {
      nnrt_fail(err, errlen, "%s:%" PRId64 ":%" PRId64 ": an edge is two node ids, found more", name, line,
           (int64_t)(p - start) + 1);
      goto bad;
    }
    if (a == b) {
      nnrt_fail(err, errlen, "%s:%" PRId64 ": self-loop on node %" PRId64
           " (list A without self-loops; the normalisation adds I)", name, line, a);
      goto bad;
    }
    x->u = a < b ? a : b;
    x->v = a < b ? b : a;
    x->line = line;
    m++;
  }
  qsort(e, (size_t)m, sizeof *e, by_edge);
  for (int64_t i = 1; i < m; i++)
    if (e[i].u == e[i - 1].u && e[i].v == e[i - 1].v) {
      nnrt_fail(err, errlen, "%s:%" PRId64 ": duplicate edge %" PRId64 "-%" PRId64 " (already on line %" PRId64
           "; edges are undirected)", name, e[i].line, e[i].u, e[i].v, e[i - 1].line);
      goto bad;
    }
  g->n = n;
  g->nedges = m;
  g->rowptr = nnrt_alloc((size_t)(n + 1) * sizeof *g->rowptr, "graph rows");
  g->col = nnrt_alloc((size_t)(2 * m + 1) * sizeof *g->col, "graph columns");
  if (!g->rowptr || !g->col) {
    nnrt_fail(err, errlen, "%s: out of memory for the CSR of %" PRId64 " edges", name, m);
    goto bad;
  }
  memset(g->rowptr, 0, (size_t)(n + 1) * sizeof *g->rowptr);
  for (int64_t i = 0; i < m; i++) {
    g->rowptr[e[i].u + 1]++;
    g->rowptr[e[i].v + 1]++;
  }
  for (int64_t r = 0; r < n; r++) g->rowptr[r + 1] += g->rowptr[r];
  // Row r gets its smaller neighbours (edges (u, r), sorted by u) first, then
  // its larger ones (edges (r, v), sorted by v): each row ends up sorted.
  int64_t *fill = nnrt_alloc((size_t)n * sizeof *fill, "graph fill");
  if (!fill) {
    nnrt_fail(err, errlen, "%s: out of memory for the CSR of %" PRId64 " edges", name, m);
    goto bad;
  }
  memcpy(fill, g->rowptr, (size_t)n * sizeof *fill);
  for (int64_t i = 0; i < m; i++) g->col[fill[e[i].v]++] = (int32_t)e[i].u; // u < v, sorted by u
  for (int64_t i = 0; i < m; i++) g->col[fill[e[i].u]++] = (int32_t)e[i].v;
  nnrt_free(fill);
  nnrt_free(e);
  return 0;
bad:
  nnrt_free(e);
  nnrt_graph_free(g);
  return -1;
}

int nnrt_load_graph(const char *path, int64_t n, NnrtGraph *g, char *err, size_t errlen) {
  memset(g, 0, sizeof *g);
  char *buf;
  size_t got;
  if (nnrt_read_file(path, GRAPH_MAX_FILE, "edge list", &buf, &got, err, errlen) != 0) return -1;
  int r = nnrt_parse_graph_buffer(buf, got, path, n, g, err, errlen);
  nnrt_free(buf);
  return r;
}

int nnrt_graph_dense(const NnrtGraph *g, NnrtArray *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int64_t n = g->n;
  uint64_t bytes;
  int64_t dims[2] = {n, n};
  if (nnrt_shape_bytes(NNRT_F32, 2, dims, UINT64_C(1) << 34, &bytes) != 0)
    return nnrt_fail(err, errlen, "a dense adjacency of %" PRId64 " nodes is too large; use the CSR form", n);
  float *a = nnrt_alloc((size_t)bytes, "dense adjacency");
  if (!a) return nnrt_fail(err, errlen, "out of memory for a dense adjacency of %" PRId64 " nodes", n);
  memset(a, 0, (size_t)bytes);
  for (int64_t r = 0; r < n; r++)
    for (int64_t k = g->rowptr[r]; k < g->rowptr[r + 1]; k++) a[r * n + g->col[k]] = 1.0f;
  out->dtype = NNRT_F32;
  out->rank = 2;
  out->dims[0] = n;
  out->dims[1] = n;
  out->data = a;
  return 0;
}

int nnrt_graph_spectral(const NnrtGraph *g, double *vals, double *vecs, char *err, size_t errlen) {
  int64_t n = g->n;
  if (n > 46340) return nnrt_fail(err, errlen, "the spectrum of %" PRId64 " nodes is too large for a dense solver", n);
  double *dinv = nnrt_alloc((size_t)n * sizeof *dinv, "graph degrees");
  if (!dinv) return nnrt_fail(err, errlen, "out of memory for the degrees of %" PRId64 " nodes", n);
  for (int64_t i = 0; i < n; i++) {
    int64_t deg = g->rowptr[i + 1] - g->rowptr[i];
    dinv[i] = deg ? 1.0 / sqrt((double)deg) : 0.0;
  }
  memset(vecs, 0, (size_t)(n * n) * sizeof *vecs);
  for (int64_t i = 0; i < n; i++) {
    vecs[i * n + i] = 1.0;
    for (int64_t k = g->rowptr[i]; k < g->rowptr[i + 1]; k++) vecs[i * n + g->col[k]] = -dinv[i] * dinv[g->col[k]];
  }
  nnrt_free(dinv);
  lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, vecs, (lapack_int)n, vals);
  if (info != 0) return nnrt_fail(err, errlen, "LAPACK dsyevd failed on the Laplacian (info %d)", (int)info);
  for (int64_t k = 0; k < n; k++) { // a sign per eigenvector, so runs agree
    int64_t big = 0;
    for (int64_t i = 1; i < n; i++)
      if (fabs(vecs[i * n + k]) > fabs(vecs[big * n + k])) big = i;
    if (vecs[big * n + k] < 0)
      for (int64_t i = 0; i < n; i++) vecs[i * n + k] = -vecs[i * n + k];
  }
  return 0;
}

// Element i of an I32 or F64 array as an integer; false if not integral.
static bool int_at(const NnrtArray *a, int64_t i, int64_t *x) {
  if (a->dtype == NNRT_I32) {
    *x = ((const int32_t *)a->data)[i];
    return true;
  }
  if (a->dtype == NNRT_U8) {
    *x = ((const uint8_t *)a->data)[i];
    return true;
  }
  double d = a->dtype == NNRT_F64 ? ((const double *)a->data)[i] : ((const float *)a->data)[i];
  if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != (double)(int64_t)d) return false;
  *x = (int64_t)d;
  return true;
}

int nnrt_graph_check_labels(const NnrtArray *y, int64_t n, int64_t classes, const char *name, char *err,
                            size_t errlen) {
  if (nnrt_array_count(y) != n)
    return nnrt_fail(err, errlen, "%s: %" PRId64 " labels for a graph of %" PRId64 " nodes", name,
                nnrt_array_count(y), n);
  for (int64_t i = 0; i < n; i++) {
    int64_t c;
    if (!int_at(y, i, &c) || c < 0 || c >= classes)
      return nnrt_fail(err, errlen, "%s: row %" PRId64 " (node %" PRId64 "): label is not a class 0 to %" PRId64,
                  name, i + 1, i, classes - 1);
  }
  return 0;
}

int nnrt_graph_check_masks(const NnrtArray *const masks[3], const char *const names[3], int64_t n,
                           char *err, size_t errlen) {
  static const char *const split[3] = {"train", "val", "test"};
  for (int s = 0; s < 3; s++) {
    if (!masks[s]) continue;
    if (nnrt_array_count(masks[s]) != n)
      return nnrt_fail(err, errlen, "%s: %s mask has %" PRId64 " entries for a graph of %" PRId64 " nodes",
                  names[s], split[s], nnrt_array_count(masks[s]), n);
    for (int64_t i = 0; i < n; i++) {
      int64_t x;
      if (!int_at(masks[s], i, &x) || (x != 0 && x != 1))
        return nnrt_fail(err, errlen, "%s: row %" PRId64 " (node %" PRId64 "): a mask entry is 0 or 1", names[s],
                    i + 1, i);
    }
  }
  for (int64_t i = 0; i < n; i++)
    for (int s = 0; s < 3; s++)
      for (int t = s + 1; t < 3; t++) {
        int64_t x = 0, y = 0;
        if (masks[s] && masks[t] && int_at(masks[s], i, &x) && int_at(masks[t], i, &y) && x && y)
          return nnrt_fail(err, errlen, "%s: row %" PRId64 ": node %" PRId64 " is in both the %s and the %s mask (%s)",
                      names[s], i + 1, i, split[s], split[t], names[t]);
      }
  return 0;
}

/* ---- the matrix of a graph(...) field ---------------------------------- */

// Row r's entries of A (+ I for the GCN form) in column order, written to
// col and val (as double) from position at; returns the count.
static int64_t row_entries(const NnrtGraph *g, int64_t r, bool gcn, const double *dinv, int32_t *col, double *val,
                           int64_t at) {
  int64_t k = at;
  bool self = gcn;
  for (int64_t e = g->rowptr[r]; e < g->rowptr[r + 1]; e++) {
    int32_t c = g->col[e];
    if (self && c > r) {
      col[k] = (int32_t)r, val[k++] = dinv[r] * dinv[r];
      self = false;
    }
    col[k] = c, val[k++] = gcn ? dinv[r] * dinv[c] : 1.0;
  }
  if (self) col[k] = (int32_t)r, val[k++] = dinv[r] * dinv[r];
  return k - at;
}

static void put(void *val, bool f64, int64_t k, double v) {
  if (f64)
    ((double *)val)[k] = v;
  else
    ((float *)val)[k] = (float)v;
}

static size_t align8(size_t x) { return (x + 7) & ~(size_t)7; }

// The CSR form: one block holding the header, rowptr, col and val.  The
// transpose is built by a counting sort of the columns (stable, so each of
// its rows is in column order) and compared with the matrix: the GCN's
// D^-1/2 (A + I) D^-1/2 and A are symmetric (the CSR holds both directions
// of every edge, and d_i·d_j = d_j·d_i exactly), so t_* point to the same
// arrays; a matrix that were not would keep its own transpose.
static int graph_csr(const NnrtGraph *g, bool gcn, bool f64, const double *dinv, NnrtArray *out, char *err,
                     size_t errlen) {
  int64_t n = g->n, nnz = 2 * g->nedges + (gcn ? n : 0);
  size_t vs = f64 ? 8 : 4;
  size_t at_row = NNRT_CSR_BYTES, at_col = at_row + (size_t)(n + 1) * 8, at_val = align8(at_col + (size_t)nnz * 4);
  size_t one = align8(at_val + (size_t)nnz * vs) - at_row; // one matrix's arrays
  int32_t *tcol = nnrt_alloc((size_t)nnz * 4 + 4, "graph transpose");
  double *dval = nnrt_alloc((size_t)nnz * 8 + 8, "graph values"), *tval = nnrt_alloc((size_t)nnz * 8 + 8, "graph values");
  int64_t *trow = nnrt_alloc((size_t)(n + 1) * 8, "graph transpose");
  int32_t *col = nnrt_alloc((size_t)nnz * 4 + 4, "graph columns");
  int64_t *row = nnrt_alloc((size_t)(n + 1) * 8, "graph rows");
  char *blob = NULL;
  int rc = -1;
  if (!tcol || !dval || !tval || !trow || !col || !row) {
    nnrt_fail(err, errlen, "out of memory for the CSR of %" PRId64 " nodes", n);
    goto out;
  }
  row[0] = 0;
  for (int64_t r = 0; r < n; r++) row[r + 1] = row[r] + row_entries(g, r, gcn, dinv, col, dval, row[r]);
  memset(trow, 0, (size_t)(n + 1) * 8);
  for (int64_t k = 0; k < nnz; k++) trow[col[k] + 1]++;
  for (int64_t r = 0; r < n; r++) trow[r + 1] += trow[r];
  int64_t *fill = nnrt_alloc((size_t)n * 8 + 8, "graph transpose");
  if (!fill) {
    nnrt_fail(err, errlen, "out of memory for the CSR of %" PRId64 " nodes", n);
    goto out;
  }
  memcpy(fill, trow, (size_t)n * 8);
  for (int64_t r = 0; r < n; r++)
    for (int64_t k = row[r]; k < row[r + 1]; k++) {
      int64_t to = fill[col[k]]++;
      tcol[to] = (int32_t)r;
      tval[to] = dval[k];
    }
  nnrt_free(fill);
  bool sym = memcmp(row, trow, (size_t)(n + 1) * 8) == 0 && memcmp(col, tcol, (size_t)nnz * 4) == 0 &&
             memcmp(dval, tval, (size_t)nnz * 8) == 0;
  size_t bytes = at_row + one * (sym ? 1 : 2);
  blob = nnrt_alloc(bytes, "graph CSR");
  if (!blob) {
    nnrt_fail(err, errlen, "out of memory for the CSR of %" PRId64 " nodes", n);
    goto out;
  }
  memset(blob, 0, bytes);
  NnrtCsr *h = (NnrtCsr *)blob;
  for (int t = 0; t < (sym ? 1 : 2); t++) {
    char *base = blob + (size_t)t * one;
    memcpy(base + at_row, t ? trow : row, (size_t)(n + 1) * 8);
    memcpy(base + at_col, t ? tcol : col, (size_t)nnz * 4);
    for (int64_t k = 0; k < nnz; k++) put(base + at_val, f64, k, t ? tval[k] : dval[k]);
  }
  h->n = n;
  h->nnz = nnz;
  h->rowptr = (const int64_t *)(blob + at_row);
  h->col = (const int32_t *)(blob + at_col);
  h->val = blob + at_val;
  h->t_rowptr = (const int64_t *)(blob + (sym ? 0 : one) + at_row);
  h->t_col = (const int32_t *)(blob + (sym ? 0 : one) + at_col);
  h->t_val = blob + (sym ? 0 : one) + at_val;
  out->dtype = f64 ? NNRT_F64 : NNRT_F32;
  out->rank = 2;
  out->dims[0] = 1;
  out->dims[1] = NNRT_CSR_BYTES / (int64_t)vs;
  out->data = blob;
  blob = NULL;
  rc = 0;
out:
  nnrt_free(blob);
  nnrt_free(tcol);
  nnrt_free(dval);
  nnrt_free(tval);
  nnrt_free(trow);
  nnrt_free(col);
  nnrt_free(row);
  return rc;
}

int nnrt_graph_matrix(const NnrtGraph *g, int form, NnrtArray *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int64_t n = g->n;
  bool gcn = form & NNRT_GRAPH_GCN, f64 = form & NNRT_GRAPH_F64;
  double *dinv = nnrt_alloc((size_t)n * sizeof *dinv, "graph degrees");
  if (!dinv) return nnrt_fail(err, errlen, "out of memory for the degrees of %" PRId64 " nodes", n);
  for (int64_t i = 0; i < n; i++) dinv[i] = 1.0 / sqrt((double)(g->rowptr[i + 1] - g->rowptr[i] + 1));
  int rc;
  if (form & NNRT_GRAPH_CSR) {
    rc = graph_csr(g, gcn, f64, dinv, out, err, errlen);
  } else {
    uint64_t bytes;
    int64_t dims[2] = {n, n};
    rc = 0;
    if (nnrt_shape_bytes(f64 ? NNRT_F64 : NNRT_F32, 2, dims, UINT64_C(1) << 34, &bytes) != 0) {
      rc = nnrt_fail(err, errlen, "a dense adjacency of %" PRId64 " nodes is too large; read it as csr[N, N]", n);
    } else if (!(out->data = nnrt_alloc((size_t)bytes, "dense adjacency"))) {
      rc = nnrt_fail(err, errlen, "out of memory for a dense adjacency of %" PRId64 " nodes", n);
    } else {
      memset(out->data, 0, (size_t)bytes);
      for (int64_t r = 0; r < n; r++) {
        for (int64_t e = g->rowptr[r]; e < g->rowptr[r + 1]; e++)
          put(out->data, f64, r * n + g->col[e], gcn ? dinv[r] * dinv[g->col[e]] : 1.0);
        if (gcn) put(out->data, f64, r * n + r, dinv[r] * dinv[r]);
      }
      out->dtype = f64 ? NNRT_F64 : NNRT_F32;
      out->rank = 3;
      out->dims[0] = 1;
      out->dims[1] = n;
      out->dims[2] = n;
    }
  }
  nnrt_free(dinv);
  return rc;
}
