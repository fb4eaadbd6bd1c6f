/*
 * test_fuse.c — fusion decisions (fuse.c) on small hand-made kernels:
 * which nodes share a loop, why a group ends, which members stay in
 * registers, which constants need memory, what a group reads, and how the
 * list scheduler reorders to let a consumer join its producer's loop.
 *
 * A kernel's groups are summarised as text, one group per brace:
 *   {fused [4, 8]: ~mul ~add relu} {single [B, 4]: matmul}
 * with ~ marking members that never reach memory and + after a closing
 * reduction.
 */
#include "util.h"
#include <stdlib.h>
#include <string.h>

static bool fusion = true; /* what FUSED asks for */

static Kernel *fused(Node *out, ...) {
  Kernel *k = arena_alloc(sizeof *k);
  k->name = "t";
  va_list ap;
  va_start(ap, out);
  for (Node *n = out; n; n = va_arg(ap, Node *)) kernel_add_out(k, n, k->nouts, "out");
  va_end(ap);
  kernel_schedule(k);
  fuse_with(k, fusion);
  verify_kernel(k); /* the reordered schedule is still topological */
  return k;
}
#define FUSED(...) fused(__VA_ARGS__, NULL)

static const char *groups(const Kernel *k) {
  const char *s = "";
  for (int g = 0; g < k->ngroups; g++) {
    const Group *gr = &k->groups[g];
    s = arena_printf("%s%s{%s %s:", s, g ? " " : "", gr->fused ? "fused" : "single", shape_str(&gr->space));
    for (int j = 0; j < gr->n; j++) {
      const Node *n = gr->nodes[j];
      s = arena_printf("%s %s%s%s", s, k->stored[n->id] ? "" : "~", op_info[n->op].name,
                       gr->closed && j == gr->n - 1 ? "+" : "");
    }
    s = arena_printf("%s}", s);
  }
  return s;
}

static void test_elementwise_chain(void **st) {
  (void)st;
  Node *x = P("x", "4,8");
  Node *y = g_unary(OP_RELU, g_binary(OP_ADD, g_binary(OP_MUL, x, C(2)), C(1)));
  Kernel *k = FUSED(y);
  assert_string_equal(groups(k), "{fused [4, 8]: ~mul ~add relu}");
  assert_string_equal(k->groups[0].why, "end of the kernel");
}

static void test_reduction_closes_loop(void **st) {
  (void)st;
  Node *x = P("x", "4,8");
  Node *lse = g_unary(OP_LOG, g_reduce(OP_SUM, g_unary(OP_EXP, x), 2));
  Kernel *k = FUSED(lse);
  assert_string_equal(groups(k), "{fused [4, 8]: ~exp sum+} {fused [4, 1]: log}");
  assert_true(k->groups[0].closed);
  assert_string_equal(k->groups[0].why, "a reduction closes the loop");
  /* a reduction of a value computed elsewhere runs alone */
  Node *s = g_reduce(OP_SUM, g_matmul(x, P("w", "8,3"), 0, 0), 1);
  assert_string_equal(groups(FUSED(s)), "{single [4, 3]: matmul} {single [1, 3]: sum}");
}

static void test_matmul_runs_alone(void **st) {
  (void)st;
  Node *x = I("x", DT_F32, "B,3"), *w = P("w", "3,4"), *b = P("b", "4");
  Node *h = g_unary(OP_RELU, g_binary(OP_ADD, g_matmul(x, w, 0, 0), b));
  Kernel *k = FUSED(h);
  assert_string_equal(groups(k), "{single [B, 4]: matmul} {fused [B, 4]: ~add relu}");
  assert_string_equal(k->groups[0].why, "matmul runs alone (GEMM library call)");
}

static void test_why_groups_end(void **st) {
  (void)st;
  Node *x = P("x", "4,8"), *v = P("v", "8");
  Node *e = g_unary(OP_EXP, x);
  /* softmax is row-wise: it ends the open loop and runs alone */
  Kernel *k = FUSED(g_row(OP_SOFTMAX, e));
  assert_string_equal(groups(k), "{fused [4, 8]: exp} {single [4, 8]: softmax}");
  char want[128];
  snprintf(want, sizeof want, "%%%d is softmax (a row-wise op)", g_row(OP_SOFTMAX, e)->id);
  assert_string_equal(k->groups[0].why, want);
  assert_string_equal(k->groups[1].why, "softmax runs alone (row-wise, three passes)");
  /* element-wise over another space starts another loop */
  Node *t = g_unary(OP_TANH, v);
  k = FUSED(e, t);
  assert_string_equal(groups(k), "{fused [4, 8]: exp} {fused [8]: tanh}");
  snprintf(want, sizeof want, "%%%d has another shape ([8], the loop is [4, 8])", t->id);
  assert_string_equal(k->groups[0].why, want);
}

/* A member read after its group is stored; the rest stay in registers. */
static void test_stored_members(void **st) {
  (void)st;
  Node *x = P("x", "4,8");
  Node *e = g_unary(OP_EXP, x);
  Node *p = g_binary(OP_DIV, e, g_reduce(OP_SUM, e, 2)); /* softmax by hand */
  Kernel *k = FUSED(p);
  assert_string_equal(groups(k), "{fused [4, 8]: exp sum+} {fused [4, 8]: div}");
  /* two outputs of one loop are both stored */
  Node *a = g_unary(OP_TANH, x), *b = g_unary(OP_SIN, a), *c = g_unary(OP_COS, b);
  assert_string_equal(groups(FUSED(c, a)), "{fused [4, 8]: tanh ~sin cos}");
}

static void test_fusion_off(void **st) {
  (void)st;
  Node *x = P("x", "4,8");
  Node *y = g_unary(OP_RELU, g_binary(OP_ADD, g_binary(OP_MUL, x, C(2)), C(1)));
  fusion = false;
  Kernel *k = FUSED(y);
  fusion = true;
  assert_string_equal(groups(k), "{single [4, 8]: mul} {single [4, 8]: add} {single [4, 8]: relu}");
  for (int g = 0; g < k->ngroups; g++) assert_string_equal(k->groups[g].why, "fusion is off");
}

/* A reshape of a stored value aliases it: no group, no loop. */
static void test_reshape_is_free(void **st) {
  (void)st;
  Node *x = P("x", "4,8");
  Kernel *k = FUSED(g_unary(OP_TANH, g_reshape(x, S("32"))));
  assert_string_equal(groups(k), "{fused [32]: tanh}");
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  fuse_print(k, f);
  fclose(f);
  assert_non_null(strstr(buf, "kernel t: 1 ops in 1 loops or calls (+1 reshapes, which alias memory)"));
  free(buf);
  /* but a reshape of a value inside an open loop needs it stored first */
  Node *e = g_unary(OP_EXP, x);
  k = FUSED(g_unary(OP_TANH, g_reshape(e, S("32"))));
  assert_string_equal(groups(k), "{fused [4, 8]: exp} {single [32]: reshape} {fused [32]: tanh}");
}

/* Constants are folded into loops, except where a non-element-wise
 * consumer must read them from memory. */
/* a slice whose consumers are all element-wise is read in place (a view):
 * no loop of its own, and the gates of one matrix share one loop */
static void test_slice_is_a_view(void **st) {
  (void)st;
  Node *x = P("x", "4,8"), *w = P("w", "8,8");
  int64_t s0[] = {0, 0}, s4[] = {0, 4};
  Node *z = g_matmul(x, w, 0, 0);
  Node *a = g_slice(z, s0, S("4,4")), *b = g_slice(z, s4, S("4,4"));
  Node *y = g_binary(OP_MUL, g_unary(OP_SIGMOID, a), g_unary(OP_TANH, b));
  Kernel *k = FUSED(y);
  assert_string_equal(groups(k), "{single [4, 8]: matmul} {fused [4, 4]: ~sigmoid ~tanh mul}");
  assert_true(k->view[a->id] && k->view[b->id]);
  Node *xs[8];
  char *seen = arena_alloc(graph_node_count() + 1);
  assert_int_equal(group_inputs(&k->groups[1], xs, seen), 2); /* the views, read from z */
  /* a slice a matmul reads needs its own memory */
  Node *m = g_matmul(a, P("v", "4,2"), 0, 0);
  k = FUSED(g_binary(OP_ADD, g_unary(OP_RELU, a), g_reduce(OP_SUM, m, 3)));
  assert_false(k->view[a->id]);
  assert_non_null(strstr(groups(k), "{single [4, 4]: slice}"));
  /* so does a slice that is an output, and one of a value of the open loop */
  k = FUSED(a);
  assert_string_equal(groups(k), "{single [4, 8]: matmul} {single [4, 4]: slice}");
  Node *e = g_unary(OP_EXP, z);
  k = FUSED(g_unary(OP_TANH, g_slice(e, s4, S("4,4"))));
  assert_string_equal(groups(k), "{single [4, 8]: matmul} {fused [4, 8]: exp} {single [4, 4]: slice} {fused [4, 4]: tanh}");
  /* fusion off: every slice is a loop */
  fusion = false;
  k = FUSED(y);
  fusion = true;
  assert_false(k->view[a->id]);
}

static void test_constants_needing_memory(void **st) {
  (void)st;
  Node *x = P("x", "4,8"), *c = g_const(0.5, 0, DT_F32, S("8,3"));
  Node *m = g_matmul(x, c, 0, 0);
  Node *y = g_binary(OP_MUL, m, C(3));
  Kernel *k = FUSED(y);
  assert_true(k->needs_mem[c->id]);
  assert_false(k->needs_mem[C(3)->id]);
}

static void test_group_inputs(void **st) {
  (void)st;
  Node *x = P("x", "4,8"), *y = P("y", "4,8");
  Node *z = g_binary(OP_ADD, g_binary(OP_MUL, y, x), g_binary(OP_MUL, x, C(3)));
  Kernel *k = FUSED(z);
  assert_int_equal(k->ngroups, 1);
  Node *xs[64];
  int cap = graph_node_count() + 1;
  char *seen = arena_alloc(cap);
  int n = group_inputs(&k->groups[0], xs, seen);
  assert_int_equal(n, 2); /* each once, constants and members excluded */
  assert_ptr_equal(xs[0], y);
  assert_ptr_equal(xs[1], x);
  /* a closing reduction's input is a member, not a read */
  Kernel *k2 = FUSED(g_reduce(OP_SUM, g_unary(OP_EXP, x), 3));
  cap = graph_node_count() + 1;
  char *seen2 = arena_alloc(cap);
  n = group_inputs(&k2->groups[0], xs, seen2);
  assert_int_equal(n, 1);
  assert_ptr_equal(xs[0], x);
  /* the scratch array is left zeroed, for the next group */
  for (int i = 0; i < cap; i++) assert_int_equal(seen2[i], 0);
  n = group_inputs(&k2->groups[0], xs, seen2);
  assert_int_equal(n, 1);
}

/* The list scheduler lets a consumer join the open loop before an
 * unrelated GEMM breaks it. */
static void test_reorder(void **st) {
  (void)st;
  Node *x = P("x", "4,8"), *p = P("p", "4,8"), *q = P("q", "8,8");
  Node *e = g_unary(OP_EXP, x), *mm = g_matmul(p, q, 0, 0), *t = g_unary(OP_TANH, e);
  Kernel *k = FUSED(e, mm, t); /* post-order: exp, matmul, tanh */
  assert_string_equal(groups(k), "{fused [4, 8]: exp tanh} {single [4, 8]: matmul}");
  fusion = false;
  Kernel *off = FUSED(e, mm, t);
  fusion = true;
  assert_string_equal(groups(off), "{single [4, 8]: exp} {single [4, 8]: matmul} {single [4, 8]: tanh}");
}

/* Attention's heads: a batched product reads q and k where the QKV
 * projection [B, T, 3d] lies (d = 4 in 2 heads of 2 here): the slices and
 * transposes are views (2), no loop; each operand's layout is an offset,
 * a leading dimension of 3d and batch strides T·3d and the head's width.
 * A head that something else also reads is copied out as before. */
static Node *head(Node *qkv, int64_t at, int64_t b, int64_t t, int64_t d) {
  int64_t start[3] = {0, 0, at}, perm[4] = {0, 2, 1, 3};
  Shape sl = {3, {{b, 0}, {t, 0}, {d, 0}}}, sp = {4, {{b, 0}, {t, 0}, {2, 0}, {d / 2, 0}}};
  return g_transpose(g_reshape(g_slice(qkv, start, sl), sp), perm);
}

static void test_heads_read_in_place(void **st) {
  (void)st;
  Node *qkv = P("qkv", "2,8,12");
  Node *q = head(qkv, 0, 2, 8, 4), *k = head(qkv, 4, 2, 8, 4);
  Node *s = g_matmul(q, k, 0, 1);
  Kernel *kr = FUSED(s);
  assert_string_equal(groups(kr), "{single [2, 2, 8, 8]: matmul}");
  assert_int_equal(kr->view[q->id], 2);
  assert_int_equal(kr->view[q->in[0]->in[0]->id], 2); /* the slice under the reshape */
  GemmView g;
  assert_true(gemm_view(kr->view, s, 1, &g));
  assert_ptr_equal(g.l.root, qkv);
  assert_int_equal(g.l.off.k, 4);
  assert_int_equal(g.ld.k, 12);
  assert_int_equal(g.trans, 1);
  assert_int_equal(g.nb, 2);
  assert_int_equal(g.bs[0].k, 96);
  assert_int_equal(g.bs[1].k, 2);
  /* q also read by an element-wise op: copied (its transpose runs) */
  Kernel *k2 = FUSED(s, g_unary(OP_EXP, q));
  assert_int_equal(k2->view[q->id], 0);
  assert_non_null(strstr(groups(k2), "transpose"));
  /* off (nnc build --cuda): copied */
  fuse_gemm_views(false);
  Kernel *k3 = FUSED(s);
  fuse_gemm_views(true);
  assert_int_equal(k3->view[q->id], 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_heads_read_in_place),
      cmocka_unit_test(test_elementwise_chain), cmocka_unit_test(test_reduction_closes_loop),
      cmocka_unit_test(test_matmul_runs_alone), cmocka_unit_test(test_why_groups_end),
      cmocka_unit_test(test_stored_members),    cmocka_unit_test(test_fusion_off),
      cmocka_unit_test(test_reshape_is_free),   cmocka_unit_test(test_constants_needing_memory),
      cmocka_unit_test(test_group_inputs),      cmocka_unit_test(test_reorder),
      cmocka_unit_test(test_slice_is_a_view),
  };
  return cmocka_run_group_tests(tests, setup_compiler, NULL);
}
