/*
 * siphash.c -- SipHash-1-3 (see siphash.h).  The state is four 64-bit
 * words initialised from the key and four constants ("somepseudorandom-
 * lygeneratedbytes"); each 8-byte little-endian word of the message is
 * xored into v3, mixed by one round, and xored into v0; the last word
 * carries the length in its top byte.  Byte loads go through memcpy-free
 * shifts, so the result is the same on any byte order and alignment.
 */
#include "siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                               \
  do {                                                                         \
    v0 += v1;                                                                  \
    v1 = ROTL(v1, 13);                                                         \
    v1 ^= v0;                                                                  \
    v0 = ROTL(v0, 32);                                                         \
    v2 += v3;                                                                  \
    v3 = ROTL(v3, 16);                                                         \
    v3 ^= v2;                                                                  \
    v0 += v3;                                                                  \
    v3 = ROTL(v3, 21);                                                         \
    v3 ^= v0;                                                                  \
    v2 += v1;                                                                  \
    v1 = ROTL(v1, 17);                                                         \
    v1 ^= v2;                                                                  \
    v2 = ROTL(v2, 32);                                                         \
  } while (0)

static uint64_t load64(const unsigned char *p) {
  return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
         (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
         (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

uint64_t siphash13(const void *data, size_t len,
                   const unsigned char key[SIPHASH_KEY_SIZE]) {
  const unsigned char *p = data;
  uint64_t k0 = load64(key), k1 = load64(key + 8);
  uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
  uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
  uint64_t v3 = k1 ^ 0x7465646279746573ULL;
  const unsigned char *end = p + (len & ~(size_t)7);
  for (; p != end; p += 8) {
    uint64_t m = load64(p);
    v3 ^= m;
    SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)len << 56;
  switch (len & 7) { /* the tail, little-endian, under the length byte */
  case 7: b |= (uint64_t)p[6] << 48; /* fall through */
  case 6: b |= (uint64_t)p[5] << 40; /* fall through */
  case 5: b |= (uint64_t)p[4] << 32; /* fall through */
  case 4: b |= (uint64_t)p[3] << 24; /* fall through */
  case 3: b |= (uint64_t)p[2] << 16; /* fall through */
  case 2: b |= (uint64_t)p[1] << 8;  /* fall through */
  case 1: b |= (uint64_t)p[0]; break;
  default: break;
  }
  v3 ^= b;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}
