/*
 * test_progress.c — progress output at the edges of int64: epoch and
 * sample counts near INT64_MAX (a resumed checkpoint, --epochs 9e18, a
 * huge data set) draw a correct bar and line spacing without signed
 * overflow (the sanitizer build runs this with -fno-sanitize-recover).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "program.h"

static char buf[4096];

/* Run the bar's drawing with stderr in a file; its text into buf. */
static void draw(NnrtProgress *g, int64_t epoch, int64_t done) {
  char path[] = "/tmp/nnrt_progress_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  g->t_draw = 0; /* never throttled */
  nnrt_progress_batch(g, epoch, done, 0.5, 0.25, true);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  buf[n > 0 ? n : 0] = 0;
  close(fd);
  unlink(path);
}

static void test_huge_counts(void **st) {
  (void)st;
  NnrtProgress g;
  nnrt_progress_start(&g, true, INT64_MAX, INT64_MAX);
  assert_int_equal(g.every, INT64_MAX / 20 + 1); /* ~20 lines over the run */
  assert_true(nnrt_progress_shows(&(NnrtProgress){.lines = true, .epochs = INT64_MAX, .every = g.every},
                                  INT64_MAX));
  g.bar = true;
  g.t_epoch = nnrt_now() - 1e-9; /* a huge rate: the ETA is tiny */
  draw(&g, INT64_MAX, INT64_MAX / 2);
  assert_non_null(strstr(buf, "[###############...............]"));
  g.t_epoch = nnrt_now() - 1e9; /* a tiny rate: the ETA is shown capped */
  draw(&g, 1, 1);
  assert_non_null(strstr(buf, "ETA 5999:59"));
  draw(&g, 1, INT64_MAX);
  assert_non_null(strstr(buf, "[##############################]"));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_huge_counts)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
