/*
 * omp_wake.c — what one OpenMP parallel region costs the thread that opens
 * it when the other thread sleeps between regions, as nnc's executables
 * ran before they had threads of their own (OMP_WAIT_POLICY=passive,
 * runtime/threads.c): an empty region of two threads after G µs of serial
 * work, best of 5 means of 200.  This cost is why the runtime splits its
 * work on its own team (runtime/team.c), whose workers spin for a while
 * after each job.
 * build: cc -O2 -fopenmp bench/omp_wake.c -o omp_wake
 * run:   OMP_WAIT_POLICY=passive ./omp_wake
 */
#include <omp.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static volatile double sink;

static void serial_work(double us) {
  double t0 = now();
  while (now() - t0 < us * 1e-6)
    sink += 1;
}

int main(void) {
  const int gaps[] = {0, 10, 40, 160, 640};
  for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
      double total = 0;
      const int n = 200;
      for (int i = 0; i < n; i++) {
        serial_work(gaps[g]);
        double t0 = now();
#pragma omp parallel num_threads(2)
        { sink += omp_get_thread_num(); }
        total += now() - t0;
      }
      if (total / n < best)
        best = total / n;
    }
    printf("after %3d us of serial work: an empty 2-thread region costs %.1f us\n", gaps[g], best * 1e6);
  }
  return 0;
}
