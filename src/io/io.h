/*
 * io.h -- the completion contract every backend keeps.
 *
 * One `struct io_loop` per thread.  Long-lived sockets are *handles*
 * (`struct io_handle`: a listener or a connection); each operation on one
 * is a *record* (`struct io_op`) that the caller embeds in its own
 * memory.  The model is IOCP's, the stricter of the platforms:
 *
 *  1. An operation is *posted* with io_accept/io_recv/io_send/io_connect/
 *     io_timeout.  From a successful post until its last completion has
 *     been delivered, the record and every buffer it names belong to the
 *     kernel and the backend.  The caller must not touch, reuse or free
 *     them, also not after io_cancel() or io_close().
 *  2. Every posted operation completes exactly once: its callback runs
 *     with `op->res` set to a byte count (>= 0) or an IO_E* code (< 0),
 *     also when it was cancelled (IO_ECANCELED; a cancel that loses the
 *     race delivers the success instead).  The multishot operations
 *     (io_accept, io_recv_multi) are the exception, and say so: each of
 *     their completions has IO_OP_MORE set while more will follow; the
 *     last one has it clear.
 *  3. If a post returns an error, the operation was not started and its
 *     callback never runs.  Posts fail only for misuse (IO_EBUSY: that
 *     side of the handle already has an operation pending, or the record
 *     is still posted; IO_ECANCELED: the handle is closing) and, for
 *     timeouts, IO_ENOMEM.  Everything the OS or the peer causes is
 *     delivered as a completion, so callers have one path for errors.
 *  4. Completions are delivered only from io_loop_run() and
 *     io_loop_submit(), on the loop's thread, never from inside a post, a
 *     cancel or a close.  Callbacks
 *     may post, cancel and close freely.
 *  5. A handle has at most one *receive-side* operation (accept or recv)
 *     and one *send-side* operation (send or connect) pending at a time.
 *     This keeps byte order without relying on the kernel ordering two
 *     sends, and lets readiness backends park one op per direction.
 *  6. io_close() cancels what is pending, and calls the handle's close
 *     callback once every completion has been delivered and the socket is
 *     closed.  Only then may the memory holding the handle (and its
 *     embedded ops) be freed.  A handle is never freed by this layer.
 *  7. A send completes when every byte has been written or an error
 *     occurred (short writes are continued by the backend); `res` is the
 *     total number of bytes written.  A send that ends early, cancelled
 *     or failed, has the error in `res` and the bytes that did go out in
 *     u.send.total (they may have reached the peer: close, never resend
 *     them).  A recv completes with 1..max bytes, 0 at end of stream, or
 *     an error; the data lives in a buffer the loop owns, valid only
 *     until the callback returns (so an idle connection pins no receive
 *     buffer on any backend), and u.recv.data is NULL when res <= 0.
 *
 * Nothing here is thread-safe except io_wake(), which any thread may call.
 */
#ifndef HOST_IO_H
#define HOST_IO_H

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
typedef SOCKET io_sock;
#define IO_NOSOCK INVALID_SOCKET
/* Laid out as WSABUF, so an array of them is passed to WSASend as is. */
struct io_buf {
  unsigned long len;
  char *base;
};
#else
#include <sys/socket.h>
typedef int io_sock;
#define IO_NOSOCK (-1)
/* Laid out as struct iovec, so an array of them is passed to sendmsg. */
struct io_buf {
  char *base;
  size_t len;
};
#endif

/* Error codes: negative, portable, mapped from errno / WSA / NTSTATUS in
 * one place (io.c).  A system error with no name here is encoded as
 * IO_ESYS(code); io_strerror() then gives the system's own message. */
enum {
  IO_ECANCELED = -1,     /* cancelled by io_cancel() or io_close() */
  IO_ECONNRESET = -2,    /* the peer reset the connection */
  IO_EPIPE = -3,         /* writing to a connection the peer has closed */
  IO_ECONNREFUSED = -4,  /* nothing listens at the address */
  IO_ETIMEDOUT = -5,     /* the system gave up (e.g. connect) */
  IO_EADDRINUSE = -6,    /* bind: address already in use */
  IO_EADDRNOTAVAIL = -7, /* bind: no such local address */
  IO_EMFILE = -8,        /* out of file descriptors (process) */
  IO_ENFILE = -9,        /* out of file descriptors (system) */
  IO_ENOBUFS = -10,      /* out of socket buffers */
  IO_ENOMEM = -11,       /* out of memory */
  IO_EINVAL = -12,       /* invalid argument */
  IO_ECONNABORTED = -13, /* a connection aborted before accept */
  IO_ENETUNREACH = -14,  /* network unreachable */
  IO_EHOSTUNREACH = -15, /* host unreachable */
  IO_EACCES = -16,       /* permission denied */
  IO_EAFNOSUPPORT = -17, /* address family not supported */
  IO_ENOTCONN = -18,     /* socket not connected */
  IO_ENOSYS = -19,       /* the backend is not available here */
  IO_EBUSY = -20,        /* misuse: that side already has an op pending */
  IO_EAGAIN = -21,       /* internal: would block */
  IO_ESYS_BASE = -1000
};
#define IO_ESYS(code) (IO_ESYS_BASE - (int)(code))

/* Writes a message for `err` into buf and returns buf.  Named codes have
 * the same lowercase text on every platform. */
const char *io_strerror(int err, char *buf, size_t size);

struct io_loop;
struct io_handle;
struct io_op;

typedef void (*io_op_cb)(struct io_op *op);
typedef void (*io_close_cb)(struct io_handle *h);

enum io_op_type {
  IO_OP_NONE,
  IO_OP_ACCEPT,
  IO_OP_RECV,
  IO_OP_SEND,
  IO_OP_CONNECT,
  IO_OP_TIMEOUT,
  IO_OP_BACKEND /* a backend's own record (its wake-up read, an AcceptEx) */
};

/* op->flags */
#define IO_OP_MORE 0x01   /* multishot: another completion follows */
#define IO_OP_POSTED 0x02 /* posted, last completion not yet delivered */
#define IO_OP_MULTI 0x04  /* a multishot receive (io_recv_multi) */
#define IO_OP_CANCEL 0x08 /* cancel asked: the backend must stop the op */

/* Upper bounds of one send: entries, and bytes in all. */
#define IO_SEND_MAXBUFS 16
#define IO_SEND_MAXBYTES 0x40000000u /* 1 GiB */

/*
 * An operation record.  The caller embeds it, initialises it once with
 * io_op_init() and then writes nothing in it: the post functions fill
 * it, and a completion's results (res, the u.* fields) are read from the
 * callback.  The kernel may hold a pointer to it (the OVERLAPPED on
 * Windows, user_data on io_uring) while posted.
 */
struct io_op {
#ifdef _WIN32
  OVERLAPPED ov; /* must stay first: IOCP hands it back */
#endif
  struct io_op *next;  /* io.c's queues; a readiness backend's park */
  struct io_handle *h; /* the handle, or NULL for a timeout */
  io_op_cb cb;         /* called for each completion */
  void *data;          /* the caller's */
  int32_t res;         /* result of the completion being delivered */
  uint8_t type;        /* enum io_op_type */
  uint8_t flags;       /* IO_OP_* */
  uint16_t bstate;     /* the backend's own state bits */
  union {
    struct {
      char *data;   /* on completion: the bytes, loop-owned */
      uint32_t max; /* at most this many bytes */
      uint32_t bid; /* backend: id of the buffer lent to data */
    } recv;
    struct {
      struct io_buf *bufs; /* caller's array; the backend may advance it */
      uint32_t nbufs;      /* entries left in bufs */
      uint32_t total;      /* bytes written so far */
    } send;
    struct {
      io_sock sock; /* on completion: the accepted socket */
    } accept;
    struct {
      const struct sockaddr *addr; /* caller's, kept until completion */
      uint32_t addrlen;
    } connect;
    struct {
      uint64_t due;  /* monotonic ns */
      uint32_t slot; /* index in the loop's timer heap */
    } timeout;
  } u;
};

/*
 * A socket known to a loop.  The caller embeds it (first, so that its
 * close callback finds the embedding struct) and only reads the fields.
 */
struct io_handle { /* pointers first: no padding holes */
  struct io_loop *loop;
  struct io_op *rop;              /* pending receive-side op, or NULL */
  struct io_op *wop;              /* pending send-side op, or NULL */
  io_close_cb close_cb;           /* set by io_close() */
  struct io_handle *next_closing; /* the loop's close queue */
  void *bdata;                    /* backend-private (iocp: accept pool) */
  io_sock sock;
  uint32_t pending; /* posted ops whose last completion is due */
  uint16_t flags;   /* IO_H_* (io.c) */
  uint16_t bflags;  /* the backend's own state bits */
};

/* ---- loops ---------------------------------------------------------- */

/* Backend names: "io_uring", "epoll", "iocp"; NULL or "auto" = the best
 * one that works here.  io_backend_pick() tries them in order and writes
 * why a preferred one was skipped into `why` (empty if none was).  It
 * returns an opaque backend, or NULL with *err set. */
struct io_backend;
const struct io_backend *io_backend_pick(const char *name, char *why,
                                         size_t whysize, int *err);
const char *io_backend_name(const struct io_backend *be);
/* Comma-separated list of the backends compiled in, for --help. */
const char *io_backends_compiled(void);

/* A loop on the calling thread.  on_wake(ud) runs on the loop's thread
 * (from io_loop_run) after io_wake() was called, once per wake-up burst.
 * Returns 0 and *out, or an IO_E* code. */
int io_loop_open(struct io_loop **out, const struct io_backend *be,
                 void (*on_wake)(void *ud), void *ud);
/* Frees the loop.  Returns 0, or IO_EBUSY (and frees nothing) if handles
 * or operations are still alive: close them and run the loop first. */
int io_loop_close(struct io_loop *loop);
/* One turn: submit what was posted, wait for completions (not at all if
 * `nowait`, else until the next timer at most), deliver them.  Returns
 * the number of posted operations plus handles still closing: 0 means
 * nothing is left to wait for (an open handle with no operation posted
 * does not count).  io_loop_close() checks every handle. */
int io_loop_run(struct io_loop *loop, int nowait);
/* Start what was posted now, without waiting: where a backend performs
 * operations itself (epoll), those that can complete at once do, and are
 * delivered here.  Returns how many were delivered.  A caller that
 * flushes work before each turn calls this after the flush, then runs
 * what the callbacks made ready, so that the turn can block at once
 * instead of looking once more without blocking first.  io_loop_run()
 * submits anyway; this only moves it earlier. */
int io_loop_submit(struct io_loop *loop);
/* What io_loop_run() returns, without running a turn. */
int io_loop_alive(const struct io_loop *loop);
/* Wakes the loop from any thread.  Async-signal-unsafe. */
void io_wake(struct io_loop *loop);
/* What a loop lets others read without a call: its first member. */
struct io_loop_head {
  uint64_t now; /* monotonic ns at the start of the current turn */
};
/* Monotonic nanoseconds, as of the start of the current turn. */
static inline uint64_t io_now(const struct io_loop *loop) {
  return ((const struct io_loop_head *)(const void *)loop)->now;
}
/* Monotonic nanoseconds, read now (any thread). */
uint64_t io_clock(void);
const char *io_loop_backend(const struct io_loop *loop);
/* Timers posted (io_timeout, io_timeout_at) and not yet completed. */
int io_loop_timers(const struct io_loop *loop);

/* ---- sockets -------------------------------------------------------- */

/* Options for io_listen. */
#define IO_LISTEN_REUSEPORT 0x01 /* join a SO_REUSEPORT group (Linux) */

/* Creates, binds and listens; h belongs to `loop` on success.  Returns 0
 * or an IO_E* code (nothing to close then). */
int io_listen(struct io_loop *loop, struct io_handle *h,
              const struct sockaddr *addr, int addrlen, int backlog,
              unsigned flags);
/* Adopts a socket that listens already and that others hold too (one
 * systemd passed, LISTEN_FDS, or a duplicate of it): it is made
 * non-blocking and given TCP_NODELAY (for the sockets it accepts to
 * inherit, as io_listen's do), and closing h closes this descriptor
 * only, never stopping the socket for the others.  On error the socket is
 * closed. */
int io_listen_shared(struct io_loop *loop, struct io_handle *h, io_sock sock);
/* Adopts a connected socket (from an accept completion, possibly of
 * another loop) into `loop`.  On error the socket is closed. */
int io_open(struct io_loop *loop, struct io_handle *h, io_sock sock);
/* Accepts one connection already waiting, without blocking: 0 and *out
 * (not yet adopted), IO_EAGAIN if none is waiting, or another IO_E*.  For
 * draining a listener before it closes, since closing resets whatever is
 * still in its backlog.  On IOCP always IO_EAGAIN: there the connections
 * the kernel took are in posted AcceptEx calls. */
int io_accept_now(struct io_handle *h, io_sock *out);
/* Closes a socket that was never adopted (an accept this side drops). */
void io_sock_close(io_sock sock);
/* Local / peer address of a handle; 0 or IO_E*.  Where IO_PEER_LASTS is
 * 1, the peer's is still known after the peer has reset (Linux), so a
 * caller can ask when it first needs it; elsewhere a caller that must
 * name a peer later asks right after the accept. */
int io_sockname(struct io_handle *h, struct sockaddr_storage *ss, int peer);
#ifdef __linux__
#define IO_PEER_LASTS 1
#else
#define IO_PEER_LASTS 0
#endif
/* Stops sending: the peer reads end-of-stream after what was sent. */
int io_shutdown(struct io_handle *h);
/* Bytes received by the kernel and not yet read (FIONREAD); 0 on error. */
size_t io_unread(struct io_handle *h);
/* Has the kernel torn the connection down already (a reset came)?  1 yes,
 * 0 no, -1 cannot tell here (Windows).  An end of stream the receive side
 * sees after a reset that a send took is told apart from a peer's orderly
 * one this way. */
int io_torn_down(struct io_handle *h);
/* Makes the coming close abortive (SO_LINGER 0): the peer gets a reset
 * and what is still unsent is dropped.  0 or IO_E*. */
int io_reset_on_close(struct io_handle *h);
/* Starts closing: cancels pending ops, then close_cb(h) from the loop
 * once no completion is due and the socket is closed.  Idempotent. */
void io_close(struct io_handle *h, io_close_cb cb);
int io_closing(const struct io_handle *h);

/* ---- operations ----------------------------------------------------- */

/* Multishot: each accepted connection completes with res 0 and
 * u.accept.sock (not yet adopted: io_open it or io_sock_close it), or a
 * failed accept with res < 0.  IO_OP_MORE tells whether it stays armed. */
int io_accept(struct io_handle *h, struct io_op *op, io_op_cb cb);
/* Multishot receive: completes once per chunk that arrives (res > 0,
 * u.recv.data loop-owned as for io_recv, at most the backend's buffer
 * size) with IO_OP_MORE set, and stays posted until end of stream (res 0),
 * an error, or io_cancel (IO_ECANCELED): that is its final completion,
 * with IO_OP_MORE clear.  A chunk may still arrive after io_cancel, before
 * the final completion.  Where the kernel has it (io_uring) it is posted
 * once for the life of the connection; elsewhere io.c re-posts a one-shot
 * receive after each chunk. */
int io_recv_multi(struct io_handle *h, struct io_op *op, io_op_cb cb);
int io_recv(struct io_handle *h, struct io_op *op, uint32_t max, io_op_cb cb);
/* bufs: 1..IO_SEND_MAXBUFS entries of at most IO_SEND_MAXBYTES in all,
 * owned by the caller until completion and modified by the backend as
 * bytes go out (so that res, an int32, can always hold the total). */
int io_send(struct io_handle *h, struct io_op *op, struct io_buf *bufs,
            int nbufs, io_op_cb cb);
/* Creates the socket in h, then connects.  On a failed completion the
 * handle still has to be closed with io_close(). */
int io_connect(struct io_loop *loop, struct io_handle *h, struct io_op *op,
               const struct sockaddr *addr, int addrlen, io_op_cb cb);
/* Completes with res 0 after `ns` nanoseconds (IO_ECANCELED if cancelled
 * first).  Fails only with IO_ENOMEM (the timer heap could not grow) or
 * IO_EBUSY (still posted). */
int io_timeout(struct io_loop *loop, struct io_op *op, uint64_t ns,
               io_op_cb cb);
/* The same at an absolute io_clock() time `due` (now if it has passed):
 * a caller that keeps deadlines reads the clock once per arm. */
int io_timeout_at(struct io_loop *loop, struct io_op *op, uint64_t due,
                  io_op_cb cb);
/* Asks for an early completion of a posted op.  No-op if not posted or
 * already asked. */
void io_cancel(struct io_loop *loop, struct io_op *op);
/* Makes op ready to be posted, with `data` as the caller's pointer.
 * Once, before the first post (a record is reused across posts). */
void io_op_init(struct io_op *op, void *data);
static inline int io_posted(const struct io_op *op) {
  return (op->flags & IO_OP_POSTED) != 0;
}

static inline struct io_buf io_buf_make(const char *base, size_t len) {
  struct io_buf b;
  b.base = (char *)base; /* never written through: sends only read */
  b.len = len;
  return b;
}

#endif
