/*
 * addr.c -- parsing and formatting of "ip:port" (see addr.h).
 */
#include "addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <arpa/inet.h>
#include <netinet/in.h>
#endif

static int parse_port(const char *s, int *port) {
  if (!*s)
    return -1;
  long v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    v = v * 10 + (*p - '0');
    if (v > 65535)
      return -1;
  }
  *port = (int)v;
  return 0;
}

static int fail(char *err, size_t size, const char *msg, const char *text) {
  snprintf(err, size, "%s: '%s'", msg, text);
  return -1;
}

int addr_parse(const char *text, struct addr *a, char *err, size_t errsize) {
  char host[ADDR_TEXT_MAX];
  const char *colon;
  size_t hlen;
  int port;
  memset(a, 0, sizeof *a);
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || close[1] != ':')
      return fail(err, errsize, "expected [ipv6]:port", text);
    hlen = (size_t)(close - text - 1);
    colon = close + 1;
    if (hlen >= sizeof host)
      return fail(err, errsize, "address too long", text);
    memcpy(host, text + 1, hlen);
  } else {
    colon = strrchr(text, ':');
    if (!colon)
      return fail(err, errsize, "expected ip:port", text);
    hlen = (size_t)(colon - text);
    if (hlen >= sizeof host)
      return fail(err, errsize, "address too long", text);
    memcpy(host, text, hlen);
  }
  host[hlen] = '\0';
  if (parse_port(colon + 1, &port) != 0)
    return fail(err, errsize, "bad port", text);

  struct sockaddr_in *a4 = (struct sockaddr_in *)&a->ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a->ss;
  if (strcmp(host, "*") == 0 || (text[0] == '[' && strcmp(host, "::") == 0)) {
    a->any = host[0] == '*';
    a6->sin6_family = AF_INET6;
    a6->sin6_addr = in6addr_any;
    a6->sin6_port = htons((unsigned short)port);
    a->len = sizeof *a6;
  } else if (text[0] == '[') {
    a6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
      return fail(err, errsize, "bad IPv6 address", text);
    a6->sin6_port = htons((unsigned short)port);
    a->len = sizeof *a6;
  } else {
    a4->sin_family = AF_INET;
    if (strcmp(host, "localhost") == 0)
      strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
      return fail(err, errsize, "expected a numeric ip:port", text);
    a4->sin_port = htons((unsigned short)port);
    a->len = sizeof *a4;
  }
  return 0;
}

void addr_any4(struct addr *a) {
  int port = addr_port(a);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&a->ss;
  memset(&a->ss, 0, sizeof a->ss);
  a4->sin_family = AF_INET;
  a4->sin_addr.s_addr = htonl(INADDR_ANY);
  a4->sin_port = htons((unsigned short)port);
  a->len = sizeof *a4;
}

int addr_port(const struct addr *a) {
  if (a->ss.ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
  return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

void addr_format(const struct sockaddr *sa, char *buf, size_t size) {
  char ip[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
    if (!inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof ip))
      strcpy(ip, "?");
    snprintf(buf, size, "[%s]:%u", ip, ntohs(a6->sin6_port));
  } else if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
    if (!inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof ip))
      strcpy(ip, "?");
    snprintf(buf, size, "%s:%u", ip, ntohs(a4->sin_port));
  } else {
    snprintf(buf, size, "?");
  }
}

void addr_small_set(struct addr_small *s, const struct sockaddr *sa) {
  memset(s, 0, sizeof *s);
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
    s->family = AF_INET6;
    s->port = ntohs(a6->sin6_port);
    memcpy(s->ip, &a6->sin6_addr, 16);
  } else if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
    s->family = AF_INET;
    s->port = ntohs(a4->sin_port);
    memcpy(s->ip, &a4->sin_addr, 4);
  }
}

void addr_small_format(const struct addr_small *s, char *buf, size_t size) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  if (s->family == AF_INET6) {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(s->port);
    memcpy(&a6->sin6_addr, s->ip, 16);
  } else if (s->family == AF_INET) {
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons(s->port);
    memcpy(&a4->sin_addr, s->ip, 4);
  }
  addr_format((const struct sockaddr *)&ss, buf, size);
}
