/*
 * resp.c -- the RESP2/RESP3 reply parser (see resp.h for the token
 * layout and the contract).
 *
 * One loop reads one element at a time at p->pos: a line-based value, a
 * length-prefixed string, an aggregate header (which opens a frame on a
 * fixed stack), a chunk of a streamed string, or the '.' that closes a
 * streamed aggregate.  An element either completes (its token written,
 * pos moved past it) or leaves the state untouched and asks for more
 * bytes; so a call that ran out of bytes can be resumed by calling again
 * with more, and the only work repeated is re-reading the header of the
 * element that was cut, whose size is bounded.  The search for a line's
 * CR also resumes where it stopped (p->scan), so a 64 KiB simple string
 * trickling in byte by byte stays linear.
 *
 * When a value completes, complete() counts it in the frame on top of the
 * stack and closes every frame that this fills, fixing up the aggregate
 * token's `end` (and its count, for streamed ones).  Attributes take the
 * same path but count for nobody: they belong to the value after them.
 *
 * The checks are the spec's, strictly: integers are -?(0|[1-9][0-9]*)
 * within int64, lengths likewise (-1 only where a RESP2 null allows it),
 * doubles [-]digits[.digits][e[+-]digits] or inf/-inf/nan (case ignored,
 * and "-nan" which Redis before 7.2 could send), every line ends in CRLF
 * and simple strings contain neither CR nor LF.
 */
#include "resp.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Longest line of a number, a length, a boolean or a null, CRLF excluded.
 * The longest valid int64 is 20 characters and Redis prints doubles in
 * at most 24; the slack lets a long number fail as a bad number. */
#define NUM_LINE_MAX 128

#define STREAMED (-2) /* header() found "?" instead of a length */

enum { STEP_MORE = 2, STEP_DONE = 3 }; /* besides enum resp_status */

/* ---- tokens and frames ------------------------------------------------- */

static struct resp_token *tok_at(struct resp_parser *p, size_t i) {
  return p->tok ? &p->tok[i] : &p->scratch;
}

/* The next token slot, or NULL when the array is full. */
static struct resp_token *emit(struct resp_parser *p, uint8_t type,
                               uint8_t flags, uint32_t len) {
  struct resp_token *t;
  if (!p->tok)
    t = &p->scratch;
  else if (p->ntok == p->cap)
    return NULL;
  else
    t = &p->tok[p->ntok];
  p->ntok++;
  t->type = type;
  t->flags = flags;
  t->pad = 0;
  t->len = len;
  t->v.end = 0;
  return t;
}

static void advance(struct resp_parser *p, size_t next) {
  p->pos = next;
  p->scan = 0;
}

/* Pops the top frame and completes its token; 1 if it was an attribute
 * (whose tokens are then dropped unless RESP_KEEP_ATTRS). */
static int close_frame(struct resp_parser *p) {
  struct resp_frame *f = &p->stack[--p->depth];
  struct resp_token *t = tok_at(p, f->tok);
  if (f->streamed)
    t->len = (uint32_t)(f->type == RESP_BULK ? f->total : f->seen);
  t->v.end = p->ntok;
  if (f->type != RESP_ATTR)
    return 0;
  if (!(p->flags & RESP_KEEP_ATTRS))
    p->ntok = f->tok;
  return 1;
}

/* A value (or an attribute, which counts for nobody) is complete: count
 * it in its parent, closing each aggregate that it fills. */
static int complete(struct resp_parser *p, int is_attr) {
  for (;;) {
    if (is_attr) {
      p->attr_pending = 1;
      return STEP_MORE;
    }
    p->attr_pending = 0;
    if (p->depth == 0)
      return STEP_DONE;
    struct resp_frame *f = &p->stack[p->depth - 1];
    if (f->streamed) {
      uint64_t max = (uint64_t)p->lim.max_count * (f->type == RESP_MAP ? 2 : 1);
      return ++f->seen > max ? RESP_ECOUNT : STEP_MORE;
    }
    if (--f->left > 0)
      return STEP_MORE;
    is_attr = close_frame(p);
  }
}

static int open_frame(struct resp_parser *p, uint8_t type, int streamed,
                      uint32_t values, size_t next) {
  if (p->depth >= (int)p->lim.max_depth)
    return RESP_EDEPTH;
  if (!emit(p, type, streamed ? RESP_TF_STREAMED : 0, values))
    return RESP_EFULL;
  struct resp_frame *f = &p->stack[p->depth++];
  f->tok = p->ntok - 1;
  f->left = values;
  f->seen = 0;
  f->total = 0;
  f->type = type;
  f->streamed = (uint8_t)streamed;
  advance(p, next);
  return STEP_MORE;
}

/* ---- lines and numbers ------------------------------------------------- */

/* The line starting at `start` (just after the type byte): RESP_OK with
 * *cr at its CR, RESP_NEED, or an error.  At most max bytes before the
 * CR. */
static int line(struct resp_parser *p, const uint8_t *b, size_t len,
                size_t start, size_t max, size_t *cr) {
  size_t from = p->scan > start ? p->scan : start;
  size_t lim = start + max + 1; /* one past the last place for the CR */
  size_t stop = len < lim ? len : lim;
  const uint8_t *q = from < stop ? memchr(b + from, '\r', stop - from) : NULL;
  if (!q) {
    if (len >= lim)
      return RESP_ELINE;
    p->scan = len;
    return RESP_NEED;
  }
  size_t i = (size_t)(q - b);
  if (i + 1 == len) {
    p->scan = i;
    return RESP_NEED;
  }
  if (b[i + 1] != '\n')
    return RESP_ECRLF;
  *cr = i;
  return RESP_OK;
}

/* -?(0|[1-9][0-9]*) within int64: 0, -1 for bad syntax, -2 when out of
 * range. */
static int parse_i64(const uint8_t *s, size_t n, int64_t *out) {
  if (n == 0)
    return -1;
  size_t i = s[0] == '-';
  if (i == n || (s[i] == '0' && (n - i > 1 || i)))
    return -1; /* empty, a leading zero, or "-0" */
  uint64_t v = 0, lim = i ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n; i++) {
    unsigned d = (unsigned)s[i] - '0';
    if (d > 9)
      return -1;
    if (v > lim / 10 || (v == lim / 10 && d > lim % 10))
      return -2; /* constants: no division at run time */
    v = v * 10 + d;
  }
  if (s[0] != '-')
    *out = (int64_t)v;
  else
    *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
  return 0;
}

/* The common case of a number line, read in one pass without searching
 * for the CR first: -?[1-9][0-9]{0,17} or "0", then CRLF, all present.
 * 1 with the value and the next position; 0 when the general path must
 * decide (it gives the same answer on these inputs, and the right one on
 * all others). */
static int quick_number(const uint8_t *b, size_t len, size_t s, int64_t *n,
                        size_t *next) {
  size_t i = s + (s < len && b[s] == '-'), d0 = i;
  uint64_t v = 0;
  while (i < len && i - d0 < 18 && (unsigned)(b[i] - '0') <= 9)
    v = v * 10 + (unsigned)(b[i++] - '0');
  if (i == d0 || i + 1 >= len || b[i] != '\r' || b[i + 1] != '\n' ||
      (b[d0] == '0' && (i - d0 > 1 || d0 > s)))
    return 0;
  *n = d0 > s ? -(int64_t)v : (int64_t)v;
  *next = i + 2;
  return 1;
}

/* A length or count line: >= 0, -1, STREAMED for "?", or INT64_MAX for a
 * number too big for int64 (the caller's limit rejects it). */
static int header(struct resp_parser *p, const uint8_t *b, size_t len,
                  int64_t *n, size_t *next) {
  size_t s = p->pos + 1, cr;
  if (quick_number(b, len, s, n, next))
    return *n >= -1 ? RESP_OK : RESP_ELEN;
  int rc = line(p, b, len, s, NUM_LINE_MAX, &cr);
  if (rc != RESP_OK)
    return rc;
  *next = cr + 2;
  if (cr - s == 1 && b[s] == '?') {
    *n = STREAMED;
    return RESP_OK;
  }
  if (cr == s)
    return RESP_ELEN;
  rc = parse_i64(b + s, cr - s, n);
  if (rc == -2 && b[s] != '-')
    *n = INT64_MAX;
  else if (rc != 0 || *n < -1)
    return RESP_ELEN;
  return RESP_OK;
}

static int ieq(const uint8_t *s, size_t n, const char *word) {
  size_t k = strlen(word);
  if (n != k)
    return 0;
  for (size_t i = 0; i < k; i++)
    if ((s[i] | 0x20) != (uint8_t)word[i])
      return 0;
  return 1;
}

/* Exact powers of ten: m * 10^e is correctly rounded by one operation
 * when m < 2^53 and |e| <= 22 (both factors exact). */
static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod on a copy, in the C locale's notation whatever the process's
 * LC_NUMERIC says (Lua's os.setlocale can change it). */
static int slow_double(const uint8_t *s, size_t n, double *out) {
  char tmp[NUM_LINE_MAX + 1], *end;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  *out = strtod(tmp, &end);
  if (end == tmp + n)
    return 0;
  char *dot = memchr(tmp, '.', n);
  const struct lconv *lc = localeconv();
  if (!dot || !lc->decimal_point || !lc->decimal_point[0])
    return -1;
  *dot = lc->decimal_point[0];
  *out = strtod(tmp, &end);
  return end == tmp + n ? 0 : -1;
}

static int parse_double(const uint8_t *s, size_t n, double *out) {
  size_t i = n && s[0] == '-';
  int neg = (int)i, sig = 0, frac = 0, exact = 1;
  uint64_t m = 0;
  if (ieq(s + i, n - i, "inf")) {
    *out = neg ? -HUGE_VAL : HUGE_VAL;
    return 0;
  }
  if (ieq(s + i, n - i, "nan")) {
    *out = NAN;
    return 0;
  }
  size_t start = i;
  for (int in_frac = 0;; in_frac = 1) {
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      frac += in_frac;
      if (sig < 19) {
        m = m * 10 + (unsigned)(s[i] - '0');
        sig += m != 0;
      } else {
        exact = 0;
      }
    }
    if (i == start)
      return -1; /* no digits before the dot, or after it */
    if (in_frac || i == n || s[i] != '.')
      break;
    start = ++i;
  }
  long ex = 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    int eneg = ++i < n && s[i] == '-';
    i += i < n && (s[i] == '+' || s[i] == '-');
    if (i == n)
      return -1;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
      ex = ex < 100000 ? ex * 10 + (s[i] - '0') : ex;
    ex = eneg ? -ex : ex;
  }
  if (i != n)
    return -1;
  long e = ex - frac;
#if FLT_EVAL_METHOD == 0
  if (exact && m <= (1ull << 53) && e >= -22 && e <= 22) {
    double v =
        e >= 0 ? (double)m * pow10_exact[e] : (double)m / pow10_exact[-e];
    *out = neg ? -v : v;
    return 0;
  }
#else
  (void)exact;
  (void)e;
#endif
  return slow_double(s, n, out);
}

/* -?(0|[1-9][0-9]*) of any length. */
static int bignum_ok(const uint8_t *s, size_t n) {
  size_t i = n && s[0] == '-';
  if (i == n || (s[i] == '0' && (n - i > 1 || i)))
    return 0;
  for (; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return 0;
  return 1;
}

/* ---- elements ---------------------------------------------------------- */

/* Writes a finished scalar token, moves past it and counts it. */
static int finish(struct resp_parser *p, const struct resp_token *v,
                  size_t next) {
  struct resp_token *t = emit(p, v->type, v->flags, v->len);
  if (!t)
    return RESP_EFULL;
  t->v = v->v;
  advance(p, next);
  return complete(p, 0);
}

static int span(struct resp_parser *p, uint8_t type, size_t off, size_t n,
                size_t next) {
  struct resp_token v = {type, 0, 0, (uint32_t)n, {0}};
  v.v.off = off;
  return finish(p, &v, next);
}

static int null(struct resp_parser *p, uint8_t flags, size_t next) {
  struct resp_token v = {RESP_NULL, flags, 0, 0, {0}};
  return finish(p, &v, next);
}

/* '+' '-' '(' and the number-like lines ':' ',' '#' '_'. */
static int line_value(struct resp_parser *p, const uint8_t *b, size_t len) {
  uint8_t c = b[p->pos];
  size_t s = p->pos + 1, cr;
  struct resp_token v = {c, 0, 0, 0, {0}};
  if (c == RESP_INT && quick_number(b, len, s, &v.v.i, &cr))
    return finish(p, &v, cr);
  int text = c == RESP_SIMPLE || c == RESP_ERROR || c == RESP_BIGNUM;
  int rc = line(p, b, len, s, text ? p->lim.max_line : NUM_LINE_MAX, &cr);
  if (rc != RESP_OK)
    return rc;
  const uint8_t *q = b + s;
  size_t n = cr - s;
  switch (c) {
  case RESP_SIMPLE:
  case RESP_ERROR:
    if (memchr(q, '\n', n))
      return RESP_ECRLF;
    return span(p, c, s, n, cr + 2);
  case RESP_BIGNUM:
    return bignum_ok(q, n) ? span(p, c, s, n, cr + 2) : RESP_EBIGNUM;
  case RESP_INT:
    if (n == 0 || parse_i64(q, n, &v.v.i) != 0)
      return RESP_EINT;
    break;
  case RESP_DOUBLE:
    if (n == 0 || parse_double(q, n, &v.v.d) != 0)
      return RESP_EDOUBLE;
    break;
  case RESP_BOOL:
    if (n != 1 || (q[0] != 't' && q[0] != 'f'))
      return RESP_EBOOL;
    v.v.i = q[0] == 't';
    break;
  default: /* RESP_NULL */
    if (n != 0)
      return RESP_ENULL;
    break;
  }
  return finish(p, &v, cr + 2);
}

/* '$' '!' '=': length, bytes, CRLF ("$?" opens a streamed string). */
static int blob(struct resp_parser *p, const uint8_t *b, size_t len) {
  uint8_t c = b[p->pos];
  int64_t n;
  size_t h;
  int rc = header(p, b, len, &n, &h);
  if (rc != RESP_OK)
    return rc;
  if (n == STREAMED)
    return c == RESP_BULK ? open_frame(p, c, 1, 0, h) : RESP_ESTREAM;
  if (n == -1)
    return c == RESP_BULK ? null(p, RESP_TF_NULL_BULK, h) : RESP_ELEN;
  if ((uint64_t)n > p->lim.max_bulk)
    return RESP_EBULK;
  if ((uint64_t)(len - h) < (uint64_t)n + 2)
    return RESP_NEED;
  size_t e = h + (size_t)n;
  if (b[e] != '\r' || b[e + 1] != '\n')
    return RESP_ECRLF;
  if (c == RESP_VERBATIM) {
    if (n < 4 || b[h + 3] != ':')
      return RESP_EVERBATIM;
    return span(p, c, h + 4, (size_t)n - 4, e + 2);
  }
  return span(p, c, h, (size_t)n, e + 2);
}

/* '*' '%' '~' '>' '|': a count, then that many values (pairs for maps
 * and attributes); "?" for a streamed one, "*-1" a RESP2 null. */
static int aggregate(struct resp_parser *p, const uint8_t *b, size_t len) {
  uint8_t c = b[p->pos];
  int64_t n;
  size_t h;
  if (c == RESP_PUSH && p->depth > 0)
    return RESP_EPUSH;
  int rc = header(p, b, len, &n, &h);
  if (rc != RESP_OK)
    return rc;
  if (n == STREAMED)
    return c == RESP_PUSH || c == RESP_ATTR ? RESP_ESTREAM
                                            : open_frame(p, c, 1, 0, h);
  if (n == -1)
    return c == RESP_ARRAY ? null(p, RESP_TF_NULL_ARRAY, h) : RESP_ELEN;
  if ((uint64_t)n > p->lim.max_count)
    return RESP_ECOUNT;
  uint32_t values = (uint32_t)n * (c == RESP_MAP || c == RESP_ATTR ? 2 : 1);
  if (values > 0)
    return open_frame(p, c, 0, values, h);
  struct resp_token *t = emit(p, c, 0, 0);
  if (!t)
    return RESP_EFULL;
  t->v.end = p->ntok;
  advance(p, h);
  if (c == RESP_ATTR && !(p->flags & RESP_KEEP_ATTRS))
    p->ntok--;
  return complete(p, c == RESP_ATTR);
}

/* '.': closes the streamed aggregate on top. */
static int end_mark(struct resp_parser *p, const uint8_t *b, size_t len) {
  struct resp_frame *f = p->depth ? &p->stack[p->depth - 1] : NULL;
  size_t cr;
  if (!f || !f->streamed)
    return RESP_ESTREAM;
  if (p->attr_pending)
    return RESP_EATTR;
  if (f->type == RESP_MAP && f->seen % 2)
    return RESP_ESTREAM;
  int rc = line(p, b, len, p->pos + 1, NUM_LINE_MAX, &cr);
  if (rc != RESP_OK)
    return rc;
  if (cr != p->pos + 1)
    return RESP_ESTREAM;
  advance(p, cr + 2);
  return complete(p, close_frame(p));
}

/* Inside "$?": ";len" and len bytes, until ";0". */
static int chunk(struct resp_parser *p, const uint8_t *b, size_t len) {
  struct resp_frame *f = &p->stack[p->depth - 1];
  int64_t n;
  size_t h;
  if (b[p->pos] != RESP_CHUNK)
    return RESP_ESTREAM;
  int rc = header(p, b, len, &n, &h);
  if (rc != RESP_OK)
    return rc;
  if (n < 0)
    return RESP_ELEN;
  if (n == 0) {
    advance(p, h);
    return complete(p, close_frame(p));
  }
  if (f->seen >= p->lim.max_count)
    return RESP_ECOUNT;
  if ((uint64_t)n > p->lim.max_bulk - f->total)
    return RESP_EBULK;
  if ((uint64_t)(len - h) < (uint64_t)n + 2)
    return RESP_NEED;
  size_t e = h + (size_t)n;
  if (b[e] != '\r' || b[e + 1] != '\n')
    return RESP_ECRLF;
  struct resp_token *t = emit(p, RESP_CHUNK, 0, (uint32_t)n);
  if (!t)
    return RESP_EFULL;
  t->v.off = h;
  f->seen++;
  f->total += (uint64_t)n;
  advance(p, e + 2);
  return STEP_MORE;
}

static int step(struct resp_parser *p, const uint8_t *b, size_t len) {
  if (p->pos >= len)
    return RESP_NEED;
  if (p->depth && p->stack[p->depth - 1].type == RESP_BULK)
    return chunk(p, b, len);
  uint8_t c = b[p->pos];
  switch (c) {
  case RESP_SIMPLE:
  case RESP_ERROR:
  case RESP_INT:
  case RESP_DOUBLE:
  case RESP_BOOL:
  case RESP_NULL:
  case RESP_BIGNUM: p->attr_pending = 0; return line_value(p, b, len);
  case RESP_BULK:
  case RESP_BLOB_ERROR:
  case RESP_VERBATIM: p->attr_pending = 0; return blob(p, b, len);
  case RESP_ARRAY:
  case RESP_MAP:
  case RESP_SET:
  case RESP_PUSH: p->attr_pending = 0; return aggregate(p, b, len);
  case RESP_ATTR: return aggregate(p, b, len);
  case '.': return end_mark(p, b, len);
  case RESP_CHUNK: return RESP_ESTREAM;
  default: return RESP_ETYPE;
  }
}

/* ---- entry points ------------------------------------------------------ */

void resp_limits_default(struct resp_limits *lim) {
  lim->max_depth = RESP_MAX_DEPTH;
  lim->max_count = RESP_DEFAULT_COUNT;
  lim->max_bulk = RESP_DEFAULT_BULK;
  lim->max_line = RESP_DEFAULT_LINE;
}

void resp_parser_init(struct resp_parser *p, const struct resp_limits *lim,
                      unsigned flags, struct resp_token *tok, size_t cap) {
  memset(p, 0, sizeof *p);
  if (lim)
    p->lim = *lim;
  else
    resp_limits_default(&p->lim);
  if (p->lim.max_depth < 1 || p->lim.max_depth > RESP_MAX_DEPTH)
    p->lim.max_depth = RESP_MAX_DEPTH;
  if (p->lim.max_count < 1 || p->lim.max_count > RESP_MAX_COUNT)
    p->lim.max_count = RESP_MAX_COUNT;
  if (p->lim.max_line < 1)
    p->lim.max_line = 1;
  p->flags = flags;
  resp_parser_set_tokens(p, tok, cap);
}

void resp_parser_set_tokens(struct resp_parser *p, struct resp_token *tok,
                            size_t cap) {
  p->tok = tok;
  p->cap = tok ? cap : 0;
}

void resp_parser_reset(struct resp_parser *p) {
  p->ntok = 0;
  p->pos = 0;
  p->scan = 0;
  p->depth = 0;
  p->err = 0;
  p->done = 0;
  p->attr_pending = 0;
}

int resp_parse(struct resp_parser *p, const char *buf, size_t len,
               size_t *used) {
  *used = p->pos;
  if (p->err)
    return p->err;
  if (p->done)
    resp_parser_reset(p);
  for (;;) {
    int rc = step(p, (const uint8_t *)buf, len);
    if (rc == STEP_MORE)
      continue;
    *used = p->pos;
    if (rc == STEP_DONE) {
      p->done = 1;
      return RESP_OK;
    }
    if (rc < 0 && rc != RESP_EFULL)
      p->err = rc;
    return rc;
  }
}

int resp_scan(struct resp_parser *p, const char *buf, size_t len, size_t want,
              size_t *done, size_t *used) {
  while (*done < want) {
    size_t n;
    int rc = resp_parse(p, buf + *used, len - *used, &n);
    if (rc != RESP_OK)
      return rc;
    ++*done;
    *used += n;
  }
  return RESP_OK;
}

const char *resp_strerror(int status) {
  switch (status) {
  case RESP_OK: return "ok";
  case RESP_NEED: return "incomplete reply";
  case RESP_EFULL: return "token array full";
  case RESP_ETYPE: return "unknown RESP type byte";
  case RESP_ELINE: return "RESP line too long";
  case RESP_ECRLF: return "CR or LF out of place";
  case RESP_EINT: return "bad RESP integer";
  case RESP_ELEN: return "bad RESP length";
  case RESP_EBULK: return "RESP string too long";
  case RESP_ECOUNT: return "RESP aggregate too large";
  case RESP_EDEPTH: return "RESP nesting too deep";
  case RESP_EDOUBLE: return "bad RESP double";
  case RESP_EBOOL: return "bad RESP boolean";
  case RESP_ENULL: return "bad RESP null";
  case RESP_EBIGNUM: return "bad RESP big number";
  case RESP_EVERBATIM: return "bad RESP verbatim string";
  case RESP_ESTREAM: return "bad RESP streamed type";
  case RESP_EPUSH: return "RESP push inside an aggregate";
  case RESP_EATTR: return "RESP attribute without a value";
  default: return "unknown error";
  }
}
