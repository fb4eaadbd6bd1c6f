/*
 * diag.c — source files and diagnostics.
 *
 * A diagnostic is `path:line:col: severity: message`, then the source line
 * as written (tabs kept) and a caret line whose padding mirrors it, so the
 * caret sits under the column in any terminal.  Columns count characters:
 * a tab is one column, and so is a multi-byte UTF-8 character (continuation
 * bytes 0x80-0xBF count for nothing), the same rule lex.l uses.
 *
 * Only errors are counted; notes and warnings are not.  Compiler bugs go
 * through nnc_unreachable_at, which never blames the user's program.
 */
#include "nnc.h"
#include <stdint.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static FILE *diag_stream;
static int nerrors;

static FILE *out(void) { return diag_stream ? diag_stream : stderr; }

void diag_set_stream(FILE *f) { diag_stream = f; }

static void flush_expansions(void);

int diag_error_count(void) {
  flush_expansions(); /* the last error's chain of call sites */
  return nerrors;
}

SrcFile *src_from_string(const char *path, const char *text) {
  SrcFile *f = arena_alloc(sizeof *f);
  f->path = arena_strdup(path);
  f->len = strlen(text);
  f->text = arena_strndup(text, f->len);
  return f;
}

enum { SRC_MAX = 64 << 20 }; /* bytes: the largest source file nnc reads */

/* Only regular files are read: a FIFO would block forever, /dev/zero never
 * ends, a directory has no text.  The file is opened without blocking (a
 * FIFO with no writer would block in open) and checked with fstat, so what
 * is checked is what is read. */
SrcFile *src_load(const char *path, const char **why) {
  const char *dummy;
  if (!why)
    why = &dummy;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *why = arena_printf("cannot be read: %s", strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *why = "is not a regular file";
    close(fd);
    return NULL;
  }
  if (st.st_size > SRC_MAX) {
    *why = arena_printf("is too large (%lld bytes; a source file is at most %d MiB)", (long long)st.st_size, SRC_MAX >> 20);
    close(fd);
    return NULL;
  }
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *buf = malloc(cap);
  bool failed = !buf;
  while (!failed) {
    ssize_t got = read(fd, buf + len, cap - len);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      *why = arena_printf("cannot be read: %s", strerror(errno));
      failed = true;
    } else if (got == 0) {
      break;
    } else if ((len += (size_t)got) == cap) { /* the file grew while read */
      *why = "changed while it was read";
      failed = true;
    }
  }
  if (!buf)
    *why = "cannot be read: out of memory";
  close(fd);
  if (failed) {
    free(buf);
    return NULL;
  }
  SrcFile *f = arena_alloc(sizeof *f);
  f->path = arena_strdup(path);
  f->text = arena_strndup(buf, len);
  f->len = len;
  f->dev = (uint64_t)st.st_dev;
  f->ino = (uint64_t)st.st_ino;
  free(buf);
  return f;
}

static bool is_continuation(unsigned char c) { return c >= 0x80 && c < 0xC0; }

/* The source line, then spaces (tabs where the line has tabs) up to col,
 * then '^'. */
static void show_line(const SrcFile *f, int line, int col) {
  const char *p = f->text, *end = f->text + f->len;
  for (int l = 1; l < line && p < end; p++)
    if (*p == '\n')
      l++;
  const char *eol = p;
  while (eol < end && *eol != '\n')
    eol++;
  if (eol > p && eol[-1] == '\r')
    eol--;
  FILE *o = out();
  for (const char *q = p; q < eol; q++) /* a NUL byte (an error of its own) shows as a space */
    fputc(*q ? *q : ' ', o);
  fputc('\n', o);
  int c = 1;
  for (const char *q = p; q < eol && c < col; q++) {
    if (is_continuation((unsigned char)*q))
      continue;
    fputc(*q == '\t' ? '\t' : ' ', o);
    c++;
  }
  for (; c < col; c++)
    fputc(' ', o);
  fputs("^\n", o);
}

static void report(Loc at, const char *severity, const char *fmt, va_list ap) {
  FILE *o = out();
  if (!at.file)
    fprintf(o, "<builtin>: %s: ", severity);
  else if (at.line <= 0)
    fprintf(o, "%s: %s: ", at.file->path, severity);
  else
    fprintf(o, "%s:%d:%d: %s: ", at.file->path, at.line, at.col, severity);
  vfprintf(o, fmt, ap);
  fputc('\n', o);
  if (at.file && at.line > 0)
    show_line(at.file, at.line, at.col);
  fflush(o);
}

/* An inlined function is lowered once per call, so the same error can be
 * found twice; each (place, message) is reported once, with its notes. */
static bool suppressed;

static uint64_t seen[4096];
static int nseen;

static bool seen_before(Loc at, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  uint64_t h = 1469598103934665603ull;
  for (const char *c = msg; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
  h = (h ^ (uintptr_t)at.file) * 1099511628211ull;
  h = (h ^ (uint64_t)at.line << 20 ^ (uint64_t)at.col) * 1099511628211ull;
  for (int i = 0; i < nseen; i++)
    if (seen[i] == h) return true;
  if (nseen < 4096) seen[nseen++] = h;
  return false;
}

/* The call sites being inlined, outermost first (lower_call.c,
 * lower_model.c); deeper than MAX_EXPANSIONS only the outer ones are kept. */
enum { MAX_EXPANSIONS = 128 };
static struct { Loc site; const char *what; } expansions[MAX_EXPANSIONS];
static int nexpansions;

void diag_push_expansion(Loc site, const char *what) {
  if (nexpansions < MAX_EXPANSIONS) {
    expansions[nexpansions].site = site;
    expansions[nexpansions].what = what;
  }
  nexpansions++;
}

void diag_pop_expansion(void) {
  if (nexpansions > 0) nexpansions--;
}

/* An error in another file than the outermost call site (a stdlib or an
 * imported function) gets the chain of call sites that led to it, after
 * its own notes: the chain is copied when the error is reported and
 * printed when the diagnostic ends (the next error or warning, or when
 * the errors are counted).  Errors in the user's own file already point
 * at the user's code. */
static struct { Loc site; const char *what; } chain[MAX_EXPANSIONS];
static int nchain;

static void keep_expansions(Loc at) {
  int n = nexpansions < MAX_EXPANSIONS ? nexpansions : MAX_EXPANSIONS;
  nchain = 0;
  if (n == 0 || !at.file || !expansions[0].site.file || at.file == expansions[0].site.file) return;
  for (int i = n - 1; i >= 0; i--)
    if (expansions[i].site.file) {
      chain[nchain].site = expansions[i].site;
      chain[nchain++].what = expansions[i].what;
    }
}

void diag_note(Loc at, const char *fmt, ...);

static void flush_expansions(void) {
  int n = nchain;
  nchain = 0;
  for (int i = 0; i < n; i++) diag_note(chain[i].site, "in expansion of `%s`", chain[i].what);
}

/* Past MAX_SHOWN errors the rest are counted but not shown (nor their
 * notes): a file of a million stray bytes must not cost a million line
 * scans, and nobody reads that far. */
enum { MAX_SHOWN = 50 };
static int shown;

void diag_reset(void) {
  nerrors = shown = nseen = nexpansions = nchain = 0;
  suppressed = false;
}

void diag_error(Loc at, const char *fmt, ...) {
  va_list ap;
  flush_expansions();
  nerrors++;
  if (shown >= MAX_SHOWN) {
    suppressed = true;
    if (shown++ == MAX_SHOWN)
      fprintf(out(), "nnc: too many errors; not showing the rest\n");
    return;
  }
  va_start(ap, fmt);
  suppressed = seen_before(at, fmt, ap);
  va_end(ap);
  if (suppressed) return;
  shown++;
  va_start(ap, fmt);
  report(at, "error", fmt, ap);
  va_end(ap);
  keep_expansions(at);
}

void diag_note(Loc at, const char *fmt, ...) {
  va_list ap;
  if (suppressed) return;
  va_start(ap, fmt);
  report(at, "note", fmt, ap);
  va_end(ap);
}

void diag_warning(Loc at, const char *fmt, ...) {
  va_list ap;
  flush_expansions();
  va_start(ap, fmt);
  report(at, "warning", fmt, ap);
  va_end(ap);
}

static const char *cur_pass, *cur_verify;

void diag_set_pass(const char *pass, bool verifying) {
  cur_pass = pass;
  cur_verify = verifying ? pass : NULL;
}

_Noreturn void nnc_unreachable_at(const char *file, int line, const char *fmt, ...) {
  FILE *o = out();
  fflush(stdout);
  fprintf(o, "%s:%d: internal compiler error: ", file, line);
  if (cur_verify) fprintf(o, "the IR after pass '%s' is broken: ", cur_verify);
  else if (cur_pass) fprintf(o, "in pass '%s': ", cur_pass);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(o, fmt, ap);
  va_end(ap);
  fputs(" (this is a bug in nnc, not in your program)\n", o);
  fflush(o);
  exit(70);
}

/* Edit distance with adjacent transpositions (optimal string alignment). */
static int edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 40 || lb > 40) return 99;
  int d[41][41];
  for (int i = 0; i <= la; i++) d[i][0] = i;
  for (int j = 0; j <= lb; j++) d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < c)
        c = d[i - 2][j - 2] + 1; /* a swap of two neighbours is one edit */
      d[i][j] = c;
    }
  return d[la][lb];
}

void suggest_init(Suggest *s, const char *name) {
  s->name = name;
  s->pick = NULL;
  s->dist = 99;
}

void suggest_offer(Suggest *s, const char *candidate) {
  if (!candidate || !strcmp(candidate, s->name)) return;
  int d = edit_distance(s->name, candidate);
  if (d < s->dist) {
    s->dist = d;
    s->pick = candidate;
  }
}

const char *suggest_pick(const Suggest *s) {
  int len = (int)strlen(s->name), limit = len / 3 > 1 ? len / 3 : 1;
  return s->pick && s->dist <= limit && s->dist < len ? s->pick : NULL;
}

const char *dtype_name(Dtype d) {
  switch (d) {
  case DT_F32: return "f32";
  case DT_F64: return "f64";
  case DT_I32: return "i32";
  case DT_BOOL: return "bool";
  case DT_CSR: return "csr";
  case DT_FLOAT: return "float";
  }
  return "?";
}
