/*
 * array.c — dtype facts and the NnrtArray helpers the loaders share.
 *
 * Invariants: an NnrtArray's data is nnrt_alloc'd (or NULL) and holds
 * nnrt_dtype_size(dtype) * nnrt_array_count() bytes; nnrt_array_free leaves
 * a zeroed array behind, so freeing twice is harmless.
 * Does not: allocate arrays itself (each loader sizes its own, after it has
 * validated the header and checked nnrt_shape_bytes).
 */
#include "internal.h"

#include <string.h>

size_t nnrt_dtype_size(NnrtDtype d) {
  switch (d) {
  case NNRT_F32: return 4;
  case NNRT_F64: return 8;
  case NNRT_I32: return 4;
  case NNRT_U8: return 1;
  }
  return 0;
}

const char *nnrt_dtype_name(NnrtDtype d) {
  switch (d) {
  case NNRT_F32: return "F32";
  case NNRT_F64: return "F64";
  case NNRT_I32: return "I32";
  case NNRT_U8: return "U8";
  }
  return "?";
}

int64_t nnrt_array_count(const NnrtArray *a) {
  int64_t n = 1;
  for (int i = 0; i < a->rank; i++)
    n *= a->dims[i];
  return n;
}

void nnrt_array_free(NnrtArray *a) {
  if (!a)
    return;
  if (a->data)
    nnrt_free(a->data);
  memset(a, 0, sizeof *a);
}

int nnrt_shape_bytes(NnrtDtype d, int rank, const int64_t *dims, uint64_t cap,
                     uint64_t *bytes) {
  uint64_t n = nnrt_dtype_size(d);
  if (n == 0 || rank < 0 || rank > NNRT_MAX_RANK)
    return -1;
  /* A zero dim makes the total 0, but the other dims must still be sane:
   * code that multiplies dims left to right (nnrt_array_count, strides)
   * would overflow on (5e18, 3, 0).  So the product with zeros taken as 1
   * is held to the cap too. */
  bool empty = false;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0)
      return -1;
    empty |= dims[i] == 0;
    if (dims[i] > 0 && __builtin_mul_overflow(n, (uint64_t)dims[i], &n))
      return -1;
  }
  if (n > cap)
    return -1;
  *bytes = empty ? 0 : n;
  return 0;
}
