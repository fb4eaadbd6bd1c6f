/*
 * test_alloc.c — the allocation hook: 64-byte alignment, zero-byte
 * requests, and the failure countdown.  Then the OOM walk: for n = 0, 1,
 * 2, ... the n-th allocation of a whole `train --save` run of the fake
 * program fails, and every run must end with exit status 1 and one
 * "error: ... out of memory ..." line — never a crash — until n is large
 * enough for the run to succeed.  Run under ASan this also proves that
 * every error path frees what it allocated.  The walk runs twice: with the
 * data in inline tables, and in CSV files, which session.c reads on
 * several threads (so the failing allocation may be on any of them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fake_program.h"

static void test_hook(void **st) {
  (void)st;
  void *p[5];
  for (int i = 0; i < 5; i++) {
    p[i] = nnrt_alloc((size_t)i * 13, "test block");
    assert_non_null(p[i]);
    assert_int_equal((uintptr_t)p[i] % 64, 0);
  }
  for (int i = 0; i < 5; i++)
    nnrt_free(p[i]);
  nnrt_alloc_fail_after(2);
  void *a = nnrt_alloc(8, "a"), *b = nnrt_alloc(8, "b"), *c = nnrt_alloc(8, "c");
  void *d = nnrt_alloc(8, "d");
  assert_non_null(a);
  assert_non_null(b);
  assert_null(c);
  assert_non_null(d); /* the countdown fires once */
  nnrt_free(a);
  nnrt_free(b);
  nnrt_free(d);
  nnrt_alloc_fail_after(0);
  nnrt_alloc_fail_after(-1);
  a = nnrt_alloc(1, "a");
  assert_non_null(a);
  nnrt_free(a);
  assert_null(nnrt_alloc(SIZE_MAX, "huge"));
}

static char dir[64];

static int run_captured(long fail_at, char *errbuf, size_t len) {
  char ck[128], ep[128], op[128];
  snprintf(ck, sizeof ck, "%s/oom.safetensors", dir);
  snprintf(ep, sizeof ep, "%s/stderr", dir);
  snprintf(op, sizeof op, "%s/stdout", dir);
  char *argv[] = {"fake", "train", "--epochs", "2", "--quiet", "--save", ck, NULL};
  fflush(NULL);
  int saved_out = dup(1), saved_err = dup(2);
  int fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fo, 1);
  dup2(fe, 2);
  nnrt_alloc_fail_after(fail_at);
  int rc = nnrt_main(7, argv, fake_setup);
  nnrt_alloc_fail_after(-1);
  fflush(NULL);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  close(fo);
  close(fe);
  FILE *f = fopen(ep, "r");
  size_t n = f ? fread(errbuf, 1, len - 1, f) : 0;
  errbuf[n] = 0;
  if (f)
    fclose(f);
  return rc;
}

static void oom_walk(bool files) {
  snprintf(dir, sizeof dir, "/tmp/nnrt_alloc_XXXXXX");
  assert_non_null(mkdtemp(dir));
  if (files)
    setenv("FAKE_FILES", dir, 1);
  char errbuf[4096];
  int n;
  for (n = 0; n < 2000; n++) {
    int rc = run_captured(n, errbuf, sizeof errbuf);
    if (rc == 0)
      break;
    /* ckpt.c words its own failures (they name the file); every other
     * failure must be the runtime's out-of-memory message */
    bool oom = strstr(errbuf, "out of memory") || strstr(errbuf, ".safetensors");
    if (rc != 1 || strncmp(errbuf, "error: ", 7) != 0 || !oom ||
        strchr(errbuf, '\n') != errbuf + strlen(errbuf) - 1)
      fail_msg("failing allocation %d: exit %d, stderr: %s", n, rc, errbuf);
  }
  unsetenv("FAKE_FILES");
  printf("oom walk (%s): %d allocation points fail cleanly\n", files ? "files" : "tables", n);
  assert_true(n > 10 && n < 2000);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void test_oom_walk(void **st) {
  (void)st;
  oom_walk(false);
}

static void test_oom_walk_files(void **st) {
  (void)st;
  oom_walk(true);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_hook), cmocka_unit_test(test_oom_walk),
                                     cmocka_unit_test(test_oom_walk_files)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
