/*
 * graph.c — the interning node constructor, shapes as text, node printing
 * and kernels (outputs + schedule).
 *
 * Invariant: node_intern returns the existing node for an equal key, so a
 * graph never holds two equal nodes.  The source location is not part of
 * the key: the first expression to build a node names it.
 */
#include "nnc.h"
#include <string.h>

#define NOATTR NULL, 0
#define ATTR(key, dflt) key, dflt
#define FN true
#define INTERNAL false
#define NODERIV false
#define DERIV(...) true
const OpInfo op_info[OP__COUNT] = {
#define E(NAME, str, arity, surface, attr, flops, fold, deriv, scalar) \
  [OP_##NAME] = {str, arity, OK_EWISE, deriv, surface, attr, flops},
#define X(NAME, str, arity, kind, grad) [OP_##NAME] = {str, arity, OK_##kind, grad},
#define G(NAME, str, arity, grad, spec_) [OP_##NAME] = {str, arity, OK_GEN, grad, .spec = &spec_},
    NNC_EWISE_OPS(E) NNC_OTHER_OPS(X) NNC_GEN_OPS(G)
#undef E
#undef X
#undef G
};
#undef NOATTR
#undef ATTR
#undef FN
#undef INTERNAL
#undef NODERIV
#undef DERIV

#define HASH_SIZE 65536
static Node *table[HASH_SIZE];
static int next_id;
static Loc cur_loc;
static int cur_grad_of;

void graph_set_loc(Loc loc) { cur_loc = loc; }

void graph_reset(void) {
  memset(table, 0, sizeof table);
  next_id = 0;
  cur_loc = (Loc){0};
  cur_grad_of = 0;
  scan_reset();
}
void graph_set_grad_of(int op) { cur_grad_of = op < 0 ? 0 : op + 1; }

static bool promote_f64;
void graph_set_f64(bool on) { promote_f64 = on; }
Dtype dtype_f32(void) { return promote_f64 ? DT_F64 : DT_F32; }
static Dtype program_float = DT_F32;
void graph_set_program_float(Dtype dt) { program_float = dt == DT_F32 ? dtype_f32() : dt; }
Dtype dtype_program(void) { return program_float == DT_F32 ? dtype_f32() : program_float; }
Loc graph_loc(void) { return cur_loc; }
int graph_node_count(void) { return next_id; }

Dtype ewise_input_dtype(const Node *n, int j) {
  if (n->in[j]->op != OP_CONST)
    return n->in[j]->dt;
  Dtype want = n->dt == DT_F32 || n->dt == DT_F64 ? n->dt : DT_F32;
  for (int k = 0; k < n->nin; k++)
    if (k != j && n->in[k]->op != OP_CONST && (j > 0 || n->op != OP_SELECT)) want = n->in[k]->dt;
  if (n->op == OP_SELECT && j == 0) want = n->in[0]->dt;
  return want;
}

Shape shape_scalar(void) {
  Shape s = {0};
  return s;
}

Shape shape_of(int rank, const Dim *d) {
  Shape s = {0};
  s.rank = rank;
  for (int i = 0; i < rank; i++) s.d[i] = d[i];
  return s;
}

bool shape_eq(const Shape *a, const Shape *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->d[i].k != b->d[i].k || a->d[i].b != b->d[i].b) return false;
  return true;
}

/* Saturating: a product past INT64_MAX is INT64_MAX, never a wrapped
 * (negative) count; shape_check keeps such shapes out of the graph. */
Dim shape_numel(const Shape *s) {
  Dim n = {1, 0};
  for (int i = 0; i < s->rank; i++) {
    if (__builtin_mul_overflow(n.k, s->d[i].k, &n.k)) n.k = INT64_MAX;
    n.b += s->d[i].b;
  }
  return n;
}

const char *shape_check(const Shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++) {
    int64_t k = s->d[i].k;
    if (k < 0) return arena_printf("dimension %d is negative (%lld)", i + 1, (long long)k);
    if (__builtin_mul_overflow(n, k, &n) || n > NNC_MAX_ELEMS)
      return arena_printf("dimension %d (%lld) takes it past 2^48 elements per sample", i + 1, (long long)k);
  }
  return NULL;
}

char *dim_str(Dim d) {
  if (d.b == 0) return arena_printf("%lld", (long long)d.k);
  if (d.k == 1) return arena_printf("B");
  return arena_printf("%lld*B", (long long)d.k);
}

char *shape_str(const Shape *s) {
  char buf[256];
  size_t len = 0;
  buf[len++] = '[';
  for (int i = 0; i < s->rank; i++) {
    len += snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "", dim_str(s->d[i]));
    if (len >= sizeof buf - 8) break;
  }
  snprintf(buf + len, sizeof buf - len, "]");
  return arena_strdup(buf);
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

Node *node_intern(Op op, Dtype dt, Shape sh, Node **in, int nin, const int64_t *ia,
                  double fv, int bpow, int slot, const char *name, Loc loc) {
  int64_t attrs[MAX_RANK] = {0};
  if (ia) memcpy(attrs, ia, sizeof attrs);
  if (dt == DT_F32) dt = dtype_f32();
  uint64_t h = mix(op, dt);
  h = mix(h, (uint64_t)sh.rank);
  for (int i = 0; i < sh.rank; i++) h = mix(mix(h, (uint64_t)sh.d[i].k), (uint64_t)sh.d[i].b);
  for (int i = 0; i < nin; i++) h = mix(h, (uint64_t)in[i]->id);
  for (int i = 0; i < MAX_RANK; i++) h = mix(h, (uint64_t)attrs[i]);
  uint64_t fbits;
  memcpy(&fbits, &fv, sizeof fbits);
  h = mix(mix(mix(h, fbits), (uint64_t)bpow), (uint64_t)slot);
  Node **bucket = &table[h % HASH_SIZE];
  for (Node *n = *bucket; n; n = n->hnext) {
    if (n->op != op || n->dt != dt || n->nin != nin || n->bpow != bpow || n->slot != slot) continue;
    if (!shape_eq(&n->sh, &sh) || memcmp(n->ia, attrs, sizeof attrs) != 0) continue;
    if (memcmp(&n->fv, &fv, sizeof fv) != 0) continue;
    bool same = true;
    for (int i = 0; i < nin; i++) same = same && n->in[i] == in[i];
    if (same) return n;
  }
  Node *n = arena_alloc(sizeof *n);
  n->id = next_id++;
  n->op = op;
  n->dt = dt;
  n->sh = sh;
  n->nin = nin;
  n->in = arena_alloc(sizeof(Node *) * (size_t)(nin > 3 ? nin : 3));
  for (int i = 0; i < nin; i++) n->in[i] = in[i];
  memcpy(n->ia, attrs, sizeof attrs);
  n->fv = fv;
  n->bpow = bpow;
  n->slot = slot;
  n->name = name;
  n->loc = loc;
  n->grad_of = cur_grad_of;
  n->hnext = *bucket;
  *bucket = n;
  return n;
}

Node *g_param(const char *name, int slot, Dtype dt, Shape sh) {
  return node_intern(OP_PARAM, dt, sh, NULL, 0, NULL, 0, 0, slot, name, cur_loc);
}
Node *g_state(const char *name, int slot, Dtype dt, Shape sh) {
  return node_intern(OP_STATE, dt, sh, NULL, 0, NULL, 0, 0, slot, name, cur_loc);
}
Node *g_input(const char *name, int slot, Dtype dt, Shape sh) {
  return node_intern(OP_INPUT, dt, sh, NULL, 0, NULL, 0, 0, slot, name, cur_loc);
}
Node *g_const(double v, int bpow, Dtype dt, Shape sh) {
  if (v == 0) v = 0; /* fold -0.0 into 0.0 so both intern alike */
  return node_intern(OP_CONST, dt, sh, NULL, 0, NULL, v, v == 0 ? 0 : bpow, -1, NULL, cur_loc);
}
Node *g_scalar(double v, Dtype dt) { return g_const(v, 0, dt, shape_scalar()); }

static void print_const(double v, int bpow, FILE *out) {
  if (bpow == 0) { fprintf(out, "%.9g", v); return; }
  if (bpow == -1) {
    if (v == 1) fprintf(out, "1/B");
    else if (v == -1) fprintf(out, "-1/B");
    else fprintf(out, "%.9g/B", v);
    return;
  }
  fprintf(out, "%.9g*B^%d", v, bpow);
}

void node_print(const Node *n, FILE *out) {
  fprintf(out, "%%%d = %s %s%s", n->id, op_info[n->op].name, dtype_name(n->dt), shape_str(&n->sh));
  switch (n->op) {
  case OP_PARAM: case OP_STATE: case OP_INPUT:
    fprintf(out, " %s (slot %d)\n", n->name, n->slot);
    return;
  case OP_CONST:
    fprintf(out, " ");
    print_const(n->fv, n->bpow, out);
    fprintf(out, "\n");
    return;
  default: break;
  }
  for (int i = 0; i < n->nin; i++) fprintf(out, "%s %%%d", i ? "," : "", n->in[i]->id);
  switch (n->op) {
  case OP_SUM: case OP_MAX: {
    fprintf(out, " axes=");
    int first = 1;
    for (int i = 0; i < n->in[0]->sh.rank; i++)
      if (n->ia[0] >> i & 1) { fprintf(out, "%s%d", first ? "" : ",", i); first = 0; }
    break;
  }
  case OP_MATMUL:
    if (n->ia[0] || n->ia[1]) fprintf(out, " trans=%s%s", n->ia[0] ? "a" : "", n->ia[1] ? "b" : "");
    break;
  case OP_TRANSPOSE: case OP_SLICE: case OP_PAD: {
    fprintf(out, " %s=(", n->op == OP_TRANSPOSE ? "perm" : "start");
    for (int i = 0; i < n->sh.rank; i++) fprintf(out, "%s%lld", i ? "," : "", (long long)n->ia[i]);
    fprintf(out, ")");
    break;
  }
  case OP_CONCAT: fprintf(out, " axis=%lld", (long long)n->ia[0]); break;
  case OP_SCAN: fprintf(out, " scan%lld steps=%lld%s", (long long)n->ia[0], (long long)n->ia[1], n->ia[2] ? " reversed" : ""); break;
  case OP_SCANOUT: fprintf(out, " output=%lld", (long long)n->ia[1]); break;
  case OP_SCANVAR: break;
  default:
    if (op_info[n->op].attr) fprintf(out, " %s=%.9g", op_info[n->op].attr, n->fv);
    if (op_info[n->op].spec)
      for (int i = 0; i < op_info[n->op].spec->nattrs; i++) {
        const AttrSpec *as = &op_info[n->op].spec->attrs[i];
        if (as->type == AT_FLOAT) fprintf(out, " %s=%g", as->name, attr_float(n->ia[i]));
        else fprintf(out, " %s=%lld", as->name, (long long)n->ia[i]);
      }
    break;
  }
  fprintf(out, "\n");
}

SlotDesc *program_add_slot(Program *p, int role, const char *name, Dtype dt, Shape sh) {
  SlotDesc *s = arena_alloc(sizeof *s);
  s->role = role;
  s->name = name;
  s->dt = dt;
  s->sh = sh;
  s->grad_of = -1;
  PUSH(p->slots, p->nslots, p->capslots, s);
  return s;
}

int *kernel_out_slots(const Kernel *k) {
  int cap = graph_node_count() + 1;
  int *slot = arena_alloc(sizeof(int) * cap);
  for (int i = 0; i < cap; i++) slot[i] = -1;
  for (int i = 0; i < k->nouts; i++) {
    Node *n = k->outs[i].node;
    if (op_info[n->op].kind != OK_LEAF && n->op != OP_RESHAPE && n->op != OP_MAXPOOL && n->op != OP_POOLIDX &&
        slot[n->id] < 0 && !k->outs[i].deferred)
      slot[n->id] = k->outs[i].slot;
  }
  return slot;
}

void kernel_add_out(Kernel *k, Node *n, int slot, const char *label) {
  if (k->nouts == k->capouts) {
    int cap = k->capouts ? 2 * k->capouts : 8;
    KOut *o = arena_alloc(sizeof *o * cap);
    if (k->nouts) memcpy(o, k->outs, sizeof *o * k->nouts);
    k->outs = o;
    k->capouts = cap;
  }
  k->outs[k->nouts++] = (KOut){n, slot, label, false, false};
}

static double dim_at(Dim d, int64_t batch) {
  double v = (double)d.k;
  for (int i = 0; i < d.b; i++) v *= (double)batch;
  return v;
}

static double numel_at(const Shape *s, int64_t batch) { return dim_at(shape_numel(s), batch); }

/* Multiply-adds of a filter tap per element of y: numel(w) / w's first dim. */
static double taps(const Node *w) {
  return w->sh.rank && w->sh.d[0].k ? (double)shape_numel(&w->sh).k / (double)w->sh.d[0].k : 0;
}

double kernel_flops(const Kernel *k, int64_t batch) {
  double f = 0;
  for (int i = 0; i < k->nsched; i++) {
    const Node *n = k->sched[i];
    switch (n->op) {
    case OP_MATMUL: /* [M, K] x [K, N]: 2 M N K */
      f += 2 * numel_at(&n->sh, batch) * dim_at(n->in[0]->sh.d[n->ia[0] ? 0 : 1], batch);
      break;
    case OP_CONV2D: f += 2 * numel_at(&n->sh, batch) * taps(n->in[1]); break; /* per output */
    case OP_CONV2D_BWD_DATA: f += 2 * numel_at(&n->in[0]->sh, batch) * taps(n->in[1]); break; /* per dy */
    case OP_CONV2D_BWD_WEIGHTS: f += 2 * numel_at(&n->in[1]->sh, batch) * taps(n); break;   /* per dy */
    case OP_SCAN: { /* its body, every step */
      Scan *s = scan_of(n);
      scan_prepare(s);
      f += (double)s->T * kernel_flops(&s->body, batch);
      break;
    }
    default:
      if (op_info[n->op].kind == OK_EWISE) f += op_info[n->op].flops * numel_at(&n->sh, batch);
    }
  }
  return f;
}

/* Post-order DFS with an explicit stack (graphs can be deep). */
void kernel_schedule(Kernel *k) {
  int cap = graph_node_count() + 1;
  char *seen = arena_alloc(cap);
  Node **order = arena_alloc(sizeof *order * cap);
  Node **stack = arena_alloc(sizeof *stack * cap * 4);
  int *next = arena_alloc(sizeof *next * cap * 4);
  int norder = 0;
  for (int o = 0; o < k->nouts; o++) {
    int sp = 0;
    if (seen[k->outs[o].node->id]) continue;
    stack[sp] = k->outs[o].node;
    next[sp++] = 0;
    seen[k->outs[o].node->id] = 1;
    while (sp) {
      Node *n = stack[sp - 1];
      if (next[sp - 1] < n->nin) {
        Node *c = n->in[next[sp - 1]++];
        if (!seen[c->id]) {
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

void kernel_print(const Kernel *k, FILE *out, bool grads_only) {
  fprintf(out, "kernel %s {\n", k->name);
  for (int i = 0; i < k->nsched; i++) {
    fprintf(out, "  ");
    node_print(k->sched[i], out);
  }
  for (int i = 0; i < k->nouts; i++)
    fprintf(out, "  %s <- %%%d\n", k->outs[i].label, k->outs[i].node->id);
  scan_print_kernel(k, out);
  fprintf(out, "}\n");
}
