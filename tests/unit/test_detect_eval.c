/*
 * test_detect_eval.c — VOC-style mAP (runtime/detect_eval.c) on cases
 * computed by hand: a class with a duplicate detection (false positive on
 * a taken box), an IoU exactly at the threshold, a missed box and a stray
 * box; a class whose bad box (NaN) ranks last and whose stray detection is
 * on an image without ground truth; a class without ground truth (NaN,
 * left out of the mean); equal scores kept in index order; no detections;
 * bad ground truth or labels and a failed allocation as clean errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "detect_eval.h"
#include "nnrt.h"

#define BOX(a, b, c, d) {a, b, c, d}
#define assert_close(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

static void test_hand_computed(void **state) {
  (void)state;
  const NnrtTruth gt[] = {
      {0, 0, BOX(0, 0, 10, 10)},   {0, 0, BOX(20, 20, 30, 30)},
      {1, 0, BOX(0, 0, 10, 10)},   {1, 1, BOX(5, 5, 15, 15)},
  };
  const NnrtDetection det[] = {
      {0, 0, 0.9f, BOX(0, 0, 10, 10)},      /* TP, IoU 1 */
      {0, 0, 0.8f, BOX(1, 1, 10, 10)},      /* IoU .81 with the taken box: FP */
      {1, 0, 0.7f, BOX(0, 0, 10, 5)},       /* IoU exactly .5: TP */
      {0, 0, 0.6f, BOX(50, 50, 60, 60)},    /* FP */
      {0, 0, 0.5f, BOX(20, 20, 30, 30)},    /* TP */
      {1, 1, 0.3f, BOX(5, NAN, 15, 15)},    /* bad box: FP, ranked last */
      {1, 1, 0.2f, BOX(5, 5, 15, 15)},      /* TP */
      {2, 1, 0.95f, BOX(5, 5, 15, 15)},     /* image 2 has no ground truth: FP */
      {0, 2, 0.4f, BOX(0, 0, 10, 10)},      /* class 2 has no ground truth */
  };
  double ap[3], map;
  char err[200];
  assert_int_equal(nnrt_detect_map(det, 9, gt, 4, 3, 0.5, ap, &map, err, sizeof err), 0);
  /* class 0: TP FP TP FP TP over 3 boxes; precision 1, 1/2, 2/3, 1/2, 3/5,
   * made non-increasing 1, 2/3, 2/3, 3/5, 3/5: AP = (1 + 2/3 + 3/5) / 3 */
  assert_close(ap[0], 34.0 / 45.0, 1e-12);
  /* class 1: FP TP FP over 1 box: precision at its recall step 1/2 */
  assert_close(ap[1], 0.5, 1e-12);
  assert_true(isnan(ap[2]));
  assert_close(map, (34.0 / 45.0 + 0.5) / 2, 1e-12);
  /* at IoU 0.75 the .5 box is a miss: TP FP FP FP TP, AP = (1 + 2/5) / 3 */
  assert_int_equal(nnrt_detect_map(det, 9, gt, 4, 3, 0.75, ap, &map, err, sizeof err), 0);
  assert_close(ap[0], 7.0 / 15.0, 1e-12);
}

static void test_equal_scores_in_index_order(void **state) {
  (void)state;
  const NnrtTruth gt[] = {{0, 0, BOX(0, 0, 4, 4)}};
  NnrtDetection det[] = {{0, 0, 0.5f, BOX(10, 10, 14, 14)}, {0, 0, 0.5f, BOX(0, 0, 4, 4)}};
  double ap[1], map;
  char err[200];
  assert_int_equal(nnrt_detect_map(det, 2, gt, 1, 1, 0.5, ap, &map, err, sizeof err), 0);
  assert_close(ap[0], 0.5, 1e-12); /* FP then TP */
  det[0].box[0] = 0, det[0].box[1] = 0, det[0].box[2] = 4, det[0].box[3] = 4;
  det[1].box[0] = 10, det[1].box[1] = 10, det[1].box[2] = 14, det[1].box[3] = 14;
  assert_int_equal(nnrt_detect_map(det, 2, gt, 1, 1, 0.5, ap, &map, err, sizeof err), 0);
  assert_close(ap[0], 1.0, 1e-12);
}

static void test_no_detections(void **state) {
  (void)state;
  const NnrtTruth gt[] = {{0, 1, BOX(0, 0, 4, 4)}};
  double ap[2], map;
  char err[200];
  assert_int_equal(nnrt_detect_map(NULL, 0, gt, 1, 2, 0.5, ap, &map, err, sizeof err), 0);
  assert_true(isnan(ap[0]));
  assert_close(ap[1], 0.0, 0);
  assert_close(map, 0.0, 0);
}

static void test_bad_input_is_an_error(void **state) {
  (void)state;
  NnrtTruth gt[] = {{0, 0, BOX(0, 0, 4, 4)}, {0, 0, BOX(5, 0, 4, 4)}};
  const NnrtDetection det[] = {{0, 0, 0.5f, BOX(0, 0, 4, 4)}};
  double ap[2], map;
  char err[200];
  assert_int_equal(nnrt_detect_map(det, 1, gt, 2, 2, 0.5, ap, &map, err, sizeof err), -1);
  assert_string_equal(err, "mAP: ground-truth box 1: (5, 0, 4, 4) is NaN or has x2 < x1 or y2 < y1");
  gt[1].box[0] = NAN;
  assert_int_equal(nnrt_detect_map(det, 1, gt, 2, 2, 0.5, ap, &map, err, sizeof err), -1);
  assert_non_null(strstr(err, "ground-truth box 1"));
  gt[1].box[0] = 0, gt[1].label = 2;
  assert_int_equal(nnrt_detect_map(det, 1, gt, 2, 2, 0.5, ap, &map, err, sizeof err), -1);
  assert_string_equal(err, "mAP: ground-truth box 1: label 2 outside [0, 2)");
  gt[1].label = 1;
  assert_int_equal(nnrt_detect_map(det, 1, gt, 2, 2, 0, ap, &map, err, sizeof err), -1);
  assert_non_null(strstr(err, "bad arguments"));
  const NnrtDetection bad[] = {{0, -1, 0.5f, BOX(0, 0, 4, 4)}};
  assert_int_equal(nnrt_detect_map(bad, 1, gt, 2, 2, 0.5, ap, &map, err, sizeof err), -1);
  assert_string_equal(err, "mAP: detection 0: label -1 outside [0, 2)");
}

static void test_failed_allocation(void **state) {
  (void)state;
  const NnrtTruth gt[] = {{0, 0, BOX(0, 0, 4, 4)}};
  const NnrtDetection det[] = {{0, 0, 0.5f, BOX(0, 0, 4, 4)}};
  double ap[1], map;
  char err[200];
  for (long n = 0; n < 4; n++) {
    nnrt_alloc_fail_after(n);
    assert_int_equal(nnrt_detect_map(det, 1, gt, 1, 1, 0.5, ap, &map, err, sizeof err), -1);
    assert_string_equal(err, "mAP: out of memory");
  }
  nnrt_alloc_fail_after(-1);
  assert_int_equal(nnrt_detect_map(det, 1, gt, 1, 1, 0.5, ap, &map, err, sizeof err), 0);
  assert_close(map, 1.0, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hand_computed),
      cmocka_unit_test(test_equal_scores_in_index_order),
      cmocka_unit_test(test_no_detections),
      cmocka_unit_test(test_bad_input_is_an_error),
      cmocka_unit_test(test_failed_allocation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
