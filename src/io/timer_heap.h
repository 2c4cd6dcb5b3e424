/*
 * timer_heap.h -- a binary min-heap of timeout ops, one per loop.
 *
 * Entries are ordered by due time, then by the order they were added, so
 * timers due at the same instant fire in the order they were posted.
 * Each op remembers its slot, so removal (a cancel) is O(log n).
 */
#ifndef HOST_TIMER_HEAP_H
#define HOST_TIMER_HEAP_H

#include <stdint.h>

struct io_op;

struct timer_entry {
  uint64_t due; /* monotonic ns */
  uint64_t seq; /* insertion order, for ties */
  struct io_op *op;
};

struct timer_heap {
  struct timer_entry *v; /* v[0] is the earliest */
  uint32_t n, cap;
  uint64_t seq;
};

void timer_heap_init(struct timer_heap *th);
void timer_heap_free(struct timer_heap *th);
/* Adds op with op->u.timeout.due set; returns 0 or -1 (out of memory). */
int timer_heap_push(struct timer_heap *th, struct io_op *op);
/* Removes op, which must be in the heap. */
void timer_heap_remove(struct timer_heap *th, struct io_op *op);
/* Earliest op, or NULL. */
struct io_op *timer_heap_min(const struct timer_heap *th);

#endif
