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
/* The receive stream: posted (and counted) if it is not. */
int conn_ensure_stream(struct conn *c);
/* Tell a waiting reader. */
void conn_wake_reader(struct conn *c);
/* The connection's deadline timer, made on first use; NULL (no memory). */
struct conn_timer *conn_timer_of(struct conn *c);
void post_timer(struct conn *c, uint64_t due);
/* Room for `want` more bytes at the end of the read buffer (*room: all
 * there is), or NULL; conn_rbuf_commit(c, n) adds what was written. */
char *conn_rbuf_space(struct conn *c, size_t want, size_t *room);
static inline void conn_rbuf_commit(struct conn *c, size_t n) {
  c->rlen += (uint32_t)n;
}

/* A counted connection is gone (conn_limit). */
void conn_uncount(struct conn_set *s);

/* A send's completion (conn_out.c; conn_tls.c posts with it too). */
void conn_on_sent(struct io_op *op);

/* conn_tls.c: the hooks conn.c and conn_out.c call. */
int conn_tls_handshaking(const struct conn *c);
void conn_tls_input(struct conn *c, const char *p, size_t n);
void conn_tls_eof(struct conn *c);
void conn_tls_fail(struct conn *c, const char *detail);
void conn_tls_close(struct conn *c);
void conn_tls_free(struct conn *c);
int conn_tls_handshake_overdue(struct conn *c, uint64_t now);
/* TLS output to send, if any and no send is in flight: 0, IO_E*. */
int conn_tls_send(struct conn *c, const struct io_buf *bufs, int n,
                  size_t *taken);
void conn_tls_sent(struct conn *c, size_t n);
/* Encrypts the queue, then p[0..n) as far as the engine takes it (its
 * output is bounded): the bytes of p taken, 0 unless the session is open
 * and the queue could be emptied first.  The caller queues the rest. */
size_t conn_tls_write(struct conn *c, const char *p, size_t n);
int conn_tls_pending(const struct conn *c);

#endif
