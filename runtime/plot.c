/*
 * plot.c — SVG line charts (see plot.h): training curves for
 * `OUT train --plot`, overlays of --log CSVs and 2-D trajectories for
 * `nnc plot`.
 *
 * Each chart is a fixed-size panel: the plot area on the left, the legend
 * in a column on its right (so it never hides a curve), the title above and
 * the axis labels below and beside.  Ticks are "nice" numbers (1, 2 or 5
 * times a power of ten) on linear axes and powers of ten on log axes; the
 * axis range is widened to the nearest ticks.  Lines are clipped to the
 * plot area.
 *
 * It deliberately does no allocation, no text measuring (the legend
 * truncates long names instead) and no smoothing: what is drawn is the data.
 */
#include "plot.h"
#include "files.h"
#include <errno.h>
#include <math.h>
#include <string.h>

enum {
  CHART_W = 820, CHART_H = 440,             /* one panel */
  PLOT_L = 78, PLOT_T = 44, PLOT_W = 540, PLOT_H = 320, /* its plot area */
  LEGEND_X = PLOT_L + PLOT_W + 22,
  DOC_TITLE_H = 36,
};

/* Tableau 10: distinguishable, also for most colour-blind readers. */
static const char *palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define NCOLORS (int)(sizeof palette / sizeof palette[0])

static void put_text(FILE *f, const char *s, int max) {
  for (int i = 0; s && s[i]; i++) {
    if (max > 0 && i == max) {
      fputs("\xe2\x80\xa6", f); /* … */
      return;
    }
    switch (s[i]) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc((unsigned char)s[i] < 0x20 ? ' ' : s[i], f);
    }
  }
}

/* One axis: data range [lo, hi] mapped to pixels, in log10 when log. */
typedef struct Axis {
  bool log;
  double lo, hi;   /* in axis units (log10 of the value when log) */
  double step;     /* linear: tick spacing; log: decades between labels */
} Axis;

static double nice_step(double range, int target) {
  double raw = range / target, p = pow(10, floor(log10(raw))), m = raw / p;
  return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

static bool usable(const Axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }
static double to_axis(const Axis *a, double v) { return a->log ? log10(v) : v; }

/* Fit the axis to the usable values of one coordinate of every series. */
static void axis_fit(Axis *a, const NnrtChart *c, bool want_x, int target) {
  double lo = INFINITY, hi = -INFINITY;
  for (int s = 0; s < c->nseries; s++) {
    const NnrtSeries *se = &c->series[s];
    const double *v = want_x ? se->x : se->y;
    for (int64_t i = 0; i < se->n; i++)
      if (usable(a, v[i]) && isfinite(se->x[i]) && isfinite(se->y[i])) {
        double t = to_axis(a, v[i]);
        lo = t < lo ? t : lo;
        hi = t > hi ? t : hi;
      }
  }
  if (c->has_mark && usable(a, want_x ? c->mark_x : c->mark_y)) {
    double t = to_axis(a, want_x ? c->mark_x : c->mark_y);
    lo = t < lo ? t : lo;
    hi = t > hi ? t : hi;
  }
  if (!(lo <= hi)) /* no data at all */
    lo = 0, hi = 1;
  if (a->log) {
    lo = floor(lo), hi = ceil(hi);
    if (hi <= lo)
      hi = lo + 1;
    a->step = ceil((hi - lo) / 8);
  } else {
    if (hi - lo < 1e-12 * (fabs(hi) + 1)) {
      double d = fabs(hi) > 0 ? fabs(hi) * 0.1 : 1;
      lo -= d, hi += d;
    } else if (c->trajectory) { /* keep start, end and mark off the frame */
      double d = (hi - lo) * 0.04;
      lo -= d, hi += d;
    }
    a->step = nice_step(hi - lo, target);
    lo = floor(lo / a->step + 1e-9) * a->step;
    hi = ceil(hi / a->step - 1e-9) * a->step;
  }
  a->lo = lo, a->hi = hi;
}

static double px_x(const Axis *a, double v) {
  return PLOT_L + (to_axis(a, v) - a->lo) / (a->hi - a->lo) * PLOT_W;
}
static double px_y(const Axis *a, double v) {
  return PLOT_T + PLOT_H - (to_axis(a, v) - a->lo) / (a->hi - a->lo) * PLOT_H;
}

/* A tick label with as many decimals as the step needs. */
static void tick_label(char *buf, size_t n, double v, double step, bool log) {
  if (log) {
    snprintf(buf, n, "%g", pow(10, v));
    return;
  }
  if (fabs(v) < step * 1e-6)
    v = 0;
  double m = fabs(v) > step ? fabs(v) : step;
  int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  if (m >= 1e6 || m < 1e-4 || dec > 6)
    snprintf(buf, n, "%g", v);
  else
    snprintf(buf, n, "%.*f", dec, v);
}

static void draw_axes(FILE *f, const Axis *ax, const Axis *ay) {
  char buf[64];
  /* y: grid lines and labels */
  if (ay->log) {
    for (double d = ay->lo; d <= ay->hi + 1e-9; d += 1) {
      bool label = fmod(d - ay->lo, ay->step) < 1e-9;
      double y = PLOT_T + PLOT_H - (d - ay->lo) / (ay->hi - ay->lo) * PLOT_H;
      fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#ddd\"/>\n",
              PLOT_L, y, PLOT_L + PLOT_W, y);
      if (label) {
        tick_label(buf, sizeof buf, d, 1, true);
        fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n",
                PLOT_L - 8, y, buf);
      }
      if (ay->hi - ay->lo <= 6 && d < ay->hi - 1e-9) /* minor lines at 2..9 */
        for (int k = 2; k <= 9; k++) {
          double ym = PLOT_T + PLOT_H - (d + log10(k) - ay->lo) / (ay->hi - ay->lo) * PLOT_H;
          fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#f0f0f0\"/>\n",
                  PLOT_L, ym, PLOT_L + PLOT_W, ym);
        }
    }
  } else {
    for (double v = ay->lo; v <= ay->hi + ay->step * 1e-6; v += ay->step) {
      double y = PLOT_T + PLOT_H - (v - ay->lo) / (ay->hi - ay->lo) * PLOT_H;
      fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#ddd\"/>\n",
              PLOT_L, y, PLOT_L + PLOT_W, y);
      tick_label(buf, sizeof buf, v, ay->step, false);
      fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n",
              PLOT_L - 8, y, buf);
    }
  }
  /* x: linear only */
  for (double v = ax->lo; v <= ax->hi + ax->step * 1e-6; v += ax->step) {
    double x = PLOT_L + (v - ax->lo) / (ax->hi - ax->lo) * PLOT_W;
    fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#ddd\"/>\n",
            x, PLOT_T, x, PLOT_T + PLOT_H);
    tick_label(buf, sizeof buf, v, ax->step, false);
    fprintf(f, "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x,
            PLOT_T + PLOT_H + 20, buf);
  }
  fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#555\"/>\n",
          PLOT_L, PLOT_T, PLOT_W, PLOT_H);
}

static void draw_series(FILE *f, const NnrtChart *c, const Axis *ax, const Axis *ay, int k,
                        int clip) {
  const NnrtSeries *s = &c->series[k];
  const char *color = palette[k % NCOLORS];
  /* Beyond the palette, repeat the colours dashed. */
  const char *dash = k >= NCOLORS ? " stroke-dasharray=\"6 3\"" : "";
  fprintf(f, "<path clip-path=\"url(#clip%d)\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\""
             " stroke-linejoin=\"round\"%s d=\"", clip, color, c->trajectory ? "1.6" : "2", dash);
  bool pen = false;
  int64_t first = -1, last = -1;
  for (int64_t i = 0; i < s->n; i++) {
    if (!usable(ax, s->x[i]) || !usable(ay, s->y[i])) {
      pen = false;
      continue;
    }
    fprintf(f, "%c%.2f %.2f", pen ? 'L' : 'M', px_x(ax, s->x[i]), px_y(ay, s->y[i]));
    pen = true;
    if (first < 0)
      first = i;
    last = i;
  }
  fprintf(f, "\"><title>");
  put_text(f, s->name, 0);
  fprintf(f, "</title></path>\n");
  if (c->trajectory && first >= 0) {
    fprintf(f, "<circle clip-path=\"url(#clip%d)\" cx=\"%.2f\" cy=\"%.2f\" r=\"4.5\" fill=\"white\" stroke=\"%s\" stroke-width=\"2\"/>\n",
            clip, px_x(ax, s->x[first]), px_y(ay, s->y[first]), color);
    fprintf(f, "<circle clip-path=\"url(#clip%d)\" cx=\"%.2f\" cy=\"%.2f\" r=\"4\" fill=\"%s\"/>\n",
            clip, px_x(ax, s->x[last]), px_y(ay, s->y[last]), color);
  }
}

static void draw_legend(FILE *f, const NnrtChart *c) {
  int y = PLOT_T + 10;
  int row = c->nseries > 16 ? 14 : 20; /* squeeze long legends */
  for (int k = 0; k < c->nseries; k++, y += row) {
    const char *dash = k >= NCOLORS ? " stroke-dasharray=\"6 3\"" : "";
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"%s/>\n",
            LEGEND_X, y, LEGEND_X + 24, y, palette[k % NCOLORS], dash);
    fprintf(f, "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\">", LEGEND_X + 32, y);
    put_text(f, c->series[k].name, 24);
    fprintf(f, "</text>\n");
  }
  if (c->trajectory) {
    y += 8;
    fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"4.5\" fill=\"white\" stroke=\"#555\" stroke-width=\"2\"/>"
               "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\" fill=\"#555\">start</text>\n",
            LEGEND_X + 12, y, LEGEND_X + 32, y);
    y += row;
    fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"#555\"/>"
               "<text x=\"%d\" y=\"%d\" dominant-baseline=\"middle\" fill=\"#555\">end</text>\n",
            LEGEND_X + 12, y, LEGEND_X + 32, y);
  }
}

static void draw_chart(FILE *f, const NnrtChart *c, int clip) {
  Axis ax = {.log = false}, ay = {.log = c->log_y};
  axis_fit(&ax, c, true, 8);
  axis_fit(&ay, c, false, 6);
  fprintf(f, "<clipPath id=\"clip%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n",
          clip, PLOT_L, PLOT_T, PLOT_W, PLOT_H);
  draw_axes(f, &ax, &ay);
  for (int k = 0; k < c->nseries; k++)
    draw_series(f, c, &ax, &ay, k, clip);
  if (c->has_mark && usable(&ax, c->mark_x) && usable(&ay, c->mark_y)) {
    double x = px_x(&ax, c->mark_x), y = px_y(&ay, c->mark_y);
    fprintf(f, "<g stroke=\"#222\" stroke-width=\"2\"><line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>"
               "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/></g>\n",
            x - 6, y - 6, x + 6, y + 6, x - 6, y + 6, x + 6, y - 6);
    if (c->mark_label) {
      bool left = x > PLOT_L + PLOT_W * 0.75; /* keep the label inside the frame */
      fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" fill=\"#222\" text-anchor=\"%s\">",
              left ? x - 9 : x + 9, y - 8, left ? "end" : "start");
      put_text(f, c->mark_label, 40);
      fprintf(f, "</text>\n");
    }
  }
  draw_legend(f, c);
  if (c->title) {
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">",
            PLOT_L + PLOT_W / 2, PLOT_T - 16);
    put_text(f, c->title, 90);
    fprintf(f, "</text>\n");
  }
  if (c->xlabel) {
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", PLOT_L + PLOT_W / 2,
            PLOT_T + PLOT_H + 46);
    put_text(f, c->xlabel, 80);
    fprintf(f, "</text>\n");
  }
  if (c->ylabel) {
    fprintf(f, "<text transform=\"translate(%d %d) rotate(-90)\" text-anchor=\"middle\">", 20,
            PLOT_T + PLOT_H / 2);
    put_text(f, c->ylabel, 50);
    if (c->log_y)
      fputs(" (log scale)", f);
    fprintf(f, "</text>\n");
  }
}

void nnrt_plot_write(FILE *f, const char *title, const NnrtChart *charts, int ncharts) {
  int top = title ? DOC_TITLE_H : 0, n = ncharts > 0 ? ncharts : 1;
  int w = CHART_W * n, h = CHART_H + top;
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
             " font-family=\"Helvetica, Arial, sans-serif\" font-size=\"13\" fill=\"#222\">\n",
          w, h, w, h);
  fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", w, h);
  if (title) {
    fprintf(f, "<text x=\"%d\" y=\"26\" text-anchor=\"middle\" font-size=\"19\" font-weight=\"bold\">",
            w / 2);
    put_text(f, title, 120);
    fprintf(f, "</text>\n");
  }
  for (int i = 0; i < ncharts; i++) {
    fprintf(f, "<g transform=\"translate(%d %d)\">\n", i * CHART_W, top);
    draw_chart(f, &charts[i], i);
    fprintf(f, "</g>\n");
  }
  fprintf(f, "</svg>\n");
}

int nnrt_plot_save(const char *path, const char *title, const NnrtChart *charts,
                   int ncharts, char *err, size_t errlen) {
  FILE *f = nnrt_open_output(path, "plot file", err, errlen);
  if (!f)
    return -1;
  nnrt_plot_write(f, title, charts, ncharts);
  return nnrt_close_output(f, path, "plot file", err, errlen);
}
