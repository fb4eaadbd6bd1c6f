/*
 * test_conv.c — runtime/cpu/conv.c and pool.c: convolution (f32 through
 * oneDNN, f64 direct) against a naive reference on odd sizes with stride,
 * padding, dilation, groups and depthwise; the adjoint identities
 * <conv(x,w), y> = <x, bwd_data(y,w)> = <w, bwd_weights(x,y)>; batches split
 * into chunks; the same bits for 1, 2 and 3 threads; bit-identical repeats, a cache overflow and a failed scratchpad allocation; max pooling (first maximum, overlapping
 * windows), unpool/gather and avgpool/avgpool_bwd adjointness.  Prints the
 * cost of LeNet's first convolution (not an assertion).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nnrt.h"

static NnrtConv geom(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t kh,
                     int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                     int64_t dw, int64_t groups) {
  NnrtConv g = {n, c, h, w, o, kh, kw, 0, 0, sh, sw, ph, pw, dh, dw, groups};
  g.oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
  g.ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
  return g;
}

static int64_t xcount(const NnrtConv *g) { return g->n * g->c * g->h * g->w; }
static int64_t wcount(const NnrtConv *g) { return g->o * (g->c / g->groups) * g->kh * g->kw; }
static int64_t ycount(const NnrtConv *g) { return g->n * g->o * g->oh * g->ow; }

/* The definition, written independently of conv.c's loops: y at (b, oc, oy, ox). */
static double ref_conv(const NnrtConv *g, const double *x, const double *w, int64_t b,
                       int64_t oc, int64_t oy, int64_t ox) {
  int64_t cg = g->c / g->groups, grp = oc / (g->o / g->groups);
  double s = 0;
  for (int64_t ic = 0; ic < cg; ic++)
    for (int64_t ky = 0; ky < g->kh; ky++)
      for (int64_t kx = 0; kx < g->kw; kx++) {
        int64_t iy = oy * g->sh + ky * g->dh - g->ph, ix = ox * g->sw + kx * g->dw - g->pw;
        if (iy >= 0 && iy < g->h && ix >= 0 && ix < g->w)
          s += x[((b * g->c + grp * cg + ic) * g->h + iy) * g->w + ix] *
               w[((oc * cg + ic) * g->kh + ky) * g->kw + kx];
      }
  return s;
}

static uint64_t rng_state = 12345;
static double urand(void) { /* [-1, 1) */
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1;
}

/* Random f64 data and its f32 copy (the f64 values are the rounded f32s). */
static double *rand_both(int64_t n, float **f) {
  double *d = malloc(sizeof(double) * (size_t)(n + 1));
  *f = malloc(sizeof(float) * (size_t)(n + 1));
  for (int64_t i = 0; i < n; i++)
    d[i] = (*f)[i] = (float)urand();
  return d;
}

static double dot(const double *a, const double *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}
static double dotf(const float *a, const double *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += (double)a[i] * b[i];
  return s;
}

/* |got - want| <= tol * (1 + |want|) everywhere, else the first bad value and the max diff. */
static void check_close(const char *what, const double *want, const void *got, int is_f32,
                        int64_t n, double tol) {
  double maxd = 0;
  int64_t first = -1;
  for (int64_t i = 0; i < n; i++) {
    double v = is_f32 ? (double)((const float *)got)[i] : ((const double *)got)[i];
    double d = fabs(v - want[i]);
    if (!(d <= tol * (1 + fabs(want[i]))) && first < 0)
      first = i;
    maxd = fmax(maxd, d);
  }
  if (first >= 0) {
    double v = is_f32 ? (double)((const float *)got)[first] : ((const double *)got)[first];
    fail_msg("%s: element %lld: want %.12g, got %.12g (max diff %.3g)", what, (long long)first,
             want[first], v, maxd);
  }
}

static void check_adjoint(const char *what, double a, double b, double tol) {
  if (!(fabs(a - b) <= tol * (1 + fabs(a))))
    fail_msg("%s: %.15g vs %.15g (diff %.3g)", what, a, b, fabs(a - b));
}

/* Everything about one geometry. */
static void check_geom(NnrtConv g) {
  int64_t nx = xcount(&g), nw = wcount(&g), ny = ycount(&g);
  float *xf, *wf, *dyf;
  double *x = rand_both(nx, &xf), *w = rand_both(nw, &wf), *dy = rand_both(ny, &dyf);
  double *want = malloc(sizeof(double) * (size_t)ny);
  for (int64_t b = 0; b < g.n; b++)
    for (int64_t oc = 0; oc < g.o; oc++)
      for (int64_t oy = 0; oy < g.oh; oy++)
        for (int64_t ox = 0; ox < g.ow; ox++)
          want[((b * g.o + oc) * g.oh + oy) * g.ow + ox] = ref_conv(&g, x, w, b, oc, oy, ox);

  double *y = malloc(sizeof(double) * (size_t)ny), *dx = malloc(sizeof(double) * (size_t)nx);
  double *dw = malloc(sizeof(double) * (size_t)nw);
  float *yf = malloc(sizeof(float) * (size_t)ny), *dxf = malloc(sizeof(float) * (size_t)nx);
  float *dwf = malloc(sizeof(float) * (size_t)nw), *again = malloc(sizeof(float) * (size_t)nw);
  /* Garbage in the outputs: every function must overwrite, not accumulate. */
  for (int64_t i = 0; i < ny; i++) y[i] = yf[i] = NAN;
  for (int64_t i = 0; i < nx; i++) dx[i] = dxf[i] = NAN;
  for (int64_t i = 0; i < nw; i++) dw[i] = dwf[i] = NAN;

  nnrt_conv2d_f64(&g, y, x, w);
  nnrt_conv2d_bwd_data_f64(&g, dx, dy, w);
  nnrt_conv2d_bwd_weights_f64(&g, dw, x, dy);
  nnrt_conv2d_f32(&g, yf, xf, wf);
  nnrt_conv2d_bwd_data_f32(&g, dxf, dyf, wf);
  nnrt_conv2d_bwd_weights_f32(&g, dwf, xf, dyf);

  check_close("conv f64", want, y, 0, ny, 1e-12);
  check_close("conv f32", want, yf, 1, ny, 1e-4);
  /* The f64 adjoints are exact up to rounding; the f32 ones must match them. */
  double yy = dot(y, dy, ny);
  check_adjoint("<conv(x,w),y> = <x,bwd_data(y,w)> f64", yy, dot(x, dx, nx), 1e-10);
  check_adjoint("<conv(x,w),y> = <w,bwd_weights(x,y)> f64", yy, dot(w, dw, nw), 1e-10);
  check_adjoint("<conv(x,w),y> = <x,bwd_data(y,w)> f32", yy, dotf(dxf, x, nx), 1e-4);
  check_adjoint("<conv(x,w),y> = <w,bwd_weights(x,y)> f32", yy, dotf(dwf, w, nw), 1e-4);
  check_close("bwd_data f32 vs f64", dx, dxf, 1, nx, 1e-4);
  check_close("bwd_weights f32 vs f64", dw, dwf, 1, nw, 1e-4);

  /* Same call again (now from the cache): bit-identical. */
  nnrt_conv2d_bwd_weights_f32(&g, again, xf, dyf);
  if (memcmp(again, dwf, sizeof(float) * (size_t)nw))
    fail_msg("bwd_weights f32 is not bit-identical on a repeat");

  free(x); free(w); free(dy); free(xf); free(wf); free(dyf); free(want);
  free(y); free(dx); free(dw); free(yf); free(dxf); free(dwf); free(again);
}

static void test_conv_geometries(void **st) {
  (void)st;
  /* n c h w o kh kw sh sw ph pw dh dw groups */
  check_geom(geom(2, 4, 11, 9, 6, 3, 3, 2, 2, 1, 1, 2, 2, 2)); /* the brief's mix */
  check_geom(geom(3, 5, 10, 7, 5, 3, 3, 2, 2, 1, 1, 1, 1, 5)); /* depthwise */
  check_geom(geom(2, 3, 9, 8, 6, 3, 2, 1, 2, 1, 0, 2, 1, 3)); /* depthwise, multiplier 2 */
  check_geom(geom(2, 3, 10, 10, 4, 3, 3, 2, 2, 0, 0, 1, 1, 1)); /* right padding -1 */
  check_geom(geom(3, 1, 13, 13, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1)); /* LeNet-like */
  check_geom(geom(1, 6, 7, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2));   /* 1x1 */
  check_geom(geom(2, 4, 8, 11, 8, 2, 4, 3, 1, 2, 1, 3, 2, 4));  /* asymmetric everything */
  /* The last partial batch: same geometry with a smaller n. */
  check_geom(geom(1, 4, 11, 9, 6, 3, 3, 2, 2, 1, 1, 2, 2, 2));
  /* Batches split into chunks (conv.c): 37 = 10 + 9 + 9 + 9, and 17 = 9 + 8. */
  check_geom(geom(37, 3, 9, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1));
  check_geom(geom(17, 2, 6, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2));
}

void nnrt_threads_set(int n); /* runtime/threads.c */

/* The three f32 calls of one geometry give the same bits with 1, 2 and 3
 * threads (a batch of 64 is split into 4 chunks whatever the count). */
static void test_conv_thread_count(void **st) {
  (void)st;
  NnrtConv g = geom(64, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1); /* LeNet's second */
  int64_t nx = xcount(&g), nw = wcount(&g), ny = ycount(&g);
  float *xf, *wf, *dyf;
  double *x = rand_both(nx, &xf), *w = rand_both(nw, &wf), *dy = rand_both(ny, &dyf);
  float *out[3][3];
  for (int t = 0; t < 3; t++) {
    nnrt_threads_set(t + 1);
    out[t][0] = malloc(sizeof(float) * (size_t)ny);
    out[t][1] = malloc(sizeof(float) * (size_t)nx);
    out[t][2] = malloc(sizeof(float) * (size_t)nw);
    nnrt_conv2d_f32(&g, out[t][0], xf, wf);
    nnrt_conv2d_bwd_data_f32(&g, out[t][1], dyf, wf);
    nnrt_conv2d_bwd_weights_f32(&g, out[t][2], xf, dyf);
  }
  nnrt_threads_set(1);
  const int64_t count[3] = {ny, nx, nw};
  static const char *what[3] = {"conv", "bwd_data", "bwd_weights"};
  for (int t = 1; t < 3; t++)
    for (int k = 0; k < 3; k++)
      if (memcmp(out[0][k], out[t][k], sizeof(float) * (size_t)count[k]))
        fail_msg("%s f32: %d threads differ from 1 thread", what[k], t + 1);
  for (int t = 0; t < 3; t++)
    for (int k = 0; k < 3; k++)
      free(out[t][k]);
  free(x); free(w); free(dy); free(xf); free(wf); free(dyf);
}

/* More geometries than the cache holds, then the first ones again. */
static void test_conv_cache_overflow(void **st) {
  (void)st;
  for (int round = 0; round < 2; round++)
    for (int64_t h = 3; h < 3 + 70; h += round ? 23 : 1) {
      NnrtConv g = geom(1, 2, h, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1);
      float *xf, *wf;
      double *x = rand_both(xcount(&g), &xf), *w = rand_both(wcount(&g), &wf);
      double *want = malloc(sizeof(double) * (size_t)ycount(&g));
      float *yf = malloc(sizeof(float) * (size_t)ycount(&g));
      for (int64_t oc = 0; oc < g.o; oc++)
        for (int64_t oy = 0; oy < g.oh; oy++)
          for (int64_t ox = 0; ox < g.ow; ox++)
            want[(oc * g.oh + oy) * g.ow + ox] = ref_conv(&g, x, w, 0, oc, oy, ox);
      nnrt_conv2d_f32(&g, yf, xf, wf);
      check_close("conv f32 (cache overflow)", want, yf, 1, ycount(&g), 1e-4);
      free(x); free(w); free(xf); free(wf); free(want); free(yf);
    }
}

/* A geometry whose scratchpad outgrows every earlier one, with the next
 * allocation failing: the call must still be right (through the direct
 * loops), and the geometry must work through oneDNN afterwards. */
static void test_conv_alloc_failure(void **st) {
  (void)st;
  NnrtConv g = geom(2, 8, 40, 40, 4, 5, 5, 1, 1, 2, 2, 1, 1, 1);
  float *xf, *wf;
  double *x = rand_both(xcount(&g), &xf), *w = rand_both(wcount(&g), &wf);
  double *want = malloc(sizeof(double) * (size_t)ycount(&g));
  float *yf = malloc(sizeof(float) * (size_t)ycount(&g));
  for (int64_t b = 0; b < g.n; b++)
    for (int64_t oc = 0; oc < g.o; oc++)
      for (int64_t oy = 0; oy < g.oh; oy++)
        for (int64_t ox = 0; ox < g.ow; ox++)
          want[((b * g.o + oc) * g.oh + oy) * g.ow + ox] = ref_conv(&g, x, w, b, oc, oy, ox);
  for (int k = 0; k < 2; k++) {
    nnrt_alloc_fail_after(k == 0 ? 0 : -1);
    nnrt_conv2d_f32(&g, yf, xf, wf);
    nnrt_alloc_fail_after(-1);
    check_close("conv f32 (scratchpad allocation fails)", want, yf, 1, ycount(&g), 1e-4);
  }
  free(x); free(w); free(xf); free(wf); free(want); free(yf);
}

/* ---- pooling ---------------------------------------------------------- */

static NnrtPool pgeom(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
                      int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  NnrtPool g = {n, c, h, w, (h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1,
                kh, kw, sh, sw, ph, pw};
  return g;
}

static void check_pool(NnrtPool g) {
  int64_t nx = g.n * g.c * g.h * g.w, ny = g.n * g.c * g.oh * g.ow;
  double *x = malloc(sizeof(double) * (size_t)nx), *y = malloc(sizeof(double) * (size_t)ny);
  float *xf = malloc(sizeof(float) * (size_t)nx), *yf = malloc(sizeof(float) * (size_t)ny);
  int32_t *idx = malloc(sizeof(int32_t) * (size_t)ny), *idxf = malloc(sizeof(int32_t) * (size_t)ny);
  /* Small integers: plenty of ties, so "the first maximum" is tested. */
  for (int64_t i = 0; i < nx; i++)
    x[i] = xf[i] = (float)floor(urand() * 4);
  nnrt_maxpool2d_f64(&g, y, idx, x);
  nnrt_maxpool2d_f32(&g, yf, idxf, xf);
  for (int64_t p = 0; p < g.n * g.c; p++)
    for (int64_t oy = 0; oy < g.oh; oy++)
      for (int64_t ox = 0; ox < g.ow; ox++) {
        double best = -INFINITY;
        int32_t at = -1;
        for (int64_t ky = 0; ky < g.kh; ky++)
          for (int64_t kx = 0; kx < g.kw; kx++) {
            int64_t iy = oy * g.sh - g.ph + ky, ix = ox * g.sw - g.pw + kx;
            if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w && x[p * g.h * g.w + iy * g.w + ix] > best) {
              best = x[p * g.h * g.w + iy * g.w + ix];
              at = (int32_t)(iy * g.w + ix);
            }
          }
        int64_t o = (p * g.oh + oy) * g.ow + ox;
        if (y[o] != best || idx[o] != at || yf[o] != best || idxf[o] != at)
          fail_msg("maxpool at %lld: want %g@%d, f64 %g@%d, f32 %g@%d", (long long)o, best, at,
                   y[o], idx[o], (double)yf[o], idxf[o]);
        assert_true(at >= 0);
      }

  /* gather(x, idx) is the max itself; unpool and gather are adjoint. */
  double *g1 = malloc(sizeof(double) * (size_t)ny), *u = malloc(sizeof(double) * (size_t)nx);
  double *v = malloc(sizeof(double) * (size_t)ny), *r = malloc(sizeof(double) * (size_t)nx);
  float *g1f = malloc(sizeof(float) * (size_t)ny), *uf = malloc(sizeof(float) * (size_t)nx);
  float *vf = malloc(sizeof(float) * (size_t)ny);
  nnrt_gather2d_f64(&g, g1, x, idx);
  nnrt_gather2d_f32(&g, g1f, xf, idxf);
  for (int64_t i = 0; i < ny; i++)
    if (g1[i] != y[i] || g1f[i] != yf[i])
      fail_msg("gather2d at %lld: %g / %g, max %g", (long long)i, g1[i], (double)g1f[i], y[i]);
  for (int64_t i = 0; i < ny; i++) v[i] = vf[i] = (float)urand();
  for (int64_t i = 0; i < nx; i++) r[i] = urand();
  for (int64_t i = 0; i < nx; i++) u[i] = uf[i] = NAN;
  nnrt_unpool2d_f64(&g, u, v, idx);
  nnrt_unpool2d_f32(&g, uf, vf, idxf);
  nnrt_gather2d_f64(&g, g1, r, idx);
  check_adjoint("<unpool(v), r> = <v, gather(r)>", dot(u, r, nx), dot(v, g1, ny), 1e-12);
  check_close("unpool f32 vs f64", u, uf, 1, nx, 1e-6);
  /* unpool adds: with ones, the total is the number of windows. */
  for (int64_t i = 0; i < ny; i++) v[i] = 1;
  nnrt_unpool2d_f64(&g, u, v, idx);
  double total = 0;
  for (int64_t i = 0; i < nx; i++) total += u[i];
  assert_true(total == (double)ny);

  /* Average pooling against its definition, and its adjoint. */
  for (int64_t i = 0; i < nx; i++) x[i] = xf[i] = (float)urand();
  nnrt_avgpool2d_f64(&g, y, x);
  nnrt_avgpool2d_f32(&g, yf, xf);
  double *want = malloc(sizeof(double) * (size_t)ny);
  for (int64_t p = 0; p < g.n * g.c; p++)
    for (int64_t oy = 0; oy < g.oh; oy++)
      for (int64_t ox = 0; ox < g.ow; ox++) {
        double s = 0;
        for (int64_t ky = 0; ky < g.kh; ky++)
          for (int64_t kx = 0; kx < g.kw; kx++) {
            int64_t iy = oy * g.sh - g.ph + ky, ix = ox * g.sw - g.pw + kx;
            if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
              s += x[p * g.h * g.w + iy * g.w + ix];
          }
        want[(p * g.oh + oy) * g.ow + ox] = s / (double)(g.kh * g.kw);
      }
  check_close("avgpool f64", want, y, 0, ny, 1e-14);
  check_close("avgpool f32", want, yf, 1, ny, 1e-6);
  for (int64_t i = 0; i < ny; i++) v[i] = vf[i] = (float)urand();
  for (int64_t i = 0; i < nx; i++) u[i] = uf[i] = NAN;
  nnrt_avgpool2d_bwd_f64(&g, u, v);
  nnrt_avgpool2d_bwd_f32(&g, uf, vf);
  check_adjoint("<avgpool(x), v> = <x, avgpool_bwd(v)>", dot(y, v, ny), dot(x, u, nx), 1e-12);
  check_close("avgpool_bwd f32 vs f64", u, uf, 1, nx, 1e-6);

  free(x); free(y); free(xf); free(yf); free(idx); free(idxf); free(g1); free(u); free(v);
  free(r); free(g1f); free(uf); free(vf); free(want);
}

static void test_pool(void **st) {
  (void)st;
  check_pool(pgeom(2, 3, 9, 8, 2, 2, 2, 2, 0, 0));  /* the usual 2x2/2, odd height */
  check_pool(pgeom(2, 3, 9, 11, 3, 3, 2, 2, 0, 0)); /* overlapping k3 s2 */
  check_pool(pgeom(1, 4, 10, 7, 3, 3, 2, 2, 1, 1)); /* overlapping and padded */
  check_pool(pgeom(3, 2, 7, 9, 3, 2, 1, 3, 1, 1));  /* stride 1 rows, asymmetric */
  /* 2x2/2 on even sizes (pool.c's whole-tensor path; AVX-512 rows of 14, 5,
   * 16 and 33 columns: one masked vector, exactly one, and three) */
  check_pool(pgeom(3, 2, 28, 28, 2, 2, 2, 2, 0, 0));
  check_pool(pgeom(2, 3, 10, 10, 2, 2, 2, 2, 0, 0));
  check_pool(pgeom(1, 2, 4, 32, 2, 2, 2, 2, 0, 0));
  check_pool(pgeom(2, 1, 6, 66, 2, 2, 2, 2, 0, 0));
}

static void test_maxpool_nan(void **st) {
  (void)st;
  NnrtPool g = pgeom(1, 1, 2, 2, 2, 2, 2, 2, 0, 0);
  float x[4] = {1, NAN, 5, NAN}, y[1];
  int32_t idx[1];
  nnrt_maxpool2d_f32(&g, y, idx, x);
  assert_true(isnan(y[0]));
  assert_int_equal(idx[0], 1);
  /* A long row (the vector path): a NaN in one window, one window all -inf
   * (index -1), ties; f32 must match the f64 loops value for value. */
  enum { W = 40 };
  NnrtPool h = pgeom(1, 1, 2, W, 2, 2, 2, 2, 0, 0);
  float xf[2 * W], yf[W / 2];
  double xd[2 * W], yd[W / 2];
  int32_t idf[W / 2], idd[W / 2];
  for (int i = 0; i < 2 * W; i++) xd[i] = xf[i] = (float)(i % 7 == 3 ? 2 : i % 5);
  xd[5] = xf[5] = NAN;
  for (int k = 0; k < 2; k++)
    xd[20 + k] = xf[20 + k] = xd[W + 20 + k] = xf[W + 20 + k] = -INFINITY;
  nnrt_maxpool2d_f32(&h, yf, idf, xf);
  nnrt_maxpool2d_f64(&h, yd, idd, xd);
  for (int i = 0; i < W / 2; i++) {
    assert_int_equal(idf[i], idd[i]);
    assert_true((isnan(yf[i]) && isnan(yd[i])) || (double)yf[i] == yd[i]);
  }
  assert_true(isnan(yf[2]));
  assert_int_equal(idf[10], -1);
}

/* ---- timing ----------------------------------------------------------- */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Best and median of 50 timed calls after the first (which creates the
 * primitive): the best is the figure to trust on a busy machine. */
static void test_lenet_timing(void **st) {
  (void)st;
  NnrtConv g = geom(64, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1);
  float *x = calloc((size_t)xcount(&g), sizeof(float)), *w = calloc((size_t)wcount(&g), sizeof(float));
  float *y = calloc((size_t)ycount(&g), sizeof(float));
  for (int64_t i = 0; i < xcount(&g); i++) x[i] = (float)urand();
  for (int64_t i = 0; i < wcount(&g); i++) w[i] = (float)urand();
  const char *names[3] = {"forward", "bwd_data", "bwd_weights"};
  enum { REPS = 50 };
  double t[REPS + 1];
  for (int k = 0; k < 3; k++) {
    for (int r = 0; r <= REPS; r++) {
      double t0 = now();
      if (k == 0) nnrt_conv2d_f32(&g, y, x, w);
      if (k == 1) nnrt_conv2d_bwd_data_f32(&g, x, y, w);
      if (k == 2) nnrt_conv2d_bwd_weights_f32(&g, w, x, y);
      t[r] = now() - t0;
    }
    qsort(t + 1, REPS, sizeof(double), cmp_double);
    double gflop = 2.0 * (double)ycount(&g) * (double)(g.c * g.kh * g.kw) * 1e-9;
    printf("LeNet conv1 f32 %-11s (n=64, 1x28x28 -> 6x28x28, k5 p2): first %.2f ms, "
           "best %.0f us (%.1f GFLOP/s), median %.0f us\n",
           names[k], t[0] * 1e3, t[1] * 1e6, gflop / t[1], t[1 + REPS / 2] * 1e6);
  }
  free(x); free(w); free(y);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_geometries),
      cmocka_unit_test(test_conv_thread_count),
      cmocka_unit_test(test_conv_cache_overflow),
      cmocka_unit_test(test_conv_alloc_failure),
      cmocka_unit_test(test_pool),
      cmocka_unit_test(test_maxpool_nan),
      cmocka_unit_test(test_lenet_timing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
