/*
 * listener.c -- accepting connections on one worker (see listener.h).
 *
 * The listener is freed once its handle is closed and its back-off timer
 * has completed, the same rule as for connections.
 */
#include "listener.h"
#include "group.h"
#include "host.h"
#include "log.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_accept(struct io_op *op);

static void arm(struct listener *l) {
  if (!l->closing && io_accept(&l->h, &l->aop, on_accept) != 0)
    log_write(LOG_ERROR, l->w->id, "cannot accept on %s", l->address);
}

static void on_pause_over(struct io_op *op) {
  struct listener *l = op->data;
  if (l->closing) {
    if (l->handle_done)
      listener_close(l); /* finishes the free */
    return;
  }
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
    if (io_posted(&l->pause) || l->closing) {
      io_sock_close(op->u.accept.sock);
    } else {
      group_dispatch(l, op->u.accept.sock); /* here, or another worker */
    }
  } else if (op->res != IO_ECANCELED && !l->closing) {
    unsigned dropped;
    if (log_rate_allow(&l->warned, io_now(l->w->loop) / 1000000u, 1,
                       LISTENER_WARN_MS, &dropped)) {
      char more[64] = "";
      if (dropped)
        snprintf(more, sizeof more, " (%u more since the last line)",
                 dropped);
      log_write(LOG_WARN, l->w->id, "accept on %s: %s%s%s", l->address,
                io_strerror(op->res, msg, sizeof msg),
                is_exhaustion(op->res) ? " (pausing accepts)" : "", more);
    }
    if (is_exhaustion(op->res)) {
      /* Back off instead of spinning on a backlog we cannot take. */
      if (more)
        io_cancel(l->w->loop, &l->aop);
      if (!io_posted(&l->pause) &&
          io_timeout(l->w->loop, &l->pause, ACCEPT_PAUSE_MS * 1000000ull,
                     on_pause_over) != 0 && !more)
        arm(l); /* no timer: accepting again at once beats never */
      return;
    }
  }
  if (!more && !l->closing && !io_posted(&l->pause))
    arm(l);
}

int listener_open(struct worker *w, const char *key, struct addr *a,
                  int backlog, listener_conn_cb on_conn,
                  listener_free_cb on_free, void *ud, struct listener **out) {
  struct listener *l = calloc(1, sizeof *l);
  if (!l)
    return IO_ENOMEM;
  l->w = w;
  l->aop.data = l->pause.data = l;
  l->on_conn = on_conn;
  l->on_free = on_free;
  l->ud = ud;
  int err = group_listen(l, key, a, backlog);
  if (err) {
    free(l);
    return err;
  }
  addr_format((struct sockaddr *)&a->ss, l->address, sizeof l->address);
  l->next = w->listeners;
  if (w->listeners)
    w->listeners->prev = l;
  w->listeners = l;
  if (l->accepts)
    arm(l); /* else the group's owner hands connections over */
  *out = l;
  return 0;
}

static void on_closed(struct io_handle *h) {
  struct listener *l = (struct listener *)h; /* h is its first member */
  l->handle_done = 1;
  if (!io_posted(&l->pause))
    listener_close(l);
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
  struct worker *w = l->w;
  if (!l->closing) {
    if (l->accepts && !io_posted(&l->pause))
      drain_backlog(l);
    l->closing = 1;
    if (io_posted(&l->pause))
      io_cancel(w->loop, &l->pause);
    if (l->accepts)
      io_close(&l->h, on_closed);
    else
      l->handle_done = 1; /* a hand-off member has no socket */
    /* After the close: the port is free for a member taking over. */
    group_leave(l);
  }
  if (!l->handle_done || io_posted(&l->pause))
    return; /* called again from a completion that was not the last */
  if (l->prev)
    l->prev->next = l->next;
  else
    w->listeners = l->next;
  if (l->next)
    l->next->prev = l->prev;
  if (l->box)
    *(struct listener **)l->box = NULL;
  if (l->on_free)
    l->on_free(l);
  free(l);
}
