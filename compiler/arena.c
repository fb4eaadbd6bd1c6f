/*
 * arena.c — the compiler's one allocator.
 *
 * Memory comes from big chunks carved front to back; nothing is freed one
 * object at a time; the chunks live until exit (reachable from `current`,
 * so LeakSanitizer is content) or until arena_reset (between the inputs of
 * a fuzz target).  Every block is zeroed
 * and 16-byte aligned.  Running out of memory is fatal: there is no caller
 * that could do anything better than stop.
 */
#include "nnc.h"

#include <stdlib.h>
#include <string.h>

enum { CHUNK_SIZE = 1 << 20, ALIGN = 16 };

typedef struct Chunk Chunk;
struct Chunk {
  Chunk *next;
  size_t used, size;
  _Alignas(ALIGN) unsigned char data[];
};

static Chunk *current;

static Chunk *chunk_new(size_t size) {
  Chunk *c = calloc(1, sizeof(Chunk) + size);
  if (!c) {
    fprintf(stderr, "nnc: out of memory (wanted %zu more bytes)\n", size);
    exit(1);
  }
  c->size = size;
  return c;
}

void *arena_alloc(size_t n) {
  n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
  if (n == 0)
    n = ALIGN;
  if (!current || current->size - current->used < n) {
    if (n > CHUNK_SIZE / 4) {
      /* A big block gets a chunk of its own, kept behind the current one so
       * the current chunk's free space is not thrown away. */
      Chunk *big = chunk_new(n);
      big->used = n;
      if (current) {
        big->next = current->next;
        current->next = big;
      } else {
        current = big;
      }
      return big->data;
    }
    Chunk *c = chunk_new(CHUNK_SIZE);
    c->next = current;
    current = c;
  }
  /* calloc zeroed the chunk and no block is ever reused. */
  void *p = current->data + current->used;
  current->used += n;
  return p;
}

char *arena_strndup(const char *s, size_t n) {
  char *p = arena_alloc(n + 1);
  memcpy(p, s, n);
  return p;
}

char *arena_strdup(const char *s) { return arena_strndup(s, strlen(s)); }

char *arena_printf(const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    nnc_unreachable("bad format string \"%s\"", fmt);
  char *p = arena_alloc((size_t)n + 1);
  vsnprintf(p, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return p;
}

void arena_push(void ***items, int *n, int *cap, void *x) {
  if (*n == *cap) {
    int ncap = *cap ? *cap * 2 : 8;
    void **grown = arena_alloc((size_t)ncap * sizeof(void *));
    if (*n)
      memcpy(grown, *items, (size_t)*n * sizeof(void *));
    *items = grown;
    *cap = ncap;
  }
  (*items)[(*n)++] = x;
}

ArenaMark arena_mark(void) {
  return (ArenaMark){current, current ? current->next : NULL, current ? current->used : 0};
}

void arena_release(ArenaMark m) {
  /* newer chunks sit before the marked one; big blocks allocated since the
   * mark sit between it and its old successor */
  Chunk *mc = m.chunk;
  while (current && current != mc) {
    Chunk *next = current->next;
    free(current);
    current = next;
  }
  if (!mc)
    return;
  while (mc->next != m.next) {
    Chunk *big = mc->next;
    mc->next = big->next;
    free(big);
  }
  memset(mc->data + m.used, 0, mc->used - m.used);
  mc->used = m.used;
}

void arena_reset(void) {
  /* Keep one ordinary chunk: a fresh calloc of it per input is most of a
   * small input's cost under ASan. */
  Chunk *keep = NULL;
  while (current) {
    Chunk *next = current->next;
    if (!keep && current->size == CHUNK_SIZE)
      keep = current;
    else
      free(current);
    current = next;
  }
  if (keep) {
    memset(keep->data, 0, keep->used);
    keep->used = 0;
    keep->next = NULL;
  }
  current = keep;
}
