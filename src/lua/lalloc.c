/*
 * lalloc.c -- the Lua VM's allocator (see lalloc.h).
 *
 * Lua tells the allocator the old size of every block it frees or
 * resizes, so a block needs no header to find its class again: that is
 * what makes small blocks cost only their rounded size.
 */
#include "lalloc.h"
#include "fault.h"
#include "sys.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024) /* and its alignment */
#define CHUNK_HEAD 16     /* struct chunk; keeps blocks 16-aligned */

struct chunk {
  struct chunk *next; /* the allocator's chunks */
  size_t free;        /* bytes of its blocks that are free (lalloc_trim) */
};

static struct chunk *chunk_of(void *p) {
  return (struct chunk *)((uintptr_t)p & ~(uintptr_t)(CHUNK - 1));
}

#if defined(__SANITIZE_ADDRESS__)
#define USE_CLASSES 0
#else
#define USE_CLASSES 1
#endif

void lalloc_init(struct lalloc *a, size_t limit) {
  memset(a, 0, sizeof *a);
  a->own_room = limit ? limit : SIZE_MAX;
  a->total = &a->own_total;
  a->room = &a->own_room;
}

void lalloc_count_in(struct lalloc *a, size_t *total, const size_t *room) {
  *total += a->used;
  a->total = total;
  a->room = room;
}

void lalloc_reclaim_with(struct lalloc *a, int (*reclaim)(void *ud), void *ud) {
  a->reclaim = reclaim;
  a->reclaim_ud = ud;
}

/* Within the limit, once what the caller keeps for later is freed. */
static int fits(struct lalloc *a, size_t old, size_t nsize) {
  if (*a->total - old + nsize <= *a->room)
    return 1;
  return a->reclaim && a->reclaim(a->reclaim_ud) &&
         *a->total - old + nsize <= *a->room;
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
    struct chunk *chunk = sys_aligned_alloc(CHUNK);
    if (!chunk)
      return NULL;
    chunk->next = a->chunks;
    chunk->free = 0;
    a->chunks = chunk;
    a->nchunks++;
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
    a->bump = (char *)chunk + CHUNK_HEAD;
    a->bump_end = (char *)chunk + CHUNK;
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
    *a->total -= old;
    return NULL;
  }
  if (nsize > old && !fits(a, old, nsize))
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
  *a->total = *a->total - old + nsize;
  return p;
}

/* A chunk other than the one being carved is all free when its free
 * blocks add up to all of it but the few bytes (< 16) its carving may
 * have left over.  Counted here, by a walk of the free lists, so that
 * taking and giving blocks pays nothing for it. */
static int all_free(const struct chunk *c, const struct chunk *current) {
  return c != current && c->free > CHUNK - CHUNK_HEAD - 16;
}

size_t lalloc_trim(struct lalloc *a) {
  struct chunk *current = a->bump ? chunk_of(a->bump - 1) : NULL;
  for (struct chunk *c = a->chunks; c; c = c->next)
    c->free = 0;
  for (size_t k = 0; k < LALLOC_CLASSES; k++)
    for (void *p = a->free[k]; p; p = *(void **)p)
      chunk_of(p)->free += (k + 1) * 16;
  size_t empty = 0;
  for (struct chunk *c = a->chunks; c; c = c->next)
    empty += all_free(c, current);
  if (!empty)
    return 0;
  /* The free blocks of the empty chunks leave their lists... */
  for (size_t k = 0; k < LALLOC_CLASSES; k++) {
    void **link = &a->free[k];
    while (*link) {
      if (all_free(chunk_of(*link), current))
        *link = *(void **)*link;
      else
        link = (void **)*link;
    }
  }
  /* ...then the chunks go. */
  struct chunk **cl = (struct chunk **)&a->chunks;
  while (*cl) {
    struct chunk *c = *cl;
    if (all_free(c, current)) {
      *cl = c->next;
      sys_aligned_free(c, CHUNK);
      a->nchunks--;
    } else {
      cl = &c->next;
    }
  }
  return empty;
}

void lalloc_destroy(struct lalloc *a) {
  struct chunk *c = a->chunks;
  while (c) {
    struct chunk *next = c->next;
    sys_aligned_free(c, CHUNK);
    c = next;
  }
  a->chunks = NULL;
  a->nchunks = 0;
  memset(a->free, 0, sizeof a->free);
  a->bump = a->bump_end = NULL;
}
