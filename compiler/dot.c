/*
 * dot.c — Graphviz pictures of a kernel's graph: `nnc emit dot FILE.nn
 * [--graph backward|forward|fused]`, rendered with `dot -Tsvg`.
 *
 *   backward  the training kernel: the forward graph and the gradient graph
 *             the compiler derived from it (grad.c), the gradient's nodes
 *             tinted and each labelled with the rule that made it
 *             ("∂ tanh"), down to the gradient and state outputs
 *   forward   the inference kernel (what `OUT eval` runs)
 *   fused     the training kernel with each loop nest fuse.c made from
 *             several nodes drawn as a box around them
 *
 * A node shows its op and type (`matmul f32[B, 4]`); params, inputs and
 * states their name; constants their value; outputs (loss, gradients,
 * state updates) are ovals at the bottom.  Node ids are the IR's (`%12`,
 * as `nnc emit grad` prints them), so the two can be read side by side.
 * Only scheduled nodes appear (what the kernel computes after dead-code
 * elimination).  The text is deterministic: nodes in schedule order.
 */
#include "nnc.h"
#include <string.h>

/* s with " and \ escaped for a dot string. */
static const char *esc(const char *s) {
  size_t n = strlen(s);
  char *o = arena_alloc(2 * n + 1), *p = o;
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') *p++ = '\\';
    *p++ = *s;
  }
  *p = 0;
  return o;
}

static const char *node_label(const Node *n) {
  const char *type = arena_printf("%s%s", dtype_name(n->dt), shape_str(&n->sh));
  switch (n->op) {
  case OP_PARAM: return arena_printf("param %s\\n%s", esc(n->name), type);
  case OP_STATE: return arena_printf("state %s\\n%s", esc(n->name), type);
  case OP_INPUT: return arena_printf("input %s\\n%s", esc(n->name), type);
  case OP_CONST:
    if (n->bpow == -1) return arena_printf("%.6g/B\\n%s", n->fv, type);
    if (n->bpow) return arena_printf("%.6g·B^%d\\n%s", n->fv, n->bpow, type);
    return arena_printf("%.6g\\n%s", n->fv, type);
  default: break;
  }
  const char *lab = arena_printf("%%%d %s\\n%s", n->id, op_info[n->op].name, type);
  if (n->grad_of) lab = arena_printf("%s\\n∂ %s", lab, op_info[n->grad_of - 1].name);
  return lab;
}

static const char *node_color(const Node *n) {
  switch (n->op) {
  case OP_PARAM: return "#fff1b8";
  case OP_STATE: return "#e9dcff";
  case OP_INPUT: return "#d6e6ff";
  case OP_CONST: return "#f2f2f2";
  default: return n->grad_of ? "#ffd9d6" : "#ffffff";
  }
}

static void print_node(const Node *n, FILE *out, const char *indent) {
  fprintf(out, "%sn%d [label=\"%s\", fillcolor=\"%s\"%s];\n", indent, n->id, node_label(n), node_color(n),
          n->op == OP_CONST ? ", shape=plaintext, style=\"\"" : "");
}

void kernel_dot(const Kernel *k, FILE *out, bool clusters) {
  fprintf(out, "digraph %s {\n", k->name);
  fprintf(out, "  label=\"%s kernel: forward ops white, derived gradient ops red, params yellow, inputs blue\";\n",
          k->name);
  fprintf(out, "  labelloc=t; rankdir=TB; fontname=\"Helvetica\";\n");
  fprintf(out, "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n");
  fprintf(out, "  edge [color=\"#555555\", arrowsize=0.6];\n");
  int cap = graph_node_count() + 1;
  char *in_group = arena_alloc((size_t)cap);
  if (clusters) {
    for (int g = 0; g < k->ngroups; g++) {
      const Group *gr = &k->groups[g];
      if (gr->n < 2) continue;
      fprintf(out, "  subgraph cluster_%d {\n", g);
      fprintf(out, "    label=\"loop %d: %s%s over %s\"; style=dashed; color=\"#888888\";\n", g,
              gr->fused ? "fused" : "group", gr->closed ? ", closed by a reduction" : "", shape_str(&gr->space));
      for (int i = 0; i < gr->n; i++) {
        print_node(gr->nodes[i], out, "    ");
        in_group[gr->nodes[i]->id] = 1;
      }
      fprintf(out, "  }\n");
    }
  }
  for (int i = 0; i < k->nsched; i++)
    if (!in_group[k->sched[i]->id]) print_node(k->sched[i], out, "  ");
  for (int i = 0; i < k->nsched; i++) {
    const Node *n = k->sched[i];
    for (int j = 0; j < n->nin; j++) fprintf(out, "  n%d -> n%d;\n", n->in[j]->id, n->id);
  }
  for (int i = 0; i < k->nouts; i++) {
    fprintf(out, "  out%d [label=\"%s\", shape=oval, fillcolor=\"#d9f2d9\"];\n", i, esc(k->outs[i].label));
    fprintf(out, "  n%d -> out%d;\n", k->outs[i].node->id, i);
  }
  fprintf(out, "}\n");
}
