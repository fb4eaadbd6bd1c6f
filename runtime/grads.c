/*
 * grads.c — the `grads` command: the gradients the compiler derived, for a
 * student to look at.  One forward and backward pass of the train kernel
 * on the first `batch` training samples (unshuffled; fresh weights or a
 * --load'ed checkpoint), no optimizer step, then for every parameter its
 * gradient's L2 norm and largest magnitude.
 *
 * `--rows NAME` also prints the L2 norm of each row (index along the first
 * axis) of NAME's gradient, as CSV `row,grad_norm` (to -o FILE.csv, or
 * stdout): with a zero "probe" parameter added to a recurrent state at
 * every step (`hs = hs + probe[t, :]`), row t is |dL/dh_t| summed over the
 * batch — how far the error signal reaches back in time (examples/
 * lecture08/vanishing).  Sums run in double, in index order.
 */
#include "files.h"
#include "program.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static double at(const NnrtSlotDesc *d, const void *base, int64_t i) {
  return d->dtype == NNRT_F32 ? ((const float *)base)[i] : ((const double *)base)[i];
}

/* The per-row norms of gradient g (of param w) as CSV on f. */
static void print_rows(FILE *f, const NnrtSlotDesc *w, const void *g) {
  int64_t rows = w->rank ? w->dims[0] : 1, n = nnrt_slot_count(w, 1), per = rows ? n / rows : 0;
  fprintf(f, "row,grad_norm\n");
  for (int64_t r = 0; r < rows; r++) {
    double s = 0;
    for (int64_t k = 0; k < per; k++) {
      double v = at(w, g, r * per + k);
      s += v * v;
    }
    fprintf(f, "%lld,%.9g\n", (long long)r, sqrt(s));
  }
}

int nnrt_cmd_grads(NnrtProgram *p, const NnrtOptions *o) {
  const char *name = p->name ? p->name : "";
  if (!p->train || nnrt_program_find_output(p, NNRT_OUT_LOSS) < 0 || p->ngrads == 0) {
    fprintf(stderr, "error: program '%s' has no train kernel with parameters to differentiate\n", name);
    return 1;
  }
  int rows = -1;
  if (o->rows) {
    for (int g = 0; g < p->ngrads; g++)
      if (!strcmp(p->slots[p->grads[g].param].name, o->rows))
        rows = g;
    if (rows < 0) {
      fprintf(stderr, "error: --rows %s: program '%s' has no parameter of that name (`grads` alone lists them)\n",
              o->rows, name);
      return 1;
    }
  }
  int64_t B = o->batch > 0 ? o->batch : p->batch;
  NnrtSession s;
  if (nnrt_session_open_loaded(&s, p, o, B, SESSION_DATA) != 0)
    return 1;
  int rc = 1;
  FILE *csv = NULL;
  char err[600];
  if (o->rows && o->out && !(csv = nnrt_open_output(o->out, "gradient rows", err, sizeof err))) {
    fprintf(stderr, "error: %s\n", err);
    goto out;
  }
  int64_t bs = s.train.n < B ? s.train.n : B;
  nnrt_session_gather(&s, &s.train, NULL, 0, bs);
  double loss = nnrt_session_objectives(&s, bs, 0);
  if (p->nobjs > 1) { /* every objective's gradients, at the same params */
    nnrt_session_objectives(&s, bs, p->nobjs - 1);
    loss = s.obj_loss[0];
  }
  printf("grads: %lld samples, loss=%.9g", (long long)bs, loss);
  for (int i = 0; i < p->nobjs && p->nobjs > 1; i++)
    printf(" %s=%.9g", p->objs[i].name, s.obj_loss[i]);
  printf("\n");
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtSlotDesc *w = &p->slots[p->grads[g].param];
    const void *gv = s.slots[p->grads[g].grad];
    int64_t n = nnrt_slot_count(w, 1);
    double ss = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) {
      double v = at(w, gv, i);
      ss += v * v;
      mx = fmax(mx, fabs(v));
    }
    char shape[128];
    nnrt_format_shape(shape, sizeof shape, w->rank, w->dims);
    printf("%-24s %-16s norm=%-12.6g max=%.6g\n", w->name, shape, sqrt(ss), mx);
  }
  if (rows >= 0) {
    print_rows(csv ? csv : stdout, &p->slots[p->grads[rows].param], s.slots[p->grads[rows].grad]);
    if (csv) {
      FILE *f = csv;
      csv = NULL;
      if (nnrt_close_output(f, o->out, "gradient rows", err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        goto out;
      }
      printf("wrote %s: the per-row gradient norms of %s\n", o->out, o->rows);
    }
  }
  rc = 0;
out:
  if (csv)
    fclose(csv);
  nnrt_session_free(&s);
  return rc;
}
