/*
 * init.c — parameter initialisers, drawn from the run's seeded generator.
 *
 *   zeros, ones, constant(c)
 *   normal(mean, std)       one argument s means N(0, s); none N(0, 1)
 *   uniform(lo, hi)         one argument a means U(-a, a); none U(0, 1)
 *   xavier_uniform(gain=1)  U(±gain·sqrt(6/(fan_in+fan_out)))  (Glorot & Bengio 2010)
 *   xavier_normal(gain=1)   N(0, gain·sqrt(2/(fan_in+fan_out)))
 *   he_uniform              U(±sqrt(6/fan_in))                 (He et al. 2015)
 *   he_normal               N(0, sqrt(2/fan_in))
 *   lecun_uniform           U(±sqrt(3/fan_in))
 *   lecun_normal            N(0, sqrt(1/fan_in))
 * Aliases: xavier, glorot, glorot_uniform = xavier_uniform; glorot_normal =
 * xavier_normal; he, kaiming, kaiming_uniform = he_uniform; kaiming_normal =
 * he_normal; lecun = lecun_normal.
 *
 * Invariants: elements are drawn in index order, one draw (uniform) or two
 * (normal) each, so a seed fixes every value.  Values are computed in
 * double and rounded once to the slot's dtype.  It does not truncate
 * normals and does not know layer types: the compiler supplies the fans.
 */
#include "program.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef enum { I_ZEROS, I_ONES, I_CONST, I_NORMAL, I_UNIFORM, I_XU, I_XN,
               I_HU, I_HN, I_LU, I_LN, I_NONE } InitKind;

static const struct { const char *name; InitKind kind; } names[] = {
  {"zeros", I_ZEROS}, {"ones", I_ONES}, {"constant", I_CONST},
  {"normal", I_NORMAL}, {"uniform", I_UNIFORM},
  {"xavier_uniform", I_XU}, {"xavier", I_XU}, {"glorot", I_XU}, {"glorot_uniform", I_XU},
  {"xavier_normal", I_XN}, {"glorot_normal", I_XN},
  {"he_uniform", I_HU}, {"he", I_HU}, {"kaiming", I_HU}, {"kaiming_uniform", I_HU},
  {"he_normal", I_HN}, {"kaiming_normal", I_HN},
  {"lecun_uniform", I_LU}, {"lecun_normal", I_LN}, {"lecun", I_LN},
};

static InitKind lookup(const char *name) {
  for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
    if (strcmp(names[i].name, name) == 0)
      return names[i].kind;
  return I_NONE;
}

bool nnrt_init_known(const char *name) { return lookup(name) != I_NONE; }

int nnrt_init_fill(NnrtRng *r, const char *name, int nargs, const double *args,
                   int64_t fan_in, int64_t fan_out, NnrtDtype dtype, void *data,
                   int64_t n, char *err, size_t errlen) {
  InitKind k = lookup(name);
  if (k == I_NONE) {
    snprintf(err, errlen, "unknown initialiser '%s'", name ? name : "(null)");
    return -1;
  }
  if (dtype != NNRT_F32 && dtype != NNRT_F64) {
    snprintf(err, errlen, "initialiser '%s' needs an f32 or f64 tensor", name);
    return -1;
  }
  double a0 = nargs > 0 ? args[0] : 0, a1 = nargs > 1 ? args[1] : 0;
  double gain = nargs > 0 ? a0 : 1.0;
  bool fans = k >= I_XU && k <= I_LN;
  if (fans && (fan_in <= 0 || ((k == I_XU || k == I_XN) && fan_out <= 0))) {
    snprintf(err, errlen, "initialiser '%s' needs fan_in and fan_out > 0 (got %lld, %lld)",
             name, (long long)fan_in, (long long)fan_out);
    return -1;
  }
  /* Every kind is either a constant c, U(lo, hi) or N(mean, std). */
  enum { CONSTANT, UNIFORM, NORMAL } shape = UNIFORM;
  double c = 0, lo = 0, hi = 1, mean = 0, std = 1;
  double fi = (double)fan_in, fo = (double)fan_out;
  switch (k) {
  case I_ZEROS: shape = CONSTANT; c = 0; break;
  case I_ONES: shape = CONSTANT; c = 1; break;
  case I_CONST: shape = CONSTANT; c = a0; break;
  case I_NORMAL: shape = NORMAL;
    if (nargs == 1) std = a0;
    else if (nargs >= 2) { mean = a0; std = a1; }
    break;
  case I_UNIFORM: shape = UNIFORM;
    if (nargs == 1) { lo = -a0; hi = a0; }
    else if (nargs >= 2) { lo = a0; hi = a1; }
    break;
  case I_XU: hi = gain * sqrt(6.0 / (fi + fo)); lo = -hi; break;
  case I_XN: shape = NORMAL; std = gain * sqrt(2.0 / (fi + fo)); break;
  case I_HU: hi = sqrt(6.0 / fi); lo = -hi; break;
  case I_HN: shape = NORMAL; std = sqrt(2.0 / fi); break;
  case I_LU: hi = sqrt(3.0 / fi); lo = -hi; break;
  case I_LN: shape = NORMAL; std = sqrt(1.0 / fi); break;
  case I_NONE: break;
  }
  for (int64_t i = 0; i < n; i++) {
    double v = shape == CONSTANT ? c
             : shape == UNIFORM  ? lo + (hi - lo) * nnrt_rng_uniform(r)
                                 : mean + std * nnrt_rng_normal(r);
    if (dtype == NNRT_F32)
      ((float *)data)[i] = (float)v;
    else
      ((double *)data)[i] = v;
  }
  return 0;
}
