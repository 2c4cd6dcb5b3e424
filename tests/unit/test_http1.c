/*
 * test_http1.c -- the HTTP/1 head parser: every accepted shape, every
 * error code (one case per smuggling shape, per limit, per status),
 * incremental and pipelined parsing, responses.  The chunked decoder has
 * test_http_chunked.c.
 */
#include "http1.h"
#include "t.h"

#include <stdlib.h>

static struct http_header fields[256];
static struct http_msg m;
static const char *cur; /* the buffer m's spans point into */

static int req_l(const char *s, const struct http_limits *lim) {
  cur = s;
  http_msg_init(&m, fields);
  return http_parse_request(s, strlen(s), lim, &m);
}

static int req(const char *s) {
  return req_l(s, &http_default_limits);
}

static int resp(const char *s, unsigned flags) {
  cur = s;
  http_msg_init(&m, fields);
  return http_parse_response(s, strlen(s), &http_default_limits, flags, &m);
}

/* The span as a string (static buffer, for T_ASSERT_STREQ). */
static const char *str(struct http_span sp) {
  static char b[4][256];
  static int i;
  char *o = b[i++ & 3];
  size_t n = sp.len < 255 ? sp.len : 255;
  memcpy(o, cur + sp.off, n);
  o[n] = 0;
  return o;
}

static const char *hname(int k) { return str(m.headers[k].name); }
static const char *hval(int k) { return str(m.headers[k].value); }

/* Feeds s one byte more at a time: every prefix must give 0 and the whole
 * the same result and message as one call. */
static void drip(const char *s, const struct http_limits *lim, int is_req) {
  static struct http_header f2[256];
  struct http_msg whole;
  size_t n = strlen(s);
  int rw, r = 0;
  http_msg_init(&whole, f2);
  rw = is_req ? http_parse_request(s, n, lim, &whole)
              : http_parse_response(s, n, lim, 0, &whole);
  http_msg_init(&m, fields);
  for (size_t i = 1; i <= n && r == 0; i++)
    r = is_req ? http_parse_request(s, i, lim, &m)
               : http_parse_response(s, i, lim, 0, &m);
  T_ASSERT_EQ(r, rw);
  T_ASSERT_EQ(m.nheaders, whole.nheaders);
  T_ASSERT_EQ(m.flags, whole.flags);
  T_ASSERT_EQ(m.body, whole.body);
  T_ASSERT(!memcmp(fields, f2, m.nheaders * sizeof fields[0]));
}

/* ---- requests that parse ----------------------------------------------- */

static void parses_a_simple_get(void) {
  const char *s = "GET /index.html?a=1&b=2 HTTP/1.1\r\n"
                  "Host: example.com\r\n"
                  "User-Agent: t\r\n"
                  "\r\n";
  T_ASSERT_EQ(req(s), strlen(s));
  T_ASSERT_STREQ(str(m.method), "GET");
  T_ASSERT_EQ(m.method_id, HTTP_GET);
  T_ASSERT_STREQ(str(m.target), "/index.html?a=1&b=2");
  T_ASSERT_STREQ(str(m.path), "/index.html");
  T_ASSERT_STREQ(str(m.query), "a=1&b=2");
  T_ASSERT_EQ(m.authority.len, 0);
  T_ASSERT_EQ(m.minor, 1);
  T_ASSERT_EQ(m.nheaders, 2);
  T_ASSERT_STREQ(hname(0), "Host");
  T_ASSERT_STREQ(hval(0), "example.com");
  T_ASSERT_STREQ(hname(1), "User-Agent");
  T_ASSERT_EQ(m.ix[HTTP_IX_HOST], 0);
  T_ASSERT_EQ(m.ix[HTTP_IX_CONTENT_LENGTH], -1);
  T_ASSERT_EQ(m.flags, HTTP_F_HOST | HTTP_F_KEEP_ALIVE);
  T_ASSERT_EQ(m.body, HTTP_BODY_NONE);
}

static void knows_the_common_methods(void) {
  static const struct {
    const char *name;
    int id;
  } ms[] = {{"GET", HTTP_GET},         {"HEAD", HTTP_HEAD},
            {"POST", HTTP_POST},       {"PUT", HTTP_PUT},
            {"DELETE", HTTP_DELETE},   {"OPTIONS", HTTP_OPTIONS},
            {"PATCH", HTTP_PATCH},     {"TRACE", HTTP_TRACE},
            {"PROPFIND", HTTP_OTHER},  {"get", HTTP_OTHER},
            {"GETS", HTTP_OTHER},      {"X-Y!#$%&'*+.^_`|~", HTTP_OTHER}};
  char b[128];
  for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
    snprintf(b, sizeof b, "%s / HTTP/1.1\r\nHost: h\r\n\r\n", ms[i].name);
    T_ASSERT_EQ(req(b), strlen(b));
    T_ASSERT_EQ(m.method_id, ms[i].id);
    T_ASSERT_STREQ(str(m.method), ms[i].name);
  }
  T_ASSERT_EQ(req("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n"), 35);
  T_ASSERT_EQ(m.method_id, HTTP_CONNECT);
}

static void splits_each_target_form(void) {
  T_ASSERT(req("GET /p? HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
  T_ASSERT_STREQ(str(m.path), "/p");
  T_ASSERT_STREQ(str(m.query), "");
  T_ASSERT(req("GET /a?b?c HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
  T_ASSERT_STREQ(str(m.query), "b?c");
  T_ASSERT(req("GET http://ex.com:8080/p/q?x=1 HTTP/1.1\r\nHost: h\r\n\r\n") >
           0);
  T_ASSERT_STREQ(str(m.authority), "ex.com:8080");
  T_ASSERT_STREQ(str(m.path), "/p/q");
  T_ASSERT_STREQ(str(m.query), "x=1");
  T_ASSERT(req("GET https://ex.com?y HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
  T_ASSERT_STREQ(str(m.authority), "ex.com");
  T_ASSERT_STREQ(str(m.path), "");
  T_ASSERT_STREQ(str(m.query), "y");
  T_ASSERT(req("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
  T_ASSERT_STREQ(str(m.path), "*");
  T_ASSERT(req("CONNECT [::1]:443 HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
  T_ASSERT_STREQ(str(m.authority), "[::1]:443");
  T_ASSERT_EQ(m.path.len, 0);
  /* obs-text is allowed in a target, as nginx does */
  T_ASSERT(req("GET /\xc3\xa9t\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
}

static void trims_values_and_keeps_order(void) {
  T_ASSERT(req("GET / HTTP/1.1\r\nHost:h\r\nA: \t x y \t\r\nB:\r\n"
               "C:  \r\nA: 2\r\nD: \xff\x80 obs\r\n\r\n") > 0);
  T_ASSERT_EQ(m.nheaders, 6);
  T_ASSERT_STREQ(hval(0), "h");
  T_ASSERT_STREQ(hval(1), "x y");
  T_ASSERT_STREQ(hval(2), "");
  T_ASSERT_STREQ(hval(3), "");
  T_ASSERT_STREQ(hname(4), "A");
  T_ASSERT_STREQ(hval(4), "2");
  T_ASSERT_STREQ(hval(5), "\xff\x80 obs");
}

static void keep_alive_follows_the_version(void) {
  T_ASSERT(req("GET / HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
  T_ASSERT(m.flags & HTTP_F_KEEP_ALIVE);
  T_ASSERT(req("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n") > 0);
  T_ASSERT(!(m.flags & HTTP_F_KEEP_ALIVE));
  T_ASSERT(m.flags & HTTP_F_CONN_CLOSE);
  T_ASSERT(req("GET / HTTP/1.0\r\n\r\n") > 0);
  T_ASSERT_EQ(m.minor, 0);
  T_ASSERT(!(m.flags & HTTP_F_KEEP_ALIVE));
  T_ASSERT(req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0);
  T_ASSERT(m.flags & HTTP_F_KEEP_ALIVE);
  T_ASSERT(req("GET / HTTP/1.0\r\nConnection: foo, KEEP-ALIVE ,bar\r\n\r\n") >
           0);
  T_ASSERT(m.flags & HTTP_F_KEEP_ALIVE);
  T_ASSERT(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
               "Connection: close\r\n\r\n") > 0);
  T_ASSERT(!(m.flags & HTTP_F_KEEP_ALIVE));
  T_ASSERT_EQ(m.ix[HTTP_IX_CONNECTION], 0);
  T_ASSERT(req("GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n") > 0);
  T_ASSERT(!(m.flags & HTTP_F_KEEP_ALIVE));
  /* HTTP/1.2 reads as 1.1 */
  T_ASSERT(req("GET / HTTP/1.2\r\nHost: h\r\n\r\n") > 0);
  T_ASSERT_EQ(m.minor, 1);
  T_ASSERT(m.flags & HTTP_F_KEEP_ALIVE);
}

static void notes_expect_and_upgrade(void) {
  T_ASSERT(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
               "Expect: 100-Continue\r\n\r\n") > 0);
  T_ASSERT(m.flags & HTTP_F_EXPECT_CONTINUE);
  T_ASSERT_EQ(m.ix[HTTP_IX_EXPECT], 2);
  T_ASSERT(req("POST / HTTP/1.0\r\nContent-Length: 5\r\n"
               "Expect: 100-continue\r\n\r\n") > 0);
  T_ASSERT(!(m.flags & HTTP_F_EXPECT_CONTINUE)); /* ignored in 1.0 */
  T_ASSERT(req("POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n") > 0);
  T_ASSERT(!(m.flags & HTTP_F_EXPECT_CONTINUE));
  T_ASSERT(req("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
               "Connection: keep-alive, Upgrade\r\n\r\n") > 0);
  T_ASSERT(m.flags & HTTP_F_UPGRADE);
  T_ASSERT(m.flags & HTTP_F_CONN_UPGRADE);
  T_ASSERT_EQ(m.ix[HTTP_IX_UPGRADE], 1);
  T_ASSERT(req("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n") > 0);
  T_ASSERT(!(m.flags & HTTP_F_CONN_UPGRADE));
}

static void reads_content_length(void) {
  T_ASSERT(req("POST / HTTP/1.1\r\nHost: h\r\ncontent-LENGTH: 42\r\n\r\n") >
           0);
  T_ASSERT_EQ(m.body, HTTP_BODY_LENGTH);
  T_ASSERT_EQ(m.content_length, 42);
  T_ASSERT_EQ(m.ix[HTTP_IX_CONTENT_LENGTH], 1);
  T_ASSERT(m.flags & HTTP_F_CONTENT_LENGTH);
  T_ASSERT(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n") > 0);
  T_ASSERT_EQ(m.body, HTTP_BODY_NONE);
  T_ASSERT(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n") >
           0);
  T_ASSERT_EQ(m.content_length, 7);
  T_ASSERT(req("POST / HTTP/1.1\r\nHost: h\r\n"
               "Content-Length: 4611686018427387904\r\n\r\n") > 0);
  T_ASSERT(m.content_length == HTTP_MAX_LENGTH);
}

static void reads_chunked(void) {
  T_ASSERT(req("POST / HTTP/1.1\r\nHost: h\r\n"
               "Transfer-Encoding: chunked\r\n\r\n") > 0);
  T_ASSERT_EQ(m.body, HTTP_BODY_CHUNKED);
  T_ASSERT(m.flags & HTTP_F_CHUNKED);
  T_ASSERT(req("POST / HTTP/1.1\r\nHost: h\r\n"
               "Transfer-Encoding:  ChunKed \t\r\n\r\n") > 0);
  T_ASSERT_EQ(m.body, HTTP_BODY_CHUNKED);
  T_ASSERT(req("POST / HTTP/1.1\r\nHost: h\r\n"
               "Transfer-Encoding: , chunked,\r\n\r\n") > 0);
  T_ASSERT_EQ(m.body, HTTP_BODY_CHUNKED);
}

static void skips_leading_empty_lines(void) {
  const char *s = "\r\n\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  T_ASSERT_EQ(req(s), strlen(s));
  T_ASSERT_STREQ(str(m.method), "GET");
  T_ASSERT_EQ(req("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n"),
              HTTP_EEMPTY);
}

static void accepts_bare_lf_unless_strict(void) {
  struct http_limits strict = http_default_limits;
  const char *s = "GET / HTTP/1.1\nHost: h\r\nX: y\n\n";
  strict.strict_crlf = 1;
  T_ASSERT_EQ(req(s), strlen(s));
  T_ASSERT_STREQ(hval(1), "y");
  T_ASSERT_EQ(req_l(s, &strict), HTTP_ELF);
  T_ASSERT_EQ(req_l("GET / HTTP/1.1\r\nHost: h\r\n\n", &strict), HTTP_ELF);
  T_ASSERT_EQ(req_l("\nGET / HTTP/1.1\r\n", &strict), HTTP_ELF);
  T_ASSERT(req_l("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &strict) > 0);
}

static void http10_needs_no_host(void) {
  T_ASSERT_EQ(req("GET / HTTP/1.0\r\n\r\n"), 18);
  T_ASSERT(!(m.flags & HTTP_F_HOST));
}

static void parses_pipelined_requests(void) {
  const char *s = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                  "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
                  "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
  size_t off = 0, n = strlen(s);
  const char *want[] = {"/a", "/b", "/c"};
  for (int i = 0; i < 3; i++) {
    int r;
    cur = s + off;
    http_msg_init(&m, fields);
    r = http_parse_request(s + off, n - off, &http_default_limits, &m);
    T_ASSERT(r > 0);
    T_ASSERT_STREQ(str(m.path), want[i]);
    off += (size_t)r + (m.body == HTTP_BODY_LENGTH ? m.content_length : 0);
  }
  T_ASSERT_EQ(off, n);
}

static void parses_incrementally(void) {
  drip("GET /x?y HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nA:\tb\r\n\r\n",
       &http_default_limits, 1);
  drip("\r\n\r\nPUT / HTTP/1.0\nConnection: keep-alive\n\n",
       &http_default_limits, 1);
  drip("GET / HTTP/1.1\r\nHost: h\r\nA: b\rc\r\n\r\n", &http_default_limits,
       1);
  drip("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", &http_default_limits,
       0);
}

static void resumes_without_rescanning(void) {
  const char *s = "GET / HTTP/1.1\r\nHost: h\r\nX-Long: aaaaaaaaaaaaaaaa";
  cur = s;
  http_msg_init(&m, fields);
  T_ASSERT_EQ(http_parse_request(s, strlen(s), &http_default_limits, &m), 0);
  T_ASSERT_EQ(m.scan.pos, strlen(s));
  T_ASSERT_EQ(m.nheaders, 1); /* complete lines are done with */
  T_ASSERT_EQ(m.scan.line, 25);
}

static void results_are_sticky(void) {
  const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET";
  cur = s;
  http_msg_init(&m, fields);
  T_ASSERT_EQ(http_parse_request(s, strlen(s), &http_default_limits, &m), 27);
  T_ASSERT_EQ(http_parse_request(s, strlen(s), &http_default_limits, &m), 27);
  T_ASSERT_EQ(req("GE(T"), HTTP_EMETHOD);
  T_ASSERT_EQ(http_parse_request("GET / ", 6, &http_default_limits, &m),
              HTTP_EMETHOD);
}

/* ---- requests that fail: one case per error --------------------------- */

static void rejects_bad_methods(void) {
  T_ASSERT_EQ(req(" / HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_EMETHOD);
  T_ASSERT_EQ(req("G(ET / HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_EMETHOD);
  T_ASSERT_EQ(req("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_EMETHOD);
  /* at once, without waiting for a line end: TLS, and HTTP/2's preface */
  T_ASSERT_EQ(req("\x16\x03\x01\x02"), HTTP_EMETHOD);
  T_ASSERT_EQ(req("GET\r\n"), HTTP_EMETHOD);
  T_ASSERT_EQ(req("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), HTTP_EVERSION_NS);
  T_ASSERT_EQ(req("\rGET / HTTP/1.1\r\n"), HTTP_EMETHOD);
}

static void rejects_bad_request_lines(void) {
  T_ASSERT_EQ(req("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ELINE);
  T_ASSERT_EQ(req("GET /  HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ELINE);
  T_ASSERT_EQ(req("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), HTTP_ELINE);
  T_ASSERT_EQ(req("GET / x HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ELINE);
  T_ASSERT_EQ(req("GET /\r\n\r\n"), HTTP_ELINE); /* HTTP/0.9 */
  T_ASSERT_EQ(req("GET \r\n\r\n"), HTTP_ELINE);
}

static void rejects_bad_targets(void) {
  T_ASSERT_EQ(req("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ETARGET);
  T_ASSERT_EQ(req("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ETARGET);
  T_ASSERT_EQ(req("GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ETARGET);
  T_ASSERT_EQ(req("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ETARGET);
  T_ASSERT_EQ(req("CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ETARGET);
  T_ASSERT_EQ(req("CONNECT host HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ETARGET);
  T_ASSERT_EQ(req("GET 1http://h/ HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ETARGET);
  T_ASSERT_EQ(req("GET http:/h HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ETARGET);
  T_ASSERT_EQ(req("GET x HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ETARGET);
}

static void rejects_bad_versions(void) {
  T_ASSERT_EQ(req("GET / HTTP/1.x\r\nHost: h\r\n\r\n"), HTTP_EVERSION);
  T_ASSERT_EQ(req("GET / HTTP/11\r\nHost: h\r\n\r\n"), HTTP_EVERSION);
  T_ASSERT_EQ(req("GET / http/1.1\r\nHost: h\r\n\r\n"), HTTP_EVERSION);
  T_ASSERT_EQ(req("GET / HTTP/1.10\r\nHost: h\r\n\r\n"), HTTP_EVERSION);
  T_ASSERT_EQ(req("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), HTTP_EVERSION_NS);
  T_ASSERT_EQ(req("GET / HTTP/0.9\r\n\r\n"), HTTP_EVERSION_NS);
  T_ASSERT_EQ(http_status_of(HTTP_EVERSION_NS), 505);
}

static void rejects_bare_cr(void) {
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\nA: b\rc\r\n\r\n"), HTTP_ECR);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\r\n\r\n"), HTTP_ECR);
  T_ASSERT_EQ(req("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n"), HTTP_ECR);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n"), HTTP_ECR);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nA\r: b\r\n\r\n"), HTTP_ECR);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n"), HTTP_ECR);
}

static void rejects_obs_fold(void) {
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n c\r\n\r\n"),
              HTTP_EOBSFOLD);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\tc\r\n\r\n"),
              HTTP_EOBSFOLD);
  /* whitespace between the start line and the first field */
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), HTTP_EOBSFOLD);
}

static void rejects_bad_field_names(void) {
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), HTTP_ENAME);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n"), HTTP_ENAME);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n"), HTTP_ENAME);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\nA(b: x\r\n\r\n"), HTTP_ENAME);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"),
              HTTP_ENAME);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\n\xc3\xa9: x\r\n\r\n"),
              HTTP_ENAME);
}

static void rejects_control_bytes_in_values(void) {
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\nA: b\x01\r\n\r\n"),
              HTTP_EVALUE);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\nA: 0123456789abcdef\x7f\r\n\r\n"),
              HTTP_EVALUE);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: h\r\nA: 01234567\x1f\r\n\r\n"),
              HTTP_EVALUE);
  const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nA: b\0c\r\n\r\n";
  cur = nul;
  http_msg_init(&m, fields);
  T_ASSERT_EQ(http_parse_request(nul, sizeof nul - 1, &http_default_limits, &m),
              HTTP_EVALUE);
  /* HTAB is fine, at any position of an 8-byte word */
  T_ASSERT(req("GET / HTTP/1.1\r\nHost: h\r\nA: 0123\t4567890\tabcdef\t\r\n\r\n") >
           0);
  T_ASSERT_STREQ(hval(1), "0123\t4567890\tabcdef");
}

static void rejects_bad_content_length(void) {
  static const char *bad[] = {"abc", "-1", "+1", "1 2", "5,5", "5, 5", "0x10",
                              "4611686018427387905", "99999999999999999999",
                              "1.0", ""};
  char b[160];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(b, sizeof b,
             "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n",
             bad[i]);
    T_ASSERT_EQ(req(b), HTTP_ELENGTH);
  }
}

static void rejects_two_content_lengths(void) {
  T_ASSERT_EQ(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                  "Content-Length: 5\r\n\r\n"),
              HTTP_EDUPLENGTH);
  T_ASSERT_EQ(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                  "content-length: 6\r\n\r\n"),
              HTTP_EDUPLENGTH);
}

static void rejects_length_with_chunked(void) {
  T_ASSERT_EQ(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n"),
              HTTP_ELENGTH_TE);
  T_ASSERT_EQ(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 5\r\n\r\n"),
              HTTP_ELENGTH_TE);
}

static void rejects_transfer_encoding_in_http10(void) {
  T_ASSERT_EQ(req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
              HTTP_ETE_10);
}

static void rejects_other_transfer_codings(void) {
  static const char *bad[] = {"gzip", "gzip, chunked", "chunked, gzip",
                              "chunked, chunked", "chunked;x=1", "identity",
                              "", "chunkedx"};
  char b[160];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(b, sizeof b,
             "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: %s\r\n\r\n",
             bad[i]);
    T_ASSERT_EQ(req(b), HTTP_ETE);
  }
  T_ASSERT_EQ(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n"),
              HTTP_ETE);
  T_ASSERT_EQ(http_status_of(HTTP_ETE), 501);
}

static void rejects_missing_or_double_host(void) {
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\n\r\n"), HTTP_ENOHOST);
  T_ASSERT_EQ(req("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
              HTTP_EDUPHOST);
  T_ASSERT_EQ(req("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
              HTTP_EDUPHOST);
}

static struct http_limits small(void) {
  struct http_limits l = http_default_limits;
  l.max_line = 20;
  l.max_header = 16;
  l.max_head = 64;
  l.max_headers = 3;
  return l;
}

static void enforces_the_request_line_limit(void) {
  struct http_limits l = small();
  /* 18 bytes + CRLF = 20: fits */
  T_ASSERT(req_l("GET /2345 HTTP/1.1\r\nHost: h\r\n\r\n", &l) > 0);
  T_ASSERT_EQ(req_l("GET /23456 HTTP/1.1\r\nHost: h\r\n\r\n", &l),
              HTTP_ELINE_LONG);
  /* without its end: an error as soon as it cannot fit */
  T_ASSERT_EQ(req_l("GET /23456789012345", &l), 0);
  T_ASSERT_EQ(req_l("GET /234567890123456", &l), HTTP_ELINE_LONG);
  T_ASSERT_EQ(http_status_of(HTTP_ELINE_LONG), 414);
  /* the default: 8 KiB */
  char *b = malloc(9000);
  memcpy(b, "GET /", 5);
  memset(b + 5, 'a', 8995);
  cur = b;
  http_msg_init(&m, fields);
  T_ASSERT_EQ(http_parse_request(b, 8191, &http_default_limits, &m), 0);
  T_ASSERT_EQ(http_parse_request(b, 8192, &http_default_limits, &m),
              HTTP_ELINE_LONG);
  free(b);
}

static void enforces_the_field_line_limit(void) {
  struct http_limits l = small();
  T_ASSERT(req_l("GET / HTTP/1.1\r\nHost: 12345678\r\n\r\n", &l) > 0);
  T_ASSERT_EQ(req_l("GET / HTTP/1.1\r\nHost: 123456789\r\n\r\n", &l),
              HTTP_EFIELD_LONG);
  T_ASSERT_EQ(req_l("GET / HTTP/1.1\r\nHost: 123456789", &l), 0);
  T_ASSERT_EQ(req_l("GET / HTTP/1.1\r\nHost: 1234567890", &l),
              HTTP_EFIELD_LONG);
  T_ASSERT_EQ(http_status_of(HTTP_EFIELD_LONG), 431);
}

static void enforces_the_head_limit(void) {
  struct http_limits l = small();
  /* 64 bytes exactly */
  const char *ok = "GET / HTTP/1.1\r\nHost: 12345678\r\nA: 1234567890\r\n"
                   "B: 1234567890\r\n\r\n";
  T_ASSERT_EQ(strlen(ok), 64);
  T_ASSERT_EQ(req_l(ok, &l), 64);
  T_ASSERT_EQ(req_l("GET / HTTP/1.1\r\nHost: 12345678\r\nA: 1234567890\r\n"
                    "B: 12345678901\r\n\r\n",
                    &l),
              HTTP_EHEAD_LARGE);
  T_ASSERT_EQ(req_l("GET / HTTP/1.1\r\nHost: 12345678\r\nA: 1234567890\r\n"
                    "B: 1234567890\r\n\r",
                    &l),
              0);
  T_ASSERT_EQ(req_l("GET / HTTP/1.1\r\nHost: 12345678\r\nA: 1234567890\r\n"
                    "B: 1234567890\r\nC:",
                    &l),
              HTTP_EHEAD_LARGE);
  T_ASSERT_EQ(http_status_of(HTTP_EHEAD_LARGE), 431);
}

static void enforces_the_field_count(void) {
  struct http_limits l = small();
  T_ASSERT(req_l("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", &l) > 0);
  T_ASSERT_EQ(req_l("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n",
                    &l),
              HTTP_EFIELDS);
  /* the default: 100 */
  char *b = malloc(2000), *p = b;
  p += sprintf(p, "GET / HTTP/1.1\r\nHost: h\r\n");
  for (int i = 0; i < 99; i++)
    p += sprintf(p, "X: %d\r\n", i);
  strcpy(p, "\r\n");
  cur = b;
  http_msg_init(&m, fields);
  T_ASSERT(http_parse_request(b, strlen(b), &http_default_limits, &m) > 0);
  T_ASSERT_EQ(m.nheaders, 100);
  strcpy(p, "Y: 1\r\n\r\n");
  http_msg_init(&m, fields);
  T_ASSERT_EQ(http_parse_request(b, strlen(b), &http_default_limits, &m),
              HTTP_EFIELDS);
  free(b);
  T_ASSERT_EQ(http_status_of(HTTP_EFIELDS), 431);
}

static void every_error_has_a_status_and_text(void) {
  for (int e = HTTP_EMETHOD; e >= HTTP_ELAST; e--) {
    int st = http_status_of(e);
    T_ASSERT(st == 400 || st == 414 || st == 431 || st == 501 || st == 505);
    T_ASSERT(strlen(http_strerror(e)) > 5);
    for (int f = e - 1; f >= HTTP_ELAST; f--)
      T_ASSERT(strcmp(http_strerror(e), http_strerror(f)) != 0);
  }
  T_ASSERT_EQ(http_status_of(0), 500);
  T_ASSERT_EQ(http_status_of(HTTP_ELAST - 1), 500);
  T_ASSERT_STREQ(http_strerror(1), "not an HTTP error");
}

/* ---- responses --------------------------------------------------------- */

static void parses_responses(void) {
  const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n";
  T_ASSERT_EQ(resp(s, 0), strlen(s));
  T_ASSERT_EQ(m.status, 200);
  T_ASSERT_STREQ(str(m.reason), "OK");
  T_ASSERT_EQ(m.body, HTTP_BODY_LENGTH);
  T_ASSERT_EQ(m.content_length, 12);
  T_ASSERT(m.flags & HTTP_F_KEEP_ALIVE);
  T_ASSERT(resp("HTTP/1.1 404 Not \tFound \xff\r\n\r\n", 0) > 0);
  T_ASSERT_STREQ(str(m.reason), "Not \tFound \xff");
  T_ASSERT(resp("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0) > 0);
  T_ASSERT_EQ(m.reason.len, 0);
  T_ASSERT_EQ(m.body, HTTP_BODY_NONE);
  T_ASSERT(resp("HTTP/1.1 599 \r\n\r\n", 0) > 0);
  T_ASSERT_EQ(m.status, 599);
  T_ASSERT(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0) > 0);
  T_ASSERT_EQ(m.body, HTTP_BODY_CHUNKED);
  T_ASSERT(m.flags & HTTP_F_KEEP_ALIVE);
}

static void close_delimited_responses(void) {
  T_ASSERT(resp("HTTP/1.1 200 OK\r\n\r\n", 0) > 0);
  T_ASSERT_EQ(m.body, HTTP_BODY_CLOSE);
  T_ASSERT(!(m.flags & HTTP_F_KEEP_ALIVE));
  T_ASSERT(resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 0) > 0);
  T_ASSERT(!(m.flags & HTTP_F_KEEP_ALIVE));
  T_ASSERT(resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n"
                "Connection: keep-alive\r\n\r\n",
                0) > 0);
  T_ASSERT(m.flags & HTTP_F_KEEP_ALIVE);
  T_ASSERT(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                "Connection: close\r\n\r\n",
                0) > 0);
  T_ASSERT(!(m.flags & HTTP_F_KEEP_ALIVE));
}

static void bodiless_responses(void) {
  static const char *st[] = {"100 Continue", "101 Switching", "204 No Content",
                             "304 Not Modified", "199 x"};
  char b[128];
  for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
    snprintf(b, sizeof b, "HTTP/1.1 %s\r\nContent-Length: 10\r\n\r\n", st[i]);
    T_ASSERT(resp(b, 0) > 0);
    T_ASSERT_EQ(m.body, HTTP_BODY_NONE);
    T_ASSERT_EQ(m.content_length, 10);
  }
  T_ASSERT(resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\n\r\n",
                0) > 0);
  T_ASSERT(!(m.flags & HTTP_F_KEEP_ALIVE));
  T_ASSERT(m.flags & HTTP_F_CONN_UPGRADE);
  T_ASSERT(resp("HTTP/1.1 100 Continue\r\n\r\n", 0) > 0);
  T_ASSERT(m.flags & HTTP_F_KEEP_ALIVE);
  T_ASSERT(resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
                HTTP_RESP_TO_HEAD) > 0);
  T_ASSERT_EQ(m.body, HTTP_BODY_NONE);
  T_ASSERT(m.flags & HTTP_F_KEEP_ALIVE);
  T_ASSERT(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                HTTP_RESP_TO_HEAD) > 0);
  T_ASSERT_EQ(m.body, HTTP_BODY_NONE);
  T_ASSERT(resp("HTTP/1.1 200 OK\r\n\r\n", HTTP_RESP_TO_CONNECT) > 0);
  T_ASSERT_EQ(m.body, HTTP_BODY_NONE);
  T_ASSERT(!(m.flags & HTTP_F_KEEP_ALIVE));
  T_ASSERT(resp("HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\n",
                HTTP_RESP_TO_CONNECT) > 0);
  T_ASSERT_EQ(m.body, HTTP_BODY_LENGTH);
}

static void rejects_bad_responses(void) {
  T_ASSERT_EQ(resp("HTTP/1.1 20 OK\r\n\r\n", 0), HTTP_ESTATUS);
  T_ASSERT_EQ(resp("HTTP/1.1 099 OK\r\n\r\n", 0), HTTP_ESTATUS);
  T_ASSERT_EQ(resp("HTTP/1.1 2000 OK\r\n\r\n", 0), HTTP_ESTATUS);
  T_ASSERT_EQ(resp("HTTP/1.1 200OK\r\n\r\n", 0), HTTP_ESTATUS);
  T_ASSERT_EQ(resp("HTTP/1.1  200 OK\r\n\r\n", 0), HTTP_ESTATUS);
  T_ASSERT_EQ(resp("HTTP/1.1\r\n\r\n", 0), HTTP_ESTATUS);
  T_ASSERT_EQ(resp("\r\nHTTP/1.1 200 OK\r\n\r\n", 0), HTTP_ESTATUS);
  T_ASSERT_EQ(resp("HTTX", 0), HTTP_ESTATUS); /* at once */
  T_ASSERT_EQ(resp("HTTP/1.x 200 OK\r\n\r\n", 0), HTTP_EVERSION);
  T_ASSERT_EQ(resp("HTTP/2.0 200 OK\r\n\r\n", 0), HTTP_EVERSION_NS);
  T_ASSERT_EQ(resp("HTTP/1.1 200 O\x01K\r\n\r\n", 0), HTTP_ESTATUS);
  T_ASSERT_EQ(resp("HTTP/1.1 200 O\rK\r\n\r\n", 0), HTTP_ECR);
  T_ASSERT_EQ(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n",
                   0),
              HTTP_ELENGTH_TE);
  T_ASSERT_EQ(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0),
              HTTP_ETE);
  T_ASSERT_EQ(resp("HTTP/1.1 204 OK\r\nContent-Length: x\r\n\r\n", 0),
              HTTP_ELENGTH);
  T_ASSERT_EQ(resp("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", 0), HTTP_EOBSFOLD);
}

int main(void) {
  T_RUN(parses_a_simple_get);
  T_RUN(knows_the_common_methods);
  T_RUN(splits_each_target_form);
  T_RUN(trims_values_and_keeps_order);
  T_RUN(keep_alive_follows_the_version);
  T_RUN(notes_expect_and_upgrade);
  T_RUN(reads_content_length);
  T_RUN(reads_chunked);
  T_RUN(skips_leading_empty_lines);
  T_RUN(accepts_bare_lf_unless_strict);
  T_RUN(http10_needs_no_host);
  T_RUN(parses_pipelined_requests);
  T_RUN(parses_incrementally);
  T_RUN(resumes_without_rescanning);
  T_RUN(results_are_sticky);
  T_RUN(rejects_bad_methods);
  T_RUN(rejects_bad_request_lines);
  T_RUN(rejects_bad_targets);
  T_RUN(rejects_bad_versions);
  T_RUN(rejects_bare_cr);
  T_RUN(rejects_obs_fold);
  T_RUN(rejects_bad_field_names);
  T_RUN(rejects_control_bytes_in_values);
  T_RUN(rejects_bad_content_length);
  T_RUN(rejects_two_content_lengths);
  T_RUN(rejects_length_with_chunked);
  T_RUN(rejects_transfer_encoding_in_http10);
  T_RUN(rejects_other_transfer_codings);
  T_RUN(rejects_missing_or_double_host);
  T_RUN(enforces_the_request_line_limit);
  T_RUN(enforces_the_field_line_limit);
  T_RUN(enforces_the_head_limit);
  T_RUN(enforces_the_field_count);
  T_RUN(every_error_has_a_status_and_text);
  T_RUN(parses_responses);
  T_RUN(close_delimited_responses);
  T_RUN(bodiless_responses);
  T_RUN(rejects_bad_responses);
  return test_report();
}
