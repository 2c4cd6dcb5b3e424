/*
 * test_proxy.c -- the PROXY protocol parser: every accepted v1 and v2
 * shape, every error code, headers fed in pieces, the limits, address
 * text both ways, CRC32C, and headers captured from a real HAProxy
 * (captures_proxy.h, written by tests/fuzz/capture/capture_proxy.py).
 */
#include "captures_proxy.h"
#include "proxy_internal.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>

#define CAP 32

static struct proxy_tlv tlvs[CAP];
static struct proxy_result res;

static int parse(const void *buf, size_t len) {
  proxy_result_init(&res, tlvs, CAP);
  return proxy_parse(buf, len, &res);
}

static int parse_str(const char *s) { return parse(s, strlen(s)); }

/* "ip:port" of a parsed address, in a static buffer. */
static const char *text(const struct sockaddr_storage *ss, int len) {
  static char buf[2][PROXY_ADDR_TEXT_MAX];
  static int k;
  char *out = buf[k++ & 1];
  if (proxy_format((const struct sockaddr *)ss, len, out,
                   PROXY_ADDR_TEXT_MAX) < 0)
    strcpy(out, "(none)");
  return out;
}

/* ---- a v2 header builder ------------------------------------------------ */

struct v2 {
  uint8_t b[8192];
  size_t n;
};

static void v2_start(struct v2 *h, uint8_t ver_cmd, uint8_t fam) {
  static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
  memcpy(h->b, sig, 12);
  h->b[12] = ver_cmd;
  h->b[13] = fam;
  h->n = 16;
}

static void v2_put(struct v2 *h, const void *p, size_t n) {
  memcpy(h->b + h->n, p, n);
  h->n += n;
}

static void v2_tlv(struct v2 *h, uint8_t type, const void *p, size_t n) {
  uint8_t t[3] = {type, (uint8_t)(n >> 8), (uint8_t)n};
  v2_put(h, t, 3);
  v2_put(h, p, n);
}

/* Sets the length field from what was put; returns the total. */
static size_t v2_end(struct v2 *h) {
  size_t len = h->n - 16;
  h->b[14] = (uint8_t)(len >> 8);
  h->b[15] = (uint8_t)len;
  return h->n;
}

static void v2_inet4(struct v2 *h) {
  static const uint8_t a[12] = {192, 0, 2, 1, 198, 51, 100, 7,
                                0x1F, 0x90, 0x01, 0xBB}; /* 8080, 443 */
  v2_put(h, a, 12);
}

/* ---- version 1 ---------------------------------------------------------- */

static void v1_tcp4(void) {
  const char *s = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /";
  T_ASSERT_EQ(parse_str(s), 47);
  T_ASSERT_EQ(res.version, 1);
  T_ASSERT_EQ(res.command, PROXY_CMD_PROXY);
  T_ASSERT_EQ(res.family, PROXY_AF_INET);
  T_ASSERT_EQ(res.transport, PROXY_TRANSPORT_STREAM);
  T_ASSERT_EQ(res.src_len, sizeof(struct sockaddr_in));
  T_ASSERT_STREQ(text(&res.src, res.src_len), "192.168.0.1:56324");
  T_ASSERT_STREQ(text(&res.dst, res.dst_len), "192.168.0.11:443");
  const struct sockaddr_in *a = (const struct sockaddr_in *)&res.src;
  const uint8_t *port = (const uint8_t *)&a->sin_port;
  T_ASSERT_EQ(port[0], 56324 >> 8); /* network byte order */
  T_ASSERT_EQ(port[1], 56324 & 0xFF);
  T_ASSERT_EQ(res.ntlvs, 0);
}

static void v1_tcp6(void) {
  T_ASSERT_EQ(parse_str("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 65535\r\n"),
              48);
  T_ASSERT_EQ(res.family, PROXY_AF_INET6);
  T_ASSERT_EQ(res.src_len, sizeof(struct sockaddr_in6));
  T_ASSERT_STREQ(text(&res.src, res.src_len), "[2001:db8::1]:0");
  T_ASSERT_STREQ(text(&res.dst, res.dst_len), "[::ffff:10.0.0.1]:65535");
  T_ASSERT(parse_str("PROXY TCP6 0000:0:00:000:ABCD:ef01:2:3 :: 1 2\r\n") > 0);
  T_ASSERT_STREQ(text(&res.src, res.src_len), "[::abcd:ef01:2:3]:1");
  T_ASSERT_STREQ(text(&res.dst, res.dst_len), "[::]:2");
}

static void v1_unknown(void) {
  T_ASSERT_EQ(parse_str("PROXY UNKNOWN\r\nabc"), 15);
  T_ASSERT_EQ(res.version, 1);
  T_ASSERT_EQ(res.command, PROXY_CMD_LOCAL);
  T_ASSERT_EQ(res.family, PROXY_AF_UNSPEC);
  T_ASSERT_EQ(res.src_len, 0);
  /* Anything up to the CRLF is ignored, even what is not an address. */
  T_ASSERT_EQ(parse_str("PROXY UNKNOWN whatever \t! 1 2\r\n"), 31);
  T_ASSERT_EQ(res.command, PROXY_CMD_LOCAL);
}

static void v1_longest_line(void) {
  const char *s = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
  T_ASSERT_EQ(strlen(s), PROXY_V1_MAX);
  T_ASSERT_EQ(parse_str(s), PROXY_V1_MAX);
  const char *t = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
  T_ASSERT_EQ(parse_str(t), 104);
  T_ASSERT_STREQ(text(&res.src, res.src_len),
                 "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

static void v1_too_long(void) {
  char s[300];
  memset(s, 'x', sizeof s);
  memcpy(s, "PROXY UNKNOWN ", 14);
  T_ASSERT_EQ(parse(s, 106), 0); /* could still end at 107 */
  T_ASSERT_EQ(parse(s, 107), PROXY_ETOOLONG);
  T_ASSERT_EQ(parse(s, sizeof s), PROXY_ETOOLONG);
  memcpy(s + 106, "\r\n", 2); /* CRLF at 107..108: one byte too far */
  T_ASSERT_EQ(parse(s, 200), PROXY_ETOOLONG);
  memcpy(s + 105, "\r\n", 2); /* ends at exactly 107 */
  T_ASSERT_EQ(parse(s, 200), 107);
}

static void v1_bad_signature(void) {
  T_ASSERT_EQ(parse_str("GET / HTTP/1.1\r\n"), PROXY_ESIG);
  T_ASSERT_EQ(parse_str("G"), PROXY_ESIG); /* the first byte is enough */
  T_ASSERT_EQ(parse_str("PROXZ"), PROXY_ESIG);
  T_ASSERT_EQ(parse_str("PROXY\r\n"), PROXY_ESIG);
  T_ASSERT_EQ(parse_str("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n"), PROXY_ESIG);
}

static void v1_bad_line(void) {
  const char *bad[] = {
      "PROXY  TCP4 1.2.3.4 1.2.3.4 1 2\r\n",  /* two spaces */
      "PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1  2\r\n",
      "PROXY tcp4 1.2.3.4 1.2.3.4 1 2\r\n",   /* protocol words are upper */
      "PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n",
      "PROXY TCP 1.2.3.4 1.2.3.4 1 2\r\n",
      "PROXY UNKNOWNX\r\n",
      "PROXY TCP4\r\n",
      "PROXY \r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",     /* LF alone */
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX\n",  /* CR alone */
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n",  /* a fifth field */
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n",     /* a field missing */
      "PROXY TCP4 1.2.3.4 1.2.3.4 +1 2\r\n",  /* signs */
      "PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n",
      "PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n",
      "PROXY UNKNOWN a\nb\r\n",               /* LF alone, even there */
      "PROXY UNKNOWN\rX",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (parse_str(bad[i]) != PROXY_ELINE)
      T_FAIL_("not ELINE (%d): %s", parse_str(bad[i]), bad[i]);
}

static void v1_bad_address(void) {
  const char *bad[] = {
      "PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n",  /* leading zero */
      "PROXY TCP4 1.2.3.4 1.2.3.00 1 2\r\n",
      "PROXY TCP4 256.2.3.4 1.2.3.4 1 2\r\n",
      "PROXY TCP4 1.2.3.4.5 1.2.3.4 1 2\r\n",
      "PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n",
      "PROXY TCP4 1.2.3.4 1..3.4 1 2\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4. 1 2\r\n",
      "PROXY TCP4 ::1 1.2.3.4 1 2\r\n",       /* the family's format only */
      "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
      "PROXY TCP6 1::2::3 ::1 1 2\r\n",       /* two "::" */
      "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",
      "PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n", /* seven groups, no "::" */
      "PROXY TCP6 12345:: ::1 1 2\r\n",
      "PROXY TCP6 :1:2:3:4:5:6:7 ::1 1 2\r\n",
      "PROXY TCP6 1:2:3:4:5:6:7: ::1 1 2\r\n",
      "PROXY TCP6 ::1.2.3 ::1 1 2\r\n",
      "PROXY TCP6 1:2:3:4:5:6:7:1.2.3.4 ::1 1 2\r\n",
      "PROXY TCP6 1:2:3:4:5:6:7:8:: ::1 1 2\r\n",
      "PROXY TCP6 ::: ::1 1 2\r\n",
      "PROXY TCP6 : ::1 1 2\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (parse_str(bad[i]) != PROXY_EADDR)
      T_FAIL_("not EADDR (%d): %s", parse_str(bad[i]), bad[i]);
}

static void v1_bad_port(void) {
  const char *bad[] = {
      "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 080\r\n", /* leading zero */
      "PROXY TCP4 1.2.3.4 1.2.3.4 00 1\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1a 1\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 1.5\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 123456\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (parse_str(bad[i]) != PROXY_EPORT)
      T_FAIL_("not EPORT (%d): %s", parse_str(bad[i]), bad[i]);
}

/* Every prefix of a valid header asks for more; garbage fails on its
 * first bad byte, whatever follows. */
static void v1_prefixes(void) {
  const char *s = "PROXY TCP6 2001:db8::1 ::1 1234 80\r\n";
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i++)
    T_ASSERT_EQ(parse(s, i), 0);
  T_ASSERT_EQ(parse(s, n), (int)n);
  T_ASSERT_EQ(parse_str("PROXY TCP4 1.2.3.4 x"), PROXY_ELINE);
  T_ASSERT_EQ(parse_str("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r"), 0);
  T_ASSERT_EQ(parse_str("PROXY TCPX"), PROXY_ELINE);
  T_ASSERT_EQ(parse_str("PROXY UNK"), 0);
  T_ASSERT_EQ(parse_str("PROXY UNKX"), PROXY_ELINE);
}

/* ---- version 2 ---------------------------------------------------------- */

static void v2_tcp4(void) {
  struct v2 h;
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  size_t n = v2_end(&h);
  v2_put(&h, "data", 4);
  T_ASSERT_EQ(parse(h.b, h.n), (int)n);
  T_ASSERT_EQ(res.version, 2);
  T_ASSERT_EQ(res.command, PROXY_CMD_PROXY);
  T_ASSERT_EQ(res.family, PROXY_AF_INET);
  T_ASSERT_EQ(res.transport, PROXY_TRANSPORT_STREAM);
  T_ASSERT_STREQ(text(&res.src, res.src_len), "192.0.2.1:8080");
  T_ASSERT_STREQ(text(&res.dst, res.dst_len), "198.51.100.7:443");
  T_ASSERT_EQ(res.ntlvs, 0);
  T_ASSERT_EQ(res.crc_checked, 0);
}

static void v2_udp4(void) {
  struct v2 h;
  v2_start(&h, 0x21, 0x12);
  v2_inet4(&h);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), 28);
  T_ASSERT_EQ(res.transport, PROXY_TRANSPORT_DGRAM);
  T_ASSERT_STREQ(text(&res.src, res.src_len), "192.0.2.1:8080");
}

static void v2_tcp6_udp6(void) {
  uint8_t a[36] = {0x20, 0x01, 0x0d, 0xb8};
  a[15] = 1;
  a[31] = 2;
  a[32] = 0xFF, a[33] = 0xFF, a[34] = 0, a[35] = 80;
  for (int fam = 0x21; fam <= 0x22; fam++) {
    struct v2 h;
    v2_start(&h, 0x21, (uint8_t)fam);
    v2_put(&h, a, 36);
    T_ASSERT_EQ(parse(h.b, v2_end(&h)), 52);
    T_ASSERT_EQ(res.family, PROXY_AF_INET6);
    T_ASSERT_EQ(res.transport, fam & 0x0F);
    T_ASSERT_STREQ(text(&res.src, res.src_len), "[2001:db8::1]:65535");
    T_ASSERT_STREQ(text(&res.dst, res.dst_len), "[::2]:80");
  }
}

static void v2_unix(void) {
  uint8_t a[216] = {0};
  memcpy(a, "/run/client.sock", 16);
  memcpy(a + 108 + 1, "abstract", 8); /* leading NUL: abstract name */
  struct v2 h;
  v2_start(&h, 0x21, 0x31);
  v2_put(&h, a, sizeof a);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), 16 + 216);
  T_ASSERT_EQ(res.family, PROXY_AF_UNIX);
  T_ASSERT_EQ(res.src_path.off, 16);
  T_ASSERT_EQ(res.src_path.len, 16);
  T_ASSERT_EQ(res.dst_path.off, 16 + 108);
  T_ASSERT_EQ(res.dst_path.len, 9);
  T_ASSERT_STREQ(text(&res.src, res.src_len), "unix:/run/client.sock");
  T_ASSERT_STREQ(text(&res.dst, res.dst_len), "unix:@abstract");
  v2_start(&h, 0x21, 0x32);
  v2_put(&h, a, sizeof a);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), 16 + 216);
  T_ASSERT_EQ(res.transport, PROXY_TRANSPORT_DGRAM);
}

static void v2_local(void) {
  struct v2 h;
  v2_start(&h, 0x20, 0x00);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), 16);
  T_ASSERT_EQ(res.command, PROXY_CMD_LOCAL);
  T_ASSERT_EQ(res.family, PROXY_AF_UNSPEC);
  T_ASSERT_EQ(res.src_len, 0);
  /* LOCAL with addresses: skipped by their length, ignored. */
  v2_start(&h, 0x20, 0x11);
  v2_inet4(&h);
  v2_tlv(&h, PP2_TYPE_NOOP, "", 0);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), 31);
  T_ASSERT_EQ(res.command, PROXY_CMD_LOCAL);
  T_ASSERT_EQ(res.src_len, 0);
  T_ASSERT_EQ(res.dst_len, 0);
  T_ASSERT_EQ(res.ntlvs, 1);
}

static void v2_unspec_proxy(void) {
  struct v2 h;
  v2_start(&h, 0x21, 0x00);
  v2_tlv(&h, PP2_TYPE_AUTHORITY, "example.com", 11);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), 30);
  T_ASSERT_EQ(res.command, PROXY_CMD_PROXY);
  T_ASSERT_EQ(res.family, PROXY_AF_UNSPEC);
  T_ASSERT_EQ(res.src_len, 0);
  T_ASSERT_EQ(res.ntlvs, 1);
}

static void v2_tlvs(void) {
  struct v2 h;
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  v2_tlv(&h, PP2_TYPE_ALPN, "h2", 2);
  v2_tlv(&h, PP2_TYPE_AUTHORITY, "example.com", 11);
  v2_tlv(&h, PP2_TYPE_UNIQUE_ID, "id-1", 4);
  v2_tlv(&h, 0xE0, "", 0); /* custom, empty */
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), (int)h.n);
  T_ASSERT_EQ(res.ntlvs, 4);
  T_ASSERT_EQ(res.tlvs[0].type, PP2_TYPE_ALPN);
  T_ASSERT_EQ(res.tlvs[0].len, 2);
  T_ASSERT(memcmp(h.b + res.tlvs[0].off, "h2", 2) == 0);
  T_ASSERT_EQ(res.tlvs[1].type, PP2_TYPE_AUTHORITY);
  T_ASSERT(memcmp(h.b + res.tlvs[1].off, "example.com", 11) == 0);
  T_ASSERT_EQ(res.tlvs[2].nested, 0);
  T_ASSERT_EQ(res.tlvs[3].type, 0xE0);
  T_ASSERT_EQ(res.tlvs[3].len, 0);
  T_ASSERT_EQ(res.ssl.present, 0);
}

/* An SSL TLV: client flags, verify, then sub-TLVs. */
static size_t ssl_value(uint8_t *v, int extra_len) {
  struct v2 s;
  s.n = 0;
  uint8_t head[5] = {PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN, 0, 0, 0, 7};
  v2_put(&s, head, 5);
  v2_tlv(&s, PP2_SUBTYPE_SSL_VERSION, "TLSv1.3", 7);
  v2_tlv(&s, PP2_SUBTYPE_SSL_CN, "client.example", 14);
  v2_tlv(&s, PP2_SUBTYPE_SSL_CIPHER, "TLS_AES_256_GCM_SHA384", 22);
  v2_tlv(&s, PP2_SUBTYPE_SSL_SIG_ALG, "RSA-SHA256", 10);
  v2_tlv(&s, PP2_SUBTYPE_SSL_KEY_ALG, "RSA2048", 7);
  v2_tlv(&s, PP2_SUBTYPE_SSL_CN, "second", 6); /* only the first counts */
  s.b[s.n - 9 + 2] = (uint8_t)(s.b[s.n - 9 + 2] + extra_len);
  memcpy(v, s.b, s.n);
  return s.n;
}

static void v2_ssl(void) {
  uint8_t v[256];
  size_t vn = ssl_value(v, 0);
  struct v2 h;
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  v2_tlv(&h, PP2_TYPE_SSL, v, vn);
  v2_tlv(&h, PP2_TYPE_NETNS, "ns1", 3);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), (int)h.n);
  T_ASSERT_EQ(res.ssl.present, 1);
  T_ASSERT_EQ(res.ssl.client, PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN);
  T_ASSERT_EQ(res.ssl.verify, 7);
  T_ASSERT_EQ(res.ssl.version.len, 7);
  T_ASSERT(memcmp(h.b + res.ssl.version.off, "TLSv1.3", 7) == 0);
  T_ASSERT(memcmp(h.b + res.ssl.cn.off, "client.example", 14) == 0);
  T_ASSERT(memcmp(h.b + res.ssl.cipher.off, "TLS_AES_256_GCM_SHA384", 22) == 0);
  T_ASSERT(memcmp(h.b + res.ssl.sig_alg.off, "RSA-SHA256", 10) == 0);
  T_ASSERT(memcmp(h.b + res.ssl.key_alg.off, "RSA2048", 7) == 0);
  T_ASSERT_EQ(res.ntlvs, 8); /* SSL, its six sub-TLVs, NETNS */
  T_ASSERT_EQ(res.tlvs[0].type, PP2_TYPE_SSL);
  T_ASSERT_EQ(res.tlvs[0].nested, 0);
  T_ASSERT_EQ(res.tlvs[1].nested, 1);
  T_ASSERT_EQ(res.tlvs[6].type, PP2_SUBTYPE_SSL_CN);
  T_ASSERT_EQ(res.tlvs[7].type, PP2_TYPE_NETNS);
  T_ASSERT_EQ(res.tlvs[7].nested, 0);
}

static size_t with_crc(struct v2 *h, int corrupt) {
  uint8_t zero[4] = {0};
  v2_start(h, 0x21, 0x11);
  v2_inet4(h);
  v2_tlv(h, PP2_TYPE_AUTHORITY, "a.example", 9);
  size_t at = h->n + 3;
  v2_tlv(h, PP2_TYPE_CRC32C, zero, 4);
  size_t n = v2_end(h);
  uint32_t crc = proxy_crc32c(0, h->b, n) ^ (uint32_t)corrupt;
  h->b[at] = (uint8_t)(crc >> 24), h->b[at + 1] = (uint8_t)(crc >> 16);
  h->b[at + 2] = (uint8_t)(crc >> 8), h->b[at + 3] = (uint8_t)crc;
  return n;
}

static void v2_crc32c(void) {
  struct v2 h;
  size_t n = with_crc(&h, 0);
  T_ASSERT_EQ(parse(h.b, n), (int)n);
  T_ASSERT_EQ(res.crc_checked, 1);
  n = with_crc(&h, 0x100);
  T_ASSERT_EQ(parse(h.b, n), PROXY_ECRC);
  proxy_result_init(&res, tlvs, CAP);
  res.check_crc = 0;
  T_ASSERT_EQ(proxy_parse(h.b, n, &res), (int)n);
  T_ASSERT_EQ(res.crc_checked, 0);
}

static void crc32c_values(void) {
  T_ASSERT_EQ(proxy_crc32c(0, "123456789", 9), 0xE3069283u);
  T_ASSERT_EQ(proxy_crc32c(0, "", 0), 0);
  uint8_t zeros[32] = {0};
  T_ASSERT_EQ(proxy_crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
  /* The nibble table against the bitwise definition. */
  for (uint32_t i = 0; i < 256; i++) {
    uint8_t b = (uint8_t)i;
    uint32_t c = ~0u ^ b;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    T_ASSERT_EQ(proxy_crc32c(0, &b, 1), ~c);
  }
}

static void v2_errors(void) {
  struct v2 h;
  v2_start(&h, 0x11, 0x11); /* version 1 in a binary header */
  v2_inet4(&h);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), PROXY_EVERSION);
  T_ASSERT_EQ(parse(h.b, 13), PROXY_EVERSION); /* known at byte 13 */
  h.b[12] = 0x22;
  T_ASSERT_EQ(parse(h.b, 13), PROXY_ECOMMAND);
  h.b[12] = 0x2F;
  T_ASSERT_EQ(parse(h.b, h.n), PROXY_ECOMMAND);
  h.b[12] = 0x21;
  const uint8_t bad_fam[] = {0x01, 0x02, 0x10, 0x13, 0x20, 0x30, 0x41, 0xFF};
  for (size_t i = 0; i < sizeof bad_fam; i++) {
    h.b[13] = bad_fam[i];
    T_ASSERT_EQ(parse(h.b, 14), PROXY_EFAMILY);
  }
  h.b[13] = 0x21; /* IPv6 needs 36 bytes, we give 12 */
  T_ASSERT_EQ(parse(h.b, h.n), PROXY_ESHORT);
  h.b[13] = 0x31;
  T_ASSERT_EQ(parse(h.b, h.n), PROXY_ESHORT);
}

static void v2_bad_tlvs(void) {
  struct v2 h;
  uint8_t v[256];
  /* A TLV whose length runs past the header. */
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  v2_tlv(&h, PP2_TYPE_ALPN, "h2", 2);
  size_t n = v2_end(&h);
  h.b[n - 3] = 3;
  T_ASSERT_EQ(parse(h.b, n), PROXY_ETLV);
  /* Fewer than three bytes left for a TLV header. */
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  v2_put(&h, "\x01\x00", 2);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), PROXY_ETLV);
  /* SSL TLV shorter than client + verify. */
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  v2_tlv(&h, PP2_TYPE_SSL, "\x01\x00\x00\x00", 4);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), PROXY_ETLV);
  /* A sub-TLV running past the SSL TLV (but not past the header). */
  size_t vn = ssl_value(v, 1);
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  v2_tlv(&h, PP2_TYPE_SSL, v, vn);
  v2_tlv(&h, PP2_TYPE_NOOP, "pad", 3);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), PROXY_ETLV);
  /* Two SSL TLVs. */
  vn = ssl_value(v, 0);
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  v2_tlv(&h, PP2_TYPE_SSL, v, vn);
  v2_tlv(&h, PP2_TYPE_SSL, v, vn);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), PROXY_ETLV);
  /* A CRC32C TLV of the wrong size, and two of them. */
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  v2_tlv(&h, PP2_TYPE_CRC32C, "abc", 3);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), PROXY_ETLV);
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  v2_tlv(&h, PP2_TYPE_CRC32C, "abcd", 4);
  v2_tlv(&h, PP2_TYPE_CRC32C, "abcd", 4);
  T_ASSERT_EQ(parse(h.b, v2_end(&h)), PROXY_ETLV);
}

static void v2_tlv_cap(void) {
  struct v2 h;
  struct proxy_tlv few[2];
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  for (int i = 0; i < 3; i++)
    v2_tlv(&h, PP2_TYPE_NOOP, "", 0);
  size_t n = v2_end(&h);
  proxy_result_init(&res, few, 2);
  T_ASSERT_EQ(proxy_parse(h.b, n, &res), PROXY_ETLVCOUNT);
  proxy_result_init(&res, NULL, 0); /* no room at all */
  T_ASSERT_EQ(proxy_parse(h.b, n, &res), PROXY_ETLVCOUNT);
  h.n = 16 + 12;
  n = v2_end(&h);
  T_ASSERT_EQ(proxy_parse(h.b, n, &res), (int)n); /* none: fine */
}

static void v2_size_limit(void) {
  struct v2 h;
  static uint8_t pad[5000];
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  v2_tlv(&h, PP2_TYPE_NOOP, pad, PROXY_V2_DEFAULT_MAX - 16 - 12 - 3);
  size_t n = v2_end(&h);
  T_ASSERT_EQ(parse(h.b, n), PROXY_V2_DEFAULT_MAX); /* exactly the cap */
  v2_start(&h, 0x21, 0x11);
  v2_inet4(&h);
  v2_tlv(&h, PP2_TYPE_NOOP, pad, sizeof pad);
  n = v2_end(&h);
  T_ASSERT_EQ(parse(h.b, 16), PROXY_ETOOBIG); /* before the body arrives */
  proxy_result_init(&res, tlvs, CAP);
  res.v2_max = PROXY_V2_HARD_MAX;
  T_ASSERT_EQ(proxy_parse(h.b, n, &res), (int)n);
}

static void v2_prefixes(void) {
  struct v2 h;
  size_t n = with_crc(&h, 0);
  for (size_t i = 0; i < n; i++)
    T_ASSERT_EQ(parse(h.b, i), 0);
  T_ASSERT_EQ(parse(h.b, n), (int)n);
  h.b[5] = 'X'; /* the signature breaks at byte 6: fails there */
  T_ASSERT_EQ(parse(h.b, 5), 0);
  T_ASSERT_EQ(parse(h.b, 6), PROXY_ESIG);
  T_ASSERT_EQ(parse("\r\n\r\nX", 5), PROXY_ESIG);
}

static void bad_arguments(void) {
  proxy_result_init(&res, tlvs, CAP);
  res.v2_max = 15;
  T_ASSERT_EQ(proxy_parse("PROXY", 5, &res), PROXY_EARG);
  res.v2_max = PROXY_V2_HARD_MAX + 1;
  T_ASSERT_EQ(proxy_parse("PROXY", 5, &res), PROXY_EARG);
  proxy_result_init(&res, tlvs, CAP);
  res.tlvs = NULL;
  T_ASSERT_EQ(proxy_parse("PROXY", 5, &res), PROXY_EARG);
  T_ASSERT_EQ(proxy_parse(NULL, 5, &res), PROXY_EARG);
  T_ASSERT_EQ(proxy_parse("PROXY", 5, NULL), PROXY_EARG);
  T_ASSERT_EQ(parse("", 0), 0);
}

static void messages(void) {
  for (int e = PROXY_ESIG; e >= PROXY_EARG; e--)
    T_ASSERT(strcmp(proxy_strerror(e), "unknown error") != 0);
  T_ASSERT_STREQ(proxy_strerror(1), "unknown error");
  T_ASSERT_STREQ(proxy_strerror(PROXY_ECRC), "PROXY v2 CRC32C mismatch");
}

/* ---- address text ------------------------------------------------------- */

static void ip6_text(const char *in, const char *canonical) {
  uint8_t a[16];
  char out[64];
  T_ASSERT_EQ(proxy_ip6_parse(in, strlen(in), a), 0);
  proxy_ip6_format(a, out);
  T_ASSERT_STREQ(out, canonical);
}

static void ipv6_forms(void) {
  ip6_text("::", "::");
  ip6_text("::1", "::1");
  ip6_text("1::", "1::");
  ip6_text("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"); /* first longest */
  ip6_text("2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::");  /* longest wins */
  ip6_text("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"); /* one 0 stays */
  ip6_text("0:0:0:0:0:ffff:c000:201", "::ffff:192.0.2.1");
  ip6_text("::192.0.2.1", "::c000:201");
  ip6_text("fe80::0001:0:0:2", "fe80::1:0:0:2");
  ip6_text("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0");
}

static void format_limits(void) {
  char out[PROXY_ADDR_TEXT_MAX];
  T_ASSERT(parse_str("PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n") > 0);
  T_ASSERT_EQ(proxy_format((struct sockaddr *)&res.src, res.src_len, out, 11),
              10); /* "10.0.0.1:1" and its NUL */
  T_ASSERT_EQ(proxy_format((struct sockaddr *)&res.src, res.src_len, out, 10),
              -1);
  T_ASSERT_STREQ(out, "");
  T_ASSERT_EQ(proxy_format((struct sockaddr *)&res.src, 4, out, sizeof out),
              -1); /* too short for a sockaddr_in */
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  ss.ss_family = AF_UNSPEC;
  T_ASSERT_EQ(proxy_format((struct sockaddr *)&ss, sizeof ss, out, sizeof out),
              -1);
  T_ASSERT_EQ(proxy_format(NULL, 0, out, sizeof out), -1);
}

/* ---- captured from HAProxy ---------------------------------------------- */

static void haproxy_captures(void) {
  size_t n = sizeof proxy_captures / sizeof proxy_captures[0];
  T_ASSERT(n >= 6);
  for (size_t i = 0; i < n; i++) {
    const struct proxy_capture *c = &proxy_captures[i];
    int rc = parse(c->bytes, c->len);
    if (rc <= 0)
      T_FAIL_("%s: %s", c->name, proxy_strerror(rc));
    T_ASSERT(memcmp(c->bytes + rc, "hello\n", 6) == 0); /* header ends */
    T_ASSERT_EQ(res.version, c->name[1] - '0');
    T_ASSERT_EQ(res.command, PROXY_CMD_PROXY);
    T_ASSERT_STREQ(text(&res.src, res.src_len), c->src);
    T_ASSERT_STREQ(text(&res.dst, res.dst_len), c->dst);
    if (strstr(c->name, "crc32c") || strstr(c->name, "tlvs"))
      T_ASSERT_EQ(res.crc_checked, 1);
    if (strstr(c->name, "tlvs")) {
      T_ASSERT(res.ssl.present);
      T_ASSERT_EQ(res.ssl.client, 0); /* plain TCP in front */
      int unique = 0;
      for (size_t k = 0; k < res.ntlvs; k++)
        unique += res.tlvs[k].type == PP2_TYPE_UNIQUE_ID;
      T_ASSERT_EQ(unique, 1);
    }
    for (size_t cut = 0; cut < (size_t)rc; cut++)
      T_ASSERT_EQ(parse(c->bytes, cut), 0);
  }
}

int main(void) {
  T_RUN(v1_tcp4);
  T_RUN(v1_tcp6);
  T_RUN(v1_unknown);
  T_RUN(v1_longest_line);
  T_RUN(v1_too_long);
  T_RUN(v1_bad_signature);
  T_RUN(v1_bad_line);
  T_RUN(v1_bad_address);
  T_RUN(v1_bad_port);
  T_RUN(v1_prefixes);
  T_RUN(v2_tcp4);
  T_RUN(v2_udp4);
  T_RUN(v2_tcp6_udp6);
  T_RUN(v2_unix);
  T_RUN(v2_local);
  T_RUN(v2_unspec_proxy);
  T_RUN(v2_tlvs);
  T_RUN(v2_ssl);
  T_RUN(v2_crc32c);
  T_RUN(crc32c_values);
  T_RUN(v2_errors);
  T_RUN(v2_bad_tlvs);
  T_RUN(v2_tlv_cap);
  T_RUN(v2_size_limit);
  T_RUN(v2_prefixes);
  T_RUN(bad_arguments);
  T_RUN(messages);
  T_RUN(ipv6_forms);
  T_RUN(format_limits);
  T_RUN(haproxy_captures);
  return test_report();
}
