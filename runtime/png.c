/*
 * png.c — a minimal PNG encoder: signature, IHDR, one IDAT holding the
 * zlib-compressed rows (each prefixed by filter byte 0), IEND.  Chunk CRCs
 * cover the chunk type and data (zlib's crc32, the same CRC-32 PNG uses).
 *
 * It does not filter rows adaptively or split IDAT: the images it writes
 * (grids of small pictures) compress well enough without.
 */
#include "png.h"
#include "internal.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* Write a chunk at q (length, type, data already at q + 8, CRC); returns its size. */
static size_t chunk(uint8_t *q, const char *type, size_t n) {
  put32(q, (uint32_t)n);
  memcpy(q + 4, type, 4);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, q + 4, (uInt)(n + 4));
  put32(q + 8 + n, (uint32_t)crc);
  return n + 12;
}

int nnrt_png_encode(const uint8_t *pix, int64_t w, int64_t h, int channels,
                    uint8_t **out, size_t *len, char *err, size_t errlen) {
  *out = NULL;
  *len = 0;
  if ((channels != 1 && channels != 3) || w < 1 || h < 1 || w > 1 << 20 || h > 1 << 20) {
    snprintf(err, errlen, "cannot encode a %lldx%lld image with %d channels as PNG",
             (long long)w, (long long)h, channels);
    return -1;
  }
  size_t row = (size_t)w * (size_t)channels, raw_len = (row + 1) * (size_t)h;
  uLong bound = compressBound((uLong)raw_len);
  size_t total = 8 + 25 + 12 + bound + 12;
  /* one block: the filtered rows, then the file being built */
  uint8_t *raw = nnrt_alloc(raw_len + total, "PNG image");
  if (!raw) {
    snprintf(err, errlen, "out of memory encoding a %lldx%lld PNG", (long long)w, (long long)h);
    return -1;
  }
  for (int64_t y = 0; y < h; y++) {
    raw[(size_t)y * (row + 1)] = 0; /* filter type: none */
    memcpy(raw + (size_t)y * (row + 1) + 1, pix + (size_t)y * row, row);
  }
  uint8_t *file = raw + raw_len, *q = file;
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  memcpy(q, sig, 8);
  q += 8;
  put32(q + 8, (uint32_t)w);
  put32(q + 12, (uint32_t)h);
  q[16] = 8;                       /* bit depth */
  q[17] = channels == 3 ? 2 : 0;   /* colour type: RGB or grey */
  q[18] = q[19] = q[20] = 0;       /* deflate, adaptive filtering, no interlace */
  q += chunk(q, "IHDR", 13);
  uLongf zlen = bound;
  if (compress2(q + 8, &zlen, raw, (uLong)raw_len, 9) != Z_OK) {
    nnrt_free(raw);
    snprintf(err, errlen, "zlib could not compress the PNG image data");
    return -1;
  }
  q += chunk(q, "IDAT", zlen);
  q += chunk(q, "IEND", 0);
  *len = (size_t)(q - file);
  memmove(raw, file, *len); /* the caller frees *out: move the file to the block's start */
  *out = raw;
  return 0;
}

int nnrt_png_write(const char *path, const uint8_t *pix, int64_t w, int64_t h,
                   int channels, char *err, size_t errlen) {
  uint8_t *png;
  size_t len;
  if (nnrt_png_encode(pix, w, h, channels, &png, &len, err, errlen) != 0)
    return -1;
  FILE *f = nnrt_open_output(path, "the picture", err, errlen);
  if (!f) {
    nnrt_free(png);
    return -1;
  }
  fwrite(png, 1, len, f); /* a short write sets the error flag nnrt_close_output checks */
  nnrt_free(png);
  return nnrt_close_output(f, path, "the picture", err, errlen);
}
