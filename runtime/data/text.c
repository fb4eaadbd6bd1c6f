/*
 * text.c — text corpora for the text(...) data source: reading a file whole,
 * checking it is text (no NUL byte, valid UTF-8), its vocabulary (the
 * distinct characters, or with words the distinct whitespace-separated
 * words), encoding text as token ids, cutting the ids into windows, and the
 * vocabulary's one-string form kept in a checkpoint's metadata.
 *
 * Invariants:
 *  - ids are assigned in a fixed order: characters by code point, words
 *    bytewise (strcmp), so one corpus always gives the same ids;
 *  - a vocabulary holds 1..cap distinct, non-empty tokens; a word never
 *    holds whitespace, so the serialised form (characters concatenated,
 *    words joined by one space) parses back to the same vocabulary;
 *  - every error names the file (and the byte offset when the content is
 *    at fault); nothing reads out of bounds or aborts.
 */
#include "internal.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX_FILE (UINT64_C(1) << 30)

static bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The UTF-8 sequence at b[0..n): its length (1-4) and code point, or 0 if
 * it is not a valid, shortest-form encoding of a scalar value. */
static int utf8_next(const unsigned char *b, size_t n, uint32_t *cp) {
  unsigned char c = b[0];
  int len;
  uint32_t v, min;
  if (c < 0x80)
    return *cp = c, 1;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2, v = c & 0x1f, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, v = c & 0x0f, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, v = c & 0x07, min = 0x10000;
  else
    return 0;
  if ((size_t)len > n)
    return 0;
  for (int k = 1; k < len; k++) {
    if ((b[k] & 0xc0) != 0x80)
      return 0;
    v = v << 6 | (b[k] & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
    return 0;
  *cp = v;
  return len;
}

int nnrt_text_check(const char *buf, size_t len, const char *name, char *err, size_t errlen) {
  if (len == 0)
    return nnrt_fail(err, errlen, "%s: the file is empty (a text corpus needs at least one token)", name);
  const unsigned char *b = (const unsigned char *)buf;
  for (size_t at = 0; at < len;) {
    uint32_t cp;
    if (b[at] == 0)
      return nnrt_fail(err, errlen, "%s: byte %zu: a NUL byte: this is a binary file, not UTF-8 text", name, at);
    int k = utf8_next(b + at, len - at, &cp);
    if (!k)
      return nnrt_fail(err, errlen, "%s: byte %zu: invalid UTF-8 (byte 0x%02x): not a UTF-8 text file", name, at,
                  b[at]);
    at += (size_t)k;
  }
  return 0;
}

int nnrt_read_file(const char *path, uint64_t cap, const char *what, char **out, size_t *outlen, char *err,
                   size_t errlen) {
  *out = NULL;
  *outlen = 0;
  FILE *f = nnrt_open_input(path, err, errlen);
  if (!f)
    return -1;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0)
    size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return nnrt_fail(err, errlen, "%s: cannot determine the file size", path);
  }
  if ((uint64_t)size > cap) {
    fclose(f);
    return nnrt_fail(err, errlen, "%s: %ld bytes: larger than the 1 GiB cap for %s", path, size, what);
  }
  char *buf = nnrt_alloc((size_t)size + 1, what);
  if (!buf) {
    fclose(f);
    return nnrt_fail(err, errlen, "%s: out of memory reading %ld bytes", path, size);
  }
  size_t got = fread(buf, 1, (size_t)size, f);
  bool bad = ferror(f);
  fclose(f);
  if (bad || got != (size_t)size) {
    nnrt_free(buf);
    return nnrt_fail(err, errlen, "%s: read error after %zu of %ld bytes", path, got, size);
  }
  buf[got] = 0;
  *out = buf;
  *outlen = got;
  return 0;
}

int nnrt_read_text(const char *path, char **out, size_t *outlen, char *err, size_t errlen) {
  if (nnrt_read_file(path, TEXT_MAX_FILE, "a text corpus", out, outlen, err, errlen) != 0)
    return -1;
  char *buf = *out;
  size_t got = *outlen;
  if (nnrt_text_check(buf, got, path, err, errlen) != 0) {
    nnrt_free(buf);
    *out = NULL;
    *outlen = 0;
    return -1;
  }
  return 0;
}

/* ---- vocabularies ------------------------------------------------------- */

void nnrt_vocab_free(NnrtVocab *v) {
  if (!v)
    return;
  nnrt_free(v->blob);
  nnrt_free(v->off);
  nnrt_free(v->cps);
  nnrt_free(v);
}

/* A vocabulary of n tokens, blob (NUL-separated tokens in id order) taken
 * over; NULL when out of memory (blob freed). */
static NnrtVocab *vocab_new(bool words, char *blob, size_t bytes, int64_t n, char *err, size_t errlen,
                            const char *name) {
  NnrtVocab *v = nnrt_alloc(sizeof *v, "vocabulary");
  int64_t *off = nnrt_alloc((size_t)n * sizeof *off + 1, "vocabulary");
  uint32_t *cps = words ? NULL : nnrt_alloc((size_t)n * sizeof *cps + 1, "vocabulary");
  if (!v || !off || (!words && !cps)) {
    nnrt_free(v), nnrt_free(off), nnrt_free(cps), nnrt_free(blob);
    nnrt_fail(err, errlen, "%s: out of memory for a vocabulary of %lld tokens", name, (long long)n);
    return NULL;
  }
  v->words = words;
  v->n = n;
  v->blob = blob;
  v->bytes = bytes;
  v->off = off;
  v->cps = cps;
  size_t at = 0;
  for (int64_t i = 0; i < n; i++) {
    off[i] = (int64_t)at;
    if (cps)
      utf8_next((const unsigned char *)blob + at, bytes - at, &cps[i]);
    at += strlen(blob + at) + 1;
  }
  return v;
}

static int too_many(const char *name, bool words, int64_t count, int64_t cap, char *err, size_t errlen) {
  return nnrt_fail(err, errlen, "%s: %lld distinct %s, more than the vocabulary cap vocab = %lld", name,
              (long long)count, words ? "words" : "characters", (long long)cap);
}

static int vocab_chars(const char *buf, size_t len, const char *name, int64_t cap, NnrtVocab **out, char *err,
                       size_t errlen) {
  uint8_t *seen = nnrt_alloc(0x110000 / 8, "vocabulary");
  if (!seen)
    return nnrt_fail(err, errlen, "%s: out of memory building the vocabulary", name);
  memset(seen, 0, 0x110000 / 8);
  const unsigned char *b = (const unsigned char *)buf;
  int64_t count = 0;
  for (size_t at = 0; at < len;) {
    uint32_t cp;
    int k = b[at] ? utf8_next(b + at, len - at, &cp) : 0;
    if (!k) { /* nnrt_text_check was skipped */
      nnrt_free(seen);
      return nnrt_fail(err, errlen, "%s: byte %zu: %s (byte 0x%02x)", name, at, b[at] ? "invalid UTF-8" : "a NUL byte",
                  b[at]);
    }
    if (!(seen[cp >> 3] & 1u << (cp & 7)))
      seen[cp >> 3] |= (uint8_t)(1u << (cp & 7)), count++;
    at += (size_t)k;
  }
  if (count > cap) {
    nnrt_free(seen);
    return too_many(name, false, count, cap, err, errlen);
  }
  char *blob = nnrt_alloc((size_t)count * 5 + 1, "vocabulary");
  if (!blob) {
    nnrt_free(seen);
    return nnrt_fail(err, errlen, "%s: out of memory building the vocabulary", name);
  }
  size_t at = 0;
  for (uint32_t cp = 0; cp < 0x110000; cp++)
    if (seen[cp >> 3] & 1u << (cp & 7)) {
      at += nnrt_utf8_put(blob + at, cp);
      blob[at++] = 0;
    }
  nnrt_free(seen);
  return (*out = vocab_new(false, blob, at, count, err, errlen, name)) ? 0 : -1;
}

typedef struct Span { const char *s; size_t n; } Span;

static int span_cmp(const void *a, const void *b) {
  const Span *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* The words of buf (bounded by len), in text order, into *spans. */
static int64_t split_words(const char *buf, size_t len, Span **spans, const char *name, char *err,
                           size_t errlen) {
  int64_t n = 0;
  for (size_t at = 0; at < len;) {
    while (at < len && is_space((unsigned char)buf[at]))
      at++;
    if (at < len)
      n++;
    while (at < len && !is_space((unsigned char)buf[at]))
      at++;
  }
  *spans = nnrt_alloc((size_t)n * sizeof **spans + 1, "word list");
  if (!*spans)
    return nnrt_fail(err, errlen, "%s: out of memory splitting %lld words", name, (long long)n);
  int64_t k = 0;
  for (size_t at = 0; at < len;) {
    while (at < len && is_space((unsigned char)buf[at]))
      at++;
    size_t b = at;
    while (at < len && !is_space((unsigned char)buf[at]))
      at++;
    if (at > b)
      (*spans)[k++] = (Span){buf + b, at - b};
  }
  return n;
}

static int vocab_words(const char *buf, size_t len, const char *name, int64_t cap, NnrtVocab **out, char *err,
                       size_t errlen) {
  Span *w;
  int64_t n = split_words(buf, len, &w, name, err, errlen);
  if (n < 0)
    return -1;
  if (n == 0) {
    nnrt_free(w);
    return nnrt_fail(err, errlen, "%s: no words (the file is only whitespace)", name);
  }
  qsort(w, (size_t)n, sizeof *w, span_cmp);
  int64_t count = 0;
  size_t bytes = 0;
  for (int64_t i = 0; i < n; i++)
    if (i == 0 || span_cmp(&w[i - 1], &w[i]) != 0)
      w[count++] = w[i], bytes += w[i].n + 1;
  if (count > cap) {
    nnrt_free(w);
    return too_many(name, true, count, cap, err, errlen);
  }
  char *blob = nnrt_alloc(bytes + 1, "vocabulary");
  if (!blob) {
    nnrt_free(w);
    return nnrt_fail(err, errlen, "%s: out of memory building the vocabulary", name);
  }
  size_t at = 0;
  for (int64_t i = 0; i < count; i++) {
    memcpy(blob + at, w[i].s, w[i].n);
    at += w[i].n;
    blob[at++] = 0;
  }
  nnrt_free(w);
  return (*out = vocab_new(true, blob, at, count, err, errlen, name)) ? 0 : -1;
}

int nnrt_vocab_build(const char *buf, size_t len, const char *name, bool words, int64_t cap, NnrtVocab **out,
                     char *err, size_t errlen) {
  *out = NULL;
  return words ? vocab_words(buf, len, name, cap, out, err, errlen)
               : vocab_chars(buf, len, name, cap, out, err, errlen);
}

size_t nnrt_utf8_put(char *to, uint32_t cp) {
  unsigned char *o = (unsigned char *)to;
  if (cp < 0x80)
    return o[0] = (unsigned char)cp, 1;
  if (cp < 0x800)
    return o[0] = (unsigned char)(0xc0 | cp >> 6), o[1] = (unsigned char)(0x80 | (cp & 0x3f)), 2;
  if (cp < 0x10000)
    return o[0] = (unsigned char)(0xe0 | cp >> 12), o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f)),
           o[2] = (unsigned char)(0x80 | (cp & 0x3f)), 3;
  return o[0] = (unsigned char)(0xf0 | cp >> 18), o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f)),
         o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f)), o[3] = (unsigned char)(0x80 | (cp & 0x3f)), 4;
}

int64_t nnrt_vocab_size(const NnrtVocab *v) { return v ? v->n : 0; }

int nnrt_vocab_is_words(const NnrtVocab *v) { return v && v->words; }

const char *nnrt_vocab_token(const NnrtVocab *v, int64_t id) {
  return v && id >= 0 && id < v->n ? v->blob + v->off[id] : NULL;
}

/* The id of code point cp / of the word s[0..n), or -1. */
static int64_t find_char(const NnrtVocab *v, uint32_t cp) {
  int64_t lo = 0, hi = v->n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (v->cps[mid] < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < v->n && v->cps[lo] == cp ? lo : -1;
}

static int64_t find_word(const NnrtVocab *v, const char *s, size_t n) {
  int64_t lo = 0, hi = v->n;
  Span key = {s, n};
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    const char *t = v->blob + v->off[mid];
    Span m = {t, strlen(t)};
    if (span_cmp(&m, &key) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < v->n) {
    const char *t = v->blob + v->off[lo];
    if (strlen(t) == n && memcmp(t, s, n) == 0)
      return lo;
  }
  return -1;
}

int64_t nnrt_vocab_find(const NnrtVocab *v, const char *s, size_t n) {
  if (v->words)
    return find_word(v, s, n);
  uint32_t cp;
  int k = n ? utf8_next((const unsigned char *)s, n, &cp) : 0;
  return k && (size_t)k == n ? find_char(v, cp) : -1;
}

/* A token for a message: printable ASCII as is, else escaped; at most 40 bytes. */
static void show_token(char *to, size_t cap, const char *s, size_t n) {
  size_t at = 0;
  for (size_t k = 0; k < n && at + 6 < cap && k < 40; k++) {
    unsigned char c = (unsigned char)s[k];
    if (c >= 0x20 && c < 0x7f && c != '\'')
      to[at++] = (char)c;
    else
      at += (size_t)snprintf(to + at, cap - at, "\\x%02x", c);
  }
  to[at] = 0;
}

static int unknown(const char *name, size_t at, const char *s, size_t n, bool words, const char *vocab_of,
                   char *err, size_t errlen) {
  char shown[200];
  show_token(shown, sizeof shown, s, n);
  return nnrt_fail(err, errlen, "%s: byte %zu: %s '%s' is not in the vocabulary%s%s", name, at,
              words ? "word" : "character", shown, vocab_of ? " of " : "", vocab_of ? vocab_of : "");
}

int64_t nnrt_text_encode(const NnrtVocab *v, const char *buf, size_t len, const char *name, const char *vocab_of,
                         int32_t *ids, int64_t cap, char *err, size_t errlen) {
  const unsigned char *b = (const unsigned char *)buf;
  int64_t n = 0;
  for (size_t at = 0; at < len;) {
    int64_t id;
    size_t start = at;
    if (v->words) {
      while (at < len && is_space(b[at]))
        at++;
      if (at == len)
        break;
      start = at;
      while (at < len && !is_space(b[at]))
        at++;
      id = find_word(v, buf + start, at - start);
    } else {
      uint32_t cp;
      int k = b[at] ? utf8_next(b + at, len - at, &cp) : 0;
      if (!k)
        return nnrt_fail(err, errlen, "%s: byte %zu: %s (byte 0x%02x)", name, at,
                    b[at] ? "invalid UTF-8" : "a NUL byte", b[at]);
      at += (size_t)k;
      id = find_char(v, cp);
    }
    if (id < 0)
      return unknown(name, start, buf + start, at - start, v->words, vocab_of, err, errlen);
    if (n < cap)
      ids[n] = (int32_t)id;
    n++;
  }
  return n;
}

int nnrt_text_ids(const NnrtVocab *v, const char *buf, size_t len, const char *name, const char *vocab_of,
                  int32_t **ids, int64_t *n, char *err, size_t errlen) {
  *ids = NULL;
  *n = 0;
  /* a character is at least one byte, a word at least two with its space */
  int64_t most = (int64_t)len;
  int32_t *out = nnrt_alloc((size_t)most * sizeof *out + 1, "token ids");
  if (!out)
    return nnrt_fail(err, errlen, "%s: out of memory for %lld token ids", name, (long long)most);
  int64_t got = nnrt_text_encode(v, buf, len, name, vocab_of, out, most, err, errlen);
  if (got < 0) {
    nnrt_free(out);
    return -1;
  }
  *ids = out;
  *n = got;
  return 0;
}

int nnrt_text_windows(const int32_t *ids, int64_t n, int64_t len, int64_t shift, int64_t stride, int64_t reach,
                      const char *name, bool words, NnrtArray *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (len < 1 || shift < 0 || stride < 1 || reach < len + shift)
    return nnrt_fail(err, errlen, "%s: bad text window (length %lld, shift %lld, stride %lld)", name, (long long)len,
                (long long)shift, (long long)stride);
  if (reach > n)
    return nnrt_fail(err, errlen, "%s: a window of %lld tokens (length and shift) is longer than the corpus (%lld %s)",
                name, (long long)reach, (long long)n, words ? "words" : "characters");
  int64_t count = (n - reach) / stride + 1;
  out->data = nnrt_alloc((size_t)(count * len) * sizeof(int32_t) + 1, "text windows");
  if (!out->data)
    return nnrt_fail(err, errlen, "%s: out of memory for %lld windows of %lld tokens", name, (long long)count,
                (long long)len);
  out->dtype = NNRT_I32;
  out->rank = 2;
  out->dims[0] = count;
  out->dims[1] = len;
  int32_t *o = out->data;
  for (int64_t i = 0; i < count; i++)
    memcpy(o + i * len, ids + i * stride + shift, (size_t)len * sizeof *o);
  return 0;
}

/* ---- the checkpoint form ---------------------------------------------- */

char *nnrt_vocab_string(const NnrtVocab *v) {
  char *s = nnrt_alloc(v->bytes + 1, "vocabulary string");
  if (!s)
    return NULL;
  size_t at = 0;
  for (int64_t i = 0; i < v->n; i++) {
    const char *t = v->blob + v->off[i];
    size_t k = strlen(t);
    if (v->words && i)
      s[at++] = ' ';
    memcpy(s + at, t, k);
    at += k;
  }
  s[at] = 0;
  return s;
}

int nnrt_vocab_parse(const char *s, bool words, const char *name, NnrtVocab **out, char *err, size_t errlen) {
  *out = NULL;
  size_t len = strlen(s);
  if (len == 0)
    return nnrt_fail(err, errlen, "%s: the vocabulary is empty", name);
  if (nnrt_text_check(s, len, name, err, errlen) != 0)
    return -1;
  /* the tokens must be distinct and in id order: strictly increasing */
  const unsigned char *b = (const unsigned char *)s;
  int64_t n = 0;
  size_t prev = 0, prevn = 0;
  for (size_t at = 0; at < len; n++) {
    size_t start = at;
    if (words) {
      while (at < len && b[at] != ' ') {
        if (is_space(b[at]))
          return nnrt_fail(err, errlen, "%s: vocabulary byte %zu: whitespace inside a word", name, at);
        at++;
      }
      if (at == start || (at < len && at + 1 == len))
        return nnrt_fail(err, errlen, "%s: vocabulary byte %zu: an empty word", name, at);
    } else {
      uint32_t cp;
      at += (size_t)utf8_next(b + at, len - at, &cp);
    }
    Span x = {s + prev, prevn}, y = {s + start, at - start};
    if (n > 0 && span_cmp(&x, &y) >= 0)
      return nnrt_fail(err, errlen, "%s: vocabulary byte %zu: tokens are not distinct and sorted", name, start);
    prev = start;
    prevn = at - start;
    if (words && at < len)
      at++;
  }
  char *blob = nnrt_alloc(len + (size_t)n + 1, "vocabulary");
  if (!blob)
    return nnrt_fail(err, errlen, "%s: out of memory for the vocabulary", name);
  size_t o = 0;
  if (words) {
    for (size_t at = 0; at < len; at++)
      blob[o++] = s[at] == ' ' ? 0 : s[at];
    blob[o++] = 0;
  } else {
    for (size_t at = 0; at < len;) {
      uint32_t cp;
      int k = utf8_next(b + at, len - at, &cp);
      memcpy(blob + o, s + at, (size_t)k);
      o += (size_t)k;
      blob[o++] = 0;
      at += (size_t)k;
    }
  }
  return (*out = vocab_new(words, blob, o, n, err, errlen, name)) ? 0 : -1;
}

bool nnrt_vocab_equal(const NnrtVocab *a, const NnrtVocab *b) {
  return a && b && a->words == b->words && a->n == b->n && a->bytes == b->bytes &&
         memcmp(a->blob, b->blob, a->bytes) == 0;
}
