/*
 * test_timer_heap.c -- the timer heap: order, ties, removal anywhere.
 */
#include "io.h"
#include "t.h"
#include "timer_heap.h"

#include <stdlib.h>

static struct io_op ops[1000];

static void order_by_due_then_insertion(void) {
  struct timer_heap th;
  timer_heap_init(&th);
  uint64_t dues[] = {50, 10, 30, 10, 20, 50, 0};
  for (int i = 0; i < 7; i++) {
    ops[i].u.timeout.due = dues[i];
    T_ASSERT_EQ(timer_heap_push(&th, &ops[i]), 0);
  }
  int expect[] = {6, 1, 3, 4, 2, 0, 5}; /* ties: the earlier push first */
  for (int i = 0; i < 7; i++) {
    struct io_op *m = timer_heap_min(&th);
    T_ASSERT(m == &ops[expect[i]]);
    timer_heap_remove(&th, m);
  }
  T_ASSERT(timer_heap_min(&th) == NULL);
  timer_heap_free(&th);
}

static void remove_from_the_middle(void) {
  struct timer_heap th;
  timer_heap_init(&th);
  srand(7);
  for (int i = 0; i < 1000; i++) {
    ops[i].u.timeout.due = (uint64_t)(rand() % 500);
    T_ASSERT_EQ(timer_heap_push(&th, &ops[i]), 0);
  }
  for (int i = 0; i < 1000; i += 3) /* every third, wherever it sits */
    timer_heap_remove(&th, &ops[i]);
  uint64_t last = 0;
  int n = 0;
  struct io_op *m;
  while ((m = timer_heap_min(&th)) != NULL) {
    T_ASSERT(m->u.timeout.due >= last);
    T_ASSERT((m - ops) % 3 != 0);
    last = m->u.timeout.due;
    timer_heap_remove(&th, m);
    n++;
  }
  T_ASSERT_EQ(n, 666);
  timer_heap_free(&th);
}

static void slots_track_positions(void) {
  struct timer_heap th;
  timer_heap_init(&th);
  for (int i = 0; i < 100; i++) {
    ops[i].u.timeout.due = (uint64_t)(100 - i);
    timer_heap_push(&th, &ops[i]);
  }
  for (uint32_t i = 0; i < th.n; i++)
    T_ASSERT(th.v[i].op->u.timeout.slot == i);
  timer_heap_free(&th);
}

int main(void) {
  T_RUN(order_by_due_then_insertion);
  T_RUN(remove_from_the_middle);
  T_RUN(slots_track_positions);
  return test_report();
}
