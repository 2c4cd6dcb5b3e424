/*
 * conn_internal.h -- what conn.c and conn_out.c share, and no one else.
 */
#ifndef HOST_CONN_INTERNAL_H
#define HOST_CONN_INTERNAL_H

#include "conn.h"

/* Tell a waiting writer (its send or connect completed). */
static inline void conn_wake_writer(struct conn *c) {
  if (!(c->flags & CONN_WWAIT))
    return;
  c->flags &= ~CONN_WWAIT;
  c->ev->output(c);
}

/* The queue is dropped (an error, or an abort): buffer back, not dirty. */
void conn_drop_output(struct conn *c);
void conn_unmark_dirty(struct conn *c);
/* Closing, once what was queued has gone: linger or close the handle. */
void conn_finish_close(struct conn *c);

#endif
