/*
 * predict.c — the `predict` command: the network's output for given inputs,
 * as a NumPy file.  The output is the program's `predict` (the train
 * block's `predict = ...;`, else its classifier loss's prediction, else
 * its `show`; compiler/lower_train.c), evaluated in inference mode by the
 * eval kernel, batches of --batch rows (default the program's).
 *
 *   OUT predict [--load FILE] [--input [FIELD=]FILE.npy]... [--count N] [-o FILE.npy]
 *
 * Inputs: each --input fills the INPUT slot of data field FIELD (the first
 * field of the data block when FIELD= is left out) with a .npy array of
 * [n, per-sample dims...], the values the model receives (the data
 * block's scaling is not applied again); fields given no file are zero
 * (labels: class 0), so a loss the kernel also computes is meaningless
 * but harmless.  Without --input: the first --count samples (default all)
 * of the test split (the train split if there is none), read as eval reads
 * them.  `nnc export` writes the same computation as an ONNX file, and
 * tests/e2e/onnx.sh compares the two.
 *
 * It does not train, and it reseeds the eval generator as eval.c does, so
 * the same checkpoint and inputs give the same bytes.
 */
#include "program.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The INPUT slot of data field `field` (NULL: the first INPUT slot), or -1. */
static int input_slot(const NnrtProgram *p, const char *field, size_t len) {
  for (int i = 0; i < p->nslots; i++)
    if (p->slots[i].role == NNRT_SLOT_INPUT &&
        (!field || (strlen(p->slots[i].name) == len && !strncmp(p->slots[i].name, field, len))))
      return i;
  return -1;
}

/* The split the --input files make: fields[i] of each INPUT slot, a file's
 * array or zeros, all of n samples.  0, or 1 after a message. */
static int input_split(const NnrtProgram *p, const NnrtOptions *o, NnrtSplit *sp) {
  memset(sp, 0, sizeof *sp);
  sp->fields = nnrt_alloc_or_say((size_t)p->nslots * sizeof *sp->fields, "input table");
  sp->scale = nnrt_alloc_or_say((size_t)p->nslots * sizeof *sp->scale, "input table");
  if (!sp->fields || !sp->scale)
    return 1;
  memset(sp->fields, 0, (size_t)p->nslots * sizeof *sp->fields);
  for (int i = 0; i < p->nslots; i++)
    sp->scale[i] = 1;
  sp->n = -1;
  for (int k = 0; k < o->ninputs; k++) {
    const char *arg = o->inputs[k], *eq = strchr(arg, '='), *path = eq ? eq + 1 : arg;
    int slot = input_slot(p, eq ? arg : NULL, eq ? (size_t)(eq - arg) : 0);
    if (slot < 0) {
      fprintf(stderr, "error: --input %s: the program has no data field '%.*s'\n", arg, (int)(eq ? eq - arg : 0), arg);
      return 1;
    }
    const NnrtSlotDesc *sd = &p->slots[slot];
    if (sp->fields[slot].data) {
      fprintf(stderr, "error: --input %s: field '%s' is given twice\n", arg, sd->name);
      return 1;
    }
    char err[600];
    NnrtArray *a = &sp->fields[slot];
    if (nnrt_load_npy(path, a, err, sizeof err) != 0) {
      fprintf(stderr, "error: --input %s: %s\n", arg, err);
      return 1;
    }
    int64_t per = a->rank ? nnrt_array_count(a) / (a->dims[0] ? a->dims[0] : 1) : 0;
    if (a->rank < 1 || (a->dims[0] > 0 && per != nnrt_slot_sample_count(sd))) {
      char want[128], have[128];
      nnrt_format_shape(want, sizeof want, sd->rank, sd->dims);
      nnrt_format_shape(have, sizeof have, a->rank, a->dims);
      fprintf(stderr, "error: --input %s: field '%s' is %s (samples first), but %s holds %s\n", arg, sd->name, want,
              path, have);
      return 1;
    }
    if (sp->n >= 0 && a->dims[0] != sp->n) {
      fprintf(stderr, "error: --input %s: %lld samples, but an earlier --input has %lld\n", arg,
              (long long)a->dims[0], (long long)sp->n);
      return 1;
    }
    sp->n = a->dims[0];
  }
  for (int i = 0; i < p->nslots; i++) { /* the fields no file gives: zeros */
    const NnrtSlotDesc *sd = &p->slots[i];
    if (sd->role != NNRT_SLOT_INPUT || sp->fields[i].data)
      continue;
    NnrtArray *a = &sp->fields[i];
    size_t bytes = (size_t)(sp->n * nnrt_slot_sample_count(sd)) * nnrt_dtype_size(sd->dtype);
    if (!(a->data = nnrt_alloc_or_say(bytes, "zero input")))
      return 1;
    memset(a->data, 0, bytes);
    a->dtype = sd->dtype;
    a->rank = 1;
    a->dims[0] = sp->n * nnrt_slot_sample_count(sd);
  }
  sp->present = true;
  return 0;
}

int nnrt_cmd_predict(NnrtProgram *p, const NnrtOptions *o) {
  const char *name = p->name ? p->name : "";
  int out = nnrt_program_find_output(p, "predict");
  if (out < 0 || !p->eval) {
    fprintf(stderr, "error: program '%s' has no 'predict' output; add `predict = forward(x);` to its train "
            "block\n", name);
    return 1;
  }
  const NnrtSlotDesc *os = &p->slots[out];
  NnrtSplit given = {0};
  if (o->ninputs && input_split(p, o, &given) != 0) {
    nnrt_split_free(&given, p->nslots);
    return 1;
  }
  int64_t B = o->batch > 0 ? o->batch : p->batch;
  NnrtSession s;
  if (nnrt_session_open_loaded(&s, p, o, B, o->ninputs ? 0 : SESSION_DATA | SESSION_TEST) != 0) {
    nnrt_split_free(&given, p->nslots);
    return 1;
  }
  int rc = 1;
  char *rows = NULL;
  const NnrtSplit *sp = o->ninputs ? &given : s.test.present ? &s.test : &s.train;
  int64_t n = o->count > 0 && o->count < sp->n ? o->count : sp->n;
  size_t row = (size_t)nnrt_slot_sample_count(os) * nnrt_dtype_size(os->dtype);
  if (!(rows = nnrt_alloc_or_say(row * (size_t)(n ? n : 1), "predictions")))
    goto out;
  nnrt_rng_seed(&s.eval_rng, s.seed ^ 0x6576616c5eedull);
  bool carried = nnrt_program_carried(p) != NULL;
  s.eval_ctx.on_demand = 1; /* `predict` is computed only when asked */
  for (int64_t start = 0; start < n; start += s.B) {
    int64_t bs = n - start < s.B ? n - start : s.B;
    if (carried) /* as eval: each window starts from its initialiser */
      nnrt_session_reset_carried(&s);
    nnrt_session_gather(&s, sp, NULL, start, bs);
    p->eval(&s.eval_ctx, s.slots, s.scratch, bs);
    memcpy(rows + (size_t)start * row, s.slots[out], (size_t)bs * row);
  }
  s.eval_ctx.on_demand = 0;
  const char *path = o->out ? o->out : "predict.npy";
  if (nnrt_write_npy(os, rows, n, path, "the predictions") != 0)
    goto out;
  char shape[128];
  nnrt_format_shape(shape, sizeof shape, os->rank, os->dims);
  printf("wrote %s: predict %s of %lld %s\n", path, shape, (long long)n,
         o->ninputs ? "samples from --input" : sp == &s.test ? "test samples" : "train samples");
  rc = 0;
out:
  nnrt_free(rows);
  nnrt_session_free(&s);
  nnrt_split_free(&given, p->nslots);
  return rc;
}
