/*
 * io_sock.c -- the few synchronous socket calls every backend shares:
 * creating, binding and listening, reading addresses, shutdown, close.
 *
 * Sockets are created close-on-exec / non-inheritable, so a child process
 * never holds a connection open, and non-blocking, which the readiness
 * backend needs and the completion backends do not mind.  Windows sockets
 * are created overlapped.  Accepted and connected sockets get TCP_NODELAY:
 * a request/response protocol must not wait on Nagle.  On Linux a listener
 * gets it and the sockets it accepts inherit it (the kernel clones the
 * listener's socket for each), which saves a system call per connection;
 * Windows sockets get it one by one.
 */
#include "io_internal.h"

#include <string.h>

#ifdef _WIN32
#include <mswsock.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <unistd.h>
#endif

int io__sock_error(void) {
#ifdef _WIN32
  return io__from_wsa((unsigned long)WSAGetLastError());
#else
  return io__from_errno(errno);
#endif
}

int io__sock_nonblock(io_sock s) {
#ifdef _WIN32
  u_long on = 1;
  return ioctlsocket(s, FIONBIO, &on) == 0 ? 0 : io__sock_error();
#else
  int fl = fcntl(s, F_GETFL);
  if (fl < 0 || fcntl(s, F_SETFL, fl | O_NONBLOCK) < 0)
    return io__sock_error();
  return 0;
#endif
}

int io__sock_new(int family, io_sock *out) {
#ifdef _WIN32
  io_sock s = WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                         WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET)
    return io__sock_error();
#else
  io_sock s = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0)
    return io__sock_error();
#endif
  *out = s;
  return 0;
}

void io_sock_close(io_sock s) {
  if (s == IO_NOSOCK)
    return;
#ifdef _WIN32
  closesocket(s);
#else
  close(s);
#endif
}

static int setopt(io_sock s, int level, int name, int value) {
  return setsockopt(s, level, name, (const char *)&value, sizeof value) == 0
             ? 0
             : io__sock_error();
}

int io__sock_nodelay(io_sock s) {
  return setopt(s, IPPROTO_TCP, TCP_NODELAY, 1);
}

static int is_any6(const struct sockaddr *addr) {
  const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)addr;
  return addr->sa_family == AF_INET6 &&
         memcmp(&a6->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0;
}

int io__sock_listen(const struct sockaddr *addr, int addrlen, int backlog,
                    unsigned flags, io_sock *out) {
  io_sock s = IO_NOSOCK;
  int err = io__sock_new(addr->sa_family, &s);
  if (err)
    return err;
#ifndef _WIN32
  /* Rebinding a port with connections in TIME_WAIT is what a restarted
   * server does; on Windows this option would let others steal the port,
   * so it is POSIX only. */
  err = setopt(s, SOL_SOCKET, SO_REUSEADDR, 1);
  if (!err && (flags & IO_LISTEN_REUSEPORT))
    err = setopt(s, SOL_SOCKET, SO_REUSEPORT, 1);
#else
  (void)flags;
#endif
  if (!err) /* inherited by what it accepts (Linux); best effort */
    io__sock_nodelay(s);
  /* "*:port" means every interface, IPv4 too: a dual-stack socket. */
  if (!err && is_any6(addr))
    err = setopt(s, IPPROTO_IPV6, IPV6_V6ONLY, 0);
  if (!err && bind(s, addr, addrlen) != 0)
    err = io__sock_error();
  if (!err && listen(s, backlog) != 0)
    err = io__sock_error();
  if (err) {
    io_sock_close(s);
    return err;
  }
  *out = s;
  return 0;
}

void io__sock_stop_listening(io_sock s) {
#ifndef _WIN32
  shutdown(s, SHUT_RDWR);
#else
  (void)s; /* closesocket happens at once on Windows (io_iocp.c) */
#endif
}

#ifndef _WIN32
void io__eventfd_kick(int fd) {
  uint64_t one = 1;
  /* EAGAIN only if the counter is about to overflow: already woken. */
  ssize_t r = write(fd, &one, sizeof one);
  (void)r;
}
#endif

int io_accept_now(struct io_handle *h, io_sock *out) {
#ifdef _WIN32
  (void)h, (void)out;
  return IO_EAGAIN;
#else
  io_sock s = accept4(h->sock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (s < 0)
    return errno == EWOULDBLOCK ? IO_EAGAIN : io__sock_error();
  *out = s;
  return 0;
#endif
}

/* getpeername fails once the peer has reset (ENOTCONN); SO_PEERNAME asks
 * the socket for the same address without looking at its state.  It
 * refuses a buffer longer than the address, so IPv4's size goes first
 * and IPv6's follows when the family says so; anything else (a Unix
 * socket's short address) is getpeername's. */
static int peername_lasting(io_sock s, struct sockaddr_storage *ss) {
#ifdef __linux__
  socklen_t len = sizeof(struct sockaddr_in);
  if (getsockopt(s, SOL_SOCKET, SO_PEERNAME, ss, &len) != 0)
    return -1;
  if (ss->ss_family != AF_INET6)
    return 0;
  len = sizeof(struct sockaddr_in6);
  return getsockopt(s, SOL_SOCKET, SO_PEERNAME, ss, &len);
#else
  (void)s, (void)ss;
  return -1;
#endif
}

int io_sockname(struct io_handle *h, struct sockaddr_storage *ss, int peer) {
  if (peer && peername_lasting(h->sock, ss) == 0)
    return 0;
  socklen_t len = sizeof *ss;
  int r = peer ? getpeername(h->sock, (struct sockaddr *)ss, &len)
               : getsockname(h->sock, (struct sockaddr *)ss, &len);
  return r == 0 ? 0 : io__sock_error();
}

size_t io_unread(struct io_handle *h) {
  if (h->sock == IO_NOSOCK)
    return 0;
#ifdef _WIN32
  u_long n = 0;
  return ioctlsocket(h->sock, FIONREAD, &n) == 0 ? (size_t)n : 0;
#else
  int n = 0;
  return ioctl(h->sock, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
#endif
}

int io_torn_down(struct io_handle *h) {
#ifdef _WIN32
  (void)h;
  return -1;
#else
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  if (h->sock == IO_NOSOCK ||
      getsockopt(h->sock, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
    return -1;
  /* Not closed by us (we hold the socket): only a reset gets it there;
   * a peer that sent its FIN leaves it in CLOSE_WAIT. */
  return ti.tcpi_state == TCP_CLOSE;
#endif
}

int io_reset_on_close(struct io_handle *h) {
  struct linger l;
  l.l_onoff = 1;
  l.l_linger = 0;
  if (h->sock == IO_NOSOCK)
    return IO_ENOTCONN;
  return setsockopt(h->sock, SOL_SOCKET, SO_LINGER, (const char *)&l,
                    sizeof l) == 0
             ? 0
             : io__sock_error();
}

int io_shutdown(struct io_handle *h) {
#ifdef _WIN32
  int how = SD_SEND;
#else
  int how = SHUT_WR;
#endif
  if (h->sock == IO_NOSOCK)
    return IO_ENOTCONN;
  return shutdown(h->sock, how) == 0 ? 0 : io__sock_error();
}
