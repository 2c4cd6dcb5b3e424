/*
 * listener.h -- a listening socket of one worker, accepting with one
 * multishot accept and handing each connection to on_conn.
 *
 * Failed accepts are not fatal: running out of descriptors (EMFILE,
 * ENFILE) or memory pauses accepting for ACCEPT_PAUSE_MS, twice as long
 * at each failure in a row up to ACCEPT_PAUSE_MAX_MS, and then tries
 * again, so the backlog waits instead of the loop spinning; anything else
 * is logged and accepting goes on.
 *
 * At the host's connection limit (--max-connections, conn.h's
 * conn_limit) the listener whose accept reached it stops accepting and
 * the host tells the other workers' to stop too (listener_pause, through
 * their inboxes: an accept already under way there may still land, so
 * the count can pass the limit by a few); they wait, with no operation
 * posted, until a close brings the count below the limit's low mark;
 * then the host asks every worker to listener_resume().
 */
#ifndef HOST_LISTENER_H
#define HOST_LISTENER_H

#include "addr.h"
#include "io.h"
#include "list.h"
#include "log.h"

#include <stdint.h>

struct worker;
struct group;
struct listener;
struct tls_config;

#define ACCEPT_PAUSE_MS 100      /* the first back-off */
#define ACCEPT_PAUSE_MAX_MS 1600 /* the longest */

/* listener.flags */
#define LISTENER_CLOSING 0x01     /* close requested: no more accepts */
#define LISTENER_HANDLE_DONE 0x02 /* its handle is closed (or it had none) */
#define LISTENER_ACCEPTS 0x04     /* h listens; else a hand-off member */
#define LISTENER_FULL 0x08        /* paused at the connection limit */
#define LISTENER_WARN_MS 10000    /* one accept warning per 10 s at most */

typedef void (*listener_conn_cb)(struct listener *l, io_sock sock);
typedef void (*listener_free_cb)(struct listener *l);

struct listener {
  struct io_handle h; /* first: the close callback casts back */
  struct io_op aop;   /* the multishot accept (kernel's while posted) */
  struct io_op pause; /* the back-off timer (likewise) */
  struct worker *w;
  struct list_node node;       /* in the worker's listeners */
  void *box;                   /* the owner's handle on it (its first field
                                  points here; cleared at the free), or NULL */
  struct group *group;         /* the workers listening on this address */
  listener_conn_cb on_conn;    /* a connection was accepted for us */
  listener_free_cb on_free;    /* the listener is about to be freed */
  void *ud;                    /* the owner's (the handler, say) */
  void *owner;                 /* the owner's: which VM serves it */
  void *next;                  /* the owner's: a change of hands pending
                                  (a reload), freed by on_free */
  uint32_t maxline, maxread;   /* options given to each connection */
  uint32_t timeout;            /* ms, 0 = none */
  uint32_t idle;               /* ms, 0 = none (conn.idle) */
  uint32_t backoff;            /* ms of the next back-off, 0: none yet */
  struct tls_config *tls;      /* accepted connections speak TLS (a
                                  reference, dropped at the free) */
  uint32_t handshake;          /* ms a TLS handshake may take */
  uint32_t proxy_ms;           /* ms the PROXY header may take */
  int proxy;                   /* connections start with a PROXY header */
  int flags;                   /* LISTENER_* */
  struct log_rate warned;      /* accept failures are logged sparingly */
  char address[ADDR_TEXT_MAX]; /* the bound "ip:port" */
};

/* Binds (joining the group `key` of this address across workers) and
 * starts accepting.  0, or an IO_E* code and *out untouched (on_free is
 * not called then).  on_free, if set, runs once just before the free. */
int listener_open(struct worker *w, const char *key, struct addr *a,
                  int backlog, listener_conn_cb on_conn,
                  listener_free_cb on_free, void *ud, struct listener **out);
/* Stops accepting at once (idempotent) and frees the listener once its
 * handle and its back-off timer are done; on_free runs then. */
void listener_close(struct listener *l);
static inline int listener_closing(const struct listener *l) {
  return (l->flags & LISTENER_CLOSING) != 0;
}
/* Starts accepting on l->h, which group.c has just opened. */
void listener_start(struct listener *l);
/* The host reached its connection limit (on w, from the host's message:
 * the worker whose accept reached it paused at once) / is below it again:
 * w's listeners stop / start accepting. */
void listener_pause(struct worker *w);
void listener_resume(struct worker *w);

#endif
