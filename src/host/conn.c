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
  c->flags &= (uint8_t)~CONN_HANDLE_DONE;
  return 0;
}

void conn_close(struct conn *c) {
  if (c->flags & CONN_CLOSING)
    return;
  c->flags |= CONN_CLOSING;
  if (!(c->flags & CONN_HANDLE_DONE))
    io_close(&c->h, on_handle_closed);
  else
    maybe_free(c);
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

void conn_arm(struct conn *c, int wr) {
  struct worker *w = c->w;
  if (!c->timeout)
    return;
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
  if (!io_posted(&t->op))
    post_timer(c, due);
  else if (t->due > due)
    io_cancel(w->loop, &t->op); /* on_deadline re-posts it earlier */
}

static void on_deadline(struct io_op *op) {
  struct conn_timer *t = op->data;
  struct conn *c = t->c;
  if (!c) { /* the conn is gone */
    timer_give(t->w, t);
    return;
  }
  if (c->flags & CONN_CLOSING)
    return; /* maybe_free will give it back */
  uint64_t now = io_clock(), next = UINT64_MAX;
  if (c->reader && !(c->flags & CONN_RTIMEDOUT)) {
    if (t->rdue <= now) {
      /* The receive stream stays posted: the reader just stops waiting. */
      struct task *reader = c->reader;
      c->reader = NULL;
      c->flags |= CONN_RTIMEDOUT;
      task_resume(reader, 0);
      if (c->flags & CONN_CLOSING)
        return; /* the reader closed it; maybe_free gives t back */
    } else {
      next = t->rdue;
    }
  }
  if (c->writer && c->wreq && !(c->flags & CONN_WTIMEDOUT)) {
    if (t->wdue <= now) {
      c->flags |= CONN_WTIMEDOUT;
      io_cancel(c->w->loop, &c->wreq->op);
    } else if (t->wdue < next) {
      next = t->wdue;
    }
  }
  /* A reader resumed above may have posted the timer already. */
  if (next != UINT64_MAX && c->timeout && !io_posted(&t->op))
    post_timer(c, next);
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
