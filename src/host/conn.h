/*
 * conn.h -- a connection: its socket, its in-flight operations, the bytes
 * received but not yet read, and its deadlines.
 *
 * The worker owns every conn.  Lua sees a box (lconn.c) that points here;
 * closing from Lua only *requests* a close.  The conn is freed once the
 * handle's last completion and the deadline timer's completion are in,
 * because until then the kernel may still write into its records.
 *
 * Deadlines are lazy: one timer per connection, posted for the earliest
 * deadline and not cancelled when an operation finishes in time.  When it
 * fires it cancels whatever is overdue and re-posts itself for what is
 * still waiting, so a busy connection with a timeout costs no timer work
 * per message.  Each side's deadline belongs to the operation that armed
 * it (0 = none): arming with no timeout clears it, so an old deadline can
 * never reach a newer operation.
 *
 * Closing with input the peer may still be sending is graceful, as
 * nginx's lingering close: writing is shut down (the peer reads what was
 * sent, then end of stream), input is read and dropped until the peer
 * closes or CONN_LINGER_MS pass, and only then is the socket closed.
 * Closing a socket with unread input would make the kernel send a reset,
 * which destroys replies the peer has not read yet.
 */
#ifndef HOST_CONN_H
#define HOST_CONN_H

#include "addr.h"
#include "io.h"

#include <stddef.h>
#include <stdint.h>

struct worker;
struct task;

#define CONN_SEND_BATCH 4     /* strings gathered into one send */
#define CONN_MAXLINE 65536    /* default line limit */
#define CONN_MAXREAD (16u << 20) /* default limit of read("a") */
#define CONN_RBUF_CHUNK 16384 /* read buffers come in this size first */
#define CONN_LINGER_MS 5000   /* at most this long draining input on close */

/* conn.flags */
#define CONN_EOF 0x01         /* the peer finished sending */
#define CONN_RTIMEDOUT 0x02   /* the recv was cancelled by its deadline */
#define CONN_WTIMEDOUT 0x04   /* the send/connect was, likewise */
#define CONN_CLOSING 0x08     /* close requested */
#define CONN_SHUTDOWN 0x10    /* no more sends */
#define CONN_HANDLE_DONE 0x20 /* the handle's close callback ran */
#define CONN_SKIPLINE 0x40    /* dropping input up to the next '\n' */
#define CONN_LINGER 0x80      /* closing: draining input before the close */
#define CONN_SENT 0x100       /* something was sent: a reset would lose it */
#define CONN_RESET 0x200      /* close abortively (conn_reset) */

struct conn_box { struct conn *c; };

/* The send or connect in flight, taken from the worker's pool only while
 * one is: an idle connection does not carry it. */
struct conn_wreq {
  struct io_op op;           /* the kernel's while posted */
  struct io_buf bufs[CONN_SEND_BATCH]; /* the strings being sent */
};

/* The deadline timer of a connection that has a timeout.  It can outlive
 * its connection: a timer whose conn is gone (c == NULL) only goes back
 * to the pool when its completion arrives. */
struct conn_timer {
  struct io_op op;           /* posted while the timer runs */
  struct worker *w;
  struct conn *c;
  uint64_t rdue, wdue;       /* deadlines of the waiting recv / send (or,
                                while lingering, of the linger); 0: none */
  uint64_t due;              /* when the posted timer fires */
};

struct conn {
  struct io_handle h;        /* first: the close callback casts back */
  struct io_op rop;          /* the recv in flight (kernel's while posted) */
  struct worker *w;
  struct conn *prev, *next;  /* the worker's open connections */
  struct conn_box *box;      /* the Lua userdata, NULL once collected */
  struct task *reader;       /* task waiting on rop, or NULL */
  struct task *writer;       /* task waiting on wreq, or NULL */
  struct conn_wreq *wreq;    /* the send/connect in flight, or NULL */
  struct conn_timer *timer;  /* set once a deadline was armed */
  char *rbuf;                /* received, unread: rbuf[rpos .. rpos+rlen) */
  uint32_t rpos, rlen, rcap;
  uint32_t maxline;          /* read("l") limit */
  uint32_t maxread;          /* read("a") limit */
  uint32_t want;             /* the pending read's n / max */
  uint32_t timeout;          /* ms per operation, 0 = none */
  int rerr;                  /* sticky receive error (IO_E*), 0 = none */
  int werr;                  /* sticky send error */
  struct addr_small peer;    /* the peer's address, cached when known */
  uint16_t flags;            /* CONN_* */
  uint8_t rmode;             /* the pending read's mode (lconn.c) */
  uint8_t lasterr;           /* last failure's word (lconn.c), 0 = none */
};

/* A closed conn with no socket, in the worker's list; NULL if no memory. */
struct conn *conn_new(struct worker *w);
/* Adopt an accepted socket; on failure the conn is freed. */
int conn_open(struct conn *c, io_sock sock);
/* Request a close (idempotent).  Waiting tasks resume with "closed"; a
 * connection the peer may still be sending on lingers (see the top). */
void conn_close(struct conn *c);
/* Close now, without lingering (a forced stop). */
void conn_abort(struct conn *c);
/* Close abortively: the peer gets a reset, unsent data is dropped. */
void conn_reset(struct conn *c);
/* While lingering, the receive stream's completions come here: data is
 * dropped; the stream's end (or the deadline) ends the linger. */
void conn_linger_recv(struct conn *c, int res);
/* Remembers the peer's address (after accept or connect), for logs. */
void conn_cache_peer(struct conn *c);
static inline int conn_closing(const struct conn *c) {
  return (c->flags & CONN_CLOSING) != 0;
}
/* "ip:port" of the peer / of our end, or "?" */
void conn_peer(struct conn *c, char *buf, size_t size);
void conn_local(struct conn *c, char *buf, size_t size);

/* Seconds (>= 0) to the ms of conn.timeout: at least 1 ms, so that 0 s
 * means "expire at the next turn", and at most about 49 days. */
uint32_t conn_timeout_ms(double seconds);

/* Buffered input. */
int conn_rbuf_append(struct conn *c, const char *p, size_t n);
void conn_rbuf_consume(struct conn *c, size_t n);
static inline const char *conn_rdata(const struct conn *c) {
  return c->rbuf + c->rpos;
}

/* Start the deadline of the op just posted on side `wr` (0 recv, 1 send
 * or connect), if the connection has a timeout. */
void conn_arm(struct conn *c, int wr);

/* A send/connect record for c (NULL if out of memory), and its return
 * once its completion has been handled. */
struct conn_wreq *conn_wreq_take(struct conn *c);
void conn_wreq_give(struct conn *c);

#endif
