/*
 * fuzz_http_text.c -- what http_text.c does with bytes from the network
 * (a request's query and target, a URL a script builds from them):
 *   - percent-decoding writes at most n bytes, in place gives the same
 *     as into another buffer, and decoding what encoding wrote gives the
 *     input back;
 *   - query pairs lie inside the query, in order, and the walk ends;
 *   - a URL that parses has its spans inside it, a host, a port;
 *   - the field checks and the case-insensitive compare only read.
 */
#include "fuzz_check.h"
#include "http_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pct(const char *s, size_t n) {
  char *a = malloc(n + 1), *b = malloc(n + 1), *e = malloc(3 * n + 1);
  CHECK(a && b && e);
  for (int plus = 0; plus < 2; plus++) {
    size_t k = http_pct_decode(a, s, n, plus);
    CHECK(k <= n);
    memcpy(b, s, n);
    CHECK(http_pct_decode(b, b, n, plus) == k);
    CHECK(memcmp(a, b, k) == 0);
  }
  size_t en = http_pct_encode(e, s, n);
  CHECK(en >= n && en <= 3 * n);
  CHECK(http_pct_decode(a, e, en, 0) == n);
  CHECK(memcmp(a, s, n) == 0);
  free(a);
  free(b);
  free(e);
}

static void query(const char *q, size_t n) {
  size_t pos = 0, last = 0, count = 0;
  struct http_span k, v;
  int has;
  while (http_query_next(q, n, &pos, &k, &v, &has)) {
    CHECK(pos > last || count == 0);
    CHECK(pos <= n);
    CHECK(k.off >= last && k.off + k.len <= n);
    CHECK(v.off + v.len <= n);
    CHECK(!has || (v.off == k.off + k.len + 1 && q[k.off + k.len] == '='));
    CHECK(memchr(q + k.off, '&', k.len) == NULL);
    last = pos;
    CHECK(++count <= n);
  }
  CHECK(pos == n);
}

static void url(const char *s, size_t n) {
  struct http_url u;
  if (http_url_parse(s, n, &u) != 0)
    return;
  CHECK(u.host.len > 0 && u.host.off + u.host.len <= n);
  CHECK(u.target.off + u.target.len <= n);
  CHECK(u.authority.off + u.authority.len <= n);
  CHECK(u.port > 0);
  CHECK(u.host.off >= u.authority.off &&
        u.host.off + u.host.len <= u.authority.off + u.authority.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  pct(s, size);
  query(s, size);
  url(s, size);
  (void)http_is_token(s, size);
  (void)http_is_value(s, size);
  (void)http_ieq(s, size < 10 ? size : 10, "set-cookie");
  return 0;
}
