/*
 * layer_probe.c -- compiled as if it were a file of src/host, by a test
 * that expects the compile to fail: src/host sees neither src/lua's
 * headers nor Lua's (CMakeLists.txt, "the floors").
 */
#include "conn.h"     /* its own floor: fine */
#ifdef PROBE_LUA_HEADER
#include <lua.h>      /* Lua's headers: only src/lua has them */
#else
#include "ltask.h"    /* the floor above: not on its include path */
#endif

int layer_probe(void);
int layer_probe(void) { return 0; }
