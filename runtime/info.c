/*
 * info.c — the `info` command: a Keras-summary-like table of the layers the
 * compiler described with nnrt_info_row, then the model's own params and
 * states (those no layer row owns), then totals: parameters, FLOPs per
 * sample (nnrt_info_flops) and memory at the program's batch size.
 *
 * Totals come from the slots, not the rows, so they are right even when
 * the compiler emits no rows.  Memory is what a training session
 * allocates (session.c): every slot at the batch size, the optimizer's
 * state per param, and one scratch block, the larger of the two kernels'
 * memory plans.  It loads no data and allocates no slots.
 */
#include "program.h"
#include <stdio.h>
#include <string.h>

static void rule(char c) {
  for (int i = 0; i < 86; i++)
    putchar(c);
  putchar('\n');
}

static void human(char *buf, size_t len, double bytes) {
  const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    u++;
  }
  snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", bytes, unit[u]);
}

/* A param or state slot named "l1.W" belongs to the row "l1". */
static bool owned_by_row(const NnrtProgram *p, const char *slot) {
  for (int i = 0; i < p->nrows; i++) {
    size_t n = strlen(p->rows[i].name);
    if (strncmp(slot, p->rows[i].name, n) == 0 && slot[n] == '.')
      return true;
  }
  return false;
}

static void print_slot_rows(const NnrtProgram *p) {
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *s = &p->slots[i];
    if ((s->role != NNRT_SLOT_PARAM && s->role != NNRT_SLOT_STATE) || owned_by_row(p, s->name))
      continue;
    char label[256], shape[128];
    snprintf(label, sizeof label, "%s (%s)", s->name, s->role == NNRT_SLOT_PARAM ? "param" : "state");
    nnrt_format_shape(shape, sizeof shape, s->rank, s->dims);
    printf("%-32s %-20s %14lld %16s\n", label, shape, (long long)nnrt_slot_count(s, 1), "-");
  }
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* What a training session allocates at batch B, as session.c lays it out. */
static void print_memory(const NnrtProgram *p, int64_t B) {
  double slots = 0, opt = 0;
  for (int i = 0; i < p->nslots; i++)
    slots += (double)align64((size_t)nnrt_slot_count(&p->slots[i], B) * nnrt_dtype_size(p->slots[i].dtype));
  for (int g = 0; g < p->ngrads; g++) {
    const NnrtSlotDesc *w = &p->slots[p->grads[g].param];
    int o = p->grads[g].opt;
    NnrtOptConfig sgd = {.kind = NNRT_OPT_SGD};
    const NnrtOptConfig *c = o < p->nopts && p->opts[o].declared ? &p->opts[o].cfg : &sgd;
    opt += (double)align64((size_t)nnrt_slot_count(w, 1) * nnrt_dtype_size(w->dtype)) * nnrt_opt_nstate(c);
  }
  int64_t ts = p->train_scratch ? p->train_scratch(B) : 0, es = p->eval_scratch ? p->eval_scratch(B) : 0;
  if (ts < 0 || es < 0) {
    printf("Memory (batch %lld): more than 2^62 bytes\n", (long long)B);
    return;
  }
  char a[32], b[32], c[32], d[32], e[32];
  human(a, sizeof a, (double)ts);
  human(b, sizeof b, (double)es);
  human(c, sizeof c, slots);
  human(d, sizeof d, opt);
  double peak = slots + opt + (double)(ts > es ? ts : es);
  human(e, sizeof e, peak);
  printf("Activation memory (batch %lld, the memory plan's scratch): training step %s, inference %s\n",
         (long long)B, a, b);
  printf("Peak memory (batch %lld, training): %s = slots %s + optimizer state %s + scratch %s\n",
         (long long)B, e, c, d, ts > es ? a : b);
}

int nnrt_cmd_info(NnrtProgram *p, const NnrtOptions *o) {
  (void)o;
  printf("Model: %s%s%s%s\n", p->name ? p->name : "(unnamed)", p->source && *p->source ? " (" : "",
         p->source ? p->source : "", p->source && *p->source ? ")" : "");
  rule('_');
  printf("%-32s %-20s %14s %16s\n", "Layer (kind)", "Output shape", "Params", "FLOPs/sample");
  rule('=');
  for (int i = 0; i < p->nrows; i++) {
    char label[256];
    snprintf(label, sizeof label, "%s (%s)", p->rows[i].name, p->rows[i].kind);
    printf("%-32s %-20s %14lld %16lld\n", label, p->rows[i].shape, (long long)p->rows[i].params,
           (long long)p->rows[i].flops);
  }
  print_slot_rows(p);
  rule('=');
  int64_t trainable = 0, state = 0;
  double bytes = 0;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *s = &p->slots[i];
    int64_t n = nnrt_slot_count(s, 1);
    if (s->role == NNRT_SLOT_PARAM)
      trainable += n;
    else if (s->role == NNRT_SLOT_STATE)
      state += n;
    else
      continue;
    bytes += (double)n * (double)nnrt_dtype_size(s->dtype);
  }
  char hb[32];
  human(hb, sizeof hb, bytes);
  int64_t B = p->batch > 0 ? p->batch : 1;
  printf("Total params: %lld\n", (long long)(trainable + state));
  printf("Trainable params: %lld\n", (long long)trainable);
  printf("State (non-trainable): %lld\n", (long long)state);
  printf("Parameter bytes: %.0f (%s)\n", bytes, hb);
  if (p->has_flops)
    printf("FLOPs per sample (batch %lld): forward %lld, training step %lld (forward and backward)\n",
           (long long)B, (long long)p->eval_flops, (long long)p->train_flops);
  print_memory(p, B);
  rule('_');
  return 0;
}
