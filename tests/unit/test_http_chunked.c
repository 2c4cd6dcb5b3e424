/*
 * test_http_chunked.c -- the chunked body decoder: bodies with extensions
 * and trailers, fed at once and in pieces of every size, in place,
 * pipelined bytes left alone, bare LF, every error code and limit.
 */
#include "http_chunked.h"
#include "t.h"

#include <stdlib.h>

static struct http_chunked ch;

/* Decodes s in pieces of `piece` bytes (0: all at once), collecting the
 * data in out; returns the result and sets *used. */
static int chunked(const char *s, size_t piece, const struct http_limits *lim,
                   char *out, size_t *used) {
  size_t n = strlen(s), p = 0, o = 0, got = 0;
  int rc = 0;
  http_chunked_init(&ch, lim);
  while (p < n && rc == 0) {
    size_t end = piece ? (p + piece < n ? p + piece : n) : n, u;
    struct http_span d;
    while (p < end && rc == 0) {
      rc = http_chunked_decode(&ch, s + p, end - p, &u, &d);
      memcpy(out + o, s + p + d.off, d.len);
      o += d.len;
      p += u;
    }
    got = p;
  }
  out[o] = 0;
  *used = got;
  return rc;
}

static void decodes_chunked_bodies(void) {
  const char *s = "5\r\nhello\r\n1;a=b;c\r\n \r\nA \t;x=\"y z\"\r\n0123456789\r\n"
                  "000\r\nTrailer: x\r\nT2:\r\n\r\nGET / HTTP/1.1\r\n";
  char out[64];
  size_t used;
  for (size_t piece = 0; piece <= 7; piece++) {
    T_ASSERT_EQ(chunked(s, piece, &http_default_limits, out, &used), 1);
    T_ASSERT_STREQ(out, "hello 0123456789");
    T_ASSERT_EQ(used, strlen(s) - 16); /* the next request is left alone */
    T_ASSERT(http_chunked_done(&ch));
  }
  T_ASSERT_EQ(chunked("0\r\n\r\n", 0, &http_default_limits, out, &used), 1);
  T_ASSERT_EQ(used, 5);
  T_ASSERT_STREQ(out, "");
  T_ASSERT_EQ(chunked("1\r\na\r\n", 0, &http_default_limits, out, &used), 0);
  T_ASSERT(!http_chunked_done(&ch));
}

static void decodes_in_place(void) {
  char s[] = "3\r\nabc\r\n2;e\r\nde\r\n0\r\n\r\nNEXT";
  size_t used, out;
  http_chunked_init(&ch, &http_default_limits);
  T_ASSERT_EQ(http_chunked_decode_inplace(&ch, s, strlen(s), &used, &out), 1);
  T_ASSERT_EQ(out, 5);
  T_ASSERT(!memcmp(s, "abcde", 5));
  T_ASSERT_STREQ(s + used, "NEXT");
}

static void chunked_accepts_bare_lf_unless_strict(void) {
  struct http_limits strict = http_default_limits;
  char out[32];
  size_t used;
  strict.strict_crlf = 1;
  T_ASSERT_EQ(chunked("2\nab\n0\nX: y\n\n", 0, &http_default_limits, out,
                      &used), 1);
  T_ASSERT_STREQ(out, "ab");
  T_ASSERT_EQ(chunked("2\nab\r\n0\r\n\r\n", 0, &strict, out, &used), HTTP_ELF);
  T_ASSERT_EQ(chunked("2;x\nab\r\n0\r\n\r\n", 0, &strict, out, &used),
              HTTP_ELF);
  T_ASSERT_EQ(chunked("2\r\nab\n0\r\n\r\n", 0, &strict, out, &used), HTTP_ELF);
  T_ASSERT_EQ(chunked("0\r\nX: y\n\r\n", 0, &strict, out, &used), HTTP_ELF);
  T_ASSERT_EQ(chunked("0\r\n\n", 0, &strict, out, &used), HTTP_ELF);
  T_ASSERT_EQ(chunked("2\r\nab\r\n0\r\n\r\n", 0, &strict, out, &used), 1);
}

static void chunked_errors(void) {
  static const struct {
    const char *in;
    int err;
  } cases[] = {
    {"\r\n", HTTP_ECHUNK_SIZE},
    {";x\r\n", HTTP_ECHUNK_SIZE},
    {"g\r\n", HTTP_ECHUNK_SIZE},
    {"-1\r\n", HTTP_ECHUNK_SIZE},
    {"0x5\r\n", HTTP_ECHUNK_SIZE},
    {"5 \r\nhello\r\n", HTTP_ECHUNK_SIZE},
    {"5 x\r\n", HTTP_ECHUNK_SIZE},
    {"4000000000000001\r\n", HTTP_ECHUNK_BIG},
    {"10000000000000000\r\n", HTTP_ECHUNK_BIG},
    {"1;a\x01\r\n", HTTP_ECHUNK_EXT},
    {"1;a\rb\r\n", HTTP_ECR},
    {"1\rx", HTTP_ECR},
    {"2\r\nabc\r\n", HTTP_ECHUNK_CRLF},
    {"2\r\nab\rx", HTTP_ECHUNK_CRLF},
    {"0\r\n x: y\r\n\r\n", HTTP_ETRAILER},
    {"0\r\nx y\r\n\r\n", HTTP_ETRAILER},
    {"0\r\nx: \x01\r\n\r\n", HTTP_ETRAILER},
    {"0\r\nx\r\n\r\n", HTTP_ETRAILER},
    {"0\r\nx: y\rz", HTTP_ECR},
    {"0\r\n\rx", HTTP_ECR},
  };
  char out[64];
  size_t used;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    T_ASSERT_EQ(chunked(cases[i].in, 0, &http_default_limits, out, &used),
                cases[i].err);
    T_ASSERT_EQ(chunked(cases[i].in, 1, &http_default_limits, out, &used),
                cases[i].err);
  }
  /* the largest size is accepted */
  T_ASSERT_EQ(chunked("4000000000000000\r\nab", 0, &http_default_limits, out,
                      &used), 0);
  T_ASSERT(ch.left == HTTP_MAX_LENGTH - 2);
  /* errors are sticky */
  struct http_span d;
  T_ASSERT_EQ(chunked("x", 0, &http_default_limits, out, &used),
              HTTP_ECHUNK_SIZE);
  T_ASSERT_EQ(http_chunked_decode(&ch, "0\r\n\r\n", 5, &used, &d),
              HTTP_ECHUNK_SIZE);
}

static void chunked_limits(void) {
  struct http_limits l = http_default_limits;
  char out[64], *big;
  size_t used;
  l.max_chunk_line = 8;
  l.max_trailer = 16;
  l.max_trailers = 2;
  T_ASSERT_EQ(chunked("1;abc\r\nx\r\n0\r\n\r\n", 0, &l, out, &used), 1);
  T_ASSERT_EQ(chunked("1;abcde\r\nx\r\n", 0, &l, out, &used), HTTP_ECHUNK_LINE);
  T_ASSERT_EQ(chunked("000000001\r\n", 0, &l, out, &used), HTTP_ECHUNK_LINE);
  T_ASSERT_EQ(chunked("0\r\na: 1\r\nb: 2\r\n\r\n", 0, &l, out, &used), 1);
  T_ASSERT_EQ(chunked("0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", 0, &l, out, &used),
              HTTP_ETRAILER_LARGE);
  T_ASSERT_EQ(chunked("0\r\na: 12345678901\r\n\r\n", 0, &l, out, &used),
              HTTP_ETRAILER_LARGE);
  /* the default extension bound: 4 KiB */
  big = malloc(5000);
  strcpy(big, "1;");
  memset(big + 2, 'e', 4100);
  big[4102] = 0;
  T_ASSERT_EQ(chunked(big, 0, &http_default_limits, out, &used),
              HTTP_ECHUNK_LINE);
  free(big);
}

int main(void) {
  T_RUN(decodes_chunked_bodies);
  T_RUN(decodes_in_place);
  T_RUN(chunked_accepts_bare_lf_unless_strict);
  T_RUN(chunked_errors);
  T_RUN(chunked_limits);
  return test_report();
}
