/*
 * info.c — the `info` command: a Keras-summary-like table of the layers the
 * compiler described with nnrt_info_row, then parameter totals.
 *
 * Totals come from the slots, not the rows, so they are right even when
 * the compiler emits no rows (then each PARAM/STATE slot is listed).  It
 * loads no data and allocates no slots.
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

int nnrt_cmd_info(NnrtProgram *p, const NnrtOptions *o) {
  (void)o;
  printf("Model: %s%s%s%s\n", p->name ? p->name : "(unnamed)", p->source && *p->source ? " (" : "",
         p->source ? p->source : "", p->source && *p->source ? ")" : "");
  rule('_');
  printf("%-32s %-20s %14s %16s\n", "Layer (kind)", "Output shape", "Params", "FLOPs/sample");
  rule('=');
  if (p->nrows > 0) {
    for (int i = 0; i < p->nrows; i++) {
      char label[256];
      snprintf(label, sizeof label, "%s (%s)", p->rows[i].name, p->rows[i].kind);
      printf("%-32s %-20s %14lld %16lld\n", label, p->rows[i].shape, (long long)p->rows[i].params,
             (long long)p->rows[i].flops);
    }
  } else {
    for (int i = 0; i < p->nslots; i++) {
      const NnrtSlotDesc *s = &p->slots[i];
      if (s->role != NNRT_SLOT_PARAM && s->role != NNRT_SLOT_STATE)
        continue;
      char label[256], shape[128];
      snprintf(label, sizeof label, "%s (%s)", s->name, s->role == NNRT_SLOT_PARAM ? "param" : "state");
      nnrt_format_shape(shape, sizeof shape, s->rank, s->dims);
      printf("%-32s %-20s %14lld %16s\n", label, shape, (long long)nnrt_slot_count(s, 1), "-");
    }
  }
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
  printf("Total params: %lld\n", (long long)(trainable + state));
  printf("Trainable params: %lld\n", (long long)trainable);
  printf("State (non-trainable): %lld\n", (long long)state);
  printf("Parameter bytes: %.0f (%s)\n", bytes, hb);
  rule('_');
  return 0;
}
