/*
 * lalloc.c -- the Lua VM's allocator (see lalloc.h).
 *
 * Lua tells the allocator the old size of every block it frees or
 * resizes, so a block needs no header to find its class again: that is
 * what makes small blocks cost only their rounded size.
 */
#include "lalloc.h"
#include "fault.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024)
#define CHUNK_HEAD 16 /* links the chunks; keeps blocks 16-aligned */

#if defined(__SANITIZE_ADDRESS__)
#define USE_CLASSES 0
#else
#define USE_CLASSES 1
#endif

void lalloc_init(struct lalloc *a, size_t limit) {
  memset(a, 0, sizeof *a);
  a->limit = limit;
}

static int small(size_t size) { return USE_CLASSES && size <= LALLOC_SMALL; }
static size_t cls(size_t size) { return (size + 15) / 16 - 1; }

static void *take(struct lalloc *a, size_t size) {
  size_t c = cls(size);
  void *p = a->free[c];
  if (p) {
    a->free[c] = *(void **)p;
    return p;
  }
  size_t rounded = (c + 1) * 16;
  if (a->bump_end - a->bump < (ptrdiff_t)rounded) {
    char *chunk = malloc(CHUNK);
    if (!chunk)
      return NULL;
    *(void **)chunk = a->chunks;
    a->chunks = chunk;
    /* What is left of the old chunk is not lost: it is carved into the
     * largest classes it fits, so the next requests of those sizes find
     * it on their free lists. */
    while (a->bump_end - a->bump >= 16) {
      size_t left = (size_t)(a->bump_end - a->bump);
      size_t k = cls(left > LALLOC_SMALL ? LALLOC_SMALL : left & ~(size_t)15);
      *(void **)a->bump = a->free[k];
      a->free[k] = a->bump;
      a->bump += (k + 1) * 16;
    }
    a->bump = chunk + CHUNK_HEAD;
    a->bump_end = chunk + CHUNK;
  }
  p = a->bump;
  a->bump += rounded;
  return p;
}

static void give(struct lalloc *a, void *p, size_t size) {
  size_t c = cls(size);
  *(void **)p = a->free[c];
  a->free[c] = p;
}

void *lalloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  struct lalloc *a = ud;
  size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
  if (nsize == 0) {
    if (ptr) {
      if (small(old))
        give(a, ptr, old);
      else
        free(ptr);
    }
    a->used -= old;
    return NULL;
  }
  if (a->limit && nsize > old && a->used - old + nsize > a->limit)
    return NULL;
  if (nsize > old && fault_fail(FAULT_LUA, "lua allocation"))
    return NULL;
  void *p;
  if (ptr && small(old) && small(nsize) && cls(old) == cls(nsize)) {
    p = ptr; /* same class: the block already fits */
  } else if (ptr && !small(old) && !small(nsize)) {
    p = realloc(ptr, nsize);
    if (!p)
      return NULL;
  } else {
    p = small(nsize) ? take(a, nsize) : malloc(nsize);
    if (!p)
      return NULL;
    if (ptr) {
      memcpy(p, ptr, old < nsize ? old : nsize);
      if (small(old))
        give(a, ptr, old);
      else
        free(ptr);
    }
  }
  a->used = a->used - old + nsize;
  return p;
}

void lalloc_destroy(struct lalloc *a) {
  while (a->chunks) {
    void *next = *(void **)a->chunks;
    free(a->chunks);
    a->chunks = next;
  }
  memset(a->free, 0, sizeof a->free);
  a->bump = a->bump_end = NULL;
}
