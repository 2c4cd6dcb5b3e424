/*
 * http_chunked.c -- incremental decoder of the chunked transfer coding.
 *
 * A byte-at-a-time state machine for the framing, which is short (a size
 * line, a CRLF), and a span for the data, which is long: a chunk's data is
 * handed back as one piece of the caller's buffer without being looked
 * at.  The state is a few integers, so pieces may end anywhere, even in
 * the middle of a CRLF.  The grammar (RFC 9112 section 7.1):
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *
 * A size is one or more hex digits (leading zeros allowed, value at most
 * 2^62).  After it come either the line end or optional SP/HTAB then ';';
 * the extension runs to the line end and may hold any byte but a control
 * byte other than HTAB (so a stray CR or LF can never hide inside it).
 */
#include "http_chunked.h"

#include <string.h>

enum {
  S_SIZE0,    /* the first hex digit of a size */
  S_SIZE,     /* more hex digits */
  S_SIZE_WS,  /* SP/HTAB after the size: ';' must follow */
  S_EXT,      /* extension bytes up to the line end */
  S_SIZE_LF,  /* CR seen on the size line */
  S_DATA,     /* left bytes of data */
  S_DATA_CR,  /* the CR after the data */
  S_DATA_LF,  /* the LF after the data */
  S_TR_START, /* start of a trailer line, or of the final empty line */
  S_TR_NAME,  /* trailer field name */
  S_TR_VALUE, /* trailer field value */
  S_TR_LF,    /* CR seen on a trailer line */
  S_LAST_LF,  /* CR of the final empty line */
  S_DONE
};

/* tchar: RFC 9110 section 5.6.2. */
static int is_token(unsigned char ch) {
  if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
    return 1;
  if (ch >= '0' && ch <= '9')
    return 1;
  return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* A byte that may appear in an extension or a field value. */
static int is_text(unsigned char ch) {
  return ch == '\t' || (ch >= 0x20 && ch != 0x7F);
}

static int hex(unsigned char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  ch |= 0x20;
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  return -1;
}

void http_chunked_init(struct http_chunked *c, const struct http_limits *lim) {
  memset(c, 0, sizeof *c);
  c->max_line = lim->max_chunk_line;
  c->max_trailer = lim->max_trailer;
  c->max_trailers = lim->max_trailers;
  c->strict = lim->strict_crlf != 0;
  c->state = S_SIZE0;
}

int http_chunked_done(const struct http_chunked *c) {
  return c->state == S_DONE;
}

/* The chunk-size line ended: data follows, or the trailer section. */
static void size_line_end(struct http_chunked *c) {
  c->line = 0;
  c->state = c->left ? S_DATA : S_TR_START;
}

/* A bare LF ends the chunk-size line, unless strict. */
static int line_end_lf(struct http_chunked *c) {
  if (c->strict)
    return HTTP_ELF;
  size_line_end(c);
  return 0;
}

/* A byte after the size's digits (S_SIZE) or after SP/HTAB (S_SIZE_WS):
 * BWS may only lead to ';' (RFC 9112 section 7.1.1). */
static int after_size(struct http_chunked *c, unsigned char ch) {
  if (ch == ' ' || ch == '\t')
    c->state = S_SIZE_WS;
  else if (ch == ';')
    c->state = S_EXT;
  else if (c->state == S_SIZE && ch == '\r')
    c->state = S_SIZE_LF;
  else if (c->state == S_SIZE && ch == '\n')
    return line_end_lf(c);
  else
    return HTTP_ECHUNK_SIZE;
  return 0;
}

/* One framing byte.  Returns 0 or an error. */
static int step(struct http_chunked *c, unsigned char ch) {
  int d;
  if (c->state <= S_SIZE_LF && ++c->line > c->max_line)
    return HTTP_ECHUNK_LINE;
  if (c->state >= S_TR_START && ++c->trailer > c->max_trailer)
    return HTTP_ETRAILER_LARGE;
  switch (c->state) {
  case S_SIZE0:
    if ((d = hex(ch)) < 0)
      return HTTP_ECHUNK_SIZE;
    c->left = (uint64_t)d;
    c->state = S_SIZE;
    return 0;
  case S_SIZE:
    if ((d = hex(ch)) >= 0) {
      if (c->left > (HTTP_MAX_LENGTH - (uint64_t)d) / 16)
        return HTTP_ECHUNK_BIG;
      c->left = c->left * 16 + (uint64_t)d;
      return 0;
    }
    return after_size(c, ch);
  case S_SIZE_WS: return after_size(c, ch);
  case S_EXT:
    if (ch == '\r')
      c->state = S_SIZE_LF;
    else if (ch == '\n')
      return line_end_lf(c);
    else if (!is_text(ch))
      return HTTP_ECHUNK_EXT;
    return 0;
  case S_SIZE_LF:
    if (ch != '\n')
      return HTTP_ECR;
    size_line_end(c);
    return 0;
  case S_DATA_CR:
    if (ch == '\r')
      c->state = S_DATA_LF;
    else if (ch == '\n' && !c->strict)
      c->state = S_SIZE0;
    else
      return ch == '\n' ? HTTP_ELF : HTTP_ECHUNK_CRLF;
    return 0;
  case S_DATA_LF:
    if (ch != '\n')
      return HTTP_ECHUNK_CRLF;
    c->state = S_SIZE0;
    return 0;
  case S_TR_START:
    if (ch == '\r') {
      c->state = S_LAST_LF;
    } else if (ch == '\n') {
      if (c->strict)
        return HTTP_ELF;
      c->state = S_DONE;
    } else if (is_token(ch)) {
      if (++c->trailers > c->max_trailers)
        return HTTP_ETRAILER_LARGE;
      c->state = S_TR_NAME;
    } else {
      return HTTP_ETRAILER; /* obs-fold, or not a name */
    }
    return 0;
  case S_TR_NAME:
    if (ch == ':')
      c->state = S_TR_VALUE;
    else if (!is_token(ch))
      return HTTP_ETRAILER;
    return 0;
  case S_TR_VALUE:
    if (ch == '\r')
      c->state = S_TR_LF;
    else if (ch == '\n')
      c->state = S_TR_START;
    else if (!is_text(ch))
      return HTTP_ETRAILER;
    return ch == '\n' && c->strict ? HTTP_ELF : 0;
  case S_TR_LF:
  case S_LAST_LF:
    if (ch != '\n')
      return HTTP_ECR;
    c->state = c->state == S_TR_LF ? S_TR_START : S_DONE;
    return 0;
  }
  return HTTP_ECHUNK_SIZE; /* not reached: S_DATA and S_DONE are handled
                              by the caller */
}

int http_chunked_decode(struct http_chunked *c, const char *buf, size_t len,
                        size_t *used, struct http_span *data) {
  size_t p = 0;
  data->off = data->len = 0;
  *used = 0;
  if (c->err)
    return c->err;
  if (len > UINT32_MAX)
    len = UINT32_MAX;
  while (p < len && c->state != S_DONE) {
    if (c->state == S_DATA) {
      size_t n = len - p;
      if (n > c->left)
        n = (size_t)c->left;
      data->off = (uint32_t)p;
      data->len = (uint32_t)n;
      c->left -= n;
      p += n;
      if (!c->left)
        c->state = S_DATA_CR;
      break;
    }
    int rc = step(c, (unsigned char)buf[p]);
    if (rc < 0) {
      c->err = (int16_t)rc;
      *used = p;
      return rc;
    }
    p++;
  }
  *used = p;
  return c->state == S_DONE;
}

int http_chunked_decode_inplace(struct http_chunked *c, char *buf, size_t len,
                                size_t *used, size_t *out) {
  size_t p = 0, o = 0, n;
  struct http_span d;
  int rc;
  do {
    rc = http_chunked_decode(c, buf + p, len - p, &n, &d);
    if (d.len) {
      memmove(buf + o, buf + p + d.off, d.len);
      o += d.len;
    }
    p += n;
  } while (rc == 0 && p < len);
  *used = p;
  *out = o;
  return rc;
}
