/*
 * netutil.h: addresses, listening sockets and descriptor limits, shared by the
 * load generator and the baseline echo servers.
 *
 * All functions return 0 (or a descriptor) on success and -1 on failure, with
 * a one-line reason already written to stderr; none of them allocates.
 */
#ifndef BENCH_NETUTIL_H
#define BENCH_NETUTIL_H

#include <stddef.h>
#include <sys/socket.h>

struct net_addr {
    struct sockaddr_storage ss;  /* IPv4 or IPv6 socket address */
    socklen_t len;               /* bytes of ss in use */
};

/* Parses "A.B.C.D:PORT" or "[V6]:PORT" (numeric only, no name lookup). */
int net_parse_addr(const char *text, struct net_addr *out);

/* Writes "host:port" (IPv6 in brackets) into buf; always NUL-terminated. */
void net_format_addr(const struct net_addr *a, char *buf, size_t size);

/* True when a is an IPv4 address in 127.0.0.0/8. */
int net_is_loopback4(const struct net_addr *a);

/*
 * Creates a close-on-exec TCP listener bound to a. reuseport sets
 * SO_REUSEPORT (one listener per worker); nonblock sets O_NONBLOCK.
 */
int net_listen(const struct net_addr *a, int reuseport, int nonblock);

/* Sets TCP_NODELAY; failures are ignored (the socket may already be dead). */
void net_nodelay(int fd);

/*
 * Raises RLIMIT_NOFILE's soft limit to the hard limit. Returns the soft limit
 * now in force (also when raising failed).
 */
long net_raise_nofile(void);

#endif
