/*
 * fuzz_http_chunked.c -- the chunked decoder, under four limit sets (the
 * defaults and small ones, lenient and strict about bare LF):
 *   - at once, in random-sized pieces (each in a buffer of its exact
 *     size), a byte at a time, and in place: the same result, the same
 *     body bytes, the same count of consumed bytes;
 *   - every call consumes at most what it was given, and its data span
 *     lies inside what it consumed;
 *   - once done, nothing more is consumed.
 */
#include "fuzz_check.h"
#include "http_chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
  int rc;       /* last return value */
  size_t used;  /* total consumed */
  size_t out;   /* body bytes */
};

static struct http_limits limits(int k) {
  struct http_limits l = http_default_limits;
  if (k & 2) {
    l.max_chunk_line = 12;
    l.max_trailer = 40;
    l.max_trailers = 2;
  }
  l.strict_crlf = k & 1;
  return l;
}

/* One call, with its invariants. */
static int call(struct http_chunked *c, const uint8_t *b, size_t n,
                uint8_t *out, size_t *o, size_t *used) {
  struct http_span d;
  int rc = http_chunked_decode(c, (const char *)b, n, used, &d);
  CHECK(rc >= HTTP_ELAST && rc <= 1);
  CHECK(*used <= n);
  CHECK(d.off <= *used && d.len <= *used - d.off);
  CHECK(rc != 1 || http_chunked_done(c));
  memcpy(out + *o, b + d.off, d.len);
  *o += d.len;
  return rc;
}

/* Feeds data in pieces: piece sizes from the seed, 0 = all at once. */
static struct result decode(const uint8_t *data, size_t size,
                            const struct http_limits *l, uint64_t seed,
                            int bytewise, uint8_t *out) {
  struct http_chunked c;
  struct result r = {0, 0, 0};
  size_t p = 0;
  http_chunked_init(&c, l);
  while (p < size && r.rc == 0) {
    size_t n = size - p, used;
    if (bytewise)
      n = 1;
    else if (seed)
      n = (size_t)(fuzz_next(&seed) % (fuzz_next(&seed) % 3 ? 9 : n)) + 1;
    if (n > size - p)
      n = size - p;
    uint8_t *piece = fuzz_dup(data + p, n);
    size_t q = 0;
    while (q < n && r.rc == 0) {
      r.rc = call(&c, piece + q, n - q, out, &r.out, &used);
      q += used;
    }
    free(piece);
    p += q;
    if (r.rc == 1) {
      size_t used2;
      /* done: nothing more is taken */
      CHECK(call(&c, data + p, size - p, out, &r.out, &used2) == 1);
      CHECK(used2 == 0);
    }
  }
  r.used = p;
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *a = malloc(size + 1), *b = malloc(size + 1);
  uint64_t seed = fuzz_hash(data, size) | 1;
  CHECK(a && b);
  for (int k = 0; k < 4; k++) {
    struct http_limits l = limits(k);
    struct result whole = decode(data, size, &l, 0, 0, a), r;
    r = decode(data, size, &l, seed, 0, b);
    CHECK(r.rc == whole.rc && r.used == whole.used && r.out == whole.out);
    CHECK(!memcmp(a, b, whole.out));
    if (size <= 1024) {
      r = decode(data, size, &l, 0, 1, b);
      CHECK(r.rc == whole.rc && r.used == whole.used && r.out == whole.out);
      CHECK(!memcmp(a, b, whole.out));
    }
    /* in place */
    struct http_chunked c;
    size_t used, out;
    uint8_t *copy = fuzz_dup(data, size);
    http_chunked_init(&c, &l);
    int rc = http_chunked_decode_inplace(&c, (char *)copy, size, &used, &out);
    CHECK(rc == whole.rc && used == whole.used && out == whole.out);
    CHECK(!memcmp(copy, a, out));
    CHECK(!memcmp(copy + used, data + used, size - used));
    free(copy);
  }
  free(a);
  free(b);
  return 0;
}
