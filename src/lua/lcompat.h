/*
 * lcompat.h -- the differences between the Lua 5.4 releases we build
 * against: Debian 12 ships 5.4.4, where lua_closethread (5.4.6) is still
 * lua_resetthread.
 */
#ifndef HOST_LCOMPAT_H
#define HOST_LCOMPAT_H

#include <lua.h>

#if LUA_VERSION_RELEASE_NUM >= 50406
#define lcompat_closethread(co, from) lua_closethread(co, from)
#else
#define lcompat_closethread(co, from) ((void)(from), lua_resetthread(co))
#endif

#endif
