/*
 * conn.c -- connection lifetime, the receive stream and buffered input,
 * deadlines, lingering close (see conn.h; the set of a worker's
 * connections is conn_set.c).  It knows nothing of Lua: it
 * tells the layer above through the conn's events table, the way a
 * listener tells its owner of a new connection.
 *
 * A conn is freed once its handle's close callback has run: then no recv
 * or send completion is due any more.  Its timer, if it has one, may
 * still be posted; it is detached and goes back to the pool when its own
 * completion arrives.
 */
#include "conn.h"
#include "conn_internal.h"
#include "fault.h"
#include "log.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_deadline(struct io_op *op);
static void on_stream(struct io_op *op);

/* ---- lifetime ---------------------------------------------------------- */

struct conn *conn_new(struct conn_set *s, const struct conn_events *ev) {
  struct conn *c = pool_zget(&s->conn_pool);
  if (!c)
    return NULL;
  c->set = s;
  c->ev = ev;
  io_op_init(&c->rop, c);
  c->maxline = CONN_MAXLINE;
  c->maxread = CONN_MAXREAD;
  c->h.sock = IO_NOSOCK;
  c->flags = CONN_HANDLE_DONE; /* no handle yet */
  list_push(&s->conns, &c->node);
  s->nconns++;
  return c;
}

static void release_rbuf(struct conn *c) {
  struct conn_set *s = c->set;
  if (c->rcap == CONN_RBUF_CHUNK &&
      s->nspare < (int)(sizeof s->spare / sizeof *s->spare))
    s->spare[s->nspare++] = c->rbuf;
  else {
    free(c->rbuf);
    conn_set_shrank(s, c->rcap);
  }
  c->rbuf = NULL;
  c->rpos = c->rlen = c->rcap = 0;
}

/* A counted connection is gone: below the limit again, accepting resumes
 * (the one that pauses checks again after it paused, so a close that
 * races the pause is not missed: listener.c). */
void conn_uncount(struct conn_set *s) {
  struct conn_limit *lim = s->limit;
  if (!lim)
    return;
  int open = atomic_fetch_sub(&lim->open, 1) - 1;
  if (lim->max && open < conn_limit_low(lim) && atomic_load(&lim->paused) &&
      atomic_exchange(&lim->paused, 0))
    lim->resume(lim);
}

static void maybe_free(struct conn *c) {
  struct conn_set *s = c->set;
  if ((c->flags & (CONN_HANDLE_DONE | CONN_HELD)) != CONN_HANDLE_DONE)
    return;
  if (c->timer) {
    if (io_posted(&c->timer->op)) {
      c->timer->c = NULL; /* on_deadline returns it to the pool */
      io_cancel(s->loop, &c->timer->op);
    } else {
      pool_put(&s->timer_pool, c->timer);
    }
  }
  list_remove(&c->node);
  s->nconns--;
  if (c->flags & CONN_COUNTED) {
    stat_dec(&s->stats->open);
    stat_inc(&s->stats->closed);
    conn_uncount(s);
  }
  conn_drop_output(c);
  if (c->tls)
    conn_tls_free(c);
  free(c->origin);
  c->origin = NULL;
  if (c->box)
    *(struct conn **)c->box = NULL; /* the box's first field points here */
  if (c->rbuf)
    release_rbuf(c);
  pool_put(&s->conn_pool, c);
}

static void on_handle_closed(struct io_handle *h) {
  struct conn *c = (struct conn *)h; /* h is its first member */
  c->flags |= CONN_HANDLE_DONE;
  maybe_free(c);
}

int conn_open(struct conn *c, io_sock sock) {
  int err = io_open(c->set->loop, &c->h, sock);
  if (err) {
    c->flags |= CONN_CLOSING;
    maybe_free(c);
    return err;
  }
  c->flags = (c->flags & ~CONN_HANDLE_DONE) | CONN_COUNTED;
  stat_inc(&c->set->stats->accepted);
  stat_inc(&c->set->stats->open);
  if (c->set->limit)
    atomic_fetch_add(&c->set->limit->open, 1);
  c->flags |= CONN_IDLE | (c->set->ending ? CONN_ENDING : 0);
  conn_peer_connected(c);
  return 0;
}

static void lookup_peer(struct conn *c) {
  struct sockaddr_storage ss;
  if (io_sockname(&c->h, &ss, 1) == 0)
    addr_small_set(&c->peer, (struct sockaddr *)&ss);
}

void conn_peer_connected(struct conn *c) {
  if (!IO_PEER_LASTS) /* else when first asked for: conn_peer_addr */
    lookup_peer(c);
}

/* A closing handle's socket stays open until the loop's turn ends (io.c
 * closes it there, and the handle is done then), so the handler that
 * closed it can still be named in a log line. */
const struct addr_small *conn_peer_addr(struct conn *c) {
  if (!c->peer.family && !(c->flags & CONN_HANDLE_DONE) &&
      c->h.sock != IO_NOSOCK)
    lookup_peer(c);
  return c->peer.family ? &c->peer : NULL;
}

int conn_set_origin(struct conn *c, const struct sockaddr *src,
                    const struct sockaddr *dst, const void *header,
                    size_t len) {
  if (len > UINT32_MAX || fault_fail(FAULT_C, "proxy origin"))
    return IO_ENOMEM;
  struct conn_origin *o = malloc(sizeof *o + len);
  if (!o)
    return IO_ENOMEM;
  memset(&o->local, 0, sizeof o->local);
  if (dst)
    addr_small_set(&o->local, dst);
  o->len = (uint32_t)len;
  memcpy(o->header, header, len);
  free(c->origin);
  c->origin = o;
  if (src)
    addr_small_set(&c->peer, src);
  return 0;
}

/* conn_peer_addr has already tried the lookup a second one would make. */
void conn_peer(struct conn *c, char *buf, size_t size) {
  const struct addr_small *a = conn_peer_addr(c);
  if (a)
    addr_small_format(a, buf, size);
  else
    snprintf(buf, size, "?");
}

void conn_local(struct conn *c, char *buf, size_t size) {
  struct sockaddr_storage ss;
  if (c->origin && c->origin->local.family)
    addr_small_format(&c->origin->local, buf, size);
  else if ((c->flags & CONN_HANDLE_DONE) || io_closing(&c->h) ||
           io_sockname(&c->h, &ss, 0) != 0)
    snprintf(buf, size, "?");
  else
    addr_format((struct sockaddr *)&ss, buf, size);
}

uint32_t conn_timeout_ms(double seconds) {
  double ms = seconds * 1000.0;
  if (!(ms >= 1))
    return 1;
  if (ms >= (double)UINT32_MAX)
    return UINT32_MAX;
  return (uint32_t)(ms + 0.999); /* never earlier than asked */
}

/* ---- closing ------------------------------------------------------------ */

/* A posted receive stream is counted in nstreams (CONN_STREAM) from its
 * post to its final completion, unless it drains a lingering close: the
 * worker then knows that, but for those, only a stream with a reader
 * waiting is a reason to stay.  Nothing here changes per message. */
static void stream_counted(struct conn *c, int counted) {
  if (counted == ((c->flags & CONN_STREAM) != 0))
    return;
  c->flags ^= CONN_STREAM;
  c->set->nstreams += counted ? 1 : -1;
}

/* Tell a waiting reader (input, end of stream, its deadline, a close). */
static inline void wake_reader(struct conn *c) {
  if (!(c->flags & CONN_RWAIT))
    return;
  c->flags &= ~CONN_RWAIT;
  c->ev->input(c);
}

/* Lingering is for a connection that has sent something a reset would
 * destroy and has input left unread (buffered here, or in the kernel: a
 * close with unread input is what makes the kernel send the reset), with
 * nothing of ours in flight (a send in flight is cancelled anyway). */
static int can_linger(struct conn *c) {
  if ((c->flags & (CONN_HANDLE_DONE | CONN_RESET)) || c->rerr || c->werr ||
      c->wreq || *c->set->stopping || io_closing(&c->h))
    return 0;
  /* Ended between exchanges because the host stops: the peer's next
   * request may be on its way, and must meet an end of stream, not a
   * reset (it can then retry elsewhere). */
  if ((c->flags & CONN_ENDED) || ((c->flags & CONN_ENDING) && conn_between(c)))
    return 1;
  if (c->flags & CONN_EOF)
    return 0;
  if (!(c->flags & CONN_SENT))
    return 0;
  return c->rlen > 0 || io_unread(&c->h) > 0;
}

static void end_linger(struct conn *c) {
  c->flags &= ~CONN_LINGER;
  io_close(&c->h, on_handle_closed);
}

static int post_stream(struct conn *c) {
  return io_recv_multi(&c->h, &c->rop, on_stream);
}

struct conn_timer *conn_timer_of(struct conn *c) {
  if (!c->timer) {
    struct conn_timer *t = pool_zget(&c->set->timer_pool);
    if (!t)
      return NULL;
    t->set = c->set;
    t->c = c;
    io_op_init(&t->op, t);
    c->timer = t;
  }
  return c->timer;
}

/* Shut down writing and drain input until the peer closes or the
 * linger's deadline; 0, or -1 if it cannot (then close at once). */
static int start_linger(struct conn *c) {
  if (!(c->flags & CONN_SHUTDOWN) && io_shutdown(&c->h) != 0)
    return -1;
  c->flags |= CONN_SHUTDOWN;
  struct conn_timer *t = conn_timer_of(c);
  if (!t)
    return -1; /* no deadline, no linger: it must end */
  if (!io_posted(&c->rop) && post_stream(c) != 0)
    return -1;
  stream_counted(c, 0); /* draining is a reason to stay, for a while */
  c->flags |= CONN_LINGER;
  if (c->rbuf)
    release_rbuf(c); /* nobody will read it */
  uint64_t ms = (c->flags & CONN_ENDING) ? CONN_END_LINGER_MS : CONN_LINGER_MS;
  uint64_t due = io_clock() + ms * 1000000u;
  t->rdue = due;
  t->wdue = 0;
  if (!io_posted(&t->op))
    post_timer(c, due);
  else if (t->due > due)
    io_cancel(c->set->loop, &t->op); /* on_deadline re-posts it earlier */
  return 0;
}

void conn_finish_close(struct conn *c) {
  c->flags &= ~CONN_DRAIN;
  if (!can_linger(c) || start_linger(c) != 0)
    io_close(&c->h, on_handle_closed);
}

void conn_close(struct conn *c) {
  if (c->flags & CONN_CLOSING)
    return;
  c->flags |= CONN_CLOSING;
  if (c->flags & CONN_HANDLE_DONE) {
    maybe_free(c);
    return;
  }
  /* The stream's final completion would tell a waiting reader too, but a
   * lingering stream goes on: tell it now, the same way either way.  A
   * waiting writer too: what it wrote may drain on, but its wait is over
   * (it gets "closed"). */
  wake_reader(c);
  conn_wake_writer(c);
  if (c->tls && !(c->flags & CONN_RESET))
    conn_tls_close(c); /* close_notify joins what is to be sent */
  if ((c->flags & (CONN_RESET | CONN_CONNECTING)) || c->werr ||
      !conn_sending(c)) {
    conn_finish_close(c);
    return;
  }
  /* What was written goes first, for CONN_LINGER_MS at most. */
  c->flags |= CONN_DRAIN;
  struct conn_timer *t = conn_timer_of(c);
  if (t) {
    uint64_t due = io_clock() + (uint64_t)CONN_LINGER_MS * 1000000u;
    t->rdue = 0;
    t->wdue = due;
    if (!io_posted(&t->op))
      post_timer(c, due);
    else if (t->due > due)
      io_cancel(c->set->loop, &t->op);
  }
  if (!c->wreq && conn_flush(c) != 0)
    conn_finish_close(c); /* it cannot go: close */
}

void conn_hold(struct conn *c) { c->flags |= CONN_HELD; }

void conn_release(struct conn *c) {
  c->flags &= ~CONN_HELD;
  if (c->flags & CONN_CLOSING)
    maybe_free(c); /* closed meanwhile: perhaps done */
  else
    conn_close(c);
}

void conn_abort(struct conn *c) {
  conn_close(c);
  if (c->flags & CONN_DRAIN) {
    c->flags &= ~CONN_DRAIN;
    conn_drop_output(c);
    io_close(&c->h, on_handle_closed); /* cancels the send in flight */
  }
  if (c->flags & CONN_LINGER)
    end_linger(c);
}

void conn_reset(struct conn *c) {
  if (!(c->flags & (CONN_CLOSING | CONN_HANDLE_DONE)))
    io_reset_on_close(&c->h);
  c->flags |= CONN_RESET;
  conn_abort(c);
}

/* ---- the receive stream -------------------------------------------------- */

static size_t high_water(const struct conn *c) {
  size_t need = (c->flags & CONN_RWAIT) ? c->rneed : 0;
  return need > CONN_RBUF_HIGH ? need : CONN_RBUF_HIGH;
}

/* A chunk (res > 0) is offered to a waiting reader in place, the rest
 * buffered; the final completion records why the stream ended (res 0:
 * end of stream; IO_ECANCELED: paused, or closing; else a sticky error). */
static void on_stream(struct io_op *op) {
  struct conn *c = op->data;
  int res = op->res;
  if (c->flags & CONN_LINGER) { /* closed: drain until the peer is done */
    if (res > 0)
      return;
    if (res == IO_ECANCELED && post_stream(c) == 0)
      return;      /* it was paused: drain on */
    end_linger(c); /* the peer closed (or reset): nothing can be lost now */
    return;
  }
  if (res > 0)
    c->flags &= ~CONN_IDLE; /* an exchange has begun */
  if (res > 0 && c->tls) {
    stat_add(&c->set->stats->bytes_in, (uint64_t)res);
    if (!conn_closing(c))
      conn_tls_input(c, op->u.recv.data, (size_t)res);
    if (io_posted(op) && !conn_closing(c) && c->rlen >= high_water(c))
      io_cancel(c->set->loop, op);
    return;
  }
  if (res > 0) {
    stat_add(&c->set->stats->bytes_in, (uint64_t)res);
    if (conn_closing(c))
      return;      /* nobody will read it */
    if (c->rerr) { /* no room for it (the error stays): stop receiving */
      if (io_posted(op))
        io_cancel(c->set->loop, op);
      return;
    }
    c->hot = op->u.recv.data;
    c->hotlen = (uint32_t)res;
    wake_reader(c); /* the hot path: it may take the chunk in place */
    if (c->hotlen && !conn_closing(c) &&
        conn_rbuf_append(c, c->hot, c->hotlen) != 0)
      c->rerr = IO_ENOMEM;
    c->hot = NULL;
    c->hotlen = 0;
    if (io_posted(op) && !conn_closing(c) && c->rlen >= high_water(c))
      io_cancel(c->set->loop, op); /* pause: the peer waits in the kernel */
    return;
  }
  stream_counted(c, 0); /* the stream's final completion */
  /* The kernel reports a socket's reset to one caller: when a send took
   * it, the receive side sees only an end of stream.  That end is the
   * reset, on every backend, not an orderly close (conn_on_sent
   * does the same when the end of stream came first). */
  if (res == 0 && (c->werr == IO_ECONNRESET || c->werr == IO_EPIPE))
    res = IO_ECONNRESET;
  if (res == 0 && c->tls)
    conn_tls_eof(c); /* close_notify or not, and a handshake cut short */
  else if (res == 0) {
    c->flags |= CONN_EOF;
    /* A send in flight may have taken a reset, leaving this end of
     * stream to the receive side: the kernel tells (conn_on_sent), or
     * where it cannot, the time does. */
    int torn = c->wreq ? io_torn_down(&c->h) : 0;
    c->eof_reset = (uint8_t)(torn < 0 ? 2 : torn);
    if (torn < 0)
      c->eof_ms = (uint32_t)(io_now(c->set->loop) / 1000000u);
  } else if (res != IO_ECANCELED)
    c->rerr = res; /* sticky: a reset connection stays reset */
  if (c->tls && res < 0 && res != IO_ECANCELED)
    conn_tls_fail(c, NULL); /* a handshake waiting for input is over */
  /* IO_ECANCELED: paused, or closing; a waiting reader re-posts. */
  wake_reader(c);
}

void conn_wake_reader(struct conn *c) { wake_reader(c); }

int conn_ensure_stream(struct conn *c) {
  if (io_posted(&c->rop))
    return 0;
  int err = post_stream(c);
  if (!err)
    stream_counted(c, 1);
  return err;
}

/* The timer fires by `due` (it may be posted for later: re-post it). */
static void arm_timer(struct conn *c, uint64_t due) {
  struct conn_timer *t = c->timer;
  if (!io_posted(&t->op))
    post_timer(c, due);
  else if (t->due > due)
    io_cancel(c->set->loop, &t->op); /* on_deadline re-posts it earlier */
}

/* The deadline of an operation that starts waiting now: its timeout's or
 * the connection's own, whichever is first; 0: none. */
static uint64_t op_due(const struct conn *c) {
  uint64_t due = c->timeout ? io_clock() + (uint64_t)c->timeout * 1000000u : 0;
  uint64_t dl = c->timer ? c->timer->deadline : 0;
  return dl && (!due || dl < due) ? dl : due;
}

int conn_wait_input(struct conn *c, size_t need) {
  if ((c->flags & CONN_ENDING) && conn_between(c)) {
    c->flags |= CONN_ENDED | CONN_EOF; /* the host stops: no next exchange */
    return IO_ECANCELED;
  }
  if (!io_posted(&c->rop)) {
    int err = post_stream(c);
    if (err)
      return err;
    stream_counted(c, 1);
  }
  c->flags |= CONN_RWAIT;
  c->rneed = need > UINT32_MAX ? UINT32_MAX : (uint32_t)need;
  if (!c->timer && !c->timeout && !c->idle)
    return 0; /* the common case: no deadline at all */
  uint64_t due = op_due(c);
  if (due || c->idle) {
    struct conn_timer *t = conn_timer_of(c);
    if (t) {
      t->rdue = due;
      t->idue = c->idle ? io_clock() + (uint64_t)c->idle * 1000000u : 0;
      arm_timer(c, !due || (t->idue && t->idue < due) ? t->idue : due);
    } /* else no memory: this read waits without a deadline */
  } else if (c->timer) {
    c->timer->rdue = 0; /* an earlier read's deadline is not this one's */
    c->timer->idue = 0;
  }
  return 0;
}

int conn_set_deadline(struct conn *c, uint64_t due) {
  struct conn_timer *t = due || c->timer ? conn_timer_of(c) : NULL;
  if (!t)
    return due ? IO_ENOMEM : 0;
  t->deadline = due;
  if (!due)
    return 0;
  int sooner = 0;
  if ((c->flags & CONN_RWAIT) && (!t->rdue || due < t->rdue))
    t->rdue = due, sooner = 1;
  if ((c->flags & CONN_WWAIT) && c->wreq && (!t->wdue || due < t->wdue))
    t->wdue = due, sooner = 1;
  if (sooner)
    arm_timer(c, due);
  return 0;
}

/* ---- buffered input ---------------------------------------------------- */

char *conn_rbuf_space(struct conn *c, size_t want, size_t *room) {
  struct conn_set *s = c->set;
  if (c->rlen && c->rpos + c->rlen + want > c->rcap && c->rpos) {
    memmove(c->rbuf, c->rbuf + c->rpos, c->rlen); /* slide to the front */
    c->rpos = 0;
  }
  if (c->rpos + c->rlen + want > c->rcap) {
    size_t need = (size_t)c->rpos + c->rlen + want;
    if (need > UINT32_MAX || fault_fail(FAULT_C, "read buffer"))
      return NULL;
    if (!c->rbuf && need <= CONN_RBUF_CHUNK && s->nspare > 0) {
      c->rbuf = s->spare[--s->nspare];
      c->rcap = CONN_RBUF_CHUNK;
    } else {
      size_t cap = c->rcap ? c->rcap : CONN_RBUF_CHUNK;
      while (cap < need)
        cap *= 2;
      if (!conn_set_fits(s, cap - c->rcap))
        return NULL; /* the worker's memory limit */
      char *nb = realloc(c->rbuf, cap);
      if (!nb)
        return NULL;
      conn_set_grew(s, cap - c->rcap);
      c->rbuf = nb;
      c->rcap = (uint32_t)cap;
    }
  }
  *room = c->rcap - c->rpos - c->rlen;
  return c->rbuf + c->rpos + c->rlen;
}

int conn_rbuf_append(struct conn *c, const char *p, size_t n) {
  size_t room;
  char *dst = conn_rbuf_space(c, n, &room);
  if (!dst)
    return -1;
  memcpy(dst, p, n);
  c->rlen += (uint32_t)n;
  return 0;
}

/* A buffer that grew for a burst goes back to one chunk once little of
 * it is left: what a flooding peer made it grow to is not held while a
 * slow reader works through the rest. */
static void shrink_rbuf(struct conn *c) {
  struct conn_set *s = c->set;
  char *nb;
  if (s->nspare > 0) {
    nb = s->spare[--s->nspare]; /* counted already */
  } else {
    if (fault_fail(FAULT_C, "read buffer") || !(nb = malloc(CONN_RBUF_CHUNK)))
      return; /* keep the big one */
    conn_set_grew(s, CONN_RBUF_CHUNK);
  }
  memcpy(nb, c->rbuf + c->rpos, c->rlen);
  free(c->rbuf);
  conn_set_shrank(s, c->rcap);
  c->rbuf = nb;
  c->rpos = 0;
  c->rcap = CONN_RBUF_CHUNK;
}

void conn_rbuf_consume(struct conn *c, size_t n) {
  c->rpos += (uint32_t)n;
  c->rlen -= (uint32_t)n;
  if (c->rlen == 0)
    release_rbuf(c); /* an idle connection pins no buffer */
  else if (c->rcap > 2 * CONN_RBUF_HIGH && c->rlen <= CONN_RBUF_CHUNK / 2)
    shrink_rbuf(c);
}

/* ---- deadlines ------------------------------------------------------------
 */

void post_timer(struct conn *c, uint64_t due) {
  struct conn_timer *t = c->timer;
  t->due = due;
  if (io_timeout_at(c->set->loop, &t->op, due, on_deadline) != 0)
    t->due = 0; /* no memory for the timer: the deadline is not kept */
}

void conn_wait_output(struct conn *c) {
  c->flags |= CONN_WWAIT;
  uint64_t due = op_due(c);
  if (!due) {
    if (c->timer)
      c->timer->wdue = 0; /* an earlier send's deadline is not this one's */
    return;
  }
  struct conn_timer *t = conn_timer_of(c);
  if (!t)
    return; /* no memory: this operation waits without a deadline */
  t->wdue = due;
  arm_timer(c, due);
}

/* The earliest deadline still to watch, or 0. */
static uint64_t next_due(const struct conn *c) {
  const struct conn_timer *t = c->timer;
  uint64_t next = 0;
  if ((c->flags & CONN_RWAIT) && t->rdue)
    next = t->rdue;
  if ((c->flags & CONN_RWAIT) && t->idue && (!next || t->idue < next))
    next = t->idue;
  int wwait =
      ((c->flags & CONN_WWAIT) && c->wreq && !(c->flags & CONN_WTIMEDOUT)) ||
      conn_tls_handshaking(c);
  if (wwait && t->wdue && (!next || t->wdue < next))
    next = t->wdue;
  return next;
}

void conn_settle_deadline(struct conn *c) {
  struct conn_timer *t = c->timer;
  if (!t || (c->flags & CONN_CLOSING))
    return;
  t->wdue = 0;
  if (io_posted(&t->op) && !next_due(c))
    io_cancel(c->set->loop, &t->op); /* on_deadline posts nothing again */
}

/* The timer fired (or was cancelled so as to be re-posted earlier: the
 * clock, not op->res, says what is overdue). */
static void on_deadline(struct io_op *op) {
  struct conn_timer *t = op->data;
  struct conn *c = t->c;
  if (!c) { /* the conn is gone */
    pool_put(&t->set->timer_pool, t);
    return;
  }
  uint64_t now = io_clock();
  if (c->flags & CONN_CLOSING) {
    uint64_t due = (c->flags & CONN_LINGER)  ? t->rdue
                   : (c->flags & CONN_DRAIN) ? t->wdue
                                             : 0;
    if (due && due <= now)
      conn_abort(c); /* the peer would not take it: maybe_free gives t back */
    else if (due && !io_posted(&t->op))
      post_timer(c, due);
    return; /* else maybe_free will give it back */
  }
  if (c->tls && conn_tls_handshake_overdue(c, now))
    return; /* the handshake failed: the waiting task was told */
  /* The writer first: telling the reader runs script code, which may post
   * new operations; those have deadlines of their own. */
  if ((c->flags & CONN_WWAIT) && c->wreq && t->wdue && t->wdue <= now &&
      !(c->flags & CONN_WTIMEDOUT)) {
    t->wdue = 0;
    c->flags |= CONN_WTIMEDOUT;
    io_cancel(c->set->loop, &c->wreq->op);
  }
  if ((c->flags & CONN_RWAIT) && t->idue && t->idue <= now) {
    /* Nothing arrived for conn.idle while a read waited: closed. */
    t->idue = 0;
    log_write(LOG_DEBUG, c->set->worker, "connection idle for %u ms: closed",
              c->idle);
    conn_close(c); /* the reader is told: nil, "closed" */
    return;        /* maybe_free gives t back */
  }
  if ((c->flags & CONN_RWAIT) && t->rdue && t->rdue <= now) {
    /* The receive stream stays posted: the reader just stops waiting. */
    t->rdue = 0;
    c->flags |= CONN_RTIMEDOUT;
    wake_reader(c);
    if (c->flags & CONN_CLOSING)
      return; /* the reader closed it; maybe_free gives t back */
  }
  uint64_t next = next_due(c);
  if (next) {
    if (!io_posted(&t->op))
      post_timer(c, next);
    else if (t->due > next)
      io_cancel(c->set->loop, &t->op);
  }
}
