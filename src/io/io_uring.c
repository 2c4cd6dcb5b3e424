/*
 * io_uring.c -- the Linux completion backend.
 *
 * One ring per loop, set up SINGLE_ISSUER|DEFER_TASKRUN where the kernel
 * allows it (only the loop's thread submits and reaps, and completions
 * are processed when we ask, in batches).  Posts only fill SQEs; wait()
 * submits them all with one io_uring_enter, which also waits.  CQEs are
 * copied out in batches and the CQ advanced before any callback runs, so
 * callbacks may post freely.
 *
 * Receives take their buffer from a provided-buffer ring at the moment
 * data arrives (IOSQE_BUFFER_SELECT), so an idle connection pins no
 * memory; the buffer goes back to the ring as soon as the callback has
 * copied the bytes out.  A recv that finds the ring empty (-ENOBUFS) is
 * parked and re-posted next turn, after this turn's buffers are back.
 *
 * Accept is multishot, and so is io_recv_multi's receive.  Closing cancels
 * the handle's ops and closes the socket only when the last completion is
 * in: close() alone would not end a pending recv on io_uring (see the io
 * brief).  Wake-ups are an eventfd with a read kept posted on the ring.
 *
 * Sends that wait for room.  Left to itself, the kernel polls a send that
 * found the socket full and retries it when the poll fires; but its poll
 * also fires on the peer's hang-up, so once the peer has half-closed, a
 * waiting send is retried at once, again and again, until the kernel
 * gives up polling it (after 128 tries) and hands it to a worker thread
 * that blocks in sendmsg.  A peer that half-closes and stops reading
 * would so cost a kernel thread per connection.  Our sends therefore say
 * MSG_DONTWAIT (the kernel then neither polls nor hands them off): one
 * that finds no room comes back with EAGAIN or a short count, and we
 * post a poll for POLLOUT of our own (POLL_TAG; it does not fire on the
 * hang-up), then the rest of the send when it fires: what epoll does.
 *
 * Cancels.  A cancel finds nothing (-ENOENT) when it meets its op between
 * two of its steps (a send and its poll); so each cancel has a completion
 * of its own, and is posted again, at the step the op is in then, while
 * it finds nothing and the op has not ended; an op's final completion is
 * held back until its cancel is in, so that no cancel completion ever
 * names an op already handed back to its owner.
 */
#include "io_internal.h"

#include <errno.h>
#include <poll.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#define SQ_ENTRIES 1024
#define CQ_ENTRIES 8192 /* reaped every turn; NODROP covers bursts */
#define BUF_GROUP 1
#define BUF_COUNT 128 /* power of two */
#define BUF_SIZE 16384
#define REAP_BATCH 128

/* user_data of a cancel: its op's address with the low bit set (an op is
 * pointer-aligned, so the bit is free). */
#define CANCEL_TAG 1u
/* user_data of a send's poll for room: the op's address with bit 1 set. */
#define POLL_TAG 2u
#define OP_TAGS (CANCEL_TAG | POLL_TAG)
/* user_data of a socket's close: no op waits for it (see uring_close). */
#define CLOSE_DATA 0u
_Static_assert(_Alignof(struct io_op) >= 4, "an op's low 2 bits are tags");

/* io_op.bstate: the backend's own. */
#define UOP_CANCELLING 0x01u /* a cancel of this op awaits its completion */
#define UOP_HELD 0x02u       /* final completion in op->res, held for it */
#define UOP_RING 0x04u       /* given to the ring (not deferred by io.c) */
#define UOP_POLLING 0x08u    /* a send waiting in its poll for room */

struct uring {
  struct io_uring ring;
  struct io_uring_buf_ring *br;   /* provided-buffer ring */
  char *bufs;                     /* BUF_COUNT * BUF_SIZE bytes */
  unsigned returned;              /* buffers added since the last advance */
  struct io_op *nobufs;           /* recvs parked on -ENOBUFS */
  int efd;                        /* eventfd for io_wake */
  uint64_t efd_value;             /* the wake read's buffer */
  struct io_op wake_op;           /* the read kept posted on efd */
  int no_multishot;               /* the kernel refused multishot recv */
  unsigned nmsgs;                 /* msghdrs used since the last submit */
  struct msghdr msgs[SQ_ENTRIES]; /* must live until io_uring_enter */
};

/* Never NULL.  With the SQ full, what is queued is submitted first.  The
 * kernel copies what each SQE points to during submission
 * (IORING_FEAT_SUBMIT_STABLE), so the msghdrs can be reused from there.
 * A submit can fail only while the kernel holds completions it could not
 * post (-EBUSY, a CQ overflow: with CQ_ENTRIES reaped every turn that
 * cannot happen) and a few tries later the SQ must have room: else an
 * invariant is broken, and going on would lose an operation. */
static struct io_uring_sqe *sqe_get(struct uring *u) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
  for (int tries = 0; !sqe && tries < 8; tries++) {
    int r = io_uring_submit(&u->ring);
    if (r >= 0)
      u->nmsgs = 0;
    sqe = io_uring_get_sqe(&u->ring);
  }
  if (!sqe) {
    fprintf(stderr, "io_uring: no submission queue entry after 8 submits\n");
    abort();
  }
  return sqe;
}

static void post_wake_read(struct uring *u) {
  struct io_uring_sqe *sqe = sqe_get(u);
  io_uring_prep_read(sqe, u->efd, &u->efd_value, sizeof u->efd_value, 0);
  io_uring_sqe_set_data(sqe, &u->wake_op);
}

static int setup_ring(struct uring *u) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL |
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  p.cq_entries = CQ_ENTRIES;
  int r = io_uring_queue_init_params(SQ_ENTRIES, &u->ring, &p);
  if (r == 0)
    /* Enters name the ring by a registered index, not an fd to look up:
     * safe because DEFER_TASKRUN already ties the ring to this thread.
     * If it fails, enters use the fd as before. */
    (void)io_uring_register_ring_fd(&u->ring);
  if (r == -EINVAL) {
    /* Kernels before 6.1 lack DEFER_TASKRUN; the rest still works. */
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = CQ_ENTRIES;
    r = io_uring_queue_init_params(SQ_ENTRIES, &u->ring, &p);
  }
  if (r < 0)
    return io__from_errno(-r);
  /* We rely on: SQE data copied at submit, CQEs never dropped, and the
   * timeout argument of io_uring_enter (one syscall per turn). */
  unsigned need =
      IORING_FEAT_SUBMIT_STABLE | IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG;
  if ((p.features & need) != need) {
    io_uring_queue_exit(&u->ring);
    return IO_ENOSYS;
  }
  return 0;
}

static int setup_bufs(struct uring *u) {
  size_t ringsize = BUF_COUNT * sizeof(struct io_uring_buf);
  void *mem = mmap(NULL, ringsize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    return io__from_errno(errno);
  u->br = mem;
  /* Faulted in now: the kernel hands the ring's buffers out in turn, so
   * under any load every one of them is touched soon anyway; better a
   * fixed 2 MiB per worker from the start than RSS that creeps up with
   * the first thousand messages and reads as a cost per connection. */
  void *bufs = mmap(NULL, (size_t)BUF_COUNT * BUF_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (bufs == MAP_FAILED)
    return IO_ENOMEM;
  u->bufs = bufs;
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uint64_t)(uintptr_t)u->br;
  reg.ring_entries = BUF_COUNT;
  reg.bgid = BUF_GROUP;
  /* Fails with EINVAL before 5.19: no provided-buffer rings, no
   * multishot accept either, so the loop falls back to epoll. */
  int r = io_uring_register_buf_ring(&u->ring, &reg, 0);
  if (r < 0)
    return io__from_errno(-r);
  io_uring_buf_ring_init(u->br);
  for (unsigned i = 0; i < BUF_COUNT; i++)
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * BUF_SIZE, BUF_SIZE,
                          (unsigned short)i, BUF_COUNT - 1, (int)i);
  io_uring_buf_ring_advance(u->br, BUF_COUNT);
  return 0;
}

/* The one teardown, for a failed init and for done.  The ring goes
 * first: exiting it cancels the wake read still posted, whose buffer
 * lives in u, and unregisters the buffer ring before it is unmapped. */
static void free_state(struct uring *u, int ring_up) {
  if (ring_up)
    io_uring_queue_exit(&u->ring);
  if (u->br)
    munmap(u->br, BUF_COUNT * sizeof(struct io_uring_buf));
  if (u->bufs)
    munmap(u->bufs, (size_t)BUF_COUNT * BUF_SIZE);
  if (u->efd >= 0)
    close(u->efd);
  free(u);
}

static int uring_init(struct io_loop *loop) {
  struct uring *u = calloc(1, sizeof *u);
  if (!u)
    return IO_ENOMEM;
  u->efd = -1;
  int err = setup_ring(u);
  if (err) {
    free_state(u, 0);
    return err;
  }
  err = setup_bufs(u);
  if (!err) {
    u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (u->efd < 0)
      err = io__from_errno(errno);
  }
  if (err) {
    free_state(u, 1);
    return err;
  }
  u->wake_op.type = IO_OP_BACKEND;
  post_wake_read(u);
  loop->bs = u;
  return 0;
}

/* Closes still in the SQ go in first: exiting the ring drops what was
 * never submitted, and those sockets would stay open. */
static void uring_done(struct io_loop *loop) {
  struct uring *u = loop->bs;
  io_uring_submit(&u->ring);
  free_state(u, 1);
}

static int uring_open(struct io_loop *loop, struct io_handle *h) {
  (void)loop;
  (void)h;
  return 0; /* nothing to associate: every SQE names its fd */
}

static void post_recv(struct uring *u, struct io_op *op) {
  struct io_uring_sqe *sqe = sqe_get(u);
  if ((op->flags & IO_OP_MULTI) && !u->no_multishot) {
    /* One SQE for the life of the connection: no re-arm, no new poll
     * registration per message. */
    io_uring_prep_recv_multishot(sqe, op->h->sock, NULL, 0, 0);
  } else {
    unsigned len = op->u.recv.max < BUF_SIZE ? op->u.recv.max : BUF_SIZE;
    io_uring_prep_recv(sqe, op->h->sock, NULL, len, 0);
  }
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = BUF_GROUP;
  io_uring_sqe_set_data(sqe, op);
}

static void post_send(struct uring *u, struct io_op *op) {
  struct io_uring_sqe *sqe = sqe_get(u);
  /* MSG_DONTWAIT: see the top (a short send is continued after a poll).
   * io_uring sends never raise SIGPIPE, MSG_NOSIGNAL says so anyway. */
  int flags = MSG_NOSIGNAL | MSG_DONTWAIT;
  if (op->u.send.nbufs == 1) {
    io_uring_prep_send(sqe, op->h->sock, op->u.send.bufs[0].base,
                       op->u.send.bufs[0].len, flags);
  } else {
    if (u->nmsgs == SQ_ENTRIES) {
      io_uring_submit(&u->ring);
      u->nmsgs = 0;
    }
    struct msghdr *m = &u->msgs[u->nmsgs++];
    memset(m, 0, sizeof *m);
    m->msg_iov = (struct iovec *)op->u.send.bufs;
    m->msg_iovlen = op->u.send.nbufs;
    io_uring_prep_sendmsg(sqe, op->h->sock, m, (unsigned)flags);
  }
  io_uring_sqe_set_data(sqe, op);
}

static void uring_post(struct io_loop *loop, struct io_op *op) {
  struct uring *u = loop->bs;
  struct io_uring_sqe *sqe;
  op->bstate |= UOP_RING;
  switch (op->type) {
  case IO_OP_ACCEPT:
    sqe = sqe_get(u);
    io_uring_prep_multishot_accept(sqe, op->h->sock, NULL, NULL,
                                   SOCK_CLOEXEC | SOCK_NONBLOCK);
    io_uring_sqe_set_data(sqe, op);
    break;
  case IO_OP_RECV: post_recv(u, op); break;
  case IO_OP_SEND: post_send(u, op); break;
  case IO_OP_CONNECT:
    sqe = sqe_get(u);
    io_uring_prep_connect(sqe, op->h->sock, op->u.connect.addr,
                          op->u.connect.addrlen);
    io_uring_sqe_set_data(sqe, op);
    break;
  default: abort(); /* io.c never posts anything else here */
  }
}

/* Removes op from the ENOBUFS park; 1 if it was there. */
static int unpark(struct uring *u, struct io_op *op) {
  for (struct io_op **p = &u->nobufs; *p; p = &(*p)->next) {
    if (*p == op) {
      *p = op->next;
      return 1;
    }
  }
  return 0;
}

/* Waits for room to send the rest of op (see the top). */
static void post_poll(struct uring *u, struct io_op *op) {
  struct io_uring_sqe *sqe = sqe_get(u);
  io_uring_prep_poll_add(sqe, op->h->sock, POLLOUT);
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | POLL_TAG);
  op->bstate |= UOP_POLLING;
}

/* Asks the kernel to end op early, at the step it is in; the answer comes
 * to cancelled(). */
static void post_cancel(struct uring *u, struct io_op *op) {
  struct io_uring_sqe *sqe = sqe_get(u);
  uint64_t target = (uint64_t)(uintptr_t)op;
  if (op->bstate & UOP_POLLING)
    target |= POLL_TAG;
  io_uring_prep_cancel64(sqe, target, 0);
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | CANCEL_TAG);
  op->bstate |= UOP_CANCELLING; /* one at a time: stop(), cancelled() */
}

/* Stops op wherever it is: parked here (completed next turn), in the ring
 * (a cancel, unless one is on its way already), or deferred by io.c
 * (nothing to stop: it completes next turn anyway). */
static void stop(struct io_loop *loop, struct uring *u, struct io_op *op) {
  if (unpark(u, op))
    io__defer(loop, op, IO_ECANCELED);
  else if ((op->bstate & UOP_RING) && !(op->bstate & UOP_CANCELLING))
    post_cancel(u, op);
}

static void uring_cancel(struct io_loop *loop, struct io_op *op) {
  stop(loop, loop->bs, op);
}

/* A handle has at most one op per side (io.h, rule 5): cancelling those
 * two is cancelling all, and each cancel is followed up (cancelled()),
 * which a cancel by fd is not. */
static void uring_cancel_all(struct io_loop *loop, struct io_handle *h) {
  if (h->rop)
    stop(loop, loop->bs, h->rop);
  if (h->wop)
    stop(loop, loop->bs, h->wop);
}

/* A connection's socket is closed by the ring, with the next enter, not
 * by a close() of its own: the kernel's work is the same either way, but
 * a system call of its own costs about 1 us on the VMs we measure on
 * (bench/README.md), once per connection.
 * The handle's ops have all ended (io.c closes only then), so nothing in
 * the ring still names the socket; a failed close has nothing to tell
 * (close(2) would not have been checked either), so only a failure posts
 * a completion, and complete() drops it.  Listeners close at once: a
 * caller may bind their port again before the next turn. */
static void uring_close(struct io_loop *loop, struct io_handle *h) {
  if (h->sock == IO_NOSOCK) /* closed already */
    return;
  if (h->flags & IO_H_LISTENER) {
    io_sock_close(h->sock);
    return;
  }
  struct io_uring_sqe *sqe = sqe_get(loop->bs);
  io_uring_prep_close(sqe, h->sock);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(sqe, CLOSE_DATA);
}

static void give_back(struct uring *u, unsigned bid) {
  io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE,
                        (unsigned short)bid, BUF_COUNT - 1, (int)u->returned);
  u->returned++;
}

/* Delivers op's final completion; a receive's buffer goes back to the ring
 * once the callback has copied what it wanted. */
static void deliver(struct io_loop *loop, struct uring *u, struct io_op *op,
                    int res) {
  int lent = op->type == IO_OP_RECV && res > 0 && op->u.recv.data != NULL;
  unsigned bid = lent ? op->u.recv.bid : 0; /* the callback may re-post */
  io__deliver(loop, op, res, 0);
  if (lent)
    give_back(u, bid);
}

/* op's final completion: delivered now, or held until its cancel is in
 * (a cancel's completion names op, so op must still be ours then). */
static void finish(struct io_loop *loop, struct uring *u, struct io_op *op,
                   int res) {
  if (op->bstate & UOP_CANCELLING) {
    op->res = res;
    op->bstate |= UOP_HELD;
    return;
  }
  deliver(loop, u, op, res);
}

/* A cancel of op completed with res.  It releases op's held completion;
 * if op has not ended and the cancel found nothing, op is in transit
 * inside the kernel (between a poll and its retry): ask again. */
static void cancelled(struct io_loop *loop, struct uring *u, struct io_op *op,
                      int res) {
  op->bstate &= (uint16_t)~UOP_CANCELLING;
  if (op->bstate & UOP_HELD) {
    op->bstate &= (uint16_t)~UOP_HELD;
    deliver(loop, u, op, op->res);
  } else if (res == -ENOENT) {
    post_cancel(u, op);
  }
}

/* A multishot receive's chunk: delivered with IO_OP_MORE.  If the kernel
 * ended the multishot (no IORING_CQE_F_MORE: a one-shot fallback, or the
 * kernel's own reasons), it is posted again, unless a cancel was asked:
 * then this is where it ends. */
static void complete_chunk(struct io_loop *loop, struct uring *u,
                           struct io_op *op, int res, unsigned flags) {
  unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
  op->u.recv.data = u->bufs + (size_t)bid * BUF_SIZE;
  io__deliver(loop, op, res, 1);
  give_back(u, bid);
  if (flags & IORING_CQE_F_MORE)
    return;
  if (op->flags & IO_OP_CANCEL)
    finish(loop, u, op, IO_ECANCELED);
  else
    post_recv(u, op);
}

static void complete_recv(struct io_loop *loop, struct uring *u,
                          struct io_op *op, int res, unsigned flags) {
  if ((op->flags & IO_OP_MULTI) && res == -EINVAL && !u->no_multishot) {
    u->no_multishot = 1; /* before 6.0: one-shot receives, re-posted */
    post_recv(u, op);
    return;
  }
  if ((op->flags & IO_OP_MULTI) && res > 0) {
    complete_chunk(loop, u, op, res, flags);
    return;
  }
  if (res == -ENOBUFS) {
    if (op->flags & IO_OP_CANCEL) { /* no data was taken: cancelled */
      finish(loop, u, op, IO_ECANCELED);
      return;
    }
    op->next = u->nobufs; /* re-posted next turn, buffers back by then */
    u->nobufs = op;
    op->bstate &= (uint16_t)~UOP_RING; /* out of the kernel meanwhile */
    return;
  }
  op->u.recv.data = NULL;
  if (flags & IORING_CQE_F_BUFFER) {
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    op->u.recv.data = u->bufs + (size_t)bid * BUF_SIZE;
    op->u.recv.bid = bid;
  }
  finish(loop, u, op, res < 0 ? io__from_errno(-res) : res);
}

/* The rest of a send that found no room (EAGAIN, or a short count) goes
 * after a poll for room; after a signal (EINTR), at once.  A cancel asked
 * meanwhile ends it instead. */
static void send_rest(struct io_loop *loop, struct uring *u, struct io_op *op,
                      int no_room) {
  if (op->flags & IO_OP_CANCEL)
    finish(loop, u, op, IO_ECANCELED);
  else if (no_room)
    post_poll(u, op);
  else
    post_send(u, op);
}

static void complete_send(struct io_loop *loop, struct uring *u,
                          struct io_op *op, int res) {
  if (res == -EAGAIN || res == -EINTR) { /* never the peer's doing */
    send_rest(loop, u, op, res == -EAGAIN);
    return;
  }
  if (res < 0) {
    finish(loop, u, op, io__from_errno(-res));
    return;
  }
  if (io__send_advance(op, (size_t)res) || (op->flags & IO_OP_CANCEL)) {
    finish(loop, u, op, (int)op->u.send.total);
    return;
  }
  send_rest(loop, u, op, 1); /* short: the socket is full */
}

/* The poll for room of a send ended: the rest of the send goes now (an
 * error or hang-up the poll saw is the send's to report), unless it was
 * cancelled. */
static void complete_poll(struct io_loop *loop, struct uring *u,
                          struct io_op *op, int res) {
  op->bstate &= (uint16_t)~UOP_POLLING;
  if ((op->flags & IO_OP_CANCEL) || res == -ECANCELED)
    finish(loop, u, op, IO_ECANCELED);
  else if (res < 0)
    finish(loop, u, op, io__from_errno(-res));
  else
    post_send(u, op);
}

static void complete(struct io_loop *loop, struct uring *u, uint64_t data,
                     int res, unsigned flags) {
  if (data == CLOSE_DATA)
    return;
  struct io_op *op = (struct io_op *)(uintptr_t)(data & ~(uint64_t)OP_TAGS);
  if (data & CANCEL_TAG) {
    cancelled(loop, u, op, res);
    return;
  }
  if (data & POLL_TAG) {
    complete_poll(loop, u, op, res);
    return;
  }
  switch (op->type) {
  case IO_OP_BACKEND:
    post_wake_read(u);
    io__woken(loop);
    break;
  case IO_OP_ACCEPT: {
    op->u.accept.sock = res >= 0 ? res : IO_NOSOCK;
    res = res >= 0 ? 0 : io__from_errno(-res);
    if (flags & IORING_CQE_F_MORE)
      io__deliver(loop, op, res, 1);
    else
      finish(loop, u, op, res);
    break;
  }
  case IO_OP_RECV: complete_recv(loop, u, op, res, flags); break;
  case IO_OP_SEND: complete_send(loop, u, op, res); break;
  case IO_OP_CONNECT:
    finish(loop, u, op, res < 0 ? io__from_errno(-res) : 0);
    break;
  default: abort();
  }
}

struct reaped {
  uint64_t data;
  int32_t res;
  uint32_t flags;
};

static int reap(struct io_loop *loop, struct uring *u) {
  struct io_uring_cqe *cqes[REAP_BATCH];
  struct reaped got[REAP_BATCH];
  int total = 0;
  unsigned n;
  while ((n = io_uring_peek_batch_cqe(&u->ring, cqes, REAP_BATCH)) > 0) {
    for (unsigned i = 0; i < n; i++) {
      got[i].data = cqes[i]->user_data;
      got[i].res = cqes[i]->res;
      got[i].flags = cqes[i]->flags;
    }
    io_uring_cq_advance(&u->ring, n);
    for (unsigned i = 0; i < n; i++)
      complete(loop, u, got[i].data, got[i].res, got[i].flags);
    total += (int)n;
    if (u->returned) {
      io_uring_buf_ring_advance(u->br, (int)u->returned);
      u->returned = 0;
    }
  }
  return total;
}

static int uring_wait(struct io_loop *loop, int64_t timeout_ns) {
  struct uring *u = loop->bs;
  /* Recvs that found no buffer last turn go out again now. */
  struct io_op *op = u->nobufs;
  u->nobufs = NULL;
  while (op) {
    struct io_op *next = op->next;
    op->bstate |= UOP_RING;
    post_recv(u, op);
    op = next;
  }
  int r;
  if (timeout_ns == 0) {
    r = io_uring_submit_and_get_events(&u->ring);
  } else if (timeout_ns < 0) {
    r = io_uring_submit_and_wait(&u->ring, 1);
  } else {
    struct __kernel_timespec ts;
    struct io_uring_cqe *cqe;
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
  }
  if (io_uring_sq_ready(&u->ring) == 0)
    u->nmsgs = 0; /* every SQE consumed: their msghdrs are free again */
  if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY)
    return io__from_errno(-r);
  return reap(loop, u);
}

static void uring_wake(struct io_loop *loop) {
  struct uring *u = loop->bs;
  io__eventfd_kick(u->efd);
}

const struct io_backend io_backend_uring = {
    .name = "io_uring",
    .init = uring_init,
    .done = uring_done,
    .open = uring_open,
    .post = uring_post,
    .cancel = uring_cancel,
    .cancel_all = uring_cancel_all,
    .close = uring_close,
    .wait = uring_wait,
    .wake = uring_wake,
    .recv_multishot = 1,
};
