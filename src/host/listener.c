/*
 * listener.c -- accepting connections on one worker (see listener.h).
 *
 * The listener's lifetime is the connections' (conn.c): listener_close
 * only requests, and maybe_free frees it from whichever completion comes
 * last, its handle's close or its back-off timer's.
 */
#include "listener.h"
#include "group.h"
#include "host.h"
#include "log.h"
#include "tls.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_accept(struct io_op *op);

static void arm(struct listener *l) {
  if (!listener_closing(l) && !(l->flags & LISTENER_FULL) &&
      !io_posted(&l->aop) && io_accept(&l->h, &l->aop, on_accept) != 0)
    log_write(LOG_ERROR, l->w->id, "cannot accept on %s", l->address);
}

/* After an accept: at the limit, this listener pauses (see listener.h).
 * Returns 1 if it did. */
static int full(struct listener *l, int more) {
  struct conn_limit *lim = &l->w->host->limit;
  int open = atomic_load(&lim->open);
  if (!lim->max || open < lim->max)
    return 0;
  l->flags |= LISTENER_FULL;
  if (more)
    io_cancel(l->w->loop, &l->aop);
  if (!atomic_exchange(&lim->paused, 1)) {
    host_limit_log(l->w->host, 1, open);
    host_limit_reached(l->w->host); /* the other workers pause too */
  }
  /* A close that came before `paused` was set did not resume: look. */
  if (atomic_load(&lim->open) < conn_limit_low(lim) &&
      atomic_exchange(&lim->paused, 0))
    lim->resume(lim);
  return 1;
}

void listener_pause(struct worker *w) {
  struct conn_limit *lim = &w->host->limit;
  if (!atomic_load(&lim->paused))
    return; /* resumed meanwhile */
  for (struct list_node *n = list_first(&w->listeners); n;
       n = list_next(&w->listeners, n)) {
    struct listener *l = list_entry(n, struct listener, node);
    if (!(l->flags & LISTENER_ACCEPTS) || (l->flags & LISTENER_FULL))
      continue;
    l->flags |= LISTENER_FULL;
    if (io_posted(&l->aop))
      io_cancel(w->loop, &l->aop);
  }
}

void listener_resume(struct worker *w) {
  for (struct list_node *n = list_first(&w->listeners); n;
       n = list_next(&w->listeners, n)) {
    struct listener *l = list_entry(n, struct listener, node);
    if (!(l->flags & LISTENER_FULL))
      continue;
    l->flags &= ~LISTENER_FULL;
    if ((l->flags & LISTENER_ACCEPTS) && !io_posted(&l->pause))
      arm(l);
  }
}

static void maybe_free(struct listener *l) {
  if (!(l->flags & LISTENER_HANDLE_DONE) || io_posted(&l->pause))
    return;
  list_remove(&l->node);
  if (l->box)
    *(struct listener **)l->box = NULL;
  if (l->on_free)
    l->on_free(l);
  if (l->tls)
    tls_config_unref(l->tls);
  free(l);
}

static void on_pause_over(struct io_op *op) {
  struct listener *l = op->data;
  if (listener_closing(l))
    maybe_free(l);
  else
    arm(l);
}

static int is_exhaustion(int err) {
  return err == IO_EMFILE || err == IO_ENFILE || err == IO_ENOBUFS ||
         err == IO_ENOMEM;
}

static void on_accept(struct io_op *op) {
  struct listener *l = op->data;
  int more = (op->flags & IO_OP_MORE) != 0;
  char msg[128];
  if (op->res == 0) {
    if (listener_closing(l) && !l->w->killing) {
      /* Accepted as the close began (a completion already on its way):
       * the client believes it is connected, so serve it here, as the
       * backlog is on close (drain_backlog), rather than reset it. */
      l->on_conn(l, op->u.accept.sock);
    } else if (io_posted(&l->pause) || listener_closing(l)) {
      io_sock_close(op->u.accept.sock);
    } else {
      l->backoff = 0;
      group_dispatch(l, op->u.accept.sock); /* here, or another worker */
      if (full(l, more))
        return;
    }
  } else if (op->res != IO_ECANCELED && !listener_closing(l)) {
    unsigned dropped;
    if (log_rate_allow(&l->warned, io_now(l->w->loop) / 1000000u, 1,
                       LISTENER_WARN_MS, &dropped)) {
      char more[64] = "";
      if (dropped)
        snprintf(more, sizeof more, " (%u more since the last line)", dropped);
      log_write(LOG_WARN, l->w->id, "accept on %s: %s%s%s", l->address,
                io_strerror(op->res, msg, sizeof msg),
                is_exhaustion(op->res) ? " (pausing accepts)" : "", more);
    }
    if (is_exhaustion(op->res)) {
      /* Back off instead of spinning on a backlog we cannot take. */
      if (more)
        io_cancel(l->w->loop, &l->aop);
      l->backoff = !l->backoff                            ? ACCEPT_PAUSE_MS
                   : l->backoff * 2 > ACCEPT_PAUSE_MAX_MS ? ACCEPT_PAUSE_MAX_MS
                                                          : l->backoff * 2;
      if (!io_posted(&l->pause) &&
          io_timeout(l->w->loop, &l->pause, l->backoff * 1000000ull,
                     on_pause_over) != 0 &&
          !more)
        arm(l); /* no timer: accepting again at once beats never */
      return;
    }
  }
  if (!more && !listener_closing(l) && !io_posted(&l->pause))
    arm(l);
}

int listener_open(struct worker *w, const char *key, struct addr *a,
                  int backlog, listener_conn_cb on_conn,
                  listener_free_cb on_free, void *ud, struct listener **out) {
  struct listener *l = calloc(1, sizeof *l);
  if (!l)
    return IO_ENOMEM;
  l->w = w;
  io_op_init(&l->aop, l);
  io_op_init(&l->pause, l);
  list_node_init(&l->node);
  l->on_conn = on_conn;
  l->on_free = on_free;
  l->ud = ud;
  int err = group_listen(l, key, a, backlog);
  if (err) {
    free(l);
    return err;
  }
  addr_format((struct sockaddr *)&a->ss, l->address, sizeof l->address);
  list_push(&w->listeners, &l->node);
  if (l->flags & LISTENER_ACCEPTS)
    arm(l); /* else the group's owner hands connections over */
  *out = l;
  return 0;
}

static void on_closed(struct io_handle *h) {
  struct listener *l = (struct listener *)h; /* h is its first member */
  l->flags |= LISTENER_HANDLE_DONE;
  maybe_free(l);
}

void listener_start(struct listener *l) { arm(l); }

/* Takes what the kernel has already accepted for us: closing the socket
 * would reset those clients, who believe they are connected.  Bounded,
 * in case they keep coming faster than we can take them. */
static void drain_backlog(struct listener *l) {
  io_sock sock;
  for (int i = 0; i < 4096 && io_accept_now(&l->h, &sock) == 0; i++)
    group_dispatch(l, sock);
}

void listener_close(struct listener *l) {
  if (listener_closing(l))
    return;
  int accepts = (l->flags & LISTENER_ACCEPTS) != 0;
  if (accepts && !io_posted(&l->pause))
    drain_backlog(l);
  l->flags |= LISTENER_CLOSING;
  if (io_posted(&l->pause))
    io_cancel(l->w->loop, &l->pause);
  if (accepts)
    io_close(&l->h, on_closed);
  else
    l->flags |= LISTENER_HANDLE_DONE; /* a hand-off member has no socket */
  /* After the close: the port is free for a member taking over. */
  group_leave(l);
  maybe_free(l);
}
