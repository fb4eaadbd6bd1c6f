/* fuzz_safetensors.c — libFuzzer target: nnrt_ckpt_parse_buffer, then a
 * walk over every tensor and metadata lookup the runtime would make. */
#include "internal.h"
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  NnrtCkpt *c;
  char err[256];
  if (nnrt_ckpt_parse_buffer(data, size, "fuzz.safetensors", &c, err, sizeof err) == 0) {
    for (int i = 0; i < nnrt_ckpt_count(c); i++) {
      const NnrtNamedTensor *t = nnrt_ckpt_at(c, i);
      int64_t n = 1;
      for (int d = 0; d < t->rank; d++)
        n *= t->dims[d];
      if (n > 0)
        (void)((volatile unsigned char *)t->data)[(size_t)n * nnrt_dtype_size(t->dtype) - 1];
      if (nnrt_ckpt_find(c, t->name) == NULL)
        abort(); /* a listed tensor must be found by its name */
    }
    (void)nnrt_ckpt_meta(c, "epoch");
    nnrt_ckpt_free(c);
  }
  return 0;
}
