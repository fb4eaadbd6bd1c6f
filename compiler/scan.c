/*
 * scan.c — a loop over time steps kept as a loop in the IR.
 *
 * A `for` whose body builds the same graph at every step (lower_call.c
 * checks this by lowering it at every step and comparing each graph with
 * the first's) becomes one OP_SCAN node:
 * its body is the graph of one step over placeholders (OP_SCANVAR) for the
 * carried values and the per-step slices of the sequences it reads; values
 * from before the loop that the body reads (parameters, a whole-sequence
 * product) are the scan's inputs and are computed once.  Its outputs are
 * OP_SCANOUT nodes: the carries' final values and the per-step values
 * stacked along a new leading axis.  So the graph, and the time to compile
 * it, does not grow with the number of steps.
 *
 * Backpropagation through time is derived, not written: scan_grad runs the
 * ordinary reverse walk (grad.c) over the body, seeded with placeholders
 * for the adjoints of the carries' next values and of the per-step values,
 * and makes a reverse scan of it whose carries are the carries' adjoints
 * and the sums of the free variables' gradients.  The forward scan saves
 * each carry's value at every step (a [T, ...] output) and each matrix
 * product of the body the backward body reads; the backward body
 * recomputes the step's cheap element-wise intermediates from them
 * (rematerialisation: the saved memory is a few values per step, not every
 * intermediate).  A weight's gradient that is a product over the batch,
 * x^T dz at every step, is not summed step by step in a carry but made
 * after the loop as one product over all the steps ([T*B, k]^T [T*B, n]):
 * one large GEMM instead of T small ones each added to a [k, n] sum (the
 * sum's order changes, so the bits differ from the unrolled loop's;
 * NNC_SCAN_HOIST=0 keeps the step-by-step sum, NNC_SCAN_SAVE=0 recomputes
 * the products).
 *
 * The body is an ordinary Kernel: scheduled, fused and planned like the
 * kernels of the program (scan_prepare); codegen/llvm.c emits a loop over
 * the steps around its groups.  Not done: nested scans (an inner loop of a
 * scanned body is unrolled) and the GPU backend (it unrolls: scans are off
 * for --cuda).
 */
#include "nnc.h"
#include <string.h>

bool scan_enabled;
bool scan_remat = true, scan_hoist = true;

static Scan **scans;
static int nscans, capscans;

void scan_reset(void) {
  scans = NULL;
  nscans = capscans = 0;
}

Node *g_scanvar(Dtype dt, Shape sh) {
  static int64_t vars;
  int64_t ia[MAX_RANK] = {++vars};
  return node_intern(OP_SCANVAR, dt, sh, NULL, 0, ia, 0, 0, -1, NULL, graph_loc());
}

Scan *scan_of(const Node *n) {
  if (n->op == OP_SCANOUT) n = n->in[0];
  nnc_assert(n->op == OP_SCAN && n->ia[0] >= 0 && n->ia[0] < nscans);
  return scans[n->ia[0]];
}

/* ---- which nodes are the body's ----------------------------------------- */

/* By node id: 1 depends on a var, 2 does not, 0 not yet known.  Nodes built
 * before the first var cannot depend on one. */
typedef struct Dep { char *m; int first; const char *isvar; } Dep;

static bool dep_of(Dep *d, Node *n) {
  if (n->id < d->first) return false;
  if (d->m[n->id]) return d->m[n->id] == 1;
  bool r = d->isvar[n->id];
  for (int j = 0; j < n->nin && !r; j++) r = dep_of(d, n->in[j]);
  d->m[n->id] = r ? 1 : 2;
  return r;
}

static Dep dep_new(const Scan *s) {
  int cap = graph_node_count() + 1;
  char *isvar = arena_alloc(cap);
  Dep d = {arena_alloc(cap), cap, isvar};
  for (int k = 0; k < s->nc; k++) { isvar[s->c[k].var->id] = 1; if (s->c[k].var->id < d.first) d.first = s->c[k].var->id; }
  for (int j = 0; j < s->ns; j++) { isvar[s->s[j].var->id] = 1; if (s->s[j].var->id < d.first) d.first = s->s[j].var->id; }
  return d;
}

/* The body's nodes in post-order from its outputs: those that depend on a
 * var, the vars and the constants they read; values from before the loop
 * (the free variables) are left out. */
static void body_schedule(Scan *s, Kernel *k) {
  Dep d = dep_new(s);
  int cap = graph_node_count() + 1;
  char *seen = arena_alloc(cap);
  Node **order = arena_alloc(sizeof *order * cap);
  Node **stack = arena_alloc(sizeof *stack * cap);
  int *next = arena_alloc(sizeof *next * cap);
  int norder = 0;
  for (int o = 0; o < k->nouts; o++) {
    Node *r = k->outs[o].node;
    if (seen[r->id] || !(dep_of(&d, r) || r->op == OP_CONST)) continue;
    int sp = 0;
    stack[sp] = r;
    next[sp++] = 0;
    seen[r->id] = 1;
    while (sp) {
      Node *n = stack[sp - 1];
      if (next[sp - 1] < n->nin) {
        Node *c = n->in[next[sp - 1]++];
        if (!seen[c->id] && (c->op == OP_CONST || dep_of(&d, c))) {
          seen[c->id] = 1;
          stack[sp] = c;
          next[sp++] = 0;
        }
      } else {
        order[norder++] = n;
        sp--;
      }
    }
  }
  k->sched = order;
  k->nsched = norder;
}

/* The body's nodes of scan s (its carries' nexts and per-step values as
 * outputs) in k, scheduled. */
static void body_nodes(Scan *s, Kernel *k) {
  memset(k, 0, sizeof *k);
  for (int c = 0; c < s->nc; c++) kernel_add_out(k, s->c[c].next, -1, "next");
  for (int m = 0; m < s->ny; m++) kernel_add_out(k, s->y[m].val, -1, "step");
  body_schedule(s, k);
}

/* ---- building ------------------------------------------------------------ */

static void add_input(Node ***in, int *n, int *cap, Node *x) {
  if (!x || x->op == OP_CONST) return;
  for (int i = 0; i < *n; i++)
    if ((*in)[i] == x) return;
  PUSH(*in, *n, *cap, x);
}

/* The stacked output of per-step value m: [n, ...its shape]. */
static void step_out(Scan *s, int m) {
  const Node *v = s->y[m].val;
  nnc_assert(v->sh.rank + 1 <= MAX_RANK);
  Shape sh = {.rank = v->sh.rank + 1};
  sh.d[0] = (Dim){s->y[m].n, 0};
  for (int i = 0; i < v->sh.rank; i++) sh.d[i + 1] = v->sh.d[i];
  int64_t oa[MAX_RANK] = {s->id, s->nc + m};
  s->y[m].out = node_intern(OP_SCANOUT, v->dt, sh, &s->node, 1, oa, 0, 0, -1, NULL, graph_loc());
}

Scan *scan_new(int64_t T, bool reverse, ScanCarry *c, int nc, ScanSeq *sq, int ns, ScanStep *y, int ny, bool save) {
  Scan *s = arena_alloc(sizeof *s);
  s->id = nscans;
  s->T = T;
  s->reverse = reverse;
  s->nc = nc;
  s->c = arena_alloc(sizeof *s->c * (size_t)(nc + 1));
  if (nc) memcpy(s->c, c, sizeof *c * (size_t)nc);
  s->ns = ns;
  s->s = arena_alloc(sizeof *s->s * (size_t)(ns + 1));
  if (ns) memcpy(s->s, sq, sizeof *sq * (size_t)ns);
  s->ny = ny + (save ? nc : 0);
  s->y = arena_alloc(sizeof *s->y * (size_t)(s->ny + 1));
  if (ny) memcpy(s->y, y, sizeof *y * (size_t)ny);
  s->saved = arena_alloc(sizeof(int) * (size_t)(nc + 1));
  for (int k = 0; k < nc; k++) {
    s->saved[k] = -1;
    if (save) {
      s->saved[k] = ny + k;
      s->y[ny + k] = (ScanStep){.val = c[k].var, .n = T, .base = 0, .delta = 1};
    }
  }
  PUSH(scans, nscans, capscans, s);
  /* the inputs: every value from before the loop the scan reads */
  Dep d = dep_new(s);
  Node **in = NULL;
  int nin = 0, capin = 0;
  for (int k = 0; k < nc; k++) add_input(&in, &nin, &capin, s->c[k].init);
  for (int j = 0; j < ns; j++) add_input(&in, &nin, &capin, s->s[j].x);
  Kernel tmp;
  body_nodes(s, &tmp);
  int cap = graph_node_count() + 1;
  char *isfree = arena_alloc(cap);
  Node **fr = NULL;
  int nfr = 0, capfr = 0;
  for (int i = 0; i < tmp.nsched; i++)
    for (int j = 0; j < tmp.sched[i]->nin; j++) {
      Node *x = tmp.sched[i]->in[j];
      if (x->op == OP_CONST || dep_of(&d, x) || isfree[x->id]) continue;
      isfree[x->id] = 1;
      PUSH(fr, nfr, capfr, x);
    }
  for (int o = 0; o < tmp.nouts; o++) {
    Node *x = tmp.outs[o].node;
    if (x->op == OP_CONST || dep_of(&d, x) || isfree[x->id]) continue;
    isfree[x->id] = 1;
    PUSH(fr, nfr, capfr, x);
  }
  s->free = fr;
  s->nfree = nfr;
  for (int i = 0; i < nfr; i++) add_input(&in, &nin, &capin, fr[i]);
  int64_t ia[MAX_RANK] = {s->id, T, reverse};
  s->node = node_intern(OP_SCAN, DT_F32, shape_scalar(), in, nin, ia, 0, 0, -1, NULL, graph_loc());
  for (int k = 0; k < nc; k++) {
    int64_t oa[MAX_RANK] = {s->id, k};
    s->c[k].out = node_intern(OP_SCANOUT, s->c[k].var->dt, s->c[k].var->sh, &s->node, 1, oa, 0, 0, -1, NULL, graph_loc());
  }
  for (int m = 0; m < s->ny; m++) step_out(s, m);
  return s;
}

static int64_t round64(int64_t x) { return (x + 63) & ~(int64_t)63; }

void scan_prepare(Scan *s) {
  if (s->prepared) return;
  s->prepared = true;
  Kernel *k = &s->body;
  memset(k, 0, sizeof *k);
  k->name = arena_printf("scan%d", s->id);
  for (int c = 0; c < s->nc; c++) kernel_add_out(k, s->c[c].next, -1, arena_printf("carry %d", c));
  for (int m = 0; m < s->ny; m++) kernel_add_out(k, s->y[m].val, -1, arena_printf("step %d", m));
  body_schedule(s, k);
  fuse_kernel(k, true);
  k->place = NULL; /* a step's values stay in buffers of their own (codegen's body_buf) */
  k->place_col = NULL;
  memplan_kernel(k);
  /* the sequences' slices of the step: buffers of the body's own, after its plan */
  MemPlan *mp = k->plan;
  for (int j = 0; j < s->ns; j++) {
    Node *v = s->s[j].var;
    Dim n = shape_numel(&v->sh);
    int64_t size = round64(n.k * dtype_bytes(v->dt));
    if (n.b) { mp->arena[v->id] = 1; mp->off[v->id] = mp->totalB; mp->totalB += size; }
    else { mp->arena[v->id] = 2; mp->off[v->id] = mp->total0; mp->total0 += size; }
    mp->size[v->id] = size;
  }
}

/* ---- the derivative ------------------------------------------------------ */

/* The adjoint of a sequence from its backward scan's stacked output y
 * [N, ...slice] (a length-1 slice along the sequence's axis): y with its
 * leading axis moved to that axis, padded to the sequence's shape. */
static Node *unstack(Node *y, const ScanSeq *q) {
  Shape r = {0};
  r.d[r.rank++] = y->sh.d[0];
  for (int i = 0; i < q->slice.rank; i++)
    if (i != q->axis) r.d[r.rank++] = q->slice.d[i];
  Node *a = g_reshape(y, r);
  int64_t perm[MAX_RANK] = {0};
  for (int i = 0; i < q->slice.rank; i++) perm[i] = i < q->axis ? i + 1 : i == q->axis ? 0 : i;
  a = g_transpose(a, perm);
  if (shape_eq(&a->sh, &q->x->sh)) return a;
  int64_t start[MAX_RANK] = {0};
  for (int i = 0; i < q->slice.rank; i++) start[i] = i == q->axis ? 0 : q->start[i];
  return g_pad(a, start, q->x->sh);
}

static Node *zero_like(const Node *n) { return g_const(0, 0, n->dt, n->sh); }

static Shape lead1(const Shape *s) {
  Shape r = {.rank = s->rank + 1};
  r.d[0] = (Dim){1, 0};
  for (int i = 0; i < s->rank; i++) r.d[i + 1] = s->d[i];
  return r;
}

/* The backward body reads values of the forward step (the gates of an
 * LSTM).  It recomputes the cheap ones from the saved carries; a matrix
 * product it would recompute is saved instead: a per-step output of the
 * forward scan, read back as a sequence (one product a step fewer, the
 * memory of one [T, ...] value).  Remat walks the backward results and
 * puts a var in place of each such product. */
typedef struct Remat {
  Scan *f;
  const char *fwd;  /* by id: a node of the forward body */
  Node **memo;
  int first, cap;
  ScanSeq *s2;
  int *ns2;
} Remat;

static Node *remat(Remat *r, Node *n) {
  if (!n || n->id < r->first || n->id >= r->cap) return n;
  if (r->memo[n->id]) return r->memo[n->id];
  Node *out = n;
  if (r->fwd[n->id] && n->op == OP_MATMUL) {
    Scan *f = r->f;
    ScanStep *y = arena_alloc(sizeof *y * (size_t)(f->ny + 2));
    memcpy(y, f->y, sizeof *y * (size_t)f->ny);
    y[f->ny] = (ScanStep){.val = n, .n = f->T, .base = 0, .delta = 1, .product = true};
    f->y = y;
    step_out(f, f->ny++);
    out = g_scanvar(n->dt, n->sh);
    r->s2[(*r->ns2)++] = (ScanSeq){.x = y[f->ny - 1].out, .var = out, .axis = 0, .delta = 1, .slice = lead1(&n->sh)};
  } else if (n->nin) {
    Node **in = arena_alloc(sizeof(Node *) * (size_t)(n->nin + 1));
    bool changed = false;
    for (int j = 0; j < n->nin; j++) {
      in[j] = remat(r, n->in[j]);
      changed = changed || in[j] != n->in[j];
    }
    if (changed) out = node_intern(n->op, n->dt, n->sh, in, n->nin, n->ia, n->fv, n->bpow, n->slot, n->name, n->loc);
  }
  r->memo[n->id] = out;
  return out;
}

/* A free variable's gradient that is a product over the batch of two
 * per-step values, a^T b (a weight's, x^T dz), summed over the steps: one
 * product after the loop over all of them, [T*B, k]^T [T*B, n], instead of
 * T small ones, each read and added to a [k, n] sum.  Likewise a sum over
 * the batch rows (a bias's): one sum over all T*B rows.  The stacked a and b:
 * a sequence the backward scan reads whole, or a per-step output of it
 * (one it has already, or a new one). */
typedef struct Stacked { Node *x; int y; } Stacked; /* x, or the output y (after the scan is built) */

static Stacked stacked(Node *v, int64_t T, ScanSeq *s2, int ns2, ScanStep *y2, int *ny2) {
  for (int j = 0; j < ns2; j++) {
    const ScanSeq *q = &s2[j];
    if (q->var != v || q->axis != 0 || q->delta != 1 || q->x->sh.d[0].k != T || q->x->sh.d[0].b) continue;
    bool whole = q->x->sh.rank == v->sh.rank + 1;
    for (int i = 0; i < q->slice.rank && whole; i++) whole = q->start[i] == 0 && (i == 0 || (q->x->sh.d[i].k == q->slice.d[i].k && q->x->sh.d[i].b == q->slice.d[i].b));
    if (whole) return (Stacked){q->x, -1};
  }
  for (int m = 0; m < *ny2; m++) {
    const ScanStep *st = &y2[m];
    if (st->n == T && st->base == 0 && st->delta == 1 && (st->val == v || (st->val->op == OP_RESHAPE && st->val->in[0] == v)))
      return (Stacked){NULL, m};
  }
  y2[*ny2] = (ScanStep){.val = v, .n = T, .base = 0, .delta = 1};
  return (Stacked){NULL, (*ny2)++};
}

static Node *flat_steps(Stacked s, const Scan *b, const Node *v) {
  Node *x = s.x ? s.x : b->y[s.y].out;
  Shape r = {.rank = 2};
  r.d[0] = (Dim){b->T * v->sh.d[0].k, v->sh.d[0].b};
  r.d[1] = v->sh.d[1];
  return g_reshape(x, r);
}

void scan_grad(Node *node, Node **gout, Node **d) {
  Scan *f = scan_of(node);
  int nc = f->nc, ns = f->ns, ny = f->ny, nfree = f->nfree;
  int nout = nc + ny, nwrt = nc + ns + nfree;
  Node **outs = arena_alloc(sizeof(Node *) * (size_t)(nout + 1)), **seeds = arena_alloc(sizeof(Node *) * (size_t)(nout + 1));
  Node **wrt = arena_alloc(sizeof(Node *) * (size_t)(nwrt + 1)), **res = arena_alloc(sizeof(Node *) * (size_t)(nwrt + 1));
  ScanCarry *c2 = arena_alloc(sizeof *c2 * (size_t)(nc + nfree + 1));
  /* the forward body's nodes; its products bound those saved (each a sequence of the backward scan) */
  Kernel fk;
  body_nodes(f, &fk);
  int nmm = 0;
  for (int i = 0; i < fk.nsched; i++) nmm += fk.sched[i]->op == OP_MATMUL;
  ScanSeq *s2 = arena_alloc(sizeof *s2 * (size_t)(nc + ns + ny + nmm + 1));
  ScanStep *y2 = arena_alloc(sizeof *y2 * (size_t)(ns + 2 * nfree + 1));
  int ns2 = 0, ny2 = 0, nc2 = 0;
  /* the adjoints of the carries' next values: the backward scan's carries */
  for (int k = 0; k < nc; k++) {
    c2[k].var = g_scanvar(f->c[k].var->dt, f->c[k].var->sh);
    c2[k].init = gout[k];
    outs[k] = f->c[k].next;
    seeds[k] = c2[k].var;
  }
  /* the step's inputs: each carry's saved value, each sequence's slice */
  for (int k = 0; k < nc; k++) {
    nnc_assert(f->saved[k] >= 0);
    const ScanStep *sv = &f->y[f->saved[k]];
    ScanSeq q = {.x = sv->out, .var = f->c[k].var, .axis = 0, .delta = sv->delta, .slice = lead1(&f->c[k].var->sh)};
    q.start[0] = sv->base;
    s2[ns2++] = q;
  }
  for (int j = 0; j < ns; j++) s2[ns2++] = f->s[j];
  /* the adjoints of the per-step values, a slice each */
  for (int m = 0; m < ny; m++) {
    outs[nc + m] = f->y[m].val;
    seeds[nc + m] = NULL;
    if (!gout[nc + m]) continue;
    Node *r = g_scanvar(f->y[m].val->dt, f->y[m].val->sh);
    ScanSeq q = {.x = gout[nc + m], .var = r, .axis = 0, .delta = f->y[m].delta, .slice = lead1(&r->sh)};
    q.start[0] = f->y[m].base;
    s2[ns2++] = q;
    seeds[nc + m] = r;
  }
  for (int k = 0; k < nc; k++) wrt[k] = f->c[k].var;
  for (int j = 0; j < ns; j++) wrt[nc + j] = f->s[j].var;
  for (int i = 0; i < nfree; i++) wrt[nc + ns + i] = f->free[i];
  grad_walk(outs, seeds, nout, wrt, nwrt, res);
  /* the forward body's products the backward one reads: saved, not recomputed */
  if (scan_remat && nmm) {
    int cap = graph_node_count() + 1;
    char *fwd = arena_alloc(cap);
    Remat r = {.f = f, .fwd = fwd, .memo = arena_alloc(sizeof(Node *) * cap), .first = cap, .cap = cap, .s2 = s2, .ns2 = &ns2};
    for (int i = 0; i < fk.nsched; i++) {
      fwd[fk.sched[i]->id] = 1;
      if (fk.sched[i]->op == OP_SCANVAR && fk.sched[i]->id < r.first) r.first = fk.sched[i]->id;
    }
    nnc_assert(!f->prepared);
    for (int i = 0; i < nwrt; i++) res[i] = remat(&r, res[i]);
  }
  for (int k = 0; k < nc; k++) c2[k].next = res[k] ? res[k] : zero_like(f->c[k].var);
  nc2 = nc;
  int *acc = arena_alloc(sizeof(int) * (size_t)(nfree + 1)), *step = arena_alloc(sizeof(int) * (size_t)(ns + 1));
  for (int j = 0; j < ns; j++) {
    step[j] = -1;
    Node *g = res[nc + j];
    if (!g) continue;
    const ScanSeq *q = &f->s[j];
    y2[ny2] = (ScanStep){.val = g, .n = q->x->sh.d[q->axis].k, .base = q->start[q->axis], .delta = q->delta};
    step[j] = ny2++;
  }
  Stacked *ha = arena_alloc(sizeof *ha * (size_t)(nfree + 1)), *hb = arena_alloc(sizeof *hb * (size_t)(nfree + 1));
  Scan vars = {.c = c2, .nc = nc, .s = s2, .ns = ns2};
  Dep dv = dep_new(&vars);
  for (int i = 0; i < nfree; i++) {
    acc[i] = -1;
    Node *g = res[nc + ns + i];
    if (!g) continue;
    if (scan_hoist && g->op == OP_MATMUL && g->ia[0] == 1 && g->ia[1] == 0 && g->in[0]->sh.rank == 2 &&
        g->in[1]->sh.rank == 2 && dep_of(&dv, g->in[0]) && dep_of(&dv, g->in[1])) {
      ha[i] = stacked(g->in[0], f->T, s2, ns2, y2, &ny2);
      hb[i] = stacked(g->in[1], f->T, s2, ns2, y2, &ny2);
      acc[i] = -2;
      continue;
    }
    Node *r = g->op == OP_RESHAPE ? g->in[0] : g; /* a bias's: the sum over the batch rows */
    if (scan_hoist && r->op == OP_SUM && r->ia[0] == 1 && r->in[0]->sh.rank == 2 && dep_of(&dv, r->in[0])) {
      ha[i] = stacked(r->in[0], f->T, s2, ns2, y2, &ny2);
      acc[i] = -3;
      continue;
    }
    Node *a = g_scanvar(f->free[i]->dt, f->free[i]->sh);
    c2[nc2] = (ScanCarry){.init = NULL, .var = a, .next = g_binary(OP_ADD, a, g)};
    acc[i] = nc2++;
  }
  { /* a sequence the body no longer reads (a saved carry only the products read) is not sliced */
    Scan body = {.c = c2, .nc = nc2, .s = s2, .ns = ns2, .y = y2, .ny = ny2};
    Kernel bk;
    body_nodes(&body, &bk);
    char *used = arena_alloc(graph_node_count() + 1);
    for (int i = 0; i < bk.nsched; i++) used[bk.sched[i]->id] = 1;
    int n = 0;
    for (int j = 0; j < ns2; j++)
      if (used[s2[j].var->id]) s2[n++] = s2[j];
    ns2 = n;
  }
  Scan *b = scan_new(f->T, !f->reverse, c2, nc2, s2, ns2, y2, ny2, false);
  Node **hoisted = arena_alloc(sizeof(Node *) * (size_t)(nfree + 1));
  for (int i = 0; i < nfree; i++)
    if (acc[i] == -2) {
      Node *g = res[nc + ns + i];
      hoisted[i] = g_matmul(flat_steps(ha[i], b, g->in[0]), flat_steps(hb[i], b, g->in[1]), 1, 0);
    } else if (acc[i] == -3) {
      Node *g = res[nc + ns + i], *r = g->op == OP_RESHAPE ? g->in[0] : g;
      hoisted[i] = g_reshape(g_reduce(OP_SUM, flat_steps(ha[i], b, r->in[0]), 1), g->sh);
    }
  for (int i = 0; i < node->nin; i++) {
    Node *x = node->in[i], *sum = NULL;
    for (int k = 0; k < nc; k++)
      if (f->c[k].init == x) sum = sum ? g_binary(OP_ADD, sum, b->c[k].out) : b->c[k].out;
    for (int j = 0; j < ns; j++)
      if (f->s[j].x == x && step[j] >= 0) {
        Node *u = unstack(b->y[step[j]].out, &f->s[j]);
        sum = sum ? g_binary(OP_ADD, sum, u) : u;
      }
    for (int q = 0; q < nfree; q++) {
      Node *g = f->free[q] != x ? NULL : acc[q] >= 0 ? b->c[acc[q]].out : acc[q] <= -2 ? hoisted[q] : NULL;
      if (g) sum = sum ? g_binary(OP_ADD, sum, g) : g;
    }
    d[i] = sum;
  }
}

/* ---- stack of a collected list ------------------------------------------- */

Node *scan_stack(Node **items, int n, int axis) {
  Node *y = NULL;
  for (int i = 0; i < n; i++) {
    Node *r = items[i];
    if (r->op != OP_RESHAPE || r->in[0]->op != OP_SLICE) return NULL;
    Node *sl = r->in[0], *src = sl->in[0];
    if (src->op != OP_SCANOUT || (y && src != y)) return NULL;
    y = src;
    if (sl->ia[0] != i || sl->sh.d[0].k != 1) return NULL;
    for (int d = 1; d < sl->sh.rank; d++)
      if (sl->ia[d] != 0 || !(sl->sh.d[d].k == src->sh.d[d].k && sl->sh.d[d].b == src->sh.d[d].b)) return NULL;
  }
  if (!y || y->sh.d[0].k != n || axis < 0 || axis >= y->sh.rank) return NULL;
  if (axis == 0) return y;
  int64_t perm[MAX_RANK] = {0};
  for (int i = 0; i < y->sh.rank; i++) perm[i] = i < axis ? i + 1 : i == axis ? 0 : i;
  return g_transpose(y, perm);
}

/* ---- printing -------------------------------------------------------------- */

void scan_print(const Scan *s, FILE *out, const char *ind) {
  Kernel k = s->body;
  if (!s->prepared) body_nodes((Scan *)s, &k);
  fprintf(out, "%sscan%d: for t in %s0..%lld {\n", ind, s->id, s->reverse ? "reversed " : "", (long long)s->T);
  for (int c = 0; c < s->nc; c++) {
    fprintf(out, "%s  carry %%%d = ", ind, s->c[c].var->id);
    if (s->c[c].init) fprintf(out, "%%%d", s->c[c].init->id);
    else fprintf(out, "0");
    fprintf(out, " then %%%d; final -> %%%d\n", s->c[c].next->id, s->c[c].out->id);
  }
  for (int j = 0; j < s->ns; j++) {
    const ScanSeq *q = &s->s[j];
    fprintf(out, "%s  slice %%%d = %%%d[", ind, q->var->id, q->x->id);
    for (int i = 0; i < q->slice.rank; i++) {
      if (i) fprintf(out, ", ");
      if (i == q->axis) {
        if (q->start[i]) fprintf(out, "%lld + ", (long long)q->start[i]);
        if (q->delta == 1) fprintf(out, "t");
        else fprintf(out, "%lld*t", (long long)q->delta);
      } else if (q->slice.d[i].b != q->x->sh.d[i].b || q->slice.d[i].k != q->x->sh.d[i].k) {
        fprintf(out, "%lld:+%s", (long long)q->start[i], dim_str(q->slice.d[i]));
      } else {
        fprintf(out, ":");
      }
    }
    fprintf(out, "]\n");
  }
  for (int m = 0; m < s->ny; m++) {
    const ScanStep *y = &s->y[m];
    bool saved = false;
    for (int c = 0; c < s->nc; c++) saved = saved || s->saved[c] == m;
    fprintf(out, "%s  %%%d[", ind, y->out->id);
    if (y->base) fprintf(out, "%lld + ", (long long)y->base);
    if (y->delta == 1) fprintf(out, "t");
    else fprintf(out, "%lld*t", (long long)y->delta);
    fprintf(out, "] = %%%d%s\n", y->val->id,
            saved ? " (saved for the backward loop)" : y->product ? " (a product saved for the backward loop)" : "");
  }
  for (int i = 0; i < k.nsched; i++) {
    if (k.sched[i]->op == OP_CONST) continue;
    fprintf(out, "%s  ", ind);
    node_print(k.sched[i], out);
  }
  fprintf(out, "%s}\n", ind);
}

void scan_print_kernel(const Kernel *k, FILE *out) {
  for (int i = 0; i < k->nsched; i++)
    if (k->sched[i]->op == OP_SCAN) scan_print(scan_of(k->sched[i]), out, "  ");
}

/* "saved for the backward loop: WHAT, every step, in %out [shape] (bytes at B = batch)" */
static void print_saved(FILE *out, const char *what, const Node *o, int64_t batch) {
  Dim d = shape_numel(&o->sh);
  int64_t bytes = d.k * dtype_bytes(o->dt);
  for (int b = 0; b < d.b; b++) bytes *= batch;
  fprintf(out, "    saved for the backward loop: %s, every step, in %%%d %s (%lld bytes at B = %lld)\n", what, o->id,
          shape_str(&o->sh), (long long)bytes, (long long)batch);
}

void scan_memplan_print(const Kernel *k, int64_t batch, FILE *out) {
  for (int i = 0; i < k->nsched; i++) {
    const Node *n = k->sched[i];
    if (n->op != OP_SCAN) continue;
    const Scan *s = scan_of(n);
    const MemPlan *bp = s->body.plan;
    fprintf(out, "  scan%d (%%%d, %lld steps%s): body workspace %lld*B + %lld bytes, at %lld*B and at %lld*B + %lld\n", s->id,
            n->id, (long long)s->T, s->reverse ? ", reversed" : "", (long long)bp->totalB, (long long)bp->total0,
            (long long)k->plan->scan_atB[n->id], (long long)k->plan->totalB, (long long)k->plan->scan_at0[n->id]);
    for (int c = 0; c < s->nc; c++)
      if (s->saved[c] >= 0) print_saved(out, arena_printf("carry %%%d", s->c[c].var->id), s->y[s->saved[c]].out, batch);
    for (int m = 0; m < s->ny; m++)
      if (s->y[m].product) print_saved(out, arena_printf("the product %%%d", s->y[m].val->id), s->y[m].out, batch);
  }
}
