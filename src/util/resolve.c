/*
 * resolve.c -- the resolver pool (see resolve.h).
 *
 * One mutex guards everything: the FIFO of lookups not yet taken, the
 * table of lookups in flight (queued or running, keyed by name and family
 * so identical requests join one), and each lookup's list of waiting
 * requests.  A thread takes the oldest lookup, calls the lookup function
 * without the lock, then detaches the waiters under the lock and calls
 * their done without it.  A request whose lookup pointer is NULL is being
 * answered: that is how cancel knows it is too late.
 *
 * The pool is reference-counted (its owner plus each thread still
 * running), so a thread detached by resolve_stop while stuck in
 * getaddrinfo can still take the lock and free what it holds when it
 * comes back; the last one out frees the pool.  The in-flight table is
 * keyed with SipHash under a random key: names come from scripts, and the
 * table is small (bounded by the queue) but should not degrade.
 */
#include "resolve.h"

#include "fault.h"
#include "siphash.h"
#include "sys.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <arpa/inet.h>
#include <netdb.h>
#endif

#define BUCKETS 1024

struct resolve_lookup {
  char name[RESOLVE_NAME_MAX + 1]; /* NUL-terminated */
  size_t len;                      /* its length */
  int family;                      /* RESOLVE_ANY, _V4, _V6 */
  uint32_t hash;                   /* of name and family */
  int running;                     /* taken by a thread */
  struct resolve_lookup *hnext;    /* next in its bucket */
  struct resolve_lookup *qnext;    /* next in the queue */
  struct resolve_req *waiters;     /* through req->next */
};

struct slot {
  struct resolver *r; /* the pool */
  int i;              /* this thread's index */
};

struct resolver {
  sys_mutex lock;                        /* guards all below */
  sys_cond work;                         /* queue not empty, or stopping */
  sys_cond gone;                         /* a thread has finished */
  int stopping;                          /* resolve_stop has begun */
  int refs;                              /* owner + threads running */
  int nthreads;                          /* threads started */
  int alive;                             /* threads not yet finished */
  int inflight;                          /* requests submitted, not back */
  int queue_max;                         /* bound on inflight */
  struct resolve_lookup *qhead, *qtail;  /* lookups not yet taken */
  struct resolve_lookup *table[BUCKETS]; /* lookups in flight */
  resolve_fn fn;                         /* the lookup */
  void *ud;                              /* its argument */
  unsigned char seed[SIPHASH_KEY_SIZE];  /* the table's key */
  sys_thread threads[RESOLVE_THREADS_MAX];
  int exited[RESOLVE_THREADS_MAX]; /* thread i is done */
  struct slot slots[RESOLVE_THREADS_MAX];
};

/* ---- the table and the queue ------------------------------------------- */

static struct resolve_lookup **bucket(struct resolver *r, uint32_t h) {
  return &r->table[h % BUCKETS];
}

static struct resolve_lookup *find(struct resolver *r, uint32_t h,
                                   const char *name, size_t len, int family) {
  for (struct resolve_lookup *lk = *bucket(r, h); lk; lk = lk->hnext)
    if (lk->hash == h && lk->family == family && lk->len == len &&
        memcmp(lk->name, name, len) == 0)
      return lk;
  return NULL;
}

static void unhash(struct resolver *r, struct resolve_lookup *lk) {
  struct resolve_lookup **link = bucket(r, lk->hash);
  while (*link != lk)
    link = &(*link)->hnext;
  *link = lk->hnext;
}

static void dequeue(struct resolver *r, struct resolve_lookup *lk) {
  struct resolve_lookup **link = &r->qhead, *prev = NULL;
  while (*link != lk) {
    prev = *link;
    link = &(*link)->qnext;
  }
  *link = lk->qnext;
  if (r->qtail == lk)
    r->qtail = prev;
}

/* Takes lk's waiters off it (they are being answered). */
static struct resolve_req *take_waiters(struct resolver *r,
                                        struct resolve_lookup *lk) {
  struct resolve_req *w = lk->waiters;
  for (struct resolve_req *x = w; x; x = x->next) {
    x->lookup = NULL;
    r->inflight--;
  }
  lk->waiters = NULL;
  return w;
}

/* Calls done for each waiter with res (no lock held). */
static void deliver(struct resolve_req *w, const struct resolve_result *res) {
  while (w) {
    struct resolve_req *next = w->next; /* done may free w */
    w->res = *res;
    w->done(w);
    w = next;
  }
}

/* ---- the threads ----------------------------------------------------------
 */

static void destroy(struct resolver *r) {
  sys_cond_destroy(&r->work);
  sys_cond_destroy(&r->gone);
  sys_mutex_destroy(&r->lock);
  free(r);
}

static void run(void *p) {
  struct slot *s = p;
  struct resolver *r = s->r;
  sys_thread_background(); /* a busy CPU serves the loops first */
  sys_mutex_lock(&r->lock);
  for (;;) {
    while (!r->qhead && !r->stopping)
      sys_cond_wait(&r->work, &r->lock);
    if (r->stopping)
      break;
    struct resolve_lookup *lk = r->qhead;
    r->qhead = lk->qnext;
    if (!r->qhead)
      r->qtail = NULL;
    lk->running = 1;
    sys_mutex_unlock(&r->lock);
    struct resolve_result res;
    r->fn(lk->name, lk->family, &res, r->ud);
    sys_mutex_lock(&r->lock);
    unhash(r, lk);
    struct resolve_req *w = take_waiters(r, lk);
    sys_mutex_unlock(&r->lock);
    deliver(w, &res);
    free(lk);
    sys_mutex_lock(&r->lock);
  }
  r->exited[s->i] = 1;
  r->alive--;
  sys_cond_broadcast(&r->gone);
  int last = --r->refs == 0;
  sys_mutex_unlock(&r->lock);
  if (last)
    destroy(r);
}

struct resolver *resolve_new(const struct resolve_config *cfg) {
  struct resolve_config c = {0, 0, NULL, NULL};
  if (cfg)
    c = *cfg;
  if (c.threads <= 0)
    c.threads = RESOLVE_THREADS;
  if (c.threads > RESOLVE_THREADS_MAX)
    c.threads = RESOLVE_THREADS_MAX;
  if (c.queue <= 0)
    c.queue = RESOLVE_QUEUE;
  struct resolver *r =
      fault_fail(FAULT_C, "resolver") ? NULL : calloc(1, sizeof *r);
  if (!r)
    return NULL;
  sys_mutex_init(&r->lock);
  sys_cond_init(&r->work);
  sys_cond_init(&r->gone);
  r->queue_max = c.queue;
  r->fn = c.fn ? c.fn : resolve_system;
  r->ud = c.ud;
  sys_random(r->seed, sizeof r->seed);
  r->refs = 1;
  sys_mutex_lock(&r->lock); /* threads wait for the counts to be right */
  for (int i = 0; i < c.threads; i++) {
    r->slots[i] = (struct slot){r, i};
    if (sys_thread_start(&r->threads[i], run, &r->slots[i]) != 0)
      break;
    r->nthreads++;
    r->alive++;
    r->refs++;
  }
  int started = r->nthreads;
  sys_mutex_unlock(&r->lock);
  if (started == 0) {
    destroy(r);
    return NULL;
  }
  return r;
}

void resolve_stop(struct resolver *r, unsigned timeout_ms) {
  struct resolve_req *all = NULL;
  sys_mutex_lock(&r->lock);
  r->stopping = 1;
  sys_cond_broadcast(&r->work);
  for (int b = 0; b < BUCKETS; b++) {
    struct resolve_lookup **link = &r->table[b];
    while (*link) {
      struct resolve_lookup *lk = *link;
      struct resolve_req *w = take_waiters(r, lk);
      while (w) { /* onto the list to cancel */
        struct resolve_req *next = w->next;
        w->next = all;
        all = w;
        w = next;
      }
      if (lk->running) { /* its thread frees it */
        link = &lk->hnext;
      } else {
        *link = lk->hnext;
        free(lk);
      }
    }
  }
  r->qhead = r->qtail = NULL;
  sys_mutex_unlock(&r->lock);
  struct resolve_result canceled;
  memset(&canceled, 0, sizeof canceled);
  canceled.status = RESOLVE_ECANCELED;
  deliver(all, &canceled);

  uint64_t deadline = sys_clock_ms() + timeout_ms;
  int exited[RESOLVE_THREADS_MAX];
  sys_mutex_lock(&r->lock);
  while (r->alive > 0) {
    uint64_t now = sys_clock_ms();
    if (now >= deadline ||
        sys_cond_timedwait(&r->gone, &r->lock, (unsigned)(deadline - now)) < 0)
      break;
  }
  memcpy(exited, r->exited, sizeof exited);
  sys_mutex_unlock(&r->lock);
  for (int i = 0; i < r->nthreads; i++) {
    if (exited[i])
      sys_thread_join(r->threads[i]);
    else
      sys_thread_detach(r->threads[i]); /* stuck: it frees r if last */
  }
  sys_mutex_lock(&r->lock);
  int last = --r->refs == 0;
  sys_mutex_unlock(&r->lock);
  if (last)
    destroy(r);
}

/* ---- requests -------------------------------------------------------------
 */

static int bad_name(const char *name, size_t len, int family) {
  return len == 0 || len > RESOLVE_NAME_MAX || memchr(name, 0, len) ||
         (family != RESOLVE_ANY && family != RESOLVE_V4 &&
          family != RESOLVE_V6);
}

int resolve_submit(struct resolver *r, struct resolve_req *req,
                   const char *name, size_t len, int family) {
  if (bad_name(name, len, family))
    return RESOLVE_EINVAL;
  uint32_t h = (uint32_t)siphash13(name, len, r->seed) ^ (uint32_t)family;
  int rc = RESOLVE_OK;
  sys_mutex_lock(&r->lock);
  struct resolve_lookup *lk = NULL;
  if (r->stopping)
    rc = RESOLVE_ECANCELED;
  else if (r->inflight >= r->queue_max)
    rc = RESOLVE_EFULL;
  else if (!(lk = find(r, h, name, len, family))) {
    lk = fault_fail(FAULT_C, "resolve lookup") ? NULL : malloc(sizeof *lk);
    if (!lk) {
      rc = RESOLVE_ENOMEM;
    } else {
      memcpy(lk->name, name, len);
      lk->name[len] = '\0';
      lk->len = len;
      lk->family = family;
      lk->hash = h;
      lk->running = 0;
      lk->waiters = NULL;
      lk->hnext = *bucket(r, h);
      *bucket(r, h) = lk;
      lk->qnext = NULL;
      if (r->qtail)
        r->qtail->qnext = lk;
      else
        r->qhead = lk;
      r->qtail = lk;
      sys_cond_signal(&r->work);
    }
  }
  if (rc == RESOLVE_OK) {
    req->next = lk->waiters;
    lk->waiters = req;
    req->lookup = lk;
    r->inflight++;
  }
  sys_mutex_unlock(&r->lock);
  return rc;
}

int resolve_cancel(struct resolver *r, struct resolve_req *req) {
  sys_mutex_lock(&r->lock);
  struct resolve_lookup *lk = req->lookup;
  if (!lk) {
    sys_mutex_unlock(&r->lock);
    return RESOLVE_EBUSY;
  }
  struct resolve_req **link = &lk->waiters;
  while (*link != req)
    link = &(*link)->next;
  *link = req->next;
  req->lookup = NULL;
  r->inflight--;
  if (!lk->waiters && !lk->running) { /* nobody wants it any more */
    dequeue(r, lk);
    unhash(r, lk);
    free(lk);
  }
  sys_mutex_unlock(&r->lock);
  return RESOLVE_OK;
}

/* ---- answers --------------------------------------------------------------
 */

static void add4(struct resolve_result *res, const struct in_addr *a) {
  union resolve_addr *out = &res->addrs[res->naddrs++];
  memset(out, 0, sizeof *out);
  out->in4.sin_family = AF_INET;
  out->in4.sin_addr = *a;
}

static void add6(struct resolve_result *res, const struct in6_addr *a) {
  union resolve_addr *out = &res->addrs[res->naddrs++];
  memset(out, 0, sizeof *out);
  out->in6.sin6_family = AF_INET6;
  out->in6.sin6_addr = *a;
}

static int is_localhost(const char *s, size_t len) {
  static const char lh[] = "localhost."; /* the trailing dot is optional */
  if (len != 9 && len != 10)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (((unsigned char)s[i] | 0x20) != (unsigned char)lh[i])
      return 0;
  return 1;
}

int resolve_fast(const char *name, size_t len, int family,
                 struct resolve_result *res) {
  char buf[RESOLVE_NAME_MAX + 1];
  struct in_addr a4;
  struct in6_addr a6;
  if (bad_name(name, len, family))
    return 0;
  memcpy(buf, name, len);
  buf[len] = '\0';
  res->naddrs = 0;
  res->status = RESOLVE_OK;
  if (inet_pton(AF_INET, buf, &a4) == 1) {
    if (family == RESOLVE_V6)
      res->status = RESOLVE_ENOTFOUND;
    else
      add4(res, &a4);
    return 1;
  }
  if (inet_pton(AF_INET6, buf, &a6) == 1) {
    if (family == RESOLVE_V4)
      res->status = RESOLVE_ENOTFOUND;
    else
      add6(res, &a6);
    return 1;
  }
  if (!is_localhost(name, len))
    return 0;
  if (family != RESOLVE_V6) {
    a4.s_addr = htonl(INADDR_LOOPBACK);
    add4(res, &a4);
  }
  if (family != RESOLVE_V4) {
    memset(&a6, 0, sizeof a6);
    a6.s6_addr[15] = 1; /* ::1 */
    add6(res, &a6);
  }
  return 1;
}

static int map_gai(int rc) {
  if (rc == EAI_NONAME)
    return RESOLVE_ENOTFOUND;
#ifdef EAI_NODATA
  if (rc == EAI_NODATA)
    return RESOLVE_ENOTFOUND;
#endif
#ifdef EAI_ADDRFAMILY
  if (rc == EAI_ADDRFAMILY)
    return RESOLVE_ENOTFOUND;
#endif
  if (rc == EAI_AGAIN)
    return RESOLVE_EAGAIN;
  return RESOLVE_EFAIL;
}

void resolve_system(const char *name, int family, struct resolve_result *res,
                    void *ud) {
  (void)ud;
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family == RESOLVE_V4   ? AF_INET
                    : family == RESOLVE_V6 ? AF_INET6
                                           : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM; /* one entry per address */
  res->naddrs = 0;
  int rc = getaddrinfo(name, NULL, &hints, &ai);
  if (rc != 0) {
    res->status = map_gai(rc);
    return;
  }
  for (struct addrinfo *p = ai; p && res->naddrs < RESOLVE_MAX_ADDRS;
       p = p->ai_next) {
    if (p->ai_family == AF_INET &&
        p->ai_addrlen >= (socklen_t)sizeof(struct sockaddr_in))
      add4(res, &((struct sockaddr_in *)(void *)p->ai_addr)->sin_addr);
    else if (p->ai_family == AF_INET6 &&
             p->ai_addrlen >= (socklen_t)sizeof(struct sockaddr_in6)) {
      union resolve_addr *out = &res->addrs[res->naddrs++];
      memcpy(&out->in6, p->ai_addr, sizeof out->in6); /* keeps the scope */
      out->in6.sin6_port = 0;
    }
  }
  freeaddrinfo(ai);
  res->status = res->naddrs > 0 ? RESOLVE_OK : RESOLVE_ENOTFOUND;
}

const char *resolve_strerror(int err) {
  switch (err) {
  case RESOLVE_OK: return "ok";
  case RESOLVE_ENOTFOUND: return "not found";
  case RESOLVE_EAGAIN: return "temporary failure";
  case RESOLVE_EFAIL: return "resolver failure";
  case RESOLVE_EFULL: return "full";
  case RESOLVE_ECANCELED: return "canceled";
  case RESOLVE_EINVAL: return "invalid name";
  case RESOLVE_EBUSY: return "busy";
  case RESOLVE_ENOMEM: return "out of memory";
  default: return "unknown error";
  }
}
