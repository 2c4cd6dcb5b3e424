/*
 * http_text.h -- the small text chores of an HTTP server and client that
 * are not parsing a message head: percent-decoding, splitting a query
 * string, the Date header's format, reason phrases, checking the names
 * and values a script puts in a response, and URL splitting for a client.
 *
 * Pure functions over the caller's bytes, like the rest of hostproto:
 * nothing is allocated, nothing is kept between calls.  Every function
 * that writes says how much room it needs.
 */
#ifndef HOST_HTTP_TEXT_H
#define HOST_HTTP_TEXT_H

#include "http1.h"

#include <stddef.h>
#include <stdint.h>

/* Percent-decodes src[0, n) into dst (room for n bytes; dst may be src).
 * "%XX" with two hex digits becomes one byte; a '%' not followed by two
 * hex digits is kept as it is (as nginx's ngx.unescape_uri does); with
 * plus set, '+' becomes a space (form encoding).  Returns the length
 * written, at most n. */
size_t http_pct_decode(char *dst, const char *src, size_t n, int plus);

/* Percent-encodes src[0, n) into dst (room for 3 * n bytes): every byte
 * but the RFC 3986 unreserved ones (ALPHA DIGIT "-" "." "_" "~") becomes
 * "%XX".  Returns the length written. */
size_t http_pct_encode(char *dst, const char *src, size_t n);

/* One "key=value" pair of a query string q[0, n), from *pos on: pairs are
 * separated by '&' (empty ones skipped).  Sets *key and *val (spans of q,
 * raw: not decoded) and *has_val (0 when the pair had no '='), advances
 * *pos, returns 1; returns 0 when no pair is left. */
int http_query_next(const char *q, size_t n, size_t *pos, struct http_span *key,
                    struct http_span *val, int *has_val);

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes the IMF-fixdate of t (seconds since 1970, UTC; 0 .. year 9999)
 * to out, NUL-terminated; returns HTTP_DATE_LEN. */
size_t http_date(char out[HTTP_DATE_LEN + 1], int64_t t);

/* The reason phrase of a status code ("OK", "Not Found"...), or "" for a
 * code without a registered one (the phrase is optional in HTTP/1.1).
 * Static storage. */
const char *http_reason(int status);

/* Nonzero if s[0, n) is a token (a valid field name, n >= 1). */
int http_is_token(const char *s, size_t n);
/* Nonzero if s[0, n) may be a field value: no control byte but HTAB (so
 * no CR, LF or NUL: a script's string cannot split a response). */
int http_is_value(const char *s, size_t n);

/* dst[i] = the ASCII lower case of src[i], for n bytes (dst may be src). */
void http_lower(char *dst, const char *src, size_t n);
/* Nonzero if a[0, n) equals the lower-case literal b (strlen(b) == n)
 * ignoring ASCII case. */
int http_ieq(const char *a, size_t n, const char *b);

/* An absolute http(s) URL split for a client: "http://host:port/p?q".
 * Spans are of the url string.  port is the explicit port or the
 * scheme's (80, 443); host has no brackets for an IPv6 literal; target is
 * the path and query as written, without the fragment (empty, or
 * starting with '?', when the URL has no path: send "/" before it);
 * authority is host[:port] as written (for the Host field). */
struct http_url {
  struct http_span host;      /* without [ ] */
  struct http_span target;    /* path and query (see above) */
  struct http_span authority; /* as written */
  uint16_t port;
  uint8_t tls;  /* "https" or "wss" */
  uint8_t ipv6; /* host was a [bracketed] literal */
};

/* Splits url[0, n) (scheme http, https, ws or wss, case-insensitive; no
 * userinfo; a fragment is dropped).  0, or -1 if it is not such a URL. */
int http_url_parse(const char *url, size_t n, struct http_url *u);

#endif
