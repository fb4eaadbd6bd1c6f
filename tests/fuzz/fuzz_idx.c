/* fuzz_idx.c — libFuzzer target: nnrt_parse_idx_buffer (plain and gzipped
 * IDX).  A successful parse must have as many bytes as its dims say. */
#include "internal.h"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  NnrtArray a;
  char err[256];
  if (nnrt_parse_idx_buffer(data, size, "fuzz.idx", &a, err, sizeof err) == 0) {
    int64_t n = nnrt_array_count(&a);
    if (n > 0) { /* touch the first and last byte: ASan checks the size */
      volatile unsigned char *p = a.data;
      (void)p[0];
      (void)p[(size_t)n * nnrt_dtype_size(a.dtype) - 1];
    }
    nnrt_array_free(&a);
  }
  return 0;
}
