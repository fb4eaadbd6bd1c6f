/*
 * detect_eval.c — VOC-style mAP (detect_eval.h).  Per class: sort that
 * class's detections by score (a stable merge sort on indices, so equal
 * scores keep their order and the result is the same on every machine),
 * walk them matching ground truth greedily, accumulate true and false
 * positives, then integrate precision over recall after making precision
 * non-increasing from the right.  O(nd log nd + nd · ng) time; scratch is
 * one index array, one flag per ground-truth box and the two cumulative
 * counts, all freed on every path.  Not done here: COCO's 101-point
 * interpolation, "difficult" boxes, several IoU thresholds at once.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "detect_eval.h"
#include "internal.h"

static bool box_ok(const float b[4]) {
  for (int k = 0; k < 4; k++)
    if (isnan(b[k])) return false;
  return b[2] >= b[0] && b[3] >= b[1];
}

static double box_iou1(const float a[4], const float b[4]) {
  double w = fmin(a[2], b[2]) - fmax(a[0], b[0]);
  double h = fmin(a[3], b[3]) - fmax(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  double inter = w * h;
  double uni = ((double)a[2] - a[0]) * ((double)a[3] - a[1]) +
               ((double)b[2] - b[0]) * ((double)b[3] - b[1]) - inter;
  return uni > 0 ? inter / uni : 0;
}

/* Rank key: valid detections by score, bad ones (box or score) last. */
static bool ranks_before(const NnrtDetection *a, const NnrtDetection *b) {
  bool va = box_ok(a->box) && !isnan(a->score), vb = box_ok(b->box) && !isnan(b->score);
  if (va != vb) return va;
  return va && a->score > b->score;
}

static void merge_sort(int64_t *ix, int64_t *tmp, int64_t n, const NnrtDetection *det) {
  if (n < 2) return;
  int64_t h = n / 2;
  merge_sort(ix, tmp, h, det);
  merge_sort(ix + h, tmp, n - h, det);
  int64_t i = 0, j = h, k = 0;
  while (i < h && j < n)
    tmp[k++] = ranks_before(&det[ix[j]], &det[ix[i]]) ? ix[j++] : ix[i++];
  while (i < h) tmp[k++] = ix[i++];
  while (j < n) tmp[k++] = ix[j++];
  memcpy(ix, tmp, (size_t)n * sizeof *ix);
}

/* AP of one class; ix holds its nc detections in rank order, npos > 0 its
 * ground-truth count.  prec: nc doubles of scratch; hit: nc flags. */
static double class_ap(const NnrtDetection *det, const int64_t *ix, int64_t nc,
                       const NnrtTruth *gt, int64_t ng, int label, int64_t npos,
                       double iou, bool *used, bool *hit, double *prec) {
  for (int64_t g = 0; g < ng; g++) used[g] = false;
  int64_t tp = 0;
  for (int64_t r = 0; r < nc; r++) {
    const NnrtDetection *d = &det[ix[r]];
    double best = -1;
    int64_t bi = -1;
    if (box_ok(d->box) && !isnan(d->score))
      for (int64_t g = 0; g < ng; g++) {
        if (gt[g].label != label || gt[g].image != d->image) continue;
        double o = box_iou1(d->box, gt[g].box);
        if (o > best) best = o, bi = g;
      }
    /* VOC: the best-overlapping box, whether or not already taken */
    hit[r] = bi >= 0 && best >= iou && !used[bi];
    if (hit[r]) used[bi] = true, tp++;
    prec[r] = (double)tp / (double)(r + 1);
  }
  for (int64_t r = nc - 2; r >= 0; r--) prec[r] = fmax(prec[r], prec[r + 1]);
  double ap = 0;
  for (int64_t r = 0; r < nc; r++)
    if (hit[r]) ap += prec[r] / (double)npos; /* recall rises by 1 / npos */
  return ap;
}

int nnrt_detect_map(const NnrtDetection *det, int64_t nd, const NnrtTruth *gt, int64_t ng,
                    int classes, double iou, double *ap, double *map, char *err, size_t errlen) {
  if (classes < 1 || nd < 0 || ng < 0 || !(iou > 0 && iou <= 1)) {
    snprintf(err, errlen, "mAP: bad arguments (classes %d, IoU threshold %g)", classes, iou);
    return -1;
  }
  for (int64_t g = 0; g < ng; g++) {
    if (gt[g].label < 0 || gt[g].label >= classes) {
      snprintf(err, errlen, "mAP: ground-truth box %lld: label %d outside [0, %d)",
               (long long)g, gt[g].label, classes);
      return -1;
    }
    if (!box_ok(gt[g].box)) {
      snprintf(err, errlen, "mAP: ground-truth box %lld: (%g, %g, %g, %g) is NaN or has x2 < x1 or y2 < y1",
               (long long)g, gt[g].box[0], gt[g].box[1], gt[g].box[2], gt[g].box[3]);
      return -1;
    }
  }
  for (int64_t i = 0; i < nd; i++)
    if (det[i].label < 0 || det[i].label >= classes) {
      snprintf(err, errlen, "mAP: detection %lld: label %d outside [0, %d)", (long long)i,
               det[i].label, classes);
      return -1;
    }
  size_t n1 = nd > 0 ? (size_t)nd : 1, g1 = ng > 0 ? (size_t)ng : 1;
  int64_t *ix = nnrt_alloc(2 * n1 * sizeof *ix, "mAP ranks");
  double *prec = nnrt_alloc(n1 * sizeof *prec, "mAP precision");
  bool *hit = nnrt_alloc(n1 * sizeof *hit, "mAP hits");
  bool *used = nnrt_alloc(g1 * sizeof *used, "mAP matches");
  int rc = 0;
  if (!ix || !prec || !hit || !used) {
    snprintf(err, errlen, "mAP: out of memory");
    rc = -1;
    goto done;
  }
  double total = 0;
  int counted = 0;
  for (int c = 0; c < classes; c++) {
    int64_t nc = 0, npos = 0;
    for (int64_t i = 0; i < nd; i++)
      if (det[i].label == c) ix[nc++] = i;
    for (int64_t g = 0; g < ng; g++) npos += gt[g].label == c;
    if (npos == 0) {
      ap[c] = NAN;
      continue;
    }
    merge_sort(ix, ix + n1, nc, det);
    ap[c] = class_ap(det, ix, nc, gt, ng, c, npos, iou, used, hit, prec);
    total += ap[c];
    counted++;
  }
  *map = counted ? total / counted : NAN;
done:
  nnrt_free(ix);
  nnrt_free(prec);
  nnrt_free(hit);
  nnrt_free(used);
  return rc;
}
