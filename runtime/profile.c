/*
 * profile.c — where a step's time goes, item by item (`nnc build
 * --profile`).
 *
 * A program built with --profile calls nnrt_prof(what) before each work
 * item of its kernels (a fused loop, a row nest, a GEMM, a copy; `what` a
 * constant string that names it, as `nnc emit fused` does) and
 * nnrt_prof(NULL) at each kernel's end.  The time from one call to the
 * next, on the calling thread's clock, is the item's: its own work and,
 * for work split over the team, the wait for the other threads.  Items are
 * told apart by the address of their string.  After training,
 * nnrt_prof_report prints the items that took most, with their share of
 * the time inside the kernels and of the whole run (the rest: the
 * optimizer step, batch gathering, logging); NNRT_PROFILE_ROWS=N lists N.  The program computes
 * exactly what it computes without --profile.
 */
#include "program.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PROF_SLOTS = 8192, PROF_SHOWN = 40 };

typedef struct ProfItem { const char *what; int64_t ns, calls; } ProfItem;
static ProfItem items[PROF_SLOTS];
static int nitems;
static const char *cur;
static int64_t since;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static ProfItem *slot(const char *what) {
  size_t h = ((size_t)(uintptr_t)what >> 3) * 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < PROF_SLOTS; i++) {
    ProfItem *p = &items[(h + i) & (PROF_SLOTS - 1)];
    if (p->what == what) return p;
    if (!p->what) {
      if (nitems >= PROF_SLOTS / 2) return NULL; /* full enough: stop counting new items */
      p->what = what;
      nitems++;
      return p;
    }
  }
  return NULL;
}

void nnrt_prof(const char *what) {
  int64_t t = now_ns();
  if (cur) {
    ProfItem *p = slot(cur);
    if (p) p->ns += t - since, p->calls++;
  }
  cur = what;
  since = t;
}

static int by_time(const void *a, const void *b) {
  const ProfItem *x = a, *y = b;
  return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

void nnrt_prof_report(double run_seconds) {
  if (!nitems) return;
  ProfItem *all = malloc(sizeof *all * (size_t)nitems);
  if (!all) return;
  int n = 0;
  int64_t total = 0;
  for (int i = 0; i < PROF_SLOTS; i++)
    if (items[i].what) all[n++] = items[i], total += items[i].ns;
  qsort(all, (size_t)n, sizeof *all, by_time);
  const char *rows = getenv("NNRT_PROFILE_ROWS"); /* how many items to list (default PROF_SHOWN) */
  int shown = rows && atoi(rows) > 0 ? atoi(rows) : PROF_SHOWN;
  double in_kernels = (double)total * 1e-9;
  fprintf(stderr, "profile: %.3f s in the step kernels", in_kernels);
  if (run_seconds > 0)
    fprintf(stderr, " of %.3f s of training (%.1f%%; the rest: optimizer steps, batches, logging)", run_seconds,
            100 * in_kernels / run_seconds);
  fprintf(stderr, "\n  %10s %6s %8s %10s  %s\n", "ms", "%", "calls", "us/call", "item (as nnc emit fused names it)");
  for (int i = 0; i < n && i < shown; i++)
    fprintf(stderr, "  %10.2f %6.1f %8lld %10.1f  %s\n", (double)all[i].ns * 1e-6, 100.0 * (double)all[i].ns / (double)total,
            (long long)all[i].calls, (double)all[i].ns * 1e-3 / (double)all[i].calls, all[i].what);
  int64_t gemm = 0; /* the matrix products, against the rest */
  for (int i = 0; i < n; i++)
    if (strstr(all[i].what, " single ") && strstr(all[i].what, "=matmul")) gemm += all[i].ns;
  if (n > shown) {
    int64_t rest = 0;
    for (int i = shown; i < n; i++) rest += all[i].ns;
    fprintf(stderr, "  %10.2f %6.1f %8s %10s  (%d more items)\n", (double)rest * 1e-6, 100.0 * (double)rest / (double)total, "",
            "", n - shown);
  }
  fprintf(stderr, "  matrix products: %.2f ms (%.1f%%); everything else: %.2f ms (%.1f%%)\n", (double)gemm * 1e-6,
          100.0 * (double)gemm / (double)total, (double)(total - gemm) * 1e-6, 100.0 * (double)(total - gemm) / (double)total);
  free(all);
}
