/*
 * ops/spmm.c — spmm(a, h): a sparse matrix (CSR, constant data) times a
 * dense one.  a is a csr[N, N] field (only graph(...) makes one: LANGUAGE.md
 * §7), h is f32[N, F] or f32[b, N, F] (f64 under --f64, as the matrix's
 * values); the result has h's type and shape, with
 * y[.., i, :] = Σ_k a[i, k] h[.., k, :] over the stored entries of row i.
 * A graph is one sample, so the one matrix multiplies every [N, F] of h.
 * With t = 1 (made only by the derivative, never called by name) the
 * product is by aᵀ: the runtime keeps aᵀ's CSR beside a's, built at load.
 *
 * Derivative: w.r.t. h, aᵀ · g, spmm(a, g, t = !t); a is data and gets
 * none (the CSR's values are no parameter).
 *
 * Kernel: a runtime call (runtime/cpu/spmm.c, on the worker team) — rows
 * split by their count alone, each row summed in the order of its stored
 * columns, so every thread count gives the same bits.  No GPU kernel yet:
 * a --cuda build of a program using spmm is refused (codegen/nvptx.c).
 */
#include "../nnc.h"
#include "../codegen/kernel.h"

static const AttrSpec attrs[] = {{"t", AT_BOOL, 0, 0}};

static Node *build(Op op, Node **in, const int64_t *a) {
  Node *m = in[0], *h = in[1];
  int r = m->sh.rank;
  if (m->dt != DT_CSR || (r != 2 && r != 3) || m->sh.d[r - 1].b || m->sh.d[r - 2].b ||
      m->sh.d[r - 1].k != m->sh.d[r - 2].k)
    return shape_fail("'spmm' multiplies a sparse matrix csr[N, N] (a graph(...) field), got %s%s", dtype_name(m->dt),
                      shape_str(&m->sh));
  int64_t n = m->sh.d[r - 1].k;
  int hr = h->sh.rank;
  if ((h->dt != DT_F32 && h->dt != DT_F64) || (hr != 2 && hr != 3) || h->sh.d[hr - 2].b || h->sh.d[hr - 2].k != n ||
      h->sh.d[hr - 1].b)
    return shape_fail("'spmm' of csr%s needs a float h of %lld rows, [%lld, F] or [B, %lld, F], got %s%s",
                      shape_str(&m->sh), (long long)n, (long long)n, (long long)n, dtype_name(h->dt),
                      shape_str(&h->sh));
  if (h->dt != dtype_program())
    return shape_fail("'spmm': the sparse matrix holds %s values (the program's float type), h is %s%s",
                      dtype_name(dtype_program()), dtype_name(h->dt), shape_str(&h->sh));
  return g_node(op, h->dt, h->sh, in, 2, a);
}

static void grad(Node *n, Node *g, Node **d) {
  Node *in[2] = {n->in[0], g};
  int64_t t[] = {!n->ia[0]};
  d[1] = g_gen(OP_SPMM, in, t);
}

/* the rows of every matrix of h */
static Dim extent(const Node *n) {
  Shape s = n->sh;
  s.rank--;
  return shape_numel(&s);
}

static void emit(const KernelTarget *t, const Node *n) {
  const Node *h = n->in[1];
  int hr = h->sh.rank;
  if (!t->call) {
    diag_error(n->loc, "spmm has no GPU kernel yet: build this program without --cuda");
    return;
  }
  LLVMValueRef args[] = {t->buffer(n), t->buffer(n->in[0]), t->buffer(h), k_extent(t, &h->sh, 0, hr - 2),
                         k_i64(t, h->sh.d[hr - 2].k), k_i64(t, h->sh.d[hr - 1].k), k_i64(t, n->ia[0])};
  t->call(n->dt == DT_F64 ? "nnrt_spmm_f64" : "nnrt_spmm_f32", args, 7);
}

const OpSpec spmm_spec = {attrs, 1, build, grad, extent, emit, false};
