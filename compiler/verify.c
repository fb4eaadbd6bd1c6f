/*
 * verify.c — IR invariants, checked between passes: a broken invariant is
 * reported (as a compiler bug) where it was made, not three passes later.
 *
 * Checked: every input of a scheduled node is scheduled before it; arity
 * matches the op table; element-wise results have the broadcast shape of
 * their inputs; reductions keep rank; outputs are scheduled.
 */
#include "nnc.h"

void verify_kernel(const Kernel *k) {
  int cap = graph_node_count() + 1;
  char *done = arena_alloc(cap);
  for (int i = 0; i < k->nsched; i++) {
    Node *n = k->sched[i];
    if (n->nin != op_info[n->op].arity)
      nnc_unreachable("%%%d (%s) has %d inputs, the op table says %d", n->id, op_info[n->op].name, n->nin,
                      op_info[n->op].arity);
    for (int j = 0; j < n->nin; j++)
      if (!done[n->in[j]->id])
        nnc_unreachable("kernel %s: %%%d uses %%%d before it is computed", k->name, n->id, n->in[j]->id);
    if (op_info[n->op].kind == OK_EWISE) {
      Shape s = n->in[0]->sh, t;
      for (int j = 1; j < n->nin; j++) {
        if (!shape_broadcast(&s, &n->in[j]->sh, &t)) nnc_unreachable("%%%d: inputs do not broadcast", n->id);
        s = t;
      }
      if (!shape_eq(&s, &n->sh)) nnc_unreachable("%%%d (%s): shape %s is not the broadcast of its inputs", n->id,
                                                 op_info[n->op].name, shape_str(&n->sh));
    }
    if (op_info[n->op].kind == OK_REDUCE && n->sh.rank != n->in[0]->sh.rank)
      nnc_unreachable("%%%d: a reduction must keep rank", n->id);
    done[n->id] = 1;
  }
  for (int i = 0; i < k->nouts; i++)
    if (!done[k->outs[i].node->id]) nnc_unreachable("kernel %s: output %s is not scheduled", k->name, k->outs[i].label);
}
