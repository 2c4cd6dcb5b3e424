/*
 * lhost.h -- `require "host"`: the module table, and a worker's VM setup.
 */
#ifndef HOST_LHOST_H
#define HOST_LHOST_H

#include <lua.h>

struct worker;

/* Sets up a worker's fresh VM: standard libraries, the host module and
 * its types, package paths, the embedded Lua library. */
void lhost_setup(lua_State *L, struct worker *w);
/* The worker of the running binding (its upvalue). */
struct worker *lhost_worker(lua_State *L);
/* A failure the network or the peer caused: pushes nil, err; returns 2
 * (liolib's luaL_fileresult, with the API's error words). */
int lhost_fail(lua_State *L, const char *err);

#endif
