/*
 * lembed.h -- the Lua files of scripts/lib, compiled into the binary.
 */
#ifndef HOST_LEMBED_H
#define HOST_LEMBED_H

#include <lua.h>

/* package.preload entries for every embedded file. */
void lembed_open(lua_State *L);
/* Loads embedded file `name` ("host/test.lua") as a chunk; 0 or error. */
int lembed_load(lua_State *L, const char *name);

#endif
