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
  int len;                 /* bytes of ss in use */
  int any;                 /* written as "*": every interface */
};

/* 0, or -1 with a message in err ("expected ip:port" ...). */
int addr_parse(const char *text, struct addr *a, char *err, size_t errsize);
/* "ip:port", IPv6 in brackets.  Always NUL-terminates. */
void addr_format(const struct sockaddr *sa, char *buf, size_t size);
/* The IPv4 wildcard with a's port: where IPv6 is off, "*" falls back. */
void addr_any4(struct addr *a);
int addr_port(const struct addr *a);

#define ADDR_TEXT_MAX 64

#endif
