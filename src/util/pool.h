/*
 * pool.h -- fixed-size objects carved from blocks, one pool per kind per
 * worker (connections, tasks, send records, timers).
 *
 * No per-object header and no trip to malloc once the pool has grown to
 * the worker's peak, which is what an idle connection's footprint and the
 * hot path both want.  Freed objects are reused first.  A block is
 * aligned to its own size, so an object finds its block's header with a
 * mask: pool_trim counts the free objects of each block that way and
 * returns the blocks that are all free (after a peak: the worker calls
 * it when it goes idle), at no cost to pool_get and pool_put.  pool_destroy
 * returns every block, reclaiming objects still in use (a forced stop leaves
 * some).  Not thread-safe: a pool belongs to a worker.
 */
#ifndef HOST_POOL_H
#define HOST_POOL_H

#include <stddef.h>
#include <stdint.h>

#define POOL_BLOCK_MIN 16384 /* bytes per block, at least (a power of 2) */

struct pool {
  size_t size;      /* object size, rounded up for alignment */
  size_t per_block; /* objects per block */
  size_t bsize;     /* block size and alignment: a power of two */
  void *free;       /* free objects, linked through their first word */
  void *blocks;     /* blocks, linked through their header */
  size_t live;      /* objects handed out and not returned */
  size_t nblocks;   /* blocks held */
};

/* A pool of objects of `size` bytes; per_block is the fewest a block
 * holds (blocks are POOL_BLOCK_MIN bytes or the power of two that fits
 * that many). */
void pool_init(struct pool *p, size_t size, size_t per_block);
/* An uninitialised object, or NULL if out of memory. */
void *pool_get(struct pool *p);
/* The same, zeroed. */
void *pool_zget(struct pool *p);
void pool_put(struct pool *p, void *obj);
/* Frees the blocks none of whose objects is in use; returns how many. */
size_t pool_trim(struct pool *p);
void pool_destroy(struct pool *p);

#endif
