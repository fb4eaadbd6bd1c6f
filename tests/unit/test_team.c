/*
 * test_team.c — the runtime's worker team (runtime/team.c): every chunk of
 * a job runs exactly once, whatever the thread count; thousands of jobs back
 * to back (some small enough that the caller takes every chunk, some after
 * the workers fell asleep) lose or repeat none; a job started inside a
 * chunk runs on that thread in order; a job from a second thread while one
 * runs still completes; after a worker stalls the caller runs jobs alone
 * for a spell, and then shares them again; the caller's chunks are a
 * prefix of the job, the workers' the rest; a job of more chunks than the
 * word holds (65535) runs each once too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define MAX_CHUNKS 64

typedef struct {
  _Atomic int hits[MAX_CHUNKS];
  _Atomic long sum;
} Count;

static void count_chunk(void *ctx, int64_t i) {
  Count *c = ctx;
  atomic_fetch_add(&c->hits[i], 1);
  atomic_fetch_add(&c->sum, (long)i);
}

static void run_and_check(int64_t chunks) {
  Count c = {0};
  nnrt_team_run(count_chunk, &c, chunks);
  for (int64_t i = 0; i < chunks; i++)
    assert_int_equal(atomic_load(&c.hits[i]), 1);
  assert_int_equal(atomic_load(&c.sum), chunks * (chunks - 1) / 2);
}

static void test_one_thread(void **st) {
  (void)st;
  assert_int_equal(nnrt_team_size(), 1);
  for (int64_t n = 0; n <= MAX_CHUNKS; n++)
    run_and_check(n);
}

static void test_many_jobs(void **st) {
  (void)st;
  nnrt_team_set(3);
  assert_int_equal(nnrt_team_size(), 3);
  for (int r = 0; r < 20000; r++)
    run_and_check(1 + r % MAX_CHUNKS);
  /* after the workers' spin has run out: they sleep, a job wakes them */
  struct timespec pause = {0, 5 * 1000 * 1000};
  for (int r = 0; r < 20; r++) {
    nanosleep(&pause, NULL);
    run_and_check(MAX_CHUNKS);
  }
}

/* A chunk that starts a job of its own: it runs inline, in order. */
typedef struct {
  _Atomic int order_ok;
  int inner_next[MAX_CHUNKS];
} Nested;

typedef struct {
  Nested *n;
  int64_t outer;
} Inner;

static void inner_chunk(void *ctx, int64_t i) {
  Inner *in = ctx;
  if (in->n->inner_next[in->outer] != i)
    atomic_store(&in->n->order_ok, 0);
  in->n->inner_next[in->outer] = (int)i + 1;
}

static void outer_chunk(void *ctx, int64_t i) {
  Inner in = {ctx, i};
  nnrt_team_run(inner_chunk, &in, 8);
}

static void test_nested(void **st) {
  (void)st;
  nnrt_team_set(2);
  Nested n = {.order_ok = 1};
  nnrt_team_run(outer_chunk, &n, MAX_CHUNKS);
  assert_int_equal(atomic_load(&n.order_ok), 1);
  for (int i = 0; i < MAX_CHUNKS; i++)
    assert_int_equal(n.inner_next[i], 8);
}

static void *second_caller(void *arg) {
  (void)arg;
  for (int r = 0; r < 2000; r++)
    run_and_check(1 + r % MAX_CHUNKS);
  return NULL;
}

static void test_two_callers(void **st) {
  (void)st;
  nnrt_team_set(2);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, second_caller, NULL), 0);
  for (int r = 0; r < 2000; r++)
    run_and_check(1 + r % MAX_CHUNKS);
  pthread_join(t, NULL);
}

/* Chunks that note whether they ran off the calling thread, and stall
 * there (a descheduled worker) when asked. */
typedef struct {
  pthread_t caller;
  _Atomic int off_caller;
  int stall_us;
  int busy_us;
} Where;

static void where_chunk(void *ctx, int64_t i) {
  (void)i;
  Where *w = ctx;
  if (!pthread_equal(pthread_self(), w->caller)) {
    atomic_store(&w->off_caller, 1);
    if (w->stall_us) {
      struct timespec d = {0, w->stall_us * 1000L};
      nanosleep(&d, NULL);
    }
  }
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do
    clock_gettime(CLOCK_MONOTONIC, &t);
  while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < w->busy_us);
}

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void test_solo(void **st) {
  (void)st;
  nnrt_team_set(2);
  /* a worker that takes a chunk stalls 20 ms: the caller waits, then goes solo */
  Where w = {.caller = pthread_self(), .stall_us = 20000, .busy_us = 20};
  /* (an earlier test may have left a solo spell of up to 0.5 s running) */
  for (double end = seconds() + 5; seconds() < end && !atomic_load(&w.off_caller);)
    nnrt_team_run(where_chunk, &w, 16);
  assert_int_equal(atomic_load(&w.off_caller), 1);
  Where solo = {.caller = pthread_self(), .busy_us = 20};
  nnrt_team_run(where_chunk, &solo, 16);
  assert_int_equal(atomic_load(&solo.off_caller), 0);
  /* after the spell (10 ms, or 20 after a stall right after one) the
   * workers share jobs again */
  struct timespec d = {0, 50 * 1000 * 1000};
  nanosleep(&d, NULL);
  Where again = {.caller = pthread_self(), .busy_us = 100};
  for (double end = seconds() + 5; seconds() < end && !atomic_load(&again.off_caller);)
    nnrt_team_run(where_chunk, &again, 16);
  assert_int_equal(atomic_load(&again.off_caller), 1);
}

/* Which thread ran each chunk: the caller's are chunks 0 .. c - 1. */
typedef struct {
  pthread_t caller;
  _Atomic int by_caller[16];
} Sides;

static void side_chunk(void *ctx, int64_t i) {
  Sides *s = ctx;
  atomic_store(&s->by_caller[i], pthread_equal(pthread_self(), s->caller) ? 1 : 2);
  struct timespec d = {0, 20 * 1000};
  nanosleep(&d, NULL);
}

static void test_front_back(void **st) {
  (void)st;
  nnrt_team_set(2);
  int shared = 0;
  /* (test_solo may have left a solo spell of up to 0.5 s running) */
  for (double end = seconds() + 5; seconds() < end && shared < 50;) {
    Sides s = {.caller = pthread_self()};
    nnrt_team_run(side_chunk, &s, 16);
    int i = 0;
    while (i < 16 && atomic_load(&s.by_caller[i]) == 1) i++;
    shared += i < 16;
    for (; i < 16; i++) assert_int_equal(atomic_load(&s.by_caller[i]), 2);
  }
  assert_true(shared > 0); /* the worker took part at least once */
}

typedef struct {
  _Atomic unsigned char *hits;
  _Atomic int64_t sum;
} Wide;

static void wide_chunk(void *ctx, int64_t i) {
  Wide *w = ctx;
  atomic_fetch_add(&w->hits[i], 1);
  atomic_fetch_add(&w->sum, i);
}

static void test_wide(void **st) {
  (void)st;
  nnrt_team_set(2);
  const int64_t n = 200000;
  Wide w = {calloc((size_t)n, 1), 0};
  assert_non_null(w.hits);
  nnrt_team_run(wide_chunk, &w, n);
  for (int64_t i = 0; i < n; i++) assert_int_equal(atomic_load(&w.hits[i]), 1);
  assert_true(atomic_load(&w.sum) == n * (n - 1) / 2);
  free((void *)w.hits);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_one_thread), cmocka_unit_test(test_many_jobs),
                                     cmocka_unit_test(test_nested), cmocka_unit_test(test_two_callers),
                                     cmocka_unit_test(test_solo), cmocka_unit_test(test_front_back),
                                     cmocka_unit_test(test_wide)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
