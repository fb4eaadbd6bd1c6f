/*
 * files.c — how the runtime opens the files a user names: data files,
 * checkpoints, logs, plots and pictures.
 *
 * Reading: only regular files.  A FIFO would block the open (or the read)
 * forever, a directory reads as garbage or not at all, a device such as
 * /dev/zero never ends; each is refused up front, naming what it is.  The
 * open itself is non-blocking, so a FIFO without a writer cannot hang it.
 *
 * Writing: only regular files or new paths.  `--save /dev/full` must not
 * replace the device node (the checkpoint's rename would), and a log sent
 * to a FIFO or a terminal is not a file anyone can read back.  Every write
 * error a FILE has seen, and the close, are checked by nnrt_close_output,
 * with the path and errno's text (SQLite's attitude: an I/O error is an
 * error).
 *
 * Error convention as internal.h: -1 (or NULL) and a one-line message in
 * err naming the path.
 */
#include "files.h"

#include <stdbool.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdarg.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void say(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
}

static const char *kind_of(mode_t m) {
  return S_ISDIR(m)    ? "is a directory"
         : S_ISFIFO(m) ? "is a FIFO (named pipe)"
         : S_ISCHR(m)  ? "is a character device"
         : S_ISBLK(m)  ? "is a block device"
         : S_ISSOCK(m) ? "is a socket"
                       : "is not a regular file";
}

/* A path that does not exist yet as its directory's real path plus its
 * last name ("./a.st" and "a.st" agree); false if the directory is not there. */
static bool canonical(const char *path, char *out, size_t len) {
  const char *slash = strrchr(path, '/');
  char dir[PATH_MAX], real[PATH_MAX];
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  if (!realpath(dir, real))
    return false;
  return (size_t)snprintf(out, len, "%s/%s", real, slash ? slash + 1 : path) < len;
}

bool nnrt_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (strcmp(a, b) == 0)
    return true;
  bool ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
  if (ea && eb)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (ea || eb)
    return false;
  char ca[2 * PATH_MAX], cb[2 * PATH_MAX];
  return canonical(a, ca, sizeof ca) && canonical(b, cb, sizeof cb) && strcmp(ca, cb) == 0;
}

int nnrt_regular_or_new(const char *path, char *err, size_t errlen) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT)
      return 0;
    say(err, errlen, "%s: cannot write: %s", path, strerror(errno));
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    say(err, errlen, "%s: %s, not a regular file: refusing to write to it", path,
             kind_of(st.st_mode));
    return -1;
  }
  return 0;
}

FILE *nnrt_open_input(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    say(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    say(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    say(err, errlen, "%s: %s, not a regular file", path, kind_of(st.st_mode));
    close(fd);
    return NULL;
  }
  int fl = fcntl(fd, F_GETFL);
  FILE *f = fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ? NULL : fdopen(fd, "rb");
  if (!f) {
    say(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    close(fd);
  }
  return f;
}

FILE *nnrt_open_output(const char *path, const char *what, char *err, size_t errlen) {
  if (nnrt_regular_or_new(path, err, errlen) != 0)
    return NULL;
  /* Non-blocking and without O_TRUNC until fstat says it is a regular file:
   * the path may have become something else since the stat above. */
  int fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0666);
  if (fd < 0) {
    say(err, errlen, "%s: cannot open %s: %s", path, what, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    say(err, errlen, "%s: cannot open %s: %s", path, what, strerror(errno));
    close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    say(err, errlen, "%s: %s, not a regular file: refusing to write to it", path,
             kind_of(st.st_mode));
    close(fd);
    return NULL;
  }
  int fl = fcntl(fd, F_GETFL);
  FILE *f = NULL;
  if (fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0 && ftruncate(fd, 0) == 0)
    f = fdopen(fd, "wb");
  if (!f) {
    say(err, errlen, "%s: cannot open %s: %s", path, what, strerror(errno));
    close(fd);
  }
  return f;
}

int nnrt_close_output(FILE *f, const char *path, const char *what, char *err, size_t errlen) {
  /* fflush first: its errno is the one that says why (ENOSPC, EIO, ...). */
  int e = 0;
  if (fflush(f) != 0)
    e = errno;
  bool bad = ferror(f) || e;
  if (fclose(f) != 0 && !e)
    e = errno, bad = true;
  if (!bad)
    return 0;
  say(err, errlen, "%s: cannot write %s: %s", path, what, e ? strerror(e) : "write error");
  return -1;
}

int nnrt_fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}
