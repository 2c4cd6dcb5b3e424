/*
 * pool.c -- block-allocated fixed-size objects (see pool.h).
 */
#include "pool.h"
#include "fault.h"

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

void pool_init(struct pool *p, size_t size, size_t per_block) {
  p->size = (size + ALIGN - 1) / ALIGN * ALIGN;
  p->per_block = per_block ? per_block : 1;
  p->free = NULL;
  p->blocks = NULL;
  p->live = 0;
}

static int grow(struct pool *p) {
  /* The block's first ALIGN bytes link the blocks together. */
  char *block = malloc(ALIGN + p->size * p->per_block);
  if (!block)
    return -1;
  *(void **)block = p->blocks;
  p->blocks = block;
  for (size_t i = p->per_block; i-- > 0;) {
    void *obj = block + ALIGN + i * p->size;
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
  p->free = *(void **)obj;
  UNPOISON(obj, p->size);
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

void pool_destroy(struct pool *p) {
  while (p->blocks) {
    void *next = *(void **)p->blocks;
    UNPOISON(p->blocks, ALIGN + p->size * p->per_block);
    free(p->blocks);
    p->blocks = next;
  }
  p->free = NULL;
  p->live = 0;
}
