/*
 * resolve.h -- name resolution off the workers' loops: a small pool of
 * threads calling the system resolver (getaddrinfo, so /etc/hosts and
 * nsswitch apply; ws2_32's on Windows), for host.resolve and for
 * host.connect("name:port").
 *
 * A worker fills a struct resolve_req (its done callback and data),
 * submits it with a name and a family, and goes on with its loop.  The
 * pool answers by calling req->done(req) ON A POOL THREAD (never the
 * worker's), with req->res filled in; the worker's done posts the request
 * into its own inbox and wakes its loop.  Identical lookups in flight
 * (same name, same family) share one getaddrinfo call: a thousand
 * requests for one name make one call and a thousand done calls.
 * Numeric addresses and "localhost" never need the pool: resolve_fast
 * answers them at once, on the caller's thread.
 *
 * Ownership.  The caller allocates the request and owns it, except from a
 * successful resolve_submit until the pool gives it back, which happens
 * exactly once, one of two ways:
 *   - done(req) is called (a result, or RESOLVE_ECANCELED when the pool
 *     stops); from inside done the request is the caller's again (done
 *     may free it);
 *   - resolve_cancel(req) returns 0: the request was still waiting for
 *     its lookup (queued, or sharing one in progress) and has been
 *     removed; done will never be called for it; the caller may free it
 *     at once.  If resolve_cancel returns RESOLVE_EBUSY, done is running
 *     or about to: the caller must let it run and discard the result.
 * The pool allocates one small record per distinct name in flight and
 * frees it itself.
 *
 * Stopping.  resolve_stop gives back every request at once (done with
 * RESOLVE_ECANCELED, called on the stopping thread for those not already
 * being answered), then waits up to timeout_ms for the threads to
 * finish.  A thread stuck in getaddrinfo past that is detached, not
 * waited for: process exit never hangs on a slow resolver.  A detached
 * thread frees the pool's memory when its call finally returns; it calls
 * no done.
 */
#ifndef HOST_RESOLVE_H
#define HOST_RESOLVE_H

#include <stddef.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#define RESOLVE_MAX_ADDRS 16 /* addresses kept per answer */
#define RESOLVE_NAME_MAX 253 /* bytes in a DNS name */
#define RESOLVE_THREADS 2    /* default pool size */
#define RESOLVE_THREADS_MAX 16
#define RESOLVE_QUEUE 4096 /* default bound on requests in flight */

enum { RESOLVE_ANY = 0, RESOLVE_V4 = 4, RESOLVE_V6 = 6 }; /* family */

/* Results: 0, or one of these (resolve_strerror gives the words). */
enum {
  RESOLVE_OK = 0,
  RESOLVE_ENOTFOUND = -1, /* "not found": no such name, or no address of
                             the family asked for */
  RESOLVE_EAGAIN = -2,    /* "temporary failure" (EAI_AGAIN) */
  RESOLVE_EFAIL = -3,     /* "resolver failure": any other error */
  RESOLVE_EFULL = -4,     /* "full": too many requests in flight */
  RESOLVE_ECANCELED = -5, /* "canceled": the pool stopped */
  RESOLVE_EINVAL = -6,    /* "invalid name": empty, too long, a NUL byte */
  RESOLVE_EBUSY = -7,     /* cancel: too late, done is on its way */
  RESOLVE_ENOMEM = -8     /* "out of memory" (submit) */
};

/* An address as the resolver gave it; its port is 0 (the caller sets it). */
union resolve_addr {
  struct sockaddr sa;
  struct sockaddr_in in4;
  struct sockaddr_in6 in6;
};

struct resolve_result {
  int status;                                  /* RESOLVE_OK or an error */
  int naddrs;                                  /* addresses in addrs */
  union resolve_addr addrs[RESOLVE_MAX_ADDRS]; /* in the resolver's order */
};

struct resolve_lookup;

struct resolve_req {
  void (*done)(struct resolve_req *req); /* set by the caller */
  void *data;                            /* the caller's */
  struct resolve_result res;             /* filled before done */
  /* private to the pool */
  struct resolve_req *next;      /* next waiter on the lookup */
  struct resolve_lookup *lookup; /* NULL once being answered */
};

/* A lookup function: fills res for name (NUL-terminated) and family.
 * The pool's default calls getaddrinfo; tests substitute their own. */
typedef void (*resolve_fn)(const char *name, int family,
                           struct resolve_result *res, void *ud);

struct resolve_config {
  int threads;   /* 1..RESOLVE_THREADS_MAX; 0: RESOLVE_THREADS */
  int queue;     /* requests in flight at most; 0: RESOLVE_QUEUE */
  resolve_fn fn; /* NULL: resolve_system */
  void *ud;      /* fn's argument */
};

struct resolver;

/* Starts a pool (cfg NULL: the defaults).  NULL if out of memory or no
 * thread could start.  sys_init() must have run (Winsock). */
struct resolver *resolve_new(const struct resolve_config *cfg);
/* Gives back every request (RESOLVE_ECANCELED), waits up to timeout_ms
 * for the threads, detaches the rest, and frees the pool (at once, or
 * when the last detached thread returns).  r is invalid afterwards.  Not
 * from inside a done callback (it would wait for its own thread). */
void resolve_stop(struct resolver *r, unsigned timeout_ms);

/* Queues a lookup of name (len bytes) for req (done set).  0: done will be
 * called (or cancel will return 0).  RESOLVE_EFULL, RESOLVE_EINVAL (also
 * for a family other than the three), RESOLVE_ENOMEM, RESOLVE_ECANCELED
 * (the pool is stopping): done will not be called. */
int resolve_submit(struct resolver *r, struct resolve_req *req,
                   const char *name, size_t len, int family);
/* 0: req removed, done will not be called.  RESOLVE_EBUSY: done runs. */
int resolve_cancel(struct resolver *r, struct resolve_req *req);

/* Answers without the pool when it can: a numeric IPv4 or IPv6 address,
 * or "localhost" (127.0.0.1 then ::1, as the family allows).  1 with res
 * filled (status RESOLVE_ENOTFOUND if the address is of the other family),
 * 0 if the name needs the pool. */
int resolve_fast(const char *name, size_t len, int family,
                 struct resolve_result *res);
/* The default lookup: getaddrinfo, at most RESOLVE_MAX_ADDRS addresses. */
void resolve_system(const char *name, int family, struct resolve_result *res,
                    void *ud);
/* The API's words: "not found", "temporary failure", "full"... */
const char *resolve_strerror(int err);

#endif
