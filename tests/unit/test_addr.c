/*
 * test_addr.c -- "ip:port" parsing and formatting, good and bad.
 */
#include "addr.h"
#include "sys.h"
#include "t.h"

static void roundtrip(const char *in, const char *out) {
  struct addr a;
  char err[128], buf[ADDR_TEXT_MAX];
  T_ASSERT_EQ(addr_parse(in, &a, err, sizeof err), 0);
  addr_format((struct sockaddr *)&a.ss, buf, sizeof buf);
  T_ASSERT_STREQ(buf, out);
}

static void parses_the_documented_forms(void) {
  roundtrip("127.0.0.1:4567", "127.0.0.1:4567");
  roundtrip("[::1]:80", "[::1]:80");
  roundtrip("*:4567", "[::]:4567");
  roundtrip("localhost:0", "127.0.0.1:0");
  roundtrip("0.0.0.0:65535", "0.0.0.0:65535");
  roundtrip("[::]:1", "[::]:1");
}

static void star_is_any_and_falls_back_to_ipv4(void) {
  struct addr a;
  char err[128], buf[ADDR_TEXT_MAX];
  T_ASSERT_EQ(addr_parse("*:99", &a, err, sizeof err), 0);
  T_ASSERT_EQ(a.any, 1);
  T_ASSERT_EQ(addr_port(&a), 99);
  addr_any4(&a);
  addr_format((struct sockaddr *)&a.ss, buf, sizeof buf);
  T_ASSERT_STREQ(buf, "0.0.0.0:99");
}

static void rejects(const char *in, const char *why) {
  struct addr a;
  char err[128];
  T_ASSERT_EQ(addr_parse(in, &a, err, sizeof err), -1);
  T_ASSERT(strstr(err, why) != NULL);
}

static void rejects_malformed(void) {
  rejects("", "expected ip:port");
  rejects("127.0.0.1", "expected ip:port");
  rejects("127.0.0.1:", "bad port");
  rejects("127.0.0.1:65536", "bad port");
  rejects("127.0.0.1:-1", "bad port");
  rejects("127.0.0.1:8x", "bad port");
  rejects("example.com:80", "numeric");
  rejects("[::1:80", "expected [ipv6]:port");
  rejects("[zz]:80", "bad IPv6");
  rejects("300.1.1.1:80", "numeric");
  rejects("1234567890123456789012345678901234567890123456789012345678901234567890:1",
          "too long");
}

int main(void) {
  sys_init();
  T_RUN(parses_the_documented_forms);
  T_RUN(star_is_any_and_falls_back_to_ipv4);
  T_RUN(rejects_malformed);
  return test_report();
}
