/*
 * alloc.c — the one allocation hook every runtime allocation goes through.
 *
 * Invariants: every block is 64-byte aligned (so vector loads in generated
 * kernels may assume it) and a request of 0 bytes still returns a unique
 * non-NULL block.  nnrt_alloc_fail_after(n) lets n more allocations succeed
 * and makes the next one fail once (then the countdown is off again), so a
 * test can walk n = 0, 1, 2, ... and check every failure is reported cleanly.
 *
 * It does not print anything and does not exit: callers report
 * "error: out of memory allocating <what> (<bytes> bytes)" (nnrt_oom) and
 * unwind.  Not thread-safe; the runtime allocates from one thread.
 */
#include "program.h"
#include <stdio.h>
#include <stdlib.h>

static long fail_countdown = -1;

void nnrt_alloc_fail_after(long n) { fail_countdown = n < 0 ? -1 : n; }

void *nnrt_alloc(size_t bytes, const char *what) {
  (void)what;
  if (fail_countdown >= 0 && fail_countdown-- == 0)
    return NULL;
  if (bytes > SIZE_MAX - 64)
    return NULL;
  size_t rounded = (bytes + 63) & ~(size_t)63;
  return aligned_alloc(64, rounded ? rounded : 64);
}

void nnrt_free(void *ptr) { free(ptr); }

void nnrt_oom(const char *what, size_t bytes) {
  fprintf(stderr, "error: out of memory allocating %s (%zu bytes)\n", what, bytes);
}
