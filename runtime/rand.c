/*
 * rand.c — the seeded generator: xoshiro256** seeded through splitmix64,
 * 53-bit uniforms, Box–Muller normals and Fisher–Yates shuffles.
 *
 * Invariants: the whole state is the four words of NnrtRng, so saving them
 * (checkpoints) and restoring them reproduces the stream bit for bit.
 * nnrt_rng_normal therefore caches nothing: it draws two uniforms and
 * returns the cosine half of the Box–Muller pair.  Shuffles use unbiased
 * rejection sampling, not a modulo.
 *
 * It is not cryptographic and not thread-safe: kernels must draw from one
 * thread (nnrt_uniform) for a run to stay reproducible.
 */
#include "program.h"
#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void nnrt_rng_seed(NnrtRng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&x);
}

uint64_t nnrt_rng_next(NnrtRng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double nnrt_rng_uniform(NnrtRng *r) {
  return (double)(nnrt_rng_next(r) >> 11) * 0x1.0p-53;
}

double nnrt_rng_normal(NnrtRng *r) {
  double u1 = 1.0 - nnrt_rng_uniform(r); /* (0, 1]: log is finite */
  double u2 = nnrt_rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Uniform integer in [0, n), n >= 1, by rejecting the biased low tail. */
static uint64_t below(NnrtRng *r, uint64_t n) {
  uint64_t threshold = (0 - n) % n;
  for (;;) {
    uint64_t x = nnrt_rng_next(r);
    if (x >= threshold)
      return x % n;
  }
}

void nnrt_rng_shuffle(NnrtRng *r, int64_t *idx, int64_t n) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)below(r, (uint64_t)i + 1);
    int64_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}

double nnrt_uniform(void *ctx) { return nnrt_rng_uniform(((NnrtCtx *)ctx)->rng); }
double nnrt_normal(void *ctx) { return nnrt_rng_normal(((NnrtCtx *)ctx)->rng); }
