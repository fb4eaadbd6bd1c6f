/*
 * fma_chains.h — the arithmetic that measures a CPU's fp32 FMA peak, for
 * bench/fmapeak.c and bench/gemm.c: 12 independent chains of vector FMAs
 * (no memory traffic), AVX2 (8 lanes) and AVX-512 (16 lanes), each
 * returning a sum so the work is not optimised away.  x86-64 only.
 */
#ifndef NNC_BENCH_FMA_CHAINS_H
#define NNC_BENCH_FMA_CHAINS_H
#include <immintrin.h>

/* iters x 12 chains x 8 lanes x 2 FLOPs; the sum keeps the work alive. */
__attribute__((target("avx2,fma"))) static inline float chains_avx2(long iters) {
  __m256 acc[12];
  const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
  for (int i = 0; i < 12; i++)
    acc[i] = _mm256_set1_ps((float)i);
  for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12 /* keeps the 12 chains in registers */
    for (int i = 0; i < 12; i++)
      acc[i] = _mm256_fmadd_ps(acc[i], m, c);
  }
  float out[8], s = 0;
  for (int i = 1; i < 12; i++)
    acc[0] = _mm256_add_ps(acc[0], acc[i]);
  _mm256_storeu_ps(out, acc[0]);
  for (int i = 0; i < 8; i++)
    s += out[i];
  return s;
}

/* iters x 12 chains x 16 lanes x 2 FLOPs. */
__attribute__((target("avx512f"))) static inline float chains_avx512(long iters) {
  __m512 acc[12];
  const __m512 m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(0.001f);
  for (int i = 0; i < 12; i++)
    acc[i] = _mm512_set1_ps((float)i);
  for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++)
      acc[i] = _mm512_fmadd_ps(acc[i], m, c);
  }
  for (int i = 1; i < 12; i++)
    acc[0] = _mm512_add_ps(acc[0], acc[i]);
  return _mm512_reduce_add_ps(acc[0]);
}

#endif
