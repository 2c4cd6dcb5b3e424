/*
 * cmodule.c -- the smallest Lua C module, to check that a DLL built
 * against host.exe (which exports the Lua C API it carries inside) loads
 * with require and calls into that Lua.
 */
#include <lauxlib.h>
#include <lua.h>

static int answer(lua_State *L) {
  lua_pushinteger(L, 6 * luaL_checkinteger(L, 1));
  return 1;
}

static const luaL_Reg funcs[] = {{"answer", answer}, {NULL, NULL}};

__declspec(dllexport) int luaopen_cmodule(lua_State *L) {
  luaL_newlib(L, funcs);
  return 1;
}
