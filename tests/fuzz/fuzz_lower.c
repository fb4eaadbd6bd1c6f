/*
 * fuzz_lower.c — libFuzzer target: the bytes as a .nn file through
 * everything `nnc check` runs: parse, lower (names, shapes, inlining),
 * autodiff, schedule, fusion, memory planning and the checked copies, with
 * the IR verifier after each pass.  fuzz_frontend stops after the
 * declaration checks; this one reaches the passes that recurse over
 * expressions and do shape arithmetic.
 *
 * The input is written to fuzz.nn in a private temporary directory (the
 * pipeline reads its file from disk, so imports are followed as nnc
 * follows them), and the pipeline runs on a thread with the driver's
 * 1 GiB stack, as in nnc.  What counts as a finding: a crash, a sanitizer
 * report, an exit (nnc_unreachable is a compiler bug) or a timeout.
 */
#include "nnc.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char dir[] = "/tmp/nnc-fuzz-lower-XXXXXX", *path;

static void remove_dir(void) {
  unlink(path);
  rmdir(dir);
}

static void *check(void *path) {
  Compilation c = {.po = {.simplify = true, .fuse = true, .grads = true, .verify_each = true},
                   .co = {.opt_level = 2},
                   .path = path,
                   .check_only = true};
  pipeline_run(&c, NULL);
  return NULL;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  static FILE *sink;
  if (!sink) {
    sink = fopen("/dev/null", "w");
    diag_set_stream(sink);
    if (!mkdtemp(dir)) abort();
    path = malloc(sizeof dir + 8);
    snprintf(path, sizeof dir + 8, "%s/fuzz.nn", dir);
    atexit(remove_dir);
  }
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();
  pthread_attr_t attr;
  pthread_t t;
  if (pthread_attr_init(&attr) || pthread_attr_setstacksize(&attr, 1024ul << 20) ||
      pthread_create(&t, &attr, check, path) || pthread_join(t, NULL))
    abort();
  arena_reset();
  graph_reset();
  diag_reset();
  return 0;
}
