/*
 * group.c -- listener groups across workers (see group.h).
 *
 * The registry is process-wide and guarded by the host's lock; binding
 * happens under the lock too, so the second worker of a group always sees
 * the port the first one got.  With one worker no SO_REUSEPORT is set:
 * then a port already taken by anyone fails as it should.
 */
#include "group.h"
#include "host.h"

#include <stdlib.h>
#include <string.h>

struct group {
  struct group *next;
  struct addr bound;         /* what the first member bound */
  int refs;                  /* members still listening */
  char key[];                /* address text + '#' + occurrence */
};

static struct group *find(struct host *host, const char *key) {
  for (struct group *g = host->groups; g; g = g->next)
    if (strcmp(g->key, key) == 0)
      return g;
  return NULL;
}

static int bind_first(struct io_loop *loop, struct addr *a, int backlog,
                      unsigned flags, struct io_handle *h) {
  int err = io_listen(loop, h, (struct sockaddr *)&a->ss, a->len, backlog,
                      flags);
  if (err && a->any && (err == IO_EAFNOSUPPORT || err == IO_EADDRNOTAVAIL)) {
    addr_any4(a); /* "*" on a machine without IPv6 */
    err = io_listen(loop, h, (struct sockaddr *)&a->ss, a->len, backlog,
                    flags);
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

int group_listen(struct host *host, struct io_loop *loop, const char *key,
                 struct addr *a, int backlog, struct io_handle *h,
                 struct group **out) {
  unsigned flags = host->nworkers > 1 ? IO_LISTEN_REUSEPORT : 0;
  int err;
  sys_mutex_lock(&host->lock);
  struct group *g = find(host, key);
  if (g) {
    *a = g->bound;
    err = io_listen(loop, h, (struct sockaddr *)&a->ss, a->len, backlog,
                    flags);
  } else {
    err = bind_first(loop, a, backlog, flags, h);
    if (!err) {
      size_t klen = strlen(key) + 1;
      g = malloc(sizeof *g + klen);
      if (!g) {
        err = IO_ENOMEM; /* the caller closes h */
      } else {
        memcpy(g->key, key, klen);
        g->bound = *a;
        g->refs = 0;
        g->next = host->groups;
        host->groups = g;
      }
    }
  }
  if (!err) {
    g->refs++;
    *out = g;
  }
  sys_mutex_unlock(&host->lock);
  return err;
}

void group_leave(struct host *host, struct group *g) {
  sys_mutex_lock(&host->lock);
  if (--g->refs == 0) {
    struct group **p = &host->groups;
    while (*p != g)
      p = &(*p)->next;
    *p = g->next;
    free(g);
  }
  sys_mutex_unlock(&host->lock);
}

void group_free_all(struct host *host) {
  while (host->groups) {
    struct group *g = host->groups;
    host->groups = g->next;
    free(g);
  }
}
