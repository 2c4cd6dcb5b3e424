/*
 * timer_heap.c -- the per-loop timer heap (see timer_heap.h).
 *
 * A plain array heap: the entries hold the due time and sequence number
 * themselves, so sifting compares without chasing the op pointers.
 */
#include "timer_heap.h"
#include "io.h"
#include "fault.h"

#include <stdlib.h>

static int before(const struct timer_entry *a, const struct timer_entry *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void place(struct timer_heap *th, uint32_t i, struct timer_entry e) {
  th->v[i] = e;
  e.op->u.timeout.slot = i;
}

static void sift_up(struct timer_heap *th, uint32_t i) {
  struct timer_entry e = th->v[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!before(&e, &th->v[parent]))
      break;
    place(th, i, th->v[parent]);
    i = parent;
  }
  place(th, i, e);
}

static void sift_down(struct timer_heap *th, uint32_t i) {
  struct timer_entry e = th->v[i];
  for (;;) {
    uint32_t child = 2 * i + 1;
    if (child >= th->n)
      break;
    if (child + 1 < th->n && before(&th->v[child + 1], &th->v[child]))
      child++;
    if (!before(&th->v[child], &e))
      break;
    place(th, i, th->v[child]);
    i = child;
  }
  place(th, i, e);
}

void timer_heap_init(struct timer_heap *th) {
  th->v = NULL;
  th->n = th->cap = 0;
  th->seq = 0;
}

void timer_heap_free(struct timer_heap *th) {
  free(th->v);
  timer_heap_init(th);
}

int timer_heap_push(struct timer_heap *th, struct io_op *op) {
  if (fault_fail(FAULT_C, "timer heap"))
    return -1;
  if (th->n == th->cap) {
    uint32_t cap = th->cap ? th->cap * 2 : 64;
    struct timer_entry *v = realloc(th->v, cap * sizeof *v);
    if (!v)
      return -1;
    th->v = v;
    th->cap = cap;
  }
  struct timer_entry e = {op->u.timeout.due, th->seq++, op};
  th->v[th->n] = e;
  op->u.timeout.slot = th->n;
  sift_up(th, th->n++);
  return 0;
}

void timer_heap_remove(struct timer_heap *th, struct io_op *op) {
  uint32_t i = op->u.timeout.slot;
  th->n--;
  if (i == th->n)
    return;
  place(th, i, th->v[th->n]);
  /* The moved entry may belong above or below its new place. */
  if (i > 0 && before(&th->v[i], &th->v[(i - 1) / 2]))
    sift_up(th, i);
  else
    sift_down(th, i);
}

struct io_op *timer_heap_min(const struct timer_heap *th) {
  return th->n ? th->v[0].op : NULL;
}
