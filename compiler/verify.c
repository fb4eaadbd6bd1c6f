/*
 * verify.c — IR invariants, checked between passes: a broken invariant is
 * reported (as a compiler bug) where it was made, not three passes later.
 * passes.c runs verify_program after every pass under --verify-each (and
 * always in builds without NDEBUG).
 *
 * What holds after each stage, on every kernel (training, inference and
 * their checked copies once they exist):
 *   lowered    every node reachable from an output: arity matches the op
 *              table; element-wise results have the broadcast shape of
 *              their inputs; reductions keep rank; a node's inputs were
 *              built before it (ids grow); outputs name existing slots
 *   scheduled  + every input of a scheduled node is scheduled before it;
 *              every output is scheduled; no node twice
 *   fused      + the groups are contiguous runs of the schedule, in order,
 *              and cover every non-leaf node at most once; a fused group's
 *              members have its iteration space (a closing reduction reads
 *              it)
 *   planned    + two buffers of one arena whose lifetimes meet never share
 *              a byte; every buffer lies inside its arena's total
 *
 * It reads the IR and never changes it.  The checks are linear in the
 * kernel's size except the memory plan's, which sorts the buffers once.
 */
#include "nnc.h"
#include "../runtime/include/nnrt.h"
#include <stdlib.h>

static void check_node(const Node *n) {
  if (op_info[n->op].arity >= 0 && n->nin != op_info[n->op].arity)
    nnc_unreachable("%%%d (%s) has %d inputs, the op table says %d", n->id, op_info[n->op].name, n->nin,
                    op_info[n->op].arity);
  for (int j = 0; j < n->nin; j++)
    if (n->in[j]->id >= n->id)
      nnc_unreachable("%%%d (%s) reads %%%d, which was built after it", n->id, op_info[n->op].name, n->in[j]->id);
  if (op_info[n->op].kind == OK_EWISE) {
    Shape s = n->in[0]->sh, t;
    for (int j = 1; j < n->nin; j++) {
      if (!shape_broadcast(&s, &n->in[j]->sh, &t)) nnc_unreachable("%%%d: inputs do not broadcast", n->id);
      s = t;
    }
    if (!shape_eq(&s, &n->sh))
      nnc_unreachable("%%%d (%s): shape %s is not the broadcast of its inputs", n->id, op_info[n->op].name,
                      shape_str(&n->sh));
  }
  if (op_info[n->op].kind == OK_REDUCE && n->sh.rank != n->in[0]->sh.rank)
    nnc_unreachable("%%%d: a reduction must keep rank", n->id);
}

/* Every node an output reaches, each checked once (explicit stack: graphs
 * are deep). */
static void verify_lowered(const Program *p, const Kernel *k) {
  int cap = graph_node_count() + 1;
  char *seen = arena_alloc(cap);
  const Node **stack = arena_alloc(sizeof *stack * cap);
  for (int o = 0; o < k->nouts; o++) {
    const KOut *out = &k->outs[o];
    if (out->slot < -1 || out->slot >= p->nslots)
      nnc_unreachable("kernel %s: output %s names slot %d of %d", k->name, out->label, out->slot, p->nslots);
    int sp = 0;
    if (seen[out->node->id]) continue;
    seen[out->node->id] = 1;
    stack[sp++] = out->node;
    while (sp) {
      const Node *n = stack[--sp];
      check_node(n);
      for (int j = 0; j < n->nin; j++)
        if (!seen[n->in[j]->id]) {
          seen[n->in[j]->id] = 1;
          stack[sp++] = n->in[j];
        }
    }
  }
}

void verify_kernel(const Kernel *k) {
  int cap = graph_node_count() + 1;
  char *done = arena_alloc(cap);
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    if (done[n->id]) nnc_unreachable("kernel %s: %%%d is scheduled twice", k->name, n->id);
    check_node(n);
    for (int j = 0; j < n->nin; j++)
      if (!done[n->in[j]->id])
        nnc_unreachable("kernel %s: %%%d uses %%%d before it is computed", k->name, n->id, n->in[j]->id);
    done[n->id] = 1;
  }
  for (int i = 0; i < k->nouts; i++)
    if (!done[k->outs[i].node->id]) nnc_unreachable("kernel %s: output %s is not scheduled", k->name, k->outs[i].label);
}

static void verify_groups(const Kernel *k) {
  int cap = graph_node_count() + 1;
  int *pos = arena_alloc(sizeof(int) * cap);
  char *grouped = arena_alloc(cap);
  for (int i = 0; i < cap; i++) pos[i] = -1;
  for (int i = 0; i < k->nsched; i++) pos[k->sched[i]->id] = i;
  int at = -1;
  for (int g = 0; g < k->ngroups; g++) {
    const Group *gr = &k->groups[g];
    if (gr->n < 1) nnc_unreachable("kernel %s: group %d is empty", k->name, g);
    for (int j = 0; j < gr->n; j++) {
      const Node *n = gr->nodes[j];
      if (pos[n->id] < 0) nnc_unreachable("kernel %s: group %d holds %%%d, which is not scheduled", k->name, g, n->id);
      if (pos[n->id] <= at)
        nnc_unreachable("kernel %s: group %d holds %%%d out of schedule order", k->name, g, n->id);
      if (grouped[n->id]) nnc_unreachable("kernel %s: %%%d is in two groups", k->name, n->id);
      grouped[n->id] = 1;
      at = pos[n->id];
      if (op_info[n->op].kind == OK_LEAF) nnc_unreachable("kernel %s: group %d holds the leaf %%%d", k->name, g, n->id);
      if (gr->fused && gr->n > 1) {
        bool closing = gr->closed && j == gr->n - 1;
        const Shape *s = closing ? &n->in[0]->sh : &n->sh;
        if (!shape_eq(s, &gr->space))
          nnc_unreachable("kernel %s: %%%d (%s) in fused group %d does not run over its space %s", k->name, n->id,
                          op_info[n->op].name, g, shape_str(&gr->space));
      }
    }
  }
}

typedef struct Buf { int id; int64_t off, size; int first, last; } Buf;

static int by_offset(const void *a, const void *b) {
  const Buf *x = a, *y = b;
  return x->off < y->off ? -1 : x->off > y->off ? 1 : x->id - y->id;
}

/* Whether group g reads value r (directly, or through reshapes and views). */
static bool group_reads(const Kernel *k, int g, int r) {
  const Group *gr = &k->groups[g];
  for (int j = 0; j < gr->n; j++)
    for (int i = 0; i < gr->nodes[j]->nin; i++) {
      const Node *x = gr->nodes[j]->in[i];
      while (x->id != r && x->nin > 0 && (x->op == OP_RESHAPE || (k->view && k->view[x->id]))) x = x->in[0];
      if (x->id == r) return true;
    }
  return false;
}

/* Value n computed in place of value r (memplan.c): the same bytes; n an
 * element-wise member of a fused loop over n's shape, or a softmax alone;
 * that group reads r, and no later group does, nor is r an output. */
static bool in_place(const Kernel *k, int n, int r) {
  const MemPlan *mp = k->plan;
  if (mp->took[n] != r || mp->off[n] != mp->off[r] || mp->size[n] != mp->size[r]) return false;
  for (int i = 0; i < k->nouts; i++)
    if (k->outs[i].node->id == r) return false;
  int g = -1;
  const Node *nn = NULL;
  for (int q = 0; q < k->ngroups && g < 0; q++)
    for (int j = 0; j < k->groups[q].n; j++)
      if (k->groups[q].nodes[j]->id == n) g = q, nn = k->groups[q].nodes[j];
  if (g < 0 || !group_reads(k, g, r)) return false;
  for (int q = g + 1; q < k->ngroups; q++)
    if (group_reads(k, q, r)) return false;
  const Group *gr = &k->groups[g];
  bool row = !gr->fused && gr->n == 1 && (nn->op == OP_SOFTMAX || nn->op == OP_LOG_SOFTMAX);
  return (row || (gr->fused && op_info[nn->op].kind == OK_EWISE)) && shape_eq(&nn->sh, &gr->space);
}

/* n computed in place of r, or of a value computed in place of r, .... */
static bool in_place_of(const Kernel *k, int n, int r) {
  for (int x = n; k->plan->took[x] >= 0 && in_place(k, x, k->plan->took[x]);) {
    x = k->plan->took[x];
    if (x == r) return true;
  }
  return false;
}

static void verify_plan(const Kernel *k) {
  const MemPlan *mp = k->plan;
  if (!mp) nnc_unreachable("kernel %s has no memory plan", k->name);
  for (int arena = 1; arena <= 2; arena++) {
    Buf *b = arena_alloc(sizeof(Buf) * (k->nsched + 1));
    int nb = 0;
    for (int i = 0; i < k->nsched; i++) {
      const Node *n = k->sched[i];
      if (mp->arena[n->id] != arena) continue;
      b[nb++] = (Buf){n->id, mp->off[n->id], mp->size[n->id], mp->first[n->id], mp->last[n->id]};
    }
    qsort(b, nb, sizeof *b, by_offset);
    int64_t total = arena == 1 ? mp->totalB : mp->total0;
    for (int i = 0; i < nb; i++) {
      if (b[i].off < 0 || b[i].off % 64 || b[i].off + b[i].size > total)
        nnc_unreachable("kernel %s: buffer of %%%d at %lld (+%lld bytes) is outside its arena of %lld", k->name,
                        b[i].id, (long long)b[i].off, (long long)b[i].size, (long long)total);
      for (int j = i + 1; j < nb && b[j].off < b[i].off + b[i].size; j++)
        if (b[i].first <= b[j].last && b[j].first <= b[i].last && !in_place_of(k, b[i].id, b[j].id) &&
            !in_place_of(k, b[j].id, b[i].id))
          nnc_unreachable("kernel %s: %%%d and %%%d are live together (groups %d-%d, %d-%d) and share bytes at %lld",
                          k->name, b[i].id, b[j].id, b[i].first, b[i].last, b[j].first, b[j].last,
                          (long long)b[j].off);
    }
  }
}

void verify_program(const Program *p, VerifyStage s) {
  const Kernel *ks[PROGRAM_MAX_KERNELS];
  int nk = program_kernels(p, ks);
  for (int i = 0; i < nk; i++) {
    const Kernel *k = ks[i];
    if (!k->name) continue; /* the checked copies exist from the 'checked' pass on */
    verify_lowered(p, k);
    if (s >= VS_SCHEDULED && k->sched) verify_kernel(k);
    if (s >= VS_FUSED && k->groups) verify_groups(k);
    if (s >= VS_PLANNED && k->plan) verify_plan(k);
  }
}
