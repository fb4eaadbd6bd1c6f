/*
 * fuzz_frontend.c — libFuzzer target: the bytes as a .nn file through lex,
 * parse and the declaration checks (sema_load_src), the front half of
 * `nnc check`.  Diagnostics go to /dev/null; the arena is freed after every
 * input so memory stays flat over millions of runs.
 *
 * Imports are followed from disk like nnc does ("nn" is the stdlib), so the
 * fuzzer also exercises import errors.  What counts as a finding: a crash,
 * a sanitizer report, or an exit (nnc_unreachable is a compiler bug).
 */
#include "nnc.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  static FILE *sink;
  if (!sink) {
    sink = fopen("/dev/null", "w");
    diag_set_stream(sink);
  }
  /* The lexer sees what src_load would give it: the bytes up to a NUL. */
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = 0;
  SrcFile *f = src_from_string("fuzz.nn", text);
  free(text);
  sema_load_src(f);
  arena_reset();
  diag_reset();
  return 0;
}
