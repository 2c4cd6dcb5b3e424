/*
 * conn.c -- connection lifetime, buffered input and deadlines (see
 * conn.h).  Nothing here knows about Lua; lconn.c drives it.
 *
 * A conn is freed by maybe_free() once both of the things that can still
 * point into it are done: the handle (its close callback ran, so no recv
 * or send completion is due) and the deadline timer.
 */
#include "conn.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_deadline(struct io_op *op);

struct conn *conn_new(struct worker *w) {
  struct conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->w = w;
  c->h.data = c;
  c->rop.data = c->wop.data = c->top.data = c;
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

static void maybe_free(struct conn *c) {
  struct worker *w = c->w;
  if (!(c->flags & CONN_HANDLE_DONE) || io_posted(&c->top))
    return;
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
  free(c);
}

static void on_handle_closed(struct io_handle *h) {
  struct conn *c = h->data;
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
  if (io_posted(&c->top))
    io_cancel(c->w->loop, &c->top);
  if (!(c->flags & CONN_HANDLE_DONE))
    io_close(&c->h, on_handle_closed);
  else
    maybe_free(c);
}

void conn_set_owner(struct conn *c, struct task *t) { c->owner = t; }

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

/* ---- buffered input ---------------------------------------------------- */

int conn_rbuf_append(struct conn *c, const char *p, size_t n) {
  struct worker *w = c->w;
  if (c->rlen && c->rpos + c->rlen + n > c->rcap && c->rpos) {
    memmove(c->rbuf, c->rbuf + c->rpos, c->rlen); /* slide to the front */
    c->rpos = 0;
  }
  if (c->rpos + c->rlen + n > c->rcap) {
    size_t need = (size_t)c->rpos + c->rlen + n;
    if (need > UINT32_MAX)
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
  uint64_t now = io_clock();
  c->tdue = due;
  if (io_timeout(c->w->loop, &c->top, due > now ? due - now : 0,
                 on_deadline) != 0)
    c->tdue = 0; /* no memory for the timer: the deadline is not kept */
}

void conn_arm(struct conn *c, int wr) {
  if (!c->timeout)
    return;
  uint64_t due = io_clock() + c->timeout;
  if (wr)
    c->wdue = due;
  else
    c->rdue = due;
  if (!io_posted(&c->top))
    post_timer(c, due);
  else if (c->tdue > due)
    io_cancel(c->w->loop, &c->top); /* re-posted earlier by on_deadline */
}

static void on_deadline(struct io_op *op) {
  struct conn *c = op->data;
  if (c->flags & CONN_CLOSING) {
    maybe_free(c);
    return;
  }
  uint64_t now = io_clock(), next = UINT64_MAX;
  if (c->reader && io_posted(&c->rop) && !(c->flags & CONN_RTIMEDOUT)) {
    if (c->rdue <= now) {
      c->flags |= CONN_RTIMEDOUT;
      io_cancel(c->w->loop, &c->rop);
    } else {
      next = c->rdue;
    }
  }
  if (c->writer && io_posted(&c->wop) && !(c->flags & CONN_WTIMEDOUT)) {
    if (c->wdue <= now) {
      c->flags |= CONN_WTIMEDOUT;
      io_cancel(c->w->loop, &c->wop);
    } else if (c->wdue < next) {
      next = c->wdue;
    }
  }
  if (next != UINT64_MAX && c->timeout)
    post_timer(c, next);
}
