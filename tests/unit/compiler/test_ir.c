/*
 * test_ir.c — the graph IR: interning (building an existing node returns
 * the same pointer; op, dtype, shape, inputs and every attribute tell nodes
 * apart; the source location does not), ids as a topological order, the
 * printer's format, the scheduler's post-order and dead-code elimination,
 * and the verifier (verify.c) accepting good kernels and stopping with an
 * internal compiler error on each broken invariant.
 */
#include "util.h"
#include <stdlib.h>
#include <string.h>

static void test_leaves_intern(void **st) {
  (void)st;
  Node *x = P("x", "B,3");
  assert_ptr_equal(x, P("x", "B,3"));
  assert_ptr_not_equal(x, P("x2", "B,3"));          /* another slot */
  assert_ptr_not_equal(x, P("x", "B,4"));           /* another shape */
  assert_ptr_not_equal(x, P("x", "3,B"));
  assert_ptr_not_equal(x, Pd("x", DT_F64, "B,3"));  /* another dtype */
  assert_ptr_not_equal(x, g_state("x", x->slot, DT_F32, S("B,3"))); /* another op */
  assert_int_equal(x->slot, P("x", "B,3")->slot);
  assert_string_equal(x->name, "x");
}

static void test_constants_intern(void **st) {
  (void)st;
  assert_ptr_equal(C(2), C(2));
  assert_ptr_not_equal(C(2), C(3));
  assert_ptr_equal(C(0), C(-0.0)); /* -0 and 0 are one constant */
  assert_ptr_not_equal(C(1), g_const(1, -1, DT_F32, S("")));      /* 1 vs 1/B */
  assert_ptr_not_equal(C(1), g_const(1, 0, DT_F32, S("3")));      /* shape */
  assert_ptr_not_equal(C(1), g_scalar(1, DT_F64));                /* dtype */
  assert_ptr_equal(g_const(0, 1, DT_F32, S("")), C(0));           /* 0*B^1 is 0 */
  assert_int_equal(g_const(0.5, -1, DT_F32, S(""))->bpow, -1);
}

static void test_ops_intern(void **st) {
  (void)st;
  Node *x = P("x", "2,3"), *y = P("y", "2,3");
  Node *s = g_binary(OP_ADD, x, y);
  assert_ptr_equal(s, g_binary(OP_ADD, x, y));
  assert_ptr_not_equal(s, g_binary(OP_ADD, y, x)); /* no commutative canonical form */
  assert_ptr_not_equal(s, g_binary(OP_SUB, x, y));
  assert_true(s->id > x->id && s->id > y->id);     /* ids grow with creation */
  assert_int_equal(s->nin, 2);
  assert_ptr_equal(s->in[0], x);
  assert_int_equal(s->slot, -1);
  /* attributes tell nodes apart */
  assert_ptr_not_equal(g_reduce(OP_SUM, x, 1), g_reduce(OP_SUM, x, 2));
  assert_ptr_equal(g_reduce(OP_SUM, x, 1), g_reduce(OP_SUM, x, 1));
  assert_ptr_not_equal(g_reduce(OP_SUM, x, 1), g_reduce(OP_MAX, x, 1));
  assert_ptr_not_equal(g_unary_attr(OP_LEAKY_RELU, x, 0.1), g_unary_attr(OP_LEAKY_RELU, x, 0.2));
  assert_ptr_equal(g_unary_attr(OP_LEAKY_RELU, x, 0.1), g_unary_attr(OP_LEAKY_RELU, x, 0.1));
  Node *a = P("a", "3,3"), *b = P("b", "3,3");
  assert_ptr_not_equal(g_matmul(a, b, 0, 0), g_matmul(a, b, 0, 1));
  assert_ptr_not_equal(g_matmul(a, b, 1, 0), g_matmul(a, b, 0, 1));
  Node *t = P("t", "2,3,4");
  int64_t p1[] = {1, 0, 2}, p2[] = {2, 1, 0}, p3[] = {2, 1, 0};
  assert_ptr_not_equal(g_transpose(t, p1), g_transpose(t, p2));
  assert_ptr_equal(g_transpose(t, p2), g_transpose(t, p3));
  /* the same op and inputs at another result type are two nodes */
  assert_ptr_not_equal(g_cast(x, DT_F64), g_cast(x, DT_I32));
  assert_ptr_not_equal(g_reshape(x, S("6")), g_reshape(x, S("3,2")));
}

static void test_location_not_in_key(void **st) {
  (void)st;
  SrcFile *f = src_from_string("loc.nn", "a\nb\n");
  Node *x = P("x", "5");
  graph_set_loc((Loc){f, 1, 1});
  Node *e = g_unary(OP_EXP, x);
  graph_set_loc((Loc){f, 2, 1});
  assert_ptr_equal(g_unary(OP_EXP, x), e); /* the first expression names it */
  assert_int_equal(e->loc.line, 1);
  assert_ptr_equal(graph_loc().file, f);
  graph_set_loc((Loc){0});
}

static void test_rand_never_shared(void **st) {
  (void)st;
  Node *a = g_rand(0, DT_F32, S("B,3")), *b = g_rand(0, DT_F32, S("B,3"));
  assert_ptr_not_equal(a, b);
  assert_true(shape_eq(&a->sh, &b->sh));
}

static void test_node_print(void **st) {
  (void)st;
  Node *x = I("img", DT_F32, "B,10"), *w = P("pw", "10");
  Node *m = g_binary(OP_MUL, x, w);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  node_print(m, f);
  node_print(x, f);
  node_print(g_reduce(OP_SUM, m, 2), f);
  node_print(g_const(0.5, -1, DT_F32, S("")), f);
  fclose(f);
  char want[512];
  int cid = g_const(0.5, -1, DT_F32, S(""))->id;
  snprintf(want, sizeof want,
           "%%%d = mul f32[B, 10] %%%d, %%%d\n"
           "%%%d = input f32[B, 10] img (slot %d)\n"
           "%%%d = sum f32[B, 1] %%%d axes=1\n"
           "%%%d = const f32[] 0.5/B\n",
           m->id, x->id, w->id, x->id, x->slot, g_reduce(OP_SUM, m, 2)->id, m->id, cid);
  assert_string_equal(buf, want);
  free(buf);
}

/* The type an element-wise input is read as (ewise_input_dtype): its own,
 * except that a constant takes its partner's, and a select's condition
 * keeps its own. */
static void test_ewise_input_dtype(void **st) {
  (void)st;
  Node *x = Pd("d64", DT_F64, "3"), *c = C(2); /* an f32 constant */
  Node *in[2] = {x, c}, *in2[2] = {c, x};
  Node *n = node_intern(OP_ADD, DT_F64, x->sh, in, 2, NULL, 0, 0, -1, NULL, (Loc){0});
  assert_int_equal(ewise_input_dtype(n, 0), DT_F64);
  assert_int_equal(ewise_input_dtype(n, 1), DT_F64);
  Node *m = node_intern(OP_SUB, DT_F64, x->sh, in2, 2, NULL, 0, 0, -1, NULL, (Loc){0});
  assert_int_equal(ewise_input_dtype(m, 0), DT_F64);
  /* a comparison of integers is f32, but its constant is read as an integer */
  Node *i = I("ints", DT_I32, "B"), *eq = g_binary(OP_EQ, i, g_scalar(3, DT_I32));
  assert_int_equal(eq->dt, DT_F32);
  assert_int_equal(ewise_input_dtype(eq, 1), DT_I32);
  /* a select's constant condition keeps its type; its branches take the other branch's */
  Node *cond = g_scalar(1, DT_I32), *sin3[3] = {cond, x, c};
  Node *s = node_intern(OP_SELECT, DT_F64, x->sh, sin3, 3, NULL, 0, 0, -1, NULL, (Loc){0});
  assert_int_equal(ewise_input_dtype(s, 0), DT_I32);
  assert_int_equal(ewise_input_dtype(s, 2), DT_F64);
  /* a constant with no partner is read as the result's float type, or f32 */
  Node *lone = node_intern(OP_EXP, DT_F64, S(""), &c, 1, NULL, 0, 0, -1, NULL, (Loc){0});
  assert_int_equal(ewise_input_dtype(lone, 0), DT_F64);
  Node *ci = g_scalar(3, DT_I32);
  Node *neg = node_intern(OP_NEG, DT_I32, S(""), &ci, 1, NULL, 0, 0, -1, NULL, (Loc){0});
  assert_int_equal(ewise_input_dtype(neg, 0), DT_F32);
}

/* The schedule is a post-order from the outputs: inputs first, each node
 * once, and nothing the outputs do not need. */
static void test_schedule(void **st) {
  (void)st;
  Node *x = P("sx", "4"), *y = P("sy", "4");
  Node *a = g_unary(OP_TANH, x);
  Node *dead = g_unary(OP_SIN, y);
  Node *b = g_binary(OP_MUL, a, a);
  Node *c = g_binary(OP_ADD, b, y);
  Kernel *k = kernel_of("sched", c, b, NULL);
  const char *order = "";
  for (int i = 0; i < k->nsched; i++) order = arena_printf("%s %s", order, E(k->sched[i]));
  assert_string_equal(order, " sx (tanh sx) (mul (tanh sx) (tanh sx)) sy (add (mul (tanh sx) (tanh sx)) sy)");
  for (int i = 0; i < k->nsched; i++) assert_ptr_not_equal(k->sched[i], dead);
  verify_kernel(k); /* a good kernel passes */
}

/* ---- the verifier on broken kernels --------------------------------- */

static Kernel *hand_kernel(Node **sched, int n, Node *out) {
  Kernel *k = arena_alloc(sizeof *k);
  k->name = "broken";
  kernel_add_out(k, out, 0, "out");
  k->sched = sched;
  k->nsched = n;
  return k;
}

static void verify_arg(void *k) { verify_kernel(k); }

static void test_verify_order(void **st) {
  (void)st;
  Node *x = P("vx", "3");
  Node *e = g_unary(OP_EXP, x);
  /* log(exp(x)) would simplify to x: build it raw */
  Node *l = node_intern(OP_LOG, DT_F32, x->sh, &e, 1, NULL, 0, 0, -1, NULL, (Loc){0});
  Node *good[] = {x, e, l}, *bad[] = {x, l, e};
  verify_kernel(hand_kernel(good, 3, l));
  char want[64];
  snprintf(want, sizeof want, "%%%d uses %%%d before it is computed", l->id, e->id);
  expect_ice(verify_arg, hand_kernel(bad, 3, l), want);
}

static void test_verify_arity(void **st) {
  (void)st;
  Node *x = P("vx", "3");
  Node *bad = node_intern(OP_ADD, DT_F32, x->sh, &x, 1, NULL, 0, 0, -1, NULL, (Loc){0});
  Node *sched[] = {x, bad};
  expect_ice(verify_arg, hand_kernel(sched, 2, bad), "has 1 inputs, the op table says 2");
}

static void test_verify_ewise_shape(void **st) {
  (void)st;
  Node *x = P("vx", "3"), *y = P("vy", "3"), *in[2] = {x, y};
  Node *bad = node_intern(OP_MUL, DT_F32, S("2,3"), in, 2, NULL, 0, 0, -1, NULL, (Loc){0});
  Node *sched[] = {x, y, bad};
  expect_ice(verify_arg, hand_kernel(sched, 3, bad), "is not the broadcast of its inputs");
  Node *z = P("vz", "4"), *in2[2] = {x, z};
  Node *bad2 = node_intern(OP_MUL, DT_F32, S("4"), in2, 2, NULL, 0, 0, -1, NULL, (Loc){0});
  Node *sched2[] = {x, z, bad2};
  expect_ice(verify_arg, hand_kernel(sched2, 3, bad2), "inputs do not broadcast");
}

static void test_verify_reduce_rank(void **st) {
  (void)st;
  Node *x = P("vm", "2,3");
  int64_t ia[MAX_RANK] = {1};
  Node *bad = node_intern(OP_SUM, DT_F32, S("3"), &x, 1, ia, 0, 0, -1, NULL, (Loc){0});
  Node *sched[] = {x, bad};
  expect_ice(verify_arg, hand_kernel(sched, 2, bad), "a reduction must keep rank");
}

static void test_verify_output_scheduled(void **st) {
  (void)st;
  Node *x = P("vx", "3");
  Node *e = g_unary(OP_EXP, x), *s = g_unary(OP_SIN, x);
  Node *sched[] = {x, e};
  Kernel *k = hand_kernel(sched, 2, e);
  kernel_add_out(k, s, 1, "lost");
  expect_ice(verify_arg, k, "output lost is not scheduled");
}

/* After fusion: groups are contiguous runs of the schedule, in order, each
 * node in one group; a fused group runs over one space. */
static void verify_groups_arg(void *p) { verify_program(p, VS_FUSED); }
static Program *program_of(Kernel *k) {
  Program *p = arena_alloc(sizeof *p);
  p->train_k = *k;
  p->nslots = 4;
  return p;
}
static void test_verify_groups(void **st) {
  (void)st;
  Node *x = P("gx", "4"), *y = P("gy", "2,4");
  Node *a = g_unary(OP_TANH, x), *b = g_unary(OP_EXP, a), *c = g_binary(OP_ADD, b, y);
  Kernel *k = kernel_of("groups", c, NULL);
  fuse_kernel(k, true);
  verify_program(program_of(k), VS_FUSED); /* what fuse made passes */
  Kernel *swapped = kernel_of("groups", c, NULL);
  fuse_kernel(swapped, true);
  assert_true(swapped->ngroups >= 2);
  Group t = swapped->groups[0];
  swapped->groups[0] = swapped->groups[1];
  swapped->groups[1] = t;
  expect_ice(verify_groups_arg, program_of(swapped), "out of schedule order");
  Kernel *space = kernel_of("groups", b, NULL);
  fuse_kernel(space, true);
  space->groups[0].space = S("5");
  space->groups[0].fused = true;
  assert_true(space->groups[0].n > 1); /* tanh and exp in one loop */
  expect_ice(verify_groups_arg, program_of(space), "does not run over its space");
}

/* After the memory plan: two buffers live at once never share a byte. */
static void verify_plan_arg(void *p) { verify_program(p, VS_PLANNED); }
static void test_verify_plan(void **st) {
  (void)st;
  Node *x = P("mx", "64"), *w = P("mw", "64,64");
  Node *h1 = g_matmul(g_reshape(x, S("1,64")), w, 0, 0);
  Node *h2 = g_matmul(h1, w, 0, 0);
  Node *h3 = g_binary(OP_ADD, g_matmul(h2, w, 0, 0), h1); /* h1 lives until h3 */
  Kernel *k = kernel_of("plan", h3, NULL);
  fuse_kernel(k, true);
  memplan_kernel(k);
  verify_program(program_of(k), VS_PLANNED); /* what memplan made passes */
  MemPlan *mp = k->plan;
  assert_int_equal(mp->arena[h1->id], 2);
  assert_int_equal(mp->arena[h2->id], 2);
  mp->off[h2->id] = mp->off[h1->id]; /* both live while h2 is computed */
  expect_ice(verify_plan_arg, program_of(k), "are live together");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_leaves_intern),      cmocka_unit_test(test_constants_intern),
      cmocka_unit_test(test_ops_intern),         cmocka_unit_test(test_location_not_in_key),
      cmocka_unit_test(test_rand_never_shared),  cmocka_unit_test(test_node_print),
      cmocka_unit_test(test_ewise_input_dtype),  cmocka_unit_test(test_schedule),           cmocka_unit_test(test_verify_order),
      cmocka_unit_test(test_verify_arity),       cmocka_unit_test(test_verify_ewise_shape),
      cmocka_unit_test(test_verify_reduce_rank), cmocka_unit_test(test_verify_output_scheduled),
      cmocka_unit_test(test_verify_groups),      cmocka_unit_test(test_verify_plan),
  };
  return cmocka_run_group_tests(tests, setup_compiler, NULL);
}
