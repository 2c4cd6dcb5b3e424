/*
 * conn_out.c -- a connection's output (see conn.h): the queue that writes
 * copy into, the one send in flight, connecting, and telling a waiting
 * writer.
 *
 * Small writes are copied, because a copy of a few bytes into a buffer
 * that is already there costs less than keeping a string alive for the
 * kernel, and because it lets what many tasks wrote in one turn go out
 * in one system call.  Large sends are not copied: conn_send gathers the
 * caller's buffers behind the queue (io brief: gather queued buffers
 * into one sendmsg / WSASend).  The queue's buffer is handed to the send
 * as it is (no copy at flush time) and comes back to the set's spares
 * when the send completes.  On TLS a large write is not copied either:
 * it is encrypted at once (conn_tls_write), OpenSSL copying it into its
 * record, and only what the engine's bounded output does not take is
 * queued.
 */
#include "conn.h"
#include "conn_internal.h"
#include "fault.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

static void obuf_release(struct conn_set *s, char *buf, uint32_t cap) {
  if (cap == CONN_OBUF_CHUNK &&
      s->nospare < (int)(sizeof s->ospare / sizeof *s->ospare)) {
    s->ospare[s->nospare++] = buf;
  } else {
    free(buf);
    conn_set_shrank(s, cap);
  }
}

static void mark_dirty(struct conn *c) {
  c->flags |= CONN_IDLE; /* we answered: a next read waits for a new one */
  if (c->flags & CONN_DIRTY)
    return;
  c->flags |= CONN_DIRTY;
  c->dirty_next = c->set->dirty;
  c->set->dirty = c;
}

void conn_unmark_dirty(struct conn *c) {
  if (!(c->flags & CONN_DIRTY))
    return;
  c->flags &= ~CONN_DIRTY;
  struct conn **p = &c->set->dirty;
  while (*p != c)
    p = &(*p)->dirty_next; /* rare: a dirty conn leaves before the flush */
  *p = c->dirty_next;
}

void conn_drop_output(struct conn *c) {
  if (c->obuf)
    obuf_release(c->set, c->obuf, c->ocap);
  c->obuf = NULL;
  c->olen = c->ocap = 0;
  conn_unmark_dirty(c);
}

char *conn_write_space(struct conn *c, size_t n) {
  if (c->olen + n > c->ocap) {
    size_t need = (size_t)c->olen + n;
    if (need > UINT32_MAX || fault_fail(FAULT_C, "output buffer"))
      return NULL;
    struct conn_set *s = c->set;
    if (!c->obuf && need <= CONN_OBUF_CHUNK && s->nospare > 0) {
      c->obuf = s->ospare[--s->nospare];
      c->ocap = CONN_OBUF_CHUNK;
    } else {
      size_t cap = c->ocap ? c->ocap : CONN_OBUF_CHUNK;
      while (cap < need)
        cap *= 2;
      if (!conn_set_fits(s, cap - c->ocap))
        return NULL; /* the worker's memory limit */
      char *nb = realloc(c->obuf, cap);
      if (!nb)
        return NULL;
      conn_set_grew(s, cap - c->ocap);
      c->obuf = nb;
      c->ocap = (uint32_t)cap;
    }
  }
  return c->obuf + c->olen;
}

void conn_write_commit(struct conn *c, size_t n) {
  if (n == 0)
    return;
  c->olen += (uint32_t)n;
  mark_dirty(c);
}

int conn_write(struct conn *c, const char *p, size_t n) {
  if (n == 0)
    return 0;
  if (c->tls && n >= CONN_TLS_DIRECT && !c->werr) {
    size_t k = conn_tls_write(c, p, n);
    if (k) {
      mark_dirty(c); /* its records go out with the worker's flush */
      p += k;
      n -= k;
      if (n == 0)
        return 0;
    }
  }
  char *dst = conn_write_space(c, n);
  if (!dst)
    return IO_ENOMEM;
  memcpy(dst, p, n);
  conn_write_commit(c, n);
  return 0;
}

int conn_sending(const struct conn *c) {
  return c->olen > 0 || (c->wreq && !(c->flags & CONN_CONNECTING)) ||
         (c->tls && conn_tls_pending(c));
}

int conn_send(struct conn *c, const struct io_buf *bufs, int n, size_t *taken) {
  *taken = 0;
  if (c->werr)
    return c->werr;
  if (c->wreq)
    return IO_EBUSY;
  if (n > 0)
    c->flags |= CONN_IDLE; /* we answered: a next read waits for a new one */
  if (c->tls)
    return conn_tls_send(c, bufs, n, taken);
  if (n == 0 && c->olen == 0)
    return 0;
  struct conn_wreq *r = pool_get(&c->set->wreq_pool);
  if (!r)
    return IO_ENOMEM;
  io_op_init(&r->op, c);
  r->owned = NULL;
  int k = 0;
  if (c->olen) {
    r->bufs[k++] = io_buf_make(c->obuf, c->olen);
    r->owned = c->obuf; /* the send's now: back to the spares after it */
    r->ownedcap = c->ocap;
    c->obuf = NULL;
    c->olen = c->ocap = 0;
  }
  if (n > 0) /* a flush passes no buffers (memcpy from NULL is UB) */
    memcpy(r->bufs + k, bufs, (size_t)n * sizeof *bufs);
  k += n;
  for (int i = 0; i < n; i++)
    *taken += bufs[i].len;
  if (c->flags & CONN_DIRTY)
    conn_unmark_dirty(c);
  int err = io_send(&c->h, &r->op, r->bufs, k, conn_on_sent);
  if (err) { /* misuse (a bug) or a closing handle: nothing went out */
    if (r->owned)
      obuf_release(c->set, r->owned, r->ownedcap);
    pool_put(&c->set->wreq_pool, r);
    return err;
  }
  c->wreq = r;
  return 0;
}

int conn_flush(struct conn *c) {
  size_t taken;
  if (c->werr)
    return c->werr;
  if (c->wreq || !conn_sending(c))
    return 0; /* what is queued goes when the send in flight completes */
  return conn_send(c, NULL, 0, &taken);
}

void conn_set_flush(struct conn_set *s) {
  struct conn *c = s->dirty;
  s->dirty = NULL;
  while (c) {
    struct conn *next = c->dirty_next;
    c->flags &= ~CONN_DIRTY;
    if (!c->wreq && !conn_closing(c) && conn_flush(c) != 0)
      conn_drop_output(c); /* the error is sticky: the next write sees it */
    c = next;
  }
}

/* The send's completion: what it means for the connection, the writer
 * told, and what was queued meanwhile posted. */
void conn_on_sent(struct io_op *op) {
  struct conn *c = op->data;
  struct conn_wreq *r = c->wreq;
  int res = op->res;
  stat_add(&c->set->stats->bytes_out, op->u.send.total);
  if (res >= 0) { /* the common case: all of it went */
    c->flags = (c->flags | CONN_SENT) & ~CONN_WTIMEDOUT;
  } else {
    if (op->u.send.total > 0)
      c->flags |= CONN_SENT;
    if (res != IO_ECANCELED)
      c->werr = res; /* sticky */
    /* The kernel reports a reset to one caller, and the receive side may
     * have ended first with what looked like an orderly end of stream:
     * it was this reset (on_stream in conn.c does the same the other way
     * round) if the end came while this send was in flight and the
     * kernel had torn the connection down by then (where it cannot tell:
     * if both came within CONN_RESET_PAIR_MS).  An end of stream before
     * that was the peer's own (it half-closed, then reset), and stays
     * "closed", as the kernel's recv says. */
    if ((res == IO_ECONNRESET || res == IO_EPIPE) && !c->tls &&
        (c->flags & CONN_EOF) &&
        (c->eof_reset == 1 ||
         (c->eof_reset == 2 &&
          (uint32_t)(io_now(c->set->loop) / 1000000u) - c->eof_ms <=
              CONN_RESET_PAIR_MS))) {
      c->flags &= ~CONN_EOF;
      c->rerr = IO_ECONNRESET;
    }
    if (c->werr || !(c->flags & CONN_WTIMEDOUT))
      conn_drop_output(c); /* it cannot go now */
  }
  if (r->owned)
    obuf_release(c->set, r->owned, r->ownedcap);
  if (c->flags & CONN_TLSOUT) {
    c->flags &= ~CONN_TLSOUT;
    conn_tls_sent(c, op->u.send.total);
  }
  pool_put(&c->set->wreq_pool, r);
  c->wreq = NULL;
  conn_wake_writer(c);
  if (c->wreq)
    return; /* the writer posted the next one */
  size_t taken;
  if (conn_sending(c) && (!conn_closing(c) || (c->flags & CONN_DRAIN)) &&
      !c->werr && conn_send(c, NULL, 0, &taken) == 0 && c->wreq)
    return; /* written while this one was in flight: it goes now */
  if (c->flags & CONN_DRAIN)
    conn_finish_close(c); /* everything queued has gone (or cannot) */
}

/* ---- connecting ---------------------------------------------------------- */

static void on_connected(struct io_op *op) {
  struct conn *c = op->data;
  c->flags &= ~CONN_CONNECTING;
  c->werr = op->res;
  pool_put(&c->set->wreq_pool, c->wreq);
  c->wreq = NULL;
  if (!c->werr) {
    c->flags |= CONN_COUNTED;
    stat_inc(&c->set->stats->connected);
    stat_inc(&c->set->stats->open);
    if (c->set->limit)
      atomic_fetch_add(&c->set->limit->open, 1);
    conn_peer_connected(c);
  }
  conn_wake_writer(c);
}

int conn_connect(struct conn *c, const struct sockaddr *addr, int len) {
  struct conn_wreq *r = pool_get(&c->set->wreq_pool);
  if (!r)
    return IO_ENOMEM;
  io_op_init(&r->op, c);
  r->owned = NULL;
  c->wreq = r;
  c->flags |= CONN_CONNECTING | CONN_CLIENT;
  io_connect(c->set->loop, &c->h, &r->op, addr, len, on_connected);
  c->flags &= ~CONN_HANDLE_DONE; /* a handle now, even a failed one */
  return 0;
}
