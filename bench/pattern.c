/*
 * pattern.c: the verifiable message pattern (see pattern.h).
 *
 * The mixer is the splitmix64 finaliser: cheap (three multiplies per 8
 * bytes), and every input bit changes about half the output bits, so two
 * different (id, seq, offset) triples practically never give the same word.
 * Whole aligned words are copied or compared as one 64-bit load or store;
 * the ragged ends of a range go byte by byte.
 */
#include "pattern.h"

#include <string.h>

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t word(uint64_t key, size_t j)
{
    return mix(key + 0x9e3779b97f4a7c15ULL * ((uint64_t)j + 1));
}

/* Word w as it lies in memory: the pattern is little-endian by design. */
static uint64_t in_memory(uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(w);
#else
    return w;
#endif
}

uint64_t pattern_key(uint32_t id, uint64_t seq)
{
    return mix(((uint64_t)id << 40) ^ seq ^ 0x5bd1e9955bd1e995ULL);
}

uint8_t pattern_byte(uint64_t key, size_t off)
{
    return (uint8_t)(word(key, off >> 3) >> (8 * (off & 7)));
}

void pattern_fill(uint8_t *dst, uint64_t key, size_t off, size_t n)
{
    size_t end = off + n;

    while (off < end) {
        uint64_t w = in_memory(word(key, off >> 3));
        size_t lo = off & 7, take = 8 - lo;

        if (take > end - off)
            take = end - off;
        if (take == 8)
            memcpy(dst, &w, 8);              /* inlined: one store */
        else
            memcpy(dst, (const uint8_t *)&w + lo, take);
        dst += take;
        off += take;
    }
}

size_t pattern_check(const uint8_t *src, uint64_t key, size_t off, size_t n)
{
    size_t end = off + n, done = 0;

    while (off < end) {
        uint64_t w = in_memory(word(key, off >> 3)), got;
        size_t lo = off & 7, take = 8 - lo;

        if (take > end - off)
            take = end - off;
        if (take == 8) {
            memcpy(&got, src + done, 8);     /* inlined: one load */
            if (got == w) {
                done += 8;
                off += 8;
                continue;
            }
        }
        for (size_t i = 0; i < take; i++)
            if (src[done + i] != ((const uint8_t *)&w)[lo + i])
                return done + i;
        done += take;
        off += take;
    }
    return n;
}
