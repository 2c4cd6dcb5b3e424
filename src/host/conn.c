/*
 * conn.c -- connection lifetime, buffered input and deadlines (see
 * conn.h).  Nothing here knows about Lua; lconn.c drives it.
 *
 * A conn is freed once its handle's close callback has run: then no recv
 * or send completion is due any more.  Its timer, if it has one, may
 * still be posted; it is detached and goes back to the pool when its own
 * completion arrives.
 */
#include "conn.h"
#include "fault.h"
#include "lsched.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_deadline(struct io_op *op);
static void post_timer(struct conn *c, uint64_t due);

struct conn *conn_new(struct worker *w) {
  struct conn *c = pool_get(&w->conn_pool);
  if (!c)
    return NULL;
  memset(c, 0, sizeof *c);
  c->w = w;
  c->rop.data = c;
  c->maxline = CONN_MAXLINE;
  c->maxread = CONN_MAXREAD;
  c->h.sock = IO_NOSOCK;
  c->flags = CONN_HANDLE_DONE; /* no handle yet */
  c->next = w->conns;
  if (w->conns)
    w->conns->prev = c;
  w->conns = c;
  w->nconns++;
  return c;
}

static void release_rbuf(struct conn *c) {
  struct worker *w = c->w;
  if (c->rcap == CONN_RBUF_CHUNK &&
      w->nspare < (int)(sizeof w->spare_rbufs / sizeof *w->spare_rbufs))
    w->spare_rbufs[w->nspare++] = c->rbuf;
  else
    free(c->rbuf);
  c->rbuf = NULL;
  c->rpos = c->rlen = c->rcap = 0;
}

static void timer_give(struct worker *w, struct conn_timer *t) {
  pool_put(&w->timer_pool, t);
}

static void maybe_free(struct conn *c) {
  struct worker *w = c->w;
  if (!(c->flags & CONN_HANDLE_DONE))
    return;
  if (c->timer) {
    if (io_posted(&c->timer->op)) {
      c->timer->c = NULL; /* on_deadline returns it to the pool */
      io_cancel(w->loop, &c->timer->op);
    } else {
      timer_give(w, c->timer);
    }
  }
  if (c->prev)
    c->prev->next = c->next;
  else
    w->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  w->nconns--;
  if (c->box)
    c->box->c = NULL;
  if (c->rbuf)
    release_rbuf(c);
  pool_put(&w->conn_pool, c);
}

static void on_handle_closed(struct io_handle *h) {
  struct conn *c = (struct conn *)h; /* h is its first member */
  c->flags |= CONN_HANDLE_DONE;
  maybe_free(c);
}

int conn_open(struct conn *c, io_sock sock) {
  int err = io_open(c->w->loop, &c->h, sock);
  if (err) {
    c->flags |= CONN_CLOSING;
    maybe_free(c);
    return err;
  }
  c->flags &= (uint16_t)~CONN_HANDLE_DONE;
  conn_cache_peer(c);
  return 0;
}

void conn_cache_peer(struct conn *c) {
  struct sockaddr_storage ss;
  if (io_sockname(&c->h, &ss, 1) == 0)
    addr_small_set(&c->peer, (struct sockaddr *)&ss);
}

/* ---- closing ------------------------------------------------------------ */

/* Lingering is for a connection that has sent something a reset would
 * destroy and has input left unread (buffered here, or in the kernel: a
 * close with unread input is what makes the kernel send the reset), with
 * nothing of ours in flight (a send in flight is cancelled anyway). */
static int can_linger(struct conn *c) {
  if (!(c->flags & CONN_SENT) ||
      (c->flags & (CONN_EOF | CONN_HANDLE_DONE | CONN_RESET)) || c->rerr ||
      c->werr || c->wreq || c->w->killing || io_closing(&c->h))
    return 0;
  return c->rlen > 0 || io_unread(&c->h) > 0;
}

static void end_linger(struct conn *c) {
  c->flags &= (uint16_t)~CONN_LINGER;
  io_close(&c->h, on_handle_closed);
}

static void on_linger_stream(struct io_op *op) {
  conn_linger_recv(op->data, op->res);
}

static int post_linger_stream(struct conn *c) {
  return io_recv_multi(&c->h, &c->rop, on_linger_stream);
}

void conn_linger_recv(struct conn *c, int res) {
  if (res > 0 || !(c->flags & CONN_LINGER))
    return; /* dropped; or the linger is over and the close under way */
  /* A stream paused at the high water ends cancelled: drain on. */
  if (res == IO_ECANCELED && post_linger_stream(c) == 0)
    return;
  end_linger(c); /* the peer closed (or reset): nothing can be lost now */
}

/* Shut down writing and drain input until the peer closes or the
 * linger's deadline; 0, or -1 if it cannot (then close at once). */
static int start_linger(struct conn *c) {
  struct worker *w = c->w;
  if (!(c->flags & CONN_SHUTDOWN) && io_shutdown(&c->h) != 0)
    return -1;
  c->flags |= CONN_SHUTDOWN;
  if (!c->timer) {
    struct conn_timer *t = pool_get(&w->timer_pool);
    if (!t)
      return -1; /* no deadline, no linger: it must end */
    memset(t, 0, sizeof *t);
    t->w = w;
    t->c = c;
    t->op.data = t;
    c->timer = t;
  }
  if (!io_posted(&c->rop) && post_linger_stream(c) != 0)
    return -1;
  c->flags |= CONN_LINGER;
  if (c->rbuf)
    release_rbuf(c); /* nobody will read it */
  struct conn_timer *t = c->timer;
  uint64_t due = io_clock() + (uint64_t)CONN_LINGER_MS * 1000000u;
  t->rdue = due;
  t->wdue = 0;
  if (!io_posted(&t->op))
    post_timer(c, due);
  else if (t->due > due)
    io_cancel(w->loop, &t->op); /* on_deadline re-posts it earlier */
  return 0;
}

void conn_close(struct conn *c) {
  if (c->flags & CONN_CLOSING)
    return;
  c->flags |= CONN_CLOSING;
  if (c->flags & CONN_HANDLE_DONE) {
    maybe_free(c);
    return;
  }
  if (can_linger(c) && start_linger(c) == 0) {
    /* The stream stays posted, so a task waiting to read is not woken
     * by its end: tell it now (its continuation sees the close). */
    struct task *reader = c->reader;
    c->reader = NULL;
    if (reader)
      task_schedule(reader, 0);
    return;
  }
  io_close(&c->h, on_handle_closed);
}

void conn_abort(struct conn *c) {
  conn_close(c);
  if (c->flags & CONN_LINGER)
    end_linger(c);
}

void conn_reset(struct conn *c) {
  if (!(c->flags & (CONN_CLOSING | CONN_HANDLE_DONE)))
    io_reset_on_close(&c->h);
  c->flags |= CONN_RESET;
  conn_abort(c);
}

static void name(struct conn *c, char *buf, size_t size, int peer) {
  struct sockaddr_storage ss;
  if ((c->flags & CONN_HANDLE_DONE) || io_closing(&c->h) ||
      io_sockname(&c->h, &ss, peer) != 0)
    snprintf(buf, size, "?");
  else
    addr_format((struct sockaddr *)&ss, buf, size);
}

void conn_peer(struct conn *c, char *buf, size_t size) {
  if (c->peer.family)
    addr_small_format(&c->peer, buf, size);
  else
    name(c, buf, size, 1);
}

void conn_local(struct conn *c, char *buf, size_t size) {
  name(c, buf, size, 0);
}

uint32_t conn_timeout_ms(double seconds) {
  double ms = seconds * 1000.0;
  if (!(ms >= 1))
    return 1;
  if (ms >= (double)UINT32_MAX)
    return UINT32_MAX;
  return (uint32_t)(ms + 0.999); /* never earlier than asked */
}

/* ---- buffered input ---------------------------------------------------- */

int conn_rbuf_append(struct conn *c, const char *p, size_t n) {
  struct worker *w = c->w;
  if (c->rlen && c->rpos + c->rlen + n > c->rcap && c->rpos) {
    memmove(c->rbuf, c->rbuf + c->rpos, c->rlen); /* slide to the front */
    c->rpos = 0;
  }
  if (c->rpos + c->rlen + n > c->rcap) {
    size_t need = (size_t)c->rpos + c->rlen + n;
    if (need > UINT32_MAX || fault_fail(FAULT_C, "read buffer"))
      return -1;
    if (!c->rbuf && need <= CONN_RBUF_CHUNK && w->nspare > 0) {
      c->rbuf = w->spare_rbufs[--w->nspare];
      c->rcap = CONN_RBUF_CHUNK;
    } else {
      size_t cap = c->rcap ? c->rcap : CONN_RBUF_CHUNK;
      while (cap < need)
        cap *= 2;
      char *nb = realloc(c->rbuf, cap);
      if (!nb)
        return -1;
      c->rbuf = nb;
      c->rcap = (uint32_t)cap;
    }
  }
  memcpy(c->rbuf + c->rpos + c->rlen, p, n);
  c->rlen += (uint32_t)n;
  return 0;
}

void conn_rbuf_consume(struct conn *c, size_t n) {
  c->rpos += (uint32_t)n;
  c->rlen -= (uint32_t)n;
  if (c->rlen == 0)
    release_rbuf(c); /* an idle connection pins no buffer */
}

/* ---- deadlines ------------------------------------------------------------ */

static void post_timer(struct conn *c, uint64_t due) {
  struct conn_timer *t = c->timer;
  uint64_t now = io_clock();
  t->due = due;
  if (io_timeout(c->w->loop, &t->op, due > now ? due - now : 0,
                 on_deadline) != 0)
    t->due = 0; /* no memory for the timer: the deadline is not kept */
}

/* The timer fires at `due` at the latest: posted now, or re-posted
 * earlier through a cancel (on_deadline runs for it and re-posts). */
static void reschedule(struct conn *c, uint64_t due) {
  struct conn_timer *t = c->timer;
  if (!io_posted(&t->op))
    post_timer(c, due);
  else if (t->due > due)
    io_cancel(c->w->loop, &t->op);
}

void conn_arm(struct conn *c, int wr) {
  struct worker *w = c->w;
  if (!c->timeout) {
    /* No deadline for this operation: a lazy timer still posted for an
     * earlier one must not reach it. */
    if (c->timer) {
      if (wr)
        c->timer->wdue = 0;
      else
        c->timer->rdue = 0;
    }
    return;
  }
  if (!c->timer) {
    struct conn_timer *t = pool_get(&w->timer_pool);
    if (!t)
      return; /* no memory: this operation waits without a deadline */
    memset(t, 0, sizeof *t);
    t->w = w;
    t->c = c;
    t->op.data = t;
    c->timer = t;
  }
  struct conn_timer *t = c->timer;
  uint64_t due = io_clock() + (uint64_t)c->timeout * 1000000u;
  if (wr)
    t->wdue = due;
  else
    t->rdue = due;
  reschedule(c, due);
}

/* The earliest deadline still to watch, or 0. */
static uint64_t next_due(const struct conn *c) {
  const struct conn_timer *t = c->timer;
  uint64_t next = 0;
  if (c->reader && t->rdue)
    next = t->rdue;
  if (c->writer && c->wreq && t->wdue && !(c->flags & CONN_WTIMEDOUT) &&
      (!next || t->wdue < next))
    next = t->wdue;
  return next;
}

static void on_deadline(struct io_op *op) {
  struct conn_timer *t = op->data;
  struct conn *c = t->c;
  if (!c) { /* the conn is gone */
    timer_give(t->w, t);
    return;
  }
  uint64_t now = io_clock();
  if (c->flags & CONN_CLOSING) {
    if ((c->flags & CONN_LINGER) && t->rdue) {
      if (t->rdue <= now)
        end_linger(c); /* maybe_free gives t back */
      else if (!io_posted(&t->op))
        post_timer(c, t->rdue);
    }
    return; /* else maybe_free will give it back */
  }
  /* The writer first: resuming the reader runs script code, which may
   * post new operations; those have deadlines of their own. */
  if (c->writer && c->wreq && t->wdue && t->wdue <= now &&
      !(c->flags & CONN_WTIMEDOUT)) {
    t->wdue = 0;
    c->flags |= CONN_WTIMEDOUT;
    io_cancel(c->w->loop, &c->wreq->op);
  }
  if (c->reader && t->rdue && t->rdue <= now) {
    /* The receive stream stays posted: the reader just stops waiting. */
    struct task *reader = c->reader;
    c->reader = NULL;
    t->rdue = 0;
    c->flags |= CONN_RTIMEDOUT;
    task_resume(reader, 0);
    if (c->flags & CONN_CLOSING)
      return; /* the reader closed it; maybe_free gives t back */
  }
  uint64_t next = next_due(c);
  if (next)
    reschedule(c, next);
}

/* ---- pools ------------------------------------------------------------------ */

struct conn_wreq *conn_wreq_take(struct conn *c) {
  struct conn_wreq *r = pool_get(&c->w->wreq_pool);
  if (!r)
    return NULL;
  r->op.flags = 0;
  r->op.data = c;
  c->wreq = r;
  return r;
}

void conn_wreq_give(struct conn *c) {
  pool_put(&c->w->wreq_pool, c->wreq);
  c->wreq = NULL;
}
