/*
 * show.c — the `show` command: run the eval kernel (inference mode) on the
 * first N test samples (train samples if there is no test split) and save
 * a PNG grid with, for each sample, its input image next to the program's
 * `show` output (the train block's `show = forward(x);`).
 *
 * Images: an INPUT slot is drawn if its per-sample shape is [C, H, W] with
 * C = 1 (grey) or 3 (RGB), [H, W], or 784 values (28 x 28).  The output is
 * drawn with the input's geometry when it has as many values per sample,
 * else with its own if that is image-like.  Values are clamped to [0, 1].
 *
 * It does not train, and it evaluates with the same generator reseeding as
 * eval.c, so the picture of a checkpoint is always the same.
 */
#include "png.h"
#include "program.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Geo { int64_t c, h, w; } Geo;

/* The image geometry of per-sample dims (rank, dims), or false. */
static bool image_geo(int rank, const int64_t *dims, Geo *g) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++)
    n *= dims[i];
  if (rank == 3 && (dims[0] == 1 || dims[0] == 3) && dims[1] > 1 && dims[2] > 1)
    *g = (Geo){dims[0], dims[1], dims[2]};
  else if (rank == 2 && dims[0] > 1 && dims[1] > 1)
    *g = (Geo){1, dims[0], dims[1]};
  else if (n == 784)
    *g = (Geo){1, 28, 28};
  else
    return false;
  return true;
}

/* Per-sample dims of a slot: its dims without the leading batch dim. */
static int sample_dims(const NnrtSlotDesc *s, int64_t *dims) {
  int r = 0;
  for (int i = 0; i < s->rank; i++)
    if (!(i == 0 && s->dims[i] == NNRT_BATCH))
      dims[r++] = s->dims[i];
  return r;
}

static double value_at(const NnrtSlotDesc *s, const void *base, int64_t i) {
  return s->dtype == NNRT_F64 ? ((const double *)base)[i] : ((const float *)base)[i];
}

/* Paint sample r of slot (base) at (x0, y0) of an RGB canvas of width cw,
 * each pixel as a scale x scale block. */
static void paint(uint8_t *canvas, int64_t cw, int64_t x0, int64_t y0, int scale,
                  const NnrtSlotDesc *s, const void *base, int64_t r, Geo g) {
  int64_t per = g.c * g.h * g.w;
  for (int64_t y = 0; y < g.h; y++)
    for (int64_t x = 0; x < g.w; x++) {
      uint8_t rgb[3];
      for (int k = 0; k < 3; k++) {
        double v = value_at(s, base, r * per + (g.c == 3 ? k : 0) * g.h * g.w + y * g.w + x);
        v = v > 1 ? 1 : v >= 0 ? v : 0; /* NaN becomes 0 too */
        rgb[k] = (uint8_t)(v * 255 + 0.5);
      }
      for (int dy = 0; dy < scale; dy++)
        for (int dx = 0; dx < scale; dx++)
          memcpy(canvas + ((y0 + y * scale + dy) * cw + x0 + x * scale + dx) * 3, rgb, 3);
    }
}

int nnrt_cmd_show(NnrtProgram *p, const NnrtOptions *o) {
  const char *name = p->name ? p->name : "";
  int show = nnrt_program_find_output(p, "show");
  if (show < 0 || !p->eval) {
    fprintf(stderr, "error: program '%s' has no 'show' output; add `show = forward(x);` to its "
            "train block\n", name);
    return 1;
  }
  const NnrtSlotDesc *ss = &p->slots[show];
  int64_t sd[NNRT_MAX_RANK];
  int srank = sample_dims(ss, sd);
  int64_t sper = nnrt_slot_sample_count(ss);
  /* The input to draw: image-like, float, preferring one with the output's size. */
  int in = -1;
  Geo ig = {0}, og;
  for (int i = 0; i < p->nslots; i++) {
    const NnrtSlotDesc *s = &p->slots[i];
    int64_t d[NNRT_MAX_RANK];
    Geo g;
    if (s->role != NNRT_SLOT_INPUT || (s->dtype != NNRT_F32 && s->dtype != NNRT_F64) ||
        !image_geo(sample_dims(s, d), d, &g))
      continue;
    if (in < 0 || (nnrt_slot_sample_count(&p->slots[in]) != sper && nnrt_slot_sample_count(s) == sper))
      in = i, ig = g;
  }
  char shape[128];
  nnrt_format_shape(shape, sizeof shape, ss->rank, ss->dims);
  /* without an image input, an image-like output (an attention map) is drawn alone */
  if (in < 0 && !image_geo(srank, sd, &og)) {
    fprintf(stderr, "error: program '%s' has no image input to show ([C, H, W] with C = 1 or 3, "
            "[H, W], or 784 values)\n", name);
    return 1;
  }
  if (ss->dtype != NNRT_F32 && ss->dtype != NNRT_F64) {
    fprintf(stderr, "error: 'show' output %s must be a float tensor\n", shape);
    return 1;
  }
  if (in < 0)
    ; /* og set above */
  else if (sper == nnrt_slot_sample_count(&p->slots[in]))
    og = ig;
  else if (!image_geo(srank, sd, &og)) {
    fprintf(stderr, "error: 'show' output %s is not an image and has not as many values per "
            "sample as input '%s'\n", shape, p->slots[in].name);
    return 1;
  }

  int64_t count = o->count > 0 ? o->count : 16;
  NnrtSession s;
  if (nnrt_session_open_loaded(&s, p, o, count, SESSION_DATA | SESSION_TEST) != 0)
    return 1;
  int rc = 1;
  uint8_t *canvas = NULL;
  const NnrtSplit *sp = s.test.present ? &s.test : &s.train;
  int64_t n = count < sp->n ? count : sp->n;
  if (n > s.B)
    n = s.B;
  nnrt_rng_seed(&s.eval_rng, s.seed ^ 0x6576616c5eedull);
  nnrt_session_gather(&s, sp, NULL, 0, n);
  p->eval(&s.eval_ctx, s.slots, s.scratch, n);

  /* Layout: pairs (input | output) in a near-square grid, scaled so that
   * small images stay visible. */
  int64_t hmax = ig.h > og.h ? ig.h : og.h;
  int scale = hmax >= 64 ? 1 : (int)(64 / hmax);
  int64_t gap = 2, border = 6;
  int64_t pw = (ig.w + og.w) * scale + (in >= 0 ? gap : 0), ph = hmax * scale;
  int64_t cols = 1;
  while (cols * cols < n)
    cols++;
  int64_t rows = (n + cols - 1) / cols;
  int64_t cw = border + cols * (pw + border), chh = border + rows * (ph + border);
  canvas = nnrt_alloc((size_t)(cw * chh * 3), "image grid");
  if (!canvas) {
    nnrt_oom("image grid", (size_t)(cw * chh * 3));
    goto out;
  }
  for (int64_t i = 0; i < cw * chh; i++) /* a blue-grey background frames each pair */
    canvas[i * 3] = 70, canvas[i * 3 + 1] = 90, canvas[i * 3 + 2] = 120;
  double se = 0;
  const NnrtSlotDesc *is = in >= 0 ? &p->slots[in] : NULL;
  for (int64_t r = 0; r < n; r++) {
    int64_t x0 = border + (r % cols) * (pw + border), y0 = border + (r / cols) * (ph + border);
    if (is)
      paint(canvas, cw, x0, y0, scale, is, s.slots[in], r, ig);
    paint(canvas, cw, x0 + (is ? ig.w * scale + gap : 0), y0, scale, ss, s.slots[show], r, og);
    if (is && sper == nnrt_slot_sample_count(is))
      for (int64_t k = 0; k < sper; k++) {
        double d = value_at(ss, s.slots[show], r * sper + k) - value_at(is, s.slots[in], r * sper + k);
        se += d * d;
      }
  }
  const char *path = o->out ? o->out : "show.png";
  char err[256];
  if (nnrt_png_write(path, canvas, cw, chh, 3, err, sizeof err) != 0) {
    fprintf(stderr, "error: %s\n", err);
    goto out;
  }
  if (is)
    printf("wrote %s: %lld %s samples, input '%s' | show %s, %lldx%lld pixels", path, (long long)n,
           sp == &s.test ? "test" : "train", is->name, shape, (long long)cw, (long long)chh);
  else
    printf("wrote %s: %lld %s samples, show %s, %lldx%lld pixels", path, (long long)n,
           sp == &s.test ? "test" : "train", shape, (long long)cw, (long long)chh);
  if (is && sper == nnrt_slot_sample_count(is))
    printf(", mse=%.6g", se / (double)(n * sper));
  printf("\n");
  rc = 0;
out:
  nnrt_free(canvas);
  nnrt_session_free(&s);
  return rc;
}
