/*
 * test_team.c — the runtime's worker team (runtime/team.c): every chunk of
 * a job runs exactly once, whatever the thread count; thousands of jobs back
 * to back (some small enough that the caller takes every chunk, some after
 * the workers fell asleep) lose or repeat none; a job started inside a
 * chunk runs on that thread in order; a job from a second thread while one
 * runs still completes.
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

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_one_thread), cmocka_unit_test(test_many_jobs),
                                     cmocka_unit_test(test_nested), cmocka_unit_test(test_two_callers)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
