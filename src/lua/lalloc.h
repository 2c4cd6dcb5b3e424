/*
 * lalloc.h -- the allocator of a worker's Lua VM (its lua_Alloc).
 *
 * Counts what the VM holds and refuses to grow past a limit (Lua then
 * raises "not enough memory" in whichever task asked, which ends only that
 * task).  Small blocks (up to LALLOC_SMALL bytes) come from size classes
 * 16 bytes apart, carved from 64 KiB chunks and recycled through one free
 * list per class: no per-block header, no trip to malloc on the hot path
 * (the Lua string of each received message), and an idle connection's
 * coroutine, stack and box cost exactly their size.  Larger blocks go to
 * malloc.  Under AddressSanitizer everything goes to malloc, so Lua's own
 * memory errors are still caught.
 *
 * Chunks are aligned to their size, so a block finds its chunk's header
 * with a mask: lalloc_trim adds up each chunk's free blocks that way and
 * returns the chunks that are all free (after a peak, such as 100,000
 * connections that have gone: the worker calls it when idle), at no cost
 * to taking and giving blocks.
 *
 * The limit covers more than one VM: what the worker's connection
 * buffers hold (conn.h) is taken off it as they grow, so that the VMs and
 * the buffers share one --memory-limit.  An allocator counts what its VM
 * holds in `used` and, with lalloc_count_in, also in a total it shares
 * with the worker's other VM (a reload runs the new script beside the
 * old one until the old one's tasks end): the limit is checked against
 * that total and `*room`, what the buffers leave, kept up to date by the
 * buffers' side, so that the hot path compares with one number.
 */
#ifndef HOST_LALLOC_H
#define HOST_LALLOC_H

#include <stddef.h>

#define LALLOC_SMALL 1024
#define LALLOC_CLASSES (LALLOC_SMALL / 16)

struct lalloc {
  size_t used;        /* bytes the VM holds (as it asked) */
  size_t *total;      /* bytes held by the VMs sharing the limit
                         (&own_total unless counted in) */
  const size_t *room; /* the most they may hold together (SIZE_MAX:
                         no limit; &own_room unless counted in) */
  size_t own_total, own_room;
  size_t nchunks;             /* chunks held */
  void *free[LALLOC_CLASSES]; /* per class, linked through the block */
  char *bump, *bump_end;      /* the chunk being carved */
  void *chunks;               /* all chunks, linked through their head */
  /* Called once when an allocation would pass *room: it may free what
   * the caller keeps for later (and so raise *room); nonzero if it did,
   * and the allocation is tried against the limit again. */
  int (*reclaim)(void *ud);
  void *reclaim_ud;
};

/* limit: bytes, 0 = none. */
void lalloc_init(struct lalloc *a, size_t limit);
/* From now on the VM's bytes also count in *total, and the limit is
 * *room for *total (both owned by the caller, who must outlive the VM's
 * last free).  Before lua_newstate: nothing is held yet. */
void lalloc_count_in(struct lalloc *a, size_t *total, const size_t *room);
/* Sets a->reclaim (see struct lalloc). */
void lalloc_reclaim_with(struct lalloc *a, int (*reclaim)(void *ud), void *ud);
/* The lua_Alloc; ud is the struct lalloc. */
void *lalloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* Frees the chunks none of whose blocks is in use; returns how many. */
size_t lalloc_trim(struct lalloc *a);
/* After lua_close: returns the chunks. */
void lalloc_destroy(struct lalloc *a);

#endif
