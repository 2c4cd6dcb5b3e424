/*
 * test_http_text.c -- the text chores of http_text.c: percent-coding
 * (valid, invalid and truncated escapes, '+', in place), query pairs,
 * the Date format (epoch, leap days, the limits), reason phrases, field
 * checks, case-insensitive compares and client URLs (every accepted
 * shape, every refusal).
 */
#include "http_text.h"
#include "t.h"

static char out[256];

static const char *dec(const char *s, int plus) {
  size_t n = http_pct_decode(out, s, strlen(s), plus);
  out[n] = 0;
  return out;
}

static void decodes_escapes(void) {
  T_ASSERT_STREQ(dec("a%20b%2fc", 0), "a b/c");
  T_ASSERT_STREQ(dec("%41%7A%7a", 0), "Azz");
  T_ASSERT_STREQ(dec("plain", 0), "plain");
  T_ASSERT_STREQ(dec("", 0), "");
}

static void keeps_bad_escapes(void) {
  T_ASSERT_STREQ(dec("%zz%4", 0), "%zz%4");
  T_ASSERT_STREQ(dec("%", 0), "%");
  T_ASSERT_STREQ(dec("a%2", 0), "a%2");
  T_ASSERT_STREQ(dec("%%41", 0), "%A");
}

static void decodes_plus_only_for_forms(void) {
  T_ASSERT_STREQ(dec("a+b", 0), "a+b");
  T_ASSERT_STREQ(dec("a+b%2B", 1), "a b+");
}

static void decodes_in_place(void) {
  char s[] = "x%41y%42";
  size_t n = http_pct_decode(s, s, strlen(s), 0);
  T_ASSERT_EQ(n, 4);
  T_ASSERT(memcmp(s, "xAyB", 4) == 0);
}

static void decodes_a_nul(void) {
  size_t n = http_pct_decode(out, "a%00b", 5, 0);
  T_ASSERT_EQ(n, 3);
  T_ASSERT(memcmp(out, "a\0b", 3) == 0);
}

static void encodes_all_but_unreserved(void) {
  size_t n = http_pct_encode(out, "aZ09-._~ /?%\xff", 13);
  out[n] = 0;
  T_ASSERT_STREQ(out, "aZ09-._~%20%2F%3F%25%FF");
}

struct pair {
  const char *k, *v;
  int has;
};

static int pairs(const char *q, struct pair *p, int max) {
  size_t pos = 0, n = strlen(q);
  struct http_span k, v;
  int has, i = 0;
  static char buf[16][32];
  while (i < max && http_query_next(q, n, &pos, &k, &v, &has)) {
    snprintf(buf[2 * i], 32, "%.*s", (int)k.len, q + k.off);
    snprintf(buf[2 * i + 1], 32, "%.*s", (int)v.len, q + v.off);
    p[i].k = buf[2 * i];
    p[i].v = buf[2 * i + 1];
    p[i].has = has;
    i++;
  }
  return i;
}

static void splits_a_query(void) {
  struct pair p[8];
  T_ASSERT_EQ(pairs("a=1&b=&c&&=x&d=e=f", p, 8), 5);
  T_ASSERT_STREQ(p[0].k, "a");
  T_ASSERT_STREQ(p[0].v, "1");
  T_ASSERT_STREQ(p[1].k, "b");
  T_ASSERT_STREQ(p[1].v, "");
  T_ASSERT_EQ(p[1].has, 1);
  T_ASSERT_STREQ(p[2].k, "c");
  T_ASSERT_EQ(p[2].has, 0);
  T_ASSERT_STREQ(p[3].k, "");
  T_ASSERT_STREQ(p[3].v, "x");
  T_ASSERT_STREQ(p[4].k, "d");
  T_ASSERT_STREQ(p[4].v, "e=f");
}

static void splits_an_empty_query(void) {
  struct pair p[2];
  T_ASSERT_EQ(pairs("", p, 2), 0);
  T_ASSERT_EQ(pairs("&&&", p, 2), 0);
}

static const char *date(int64_t t) {
  http_date(out, t);
  return out;
}

static void formats_dates(void) {
  T_ASSERT_STREQ(date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  T_ASSERT_STREQ(date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  T_ASSERT_STREQ(date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  T_ASSERT_STREQ(date(4107542399), "Sun, 28 Feb 2100 23:59:59 GMT");
  T_ASSERT_STREQ(date(4107542400), "Mon, 01 Mar 2100 00:00:00 GMT");
  T_ASSERT_STREQ(date(1767225599), "Wed, 31 Dec 2025 23:59:59 GMT");
  T_ASSERT_EQ(strlen(date(1700000000)), HTTP_DATE_LEN);
}

static void clamps_dates(void) {
  T_ASSERT_STREQ(date(-5), "Thu, 01 Jan 1970 00:00:00 GMT");
  T_ASSERT_STREQ(date(INT64_MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
}

static void names_reasons(void) {
  T_ASSERT_STREQ(http_reason(200), "OK");
  T_ASSERT_STREQ(http_reason(404), "Not Found");
  T_ASSERT_STREQ(http_reason(431), "Request Header Fields Too Large");
  T_ASSERT_STREQ(http_reason(599), "");
}

static void checks_tokens_and_values(void) {
  T_ASSERT(http_is_token("Content-Type", 12));
  T_ASSERT(http_is_token("!#$%&'*+-.^_`|~", 15));
  T_ASSERT(!http_is_token("", 0));
  T_ASSERT(!http_is_token("a b", 3));
  T_ASSERT(!http_is_token("a:b", 3));
  T_ASSERT(!http_is_token("a\xff", 2));
  T_ASSERT(http_is_value("text/plain; q=1\t\xff", 17));
  T_ASSERT(http_is_value("", 0));
  T_ASSERT(!http_is_value("a\r\nb", 4));
  T_ASSERT(!http_is_value("a\nb", 3));
  T_ASSERT(!http_is_value("a\0b", 3));
  T_ASSERT(!http_is_value("\x7f", 1));
}

static void compares_ignoring_case(void) {
  char s[] = "Set-COOKIE";
  T_ASSERT(http_ieq(s, 10, "set-cookie"));
  T_ASSERT(!http_ieq(s, 9, "set-cookie"));
  T_ASSERT(!http_ieq(s, 10, "set-cookiex"));
  T_ASSERT(!http_ieq("a\0", 2, "a"));
  http_lower(s, s, 10);
  T_ASSERT_STREQ(s, "set-cookie");
}

static struct http_url u;
static const char *cur;

static const char *sp(struct http_span s) {
  static char b[4][128];
  static int i;
  char *o = b[i++ & 3];
  snprintf(o, 128, "%.*s", (int)s.len, cur + s.off);
  return o;
}

static int url(const char *s) {
  cur = s;
  return http_url_parse(s, strlen(s), &u);
}

static void splits_urls(void) {
  T_ASSERT_EQ(url("http://example.com/a/b?c=d#frag"), 0);
  T_ASSERT_STREQ(sp(u.host), "example.com");
  T_ASSERT_EQ(u.port, 80);
  T_ASSERT_EQ(u.tls, 0);
  T_ASSERT_STREQ(sp(u.target), "/a/b?c=d");
  T_ASSERT_STREQ(sp(u.authority), "example.com");
  T_ASSERT_EQ(url("HTTPS://h:8443"), 0);
  T_ASSERT_EQ(u.port, 8443);
  T_ASSERT_EQ(u.tls, 1);
  T_ASSERT_STREQ(sp(u.target), "");
  T_ASSERT_STREQ(sp(u.authority), "h:8443");
  T_ASSERT_EQ(url("ws://[::1]:9/x"), 0);
  T_ASSERT_STREQ(sp(u.host), "::1");
  T_ASSERT_EQ(u.ipv6, 1);
  T_ASSERT_EQ(u.port, 9);
  T_ASSERT_STREQ(sp(u.authority), "[::1]:9");
  T_ASSERT_EQ(url("wss://h?q"), 0);
  T_ASSERT_EQ(u.port, 443);
  T_ASSERT_STREQ(sp(u.target), "?q");
}

static void refuses_urls(void) {
  const char *bad[] = {
      "ftp://h/",     "http:/h",      "http://",          "http:///p",
      "http://u@h/",  "http://h:0/",  "http://h:65536/",  "http://h:8x/",
      "http://h:/",   "http://[::1/", "http://[]/",       "http://h h/",
      "http://h/a b", "http://:80/",  "http://h:123456/", "http://h/\x7f"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    if (url(bad[i]) != -1)
      T_FAIL_("accepted %s", bad[i]);
  }
}

int main(void) {
  T_RUN(decodes_escapes);
  T_RUN(keeps_bad_escapes);
  T_RUN(decodes_plus_only_for_forms);
  T_RUN(decodes_in_place);
  T_RUN(decodes_a_nul);
  T_RUN(encodes_all_but_unreserved);
  T_RUN(splits_a_query);
  T_RUN(splits_an_empty_query);
  T_RUN(formats_dates);
  T_RUN(clamps_dates);
  T_RUN(names_reasons);
  T_RUN(checks_tokens_and_values);
  T_RUN(compares_ignoring_case);
  T_RUN(splits_urls);
  T_RUN(refuses_urls);
  return test_report();
}
