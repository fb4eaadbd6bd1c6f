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
 * Not done: sizes with B² (they never arise from the current ops) and
 * in-place reuse of a dying input by its element-wise consumer.
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

void memplan_kernel(Kernel *k) {
  int cap = graph_node_count() + 1;
  MemPlan *mp = arena_alloc(sizeof *mp);
  mp->arena = arena_alloc(cap);
  mp->off = arena_alloc(sizeof(int64_t) * cap);
  mp->first = arena_alloc(sizeof(int) * cap);
  mp->last = arena_alloc(sizeof(int) * cap);
  mp->size = arena_alloc(sizeof(int64_t) * cap);
  int *def = arena_alloc(sizeof(int) * cap), *last = arena_alloc(sizeof(int) * cap);
  char *in_slot = arena_alloc(cap);
  for (int i = 0; i < cap; i++) def[i] = last[i] = -1;
  /* a row nest's groups run interleaved, row by row: every value one of
   * them writes or reads lives from the nest's first group to its last */
  int *reach = arena_alloc(sizeof(int) * (k->ngroups + 1)); /* by group: its nest's last group */
  for (int g = 0; g < k->ngroups; g++) {
    int lo, hi;
    nest_range(k, g, &lo, &hi);
    reach[g] = hi;
    for (int j = 0; j < k->groups[g].n; j++) def[k->groups[g].nodes[j]->id] = lo;
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
    root[n->id] = alias ? root[n->in[0]->id] : n;
    if (def[n->id] >= 0) cur = reach[def[n->id]];
    for (int j = 0; j < n->nin; j++) {
      Node *r = root[n->in[j]->id];
      if (r && last[r->id] < cur) last[r->id] = cur;
    }
  }
  for (int i = 0; i < k->nouts; i++) /* copied at the end (a scan body's output may be from outside it) */
    if (root[k->outs[i].node->id]) last[root[k->outs[i].node->id]->id] = k->ngroups;
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
  for (int i = 0; i < nreq; i++) {
    Node *n = req[i].n;
    int64_t size = req[i].size;
    mp->first[n->id] = req[i].start;
    mp->last[n->id] = req[i].end;
    mp->size[n->id] = size;
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
    if (!mp->arena[n->id]) continue;
    if (mp->arena[n->id] == 1)
      fprintf(out, "  %%%-4d %-12s %-18s at %lld*B\n", n->id, op_info[n->op].name, shape_str(&n->sh), (long long)mp->off[n->id]);
    else
      fprintf(out, "  %%%-4d %-12s %-18s at %lld*B + %lld\n", n->id, op_info[n->op].name, shape_str(&n->sh),
              (long long)mp->totalB, (long long)mp->off[n->id]);
  }
  scan_memplan_print(k, batch, out);
  fprintf(out, "  planned: %lld*B + %lld bytes; naive (one buffer each): %lld*B + %lld bytes\n", (long long)mp->totalB,
          (long long)mp->total0, (long long)mp->naiveB, (long long)mp->naive0);
  fprintf(out, "  at B = %lld: planned %lld bytes, naive %lld bytes\n", (long long)batch,
          (long long)(mp->totalB * batch + mp->total0), (long long)(mp->naiveB * batch + mp->naive0));
}
