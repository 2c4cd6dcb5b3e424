/*
 * fuzz_check.h -- what the fuzz targets share: CHECK (abort with the
 * broken invariant, which libFuzzer and replay_main both report), a hash
 * of the input to derive split points from, and a small PRNG.
 */
#ifndef HOST_FUZZ_CHECK_H
#define HOST_FUZZ_CHECK_H

#include <stdint.h>
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

/* FNV-1a: the input's own bytes choose its split points. */
static inline uint64_t fuzz_hash(const uint8_t *p, size_t n) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * UINT64_C(0x100000001b3);
  return h;
}

/* xorshift64: deterministic piece sizes from a seed. */
static inline uint64_t fuzz_next(uint64_t *s) {
  uint64_t x = *s ? *s : 1;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

/* A copy of p[0, n) in a buffer of exactly n bytes (ASan sees overreads);
 * the caller frees it. */
static inline uint8_t *fuzz_dup(const uint8_t *p, size_t n) {
  uint8_t *b = malloc(n ? n : 1);
  CHECK(b != NULL);
  if (n)
    memcpy(b, p, n);
  return b;
}

#endif
