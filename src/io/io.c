/*
 * io.c -- the backend-independent half of the completion API.
 *
 * This file plays libuv's uv-common role: it picks the backend at run
 * time (io_uring, then epoll, as nginx picks its event module), checks
 * every post against the contract in io.h before the backend sees it,
 * keeps the per-loop timer heap (timeouts are ops like any other, but no
 * kernel is involved), owns the queue of completions deferred to the next
 * turn, and finishes closing handles once their last completion has been
 * delivered.  Errors from errno and Winsock are mapped in io_err.c.
 */
#include "io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <time.h>
#endif

/* ---- backends ------------------------------------------------------- */

static const struct io_backend *const backends[] = {
#ifdef HOST_HAVE_URING
    &io_backend_uring,
#endif
#ifdef HOST_HAVE_EPOLL
    &io_backend_epoll,
#endif
#ifdef _WIN32
    &io_backend_iocp,
#endif
    NULL};

const char *io_backends_compiled(void) {
  static char list[64];
  if (!list[0]) {
    for (int i = 0; backends[i]; i++) {
      if (i)
        strcat(list, ", ");
      strcat(list, backends[i]->name);
    }
  }
  return list;
}

const char *io_backend_name(const struct io_backend *be) { return be->name; }

/* A backend is usable if a loop can be made on it: that is the probe.
 * io_uring fails here under seccomp (EPERM/ENOSYS), with
 * kernel.io_uring_disabled, or on kernels missing what we use. */
static int probe(const struct io_backend *be) {
  struct io_loop *loop;
  int err = io_loop_open(&loop, be, NULL, NULL);
  if (err == 0)
    io_loop_close(loop);
  return err;
}

const struct io_backend *io_backend_pick(const char *name, char *why,
                                         size_t whysize, int *err) {
  int automatic = !name || strcmp(name, "auto") == 0;
  char msg[128];
  if (whysize)
    why[0] = '\0';
  for (int i = 0; backends[i]; i++) {
    const struct io_backend *be = backends[i];
    if (!automatic && strcmp(name, be->name) != 0)
      continue;
    int e = probe(be);
    if (e == 0)
      return be;
    if (!automatic) {
      *err = e;
      return NULL;
    }
    if (whysize && !why[0])
      snprintf(why, whysize, "%s unavailable (%s)", be->name,
               io_strerror(e, msg, sizeof msg));
  }
  *err = automatic ? IO_ENOSYS : IO_EINVAL;
  return NULL;
}

/* ---- clock ---------------------------------------------------------- */

uint64_t io_clock(void) {
#ifdef _WIN32
  static LARGE_INTEGER freq;
  LARGE_INTEGER t;
  if (!freq.QuadPart)
    QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&t);
  /* Split to keep the multiplication from overflowing. */
  uint64_t s = (uint64_t)t.QuadPart / (uint64_t)freq.QuadPart;
  uint64_t r = (uint64_t)t.QuadPart % (uint64_t)freq.QuadPart;
  return s * 1000000000u + r * 1000000000u / (uint64_t)freq.QuadPart;
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

int io_loop_timers(const struct io_loop *loop) { return (int)loop->timers.n; }

/* ---- loops ---------------------------------------------------------- */

int io_loop_open(struct io_loop **out, const struct io_backend *be,
                 void (*on_wake)(void *), void *ud) {
  struct io_loop *loop = calloc(1, sizeof *loop);
  if (!loop)
    return IO_ENOMEM;
  loop->be = be;
  loop->on_wake = on_wake;
  loop->wake_ud = ud;
  atomic_init(&loop->wake_pending, 0);
  timer_heap_init(&loop->timers);
  loop->head.now = io_clock();
  int err = be->init(loop);
  if (err) {
    timer_heap_free(&loop->timers);
    free(loop);
    return err;
  }
  *out = loop;
  return 0;
}

int io_loop_close(struct io_loop *loop) {
  if (loop->live_ops || loop->live_handles)
    return IO_EBUSY;
  loop->be->done(loop);
  timer_heap_free(&loop->timers);
  free(loop);
  return 0;
}

const char *io_loop_backend(const struct io_loop *loop) {
  return loop->be->name;
}

int io_loop_alive(const struct io_loop *loop) {
  int closing = 0;
  for (struct io_handle *h = loop->closing; h; h = h->next_closing)
    closing++;
  return loop->live_ops + closing;
}

void io_wake(struct io_loop *loop) {
  if (atomic_exchange(&loop->wake_pending, 1) == 0)
    loop->be->wake(loop);
}

void io__woken(struct io_loop *loop) {
  /* Clear first: a wake that races with on_wake() then wakes us again
   * instead of being lost. */
  atomic_store(&loop->wake_pending, 0);
  if (loop->on_wake)
    loop->on_wake(loop->wake_ud);
}

static void queue_close(struct io_loop *loop, struct io_handle *h) {
  if (h->flags & IO_H_QUEUED)
    return;
  h->flags |= IO_H_QUEUED;
  h->next_closing = loop->closing;
  loop->closing = h;
}

/* A multishot receive on a backend without one: a one-shot receive that
 * brought data becomes a chunk with IO_OP_MORE, and is posted again; one
 * that a cancel reached ends with IO_ECANCELED. */
static void emulate_more(struct io_loop *loop, struct io_op *op, int res) {
  struct io_handle *h = op->h;
  op->res = res;
  op->flags |= IO_OP_MORE;
  op->cb(op);
  if ((op->flags & IO_OP_CANCEL) || (h->flags & IO_H_CLOSING)) {
    io__defer(loop, op, IO_ECANCELED);
    return;
  }
  op->bstate = 0;
  op->u.recv.data = NULL;
  op->u.recv.max = MULTI_CHUNK;
  loop->be->post(loop, op);
}

void io__deliver(struct io_loop *loop, struct io_op *op, int res, int more) {
  struct io_handle *h = op->h;
  if (!more && res > 0 && (op->flags & IO_OP_MULTI) &&
      !loop->be->recv_multishot) {
    emulate_more(loop, op, res);
    return;
  }
  /* A cancelled send that stopped with bytes left is cancelled, not a
   * short success (io.h, rule 7); u.send.total keeps what went out. */
  if (op->type == IO_OP_SEND && res >= 0 && op->u.send.nbufs > 0 &&
      (op->flags & IO_OP_CANCEL))
    res = IO_ECANCELED;
  /* No bytes, no buffer (io.h, rule 7), whatever a backend left there. */
  if (op->type == IO_OP_RECV && res <= 0)
    op->u.recv.data = NULL;
  op->res = res;
  if (more) {
    op->flags |= IO_OP_MORE;
  } else {
    op->flags &=
        (uint8_t) ~(IO_OP_POSTED | IO_OP_MORE | IO_OP_MULTI | IO_OP_CANCEL);
    loop->live_ops--;
    if (h) {
      h->pending--;
      if (h->rop == op)
        h->rop = NULL;
      else if (h->wop == op)
        h->wop = NULL;
    }
  }
  op->cb(op); /* may reuse or free op; h lives until its close_cb */
  if (h && (h->flags & IO_H_CLOSING) && h->pending == 0)
    queue_close(loop, h);
}

int io__send_advance(struct io_op *op, size_t n) {
  op->u.send.total += (uint32_t)n;
  while (op->u.send.nbufs > 0 && n >= op->u.send.bufs[0].len) {
    n -= op->u.send.bufs[0].len;
    op->u.send.bufs++;
    op->u.send.nbufs--;
  }
  if (op->u.send.nbufs == 0)
    return 1;
  op->u.send.bufs[0].base += n;
  op->u.send.bufs[0].len -= n;
  return 0;
}

void io__defer(struct io_loop *loop, struct io_op *op, int res) {
  op->res = res;
  opq_push(&loop->ready, op);
}

/* Deliver what was deferred before this call; what the callbacks defer
 * now waits for the next turn, so a callback cannot starve the loop. */
static void run_ready(struct io_loop *loop) {
  struct io_op *op = opq_take_all(&loop->ready);
  while (op) {
    struct io_op *next = op->next;
    io__deliver(loop, op, op->res, 0);
    op = next;
  }
}

static void run_timers(struct io_loop *loop) {
  struct io_op *op;
  while ((op = timer_heap_min(&loop->timers)) &&
         op->u.timeout.due <= loop->head.now) {
    timer_heap_remove(&loop->timers, op);
    io__deliver(loop, op, 0, 0);
  }
}

static void run_closing(struct io_loop *loop) {
  while (loop->closing) {
    struct io_handle *h = loop->closing;
    loop->closing = h->next_closing;
    loop->be->close(loop, h);
    h->sock = IO_NOSOCK;
    h->flags = 0;
    loop->live_handles--;
    if (h->close_cb)
      h->close_cb(h); /* may free h */
  }
}

int io_loop_submit(struct io_loop *loop) {
  return loop->be->submit ? loop->be->submit(loop) : 0;
}

int io_loop_run(struct io_loop *loop, int nowait) {
  int64_t timeout = -1;
  loop->head.now = io_clock();
  if (nowait || loop->ready.head || loop->closing) {
    timeout = 0;
  } else {
    struct io_op *t = timer_heap_min(&loop->timers);
    if (t)
      timeout = t->u.timeout.due > loop->head.now
                    ? (int64_t)(t->u.timeout.due - loop->head.now)
                    : 0;
  }
  loop->be->wait(loop, timeout);
  loop->head.now = io_clock();
  run_timers(loop);
  run_ready(loop);
  run_closing(loop);
  return io_loop_alive(loop);
}

/* ---- handles -------------------------------------------------------- */

static void handle_init(struct io_loop *loop, struct io_handle *h,
                        io_sock sock) {
  memset(h, 0, sizeof *h);
  h->sock = sock;
  h->loop = loop;
  h->flags = IO_H_OPEN;
  loop->live_handles++;
}

int io_open(struct io_loop *loop, struct io_handle *h, io_sock sock) {
  handle_init(loop, h, sock);
  int err = loop->be->open(loop, h);
#ifdef _WIN32
  if (!err) /* best effort; on Linux it came from the listener (io_sock.c) */
    io__sock_nodelay(sock);
#endif
  if (err) {
    io_sock_close(sock);
    h->sock = IO_NOSOCK;
    h->flags = 0;
    loop->live_handles--;
  }
  return err;
}

int io_listen(struct io_loop *loop, struct io_handle *h,
              const struct sockaddr *addr, int addrlen, int backlog,
              unsigned flags) {
  io_sock s = IO_NOSOCK;
  int err = io__sock_listen(addr, addrlen, backlog, flags, &s);
  if (err)
    return err;
  err = io_open(loop, h, s);
  if (!err)
    h->flags |= IO_H_LISTENER;
  return err;
}

int io_listen_shared(struct io_loop *loop, struct io_handle *h, io_sock sock) {
  int err = io__sock_nonblock(sock);
  if (!err) /* for what it accepts to inherit (io_sock.c); best effort */
    io__sock_nodelay(sock);
  if (err) {
    io_sock_close(sock);
    return err;
  }
  err = io_open(loop, h, sock);
  if (!err)
    h->flags |= IO_H_LISTENER | IO_H_SHARED;
  return err;
}

int io_closing(const struct io_handle *h) {
  return (h->flags & IO_H_CLOSING) != 0;
}

void io_close(struct io_handle *h, io_close_cb cb) {
  struct io_loop *loop = h->loop;
  if (!(h->flags & IO_H_OPEN) || (h->flags & IO_H_CLOSING))
    return;
  h->flags |= IO_H_CLOSING;
  h->close_cb = cb;
  if ((h->flags & (IO_H_LISTENER | IO_H_SHARED)) == IO_H_LISTENER)
    io__sock_stop_listening(h->sock); /* never a socket others listen on */
  /* Their cancel is asked for now: a backend must not continue them (a
   * short send re-posted after the cancel would hold the close), and a
   * later io_cancel() on them is a no-op. */
  if (h->rop)
    h->rop->flags |= IO_OP_CANCEL;
  if (h->wop)
    h->wop->flags |= IO_OP_CANCEL;
  loop->be->cancel_all(loop, h);
  if (h->pending == 0)
    queue_close(loop, h);
}

/* ---- operations ----------------------------------------------------- */

static int check(struct io_handle *h, struct io_op *op, int sendside) {
  if (!(h->flags & IO_H_OPEN))
    return IO_EINVAL;
  if (h->flags & IO_H_CLOSING)
    return IO_ECANCELED;
  if ((op->flags & IO_OP_POSTED) || (sendside ? h->wop : h->rop))
    return IO_EBUSY;
  return 0;
}

static void start(struct io_loop *loop, struct io_handle *h, struct io_op *op,
                  int type, io_op_cb cb) {
  op->next = NULL;
  op->h = h;
  op->cb = cb;
  op->res = 0;
  op->type = (uint8_t)type;
  op->flags = IO_OP_POSTED;
  op->bstate = 0;
  loop->live_ops++;
  if (h) {
    h->pending++;
    if (type == IO_OP_SEND || type == IO_OP_CONNECT)
      h->wop = op;
    else
      h->rop = op;
  }
}

int io_accept(struct io_handle *h, struct io_op *op, io_op_cb cb) {
  int err = check(h, op, 0);
  if (err)
    return err;
  if (!(h->flags & IO_H_LISTENER))
    return IO_EINVAL;
  start(h->loop, h, op, IO_OP_ACCEPT, cb);
  op->u.accept.sock = IO_NOSOCK;
  h->loop->be->post(h->loop, op);
  return 0;
}

int io_recv(struct io_handle *h, struct io_op *op, uint32_t max, io_op_cb cb) {
  int err = check(h, op, 0);
  if (err)
    return err;
  if (max == 0 || (h->flags & IO_H_LISTENER))
    return IO_EINVAL;
  start(h->loop, h, op, IO_OP_RECV, cb);
  op->u.recv.data = NULL;
  op->u.recv.max = max;
  op->u.recv.bid = 0;
  h->loop->be->post(h->loop, op);
  return 0;
}

int io_recv_multi(struct io_handle *h, struct io_op *op, io_op_cb cb) {
  int err = check(h, op, 0);
  if (err)
    return err;
  if (h->flags & IO_H_LISTENER)
    return IO_EINVAL;
  start(h->loop, h, op, IO_OP_RECV, cb);
  op->flags |= IO_OP_MULTI;
  op->u.recv.data = NULL;
  op->u.recv.max = MULTI_CHUNK;
  op->u.recv.bid = 0;
  h->loop->be->post(h->loop, op);
  return 0;
}

int io_send(struct io_handle *h, struct io_op *op, struct io_buf *bufs,
            int nbufs, io_op_cb cb) {
  int err = check(h, op, 1);
  if (err)
    return err;
  if (nbufs < 1 || nbufs > IO_SEND_MAXBUFS || (h->flags & IO_H_LISTENER))
    return IO_EINVAL;
  size_t total = 0;
  for (int i = 0; i < nbufs; i++) {
    if (bufs[i].len > IO_SEND_MAXBYTES - total)
      return IO_EINVAL;
    total += bufs[i].len;
  }
  start(h->loop, h, op, IO_OP_SEND, cb);
  op->u.send.bufs = bufs;
  op->u.send.nbufs = (uint32_t)nbufs;
  op->u.send.total = 0;
  h->loop->be->post(h->loop, op);
  return 0;
}

int io_connect(struct io_loop *loop, struct io_handle *h, struct io_op *op,
               const struct sockaddr *addr, int addrlen, io_op_cb cb) {
  io_sock s = IO_NOSOCK;
  int err = io__sock_new(addr->sa_family, &s);
  handle_init(loop, h, s);
  if (!err)
    io__sock_nodelay(s);
  if (!err)
    err = loop->be->open(loop, h);
  start(loop, h, op, IO_OP_CONNECT, cb);
  op->u.connect.addr = addr;
  op->u.connect.addrlen = (uint32_t)addrlen;
  if (err)
    io__defer(loop, op, err); /* an OS error: delivered, not returned */
  else
    loop->be->post(loop, op);
  return 0;
}

void io_op_init(struct io_op *op, void *data) {
  /* What check() reads before a post; the post fills the rest (a pooled
   * record is initialised per use, so this stays cheap). */
  op->flags = 0;
  op->data = data;
}

int io_timeout_at(struct io_loop *loop, struct io_op *op, uint64_t due,
                  io_op_cb cb) {
  if (op->flags & IO_OP_POSTED)
    return IO_EBUSY;
  op->u.timeout.due = due;
  if (timer_heap_push(&loop->timers, op) != 0)
    return IO_ENOMEM;
  start(loop, NULL, op, IO_OP_TIMEOUT, cb);
  return 0;
}

int io_timeout(struct io_loop *loop, struct io_op *op, uint64_t ns,
               io_op_cb cb) {
  /* From the clock, not the turn's cached time: a timer posted after a
   * long callback must not fire early. */
  return io_timeout_at(loop, op, io_clock() + ns, cb);
}

void io_cancel(struct io_loop *loop, struct io_op *op) {
  /* IO_OP_CANCEL marks a cancel already asked for: a second one must not
   * deliver a second completion. */
  if (!(op->flags & IO_OP_POSTED) || (op->flags & IO_OP_CANCEL))
    return;
  op->flags |= IO_OP_CANCEL;
  if (op->type == IO_OP_TIMEOUT) {
    timer_heap_remove(&loop->timers, op);
    io__defer(loop, op, IO_ECANCELED);
  } else {
    loop->be->cancel(loop, op);
  }
}
