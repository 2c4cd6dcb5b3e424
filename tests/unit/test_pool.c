/*
 * test_pool.c -- pooled objects: reuse, growth across blocks, destroy.
 */
#include "pool.h"
#include "t.h"

#include <stdint.h>

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

int main(void) {
  T_RUN(reuses_what_was_put_back);
  T_RUN(grows_across_blocks_without_overlap);
  T_RUN(destroy_reclaims_live_objects);
  return test_report();
}
