/*
 * fuzz_proxy.c -- libFuzzer target for the PROXY protocol parser.
 *
 * Beyond "no crash", for every input it checks:
 *   - a header's size is within the input and its version's bound, every
 *     TLV span (and every SSL field) lies inside the header, addresses
 *     have sane lengths and format as text;
 *   - incremental equals whole: every prefix, taken at split points
 *     derived from the input, answers "need more" or exactly the whole
 *     input's answer, and once a prefix has an answer, longer ones keep it
 *     (so garbage fails early and stays failed);
 *   - the TLV cap and the CRC switch change only what they should;
 *   - addresses formatted as text parse back to the same bytes, and the
 *     IPv4/IPv6 text parsers round-trip the input itself when it is an
 *     address;
 *   - CRC32C over pieces equals CRC32C over the whole.
 */
#include "proxy_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                            \
  do {                                                                      \
    if (!(c)) {                                                             \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,  \
              #c);                                                          \
      abort();                                                              \
    }                                                                       \
  } while (0)

#define CAP 32

static int span_ok(struct proxy_span s, int size) {
  return s.len == 0 || (uint64_t)s.off + s.len <= (uint64_t)size;
}

static void same_result(const struct proxy_result *a,
                        const struct proxy_result *b) {
  CHECK(a->version == b->version && a->command == b->command);
  CHECK(a->family == b->family && a->transport == b->transport);
  CHECK(a->src_len == b->src_len && a->dst_len == b->dst_len);
  CHECK(memcmp(&a->src, &b->src, (size_t)a->src_len) == 0);
  CHECK(memcmp(&a->dst, &b->dst, (size_t)a->dst_len) == 0);
  CHECK(a->ntlvs == b->ntlvs && a->crc_checked == b->crc_checked);
  CHECK(memcmp(a->tlvs, b->tlvs, a->ntlvs * sizeof *a->tlvs) == 0);
  CHECK(memcmp(&a->ssl, &b->ssl, sizeof a->ssl) == 0);
  CHECK(memcmp(&a->src_path, &b->src_path, sizeof a->src_path) == 0);
  CHECK(memcmp(&a->dst_path, &b->dst_path, sizeof a->dst_path) == 0);
}

/* The text of an INET/INET6 address parses back to its bytes. */
static void check_text(const struct sockaddr_storage *ss, int len) {
  char text[PROXY_ADDR_TEXT_MAX];
  uint8_t back[16];
  int n = proxy_format((const struct sockaddr *)ss, len, text, sizeof text);
  CHECK(n > 0 && (size_t)n == strlen(text));
  const char *colon = strrchr(text, ':');
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    CHECK(proxy_ip4_parse(text, (size_t)(colon - text), back) == 0);
    CHECK(memcmp(back, &a->sin_addr, 4) == 0);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    CHECK(text[0] == '[' && colon[-1] == ']');
    CHECK(proxy_ip6_parse(text + 1, (size_t)(colon - text - 2), back) == 0);
    CHECK(memcmp(back, &a->sin6_addr, 16) == 0);
  }
}

static void check_ok(const uint8_t *d, size_t size, int rc,
                     const struct proxy_result *r) {
  CHECK((size_t)rc <= size);
  CHECK(r->version == 1 || r->version == 2);
  CHECK(r->version != 1 || rc <= PROXY_V1_MAX);
  CHECK(r->version != 2 || (size_t)rc <= r->v2_max);
  CHECK(r->ntlvs <= r->tlv_cap);
  for (size_t i = 0; i < r->ntlvs; i++)
    CHECK((uint64_t)r->tlvs[i].off + r->tlvs[i].len <= (uint64_t)rc &&
          r->tlvs[i].off >= 19);
  CHECK(span_ok(r->ssl.version, rc) && span_ok(r->ssl.cn, rc));
  CHECK(span_ok(r->ssl.cipher, rc) && span_ok(r->ssl.sig_alg, rc));
  CHECK(span_ok(r->ssl.key_alg, rc));
  CHECK(span_ok(r->src_path, rc) && span_ok(r->dst_path, rc));
  CHECK(r->src_len >= 0 && r->src_len <= (int)sizeof r->src);
  CHECK(r->dst_len >= 0 && r->dst_len <= (int)sizeof r->dst);
  if (r->command == PROXY_CMD_LOCAL)
    CHECK(r->src_len == 0 && r->dst_len == 0);
  if (r->src_len) {
    check_text(&r->src, r->src_len);
    check_text(&r->dst, r->dst_len);
  }
  (void)d;
}

static void incremental(const uint8_t *d, size_t size, int whole,
                        const struct proxy_result *w) {
  struct proxy_tlv tlvs[CAP];
  struct proxy_result r;
  int seen = 0;
  size_t at = 0, step = 0;
  while (at < size) {
    at += 1 + d[(step++ * 131) % size] % 9;
    at = at < size ? at : size;
    proxy_result_init(&r, tlvs, CAP);
    int rc = proxy_parse(d, at, &r);
    if (seen)
      CHECK(rc == whole); /* an answer, once given, stays */
    if (rc == 0)
      continue;
    CHECK(rc == whole);
    seen = 1;
    if (rc > 0)
      same_result(&r, w);
  }
}

static void options(const uint8_t *d, size_t size, int whole,
                    const struct proxy_result *w) {
  struct proxy_tlv few[2];
  struct proxy_result r;
  proxy_result_init(&r, few, 2);
  int rc = proxy_parse(d, size, &r);
  if (whole > 0)
    CHECK(rc == (w->ntlvs > 2 ? PROXY_ETLVCOUNT : whole));
  else if (whole == 0)
    CHECK(rc == 0);
  else /* the third TLV may come before what made the whole fail */
    CHECK(rc == whole || rc == PROXY_ETLVCOUNT);

  struct proxy_tlv tlvs[CAP];
  proxy_result_init(&r, tlvs, CAP);
  r.check_crc = 0;
  rc = proxy_parse(d, size, &r);
  if (whole == PROXY_ECRC)
    CHECK(rc > 0 && r.crc_checked == 0);
  else
    CHECK(rc == whole);

  proxy_result_init(&r, tlvs, CAP);
  r.v2_max = PROXY_V2_HARD_MAX;
  rc = proxy_parse(d, size, &r);
  if (whole != PROXY_ETOOBIG)
    CHECK(rc == whole);
}

static void ip_text(const uint8_t *d, size_t size) {
  uint8_t a[16], b[16];
  char text[64];
  if (proxy_ip4_parse((const char *)d, size, a) == 0) {
    size_t n = proxy_ip4_format(a, text);
    CHECK(n == size && memcmp(text, d, n) == 0); /* IPv4 text is unique */
  }
  if (proxy_ip6_parse((const char *)d, size, a) == 0) {
    size_t n = proxy_ip6_format(a, text);
    CHECK(proxy_ip6_parse(text, n, b) == 0 && memcmp(a, b, 16) == 0);
    char again[64];
    CHECK(proxy_ip6_format(b, again) == n && memcmp(again, text, n) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct proxy_tlv tlvs[CAP];
  struct proxy_result w;
  proxy_result_init(&w, tlvs, CAP);
  int whole = proxy_parse(data, size, &w);
  CHECK(whole > PROXY_EARG);
  if (whole < 0)
    CHECK(strcmp(proxy_strerror(whole), "unknown error") != 0);
  if (whole > 0)
    check_ok(data, size, whole, &w);
  if (size > 0)
    incremental(data, size, whole, &w);
  options(data, size, whole, &w);
  ip_text(data, size);

  size_t half = size / 2;
  CHECK(proxy_crc32c(proxy_crc32c(0, data, half), data + half, size - half) ==
        proxy_crc32c(0, data, size));
  return 0;
}
