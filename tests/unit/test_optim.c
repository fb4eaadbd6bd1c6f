/*
 * test_optim.c — each optimizer against values worked out by hand for three
 * steps of a scalar parameter: θ0 = 1, gradients 1.0, 0.5, −0.2 (fixed, so
 * only the update rule matters), default hyper-parameters unless stated.
 * The expected numbers were derived independently (by hand and a separate
 * Python transcription of the textbook formulas), not with optim.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>
#include "internal.h"

static const double grads[3] = {1.0, 0.5, -0.2};

static void run(const char *name, int nkw, const char *const *keys, const double *vals,
                const double expect[3]) {
  NnrtOptConfig c;
  char err[256];
  assert_int_equal(nnrt_opt_config(&c, name, nkw, keys, vals, err, sizeof err), 0);
  double theta = 1.0, s0 = 0, s1 = 0, *state[2] = {&s0, &s1};
  float theta_f = 1.0f, f0 = 0, f1 = 0, *state_f[2] = {&f0, &f1};
  for (int t = 1; t <= 3; t++) {
    double g = grads[t - 1];
    float gf = (float)g;
    nnrt_opt_step_f64(&c, c.lr, t, &theta, &g, state, 1);
    nnrt_opt_step_f32(&c, c.lr, t, &theta_f, &gf, state_f, 1);
    if (fabs(theta - expect[t - 1]) > 1e-6 || fabs(theta_f - expect[t - 1]) > 1e-5)
      fail_msg("%s step %d: f64 %.12g, f32 %.9g, expected %.12g", name, t, theta, theta_f,
               expect[t - 1]);
  }
}

/* 1 - rho and 1 - beta are formed in double and rounded to f32 once, as
 * PyTorch passes them: one step from zero state with g = 1 leaves exactly
 * (float)(1.0 - 0.9) = 0.1f in the state, where 1.0f - 0.9f would leave
 * 0.100000024f. */
static void test_f32_constants(void **st) {
  (void)st;
  const char *kinds[] = {"rmsprop", "adadelta", "adam"};
  const char *keys[] = {"rho", "beta1"};
  for (int k = 0; k < 3; k++) {
    NnrtOptConfig c;
    char err[256];
    double v = 0.9;
    assert_int_equal(nnrt_opt_config(&c, kinds[k], 1, k == 2 ? &keys[1] : &keys[0], &v, err, sizeof err), 0);
    float p = 1.0f, g = 1.0f, s0 = 0, s1 = 0, *state[2] = {&s0, &s1};
    nnrt_opt_step_f32(&c, c.lr, 1, &p, &g, state, 1);
    if (s0 != (float)(1.0 - 0.9))
      fail_msg("%s: state %.9g (%a), want (float)(1.0 - 0.9) = %.9g", kinds[k], s0, s0, (float)(1.0 - 0.9));
    assert_true(s0 != 1.0f - 0.9f); /* the two roundings differ: the test can fail */
  }
}

static void test_sgd(void **st) {
  (void)st;
  /* θ -= 0.1·g: 1 − .1 = .9; .9 − .05 = .85; .85 + .02 = .87 */
  const char *k[] = {"lr"};
  double v[] = {0.1};
  run("sgd", 1, k, v, (double[]){0.9, 0.85, 0.87});
}

static void test_sgd_weight_decay(void **st) {
  (void)st;
  /* g' = g + 0.5θ: g'1 = 1.5 → .85; g'2 = .5 + .425 = .925 → .7575;
   * g'3 = −.2 + .37875 = .17875 → .739625 */
  const char *k[] = {"lr", "weight_decay"};
  double v[] = {0.1, 0.5};
  run("sgd", 2, k, v, (double[]){0.85, 0.7575, 0.739625});
}

static void test_momentum(void **st) {
  (void)st;
  /* v = .9v + g: v1 = 1 → .9; v2 = 1.4 → .76; v3 = 1.06 → .654 */
  const char *k[] = {"lr"};
  double v[] = {0.1};
  run("momentum", 1, k, v, (double[]){0.9, 0.76, 0.654});
}

static void test_nesterov(void **st) {
  (void)st;
  /* v = .9v + g; θ -= .1(g + .9v): v1 = 1, step 1.9 → .81; v2 = 1.4,
   * step .5 + 1.26 = 1.76 → .634; v3 = 1.06, step −.2 + .954 = .754 → .5586 */
  const char *k[] = {"lr"};
  double v[] = {0.1};
  run("nesterov", 1, k, v, (double[]){0.81, 0.634, 0.5586});
}

static void test_adagrad(void **st) {
  (void)st;
  /* G1 = 1: θ = 1 − .1·1/(1 + 1e-10) ≈ .9; G2 = 1.25: θ = .9 − .05/1.118034 =
   * .8552786; G3 = 1.29: θ = .8552786 + .02/1.1357817 = .8728877 */
  const char *k[] = {"lr"};
  double v[] = {0.1};
  run("adagrad", 1, k, v, (double[]){0.90000000001, 0.855278640464004, 0.872887658588966});
}

static void test_adadelta(void **st) {
  (void)st;
  /* ρ = .9, eps = 1e-6, lr = 1: E[g²]1 = .1, Δ1 = −sqrt(1e-6)/sqrt(.100001) =
   * −.00316226 → θ = .9968377; E[Δ²]1 = 1e-6; E[g²]2 = .115, Δ2 = −sqrt(1.9e-6)
   * /sqrt(.115001)·.5 = −.00208513 → .9947526; step 3 → .9956847 */
  run("adadelta", 0, NULL, NULL, (double[]){0.996837738151101, 0.994752608289108, 0.9956846719531});
}

static void test_rmsprop(void **st) {
  (void)st;
  /* ρ = .9, lr = .01: E1 = .1, θ = 1 − .01/.3162278 = .9683772; E2 = .115,
   * θ −= .005/.3391165 → .9536330; E3 = .1075, θ += .002/.3278719 → .9597330 */
  const char *k[] = {"lr"};
  double v[] = {0.01};
  run("rmsprop", 1, k, v, (double[]){0.968377224398316, 0.953633029217609, 0.959732971844867});
}

static void test_adam(void **st) {
  (void)st;
  /* lr .1: t1 m̂ = 1, v̂ = 1 → θ = 1 − .1/(1 + 1e-8) = .900000001;
   * t2 m = .14, m̂ = .14/.19 = .7368421; v = .00124875, v̂ = .00124875/.001999
   * = .6246874 → θ −= .1·.7368421/.7903717 → .8067820; t3 → .7471109 */
  const char *k[] = {"lr"};
  double v[] = {0.1};
  run("adam", 1, k, v, (double[]){0.900000001, 0.806782038298161, 0.747110935560957});
}

static void test_adamw(void **st) {
  (void)st;
  /* decoupled: θ −= .1·.01·θ first: t1 θ = .999, then −.099999999 → .899000001;
   * t2 .899000001·(1 − .001) = .898101, minus the adam step .0932180 → .8048830 */
  const char *k[] = {"lr", "weight_decay"};
  double v[] = {0.1, 0.01};
  run("adamw", 2, k, v, (double[]){0.899000001, 0.804883038297161, 0.74440705252166});
}

static void test_config(void **st) {
  (void)st;
  NnrtOptConfig c;
  char err[256];
  assert_int_equal(nnrt_opt_config(&c, "adam", 0, NULL, NULL, err, sizeof err), 0);
  assert_true(c.lr == 0.001 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8);
  assert_int_equal(nnrt_opt_config(&c, "adadelta", 0, NULL, NULL, err, sizeof err), 0);
  assert_true(c.lr == 1.0 && c.eps == 1e-6 && c.rho == 0.9);
  assert_int_equal(nnrt_opt_config(&c, "adagrad", 0, NULL, NULL, err, sizeof err), 0);
  assert_true(c.lr == 0.01 && c.eps == 1e-10);
  assert_int_equal(nnrt_opt_config(&c, "momentum", 0, NULL, NULL, err, sizeof err), 0);
  assert_true(c.kind == NNRT_OPT_MOMENTUM && c.momentum == 0.9);
  const char *k1[] = {"momentum"};
  double v1[] = {0.5};
  assert_int_equal(nnrt_opt_config(&c, "sgd", 1, k1, v1, err, sizeof err), 0);
  assert_int_equal(c.kind, NNRT_OPT_MOMENTUM);
  const char *k2[] = {"momentum", "nesterov"};
  double v2[] = {0.5, 1};
  assert_int_equal(nnrt_opt_config(&c, "sgd", 2, k2, v2, err, sizeof err), 0);
  assert_int_equal(c.kind, NNRT_OPT_NESTEROV);
  assert_int_equal(nnrt_opt_config(&c, "sgdd", 0, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "unknown optimizer 'sgdd'"));
  const char *k3[] = {"betta1"};
  assert_int_equal(nnrt_opt_config(&c, "adam", 1, k3, v1, err, sizeof err), -1);
  assert_non_null(strstr(err, "betta1"));
  assert_int_equal(nnrt_opt_config(&c, "sgd", 0, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(nnrt_opt_nstate(&c), 0);
  assert_int_equal(nnrt_opt_config(&c, "adam", 0, NULL, NULL, err, sizeof err), 0);
  assert_int_equal(nnrt_opt_nstate(&c), 2);
  /* amsgrad keeps the maximum of v, centered rmsprop the mean gradient */
  const char *k4[] = {"amsgrad"}, *k5[] = {"centered"};
  assert_int_equal(nnrt_opt_config(&c, "adamw", 1, k4, v2 + 1, err, sizeof err), 0);
  assert_int_equal(nnrt_opt_nstate(&c), 3);
  assert_int_equal(nnrt_opt_rule(&c), NNRT_RULE_AMSGRAD);
  assert_int_equal(nnrt_opt_config(&c, "rmsprop", 1, k5, v2 + 1, err, sizeof err), 0);
  assert_int_equal(nnrt_opt_nstate(&c), 2);
  assert_int_equal(nnrt_opt_rule(&c), NNRT_RULE_CENTERED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_f32_constants),
    cmocka_unit_test(test_sgd), cmocka_unit_test(test_sgd_weight_decay),
    cmocka_unit_test(test_momentum), cmocka_unit_test(test_nesterov),
    cmocka_unit_test(test_adagrad), cmocka_unit_test(test_adadelta),
    cmocka_unit_test(test_rmsprop), cmocka_unit_test(test_adam),
    cmocka_unit_test(test_adamw), cmocka_unit_test(test_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
