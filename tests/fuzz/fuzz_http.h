/*
 * fuzz_http.h -- the body of fuzz_http_request and fuzz_http_response.
 *
 * Every input is parsed under four limit sets (the defaults and small
 * ones, each lenient and strict about bare LF), and each time:
 *   - at once: the result is <= the input size, every span lies inside
 *     the head, field names are tokens, values have no control byte but
 *     HTAB and no SP/HTAB at either end, the framing facts agree;
 *   - the head alone (the input cut at the returned size) parses the same;
 *   - in pieces (split points from the input's hash, each prefix in a
 *     buffer of its exact size, as a receive buffer that grows and moves)
 *     and a byte at a time: the first non-zero result and the message are
 *     exactly those of the parse at once;
 *   - pipelined: after a complete head and its body, the rest of the
 *     input is parsed as the next message, up to 8 of them.
 */
#ifndef HOST_FUZZ_HTTP_H
#define HOST_FUZZ_HTTP_H

#include "fuzz_check.h"
#include "http1.h"
#include "http_chunked.h"

#include <stddef.h>

#define MAX_FIELDS 128

static struct http_limits fuzz_limits(int k) {
  struct http_limits l = http_default_limits;
  if (k & 2) {
    l.max_line = 40;
    l.max_header = 32;
    l.max_head = 160;
    l.max_headers = 4;
    l.max_chunk_line = 16;
    l.max_trailer = 48;
    l.max_trailers = 3;
  }
  l.strict_crlf = k & 1;
  return l;
}

static int parse(int req, const uint8_t *b, size_t n,
                 const struct http_limits *l, unsigned rf,
                 struct http_msg *m) {
  return req ? http_parse_request((const char *)b, n, l, m)
             : http_parse_response((const char *)b, n, l, rf, m);
}

static void check_span(struct http_span s, size_t end) {
  CHECK(s.off <= end && s.len <= end - s.off);
}

static int is_ws(uint8_t c) { return c == ' ' || c == '\t'; }

static int is_tchar(uint8_t c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_msg(int req, const uint8_t *b, size_t n, int rc,
                      const struct http_msg *m, const struct http_limits *l) {
  CHECK(rc <= (int)n);
  CHECK(rc >= HTTP_ELAST);
  if (rc < 0) {
    CHECK(http_status_of(rc) >= 400 && http_status_of(rc) <= 505);
    return;
  }
  if (rc == 0)
    return;
  size_t end = (size_t)rc;
  CHECK(end <= l->max_head);
  CHECK(b[end - 1] == '\n');
  CHECK(m->nheaders <= l->max_headers);
  CHECK(m->minor <= 1);
  for (uint32_t i = 0; i < m->nheaders; i++) {
    const struct http_header *h = &m->headers[i];
    check_span(h->name, end);
    check_span(h->value, end);
    CHECK(h->name.len > 0);
    for (uint32_t j = 0; j < h->name.len; j++)
      CHECK(is_tchar(b[h->name.off + j]));
    CHECK(b[h->name.off + h->name.len] == ':');
    for (uint32_t j = 0; j < h->value.len; j++) {
      uint8_t c = b[h->value.off + j];
      CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
    }
    if (h->value.len)
      CHECK(!is_ws(b[h->value.off]) &&
            !is_ws(b[h->value.off + h->value.len - 1]));
  }
  for (int i = 0; i < HTTP_IX_COUNT; i++)
    CHECK(m->ix[i] >= -1 && m->ix[i] < (int32_t)m->nheaders);
  CHECK(m->content_length <= HTTP_MAX_LENGTH);
  CHECK(!(m->flags & HTTP_F_CONTENT_LENGTH) ||
        !(m->flags & HTTP_F_TRANSFER_ENCODING));
  CHECK(m->body != HTTP_BODY_CHUNKED || (m->flags & HTTP_F_CHUNKED));
  CHECK(m->body != HTTP_BODY_LENGTH || m->content_length > 0);
  CHECK(!(m->flags & HTTP_F_CONN_CLOSE) || !(m->flags & HTTP_F_KEEP_ALIVE));
  if (req) {
    check_span(m->method, end);
    check_span(m->target, end);
    check_span(m->path, end);
    check_span(m->query, end);
    check_span(m->authority, end);
    CHECK(m->method.len > 0 && m->target.len > 0);
    CHECK(m->body != HTTP_BODY_CLOSE);
    CHECK(m->minor == 0 || (m->flags & HTTP_F_HOST));
    CHECK((m->ix[HTTP_IX_HOST] >= 0) == !!(m->flags & HTTP_F_HOST));
    for (uint32_t j = 0; j < m->target.len; j++)
      CHECK(b[m->target.off + j] > 0x20 && b[m->target.off + j] != 0x7f);
  } else {
    check_span(m->reason, end);
    CHECK(m->status >= 100 && m->status <= 999);
  }
}

/* The parts of two messages that must agree. */
static void same_msg(const struct http_msg *a, const struct http_msg *b) {
  CHECK(!memcmp(a, b, offsetof(struct http_msg, headers)));
  CHECK(a->nheaders == b->nheaders);
  CHECK(!memcmp(a->ix, b->ix, sizeof a->ix));
  CHECK(!memcmp(a->headers, b->headers, a->nheaders * sizeof a->headers[0]));
}

/* Feeds b in growing prefixes; the ends come from the seed (0: a byte at
 * a time, in place; else a few random ends, each prefix in its own exact
 * buffer). */
static void incremental(int req, const uint8_t *b, size_t n,
                        const struct http_limits *l, unsigned rf, uint64_t seed,
                        int want, const struct http_msg *whole) {
  static struct http_header f[MAX_FIELDS];
  struct http_msg m;
  size_t end = 0;
  int r = 0;
  http_msg_init(&m, f);
  while (end < n && r == 0) {
    if (!seed) {
      end++;
      r = parse(req, b, end, l, rf, &m);
    } else {
      size_t step = (size_t)(fuzz_next(&seed) % (n - end)) + 1;
      uint8_t *copy;
      end += fuzz_next(&seed) % 4 ? step % 64 + 1 : step;
      if (end > n)
        end = n;
      copy = fuzz_dup(b, end);
      r = parse(req, copy, end, l, rf, &m);
      free(copy);
    }
  }
  if (n == 0)
    r = parse(req, b, 0, l, rf, &m);
  CHECK(r == want);
  if (r > 0)
    same_msg(&m, whole);
}

static size_t body_size(const uint8_t *b, size_t n, const struct http_msg *m,
                        const struct http_limits *l, int *ok) {
  struct http_chunked c;
  struct http_span d;
  size_t used, p = 0;
  *ok = 1;
  switch (m->body) {
  case HTTP_BODY_LENGTH:
    if (m->content_length > n)
      *ok = 0;
    return *ok ? (size_t)m->content_length : 0;
  case HTTP_BODY_CHUNKED:
    http_chunked_init(&c, l);
    for (;;) {
      int rc = http_chunked_decode(&c, (const char *)b + p, n - p, &used, &d);
      CHECK(used <= n - p);
      p += used;
      if (rc != 0 || p == n) {
        *ok = rc == 1;
        return p;
      }
    }
  case HTTP_BODY_CLOSE:
    *ok = 0;
    return 0;
  }
  return 0;
}

static void fuzz_http(int req, const uint8_t *data, size_t size) {
  static struct http_header f1[MAX_FIELDS], f2[MAX_FIELDS];
  uint64_t h = fuzz_hash(data, size);
  unsigned rf = req ? 0 : (unsigned)(h >> 60) & 3;
  for (int k = 0; k < 4; k++) {
    struct http_limits l = fuzz_limits(k);
    const uint8_t *b = data;
    size_t n = size;
    for (int msg = 0; msg < 8; msg++) {
      struct http_msg m, m2;
      int rc, ok;
      http_msg_init(&m, f1);
      rc = parse(req, b, n, &l, rf, &m);
      check_msg(req, b, n, rc, &m, &l);
      if (rc > 0) {
        uint8_t *head = fuzz_dup(b, (size_t)rc);
        http_msg_init(&m2, f2);
        CHECK(parse(req, head, (size_t)rc, &l, rf, &m2) == rc);
        same_msg(&m, &m2);
        free(head);
      }
      incremental(req, b, n, &l, rf, h | 1, rc, &m);
      if (n <= 1024)
        incremental(req, b, n, &l, rf, 0, rc, &m);
      if (rc <= 0)
        break;
      b += rc;
      n -= (size_t)rc;
      size_t body = body_size(b, n, &m, &l, &ok);
      if (!ok)
        break;
      b += body;
      n -= body;
      h = h * 31 + (uint64_t)rc;
    }
  }
}

#endif
