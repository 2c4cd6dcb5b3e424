/*
 * lhttp.h -- `require "host.http.core"`, the C half of host.http
 * (scripts/lib/host/http.lua is the Lua half): request heads, bodies,
 * responses, WebSocket frames, over a connection's buffers.
 */
#ifndef HOST_LHTTP_H
#define HOST_LHTTP_H

#include <lua.h>

struct worker;

/* Makes "host.http.core" loadable (package.preload) in a worker's VM. */
void lhttp_open(lua_State *L, struct worker *w);

#endif
