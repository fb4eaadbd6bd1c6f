/*
 * fuse.c — operator fusion: the schedule of a kernel cut into groups that
 * codegen turns into one loop nest each.
 *
 * A fused group is a run of element-wise nodes over one iteration space
 * (the shape of the group's first node), optionally closed by a reduction
 * of a member over that same space.  Inside the loop every member's value
 * is a register; only members used after the group (or written to an
 * output slot) are stored.  Everything else — GEMM, convolution, softmax
 * rows, data movement, index ops — is a group of one, and is the reason a
 * fused group ends.
 *
 * A slice or a broadcast whose readers are all element-wise is a view
 * (Kernel.view): like a free reshape it is in no group and has no buffer;
 * the loops that read it read its input in place, with the input's strides
 * from the slice's first element, or the broadcast's zero strides
 * (codegen's operand), and memplan keeps the input alive until they have
 * run.  Unless a slice's input is a member of the open loop (then it is a
 * copy, as a reshape of one is).
 *
 * The groups are contiguous runs of the topological schedule, so every
 * input of a group is computed before the group starts.  The reverse walk
 * of autodiff and the DFS scheduler both keep producer chains together, so
 * contiguity costs little; a better scheduler is future work.
 */
#include "nnc.h"
#include <string.h>

static bool fusible(const Node *n) { return op_info[n->op].kind == OK_EWISE; }

/* By node id: slices that may be read in place (a view): every consumer is
 * element-wise (so reads it through strides, in a fused loop), it is no
 * output of the kernel, and its input has memory (not a constant).  Whether
 * a slice becomes a view also needs its input outside the open loop when
 * it is scheduled (fuse_kernel), as for a free reshape. */
static char *viewable_slices(const Kernel *k) {
  int cap = graph_node_count() + 1;
  char *v = arena_alloc(cap);
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    if ((n->op == OP_SLICE || n->op == OP_BROADCAST) && n->in[0]->op != OP_CONST) v[n->id] = VIEW_LOOP;
  }
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    if (!fusible(n))
      for (int j = 0; j < n->nin; j++) v[n->in[j]->id] = 0;
  }
  for (int i = 0; i < k->nouts; i++) v[k->outs[i].node->id] = 0;
  return v;
}

/* ---- products that read attention's heads in place ---------------------
 *
 * A batched product's operand made by transposes, reshapes and slices of a
 * stored value (a head: transpose(reshape(qkv[:, :, 0:d], [B, T, H, D]),
 * [0, 2, 1, 3])) is read by the GEMM where it lies: its layout (view_layout)
 * is an offset and strides into that value, and a layout with two batch
 * strides and a leading dimension (gemm_view) is what nnrt_sgemm_batch
 * takes.  The chain's transposes and slices then become views (VIEW_GEMM:
 * no loop, no buffer; memplan keeps the root alive as for any view), so
 * the heads are not copied out before each product.  Not with --cuda: the
 * GPU's products read dense operands. */

static bool gemm_views_on = true;
void fuse_gemm_views(bool on) { gemm_views_on = on; }

static Dim dmul(Dim a, Dim b) { return (Dim){a.k * b.k, a.b + b.b}; }
static bool unit(Dim a) { return a.k == 1 && a.b == 0; }
static bool deq(Dim a, Dim b) { return a.k == b.k && (a.b == b.b || a.k == 0); }
static bool dadd(Dim *a, Dim b) { /* a += b: both k·B^b with one b (or zero) */
  if (b.k == 0) return true;
  if (a->k == 0) { *a = b; return true; }
  if (a->b != b.b) return false;
  a->k += b.k;
  return true;
}

/* x's layout through views (as `view` marks them) and free reshapes. */
bool view_layout(const char *view, const Node *x, ViewLayout *vl) {
  const Shape *sh = &x->sh;
  bool through = (x->op == OP_RESHAPE && x->in[0]->op != OP_CONST) || (view && view[x->id]);
  if (!through) {
    vl->root = x;
    vl->off = (Dim){0, 0};
    Dim acc = {1, 0};
    for (int d = sh->rank - 1; d >= 0; d--) {
      vl->st[d] = acc;
      acc = dmul(acc, sh->d[d]);
    }
    return true;
  }
  ViewLayout in;
  if (!view_layout(view, x->in[0], &in)) return false;
  const Shape *is = &x->in[0]->sh;
  *vl = in;
  switch (x->op) {
  case OP_TRANSPOSE:
    for (int d = 0; d < sh->rank; d++) vl->st[d] = in.st[x->ia[d]];
    return true;
  case OP_SLICE:
    for (int d = 0; d < sh->rank; d++)
      if (!dadd(&vl->off, dmul((Dim){x->ia[d], 0}, in.st[d]))) return false;
    return true;
  case OP_RESHAPE: { /* new dims over runs of old dims laid out as one */
    int vd = sh->rank - 1;
    Dim base = is->rank ? in.st[is->rank - 1] : (Dim){1, 0}, tn = {1, 0}, vn = {1, 0};
    for (int td = is->rank - 1; td >= 0; td--) {
      tn = dmul(tn, is->d[td]);
      if (td == 0 || (!unit(is->d[td - 1]) && !deq(in.st[td - 1], dmul(tn, base)))) {
        while (vd >= 0 && (!deq(vn, tn) || unit(sh->d[vd]))) {
          vl->st[vd] = dmul(vn, base);
          vn = dmul(vn, sh->d[vd]);
          vd--;
        }
        if (!deq(vn, tn)) return false;
        if (td > 0) base = in.st[td - 1], tn = (Dim){1, 0}, vn = (Dim){1, 0};
      }
    }
    return vd < 0;
  }
  default: return false;
  }
}

/* Operand x of batched product m (x its in[j]) read in place: its matrix
 * row-major (trans as the product asks) or column-major (trans flipped),
 * leading dimension ld, strides over the product's batch dims (one or
 * two). */
bool gemm_view(const char *view, const Node *m, int j, GemmView *g) {
  const Node *x = m->in[j];
  int r = x->sh.rank, nb = m->sh.rank - 2;
  if (r != m->sh.rank || nb < 1 || nb > 2 || !view_layout(view, x, &g->l)) return false;
  for (int d = 0; d < nb; d++)
    if (x->sh.d[d].k != m->sh.d[d].k || x->sh.d[d].b != m->sh.d[d].b) return false;
  Dim rows = x->sh.d[r - 2], cols = x->sh.d[r - 1], sr = g->l.st[r - 2], sc = g->l.st[r - 1];
  if (rows.b || cols.b) return false;
  g->trans = (int)m->ia[j];
  if (deq(sc, (Dim){1, 0}) && sr.b == 0 && sr.k >= cols.k) g->ld = sr;
  else if (deq(sr, (Dim){1, 0}) && sc.b == 0 && sc.k >= rows.k) g->ld = sc, g->trans = !g->trans;
  else return false;
  g->nb = nb;
  for (int d = 0; d < nb; d++) g->bs[d] = g->l.st[d];
  return true;
}

/* Marks (VIEW_GEMM) the transposes, slices and reshapes that batched
 * products read through, where every reader is such a product or another
 * of them and each product's operand has a gemm_view. */
static void gemm_views(const Kernel *k, char *viewable) {
  int cap = graph_node_count() + 1;
  char *c = arena_alloc(cap), *out = arena_alloc(cap);
  for (int i = 0; i < k->nouts; i++) out[k->outs[i].node->id] = 1;
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    if ((n->op == OP_TRANSPOSE || n->op == OP_SLICE || n->op == OP_RESHAPE) && n->in[0]->op != OP_CONST &&
        !out[n->id] && !viewable[n->id] && (n->dt == DT_F32 || n->dt == DT_F64))
      c[n->id] = 1;
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = 0; i < k->nsched; i++) { /* a reader that is neither drops what it reads */
      Node *n = k->sched[i];
      bool mm = n->op == OP_MATMUL && n->sh.rank > 2 && n->sh.rank <= 4;
      for (int j = 0; j < n->nin; j++) {
        Node *x = n->in[j];
        if (!x || !c[x->id]) continue;
        bool ok = c[n->id] || (mm && j < 2);
        if (ok && mm) {
          GemmView g;
          ok = gemm_view(c, n, j, &g);
        }
        if (!ok) c[x->id] = 0, changed = true;
      }
    }
  }
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    if (c[n->id] && n->op != OP_RESHAPE) viewable[n->id] = VIEW_GEMM;
  }
}

/* n aliases or views its input's memory instead of computing a loop */
static bool in_place(const Node *n, const char *viewable) {
  return (n->op == OP_RESHAPE && n->in[0]->op != OP_CONST) || (viewable && viewable[n->id]);
}

/* A min-heap of schedule positions (for reorder). */
typedef struct Heap { int *a, n, cap; } Heap;

static void heap_push(Heap *h, int x) {
  if (h->n == h->cap) {
    int c2 = h->cap ? 2 * h->cap : 8;
    int *na = arena_alloc(sizeof(int) * c2);
    if (h->n) memcpy(na, h->a, sizeof(int) * h->n);
    h->a = na;
    h->cap = c2;
  }
  int i = h->n++;
  for (; i > 0 && h->a[(i - 1) / 2] > x; i = (i - 1) / 2) h->a[i] = h->a[(i - 1) / 2];
  h->a[i] = x;
}

static int heap_pop(Heap *h) {
  int top = h->a[0], x = h->a[--h->n], i = 0;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= h->n) break;
    if (c + 1 < h->n && h->a[c + 1] < h->a[c]) c++;
    if (h->a[c] >= x) break;
    h->a[i] = h->a[c];
    i = c;
  }
  if (h->n) h->a[i] = x;
  return top;
}

/* The ready element-wise nodes of one shape, for reorder. */
typedef struct ShapeHeap { Shape sh; Heap h; bool used; } ShapeHeap;

static uint64_t shape_hash(const Shape *s) {
  uint64_t h = (uint64_t)s->rank * 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < s->rank; i++) h = (h ^ (uint64_t)s->d[i].k ^ ((uint64_t)s->d[i].b << 56)) * 0x100000001B3ull;
  return h;
}

/* Reorder the schedule so that consumers join the loop of their producer:
 * list scheduling that, among the ready nodes, prefers one that can join
 * the open fused group, then the earliest in the original order.  Random
 * draws keep their relative order (the stream must not depend on fusion).
 *
 * The ready nodes are kept in heaps by position, so a pick costs a log, not
 * a scan of the schedule (which made this quadratic: 3,000 layers, ~1 s):
 * all of them (the earliest), the element-wise ones by shape (those that
 * can join an open loop of that shape), and the reductions of a member of
 * the open loop.  Stale entries are skipped when they come to the top. */
static void reorder(Kernel *k, const char *viewable) {
  int cap = graph_node_count() + 1, n = k->nsched;
  int *deps = arena_alloc(sizeof(int) * cap), *pos = arena_alloc(sizeof(int) * cap);
  char *placed = arena_alloc(cap);
  int *member = arena_alloc(sizeof(int) * cap); /* the loop (1, 2, ...) it is a member of */
  int **cons = arena_alloc(sizeof(int *) * cap), *ncons = arena_alloc(sizeof(int) * cap), *ccap = arena_alloc(sizeof(int) * cap);
  Node **order = arena_alloc(sizeof(Node *) * (n + 1));
  int norder = 0, last_rand = -1;
  char *insched = arena_alloc(cap); /* a scan body reads values from outside it */
  int maxin = 0;
  for (int i = 0; i < n; i++) {
    pos[k->sched[i]->id] = i, insched[k->sched[i]->id] = 1;
    if (k->sched[i]->nin > maxin) maxin = k->sched[i]->nin;
  }
  Node **ins = arena_alloc(sizeof(Node *) * (size_t)(maxin + 1)); /* a scan has many inputs; +1: the last draw */
  for (int i = 0; i < n; i++) {
    Node *x = k->sched[i];
    int nin = 0;
    for (int j = 0; j < x->nin; j++) ins[nin++] = x->in[j];
    if (x->op == OP_RAND) {
      if (last_rand >= 0) ins[nin++] = k->sched[last_rand];
      last_rand = i;
    }
    for (int j = 0; j < nin; j++) {
      if (op_info[ins[j]->op].kind == OK_LEAF || !insched[ins[j]->id]) continue;
      deps[x->id]++;
      int id = ins[j]->id;
      if (ncons[id] == ccap[id]) {
        int c2 = ccap[id] ? ccap[id] * 2 : 4;
        int *nc = arena_alloc(sizeof(int) * c2);
        if (ncons[id]) memcpy(nc, cons[id], sizeof(int) * ncons[id]);
        cons[id] = nc;
        ccap[id] = c2;
      }
      cons[id][ncons[id]++] = x->id;
    }
  }
  Node **byid = arena_alloc(sizeof(Node *) * cap);
  for (int i = 0; i < n; i++) byid[k->sched[i]->id] = k->sched[i];
  int nsh = 1;
  while (nsh < 2 * n + 2) nsh *= 2;
  ShapeHeap *shs = arena_alloc(sizeof *shs * nsh);
  Heap ready = {0}, reds = {0};
  int cur = 0; /* the open loop's number; 0: none yet */
  bool open = false;
  Shape space = {0};
  #define SHAPE_HEAP(s) ({ \
    int j_ = (int)(shape_hash(s) & (uint64_t)(nsh - 1)); \
    while (shs[j_].used && !shape_eq(&shs[j_].sh, (s))) j_ = (j_ + 1) & (nsh - 1); \
    if (!shs[j_].used) { shs[j_].used = true; shs[j_].sh = *(s); } \
    &shs[j_].h; })
  /* a node is ready: into the heaps it may be picked from */
  #define MAKE_READY(x) do { \
    Node *x_ = (x); \
    heap_push(&ready, pos[x_->id]); \
    if (fusible(x_)) heap_push(SHAPE_HEAP(&x_->sh), pos[x_->id]); \
    if (op_info[x_->op].kind == OK_REDUCE && open && member[x_->in[0]->id] == cur) heap_push(&reds, pos[x_->id]); \
  } while (0)
  for (int i = 0; i < n; i++)
    if (op_info[k->sched[i]->op].kind == OK_LEAF) { order[norder++] = k->sched[i]; placed[k->sched[i]->id] = 1; }
  for (int i = 0; i < n; i++)
    if (!placed[k->sched[i]->id] && !deps[k->sched[i]->id]) MAKE_READY(k->sched[i]);
  while (norder < n) {
    Node *pick = NULL;
    if (open) { /* the first ready node that joins the open loop */
      Heap *eh = SHAPE_HEAP(&space);
      int best = n, skipped[64], nskipped = 0;
      while (eh->n && nskipped < 64) {
        Node *x = k->sched[eh->a[0]];
        if (placed[x->id]) { heap_pop(eh); continue; }
        bool joins = true;
        for (int j = 0; j < x->nin; j++) /* never read a reshape of the open loop inside it */
          if (in_place(x->in[j], viewable) && member[x->in[j]->in[0]->id] == cur) joins = false;
        if (joins) { best = eh->a[0]; break; }
        skipped[nskipped++] = heap_pop(eh);
      }
      if (nskipped == 64) { /* many excluded: fall back to a scan of this shape's heap */
        for (int i = 0; i < eh->n; i++) {
          Node *x = k->sched[eh->a[i]];
          bool joins = !placed[x->id];
          for (int j = 0; joins && j < x->nin; j++)
            if (in_place(x->in[j], viewable) && member[x->in[j]->in[0]->id] == cur) joins = false;
          if (joins && eh->a[i] < best) best = eh->a[i];
        }
      }
      for (int i = 0; i < nskipped; i++) heap_push(eh, skipped[i]);
      nskipped = 0;
      while (reds.n && nskipped < 64) {
        Node *x = k->sched[reds.a[0]];
        if (placed[x->id] || member[x->in[0]->id] != cur) {
          heap_pop(&reds);
          continue;
        }
        bool joins = shape_eq(&x->in[0]->sh, &space);
        for (int j = 0; j < x->nin; j++)
          if (in_place(x->in[j], viewable) && member[x->in[j]->in[0]->id] == cur) joins = false;
        if (joins) {
          if (reds.a[0] < best) best = reds.a[0];
          break;
        }
        skipped[nskipped++] = heap_pop(&reds);
      }
      nnc_assert(nskipped < 64); /* a reduction of a member reads no reshape of one */
      for (int i = 0; i < nskipped; i++) heap_push(&reds, skipped[i]);
      if (best < n) pick = k->sched[best];
    }
    if (!pick) { /* the earliest ready node */
      while (placed[k->sched[ready.a[0]]->id]) heap_pop(&ready);
      pick = k->sched[ready.a[0]];
    }
    nnc_assert(pick);
    /* the light model of fuse_kernel's grouping */
    bool free_reshape = in_place(pick, viewable) &&
                        (pick->op == OP_BROADCAST || viewable[pick->id] == VIEW_GEMM || !(open && member[pick->in[0]->id] == cur));
    if (!free_reshape) {
      bool joins = open && ((fusible(pick) && shape_eq(&pick->sh, &space)) ||
                            (op_info[pick->op].kind == OK_REDUCE && member[pick->in[0]->id] == cur));
      if (!joins) {
        cur++; /* a new loop: no members yet */
        open = fusible(pick);
        space = pick->sh;
        reds.n = 0;
      } else if (op_info[pick->op].kind == OK_REDUCE) {
        open = false;
      }
      member[pick->id] = cur;
      if (open) /* its ready reductions may now join */
        for (int c = 0; c < ncons[pick->id]; c++) {
          Node *y = byid[cons[pick->id][c]];
          if (!placed[y->id] && !deps[y->id] && op_info[y->op].kind == OK_REDUCE && y->in[0] == pick) heap_push(&reds, pos[y->id]);
        }
    }
    order[norder++] = pick;
    placed[pick->id] = 1;
    for (int c = 0; c < ncons[pick->id]; c++)
      if (--deps[cons[pick->id][c]] == 0) MAKE_READY(byid[cons[pick->id][c]]);
  }
  #undef SHAPE_HEAP
  #undef MAKE_READY
  memcpy(k->sched, order, sizeof(Node *) * n);
}

/* Every output of a scheduled scan right after it (also those nothing
 * reads: the loop writes them all), so that they join its group. */
static void place_scan_outputs(Kernel *k) {
  bool any = false;
  for (int i = 0; i < k->nsched && !any; i++) any = k->sched[i]->op == OP_SCAN;
  if (!any) return;
  int cap = graph_node_count() + 1;
  Node **order = arena_alloc(sizeof(Node *) * (size_t)(k->nsched + cap));
  char *done = arena_alloc(cap);
  int n = 0;
  for (int i = 0; i < k->nsched; i++) {
    Node *x = k->sched[i];
    if (x->op == OP_SCANOUT) continue;
    order[n++] = x;
    if (x->op != OP_SCAN) continue;
    Scan *s = scan_of(x);
    for (int c = 0; c < s->nc; c++)
      if (!done[s->c[c].out->id]) done[s->c[c].out->id] = 1, order[n++] = s->c[c].out;
    for (int m = 0; m < s->ny; m++)
      if (!done[s->y[m].out->id]) done[s->y[m].out->id] = 1, order[n++] = s->y[m].out;
  }
  k->sched = order;
  k->nsched = n;
}

/* ---- values written into the concat that reads them ---------------------
 *
 * A concat along the last axis of values only it reads copies each into
 * its buffer: attention's backward joins the heads' gradients of Q, K and V
 * ([B, T, H, D] transposes, each viewed as [B, T, d]) into the [B, T, 3d]
 * gradient of the one projection.  Such a value (a transpose or a concat,
 * maybe through a reshape only the concat reads) is placed instead: it has
 * no buffer of its own, whatever writes it writes into its columns of the
 * concat's (a transpose's loop, or the batched product the transpose
 * follows, codegen's plan_batch_out), and the concat copies only the rest.
 * Memory planning keeps the concat's buffer from its first writer on.  CPU
 * only, like the products' views. */
static void place_in_concats(Kernel *k) {
  int cap = graph_node_count() + 1;
  int *users = arena_alloc(sizeof(int) * cap);
  for (int i = 0; i < k->nsched; i++)
    for (int j = 0; j < k->sched[i]->nin; j++) users[k->sched[i]->in[j]->id]++;
  for (int i = 0; i < k->nouts; i++) users[k->outs[i].node->id] += 2; /* an output: in its slot, kept whole */
  k->place = arena_alloc(sizeof(Node *) * cap);
  k->place_col = arena_alloc(sizeof(int64_t) * cap);
  for (int i = k->nsched - 1; i >= 0; i--) { /* outer concats first */
    Node *c = k->sched[i];
    int r = c->sh.rank;
    bool out = false;
    for (int o = 0; o < k->nouts; o++) out = out || k->outs[o].node == c;
    if (c->op != OP_CONCAT || r < 2 || c->ia[0] != r - 1 || k->view[c->id] || out) continue;
    int64_t col = 0;
    for (int j = 0; j < c->nin; j++) {
      const Node *x = c->in[j], *y = x->op == OP_RESHAPE ? x->in[0] : x;
      Dim w = x->sh.d[r - 1];
      bool ok = users[x->id] == 1 && (x == y || users[y->id] == 1) && !k->view[y->id] && y->dt == c->dt &&
                (y->op == OP_TRANSPOSE || (y->op == OP_CONCAT && y->ia[0] == r - 1)) && y->sh.rank >= r &&
                x->sh.rank == r && w.b == 0;
      for (int q = 0; ok && q < r - 1; q++) ok = deq(y->sh.d[q], c->sh.d[q]) && deq(x->sh.d[q], c->sh.d[q]);
      if (ok) {
        Dim tail = {1, 0};
        for (int q = r - 1; q < y->sh.rank; q++) {
          Dim e = y->sh.d[q];
          ok = ok && e.b == 0;
          tail.k *= e.k;
        }
        ok = ok && tail.k == w.k && (y->op != OP_CONCAT || y->sh.rank == r);
      }
      if (ok) {
        k->place[y->id] = c;
        k->place_col[y->id] = col;
      }
      col += w.k;
      if (w.b) break; /* (a batch-sized last axis: nothing after it is placed) */
    }
  }
}

const Node *place_root(const Kernel *k, const Node *v, int64_t *col) {
  if (!k->place || !k->place[v->id]) return NULL;
  int64_t at = 0;
  for (; k->place[v->id]; v = k->place[v->id]) at += k->place_col[v->id];
  if (col) *col = at;
  return v;
}

void fuse_kernel(Kernel *k, bool fuse) {
  int cap = graph_node_count() + 1;
  char *viewable = fuse ? viewable_slices(k) : NULL;
  if (fuse && gemm_views_on) gemm_views(k, viewable);
  if (fuse) reorder(k, viewable);
  place_scan_outputs(k);
  k->view = arena_alloc(cap);
  k->nest = NULL;
  int *group_of = arena_alloc(sizeof(int) * cap);
  int *uses_outside = arena_alloc(sizeof(int) * cap);
  for (int i = 0; i < cap; i++) group_of[i] = -1;
  k->groups = arena_alloc(sizeof(Group) * (k->nsched + 1));
  k->ngroups = 0;
  Group *cur = NULL;
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    if (op_info[n->op].kind == OK_LEAF) continue;
    /* a reshape is free (it aliases its input), and so is a viewable slice
     * (fused loops read it in place), unless it reads the open loop */
    /* (a broadcast's readers have its shape, never the open loop's: it is
     * read after that loop, whatever it reads) */
    /* (a product's view is read by products only, after that loop) */
    bool for_gemm = viewable && viewable[n->id] == VIEW_GEMM;
    if (in_place(n, viewable) && (n->op == OP_BROADCAST || for_gemm ||
                                  !(cur && group_of[n->in[0]->id] == k->ngroups - 1 && cur->fused && !cur->closed))) {
      if (for_gemm) k->view[n->id] = VIEW_GEMM;
      else if (n->op == OP_SLICE || n->op == OP_BROADCAST) k->view[n->id] = VIEW_LOOP;
      continue;
    }
    bool join = false;
    const char *why = NULL;
    if (n->op == OP_SCANOUT) { /* written by the loop of its scan, the group before */
      PUSH(cur->nodes, cur->n, cur->cap, n);
      group_of[n->id] = k->ngroups - 1;
      continue;
    }
    if (cur && cur->fused && !cur->closed) {
      if (fusible(n) && shape_eq(&n->sh, &cur->space)) join = true;
      else if (op_info[n->op].kind == OK_REDUCE && n->in[0]->sh.rank == cur->space.rank &&
               shape_eq(&n->in[0]->sh, &cur->space) && group_of[n->in[0]->id] == k->ngroups - 1) {
        join = true; /* the reduction closes the loop it reads from */
      } else if (fusible(n)) {
        why = arena_printf("%%%d has another shape (%s, the loop is %s)", n->id, shape_str(&n->sh), shape_str(&cur->space));
      } else {
        why = arena_printf("%%%d is %s (%s)", n->id, op_info[n->op].name,
                           op_info[n->op].kind == OK_MATMUL ? "a GEMM call" :
                           op_info[n->op].kind == OK_LIB ? "a library kernel" :
                           op_info[n->op].kind == OK_GEN ? "a kernel of its own" :
                           op_info[n->op].kind == OK_SCAN ? "a loop over time steps" :
                           op_info[n->op].kind == OK_ROW ? "a row-wise op" :
                           op_info[n->op].kind == OK_MOVE ? "data movement" :
                           op_info[n->op].kind == OK_REDUCE ? "a reduction over another space" : "not element-wise");
      }
    }
    if (!fuse) { join = false; why = "fusion is off"; }
    if (join) {
      PUSH(cur->nodes, cur->n, cur->cap, n);
      if (op_info[n->op].kind == OK_REDUCE) cur->closed = true;
    } else {
      if (cur && !cur->why)
        cur->why = why ? why : cur->closed ? "a reduction closes the loop" : arena_printf("%%%d starts a new group", n->id);
      cur = &k->groups[k->ngroups++];
      memset(cur, 0, sizeof *cur);
      cur->fused = fusible(n) && fuse;
      if (!cur->fused)
        cur->why = fuse ? arena_printf("%s runs alone (%s)", op_info[n->op].name,
                                                 op_info[n->op].kind == OK_MATMUL ? "GEMM library call" :
                                                 op_info[n->op].kind == OK_LIB ? "library kernel" :
                                                 op_info[n->op].kind == OK_GEN ? "a kernel of its own" :
                                                 op_info[n->op].kind == OK_SCAN ? "a loop over time steps" :
                                                 op_info[n->op].kind == OK_ROW ? "row-wise, three passes" :
                                                 op_info[n->op].kind == OK_MOVE ? "data movement" :
                                                 op_info[n->op].kind == OK_REDUCE ? "reduction of a stored value" :
                                                 "index op") : "fusion is off";
      cur->space = n->sh;
      PUSH(cur->nodes, cur->n, cur->cap, n);
    }
    group_of[n->id] = k->ngroups - 1;
  }
  if (cur && !cur->why) cur->why = "end of the kernel";
  k->place = NULL;
  k->place_col = NULL;
  if (fuse && gemm_views_on) place_in_concats(k);
  /* constants are folded into loops, except where a consumer reads memory */
  k->needs_mem = arena_alloc(cap);
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    OpKind kd = op_info[n->op].kind;
    bool reads_consts = kd == OK_EWISE || kd == OK_REDUCE || n->op == OP_BROADCAST || n->op == OP_CONCAT;
    for (int j = 0; j < n->nin; j++)
      if (n->in[j]->op == OP_CONST && !reads_consts) k->needs_mem[n->in[j]->id] = 1;
  }
  /* a member is stored if anything outside its group reads it (a free
   * reshape counts as outside: it aliases the stored value) */
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    for (int j = 0; j < n->nin; j++)
      if (group_of[n->in[j]->id] != group_of[n->id] || group_of[n->id] < 0) uses_outside[n->in[j]->id]++;
  }
  for (int i = 0; i < k->nouts; i++) uses_outside[k->outs[i].node->id]++;
  k->stored = arena_alloc(cap);
  for (int g = 0; g < k->ngroups; g++)
    for (int j = 0; j < k->groups[g].n; j++) {
      Node *n = k->groups[g].nodes[j];
      bool last = j == k->groups[g].n - 1;
      k->stored[n->id] = !k->groups[g].fused || uses_outside[n->id] > 0 || last;
    }
}

/* ---- row nests ----------------------------------------------------------
 *
 * A layer norm is five loops over [B, T, d] and [B, T, 1] (a sum, the
 * mean, a sum of squares, the inverse deviation, the normalised output);
 * a masked softmax a scale-and-mask loop and the row op.  Each reads what
 * the one before wrote, a whole tensor apart: from L2 or memory.  When
 * every group of such a run works on whole rows of the same leading dims
 * [R...] (element-wise over [R..., C], a reduction over the last axis only,
 * a softmax row) and one passes the next only values of the same row, the
 * loops can be interchanged: one loop over the rows, and inside it each
 * group's work on that row, in the groups' order.  What one group writes
 * the next reads from L1.  Every element is computed by the same code in
 * the same order (a reduction over the last axis sums its row whole, in
 * order), so the bits do not change.  Memory planning keeps every value
 * the nest writes or reads alive through the whole nest (memplan.c). */

/* group g is a row phase: element-wise over [R..., C], a reduction of such
 * a loop over its last axis, or a softmax row; no random draws (their
 * stream follows the schedule) */
static bool row_phase(const Group *g) {
  int r = g->space.rank;
  if (r < 2 || g->n < 1) return false;
  if (!g->fused) return g->n == 1 && op_info[g->nodes[0]->op].kind == OK_ROW;
  for (int i = 0; i < g->n; i++)
    if (g->nodes[i]->op == OP_RAND) return false;
  if (g->closed) {
    const Node *last = g->nodes[g->n - 1];
    if (last->ia[0] != (int64_t)1 << (r - 1)) return false;
  }
  return true;
}

static bool same_lead(const Shape *a, const Shape *b) {
  if (a->rank != b->rank) return false;
  for (int d = 0; d + 1 < a->rank; d++)
    if (a->d[d].k != b->d[d].k || a->d[d].b != b->d[d].b) return false;
  return true;
}

/* The node whose memory x reads: through free reshapes and views. */
static const Node *mem_root(const Kernel *k, const Node *x) {
  while ((x->op == OP_RESHAPE && x->in[0]->op != OP_CONST) || (k->view && k->view[x->id])) x = x->in[0];
  return x;
}

/* Whether group j may join the nest of groups [lo, j): every value of the
 * nest that j reads is read in place (no reshape or view of it) with the
 * nest's leading dims, so row i of j reads row i alone. */
static bool joins_nest(const Kernel *k, int lo, int j, const int *group_of) {
  const Group *g = &k->groups[j];
  if (!row_phase(g) || !same_lead(&g->space, &k->groups[lo].space)) return false;
  for (int i = 0; i < g->n; i++) {
    const Node *n = g->nodes[i];
    if (g->closed && i == g->n - 1) continue; /* reads a member */
    for (int a = 0; a < n->nin; a++) {
      const Node *x = n->in[a], *r = mem_root(k, x);
      int gx = group_of[r->id];
      if (gx < lo || gx >= j) continue;
      bool row_bcast = x->op == OP_BROADCAST && x->in[0] == r && same_lead(&r->sh, &g->space);
      if ((x != r && !row_bcast) || !same_lead(&x->sh, &g->space)) return false;
    }
  }
  return true;
}

enum { NEST_MIN_ROW = 32 };

void fuse_nests(Kernel *k) {
  int cap = graph_node_count() + 1;
  int *group_of = arena_alloc(sizeof(int) * cap);
  for (int i = 0; i < cap; i++) group_of[i] = -1;
  for (int g = 0; g < k->ngroups; g++)
    for (int j = 0; j < k->groups[g].n; j++) group_of[k->groups[g].nodes[j]->id] = g;
  k->nest = arena_alloc(sizeof(int) * (k->ngroups + 1));
  for (int g = 0; g < k->ngroups;) {
    int e = g + 1;
    if (row_phase(&k->groups[g]))
      while (e < k->ngroups && joins_nest(k, g, e, group_of)) e++;
    Shape lead = k->groups[g].space;
    lead.rank--;
    Dim rows = shape_numel(&lead);
    /* rows of a few elements (ten classes) vectorise better as one flat
     * loop per group: a nest needs a row of NEST_MIN_ROW somewhere */
    int64_t longest = 0;
    for (int i = g; e - g >= 2 && i < e; i++) { /* (only a nest's groups: they have rank >= 2) */
      Dim c = k->groups[i].space.d[k->groups[i].space.rank - 1];
      longest = c.b ? NEST_MIN_ROW : c.k > longest ? c.k : longest;
    }
    if (e - g < 2 || (rows.b == 0 && rows.k < 2) || longest < NEST_MIN_ROW) e = g + 1;
    k->nest[g] = e - g;
    for (int i = g + 1; i < e; i++) k->nest[i] = 0;
    g = e;
  }
}

void nest_range(const Kernel *k, int g, int *lo, int *hi) {
  *lo = *hi = g;
  if (!k->nest) return;
  while (*lo > 0 && k->nest[*lo] == 0) (*lo)--;
  *hi = *lo + k->nest[*lo] - 1;
}

int group_inputs(const Group *g, Node **xs, char *seen) {
  int nx = 0;
  for (int i = 0; i < g->n; i++) seen[g->nodes[i]->id] = 1; /* members are registers */
  int nm = g->closed ? g->n - 1 : g->n;
  for (int i = 0; i < nm; i++)
    for (int j = 0; j < g->nodes[i]->nin; j++) {
      Node *x = g->nodes[i]->in[j];
      if (seen[x->id] || x->op == OP_CONST) continue;
      seen[x->id] = 1;
      xs[nx++] = x;
    }
  for (int i = 0; i < g->n; i++) seen[g->nodes[i]->id] = 0;
  for (int i = 0; i < nx; i++) seen[xs[i]->id] = 0;
  return nx;
}

void fuse_print(const Kernel *k, FILE *out) {
  int ops = 0, loops = 0, free_ops = 0;
  for (int g = 0; g < k->ngroups; g++) ops += k->groups[g].n;
  for (int i = 0; i < k->nsched; i++)
    if (op_info[k->sched[i]->op].kind != OK_LEAF) free_ops++;
  free_ops -= ops;
  int views = 0, pviews = 0;
  for (int i = 0; i < k->nsched && k->view; i++) {
    views += k->view[k->sched[i]->id] == VIEW_LOOP;
    pviews += k->view[k->sched[i]->id] == VIEW_GEMM;
  }
  fprintf(out, "kernel %s: %d ops in %d loops or calls (+%d reshapes, which alias memory", k->name, ops, k->ngroups,
          free_ops - views - pviews);
  if (views) fprintf(out, "; +%d slices, read in place by the loops that use them", views);
  if (pviews) fprintf(out, "; +%d transposes and slices, read in place by the batched products", pviews);
  fprintf(out, ")\n");
  for (int g = 0; g < k->ngroups; g++) {
    const Group *gr = &k->groups[g];
    if (gr->fused) loops++;
    if (k->nest && k->nest[g] > 1) {
      Shape lead = gr->space;
      lead.rank--;
      fprintf(out, "  row nest k%d-k%d: one loop over the rows %s, each group's work on a row in turn\n", g,
              g + k->nest[g] - 1, shape_str(&lead));
    }
    fprintf(out, "  k%d %s %s%s:", g, gr->fused ? "fused" : "single", shape_str(&gr->space),
            gr->closed ? " +reduce" : "");
    for (int j = 0; j < gr->n; j++)
      fprintf(out, " %s%%%d=%s", k->stored[gr->nodes[j]->id] ? "" : "~", gr->nodes[j]->id, op_info[gr->nodes[j]->op].name);
    fprintf(out, "\n      ends: %s\n", gr->why ? gr->why : "-");
  }
  fprintf(out, "  (~ marks values that stay in registers)\n");
}
