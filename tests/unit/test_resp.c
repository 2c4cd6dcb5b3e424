/*
 * test_resp.c -- the RESP parser and encoder: every RESP2 and RESP3 type,
 * every error code, replies fed in pieces and with a token array that
 * grows, the limits, resp_scan over pipelines, commands encoded and
 * parsed back, doubles against strtod, and replies captured from a real
 * redis-server (captures_resp.h, written by
 * tests/fuzz/capture/capture_redis.py).
 */
#include "captures_resp.h"
#include "resp.h"
#include "t.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define NTOK 256

static struct resp_token tok[NTOK];
static struct resp_parser parser;
static size_t used;

/* Parses one reply from s (whole) with the given limits and flags. */
static int parse_with(const char *s, size_t n, const struct resp_limits *lim,
                      unsigned flags) {
  resp_parser_init(&parser, lim, flags, tok, NTOK);
  return resp_parse(&parser, s, n, &used);
}

static int parse(const char *s) { return parse_with(s, strlen(s), NULL, 0); }

static int span_is(const char *buf, const struct resp_token *t,
                   const char *want) {
  return t->len == strlen(want) && memcmp(buf + t->v.off, want, t->len) == 0;
}

/* ---- each type ---------------------------------------------------------- */

static void simple_and_error(void) {
  const char *s = "+OK\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT_EQ(used, 5);
  T_ASSERT_EQ(parser.ntok, 1);
  T_ASSERT_EQ(tok[0].type, RESP_SIMPLE);
  T_ASSERT(span_is(s, &tok[0], "OK"));
  s = "-ERR unknown command 'x'\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT_EQ(tok[0].type, RESP_ERROR);
  T_ASSERT(span_is(s, &tok[0], "ERR unknown command 'x'"));
  T_ASSERT_EQ(parse("+\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].len, 0);
}

static void integers(void) {
  struct { const char *s; int64_t v; } ok[] = {
      {":0\r\n", 0}, {":-1\r\n", -1}, {":1234\r\n", 1234},
      {":9223372036854775807\r\n", INT64_MAX},
      {":-9223372036854775808\r\n", INT64_MIN}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    T_ASSERT_EQ(parse(ok[i].s), RESP_OK);
    T_ASSERT_EQ(tok[0].type, RESP_INT);
    T_ASSERT(tok[0].v.i == ok[i].v);
  }
}

static void bulk(void) {
  const char *s = "$3\r\nbar\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT_EQ(used, 9);
  T_ASSERT_EQ(tok[0].type, RESP_BULK);
  T_ASSERT_EQ(tok[0].flags, 0);
  T_ASSERT(span_is(s, &tok[0], "bar"));
  T_ASSERT_EQ(parse("$0\r\n\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].len, 0);
  s = "$4\r\na\r\nb\r\n"; /* binary safe: CRLF inside */
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT(span_is(s, &tok[0], "a\r\nb"));
}

static void nulls(void) {
  T_ASSERT_EQ(parse("$-1\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].type, RESP_NULL);
  T_ASSERT_EQ(tok[0].flags, RESP_TF_NULL_BULK);
  T_ASSERT_EQ(parse("*-1\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].type, RESP_NULL);
  T_ASSERT_EQ(tok[0].flags, RESP_TF_NULL_ARRAY);
  T_ASSERT_EQ(parse("_\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].type, RESP_NULL);
  T_ASSERT_EQ(tok[0].flags, 0);
}

static void arrays(void) {
  const char *s = "*3\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n*0\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT_EQ(used, strlen(s));
  T_ASSERT_EQ(parser.ntok, 6);
  T_ASSERT_EQ(tok[0].type, RESP_ARRAY);
  T_ASSERT_EQ(tok[0].len, 3);
  T_ASSERT_EQ(tok[0].v.end, 6);
  T_ASSERT_EQ(tok[1].type, RESP_INT);
  T_ASSERT_EQ(tok[2].type, RESP_ARRAY);
  T_ASSERT_EQ(tok[2].len, 2);
  T_ASSERT_EQ(tok[2].v.end, 5);
  T_ASSERT(span_is(s, &tok[3], "a"));
  T_ASSERT_EQ(tok[4].type, RESP_NULL);
  T_ASSERT_EQ(tok[5].type, RESP_ARRAY);
  T_ASSERT_EQ(tok[5].len, 0);
  T_ASSERT_EQ(tok[5].v.end, 6);
  T_ASSERT_EQ(parse("*0\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].v.end, 1);
}

static void doubles(void) {
  struct { const char *s; double v; } ok[] = {
      {",1.5\r\n", 1.5}, {",-2\r\n", -2.0}, {",10\r\n", 10.0},
      {",0.1\r\n", 0.1}, {",1e10\r\n", 1e10}, {",1.5E-3\r\n", 1.5e-3},
      {",2.5e+2\r\n", 250.0}, {",-0.0\r\n", -0.0},
      {",1.7976931348623157e308\r\n", 1.7976931348623157e308},
      {",-2.2500000000000001e-05\r\n", -2.2500000000000001e-05},
      {",12345678901234567890123\r\n", 12345678901234567890123.0}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    T_ASSERT_EQ(parse(ok[i].s), RESP_OK);
    T_ASSERT_EQ(tok[0].type, RESP_DOUBLE);
    if (memcmp(&tok[0].v.d, &ok[i].v, sizeof(double)) != 0)
      T_FAIL_("%s gave %.17g", ok[i].s, tok[0].v.d);
  }
  T_ASSERT_EQ(parse(",inf\r\n"), RESP_OK);
  T_ASSERT(isinf(tok[0].v.d) && tok[0].v.d > 0);
  T_ASSERT_EQ(parse(",-inf\r\n"), RESP_OK);
  T_ASSERT(isinf(tok[0].v.d) && tok[0].v.d < 0);
  T_ASSERT_EQ(parse(",nan\r\n"), RESP_OK);
  T_ASSERT(isnan(tok[0].v.d));
  T_ASSERT_EQ(parse(",-nan\r\n"), RESP_OK); /* Redis before 7.2 */
  T_ASSERT(isnan(tok[0].v.d));
  T_ASSERT_EQ(parse(",INF\r\n"), RESP_OK);
  T_ASSERT(isinf(tok[0].v.d));
}

/* The fast path (exact powers of ten) against strtod, on the shapes
 * Redis prints ("%.17g") and on short decimals. */
static void doubles_match_strtod(void) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 20000; i++) {
    char line[64], *end;
    double want, scale;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    if (i % 2) {
      uint64_t bits = x & 0x7FEFFFFFFFFFFFFFull; /* finite */
      memcpy(&want, &bits, sizeof want);
      snprintf(line, sizeof line, ",%.17g\r\n", want);
    } else {
      scale = 1;
      for (uint64_t k = x % 12; k > 0; k--)
        scale *= 10;
      snprintf(line, sizeof line, ",%.*f\r\n", (int)(x % 7),
               (double)(x >> 40) / scale);
    }
    want = strtod(line + 1, &end);
    T_ASSERT_EQ(parse(line), RESP_OK);
    if (memcmp(&tok[0].v.d, &want, sizeof want) != 0)
      T_FAIL_("%s: %.17g != %.17g", line, tok[0].v.d, want);
  }
}

static void booleans(void) {
  T_ASSERT_EQ(parse("#t\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].type, RESP_BOOL);
  T_ASSERT_EQ(tok[0].v.i, 1);
  T_ASSERT_EQ(parse("#f\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].v.i, 0);
}

static void blob_error_verbatim_bignum(void) {
  const char *s = "!21\r\nSYNTAX invalid syntax\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT_EQ(tok[0].type, RESP_BLOB_ERROR);
  T_ASSERT(span_is(s, &tok[0], "SYNTAX invalid syntax"));
  s = "=15\r\ntxt:Some string\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT_EQ(tok[0].type, RESP_VERBATIM);
  T_ASSERT(span_is(s, &tok[0], "Some string"));
  T_ASSERT(memcmp(s + tok[0].v.off - 4, "txt:", 4) == 0);
  T_ASSERT_EQ(parse("=4\r\nmkd:\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].len, 0);
  s = "(3492890328409238509324850943850943825024385\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT_EQ(tok[0].type, RESP_BIGNUM);
  T_ASSERT(span_is(s, &tok[0], "3492890328409238509324850943850943825024385"));
  s = "(-1\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT(span_is(s, &tok[0], "-1"));
}

static void maps_sets_push(void) {
  const char *s = "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT_EQ(tok[0].type, RESP_MAP);
  T_ASSERT_EQ(tok[0].len, 4); /* keys and values */
  T_ASSERT_EQ(tok[0].v.end, 5);
  T_ASSERT(span_is(s, &tok[3], "second"));
  T_ASSERT_EQ(parse("~3\r\n+a\r\n#t\r\n:9\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].type, RESP_SET);
  T_ASSERT_EQ(tok[0].len, 3);
  T_ASSERT_EQ(parse(">3\r\n+message\r\n+chan\r\n$2\r\nhi\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].type, RESP_PUSH);
  T_ASSERT_EQ(tok[0].len, 3);
  T_ASSERT_EQ(parse("%0\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].len, 0);
}

static void attributes_dropped(void) {
  const char *s = "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n"
                  "*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT_EQ(used, strlen(s));
  T_ASSERT_EQ(parser.ntok, 3); /* just the array and its two values */
  T_ASSERT_EQ(tok[0].type, RESP_ARRAY);
  T_ASSERT_EQ(tok[0].v.end, 3);
  T_ASSERT_EQ(tok[1].v.i, 1);
  T_ASSERT_EQ(tok[2].v.i, 2);
  T_ASSERT_EQ(parse("|0\r\n:7\r\n"), RESP_OK);
  T_ASSERT_EQ(parser.ntok, 1);
  T_ASSERT_EQ(tok[0].v.i, 7);
}

static void attributes_kept(void) {
  const char *s = "*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), NULL, RESP_KEEP_ATTRS), RESP_OK);
  T_ASSERT_EQ(parser.ntok, 6);
  T_ASSERT_EQ(tok[0].len, 2); /* the attribute is not a value */
  T_ASSERT_EQ(tok[0].v.end, 6);
  T_ASSERT_EQ(tok[2].type, RESP_ATTR);
  T_ASSERT_EQ(tok[2].len, 2);
  T_ASSERT_EQ(tok[2].v.end, 5);
  T_ASSERT(span_is(s, &tok[3], "ttl"));
  T_ASSERT_EQ(tok[5].v.i, 2);
  s = "|0\r\n:7\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), NULL, RESP_KEEP_ATTRS), RESP_OK);
  T_ASSERT_EQ(parser.ntok, 2);
  T_ASSERT_EQ(tok[0].type, RESP_ATTR);
  T_ASSERT_EQ(tok[0].v.end, 1);
}

static void streamed_string(void) {
  const char *s = "$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT_EQ(used, strlen(s));
  T_ASSERT_EQ(parser.ntok, 4);
  T_ASSERT_EQ(tok[0].type, RESP_BULK);
  T_ASSERT_EQ(tok[0].flags, RESP_TF_STREAMED);
  T_ASSERT_EQ(tok[0].len, 10);
  T_ASSERT_EQ(tok[0].v.end, 4);
  T_ASSERT_EQ(tok[1].type, RESP_CHUNK);
  T_ASSERT(span_is(s, &tok[2], "o wor"));
  T_ASSERT_EQ(parse("$?\r\n;0\r\n"), RESP_OK);
  T_ASSERT_EQ(tok[0].len, 0);
  T_ASSERT_EQ(parser.ntok, 1);
}

static void streamed_aggregates(void) {
  const char *s = "*?\r\n:1\r\n%?\r\n+a\r\n:1\r\n.\r\n~?\r\n.\r\n.\r\n";
  T_ASSERT_EQ(parse(s), RESP_OK);
  T_ASSERT_EQ(used, strlen(s));
  T_ASSERT_EQ(parser.ntok, 6);
  T_ASSERT_EQ(tok[0].flags, RESP_TF_STREAMED);
  T_ASSERT_EQ(tok[0].len, 3);
  T_ASSERT_EQ(tok[0].v.end, 6);
  T_ASSERT_EQ(tok[2].type, RESP_MAP);
  T_ASSERT_EQ(tok[2].flags, RESP_TF_STREAMED);
  T_ASSERT_EQ(tok[2].len, 2);
  T_ASSERT_EQ(tok[2].v.end, 5);
  T_ASSERT_EQ(tok[5].type, RESP_SET);
  T_ASSERT_EQ(tok[5].len, 0);
  T_ASSERT_EQ(tok[5].v.end, 6);
}

/* ---- errors ------------------------------------------------------------- */

static void expect(const char *s, int err) {
  int rc = parse(s);
  if (rc != err)
    T_FAIL_("\"%s\": %d (%s), wanted %d", s, rc, resp_strerror(rc), err);
}

static void each_error(void) {
  expect("x\r\n", RESP_ETYPE);
  expect("+a\nb\r\n", RESP_ECRLF);
  expect("+OK\rX", RESP_ECRLF);
  expect("$3\r\nbarX\r", RESP_ECRLF);
  expect(":1\rx", RESP_ECRLF);
  expect(":+1\r\n", RESP_EINT);
  expect(":01\r\n", RESP_EINT);
  expect(":-0\r\n", RESP_EINT);
  expect(": 1\r\n", RESP_EINT);
  expect(":\r\n", RESP_EINT);
  expect(":1.0\r\n", RESP_EINT);
  expect(":9223372036854775808\r\n", RESP_EINT);
  expect(":-9223372036854775809\r\n", RESP_EINT);
  expect("$-2\r\n", RESP_ELEN);
  expect("$01\r\nx\r\n", RESP_ELEN);
  expect("$\r\n", RESP_ELEN);
  expect("$-99999999999999999999\r\n", RESP_ELEN);
  expect("*-2\r\n", RESP_ELEN);
  expect("!-1\r\n", RESP_ELEN);
  expect("=-1\r\n", RESP_ELEN);
  expect("%-1\r\n", RESP_ELEN);
  expect("~-1\r\n", RESP_ELEN);
  expect("$536870913\r\n", RESP_EBULK);
  expect("$99999999999999999999\r\n", RESP_EBULK);
  expect("*1048577\r\n", RESP_ECOUNT);
  expect("%1048577\r\n", RESP_ECOUNT);
  expect("*99999999999999999999\r\n", RESP_ECOUNT);
  expect(",\r\n", RESP_EDOUBLE);
  expect(",.5\r\n", RESP_EDOUBLE);
  expect(",1.\r\n", RESP_EDOUBLE);
  expect(",1e\r\n", RESP_EDOUBLE);
  expect(",1e+\r\n", RESP_EDOUBLE);
  expect(",+1\r\n", RESP_EDOUBLE);
  expect(",1.5x\r\n", RESP_EDOUBLE);
  expect(",infinity\r\n", RESP_EDOUBLE);
  expect(",0x10\r\n", RESP_EDOUBLE);
  expect(",--1\r\n", RESP_EDOUBLE);
  expect("#x\r\n", RESP_EBOOL);
  expect("#tt\r\n", RESP_EBOOL);
  expect("#\r\n", RESP_EBOOL);
  expect("_x\r\n", RESP_ENULL);
  expect("(\r\n", RESP_EBIGNUM);
  expect("(01\r\n", RESP_EBIGNUM);
  expect("(-0\r\n", RESP_EBIGNUM);
  expect("(1.5\r\n", RESP_EBIGNUM);
  expect("=3\r\ntxt\r\n", RESP_EVERBATIM);
  expect("=5\r\ntxt;x\r\n", RESP_EVERBATIM);
  expect(";1\r\nx\r\n", RESP_ESTREAM);
  expect(".\r\n", RESP_ESTREAM);
  expect("*1\r\n.\r\n", RESP_ESTREAM);
  expect("!?\r\n", RESP_ESTREAM);
  expect("=?\r\n", RESP_ESTREAM);
  expect(">?\r\n", RESP_ESTREAM);
  expect("|?\r\n", RESP_ESTREAM);
  expect("%?\r\n+a\r\n.\r\n", RESP_ESTREAM);
  expect("$?\r\n+a\r\n", RESP_ESTREAM);
  expect("$?\r\n;-1\r\n", RESP_ELEN);
  expect("$?\r\n;?\r\n", RESP_ELEN);
  expect("*?\r\n.x\r\n", RESP_ESTREAM);
  expect("*1\r\n>1\r\n:1\r\n", RESP_EPUSH);
  expect("%1\r\n+k\r\n>1\r\n:1\r\n", RESP_EPUSH);
  expect("*?\r\n|1\r\n+a\r\n+b\r\n.\r\n", RESP_EATTR);
  expect("*?\r\n|1\r\n+a\r\n+b\r\n*?\r\n.\r\n.\r\n", RESP_OK);
}

static void errors_are_sticky(void) {
  T_ASSERT_EQ(parse("x"), RESP_ETYPE);
  T_ASSERT_EQ(resp_parse(&parser, "+OK\r\n", 5, &used), RESP_ETYPE);
  resp_parser_reset(&parser);
  T_ASSERT_EQ(resp_parse(&parser, "+OK\r\n", 5, &used), RESP_OK);
}

static void messages(void) {
  for (int e = RESP_OK; e >= RESP_EATTR; e--)
    T_ASSERT(strcmp(resp_strerror(e), "unknown error") != 0);
  T_ASSERT_STREQ(resp_strerror(2), "unknown error");
}

/* ---- limits ------------------------------------------------------------- */

static void limits(void) {
  struct resp_limits lim = {2, 2, 4, 3};
  const char *s;
  s = "*1\r\n*1\r\n:1\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_OK);
  s = "*1\r\n*1\r\n*1\r\n:1\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_EDEPTH);
  s = "*1\r\n*1\r\n*0\r\n"; /* an empty one opens nothing */
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_OK);
  s = "*3\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_ECOUNT);
  s = "%3\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_ECOUNT);
  s = "*?\r\n:1\r\n:2\r\n:3\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_ECOUNT);
  s = "%?\r\n:1\r\n:2\r\n:3\r\n:4\r\n.\r\n"; /* two pairs: fine */
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_OK);
  s = "$?\r\n;1\r\na\r\n;1\r\nb\r\n;1\r\nc\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_ECOUNT);
  s = "$5\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_EBULK);
  s = "$?\r\n;3\r\nabc\r\n;2\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_EBULK);
  s = "+abc\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_OK);
  s = "+abcd\r\n";
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_ELINE);
  s = "+abcd"; /* known too long before the CRLF arrives */
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_ELINE);
  s = "+abc"; /* could still end here */
  T_ASSERT_EQ(parse_with(s, strlen(s), &lim, 0), RESP_NEED);
  char num[200];
  memset(num, '1', sizeof num);
  num[0] = ':';
  T_ASSERT_EQ(parse_with(num, sizeof num, NULL, 0), RESP_ELINE);
}

static void limits_clamped(void) {
  struct resp_limits lim = {0, 0, 7, 0};
  resp_parser_init(&parser, &lim, 0, tok, NTOK);
  T_ASSERT_EQ(parser.lim.max_depth, RESP_MAX_DEPTH);
  T_ASSERT_EQ(parser.lim.max_count, RESP_MAX_COUNT);
  T_ASSERT_EQ(parser.lim.max_bulk, 7);
  T_ASSERT_EQ(parser.lim.max_line, 1);
  lim.max_depth = 1000;
  resp_parser_init(&parser, &lim, 0, tok, NTOK);
  T_ASSERT_EQ(parser.lim.max_depth, RESP_MAX_DEPTH);
  resp_parser_init(&parser, NULL, 0, tok, NTOK);
  T_ASSERT_EQ(parser.lim.max_bulk, 512u << 20);
  T_ASSERT_EQ(parser.lim.max_count, 1u << 20);
}

static void deepest_nesting(void) {
  char s[4 * 70 + 8];
  size_t n = 0;
  for (int i = 0; i < RESP_MAX_DEPTH; i++)
    n += (size_t)sprintf(s + n, "*1\r\n");
  n += (size_t)sprintf(s + n, ":1\r\n");
  T_ASSERT_EQ(parse_with(s, n, NULL, 0), RESP_OK);
  T_ASSERT_EQ(parser.ntok, RESP_MAX_DEPTH + 1);
  memmove(s + 4, s, n);
  memcpy(s, "*1\r\n", 4);
  T_ASSERT_EQ(parse_with(s, n + 4, NULL, 0), RESP_EDEPTH);
}

/* ---- incremental -------------------------------------------------------- */

static const char composite[] =
    "*7\r\n$5\r\nhello\r\n:-42\r\n%1\r\n+k\r\n,3.25\r\n|1\r\n+a\r\n+b\r\n"
    "~2\r\n#t\r\n_\r\n$?\r\n;2\r\nab\r\n;1\r\nc\r\n;0\r\n*?\r\n(123\r\n.\r\n"
    "=6\r\ntxt:hi\r\n";

/* Byte by byte, and with a one-slot token array that grows: the same
 * tokens as in one piece. */
static void piece_by_piece(void) {
  size_t n = strlen(composite);
  struct resp_token whole[NTOK];
  T_ASSERT_EQ(parse(composite), RESP_OK);
  size_t nwhole = parser.ntok;
  memcpy(whole, tok, nwhole * sizeof *tok);

  size_t cap = 1, grows = 0;
  struct resp_token *t = malloc(cap * sizeof *t);
  T_ASSERT(t != NULL);
  resp_parser_init(&parser, NULL, 0, t, cap);
  int rc = RESP_NEED;
  for (size_t len = 0; len <= n && rc != RESP_OK;) {
    rc = resp_parse(&parser, composite, len, &used);
    if (rc == RESP_EFULL) {
      cap *= 2, grows++;
      struct resp_token *bigger = realloc(t, cap * sizeof *t);
      if (!bigger)
        break;
      t = bigger;
      resp_parser_set_tokens(&parser, t, cap);
    } else if (rc == RESP_NEED) {
      T_ASSERT(used <= len);
      len++;
    } else if (rc != RESP_OK) {
      break;
    }
  }
  T_ASSERT_EQ(rc, RESP_OK);
  T_ASSERT_EQ(used, n);
  T_ASSERT_EQ(parser.ntok, nwhole);
  T_ASSERT(grows >= 3);
  T_ASSERT(memcmp(t, whole, nwhole * sizeof *t) == 0);
  free(t);
}

/* A long line arriving a byte at a time: the search for its CR resumes
 * where it stopped instead of starting over (linear, not quadratic). */
static void line_search_resumes(void) {
  static char s[65536 + 3];
  memset(s, 'a', sizeof s);
  s[0] = '+';
  resp_parser_init(&parser, NULL, 0, tok, NTOK);
  for (size_t len = 1; len <= 65537; len++) {
    T_ASSERT_EQ(resp_parse(&parser, s, len, &used), RESP_NEED);
    T_ASSERT_EQ(parser.scan, len);
  }
  s[65537] = '\r';
  T_ASSERT_EQ(resp_parse(&parser, s, 65538, &used), RESP_NEED);
  s[65538] = '\n';
  T_ASSERT_EQ(resp_parse(&parser, s, 65539, &used), RESP_OK);
  T_ASSERT_EQ(tok[0].len, 65536);
}

/* The buffer may move between calls: spans are offsets. */
static void buffer_moves(void) {
  char *a = malloc(16), *b = malloc(16);
  T_ASSERT(a && b);
  memcpy(a, "$3\r\nba", 6);
  resp_parser_init(&parser, NULL, 0, tok, NTOK);
  T_ASSERT_EQ(resp_parse(&parser, a, 6, &used), RESP_NEED);
  memcpy(b, "$3\r\nbar\r\n", 9);
  free(a);
  T_ASSERT_EQ(resp_parse(&parser, b, 9, &used), RESP_OK);
  T_ASSERT(span_is(b, &tok[0], "bar"));
  free(b);
}

static void pipeline(void) {
  const char *s = "+OK\r\n$3\r\nbar\r\n:1\r\n*1\r\n";
  size_t n = strlen(s), at = 0, k = 0;
  resp_parser_init(&parser, NULL, 0, tok, NTOK);
  int types[3] = {RESP_SIMPLE, RESP_BULK, RESP_INT};
  while (resp_parse(&parser, s + at, n - at, &used) == RESP_OK) {
    T_ASSERT(k < 3);
    T_ASSERT_EQ(tok[0].type, types[k]);
    k++;
    at += used;
  }
  T_ASSERT_EQ(k, 3);
  T_ASSERT_EQ(at, 18);
}

static void scan(void) {
  const char *s = "+OK\r\n$3\r\nbar\r\n*2\r\n:1\r\n:2\r\n_\r\n";
  size_t done = 0, at = 0;
  resp_parser_init(&parser, NULL, 0, NULL, 0);
  T_ASSERT_EQ(resp_scan(&parser, s, 10, 4, &done, &at), RESP_NEED);
  T_ASSERT_EQ(done, 1);
  T_ASSERT_EQ(at, 5);
  T_ASSERT_EQ(resp_scan(&parser, s, 20, 4, &done, &at), RESP_NEED);
  T_ASSERT_EQ(done, 2);
  T_ASSERT_EQ(resp_scan(&parser, s, strlen(s), 4, &done, &at), RESP_OK);
  T_ASSERT_EQ(done, 4);
  T_ASSERT_EQ(at, strlen(s));
  done = at = 0;
  resp_parser_init(&parser, NULL, 0, NULL, 0);
  T_ASSERT_EQ(resp_scan(&parser, "+OK\r\nx\r\n", 8, 4, &done, &at), RESP_ETYPE);
  T_ASSERT_EQ(done, 1);
}

/* ---- encoding ----------------------------------------------------------- */

static void encode_command(void) {
  const char *args[] = {"SET", "key:000123", "value"};
  size_t lens[] = {3, 10, 5};
  const char *want = "*3\r\n$3\r\nSET\r\n$10\r\nkey:000123\r\n$5\r\nvalue\r\n";
  char out[128];
  T_ASSERT_EQ(resp_command_size(3, lens), strlen(want));
  T_ASSERT_EQ(resp_encode_command(out, 3, args, lens), strlen(want));
  T_ASSERT(memcmp(out, want, strlen(want)) == 0);
  /* and back */
  T_ASSERT_EQ(parse_with(out, strlen(want), NULL, 0), RESP_OK);
  T_ASSERT_EQ(tok[0].len, 3);
  T_ASSERT(span_is(out, &tok[2], "key:000123"));
  size_t none = 0;
  T_ASSERT_EQ(resp_command_size(0, &none), 4);
  T_ASSERT_EQ(resp_encode_command(out, 0, NULL, NULL), 4);
  T_ASSERT(memcmp(out, "*0\r\n", 4) == 0);
  const char *empty[] = {""};
  T_ASSERT_EQ(resp_encode_command(out, 1, empty, &none), 10);
  T_ASSERT(memcmp(out, "*1\r\n$0\r\n\r\n", 10) == 0);
}

static void encode_int_args(void) {
  struct { int64_t v; const char *s; } cases[] = {
      {0, "$1\r\n0\r\n"}, {-1, "$2\r\n-1\r\n"}, {123, "$3\r\n123\r\n"},
      {1000000000, "$10\r\n1000000000\r\n"},
      {INT64_MAX, "$19\r\n9223372036854775807\r\n"},
      {INT64_MIN, "$20\r\n-9223372036854775808\r\n"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[RESP_INT_ARG_MAX];
    char *end = resp_put_int_arg(out, cases[i].v);
    size_t n = (size_t)(end - out);
    T_ASSERT_EQ(n, strlen(cases[i].s));
    T_ASSERT_EQ(resp_int_arg_size(cases[i].v), n);
    T_ASSERT(n <= RESP_INT_ARG_MAX);
    T_ASSERT(memcmp(out, cases[i].s, n) == 0);
  }
  char out[64], *p = resp_put_header(out, 2);
  p = resp_put_arg(p, "INCRBY", 6);
  p = resp_put_int_arg(p, -5);
  T_ASSERT_EQ(parse_with(out, (size_t)(p - out), NULL, 0), RESP_OK);
  T_ASSERT(span_is(out, &tok[2], "-5"));
}

static void encode_overflow(void) {
  size_t lens[2] = {(size_t)-1 - 10, 5};
  T_ASSERT_EQ(resp_command_size(1, lens), 0);
  size_t half[3] = {(size_t)-1 / 2, (size_t)-1 / 2, 1};
  T_ASSERT_EQ(resp_command_size(3, half), 0);
  T_ASSERT_EQ(resp_header_size(1000), 7);
  T_ASSERT_EQ(resp_arg_size(10), 17);
}

/* ---- captured from redis-server ----------------------------------------- */

static void redis_captures(void) {
  size_t n = sizeof resp_captures / sizeof resp_captures[0];
  T_ASSERT(n >= 30);
  for (size_t i = 0; i < n; i++) {
    const struct resp_capture *c = &resp_captures[i];
    size_t at = 0, replies = 0;
    resp_parser_init(&parser, NULL, 0, tok, NTOK);
    while (at < c->len) {
      int rc = resp_parse(&parser, c->bytes + at, c->len - at, &used);
      if (rc != RESP_OK)
        T_FAIL_("%s: %s", c->name, resp_strerror(rc));
      if (replies == 0 && tok[0].type != (uint8_t)c->type[0] &&
          !(tok[0].type == RESP_NULL && c->type[0] != '_'))
        T_FAIL_("%s: type %c", c->name, tok[0].type);
      replies++;
      at += used;
    }
    T_ASSERT_EQ(replies, strtoul(c->replies, NULL, 10));
    if (strcmp(c->name, "resp3-zscore") == 0)
      T_ASSERT(tok[0].v.d == 1.5);
    if (strcmp(c->name, "resp3-zscore-inf") == 0)
      T_ASSERT(isinf(tok[0].v.d));
    if (strcmp(c->name, "resp2-get-missing") == 0)
      T_ASSERT_EQ(tok[0].flags, RESP_TF_NULL_BULK);
    if (strcmp(c->name, "resp2-null-array") == 0)
      T_ASSERT_EQ(tok[0].flags, RESP_TF_NULL_ARRAY);
    if (strcmp(c->name, "resp3-push-invalidate") == 0)
      T_ASSERT(span_is(c->bytes, &tok[1], "invalidate"));
    if (strcmp(c->name, "resp3-info-verbatim") == 0)
      T_ASSERT(memcmp(c->bytes + tok[0].v.off - 4, "txt:", 4) == 0);
    if (strcmp(c->name, "resp3-hgetall") == 0)
      T_ASSERT_EQ(tok[0].len, 4);
  }
}

int main(void) {
  T_RUN(simple_and_error);
  T_RUN(integers);
  T_RUN(bulk);
  T_RUN(nulls);
  T_RUN(arrays);
  T_RUN(doubles);
  T_RUN(doubles_match_strtod);
  T_RUN(booleans);
  T_RUN(blob_error_verbatim_bignum);
  T_RUN(maps_sets_push);
  T_RUN(attributes_dropped);
  T_RUN(attributes_kept);
  T_RUN(streamed_string);
  T_RUN(streamed_aggregates);
  T_RUN(each_error);
  T_RUN(errors_are_sticky);
  T_RUN(messages);
  T_RUN(limits);
  T_RUN(limits_clamped);
  T_RUN(deepest_nesting);
  T_RUN(piece_by_piece);
  T_RUN(line_search_resumes);
  T_RUN(buffer_moves);
  T_RUN(pipeline);
  T_RUN(scan);
  T_RUN(encode_command);
  T_RUN(encode_int_args);
  T_RUN(encode_overflow);
  T_RUN(redis_captures);
  return test_report();
}
