/*
 * test_plot.c — the SVG writer (runtime/plot.c): a well-formed-looking
 * document, one <path> per series, legend names escaped, gaps (not NaNs)
 * for missing or non-positive values on a log axis, trajectory markers,
 * degenerate ranges, and a clean error for an unwritable file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "plot.h"

/* The document the writer produces, in a malloc'd string. */
static char *render(const char *title, const NnrtChart *c, int n) {
  FILE *f = tmpfile();
  assert_non_null(f);
  nnrt_plot_write(f, title, c, n);
  long len = ftell(f);
  assert_true(len > 0);
  char *buf = malloc((size_t)len + 1);
  rewind(f);
  assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
  buf[len] = 0;
  fclose(f);
  return buf;
}

/* "nan" or "inf" printed as a number (not inside a word like "dominant"). */
static bool has_nonfinite(const char *s) {
  for (const char *p = s; *p; p++)
    if ((!strncmp(p, "nan", 3) || !strncmp(p, "inf", 3)) &&
        (p == s || !((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z'))))
      return true;
  return false;
}

static int count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

static void assert_well_formed(const char *svg) {
  assert_true(strncmp(svg, "<svg", 4) == 0);
  assert_non_null(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
  size_t n = strlen(svg);
  assert_true(n > 7 && strcmp(svg + n - 7, "</svg>\n") == 0);
  assert_int_equal(count(svg, "<svg"), 1);
  assert_int_equal(count(svg, "<text"), count(svg, "</text>"));
  assert_int_equal(count(svg, "<g"), count(svg, "</g>"));
  assert_int_equal(count(svg, "<path"), count(svg, "</path>"));
  assert_false(has_nonfinite(svg));
}

static const double epochs[5] = {1, 2, 3, 4, 5};

static void test_two_series(void **st) {
  (void)st;
  double a[5] = {2.3, 1.1, 0.7, 0.5, 0.41}, b[5] = {2.4, 1.3, 0.9, 0.8, 0.78};
  NnrtSeries s[2] = {{"full batch", epochs, a, 5}, {"mini-batch", epochs, b, 5}};
  NnrtChart c = {.title = "loss", .xlabel = "epoch", .ylabel = "loss", .series = s, .nseries = 2};
  char *svg = render("My run", &c, 1);
  assert_well_formed(svg);
  assert_int_equal(count(svg, "<path"), 2);
  assert_true(count(svg, ">full batch<") >= 1);
  assert_true(count(svg, ">mini-batch<") >= 1);
  assert_non_null(strstr(svg, ">My run</text>"));
  assert_non_null(strstr(svg, ">loss</text>"));
  free(svg);
}

static void test_side_by_side(void **st) {
  (void)st;
  double a[5] = {1, 2, 3, 4, 5};
  NnrtSeries s = {"x", epochs, a, 5};
  NnrtChart c[3] = {{.series = &s, .nseries = 1}, {.series = &s, .nseries = 1},
                    {.series = &s, .nseries = 1}};
  char *svg = render(NULL, c, 3);
  assert_well_formed(svg);
  assert_int_equal(count(svg, "<path"), 3);
  assert_int_equal(count(svg, "<clipPath id=\"clip"), 3);
  free(svg);
}

static void test_escaping(void **st) {
  (void)st;
  double a[5] = {5, 4, 3, 2, 1};
  NnrtSeries s = {"<a&b \"c\">", epochs, a, 5};
  NnrtChart c = {.title = "x < y & z", .series = &s, .nseries = 1};
  char *svg = render(NULL, &c, 1);
  assert_well_formed(svg);
  assert_non_null(strstr(svg, "&lt;a&amp;b &quot;c&quot;&gt;"));
  assert_non_null(strstr(svg, "x &lt; y &amp; z"));
  assert_null(strstr(svg, "<a&b"));
  free(svg);
}

static void test_log_axis_gaps(void **st) {
  (void)st;
  double a[5] = {1000, NAN, 0, 0.5, 0.001};
  NnrtSeries s = {"loss", epochs, a, 5};
  NnrtChart c = {.log_y = true, .ylabel = "loss", .series = &s, .nseries = 1};
  char *svg = render(NULL, &c, 1);
  assert_well_formed(svg);
  assert_int_equal(count(svg, "<path"), 1);
  /* 1000 is drawn, then a gap (NaN and 0), then the line restarts. */
  const char *d = strstr(svg, " d=\"");
  assert_non_null(d);
  const char *end = strchr(d + 4, '"');
  int moves = 0;
  for (const char *p = d + 4; p < end; p++)
    moves += *p == 'M';
  assert_int_equal(moves, 2);
  assert_non_null(strstr(svg, ">1000<"));
  assert_non_null(strstr(svg, ">0.001<"));
  assert_non_null(strstr(svg, "(log scale)"));
  free(svg);
}

static void test_degenerate(void **st) {
  (void)st;
  double flat[5] = {3, 3, 3, 3, 3}, none[5] = {NAN, NAN, NAN, NAN, NAN};
  NnrtSeries s[2] = {{"flat", epochs, flat, 5}, {"empty", epochs, none, 5}};
  NnrtChart c = {.series = s, .nseries = 2};
  char *svg = render(NULL, &c, 1);
  assert_well_formed(svg);
  assert_int_equal(count(svg, "<path"), 2);
  free(svg);
  NnrtSeries one = {"one point", epochs, flat, 1};
  NnrtChart c1 = {.log_y = true, .series = &one, .nseries = 1};
  svg = render(NULL, &c1, 1);
  assert_well_formed(svg);
  free(svg);
}

static void test_trajectory(void **st) {
  (void)st;
  double x[4] = {-1.5, -1, 0, 0.9}, y[4] = {-1.5, 0.5, 0.1, 0.8};
  double x2[3] = {-1.5, -1.4, -1.3}, y2[3] = {-1.5, -1.2, -0.9};
  NnrtSeries s[2] = {{"adam", x, y, 4}, {"sgd", x2, y2, 3}};
  NnrtChart c = {.trajectory = true, .xlabel = "p[0]", .ylabel = "p[1]", .has_mark = true,
                 .mark_x = 1, .mark_y = 1, .mark_label = "minimum", .series = s, .nseries = 2};
  char *svg = render(NULL, &c, 1);
  assert_well_formed(svg);
  assert_int_equal(count(svg, "<path"), 2);
  /* start and end per series, plus the two legend markers */
  assert_int_equal(count(svg, "<circle"), 2 * 2 + 2);
  assert_non_null(strstr(svg, ">minimum</text>"));
  assert_non_null(strstr(svg, ">p[0]</text>"));
  free(svg);
}

static void test_save_errors(void **st) {
  (void)st;
  double a[5] = {1, 2, 3, 4, 5};
  NnrtSeries s = {"x", epochs, a, 5};
  NnrtChart c = {.series = &s, .nseries = 1};
  char err[256] = "";
  assert_int_equal(nnrt_plot_save("/nonexistent-dir/x.svg", NULL, &c, 1, err, sizeof err), -1);
  assert_non_null(strstr(err, "/nonexistent-dir/x.svg"));
  char path[] = "/tmp/nnc-test-plot-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(nnrt_plot_save(path, "t", &c, 1, err, sizeof err), 0);
  FILE *f = fopen(path, "r");
  char head[5] = "";
  assert_int_equal(fread(head, 1, 4, f), 4);
  fclose(f);
  remove(path);
  assert_memory_equal(head, "<svg", 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_two_series),   cmocka_unit_test(test_side_by_side),
    cmocka_unit_test(test_escaping),     cmocka_unit_test(test_log_axis_gaps),
    cmocka_unit_test(test_degenerate),   cmocka_unit_test(test_trajectory),
    cmocka_unit_test(test_save_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
