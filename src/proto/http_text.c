/*
 * http_text.c -- percent-coding, query strings, dates, reason phrases,
 * field checks and URLs (see http_text.h).
 *
 * Everything is a loop over bytes with a class table; nothing allocates.
 * The date is computed from the day count with the civil calendar's
 * arithmetic (400-year eras of 146,097 days, years that start in March so
 * the leap day comes last) instead of gmtime, whose thread-safe variant
 * is spelt differently on each system.
 */
#include "http_text.h"

#include <string.h>

/* Classes: a token byte (RFC 9110 tchar), an unreserved byte (RFC 3986),
 * a byte that may not appear in a field value. */
enum { T_TOKEN = 1, T_UNRESERVED = 2, T_BADVALUE = 4 };

/* cls[c]: the classes of byte c (generated from the definitions above). */
static const uint8_t cls[256] = {
    4, 4, 4, 4, 4, 4, 4, 4, 4, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 3, 3, 0,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 1, 3,
    1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 0, 1, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static inline uint8_t klass(unsigned char c) { return cls[c]; }

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* ---- percent-coding ------------------------------------------------------ */

size_t http_pct_decode(char *dst, const char *src, size_t n, int plus) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = src[i];
    if (c == '%' && i + 2 < n) {
      int hi = hexval((unsigned char)src[i + 1]);
      int lo = hexval((unsigned char)src[i + 2]);
      if (hi >= 0 && lo >= 0) { /* o <= i: src[i..] is read before */
        dst[o++] = (char)(hi << 4 | lo);
        i += 2;
        continue;
      }
    } else if (c == '+' && plus) {
      c = ' ';
    }
    dst[o++] = c;
  }
  return o;
}

size_t http_pct_encode(char *dst, const char *src, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)src[i];
    if (klass(c) & T_UNRESERVED) {
      dst[o++] = (char)c;
    } else {
      dst[o++] = '%';
      dst[o++] = hex[c >> 4];
      dst[o++] = hex[c & 15];
    }
  }
  return o;
}

int http_query_next(const char *q, size_t n, size_t *pos, struct http_span *key,
                    struct http_span *val, int *has_val) {
  size_t i = *pos;
  while (i < n && q[i] == '&')
    i++;
  if (i >= n) {
    *pos = n;
    return 0;
  }
  const char *amp = memchr(q + i, '&', n - i);
  size_t end = amp ? (size_t)(amp - q) : n;
  const char *eq = memchr(q + i, '=', end - i);
  key->off = (uint32_t)i;
  if (eq) {
    size_t e = (size_t)(eq - q);
    key->len = (uint32_t)(e - i);
    val->off = (uint32_t)(e + 1);
    val->len = (uint32_t)(end - e - 1);
    *has_val = 1;
  } else {
    key->len = (uint32_t)(end - i);
    val->off = (uint32_t)end;
    val->len = 0;
    *has_val = 0;
  }
  *pos = end;
  return 1;
}

/* ---- dates ------------------------------------------------------------- */

static void put2(char *p, unsigned v) {
  p[0] = (char)('0' + v / 10 % 10);
  p[1] = (char)('0' + v % 10);
}

size_t http_date(char out[HTTP_DATE_LEN + 1], int64_t t) {
  static const char days[] = "ThuFriSatSunMonTueWed"; /* 1970-01-01: Thu */
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (t < 0)
    t = 0;
  if (t > INT64_C(253402300799)) /* 9999-12-31 23:59:59 */
    t = INT64_C(253402300799);
  int64_t day = t / 86400, sec = t % 86400;
  /* Days to a civil date, with years counted from March 1st of year 0. */
  int64_t z = day + 719468;
  int64_t era = z / 146097;
  int64_t doe = z - era * 146097; /* 0..146096 */
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* 0..365 */
  int64_t mp = (5 * doy + 2) / 153;                      /* Mar = 0 */
  unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  unsigned y = (unsigned)(yoe + era * 400 + (m <= 2));
  memcpy(out, days + (day % 7) * 3, 3);
  memcpy(out + 3, ", ", 2);
  put2(out + 5, d);
  out[7] = ' ';
  memcpy(out + 8, months + (m - 1) * 3, 3);
  out[11] = ' ';
  put2(out + 12, y / 100);
  put2(out + 14, y % 100);
  out[16] = ' ';
  put2(out + 17, (unsigned)(sec / 3600));
  out[19] = ':';
  put2(out + 20, (unsigned)(sec / 60 % 60));
  out[22] = ':';
  put2(out + 23, (unsigned)(sec % 60));
  memcpy(out + 25, " GMT", 5);
  return HTTP_DATE_LEN;
}

/* ---- reason phrases ------------------------------------------------------ */

const char *http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 203: return "Non-Authoritative Information";
  case 204: return "No Content";
  case 205: return "Reset Content";
  case 206: return "Partial Content";
  case 300: return "Multiple Choices";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 402: return "Payment Required";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 407: return "Proxy Authentication Required";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 416: return "Range Not Satisfiable";
  case 417: return "Expectation Failed";
  case 421: return "Misdirected Request";
  case 422: return "Unprocessable Content";
  case 426: return "Upgrade Required";
  case 428: return "Precondition Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "";
  }
}

/* ---- fields ---------------------------------------------------------- */

int http_is_token(const char *s, size_t n) {
  if (n == 0)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!(klass((unsigned char)s[i]) & T_TOKEN))
      return 0;
  return 1;
}

int http_is_value(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (klass((unsigned char)s[i]) & T_BADVALUE)
      return 0;
  return 1;
}

void http_lower(char *dst, const char *src, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)src[i];
    dst[i] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
  }
}

int http_ieq(const char *a, size_t n, const char *b) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)a[i];
    if (c >= 'A' && c <= 'Z')
      c |= 0x20;
    if (c != (unsigned char)b[i] || !b[i])
      return 0;
  }
  return b[n] == '\0';
}

/* ---- URLs ------------------------------------------------------------- */

/* The scheme before "://": 0 http, 1 https, 2 ws, 3 wss, or -1. */
static int scheme(const char *u, size_t n, size_t *end) {
  static const char *const names[] = {"http", "https", "ws", "wss"};
  for (int k = 0; k < 4; k++) {
    size_t len = strlen(names[k]);
    if (n >= len + 3 && http_ieq(u, len, names[k]) &&
        memcmp(u + len, "://", 3) == 0) {
      *end = len + 3;
      return k;
    }
  }
  return -1;
}

int http_url_parse(const char *url, size_t n, struct http_url *u) {
  size_t i;
  int k = scheme(url, n, &i);
  if (k < 0)
    return -1;
  memset(u, 0, sizeof *u);
  u->tls = (uint8_t)(k & 1);
  u->port = k & 1 ? 443 : 80;
  size_t a = i;
  while (i < n && url[i] != '/' && url[i] != '?' && url[i] != '#')
    i++;
  size_t aend = i;
  u->authority.off = (uint32_t)a;
  u->authority.len = (uint32_t)(aend - a);
  if (aend == a || memchr(url + a, '@', aend - a))
    return -1; /* no host, or userinfo (not supported) */
  size_t h = a, hend, p;
  if (url[a] == '[') {
    const char *rb = memchr(url + a, ']', aend - a);
    if (!rb || rb == url + a + 1)
      return -1;
    h = a + 1;
    hend = (size_t)(rb - url);
    p = hend + 1;
    u->ipv6 = 1;
  } else {
    const char *colon = memchr(url + a, ':', aend - a);
    hend = colon ? (size_t)(colon - url) : aend;
    p = hend;
    if (hend == a)
      return -1;
  }
  for (size_t j = h; j < hend; j++) /* no controls or spaces in a host */
    if ((unsigned char)url[j] <= ' ' || url[j] == 0x7f)
      return -1;
  if (p < aend) {
    if (url[p] != ':' || p + 1 == aend || aend - p - 1 > 5)
      return -1;
    unsigned port = 0;
    for (size_t j = p + 1; j < aend; j++) {
      if (url[j] < '0' || url[j] > '9')
        return -1;
      port = port * 10 + (unsigned)(url[j] - '0');
    }
    if (port == 0 || port > 65535)
      return -1;
    u->port = (uint16_t)port;
  }
  u->host.off = (uint32_t)h;
  u->host.len = (uint32_t)(hend - h);
  const char *hash = memchr(url + aend, '#', n - aend);
  size_t tend = hash ? (size_t)(hash - url) : n;
  for (size_t j = aend; j < tend; j++) /* a target is sent as it is */
    if ((unsigned char)url[j] <= ' ' || url[j] == 0x7f)
      return -1;
  u->target.off = (uint32_t)aend;
  u->target.len = (uint32_t)(tend - aend);
  return 0;
}
