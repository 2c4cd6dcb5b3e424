/*
 * group.c -- listener groups across workers (see group.h).
 *
 * The registry is process-wide and guarded by its own lock; binding
 * happens under the lock too, so the second worker of a group always sees
 * the port the first one got.  With one worker no SO_REUSEPORT is set:
 * then a port already taken by anyone fails as it should.
 *
 * Messages to members are posted under the lock too.  A member leaves
 * under the lock, so once it has left nothing more is posted to it, and
 * what was posted before is in its inbox; a worker that ends drains its
 * inbox one last time (worker.c), closing what it can no longer serve.
 *
 * Lifetimes in hand-off mode.  A MSG_ACCEPTED names the group, never a
 * listener: the listener it was meant for may close while the message
 * waits in the inbox, and listener memory is freed by its own worker as
 * soon as its handle is closed.  On arrival the worker looks itself up
 * among the group's members under the lock.  A member is removed (under
 * the lock) when its listener starts closing, and the listener is freed
 * later by that same worker's thread, so a member found there is alive
 * for as long as the worker uses it.  Not a member any more: the socket
 * is closed.  The group itself stays allocated while messages naming it
 * are queued (`inflight`), even after its last member left.
 */
#include "group.h"
#include "host.h"
#include "listener.h"
#include "log.h"
#include "worker.h"

#include <stdlib.h>
#include <string.h>

struct member {
  struct worker *w;
  struct listener *l; /* w's listener in this group */
};

struct group {
  struct group *next;
  struct addr bound; /* what the first member bound */
  int backlog;
  int handoff;            /* one socket accepts for all (group.h) */
  int open;               /* has members: new listens may join it */
  struct member *members; /* in the order they joined */
  int nmembers, cap;
  struct listener *owner; /* hand-off: the member that accepts, or NULL */
  unsigned next_member;   /* hand-off: round-robin cursor */
  int inflight;           /* MSG_ACCEPTED naming this group, queued */
  io_sock inherited;      /* a socket from the service manager that every
                             member listens on (a duplicate each), or
                             IO_NOSOCK */
  char key[];             /* address text + '#' + occurrence */
};

static int handoff_wanted(void) {
#ifdef _WIN32
  return 1; /* a listen socket belongs to one completion port */
#else
  const char *v = getenv("HOST_ACCEPT_HANDOFF");
  return v && strcmp(v, "1") == 0;
#endif
}

static struct group *find(struct host *host, const char *key) {
  for (struct group *g = host->reg.groups; g; g = g->next)
    if (g->open && strcmp(g->key, key) == 0)
      return g;
  return NULL;
}

/* Room for one more member, made before binding: nothing may fail after
 * a socket is open (the caller frees the listener on failure). */
static int reserve(struct group *g) {
  if (g->nmembers < g->cap)
    return 0;
  int cap = g->cap ? g->cap * 2 : 4;
  struct member *m = realloc(g->members, (size_t)cap * sizeof *m);
  if (!m)
    return IO_ENOMEM;
  g->members = m;
  g->cap = cap;
  return 0;
}

static int is_any(const struct sockaddr_storage *ss) {
  static const unsigned char zero[16];
  if (ss->ss_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, zero, 16) == 0;
  return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == 0;
}

/* Two bound addresses that one socket each could not share: the same
 * port, and the same address or either one every interface (an IPv6
 * wildcard is dual-stack). */
static int overlaps(const struct addr *a, const struct addr *b) {
  if (addr_port(a) != addr_port(b) || addr_port(a) == 0)
    return 0;
  if (is_any(&a->ss) || is_any(&b->ss))
    return a->ss.ss_family == b->ss.ss_family || is_any(&a->ss) ||
           is_any(&b->ss);
  if (a->ss.ss_family != b->ss.ss_family)
    return 0;
  if (a->ss.ss_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
                  &((const struct sockaddr_in6 *)&b->ss)->sin6_addr, 16) == 0;
  return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
         ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
}

/* Another open group already listens where `a` would.  Under the lock. */
static int taken_elsewhere(struct host *host, const char *key,
                           const struct addr *a) {
  for (struct group *g = host->reg.groups; g; g = g->next)
    if (g->open && strcmp(g->key, key) != 0 && overlaps(&g->bound, a))
      return 1;
  return 0;
}

static struct listener *member_of(struct group *g, struct worker *w) {
  for (int i = 0; i < g->nmembers; i++)
    if (g->members[i].w == w)
      return g->members[i].l;
  return NULL;
}

/* Frees g once it has no member and no message names it.  Under the
 * lock. */
static void maybe_free(struct host *host, struct group *g) {
  if (g->open || g->inflight > 0)
    return;
  struct group **p = &host->reg.groups;
  while (*p != g)
    p = &(*p)->next;
  *p = g->next;
  free(g->members);
  free(g);
}

static int bind_first(struct io_loop *loop, struct addr *a, int backlog,
                      unsigned flags, struct io_handle *h) {
  int err =
      io_listen(loop, h, (struct sockaddr *)&a->ss, a->len, backlog, flags);
  if (err && a->any && (err == IO_EAFNOSUPPORT || err == IO_EADDRNOTAVAIL)) {
    addr_any4(a); /* "*" on a machine without IPv6 */
    err = io_listen(loop, h, (struct sockaddr *)&a->ss, a->len, backlog, flags);
  }
  if (!err) {
    struct sockaddr_storage ss;
    if (io_sockname(h, &ss, 0) == 0) {
      memcpy(&a->ss, &ss, sizeof ss); /* port 0 -> the port we got */
      a->len = ss.ss_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6)
                                        : (int)sizeof(struct sockaddr_in);
    }
  }
  return err;
}

/* l listens on a duplicate of the group's inherited socket. */
static int listen_inherited(struct group *g, struct listener *l) {
  io_sock s = inherit_dup(g->inherited);
  if (s == IO_NOSOCK)
    return IO_EMFILE;
  return io_listen_shared(l->w->loop, &l->h, s);
}

/* l listens on the group's port and accepts for it.  Under the lock. */
static int become_owner(struct group *g, struct listener *l) {
  int err = g->inherited != IO_NOSOCK
                ? listen_inherited(g, l)
                : io_listen(l->w->loop, &l->h, (struct sockaddr *)&g->bound.ss,
                            g->bound.len, g->backlog, 0);
  if (!err) {
    g->owner = l;
    l->flags |= LISTENER_ACCEPTS;
  }
  return err;
}

static struct group *new_group(const char *key, int backlog) {
  size_t klen = strlen(key) + 1;
  struct group *g = calloc(1, sizeof *g + klen);
  if (!g)
    return NULL;
  memcpy(g->key, key, klen);
  g->backlog = backlog;
  g->inherited = IO_NOSOCK;
  g->handoff = handoff_wanted();
  return g;
}

int group_listen(struct listener *l, const char *key, struct addr *a,
                 int backlog) {
  struct host *host = l->w->host;
  unsigned flags = host->nworkers > 1 ? IO_LISTEN_REUSEPORT : 0;
  int err = 0;
  l->flags &= ~LISTENER_ACCEPTS;
  sys_mutex_lock(&host->reg.lock);
  struct group *g = find(host, key), *fresh = NULL;
  /* One listener per address and worker: a second host.listen on an
   * address this worker already listens on (in any spelling) would split
   * its connections between two handlers. */
  if ((g && member_of(g, l->w)) || (!g && taken_elsewhere(host, key, a)))
    err = IO_EADDRINUSE;
  else if (!g && !(g = fresh = new_group(key, backlog)))
    err = IO_ENOMEM;
  if (!err)
    err = reserve(g);
  struct inherited *in =
      !err && fresh && addr_port(a) != 0
          ? inherit_find(host->reg.inherited, host->reg.ninherited,
                         (struct sockaddr *)&a->ss)
          : NULL;
  if (in) {
    /* The service manager's socket: every member accepts from it. */
    g->inherited = in->sock;
    err = listen_inherited(g, l);
    if (err)
      g->inherited = IO_NOSOCK;
  } else if (!err && fresh) {
    /* Hand-off: the only socket on its port, never SO_REUSEPORT. */
    err = bind_first(l->w->loop, a, backlog, g->handoff ? 0 : flags, &l->h);
  }
  if (!err && fresh) {
    g->bound = *a;
    g->owner = l;
    l->flags |= LISTENER_ACCEPTS;
    g->open = 1;
    g->next = host->reg.groups;
    host->reg.groups = g;
  } else if (!err) {
    *a = g->bound;
    if (!g->handoff && g->inherited != IO_NOSOCK) {
      err = listen_inherited(g, l);
      if (!err)
        l->flags |= LISTENER_ACCEPTS;
    } else if (!g->handoff) {
      err = io_listen(l->w->loop, &l->h, (struct sockaddr *)&a->ss, a->len,
                      backlog, flags);
      if (!err)
        l->flags |= LISTENER_ACCEPTS;
    } else if (!g->owner) {
      err = become_owner(g, l); /* the owner left and nobody took over */
    }
  }
  if (!err) {
    g->members[g->nmembers].w = l->w;
    g->members[g->nmembers].l = l;
    g->nmembers++;
    l->group = g;
  } else if (fresh) {
    free(fresh->members);
    free(fresh);
  }
  sys_mutex_unlock(&host->reg.lock);
  return err;
}

const char *group_key(const struct group *g) { return g->key; }

static struct msg *takeover_msg(struct group *g) {
  struct msg *m = msg_new(MSG_ACCEPTED, g, IO_NOSOCK);
  if (m)
    g->inflight++;
  return m;
}

void group_leave(struct listener *l) {
  struct host *host = l->w->host;
  struct group *g = l->group;
  struct worker *heir = NULL;
  struct msg *m = NULL;
  sys_mutex_lock(&host->reg.lock);
  for (int i = 0; i < g->nmembers; i++) {
    if (g->members[i].l == l) {
      memmove(&g->members[i], &g->members[i + 1],
              (size_t)(g->nmembers - i - 1) * sizeof *g->members);
      g->nmembers--;
      break;
    }
  }
  if (g->owner == l) {
    g->owner = NULL;
    /* The next member listens anew, on its own loop; its socket is free
     * to bind because ours is closed already. */
    if (g->handoff && g->nmembers > 0 && (m = takeover_msg(g)))
      heir = g->members[0].w;
  }
  if (g->nmembers == 0)
    g->open = 0; /* a later listen on this key starts a new group */
  if (m)
    worker_post(heir, m);
  maybe_free(host, g);
  sys_mutex_unlock(&host->reg.lock);
}

void group_dispatch(struct listener *l, io_sock sock) {
  struct group *g = l->group;
  struct host *host = l->w->host;
  if (!g->handoff) {
    l->on_conn(l, sock);
    return;
  }
  struct msg *m = msg_new(MSG_ACCEPTED, g, sock);
  struct worker *to = l->w;
  sys_mutex_lock(&host->reg.lock);
  if (m && g->nmembers > 0)
    to = g->members[g->next_member++ % (unsigned)g->nmembers].w;
  if (to != l->w) {
    g->inflight++;
    worker_post(to, m); /* its conn_open associates sock with its port */
  }
  sys_mutex_unlock(&host->reg.lock);
  if (to == l->w) { /* our turn, or no memory for a message */
    free(m);
    l->on_conn(l, sock);
  }
}

/* Hands sock to the next member other than w; 1 if posted.  Under the
 * lock.  Members found here have not left, and the chain ends when none
 * is left. */
static int pass_on(struct group *g, struct worker *w, io_sock sock) {
  for (int i = 0; i < g->nmembers; i++) {
    struct member *to = &g->members[g->next_member++ % (unsigned)g->nmembers];
    if (to->w == w)
      continue;
    struct msg *m = msg_new(MSG_ACCEPTED, g, sock);
    if (!m)
      return 0;
    g->inflight++;
    worker_post(to->w, m);
    return 1;
  }
  return 0;
}

/* A takeover request reached w: listen and accept for the group, unless
 * someone does already or w has left; then it goes on to the next.
 * Called under the lock, which it releases; g is not touched after. */
static void take_over(struct worker *w, struct group *g, struct listener *l) {
  struct host *host = w->host;
  struct worker *next = NULL;
  int err = 0, owner = 0;
  if (l && (listener_closing(l) || w->stopping))
    l = NULL;
  if (!g->owner && l) {
    err = become_owner(g, l);
    owner = !err;
  } else if (!g->owner) {
    struct msg *m = NULL;
    for (int i = 0; i < g->nmembers && !next; i++)
      if (g->members[i].w != w)
        next = g->members[i].w;
    if (next && (m = takeover_msg(g)))
      worker_post(next, m);
  }
  maybe_free(host, g);
  sys_mutex_unlock(&host->reg.lock); /* taken by group_deliver */
  if (owner) {
    log_write(LOG_INFO, w->id, "accepting on %s for all workers", l->address);
    listener_start(l);
  } else if (err) {
    char msg[128];
    log_write(LOG_ERROR, w->id, "cannot take over accepting on %s: %s",
              l->address, io_strerror(err, msg, sizeof msg));
  }
}

void group_deliver(struct worker *w, struct group *g, io_sock sock) {
  struct host *host = w->host;
  sys_mutex_lock(&host->reg.lock);
  g->inflight--;
  struct listener *l = member_of(g, w);
  if (sock == IO_NOSOCK) {
    take_over(w, g, l); /* unlocks */
    return;
  }
  if (!l || listener_closing(l) || w->stopping) {
    /* Left since: another member serves it, if one is left. */
    if (!pass_on(g, w, sock))
      io_sock_close(sock);
    l = NULL;
  }
  maybe_free(host, g);
  sys_mutex_unlock(&host->reg.lock);
  /* l, if found, is ours and is freed only by this thread, after it has
   * left the group (see the top of this file). */
  if (l)
    l->on_conn(l, sock);
}

void group_registry_init(struct group_registry *r) {
  sys_mutex_init(&r->lock);
  r->groups = NULL;
  r->ninherited = inherit_take(r->inherited, INHERIT_MAX);
}

void group_registry_free(struct group_registry *r) {
  for (int i = 0; i < r->ninherited; i++)
    io_sock_close(r->inherited[i].sock);
  r->ninherited = 0;
  while (r->groups) {
    struct group *g = r->groups;
    r->groups = g->next;
    free(g->members);
    free(g);
  }
  sys_mutex_destroy(&r->lock);
}
