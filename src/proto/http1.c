/*
 * http1.c -- HTTP/1.x head parser: request and status lines, field lines,
 * and the framing facts a server or client needs (RFC 9112, RFC 9110).
 *
 * The parser works a line at a time.  memchr finds the next LF inside a
 * window that the limits bound (the line's limit, the head's limit), so
 * a limit is broken as soon as the bytes that break it arrive, and the
 * bytes before pos are never searched twice.  Each complete line is then
 * checked with a 256-entry class table (and 8 bytes at a time for field
 * values), stored, and, for the few fields that decide framing, looked
 * at once more.  Everything a later call needs (scan position, the
 * Transfer-Encoding list so far) lives in struct http_msg, so a call
 * never re-reads a line it has checked.
 *
 * Strictness follows what request smuggling taught (RFC 9112 sections
 * 2.2, 3, 5, 6.1, 6.3 and nginx's choices): no obs-fold, no space before
 * the colon, no CTL but HTAB in values, no bare CR, exactly two single
 * SPs in a request line, one Content-Length of digits only, never with
 * Transfer-Encoding, "chunked" as the only transfer coding, one Host.
 */
#include "http1.h"

#include <limits.h>
#include <string.h>

const struct http_limits http_default_limits = HTTP_LIMITS_DEFAULT;

/* Character classes (RFC 9110 section 5.6.2 and 5.5, RFC 3986). */
enum {
  C_TOKEN = 1,  /* tchar */
  C_FIELD = 2,  /* field-value byte: VCHAR, obs-text, SP, HTAB */
  C_TARGET = 4, /* request-target byte: VCHAR, obs-text */
  C_WS = 8,     /* SP, HTAB */
  C_SCHEME = 16 /* ALPHA, DIGIT, "+", "-", "." */
};

static const uint8_t cls[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  10, 0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  10, 7,  6,  7,  7,  7,
    7,  7,  6,  6,  7,  23, 6,  23, 23, 6,  23, 23, 23, 23, 23, 23, 23, 23, 23,
    23, 6,  6,  6,  6,  6,  6,  6,  23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23,
    23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 6,  6,  6,  7,
    7,  7,  23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23,
    23, 23, 23, 23, 23, 23, 23, 23, 23, 6,  7,  6,  7,  0,  6,  6,  6,  6,  6,
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,
    6,  6,  6,  6,  6,  6,  6,  6,  6,
};

#define IS(c, k) (cls[(uint8_t)(c)] & (k))

static struct http_span span(size_t off, size_t len) {
  struct http_span s = {(uint32_t)off, (uint32_t)len};
  return s;
}

/* ---- errors ---------------------------------------------------------- */

static const struct {
  short status;
  const char *text;
} errs[] = {
    {400, "bad method"},
    {400, "bad request line"},
    {400, "bad request target"},
    {400, "bad HTTP version"},
    {400, "bad status line"},
    {400, "too many empty lines before the request"},
    {400, "CR not followed by LF"},
    {400, "bare LF line end"},
    {400, "obsolete line folding"},
    {400, "bad field name"},
    {400, "control character in a field value"},
    {400, "bad Content-Length"},
    {400, "duplicate Content-Length"},
    {400, "Content-Length with Transfer-Encoding"},
    {400, "Transfer-Encoding in an HTTP/1.0 message"},
    {400, "missing Host"},
    {400, "duplicate Host"},
    {414, "request line too long"},
    {431, "field line too long"},
    {431, "head too large"},
    {431, "too many fields"},
    {501, "unsupported Transfer-Encoding"},
    {505, "HTTP version not supported"},
    {400, "bad chunk size"},
    {400, "chunk size too large"},
    {400, "bad chunk extension"},
    {400, "chunk-size line too long"},
    {400, "chunk data not followed by CRLF"},
    {400, "bad trailer field"},
    {400, "trailer section too large"},
};

int http_status_of(int err) {
  if (err < HTTP_ELAST || err > HTTP_EMETHOD)
    return 500;
  return errs[-err - 1].status;
}

const char *http_strerror(int err) {
  if (err < HTTP_ELAST || err > HTTP_EMETHOD)
    return "not an HTTP error";
  return errs[-err - 1].text;
}

/* ---- small scanners ---------------------------------------------------- */

/* Case-insensitive compare of n bytes of a token against a lower-case
 * literal.  OR-ing 0x20 folds only letters among token bytes onto the
 * literal's letters and '-', so a token cannot match by accident. */
static int lceq(const char *p, const char *lit, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((p[i] | 0x20) != lit[i])
      return 0;
  return 1;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* First byte of [p, e) that may not be in a field value; e when none.
 * Eight bytes at a time while no byte is < 0x20 or 0x7F. */
static size_t scan_value(const char *b, size_t p, size_t e) {
  while (e - p >= 8) {
    uint64_t x, y;
    memcpy(&x, b + p, 8);
    y = x ^ (ONES * 0x7F);
    if (((x - ONES * 0x20) & ~x & HIGHS) | ((y - ONES) & ~y & HIGHS))
      break;
    p += 8;
  }
  while (p < e && IS(b[p], C_FIELD))
    p++;
  return p;
}

/* First byte of [p, e) that is not of class k; e when none.  Four table
 * lookups per branch while four bytes are left. */
static size_t skip_class(const char *b, size_t p, size_t e, int k) {
  const uint8_t *u = (const uint8_t *)b;
  while (e - p >= 4 &&
         (cls[u[p]] & cls[u[p + 1]] & cls[u[p + 2]] & cls[u[p + 3]] & k))
    p += 4;
  while (p < e && (cls[u[p]] & k))
    p++;
  return p;
}

/* First byte of [p, e) that may not be in a request-target (<= 0x20 or
 * 0x7F); e when none.  Eight bytes at a time. */
static size_t scan_target(const char *b, size_t p, size_t e) {
  while (e - p >= 8) {
    uint64_t x, y;
    memcpy(&x, b + p, 8);
    y = x ^ (ONES * 0x7F);
    if (((x - ONES * 0x21) & ~x & HIGHS) | ((y - ONES) & ~y & HIGHS))
      break;
    p += 8;
  }
  while (p < e && IS(b[p], C_TARGET))
    p++;
  return p;
}

static int ctl_error(char c, int err) { return c == '\r' ? HTTP_ECR : err; }

/* ---- the start line ---------------------------------------------------- */

static uint8_t method_id(const char *p, size_t n) {
  switch (n) {
  case 3:
    if (!memcmp(p, "GET", 3))
      return HTTP_GET;
    if (!memcmp(p, "PUT", 3))
      return HTTP_PUT;
    break;
  case 4:
    if (!memcmp(p, "POST", 4))
      return HTTP_POST;
    if (!memcmp(p, "HEAD", 4))
      return HTTP_HEAD;
    break;
  case 5:
    if (!memcmp(p, "PATCH", 5))
      return HTTP_PATCH;
    if (!memcmp(p, "TRACE", 5))
      return HTTP_TRACE;
    break;
  case 6:
    if (!memcmp(p, "DELETE", 6))
      return HTTP_DELETE;
    break;
  case 7:
    if (!memcmp(p, "OPTIONS", 7))
      return HTTP_OPTIONS;
    if (!memcmp(p, "CONNECT", 7))
      return HTTP_CONNECT;
    break;
  }
  return HTTP_OTHER;
}

/* "HTTP/d.d" at b[v, e) sets m->minor; 505 for a major other than 1. */
static int version(const char *b, size_t v, size_t e, struct http_msg *m) {
  const char *p = b + v;
  if (e - v == 8 && !memcmp(p, "HTTP/", 5) && p[5] >= '0' && p[5] <= '9' &&
      p[6] == '.' && p[7] >= '0' && p[7] <= '9') {
    if (p[5] != '1')
      return HTTP_EVERSION_NS;
    m->minor = p[7] != '0';
    return 0;
  }
  if (memchr(p, ' ', e - v))
    return HTTP_ELINE;
  if (memchr(p, '\r', e - v))
    return HTTP_ECR;
  return HTTP_EVERSION;
}

/* Splits the target into path, query and authority by its form. */
static int target_form(const char *b, struct http_msg *m) {
  size_t t = m->target.off, e = t + m->target.len, p;
  if (b[t] == '/') {
    if (m->method_id == HTTP_CONNECT)
      return HTTP_ETARGET;
    p = t;
  } else if (e - t == 1 && b[t] == '*') {
    if (m->method_id != HTTP_OPTIONS)
      return HTTP_ETARGET;
    m->path = m->target;
    return 0;
  } else if (m->method_id == HTTP_CONNECT) {
    if (!memchr(b + t, ':', e - t) || memchr(b + t, '/', e - t))
      return HTTP_ETARGET;
    m->authority = m->target;
    return 0;
  } else { /* absolute-form: scheme "://" authority [path] ["?" query] */
    p = t;
    if (!((b[p] | 0x20) >= 'a' && (b[p] | 0x20) <= 'z'))
      return HTTP_ETARGET;
    while (p < e && IS(b[p], C_SCHEME))
      p++;
    if (e - p < 3 || memcmp(b + p, "://", 3))
      return HTTP_ETARGET;
    p += 3;
    size_t a = p;
    while (p < e && b[p] != '/' && b[p] != '?')
      p++;
    m->authority = span(a, p - a);
  }
  const char *q = memchr(b + p, '?', e - p);
  if (q) {
    size_t qo = (size_t)(q - b);
    m->path = span(p, qo - p);
    m->query = span(qo + 1, e - qo - 1);
  } else {
    m->path = span(p, e - p);
  }
  return 0;
}

/* "method SP request-target SP HTTP-version" at b[s, e). */
static int request_line(const char *b, size_t s, size_t e, struct http_msg *m) {
  size_t p = skip_class(b, s, e, C_TOKEN), t, q;
  int rc;
  if (p == s || b[p] != ' ')
    return HTTP_EMETHOD;
  m->method = span(s, p - s);
  m->method_id = method_id(b + s, p - s);
  t = p + 1;
  q = scan_target(b, t, e);
  if (q == t || q == e)
    return HTTP_ELINE;
  if (b[q] != ' ')
    return ctl_error(b[q], HTTP_ETARGET);
  m->target = span(t, q - t);
  if ((rc = version(b, q + 1, e, m)) < 0)
    return rc;
  return target_form(b, m);
}

/* "HTTP-version SP 3DIGIT [SP reason]" at b[s, e); a missing SP before
 * an empty reason is accepted, as browsers do. */
static int status_line(const char *b, size_t s, size_t e, struct http_msg *m) {
  const char *p = b + s;
  int rc;
  if (e - s < 12)
    return HTTP_ESTATUS;
  if ((rc = version(b, s, s + 8, m)) < 0)
    return rc == HTTP_EVERSION_NS ? rc : HTTP_EVERSION;
  if (p[8] != ' ' || p[9] < '1' || p[9] > '9' || p[10] < '0' || p[10] > '9' ||
      p[11] < '0' || p[11] > '9')
    return HTTP_ESTATUS;
  m->status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + p[11] - '0');
  if (e - s == 12) {
    m->reason = span(e, 0);
    return 0;
  }
  if (p[12] != ' ')
    return HTTP_ESTATUS;
  size_t r = s + 13, x = scan_value(b, r, e);
  if (x < e)
    return ctl_error(b[x], HTTP_ESTATUS);
  m->reason = span(r, e - r);
  return 0;
}

/* Checks what has arrived of the start line before its LF: a request's
 * method bytes, a response's "HTTP/".  Resumes at scan.early. */
static int early_check(const char *b, size_t wend, struct http_scan *sc,
                       int req) {
  size_t s = sc->line, p = sc->early > s ? sc->early : s;
  if (req) {
    while (p < wend && IS(b[p], C_TOKEN))
      p++;
    sc->early = (uint32_t)p;
    if (p == wend)
      return 0;
    if (b[p] == ' ' && p > s)
      sc->early_done = 1;
    else if (!(p == s && (b[p] == '\r' || b[p] == '\n')))
      return HTTP_EMETHOD; /* (a line that starts with CR may be empty) */
    return 0;
  }
  for (; p < wend && p - s < 5; p++)
    if (b[p] != "HTTP/"[p - s])
      return HTTP_ESTATUS;
  sc->early = (uint32_t)p;
  sc->early_done = p - s == 5;
  return 0;
}

/* ---- field lines ------------------------------------------------------- */

/* Calls fn on each non-empty element of a comma-separated list. */
static void each_element(const char *b, struct http_span v,
                         void (*fn)(struct http_msg *, const char *, size_t),
                         struct http_msg *m) {
  size_t p = v.off, e = v.off + v.len;
  while (p < e) {
    while (p < e && (b[p] == ',' || IS(b[p], C_WS)))
      p++;
    size_t s = p;
    while (p < e && b[p] != ',')
      p++;
    size_t x = p;
    while (x > s && IS(b[x - 1], C_WS))
      x--;
    if (x > s)
      fn(m, b + s, x - s);
  }
}

static void connection_token(struct http_msg *m, const char *p, size_t n) {
  if (n == 5 && lceq(p, "close", 5))
    m->flags |= HTTP_F_CONN_CLOSE;
  else if (n == 10 && lceq(p, "keep-alive", 10))
    m->flags |= HTTP_F_CONN_KEEP_ALIVE;
  else if (n == 7 && lceq(p, "upgrade", 7))
    m->flags |= HTTP_F_CONN_UPGRADE;
}

static void transfer_coding(struct http_msg *m, const char *p, size_t n) {
  if (m->scan.te_codings < UINT16_MAX)
    m->scan.te_codings++;
  m->scan.te_chunked_last = n == 7 && lceq(p, "chunked", 7);
}

static int content_length(const char *b, struct http_span v, uint64_t *out) {
  uint64_t n = 0;
  if (v.len == 0)
    return HTTP_ELENGTH;
  for (size_t i = v.off; i < (size_t)v.off + v.len; i++) {
    unsigned d = (unsigned)(uint8_t)b[i] - '0';
    if (d > 9 || n > (HTTP_MAX_LENGTH - d) / 10)
      return HTTP_ELENGTH;
    n = n * 10 + d;
  }
  *out = n;
  return 0;
}

/* Notes the fields that decide framing; k is the field's index. */
static int known_field(const char *b, struct http_msg *m, int32_t k) {
  const struct http_header *h = &m->headers[k];
  const char *n = b + h->name.off;
  int32_t *ix = m->ix;
  switch (h->name.len) {
  case 4:
    if (!lceq(n, "host", 4))
      return 0;
    if (ix[HTTP_IX_HOST] >= 0)
      return HTTP_EDUPHOST;
    ix[HTTP_IX_HOST] = k;
    m->flags |= HTTP_F_HOST;
    return 0;
  case 6:
    if (lceq(n, "expect", 6) && ix[HTTP_IX_EXPECT] < 0) {
      ix[HTTP_IX_EXPECT] = k;
      if (h->value.len == 12 && lceq(b + h->value.off, "100-continue", 12))
        m->flags |= HTTP_F_EXPECT_CONTINUE;
    }
    return 0;
  case 7:
    if (lceq(n, "upgrade", 7)) {
      if (ix[HTTP_IX_UPGRADE] < 0)
        ix[HTTP_IX_UPGRADE] = k;
      m->flags |= HTTP_F_UPGRADE;
    }
    return 0;
  case 10:
    if (lceq(n, "connection", 10)) {
      if (ix[HTTP_IX_CONNECTION] < 0)
        ix[HTTP_IX_CONNECTION] = k;
      each_element(b, h->value, connection_token, m);
    }
    return 0;
  case 14:
    if (!lceq(n, "content-length", 14))
      return 0;
    if (ix[HTTP_IX_CONTENT_LENGTH] >= 0)
      return HTTP_EDUPLENGTH;
    ix[HTTP_IX_CONTENT_LENGTH] = k;
    m->flags |= HTTP_F_CONTENT_LENGTH;
    return content_length(b, h->value, &m->content_length);
  case 17:
    if (lceq(n, "transfer-encoding", 17)) {
      if (ix[HTTP_IX_TRANSFER_ENCODING] < 0)
        ix[HTTP_IX_TRANSFER_ENCODING] = k;
      m->flags |= HTTP_F_TRANSFER_ENCODING;
      each_element(b, h->value, transfer_coding, m);
    }
    return 0;
  }
  return 0;
}

/* "name: value" at b[s, e); b[e] is the line's CR or LF.  checked: the
 * caller knows that every byte of the line is a field-value byte. */
static int field_line(const char *b, size_t s, size_t e, int checked,
                      uint32_t max, struct http_msg *m) {
  size_t p, v, x;
  if (m->nheaders >= max)
    return HTTP_EFIELDS;
  if (IS(b[s], C_WS))
    return HTTP_EOBSFOLD;
  p = skip_class(b, s, e, C_TOKEN);
  if (p == s || b[p] != ':')
    return p < e ? ctl_error(b[p], HTTP_ENAME) : HTTP_ENAME;
  v = p + 1;
  while (IS(b[v], C_WS))
    v++;
  x = checked ? e : scan_value(b, v, e);
  if (x < e)
    return ctl_error(b[x], HTTP_EVALUE);
  while (x > v && IS(b[x - 1], C_WS))
    x--;
  int32_t k = (int32_t)m->nheaders++;
  m->headers[k].name = span(s, p - s);
  m->headers[k].value = span(v, x - v);
  return known_field(b, m, k);
}

/* ---- the end of the head: framing ------------------------------------- */

/* Transfer-Encoding's verdict: 0 when absent, 1 for chunked, or an error. */
static int transfer_encoding(const struct http_msg *m) {
  if (!(m->flags & HTTP_F_TRANSFER_ENCODING))
    return 0;
  if (m->flags & HTTP_F_CONTENT_LENGTH)
    return HTTP_ELENGTH_TE;
  if (m->minor == 0)
    return HTTP_ETE_10;
  if (m->scan.te_codings != 1 || !m->scan.te_chunked_last)
    return HTTP_ETE;
  return 1;
}

static int keep_alive(const struct http_msg *m) {
  if (m->flags & HTTP_F_CONN_CLOSE)
    return 0;
  return m->minor ? 1 : (m->flags & HTTP_F_CONN_KEEP_ALIVE) != 0;
}

static int finish_request(struct http_msg *m) {
  int te = transfer_encoding(m);
  if (te < 0)
    return te;
  if (m->minor && !(m->flags & HTTP_F_HOST))
    return HTTP_ENOHOST;
  if (te) {
    m->flags |= HTTP_F_CHUNKED;
    m->body = HTTP_BODY_CHUNKED;
  } else {
    m->body = m->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
  }
  if (!m->minor)
    m->flags &= ~(uint32_t)HTTP_F_EXPECT_CONTINUE;
  if (keep_alive(m))
    m->flags |= HTTP_F_KEEP_ALIVE;
  return 0;
}

static int finish_response(struct http_msg *m, unsigned rflags) {
  int te = transfer_encoding(m);
  unsigned st = m->status;
  int tunnel = (rflags & HTTP_RESP_TO_CONNECT) && st / 100 == 2;
  if (te < 0)
    return te;
  if (te)
    m->flags |= HTTP_F_CHUNKED;
  if (st < 200 || st == 204 || st == 304 || (rflags & HTTP_RESP_TO_HEAD) ||
      tunnel)
    m->body = HTTP_BODY_NONE;
  else if (te)
    m->body = HTTP_BODY_CHUNKED;
  else if (m->flags & HTTP_F_CONTENT_LENGTH)
    m->body = m->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
  else
    m->body = HTTP_BODY_CLOSE;
  if (keep_alive(m) && m->body != HTTP_BODY_CLOSE && st != 101 && !tunnel)
    m->flags |= HTTP_F_KEEP_ALIVE;
  return 0;
}

/* ---- the line loop ----------------------------------------------------- */

/* One complete line b[s, i) + LF at i.  Returns 0 to go on, the head's
 * size when it ends here, or an error.  checked: as for field_line. */
static int one_line(const char *b, size_t s, size_t i, int checked,
                    const struct http_limits *lim, struct http_msg *m, int req,
                    unsigned rflags) {
  struct http_scan *sc = &m->scan;
  size_t e = i;
  int rc;
  if (e > s && b[e - 1] == '\r')
    e--;
  else if (lim->strict_crlf)
    return HTTP_ELF;
  if (e == s) { /* an empty line */
    if (sc->started) {
      rc = req ? finish_request(m) : finish_response(m, rflags);
      return rc < 0 ? rc : (int)(i + 1);
    }
    if (!req)
      return HTTP_ESTATUS;
    if (++sc->empty > HTTP_MAX_EMPTY_LINES)
      return HTTP_EEMPTY;
    return 0;
  }
  if (sc->started)
    return field_line(b, s, e, checked, lim->max_headers, m);
  sc->started = 1;
  return req ? request_line(b, s, e, m) : status_line(b, s, e, m);
}

static int parse(const char *b, size_t len, const struct http_limits *lim,
                 struct http_msg *m, int req, unsigned rflags) {
  struct http_scan *sc = &m->scan;
  size_t n = len < lim->max_head ? len : lim->max_head;
  if (n > INT_MAX) /* the size is returned as an int */
    n = INT_MAX;
  if (sc->result)
    return sc->result;
  for (;;) {
    uint64_t cap = sc->started ? lim->max_header : lim->max_line;
    uint64_t lend = (uint64_t)sc->line + cap;
    size_t wend = lend < n ? (size_t)lend : n;
    const char *lf = NULL;
    int rc, checked = 0;
    if (!sc->started && !sc->early_done &&
        (rc = early_check(b, wend, sc, req)) < 0)
      return sc->result = rc;
    if (sc->started && sc->pos == sc->line && sc->pos < wend) {
      /* A field line seen for the first time: one scan finds its end
       * (the first byte that is not a field-value byte, if it is CRLF or
       * LF) and checks its bytes.  Else memchr finds the LF. */
      size_t x = scan_value(b, sc->pos, wend);
      if (x < wend && b[x] == '\n')
        lf = b + x, checked = 1;
      else if (x + 1 < wend && b[x] == '\r' && b[x + 1] == '\n')
        lf = b + x + 1, checked = 1;
    }
    if (!lf && sc->pos < wend)
      lf = memchr(b + sc->pos, '\n', wend - sc->pos);
    if (!lf) {
      if (lend <= n)
        rc = sc->started ? HTTP_EFIELD_LONG : HTTP_ELINE_LONG;
      else if (n == lim->max_head)
        rc = HTTP_EHEAD_LARGE;
      else
        rc = 0;
      sc->pos = (uint32_t)wend;
      return sc->result = rc;
    }
    size_t i = (size_t)(lf - b);
    rc = one_line(b, sc->line, i, checked, lim, m, req, rflags);
    sc->line = sc->pos = (uint32_t)(i + 1);
    if (rc != 0)
      return sc->result = rc;
  }
}

void http_msg_init(struct http_msg *m, struct http_header *headers) {
  memset(m, 0, sizeof *m);
  m->headers = headers;
  for (int i = 0; i < HTTP_IX_COUNT; i++)
    m->ix[i] = -1;
}

int http_parse_request(const char *buf, size_t len,
                       const struct http_limits *lim, struct http_msg *m) {
  return parse(buf, len, lim, m, 1, 0);
}

int http_parse_response(const char *buf, size_t len,
                        const struct http_limits *lim, unsigned resp_flags,
                        struct http_msg *m) {
  return parse(buf, len, lim, m, 0, resp_flags);
}
