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
 * unwind.  Thread-safe: session.c loads data files on several threads, so
 * the countdown is atomic (exactly one allocation fails, whichever thread
 * makes it).
 */
#include "program.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static _Atomic long fail_countdown = -1;

void nnrt_alloc_fail_after(long n) { atomic_store(&fail_countdown, n < 0 ? -1 : n); }

void *nnrt_alloc(size_t bytes, const char *what) {
  (void)what;
  long c = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
  while (c >= 0 && !atomic_compare_exchange_weak(&fail_countdown, &c, c - 1))
    ;
  if (c == 0)
    return NULL;
  if (bytes > SIZE_MAX - 64)
    return NULL;
  size_t rounded = (bytes + 63) & ~(size_t)63;
  return aligned_alloc(64, rounded ? rounded : 64);
}

void nnrt_free(void *ptr) { free(ptr); }

void nnrt_oom(const char *what, size_t bytes) {
  fprintf(stderr, NNRT_OOM_FORMAT, what, bytes);
}

void *nnrt_alloc_or_say(size_t bytes, const char *what) {
  void *q = nnrt_alloc(bytes, what);
  if (!q)
    nnrt_oom(what, bytes);
  return q;
}
