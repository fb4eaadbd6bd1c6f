/*
 * png.h — PNG images written by the project itself (runtime/png.c) with
 * zlib's compress2 and crc32; used by `OUT show` to save an image grid.
 *
 * Invariants: 8-bit samples only, grey (1 channel) or RGB (3), rows top to
 * bottom, no interlacing, filter type 0 on every row; the only allocation
 * goes through nnrt_alloc and is freed on every path.
 */
#ifndef NNRT_PNG_H
#define NNRT_PNG_H

#include <stddef.h>
#include <stdint.h>

/* Encode a w x h image (pix: h rows of w*channels bytes) as PNG into a new
 * nnrt_alloc'ed buffer (*out, *len).  Returns 0, or -1 with a message. */
int nnrt_png_encode(const uint8_t *pix, int64_t w, int64_t h, int channels,
                    uint8_t **out, size_t *len, char *err, size_t errlen);
/* The same, written to path. */
int nnrt_png_write(const char *path, const uint8_t *pix, int64_t w, int64_t h,
                   int channels, char *err, size_t errlen);

#endif
