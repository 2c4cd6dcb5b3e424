/*
 * addr.h -- "ip:port" text to socket addresses and back.
 *
 * Accepted forms: "127.0.0.1:4567", "[::1]:4567", "*:4567" (every
 * interface: [::] dual-stack), "localhost:4567" (127.0.0.1).  Names are
 * not resolved: that would block the worker's loop.  Ports are 0..65535;
 * 0 picks a free port when listening.
 */
#ifndef HOST_ADDR_H
#define HOST_ADDR_H

#include <stddef.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

struct addr {
  struct sockaddr_storage ss;
  int len; /* bytes of ss in use */
  int any; /* written as "*": every interface */
};

/* 0, or -1 with a message in err ("expected ip:port" ...). */
int addr_parse(const char *text, struct addr *a, char *err, size_t errsize);
/* "ip:port", IPv6 in brackets.  Always NUL-terminates. */
void addr_format(const struct sockaddr *sa, char *buf, size_t size);
/* The IPv4 wildcard with a's port: where IPv6 is off, "*" falls back. */
void addr_any4(struct addr *a);
int addr_port(const struct addr *a);

/* A socket address in 20 bytes: a connection keeps its peer's this way,
 * so that a log line can still name a peer that has reset (getpeername
 * fails then).  family 0: none. */
struct addr_small {
  unsigned short family; /* AF_INET, AF_INET6 or 0 */
  unsigned short port;   /* host order */
  unsigned char ip[16];  /* network order; 4 bytes used for AF_INET */
};
void addr_small_set(struct addr_small *s, const struct sockaddr *sa);
/* As addr_format; "?" for family 0. */
void addr_small_format(const struct addr_small *s, char *buf, size_t size);

#define ADDR_TEXT_MAX 64

#endif
