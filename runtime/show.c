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
 * A program with no image input (text, tokens: a transformer's attention
 * weights [B, T, T], `show = l1.attention(...)[:, 0];`) gets its outputs
 * alone, each as a heat map scaled from its own minimum (black) to its
 * maximum (white), since such values need not lie in [0, 1].
 *
 * It does not train, and it evaluates with the same generator reseeding as
 * eval.c, so the picture of a checkpoint is always the same.
 */
#include "png.h"
#include "program.h"
#include <math.h>
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
                  const NnrtSlotDesc *s, const void *base, int64_t r, Geo g, double lo, double hi) {
  int64_t per = g.c * g.h * g.w;
  for (int64_t y = 0; y < g.h; y++)
    for (int64_t x = 0; x < g.w; x++) {
      uint8_t rgb[3];
      for (int k = 0; k < 3; k++) {
        double v = value_at(s, base, r * per + (g.c == 3 ? k : 0) * g.h * g.w + y * g.w + x);
        v = hi > lo ? (v - lo) / (hi - lo) : 0;
        v = v > 1 ? 1 : v >= 0 ? v : 0; /* NaN becomes 0 too */
        rgb[k] = (uint8_t)(v * 255 + 0.5);
      }
      for (int dy = 0; dy < scale; dy++)
        for (int dx = 0; dx < scale; dx++)
          memcpy(canvas + ((y0 + y * scale + dy) * cw + x0 + x * scale + dx) * 3, rgb, 3);
    }
}

/* The first n samples of OUTPUT slot ss (values at base) alone, each an
 * image of its per-sample shape with values clamped to [0, 1], as a PNG
 * grid at path (`OUT sample` of an image model).  0, or 1 after a message. */
int nnrt_draw_grid(const NnrtSlotDesc *ss, const void *base, int64_t n, const char *path) {
  int64_t sd[NNRT_MAX_RANK];
  Geo g;
  if (!image_geo(sample_dims(ss, sd), sd, &g)) {
    char shape[128];
    nnrt_format_shape(shape, sizeof shape, ss->rank, ss->dims);
    fprintf(stderr, "error: '%s' %s is not an image per sample ([C, H, W] with C = 1 or 3, [H, W], or 784 "
            "values)\n", ss->name, shape);
    return 1;
  }
  int scale = g.h >= 64 ? 1 : (int)(64 / g.h);
  int64_t border = 4, pw = g.w * scale, ph = g.h * scale, cols = 1;
  while (cols * cols < n)
    cols++;
  int64_t rows = (n + cols - 1) / cols;
  int64_t cw = border + cols * (pw + border), chh = border + rows * (ph + border);
  uint8_t *canvas = nnrt_alloc((size_t)(cw * chh * 3), "image grid");
  if (!canvas) {
    nnrt_oom("image grid", (size_t)(cw * chh * 3));
    return 1;
  }
  for (int64_t i = 0; i < cw * chh; i++)
    canvas[i * 3] = 70, canvas[i * 3 + 1] = 90, canvas[i * 3 + 2] = 120;
  for (int64_t r = 0; r < n; r++)
    paint(canvas, cw, border + (r % cols) * (pw + border), border + (r / cols) * (ph + border), scale, ss, base, r,
          g, 0, 1);
  char err[256];
  int rc = nnrt_png_write(path, canvas, cw, chh, 3, err, sizeof err) != 0;
  if (rc)
    fprintf(stderr, "error: %s\n", err);
  nnrt_free(canvas);
  return rc;
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
  if (ss->dtype != NNRT_F32 && ss->dtype != NNRT_F64) {
    fprintf(stderr, "error: 'show' output %s must be a float tensor\n", shape);
    return 1;
  }
  if (in < 0 && !image_geo(srank, sd, &og)) {
    fprintf(stderr, "error: program '%s' has no image input, and its 'show' output %s is no image "
            "either ([C, H, W] with C = 1 or 3, or [H, W] per sample)\n", name, shape);
    return 1;
  }
  if (in < 0)
    ; /* the output alone, as heat maps */
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
  s.eval_ctx.on_demand = 1; /* `show` is computed only when asked */
  p->eval(&s.eval_ctx, s.slots, s.scratch, n);
  s.eval_ctx.on_demand = 0;

  /* Layout: pairs (input | output) in a near-square grid, scaled so that
   * small images stay visible. */
  int64_t hmax = ig.h > og.h ? ig.h : og.h;
  int64_t want = in < 0 ? 192 : 64; /* a heat map's cells need room: a 64x64 map at 3x */
  int scale = hmax >= want ? 1 : (int)(want / hmax);
  int64_t gap = 2, border = 6;
  int64_t pw = in < 0 ? og.w * scale : (ig.w + og.w) * scale + gap, ph = hmax * scale;
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
    if (!is) { /* a heat map from this sample's own range */
      double lo = INFINITY, hi = -INFINITY;
      for (int64_t k = 0; k < sper; k++) {
        double v = value_at(ss, s.slots[show], r * sper + k);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
      paint(canvas, cw, x0, y0, scale, ss, s.slots[show], r, og, lo, hi);
      continue;
    }
    paint(canvas, cw, x0, y0, scale, is, s.slots[in], r, ig, 0, 1);
    paint(canvas, cw, x0 + ig.w * scale + gap, y0, scale, ss, s.slots[show], r, og, 0, 1);
    if (sper == nnrt_slot_sample_count(is))
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
  if (!is)
    printf("wrote %s: %lld %s samples, show %s alone (no image input), each a heat map from its "
           "minimum (black) to its maximum (white), %lldx%lld pixels", path, (long long)n,
           sp == &s.test ? "test" : "train", shape, (long long)cw, (long long)chh);
  else
    printf("wrote %s: %lld %s samples, input '%s' | show %s, %lldx%lld pixels", path, (long long)n,
           sp == &s.test ? "test" : "train", is->name, shape, (long long)cw, (long long)chh);
  if (is && sper == nnrt_slot_sample_count(is))
    printf(", mse=%.6g", se / (double)(n * sper));
  printf("\n");
  rc = 0;
out:
  nnrt_free(canvas);
  nnrt_session_free(&s);
  return rc;
}
