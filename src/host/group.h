/*
 * group.h -- the listeners of all workers on one address.
 *
 * Every worker runs the same script, so every worker calls host.listen
 * for the same address; the k-th call with the same address text in each
 * worker is one group (the key).  The first worker to get there binds
 * (port 0 picks a free port); the group then shares that port one of two
 * ways:
 *
 *  - SO_REUSEPORT (Linux): the others bind the same port too, and the
 *    kernel spreads new connections across the group's sockets by a hash
 *    of the connection's addresses.
 *  - Hand-off (Windows, where a listen socket belongs to one completion
 *    port and there is no such balancing; on Linux when the environment
 *    has HOST_ACCEPT_HANDOFF=1, to test it): the first member (the owner)
 *    has the group's only socket and accepts for everyone.  It hands each
 *    accepted socket to the next live member in turn, itself included;
 *    the others get theirs through their inbox (MSG_ACCEPTED) and adopt
 *    it into their own loop.  The other members have no socket at all.
 *    When the owner leaves while others stay, the next member listens on
 *    the port anew and accepts from then on (connects in between are
 *    refused).
 */
#ifndef HOST_GROUP_H
#define HOST_GROUP_H

#include "addr.h"
#include "inherit.h"
#include "io.h"

#include "sys.h"

struct host;
struct group;
struct listener;
struct worker;

/* Every group of the process, with the lock that guards them and their
 * members (the host embeds it; only group.c touches it). */
struct group_registry {
  sys_mutex lock;
  struct group *groups;
  struct inherited inherited[INHERIT_MAX]; /* from a service manager */
  int ninherited;                          /* (inherit.h) */
};

/* Also takes the sockets a service manager passed (inherit.h). */
void group_registry_init(struct group_registry *r);

/* Joins l (of worker l->w) to group `key` on address `a`: binds and
 * listens l->h if this member accepts (then l->accepts is 1), and sets
 * l->group and *a (the address actually bound).  0 or IO_E*. */
int group_listen(struct listener *l, const char *key, struct addr *a,
                 int backlog);
/* The group's key: the address text (+ "#k" for the k-th port 0). */
const char *group_key(const struct group *g);
/* l stops being a member; call it after l->h is closed.  No connection
 * is handed to l after this returns. */
void group_leave(struct listener *l);
/* On l's worker: l accepted `sock`; serve it there or hand it over. */
void group_dispatch(struct listener *l, io_sock sock);
/* On worker w: a MSG_ACCEPTED of group g arrived (sock, or IO_NOSOCK to
 * take over accepting for the group). */
void group_deliver(struct worker *w, struct group *g, io_sock sock);
/* Frees what is left (at exit, once every worker has ended). */
void group_registry_free(struct group_registry *r);

#endif
