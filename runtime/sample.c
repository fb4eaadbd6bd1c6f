/*
 * sample.c — the `sample` command: generate text with a trained language
 * model, or images with a generator (sample_images, below).  The train block's `sample = ...;` is the logits [B, V] of the
 * token that follows a window of T token ids (the train split's text
 * field read with shift 0).  Starting from --prompt, each step writes the
 * last T tokens into that field (batch 1), runs the eval kernel (inference
 * mode), divides the logits by --temperature, draws the next token from
 * their softmax with a generator seeded by --seed, prints it and feeds it
 * back.  A prompt shorter than T is padded on the left with the newline
 * token (the first token of the prompt if the vocabulary has no newline).
 * --temperature 0 takes the most likely token (the first on a tie).
 *
 * The draw is one uniform number per token from the run's generator
 * (runtime/rand.c) against the cumulative probabilities in id order,
 * computed in double: a seed gives the same text on every run.
 */
#include "files.h"
#include "program.h"
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

/* The text window: the INPUT slot of the train split's text field with
 * shift 0; -1 if none. */
static int window_slot(const NnrtProgram *p, int64_t *T) {
  for (int j = 0; j < p->ndata; j++) {
    const NnrtDataDesc *d = &p->data[j];
    if (d->kind != DATA_TEXT || d->shift != 0 || strcmp(d->split, "train"))
      continue;
    for (int i = 0; i < p->nslots; i++)
      if (p->slots[i].role == NNRT_SLOT_INPUT && !strcmp(p->slots[i].name, d->field)) {
        *T = d->len;
        return i;
      }
  }
  return -1;
}

/* The next token from logits z[0..n) at temperature temp, u uniform in [0, 1). */
static int64_t draw(const double *z, int64_t n, double temp, double u) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (z[i] > z[best])
      best = i;
  if (temp == 0 || !isfinite(z[best]))
    return best;
  double total = 0;
  for (int64_t i = 0; i < n; i++)
    total += exp((z[i] - z[best]) / temp);
  double at = u * total, acc = 0;
  for (int64_t i = 0; i < n; i++) {
    acc += exp((z[i] - z[best]) / temp);
    if (at < acc)
      return i;
  }
  return best; /* rounding left u·total past the last sum */
}

/* (program.h) Format 1.0, little-endian f4/f8, C order, shape [n,
 * per-sample dims...], which a data field's npy("...") reads back:
 * generated images scored by a classifier program
 * (examples/lecture12/score.nn), `OUT predict`'s output. */
int nnrt_write_npy(const NnrtSlotDesc *ss, const void *base, int64_t n, const char *path, const char *what) {
  char shape[256], header[400], err[512];
  int at = snprintf(shape, sizeof shape, "(%lld,", (long long)n);
  int64_t per = 1;
  for (int i = 1; i < ss->rank && at > 0 && (size_t)at < sizeof shape; i++) {
    at += snprintf(shape + at, sizeof shape - (size_t)at, "%s%lld", i > 1 ? ", " : " ", (long long)ss->dims[i]);
    per *= ss->dims[i];
  }
  /* "(n,)" for one dim, "(n, a, b)" for more */
  int k = snprintf(header, sizeof header, "{'descr': '<%s', 'fortran_order': False, 'shape': %s), }",
                   ss->dtype == NNRT_F64 ? "f8" : "f4", shape);
  /* pad with spaces so that magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64 */
  while ((10 + k + 1) % 64 != 0)
    header[k++] = ' ';
  header[k++] = '\n';
  FILE *f = nnrt_open_output(path, what, err, sizeof err);
  if (!f) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(k & 0xff), (unsigned char)(k >> 8)};
  fwrite(pre, 1, sizeof pre, f);
  fwrite(header, 1, (size_t)k, f);
  fwrite(base, nnrt_dtype_size(ss->dtype), (size_t)(n * per), f); /* checked by nnrt_close_output */
  if (nnrt_close_output(f, path, what, err, sizeof err) != 0) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  return 0;
}

/* Images: the train block's `sample = G(rand_normal([size(x, 0), k]));` for
 * --count samples (default 16) in one inference run with the eval
 * generator seeded from --seed (so a seed gives the same PNG bytes), as a
 * grid at -o (default sample.png).  The batch's data rows are gathered
 * (the first ones of the train split) only because the expression may
 * take its batch size from them. */
static int sample_images(NnrtProgram *p, const NnrtOptions *o, int out) {
  int64_t count = o->count > 0 ? o->count : 16;
  NnrtSession s;
  if (nnrt_session_open_loaded(&s, p, o, count, SESSION_DATA) != 0)
    return 1;
  int rc = 1;
  if (s.train.n < count) {
    fprintf(stderr, "error: --count %lld: the batch takes its size from the data, which has %lld training samples\n",
            (long long)count, (long long)s.train.n);
    goto out;
  }
  uint64_t seed = o->has_seed ? o->seed : s.seed; /* --seed, not the checkpoint's */
  nnrt_rng_seed(&s.eval_rng, seed ^ 0x6576616c5eedull);
  nnrt_session_gather(&s, &s.train, NULL, 0, count);
  s.eval_ctx.on_demand = 1; /* `sample` is computed only when asked */
  p->eval(&s.eval_ctx, s.slots, s.scratch, count);
  s.eval_ctx.on_demand = 0;
  const char *path = o->out ? o->out : "sample.png";
  size_t len = strlen(path);
  bool npy = len > 4 && !strcmp(path + len - 4, ".npy");
  if (npy ? nnrt_write_npy(&p->slots[out], s.slots[out], count, path, "the samples") != 0
          : nnrt_draw_grid(&p->slots[out], s.slots[out], count, path) != 0)
    goto out;
  char shape[128];
  nnrt_format_shape(shape, sizeof shape, p->slots[out].rank, p->slots[out].dims);
  printf("wrote %s: %lld samples of %s (seed %llu)%s\n", path, (long long)count, shape, (unsigned long long)seed,
         npy ? ", as NumPy data" : ", values clamped to [0, 1]");
  rc = 0;
out:
  nnrt_session_free(&s);
  return rc;
}

bool nnrt_samples_images(const NnrtProgram *p) {
  int64_t T;
  return nnrt_program_find_output(p, "sample") >= 0 && window_slot(p, &T) < 0 && p->eval;
}

/* train --samples DIR: after each epoch, up to 16 images of `sample` from
 * one fixed draw of the evaluation generator (so the grids of successive
 * epochs show the same noise decoded by a better generator), written as
 * DIR/epoch-NNN.png.  It gathers the first training rows (for the batch
 * size), and touches neither the training generator nor any weight, so a
 * run with --samples trains to the same bits as one without. */
int nnrt_sample_epoch(NnrtSession *s, const char *dir) {
  NnrtProgram *p = s->p;
  int out = nnrt_program_find_output(p, "sample");
  int64_t n = s->B < 16 ? s->B : 16;
  if (n > s->train.n)
    n = s->train.n;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "error: --samples %s: cannot make the folder: %s\n", dir, strerror(errno));
    return 1;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/epoch-%03lld.png", dir, (long long)s->epoch);
  nnrt_rng_seed(&s->eval_rng, s->seed ^ 0x73616d706c65ull);
  nnrt_session_gather(s, &s->train, NULL, 0, n);
  s->eval_ctx.on_demand = 1;
  p->eval(&s->eval_ctx, s->slots, s->scratch, n);
  s->eval_ctx.on_demand = 0;
  return nnrt_draw_grid(&p->slots[out], s->slots[out], n, path);
}

int nnrt_cmd_sample(NnrtProgram *p, const NnrtOptions *o) {
  const char *name = p->name ? p->name : "";
  int out = nnrt_program_find_output(p, "sample");
  int64_t T = 0;
  int win = window_slot(p, &T);
  if (out >= 0 && win < 0 && p->eval)
    return sample_images(p, o, out);
  if (out < 0 || win < 0 || !p->eval) {
    fprintf(stderr, "error: program '%s' has no 'sample' output; add `sample = ...;` (the next token's logits "
            "given the window x) to its train block\n", name);
    return 1;
  }
  NnrtSession s;
  if (nnrt_session_open_loaded(&s, p, o, 1, SESSION_DATA) != 0)
    return 1;
  s.eval_ctx.on_demand = 1; /* `sample` is computed only when asked */
  int rc = 1;
  int32_t *ids = NULL;
  double *z = NULL;
  const NnrtVocab *v = nnrt_session_vocab(&s);
  const NnrtSlotDesc *os = &p->slots[out];
  int64_t V = os->dims[os->rank - 1], nv = v ? nnrt_vocab_size(v) : 0;
  if (nv <= 0 || nv > V) {
    fprintf(stderr, "error: 'sample' has %lld logits but the vocabulary %lld tokens\n", (long long)V, (long long)nv);
    goto out;
  }
  const char *prompt = o->prompt ? o->prompt : "";
  char err[600];
  int64_t np = nnrt_text_encode(v, prompt, strlen(prompt), "--prompt", "the training corpus", NULL, 0, err, sizeof err);
  if (np < 0) {
    fprintf(stderr, "error: %s\n", err);
    goto out;
  }
  int64_t len = o->len > 0 ? o->len : 200, total = T + np + len;
  ids = nnrt_alloc((size_t)total * sizeof *ids, "sampled tokens");
  z = nnrt_alloc((size_t)V * sizeof *z, "sample logits");
  if (!ids || !z) {
    nnrt_oom("sampled tokens", (size_t)total * sizeof *ids);
    goto out;
  }
  int32_t pad = 0, nl;
  if (nnrt_text_encode(v, "\n", 1, "", "", &nl, 1, err, sizeof err) == 1)
    pad = nl;
  else if (np > 0)
    nnrt_text_encode(v, prompt, strlen(prompt), "", "", &pad, 1, err, sizeof err);
  for (int64_t i = 0; i < T; i++)
    ids[i] = pad;
  nnrt_text_encode(v, prompt, strlen(prompt), "", "", ids + T, np, err, sizeof err);
  NnrtRng rng;
  nnrt_rng_seed(&rng, (o->has_seed ? o->seed : s.seed) ^ 0x73616d706c65ull);
  fputs(prompt, stdout);
  bool words = nnrt_vocab_is_words(v);
  for (int64_t k = T + np; k < total; k++) {
    memcpy(s.slots[win], ids + k - T, (size_t)T * sizeof *ids);
    p->eval(&s.eval_ctx, s.slots, s.scratch, 1);
    for (int64_t i = 0; i < V; i++)
      z[i] = os->dtype == NNRT_F64 ? ((double *)s.slots[out])[i] : ((float *)s.slots[out])[i];
    ids[k] = (int32_t)draw(z, nv, o->temperature, nnrt_rng_uniform(&rng));
    printf("%s%s", words && k > T ? " " : "", nnrt_vocab_token(v, ids[k]));
  }
  printf("\n");
  rc = 0;
out:
  nnrt_free(ids);
  nnrt_free(z);
  nnrt_session_free(&s);
  return rc;
}
