/*
 * idx_cache.c — gzipped IDX files inflated once: the array nnrt_load_idx
 * made from a .gz file is kept in a cache file, and the next run of any
 * program reads that instead of inflating again.  Inflating Fashion-MNIST's
 * 26 MB of training images takes ~0.17 s of one core (zlib; one gzip member
 * cannot be split between threads), most of a program's start; reading the
 * 47 MB back from the page cache takes a few ms.
 *
 * Where: $NNRT_CACHE if set (a directory; "0" or "off" turns the cache
 * off), else $XDG_CACHE_HOME/nnc, else $HOME/.cache/nnc (made if missing).
 * A file is named after the source's base name and a hash of what
 * identifies it: its absolute path, device, inode, size, modification time
 * and gzip trailer (the CRC-32 and length of the inflated data), so an
 * edited, replaced or moved file misses — even one rewritten with the same
 * size within the file system's timestamp granularity.  Content: a header
 * (magic, dtype, rank, dims, payload bytes, the source's size and mtime),
 * then the array as the program uses it (native byte order).
 *
 * Invariants: the cache never changes what a program computes — a hit gives
 * the bytes the inflate gave; anything unexpected in a cache file (another
 * magic, a header that disagrees with the source or with the file's size, a
 * short read) is a miss, and the file is rewritten.  Writing is best-effort
 * and silent (a read-only or full disk costs nothing but the speed-up): a
 * temporary file in the same directory, renamed into place, so concurrent
 * runs never see half a file.  A cache file is trusted as an uncompressed
 * IDX file is: it holds no checksum (summing 47 MB would cost what the
 * cache saves); delete the directory to rebuild it.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "nnc-idx-cache-1"

typedef struct Header {
  char magic[16];
  int32_t dtype, rank;
  int64_t dims[NNRT_MAX_RANK];
  uint64_t bytes;          /* payload */
  uint64_t src_size;       /* the source's, as a second check beside the name */
  int64_t src_mtime_sec, src_mtime_nsec;
} Header;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

/* The cache directory into dir (made if missing); false when off. */
static bool cache_dir(char *dir, size_t len) {
  const char *env = getenv("NNRT_CACHE"), *base;
  int k;
  if (env && (!strcmp(env, "0") || !strcmp(env, "off")))
    return false;
  if (env && *env)
    k = snprintf(dir, len, "%s", env);
  else if ((base = getenv("XDG_CACHE_HOME")) && *base == '/')
    k = snprintf(dir, len, "%s/nnc", base);
  else if ((base = getenv("HOME")) && *base == '/') {
    k = snprintf(dir, len, "%s/.cache", base);
    if (k > 0 && (size_t)k < len)
      mkdir(dir, 0755);
    k = snprintf(dir, len, "%s/.cache/nnc", base);
  } else
    return false;
  if (k <= 0 || (size_t)k >= len)
    return false;
  struct stat st;
  if (stat(dir, &st) != 0 && mkdir(dir, 0755) != 0 && errno != EEXIST)
    return false;
  return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The cache file of source path (st: its stat) into out; false when off. */
static bool cache_path(const char *path, const struct stat *st, char *out, size_t len) {
  char dir[PATH_MAX], real[PATH_MAX];
  unsigned char trailer[8];
  if (st->st_size < 18 || !cache_dir(dir, sizeof dir) || !realpath(path, real))
    return false;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  bool got = fd >= 0 && pread(fd, trailer, sizeof trailer, st->st_size - 8) == (ssize_t)sizeof trailer;
  if (fd >= 0)
    close(fd);
  if (!got)
    return false;
  uint64_t h = fnv(0xcbf29ce484222325ull, real, strlen(real));
  int64_t id[] = {(int64_t)st->st_dev, (int64_t)st->st_ino, (int64_t)st->st_size,
                  (int64_t)st->st_mtim.tv_sec, (int64_t)st->st_mtim.tv_nsec};
  h = fnv(h, id, sizeof id);
  h = fnv(h, trailer, sizeof trailer);
  const char *name = strrchr(real, '/');
  name = name ? name + 1 : real;
  int k = snprintf(out, len, "%s/%.100s-%016llx.idx", dir, name, (unsigned long long)h);
  return k > 0 && (size_t)k < len;
}

/* All n bytes read into buf (or written from it), retrying short transfers
 * and interruptions; false on an error or an early end of file. */
static bool transfer_all(int fd, void *buf, size_t n, bool writing) {
  char *p = buf;
  while (n > 0) {
    size_t k = n > (1u << 30) ? (1u << 30) : n;
    ssize_t r = writing ? write(fd, p, k) : read(fd, p, k);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p += r;
    n -= (size_t)r;
  }
  return true;
}

bool nnrt_idx_cache_get(const char *path, const struct stat *src, NnrtArray *out) {
  char file[PATH_MAX + 160];
  if (!cache_path(path, src, file, sizeof file))
    return false;
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  Header h;
  struct stat st;
  bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && transfer_all(fd, &h, sizeof h, false) &&
            !memcmp(h.magic, MAGIC, sizeof MAGIC) && h.rank >= 1 && h.rank <= NNRT_MAX_RANK &&
            (h.dtype == NNRT_U8 || h.dtype == NNRT_I32 || h.dtype == NNRT_F32 || h.dtype == NNRT_F64) &&
            h.src_size == (uint64_t)src->st_size && h.src_mtime_sec == (int64_t)src->st_mtim.tv_sec &&
            h.src_mtime_nsec == (int64_t)src->st_mtim.tv_nsec &&
            (uint64_t)st.st_size == sizeof h + h.bytes;
  uint64_t bytes = 0;
  ok = ok && nnrt_shape_bytes((NnrtDtype)h.dtype, h.rank, h.dims, UINT64_C(4) << 30, &bytes) == 0 &&
       bytes == h.bytes;
  void *data = ok ? nnrt_alloc(bytes ? (size_t)bytes : 1, "IDX data") : NULL;
  ok = data && transfer_all(fd, data, (size_t)bytes, false);
  close(fd);
  if (!ok) {
    nnrt_free(data);
    return false;
  }
  memset(out, 0, sizeof *out);
  out->dtype = (NnrtDtype)h.dtype;
  out->rank = h.rank;
  memcpy(out->dims, h.dims, sizeof h.dims);
  out->data = data;
  return true;
}

void nnrt_idx_cache_put(const char *path, const struct stat *src, const NnrtArray *a) {
  char file[PATH_MAX + 160], tmp[PATH_MAX + 200];
  if (!cache_path(path, src, file, sizeof file))
    return;
  Header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, MAGIC, sizeof MAGIC);
  h.dtype = (int32_t)a->dtype;
  h.rank = a->rank;
  memcpy(h.dims, a->dims, sizeof h.dims);
  if (nnrt_shape_bytes(a->dtype, a->rank, a->dims, UINT64_C(4) << 30, &h.bytes) != 0)
    return;
  h.src_size = (uint64_t)src->st_size;
  h.src_mtime_sec = (int64_t)src->st_mtim.tv_sec;
  h.src_mtime_nsec = (int64_t)src->st_mtim.tv_nsec;
  int k = snprintf(tmp, sizeof tmp, "%s.XXXXXX", file);
  if (k <= 0 || (size_t)k >= sizeof tmp)
    return;
  int fd = mkstemp(tmp);
  if (fd < 0)
    return;
  bool ok = transfer_all(fd, &h, sizeof h, true) && transfer_all(fd, a->data, (size_t)h.bytes, true);
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, file) != 0)
    unlink(tmp);
}
