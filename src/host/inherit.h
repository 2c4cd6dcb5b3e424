/*
 * inherit.h -- listening sockets handed to the host at start by a
 * service manager: systemd's socket activation (sd_listen_fds(3): the
 * variables LISTEN_PID and LISTEN_FDS, descriptors from 3 on).  The
 * sockets outlive the host process, so a restart refuses no client: the
 * kernel queues connections while no process accepts, and a new host
 * (or an old and a new one at once) accepts from the same sockets.
 *
 * group.c uses them: a listen on an address one of them is bound to
 * takes a duplicate of it instead of binding, in every worker (they all
 * accept from the one socket).  POSIX only; elsewhere there are none.
 */
#ifndef HOST_INHERIT_H
#define HOST_INHERIT_H

#include "io.h"

#include <stddef.h>

#define INHERIT_MAX 64 /* sockets taken at most */

struct inherited {
  io_sock sock;               /* the descriptor we were given */
  struct sockaddr_storage ss; /* what it is bound to */
  int len;
};

/* Takes the sockets meant for this process (LISTEN_PID is ours): each
 * must be a listening TCP socket (others are logged and left alone); it
 * is made close-on-exec, and the variables are removed from the
 * environment, so that a program the script starts does not take them
 * too.  Returns how many went into v[0 .. cap). */
int inherit_take(struct inherited *v, int cap);
/* The one of v[0 .. n) bound to exactly addr, or NULL. */
struct inherited *inherit_find(struct inherited *v, int n,
                               const struct sockaddr *addr);
/* A new descriptor for the same socket (close-on-exec), or IO_NOSOCK. */
io_sock inherit_dup(io_sock s);

#endif
