/*
 * grad.c — symbolic reverse-mode differentiation: one derivative rule per
 * primitive, and one reverse walk.
 *
 * The walk visits the nodes the loss depends on in decreasing id (a
 * reverse topological order, since ids grow with creation), skips those
 * that do not depend on any requested parameter, and sums each input's
 * contributions, un-broadcasting them to the input's shape.  Rules build
 * ordinary graph nodes through the g_* builders, so the backward graph is
 * simplified (and later fused) like the forward one.
 *
 * No rule here knows about layers or losses: composite functions (dense,
 * cross-entropy, batch norm) are differentiated through their primitives.
 */
#include "nnc.h"
#include "../runtime/include/nnrt.h"
#include <math.h>
#include <string.h>

static Node *c_like(double v, const Node *n) { return g_const(v, 0, n->dt, shape_scalar()); }
static Node *add(Node *a, Node *b) { return g_binary(OP_ADD, a, b); }
static Node *sub(Node *a, Node *b) { return g_binary(OP_SUB, a, b); }
static Node *mul(Node *a, Node *b) { return g_binary(OP_MUL, a, b); }
static Node *dv(Node *a, Node *b) { return g_binary(OP_DIV, a, b); }
static Node *last_sum(Node *x) { return g_reduce(OP_SUM, x, 1ull << (x->sh.rank - 1)); }

/* Element-wise ops: the DERIV column of ops.h, one function each. */
#define K(v) c_like((v), n)
#define neg(u) g_unary(OP_NEG, u)
#define un(op, u) g_unary(op, u)
#define bin(op, u, v) g_binary(op, u, v)
#define sel(k, u, v) g_select(k, u, v)
#define a (n->fv)
#define DERIV(...) __VA_ARGS__
#define NODERIV
#define E(NAME, str, arity, surface, attr, flops, fold, deriv, scalar)                  \
  static void d_##NAME(Node *n, Node *g, Node **d) {                                    \
    Node *x = n->in[0], *y = n->nin > 1 ? n->in[1] : NULL, *z = n->nin > 2 ? n->in[2] : NULL; \
    Node *d0 = NULL, *d1 = NULL, *d2 = NULL;                                            \
    (void)x, (void)y, (void)z, (void)g;                                                 \
    deriv;                                                                              \
    d[0] = d0, d[1] = d1, d[2] = d2;                                                    \
  }
NNC_EWISE_OPS(E)
#undef E
#undef K
#undef neg
#undef un
#undef bin
#undef sel
#undef a
#undef DERIV
#undef NODERIV

typedef void (*RuleFn)(Node *n, Node *g, Node **d);
static const RuleFn ewise_rule[OP__COUNT] = {
#define E(NAME, str, arity, surface, attr, flops, fold, deriv, scalar) [OP_##NAME] = d_##NAME,
  NNC_EWISE_OPS(E)
#undef E
};

/* Contributions of adjoint g of node n to each input, before un-broadcasting. */
static void rule(Node *n, Node *g, Node **d) {
  Node *x = n->in[0], *y = n->nin > 1 ? n->in[1] : NULL;
  if (op_info[n->op].kind == OK_EWISE) {
    ewise_rule[n->op](n, g, d);
    return;
  }
  if (op_info[n->op].spec) {
    op_info[n->op].spec->grad(n, g, d);
    return;
  }
  switch (n->op) {
  case OP_SUM: d[0] = g_broadcast(g, x->sh); break;
  case OP_MAX: d[0] = mul(g_broadcast(g, x->sh), g_binary(OP_EQ, x, g_broadcast(n, x->sh))); break;
  case OP_SOFTMAX: d[0] = mul(n, sub(g, last_sum(mul(g, n)))); break;
  case OP_LOG_SOFTMAX: d[0] = sub(g, mul(g_row(OP_SOFTMAX, x), last_sum(g))); break;
  case OP_MATMUL: {
    int ta = (int)n->ia[0], tb = (int)n->ia[1];
    if (!ta && !tb) { d[0] = g_matmul(g, y, 0, 1); d[1] = g_matmul(x, g, 1, 0); }
    else if (!ta && tb) { d[0] = g_matmul(g, y, 0, 0); d[1] = g_matmul(g, x, 1, 0); }
    else if (ta && !tb) { d[0] = g_matmul(y, g, 0, 1); d[1] = g_matmul(x, g, 0, 0); }
    else { d[0] = g_matmul(y, g, 1, 1); d[1] = g_matmul(g, x, 1, 1); }
    break;
  }
  case OP_RESHAPE: d[0] = g_reshape(g, x->sh); break;
  case OP_BROADCAST: d[0] = g_unbroadcast(g, x->sh); break;
  case OP_TRANSPOSE: {
    int64_t inv[MAX_RANK] = {0};
    for (int i = 0; i < n->sh.rank; i++) inv[n->ia[i]] = i;
    d[0] = g_transpose(g, inv);
    break;
  }
  case OP_SLICE: d[0] = g_pad(g, n->ia, x->sh); break;
  case OP_PAD: d[0] = g_slice(g, n->ia, x->sh); break;
  case OP_CONCAT: {
    int64_t start[MAX_RANK] = {0};
    d[0] = g_slice(g, start, x->sh);
    start[n->ia[0]] = x->sh.d[n->ia[0]].k;
    d[1] = g_slice(g, start, y->sh);
    break;
  }
  /* the convolution family is closed under differentiation */
  case OP_CONV2D:
    d[0] = g_conv2d_bwd_data(g, y, n->ia, x->sh);
    d[1] = g_conv2d_bwd_weights(x, g, n->ia, y->sh);
    break;
  case OP_CONV2D_BWD_DATA: /* n = convT(dy=x, w=y) */
    d[0] = g_conv2d(g, y, n->ia);
    d[1] = g_conv2d_bwd_weights(g, x, n->ia, y->sh);
    break;
  case OP_CONV2D_BWD_WEIGHTS: /* n = dW(x, dy=y) */
    d[0] = g_conv2d_bwd_data(y, g, n->ia, x->sh);
    d[1] = g_conv2d(x, g, n->ia);
    break;
  /* pooling: max routes the gradient to where the maximum was */
  case OP_MAXPOOL: d[0] = g_pool_adjoint(OP_UNPOOL, g, g_pool(OP_POOLIDX, x, n->ia), n->ia, x->sh); break;
  case OP_UNPOOL: d[0] = g_pool_adjoint(OP_GATHER2D, g, y, n->ia, x->sh); break;
  case OP_GATHER2D: d[0] = g_pool_adjoint(OP_UNPOOL, g, y, n->ia, x->sh); break;
  case OP_AVGPOOL: d[0] = g_pool_adjoint(OP_AVGPOOL_BWD, g, NULL, n->ia, x->sh); break;
  case OP_AVGPOOL_BWD: d[0] = g_pool(OP_AVGPOOL, g, n->ia); break;
  default:
    nnc_unreachable("no derivative rule for '%s'", op_info[n->op].name);
  }
}

void grad_walk(Node **outs, Node **seeds, int nout, Node **wrt, int nwrt, Node **res) {
  Kernel k = {.name = "grad"};
  for (int i = 0; i < nout; i++)
    if (seeds[i]) kernel_add_out(&k, outs[i], -1, "out");
  kernel_schedule(&k);
  int cap = graph_node_count() + 1;
  bool *dep = arena_alloc(cap), *stop = arena_alloc(cap);
  Node **adj = arena_alloc(sizeof *adj * cap);
  Node ***scan_adj = arena_alloc(sizeof *scan_adj * cap); /* by scan node: its outputs' adjoints */
  for (int i = 0; i < nwrt; i++) dep[wrt[i]->id] = stop[wrt[i]->id] = true;
  /* forward: which nodes depend on a requested parameter */
  for (int i = 0; i < k.nsched; i++) {
    Node *n = k.sched[i];
    if (!op_info[n->op].has_grad || stop[n->id]) continue;
    for (int j = 0; j < n->nin; j++) dep[n->id] |= dep[n->in[j]->id];
  }
  int ntop = graph_node_count();
  Loc saved = graph_loc();
  for (int i = 0; i < nout; i++)
    if (seeds[i]) adj[outs[i]->id] = adj[outs[i]->id] ? add(adj[outs[i]->id], seeds[i]) : seeds[i];
  /* sched is a topological order; walk it backwards */
  for (int i = k.nsched - 1; i >= 0; i--) {
    Node *n = k.sched[i];
    nnc_assert(n->id < ntop);
    Node *g = adj[n->id];
    if (!g || !dep[n->id] || stop[n->id] || op_info[n->op].kind == OK_LEAF) continue;
    graph_set_loc(n->loc); /* backward nodes point at the forward expression */
    graph_set_grad_of(n->op);
    if (n->op == OP_SCANOUT) { /* collected for the scan, which is built after its outputs */
      Node *sc = n->in[0];
      Scan *s = scan_of(sc);
      if (!scan_adj[sc->id]) scan_adj[sc->id] = arena_alloc(sizeof(Node *) * (size_t)(s->nc + s->ny + 1));
      scan_adj[sc->id][n->ia[1]] = g;
      adj[sc->id] = sc;
      continue;
    }
    Node **d = arena_alloc(sizeof(Node *) * (size_t)(n->nin > 3 ? n->nin : 3));
    if (n->op == OP_SCAN) scan_grad(n, scan_adj[n->id], d);
    else rule(n, g, d);
    for (int j = 0; j < n->nin; j++) {
      Node *x = n->in[j];
      if (!d[j] || !dep[x->id]) continue;
      Node *c = g_unbroadcast(d[j], x->sh);
      if (!c) nnc_unreachable("gradient of '%s' has shape that does not fit: %s", op_info[n->op].name, shape_error());
      adj[x->id] = adj[x->id] ? add(adj[x->id], c) : c;
    }
  }
  graph_set_loc(saved);
  graph_set_grad_of(-1);
  for (int i = 0; i < nwrt; i++) res[i] = adj[wrt[i]->id];
}

void grad_build(Node *loss, Node **wrt, int nwrt, Node **out) {
  Node *seed = g_const(1, 0, loss->dt, loss->sh);
  grad_walk(&loss, &seed, 1, wrt, nwrt, out);
}

/* Objective i of several (§8.4): the gradients of its loss with respect to
 * its wrt params only, as outputs of its own train kernel, each slot
 * stepped by optimizer i.  A wrt param the loss does not reach is an error. */
static void grad_objective(Program *p, int i) {
  struct Objective *o = &p->objs[i];
  Kernel *k = i ? &p->obj_k[i] : &p->train_k;
  Node **wrt = arena_alloc(sizeof(Node *) * (size_t)(o->nwrt + 1));
  Node **g = arena_alloc(sizeof(Node *) * (size_t)(o->nwrt + 1));
  for (int j = 0; j < o->nwrt; j++) wrt[j] = p->slots[o->wrt[j]]->node;
  grad_build(o->loss, wrt, o->nwrt, g);
  int ndeferred = 0; /* state updates stay last (only objective 0 of one has them) */
  while (ndeferred < k->nouts && k->outs[k->nouts - 1 - ndeferred].deferred) ndeferred++;
  KOut *deferred = arena_alloc(sizeof(KOut) * (ndeferred + 1));
  memcpy(deferred, k->outs + k->nouts - ndeferred, sizeof(KOut) * ndeferred);
  k->nouts -= ndeferred;
  for (int j = 0; j < o->nwrt; j++) {
    SlotDesc *ps = p->slots[o->wrt[j]];
    if (!g[j]) {
      diag_error(o->wrt_at[j]->loc, "the loss '%s' does not depend on parameter '%s', which its 'wrt' names", o->name,
                 ps->name);
      continue;
    }
    SlotDesc *gs = program_add_slot(p, NNRT_SLOT_GRAD, arena_printf("grad %s", ps->name), ps->dt, ps->sh);
    gs->grad_of = o->wrt[j];
    gs->opt = i;
    kernel_add_out(k, g[j], p->nslots - 1, gs->name);
  }
  for (int j = 0; j < ndeferred; j++) {
    kernel_add_out(k, deferred[j].node, deferred[j].slot, deferred[j].label);
    k->outs[k->nouts - 1].deferred = true;
  }
}

/* The autodiff pass: a gradient output (and slot) for every trainable
 * parameter of the training kernel.  They go before the deferred state
 * updates, which the runtime writes after the step. */
void grad_program(Program *p) {
  if (p->nobj > 0) {
    for (int i = 0; i < p->nobj; i++) grad_objective(p, i);
    return;
  }
  int nparams = 0;
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i]->role == NNRT_SLOT_PARAM) nparams++;
  Node **wrt = arena_alloc(sizeof(Node *) * (nparams + 1));
  Node **g = arena_alloc(sizeof(Node *) * (nparams + 1));
  int *pslot = arena_alloc(sizeof(int) * (nparams + 1));
  int np = 0;
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i]->role == NNRT_SLOT_PARAM) { pslot[np] = i; wrt[np++] = p->slots[i]->node; }
  grad_build(p->loss, wrt, np, g);
  Kernel *k = &p->train_k;
  int ndeferred = 0;
  while (ndeferred < k->nouts && k->outs[k->nouts - 1 - ndeferred].deferred) ndeferred++;
  KOut *deferred = arena_alloc(sizeof(KOut) * (ndeferred + 1));
  memcpy(deferred, k->outs + k->nouts - ndeferred, sizeof(KOut) * ndeferred);
  k->nouts -= ndeferred;
  for (int i = 0; i < np; i++) {
    SlotDesc *ps = p->slots[pslot[i]];
    SlotDesc *gs = program_add_slot(p, NNRT_SLOT_GRAD, arena_printf("grad %s", ps->name), ps->dt, ps->sh);
    gs->grad_of = pslot[i];
    Node *gi = g[i] ? g[i] : g_const(0, 0, ps->dt, ps->sh);
    if (!g[i]) diag_warning(p->train->loc, "the loss does not depend on parameter '%s'", ps->name);
    kernel_add_out(k, gi, p->nslots - 1, gs->name);
  }
  for (int i = 0; i < ndeferred; i++) {
    kernel_add_out(k, deferred[i].node, deferred[i].slot, deferred[i].label);
    k->outs[k->nouts - 1].deferred = true;
  }
}
