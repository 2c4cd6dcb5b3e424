/*
 * stat.h -- counters that one thread writes and any thread reads (the
 * numbers of host.stats()).
 *
 * The writer is the worker that owns the counter, so an update is a
 * relaxed load and a relaxed store, not a locked read-modify-write: on
 * x86-64 and ARM64 each is a plain load or store, which is what lets the
 * hot path (bytes in and out, tasks waiting) keep them.  A reader on
 * another thread sees each counter whole, a moment late.
 */
#ifndef HOST_STAT_H
#define HOST_STAT_H

#include <stdatomic.h>
#include <stdint.h>

typedef _Atomic uint64_t stat_counter;

static inline uint64_t stat_get(const stat_counter *c) {
  return atomic_load_explicit((stat_counter *)c, memory_order_relaxed);
}
static inline void stat_set(stat_counter *c, uint64_t v) {
  atomic_store_explicit(c, v, memory_order_relaxed);
}
/* Only the owning thread may add: two writers would lose updates. */
static inline void stat_add(stat_counter *c, uint64_t n) {
  stat_set(c, stat_get(c) + n);
}
static inline void stat_inc(stat_counter *c) { stat_add(c, 1); }
static inline void stat_dec(stat_counter *c) { stat_set(c, stat_get(c) - 1); }

#endif
