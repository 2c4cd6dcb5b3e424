/*
 * lresolve.h -- names resolved without blocking the loop (lresolve.c).
 */
#ifndef HOST_LRESOLVE_H
#define HOST_LRESOLVE_H

#include "resolve.h"

#include <lua.h>

/* dst->status when the deadline passed first. */
#define LRESOLVE_TIMEOUT (-100)

/* Resolves name (len bytes) into *dst, which must stay valid while the
 * task waits (a userdata on its stack), within `timeout` seconds, then
 * continues with k(L, LUA_OK, ctx) (at once for an address or
 * "localhost").  dst->status tells how it went. */
int lresolve_wait(lua_State *L, const char *name, size_t len, double timeout,
                  struct resolve_result *dst, lua_KContext ctx,
                  lua_KFunction k);
/* The API's word for a status: "not found", "timeout", ... */
const char *lresolve_error(int status);
/* An answer's address as text, without the port or brackets. */
void lresolve_format(const union resolve_addr *a, char *buf, size_t size);
/* host.resolve(name [, timeout]) */
int lresolve_lua(lua_State *L);

#endif
