/*
 * conn.h -- a connection: its socket, its receive stream and the bytes
 * received but not yet read, its send record, its deadlines, its close.
 *
 * The worker owns every conn, through its connection set.  The layer
 * above (the Lua binding, lconn.c) sees a box that points here; closing
 * from there only *requests* a close.  The conn is freed once the
 * handle's last completion and the deadline timer's completion are in,
 * because until then the kernel may still write into its records.
 *
 * Input.  The receive stream (io_recv_multi) is posted at the first wait
 * for input and kept posted, so a busy connection costs no receive post
 * per message.  When a chunk arrives it is offered to a waiting reader
 * first, in place (`hot`, valid only during the events->input call: the
 * hot path copies it once, into the reader's own string); what the
 * reader does not take is buffered.  Bytes that arrive while nobody
 * reads are buffered up to CONN_RBUF_HIGH (more if the waiting read needs
 * more); then the stream is paused (cancelled) and the rest waits in the
 * kernel until a reader wants more.
 *
 * Deadlines are lazy: one timer per connection, posted for the earliest
 * deadline and not cancelled when an operation finishes in time.  When it
 * fires it ends whatever is overdue and re-posts itself for what is still
 * waiting, so a busy connection with a timeout costs no timer work per
 * message.  Each side's deadline belongs to the operation that armed it
 * (0 = none): arming with no timeout clears it, so an old deadline never
 * reaches a newer operation.  An operation's deadline is its timeout's
 * or the connection's own deadline (conn_set_deadline: one instant for a
 * whole exchange, however slowly the bytes trickle in), whichever comes
 * first.  A read that waits longer than conn.idle with nothing arriving
 * closes the connection (the listener option `idle`).
 *
 * Output.  conn_write copies bytes into the connection's output buffer
 * and marks it dirty; the worker flushes dirty connections before its
 * loop waits (conn_set_flush), so what the tasks of one turn wrote goes
 * out in one gathered send per connection.  conn_send posts the queue
 * followed by buffers the caller keeps alive until the send completes
 * (a Lua string on a waiting task's stack: no copy).  One send is in
 * flight at a time; what is queued meanwhile goes when it completes.  A
 * writer that waits is told through events->output.
 *
 * Closing sends what is queued first (for CONN_LINGER_MS at most), then
 * is graceful with input too.  Closing with input the peer may still be
 * sending is graceful, as
 * nginx's lingering close: writing is shut down (the peer reads what was
 * sent, then end of stream), input is read and dropped until the peer
 * closes or CONN_LINGER_MS pass, and only then is the socket closed.
 * Closing a socket with unread input would make the kernel send a reset,
 * which destroys replies the peer has not read yet.
 *
 * Ending.  When the host stops or reloads, an accepted connection that
 * sits between two exchanges (CONN_IDLE: nothing received since our last
 * write; nothing buffered or being sent) and has a reader waiting has
 * its input ended at once (CONN_ENDED): the reader gets end of stream,
 * the handler returns, and the close lingers briefly
 * (CONN_END_LINGER_MS), so that a request already on its way meets an
 * end of stream rather than a reset.  The connection itself is left to
 * its task (another task may still write to it).  The others are marked
 * CONN_ENDING and ended the same way when their reader next waits
 * between exchanges (conn_set_end, conn_wait_input).
 */
#ifndef HOST_CONN_H
#define HOST_CONN_H

#include "addr.h"
#include "io.h"
#include "list.h"
#include "pool.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct worker;
struct conn;
struct conn_tls;
struct tls_config;

/* Where a connection really comes from, when a load balancer in front
 * said so in a PROXY header (the layer above reads and checks it):
 * conn_peer and conn_local report these addresses, and the header's bytes
 * are kept as they came for what else it carries (TLVs).  Freed with the
 * conn. */
struct conn_origin {
  struct addr_small local; /* the original destination (family 0: ours) */
  uint32_t len;            /* bytes of header */
  unsigned char header[];  /* the header as received */
};

#define CONN_SEND_BATCH 4        /* strings gathered into one send */
#define CONN_OBUF_CHUNK 16384    /* output buffers come in this size first */
#define CONN_OBUF_HIGH 65536     /* queued bytes past which writes wait */
#define CONN_TLS_DIRECT 4096     /* TLS writes this large skip the queue */
#define CONN_MAXLINE 65536       /* default line limit */
#define CONN_MAXREAD (16u << 20) /* default limit of read("a") */
#define CONN_RBUF_CHUNK 16384    /* read buffers come in this size first */
#define CONN_RBUF_HIGH 65536     /* buffered bytes that pause the stream */
/* Idle read and output buffers of one chunk that a worker keeps for the
 * next connection that needs one, of each kind.  As many as it had in use
 * at once, up to this: with fewer, every connection past them in a busy
 * turn went to malloc and free for its 16 KiB, and glibc gave the freed
 * top of the worker's arena back to the system and faulted it in again
 * (madvise, a TLB flush and page faults per buffer: 14.6 us per message
 * against 6.4 at 50 saturating connections on epoll).  They count against
 * the memory limit; when it binds they are freed first (conn_set_fits and
 * the VM's allocator), and the worker frees them after a peak. */
#define CONN_SPARES 1024
#define CONN_LINGER_MS 5000 /* at most this long draining input on close */
/* An end of stream and a reset this close together are one reset, where
 * the system cannot tell (conn_on_sent). */
#define CONN_RESET_PAIR_MS 50
#define CONN_END_LINGER_MS 1000 /* the same when the host stops or reloads */

/* conn.flags */
#define CONN_EOF 0x01          /* the peer finished sending */
#define CONN_RTIMEDOUT 0x02    /* the waiting read was ended by its deadline */
#define CONN_WTIMEDOUT 0x04    /* the send/connect was, likewise */
#define CONN_CLOSING 0x08      /* close requested */
#define CONN_SHUTDOWN 0x10     /* no more sends */
#define CONN_HANDLE_DONE 0x20  /* the handle's close callback ran */
#define CONN_SKIPLINE 0x40     /* dropping input up to the next '\n' */
#define CONN_LINGER 0x80       /* closing: draining input before the close */
#define CONN_SENT 0x100        /* something was sent: a reset would lose it */
#define CONN_RESET 0x200       /* close abortively (conn_reset) */
#define CONN_RWAIT 0x400       /* a reader waits for input */
#define CONN_STREAM 0x800      /* the stream is posted (counted: nstreams) */
#define CONN_WWAIT 0x1000      /* a writer waits for the send (or connect) */
#define CONN_DRAIN 0x2000      /* closing: sending what was queued first */
#define CONN_CONNECTING 0x4000 /* wreq is a connect */
#define CONN_DIRTY 0x8000      /* queued output, on set->dirty */
#define CONN_CLIENT 0x10000    /* we connected (else a listener accepted) */
#define CONN_TLSOUT 0x20000    /* wreq carries TLS output (conn_tls.c) */
#define CONN_HSWAIT 0x40000    /* a task waits for the TLS handshake */
#define CONN_COUNTED 0x80000   /* counted as open (accepted or connected) */
#define CONN_HELD                                                              \
  0x100000 /* its handler task refers to it: not freed                         \
              before conn_release */
/* CONN_IDLE: between exchanges, nothing received since our last write
 * (or ever).  CONN_ENDING: the host stops or reloads, a read that waits
 * between exchanges ends at once.  CONN_ENDED: it did: its input is over
 * as if the peer had finished (CONN_EOF is set too), and its close will
 * linger (conn_set_end). */
#define CONN_IDLE 0x200000
#define CONN_ENDING 0x400000
#define CONN_ENDED 0x800000

/* c->rerr when TLS failed: conn_tls_detail() says why. */
#define CONN_ETLS (-3000)

/* What a connection tells the layer above, which installs it. */
struct conn_events {
  /* The waiting reader should look again: input arrived (c->hot holds
   * the chunk, hotlen bytes, for the duration of the call; what is left
   * in it afterwards is buffered), the stream ended (CONN_EOF or c->rerr),
   * the read's deadline passed (CONN_RTIMEDOUT), or the conn is closing.
   * CONN_RWAIT is clear by then.  Runs from the loop, or from conn_close
   * (possibly inside the script's own call). */
  void (*input)(struct conn *c);
  /* The waiting writer should look again: the send (or the connect) it
   * waited for completed (c->werr, CONN_WTIMEDOUT tell how).  CONN_WWAIT
   * is clear by then.  Runs from the loop. */
  void (*output)(struct conn *c);
};

/* The send or connect in flight, taken from the set's pool only while
 * one is: an idle connection does not carry it. */
struct conn_wreq {
  struct io_op op;                         /* the kernel's while posted */
  struct io_buf bufs[CONN_SEND_BATCH + 1]; /* the queue, then the strings */
  char *owned;                             /* the queue's buffer, or NULL */
  uint32_t ownedcap;                       /* its size */
};

/* The deadline timer of a connection that has a timeout.  It can outlive
 * its connection: a timer whose conn is gone (c == NULL) only goes back
 * to the pool when its completion arrives. */
struct conn_timer {
  struct io_op op; /* posted while the timer runs */
  struct conn_set *set;
  struct conn *c;
  uint64_t rdue, wdue; /* deadlines of the waiting recv / send (or,
                          while lingering, of the linger); 0: none */
  uint64_t idue;       /* when the waiting read finds the connection idle
                          (conn.idle); 0: none */
  uint64_t deadline;   /* conn_set_deadline's; 0: none */
  uint64_t due;        /* when the posted timer fires */
};

/* The host's limit on open connections (--max-connections), shared by
 * every worker's set: connections are counted as they open (accepted,
 * or connected) and as they are freed.  When the count comes back below
 * the limit while accepting is paused (listener.c pauses it), `resume`
 * runs, on whichever worker freed the connection. */
struct conn_limit {
  atomic_int open;                        /* connections open, all workers */
  int max;                                /* 0: no limit */
  atomic_int paused;                      /* accepting is paused at the limit */
  void (*resume)(struct conn_limit *lim); /* set by the host */
};

/* The count below which accepting starts again: a little under the
 * limit, so that a host at its limit does not pause and resume at every
 * close. */
static inline int conn_limit_low(const struct conn_limit *lim) {
  int margin = lim->max / 16;
  return lim->max - (margin < 1 ? 1 : margin);
}

/* Every connection of a worker, and what they share. */
struct conn_set {
  struct io_loop *loop;
  int worker;        /* for log lines */
  int *stopping;     /* the worker's "killing" flag: no lingering */
  struct list conns; /* every open connection */
  int nconns;
  int nstreams;             /* posted receive streams (but lingering ones) */
  struct pool conn_pool;    /* struct conn */
  struct pool wreq_pool;    /* struct conn_wreq: sends, connects */
  struct pool timer_pool;   /* struct conn_timer */
  char *spare[CONN_SPARES]; /* idle read buffers of CONN_RBUF_CHUNK */
  int nspare;
  char *ospare[CONN_SPARES]; /* idle output buffers of CONN_OBUF_CHUNK */
  int nospare;
  struct conn *dirty; /* connections with queued output (dirty_next) */
  size_t buf_bytes;   /* read and output buffers held, spares included */
  size_t mem_limit;   /* the worker's memory limit (buffers + other), 0 */
  /* The rest of the worker's memory, counted against the same limit by
   * whoever holds it (the VM layer's allocator: every VM of the worker,
   * two of them while a reload drains the old one), and what it may hold,
   * kept up to date as the buffers change (mem_limit - buf_bytes;
   * SIZE_MAX without a limit). */
  size_t other_bytes;
  size_t other_room;
  struct worker_stats *stats; /* the worker's counters (worker.h) */
  struct conn_limit *limit;   /* the host's, or NULL */
  int ending; /* stopping: accepted conns are born CONN_ENDING */
};

struct conn {
  struct io_handle h; /* first: the close callback casts back */
  struct io_op rop;   /* the receive stream (kernel's while posted) */
  struct conn_set *set;
  struct list_node node; /* in set->conns */
  const struct conn_events *ev;
  struct conn_wreq *wreq;     /* the send/connect in flight, or NULL */
  struct conn_tls *tls;       /* TLS on this connection, or NULL */
  struct conn_origin *origin; /* what a PROXY header said, or NULL */
  struct conn *dirty_next;    /* on set->dirty (CONN_DIRTY) */
  char *obuf;                 /* queued output: obuf[0 .. olen) */
  uint32_t olen, ocap;
  struct conn_timer *timer; /* set once a deadline was armed */
  const char *hot;          /* the chunk being offered (ev->input only) */
  uint32_t hotlen;          /* bytes of it not taken yet */
  uint32_t eof_ms;          /* with eof_reset 2: io_now() in ms when the end of
                              stream came (a reset a send sees soon after was it) */
  char *rbuf;               /* received, unread: rbuf[rpos .. rpos+rlen) */
  uint32_t rpos, rlen, rcap;
  uint32_t rneed;         /* bytes the waiting read needs buffered */
  uint32_t maxline;       /* read("l") limit */
  uint32_t maxread;       /* read("a") limit */
  uint32_t timeout;       /* ms per operation, 0 = none */
  int rerr;               /* sticky receive error (IO_E*), 0 = none */
  int werr;               /* sticky send error */
  struct addr_small peer; /* the peer's address, cached when known */
  uint32_t flags;         /* CONN_* */
  /* Owned by the layer above (lconn.c); kept here, packed, because an
   * idle connection's size is what 10,000 idle connections cost. */
  uint8_t rmode;     /* the pending read's mode */
  uint8_t lasterr;   /* the last failure's word, 0 = none */
  uint8_t owner;     /* which of the worker's VMs it belongs to */
  uint8_t eof_reset; /* the end of stream came while a send was in flight,
                        with the connection torn down (1), or unknown (2):
                        a reset that send reports was that end */
  uint32_t want;     /* the pending read's n / max */
  uint32_t idle;     /* ms a read may wait with nothing arriving before the
                        connection is closed (listener option), 0 = none */
  void *box;         /* the Lua userdata, NULL once collected */
  void *reader;      /* the task waiting to read, or NULL */
  void *writer;      /* the task waiting on wreq, or NULL */
};

/* ---- the set ----------------------------------------------------------- */

void conn_set_init(struct conn_set *s, struct io_loop *loop, int worker,
                   int *stopping, struct worker_stats *stats,
                   struct conn_limit *limit);
/* After every conn is freed (a forced stop may leave pooled objects:
 * their pools go as a whole). */
void conn_set_free(struct conn_set *s);
/* other_room after a change of the buffers or of the limit. */
static inline void conn_set_room(struct conn_set *s) {
  s->other_room = !s->mem_limit                 ? SIZE_MAX
                  : s->mem_limit > s->buf_bytes ? s->mem_limit - s->buf_bytes
                                                : 0;
}
/* The buffers hold n more bytes / n bytes fewer. */
static inline void conn_set_grew(struct conn_set *s, size_t n) {
  s->buf_bytes += n;
  conn_set_room(s);
}
static inline void conn_set_shrank(struct conn_set *s, size_t n) {
  s->buf_bytes -= n;
  conn_set_room(s);
}

/* Frees the idle buffers the set keeps (conn_set_trim does it too);
 * nonzero if there were any. */
int conn_set_drop_spares(struct conn_set *s);
/* Can the worker hold `more` bytes of buffers within its limit?  If not,
 * the idle buffers it keeps go first. */
static inline int conn_set_fits_now(const struct conn_set *s, size_t more) {
  return !s->mem_limit ||
         (more <= s->mem_limit &&
          s->buf_bytes + s->other_bytes <= s->mem_limit - more);
}
static inline int conn_set_fits(struct conn_set *s, size_t more) {
  return conn_set_fits_now(s, more) ||
         (conn_set_drop_spares(s) && conn_set_fits_now(s, more));
}
/* Gives back what the set keeps for later (spare buffers, pooled objects
 * no connection uses): after a peak, before the worker waits. */
void conn_set_trim(struct conn_set *s);
/* Close every connection at once, without lingering (a forced stop). */
void conn_set_abort_all(struct conn_set *s);
/* The same for the connections of one owner (conn.owner). */
void conn_set_abort_owner(struct conn_set *s, int owner);
/* The host stops (owner < 0: every accepted connection, and those still
 * to be accepted) or reloads (the accepted connections of one owner): a
 * connection between exchanges (conn_between: its reader waits, nothing
 * is buffered or being sent, nothing came since our last write) has its
 * input ended now (CONN_ENDED), so its reader gets "closed" at once
 * instead of keeping the host for the whole grace, and the others are
 * marked CONN_ENDING, so that they end as soon as they get there.  One
 * in the middle of an exchange gets the grace. */
void conn_set_end(struct conn_set *s, int owner);
/* Posted receive streams: by themselves no reason for a worker to stay (a
 * script that read its reply and ended is done), unless a reader waits on
 * one (conn_set_reading). */
static inline int conn_set_streams(const struct conn_set *s) {
  return s->nstreams;
}
/* Some connection has a reader waiting (a walk: call it only when little
 * else is left). */
int conn_set_reading(const struct conn_set *s);

/* ---- one connection ---------------------------------------------------- */

/* A closed conn with no socket, in the set; NULL if no memory. */
struct conn *conn_new(struct conn_set *s, const struct conn_events *ev);
/* Adopt an accepted socket; on failure the conn is freed. */
int conn_open(struct conn *c, io_sock sock);
/* Start connecting (the handle is created here).  Its completion sets
 * c->werr (0: connected; the peer's address is then remembered) and tells
 * a waiting writer (conn_wait_output).  0, or IO_ENOMEM. */
int conn_connect(struct conn *c, const struct sockaddr *addr, int len);
/* Request a close (idempotent).  A waiting reader is told (ev->input); a
 * send in flight completes cancelled; a connection the peer may still be
 * sending on lingers (see the top). */
void conn_close(struct conn *c);
/* Close now, without lingering (a forced stop). */
void conn_abort(struct conn *c);
/* The task that handles c refers to it until it ends, whatever happens to
 * the Lua box meanwhile (collected, or closed by `<close>`): conn_hold
 * keeps c allocated (closed or not) until conn_release, which closes it
 * (idempotent) and lets it be freed.  A forced stop releases them all
 * (the tasks will never run again). */
void conn_hold(struct conn *c);
void conn_release(struct conn *c);
/* Close abortively: the peer gets a reset, unsent data is dropped. */
void conn_reset(struct conn *c);
static inline int conn_closing(const struct conn *c) {
  return (c->flags & CONN_CLOSING) != 0;
}
/* "ip:port" of the peer / of our end, or "?" */
void conn_peer(struct conn *c, char *buf, size_t size);
void conn_local(struct conn *c, char *buf, size_t size);
/* After an accept or a connect: where the peer's address would be lost
 * with a reset (io.h's IO_PEER_LASTS is 0), it is looked up now, for
 * logs; elsewhere conn_peer_addr looks it up when first needed. */
void conn_peer_connected(struct conn *c);
/* The peer's address, looked up and remembered on first use (after an
 * accept, only then: a system call per connection saved, io.h's
 * IO_PEER_LASTS), or NULL if it cannot be known (closed before it was
 * asked for, or, on Windows, reset before the accept). */
const struct addr_small *conn_peer_addr(struct conn *c);
/* A PROXY header said where c comes from (src) and was going (dst): the
 * peer and local addresses report them from now on (either may be NULL:
 * the socket's stays), and header[0 .. len) is kept (copied).  0, or
 * IO_ENOMEM. */
int conn_set_origin(struct conn *c, const struct sockaddr *src,
                    const struct sockaddr *dst, const void *header, size_t len);

/* Sets (due: an io_clock() instant) or clears (0) the connection's
 * deadline; an operation waiting now gets it too if it is sooner.  0, or
 * IO_ENOMEM (no timer). */
int conn_set_deadline(struct conn *c, uint64_t due);

/* Seconds (>= 0) to the ms of conn.timeout: at least 1 ms, so that 0 s
 * means "expire at the next turn", and at most about 49 days. */
uint32_t conn_timeout_ms(double seconds);

/* ---- input ----------------------------------------------------------- */

/* A reader waits until its read can complete with `need` bytes buffered
 * (for the high water: the stream is not paused below it): sets
 * CONN_RWAIT, posts the receive stream if it is not, arms the read
 * deadline.  0; IO_ECANCELED when the connection is CONN_ENDING and
 * between exchanges: its input is ended then (CONN_EOF), and the read
 * ends "closed" without waiting; or another IO_E* code (no memory for
 * the stream, or misuse: a bug). */
int conn_wait_input(struct conn *c, size_t need);
/* Between exchanges: an accepted connection with nothing buffered,
 * nothing being sent, nothing received since our last write. */
int conn_between(const struct conn *c);
/* Buffered input.  A buffer that would take the worker past its memory
 * limit (conn_set.mem_limit) is refused: -1 / NULL, as with no memory,
 * and the stream fails with IO_ENOMEM ("no resources"). */
int conn_rbuf_append(struct conn *c, const char *p, size_t n);
void conn_rbuf_consume(struct conn *c, size_t n);
static inline const char *conn_rdata(const struct conn *c) {
  return c->rbuf + c->rpos;
}
/* Takes n bytes of the hot chunk (during ev->input). */
static inline void conn_hot_take(struct conn *c, size_t n) {
  c->hot += n;
  c->hotlen -= (uint32_t)n;
}

/* ---- output ------------------------------------------------------------ */

/* Queues n bytes (copied) to go out with the next send; 0, or IO_ENOMEM
 * (no memory, or the worker's limit: conn_set.mem_limit).
 * The worker flushes before its loop waits, so no data is left behind. */
int conn_write(struct conn *c, const char *p, size_t n);
static inline size_t conn_queued(const struct conn *c) { return c->olen; }
/* Room for n more bytes at the end of the queue, to write into in place
 * (an encoder's output); NULL if no memory.  conn_write_commit(c, k)
 * queues the first k bytes written there. */
char *conn_write_space(struct conn *c, size_t n);
void conn_write_commit(struct conn *c, size_t n);
/* Posts the queue followed by bufs[0 .. n): n <= CONN_SEND_BATCH and, in
 * all, at most IO_SEND_MAXBYTES (with the queue).  *taken says how many
 * bytes of bufs the send carries: all of them on a plain connection;
 * with TLS what the engine encrypted (the rest waits: send it after this
 * one).  The caller keeps bufs' memory alive until the send completes.
 * 0; IO_EBUSY while a send is in flight (wait for it); the sticky error;
 * or IO_ENOMEM. */
int conn_send(struct conn *c, const struct io_buf *bufs, int n, size_t *taken);
/* Posts the queue if there is one and no send is in flight (else it goes
 * when that one completes).  0, or an error as conn_send's. */
int conn_flush(struct conn *c);
/* Output queued or in flight (TLS records included). */
int conn_sending(const struct conn *c);
/* A writer waits for the send or connect in flight: CONN_WWAIT, and the
 * write deadline armed if the connection has a timeout.  On expiry the
 * op is cancelled and CONN_WTIMEDOUT set; its completion tells it. */
void conn_wait_output(struct conn *c);
/* The write deadline's operation is over (a connect or a TLS handshake
 * that completed):
 * forgets its deadline and cancels the timer if no other operation waits
 * for one, as a posted timer keeps the worker up until it fires (a script
 * that connected with a deadline and ended would linger until then). */
void conn_settle_deadline(struct conn *c);
/* Every dirty connection's queue goes out (the worker, before it waits). */
void conn_set_flush(struct conn_set *s);

/* ---- TLS (conn_tls.c) ------------------------------------------------- */

/* Starts TLS on c (accepted: the server side; connected: the client
 * side, with servername for SNI and verification) with the handshake due
 * within handshake_ms.  The waiting task (conn_wait_handshake) is told
 * through events->output when it ends: conn_tls_ready() then, or
 * c->rerr == CONN_ETLS (or IO_ETIMEDOUT for the deadline).  0, or
 * IO_ENOMEM. */
int conn_tls_start(struct conn *c, struct tls_config *cfg,
                   const char *servername, uint32_t handshake_ms);
/* A task waits for the handshake (CONN_WWAIT; the deadline is the one
 * conn_tls_start armed). */
void conn_wait_handshake(struct conn *c);
int conn_tls_ready(const struct conn *c);
/* Why TLS failed ("certificate verify failed: ..."), "" if it has not. */
const char *conn_tls_detail(const struct conn *c);
/* The session, for what its handshake agreed on (tls_info); NULL. */
struct tls_session *conn_tls_session(const struct conn *c);

#endif
