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
