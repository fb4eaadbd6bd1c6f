/*
 * fake_program.c — test scaffolding: what nnc would generate for logistic
 * regression on two Gaussian blobs, written by hand.  f64 params W (2) and
 * b (1), a STATE slot counting samples seen, inputs x (B, 2) f64 and
 * y (B) i32, outputs "loss" (mean BCE) and "correct".  The train kernel
 * applies inverted dropout (keep 0.9) to x through nnrt_uniform, so resume
 * and gradcheck exercise the generator; the eval kernel does not.
 *
 * Environment switches make broken variants for error tests:
 *   FAKE_OPT=name      optimizer (default adam, lr 0.05)
 *   FAKE_NAN=1         the loss becomes NaN after 500 samples
 *   FAKE_SHAPE=1       W declared as (1, 2) instead of (2)
 *   FAKE_BADDATA=1     x given 3 values per sample
 *   FAKE_NOTEST=1      no test split
 *   FAKE_KILL_AT=n     the process dies (_exit 137) once n samples were seen,
 *                      as if killed mid-epoch
 *   FAKE_FILES=dir     the data in CSV files written to dir (x and y of each
 *                      split: four files, read in parallel) instead of tables
 *   FAKE_HUGE=1        W (and dW) declared with 2^40 elements (8 TiB each)
 *   FAKE_OVERFLOW=1    W declared (3037000500, 3037000500): 2^63 elements
 *   FAKE_CLASSES=1     y declared as 2-class labels (nnrt_input_classes)
 *   FAKE_BADLABEL=v    train sample 37's label is v
 *   FAKE_LABELS=path   the train labels read from an IDX or .npy file
 */
#include "fake_program.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { S_W, S_B, S_DW, S_DB, S_SEEN, S_X, S_Y, S_LOSS, S_CORRECT };

static int env(const char *name) { return getenv(name) && atoi(getenv(name)) != 0; }

static void kernel(void *ctx, void **slots, int64_t batch, int train) {
  const double *w = slots[S_W], *b = slots[S_B]; /* (2), (1) */
  double *dw = slots[S_DW], *db = slots[S_DB];
  double *seen = slots[S_SEEN];                  /* (1) */
  const double *x = slots[S_X];                  /* (B, 2) */
  const int32_t *y = slots[S_Y];                 /* (B) */
  double loss = 0, correct = 0;
  for (int64_t i = 0; i < batch; i++) {
    double x0 = x[2 * i], x1 = x[2 * i + 1];
    if (train) {
      x0 = nnrt_uniform(ctx) < 0.9 ? x0 / 0.9 : 0;
      x1 = nnrt_uniform(ctx) < 0.9 ? x1 / 0.9 : 0;
    }
    double z = w[0] * x0 + w[1] * x1 + b[0];
    double p = 1 / (1 + exp(-z));
    loss += y[i] ? -log(p) : -log1p(-p);
    correct += (p > 0.5) == (y[i] == 1);
    if (train) {
      double d = (p - y[i]) / (double)batch;
      dw[0] += d * x0;
      dw[1] += d * x1;
      db[0] += d;
    }
  }
  if (train) {
    seen[0] += (double)batch;
    if (getenv("FAKE_KILL_AT") && seen[0] >= atof(getenv("FAKE_KILL_AT")))
      _exit(137);
    if (env("FAKE_NAN") && seen[0] > 500)
      loss = NAN;
  }
  *(double *)slots[S_LOSS] = loss / (double)batch;
  *(double *)slots[S_CORRECT] = correct;
}

static void train_k(void *ctx, void **slots, char *scratch, int64_t batch) {
  (void)scratch;
  kernel(ctx, slots, batch, 1);
}
static void eval_k(void *ctx, void **slots, char *scratch, int64_t batch) {
  (void)scratch;
  kernel(ctx, slots, batch, 0);
}
static int64_t scratch_fn(int64_t batch) { return 8 * batch; }

/* Two blobs around (−1, −1) (label 0) and (1, 1) (label 1). */
static void blobs(NnrtProgram *p, const char *split, int64_t n, uint64_t seed) {
  NnrtRng r;
  nnrt_rng_seed(&r, seed);
  int per = env("FAKE_BADDATA") ? 3 : 2;
  double *x = malloc(sizeof(double) * (size_t)(n * per)), *y = malloc(sizeof(double) * (size_t)n);
  for (int64_t i = 0; i < n; i++) {
    y[i] = (double)(i % 2);
    for (int k = 0; k < per; k++)
      x[i * per + k] = (y[i] ? 1.0 : -1.0) + 0.9 * nnrt_rng_normal(&r);
  }
  /* FAKE_BADLABEL=v: train sample 37's label becomes v (with FAKE_CLASSES). */
  if (getenv("FAKE_BADLABEL") && strcmp(split, "train") == 0)
    y[37] = atof(getenv("FAKE_BADLABEL"));
  const char *dir = getenv("FAKE_FILES");
  const char *labels = getenv("FAKE_LABELS"); /* an IDX or .npy file of train labels */
  if (labels && strcmp(split, "train") == 0) {
    nnrt_data_table(p, "x", split, n, per, x);
    nnrt_data_idx(p, "y", split, labels, 1.0);
  } else if (dir) {
    for (int f = 0; f < 2; f++) {
      char path[512];
      snprintf(path, sizeof path, "%s/%s_%s.csv", dir, split, f ? "y" : "x");
      FILE *out = fopen(path, "w");
      for (int64_t i = 0; out && i < n; i++)
        for (int k = 0; k < (f ? 1 : per); k++)
          fprintf(out, "%.17g%c", f ? y[i] : x[i * per + k], k + 1 < (f ? 1 : per) ? ',' : '\n');
      if (out)
        fclose(out);
      nnrt_data_csv(p, f ? "y" : "x", split, path, 0, 0, -1, 1.0);
    }
  } else {
    nnrt_data_table(p, "x", split, n, per, x);
    nnrt_data_table(p, "y", split, n, 1, y);
  }
  free(x);
  free(y);
}

void fake_setup(NnrtProgram *p) {
  int64_t w_dims[2] = {2, 0}, one = 1, xb[2] = {NNRT_BATCH, 2}, yb[1] = {NNRT_BATCH};
  int w_rank = 1;
  if (env("FAKE_SHAPE")) {
    w_dims[0] = 1;
    w_dims[1] = 2;
    w_rank = 2;
  }
  if (env("FAKE_HUGE"))
    w_dims[0] = (int64_t)1 << 40;
  if (env("FAKE_OVERFLOW")) {
    w_dims[0] = w_dims[1] = 3037000500;
    w_rank = 2;
  }
  nnrt_program(p, "fake_logreg", "fake_logreg.nn");
  nnrt_slot(p, S_W, NNRT_SLOT_PARAM, "W", NNRT_F64, w_rank, w_dims);
  nnrt_slot(p, S_B, NNRT_SLOT_PARAM, "b", NNRT_F64, 1, &one);
  nnrt_slot(p, S_DW, NNRT_SLOT_GRAD, "dW", NNRT_F64, w_rank, w_dims);
  nnrt_slot(p, S_DB, NNRT_SLOT_GRAD, "db", NNRT_F64, 1, &one);
  nnrt_slot(p, S_SEEN, NNRT_SLOT_STATE, "seen", NNRT_F64, 1, &one);
  nnrt_slot(p, S_X, NNRT_SLOT_INPUT, "x", NNRT_F64, 2, xb);
  nnrt_slot(p, S_Y, NNRT_SLOT_INPUT, "y", NNRT_I32, 1, yb);
  nnrt_slot(p, S_LOSS, NNRT_SLOT_OUTPUT, "loss", NNRT_F64, 0, NULL);
  nnrt_slot(p, S_CORRECT, NNRT_SLOT_OUTPUT, "correct", NNRT_F64, 0, NULL);
  nnrt_init(p, S_W, "xavier_uniform", 0, NULL, 2, 1);
  nnrt_init(p, S_B, "zeros", 0, NULL, 0, 0);
  nnrt_grad(p, S_DW, S_W, 0);
  nnrt_grad(p, S_DB, S_B, 0);
  nnrt_input(p, S_X, "x");
  nnrt_input(p, S_Y, "y");
  if (env("FAKE_CLASSES")) /* y feeds a 2-class onehot */
    nnrt_input_classes(p, S_Y, 2);
  nnrt_output(p, S_LOSS, NNRT_OUT_LOSS);
  nnrt_output(p, S_CORRECT, NNRT_OUT_CORRECT);
  blobs(p, "train", 240, 99);
  if (!env("FAKE_NOTEST"))
    blobs(p, "test", 120, 100);
  nnrt_train_config(p, 10, 16, 1);
  const char *opt = getenv("FAKE_OPT") ? getenv("FAKE_OPT") : "adam";
  const char *keys[] = {"lr"};
  double vals[] = {0.05};
  nnrt_optimizer(p, 0, opt, 1, keys, vals);
  const char *skeys[] = {"min_lr"};
  double svals[] = {0.005};
  nnrt_schedule(p, 0, "cosine", 1, skeys, svals);
  nnrt_kernels(p, train_k, scratch_fn, eval_k, scratch_fn);
  nnrt_info_row(p, "input", "input", "[B, 2]", 0, 0);
  nnrt_info_row(p, "dense", "linear+sigmoid", "[B, 1]", 3, 6);
}
