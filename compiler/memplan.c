/*
 * memplan.c — buffer lifetimes over a kernel's groups, packed into one
 * scratch block.
 *
 * Every value that fusion leaves in memory (and is not a leaf, a slot or an
 * alias) gets an offset.  Sizes are k·B bytes or k bytes, B being the batch
 * of the call, so the block has two arenas: the batch arena first, where a
 * buffer of k·B bytes sits at o·B, then the fixed arena at (total_B)·B + o.
 * Each arena is packed first-fit by lifetime: a buffer defined in group g
 * can reuse the bytes of one whose last reader ran before g.  All offsets
 * stay multiples of 64 bytes for any B.
 *
 * In place: a value takes the bytes of an input that dies where it is made
 * (in_place_input): an element-wise member of a fused loop whose every read
 * of that input is at the loop's own element (same shape, directly or
 * through a free reshape, no view), or a softmax alone (each row read whole
 * before it is written).  Each element is read before it is written, by
 * the same thread, on the CPU (one pass, rows or columns split over the
 * team) and on the GPU (one thread per element, reduced output or row).
 * Inside a row nest the input must die at this group, not merely in the
 * nest: the nest works row by row, so no later group of it may read the row
 * this one writes over.  A relu's gradient, a sum of two gradients, a layer
 * norm's deviation then write over the bytes they read instead of dragging
 * a fresh buffer through the caches.
 *
 * Not done: sizes with B² (they never arise from the current ops).
 */
#include "nnc.h"
#include <string.h>

typedef struct Block { int64_t off, size; int end; } Block;

static int64_t round64(int64_t x) { return (x + 63) & ~(int64_t)63; }

/* Sums of buffer sizes saturate at INT64_MAX: each buffer is below 2^53
 * bytes (graph.h's NNC_MAX_ELEMS), but many of them are not; the kernel's
 * total is checked against 2^62 once placed. */
static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static size_t elem(const Node *n) {
  size_t e = (size_t)dtype_bytes(n->dt);
  if (n->op == OP_MAXPOOL || n->op == OP_POOLIDX) e = 16; /* values (up to 8 bytes) and indices, either first */
  return e;
}

/* First fit among the live blocks of one arena (kept sorted by offset). */
static int64_t place(Block *live, int *nlive, int64_t size, int def, int end) {
  int w = 0;
  for (int i = 0; i < *nlive; i++)
    if (live[i].end >= def) live[w++] = live[i]; /* still read: keep */
  *nlive = w;
  int64_t at = 0;
  int pos = 0;
  for (; pos < *nlive; pos++) {
    if (live[pos].off - at >= size) break;
    if (sat_add(live[pos].off, live[pos].size) > at) at = sat_add(live[pos].off, live[pos].size);
  }
  memmove(&live[pos + 1], &live[pos], sizeof(Block) * (*nlive - pos));
  live[pos] = (Block){at, size, end};
  (*nlive)++;
  return at;
}

/* Group g's input r, read only at the loop's own element (see above)? */
static bool read_pointwise(const Kernel *k, const Group *g, const Node *r, Node *const *root) {
  bool any = false;
  for (int i = 0; i < g->n; i++) {
    const Node *m = g->nodes[i];
    if (m == r) return false;
    for (int j = 0; j < m->nin; j++) {
      const Node *x = m->in[j];
      if (root[x->id] != r) continue;
      for (const Node *y = x; y != r; y = y->in[0])
        if (y->op != OP_RESHAPE || (k->view && k->view[y->id])) return false;
      if (!shape_eq(&x->sh, &g->space)) return false;
      any = true;
    }
  }
  return any;
}

/* An input of group g whose bytes n may take: n an element-wise member of
 * the fused loop g, or g a softmax alone (each row read whole before its
 * first element is written); g the input's last reader (inside a row nest,
 * the last of the nest's groups to read it: the nest works row by row, and
 * nothing after g reads the row g writes over); the same arena, size and
 * element type; not taken yet. */
static Node *in_place_input(const Kernel *k, const MemPlan *mp, int g_at, const Node *n, Node *const *root,
                            const int *lastg, const char *taken) {
  const Group *g = &k->groups[g_at];
  bool row = !g->fused && g->n == 1 && (n->op == OP_SOFTMAX || n->op == OP_LOG_SOFTMAX);
  if (!(row || (g->fused && op_info[n->op].kind == OK_EWISE)) || !shape_eq(&n->sh, &g->space)) return NULL;
  for (int i = 0; i < g->n && !row; i++) {
    OpKind kd = op_info[g->nodes[i]->op].kind;
    if (!(kd == OK_EWISE || (kd == OK_REDUCE && i == g->n - 1 && g->closed))) return NULL;
  }
  for (int i = 0; i < g->n; i++)
    for (int j = 0; j < g->nodes[i]->nin; j++) {
      Node *r = root[g->nodes[i]->in[j]->id];
      if (!r || taken[r->id] || !mp->arena[r->id] || lastg[r->id] != g_at || r->dt != n->dt) continue;
      if (mp->arena[r->id] != (shape_numel(&n->sh).b == 0 ? 2 : 1)) continue;
      if (read_pointwise(k, g, r, root)) return r;
    }
  return NULL;
}

static bool in_place_on = true;
void memplan_in_place(bool on) { in_place_on = on; }

void memplan_kernel(Kernel *k) {
  int cap = graph_node_count() + 1;
  MemPlan *mp = arena_alloc(sizeof *mp);
  mp->arena = arena_alloc(cap);
  mp->off = arena_alloc(sizeof(int64_t) * cap);
  mp->first = arena_alloc(sizeof(int) * cap);
  mp->last = arena_alloc(sizeof(int) * cap);
  mp->size = arena_alloc(sizeof(int64_t) * cap);
  mp->took = arena_alloc(sizeof(int) * cap);
  for (int i = 0; i < cap; i++) mp->took[i] = -1;
  int *def = arena_alloc(sizeof(int) * cap), *last = arena_alloc(sizeof(int) * cap);
  int *gof = arena_alloc(sizeof(int) * cap), *lastg = arena_alloc(sizeof(int) * cap); /* without the nests' reach */
  char *in_slot = arena_alloc(cap);
  for (int i = 0; i < cap; i++) def[i] = last[i] = gof[i] = lastg[i] = -1;
  /* a row nest's groups run interleaved, row by row: every value one of
   * them writes or reads lives from the nest's first group to its last */
  int *reach = arena_alloc(sizeof(int) * (k->ngroups + 1)); /* by group: its nest's last group */
  for (int g = 0; g < k->ngroups; g++) {
    int lo, hi;
    nest_range(k, g, &lo, &hi);
    reach[g] = hi;
    for (int j = 0; j < k->groups[g].n; j++) def[k->groups[g].nodes[j]->id] = lo, gof[k->groups[g].nodes[j]->id] = g;
  }
  /* a value placed in a concat (fuse.c) is written from its writer's group
   * on: a batched product's, for the transpose it writes (codegen's
   * plan_batch_out), else its own */
  if (k->place)
    for (int i = 0; i < k->nsched; i++) {
      Node *v = k->sched[i];
      const Node *r = place_root(k, v, NULL);
      if (!r) continue;
      const Node *w = v->op == OP_TRANSPOSE && v->in[0]->op == OP_MATMUL && v->in[0]->sh.rank > 2 ? v->in[0] : v;
      if (def[w->id] >= 0 && def[w->id] < def[r->id]) def[r->id] = def[w->id];
    }
  /* outputs computed in place live in their slot (codegen's rule) */
  int *out_slot = kernel_out_slots(k);
  for (int i = 0; i < cap; i++) in_slot[i] = out_slot[i] >= 0;
  /* a reshape aliases its input, a view reads it in place: their uses are
   * uses of the root */
  Node **root = arena_alloc(sizeof(Node *) * cap);
  int cur = 0;
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    bool alias = (n->op == OP_RESHAPE && n->in[0]->op != OP_CONST) || (k->view && k->view[n->id]);
    const Node *host = place_root(k, n, NULL);
    root[n->id] = host ? (Node *)host : alias ? root[n->in[0]->id] : n;
    if (gof[n->id] >= 0) cur = reach[gof[n->id]]; /* (not def: a concat's starts at its first placed writer) */
    int gn = gof[n->id] >= 0 ? gof[n->id] : alias ? -1 : k->ngroups; /* (an alias: its readers count) */
    for (int j = 0; j < n->nin; j++) {
      Node *r = root[n->in[j]->id];
      if (r && last[r->id] < cur) last[r->id] = cur;
      if (r && gn > lastg[r->id]) lastg[r->id] = gn;
    }
  }
  for (int i = 0; i < k->nouts; i++) /* copied at the end (a scan body's output may be from outside it) */
    if (root[k->outs[i].node->id]) last[root[k->outs[i].node->id]->id] = lastg[root[k->outs[i].node->id]->id] = k->ngroups;
  /* the buffers, placed in order of definition (materialised constants are
   * written when the kernel starts, so they come first) */
  typedef struct Req { Node *n; int start, end; int64_t size; } Req;
  Req *req = arena_alloc(sizeof(Req) * (k->nsched + 1));
  int nreq = 0;
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    bool materialised_const = n->op == OP_CONST && k->needs_mem && k->needs_mem[n->id];
    if ((op_info[n->op].kind == OK_LEAF && !materialised_const) || n->op == OP_SCAN) continue;
    if (n->op == OP_RESHAPE && n->in[0]->op != OP_CONST) continue;
    if (k->view && k->view[n->id]) continue;
    if (k->place && k->place[n->id]) continue; /* in its concat's buffer */
    if (in_slot[n->id] || (k->stored && !materialised_const && !k->stored[n->id])) continue;
    int start = materialised_const ? 0 : def[n->id], end = materialised_const ? k->ngroups : last[n->id];
    if (end < start) end = start; /* computed and never read: still written */
    Dim d = shape_numel(&n->sh);
    if (d.b > 1) nnc_unreachable("%%%d: a buffer of %s elements is not planned", n->id, dim_str(d));
    req[nreq++] = (Req){n, start, end, round64(d.k * (int64_t)elem(n))};
  }
  for (int i = 1; i < nreq; i++) /* stable insertion sort by start */
    for (int j = i; j > 0 && req[j - 1].start > req[j].start; j--) {
      Req t = req[j];
      req[j] = req[j - 1];
      req[j - 1] = t;
    }
  Block *liveB = arena_alloc(sizeof(Block) * (nreq + 1)), *live0 = arena_alloc(sizeof(Block) * (nreq + 1));
  int nB = 0, n0 = 0;
  char *taken = arena_alloc(cap);
  for (int i = 0; i < nreq; i++) {
    Node *n = req[i].n;
    int64_t size = req[i].size;
    mp->first[n->id] = req[i].start;
    mp->last[n->id] = req[i].end;
    mp->size[n->id] = size;
    const Node *r = gof[n->id] < 0 || !in_place_on ? NULL : in_place_input(k, mp, gof[n->id], n, root, lastg, taken);
    if (r && mp->size[r->id] == size) { /* in place: r's block is n's from here */
      Block *live = mp->arena[r->id] == 1 ? liveB : live0;
      int nlive = mp->arena[r->id] == 1 ? nB : n0;
      for (int b = 0; b < nlive; b++)
        if (live[b].off == mp->off[r->id] && live[b].end < req[i].end) live[b].end = req[i].end;
      taken[r->id] = 1;
      mp->took[n->id] = r->id;
      mp->arena[n->id] = mp->arena[r->id];
      mp->off[n->id] = mp->off[r->id];
      if (mp->arena[n->id] == 1) mp->naiveB = sat_add(mp->naiveB, size);
      else mp->naive0 = sat_add(mp->naive0, size);
      mp->nbufs++;
      continue;
    }
    if (shape_numel(&n->sh).b == 0) {
      mp->arena[n->id] = 2;
      mp->off[n->id] = place(live0, &n0, size, req[i].start, req[i].end);
      if (sat_add(mp->off[n->id], size) > mp->total0) mp->total0 = sat_add(mp->off[n->id], size);
      mp->naive0 = sat_add(mp->naive0, size);
    } else {
      mp->arena[n->id] = 1;
      mp->off[n->id] = place(liveB, &nB, size, req[i].start, req[i].end);
      if (sat_add(mp->off[n->id], size) > mp->totalB) mp->totalB = sat_add(mp->off[n->id], size);
      mp->naiveB = sat_add(mp->naiveB, size);
    }
    mp->nbufs++;
  }
  /* each scan's body workspace after everything else (its own plan) */
  mp->scan_atB = arena_alloc(sizeof(int64_t) * cap);
  mp->scan_at0 = arena_alloc(sizeof(int64_t) * cap);
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    if (n->op != OP_SCAN) continue;
    Scan *s = scan_of(n);
    scan_prepare(s);
    mp->scan_atB[n->id] = mp->totalB;
    mp->scan_at0[n->id] = mp->total0;
    mp->totalB = sat_add(mp->totalB, s->body.plan->totalB);
    mp->total0 = sat_add(mp->total0, s->body.plan->total0);
    mp->naiveB = sat_add(mp->naiveB, s->body.plan->totalB);
    mp->naive0 = sat_add(mp->naive0, s->body.plan->total0);
  }
  k->plan = mp;
}

void memplan_print(const Kernel *k, int64_t batch, FILE *out) {
  const MemPlan *mp = k->plan;
  fprintf(out, "kernel %s: %d buffers\n", k->name, mp->nbufs);
  for (int i = 0; i < k->nsched; i++) {
    const Node *n = k->sched[i];
    int64_t col;
    const Node *host = place_root(k, n, &col);
    if (host) {
      fprintf(out, "  %%%-4d %-12s %-18s in %%%d from column %lld\n", n->id, op_info[n->op].name, shape_str(&n->sh),
              host->id, (long long)col);
      continue;
    }
    if (!mp->arena[n->id]) continue;
    const char *how = mp->took[n->id] >= 0 ? arena_printf("  (in place of %%%d)", mp->took[n->id]) : "";
    if (mp->arena[n->id] == 1)
      fprintf(out, "  %%%-4d %-12s %-18s at %lld*B%s\n", n->id, op_info[n->op].name, shape_str(&n->sh),
              (long long)mp->off[n->id], how);
    else
      fprintf(out, "  %%%-4d %-12s %-18s at %lld*B + %lld%s\n", n->id, op_info[n->op].name, shape_str(&n->sh),
              (long long)mp->totalB, (long long)mp->off[n->id], how);
  }
  scan_memplan_print(k, batch, out);
  fprintf(out, "  planned: %lld*B + %lld bytes; naive (one buffer each): %lld*B + %lld bytes\n", (long long)mp->totalB,
          (long long)mp->total0, (long long)mp->naiveB, (long long)mp->naive0);
  fprintf(out, "  at B = %lld: planned %lld bytes, naive %lld bytes\n", (long long)batch,
          (long long)(mp->totalB * batch + mp->total0), (long long)(mp->naiveB * batch + mp->naive0));
}
