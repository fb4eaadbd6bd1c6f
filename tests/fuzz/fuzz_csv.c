/* fuzz_csv.c — libFuzzer target: nnrt_parse_csv_buffer.  The first byte
 * picks the options (bit 0: header; bits 1-3: label column, 7 = none), the
 * rest is the file. */
#include "internal.h"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  if (size < 1)
    return 0;
  bool header = data[0] & 1;
  int label_col = (data[0] >> 1 & 7) == 7 ? -1 : data[0] >> 1 & 7;
  NnrtArray a, labels;
  char err[256];
  if (nnrt_parse_csv_buffer((const char *)data + 1, size - 1, "fuzz.csv", header, label_col,
                            &a, &labels, err, sizeof err) == 0) {
    int64_t n = nnrt_array_count(&a);
    if (n > 0)
      (void)((volatile double *)a.data)[n - 1];
    nnrt_array_free(&a);
    nnrt_array_free(&labels);
  }
  return 0;
}
