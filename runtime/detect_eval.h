/*
 * detect_eval.h — mean average precision of a detector's boxes against the
 * ground truth (runtime/detect_eval.c), PASCAL VOC style, at any IoU
 * threshold (0.5: mAP@0.5).
 *
 * Boxes are (x1, y1, x2, y2) corners, as box_iou (LANGUAGE.md §6.4).
 * Handling of bad boxes (documented, tested): a detection with a NaN
 * coordinate, x2 < x1 or y2 < y1, or a NaN score is a false positive
 * ranked last; a ground-truth box with a NaN coordinate or x2 < x1 or
 * y2 < y1 is an error naming its index; an image with no ground truth only
 * contributes false positives; a label outside [0, classes) is an error.
 */
#ifndef NNRT_DETECT_EVAL_H
#define NNRT_DETECT_EVAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int32_t image, label;
  float score;
  float box[4];
} NnrtDetection;

typedef struct {
  int32_t image, label;
  float box[4];
} NnrtTruth;

/* AP per class into ap[classes] (NaN for a class without ground truth) and
 * their mean over the classes with ground truth into *map (NaN if none).
 * Per class, detections in decreasing score order (equal scores: lower
 * index first) each find the ground-truth box of their image and class
 * with the largest IoU (the first on ties): a true positive when that IoU
 * >= iou and the box is not yet taken (it is then), else a false positive
 * (VOC devkit's rule); AP is the area under the precision-recall curve with
 * precision made non-increasing (VOC 2010's all-point AP).  Returns 0, or
 * -1 with a message. */
int nnrt_detect_map(const NnrtDetection *det, int64_t nd, const NnrtTruth *gt, int64_t ng,
                    int classes, double iou, double *ap, double *map, char *err, size_t errlen);

#endif
