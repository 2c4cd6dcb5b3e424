/*
 * pool.h -- fixed-size objects carved from blocks, one pool per kind per
 * worker (connections, tasks, send records, timers).
 *
 * No per-object header and no trip to malloc once the pool has grown to
 * the worker's peak, which is what an idle connection's footprint and the
 * hot path both want.  Freed objects are reused first; blocks are only
 * returned at pool_destroy, which also reclaims objects still in use (a
 * forced stop leaves some).  Not thread-safe: a pool belongs to a worker.
 */
#ifndef HOST_POOL_H
#define HOST_POOL_H

#include <stddef.h>

struct pool {
  size_t size;      /* object size, rounded up for alignment */
  size_t per_block; /* objects per block */
  void *free;       /* free objects, linked through their first word */
  void *blocks;     /* blocks, linked through their first word */
  size_t live;      /* objects handed out and not returned */
};

void pool_init(struct pool *p, size_t size, size_t per_block);
/* An uninitialised object, or NULL if out of memory. */
void *pool_get(struct pool *p);
/* The same, zeroed. */
void *pool_zget(struct pool *p);
void pool_put(struct pool *p, void *obj);
void pool_destroy(struct pool *p);

#endif
