/*
 * test_pool.c -- pooled objects: reuse, growth across blocks, destroy.
 */
#include "pool.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void reuses_what_was_put_back(void) {
  struct pool p;
  pool_init(&p, 40, 4);
  void *a = pool_get(&p);
  T_ASSERT(a != NULL);
  T_ASSERT_EQ(((uintptr_t)a) % 8, 0);
  pool_put(&p, a);
  T_ASSERT(pool_get(&p) == a);
  T_ASSERT_EQ(p.live, 1);
  pool_destroy(&p);
}

static void grows_across_blocks_without_overlap(void) {
  struct pool p;
  pool_init(&p, 24, 3);
  char *objs[10];
  for (int i = 0; i < 10; i++) {
    objs[i] = pool_get(&p);
    T_ASSERT(objs[i] != NULL);
    memset(objs[i], i, 24);
  }
  for (int i = 0; i < 10; i++)
    for (int j = 0; j < 24; j++)
      T_ASSERT_EQ(objs[i][j], i);
  T_ASSERT_EQ(p.live, 10);
  for (int i = 0; i < 10; i++)
    pool_put(&p, objs[i]);
  T_ASSERT_EQ(p.live, 0);
  pool_destroy(&p);
}

static void destroy_reclaims_live_objects(void) {
  struct pool p;
  pool_init(&p, 100, 2);
  for (int i = 0; i < 5; i++)
    T_ASSERT(pool_get(&p) != NULL);
  pool_destroy(&p); /* LeakSanitizer / valgrind would flag a leak */
  T_ASSERT(p.blocks == NULL);
}

static void trim_returns_only_empty_blocks(void) {
  struct pool p;
  pool_init(&p, 64, 4);
  size_t n = p.per_block * 3; /* three blocks' worth */
  void **objs = malloc(n * sizeof *objs);
  T_ASSERT(objs != NULL);
  for (size_t i = 0; i < n; i++)
    T_ASSERT((objs[i] = pool_get(&p)) != NULL);
  T_ASSERT_EQ(p.nblocks, 3);
  T_ASSERT_EQ(pool_trim(&p), 0); /* all in use */
  /* Free every object but one; that one keeps its block. */
  void *kept = objs[n / 2];
  for (size_t i = 0; i < n; i++)
    if (objs[i] != kept)
      pool_put(&p, objs[i]);
  T_ASSERT_EQ(pool_trim(&p), 2);
  T_ASSERT_EQ(p.nblocks, 1);
  T_ASSERT_EQ(p.live, 1);
  /* What is left on the free list is all in the kept block: reusable. */
  for (size_t i = 0; i + 1 < p.per_block; i++) {
    objs[i] = pool_get(&p);
    T_ASSERT(objs[i] != NULL);
    T_ASSERT(((uintptr_t)objs[i] ^ (uintptr_t)kept) < p.bsize);
  }
  T_ASSERT_EQ(p.nblocks, 1);
  for (size_t i = 0; i + 1 < p.per_block; i++)
    pool_put(&p, objs[i]);
  pool_put(&p, kept);
  T_ASSERT_EQ(pool_trim(&p), 1);
  T_ASSERT(p.blocks == NULL && p.free == NULL);
  T_ASSERT(pool_get(&p) != NULL); /* and it grows again */
  pool_destroy(&p);
  free(objs);
}

static void big_objects_get_a_bigger_block(void) {
  struct pool p;
  pool_init(&p, 5000, 8);
  T_ASSERT(p.bsize >= 8 * 5000);
  T_ASSERT(p.per_block >= 8);
  T_ASSERT((p.bsize & (p.bsize - 1)) == 0);
  void *a = pool_get(&p);
  T_ASSERT(a != NULL);
  memset(a, 1, 5000);
  pool_put(&p, a);
  pool_destroy(&p);
}

int main(void) {
  T_RUN(reuses_what_was_put_back);
  T_RUN(grows_across_blocks_without_overlap);
  T_RUN(destroy_reclaims_live_objects);
  T_RUN(trim_returns_only_empty_blocks);
  T_RUN(big_objects_get_a_bigger_block);
  return test_report();
}
