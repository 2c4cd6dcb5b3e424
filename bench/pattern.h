/*
 * pattern.h: the byte pattern the load generator sends and expects back.
 *
 * Message number seq on stream id has a 64-bit key, pattern_key(id, seq);
 * byte i of the message is byte (i % 8) of the little-endian 64-bit word
 * mix(key, i / 8). Every byte therefore depends on the stream, the message
 * number and its offset, so a flipped, lost, duplicated, reordered or
 * cross-connection byte is caught at its exact position. Nothing is stored:
 * the sender regenerates any range on demand (so a short write needs no
 * per-connection copy) and the receiver checks any range in place.
 */
#ifndef BENCH_PATTERN_H
#define BENCH_PATTERN_H

#include <stddef.h>
#include <stdint.h>

uint64_t pattern_key(uint32_t id, uint64_t seq);

/* Writes bytes [off, off + n) of the message with this key to dst. */
void pattern_fill(uint8_t *dst, uint64_t key, size_t off, size_t n);

/*
 * Checks src against bytes [off, off + n) of the message with this key.
 * Returns n when all match, else the index in src of the first difference.
 */
size_t pattern_check(const uint8_t *src, uint64_t key, size_t off, size_t n);

/* The expected byte at offset off (for error messages). */
uint8_t pattern_byte(uint64_t key, size_t off);

#endif
