/*
 * numerics.c — `--check-numerics`: the per-op NaN/Inf check of generated
 * kernels, and the table of source sites it reports against.
 *
 * A kernel built by nnc calls nnrt_check_finite after each floating-point
 * op, but only when ctx->check_numerics is set (one load and a branch per
 * op otherwise).  Each call names a site registered by nnc_setup through
 * nnrt_site: the .nn location of the expression that made the op, the op's
 * name and its shape.  The first non-finite element ends the run (exit 3,
 * as a non-finite loss does), so the message names where it began, not
 * where it spread to; nothing is saved after it.
 */
#include "program.h"
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(offsetof(NnrtCtx, check_numerics) == NNRT_CTX_CHECK_NUMERICS,
               "generated kernels read the flag at this offset");
_Static_assert(offsetof(NnrtCtx, on_demand) == NNRT_CTX_GEN, "generated kernels read the flag at this offset");
_Static_assert(offsetof(NnrtCtx, grads_ready) == NNRT_CTX_GRADS, "generated kernels read the flag at this offset");

static char *dup_str(const char *s) {
  size_t n = strlen(s ? s : "") + 1;
  char *d = nnrt_alloc(n, "numerics site");
  if (d)
    memcpy(d, s ? s : "", n);
  return d;
}

void nnrt_site(NnrtProgram *p, int site, const char *where, const char *op, const char *shape) {
  if (p->failed)
    return;
  if (site != p->nsites) {
    p->failed = true;
    snprintf(p->err, sizeof p->err, "numerics site %d declared out of order", site);
    return;
  }
  if (p->nsites == p->cap_sites) {
    int cap = p->cap_sites ? 2 * p->cap_sites : 64;
    NnrtSite *grown = nnrt_alloc((size_t)cap * sizeof *grown, "numerics sites");
    if (!grown) {
      p->failed = true;
      snprintf(p->err, sizeof p->err, "out of memory allocating numerics sites");
      return;
    }
    if (p->nsites)
      memcpy(grown, p->sites, (size_t)p->nsites * sizeof *grown);
    nnrt_free(p->sites);
    p->sites = grown;
    p->cap_sites = cap;
  }
  NnrtSite *s = &p->sites[p->nsites++];
  s->where = dup_str(where);
  s->op = dup_str(op);
  s->shape = dup_str(shape);
  if (!s->where || !s->op || !s->shape) {
    p->failed = true;
    snprintf(p->err, sizeof p->err, "out of memory allocating numerics sites");
  }
}

void nnrt_sites_free(NnrtProgram *p) {
  for (int i = 0; i < p->nsites; i++) {
    nnrt_free(p->sites[i].where);
    nnrt_free(p->sites[i].op);
    nnrt_free(p->sites[i].shape);
  }
  nnrt_free(p->sites);
  p->sites = NULL;
  p->nsites = p->cap_sites = 0;
}

static void report(const NnrtCtx *c, int32_t site, double v, int64_t i) {
  const char *what = isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
  fflush(stdout);
  const NnrtProgram *p = c->p;
  if (p && site >= 0 && site < p->nsites) {
    const NnrtSite *s = &p->sites[site];
    fprintf(stderr, "error: %s: '%s' produced %s (element %" PRId64 " of %s)\n", s->where,
            s->op, what, i, s->shape);
  } else {
    fprintf(stderr, "error: op %d produced %s (element %" PRId64 ")\n", (int)site, what, i);
  }
  exit(3);
}

void nnrt_check_finite(void *ctx, const void *data, int64_t count, int32_t dtype, int32_t site) {
  const NnrtCtx *c = ctx;
  if (dtype == NNRT_F32) {
    const float *x = data;
    for (int64_t i = 0; i < count; i++)
      if (!isfinite(x[i]))
        report(c, site, x[i], i);
  } else if (dtype == NNRT_F64) {
    const double *x = data;
    for (int64_t i = 0; i < count; i++)
      if (!isfinite(x[i]))
        report(c, site, x[i], i);
  }
}
