/*
 * lcodec.h -- Lua values to bytes and back, for messages between the
 * workers' VMs (host.post, host.broadcast, host.receive).
 *
 * What travels: nil, booleans, integers and floats (kept apart, bit for
 * bit: NaN, infinities, -0.0, math.mininteger), strings (any bytes), and
 * tables of those, nested up to LCODEC_MAX_DEPTH levels, with keys that
 * are strings, numbers or booleans.  Only a table's raw contents travel:
 * metatables stay behind.  A table reached twice through different
 * fields (a DAG) is allowed and arrives as two separate copies; a table
 * that contains itself (a cycle) raises.  Anything else raises too, with
 * the path to it:
 *
 *     cannot send a function (in argument 2, field 'cb')
 *     cannot send a table that contains itself (in argument 1, field 'a.b')
 *     cannot send a table key of type table (in argument 1, field 'x[3]')
 *     too deeply nested (in argument 1, field 'a.a.a.a...')
 *     message too large
 *
 * ("argument N" is the value's stack slot, which in a C function called
 * as host.post(worker, a, b) is its argument number: 2 for a.)
 *
 * The encoding is for this process only (native byte order, no version):
 * the bytes never leave it.
 */
#ifndef HOST_LCODEC_H
#define HOST_LCODEC_H

#include <lua.h>
#include <stddef.h>

#define LCODEC_MAX_DEPTH 100 /* tables inside tables */

/* A growable byte buffer owned by the caller: data is malloc'd (or NULL)
 * and is the caller's to free with lcodec_buf_free, whatever happened.
 * Keep it somewhere a Lua error does not lose (a per-worker scratch
 * buffer, reused), since lcodec_encode raises with it half written. */
struct lcodec_buf {
  unsigned char *data; /* the bytes; NULL until the first write */
  size_t len;          /* bytes of the last message */
  size_t cap;          /* bytes allocated */
  size_t max;          /* the largest message allowed */
};

void lcodec_buf_init(struct lcodec_buf *b, size_t max);
void lcodec_buf_free(struct lcodec_buf *b);

/* Encodes the n values at stack slots first .. first + n - 1 as one
 * message into b (from b->data[0]; b->len is then its length), growing
 * b->data as needed.  Leaves the stack as it was.  Raises (lua_error) for
 * a value that cannot be sent (above), for a message longer than b->max
 * ("message too large"), and when memory runs out. */
void lcodec_encode(lua_State *L, int first, int n, struct lcodec_buf *b);

/* Pushes the values of a message made by lcodec_encode; returns how many.
 * The input is checked against its length anyway: -1, with nothing
 * pushed, if it is malformed or the stack cannot grow.  Raises only when
 * Lua runs out of memory. */
int lcodec_decode(lua_State *L, const void *data, size_t len);

#endif
