/*
 * group.h -- the listeners of all workers on one address.
 *
 * Every worker runs the same script, so every worker calls host.listen
 * for the same address; the k-th call with the same address text in each
 * worker is one group (the key).  The first worker to get there binds
 * (port 0 picks a free port); the others bind the port it got, with
 * SO_REUSEPORT, and the kernel spreads new connections across the group's
 * sockets by a hash of the connection's addresses.
 */
#ifndef HOST_GROUP_H
#define HOST_GROUP_H

#include "addr.h"
#include "io.h"

struct host;
struct group;

/* Binds and listens h on `a` for group `key`; on success *g and *a (the
 * address actually bound) are set.  0 or IO_E*. */
int group_listen(struct host *host, struct io_loop *loop, const char *key,
                 struct addr *a, int backlog, struct io_handle *h,
                 struct group **g);
void group_leave(struct host *host, struct group *g);
/* Frees what is left (at exit). */
void group_free_all(struct host *host);

#endif
