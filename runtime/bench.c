/*
 * bench.c — timestamps for bench/run.sh.  With NNRT_BENCH set in the
 * environment, nnrt_bench_mark("x") prints "bench: x_unix=SECONDS" (wall
 * clock, microseconds) to stderr; the harness subtracts the time it
 * launched the process, so start-up, data loading and the first step are
 * measured the same way as PyTorch's script.  Without NNRT_BENCH it costs
 * one cached getenv.
 */
#include "program.h"
#include <stdlib.h>
#include <time.h>

void nnrt_bench_mark(const char *what) {
  static int on = -1;
  if (on < 0)
    on = getenv("NNRT_BENCH") != NULL;
  if (!on)
    return;
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  fprintf(stderr, "bench: %s_unix=%.6f\n", what, (double)t.tv_sec + (double)t.tv_nsec * 1e-9);
}
