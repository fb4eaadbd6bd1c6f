/*
 * progress.c — what a person sees while a model trains.
 *
 * On a terminal (stderr is a tty, no --quiet) a live bar is redrawn in
 * place at most ten times a second: epoch, batch progress, samples/s, ETA
 * and the running loss/accuracy; of long runs about 20 epochs, evenly
 * spaced, plus the last stay on screen, with 4 decimals.  Otherwise
 * (pipes, logs, tests) one plain line per epoch goes to stdout, every
 * epoch, with 9 significant digits (as the --log CSV):
 *     epoch 3/10  loss=0.412345678  accuracy=0.857  12345 samples/s
 * The loss and accuracy are the epoch's running means in training mode;
 * validation and test figures are evaluated in inference mode.  --quiet
 * prints neither.
 *
 * Invariants: nothing here touches the model or the generator, so what is
 * shown never changes what is computed.  It does not print the final
 * machine-readable line (eval.c does).
 */
#include "program.h"
#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

double nnrt_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void nnrt_progress_start(NnrtProgress *g, bool quiet, int64_t epochs, int64_t n) {
  g->bar = !quiet && isatty(STDERR_FILENO);
  g->lines = !quiet && !g->bar;
  g->epochs = epochs;
  g->every = epochs > 20 ? epochs / 20 + (epochs % 20 != 0) : 1; /* the bar's; no epochs + 19: INT64_MAX */
  g->n = n;
  g->t_epoch = g->t_draw = nnrt_now();
}

bool nnrt_progress_shows(const NnrtProgress *g, int64_t epoch) {
  return g->lines || (g->bar && (epoch % g->every == 0 || epoch == g->epochs)); /* lines: every epoch */
}

void nnrt_progress_batch(NnrtProgress *g, int64_t epoch, int64_t done, double loss,
                         double accuracy, bool has_accuracy) {
  if (!g->bar)
    return;
  double now = nnrt_now();
  if (now - g->t_draw < 0.1 && done < g->n)
    return;
  g->t_draw = now;
  double el = now - g->t_epoch, rate = el > 0 ? (double)done / el : 0;
  double eta = rate > 0 ? (double)(g->n - done) / rate : 0;
  if (!(eta < 359999)) /* shown as m:ss; an int conversion of more is undefined */
    eta = 359999;
  char bar[31];
  int fill = g->n > 0 ? (int)(30.0 * (double)done / (double)g->n) : 30; /* 30 * done overflows */
  for (int i = 0; i < 30; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[30] = 0;
  fprintf(stderr, "\repoch %lld/%lld [%s] %lld/%lld  %.0f samples/s  ETA %d:%02d  loss=%.4f",
          (long long)epoch, (long long)g->epochs, bar, (long long)done, (long long)g->n, rate,
          (int)eta / 60, (int)eta % 60, loss);
  if (has_accuracy)
    fprintf(stderr, "  acc=%.4f", accuracy);
  fprintf(stderr, "\033[K");
  fflush(stderr);
}

/* "  key=value" in format fmt (a literal "%.4f" or "%.9g"), when shown. */
static void value(FILE *f, const char *key, const char *fmt, double x, bool shown) {
  if (!shown)
    return;
  fprintf(f, "  %s=", key);
  fprintf(f, fmt, x); /* NOLINT: fmt is one of two literals */
}

void nnrt_progress_epoch(NnrtProgress *g, int64_t epoch, const NnrtMetrics *m, double seconds) {
  double rate = seconds > 0 ? (double)g->n / seconds : 0;
  if (nnrt_progress_shows(g, epoch)) {
    FILE *f = g->bar ? stderr : stdout;
    if (g->bar)
      fprintf(f, "\r\033[K");
    const char *v = g->bar ? "%.4f" : "%.9g";
    fprintf(f, "epoch %lld/%lld", (long long)epoch, (long long)g->epochs);
    value(f, "loss", v, m->loss, true);
    for (int i = 0; i < m->nobj; i++)
      value(f, m->obj_name[i], v, m->obj[i], true);
    value(f, "accuracy", v, m->accuracy, m->has_accuracy);
    for (int i = 0; i < m->nmet; i++) /* (an mAP has no running mean) */
      value(f, m->met_name[i], v, m->met[NNRT_SPLIT_TRAIN][i], !(m->met_whole[i] && isnan(m->met[NNRT_SPLIT_TRAIN][i])));
    value(f, "val_loss", v, m->val_loss, m->has_val);
    value(f, "val_accuracy", v, m->val_accuracy, m->has_val && m->has_accuracy);
    char key[80];
    for (int i = 0; i < m->nmet && m->has_val; i++) {
      snprintf(key, sizeof key, "val_%s", m->met_name[i]);
      value(f, key, v, m->met[NNRT_SPLIT_VAL][i], true);
    }
    value(f, "test_loss", v, m->test_loss, m->has_test);
    value(f, "test_accuracy", v, m->test_accuracy, m->has_test && m->has_accuracy);
    for (int i = 0; i < m->nmet && m->has_test; i++) {
      snprintf(key, sizeof key, "test_%s", m->met_name[i]);
      value(f, key, v, m->met[NNRT_SPLIT_TEST][i], true);
    }
    fprintf(f, "  %.0f samples/s\n", rate);
    fflush(f);
  }
  if (g->bar) /* only the bar reads it (a clock read per epoch is XOR's 2%) */
    g->t_epoch = nnrt_now();
}

void nnrt_progress_abort(NnrtProgress *g) {
  if (g->bar) {
    fprintf(stderr, "\n");
    fflush(stderr);
  }
}
