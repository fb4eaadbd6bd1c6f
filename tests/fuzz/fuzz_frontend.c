/*
 * fuzz_frontend.c — libFuzzer target: the bytes as a .nn file through lex,
 * parse and the declaration checks (sema_load_src), the front half of
 * `nnc check`.  Diagnostics go to /dev/null.
 *
 * Imports are followed from disk like nnc does, so the fuzzer also
 * exercises import errors; but the stdlib ("nn", "cnn") is read and parsed
 * once, before the first input (sema_keep_parsed), instead of once per
 * input that imports it, which was most of the time per input.  The arena
 * is released back to the mark after the stdlib after every input, so
 * memory stays flat over millions of runs.  What counts as a finding: a
 * crash, a sanitizer report, or an exit (nnc_unreachable is a compiler bug).
 *
 * The campaign, its dictionary and corpus: scripts/fuzz.sh and
 * tests/fuzz/README.md.
 */
#include "nnc.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  static FILE *sink;
  static ArenaMark base;
  if (!sink) {
    sink = fopen("/dev/null", "w");
    diag_set_stream(sink);
    static const char *const libs[] = {"nn", "cnn"};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
      sema_keep_parsed(arena_printf("%s/%s.nn", sema_stdlib_dir(), libs[i]));
    diag_reset();
    base = arena_mark();
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
  arena_release(base);
  diag_reset();
  return 0;
}
