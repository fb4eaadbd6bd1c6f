/*
 * augment.c — data augmentation of image inputs in training batches
 * (`augment = images(crop = 2, flip = 1, rotate = 10);`, nnrt_augment).
 *
 * Right after a training batch is gathered, each sample of every image slot
 * (a float INPUT slot shaped [B, C, H, W] or [B, H, W]) is replaced by
 *
 *   1. crop:   zero-padded by `crop` pixels on every side, then the H x W
 *              window at offset (dy, dx), each uniform in [0, 2*crop];
 *   2. flip:   mirrored left-right with probability 1/2;
 *   3. rotate: rotated by a uniform angle in [-rotate, rotate] degrees
 *              (positive: counter-clockwise as displayed, row 0 on top)
 *              about the centre ((H-1)/2, (W-1)/2), sampled bilinearly,
 *              zeros outside.
 *
 * The three steps are one inverse mapping per output pixel, so only the
 * rotation interpolates.  Every channel of a sample, and every image slot
 * of a sample, gets the same transform.
 *
 * Invariants: all randomness comes from the training generator s->rng, so a
 * seed fixes the augmented batches and the generator state saved in a
 * checkpoint resumes them bit for bit.  Per sample, in batch order, the
 * draws are: dy, dx (only if crop > 0), the flip (only if flip), the angle
 * (only if rotate > 0); each is one nnrt_rng_uniform.  They are taken after
 * the epoch's shuffle and before the train kernel (whose dropout draws come
 * after).  Rotation coordinates within 1e-9 of an integer are snapped to
 * it, so multiples of 90 degrees move pixels exactly.
 *
 * It does not touch evaluation, validation or test batches, nor non-image
 * inputs (labels).
 */
#include "program.h"
#include <math.h>
#include <string.h>

/* A uniform integer in [0, n), n >= 1. */
static int64_t draw_below(NnrtRng *r, int64_t n) {
  int64_t k = (int64_t)(nnrt_rng_uniform(r) * (double)n);
  return k < n ? k : n - 1;
}

void nnrt_augment_draw(const NnrtAugment *a, NnrtRng *r, NnrtAugDraw *d) {
  d->dy = d->dx = a->crop;
  d->flip = false;
  d->angle = 0;
  if (a->crop > 0) {
    d->dy = draw_below(r, 2 * a->crop + 1);
    d->dx = draw_below(r, 2 * a->crop + 1);
  }
  if (a->flip)
    d->flip = nnrt_rng_uniform(r) < 0.5;
  if (a->rotate > 0)
    d->angle = (2 * nnrt_rng_uniform(r) - 1) * a->rotate;
}

static double snap(double v) {
  double n = nearbyint(v);
  return fabs(v - n) < 1e-9 ? n : v;
}

/* dst(y, x) = G(ys, xs), where G is src cropped and flipped (zero outside)
 * and (ys, xs) is (y, x) rotated back by the angle about the centre. */
#define AUGMENT_IMAGE(NAME, T)                                                        \
  void NAME(T *dst, const T *src, int64_t h, int64_t w, int64_t crop,                 \
            const NnrtAugDraw *d) {                                                   \
    int64_t oy = d->dy - crop, ox = d->dx - crop;                                     \
    if (d->angle == 0) {                                                              \
      for (int64_t y = 0; y < h; y++)                                                 \
        for (int64_t x = 0; x < w; x++) {                                             \
          int64_t sy = y + oy, sx = (d->flip ? w - 1 - x : x) + ox;                   \
          dst[y * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[sy * w + sx] : 0; \
        }                                                                             \
      return;                                                                         \
    }                                                                                 \
    double t = d->angle * (M_PI / 180), c = cos(t), sn = sin(t);                      \
    double cy = (double)(h - 1) / 2, cx = (double)(w - 1) / 2;                        \
    for (int64_t y = 0; y < h; y++)                                                   \
      for (int64_t x = 0; x < w; x++) {                                               \
        double ys = snap(cy + ((double)x - cx) * sn + ((double)y - cy) * c);          \
        double xs = snap(cx + ((double)x - cx) * c - ((double)y - cy) * sn);          \
        double y0 = floor(ys), x0 = floor(xs), fy = ys - y0, fx = xs - x0, v = 0;     \
        for (int k = 0; k < 4; k++) {                                                 \
          double wt = (k & 2 ? fy : 1 - fy) * (k & 1 ? fx : 1 - fx);                  \
          if (wt == 0 || y0 + (k >> 1) < 0 || y0 + (k >> 1) >= h ||                   \
              x0 + (k & 1) < 0 || x0 + (k & 1) >= w)                                  \
            continue;                                                                 \
          int64_t gy = (int64_t)y0 + (k >> 1), gx = (int64_t)x0 + (k & 1);            \
          int64_t sy = gy + oy, sx = (d->flip ? w - 1 - gx : gx) + ox;                \
          if (sy >= 0 && sy < h && sx >= 0 && sx < w)                                 \
            v += wt * (double)src[sy * w + sx];                                       \
        }                                                                             \
        dst[y * w + x] = (T)v;                                                        \
      }                                                                               \
  }

AUGMENT_IMAGE(nnrt_augment_image_f32, float)
AUGMENT_IMAGE(nnrt_augment_image_f64, double)

int nnrt_augment_open(NnrtSession *s) {
  const NnrtProgram *p = s->p;
  if (!p->augment.on || s->o->no_augment)
    return 0;
  int64_t most = 0;
  for (int i = 0; i < p->nslots; i++)
    if (nnrt_slot_is_image(&p->slots[i]) && nnrt_slot_sample_count(&p->slots[i]) > most)
      most = nnrt_slot_sample_count(&p->slots[i]);
  size_t bytes = (size_t)most * sizeof(double) + 1;
  if (!(s->aug_tmp = nnrt_alloc(bytes, "augmentation buffer"))) {
    nnrt_oom("augmentation buffer", bytes);
    return -1;
  }
  return 0;
}

void nnrt_augment_batch(NnrtSession *s, int64_t bs) {
  const NnrtProgram *p = s->p;
  if (!s->aug_tmp)
    return;
  for (int64_t r = 0; r < bs; r++) {
    NnrtAugDraw d;
    nnrt_augment_draw(&p->augment, &s->rng, &d);
    for (int i = 0; i < p->nslots; i++) {
      const NnrtSlotDesc *slot = &p->slots[i];
      if (!nnrt_slot_is_image(slot))
        continue;
      int64_t h = slot->dims[slot->rank - 2], w = slot->dims[slot->rank - 1];
      int64_t per = nnrt_slot_sample_count(slot), planes = per / (h * w);
      size_t esz = nnrt_dtype_size(slot->dtype);
      char *sample = (char *)s->slots[i] + (size_t)(r * per) * esz;
      memcpy(s->aug_tmp, sample, (size_t)per * esz);
      for (int64_t c = 0; c < planes; c++) {
        size_t at = (size_t)(c * h * w) * esz;
        if (slot->dtype == NNRT_F32)
          nnrt_augment_image_f32((float *)(sample + at), (const float *)((char *)s->aug_tmp + at),
                                 h, w, p->augment.crop, &d);
        else
          nnrt_augment_image_f64((double *)(sample + at), (const double *)((char *)s->aug_tmp + at),
                                 h, w, p->augment.crop, &d);
      }
    }
  }
}
