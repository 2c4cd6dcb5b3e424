/*
 * pool.c -- block-allocated fixed-size objects (see pool.h).
 */
#include "pool.h"
#include "fault.h"
#include "sys.h"

#include <stdlib.h>
#include <string.h>

/* Under AddressSanitizer a pooled object is poisoned while free (all but
 * the link word), so a use after pool_put is caught as with free(). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(obj, size)                                                      \
  ASAN_POISON_MEMORY_REGION((char *)(obj) + sizeof(void *),                    \
                            (size) - sizeof(void *))
#define UNPOISON(obj, size) ASAN_UNPOISON_MEMORY_REGION(obj, size)
#else
#define POISON(obj, size) ((void)0)
#define UNPOISON(obj, size) ((void)0)
#endif

#define ALIGN 8 /* what every struct the host pools needs */

/* The head of a block; its objects follow. */
struct block {
  struct block *next; /* the pool's blocks */
  size_t free;        /* its free objects (counted by pool_trim only) */
};
#define HEAD ((sizeof(struct block) + ALIGN - 1) / ALIGN * ALIGN)

static struct block *block_of(const struct pool *p, void *obj) {
  return (struct block *)((uintptr_t)obj & ~(uintptr_t)(p->bsize - 1));
}

void pool_init(struct pool *p, size_t size, size_t per_block) {
  p->size = (size + ALIGN - 1) / ALIGN * ALIGN;
  size_t want = HEAD + p->size * (per_block ? per_block : 1);
  p->bsize = POOL_BLOCK_MIN;
  while (p->bsize < want)
    p->bsize *= 2;
  p->per_block = (p->bsize - HEAD) / p->size;
  p->free = NULL;
  p->blocks = NULL;
  p->live = 0;
  p->nblocks = 0;
}

static int grow(struct pool *p) {
  struct block *b = sys_aligned_alloc(p->bsize);
  if (!b)
    return -1;
  b->next = p->blocks;
  b->free = 0;
  p->blocks = b;
  p->nblocks++;
  for (size_t i = p->per_block; i-- > 0;) {
    void *obj = (char *)b + HEAD + i * p->size;
    *(void **)obj = p->free;
    p->free = obj;
    POISON(obj, p->size);
  }
  return 0;
}

void *pool_get(struct pool *p) {
  if (fault_fail(FAULT_C, "pool_get"))
    return NULL;
  if (!p->free && grow(p) != 0)
    return NULL;
  void *obj = p->free;
  UNPOISON(obj, p->size);
  p->free = *(void **)obj;
  p->live++;
  return obj;
}

void *pool_zget(struct pool *p) {
  void *obj = pool_get(p);
  if (obj)
    memset(obj, 0, p->size);
  return obj;
}

void pool_put(struct pool *p, void *obj) {
  *(void **)obj = p->free;
  p->free = obj;
  POISON(obj, p->size);
  p->live--;
}

/* Blocks are counted here, not as objects come and go, so that the hot
 * path pays nothing for it: a walk of the free list finds the blocks all
 * of whose objects are free. */
size_t pool_trim(struct pool *p) {
  if (p->live == p->nblocks * p->per_block)
    return 0; /* nothing is free */
  for (struct block *b = p->blocks; b; b = b->next)
    b->free = 0;
  for (void *obj = p->free; obj; obj = *(void **)obj)
    block_of(p, obj)->free++;
  size_t empty = 0;
  for (struct block *b = p->blocks; b; b = b->next)
    empty += b->free == p->per_block;
  if (!empty)
    return 0;
  /* The free objects of the empty blocks leave the free list... */
  void **link = &p->free;
  while (*link) {
    void *obj = *link;
    if (block_of(p, obj)->free == p->per_block)
      *link = *(void **)obj; /* only the link word is readable */
    else
      link = (void **)obj;
  }
  /* ...then the blocks go. */
  struct block **bl = (struct block **)&p->blocks;
  while (*bl) {
    struct block *b = *bl;
    if (b->free == p->per_block) {
      *bl = b->next;
      UNPOISON(b, p->bsize);
      sys_aligned_free(b, p->bsize);
      p->nblocks--;
    } else {
      bl = &b->next;
    }
  }
  return empty;
}

void pool_destroy(struct pool *p) {
  struct block *b = p->blocks;
  while (b) {
    struct block *next = b->next;
    UNPOISON(b, p->bsize);
    sys_aligned_free(b, p->bsize);
    b = next;
  }
  p->blocks = NULL;
  p->free = NULL;
  p->live = 0;
  p->nblocks = 0;
}
