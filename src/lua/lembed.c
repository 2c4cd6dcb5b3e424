/*
 * lembed.c -- the Lua half of the host, compiled into the binary.
 *
 * Every file under scripts/lib is embedded at build time (cmake/embed.cmake)
 * and becomes a package.preload entry: scripts/lib/host/test.lua is
 * `require "host.test"`.  So the host runs from anywhere, and host.exe
 * needs no files beside it.  Chunk names are the source paths, so errors
 * and tracebacks point at the real files.
 */
#include "lembed.h"

#include <lauxlib.h>
#include <string.h>

struct lembed_file {
  const char *name;
  const unsigned char *data;
  size_t size;
};
extern const struct lembed_file lembed_files[];

static const struct lembed_file *find(const char *name) {
  for (const struct lembed_file *f = lembed_files; f->name; f++)
    if (strcmp(f->name, name) == 0)
      return f;
  return NULL;
}

int lembed_load(lua_State *L, const char *name) {
  const struct lembed_file *f = find(name);
  if (!f) {
    lua_pushfstring(L, "no embedded file '%s'", name);
    return LUA_ERRFILE;
  }
  lua_pushfstring(L, "@scripts/lib/%s", name);
  int r = luaL_loadbufferx(L, (const char *)f->data, f->size,
                           lua_tostring(L, -1), "t");
  lua_remove(L, -2);
  return r;
}

/* preload loader: upvalue 1 is the file's name. */
static int loader(lua_State *L) {
  const char *file = lua_tostring(L, lua_upvalueindex(1));
  if (lembed_load(L, file) != LUA_OK)
    return lua_error(L);
  lua_pushvalue(L, 1); /* the module name, as require passes it */
  lua_call(L, 1, 1);
  return 1;
}

void lembed_open(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const struct lembed_file *f = lembed_files; f->name; f++) {
    /* "host/test.lua" -> "host.test"; "x/init.lua" -> "x" */
    char mod[256];
    size_t n = strlen(f->name) - 4;
    if (n >= sizeof mod)
      continue;
    memcpy(mod, f->name, n);
    mod[n] = '\0';
    if (n > 5 && strcmp(mod + n - 5, "/init") == 0)
      mod[n - 5] = '\0';
    for (char *p = mod; *p; p++)
      if (*p == '/')
        *p = '.';
    lua_pushstring(L, f->name);
    lua_pushcclosure(L, loader, 1);
    lua_setfield(L, -2, mod);
  }
  lua_pop(L, 1);
}
