/*
 * inherit.c -- listening sockets from a service manager (see inherit.h),
 * as sd_listen_fds(3) describes them: LISTEN_PID names the process they
 * are for (a variable inherited by a child must not count), LISTEN_FDS
 * how many descriptors there are, from SD_LISTEN_FDS_START (3) on.
 * Written from the interface's documentation; no libsystemd needed.
 */
#include "inherit.h"
#include "addr.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#define FIRST_FD 3 /* SD_LISTEN_FDS_START */

static int env_number(const char *name, long *out) {
  const char *v = getenv(name);
  char *end;
  if (!v || !*v)
    return -1;
  errno = 0;
  *out = strtol(v, &end, 10);
  return *end || errno || *out < 0 ? -1 : 0;
}

/* A listening TCP socket over IPv4 or IPv6: its address in *in. */
static int listening_tcp(int fd, struct inherited *in) {
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) != 0 || !v)
    return 0;
  len = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) != 0 || v != SOCK_STREAM)
    return 0;
  socklen_t slen = sizeof in->ss;
  if (getsockname(fd, (struct sockaddr *)&in->ss, &slen) != 0)
    return 0;
  if (in->ss.ss_family != AF_INET && in->ss.ss_family != AF_INET6)
    return 0;
  in->len = (int)slen;
  in->sock = fd;
  return 1;
}

int inherit_take(struct inherited *v, int cap) {
  long pid, nfds;
  if (env_number("LISTEN_PID", &pid) != 0 || pid != (long)getpid() ||
      env_number("LISTEN_FDS", &nfds) != 0)
    return 0;
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  int n = 0;
  for (long i = 0; i < nfds && i < 1024; i++) {
    int fd = FIRST_FD + (int)i;
    char text[ADDR_TEXT_MAX];
    if (n == cap || !listening_tcp(fd, &v[n])) {
      log_write(LOG_WARN, 0,
                "LISTEN_FDS: descriptor %d is not a listening TCP socket "
                "(or more than %d): left alone",
                fd, cap);
      continue;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    addr_format((struct sockaddr *)&v[n].ss, text, sizeof text);
    log_write(LOG_INFO, 0, "socket %s from the service manager (fd %d)", text,
              fd);
    n++;
  }
  return n;
}

io_sock inherit_dup(io_sock s) {
  int fd = fcntl(s, F_DUPFD_CLOEXEC, FIRST_FD);
  return fd < 0 ? IO_NOSOCK : fd;
}
#else
int inherit_take(struct inherited *v, int cap) {
  (void)v, (void)cap;
  return 0;
}

io_sock inherit_dup(io_sock s) {
  (void)s;
  return IO_NOSOCK;
}
#endif

struct inherited *inherit_find(struct inherited *v, int n,
                               const struct sockaddr *addr) {
  for (int i = 0; i < n; i++) {
    const struct sockaddr *b = (const struct sockaddr *)&v[i].ss;
    if (b->sa_family != addr->sa_family)
      continue;
    if (addr->sa_family == AF_INET) {
      const struct sockaddr_in *x = (const void *)addr, *y = (const void *)b;
      if (x->sin_port == y->sin_port &&
          x->sin_addr.s_addr == y->sin_addr.s_addr)
        return &v[i];
    } else if (addr->sa_family == AF_INET6) {
      const struct sockaddr_in6 *x = (const void *)addr, *y = (const void *)b;
      if (x->sin6_port == y->sin6_port &&
          memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0)
        return &v[i];
    }
  }
  return NULL;
}
