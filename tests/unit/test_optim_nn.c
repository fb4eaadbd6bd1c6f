/*
 * test_optim_nn.c — each optimizer, selected by name in a .nn file and
 * compiled with nnc, takes the steps its textbook rule gives, checked
 * against values worked out by hand (tolerance 1e-6).
 *
 * Every case trains the same tiny program for 3 epochs:
 *
 *   param p: f64[2] = constant(1.0);
 *   loss = p[0] * 0.5 + p[1] * -2.0
 *
 * so the gradient is the constant g = (0.5, -2.0) and, with `data none {}`,
 * each epoch is exactly one step (t = 1, 2, 3).  `train --log` writes the
 * p[0], p[1] columns after every epoch (and an epoch-0 row with the start,
 * 1, 1), which are compared with the hand-computed rows below.  The
 * expected numbers come from the update rules as the lecture writes them,
 * evaluated with pencil and a calculator; nothing here calls the runtime's
 * optimizer code.  NNC_PATH (the nnc executable) comes from CMake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NNC_PATH
#define NNC_PATH "nnc"
#endif

static char dir[64];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "%s", "/tmp/nnc-optim-nn.XXXXXX");
  const char *tmp = getenv("TMPDIR");
  if (tmp && strlen(tmp) < 40)
    snprintf(dir, sizeof dir, "%s/nnc-optim-nn.XXXXXX", tmp);
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Build the program with `optimizer = <opt>;`, train it with --log and
 * compare p[0], p[1] of epochs 0..3 with want[epoch - 1] (epoch 0: 1, 1). */
static void check(const char *name, const char *opt, const double want[3][2]) {
  char nn[128], exe[128], log[128], cmd[512];
  snprintf(nn, sizeof nn, "%s/%s.nn", dir, name);
  snprintf(exe, sizeof exe, "%s/%s", dir, name);
  snprintf(log, sizeof log, "%s/%s.csv", dir, name);
  FILE *f = fopen(nn, "w");
  assert_non_null(f);
  fprintf(f, "data none {}\n"
             "model M {\n"
             "  param p: f64[2] = constant(1.0);\n"
             "  fn f() -> f64[] { return p[0] * 0.5 + p[1] * -2.0; }\n"
             "}\n"
             "train M on none { loss = f(); optimizer = %s; epochs = 3; }\n", opt);
  assert_int_equal(fclose(f), 0);
  snprintf(cmd, sizeof cmd, "'%s' build '%s' -o '%s'", NNC_PATH, nn, exe);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "'%s' train --quiet --threads 1 --log '%s' >/dev/null", exe, log);
  assert_int_equal(system(cmd), 0);

  f = fopen(log, "r");
  assert_non_null(f);
  char line[1024];
  assert_non_null(fgets(line, sizeof line, f));
  /* the columns named p[0] and p[1] */
  int c0 = -1, c1 = -1, col = 0;
  for (char *tok = strtok(line, ",\n"); tok; tok = strtok(NULL, ",\n"), col++) {
    if (strcmp(tok, "p[0]") == 0) c0 = col;
    if (strcmp(tok, "p[1]") == 0) c1 = col;
  }
  assert_true(c0 >= 0 && c1 >= 0);
  double maxdiff = 0;
  int rows = 0;
  while (fgets(line, sizeof line, f)) {
    double v[16] = {0};
    int n = 0;
    for (char *s = line; n < 16; n++) { /* empty fields are allowed: no strtok */
      v[n] = strtod(s, NULL);
      char *comma = strchr(s, ',');
      if (!comma) { n++; break; }
      s = comma + 1;
    }
    assert_true(c0 < n && c1 < n);
    int epoch = (int)v[0];
    assert_int_equal(epoch, rows);
    double w0 = epoch == 0 ? 1.0 : want[epoch - 1][0];
    double w1 = epoch == 0 ? 1.0 : want[epoch - 1][1];
    double d = fmax(fabs(v[c0] - w0), fabs(v[c1] - w1));
    if (d > 1e-6)
      print_error("%s epoch %d: p = (%.9g, %.9g), expected (%.9g, %.9g)\n", name, epoch,
                  v[c0], v[c1], w0, w1);
    maxdiff = fmax(maxdiff, d);
    rows++;
  }
  fclose(f);
  assert_int_equal(rows, 4);
  if (maxdiff > 1e-6)
    fail_msg("%s: max difference %g", name, maxdiff);
}

/* θ -= lr·g:  p0 = 1 − 0.05t,  p1 = 1 + 0.2t. */
static void test_sgd(void **state) {
  (void)state;
  const double want[3][2] = {{0.95, 1.2}, {0.90, 1.4}, {0.85, 1.6}};
  check("sgd", "sgd(lr = 0.1)", want);
}

/* L2: g' = g + wd·θ, so θ ← θ − 0.1(g + 0.5θ) = 0.95θ − 0.1g.
 *   p0: 0.95 − 0.05 = 0.90;  0.855 − 0.05 = 0.805;  0.76475 − 0.05 = 0.71475
 *   p1: 0.95 + 0.2 = 1.15;   1.0925 + 0.2 = 1.2925; 1.227875 + 0.2 = 1.427875 */
static void test_sgd_weight_decay(void **state) {
  (void)state;
  const double want[3][2] = {{0.90, 1.15}, {0.805, 1.2925}, {0.71475, 1.427875}};
  check("sgd_wd", "sgd(lr = 0.1, weight_decay = 0.5)", want);
}

/* v = μv + g: v = g, 1.9g, 2.71g; θ −= lr·v: total 0.1g·(1, 2.9, 5.61).
 *   p0: 1 − 0.05·(1, 2.9, 5.61) = 0.95, 0.855, 0.7195
 *   p1: 1 + 0.2·(1, 2.9, 5.61)  = 1.2, 1.58, 2.122 */
static void test_momentum(void **state) {
  (void)state;
  const double want[3][2] = {{0.95, 1.2}, {0.855, 1.58}, {0.7195, 2.122}};
  check("momentum", "momentum(lr = 0.1, momentum = 0.9)", want);
}

/* NAG: the gradient is constant, so the look-ahead gradient is g too; the
 * parameter kept is the look-ahead point θ + μv.  Steps lr·(g + μv) with
 * v = g, 1.9g, 2.71g: 1.9g, 2.71g, 3.439g; totals 1.9, 4.61, 8.049 (×0.1g).
 *   p0: 1 − 0.05·(1.9, 4.61, 8.049) = 0.905, 0.7695, 0.59755
 *   p1: 1 + 0.2·(1.9, 4.61, 8.049)  = 1.38, 1.922, 2.6098 */
static void test_nesterov(void **state) {
  (void)state;
  const double want[3][2] = {{0.905, 1.38}, {0.7695, 1.922}, {0.59755, 2.6098}};
  check("nesterov", "nesterov(lr = 0.1, momentum = 0.9)", want);
}

/* G = t·g², step lr·g/√G = 0.1·sign(g)/√t (eps = 1e-10 is below 1e-9):
 * 0.1, 0.0707106781, 0.0577350269.
 *   p0: 0.9, 0.8292893219, 0.7715542950
 *   p1: 1.1, 1.1707106781, 1.2284457050 */
static void test_adagrad(void **state) {
  (void)state;
  const double want[3][2] = {{0.9, 1.1}, {0.8292893219, 1.1707106781},
                             {0.7715542950, 1.2284457050}};
  check("adagrad", "adagrad(lr = 0.1)", want);
}

/* Zeiler 2012 with ρ = 0.9, eps = 1e-6 (lr 1):
 *   E[g²] = ρE[g²] + (1−ρ)g²          = 0.1g², 0.19g², 0.271g²
 *   Δ = −√(E[Δ²] + eps)/√(E[g²] + eps)·g
 *   E[Δ²] = ρE[Δ²] + (1−ρ)Δ²
 * p0 (g = 0.5): Δ1 = −√1e-6/√0.025001·0.5 = −0.0031622144; E[Δ²] = 1.0e-6
 *   Δ2 = −√(2.0e-6)/√0.047501·0.5 = −0.0032443618; E[Δ²] = 1.95259e-6
 *   Δ3 = −√(2.95259e-6)/√0.067751·0.5 = −0.0033007372
 *   p0 = 0.996837785583, 0.993593423755, 0.990292686507
 * p1 (g = −2): the same steps up to eps: 1.003162273707, 1.006406697968,
 *   1.009707499561 */
static void test_adadelta(void **state) {
  (void)state;
  const double want[3][2] = {{0.996837785583, 1.003162273707},
                             {0.993593423755, 1.006406697968},
                             {0.990292686507, 1.009707499561}};
  check("adadelta", "adadelta(rho = 0.9, eps = 0.000001)", want);
}

/* E = ρE + (1−ρ)g² = 0.1g², 0.19g², 0.271g²; step lr·g/(√E + eps)
 * = 0.01·sign(g)/√(0.1, 0.19, 0.271) = 0.0316227766, 0.0229415734,
 * 0.0192094680 (eps 1e-8 moves the 10th digit).
 *   p0: 0.968377225, 0.945435653, 0.926226185
 *   p1: 1.031622776, 1.054564349, 1.073773818 */
static void test_rmsprop(void **state) {
  (void)state;
  const double want[3][2] = {{0.968377225398, 1.031622776102},
                             {0.945435653064, 1.054564349226},
                             {0.926226185042, 1.073773817801}};
  check("rmsprop", "rmsprop(lr = 0.01, rho = 0.9)", want);
}

/* With a constant gradient the bias-corrected moments are exactly
 * m̂ = g and v̂ = g², so every step is lr·g/|g| = 0.1·sign(g).  (Without
 * the correction the first step would be 0.1·0.1g/√(0.001g²) ≈ 0.316.)
 *   p0: 0.9, 0.8, 0.7    p1: 1.1, 1.2, 1.3 */
static void test_adam(void **state) {
  (void)state;
  const double want[3][2] = {{0.9, 1.1}, {0.8, 1.2}, {0.7, 1.3}};
  check("adam", "adam(lr = 0.1)", want);
}

/* Adam with L2 (coupled) decay: g' = g + 0.5θ enters the moments.
 * p0: t1 g' = 1.0: m̂ = 1, v̂ = 1, θ = 0.9.  t2 g' = 0.95: m = 0.185,
 * m̂ = 0.185/0.19 = 0.97368421; v = 0.0019015, v̂ = 0.0019015/0.001999 =
 * 0.95122561; θ = 0.9 − 0.1·0.97368421/0.97530796 = 0.80016649.  t3 the
 * same way: 0.70062339.  p1: g' = −1.5, then −2 + 0.5·1.1 = −1.45, ...:
 * 1.09999999933, 1.19989729, 1.29961848 (eps 1e-8 shows in the 9th digit). */
static void test_adam_weight_decay(void **state) {
  (void)state;
  const double want[3][2] = {{0.900000001000, 1.099999999333},
                             {0.800166487632, 1.199897291578},
                             {0.700623394343, 1.299618475028}};
  check("adam_wd", "adam(lr = 0.1, weight_decay = 0.5)", want);
}

/* Decoupled decay: θ ← (1 − lr·wd)θ = 0.95θ, then the Adam step 0.1·sign(g)
 * on the raw gradient.
 *   p0: 0.95 − 0.1 = 0.85;  0.8075 − 0.1 = 0.7075;  0.672125 − 0.1 = 0.572125
 *   p1: 0.95 + 0.1 = 1.05;  0.9975 + 0.1 = 1.0975;  1.042625 + 0.1 = 1.142625 */
static void test_adamw(void **state) {
  (void)state;
  const double want[3][2] = {{0.85, 1.05}, {0.7075, 1.0975}, {0.572125, 1.142625}};
  check("adamw", "adamw(lr = 0.1, weight_decay = 0.5)", want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sgd),
    cmocka_unit_test(test_sgd_weight_decay),
    cmocka_unit_test(test_momentum),
    cmocka_unit_test(test_nesterov),
    cmocka_unit_test(test_adagrad),
    cmocka_unit_test(test_adadelta),
    cmocka_unit_test(test_rmsprop),
    cmocka_unit_test(test_adam),
    cmocka_unit_test(test_adam_weight_decay),
    cmocka_unit_test(test_adamw),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
