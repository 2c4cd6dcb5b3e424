/*
 * test_lalloc.c -- the Lua VM's allocator: its limit (with the memory
 * counted beside it), and giving back chunks after a peak.
 */
#include "lalloc.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N 20000 /* 64-byte blocks: about 20 chunks of 64 KiB */

static void limit_is_the_room_left(void) {
  struct lalloc a;
  lalloc_init(&a, 4096);
  T_ASSERT_EQ(a.room, 4096);
  void *p = lalloc(&a, NULL, 0, 3000);
  T_ASSERT(p != NULL);
  a.room = 4096 - 2000; /* say, connection buffers took 2000 */
  T_ASSERT(lalloc(&a, NULL, 0, 200) == NULL);
  T_ASSERT(lalloc(&a, p, 3000, 3500) == NULL); /* growing, likewise */
  p = lalloc(&a, p, 3000, 2900);               /* shrinking is allowed */
  T_ASSERT(p != NULL);
  a.room = 4096;
  void *q = lalloc(&a, NULL, 0, 200);
  T_ASSERT(q != NULL);
  lalloc(&a, q, 200, 0);
  lalloc(&a, p, 2900, 0);
  T_ASSERT_EQ(a.used, 0);
  lalloc_destroy(&a);
}

static void no_limit(void) {
  struct lalloc a;
  lalloc_init(&a, 0);
  T_ASSERT(a.room == SIZE_MAX);
  void *p = lalloc(&a, NULL, 0, 1 << 20);
  T_ASSERT(p != NULL);
  lalloc(&a, p, 1 << 20, 0);
  lalloc_destroy(&a);
}

static void trim_returns_only_chunks_all_free(void) {
  struct lalloc a;
  lalloc_init(&a, 0);
  void **v = malloc(N * sizeof *v);
  T_ASSERT(v != NULL);
  for (int i = 0; i < N; i++) {
    v[i] = lalloc(&a, NULL, 0, 64);
    T_ASSERT(v[i] != NULL);
    memset(v[i], i & 0xff, 64);
  }
  size_t peak = a.nchunks;
  T_ASSERT_EQ(lalloc_trim(&a), 0); /* everything is in use */
  /* Free all but every 4000th: those chunks stay, the others go. */
  int kept = 0;
  for (int i = 0; i < N; i++) {
    if (i % 4000 == 0) {
      kept++;
      continue;
    }
    lalloc(&a, v[i], 64, 0);
  }
  size_t freed = lalloc_trim(&a);
  if (peak == 0) { /* a sanitizer build: every block is malloc's */
    T_ASSERT_EQ(freed, 0);
  } else {
    T_ASSERT(peak >= 19);
    T_ASSERT_EQ(a.nchunks, peak - freed);
    T_ASSERT(a.nchunks <= (size_t)kept + 1); /* + the one being carved */
    T_ASSERT(freed >= peak - (size_t)kept - 1);
  }
  /* What stayed is whole, and the free blocks left are usable. */
  for (int i = 0; i < N; i += 4000)
    for (int j = 0; j < 64; j++)
      T_ASSERT_EQ(((unsigned char *)v[i])[j], i & 0xff);
  for (int i = 1; i < 1000; i++) {
    v[i] = lalloc(&a, NULL, 0, 64);
    T_ASSERT(v[i] != NULL);
    memset(v[i], 0x5a, 64);
  }
  for (int i = 1; i < 1000; i++)
    lalloc(&a, v[i], 64, 0);
  for (int i = 0; i < N; i += 4000)
    lalloc(&a, v[i], 64, 0);
  T_ASSERT_EQ(a.used, 0);
  lalloc_trim(&a);
  T_ASSERT(a.nchunks <= 1);
  lalloc_destroy(&a);
  free(v);
}

int main(void) {
  T_RUN(limit_is_the_room_left);
  T_RUN(no_limit);
  T_RUN(trim_returns_only_chunks_all_free);
  return test_report();
}
