/*
 * lresp.h -- `require "host.resp"`: the Redis protocol on a connection,
 * the C half of `require "host.redis"` (lresp.c).
 */
#ifndef HOST_LRESP_H
#define HOST_LRESP_H

#include <lua.h>

/* The module's loader (a package.preload entry); needs the conn type
 * registered first (lconn_open). */
int lresp_open(lua_State *L);

#endif
