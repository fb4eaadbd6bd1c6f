/*
 * test_memplan.c — the memory plan (memplan.c) on small hand-made kernels:
 * buffers whose lifetimes overlap never share bytes, ones that do not may
 * (and in a chain, do), sizes are rounded to 64 bytes, every offset is a
 * multiple of 64, batch-sized buffers go to the batch arena and fixed ones
 * to the fixed arena, outputs live in their slots, register values and free
 * reshapes get nothing, and a reshape extends the life of what it aliases
 * (and a slice read in place, of what it reads); an element-wise member of a
 * fused loop takes the bytes of an input that loop reads last, and only
 * then.
 *
 * check_plan recomputes each buffer's lifetime from the groups on its own
 * (the group that defines it to the last group that reads it, through
 * reshapes and views; outputs live to the end) and checks the plan against it.
 */
#include "util.h"
#include <stdlib.h>
#include <string.h>

static Kernel *planned(Node *out, ...) {
  Kernel *k = arena_alloc(sizeof *k);
  k->name = "t";
  va_list ap;
  va_start(ap, out);
  for (Node *n = out; n; n = va_arg(ap, Node *)) kernel_add_out(k, n, k->nouts, "out");
  va_end(ap);
  kernel_schedule(k);
  fuse_with(k, true);
  memplan_kernel(k);
  return k;
}
#define PLANNED(...) planned(__VA_ARGS__, NULL)

static int group_of(const Kernel *k, const Node *n) {
  for (int g = 0; g < k->ngroups; g++)
    for (int j = 0; j < k->groups[g].n; j++)
      if (k->groups[g].nodes[j] == n) return g;
  return -1;
}

/* The last group that reads n (directly or through free reshapes). */
static int last_read(const Kernel *k, const Node *n) {
  int last = -1;
  for (int o = 0; o < k->nouts; o++)
    if (k->outs[o].node == n) last = k->ngroups;
  for (int i = 0; i < k->nsched; i++) {
    const Node *m = k->sched[i];
    for (int j = 0; j < m->nin; j++) {
      if (m->in[j] != n) continue;
      int g = group_of(k, m);
      if (g < 0 && (m->op == OP_RESHAPE || (k->view && k->view[m->id]))) g = last_read(k, m);
      if (g > last) last = g;
    }
  }
  return last;
}

/* Whether a member of group g reads n (directly or through a reshape). */
static bool reads(const Kernel *k, int g, const Node *n) {
  for (int j = 0; j < k->groups[g].n; j++) {
    const Node *m = k->groups[g].nodes[j];
    for (int i = 0; i < m->nin; i++)
      if (m->in[i] == n || (m->in[i]->op == OP_RESHAPE && m->in[i]->in[0] == n)) return true;
  }
  return false;
}

/* The first group that writes n's buffer: n's, or for a concat the
 * earliest writer of a value placed in it (a transpose's, or the batched
 * product's before it). */
static int first_write(const Kernel *k, const Node *n) {
  int g = group_of(k, n);
  for (int i = 0; k->place && i < k->nsched; i++) {
    const Node *v = k->sched[i];
    if (place_root(k, v, NULL) != n) continue;
    const Node *w = v->op == OP_TRANSPOSE && v->in[0]->op == OP_MATMUL && v->in[0]->sh.rank > 2 ? v->in[0] : v;
    if (group_of(k, w) < g) g = group_of(k, w);
  }
  return g;
}

static int64_t size_of(const Node *n) {
  int64_t e = n->dt == DT_F64 ? 8 : 4;
  if (n->op == OP_MAXPOOL || n->op == OP_POOLIDX) e = 16;
  return (shape_numel(&n->sh).k * e + 63) / 64 * 64;
}

static void check_plan(const Kernel *k) {
  const MemPlan *mp = k->plan;
  int64_t naive[3] = {0};
  int nbufs = 0;
  for (int i = 0; i < k->nsched; i++) {
    const Node *a = k->sched[i];
    int ar = mp->arena[a->id];
    if (!ar) continue;
    nbufs++;
    assert_int_equal(ar, shape_numel(&a->sh).b ? 1 : 2);
    assert_int_equal(mp->off[a->id] % 64, 0);
    assert_true(mp->off[a->id] + size_of(a) <= (ar == 1 ? mp->totalB : mp->total0));
    naive[ar] += size_of(a);
    int a0 = a->op == OP_CONST ? 0 : first_write(k, a), a1 = a->op == OP_CONST ? k->ngroups : last_read(k, a);
    for (int j = i + 1; j < k->nsched; j++) {
      const Node *b = k->sched[j];
      if (mp->arena[b->id] != ar) continue;
      int b0 = b->op == OP_CONST ? 0 : first_write(k, b), b1 = b->op == OP_CONST ? k->ngroups : last_read(k, b);
      bool live_together = a0 <= (b1 > b0 ? b1 : b0) && b0 <= (a1 > a0 ? a1 : a0);
      bool share = mp->off[a->id] < mp->off[b->id] + size_of(b) && mp->off[b->id] < mp->off[a->id] + size_of(a);
      /* in place: b computed over a's bytes in the last group that reads a */
      bool in_place = (mp->took[b->id] == a->id && mp->off[a->id] == mp->off[b->id] && a1 == group_of(k, b) &&
                       reads(k, a1, a)) ||
                      (mp->took[a->id] == b->id && mp->off[a->id] == mp->off[b->id] && b1 == group_of(k, a) &&
                       reads(k, b1, b));
      if (live_together && share && !in_place)
        fail_msg("%%%d (groups %d..%d) and %%%d (groups %d..%d) overlap in time and in bytes", a->id, a0, a1, b->id,
                 b0, b1);
    }
  }
  assert_int_equal(nbufs, mp->nbufs);
  assert_int_equal(naive[1], mp->naiveB);
  assert_int_equal(naive[2], mp->naive0);
}

/* matmul, softmax, matmul, softmax, matmul: each value is read only by the
 * next group, so each softmax is computed in place of the product it reads,
 * and the two pairs take two buffers between them; the last is the output
 * and lives in its slot. */
static void test_chain_reuses(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,8"), *w = P("w", "8,8");
  Node *a = g_matmul(x, w, 0, 0), *b = g_row(OP_SOFTMAX, a), *c = g_matmul(b, w, 0, 0);
  Node *d = g_row(OP_SOFTMAX, c), *e = g_matmul(d, w, 0, 0);
  Kernel *k = PLANNED(e);
  check_plan(k);
  const MemPlan *mp = k->plan;
  assert_int_equal(mp->nbufs, 4);
  assert_int_equal(mp->arena[e->id], 0); /* in its output slot */
  assert_int_equal(mp->arena[a->id], 1);
  assert_int_equal(mp->took[b->id], a->id);
  assert_int_equal(mp->off[a->id], mp->off[b->id]);
  assert_int_equal(mp->took[d->id], c->id);
  assert_int_equal(mp->off[c->id], mp->off[d->id]);
  assert_int_not_equal(mp->off[a->id], mp->off[c->id]);
  assert_int_equal(mp->totalB, 2 * 64); /* 8 floats = 32 bytes per sample, rounded to 64 */
  assert_int_equal(mp->naiveB, 4 * 64);
  assert_int_equal(mp->total0, 0);
}

/* A value read at the end overlaps everything after it (and the softmax
 * that reads it first is not computed in its place). */
static void test_long_lived_value_is_not_shared(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,8"), *w = P("w", "8,8");
  Node *a = g_matmul(x, w, 0, 0), *b = g_row(OP_SOFTMAX, a), *c = g_matmul(b, w, 0, 0);
  Node *d = g_row(OP_SOFTMAX, c), *e = g_binary(OP_ADD, g_matmul(d, w, 0, 0), a); /* a lives to the end */
  Kernel *k = PLANNED(e);
  check_plan(k);
  const MemPlan *mp = k->plan;
  assert_int_not_equal(mp->off[a->id], mp->off[c->id]);
  assert_int_not_equal(mp->off[a->id], mp->off[b->id]);
  assert_int_not_equal(mp->off[a->id], mp->off[d->id]);
  assert_int_equal(mp->took[b->id], -1);
  assert_int_equal(mp->took[d->id], c->id);
}

/* Batch-sized and fixed-size buffers go to their own arenas; sizes follow
 * the element type. */
static void test_arenas_and_sizes(void **st) {
  (void)st;
  Node *w = P("w", "8,8"), *x = I("x", DT_F32, "B,8");
  Node *fixed = g_row(OP_SOFTMAX, g_matmul(w, w, 0, 0)); /* [8, 8]: 256 bytes */
  Node *batch = g_row(OP_SOFTMAX, g_matmul(x, fixed, 0, 0));
  Node *w64 = Pd("w64", DT_F64, "3,5");
  Node *f64 = g_row(OP_SOFTMAX, g_matmul(w64, w64, 0, 1)); /* [3, 3] f64: 72 -> 128 bytes */
  Kernel *k = PLANNED(g_reduce(OP_SUM, batch, 3), g_reduce(OP_SUM, f64, 3));
  check_plan(k);
  const MemPlan *mp = k->plan;
  assert_int_equal(mp->arena[fixed->id], 2);
  assert_int_equal(mp->arena[g_matmul(w, w, 0, 0)->id], 2);
  assert_int_equal(mp->arena[batch->id], 1);
  assert_int_equal(mp->arena[f64->id], 2);
  assert_int_equal(mp->size[fixed->id], 256);
  assert_int_equal(mp->size[f64->id], 128);
  assert_true(mp->total0 >= 256);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  memplan_print(k, 10, f);
  fclose(f);
  char want[160];
  snprintf(want, sizeof want, "  at B = 10: planned %lld bytes, naive %lld bytes\n",
           (long long)(mp->totalB * 10 + mp->total0), (long long)(mp->naiveB * 10 + mp->naive0));
  assert_non_null(strstr(buf, want));
  free(buf);
}

/* Members of a fused loop that stay in registers get no memory. */
static void test_registers_get_nothing(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,8"), *w = P("w", "8,8");
  Node *m = g_matmul(x, w, 0, 0);
  Node *t = g_unary(OP_TANH, m), *s = g_unary(OP_SIN, t);
  Node *l = g_reduce(OP_SUM, g_unary(OP_EXP, s), 3);
  Kernel *k = PLANNED(l);
  check_plan(k);
  assert_int_equal(k->plan->arena[t->id], 0);
  assert_int_equal(k->plan->arena[s->id], 0);
  assert_int_equal(k->plan->arena[m->id], 1);
  assert_int_equal(k->plan->arena[l->id], 0); /* the output */
}

/* A reshape aliases its input: the input lives as long as the reshape is
 * read, so a buffer defined meanwhile cannot take its bytes. */
static void test_reshape_extends_life(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,8"), *w = P("w", "8,8");
  Node *a = g_matmul(x, w, 0, 0);
  Node *r = g_reshape(a, S("B,2,4"));
  Node *b = g_row(OP_SOFTMAX, g_matmul(x, w, 0, 1)); /* two groups that do not read a */
  Node *c = g_binary(OP_ADD, r, g_reshape(b, S("B,2,4"))); /* a is computed first */
  Kernel *k = PLANNED(c);
  check_plan(k);
  const MemPlan *mp = k->plan;
  assert_int_equal(mp->arena[r->id], 0); /* no buffer of its own */
  assert_int_not_equal(mp->off[a->id], mp->off[g_matmul(x, w, 0, 1)->id]);
  assert_int_not_equal(mp->off[a->id], mp->off[b->id]);
}

static void test_view_extends_life(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,8"), *w = P("w", "8,8");
  int64_t s4[] = {0, 4};
  Node *a = g_matmul(x, w, 0, 0);
  Node *v = g_slice(a, s4, S("B,4"));
  Node *b = g_row(OP_SOFTMAX, g_matmul(x, w, 0, 1)); /* two groups that do not read a */
  Node *c = g_binary(OP_ADD, v, g_slice(b, s4, S("B,4"))); /* a is computed first */
  Kernel *k = PLANNED(c);
  assert_true(k->view[v->id]);
  check_plan(k);
  const MemPlan *mp = k->plan;
  assert_int_equal(mp->arena[v->id], 0); /* no buffer of its own */
  assert_int_not_equal(mp->off[a->id], mp->off[g_matmul(x, w, 0, 1)->id]);
  assert_int_not_equal(mp->off[a->id], mp->off[b->id]);
}

/* A constant a GEMM reads is written when the kernel starts and lives to
 * its end. */
static void test_materialised_constant(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,8"), *c = g_const(0.5, 0, DT_F32, S("8,8"));
  Node *a = g_row(OP_SOFTMAX, g_matmul(x, c, 0, 0));
  Node *b = g_row(OP_SOFTMAX, g_matmul(a, c, 0, 0));
  Kernel *k = PLANNED(g_reduce(OP_SUM, b, 3));
  check_plan(k);
  assert_int_equal(k->plan->arena[c->id], 2);
  assert_int_equal(k->plan->total0, 256);
}

/* Pooling buffers hold a value and an index per element. */
static void test_pooling_element_size(void **st) {
  (void)st;
  Node *x = I("img", DT_F32, "B,1,4,4");
  int64_t geo[6] = {2, 2, 2, 2, 0, 0};
  Node *p = g_pool(OP_MAXPOOL, x, geo);
  Node *y = g_row(OP_SOFTMAX, g_reshape(p, S("B,4")));
  Kernel *k = PLANNED(g_reduce(OP_SUM, y, 3));
  check_plan(k);
  assert_int_equal(k->plan->arena[p->id], 1);
  assert_true(k->plan->naiveB >= 4 * 16); /* 4 elements of 16 bytes */
}

/* tanh(m) is computed over m's bytes, the loop being m's last reader, and
 * the softmax over tanh(m)'s; so is s·s, which reads s twice, each time at
 * its own element. */
static void test_in_place(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,8"), *w = P("w", "8,8");
  Node *m = g_matmul(x, w, 0, 0), *t = g_unary(OP_TANH, m), *s = g_row(OP_SOFTMAX, t);
  Node *u = g_binary(OP_MUL, s, s), *v = g_row(OP_SOFTMAX, u);
  Kernel *k = PLANNED(g_reduce(OP_SUM, v, 3));
  check_plan(k);
  const MemPlan *mp = k->plan;
  assert_int_equal(mp->took[t->id], m->id);
  assert_int_equal(mp->off[t->id], mp->off[m->id]);
  assert_int_equal(mp->took[s->id], t->id);
  assert_int_equal(mp->took[u->id], s->id); /* read twice, both at its own element */
  assert_int_equal(mp->off[u->id], mp->off[s->id]);
}

/* An input read again after the loop keeps its bytes. */
static void test_no_in_place(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,8"), *w = P("w", "8,8");
  Node *m = g_matmul(x, w, 0, 0), *t = g_unary(OP_TANH, m), *s = g_row(OP_SOFTMAX, t);
  Node *c = g_binary(OP_ADD, s, m); /* m is read after tanh's loop */
  Kernel *k = PLANNED(g_reduce(OP_SUM, g_row(OP_SOFTMAX, c), 3));
  check_plan(k);
  const MemPlan *mp = k->plan;
  assert_int_equal(mp->took[t->id], -1);
  assert_int_not_equal(mp->off[t->id], mp->off[m->id]);
}

/* The heads of three batched products, merged ([B, H, T, D] -> [B, T, d])
 * and joined along the last axis by two concats: each transpose, and the
 * inner concat, is written into the outer concat's buffer at its columns
 * (no buffer of its own), which lives from the first product on. */
static Node *merged(Node *m) {
  int64_t perm[4] = {0, 2, 1, 3};
  return g_reshape(g_transpose(m, perm), S("B,8,4"));
}

static void test_placed_in_concat(void **st) {
  (void)st;
  Node *q = I("q", DT_F32, "B,2,8,2"), *kk = I("k", DT_F32, "B,2,8,2"), *v = I("v", DT_F32, "B,2,8,2");
  Node *s = g_row(OP_SOFTMAX, g_matmul(q, kk, 0, 1));
  Node *m0 = g_matmul(s, q, 0, 0), *m1 = g_matmul(s, kk, 0, 0), *m2 = g_matmul(s, v, 0, 0);
  Node *r0 = merged(m0), *r1 = merged(m1), *r2 = merged(m2);
  Node *c2 = g_concat(r1, r2, 2), *c = g_concat(r0, c2, 2);
  Kernel *k = PLANNED(g_reduce(OP_SUM, g_row(OP_SOFTMAX, c), 7));
  check_plan(k);
  const MemPlan *mp = k->plan;
  assert_non_null(k->place);
  assert_ptr_equal(k->place[r0->in[0]->id], c);
  assert_ptr_equal(k->place[c2->id], c);
  assert_ptr_equal(k->place[r1->in[0]->id], c2);
  assert_ptr_equal(k->place[r2->in[0]->id], c2);
  int64_t col;
  assert_ptr_equal(place_root(k, r2->in[0], &col), c);
  assert_int_equal(col, 8); /* 4 columns of c2 after c's first 4 */
  assert_ptr_equal(place_root(k, r1->in[0], &col), c);
  assert_int_equal(col, 4);
  assert_null(place_root(k, c, &col));
  assert_int_equal(mp->arena[c2->id], 0);
  assert_int_equal(mp->arena[r1->in[0]->id], 0);
  assert_int_equal(mp->arena[c->id], 1);
  int first = group_of(k, m0);
  if (group_of(k, m1) < first) first = group_of(k, m1);
  if (group_of(k, m2) < first) first = group_of(k, m2);
  assert_int_equal(mp->first[c->id], first);
  /* a transpose read by something else too keeps its buffer */
  Node *r3 = merged(g_matmul(s, v, 0, 0));
  Kernel *k2 = PLANNED(g_reduce(OP_SUM, g_row(OP_SOFTMAX, g_concat(r3, r0, 2)), 7), g_reduce(OP_SUM, r3, 7));
  check_plan(k2);
  assert_null(k2->place[r3->in[0]->id]);
  assert_ptr_not_equal(k2->place[r0->in[0]->id], NULL);
  /* off (nnc build --cuda): nothing placed */
  fuse_gemm_views(false);
  Kernel *k3 = PLANNED(g_reduce(OP_SUM, g_row(OP_SOFTMAX, c), 7));
  fuse_gemm_views(true);
  check_plan(k3);
  assert_null(k3->place);
  assert_int_equal(k3->plan->arena[c2->id], 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chain_reuses),         cmocka_unit_test(test_long_lived_value_is_not_shared),
      cmocka_unit_test(test_arenas_and_sizes),     cmocka_unit_test(test_registers_get_nothing),
      cmocka_unit_test(test_reshape_extends_life), cmocka_unit_test(test_materialised_constant),
      cmocka_unit_test(test_pooling_element_size), cmocka_unit_test(test_view_extends_life),
      cmocka_unit_test(test_in_place),             cmocka_unit_test(test_no_in_place),
      cmocka_unit_test(test_placed_in_concat),
  };
  return cmocka_run_group_tests(tests, setup_compiler, NULL);
}
