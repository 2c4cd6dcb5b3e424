/*
 * proxy_internal.h -- what proxy.c (the entry point, version 2) and
 * proxy_text.c (version 1, IP address text) share.  Not for other users.
 */
#ifndef HOST_PROXY_INTERNAL_H
#define HOST_PROXY_INTERNAL_H

#include "proxy.h"

/* Version 1: buf starts with "PROXY " as far as it goes (checked by the
 * caller).  Same return contract as proxy_parse(). */
int proxy_parse_v1(const uint8_t *buf, size_t len, struct proxy_result *r);

/* Exact, strict text forms: 0 and the address in network byte order, or
 * -1.  IPv4: four decimal numbers 0..255 without leading zeros.  IPv6:
 * RFC 4291 text (groups of 1-4 hex digits, one "::", an IPv4 tail). */
int proxy_ip4_parse(const char *s, size_t n, uint8_t out[4]);
int proxy_ip6_parse(const char *s, size_t n, uint8_t out[16]);

/* Text of an address (RFC 5952 form for IPv6: lower case, the longest
 * run of two or more zero groups as "::", "::ffff:a.b.c.d" for mapped
 * IPv4).  out must hold 46 bytes; returns the length, NUL-terminated. */
size_t proxy_ip4_format(const uint8_t a[4], char *out);
size_t proxy_ip6_format(const uint8_t a[16], char *out);

/* Fills a sockaddr_in/_in6 from network-order bytes; returns its size. */
int proxy_set_inet(struct sockaddr_storage *ss, int family, const uint8_t *addr,
                   const uint8_t port_be[2]);

#endif
