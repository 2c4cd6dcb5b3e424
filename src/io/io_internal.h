/*
 * io_internal.h -- what a backend implements and what io.c gives it.
 *
 * Each backend is one file that exports one `const struct io_backend`
 * (nginx's ngx_event_actions_t shape).  io.c does the checks common to
 * all of them (one op per side, closing handles, op bookkeeping), keeps
 * the timers and the deferred-completion queue, and calls in here only
 * for what differs.  Backends deliver every completion through
 * io__deliver(), which keeps the counts that decide when a handle may be
 * closed and the loop may stop.
 */
#ifndef HOST_IO_INTERNAL_H
#define HOST_IO_INTERNAL_H

#include "io.h"
#include "timer_heap.h"

#include <stdatomic.h>

/* io_handle.flags */
#define IO_H_OPEN 0x01    /* adopted by a loop */
#define IO_H_CLOSING 0x02 /* io_close() was called */
#define IO_H_QUEUED 0x04  /* on the loop's close queue */
#define IO_H_LISTENER 0x08
#define IO_H_SHARED 0x10 /* a listening socket others hold too */

struct io_backend {
  const char *name;
  /* Set up / tear down loop->be.  init returns 0 or IO_E*. */
  int (*init)(struct io_loop *loop);
  void (*done)(struct io_loop *loop);
  /* A socket joins the loop (associate, make non-blocking...). */
  int (*open)(struct io_loop *loop, struct io_handle *h);
  /* Start an op already checked and filled by io.c.  May not fail: an
   * error is delivered as a completion. */
  void (*post)(struct io_loop *loop, struct io_op *op);
  void (*cancel)(struct io_loop *loop, struct io_op *op);
  /* io_close() was called: cancel everything on h (and may close the
   * socket at once if the platform keeps records valid, as IOCP does). */
  void (*cancel_all)(struct io_loop *loop, struct io_handle *h);
  /* No completion is due on h any more: release the socket. */
  void (*close)(struct io_loop *loop, struct io_handle *h);
  /* Submit what was posted, wait at most timeout_ns (< 0: no limit,
   * 0: do not block), deliver completions.  Returns the number
   * delivered or a negative IO_E* on a loop failure. */
  int (*wait)(struct io_loop *loop, int64_t timeout_ns);
  /* Optional: start what was posted without waiting, deliver what
   * completed at once (io_loop_submit).  Returns the number delivered. */
  int (*submit)(struct io_loop *loop);
  /* Any thread: make a blocked wait() return. */
  void (*wake)(struct io_loop *loop);
  /* Posts IO_OP_MULTI receives as such; if 0, io.c gives them to post()
   * as one-shot receives of MULTI_CHUNK bytes and re-posts after each. */
  int recv_multishot;
};

#define MULTI_CHUNK 65536

/* A FIFO of ops linked through op->next: io.c's deferred completions, a
 * readiness backend's fresh ops, IOCP's inline successes. */
struct opq {
  struct io_op *head, *tail;
};

static inline void opq_push(struct opq *q, struct io_op *op) {
  op->next = NULL;
  if (q->tail)
    q->tail->next = op;
  else
    q->head = op;
  q->tail = op;
}

/* Takes the whole queue: the ops linked from the returned head.  What is
 * pushed while they are handled waits for the next take. */
static inline struct io_op *opq_take_all(struct opq *q) {
  struct io_op *op = q->head;
  q->head = q->tail = NULL;
  return op;
}

/* A wait's timeout in ms, rounded up (a timer must never fire early);
 * ns < 0: -1, wait for ever.  At most `cap` (the platform's largest). */
static inline long long io__to_ms(int64_t ns, long long cap) {
  if (ns < 0)
    return -1;
  long long ms = ns / 1000000 + (ns % 1000000 != 0);
  return ms > cap ? cap : ms;
}

struct io_loop {
  struct io_loop_head head; /* first: io_now() reads head.now */
  const struct io_backend *be;
  void *bs;                  /* the backend's state */
  struct timer_heap timers;  /* posted IO_OP_TIMEOUT ops */
  struct opq ready;          /* completions delivered next turn */
  struct io_handle *closing; /* handles whose last op completed */
  int live_ops;              /* posted ops not yet fully completed */
  int live_handles;          /* open handles not yet close_cb'd */
  void (*on_wake)(void *ud);
  void *wake_ud;
  atomic_int wake_pending; /* de-duplicates io_wake() */
};

/* Deliver one completion of op with result res; `more` keeps a multishot
 * op posted.  The op's callback runs inside. */
void io__deliver(struct io_loop *loop, struct io_op *op, int res, int more);
/* Queue a completion to be delivered by io.c on the next turn (for
 * backends that find a result while posting). */
void io__defer(struct io_loop *loop, struct io_op *op, int res);
/* n more bytes of a send went out: counts them and moves op's buffers
 * past them.  Returns 1 when nothing is left to send. */
int io__send_advance(struct io_op *op, size_t n);
/* A backend's wake-up arrived: run on_wake (de-duplicated). */
void io__woken(struct io_loop *loop);

/* Error mapping, one place for all backends. */
int io__from_errno(int e);
#ifdef _WIN32
int io__from_wsa(unsigned long e);  /* Winsock and Win32 error codes */
int io__from_ntstatus(long status); /* OVERLAPPED.Internal of an op */
#endif

/* Socket helpers (io_sock.c): 0 or IO_E*. */
int io__sock_new(int family, io_sock *out);
int io__sock_listen(const struct sockaddr *addr, int addrlen, int backlog,
                    unsigned flags, io_sock *out);
int io__sock_nonblock(io_sock s);
int io__sock_nodelay(io_sock s);
/* A listener stops listening at once, even while an in-flight accept
 * still holds a reference to the socket (io_uring keeps the file until
 * the cancelled request is freed): connects are refused from here on and
 * the port can be bound again. */
void io__sock_stop_listening(io_sock s);
#ifndef _WIN32
/* Makes an eventfd readable (the Linux backends' io_wake). */
void io__eventfd_kick(int fd);
#endif
int io__sock_error(void); /* the last socket error, mapped */

extern const struct io_backend io_backend_uring;
extern const struct io_backend io_backend_epoll;
extern const struct io_backend io_backend_iocp;

#endif
