/*
 * siphash.h -- SipHash-1-3, a keyed 64-bit hash for tables whose keys a
 * client chooses (shared dictionaries, the resolver's in-flight names).
 *
 * With a secret random key per table, a client cannot compute which keys
 * collide, so it cannot turn a chained table into a list (hash flooding).
 * One compression round and three finalisation rounds, as Python and Rust
 * use for their tables: strong enough for that purpose, and fast on short
 * keys.  Written from the SipHash paper (Aumasson, Bernstein 2012).
 */
#ifndef HOST_SIPHASH_H
#define HOST_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_SIZE 16

/* The hash of len bytes at data under the 16-byte key. */
uint64_t siphash13(const void *data, size_t len,
                   const unsigned char key[SIPHASH_KEY_SIZE]);

#endif
