/*
 * ops/embedding.c — embedding(E, ids): row lookup in a table.  E is a float
 * table f[V, D] (a parameter, no batch dimension), ids integers i32[...] of
 * any shape; the result is f[..., D] with y[i, :] = E[ids[i], :].
 *
 * An id outside [0, V) reads nothing: its row of the result is zeros and
 * it contributes no gradient to the table (documented in LANGUAGE.md §6;
 * nothing is clamped, nothing is read or written out of bounds).
 *
 * Derivative: w.r.t. E the scatter-add of the adjoint's rows into a [V, D]
 * table of zeros, embedding_grad(g, ids, rows = V) (this file, not callable
 * by name); ids are integers and get none.  embedding_grad is linear in g,
 * and its own adjoint is the lookup of the adjoint's rows: embedding(g', ids).
 *
 * Kernels: embedding has one work item per element of the result (an
 * index, a bounds check, a load); embedding_grad one work item per column
 * d of the table, which zeroes its column, then walks the ids in order and
 * adds g[i, d] to row ids[i] — so every sum is formed in the order of the
 * ids on both targets, without atomics, and the two agree bit for bit.
 * Both are branch-free: an id out of range is replaced by row 0 and its
 * value by zero (the lookup) or its addend by zero (the scatter).
 *
 * On the CPU (KernelTarget.item_range) the loops turn inside out so that
 * the inner one runs along a row, which LLVM vectorises: the lookup copies
 * whole rows (one id each), and the scatter takes its share of columns and
 * walks the ids once, adding each id's piece of row.  Every element gets
 * the same additions in the same order (the ids'), so the bits do not
 * change; the scatter of the transformer benchmark (2048 ids, 128
 * columns) went from 232 to 59 µs, the lookup from 208 to 66 µs on 2
 * threads (nnc build --profile).
 */
#include "../nnc.h"
#include "../codegen/kernel.h"

static bool float_table(const Node *e) { return e->dt == DT_F32 || e->dt == DT_F64; }

static Node *build(Op op, Node **in, const int64_t *a) {
  Node *e = in[0], *ids = in[1];
  if (!float_table(e) || e->sh.rank != 2 || e->sh.d[0].b || e->sh.d[1].b)
    return shape_fail("'embedding' needs a table f[V, D] (rows without the batch dimension), got %s%s",
                      dtype_name(e->dt), shape_str(&e->sh));
  if (ids->dt != DT_I32)
    return shape_fail("'embedding' needs integer ids (i32), got %s%s", dtype_name(ids->dt), shape_str(&ids->sh));
  if (ids->sh.rank >= MAX_RANK) return shape_fail("ids of too high a rank for 'embedding'");
  Shape s = ids->sh;
  s.d[s.rank++] = e->sh.d[1];
  return g_node(op, e->dt, s, in, 2, a);
}

static void grad(Node *n, Node *g, Node **d) {
  Node *in[2] = {g, n->in[1]};
  int64_t rows[] = {n->in[0]->sh.d[0].k};
  d[0] = g_gen(OP_EMBEDDING_GRAD, in, rows);
}

/* every element of the result */
static Dim extent(const Node *n) { return shape_numel(&n->sh); }

/* ids[i] as i64, and whether it names a row of a table of `rows` rows:
 * unsigned < rows also rejects negative ids */
static LLVMValueRef load_id(const KernelTarget *t, const Node *ids, LLVMValueRef i, LLVMValueRef rows,
                            LLVMValueRef *in) {
  LLVMValueRef id = LLVMBuildSExt(t->s.b, k_load(t, DT_I32, t->buffer(ids), i), t->i64, "");
  *in = LLVMBuildICmp(t->s.b, LLVMIntULT, id, rows, "");
  return id;
}

/* The CPU's lookup: this run's share of the ids, each a row copied whole
 * (or zeros). */
static void emit_rows(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  const Node *e = n->in[0];
  Dtype d = n->dt;
  LLVMValueRef cols = k_i64(t, e->sh.d[1].k), rows = k_i64(t, e->sh.d[0].k), ok, lo, hi, r, c;
  t->item_range(k_extent(t, &n->in[1]->sh, 0, n->in[1]->sh.rank), &lo, &hi);
  void *ids = t->loop_begin(k_sub(t, hi, lo), false, &r);
  LLVMValueRef i = k_add(t, lo, r);
  LLVMValueRef id = load_id(t, n->in[1], i, rows, &ok);
  LLVMValueRef src = k_mul(t, LLVMBuildSelect(b, ok, id, k_i64(t, 0), ""), cols), dst = k_mul(t, i, cols);
  void *row = t->loop_begin(cols, false, &c);
  LLVMValueRef v = k_load(t, d, t->buffer(e), k_add(t, src, c));
  k_store(t, d, LLVMBuildSelect(b, ok, v, LLVMConstReal(t->s.ty(d), 0), ""), t->buffer(n), k_add(t, dst, c));
  t->loop_end(row);
  t->loop_end(ids);
}

static void emit(const KernelTarget *t, const Node *n) {
  if (t->item_range) {
    emit_rows(t, n);
    return;
  }
  LLVMBuilderRef b = t->s.b;
  const Node *e = n->in[0];
  Dtype d = n->dt;
  LLVMValueRef cols = k_i64(t, e->sh.d[1].k), rows = k_i64(t, e->sh.d[0].k), ok, k;
  void *items = t->loop_begin(t->dim(shape_numel(&n->sh)), true, &k);
  LLVMValueRef id = load_id(t, n->in[1], k_div(t, k, cols), rows, &ok);
  LLVMValueRef row = LLVMBuildSelect(b, ok, id, k_i64(t, 0), "");
  LLVMValueRef v = k_load(t, d, t->buffer(e), k_add(t, k_mul(t, row, cols), k_rem(t, k, cols)));
  k_store(t, d, LLVMBuildSelect(b, ok, v, LLVMConstReal(t->s.ty(d), 0), ""), t->buffer(n), k);
  t->loop_end(items);
}

const OpSpec embedding_spec = {NULL, 0, build, grad, extent, emit, false};

/* ---- embedding_grad(g, ids, rows = V): the scatter-add ------------------ */

static const AttrSpec grad_attrs[] = {{"rows", AT_INT, 1, 0}};

static Node *build_grad(Op op, Node **in, const int64_t *a) {
  Node *g = in[0], *ids = in[1];
  int r = ids->sh.rank;
  if (ids->dt != DT_I32 || !float_table(g) || g->sh.rank != r + 1 || g->sh.d[r].b)
    return shape_fail("'embedding_grad' needs ids i32[...] and rows f[..., D], got %s%s and %s%s", dtype_name(ids->dt),
                      shape_str(&ids->sh), dtype_name(g->dt), shape_str(&g->sh));
  for (int i = 0; i < r; i++)
    if (g->sh.d[i].k != ids->sh.d[i].k || g->sh.d[i].b != ids->sh.d[i].b)
      return shape_fail("'embedding_grad': rows %s do not match ids %s", shape_str(&g->sh), shape_str(&ids->sh));
  if (a[0] < 1) return shape_fail("'embedding_grad' needs rows >= 1, got %lld", (long long)a[0]);
  Shape s = {0};
  s.rank = 2;
  s.d[0] = (Dim){a[0], 0};
  s.d[1] = g->sh.d[r];
  return g_node(op, g->dt, s, in, 2, a);
}

static void grad_grad(Node *n, Node *g, Node **d) {
  Node *in[2] = {g, n->in[1]};
  d[0] = g_gen(OP_EMBEDDING, in, NULL);
}

/* the columns of the table */
static Dim grad_extent(const Node *n) { return n->sh.d[1]; }

/* The CPU's scatter: this run's share [lo, hi) of the columns, zeroed,
 * then each id in order adds its row's piece of them. */
static void emit_grad_rows(const KernelTarget *t, const Node *n) {
  LLVMBuilderRef b = t->s.b;
  Dtype d = n->dt;
  LLVMTypeRef ty = t->s.ty(d);
  LLVMValueRef rows = k_i64(t, n->sh.d[0].k), cols = k_i64(t, n->sh.d[1].k), zero = LLVMConstReal(ty, 0);
  LLVMValueRef out = t->buffer(n), g = t->buffer(n->in[0]);
  LLVMValueRef nids = k_extent(t, &n->in[1]->sh, 0, n->in[1]->sh.rank), lo, hi, c, r, i, ok;
  t->item_range(cols, &lo, &hi);
  LLVMValueRef w = k_sub(t, hi, lo);
  void *clear = t->loop_begin(rows, false, &r);
  void *cc = t->loop_begin(w, false, &c);
  k_store(t, d, zero, out, k_add(t, k_mul(t, r, cols), k_add(t, lo, c)));
  t->loop_end(cc);
  t->loop_end(clear);
  void *scan = t->loop_begin(nids, false, &i);
  LLVMValueRef id = load_id(t, n->in[1], i, rows, &ok);
  LLVMValueRef at = k_add(t, k_mul(t, LLVMBuildSelect(b, ok, id, k_i64(t, 0), ""), cols), lo);
  LLVMValueRef from = k_add(t, k_mul(t, i, cols), lo);
  void *col = t->loop_begin(w, false, &c);
  LLVMValueRef add = LLVMBuildSelect(b, ok, k_load(t, d, g, k_add(t, from, c)), zero, "");
  k_store(t, d, k_fadd(t, k_load(t, d, out, k_add(t, at, c)), add), out, k_add(t, at, c));
  t->loop_end(col);
  t->loop_end(scan);
}

static void emit_grad(const KernelTarget *t, const Node *n) {
  if (t->item_range) {
    emit_grad_rows(t, n);
    return;
  }
  LLVMBuilderRef b = t->s.b;
  Dtype d = n->dt;
  LLVMTypeRef ty = t->s.ty(d);
  LLVMValueRef rows = k_i64(t, n->sh.d[0].k), cols = k_i64(t, n->sh.d[1].k), zero = LLVMConstReal(ty, 0);
  LLVMValueRef out = t->buffer(n), g = t->buffer(n->in[0]);
  LLVMValueRef nids = k_extent(t, &n->in[1]->sh, 0, n->in[1]->sh.rank), c, r, i, ok;
  void *col = t->loop_begin(cols, true, &c);
  void *clear = t->loop_begin(rows, false, &r);
  k_store(t, d, zero, out, k_add(t, k_mul(t, r, cols), c));
  t->loop_end(clear);
  void *scan = t->loop_begin(nids, false, &i);
  LLVMValueRef id = load_id(t, n->in[1], i, rows, &ok);
  LLVMValueRef at = k_add(t, k_mul(t, LLVMBuildSelect(b, ok, id, k_i64(t, 0), ""), cols), c);
  LLVMValueRef add = LLVMBuildSelect(b, ok, k_load(t, d, g, k_add(t, k_mul(t, i, cols), c)), zero, "");
  k_store(t, d, k_fadd(t, k_load(t, d, out, at), add), out, at);
  t->loop_end(scan);
  t->loop_end(col);
}

const OpSpec embedding_grad_spec = {grad_attrs, 1, build_grad, grad_grad, grad_extent, emit_grad, true};
