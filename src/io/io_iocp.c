/*
 * io_iocp.c -- the Windows completion backend: one I/O completion port
 * per loop (per worker thread), every socket associated with the port of
 * the loop that owns it.
 *
 * Each op's OVERLAPPED is the first field of its record (struct io_op),
 * so what GetQueuedCompletionStatusEx hands back is the record.  The
 * record and its buffers stay the kernel's until that packet has been
 * dequeued, also after CancelIoEx and closesocket.  Completions are
 * dequeued in batches; the call returns TRUE even for failed ops, so the
 * status is always read from OVERLAPPED.Internal (an NTSTATUS, mapped in
 * io.c), never from the call's own result.
 *
 * Receives pin no buffer while they wait: a recv posts a zero-byte
 * WSARecv, and when that completes the data is read with a non-blocking
 * recv() into the loop's own buffer and delivered from there.  A zero-byte
 * completion also means end of stream, so only recv() == 0 is taken as
 * EOF; WSAEWOULDBLOCK posts the zero-byte read again.  Sends go out with
 * one WSASend of all the op's buffers; a short completion (rare on
 * Windows) sends the rest.  Connects bind to the wildcard address first,
 * as ConnectEx requires, and set SO_UPDATE_CONNECT_CONTEXT afterwards.
 *
 * Accept is multishot on top of ACCEPT_POSTED AcceptEx calls kept posted
 * per listener, with no receive data (a client that connects and sends
 * nothing would otherwise hold an accept forever).  Those records belong
 * to the backend (hung off h->bdata) and live until all their packets are
 * in.  Each accepted socket gets SO_UPDATE_ACCEPT_CONTEXT and is delivered
 * unassociated: io_open() associates it with the port of the loop that
 * adopts it, possibly another worker's.  A failed AcceptEx costs that one
 * connection only: the record is posted again.
 *
 * Where the socket's provider allows it (an IFS handle: no layered
 * provider in between), skip-on-success is set, so an op that completes
 * at once queues no packet; such ops go on a list that the next wait()
 * delivers, since nothing may complete inside a post (io.h, rule 4).
 * Where it is refused, immediate successes still queue a packet and the
 * same code handles them.  HOST_IOCP_SKIP=0 turns the mode off, to test
 * that path.
 *
 * Closing cancels everything on the socket with CancelIoEx and closes it
 * at once: Wine completes neither a pending send nor a recv for seconds
 * when closesocket comes without the cancel (see the io brief), and a
 * closed listener refuses connects at once.  Wake-ups are packets with
 * their own key and no OVERLAPPED.
 */
#include "io_internal.h"

#include <mstcpip.h>
#include <mswsock.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 128            /* packets dequeued per wait */
#define RECV_BUF (64 * 1024) /* the loop's receive buffer */
#define ACCEPT_POSTED 16     /* AcceptEx calls kept posted per listener */
/* AcceptEx wants 16 bytes more than the largest address, per address. */
#define ADDR_ROOM ((DWORD)sizeof(struct sockaddr_storage) + 16)

/* Completion keys. */
#define KEY_IO 1   /* a socket's op: the OVERLAPPED is an io_op */
#define KEY_WAKE 2 /* io_wake(): no OVERLAPPED */

/* io_op.bstate: the backend's own. */
#define ST_DUE 0x01    /* with the kernel: one completion will come */
#define ST_INLINE 0x02 /* done at once, on the list wait() delivers */

/* io_handle.bflags */
#define HB_SKIP 0x01 /* skip-on-success is set on this socket */

struct iocp {
  HANDLE port;            /* this loop's completion port */
  LPFN_ACCEPTEX acceptex; /* from the provider (WSAIoctl) */
  LPFN_CONNECTEX connectex;
  int skip;        /* may set skip-on-success on sockets */
  struct opq done; /* finished inside a post, not yet seen */
  OVERLAPPED_ENTRY entries[BATCH];
  char rbuf[RECV_BUF]; /* recv data, valid in the callback */
};

/* One AcceptEx kept posted.  The kernel holds iop.ov (and addrs) from
 * the post until its packet is dequeued. */
struct acc {
  struct io_op iop; /* first: comes back from the port */
  struct accpool *pool;
  io_sock sock;              /* accepting into this, or IO_NOSOCK */
  char addrs[2 * ADDR_ROOM]; /* AcceptEx's address space */
};

/* A listener's AcceptEx records (h->bdata).  Freed by iocp_close(), when
 * no packet is due any more. */
struct accpool {
  struct io_handle *h;
  struct io_op *op; /* the io_accept op served, or NULL */
  int family;       /* of the listener, for accept sockets */
  int busy;         /* records with a completion due */
  int err;          /* why the last post of a record failed */
  struct acc recs[ACCEPT_POSTED];
};

static char zero_byte[1]; /* the buffer of the zero-byte reads */

/* ---- helpers -------------------------------------------------------- */

/* The wait's timeout: rounded up, a timer must never fire early; the
 * wait may still end early, and io.c checks the clock again. */
static DWORD to_ms(int64_t ns) {
  long long ms = io__to_ms(ns, (long long)INFINITE - 1);
  return ms < 0 ? INFINITE : (DWORD)ms;
}

static void push_done(struct iocp *s, struct io_op *op) {
  op->bstate |= ST_DUE | ST_INLINE;
  opq_push(&s->done, op);
}

/* After an overlapped call on h: `ok` is what it returned, `e` the error
 * when it failed.  Returns 0 if one completion is now due (a packet, or
 * an entry on the done list where skip-on-success queues none), else the
 * error: then no packet will come. */
static int issued(struct iocp *s, struct io_handle *h, struct io_op *op, int ok,
                  DWORD e) {
  if (ok) {
    if (h->bflags & HB_SKIP)
      push_done(s, op);
    else
      op->bstate |= ST_DUE;
    return 0;
  }
  if (e == WSA_IO_PENDING) {
    op->bstate |= ST_DUE;
    return 0;
  }
  return io__from_wsa(e);
}

/* The result of a finished op: its NTSTATUS, mapped; 0 on success. */
static int status_of(const struct io_op *op) {
  return io__from_ntstatus((long)op->ov.Internal);
}

static void *extension(SOCKET sock, GUID id) {
  void *fn = NULL;
  DWORD got;
  if (WSAIoctl(sock, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &fn,
               sizeof fn, &got, NULL, NULL) != 0)
    return NULL;
  return fn;
}

/* Skip-on-success is safe only on IFS handles: a layered provider
 * without them may complete ops in ways the mode does not report. */
static int ifs_handle(io_sock sock) {
  WSAPROTOCOL_INFOW info;
  int len = sizeof info;
  if (getsockopt(sock, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len))
    return 0;
  return (info.dwServiceFlags1 & XP1_IFS_HANDLES) != 0;
}

/* ---- setup ---------------------------------------------------------- */

static int iocp_init(struct io_loop *loop) {
  struct iocp *s = calloc(1, sizeof *s);
  if (!s)
    return IO_ENOMEM;
  const char *knob = getenv("HOST_IOCP_SKIP");
  s->skip = !(knob && strcmp(knob, "0") == 0);
  /* AcceptEx and ConnectEx are fetched from the provider, not linked. */
  SOCKET probe = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                            WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (probe == INVALID_SOCKET) {
    int err = io__sock_error();
    free(s);
    return err;
  }
  GUID acceptex = WSAID_ACCEPTEX, connectex = WSAID_CONNECTEX;
  s->acceptex = (LPFN_ACCEPTEX)extension(probe, acceptex);
  s->connectex = (LPFN_CONNECTEX)extension(probe, connectex);
  closesocket(probe);
  if (!s->acceptex || !s->connectex) {
    free(s);
    return IO_ENOSYS;
  }
  s->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (!s->port) {
    int err = io__from_wsa(GetLastError());
    free(s);
    return err;
  }
  loop->bs = s;
  return 0;
}

static void iocp_done(struct io_loop *loop) {
  struct iocp *s = loop->bs;
  /* Nothing is posted any more (io.c checked); a wake-up packet may be
   * queued, and goes with the port. */
  CloseHandle(s->port);
  free(s);
}

static int iocp_open(struct io_loop *loop, struct io_handle *h) {
  struct iocp *s = loop->bs;
  /* A socket joins one port for good: a second association fails (87). */
  if (!CreateIoCompletionPort((HANDLE)h->sock, s->port, KEY_IO, 0))
    return io__from_wsa(GetLastError());
  /* recv() drains after a zero-byte read and must never block. */
  int err = io__sock_nonblock(h->sock);
  if (err)
    return err;
  if (s->skip && ifs_handle(h->sock) &&
      SetFileCompletionNotificationModes((HANDLE)h->sock,
                                         FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                                             FILE_SKIP_SET_EVENT_ON_HANDLE))
    h->bflags |= HB_SKIP;
  return 0;
}

/* ---- posting -------------------------------------------------------- */

static void post_zero_read(struct iocp *s, struct io_loop *loop,
                           struct io_op *op) {
  WSABUF b;
  DWORD flags = 0; /* in and out: reset for every post */
  b.len = 0;
  b.buf = zero_byte;
  memset(&op->ov, 0, sizeof op->ov);
  int r = WSARecv(op->h->sock, &b, 1, NULL, &flags, &op->ov, NULL);
  int err = issued(s, op->h, op, r == 0, r == 0 ? 0 : WSAGetLastError());
  if (err)
    io__defer(loop, op, err);
}

static void post_send(struct iocp *s, struct io_loop *loop, struct io_op *op) {
  memset(&op->ov, 0, sizeof op->ov);
  /* io_buf is laid out as WSABUF: the caller's array goes as it is. */
  int r = WSASend(op->h->sock, (WSABUF *)op->u.send.bufs, op->u.send.nbufs,
                  NULL, 0, &op->ov, NULL);
  int err = issued(s, op->h, op, r == 0, r == 0 ? 0 : WSAGetLastError());
  if (err)
    io__defer(loop, op, err); /* nothing went out: total stays 0 */
}

static int is_loopback(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) ==
           127;
  if (sa->sa_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
  return 0;
}

static void post_connect(struct iocp *s, struct io_loop *loop,
                         struct io_op *op) {
  struct io_handle *h = op->h;
  const struct sockaddr *to = op->u.connect.addr;
  struct sockaddr_storage any;
  int anylen;
  memset(&any, 0, sizeof any);
  any.ss_family = to->sa_family; /* the wildcard address, port 0 */
  anylen = to->sa_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6)
                                     : (int)sizeof(struct sockaddr_in);
  /* ConnectEx refuses an unbound socket (10022). */
  if (bind(h->sock, (struct sockaddr *)&any, anylen) != 0) {
    io__defer(loop, op, io__sock_error());
    return;
  }
  if (is_loopback(to)) {
    /* Windows retries a refused loopback SYN for about 2 s; a refused
     * local port should fail at once, as it does elsewhere.  Best
     * effort: older systems (and Wine) may refuse the ioctl. */
    TCP_INITIAL_RTO_PARAMETERS rto;
    DWORD got;
    rto.Rtt = TCP_INITIAL_RTO_UNSPECIFIED_RTT;
    rto.MaxSynRetransmissions = TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS;
    WSAIoctl(h->sock, SIO_TCP_INITIAL_RTO, &rto, sizeof rto, NULL, 0, &got,
             NULL, NULL);
  }
  memset(&op->ov, 0, sizeof op->ov);
  BOOL ok = s->connectex(h->sock, to, (int)op->u.connect.addrlen, NULL, 0, NULL,
                         &op->ov);
  int err = issued(s, h, op, ok, ok ? 0 : WSAGetLastError());
  if (err)
    io__defer(loop, op, err);
}

/* Posts AcceptEx on record a.  0, or the error (a is idle again). */
static int post_acc(struct iocp *s, struct accpool *p, struct acc *a) {
  int err = io__sock_new(p->family, &a->sock);
  if (err)
    return err;
  DWORD got = 0; /* written only if it completes at once */
  memset(&a->iop.ov, 0, sizeof a->iop.ov);
  BOOL ok = s->acceptex(p->h->sock, a->sock, a->addrs, 0, ADDR_ROOM, ADDR_ROOM,
                        &got, &a->iop.ov);
  err = issued(s, p->h, &a->iop, ok, ok ? 0 : WSAGetLastError());
  if (err) {
    io_sock_close(a->sock);
    a->sock = IO_NOSOCK;
    return err;
  }
  p->busy++;
  return 0;
}

/* Posts every idle record.  Returns the last error, 0 if none. */
static int fill(struct iocp *s, struct accpool *p) {
  int err = 0;
  for (int i = 0; i < ACCEPT_POSTED; i++) {
    struct acc *a = &p->recs[i];
    if (!(a->iop.bstate & ST_DUE)) {
      int e = post_acc(s, p, a);
      if (e)
        err = e;
    }
  }
  return err;
}

static struct accpool *pool_of(struct io_handle *h) {
  if (h->bdata)
    return h->bdata;
  struct sockaddr_storage ss;
  if (io_sockname(h, &ss, 0) != 0)
    return NULL;
  struct accpool *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->h = h;
  p->family = ss.ss_family;
  for (int i = 0; i < ACCEPT_POSTED; i++) {
    p->recs[i].iop.type = IO_OP_BACKEND;
    p->recs[i].pool = p;
    p->recs[i].sock = IO_NOSOCK;
  }
  h->bdata = p;
  return p;
}

static void post_accept(struct iocp *s, struct io_loop *loop,
                        struct io_op *op) {
  struct accpool *p = pool_of(op->h);
  if (!p) {
    io__defer(loop, op, IO_ENOMEM);
    return;
  }
  p->op = op;
  p->err = fill(s, p);
  if (p->busy == 0) { /* not one AcceptEx is posted: nothing would come */
    p->op = NULL;
    io__defer(loop, op, p->err);
  }
}

static void iocp_post(struct io_loop *loop, struct io_op *op) {
  struct iocp *s = loop->bs;
  switch (op->type) {
  case IO_OP_ACCEPT: post_accept(s, loop, op); break;
  case IO_OP_RECV: post_zero_read(s, loop, op); break;
  case IO_OP_SEND: post_send(s, loop, op); break;
  case IO_OP_CONNECT: post_connect(s, loop, op); break;
  default: abort(); /* io.c never posts anything else here */
  }
}

/* ---- cancelling and closing ---------------------------------------- */

static void iocp_cancel(struct io_loop *loop, struct io_op *op) {
  (void)loop;
  struct io_handle *h = op->h;
  /* An op on the done list, or not yet issued (an error waiting in io.c's
   * queue), has its completion coming anyway; the completion sees
   * IO_OP_CANCEL.  ERROR_NOT_FOUND: the packet is queued already. */
  if (h->sock == IO_NOSOCK || (op->bstate & ST_INLINE))
    return;
  if (op->type == IO_OP_ACCEPT)
    CancelIoEx((HANDLE)h->sock, NULL); /* every AcceptEx of the listener */
  else if (op->bstate & ST_DUE)
    CancelIoEx((HANDLE)h->sock, &op->ov);
}

static void iocp_cancel_all(struct io_loop *loop, struct io_handle *h) {
  (void)loop;
  if (h->sock == IO_NOSOCK)
    return;
  /* Cancel first: Wine does not end a pending send on closesocket alone.
   * The records stay valid until their packets are in; the socket can
   * go now, which also makes a listener refuse connects at once. */
  CancelIoEx((HANDLE)h->sock, NULL);
  closesocket(h->sock);
  h->sock = IO_NOSOCK;
}

static void iocp_close(struct io_loop *loop, struct io_handle *h) {
  (void)loop;
  struct accpool *p = h->bdata;
  if (p) {
    if (p->busy) /* io.c closes only when no completion is due */
      abort();
    free(p);
    h->bdata = NULL;
  }
  io_sock_close(h->sock); /* IO_NOSOCK if cancel_all closed it: no-op */
}

/* ---- completions ---------------------------------------------------- */

/*
 * recv() said end of stream: was it a reset?  Wine's recv() reports a
 * reset that arrived before the read as end of stream (io brief);
 * Windows fails it with WSAECONNRESET.  A zero-byte send, which sends
 * nothing, fails on a reset connection in both, and succeeds after an
 * orderly end.  After our own shutdown it is refused (WSAESHUTDOWN)
 * whatever the peer did; then WSAPoll tells: Wine reports the reset it
 * recorded as POLLERR (with POLLHUP), an orderly end as POLLHUP alone.
 * Returns the reset's IO_E*, or 0 for an orderly end.
 */
static int reset_seen(SOCKET sock) {
  if (send(sock, "", 0, 0) == 0)
    return 0;
  DWORD e = (DWORD)WSAGetLastError();
  if (e == WSAECONNRESET || e == WSAECONNABORTED)
    return io__from_wsa(e);
  if (e != WSAESHUTDOWN)
    return 0;
  WSAPOLLFD p;
  p.fd = sock;
  p.events = POLLRDNORM;
  p.revents = 0;
  if (WSAPoll(&p, 1, 0) == 1 && (p.revents & POLLERR))
    return IO_ECONNRESET;
  return 0;
}

static void complete_recv(struct iocp *s, struct io_loop *loop,
                          struct io_op *op) {
  struct io_handle *h = op->h;
  int err = status_of(op);
  if (h->sock == IO_NOSOCK || (op->flags & IO_OP_CANCEL)) {
    /* The zero-byte read took nothing: a cancel always wins here. */
    io__deliver(loop, op, IO_ECANCELED, 0);
    return;
  }
  if (err) {
    io__deliver(loop, op, err, 0);
    return;
  }
  /* Something arrived, or the stream ended: recv() tells which. */
  int max = op->u.recv.max < RECV_BUF ? (int)op->u.recv.max : RECV_BUF;
  int n = recv(h->sock, s->rbuf, max, 0);
  if (n == 0 && (err = reset_seen(h->sock)) != 0) {
    io__deliver(loop, op, err, 0);
    return;
  }
  if (n >= 0) {
    op->u.recv.data = n > 0 ? s->rbuf : NULL; /* no bytes, no buffer */
    io__deliver(loop, op, n, 0);
    return;
  }
  DWORD e = (DWORD)WSAGetLastError();
  if (e == WSAEWOULDBLOCK)
    post_zero_read(s, loop, op); /* nothing after all: wait again */
  else
    io__deliver(loop, op, io__from_wsa(e), 0);
}

static void complete_send(struct iocp *s, struct io_loop *loop,
                          struct io_op *op, DWORD bytes) {
  int err = status_of(op);
  /* Count what went out also when it failed or was cancelled: the caller
   * learns it from u.send.total. */
  int done = io__send_advance(op, bytes);
  if (!err && bytes == 0 && !done)
    err = IO_EPIPE; /* took nothing: re-posting would spin */
  if (err) {
    io__deliver(loop, op, err, 0);
    return;
  }
  if (done || (op->flags & IO_OP_CANCEL) || op->h->sock == IO_NOSOCK) {
    /* io.c turns a cancelled, unfinished send into IO_ECANCELED. */
    io__deliver(loop, op, (int)op->u.send.total, 0);
    return;
  }
  post_send(s, loop, op); /* a short completion: send the rest */
}

static void complete_connect(struct io_loop *loop, struct io_op *op) {
  struct io_handle *h = op->h;
  int err = status_of(op);
  if (!err && h->sock == IO_NOSOCK)
    err = IO_ECANCELED; /* connected, but closed meanwhile */
  /* Without this, getpeername, shutdown and others fail on Windows. */
  if (!err &&
      setsockopt(h->sock, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0) != 0)
    err = io__sock_error();
  io__deliver(loop, op, err, 0);
}

/* Errors of one AcceptEx that cost that connection only. */
static int per_connection(int err) {
  return err == IO_ECONNRESET || err == IO_ECONNABORTED ||
         err == IO_ENETUNREACH || err == IO_EHOSTUNREACH ||
         err == IO_ETIMEDOUT || err == IO_ENOTCONN;
}

/* The op served by p ends once no record has a completion due. */
static void settle(struct io_loop *loop, struct accpool *p) {
  struct io_op *op = p->op;
  if (!op || p->busy > 0)
    return;
  p->op = NULL;
  int stopped = (op->flags & IO_OP_CANCEL) || op->h->sock == IO_NOSOCK;
  io__deliver(loop, op, stopped || !p->err ? IO_ECANCELED : p->err, 0);
}

/*
 * One AcceptEx is in.  What the io_accept op sees of it:
 *  - a connection: delivered with IO_OP_MORE, also after a cancel was
 *    asked (the cancel lost the race; the listener is still open), but
 *    dropped once the listener is closed (its context can no longer be
 *    copied to the socket);
 *  - a failure of that one connection (reset, aborted...): nothing, the
 *    record is posted again;
 *  - any other failure, or a record that cannot be posted again (out of
 *    sockets): the error, with IO_OP_MORE while other records are still
 *    posted, so the caller can pause;
 *  - and once no record is posted any more (cancelled, closed, or none
 *    could be posted), the last completion, without IO_OP_MORE.
 */
static void complete_accept(struct iocp *s, struct io_loop *loop,
                            struct acc *a) {
  struct accpool *p = a->pool;
  struct io_op *op = p->op;
  io_sock sock = a->sock, lsock = p->h->sock;
  int err = status_of(&a->iop);
  a->sock = IO_NOSOCK;
  p->busy--;
  int stopped = (op->flags & IO_OP_CANCEL) || lsock == IO_NOSOCK;
  if (!err && lsock == IO_NOSOCK)
    err = IO_ECANCELED; /* the listener is closed: drop the connection */
  /* Makes the socket a full one (getpeername, shutdown...): Wine does
   * not need it, Windows does. */
  if (!err && setsockopt(sock, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                         (char *)&lsock, sizeof lsock) != 0)
    err = io__sock_error();
  if (err)
    io_sock_close(sock);
  /* Post again at once: the backlog is served while callbacks run. */
  int perr = stopped ? 0 : fill(s, p);
  if (perr)
    p->err = perr;
  if (!err) {
    op->u.accept.sock = sock;
    io__deliver(loop, op, 0, 1);
  } else if (!stopped && err != IO_ECANCELED && !per_connection(err) &&
             p->busy > 0) {
    io__deliver(loop, op, err, 1); /* out of sockets, say: report it */
  }
  if (perr && p->busy > 0 && p->op == op && !(op->flags & IO_OP_CANCEL))
    io__deliver(loop, op, perr, 1); /* the caller may pause and cancel */
  settle(loop, p);
}

static void complete(struct iocp *s, struct io_loop *loop, struct io_op *op,
                     DWORD bytes) {
  op->bstate &= (uint16_t) ~(ST_DUE | ST_INLINE);
  switch (op->type) {
  case IO_OP_BACKEND: complete_accept(s, loop, (struct acc *)op); break;
  case IO_OP_RECV: complete_recv(s, loop, op); break;
  case IO_OP_SEND: complete_send(s, loop, op, bytes); break;
  case IO_OP_CONNECT: complete_connect(loop, op); break;
  default: abort();
  }
}

static int iocp_wait(struct io_loop *loop, int64_t timeout_ns) {
  struct iocp *s = loop->bs;
  struct io_op *op = opq_take_all(&s->done);
  ULONG n = 0;
  int err = 0, count = 0;
  /* FALSE is a timeout (or a port failure): then nothing was dequeued,
   * whatever n says (Wine writes 1 there). */
  if (!GetQueuedCompletionStatusEx(s->port, s->entries, BATCH, &n,
                                   op ? 0 : to_ms(timeout_ns), FALSE)) {
    DWORD e = GetLastError();
    n = 0;
    if (e != WAIT_TIMEOUT)
      err = io__from_wsa(e);
  }
  /* Ops that finished inside a post (skip-on-success) come first. */
  while (op) {
    struct io_op *next = op->next;
    complete(s, loop, op, (DWORD)op->ov.InternalHigh);
    count++;
    op = next;
  }
  for (ULONG i = 0; i < n; i++) {
    OVERLAPPED_ENTRY *e = &s->entries[i];
    if (e->lpCompletionKey == KEY_WAKE) {
      io__woken(loop);
      continue;
    }
    complete(s, loop, (struct io_op *)e->lpOverlapped,
             e->dwNumberOfBytesTransferred);
    count++;
  }
  return err ? err : count;
}

static void iocp_wake(struct io_loop *loop) {
  struct iocp *s = loop->bs;
  /* Fails only if the port is gone or out of memory; nothing to do. */
  PostQueuedCompletionStatus(s->port, 0, KEY_WAKE, NULL);
}

const struct io_backend io_backend_iocp = {
    .name = "iocp",
    .init = iocp_init,
    .done = iocp_done,
    .open = iocp_open,
    .post = iocp_post,
    .cancel = iocp_cancel,
    .cancel_all = iocp_cancel_all,
    .close = iocp_close,
    .wait = iocp_wait,
    .wake = iocp_wake,
    .recv_multishot = 0,
};
