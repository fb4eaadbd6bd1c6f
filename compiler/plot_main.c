/*
 * plot_main.c — `nnc plot`: overlay the --log CSVs of several runs in one
 * SVG chart, drawn by the runtime's own writer (runtime/plot.c).
 *
 *   nnc plot A.csv [B.csv ...] -o OUT.svg [--y COL] [--x COL] [--log-y]
 *            [--title T] [--xy COLX,COLY] [--mark X,Y[,LABEL]]
 *
 * Each file is one series, named after the file (its base name without
 * ".csv"; the path if two base names clash).  --y picks the column drawn
 * against --x (default: loss against epoch); --xy draws the path of two
 * columns instead, such as the p[0],p[1] columns a tiny model logs, with
 * start and end marked; --mark adds a labelled cross (e.g. the optimum).
 *
 * Exit codes as for the rest of nnc: 0 ok, 1 a file cannot be read or lacks
 * a column, 2 bad usage.  It is not part of the compiler pipeline and does
 * not touch the diagnostics machinery.
 */
#include "nnc.h"
#include "../runtime/plot.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int plot_main(int argc, char **argv);

static void plot_usage(FILE *f) {
  fprintf(f,
          "usage: nnc plot A.csv [B.csv ...] -o OUT.svg [options]\n"
          "  overlay the --log CSVs of training runs (one series per file)\n"
          "options:\n"
          "  --y COL          column to draw (default loss; e.g. accuracy, test_accuracy)\n"
          "  --x COL          column along the x axis (default epoch; e.g. seconds)\n"
          "  --log-y          logarithmic y axis\n"
          "  --title T        chart title\n"
          "  --xy COLX,COLY   draw the 2-D path of two columns (e.g. p[0],p[1])\n"
          "  --mark X,Y[,L]   a cross at (X, Y) labelled L (e.g. the optimum)\n");
}

static int plot_bad_usage(const char *msg) {
  fprintf(stderr, "nnc plot: error: %s\n", msg);
  plot_usage(stderr);
  return 2;
}

/* Read a whole file into the arena, NUL-terminated; NULL on error.  Only
 * a regular file of at most 64 MiB (src_load's rules): a FIFO would block
 * forever and /dev/zero would fill memory. */
static char *slurp(const char *path) {
  const char *why;
  SrcFile *f = src_load(path, &why);
  if (!f) {
    fprintf(stderr, "nnc plot: error: '%s' %s\n", path, why);
    return NULL;
  }
  return (char *)f->text;
}

/* The index of column `name` in a header line, or -1. */
static int find_column(const char *header, const char *name) {
  int col = 0;
  size_t n = strlen(name);
  for (const char *p = header;; col++) {
    size_t w = strcspn(p, ",\r\n");
    if (w == n && strncmp(p, name, n) == 0)
      return col;
    if (p[w] != ',')
      return -1;
    p += w + 1;
  }
}

/* Field `col` of a line as a number; NaN if empty, absent or not a number. */
static double field(const char *line, int col) {
  for (int c = 0; c < col; c++) {
    line += strcspn(line, ",\r\n");
    if (*line != ',')
      return NAN;
    line++;
  }
  char *end;
  double v = strtod(line, &end);
  return end != line && (*end == ',' || *end == '\r' || *end == '\n' || !*end) ? v : NAN;
}

/* Load columns xcol and ycol of one --log CSV as series s. */
static int load_series(const char *path, const char *xcol, const char *ycol, NnrtSeries *s) {
  char *text = slurp(path);
  if (!text)
    return -1;
  size_t hl = strcspn(text, "\r\n");
  const char *names[2] = {xcol, ycol};
  int cols[2];
  for (int k = 0; k < 2; k++)
    if ((cols[k] = find_column(text, names[k])) < 0) {
      fprintf(stderr, "nnc plot: error: %s: no column '%s' (columns: %.*s)\n", path, names[k],
              (int)hl, text);
      return -1;
    }
  int64_t rows = 0;
  for (const char *p = text; *p; p++)
    rows += *p == '\n';
  double *x = arena_alloc(sizeof(double) * (size_t)(rows + 1));
  double *y = arena_alloc(sizeof(double) * (size_t)(rows + 1));
  int64_t n = 0, have = 0;
  for (const char *line = strchr(text, '\n'); line && line[1]; line = strchr(line, '\n')) {
    line++;
    if (*line == '\n' || *line == '\r')
      continue;
    x[n] = field(line, cols[0]);
    y[n] = field(line, cols[1]);
    have += isfinite(x[n]) && isfinite(y[n]);
    n++;
  }
  if (have == 0) {
    fprintf(stderr, "nnc plot: error: %s: no values in column '%s'\n", path,
            n == 0 ? "(no rows)" : ycol);
    return -1;
  }
  *s = (NnrtSeries){.x = x, .y = y, .n = n};
  return 0;
}

/* "dir/adam.csv" -> "adam". */
static const char *series_name(const char *path, bool full) {
  const char *base = full ? path : strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  size_t n = strlen(base);
  if (n > 4 && strcmp(base + n - 4, ".csv") == 0)
    n -= 4;
  return arena_strndup(base, n);
}

int plot_main(int argc, char **argv) {
  const char *out = NULL, *xcol = "epoch", *ycol = "loss", *title = NULL, *xy = NULL,
             *mark = NULL;
  bool log_y = false;
  const char **files = arena_alloc(sizeof(char *) * (size_t)argc);
  int nfiles = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has_value = !strcmp(a, "-o") || !strcmp(a, "--y") || !strcmp(a, "--x") ||
                     !strcmp(a, "--title") || !strcmp(a, "--xy") || !strcmp(a, "--mark");
    if (has_value && i + 1 >= argc)
      return plot_bad_usage(arena_printf("%s needs a value", a));
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      plot_usage(stdout);
      return 0;
    } else if (!strcmp(a, "-o")) {
      out = argv[++i];
    } else if (!strcmp(a, "--y")) {
      ycol = argv[++i];
    } else if (!strcmp(a, "--x")) {
      xcol = argv[++i];
    } else if (!strcmp(a, "--title")) {
      title = argv[++i];
    } else if (!strcmp(a, "--xy")) {
      xy = argv[++i];
    } else if (!strcmp(a, "--mark")) {
      mark = argv[++i];
    } else if (!strcmp(a, "--log-y")) {
      log_y = true;
    } else if (a[0] == '-' && a[1]) {
      return plot_bad_usage(arena_printf("unknown option '%s'", a));
    } else {
      files[nfiles++] = a;
    }
  }
  if (nfiles == 0)
    return plot_bad_usage("no CSV files given");
  if (!out)
    return plot_bad_usage("no output file given (-o OUT.svg)");

  NnrtChart c = {.log_y = log_y, .xlabel = xcol, .ylabel = ycol};
  if (xy) {
    const char *comma = strchr(xy, ',');
    if (!comma || comma == xy || !comma[1] || strchr(comma + 1, ','))
      return plot_bad_usage("--xy needs two column names: COLX,COLY");
    c.xlabel = xcol = arena_strndup(xy, (size_t)(comma - xy));
    c.ylabel = ycol = comma + 1;
    c.trajectory = true;
  }
  if (mark) {
    char *end;
    c.mark_x = strtod(mark, &end);
    if (end == mark || *end != ',')
      return plot_bad_usage("--mark needs X,Y[,LABEL]");
    const char *ys = end + 1;
    c.mark_y = strtod(ys, &end);
    if (end == ys || (*end && *end != ','))
      return plot_bad_usage("--mark needs X,Y[,LABEL]");
    c.mark_label = *end ? end + 1 : NULL;
    c.has_mark = true;
  }
  NnrtSeries *series = arena_alloc(sizeof(NnrtSeries) * (size_t)nfiles);
  for (int i = 0; i < nfiles; i++) {
    if (load_series(files[i], xcol, ycol, &series[i]) != 0)
      return 1;
    bool clash = false;
    for (int j = 0; j < nfiles; j++)
      clash = clash || (j != i && !strcmp(series_name(files[i], false), series_name(files[j], false)));
    series[i].name = series_name(files[i], clash);
  }
  c.series = series;
  c.nseries = nfiles;
  c.title = title ? title : xy ? arena_printf("trajectory (%s, %s)", xcol, ycol) : ycol;
  /* the chart never replaces one of the logs it is drawn from */
  struct stat st;
  for (int i = 0; i < nfiles && stat(out, &st) == 0; i++) {
    struct stat in;
    if (stat(files[i], &in) == 0 && in.st_dev == st.st_dev && in.st_ino == st.st_ino) {
      fprintf(stderr, "nnc plot: error: the output '%s' is the input '%s'; refusing to overwrite it\n", out, files[i]);
      return 1;
    }
  }
  char err[512];
  if (nnrt_plot_save(out, NULL, &c, 1, err, sizeof err) != 0) {
    fprintf(stderr, "nnc plot: error: %s\n", err);
    return 1;
  }
  return 0;
}
